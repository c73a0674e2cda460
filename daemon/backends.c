/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backend selection; see backends.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend-iommufd.h"
#include "backend-sim.h"
#include "backend-vfio.h"
#include "backends.h"

/* --backend=auto: iommufd when DEV/iommu exists and every managed device has a VFIO cdev; else
 * the legacy container when DEV/vfio/vfio exists; else iommufd when DEV/iommu does (its start-up
 * names what is missing); else an error pointing to --backend=sim. */
static const char *auto_choose(const struct backend_config *cfg, char *err, size_t errlen)
{
	const char *dev = cfg->dev_root ? cfg->dev_root : "/dev";
	char vfio[4096], iommu[4096];

	if (backend_iommufd_usable(cfg))
		return "iommufd";
	snprintf(vfio, sizeof(vfio), "%s/vfio/vfio", dev);
	snprintf(iommu, sizeof(iommu), "%s/iommu", dev);
	if (access(vfio, F_OK) == 0)
		return "vfio";
	if (access(iommu, F_OK) == 0)
		return "iommufd";
	snprintf(err, errlen,
		 "no %s: this machine has no VFIO; use --backend=sim to try svmd without hardware",
		 vfio);
	return NULL;
}

int backend_new(const struct backend_config *cfg, struct backend **ret, char *err, size_t errlen)
{
	const char *name = cfg->name ? cfg->name : "auto";
	char msg[512] = "";
	int r;

	if (cfg->test_mock_devices && strcmp(name, "iommufd") != 0) {
		snprintf(err, errlen,
			 "--test-mock-devices is for --backend=iommufd on a test kernel "
			 "(CONFIG_IOMMUFD_TEST), not --backend=%s",
			 name);
		return -EINVAL;
	}
	if (strcmp(name, "auto") == 0 && !(name = auto_choose(cfg, err, errlen)))
		return -ENODEV;
	if (strcmp(name, "sim") == 0) {
		if (cfg->n_devices || cfg->sysfs_root || cfg->dev_root) {
			snprintf(err, errlen,
				 "--device, --sysfs-root and --dev-root are for the vfio and "
				 "iommufd "
				 "backends; the sim backend's devices come from --sim-topology");
			return -EINVAL;
		}
		r = backend_sim_new(cfg->sim_topology, ret, msg, sizeof(msg));
	} else if (strcmp(name, "vfio") == 0 || strcmp(name, "iommufd") == 0) {
		if (cfg->sim_topology) {
			snprintf(err, errlen, "--sim-topology is for the sim backend, not %s",
				 name);
			return -EINVAL;
		}
		r = name[0] == 'v' ? backend_vfio_new(cfg, ret, msg, sizeof(msg))
				   : backend_iommufd_new(cfg, ret, msg, sizeof(msg));
	} else {
		snprintf(err, errlen, "unknown backend '%s' (auto, iommufd, vfio or sim)", name);
		return -EINVAL;
	}
	if (r < 0)
		snprintf(err, errlen, "Cannot start the %s backend: %s", name, msg);
	return r;
}
