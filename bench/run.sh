#!/usr/bin/env bash
# Side-by-side throughput harness (issue 10). Builds portcullis, the upstream
# (100-byte body), a bare httputil.ReverseProxy (bench/bareproxy, the
# gateway's transport tuning, no auth) and bench/revlat; starts a throwaway
# redis-server on a free port and one gateway per configuration; then, over
# ROUNDS rounds, each at c=16 and c=64, runs wrk against every target in a
# rotating order, so each ratio compares targets measured minutes apart at
# most, on the same machine load:
#   upstream   the upstream directly (the ceiling)
#   bare       bench/bareproxy (the reference: every ratio is to it)
#   public     a public route through Portcullis
#   mem-hs     authenticated route, memory store, HS256
#   redis-hs   Redis store, no cache            redis-ed  the same, EdDSA
#   cache-hs   Redis store + sessions.cache     cache-ed  the same, EdDSA
#   mem-ed     memory store, EdDSA
# Then the revocation latency: revoke on replica A, poll replica B every
# 1 ms (bench/revlat), Redis without and with the cache.
#
# Prints and writes bench/results/perf-<UTC date>-<commit>.txt (and
# latest.txt): per target and concurrency the median over rounds of rps,
# p50/p99, CPU µs per request of the serving process (and of redis-server
# and the upstream), the machine's busy CPU µs per request (all processes
# and the kernel, from /proc/stat), the median of the per-round ratios to
# the bare proxy, and the machine µs per request each target adds over it.
#
# Knobs (env): QUICK=1 (DURATION 3s, ROUNDS 2, REVOKE_N 20: a few minutes),
#   DURATION (10s), ROUNDS (3), CONNS ("16 64"), THREADS (2), REVOKE_N (100),
#   TARGETS (all of the above, space-separated).
set -euo pipefail

export PATH="/usr/local/go/bin:${PATH}"
cd "$(dirname "$0")/.."

if [ -n "${QUICK:-}" ]; then
	DURATION=${DURATION:-3s} ROUNDS=${ROUNDS:-2} REVOKE_N=${REVOKE_N:-20}
fi
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16 64}
THREADS=${THREADS:-2}
REVOKE_N=${REVOKE_N:-100}
TARGETS=${TARGETS:-upstream bare public mem-hs redis-hs cache-hs mem-ed redis-ed cache-ed}

results=bench/results
work=bench/results/tmp
rm -rf "$work" && mkdir -p "$work"

if ! command -v wrk >/dev/null 2>&1; then
	echo "installing wrk" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT INT TERM

echo "building" >&2
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "+dirty" || true)
go build -o "$work/portcullis" -ldflags "-X main.version=bench -X main.commit=$commit" ./cmd/portcullis
for p in upstream bareproxy revlat; do go build -o "$work/$p" "./bench/$p"; done

# free_port: a TCP port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Secrets of this run only (never written to results/).
head -c 32 /dev/urandom | base64 -w0 >"$work/hs.secret"
openssl genpkey -algorithm ed25519 -out "$work/ed.pem" 2>/dev/null

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
	--logfile "$(pwd)/$work/redis.log" --dir "$(pwd)/$work" &
pids+=($!)
redis_pid=$!

upstream_port=$(free_port)
"$work/upstream" -listen "127.0.0.1:$upstream_port" -size 100 2>"$work/upstream.log" &
pids+=($!)
declare -A port pid metrics
port[upstream]=$upstream_port pid[upstream]=$!

port[bare]=$(free_port)
"$work/bareproxy" -listen "127.0.0.1:${port[bare]}" -upstream "http://127.0.0.1:$upstream_port" 2>"$work/bare.log" &
pids+=($!)
pid[bare]=$!

# gateway_config NAME STORE(memory|redis|cache) ALG(hs|ed) PORT METRICS_PORT
gateway_config() {
	local key
	if [ "$3" = hs ]; then
		key="{id: hs, alg: HS256, secret: \"base64:$(cat "$work/hs.secret")\"}"
	else
		key="{id: ed, alg: EdDSA, private_key_file: $(pwd)/$work/ed.pem}"
	fi
	cat <<YAML
server:
  listen: "127.0.0.1:$4"
  shutdown_delay: 0s
metrics:
  listen: "127.0.0.1:$5"
tokens:
  keys: [$key]
sessions:
  store: $([ "$2" = memory ] && echo memory || echo redis)
  redis:
    addrs: ["127.0.0.1:$redis_port"]
  cache:
    enabled: $([ "$2" = cache ] && echo true || echo false)
users:
  file: $(pwd)/demo-users.yaml
cookies:
  secure: false
log:
  level: warn
  access_log: false
routes:
  - name: public
    path_prefix: /public
    upstream: "http://127.0.0.1:$upstream_port"
    auth: public
  - name: private
    path_prefix: /
    upstream: "http://127.0.0.1:$upstream_port"
    auth: required
YAML
}
# gateway NAME STORE ALG: start one gateway.
gateway() {
	port[$1]=$(free_port) metrics[$1]=$(free_port)
	gateway_config "$1" "$2" "$3" "${port[$1]}" "${metrics[$1]}" >"$work/$1.yaml"
	"$work/portcullis" serve -config "$work/$1.yaml" 2>"$work/$1.log" &
	pids+=($!)
	pid[$1]=$!
}
gateway mem-hs memory hs
gateway redis-hs redis hs
gateway redis-hs-b redis hs
gateway cache-hs cache hs
gateway cache-hs-b cache hs
gateway mem-ed memory ed
gateway redis-ed redis ed
gateway cache-ed cache ed
port[public]=${port[mem-hs]} pid[public]=${pid[mem-hs]}

wait_ready() {
	for _ in $(seq 1 200); do
		if curl -fs -o /dev/null "$1"; then return 0; fi
		sleep 0.1
	done
	echo "not ready: $1; see $work/*.log" >&2
	exit 1
}
wait_ready "http://127.0.0.1:$upstream_port/"
wait_ready "http://127.0.0.1:${port[bare]}/"
for g in "${!metrics[@]}"; do wait_ready "http://127.0.0.1:${metrics[$g]}/readyz"; done

# login NAME: a bearer token for alice from gateway NAME.
login() {
	curl -fsS -X POST "http://127.0.0.1:${port[$1]}/auth/login" \
		-H 'Content-Type: application/json' \
		-d '{"username":"alice","password":"wonderland"}' |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
declare -A token url
for t in $TARGETS; do
	case $t in
	upstream | bare | public) url[$t]="http://127.0.0.1:${port[$t]}/public/x" ;;
	*)
		token[$t]=$(login "$t")
		[ -n "${token[$t]}" ] || { echo "login on $t failed" >&2; exit 1; }
		url[$t]="http://127.0.0.1:${port[$t]}/x"
		curl -fsS -o /dev/null -H "Authorization: Bearer ${token[$t]}" "${url[$t]}"
		;;
	esac
done

# wrk reports the numbers we need machine-readably (latency in µs).
cat >"$work/report.lua" <<'LUA'
done = function(s, latency, requests)
  local bad = s.errors.status + s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d\n", s.requests, s.duration,
    latency:percentile(50), latency:percentile(99), bad))
end
LUA

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# machine_ticks: busy time of all CPUs (user, nice, system, irq, softirq):
# wrk, the proxies, the upstream, Redis and the kernel's work for them.
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
raw="$work/raw.tsv"
secs=${DURATION%s}
# measure ROUND CONNS TARGET: one wrk run; appends a line to raw.tsv.
measure() {
	local t=$3 p0 r0 out hdr=()
	[ -z "${token[$t]:-}" ] || hdr=(-H "Authorization: Bearer ${token[$t]}")
	p0=$(cpu_ticks "${pid[$t]}") r0=$(cpu_ticks "$redis_pid") u0=$(cpu_ticks "${pid[upstream]}") m0=$(machine_ticks)
	out=$(timeout "$((secs + 30))" wrk -t"$THREADS" -c"$2" -d"$DURATION" -s "$work/report.lua" "${hdr[@]}" "${url[$t]}" | grep '^RESULT')
	local p1 r1 u1 m1
	p1=$(cpu_ticks "${pid[$t]}") r1=$(cpu_ticks "$redis_pid") u1=$(cpu_ticks "${pid[upstream]}") m1=$(machine_ticks)
	echo "$out" | awk -v r="$1" -v c="$2" -v t="$t" -v pt=$((p1 - p0)) -v rt=$((r1 - r0)) -v ut=$((u1 - u0)) -v mt=$((m1 - m0)) -v hz="$clk_tck" \
		'{n=$2; printf "%s\t%s\t%s\t%.0f\t%d\t%d\t%.1f\t%.1f\t%d\t%.1f\t%.1f\n", r, c, t, n/($3/1e6), $4, $5, pt/hz*1e6/n, rt/hz*1e6/n, $6, ut/hz*1e6/n, mt/hz*1e6/n}' >>"$raw"
	tail -1 "$raw" | awk -F'\t' '{printf "round %s c=%s %-9s %8s rps p50 %6sµs p99 %6sµs cpu %6sµs/req redis %5sµs/req machine %6sµs/req errors %s\n", $1,$2,$3,$4,$5,$6,$7,$8,$11,$9}' >&2
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null || { echo "a benchmark process exited; see $work/*.log" >&2; exit 1; }
	done
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
read -r -a order <<<"$TARGETS"
for r in $(seq 1 "$ROUNDS"); do
	for c in $CONNS; do
		# Rotate the order each round so no target always runs first or last.
		n=${#order[@]} k=$(((r - 1) % n))
		for t in "${order[@]:k}" "${order[@]:0:k}"; do measure "$r" "$c" "$t"; done
	done
done

revoke() {
	echo "revocation latency: $1" >&2
	"$work/revlat" -a "http://127.0.0.1:${port[$2]}" -b "http://127.0.0.1:${port[$3]}" -n "$REVOKE_N" "${@:4}"
}
rev_nocache=$(revoke "no cache" redis-hs redis-hs-b)
# With the cache, revlat also subscribes to the invalidation channel: when
# the message reached a third subscriber, apart from replica B's handling.
rev_cache=$(revoke "cache" cache-hs cache-hs-b -redis "127.0.0.1:$redis_port")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$results/perf-$stamp-$commit$dirty.txt"
{
	echo "# bench/run.sh — $(date -u +%FT%TZ), commit $commit$dirty, $(go version | cut -d' ' -f3)"
	echo "# machine: $(uname -m), $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)"
	echo "# load average at start $load_start, at end $load_end"
	echo "# wrk -t$THREADS -d$DURATION, $ROUNDS rounds, connections: $CONNS; upstream body 100 B"
	echo "# medians over rounds; ratio = median of per-round (target ÷ bare); Δp99 = median of per-round (target p99 − bare p99)"
	echo "# cpu = CPU µs per request of the serving process; redis = redis-server's; upstr = the upstream's"
	echo "# machine = busy time of all CPUs (/proc/stat) per request; +µs = median of per-round (target machine − bare machine): the CPU budget, see bench/README.md"
	sort -t$'\t' -k2,2n -k3,3 -k1,1n "$raw" | awk -F'\t' -f bench/report.awk -v order="$TARGETS"
	echo "$rev_nocache" | sed 's/^/no cache: /'
	echo "$rev_cache" | sed 's/^/cache:    /'
} | tee "$out"
cp "$out" "$results/latest.txt"
cp "$raw" "$results/latest-raw.tsv"
echo "results in $out" >&2
