#!/bin/sh
# SPDX-License-Identifier: MIT
# Check prestanda --full against heaptrack on the sqlite3 workload: alloc calls within 0.1%, peak heap within 2%.
set -eu

cd "$(dirname "$0")/.."
ROWS=${ROWS:-300000}
P=build/prestanda
. scripts/common.sh

pst_need_build compare-heaptrack
for c in heaptrack heaptrack_print sqlite3; do
	command -v "$c" >/dev/null || {
		echo "compare-heaptrack: $c is not installed (scripts/install-deps.sh)" >&2
		exit 1
	}
done
pst_tmpdir compare

scripts/workload-sqlite.sh "$ROWS" >"$tmp/workload.sql"
set -- "$(command -v sqlite3)" -batch -init /dev/null :memory:

heaptrack -o "$tmp/ht" "$@" <"$tmp/workload.sql" >/dev/null 2>"$tmp/ht.log" || {
	cat "$tmp/ht.log" >&2
	exit 1
}
heaptrack_print -f "$tmp/ht.zst" --print-peaks 0 --print-allocators 0 --print-temporary 0 \
	--print-leaks 0 >"$tmp/ht.txt" 2>/dev/null

"$P" run --full -o "$tmp/p.%p.trace" -- "$@" <"$tmp/workload.sql" >/dev/null 2>"$tmp/p.log" || {
	cat "$tmp/p.log" >&2
	exit 1
}
"$P" report --json "$tmp"/p.*.trace >"$tmp/p.json"

# heaptrack_print: "calls to allocation functions: N (R/s)", "peak heap memory consumption: 47.56M" (powers of 1000).
ht_calls=$(sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p' "$tmp/ht.txt")
ht_peak=$(sed -n 's/^peak heap memory consumption: \([0-9.]*[KMGT]*\)B*$/\1/p' "$tmp/ht.txt" |
	awk '{ v = $1 + 0; u = substr($1, length($1)); m = u == "K" ? 1e3 : u == "M" ? 1e6 : u == "G" ? 1e9 : u == "T" ? 1e12 : 1; printf "%.0f", v * m }')

# prestanda's JSON: memory.alloc_calls and memory.peak_heap_bytes (jq when present).
json_num() {
	if command -v jq >/dev/null; then
		jq -r ".memory.$1" "$tmp/p.json"
	else
		tr -d ' \n' <"$tmp/p.json" | sed 's/.*"memory":{//' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2
	fi
}
p_calls=$(json_num alloc_calls)
p_peak=$(json_num peak_heap_bytes)

for v in "$ht_calls" "$ht_peak" "$p_calls" "$p_peak"; do
	case $v in
	'' | *[!0-9]*)
		echo "compare-heaptrack: could not read a figure (heaptrack: '$ht_calls' '$ht_peak', prestanda: '$p_calls' '$p_peak')" >&2
		exit 1
		;;
	esac
done

echo "sqlite3 workload, $ROWS rows; heaptrack $(heaptrack --version 2>/dev/null | sed 's/[^0-9.]//g')"
awk -v hc="$ht_calls" -v pc="$p_calls" -v hp="$ht_peak" -v pp="$p_peak" 'BEGIN {
	dc = (pc - hc) / hc * 100; dp = (pp - hp) / hp * 100;
	okc = (dc < 0 ? -dc : dc) <= 0.1; okp = (dp < 0 ? -dp : dp) <= 2;
	printf "%-24s %14s %14s %10s %8s  %s\n", "", "heaptrack", "prestanda", "diff", "target", "";
	printf "%-24s %14d %14d %9.4f%% %8s  %s\n", "alloc calls", hc, pc, dc, "0.1%", okc ? "ok" : "FAIL";
	printf "%-24s %14d %14d %9.4f%% %8s  %s\n", "peak heap bytes", hp, pp, dp, "2%", okp ? "ok" : "FAIL";
	printf "(heaptrack prints the peak rounded to 4 digits; its own preload adds 1 call, 72704 bytes of libstdc++ pool)\n";
	exit !(okc && okp);
}'
