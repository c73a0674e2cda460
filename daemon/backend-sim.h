/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated backend: devices from a topology text, binds answered by the simulated kernel
 * (sim-kernel.h), so svmd runs, demos and is tested anywhere.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct sim_kernel;

/* Devices from the topology file at topology_path (NULL: the built-in topology). Returns 0 or a
 * negative errno with a message in err. */
int backend_sim_new(const char *topology_path, struct backend **ret, char *err, size_t errlen);

/* The simulated kernel behind a sim backend (NULL for any other backend), for tests that check
 * what it holds. */
struct sim_kernel *backend_sim_kernel(struct backend *b);

/* What the simulated IOMMU holds for clients' spaces (all zero for any other backend). */
struct sim_counts {
	size_t spaces, ioas, areas, attached;
	uint64_t bytes;
};
void backend_sim_counts(struct backend *b, struct sim_counts *ret);

/* Parses topology text into devices (for backend-sim and its tests). Returns the count or a
 * negative errno with "line N: message" in err. */
int sim_topology_parse(const char *text, struct device **ret, char *err, size_t errlen);

/* The built-in topology, so demos and tests agree. */
extern const char sim_default_topology[];
