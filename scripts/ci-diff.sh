#!/bin/sh
# SPDX-License-Identifier: MIT
# CI helper: run the same workload under two builds with `prestanda run --full`, diff them, write Markdown; exit as diff does.
set -eu

usage() {
	cat >&2 <<'USAGE'
usage: scripts/ci-diff.sh [-b BUDGET] [-i INPUT] [-o DIR] [-p PRESTANDA] [-P UNIT=N] BASE_PROGRAM NEW_PROGRAM [ARGS...]

  -b BUDGET     budget file for `prestanda diff --budget`
  -i INPUT      file fed to both programs on stdin (default: nothing)
  -o DIR        where traces, reports and diff.md go (default: prestanda-diff)
  -p PRESTANDA  the prestanda command (default: prestanda, else build/prestanda)
  -P UNIT=N     passed to `prestanda diff --per`

Runs BASE_PROGRAM ARGS and NEW_PROGRAM ARGS under `prestanda run --full`,
writes DIR/base.json, DIR/new.json (reports), DIR/diff.md (for a pull
request comment) and DIR/diff.json, prints the text diff, and exits 0 (within
noise and budget), 1 (a regression) or 2 (an error).
USAGE
	exit 2
}

budget="" input="/dev/null" out="prestanda-diff" pst="" per=""
while getopts b:i:o:p:P:h opt; do
	case $opt in
	b) budget=$OPTARG ;;
	i) input=$OPTARG ;;
	o) out=$OPTARG ;;
	p) pst=$OPTARG ;;
	P) per=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
base=$1 new=$2
shift 2

if [ -z "$pst" ]; then
	if command -v prestanda >/dev/null 2>&1; then
		pst=prestanda
	else
		pst=build/prestanda
	fi
fi
mkdir -p "$out"

# One run: the trace goes to DIR/NAME.trace (no %p: one process, one file).
record() {
	name=$1 prog=$2
	shift 2
	rm -f "$out/$name.trace"
	if ! "$pst" run --full --no-follow -o "$out/$name.trace" -- "$prog" "$@" <"$input" >"$out/$name.stdout"; then
		echo "ci-diff: $name: $prog exited with an error; see $out/$name.stdout" >&2
		exit 2
	fi
	"$pst" report --json "$out/$name.trace" >"$out/$name.json" || exit 2
}

record base "$base" "$@"
record new "$new" "$@"

set -- "$out/base.json" "$out/new.json"
[ -n "$per" ] && set -- --per "$per" "$@"
[ -n "$budget" ] && set -- --budget "$budget" "$@"
status=0
"$pst" diff --format markdown "$@" >"$out/diff.md" || status=$?
[ "$status" -le 1 ] || exit "$status"
"$pst" diff --format json "$@" >"$out/diff.json" || true
"$pst" diff "$@" || true
echo "ci-diff: Markdown for the pull request in $out/diff.md" >&2
exit "$status"
