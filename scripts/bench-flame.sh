#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark `prestanda flame`: a --full sqlite3 trace of over a million allocation events, and a synthetic 1 M-sample CPU trace; time and output size.
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

# CPU: a synthetic `prestanda record` trace of 1 M samples over 40,000
# distinct stacks of 6,000 distinct (kernel-symbol) frames, 8 to 47 deep.
cc -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/bpf" -o "$dir/gen" \
	"$root/scripts/bench-flame-gen.c" "$root/bpf/trace_write.c"
"$dir/gen" "$dir/cpu.trace" 1000000
echo "cpu trace: $(stat -c %s "$dir/cpu.trace") bytes, 1000000 samples"
for f in svg folded pprof; do
	/usr/bin/time -f "%e s wall, %U s user, %M KiB max RSS" -o "$dir/time" \
		"$P" flame --format "$f" -o "$dir/cpu.$f" "$dir/cpu.trace"
	echo "flame --metric cpu --format $f: $(cat "$dir/time"), output $(stat -c %s "$dir/cpu.$f") bytes"
done
