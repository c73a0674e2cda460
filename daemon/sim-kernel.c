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
	uint64_t changes; /* binds and unbinds done */
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
	if (r == 0)
		k->changes++;
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

/* The saved state: a header, then per device its name and PASID-table bit, then the bonds and
 * the address spaces, all little-endian fixed fields as this model keeps them. */
#define SAVE_MAGIC   "svmd-sim"
#define SAVE_VERSION 2u /* 1, still read, summed byte by byte */

struct save_header {
	char magic[8];
	uint32_t version;
	uint32_t n_devices, n_bonds, n_mms;
	uint64_t sum; /* of everything after the header */
	uint64_t len; /* bytes after the header */
};
_Static_assert(sizeof(struct save_header) == 40 && offsetof(struct save_header, len) == 32,
	       "backend-sim.c reads the length at byte 32 of a 40-byte header");
struct save_device {
	char name[SVMD_DEVICE_NAME_SZ];
	uint32_t pasid_table;
};
struct save_bond {
	uint32_t device, pasid, kind;
	int32_t pid;
};
struct save_mm {
	int32_t pid;
	uint32_t pasid, n_bonds;
};

/* FNV-1a over the bytes (version 1), or over 8-byte words and then the bytes left (version 2:
 * an eighth of the multiplications, which are most of what a save costs; each step folds the
 * high half back down, since a multiplication only carries a change upwards). */
static uint64_t checksum(const unsigned char *p, size_t n, uint32_t version)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i = 0;

	for (; version >= 2 && i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, sizeof(w));
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

uint64_t sim_kernel_changes(const struct sim_kernel *k)
{
	return k->changes;
}

int sim_kernel_save(const struct sim_kernel *k, void **ret, size_t *ret_len)
{
	struct save_header h = {.magic = SAVE_MAGIC,
				.version = SAVE_VERSION,
				.n_devices = (uint32_t)k->n_devices,
				.n_bonds = (uint32_t)k->bonds.n,
				.n_mms = (uint32_t)k->mms.n};
	size_t len = k->n_devices * sizeof(struct save_device) +
		     k->bonds.n * sizeof(struct save_bond) + k->mms.n * sizeof(struct save_mm);
	unsigned char *buf = calloc(1, sizeof(h) + len), *p;

	if (!buf)
		return -ENOMEM;
	p = buf + sizeof(h);
	for (size_t i = 0; i < k->n_devices; i++, p += sizeof(struct save_device)) {
		struct save_device d = {.pasid_table = k->devices[i].pasid_table};
		memcpy(d.name, k->devices[i].dev.name, sizeof(d.name));
		memcpy(p, &d, sizeof(d));
	}
	hashmap_for_each_safe (e, &k->bonds) {
		const struct bond *b = container_of(e, struct bond, node);
		struct save_bond sb = {.device = (uint32_t)(e->key >> 32),
				       .pasid = (uint32_t)e->key,
				       .kind = b->kind,
				       .pid = b->pid};
		memcpy(p, &sb, sizeof(sb));
		p += sizeof(sb);
	}
	hashmap_for_each_safe (e, &k->mms) {
		const struct mm *m = container_of(e, struct mm, node);
		struct save_mm sm = {
			.pid = (int32_t)e->key, .pasid = m->pasid, .n_bonds = m->n_bonds};
		memcpy(p, &sm, sizeof(sm));
		p += sizeof(sm);
	}
	h.len = len;
	h.sum = checksum(buf + sizeof(h), len, SAVE_VERSION);
	memcpy(buf, &h, sizeof(h));
	*ret = buf;
	*ret_len = sizeof(h) + len;
	return 0;
}

/* One saved bond into k, checked as a kernel's own bookkeeping would have it. */
static int restore_bond(struct sim_kernel *k, const struct save_bond *sb, char *why, size_t whylen)
{
	struct sim_device *d;
	struct bond *b;

	if (sb->device >= k->n_devices || sb->pasid == 0 || sb->pasid >= PASID_SPACE ||
	    (sb->kind != SEED_SVM_BIND_PASID && sb->kind != SEED_SVM_BIND_PGTABLE))
		return fail(why, whylen, -EINVAL, "a bind names device %u, PASID %u, kind %u",
			    sb->device, sb->pasid, sb->kind);
	d = &k->devices[sb->device];
	if (bond_get(k, d, sb->pasid) || d->pasid_table)
		return fail(why, whylen, -EINVAL, "PASID %u is bound twice on %s", sb->pasid,
			    d->dev.name);
	if (sb->kind == SEED_SVM_BIND_PGTABLE && !k->pgtable_refs &&
	    !(k->pgtable_refs = calloc(PASID_SPACE, sizeof(uint32_t))))
		return -ENOMEM;
	b = calloc(1, sizeof(*b));
	if (!b || hashmap_put(&k->bonds, &b->node, bond_key(d, sb->pasid)) < 0) {
		free(b);
		return -ENOMEM;
	}
	b->kind = sb->kind;
	b->pid = sb->kind == SEED_SVM_BIND_PASID ? sb->pid : 0;
	d->n_bonds++;
	if (sb->kind == SEED_SVM_BIND_PGTABLE) {
		k->pgtable_refs[sb->pasid]++;
		set_used(k, sb->pasid, true);
	}
	return 0;
}

static int restore_mm(struct sim_kernel *k, const struct save_mm *sm, char *why, size_t whylen)
{
	struct mm *m;
	unsigned n = 0;

	if (sm->pasid == 0 || sm->pasid >= PASID_SPACE || mm_get(k, sm->pid) ||
	    (k->pgtable_refs && k->pgtable_refs[sm->pasid]) || used(k, sm->pasid))
		return fail(why, whylen, -EINVAL, "process %d's PASID %u is not its own", sm->pid,
			    sm->pasid);
	/* Its bonds are the task bonds of that pid at that PASID, on any device. */
	for (size_t i = 0; i < k->n_devices; i++) {
		struct bond *b = bond_get(k, &k->devices[i], sm->pasid);
		if (b && b->kind == SEED_SVM_BIND_PASID && b->pid == sm->pid)
			n++;
		else if (b && b->kind == SEED_SVM_BIND_PASID)
			return fail(why, whylen, -EINVAL, "PASID %u is bound for two processes",
				    sm->pasid);
	}
	if (n == 0 || n != sm->n_bonds)
		return fail(why, whylen, -EINVAL, "process %d holds %u binds, not %u", sm->pid, n,
			    sm->n_bonds);
	m = calloc(1, sizeof(*m));
	if (!m || hashmap_put(&k->mms, &m->node, (uint64_t)(uint32_t)sm->pid) < 0) {
		free(m);
		return -ENOMEM;
	}
	m->pasid = sm->pasid;
	m->n_bonds = sm->n_bonds;
	set_used(k, sm->pasid, true);
	return 0;
}

static int restore_into(struct sim_kernel *k, const unsigned char *buf, size_t len, char *why,
			size_t whylen)
{
	struct save_header h;
	const unsigned char *p = buf + sizeof(h);
	size_t n_task = 0, mm_bonds = 0;
	int r;

	if (len < sizeof(h))
		return fail(why, whylen, -EINVAL, "%zu bytes: shorter than a header", len);
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, SAVE_MAGIC, sizeof(h.magic)) != 0)
		return fail(why, whylen, -EINVAL, "not a simulated kernel's state");
	if (h.version < 1 || h.version > SAVE_VERSION)
		return fail(why, whylen, -EINVAL, "version %u (this svmd reads 1 to %u)", h.version,
			    SAVE_VERSION);
	if (h.len != len - sizeof(h) || h.n_devices != k->n_devices ||
	    h.len != (uint64_t)h.n_devices * sizeof(struct save_device) +
			     (uint64_t)h.n_bonds * sizeof(struct save_bond) +
			     (uint64_t)h.n_mms * sizeof(struct save_mm))
		return fail(why, whylen, -EINVAL, "sizes do not add up (%u devices; %zu here)",
			    h.n_devices, k->n_devices);
	if (checksum(p, h.len, h.version) != h.sum)
		return fail(why, whylen, -EINVAL, "checksum mismatch");
	for (size_t i = 0; i < k->n_devices; i++, p += sizeof(struct save_device)) {
		struct save_device d;
		memcpy(&d, p, sizeof(d));
		if (memcmp(d.name, k->devices[i].dev.name, sizeof(d.name)) != 0)
			return fail(why, whylen, -EINVAL, "made on other devices (%.*s, not %s)",
				    (int)strnlen(d.name, sizeof(d.name)), d.name,
				    k->devices[i].dev.name);
		k->devices[i].pasid_table = d.pasid_table != 0;
	}
	for (uint32_t i = 0; i < h.n_bonds; i++, p += sizeof(struct save_bond)) {
		struct save_bond sb;
		memcpy(&sb, p, sizeof(sb));
		r = restore_bond(k, &sb, why, whylen);
		if (r < 0)
			return r;
		n_task += sb.kind == SEED_SVM_BIND_PASID;
	}
	for (uint32_t i = 0; i < h.n_mms; i++, p += sizeof(struct save_mm)) {
		struct save_mm sm;
		memcpy(&sm, p, sizeof(sm));
		r = restore_mm(k, &sm, why, whylen);
		if (r < 0)
			return r;
		mm_bonds += sm.n_bonds;
	}
	if (mm_bonds != n_task)
		return fail(why, whylen, -EINVAL, "%zu task binds belong to no process",
			    n_task - mm_bonds);
	for (size_t i = 0; i < k->n_devices; i++)
		if (k->devices[i].pasid_table && k->devices[i].n_bonds)
			return fail(why, whylen, -EINVAL, "%s has a PASID table and PASIDs bound",
				    k->devices[i].dev.name);
	return 0;
}

int sim_kernel_restore(const struct device *devices, size_t n, const void *buf, size_t len,
		       struct sim_kernel **ret, char *why, size_t whylen)
{
	struct sim_kernel *k = sim_kernel_new(devices, n);
	int r;

	if (!k)
		return -ENOMEM;
	r = restore_into(k, buf, len, why, whylen);
	if (r < 0) {
		sim_kernel_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

size_t sim_kernel_release_unclaimed(struct sim_kernel *k,
				    bool (*claimed)(void *userdata, const struct device *dev,
						    uint32_t slot),
				    void *userdata)
{
	size_t n = 0;

	for (size_t i = 0; i < k->n_devices; i++) {
		struct sim_device *d = &k->devices[i];
		if (d->pasid_table && !claimed(userdata, &d->dev, 0)) {
			d->pasid_table = false;
			k->changes++;
			n++;
		}
	}
	hashmap_for_each_safe (e, &k->bonds) {
		struct bond *b = container_of(e, struct bond, node);
		struct sim_device *d = &k->devices[e->key >> 32];
		uint32_t pasid = (uint32_t)e->key;
		if (claimed(userdata, &d->dev, pasid))
			continue;
		if (b->kind == SEED_SVM_BIND_PASID) {
			struct mm *m = mm_get(k, b->pid);
			if (m && --m->n_bonds == 0) {
				set_used(k, m->pasid, false);
				hashmap_remove(&k->mms, &m->node);
				free(m);
			}
		} else if (--k->pgtable_refs[pasid] == 0) {
			set_used(k, pasid, false);
		}
		hashmap_remove(&k->bonds, &b->node);
		free(b);
		d->n_bonds--;
		k->changes++;
		n++;
	}
	return n;
}

bool sim_kernel_holds(const struct sim_kernel *k, const struct device *dev,
		      const struct bind_args *a)
{
	const struct sim_device *d = dev->index < k->n_devices ? &k->devices[dev->index] : NULL;
	const struct bond *b;

	if (!d || strcmp(d->dev.name, dev->name) != 0)
		return false;
	if (a->kind == SVMD_KIND_PASID_TABLE)
		return d->pasid_table;
	if (a->pasid == 0 || a->pasid >= PASID_SPACE || !(b = bond_get(k, d, a->pasid)))
		return false;
	if (a->kind == SVMD_KIND_TASK)
		return b->kind == SEED_SVM_BIND_PASID && b->pid == a->task.pid;
	return a->kind == SVMD_KIND_PGTABLE && b->kind == SEED_SVM_BIND_PGTABLE;
}
