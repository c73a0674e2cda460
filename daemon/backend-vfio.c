/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VFIO backend: the real kernel. For each configured device it finds the IOMMU group in
 * sysfs, attaches the group to a container of its own (Type1v2) and keeps both fds; the seed
 * VFIO_IOMMU_SVM_BIND/UNBIND go to that container. The only file of svmd that calls ioctl(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "backend-vfio.h"
#include "pci-sysfs.h"
#include "seed-abi.h"
#include "cleanup.h"
#include "util.h"
#include "vfio-abi.h"

#define VFIO_DEVICES_MAX 256u

/* One IOMMU group svmd owns: its group fd, attached to a container of its own. */
struct vfio_group {
	uint32_t id;
	int container_fd;
	int group_fd;
	uint32_t n_dma; /* devices in the group that do DMA (every member but PCI bridges) */
};

struct vfio_backend {
	struct backend base;
	struct vfio_group *groups;
	size_t n_groups;
	size_t *device_group; /* by device index: its entry in groups */
	char svm_why[192];    /* what base.svm_unsupported points to */
};

/* Fills d from sysfs: group, PCI ids, PASID width, IOMMU model, kinds. */
static int describe_device(const char *sysfs, const char *name, struct device *d, char *err,
			   size_t errlen)
{
	char devdir[4096], path[4096];
	int r = pci_describe(sysfs, name, d, err, errlen);

	if (r < 0)
		return r;
	path_fmt(devdir, sizeof(devdir), "%s/bus/pci/devices/%s", sysfs, name);
	path_fmt(path, sizeof(path), "%s/config", devdir);
	r = pci_pasid_bits(path, &d->pasid_bits);
	if (r < 0)
		return fail(err, errlen, r, "cannot read %s: %s", path, strerror(-r));
	d->model = pci_iommu_model(devdir);

	/* What the hardware could bind; whether the kernel can is the probe's business. */
	d->kinds = SVMD_KIND_BIT(SVMD_KIND_DEVICE);
	if (d->pasid_bits) {
		d->kinds |= SVMD_KIND_BIT(SVMD_KIND_TASK);
		if (d->model == SVMD_MODEL_VTD)
			d->kinds |= SVMD_KIND_BIT(SVMD_KIND_PGTABLE);
		if (d->model != SVMD_MODEL_NONE)
			d->kinds |= SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE);
	}
	d->unsupported[SVMD_KIND_MAP] =
		"the legacy VFIO container is svmd's own and maps no client memory; svmd maps "
		"client memory on the iommufd backend (Linux with CONFIG_IOMMUFD and "
		"CONFIG_VFIO_DEVICE_CDEV)";
	d->unsupported[SVMD_KIND_TASK] = d->unsupported[SVMD_KIND_PGTABLE] =
		d->unsupported[SVMD_KIND_PASID_TABLE] =
			d->pasid_bits ? NULL : "the device has no PASID capability";
	return 0;
}

static int noiommu_refusal(uint32_t g, const char *dev, char *err, size_t errlen)
{
	return fail(err, errlen, -EPERM,
		    "IOMMU group %u (%s) is a no-IOMMU group (vfio enable_unsafe_noiommu_mode): it "
		    "isolates nothing and svmd refuses it; enable the IOMMU (e.g. intel_iommu=on) "
		    "instead",
		    g, dev);
}

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

/* A container of g's own: /dev/vfio/vfio, the API version svmd speaks, and Type1v2. */
static int container_open(struct vfio_group *g, const char *devroot, char *err, size_t errlen)
{
	char path[4096];
	int r;

	if (path_fmt(path, sizeof(path), "%s/vfio/vfio", devroot) < 0)
		return fail(err, errlen, -ENAMETOOLONG, "dev root too long");
	g->container_fd = open(path, O_RDWR | O_CLOEXEC);
	if (g->container_fd < 0) {
		r = -errno;
		return fail(err, errlen, r, "cannot open %s: %s%s", path, strerror(-r),
			    r == -ENOENT ? " (is the vfio module loaded?)" : "");
	}
	r = xioctl(g->container_fd, SVMD_VFIO_GET_API_VERSION, NULL);
	if (r < 0)
		return fail(err, errlen, r, "VFIO_GET_API_VERSION: %s", strerror(-r));
	if (r != SVMD_VFIO_API_VERSION)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "the kernel speaks VFIO API version %d; svmd speaks version %d", r,
			    SVMD_VFIO_API_VERSION);
	r = xioctl(g->container_fd, SVMD_VFIO_CHECK_EXTENSION,
		   (void *)(unsigned long)SVMD_VFIO_TYPE1v2_IOMMU);
	if (r <= 0)
		return fail(
			err, errlen, r < 0 ? r : -EOPNOTSUPP,
			"this kernel's VFIO has no Type1v2 IOMMU (is vfio_iommu_type1 loaded?)%s%s",
			r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
	return 0;
}

/* The group's node, opened exclusively: refused, with what to do, when another process holds
 * it, when vfio-pci does not drive it, or when it is a no-IOMMU group. */
static int group_node_open(struct vfio_group *g, const char *devroot, const char *dev, char *err,
			   size_t errlen)
{
	char path[4096], alt[4096];
	int r;

	if (path_fmt(path, sizeof(path), "%s/vfio/%u", devroot, g->id) < 0)
		return fail(err, errlen, -ENAMETOOLONG, "dev root too long");
	g->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (g->group_fd >= 0)
		return 0;
	r = -errno;
	if (r == -EBUSY)
		return fail(err, errlen, r,
			    "IOMMU group %u (%s) is in use by another process (another svmd?)",
			    g->id, dev);
	if (r != -ENOENT)
		return fail(err, errlen, r, "cannot open %s: %s%s", path, strerror(-r),
			    node_access_hint(r));
	if (path_fmt(alt, sizeof(alt), "%s/vfio/noiommu-%u", devroot, g->id) == 0 &&
	    access(alt, F_OK) == 0)
		return noiommu_refusal(g->id, dev, err, errlen);
	return fail(err, errlen, r, "no %s: bind %s to vfio-pci (is the vfio-pci module loaded?)",
		    path, dev);
}

/* The group must be viable (every member bound to vfio-pci or no driver) and in no container. */
static int group_viable(const struct vfio_group *g, const char *sysfs, char *err, size_t errlen)
{
	struct svmd_vfio_group_status status = {.argsz = sizeof(status)};
	char others[1024];
	uint32_t n_dma;
	int r;

	r = xioctl(g->group_fd, SVMD_VFIO_GROUP_GET_STATUS, &status);
	if (r < 0)
		return fail(err, errlen, r, "VFIO_GROUP_GET_STATUS on group %u: %s", g->id,
			    strerror(-r));
	if (status.flags & SVMD_VFIO_GROUP_FLAGS_VIABLE)
		return status.flags & SVMD_VFIO_GROUP_FLAGS_CONTAINER_SET
			       ? fail(err, errlen, -EBUSY,
				      "IOMMU group %u is already in a container", g->id)
			       : 0;
	if (pci_group_members(sysfs, g->id, &n_dma, others, sizeof(others)) == 0 && others[0])
		return fail(
			err, errlen, -EBUSY,
			"IOMMU group %u is not viable: bind %s to vfio-pci too (every device of a "
			"group must be bound to vfio-pci or to no driver)",
			g->id, others);
	return fail(err, errlen, -EBUSY,
		    "IOMMU group %u is not viable: bind every device in %s/kernel/iommu_groups/%u/"
		    "devices to vfio-pci or to no driver",
		    g->id, sysfs, g->id);
}

/*
 * Takes ownership of group g, whose first managed device is dev: a container of its own
 * (API version, Type1v2), the group (exclusive open, viable), attached, Type1v2 set.
 */
static int group_open(struct vfio_group *g, const char *sysfs, const char *devroot, const char *dev,
		      char *err, size_t errlen)
{
	int r;

	if (pci_group_is_noiommu(sysfs, g->id))
		return noiommu_refusal(g->id, dev, err, errlen);
	r = container_open(g, devroot, err, errlen);
	if (r == 0)
		r = group_node_open(g, devroot, dev, err, errlen);
	if (r == 0)
		r = group_viable(g, sysfs, err, errlen);
	if (r < 0)
		return r;
	r = xioctl(g->group_fd, SVMD_VFIO_GROUP_SET_CONTAINER, &g->container_fd);
	if (r < 0)
		return fail(err, errlen, r, "VFIO_GROUP_SET_CONTAINER on group %u: %s", g->id,
			    strerror(-r));
	r = xioctl(g->container_fd, SVMD_VFIO_SET_IOMMU,
		   (void *)(unsigned long)SVMD_VFIO_TYPE1v2_IOMMU);
	if (r < 0)
		return fail(err, errlen, r, "VFIO_SET_IOMMU(Type1v2) for group %u: %s", g->id,
			    strerror(-r));
	return 0;
}

/*
 * Whether the kernel implements the seed ioctl, asked once on a set-up container with an
 * argument that binds nothing (a header with no kind): a kernel that has it refuses that with
 * EINVAL; one that does not answers ENOTTY. Fills v->svm_why when binds cannot work.
 */
static void probe_svm(struct vfio_backend *v)
{
	struct seed_arg probe;
	struct utsname u;
	int r;

	memset(&probe, 0, sizeof(probe));
	probe.hdr.argsz = sizeof(struct seed_svm);
	r = xioctl(v->groups[0].container_fd, SEED_VFIO_IOMMU_SVM_BIND, &probe);
	if (r == -EINVAL)
		return;
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	if (r == -ENOTTY)
		snprintf(v->svm_why, sizeof(v->svm_why),
			 "this kernel (%s) lacks VFIO_IOMMU_SVM_BIND", u.release);
	else
		snprintf(v->svm_why, sizeof(v->svm_why),
			 "this kernel (%s) answered the VFIO_IOMMU_SVM_BIND probe with %s, not "
			 "EINVAL: svmd does not bind on it",
			 u.release, r < 0 ? errno_name(-r) : "success");
	v->base.svm_unsupported = v->svm_why;
	/* That is the reason for every device: what a device lacks besides matters no more. */
	for (size_t i = 0; i < v->base.n_devices; i++)
		v->base.devices[i].unsupported[SVMD_KIND_TASK] =
			v->base.devices[i].unsupported[SVMD_KIND_PGTABLE] =
				v->base.devices[i].unsupported[SVMD_KIND_PASID_TABLE] = NULL;
}

/*
 * What a kernel's errno means to clients, as the simulated kernel says it (sim-kernel.h):
 * EINVAL bad argument or state, EBUSY in use (EEXIST: bound already), EOPNOTSUPP the device
 * or kernel cannot (ENODEV, ENOTTY from the IOMMU layer), ENOSPC out of PASIDs, ESRCH no such
 * process, EPERM not allowed to bind it. Anything else is an I/O error with the errno named.
 */
static int map_errno(int e)
{
	switch (e) {
	case EINVAL:
	case E2BIG:
	case EFAULT:
	case ERANGE:
		return -EINVAL;
	case EBUSY:
	case EEXIST:
		return -EBUSY;
	case EOPNOTSUPP:
	case ENODEV:
	case ENOTTY:
	case ENOSYS:
		return -EOPNOTSUPP;
	case ENOSPC:
		return -ENOSPC;
	case ESRCH:
		return -ESRCH;
	case EPERM:
	case EACCES:
		return -EPERM;
	case ENOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int vfio_check(struct backend *b, const struct device *dev, const struct bind_args *a,
		      char *why, size_t whylen)
{
	if (b->svm_unsupported)
		return fail(why, whylen, -EOPNOTSUPP, "%s", b->svm_unsupported);
	if (a->kind == SVMD_KIND_PGTABLE && (a->pgtable.flags & SVMD_PGTABLE_FAULTS))
		return fail(why, whylen, -EOPNOTSUPP,
			    "the vfio backend has no fault queue: page-request queues "
			    "(SVMD_PGTABLE_FAULTS) are mainline's iommufd backend only");
	return seed_check_bind(a, dev, why, whylen);
}

/* Issues the seed ioctl `request` for a on the container of dev's group. */
static int svm_ioctl(struct vfio_backend *v, const struct device *dev, unsigned long request,
		     struct seed_arg *arg, char *why, size_t whylen)
{
	const struct vfio_group *g = &v->groups[v->device_group[dev->index]];
	const char *name = request == SEED_VFIO_IOMMU_SVM_BIND ? "VFIO_IOMMU_SVM_BIND"
							       : "VFIO_IOMMU_SVM_UNBIND";
	int r;

	if (v->base.svm_unsupported)
		return fail(why, whylen, -EOPNOTSUPP, "%s", v->base.svm_unsupported);
	if (g->n_dma > 1)
		/* A bind on the container would reach every device of the group. */
		return fail(why, whylen, -EINVAL,
			    "IOMMU group %u has %u devices; SVM binds need a group of one", g->id,
			    g->n_dma);
	r = xioctl(g->container_fd, request, arg);
	if (r >= 0)
		return 0;
	return fail(why, whylen, map_errno(-r), "%s on IOMMU group %u (%s): %s (%s)", name, g->id,
		    dev->name, strerror(-r), errno_name(-r));
}

static int vfio_bind(struct backend *b, const struct device *dev, struct bind_args *a, char *why,
		     size_t whylen)
{
	struct seed_arg arg;
	int r;

	seed_encode(&arg, a);
	r = svm_ioctl((struct vfio_backend *)b, dev, SEED_VFIO_IOMMU_SVM_BIND, &arg, why, whylen);
	if (r == 0 && a->kind == SVMD_KIND_TASK) {
		/* The kernel writes back the PASID it bound. */
		struct seed_svm_task t;
		memcpy(&t, seed_payload(&arg), sizeof(t));
		a->pasid = t.pasid;
	}
	return r;
}

static int vfio_unbind(struct backend *b, const struct device *dev, const struct bind_args *a,
		       char *why, size_t whylen)
{
	struct seed_arg arg;

	seed_encode(&arg, a);
	return svm_ioctl((struct vfio_backend *)b, dev, SEED_VFIO_IOMMU_SVM_UNBIND, &arg, why,
			 whylen);
}

/* A new device fd per call, straight from the kernel (which opens it O_CLOEXEC); svmd keeps
 * none, so a client's fd is the only one and nothing needs closing when its record ends. */
static int vfio_open_device(struct backend *b, struct backend_space *s, const struct device *dev,
			    int *ret_fd, char *why, size_t whylen)
{
	(void)s; /* no spaces: the fd reaches what the device's container maps */
	struct vfio_backend *v = (struct vfio_backend *)b;
	const struct vfio_group *g = &v->groups[v->device_group[dev->index]];
	int fd = xioctl(g->group_fd, SVMD_VFIO_GROUP_GET_DEVICE_FD, (void *)dev->name);

	if (fd < 0)
		return fail(why, whylen, fd, "VFIO_GROUP_GET_DEVICE_FD for %s: %s", dev->name,
			    strerror(-fd));
	*ret_fd = fd;
	return 0;
}

/* What the serving loop issues: the seed binds and unbinds, and device fds for open-device.
 * Everything else (API version, extensions, group status and container set-up, the probe)
 * happens at start-up, before the sandbox. */
static const unsigned long serving_ioctls[] = {
	SEED_VFIO_IOMMU_SVM_BIND,
	SEED_VFIO_IOMMU_SVM_UNBIND,
	SVMD_VFIO_GROUP_GET_DEVICE_FD,
};

static void vfio_free(struct backend *b)
{
	struct vfio_backend *v = (struct vfio_backend *)b;

	/* Closing the group fd detaches it from its container; then the container goes. */
	for (size_t i = 0; i < v->n_groups; i++) {
		safe_close(v->groups[i].group_fd);
		safe_close(v->groups[i].container_fd);
	}
	free(v->groups);
	free(v->device_group);
	free(v->base.devices);
	free(v);
}

static const struct backend_ops vfio_ops = {
	.name = "vfio",
	.check = vfio_check,
	.bind = vfio_bind,
	.unbind = vfio_unbind,
	.open_device = vfio_open_device,
	.free = vfio_free,
};

int backend_vfio_new(const struct backend_config *cfg, struct backend **ret, char *err,
		     size_t errlen)
{
	const char *sysfs = cfg->sysfs_root ? cfg->sysfs_root : "/sys";
	const char *devroot = cfg->dev_root ? cfg->dev_root : "/dev";
	struct vfio_backend *v;
	size_t n = cfg->n_devices;
	int r = 0;

	if (n == 0)
		return fail(err, errlen, -EINVAL,
			    "no devices to manage: name them with --device=BDF");
	if (n > VFIO_DEVICES_MAX)
		return fail(err, errlen, -E2BIG, "at most %u devices", VFIO_DEVICES_MAX);
	v = calloc(1, sizeof(*v));
	if (!v)
		return fail(err, errlen, -ENOMEM, "out of memory");
	v->base.ops = &vfio_ops;
	v->base.ioctls = serving_ioctls;
	v->base.n_ioctls = ELEMENTSOF(serving_ioctls);
	v->base.devices = calloc(n, sizeof(struct device));
	v->device_group = calloc(n, sizeof(size_t));
	v->groups = calloc(n, sizeof(struct vfio_group));
	if (!v->base.devices || !v->device_group || !v->groups) {
		vfio_free(&v->base);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}

	for (size_t i = 0; i < n && r == 0; i++) {
		struct device *d = &v->base.devices[i];
		size_t gi;

		if (device_name_canonical(cfg->devices[i], d->name) < 0) {
			r = fail(err, errlen, -EINVAL, "'%s' is not a PCI address DDDD:BB:DD.F",
				 cfg->devices[i]);
			break;
		}
		for (size_t j = 0; j < i && r == 0; j++)
			if (strcmp(v->base.devices[j].name, d->name) == 0)
				r = fail(err, errlen, -EINVAL, "%s given twice", d->name);
		if (r == 0)
			r = describe_device(sysfs, d->name, d, err, errlen);
		if (r < 0)
			break;
		d->index = (unsigned)i;
		v->base.n_devices = i + 1;
		for (gi = 0; gi < v->n_groups; gi++)
			if (v->groups[gi].id == d->iommu_group)
				break;
		v->device_group[i] = gi;
		if (gi < v->n_groups)
			continue;
		struct vfio_group *g = &v->groups[v->n_groups++];
		*g = (struct vfio_group){.id = d->iommu_group, .container_fd = -1, .group_fd = -1};
		r = pci_group_members(sysfs, g->id, &g->n_dma, NULL, 0);
		if (r < 0) {
			fail(err, errlen, r, "cannot list %s/kernel/iommu_groups/%u/devices: %s",
			     sysfs, g->id, strerror(-r));
			break;
		}
		r = group_open(g, sysfs, devroot, d->name, err, errlen);
	}
	if (r < 0) {
		vfio_free(&v->base);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		v->base.devices[i].group_devices = v->groups[v->device_group[i]].n_dma;
	probe_svm(v);
	*ret = &v->base;
	return 0;
}
