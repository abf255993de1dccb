-- announce: prepended to every script that publishes on the invalidation
-- channel (WithInvalidations; '' = publish nothing). A session that ended
-- (revoked, evicted, reused) is announced as 'ended <sid>': caching replicas
-- refuse it from memory from then on (cache.go, tombstones). Every change is
-- also announced as the bare id, which drops the cached entry on replicas of
-- every version (earlier ones know only that form).
local function announce(channel, sid, ended)
  if channel == '' then return end
  if ended then redis.call('PUBLISH', channel, 'ended ' .. sid) end
  redis.call('PUBLISH', channel, sid)
end
