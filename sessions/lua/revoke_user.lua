-- revoke_user: end every session of a user.
-- KEYS[1] the user's index
-- ARGV[1] session key prefix of the user's tag (key = prefix .. sid; same slot)
-- ARGV[2] user                               ARGV[3] now (ms)
-- ARGV[4] idle timeout (ms)                  ARGV[5] absolute lifetime (ms)
-- ARGV[6] invalidation channel ('' = do not publish)
-- ARGV[7] deadline (Unix ms, '0' = none; fence.lua)
-- returns: array of the ids of the live sessions that were ended;
--          LATE error past the deadline, with no change
local late = fence(ARGV[7])
if late then return late end
local now, idle, abs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. sid
  local f = redis.call('HMGET', k, 'u', 'c', 'l')
  if f[1] == ARGV[2] then
    if now < math.min(tonumber(f[3]) + idle, tonumber(f[2]) + abs) then
      out[#out + 1] = sid
      announce(ARGV[6], sid, true)
    end
    redis.call('DEL', k)
  end
end
redis.call('DEL', KEYS[1])
return out
