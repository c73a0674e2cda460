/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of what one uid may take besides what the policy grants (daemon/user-limits.c):
 * rate= token buckets on a fake clock, how they carry over a reload, pruning, and the share of
 * svmd's fds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "registry.h"
#include "user-limits.h"

static uint64_t now;

static uint64_t fake_clock(void *userdata)
{
	(void)userdata;
	return now;
}

static struct limits *new_limits(void)
{
	struct limits *l = NULL;

	now = 1000000;
	cr_assert_eq(limits_new(fake_clock, NULL, &l), 0);
	return l;
}

/* A policy of rules given as file, text and rate (0: no rate=), as policy.c would compile them:
 * only what the buckets look at is filled in. */
struct rule_def {
	const char *file, *text;
	unsigned rate;
};

static struct policy *compile(const struct rule_def *defs, size_t n)
{
	struct policy *p = calloc(1, sizeof(*p));

	cr_assert_not_null(p);
	p->rules = calloc(n, sizeof(*p->rules));
	cr_assert_not_null(p->rules);
	for (size_t i = 0; i < n; i++)
		p->rules[i] = (struct policy_rule){
			.keys = defs[i].rate ? 1u << POLICY_KEY_RATE : 0,
			.rate = defs[i].rate,
			.file = defs[i].file,
			.text = (char *)defs[i].text,
			.line = (unsigned)i + 1,
		};
	p->n_rules = n;
	return p;
}

static void release(struct policy *p)
{
	free(p->rules);
	free(p);
}

#define COMPILE(...)                                                                               \
	compile((const struct rule_def[]){__VA_ARGS__},                                            \
		sizeof((const struct rule_def[]){__VA_ARGS__}) / sizeof(struct rule_def))

Test(limits, a_bucket_holds_rate_tokens_and_refills)
{
	struct limits *l = new_limits();
	struct policy *p = COMPILE({"a.policy", "allow * user=1 rate=4/s", 4});
	const struct policy_rule *rule = &p->rules[0];
	unsigned wait = 0;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(limits_rate_take(l, 1, rule, &wait), 0, "token %d", i);
	cr_assert_eq(limits_rate_take(l, 1, rule, &wait), -EAGAIN);
	cr_assert_eq(wait, 251, "a token every 250 ms, rounded up");
	/* Another uid has a bucket of its own. */
	cr_assert_eq(limits_rate_take(l, 2, rule, &wait), 0);
	now += 250000;
	cr_assert_eq(limits_rate_take(l, 1, rule, &wait), 0);
	cr_assert_eq(limits_rate_take(l, 1, rule, &wait), -EAGAIN);
	/* A long pause refills to rate, not beyond. */
	now += 60000000;
	for (int i = 0; i < 4; i++)
		cr_assert_eq(limits_rate_take(l, 1, rule, &wait), 0, "token %d", i);
	cr_assert_eq(limits_rate_take(l, 1, rule, &wait), -EAGAIN);
	cr_assert_eq(limits_n_rates(l), 2);
	limits_free(l);
	release(p);
}

Test(limits, a_reload_carries_the_buckets_of_the_rules_it_keeps)
{
	struct limits *l = new_limits();
	struct policy *p = COMPILE({"a.policy", "allow * user=1 rate=2/s", 2},
				   {"a.policy", "allow * user=2 rate=2/s", 2});
	/* The first rule moved down a line; the second is gone; a copy of the first comes first
	 * now, so it is the one that decides and its bucket is the one carried. */
	struct policy *q = COMPILE({"a.policy", "allow * user=3", 0},
				   {"a.policy", "allow * user=1 rate=2/s", 2},
				   {"a.policy", "allow * user=1 rate=2/s", 2});
	unsigned wait;

	cr_assert_eq(limits_rate_take(l, 1, &p->rules[0], &wait), 0);
	cr_assert_eq(limits_rate_take(l, 1, &p->rules[0], &wait), 0);
	cr_assert_eq(limits_rate_take(l, 2, &p->rules[1], &wait), 0);
	cr_assert_eq(limits_n_rates(l), 2);
	limits_rates_carry(l, q);
	cr_assert_eq(limits_n_rates(l), 1, "the bucket of the rule that went is dropped");
	/* Still empty: reloading hands out no fresh tokens. */
	cr_assert_eq(limits_rate_take(l, 1, &q->rules[1], &wait), -EAGAIN);
	/* The duplicate's bucket is a new, full one: it never decides. */
	cr_assert_eq(limits_rate_take(l, 1, &q->rules[2], &wait), 0);
	limits_free(l);
	release(p);
	release(q);
}

Test(limits, the_same_text_in_another_file_is_another_rule)
{
	struct limits *l = new_limits();
	struct policy *p = COMPILE({"a.policy", "allow * user=1 rate=1/s", 1});
	struct policy *q = COMPILE({"b.policy", "allow * user=1 rate=1/s", 1});
	unsigned wait;

	cr_assert_eq(limits_rate_take(l, 1, &p->rules[0], &wait), 0);
	limits_rates_carry(l, q);
	cr_assert_eq(limits_n_rates(l), 0);
	cr_assert_eq(limits_rate_take(l, 1, &q->rules[0], &wait), 0);
	limits_free(l);
	release(p);
	release(q);
}

Test(limits, full_buckets_are_pruned_as_more_are_made)
{
	struct limits *l = new_limits();
	struct policy *p = COMPILE({"a.policy", "allow * rate=1/s", 1});
	unsigned wait;

	for (uid_t u = 0; u < 2000; u++)
		cr_assert_eq(limits_rate_take(l, u, &p->rules[0], &wait), 0);
	cr_assert_eq(limits_n_rates(l), 2000);
	/* A second later every bucket is full again and holds nothing worth keeping. */
	now += 1000000;
	for (uid_t u = 2000; u < 4200; u++)
		cr_assert_eq(limits_rate_take(l, u, &p->rules[0], &wait), 0);
	cr_assert_lt(limits_n_rates(l), 4200, "no bucket was pruned");
	limits_free(l);
	release(p);
}

/* The budget adds up: svmd's own, root's reserve, and a pool no two uids can exhaust for the
 * others. */
Test(limits, fd_budget_arithmetic)
{
	struct limits *l = new_limits();
	const struct fd_budget *b = limits_fds(l);

	limits_set_fds(l, 256, 10);
	cr_assert_eq(b->limit, 256);
	cr_assert_eq(b->own, 10 + LIMITS_FDS_TRANSIENT);
	cr_assert_eq(b->root, LIMITS_FDS_ROOT_MIN);
	cr_assert_eq(b->pool, 256 - 42 - 16);
	cr_assert_eq(b->own + b->root + b->pool, b->limit);
	limits_set_fds(l, 524288, 10);
	cr_assert_eq(b->root, 524288 / 16);
	cr_assert_eq(b->own + b->root + b->pool, b->limit);
	/* Too small for anything: nothing for the others, and no wrap-around. */
	limits_set_fds(l, 40, 20);
	cr_assert_eq(b->own, 40);
	cr_assert_eq(b->root, 0);
	cr_assert_eq(b->pool, 0);
	limits_free(l);
}

Test(limits, fd_budget_decisions)
{
	struct limits *l = new_limits();
	struct registry *r = NULL;
	struct identity *who = NULL;
	struct session *a = NULL, *b = NULL, *root = NULL;

	cr_assert_eq(registry_new(&r), 0);
	/* Not set: nothing is refused. */
	cr_assert(limits_fds_allow(l, r, 1, NULL, 100000));
	limits_set_fds(l, 256, 10); /* pool 198, root 16 */
	cr_assert(limits_fds_allow(l, r, 1, NULL, 99), "alone, half of the pool");
	cr_assert_not(limits_fds_allow(l, r, 1, NULL, 100));
	cr_assert_eq(limits_fds_share(l, r, NULL), 99);
	cr_assert_eq(identity_new(1, 1, 1, &who), 0);
	cr_assert_eq(registry_session_new(r, who, 99, &a), 0);
	identity_unref(who);
	cr_assert_not(limits_fds_allow(l, r, 1, a->user, 1), "uid 1 holds what it left free");
	cr_assert_eq(limits_fds_share(l, r, a->user), 99);
	/* The next uid: half of the 99 left free. */
	cr_assert(limits_fds_allow(l, r, 2, NULL, 49));
	cr_assert_not(limits_fds_allow(l, r, 2, NULL, 50));
	cr_assert_eq(identity_new(2, 2, 2, &who), 0);
	cr_assert_eq(registry_session_new(r, who, 49, &b), 0);
	identity_unref(who);
	/* However many flood, the one that comes next finds half of what they left (50 / 2). */
	cr_assert(limits_fds_allow(l, r, 3, NULL, 25), "a third uid is left some");
	cr_assert_not(limits_fds_allow(l, r, 3, NULL, 26));
	cr_assert_not(limits_fds_allow(l, r, 2, b->user, 1), "uid 2 holds what it left free");
	/* Root's reserve is its own. */
	cr_assert(limits_fds_allow(l, r, 0, NULL, 16 + 50));
	cr_assert_not(limits_fds_allow(l, r, 0, NULL, 16 + 51));
	cr_assert_eq(identity_new(0, 0, 3, &who), 0);
	cr_assert_eq(registry_session_new(r, who, 16, &root), 0);
	identity_unref(who);
	cr_assert(limits_fds_allow(l, r, 3, NULL, 25), "root's reserve is not the pool");
	/* A uid that gives back is let in again, up to half of what is free. */
	registry_session_free(a);
	cr_assert(limits_fds_allow(l, r, 1, NULL, 74));
	cr_assert_not(limits_fds_allow(l, r, 1, NULL, 75));
	cr_assert_eq(identity_new(1, 1, 1, &who), 0);
	cr_assert_eq(registry_session_new(r, who, 150, &a), 0);
	identity_unref(who);
	/* Over the pool (a uid that held its fds before the others came): nothing more for anyone
	 * but root, and no wrap-around. */
	cr_assert_not(limits_fds_allow(l, r, 3, NULL, 1));
	cr_assert_eq(limits_fds_share(l, r, NULL), 0);
	cr_assert_eq(limits_fds_share(l, r, a->user), 150);
	/* Root's do not count against the others' pool. */
	registry_session_free(b);
	registry_session_free(a);
	cr_assert(limits_fds_allow(l, r, 3, NULL, 99));
	registry_session_free(root);
	cr_assert_eq(registry_count_fds(r), 0);
	registry_free(r);
	limits_free(l);
}

static unsigned said_uid, said_n, n_said;

static void say(uid_t uid, unsigned n)
{
	said_uid = uid;
	said_n = n;
	n_said++;
}

/* A burst of lines per window per uid, then a count: in the next line, or on its own once the
 * window closes. */
Test(limits, log_lines_per_uid)
{
	struct limits *l = new_limits();
	unsigned held = 99;

	for (unsigned i = 0; i < LIMITS_LOG_BURST; i++) {
		cr_assert(limits_log_pass(l, 7, &held), "line %u", i);
		cr_assert_eq(held, 0);
	}
	for (int i = 0; i < 1000; i++)
		cr_assert_not(limits_log_pass(l, 7, &held));
	/* Another uid is not held back by the first. */
	cr_assert(limits_log_pass(l, 8, &held));
	/* The window closes: the next line says what was held back. */
	now += LIMITS_LOG_USEC;
	cr_assert(limits_log_pass(l, 7, &held));
	cr_assert_eq(held, 1000);
	for (unsigned i = 1; i < LIMITS_LOG_BURST; i++)
		cr_assert(limits_log_pass(l, 7, &held));
	cr_assert_not(limits_log_pass(l, 7, &held));
	cr_assert_not(limits_log_pass(l, 7, &held));
	/* No next line: the summary comes by itself, once. */
	limits_log_summaries(l, say);
	cr_assert_eq(n_said, 0, "the window is still open");
	now += LIMITS_LOG_USEC;
	limits_log_summaries(l, say);
	cr_assert_eq(n_said, 1);
	cr_assert_eq(said_uid, 7);
	cr_assert_eq(said_n, 2);
	limits_log_summaries(l, say);
	cr_assert_eq(n_said, 1);
	limits_free(l);
}
