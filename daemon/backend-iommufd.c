/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd backend: mainline kernels, where the seed's SVM ioctl never merged and device
 * DMA is set up through /dev/iommu and VFIO device cdevs (/dev/vfio/devices/vfioN). It
 * brokers open-device, map and, on a VT-d that nests, guest page tables (bind-pgtable) with
 * their invalidation; a process's address space has no mainline uAPI, PASID tables are not
 * brokered here yet, and each device says per kind why not.
 *
 * Ownership. At start-up each managed device's cdev is opened and bound
 * (VFIO_DEVICE_BIND_IOMMUFD) to an iommufd of svmd's own that holds no other object: the
 * kernel lets one open file at a time bind a cdev (a second BIND answers EINVAL, and the
 * legacy group node and a bound cdev exclude each other with EBUSY; measured by
 * tests/vm/iommufd-owner.c), so while svmd holds that binding nobody else, no second svmd
 * either, can use the device. IOMMU_GET_HW_INFO gives the IOMMU's type and PASID width; a
 * throw-away IOAS attached once gives the IOVA ranges the device can reach (an empty IOAS
 * reaches everything; the device's aperture and reserved regions apply only once attached).
 *
 * Spaces. Each client gets an iommufd of its own (space_new), with an IOAS per device it maps
 * for or opens, allocated on first use. open-device gives up svmd's idle binding, opens the
 * cdev anew, binds it to the client's iommufd, attaches it to that device's IOAS, keeps one
 * copy of the fd and hands out another. close_device detaches through svmd's copy and closes
 * it; the binding itself lasts as long as any copy, so svmd takes the idle binding back only
 * once the client has closed its own (at the next open-device, when not at once).
 *
 * What a client holding a device fd can do beyond what svmd granted: the fd is bound to the
 * client's own iommufd, whose fd only svmd holds, so the client can create no object, map
 * nothing and set no option; a device fd can only attach (at its RID, or at any PASID where
 * the driver has PASID attach) and detach, to objects of the iommufd it is bound to. Those are
 * the IOASes svmd made for this client's devices and the HWPTs the kernel made for them, all
 * holding only memfds this client sent: attaching to another device's IOAS of its space, or at
 * another PASID, reaches its own memory again. It cannot rebind its fd elsewhere (EINVAL) nor
 * name another client's objects (ENOENT: ids are per iommufd). After close_device it may
 * attach again to what its space still has; when the space ends svmd unmaps every IOAS first,
 * so an IOAS the client attached again stays alive (IOMMU_DESTROY answers EBUSY), but empty,
 * as does the iommufd context behind it until the client closes the fd. A re-attach can pin
 * pages of a map svmd made for a device the client never opened (maps pin on first attach):
 * its own memory, counted as mapped when svmd mapped it. Likewise it may attach its fd, at the
 * RID or a PASID, to the nested HWPTs of its own guest tables: those translate through its own
 * stage 2 only.
 *
 * Nesting. A page-table bind is made on the device as it is open in the client's space (svmd's
 * copy of the fd): a NEST_PARENT HWPT on the device's IOAS, made once per space and device and
 * PASID-capable when the device has PASIDs, takes the RID (the same stage 2, and the kernel
 * wants the RID on a PASID-capable HWPT before any PASID attach); a nested VTD_S1 HWPT per
 * guest table is attached at the RID or at its PASID. Unbind detaches it (the RID back onto
 * the parent) and destroys it; the parent goes with the space.
 *
 * Mock devices (TEST ONLY, --test-mock-devices; iommufd-mock.c). The kernel's mock IOMMU of a
 * CONFIG_IOMMUFD_TEST kernel, proven at start-up, stands in for a nesting IOMMU no emulator has:
 * mock device N is named ffff:00:NN.0 and goes through the names, policy and checks of any
 * device. It has no cdev, so no idle binding and no open-device (no fd to hand out); the kernel
 * makes it in a client's space, on the device's IOAS, at its first bind-pgtable there, and the
 * space holds it (EBUSY for others) until it ends, when svmd destroys it. Its guest tables are
 * nested as on VT-d, attached through IOMMU_TEST_CMD instead of the device fd.
 *
 * Accounting. Pages a map pins are charged to svmd, the process that maps, never to the
 * client: with CAP_IPC_LOCK not at all (svmd therefore gives it up at start-up), else against
 * svmd's RLIMIT_MEMLOCK, as svmd's own locked memory (VmLck) when IOMMU_OPTION_RLIMIT_MODE is
 * 1, which svmd sets in each client's iommufd before any object when it holds
 * CAP_SYS_RESOURCE, else as its user's (mode 0, the kernel's default). svmd says which at
 * start-up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend-iommufd.h"
#include "cleanup.h"
#include "iommufd-abi.h"
#include "iommufd-mock.h"
#include "iommufd-smmuv3.h"
#include "log.h"
#include "pci-sysfs.h"
#include "util.h"
#include "vfio-abi.h"

#define IOMMUFD_DEVICES_MAX 256u
#define RANGES_MAX          16u
#define VTD_ECAP_NEST       (1ull << 26)
#define VTD_CAP_FL5LP       (1ull << 60) /* first-level 5-level paging: 57-bit stage 1 */
#define VTD_PAGE            4096ull
/* The seed's VT-d flags (SVMD_VTD_FLAGS_ALL) mainline's stage 1 has: SRE and EAFE, the same
 * bits; PCD, PWT, EMTE and CD have no IOMMU_HWPT_DATA_VTD_S1 equivalent. */
#define SEED_VTD_SRE  (1ull << 0)
#define SEED_VTD_EAFE (1ull << 1)
/* Guest tables one device may have nested in one space (its RID and PASIDs). */
#define NESTS_MAX 64u

struct ifd_device {
	char node[32];                      /* "vfio0" */
	char cdev[4096];                    /* DEV/vfio/devices/vfio0 */
	int idle_fd;                        /* svmd's idle binding, -1 while given up */
	uint32_t idle_devid;                /* the device's id in svmd's own iommufd */
	const struct backend_space *holder; /* the space it is open in, or NULL */
	uint32_t hw_type;
	uint64_t caps;
	uint64_t vtd_cap; /* VT-d: the capability register */
	bool nests;       /* the IOMMU takes nested stage-1 tables (bind-pgtable) */
	struct svmd_iommu_iova_range ranges[RANGES_MAX];
	uint32_t n_ranges;
	uint64_t align; /* IOVAs, lengths and offsets: multiples of it (at least a page) */
	char why_task[256], why_pgtable[256], why_table[320];
	bool mock; /* TEST ONLY: a mock device of --test-mock-devices (iommufd-mock.h) */
	char why_device[200];
};

struct iommufd_backend {
	struct backend base;
	int iommufd; /* svmd's own: the idle bindings, and nothing else */
	char iommu_path[4096];
	struct ifd_device *devs;
	bool mode1; /* IOMMU_OPTION_RLIMIT_MODE 1 in every space */
	/* svmd's RLIMIT_MEMLOCK, for messages: read at start-up (the sandbox has no getrlimit,
	 * and nothing changes it once serving). */
	char memlock[32];
	char note[512];
	unsigned long ioctls[16]; /* serving_ioctls, and IOMMU_TEST_CMD with mock devices */
};

/* A guest stage-1 table nested over a device's stage 2: its nested HWPT, where attached. */
struct nest {
	uint32_t pasid; /* 0: the RID */
	uint32_t hwpt;
	uint32_t fault; /* its FAULT object (SVMD_PGTABLE_FAULTS), else 0 */
	int fault_fd;   /* svmd's copy of the FAULT's fd, else -1 */
};

/* One client's iommufd, and per device what it has there. */
struct space_device {
	uint32_t ioas;  /* 0 until first used */
	int fd;         /* svmd's copy of the client's device fd while it is open here, else -1 */
	uint32_t devid; /* the device's id in the space's iommufd while open here */
	struct smmuv3_nest *nest; /* its PASID table, while bound (iommufd-smmuv3.c) */
	uint32_t parent;    /* the NEST_PARENT HWPT on ioas (the RID rests on it), 0 until nested */
	bool parent_pasid;  /* parent was allocated PASID-capable */
	struct nest *nests; /* the guest page tables nested over parent */
	size_t n_nests;
	uint32_t stdev; /* a mock device: made here (on ioas) by its first bind, 0 until then */
};

static struct nest *nest_find(struct space_device *sd, uint32_t pasid);
static void nests_destroy(struct backend_space *s, struct space_device *sd,
			  const struct device *dev);

struct backend_space {
	int iommufd;
	/* FAULT objects of ended bindings whose fd their owner still holds (IOMMU_DESTROY
	 * answered EBUSY): destroyed again at the next nested bind or unbind, else with the
	 * iommufd. */
	uint32_t stale_faults[NESTS_MAX];
	size_t n_stale_faults;
	size_t n;
	struct space_device devs[];
};

static const char *errno_name(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "an unknown errno";
}

static int xioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do
		r = ioctl(fd, request, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static struct ifd_device *dev_of(struct iommufd_backend *b, const struct device *dev)
{
	return &b->devs[dev->index];
}

/* ---- The kernel's calls ---- */

/* Binds the cdev fd to iommufd; *ret_devid (may be NULL) names the device there. */
static int bind_iommufd(int fd, int iommufd, uint32_t *ret_devid)
{
	struct svmd_vfio_device_bind_iommufd bind = {.argsz = sizeof(bind), .iommufd = iommufd};
	int r = xioctl(fd, SVMD_VFIO_DEVICE_BIND_IOMMUFD, &bind);

	if (r >= 0 && ret_devid)
		*ret_devid = bind.out_devid;
	return r;
}

static int attach(int fd, uint32_t pt)
{
	struct svmd_vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = pt};

	return xioctl(fd, SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
}

static int detach(int fd)
{
	struct svmd_vfio_device_detach_iommufd_pt de = {.argsz = sizeof(de)};

	return xioctl(fd, SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT, &de);
}

/* Attaches (replaces) the RID, pasid 0, or one PASID of the device fd to pt. */
static int attach_at(int fd, uint32_t pt, uint32_t pasid)
{
	struct svmd_vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.flags = pasid ? SVMD_VFIO_DEVICE_ATTACH_PASID : 0,
		.pt_id = pt,
		.pasid = pasid,
	};

	return xioctl(fd, SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
}

static int detach_pasid(int fd, uint32_t pasid)
{
	struct svmd_vfio_device_detach_iommufd_pt de = {
		.argsz = sizeof(de), .flags = SVMD_VFIO_DEVICE_DETACH_PASID, .pasid = pasid};

	return xioctl(fd, SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT, &de);
}

/* The same on a space's device: through svmd's copy of its fd, or, for a mock device (TEST
 * ONLY), through IOMMU_TEST_CMD on the selftest object the kernel made for it. */
static int sd_attach_at(int iommufd, const struct space_device *sd, uint32_t pt, uint32_t pasid)
{
	return sd->stdev ? mock_attach_at(iommufd, sd->stdev, pt, pasid)
			 : attach_at(sd->fd, pt, pasid);
}

static int sd_detach_pasid(int iommufd, const struct space_device *sd, uint32_t pasid)
{
	return sd->stdev ? mock_detach_pasid(iommufd, sd->stdev, pasid)
			 : detach_pasid(sd->fd, pasid);
}

static const char *sd_attach_name(const struct space_device *sd, uint32_t pasid)
{
	if (!sd->stdev)
		return "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
	return pasid ? "IOMMU_TEST_CMD(PASID_ATTACH)" : "IOMMU_TEST_CMD(MOCK_DOMAIN_REPLACE)";
}

static int hwpt_alloc(int iommufd, struct svmd_iommu_hwpt_alloc *h)
{
	h->size = sizeof(*h);
	return xioctl(iommufd, SVMD_IOMMU_HWPT_ALLOC, h);
}

static int ioas_alloc(int iommufd, uint32_t *ret)
{
	struct svmd_iommu_ioas_alloc a = {.size = sizeof(a)};
	int r = xioctl(iommufd, SVMD_IOMMU_IOAS_ALLOC, &a);

	if (r >= 0)
		*ret = a.out_ioas_id;
	return r;
}

static int destroy(int iommufd, uint32_t id)
{
	struct svmd_iommu_destroy d = {.size = sizeof(d), .id = id};

	return xioctl(iommufd, SVMD_IOMMU_DESTROY, &d);
}

static int unmap_range(int iommufd, uint32_t ioas, uint64_t iova, uint64_t length,
		       uint64_t *ret_unmapped)
{
	struct svmd_iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = length};
	int r = xioctl(iommufd, SVMD_IOMMU_IOAS_UNMAP, &u);

	if (r >= 0 && ret_unmapped)
		*ret_unmapped = u.length;
	return r;
}

static int rlimit_mode_set(int iommufd, uint64_t mode)
{
	struct svmd_iommu_option o = {
		.size = sizeof(o),
		.option_id = SVMD_IOMMU_OPTION_RLIMIT_MODE,
		.op = SVMD_IOMMU_OPTION_OP_SET,
		.val64 = mode,
	};

	return xioctl(iommufd, SVMD_IOMMU_OPTION, &o);
}

/* ---- Start-up: a device's cdev, its idle binding, its IOMMU ---- */

/* d's cdev from sysfs: SYSFS/bus/pci/devices/BDF/vfio-dev/vfioN names DEV/vfio/devices/vfioN. */
static int cdev_find(const char *sysfs, const char *devroot, const char *name, struct ifd_device *d,
		     char *err, size_t errlen)
{
	char dir[4096];
	DIR *dp;

	if (path_fmt(dir, sizeof(dir), "%s/bus/pci/devices/%s/vfio-dev", sysfs, name) < 0)
		return fail(err, errlen, -ENAMETOOLONG, "sysfs root too long");
	dp = opendir(dir);
	if (!dp)
		return fail(err, errlen, -ENODEV,
			    "%s has no VFIO device cdev (%s: %s): this kernel lacks "
			    "CONFIG_VFIO_DEVICE_CDEV; use --backend=vfio",
			    name, dir, strerror(errno));
	d->node[0] = 0;
	for (struct dirent *e; (e = readdir(dp));) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "vfio", 4) == 0 && len < sizeof(d->node))
			memcpy(d->node, e->d_name, len + 1);
	}
	closedir(dp);
	if (!d->node[0])
		return fail(err, errlen, -ENODEV, "%s has no VFIO device cdev: %s names none", name,
			    dir);
	if (path_fmt(d->cdev, sizeof(d->cdev), "%s/vfio/devices/%s", devroot, d->node) < 0)
		return fail(err, errlen, -ENAMETOOLONG, "dev root too long");
	if (access(d->cdev, F_OK) < 0)
		return fail(err, errlen, -ENODEV,
			    "no %s, the cdev sysfs names for %s (is devtmpfs mounted on %s?)",
			    d->cdev, name, devroot);
	return 0;
}

/* What a BIND's errno means at start-up, for the message. */
static int bind_refusal(int r, const struct ifd_device *d, const char *name, char *err,
			size_t errlen)
{
	if (r == -EINVAL || r == -EBUSY)
		/* EINVAL: another open file has the cdev bound; EBUSY: a process holds its IOMMU
		 * group through the legacy /dev/vfio/N, or another iommufd owns the group. */
		return fail(err, errlen, -EBUSY,
			    "%s (%s) is in use by another process (another svmd?): "
			    "VFIO_DEVICE_BIND_IOMMUFD answered %s",
			    name, d->cdev, errno_name(-r));
	if (r == -EPERM)
		return fail(
			err, errlen, r,
			"VFIO_DEVICE_BIND_IOMMUFD of %s: EPERM: the platform cannot isolate its "
			"MSI interrupts (enable interrupt remapping, e.g. intremap=on)",
			name);
	return fail(err, errlen, r, "VFIO_DEVICE_BIND_IOMMUFD of %s (%s): %s (%s)", name, d->cdev,
		    strerror(-r), errno_name(-r));
}

/* Opens d's cdev and binds it to iommufd. Returns the fd, or a negative errno. */
static int cdev_bind(const struct ifd_device *d, int iommufd)
{
	_cleanup_close_ int fd = open(d->cdev, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int r = bind_iommufd(fd, iommufd, NULL);
	return r < 0 ? r : TAKE_FD(fd);
}

static int idle_bind(struct iommufd_backend *b, struct ifd_device *d, const char *name, char *err,
		     size_t errlen)
{
	_cleanup_close_ int fd = open(d->cdev, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0) {
		r = -errno;
		return fail(err, errlen, r, "cannot open %s (%s): %s%s", d->cdev, name,
			    strerror(-r), node_access_hint(r));
	}
	r = bind_iommufd(fd, b->iommufd, &d->idle_devid);
	if (r < 0)
		return bind_refusal(r, d, name, err, errlen);
	d->idle_fd = TAKE_FD(fd);
	return 0;
}

static const char *hw_type_name(uint32_t type, char *buf, size_t size)
{
	switch (type) {
	case SVMD_IOMMU_HW_INFO_TYPE_NONE:
		return "none";
	case SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD:
		return "intel-vtd";
	case SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3:
		return "arm-smmuv3";
	case SVMD_IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV:
		return "tegra241-cmdqv";
	case SVMD_IOMMU_HW_INFO_TYPE_AMD:
		return "amd";
	default:
		snprintf(buf, size, "type %" PRIu32, type);
		return buf;
	}
}

/* Why each SVM kind can or cannot be bound on dev: a process's has no mainline uAPI; a guest
 * page table nests on a VT-d with ECAP.NEST (IOMMU_HWPT_DATA_VTD_S1), and on nothing else
 * svmd brokers yet; PASID tables are the SMMUv3's (not brokered on this backend yet). */
static void describe_kinds(struct ifd_device *d, struct device *dev, uint64_t vtd_ecap)
{
	char tbuf[32];
	const char *type = hw_type_name(d->hw_type, tbuf, sizeof(tbuf));

	snprintf(d->why_task, sizeof(d->why_task),
		 "no mainline uAPI binds another process's address space: SVA is bound by the "
		 "driver of an SVA-capable node to whoever opens it (uacce, idxd, "
		 "uio_pci_generic_sva, amdxdna): open that node instead");
	dev->kinds = SVMD_KIND_BIT(SVMD_KIND_DEVICE) | SVMD_KIND_BIT(SVMD_KIND_MAP);
	dev->unsupported[SVMD_KIND_TASK] = d->why_task;
	dev->unsupported[SVMD_KIND_PGTABLE] = d->why_pgtable;
	dev->unsupported[SVMD_KIND_PASID_TABLE] = d->why_table;
	snprintf(d->why_table, sizeof(d->why_table),
		 "PASID-table binds are not brokered on the iommufd backend for IOMMU %s: a "
		 "guest PASID table is an SMMUv3 stage-1 context descriptor table",
		 type);
	if (d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD && !(vtd_ecap & VTD_ECAP_NEST)) {
		snprintf(d->why_pgtable, sizeof(d->why_pgtable),
			 "the VT-d IOMMU of %s cannot nest (ECAP.NEST, bit 26, is clear in ecap "
			 "%#" PRIx64 "; the kernel answers IOMMU_HWPT_ALLOC(NEST_PARENT) with "
			 "EOPNOTSUPP): no guest table can be bound on it",
			 dev->name, vtd_ecap);
		snprintf(d->why_table, sizeof(d->why_table), "%s", d->why_pgtable);
	} else if (d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD) {
		d->nests = true;
		dev->kinds |= SVMD_KIND_BIT(SVMD_KIND_PGTABLE);
		dev->unsupported[SVMD_KIND_PGTABLE] = NULL;
		snprintf(d->why_table, sizeof(d->why_table),
			 "VT-d has no PASID-table bind on mainline: bind each PASID's page table "
			 "(bind-pgtable) instead");
	} else if (d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3 ||
		   d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV) {
		snprintf(d->why_pgtable, sizeof(d->why_pgtable),
			 "an SMMUv3 nests the guest's whole PASID (CD) table, not one page table: "
			 "use bind-pasid-table");
	} else if (d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_AMD) {
		snprintf(d->why_pgtable, sizeof(d->why_pgtable),
			 "AMD guest tables (a vIOMMU and IOMMU_HWPT_DATA_AMD_GUEST) are not "
			 "brokered by svmd yet");
	} else {
		snprintf(d->why_pgtable, sizeof(d->why_pgtable),
			 "the IOMMU of %s (%s) takes no guest page table svmd knows "
			 "(IOMMU_HWPT_DATA_VTD_S1 is VT-d's)",
			 dev->name, type);
	}
}

/* IOMMU_GET_HW_INFO of the bound device: model, PASID width, capabilities, kinds. */
static int hw_info(struct iommufd_backend *b, struct ifd_device *d, struct device *dev, char *err,
		   size_t errlen)
{
	union {
		struct svmd_iommu_hw_info_vtd vtd;
		struct svmd_iommu_hw_info_arm_smmuv3 smmu;
		struct svmd_iommu_hw_info_amd amd;
		uint8_t bytes[64];
	} data = {0};
	struct svmd_iommu_hw_info info = {
		.size = sizeof(info),
		.dev_id = d->idle_devid,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	int r = xioctl(b->iommufd, SVMD_IOMMU_GET_HW_INFO, &info);
	if (r < 0)
		return fail(err, errlen, r, "IOMMU_GET_HW_INFO for %s: %s (%s)", dev->name,
			    strerror(-r), errno_name(-r));
	d->hw_type = info.out_data_type;
	d->caps = info.out_capabilities;
	dev->pasid_bits = info.out_max_pasid_log2;
	dev->model = d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD ? SVMD_MODEL_VTD
		     : d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3 ||
				     d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV
			     ? SVMD_MODEL_SMMU
			     : SVMD_MODEL_NONE;
	if (d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD)
		d->vtd_cap = data.vtd.cap_reg;
	describe_kinds(d, dev,
		       d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD ? data.vtd.ecap_reg : 0);
	/* An SMMUv3 nests a guest's CD table where the kernel gives it a vIOMMU: asked once,
	 * here, so that devices() tells which do and why the others do not. */
	if (d->hw_type == SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
		if (smmuv3_probe(b->iommufd, d->idle_devid, dev->name, d->why_table,
				 sizeof(d->why_table)) == 0) {
			dev->kinds |= SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE);
			dev->unsupported[SVMD_KIND_PASID_TABLE] = NULL;
		}
	}
	return 0;
}

/* The IOVA ranges d reaches once attached (its aperture, less its reserved regions) and their
 * alignment: an IOAS of svmd's own, attached, asked, detached and destroyed again, so the
 * idle iommufd holds nothing but the devices. A space's IOAS for d has the same ranges. */
static int probe_ranges(struct iommufd_backend *b, struct ifd_device *d, const char *name,
			char *err, size_t errlen)
{
	struct svmd_iommu_ioas_iova_ranges q = {
		.size = sizeof(q),
		.num_iovas = RANGES_MAX,
		.allowed_iovas = (uintptr_t)d->ranges,
	};
	uint32_t ioas = 0;
	int r = ioas_alloc(b->iommufd, &ioas);

	if (r < 0)
		return fail(err, errlen, r, "IOMMU_IOAS_ALLOC: %s", strerror(-r));
	q.ioas_id = ioas;
	r = attach(d->idle_fd, ioas);
	if (r < 0)
		fail(err, errlen, r, "VFIO_DEVICE_ATTACH_IOMMUFD_PT of %s to an IOAS: %s (%s)",
		     name, strerror(-r), errno_name(-r));
	if (r == 0) {
		r = xioctl(b->iommufd, SVMD_IOMMU_IOAS_IOVA_RANGES, &q);
		if (r < 0)
			fail(err, errlen, r, "IOMMU_IOAS_IOVA_RANGES with %s attached: %s%s", name,
			     strerror(-r), r == -EMSGSIZE ? " (more than 16 ranges)" : "");
		int rd = detach(d->idle_fd);
		if (r == 0 && rd < 0)
			r = fail(err, errlen, rd, "VFIO_DEVICE_DETACH_IOMMUFD_PT of %s: %s", name,
				 strerror(-rd));
	}
	int rx = destroy(b->iommufd, ioas);
	if (r == 0 && rx < 0)
		r = fail(err, errlen, rx, "IOMMU_DESTROY of a detached IOAS: %s", strerror(-rx));
	if (r < 0)
		return r;
	d->n_ranges = q.num_iovas;
	d->align = (uint64_t)sysconf(_SC_PAGESIZE);
	if (q.out_iova_alignment > d->align)
		d->align = q.out_iova_alignment;
	return 0;
}

/* Another managed device in dev's IOMMU group: iommufd lets one context own a group, and each
 * device goes to its own client's. */
static int group_shared(struct iommufd_backend *b, const struct device *dev, char *err,
			size_t errlen)
{
	for (size_t j = 0; j < dev->index; j++) {
		const struct device *o = &b->base.devices[j];
		if (o->iommu_group == dev->iommu_group)
			return fail(
				err, errlen, -EINVAL,
				"%s and %s share IOMMU group %u: the iommufd backend hands each "
				"device to its own client's iommufd, and the kernel lets one "
				"iommufd own a group; manage one of them, or use --backend=vfio",
				o->name, dev->name, dev->iommu_group);
	}
	return 0;
}

/* A managed device's group: an IOMMU, viable, not shared with another managed device. */
static int group_check(struct iommufd_backend *b, const char *sysfs, struct device *dev, char *err,
		       size_t errlen)
{
	char others[1024];
	int r;

	if (pci_group_is_noiommu(sysfs, dev->iommu_group))
		return fail(err, errlen, -EPERM,
			    "IOMMU group %u (%s) is a no-IOMMU group (vfio "
			    "enable_unsafe_noiommu_mode): it isolates nothing and svmd refuses it; "
			    "enable the IOMMU (e.g. intel_iommu=on) instead",
			    dev->iommu_group, dev->name);
	r = pci_group_members(sysfs, dev->iommu_group, &dev->group_devices, others, sizeof(others));
	if (r < 0)
		return fail(err, errlen, r, "cannot list %s/kernel/iommu_groups/%u/devices: %s",
			    sysfs, dev->iommu_group, strerror(-r));
	if (others[0])
		return fail(
			err, errlen, -EBUSY,
			"IOMMU group %u is not viable: bind %s to vfio-pci too (every device of "
			"a group must be bound to vfio-pci or to no driver)",
			dev->iommu_group, others);
	return group_shared(b, dev, err, errlen);
}

/* Everything about device i: sysfs, its cdev, the idle binding, its IOMMU, its IOVAs. */
static int device_setup(struct iommufd_backend *b, const struct backend_config *cfg, size_t i,
			char *err, size_t errlen)
{
	const char *sysfs = cfg->sysfs_root ? cfg->sysfs_root : "/sys";
	const char *devroot = cfg->dev_root ? cfg->dev_root : "/dev";
	struct device *dev = &b->base.devices[i];
	struct ifd_device *d = &b->devs[i];
	int r;

	if (device_name_canonical(cfg->devices[i], dev->name) < 0)
		return fail(err, errlen, -EINVAL, "'%s' is not a PCI address DDDD:BB:DD.F",
			    cfg->devices[i]);
	for (size_t j = 0; j < i; j++)
		if (strcmp(b->base.devices[j].name, dev->name) == 0)
			return fail(err, errlen, -EINVAL, "%s given twice", dev->name);
	dev->index = (unsigned)i;
	r = pci_describe(sysfs, dev->name, dev, err, errlen);
	if (r == 0)
		r = group_check(b, sysfs, dev, err, errlen);
	if (r == 0)
		r = cdev_find(sysfs, devroot, dev->name, d, err, errlen);
	if (r == 0)
		r = idle_bind(b, d, dev->name, err, errlen);
	if (r == 0)
		r = hw_info(b, d, dev, err, errlen);
	if (r == 0)
		r = probe_ranges(b, d, dev->name, err, errlen);
	if (r == 0)
		log_debug("%s: %s, IOMMU group %u, IOMMU %s, %u PASID bits, capabilities %#" PRIx64
			  ", %u IOVA range%s",
			  dev->name, d->node, dev->iommu_group,
			  hw_type_name(d->hw_type, (char[32]){0}, 32), dev->pasid_bits, d->caps,
			  d->n_ranges, d->n_ranges == 1 ? "" : "s");
	return r;
}

/* ---- Start-up: TEST ONLY, the kernel's mock IOMMU (--test-mock-devices) ---- */

/* Mock device nth of --test-mock-devices, devices[i]: named ffff:00:NN.0 (PCI domain ffff, which
 * no machine svmd manages has), through the same canonical names, duplicate check and policy
 * as any device; its IOMMU is what mock_probe() read of a mock device. It has no cdev and no
 * idle binding: the kernel makes a mock device anew in a client's space at its first
 * bind-pgtable there (mock_in_space()). */
static int mock_setup(struct iommufd_backend *b, const struct mock_info *m, size_t i, unsigned nth,
		      char *err, size_t errlen)
{
	struct device *dev = &b->base.devices[i];
	struct ifd_device *d = &b->devs[i];
	char name[32];

	snprintf(name, sizeof(name), "ffff:00:%02x.0", nth);
	if (device_name_canonical(name, dev->name) < 0)
		return fail(err, errlen, -EINVAL, "mock device name '%s' is not canonical", name);
	for (size_t j = 0; j < i; j++)
		if (strcmp(b->base.devices[j].name, dev->name) == 0)
			return fail(err, errlen, -EINVAL,
				    "%s given twice (and a mock device's name)", dev->name);
	dev->index = (unsigned)i;
	dev->iommu_group = UINT32_MAX - nth; /* a group of its own, as the kernel gives it */
	dev->group_devices = 1;
	dev->pasid_bits = (uint8_t)m->pasid_bits;
	dev->model = SVMD_MODEL_NONE;
	snprintf(d->node, sizeof(d->node), "mock%u", nth);
	d->mock = true;
	d->hw_type = m->hw_type;
	d->caps = m->caps;
	d->n_ranges = m->n_ranges;
	for (uint32_t k = 0; k < m->n_ranges; k++)
		d->ranges[k] = (struct svmd_iommu_iova_range){.start = m->ranges[k][0],
							      .last = m->ranges[k][1]};
	d->align = m->align;
	describe_kinds(d, dev, 0);
	d->nests = true;
	dev->kinds = SVMD_KIND_BIT(SVMD_KIND_MAP) | SVMD_KIND_BIT(SVMD_KIND_PGTABLE);
	dev->unsupported[SVMD_KIND_PGTABLE] = NULL;
	snprintf(d->why_table, sizeof(d->why_table),
		 "a mock device (svmd --test-mock-devices, test only) takes guest page tables "
		 "(bind-pgtable), not PASID tables: svmd does not broker the mock's vIOMMU");
	snprintf(d->why_device, sizeof(d->why_device),
		 "a mock device (svmd --test-mock-devices, test only) has no VFIO device to hand "
		 "out: bind-pgtable makes it in your DMA space, without open-device");
	dev->unsupported[SVMD_KIND_DEVICE] = d->why_device;
	log_notice("%s: TEST ONLY, a mock device of the kernel's IOMMUFD_TEST (IOMMU type %#" PRIx32
		   ", %u PASID bits): bind-pgtable yes (made in the client's space at its first "
		   "bind); open-device no; bind-task no; bind-pasid-table no",
		   dev->name, d->hw_type, dev->pasid_bits);
	return 0;
}

/* ---- Start-up: whose locked memory the pins are ---- */

static bool cap_has(const struct __user_cap_data_struct *c, int cap)
{
	return c[cap / 32].effective & (1u << (cap % 32));
}

/* Gives up CAP_IPC_LOCK, with which the kernel charges pins to no limit at all; svmd never
 * locks memory itself. Returns 1 when it was held, 0 when not, or a negative errno. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct c[2];
	const uint32_t bit = 1u << (CAP_IPC_LOCK % 32);

	if (syscall(SYS_capget, &h, c) < 0)
		return -errno;
	if (!cap_has(c, CAP_IPC_LOCK) && !(c[CAP_IPC_LOCK / 32].permitted & bit))
		return 0;
	c[CAP_IPC_LOCK / 32].effective &= ~bit;
	c[CAP_IPC_LOCK / 32].permitted &= ~bit;
	c[CAP_IPC_LOCK / 32].inheritable &= ~bit;
	return syscall(SYS_capset, &h, c) < 0 ? -errno : 1;
}

static void memlock_text(char *buf, size_t size)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		snprintf(buf, size, "unknown");
	else if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(buf, size, "unlimited");
	else if (rl.rlim_cur >= 1024 * 1024 && rl.rlim_cur % (1024 * 1024) == 0)
		snprintf(buf, size, "%llu MiB", (unsigned long long)rl.rlim_cur >> 20);
	else
		snprintf(buf, size, "%llu KiB", (unsigned long long)rl.rlim_cur >> 10);
}

/* Chooses the accounting, before any object exists in svmd's own iommufd: mode 1 when the
 * kernel lets svmd set it (CAP_SYS_RESOURCE), else the default, 0; says which in b->note. */
static int accounting_choose(struct iommufd_backend *b, char *err, size_t errlen)
{
	int dropped = drop_ipc_lock(), r;

	if (dropped < 0)
		return fail(err, errlen, dropped, "cannot give up CAP_IPC_LOCK: %s",
			    strerror(-dropped));
	r = rlimit_mode_set(b->iommufd, 1);
	if (r < 0 && r != -EPERM)
		return fail(err, errlen, r, "IOMMU_OPTION(RLIMIT_MODE) on %s: %s (%s)",
			    b->iommu_path, strerror(-r), errno_name(-r));
	b->mode1 = r == 0;
	memlock_text(b->memlock, sizeof(b->memlock));
	snprintf(b->note, sizeof(b->note),
		 "iommufd: client memory svmd maps is pinned by svmd and charged to %s, against "
		 "svmd's RLIMIT_MEMLOCK (%s)%s",
		 b->mode1 ? "svmd's own locked memory (IOMMU_OPTION_RLIMIT_MODE 1, VmLck)"
			  : "the locked memory of svmd's user (RLIMIT_MODE 0: svmd lacks "
			    "CAP_SYS_RESOURCE to choose its own)",
		 b->memlock,
		 dropped ? "; svmd gave up CAP_IPC_LOCK, with which nothing would be charged" : "");
	return 0;
}

/* ---- Checks ---- */

static void ranges_text(const struct ifd_device *d, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = 0;
	for (uint32_t i = 0; i < d->n_ranges && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%#" PRIx64 "-%#" PRIx64, i ? ", " : "",
				 (uint64_t)d->ranges[i].start, (uint64_t)d->ranges[i].last);
		used += n > 0 ? (size_t)n : 0;
	}
}

/* A map's arguments as the kernel will check them once dev is attached: flags, alignment, and
 * every byte in one range dev reaches. */
static int map_check(const struct ifd_device *d, const struct device *dev,
		     const struct bind_args *a, char *why, size_t whylen)
{
	const uint64_t iova = a->map.iova, len = a->map.length, off = a->map.offset;
	char ranges[512];

	if (!a->map.flags || a->map.flags & ~(SVMD_MAP_READ | SVMD_MAP_WRITE))
		return fail(why, whylen, -EINVAL,
			    "map flags %#" PRIx32 ": the device may read, write, or both",
			    a->map.flags);
	if (len == 0 || iova + (len - 1) < iova || off + (len - 1) < off)
		return fail(why, whylen, -EINVAL,
			    "length %#" PRIx64 " at IOVA %#" PRIx64 ", offset %#" PRIx64
			    ": empty or past 2^64",
			    len, iova, off);
	if (iova % d->align || len % d->align || off % d->align)
		return fail(why, whylen, -EINVAL,
			    "IOVA %#" PRIx64 ", length %#" PRIx64 " and memfd offset %#" PRIx64
			    " must be multiples of %#" PRIx64 " on %s",
			    iova, len, off, d->align, dev->name);
	for (uint32_t i = 0; i < d->n_ranges; i++)
		if (iova >= d->ranges[i].start && iova + (len - 1) <= d->ranges[i].last)
			return 0;
	ranges_text(d, ranges, sizeof(ranges));
	return fail(why, whylen, -EINVAL,
		    "[%#" PRIx64 ", %#" PRIx64 ") is not within the IOVAs %s reaches: %s", iova,
		    iova + len, dev->name, ranges);
}

/* A guest page table as the kernel's VT-d stage 1 takes it (IOMMU_HWPT_DATA_VTD_S1), at the
 * RID (PASID 0) or at a PASID the device has: the kernel answers a PASID attach on a device
 * without PASIDs with success and programs nothing, so svmd refuses it itself. */
static int pgtable_check(const struct ifd_device *d, const struct device *dev,
			 const struct bind_args *a, char *why, size_t whylen)
{
	const uint32_t width = a->pgtable.addr_width, bits = dev->pasid_bits;
	const uint64_t vf = a->pgtable.vtd_flags;

	if (!d->nests)
		return fail(why, whylen, -EOPNOTSUPP, "%s", dev->unsupported[SVMD_KIND_PGTABLE]);
	if (a->pgtable.format != SVMD_PGTABLE_FORMAT_VTD)
		return fail(why, whylen, -EINVAL,
			    "page-table format %" PRIu32 ": the IOMMU of %s takes VT-d stage-1 "
			    "tables (format %u)",
			    a->pgtable.format, dev->name, SVMD_PGTABLE_FORMAT_VTD);
	if (a->pgtable.flags & SVMD_PGTABLE_GPASID_VALID)
		return fail(why, whylen, -EINVAL,
			    "a guest PASID (GPASID_VALID) means nothing to mainline VT-d nesting: "
			    "the table is attached at the host PASID; send flags 0");
	if (a->pgtable.pat || a->pgtable.emt)
		return fail(why, whylen, -EINVAL,
			    "PAT and EMT are the seed's: mainline's VT-d stage 1 takes neither; "
			    "send 0");
	if (vf & ~(SEED_VTD_SRE | SEED_VTD_EAFE))
		return fail(why, whylen, -EINVAL,
			    "VT-d flags %#" PRIx64 ": mainline's stage 1 has SRE (0x1) and EAFE "
			    "(0x2) only, no PCD, PWT, EMTE or CD",
			    vf);
	if (width != 48 && width != 57)
		return fail(why, whylen, -EINVAL,
			    "address width %" PRIu32 ": a VT-d stage-1 table is 48 (4-level) or 57 "
			    "(5-level) bits wide",
			    width);
	if (width == 57 && !d->mock && !(d->vtd_cap & VTD_CAP_FL5LP))
		return fail(why, whylen, -EINVAL,
			    "a 57-bit stage 1 needs 5-level first-level paging, which the VT-d of "
			    "%s lacks (CAP.FL5LP, bit 60, clear in cap %#" PRIx64 ")",
			    dev->name, d->vtd_cap);
	if (a->pgtable.gpgd % VTD_PAGE)
		return fail(why, whylen, -EINVAL, "gpgd %#" PRIx64 " is not 4 KiB aligned",
			    a->pgtable.gpgd);
	if (a->pasid && bits == 0)
		return fail(why, whylen, -EINVAL,
			    "%s has no PASIDs (IOMMU_GET_HW_INFO: out_max_pasid_log2 0), and the "
			    "kernel would answer a PASID attach with success and program nothing: "
			    "bind at the RID (PASID 0)",
			    dev->name);
	if (a->pasid && bits < 32 && a->pasid >> bits)
		return fail(why, whylen, -EINVAL,
			    "PASID %" PRIu32
			    " is beyond the %u-bit PASID space of %s (1 to %" PRIu64 ")",
			    a->pasid, bits, dev->name, ((uint64_t)1 << bits) - 1);
	return 0;
}

static int iommufd_check(struct backend *be, const struct device *dev, const struct bind_args *a,
			 char *why, size_t whylen)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;

	switch (a->kind) {
	case SVMD_KIND_PGTABLE:
		return pgtable_check(dev_of(b, dev), dev, a, why, whylen);
	case SVMD_KIND_PASID_TABLE:
		if (dev->kinds & SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE))
			return smmuv3_table_check(a, dev->name, dev->pasid_bits, why, whylen);
		return fail(why, whylen, -EOPNOTSUPP, "%s", dev->unsupported[a->kind]);
	case SVMD_KIND_TASK:
		return fail(why, whylen, -EOPNOTSUPP, "%s", dev->unsupported[a->kind]);
	case SVMD_KIND_DEVICE:
		return 0;
	case SVMD_KIND_MAP:
		return map_check(dev_of(b, dev), dev, a, why, whylen);
	default:
		return fail(why, whylen, -EOPNOTSUPP, "no bind of kind %" PRIu32, a->kind);
	}
}

/* No bind reaches the kernel here: guest tables are nested in a space (nest_bind), and a
 * process's has no uAPI; check() says why for each kind. */
static int iommufd_bind(struct backend *be, const struct device *dev, struct bind_args *a,
			char *why, size_t whylen)
{
	int r = iommufd_check(be, dev, a, why, whylen);

	return r < 0 ? r : fail(why, whylen, -EOPNOTSUPP, "the iommufd backend binds nothing");
}

static int iommufd_unbind(struct backend *be, const struct device *dev, const struct bind_args *a,
			  char *why, size_t whylen)
{
	(void)be;
	(void)a;
	return fail(why, whylen, -EOPNOTSUPP, "%s has no binds to undo", dev->name);
}

/* A PASID table, nested on the IOAS of dev in s (iommufd-smmuv3.c): on the device fd svmd gave
 * this space, so the device must be open here. */
static int iommufd_bind_space(struct backend *be, struct backend_space *s, const struct device *dev,
			      struct bind_args *a, char *why, size_t whylen)
{
	struct space_device *sd = &s->devs[dev->index];
	int r = iommufd_check(be, dev, a, why, whylen);

	if (r < 0)
		return r;
	if (a->kind != SVMD_KIND_PASID_TABLE)
		return fail(why, whylen, -EOPNOTSUPP, "the iommufd backend binds no such kind");
	if (sd->fd < 0)
		return fail(
			why, whylen, -EINVAL,
			"open %s first (open-device): its PASID table is nested on the DMA space "
			"of the device fd svmd gives this session",
			dev->name);
	if (smmuv3_unbound(sd->nest))
		sd->nest = smmuv3_unbind(s->iommufd, sd->fd, sd->ioas, sd->nest, dev->name);
	if (smmuv3_unbound(sd->nest))
		return fail(
			why, whylen, -EBUSY,
			"the vEVENTQ fd of the last PASID table bound on %s is still open: close "
			"it first (its vIOMMU lives as long as that fd)",
			dev->name);
	if (sd->nest)
		return fail(why, whylen, -EBUSY, "a PASID table is already bound on %s", dev->name);
	return smmuv3_bind(s->iommufd, sd->fd, sd->devid, sd->ioas, a, dev->name, &sd->nest,
			   &a->table.event_fd, why, whylen);
}

static void iommufd_unbind_space(struct backend *be, struct backend_space *s,
				 const struct device *dev, const struct bind_args *a)
{
	struct space_device *sd = &s->devs[dev->index];

	(void)be;
	(void)a;
	if (!smmuv3_unbound(sd->nest))
		sd->nest = smmuv3_unbind(s->iommufd, sd->fd, sd->ioas, sd->nest, dev->name);
}

/* ---- Spaces ---- */

static int iommufd_space_new(struct backend *be, struct backend_space **ret, char *why,
			     size_t whylen)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;
	size_t n = b->base.n_devices;
	struct backend_space *s = calloc(1, sizeof(*s) + n * sizeof(s->devs[0]));
	int r;

	if (!s)
		return fail(why, whylen, -ENOMEM, "out of memory");
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->devs[i].fd = -1;
	s->iommufd = open(b->iommu_path, O_RDWR | O_CLOEXEC);
	if (s->iommufd < 0) {
		r = -errno;
		free(s);
		return fail(why, whylen, r, "cannot open %s: %s", b->iommu_path, strerror(-r));
	}
	/* Before any object: the kernel takes the mode only on an empty iommufd. */
	if (b->mode1 && (r = rlimit_mode_set(s->iommufd, 1)) < 0) {
		safe_close(s->iommufd);
		free(s);
		return fail(why, whylen, r, "IOMMU_OPTION(RLIMIT_MODE=1) on a new iommufd: %s",
			    strerror(-r));
	}
	*ret = s;
	return 0;
}

/* The IOAS of dev in s, allocated on first use. */
static int space_ioas(struct backend_space *s, const struct device *dev, uint32_t *ret, char *why,
		      size_t whylen)
{
	struct space_device *sd = &s->devs[dev->index];
	int r;

	if (!sd->ioas && (r = ioas_alloc(s->iommufd, &sd->ioas)) < 0)
		return fail(why, whylen, r, "IOMMU_IOAS_ALLOC for %s: %s", dev->name, strerror(-r));
	*ret = sd->ioas;
	return 0;
}

static int map_refusal(const struct iommufd_backend *b, int r, const struct device *dev,
		       const struct bind_args *a, char *why, size_t whylen)
{
	const uint64_t iova = a->map.iova, end = a->map.iova + a->map.length;

	switch (r) {
	case -EEXIST:
		return fail(why, whylen, -EEXIST,
			    "[%#" PRIx64 ", %#" PRIx64 ") overlaps a mapping in %s's space", iova,
			    end, dev->name);
	case -ENOMEM:
		return fail(why, whylen, -ENOMEM,
			    "the kernel cannot pin [%#" PRIx64 ", %#" PRIx64 ") for %s: svmd's "
			    "locked memory (RLIMIT_MEMLOCK %s) is used up, or memory is short",
			    iova, end, dev->name, b->memlock);
	default:
		return fail(why, whylen, r == -EOVERFLOW ? -EINVAL : r,
			    "IOMMU_IOAS_MAP_FILE of [%#" PRIx64 ", %#" PRIx64 ") for %s: %s (%s)",
			    iova, end, dev->name, strerror(-r), errno_name(-r));
	}
}

static int iommufd_map(struct backend *be, struct backend_space *s, const struct device *dev,
		       int memfd, const struct bind_args *a, char *why, size_t whylen)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;
	struct svmd_iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = SVMD_IOMMU_IOAS_MAP_FIXED_IOVA |
			 (a->map.flags & SVMD_MAP_READ ? SVMD_IOMMU_IOAS_MAP_READABLE : 0) |
			 (a->map.flags & SVMD_MAP_WRITE ? SVMD_IOMMU_IOAS_MAP_WRITEABLE : 0),
		.fd = memfd,
		.start = a->map.offset,
		.length = a->map.length,
		.iova = a->map.iova,
	};
	int r;

	if (!s)
		return fail(why, whylen, -EINVAL, "no space to map into");
	r = map_check(dev_of(b, dev), dev, a, why, whylen);
	if (r == 0)
		r = space_ioas(s, dev, &m.ioas_id, why, whylen);
	if (r < 0)
		return r;
	r = xioctl(s->iommufd, SVMD_IOMMU_IOAS_MAP_FILE, &m);
	return r < 0 ? map_refusal(b, r, dev, a, why, whylen) : 0;
}

static int iommufd_unmap(struct backend *be, struct backend_space *s, const struct device *dev,
			 const struct bind_args *a, char *why, size_t whylen)
{
	const uint64_t iova = a->map.iova, end = a->map.iova + a->map.length;
	uint32_t ioas = s ? s->devs[dev->index].ioas : 0;
	uint64_t unmapped = 0;
	int r;

	(void)be;
	if (!ioas)
		return fail(why, whylen, -ENOENT, "nothing is mapped for %s", dev->name);
	r = unmap_range(s->iommufd, ioas, iova, a->map.length, &unmapped);
	if (r == -ENOENT)
		return fail(why, whylen, -ENOENT,
			    "no mapping is exactly [%#" PRIx64 ", %#" PRIx64 ") in %s's space",
			    iova, end, dev->name);
	if (r < 0)
		return fail(why, whylen, r, "IOMMU_IOAS_UNMAP of [%#" PRIx64 ", %#" PRIx64 "): %s",
			    iova, end, strerror(-r));
	if (unmapped != a->map.length)
		return fail(why, whylen, -EIO,
			    "IOMMU_IOAS_UNMAP of [%#" PRIx64 ", %#" PRIx64 ") unmapped %#" PRIx64
			    " bytes",
			    iova, end, unmapped);
	return 0;
}

/* ---- Devices ---- */

/* Binds d, open in no space, to svmd's own iommufd again once no client's fd has it bound;
 * until then the next open-device tries again. */
static void idle_retake(struct iommufd_backend *b, struct ifd_device *d, const struct device *dev)
{
	int fd;

	if (d->idle_fd >= 0 || d->holder || d->mock)
		return;
	fd = cdev_bind(d, b->iommufd);
	if (fd >= 0) {
		d->idle_fd = fd;
		return;
	}
	log_debug("%s: not bound to svmd's own iommufd again (%s): %s; svmd tries again at the "
		  "next open-device",
		  dev->name, errno_name(-fd),
		  fd == -EINVAL ? "still open in its last holder's process" : strerror(-fd));
}

/* d's cdev, opened anew and bound to iommufd (a client's), svmd's idle binding given up.
 * Returns the fd or a negative errno, with why. */
static int take_device(struct iommufd_backend *b, struct ifd_device *d, const struct device *dev,
		       int iommufd, uint32_t *ret_devid, char *why, size_t whylen)
{
	_cleanup_close_ int fd = open(d->cdev, O_RDWR | O_CLOEXEC);
	bool was_idle = d->idle_fd >= 0;
	int r;

	if (fd < 0) {
		r = -errno;
		return fail(why, whylen, r, "cannot open %s: %s", d->cdev, strerror(-r));
	}
	d->idle_fd = safe_close(d->idle_fd);
	r = bind_iommufd(fd, iommufd, ret_devid);
	if (r == 0)
		return TAKE_FD(fd);
	idle_retake(b, d, dev);
	if (r == -EINVAL && !was_idle)
		return fail(why, whylen, -EBUSY,
			    "%s is still open in the previous holder's process: it must close it",
			    dev->name);
	if (r == -EINVAL || r == -EBUSY)
		return fail(why, whylen, -EBUSY, "%s was taken by another process (%s)", dev->name,
			    errno_name(-r));
	return fail(why, whylen, r, "VFIO_DEVICE_BIND_IOMMUFD of %s: %s (%s)", dev->name,
		    strerror(-r), errno_name(-r));
}

/* An attach pins what the IOAS maps: ENOMEM is svmd's locked memory. */
static int attach_refusal(const struct iommufd_backend *b, int r, const struct device *dev,
			  char *why, size_t whylen)
{
	if (r != -ENOMEM)
		return fail(why, whylen, r,
			    "VFIO_DEVICE_ATTACH_IOMMUFD_PT of %s to its IOAS: %s (%s)", dev->name,
			    strerror(-r), errno_name(-r));
	return fail(why, whylen, r,
		    "the kernel cannot pin what %s's space maps: svmd's locked memory "
		    "(RLIMIT_MEMLOCK %s) is used up, or memory is short",
		    dev->name, b->memlock);
}

/* A device opened (again) in a space: the RID onto its guest table there, else onto the
 * nesting parent, else onto the IOAS; then the PASIDs of its guest tables, as they were
 * before it was closed. */
static int nests_attach(struct space_device *sd, int fd, uint32_t ioas)
{
	struct nest *rid = nest_find(sd, 0);
	int r = attach(fd, rid ? rid->hwpt : sd->parent ? sd->parent : ioas);

	for (size_t i = 0; r == 0 && i < sd->n_nests; i++)
		if (sd->nests[i].pasid)
			r = attach_at(fd, sd->nests[i].hwpt, sd->nests[i].pasid);
	return r;
}

static int iommufd_open_device(struct backend *be, struct backend_space *s,
			       const struct device *dev, int *ret_fd, char *why, size_t whylen)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;
	struct ifd_device *d = dev_of(b, dev);
	struct space_device *sd;
	uint32_t ioas;
	int r;

	if (!s)
		return fail(why, whylen, -EOPNOTSUPP,
			    "the iommufd backend opens a device only in a client's own DMA space");
	if (d->mock)
		return fail(why, whylen, -EOPNOTSUPP, "%s: %s", dev->name, d->why_device);
	sd = &s->devs[dev->index];
	if (d->holder)
		return fail(why, whylen, -EBUSY, "%s is open in %s session", dev->name,
			    d->holder == s ? "this" : "another client's");
	r = space_ioas(s, dev, &ioas, why, whylen);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = take_device(b, d, dev, s->iommufd, &sd->devid, why, whylen);
	if (fd < 0)
		return fd;
	r = nests_attach(sd, fd, ioas);
	if (r < 0) {
		fd = safe_close(fd);
		idle_retake(b, d, dev);
		return attach_refusal(b, r, dev, why, whylen);
	}
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0) {
		r = -errno;
		detach(fd);
		fd = safe_close(fd);
		idle_retake(b, d, dev);
		return fail(why, whylen, r, "cannot duplicate the device fd: %s", strerror(-r));
	}
	sd->fd = TAKE_FD(fd);
	d->holder = s;
	*ret_fd = copy;
	return 0;
}

/* Detaches dev through svmd's copy and closes it: whatever copies the client has reach
 * nothing until it attaches them again to what s still has. */
static void device_release(struct iommufd_backend *b, struct backend_space *s,
			   const struct device *dev)
{
	struct space_device *sd = &s->devs[dev->index];
	int r;

	if (sd->fd < 0)
		return;
	/* Its PASID table first: the binding, still recorded, has nothing left to undo. */
	sd->nest = smmuv3_unbind(s->iommufd, sd->fd, sd->ioas, sd->nest, dev->name);
	/* The PASIDs the client's guest tables are attached at, then the RID. */
	for (size_t i = 0; i < sd->n_nests; i++)
		if (sd->nests[i].pasid && (r = detach_pasid(sd->fd, sd->nests[i].pasid)) < 0)
			log_warning_errno(r, "VFIO_DEVICE_DETACH_IOMMUFD_PT of %s PASID %u: %m",
					  dev->name, sd->nests[i].pasid);
	r = detach(sd->fd);
	if (r < 0)
		log_warning_errno(r, "VFIO_DEVICE_DETACH_IOMMUFD_PT of %s: %m", dev->name);
	sd->fd = safe_close(sd->fd);
	dev_of(b, dev)->holder = NULL;
}

static void iommufd_close_device(struct backend *be, struct backend_space *s,
				 const struct device *dev)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;

	if (!s)
		return;
	device_release(b, s, dev);
	idle_retake(b, dev_of(b, dev), dev);
}

/* ---- Guest tables nested over a space's stage 2 ---- */

static struct nest *nest_find(struct space_device *sd, uint32_t pasid)
{
	for (size_t i = 0; i < sd->n_nests; i++)
		if (sd->nests[i].pasid == pasid)
			return &sd->nests[i];
	return NULL;
}

static const char *where_text(const struct device *dev, uint32_t pasid, char *buf, size_t size)
{
	if (pasid)
		snprintf(buf, size, "PASID %" PRIu32 " of %s", pasid, dev->name);
	else
		snprintf(buf, size, "the RID of %s", dev->name);
	return buf;
}

/* The NEST_PARENT HWPT of dev's IOAS in s, made on the first nested bind and kept with the
 * space: PASID-capable when the device has PASIDs, and the RID moved onto it (the same stage
 * 2), as the kernel requires before any PASID attach. */
static int parent_get(struct backend_space *s, struct space_device *sd, const struct device *dev,
		      char *why, size_t whylen)
{
	struct svmd_iommu_hwpt_alloc h = {
		.flags = SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT |
			 (dev->pasid_bits ? SVMD_IOMMU_HWPT_ALLOC_PASID : 0),
		.dev_id = sd->devid,
		.pt_id = sd->ioas,
	};
	int r;

	if (sd->parent)
		return 0;
	r = hwpt_alloc(s->iommufd, &h);
	if (r == -EOPNOTSUPP)
		return fail(why, whylen, r,
			    "the IOMMU of %s cannot nest: IOMMU_HWPT_ALLOC(NEST_PARENT) answered "
			    "EOPNOTSUPP",
			    dev->name);
	if (r < 0)
		return fail(why, whylen, r,
			    "IOMMU_HWPT_ALLOC(NEST_PARENT) on the IOAS of %s: %s (%s)", dev->name,
			    strerror(-r), errno_name(-r));
	r = sd_attach_at(s->iommufd, sd, h.out_hwpt_id, 0);
	if (r < 0) {
		destroy(s->iommufd, h.out_hwpt_id);
		return fail(why, whylen, r, "%s of %s to its stage-2 parent: %s (%s)",
			    sd_attach_name(sd, 0), dev->name, strerror(-r), errno_name(-r));
	}
	sd->parent = h.out_hwpt_id;
	sd->parent_pasid = dev->pasid_bits > 0;
	return 0;
}

/* The nested HWPT for a's guest table, on sd's parent. */
static int nested_alloc(struct backend_space *s, struct space_device *sd, const struct device *dev,
			const struct bind_args *a, uint32_t fault, uint32_t *ret, char *why,
			size_t whylen)
{
	struct svmd_iommu_hwpt_vtd_s1 vtd = {
		.flags = (a->pgtable.vtd_flags & SEED_VTD_SRE ? SVMD_IOMMU_VTD_S1_SRE : 0) |
			 (a->pgtable.vtd_flags & SEED_VTD_EAFE ? SVMD_IOMMU_VTD_S1_EAFE : 0),
		.pgtbl_addr = a->pgtable.gpgd,
		.addr_width = a->pgtable.addr_width,
	};
	struct svmd_iommu_hwpt_alloc h = {
		.flags = (sd->parent_pasid ? SVMD_IOMMU_HWPT_ALLOC_PASID : 0) |
			 (fault ? SVMD_IOMMU_HWPT_FAULT_ID_VALID : 0),
		.dev_id = sd->devid,
		.pt_id = sd->parent,
		.data_type = SVMD_IOMMU_HWPT_DATA_VTD_S1,
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
		.fault_id = fault,
	};
	int r;

	if (sd->stdev) {
		r = mock_nested_alloc(s->iommufd, sd->devid, sd->parent, sd->parent_pasid,
				      a->pgtable.gpgd, fault, ret);
		return r < 0 ? fail(why, whylen, r,
				    "kernel refused: IOMMU_HWPT_ALLOC(DATA_SELFTEST, IOTLB "
				    "%#" PRIx32 ") for mock device %s: %s (%s)",
				    mock_iotlb_of(a->pgtable.gpgd), dev->name, strerror(-r),
				    errno_name(-r))
			     : 0;
	}
	r = hwpt_alloc(s->iommufd, &h);
	if (r < 0)
		return fail(why, whylen, r,
			    "kernel refused: IOMMU_HWPT_ALLOC(VTD_S1, gpgd %#" PRIx64 ", %" PRIu32
			    " bits) for %s: %s (%s)",
			    a->pgtable.gpgd, a->pgtable.addr_width, dev->name, strerror(-r),
			    errno_name(-r));
	*ret = h.out_hwpt_id;
	return 0;
}

/* The FAULT object of an ended binding: svmd's fd closed, then destroyed; while its owner still
 * holds its copy the kernel answers EBUSY, and it waits in s's stale list. */
static void fault_end(struct backend_space *s, uint32_t fault, int fd, const char *name)
{
	int r;

	safe_close(fd);
	if (!fault)
		return;
	r = destroy(s->iommufd, fault);
	if (r == -EBUSY && s->n_stale_faults < ELEMENTSOF(s->stale_faults))
		s->stale_faults[s->n_stale_faults++] = fault;
	else if (r == -EBUSY)
		log_notice("%s: FAULT object %u lives with this session's iommufd (its owner "
			   "keeps its fd)",
			   name, fault);
	else if (r < 0)
		log_warning_errno(r, "IOMMU_DESTROY of FAULT object %u of %s: %m", fault, name);
}

/* The stale FAULT objects whose fds their owners closed since. */
static void faults_reap(struct backend_space *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n_stale_faults; i++)
		if (destroy(s->iommufd, s->stale_faults[i]) == -EBUSY)
			s->stale_faults[kept++] = s->stale_faults[i];
	s->n_stale_faults = kept;
}

/* A FAULT object for a nested table, and a copy of its fd for the caller. */
static int fault_alloc(struct backend_space *s, const char *where, uint32_t *ret_id, int *ret_fd,
		       int *ret_copy, char *why, size_t whylen)
{
	struct svmd_iommu_fault_alloc q = {.size = sizeof(q)};
	int r;

	faults_reap(s);
	if (s->n_stale_faults >= ELEMENTSOF(s->stale_faults))
		return fail(why, whylen, -EBUSY,
			    "%zu fault fds of ended bindings are still open in this session: close "
			    "them first (each FAULT object lives as long as its fd)",
			    s->n_stale_faults);
	r = xioctl(s->iommufd, SVMD_IOMMU_FAULT_QUEUE_ALLOC, &q);
	if (r < 0)
		return fail(why, whylen, r,
			    "kernel refused: IOMMU_FAULT_QUEUE_ALLOC for %s: %s (%s)", where,
			    strerror(-r), errno_name(-r));
	*ret_id = q.out_fault_id;
	*ret_fd = (int)q.out_fault_fd;
	*ret_copy = fcntl(*ret_fd, F_DUPFD_CLOEXEC, 3);
	if (*ret_copy < 0) {
		r = -errno;
		fault_end(s, *ret_id, *ret_fd, where);
		return fail(why, whylen, r, "cannot copy the fault fd of %s: %s", where,
			    strerror(-r));
	}
	return 0;
}

/* TEST ONLY: a mock device made in s goes: its PASIDs detached, its selftest object destroyed
 * (the kernel detaches its RID and unbinds it), then its nested tables and parent; the device
 * is free for any space again. */
static void mock_release(struct iommufd_backend *b, struct backend_space *s,
			 const struct device *dev)
{
	struct space_device *sd = &s->devs[dev->index];
	int r;

	if (!sd->stdev)
		return;
	for (size_t i = 0; i < sd->n_nests; i++)
		if (sd->nests[i].pasid &&
		    (r = mock_detach_pasid(s->iommufd, sd->stdev, sd->nests[i].pasid)) < 0)
			log_warning_errno(r, "IOMMU_TEST_CMD(PASID_DETACH) of %s PASID %u: %m",
					  dev->name, sd->nests[i].pasid);
	if ((r = destroy(s->iommufd, sd->stdev)) < 0)
		log_warning_errno(r, "IOMMU_DESTROY of mock device %s: %m", dev->name);
	sd->stdev = 0;
	sd->devid = 0;
	nests_destroy(s, sd, dev);
	dev_of(b, dev)->holder = NULL;
}

static int mock_busy(const struct device *dev, char *why, size_t whylen)
{
	return fail(why, whylen, -EBUSY,
		    "mock device %s is held by another client's session (its first bind-pgtable "
		    "made it there, for as long as that session lasts)",
		    dev->name);
}

/* TEST ONLY: the mock device dev in s, made on its IOAS at the first bind there (the kernel
 * binds it to s's iommufd and attaches its RID to the IOAS); held by s, as an open device is,
 * until s ends. *ret_made: whether this call made it. */
static int mock_in_space(struct iommufd_backend *b, struct backend_space *s,
			 const struct device *dev, bool *ret_made, char *why, size_t whylen)
{
	struct ifd_device *d = dev_of(b, dev);
	struct space_device *sd = &s->devs[dev->index];
	uint32_t ioas;
	int r;

	*ret_made = false;
	if (sd->stdev)
		return 0;
	if (d->holder)
		return mock_busy(dev, why, whylen);
	r = space_ioas(s, dev, &ioas, why, whylen);
	if (r < 0)
		return r;
	r = mock_make(s->iommufd, ioas, &sd->stdev, &sd->devid);
	if (r < 0)
		return fail(why, whylen, r,
			    "kernel refused: IOMMU_TEST_CMD(MOCK_DOMAIN_FLAGS) on the IOAS of %s: "
			    "%s (%s)",
			    dev->name, strerror(-r), errno_name(-r));
	d->holder = s;
	*ret_made = true;
	return 0;
}

static int iommufd_nest_bind(struct backend *be, struct backend_space *s, const struct device *dev,
			     struct bind_args *a, char *why, size_t whylen)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;
	struct space_device *sd = &s->devs[dev->index];
	const bool mock = dev_of(b, dev)->mock;
	bool made = false;
	char where[64];
	uint32_t hwpt = 0, fault = 0;
	int r, fault_fd = -1, copy = -1;

	if (a->kind != SVMD_KIND_PGTABLE)
		return fail(why, whylen, -EOPNOTSUPP, "%s", dev->unsupported[a->kind]);
	r = pgtable_check(dev_of(b, dev), dev, a, why, whylen);
	if (r < 0)
		return r;
	where_text(dev, a->pasid, where, sizeof(where));
	if (sd->fd < 0 && !mock)
		return fail(why, whylen, -EINVAL,
			    "%s is not open in this session: open it first (open-device), a guest "
			    "table is attached through the device as it is open in your DMA space",
			    dev->name);
	if (mock && !sd->stdev && dev_of(b, dev)->holder)
		return mock_busy(dev, why, whylen); /* before anything is allocated for it here */
	if (nest_find(sd, a->pasid))
		return fail(why, whylen, -EBUSY, "%s already has a guest table in this session",
			    where);
	if (sd->n_nests >= NESTS_MAX)
		return fail(why, whylen, -ENOSPC, "%s has %u guest tables in this session",
			    dev->name, NESTS_MAX);
	struct nest *grown = reallocarray(sd->nests, sd->n_nests + 1, sizeof(*grown));
	if (!grown)
		return fail(why, whylen, -ENOMEM, "out of memory");
	sd->nests = grown;
	r = mock ? mock_in_space(b, s, dev, &made, why, whylen) : 0;
	if (r == 0)
		r = parent_get(s, sd, dev, why, whylen);
	if (r == 0 && (a->pgtable.flags & SVMD_PGTABLE_FAULTS))
		r = fault_alloc(s, where, &fault, &fault_fd, &copy, why, whylen);
	if (r == 0)
		r = nested_alloc(s, sd, dev, a, fault, &hwpt, why, whylen);
	if (r == 0 && (r = sd_attach_at(s->iommufd, sd, hwpt, a->pasid)) < 0) {
		destroy(s->iommufd, hwpt);
		fail(why, whylen, r, "kernel refused: %s of %s to its nested table: %s (%s)",
		     sd_attach_name(sd, a->pasid), where, strerror(-r), errno_name(-r));
	}
	if (r < 0) {
		/* The queue goes after the table that held it; a mock device this bind made
		 * goes again, and its parent with it: the next one made starts on its IOAS. */
		safe_close(copy);
		fault_end(s, fault, fault_fd, where);
		if (made)
			mock_release(b, s, dev);
		return r;
	}
	sd->nests[sd->n_nests++] = (struct nest){
		.pasid = a->pasid, .hwpt = hwpt, .fault = fault, .fault_fd = fault_fd};
	a->pgtable.fault_fd = copy;
	return 0;
}

/* Back to stage 2 only: the RID onto the parent again, a PASID detached; then the nested
 * HWPT goes. When the device was closed in s already, it is detached everywhere. */
static int iommufd_nest_unbind(struct backend *be, struct backend_space *s,
			       const struct device *dev, const struct bind_args *a, char *why,
			       size_t whylen)
{
	struct space_device *sd = &s->devs[dev->index];
	struct nest *n = nest_find(sd, a->pasid);
	char where[64];
	int r = 0, rd;

	(void)be;
	where_text(dev, a->pasid, where, sizeof(where));
	if (!n)
		return fail(why, whylen, -ENOENT, "%s has no guest table in this space", where);
	if (sd->fd >= 0 || sd->stdev) {
		r = a->pasid ? sd_detach_pasid(s->iommufd, sd, a->pasid)
			     : sd_attach_at(s->iommufd, sd, sd->parent, 0);
		if (r < 0)
			fail(why, whylen, r, "%s of %s: %s",
			     a->pasid ? (sd->stdev ? "IOMMU_TEST_CMD(PASID_DETACH)"
						   : "VFIO_DEVICE_DETACH_IOMMUFD_PT")
				      : sd_attach_name(sd, 0),
			     where, strerror(-r));
	}
	rd = destroy(s->iommufd, n->hwpt);
	if (r == 0 && rd < 0)
		r = fail(why, whylen, rd, "IOMMU_DESTROY of the nested table of %s: %s%s", where,
			 strerror(-rd),
			 rd == -EBUSY ? " (the client attached its device fd to it again)" : "");
	faults_reap(s);
	fault_end(s, n->fault, n->fault_fd, where);
	*n = sd->nests[--sd->n_nests];
	return r;
}

/* One VT-d stage-1 invalidation as intel-iommu takes it: 4 KiB aligned, at least a page, not
 * past 2^64 (address 0 with UINT64_MAX pages is everything), flags LEAF only. */
static int vtd_inv_check(const struct svmd_invalidate_entry *e, uint32_t i, char *why,
			 size_t whylen)
{
	const uint64_t addr = e->w[0], pages = e->w[1], flags = e->w[2];

	if (flags & ~(uint64_t)SVMD_INVALIDATE_VTD_LEAF)
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": flags %#" PRIx64
			    ": VT-d stage 1 has LEAF (0x1) only",
			    i, flags);
	if (addr % VTD_PAGE || pages == 0)
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": address %#" PRIx64 " is not 4 KiB aligned, or no "
			    "pages",
			    i, addr);
	if (!(addr == 0 && pages == UINT64_MAX) &&
	    (pages > (UINT64_MAX >> 12) || addr > UINT64_MAX - (pages << 12) + 1))
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": %#" PRIx64 " pages at %#" PRIx64 " run past 2^64 "
			    "(everything is address 0 with pages UINT64_MAX)",
			    i, pages, addr);
	return 0;
}

static int iommufd_invalidate(struct backend *be, struct backend_space *s, const struct device *dev,
			      const struct bind_args *a, uint32_t type,
			      const struct svmd_invalidate_entry *e, uint32_t n, uint32_t *ret_done,
			      char *why, size_t whylen)
{
	struct svmd_iommu_hwpt_vtd_s1_invalidate inv[SVMD_INVALIDATE_ENTRIES_MAX] = {0};
	struct space_device *sd = &s->devs[dev->index];
	struct nest *nest = nest_find(sd, a->pasid);
	struct svmd_iommu_hwpt_invalidate req = {
		.size = sizeof(req),
		.data_uptr = (uintptr_t)inv,
		.data_type = SVMD_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
		.entry_len = sizeof(inv[0]),
		.entry_num = n,
	};
	char where[64];
	int r;

	*ret_done = 0;
	if (a->kind == SVMD_KIND_PASID_TABLE) /* an SMMUv3 CD table: through its vIOMMU */
		return smmuv3_invalidate(s->iommufd, sd->nest, a, type, e, n, ret_done, dev->name,
					 why, whylen);
	where_text(dev, a->pasid, where, sizeof(where));
	if (dev_of((struct iommufd_backend *)be, dev)->mock) {
		if (type != SVMD_INVALIDATE_MOCK)
			return fail(why, whylen, -EOPNOTSUPP,
				    "invalidation type %" PRIu32 ": the guest table at %s is the "
				    "kernel's mock IOMMU's (type %u, test only)",
				    type, where, SVMD_INVALIDATE_MOCK);
		if (!nest)
			return fail(why, whylen, -ENOENT, "%s has no guest table in this space",
				    where);
		return mock_invalidate(s->iommufd, nest->hwpt, e, n, ret_done, where, why, whylen);
	}
	if (type != SVMD_INVALIDATE_VTD_S1)
		return fail(why, whylen, -EOPNOTSUPP,
			    "invalidation type %" PRIu32
			    ": the guest table at %s is a VT-d stage 1 "
			    "(type %u)",
			    type, where, SVMD_INVALIDATE_VTD_S1);
	if (n == 0 || n > SVMD_INVALIDATE_ENTRIES_MAX)
		return fail(why, whylen, -EINVAL, "%" PRIu32 " entries: 1 to %u", n,
			    SVMD_INVALIDATE_ENTRIES_MAX);
	if (!nest)
		return fail(why, whylen, -ENOENT, "%s has no guest table in this space", where);
	for (uint32_t i = 0; i < n; i++) {
		if ((r = vtd_inv_check(&e[i], i, why, whylen)) < 0)
			return r;
		inv[i] = (struct svmd_iommu_hwpt_vtd_s1_invalidate){
			.addr = e[i].w[0], .npages = e[i].w[1], .flags = (uint32_t)e[i].w[2]};
	}
	req.hwpt_id = nest->hwpt;
	r = xioctl(s->iommufd, SVMD_IOMMU_HWPT_INVALIDATE, &req);
	*ret_done = r < 0 ? (req.entry_num < n ? req.entry_num : 0) : n;
	if (r < 0)
		return fail(why, whylen, r,
			    "kernel refused: IOMMU_HWPT_INVALIDATE of the table at %s: %s (%s), "
			    "after %" PRIu32 " of %" PRIu32 " entries",
			    where, strerror(-r), errno_name(-r), *ret_done, n);
	return 0;
}

/* Every nested table of dev in s and its parent, once dev is detached. */
static void nests_destroy(struct backend_space *s, struct space_device *sd,
			  const struct device *dev)
{
	int r;

	for (size_t i = 0; i < sd->n_nests; i++) {
		if ((r = destroy(s->iommufd, sd->nests[i].hwpt)) < 0)
			log_warning_errno(r, "IOMMU_DESTROY of a nested table of %s: %m",
					  dev->name);
		fault_end(s, sd->nests[i].fault, sd->nests[i].fault_fd, dev->name);
	}
	free(sd->nests);
	sd->nests = NULL;
	sd->n_nests = 0;
	if (sd->parent && (r = destroy(s->iommufd, sd->parent)) < 0)
		log_warning_errno(r, "IOMMU_DESTROY of the stage-2 parent of %s: %m", dev->name);
	sd->parent = 0;
}

/* Per device of s: unmap everything, detach it if still open here, destroy its IOAS; then the
 * client's iommufd goes. An IOAS the client attached its device to again cannot be destroyed
 * (EBUSY): it is empty, and goes when the client closes its fd. */
static void iommufd_space_free(struct backend *be, struct backend_space *s)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		const struct device *dev = &b->base.devices[i];
		struct space_device *sd = &s->devs[i];
		bool was_open = sd->fd >= 0;
		int r;

		if (!sd->ioas && !was_open && !sd->nests)
			continue;
		if (sd->ioas && (r = unmap_range(s->iommufd, sd->ioas, 0, UINT64_MAX, NULL)) < 0)
			log_warning_errno(r, "IOMMU_IOAS_UNMAP of everything for %s: %m",
					  dev->name);
		device_release(b, s, dev);
		mock_release(b, s, dev);
		nests_destroy(s, sd, dev);
		r = sd->ioas ? destroy(s->iommufd, sd->ioas) : 0;
		if (r == -EBUSY && sd->nest)
			log_debug("%s: the vIOMMU of its last PASID table holds its IOAS until the "
				  "iommufd goes (its owner kept the vEVENTQ fd)",
				  dev->name);
		else if (r == -EBUSY)
			log_notice("%s: its client attached its device fd to its IOAS again; the "
				   "IOAS, empty, lives until the client closes that fd",
				   dev->name);
		else if (r < 0)
			log_warning_errno(r, "IOMMU_DESTROY of the IOAS for %s: %m", dev->name);
	}
	faults_reap(s); /* what is left stays while its owner holds the fd, then goes */
	safe_close(s->iommufd);
	for (size_t i = 0; i < s->n; i++) {
		smmuv3_forget(TAKE_PTR(s->devs[i].nest)); /* freed with the iommufd */
		idle_retake(b, &b->devs[i], &b->base.devices[i]);
	}
	free(s);
}

/* ---- The backend ---- */

/* What the serving loop issues (the sandbox allows those): binds, attaches and detaches of
 * open-device, the objects of a space, and, in mode 1, the option set in each new iommufd.
 * GET_HW_INFO and IOVA_RANGES are start-up's only. */
static const unsigned long serving_ioctls[] = {
	SVMD_VFIO_DEVICE_BIND_IOMMUFD,
	SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT,
	SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT,
	SVMD_IOMMU_IOAS_ALLOC,
	SVMD_IOMMU_IOAS_MAP_FILE,
	SVMD_IOMMU_IOAS_UNMAP,
	SVMD_IOMMU_DESTROY,
	SVMD_IOMMU_HWPT_ALLOC, /* PASID tables (iommufd-smmuv3.c) */
	SVMD_IOMMU_VIOMMU_ALLOC,
	SVMD_IOMMU_VDEVICE_ALLOC,
	SVMD_IOMMU_VEVENTQ_ALLOC,
	SVMD_IOMMU_HWPT_INVALIDATE,   /* page tables', PASID tables' vIOMMUs */
	SVMD_IOMMU_FAULT_QUEUE_ALLOC, /* page tables' page requests (SVMD_PGTABLE_FAULTS) */
	SVMD_IOMMU_OPTION,            /* last: mode 1 only */
};

static void iommufd_free(struct backend *be)
{
	struct iommufd_backend *b = (struct iommufd_backend *)be;

	for (size_t i = 0; b->devs && i < b->base.n_devices; i++)
		safe_close(b->devs[i].idle_fd);
	safe_close(b->iommufd);
	free(b->devs);
	free(b->base.devices);
	free(b);
}

static const struct backend_ops iommufd_ops = {
	.name = "iommufd",
	.check = iommufd_check,
	.bind = iommufd_bind,
	.unbind = iommufd_unbind,
	.bind_space = iommufd_bind_space,
	.unbind_space = iommufd_unbind_space,
	.open_device = iommufd_open_device,
	.close_device = iommufd_close_device,
	.nest_bind = iommufd_nest_bind,
	.nest_unbind = iommufd_nest_unbind,
	.invalidate = iommufd_invalidate,
	.space_new = iommufd_space_new,
	.map = iommufd_map,
	.unmap = iommufd_unmap,
	.space_free = iommufd_space_free,
	.free = iommufd_free,
};

static struct iommufd_backend *backend_alloc(size_t n)
{
	struct iommufd_backend *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->base.ops = &iommufd_ops;
	b->iommufd = -1;
	b->base.devices = calloc(n, sizeof(struct device));
	b->devs = calloc(n, sizeof(struct ifd_device));
	if (!b->base.devices || !b->devs) {
		iommufd_free(&b->base);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		b->devs[i].idle_fd = -1;
	/* A space's fd and the copy of each device fd opened in it; SVM binds are summarised
	 * once for start-up, each device's unsupported[] says why per kind. */
	b->base.space_fds = 1;
	b->base.device_fds = 1;
	/* Without CAP_IPC_LOCK, which svmd gives up, every mode charges svmd's RLIMIT_MEMLOCK. */
	b->base.pins_memlock = true;
	b->base.svm_unsupported =
		"the iommufd backend brokers open-device, map and guest page "
		"tables on a nesting VT-d, and no managed device's IOMMU nests; a "
		"process's address space has no mainline uAPI";
	b->base.note = b->note;
	return b;
}

static int iommu_open(struct iommufd_backend *b, const char *devroot, char *err, size_t errlen)
{
	int r;

	if (path_fmt(b->iommu_path, sizeof(b->iommu_path), "%s/iommu", devroot) < 0)
		return fail(err, errlen, -ENAMETOOLONG, "dev root too long");
	b->iommufd = open(b->iommu_path, O_RDWR | O_CLOEXEC);
	if (b->iommufd >= 0)
		return 0;
	r = -errno;
	return fail(err, errlen, r, "cannot open %s: %s%s", b->iommu_path, strerror(-r),
		    r == -ENOENT ? " (this kernel has no iommufd, CONFIG_IOMMUFD; use "
				   "--backend=vfio)"
				 : node_access_hint(r));
}

int backend_iommufd_new(const struct backend_config *cfg, struct backend **ret, char *err,
			size_t errlen)
{
	_cleanup_(backend_freep) struct backend *be = NULL;
	struct iommufd_backend *b;
	const size_t n_real = cfg->n_devices, n_mock = cfg->test_mock_devices;
	size_t n = n_real + n_mock, n_ioctls;
	struct mock_info mi = {0};
	int r;

	_Static_assert(ELEMENTSOF(((struct iommufd_backend *)0)->ioctls) >=
			       ELEMENTSOF(serving_ioctls) + 1,
		       "room for IOMMU_TEST_CMD");
	if (n_mock > MOCK_DEVICES_MAX)
		return fail(err, errlen, -E2BIG, "--test-mock-devices=%zu: 1 to %u mock devices",
			    n_mock, MOCK_DEVICES_MAX);
	if (n == 0)
		return fail(err, errlen, -EINVAL,
			    "no devices to manage: name them with --device=BDF");
	if (n > IOMMUFD_DEVICES_MAX)
		return fail(err, errlen, -E2BIG, "at most %u devices", IOMMUFD_DEVICES_MAX);
	b = backend_alloc(n);
	if (!b)
		return fail(err, errlen, -ENOMEM, "out of memory");
	be = &b->base;
	r = iommu_open(b, cfg->dev_root ? cfg->dev_root : "/dev", err, errlen);
	if (r == 0)
		r = accounting_choose(b, err, errlen);
	/* TEST ONLY: before any device, so that svmd's own iommufd holds nothing of the probe. */
	if (r == 0 && n_mock)
		r = mock_probe(b->iommufd, &mi, err, errlen);
	for (size_t i = 0; r == 0 && i < n; i++) {
		b->base.n_devices = i + 1;
		r = i < n_real ? device_setup(b, cfg, i, err, errlen)
			       : mock_setup(b, &mi, i, (unsigned)(i - n_real), err, errlen);
	}
	if (r < 0)
		return r;
	/* Each device says per kind what it cannot do; the summary stands for all of them only
	 * while no device can take any SVM bind (a nesting VT-d's page tables, an SMMUv3's PASID
	 * tables through iommufd-smmuv3.c). */
	for (size_t i = 0; i < n; i++)
		if (b->devs[i].nests ||
		    b->base.devices[i].kinds & SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE))
			b->base.svm_unsupported = NULL;
	n_ioctls = ELEMENTSOF(serving_ioctls) - (b->mode1 ? 0 : 1);
	memcpy(b->ioctls, serving_ioctls, n_ioctls * sizeof(b->ioctls[0]));
	if (n_mock) /* TEST ONLY: the mock's ops, with --test-mock-devices alone */
		b->ioctls[n_ioctls++] = mock_ioctl;
	b->base.ioctls = b->ioctls;
	b->base.n_ioctls = n_ioctls;
	*ret = TAKE_PTR(be);
	return 0;
}

bool backend_iommufd_usable(const struct backend_config *cfg)
{
	const char *sysfs = cfg->sysfs_root ? cfg->sysfs_root : "/sys";
	const char *devroot = cfg->dev_root ? cfg->dev_root : "/dev";
	struct ifd_device d;
	char path[4096], name[SVMD_DEVICE_NAME_SZ];

	if (cfg->n_devices == 0 || path_fmt(path, sizeof(path), "%s/iommu", devroot) < 0 ||
	    access(path, F_OK) < 0)
		return false;
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (device_name_canonical(cfg->devices[i], name) < 0 ||
		    cdev_find(sysfs, devroot, name, &d, NULL, 0) < 0)
			return false;
	return true;
}
