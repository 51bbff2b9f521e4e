#!/bin/sh
# SPDX-License-Identifier: MIT
# Compare `prestanda record` or `prestanda run --cpu` with `perf record --call-graph dwarf` on one workload: top 10 functions by self, median stack depth.
# usage: scripts/compare-perf.sh [split|sqlite] [HZ] [record|run]   (as root, after make)
set -eu

what=${1:-split}
hz=${2:-99}
path=${3:-record}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $what in
split)
	set -- build/targets/cpu_split 5
	;;
sqlite)
	scripts/workload-sqlite.sh 300000 >"$tmp/work.sql"
	printf '#!/bin/sh\nexec sqlite3 :memory: <"%s" >/dev/null\n' "$tmp/work.sql" >"$tmp/run.sh"
	chmod +x "$tmp/run.sh"
	set -- "$tmp/run.sh"
	;;
*)
	echo "usage: $0 [split|sqlite] [HZ] [record|run]" >&2
	exit 2
	;;
esac

perf record -q -F "$hz" -e cpu-clock --call-graph dwarf -o "$tmp/perf.data" -- "$@" >/dev/null 2>&1
perf report -i "$tmp/perf.data" --no-children --sort symbol --stdio -q -g none 2>/dev/null |
	awk '$1 ~ /%$/ { sub(/%/, "", $1); name = $3; for (i = 4; i <= NF && $i != "-"; i++) name = name " " $i; print $1 "\t" name }' >"$tmp/perf.self"
# frames per sample: perf script prints one indented line per frame, a blank line between samples
perf script -i "$tmp/perf.data" -F ip,sym 2>/dev/null |
	awk 'NF == 0 { if (n) print n; n = 0; next } { n++ } END { if (n) print n }' |
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' >"$tmp/perf.depth"

if [ "$path" = run ]; then
	# the wrapper script execs sqlite3: its image writes the trace named .1
	build/prestanda run --cpu="$hz" -o "$tmp/p.%p.trace" -- "$@" >/dev/null 2>&1
	trace=$(ls -S "$tmp"/p.*.trace* | head -1)
else
	build/prestanda record -F "$hz" -o "$tmp/p.trace" -- "$@" >/dev/null 2>&1
	trace=$tmp/p.trace
fi
build/prestanda report --json "$trace" >"$tmp/p.json"

python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
perf = {}
for line in open(tmp + "/perf.self"):
    pct, name = line.rstrip("\n").split("\t", 1)
    perf[name.strip()] = perf.get(name.strip(), 0) + float(pct)
cpu = json.load(open(tmp + "/p.json"))["cpu"]
ours = {f["function"]: f["self_pct"] for f in cpu["functions"]}
top = sorted(perf, key=lambda n: -perf[n])[:10]
worst = 0
print("%-40s %8s %10s %6s" % ("function (perf's top 10 by self)", "perf", "prestanda", "diff"))
for n in top:
    d = ours.get(n, 0) - perf[n]
    worst = max(worst, abs(d))
    print("%-40s %7.2f%% %9.2f%% %+6.2f" % (n[:40], perf[n], ours.get(n, 0), d))
print("largest difference: %.2f points" % worst)
print("median stack depth: perf %s, prestanda %d" % (open(tmp + "/perf.depth").read().strip(), cpu["median_stack_depth"]))
print("samples: prestanda %d (%d truncated)" % (cpu["samples"], cpu["truncated_stacks"]))
PY
