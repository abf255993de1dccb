-- upgrade: moves records of the previous layout into the tag hash on first
-- use (after layout.lua). That layout kept one hash per session,
-- OLD .. 's:' .. sid (fields u c l ip ua…uh fp h p n r e o ot), and one sorted
-- set per user, OLD .. 'u:' .. user (sid -> last use). Both are deleted once
-- moved; a migrated session that has expired is pruned like any other.
local OLD_FIELDS = {'u', 'c', 'l', 'ip', 'fp', 'h', 'p', 'n', 'r', 'e', 'o', 'ot',
  'ua', 'ub', 'uc', 'ud', 'ue', 'uf', 'ug', 'uh'}

-- move(sid): moves session sid's old record, if any; true when it did.
local function move(sid)
  local k = OLD .. 's:' .. sid
  local v = redis.call('HMGET', k, unpack(OLD_FIELDS))
  if not v[1] then return false end
  local ua = {}
  for i = 13, 20 do if v[i] then ua[#ua + 1] = v[i] end end
  local raw = raw_of(sid)
  local info = info_pack(string.sub(v[1], 1, 254), v[4] or '', string.sub(v[5] or '', 1, 254), table.concat(ua))
  put(raw, tonumber(v[2]), tonumber(v[3]), v[6], info)
  local t = {}
  if v[7] and v[8] and v[9] then t[#t + 1] = raw .. 'R'; t[#t + 1] = struct.pack('>i8', tonumber(v[9])) .. v[7] .. v[8] end
  if v[10] then
    local e = {}
    for id in string.gmatch(v[10], '%S+') do e[#e + 1] = raw_of(id) end
    t[#t + 1] = raw .. 'E'; t[#t + 1] = table.concat(e)
  end
  if v[11] then t[#t + 1] = raw .. 'O'; t[#t + 1] = v[11] end
  if v[12] then t[#t + 1] = raw .. 'T'; t[#t + 1] = v[12] end
  if #t > 0 then redis.call('HSET', KEYS[1], unpack(t)) end
  redis.call('DEL', k)
  local idx = OLD .. 'u:' .. v[1]
  redis.call('ZREM', idx, sid)
  if redis.call('ZCARD', idx) == 0 then redis.call('DEL', idx) end
  return true
end

-- upgrade_session(sid): moves one session's old record and sets the hash's
-- TTL (for scripts that may not write afterwards); true when it moved one.
local function upgrade_session(sid)
  if not move(sid) then return false end
  tidy()
  return true
end

-- upgrade_user(user): moves every session in user's old index.
local function upgrade_user(user)
  local idx = OLD .. 'u:' .. user
  local moved = false
  for _, sid in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    if move(sid) then moved = true end
  end
  redis.call('DEL', idx)
  if moved then tidy() end
end
