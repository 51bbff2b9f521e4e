#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every Criterion suite given; print a summary and fail if any failed.
set -u
fail=0
for t in "$@"; do
	echo "== $t"
	if ! "$t" --jobs 1; then
		fail=$((fail + 1))
		echo "FAILED: $t"
	fi
done
echo "== $# suites, $fail failed"
[ "$fail" -eq 0 ]
