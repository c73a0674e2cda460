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

Test(limits, fd_share)
{
	struct limits *l = new_limits();
	struct user u = {.n_sessions = 3, .n_fds = 2};

	/* No limit set: anything goes. */
	cr_assert(limits_user_fds_allow(l, &u, 1000));
	limits_set_fd_share(l, 10, 2);
	cr_assert_eq(limits_user_fds(l, &u), 3 * 2 + 2);
	cr_assert_eq(limits_user_fds(l, NULL), 0);
	cr_assert(limits_user_fds_allow(l, &u, 2));
	cr_assert_not(limits_user_fds_allow(l, &u, 3));
	cr_assert(limits_user_fds_allow(l, NULL, 10));
	cr_assert_not(limits_user_fds_allow(l, NULL, 11));
	limits_free(l);
}
