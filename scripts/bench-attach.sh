#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench, attach rows: two identical redis-servers loaded in turn by redis-benchmark, one never touched, the other attached, detached, then under heaptrack -p; ratios in the same rounds, and the pause each attach costs.
set -eu

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
REQS=${REQS:-100000}
P=$PWD/build/prestanda
. scripts/common.sh

pst_need_build bench-attach
command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 || {
	echo "bench-attach: no redis-server/redis-benchmark: no attach rows" >&2
	exit 0
}
pst_tmpdir bench-attach
base=$((20000 + ($$ + 7919) % 20000))
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

# redis-server on port $1; its pid in $srv.
start() {
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
		>"$tmp/srv.$1.log" 2>&1 &
	srv=$!
	pids="$pids $srv"
	i=0
	until redis-cli -p "$1" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt 1000 ] && { echo "bench-attach: redis-server did not start" >&2; exit 1; }
		sleep 0.01
	done
}

# One load of REQS SETs and GETs from 8 clients on port $1: its ms.
load1() {
	t0=$(date +%s%N)
	redis-benchmark -p "$1" -c 8 -n "$REQS" -t get,set -q >/dev/null
	echo $((($(date +%s%N) - t0) / 1000000))
}

# The subject's load time over the untouched twin's, both loaded in this
# round, first one then the other, the order turned each round (round $2):
# appended to $tmp/t.$1.
load() {
	if [ $(($2 % 2)) -eq 0 ]; then
		p=$(load1 "$base") s=$(load1 $((base + 1)))
	else
		s=$(load1 $((base + 1))) p=$(load1 "$base")
	fi
	awk -v s="$s" -v p="$p" 'BEGIN { printf "%.4f\n", s / p }' >>"$tmp/t.$1"
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Until file $1 holds the text $2 (60 s at most).
wait_for() {
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt 6000 ] && { echo "bench-attach: no \"$2\" in $1:" >&2; cat "$1" >&2; exit 1; }
		sleep 0.01
	done
}

start "$base"
plain=$srv
start $((base + 1))
subject=$srv
# the twins as they are: what a ratio of 1 looks like here
r=0
while [ "$r" -lt "$RUNS" ]; do
	load before "$r"
	r=$((r + 1))
done
# each round: attached against untouched, then detached against untouched
r=0
while [ "$r" -lt "$RUNS" ]; do
	"$P" attach -o "$tmp/a.$r.trace" "$subject" 2>"$tmp/att.err" &
	att=$!
	wait_for "$tmp/att.err" recording
	load attached "$r"
	kill -INT "$att"
	wait "$att"
	sed -n 's/.*recording.*(stopped \([0-9.]*\) ms).*/\1/p' "$tmp/att.err" >>"$tmp/t.pause_in"
	sed -n 's/.*detached from.*(stopped \([0-9.]*\) ms).*/\1/p' "$tmp/att.err" >>"$tmp/t.pause_out"
	load after "$r"
	printf '.' >&2
	r=$((r + 1))
done
echo >&2
echo "attach: two redis-servers, redis-benchmark -c 8 -n $REQS -t get,set in turn, $RUNS rounds, medians of the rounds' ratios"
awk -v b="$(median "$tmp/t.before")" -v a="$(median "$tmp/t.attached")" -v f="$(median "$tmp/t.after")" \
	-v i="$(median "$tmp/t.pause_in")" -v o="$(median "$tmp/t.pause_out")" 'BEGIN {
	printf "  before any attach: %.3fx (the twins alike)\n", b;
	printf "  prestanda attached: %.3fx the untouched server'"'"'s time; after the detach: %.3fx [<= 1.05x: %s]\n",
		a, f, f <= 1.05 ? "ok" : "MISS";
	printf "  prestanda attach stopped the server %.1f ms to attach, %.1f ms to detach (each round attached again)\n", i, o }'

if command -v heaptrack >/dev/null 2>&1 && command -v gdb >/dev/null 2>&1; then
	t0=$(date +%s%N)
	heaptrack -o "$tmp/ht.%p" -p "$subject" >"$tmp/ht.out" 2>&1 &
	pids="$pids $!"
	wait_for "$tmp/ht.out" "injection finished"
	inject=$((($(date +%s%N) - t0) / 1000000))
	r=0
	while [ "$r" -lt "$RUNS" ]; do
		load heaptrack "$r"
		r=$((r + 1))
	done
	awk -v h="$(median "$tmp/t.heaptrack")" -v t="$inject" 'BEGIN {
		printf "  heaptrack -p attached: %.3fx the untouched server'"'"'s time; its injection through gdb took %d ms (the server stopped while gdb held it)\n",
			h, t }'
else
	echo "  heaptrack -p: skipped (heaptrack or gdb not installed)"
fi
