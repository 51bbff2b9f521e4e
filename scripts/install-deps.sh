#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages prestanda builds and tests with; does nothing when all are present.
set -eu

PKGS="gcc g++ make pkg-config libunwind-dev libdw-dev libelf-dev libcriterion-dev
libjansson-dev sqlite3 heaptrack libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libzstd-dev
libxml2-utils chromium postgresql postgresql-contrib redis-server redis-tools strace
clang libclang-rt-14-dev llvm libbpf-dev bpftool linux-perf libjemalloc2 libtcmalloc-minimal4 libpython3.11-testsuite
nginx apache2-utils memcached golang-go openjdk-17-jdk-headless libseccomp-dev iputils-ping libcap2-bin
libyaml-dev prometheus prometheus-node-exporter gcovr gdb libcurl4-openssl-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# Node and npm run the export tests' readers; any install of them will do.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
