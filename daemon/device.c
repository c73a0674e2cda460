/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI function names; see device.h.
 */
#include <errno.h>
#include <string.h>

#include "device.h"

int device_name_canonical(const char *s, char ret[SVMD_DEVICE_NAME_SZ])
{
	return svmd_device_name_canonical(s, ret);
}
