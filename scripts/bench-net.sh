#!/bin/sh
# SPDX-License-Identifier: MIT
# Network overhead: redis-server bare and under prestanda (default mode), loaded by redis-benchmark over loopback; medians of RUNS.
set -eu

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
REQS=${REQS:-200000}
P=build/prestanda

command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 || {
	echo "bench-net: redis-server and redis-benchmark are needed (scripts/install-deps.sh)" >&2
	exit 1
}
tmp=$(mktemp -d /tmp/pst-bench-net.XXXXXX)
srv=""
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

port=$((20000 + $$ % 20000))

# one run: start the server (bare or profiled), time redis-benchmark against it
run_once() {
	mode=$1
	case $mode in
	bare) redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/srv.log" 2>&1 & ;;
	sampled) "$P" run -o "$tmp/r.%p.trace" -- redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/srv.log" 2>&1 & ;;
	esac
	srv=$!
	i=0
	until redis-cli -p "$port" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt 500 ] && { echo "bench-net: server did not start" >&2; cat "$tmp/srv.log" >&2; exit 1; }
		sleep 0.01
	done
	t0=$(date +%s%N)
	redis-benchmark -p "$port" -c 8 -n "$REQS" -t get,set -q >/dev/null
	t1=$(date +%s%N)
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	wait "$srv" 2>/dev/null || true
	srv=""
	echo $((t1 - t0)) >>"$tmp/$mode.times"
}

i=0
while [ "$i" -lt "$RUNS" ]; do
	run_once bare
	run_once sampled
	i=$((i + 1))
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
b=$(med "$tmp/bare.times")
s=$(med "$tmp/sampled.times")
size=$(find "$tmp" -name 'r.*.trace' -exec cat {} + | wc -c)
echo "redis-server under redis-benchmark (8 clients, $REQS GET + $REQS SET, loopback), medians of $RUNS:"
awk -v b="$b" -v s="$s" -v z="$size" 'BEGIN {
	printf "%-22s %-10s %10s %8s %12s\n", "workload", "mode", "median_s", "x_bare", "trace_bytes";
	printf "%-22s %-10s %10.3f %8.2f %12s\n", "redis-server", "bare", b / 1e9, 1, "-";
	printf "%-22s %-10s %10.3f %8.2f %12d\n", "redis-server", "sampled", s / 1e9, s / b, z / '"$RUNS"';
}'
