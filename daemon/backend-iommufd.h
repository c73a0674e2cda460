/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd backend: mainline kernels' /dev/iommu and VFIO device cdevs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "backends.h"

/* Binds every device of cfg->devices to an iommufd of svmd's own and reads what its IOMMU can
 * do (see backend-iommufd.c). Returns 0 or a negative errno with a message saying what to fix
 * in err. */
int backend_iommufd_new(const struct backend_config *cfg, struct backend **ret, char *err,
			size_t errlen);

/* Whether cfg's machine has DEV/iommu and a VFIO cdev for every device in cfg->devices (at
 * least one): what --backend=auto asks before choosing iommufd. */
bool backend_iommufd_usable(const struct backend_config *cfg);
