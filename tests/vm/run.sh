#!/bin/sh
# `make check-vm`: svmd on a real kernel's VFIO. Boots Debian's 6.12 kernel in QEMU (TCG, an
# intel-iommu and the edu device) from an initramfs holding busybox, svmd, tests/vm/vm-client,
# their shared libraries and the VFIO modules; tests/vm/init runs the checks inside and prints a
# PASS/FAIL line per check. Installs what it needs when run as root; the kernel package is
# downloaded once into $BUILD/vm-cache. Exits non-zero when a check failed or did not run.
set -eu

BUILD=${BUILD:-build}
CACHE=$BUILD/vm-cache
TIMEOUT=${SVMD_VM_TIMEOUT:-150}
here=$(dirname "$0")
start=$(date +%s)

# Every check /init runs, in order: one that does not report counts as failed.
EXPECTED="modules-loaded edu-on-vfio-pci svmd-starts probe-reported-once daemon-owns-group
sandboxed group-exclusive client-cannot-open-group client-hello device-listed open-device device-info
device-bar0 bind-task-not-supported bind-pgtable-not-supported bind-pasid-table-not-supported
open-device-listed released-on-disconnect second-svmd-ebusy no-seccomp-refusals clean-shutdown"

say() { echo "check-vm: $*"; }
die() {
	echo "check-vm: FAIL: $*" >&2
	exit 1
}

export DEBIAN_FRONTEND=noninteractive

# 1. Packages: QEMU, a static busybox, cpio.
need=""
for p in qemu-system-x86 busybox-static cpio xz-utils; do
	# (dpkg -s also accepts a package removed but not purged.)
	dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		need="$need $p"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$need (run as root to have them installed)"
	say "installing$need"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends \
			$need >/dev/null; } || die "cannot install$need"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"

# 2. The newest Debian 12 6.12 kernel (bookworm-security), once.
find_kernel() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb12-amd64-unsigned$' \
		2>/dev/null | awk '{print $1}' | sort -V | tail -n 1
}
pkg=$(find_kernel)
if [ -z "$pkg" ]; then
	apt-get update -qq >/dev/null 2>&1 || true
	pkg=$(find_kernel)
fi
[ -n "$pkg" ] ||
	die "no linux-image-6.12.*+deb12-amd64-unsigned in the apt sources (bookworm-security)"
kdir=$CACHE/$pkg
if [ ! -e "$kdir/.complete" ]; then
	say "downloading $pkg"
	rm -rf "$kdir" "$CACHE"/*.deb
	mkdir -p "$kdir"
	(cd "$CACHE" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
		die "apt-get download $pkg failed"
	dpkg-deb -x "$CACHE/${pkg}"_*.deb "$kdir" || die "cannot unpack $pkg"
	rm -f "$CACHE"/*.deb
	touch "$kdir/.complete"
fi
kver=$(ls "$kdir/lib/modules")
vmlinuz=$kdir/boot/vmlinuz-$kver
moddir=$kdir/lib/modules/$kver/kernel
[ -f "$vmlinuz" ] || die "no $vmlinuz in $pkg"

# 3. The VFIO modules and what they depend on (each module's modinfo "depends="), in order.
modfile() {
	dashes=$(echo "$1" | tr _ -) underscores=$(echo "$1" | tr - _)
	find "$moddir" \( -name "$dashes.ko*" -o -name "$underscores.ko*" \) | head -n 1
}
modcat() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*) cat "$1" ;;
	esac
}
order=""
add_module() {
	set -- "$(modfile "$1")" "$1"
	[ -n "$1" ] || die "module $2 is not in $pkg"
	set -- "$1" "$(basename "$1" | sed 's/\.ko.*//')"
	case " $order " in *" $2 "*) return 0 ;; esac
	for dep in $(modcat "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$dep"
	done
	order="$order $2"
}
for m in vfio vfio_iommu_type1 vfio-pci; do
	add_module "$m"
done

# 4. The initramfs.
root=$BUILD/vm-root
rm -rf "$root"
mkdir -p "$root/bin" "$root/usr/bin" "$root/lib/modules" "$root/dev" "$root/proc" "$root/sys" \
	"$root/run" "$root/tmp" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for b in "$BUILD/svmd" "$BUILD/tests/vm-client"; do
	cp "$b" "$root/usr/bin/"
	for lib in $(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
for m in $order; do
	modcat "$(modfile "$m")" >"$root/lib/modules/$m.ko"
	echo "$m" >>"$root/lib/modules/order"
done
cp "$here/init" "$root/init"
chmod 0755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$BUILD/vm-initrd.gz"

# 5. Boot.
say "booting $kver in QEMU (TCG, intel-iommu, edu), modules:$order"
console=$BUILD/vm-console.log
qemu_status=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 512M \
	-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on \
	-device edu -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
	-kernel "$vmlinuz" -initrd "$BUILD/vm-initrd.gz" \
	-append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet" \
	</dev/null >"$console.raw" 2>&1 || qemu_status=$?
esc=$(printf '\033')
tr -d '\r' <"$console.raw" | sed "s/$esc\[[0-9;?]*[A-Za-z]//g; s/${esc}c//g" >"$console"
rm -f "$console.raw"

# 6. What the VM said.
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
total=$(echo $EXPECTED | wc -w)
elapsed=$(($(date +%s) - start))
if ! grep -q '^VM-DONE ' "$console"; then
	echo "FAIL vm: the VM did not report (QEMU exit $qemu_status); its console:"
	sed 's/^/  | /' "$console" | tail -n 40
	say "FAILED: the VM did not finish (${elapsed}s)"
	exit 1
fi
if [ $failed -ne 0 ] || [ $missing -ne 0 ]; then
	say "FAILED: $((failed + missing)) of $total checks failed or did not run (${elapsed}s)"
	say "the VM's console is in $console"
	exit 1
fi
say "all $total checks passed on $kver (${elapsed}s)"
