-- create: start a session; prune the user's dead index members, then evict
-- the least recently used sessions so the new one fits max_per_user.
-- KEYS[1]  the new session's hash            KEYS[2]  the user's index (zset: sid -> last use, ms)
-- ARGV[1]  now (ms)                          ARGV[2]  new session id
-- ARGV[3]  user                              ARGV[4]  client IP
-- ARGV[5]  user agent                        ARGV[6]  password-hash fingerprint
-- ARGV[7]  SHA-256 of the refresh secret     ARGV[8]  max sessions per user (0 = unlimited)
-- ARGV[9]  idle timeout (ms)                 ARGV[10] absolute lifetime (ms)
-- ARGV[11] session key prefix of the user's tag (key = prefix .. sid; same slot)
-- ARGV[12] invalidation channel ('' = do not publish)
-- ARGV[13] deadline (Unix ms, '0' = none; fence.lua)
-- ARGV[14] provider record (field o; '' = a local session)
-- ARGV[15] sealed provider tokens (field ot; '' = none)
-- returns: array of the evicted session ids (empty when none). A retried copy of
--          the same call (the session id is new with every call) finds its session
--          and returns the ids the first copy evicted (field e), evicting nothing more.
--          LATE error past the deadline, with no change.
local first = redis.call('HMGET', KEYS[1], 'u', 'e')
if first[1] then
  local ids = {}
  for sid in string.gmatch(first[2] or '', '%S+') do ids[#ids + 1] = sid end
  return ids
end
local late = fence(ARGV[13])
if late then return late end
local now, max = tonumber(ARGV[1]), tonumber(ARGV[8])
local idle, abs = tonumber(ARGV[9]), tonumber(ARGV[10])
local index, base = KEYS[2], ARGV[11]

for _, sid in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  local t = redis.call('HMGET', base .. sid, 'c', 'l')
  if not t[1] then
    redis.call('ZREM', index, sid)
  elseif now >= math.min(tonumber(t[2]) + idle, tonumber(t[1]) + abs) then
    redis.call('DEL', base .. sid)
    redis.call('ZREM', index, sid)
  end
end

local evicted = {}
if max > 0 then
  local n = redis.call('ZCARD', index)
  while n >= max do
    local sid = redis.call('ZPOPMIN', index)[1]
    redis.call('DEL', base .. sid)
    evicted[#evicted + 1] = sid
    announce(ARGV[12], sid, true)
    n = n - 1
  end
end

local ttl = math.min(idle, abs)
-- No 'r' yet: the rotation time is read only with a previous secret ('p'),
-- which the first rotation writes together with 'r'.
redis.call('HSET', KEYS[1], unpack(ua_put({'u', ARGV[3], 'c', ARGV[1], 'l', ARGV[1], 'ip', ARGV[4],
  'fp', ARGV[6], 'h', ARGV[7]}, ARGV[5])))
if #evicted > 0 then redis.call('HSET', KEYS[1], 'e', table.concat(evicted, ' ')) end
if ARGV[14] ~= '' then redis.call('HSET', KEYS[1], 'o', ARGV[14]) end
if ARGV[15] ~= '' then redis.call('HSET', KEYS[1], 'ot', ARGV[15]) end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', index, ARGV[1], ARGV[2])
if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
return evicted
