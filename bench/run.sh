#!/usr/bin/env bash
# End-to-end throughput harness: builds portcullis and a minimal upstream,
# starts both on 127.0.0.1, and runs wrk against
#   (a) the upstream directly (baseline),
#   (b) a public route through the gateway,
#   (c) an authenticated route with a bearer token from POST /auth/login.
# Results: bench/results/<name>.txt. Stops everything it started on exit.
#
# Knobs (env): DURATION (10s; seconds with an s suffix), THREADS (2), CONNECTIONS (32),
#              GATEWAY_PORT (18080), METRICS_PORT (19464), UPSTREAM_PORT (18081).
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

cat > "$work/gateway.yaml" <<YAML
server:
  listen: "127.0.0.1:${GATEWAY_PORT}"
  shutdown_delay: 0s
metrics:
  listen: "127.0.0.1:${METRICS_PORT}"
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

# A leftover process on one of the ports would be measured instead of ours.
for port in "$UPSTREAM_PORT" "$GATEWAY_PORT" "$METRICS_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port is already in use; stop what listens there or set *_PORT" >&2
		exit 1
	fi
done

"$work/upstream" -listen "127.0.0.1:${UPSTREAM_PORT}" 2>"$work/upstream.log" &
pids+=($!)
"$work/portcullis" serve -config "$work/gateway.yaml" 2>"$work/gateway.log" &
pids+=($!)

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
for pid in "${pids[@]}"; do
	kill -0 "$pid" 2>/dev/null || { echo "a benchmark process exited; see $work/*.log" >&2; exit 1; }
done

token=$(curl -fsS -X POST "http://127.0.0.1:${GATEWAY_PORT}/auth/login" \
	-H 'Content-Type: application/json' \
	-d '{"username":"alice","password":"wonderland"}' |
	sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
	echo "login failed; is POST /auth/login implemented?" >&2
	exit 1
fi
# The token must work before we measure with it.
curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:${GATEWAY_PORT}/x"

secs=${DURATION%s}
run() {
	local name=$1
	shift
	local out="$results/$name.txt"
	echo "wrk: $name" >&2
	{
		echo "# $name — $(date -u +%FT%TZ), commit $commit, $(nproc) CPUs, $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)"
		# The bearer token is a credential: never written to the results.
		echo "# wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency ${*//$token/<token>}"
		timeout "$((secs + 30))" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@"
	} >"$out"
	grep -E 'Requests/sec|Non-2xx' "$out" >&2 || true
}

run upstream "http://127.0.0.1:${UPSTREAM_PORT}/public/x"
run public "http://127.0.0.1:${GATEWAY_PORT}/public/x"
run authenticated -H "Authorization: Bearer $token" "http://127.0.0.1:${GATEWAY_PORT}/x"

echo "results in $results/" >&2
