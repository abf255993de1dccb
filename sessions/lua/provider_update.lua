-- provider_update: store what a provider refresh learned (roles, tokens, time of
-- the refresh) in one step, so no replica ever reads new roles with old tokens.
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua, then
-- ARGV[8] user (the session's store user)    ARGV[9] session id
-- ARGV[10] provider record (field O)         ARGV[11] sealed provider tokens (field T; '' = keep)
-- returns: 1 stored; 0 missing, another user's, expired or a local session (no change);
--          LATE error past the deadline, with no change. A retried copy writes the
--          same values again (same state).
local late = fence(DEADLINE)
if late then return late end
local user, sid = ARGV[8], ARGV[9]
upgrade_session(sid)
local raw = raw_of(sid)
local s = get(raw)
if not s or s.user ~= user or not s.o or NOW >= s.e then return 0 end
redis.call('HSET', KEYS[1], raw .. 'O', ARGV[10])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], raw .. 'T', ARGV[11]) end
tidy()
announce(CHANNEL, sid, false)
return 1
