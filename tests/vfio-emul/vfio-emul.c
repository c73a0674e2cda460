/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An emulated /dev/vfio and /dev/iommu at the syscall boundary, preloaded (LD_PRELOAD) into the
 * real svmd by the vfio and iommufd integration suites: open/ioctl/close/dup on
 * $VFIO_EMUL_DEV/vfio/... and $VFIO_EMUL_DEV/iommu behave as the legacy VFIO uAPI and iommufd
 * with VFIO device cdevs do (iommufd-emul.c), and every call is logged with its exact argument
 * bytes for the tests to read.
 *
 * Environment:
 *   VFIO_EMUL_DEV=DIR        emulate DIR/vfio/vfio (containers), DIR/vfio/N (groups),
 *                            DIR/iommu and DIR/vfio/devices/vfioN (cdevs); the files must
 *                            exist; a group open, and a cdev bind, is exclusive across opens
 *                            and processes
 *   VFIO_EMUL_SYSFS=DIR      the fake sysfs: group members and their drivers (viability), each
 *                            cdev's device (BDF/vfio-dev/vfioN), its IOMMU and config space
 *   VFIO_EMUL_LOG=FILE       one line per call, appended
 *   VFIO_EMUL_SVM=1          VFIO_IOMMU_SVM_BIND/UNBIND served by the simulated kernel with the
 *                            devices of VFIO_EMUL_TOPOLOGY (sim topology file); else ENOTTY,
 *                            as on every real kernel
 *   VFIO_EMUL_API=N          what VFIO_GET_API_VERSION answers [0]
 *   VFIO_EMUL_EXTENSIONS=L   comma list of the IOMMU types VFIO_CHECK_EXTENSION accepts [1,3]
 *   VFIO_EMUL_FAIL=REQ:ERR[:N]  REQ (hex ioctl number) fails with errno ERR, every call or only
 *                            the Nth (comma list)
 *   VFIO_EMUL_OPEN_FAIL=PATH:ERR[:N]  the open of DIR/PATH ("iommu", "vfio/devices/vfio0")
 *                            fails with errno ERR, every time or only the Nth (comma list)
 *   VFIO_EMUL_SVM_ERRNO=ERR  every SVM bind/unbind naming a kind fails with errno ERR
 * and those of iommufd-emul.c (its header).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend-sim.h"
#include "cleanup.h"
#include "emul.h"
#include "seed-abi.h"
#include "sim-kernel.h"
#include "vfio-abi.h"

#define CONTAINERS_MAX 64

struct container {
	unsigned n_groups;
	unsigned group; /* the first group attached */
	unsigned long iommu;
};

struct emul_config emul;
struct efd emul_fds[FDS_MAX];
#define fds emul_fds

/* The legacy container's settings and state. */
static struct {
	const char *topology;
	bool svm;
	int api;
	unsigned extensions; /* bit n: IOMMU type n */
	int svm_errno;
	struct sim_kernel *kernel;
	unsigned n_containers, n_devices;
} legacy;

static struct container containers[CONTAINERS_MAX + 1];

static void copy_env(char *dst, size_t size, const char *name)
{
	const char *v = getenv(name);

	snprintf(dst, size, "%s", v ? v : "");
}

__attribute__((constructor)) static void emul_init(void)
{
	const char *v;

	copy_env(emul.dev, sizeof(emul.dev), "VFIO_EMUL_DEV");
	copy_env(emul.sysfs, sizeof(emul.sysfs), "VFIO_EMUL_SYSFS");
	copy_env(emul.log, sizeof(emul.log), "VFIO_EMUL_LOG");
	emul.on = emul.dev[0] != 0;
	legacy.topology = getenv("VFIO_EMUL_TOPOLOGY");
	legacy.svm = (v = getenv("VFIO_EMUL_SVM")) && strcmp(v, "1") == 0;
	legacy.api = (v = getenv("VFIO_EMUL_API")) ? atoi(v) : SVMD_VFIO_API_VERSION;
	legacy.extensions = 1u << SVMD_VFIO_TYPE1_IOMMU | 1u << SVMD_VFIO_TYPE1v2_IOMMU;
	if ((v = getenv("VFIO_EMUL_EXTENSIONS"))) {
		legacy.extensions = 0;
		for (const char *p = v; *p; p += strcspn(p, ","), p += *p == ',')
			legacy.extensions |= 1u << (atoi(p) & 31);
	}
	if ((v = getenv("VFIO_EMUL_FAIL")))
		for (const char *p = v; *p && emul.n_fail < FAILS_MAX;
		     p += strcspn(p, ","), p += *p == ',') {
			struct emul_fail f = {0};
			if (sscanf(p, "%lx:%d:%u", &f.request, &f.err, &f.nth) >= 2)
				emul.fail[emul.n_fail++] = f;
		}
	if ((v = getenv("VFIO_EMUL_OPEN_FAIL")))
		for (const char *p = v; *p && emul.n_fail < FAILS_MAX;
		     p += strcspn(p, ","), p += *p == ',') {
			struct emul_fail f = {0};
			if (sscanf(p, "%63[^:,]:%d:%u", f.path, &f.err, &f.nth) >= 2)
				emul.fail[emul.n_fail++] = f;
		}
	legacy.svm_errno = (v = getenv("VFIO_EMUL_SVM_ERRNO")) ? atoi(v) : 0;
	iommufd_emul_init();
}

int emul_injected(unsigned long request, const char *path)
{
	int r = 0;

	for (size_t i = 0; i < emul.n_fail; i++) {
		struct emul_fail *f = &emul.fail[i];
		if (path ? f->request || strcmp(f->path, path) != 0 : f->request != request)
			continue;
		f->seen++;
		if (!f->nth || f->seen == f->nth)
			r = -f->err;
	}
	return r;
}

void emul_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, fd;

	if (!emul.log[0])
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = (int)syscall(SYS_openat, AT_FDCWD, emul.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0644);
	if (fd < 0)
		return;
	if (syscall(SYS_write, fd, line, (size_t)n) < 0) {
		/* Nothing to do: the test will miss the line and say so. */
	}
	syscall(SYS_close, fd);
}

void emul_hex(char *out, size_t size, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t used = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && used + 3 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%02x", b[i]);
}

const char *emul_errname(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "E?";
}

static const char *flags_text(int flags, char *buf, size_t size)
{
	int acc = flags & O_ACCMODE, rest = flags & ~(O_ACCMODE | O_CLOEXEC);

	snprintf(buf, size, "%s%s",
		 acc == O_RDWR     ? "rw"
		 : acc == O_WRONLY ? "wo"
				   : "ro",
		 flags & O_CLOEXEC ? ",cloexec" : "");
	if (rest)
		snprintf(buf + strlen(buf), size - strlen(buf), ",0x%x", rest);
	return buf;
}

static const char *who(const struct efd *e, char *buf, size_t size)
{
	static const char *const names[] = {"?", "container", "group", "device", "iommufd", "cdev"};

	snprintf(buf, size, "%s%u", names[e->kind], e->id);
	return buf;
}

/* The entry of an emulated fd, or NULL (also when the fd was closed behind our back and its
 * number reused: the file must still be the one we opened). */
struct efd *emul_lookup(int fd)
{
	struct stat st;

	if (!emul.on || fd < 0 || fd >= FDS_MAX || fds[fd].kind == K_NONE)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_dev != fds[fd].dev || st.st_ino != fds[fd].ino) {
		fds[fd].kind = K_NONE;
		return NULL;
	}
	return &fds[fd];
}

void emul_track(int fd, enum kind kind, unsigned id)
{
	struct stat st;

	if (fd < 0 || fd >= FDS_MAX || fstat(fd, &st) < 0)
		return;
	fds[fd] = (struct efd){.kind = kind, .id = id, .dev = st.st_dev, .ino = st.st_ino};
}

/* "vfio/..." when path is under the emulated dev root, else NULL. */
static const char *emulated_path(const char *path)
{
	size_t n = strlen(emul.dev);

	if (!emul.on || !path || strncmp(path, emul.dev, n) != 0 || path[n] != '/')
		return NULL;
	path += n + 1;
	return strncmp(path, "vfio/", 5) == 0 || strcmp(path, "iommu") == 0 ? path : NULL;
}

/* The driver a device of the fake sysfs is bound to ("" for none). */
void emul_driver_of(const char *device, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", emul.sysfs, device);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	snprintf(buf, size, "%.200s", base ? base + 1 : target);
}

/* As the kernel decides it: every member bound to a vfio driver, a harmless one, or none. */
static bool group_viable(unsigned group)
{
	char path[PATH_MAX], driver[256];
	bool viable = true;
	DIR *d;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%u/devices", emul.sysfs, group);
	d = opendir(path);
	if (!d)
		return false;
	for (struct dirent *e; viable && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		emul_driver_of(e->d_name, driver, sizeof(driver));
		viable = !driver[0] || strstr(driver, "vfio") || strcmp(driver, "pci-stub") == 0 ||
			 strcmp(driver, "pcieport") == 0;
	}
	closedir(d);
	return viable;
}

static bool group_has_device(unsigned group, const char *name)
{
	char path[PATH_MAX], driver[256];
	struct stat st;

	if (strchr(name, '/'))
		return false;
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%u/devices/%s", emul.sysfs, group,
		 name);
	if (lstat(path, &st) < 0)
		return false;
	emul_driver_of(name, driver, sizeof(driver));
	return strstr(driver, "vfio") != NULL;
}

static int emul_open(int dirfd, const char *path, int flags, mode_t mode)
{
	const char *rel = emulated_path(path);
	char fl[64];
	int fd;

	int injected = rel ? emul_injected(0, rel) : 0;
	fd = injected ? -1 : (int)syscall(SYS_openat, dirfd, path, flags, mode);
	if (!rel)
		return fd;
	flags_text(flags, fl, sizeof(fl));
	if (fd < 0) {
		int e = injected ? -injected : errno;
		emul_log("open %s %s -> %s", rel, fl, emul_errname(e));
		errno = e;
		return -1;
	}
	if (strcmp(rel, "iommu") == 0 || strncmp(rel, "vfio/devices/", 13) == 0)
		return iommufd_emul_open(fd, rel, fl);
	if (strcmp(rel, "vfio/vfio") == 0) {
		if (legacy.n_containers >= CONTAINERS_MAX) {
			syscall(SYS_close, fd);
			errno = EMFILE;
			return -1;
		}
		unsigned id = ++legacy.n_containers;
		containers[id] = (struct container){0};
		emul_track(fd, K_CONTAINER, id);
		emul_log("open %s %s -> container%u", rel, fl, id);
		return fd;
	}
	char *end;
	unsigned long group = strtoul(rel + 5, &end, 10);
	if (end == rel + 5 || *end) {
		emul_log("open %s %s -> plain file", rel, fl);
		return fd;
	}
	/* The kernel lets one process at a time hold a group. */
	if (syscall(SYS_flock, fd, LOCK_EX | LOCK_NB) < 0) {
		syscall(SYS_close, fd);
		emul_log("open %s %s -> EBUSY", rel, fl);
		errno = EBUSY;
		return -1;
	}
	emul_track(fd, K_GROUP, (unsigned)group);
	emul_log("open %s %s -> group%lu", rel, fl, group);
	return fd;
}

static int open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	return emul_open(AT_FDCWD, path, flags, (mode_t)mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	return emul_open(AT_FDCWD, path, flags, (mode_t)mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	return emul_open(dirfd, path, flags, (mode_t)mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode(flags, ap);
	va_end(ap);
	return emul_open(dirfd, path, flags, (mode_t)mode);
}

/* What _FORTIFY_SOURCE builds call when the flags are not a compile-time constant. */
EXPORT int __open_2(const char *path, int flags);
EXPORT int __open_2(const char *path, int flags)
{
	return emul_open(AT_FDCWD, path, flags, 0);
}

EXPORT int __open64_2(const char *path, int flags);
EXPORT int __open64_2(const char *path, int flags)
{
	return emul_open(AT_FDCWD, path, flags, 0);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags);
EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return emul_open(dirfd, path, flags, 0);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags);
EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return emul_open(dirfd, path, flags, 0);
}

static void group_detach(struct efd *g)
{
	struct container *c;

	if (!g->container)
		return;
	c = &containers[g->container];
	if (--c->n_groups == 0) {
		/* The last group out takes the IOMMU model with it, as in the kernel. */
		c->iommu = 0;
		c->group = 0;
	}
	g->container = 0;
}

EXPORT int close(int fd)
{
	struct efd *e = emul_lookup(fd);
	char name[32];

	if (e && (e->kind == K_IOMMUFD || e->kind == K_CDEV))
		return iommufd_emul_close(fd, e);
	if (e) {
		emul_log("close %s", who(e, name, sizeof(name)));
		if (e->kind == K_GROUP)
			group_detach(e);
		e->kind = K_NONE;
	}
	return (int)syscall(SYS_close, fd);
}

/* Duplicates of iommufd and cdev fds are the same file: tracked, sharing its state. */
static int dup_done(int oldfd, int newfd)
{
	if (newfd >= 0 && newfd != oldfd) {
		struct efd *gone = emul_lookup(newfd);
		if (gone)
			gone->kind = K_NONE; /* dup2/dup3 closed it */
		iommufd_emul_dup(oldfd, newfd);
	}
	return newfd;
}

EXPORT int dup(int fd)
{
	return dup_done(fd, (int)syscall(SYS_dup, fd));
}

EXPORT int dup2(int fd, int fd2)
{
	return dup_done(fd, (int)syscall(SYS_dup2, fd, fd2));
}

EXPORT int dup3(int fd, int fd2, int flags)
{
	return dup_done(fd, (int)syscall(SYS_dup3, fd, fd2, flags));
}

static int emul_fcntl(int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);
	int r = (int)syscall(SYS_fcntl, fd, cmd, arg);

	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? dup_done(fd, r) : r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int r = emul_fcntl(fd, cmd, ap);
	va_end(ap);
	return r;
}

EXPORT int fcntl64(int fd, int cmd, ...);
EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int r = emul_fcntl(fd, cmd, ap);
	va_end(ap);
	return r;
}

static struct sim_kernel *kernel(void)
{
	char err[256], *text = NULL;
	struct device *devs = NULL;
	size_t len = 0;
	FILE *f;
	int n;

	if (legacy.kernel || !legacy.topology)
		return legacy.kernel;
	f = fopen(legacy.topology, "re");
	if (!f)
		return NULL;
	text = calloc(1, 65536);
	if (text)
		len = fread(text, 1, 65535, f);
	fclose(f);
	if (!text)
		return NULL;
	text[len] = 0;
	n = sim_topology_parse(text, &devs, err, sizeof(err));
	free(text);
	if (n < 0) {
		emul_log("emul: topology %s: %s", legacy.topology, err);
		return NULL;
	}
	legacy.kernel = sim_kernel_new(devs, (size_t)n);
	free(devs);
	return legacy.kernel;
}

static int svm_ioctl(struct efd *e, unsigned long req, void *arg, char *details, size_t size)
{
	struct container *c = &containers[e->id];
	struct seed_arg a;
	char in[2 * sizeof(a) + 1], out[2 * sizeof(a) + 1], why[256] = "";
	size_t n;
	int r;

	/* The kernel reads the header, then argsz bytes; svmd's buffer is a struct seed_arg. */
	memcpy(&a.hdr, arg, sizeof(a.hdr));
	n = a.hdr.argsz < sizeof(a.hdr) ? sizeof(a.hdr) : a.hdr.argsz;
	if (n > sizeof(a))
		n = sizeof(a);
	memset(&a, 0, sizeof(a));
	memcpy(&a, arg, n);
	emul_hex(in, sizeof(in), &a, n);
	if (!c->iommu)
		r = -EINVAL; /* a container without an IOMMU model takes no IOMMU ioctl */
	else if (!legacy.svm)
		r = -ENOTTY;
	else if (legacy.svm_errno && a.hdr.flags)
		r = -legacy.svm_errno;
	else if (!kernel())
		r = -EIO;
	else
		r = sim_kernel_ioctl(legacy.kernel, c->group, req, &a, sizeof(a), why, sizeof(why));
	if (r == 0) {
		memcpy(arg, &a, n);
		emul_hex(out, sizeof(out), &a, n);
		snprintf(details, size, " in=%s out=%s", in, out);
	} else {
		snprintf(details, size, " in=%s%s%s", in, why[0] ? " why=" : "", why);
	}
	return r;
}

static int container_ioctl(struct efd *e, unsigned long req, void *arg, char *details, size_t size)
{
	struct container *c = &containers[e->id];
	unsigned long v = (unsigned long)arg;

	switch (req) {
	case SVMD_VFIO_GET_API_VERSION:
		return legacy.api;
	case SVMD_VFIO_CHECK_EXTENSION:
		snprintf(details, size, " arg=%lu", v);
		return v < 32 && (legacy.extensions >> v & 1);
	case SVMD_VFIO_SET_IOMMU:
		snprintf(details, size, " arg=%lu", v);
		if (!c->n_groups || c->iommu)
			return -EINVAL;
		if ((v != SVMD_VFIO_TYPE1_IOMMU && v != SVMD_VFIO_TYPE1v2_IOMMU) ||
		    !(legacy.extensions >> v & 1))
			return -EINVAL;
		c->iommu = v;
		return 0;
	case SEED_VFIO_IOMMU_SVM_BIND:
	case SEED_VFIO_IOMMU_SVM_UNBIND:
		return svm_ioctl(e, req, arg, details, size);
	default:
		return -ENOTTY;
	}
}

static int group_ioctl(struct efd *e, unsigned long req, void *arg, char *details, size_t size)
{
	char in[64], out[64], name[32];

	switch (req) {
	case SVMD_VFIO_GROUP_GET_STATUS: {
		struct svmd_vfio_group_status st;
		memcpy(&st, arg, sizeof(st));
		emul_hex(in, sizeof(in), &st, sizeof(st));
		if (st.argsz < sizeof(st)) {
			snprintf(details, size, " in=%s", in);
			return -EINVAL;
		}
		st.flags = (group_viable(e->id) ? SVMD_VFIO_GROUP_FLAGS_VIABLE : 0) |
			   (e->container ? SVMD_VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
		memcpy(arg, &st, sizeof(st));
		emul_hex(out, sizeof(out), &st, sizeof(st));
		snprintf(details, size, " in=%s out=%s", in, out);
		return 0;
	}
	case SVMD_VFIO_GROUP_SET_CONTAINER: {
		int cfd;
		memcpy(&cfd, arg, sizeof(cfd));
		struct efd *c = emul_lookup(cfd);
		if (!c || c->kind != K_CONTAINER) {
			snprintf(details, size, " arg=fd%d", cfd);
			return cfd < 0 ? -EBADF : -EINVAL;
		}
		snprintf(details, size, " arg=%s", who(c, name, sizeof(name)));
		if (e->container)
			return -EINVAL;
		if (!group_viable(e->id))
			return -EPERM;
		e->container = c->id;
		if (containers[c->id].n_groups++ == 0)
			containers[c->id].group = e->id;
		return 0;
	}
	case SVMD_VFIO_GROUP_UNSET_CONTAINER:
		if (!e->container)
			return -EINVAL;
		group_detach(e);
		return 0;
	case SVMD_VFIO_GROUP_GET_DEVICE_FD: {
		char dev[64], memname[96];
		snprintf(dev, sizeof(dev), "%.*s", (int)strnlen(arg, sizeof(dev) - 1),
			 (const char *)arg);
		snprintf(details, size, " arg=\"%s\"", dev);
		if (!e->container || !containers[e->container].iommu)
			return -EINVAL;
		if (!group_has_device(e->id, dev))
			return -ENODEV;
		snprintf(memname, sizeof(memname), "vfio-emul-device:%s", dev);
		int fd = memfd_create(memname, MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		emul_track(fd, K_DEVICE, ++legacy.n_devices);
		return fd;
	}
	default:
		return -ENOTTY;
	}
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	char details[512] = "", name[32], res[32];
	struct efd *e;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	e = emul_lookup(fd);
	if (!e)
		return (int)syscall(SYS_ioctl, fd, req, arg);

	who(e, name, sizeof(name));
	if (e->kind == K_CONTAINER)
		r = container_ioctl(e, req, arg, details, sizeof(details));
	else if (e->kind == K_GROUP)
		r = group_ioctl(e, req, arg, details, sizeof(details));
	else if (e->kind == K_IOMMUFD || e->kind == K_CDEV)
		/* Injected failures happen there, before the emulated kernel acts. */
		return iommufd_emul_ioctl(fd, e, req, arg, details, sizeof(details));
	else
		r = -ENOTTY;
	int injected = emul_injected(req, NULL);
	if (injected) {
		if (r >= 0 && req == SVMD_VFIO_GROUP_GET_DEVICE_FD)
			close(r);
		r = injected;
	}

	if (r < 0)
		snprintf(res, sizeof(res), "%s", emul_errname(-r));
	else if (req == SVMD_VFIO_GROUP_GET_DEVICE_FD)
		who(&fds[r], res, sizeof(res));
	else
		snprintf(res, sizeof(res), "%d", r);
	emul_log("ioctl %s 0x%lx%s -> %s", name, req, details, res);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}
