/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TEST ONLY: the kernel's mock IOMMU as svmd's --test-mock-devices device source; see
 * iommufd-mock.h. The only daemon file that includes iommufd-test-abi.h.
 */
#define SVMD_IOMMUFD_TEST_ABI 1

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iommufd-abi.h"
#include "iommufd-mock.h"
#include "iommufd-test-abi.h"
#include "util.h"

_Static_assert(SVMD_INVALIDATE_MOCK_ALL == SVMD_IOMMU_TEST_INVALIDATE_FLAG_ALL, "ALL");
_Static_assert(SVMD_INVALIDATE_ENTRIES_MAX > 0, "entries");

const unsigned long mock_ioctl = SVMD_IOMMU_TEST_CMD;

static int xioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do
		r = ioctl(fd, request, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static const char *errno_name(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "an unknown errno";
}

static int test_cmd(int iommufd, struct svmd_iommu_test_cmd *c)
{
	c->size = sizeof(*c);
	return xioctl(iommufd, SVMD_IOMMU_TEST_CMD, c);
}

static int destroy(int iommufd, uint32_t id)
{
	struct svmd_iommu_destroy d = {.size = sizeof(d), .id = id};

	return xioctl(iommufd, SVMD_IOMMU_DESTROY, &d);
}

int mock_make(int iommufd, uint32_t ioas, uint32_t *ret_stdev, uint32_t *ret_devid)
{
	struct svmd_iommu_test_cmd c = {
		.op = SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = ioas,
		.mock_domain_flags.dev_flags = SVMD_MOCK_FLAGS_DEVICE_PASID,
	};
	int r = test_cmd(iommufd, &c);

	if (r < 0)
		return r;
	*ret_stdev = c.mock_domain_flags.out_stdev_id;
	*ret_devid = c.mock_domain_flags.out_idev_id;
	return 0;
}

int mock_attach_at(int iommufd, uint32_t stdev, uint32_t pt, uint32_t pasid)
{
	struct svmd_iommu_test_cmd c = {.id = stdev};

	if (pasid) {
		c.op = SVMD_IOMMU_TEST_OP_PASID_ATTACH;
		c.pasid_attach.pasid = pasid;
		c.pasid_attach.pt_id = pt;
	} else {
		c.op = SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE;
		c.mock_domain_replace.pt_id = pt;
	}
	return test_cmd(iommufd, &c);
}

int mock_detach_pasid(int iommufd, uint32_t stdev, uint32_t pasid)
{
	struct svmd_iommu_test_cmd c = {
		.op = SVMD_IOMMU_TEST_OP_PASID_DETACH, .id = stdev, .pasid_detach.pasid = pasid};

	return test_cmd(iommufd, &c);
}

/* The hw info and IOVA ranges of the mock device devid, attached to ioas. */
static int probe_device(int iommufd, uint32_t devid, uint32_t ioas, struct mock_info *m, char *err,
			size_t errlen)
{
	struct svmd_iommu_test_hw_info data = {0};
	struct svmd_iommu_hw_info info = {
		.size = sizeof(info),
		.dev_id = devid,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	struct svmd_iommu_iova_range ranges[16];
	struct svmd_iommu_ioas_iova_ranges q = {
		.size = sizeof(q),
		.ioas_id = ioas,
		.num_iovas = 16,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int r = xioctl(iommufd, SVMD_IOMMU_GET_HW_INFO, &info);

	if (r < 0)
		return fail(err, errlen, r, "IOMMU_GET_HW_INFO of a mock device: %s (%s)",
			    strerror(-r), errno_name(-r));
	if (info.out_data_type != SVMD_IOMMU_HW_INFO_TYPE_SELFTEST ||
	    data.test_reg != SVMD_IOMMU_HW_INFO_SELFTEST_REGVAL)
		return fail(err, errlen, -ENODEV,
			    "the mock device's IOMMU_GET_HW_INFO is type %#" PRIx32
			    ", register %#" PRIx32 ", not the mock's (%#x, %#x): this kernel's "
			    "IOMMUFD_TEST is not the one svmd was written for",
			    info.out_data_type, data.test_reg, SVMD_IOMMU_HW_INFO_TYPE_SELFTEST,
			    SVMD_IOMMU_HW_INFO_SELFTEST_REGVAL);
	if (info.out_max_pasid_log2 != SVMD_MOCK_PASID_WIDTH)
		return fail(err, errlen, -ENODEV,
			    "the PASID-capable mock device has %" PRIu32
			    " PASID bits, not %u: this "
			    "kernel's IOMMUFD_TEST is not the one svmd was written for",
			    info.out_max_pasid_log2, SVMD_MOCK_PASID_WIDTH);
	r = xioctl(iommufd, SVMD_IOMMU_IOAS_IOVA_RANGES, &q);
	if (r < 0)
		return fail(err, errlen, r, "IOMMU_IOAS_IOVA_RANGES with a mock device: %s (%s)",
			    strerror(-r), errno_name(-r));
	m->hw_type = info.out_data_type;
	m->pasid_bits = info.out_max_pasid_log2;
	m->caps = info.out_capabilities;
	m->n_ranges = q.num_iovas;
	for (uint32_t i = 0; i < q.num_iovas; i++) {
		m->ranges[i][0] = ranges[i].start;
		m->ranges[i][1] = ranges[i].last;
	}
	m->align = (uint64_t)sysconf(_SC_PAGESIZE);
	if (q.out_iova_alignment > m->align)
		m->align = q.out_iova_alignment;
	return 0;
}

int mock_probe(int iommufd, struct mock_info *ret, char *err, size_t errlen)
{
	struct svmd_iommu_ioas_alloc a = {.size = sizeof(a)};
	uint32_t stdev = 0, devid = 0;
	int r = xioctl(iommufd, SVMD_IOMMU_IOAS_ALLOC, &a), rx;

	if (r < 0)
		return fail(err, errlen, r, "IOMMU_IOAS_ALLOC: %s", strerror(-r));
	r = mock_make(iommufd, a.out_ioas_id, &stdev, &devid);
	if (r == -ENOTTY)
		fail(err, errlen, -EOPNOTSUPP,
		     "this kernel has no IOMMUFD_TEST (IOMMU_TEST_CMD answered ENOTTY): "
		     "--test-mock-devices is for test kernels only (CONFIG_IOMMUFD_TEST=y, as "
		     "tests/vm/kernel-x86.config builds)");
	else if (r < 0)
		fail(err, errlen, r,
		     "IOMMU_TEST_CMD(MOCK_DOMAIN_FLAGS, DEVICE_PASID) answered %s (%s): "
		     "--test-mock-devices needs a test kernel whose IOMMUFD_TEST makes "
		     "PASID-capable mock devices",
		     strerror(-r), errno_name(-r));
	if (r == -ENOTTY)
		r = -EOPNOTSUPP;
	if (r == 0) {
		r = probe_device(iommufd, devid, a.out_ioas_id, ret, err, errlen);
		rx = destroy(iommufd, stdev);
		if (r == 0 && rx < 0)
			r = fail(err, errlen, rx, "IOMMU_DESTROY of the probe's mock device: %s",
				 strerror(-rx));
	}
	rx = destroy(iommufd, a.out_ioas_id);
	if (r == 0 && rx < 0)
		r = fail(err, errlen, rx, "IOMMU_DESTROY of the probe's IOAS: %s", strerror(-rx));
	return r;
}

uint32_t mock_iotlb_of(uint64_t gpgd)
{
	return (uint32_t)(gpgd >> 12);
}

int mock_nested_alloc(int iommufd, uint32_t devid, uint32_t parent, bool pasid, uint64_t gpgd,
		      uint32_t fault_id, uint32_t *ret)
{
	struct svmd_iommu_hwpt_selftest data = {
		.iotlb = mock_iotlb_of(gpgd),
		.pagetable_type = SVMD_MOCK_IOMMUPT_DEFAULT,
	};
	struct svmd_iommu_hwpt_alloc h = {
		.size = sizeof(h),
		.flags = (pasid ? SVMD_IOMMU_HWPT_ALLOC_PASID : 0) |
			 (fault_id ? SVMD_IOMMU_HWPT_FAULT_ID_VALID : 0),
		.dev_id = devid,
		.pt_id = parent,
		.data_type = SVMD_IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
		.fault_id = fault_id,
	};
	int r = xioctl(iommufd, SVMD_IOMMU_HWPT_ALLOC, &h);

	if (r == 0)
		*ret = h.out_hwpt_id;
	return r;
}

int mock_invalidate(int iommufd, uint32_t hwpt, const struct svmd_invalidate_entry *e, uint32_t n,
		    uint32_t *ret_done, const char *where, char *why, size_t whylen)
{
	struct svmd_iommu_hwpt_invalidate_selftest inv[SVMD_INVALIDATE_ENTRIES_MAX] = {{0}};
	struct svmd_iommu_hwpt_invalidate req = {
		.size = sizeof(req),
		.hwpt_id = hwpt,
		.data_uptr = (uintptr_t)inv,
		.data_type = SVMD_IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(inv[0]),
		.entry_num = n,
	};
	int r;

	*ret_done = 0;
	if (n == 0 || n > SVMD_INVALIDATE_ENTRIES_MAX)
		return fail(why, whylen, -EINVAL, "%" PRIu32 " entries: 1 to %u", n,
			    SVMD_INVALIDATE_ENTRIES_MAX);
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].w[0] & ~(uint64_t)SVMD_INVALIDATE_MOCK_ALL)
			return fail(why, whylen, -EINVAL,
				    "entry %" PRIu32 ": flags %#" PRIx64
				    ": the mock IOMMU has ALL (0x1) only",
				    i, e[i].w[0]);
		if (e[i].w[1] > SVMD_INVALIDATE_MOCK_IOTLB_MAX || e[i].w[2])
			return fail(why, whylen, -EINVAL,
				    "entry %" PRIu32 ": IOTLB id %#" PRIx64 ", word 2 %#" PRIx64
				    ": the mock IOMMU has IOTLB entries 0 to %u, and word 2 is 0",
				    i, e[i].w[1], e[i].w[2], SVMD_INVALIDATE_MOCK_IOTLB_MAX);
		inv[i].flags = (uint32_t)e[i].w[0];
		inv[i].iotlb_id = (uint32_t)e[i].w[1];
	}
	r = xioctl(iommufd, SVMD_IOMMU_HWPT_INVALIDATE, &req);
	*ret_done = r < 0 ? (req.entry_num < n ? req.entry_num : 0) : n;
	if (r < 0)
		return fail(why, whylen, r,
			    "kernel refused: IOMMU_HWPT_INVALIDATE(DATA_SELFTEST) of the table at "
			    "%s: %s (%s), after %" PRIu32 " of %" PRIu32 " entries",
			    where, strerror(-r), errno_name(-r), *ret_done, n);
	return 0;
}
