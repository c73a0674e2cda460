/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The svmd D-Bus contract: names, paths and the error names every errno maps to, shared by
 * svmd and libsvmclient so both sides translate errors the same way. org.svmd.Broker1.xml
 * describes the interfaces.
 */
#pragma once

#include <errno.h>
#include <string.h>

#include <systemd/sd-bus.h>

#define SVMD_BUS_NAME           "org.svmd.Broker1"
#define SVMD_BUS_PATH           "/org/svmd/Broker1"
#define SVMD_BUS_INTERFACE      "org.svmd.Broker1"
#define SVMD_BUS_BINDING_PREFIX "/org/svmd/Broker1/binding"
#define SVMD_BUS_BINDING_IFACE  "org.svmd.Binding1"
#define SVMD_BUS_METRICS_PATH   "/org/svmd/Metrics1"
#define SVMD_BUS_METRICS_IFACE  "org.svmd.Metrics1"
#define SVMD_BUS_ERROR(e)       "org.svmd.Broker1.Error." e

/* Connects to a bus named as svmd and svmctl name them: "system" (or NULL), "session", or a
 * D-Bus address. Returns 0 or a negative errno. */
static inline int svmd_bus_open(const char *address, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	if (!address || strcmp(address, "system") == 0)
		return sd_bus_open_system(ret);
	if (strcmp(address, "session") == 0)
		return sd_bus_open_user(ret);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, true);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

/* errno <-> error name, for sd_bus_error_add_map(). */
static const sd_bus_error_map svmd_bus_errors[] = {
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("AccessDenied"), EACCES),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("QuotaExceeded"), EDQUOT),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("RateLimited"), EAGAIN),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("PasidBusy"), EBUSY),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NoFreePasid"), ENOSPC),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NoSuchDevice"), ENODEV),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NotSupported"), EOPNOTSUPP),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("InvalidArgument"), EINVAL),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NotAPidfd"), EBADF),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NotPermitted"), EPERM),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NoSuchProcess"), ESRCH),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NoSuchBinding"), ENOENT),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("AlreadyLeased"), EALREADY),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("OutOfResources"), EMFILE),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("NotAMemfd"), EMEDIUMTYPE),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("MappingOverlaps"), EEXIST),
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("Failed"), EIO),
	SD_BUS_ERROR_MAP_END,
};
