#!/bin/sh
# `make check-system`: svmd's Debian packages under a real systemd. Builds the packages (make
# deb), debootstraps a Debian 12 root once (cached in $BUILD/system-cache/base), lays a fresh
# $BUILD/system-root over it per run (overlayfs, or a copy), puts the packages, two users alice
# and bob and the test's settings (Backend=sim, a policy for alice and bob) into it, boots it
# with systemd-nspawn and lets tests/system/checks.sh install the packages with apt-get and check
# socket and D-Bus activation, the sandbox, policy, the journal's audit records, reload,
# restarts, stop, the exposure score, a program built with pkg-config, then removal, purge and
# reinstallation inside.
# Prints a PASS/FAIL line per check; exits non-zero when a check failed or did not run. Needs
# root; installs debootstrap and systemd-container when they are missing.
set -eu
umask 022

BUILD=${BUILD:-build}
CACHE=$BUILD/system-cache
SUITE=bookworm
# What the root needs beyond minbase: systemd as init, the system bus (dbus-broker, as Debian
# 12 runs it), the libraries svmd and svmctl link, and what building a program against
# libsvmclient-dev takes (the container has no network: apt finds every dependency there).
INCLUDE=systemd,systemd-sysv,dbus,dbus-broker,procps,libevent-2.1-7,libseccomp2,libsystemd0
INCLUDE=$INCLUDE,gcc,libc6-dev,pkg-config,libsystemd-dev
TIMEOUT=${SVMD_SYSTEM_TIMEOUT:-300}
here=$(dirname "$0")
start=$(date +%s)

# Every check checks.sh runs, in order: one that does not report counts as failed.
EXPECTED="package-install sysusers socket-listening socket-activation config-file notify seccomp unprivileged
bind-allowed bind-denied journal-grant journal-deny journal-release catalog introspect
dbus-activation reload-refused reload restart-keeps crash-keeps restart-no-error state-corrupt
state-future state-v1 crash-in-flight stop-releases ids-continue security-score
no-seccomp-refusals udev-rule pkgconfig-client package-upgrade package-remove
package-purge package-reinstall"

say() { echo "check-system: $*"; }
die() {
	echo "check-system: FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and systemd-nspawn)"
# The Debian archive this machine's apt sources use (SVMD_DEBIAN_MIRROR overrides it).
. "$here/../debian-archive.sh"
MIRROR=$(debian_archive_uri) || die "cannot tell which Debian archive to debootstrap from"
export DEBIAN_FRONTEND=noninteractive

# 1. Packages.
need=""
for p in debootstrap systemd-container; do
	# (dpkg -s also accepts a package removed but not purged.)
	dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		need="$need $p"
done
if [ -n "$need" ]; then
	say "installing$need"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends \
			$need >/dev/null; } || die "cannot install$need"
fi
command -v systemd-nspawn >/dev/null || die "systemd-nspawn not found"

# 2. The Debian root, debootstrapped once. The stamp names what it was made from, so a change
# to the package list makes a new one.
base=$CACHE/base
stamp="$SUITE $MIRROR minbase $INCLUDE"
if [ -d "$base" ] && [ "$(cat "$CACHE/base.stamp" 2>/dev/null)" = "$stamp" ]; then
	cached="cached root"
else
	say "debootstrapping Debian $SUITE from $MIRROR into $base (once, under a minute)"
	rm -rf "$base" "$base.tmp" "$CACHE/base.stamp"
	mkdir -p "$CACHE"
	if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$base.tmp" "$MIRROR" \
		>"$CACHE/debootstrap.log" 2>&1; then
		tail -n 15 "$CACHE/debootstrap.log" | sed 's/^/  | /'
		die "debootstrap failed (its log: $CACHE/debootstrap.log)"
	fi
	rm -f "$base.tmp"/var/cache/apt/archives/*.deb
	mv "$base.tmp" "$base"
	echo "$stamp" >"$CACHE/base.stamp"
	cached="fresh root, debootstrap $(($(date +%s) - start))s"
fi

# 3. A fresh root on the cached one: an overlay (instant; the cache stays untouched), or a copy
# where overlayfs cannot be mounted. svmd is installed into it as a package would install it.
root=$BUILD/system-root
ovl=$BUILD/system-overlay
unmount() {
	if mountpoint -q "$root" 2>/dev/null; then
		umount "$root" 2>/dev/null || umount -l "$root"
	fi
}
unmount # what an interrupted run left
rm -rf "$root" "$ovl"
mkdir -p "$root" "$ovl/upper" "$ovl/work"
abs_root=$(cd "$root" && pwd)
abs_ovl=$(cd "$ovl" && pwd)
if mount -t overlay svmd-system-root -o \
	"lowerdir=$(cd "$base" && pwd),upperdir=$abs_ovl/upper,workdir=$abs_ovl/work" "$root" \
	2>/dev/null; then
	trap unmount EXIT
	journal=$ovl/upper/var/log/journal
else
	rm -rf "$ovl"
	cp -a "$base/." "$root"
	journal=$root/var/log/journal
fi
# The packages, for checks.sh to install with apt-get once systemd runs.
debs=/var/cache/svmd-debs
mkdir -p "$root$debs"
for p in svmd libsvmclient0 libsvmclient-dev; do
	cp "$BUILD"/deb/${p}_*.deb "$root$debs/" || die "no ${p} package in $BUILD/deb"
done
# The svmd user must come from the package (its sysusers.d file, at installation).
chroot "$root" getent passwd svmd >/dev/null && die "the root has a user svmd before boot"
for u in alice bob; do
	chroot "$root" useradd --no-create-home --shell /usr/sbin/nologin --user-group "$u" ||
		die "cannot create user $u in the root"
done
# The test's settings, which checks.sh puts in /etc/svmd once the package made it.
share=$root/usr/local/share/svmd-system-check
mkdir -p "$share"
cat >"$share/svmd.conf" <<EOF
# make check-system: the simulated kernel, in the seccomp sandbox.
[Daemon]
Backend=sim
Sandbox=yes
EOF
# checks.sh relies on these line numbers.
printf '%s\n' 'allow bind-task user=alice device=0000:3b:00.0 pasid=auto max=2' \
	'deny * user=bob' >"$share/50-system-test.policy"
install -m 0644 "$here/pkgconfig-client.c" "$share/"
install -D -m 0755 "$here/checks.sh" "$root/usr/local/libexec/svmd-system-check"
install -m 0755 "$BUILD/tests/svmd-restart-client" "$BUILD/tests/svmd-state-v1" \
	"$root/usr/local/libexec/"
install -m 0644 "$here/svmd-system-check.service" "$root/etc/systemd/system/"
# The checks read svmd's audit records back from the journal, also after crash-in-flight has
# made tens of thousands in seconds; journald's default rate limit (10,000 a unit in 30 s)
# would drop the records later checks look for.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nRateLimitBurst=0\n' >"$root/etc/systemd/journald.conf.d/50-svmd-checks.conf"
systemctl --root="$abs_root" --quiet enable svmd-system-check.service ||
	die "systemctl --root enable failed"
# No login prompt on the console the checks print to.
systemctl --root="$abs_root" --quiet mask console-getty.service

# 4. Boot. The checks power the container off when done.
say "booting $root with systemd-nspawn ($cached)"
console=$BUILD/system-console.log
nspawn_status=0
# A machine name of its own: nspawn keeps per-name state in /run, and other trees may be
# running this suite at the same time.
timeout -k 10 "$TIMEOUT" systemd-nspawn -q -D "$root" -M "svmd-system-$$" --register=no \
	--keep-unit --private-network -b -- systemd.show_status=error </dev/null >"$console.raw" 2>&1 ||
	nspawn_status=$?
esc=$(printf '\033')
tr -d '\r' <"$console.raw" | sed "s/$esc\[[0-9;?]*[A-Za-z]//g; s/${esc}c//g" >"$console"
rm -f "$console.raw"

# 5. What the container said.
grep -E '^(PASS|FAIL) ' "$console" || true
failed=0
missing=0
for name in $EXPECTED; do
	if grep -Eq "^FAIL $name(:|\$)" "$console"; then
		failed=$((failed + 1))
	elif ! grep -Eq "^PASS $name(:|\$)" "$console"; then
		echo "FAIL $name: did not run"
		missing=$((missing + 1))
	fi
done
# A check that is not in the list above fails the run too (and should be added to it).
for name in $(sed -n 's/^FAIL \([a-z0-9-]*\).*/\1/p' "$console"); do
	case " $(echo $EXPECTED) " in
	*" $name "*) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
total=$(echo "$EXPECTED" | wc -w)
elapsed=$(($(date +%s) - start))
if ! grep -q '^SYSTEM-DONE ' "$console"; then
	echo "FAIL system: the container did not report (systemd-nspawn exit $nspawn_status); its console:"
	sed 's/^/  | /' "$console" | tail -n 40
	say "FAILED: the checks did not finish (${elapsed}s); journal: journalctl -D $journal"
	exit 1
fi
if [ $failed -ne 0 ] || [ $missing -ne 0 ]; then
	say "FAILED: $((failed + missing)) of $total checks failed or did not run (${elapsed}s)"
	say "console: $console; journal: journalctl -D $journal"
	exit 1
fi
# shellcheck disable=SC2016 # a dpkg-query format
version=$(chroot "$root" dpkg-query -W -f '${Version}' systemd 2>/dev/null || true)
# Kept only when something needs looking into.
unmount
rm -rf "$root" "$ovl"
say "all $total checks passed under systemd $version (${elapsed}s, $cached)"
