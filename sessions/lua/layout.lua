-- layout: prepended to every script that reads or writes sessions (after
-- fence.lua). All sessions of one hash tag live in ONE hash, KEYS[1] =
-- <prefix>{tag}:h; several users can share a tag (32 bits), so every reader
-- compares the user name stored with the session. A session's fields are
-- named by the 16 raw bytes of its id's random part (hex digits 9..40) and
-- one suffix byte:
--   M      created ms, last used ms, number of info pieces (struct '>i8i8B'),
--          then the SHA-256 of the current refresh secret: 49 bytes
--   a b …  the info, in pieces of at most 64 bytes (at most 17): byte #user,
--          user, byte #ip, ip, fingerprint (byte 255 + 16 raw bytes when it is
--          32 lowercase hex digits, else byte #fp (≤ 254) + fp), user agent
--   R      rotated ms (struct '>i8'), SHA-256 of the previous secret, nonce of
--          the rotation: 56 bytes, from the first rotation on
--   E      the raw ids (16 bytes each) this session's Create evicted
--   O      provider record (JSON)     T  sealed provider tokens
-- Every value but O, T and a long E stays within Redis' default
-- hash-max-listpack-value (64), so the hash keeps the listpack encoding.
-- Every script's ARGV starts with the same seven values:
-- ARGV[1] now (ms)                 ARGV[2] idle timeout (ms)
-- ARGV[3] absolute lifetime (ms)   ARGV[4] the tag (8 hex digits)
-- ARGV[5] key base of the tag's old-layout keys (upgrade.lua)
-- ARGV[6] invalidation channel ('' = do not publish)
-- ARGV[7] deadline (Unix ms, '0' = none; fence.lua)
local NOW, IDLE, ABS = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local TAG, OLD, CHANNEL, DEADLINE = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local PIECES = 'abcdefghijklmnopq'
local FAST = 6 -- pieces fetched with M by one HMGET (fastPieces in layout.go)

local function unhex(s)
  return (string.gsub(s, '..', function(h) return string.char(tonumber(h, 16)) end))
end
local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function raw_of(sid) return unhex(string.sub(sid, 9)) end
local function sid_of(raw) return TAG .. hex(raw) end
local function num(v) return string.format('%.0f', v) end

-- announce: the one place that publishes on the invalidation channel
-- (WithInvalidations; '' = publish nothing). A session that ended (revoke,
-- evict, reuse, revoke-user) is announced as 'ended <sid>': caching replicas
-- refuse it from memory from then on (cache.go, tombstones). Every change,
-- a rotation or a provider update too, is also announced as the bare id,
-- which drops the cached entry on replicas of every version (earlier ones
-- know only that form).
local function announce(channel, sid, ended)
  if channel == '' then return end
  if ended then redis.call('PUBLISH', channel, 'ended ' .. sid) end
  redis.call('PUBLISH', channel, sid)
end

local function info_pack(user, ip, fp, ua)
  local f
  if #fp == 32 and string.find(fp, '^[0-9a-f]+$') then
    f = '\255' .. unhex(fp)
  else
    f = string.char(#fp) .. fp
  end
  return string.char(#user) .. user .. string.char(#ip) .. ip .. f .. ua
end

local function info_unpack(s)
  local n = string.byte(s, 1) or 0
  local user, p = string.sub(s, 2, 1 + n), 2 + n
  n = string.byte(s, p) or 0
  local ip = string.sub(s, p + 1, p + n)
  p = p + 1 + n
  n = string.byte(s, p) or 0
  local fp
  if n == 255 then
    fp, p = hex(string.sub(s, p + 1, p + 16)), p + 17
  else
    fp, p = string.sub(s, p + 1, p + n), p + 1 + n
  end
  return user, ip, fp, string.sub(s, p)
end

local function m_pack(c, l, n, h) return struct.pack('>i8i8B', c, l, n) .. h end

-- record(m, piece(i), rot, o): a session as a table {c, l, n, h, user, ip,
-- fp, ua, o, e}, and from its first rotation on (field R) rotated, prev,
-- nonce; piece(i) returns the i-th info piece.
local function record(m, piece, rot, o)
  local c, l, n = struct.unpack('>i8i8B', m)
  local t = {}
  for i = 1, n do t[i] = piece(i) or '' end
  local s = {c = c, l = l, n = n, h = string.sub(m, 18), o = o}
  if rot and #rot == 56 then
    s.rotated, s.prev, s.nonce = struct.unpack('>i8', rot), string.sub(rot, 9, 40), string.sub(rot, 41)
  end
  s.user, s.ip, s.fp, s.ua = info_unpack(table.concat(t))
  s.e = math.min(l + IDLE, c + ABS) -- when it ends
  return s
end

-- get(raw): session raw's record, or nil; one HMGET (two with > FAST pieces).
local function get(raw)
  local q = {raw .. 'M', raw .. 'R', raw .. 'O', raw .. 'E'}
  for i = 1, FAST do q[#q + 1] = raw .. string.sub(PIECES, i, i) end
  local v = redis.call('HMGET', KEYS[1], unpack(q))
  if not v[1] then return nil end
  local more
  local s = record(v[1], function(i)
    if i <= FAST then return v[4 + i] end
    if not more then
      local r = {}
      for j = FAST + 1, #PIECES do r[#r + 1] = raw .. string.sub(PIECES, j, j) end
      more = redis.call('HMGET', KEYS[1], unpack(r))
    end
    return more[i - FAST]
  end, v[2], v[3])
  s.evicted = v[4]
  return s
end

-- put(raw, c, l, h, info): writes a session's M and info pieces.
local function put(raw, c, l, h, info)
  local n = math.ceil(#info / 64)
  local t = {raw .. 'M', m_pack(c, l, n, h)}
  for i = 1, n do
    t[#t + 1] = raw .. string.sub(PIECES, i, i)
    t[#t + 1] = string.sub(info, (i - 1) * 64 + 1, i * 64)
  end
  redis.call('HSET', KEYS[1], unpack(t))
end

-- drop(raw): deletes every field of session raw.
local function drop(raw)
  local t = {raw .. 'M', raw .. 'R', raw .. 'E', raw .. 'O', raw .. 'T'}
  for i = 1, #PIECES do t[#t + 1] = raw .. string.sub(PIECES, i, i) end
  redis.call('HDEL', KEYS[1], unpack(t))
end

-- settle(live): the hash now lives exactly as long as the latest-ending of
-- the live sessions (raw -> record); deleted when there is none.
local function settle(live)
  local last = 0
  for _, s in pairs(live) do last = math.max(last, s.e) end
  if last > NOW then
    redis.call('PEXPIRE', KEYS[1], last - NOW)
  else
    redis.call('DEL', KEYS[1])
  end
end

-- prune(): every session of the tag from one HGETALL; deletes the dead ones
-- (and any field that belongs to no session) and returns the live ones.
local function prune()
  local kv, by = redis.call('HGETALL', KEYS[1]), {}
  for i = 1, #kv, 2 do
    local raw = string.sub(kv[i], 1, 16)
    by[raw] = by[raw] or {}
    by[raw][string.sub(kv[i], 17)] = kv[i + 1]
  end
  local live = {}
  for raw, f in pairs(by) do
    if f.M and #f.M == 49 then
      local s = record(f.M, function(i) return f[string.sub(PIECES, i, i)] end, f.R, f.O)
      if NOW < s.e then live[raw] = s else drop(raw) end
    else
      drop(raw)
    end
  end
  return live
end

-- tidy(): prune() and settle() in one.
local function tidy()
  local live = prune()
  settle(live)
  return live
end

-- fields(s): what the Go side reads of a session: created, last used,
-- ip, user agent, fingerprint, provider record (or nil).
local function fields(s)
  return num(s.c), num(s.l), s.ip, s.ua, s.fp, s.o
end
