/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The emulator's iommufd half (see vfio-emul.c): /dev/iommu and the VFIO device cdevs, as
 * Linux 7.x answers them (drivers/iommu/iommufd/, drivers/vfio/device_cdev.c; what
 * tests/vm/iommufd-owner.c measured). Per iommufd (a context per open of DEV/iommu, shared by
 * its dups) the objects the ioctls make, with the kernel's ids (the lowest free, from 1):
 * devices bound, IOASes with their mapped areas, the HWPT an attach to an IOAS makes (gone with
 * its last device), HWPTs allocated on an IOAS (IOMMU_HWPT_ALLOC, NEST_PARENT only where the
 * IOMMU nests: VT-d with ECAP.NEST, SMMUv3) and nested VT-d stage-1 HWPTs on those, attached
 * at the RID or at PASIDs (a PASID attach on a device without PASIDs answers 0 and programs
 * nothing, as the kernel does; one with the RID on a HWPT not allocated PASID-capable is
 * EINVAL). A cdev bind holds a flock on the cdev's open file, which goes with that
 * file wherever its fds are (a client's dup too): so a second open, in any process, cannot
 * bind it (EINVAL) until every fd of the first is closed, as in the kernel.
 *
 * The log names fds iommufdN and cdevN (the Nth open of each in this process) and prints each
 * ioctl's argument as given and as returned, with pointers replaced by zero, then what it did
 * in brackets. What only another process holds (a client's copy of a device fd) is invisible
 * here, but for the bind it keeps.
 *
 * Environment, besides vfio-emul.c's:
 *   VFIO_EMUL_HW_INFO=BDF=TYPE/PASID/CAPS/ECAP,...  what IOMMU_GET_HW_INFO says of BDF: the
 *                            type number, out_max_pasid_log2, out_capabilities and (VT-d) the
 *                            ecap register; default: the type from the sysfs iommu link
 *                            (dmar: VT-d, smmu3: SMMUv3, ivhd: AMD, else none), the PASID width
 *                            from config space, no capabilities, QEMU's ecap 0xf00f4a (no NEST)
 *   VFIO_EMUL_IOVA_RANGES=S-L,...  the IOVAs an attached device reaches
 *                            [0-0xfedfffff,0xfef00000-0x7fffffffff, QEMU's VT-d]
 *   VFIO_EMUL_IOVA_ALIGN=N   their alignment once attached [0x1000]
 *   VFIO_EMUL_NO_SYS_RESOURCE=1  IOMMU_OPTION SET answers EPERM, as without CAP_SYS_RESOURCE
 *   VFIO_EMUL_PIN_LIMIT=BYTES  pinning past this many bytes answers ENOMEM (RLIMIT_MEMLOCK)
 *   VFIO_EMUL_VIOMMU=BDF,...  SMMUv3 devices whose SMMU gives a vIOMMU (has S2FWB or CANWBS);
 *                            IOMMU_VIOMMU_ALLOC for any other device answers EOPNOTSUPP, as
 *                            Linux 7.2 does on QEMU's SMMUv3
 *   VFIO_EMUL_MOCK=1         the kernel's mock IOMMU (CONFIG_IOMMUFD_TEST), as much of it as
 *                            svmd --test-mock-devices uses; without it IOMMU_TEST_CMD answers
 *                            ENOTTY, as on every kernel without IOMMUFD_TEST
 *
 * The SMMUv3 nesting objects (drivers/iommu/iommufd/viommu.c, arm-smmu-v3-iommufd.c): a
 * NEST_PARENT HWPT on an IOAS (pins it like an attach), a vIOMMU on it, vDEVICEs (one per
 * device and vIOMMU), a vEVENTQ (one per vIOMMU; its fd one end of a socket pair whose other
 * end the emulator keeps, so that it sees when every copy of the fd, in any process, is
 * closed: until then the vEVENTQ cannot be destroyed, EBUSY), and nested HWPTs with a vSTE
 * (word 0 may carry only V, Config, S1Fmt, S1ContextPtr, S1CDMax, else EIO). An object others
 * hang off cannot be destroyed (EBUSY). IOMMU_HWPT_INVALIDATE on a vIOMMU takes the commands
 * the kernel converts, a StreamID only of a vDEVICE on it (else EIO), and logs each.
 *
 * The mock (VFIO_EMUL_MOCK, iommufd_test.h): MOCK_DOMAIN_FLAGS on an IOAS makes a mock device,
 * bound (a device object) and attached at its RID as an attach to that IOAS would be, named by
 * a selftest object (stdev); it sits in a cdev slot of its own with no file (IOMMU type
 * selftest, 20 PASID bits), so MOCK_DOMAIN_REPLACE and PASID_ATTACH/DETACH on the stdev are a
 * cdev's attach and detach. HWPT_ALLOC for it: a NEST_PARENT HWPT (PASID-capable if asked) on
 * an IOAS, and nested DATA_SELFTEST HWPTs on that, whose four IOTLB entries take the data's
 * value and are cleared by IOMMU_HWPT_INVALIDATE(DATA_SELFTEST). Destroying the stdev detaches
 * and unbinds the mock device.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "emul.h"
#include "iommufd-abi.h"
#include "vfio-abi.h"
#define SVMD_IOMMUFD_TEST_ABI 1
#include "iommufd-test-abi.h"

#define CTX_MAX    1024
#define CDEVS_MAX  1024
#define OBJS_MAX   64
#define RANGES_MAX 16
#define HW_MAX     16
#define PAIRS_MAX  8

#define SHMEM_MAGIC     0x01021994
#define HUGETLBFS_MAGIC 0x958458f6

enum otype { O_NONE, O_DEVICE, O_IOAS, O_HWPT, O_VIOMMU, O_VDEVICE, O_VEVENTQ, O_STDEV, O_FAULT };
#define MOCK_BDF "mock"

struct area {
	uint64_t iova, length, start;
	uint32_t flags;
	bool shmem; /* the file can be pinned */
	bool pinned;
	char file[48];
};

struct obj {
	enum otype type;
	unsigned cdev;  /* device: its cdev open file */
	unsigned ioas;  /* hwpt: the IOAS it is on (0: nested) */
	unsigned users; /* ioas: hwpts on it; hwpt: devices (RIDs and PASIDs) attached */
	bool pasid_ok;  /* hwpt: allocated PASID-capable (IOMMU_HWPT_ALLOC_PASID) */
	struct area *areas;
	size_t n_areas;
	/* hwpt: allocated with IOMMU_HWPT_ALLOC (not an attach's), NEST_PARENT, or nested on
	 * the vIOMMU `on`; viommu: on the HWPT `on`; vdevice, veventq: on the vIOMMU `on`. */
	bool alloced, nest_parent;
	unsigned on;
	unsigned refs;     /* viommu: vdevices, veventqs, nested hwpts; hwpt: viommus on it */
	unsigned dev;      /* vdevice: the device object */
	uint64_t virt_id;  /* vdevice: the guest's id of it (an SMMUv3's vSID) */
	int hidden_fd;     /* veventq, fault: the emulator's end of its fd's socket pair */
	unsigned fault;    /* hwpt: the FAULT object it was allocated with (FAULT_ID_VALID) */
	uint32_t iotlb[4]; /* a nested mock hwpt's IOTLB entries */
};

struct ictx {
	bool live;
	bool closed;     /* no fd here any more; kept while a device here is bound to it */
	unsigned nbound; /* cdevs of this process bound to it */
	uint64_t mode;
	struct obj objs[OBJS_MAX + 1];
};

struct cdev {
	bool live;
	unsigned node; /* N of vfioN */
	char bdf[16];
	unsigned ctx;   /* bound to, 0: not */
	unsigned devid; /* its device object there */
	unsigned hwpt;  /* attached to, 0: not */
	struct {
		unsigned pasid, hwpt;
	} pasids[8]; /* PASIDs attached */
	unsigned n_pasids;
};

struct hwconf {
	char bdf[16];
	uint32_t type;
	unsigned pasid;
	uint64_t caps, ecap;
};

static struct ictx ctxs[CTX_MAX + 1];
struct svmd_iommu_hwpt_invalidate;
static int mock_hwpt_alloc(struct ictx *c, void *arg, char *tag, size_t tlen);
static int mock_invalidate(struct obj *h, void *arg, struct svmd_iommu_hwpt_invalidate *q,
			   char *tag, size_t tlen);
static struct cdev cdevs[CDEVS_MAX + 1];
static unsigned n_ctx, n_cdevs;
static struct {
	struct hwconf hw[HW_MAX];
	size_t n_hw;
	struct svmd_iommu_iova_range ranges[RANGES_MAX];
	uint32_t n_ranges;
	uint64_t align;
	bool no_sys_resource;
	bool mock; /* VFIO_EMUL_MOCK: IOMMU_TEST_CMD answers */
	uint64_t pin_limit, pinned;
	dev_t shmem_devs[3]; /* memfds' mount, /dev/shm, /tmp when it is tmpfs */
	size_t n_shmem_devs;
	/* vEVENTQ fds: socket pairs made before svmd's sandbox, which has no socketpair(2) */
	int pairs[PAIRS_MAX][2];
	size_t n_pairs;
} conf;

/* The kernel pins pages of shmem and hugetlbfs files only. Which filesystems those are is
 * learnt before svmd's sandbox, which has no statfs(2): by device number afterwards. */
static void shmem_devs_learn(void)
{
	const char *dirs[] = {"/dev/shm", "/tmp"};
	struct statfs sfs;
	struct stat st;
	int fd = (int)syscall(SYS_memfd_create, "vfio-emul", MFD_CLOEXEC);

	if (fd >= 0 && fstat(fd, &st) == 0)
		conf.shmem_devs[conf.n_shmem_devs++] = st.st_dev;
	if (fd >= 0)
		syscall(SYS_close, fd);
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (statfs(dirs[i], &sfs) == 0 &&
		    (sfs.f_type == SHMEM_MAGIC || sfs.f_type == HUGETLBFS_MAGIC) &&
		    stat(dirs[i], &st) == 0)
			conf.shmem_devs[conf.n_shmem_devs++] = st.st_dev;
}

static bool is_shmem_dev(dev_t dev)
{
	for (size_t i = 0; i < conf.n_shmem_devs; i++)
		if (conf.shmem_devs[i] == dev)
			return true;
	return false;
}

void iommufd_emul_init(void)
{
	const char *v;

	conf.align = (v = getenv("VFIO_EMUL_IOVA_ALIGN")) ? strtoull(v, NULL, 0) : 0x1000;
	v = getenv("VFIO_EMUL_IOVA_RANGES");
	if (!v)
		v = "0-0xfedfffff,0xfef00000-0x7fffffffff";
	for (const char *p = v; *p && conf.n_ranges < RANGES_MAX;
	     p += strcspn(p, ","), p += *p == ',') {
		unsigned long long a, b;
		if (sscanf(p, "%lli-%lli", &a, &b) == 2)
			conf.ranges[conf.n_ranges++] = (struct svmd_iommu_iova_range){a, b};
	}
	if ((v = getenv("VFIO_EMUL_HW_INFO")))
		for (const char *p = v; *p && conf.n_hw < HW_MAX;
		     p += strcspn(p, ","), p += *p == ',') {
			struct hwconf h = {0};
			unsigned long long caps = 0, ecap = 0;
			if (sscanf(p, "%15[^=]=%" SCNu32 "/%u/%lli/%lli", h.bdf, &h.type, &h.pasid,
				   &caps, &ecap) >= 3) {
				h.caps = caps;
				h.ecap = ecap;
				conf.hw[conf.n_hw++] = h;
			}
		}
	conf.no_sys_resource = (v = getenv("VFIO_EMUL_NO_SYS_RESOURCE")) && strcmp(v, "1") == 0;
	conf.mock = (v = getenv("VFIO_EMUL_MOCK")) && strcmp(v, "1") == 0;
	conf.pin_limit = (v = getenv("VFIO_EMUL_PIN_LIMIT")) ? strtoull(v, NULL, 0) : UINT64_MAX;
	if (emul.on)
		shmem_devs_learn();
	while (emul.on && (getenv("VFIO_EMUL_VIOMMU") || getenv("VFIO_EMUL_FAULTS") || conf.mock) &&
	       conf.n_pairs < PAIRS_MAX &&
	       socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, conf.pairs[conf.n_pairs]) == 0)
		conf.n_pairs++;
}

/* ---- Objects ---- */

static struct obj *obj_get(struct ictx *c, unsigned id, enum otype type)
{
	if (id == 0 || id > OBJS_MAX || c->objs[id].type == O_NONE)
		return NULL;
	return type == O_NONE || c->objs[id].type == type ? &c->objs[id] : NULL;
}

static unsigned obj_new(struct ictx *c, enum otype type)
{
	for (unsigned id = 1; id <= OBJS_MAX; id++)
		if (c->objs[id].type == O_NONE) {
			c->objs[id] = (struct obj){.type = type};
			return id;
		}
	return 0;
}

static void unpin(struct area *a)
{
	if (a->pinned)
		conf.pinned -= a->length;
	a->pinned = false;
}

/* Pins every area of IOAS o not pinned yet; all or none. */
static int pin_all(struct obj *o)
{
	uint64_t need = 0;

	for (size_t i = 0; i < o->n_areas; i++) {
		if (o->areas[i].pinned)
			continue;
		if (!o->areas[i].shmem)
			return -EINVAL; /* memfd_pin_folios(): not shmem or hugetlbfs */
		need += o->areas[i].length;
	}
	if (need > conf.pin_limit - conf.pinned)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_areas; i++)
		o->areas[i].pinned = true;
	conf.pinned += need;
	return 0;
}

static void obj_free(struct ictx *c, unsigned id)
{
	struct obj *o = &c->objs[id];

	if (o->type == O_VEVENTQ || o->type == O_FAULT)
		syscall(SYS_close, o->hidden_fd);
	if (o->type == O_HWPT && o->fault && c->objs[o->fault].type == O_FAULT)
		c->objs[o->fault].refs--;
	if (o->type == O_STDEV) /* its mock device's slot */
		cdevs[o->cdev] = (struct cdev){0};

	for (size_t i = 0; i < o->n_areas; i++)
		unpin(&o->areas[i]);
	free(o->areas);
	*o = (struct obj){0};
}

/* The device of cdev d leaves its hwpt; an attach-made hwpt goes with its last device, and
 * with the IOAS's last hwpt its pages are unpinned. */
static void cdev_detach(struct cdev *d)
{
	struct ictx *c = &ctxs[d->ctx];
	struct obj *h = obj_get(c, d->hwpt, O_HWPT);

	d->hwpt = 0;
	/* The PASIDs go with the RID (the device is unbound, or a test detaches both). */
	for (unsigned i = 0; i < d->n_pasids; i++)
		c->objs[d->pasids[i].hwpt].users--;
	d->n_pasids = 0;
	if (!h || --h->users || h->alloced)
		return;
	struct obj *ioas = obj_get(c, h->ioas, O_IOAS);
	obj_free(c, (unsigned)(h - c->objs));
	if (ioas && --ioas->users == 0)
		for (size_t i = 0; i < ioas->n_areas; i++)
			unpin(&ioas->areas[i]);
}

/* The RID of d leaves its hwpt, its PASIDs stay. */
static void rid_leave(struct cdev *d)
{
	unsigned n = d->n_pasids;

	d->n_pasids = 0;
	cdev_detach(d);
	d->n_pasids = n;
}

static void objs_text(const struct ictx *c, char *buf, size_t size)
{
	static const char *const names[] = {"?",       "device",  "ioas",  "hwpt", "viommu",
					    "vdevice", "veventq", "stdev", "fault"};
	size_t used = 0;

	buf[0] = 0;
	for (unsigned id = 1; id <= OBJS_MAX && used + 1 < size; id++) {
		const struct obj *o = &c->objs[id];
		int n;
		if (o->type == O_NONE)
			continue;
		if (o->type == O_IOAS)
			n = snprintf(buf + used, size - used, "%sioas %u (%zu area%s)",
				     used ? ", " : "", id, o->n_areas, o->n_areas == 1 ? "" : "s");
		else
			n = snprintf(buf + used, size - used, "%s%s %u", used ? ", " : "",
				     names[o->type], id);
		used += n > 0 ? (size_t)n : 0;
	}
	if (!used)
		snprintf(buf, size, "nothing");
}

static void ctx_free(unsigned id)
{
	struct ictx *c = &ctxs[id];

	for (unsigned o = 1; o <= OBJS_MAX; o++)
		if (c->objs[o].type != O_NONE)
			obj_free(c, o);
	*c = (struct ictx){0};
}

/* ---- Opens ---- */

/* The PCI function whose sysfs vfio-dev directory names vfio<node>, into bdf. */
static bool cdev_device(unsigned node, char *bdf, size_t size)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], driver[256];
	struct stat st;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", emul.sysfs);
	d = opendir(dir);
	if (!d)
		return false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		snprintf(path, sizeof(path), "%s/%s/vfio-dev/vfio%u", dir, e->d_name, node);
		if (e->d_name[0] != '.' && stat(path, &st) == 0) {
			snprintf(bdf, size, "%.15s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	emul_driver_of(bdf, driver, sizeof(driver));
	return found && strstr(driver, "vfio");
}

int iommufd_emul_open(int fd, const char *rel, const char *flags)
{
	unsigned node;
	char bdf[16], *end;

	if (strcmp(rel, "iommu") == 0) {
		if (n_ctx >= CTX_MAX) {
			syscall(SYS_close, fd);
			errno = EMFILE;
			return -1;
		}
		ctxs[++n_ctx] = (struct ictx){.live = true};
		emul_track(fd, K_IOMMUFD, n_ctx);
		emul_log("open %s %s -> iommufd%u", rel, flags, n_ctx);
		return fd;
	}
	node = (unsigned)strtoul(rel + 17, &end, 10);
	if (strncmp(rel, "vfio/devices/vfio", 17) != 0 || end == rel + 17 || *end) {
		emul_log("open %s %s -> plain file", rel, flags);
		return fd;
	}
	if (!cdev_device(node, bdf, sizeof(bdf)) || n_cdevs >= CDEVS_MAX) {
		syscall(SYS_close, fd);
		emul_log("open %s %s -> ENODEV", rel, flags);
		errno = ENODEV;
		return -1;
	}
	cdevs[++n_cdevs] = (struct cdev){.live = true, .node = node};
	snprintf(cdevs[n_cdevs].bdf, sizeof(cdevs[n_cdevs].bdf), "%s", bdf);
	emul_track(fd, K_CDEV, n_cdevs);
	emul_log("open %s %s -> cdev%u", rel, flags, n_cdevs);
	return fd;
}

void iommufd_emul_dup(int oldfd, int newfd)
{
	struct efd *e = emul_lookup(oldfd);

	if (e && (e->kind == K_IOMMUFD || e->kind == K_CDEV))
		emul_track(newfd, e->kind, e->id);
}

/* Other fds of this process on the same file as fd. */
static unsigned others(int fd, const struct efd *e)
{
	unsigned n = 0;

	for (int i = 0; i < FDS_MAX; i++)
		if (i != fd && emul_fds[i].kind == e->kind && emul_fds[i].id == e->id &&
		    emul_lookup(i))
			n++;
	return n;
}

/* The bind lock: an open file description lock on the whole node, which goes with the open file
 * (every dup of it, in any process) and conflicts with any other open of the node. fcntl(2),
 * unlike flock(2), is in svmd's sandbox. op: F_OFD_SETLK or F_OFD_GETLK; type: F_WRLCK or
 * F_UNLCK. */
static int bind_lock(int fd, int op, short type)
{
	struct flock l = {.l_type = type, .l_whence = SEEK_SET};

	if (syscall(SYS_fcntl, fd, op, &l) < 0)
		return -errno;
	return op == F_OFD_GETLK && l.l_type != F_UNLCK ? -EAGAIN : 0;
}

/* Whether any open file, in any process, still holds the bind lock of cdev d's node. */
static bool cdev_held(const struct cdev *d)
{
	char path[PATH_MAX];
	int fd, r;

	snprintf(path, sizeof(path), "%s/vfio/devices/vfio%u", emul.dev, d->node);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	r = bind_lock(fd, F_OFD_GETLK, F_WRLCK);
	syscall(SYS_close, fd);
	return r == -EAGAIN;
}

static void ctx_unref(unsigned id)
{
	struct ictx *c = &ctxs[id];

	if (c->closed && c->nbound == 0)
		ctx_free(id);
}

static int close_cdev(int fd, struct efd *e)
{
	struct cdev *d = &cdevs[e->id];
	unsigned ctx = d->ctx;
	int r;

	e->kind = K_NONE;
	r = (int)syscall(SYS_close, fd);
	if (!ctx) {
		emul_log("close cdev%u [vfio%u not bound]", e->id, d->node);
	} else if (cdev_held(d)) {
		/* Another process has the file: the kernel keeps the binding and the context. */
		emul_log("close cdev%u [vfio%u stays bound to iommufd%u: open in another process]",
			 e->id, d->node, ctx);
		ctxs[ctx].nbound--;
		ctx_unref(ctx);
	} else {
		cdev_detach(d);
		obj_free(&ctxs[ctx], d->devid);
		emul_log("close cdev%u [vfio%u unbound from iommufd%u]", e->id, d->node, ctx);
		ctxs[ctx].nbound--;
		ctx_unref(ctx);
	}
	*d = (struct cdev){0};
	return r;
}

int iommufd_emul_close(int fd, struct efd *e)
{
	char left[1024];
	unsigned more = others(fd, e);

	if (more) {
		emul_log("close %s%u [%u more fd%s here]", e->kind == K_CDEV ? "cdev" : "iommufd",
			 e->id, more, more == 1 ? "" : "s");
		e->kind = K_NONE;
		return (int)syscall(SYS_close, fd);
	}
	if (e->kind == K_CDEV)
		return close_cdev(fd, e);
	objs_text(&ctxs[e->id], left, sizeof(left));
	emul_log("close iommufd%u [left: %s%s]", e->id, left,
		 ctxs[e->id].nbound ? "; kept by a bound device" : "");
	ctxs[e->id].closed = true;
	ctx_unref(e->id);
	e->kind = K_NONE;
	return (int)syscall(SYS_close, fd);
}

/* ---- Arguments ---- */

/* The kernel's copy_struct_from_user() of a struct whose first u32 is its size: EINVAL below
 * min, E2BIG for a non-zero byte past ours; what the caller's struct lacks reads as zero. */
static int take(const void *arg, void *ours, size_t size, size_t min)
{
	uint32_t n;

	memcpy(&n, arg, sizeof(n));
	if (n < min)
		return -EINVAL;
	memset(ours, 0, size);
	memcpy(ours, arg, n < size ? n : size);
	for (size_t i = size; i < n; i++)
		if (((const uint8_t *)arg)[i])
			return -E2BIG;
	return 0;
}

/* " in=HEX" of the caller's struct (its size, up to 64 bytes), a pointer field zeroed. */
static void in_text(char *buf, size_t size, const void *arg, size_t ptr_off)
{
	uint8_t copy[64] = {0};
	uint32_t n;

	memcpy(&n, arg, sizeof(n));
	n = n > sizeof(copy) ? sizeof(copy) : n < 4 ? 4 : n;
	memcpy(copy, arg, n);
	if (ptr_off && ptr_off + 8 <= n)
		memset(copy + ptr_off, 0, 8);
	snprintf(buf, size, " in=");
	emul_hex(buf + 4, size - 4, copy, n);
}

static void out_text(char *buf, size_t size, const void *ours, size_t n, size_t ptr_off)
{
	uint8_t copy[64] = {0};

	n = n > sizeof(copy) ? sizeof(copy) : n;
	memcpy(copy, ours, n);
	if (ptr_off && ptr_off + 8 <= n)
		memset(copy + ptr_off, 0, 8);
	snprintf(buf, size, " out=");
	emul_hex(buf + 5, size - 5, copy, n);
}

/* Writes ours back over the caller's struct, as much of it as the caller gave. */
static void give(void *arg, const void *ours, size_t size)
{
	uint32_t n;

	memcpy(&n, arg, sizeof(n));
	memcpy(arg, ours, n < size ? n : size);
}

/* ---- iommufd ioctls ---- */

static int do_ioas_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_ioas_alloc a;
	int r = take(arg, &a, sizeof(a), 12);

	if (r == 0 && a.flags)
		r = -EOPNOTSUPP;
	if (r == 0 && !(a.out_ioas_id = obj_new(c, O_IOAS)))
		r = -ENOSPC;
	if (r < 0)
		return r;
	give(arg, &a, sizeof(a));
	snprintf(tag, tlen, "ioas %u", a.out_ioas_id);
	return 0;
}

static int do_destroy(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_destroy d;
	int r = take(arg, &d, sizeof(d), 8);
	struct obj *o;

	if (r < 0)
		return r;
	snprintf(tag, tlen, "destroy %u", d.id);
	if (!(o = obj_get(c, d.id, O_NONE)))
		return -ENOENT;
	if (o->type == O_STDEV) {
		struct cdev *md = &cdevs[o->cdev];
		cdev_detach(md);
		obj_free(c, md->devid);
		obj_free(c, d.id); /* and the slot */
		snprintf(tag + strlen(tag), tlen - strlen(tag), ": mock device detached, unbound");
		return 0;
	}
	/* A bound device is its driver's; an IOAS with HWPTs, or an attached HWPT, is in use;
	 * so is what others hang off, and a vEVENTQ whose fd is open somewhere. */
	if (o->type == O_DEVICE || o->users || o->refs)
		return -EBUSY;
	if (o->type == O_VEVENTQ || o->type == O_FAULT) {
		struct pollfd p = {.fd = o->hidden_fd, .events = POLLIN};
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
			return -EBUSY;
	}
	if (o->type == O_VIOMMU || o->type == O_VDEVICE || o->type == O_VEVENTQ ||
	    (o->type == O_HWPT && o->on)) {
		struct obj *on = obj_get(c, o->on, O_NONE);
		if (on)
			on->refs--;
		if (o->type == O_HWPT && o->nest_parent == false && !o->ioas) {
			obj_free(c, d.id);
			return 0;
		}
	}
	if (o->type == O_HWPT) {
		struct obj *ioas = obj_get(c, o->ioas, O_IOAS);
		if (ioas && --ioas->users == 0)
			for (size_t i = 0; i < ioas->n_areas; i++)
				unpin(&ioas->areas[i]);
	}
	obj_free(c, d.id);
	return 0;
}

/* The ranges an IOAS reaches: everything, alignment 1, until a device is attached. */
static uint32_t ioas_ranges(const struct obj *o, const struct svmd_iommu_iova_range **ret,
			    uint64_t *ret_align)
{
	static const struct svmd_iommu_iova_range all = {0, UINT64_MAX};

	if (!o->users) {
		*ret = &all;
		*ret_align = 1;
		return 1;
	}
	*ret = conf.ranges;
	*ret_align = conf.align;
	return conf.n_ranges;
}

static int do_iova_ranges(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_ioas_iova_ranges q;
	const struct svmd_iommu_iova_range *rg;
	int r = take(arg, &q, sizeof(q), 32);
	uint32_t n, room;
	uint64_t align;
	struct obj *o;
	size_t used;

	if (r < 0)
		return r;
	if (!(o = obj_get(c, q.ioas_id, O_IOAS)))
		return -ENOENT;
	n = ioas_ranges(o, &rg, &align);
	room = q.num_iovas;
	q.num_iovas = n;
	q.out_iova_alignment = align;
	used = (size_t)snprintf(tag, tlen, "ioas %u: align %#" PRIx64 ":", q.ioas_id, align);
	for (uint32_t i = 0; i < n && used < tlen; i++)
		used += (size_t)snprintf(tag + used, tlen - used, " %#" PRIx64 "-%#" PRIx64,
					 (uint64_t)rg[i].start, (uint64_t)rg[i].last);
	give(arg, &q, sizeof(q));
	if (room < n)
		return -EMSGSIZE;
	memcpy((void *)(uintptr_t)q.allowed_iovas, rg, n * sizeof(*rg));
	return 0;
}

static bool in_ranges(const struct obj *o, uint64_t iova, uint64_t last)
{
	const struct svmd_iommu_iova_range *rg;
	uint64_t align;
	uint32_t n = ioas_ranges(o, &rg, &align);

	for (uint32_t i = 0; i < n; i++)
		if (iova >= rg[i].start && last <= rg[i].last)
			return true;
	return false;
}

static bool overlaps(const struct obj *o, uint64_t iova, uint64_t last)
{
	for (size_t i = 0; i < o->n_areas; i++) {
		const struct area *a = &o->areas[i];
		if (iova <= a->iova + (a->length - 1) && a->iova <= last)
			return true;
	}
	return false;
}

/* The kernel's checks of a map, in its order (ioas.c, io_pagetable.c): flags, sizes, the fd,
 * then alignment, reserved IOVAs and overlap within the IOAS. */
static int map_checks(const struct svmd_iommu_ioas_map_file *m, struct obj *o, struct area *a)
{
	const uint32_t known = SVMD_IOMMU_IOAS_MAP_FIXED_IOVA | SVMD_IOMMU_IOAS_MAP_WRITEABLE |
			       SVMD_IOMMU_IOAS_MAP_READABLE;
	const struct svmd_iommu_iova_range *rg;
	char path[64];
	uint64_t align;
	struct stat st;
	ssize_t n;

	if (m->flags & ~known)
		return -EOPNOTSUPP;
	if (m->iova >= ULONG_MAX || m->length >= ULONG_MAX)
		return -EOVERFLOW;
	if (!(m->flags & (SVMD_IOMMU_IOAS_MAP_WRITEABLE | SVMD_IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	if (!o)
		return -ENOENT;
	if (m->length == 0)
		return -EINVAL;
	if (m->start + (m->length - 1) < m->start)
		return -EOVERFLOW;
	if (m->fd < 0 || fcntl(m->fd, F_GETFD) < 0)
		return -EBADF;
	if (!(m->flags & SVMD_IOMMU_IOAS_MAP_FIXED_IOVA))
		return -EOPNOTSUPP; /* svmd always fixes the IOVA: not emulated */
	ioas_ranges(o, &rg, &align);
	if (m->iova % align || m->length % align || m->start % align)
		return -EINVAL;
	if (m->iova + (m->length - 1) < m->iova)
		return -EOVERFLOW;
	if (!in_ranges(o, m->iova, m->iova + (m->length - 1)))
		return -EINVAL;
	if (overlaps(o, m->iova, m->iova + (m->length - 1)))
		return -EEXIST;
	*a = (struct area){
		.iova = m->iova, .length = m->length, .start = m->start, .flags = m->flags};
	a->shmem = fstat(m->fd, &st) == 0 && S_ISREG(st.st_mode) && is_shmem_dev(st.st_dev);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m->fd);
	n = readlink(path, a->file, sizeof(a->file) - 1);
	a->file[n > 0 ? n : 0] = 0;
	return 0;
}

static int do_map_file(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_ioas_map_file m;
	struct area a, *grown;
	struct obj *o;
	int r = take(arg, &m, sizeof(m), 40);

	if (r < 0)
		return r;
	o = obj_get(c, m.ioas_id, O_IOAS);
	snprintf(tag, tlen, "ioas %u: %#" PRIx64 "+%#" PRIx64 " <- fd %d at %#" PRIx64 "%s%s",
		 m.ioas_id, (uint64_t)m.iova, (uint64_t)m.length, m.fd, (uint64_t)m.start,
		 m.flags & SVMD_IOMMU_IOAS_MAP_READABLE ? " r" : " -",
		 m.flags & SVMD_IOMMU_IOAS_MAP_WRITEABLE ? "w" : "-");
	r = map_checks(&m, o, &a);
	if (r < 0)
		return r;
	snprintf(tag + strlen(tag), tlen - strlen(tag), " (%s)", a.file);
	grown = realloc(o->areas, (o->n_areas + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	o->areas = grown;
	o->areas[o->n_areas++] = a;
	/* Pinned now when a domain exists (a device attached), else at the first attach. */
	if (o->users && (r = pin_all(o)) < 0) {
		o->n_areas--;
		return r;
	}
	give(arg, &m, sizeof(m));
	return 0;
}

static int area_cmp(const void *x, const void *y)
{
	const struct area *a = x, *b = y;
	return a->iova < b->iova ? -1 : a->iova > b->iova;
}

/* Unmaps whole areas within [iova, last], in IOVA order; one only partly within stops it
 * (ENOENT), after those before it went, as in iopt_unmap_iova_range(). */
static int unmap_areas(struct obj *o, uint64_t iova, uint64_t last, uint64_t *unmapped)
{
	size_t keep = 0;
	int r = 0;

	qsort(o->areas, o->n_areas, sizeof(*o->areas), area_cmp);
	*unmapped = 0;
	for (size_t i = 0; i < o->n_areas; i++) {
		struct area *a = &o->areas[i];
		uint64_t a_last = a->iova + (a->length - 1);
		bool hit = r == 0 && a->iova <= last && iova <= a_last;
		if (hit && (a->iova < iova || a_last > last))
			r = -ENOENT;
		if (hit && r == 0) {
			unpin(a);
			*unmapped += a->length;
			continue;
		}
		o->areas[keep++] = *a;
	}
	o->n_areas = keep;
	return r;
}

static int do_unmap(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_ioas_unmap u;
	uint64_t unmapped = 0;
	struct obj *o;
	int r = take(arg, &u, sizeof(u), 24);

	if (r < 0)
		return r;
	snprintf(tag, tlen, "ioas %u: unmap %#" PRIx64 "+%#" PRIx64, u.ioas_id, (uint64_t)u.iova,
		 (uint64_t)u.length);
	if (!(o = obj_get(c, u.ioas_id, O_IOAS)))
		return -ENOENT;
	if (u.iova == 0 && u.length == UINT64_MAX) {
		unmap_areas(o, 0, UINT64_MAX, &unmapped);
	} else {
		if (u.iova >= ULONG_MAX || u.length >= ULONG_MAX)
			return -EOVERFLOW;
		if (u.length == 0)
			return -EINVAL;
		if (u.iova + (u.length - 1) < u.iova)
			return -EOVERFLOW;
		r = unmap_areas(o, u.iova, u.iova + (u.length - 1), &unmapped);
		if (r == 0 && unmapped == 0)
			r = -ENOENT;
	}
	snprintf(tag + strlen(tag), tlen - strlen(tag), ": %#" PRIx64 " bytes", unmapped);
	if (r < 0)
		return r;
	u.length = unmapped;
	give(arg, &u, sizeof(u));
	return 0;
}

static int do_option(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_option o;
	int r = take(arg, &o, sizeof(o), 24);

	if (r < 0)
		return r;
	snprintf(tag, tlen, "option %u %s %" PRIu64, o.option_id,
		 o.op == SVMD_IOMMU_OPTION_OP_SET ? "set" : "get", (uint64_t)o.val64);
	if (o.option_id != SVMD_IOMMU_OPTION_RLIMIT_MODE)
		return -EOPNOTSUPP; /* HUGE_PAGES: not emulated */
	if (o.object_id)
		return -EOPNOTSUPP;
	if (o.op == SVMD_IOMMU_OPTION_OP_GET) {
		o.val64 = c->mode;
		give(arg, &o, sizeof(o));
		return 0;
	}
	if (o.op != SVMD_IOMMU_OPTION_OP_SET)
		return -EOPNOTSUPP;
	if (conf.no_sys_resource)
		return -EPERM;
	for (unsigned id = 1; id <= OBJS_MAX; id++)
		if (c->objs[id].type != O_NONE)
			return -EBUSY;
	if (o.val64 > 1)
		return -EINVAL;
	c->mode = o.val64;
	return 0;
}

/* What GET_HW_INFO says of bdf: VFIO_EMUL_HW_INFO, else from the fake sysfs. */
static struct hwconf hw_of(const char *bdf)
{
	struct hwconf h = {.ecap = 0xf00f4a};
	char path[PATH_MAX], target[PATH_MAX], cfg[4096];
	ssize_t n;
	FILE *f;

	if (strcmp(bdf, MOCK_BDF) == 0)
		return (struct hwconf){.bdf = MOCK_BDF,
				       .type = SVMD_IOMMU_HW_INFO_TYPE_SELFTEST,
				       .pasid = SVMD_MOCK_PASID_WIDTH};

	for (size_t i = 0; i < conf.n_hw; i++)
		if (strcmp(conf.hw[i].bdf, bdf) == 0)
			return conf.hw[i];
	snprintf(h.bdf, sizeof(h.bdf), "%.15s", bdf);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu", emul.sysfs, bdf);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	h.type = strncmp(base, "dmar", 4) == 0     ? SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD
		 : strncmp(base, "smmu3.", 6) == 0 ? SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3
		 : strncmp(base, "ivhd", 4) == 0   ? SVMD_IOMMU_HW_INFO_TYPE_AMD
						   : SVMD_IOMMU_HW_INFO_TYPE_NONE;
	/* The PASID capability: the extended list, one hop at most in the tests' config. */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/config", emul.sysfs, bdf);
	f = fopen(path, "re");
	n = f ? (ssize_t)fread(cfg, 1, sizeof(cfg), f) : 0;
	if (f)
		fclose(f);
	for (unsigned off = 0x100, hops = 0;
	     n == sizeof(cfg) && off >= 0x100 && off + 8 <= 4096 && hops < 64; hops++) {
		uint32_t hdr, capreg;
		memcpy(&hdr, cfg + off, 4);
		if (!hdr || hdr == 0xffffffffu)
			break;
		if ((hdr & 0xffff) == 0x1b) {
			memcpy(&capreg, cfg + off + 4, 4);
			h.pasid = (capreg >> 8) & 0x1f;
			break;
		}
		off = (hdr >> 20) & 0xffc;
	}
	/* Learnt once, at svmd's start-up: its sandbox reads no sysfs. */
	if (conf.n_hw < HW_MAX)
		conf.hw[conf.n_hw++] = h;
	return h;
}

static int do_hw_info(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_hw_info q;
	union {
		struct svmd_iommu_hw_info_vtd vtd;
		struct svmd_iommu_hw_info_arm_smmuv3 smmu;
		struct svmd_iommu_hw_info_amd amd;
	} data = {0};
	uint32_t len = 0;
	struct obj *o;
	int r = take(arg, &q, sizeof(q), 32);

	if (r < 0)
		return r;
	if (q.flags)
		return -EOPNOTSUPP; /* INPUT_TYPE: not emulated */
	if (!(o = obj_get(c, q.dev_id, O_DEVICE)))
		return -ENOENT;
	struct hwconf h = hw_of(cdevs[o->cdev].bdf);
	if (h.type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD) {
		data.vtd.cap_reg = 0xd2008c22260286ull; /* QEMU's */
		data.vtd.ecap_reg = h.ecap;
		len = sizeof(data.vtd);
	} else if (h.type == SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
		len = sizeof(data.smmu);
	} else if (h.type == SVMD_IOMMU_HW_INFO_TYPE_AMD) {
		len = sizeof(data.amd);
	} else if (h.type == SVMD_IOMMU_HW_INFO_TYPE_SELFTEST) {
		struct svmd_iommu_test_hw_info t = {.test_reg = SVMD_IOMMU_HW_INFO_SELFTEST_REGVAL};
		memcpy(&data, &t, sizeof(t));
		len = sizeof(t);
	}
	memcpy((void *)(uintptr_t)q.data_uptr, &data, len < q.data_len ? len : q.data_len);
	q.data_len = len;
	q.out_data_type = h.type;
	q.out_max_pasid_log2 = (uint8_t)h.pasid;
	q.out_capabilities = h.caps;
	give(arg, &q, sizeof(q));
	snprintf(tag, tlen,
		 "device %u (vfio%u): type %" PRIu32 ", %u PASID bits, capabilities %#" PRIx64
		 ", ecap %#" PRIx64,
		 q.dev_id, cdevs[o->cdev].node, h.type, h.pasid, h.caps,
		 h.type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD ? h.ecap : 0);
	return 0;
}

/* ---- cdev ioctls ---- */

static int do_bind(int fd, struct cdev *d, void *arg, char *tag, size_t tlen)
{
	struct svmd_vfio_device_bind_iommufd b;
	struct efd *ie;
	struct ictx *c;
	int r = take(arg, &b, sizeof(b), 16);

	if (r < 0)
		return r;
	ie = emul_lookup(b.iommufd);
	snprintf(tag, tlen, "vfio%u -> iommufd%u", d->node,
		 ie && ie->kind == K_IOMMUFD ? ie->id : 0);
	if (b.iommufd < 0 || b.flags & ~SVMD_VFIO_DEVICE_BIND_FLAG_TOKEN)
		return -EINVAL;
	if (b.flags)
		return -EINVAL; /* vfio-pci without a VF token: no match_token_uuid */
	if (d->ctx)
		return -EINVAL; /* one device cannot be bound twice */
	if (!ie || ie->kind != K_IOMMUFD)
		return fcntl(b.iommufd, F_GETFD) < 0 ? -EBADF : -EBADFD;
	/* Only one open file binds a cdev: vfio_df_open() answers EINVAL to the next. */
	if (bind_lock(fd, F_OFD_SETLK, F_WRLCK) < 0)
		return -EINVAL;
	c = &ctxs[ie->id];
	b.out_devid = obj_new(c, O_DEVICE);
	if (!b.out_devid) {
		bind_lock(fd, F_OFD_SETLK, F_UNLCK);
		return -ENOSPC;
	}
	c->objs[b.out_devid].cdev = (unsigned)(d - cdevs);
	c->nbound++;
	d->ctx = ie->id;
	d->devid = b.out_devid;
	give(arg, &b, sizeof(b));
	snprintf(tag + strlen(tag), tlen - strlen(tag), " as device %u", b.out_devid);
	return 0;
}

/* The HWPT an attach of d to IOAS ioas uses: one already on it, else a new one (auto domain);
 * the IOAS's maps must fit d's ranges, and are pinned with its first HWPT. */
static int hwpt_for(struct ictx *c, unsigned ioas_id, unsigned *ret, bool alloc)
{
	struct obj *ioas = obj_get(c, ioas_id, O_IOAS);
	unsigned h;
	int r;

	for (h = 1; !alloc && h <= OBJS_MAX; h++)
		if (c->objs[h].type == O_HWPT && !c->objs[h].alloced &&
		    c->objs[h].ioas == ioas_id) {
			*ret = h;
			return 0;
		}
	for (size_t i = 0; i < ioas->n_areas; i++) {
		const struct area *a = &ioas->areas[i];
		bool fits = false;
		for (uint32_t k = 0; k < conf.n_ranges; k++)
			fits |= a->iova >= conf.ranges[k].start &&
				a->iova + (a->length - 1) <= conf.ranges[k].last;
		if (!fits || a->iova % conf.align || a->length % conf.align ||
		    a->start % conf.align)
			return -EADDRINUSE;
	}
	if ((r = pin_all(ioas)) < 0)
		return r;
	if (!(h = obj_new(c, O_HWPT)))
		return -ENOSPC;
	c->objs[h].ioas = ioas_id;
	c->objs[h].users = 0;
	c->objs[h].alloced = alloc;
	ioas->users++;
	*ret = h;
	return 0;
}

static struct hwconf hw_of(const char *bdf);

/* A nested VT-d stage 1 as intel-iommu checks it: flags SRE, EAFE, WPE; a 4- or 5-level table. */
/* A nested HWPT's FAULT_ID_VALID: fault_id names a FAULT object here, else ENOENT. */
static int fault_take(struct ictx *c, const struct svmd_iommu_hwpt_alloc *h, char *tag, size_t tlen)
{
	if (!(h->flags & SVMD_IOMMU_HWPT_FAULT_ID_VALID))
		return 0;
	snprintf(tag + strlen(tag), tlen - strlen(tag), " fault %u", h->fault_id);
	return obj_get(c, h->fault_id, O_FAULT) ? 0 : -ENOENT;
}

static unsigned fault_hold(struct ictx *c, const struct svmd_iommu_hwpt_alloc *h)
{
	if (!(h->flags & SVMD_IOMMU_HWPT_FAULT_ID_VALID))
		return 0;
	c->objs[h->fault_id].refs++;
	return h->fault_id;
}

/* IOMMU_FAULT_QUEUE_ALLOC: a FAULT object whose fd is one end of a socket pair made at start
 * (svmd's sandbox has no socketpair(2)); destroyed only once every copy of it is closed. */
static int do_fault_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_fault_alloc q;
	unsigned id;
	int r = take(arg, &q, sizeof(q), sizeof(q));

	if (r < 0)
		return r;
	if (q.flags)
		return -EOPNOTSUPP;
	if (conf.n_pairs == 0)
		return -ENOMEM;
	if (!(id = obj_new(c, O_FAULT)))
		return -ENOSPC;
	conf.n_pairs--;
	c->objs[id].hidden_fd = conf.pairs[conf.n_pairs][1];
	q.out_fault_id = id;
	q.out_fault_fd = (uint32_t)conf.pairs[conf.n_pairs][0];
	give(arg, &q, sizeof(q));
	snprintf(tag, tlen, "fault %u fd %d", id, conf.pairs[conf.n_pairs][0]);
	return 0;
}

static int vtd_s1_take(const struct svmd_iommu_hwpt_alloc *h, char *tag, size_t tlen)
{
	struct svmd_iommu_hwpt_vtd_s1 v = {0};

	if (h->data_len < sizeof(v) || !h->data_uptr)
		return -EINVAL;
	memcpy(&v, (const void *)(uintptr_t)h->data_uptr, sizeof(v));
	snprintf(tag + strlen(tag), tlen - strlen(tag),
		 " vtd-s1 flags %#" PRIx64 " pgtbl %#" PRIx64 " width %u", (uint64_t)v.flags,
		 (uint64_t)v.pgtbl_addr, v.addr_width);
	if (v.flags & ~(uint64_t)7)
		return -EOPNOTSUPP;
	if (v.addr_width != 48 && v.addr_width != 57)
		return -EINVAL;
	return 0;
}

/* A VT-d device's: a NEST_PARENT (where ECAP.NEST is set) or plain HWPT on an IOAS, or a
 * nested VTD_S1 one on a NEST_PARENT HWPT; either PASID-capable with IOMMU_HWPT_ALLOC_PASID. */
static int vtd_hwpt_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_hwpt_alloc h;
	const uint32_t known = SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT | SVMD_IOMMU_HWPT_ALLOC_PASID;
	struct obj *dev, *pt;
	struct hwconf hw;
	unsigned id;
	int r = take(arg, &h, sizeof(h), 24);

	if (r < 0)
		return r;
	snprintf(tag, tlen, "hwpt-alloc flags %#x on %u for device %u", h.flags, h.pt_id, h.dev_id);
	if (!(dev = obj_get(c, h.dev_id, O_DEVICE)) || !(pt = obj_get(c, h.pt_id, O_NONE)))
		return -ENOENT;
	if (h.flags & ~(known | SVMD_IOMMU_HWPT_FAULT_ID_VALID))
		return -EOPNOTSUPP;
	hw = hw_of(cdevs[dev->cdev].bdf);
	if (h.data_type == SVMD_IOMMU_HWPT_DATA_NONE) {
		bool nests =
			(hw.type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD && hw.ecap & (1ull << 26)) ||
			hw.type == SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
		if (pt->type != O_IOAS)
			return -EINVAL;
		if (h.flags & SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT && !nests)
			return -EOPNOTSUPP;
		if ((r = hwpt_for(c, h.pt_id, &id, true)) < 0)
			return r;
		c->objs[id].nest_parent = h.flags & SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT;
	} else if (h.data_type == SVMD_IOMMU_HWPT_DATA_VTD_S1) {
		if (h.flags & SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT ||
		    hw.type != SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD)
			return -EOPNOTSUPP;
		if (pt->type != O_HWPT || !pt->nest_parent)
			return -EINVAL;
		if ((r = vtd_s1_take(&h, tag, tlen)) < 0)
			return r;
		if ((r = fault_take(c, &h, tag, tlen)) < 0)
			return r;
		if (!(id = obj_new(c, O_HWPT)))
			return -ENOSPC;
		c->objs[id].on = h.pt_id;
		c->objs[id].alloced = true;
		c->objs[id].fault = fault_hold(c, &h);
		pt->refs++;
	} else {
		return -EOPNOTSUPP;
	}
	c->objs[id].pasid_ok = h.flags & SVMD_IOMMU_HWPT_ALLOC_PASID;
	h.out_hwpt_id = id;
	give(arg, &h, sizeof(h));
	snprintf(tag + strlen(tag), tlen - strlen(tag), ": hwpt %u", id);
	return 0;
}

/* IOMMU_HWPT_INVALIDATE on an SMMUv3 vIOMMU, as arm_vsmmu_cache_invalidate() takes it: the
 * opcodes it converts, a StreamID (CFGI_CD, CFGI_CD_ALL, ATC_INV) that is the virt_id of a
 * vDEVICE on this vIOMMU, else EIO; entry_num says how many were done. */
static int viommu_invalidate(struct ictx *c, void *arg, struct svmd_iommu_hwpt_invalidate *q,
			     char *tag, size_t tlen)
{
	uint32_t done = 0;
	int r = 0;

	snprintf(tag, tlen, "invalidate viommu %u: %u commands", q->hwpt_id, q->entry_num);
	if (q->data_type != SVMD_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 ||
	    q->entry_len < sizeof(struct svmd_iommu_viommu_arm_smmuv3_invalidate))
		return -EINVAL;
	for (; done < q->entry_num; done++) {
		struct svmd_iommu_viommu_arm_smmuv3_invalidate e;
		memcpy(&e, (const uint8_t *)(uintptr_t)q->data_uptr + (size_t)done * q->entry_len,
		       sizeof(e));
		uint64_t w0 = le64toh(e.cmd[0]), w1 = le64toh(e.cmd[1]);
		unsigned op = (unsigned)(w0 & 0xff);
		bool found = false;
		snprintf(tag + strlen(tag), tlen - strlen(tag), " %#" PRIx64 ":%#" PRIx64, w0, w1);
		if (op == 0x05 || op == 0x06 || op == 0x40) {
			for (unsigned i = 1; i <= OBJS_MAX; i++)
				found |= c->objs[i].type == O_VDEVICE &&
					 c->objs[i].on == q->hwpt_id &&
					 c->objs[i].virt_id == (w0 >> 32);
		} else
			found = op == 0x10 || op == 0x11 || op == 0x12 || op == 0x13 || op == 0x30;
		if (!found) {
			r = -EIO;
			break;
		}
	}
	q->entry_num = done;
	give(arg, q, sizeof(*q));
	return r;
}

/* IOMMU_HWPT_INVALIDATE of a nested VT-d hwpt, as intel-iommu checks each entry; entry_num
 * says how many were done. */
static int do_hwpt_invalidate(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_hwpt_invalidate q;
	struct obj *h;
	uint32_t done = 0;
	int r = take(arg, &q, sizeof(q), 32);

	if (r < 0)
		return r;
	snprintf(tag, tlen, "invalidate hwpt %u: %u entries", q.hwpt_id, q.entry_num);
	if (obj_get(c, q.hwpt_id, O_VIOMMU))
		return viommu_invalidate(c, arg, &q, tag, tlen);
	if (!(h = obj_get(c, q.hwpt_id, O_HWPT)) || !obj_get(c, h->on, O_HWPT))
		return -EINVAL;
	if (q.data_type == SVMD_IOMMU_HWPT_INVALIDATE_DATA_SELFTEST)
		return mock_invalidate(h, arg, &q, tag, tlen);
	if (q.data_type != SVMD_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1)
		return -EINVAL;
	if (q.entry_len < sizeof(struct svmd_iommu_hwpt_vtd_s1_invalidate))
		return -EINVAL;
	for (; done < q.entry_num; done++) {
		struct svmd_iommu_hwpt_vtd_s1_invalidate e;
		memcpy(&e, (const uint8_t *)(uintptr_t)q.data_uptr + (size_t)done * q.entry_len,
		       sizeof(e));
		snprintf(tag + strlen(tag), tlen - strlen(tag), " %#" PRIx64 "+%#" PRIx64 "/%u",
			 (uint64_t)e.addr, (uint64_t)e.npages, e.flags);
		if (e.flags & ~SVMD_IOMMU_VTD_INV_FLAGS_LEAF || e.reserved) {
			r = -EOPNOTSUPP;
			break;
		}
		if (e.addr % 4096) {
			r = -EINVAL;
			break;
		}
	}
	q.entry_num = done;
	give(arg, &q, sizeof(q));
	return r;
}

/* VFIO_DEVICE_ATTACH_PASID: the RID must be on a PASID-capable hwpt, and so must pt. */
static int pasid_attach(struct cdev *d, uint32_t pasid, uint32_t pt, char *tag, size_t tlen)
{
	struct ictx *c = &ctxs[d->ctx];
	struct obj *rid = obj_get(c, d->hwpt, O_HWPT), *h = obj_get(c, pt, O_NONE);
	struct hwconf hw = hw_of(d->bdf);
	unsigned i;

	snprintf(tag + strlen(tag), tlen - strlen(tag), " at pasid %u", pasid);
	if (!h)
		return -ENOENT;
	if (hw.pasid == 0) {
		/* The kernel's core skips a device without PASIDs: success, nothing programmed. */
		snprintf(tag + strlen(tag), tlen - strlen(tag), " (no PASIDs: nothing done)");
		return 0;
	}
	if (pasid == 0 || pasid >= 1u << hw.pasid || h->type != O_HWPT)
		return -EINVAL;
	if (!rid || !rid->pasid_ok || !h->pasid_ok)
		return -EINVAL;
	for (i = 0; i < d->n_pasids && d->pasids[i].pasid != pasid; i++)
		;
	if (i == d->n_pasids && i == 8)
		return -ENOSPC;
	if (i < d->n_pasids)
		c->objs[d->pasids[i].hwpt].users--; /* a replace */
	else
		d->n_pasids++;
	d->pasids[i].pasid = pasid;
	d->pasids[i].hwpt = pt;
	h->users++;
	return 0;
}

static int do_attach(struct cdev *d, void *arg, char *tag, size_t tlen)
{
	struct svmd_vfio_device_attach_iommufd_pt at = {0};
	struct ictx *c = &ctxs[d->ctx];
	struct obj *o;
	unsigned h;
	int r;

	memcpy(&at, arg, 12); /* minsz; pasid only with FLAG_PASID */
	snprintf(tag, tlen, "vfio%u attach %u", d->node, at.pt_id);
	if (!d->ctx)
		return -EINVAL; /* no access before BIND_IOMMUFD */
	if (at.argsz < 12 || at.flags & ~SVMD_VFIO_DEVICE_ATTACH_PASID)
		return -EINVAL;
	if (at.flags) {
		memcpy(&at.pasid, (uint8_t *)arg + 12, 4);
		return at.argsz < 16 ? -EINVAL : pasid_attach(d, at.pasid, at.pt_id, tag, tlen);
	}
	if (!(o = obj_get(c, at.pt_id, O_NONE)))
		return -ENOENT;
	if (o->type == O_HWPT)
		h = at.pt_id;
	else if (o->type != O_IOAS)
		return -EINVAL;
	else if ((r = hwpt_for(c, at.pt_id, &h, false)) < 0)
		return r;
	if (d->n_pasids && !c->objs[h].pasid_ok)
		return -EINVAL; /* PASIDs attached need the RID PASID-capable */
	if (d->hwpt == h)
		return 0;
	c->objs[h].users++;
	if (d->hwpt)
		rid_leave(d); /* a replace: the old HWPT loses this device */
	d->hwpt = h;
	at.pt_id = h;
	memcpy((uint8_t *)arg + 8, &at.pt_id, 4);
	snprintf(tag + strlen(tag), tlen - strlen(tag), " via hwpt %u of ioas %u", h,
		 c->objs[h].ioas);
	return 0;
}

static int do_detach(struct cdev *d, void *arg, char *tag, size_t tlen)
{
	struct svmd_vfio_device_detach_iommufd_pt de = {0};

	memcpy(&de, arg, 8);
	snprintf(tag, tlen, "vfio%u detach", d->node);
	if (!d->ctx || de.argsz < 8 || de.flags & ~SVMD_VFIO_DEVICE_DETACH_PASID)
		return -EINVAL;
	if (de.flags) {
		if (de.argsz < 12)
			return -EINVAL;
		memcpy(&de.pasid, (uint8_t *)arg + 8, 4);
		snprintf(tag + strlen(tag), tlen - strlen(tag), " pasid %u", de.pasid);
		for (unsigned i = 0; i < d->n_pasids; i++)
			if (d->pasids[i].pasid == de.pasid) {
				ctxs[d->ctx].objs[d->pasids[i].hwpt].users--;
				d->pasids[i] = d->pasids[--d->n_pasids];
				return 0;
			}
		snprintf(tag + strlen(tag), tlen - strlen(tag), " (not attached)");
		return 0;
	}
	snprintf(tag + strlen(tag), tlen - strlen(tag), "%s", d->hwpt ? "" : " (not attached)");
	rid_leave(d);
	return 0;
}

/* ---- SMMUv3 nesting ---- */

#define STE0_ALLOWED 0xf80ffffffffffffful /* V, Config, S1Fmt, S1ContextPtr, S1CDMax */

static bool viommu_allowed(const struct ictx *c, unsigned dev)
{
	const char *v = getenv("VFIO_EMUL_VIOMMU");
	const char *bdf = cdevs[c->objs[dev].cdev].bdf;
	size_t n = strlen(bdf);

	for (const char *p = v; p && *p; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, bdf, n) == 0 && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

static int hwpt_parent_alloc(struct ictx *c, struct svmd_iommu_hwpt_alloc *h, char *tag,
			     size_t tlen)
{
	struct obj *ioas = obj_get(c, h->pt_id, O_IOAS);
	unsigned id;
	int r;

	if (!ioas)
		return -ENOENT;
	if (h->flags != SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT)
		return -EOPNOTSUPP; /* only what svmd asks is emulated */
	if ((r = pin_all(ioas)) < 0)
		return r;
	if (!(id = obj_new(c, O_HWPT)))
		return -ENOSPC;
	c->objs[id].ioas = h->pt_id;
	c->objs[id].alloced = c->objs[id].nest_parent = true;
	ioas->users++;
	h->out_hwpt_id = id;
	snprintf(tag, tlen, "nest-parent hwpt %u on ioas %u", id, h->pt_id);
	return 0;
}

static int hwpt_nested_alloc(struct ictx *c, struct svmd_iommu_hwpt_alloc *h, const void *data,
			     char *tag, size_t tlen)
{
	struct obj *v = obj_get(c, h->pt_id, O_VIOMMU);
	struct svmd_iommu_hwpt_arm_smmuv3 ste;
	bool has_vdevice = false;
	unsigned id;

	if (!v)
		return -ENOENT;
	if (h->data_type != SVMD_IOMMU_HWPT_DATA_ARM_SMMUV3 || h->data_len != sizeof(ste) ||
	    h->flags)
		return -EOPNOTSUPP;
	memcpy(&ste, data, sizeof(ste));
	if ((ste.ste[0] & ~STE0_ALLOWED) || ste.ste[1])
		return -EIO;
	for (unsigned i = 1; i <= OBJS_MAX; i++)
		has_vdevice |= c->objs[i].type == O_VDEVICE && c->objs[i].on == h->pt_id &&
			       c->objs[i].dev == h->dev_id;
	if (((ste.ste[0] >> 1) & 7) == 5 && !has_vdevice)
		return -EINVAL; /* an S1-translate vSTE needs the device's vDEVICE */
	if (!(id = obj_new(c, O_HWPT)))
		return -ENOSPC;
	c->objs[id].alloced = true;
	c->objs[id].on = h->pt_id;
	v->refs++;
	h->out_hwpt_id = id;
	snprintf(tag, tlen, "nested hwpt %u on viommu %u, vste %#" PRIx64, id, h->pt_id,
		 ste.ste[0]);
	return 0;
}

/* IOMMU_HWPT_ALLOC: VT-d's own (vtd_hwpt_alloc), else the SMMUv3's. */
static int do_hwpt_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_hwpt_alloc h;
	struct obj *dev;
	int r = take(arg, &h, sizeof(h), SVMD_IOMMU_HWPT_ALLOC_SIZE_6_6);

	if (r < 0)
		return r;
	if (!(dev = obj_get(c, h.dev_id, O_DEVICE)))
		return -ENOENT;
	if (hw_of(cdevs[dev->cdev].bdf).type == SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD)
		return vtd_hwpt_alloc(c, arg, tag, tlen);
	if (hw_of(cdevs[dev->cdev].bdf).type == SVMD_IOMMU_HW_INFO_TYPE_SELFTEST)
		return mock_hwpt_alloc(c, arg, tag, tlen);
	r = h.data_type == SVMD_IOMMU_HWPT_DATA_NONE
		    ? hwpt_parent_alloc(c, &h, tag, tlen)
		    : hwpt_nested_alloc(c, &h, (const void *)(uintptr_t)h.data_uptr, tag, tlen);
	if (r == 0)
		give(arg, &h, sizeof(h));
	return r;
}

static int do_viommu_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_viommu_alloc v;
	struct obj *parent;
	unsigned id;
	int r = take(arg, &v, sizeof(v), SVMD_IOMMU_VIOMMU_ALLOC_SIZE_6_13);

	if (r < 0)
		return r;
	parent = obj_get(c, v.hwpt_id, O_HWPT);
	if (!obj_get(c, v.dev_id, O_DEVICE) || !parent)
		return -ENOENT;
	if (v.flags || !parent->nest_parent || v.type != SVMD_IOMMU_VIOMMU_TYPE_ARM_SMMUV3)
		return -EOPNOTSUPP;
	if (!viommu_allowed(c, v.dev_id)) {
		snprintf(tag, tlen, "no S2FWB, no CANWBS");
		return -EOPNOTSUPP;
	}
	if (!(id = obj_new(c, O_VIOMMU)))
		return -ENOSPC;
	c->objs[id].on = v.hwpt_id;
	parent->refs++;
	v.out_viommu_id = id;
	give(arg, &v, sizeof(v));
	snprintf(tag, tlen, "viommu %u on hwpt %u", id, v.hwpt_id);
	return 0;
}

static int do_vdevice_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_vdevice_alloc v;
	struct obj *viommu;
	unsigned id;
	int r = take(arg, &v, sizeof(v), sizeof(v));

	if (r < 0)
		return r;
	viommu = obj_get(c, v.viommu_id, O_VIOMMU);
	if (!viommu || !obj_get(c, v.dev_id, O_DEVICE))
		return -ENOENT;
	for (unsigned i = 1; i <= OBJS_MAX; i++)
		if (c->objs[i].type == O_VDEVICE && c->objs[i].dev == v.dev_id)
			return -EEXIST;
	if (!(id = obj_new(c, O_VDEVICE)))
		return -ENOSPC;
	c->objs[id].on = v.viommu_id;
	c->objs[id].dev = v.dev_id;
	c->objs[id].virt_id = v.virt_id;
	viommu->refs++;
	v.out_vdevice_id = id;
	give(arg, &v, sizeof(v));
	snprintf(tag, tlen, "vdevice %u (virt_id %#" PRIx64 ") on viommu %u", id,
		 (uint64_t)v.virt_id, v.viommu_id);
	return 0;
}

static int do_veventq_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_veventq_alloc q;
	struct obj *viommu;
	unsigned id;
	int sv[2], r = take(arg, &q, sizeof(q), sizeof(q));

	if (r < 0)
		return r;
	viommu = obj_get(c, q.viommu_id, O_VIOMMU);
	if (!viommu)
		return -ENOENT;
	if (q.flags || q.type != SVMD_IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 || !q.veventq_depth)
		return -EOPNOTSUPP;
	for (unsigned i = 1; i <= OBJS_MAX; i++)
		if (c->objs[i].type == O_VEVENTQ && c->objs[i].on == q.viommu_id)
			return -EEXIST;
	if (conf.n_pairs == 0)
		return -ENOMEM;
	if (!(id = obj_new(c, O_VEVENTQ)))
		return -ENOSPC;
	conf.n_pairs--;
	sv[0] = conf.pairs[conf.n_pairs][0];
	sv[1] = conf.pairs[conf.n_pairs][1];
	c->objs[id].on = q.viommu_id;
	c->objs[id].hidden_fd = sv[1];
	viommu->refs++;
	q.out_veventq_id = id;
	q.out_veventq_fd = (uint32_t)sv[0];
	give(arg, &q, sizeof(q));
	snprintf(tag, tlen, "veventq %u on viommu %u", id, q.viommu_id);
	return 0;
}

/* Which ioctl, and where its pointer field is, for the log. */
/* ---- The mock IOMMU (VFIO_EMUL_MOCK) ---- */

/* A mock device's HWPTs: a NEST_PARENT one on an IOAS, or a nested DATA_SELFTEST one on that. */
static int mock_hwpt_alloc(struct ictx *c, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_hwpt_alloc h;
	const uint32_t known = SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT | SVMD_IOMMU_HWPT_ALLOC_PASID;
	struct obj *pt;
	unsigned id;
	int r = take(arg, &h, sizeof(h), 24);

	if (r < 0)
		return r;
	snprintf(tag, tlen, "mock hwpt-alloc flags %#x on %u for device %u", h.flags, h.pt_id,
		 h.dev_id);
	if (!(pt = obj_get(c, h.pt_id, O_NONE)))
		return -ENOENT;
	if (h.data_type == SVMD_IOMMU_HWPT_DATA_NONE) {
		if (h.flags & ~known)
			return -EOPNOTSUPP;
		if (pt->type != O_IOAS)
			return -EINVAL;
		if ((r = hwpt_for(c, h.pt_id, &id, true)) < 0)
			return r;
		c->objs[id].nest_parent = h.flags & SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT;
	} else if (h.data_type == SVMD_IOMMU_HWPT_DATA_SELFTEST) {
		struct svmd_iommu_hwpt_selftest data = {0};
		if (h.flags & ~(SVMD_IOMMU_HWPT_ALLOC_PASID | SVMD_IOMMU_HWPT_FAULT_ID_VALID))
			return -EOPNOTSUPP;
		if (pt->type != O_HWPT || !pt->nest_parent)
			return -EINVAL;
		if (h.data_len < sizeof(data.iotlb) || !h.data_uptr)
			return -EINVAL;
		if ((r = fault_take(c, &h, tag, tlen)) < 0)
			return r;
		memcpy(&data, (const void *)(uintptr_t)h.data_uptr,
		       h.data_len < sizeof(data) ? h.data_len : sizeof(data));
		if (!(id = obj_new(c, O_HWPT)))
			return -ENOSPC;
		c->objs[id].on = h.pt_id;
		c->objs[id].alloced = true;
		c->objs[id].fault = fault_hold(c, &h);
		for (int i = 0; i < 4; i++)
			c->objs[id].iotlb[i] = data.iotlb;
		pt->refs++;
		snprintf(tag + strlen(tag), tlen - strlen(tag), " selftest iotlb %#" PRIx32,
			 data.iotlb);
	} else {
		return -EOPNOTSUPP;
	}
	c->objs[id].pasid_ok = h.flags & SVMD_IOMMU_HWPT_ALLOC_PASID;
	h.out_hwpt_id = id;
	give(arg, &h, sizeof(h));
	snprintf(tag + strlen(tag), tlen - strlen(tag), ": hwpt %u", id);
	return 0;
}

/* IOMMU_HWPT_INVALIDATE(DATA_SELFTEST) of a nested mock hwpt, as the mock checks each entry. */
static int mock_invalidate(struct obj *h, void *arg, struct svmd_iommu_hwpt_invalidate *q,
			   char *tag, size_t tlen)
{
	uint32_t done = 0;
	int r = 0;

	if (q->entry_len < sizeof(struct svmd_iommu_hwpt_invalidate_selftest))
		return -EINVAL;
	for (; done < q->entry_num; done++) {
		struct svmd_iommu_hwpt_invalidate_selftest e;
		memcpy(&e, (const uint8_t *)(uintptr_t)q->data_uptr + (size_t)done * q->entry_len,
		       sizeof(e));
		snprintf(tag + strlen(tag), tlen - strlen(tag), " flags %#x id %u", e.flags,
			 e.iotlb_id);
		if (e.flags & ~SVMD_IOMMU_TEST_INVALIDATE_FLAG_ALL) {
			r = -EOPNOTSUPP;
			break;
		}
		if (e.iotlb_id > 3) {
			r = -EINVAL;
			break;
		}
		for (unsigned i = 0; i < 4; i++)
			if (e.flags || i == e.iotlb_id)
				h->iotlb[i] = 0;
	}
	snprintf(tag + strlen(tag), tlen - strlen(tag), ": iotlb %#x %#x %#x %#x", h->iotlb[0],
		 h->iotlb[1], h->iotlb[2], h->iotlb[3]);
	q->entry_num = done;
	give(arg, q, sizeof(*q));
	return r;
}

/* MOCK_DOMAIN_FLAGS on IOAS id: a mock device in a cdev slot of its own (from the top). */
static int mock_domain(struct ictx *c, unsigned ctx, struct svmd_iommu_test_cmd *t, char *tag,
		       size_t tlen)
{
	unsigned slot = CDEVS_MAX, h, dev, st;
	int r;

	if (!obj_get(c, t->id, O_IOAS))
		return -ENOENT;
	while (slot > n_cdevs && cdevs[slot].live)
		slot--;
	if (slot <= n_cdevs)
		return -ENOSPC;
	if ((r = hwpt_for(c, t->id, &h, false)) < 0)
		return r;
	if (!(dev = obj_new(c, O_DEVICE)))
		return -ENOSPC;
	if (!(st = obj_new(c, O_STDEV))) {
		obj_free(c, dev);
		return -ENOSPC;
	}
	cdevs[slot] = (struct cdev){.live = true,
				    .node = 1000 + (CDEVS_MAX - slot),
				    .ctx = ctx,
				    .devid = dev,
				    .hwpt = h};
	snprintf(cdevs[slot].bdf, sizeof(cdevs[slot].bdf), MOCK_BDF);
	c->objs[dev].cdev = c->objs[st].cdev = slot;
	c->objs[h].users++;
	t->mock_domain_flags.out_stdev_id = st;
	t->mock_domain_flags.out_hwpt_id = h;
	t->mock_domain_flags.out_idev_id = dev;
	snprintf(tag, tlen, "mock device (flags %#x): stdev %u, device %u, on hwpt %u of ioas %u",
		 t->mock_domain_flags.dev_flags, st, dev, h, t->id);
	return 0;
}

static int do_test_cmd(struct ictx *c, unsigned ctx, void *arg, char *tag, size_t tlen)
{
	struct svmd_iommu_test_cmd t;
	struct obj *st;
	int r = take(arg, &t, sizeof(t), offsetof(struct svmd_iommu_test_cmd, last) + 4);

	if (r < 0)
		return r;
	if (t.op == SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS) {
		r = mock_domain(c, ctx, &t, tag, tlen);
		if (r == 0)
			give(arg, &t, sizeof(t));
		return r;
	}
	snprintf(tag, tlen, "mock op %u on stdev %u:", t.op, t.id);
	if (!(st = obj_get(c, t.id, O_STDEV)))
		return -ENOENT;
	struct cdev *md = &cdevs[st->cdev];
	if (t.op == SVMD_IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE) {
		struct svmd_vfio_device_attach_iommufd_pt at = {
			.argsz = sizeof(at), .pt_id = t.mock_domain_replace.pt_id};
		size_t n = strlen(tag);
		r = do_attach(md, &at, tag + n, tlen - n);
		if (r == 0)
			t.mock_domain_replace.pt_id = at.pt_id;
	} else if (t.op == SVMD_IOMMU_TEST_OP_PASID_ATTACH) {
		struct svmd_vfio_device_attach_iommufd_pt at = {
			.argsz = sizeof(at),
			.flags = SVMD_VFIO_DEVICE_ATTACH_PASID,
			.pt_id = t.pasid_attach.pt_id,
			.pasid = t.pasid_attach.pasid,
		};
		size_t n = strlen(tag);
		r = do_attach(md, &at, tag + n, tlen - n);
	} else if (t.op == SVMD_IOMMU_TEST_OP_PASID_DETACH) {
		struct svmd_vfio_device_detach_iommufd_pt de = {
			.argsz = sizeof(de),
			.flags = SVMD_VFIO_DEVICE_DETACH_PASID,
			.pasid = t.pasid_detach.pasid,
		};
		size_t n = strlen(tag);
		r = do_detach(md, &de, tag + n, tlen - n);
	} else {
		return -EOPNOTSUPP; /* not emulated */
	}
	if (r == 0)
		give(arg, &t, sizeof(t));
	return r;
}

static size_t ptr_offset(unsigned long req)
{
	if (req == SVMD_IOMMU_GET_HW_INFO)
		return offsetof(struct svmd_iommu_hw_info, data_uptr);
	if (req == SVMD_IOMMU_IOAS_IOVA_RANGES)
		return offsetof(struct svmd_iommu_ioas_iova_ranges, allowed_iovas);
	if (req == SVMD_IOMMU_HWPT_ALLOC)
		return offsetof(struct svmd_iommu_hwpt_alloc, data_uptr);
	if (req == SVMD_IOMMU_HWPT_INVALIDATE)
		return offsetof(struct svmd_iommu_hwpt_invalidate, data_uptr);
	return 0;
}

static int dispatch(int fd, struct efd *e, unsigned long req, void *arg, char *tag, size_t tlen)
{
	if (e->kind == K_CDEV) {
		struct cdev *d = &cdevs[e->id];
		switch (req) {
		case SVMD_VFIO_DEVICE_BIND_IOMMUFD:
			return do_bind(fd, d, arg, tag, tlen);
		case SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT:
			return do_attach(d, arg, tag, tlen);
		case SVMD_VFIO_DEVICE_DETACH_IOMMUFD_PT:
			return do_detach(d, arg, tag, tlen);
		default:
			return d->ctx ? -ENOTTY : -EINVAL;
		}
	}
	struct ictx *c = &ctxs[e->id];
	switch (req) {
	case SVMD_IOMMU_DESTROY:
		return do_destroy(c, arg, tag, tlen);
	case SVMD_IOMMU_IOAS_ALLOC:
		return do_ioas_alloc(c, arg, tag, tlen);
	case SVMD_IOMMU_IOAS_IOVA_RANGES:
		return do_iova_ranges(c, arg, tag, tlen);
	case SVMD_IOMMU_IOAS_MAP_FILE:
		return do_map_file(c, arg, tag, tlen);
	case SVMD_IOMMU_IOAS_UNMAP:
		return do_unmap(c, arg, tag, tlen);
	case SVMD_IOMMU_OPTION:
		return do_option(c, arg, tag, tlen);
	case SVMD_IOMMU_GET_HW_INFO:
		return do_hw_info(c, arg, tag, tlen);
	case SVMD_IOMMU_HWPT_ALLOC:
		return do_hwpt_alloc(c, arg, tag, tlen);
	case SVMD_IOMMU_VIOMMU_ALLOC:
		return do_viommu_alloc(c, arg, tag, tlen);
	case SVMD_IOMMU_VDEVICE_ALLOC:
		return do_vdevice_alloc(c, arg, tag, tlen);
	case SVMD_IOMMU_VEVENTQ_ALLOC:
		return do_veventq_alloc(c, arg, tag, tlen);
	case SVMD_IOMMU_HWPT_INVALIDATE:
		return do_hwpt_invalidate(c, arg, tag, tlen);
	case SVMD_IOMMU_FAULT_QUEUE_ALLOC:
		return do_fault_alloc(c, arg, tag, tlen);
	case SVMD_IOMMU_TEST_CMD:
		return conf.mock ? do_test_cmd(c, e->id, arg, tag, tlen) : -ENOTTY;
	default:
		return -ENOTTY;
	}
}

int iommufd_emul_ioctl(int fd, struct efd *e, unsigned long req, void *arg, char *details,
		       size_t size)
{
	char in[200] = "", out[200] = "", tag[512] = "", res[32];
	size_t ptr = ptr_offset(req);
	uint8_t after[64];
	uint32_t n = 0;
	int r;

	if (arg)
		in_text(in, sizeof(in), arg, ptr);
	r = emul_injected(req, NULL);
	if (r)
		snprintf(tag, sizeof(tag), "injected");
	else if (!arg)
		r = -EFAULT;
	else
		r = dispatch(fd, e, req, arg, tag, sizeof(tag));
	if (arg && (r == 0 || r == -EMSGSIZE)) {
		memcpy(&n, arg, sizeof(n));
		n = n > sizeof(after) ? sizeof(after) : n;
		memcpy(after, arg, n);
		out_text(out, sizeof(out), after, n, ptr);
	}
	snprintf(details, size, "%s%s [%s]", in, out, tag);
	snprintf(res, sizeof(res), "%s", r < 0 ? emul_errname(-r) : "0");
	emul_log("ioctl %s%u 0x%lx%s -> %s", e->kind == K_CDEV ? "cdev" : "iommufd", e->id, req,
		 details, res);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}
