-- revoke_token: end the session a refresh token names, only when the token
-- carries its current or previous secret (logout with a refresh token).
-- KEYS[1] the session's hash
-- ARGV[1] SHA-256 of the presented secret    ARGV[2] now (ms)
-- ARGV[3] idle timeout (ms)                  ARGV[4] absolute lifetime (ms)
-- ARGV[5] index key prefix of the tag (key = prefix .. user)
-- ARGV[6] session id                         ARGV[7] invalidation channel ('' = do not publish)
-- ARGV[8] session key prefix of the tag (key = prefix .. sid; same slot)
-- ARGV[9] deadline (Unix ms, '0' = none; fence.lua)
-- returns: {0} gone: missing or expired (an expired one is deleted)
--          {1, user, created, last_used, ip, ua, fp, o}  revoked (o: the provider record or nil)
--          {4} any other secret: no change
--          LATE error past the deadline, with no change
local late = fence(ARGV[9])
if late then return late end
local f = hmget(KEYS[1], {'u', 'c', 'l', 'ip', 'ua', 'fp', 'h', 'p', 'o'})
if not f[1] then return {0} end
local index = ARGV[5] .. f[1]
local expired = tonumber(ARGV[2]) >=
  math.min(tonumber(f[3]) + tonumber(ARGV[3]), tonumber(f[2]) + tonumber(ARGV[4]))
if not expired and f[7] ~= ARGV[1] and f[8] ~= ARGV[1] then return {4} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', index, ARGV[6])
-- The index now lives exactly as long as its longest-lived remaining session.
local left = 0
for _, sid in ipairs(redis.call('ZRANGE', index, 0, -1)) do left = math.max(left, redis.call('PTTL', ARGV[8] .. sid)) end
if left > 0 then redis.call('PEXPIRE', index, left) else redis.call('DEL', index) end
if expired then return {0} end
announce(ARGV[7], ARGV[6], true)
return {1, f[1], f[2], f[3], f[4], f[5], f[6], f[9]}
