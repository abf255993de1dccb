#!/usr/bin/env bash
# Chaos harness (issue 8): builds portcullis and bench/chaos, then runs every
# scenario (standalone, standalone-aof, sentinel, cluster) against real
# redis-servers, two gateway replicas and a recording upstream, all on
# 127.0.0.1. Exits non-zero on any invariant violation.
#
#   bench/chaos/run.sh -short                 # CI form, ≤ 2 minutes
#   bench/chaos/run.sh                        # long form
#   bench/chaos/run.sh -only cluster -keep    # one scenario, keep configs and logs
#   CHAOS_SHORT=1 bench/chaos/run.sh          # same as -short
#
# Every flag is passed to the harness (bench/chaos -h lists them). The
# harness kills every process it started, also on failure or SIGINT/SIGTERM
# (and, through Pdeathsig, when it is killed itself).
set -euo pipefail

export PATH="/usr/local/go/bin:${PATH}"
cd "$(dirname "$0")/../.."

for bin in redis-server redis-cli; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		echo "chaos: $bin is required (apt-get install redis-server)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-chaos-bin-XXXXXX")
trap 'rm -rf "$work"' EXIT

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
go build -o "$work/portcullis" -ldflags "-X main.version=chaos -X main.commit=$commit" ./cmd/portcullis
go build -o "$work/chaos" ./bench/chaos

args=("$@")
if [ -n "${CHAOS_SHORT:-}" ]; then
	args=(-short "${args[@]}")
fi
echo "chaos: commit $commit, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# No exec: the EXIT trap removes the binaries once the harness is done.
status=0
"$work/chaos" -portcullis "$work/portcullis" "${args[@]}" || status=$?
exit "$status"
