/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI function names; see device.h.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "device.h"

int device_name_canonical(const char *s, char ret[SVMD_DEVICE_NAME_SZ])
{
	char out[SVMD_DEVICE_NAME_SZ] = {0};

	/* Exactly DDDD:BB:DD.F in hex, each field at full width; the canonical form is the same
	 * text in lower case. Parsed by hand: every request names a device. */
	if (strnlen(s, 13) != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.')
		return -EINVAL;
	for (int i = 0; i < 12; i++) {
		if (i == 4 || i == 7 || i == 10) {
			out[i] = s[i];
			continue;
		}
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	/* Device 0x00-0x1f, function 0-7. */
	if (out[8] > '1' || out[11] > '7')
		return -EINVAL;
	memcpy(ret, out, sizeof(out));
	return 0;
}
