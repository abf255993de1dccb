-- refresh: rotate the refresh secret, or recognise the previous one.
-- KEYS[1] the session's hash
-- ARGV[1] now (ms)                           ARGV[2] SHA-256 of the presented secret
-- ARGV[3] SHA-256 of the new secret          ARGV[4] nonce of this rotation
-- ARGV[5] refresh grace (ms)                 ARGV[6] idle timeout (ms)
-- ARGV[7] absolute lifetime (ms)             ARGV[8] index key prefix of the tag (key = prefix .. user)
-- ARGV[9] session id                         ARGV[10] invalidation channel ('' = do not publish)
-- ARGV[11] session key prefix of the tag (key = prefix .. sid; same slot)
-- ARGV[12] deadline (Unix ms, '0' = none; fence.lua)
-- returns: {0}  gone: missing or expired (an expired one is deleted)
--          {1, user, created, last_used, ip, ua, fp, o}      rotated; the new secret is current (o:
--               the provider record, nil for a local session)
--          {2, user, created, last_used, ip, ua, fp, nonce, current, o}  previous secret within
--               grace: nonce of the rotation and SHA-256 of the secret it issued; no change
--          {3}  previous secret after grace: reuse, the session is deleted
--          {4}  any other secret: no change
--          A retried copy of a call that rotated (previous secret = the presented one and
--          nonce = this call's) returns what the first copy returned. LATE error past the
--          deadline, with no change.
local f = hmget(KEYS[1], {'u', 'c', 'l', 'ip', 'ua', 'fp', 'h', 'p', 'n', 'r', 'o'})
if f[1] and f[8] == ARGV[2] and f[9] == ARGV[4] then
  return {1, f[1], f[2], f[10], f[4], f[5], f[6], f[11]}
end
local late = fence(ARGV[12])
if late then return late end
if not f[1] then return {0} end
local now, c = tonumber(ARGV[1]), tonumber(f[2])
local idle, abs = tonumber(ARGV[6]), tonumber(ARGV[7])
local index = ARGV[8] .. f[1]
if now >= math.min(tonumber(f[3]) + idle, c + abs) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', index, ARGV[9])
  return {0}
end
if f[7] == ARGV[2] then
  local ttl = math.min(now + idle, c + abs) - now
  redis.call('HSET', KEYS[1], 'h', ARGV[3], 'p', ARGV[2], 'n', ARGV[4], 'r', ARGV[1], 'l', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', index, ARGV[1], ARGV[9])
  if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
  announce(ARGV[10], ARGV[9], false)
  return {1, f[1], f[2], ARGV[1], f[4], f[5], f[6], f[11]}
end
if f[8] and f[8] == ARGV[2] then
  if now - tonumber(f[10]) < tonumber(ARGV[5]) then
    return {2, f[1], f[2], f[3], f[4], f[5], f[6], f[9], f[7], f[11]}
  end
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', index, ARGV[9])
  -- The index now lives exactly as long as its longest-lived remaining session.
  local left = 0
  for _, sid in ipairs(redis.call('ZRANGE', index, 0, -1)) do left = math.max(left, redis.call('PTTL', ARGV[11] .. sid)) end
  if left > 0 then redis.call('PEXPIRE', index, left) else redis.call('DEL', index) end
  announce(ARGV[10], ARGV[9], true)
  return {3}
end
return {4}
