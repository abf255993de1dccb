-- revoke: end one session of one user (an id alone is not enough).
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua, then
-- ARGV[8] user                               ARGV[9] session id
-- returns: 1 revoked; 0 missing, another user's, or already expired (then deleted);
--          LATE error past the deadline, with no change
local late = fence(DEADLINE)
if late then return late end
local user, sid = ARGV[8], ARGV[9]
upgrade_session(sid)
local raw = raw_of(sid)
local s = get(raw)
if not s or s.user ~= user then return 0 end
drop(raw)
tidy()
if NOW >= s.e then return 0 end
announce(CHANNEL, sid, true)
return 1
