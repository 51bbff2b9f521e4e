#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the npm packages the export tests read outputs with (tests/js), pinned by its package-lock.json.
set -eu
cd "$(dirname "$0")/../tests/js"
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "js-deps: npm is missing; run scripts/install-deps.sh" >&2
	exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
