-- revoke_token: end the session a refresh token names, only when the token
-- carries its current or previous secret (logout with a refresh token).
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua, then
-- ARGV[8] session id                         ARGV[9] SHA-256 of the presented secret
-- returns: {0} gone: missing or expired (an expired one is deleted)
--          {1, user, created, last_used, ip, ua, fp, o}  revoked (o: the provider record or nil)
--          {4} any other secret: no change
--          LATE error past the deadline, with no change
local late = fence(DEADLINE)
if late then return late end
local sid, presented = ARGV[8], ARGV[9]
upgrade_session(sid)
local raw = raw_of(sid)
local s = get(raw)
if not s then return {0} end
local expired = NOW >= s.e
if not expired and s.h ~= presented and s.prev ~= presented then return {4} end
drop(raw)
tidy()
if expired then return {0} end
announce(CHANNEL, sid, true)
return {1, s.user, fields(s)}
