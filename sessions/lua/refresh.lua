-- refresh: rotate the refresh secret, or recognise the previous one.
-- KEYS[1] the tag's hash; ARGV[1..7] as in layout.lua, then
-- ARGV[8]  session id                        ARGV[9]  SHA-256 of the presented secret
-- ARGV[10] SHA-256 of the new secret         ARGV[11] nonce of this rotation
-- ARGV[12] refresh grace (ms)
-- returns: {0}  gone: missing or expired (an expired one is deleted)
--          {1, user, created, last_used, ip, ua, fp, o}      rotated; the new secret is current (o:
--               the provider record, nil for a local session)
--          {2, user, created, last_used, ip, ua, fp, nonce, current, o}  previous secret within
--               grace: nonce of the rotation and SHA-256 of the secret it issued; no change
--          {3}  previous secret after grace: reuse, the session is deleted
--          {4}  any other secret: no change
--          A retried copy of a call that rotated (previous secret = the presented one and
--          nonce = this call's) returns what the first copy returned. LATE error past the
--          deadline, with no change.
local sid, presented = ARGV[8], ARGV[9]
local raw = raw_of(sid)
local s = get(raw)
if s and s.prev == presented and s.nonce == ARGV[11] then
  return {1, s.user, num(s.c), num(s.rotated), s.ip, s.ua, s.fp, s.o}
end
local late = fence(DEADLINE)
if late then return late end
if not s and upgrade_session(sid) then s = get(raw) end
if not s then return {0} end
if NOW >= s.e then
  drop(raw)
  tidy()
  return {0}
end
if s.h == presented then
  redis.call('HSET', KEYS[1], raw .. 'M', m_pack(s.c, NOW, s.n, ARGV[10]),
    raw .. 'R', struct.pack('>i8', NOW) .. presented .. ARGV[11])
  tidy()
  announce(CHANNEL, sid, false)
  return {1, s.user, num(s.c), num(NOW), s.ip, s.ua, s.fp, s.o}
end
if s.prev and s.prev == presented then
  if NOW - s.rotated < tonumber(ARGV[12]) then
    return {2, s.user, num(s.c), num(s.l), s.ip, s.ua, s.fp, s.nonce, s.h, s.o}
  end
  drop(raw)
  tidy()
  announce(CHANNEL, sid, true)
  return {3}
end
return {4}
