/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the registry (daemon/registry.c): sessions and per-uid accounts, owners, bindings
 * and their indices, quotas per (uid, rule) and per (device, rule) and how a reload moves them,
 * leases, id-order iteration and hash growth.
 */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "registry.h"

#define ALICE 1001
#define BOB   1002

static struct device devs[4] = {
	{.name = "0000:3b:00.0", .index = 0},
	{.name = "0000:3b:00.1", .index = 1},
	{.name = "0000:3c:00.0", .index = 2},
	/* A high index: (index << 32 | PASID) must not collide with small ones. */
	{.name = "0000:ff:1f.7", .index = 0xfffffu},
};

/* Index 0x10000: beyond the 16 bits a (device, rule) hash key keeps of it, so its counts
 * share a hash with device 0's and must still be told apart. */
static struct device dev_far = {.name = "0000:fe:00.0", .index = 0x10000u};

static struct registry *new_registry(void)
{
	struct registry *r = NULL;

	cr_assert_eq(registry_new(&r), 0);
	return r;
}

/* A session as the front-ends make one, from kernel credentials: the session holds the only
 * reference to its identity. */
static struct session *session_new(struct registry *r, uid_t uid, gid_t gid, pid_t pid)
{
	struct identity *who = NULL;
	struct session *s = NULL;

	cr_assert_eq(identity_new(uid, gid, pid, &who), 0);
	cr_assert_eq(registry_session_new(r, who, 0, &s), 0);
	identity_unref(who);
	return s;
}

/* Two rules; the registry only compares their addresses. */
static const struct policy_rule rule_a, rule_b;

static struct bind_args task_args(uint32_t pasid, int32_t pid)
{
	return (struct bind_args){.kind = SVMD_KIND_TASK, .pasid = pasid, .task.pid = pid};
}

static struct bind_args table_args(uint64_t ptr)
{
	return (struct bind_args){
		.kind = SVMD_KIND_PASID_TABLE,
		.pasid = 0,
		.table = {.ptr = ptr, .size = 4096, .model = SVMD_MODEL_VTD},
	};
}

static struct binding *add(struct registry *r, struct session *s, const struct policy_rule *rule,
			   unsigned dev, uint32_t pasid)
{
	struct bind_args a = task_args(pasid, 4242);
	struct binding *b = registry_add(r, s, rule, &devs[dev], &a);

	cr_assert_not_null(b);
	return b;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

Test(registry, empty)
{
	struct registry *r = new_registry();

	cr_assert_not_null(r);
	cr_assert_eq(registry_count(r), 0);
	cr_assert_eq(registry_count_sessions(r), 0);
	cr_assert_eq(registry_count_user(r, ALICE), 0);
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 0);
	cr_assert_null(registry_find(r, 0));
	cr_assert_null(registry_find(r, 1));
	cr_assert_null(registry_find_pasid(r, &devs[0], 0));
	cr_assert_null(registry_find_pasid(r, &devs[0], 1));
	cr_assert_null(registry_first_after(r, 0));
	cr_assert_null(registry_free(r));
	cr_assert_null(registry_free(NULL));
}

Test(registry, sessions_and_users)
{
	struct registry *r = new_registry();
	struct session *s1 = session_new(r, ALICE, 100, 10);
	struct session *s2 = session_new(r, ALICE, 101, 11);
	struct session *s3 = session_new(r, BOB, 200, 20);

	cr_assert_not_null(s1);
	cr_assert_not_null(s2);
	cr_assert_not_null(s3);
	cr_assert_eq(registry_count_sessions(r), 3);
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 2);
	cr_assert_eq(registry_count_user_sessions(r, BOB), 1);
	cr_assert_eq(registry_count_user_sessions(r, 0), 0);

	/* Ids grow; the fields are the caller's. */
	cr_assert_lt(s1->id, s2->id);
	cr_assert_lt(s2->id, s3->id);
	cr_assert_eq(s1->reg, r);
	cr_assert_eq(s1->owner->gid, 100);
	cr_assert_eq(s1->owner->pid, 10);
	cr_assert_eq(s2->owner->gid, 101);
	cr_assert_eq(s3->owner->pid, 20);
	cr_assert_eq(s1->n_bindings, 0);
	cr_assert(list_empty(&s1->bindings));

	/* One account per uid, shared by its sessions. */
	cr_assert_not_null(s1->user);
	cr_assert_eq(s1->user, s2->user);
	cr_assert_neq(s1->user, s3->user);
	cr_assert_eq(s1->user->uid, ALICE);
	cr_assert_eq(s3->user->uid, BOB);
	cr_assert_eq(s1->user->n_sessions, 2);
	cr_assert_eq(s1->user->n_bindings, 0);

	cr_assert_null(registry_session_free(s1));
	cr_assert_eq(registry_count_sessions(r), 2);
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 1);
	cr_assert_eq(s2->user->n_sessions, 1);
	cr_assert_null(registry_session_free(s2));
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 0);
	cr_assert_eq(registry_count_sessions(r), 1);
	cr_assert_eq(registry_count_user_sessions(r, BOB), 1);

	/* A new session of a uid whose account was freed starts from zero. */
	s1 = session_new(r, ALICE, 100, 12);
	cr_assert_not_null(s1);
	cr_assert_eq(s1->user->n_sessions, 1);
	cr_assert_eq(s1->user->n_bindings, 0);
	cr_assert_null(s1->user->counts);
	cr_assert_gt(s1->id, s3->id); /* session ids are never reused */
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 1);

	cr_assert_null(registry_session_free(s1));
	cr_assert_null(registry_session_free(s3));
	cr_assert_null(registry_session_free(NULL));
	cr_assert_eq(registry_count_sessions(r), 0);
	cr_assert_eq(registry_count_user_sessions(r, BOB), 0);
	registry_free(r);
}

Test(registry, add_assigns_ids_and_copies)
{
	struct registry *r = new_registry();
	struct session *s = session_new(r, ALICE, 100, 10);
	struct bind_args a = task_args(7, 31337);
	uint64_t before = realtime_usec();
	struct binding *b1 = registry_add(r, s, &rule_a, &devs[0], &a);
	uint64_t after = realtime_usec();
	struct binding *b2, *b3;

	cr_assert_not_null(b1);
	cr_assert_eq(binding_id(b1), 1);
	cr_assert_eq(b1->session, s);
	cr_assert_eq(b1->user, s->user);
	cr_assert_eq(b1->rule, &rule_a);
	cr_assert_eq(b1->device, &devs[0]);
	cr_assert_eq(b1->owner->gid, 100);
	cr_assert_eq(b1->owner->pid, 10);
	cr_assert_not(b1->leased);
	cr_assert_not(b1->committed);
	cr_assert_eq(memcmp(&b1->args, &a, sizeof(a)), 0);
	cr_assert_eq(b1->args.task.pid, 31337);
	cr_assert_geq(b1->created_usec, before);
	cr_assert_leq(b1->created_usec, after);

	/* Changing the caller's copy afterwards changes nothing. */
	a.pasid = 8;
	cr_assert_eq(b1->args.pasid, 7);

	b2 = registry_add(r, s, &rule_a, &devs[0], &a);
	a = table_args(0x1000);
	b3 = registry_add(r, s, &rule_b, &devs[1], &a);
	cr_assert_not_null(b2);
	cr_assert_not_null(b3);
	cr_assert_eq(binding_id(b2), 2);
	cr_assert_eq(binding_id(b3), 3);
	cr_assert_eq(b3->args.kind, SVMD_KIND_PASID_TABLE);
	cr_assert_eq(b3->args.table.ptr, 0x1000);
	cr_assert_eq(b3->args.table.model, SVMD_MODEL_VTD);

	cr_assert_eq(registry_count(r), 3);
	cr_assert_eq(s->n_bindings, 3);
	cr_assert_eq(s->user->n_bindings, 3);
	cr_assert_eq(registry_count_user(r, ALICE), 3);
	cr_assert_eq(registry_count_user(r, BOB), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 1);

	/* Ids are never reused, even after a remove. */
	registry_remove(r, b3);
	a = task_args(9, 1);
	b3 = registry_add(r, s, &rule_a, &devs[0], &a);
	cr_assert_eq(binding_id(b3), 4);
	registry_remove(r, b1);
	registry_remove(r, b2);
	registry_remove(r, b3);
	registry_session_free(s);
	registry_free(r);
}

Test(registry, session_list_holds_its_bindings)
{
	struct registry *r = new_registry();
	struct session *s1 = session_new(r, ALICE, 100, 10);
	struct session *s2 = session_new(r, ALICE, 100, 11);
	struct binding *a = add(r, s1, &rule_a, 0, 1);
	struct binding *b = add(r, s2, &rule_a, 0, 2);
	struct binding *c = add(r, s1, &rule_a, 0, 3);
	struct binding *want[] = {a, c};
	size_t n = 0;

	list_for_each (pos, &s1->bindings) {
		cr_assert_lt(n, 2);
		cr_assert_eq(container_of(pos, struct binding, session_link), want[n]);
		n++;
	}
	cr_assert_eq(n, 2);
	cr_assert_eq(s1->n_bindings, 2);
	cr_assert_eq(s2->n_bindings, 1);
	cr_assert_eq(s2->bindings.next, &b->session_link);
	cr_assert_eq(registry_count_user(r, ALICE), 3);

	registry_remove(r, a);
	cr_assert_eq(s1->bindings.next, &c->session_link);
	cr_assert_eq(s1->bindings.prev, &c->session_link);
	registry_remove(r, c);
	cr_assert(list_empty(&s1->bindings));
	cr_assert_eq(s1->n_bindings, 0);
	cr_assert_eq(s2->n_bindings, 1);
	registry_remove(r, b);
	registry_session_free(s1);
	registry_session_free(s2);
	registry_free(r);
}

Test(registry, find_by_id_and_pasid)
{
	struct registry *r = new_registry();
	struct session *s = session_new(r, ALICE, 100, 10);
	struct binding *b1 = add(r, s, &rule_a, 0, 5);
	struct binding *b2 = add(r, s, &rule_a, 1, 5); /* same PASID, other device */
	struct binding *b3 = add(r, s, &rule_a, 3, 5); /* a high device index */
	struct bind_args t = table_args(0x2000);
	struct binding *tb = registry_add(r, s, &rule_b, &devs[2], &t);
	struct binding *b4 = add(r, s, &rule_a, 0, 0xfffff);

	cr_assert_not_null(tb);
	cr_assert_eq(registry_find(r, binding_id(b1)), b1);
	cr_assert_eq(registry_find(r, binding_id(b2)), b2);
	cr_assert_eq(registry_find(r, binding_id(b3)), b3);
	cr_assert_eq(registry_find(r, binding_id(tb)), tb);
	cr_assert_eq(registry_find(r, binding_id(b4)), b4);
	cr_assert_null(registry_find(r, 0));
	cr_assert_null(registry_find(r, binding_id(b4) + 1));
	cr_assert_null(registry_find(r, UINT64_MAX));

	cr_assert_eq(registry_find_pasid(r, &devs[0], 5), b1);
	cr_assert_eq(registry_find_pasid(r, &devs[1], 5), b2);
	cr_assert_eq(registry_find_pasid(r, &devs[3], 5), b3);
	cr_assert_null(registry_find_pasid(r, &devs[2], 5));
	cr_assert_eq(registry_find_pasid(r, &devs[0], 0xfffff), b4);
	cr_assert_null(registry_find_pasid(r, &devs[0], 4));
	cr_assert_null(registry_find_pasid(r, &devs[0], 6));

	/* PASID 0 is the PASID-table binding of a device. */
	cr_assert_eq(registry_find_pasid(r, &devs[2], 0), tb);
	cr_assert_null(registry_find_pasid(r, &devs[0], 0));
	cr_assert_null(registry_find_pasid(r, &devs[1], 0));
	cr_assert_null(registry_find_pasid(r, &devs[3], 0));

	/* Lookups go by device index, not by the struct's address. */
	struct device copy = devs[1];
	cr_assert_eq(registry_find_pasid(r, &copy, 5), b2);

	registry_remove(r, tb);
	cr_assert_null(registry_find_pasid(r, &devs[2], 0));
	cr_assert_null(registry_find(r, 4));
	registry_remove(r, b1);
	registry_remove(r, b2);
	registry_remove(r, b3);
	registry_remove(r, b4);
	registry_session_free(s);
	registry_free(r);
}

Test(registry, remove_unlinks_everywhere)
{
	struct registry *r = new_registry();
	struct session *s = session_new(r, ALICE, 100, 10);
	struct binding *b1 = add(r, s, &rule_a, 0, 1);
	struct binding *b2 = add(r, s, &rule_a, 0, 2);
	struct binding *b3 = add(r, s, &rule_a, 0, 3);
	uint64_t id2 = binding_id(b2);

	registry_remove(r, b2);
	cr_assert_null(registry_find(r, id2));
	cr_assert_null(registry_find_pasid(r, &devs[0], 2));
	cr_assert_eq(registry_find(r, binding_id(b1)), b1);
	cr_assert_eq(registry_find(r, binding_id(b3)), b3);
	cr_assert_eq(registry_find_pasid(r, &devs[0], 1), b1);
	cr_assert_eq(registry_find_pasid(r, &devs[0], 3), b3);
	cr_assert_eq(registry_count(r), 2);
	cr_assert_eq(s->n_bindings, 2);
	cr_assert_eq(registry_count_user(r, ALICE), 2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 2);
	/* The neighbours are linked to each other now, in both lists. */
	cr_assert_eq(registry_next(r, b1), b3);
	cr_assert_eq(b1->session_link.next, &b3->session_link);
	cr_assert_eq(b3->session_link.prev, &b1->session_link);

	/* The PASID can be bound again. */
	b2 = add(r, s, &rule_a, 0, 2);
	cr_assert_eq(registry_find_pasid(r, &devs[0], 2), b2);
	cr_assert_gt(binding_id(b2), binding_id(b3));

	registry_remove(r, NULL); /* harmless */
	cr_assert_eq(registry_count(r), 3);
	registry_remove(r, b1);
	registry_remove(r, b2);
	registry_remove(r, b3);
	cr_assert_eq(registry_count(r), 0);
	cr_assert_eq(registry_count_user(r, ALICE), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 0);
	cr_assert_null(registry_first_after(r, 0));
	/* The session still holds the account. */
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 1);
	cr_assert_null(s->user->counts);
	registry_session_free(s);
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 0);
	registry_free(r);
}

Test(registry, rule_counts)
{
	struct registry *r = new_registry();
	struct session *sa = session_new(r, ALICE, 100, 10);
	struct session *sa2 = session_new(r, ALICE, 100, 11);
	struct session *sb = session_new(r, BOB, 100, 20);
	struct binding *a1 = add(r, sa, &rule_a, 0, 1);
	struct binding *a2 = add(r, sa2, &rule_a, 0, 2); /* another session, same uid */
	struct binding *a3 = add(r, sa, &rule_b, 0, 3);
	struct binding *a4 = add(r, sa, NULL, 0, 4); /* no rule */
	struct binding *b1 = add(r, sb, &rule_a, 1, 1);

	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 1);
	cr_assert_eq(registry_count_rule(r, ALICE, NULL), 1);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_a), 1);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_b), 0);
	cr_assert_eq(registry_count_rule(r, BOB, NULL), 0);
	cr_assert_eq(registry_count_rule(r, 0, &rule_a), 0);
	cr_assert_eq(registry_count_user(r, ALICE), 4);
	cr_assert_eq(registry_count_user(r, BOB), 1);

	registry_remove(r, a1);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 1);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_a), 1);
	cr_assert_eq(registry_count_user(r, ALICE), 3);
	registry_remove(r, a2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 1);
	/* A count that dropped to zero is gone, and comes back from zero. */
	for (struct rule_count *c = sa->user->counts; c; c = c->next)
		cr_assert_neq(c->rule, &rule_a);
	a1 = add(r, sa, &rule_a, 0, 1);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 1);

	registry_remove(r, a3);
	registry_remove(r, a4);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, NULL), 0);
	cr_assert_eq(registry_count_user(r, ALICE), 1);
	registry_remove(r, a1);
	registry_remove(r, b1);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_a), 0);
	cr_assert_eq(registry_count_user(r, BOB), 0);
	cr_assert_eq(registry_count(r), 0);
	registry_session_free(sa);
	registry_session_free(sa2);
	registry_session_free(sb);
	registry_free(r);
}

Test(registry, lease_detaches_from_the_session)
{
	struct registry *r = new_registry();
	struct session *s = session_new(r, ALICE, 100, 10);
	struct binding *b1 = add(r, s, &rule_a, 0, 1);
	struct binding *b2 = add(r, s, &rule_a, 0, 2);
	uint64_t id1 = binding_id(b1);

	registry_lease(r, b1);
	cr_assert(b1->leased);
	cr_assert_null(b1->session);
	cr_assert(list_empty(&b1->session_link));
	cr_assert_eq(s->n_bindings, 1);
	cr_assert_eq(s->bindings.next, &b2->session_link);
	cr_assert_eq(s->bindings.prev, &b2->session_link);
	/* Still the user's, still counted and found. */
	cr_assert_eq(b1->user, s->user);
	cr_assert_eq(registry_count_user(r, ALICE), 2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 2);
	cr_assert_eq(registry_count(r), 2);
	cr_assert_eq(registry_find(r, id1), b1);
	cr_assert_eq(registry_find_pasid(r, &devs[0], 1), b1);
	cr_assert_eq(registry_first_after(r, 0), b1);

	/* Leasing twice changes nothing. */
	registry_lease(r, b1);
	cr_assert(b1->leased);
	cr_assert_eq(s->n_bindings, 1);

	registry_remove(r, b2);
	cr_assert_eq(s->n_bindings, 0);
	registry_session_free(s);
	cr_assert_eq(registry_count_sessions(r), 0);
	cr_assert_eq(registry_count_user_sessions(r, ALICE), 0);

	/* The leased binding outlives its session, and so does the account it is charged to. */
	cr_assert_eq(registry_find(r, id1), b1);
	cr_assert_eq(registry_count(r), 1);
	cr_assert_eq(registry_count_user(r, ALICE), 1);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 1);
	cr_assert_eq(b1->user->uid, ALICE);
	cr_assert_eq(b1->user->n_sessions, 0);
	cr_assert_eq(b1->user->n_bindings, 1);

	/* A new session of the same uid finds the same account, with the lease still charged. */
	s = session_new(r, ALICE, 100, 11);
	cr_assert_eq(s->user, b1->user);
	cr_assert_eq(s->user->n_bindings, 1);
	cr_assert_eq(s->n_bindings, 0);
	registry_session_free(s);

	registry_remove(r, b1);
	cr_assert_null(registry_find(r, id1));
	cr_assert_eq(registry_count(r), 0);
	cr_assert_eq(registry_count_user(r, ALICE), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 0);
	registry_free(r);
}

Test(registry, session_free_detaches_leftovers)
{
	struct registry *r = new_registry();
	struct session *s = session_new(r, ALICE, 100, 10);
	struct binding *b1 = add(r, s, &rule_a, 0, 1);
	struct binding *b2 = add(r, s, &rule_b, 1, 1);

	registry_session_free(s);
	cr_assert_eq(registry_count_sessions(r), 0);
	cr_assert(b1->leased);
	cr_assert(b2->leased);
	cr_assert_null(b1->session);
	cr_assert_null(b2->session);
	cr_assert_eq(registry_count(r), 2);
	cr_assert_eq(registry_count_user(r, ALICE), 2);
	cr_assert_eq(b1->user->uid, ALICE);
	registry_remove(r, b1);
	registry_remove(r, b2);
	cr_assert_eq(registry_count_user(r, ALICE), 0);
	registry_free(r);
}

/*
 * Accounts of uids that hold nothing are freed, so a daemon that sees many uids over its life
 * does not grow. Measured with mallinfo2() (which reports nothing under ASan or valgrind, where
 * the leak checkers cover the same ground).
 */
Test(registry, users_are_freed_when_nothing_is_charged, .timeout = 60)
{
	struct registry *r = new_registry();
	struct mallinfo2 before, after;
	long grown;

	for (unsigned round = 0; round < 2; round++) {
		if (round == 1)
			before = mallinfo2();
		/* Round 1 uses new uids, so accounts left behind could not be reused. */
		for (uid_t uid = 10000 + round * 100000; uid < 110000 + round * 100000; uid++) {
			struct session *s = session_new(r, uid, 100, 1);
			struct binding *b1, *b2;

			cr_assert_not_null(s);
			b1 = add(r, s, &rule_a, 0, 1);
			b2 = add(r, s, &rule_b, 0, 2);
			registry_lease(r, b2);
			registry_remove(r, b1);
			registry_session_free(s);
			/* The leased binding alone keeps the account alive. */
			cr_assert_eq(registry_count_user(r, uid), 1);
			cr_assert_eq(registry_count_rule(r, uid, &rule_b), 1);
			registry_remove(r, b2);
			cr_assert_eq(registry_count_user(r, uid), 0);
			cr_assert_eq(registry_count_user_sessions(r, uid), 0);
		}
	}
	after = mallinfo2();
	grown = (long)after.uordblks - (long)before.uordblks;
	/* 100000 accounts left behind would be several MB. */
	cr_assert_lt(grown, 256 * 1024, "the heap grew by %ld bytes", grown);
	cr_assert_eq(registry_count(r), 0);
	cr_assert_eq(registry_count_sessions(r), 0);
	registry_free(r);
}

/* Collects the ids from first_after(after) on. */
static size_t walk(const struct registry *r, uint64_t after, uint64_t *ids, size_t max)
{
	size_t n = 0;

	for (struct binding *b = registry_first_after(r, after); b; b = registry_next(r, b)) {
		cr_assert_lt(n, max);
		ids[n++] = binding_id(b);
	}
	return n;
}

Test(registry, iteration_in_id_order)
{
	struct registry *r = new_registry();
	struct session *s1 = session_new(r, ALICE, 100, 10);
	struct session *s2 = session_new(r, BOB, 100, 20);
	struct binding *b[6];
	uint64_t ids[8];
	size_t n;

	/* Interleaved sessions and users: the order is still the id order. */
	for (unsigned i = 0; i < 6; i++)
		b[i] = add(r, i % 2 ? s2 : s1, &rule_a, i % 3, i + 1);
	n = walk(r, 0, ids, 8);
	cr_assert_eq(n, 6);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(ids[i], i + 1);

	cr_assert_eq(registry_first_after(r, 0), b[0]);
	cr_assert_eq(registry_first_after(r, 2), b[2]);
	cr_assert_eq(registry_first_after(r, 5), b[5]);
	cr_assert_null(registry_first_after(r, 6));
	cr_assert_null(registry_first_after(r, 1000));
	cr_assert_null(registry_next(r, b[5]));
	cr_assert_eq(registry_next(r, b[0]), b[1]);

	/* The cursor binding is gone: continue with the next larger id. */
	registry_remove(r, b[2]); /* id 3 */
	cr_assert_eq(registry_first_after(r, 3), b[3]);
	cr_assert_eq(registry_first_after(r, 2), b[3]);
	registry_remove(r, b[3]); /* id 4 */
	cr_assert_eq(registry_first_after(r, 3), b[4]);
	cr_assert_eq(registry_first_after(r, 2), b[4]);
	registry_remove(r, b[0]); /* id 1 */
	cr_assert_eq(registry_first_after(r, 0), b[1]);
	cr_assert_eq(registry_first_after(r, 1), b[1]);
	n = walk(r, 0, ids, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[0], 2);
	cr_assert_eq(ids[1], 5);
	cr_assert_eq(ids[2], 6);

	/* The last one gone: nothing after it, and new ones come after. */
	registry_remove(r, b[5]); /* id 6 */
	cr_assert_null(registry_first_after(r, 6));
	cr_assert_null(registry_first_after(r, 5));
	b[5] = add(r, s1, &rule_a, 0, 6);
	cr_assert_eq(binding_id(b[5]), 7);
	cr_assert_eq(registry_first_after(r, 6), b[5]);
	cr_assert_eq(registry_first_after(r, 5), b[5]);
	cr_assert_eq(registry_next(r, b[4]), b[5]);

	/* A leased binding stays in the iteration. */
	registry_lease(r, b[1]);
	n = walk(r, 0, ids, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[0], 2);
	cr_assert_eq(ids[2], 7);

	registry_remove(r, b[1]);
	registry_remove(r, b[4]);
	registry_remove(r, b[5]);
	cr_assert_null(registry_first_after(r, 0));
	registry_session_free(s1);
	registry_session_free(s2);
	registry_free(r);
}

/* Collects uid's ids from user_first_after(after) on. */
static size_t walk_user(const struct registry *r, uid_t uid, uint64_t after, uint64_t *ids,
			size_t max)
{
	size_t n = 0;

	for (struct binding *b = registry_user_first_after(r, uid, after); b;
	     b = registry_user_next(b)) {
		cr_assert_lt(n, max);
		cr_assert_eq(b->owner->uid, uid);
		ids[n++] = binding_id(b);
	}
	return n;
}

Test(registry, iteration_of_one_users_bindings)
{
	struct registry *r = new_registry();
	struct session *s1 = session_new(r, ALICE, 100, 10);
	struct session *s2 = session_new(r, BOB, 100, 20);
	struct session *s3 = session_new(r, ALICE, 100, 30);
	struct binding *b[9];
	uint64_t ids[16];

	/* Alice's bindings from two sessions, Bob's between them: ids 1..9, Alice has 1,3,4,6,7,9
	 */
	for (unsigned i = 0; i < 9; i++)
		b[i] = add(r, i % 3 == 1 ? s2 : i % 2 ? s3 : s1, &rule_a, 0, i + 1);
	cr_assert_eq(walk_user(r, ALICE, 0, ids, 16), 6);
	cr_assert_arr_eq(ids, ((uint64_t[]){1, 3, 4, 6, 7, 9}), 6 * sizeof(uint64_t));
	cr_assert_eq(walk_user(r, BOB, 0, ids, 16), 3);
	cr_assert_arr_eq(ids, ((uint64_t[]){2, 5, 8}), 3 * sizeof(uint64_t));
	cr_assert_null(registry_user_first_after(r, 4242, 0));
	/* From a cursor that is Alice's, that is someone else's, that is gone. */
	cr_assert_eq(registry_user_first_after(r, ALICE, 4), b[5]);
	cr_assert_eq(registry_user_first_after(r, ALICE, 5), b[5]);
	cr_assert_eq(registry_user_first_after(r, BOB, 5), b[7]);
	registry_remove(r, b[5]); /* id 6 */
	cr_assert_eq(registry_user_first_after(r, ALICE, 6), b[6]);
	cr_assert_null(registry_user_first_after(r, ALICE, 9));
	/* Leased bindings stay their user's; a freed one leaves the list. */
	registry_lease(r, b[0]);
	registry_remove(r, b[2]); /* id 3 */
	cr_assert_eq(walk_user(r, ALICE, 0, ids, 16), 4);
	cr_assert_arr_eq(ids, ((uint64_t[]){1, 4, 7, 9}), 4 * sizeof(uint64_t));
	for (unsigned i = 0; i < 9; i++)
		if (i != 2 && i != 5)
			registry_remove(r, b[i]);
	cr_assert_null(registry_user_first_after(r, ALICE, 0));
	cr_assert_eq(registry_count(r), 0);
	registry_session_free(s1);
	registry_session_free(s2);
	registry_session_free(s3);
	registry_free(r);
}

/* On 64-bit machines, each binding fits a 192-byte heap chunk (glibc's chunk is the size plus
 * 8, rounded up to 16): the memory per binding make bench reports. */
Test(registry, a_binding_fits_a_192_byte_chunk)
{
	if (sizeof(void *) != 8)
		cr_skip_test("sized for 64-bit machines");
	cr_assert_leq(sizeof(struct binding), 184, "%zu", sizeof(struct binding));
}

#define MANY 100000u
Test(registry, many_bindings_stay_findable, .timeout = 60)
{
	struct registry *r = new_registry();
	struct session *s = session_new(r, ALICE, 100, 10);
	struct binding **b = calloc(MANY, sizeof(*b));
	uint64_t last = 0;
	size_t n = 0;

	cr_assert_not_null(b);
	/* 4 devices x 25000 PASIDs; two rules. */
	for (unsigned i = 0; i < MANY; i++)
		b[i] = add(r, s, i % 2 ? &rule_b : &rule_a, i % 4, i / 4 + 1);
	cr_assert_eq(registry_count(r), MANY);
	cr_assert_eq(registry_count_user(r, ALICE), MANY);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), MANY / 2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), MANY / 2);
	cr_assert_eq(s->n_bindings, MANY);
	for (unsigned i = 0; i < MANY; i++) {
		cr_assert_eq(binding_id(b[i]), (uint64_t)i + 1);
		cr_assert_eq(registry_find(r, i + 1), b[i], "id %u", i + 1);
		cr_assert_eq(registry_find_pasid(r, &devs[i % 4], i / 4 + 1), b[i], "binding %u",
			     i);
	}
	cr_assert_null(registry_find(r, MANY + 1));
	cr_assert_null(registry_find_pasid(r, &devs[0], MANY / 4 + 1));

	/* Remove every third one; the rest are still found, the removed ones not. */
	for (unsigned i = 0; i < MANY; i += 3) {
		registry_remove(r, b[i]);
		b[i] = NULL;
	}
	for (unsigned i = 0; i < MANY; i++) {
		if (b[i]) {
			cr_assert_eq(registry_find(r, i + 1), b[i], "id %u", i + 1);
			cr_assert_eq(registry_find_pasid(r, &devs[i % 4], i / 4 + 1), b[i]);
		} else {
			cr_assert_null(registry_find(r, i + 1), "id %u", i + 1);
			cr_assert_null(registry_find_pasid(r, &devs[i % 4], i / 4 + 1));
		}
	}
	cr_assert_eq(registry_count(r), MANY - (MANY + 2) / 3);
	cr_assert_eq(s->n_bindings, MANY - (MANY + 2) / 3);
	for (struct binding *p = registry_first_after(r, 0); p; p = registry_next(r, p)) {
		cr_assert_gt(binding_id(p), last);
		last = binding_id(p);
		n++;
	}
	cr_assert_eq(n, registry_count(r));

	/* The rest is left to registry_free() (with leak checkers, nothing may be lost). */
	registry_session_free(s);
	cr_assert_eq(registry_count(r), MANY - (MANY + 2) / 3);
	free(b);
	registry_free(r);
}

Test(registry, free_frees_leftovers)
{
	struct registry *r = new_registry();
	struct session *s1 = session_new(r, ALICE, 100, 10);
	struct session *s2 = session_new(r, BOB, 100, 20);
	struct binding *b;

	add(r, s1, &rule_a, 0, 1);
	add(r, s1, &rule_b, 0, 2);
	b = add(r, s2, &rule_a, 1, 1);
	registry_lease(r, b);
	add(r, s2, NULL, 1, 2);
	registry_session_free(s1);
	registry_session_free(s2);
	cr_assert_eq(registry_count(r), 4);
	cr_assert_eq(registry_count_sessions(r), 0);
	cr_assert_null(registry_free(r));
}

Test(registry, device_rule_counts)
{
	struct registry *r = new_registry();
	struct session *sa = session_new(r, ALICE, 100, 10);
	struct session *sb = session_new(r, BOB, 100, 20);
	struct binding *a1 = add(r, sa, &rule_a, 0, 1);
	struct binding *a2 = add(r, sa, &rule_a, 0, 2);
	struct binding *b1 = add(r, sb, &rule_a, 0, 3); /* another user, same device and rule */
	struct binding *b2 = add(r, sb, &rule_a, 1, 1);
	struct binding *a3 = add(r, sa, &rule_b, 0, 4);
	struct binding *a4 = add(r, sa, NULL, 0, 5);
	struct bind_args t = task_args(1, 4242);
	struct binding *far = registry_add(r, sa, &rule_a, &dev_far, &t);
	struct device copy = devs[0];

	cr_assert_not_null(far);
	/* Per device and rule, whoever holds them. */
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 3);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_a), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_b), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], NULL), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_b), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[2], &rule_a), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[3], &rule_a), 0);
	cr_assert_eq(registry_count_device_rule(r, &dev_far, &rule_a), 1);
	/* By index, not by the struct's address. */
	cr_assert_eq(registry_count_device_rule(r, &copy, &rule_a), 3);
	/* The per-uid counts are separate. */
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 3);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_a), 2);

	registry_remove(r, b1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 2);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_a), 1);
	registry_remove(r, far);
	cr_assert_eq(registry_count_device_rule(r, &dev_far, &rule_a), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 2);
	registry_remove(r, a1);
	registry_remove(r, a2);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 0);
	/* A count that dropped to zero comes back from zero. */
	a1 = add(r, sa, &rule_a, 0, 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 1);
	registry_remove(r, a1);
	registry_remove(r, a3);
	registry_remove(r, a4);
	registry_remove(r, b2);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_b), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], NULL), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_a), 0);
	registry_session_free(sa);
	registry_session_free(sb);
	registry_free(r);
}

/* A reload moves a binding's accounting to the rule that now grants it (or to none). */
Test(registry, set_rule_moves_the_counts)
{
	struct registry *r = new_registry();
	struct session *sa = session_new(r, ALICE, 100, 10);
	struct session *sb = session_new(r, BOB, 100, 20);
	struct binding *a1 = add(r, sa, &rule_a, 0, 1);
	struct binding *a2 = add(r, sa, &rule_a, 1, 1);
	struct binding *b1 = add(r, sb, &rule_a, 0, 2);

	registry_set_rule(r, a1, &rule_b);
	cr_assert_eq(a1->rule, &rule_b);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 1);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 1);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_a), 1);
	cr_assert_eq(registry_count_rule(r, BOB, &rule_b), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 1); /* bob's */
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_b), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_a), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_b), 0);
	/* Nothing else moves. */
	cr_assert_eq(registry_count_user(r, ALICE), 2);
	cr_assert_eq(registry_count(r), 3);
	cr_assert_eq(registry_find_pasid(r, &devs[0], 1), a1);

	/* The same rule again: no change. */
	registry_set_rule(r, a1, &rule_b);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_b), 1);

	/* No rule: counted under none (a binding the new policy no longer grants). */
	registry_set_rule(r, a1, NULL);
	cr_assert_null(a1->rule);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, NULL), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_b), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], NULL), 1);
	for (struct rule_count *c = sa->user->counts; c; c = c->next)
		cr_assert_gt(c->n, 0, "a count of zero is left behind");

	/* A leased binding moves too. */
	registry_lease(r, a2);
	registry_set_rule(r, a2, &rule_b);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_a), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_b), 1);

	/* And back from none; removing uncharges the rule it has now. */
	registry_set_rule(r, a1, &rule_a);
	cr_assert_eq(registry_count_rule(r, ALICE, NULL), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 2);
	registry_remove(r, a1);
	registry_remove(r, a2);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_a), 0);
	cr_assert_eq(registry_count_rule(r, ALICE, &rule_b), 0);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 1);
	cr_assert_eq(registry_count_device_rule(r, &devs[1], &rule_b), 0);
	registry_remove(r, b1);
	cr_assert_eq(registry_count_device_rule(r, &devs[0], &rule_a), 0);
	registry_session_free(sa);
	registry_session_free(sb);
	registry_free(r);
}

/* The identity is the front-end's, built once: the session takes a reference, its bindings
 * share it, and a leased binding keeps it after the session is gone. */
Test(registry, identity_shared_by_the_session_and_its_bindings)
{
	struct registry *r = new_registry();
	gid_t groups[3] = {10, 20, 30};
	char exe[] = "/usr/bin/qemu-system-x86_64", unit0[] = "qemu@vm1.service",
	     unit1[] = "machine.slice";
	const char *units[] = {unit0, unit1, NULL};
	struct identity *who = NULL;
	struct session *s = NULL;

	cr_assert_eq(identity_new(ALICE, 100, 4242, &who), 0);
	cr_assert_eq(identity_set_groups(who, groups, 3), 0);
	cr_assert_eq(identity_set_exe(who, exe), 0);
	cr_assert_eq(identity_set_units(who, units), 0);
	cr_assert_eq(who->n_ref, 1);
	cr_assert_eq(registry_session_new(r, who, 0, &s), 0);
	cr_assert_eq(s->owner, who);
	cr_assert_eq(who->n_ref, 2);
	cr_assert_eq(who->uid, ALICE);
	cr_assert_eq(who->gid, 100);
	cr_assert_eq(who->pid, 4242);
	cr_assert_eq(who->n_groups, 3);
	cr_assert_neq(who->groups, groups);
	cr_assert_arr_eq(who->groups, groups, sizeof(groups));
	cr_assert_neq(who->exe, exe);
	cr_assert_str_eq(who->exe, exe);
	cr_assert_neq(who->units, units);
	cr_assert_neq(who->units[0], unit0);
	cr_assert_str_eq(who->units[0], "qemu@vm1.service");
	cr_assert_str_eq(who->units[1], "machine.slice");
	cr_assert_null(who->units[2]);
	cr_assert_eq(who->n_units, 2);

	/* The front-end's buffers change or go: the identity's copies do not. */
	groups[1] = 99;
	exe[1] = 'X';
	unit0[0] = 'X';
	units[1] = NULL;
	cr_assert_eq(who->groups[1], 20);
	cr_assert_str_eq(who->exe, "/usr/bin/qemu-system-x86_64");
	cr_assert_str_eq(who->units[0], "qemu@vm1.service");
	cr_assert_str_eq(who->units[1], "machine.slice");

	/* The front-end lets go; bindings share the session's identity. */
	identity_unref(who);
	struct binding *b1 = add(r, s, &rule_a, 0, 1);
	struct binding *b2 = add(r, s, &rule_a, 0, 2);
	cr_assert_eq(b1->owner, who);
	cr_assert_eq(b2->owner, who);
	cr_assert_eq(who->n_ref, 3);
	registry_remove(r, b2);
	cr_assert_eq(who->n_ref, 2);

	/* The session goes; the leased binding keeps the identity, whole. */
	registry_lease(r, b1);
	registry_session_free(s);
	cr_assert_eq(b1->owner, who);
	cr_assert_eq(who->n_ref, 1);
	cr_assert_eq(who->uid, ALICE);
	cr_assert_eq(who->pid, 4242);
	cr_assert_eq(who->groups[2], 30);
	cr_assert_str_eq(who->exe, "/usr/bin/qemu-system-x86_64");
	cr_assert_str_eq(who->units[1], "machine.slice");
	registry_remove(r, b1); /* the last reference: freed (leak checkers see the rest) */
	registry_free(r);
}

Test(registry, identity_without_exe_units_or_groups)
{
	struct registry *r = new_registry();
	const char *no_units[] = {NULL};
	struct identity *who = NULL, *other = NULL;
	struct session *s1 = NULL, *s2 = NULL;

	cr_assert_eq(identity_new(BOB, 200, 7, &who), 0);
	cr_assert_eq(registry_session_new(r, who, 0, &s1), 0);
	cr_assert_null(s1->owner->exe);
	cr_assert_null(s1->owner->units);
	cr_assert_null(s1->owner->groups);
	cr_assert_eq(s1->owner->n_groups, 0);
	/* An empty unit list is kept as one: "runs in no unit", not "not resolved". */
	cr_assert_eq(identity_new(BOB, 200, 8, &other), 0);
	cr_assert_eq(identity_set_units(other, no_units), 0);
	cr_assert_eq(registry_session_new(r, other, 0, &s2), 0);
	cr_assert_not_null(s2->owner->units);
	cr_assert_null(s2->owner->units[0]);
	cr_assert_eq(s2->owner->n_units, 0);
	/* Each session has its own identity, and the two share the uid's account. */
	cr_assert_neq(s1->owner, s2->owner);
	cr_assert_eq(s1->user, s2->user);
	identity_unref(who);
	identity_unref(other);
	registry_session_free(s1);
	registry_session_free(s2);
	registry_free(r);
}
