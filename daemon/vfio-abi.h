/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The legacy VFIO container/group uAPI that svmd needs to own a group, written from the ABI
 * facts in KERNEL-ABI.md (not copied from kernel headers). tests/unit/test-vfio-abi.c compares
 * every number and layout here with the installed <linux/vfio.h>.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

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
