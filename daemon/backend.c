/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every backend shares; see backend.h.
 */
#include <string.h>

#include "backend.h"

struct backend *backend_free(struct backend *b)
{
	if (b)
		b->ops->free(b);
	return NULL;
}

struct device *backend_find_device(const struct backend *b, const char *name)
{
	char canon[SVMD_DEVICE_NAME_SZ];

	if (device_name_canonical(name, canon) < 0)
		return NULL;
	for (size_t i = 0; i < b->n_devices; i++)
		if (strcmp(b->devices[i].name, canon) == 0)
			return &b->devices[i];
	return NULL;
}
