/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An emulated /dev/vfio at the syscall boundary, preloaded (LD_PRELOAD) into the real svmd by
 * the vfio integration suite: open/ioctl/close on $VFIO_EMUL_DEV/vfio/... behave as the legacy
 * VFIO uAPI does, and every call is logged with its exact argument bytes for the tests to read.
 *
 * Environment:
 *   VFIO_EMUL_DEV=DIR        emulate DIR/vfio/vfio (containers) and DIR/vfio/N (groups); the
 *                            files must exist; a group open is exclusive across processes
 *   VFIO_EMUL_SYSFS=DIR      the fake sysfs: group members and their drivers (viability)
 *   VFIO_EMUL_LOG=FILE       one line per call, appended
 *   VFIO_EMUL_SVM=1          VFIO_IOMMU_SVM_BIND/UNBIND served by the simulated kernel with the
 *                            devices of VFIO_EMUL_TOPOLOGY (sim topology file); else ENOTTY,
 *                            as on every real kernel
 *   VFIO_EMUL_API=N          what VFIO_GET_API_VERSION answers [0]
 *   VFIO_EMUL_EXTENSIONS=L   comma list of the IOMMU types VFIO_CHECK_EXTENSION accepts [1,3]
 *   VFIO_EMUL_FAIL=REQ:ERR   REQ (hex ioctl number) fails with errno ERR (comma list)
 *   VFIO_EMUL_SVM_ERRNO=ERR  every SVM bind/unbind naming a kind fails with errno ERR
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
#include "seed-abi.h"
#include "sim-kernel.h"
#include "vfio-abi.h"

#define EXPORT __attribute__((visibility("default")))

#define FDS_MAX        4096
#define CONTAINERS_MAX 64
#define FAILS_MAX      8

enum kind { K_NONE, K_CONTAINER, K_GROUP, K_DEVICE };

struct efd {
	enum kind kind;
	unsigned id;        /* container number, group number, device number */
	unsigned container; /* groups: the container they are attached to, 0 for none */
	dev_t dev;
	ino_t ino;
};

struct container {
	unsigned n_groups;
	unsigned group; /* the first group attached */
	unsigned long iommu;
};

static struct {
	bool on;
	char dev[512];
	char sysfs[512];
	char log[512];
	const char *topology;
	bool svm;
	int api;
	unsigned extensions; /* bit n: IOMMU type n */
	struct {
		unsigned long request;
		int err;
	} fail[FAILS_MAX];
	size_t n_fail;
	int svm_errno;
	struct sim_kernel *kernel;
	unsigned n_containers, n_devices;
} emul;

static struct efd fds[FDS_MAX];
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
	emul.topology = getenv("VFIO_EMUL_TOPOLOGY");
	emul.svm = (v = getenv("VFIO_EMUL_SVM")) && strcmp(v, "1") == 0;
	emul.api = (v = getenv("VFIO_EMUL_API")) ? atoi(v) : SVMD_VFIO_API_VERSION;
	emul.extensions = 1u << SVMD_VFIO_TYPE1_IOMMU | 1u << SVMD_VFIO_TYPE1v2_IOMMU;
	if ((v = getenv("VFIO_EMUL_EXTENSIONS"))) {
		emul.extensions = 0;
		for (const char *p = v; *p; p += strcspn(p, ","), p += *p == ',')
			emul.extensions |= 1u << (atoi(p) & 31);
	}
	if ((v = getenv("VFIO_EMUL_FAIL")))
		for (const char *p = v; *p && emul.n_fail < FAILS_MAX;
		     p += strcspn(p, ","), p += *p == ',') {
			unsigned long req;
			int err;
			if (sscanf(p, "%lx:%d", &req, &err) == 2)
				emul.fail[emul.n_fail++] = (typeof(emul.fail[0])){req, err};
		}
	emul.svm_errno = (v = getenv("VFIO_EMUL_SVM_ERRNO")) ? atoi(v) : 0;
}

static _printf_(1, 2) void emul_log(const char *fmt, ...)
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

static void hex(char *out, size_t size, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t used = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && used + 3 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%02x", b[i]);
}

static const char *errname(int e)
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
	static const char *const names[] = {"?", "container", "group", "device"};

	snprintf(buf, size, "%s%u", names[e->kind], e->id);
	return buf;
}

/* The entry of an emulated fd, or NULL (also when the fd was closed behind our back and its
 * number reused: the file must still be the one we opened). */
static struct efd *lookup(int fd)
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

static void track(int fd, enum kind kind, unsigned id)
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
	return strncmp(path + n + 1, "vfio/", 5) == 0 ? path + n + 1 : NULL;
}

/* The driver a device of the fake sysfs is bound to ("" for none). */
static void driver_of(const char *device, char *buf, size_t size)
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
		driver_of(e->d_name, driver, sizeof(driver));
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
	driver_of(name, driver, sizeof(driver));
	return strstr(driver, "vfio") != NULL;
}

static int emul_open(int dirfd, const char *path, int flags, mode_t mode)
{
	const char *rel = emulated_path(path);
	char fl[64];
	int fd;

	fd = (int)syscall(SYS_openat, dirfd, path, flags, mode);
	if (!rel)
		return fd;
	flags_text(flags, fl, sizeof(fl));
	if (fd < 0) {
		int e = errno;
		emul_log("open %s %s -> %s", rel, fl, errname(e));
		errno = e;
		return -1;
	}
	if (strcmp(rel, "vfio/vfio") == 0) {
		if (emul.n_containers >= CONTAINERS_MAX) {
			syscall(SYS_close, fd);
			errno = EMFILE;
			return -1;
		}
		unsigned id = ++emul.n_containers;
		containers[id] = (struct container){0};
		track(fd, K_CONTAINER, id);
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
	track(fd, K_GROUP, (unsigned)group);
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
	struct efd *e = lookup(fd);
	char name[32];

	if (e) {
		emul_log("close %s", who(e, name, sizeof(name)));
		if (e->kind == K_GROUP)
			group_detach(e);
		e->kind = K_NONE;
	}
	return (int)syscall(SYS_close, fd);
}

static struct sim_kernel *kernel(void)
{
	char err[256], *text = NULL;
	struct device *devs = NULL;
	size_t len = 0;
	FILE *f;
	int n;

	if (emul.kernel || !emul.topology)
		return emul.kernel;
	f = fopen(emul.topology, "re");
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
		emul_log("emul: topology %s: %s", emul.topology, err);
		return NULL;
	}
	emul.kernel = sim_kernel_new(devs, (size_t)n);
	free(devs);
	return emul.kernel;
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
	hex(in, sizeof(in), &a, n);
	if (!c->iommu)
		r = -EINVAL; /* a container without an IOMMU model takes no IOMMU ioctl */
	else if (!emul.svm)
		r = -ENOTTY;
	else if (emul.svm_errno && a.hdr.flags)
		r = -emul.svm_errno;
	else if (!kernel())
		r = -EIO;
	else
		r = sim_kernel_ioctl(emul.kernel, c->group, req, &a, sizeof(a), why, sizeof(why));
	if (r == 0) {
		memcpy(arg, &a, n);
		hex(out, sizeof(out), &a, n);
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
		return emul.api;
	case SVMD_VFIO_CHECK_EXTENSION:
		snprintf(details, size, " arg=%lu", v);
		return v < 32 && (emul.extensions >> v & 1);
	case SVMD_VFIO_SET_IOMMU:
		snprintf(details, size, " arg=%lu", v);
		if (!c->n_groups || c->iommu)
			return -EINVAL;
		if ((v != SVMD_VFIO_TYPE1_IOMMU && v != SVMD_VFIO_TYPE1v2_IOMMU) ||
		    !(emul.extensions >> v & 1))
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
		hex(in, sizeof(in), &st, sizeof(st));
		if (st.argsz < sizeof(st)) {
			snprintf(details, size, " in=%s", in);
			return -EINVAL;
		}
		st.flags = (group_viable(e->id) ? SVMD_VFIO_GROUP_FLAGS_VIABLE : 0) |
			   (e->container ? SVMD_VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
		memcpy(arg, &st, sizeof(st));
		hex(out, sizeof(out), &st, sizeof(st));
		snprintf(details, size, " in=%s out=%s", in, out);
		return 0;
	}
	case SVMD_VFIO_GROUP_SET_CONTAINER: {
		int cfd;
		memcpy(&cfd, arg, sizeof(cfd));
		struct efd *c = lookup(cfd);
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
		track(fd, K_DEVICE, ++emul.n_devices);
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
	e = lookup(fd);
	if (!e)
		return (int)syscall(SYS_ioctl, fd, req, arg);

	who(e, name, sizeof(name));
	if (e->kind == K_CONTAINER)
		r = container_ioctl(e, req, arg, details, sizeof(details));
	else if (e->kind == K_GROUP)
		r = group_ioctl(e, req, arg, details, sizeof(details));
	else
		r = -ENOTTY;
	for (size_t i = 0; i < emul.n_fail; i++)
		if (emul.fail[i].request == req) {
			if (r >= 0 && req == SVMD_VFIO_GROUP_GET_DEVICE_FD)
				close(r);
			r = -emul.fail[i].err;
		}

	if (r < 0)
		snprintf(res, sizeof(res), "%s", errname(-r));
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
