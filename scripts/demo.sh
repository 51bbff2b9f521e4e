#!/bin/sh
# SPDX-License-Identifier: MIT
# Demo: profile a sqlite3 workload with prestanda (sampled, then --full) and print the reports.
set -eu

cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
P=build/prestanda

[ -x "$P" ] && [ -f build/libprestanda.so ] || {
	echo "demo: build first (make all)" >&2
	exit 1
}
command -v sqlite3 >/dev/null || {
	echo "demo: sqlite3 is not installed (scripts/install-deps.sh)" >&2
	exit 1
}
tmp=$(mktemp -d /tmp/pst-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

scripts/workload-sqlite.sh "$ROWS" >"$tmp/workload.sql"
sqlite=$(command -v sqlite3)

echo "== $P run -- sqlite3 :memory: < workload.sql   ($ROWS rows, sampled mode)"
"$P" run -o "$tmp/sampled.%p.trace" -- "$sqlite" -batch -init /dev/null :memory: \
	<"$tmp/workload.sql" >/dev/null
echo
echo "== $P report --top 10 TRACE"
"$P" report --top 10 "$tmp"/sampled.*.trace

echo
echo "== $P run --full -- sqlite3 :memory: < workload.sql   (every event)"
"$P" run --full -o "$tmp/full.%p.trace" -- "$sqlite" -batch -init /dev/null :memory: \
	<"$tmp/workload.sql" >/dev/null
echo
echo "== $P report --top 5 TRACE"
"$P" report --top 5 "$tmp"/full.*.trace
echo
ls -l "$tmp"/*.trace | awk '{ print "trace:", $5, "bytes", $NF }'
