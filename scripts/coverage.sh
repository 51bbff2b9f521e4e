#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the suites of a --coverage build and print gcovr's line and branch coverage per source folder.
# Usage: scripts/coverage.sh BUILD_DIR SUITE... (make coverage passes build-cov and every suite).
set -u
b=$1
shift
if ! command -v gcovr >/dev/null 2>&1; then
	echo "coverage: gcovr is missing; run scripts/install-deps.sh" >&2
	exit 1
fi
# Counts from an earlier run would add up with this one's.
find "$b" -name '*.gcda' -delete
# Failing suites still count their coverage. Some fail only in this build,
# by design of the counters: the preload then exports libgcov's symbols
# (exports), and allocates and writes .gcda files at exit (exact allocation
# counts of fork and exec, record's one-line error as nobody); make test is
# the judge of the suites, this run only of what they reach.
scripts/run-tests.sh "$@" >"$b/coverage-tests.log" 2>&1
tail -n 1 "$b/coverage-tests.log"
# The preload writes its .gcda at each preloaded program's exit, so those
# files must exist now: a preload built without its counters would say 0%.
ls "$b"/preload/*.gcda >/dev/null 2>&1 || echo "coverage: no .gcda for the preload" >&2
summary=$b/coverage.json
gcovr -r . --object-directory "$b" --filter 'analyzer/' --filter 'preload/' --filter 'common/' \
	--filter 'bpf/' --exclude "$b/" --gcov-ignore-parse-errors --json-summary "$summary" \
	--json-summary-pretty --html-details "$b/coverage.html" --print-summary \
	>"$b/gcovr.log" 2>&1 || { cat "$b/gcovr.log"; exit 1; }
# Folders (analyzer/read, preload, ...), then the parts: analyzer and preload
# lines are the figures the project aims to keep at 85% or more.
python3 - "$summary" <<'PY'
import json, os, sys
rows = {}
for f in json.load(open(sys.argv[1]))["files"]:
    d = os.path.dirname(f["filename"])
    for key in (d, d.split("/")[0] + " (all)"):
        r = rows.setdefault(key, [0, 0, 0, 0])
        r[0] += f["line_covered"]; r[1] += f["line_total"]
        r[2] += f["branch_covered"]; r[3] += f["branch_total"]
pct = lambda a, b: "%5.1f%%" % (100.0 * a / b) if b else "    -"
print("%-22s %8s %14s %8s %14s" % ("folder", "lines", "", "branches", ""))
for k in sorted(rows, key=lambda k: (k.endswith("(all)"), k)):
    r = rows[k]
    print("%-22s %8s %6d/%-7d %8s %6d/%-7d" % (k, pct(r[0], r[1]), r[0], r[1], pct(r[2], r[3]), r[2], r[3]))
PY
echo "coverage: details in $b/coverage.html, the suites' output in $b/coverage-tests.log"
