#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench: overhead of prestanda (sampled, --full), a minimal interposer (the floor) and heaptrack against bare runs, interleaved, medians; analyzer speed and memory; trace sizes.
set -eu

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
ROWS=${ROWS:-300000}
MICRO=${MICRO:-50000000}
THREADS_TOTAL=${THREADS_TOTAL:-40000000}
REQS=${REQS:-100000}
PGTX=${PGTX:-2000}
STARTS=${STARTS:-20}
# ONLY="micro sqlite3 ...": those workloads alone (the analyzer and memory
# figures come with sqlite3). BASE=DIR: another build's prestanda (its
# preload beside it) runs --full too, as mode "base", in the same rounds.
ONLY=${ONLY:-}
BASE=${BASE:-}
P=$PWD/build/prestanda
. scripts/common.sh

pst_need_build bench
make -s build/targets/bench_malloc build/targets/bench_threads build/targets/bench_locks \
	build/targets/bench_cpu

tmp=$(mktemp -d /tmp/pst-bench.XXXXXX)
srv=""
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# The floor: what any malloc interposer costs (scripts/bench-floor.c),
# built here for this run only, never shipped.
cc -O2 -shared -fPIC -o "$tmp/floor.so" scripts/bench-floor.c -ldl
modes="bare floor sampled full"
[ -z "$BASE" ] || modes="$modes base"
command -v heaptrack >/dev/null 2>&1 && modes="$modes heaptrack"
# whether workload $1 is to run
wanted() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) true ;; *) false ;; esac; }
now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# The command line of one mode: prestanda run, heaptrack, or the program itself.
mode_cmd() {
	case $1 in
	bare) ;;
	floor) echo "env LD_PRELOAD=$tmp/floor.so" ;;
	sampled) echo "$P run -o $tmp/out/p.%p.trace --" ;;
	full) echo "$P run --full -o $tmp/out/p.%p.trace --" ;;
	base) echo "$BASE/prestanda run --full -o $tmp/out/p.%p.trace --" ;;
	heaptrack) echo "heaptrack -o $tmp/out/heaptrack.%p" ;;
	cpu) echo "$P run --cpu -o $tmp/out/p.%p.trace --" ;;
	textfile) echo "$P run --metrics-textfile $tmp/prom -o $tmp/out/p.%p.trace --" ;;
	esac
}

# CPU=1: the command is run by this wrapper, which writes the user+sys
# nanoseconds of the command alone (its rusage, microseconds) to a file;
# a wrapper under the preload costs nothing that is counted.
cpu_wrap='import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, st, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write("%d\n" % round((ru.ru_utime + ru.ru_stime) * 1e9))
sys.exit(os.waitstatus_to_exitcode(st))'

# One timed run of a command in a mode; appends "name mode ns bytes", and
# with CPU=1 the command's user+sys ns as a fifth column.
run_once() {
	name=$1 mode=$2 input=$3
	shift 3
	[ -z "${CPU:-}" ] || set -- python3 -c "$cpu_wrap" "$tmp/cpu" "$@"
	rm -rf "$tmp/out" && mkdir "$tmp/out"
	t0=$(now_ns)
	# shellcheck disable=SC2046
	if ! $(mode_cmd "$mode") "$@" <"$input" >"$tmp/log" 2>&1; then
		echo "bench: failed ($mode): $*" >&2
		tail -5 "$tmp/log" >&2
		exit 1
	fi
	t1=$(now_ns)
	echo "$name $mode $((t1 - t0)) $(find "$tmp/out" -type f -exec cat {} + | wc -c)${CPU:+ $(cat "$tmp/cpu")}" >>"$tmp/runs"
	[ "$mode" = bare ] || cp -r "$tmp/out" "$tmp/keep.$name.$mode"
}

# RUNS rounds, each running every mode ($MODES, else all) once: the
# machine's drift hits all alike.
bench() {
	name=$1 input=$2
	shift 2
	wanted "$name" || return 0
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		for m in ${MODES:-$modes}; do
			rm -rf "$tmp/keep.$name.$m"
			run_once "$name" "$m" "$input" "$@"
		done
		printf '.' >&2
		i=$((i + 1))
	done
}

# A request/response server: redis-server in each mode, loaded by
# redis-benchmark over loopback; the time is the benchmark's.
server_once() {
	mode=$1 port=$2
	rm -rf "$tmp/out" && mkdir "$tmp/out"
	# shellcheck disable=SC2046
	$(mode_cmd "$mode") redis-server --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$tmp" >"$tmp/srv.log" 2>&1 &
	srv=$!
	i=0
	until redis-cli -p "$port" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt 1000 ] && { echo "bench: redis-server did not start ($mode)" >&2; cat "$tmp/srv.log" >&2; exit 1; }
		sleep 0.01
	done
	t0=$(now_ns)
	redis-benchmark -p "$port" -c 8 -n "$REQS" -t get,set -q >/dev/null
	t1=$(now_ns)
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	wait "$srv" 2>/dev/null || true
	srv=""
	echo "server $mode $((t1 - t0)) $(find "$tmp/out" -type f -exec cat {} + | wc -c)" >>"$tmp/runs"
}

bench_server() {
	wanted server || return 0
	command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 || {
		echo "bench: no redis-server/redis-benchmark: no server column" >&2
		return 0
	}
	port=$((20000 + $$ % 20000))
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		for m in $modes; do
			[ "$m" = base ] && continue
			server_once "$m" "$port"
		done
		printf '.' >&2
		i=$((i + 1))
	done
}

# Requests decoded on the client's side: redis-benchmark and pgbench
# traced (sampled) against servers that are not, every round running the
# bare client too. PostgreSQL is a private cluster (user postgres). The
# pair is latency bound (the client mostly waits for the server's reply):
# the client's CPU time is measured beside the wall time (CPU=1).
pg_ctl_as() {
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg/data" "$@" >/dev/null 2>&1
}

bench_clients() {
	port=$((20000 + ($$ + 7) % 20000))
	if command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; then
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$tmp" >"$tmp/rsrv.log" 2>&1 &
		srv=$!
		until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.01; done
		CPU=1 MODES="bare sampled" bench rclient /dev/null redis-benchmark -p "$port" -c 8 \
			-n "$REQS" -t get,set -q
		redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
		wait "$srv" 2>/dev/null || true
		srv=""
	fi
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
	if [ -z "$pgbin" ] || [ "$(id -u)" != 0 ]; then
		echo "bench: no PostgreSQL (or not root for its user): no pgbench row" >&2
		return 0
	fi
	chmod 711 "$tmp" && mkdir -p "$tmp/pg" && chmod 777 "$tmp/pg" # postgres reaches its data
	runuser -u postgres -- "$pgbin/initdb" -D "$tmp/pg/data" -A trust -U postgres >/dev/null 2>&1
	pg_ctl_as -o "-p $((port + 1)) -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off" \
		-w -l "$tmp/pg/log" start
	"$pgbin/pgbench" -i -q -h 127.0.0.1 -p $((port + 1)) -U postgres postgres >/dev/null 2>&1
	CPU=1 MODES="bare sampled" bench pgbench /dev/null "$pgbin/pgbench" -n -M prepared -c 2 -j 1 \
		-t "$PGTX" -h 127.0.0.1 -p $((port + 1)) -U postgres postgres
	pg_ctl_as -m immediate -w stop
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
[ -n "${modes##*heaptrack*}" ] || echo "heaptrack: $(heaptrack --version 2>/dev/null | head -1)"
echo "sqlite3: $(sqlite3 --version | cut -d' ' -f1); $RUNS rounds, every mode once per round; medians"

scripts/workload-sqlite.sh "$ROWS" >"$tmp/workload.sql"
# An allocation-heavy Python workload: dicts, lists and strings made and dropped.
cat >"$tmp/workload.py" <<'PY'
import sys
n = int(sys.argv[1])
for r in range(8):
    d = {}
    for i in range(n):
        d["k%d" % i] = [i, str(i) * 3, (i, r)]
    s = sum(len(v[1]) for v in d.values())
    del d
print(s)
PY
# A small C project for `make -j2`: 24 files, built again each run (-B).
mkdir -p "$tmp/proj"
i=0
while [ "$i" -lt 24 ]; do
	printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint f%d(int n) { char b[64]; snprintf(b, sizeof b, "%%d", n); return (int)strlen(b) + atoi(b); }\n' "$i" >"$tmp/proj/f$i.c"
	i=$((i + 1))
done
printf 'int main(void) { return 0; }\n' >"$tmp/proj/main.c"
printf 'OBJ := $(patsubst %%.c,%%.o,$(wildcard *.c))\nprog: $(OBJ)\n\t$(CC) -o $@ $^\n%%.o: %%.c\n\t$(CC) -O2 -Wall -c -o $@ $<\n' >"$tmp/proj/Makefile"
# the interpreter itself, not a version manager's wrapper script
PY3=$(python3 -c 'import sys; print(sys.executable)')

: >"$tmp/runs"
bench micro /dev/null build/targets/bench_malloc "$MICRO"
bench sqlite3 "$tmp/workload.sql" "$(command -v sqlite3)" -batch -init /dev/null :memory:
bench python /dev/null "$PY3" "$tmp/workload.py" 100000
bench threads2 /dev/null build/targets/bench_threads 2 "$THREADS_TOTAL"
bench threads8 /dev/null build/targets/bench_threads 8 "$THREADS_TOTAL"
bench_server
bench_clients
MODES="bare cpu" bench cpu /dev/null build/targets/bench_cpu 3
# start-up: one short program, STARTS rounds (each run is a few ms)
runs=$RUNS
RUNS=$STARTS MODES="bare floor sampled" bench startup /dev/null /bin/true
RUNS=$runs MODES="bare floor sampled" bench make /dev/null make -s -j2 -B -C "$tmp/proj"
echo >&2

# Uncontended locks: the added cost of the pthread hooks per lock/unlock
# pair, best of RUNS runs each (the program prints its own ns per pair).
best_ns() {
	i=0 best=""
	while [ "$i" -lt "$RUNS" ]; do
		v=$("$@" 2>/dev/null | sed -n 's/ ns per lock.unlock pair//p')
		[ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }' && best=$v
		i=$((i + 1))
	done
	echo "$best"
}
if wanted mutex; then
	mutex_bare=$(best_ns build/targets/bench_locks)
	mutex_pre=$(cd "$tmp" && best_ns env LD_PRELOAD="$OLDPWD/build/libprestanda.so" \
		PRESTANDA_OUTPUT="$tmp/out/l.%p.trace" "$OLDPWD/build/targets/bench_locks")
fi

for name in micro sqlite3 python threads2 threads8 server rclient pgbench cpu startup make; do
	for m in $modes cpu; do
		grep "^$name $m " "$tmp/runs" >"$tmp/sel" || continue
		cpu="" # the fifth column, CPU=1's
		awk 'NF < 5 { exit 1 }' "$tmp/sel" && cpu=" $(cut -d' ' -f5 "$tmp/sel" | median)"
		echo "$name $m $(cut -d' ' -f3 "$tmp/sel" | median) $(cut -d' ' -f4 "$tmp/sel" | median)$cpu"
	done
done >"$tmp/med"
if wanted mutex; then
	echo "mutex bare $mutex_bare 0" >>"$tmp/med"
	echo "mutex sampled $mutex_pre 0" >>"$tmp/med"
fi

echo
echo "Wall time as a ratio to the bare run; floor: a minimal interposer (scripts/bench-floor.c), same rounds:"
awk -f scripts/bench-table.awk "$tmp/med"
echo
echo "Trace sizes (bytes, median run):"
awk '$2 != "bare" && $2 != "floor" && $1 != "cpu" && $1 != "mutex" && $1 != "startup" { printf "  %-9s %-10s %12d\n", $1, $2, $4 }' "$tmp/med"
echo "--full trace against heaptrack's, same runs (target: no bigger):"
awk '{ sz[$1, $2] = $4 } END {
	n = split("micro sqlite3 threads2 threads8 server", w, " ");
	for (i = 1; i <= n; i++) {
		f = sz[w[i], "full"]; h = sz[w[i], "heaptrack"];
		if (f && h)
			printf "  %-9s %12d vs %12d bytes: %.1fx [%s]\n", w[i], f, h, f / h, f <= h ? "ok" : "MISS";
	} }' "$tmp/med"

# The analyzer against heaptrack's on the same sqlite3 run: time to read the
# trace and print the report, and peak memory (heaptrack's interpreter runs
# during recording: measured here on a raw recording of the same workload).
full=$(find "$tmp/keep.sqlite3.full" 2>/dev/null -name '*.trace' | head -1)
if [ -n "$full" ]; then
	json=$("$P" report --json "$full")
	# the memory section's own totals (per-thread objects repeat the names)
	mem=$(echo "$json" | sed -n '/^  "memory": {/,/^  }/p')
	events=$(echo "$mem" | sed -n 's/^    "\(alloc_calls\|free_calls\)": \([0-9]*\),*$/\2/p' | awk '{ s += $1 } END { print s }')
	peak=$(echo "$mem" | sed -n 's/^    "peak_heap_bytes": \([0-9]*\),*$/\1/p')
	: >"$tmp/rep.t"
	for i in 1 2 3; do
		/usr/bin/time -f "%e %M" -a -o "$tmp/rep.t" "$P" report "$full" >/dev/null 2>&1
	done
	rep_s=$(cut -d' ' -f1 "$tmp/rep.t" | median)
	rep_kb=$(cut -d' ' -f2 "$tmp/rep.t" | median)
	echo
	echo "sqlite3 --full trace: $(wc -c <"$full") bytes for $events events: $(awk -v b="$(wc -c <"$full")" -v e="$events" 'BEGIN { printf "%.1f", b / e }') bytes per event"
	echo "analyzer: prestanda report ${rep_s}s, peak ${rep_kb} KiB"
	ht=$(find "$tmp/keep.sqlite3.heaptrack" -name '*.zst' 2>/dev/null | head -1)
	interp=$(dpkg -L libheaptrack heaptrack 2>/dev/null | grep '/heaptrack_interpret$' | head -1)
	if [ -n "$ht" ] && [ -n "$interp" ]; then
		: >"$tmp/ht.t"
		for i in 1 2 3; do
			/usr/bin/time -f "%e %M" -a -o "$tmp/ht.t" heaptrack_print "$ht" >/dev/null 2>&1
		done
		(cd "$tmp" && heaptrack -r -o "$tmp/raw" "$(command -v sqlite3)" -batch -init /dev/null \
			:memory: <"$tmp/workload.sql" >/dev/null 2>&1)
		raw=$(find "$tmp" -maxdepth 1 -name 'raw*' | head -1)
		/usr/bin/time -f "%e %M" -o "$tmp/interp.t" sh -c "zstd -dc '$raw' | '$interp' >/dev/null 2>&1"
		echo "heaptrack: compressed trace $(wc -c <"$ht") bytes ($(awk -v b="$(wc -c <"$ht")" -v e="$events" 'BEGIN { printf "%.2f", b / e }') per event)"
		echo "heaptrack: heaptrack_print $(cut -d' ' -f1 "$tmp/ht.t" | median)s; heaptrack_interpret peak $(cut -d' ' -f2 "$tmp/interp.t") KiB"
		awk -v a="$rep_s" -v b="$(cut -d' ' -f1 "$tmp/ht.t" | median)" -v m="$rep_kb" -v h="$(cut -d' ' -f2 "$tmp/interp.t")" 'BEGIN {
			printf "analyzer speed: %.2fx heaptrack_print [at least 3: %s]; memory: %.2f of heaptrack_interpret [at most 0.33: %s]\n",
				b / a, (b / a >= 3) ? "ok" : "MISS", m / h, (m / h <= 0.34) ? "ok" : "MISS" }'
	fi

	# The preload's own memory: the target's peak RSS under each mode less the bare one.
	for m in bare sampled full; do
		: >"$tmp/rss.$m"
		for i in 1 2 3; do
			# shellcheck disable=SC2046
			$(mode_cmd "$m") /usr/bin/time -f "%M" -a -o "$tmp/rss.$m" "$(command -v sqlite3)" \
				-batch -init /dev/null :memory: <"$tmp/workload.sql" >/dev/null 2>&1
		done
	done
	awk -v b="$(median <"$tmp/rss.bare")" -v s="$(median <"$tmp/rss.sampled")" \
		-v f="$(median <"$tmp/rss.full")" -v p="$peak" 'BEGIN {
		lim = 8 * 1024 + p / 1024 / 100;
		printf "preload memory (peak RSS over bare, sqlite3, heap peak %.1f MiB): sampled %.1f MiB, --full %.1f MiB [<= %.1f MiB %s]\n",
			p / 1048576, (s - b) / 1024, (f - b) / 1024, lim / 1024, (s - b <= lim && f - b <= lim) ? "ok" : "MISS" }'
fi

# `record -a` on a busy host (two CPU burners): the loader's CPU time
# (getrusage) after start-up plus the probes' own run time
# (kernel.bpf_stats_enabled), per second of wall, as a share of one CPU.
if ! wanted record; then
	:
elif [ "$(id -u)" = 0 ] && "$P" record --check >/dev/null 2>&1; then
	stats=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
	sysctl -qw kernel.bpf_stats_enabled=1 2>/dev/null || true
	yes >/dev/null &
	b1=$!
	yes >/dev/null &
	b2=$!
	"$P" record -v -a -F 99 -d 10 -o "$tmp/rec.trace" 2>"$tmp/rec.err" || true
	kill "$b1" "$b2" 2>/dev/null || true
	sysctl -qw kernel.bpf_stats_enabled="$stats" 2>/dev/null || true
	sed -n 's/^prestanda: record: cost: //p' "$tmp/rec.err" | awk '{
		for (i = 1; i <= NF; i++) {
			if ($i == "start-up") su = $(i + 1)
			if ($i == "total") tot = $(i + 1)
			if ($i == "loader") ld = $(i + 1)
			if ($i == "probes") pr = $(i + 1)
		}
		sub(/%/, "", tot)
		printf "\nrecord -a -F 99 -d 10, 2 busy CPUs: %.2f%% of one CPU (loader %s, probes %s) [<= 1%% %s]; start-up %s s CPU\n",
			tot, ld, pr, tot <= 1 ? "ok" : "MISS", su }'
else
	echo
	echo "record -a: skipped (needs root and eBPF: prestanda record --check)"
fi

# --metrics-textfile at the default interval: sampled runs with and without
# the file, in the same rounds as bare ones; the file's cost is the ratio
# of the two.
wanted textfile || exit 0
mkdir -p "$tmp/prom"
MODES="bare sampled textfile" bench tf_micro /dev/null build/targets/bench_malloc "$MICRO"
MODES="bare sampled textfile" bench tf_sqlite3 "$tmp/workload.sql" "$(command -v sqlite3)" -batch -init /dev/null :memory:
echo >&2
for name in tf_micro tf_sqlite3; do
	for m in bare sampled textfile; do
		echo "$name $m $(grep "^$name $m " "$tmp/runs" | cut -d' ' -f3 | median)"
	done
done | awk '{ t[$1, $2] = $3 } END {
	printf "\nmetrics textfile (every 1 s), ratio to bare:";
	n = split("tf_micro tf_sqlite3", w, " ");
	for (i = 1; i <= n; i++) {
		s = t[w[i], "sampled"] / t[w[i], "bare"]; f = t[w[i], "textfile"] / t[w[i], "bare"];
		printf " %s sampled %.3fx, with the file %.3fx (%+.1f%%);", substr(w[i], 4), s, f, (f / s - 1) * 100;
	}
	printf "\n" }'

# prestanda attach on a running redis-server, beside heaptrack -p on the same
# server, in the same rounds (scripts/bench-attach.sh).
echo
RUNS=$RUNS REQS=$REQS scripts/bench-attach.sh
