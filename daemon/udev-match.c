// SPDX-License-Identifier: GPL-2.0-or-later
#include "udev-match.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "device.h"
#include "pci-sysfs.h"
#include "util.h"

DEFINE_FREE_FUNC(DIR, closedir)

/* Whether name is one of the configured devices. */
static bool configured(const char *name, const char *const *devices, size_t n)
{
	char want[SVMD_DEVICE_NAME_SZ], have[SVMD_DEVICE_NAME_SZ];

	if (device_name_canonical(name, want) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (device_name_canonical(devices[i], have) == 0 && strcmp(have, want) == 0)
			return true;
	return false;
}

/* A decimal number with nothing after it, below 2^31. */
static int parse_group(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0x7fffffff)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* Group g is svmd's when one of its members is configured: svmd must open the group to use
 * that member, and no one else can use the group's other members while it does. */
static bool group_is_ours(const char *sysfs, unsigned g, const char *const *devices, size_t n)
{
	_cleanup_(closedirp) DIR *dir = NULL;
	char path[4096];
	struct dirent *e;

	if (path_fmt(path, sizeof(path), "%s/kernel/iommu_groups/%u/devices", sysfs, g) < 0)
		return false;
	dir = opendir(path);
	if (!dir)
		return false;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' && configured(e->d_name, devices, n))
			return true;
	return false;
}

/* A cdev's devpath is .../PCI-FUNCTION/vfio-dev/vfioN: the function is two levels up. */
static int cdev_function(const char *devpath, char *buf, size_t size)
{
	const char *end = strrchr(devpath, '/'), *start;

	if (!end || strncmp(end + 1, "vfio", 4) != 0)
		return -EINVAL;
	if (end - devpath < 9 || strncmp(end - 9, "/vfio-dev", 9) != 0)
		return -EINVAL;
	end -= 9;
	for (start = end; start > devpath && start[-1] != '/'; start--)
		;
	if (start == devpath || (size_t)(end - start) >= size)
		return -EINVAL;
	memcpy(buf, start, (size_t)(end - start));
	buf[end - start] = '\0';
	return 0;
}

static bool backend_is(const char *backend, const char *name)
{
	return !backend || strcmp(backend, "auto") == 0 || strcmp(backend, name) == 0;
}

int udev_match(const char *what, const char *sysfs, const char *backend, const char *const *devices,
	       size_t n_devices, char *err, size_t errlen)
{
	char name[256];
	unsigned g;

	if (strcmp(what, "iommu") == 0)
		return n_devices > 0 && backend_is(backend, "iommufd");
	if (strncmp(what, "group:", 6) == 0) {
		if (parse_group(what + 6, &g) < 0)
			return fail(err, errlen, -EINVAL,
				    "'%s' is not a group: want group:N, N the IOMMU group "
				    "(no-IOMMU groups are never svmd's)",
				    what);
		return backend_is(backend, "vfio") && group_is_ours(sysfs, g, devices, n_devices);
	}
	if (strncmp(what, "cdev:", 5) == 0) {
		if (cdev_function(what + 5, name, sizeof(name)) < 0)
			return fail(err, errlen, -EINVAL,
				    "'%s' is not a VFIO device cdev: want cdev:DEVPATH, the "
				    "sysfs path .../FUNCTION/vfio-dev/vfioN",
				    what + 5);
		return backend_is(backend, "iommufd") && configured(name, devices, n_devices);
	}
	return fail(err, errlen, -EINVAL,
		    "cannot tell what '%s' is: want group:N, cdev:DEVPATH or iommu", what);
}
