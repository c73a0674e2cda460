/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The svmd D-Bus contract: names, paths and the error names every errno maps to, shared by
 * svmd and libsvmclient so both sides translate errors the same way. org.svmd.Broker1.xml
 * describes the interfaces.
 */
#pragma once

#include <systemd/sd-bus.h>

#define SVMD_BUS_NAME           "org.svmd.Broker1"
#define SVMD_BUS_PATH           "/org/svmd/Broker1"
#define SVMD_BUS_INTERFACE      "org.svmd.Broker1"
#define SVMD_BUS_BINDING_PREFIX "/org/svmd/Broker1/binding"
#define SVMD_BUS_BINDING_IFACE  "org.svmd.Binding1"
#define SVMD_BUS_ERROR(e)       "org.svmd.Broker1.Error." e

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
	SD_BUS_ERROR_MAP(SVMD_BUS_ERROR("Failed"), EIO),
	SD_BUS_ERROR_MAP_END,
};
