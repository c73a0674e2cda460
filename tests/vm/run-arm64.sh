#!/bin/sh
# `make check-vm-arm64`: svmd's PASID-table bind on an Arm SMMUv3, proven with real (emulated)
# DMA. QEMU 11.x's qemu-system-aarch64 from the trixie root of tests/vm/arm64-root.sh, -M
# virt,iommu=smmuv3 with a nesting SMMU (stage=nested) and QEMU's edu device, booted twice:
# with the test kernel of tests/vm/kernel-arm64.sh (its S2FWB/CANWBS check skipped, so that the
# kernel gives QEMU's SMMU a vIOMMU) and with the stock one. svmd, libsvmclient and
# tests/vm/arm64-svmd.c are cross-built inside the root against its arm64 libraries; the
# initramfs holds them, their libraries, a static arm64 busybox and tests/vm/init-arm64.
# Prints every PASS/FAIL line and "check-vm-arm64: all N checks passed (TIME)" or a failure;
# exits non-zero when a check failed or did not run. Root only (the root is entered with
# chroot in a private mount namespace).
#
# Environment: BUILD (default build: the arm64 build goes to $BUILD-arm64), SVMD_VM_TIMEOUT
# (seconds per boot, default 240), SVMD_VM_START.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
ABUILD=$BUILD-arm64
TIMEOUT=${SVMD_VM_TIMEOUT:-240}
start=${SVMD_VM_START:-$(date +%s)}
name=check-vm-arm64

say() { echo "$name: $*"; }
die() {
	echo "$name: FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (the QEMU root is entered with chroot)"
command -v cpio >/dev/null || SVMD_EXTRA_PKGS=cpio sh "$here/../install-deps.sh" ||
	die "cannot install cpio"
root=$(sh "$here/arm64-root.sh") || die "no trixie root with QEMU (tests/vm/arm64-root.sh)"
kdir=$(sh "$here/kernel-arm64.sh") || die "no arm64 test kernels (tests/vm/kernel-arm64.sh)"
command -v aarch64-linux-gnu-readelf >/dev/null || die "aarch64-linux-gnu-readelf not found"

# 1. The guest's programs, cross-built in the root (its arm64 libsystemd, libevent, libseccomp)
# against the test kernel's uAPI headers, copied where the root sees them.
mkdir -p "$ABUILD"
rm -rf "$ABUILD/kernel-include"
cp -r "$kdir/include" "$ABUILD/kernel-include"
say "cross-building svmd and the guest's test program for aarch64 in the root (log: $ABUILD/build.log)"
sh "$here/arm64-root.sh" run env \
	PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
	make -j"$(nproc)" BUILD="$ABUILD" CC=aarch64-linux-gnu-gcc AR=aarch64-linux-gnu-ar \
	ARM64_KERNEL_INCLUDE="$ABUILD/kernel-include" "$ABUILD/svmd" "$ABUILD/tests/arm64-svmd" \
	>"$ABUILD/build.log" 2>&1 || {
	tail -n 15 "$ABUILD/build.log" | sed 's/^/  | /' >&2
	die "the aarch64 build failed (log: $ABUILD/build.log)"
}

# 2. The initramfs: busybox, /init, svmd, the test program, their shared libraries (NEEDED,
# resolved in the root's arm64 library directories), the users.
ird=$ABUILD/vm-root
rm -rf "$ird"
mkdir -p "$ird/bin" "$ird/usr/bin" "$ird/tests" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/run" \
	"$ird/tmp" "$ird/etc" "$ird/lib"
cp "$root/opt/busybox/usr/bin/busybox" "$ird/bin/busybox"
cp "$here/init-arm64" "$ird/init"
chmod 0755 "$ird/init"
cp "$ABUILD/svmd" "$ird/usr/bin/svmd"
cp "$ABUILD/tests/arm64-svmd" "$ird/tests/arm64-svmd"
seen=" "
copy_needed() {
	for lib in $(aarch64-linux-gnu-readelf -d "$1" 2>/dev/null |
		sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		case $seen in *" $lib "*) continue ;; esac
		seen="$seen$lib "
		found=""
		for dir in usr/lib/aarch64-linux-gnu lib/aarch64-linux-gnu; do
			[ -e "$root/$dir/$lib" ] && found=$dir/$lib && break
		done
		[ -n "$found" ] || die "$lib, which $(basename "$1") needs, is not in the root"
		mkdir -p "$ird/$(dirname "$found")"
		cp -L "$root/$found" "$ird/$found"
		copy_needed "$root/$found"
	done
}
copy_needed "$ABUILD/svmd"
copy_needed "$ABUILD/tests/arm64-svmd"
cp -L "$root/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" "$ird/lib/ld-linux-aarch64.so.1"
cat >"$ird/etc/passwd" <<EOT
root:x:0:0:root:/:/bin/sh
svmd-vm-a:x:1000:1000:svmd VM test client A:/:/bin/false
svmd-vm-b:x:1001:1001:svmd VM test client B:/:/bin/false
EOT
cat >"$ird/etc/group" <<EOT
root:x:0:
svmd-vm-a:x:1000:
svmd-vm-b:x:1001:
svmd:x:1003:
EOT
(cd "$ird" && find . | cpio -o -H newc --quiet) | gzip -1 >"$ABUILD/vm-initrd.gz"

# 3. Two boots. The SMMU nests (stage=nested), so the kernel can give the edu a stage-2
# parent; iommu.passthrough=0: DMA is translated.
# The names arm64-svmd --list prints (it cannot run here): its checks_test/checks_stock arrays.
list_checks() {
	sed -n "/^static const char \*const checks_$1\[\] = {/,/};/p" "$here/arm64-svmd.c" |
		grep -o '"[a-z0-9-]*"' | tr -d '"'
}
total=0
bad=0
boot() {
	flavour=$1
	image=$2
	cp "$kdir/$image" "$ABUILD/$image"
	console=$ABUILD/vm-console-$flavour.log
	say "booting Linux $(cat "$kdir/release") ($image) for arm64 in QEMU (TCG, virt," \
		"SMMUv3 nested, edu)"
	status=0
	timeout "$TIMEOUT" sh "$here/arm64-root.sh" run qemu-system-aarch64 -accel tcg \
		-cpu max,pauth-impdef=on -smp 1 -m 512M -machine virt,gic-version=3,iommu=smmuv3 \
		-global arm-smmuv3.stage=nested -device edu -nodefaults -no-user-config \
		-nographic -serial stdio -no-reboot -kernel "$ABUILD/$image" \
		-initrd "$ABUILD/vm-initrd.gz" \
		-append "console=ttyAMA0 panic=-1 quiet iommu.passthrough=0 svmd.flavour=$flavour" \
		</dev/null >"$console.raw" 2>&1 || status=$?
	tr -d '\r' <"$console.raw" >"$console"
	rm -f "$console.raw"
	grep -E '^(PASS|FAIL) ' "$console" || true
	expected="arm64-edu-on-vfio-pci $(list_checks "$flavour")"
	for check in $expected; do
		total=$((total + 1))
		if ! grep -Eq "^PASS $check(:|\$)" "$console"; then
			grep -Eq "^FAIL $check(:|\$)" "$console" || echo "FAIL $check: did not run"
			bad=$((bad + 1))
		fi
	done
	if ! grep -qx 'VM-DONE' "$console"; then
		echo "FAIL vm-$flavour: the VM did not finish (QEMU exit $status); its console:"
		sed 's/^/  | /' "$console" | tail -n 30
		bad=$((bad + 1))
	elif ! grep -qx 'END arm64-svmd rc=0' "$console"; then
		echo "FAIL arm64-svmd-$flavour: $(grep '^END arm64-svmd' "$console" || echo 'no END')"
		bad=$((bad + 1))
	fi
}
boot test Image-test
boot stock Image-stock
elapsed=$(($(date +%s) - start))
if [ $bad -ne 0 ]; then
	say "FAILED: $bad of $total checks failed or did not run (${elapsed}s); consoles in" \
		"$ABUILD/vm-console-test.log and $ABUILD/vm-console-stock.log"
	exit 1
fi
say "all $total checks passed on Linux $(cat "$kdir/release") test and stock (${elapsed}s)"
