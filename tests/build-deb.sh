#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `make deb`: builds the Debian packages from make dist's tarball, in a directory of their own,
# then checks them with lintian --pedantic (an error or a warning fails). As root, installs what
# debian/control asks for building (apt-get build-dep) and lintian first.
#
#   tests/build-deb.sh TARBALL OUTDIR    packages, build log and lintian's output in OUTDIR
set -eu

dist=$1
out=$2
say() { echo "make deb: $*"; }
die() {
	echo "make deb: FAIL: $*" >&2
	exit 1
}

name=$(basename "$dist" .tar.gz)
rm -rf "$out"
mkdir -p "$out"
tar -xzf "$dist" -C "$out"
src=$out/$name
[ -f "$src/debian/control" ] || die "$dist has no debian/control"
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" = 0 ]; then
	# apt-get build-dep takes a source tree only by a path it can tell is one.
	tree=$(cd "$src" && pwd)
	need=""
	for p in dpkg-dev debhelper lintian; do
		# (dpkg -s also accepts a package removed but not purged.)
		dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
			need="$need $p"
	done
	if [ -n "$need" ] || ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
		say "installing the build dependencies of debian/control and lintian"
		# shellcheck disable=SC2086 # words
		{ apt-get install -y -qq --no-install-recommends $need &&
			apt-get build-dep -y -qq "$tree"; } >"$out/build-deps.log" 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $need &&
				apt-get build-dep -y -qq "$tree"; } >>"$out/build-deps.log" 2>&1 ||
			die "cannot install the build dependencies (log: $out/build-deps.log)"
	fi
fi
command -v dpkg-buildpackage >/dev/null ||
	die "dpkg-buildpackage not found: install dpkg-dev and debhelper (or run as root)"

say "dpkg-buildpackage -us -uc -b in $src (the build and the unit tests, under a minute here)"
start=$(date +%s)
# The build as a packager's: nothing of the make that called this (its -Werror, its command-line
# variables in MAKEFLAGS) reaches debian/rules.
if ! (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u WERROR \
	dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 25 "$out/build.log" | sed 's/^/  | /'
	die "dpkg-buildpackage failed (its log: $out/build.log)"
fi
say "built in $(($(date +%s) - start))s: $(cd "$out" && ls -- *.deb | tr '\n' ' ')"

if command -v lintian >/dev/null; then
	changes=$(ls "$out"/*.changes)
	status=0
	# (As root it says it should not be; what it checks is the same.)
	lintian --pedantic --fail-on error,warning "$changes" >"$out/lintian.raw" 2>&1 || status=$?
	grep -v 'running with root privileges' "$out/lintian.raw" >"$out/lintian.log" || true
	if [ -s "$out/lintian.log" ]; then
		sed 's/^/  lintian: /' "$out/lintian.log"
	fi
	[ $status = 0 ] || die "lintian --pedantic found errors or warnings (above; $out/lintian.log)"
	say "lintian --pedantic $(lintian --version | sed 's/^Lintian v//'):" \
		"$(grep -c . "$out/lintian.log") tags, no error or warning"
else
	say "lintian not installed: the packages were not checked (install lintian, or run as root)"
fi
