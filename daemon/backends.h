/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Choosing and making a backend from the configuration (--backend=...).
 */
#pragma once

#include <stddef.h>

#include "backend.h"

struct backend_config {
	const char *name;           /* "auto" (or NULL), "iommufd", "vfio" or "sim" */
	const char *sim_topology;   /* sim: file, or NULL for the built-in topology */
	const char *const *devices; /* vfio, iommufd: the PCI functions to manage, "DDDD:BB:DD.F" */
	size_t n_devices;
	const char *sysfs_root; /* vfio, iommufd: where sysfs is, NULL for /sys (tests elsewhere) */
	const char *dev_root;   /* vfio, iommufd and auto: where /dev is, NULL for /dev */
	/* iommufd, TEST ONLY: this many mock devices of the kernel's IOMMUFD_TEST besides, named
	 * ffff:00:NN.0 (--test-mock-devices; iommufd-mock.h). */
	size_t test_mock_devices;
};

/* Creates the backend cfg names; "auto" is iommufd when DEV/iommu exists and every device has
 * a VFIO cdev, else vfio when DEV/vfio/vfio exists, else iommufd when DEV/iommu does, else an
 * error that points to --backend=sim. Returns 0 or a negative errno with a whole message in
 * err. */
int backend_new(const struct backend_config *cfg, struct backend **ret, char *err, size_t errlen);
