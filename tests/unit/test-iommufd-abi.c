/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's own iommufd definitions (daemon/iommufd-abi.h, and the test-only
 * daemon/iommufd-test-abi.h) against the kernel's. Always: the ioctl numbers against
 * <linux/ioctl.h>'s encoding, the sizes the kernel accepts, the reserved fields, and no
 * implicit padding anywhere. With a system <linux/iommufd.h>: every number, size and offset,
 * as far as that header's release has them (each part says which release it needs and is
 * skipped, saying so, before it). With the kernel's drivers/iommu/iommufd/iommufd_test.h on
 * the include path (never installed; see iommufd-test-abi.h): the mock's ops and layouts.
 */
#include <criterion/criterion.h>
#include <linux/ioctl.h>
#include <stddef.h>
#include <stdint.h>

/* seed-abi.h has padded structs of svmd's own; it is read here first, so the pragma below
 * covers only the kernel's layouts. */
#include "seed-abi.h"
/* The uAPI names every byte (__reserved, padding): a hole would be bytes the kernel may check
 * for zero that nothing in svmd sets. Any implicit padding in these headers fails this build. */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wpadded"
#include "iommufd-abi.h"
#include "vfio-abi.h"
#pragma GCC diagnostic pop

#define SVMD_IOMMUFD_TEST_ABI
#include "iommufd-test-abi.h"

#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#define HAVE_IOMMUFD_H 1
#if __has_include(<iommufd_test.h>)
#include <iommufd_test.h>
#define HAVE_IOMMUFD_TEST_H 1
#endif
#endif

/* The size of a field, without an object. */
#define FIELD_SIZE(type, field) sizeof(((struct type *)0)->field)

#ifdef HAVE_IOMMUFD_H
static void same_value(unsigned long long ours, unsigned long long theirs, const char *name)
{
	cr_expect_eq(ours, theirs, "%s: svmd has 0x%llx, the kernel 0x%llx", name, ours, theirs);
}
#define SAME(ours, theirs) same_value((ours), (theirs), #theirs)

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
		   FIELD_SIZE(ours, our_field), FIELD_SIZE(theirs, their_field),                   \
		   #theirs "." #their_field)
#define SAME_FIELD(ours, theirs, field) SAME_FIELD2(ours, field, theirs, field)
#define SAME_SIZE(ours, theirs)                                                                    \
	same_value(sizeof(struct ours), sizeof(struct theirs), "sizeof(struct " #theirs ")")
#endif

/* ---- Without the kernel's headers ------------------------------------------------------- */

/* Every /dev/iommu ioctl svmd defines, with the command number the kernel gives it. */
static const struct {
	unsigned long number;
	unsigned nr;
	const char *name;
} iommufd_ioctls[] = {
	{SVMD_IOMMU_DESTROY, 0x80, "DESTROY"},
	{SVMD_IOMMU_IOAS_ALLOC, 0x81, "IOAS_ALLOC"},
	{SVMD_IOMMU_IOAS_ALLOW_IOVAS, 0x82, "IOAS_ALLOW_IOVAS"},
	{SVMD_IOMMU_IOAS_IOVA_RANGES, 0x84, "IOAS_IOVA_RANGES"},
	{SVMD_IOMMU_IOAS_MAP, 0x85, "IOAS_MAP"},
	{SVMD_IOMMU_IOAS_UNMAP, 0x86, "IOAS_UNMAP"},
	{SVMD_IOMMU_OPTION, 0x87, "OPTION"},
	{SVMD_IOMMU_HWPT_ALLOC, 0x89, "HWPT_ALLOC"},
	{SVMD_IOMMU_GET_HW_INFO, 0x8a, "GET_HW_INFO"},
	{SVMD_IOMMU_HWPT_INVALIDATE, 0x8d, "HWPT_INVALIDATE"},
	{SVMD_IOMMU_FAULT_QUEUE_ALLOC, 0x8e, "FAULT_QUEUE_ALLOC"},
	{SVMD_IOMMU_IOAS_MAP_FILE, 0x8f, "IOAS_MAP_FILE"},
	{SVMD_IOMMU_VIOMMU_ALLOC, 0x90, "VIOMMU_ALLOC"},
	{SVMD_IOMMU_VDEVICE_ALLOC, 0x91, "VDEVICE_ALLOC"},
	{SVMD_IOMMU_VEVENTQ_ALLOC, 0x93, "VEVENTQ_ALLOC"},
	{SVMD_IOMMU_TEST_CMD, 0xa0, "TEST_CMD"},
};
#define N_IOMMUFD_IOCTLS (sizeof(iommufd_ioctls) / sizeof(iommufd_ioctls[0]))

Test(iommufd_abi, numbers_are_plain_io)
{
	for (size_t i = 0; i < N_IOMMUFD_IOCTLS; i++) {
		unsigned long n = iommufd_ioctls[i].number;
		const char *name = iommufd_ioctls[i].name;

		cr_expect_eq(n, (unsigned long)_IO(';', iommufd_ioctls[i].nr), "%s: 0x%lx", name,
			     n);
		cr_expect_eq(_IOC_TYPE(n), (unsigned)';', "%s", name);
		cr_expect_eq(_IOC_NR(n), iommufd_ioctls[i].nr, "%s", name);
		/* The size is the struct's first u32, not in the number. */
		cr_expect_eq(_IOC_DIR(n), _IOC_NONE, "%s", name);
		cr_expect_eq(_IOC_SIZE(n), 0u, "%s", name);
	}
}

Test(iommufd_abi, numbers_are_distinct_from_each_other_and_vfio)
{
	/* iommufd and VFIO share the type ';'; an iommufd also answers the VFIO container
	 * ioctls (type1 compatibility), so the two ranges must not meet. */
	const unsigned long vfio[] = {
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
		SEED_VFIO_IOMMU_SVM_BIND,
		SEED_VFIO_IOMMU_SVM_UNBIND,
	};
	for (size_t i = 0; i < N_IOMMUFD_IOCTLS; i++) {
		cr_expect_geq(_IOC_NR(iommufd_ioctls[i].number), SVMD_IOMMUFD_BASE, "%s",
			      iommufd_ioctls[i].name);
		for (size_t j = i + 1; j < N_IOMMUFD_IOCTLS; j++)
			cr_expect_neq(iommufd_ioctls[i].number, iommufd_ioctls[j].number,
				      "%s and %s", iommufd_ioctls[i].name, iommufd_ioctls[j].name);
	}
	for (size_t j = 0; j < sizeof(vfio) / sizeof(vfio[0]); j++) {
		cr_expect_eq(_IOC_TYPE(vfio[j]), (unsigned)SVMD_IOMMUFD_TYPE, "VFIO 0x%lx",
			     vfio[j]);
		cr_expect_lt(_IOC_NR(vfio[j]), SVMD_IOMMUFD_BASE, "VFIO 0x%lx", vfio[j]);
		for (size_t k = j + 1; k < sizeof(vfio) / sizeof(vfio[0]); k++)
			cr_expect_neq(vfio[j], vfio[k], "VFIO 0x%lx twice", vfio[j]);
	}
}

/*
 * The structs the kernel reads by their leading size: what svmd passes (sizeof), and the
 * first layout, the least the kernel takes (its min_size; VFIO's minsz). The numbers are the
 * kernel's, restated here so a change to the header's layout must change this table too.
 */
static const struct {
	const char *name;
	size_t size, want, first, size_field_off, size_field_len;
} sized[] = {
#define SIZED(type, size_field, want, first)                                                       \
	{                                                                                          \
#type, sizeof(struct type), want, first, offsetof(struct type, size_field),        \
			FIELD_SIZE(type, size_field)                                               \
	}
	SIZED(svmd_iommu_destroy, size, 8, 8),
	SIZED(svmd_iommu_ioas_alloc, size, 12, 12),
	SIZED(svmd_iommu_ioas_allow_iovas, size, 24, 24),
	SIZED(svmd_iommu_ioas_iova_ranges, size, 32, 32),
	SIZED(svmd_iommu_ioas_map, size, 40, 40),
	SIZED(svmd_iommu_ioas_map_file, size, 40, 40),
	SIZED(svmd_iommu_ioas_unmap, size, 24, 24),
	SIZED(svmd_iommu_option, size, 24, 24),
	SIZED(svmd_iommu_hw_info, size, 40, 32),    /* 6.6: 32; 6.7: out_capabilities */
	SIZED(svmd_iommu_hwpt_alloc, size, 48, 24), /* 6.6: 24; 6.7: data; 6.11: fault_id */
	SIZED(svmd_iommu_hwpt_invalidate, size, 32, 32),
	SIZED(svmd_iommu_fault_alloc, size, 16, 16),
	SIZED(svmd_iommu_viommu_alloc, size, 40, 24), /* 6.13: 24; 6.17: data */
	SIZED(svmd_iommu_vdevice_alloc, size, 24, 24),
	SIZED(svmd_iommu_veventq_alloc, size, 32, 32),
	SIZED(svmd_iommu_test_cmd, size, 72, 68), /* through `last` */
	SIZED(svmd_vfio_device_info, argsz, 24, 16),
	SIZED(svmd_vfio_region_info, argsz, 32, 32),
	SIZED(svmd_vfio_device_bind_iommufd, argsz, 24, 16),      /* 6.17: token */
	SIZED(svmd_vfio_device_attach_iommufd_pt, argsz, 16, 12), /* 6.15: pasid */
	SIZED(svmd_vfio_device_detach_iommufd_pt, argsz, 12, 8),  /* 6.15: pasid */
#undef SIZED
};

Test(iommufd_abi, sizes_the_kernel_takes)
{
	for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
		cr_expect_eq(sized[i].size, sized[i].want, "%s is %zu bytes", sized[i].name,
			     sized[i].size);
		cr_expect_eq(sized[i].size_field_off, 0u, "%s", sized[i].name);
		cr_expect_eq(sized[i].size_field_len, 4u, "%s", sized[i].name);
		cr_expect_leq(sized[i].first, sized[i].size, "%s", sized[i].name);
	}
	/* Each newer layout starts where the older one ended: the kernel's zero-fill and
	 * zero-check of the tail is what lets one size work on every release. */
	cr_expect_eq(offsetof(struct svmd_iommu_hw_info, out_capabilities), 32u);
	cr_expect_eq(offsetof(struct svmd_iommu_hwpt_alloc, data_type), 24u);
	cr_expect_eq(offsetof(struct svmd_iommu_hwpt_alloc, fault_id), 40u);
	cr_expect_eq(offsetof(struct svmd_iommu_viommu_alloc, data_len), 24u);
	cr_expect_eq(offsetof(struct svmd_iommu_test_cmd, last) + 4, 68u);
	cr_expect_eq(offsetof(struct svmd_vfio_device_info, cap_offset), 16u);
	cr_expect_eq(offsetof(struct svmd_vfio_device_bind_iommufd, token_uuid_ptr), 16u);
	cr_expect_eq(offsetof(struct svmd_vfio_device_attach_iommufd_pt, pasid), 12u);
	cr_expect_eq(offsetof(struct svmd_vfio_device_detach_iommufd_pt, pasid), 8u);
}

/* Where the kernel documents "must be 0", as offset and size. */
Test(iommufd_abi, reserved_fields)
{
	static const struct {
		const char *name;
		size_t off, len, want_off, want_len;
	} rows[] = {
#define RESERVED(type, field, off, len)                                                            \
	{#type "." #field, offsetof(struct type, field), FIELD_SIZE(type, field), off, len}
		RESERVED(svmd_iommu_ioas_allow_iovas, reserved, 12, 4),
		RESERVED(svmd_iommu_ioas_iova_ranges, reserved, 12, 4),
		RESERVED(svmd_iommu_ioas_map, reserved, 12, 4),
		RESERVED(svmd_iommu_option, reserved, 10, 2),
		RESERVED(svmd_iommu_hw_info, reserved, 29, 3),
		RESERVED(svmd_iommu_hw_info_vtd, reserved, 4, 4),
		RESERVED(svmd_iommu_hw_info_arm_smmuv3, reserved, 4, 4),
		RESERVED(svmd_iommu_hwpt_vtd_s1, reserved, 20, 4),
		RESERVED(svmd_iommu_hwpt_alloc, reserved, 20, 4),
		RESERVED(svmd_iommu_hwpt_alloc, reserved2, 44, 4),
		RESERVED(svmd_iommu_hwpt_vtd_s1_invalidate, reserved, 20, 4),
		RESERVED(svmd_iommu_hwpt_invalidate, reserved, 28, 4),
		RESERVED(svmd_iommu_hwpt_pgfault, reserved, 20, 4),
		RESERVED(svmd_iommu_viommu_alloc, reserved, 28, 4),
		RESERVED(svmd_iommu_veventq_alloc, reserved, 28, 4),
		RESERVED(svmd_iommu_test_cmd, reserved, 12, 4),
		RESERVED(svmd_vfio_device_info, pad, 20, 4),
#undef RESERVED
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cr_expect_eq(rows[i].off, rows[i].want_off, "%s at %zu", rows[i].name, rows[i].off);
		cr_expect_eq(rows[i].len, rows[i].want_len, "%s is %zu bytes", rows[i].name,
			     rows[i].len);
	}
}

/* ---- Against the system's <linux/iommufd.h> --------------------------------------------- */

#ifndef HAVE_IOMMUFD_H
#define NO_HEADER() cr_skip_test("no <linux/iommufd.h> here (headers before Linux 6.2)")
#endif

Test(iommufd_abi_kernel, ioas_since_6_2)
{
#ifdef HAVE_IOMMUFD_H
	SAME(SVMD_IOMMUFD_TYPE, IOMMUFD_TYPE);
	SAME(SVMD_IOMMUFD_BASE, IOMMUFD_CMD_BASE);
	SAME(SVMD_IOMMU_DESTROY, IOMMU_DESTROY);
	SAME(SVMD_IOMMU_IOAS_ALLOC, IOMMU_IOAS_ALLOC);
	SAME(SVMD_IOMMU_IOAS_ALLOW_IOVAS, IOMMU_IOAS_ALLOW_IOVAS);
	SAME(SVMD_IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_IOVA_RANGES);
	SAME(SVMD_IOMMU_IOAS_MAP, IOMMU_IOAS_MAP);
	SAME(SVMD_IOMMU_IOAS_UNMAP, IOMMU_IOAS_UNMAP);
	SAME(SVMD_IOMMU_OPTION, IOMMU_OPTION);
	SAME(SVMD_IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_FIXED_IOVA);
	SAME(SVMD_IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP_WRITEABLE);
	SAME(SVMD_IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_READABLE);
	SAME(SVMD_IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_RLIMIT_MODE);
	SAME(SVMD_IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_HUGE_PAGES);
	SAME(SVMD_IOMMU_OPTION_OP_SET, IOMMU_OPTION_OP_SET);
	SAME(SVMD_IOMMU_OPTION_OP_GET, IOMMU_OPTION_OP_GET);

	SAME_SIZE(svmd_iommu_destroy, iommu_destroy);
	SAME_FIELD(svmd_iommu_destroy, iommu_destroy, size);
	SAME_FIELD(svmd_iommu_destroy, iommu_destroy, id);
	SAME_SIZE(svmd_iommu_ioas_alloc, iommu_ioas_alloc);
	SAME_FIELD(svmd_iommu_ioas_alloc, iommu_ioas_alloc, size);
	SAME_FIELD(svmd_iommu_ioas_alloc, iommu_ioas_alloc, flags);
	SAME_FIELD(svmd_iommu_ioas_alloc, iommu_ioas_alloc, out_ioas_id);
	SAME_SIZE(svmd_iommu_iova_range, iommu_iova_range);
	SAME_FIELD(svmd_iommu_iova_range, iommu_iova_range, start);
	SAME_FIELD(svmd_iommu_iova_range, iommu_iova_range, last);
	SAME_SIZE(svmd_iommu_ioas_allow_iovas, iommu_ioas_allow_iovas);
	SAME_FIELD(svmd_iommu_ioas_allow_iovas, iommu_ioas_allow_iovas, size);
	SAME_FIELD(svmd_iommu_ioas_allow_iovas, iommu_ioas_allow_iovas, ioas_id);
	SAME_FIELD(svmd_iommu_ioas_allow_iovas, iommu_ioas_allow_iovas, num_iovas);
	SAME_FIELD2(svmd_iommu_ioas_allow_iovas, reserved, iommu_ioas_allow_iovas, __reserved);
	SAME_FIELD(svmd_iommu_ioas_allow_iovas, iommu_ioas_allow_iovas, allowed_iovas);
	SAME_SIZE(svmd_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges);
	SAME_FIELD(svmd_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, size);
	SAME_FIELD(svmd_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, ioas_id);
	SAME_FIELD(svmd_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, num_iovas);
	SAME_FIELD2(svmd_iommu_ioas_iova_ranges, reserved, iommu_ioas_iova_ranges, __reserved);
	SAME_FIELD(svmd_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, allowed_iovas);
	SAME_FIELD(svmd_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, out_iova_alignment);
	SAME_SIZE(svmd_iommu_ioas_map, iommu_ioas_map);
	SAME_FIELD(svmd_iommu_ioas_map, iommu_ioas_map, size);
	SAME_FIELD(svmd_iommu_ioas_map, iommu_ioas_map, flags);
	SAME_FIELD(svmd_iommu_ioas_map, iommu_ioas_map, ioas_id);
	SAME_FIELD2(svmd_iommu_ioas_map, reserved, iommu_ioas_map, __reserved);
	SAME_FIELD(svmd_iommu_ioas_map, iommu_ioas_map, user_va);
	SAME_FIELD(svmd_iommu_ioas_map, iommu_ioas_map, length);
	SAME_FIELD(svmd_iommu_ioas_map, iommu_ioas_map, iova);
	SAME_SIZE(svmd_iommu_ioas_unmap, iommu_ioas_unmap);
	SAME_FIELD(svmd_iommu_ioas_unmap, iommu_ioas_unmap, size);
	SAME_FIELD(svmd_iommu_ioas_unmap, iommu_ioas_unmap, ioas_id);
	SAME_FIELD(svmd_iommu_ioas_unmap, iommu_ioas_unmap, iova);
	SAME_FIELD(svmd_iommu_ioas_unmap, iommu_ioas_unmap, length);
	SAME_SIZE(svmd_iommu_option, iommu_option);
	SAME_FIELD(svmd_iommu_option, iommu_option, size);
	SAME_FIELD(svmd_iommu_option, iommu_option, option_id);
	SAME_FIELD(svmd_iommu_option, iommu_option, op);
	SAME_FIELD2(svmd_iommu_option, reserved, iommu_option, __reserved);
	SAME_FIELD(svmd_iommu_option, iommu_option, object_id);
	SAME_FIELD(svmd_iommu_option, iommu_option, val64);
#else
	NO_HEADER();
#endif
}

/* 6.8: HWPT_ALLOC with data (6.7), GET_HW_INFO with capabilities (6.7), HWPT_INVALIDATE. */
Test(iommufd_abi_kernel, hwpt_and_hw_info_since_6_8)
{
#if defined(IOMMU_HWPT_INVALIDATE)
	SAME(SVMD_IOMMU_HWPT_ALLOC, IOMMU_HWPT_ALLOC);
	SAME(SVMD_IOMMU_GET_HW_INFO, IOMMU_GET_HW_INFO);
	SAME(SVMD_IOMMU_HWPT_INVALIDATE, IOMMU_HWPT_INVALIDATE);
	SAME(SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_NEST_PARENT);
	SAME(SVMD_IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
	SAME(SVMD_IOMMU_HWPT_DATA_NONE, IOMMU_HWPT_DATA_NONE);
	SAME(SVMD_IOMMU_HWPT_DATA_VTD_S1, IOMMU_HWPT_DATA_VTD_S1);
	SAME(SVMD_IOMMU_VTD_S1_SRE, IOMMU_VTD_S1_SRE);
	SAME(SVMD_IOMMU_VTD_S1_EAFE, IOMMU_VTD_S1_EAFE);
	SAME(SVMD_IOMMU_VTD_S1_WPE, IOMMU_VTD_S1_WPE);
	SAME(SVMD_IOMMU_HW_INFO_TYPE_NONE, IOMMU_HW_INFO_TYPE_NONE);
	SAME(SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD, IOMMU_HW_INFO_TYPE_INTEL_VTD);
	SAME(SVMD_IOMMU_HW_CAP_DIRTY_TRACKING, IOMMU_HW_CAP_DIRTY_TRACKING);
	SAME(SVMD_IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17, IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17);
	SAME(SVMD_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1);
	SAME(SVMD_IOMMU_VTD_INV_FLAGS_LEAF, IOMMU_VTD_INV_FLAGS_LEAF);

	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, size);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, flags);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, dev_id);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, pt_id);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, out_hwpt_id);
	SAME_FIELD2(svmd_iommu_hwpt_alloc, reserved, iommu_hwpt_alloc, __reserved);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, data_type);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, data_len);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, data_uptr);
	SAME_SIZE(svmd_iommu_hwpt_vtd_s1, iommu_hwpt_vtd_s1);
	SAME_FIELD(svmd_iommu_hwpt_vtd_s1, iommu_hwpt_vtd_s1, flags);
	SAME_FIELD(svmd_iommu_hwpt_vtd_s1, iommu_hwpt_vtd_s1, pgtbl_addr);
	SAME_FIELD(svmd_iommu_hwpt_vtd_s1, iommu_hwpt_vtd_s1, addr_width);
	SAME_FIELD2(svmd_iommu_hwpt_vtd_s1, reserved, iommu_hwpt_vtd_s1, __reserved);

	SAME_SIZE(svmd_iommu_hw_info, iommu_hw_info);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, size);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, flags);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, dev_id);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, data_len);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, data_uptr);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, out_data_type);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, out_capabilities);
	SAME_SIZE(svmd_iommu_hw_info_vtd, iommu_hw_info_vtd);
	SAME_FIELD(svmd_iommu_hw_info_vtd, iommu_hw_info_vtd, flags);
	SAME_FIELD2(svmd_iommu_hw_info_vtd, reserved, iommu_hw_info_vtd, __reserved);
	SAME_FIELD(svmd_iommu_hw_info_vtd, iommu_hw_info_vtd, cap_reg);
	SAME_FIELD(svmd_iommu_hw_info_vtd, iommu_hw_info_vtd, ecap_reg);

	SAME_SIZE(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate);
	SAME_FIELD(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate, size);
	SAME_FIELD(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate, hwpt_id);
	SAME_FIELD(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate, data_uptr);
	SAME_FIELD(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate, data_type);
	SAME_FIELD(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate, entry_len);
	SAME_FIELD(svmd_iommu_hwpt_invalidate, iommu_hwpt_invalidate, entry_num);
	SAME_FIELD2(svmd_iommu_hwpt_invalidate, reserved, iommu_hwpt_invalidate, __reserved);
	SAME_SIZE(svmd_iommu_hwpt_vtd_s1_invalidate, iommu_hwpt_vtd_s1_invalidate);
	SAME_FIELD(svmd_iommu_hwpt_vtd_s1_invalidate, iommu_hwpt_vtd_s1_invalidate, addr);
	SAME_FIELD(svmd_iommu_hwpt_vtd_s1_invalidate, iommu_hwpt_vtd_s1_invalidate, npages);
	SAME_FIELD(svmd_iommu_hwpt_vtd_s1_invalidate, iommu_hwpt_vtd_s1_invalidate, flags);
	SAME_FIELD2(svmd_iommu_hwpt_vtd_s1_invalidate, reserved, iommu_hwpt_vtd_s1_invalidate,
		    __reserved);
#elif defined(HAVE_IOMMUFD_H)
	cr_skip_test("this <linux/iommufd.h> predates 6.8 (no IOMMU_HWPT_INVALIDATE)");
#else
	NO_HEADER();
#endif
}

/* 6.11: page faults delivered to userspace. */
Test(iommufd_abi_kernel, fault_since_6_11)
{
#if defined(IOMMU_FAULT_QUEUE_ALLOC)
	SAME(SVMD_IOMMU_FAULT_QUEUE_ALLOC, IOMMU_FAULT_QUEUE_ALLOC);
	SAME(SVMD_IOMMU_HWPT_FAULT_ID_VALID, IOMMU_HWPT_FAULT_ID_VALID);
	SAME(SVMD_IOMMU_PGFAULT_FLAGS_PASID_VALID, IOMMU_PGFAULT_FLAGS_PASID_VALID);
	SAME(SVMD_IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_LAST_PAGE);
	SAME(SVMD_IOMMU_PGFAULT_PERM_READ, IOMMU_PGFAULT_PERM_READ);
	SAME(SVMD_IOMMU_PGFAULT_PERM_WRITE, IOMMU_PGFAULT_PERM_WRITE);
	SAME(SVMD_IOMMU_PGFAULT_PERM_EXEC, IOMMU_PGFAULT_PERM_EXEC);
	SAME(SVMD_IOMMU_PGFAULT_PERM_PRIV, IOMMU_PGFAULT_PERM_PRIV);
	SAME(SVMD_IOMMUFD_PAGE_RESP_SUCCESS, IOMMUFD_PAGE_RESP_SUCCESS);
	SAME(SVMD_IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_INVALID);

	SAME_SIZE(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc);
	SAME_FIELD(svmd_iommu_hwpt_alloc, iommu_hwpt_alloc, fault_id);
	SAME_FIELD2(svmd_iommu_hwpt_alloc, reserved2, iommu_hwpt_alloc, __reserved2);
	SAME_SIZE(svmd_iommu_fault_alloc, iommu_fault_alloc);
	SAME_FIELD(svmd_iommu_fault_alloc, iommu_fault_alloc, size);
	SAME_FIELD(svmd_iommu_fault_alloc, iommu_fault_alloc, flags);
	SAME_FIELD(svmd_iommu_fault_alloc, iommu_fault_alloc, out_fault_id);
	SAME_FIELD(svmd_iommu_fault_alloc, iommu_fault_alloc, out_fault_fd);
	SAME_SIZE(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, flags);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, dev_id);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, pasid);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, grpid);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, perm);
	SAME_FIELD2(svmd_iommu_hwpt_pgfault, reserved, iommu_hwpt_pgfault, __reserved);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, addr);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, length);
	SAME_FIELD(svmd_iommu_hwpt_pgfault, iommu_hwpt_pgfault, cookie);
	SAME_SIZE(svmd_iommu_hwpt_page_response, iommu_hwpt_page_response);
	SAME_FIELD(svmd_iommu_hwpt_page_response, iommu_hwpt_page_response, cookie);
	SAME_FIELD(svmd_iommu_hwpt_page_response, iommu_hwpt_page_response, code);
#elif defined(HAVE_IOMMUFD_H)
	cr_skip_test("this <linux/iommufd.h> predates 6.11 (no IOMMU_FAULT_QUEUE_ALLOC)");
#else
	NO_HEADER();
#endif
}

/* 6.13: IOAS_MAP_FILE, vIOMMU, vDEVICE, SMMUv3 nesting. */
Test(iommufd_abi_kernel, map_file_viommu_smmuv3_since_6_13)
{
#if defined(IOMMU_IOAS_MAP_FILE)
	SAME(SVMD_IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_MAP_FILE);
	SAME(SVMD_IOMMU_VIOMMU_ALLOC, IOMMU_VIOMMU_ALLOC);
	SAME(SVMD_IOMMU_VDEVICE_ALLOC, IOMMU_VDEVICE_ALLOC);
	SAME(SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
	SAME(SVMD_IOMMU_HWPT_DATA_ARM_SMMUV3, IOMMU_HWPT_DATA_ARM_SMMUV3);
	SAME(SVMD_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3);
	SAME(SVMD_IOMMU_VIOMMU_TYPE_DEFAULT, IOMMU_VIOMMU_TYPE_DEFAULT);
	SAME(SVMD_IOMMU_VIOMMU_TYPE_ARM_SMMUV3, IOMMU_VIOMMU_TYPE_ARM_SMMUV3);

	SAME_SIZE(svmd_iommu_ioas_map_file, iommu_ioas_map_file);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, size);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, flags);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, ioas_id);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, fd);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, start);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, length);
	SAME_FIELD(svmd_iommu_ioas_map_file, iommu_ioas_map_file, iova);

	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, size);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, flags);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, type);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, dev_id);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, hwpt_id);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, out_viommu_id);
	SAME_SIZE(svmd_iommu_vdevice_alloc, iommu_vdevice_alloc);
	SAME_FIELD(svmd_iommu_vdevice_alloc, iommu_vdevice_alloc, size);
	SAME_FIELD(svmd_iommu_vdevice_alloc, iommu_vdevice_alloc, viommu_id);
	SAME_FIELD(svmd_iommu_vdevice_alloc, iommu_vdevice_alloc, dev_id);
	SAME_FIELD(svmd_iommu_vdevice_alloc, iommu_vdevice_alloc, out_vdevice_id);
	SAME_FIELD(svmd_iommu_vdevice_alloc, iommu_vdevice_alloc, virt_id);

	SAME_SIZE(svmd_iommu_hw_info_arm_smmuv3, iommu_hw_info_arm_smmuv3);
	SAME_FIELD(svmd_iommu_hw_info_arm_smmuv3, iommu_hw_info_arm_smmuv3, flags);
	SAME_FIELD2(svmd_iommu_hw_info_arm_smmuv3, reserved, iommu_hw_info_arm_smmuv3, __reserved);
	SAME_FIELD(svmd_iommu_hw_info_arm_smmuv3, iommu_hw_info_arm_smmuv3, idr);
	SAME_FIELD(svmd_iommu_hw_info_arm_smmuv3, iommu_hw_info_arm_smmuv3, iidr);
	SAME_FIELD(svmd_iommu_hw_info_arm_smmuv3, iommu_hw_info_arm_smmuv3, aidr);
	SAME_SIZE(svmd_iommu_hwpt_arm_smmuv3, iommu_hwpt_arm_smmuv3);
	SAME_FIELD(svmd_iommu_hwpt_arm_smmuv3, iommu_hwpt_arm_smmuv3, ste);
	SAME_SIZE(svmd_iommu_viommu_arm_smmuv3_invalidate, iommu_viommu_arm_smmuv3_invalidate);
	SAME_FIELD(svmd_iommu_viommu_arm_smmuv3_invalidate, iommu_viommu_arm_smmuv3_invalidate,
		   cmd);
#elif defined(HAVE_IOMMUFD_H)
	cr_skip_test("this <linux/iommufd.h> predates 6.13 (no IOMMU_IOAS_MAP_FILE)");
#else
	NO_HEADER();
#endif
}

/* 6.15: PASIDs (HWPT_ALLOC_PASID, the width in GET_HW_INFO) and vEVENTQs. */
Test(iommufd_abi_kernel, pasid_veventq_since_6_15)
{
#if defined(IOMMU_VEVENTQ_ALLOC)
	SAME(SVMD_IOMMU_VEVENTQ_ALLOC, IOMMU_VEVENTQ_ALLOC);
	SAME(SVMD_IOMMU_HWPT_ALLOC_PASID, IOMMU_HWPT_ALLOC_PASID);
	SAME(SVMD_IOMMU_HW_CAP_PCI_PASID_EXEC, IOMMU_HW_CAP_PCI_PASID_EXEC);
	SAME(SVMD_IOMMU_HW_CAP_PCI_PASID_PRIV, IOMMU_HW_CAP_PCI_PASID_PRIV);
	SAME(SVMD_IOMMU_VEVENTQ_FLAG_LOST_EVENTS, IOMMU_VEVENTQ_FLAG_LOST_EVENTS);
	SAME(SVMD_IOMMU_VEVENTQ_TYPE_DEFAULT, IOMMU_VEVENTQ_TYPE_DEFAULT);
	SAME(SVMD_IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3);

	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, out_max_pasid_log2);
	SAME_FIELD2(svmd_iommu_hw_info, reserved, iommu_hw_info, __reserved);
	SAME_SIZE(svmd_iommu_veventq_alloc, iommu_veventq_alloc);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, size);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, flags);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, viommu_id);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, type);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, veventq_depth);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, out_veventq_id);
	SAME_FIELD(svmd_iommu_veventq_alloc, iommu_veventq_alloc, out_veventq_fd);
	SAME_FIELD2(svmd_iommu_veventq_alloc, reserved, iommu_veventq_alloc, __reserved);
	SAME_SIZE(svmd_iommufd_vevent_header, iommufd_vevent_header);
	SAME_FIELD(svmd_iommufd_vevent_header, iommufd_vevent_header, flags);
	SAME_FIELD(svmd_iommufd_vevent_header, iommufd_vevent_header, sequence);
	SAME_SIZE(svmd_iommu_vevent_arm_smmuv3, iommu_vevent_arm_smmuv3);
	SAME_FIELD(svmd_iommu_vevent_arm_smmuv3, iommu_vevent_arm_smmuv3, evt);
#elif defined(HAVE_IOMMUFD_H)
	cr_skip_test("this <linux/iommufd.h> predates 6.15 (no IOMMU_VEVENTQ_ALLOC)");
#else
	NO_HEADER();
#endif
}

/* 6.17: vIOMMU data, an input type for GET_HW_INFO, Tegra241 CMDQV. */
Test(iommufd_abi_kernel, viommu_data_since_6_17)
{
#if defined(IOMMU_HW_QUEUE_ALLOC)
	SAME(SVMD_IOMMU_HW_INFO_FLAG_INPUT_TYPE, IOMMU_HW_INFO_FLAG_INPUT_TYPE);
	SAME(SVMD_IOMMU_HW_INFO_TYPE_DEFAULT, IOMMU_HW_INFO_TYPE_DEFAULT);
	SAME(SVMD_IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV, IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV);
	SAME(SVMD_IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV);
	SAME(SVMD_IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV);
	SAME_FIELD(svmd_iommu_hw_info, iommu_hw_info, in_data_type);
	SAME_SIZE(svmd_iommu_viommu_alloc, iommu_viommu_alloc);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, data_len);
	SAME_FIELD2(svmd_iommu_viommu_alloc, reserved, iommu_viommu_alloc, __reserved);
	SAME_FIELD(svmd_iommu_viommu_alloc, iommu_viommu_alloc, data_uptr);
#elif defined(HAVE_IOMMUFD_H)
	cr_skip_test("this <linux/iommufd.h> predates 6.17 (no IOMMU_HW_QUEUE_ALLOC)");
#else
	NO_HEADER();
#endif
}

/* 7.0 (AMD), 7.1 (ATS_NOT_SUPPORTED) and 7.3 (an SMMUv3 erratum flag) add enum constants only,
 * which the preprocessor cannot see: they are compared from 7.3, whose IOAS_NOIOMMU_GET_PA is
 * a macro. */
Test(iommufd_abi_kernel, amd_ats_errata_since_7_3)
{
#if defined(IOMMU_IOAS_NOIOMMU_GET_PA)
	SAME(SVMD_IOMMU_HW_INFO_TYPE_AMD, IOMMU_HW_INFO_TYPE_AMD);
	SAME(SVMD_IOMMU_HWPT_DATA_AMD_GUEST, IOMMU_HWPT_DATA_AMD_GUEST);
	SAME(SVMD_IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED, IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED);
	SAME(SVMD_IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI,
	     IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI);
	SAME_SIZE(svmd_iommu_hw_info_amd, iommu_hw_info_amd);
	SAME_FIELD(svmd_iommu_hw_info_amd, iommu_hw_info_amd, efr);
	SAME_FIELD(svmd_iommu_hw_info_amd, iommu_hw_info_amd, efr2);
	SAME_SIZE(svmd_iommu_hwpt_amd_guest, iommu_hwpt_amd_guest);
	SAME_FIELD(svmd_iommu_hwpt_amd_guest, iommu_hwpt_amd_guest, dte);
#elif defined(HAVE_IOMMUFD_H)
	cr_skip_test("this <linux/iommufd.h> predates 7.3 (no IOMMU_IOAS_NOIOMMU_GET_PA)");
#else
	NO_HEADER();
#endif
}

/* ---- Against the kernel's iommufd_test.h, when a test run points at one ----------------- */

Test(iommufd_test_abi, against_iommufd_test_h)
{
#ifdef HAVE_IOMMUFD_TEST_H
	SAME(SVMD_IOMMU_TEST_CMD, IOMMU_TEST_CMD);
	SAME(SVMD_IOMMU_TEST_OP_MOCK_DOMAIN, IOMMU_TEST_OP_MOCK_DOMAIN);
	SAME(SVMD_IOMMU_TEST_OP_MD_CHECK_MAP, IOMMU_TEST_OP_MD_CHECK_MAP);
	SAME(SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE);
	SAME(SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS);
	SAME(SVMD_IOMMU_TEST_OP_TRIGGER_IOPF, IOMMU_TEST_OP_TRIGGER_IOPF);
	SAME(SVMD_IOMMU_TEST_OP_TRIGGER_VEVENT, IOMMU_TEST_OP_TRIGGER_VEVENT);
	SAME(SVMD_IOMMU_TEST_OP_PASID_ATTACH, IOMMU_TEST_OP_PASID_ATTACH);
	SAME(SVMD_IOMMU_TEST_OP_PASID_REPLACE, IOMMU_TEST_OP_PASID_REPLACE);
	SAME(SVMD_IOMMU_TEST_OP_PASID_DETACH, IOMMU_TEST_OP_PASID_DETACH);
	SAME(SVMD_IOMMU_TEST_OP_PASID_CHECK_HWPT, IOMMU_TEST_OP_PASID_CHECK_HWPT);
	SAME(SVMD_MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_NO_DIRTY);
	SAME(SVMD_MOCK_FLAGS_DEVICE_PASID, MOCK_FLAGS_DEVICE_PASID);
	SAME(SVMD_MOCK_PASID_WIDTH, MOCK_PASID_WIDTH);
	SAME(SVMD_IOMMU_HW_INFO_TYPE_SELFTEST, IOMMU_HW_INFO_TYPE_SELFTEST);
	SAME(SVMD_IOMMU_HW_INFO_SELFTEST_REGVAL, IOMMU_HW_INFO_SELFTEST_REGVAL);
	SAME(SVMD_IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_DATA_SELFTEST);
	SAME(SVMD_IOMMU_TEST_IOTLB_DEFAULT, IOMMU_TEST_IOTLB_DEFAULT);
	SAME(SVMD_MOCK_IOMMUPT_DEFAULT, MOCK_IOMMUPT_DEFAULT);
	SAME(SVMD_IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST);
	SAME(SVMD_IOMMU_TEST_INVALIDATE_FLAG_ALL, IOMMU_TEST_INVALIDATE_FLAG_ALL);
	SAME(SVMD_IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_SELFTEST);
	SAME(SVMD_IOMMU_VEVENTQ_TYPE_SELFTEST, IOMMU_VEVENTQ_TYPE_SELFTEST);

	SAME_SIZE(svmd_iommu_test_cmd, iommu_test_cmd);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, size);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, op);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, id);
	SAME_FIELD2(svmd_iommu_test_cmd, reserved, iommu_test_cmd, __reserved);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain.out_stdev_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain.out_hwpt_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain.out_idev_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain_flags.out_stdev_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain_flags.out_hwpt_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain_flags.out_idev_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain_flags.dev_flags);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, mock_domain_replace.pt_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, check_map.iova);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, check_map.length);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, check_map.uptr);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, trigger_iopf.dev_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, trigger_iopf.pasid);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, trigger_iopf.grpid);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, trigger_iopf.perm);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, trigger_iopf.addr);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, trigger_vevent.dev_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_attach.pasid);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_attach.pt_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_replace.pasid);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_replace.pt_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_detach.pasid);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_check.pasid);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, pasid_check.hwpt_id);
	SAME_FIELD(svmd_iommu_test_cmd, iommu_test_cmd, last);
	SAME_SIZE(svmd_iommu_test_hw_info, iommu_test_hw_info);
	SAME_FIELD(svmd_iommu_test_hw_info, iommu_test_hw_info, flags);
	SAME_FIELD(svmd_iommu_test_hw_info, iommu_test_hw_info, test_reg);
	SAME_SIZE(svmd_iommu_hwpt_selftest, iommu_hwpt_selftest);
	SAME_FIELD(svmd_iommu_hwpt_selftest, iommu_hwpt_selftest, iotlb);
	SAME_FIELD(svmd_iommu_hwpt_selftest, iommu_hwpt_selftest, pagetable_type);
	SAME_SIZE(svmd_iommu_hwpt_invalidate_selftest, iommu_hwpt_invalidate_selftest);
	SAME_FIELD(svmd_iommu_hwpt_invalidate_selftest, iommu_hwpt_invalidate_selftest, flags);
	SAME_FIELD(svmd_iommu_hwpt_invalidate_selftest, iommu_hwpt_invalidate_selftest, iotlb_id);
	SAME_SIZE(svmd_iommu_viommu_event_selftest, iommu_viommu_event_selftest);
	SAME_FIELD(svmd_iommu_viommu_event_selftest, iommu_viommu_event_selftest, virt_id);
#else
	cr_skip_test("no iommufd_test.h on the include path: it lives in the kernel's "
		     "drivers/iommu/iommufd/, never in installed headers");
#endif
}
