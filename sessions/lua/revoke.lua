-- revoke: end one session of one user (an id alone is not enough).
-- KEYS[1] the session's hash                 KEYS[2] the user's index
-- ARGV[1] user                               ARGV[2] session id
-- ARGV[3] now (ms)                           ARGV[4] idle timeout (ms)
-- ARGV[5] absolute lifetime (ms)             ARGV[6] invalidation channel ('' = do not publish)
-- ARGV[7] session key prefix of the user's tag (key = prefix .. sid; same slot)
-- ARGV[8] deadline (Unix ms, '0' = none; fence.lua)
-- returns: 1 revoked; 0 missing, another user's, or already expired (then deleted);
--          LATE error past the deadline, with no change
local late = fence(ARGV[8])
if late then return late end
local f = redis.call('HMGET', KEYS[1], 'u', 'c', 'l')
if not f[1] or f[1] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
-- The index now lives exactly as long as its longest-lived remaining session.
local left = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do left = math.max(left, redis.call('PTTL', ARGV[7] .. sid)) end
if left > 0 then redis.call('PEXPIRE', KEYS[2], left) else redis.call('DEL', KEYS[2]) end
local now = tonumber(ARGV[3])
if now >= math.min(tonumber(f[3]) + tonumber(ARGV[4]), tonumber(f[2]) + tonumber(ARGV[5])) then
  return 0
end
announce(ARGV[6], ARGV[2], true)
return 1
