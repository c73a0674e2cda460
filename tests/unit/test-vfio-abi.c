/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's own VFIO definitions (daemon/vfio-abi.h) against the kernel's <linux/vfio.h>: every
 * ioctl number, constant, struct size and offset the vfio backend uses, and the seed ioctls'
 * numbers against every number mainline VFIO has taken.
 */
#include <criterion/criterion.h>
#include <linux/ioctl.h>
#include <linux/vfio.h>
#include <stddef.h>

#include "vfio-abi.h"

Test(vfio_abi, type_and_base)
{
	cr_assert_eq(SEED_VFIO_TYPE, VFIO_TYPE);
	cr_assert_eq(SEED_VFIO_BASE, VFIO_BASE);
}

Test(vfio_abi, container_ioctls)
{
	cr_assert_eq(SVMD_VFIO_GET_API_VERSION, VFIO_GET_API_VERSION);
	cr_assert_eq(SVMD_VFIO_CHECK_EXTENSION, VFIO_CHECK_EXTENSION);
	cr_assert_eq(SVMD_VFIO_SET_IOMMU, VFIO_SET_IOMMU);
}

Test(vfio_abi, group_ioctls)
{
	cr_assert_eq(SVMD_VFIO_GROUP_GET_STATUS, VFIO_GROUP_GET_STATUS);
	cr_assert_eq(SVMD_VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_SET_CONTAINER);
	cr_assert_eq(SVMD_VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER);
	cr_assert_eq(SVMD_VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_DEVICE_FD);
}

Test(vfio_abi, no_direction_or_size_bits)
{
	/* VFIO ioctls are all _IO(): structs carry their own argsz. */
	const unsigned long numbers[] = {
		SVMD_VFIO_GET_API_VERSION,     SVMD_VFIO_CHECK_EXTENSION,
		SVMD_VFIO_SET_IOMMU,           SVMD_VFIO_GROUP_GET_STATUS,
		SVMD_VFIO_GROUP_SET_CONTAINER, SVMD_VFIO_GROUP_UNSET_CONTAINER,
		SVMD_VFIO_GROUP_GET_DEVICE_FD,
	};
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		cr_assert_eq(_IOC_DIR(numbers[i]), _IOC_NONE, "0x%lx", numbers[i]);
		cr_assert_eq(_IOC_SIZE(numbers[i]), 0, "0x%lx", numbers[i]);
		cr_assert_eq(_IOC_TYPE(numbers[i]), VFIO_TYPE, "0x%lx", numbers[i]);
	}
}

Test(vfio_abi, constants)
{
	cr_assert_eq(SVMD_VFIO_API_VERSION, VFIO_API_VERSION);
	cr_assert_eq(SVMD_VFIO_TYPE1_IOMMU, VFIO_TYPE1_IOMMU);
	cr_assert_eq(SVMD_VFIO_TYPE1v2_IOMMU, VFIO_TYPE1v2_IOMMU);
	cr_assert_eq(SVMD_VFIO_NOIOMMU_IOMMU, VFIO_NOIOMMU_IOMMU);
	cr_assert_eq(SVMD_VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_FLAGS_VIABLE);
	cr_assert_eq(SVMD_VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_CONTAINER_SET);
}

Test(vfio_abi, group_status_layout)
{
	cr_assert_eq(sizeof(struct svmd_vfio_group_status), sizeof(struct vfio_group_status));
	cr_assert_eq(offsetof(struct svmd_vfio_group_status, argsz),
		     offsetof(struct vfio_group_status, argsz));
	cr_assert_eq(offsetof(struct svmd_vfio_group_status, flags),
		     offsetof(struct vfio_group_status, flags));
	cr_assert_eq(sizeof(((struct svmd_vfio_group_status *)0)->flags),
		     sizeof(((struct vfio_group_status *)0)->flags));
}

Test(vfio_abi, seed_numbers_are_free_in_mainline)
{
	/* Every VFIO ioctl this kernel header defines: if mainline ever gave 0x3b7a or 0x3b7b a
	 * meaning on a container, the start-up probe would misread the answer. */
	const unsigned long mainline[] = {
		VFIO_GET_API_VERSION,
		VFIO_CHECK_EXTENSION,
		VFIO_SET_IOMMU,
		VFIO_GROUP_GET_STATUS,
		VFIO_GROUP_SET_CONTAINER,
		VFIO_GROUP_UNSET_CONTAINER,
		VFIO_GROUP_GET_DEVICE_FD,
		VFIO_DEVICE_GET_INFO,
		VFIO_DEVICE_GET_REGION_INFO,
		VFIO_DEVICE_GET_IRQ_INFO,
		VFIO_DEVICE_SET_IRQS,
		VFIO_DEVICE_RESET,
		VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
		VFIO_DEVICE_PCI_HOT_RESET,
		VFIO_DEVICE_QUERY_GFX_PLANE,
		VFIO_DEVICE_GET_GFX_DMABUF,
		VFIO_DEVICE_IOEVENTFD,
		VFIO_DEVICE_FEATURE,
		VFIO_IOMMU_GET_INFO,
		VFIO_IOMMU_MAP_DMA,
		VFIO_IOMMU_UNMAP_DMA,
		VFIO_IOMMU_ENABLE,
		VFIO_IOMMU_DISABLE,
		VFIO_IOMMU_DIRTY_PAGES,
		VFIO_EEH_PE_OP,
		VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
		VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
		VFIO_IOMMU_SPAPR_TCE_CREATE,
		VFIO_IOMMU_SPAPR_TCE_REMOVE,
	};
	for (size_t i = 0; i < sizeof(mainline) / sizeof(mainline[0]); i++) {
		cr_assert_neq(mainline[i], SEED_VFIO_IOMMU_SVM_BIND, "0x%lx", mainline[i]);
		cr_assert_neq(mainline[i], SEED_VFIO_IOMMU_SVM_UNBIND, "0x%lx", mainline[i]);
	}
}
