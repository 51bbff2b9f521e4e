#!/bin/sh
# SPDX-License-Identifier: MIT
# Fuzz the trace reader and the JSON report reader with libFuzzer (clang, ASan, UBSan) for a bounded time.
# Usage: scripts/fuzz-reader.sh [SECONDS_EACH [READER...]]   (default 60, trace json; not part of make test)
# FUZZ_RUNS=N stops each reader after N executions instead (SECONDS_EACH 0: no time limit).
set -eu
SECS=${1:-60}
[ $# -gt 0 ] && shift
READERS=${*:-trace json}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/fuzz
CC=${FUZZ_CC:-clang}
# Known undefined behaviour listed in scripts/ubsan.supp is reported there and
# skipped; any other still stops the run.
COMMON="-g -O1 -fno-sanitize-recover=undefined -fsanitize-recover=nonnull-attribute -D_GNU_SOURCE -I$ROOT/common $(for d in read symbolize families findings output diff attach cli; do printf " -I$ROOT/analyzer/$d"; done) -I$ROOT/build/proto"
FLAGS="$COMMON -fsanitize=fuzzer,address,undefined"
OBJ_FLAGS="$COMMON -fsanitize=fuzzer-no-link,address,undefined"
LIBS="-ldw -lelf -ljansson -lstdc++ -lm -lprotobuf-c -lz -lyaml -lzstd -ldl -lpthread"
command -v "$CC" >/dev/null || { echo "fuzz-reader: $CC not found" >&2; exit 2; }
cd "$ROOT"
make -s all build/targets/alloc_known build/targets/fork_child build/targets/net_load
mkdir -p "$OUT/obj"
# The analyzer without its main (nor record_cmd.c, which calls into bpf/), instrumented.
SRCS="$(ls analyzer/*/*.c common/*.c | grep -v -e analyzer/cli/main.c -e analyzer/cli/record_cmd.c) build/proto/profile.pb-c.c"
for s in $SRCS; do
	o=$OUT/obj/$(basename "$s" .c).o
	[ "$o" -nt "$s" ] || $CC $OBJ_FLAGS -c "$s" -o "$o"
done
$CC $FLAGS -o "$OUT/fuzz_trace" tests/fuzz/fuzz_reader.c "$OUT"/obj/*.o $LIBS
$CC $FLAGS -DFUZZ_JSON -o "$OUT/fuzz_json" tests/fuzz/fuzz_reader.c "$OUT"/obj/*.o $LIBS

# Seeds: real traces and their JSON reports.
mkdir -p "$OUT/seed_trace" "$OUT/seed_json" "$OUT/crashes"
for t in alloc_known fork_child net_load; do
	build/prestanda run --full -o "$OUT/seed_trace/$t.%p.trace" -- build/targets/$t >/dev/null 2>&1 || true
done
for f in "$OUT"/seed_trace/*.trace*; do
	build/prestanda report --json "$f" > "$OUT/seed_json/$(basename "$f").json" 2>/dev/null || true
done
rc=0
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/scripts/ubsan.supp"
for k in $READERS; do
	mkdir -p "$OUT/corpus_$k"
	echo "== fuzz_$k for $SECS s${FUZZ_RUNS:+, at most $FUZZ_RUNS executions}"
	"$OUT/fuzz_$k" -max_total_time="$SECS" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -max_len=65536 -artifact_prefix="$OUT/crashes/$k-" \
		-print_final_stats=1 "$OUT/corpus_$k" "$OUT/seed_$k" 2>"$OUT/fuzz_$k.log" || rc=1
	grep -E "stat::number_of_executed_units|ERROR|SUMMARY" "$OUT/fuzz_$k.log" || true
done
[ "$rc" -eq 0 ] && echo "fuzz-reader: no crashes" || echo "fuzz-reader: crashes in $OUT/crashes" >&2
exit $rc
