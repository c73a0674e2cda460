/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /etc/svmd/svmd.conf: the daemon's settings in INI form, read before the command line (which
 * overrides it). See svmd.conf(5).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_PATH "/etc/svmd/svmd.conf"
#define CONFIG_LIST_MAX     16

/* Values are NULL (or 0 entries) when the file does not set them. */
struct config {
	char *backend;
	char *devices[CONFIG_LIST_MAX];
	size_t n_devices;
	char *sim_topology;
	char *socket;
	char *state_dir;
	char *bus;
	char *policy_dirs[CONFIG_LIST_MAX];
	size_t n_policy_dirs;
	char *log_level;
	char *audit;
	char *map_bytes_per_user, *map_bytes_total;
	int sandbox; /* -1 unset, 0 off, 1 on */
};

/*
 * Reads path into c. A missing file is no error when missing_ok. Errors print "path:line:
 * message" on stderr and return -EINVAL (bad syntax or value) or another negative errno;
 * unknown keys only warn.
 */
int config_load(const char *path, bool missing_ok, struct config *c);
void config_done(struct config *c);
