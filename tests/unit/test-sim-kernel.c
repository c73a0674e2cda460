/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated kernel behind the sim backend: every errno sim-kernel.h documents, PASID
 * allocation and sharing, and the topology parser with the built-in default machine.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend-sim.h"
#include "backends.h"
#include "seed-abi.h"
#include "sim-kernel.h"

#define BIND   SEED_VFIO_IOMMU_SVM_BIND
#define UNBIND SEED_VFIO_IOMMU_SVM_UNBIND

#define K_TASK  SVMD_KIND_BIT(SVMD_KIND_TASK)
#define K_PGT   SVMD_KIND_BIT(SVMD_KIND_PGTABLE)
#define K_TABLE SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE)
#define K_ALL   (K_TASK | K_PGT | K_TABLE)

/* The hand-made machine: one IOMMU group per situation. */
enum {
	G_A = 1,      /* 0000:01:00.0: VT-d, 20 bits, every kind */
	G_B = 2,      /* 0000:02:00.0: the same */
	G_TINY = 3,   /* 0000:03:00.0: VT-d, 2 bits (PASIDs 1..3), task and pgtable */
	G_SMMU = 4,   /* 0000:04:00.0: SMMU, 16 bits, task and pasid-table */
	G_NONE = 5,   /* 0000:05:00.0: no PASID capability, no kinds */
	G_SHARED = 6, /* 0000:06:00.0 and 0000:06:00.1: one group, two devices */
};
#define DEV_A      "0000:01:00.0"
#define DEV_B      "0000:02:00.0"
#define DEV_TINY   "0000:03:00.0"
#define DEV_SMMU   "0000:04:00.0"
#define DEV_NONE   "0000:05:00.0"
#define DEV_SHARE0 "0000:06:00.0"
#define DEV_SHARE1 "0000:06:00.1"

static const struct device machine[] = {
	{.name = DEV_A,
	 .iommu_group = G_A,
	 .pasid_bits = 20,
	 .model = SVMD_MODEL_VTD,
	 .kinds = K_ALL},
	{.name = DEV_B,
	 .iommu_group = G_B,
	 .pasid_bits = 20,
	 .model = SVMD_MODEL_VTD,
	 .kinds = K_ALL},
	{.name = DEV_TINY,
	 .iommu_group = G_TINY,
	 .pasid_bits = 2,
	 .model = SVMD_MODEL_VTD,
	 .kinds = K_TASK | K_PGT},
	{.name = DEV_SMMU,
	 .iommu_group = G_SMMU,
	 .pasid_bits = 16,
	 .model = SVMD_MODEL_SMMU,
	 .kinds = K_TASK | K_TABLE},
	{.name = DEV_NONE, .iommu_group = G_NONE, .pasid_bits = 0, .model = SVMD_MODEL_NONE},
	{.name = DEV_SHARE0,
	 .iommu_group = G_SHARED,
	 .pasid_bits = 20,
	 .model = SVMD_MODEL_VTD,
	 .kinds = K_ALL},
	{.name = DEV_SHARE1,
	 .iommu_group = G_SHARED,
	 .pasid_bits = 20,
	 .model = SVMD_MODEL_VTD,
	 .kinds = K_ALL},
};

static struct sim_kernel *k;
static char why[256];

/* Children that sleep until killed: processes to bind. */
static pid_t children[8];
static size_t n_children;

static pid_t spawn_sleeper(void)
{
	pid_t parent = getpid();
	pid_t pid;

	cr_assert_lt(n_children, sizeof(children) / sizeof(children[0]));
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %m");
	if (pid == 0) {
		/* Dies with the test even when an assertion ends it early. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;)
			pause();
	}
	children[n_children++] = pid;
	return pid;
}

/* Kills and reaps every sleeper; idempotent. */
static void reap_children(void)
{
	for (size_t i = 0; i < n_children; i++) {
		kill(children[i], SIGKILL);
		cr_assert_eq(waitpid(children[i], NULL, 0), children[i]);
	}
	n_children = 0;
}

/* A pid that no process has: a child that exited and was reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %m");
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void setup(void)
{
	k = sim_kernel_new(machine, sizeof(machine) / sizeof(machine[0]));
	cr_assert_not_null(k);
}

static void teardown(void)
{
	reap_children();
	k = sim_kernel_free(k);
}

TestSuite(sim_kernel, .init = setup, .fini = teardown);

static int issue(uint32_t group, unsigned long req, struct seed_arg *a)
{
	memset(why, 0, sizeof(why));
	return sim_kernel_ioctl(k, group, req, a, sizeof(*a), why, sizeof(why));
}

/* A task bind or unbind of pid; *ret (if not NULL) gets the PASID written back. */
static int task(uint32_t group, unsigned long req, pid_t pid, uint32_t pasid, uint32_t *ret)
{
	struct bind_args b = {.kind = SVMD_KIND_TASK, .pasid = pasid, .task.pid = pid};
	struct seed_arg a;
	int r;

	seed_encode(&a, &b);
	r = issue(group, req, &a);
	if (ret)
		*ret = ((struct seed_svm_task *)seed_payload(&a))->pasid;
	return r;
}

static int pgtable_full(uint32_t group, unsigned long req, uint32_t pasid, uint64_t gpgd,
			uint32_t addr_width)
{
	struct bind_args b = {
		.kind = SVMD_KIND_PGTABLE,
		.pasid = pasid,
		.pgtable = {.gpgd = gpgd, .addr_width = addr_width, .format = 1},
	};
	struct seed_arg a;

	seed_encode(&a, &b);
	return issue(group, req, &a);
}

static int pgtable(uint32_t group, unsigned long req, uint32_t pasid)
{
	return pgtable_full(group, req, pasid, 0x100000, 48);
}

static int table_full(uint32_t group, unsigned long req, uint64_t ptr, uint64_t size,
		      uint32_t model)
{
	struct bind_args b = {
		.kind = SVMD_KIND_PASID_TABLE,
		.table = {.ptr = ptr, .size = size, .model = model},
	};
	struct seed_arg a;

	seed_encode(&a, &b);
	return issue(group, req, &a);
}

/* A valid PASID table for the group's device. */
static int table(uint32_t group, unsigned long req)
{
	if (group == G_SMMU)
		return table_full(group, req, 0x8040, 64 * 64, SEED_MODEL_ARM_SMMU);
	return table_full(group, req, 0x80000, 4096, SEED_MODEL_INTEL_VTD);
}

#define assert_ok(expr)                                                                            \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		cr_assert_eq(r_, 0, "%s: %d (%s)", #expr, r_, why);                                \
	} while (0)

/* The call fails with err and a one-line reason containing what. */
#define assert_err(expr, err, what)                                                                \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		cr_assert_eq(r_, err, "%s: got %d (%s), want %s", #expr, r_, why, #err);           \
		cr_assert_neq(why[0], 0, "%s: no reason given", #expr);                            \
		cr_assert_not_null(strstr(why, what), "%s: reason '%s' lacks '%s'", #expr, why,    \
				   what);                                                          \
	} while (0)

static void assert_idle(void)
{
	for (size_t i = 0; i < sizeof(machine) / sizeof(machine[0]); i++)
		cr_assert_eq(sim_kernel_n_bound(k, machine[i].name), 0, "%s has binds",
			     machine[i].name);
	cr_assert_eq(sim_kernel_n_mm(k), 0);
}

/*
 * Task binds.
 */

Test(sim_kernel, fresh_kernel_is_idle)
{
	assert_idle();
	cr_assert_eq(sim_kernel_n_bound(k, "0000:99:00.0"), 0);
}

Test(sim_kernel, task_bind_returns_pasid)
{
	struct bind_args b = {.kind = SVMD_KIND_TASK, .task.pid = getpid()};
	struct seed_arg a, before;
	struct seed_svm_task *t = seed_payload(&a);

	seed_encode(&a, &b);
	before = a;
	assert_ok(issue(G_A, BIND, &a));
	/* The lowest free PASID; 0 is reserved. */
	cr_assert_eq(t->pasid, 1);
	/* Only the PASID is written back. */
	cr_assert_eq(memcmp(a.bytes, before.bytes, 16), 0);
	cr_assert_eq(t->pid, getpid());
	cr_assert_eq(t->flags, SEED_SVM_PID_VALID);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_B), 0);
	cr_assert_eq(sim_kernel_n_mm(k), 1);
}

Test(sim_kernel, same_process_other_device_same_pasid)
{
	uint32_t p1 = 0, p2 = 0, p3 = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p1));
	assert_ok(task(G_B, BIND, getpid(), 0, &p2));
	assert_ok(task(G_SMMU, BIND, getpid(), 0, &p3));
	cr_assert_geq(p1, 1);
	cr_assert_eq(p2, p1);
	cr_assert_eq(p3, p1);
	cr_assert_eq(sim_kernel_n_mm(k), 1, "one address space, one PASID");
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_B), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_SMMU), 1);
	/* Asking for the PASID it already has is the same thing; another one is not. */
	assert_ok(task(G_TINY, BIND, getpid(), p1, &p2));
	cr_assert_eq(p2, p1);
	cr_assert_eq(sim_kernel_n_mm(k), 1);
}

Test(sim_kernel, process_keeps_its_pasid_when_asking_another)
{
	uint32_t p = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	assert_err(task(G_B, BIND, getpid(), p + 1, NULL), -EINVAL, "already has PASID");
	cr_assert_eq(sim_kernel_n_bound(k, DEV_B), 0);
}

Test(sim_kernel, same_process_same_device_busy)
{
	struct bind_args b = {.kind = SVMD_KIND_TASK, .task.pid = getpid()};
	struct seed_arg a, before;
	uint32_t p = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	seed_encode(&a, &b);
	before = a;
	assert_err(issue(G_A, BIND, &a), -EBUSY, "already bound on " DEV_A);
	/* Nothing written back on failure, nothing changed. */
	cr_assert_eq(memcmp(&a, &before, sizeof(a)), 0);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_mm(k), 1);
	/* Also when asking for its own PASID explicitly. */
	assert_err(task(G_A, BIND, getpid(), p, NULL), -EBUSY, "already bound");
}

Test(sim_kernel, different_processes_different_pasids)
{
	pid_t child = spawn_sleeper();
	uint32_t p1 = 0, p2 = 0, p3 = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p1));
	assert_ok(task(G_A, BIND, child, 0, &p2));
	assert_ok(task(G_A, BIND, getppid(), 0, &p3));
	cr_assert_eq(p1, 1);
	cr_assert_eq(p2, 2);
	cr_assert_eq(p3, 3);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 3);
	cr_assert_eq(sim_kernel_n_mm(k), 3);
	/* The child on another device keeps its own PASID. */
	assert_ok(task(G_B, BIND, child, 0, &p1));
	cr_assert_eq(p1, p2);
	reap_children();
}

Test(sim_kernel, missing_process_esrch)
{
	pid_t dead = dead_pid();

	assert_err(task(G_A, BIND, dead, 0, NULL), -ESRCH, "no process");
	/* Beyond any pid_max. */
	assert_err(task(G_A, BIND, 0x3fffffff, 0, NULL), -ESRCH, "no process 1073741823");
	assert_idle();
}

Test(sim_kernel, task_needs_a_pid)
{
	struct seed_arg a;
	struct seed_svm_task *t = seed_payload(&a);

	seed_arg_init(&a, SEED_SVM_BIND_PASID);
	t->flags = 0;
	assert_err(issue(G_A, BIND, &a), -EINVAL, "no pid");
	assert_idle();
}

Test(sim_kernel, requested_pasid)
{
	pid_t child = spawn_sleeper();
	uint32_t p = 0, q = 0;

	assert_ok(task(G_A, BIND, getpid(), 77, &p));
	cr_assert_eq(p, 77);
	/* In use by another address space. */
	assert_err(task(G_A, BIND, child, 77, NULL), -EBUSY, "PASID 77 is in use");
	assert_err(task(G_B, BIND, child, 77, NULL), -EBUSY, "PASID 77 is in use");
	/* In use as a page table somewhere. */
	assert_ok(pgtable(G_B, BIND, 78));
	assert_err(task(G_A, BIND, child, 78, NULL), -EBUSY, "PASID 78 is in use");
	cr_assert_eq(sim_kernel_n_mm(k), 1);
	/* Allocation takes the lowest free PASID around those. */
	assert_ok(task(G_A, BIND, child, 0, &q));
	cr_assert_eq(q, 1);
	reap_children();
}

/*
 * Page tables.
 */

Test(sim_kernel, pgtable_bind_and_busy)
{
	assert_ok(pgtable(G_A, BIND, 5));
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_mm(k), 0, "a page table is no process address space");
	assert_err(pgtable(G_A, BIND, 5), -EBUSY, "PASID 5 already bound on " DEV_A);
	/* Even with another page directory. */
	assert_err(pgtable_full(G_A, BIND, 5, 0x200000, 57), -EBUSY, "already bound");
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	assert_ok(pgtable(G_A, BIND, 6));
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 2);
}

Test(sim_kernel, pgtable_at_task_pasid_busy)
{
	uint32_t here = 0, there = 0;
	pid_t child = spawn_sleeper();

	/* Bound on this device... */
	assert_ok(task(G_A, BIND, getpid(), 0, &here));
	assert_err(pgtable(G_A, BIND, here), -EBUSY, "already bound");
	/* ...or only on another one: the PASID belongs to the address space everywhere. */
	assert_ok(task(G_B, BIND, child, 0, &there));
	cr_assert_neq(here, there);
	assert_err(pgtable(G_A, BIND, there), -EBUSY, "belongs to a process address space");
	assert_err(pgtable(G_TINY, BIND, there), -EBUSY, "belongs to a process address space");
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_TINY), 0);
	reap_children();
}

Test(sim_kernel, pgtable_same_pasid_two_devices)
{
	uint32_t p = 0;

	assert_ok(pgtable(G_A, BIND, 2));
	assert_ok(pgtable(G_B, BIND, 2));
	assert_ok(pgtable(G_TINY, BIND, 2));
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_B), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_TINY), 1);
	/* The PASID stays taken until its last page table goes. */
	assert_ok(pgtable(G_A, UNBIND, 2));
	assert_ok(pgtable(G_B, UNBIND, 2));
	assert_err(task(G_A, BIND, getpid(), 2, NULL), -EBUSY, "in use");
	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	cr_assert_eq(p, 1);
	assert_ok(task(G_A, UNBIND, getpid(), 0, NULL));
	assert_ok(pgtable(G_TINY, UNBIND, 2));
	assert_idle();
	assert_ok(task(G_A, BIND, getpid(), 2, &p));
	cr_assert_eq(p, 2);
}

/*
 * PASID tables.
 */

Test(sim_kernel, second_pasid_table_busy)
{
	assert_ok(table(G_A, BIND));
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	assert_err(table(G_A, BIND), -EBUSY, "PASID table is already bound on " DEV_A);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	/* Another device has its own. */
	assert_ok(table(G_B, BIND));
	assert_ok(table(G_SMMU, BIND));
	assert_ok(table(G_A, UNBIND));
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 0);
	assert_ok(table(G_A, BIND));
}

Test(sim_kernel, pasid_table_blocks_pasid_binds)
{
	assert_ok(table(G_A, BIND));
	assert_err(task(G_A, BIND, getpid(), 0, NULL), -EBUSY, "PASID table is bound on " DEV_A);
	assert_err(pgtable(G_A, BIND, 9), -EBUSY, "PASID table is bound on " DEV_A);
	cr_assert_eq(sim_kernel_n_mm(k), 0);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	/* Not on other devices. */
	assert_ok(pgtable(G_B, BIND, 9));
	assert_ok(table(G_A, UNBIND));
	assert_ok(task(G_A, BIND, getpid(), 0, NULL));
	assert_ok(pgtable(G_A, BIND, 10));
}

Test(sim_kernel, pasid_binds_block_pasid_table)
{
	uint32_t p = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	assert_err(table(G_A, BIND), -EBUSY, DEV_A " has 1 PASIDs bound");
	assert_ok(pgtable(G_A, BIND, 40));
	assert_err(table(G_A, BIND), -EBUSY, "has 2 PASIDs bound");
	assert_ok(task(G_A, UNBIND, getpid(), 0, NULL));
	assert_err(table(G_A, BIND), -EBUSY, "has 1 PASIDs bound");
	assert_ok(pgtable(G_A, UNBIND, 40));
	assert_ok(table(G_A, BIND));
	/* SMMU: task binds block the CD table too. */
	assert_ok(task(G_SMMU, BIND, getpid(), 0, NULL));
	assert_err(table(G_SMMU, BIND), -EBUSY, "PASIDs bound");
}

/*
 * -EINVAL from the argument and the device's limits.
 */

struct einval_case {
	char name[48];
	uint32_t group;
	uint32_t kind; /* enum svmd_kind */
	uint32_t pasid;
	uint64_t gpgd;
	uint32_t addr_width;
	uint64_t ptr, size;
	uint32_t model;
	char why[64];
};

ParameterizedTestParameters(sim_kernel, einval)
{
	static struct einval_case cases[] = {
		{"addr width 39", G_A, SVMD_KIND_PGTABLE, 1, 0x1000, 39, 0, 0, 0,
		 "address width 39"},
		{"addr width 64", G_A, SVMD_KIND_PGTABLE, 1, 0x1000, 64, 0, 0, 0,
		 "address width 64"},
		{"gpgd misaligned", G_A, SVMD_KIND_PGTABLE, 1, 0x1800, 48, 0, 0, 0, "not 4 KiB"},
		{"gpgd 0", G_A, SVMD_KIND_PGTABLE, 1, 0, 48, 0, 0, 0, "not 4 KiB aligned"},
		{"pgtable PASID 0", G_A, SVMD_KIND_PGTABLE, 0, 0x1000, 48, 0, 0, 0,
		 "PASID 0 outside"},
		{"pgtable PASID 2^20", G_A, SVMD_KIND_PGTABLE, 0x100000, 0x1000, 48, 0, 0, 0,
		 "PASID 1048576 outside"},
		{"pgtable PASID 4 of 2 bits", G_TINY, SVMD_KIND_PGTABLE, 4, 0x1000, 57, 0, 0, 0,
		 "PASID 4 outside 1..3"},
		{"task PASID 2^20", G_A, SVMD_KIND_TASK, 0x100000, 0, 0, 0, 0, 0, "PASID 1048576"},
		{"task PASID 4 of 2 bits", G_TINY, SVMD_KIND_TASK, 4, 0, 0, 0, 0, 0,
		 "outside 1..3"},
		{"task PASID 2^16 of 16 bits", G_SMMU, SVMD_KIND_TASK, 0x10000, 0, 0, 0, 0, 0,
		 "outside 1..65535"},
		{"vtd table misaligned", G_A, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0x80040, 4096,
		 SEED_MODEL_INTEL_VTD, "not 4096-byte aligned"},
		{"smmu table misaligned", G_SMMU, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0x8020, 4096,
		 SEED_MODEL_ARM_SMMU, "not 64-byte aligned"},
		{"table ptr 0", G_SMMU, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0, 4096,
		 SEED_MODEL_ARM_SMMU, "pointer 0x0"},
		{"table size 100", G_A, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0x80000, 100,
		 SEED_MODEL_INTEL_VTD, "not a multiple of 64"},
		{"table beyond 16 bits", G_SMMU, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0x8000,
		 (64ull << 16) + 64, SEED_MODEL_ARM_SMMU, "exceeds 65536 entries"},
		{"vtd table on SMMU", G_SMMU, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0x80000, 4096,
		 SEED_MODEL_INTEL_VTD, "does not match"},
		/* Any bind on a group of two devices. */
		{"shared group task", G_SHARED, SVMD_KIND_TASK, 0, 0, 0, 0, 0, 0, "group of one"},
		{"shared group task at PASID", G_SHARED, SVMD_KIND_TASK, 7, 0, 0, 0, 0, 0,
		 "IOMMU group 6 has 2 devices"},
		{"shared group pgtable", G_SHARED, SVMD_KIND_PGTABLE, 7, 0x1000, 48, 0, 0, 0,
		 "IOMMU group 6 has 2 devices"},
		{"shared group table", G_SHARED, SVMD_KIND_PASID_TABLE, 0, 0, 0, 0x80000, 4096,
		 SEED_MODEL_INTEL_VTD, "IOMMU group 6 has 2 devices"},
	};
	return cr_make_param_array(struct einval_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct einval_case *c, sim_kernel, einval)
{
	int r;

	switch (c->kind) {
	case SVMD_KIND_TASK:
		r = task(c->group, BIND, getpid(), c->pasid, NULL);
		break;
	case SVMD_KIND_PGTABLE:
		r = pgtable_full(c->group, BIND, c->pasid, c->gpgd, c->addr_width);
		break;
	default:
		r = table_full(c->group, BIND, c->ptr, c->size, c->model);
		break;
	}
	cr_assert_eq(r, -EINVAL, "%s: got %d (%s)", c->name, r, why);
	cr_assert_neq(why[0], 0, "%s: no reason", c->name);
	cr_assert_not_null(strstr(why, c->why), "%s: reason '%s' lacks '%s'", c->name, why, c->why);
	assert_idle();
}

Test(sim_kernel, malformed_arguments_einval)
{
	struct seed_arg a;
	char small[8] = {0};

	seed_arg_init(&a, SEED_SVM_BIND_PASID);
	a.hdr.flags = SEED_SVM_BIND_PASID | SEED_SVM_BIND_PGTABLE;
	assert_err(issue(G_A, BIND, &a), -EINVAL, "exactly one bind kind");
	seed_arg_init(&a, SEED_SVM_BIND_PASID);
	a.hdr.argsz = 28;
	assert_err(issue(G_A, BIND, &a), -EINVAL, "argsz");
	memset(why, 0, sizeof(why));
	cr_assert_eq(sim_kernel_ioctl(k, G_A, BIND, small, sizeof(small), why, sizeof(why)),
		     -EINVAL);
	cr_assert_not_null(strstr(why, "shorter than its header"), "%s", why);
	/* size below argsz */
	seed_arg_init(&a, SEED_SVM_BIND_PGTABLE);
	memset(why, 0, sizeof(why));
	cr_assert_eq(sim_kernel_ioctl(k, G_A, BIND, &a, 40, why, sizeof(why)), -EINVAL);
	cr_assert_not_null(strstr(why, "shorter than argsz"), "%s", why);
	assert_idle();
}

Test(sim_kernel, task_pasid_beyond_device)
{
	uint32_t p = 0;
	pid_t c[4];

	/* PASIDs are global: three processes take 1..3 on a wide device... */
	for (size_t i = 0; i < 4; i++) {
		c[i] = spawn_sleeper();
		assert_ok(task(G_A, BIND, c[i], 0, &p));
		cr_assert_eq(p, i + 1);
	}
	/* ...a process holding PASID 4 cannot use a 2-bit device... */
	assert_err(task(G_TINY, BIND, c[3], 0, NULL), -EINVAL, "beyond " DEV_TINY);
	/* ...one holding PASID 1 can. */
	assert_ok(task(G_TINY, BIND, c[0], 0, &p));
	cr_assert_eq(p, 1);
	reap_children();
}

/*
 * -EOPNOTSUPP, -ENOSPC, -ENOTTY, -ENODEV.
 */

Test(sim_kernel, kinds_the_device_lacks)
{
	assert_err(task(G_NONE, BIND, getpid(), 0, NULL), -EOPNOTSUPP,
		   DEV_NONE " cannot bind process address spaces");
	assert_err(pgtable(G_NONE, BIND, 1), -EOPNOTSUPP, "cannot bind guest page tables");
	assert_err(table(G_NONE, BIND), -EOPNOTSUPP, "cannot bind guest PASID tables");
	assert_err(pgtable(G_SMMU, BIND, 1), -EOPNOTSUPP,
		   DEV_SMMU " cannot bind guest page tables");
	assert_err(table(G_TINY, BIND), -EOPNOTSUPP, DEV_TINY " cannot bind guest PASID tables");
	assert_idle();
}

Test(sim_kernel, pasids_run_out)
{
	pid_t c[4];
	uint32_t p = 0;

	/* 2 bits: PASIDs 1..3. */
	assert_ok(task(G_TINY, BIND, getpid(), 0, &p));
	cr_assert_eq(p, 1);
	for (size_t i = 0; i < 4; i++)
		c[i] = spawn_sleeper();
	assert_ok(task(G_TINY, BIND, c[0], 0, &p));
	cr_assert_eq(p, 2);
	assert_ok(task(G_TINY, BIND, c[1], 0, &p));
	cr_assert_eq(p, 3);
	assert_err(task(G_TINY, BIND, c[2], 0, NULL), -ENOSPC,
		   "no free PASID within " DEV_TINY "'s 2 bits");
	cr_assert_eq(sim_kernel_n_bound(k, DEV_TINY), 3);
	cr_assert_eq(sim_kernel_n_mm(k), 3);
	/* A wide device still has room. */
	assert_ok(task(G_A, BIND, c[2], 0, &p));
	cr_assert_eq(p, 4);
	/* Freeing one makes room again, at the lowest free PASID. */
	assert_ok(task(G_TINY, UNBIND, c[0], 0, NULL));
	cr_assert_eq(sim_kernel_n_bound(k, DEV_TINY), 2);
	assert_ok(task(G_TINY, BIND, c[3], 0, &p));
	cr_assert_eq(p, 2);
	assert_err(task(G_TINY, BIND, c[0], 0, NULL), -ENOSPC, "no free PASID");
	/* Page tables draw from the same PASIDs: none is left to ask for. */
	assert_err(pgtable(G_TINY, BIND, 3), -EBUSY, "PASID 3 already bound");
	reap_children();
}

Test(sim_kernel, pasids_run_out_globally)
{
	pid_t c[3];
	uint32_t p = 0;

	/* Nothing is bound on the 2-bit device, but PASIDs 1..3 are taken elsewhere. */
	for (size_t i = 0; i < 3; i++) {
		c[i] = spawn_sleeper();
		assert_ok(task(G_A, BIND, c[i], 0, &p));
	}
	assert_err(task(G_TINY, BIND, getpid(), 0, NULL), -ENOSPC, "no free PASID");
	assert_ok(task(G_A, UNBIND, c[1], 0, NULL));
	assert_ok(task(G_TINY, BIND, getpid(), 0, &p));
	cr_assert_eq(p, 2);
	reap_children();
}

Test(sim_kernel, unknown_request_enotty)
{
	static const unsigned long requests[] = {
		0,
		0x3b79,
		0x3b7c,
		SEED_IO(SEED_VFIO_BASE + 0),                          /* VFIO_GET_API_VERSION */
		(unsigned long)_IOW(';', 100 + 22, struct seed_svm),  /* the number with a size */
		(unsigned long)_IOWR(';', 100 + 23, struct seed_svm), /* likewise */
		~0ul,
	};
	struct bind_args b = {.kind = SVMD_KIND_TASK, .task.pid = getpid()};
	struct seed_arg a;

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		seed_encode(&a, &b);
		assert_err(issue(G_A, requests[i], &a), -ENOTTY, "unknown ioctl");
	}
	assert_idle();
}

Test(sim_kernel, unknown_group_enodev)
{
	assert_err(task(99, BIND, getpid(), 0, NULL), -ENODEV, "no container for IOMMU group 99");
	assert_err(table(0, BIND), -ENODEV, "IOMMU group 0");
	assert_err(pgtable(0xffffffff, UNBIND, 1), -ENODEV, "IOMMU group 4294967295");
	assert_idle();
}

Test(sim_kernel, reason_may_be_null)
{
	struct bind_args b = {.kind = SVMD_KIND_TASK, .task.pid = getpid()};
	struct seed_arg a;

	seed_encode(&a, &b);
	cr_assert_eq(sim_kernel_ioctl(k, 99, BIND, &a, sizeof(a), NULL, 0), -ENODEV);
	cr_assert_eq(sim_kernel_ioctl(k, G_NONE, BIND, &a, sizeof(a), NULL, 0), -EOPNOTSUPP);
	cr_assert_eq(sim_kernel_ioctl(k, G_A, BIND, &a, sizeof(a), NULL, 0), 0);
	cr_assert_eq(sim_kernel_ioctl(k, G_A, BIND, &a, sizeof(a), NULL, 0), -EBUSY);
}

/*
 * Unbind.
 */

Test(sim_kernel, unbind_not_bound_einval)
{
	uint32_t p = 0;

	assert_err(task(G_A, UNBIND, getpid(), 0, NULL), -EINVAL, "not bound");
	assert_err(pgtable(G_A, UNBIND, 3), -EINVAL, "no page table bound at PASID 3 on " DEV_A);
	assert_err(table(G_A, UNBIND), -EINVAL, "no PASID table bound on " DEV_A);
	/* Bound elsewhere, or as another kind, is not bound here. */
	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	assert_err(task(G_B, UNBIND, getpid(), 0, NULL), -EINVAL, "not bound on " DEV_B);
	assert_err(task(G_A, UNBIND, getpid(), p + 1, NULL), -EINVAL, "not bound");
	assert_err(pgtable(G_A, UNBIND, p), -EINVAL, "no page table bound");
	assert_ok(pgtable(G_B, BIND, 50));
	assert_err(pgtable(G_A, UNBIND, 50), -EINVAL, "no page table bound at PASID 50");
	assert_err(table(G_B, UNBIND), -EINVAL, "no PASID table");
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_B), 1);
	/* Twice. */
	assert_ok(task(G_A, UNBIND, getpid(), p, NULL));
	assert_err(task(G_A, UNBIND, getpid(), p, NULL), -EINVAL, "not bound");
	assert_ok(pgtable(G_B, UNBIND, 50));
	assert_err(pgtable(G_B, UNBIND, 50), -EINVAL, "no page table bound");
	assert_idle();
}

Test(sim_kernel, unbind_frees_pasid_for_reuse)
{
	pid_t c1 = spawn_sleeper(), c2 = spawn_sleeper();
	uint32_t p = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	cr_assert_eq(p, 1);
	assert_ok(task(G_A, BIND, c1, 0, &p));
	cr_assert_eq(p, 2);
	cr_assert_eq(sim_kernel_n_mm(k), 2);
	assert_ok(task(G_A, UNBIND, getpid(), 0, NULL));
	cr_assert_eq(sim_kernel_n_mm(k), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 1);
	/* The lowest free PASID is 1 again. */
	assert_ok(task(G_A, BIND, c2, 0, &p));
	cr_assert_eq(p, 1);
	/* And after a page table goes. */
	assert_ok(pgtable(G_B, BIND, 3));
	assert_ok(pgtable(G_B, UNBIND, 3));
	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	cr_assert_eq(p, 3);
	reap_children();
}

Test(sim_kernel, pasid_held_until_last_device_unbinds)
{
	pid_t c = spawn_sleeper();
	uint32_t p = 0, q = 0;

	assert_ok(task(G_A, BIND, getpid(), 0, &p));
	assert_ok(task(G_B, BIND, getpid(), 0, &q));
	cr_assert_eq(p, q);
	assert_ok(task(G_A, UNBIND, getpid(), 0, NULL));
	cr_assert_eq(sim_kernel_n_mm(k), 1);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_A), 0);
	cr_assert_eq(sim_kernel_n_bound(k, DEV_B), 1);
	/* Still ours: another process neither gets it nor may ask for it. */
	assert_err(task(G_A, BIND, c, p, NULL), -EBUSY, "in use");
	assert_ok(task(G_A, BIND, c, 0, &q));
	cr_assert_neq(q, p);
	/* Rebinding on A returns the same PASID. */
	assert_ok(task(G_A, BIND, getpid(), 0, &q));
	cr_assert_eq(q, p);
	assert_ok(task(G_A, UNBIND, getpid(), 0, NULL));
	assert_ok(task(G_B, UNBIND, getpid(), 0, NULL));
	cr_assert_eq(sim_kernel_n_mm(k), 1);
	assert_ok(task(G_A, UNBIND, c, 0, NULL));
	assert_idle();
	reap_children();
}

Test(sim_kernel, devices_are_copied)
{
	struct device mine[] = {
		{.name = "0000:10:00.0",
		 .iommu_group = 40,
		 .pasid_bits = 20,
		 .model = 1,
		 .kinds = K_ALL},
	};
	struct sim_kernel *own = sim_kernel_new(mine, 1);
	char w[128] = "";

	cr_assert_not_null(own);
	mine[0].iommu_group = 41;
	mine[0].kinds = 0;
	struct bind_args b = {.kind = SVMD_KIND_TASK, .task.pid = getpid()};
	struct seed_arg a;
	seed_encode(&a, &b);
	cr_assert_eq(sim_kernel_ioctl(own, 40, BIND, &a, sizeof(a), w, sizeof(w)), 0, "%s", w);
	cr_assert_eq(sim_kernel_ioctl(own, 41, BIND, &a, sizeof(a), w, sizeof(w)), -ENODEV);
	cr_assert_eq(sim_kernel_n_bound(own, "0000:10:00.0"), 1);
	cr_assert_null(sim_kernel_free(own));
}

Test(sim_kernel_empty, no_devices)
{
	struct sim_kernel *e = sim_kernel_new(NULL, 0);
	struct seed_arg a;
	char w[128] = "";

	cr_assert_not_null(e);
	seed_arg_init(&a, SEED_SVM_BIND_PASID);
	cr_assert_eq(sim_kernel_ioctl(e, 0, BIND, &a, sizeof(a), w, sizeof(w)), -ENODEV);
	cr_assert_eq(sim_kernel_n_mm(e), 0);
	cr_assert_null(sim_kernel_free(e));
	cr_assert_null(sim_kernel_free(NULL));
}

/*
 * Topology text.
 */

Test(topology, good_text)
{
	static const char text[] =
		"# a comment line\n"
		"\n"
		"   \t\n"
		"device 0000:3B:00.0 group=12 pasid-bits=20 model=vtd "
		"kinds=task,pgtable,pasid-table "
		"pci-id=8086:0B25   # trailing comment\n"
		"  device\t0000:3c:00.0\tgroup=13 pasid-bits=16 model=smmu kinds=pasid-table,task\n"
		"device 0000:af:00.7 group=4294967295 pasid-bits=0 model=none kinds=none "
		"pci-id=15b3:101d\n"
		"device 0000:b0:1f.0 group=13 pasid-bits=0 model=smmu kinds=pasid-table";
	struct device *d = NULL;
	char err[256] = "";
	int n = sim_topology_parse(text, &d, err, sizeof(err));

	cr_assert_eq(n, 4, "%d: %s", n, err);
	cr_assert_not_null(d);

	cr_assert_str_eq(d[0].name, "0000:3b:00.0");
	cr_assert_eq(d[0].index, 0);
	cr_assert_eq(d[0].iommu_group, 12);
	cr_assert_eq(d[0].group_devices, 1);
	cr_assert_eq(d[0].pasid_bits, 20);
	cr_assert_eq(d[0].model, SVMD_MODEL_VTD);
	cr_assert_eq(d[0].kinds, K_ALL);
	cr_assert_eq(d[0].vendor, 0x8086);
	cr_assert_eq(d[0].device_id, 0x0b25);

	cr_assert_str_eq(d[1].name, "0000:3c:00.0");
	cr_assert_eq(d[1].index, 1);
	cr_assert_eq(d[1].iommu_group, 13);
	cr_assert_eq(d[1].group_devices, 2);
	cr_assert_eq(d[1].pasid_bits, 16);
	cr_assert_eq(d[1].model, SVMD_MODEL_SMMU);
	cr_assert_eq(d[1].kinds, K_TASK | K_TABLE);
	cr_assert_eq(d[1].vendor, 0);
	cr_assert_eq(d[1].device_id, 0);

	cr_assert_str_eq(d[2].name, "0000:af:00.7");
	cr_assert_eq(d[2].index, 2);
	cr_assert_eq(d[2].iommu_group, 4294967295u);
	cr_assert_eq(d[2].group_devices, 1);
	cr_assert_eq(d[2].pasid_bits, 0);
	cr_assert_eq(d[2].model, SVMD_MODEL_NONE);
	cr_assert_eq(d[2].kinds, 0);
	cr_assert_eq(d[2].vendor, 0x15b3);
	cr_assert_eq(d[2].device_id, 0x101d);

	/* A PASID table needs no PASID width of its own. */
	cr_assert_str_eq(d[3].name, "0000:b0:1f.0");
	cr_assert_eq(d[3].index, 3);
	cr_assert_eq(d[3].group_devices, 2);
	cr_assert_eq(d[3].kinds, K_TABLE);
	free(d);
}

Test(topology, group_devices_counting)
{
	static const char text[] =
		"device 0000:01:00.0 group=7 pasid-bits=20 model=vtd kinds=task\n"
		"device 0000:01:00.1 group=7 pasid-bits=20 model=vtd kinds=task\n"
		"device 0000:02:00.0 group=8 pasid-bits=20 model=vtd kinds=task\n"
		"device 0000:01:00.2 group=7 pasid-bits=20 model=vtd kinds=task\n"
		"device 0000:03:00.0 group=0 pasid-bits=20 model=vtd kinds=task\n";
	static const uint32_t want[] = {3, 3, 1, 3, 1};
	struct device *d = NULL;
	char err[256] = "";
	int n = sim_topology_parse(text, &d, err, sizeof(err));

	cr_assert_eq(n, 5, "%d: %s", n, err);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(d[i].group_devices, want[i], "device %d: %u", i, d[i].group_devices);
		cr_assert_eq(d[i].index, (unsigned)i);
	}
	free(d);
}

struct bad_text {
	char text[160];
	char err[120];
};

#define GOOD_LINE "device 0000:01:00.0 group=1 pasid-bits=20 model=vtd kinds=task\n"

ParameterizedTestParameters(topology, bad_text)
{
	static struct bad_text cases[] = {
		{"", "no devices"},
		{"# only comments\n\n   \n", "no devices"},
		{"devices 0000:01:00.0 group=1", "line 1: expected 'device BDF KEY=VALUE...'"},
		{"\n\ndevice\n", "line 3: expected 'device BDF KEY=VALUE...'"},
		{"group=1 device 0000:01:00.0", "line 1: expected 'device BDF KEY=VALUE...'"},
		{"device 0000:01:00 group=1", "line 1: expected a PCI address DDDD:BB:DD.F"},
		{"device 0000:01:20.0 group=1", "line 1: expected a PCI address DDDD:BB:DD.F"},
		{"device 0000:01:00.8 group=1", "line 1: expected a PCI address DDDD:BB:DD.F"},
		{"device  \n", "line 1: expected a PCI address DDDD:BB:DD.F"},
		{"device 0000:01:00.0 group", "line 1: expected KEY=VALUE, got 'group'"},
		{"device 0000:01:00.0 group=x", "line 1: invalid group 'x'"},
		{"device 0000:01:00.0 group=-1", "line 1: invalid group '-1'"},
		{"device 0000:01:00.0 group=4294967296", "line 1: invalid group '4294967296'"},
		{"device 0000:01:00.0 group=", "line 1: invalid group ''"},
		{"device 0000:01:00.0 group=1 pasid-bits=21 model=vtd kinds=task",
		 "line 1: invalid pasid-bits '21' (0-20)"},
		{"device 0000:01:00.0 pasid-bits=+5", "line 1: invalid pasid-bits '+5' (0-20)"},
		{"device 0000:01:00.0 pasid-bits=1e1", "line 1: invalid pasid-bits '1e1' (0-20)"},
		{"device 0000:01:00.0 model=amd",
		 "line 1: invalid model 'amd' (vtd, smmu or none)"},
		{"device 0000:01:00.0 model=VTD",
		 "line 1: invalid model 'VTD' (vtd, smmu or none)"},
		{"device 0000:01:00.0 kinds=task,foo",
		 "line 1: invalid kinds (task, pgtable, pasid-table or none)"},
		{"device 0000:01:00.0 kinds=",
		 "line 1: invalid kinds (task, pgtable, pasid-table or none)"},
		{"device 0000:01:00.0 kinds=none,task",
		 "line 1: invalid kinds (task, pgtable, pasid-table or none)"},
		{"device 0000:01:00.0 pci-id=8086:0b2", "line 1: invalid pci-id '8086:0b2'"},
		{"device 0000:01:00.0 pci-id=80860b25", "line 1: invalid pci-id '80860b25'"},
		{"device 0000:01:00.0 pci-id=8086:0b25x", "line 1: invalid pci-id '8086:0b25x'"},
		{"device 0000:01:00.0 pci-id=808g:0b25", "line 1: invalid pci-id '808g:0b25'"},
		{"device 0000:01:00.0 color=red", "line 1: unknown key 'color'"},
		{"device 0000:01:00.0 pasid-bits=20 model=vtd kinds=task",
		 "line 1: 0000:01:00.0 needs group=, pasid-bits=, model= and kinds="},
		{"device 0000:01:00.0 group=1 model=vtd kinds=task",
		 "line 1: 0000:01:00.0 needs group=, pasid-bits=, model= and kinds="},
		{"device 0000:01:00.0 group=1 pasid-bits=20 kinds=task",
		 "line 1: 0000:01:00.0 needs group=, pasid-bits=, model= and kinds="},
		{"device 0000:01:00.0 group=1 pasid-bits=20 model=vtd",
		 "line 1: 0000:01:00.0 needs group=, pasid-bits=, model= and kinds="},
		{"device 0000:01:00.0",
		 "line 1: 0000:01:00.0 needs group=, pasid-bits=, model= and kinds="},
		{"device 0000:01:00.0 group=1 pasid-bits=0 model=vtd kinds=task",
		 "line 1: 0000:01:00.0: PASID binds need pasid-bits > 0"},
		{"device 0000:01:00.0 group=1 pasid-bits=0 model=vtd kinds=pgtable,pasid-table",
		 "line 1: 0000:01:00.0: PASID binds need pasid-bits > 0"},
		{GOOD_LINE "# comment\n\n" GOOD_LINE, "line 4: 0000:01:00.0 listed twice"},
		{GOOD_LINE "device 0000:01:00.0 group=2 pasid-bits=2 model=smmu kinds=none\n",
		 "line 2: 0000:01:00.0 listed twice"},
		{"device 0000:0a:00.0 group=1 pasid-bits=20 model=vtd kinds=task\n"
		 "device 0000:0A:00.0 group=1 pasid-bits=20 model=vtd kinds=task\n",
		 "line 2: 0000:0a:00.0 listed twice"},
		{GOOD_LINE "\n# c\n\ndevice 0000:02:00.0 group=2 pasid-bits=99",
		 "line 5: invalid pasid-bits '99' (0-20)"},
		{GOOD_LINE "bogus\n", "line 2: expected 'device BDF KEY=VALUE...'"},
	};
	return cr_make_param_array(struct bad_text, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_text *c, topology, bad_text)
{
	struct device *d = NULL;
	char err[256] = "";
	int n = sim_topology_parse(c->text, &d, err, sizeof(err));

	cr_assert_eq(n, -EINVAL, "'%s': got %d", c->text, n);
	cr_assert_str_eq(err, c->err, "'%s'", c->text);
	cr_assert_null(d, "devices returned on error");
}

/* The pci-id is four hex digits, a colon and four hex digits, as the BDF is checked strictly:
 * no signs, no 0x, no spaces. */
Test(topology, pci_id_strict)
{
	static const char *const bad[] = {"+086:0b25", "-001:0b25", "0x86:0b25",
					  "8086:+b25", "8086:-b25", "8086:0X25"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[160], want[80], err[256] = "";
		struct device *d = NULL;

		snprintf(text, sizeof(text),
			 "device 0000:01:00.0 group=1 pasid-bits=20 model=vtd kinds=task pci-id=%s",
			 bad[i]);
		snprintf(want, sizeof(want), "line 1: invalid pci-id '%s'", bad[i]);
		int n = sim_topology_parse(text, &d, err, sizeof(err));
		if (n > 0)
			cr_log_error("pci-id=%s accepted as %04x:%04x", bad[i], d[0].vendor,
				     d[0].device_id);
		free(d);
		cr_assert_eq(n, -EINVAL, "pci-id=%s accepted", bad[i]);
		cr_assert_str_eq(err, want);
	}
}

Test(topology, pasid_bits_range)
{
	char text[160], err[256];

	for (unsigned bits = 0; bits <= 21; bits++) {
		struct device *d = NULL;
		snprintf(text, sizeof(text),
			 "device 0000:01:00.0 group=1 pasid-bits=%u model=vtd kinds=pasid-table",
			 bits);
		int n = sim_topology_parse(text, &d, err, sizeof(err));
		if (bits <= 20) {
			cr_assert_eq(n, 1, "pasid-bits=%u: %s", bits, err);
			cr_assert_eq(d[0].pasid_bits, bits);
		} else {
			cr_assert_eq(n, -EINVAL, "pasid-bits=%u accepted", bits);
			cr_assert_str_eq(err, "line 1: invalid pasid-bits '21' (0-20)");
		}
		free(d);
	}
}

/*
 * The built-in topology and the sim backend.
 */

static const struct {
	const char *name;
	uint32_t group, group_devices, kinds;
	uint8_t bits, model;
	uint16_t vendor, device_id;
} default_devices[] = {
	{"0000:3b:00.0", 12, 1, K_ALL, 20, SVMD_MODEL_VTD, 0x8086, 0x0b25},
	{"0000:3c:00.0", 13, 1, K_TASK | K_TABLE, 16, SVMD_MODEL_SMMU, 0x19e5, 0xa250},
	{"0000:5e:00.0", 20, 2, K_ALL, 20, SVMD_MODEL_VTD, 0x8086, 0x4940},
	{"0000:5e:00.1", 20, 2, K_ALL, 20, SVMD_MODEL_VTD, 0x8086, 0x4941},
	{"0000:af:00.0", 30, 1, 0, 0, SVMD_MODEL_VTD, 0x15b3, 0x101d},
};

/* extra_kinds: what the backend adds to the topology's (open-device and map on every device). */
static void assert_default_devices(const struct device *d, size_t n, uint32_t extra_kinds)
{
	cr_assert_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(d[i].name, default_devices[i].name);
		cr_assert_eq(d[i].index, i);
		cr_assert_eq(d[i].iommu_group, default_devices[i].group, "%s", d[i].name);
		cr_assert_eq(d[i].group_devices, default_devices[i].group_devices, "%s", d[i].name);
		cr_assert_eq(d[i].kinds, default_devices[i].kinds | extra_kinds, "%s", d[i].name);
		cr_assert_eq(d[i].pasid_bits, default_devices[i].bits, "%s", d[i].name);
		cr_assert_eq(d[i].model, default_devices[i].model, "%s", d[i].name);
		cr_assert_eq(d[i].vendor, default_devices[i].vendor, "%s", d[i].name);
		cr_assert_eq(d[i].device_id, default_devices[i].device_id, "%s", d[i].name);
	}
}

Test(topology, default_text)
{
	struct device *d = NULL;
	char err[256] = "";
	int n = sim_topology_parse(sim_default_topology, &d, err, sizeof(err));

	cr_assert_eq(n, 5, "%d: %s", n, err);
	assert_default_devices(d, (size_t)n, 0);
	free(d);
}

static struct backend *be;

static void be_setup(void)
{
	char err[256] = "";

	cr_assert_eq(backend_sim_new(NULL, &be, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(be);
}

static void be_teardown(void)
{
	reap_children();
	be = backend_free(be);
}

TestSuite(sim_backend, .init = be_setup, .fini = be_teardown);
TestSuite(sim_backend_file, .fini = be_teardown);

/* A task bind (req BIND) or unbind (UNBIND) of pid through the backend's operations; *ret is
 * the PASID the bind left in its arguments. */
static int be_task(const char *dev, unsigned long req, pid_t pid, uint32_t *ret)
{
	struct bind_args b = {.kind = SVMD_KIND_TASK, .task.pid = pid};
	struct device *d = backend_find_device(be, dev);
	int r;

	cr_assert_not_null(d, "%s", dev);
	memset(why, 0, sizeof(why));
	if (req == BIND)
		r = be->ops->bind(be, d, &b, why, sizeof(why));
	else
		r = be->ops->unbind(be, d, &b, why, sizeof(why));
	if (ret)
		*ret = b.pasid;
	return r;
}

static int be_bind(const char *dev, const struct bind_args *b)
{
	struct device *d = backend_find_device(be, dev);
	struct bind_args a = *b;

	cr_assert_not_null(d, "%s", dev);
	memset(why, 0, sizeof(why));
	return be->ops->bind(be, d, &a, why, sizeof(why));
}

Test(sim_backend, default_devices)
{
	cr_assert_str_eq(be->ops->name, "sim");
	assert_default_devices(be->devices, be->n_devices,
			       SVMD_KIND_BIT(SVMD_KIND_DEVICE) | SVMD_KIND_BIT(SVMD_KIND_MAP));
}

Test(sim_backend, find_device)
{
	cr_assert_eq(backend_find_device(be, "0000:3b:00.0"), &be->devices[0]);
	cr_assert_eq(backend_find_device(be, "0000:3B:00.0"), &be->devices[0]);
	cr_assert_eq(backend_find_device(be, "0000:5e:00.1"), &be->devices[3]);
	cr_assert_eq(backend_find_device(be, "0000:AF:00.0"), &be->devices[4]);
	cr_assert_null(backend_find_device(be, "0000:3b:00.1"));
	cr_assert_null(backend_find_device(be, "0000:3b:0.0"));
	cr_assert_null(backend_find_device(be, "0000:3b:00.0 "));
	cr_assert_eq(backend_find_device(be, "3b:00.0"), &be->devices[0]); /* lspci's form */
	cr_assert_eq(backend_find_device(be, "3B:00.0"), &be->devices[0]);
	cr_assert_null(backend_find_device(be, "3b:00.1"));
	cr_assert_null(backend_find_device(be, "b:00.0"));
	cr_assert_null(backend_find_device(be, ""));
}

Test(sim_backend, task_binds)
{
	pid_t c = spawn_sleeper();
	uint32_t p = 0, q = 0;

	cr_assert_eq(be_task("0000:3b:00.0", BIND, getpid(), &p), 0, "%s", why);
	cr_assert_eq(p, 1);
	cr_assert_eq(be_task("0000:3c:00.0", BIND, getpid(), &q), 0, "%s", why);
	cr_assert_eq(q, p);
	cr_assert_eq(be_task("0000:3b:00.0", BIND, getpid(), NULL), -EBUSY);
	cr_assert_eq(be_task("0000:3c:00.0", BIND, c, &q), 0, "%s", why);
	cr_assert_eq(q, 2);
	cr_assert_eq(be_task("0000:3c:00.0", UNBIND, c, NULL), 0, "%s", why);
	cr_assert_eq(be_task("0000:3c:00.0", UNBIND, c, NULL), -EINVAL);
	reap_children();
}

Test(sim_backend, shared_group_refused)
{
	struct bind_args pgt = {
		.kind = SVMD_KIND_PGTABLE,
		.pasid = 5,
		.pgtable = {.gpgd = 0x1000, .addr_width = 48, .format = 1},
	};
	struct bind_args tbl = {
		.kind = SVMD_KIND_PASID_TABLE,
		.table = {.ptr = 0x1000, .size = 4096, .model = SEED_MODEL_INTEL_VTD},
	};
	static const char *const devs[] = {"0000:5e:00.0", "0000:5e:00.1"};

	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(be_task(devs[i], BIND, getpid(), NULL), -EINVAL, "%s", devs[i]);
		cr_assert_not_null(strstr(why, "group of one"), "%s", why);
		cr_assert_eq(be_bind(devs[i], &pgt), -EINVAL, "%s", devs[i]);
		cr_assert_not_null(strstr(why, "IOMMU group 20 has 2 devices"), "%s", why);
		cr_assert_eq(be_bind(devs[i], &tbl), -EINVAL, "%s", devs[i]);
		cr_assert_not_null(strstr(why, "group of one"), "%s", why);
	}
	/* The same binds work on the lone VT-d device. */
	cr_assert_eq(be_task("0000:3b:00.0", BIND, getpid(), NULL), 0, "%s", why);
	cr_assert_eq(be_bind("0000:3b:00.0", &pgt), 0, "%s", why);
}

Test(sim_backend, unsupported_kinds)
{
	struct bind_args pgt = {
		.kind = SVMD_KIND_PGTABLE,
		.pasid = 5,
		.pgtable = {.gpgd = 0x1000, .addr_width = 48, .format = 1},
	};
	struct bind_args tbl = {
		.kind = SVMD_KIND_PASID_TABLE,
		.table = {.ptr = 0x1000, .size = 4096, .model = SEED_MODEL_INTEL_VTD},
	};

	cr_assert_eq(be_task("0000:af:00.0", BIND, getpid(), NULL), -EOPNOTSUPP);
	cr_assert_not_null(strstr(why, "0000:af:00.0 cannot bind"), "%s", why);
	cr_assert_eq(be_bind("0000:af:00.0", &pgt), -EOPNOTSUPP);
	cr_assert_eq(be_bind("0000:af:00.0", &tbl), -EOPNOTSUPP);
	cr_assert_eq(be_bind("0000:3c:00.0", &pgt), -EOPNOTSUPP);
	cr_assert_not_null(strstr(why, "cannot bind guest page tables"), "%s", why);
	/* The SMMU device takes an SMMU CD table, not a VT-d one. */
	cr_assert_eq(be_bind("0000:3c:00.0", &tbl), -EINVAL);
	tbl.table.model = SEED_MODEL_ARM_SMMU;
	tbl.table.ptr = 0x1040;
	cr_assert_eq(be_bind("0000:3c:00.0", &tbl), 0, "%s", why);
}

/* A topology file with a 2-bit device: PASIDs 1..3, the fourth process finds none. */
Test(sim_backend_file, pasid_bits_2)
{
	char path[] = "/tmp/svmd-topology-XXXXXX";
	static const char text[] =
		"# tiny\n"
		"device 0000:10:00.0 group=40 pasid-bits=2 model=vtd kinds=task\n";
	struct backend *b = NULL;
	char err[256] = "";
	pid_t c[4];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	cr_assert_eq(backend_sim_new(path, &b, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	be = b;
	cr_assert_eq(b->n_devices, 1);
	cr_assert_eq(b->devices[0].pasid_bits, 2);
	for (size_t i = 0; i < 4; i++)
		c[i] = spawn_sleeper();
	for (size_t i = 0; i < 3; i++) {
		uint32_t p = 0;
		cr_assert_eq(be_task("0000:10:00.0", BIND, c[i], &p), 0, "%s", why);
		cr_assert_eq(p, i + 1);
	}
	cr_assert_eq(be_task("0000:10:00.0", BIND, c[3], NULL), -ENOSPC);
	cr_assert_not_null(strstr(why, "no free PASID"), "%s", why);
	reap_children();
	be = backend_free(be);
}

Test(sim_backend_file, errors)
{
	char path[] = "/tmp/svmd-topology-XXXXXX";
	static const char text[] =
		"\ndevice 0000:10:00.0 group=40 pasid-bits=2 model=arm kinds=task\n";
	struct backend *b = NULL;
	char err[256] = "", want[320];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	cr_assert_eq(backend_sim_new(path, &b, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: line 2: invalid model 'arm' (vtd, smmu or none)", path);
	cr_assert_str_eq(err, want);
	cr_assert_null(b);
	unlink(path);
	cr_assert_eq(backend_sim_new(path, &b, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_assert_str_eq(err, want);
	cr_assert_null(b);
}

Test(sim_backend_file, backend_new_by_name)
{
	struct backend_config sim = {.name = "sim"}, other = {.name = "vfio2"};
	struct backend *b = NULL;
	char err[256] = "";

	cr_assert_eq(backend_new(&sim, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(b->n_devices, 5);
	b = backend_free(b);
	cr_assert_eq(backend_new(&other, &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown backend 'vfio2' (auto, iommufd, vfio or sim)");
	cr_assert_null(b);
}

Test(sim_backend_file, backend_options_belong_to_their_backend)
{
	const char *devices[] = {"0000:3b:00.0"};
	struct backend_config sim = {.name = "sim", .devices = devices, .n_devices = 1};
	struct backend_config vfio = {.name = "vfio", .sim_topology = "/dev/null"};
	struct backend_config none = {.name = "vfio"};
	struct backend *b = NULL;
	char err[256] = "";

	cr_assert_eq(backend_new(&sim, &b, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--device, --sysfs-root and --dev-root are for the vfio and iommufd "
			      "backends"),
		  "%s", err);
	sim = (struct backend_config){.name = "sim", .dev_root = "/dev"};
	cr_assert_eq(backend_new(&sim, &b, err, sizeof(err)), -EINVAL);
	cr_assert_eq(backend_new(&vfio, &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "--sim-topology is for the sim backend, not vfio");
	cr_assert_eq(backend_new(&none, &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "Cannot start the vfio backend: no devices to manage: name them "
			      "with --device=BDF");
	cr_assert_null(b);
}

Test(sim_backend_file, auto_without_vfio_points_to_sim)
{
	char dir[] = "/tmp/svmd-auto.XXXXXX", want[256];
	struct backend_config cfg = {.dev_root = dir};
	struct backend *b = NULL;
	char err[256] = "";

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(backend_new(&cfg, &b, err, sizeof(err)), -ENODEV);
	snprintf(want, sizeof(want),
		 "no %s/vfio/vfio: this machine has no VFIO; use --backend=sim to try svmd "
		 "without hardware",
		 dir);
	cr_assert_str_eq(err, want);
	cfg.name = "auto";
	cr_assert_eq(backend_new(&cfg, &b, err, sizeof(err)), -ENODEV);
	cr_assert_str_eq(err, want);
	cr_assert_null(b);

	/* With a VFIO node there, auto is vfio (which then wants devices). */
	char path[64];
	snprintf(path, sizeof(path), "%s/vfio", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/vfio/vfio", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(backend_new(&cfg, &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "Cannot start the vfio backend: no devices to manage: name them "
			      "with --device=BDF");
	cr_assert_null(b);

	/* /dev/iommu too, but no device with a cdev: still vfio. Without the VFIO container
	 * node, iommufd (which wants devices as well). */
	snprintf(path, sizeof(path), "%s/iommu", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(backend_new(&cfg, &b, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "Cannot start the vfio backend"), "%s", err);
	snprintf(path, sizeof(path), "%s/vfio/vfio", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(backend_new(&cfg, &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "Cannot start the iommufd backend: no devices to manage: name them "
			      "with --device=BDF");
	cr_assert_null(b);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);
}

/* Device names, as every request and topology line gives them: DDDD:BB:DD.F in hex at full
 * width, device at most 1f and function at most 7; the canonical form is lower case. */
struct device_name_case {
	char in[16];
	char canonical[16]; /* "": -EINVAL */
};

ParameterizedTestParameters(backend, device_name_canonical)
{
	static struct device_name_case cases[] = {
		{"0000:3b:00.0", "0000:3b:00.0"},
		{"0000:3B:00.0", "0000:3b:00.0"},
		{"3b:00.0", "0000:3b:00.0"}, /* lspci's short form: domain 0000 */
		{"AF:1F.7", "0000:af:1f.7"},
		{"3b:20.0", ""},
		{"3b:00.8", ""},
		{"3b:00", ""},
		{"3b-00.0", ""},
		{"3b:0.00", ""},
		{"zz", ""},
		{"ABCD:EF:1F.7", "abcd:ef:1f.7"},
		{"ffff:ff:1f.7", "ffff:ff:1f.7"},
		{"0000:00:00.0", "0000:00:00.0"},
		{"0000:3b:20.0", ""}, /* device beyond 1f */
		{"0000:3b:1f.8", ""}, /* function beyond 7 */
		{"0000:3b:00.f", ""},
		{"0000:3b:a0.0", ""},
		{"000:3b:00.0", ""},   /* short domain */
		{"00000:3b:00.0", ""}, /* long */
		{"0000:3b:00.00", ""},
		{"0000:3b:00", ""},
		{"0000-3b:00.0", ""},
		{"0000:3b-00.0", ""},
		{"0000:3b:00:0", ""},
		{"0000:3g:00.0", ""},
		{"+000:3b:00.0", ""},
		{" 000:3b:00.0", ""},
		{"0x00:3b:00.0", ""},
		{"", ""},
	};
	return cr_make_param_array(struct device_name_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct device_name_case *c, backend, device_name_canonical)
{
	char out[SVMD_DEVICE_NAME_SZ];

	memset(out, 'x', sizeof(out));
	int r = device_name_canonical(c->in, out);
	if (!c->canonical[0]) {
		cr_assert_eq(r, -EINVAL, "'%s' accepted as '%s'", c->in, out);
		return;
	}
	cr_assert_eq(r, 0, "'%s' refused", c->in);
	cr_assert_str_eq(out, c->canonical);
	/* Zero padded: the name goes into fixed-size wire and registry fields. */
	for (size_t i = strlen(out); i < sizeof(out); i++)
		cr_assert_eq(out[i], 0);
}

/* Restart survival: the state saved is the state restored, and nothing else is taken for one. */

static struct sim_kernel *restored(const void *buf, size_t len, int *ret)
{
	struct sim_kernel *r = NULL;

	*ret = sim_kernel_restore(machine, sizeof(machine) / sizeof(machine[0]), buf, len, &r, why,
				  sizeof(why));
	return r;
}

Test(sim_kernel, saved_state_restores_every_bind)
{
	uint32_t p1 = 0, p2 = 0;
	pid_t other = spawn_sleeper();
	void *buf = NULL;
	size_t len = 0;
	int r;

	assert_ok(task(G_A, BIND, getpid(), 0, &p1));
	assert_ok(task(G_B, BIND, getpid(), 0, &p2));
	assert_ok(task(G_A, BIND, other, 0, NULL));
	cr_assert_eq(sim_kernel_save(k, &buf, &len), 0);
	struct sim_kernel *k2 = restored(buf, len, &r);
	cr_assert_eq(r, 0, "%s", why);
	cr_assert_eq(sim_kernel_n_bound(k2, DEV_A), 2);
	cr_assert_eq(sim_kernel_n_bound(k2, DEV_B), 1);
	cr_assert_eq(sim_kernel_n_mm(k2), 2);
	struct bind_args a = {.kind = SVMD_KIND_TASK, .pasid = p1, .task.pid = getpid()};
	cr_assert(sim_kernel_holds(k2, &machine[0], &a));
	a.task.pid = other;
	cr_assert_not(sim_kernel_holds(k2, &machine[0], &a), "PASID %u is not other's", p1);
	/* It goes on as the kernel it was: the same process keeps its PASID, unbind works. */
	struct sim_kernel *saved = k;
	k = k2;
	uint32_t again = 0;
	assert_ok(task(G_SMMU, BIND, getpid(), 0, &again));
	cr_assert_eq(again, p1);
	assert_ok(task(G_A, UNBIND, getpid(), p1, NULL));
	k = saved;
	sim_kernel_free(k2);
	free(buf);
}

Test(sim_kernel, corrupt_or_foreign_state_is_refused)
{
	void *buf = NULL;
	size_t len = 0;
	int r;

	assert_ok(task(G_A, BIND, getpid(), 0, NULL));
	cr_assert_eq(sim_kernel_save(k, &buf, &len), 0);
	unsigned char *b = buf;
	/* A flipped byte in the body: the checksum. */
	b[len - 1] ^= 1;
	cr_assert_null(restored(buf, len, &r));
	cr_assert_eq(r, -EINVAL);
	cr_assert(strstr(why, "checksum"), "%s", why);
	b[len - 1] ^= 1;
	/* The top bits of two words flipped: the sum still sees it. */
	cr_assert_gt(len, 40 + 48);
	b[40 + 7] ^= 0x80;
	b[40 + 47] ^= 0x80;
	cr_assert_null(restored(buf, len, &r));
	cr_assert(strstr(why, "checksum"), "two flipped top bits went unnoticed: %s", why);
	b[40 + 7] ^= 0x80;
	b[40 + 47] ^= 0x80;
	/* Cut short, and a later version. */
	cr_assert_null(restored(buf, len - 4, &r));
	cr_assert_eq(r, -EINVAL);
	b[8] = 3;
	cr_assert_null(restored(buf, len, &r));
	cr_assert(strstr(why, "version 3"), "%s", why);
	b[8] = 2;
	/* Version 1, summed byte by byte, is still read. */
	uint64_t sum = 0xcbf29ce484222325ull;
	for (size_t i = 40; i < len; i++)
		sum = (sum ^ b[i]) * 0x100000001b3ull;
	b[8] = 1;
	cr_assert_null(restored(buf, len, &r), "a version 1 state with a version 2 sum");
	memcpy(b + 24, &sum, sizeof(sum));
	struct sim_kernel *v1 = restored(buf, len, &r);
	cr_assert_eq(r, 0, "%s", why);
	sim_kernel_free(v1);
	/* Made on another machine: fewer devices. */
	struct sim_kernel *k2 = NULL;
	r = sim_kernel_restore(machine, 1, buf, len, &k2, why, sizeof(why));
	cr_assert_eq(r, -EINVAL);
	cr_assert_null(k2);
	free(buf);
}

static bool claim_none(void *userdata, const struct device *dev, uint32_t slot)
{
	(void)userdata;
	(void)dev;
	(void)slot;
	return false;
}

Test(sim_kernel, unclaimed_binds_are_released)
{
	assert_ok(task(G_A, BIND, getpid(), 0, NULL));
	assert_ok(task(G_B, BIND, getpid(), 0, NULL));
	cr_assert_eq(sim_kernel_release_unclaimed(k, claim_none, NULL), 2);
	assert_idle();
}
