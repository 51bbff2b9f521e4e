#!/bin/sh
# SPDX-License-Identifier: MIT
# Wall-time overhead of prestanda (sampled, --full, --cpu) and heaptrack vs bare runs: medians of RUNS (default 5), trace sizes.
set -eu

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
ROWS=${ROWS:-300000}
P=build/prestanda

[ -x "$P" ] && [ -f build/libprestanda.so ] || {
	echo "bench: build first (make all)" >&2
	exit 1
}
make -s build/targets/bench_malloc build/targets/bench_threads build/targets/bench_locks build/targets/bench_cpu

tmp=$(mktemp -d /tmp/pst-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
have_heaptrack=0
command -v heaptrack >/dev/null 2>&1 && have_heaptrack=1

now_ns() { date +%s%N; }

# run_mode MODE INPUT CMD...: one run, stdout/stderr discarded; fails loudly.
run_mode() {
	mode=$1 input=$2
	shift 2
	rm -rf "$tmp/out" && mkdir "$tmp/out"
	case $mode in
	bare) set -- "$@" ;;
	sampled) set -- "$P" run -o "$tmp/out/p.%p.trace" -- "$@" ;;
	full) set -- "$P" run --full -o "$tmp/out/p.%p.trace" -- "$@" ;;
	cpu99) set -- "$P" run --cpu -o "$tmp/out/p.%p.trace" -- "$@" ;;
	heaptrack) set -- heaptrack -o "$tmp/out/heaptrack" "$@" ;;
	esac
	if ! "$@" <"$input" >"$tmp/log" 2>&1; then
		echo "bench: failed ($mode): $*" >&2
		tail -5 "$tmp/log" >&2
		exit 1
	fi
}

# bench NAME INPUT CMD...: RUNS runs per mode; appends "name mode median_ns bytes" to $tmp/results.
bench() {
	name=$1 input=$2
	shift 2
	for mode in ${MODES:-bare sampled full heaptrack}; do
		[ "$mode" = heaptrack ] && [ "$have_heaptrack" = 0 ] && continue
		: >"$tmp/times"
		i=0
		while [ "$i" -lt "$RUNS" ]; do
			t0=$(now_ns)
			run_mode "$mode" "$input" "$@"
			t1=$(now_ns)
			echo $((t1 - t0)) >>"$tmp/times"
			i=$((i + 1))
		done
		med=$(sort -n "$tmp/times" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }')
		size=$(find "$tmp/out" -type f -exec cat {} + | wc -c)
		echo "$name $mode $med $size" >>"$tmp/results"
		printf '.' >&2
	done
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
[ "$have_heaptrack" = 1 ] && echo "heaptrack: $(heaptrack --version 2>/dev/null | head -1)"
echo "sqlite3: $(sqlite3 --version | cut -d' ' -f1); runs per cell: $RUNS (median)"

scripts/workload-sqlite.sh "$ROWS" >"$tmp/workload.sql"
: >"$tmp/results"
bench bench_malloc /dev/null build/targets/bench_malloc
bench "sqlite3(${ROWS}rows)" "$tmp/workload.sql" "$(command -v sqlite3)" -batch -init /dev/null :memory:
bench bench_threads-2 /dev/null build/targets/bench_threads 2
bench bench_threads-8 /dev/null build/targets/bench_threads 8
# CPU samples (`run --cpu`, 99 Hz) on fixed CPU-bound work, 2 threads
MODES="bare cpu99" bench bench_cpu-2thr /dev/null build/targets/bench_cpu 3
echo >&2

awk '
	$2 == "bare" { bare[$1] = $3 }
	{ name[NR] = $1; mode[NR] = $2; t[NR] = $3; sz[NR] = $4 }
	END {
		printf "%-22s %-10s %10s %8s %12s\n", "workload", "mode", "median_s", "x_bare", "trace_bytes";
		for (i = 1; i <= NR; i++)
			printf "%-22s %-10s %10.3f %8.2f %12s\n", name[i], mode[i], t[i] / 1e9,
				t[i] / bare[name[i]], mode[i] == "bare" ? "-" : sz[i];
	}' "$tmp/results"

# Uncontended locks: the added cost of the pthread hooks per lock/unlock pair
# (the issue's budget is 10 ns), best of RUNS runs each.
best_ns() {
	i=0 best=""
	while [ "$i" -lt "$RUNS" ]; do
		v=$("$@" 2>/dev/null | sed -n 's/ ns per lock.unlock pair//p')
		[ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }' && best=$v
		i=$((i + 1))
	done
	echo "$best"
}
bare=$(best_ns build/targets/bench_locks)
pre=$(cd "$tmp" && best_ns env LD_PRELOAD="$OLDPWD/build/libprestanda.so" \
	PRESTANDA_OUTPUT="$tmp/out/l.%p.trace" "$OLDPWD/build/targets/bench_locks")
awk -v a="$bare" -v b="$pre" 'BEGIN {
	printf "\nuncontended mutex lock/unlock: bare %.2f ns, preloaded %.2f ns per pair: %.2f ns added\n", a, b, b - a }'
echo
scripts/bench-net.sh
