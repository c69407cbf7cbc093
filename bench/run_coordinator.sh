#!/usr/bin/env bash
# Runs the coordinator load benchmark once (it builds nothing) and prints its figures: cycles per
# second and LeaseTrial latency with 64 simulated worker groups, then metric rows per second
# streamed through gRPC into SQLite. Extra arguments go to the program (e.g. --trials=5000).
#   bash bench/run_coordinator.sh [path/to/istar_coordinator_bench] [--flag=value ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/build/bench/istar_coordinator_bench
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then bench=$1; shift; fi
[ -x "$bench" ] || { echo "build first: bash deploy/local/build.sh ($bench is missing)" >&2; exit 1; }
echo "machine: $(nproc) cores; database in ${TMPDIR:-/tmp}"
# gRPC logs failed handshakes and the like on stderr; the figures are on stdout.
"$bench" "$@" 2>/dev/null
