/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One bind as svmd keeps it, in svmd's own terms: what the request core decides on, the registry
 * records and a backend turns into its kernel's calls. No kernel uAPI here: each backend
 * translates (backend-vfio and the simulated kernel into the seed ioctl's bytes).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "svmd-proto.h"

struct space; /* core.h: one client's DMA address spaces */

struct bind_args {
	uint32_t kind;  /* enum svmd_kind */
	uint32_t pasid; /* task: 0 = kernel chooses, then the PASID bound; pgtable: host PASID */
	union {
		struct {
			int32_t pid;
			uint32_t asked; /* the PASID asked for (0: auto), for deciding again */
		} task;
		struct {
			/* SVMD_PGTABLE_GPASID_VALID, SVMD_PGTABLE_FAULTS: the wire's u64, checked
			 * to hold no other bit before it is copied here. */
			uint32_t flags;
			/* With SVMD_PGTABLE_FAULTS, once nested: an fd for the caller on the
			 * table's fault queue, which the bind's reply carries and closes; else
			 * -1 (set by the core before nest_bind()). */
			int fault_fd;
			uint64_t gpgd;
			uint64_t gpasid;
			uint64_t vtd_flags; /* SVMD_VTD_FLAGS_ALL */
			uint32_t addr_width;
			uint32_t format; /* SVMD_PGTABLE_FORMAT_VTD */
			union {
				struct {
					uint32_t pat,
						emt; /* the seed's (backends without spaces) */
				};
				/* Backends that nest guest tables in a client's space
				 * (backend->nests): a reference, set once check() passed
				 * (those backends take pat and emt as 0 only). */
				struct space *space;
			};
		} pgtable;
		struct {
			uint64_t ptr;
			uint64_t size;
			uint32_t model; /* enum svmd_model */
			/* The request's 48-byte form (SMMUv3 through iommufd): */
			bool vsid_valid;
			uint8_t s1fmt, s1cdmax; /* SVMD_SMMU_S1FMT_*, log2 of the CDs */
			uint32_t vsid;          /* the guest's virtual StreamID */
			/* Backends with spaces (bind_space()): a reference to the space it is
			 * bound in, and, once bound, an fd for the caller (its vEVENTQ), which
			 * the bind's reply carries and closes, or -1. */
			struct space *space;
			int event_fd;
		} table;
		struct {
			uint64_t iova, length; /* [iova, iova + length) of the device's space */
			uint64_t offset;       /* in the client's memfd */
			uint32_t flags;        /* SVMD_MAP_READ, SVMD_MAP_WRITE */
			struct space *space;   /* a reference: the space it is mapped into */
		} map;
		struct {
			struct space *space; /* a reference (NULL: a backend without spaces) */
		} device;
	};
};
