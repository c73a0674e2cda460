/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Backend selection; see backends.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend-sim.h"
#include "backend-vfio.h"
#include "backends.h"

int backend_new(const struct backend_config *cfg, struct backend **ret, char *err, size_t errlen)
{
	const char *name = cfg->name ? cfg->name : "auto";
	char msg[512] = "";
	int r;

	if (strcmp(name, "auto") == 0) {
		char path[4096];
		int n = snprintf(path, sizeof(path), "%s/vfio/vfio",
				 cfg->dev_root ? cfg->dev_root : "/dev");
		if (n < 0 || (size_t)n >= sizeof(path) || access(path, F_OK) < 0) {
			snprintf(err, errlen,
				 "no %s: this machine has no VFIO; use --backend=sim to try svmd "
				 "without hardware",
				 path);
			return -ENODEV;
		}
		name = "vfio";
	}
	if (strcmp(name, "sim") == 0) {
		if (cfg->n_devices || cfg->sysfs_root || cfg->dev_root) {
			snprintf(err, errlen,
				 "--device, --sysfs-root and --dev-root are for the vfio backend; "
				 "the sim backend's devices come from --sim-topology");
			return -EINVAL;
		}
		r = backend_sim_new(cfg->sim_topology, ret, msg, sizeof(msg));
	} else if (strcmp(name, "vfio") == 0) {
		if (cfg->sim_topology) {
			snprintf(err, errlen, "--sim-topology is for the sim backend, not vfio");
			return -EINVAL;
		}
		r = backend_vfio_new(cfg, ret, msg, sizeof(msg));
	} else {
		snprintf(err, errlen, "unknown backend '%s' (auto, vfio or sim)", name);
		return -EINVAL;
	}
	if (r < 0)
		snprintf(err, errlen, "Cannot start the %s backend: %s", name, msg);
	return r;
}
