/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the test kernel answers where svmd's iommufd backend relies on it, measured inside the
 * QEMU guest by tests/vm/run-kernel.sh (make check-vm-iommufd): who may bind a VFIO cdev while
 * another holds it, what outlives an iommufd fd, how IOAS maps and unmaps refuse, and which
 * locked-memory limit pins are charged to in each IOMMU_OPTION_RLIMIT_MODE, with and without
 * CAP_IPC_LOCK, and why svmd refuses nested and PASID binds on this VT-d itself: it cannot be a
 * nesting parent, and a PASID attach on a device without PASIDs answers success. Each check
 * prints the kernel's answers in its detail line; it passes when they are what
 * backend-iommufd.c expects. Same conventions as iommufd-smoke.c:
 *
 *   iommufd-owner BDF0 BDF1    the two edu functions, bound to vfio-pci (only BDF0 is used)
 *   iommufd-owner --list       the names of the checks, one a line
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB    (1024u * 1024u)
#define IOVA_A 0x1000000ull
#define IOVA_B 0x2000000ull
/* The MSI window VT-d reserves in every IOAS a device on it is attached to. */
#define IOVA_MSI 0xfee00000ull

static const char *const checks[] = {
	"owner-second-bind",
	"owner-same-fd-rebind",
	"owner-dup-keeps-binding",
	"owner-group-vs-cdev",
	"owner-other-ctx-id",
	"owner-objects-outlive-fd",
	"owner-destroy-attached",
	"map-refusals",
	"map-non-memfd",
	"iova-ranges",
	"option-per-ctx",
	"option-needs-sys-resource",
	"pin-with-cap-ipc-lock",
	"pin-mode1",
	"pin-mode0",
	"pin-at-attach",
	"nest-parent-refused",
	"pasid-attach-without-pasids",
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static bool reported[N_CHECKS];
static int n_failed;
static char cdev_path[64];
static char group_path[64];

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < N_CHECKS; i++)
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

static const char *ename(int r)
{
	static char buf[16][24];
	static int slot;
	const char *s;

	if (r >= 0)
		return "0";
	s = strerrorname_np(-r);
	slot = (slot + 1) % 16;
	snprintf(buf[slot], sizeof(buf[slot]), "%s", s ? s : "E?");
	return buf[slot];
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* BDF's cdev and group node, from sysfs. */
static int find_nodes(const char *bdf)
{
	char dir[128], link[256], target[256];
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "vfio", 4) == 0 && strlen(de->d_name) < 32)
			snprintf(cdev_path, sizeof(cdev_path), "/dev/vfio/devices/%s", de->d_name);
	closedir(d);
	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	snprintf(group_path, sizeof(group_path), "/dev/vfio/%s", strrchr(target, '/') + 1);
	return cdev_path[0] ? 0 : -ENOENT;
}

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int bind_dev(int fd, int iommufd, uint32_t *devid)
{
	struct vfio_device_bind_iommufd b = {.argsz = sizeof(b), .iommufd = iommufd};
	int r = xioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (r == 0 && devid)
		*devid = b.out_devid;
	return r;
}

static int ioas_alloc(int iommufd, uint32_t *id)
{
	struct iommu_ioas_alloc a = {.size = sizeof(a)};
	int r = xioctl(iommufd, IOMMU_IOAS_ALLOC, &a);

	if (r == 0)
		*id = a.out_ioas_id;
	return r;
}

static int attach(int fd, uint32_t pt)
{
	struct vfio_device_attach_iommufd_pt a = {.argsz = sizeof(a), .pt_id = pt};
	return xioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);
}

static int detach(int fd)
{
	struct vfio_device_detach_iommufd_pt d = {.argsz = sizeof(d)};
	return xioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static int destroy(int iommufd, uint32_t id)
{
	struct iommu_destroy d = {.size = sizeof(d), .id = id};
	return xioctl(iommufd, IOMMU_DESTROY, &d);
}

static int map_file(int iommufd, uint32_t ioas, int fd, uint64_t start, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.fd = fd,
		.start = start,
		.length = len,
		.iova = iova,
	};
	return xioctl(iommufd, IOMMU_IOAS_MAP_FILE, &m);
}

static int unmap(int iommufd, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *done)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len};
	int r = xioctl(iommufd, IOMMU_IOAS_UNMAP, &u);

	if (done)
		*done = r == 0 ? u.length : 0;
	return r;
}

static int option(int iommufd, uint16_t op, uint64_t *val)
{
	struct iommu_option o = {
		.size = sizeof(o),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = op,
		.val64 = *val,
	};
	int r = xioctl(iommufd, IOMMU_OPTION, &o);

	if (r == 0)
		*val = o.val64;
	return r;
}

static int memfd_of(size_t size)
{
	int fd = memfd_create("owner", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -errno;
	return fd;
}

/* A device bound to a fresh iommufd, with an IOAS; every field -1/0 when unset. */
struct rig {
	int ictx, dev;
	uint32_t devid, ioas;
};

static int rig_new(struct rig *g, bool attached)
{
	int r;

	*g = (struct rig){.ictx = open_rw("/dev/iommu"), .dev = open_rw(cdev_path)};
	if (g->ictx < 0 || g->dev < 0)
		return g->ictx < 0 ? g->ictx : g->dev;
	r = bind_dev(g->dev, g->ictx, &g->devid);
	if (r == 0)
		r = ioas_alloc(g->ictx, &g->ioas);
	if (r == 0 && attached)
		r = attach(g->dev, g->ioas);
	return r;
}

static void rig_free(struct rig *g)
{
	if (g->dev >= 0)
		close(g->dev);
	if (g->ictx >= 0)
		close(g->ictx);
	g->dev = g->ictx = -1;
}

/* ---- Ownership ---- */

static void second_binders(void)
{
	int ictx1 = open_rw("/dev/iommu"), ictx2 = open_rw("/dev/iommu");
	int fd1 = open_rw(cdev_path), fd2 = open_rw(cdev_path), dup1, r1, r2, r3, r4, r5;

	r1 = bind_dev(fd1, ictx1, NULL);
	r2 = bind_dev(fd2, ictx2, NULL);
	report(fd2 >= 0 && r1 == 0 && r2 == -EINVAL, "owner-second-bind",
	       "first BIND %s; a second open of %s %s, its BIND to another iommufd %s", ename(r1),
	       cdev_path, fd2 >= 0 ? "succeeds" : ename(fd2), ename(r2));
	r3 = bind_dev(fd1, ictx2, NULL);
	report(r3 == -EINVAL, "owner-same-fd-rebind", "BIND again on the bound fd: %s", ename(r3));
	dup1 = dup(fd1);
	close(fd1);
	r4 = bind_dev(fd2, ictx2, NULL);
	close(dup1);
	r5 = bind_dev(fd2, ictx2, NULL);
	report(r4 == -EINVAL && r5 == 0, "owner-dup-keeps-binding",
	       "original fd closed, a dup open: BIND elsewhere %s; dup closed too: %s", ename(r4),
	       ename(r5));
	close(fd2);
	close(ictx1);
	close(ictx2);
}

static void group_vs_cdev(void)
{
	int ictx = open_rw("/dev/iommu"), fd = open_rw(cdev_path), g1, g2, fd2, r, r2;

	r = bind_dev(fd, ictx, NULL);
	g1 = open_rw(group_path);
	close(fd);
	g2 = open_rw(group_path);
	fd2 = open_rw(cdev_path);
	r2 = bind_dev(fd2, ictx, NULL);
	report(r == 0 && g1 == -EBUSY && g2 >= 0 && r2 == -EBUSY, "owner-group-vs-cdev",
	       "%s open while the cdev is bound: %s; cdev BIND while the group is open: %s",
	       group_path, ename(g1), ename(r2));
	if (g1 >= 0)
		close(g1);
	if (g2 >= 0)
		close(g2);
	close(fd2);
	close(ictx);
}

/* A device fd reaches only objects of the iommufd its cdev is bound to. */
static void other_ctx_id(void)
{
	struct rig g;
	int other = open_rw("/dev/iommu"), r;
	uint32_t ids[3] = {0};

	for (int i = 0; i < 3; i++)
		ioas_alloc(other, &ids[i]);
	r = rig_new(&g, false);
	int ra = r == 0 ? attach(g.dev, ids[2]) : r;
	report(r == 0 && ra == -ENOENT, "owner-other-ctx-id",
	       "device bound to one iommufd (device %u, IOAS %u), ATTACH to IOAS %u of another: %s",
	       g.devid, g.ioas, ids[2], ename(ra));
	rig_free(&g);
	close(other);
}

/* Objects live as long as a bound device holds the iommufd, not as long as its fd. */
static void objects_outlive_fd(void)
{
	struct rig g;
	int r = rig_new(&g, true), memfd = memfd_of(MiB), rm, ra, rd, rb;

	rm = r == 0 ? map_file(g.ictx, g.ioas, memfd, 0, MiB, IOVA_A) : r;
	close(g.ictx);
	g.ictx = -1;
	rd = detach(g.dev);
	ra = attach(g.dev, g.ioas);
	/* The device keeps the context: another cdev open cannot bind it. */
	int fd2 = open_rw(cdev_path), ictx2 = open_rw("/dev/iommu");
	rb = bind_dev(fd2, ictx2, NULL);
	report(r == 0 && rm == 0 && rd == 0 && ra == 0 && rb == -EINVAL, "owner-objects-outlive-fd",
	       "after the iommufd fd is closed: DETACH %s, ATTACH to the old IOAS %u again %s "
	       "(its map still there), another BIND %s",
	       ename(rd), g.ioas, ename(ra), ename(rb));
	close(fd2);
	close(ictx2);
	close(memfd);
	rig_free(&g);
}

static void destroy_attached(void)
{
	struct rig g;
	int r = rig_new(&g, true), r1, r2, r3;

	r1 = destroy(g.ictx, g.ioas);
	r2 = detach(g.dev);
	r3 = destroy(g.ictx, g.ioas);
	report(r == 0 && r1 == -EBUSY && r2 == 0 && r3 == 0, "owner-destroy-attached",
	       "DESTROY of the attached IOAS %s; after DETACH %s, DESTROY %s", ename(r1), ename(r2),
	       ename(r3));
	rig_free(&g);
}

/* ---- Nesting and PASIDs, as svmd's refusals rely on ---- */

static int hwpt_alloc(const struct rig *g, uint32_t flags, uint32_t *ret)
{
	struct iommu_hwpt_alloc h = {
		.size = sizeof(h), .flags = flags, .dev_id = g->devid, .pt_id = g->ioas};
	int r = xioctl(g->ictx, IOMMU_HWPT_ALLOC, &h);

	if (r == 0)
		*ret = h.out_hwpt_id;
	return r;
}

static int pasid_bits(const struct rig *g)
{
	struct iommu_hw_info q = {.size = sizeof(q), .dev_id = g->devid};
	int r = xioctl(g->ictx, IOMMU_GET_HW_INFO, &q);

	return r < 0 ? r : q.out_max_pasid_log2;
}

/* The emulated VT-d (ECAP.NEST clear) cannot parent a nested HWPT: svmd's "cannot nest" is the
 * kernel's own EOPNOTSUPP. A plain HWPT on the same IOAS is fine. */
static void nest_parent_refused(void)
{
	struct rig g;
	uint32_t hwpt = 0, plain = 0;
	int r = rig_new(&g, false), rn = -1, rp = -1;

	if (r == 0)
		rn = hwpt_alloc(&g, IOMMU_HWPT_ALLOC_NEST_PARENT, &hwpt);
	if (r == 0)
		rp = hwpt_alloc(&g, 0, &plain);
	report(r == 0 && rn == -EOPNOTSUPP && rp == 0, "nest-parent-refused",
	       "IOMMU_HWPT_ALLOC(NEST_PARENT) on the IOAS: %s; without it: %s", ename(rn),
	       ename(rp));
	rig_free(&g);
}

/* edu has no PASID capability: out_max_pasid_log2 is 0, and yet a PASID attach, with the RID
 * on a PASID-capable HWPT, answers success (the core skips a device without PASIDs): so svmd
 * refuses a PASID on such a device itself. */
static void pasid_attach_without_pasids(void)
{
	struct rig g;
	uint32_t hwpt = 0;
	int r = rig_new(&g, false), bits = -1, rh = -1, rr = -1, rp = -1, rd = -1;

	if (r == 0)
		bits = pasid_bits(&g);
	if (r == 0)
		rh = hwpt_alloc(&g, IOMMU_HWPT_ALLOC_PASID, &hwpt);
	if (rh == 0)
		rr = attach(g.dev, hwpt);
	if (rr == 0) {
		struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at),
							   .flags = VFIO_DEVICE_ATTACH_PASID,
							   .pt_id = hwpt,
							   .pasid = 1};
		rp = xioctl(g.dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
	}
	if (rp == 0) {
		struct vfio_device_detach_iommufd_pt de = {
			.argsz = sizeof(de), .flags = VFIO_DEVICE_DETACH_PASID, .pasid = 1};
		rd = xioctl(g.dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &de);
	}
	report(r == 0 && bits == 0 && rh == 0 && rr == 0 && rp == 0, "pasid-attach-without-pasids",
	       "out_max_pasid_log2 %d; HWPT_ALLOC(PASID) %s, RID attach %s, attach at PASID 1 %s "
	       "(detach %s)",
	       bits, ename(rh), ename(rr), ename(rp), ename(rd));
	rig_free(&g);
}

/* ---- Maps ---- */

static void map_refusals(void)
{
	struct rig g;
	int r = rig_new(&g, true), memfd = memfd_of(4 * MiB);
	int ok1, ovl, msi, unal, off, unp, unn, una, ok2;
	uint64_t done = 0, all = 0;

	ok1 = map_file(g.ictx, g.ioas, memfd, 0, MiB, IOVA_A);
	ovl = map_file(g.ictx, g.ioas, memfd, MiB, MiB, IOVA_A + MiB / 2);
	msi = map_file(g.ictx, g.ioas, memfd, 0, MiB, IOVA_MSI);
	unal = map_file(g.ictx, g.ioas, memfd, 0, MiB, IOVA_B + 0x800);
	off = map_file(g.ictx, g.ioas, memfd, 0x800, MiB, IOVA_B);
	unp = unmap(g.ictx, g.ioas, IOVA_A, MiB / 2, NULL);
	unn = unmap(g.ictx, g.ioas, IOVA_B, MiB, NULL);
	ok2 = unmap(g.ictx, g.ioas, IOVA_A, MiB, &done);
	una = unmap(g.ictx, g.ioas, 0, UINT64_MAX, &all);
	report(r == 0 && ok1 == 0 && ovl == -EEXIST && msi == -EINVAL && unal == -EINVAL &&
		       off == -EINVAL && unp == -ENOENT && unn == -ENOENT && ok2 == 0 &&
		       done == MiB && una == 0,
	       "map-refusals",
	       "map %s; overlapping %s; at the MSI window %#llx %s; IOVA off a page %s; memfd "
	       "offset 0x800 at an aligned IOVA %s; unmap of half a map %s, of nothing %s; exact "
	       "%s (%" PRIu64 " bytes); everything of an empty IOAS %s",
	       ename(ok1), ename(ovl), IOVA_MSI, ename(msi), ename(unal), ename(off), ename(unp),
	       ename(unn), ename(ok2), done, ename(una));
	close(memfd);
	rig_free(&g);
}

/* The kernel pins any shmem-backed file; svmd itself refuses what is not a memfd. */
static void map_non_memfd(void)
{
	struct rig g;
	int r = rig_new(&g, true), p[2] = {-1, -1}, rp, rt, rd;
	int tmp = open("/tmp/owner-file", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int dev0 = open("/dev/zero", O_RDWR | O_CLOEXEC);

	if (pipe2(p, O_CLOEXEC) < 0)
		p[0] = -1;
	if (ftruncate(tmp, MiB) < 0)
		tmp = -1;
	rp = map_file(g.ictx, g.ioas, p[0], 0, 4096, IOVA_A);
	rd = map_file(g.ictx, g.ioas, dev0, 0, 4096, IOVA_A);
	rt = map_file(g.ictx, g.ioas, tmp, 0, 4096, IOVA_B);
	report(r == 0 && rp < 0 && rd < 0, "map-non-memfd",
	       "MAP_FILE of a pipe %s, of /dev/zero %s, of a tmpfs file %s", ename(rp), ename(rd),
	       ename(rt));
	close(p[0]);
	close(p[1]);
	close(tmp);
	close(dev0);
	unlink("/tmp/owner-file");
	rig_free(&g);
}

static int ranges(int ictx, uint32_t ioas, char *buf, size_t size)
{
	struct iommu_iova_range rg[8];
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q),
		.ioas_id = ioas,
		.num_iovas = 8,
		.allowed_iovas = (uintptr_t)rg,
	};
	size_t used;
	int r = xioctl(ictx, IOMMU_IOAS_IOVA_RANGES, &q);

	if (r < 0)
		return r;
	used = (size_t)snprintf(buf, size,
				"align %#llx:", (unsigned long long)q.out_iova_alignment);
	for (uint32_t i = 0; i < q.num_iovas && i < 8 && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, " %#llx-%#llx",
					 (unsigned long long)rg[i].start,
					 (unsigned long long)rg[i].last);
	return (int)q.num_iovas;
}

static void iova_ranges(void)
{
	struct rig g;
	char before[256] = "", after[256] = "", detached[256] = "";
	int r = rig_new(&g, false), n0, n1, n2;

	n0 = ranges(g.ictx, g.ioas, before, sizeof(before));
	attach(g.dev, g.ioas);
	n1 = ranges(g.ictx, g.ioas, after, sizeof(after));
	detach(g.dev);
	n2 = ranges(g.ictx, g.ioas, detached, sizeof(detached));
	report(r == 0 && n0 >= 1 && n1 > n0 && n2 == n0, "iova-ranges",
	       "empty IOAS: %s; edu attached: %s; detached again: %s", before, after, detached);
	rig_free(&g);
}

/* ---- IOMMU_OPTION_RLIMIT_MODE ---- */

static void option_per_ctx(void)
{
	int a = open_rw("/dev/iommu"), b = open_rw("/dev/iommu");
	uint64_t one = 1, va = 9, vb = 9;
	int rs = option(a, IOMMU_OPTION_OP_SET, &one);

	option(a, IOMMU_OPTION_OP_GET, &va);
	option(b, IOMMU_OPTION_OP_GET, &vb);
	report(rs == 0 && va == 1 && vb == 0, "option-per-ctx",
	       "SET 1 on one iommufd %s: it reads %" PRIu64 ", another reads %" PRIu64, ename(rs),
	       va, vb);
	close(a);
	close(b);
}

static int drop_caps(const int *caps, size_t n)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		d[caps[i] / 32].effective &= ~(1u << (caps[i] % 32));
		d[caps[i] / 32].permitted &= ~(1u << (caps[i] % 32));
	}
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* Runs fn in a child (its own mm, credentials and limits); its report line comes back on a
 * pipe and is printed here, so a crash is a failure too. */
static void in_child(const char *name, void (*fn)(char *buf, size_t size, bool *ok))
{
	char buf[512] = "";
	int p[2];
	pid_t pid;
	bool ok = false;
	ssize_t n;
	int st;

	if (pipe(p) < 0 || (pid = fork()) < 0) {
		report(false, name, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		fn(buf + 1, sizeof(buf) - 1, &ok);
		buf[0] = ok ? '1' : '0';
		(void)!write(p[1], buf, strlen(buf));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	waitpid(pid, &st, 0);
	buf[n > 0 ? n : 0] = 0;
	if (n <= 0)
		report(false, name, "the child said nothing (status %#x)", st);
	else
		report(buf[0] == '1', name, "%s", buf + 1);
}

static void needs_sys_resource(char *buf, size_t size, bool *ok)
{
	const int caps[] = {CAP_SYS_RESOURCE};
	int ictx = open_rw("/dev/iommu"), rd = drop_caps(caps, 1), r;
	uint64_t one = 1;

	r = option(ictx, IOMMU_OPTION_OP_SET, &one);
	snprintf(buf, size, "without CAP_SYS_RESOURCE (capset %s): SET %s", ename(rd), ename(r));
	*ok = rd == 0 && r == -EPERM;
	close(ictx);
}

/* Kilobytes of a /proc/self/status line ("VmPin:", "VmLck:"). */
static long status_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* A device rig in mode (-1: left at the default), RLIMIT_MEMLOCK at 1.5 MiB, then 1 MiB mapped
 * and another 1 MiB: what VmPin and VmLck grew by, and whether the second map was refused. */
static void pin_case(int mode, bool drop_ipc_lock, char *buf, size_t size, bool *ok, bool want_lck)
{
	const int caps[] = {CAP_IPC_LOCK};
	struct rlimit rl = {.rlim_cur = 3 * MiB / 2, .rlim_max = 3 * MiB / 2};
	struct rig g;
	uint64_t v = (uint64_t)mode;
	int rd = drop_ipc_lock ? drop_caps(caps, 1) : 0, ro = 0, r, m1, m2,
	    memfd = memfd_of(4 * MiB);
	long pin0, lck0, pin1, lck1;

	setrlimit(RLIMIT_MEMLOCK, &rl);
	*ok = false;
	g.ictx = open_rw("/dev/iommu");
	if (mode >= 0)
		ro = option(g.ictx, IOMMU_OPTION_OP_SET, &v);
	g.dev = open_rw(cdev_path);
	r = bind_dev(g.dev, g.ictx, &g.devid);
	if (r == 0)
		r = ioas_alloc(g.ictx, &g.ioas);
	if (r == 0)
		r = attach(g.dev, g.ioas);
	pin0 = status_kb("VmPin:");
	lck0 = status_kb("VmLck:");
	m1 = map_file(g.ictx, g.ioas, memfd, 0, MiB, IOVA_A);
	pin1 = status_kb("VmPin:");
	lck1 = status_kb("VmLck:");
	m2 = map_file(g.ictx, g.ioas, memfd, MiB, MiB, IOVA_B);
	snprintf(buf, size,
		 "%s, mode %s (SET %s), RLIMIT_MEMLOCK 1536 KiB: 1 MiB map %s, VmPin +%ld kB, "
		 "VmLck +%ld kB; a second 1 MiB %s",
		 drop_ipc_lock ? "CAP_IPC_LOCK dropped" : "CAP_IPC_LOCK held",
		 mode < 0 ? "default"
		 : mode   ? "1"
			  : "0",
		 ename(ro), ename(m1), pin1 - pin0, lck1 - lck0, ename(m2));
	if (drop_ipc_lock)
		*ok = rd == 0 && ro == 0 && r == 0 && m1 == 0 && pin1 - pin0 == 1024 &&
		      lck1 - lck0 == (want_lck ? 1024 : 0) && m2 == -ENOMEM;
	else
		*ok = ro == 0 && r == 0 && m1 == 0 && pin1 - pin0 == 1024 && lck1 == lck0 &&
		      m2 == 0;
	close(memfd);
	rig_free(&g);
}

static void pin_ipc_lock(char *buf, size_t size, bool *ok)
{
	pin_case(1, false, buf, size, ok, false);
}

static void pin_mode1(char *buf, size_t size, bool *ok)
{
	pin_case(1, true, buf, size, ok, true);
}

static void pin_mode0(char *buf, size_t size, bool *ok)
{
	pin_case(-1, true, buf, size, ok, false);
}

/* A map into an IOAS no device is attached to pins nothing: the pages are pinned, and
 * charged, when a device attaches. */
static void pin_at_attach(char *buf, size_t size, bool *ok)
{
	const int caps[] = {CAP_IPC_LOCK};
	struct rig g;
	uint64_t one = 1;
	int rd = drop_caps(caps, 1), r = rig_new(&g, false), ro, m, a, memfd = memfd_of(MiB);
	long pin0 = status_kb("VmPin:"), pin1, pin2;

	ro = option(g.ictx, IOMMU_OPTION_OP_SET, &one); /* EBUSY: the device object exists */
	m = map_file(g.ictx, g.ioas, memfd, 0, MiB, IOVA_A);
	pin1 = status_kb("VmPin:");
	a = attach(g.dev, g.ioas);
	pin2 = status_kb("VmPin:");
	snprintf(buf, size,
		 "SET after BIND %s; 1 MiB map with no device attached %s, VmPin +%ld kB; "
		 "ATTACH %s, VmPin +%ld kB",
		 ename(ro), ename(m), pin1 - pin0, ename(a), pin2 - pin0);
	*ok = rd == 0 && r == 0 && ro == -EBUSY && m == 0 && pin1 == pin0 && a == 0 &&
	      pin2 - pin0 == 1024;
	close(memfd);
	rig_free(&g);
}

int main(int argc, char **argv)
{
	int r;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t c = 0; c < N_CHECKS; c++)
			printf("%s\n", checks[c]);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s BDF [BDF] | --list\n", argv[0]);
		return 2;
	}
	r = find_nodes(argv[1]);
	if (r < 0) {
		printf("FAIL nodes: %s: no cdev or IOMMU group: %s\n", argv[1], strerror(-r));
	} else {
		second_binders();
		group_vs_cdev();
		other_ctx_id();
		objects_outlive_fd();
		destroy_attached();
		map_refusals();
		map_non_memfd();
		iova_ranges();
		option_per_ctx();
		nest_parent_refused();
		pasid_attach_without_pasids();
		in_child("option-needs-sys-resource", needs_sys_resource);
		in_child("pin-with-cap-ipc-lock", pin_ipc_lock);
		in_child("pin-mode1", pin_mode1);
		in_child("pin-mode0", pin_mode0);
		in_child("pin-at-attach", pin_at_attach);
	}
	for (size_t c = 0; c < N_CHECKS; c++)
		if (!reported[c])
			report(false, checks[c], "not run: an earlier step failed");
	return n_failed ? 1 : 0;
}
