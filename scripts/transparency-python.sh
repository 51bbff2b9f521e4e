#!/bin/sh
# SPDX-License-Identifier: MIT
# Debian's python3.11 regression tests, bare and under prestanda run: the same tests must pass.
# Usage: scripts/transparency-python.sh [TEST...]   (needs libpython3.11-testsuite)
set -u
PY=/usr/bin/python3.11
TESTS=${*:-test_threading test_thread test_mmap test_select test_fork1 test_subprocess}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRESTANDA=$ROOT/build/prestanda
[ -x "$PY" ] || { echo "transparency-python: $PY not found" >&2; exit 2; }
"$PY" -c 'import test.test_threading' 2>/dev/null ||
	{ echo "transparency-python: libpython3.11-testsuite not installed (scripts/install-deps.sh)" >&2; exit 2; }
[ -x "$PRESTANDA" ] || { echo "transparency-python: build first (make)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/pst-python.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# The lines that say what ran and what passed, without timings.
summary() {
	grep -E '^(Result:|Total tests:|Total test files:)|tests? (OK|failed|skipped)' "$1" |
		sed -e 's/ in [0-9.]* *[a-z]*$//' -e 's/([0-9.]* *[a-z]*)//'
}

run() { # name, command...
	name=$1
	shift
	start=$(date +%s)
	(cd "$TMP" && "$@" -m test $TESTS) > "$TMP/$name.log" 2>&1
	rc=$?
	echo "$name: exit $rc in $(( $(date +%s) - start )) s"
	return 0
}

run bare "$PY"
rc_bare=$rc
mkdir -p "$TMP/traces"
run preloaded "$PRESTANDA" run -o "$TMP/traces/%e.%p.trace" -- "$PY"
rc_pre=$rc
echo "traces written: $(ls "$TMP/traces" | wc -l)"
summary "$TMP/bare.log" > "$TMP/bare.sum"
summary "$TMP/preloaded.log" > "$TMP/preloaded.sum"
cat "$TMP/preloaded.sum"
if [ "$rc_bare" -ne "$rc_pre" ] || ! cmp -s "$TMP/bare.sum" "$TMP/preloaded.sum"; then
	echo "transparency-python: results differ" >&2
	diff "$TMP/bare.sum" "$TMP/preloaded.sum" >&2
	grep -v "^prestanda: " "$TMP/preloaded.log" | grep -E "FAIL|ERROR|failed|Error" | head -40 >&2
	exit 1
fi
echo "transparency-python: identical results bare and preloaded"
