-- throttle_reserve: take one login attempt's place in a sliding-window counter,
-- unless the counter is full. Check and add are one atomic step, so concurrent
-- attempts cannot all see room (the gateway calls this BEFORE the password check).
-- KEYS[1] the counter (zset: unique member -> time, ms)
-- ARGV[1] now (ms)                           ARGV[2] window (ms)
-- ARGV[3] the attempt's unique member        ARGV[4] limit (attempts allowed in the window)
-- ARGV[5] deadline (Unix ms, '0' = none; fence.lua): past it, a LATE error and nothing written
-- returns: {1, n}      reserved; n attempts t with now - window < t, this one included
--          {0, oldest} refused (the window already holds limit attempts); nothing
--                      written but the pruning; oldest = time (ms, string) of the
--                      oldest attempt, which leaves the window first
-- Re-running it with a member already held (a retried call) reserves nothing
-- more and answers {1, n}.
local late = fence(ARGV[5])
if late then return late end
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
-- The member's time is ARGV[1]: look only among the attempts of that ms (at
-- most limit), with a command the least-privilege ACL already allows.
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])) do
  if m == ARGV[3] then return {1, redis.call('ZCARD', KEYS[1])} end
end
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local o = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, o[2]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, n + 1}
