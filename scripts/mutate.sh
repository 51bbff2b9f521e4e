#!/bin/sh
# SPDX-License-Identifier: MIT
# Mutation testing: plant each mutant of scripts/mutants.txt, run its suite, restore; print "killed K of N".
# Usage: scripts/mutate.sh [MUTANTS_FILE] (make mutate). Builds in build-mut; takes a long while.
set -u
cd "$(dirname "$0")/.."
list=${1:-scripts/mutants.txt}
b=${MUT_B:-build-mut}
make -s B="$b" -j2 test-bins >/dev/null || { echo "mutate: the unmutated build fails" >&2; exit 1; }
exec python3 - "$list" "$b" <<'PY'
import signal, subprocess, sys

# Stopped midway: the file in hand is restored all the same (finally below).
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *a: sys.exit(1))

# A line: SUITE[:FILTER] <tab> FILE <tab> FROM <tab> TO, where FROM must
# occur exactly once in FILE (else the mutant is "not applied", not
# counted); \n and \t in FROM and TO stand for a newline and a tab.
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

killed = total = 0
survivors, skipped = [], []
for n, line in enumerate(open(listf), 1):
    if not line.strip() or line.startswith("#"):
        continue
    suite, path, old, new = line.rstrip("\n").split("\t")
    suite, _, flt = suite.partition(":")
    old, new = unesc(old), unesc(new)
    src = open(path).read()
    where = "%s:%d %s" % (listf, n, path)
    if src.count(old) != 1:
        skipped.append("%s: not applied (%d matches of %r)" % (where, src.count(old), old))
        continue
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
for s in skipped:
    print(s)
print("survivors:" if survivors else "no survivors")
for s in survivors:
    print("  " + s)
print("killed %d of %d" % (killed, total))
PY
