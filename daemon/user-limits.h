/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What one uid may take of svmd besides what the policy grants: requests per second under a
 * rule's rate= (token buckets), and its share of svmd's file descriptors. The clock is
 * injectable, so the buckets are tested without waiting. (Not named limits.h: gcc's own
 * <limits.h> reaches for the next limits.h on the include path, and would find this one.)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"

struct limits;
struct policy;
struct policy_rule;
struct user;

/* A monotonic clock in microseconds. */
typedef uint64_t (*limits_clock_fn)(void *userdata);

/* clock NULL: CLOCK_MONOTONIC. Returns 0 or -ENOMEM. */
int limits_new(limits_clock_fn clock, void *clock_userdata, struct limits **ret);
struct limits *limits_free(struct limits *l);
DEFINE_FREE_FUNC(struct limits, limits_free);

/* Takes one token from uid's bucket under rule (which has rate=): the bucket refills at
 * rule->rate per second and holds at most that many. Returns 0, -EAGAIN (empty; *ret_wait_ms
 * until the next token) or -ENOMEM. */
int limits_rate_take(struct limits *l, uid_t uid, const struct policy_rule *rule,
		     unsigned *ret_wait_ms);
/* After a reload to p: the buckets of the rules p keeps (same file, same text, wherever they
 * moved) go on, so reloading hands out no fresh tokens; the others are dropped. */
void limits_rates_carry(struct limits *l, const struct policy *p);
/* Buckets held (the full ones are pruned as more are made). */
size_t limits_n_rates(const struct limits *l);

/* One uid's share of svmd's fds (0: no limit) and what one of its connections takes. */
void limits_set_fd_share(struct limits *l, unsigned user_fds_max, unsigned fds_per_connection);
/* The fds svmd holds for u (NULL: nothing): its sessions at fds_per_connection each, and what
 * its bindings hold (bound processes' pidfds, lease ends). */
unsigned limits_user_fds(const struct limits *l, const struct user *u);
/* Whether u may take n more. */
bool limits_user_fds_allow(const struct limits *l, const struct user *u, unsigned n);
