/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the request recipes (daemon/ops.c, request.c, core.c, lifetime.c) on the
 * simulated kernel (the fixture: ops-fixture.h): each test counts the records of each request,
 * exactly one per request that makes, changes or ends a binding or reloads, none for explain.
 * The maps' recipes are in test-ops-map.c.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend-sim.h"
#include "ops-fixture.h"
#include "ops.h"
#include "persist.h"
#include "policy-load.h"
#include "process.h"
#include "sim-kernel.h"
#include "state-lines.h"
#include "svmd-proto.h"

TestSuite(ops, .init = setup, .fini = teardown);

Test(ops, a_granted_bind_is_recorded_once_and_released_once)
{
	struct binding *b = NULL;
	struct op_result res;

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	assert_record(AUDIT_GRANT, "bind-pgtable", 0, NULL);
	cr_assert(recs[0].has_rule);
	cr_assert_eq(recs[0].binding, binding_id(b));
	cr_assert_eq(bound(DEV), 1);
	cr_assert_eq(f.added, 1);
	n_recs = 0;
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	assert_record(AUDIT_RELEASE, "bind-pgtable", 0, "unbind");
	cr_assert_eq(recs[0].uid, ALICE);
	cr_assert_eq(bound(DEV), 0);
	cr_assert_eq(f.removed, 1);
	cr_assert_eq(registry_count(f.core->registry), 0);
}

/* Every way a bind fails writes exactly one record, a denial or a failure, and leaves nothing
 * bound. (Rows hold their strings: criterion runs each row in a process of its own, where the
 * parent's pointers mean nothing.) */
struct fail_row {
	char name[48];
	uid_t uid;
	char device[16];
	uint32_t pasid;
	int refuse_check, refuse_bind;
	int expect;
	enum audit_event event;
	bool has_rule;
	char reason[48];
};

static struct fail_row fail_rows[] = {
	{"unknown device", ALICE, "0000:99:00.0", 150, 0, 0, -ENODEV, AUDIT_FAIL, false,
	 "no device 0000:99:00.0"},
	{"not a PCI address", ALICE, "3b:00", 150, 0, 0, -EINVAL, AUDIT_FAIL, false,
	 "'3b:00' is not a PCI address"},
	{"kind the device lacks", ALICE, DEV_SMMU, 150, 0, 0, -EOPNOTSUPP, AUDIT_FAIL, false,
	 "does not support pgtable binds"},
	{"a device with no PASIDs", ALICE, DEV_NONE, 150, 0, 0, -EOPNOTSUPP, AUDIT_FAIL, false, ""},
	{"the kernel's argument checks", ALICE, DEV, 0, 0, 0, -EINVAL, AUDIT_FAIL, false,
	 "invalid arguments"},
	{"the kernel cannot bind at all", ALICE, DEV, 150, -EOPNOTSUPP, 0, -EOPNOTSUPP, AUDIT_FAIL,
	 false, "refused by the test"},
	{"no rule matches", ALICE, DEV, 300, 0, 0, -EACCES, AUDIT_DENY, false, "no rule matched"},
	{"a deny rule", BOB, DEV, 150, 0, 0, -EACCES, AUDIT_DENY, true, "deny * user=1001"},
	{"root gets no implicit allow", 0, DEV, 150, 0, 0, -EACCES, AUDIT_DENY, false, ""},
	{"the kernel refuses", ALICE, DEV, 150, 0, -EIO, -EIO, AUDIT_FAIL, true,
	 "kernel refused: refused by the test"},
	{"the kernel refuses a shared group", ALICE, DEV_SHARED, 5, 0, 0, -EINVAL, AUDIT_FAIL, true,
	 "group of one"},
};

ParameterizedTestParameters(ops, bind_failures)
{
	return cr_make_param_array(struct fail_row, fail_rows, ELEMENTSOF(fail_rows));
}

static struct session *session_for(uid_t uid)
{
	return uid == ALICE ? f.alice : uid == BOB ? f.bob : uid == CAROL ? f.carol : f.root;
}

ParameterizedTest(struct fail_row *row, ops, bind_failures)
{
	refuse_check = row->refuse_check;
	refuse_bind = row->refuse_bind;
	cr_assert_eq(bind_pgtable(session_for(row->uid), row->device, row->pasid, NULL),
		     row->expect, "%s", row->name);
	assert_record(row->event, "bind-pgtable", -row->expect, row->reason);
	cr_assert_eq(recs[0].has_rule, row->has_rule, "%s", row->name);
	cr_assert_eq(registry_count(f.core->registry), 0);
	cr_assert_eq(bound(DEV) + bound(DEV_SHARED), 0);
	cr_assert_eq(f.added, 0);
}

Test(ops, quotas_and_conflicts_are_recorded)
{
	struct binding *b = NULL;

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	/* The same PASID again: a conflict svmd knows of before asking the kernel. */
	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, NULL), -EBUSY);
	assert_record(AUDIT_FAIL, "bind-pgtable", EBUSY, "already bound (by you)");
	cr_assert_eq(bind_pgtable(f.alice, DEV, 151, NULL), 0);
	/* max=2 */
	cr_assert_eq(bind_pgtable(f.alice, DEV, 152, NULL), -EDQUOT);
	assert_record(AUDIT_DENY, "bind-pgtable", EDQUOT, "already holds 2 bindings");
	cr_assert_eq(bound(DEV), 2);
}

Test(ops, max_device_counts_every_holder)
{
	struct bind_request req = {
		.device = DEV_SMMU,
		.target_pidfd = -1,
		.args = {.kind = SVMD_KIND_PASID_TABLE,
			 .table = {.ptr = 0x100000, .size = 4096, .model = SVMD_MODEL_SMMU}},
	};
	struct bind_request again = req;
	struct binding *b = NULL;
	struct op_result res;

	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), 0, "%s", res.reason);
	n_recs = 0;
	cr_assert_eq(ops_bind(f.core, f.alice, &again, &res, &b), -EDQUOT);
	assert_record(AUDIT_DENY, "bind-pasid-table", EDQUOT, "already has 1 binding");
}

Test(ops, rate_limits_refill_with_the_clock)
{
	struct binding *b[2];

	/* rate=2/s: two at once, the third waits for a token. */
	cr_assert_eq(bind_pgtable(f.alice, DEV, 200, &b[0]), 0);
	cr_assert_eq(bind_pgtable(f.alice, DEV, 201, &b[1]), 0);
	cr_assert_eq(bind_pgtable(f.alice, DEV, 202, NULL), -EAGAIN);
	assert_record(AUDIT_DENY, "bind-pgtable", EAGAIN, "try again in 501 ms");
	f.now_usec += 400000;
	cr_assert_eq(bind_pgtable(f.alice, DEV, 202, NULL), -EAGAIN);
	assert_record(AUDIT_DENY, "bind-pgtable", EAGAIN,
		      "try again in 10"); /* 100 ms, rounded up */
	f.now_usec += 100000;
	cr_assert_eq(bind_pgtable(f.alice, DEV, 202, NULL), 0);
	cr_assert_eq(limits_n_rates(f.core->limits), 1);
}

/* The allocator fails at each allocation of a bind in turn: whenever the bind fails, nothing
 * is bound, nothing is registered, no fd is left open, and exactly one record says so. */
static void each_allocation_fails(struct session *s, struct bind_request (*make)(void),
				  const char *device)
{
	int fds = count_fds();
	long n;

	for (n = 0; n < 1000; n++) {
		struct bind_request req = make();
		struct binding *b = NULL;
		struct op_result res;
		int r;

		n_recs = 0;
		failed = false;
		fail_countdown = n;
		r = ops_bind(f.core, s, &req, &res, &b);
		fail_countdown = -1;
		cr_assert_eq(n_recs, 1, "allocation %ld: %zu records", n, n_recs);
		if (r == 0) {
			cr_assert_eq(recs[0].event, AUDIT_GRANT);
			cr_assert_eq(bound(device), 1);
			ops_commit(f.core, b);
			n_recs = 0;
			cr_assert_eq(ops_unbind(f.core, s, binding_id(b), &res), 0);
			if (!failed)
				break; /* every allocation succeeded: all have been failed once */
			continue;
		}
		cr_assert(failed, "allocation %ld: failed (%d) with no failure injected", n, r);
		cr_assert(recs[0].event == AUDIT_FAIL || recs[0].event == AUDIT_DENY);
		cr_assert_eq(recs[0].error, -r);
		cr_assert_eq(registry_count(f.core->registry), 0, "allocation %ld", n);
		cr_assert_eq(bound(device), 0, "allocation %ld: left bound in the kernel", n);
		cr_assert_eq(count_fds(), fds, "allocation %ld: an fd leaked", n);
	}
	cr_assert_lt(n, 1000);
	cr_assert_gt(n, 1, "the bind made no allocation to fail");
	cr_assert_eq(count_fds(), fds);
}

static struct bind_request a_pgtable(void)
{
	return pgtable(DEV, 150);
}

Test(ops, a_pgtable_bind_undoes_what_it_did_when_an_allocation_fails)
{
	each_allocation_fails(f.alice, a_pgtable, DEV);
}

/* Nested in the client's space (backend_ops.nest_bind): the space, the nested table and the
 * reference the binding holds, each undone on every failure. */
Test(ops, a_nested_pgtable_bind_undoes_what_it_did_when_an_allocation_fails)
{
	fake_nesting();
	each_allocation_fails(f.alice, a_pgtable, DEV);
	cr_assert_eq(nested(DEV), 0);
}

static struct bind_request an_smmu_cd_table(void)
{
	return (struct bind_request){
		.device = DEV_SMMU,
		.target_pidfd = -1,
		.args = {.kind = SVMD_KIND_PASID_TABLE,
			 .table = {.ptr = 0x100000,
				   .size = 64,
				   .model = SVMD_MODEL_SMMU,
				   .vsid_valid = true,
				   .vsid = 8}},
	};
}

/* Bound in the client's space (backend_ops.bind_space), with its vEVENTQ fd for the reply and
 * svmd's share of it charged: undone, fd and charge too, on every failure. */
Test(ops, a_pasid_table_bound_in_a_space_undoes_what_it_did_when_an_allocation_fails)
{
	const struct user *u = registry_user(f.core->registry, ALICE);
	int fds0 = u ? u->n_fds : 0;

	fake_nesting();
	each_allocation_fails(f.alice, an_smmu_cd_table, DEV_SMMU);
	cr_assert_eq(nested(DEV_SMMU), 0);
	u = registry_user(f.core->registry, ALICE);
	cr_assert_eq(u ? u->n_fds : 0, fds0, "the vEVENTQ's fd share was not given back");
}

/* Invalidate on one's own nested table, with each allocation failing: a flush writes no
 * record, a refusal one; the kernel is asked only when nothing failed; nothing stays behind.
 * (Today neither path allocates, so each loop ends at its first try, with a failure armed
 * that nothing took; an allocation added to them later is failed here in turn.) */
static void invalidate_each_allocation_fails(struct bind_request req, uint32_t type)
{
	const struct svmd_invalidate_entry e = {{type == SVMD_INVALIDATE_SMMUV3 ? 0x10 : 0x1000,
						 type == SVMD_INVALIDATE_SMMUV3 ? 0 : 1, 0}};
	struct binding *b = NULL;
	struct op_result res;
	int fds, fds0 = count_fds();
	long n;

	fake_nesting();
	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	if (b->args.kind == SVMD_KIND_PASID_TABLE)
		b->args.table.event_fd = safe_close(b->args.table.event_fd); /* as the reply does */
	fds = count_fds();
	for (n = 0; n < 1000; n++) {
		unsigned before = n_invalidated;
		uint32_t done = 99;
		int r;

		n_recs = 0;
		failed = false;
		fail_countdown = n;
		r = ops_invalidate(f.core, f.alice, binding_id(b), type, &e, 1, &done, &res);
		fail_countdown = -1;
		if (r == 0) {
			cr_assert_eq(n_recs, 0, "allocation %ld: a flush is not recorded", n);
			cr_assert_eq(done, 1);
			cr_assert_eq(n_invalidated, before + 1);
			if (!failed)
				break;
			continue;
		}
		cr_assert(failed, "allocation %ld: failed (%d) with no failure injected", n, r);
		cr_assert_eq(n_recs, 1, "allocation %ld: %zu records", n, n_recs);
		cr_assert_eq(recs[0].error, -r);
		cr_assert_str_eq(recs[0].op, "invalidate");
		cr_assert_eq(done, 0);
		cr_assert_eq(n_invalidated, before, "allocation %ld: the kernel was asked", n);
		cr_assert_eq(count_fds(), fds, "allocation %ld: an fd leaked", n);
	}
	cr_assert_lt(n, 1000);
	/* A refusal (the type the table has not) with each allocation failing: one record
	 * always, the backend's refusal or the allocation's. */
	const uint32_t other =
		type == SVMD_INVALIDATE_SMMUV3 ? SVMD_INVALIDATE_VTD_S1 : SVMD_INVALIDATE_SMMUV3;
	long m;
	for (m = 0; m < 1000; m++) {
		uint32_t done = 99;
		int r;

		n_recs = 0;
		failed = false;
		fail_countdown = m;
		r = ops_invalidate(f.core, f.alice, binding_id(b), other, &e, 1, &done, &res);
		fail_countdown = -1;
		cr_assert(r == -EOPNOTSUPP || (failed && r == -ENOMEM), "allocation %ld: %d", m, r);
		cr_assert_eq(n_recs, 1, "allocation %ld: %zu records", m, n_recs);
		cr_assert_eq(recs[0].error, -r);
		cr_assert_eq(done, 0);
		cr_assert_eq(count_fds(), fds, "allocation %ld: an fd leaked", m);
		if (!failed)
			break;
	}
	/* Still bound, once, and still the owner's alone: bob's attempt is ENOENT, recorded. */
	cr_assert_eq(nested(req.device), 1);
	cr_assert_eq(registry_count(f.core->registry), 1);
	n_recs = 0;
	uint32_t done = 99;
	cr_assert_eq(ops_invalidate(f.core, f.bob, binding_id(b), type, &e, 1, &done, &res),
		     -ENOENT);
	assert_record(AUDIT_FAIL, "invalidate", ENOENT, "of yours");
	cr_assert_eq(done, 0);
	n_recs = 0;
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	cr_assert_eq(nested(req.device), 0);
	cr_assert_eq(count_fds(), fds0, "the table's fds are not all closed");
}

Test(ops, invalidate_of_a_nested_pgtable_with_each_allocation_failing)
{
	write_policy("60-invalidate.policy", "allow invalidate user=1000 device=" DEV "\n");
	cr_assert_eq(ops_reload(f.core, f.root, &(struct reload_result){0}, NULL, 0,
				&(struct op_result){0}),
		     0);
	invalidate_each_allocation_fails(pgtable(DEV, 150), SVMD_INVALIDATE_VTD_S1);
}

Test(ops, invalidate_of_a_pasid_table_with_each_allocation_failing)
{
	write_policy("60-invalidate.policy", "allow invalidate user=1000 device=" DEV_SMMU "\n");
	cr_assert_eq(ops_reload(f.core, f.root, &(struct reload_result){0}, NULL, 0,
				&(struct op_result){0}),
		     0);
	invalidate_each_allocation_fails(an_smmu_cd_table(), SVMD_INVALIDATE_SMMUV3);
}

/* What the core refuses before the backend: a PASID table bound without a space (the backends
 * that bind them with bind()), and a type the table has not (the backend's word). */
Test(ops, invalidate_reaches_a_pasid_table_only_in_a_space)
{
	struct bind_request req = an_smmu_cd_table();
	const struct svmd_invalidate_entry e = {{0x10, 0, 0}};
	struct binding *b = NULL;
	struct op_result res;
	uint32_t done;

	write_policy("60-invalidate.policy", "allow invalidate user=1000 device=" DEV_SMMU "\n");
	cr_assert_eq(ops_reload(f.core, f.root, &(struct reload_result){0}, NULL, 0, &res), 0);
	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), 0, "%s", res.reason);
	n_recs = 0;
	cr_assert_eq(ops_invalidate(f.core, f.alice, binding_id(b), SVMD_INVALIDATE_SMMUV3, &e, 1,
				    &done, &res),
		     -EINVAL);
	assert_record(AUDIT_FAIL, "invalidate", EINVAL,
		      "is a bind-pasid-table, not a guest table nested in your space");
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	fake_nesting();
	req = an_smmu_cd_table();
	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), 0, "%s", res.reason);
	n_recs = 0;
	cr_assert_eq(ops_invalidate(f.core, f.alice, binding_id(b), SVMD_INVALIDATE_VTD_S1, &e, 1,
				    &done, &res),
		     -EOPNOTSUPP);
	assert_record(AUDIT_FAIL, "invalidate", EOPNOTSUPP, "this table takes 2");
	n_recs = 0;
	cr_assert_eq(ops_invalidate(f.core, f.alice, binding_id(b), SVMD_INVALIDATE_SMMUV3, &e, 1,
				    &done, &res),
		     0, "%s", res.reason);
	cr_assert_eq(n_recs, 0);
	cr_assert_eq(n_invalidated, 1);
}

static struct bind_request a_task_of_this_process(void)
{
	return (struct bind_request){.device = DEV,
				     .target_pidfd = pidfd_open_pid(getpid()),
				     .args = {.kind = SVMD_KIND_TASK}};
}

/* Includes the watch on the bound process (event_new()) after the kernel bound. */
Test(ops, a_task_bind_undoes_what_it_did_when_an_allocation_fails)
{
	NEEDS_ROOT();
	each_allocation_fails(f.root, a_task_of_this_process, DEV);
}

Test(ops, a_reply_that_cannot_be_sent_ends_the_binding)
{
	struct bind_request req = pgtable(DEV, 150);
	struct binding *b = NULL;
	struct op_result res;

	n_recs = 0;
	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), 0);
	cr_assert_eq(bound(DEV), 1);
	ops_undelivered(f.core, b);
	cr_assert_eq(n_recs, 2);
	cr_assert_eq(recs[0].event, AUDIT_GRANT);
	cr_assert_eq(recs[1].event, AUDIT_RELEASE);
	cr_assert_str_eq(recs[1].reason, "the reply granting it could not be sent");
	cr_assert_eq(bound(DEV), 0);
	cr_assert_eq(registry_count(f.core->registry), 0);
	/* Never announced, so never withdrawn either. */
	cr_assert_eq(f.added, 0);
	cr_assert_eq(f.removed, 0);
}

static int spawn_child(void)
{
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		for (;;)
			pause();
	}
	int fd = pidfd_open_pid(child);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(ops, task_binds_identify_their_target)
{
	NEEDS_ROOT();
	struct bind_request req = {.device = DEV, .target_pidfd = -1, .args.kind = SVMD_KIND_TASK};
	struct binding *b = NULL;
	struct op_result res;
	int p[2];

	/* The caller itself, pinned by its session. */
	n_recs = 0;
	cr_assert_eq(ops_bind(f.core, f.root, &req, &res, &b), 0, "%s", res.reason);
	assert_record(AUDIT_GRANT, "bind-task", 0, NULL);
	cr_assert_eq(b->args.task.pid, getpid());
	cr_assert_geq(b->args.pasid, 1);
	ops_commit(f.core, b);
	/* A session that holds no pin (a socket peer whose front-end gave none). */
	req = (struct bind_request){.device = DEV, .target_pidfd = -1, .args.kind = SVMD_KIND_TASK};
	n_recs = 0;
	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), -ESRCH);
	assert_record(AUDIT_FAIL, "bind-task", ESRCH, "could not pin");
	/* Not a pidfd. */
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	req.target_pidfd = p[0];
	n_recs = 0;
	cr_assert_eq(ops_bind(f.core, f.root, &req, &res, &b), -EBADF);
	assert_record(AUDIT_FAIL, "bind-task", EBADF, "not a pidfd");
	cr_assert(recs[0].has_rule == false);
	/* A process that has exited. */
	req.target_pidfd = spawn_child();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	n_recs = 0;
	cr_assert_eq(ops_bind(f.core, f.root, &req, &res, &b), -ESRCH);
	assert_record(AUDIT_FAIL, "bind-task", ESRCH, "exited");
	cr_assert_eq(bound(DEV), 1);
}

Test(ops, a_task_binding_ends_with_its_process)
{
	NEEDS_ROOT();
	struct bind_request req = {.device = DEV, .args.kind = SVMD_KIND_TASK};
	struct binding *b = NULL;
	struct op_result res;

	req.target_pidfd = spawn_child();
	cr_assert_eq(ops_bind(f.core, f.root, &req, &res, &b), 0, "%s", res.reason);
	cr_assert_eq(b->user->n_fds, 1, "the pidfd is charged to the user");
	n_recs = 0;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	for (int i = 0; i < 100 && n_recs == 0; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	assert_record(AUDIT_RELEASE, "bind-task", 0, "bound process exited");
	cr_assert_eq(registry_count(f.core->registry), 0);
	cr_assert_eq(bound(DEV), 0);
}

Test(ops, unbind_by_owner_root_and_others)
{
	struct binding *b = NULL;
	struct op_result res;
	uint64_t id;

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	id = binding_id(b);
	/* Someone else's binding is as invisible as a missing one. */
	n_recs = 0;
	cr_assert_eq(ops_unbind(f.core, f.bob, id, &res), -ENOENT);
	assert_record(AUDIT_FAIL, "unbind", ENOENT, "no binding");
	cr_assert_eq(recs[0].binding, id);
	cr_assert_eq(recs[0].uid, BOB);
	n_recs = 0;
	cr_assert_eq(ops_unbind(f.core, f.root, id, &res), 0);
	/* The record is the binding's: its owner's, with who unbound it. */
	assert_record(AUDIT_RELEASE, "bind-pgtable", 0, "unbind by uid 0");
	cr_assert_eq(recs[0].uid, ALICE);
	/* The front-ends hear why, to tell its holder. */
	cr_assert_eq(f.last_end, END_UNBIND);
	cr_assert_str_eq(f.last_end_text, "unbound by uid 0");
	n_recs = 0;
	cr_assert_eq(ops_unbind(f.core, f.alice, id, &res), -ENOENT);
	assert_record(AUDIT_FAIL, "unbind", ENOENT, NULL);
}

Test(ops, a_kernel_that_refuses_to_unbind_is_recorded_and_the_binding_goes)
{
	struct binding *b = NULL;
	struct op_result res;

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	refuse_unbind = -EIO;
	n_recs = 0;
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	assert_record(AUDIT_RELEASE, "bind-pgtable", EIO, "unbind");
	cr_assert_eq(registry_count(f.core->registry), 0);
}

Test(ops, leases)
{
	struct binding *b = NULL;
	struct op_result res;
	int fd = -1, fd2 = -1;

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	uint64_t id = binding_id(b);
	n_recs = 0;
	cr_assert_eq(ops_lease(f.core, f.bob, id, &fd, &res), -ENOENT);
	assert_record(AUDIT_FAIL, "lease", ENOENT, NULL);
	n_recs = 0;
	cr_assert_eq(ops_lease(f.core, f.alice, id, &fd, &res), 0);
	assert_record(AUDIT_GRANT, "lease", 0, NULL);
	cr_assert_eq(recs[0].binding, id);
	cr_assert_geq(fd, 0);
	n_recs = 0;
	cr_assert_eq(ops_lease(f.core, f.alice, id, &fd2, &res), -EALREADY);
	assert_record(AUDIT_FAIL, "lease", EALREADY, "leased already");
	/* The session ends; the leased binding stays until the lease closes. */
	n_recs = 0;
	ops_session_end(f.core, f.alice);
	f.alice = NULL;
	cr_assert_eq(n_recs, 0);
	cr_assert_eq(bound(DEV), 1);
	close(fd);
	for (int i = 0; i < 100 && n_recs == 0; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	assert_record(AUDIT_RELEASE, "bind-pgtable", 0, "lease closed");
	cr_assert_eq(bound(DEV), 0);
}

Test(ops, a_lease_undoes_itself_when_a_call_fails)
{
	struct binding *b = NULL;
	struct op_result res;
	int fds = count_fds();

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	for (long n = 0; n < 100; n++) {
		int fd = -1;

		n_recs = 0;
		failed = false;
		fail_countdown = n;
		int r = ops_lease(f.core, f.alice, binding_id(b), &fd, &res);
		fail_countdown = -1;
		cr_assert_eq(n_recs, 1);
		if (r == 0) {
			cr_assert_not(failed, "a lease made with a failed call");
			close(fd);
			break;
		}
		cr_assert(failed);
		cr_assert_eq(recs[0].event, AUDIT_FAIL);
		cr_assert_not(b->leased);
		cr_assert_eq(b->user->n_fds, 0);
		cr_assert_eq(count_fds(), fds, "call %ld: an fd leaked", n);
	}
}

Test(ops, a_session_end_releases_what_is_not_leased)
{
	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, NULL), 0);
	cr_assert_eq(bind_pgtable(f.alice, DEV, 151, NULL), 0);
	n_recs = 0;
	ops_session_end(f.core, f.alice);
	f.alice = NULL;
	cr_assert_eq(n_recs, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(recs[i].event, AUDIT_RELEASE);
		cr_assert_str_eq(recs[i].reason, "session ended");
	}
	cr_assert_eq(bound(DEV), 0);
	cr_assert_eq(f.removed, 2);
}

Test(ops, open_device_one_holder)
{
	struct binding *b = NULL;
	struct op_result res;
	int fd = -1;

	n_recs = 0;
	cr_assert_eq(ops_open_device(f.core, f.alice, DEV, &fd, &res, &b), 0, "%s", res.reason);
	assert_record(AUDIT_GRANT, "open-device", 0, NULL);
	cr_assert_geq(fd, 0);
	close(fd);
	ops_commit(f.core, b);
	n_recs = 0;
	cr_assert_eq(ops_open_device(f.core, f.alice, DEV, &fd, &res, &b), -EBUSY);
	assert_record(AUDIT_FAIL, "open-device", EBUSY, "held by another client of yours");
	n_recs = 0;
	cr_assert_eq(ops_open_device(f.core, f.bob, DEV, &fd, &res, &b), -EACCES);
	assert_record(AUDIT_DENY, "open-device", EACCES, NULL);
}

Test(ops, open_device_the_kernel_refuses_and_allocations_fail)
{
	struct binding *b = NULL;
	struct op_result res;
	int fds = count_fds(), fd = -1;

	refuse_open = -EIO;
	n_recs = 0;
	cr_assert_eq(ops_open_device(f.core, f.alice, DEV, &fd, &res, &b), -EIO);
	assert_record(AUDIT_FAIL, "open-device", EIO, "kernel refused");
	refuse_open = 0;
	for (long n = 0; n < 100; n++) {
		n_recs = 0;
		failed = false;
		fail_countdown = n;
		int r = ops_open_device(f.core, f.alice, DEV, &fd, &res, &b);
		fail_countdown = -1;
		cr_assert_eq(n_recs, 1);
		if (r == 0) {
			close(fd);
			ops_unbind(f.core, f.alice, binding_id(b), &res);
			if (!failed)
				break;
			continue;
		}
		cr_assert_eq(registry_count(f.core->registry), 0);
		cr_assert_eq(count_fds(), fds, "allocation %ld: the device fd leaked", n);
	}
}

Test(ops, explain_writes_no_record)
{
	struct explain_request x = {.op = POLICY_OP_BIND_PGTABLE, .device = DEV, .pasid = 150};
	enum policy_verdict v;
	struct op_result res;
	char text[4096];

	n_recs = 0;
	cr_assert_eq(ops_explain(f.core, f.alice, &x, text, sizeof(text), &v, &res), 0);
	cr_assert_eq(v, POLICY_ALLOW);
	cr_assert(strstr(text, "verdict: allow by "), "%s", text);
	x.has_uid = true;
	x.uid = ALICE;
	cr_assert_eq(ops_explain(f.core, f.bob, &x, text, sizeof(text), &v, &res), -EPERM);
	cr_assert_eq(res.status, -EPERM);
	cr_assert(strstr(res.reason, "only root"));
	x.device = "0000:99:00.0";
	cr_assert_eq(ops_explain(f.core, f.root, &x, text, sizeof(text), &v, &res), -ENODEV);
	cr_assert_eq(n_recs, 0);
}

/* Invalidate is explained on a binding's device and PASID, as ops_invalidate() decides it. */
Test(ops, explain_invalidate)
{
	struct explain_request x = {.op = POLICY_OP_INVALIDATE, .device = DEV, .pasid = 150};
	enum policy_verdict v;
	struct op_result res;
	char text[4096];

	write_policy("60-invalidate.policy",
		     "allow invalidate user=1000 device=" DEV " pasid=100-199\n");
	cr_assert_eq(
		ops_reload(f.core, f.root, &(struct reload_result){0}, text, sizeof(text), &res), 0,
		"%s", res.reason);
	n_recs = 0;
	cr_assert_eq(ops_explain(f.core, f.alice, &x, text, sizeof(text), &v, &res), 0);
	cr_assert_eq(v, POLICY_ALLOW, "%s", text);
	cr_assert(strstr(text, "invalidate on " DEV " (PASID 150) for uid 1000"), "%s", text);
	cr_assert(strstr(text, "verdict: allow by "), "%s", text);
	cr_assert(strstr(text, "60-invalidate.policy:1"), "%s", text);
	/* PASID 0 (a PASID table, or the RID) is not in the rule's range; '*' does not name it. */
	x.pasid = 0;
	cr_assert_eq(ops_explain(f.core, f.alice, &x, text, sizeof(text), &v, &res), 0);
	cr_assert_eq(v, POLICY_DENY, "%s", text);
	cr_assert(strstr(text, "(PASID 0)"), "%s", text);
	cr_assert(strstr(text, "verdict: deny (no rule matched"), "%s", text);
	x.device = DEV_SMMU;
	cr_assert_eq(ops_explain(f.core, f.alice, &x, text, sizeof(text), &v, &res), 0);
	cr_assert_eq(v, POLICY_DENY, "%s", text);
	cr_assert_eq(n_recs, 0);
}

Test(ops, reloads_are_recorded_refused_or_not)
{
	struct reload_result rr;
	struct op_result res;
	char text[4096];

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, NULL), 0);
	/* Not allowed: a denial. */
	n_recs = 0;
	cr_assert_eq(ops_reload(f.core, f.alice, &rr, text, sizeof(text), &res), -EACCES);
	assert_record(AUDIT_DENY, "reload", EACCES, NULL);
	/* Allowed, but the tree does not compile: a reload that was refused. */
	write_policy("60-broken.policy", "allow frobnicate\n");
	n_recs = 0;
	cr_assert_eq(ops_reload(f.core, f.carol, &rr, text, sizeof(text), &res), -EINVAL);
	assert_record(AUDIT_RELOAD, "reload", EINVAL, "1 error");
	cr_assert_eq(f.core->generation, 1);
	/* Fixed, and revoking alice's grants. */
	write_policy("60-broken.policy", "");
	write_policy("10-revoke.policy", "deny * user=1000 revoke\n");
	n_recs = 0;
	cr_assert_eq(ops_reload(f.core, NULL, &rr, text, sizeof(text), &res), 0, "%s", res.reason);
	cr_assert_eq(rr.generation, 2);
	cr_assert_eq(rr.n_revoked, 1);
	/* The revocation's release, then the reload's own record. */
	cr_assert_eq(n_recs, 2);
	cr_assert_eq(recs[0].event, AUDIT_RELEASE);
	cr_assert_str_eq(recs[0].reason, "revoked by the reloaded policy");
	cr_assert_eq(f.last_end, END_REVOKED);
	cr_assert_str_eq(f.last_end_text, "revoked by policy generation 2");
	cr_assert_eq(recs[1].event, AUDIT_RELOAD);
	cr_assert_eq(recs[1].error, 0);
	cr_assert_eq(recs[1].uid, 0, "SIGHUP: svmd itself");
	cr_assert_eq(bound(DEV), 0);
}

Test(ops, shutdown_releases_everything)
{
	struct binding *b = NULL;
	struct op_result res;
	int fd;

	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	cr_assert_eq(ops_lease(f.core, f.alice, binding_id(b), &fd, &res), 0);
	uint64_t leased = binding_id(b);
	cr_assert_eq(bind_pgtable(f.alice, DEV, 151, NULL), 0);
	n_recs = 0;
	core_release_all(f.core);
	cr_assert_eq(n_recs, 2);
	cr_assert_str_eq(recs[0].reason, "svmd shutting down");
	cr_assert_str_eq(recs[1].reason, "svmd shutting down");
	cr_assert_eq(bound(DEV), 0);
	/* The lease's holder reads why: one EV_BINDING_ENDED the codec accepts, then EOF. */
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_ev_binding_ended e;
	struct svmd_hdr h;
	ssize_t n = recv(fd, rec, sizeof(rec), MSG_DONTWAIT);
	cr_assert_gt(n, 0);
	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
	cr_assert_eq(h.opcode, SVMD_EV_BINDING_ENDED);
	cr_assert_eq(svmd_event_check(h.opcode, h.seq, rec + sizeof(h), h.len, 0), 0);
	memcpy(&e, rec + sizeof(h), sizeof(e));
	cr_assert_eq(e.id, leased);
	cr_assert_eq(e.reason, SVMD_END_SHUTDOWN);
	cr_assert_str_eq(svmd_event_text(h.opcode, rec + sizeof(h)), "svmd shutting down");
	cr_assert_eq(recv(fd, rec, sizeof(rec), MSG_DONTWAIT), 0);
	close(fd);
}

/* The counters move with each record and each request, and reading them is allowed only to
 * root and to an 'allow metrics' rule ('*' does not include it). */
Test(ops, metrics_count_outcomes_and_need_root_or_a_rule)
{
	struct svmd_metrics m;
	struct reload_result rr;
	struct binding *b = NULL;
	struct op_result res;
	char text[4096];
	unsigned pg = svmd_metrics_op_index("bind-pgtable");
	uint64_t seen;

	cr_assert_eq(ops_metrics(f.core, f.root, &m, &res), 0, "%s", res.reason);
	cr_assert_eq(m.n_devices, f.core->backend->n_devices);
	cr_assert_str_eq(m.device[0].name, f.core->backend->devices[0].name);
	seen = m.latency_count;
	cr_assert_eq(bind_pgtable(f.alice, DEV, 150, &b), 0);
	cr_assert_eq(bind_pgtable(f.bob, DEV, 151, NULL), -EACCES);
	cr_assert_lt(bind_pgtable(f.alice, DEV, 150, NULL), 0);
	cr_assert_eq(ops_metrics(f.core, f.root, &m, &res), 0, "%s", res.reason);
	cr_assert_eq(m.requests[SVMD_METRICS_GRANT][pg][0], 1);
	cr_assert_eq(m.requests[SVMD_METRICS_DENY][pg][svmd_metrics_class(-EACCES)], 1);
	cr_assert_eq(m.requests[SVMD_METRICS_FAIL][pg][svmd_metrics_class(-EBUSY)], 1, "conflict");
	cr_assert_eq(m.latency_count, seen + 4, "three binds and the read before them");
	size_t d = (size_t)(backend_find_device(f.core->backend, DEV) - f.core->backend->devices);
	cr_assert_eq(m.device[d].bindings[SVMD_METRICS_UID_OTHER], 1);
	cr_assert_eq(m.device[d].bindings[SVMD_METRICS_UID_ROOT], 0);
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	cr_assert_eq(ops_reload(f.core, f.carol, &rr, text, sizeof(text), &res), 0, "%s",
		     res.reason);
	write_policy("60-broken.policy", "allow frobnicate\n");
	cr_assert_eq(ops_reload(f.core, f.carol, &rr, text, sizeof(text), &res), -EINVAL);
	cr_assert_eq(ops_metrics(f.core, f.root, &m, &res), 0, "%s", res.reason);
	cr_assert_eq(m.releases[pg][END_UNBIND], 1);
	cr_assert_eq(m.reloads_ok, 1);
	cr_assert_eq(m.reloads_refused, 1);
	cr_assert_eq(m.device[d].bindings[SVMD_METRICS_UID_OTHER], 0);

	/* Alice has rules, but none for metrics: refused, with what would do, and no record. */
	n_recs = 0;
	cr_assert_eq(ops_metrics(f.core, f.alice, &m, &res), -EACCES);
	cr_assert_str_eq(res.reason,
			 "reading the metrics needs root or an 'allow metrics' rule for uid 1000");
	cr_assert_eq(n_recs, 0);
	write_policy("60-broken.policy", "allow * user=1000\n");
	cr_assert_eq(ops_reload(f.core, NULL, &rr, text, sizeof(text), &res), 0, "%s", res.reason);
	cr_assert_eq(ops_metrics(f.core, f.alice, &m, &res), -EACCES, "'*' does not include it");
	write_policy("60-broken.policy", "allow metrics user=1000\n");
	cr_assert_eq(ops_reload(f.core, NULL, &rr, text, sizeof(text), &res), 0, "%s", res.reason);
	cr_assert_eq(ops_metrics(f.core, f.alice, &m, &res), 0, "%s", res.reason);
	cr_assert_eq(m.reloads_ok, 3);
}

/* The state file's lines for the next svmd (persist.c keeps each one made and remakes only what
 * changed): a lease, a new resume note and an unbind show in the next write. */
static size_t state_lines(const char *prefix, char *first, size_t size)
{
	static struct state_lines st;
	size_t n = 0;

	state_lines_read(&st, f.dir);
	for (size_t i = 0; i < st.n; i++)
		if (strncmp(st.line[i], prefix, strlen(prefix)) == 0 && n++ == 0 && first)
			snprintf(first, size, "%s", st.line[i]);
	state_lines_done(&st);
	return n;
}

Test(ops, the_state_file_follows_leases_resume_notes_and_unbinds)
{
	struct bind_request req = pgtable(DEV, 150);
	struct binding *b = NULL;
	struct op_result res;
	char err[256], line[1024], want[64];
	int fd = -1;
	uint64_t id;

	cr_assert_eq(core_set_state_dir(f.core, f.dir, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(persist_new(f.core, false, &f.core->persist), 0);
	cr_assert_eq(registry_session_set_resume(f.alice, "socket 2 0"), 0);
	cr_assert_eq(ops_bind(f.core, f.alice, &req, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	id = binding_id(b);
	persist_flush(f.core->persist);
	cr_assert_eq(state_lines("binding ", line, sizeof(line)), 1);
	snprintf(want, sizeof(want), "binding %" PRIu64 " %" PRIu64 " ", id, f.alice->id);
	cr_assert(strncmp(line, want, strlen(want)) == 0, "%s", line);
	cr_assert_eq(state_lines("session ", line, sizeof(line)), 1);
	cr_assert(strstr(line, " 736f636b657420322030 "), "the note in hex: %s", line);

	/* Leased: no session, the owner's identity instead. */
	cr_assert_eq(ops_lease(f.core, f.alice, id, &fd, &res), 0, "%s", res.reason);
	persist_flush(f.core->persist);
	cr_assert_eq(state_lines("binding ", line, sizeof(line)), 1);
	snprintf(want, sizeof(want), "binding %" PRIu64 " 0 ", id);
	cr_assert(strncmp(line, want, strlen(want)) == 0, "%s", line);

	/* A new resume note. */
	cr_assert_eq(registry_session_set_resume(f.alice, "socket 2 1"), 0);
	persist_flush(f.core->persist);
	cr_assert_eq(state_lines("session ", line, sizeof(line)), 1);
	cr_assert(strstr(line, " 736f636b657420322031 "), "the new note in hex: %s", line);

	/* Its lease closed: gone from the file. */
	close(fd);
	event_base_loop(f.base, EVLOOP_NONBLOCK);
	persist_flush(f.core->persist);
	cr_assert_eq(state_lines("binding ", NULL, 0), 0);
}

/* What a state directory holds as the next svmd reads it. */
static int state_read(size_t *sessions, size_t *bindings, char *why, size_t len)
{
	int dir = open(f.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	cr_assert_geq(dir, 0);
	r = persist_read(dir, sessions, bindings, why, len);
	close(dir);
	return r;
}

static size_t file_size(const char *name)
{
	char path[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", f.dir, name);
	cr_assert_eq(stat(path, &sb), 0, "%s: %m", path);
	return (size_t)sb.st_size;
}

/* A change goes to the journal; its last batch cut short (svmd died writing it) is left out, a
 * batch that does not match its commit line makes the state untrusted, a journal that follows
 * another file is stale, and the journal is folded into a whole file once it is as long. */
Test(ops, the_state_journal_is_applied_batch_by_batch)
{
	struct bind_request one = pgtable(DEV, 150), two = pgtable(DEV, 151);
	struct binding *b = NULL;
	struct op_result res;
	size_t sessions = 0, bindings = 0;
	char err[256], path[PATH_MAX], why[256];
	uint64_t id2;

	cr_assert_eq(core_set_state_dir(f.core, f.dir, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(persist_new(f.core, false, &f.core->persist), 0);
	cr_assert_eq(registry_session_set_resume(f.alice, "socket 2 0"), 0);
	cr_assert_eq(ops_bind(f.core, f.alice, &one, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	persist_flush(f.core->persist); /* the first write is a whole one */
	size_t whole = file_size(PERSIST_FILE), journal = file_size(PERSIST_JOURNAL);
	cr_assert_eq(ops_bind(f.core, f.alice, &two, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	id2 = binding_id(b);
	persist_flush(f.core->persist);
	cr_assert_eq(file_size(PERSIST_FILE), whole, "the whole file was written again");
	cr_assert_gt(file_size(PERSIST_JOURNAL), journal, "nothing went to the journal");
	cr_assert_eq(state_read(&sessions, &bindings, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(sessions, 1);
	cr_assert_eq(bindings, 2);

	/* The last batch cut short: as if it was never written. */
	snprintf(path, sizeof(path), "%s/%s", f.dir, PERSIST_JOURNAL);
	size_t full = file_size(PERSIST_JOURNAL);
	cr_assert_eq(truncate(path, (off_t)full - 5), 0);
	cr_assert_eq(state_read(&sessions, &bindings, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(bindings, 1, "a batch without its commit line was applied");

	/* A batch whose lines do not match its commit line: nothing is trusted. */
	cr_assert_eq(truncate(path, (off_t)journal), 0);
	ops_unbind(f.core, f.alice, id2, &res);
	cr_assert_eq(res.status, 0, "%s", res.reason);
	persist_flush(f.core->persist);
	FILE *j = fopen(path, "r+");
	cr_assert_not_null(j);
	cr_assert_eq(fseek(j, (long)journal + 13, SEEK_SET), 0); /* N of "drop binding N" */
	int digit = fgetc(j);
	cr_assert_eq(fseek(j, (long)journal + 13, SEEK_SET), 0);
	fputc(digit == '9' ? '8' : digit + 1, j);
	fclose(j);
	cr_assert_eq(state_read(&sessions, &bindings, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "does not match its commit line"), "%s", why);

	/* A journal that follows another file is stale: the file alone counts. */
	j = fopen(path, "r+");
	cr_assert_not_null(j);
	cr_assert_eq(fseek(j, 15, SEEK_SET), 0); /* "svmd-journal 1 " then the file's sum */
	digit = fgetc(j);
	cr_assert_eq(fseek(j, 15, SEEK_SET), 0);
	fputc(digit == '0' ? '1' : '0', j);
	fclose(j);
	cr_assert_eq(state_read(&sessions, &bindings, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(bindings, 1);

	/* Many changes later the journal has been folded into the file, more than once. */
	for (int i = 0; i < 1000; i++) {
		struct bind_request r = pgtable(DEV, 152);
		cr_assert_eq(ops_bind(f.core, f.alice, &r, &res, &b), 0, "%s", res.reason);
		ops_commit(f.core, b);
		persist_flush(f.core->persist);
		ops_unbind(f.core, f.alice, binding_id(b), &res);
		persist_flush(f.core->persist);
		n_recs = 0; /* the records are not what this checks */
	}
	cr_assert_lt(file_size(PERSIST_JOURNAL), (size_t)(64 << 10) + 4096,
		     "the journal was not folded: %zu bytes", file_size(PERSIST_JOURNAL));
	cr_assert_eq(state_read(&sessions, &bindings, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(sessions, 1);
	cr_assert_eq(bindings, 1);
}

/* A whole file written when the state is what it was at the last one (the journal folded just
 * then): a journal that followed the earlier file, left by a crash between the two renames,
 * does not match the new one, however alike they are. */
Test(ops, an_old_journal_never_follows_a_new_file)
{
	struct bind_request one = pgtable(DEV, 150), two = pgtable(DEV, 151);
	struct binding *b = NULL;
	struct op_result res;
	size_t sessions = 0, bindings = 0;
	char err[256], path[PATH_MAX], aside[PATH_MAX], why[256];

	cr_assert_eq(core_set_state_dir(f.core, f.dir, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(persist_new(f.core, false, &f.core->persist), 0);
	cr_assert_eq(registry_session_set_resume(f.alice, "socket 2 0"), 0);
	cr_assert_eq(ops_bind(f.core, f.alice, &one, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	persist_flush(f.core->persist);
	cr_assert_eq(ops_bind(f.core, f.alice, &two, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	uint64_t id2 = binding_id(b);
	persist_flush(f.core->persist);
	/* The journal that says binding two was made, kept aside. */
	snprintf(path, sizeof(path), "%s/%s", f.dir, PERSIST_JOURNAL);
	snprintf(aside, sizeof(aside), "%s/journal.aside", f.dir);
	char cmd[2 * PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "cp %s %s", path, aside);
	cr_assert_eq(system(cmd), 0);
	/* Binding two ends; a whole file is written (svmd's start after a restart does so). */
	ops_unbind(f.core, f.alice, id2, &res);
	cr_assert_eq(res.status, 0, "%s", res.reason);
	persist_free(f.core->persist);
	cr_assert_eq(persist_new(f.core, false, &f.core->persist), 0);
	persist_flush(f.core->persist); /* the first write is a whole one */
	/* The old journal put back: it is stale. */
	cr_assert_eq(rename(aside, path), 0);
	cr_assert_eq(state_read(&sessions, &bindings, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(bindings, 1, "an old journal brought binding two back");
}
