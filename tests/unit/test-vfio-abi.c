/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's own VFIO definitions (daemon/vfio-abi.h) against the kernel's <linux/vfio.h>: every
 * ioctl number, constant, struct size and offset the vfio backend uses, and the seed ioctls'
 * numbers against every number mainline VFIO has taken. The device-cdev ioctls (6.6) and their
 * PASID (6.15) and VF token (6.17) fields are compared when the installed header has them, and
 * skipped, saying so, when it does not (Debian 12's 6.1 headers).
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
		SVMD_VFIO_GET_API_VERSION,
		SVMD_VFIO_CHECK_EXTENSION,
		SVMD_VFIO_SET_IOMMU,
		SVMD_VFIO_GROUP_GET_STATUS,
		SVMD_VFIO_GROUP_SET_CONTAINER,
		SVMD_VFIO_GROUP_UNSET_CONTAINER,
		SVMD_VFIO_GROUP_GET_DEVICE_FD,
		SVMD_VFIO_DEVICE_GET_INFO,
		SVMD_VFIO_DEVICE_GET_REGION_INFO,
		SVMD_VFIO_DEVICE_RESET,
		SVMD_VFIO_DEVICE_BIND_IOMMUFD,
		SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT,
		SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT,
	};
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		cr_assert_eq(_IOC_DIR(numbers[i]), _IOC_NONE, "0x%lx", numbers[i]);
		cr_assert_eq(_IOC_SIZE(numbers[i]), 0, "0x%lx", numbers[i]);
		cr_assert_eq(_IOC_TYPE(numbers[i]), VFIO_TYPE, "0x%lx", numbers[i]);
		/* Below iommufd's 0x80: an iommufd also answers VFIO container ioctls. */
		cr_assert_lt(_IOC_NR(numbers[i]), SVMD_IOMMUFD_BASE, "0x%lx", numbers[i]);
	}
}

/* Our field against theirs: same offset, same size. */
static void same_field(size_t our_off, size_t their_off, size_t our_size, size_t their_size,
		       const char *name)
{
	cr_expect_eq(our_off, their_off, "%s: offset %zu, the kernel's %zu", name, our_off,
		     their_off);
	cr_expect_eq(our_size, their_size, "%s: size %zu, the kernel's %zu", name, our_size,
		     their_size);
}
#define SAME_FIELD2(ours, our_field, theirs, their_field)                                          \
	same_field(offsetof(struct ours, our_field), offsetof(struct theirs, their_field),         \
		   sizeof(((struct ours *)0)->our_field),                                          \
		   sizeof(((struct theirs *)0)->their_field), #theirs "." #their_field)
#define SAME_FIELD(ours, theirs, field) SAME_FIELD2(ours, field, theirs, field)

Test(vfio_abi, device_ioctls)
{
	cr_assert_eq(SVMD_VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_INFO);
	cr_assert_eq(SVMD_VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_REGION_INFO);
	cr_assert_eq(SVMD_VFIO_DEVICE_RESET, VFIO_DEVICE_RESET);
	cr_assert_eq(SVMD_VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_RESET);
	cr_assert_eq(SVMD_VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PCI);
	cr_assert_eq(SVMD_VFIO_DEVICE_FLAGS_CAPS, VFIO_DEVICE_FLAGS_CAPS);
	cr_assert_eq(SVMD_VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_READ);
	cr_assert_eq(SVMD_VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_WRITE);
	cr_assert_eq(SVMD_VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_MMAP);
	cr_assert_eq(SVMD_VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_CAPS);
	cr_assert_eq(SVMD_VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR0_REGION_INDEX);
	cr_assert_eq(SVMD_VFIO_PCI_BAR5_REGION_INDEX, VFIO_PCI_BAR5_REGION_INDEX);
	cr_assert_eq(SVMD_VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX);
	cr_assert_eq(SVMD_VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX);
}

Test(vfio_abi, device_info_layouts)
{
	SAME_FIELD(svmd_vfio_device_info, vfio_device_info, argsz);
	SAME_FIELD(svmd_vfio_device_info, vfio_device_info, flags);
	SAME_FIELD(svmd_vfio_device_info, vfio_device_info, num_regions);
	SAME_FIELD(svmd_vfio_device_info, vfio_device_info, num_irqs);
	SAME_FIELD(svmd_vfio_device_info, vfio_device_info, cap_offset);
	/* 6.1's struct ends at cap_offset; later ones add pad. Either way the kernel reads
	 * through num_irqs and svmd's larger argsz is fine. */
	size_t theirs = sizeof(struct vfio_device_info);
	cr_expect(theirs == sizeof(struct svmd_vfio_device_info) ||
			  theirs == offsetof(struct svmd_vfio_device_info, pad),
		  "vfio_device_info is %zu bytes", theirs);

	cr_expect_eq(sizeof(struct svmd_vfio_region_info), sizeof(struct vfio_region_info));
	SAME_FIELD(svmd_vfio_region_info, vfio_region_info, argsz);
	SAME_FIELD(svmd_vfio_region_info, vfio_region_info, flags);
	SAME_FIELD(svmd_vfio_region_info, vfio_region_info, index);
	SAME_FIELD(svmd_vfio_region_info, vfio_region_info, cap_offset);
	SAME_FIELD(svmd_vfio_region_info, vfio_region_info, size);
	SAME_FIELD(svmd_vfio_region_info, vfio_region_info, offset);
}

Test(vfio_abi, cdev_ioctls)
{
#ifdef VFIO_DEVICE_BIND_IOMMUFD
	cr_assert_eq(SVMD_VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_BIND_IOMMUFD);
	cr_assert_eq(SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_ATTACH_IOMMUFD_PT);
	cr_assert_eq(SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT);

	SAME_FIELD(svmd_vfio_device_bind_iommufd, vfio_device_bind_iommufd, argsz);
	SAME_FIELD(svmd_vfio_device_bind_iommufd, vfio_device_bind_iommufd, flags);
	SAME_FIELD(svmd_vfio_device_bind_iommufd, vfio_device_bind_iommufd, iommufd);
	SAME_FIELD(svmd_vfio_device_bind_iommufd, vfio_device_bind_iommufd, out_devid);
	SAME_FIELD(svmd_vfio_device_attach_iommufd_pt, vfio_device_attach_iommufd_pt, argsz);
	SAME_FIELD(svmd_vfio_device_attach_iommufd_pt, vfio_device_attach_iommufd_pt, flags);
	SAME_FIELD(svmd_vfio_device_attach_iommufd_pt, vfio_device_attach_iommufd_pt, pt_id);
	SAME_FIELD(svmd_vfio_device_detach_iommufd_pt, vfio_device_detach_iommufd_pt, argsz);
	SAME_FIELD(svmd_vfio_device_detach_iommufd_pt, vfio_device_detach_iommufd_pt, flags);
#else
	cr_skip_test("this <linux/vfio.h> predates the VFIO device cdev (Linux 6.6)");
#endif
}

Test(vfio_abi, cdev_newer_fields)
{
#if defined(VFIO_DEVICE_ATTACH_PASID) && defined(VFIO_DEVICE_BIND_FLAG_TOKEN)
	cr_assert_eq(SVMD_VFIO_DEVICE_ATTACH_PASID, VFIO_DEVICE_ATTACH_PASID);
	cr_assert_eq(SVMD_VFIO_DEVICE_DETACH_PASID, VFIO_DEVICE_DETACH_PASID);
	cr_assert_eq(SVMD_VFIO_DEVICE_BIND_FLAG_TOKEN, VFIO_DEVICE_BIND_FLAG_TOKEN);
	cr_expect_eq(sizeof(struct svmd_vfio_device_attach_iommufd_pt),
		     sizeof(struct vfio_device_attach_iommufd_pt));
	SAME_FIELD(svmd_vfio_device_attach_iommufd_pt, vfio_device_attach_iommufd_pt, pasid);
	cr_expect_eq(sizeof(struct svmd_vfio_device_detach_iommufd_pt),
		     sizeof(struct vfio_device_detach_iommufd_pt));
	SAME_FIELD(svmd_vfio_device_detach_iommufd_pt, vfio_device_detach_iommufd_pt, pasid);
	cr_expect_eq(sizeof(struct svmd_vfio_device_bind_iommufd),
		     sizeof(struct vfio_device_bind_iommufd));
	SAME_FIELD(svmd_vfio_device_bind_iommufd, vfio_device_bind_iommufd, token_uuid_ptr);
#elif defined(VFIO_DEVICE_BIND_IOMMUFD)
	/* The first layouts, which svmd's pasid follows (a failure here fails the test). */
	cr_assert_eq(sizeof(struct vfio_device_attach_iommufd_pt),
		     SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT_SIZE_6_6);
	cr_assert_eq(sizeof(struct vfio_device_detach_iommufd_pt),
		     SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT_SIZE_6_6);
	cr_skip_test("this <linux/vfio.h> predates PASID attach (6.15) or the VF token (6.17)");
#else
	cr_skip_test("this <linux/vfio.h> predates the VFIO device cdev (Linux 6.6)");
#endif
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
#ifdef VFIO_DEVICE_BIND_IOMMUFD
		VFIO_DEVICE_BIND_IOMMUFD,
		VFIO_DEVICE_ATTACH_IOMMUFD_PT,
		VFIO_DEVICE_DETACH_IOMMUFD_PT,
#endif
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
