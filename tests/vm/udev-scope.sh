#!/bin/sh
# udev-scope: svmd's udev rule (systemd/60-svmd.rules.in) under the real udevd and a real
# kernel's VFIO nodes. /etc/svmd/svmd.conf names the first edu function only; after udevd has
# replayed the add events of every vfio, vfio-dev and misc device, that function's group node
# and cdev, and /dev/iommu, are root:svmd 0660, and the second edu's group node and cdev, and
# /dev/vfio/vfio, are as the kernel made them. Run by tests/vm/init-kernel with the edu
# functions' addresses (run-kernel.sh puts udevadm in /usr/bin and the rule, naming
# /usr/bin/svmd, in /etc/udev/rules.d); puts every node back and removes the file when done.
CHECKS="udev-managed-group udev-managed-cdev udev-iommu udev-other-group udev-other-cdev
udev-vfio-container"
if [ "${1:-}" = --list ]; then
	echo $CHECKS
	exit 0
fi
set -u
pass() { echo "PASS $1: $2"; }
fail() { echo "FAIL $1: $2"; }
node_state() { stat -c '%u:%g %a' "$1" 2>/dev/null || echo "missing"; }
group_of() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
cdev_of() { ls "/sys/bus/pci/devices/$1/vfio-dev" 2>/dev/null | head -n 1; }

mine=${1:-} other=${2:-}
if [ -z "$other" ]; then
	for c in $CHECKS; do fail "$c" "want two edu functions, got '$*'"; done
	exit 1
fi
gid=$(awk -F: '$1 == "svmd" {print $3}' /etc/group)
g_mine=$(group_of "$mine") g_other=$(group_of "$other")
c_mine=$(cdev_of "$mine") c_other=$(cdev_of "$other")
if [ -z "$gid" ] || [ "$g_mine" = "$g_other" ] || [ -z "$c_mine" ] || [ -z "$c_other" ]; then
	for c in $CHECKS; do
		fail "$c" "no group svmd ('$gid'), or groups '$g_mine' '$g_other' or cdevs" \
			"'$c_mine' '$c_other' unusable"
	done
	exit 1
fi
nodes="/dev/vfio/$g_mine /dev/vfio/devices/$c_mine /dev/iommu /dev/vfio/$g_other
/dev/vfio/devices/$c_other /dev/vfio/vfio"
before=""
for n in $nodes; do before="$before$n=$(node_state "$n");"; done
was() { echo "$before" | tr ';' '\n' | sed -n "s|^$1=||p"; }

mkdir -p /etc/svmd /run/udev
printf '[Daemon]\nBackend=auto\nDevice=%s\n' "$mine" >/etc/svmd/svmd.conf
ln -sf /usr/bin/udevadm /tmp/systemd-udevd
/tmp/systemd-udevd --daemon 2>/tmp/udevd.err || echo "udevd: $(cat /tmp/udevd.err)"
udevadm trigger --action=add --subsystem-match=vfio --subsystem-match=vfio-dev \
	--subsystem-match=misc 2>/tmp/trigger.err || echo "udevadm trigger: $(cat /tmp/trigger.err)"
udevadm settle --timeout=30 || echo "udevadm settle timed out"

# expect CHECK NODE WANT: WANT "kernel" is the state before udevd ran.
expect() {
	want=$3
	[ "$want" = kernel ] && want=$(was "$2")
	have=$(node_state "$2")
	if [ "$have" = "$want" ]; then
		pass "$1" "$2 $have"
	else
		fail "$1" "$2 is $have, want $want (before udevd: $(was "$2"))"
	fi
}
expect udev-managed-group "/dev/vfio/$g_mine" "0:$gid 660"
expect udev-managed-cdev "/dev/vfio/devices/$c_mine" "0:$gid 660"
expect udev-iommu /dev/iommu "0:$gid 660"
expect udev-other-group "/dev/vfio/$g_other" kernel
expect udev-other-cdev "/dev/vfio/devices/$c_other" kernel
expect udev-vfio-container /dev/vfio/vfio kernel

udevadm control --exit 2>/dev/null
rm -f /etc/svmd/svmd.conf /tmp/systemd-udevd
for n in $nodes; do
	state=$(was "$n")
	[ "$state" = missing ] && continue
	chown "${state%% *}" "$n"
	chmod "${state#* }" "$n"
done
exit 0
