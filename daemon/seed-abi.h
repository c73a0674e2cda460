/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's "seed profile" of the 2017 VFIO_IOMMU_SVM_BIND proposal: ioctl numbers, argument
 * layouts and the argument hygiene a kernel applies, written from the ABI facts (not copied
 * from kernel headers). Both backends speak exactly these bytes: backend-vfio hands them to
 * ioctl(2), the simulated kernel decodes them as a kernel would.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bind.h"
#include "device.h"
#include "svmd-proto.h"

#define SEED_VFIO_TYPE 0x3b /* ';' */
#define SEED_VFIO_BASE 100
/* _IO(type, nr): no direction or size bits, as for every VFIO ioctl. */
#define SEED_IO(nr) ((unsigned long)((SEED_VFIO_TYPE << 8) | (nr)))

#define SEED_VFIO_IOMMU_SVM_BIND   SEED_IO(SEED_VFIO_BASE + 22) /* 0x3b7a */
#define SEED_VFIO_IOMMU_SVM_UNBIND SEED_IO(SEED_VFIO_BASE + 23) /* 0x3b7b */

/* struct vfio_device_svm: issued on the container fd. */
struct seed_svm {
	uint32_t argsz; /* sizeof(struct seed_svm) + length */
	uint32_t flags; /* exactly one SEED_SVM_BIND_* */
	uint32_t length;
	/* uint8_t data[length]; */
};
#define SEED_SVM_BIND_PASIDTBL (1u << 0)
#define SEED_SVM_BIND_PASID    (1u << 1)
#define SEED_SVM_BIND_PGTABLE  (1u << 2)
#define SEED_SVM_TYPE_MASK     (SEED_SVM_BIND_PASIDTBL | SEED_SVM_BIND_PASID | SEED_SVM_BIND_PGTABLE)

/* VFIO_SVM_BIND_PASID: a process address space. */
struct seed_svm_task {
	uint32_t flags; /* SEED_SVM_PID_VALID: bind `pid`, else the caller */
	uint32_t pasid; /* in: 0 or the PASID asked for; out: the PASID bound */
	int32_t pid;
};
#define SEED_SVM_PID_VALID (1u << 0)

/* VFIO_SVM_BIND_PGTABLE: struct iommu_gpasid_bind_data (Linux 5.x layout). */
struct seed_gpasid_bind_data {
	uint32_t version; /* SEED_GPASID_BIND_VERSION_1 */
	uint32_t format;  /* SEED_PASID_FORMAT_INTEL_VTD */
	uint64_t flags;   /* SEED_SVA_GPASID_VAL */
	uint64_t gpgd;
	uint64_t hpasid;
	uint64_t gpasid;
	uint32_t addr_width;
	uint8_t padding[12];
	union {
		struct {
			uint64_t flags; /* SEED_SVA_VTD_GPASID_* */
			uint32_t pat;
			uint32_t emt;
		} vtd;
	} vendor;
};
#define SEED_GPASID_BIND_VERSION_1  1u
#define SEED_PASID_FORMAT_INTEL_VTD 1u
#define SEED_SVA_GPASID_VAL         (1ull << 0)
#define SEED_SVA_VTD_GPASID_SRE     (1ull << 0)
#define SEED_SVA_VTD_GPASID_EAFE    (1ull << 1)
#define SEED_SVA_VTD_GPASID_PCD     (1ull << 2)
#define SEED_SVA_VTD_GPASID_PWT     (1ull << 3)
#define SEED_SVA_VTD_GPASID_EMTE    (1ull << 4)
#define SEED_SVA_VTD_GPASID_CD      (1ull << 5)
#define SEED_SVA_VTD_GPASID_MASK    0x3full

/* VFIO_SVM_BIND_PASIDTBL: struct pasid_table_info. */
struct seed_pasid_table_info {
	uint64_t ptr;
	uint64_t size;
	uint32_t model;  /* SEED_MODEL_* */
	uint32_t length; /* opaque vendor bytes that follow; svmd sends none */
			 /* uint8_t opaque[length]; */
};
#define SEED_MODEL_INTEL_VTD 1u
#define SEED_MODEL_ARM_SMMU  2u

_Static_assert(SEED_VFIO_IOMMU_SVM_BIND == 0x3b7a, "seed ioctl number");
_Static_assert(SEED_VFIO_IOMMU_SVM_UNBIND == 0x3b7b, "seed unbind number");
_Static_assert(sizeof(struct seed_svm) == 12, "vfio_device_svm header");
_Static_assert(sizeof(struct seed_svm_task) == 12, "task payload");
_Static_assert(sizeof(struct seed_gpasid_bind_data) == 72, "iommu_gpasid_bind_data");
_Static_assert(offsetof(struct seed_gpasid_bind_data, hpasid) == 24, "hpasid offset");
_Static_assert(offsetof(struct seed_gpasid_bind_data, addr_width) == 40, "addr_width offset");
_Static_assert(offsetof(struct seed_gpasid_bind_data, padding) == 44, "padding offset");
_Static_assert(offsetof(struct seed_gpasid_bind_data, vendor) == 56, "vendor offset");
_Static_assert(sizeof(struct seed_pasid_table_info) == 24, "pasid_table_info");

/* The socket protocol uses the same numbers, so its values pass through unchanged. */
_Static_assert(SEED_MODEL_INTEL_VTD == SVMD_MODEL_VTD && SEED_MODEL_ARM_SMMU == SVMD_MODEL_SMMU,
	       "model numbers");
_Static_assert(SEED_SVA_GPASID_VAL == SVMD_PGTABLE_GPASID_VALID, "gpasid flag");
_Static_assert(SEED_SVA_VTD_GPASID_MASK == SVMD_VTD_FLAGS_ALL, "VT-d flags");

/* PASIDs: 20 bits, 0 reserved. Page tables and PASID tables as KERNEL-ABI.md section 4. */
#define SEED_PASID_MAX        0xfffffu
#define SEED_PGD_ALIGN        4096u
#define SEED_SMMU_CD_ALIGN    64u
#define SEED_PASID_ENTRY_SIZE 64u /* a VT-d scalable-mode PASID entry, an SMMUv3 CD */
#define SEED_SMMU_CD_MAX      (1u << 20)

/* A whole ioctl argument: header and the largest payload, aligned for the kernel's copy. */
struct seed_arg {
	union {
		struct seed_svm hdr;
		unsigned char bytes[sizeof(struct seed_svm) + sizeof(struct seed_gpasid_bind_data)];
	};
} __attribute__((aligned(8)));

/* The payload of an argument, at offset 12 as the ABI has it: only 4-byte aligned, so the
 * payloads with 8-byte fields are copied in and out with memcpy, never dereferenced here. */
static inline void *seed_payload(struct seed_arg *a)
{
	return a->bytes + sizeof(struct seed_svm);
}

/* Fills a with the header for one kind and a zeroed payload of that kind's exact size. */
void seed_arg_init(struct seed_arg *a, uint32_t kind_flag);

/* Encodes b as the exact argument of VFIO_IOMMU_SVM_BIND/UNBIND. */
void seed_encode(struct seed_arg *a, const struct bind_args *b);

/* What the kernel knows about the device behind a container, for the limits it enforces. */
struct seed_limits {
	unsigned pasid_bits; /* 0: no PASID capability */
	uint32_t model;      /* SEED_MODEL_* (== enum svmd_model), 0 if none */
};

/*
 * Argument hygiene, as a kernel applies it before acting: argsz == 12 + length, exactly one kind
 * bit, exact payload length, zero padding and reserved bits, and the limits of KERNEL-ABI.md
 * section 4 against the device. size is how many bytes the caller may read at arg. Returns 0
 * or -EINVAL with a one-line reason in why (if why is not NULL).
 */
int seed_check(const void *arg, size_t size, const struct seed_limits *lim, char *why,
	       size_t whylen);

/* What a kernel checks of a bind of a on dev before acting: seed_check() on its encoding, with
 * dev's limits. Returns 0 or -EINVAL with a reason. */
int seed_check_bind(const struct bind_args *a, const struct device *dev, char *why, size_t whylen);
