/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated kernel: what a kernel implementing the seed VFIO_IOMMU_SVM_BIND would keep and
 * answer. State: per device the PASIDs bound on it (task or page table) and whether a PASID table
 * is bound; per process (address space) its one PASID, shared by all devices it is bound to;
 * and the global PASID space those are allocated from.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "hashmap.h"
#include "seed-abi.h"
#include "sim-kernel.h"
#include "util.h"

#define PASID_SPACE (SEED_PASID_MAX + 1)

/* One PASID bound on one device. */
struct bond {
	struct hnode node; /* key: device index << 32 | pasid */
	uint32_t kind;     /* SEED_SVM_BIND_PASID or _PGTABLE */
	int32_t pid;       /* task bonds: the process */
};

/* A process address space holding a PASID. */
struct mm {
	struct hnode node; /* key: pid */
	uint32_t pasid;
	unsigned n_bonds;
};

struct sim_device {
	struct device dev;
	size_t n_bonds;
	bool pasid_table;
};

struct sim_kernel {
	struct sim_device *devices;
	size_t n_devices;
	struct hashmap bonds; /* (device, PASID) -> struct bond */
	struct hashmap mms;   /* pid -> struct mm */
	/* PASIDs in use anywhere: a process's, or bound as a page table on some device. Page-table
	 * PASIDs are counted per device, so the bit clears when the last one goes. */
	uint64_t *used;
	uint32_t *pgtable_refs; /* per PASID, allocated lazily */
	uint32_t next_hint;
};

static uint64_t bond_key(const struct sim_device *d, uint32_t pasid)
{
	return (uint64_t)d->dev.index << 32 | pasid;
}

struct sim_kernel *sim_kernel_new(const struct device *devices, size_t n)
{
	struct sim_kernel *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->devices = calloc(n ? n : 1, sizeof(*k->devices));
	k->used = calloc(PASID_SPACE / 64, sizeof(uint64_t));
	if (!k->devices || !k->used)
		return sim_kernel_free(k);
	for (size_t i = 0; i < n; i++) {
		k->devices[i].dev = devices[i];
		k->devices[i].dev.index = (unsigned)i;
	}
	k->n_devices = n;
	k->used[0] = 1; /* PASID 0 is reserved */
	k->next_hint = 1;
	return k;
}

static void free_table(struct hashmap *h, size_t offset)
{
	for (size_t i = 0; i < h->n_buckets; i++) {
		struct hnode *e = h->buckets[i];
		while (e) {
			struct hnode *next = e->next;
			free((char *)e - offset);
			e = next;
		}
	}
	hashmap_done(h);
}

struct sim_kernel *sim_kernel_free(struct sim_kernel *k)
{
	if (!k)
		return NULL;
	free_table(&k->bonds, offsetof(struct bond, node));
	free_table(&k->mms, offsetof(struct mm, node));
	free(k->devices);
	free(k->used);
	free(k->pgtable_refs);
	free(k);
	return NULL;
}

static bool used(const struct sim_kernel *k, uint32_t p)
{
	return k->used[p / 64] >> (p % 64) & 1;
}

static void set_used(struct sim_kernel *k, uint32_t p, bool on)
{
	if (on)
		k->used[p / 64] |= 1ull << (p % 64);
	else
		k->used[p / 64] &= ~(1ull << (p % 64));
}

/* The lowest free PASID below limit (exclusive), or 0. */
static uint32_t alloc_pasid(struct sim_kernel *k, uint32_t limit)
{
	for (uint32_t w = 0; w < (limit + 63) / 64; w++) {
		uint64_t free_bits = ~k->used[w];
		if (!free_bits)
			continue;
		uint32_t p = w * 64 + (uint32_t)__builtin_ctzll(free_bits);
		return p < limit ? p : 0;
	}
	return 0;
}

static struct mm *mm_get(const struct sim_kernel *k, int32_t pid)
{
	struct hnode *n = hashmap_get(&k->mms, (uint64_t)(uint32_t)pid);
	return n ? container_of(n, struct mm, node) : NULL;
}

static struct bond *bond_get(const struct sim_kernel *k, const struct sim_device *d, uint32_t pasid)
{
	struct hnode *n = hashmap_get(&k->bonds, bond_key(d, pasid));
	return n ? container_of(n, struct bond, node) : NULL;
}

static uint32_t pasid_limit(const struct sim_device *d)
{
	return d->dev.pasid_bits >= 20 ? PASID_SPACE : 1u << d->dev.pasid_bits;
}

static bool process_exists(int32_t pid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return pid > 0 && stat(path, &st) == 0;
}

static int bind_task(struct sim_kernel *k, struct sim_device *d, struct seed_svm_task *t, char *why,
		     size_t whylen)
{
	struct mm *mm;
	uint32_t pasid;

	if (!(t->flags & SEED_SVM_PID_VALID))
		/* svmd always names the process; binding the daemon itself makes no sense. */
		return fail(why, whylen, -EINVAL, "no pid given");
	if (!process_exists(t->pid))
		return fail(why, whylen, -ESRCH, "no process %d", t->pid);
	if (d->pasid_table)
		return fail(why, whylen, -EBUSY, "a guest PASID table is bound on %s", d->dev.name);

	mm = mm_get(k, t->pid);
	if (mm) {
		pasid = mm->pasid;
		if (t->pasid && t->pasid != pasid)
			return fail(why, whylen, -EINVAL, "process %d already has PASID %u", t->pid,
				    pasid);
		if (pasid >= pasid_limit(d))
			return fail(why, whylen, -EINVAL,
				    "process %d has PASID %u, beyond %s's %u-bit PASIDs", t->pid,
				    pasid, d->dev.name, d->dev.pasid_bits);
		if (bond_get(k, d, pasid))
			return fail(why, whylen, -EBUSY, "PASID %u already bound on %s", pasid,
				    d->dev.name);
	} else if (t->pasid) {
		pasid = t->pasid;
		if (used(k, pasid))
			return fail(why, whylen, -EBUSY, "PASID %u is in use", pasid);
	} else {
		pasid = alloc_pasid(k, pasid_limit(d));
		if (!pasid)
			return fail(why, whylen, -ENOSPC, "no free PASID within %s's %u bits",
				    d->dev.name, d->dev.pasid_bits);
	}

	struct bond *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (!mm) {
		mm = calloc(1, sizeof(*mm));
		if (!mm || hashmap_put(&k->mms, &mm->node, (uint64_t)(uint32_t)t->pid) < 0) {
			free(mm);
			free(b);
			return -ENOMEM;
		}
		mm->pasid = pasid;
		set_used(k, pasid, true);
	}
	if (hashmap_put(&k->bonds, &b->node, bond_key(d, pasid)) < 0) {
		if (mm->n_bonds == 0) {
			hashmap_remove(&k->mms, &mm->node);
			set_used(k, pasid, false);
			free(mm);
		}
		free(b);
		return -ENOMEM;
	}
	b->kind = SEED_SVM_BIND_PASID;
	b->pid = t->pid;
	mm->n_bonds++;
	d->n_bonds++;
	t->pasid = pasid;
	return 0;
}

static int unbind_task(struct sim_kernel *k, struct sim_device *d, const struct seed_svm_task *t,
		       char *why, size_t whylen)
{
	struct mm *mm = (t->flags & SEED_SVM_PID_VALID) ? mm_get(k, t->pid) : NULL;
	struct bond *b;

	if (!mm || (t->pasid && t->pasid != mm->pasid))
		return fail(why, whylen, -EINVAL, "process %d not bound", t->pid);
	b = bond_get(k, d, mm->pasid);
	if (!b || b->kind != SEED_SVM_BIND_PASID || b->pid != t->pid)
		return fail(why, whylen, -EINVAL, "process %d not bound on %s", t->pid,
			    d->dev.name);
	hashmap_remove(&k->bonds, &b->node);
	free(b);
	d->n_bonds--;
	if (--mm->n_bonds == 0) {
		set_used(k, mm->pasid, false);
		hashmap_remove(&k->mms, &mm->node);
		free(mm);
	}
	return 0;
}

static int bind_pgtable(struct sim_kernel *k, struct sim_device *d,
			const struct seed_gpasid_bind_data *g, char *why, size_t whylen)
{
	uint32_t pasid = (uint32_t)g->hpasid;
	struct bond *b;

	if (d->pasid_table)
		return fail(why, whylen, -EBUSY, "a guest PASID table is bound on %s", d->dev.name);
	if (bond_get(k, d, pasid))
		return fail(why, whylen, -EBUSY, "PASID %u already bound on %s", pasid,
			    d->dev.name);
	if (used(k, pasid) && (!k->pgtable_refs || k->pgtable_refs[pasid] == 0))
		return fail(why, whylen, -EBUSY, "PASID %u belongs to a process address space",
			    pasid);
	if (!k->pgtable_refs) {
		k->pgtable_refs = calloc(PASID_SPACE, sizeof(uint32_t));
		if (!k->pgtable_refs)
			return -ENOMEM;
	}
	b = calloc(1, sizeof(*b));
	if (!b || hashmap_put(&k->bonds, &b->node, bond_key(d, pasid)) < 0) {
		free(b);
		return -ENOMEM;
	}
	b->kind = SEED_SVM_BIND_PGTABLE;
	k->pgtable_refs[pasid]++;
	set_used(k, pasid, true);
	d->n_bonds++;
	return 0;
}

static int unbind_pgtable(struct sim_kernel *k, struct sim_device *d,
			  const struct seed_gpasid_bind_data *g, char *why, size_t whylen)
{
	uint32_t pasid = (uint32_t)g->hpasid;
	struct bond *b = bond_get(k, d, pasid);

	if (!b || b->kind != SEED_SVM_BIND_PGTABLE)
		return fail(why, whylen, -EINVAL, "no page table bound at PASID %u on %s", pasid,
			    d->dev.name);
	hashmap_remove(&k->bonds, &b->node);
	free(b);
	d->n_bonds--;
	if (--k->pgtable_refs[pasid] == 0)
		set_used(k, pasid, false);
	return 0;
}

static int pasid_table(struct sim_device *d, bool bind, char *why, size_t whylen)
{
	if (!bind) {
		if (!d->pasid_table)
			return fail(why, whylen, -EINVAL, "no PASID table bound on %s",
				    d->dev.name);
		d->pasid_table = false;
		return 0;
	}
	if (d->pasid_table)
		return fail(why, whylen, -EBUSY, "a PASID table is already bound on %s",
			    d->dev.name);
	if (d->n_bonds)
		return fail(why, whylen, -EBUSY, "%s has %zu PASIDs bound", d->dev.name,
			    d->n_bonds);
	d->pasid_table = true;
	return 0;
}

int sim_kernel_ioctl(struct sim_kernel *k, uint32_t group, unsigned long request, void *arg,
		     size_t size, char *why, size_t whylen)
{
	struct sim_device *d = NULL;
	struct seed_arg a;
	size_t n_in_group = 0;
	int r;

	if (request != SEED_VFIO_IOMMU_SVM_BIND && request != SEED_VFIO_IOMMU_SVM_UNBIND)
		return fail(why, whylen, -ENOTTY, "unknown ioctl 0x%lx", request);
	for (size_t i = 0; i < k->n_devices; i++)
		if (k->devices[i].dev.iommu_group == group) {
			d = d ? d : &k->devices[i];
			n_in_group++;
		}
	if (!d)
		return fail(why, whylen, -ENODEV, "no container for IOMMU group %u", group);

	/* A kernel looks at the header first: which kind, and whether the device can do it. */
	if (size < sizeof(a.hdr))
		return fail(why, whylen, -EINVAL, "argument shorter than its header");
	memcpy(&a.hdr, arg, sizeof(a.hdr));
	static const struct {
		uint32_t flag, kind;
		const char *what;
	} kinds[] = {
		{SEED_SVM_BIND_PASID, SVMD_KIND_TASK, "process address spaces"},
		{SEED_SVM_BIND_PGTABLE, SVMD_KIND_PGTABLE, "guest page tables"},
		{SEED_SVM_BIND_PASIDTBL, SVMD_KIND_PASID_TABLE, "guest PASID tables"},
	};
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (a.hdr.flags == kinds[i].flag && !(d->dev.kinds & SVMD_KIND_BIT(kinds[i].kind)))
			return fail(why, whylen, -EOPNOTSUPP, "%s cannot bind %s", d->dev.name,
				    kinds[i].what);

	struct seed_limits lim = {.pasid_bits = d->dev.pasid_bits, .model = d->dev.model};
	r = seed_check(arg, size, &lim, why, whylen);
	if (r < 0)
		return r;
	memcpy(&a, arg, a.hdr.argsz);

	if (n_in_group > 1)
		return fail(why, whylen, -EINVAL,
			    "IOMMU group %u has %zu devices; SVM binds need a group of one", group,
			    n_in_group);

	bool bind = request == SEED_VFIO_IOMMU_SVM_BIND;
	union {
		struct seed_svm_task task;
		struct seed_gpasid_bind_data pgtable;
	} p;
	memcpy(&p, seed_payload(&a), a.hdr.length < sizeof(p) ? a.hdr.length : sizeof(p));
	switch (a.hdr.flags) {
	case SEED_SVM_BIND_PASID:
		r = bind ? bind_task(k, d, &p.task, why, whylen)
			 : unbind_task(k, d, &p.task, why, whylen);
		if (r == 0)
			/* Write back what a kernel writes back: the PASID bound. */
			memcpy((char *)arg + sizeof(a.hdr), &p.task, sizeof(p.task));
		break;
	case SEED_SVM_BIND_PGTABLE:
		r = bind ? bind_pgtable(k, d, &p.pgtable, why, whylen)
			 : unbind_pgtable(k, d, &p.pgtable, why, whylen);
		break;
	default:
		r = pasid_table(d, bind, why, whylen);
		break;
	}
	return r;
}

int sim_kernel_check(const struct device *dev, const struct bind_args *a, char *why, size_t whylen)
{
	return seed_check_bind(a, dev, why, whylen);
}

int sim_kernel_bind(struct sim_kernel *k, uint32_t group, struct bind_args *a, char *why,
		    size_t whylen)
{
	struct seed_arg arg;
	int r;

	seed_encode(&arg, a);
	r = sim_kernel_ioctl(k, group, SEED_VFIO_IOMMU_SVM_BIND, &arg, sizeof(arg), why, whylen);
	if (r == 0 && a->kind == SVMD_KIND_TASK) {
		struct seed_svm_task t;
		memcpy(&t, seed_payload(&arg), sizeof(t));
		a->pasid = t.pasid;
	}
	return r;
}

int sim_kernel_unbind(struct sim_kernel *k, uint32_t group, const struct bind_args *a, char *why,
		      size_t whylen)
{
	struct seed_arg arg;

	seed_encode(&arg, a);
	return sim_kernel_ioctl(k, group, SEED_VFIO_IOMMU_SVM_UNBIND, &arg, sizeof(arg), why,
				whylen);
}

size_t sim_kernel_n_bound(const struct sim_kernel *k, const char *device)
{
	for (size_t i = 0; i < k->n_devices; i++)
		if (strcmp(k->devices[i].dev.name, device) == 0)
			return k->devices[i].n_bonds + k->devices[i].pasid_table;
	return 0;
}

size_t sim_kernel_n_mm(const struct sim_kernel *k)
{
	return k->mms.n;
}
