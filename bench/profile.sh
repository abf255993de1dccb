#!/usr/bin/env bash
# bench/profile.sh: where the gateway's CPU per request goes, next to the
# bare proxy's (issue 10). Starts redis-server, bench/upstream,
# bench/bareproxy, a gateway with the memory store (its public route) and
# one with Redis + sessions.cache (an authenticated route), then for each of
# bare, public and cache runs `wrk -c16` for DURATION while `perf record -g`
# samples the serving process, ROUNDS times in turn. Prints CPU µs per
# request (from /proc, exact) and the share of the process's CPU in a few
# subtrees (from perf: shares survive perf's lost samples, absolute sample
# counts do not). Leaves the perf data in $PROFILE_DIR (default /tmp/portcullis-profile) for
# `perf report -i …`.
#
#   DURATION=6s ROUNDS=2 bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-6s} ROUNDS=${ROUNDS:-2}
secs=${DURATION%s}
command -v perf >/dev/null || { echo "perf is required" >&2; exit 1; }
w=${PROFILE_DIR:-${TMPDIR:-/tmp}/portcullis-profile}
rm -rf "$w" && mkdir -p "$w"
go build -o "$w/portcullis" ./cmd/portcullis
for p in upstream bareproxy; do go build -o "$w/$p" "./bench/$p"; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
head -c 32 /dev/urandom | base64 -w0 >"$w/hs.secret"
rp=$(free_port)
redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --logfile "$w/redis.log" --dir "$w" &
pids+=($!)
up=$(free_port)
"$w/upstream" -listen "127.0.0.1:$up" -size 100 2>/dev/null &
pids+=($!)
bp=$(free_port)
"$w/bareproxy" -listen "127.0.0.1:$bp" -upstream "http://127.0.0.1:$up" 2>/dev/null &
pids+=($!)
declare -A pid url
pid[bare]=$! url[bare]="http://127.0.0.1:$bp/public/x"
# config STORE PORT METRICS_PORT CACHE
config() {
	cat <<YAML
server: {listen: "127.0.0.1:$2", shutdown_delay: 0s}
metrics: {listen: "127.0.0.1:$3"}
tokens: {keys: [{id: hs, alg: HS256, secret: "base64:$(cat "$w/hs.secret")"}]}
sessions: {store: $1, redis: {addrs: ["127.0.0.1:$rp"]}, cache: {enabled: $4}}
users: {file: $(pwd)/demo-users.yaml}
cookies: {secure: false}
log: {level: warn, access_log: false}
routes:
  - {name: public, path_prefix: /public, upstream: "http://127.0.0.1:$up", auth: public}
  - {name: private, path_prefix: /, upstream: "http://127.0.0.1:$up", auth: required}
YAML
}
gp=$(free_port)
config memory "$gp" "$(free_port)" false >"$w/public.yaml"
"$w/portcullis" serve -config "$w/public.yaml" 2>"$w/public.log" &
pids+=($!)
pid[public]=$! url[public]="http://127.0.0.1:$gp/public/x"
cp=$(free_port)
config redis "$cp" "$(free_port)" true >"$w/cache.yaml"
"$w/portcullis" serve -config "$w/cache.yaml" 2>"$w/cache.log" &
pids+=($!)
pid[cache]=$! url[cache]="http://127.0.0.1:$cp/x"
for u in "${url[bare]}" "${url[public]}"; do
	for _ in $(seq 1 100); do curl -fs -o /dev/null "$u" && break; sleep 0.1; done
done
tok=
for _ in $(seq 1 100); do
	tok=$(curl -fsS -X POST "http://127.0.0.1:$cp/auth/login" -H 'Content-Type: application/json' \
		-d '{"username":"alice","password":"wonderland"}' 2>/dev/null | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p') || true
	[ -n "$tok" ] && break
	sleep 0.1
done
[ -n "$tok" ] || { echo "login failed" >&2; exit 1; }
cat >"$w/r.lua" <<'LUA'
done = function(s, latency, requests) io.write(string.format("RESULT %d\n", s.requests)) end
LUA
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
share() { # share DATA SYMBOL-REGEX: percent of the process's samples under it
	perf report -i "$1" --children --sort sym --stdio -q -g none 2>/dev/null |
		RE="$2" awk '$0 ~ ENVIRON["RE"] {gsub("%","",$1); s += $1} END {printf "%5.1f", s}'
}
clk=$(getconf CLK_TCK)
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# round target requests cpu_us/req  gateway-own% proxy% gc% malloc%  (shares of the process's CPU)"
for r in $(seq 1 "$ROUNDS"); do
	for t in bare public cache; do
		h=()
		[ "$t" = cache ] && h=(-H "Authorization: Bearer $tok")
		t0=$(ticks "${pid[$t]}")
		perf record -F 2000 -g -p "${pid[$t]}" -o "$w/$t.$r.data" -- sleep "$secs" >/dev/null 2>&1 &
		pp=$!
		n=$(wrk -t2 -c16 -d"$DURATION" -s "$w/r.lua" "${h[@]}" "${url[$t]}" | awk '/^RESULT/ {print $2}')
		wait "$pp"
		t1=$(ticks "${pid[$t]}")
		d="$w/$t.$r.data"
		gw=$(share "$d" 'Gateway\)\.ServeHTTP$')
		rpx=$(share "$d" 'ReverseProxy\)\.ServeHTTP$')
		gc=$(share "$d" 'runtime\.(gcBgMarkWorker|gcAssistAlloc)$')
		ma=$(share "$d" 'runtime\.mallocgc$')
		own=$(awk -v g="$gw" -v p="$rpx" 'BEGIN {printf "%5.1f", (g > 0 ? g - p : 0)}')
		echo "$r $t $n $(awk -v a="$t0" -v b="$t1" -v n="$n" -v c="$clk" 'BEGIN {printf "%.1f", (b - a) / c * 1e6 / n}') $own $rpx $gc $ma"
	done
done
