#!/usr/bin/env bash
# Installs what strand needs to build and test, from Debian's packages. Idempotent and quiet
# when nothing is missing.
set -euo pipefail

packages=(
	clang llvm make gcc pkg-config
	libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev
	libmicrohttpd-dev libcapstone-dev libjansson-dev
	libyaml-dev libcrypt-dev libgnutls28-dev # the daemon's web config: YAML, bcrypt, TLS
	python3 golang-1.19-go
	prometheus # a real-world Go service for the goroutine tests, and the daemon's scraper
	# the SVG flame graph's check: a screenshot in headless Chromium, with the fonts its
	# style names (Chromium brings none of its own)
	chromium fonts-dejavu-core
	bpftrace # make bench: the same job done by the tool users would write it in
	# real servers whose idle threads must not be called stranded (tests/servers), and the
	# JDK for the Java service written in tests/
	redis-server redis-tools memcached nginx postgresql openjdk-17-jdk-headless
	# CPython 3.11's internal headers: the unit test checks the offsets strand reads
	# Python's frames by against them (tests/unit/sym/python_layout.c)
	libpython3.11-dev
)

# npm, for the test fixtures of newer Go releases (esbuild's stripped binaries); the
# machine's own Node.js may bring it
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "strand: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "strand: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# packages with a service (prometheus) must not start it: the tests start their own, on
# loopback, and a build machine runs no daemons of ours
guard=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	guard=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$guard"
	chmod 755 "$guard"
fi
trap '[ -n "$guard" ] && rm -f "$guard"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
