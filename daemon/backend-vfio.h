/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VFIO backend: the real kernel's legacy container interface.
 */
#pragma once

#include <stddef.h>

#include "backends.h"

/* Owns a VFIO container per IOMMU group of cfg->devices (see backend-vfio.c). Returns 0 or a
 * negative errno with a message saying what to fix in err. */
int backend_vfio_new(const struct backend_config *cfg, struct backend **ret, char *err,
		     size_t errlen);
