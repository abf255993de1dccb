-- validate: the per-request check; touches last use when it is at least
-- touch_interval old (and then extends both TTLs).
-- KEYS[1] the session's hash                 KEYS[2] the user's index
-- ARGV[1] user                               ARGV[2] now (ms)
-- ARGV[3] idle timeout (ms)                  ARGV[4] absolute lifetime (ms)
-- ARGV[5] touch interval (ms)                ARGV[6] session id
-- returns: nil when missing, another user's or expired (an expired one is deleted);
--          else {created, last_used, ip, user_agent, fingerprint, provider record ('o', or nil)}
local f = hmget(KEYS[1], {'u', 'c', 'l', 'ip', 'ua', 'fp', 'o'})
if not f[1] or f[1] ~= ARGV[1] then return false end
local now, c, l = tonumber(ARGV[2]), tonumber(f[2]), tonumber(f[3])
local idle, abs = tonumber(ARGV[3]), tonumber(ARGV[4])
if now >= math.min(l + idle, c + abs) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[6])
  return false
end
if now - l >= tonumber(ARGV[5]) then
  local ttl = math.min(now + idle, c + abs) - now
  redis.call('HSET', KEYS[1], 'l', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[6])
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
  f[3] = ARGV[2]
end
return {f[2], f[3], f[4], f[5], f[6], f[7]}
