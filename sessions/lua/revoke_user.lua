-- revoke_user: end every session of a user (not the other users of its tag).
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua, then
-- ARGV[8] user
-- returns: array of the ids of the live sessions that were ended;
--          LATE error past the deadline, with no change
local late = fence(DEADLINE)
if late then return late end
local user = ARGV[8]
upgrade_user(user)
local live, out = prune(), {}
for raw, s in pairs(live) do
  if s.user == user then
    drop(raw)
    live[raw] = nil
    out[#out + 1] = sid_of(raw)
  end
end
settle(live)
for _, sid in ipairs(out) do announce(CHANNEL, sid, true) end
return out
