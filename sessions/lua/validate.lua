-- validate: the per-request check when the Go side's HMGET could not answer
-- alone (missing, expired, another user's, touch due, anything unexpected):
-- re-checks everything atomically and touches last use when it is at least
-- touch_interval old (then prunes the tag and extends the hash's TTL).
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua (no fence), then
-- ARGV[8] user    ARGV[9] session id    ARGV[10] touch interval (ms)
-- returns: nil when missing, another user's or expired (an expired one is deleted);
--          else {created, last_used, ip, user_agent, fingerprint, provider record (or nil)}
local user, sid = ARGV[8], ARGV[9]
upgrade_session(sid)
local raw = raw_of(sid)
local s = get(raw)
if not s or s.user ~= user then return false end
if NOW >= s.e then
  drop(raw)
  tidy()
  return false
end
if NOW - s.l >= tonumber(ARGV[10]) then
  redis.call('HSET', KEYS[1], raw .. 'M', m_pack(s.c, NOW, s.n, s.h))
  s.l = NOW
  tidy()
end
return {fields(s)}
