#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark `prestanda flame` on a --full sqlite3 trace of over a million allocation events: time and SVG size.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
P="$root/build/prestanda"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$root/scripts/workload-sqlite.sh" 100000 >"$dir/w.sql"
"$P" run --full -o "$dir/sq.%p.trace" -- sqlite3 :memory: <"$dir/w.sql" >/dev/null 2>&1
t=$(ls "$dir"/sq.*.trace)
echo "trace: $(stat -c %s "$t") bytes, $("$P" report --json "$t" | grep -o '"alloc_calls": *[0-9]*' | head -1)"
for m in alloc-bytes peak-bytes; do
	s=$(date +%s.%N)
	"$P" flame --metric "$m" -o "$dir/f.svg" "$t"
	e=$(date +%s.%N)
	echo "flame --metric $m: $(awk "BEGIN { printf \"%.2f\", $e - $s }") s, SVG $(stat -c %s "$dir/f.svg") bytes"
done
