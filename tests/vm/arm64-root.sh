#!/bin/sh
# The arm64 suite's tool root: a Debian trixie root (debootstrap --variant=minbase) holding
# QEMU 11.x from trixie-backports (qemu-system-aarch64 with an SMMUv3 that nests; bookworm's
# QEMU 7.2 has none, and the newer QEMU needs trixie's glibc) and an aarch64 cross toolchain
# with trixie's arm64 libsystemd, libevent and libseccomp, so that svmd and its test programs
# are built for the guest against the same libraries the guest then runs. Made once per
# machine, cached outside the clone, keyed on the recipe below (about 1-2 minutes cold).
#
#   tests/vm/arm64-root.sh           prints the root's directory on stdout, progress on stderr
#   tests/vm/arm64-root.sh run CMD   runs CMD inside the root (chroot in a private mount
#                                    namespace, the current directory bind-mounted at /w)
#
# The root's apt sources are its own (trixie and trixie-backports from the archive the machine's
# apt configuration names, tests/debian-archive.sh); the machine's sources are never touched.
# Needs root (debootstrap, chroot, mounts). Environment: SVMD_KERNEL_CACHE (default
# /var/cache/svmd-test), SVMD_DEBIAN_MIRROR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../debian-archive.sh"
self=$here/arm64-root.sh
CACHE=${SVMD_KERNEL_CACHE:-/var/cache/svmd-test}

say() { echo "arm64-root: $*" >&2; }
die() {
	echo "arm64-root: FAIL: $*" >&2
	exit 1
}

# run_in ROOT CMD...: CMD in ROOT, with /proc, /dev and the current directory (at /w).
run_in() {
	_r=$1
	shift
	unshare --mount --propagation private sh -euc '
		r=$1
		shift
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mkdir -p "$r/w"
		mount --bind "$PWD" "$r/w"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			LC_ALL=C.UTF-8 sh -c "cd /w && exec \"\$@\"" sh "$@"
	' sh "$_r" "$@"
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"

# The recipe: packages and sources. Its text is the cache key.
make_root() {
	debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		trixie "$1" "$2" >>"$3" 2>&1 || die "debootstrap failed (log: $3)"
	rm -f "$1/etc/apt/sources.list"
	cat >"$1/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $2
Suites: trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
	run_in "$1" dpkg --add-architecture arm64 >>"$3" 2>&1
	run_in "$1" apt-get -q update >>"$3" 2>&1 || die "apt-get update in the root failed (log: $3)"
	say "installing QEMU (trixie-backports) and the aarch64 toolchain in the root"
	run_in "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -t trixie-backports qemu-system-arm >>"$3" 2>&1 ||
		die "cannot install QEMU in the root (log: $3)"
	run_in "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends make pkgconf gcc-aarch64-linux-gnu libc6-dev:arm64 \
		libsystemd-dev:arm64 libevent-dev:arm64 libseccomp-dev:arm64 >>"$3" 2>&1 ||
		die "cannot install the cross toolchain in the root (log: $3)"
	# The guest's shell: a static arm64 busybox, unpacked (not installed) into /opt/busybox.
	run_in "$1" sh -c 'cd /tmp && apt-get download -q busybox-static:arm64 &&
		dpkg-deb -x busybox-static_*_arm64.deb /opt/busybox && rm -f busybox-static_*.deb' \
		>>"$3" 2>&1 || die "cannot fetch busybox-static:arm64 (log: $3)"
	run_in "$1" apt-get clean >>"$3" 2>&1
}

key=$(sed -n '/^make_root() {$/,/^}$/p' "$self" | sha256sum | cut -c1-12)
root=$CACHE/arm64-root/$key

if [ "${1:-}" = run ]; then
	shift
	[ -e "$root/.complete" ] || die "no root yet: run $0 first"
	run_in "$root" "$@"
	exit
fi

if [ -e "$root/.complete" ]; then
	touch "$root/.complete"
	say "cached: $(cat "$root/.qemu-version") ($root)"
	echo "$root"
	exit 0
fi

command -v debootstrap >/dev/null ||
	SVMD_EXTRA_PKGS=debootstrap sh "$here/../install-deps.sh" >&2 || die "cannot install debootstrap"
mkdir -p "$CACHE/arm64-root" || die "cannot write to $CACHE"
exec 9>"$CACHE/arm64-root/lock"
if ! flock -n 9; then
	say "another run holds $CACHE/arm64-root/lock: waiting for it"
	flock 9
fi
if [ -e "$root/.complete" ]; then
	echo "$root"
	exit 0
fi
uri=$(debian_archive_uri) || die "cannot tell which Debian archive to use"
log=$CACHE/arm64-root/build-$key.log
: >"$log"
start=$(date +%s)
say "making a Debian trixie root with QEMU from trixie-backports and an aarch64 toolchain," \
	"once per machine: about 1-2 minutes (log: $log)"
rm -rf "$root"
mkdir -p "$root"
make_root "$root" "$uri" "$log" &
pid=$!
while kill -0 $pid 2>/dev/null; do
	sleep 15
	kill -0 $pid 2>/dev/null && say "  ... $(($(date +%s) - start))s, $(du -smx "$root" 2>/dev/null | cut -f1) MB"
done
wait $pid || exit 1
run_in "$root" qemu-system-aarch64 --version | head -n 1 >"$root/.qemu-version" ||
	die "no working qemu-system-aarch64 in the root (log: $log)"
echo $(($(date +%s) - start)) >"$root/.build-seconds"
touch "$root/.complete"
# Roots of older recipes go.
for old in "$CACHE"/arm64-root/*/; do
	[ "$old" = "$root/" ] || rm -rf "$old"
done
say "made the root in $(cat "$root/.build-seconds")s: $(cat "$root/.qemu-version")," \
	"$(du -sm "$root" | cut -f1) MB ($root)"
echo "$root"
