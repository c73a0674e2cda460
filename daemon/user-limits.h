/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What one uid may take of svmd besides what the policy grants: requests per second under a
 * rule's rate= (token buckets), its share of svmd's file descriptors, and of the client memory
 * svmd has mapped for devices. The clock is
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
struct registry;
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

/* How much one uid can make svmd log about it (a client dropped for a malformed record, a
 * connection refused): LIMITS_LOG_BURST lines per LIMITS_LOG_USEC, then a summary, so that a
 * flood cannot drown the journal, nor the audit records in it. */
#define LIMITS_LOG_BURST 10u
#define LIMITS_LOG_USEC  (10 * 1000000ull)

/* Whether a line about uid may be logged now. When it may after some were held back,
 * *ret_suppressed says how many (log them as a count with it). */
bool limits_log_pass(struct limits *l, uid_t uid, unsigned *ret_suppressed);
/* For every uid whose window has closed with lines held back, says how many (once). */
void limits_log_summaries(struct limits *l, void (*say)(uid_t uid, unsigned suppressed));

/*
 * svmd's file descriptors, shared out so that no request ever meets EMFILE and no user can leave
 * the others without any: of the limit (RLIMIT_NOFILE),
 *   own   svmd keeps what it holds when it starts serving, and LIMITS_FDS_TRANSIENT more for what
 *         one request opens and closes again (/proc files, a policy file, a pidfd, the journal);
 *   root  root keeps max(LIMITS_FDS_ROOT_MIN, limit / 16) for itself, so the administrator can
 *         always connect and act;
 *   pool  every other uid shares the rest, limit - own - root: one uid may hold no more than it
 *         leaves free for the others, so it gets at most half of the pool when alone, the next
 *         half of what is left: two uids flooding at once leave a quarter of it to the next.
 * Root may use the pool too. What a uid holds is struct user.n_fds: its connections, its bus
 * callers' pinned processes, its bindings' pidfds and lease ends, its replies' fds in flight.
 */
#define LIMITS_FDS_TRANSIENT 32u
#define LIMITS_FDS_ROOT_MIN  16u

struct fd_budget {
	unsigned limit; /* 0: not set, nothing is refused */
	unsigned own, root, pool;
};

/* Shares out limit, of which svmd holds own_open now. A limit too small for any of it leaves
 * nothing to the others (every request that takes an fd is refused), rather than wrap. */
void limits_set_fds(struct limits *l, unsigned limit, unsigned own_open);
const struct fd_budget *limits_fds(const struct limits *l);
/* Whether uid may take n more of svmd's fds, u being uid's account (NULL: holds none) and reg
 * what everyone holds. */
bool limits_fds_allow(const struct limits *l, const struct registry *reg, uid_t uid,
		      const struct user *u, unsigned n);
/* How many fds a uid other than root holding u's may hold at most, as things stand: what it
 * holds and half of what the pool has free. */
unsigned limits_fds_share(const struct limits *l, const struct registry *reg, const struct user *u);

/*
 * Client memory mapped for devices (pinned by the kernel, charged to svmd): no uid may hold
 * more than per_user, nor more than it leaves free of total, the most svmd maps for everyone
 * (the kernel's limit on what svmd may pin, RLIMIT_MEMLOCK; 0: no such limit), so that one uid
 * alone gets at most half of it and two leave the next a quarter. Root is held to it too: the
 * pinned pages are the machine's.
 */
#define LIMITS_MAP_BYTES_PER_USER (256ull << 20)

void limits_set_map_bytes(struct limits *l, uint64_t per_user, uint64_t total);
void limits_map_bytes(const struct limits *l, uint64_t *ret_per_user, uint64_t *ret_total);
/* Whether uid, whose account is u (NULL: holds none), may map n more bytes, reg holding what
 * everyone has mapped: 0, or -EDQUOT with why. */
int limits_map_bytes_allow(const struct limits *l, const struct registry *reg, uid_t uid,
			   const struct user *u, uint64_t n, char *why, size_t whylen);
