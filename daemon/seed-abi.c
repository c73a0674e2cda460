/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Encoding and checking VFIO_IOMMU_SVM_BIND arguments (the seed profile). Pure: used by the
 * request core to refuse bad arguments with a reason before any ioctl, and by the simulated
 * kernel to refuse them the way a kernel would.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "seed-abi.h"
#include "util.h"

static size_t payload_size(uint32_t kind_flag)
{
	switch (kind_flag) {
	case SEED_SVM_BIND_PASID:
		return sizeof(struct seed_svm_task);
	case SEED_SVM_BIND_PGTABLE:
		return sizeof(struct seed_gpasid_bind_data);
	case SEED_SVM_BIND_PASIDTBL:
		return sizeof(struct seed_pasid_table_info);
	default:
		return 0;
	}
}

void seed_arg_init(struct seed_arg *a, uint32_t kind_flag)
{
	size_t n = payload_size(kind_flag);

	memset(a, 0, sizeof(*a));
	a->hdr.argsz = (uint32_t)(sizeof(struct seed_svm) + n);
	a->hdr.flags = kind_flag;
	a->hdr.length = (uint32_t)n;
}

void seed_encode(struct seed_arg *a, const struct bind_args *b)
{
	switch (b->kind) {
	case SVMD_KIND_TASK: {
		struct seed_svm_task t = {
			.flags = SEED_SVM_PID_VALID,
			.pasid = b->pasid,
			.pid = b->task.pid,
		};
		seed_arg_init(a, SEED_SVM_BIND_PASID);
		memcpy(seed_payload(a), &t, sizeof(t));
		break;
	}
	case SVMD_KIND_PGTABLE: {
		struct seed_gpasid_bind_data g = {
			.version = SEED_GPASID_BIND_VERSION_1,
			.format = b->pgtable.format,
			.flags = b->pgtable.flags,
			.gpgd = b->pgtable.gpgd,
			.hpasid = b->pasid,
			.gpasid = b->pgtable.gpasid,
			.addr_width = b->pgtable.addr_width,
			.vendor.vtd = {b->pgtable.vtd_flags, b->pgtable.pat, b->pgtable.emt},
		};
		seed_arg_init(a, SEED_SVM_BIND_PGTABLE);
		memcpy(seed_payload(a), &g, sizeof(g));
		break;
	}
	case SVMD_KIND_PASID_TABLE: {
		struct seed_pasid_table_info p = {
			.ptr = b->table.ptr,
			.size = b->table.size,
			.model = b->table.model,
		};
		seed_arg_init(a, SEED_SVM_BIND_PASIDTBL);
		memcpy(seed_payload(a), &p, sizeof(p));
		break;
	}
	default:
		/* No such kind: an argument every kernel refuses. */
		seed_arg_init(a, 0);
		break;
	}
}

static bool pasid_fits(uint64_t pasid, unsigned bits)
{
	return pasid >= 1 && pasid <= SEED_PASID_MAX && (bits >= 20 || pasid < (1ull << bits));
}

static int check_task(const struct seed_svm_task *t, const struct seed_limits *lim, char *why,
		      size_t whylen)
{
	if (t->flags & ~SEED_SVM_PID_VALID)
		return fail(why, whylen, -EINVAL, "unknown task flags 0x%x",
			    t->flags & ~SEED_SVM_PID_VALID);
	if ((t->flags & SEED_SVM_PID_VALID) && t->pid <= 0)
		return fail(why, whylen, -EINVAL, "invalid pid %d", t->pid);
	if (!(t->flags & SEED_SVM_PID_VALID) && t->pid != 0)
		return fail(why, whylen, -EINVAL, "pid set without PID_VALID");
	if (t->pasid != 0 && !pasid_fits(t->pasid, lim->pasid_bits))
		return fail(why, whylen, -EINVAL, "PASID %u outside 1..%u for this device",
			    t->pasid,
			    lim->pasid_bits >= 20 ? SEED_PASID_MAX : (1u << lim->pasid_bits) - 1);
	return 0;
}

static int check_pgtable(const struct seed_gpasid_bind_data *g, const struct seed_limits *lim,
			 char *why, size_t whylen)
{
	static const uint8_t zero[sizeof(g->padding)];

	if (g->version != SEED_GPASID_BIND_VERSION_1)
		return fail(why, whylen, -EINVAL, "unknown bind data version %u", g->version);
	if (g->format != SEED_PASID_FORMAT_INTEL_VTD)
		return fail(why, whylen, -EINVAL, "unknown page-table format %u (only 1, VT-d)",
			    g->format);
	if (lim->model != SEED_MODEL_INTEL_VTD)
		return fail(why, whylen, -EINVAL,
			    "VT-d page-table format on a device behind a non-VT-d IOMMU");
	if (g->flags & ~SEED_SVA_GPASID_VAL)
		return fail(why, whylen, -EINVAL, "unknown bind flags 0x%llx",
			    (unsigned long long)(g->flags & ~SEED_SVA_GPASID_VAL));
	if (memcmp(g->padding, zero, sizeof(zero)) != 0)
		return fail(why, whylen, -EINVAL, "non-zero padding");
	if (g->addr_width != 48 && g->addr_width != 57)
		return fail(why, whylen, -EINVAL, "address width %u (must be 48 or 57)",
			    g->addr_width);
	if (g->gpgd == 0 || g->gpgd % SEED_PGD_ALIGN)
		return fail(why, whylen, -EINVAL, "page directory 0x%llx not 4 KiB aligned",
			    (unsigned long long)g->gpgd);
	if (!pasid_fits(g->hpasid, lim->pasid_bits))
		return fail(why, whylen, -EINVAL, "PASID %llu outside 1..%u for this device",
			    (unsigned long long)g->hpasid,
			    lim->pasid_bits >= 20 ? SEED_PASID_MAX : (1u << lim->pasid_bits) - 1);
	if ((g->flags & SEED_SVA_GPASID_VAL) ? g->gpasid > SEED_PASID_MAX : g->gpasid != 0)
		return fail(why, whylen, -EINVAL, "guest PASID %llu invalid",
			    (unsigned long long)g->gpasid);
	if (g->vendor.vtd.flags & ~SEED_SVA_VTD_GPASID_MASK)
		return fail(why, whylen, -EINVAL, "unknown VT-d flags 0x%llx",
			    (unsigned long long)(g->vendor.vtd.flags & ~SEED_SVA_VTD_GPASID_MASK));
	return 0;
}

static int check_pasid_table(const struct seed_pasid_table_info *p, const struct seed_limits *lim,
			     char *why, size_t whylen)
{
	uint64_t align = p->model == SEED_MODEL_ARM_SMMU ? SEED_SMMU_CD_ALIGN : SEED_PGD_ALIGN;
	uint64_t entries = lim->pasid_bits >= 20 ? SEED_SMMU_CD_MAX : 1ull << lim->pasid_bits;

	if (p->model != SEED_MODEL_INTEL_VTD && p->model != SEED_MODEL_ARM_SMMU)
		return fail(why, whylen, -EINVAL, "unknown PASID table model %u", p->model);
	if (p->model != lim->model)
		return fail(why, whylen, -EINVAL,
			    "PASID table model %s does not match the device's IOMMU",
			    p->model == SEED_MODEL_ARM_SMMU ? "smmu" : "vtd");
	if (p->length != 0)
		return fail(why, whylen, -EINVAL, "vendor data not supported");
	if (p->ptr == 0 || p->ptr % align)
		return fail(why, whylen, -EINVAL, "table pointer 0x%llx not %llu-byte aligned",
			    (unsigned long long)p->ptr, (unsigned long long)align);
	if (p->size == 0 || p->size % SEED_PASID_ENTRY_SIZE)
		return fail(why, whylen, -EINVAL, "table size %llu not a multiple of %u",
			    (unsigned long long)p->size, SEED_PASID_ENTRY_SIZE);
	if (p->size / SEED_PASID_ENTRY_SIZE > entries)
		return fail(why, whylen, -EINVAL, "table size %llu exceeds %llu entries",
			    (unsigned long long)p->size, (unsigned long long)entries);
	return 0;
}

int seed_check(const void *arg, size_t size, const struct seed_limits *lim, char *why,
	       size_t whylen)
{
	struct seed_arg a;
	uint32_t kind;

	if (size < sizeof(struct seed_svm))
		return fail(why, whylen, -EINVAL, "argument shorter than its header");
	memcpy(&a.hdr, arg, sizeof(a.hdr));
	kind = a.hdr.flags & SEED_SVM_TYPE_MASK;
	if (a.hdr.flags & ~SEED_SVM_TYPE_MASK)
		return fail(why, whylen, -EINVAL, "unknown flags 0x%x",
			    a.hdr.flags & ~SEED_SVM_TYPE_MASK);
	if (kind == 0 || (kind & (kind - 1)))
		return fail(why, whylen, -EINVAL, "need exactly one bind kind, flags 0x%x",
			    a.hdr.flags);
	if (a.hdr.length != payload_size(kind))
		return fail(why, whylen, -EINVAL, "payload length %u, kind needs %zu", a.hdr.length,
			    payload_size(kind));
	if (a.hdr.argsz != sizeof(struct seed_svm) + a.hdr.length)
		return fail(why, whylen, -EINVAL, "argsz %u != 12 + length %u", a.hdr.argsz,
			    a.hdr.length);
	if (size < a.hdr.argsz)
		return fail(why, whylen, -EINVAL, "argument shorter than argsz");
	memcpy(&a, arg, a.hdr.argsz);

	/* Copy the payload out to an aligned struct, as a kernel's copy_from_user would. */
	union {
		struct seed_svm_task task;
		struct seed_gpasid_bind_data pgtable;
		struct seed_pasid_table_info table;
	} p;
	memcpy(&p, seed_payload(&a), a.hdr.length);
	switch (kind) {
	case SEED_SVM_BIND_PASID:
		return check_task(&p.task, lim, why, whylen);
	case SEED_SVM_BIND_PGTABLE:
		return check_pgtable(&p.pgtable, lim, why, whylen);
	default:
		return check_pasid_table(&p.table, lim, why, whylen);
	}
}

int seed_check_bind(const struct bind_args *a, const struct device *dev, char *why, size_t whylen)
{
	struct seed_limits lim = {.pasid_bits = dev->pasid_bits, .model = dev->model};
	struct seed_arg arg;

	seed_encode(&arg, a);
	return seed_check(&arg, sizeof(arg), &lim, why, whylen);
}
