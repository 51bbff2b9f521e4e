#!/bin/sh
# SPDX-License-Identifier: MIT
# Demo: profile the bundled key-value store workload, then sqlite3 on a generated SQL workload, and print the reports.
set -eu

cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
P=build/prestanda
. scripts/common.sh

pst_need_build demo
make -s build/targets/demo_kvstore
pst_tmpdir demo

echo "== $P run --full -- build/targets/demo_kvstore 200000"
"$P" run --full -o "$tmp/kv.%p.trace" -- build/targets/demo_kvstore 200000
echo
echo "== $P report --top 5 TRACE"
"$P" report --top 5 "$tmp"/kv.*.trace

if command -v sqlite3 >/dev/null; then
	scripts/workload-sqlite.sh "$ROWS" >"$tmp/workload.sql"
	echo
	echo "== $P run -- sqlite3 :memory: < workload.sql   ($ROWS rows, sampled: the default)"
	"$P" run -o "$tmp/sqlite.%p.trace" -- "$(command -v sqlite3)" -batch -init /dev/null \
		:memory: <"$tmp/workload.sql" >/dev/null
	echo
	echo "== $P report --top 3 TRACE   (Debian's sqlite3 is stripped: its static functions show as module+offset)"
	"$P" report --top 3 "$tmp"/sqlite.*.trace
fi
