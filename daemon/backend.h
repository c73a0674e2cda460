/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel behind svmd, as one small vtable shaped like svmd's operations: which devices are
 * managed, whether a bind's arguments are acceptable, bind, unbind, and a device fd for a
 * client. Each backend translates these into its own kernel's calls (backend-vfio: the seed
 * ioctl on VFIO containers; backend-sim: the simulated kernel), so the request core never sees
 * a kernel uAPI. Every operation returns 0 or a negative errno with a one-line reason in why.
 */
#pragma once

#include <stddef.h>

#include "bind.h"
#include "cleanup.h"
#include "device.h"

struct backend;

struct backend_ops {
	const char *name;
	/* Whether dev's kernel would accept binding a, checked as the kernel checks arguments
	 * before acting, and without binding anything: -EOPNOTSUPP when the kernel cannot bind
	 * at all, -EINVAL for arguments it would refuse. */
	int (*check)(struct backend *b, const struct device *dev, const struct bind_args *a,
		     char *why, size_t whylen);
	/* Binds a; what the kernel chose (a task bind's PASID) is written back into a. */
	int (*bind)(struct backend *b, const struct device *dev, struct bind_args *a, char *why,
		    size_t whylen);
	/* Undoes a bind made with exactly these arguments (as bind() left them). */
	int (*unbind)(struct backend *b, const struct device *dev, const struct bind_args *a,
		      char *why, size_t whylen);
	/* A new fd (O_CLOEXEC) on dev's VFIO device, for a client. Devices whose kinds include
	 * SVMD_KIND_DEVICE support it. */
	int (*open_device)(struct backend *b, const struct device *dev, int *ret_fd, char *why,
			   size_t whylen);
	void (*free)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	struct device *devices;
	size_t n_devices;
	/* NULL when the kernel can do SVM binds; else why not (check() says the same for every
	 * bind), for svmd to say once at start-up. */
	const char *svm_unsupported;
	/* The ioctl(2) requests the backend issues once serving (the sandbox allows those). */
	const unsigned long *ioctls;
	size_t n_ioctls;
};

/* Frees b and everything it owns (closing the kernel objects it holds). Takes NULL; returns
 * NULL. */
struct backend *backend_free(struct backend *b);
DEFINE_FREE_FUNC(struct backend, backend_free);

/* The device called name (any case), or NULL. */
struct device *backend_find_device(const struct backend *b, const char *name);
