/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel behind svmd, as one small vtable shaped like svmd's operations: which devices are
 * managed, whether a bind's arguments are acceptable, bind, unbind, a client's DMA spaces (map,
 * unmap) and a device fd for a client. Each backend translates these into its own kernel's calls
 * (backend-vfio: the seed ioctl on VFIO containers; backend-iommufd: iommufd and VFIO cdevs;
 * backend-sim: the simulated kernel), so the request core never sees a kernel uAPI. Every
 * operation returns 0 or a negative errno with a one-line reason in why.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "bind.h"
#include "cleanup.h"
#include "device.h"

struct backend;
/* One client's DMA address spaces, the backend's own: for each device it maps for or opens,
 * what that device may reach (iommufd: an iommufd of the client's own, an IOAS per device). */
struct backend_space;

struct backend_ops {
	const char *name;
	/* Whether dev's kernel would accept binding a, checked as the kernel checks arguments
	 * before acting, and without binding anything: -EOPNOTSUPP when the kernel cannot bind
	 * at all, -EINVAL for arguments it would refuse. Task, page-table and PASID-table binds;
	 * maps too, when the backend maps (a->map.space is NULL then). */
	int (*check)(struct backend *b, const struct device *dev, const struct bind_args *a,
		     char *why, size_t whylen);
	/* Binds a; what the kernel chose (a task bind's PASID) is written back into a. */
	int (*bind)(struct backend *b, const struct device *dev, struct bind_args *a, char *why,
		    size_t whylen);
	/* Undoes a bind made with exactly these arguments (as bind() left them). */
	int (*unbind)(struct backend *b, const struct device *dev, const struct bind_args *a,
		      char *why, size_t whylen);
	/* Backends whose PASID-table binds live in the caller's space (iommufd: nested on the
	 * IOAS of the device it opened there), else NULL: bind() and unbind() are used. May set
	 * a->table.event_fd to a new fd for the caller. */
	int (*bind_space)(struct backend *b, struct backend_space *s, const struct device *dev,
			  struct bind_args *a, char *why, size_t whylen);
	void (*unbind_space)(struct backend *b, struct backend_space *s, const struct device *dev,
			     const struct bind_args *a);
	/*
	 * A new fd (O_CLOEXEC) on dev's VFIO device, for a client. Devices whose kinds include
	 * SVMD_KIND_DEVICE support it. With a space (backends that have them), the fd DMAs
	 * exactly what s maps for dev, and nothing of any other client's; the backend keeps what
	 * it needs to take that back (close_device()).
	 */
	int (*open_device)(struct backend *b, struct backend_space *s, const struct device *dev,
			   int *ret_fd, char *why, size_t whylen);
	/* The open-device record in s ends: dev's fd, wherever its copies are, reaches nothing of
	 * s any more. NULL for backends without spaces (the fd cannot be taken back). */
	void (*close_device)(struct backend *b, struct backend_space *s, const struct device *dev);

	/* Spaces: all NULL when the backend maps no client memory (then maps are -EOPNOTSUPP,
	 * for the reason in each device's unsupported[SVMD_KIND_MAP]). */
	int (*space_new)(struct backend *b, struct backend_space **ret, char *why, size_t whylen);
	/* Maps a->map.length bytes of memfd, from a->map.offset, at a->map.iova of dev's space
	 * in s, readable and/or writable by the device (a->map.flags). memfd is the client's
	 * memfd, checked by the caller (memfd_check()); the kernel keeps what it pins, not the
	 * fd. -EEXIST when the range overlaps a mapping. */
	int (*map)(struct backend *b, struct backend_space *s, const struct device *dev, int memfd,
		   const struct bind_args *a, char *why, size_t whylen);
	/* Undoes a map made with exactly these arguments. */
	int (*unmap)(struct backend *b, struct backend_space *s, const struct device *dev,
		     const struct bind_args *a, char *why, size_t whylen);
	/*
	 * Guest-table binds nested in a client's space (iommufd: page tables, PASID tables): NULL
	 * for backends that bind them with bind(). After check() passed, binds a, a->pgtable or
	 * a->table, on dev as it is open in s (open_device()), over dev's stage 2 there: the
	 * kernel objects it makes are s's and go with it. nest_unbind() undoes one made with
	 * exactly these arguments, leaving dev on stage 2 only, as it was before.
	 */
	int (*nest_bind)(struct backend *b, struct backend_space *s, const struct device *dev,
			 struct bind_args *a, char *why, size_t whylen);
	int (*nest_unbind)(struct backend *b, struct backend_space *s, const struct device *dev,
			   const struct bind_args *a, char *why, size_t whylen);
	/* Flushes what dev's IOMMU cached of the guest table nest_bind() nested as a: n entries
	 * of type (enum svmd_invalidate_type), each checked before the kernel sees it; the
	 * entries the kernel handled go into *ret_done, on failure too. -EOPNOTSUPP for a type
	 * the table's IOMMU has not. NULL where nest_bind is. */
	int (*invalidate)(struct backend *b, struct backend_space *s, const struct device *dev,
			  const struct bind_args *a, uint32_t type,
			  const struct svmd_invalidate_entry *e, uint32_t n, uint32_t *ret_done,
			  char *why, size_t whylen);
	/* Frees s and every kernel object in it: what is still mapped is unmapped, devices opened
	 * in it are detached first. */
	void (*space_free)(struct backend *b, struct backend_space *s);

	/*
	 * Restart survival: all NULL when the kernel state of the backend's binds ends with svmd.
	 * state_fd() is an fd holding that state for PID 1's fd store (the backend's, made on
	 * first use; a negative errno), brought up to date by sync() when binds changed; adopt()
	 * takes over such an fd a previous svmd stored (taken; -EINVAL with why when it holds no
	 * state of this backend's devices: the backend then starts empty). After adopt(),
	 * holds() says whether a binding a previous svmd recorded (its arguments as bind() left
	 * them; binds outside spaces only) is still in the kernel, and release_unclaimed()
	 * unbinds what the kernel holds that claimed() does not claim (dev and its registry
	 * slot), returning how many.
	 */
	int (*state_fd)(struct backend *b);
	int (*sync)(struct backend *b);
	int (*adopt)(struct backend *b, int fd, char *why, size_t whylen);
	bool (*holds)(struct backend *b, const struct device *dev, const struct bind_args *a);
	size_t (*release_unclaimed)(struct backend *b,
				    bool (*claimed)(void *userdata, const struct device *dev,
						    uint32_t slot),
				    void *userdata);

	void (*free)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	struct device *devices;
	size_t n_devices;
	/* NULL when the kernel can do SVM binds; else why not (check() says the same for every
	 * bind), for svmd to say once at start-up. */
	const char *svm_unsupported;
	/* NULL, or one line for svmd to log once at start-up (info): what the backend chose
	 * that an administrator should know (iommufd: whose locked memory pins are). */
	const char *note;
	/* svmd's fds one space holds (charged to the client's uid), and one open-device record
	 * in a space besides (the backend's copy of the device fd). */
	unsigned space_fds, device_fds;
	/* The kernel charges what the backend maps to svmd's own RLIMIT_MEMLOCK (and refuses a
	 * map beyond it): svmd then shares that limit out among its users. */
	bool pins_memlock;
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

/* Whether fd is a memfd (memfd_create(2)) that holds [offset, offset + length): 0, -EMEDIUMTYPE
 * (not a memfd: svmd maps nothing else, so that a device reaches only memory the client made
 * for it) or -EINVAL (shorter than that), with the reason in why. */
int memfd_check(int fd, uint64_t offset, uint64_t length, char *why, size_t whylen);
