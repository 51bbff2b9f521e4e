# SPDX-License-Identifier: MIT
# Sourced by the scripts, from the top of the tree: the check that prestanda is built, and a temporary directory.

# Exit 1, naming the script ($1), unless build/prestanda and the preload are built.
pst_need_build() {
	[ -x build/prestanda ] && [ -f build/libprestanda.so ] || {
		echo "$1: build first (make all)" >&2
		exit 1
	}
}

# A new directory /tmp/pst-$1.XXXXXX in $tmp, removed when the script ends.
pst_tmpdir() {
	tmp=$(mktemp -d "/tmp/pst-$1.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT INT TERM
}
