/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VFIO uAPI svmd needs, written from the kernel's documented ABI (KERNEL-ABI.md; not copied
 * from kernel headers): the legacy container/group ioctls that own a group, the device ioctls
 * tests use on a device fd, and the device-cdev ioctls (/dev/vfio/devices/vfioN) that bind a
 * device to an iommufd (iommufd-abi.h). Debian 12's 6.1 <linux/vfio.h> lacks the cdev ones.
 * tests/unit/test-vfio-abi.c compares every number and layout here with the installed
 * <linux/vfio.h>, as far as it has them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "iommufd-abi.h"
#include "seed-abi.h"

#define SVMD_VFIO_API_VERSION   0 /* what VFIO_GET_API_VERSION answers */
#define SVMD_VFIO_TYPE1_IOMMU   1 /* VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU arguments */
#define SVMD_VFIO_TYPE1v2_IOMMU 3
#define SVMD_VFIO_NOIOMMU_IOMMU 8

/* On the container fd (/dev/vfio/vfio). */
#define SVMD_VFIO_GET_API_VERSION SEED_IO(SEED_VFIO_BASE + 0) /* no argument; returns it */
#define SVMD_VFIO_CHECK_EXTENSION SEED_IO(SEED_VFIO_BASE + 1) /* extension id by value; > 0 */
#define SVMD_VFIO_SET_IOMMU       SEED_IO(SEED_VFIO_BASE + 2) /* IOMMU type by value */

/* On a group fd (/dev/vfio/<group>); GET_STATUS fills a struct svmd_vfio_group_status. */
#define SVMD_VFIO_GROUP_GET_STATUS      SEED_IO(SEED_VFIO_BASE + 3)
#define SVMD_VFIO_GROUP_SET_CONTAINER   SEED_IO(SEED_VFIO_BASE + 4) /* int *: the container fd */
#define SVMD_VFIO_GROUP_UNSET_CONTAINER SEED_IO(SEED_VFIO_BASE + 5) /* no argument */
#define SVMD_VFIO_GROUP_GET_DEVICE_FD   SEED_IO(SEED_VFIO_BASE + 6) /* char *: "0000:3b:00.0" */

struct svmd_vfio_group_status {
	uint32_t argsz; /* sizeof(struct svmd_vfio_group_status) */
	uint32_t flags; /* out: SVMD_VFIO_GROUP_FLAGS_* */
};
#define SVMD_VFIO_GROUP_FLAGS_VIABLE        (1u << 0)
#define SVMD_VFIO_GROUP_FLAGS_CONTAINER_SET (1u << 1)

_Static_assert(SVMD_VFIO_GET_API_VERSION == 0x3b64, "VFIO_GET_API_VERSION");
_Static_assert(SVMD_VFIO_CHECK_EXTENSION == 0x3b65, "VFIO_CHECK_EXTENSION");
_Static_assert(SVMD_VFIO_SET_IOMMU == 0x3b66, "VFIO_SET_IOMMU");
_Static_assert(SVMD_VFIO_GROUP_GET_STATUS == 0x3b67, "VFIO_GROUP_GET_STATUS");
_Static_assert(SVMD_VFIO_GROUP_SET_CONTAINER == 0x3b68, "VFIO_GROUP_SET_CONTAINER");
_Static_assert(SVMD_VFIO_GROUP_UNSET_CONTAINER == 0x3b69, "VFIO_GROUP_UNSET_CONTAINER");
_Static_assert(SVMD_VFIO_GROUP_GET_DEVICE_FD == 0x3b6a, "VFIO_GROUP_GET_DEVICE_FD");
_Static_assert(sizeof(struct svmd_vfio_group_status) == 8, "vfio_group_status");
_Static_assert(offsetof(struct svmd_vfio_group_status, flags) == 4, "vfio_group_status.flags");

/* ---- On a device fd (from a group or a cdev), VFIO since 3.6 ----------------------------- */

/*
 * VFIO's device structs start with argsz: the caller's size of the struct. The kernel reads
 * the fields up to its "minsz" (EINVAL if argsz is smaller), ignores the rest, and writes back
 * at most argsz bytes. svmd passes sizeof() of the structs here.
 */

/* VFIO_DEVICE_GET_INFO: what the device is (flags) and how many regions and IRQs it has. */
#define SVMD_VFIO_DEVICE_GET_INFO SEED_IO(SEED_VFIO_BASE + 7)
struct svmd_vfio_device_info {
	uint32_t argsz;       /* sizeof(struct svmd_vfio_device_info); minsz: through num_irqs */
	uint32_t flags;       /* out: SVMD_VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions; /* out: highest region index + 1 */
	uint32_t num_irqs;    /* out */
	uint32_t cap_offset;  /* out, with FLAGS_CAPS: first capability, from the struct's start */
	uint32_t pad;         /* not in 6.1's header (20 bytes there); the kernel ignores it */
};
#define SVMD_VFIO_DEVICE_FLAGS_RESET (1u << 0) /* VFIO_DEVICE_RESET works */
#define SVMD_VFIO_DEVICE_FLAGS_PCI   (1u << 1) /* a vfio-pci device */
#define SVMD_VFIO_DEVICE_FLAGS_CAPS  (1u << 7) /* capabilities follow, at cap_offset */

/* VFIO_DEVICE_GET_REGION_INFO: where region `index` (a BAR, config space) is in the device fd
 * (read/write/mmap at `offset`), how big it is and what it allows. */
#define SVMD_VFIO_DEVICE_GET_REGION_INFO SEED_IO(SEED_VFIO_BASE + 8)
struct svmd_vfio_region_info {
	uint32_t argsz; /* sizeof(struct svmd_vfio_region_info) */
	uint32_t flags; /* out: SVMD_VFIO_REGION_INFO_FLAG_* */
	uint32_t index; /* in: SVMD_VFIO_PCI_*_REGION_INDEX for vfio-pci */
	uint32_t cap_offset;
	svmd_aligned_u64 size;   /* out: bytes; 0 for an unimplemented BAR */
	svmd_aligned_u64 offset; /* out: where the region starts in the device fd */
};
#define SVMD_VFIO_REGION_INFO_FLAG_READ  (1u << 0)
#define SVMD_VFIO_REGION_INFO_FLAG_WRITE (1u << 1)
#define SVMD_VFIO_REGION_INFO_FLAG_MMAP  (1u << 2)
#define SVMD_VFIO_REGION_INFO_FLAG_CAPS  (1u << 3)
/* vfio-pci's fixed region indexes. */
#define SVMD_VFIO_PCI_BAR0_REGION_INDEX   0u /* BARn is index n, up to 5 */
#define SVMD_VFIO_PCI_BAR5_REGION_INDEX   5u
#define SVMD_VFIO_PCI_ROM_REGION_INDEX    6u
#define SVMD_VFIO_PCI_CONFIG_REGION_INDEX 7u

/* VFIO_DEVICE_RESET: resets the device (no argument), if FLAGS_RESET says it can. */
#define SVMD_VFIO_DEVICE_RESET SEED_IO(SEED_VFIO_BASE + 11)

/* ---- On a device cdev fd (/dev/vfio/devices/vfioN), VFIO since 6.6 ----------------------- */

/*
 * VFIO_DEVICE_BIND_IOMMUFD (6.6): binds the device to an iommufd; nothing else works on a cdev
 * fd before. out_devid names the device in iommufd ioctls (dev_id). Undone by closing the fd.
 * Layouts: 16 bytes (6.6), token_uuid_ptr (6.17, 24). svmd passes 24 with flags 0, which every
 * kernel takes: before 6.17 the kernel reads 16 bytes and ignores the rest; since, it zero-
 * checks bytes past its own struct, and token_uuid_ptr is only read with FLAG_TOKEN. A VF whose
 * PF set a VF token needs FLAG_TOKEN (6.17) and the token's 16 bytes at token_uuid_ptr.
 */
#define SVMD_VFIO_DEVICE_BIND_IOMMUFD SEED_IO(SEED_VFIO_BASE + 18)
struct svmd_vfio_device_bind_iommufd {
	uint32_t argsz; /* sizeof(struct svmd_vfio_device_bind_iommufd) */
	uint32_t flags; /* 0, or SVMD_VFIO_DEVICE_BIND_FLAG_TOKEN */
	int32_t iommufd;
	uint32_t out_devid;              /* out */
	svmd_aligned_u64 token_uuid_ptr; /* in, with FLAG_TOKEN: pointer to a 16-byte UUID */
};
#define SVMD_VFIO_DEVICE_BIND_FLAG_TOKEN (1u << 0)

/*
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT (6.6): attaches the device's RID (or, with FLAG_PASID, 6.15,
 * one of its PASIDs) to an IOAS or HWPT; attaching again replaces the translation in place.
 * pt_id comes back as the HWPT attached (for an IOAS, the one the kernel made or reused).
 * Layouts: 12 bytes (6.6), pasid (6.15, 16). The kernel reads minsz = 12 bytes, and pasid (so
 * argsz >= 16) only with FLAG_PASID. svmd passes 16 always: a 6.6-6.14 kernel ignores the
 * pasid bytes, and answers EINVAL to any flag, which is how it says it has no PASID attach.
 * 6.15+ answer EOPNOTSUPP to FLAG_PASID on a driver without PASID attach; a PASID attach
 * needs the RID on a HWPT allocated with IOMMU_HWPT_ALLOC_PASID first (else EINVAL). On a
 * device with no PASID capability it still returns 0 (measured on 7.2): svmd checks the PASID
 * against IOMMU_GET_HW_INFO's out_max_pasid_log2 itself.
 */
#define SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT SEED_IO(SEED_VFIO_BASE + 19)
struct svmd_vfio_device_attach_iommufd_pt {
	uint32_t argsz; /* sizeof(struct svmd_vfio_device_attach_iommufd_pt) */
	uint32_t flags; /* 0, or SVMD_VFIO_DEVICE_ATTACH_PASID */
	uint32_t pt_id; /* in: IOAS or HWPT; out: the HWPT attached */
	uint32_t pasid; /* in, with FLAG_PASID */
};
#define SVMD_VFIO_DEVICE_ATTACH_PASID (1u << 0)

/* VFIO_DEVICE_DETACH_IOMMUFD_PT (6.6): detaches the RID (or, with FLAG_PASID, 6.15, a PASID),
 * leaving it blocked. Layouts: 8 bytes (6.6), pasid (6.15, 12); svmd passes 12, as above. */
#define SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT SEED_IO(SEED_VFIO_BASE + 20)
struct svmd_vfio_device_detach_iommufd_pt {
	uint32_t argsz; /* sizeof(struct svmd_vfio_device_detach_iommufd_pt) */
	uint32_t flags; /* 0, or SVMD_VFIO_DEVICE_DETACH_PASID */
	uint32_t pasid; /* in, with FLAG_PASID */
};
#define SVMD_VFIO_DEVICE_DETACH_PASID (1u << 0)

/* The first layouts: the smallest argsz each accepts (the kernel's minsz). */
#define SVMD_VFIO_DEVICE_INFO_MINSZ                 16u /* through num_irqs */
#define SVMD_VFIO_DEVICE_BIND_IOMMUFD_SIZE_6_6      16u /* through out_devid */
#define SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT_SIZE_6_6 12u /* through pt_id */
#define SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT_SIZE_6_6 8u  /* through flags */

_Static_assert(SVMD_VFIO_DEVICE_GET_INFO == 0x3b6b, "VFIO_DEVICE_GET_INFO");
_Static_assert(SVMD_VFIO_DEVICE_GET_REGION_INFO == 0x3b6c, "VFIO_DEVICE_GET_REGION_INFO");
_Static_assert(SVMD_VFIO_DEVICE_RESET == 0x3b6f, "VFIO_DEVICE_RESET");
_Static_assert(SVMD_VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "VFIO_DEVICE_BIND_IOMMUFD");
_Static_assert(SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
_Static_assert(SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3b78, "VFIO_DEVICE_DETACH_IOMMUFD_PT");

_Static_assert(sizeof(struct svmd_vfio_device_info) == 24, "vfio_device_info");
_Static_assert(offsetof(struct svmd_vfio_device_info, flags) == 4, "vfio_device_info.flags");
_Static_assert(offsetof(struct svmd_vfio_device_info, num_regions) == 8, "num_regions");
_Static_assert(offsetof(struct svmd_vfio_device_info, num_irqs) == 12, "num_irqs");
_Static_assert(offsetof(struct svmd_vfio_device_info, cap_offset) == 16, "cap_offset");
_Static_assert(offsetof(struct svmd_vfio_device_info, pad) == 20, "vfio_device_info.pad");

_Static_assert(sizeof(struct svmd_vfio_region_info) == 32, "vfio_region_info");
_Static_assert(offsetof(struct svmd_vfio_region_info, flags) == 4, "vfio_region_info.flags");
_Static_assert(offsetof(struct svmd_vfio_region_info, index) == 8, "vfio_region_info.index");
_Static_assert(offsetof(struct svmd_vfio_region_info, cap_offset) == 12, "cap_offset");
_Static_assert(offsetof(struct svmd_vfio_region_info, size) == 16, "vfio_region_info.size");
_Static_assert(offsetof(struct svmd_vfio_region_info, offset) == 24, "vfio_region_info.offset");

_Static_assert(sizeof(struct svmd_vfio_device_bind_iommufd) == 24, "vfio_device_bind_iommufd");
_Static_assert(offsetof(struct svmd_vfio_device_bind_iommufd, flags) == 4, "bind.flags");
_Static_assert(offsetof(struct svmd_vfio_device_bind_iommufd, iommufd) == 8, "bind.iommufd");
_Static_assert(offsetof(struct svmd_vfio_device_bind_iommufd, out_devid) == 12, "out_devid");
_Static_assert(offsetof(struct svmd_vfio_device_bind_iommufd, token_uuid_ptr) ==
		       SVMD_VFIO_DEVICE_BIND_IOMMUFD_SIZE_6_6,
	       "bind grew at its end in 6.17");

_Static_assert(sizeof(struct svmd_vfio_device_attach_iommufd_pt) == 16, "attach_iommufd_pt");
_Static_assert(offsetof(struct svmd_vfio_device_attach_iommufd_pt, flags) == 4, "attach.flags");
_Static_assert(offsetof(struct svmd_vfio_device_attach_iommufd_pt, pt_id) == 8, "attach.pt_id");
_Static_assert(offsetof(struct svmd_vfio_device_attach_iommufd_pt, pasid) ==
		       SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT_SIZE_6_6,
	       "attach grew at its end in 6.15");

_Static_assert(sizeof(struct svmd_vfio_device_detach_iommufd_pt) == 12, "detach_iommufd_pt");
_Static_assert(offsetof(struct svmd_vfio_device_detach_iommufd_pt, flags) == 4, "detach.flags");
_Static_assert(offsetof(struct svmd_vfio_device_detach_iommufd_pt, pasid) ==
		       SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT_SIZE_6_6,
	       "detach grew at its end in 6.15");
_Static_assert(offsetof(struct svmd_vfio_device_info, cap_offset) == SVMD_VFIO_DEVICE_INFO_MINSZ,
	       "vfio_device_info minsz");
