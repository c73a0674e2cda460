/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A managed PCI function as svmd sees it: where it sits (IOMMU group), what its IOMMU can
 * do (PASID width, model, bind kinds). Backends fill these in at start-up; they do not change
 * while svmd runs.
 */
#pragma once

#include <stdint.h>

#include "svmd-proto.h"

struct device {
	char name[SVMD_DEVICE_NAME_SZ]; /* "0000:3b:00.0" */
	unsigned index;                 /* position in the backend's array */
	uint32_t iommu_group;
	uint32_t group_devices; /* devices in that IOMMU group (PCI bridges aside) */
	uint32_t kinds;         /* SVMD_KIND_BIT() of supported bind kinds */
	uint16_t vendor, device_id;
	uint8_t pasid_bits; /* 0: no PASID capability */
	uint8_t model;      /* enum svmd_model */
	/* For each kind the device cannot do, why not on this kernel and IOMMU, in one line (NULL:
	 * not said); static strings or the backend's own. Set, it is the reason given, before the
	 * backend's svm_unsupported. */
	const char *unsupported[_SVMD_KIND_MAX];
};

/* Parses "DDDD:BB:DD.F" or lspci's "BB:DD.F" (domain 0000), hex in lower or upper case, into
 * canonical lower case (svmd_device_name_canonical()). Returns 0 or -EINVAL. */
int device_name_canonical(const char *s, char ret[SVMD_DEVICE_NAME_SZ]);
