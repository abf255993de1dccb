#!/usr/bin/env bash
# Old-vs-new comparison (BASELINE=<rev>) of one gateway build against another: builds portcullis and a minimal upstream,
# starts both on 127.0.0.1, and runs wrk against
#   (a) the upstream directly (baseline),
#   (b) a public route through the gateway,
#   (c) an authenticated route with a bearer token from POST /auth/login.
# Results: bench/results/<name>.txt. Stops everything it started on exit.
# With BASELINE=<git rev>, a second gateway built from that revision runs
# beside the current one and each gateway target is measured for both,
# alternately, in the same run (<name>-baseline.txt), plus compare.txt.
#
# Knobs (env): DURATION (10s; seconds with an s suffix), THREADS (2), CONNECTIONS (32),
#              GATEWAY_PORT (18080), METRICS_PORT (19464), UPSTREAM_PORT (18081),
#              BASELINE (unset); the baseline gateway uses the ports + 10.
set -euo pipefail

export PATH="/usr/local/go/bin:${PATH}"
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
METRICS_PORT=${METRICS_PORT:-19464}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}

results=bench/results
work=bench/results/tmp
mkdir -p "$work"

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
go build -o "$work/portcullis" -ldflags "-X main.version=bench -X main.commit=$commit" ./cmd/portcullis
go build -o "$work/upstream" ./bench/upstream
BASELINE=${BASELINE:-}
BASE_GATEWAY_PORT=$((GATEWAY_PORT + 10))
BASE_METRICS_PORT=$((METRICS_PORT + 10))
if [ -n "$BASELINE" ]; then
	base_commit=$(git rev-parse --short "$BASELINE")
	rm -rf "$work/baseline-src" && mkdir -p "$work/baseline-src"
	git archive "$BASELINE" | tar -x -C "$work/baseline-src"
	(cd "$work/baseline-src" && go build -o ../portcullis-baseline \
		-ldflags "-X main.version=bench -X main.commit=$base_commit" ./cmd/portcullis)
fi

# gateway_config PORT METRICS_PORT: the config both gateways run.
gateway_config() {
	cat <<YAML
server:
  listen: "127.0.0.1:$1"
  shutdown_delay: 0s
metrics:
  listen: "127.0.0.1:$2"
sessions:
  store: memory
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
    upstream: "http://127.0.0.1:${UPSTREAM_PORT}"
    auth: public
  - name: private
    path_prefix: /
    upstream: "http://127.0.0.1:${UPSTREAM_PORT}"
    auth: required
YAML
}
gateway_config "$GATEWAY_PORT" "$METRICS_PORT" >"$work/gateway.yaml"
gateway_config "$BASE_GATEWAY_PORT" "$BASE_METRICS_PORT" >"$work/gateway-baseline.yaml"

# A leftover process on one of the ports would be measured instead of ours.
ports=("$UPSTREAM_PORT" "$GATEWAY_PORT" "$METRICS_PORT")
[ -z "$BASELINE" ] || ports+=("$BASE_GATEWAY_PORT" "$BASE_METRICS_PORT")
for port in "${ports[@]}"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port is already in use; stop what listens there or set *_PORT" >&2
		exit 1
	fi
done

"$work/upstream" -listen "127.0.0.1:${UPSTREAM_PORT}" 2>"$work/upstream.log" &
pids+=($!)
"$work/portcullis" serve -config "$work/gateway.yaml" 2>"$work/gateway.log" &
pids+=($!)
if [ -n "$BASELINE" ]; then
	"$work/portcullis-baseline" serve -config "$work/gateway-baseline.yaml" 2>"$work/gateway-baseline.log" &
	pids+=($!)
fi

wait_ready() {
	for _ in $(seq 1 100); do
		if curl -fs -o /dev/null "$1"; then return 0; fi
		sleep 0.1
	done
	echo "not ready: $1" >&2
	cat "$work/gateway.log" >&2
	exit 1
}
wait_ready "http://127.0.0.1:${UPSTREAM_PORT}/"
wait_ready "http://127.0.0.1:${METRICS_PORT}/readyz"
[ -z "$BASELINE" ] || wait_ready "http://127.0.0.1:${BASE_METRICS_PORT}/readyz"
for pid in "${pids[@]}"; do
	kill -0 "$pid" 2>/dev/null || { echo "a benchmark process exited; see $work/*.log" >&2; exit 1; }
done

# login PORT: a bearer token for alice from the gateway on PORT.
login() {
	curl -fsS -X POST "http://127.0.0.1:$1/auth/login" \
		-H 'Content-Type: application/json' \
		-d '{"username":"alice","password":"wonderland"}' |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
token=$(login "$GATEWAY_PORT")
base_token=
[ -z "$BASELINE" ] || base_token=$(login "$BASE_GATEWAY_PORT")
if [ -z "$token" ] || { [ -n "$BASELINE" ] && [ -z "$base_token" ]; }; then
	echo "login failed; is POST /auth/login implemented?" >&2
	exit 1
fi
# The token must work before we measure with it.
curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:${GATEWAY_PORT}/x"

secs=${DURATION%s}
clk_tck=$(getconf CLK_TCK)
# cpu_ticks PID: user+system CPU time the process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run NAME LABEL PID WRK-ARGS...: measure, and record the CPU the server PID
# spent per 1000 requests (steadier than req/s on a shared machine).
run() {
	local name=$1 label=$2 pid=$3
	shift 3
	local out="$results/$name.txt"
	echo "wrk: $name" >&2
	local before
	before=$(cpu_ticks "$pid")
	{
		echo "# $name — $(date -u +%FT%TZ), $label, $(nproc) CPUs, $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)"
		# The bearer token is a credential: never written to the results.
		local args="${*//$token/<token>}"
		[ -z "$base_token" ] || args="${args//$base_token/<token>}"
		echo "# wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $args"
		timeout "$((secs + 30))" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@"
	} >"$out"
	local ticks=$(($(cpu_ticks "$pid") - before)) reqs
	reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$out")
	awk -v t="$ticks" -v hz="$clk_tck" -v n="$reqs" \
		'BEGIN{printf "server CPU: %.1f ms per 1000 requests\n", t * 1000 / hz / (n / 1000)}' >>"$out"
	grep -E 'Requests/sec|Non-2xx|server CPU' "$out" >&2 || true
}
rps() { sed -n 's/^Requests\/sec: *//p' "$results/$1.txt"; }
cpu() { sed -n 's/^server CPU: \([0-9.]*\) ms.*/\1/p' "$results/$1.txt"; }

upstream_pid=${pids[0]} gateway_pid=${pids[1]} base_pid=${pids[2]:-}
run upstream "upstream" "$upstream_pid" "http://127.0.0.1:${UPSTREAM_PORT}/public/x"
if [ -n "$BASELINE" ]; then
	run public-baseline "commit $base_commit" "$base_pid" "http://127.0.0.1:${BASE_GATEWAY_PORT}/public/x"
fi
run public "commit $commit" "$gateway_pid" "http://127.0.0.1:${GATEWAY_PORT}/public/x"
if [ -n "$BASELINE" ]; then
	run authenticated-baseline "commit $base_commit" "$base_pid" -H "Authorization: Bearer $base_token" "http://127.0.0.1:${BASE_GATEWAY_PORT}/x"
fi
run authenticated "commit $commit" "$gateway_pid" -H "Authorization: Bearer $token" "http://127.0.0.1:${GATEWAY_PORT}/x"

if [ -n "$BASELINE" ]; then
	{
		echo "# $(date -u +%FT%TZ): baseline $base_commit vs current $commit, one run, wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
		echo "# req/s (higher is better); gateway CPU ms per 1000 requests (lower is better)"
		printf '%-14s %10s %10s %6s %9s %9s %6s\n' target rps-base rps-cur ratio cpu-base cpu-cur ratio
		for t in public authenticated; do
			b=$(rps "$t-baseline") c=$(rps "$t") cb=$(cpu "$t-baseline") cc=$(cpu "$t")
			printf '%-14s %10s %10s %6s %9s %9s %6s\n' "$t" "$b" "$c" \
				"$(awk -v b="$b" -v c="$c" 'BEGIN{printf "%.2f", c/b}')" "$cb" "$cc" \
				"$(awk -v b="$cb" -v c="$cc" 'BEGIN{printf "%.2f", c/b}')"
		done
	} | tee "$results/compare.txt" >&2
fi
echo "results in $results/" >&2
