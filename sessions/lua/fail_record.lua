-- fail_record: add one failed login attempt to a sliding window.
-- KEYS[1] the counter (zset: unique member -> time, ms)
-- ARGV[1] now (ms)                           ARGV[2] window (ms)
-- ARGV[3] a unique member for this attempt   ARGV[4] most attempts remembered
-- returns: the number of attempts t with now - window < t <= now, this one included
local now, window, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
if n > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
  n = cap
end
redis.call('PEXPIRE', KEYS[1], window)
return n
