-- list: a user's live sessions; dead index members are pruned on the way.
-- KEYS[1] the user's index
-- ARGV[1] session key prefix of the user's tag (key = prefix .. sid; same slot)
-- ARGV[2] user                               ARGV[3] now (ms)
-- ARGV[4] idle timeout (ms)                  ARGV[5] absolute lifetime (ms)
-- returns: flat array, seven entries per live session: sid, created, last_used, ip, ua, fp, o
local now, idle, abs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[1] .. sid
  local f = hmget(k, {'u', 'c', 'l', 'ip', 'ua', 'fp', 'o'})
  if f[1] ~= ARGV[2] then
    redis.call('ZREM', KEYS[1], sid)
  elseif now >= math.min(tonumber(f[3]) + idle, tonumber(f[2]) + abs) then
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], sid)
  else
    out[#out + 1] = sid
    for i = 2, 7 do out[#out + 1] = f[i] end
  end
end
return out
