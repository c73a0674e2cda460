#!/bin/sh
# svmd's arm64 test kernels: Linux 7.x for QEMU's "virt" machine with an emulated SMMUv3,
# iommufd, VFIO device cdevs and the SMMUv3 vIOMMU (nesting) code, cross-built with
# gcc-aarch64-linux-gnu from the same Debian linux-source-7.N package tests/vm/kernel.sh uses
# (tests/vm/kernel-arm64.config on top of allnoconfig). Two flavours from one build tree:
#
#   Image-stock  the kernel as it is: IOMMU_VIOMMU_ALLOC refuses QEMU's SMMUv3 (EOPNOTSUPP),
#                which has neither S2FWB nor a CANWBS root complex
#   Image-test   the same plus tests/vm/kernel-arm64-test-only.patch, a one-line TEST-ONLY change
#                that skips that cache-coherency check (emulated DMA is coherent), so the
#                nested (vSTE) path can be exercised at all. Never for a real machine.
#
#   tests/vm/kernel-arm64.sh    prints the kernels' directory on stdout, progress on stderr
#
# The directory also holds config, release, include/ (the kernel's uAPI headers for arm64) and
# build.log. Cached in SVMD_KERNEL_CACHE (default /var/cache/svmd-test)/kernels-arm64, keyed
# on the source package, the config fragment, the patch and the recipe: about 550 CPU-seconds
# cold (4-5 minutes on 2 idle cores), a second run takes a second. Installs
# gcc-aarch64-linux-gnu and the build's host packages when run as root.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
self=$here/kernel-arm64.sh
frag=$here/kernel-arm64.config
patch_file=$here/kernel-arm64-test-only.patch
CACHE=${SVMD_KERNEL_CACHE:-/var/cache/svmd-test}
JOBS=${SVMD_KERNEL_JOBS:-$(nproc)}
CROSS=aarch64-linux-gnu-

say() { echo "kernel-arm64: $*" >&2; }
die() {
	echo "kernel-arm64: FAIL: $*" >&2
	exit 1
}

# 1. Host packages: the cross compiler and what a kernel build needs.
need=""
for p in gcc-aarch64-linux-gnu gcc make flex bison bc libelf-dev libssl-dev xz-utils patch; do
	# (dpkg -s also accepts a package removed but not purged.)
	dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		need="$need $p"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$need (run as root to have them installed)"
	SVMD_EXTRA_PKGS="$need" sh "$here/../install-deps.sh" >&2 || die "cannot install$need"
fi

# 2. The source package, as kernel.sh fetches it (before taking the lock: kernel.sh takes it).
deb=$(SVMD_KERNEL_SOURCE_ONLY=1 sh "$here/kernel.sh") || die "cannot get the kernel source"
src_pkg=$(dpkg-deb -f "$deb" Package)
src_version=$(dpkg-deb -f "$deb" Version)

exec 9>"$CACHE/lock"
if ! flock -n 9; then
	say "another build holds $CACHE/lock: waiting for it"
	flock 9
fi

# 3. The recipe, part of the cache key. build_arm64 SRC OBJ OUT LOG.
build_arm64() {
	m="make -C $1 O=$2 ARCH=arm64 CROSS_COMPILE=$CROSS"
	$m allnoconfig KCONFIG_ALLCONFIG="$frag" >>"$4" 2>&1 || die "make allnoconfig failed (log: $4)"
	check_config "$2/.config"
	say "stock kernel (1 of 2)"
	nice -n 19 $m -j"$JOBS" Image >>"$4" 2>&1 &
	show_progress $! "$2" || die "the stock kernel's build failed (full log: $4)"
	mkdir -p "$3"
	cp "$2/arch/arm64/boot/Image" "$3/Image-stock"
	$m headers >>"$4" 2>&1 || die "make headers failed (log: $4)"
	(cd "$2/usr" && find include -name '*.h' | tar -cf - -T -) | tar -xf - -C "$3" ||
		die "cannot copy the uAPI headers"
	cp "$2/.config" "$3/config"
	make -s --no-print-directory -C "$1" O="$2" ARCH=arm64 kernelrelease >"$3/release" 2>>"$4"
	say "test kernel (2 of 2): the same with $(basename "$patch_file"), an incremental rebuild"
	patch -d "$1" -p1 <"$patch_file" >>"$4" 2>&1 || die "cannot apply $patch_file (log: $4)"
	nice -n 19 $m -j"$JOBS" Image >>"$4" 2>&1 || die "the test kernel's build failed (log: $4)"
	cp "$2/arch/arm64/boot/Image" "$3/Image-test"
	cmp -s "$3/Image-stock" "$3/Image-test" && die "the patch did not change the kernel"
	return 0
}

check_config() {
	missing=""
	for sym in $(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=y$/\1/p' "$frag"); do
		grep -qx "$sym=y" "$1" || missing="$missing $sym"
	done
	[ -z "$missing" ] || die "these options did not end up =y in $1:$missing"
}

show_progress() {
	last=$(cat "$CACHE/kernels-arm64/objects" 2>/dev/null || true)
	while kill -0 "$1" 2>/dev/null; do
		i=0
		while [ $i -lt 30 ] && kill -0 "$1" 2>/dev/null; do
			sleep 1
			i=$((i + 1))
		done
		kill -0 "$1" 2>/dev/null && say "  ... $(($(date +%s) - start))s," \
			"$(find "$2" -name '*.o' | wc -l)${last:+ of about $last} objects compiled"
	done
	wait "$1"
}

recipe=$(sed -n '/^build_arm64() {$/,/^}$/p; /^check_config() {$/,/^}$/p' "$self")
hash=$( (cat "$frag" "$patch_file" && echo "$recipe" && "${CROSS}gcc" -dumpfullversion) |
	sha256sum | cut -c1-12)
out=$CACHE/kernels-arm64/${src_pkg#linux-source-}_${src_version}_$hash
if [ -e "$out/.complete" ]; then
	touch "$out/.complete"
	say "cached: Linux $(cat "$out/release") for arm64, stock and test ($out)"
	echo "$out"
	exit 0
fi

# 4. Unpack, build, keep the images, drop the tree.
work=$CACHE/build-arm64
rm -rf "$work"
mkdir -p "$work/obj" "$CACHE/kernels-arm64"
log=$work/build.log
start=$(date +%s)
say "building Linux for arm64 from $src_pkg $src_version (stock and test-only flavours)," \
	"once per machine: about 550 CPU-seconds, so 5 minutes on 2 idle cores, up to 10 on" \
	"a busy machine (log: $log)"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$src_pkg.tar.xz" | xz -dc -T0 |
	tar -x -C "$work" || die "cannot unpack $deb"
rm -rf "$out"
build_arm64 "$work/$src_pkg" "$work/obj" "$out" "$log"
find "$work/obj" -name '*.o' | wc -l >"$CACHE/kernels-arm64/objects"
echo "$src_pkg $src_version" >"$out/source"
cp "$log" "$out/build.log"
rm -rf "$work"
elapsed=$(($(date +%s) - start))
echo "$elapsed" >"$out/build-seconds"
touch "$out/.complete"
find "$CACHE/kernels-arm64" -mindepth 2 -maxdepth 2 -name .complete -mtime +30 |
	while read -r old; do rm -rf "$(dirname "$old")"; done
say "built Linux $(cat "$out/release") for arm64 in ${elapsed}s ($out)"
echo "$out"
