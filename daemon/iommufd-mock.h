/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TEST ONLY: the kernel's mock IOMMU (CONFIG_IOMMUFD_TEST) as a device source of the iommufd
 * backend (svmd --test-mock-devices=N), so that the real kernel's iommufd core runs svmd's
 * nested and PASID sequence where no emulated IOMMU nests. Every IOMMU_TEST_CMD svmd issues is
 * here (iommufd-mock.c); backend-iommufd.c calls these, and they know nothing of svmd's spaces,
 * only an iommufd and object ids.
 *
 * A mock device is made in an iommufd by the kernel (MOCK_DOMAIN_FLAGS with a PASID-capable
 * device, on an IOAS), has no VFIO cdev and no fd, and is named by its selftest object (the
 * "stdev"): it is attached with MOCK_DOMAIN_REPLACE (the RID) and PASID_ATTACH/DETACH through
 * that id, and goes when the stdev is destroyed (IOMMU_DESTROY detaches and unbinds it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmd-proto.h"

#define MOCK_DEVICES_MAX 8u

/* What start-up learned of the mock: IOMMU_GET_HW_INFO of a mock device (type SELFTEST) and the
 * IOVAs it reaches once attached. */
struct mock_info {
	uint32_t hw_type; /* IOMMU_HW_INFO_TYPE_SELFTEST */
	uint32_t pasid_bits;
	uint64_t caps;
	uint64_t align;
	uint32_t n_ranges;
	uint64_t ranges[16][2]; /* start, last */
};

/* Whether this kernel has the mock, on a scratch IOAS of iommufd (which must be empty of
 * objects after: everything made is destroyed again): a PASID-capable mock device made, its
 * hw info and IOVA ranges read, destroyed. 0, or a negative errno with the message ("this
 * kernel has no IOMMUFD_TEST ...") in err. */
int mock_probe(int iommufd, struct mock_info *ret, char *err, size_t errlen);

/* A PASID-capable mock device made in iommufd and attached at its RID to ioas: *ret_stdev
 * names it for the ops below and IOMMU_DESTROY, *ret_devid is its device id there (for
 * IOMMU_HWPT_ALLOC). */
int mock_make(int iommufd, uint32_t ioas, uint32_t *ret_stdev, uint32_t *ret_devid);
/* The RID (pasid 0) or a PASID of the mock device stdev attached (replaced) to pt. */
int mock_attach_at(int iommufd, uint32_t stdev, uint32_t pt, uint32_t pasid);
int mock_detach_pasid(int iommufd, uint32_t stdev, uint32_t pasid);

/* The mock's stage-1 "table" for a guest page table at gpgd: IOMMU_HWPT_DATA_SELFTEST sets every
 * IOTLB entry of the nested HWPT to this value, so a test (IOMMU_TEST_OP_MD_CHECK_IOTLB) can see
 * that the nested HWPT carries the client's table and when an invalidation cleared it. */
uint32_t mock_iotlb_of(uint64_t gpgd);
/* The nested HWPT for gpgd on parent (a NEST_PARENT HWPT), for devid; PASID-capable when pasid;
 * its page requests to the FAULT object fault_id unless 0. */
int mock_nested_alloc(int iommufd, uint32_t devid, uint32_t parent, bool pasid, uint64_t gpgd,
		      uint32_t fault_id, uint32_t *ret);

/* Invalidate type SVMD_INVALIDATE_MOCK: each entry checked as the mock takes it (w[0] flags 0
 * or ALL, w[1] IOTLB id 0 to 3, w[2] 0), then IOMMU_HWPT_INVALIDATE(DATA_SELFTEST) on hwpt.
 * *ret_done: the entries the kernel handled. where names the table, for the reasons. */
int mock_invalidate(int iommufd, uint32_t hwpt, const struct svmd_invalidate_entry *e, uint32_t n,
		    uint32_t *ret_done, const char *where, char *why, size_t whylen);

/* IOMMU_TEST_CMD, for the sandbox's allow-list (only with --test-mock-devices). */
extern const unsigned long mock_ioctl;
