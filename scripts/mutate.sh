#!/bin/sh
# SPDX-License-Identifier: MIT
# Mutation testing: plant each mutant of scripts/mutants.txt, run its suite, restore; print "killed K of N".
# Usage: scripts/mutate.sh [--check] [MUTANTS_FILE] (make mutate). Builds in build-mut; takes a long while.
# --check only says which mutants no longer apply (seconds; exit 1 if any).
set -u
cd "$(dirname "$0")/.."
check=
[ "${1:-}" = --check ] && { check=1; shift; }
list=${1:-scripts/mutants.txt}
b=${MUT_B:-build-mut}
[ -n "$check" ] || make -s B="$b" -j2 test-bins >/dev/null ||
	{ echo "mutate: the unmutated build fails" >&2; exit 1; }
exec python3 - "$list" "$b" "$check" <<'PY'
import signal, subprocess, sys

# Stopped midway: the file in hand is restored all the same (finally below).
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *a: sys.exit(1))

# A line: SUITE[:FILTER] <tab> FILE <tab> FROM <tab> TO, where FROM must
# occur exactly once in FILE; \n and \t in FROM and TO stand for a newline
# and a tab. A mutant whose FROM is not found once (its code moved or
# changed) is "NOT APPLIED": said before anything runs, counted with the
# survivors, and the run exits 1, so that the list is kept up to date
# rather than shrinking quietly.
listf, b = sys.argv[1], sys.argv[2]

def unesc(s):
    return s.replace("\\n", "\n").replace("\\t", "\t")

def run(cmd, timeout=900):
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return -1

def judge(suite, flt):
    """'killed by build', 'killed', or 'survived' for the mutant in place."""
    if run(["make", "-s", "B=" + b, "-j2", "all", b + "/tests/" + suite]) != 0:
        return "killed (does not build)"
    cmd = [b + "/tests/" + suite, "-j2"] + (["--filter", flt] if flt else [])
    return "survived" if run(cmd) == 0 else "killed"

def mutants():
    """(where, suite, filter, path, old, new, matches) for each line."""
    for n, line in enumerate(open(listf), 1):
        if not line.strip() or line.startswith("#"):
            continue
        suite, path, old, new = line.rstrip("\n").split("\t")
        suite, _, flt = suite.partition(":")
        old, new = unesc(old), unesc(new)
        try:
            found = open(path).read().count(old)
        except OSError:
            found = -1
        yield "%s:%d %s" % (listf, n, path), suite, flt, path, old, new, found

todo = list(mutants())
skipped = ["%s: NOT APPLIED (%s of %r)" % (m[0], "no such file" if m[6] < 0 else
                                          "%d matches" % m[6], m[4])
           for m in todo if m[6] != 1]
for s in skipped:
    print(s, flush=True)
if sys.argv[3]:
    print("%d mutants, %d NOT APPLIED" % (len(todo), len(skipped)))
    sys.exit(1 if skipped else 0)
killed = total = 0
survivors = []
for where, suite, flt, path, old, new, found in todo:
    if found != 1:
        continue
    src = open(path).read()
    total += 1
    try:
        open(path, "w").write(src.replace(old, new))
        verdict = judge(suite, flt)
    finally:
        open(path, "w").write(src)
    killed += verdict.startswith("killed")
    if verdict == "survived":
        survivors.append("%s: %r -> %r (%s)" % (where, old, new, suite))
    print("%-24s %s: %r -> %r" % (verdict, where, old, new), flush=True)
run(["make", "-s", "B=" + b, "-j2", "test-bins"])
print("survivors:" if survivors else "no survivors")
for s in survivors:
    print("  " + s)
for s in skipped:
    print("  " + s)
print("killed %d of %d" % (killed, total + len(skipped)), end="")
print(" (%d NOT APPLIED: update %s)" % (len(skipped), listf) if skipped else "")
sys.exit(1 if skipped else 0)
PY
