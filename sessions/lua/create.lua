-- create: start a session; prune the tag's dead sessions, then evict the
-- user's least recently used sessions so the new one fits max_per_user.
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua, then
-- ARGV[8]  new session id                    ARGV[9]  user (≤ 254 bytes)
-- ARGV[10] client IP                         ARGV[11] user agent
-- ARGV[12] password-hash fingerprint (≤ 254 bytes)
-- ARGV[13] SHA-256 of the refresh secret     ARGV[14] max sessions per user (0 = unlimited)
-- ARGV[15] provider record (field O; '' = a local session)
-- ARGV[16] sealed provider tokens (field T; '' = none)
-- returns: array of the evicted session ids (empty when none). A retried copy of
--          the same call (the session id is new with every call) finds its session
--          and returns the ids the first copy evicted (field E), evicting nothing more.
--          LATE error past the deadline, with no change.
local sid, user = ARGV[8], ARGV[9]
local raw = raw_of(sid)
local first = redis.call('HMGET', KEYS[1], raw .. 'M', raw .. 'E')
if first[1] then
  local ids = {}
  local e = first[2] or ''
  for i = 1, #e, 16 do ids[#ids + 1] = sid_of(string.sub(e, i, i + 15)) end
  return ids
end
local late = fence(DEADLINE)
if late then return late end
upgrade_user(user)
local live = prune()

local evicted, max = {}, tonumber(ARGV[14])
if max > 0 then
  local mine = {}
  for r, s in pairs(live) do
    if s.user == user then mine[#mine + 1] = r end
  end
  -- Least recently used first; ties by id (raw bytes sort like the hex id).
  table.sort(mine, function(a, b)
    if live[a].l ~= live[b].l then return live[a].l < live[b].l end
    return a < b
  end)
  for i = 1, #mine - max + 1 do
    drop(mine[i])
    live[mine[i]] = nil
    evicted[#evicted + 1] = mine[i]
  end
end

put(raw, NOW, NOW, ARGV[13], info_pack(user, ARGV[10], ARGV[12], ARGV[11]))
local t = {}
if #evicted > 0 then t[#t + 1] = raw .. 'E'; t[#t + 1] = table.concat(evicted) end
if ARGV[15] ~= '' then t[#t + 1] = raw .. 'O'; t[#t + 1] = ARGV[15] end
if ARGV[16] ~= '' then t[#t + 1] = raw .. 'T'; t[#t + 1] = ARGV[16] end
if #t > 0 then redis.call('HSET', KEYS[1], unpack(t)) end
live[raw] = {e = math.min(NOW + IDLE, NOW + ABS)}
settle(live)
local ids = {}
for i, r in ipairs(evicted) do
  ids[i] = sid_of(r)
  announce(CHANNEL, ids[i], true)
end
return ids
