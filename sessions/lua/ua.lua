-- ua: prepended to every script that reads or writes a session's user agent.
-- The user agent is stored in pieces of at most 64 bytes, fields ua, ub, ...
-- uh (512 bytes at most, maxUserAgentLen), so every value of a session hash
-- stays within Redis' default hash-max-listpack-value (64) and the hash keeps
-- the compact listpack encoding: one 120-byte value alone turns the whole hash
-- into a hashtable, about twice the memory (bench/README.md, "Memory"). A
-- reader that knows only 'ua' sees the first 64 bytes.
local UA_FIELDS = {'ua', 'ub', 'uc', 'ud', 'ue', 'uf', 'ug', 'uh'}

-- ua_put(t, s): appends the field/value pairs of user agent s to t (for HSET).
local function ua_put(t, s)
  t[#t + 1] = 'ua'
  t[#t + 1] = string.sub(s, 1, 64)
  for i = 2, #UA_FIELDS do
    local piece = string.sub(s, (i - 1) * 64 + 1, i * 64)
    if piece == '' then break end
    t[#t + 1] = UA_FIELDS[i]
    t[#t + 1] = piece
  end
  return t
end

-- hmget(key, names): HMGET of names, where 'ua' stands for the whole user
-- agent (its pieces joined; false when the hash has none).
local function hmget(key, names)
  local q, at = {}, nil
  for i, n in ipairs(names) do
    if n == 'ua' then
      at = i
      for _, u in ipairs(UA_FIELDS) do q[#q + 1] = u end
    else
      q[#q + 1] = n
    end
  end
  local r = redis.call('HMGET', key, unpack(q))
  if not at then return r end
  local f, pieces, extra = {}, {}, #UA_FIELDS - 1
  for i = 1, at - 1 do f[i] = r[i] end
  for j = 0, extra do
    if r[at + j] then pieces[#pieces + 1] = r[at + j] end
  end
  f[at] = r[at] and table.concat(pieces) or false
  for i = at + 1, #names do f[i] = r[i + extra] end
  return f
end
