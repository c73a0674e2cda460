/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel behind svmd, as one small vtable: which devices are managed, and the seed
 * VFIO_IOMMU_SVM_BIND/UNBIND ioctls on their containers. backend-sim models a kernel in
 * process; a VFIO backend issues the same bytes with ioctl(2).
 */
#pragma once

#include <stddef.h>

#include "device.h"
#include "seed-abi.h"

struct backend;

struct backend_ops {
	const char *name;
	/* Issues request (SEED_VFIO_IOMMU_SVM_BIND or _UNBIND) with arg on the container of dev's
	 * group; arg is updated as the kernel writes back. Returns 0 or a negative errno with a
	 * one-line reason in why. */
	int (*svm_ioctl)(struct backend *b, const struct device *dev, unsigned long request,
			 struct seed_arg *arg, char *why, size_t whylen);
	/* A new fd (O_CLOEXEC) on dev's VFIO device, for a client. Devices whose kinds include
	 * SVMD_KIND_DEVICE support it. Returns 0 or a negative errno with a reason in why. */
	int (*open_device)(struct backend *b, const struct device *dev, int *ret_fd, char *why,
			   size_t whylen);
	void (*free)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	struct device *devices;
	size_t n_devices;
	/* NULL when the kernel can do SVM binds; else why not, for every bind to report (with
	 * -EOPNOTSUPP) before looking at the device. open_device works either way. */
	const char *svm_unsupported;
	/* The ioctl(2) requests the backend issues once serving (the sandbox allows those). */
	const unsigned long *ioctls;
	size_t n_ioctls;
};

struct backend_config {
	const char *name;           /* "auto" (or NULL), "vfio" or "sim" */
	const char *sim_topology;   /* sim: file, or NULL for the built-in topology */
	const char *const *devices; /* vfio: the PCI functions to manage, "DDDD:BB:DD.F" */
	size_t n_devices;
	const char *sysfs_root; /* vfio: where sysfs is, NULL for /sys (tests point elsewhere) */
	const char *dev_root;   /* vfio and auto: where /dev is, NULL for /dev */
};

/* Creates the backend cfg names; "auto" is vfio when DEV/vfio/vfio exists, else an error that
 * points to --backend=sim. Returns 0 or a negative errno with a whole message in err. */
int backend_new(const struct backend_config *cfg, struct backend **ret, char *err, size_t errlen);
struct backend *backend_free(struct backend *b);

/* The device called name (any case), or NULL. */
struct device *backend_find_device(const struct backend *b, const char *name);

/* The simulated kernel: devices from a topology text (NULL: the built-in one). */
int backend_sim_new(const char *topology_path, struct backend **ret, char *err, size_t errlen);

/* The real kernel: owns a VFIO container per IOMMU group of cfg->devices (see backend-vfio.c).
 * Returns 0 or a negative errno with a message saying what to fix in err. */
int backend_vfio_new(const struct backend_config *cfg, struct backend **ret, char *err,
		     size_t errlen);

/* Parses topology text into devices (for backend-sim and its tests). Returns the count or a
 * negative errno with "line N: message" in err. */
int sim_topology_parse(const char *text, struct device **ret, char *err, size_t errlen);

/* The built-in topology, so demos and tests agree. */
extern const char sim_default_topology[];
