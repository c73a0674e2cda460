/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd smoke check of the test kernel (tests/vm/kernel.sh), run inside the QEMU guest by
 * tests/vm/run-kernel.sh: the iommufd and VFIO cdev path that svmd's iommufd backend will take,
 * on two QEMU edu devices behind an emulated IOMMU, plus the kernel's mock IOMMU. Prints one
 * "PASS name: detail" or "FAIL name: detail" line per check, a FAIL for every check an earlier
 * failure kept from running, and exits 1 when any failed.
 *
 *   iommufd-smoke BDF0 BDF1    the two edu functions, already bound to vfio-pci
 *   iommufd-smoke --list       the names of the checks, one a line
 *
 * Built against the test kernel's own uAPI headers (`make headers_install` of that build, plus
 * its drivers/iommu/iommufd/iommufd_test.h for IOMMU_TEST_CMD): they are the interface of the
 * kernel under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iommufd_test.h>

#include "edu.h"

/* Each edu's memfd: 16 KiB at IOVA_BASE in its own IOAS. The device reads page 0 and writes
 * back to page 2; IOVA_UNMAPPED is in no IOAS. */
#define MEMFD_SIZE    0x4000
#define IOVA_BASE     0x1000000ull
#define COPY_OFFSET   0x2000
#define IOVA_UNMAPPED 0x2000000ull

#define N_EDU 2

static const char *const checks[] = {
	"iommu-open",
	"edu0-cdev",
	"edu1-cdev",
	"edu0-bind-iommufd",
	"edu1-bind-iommufd",
	"edu0-hw-info",
	"edu1-hw-info",
	"ioas-alloc",
	"edu0-map-file",
	"edu1-map-file",
	"edu0-attach",
	"edu1-attach",
	"edu0-mmio",
	"edu1-mmio",
	"edu0-dma",
	"edu1-dma",
	"edu0-unmapped-iova-faults",
	"mock-domain",
	"mock-hw-info",
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static bool reported[N_CHECKS];
static int n_failed;

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	for (i = 0; i < N_CHECKS; i++)
		if (strcmp(checks[i], name) == 0)
			reported[i] = true;
	printf("%s %s: ", ok ? "PASS" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		n_failed++;
}

struct edu {
	const char *bdf;
	char name[8];    /* "edu0" */
	char cdev[64];   /* /dev/vfio/devices/vfioN */
	int fd;          /* the cdev */
	uint32_t dev_id; /* iommufd's device object */
	uint32_t ioas_id;
	int memfd;
	uint8_t *mem; /* the memfd, mapped */
	struct edu_regs regs;
};

static const char *check_name(const struct edu *e, const char *what)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s-%s", e->name, what);
	return buf;
}

/* The device's cdev from sysfs, opened. */
static bool find_cdev(struct edu *e)
{
	char why[256];

	if (edu_find_cdev(e->bdf, e->cdev, sizeof(e->cdev), why, sizeof(why)) < 0) {
		report(false, check_name(e, "cdev"), "%s", why);
		return false;
	}
	e->fd = open(e->cdev, O_RDWR | O_CLOEXEC);
	if (e->fd < 0) {
		report(false, check_name(e, "cdev"), "open %s: %s", e->cdev, strerror(errno));
		return false;
	}
	report(true, check_name(e, "cdev"), "%s", why);
	return true;
}

static bool bind_iommufd(struct edu *e, int iommufd)
{
	struct vfio_device_bind_iommufd bind = {.argsz = sizeof(bind), .iommufd = iommufd};

	if (ioctl(e->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		report(false, check_name(e, "bind-iommufd"), "VFIO_DEVICE_BIND_IOMMUFD: %s",
		       strerror(errno));
		return false;
	}
	e->dev_id = bind.out_devid;
	report(e->dev_id != 0, check_name(e, "bind-iommufd"), "%s is iommufd device %u", e->cdev,
	       e->dev_id);
	return e->dev_id != 0;
}

static const char *hw_info_type(uint32_t type)
{
	switch (type) {
	case IOMMU_HW_INFO_TYPE_NONE:
		return "none";
	case IOMMU_HW_INFO_TYPE_INTEL_VTD:
		return "intel-vtd";
	case IOMMU_HW_INFO_TYPE_ARM_SMMUV3:
		return "arm-smmuv3";
	case IOMMU_HW_INFO_TYPE_AMD:
		return "amd";
	case IOMMU_HW_INFO_TYPE_SELFTEST:
		return "selftest";
	default:
		return "unknown";
	}
}

/* IOMMU_GET_HW_INFO must name the emulated IOMMU; on VT-d its cap and ecap registers come too. */
static void hw_info(struct edu *e, int iommufd)
{
	struct iommu_hw_info_vtd vtd = {0};
	struct iommu_hw_info info = {
		.size = sizeof(info),
		.dev_id = e->dev_id,
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
	};
	bool ok;

	if (ioctl(iommufd, IOMMU_GET_HW_INFO, &info) < 0) {
		report(false, check_name(e, "hw-info"), "IOMMU_GET_HW_INFO: %s", strerror(errno));
		return;
	}
	ok = info.out_data_type == IOMMU_HW_INFO_TYPE_INTEL_VTD ||
	     info.out_data_type == IOMMU_HW_INFO_TYPE_AMD;
	if (info.out_data_type == IOMMU_HW_INFO_TYPE_INTEL_VTD)
		report(ok, check_name(e, "hw-info"),
		       "type %s (%u), out_max_pasid_log2 %u, capabilities %#" PRIx64
		       ", cap %#" PRIx64 ", ecap %#" PRIx64,
		       hw_info_type(info.out_data_type), info.out_data_type,
		       info.out_max_pasid_log2, (uint64_t)info.out_capabilities,
		       (uint64_t)vtd.cap_reg, (uint64_t)vtd.ecap_reg);
	else
		report(ok, check_name(e, "hw-info"),
		       "type %s (%u), out_max_pasid_log2 %u, capabilities %#" PRIx64 "%s",
		       hw_info_type(info.out_data_type), info.out_data_type,
		       info.out_max_pasid_log2, (uint64_t)info.out_capabilities,
		       ok ? "" : " (want an emulated IOMMU's type)");
}

static int ioas_alloc(int iommufd, uint32_t *ret_id)
{
	struct iommu_ioas_alloc alloc = {.size = sizeof(alloc)};

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) < 0)
		return -errno;
	*ret_id = alloc.out_ioas_id;
	return 0;
}

/* A memfd with the device's own pattern in page 0, mapped at IOVA_BASE in its IOAS. */
static bool map_file(struct edu *e, int iommufd, uint8_t seed)
{
	struct iommu_ioas_map_file map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = e->ioas_id,
		.start = 0,
		.length = MEMFD_SIZE,
		.iova = IOVA_BASE,
	};
	int i;

	e->memfd = memfd_create(e->name, MFD_CLOEXEC);
	if (e->memfd < 0 || ftruncate(e->memfd, MEMFD_SIZE) < 0) {
		report(false, check_name(e, "map-file"), "memfd: %s", strerror(errno));
		return false;
	}
	e->mem = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->memfd, 0);
	if (e->mem == MAP_FAILED) {
		report(false, check_name(e, "map-file"), "mmap memfd: %s", strerror(errno));
		return false;
	}
	for (i = 0; i < EDU_XFER_SIZE; i++)
		e->mem[i] = (uint8_t)(seed + i * 7 + (i >> 8));
	map.fd = e->memfd;
	if (ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &map) < 0) {
		report(false, check_name(e, "map-file"), "IOMMU_IOAS_MAP_FILE: %s",
		       strerror(errno));
		return false;
	}
	report(map.iova == IOVA_BASE, check_name(e, "map-file"),
	       "memfd %u KiB at IOVA %#llx in IOAS %u", MEMFD_SIZE / 1024,
	       (unsigned long long)map.iova, e->ioas_id);
	return map.iova == IOVA_BASE;
}

static bool attach(struct edu *e)
{
	struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = e->ioas_id};

	if (ioctl(e->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0) {
		report(false, check_name(e, "attach"), "VFIO_DEVICE_ATTACH_IOMMUFD_PT(IOAS %u): %s",
		       e->ioas_id, strerror(errno));
		return false;
	}
	report(true, check_name(e, "attach"), "attached to IOAS %u through HWPT %u", e->ioas_id,
	       at.pt_id);
	return true;
}

/* BAR0 through the cdev, and bus mastering on (edu_setup()). */
static bool mmio(struct edu *e)
{
	char why[256];
	bool ok = edu_setup(&e->regs, e->fd, why, sizeof(why)) == 0;

	report(ok, check_name(e, "mmio"), "%s", why);
	return ok;
}

/* Memory -> device at IOVA_BASE, device -> memory at IOVA_BASE + COPY_OFFSET: the copy must be
 * the device's own pattern. Both edus use the same IOVAs in their own IOAS, so each reading its
 * own memfd shows the translation is per device. */
static void dma(struct edu *e)
{
	int r;

	r = edu_dma_from(&e->regs, IOVA_BASE);
	if (r == 0)
		r = edu_dma_to(&e->regs, IOVA_BASE + COPY_OFFSET);
	if (r < 0) {
		report(false, check_name(e, "dma"), "edu DMA: %s", strerror(-r));
		return;
	}
	if (memcmp(e->mem, e->mem + COPY_OFFSET, EDU_XFER_SIZE) != 0) {
		report(false, check_name(e, "dma"),
		       "the copy at IOVA %#llx differs (first bytes %02x %02x, want %02x %02x)",
		       IOVA_BASE + COPY_OFFSET, e->mem[COPY_OFFSET], e->mem[COPY_OFFSET + 1],
		       e->mem[0], e->mem[1]);
		return;
	}
	report(true, check_name(e, "dma"),
	       "%u bytes memfd -> edu -> memfd through IOVA %#llx and %#llx of IOAS %u",
	       EDU_XFER_SIZE, IOVA_BASE, IOVA_BASE + COPY_OFFSET, e->ioas_id);
}

/* A DMA write to an IOVA no IOAS maps must fault in the IOMMU (and the kernel log it), which
 * shows translation is on: without it the write would land in guest memory. */
static void unmapped_faults(struct edu *e)
{
	char want[32], line[1024];
	const char *wants[] = {want};
	int kmsg, r;

	kmsg = kmsg_open();
	if (kmsg < 0) {
		report(false, check_name(e, "unmapped-iova-faults"), "/dev/kmsg: %s",
		       strerror(-kmsg));
		return;
	}
	r = edu_dma_to(&e->regs, IOVA_UNMAPPED);
	if (r < 0) {
		report(false, check_name(e, "unmapped-iova-faults"), "edu DMA: %s", strerror(-r));
		close(kmsg);
		return;
	}
	snprintf(want, sizeof(want), "fault addr %#llx", IOVA_UNMAPPED);
	if (kmsg_find(kmsg, wants, 1, line, sizeof(line)))
		report(true, check_name(e, "unmapped-iova-faults"), "%s", line);
	else
		report(false, check_name(e, "unmapped-iova-faults"),
		       "no \"%s\" in the kernel log after a DMA write there", want);
	close(kmsg);
}

/* The kernel's mock IOMMU (IOMMUFD_TEST): a mock device with PASIDs on an IOAS of its own,
 * then its hardware info, which names the selftest type and the mock's 20-bit PASID space. */
static void mock(int iommufd)
{
	struct iommu_test_cmd cmd = {.size = sizeof(cmd), .op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS};
	struct iommu_test_hw_info test_info = {0};
	struct iommu_hw_info info = {
		.size = sizeof(info),
		.data_len = sizeof(test_info),
		.data_uptr = (uintptr_t)&test_info,
	};
	struct iommu_destroy destroy = {.size = sizeof(destroy)};
	uint32_t ioas;
	int r;
	bool ok;

	r = ioas_alloc(iommufd, &ioas);
	if (r < 0) {
		report(false, "mock-domain", "IOMMU_IOAS_ALLOC: %s", strerror(-r));
		return;
	}
	cmd.id = ioas;
	cmd.mock_domain_flags.dev_flags = MOCK_FLAGS_DEVICE_PASID;
	if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd) < 0) {
		report(false, "mock-domain", "IOMMU_TEST_CMD(MOCK_DOMAIN_FLAGS): %s",
		       strerror(errno));
		return;
	}
	ok = cmd.mock_domain_flags.out_stdev_id && cmd.mock_domain_flags.out_hwpt_id &&
	     cmd.mock_domain_flags.out_idev_id;
	report(ok, "mock-domain", "mock device %u (iommufd device %u) on HWPT %u of IOAS %u",
	       cmd.mock_domain_flags.out_stdev_id, cmd.mock_domain_flags.out_idev_id,
	       cmd.mock_domain_flags.out_hwpt_id, ioas);
	if (!ok)
		return;
	info.dev_id = cmd.mock_domain_flags.out_idev_id;
	if (ioctl(iommufd, IOMMU_GET_HW_INFO, &info) < 0) {
		report(false, "mock-hw-info", "IOMMU_GET_HW_INFO: %s", strerror(errno));
	} else {
		ok = info.out_data_type == IOMMU_HW_INFO_TYPE_SELFTEST &&
		     test_info.test_reg == IOMMU_HW_INFO_SELFTEST_REGVAL &&
		     info.out_max_pasid_log2 == MOCK_PASID_WIDTH;
		report(ok, "mock-hw-info",
		       "type %s (%#x), test_reg %#x, out_max_pasid_log2 %u (want %#x, %#x, %u)",
		       hw_info_type(info.out_data_type), info.out_data_type, test_info.test_reg,
		       info.out_max_pasid_log2, IOMMU_HW_INFO_TYPE_SELFTEST,
		       IOMMU_HW_INFO_SELFTEST_REGVAL, MOCK_PASID_WIDTH);
	}
	destroy.id = cmd.mock_domain_flags.out_stdev_id;
	ioctl(iommufd, IOMMU_DESTROY, &destroy);
}

int main(int argc, char **argv)
{
	struct edu edu[N_EDU];
	bool ok[N_EDU];
	uint32_t ioas[N_EDU];
	int iommufd, i, r;
	size_t c;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (c = 0; c < N_CHECKS; c++)
			printf("%s\n", checks[c]);
		return 0;
	}
	if (argc != 1 + N_EDU) {
		fprintf(stderr, "usage: %s BDF0 BDF1 | --list\n", argv[0]);
		return 2;
	}
	memset(edu, 0, sizeof(edu));
	for (i = 0; i < N_EDU; i++) {
		edu[i].bdf = argv[1 + i];
		snprintf(edu[i].name, sizeof(edu[i].name), "edu%d", i);
		edu[i].fd = edu[i].memfd = -1;
		edu[i].mem = MAP_FAILED;
	}

	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0) {
		report(false, "iommu-open", "/dev/iommu: %s", strerror(errno));
		goto out;
	}
	report(true, "iommu-open", "/dev/iommu opened");

	for (i = 0; i < N_EDU; i++)
		ok[i] = find_cdev(&edu[i]);
	for (i = 0; i < N_EDU; i++)
		ok[i] = ok[i] && bind_iommufd(&edu[i], iommufd);
	for (i = 0; i < N_EDU; i++)
		if (ok[i])
			hw_info(&edu[i], iommufd);

	for (i = 0; i < N_EDU; i++) {
		r = ioas_alloc(iommufd, &ioas[i]);
		if (r < 0) {
			report(false, "ioas-alloc", "IOMMU_IOAS_ALLOC: %s", strerror(-r));
			goto mock;
		}
		edu[i].ioas_id = ioas[i];
	}
	report(ioas[0] != ioas[1], "ioas-alloc", "IOAS %u for edu0, IOAS %u for edu1", ioas[0],
	       ioas[1]);

	for (i = 0; i < N_EDU; i++)
		ok[i] = map_file(&edu[i], iommufd, (uint8_t)(0x5a + 0x33 * i)) && ok[i];
	for (i = 0; i < N_EDU; i++)
		ok[i] = ok[i] && attach(&edu[i]);
	for (i = 0; i < N_EDU; i++)
		ok[i] = ok[i] && mmio(&edu[i]);
	for (i = 0; i < N_EDU; i++)
		if (ok[i])
			dma(&edu[i]);
	if (ok[0])
		unmapped_faults(&edu[0]);

mock:
	mock(iommufd);
out:
	for (c = 0; c < N_CHECKS; c++)
		if (!reported[c])
			report(false, checks[c], "not run: an earlier step failed");
	for (i = 0; i < N_EDU; i++) {
		if (edu[i].mem != MAP_FAILED)
			munmap(edu[i].mem, MEMFD_SIZE);
		if (edu[i].memfd >= 0)
			close(edu[i].memfd);
		if (edu[i].fd >= 0)
			close(edu[i].fd);
	}
	if (iommufd >= 0)
		close(iommufd);
	return n_failed ? 1 : 0;
}
