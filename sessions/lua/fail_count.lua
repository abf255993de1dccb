-- fail_count: count the failed attempts in a sliding window (reads only).
-- KEYS[1] the counter (zset: unique member -> time, ms)
-- ARGV[1] now (ms)                           ARGV[2] window (ms)
-- returns: {n, oldest}: n attempts t with now - window < t, and the time (ms)
--          of the oldest of them as a string ("" when n = 0)
local cut = '(' .. string.format('%d', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local n = redis.call('ZCOUNT', KEYS[1], cut, '+inf')
if n == 0 then return {0, ''} end
local o = redis.call('ZRANGEBYSCORE', KEYS[1], cut, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {n, o[2]}
