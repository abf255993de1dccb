-- list: a user's live sessions; the tag's dead sessions are pruned on the way.
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua (no fence), then
-- ARGV[8] user
-- returns: flat array, seven entries per live session: sid, created, last_used, ip, ua, fp, o
local user = ARGV[8]
upgrade_user(user)
local out = {}
for raw, s in pairs(tidy()) do
  if s.user == user then
    local c, l, ip, ua, fp, o = fields(s)
    for _, v in ipairs({sid_of(raw), c, l, ip, ua, fp}) do out[#out + 1] = v end
    out[#out + 1] = o or false
  end
end
return out
