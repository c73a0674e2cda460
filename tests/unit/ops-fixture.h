/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the unit tests of the request recipes share (test-ops.c, test-ops-map.c): a core on the
 * simulated kernel with a policy of its own, four sessions, a fake clock for rate=, a backend
 * hook that makes the kernel refuse on demand, an allocator (and event_new(), pipe2()) that
 * fails the Nth call, so every undo path runs, and the audit trail captured (audit_log()) so
 * each test counts the records of each request.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "ops.h"

/* For a test that binds this process as root's session: as another user the kernel's ptrace
 * rule refuses it (a package build runs the unit tests unprivileged: make check-build). */
#define NEEDS_ROOT()                                                                               \
	do {                                                                                       \
		if (geteuid() != 0)                                                                \
			cr_skip_test("binds this process for root: needs root");                   \
	} while (0)

#define ALICE 1000
#define BOB   1001
#define CAROL 1002

#define DEV        "0000:3b:00.0" /* vtd, 20-bit PASIDs, a group of one */
#define DEV_SMMU   "0000:3c:00.0" /* smmu: no page tables */
#define DEV_SHARED "0000:5e:00.0" /* its IOMMU group has two devices: the kernel refuses */
#define DEV_NONE   "0000:af:00.0" /* no PASIDs: kinds=none */

/* The audit trail, as the core hands it over. */
struct rec {
	enum audit_event event;
	char op[32];
	uid_t uid;
	uint32_t pasid;
	uint64_t binding;
	int error;
	bool has_rule;
	char reason[512];
};
extern struct rec recs[64];
extern size_t n_recs;
const char *event_name(enum audit_event e);

/* The Nth allocation (or event_new(), pipe2()) from when fail_countdown is set (0: the next)
 * fails, once; failed says whether one did. */
extern long fail_countdown;
extern bool failed;

/* The kernel refuses what the test asks it to (0: nothing), then answers as the sim would. */
extern int refuse_check, refuse_bind, refuse_unbind, refuse_open;
extern const struct backend_ops *sim;
extern struct backend_ops hooked;

struct ops_fixture {
	char dir[64];
	struct event_base *base;
	struct core *core;
	struct sim_kernel *kernel;
	uint64_t now_usec;
	struct session *alice, *bob, *root, *carol;
	int baseline_fds;
	unsigned added, removed; /* core hooks */
	int last_end;            /* the last removal's enum end_reason, -1: none yet */
	char last_end_text[128]; /* and its words */
};
extern struct ops_fixture f;
/* A forked child a test may leave running: teardown kills it. */
extern pid_t child;

void setup(void);
void teardown(void);

int count_fds(void);
void write_policy(const char *name, const char *text);
/* A session of uid, its process pinned if asked. */
struct session *session_of(uid_t uid, bool pinned);
/* What the simulated kernel holds bound on device, and the fake nested tables on it. */
size_t bound(const char *device);
/* From now on, until teardown, the backend nests guest tables in the client's space as
 * iommufd does (nest_bind, bind_space, invalidate), faked: each table an allocation, a PASID
 * table also a pipe (its vEVENTQ). nested(): the fake tables on device; n_invalidated: the
 * invalidations that reached the fake backend. */
void fake_nesting(void);
size_t nested(const char *device);
extern unsigned n_invalidated;
struct bind_request pgtable(const char *device, uint32_t pasid);
/* One request of s: its status, and the one record it wrote. */
int bind_pgtable(struct session *s, const char *device, uint32_t pasid, struct binding **ret);
/* recs holds one record, of this event, op and errno, whose reason holds reason. */
void assert_record(enum audit_event event, const char *op, int error, const char *reason);
