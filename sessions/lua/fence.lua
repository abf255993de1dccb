-- fence: prepended to every script that changes what a client sees (create,
-- refresh, revoke, revoke_token, revoke_user; design: docs/sessions-faults.md).
-- fence(deadline): deadline is the Unix ms after which the gateway has given
-- up on the call ('0' = none). Returns an error reply starting with LATE when
-- Redis' own clock is past it (the script must then return it and change
-- nothing: its caller has already answered 503), else nil.
local function fence(deadline)
  local d = tonumber(deadline)
  if not d or d == 0 then return nil end
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > d then
    return redis.error_reply('LATE the gateway gave up on this call before it ran')
  end
  return nil
end

