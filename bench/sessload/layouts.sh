#!/usr/bin/env bash
# Memory per session of candidate Redis layouts (bench/README.md, "Memory"):
# starts a throwaway redis-server on PORT (default 27390), writes N (100000)
# synthetic sessions per layout inside one EVAL each (120-byte user agent,
# one session per user: the worst case), prints INFO used_memory delta / N
# and the encoding of one record. Not the store's code: a measurement of the
# data shapes, to size a layout before writing its scripts.
set -euo pipefail
P=${PORT:-27390}
redis-server --port $P --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
RP=$!; sleep 0.5
R="redis-cli -p $P"
UA="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.00"
N=${N:-100000}
run() { # name lua
  $R FLUSHALL >/dev/null; sleep 0.2
  b=$($R INFO memory | awk -F: '/^used_memory:/{print $2+0}')
  $R EVAL "$2" 0 $N "$UA" >/dev/null
  a=$($R INFO memory | awk -F: '/^used_memory:/{print $2+0}')
  echo "$1 $(( (a-b)/N )) B/session  $($R EVAL "$3" 0)"
}
# current layout
run current '
local n, ua = tonumber(ARGV[1]), ARGV[2]
for i=1,n do
  local tag = string.format("%08x", i*2654435761 % 4294967296)
  local sid = tag .. string.format("%032x", i)
  local user = string.format("user%06d", i)
  local k = "portcullis:{"..tag.."}:s:"..sid
  redis.call("HSET", k, "u", user, "c", 1733150000000+i, "l", 1733150000000+i, "ip", "203.0.113.7", "ua", string.sub(ua,1,64), "ub", string.sub(ua,65), "fp", string.format("%032x", i), "h", string.rep("\1", 32))
  redis.call("PEXPIRE", k, 86400000)
  local x = "portcullis:{"..tag.."}:u:"..user
  redis.call("ZADD", x, 1733150000000+i, sid)
  redis.call("PEXPIRE", x, 86400000)
end' 'local t=redis.call("OBJECT","ENCODING","portcullis:{9e3779b1}:s:9e3779b100000000000000000000000000000001"); return t'
# per-user hash, sid hex in field names
run peruser-hex '
local n, ua = tonumber(ARGV[1]), ARGV[2]
for i=1,n do
  local tag = string.format("%08x", i*2654435761 % 4294967296)
  local sid = string.format("%032x", i)
  local user = string.format("user%06d", i)
  local k = "portcullis:{"..tag.."}:v:"..user
  redis.call("HSET", k, sid, struct.pack(">i8i8", 1733150000000+i, 1733150000000+i)..string.rep("\2",16)..string.rep("\1", 32), sid.."i", "203.0.113.7", sid.."a", string.sub(ua,1,64), sid.."b", string.sub(ua,65))
  redis.call("PEXPIRE", k, 86400000)
end' 'return redis.call("OBJECT","ENCODING","portcullis:{9e3779b1}:v:user000001")'
# per-user hash, sid raw 16 bytes in field names, ip in main value
run peruser-raw '
local n, ua = tonumber(ARGV[1]), ARGV[2]
for i=1,n do
  local tag = string.format("%08x", i*2654435761 % 4294967296)
  local sid = struct.pack(">i8i8", 0, i)
  local user = string.format("user%06d", i)
  local k = "portcullis:{"..tag.."}:v:"..user
  redis.call("HSET", k, sid, struct.pack(">i8i8", 1733150000000+i, 1733150000000+i)..string.rep("\2",16)..string.rep("\1", 24), sid.."i", "203.0.113.7", sid.."a", string.sub(ua,1,64), sid.."b", string.sub(ua,65))
  redis.call("PEXPIRE", k, 86400000)
end' 'return redis.call("OBJECT","ENCODING","portcullis:{9e3779b1}:v:user000001")'
# two keys, compact: no duplicate tag, short prefix
run twokeys-compact '
local n, ua = tonumber(ARGV[1]), ARGV[2]
for i=1,n do
  local tag = string.format("%08x", i*2654435761 % 4294967296)
  local sid = string.format("%032x", i)
  local user = string.format("user%06d", i)
  local k = "portcullis:{"..tag.."}:s:"..sid
  redis.call("HSET", k, "u", user, "c", 1733150000000+i, "l", 1733150000000+i, "ip", "203.0.113.7", "ua", string.sub(ua,1,64), "ub", string.sub(ua,65), "fp", string.rep("\2",16), "h", string.rep("\1", 32))
  redis.call("PEXPIRE", k, 86400000)
  local x = "portcullis:{"..tag.."}:u:"..user
  redis.call("ZADD", x, 1733150000000+i, sid)
  redis.call("PEXPIRE", x, 86400000)
end' 'return redis.call("OBJECT","ENCODING","portcullis:{9e3779b1}:s:00000000000000000000000000000001")'
kill $RP
