/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TEST ONLY: the kernel's mock IOMMU (CONFIG_IOMMUFD_TEST), driven through IOMMU_TEST_CMD on
 * /dev/iommu, as svmd's tests use it to run the nested, PASID, fault and vEVENT paths that no
 * emulated IOMMU offers. Written from the kernel's drivers/iommu/iommufd/iommufd_test.h (Linux
 * 7.3), not copied; tests/unit/test-iommufd-abi.c compares it with that file when pointed at
 * one.
 *
 * This is not uAPI. The kernel keeps the file under drivers/, headers_install does not ship
 * it, and it promises no stability: ops are numbered by their place in an enum, a removed flag
 * leaves a hole (MOCK_FLAGS_DEVICE_PASID is bit 2), struct iommu_hwpt_selftest grew a field.
 * Only kernels built with IOMMUFD_TEST (which needs DEBUG_KERNEL and FAULT_INJECTION; no
 * distribution kernel has it) answer IOMMU_TEST_CMD at all. So svmd relies on it only for
 * tests, against a test kernel whose tree matches this file (the ops and layouts used here are
 * the same in the 7.2 tree tests/vm/kernel.sh builds): its tests drive the mock directly, and
 * svmd issues it only when told to with --test-mock-devices (a test-only device source, refused
 * on a kernel without IOMMUFD_TEST). Include this header only after defining
 * SVMD_IOMMUFD_TEST_ABI: of the daemon's files only iommufd-mock.c does, and every mock op
 * svmd issues is there.
 */
#pragma once

#ifndef SVMD_IOMMUFD_TEST_ABI
#error "iommufd-test-abi.h is for tests only: define SVMD_IOMMUFD_TEST_ABI in the test"
#endif

#include <stddef.h>
#include <stdint.h>

#include "iommufd-abi.h"

/* IOMMU_TEST_CMD: one op on the mock, chosen by `op`; `id` is the object it acts on. */
#define SVMD_IOMMU_TEST_CMD SVMD_IOMMUFD_IO(32)

/* The ops svmd's tests use (the enum starts at 1; others are not listed here). */
/* MOCK_DOMAIN: id is an IOAS or HWPT; makes a mock device, binds it and attaches it there. */
#define SVMD_IOMMU_TEST_OP_MOCK_DOMAIN 2u
/* MD_CHECK_MAP: id is a mock paging HWPT; 0 if [iova, iova + length) maps the memory at uptr. */
#define SVMD_IOMMU_TEST_OP_MD_CHECK_MAP 3u
/* MOCK_DOMAIN_REPLACE: id is a mock device (stdev); attaches it to pt_id instead. */
#define SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE 10u
/* MOCK_DOMAIN_FLAGS: MOCK_DOMAIN for a device with dev_flags (a PASID-capable one). */
#define SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS 12u
/* TRIGGER_IOPF: a one-request page fault group (LAST_PAGE; PASID_VALID unless pasid is 0)
 * from the mock device dev_id, delivered to the FAULT of the HWPT it is attached to. */
#define SVMD_IOMMU_TEST_OP_TRIGGER_IOPF 15u
/* TRIGGER_VEVENT: an event from the mock device dev_id to its vIOMMU's SELFTEST vEVENTQ; the
 * device must be attached through the vIOMMU and have a vDEVICE, else ENOENT. */
#define SVMD_IOMMU_TEST_OP_TRIGGER_VEVENT 17u
/* PASID_*: id is a mock device (stdev); attach, replace or detach one of its PASIDs. */
#define SVMD_IOMMU_TEST_OP_PASID_ATTACH  18u
#define SVMD_IOMMU_TEST_OP_PASID_REPLACE 19u
#define SVMD_IOMMU_TEST_OP_PASID_DETACH  20u
/* PASID_CHECK_HWPT: 0 if pasid is attached to hwpt_id (hwpt_id 0: to nothing), else EINVAL. */
#define SVMD_IOMMU_TEST_OP_PASID_CHECK_HWPT 21u

/* dev_flags of MOCK_DOMAIN_FLAGS. */
#define SVMD_MOCK_FLAGS_DEVICE_NO_DIRTY (1u << 0)
#define SVMD_MOCK_FLAGS_DEVICE_PASID    (1u << 2) /* a device with MOCK_PASID_WIDTH PASID bits */
#define SVMD_MOCK_PASID_WIDTH           20u

struct svmd_iommu_test_cmd {
	uint32_t size; /* sizeof(struct svmd_iommu_test_cmd) */
	uint32_t op;   /* SVMD_IOMMU_TEST_OP_* */
	uint32_t id;
	uint32_t reserved;
	union {
		struct {
			uint32_t out_stdev_id; /* the mock device: `id` of the device ops */
			uint32_t out_hwpt_id;  /* the HWPT it was attached to */
			uint32_t out_idev_id;  /* its dev_id, as from VFIO_DEVICE_BIND_IOMMUFD */
		} mock_domain;
		struct {
			uint32_t out_stdev_id;
			uint32_t out_hwpt_id;
			uint32_t out_idev_id;
			uint32_t dev_flags; /* in: SVMD_MOCK_FLAGS_DEVICE_* */
		} mock_domain_flags;
		struct {
			uint32_t pt_id; /* in; out: the HWPT attached */
		} mock_domain_replace;
		struct {
			svmd_aligned_u64 iova;
			svmd_aligned_u64 length;
			svmd_aligned_u64 uptr; /* the memory the IOVAs must map */
		} check_map;
		struct {
			uint32_t dev_id;
			uint32_t pasid;
			uint32_t grpid;
			uint32_t perm; /* SVMD_IOMMU_PGFAULT_PERM_* */
			uint64_t addr; /* a plain __u64 in the kernel; at 32, aligned anyway */
		} trigger_iopf;
		struct {
			uint32_t dev_id;
		} trigger_vevent;
		struct {
			uint32_t pasid;
			uint32_t pt_id; /* in; out: the HWPT attached */
		} pasid_attach, pasid_replace;
		struct {
			uint32_t pasid;
		} pasid_detach;
		struct {
			uint32_t pasid;
			uint32_t hwpt_id; /* 0: asks that pasid is attached to nothing */
		} pasid_check;
		/* The kernel's largest member (the dirty-bitmap op) sets the union's size. */
		svmd_aligned_u64 union_size[6];
	};
	uint32_t last; /* the kernel reads through here: sizes below 68 are EINVAL */
};

/* IOMMU_GET_HW_INFO's out_data_type for a mock device, and its data. */
#define SVMD_IOMMU_HW_INFO_TYPE_SELFTEST   0xfeedbeefu
#define SVMD_IOMMU_HW_INFO_SELFTEST_REGVAL 0xdeadbeefu
struct svmd_iommu_test_hw_info {
	uint32_t flags;
	uint32_t test_reg; /* SVMD_IOMMU_HW_INFO_SELFTEST_REGVAL */
};

/* IOMMU_HWPT_ALLOC data for a mock nested HWPT (on a NEST_PARENT mock HWPT or a mock vIOMMU). */
#define SVMD_IOMMU_HWPT_DATA_SELFTEST 0xdeadu
#define SVMD_IOMMU_TEST_IOTLB_DEFAULT 0xbadbeefu
#define SVMD_MOCK_IOMMUPT_DEFAULT     0u
struct svmd_iommu_hwpt_selftest {
	uint32_t iotlb;          /* SVMD_IOMMU_TEST_IOTLB_DEFAULT */
	uint32_t pagetable_type; /* SVMD_MOCK_IOMMUPT_DEFAULT; kernels without it take it as 0 */
};

/* IOMMU_HWPT_INVALIDATE data for a mock nested HWPT. */
#define SVMD_IOMMU_HWPT_INVALIDATE_DATA_SELFTEST 0xdeadbeefu
#define SVMD_IOMMU_TEST_INVALIDATE_FLAG_ALL      (1u << 0) /* all entries; iotlb_id ignored */
struct svmd_iommu_hwpt_invalidate_selftest {
	uint32_t flags;
	uint32_t iotlb_id; /* 0 to MOCK_NESTED_DOMAIN_IOTLB_ID_MAX (3) */
};

/* IOMMU_VIOMMU_ALLOC's type for a mock vIOMMU (its data is optional), and IOMMU_VEVENTQ_ALLOC's
 * type for its event queue, whose records carry the vDEVICE's virt_id. */
#define SVMD_IOMMU_VIOMMU_TYPE_SELFTEST  0xdeadbeefu
#define SVMD_IOMMU_VEVENTQ_TYPE_SELFTEST 0xbeefbeefu
struct svmd_iommu_viommu_event_selftest {
	uint32_t virt_id;
};

_Static_assert(SVMD_IOMMU_TEST_CMD == 0x3ba0, "IOMMU_TEST_CMD");
SVMD_ABI_SIZE(svmd_iommu_test_cmd, 72);
SVMD_ABI_OFF(svmd_iommu_test_cmd, op, 4);
SVMD_ABI_OFF(svmd_iommu_test_cmd, id, 8);
SVMD_ABI_OFF(svmd_iommu_test_cmd, reserved, 12);
SVMD_ABI_OFF(svmd_iommu_test_cmd, mock_domain.out_stdev_id, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, mock_domain.out_hwpt_id, 20);
SVMD_ABI_OFF(svmd_iommu_test_cmd, mock_domain.out_idev_id, 24);
SVMD_ABI_OFF(svmd_iommu_test_cmd, mock_domain_flags.dev_flags, 28);
SVMD_ABI_OFF(svmd_iommu_test_cmd, mock_domain_replace.pt_id, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, check_map.iova, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, check_map.length, 24);
SVMD_ABI_OFF(svmd_iommu_test_cmd, check_map.uptr, 32);
SVMD_ABI_OFF(svmd_iommu_test_cmd, trigger_iopf.dev_id, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, trigger_iopf.pasid, 20);
SVMD_ABI_OFF(svmd_iommu_test_cmd, trigger_iopf.grpid, 24);
SVMD_ABI_OFF(svmd_iommu_test_cmd, trigger_iopf.perm, 28);
SVMD_ABI_OFF(svmd_iommu_test_cmd, trigger_iopf.addr, 32);
SVMD_ABI_OFF(svmd_iommu_test_cmd, trigger_vevent.dev_id, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, pasid_attach.pasid, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, pasid_attach.pt_id, 20);
SVMD_ABI_OFF(svmd_iommu_test_cmd, pasid_replace.pt_id, 20);
SVMD_ABI_OFF(svmd_iommu_test_cmd, pasid_detach.pasid, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, pasid_check.pasid, 16);
SVMD_ABI_OFF(svmd_iommu_test_cmd, pasid_check.hwpt_id, 20);
SVMD_ABI_OFF(svmd_iommu_test_cmd, last, 64);
SVMD_ABI_SIZE(svmd_iommu_test_hw_info, 8);
SVMD_ABI_OFF(svmd_iommu_test_hw_info, test_reg, 4);
SVMD_ABI_SIZE(svmd_iommu_hwpt_selftest, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_selftest, pagetable_type, 4);
SVMD_ABI_SIZE(svmd_iommu_hwpt_invalidate_selftest, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate_selftest, iotlb_id, 4);
SVMD_ABI_SIZE(svmd_iommu_viommu_event_selftest, 4);
