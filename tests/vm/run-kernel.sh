#!/bin/sh
# Boots svmd's test kernel (tests/vm/kernel.sh: Linux 7.x with iommufd and the mock IOMMU) in
# QEMU and runs test programs inside it. Used by `make check-vm-iommufd`.
#
#   tests/vm/run-kernel.sh NAME PROGRAM...
#
# The guest: bookworm's qemu-system-x86_64 (TCG), q35 with an emulated VT-d (interrupt remapping,
# caching mode) and two QEMU edu devices, so that two clients can be isolated from each other;
# a busybox initramfs whose /init (tests/vm/init-kernel) binds both edu functions to vfio-pci
# and runs each PROGRAM with their PCI addresses as arguments, in order. A PROGRAM is a static
# binary or a script that prints "PASS name: detail" or "FAIL name: detail" per check and, run
# with --list (here, on the host), the names of all its checks: a check that does not report
# PASS counts as failed. Dynamically linked programs get their libraries copied in. Prints every
# PASS/FAIL line, then "NAME: all N checks passed on RELEASE (TIME)" or a failure; exits
# non-zero when a check failed or did not run. Installs QEMU, busybox-static and cpio as root.
#
# Besides the programs, the guest has what a test of svmd needs: the executables named in
# SVMD_VM_INSTALL in /usr/bin (with their libraries), an empty /run/svmd, and users in
# /etc/passwd and /etc/group for clients to run as: root, svmd-vm-a (uid and gid 1000),
# svmd-vm-b (1001), both also in group svmd-vm (1002), and group svmd (1003); the files named
# in SVMD_VM_FILES as SOURCE:GUEST-PATH pairs.
#
# Environment: BUILD (default build), SVMD_KERNEL_DIR (a kernel.sh directory; default: run
# kernel.sh), SVMD_VM_INSTALL (executables for /usr/bin), SVMD_VM_FILES, SVMD_VM_IOMMU (QEMU's IOMMU device,
# default intel-iommu,intremap=on,caching-mode=on), SVMD_VM_APPEND (more kernel arguments),
# SVMD_VM_TIMEOUT (seconds, default 120), SVMD_VM_START (the time, in `date +%s`, that the
# final line's duration counts from; default now).
set -eu

[ $# -ge 2 ] || {
	echo "usage: $0 NAME PROGRAM..." >&2
	exit 2
}
name=$1
shift
BUILD=${BUILD:-build}
TIMEOUT=${SVMD_VM_TIMEOUT:-120}
IOMMU=${SVMD_VM_IOMMU:-intel-iommu,intremap=on,caching-mode=on}
here=$(cd "$(dirname "$0")" && pwd)
start=${SVMD_VM_START:-$(date +%s)}

say() { echo "$name: $*"; }
die() {
	echo "$name: FAIL: $*" >&2
	exit 1
}

export DEBIAN_FRONTEND=noninteractive

# 1. Packages: QEMU, a static busybox, cpio, and udev (its udevadm runs in the guest).
need=""
for p in qemu-system-x86 busybox-static cpio udev; do
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

# 2. The kernel.
kdir=${SVMD_KERNEL_DIR:-}
[ -n "$kdir" ] || kdir=$(sh "$here/kernel.sh") || die "no test kernel (tests/vm/kernel.sh failed)"
[ -f "$kdir/bzImage" ] && [ -f "$kdir/release" ] || die "$kdir holds no kernel.sh kernel"
release=$(cat "$kdir/release")

# 3. What must pass: /init's own check, then every program's.
expected="edus-on-vfio-pci"
for prog in "$@"; do
	[ -x "$prog" ] || die "$prog is not an executable"
	list=$("$prog" --list) || die "$prog --list failed"
	[ -n "$list" ] || die "$prog --list names no check"
	expected="$expected $list"
done

# 4. The initramfs: busybox, /init, the programs under /tests in order, SVMD_VM_INSTALL in
# /usr/bin, their libraries, the users.
root=$BUILD/vm-kernel-root
rm -rf "$root"
mkdir -p "$root/bin" "$root/usr/bin" "$root/tests" "$root/dev" "$root/proc" "$root/sys" \
	"$root/run" "$root/tmp" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
cp "$here/init-kernel" "$root/init"
chmod 0755 "$root/init"
copy_libs() {
	for lib in $(ldd "$1" 2>/dev/null |
		awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
for prog in "$@"; do
	base=$(basename "$prog")
	cp "$prog" "$root/tests/$base"
	echo "$base" >>"$root/tests/order"
	copy_libs "$prog"
done
for exe in ${SVMD_VM_INSTALL:-}; do
	[ -x "$exe" ] || die "$exe (SVMD_VM_INSTALL) is not an executable"
	cp "$exe" "$root/usr/bin/"
	copy_libs "$exe"
done
for pair in ${SVMD_VM_FILES:-}; do
	src=${pair%%:*}
	dst=${pair#*:}
	[ -f "$src" ] && [ "$dst" != "$pair" ] || die "$pair (SVMD_VM_FILES) is not SOURCE:GUEST-PATH"
	mkdir -p "$root$(dirname "$dst")"
	cp "$src" "$root$dst"
done
cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/:/bin/sh
svmd-vm-a:x:1000:1000:svmd VM test client A:/:/bin/false
svmd-vm-b:x:1001:1001:svmd VM test client B:/:/bin/false
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
svmd-vm-a:x:1000:
svmd-vm-b:x:1001:
svmd-vm:x:1002:svmd-vm-a,svmd-vm-b
svmd:x:1003:
EOF
initrd=$BUILD/vm-kernel-initrd.gz
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$initrd"

# 5. Boot. iommu=nopt: DMA is translated, whatever the kernel's default domain type.
say "booting Linux $release in QEMU (TCG, $IOMMU, two edu devices): $*"
console=$BUILD/vm-kernel-console.log
qemu_status=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 512M \
	-machine q35,kernel-irqchip=split -device "$IOMMU" -device edu -device edu \
	-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
	-kernel "$kdir/bzImage" -initrd "$initrd" \
	-append "console=ttyS0 intel_iommu=on iommu=nopt panic=-1 quiet ${SVMD_VM_APPEND:-}" \
	</dev/null >"$console.raw" 2>&1 || qemu_status=$?
esc=$(printf '\033')
tr -d '\r' <"$console.raw" | sed "s/$esc\[[0-9;?]*[A-Za-z]//g; s/${esc}c//g" >"$console"
rm -f "$console.raw"

# 6. What the VM said.
grep -E '^(PASS|FAIL) ' "$console" || true
bad=0
for check in $expected; do
	if grep -Eq "^FAIL $check(:|\$)" "$console"; then
		bad=$((bad + 1))
	elif ! grep -Eq "^PASS $check(:|\$)" "$console"; then
		echo "FAIL $check: did not run"
		bad=$((bad + 1))
	fi
done
# Also failures: a FAIL under a name no --list gave, a program that did not end with status 0.
other=0
for check in $(sed -n 's/^FAIL \([^: ]*\).*/\1/p' "$console"); do
	case " $(echo $expected) " in *" $check "*) ;; *) other=$((other + 1)) ;; esac
done
for prog in "$@"; do
	base=$(basename "$prog")
	if ! grep -qx "END $base rc=0" "$console"; then
		echo "FAIL $base: $(grep "^END $base " "$console" || echo "did not finish")"
		other=$((other + 1))
	fi
done
total=$(echo $expected | wc -w)
elapsed=$(($(date +%s) - start))
if ! grep -qx 'VM-DONE' "$console"; then
	echo "FAIL vm: the VM did not report (QEMU exit $qemu_status); its console:"
	sed 's/^/  | /' "$console" | tail -n 40
	say "FAILED: the VM did not finish (${elapsed}s)"
	exit 1
fi
if [ $bad -ne 0 ] || [ $other -ne 0 ]; then
	say "FAILED: $bad of $total checks failed or did not run, $other other failures (${elapsed}s)"
	say "the VM's console is in $console"
	exit 1
fi
say "all $total checks passed on $release (${elapsed}s)"
