/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What sysfs says of a PCI function and its IOMMU group, for the backends of the real kernel
 * (vfio, iommufd): its group, driver, ids, PASID capability and IOMMU, and whether the group is
 * viable. Plain file reads: no kernel uAPI here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "device.h"

/* snprintf() into buf: 0, or -ENAMETOOLONG when it does not fit. */
int path_fmt(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
/* What to add to "cannot open NODE" when the error is EACCES or EPERM (else ""): svmd's udev
 * rule gives group svmd the nodes of the configured devices only. */
const char *node_access_hint(int r);
/* The first line of a small file, without its newline. 0 or a negative errno. */
int sysfs_read_line(const char *path, char *buf, size_t size);
/* A sysfs number such as "0x8086" or "0x060400". 0, -EINVAL or another negative errno. */
int sysfs_read_hex(const char *path, unsigned long *ret);
/* The last component of what the symlink at path points to ("vfio-pci", "12", "dmar0"). */
int sysfs_link_name(const char *path, char *buf, size_t size);

/* vfio-pci and its variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...). */
bool pci_driver_is_vfio(const char *driver);

/* Fills d->iommu_group, d->vendor and d->device_id of the PCI function name from sysfs, which
 * must be driven by vfio-pci. 0, or a negative errno with what to fix in err. */
int pci_describe(const char *sysfs, const char *name, struct device *d, char *err, size_t errlen);
/* Max PASID Width of the PASID capability in the config space file config (0: none). Only
 * root reads past the first 64 bytes. */
int pci_pasid_bits(const char *config, uint8_t *ret);
/* The IOMMU in front of the device whose sysfs directory is devdir, from its iommu link. */
uint8_t pci_iommu_model(const char *devdir);
/* Walks IOMMU group g: counts the members that do DMA (all but PCI bridges) into *ret_dma and
 * names in list (may be NULL) those whose driver keeps the group from being viable
 * ("0000:3b:00.1 (bound to ixgbe)"). 0 or a negative errno. */
int pci_group_members(const char *sysfs, uint32_t g, uint32_t *ret_dma, char *list, size_t listlen);
/* Whether sysfs says group g is a no-IOMMU group (vfio's enable_unsafe_noiommu_mode). */
bool pci_group_is_noiommu(const char *sysfs, uint32_t g);
