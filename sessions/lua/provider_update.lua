-- provider_update: store what a provider refresh learned (roles, tokens, time of
-- the refresh) in one step, so no replica ever reads new roles with old tokens.
-- KEYS[1] the session's hash
-- ARGV[1] user (the session's store user)    ARGV[2] now (ms)
-- ARGV[3] idle timeout (ms)                  ARGV[4] absolute lifetime (ms)
-- ARGV[5] provider record (field o)          ARGV[6] sealed provider tokens (field ot; '' = keep)
-- ARGV[7] invalidation channel ('' = do not publish)
-- ARGV[8] session id                         ARGV[9] deadline (Unix ms, '0' = none; fence.lua)
-- returns: 1 stored; 0 missing, another user's, expired or a local session (no change);
--          LATE error past the deadline, with no change. A retried copy writes the
--          same values again (same state).
local late = fence(ARGV[9])
if late then return late end
local f = redis.call('HMGET', KEYS[1], 'u', 'c', 'l', 'o')
if not f[1] or f[1] ~= ARGV[1] or not f[4] then return 0 end
if tonumber(ARGV[2]) >= math.min(tonumber(f[3]) + tonumber(ARGV[3]), tonumber(f[2]) + tonumber(ARGV[4])) then
  return 0
end
redis.call('HSET', KEYS[1], 'o', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'ot', ARGV[6]) end
announce(ARGV[7], ARGV[8], false)
return 1
