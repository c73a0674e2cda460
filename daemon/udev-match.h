/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which device nodes svmd's udev rule gives to group svmd: the VFIO group nodes and device
 * cdevs of the PCI functions svmd is configured to manage, and /dev/iommu when it manages any,
 * so that libvirt, QEMU or DPDK keep the nodes of every other device as the kernel made them.
 * The rule asks `svmd --udev-match=WHAT`, which answers with its exit status.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* WHAT is "group:N" (the node /dev/vfio/N of IOMMU group N), "cdev:DEVPATH" (a VFIO device
 * cdev, DEVPATH its sysfs path, udev's %p, under the PCI function's directory) or "iommu"
 * (/dev/iommu). Backend is the configured one (NULL: auto); devices the configured PCI
 * functions, in any case the parser accepts. Returns 1 when the node is svmd's, 0 when it is
 * not, or -EINVAL with why in err (WHAT is malformed). */
int udev_match(const char *what, const char *sysfs, const char *backend, const char *const *devices,
	       size_t n_devices, char *err, size_t errlen);
