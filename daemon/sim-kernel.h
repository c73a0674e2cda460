/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A model of the kernel side of VFIO_IOMMU_SVM_BIND: per container (IOMMU group) the devices,
 * their PASID spaces and what is bound, answering each ioctl with the errno a kernel would.
 * It decodes the exact seed-profile bytes, so the same model can sit behind the sim backend
 * and behind a syscall-level emulation of /dev/vfio.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bind.h"
#include "device.h"

struct sim_kernel;

/* Takes a copy of the devices. Returns NULL when out of memory. */
struct sim_kernel *sim_kernel_new(const struct device *devices, size_t n);
struct sim_kernel *sim_kernel_free(struct sim_kernel *k);

/*
 * Issues `request` (SEED_VFIO_IOMMU_SVM_BIND or _UNBIND) on the container of `group` with
 * argument arg (size bytes readable and writable). Returns 0 or a negative errno:
 *   -EINVAL      malformed argument, PASID 0 or beyond the device's width, bad address width or
 *                alignment, a group with more than one device, unbind of something not bound
 *   -EBUSY       PASID already bound on the device, second PASID table
 *   -EOPNOTSUPP  a bind kind the device lacks
 *   -ENOSPC      no free PASID within the device's width
 *   -ESRCH       the process to bind does not exist
 *   -ENOTTY      an unknown request
 *   -ENODEV      no container for that group
 * A one-line reason goes to why (may be NULL).
 */
int sim_kernel_ioctl(struct sim_kernel *k, uint32_t group, unsigned long request, void *arg,
		     size_t size, char *why, size_t whylen);

/* The argument checks the kernel applies to a bind of a on dev, without binding (-EINVAL). */
int sim_kernel_check(const struct device *dev, const struct bind_args *a, char *why, size_t whylen);
/* The same for a bind as svmd keeps it: encoded as the seed ioctl's exact argument, issued, and
 * (bind) what the kernel wrote back, the PASID of a task bind, copied into a. */
int sim_kernel_bind(struct sim_kernel *k, uint32_t group, struct bind_args *a, char *why,
		    size_t whylen);
int sim_kernel_unbind(struct sim_kernel *k, uint32_t group, const struct bind_args *a, char *why,
		      size_t whylen);

/*
 * What survives a restart of svmd, as a real kernel's state survives it: the state as bytes
 * (sim_kernel_save(), malloc'd, checksummed, naming the devices it was made on), and a kernel
 * made again from them on the same devices (sim_kernel_restore(): -EINVAL, with why, when the
 * bytes are not a state this model wrote for these devices; -ENOMEM). sim_kernel_changes()
 * counts the binds and unbinds done, so a caller saves only what changed.
 */
int sim_kernel_save(const struct sim_kernel *k, void **ret, size_t *ret_len);
int sim_kernel_restore(const struct device *devices, size_t n, const void *buf, size_t len,
		       struct sim_kernel **ret, char *why, size_t whylen);
uint64_t sim_kernel_changes(const struct sim_kernel *k);
/* Whether a (a bind as sim_kernel_bind() left it) is bound on dev. */
bool sim_kernel_holds(const struct sim_kernel *k, const struct device *dev,
		      const struct bind_args *a);
/* Unbinds every bind claimed() does not claim (dev, slot: its PASID, or 0 for the PASID table):
 * what a restarted svmd found bound that no binding of its own explains. Returns how many. */
size_t sim_kernel_release_unclaimed(struct sim_kernel *k,
				    bool (*claimed)(void *userdata, const struct device *dev,
						    uint32_t slot),
				    void *userdata);

/* Live state, for tests: binds on a device, processes holding a PASID. */
size_t sim_kernel_n_bound(const struct sim_kernel *k, const char *device);
size_t sim_kernel_n_mm(const struct sim_kernel *k);
