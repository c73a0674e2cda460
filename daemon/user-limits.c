/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rate buckets, fd shares and mapped bytes; see user-limits.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "user-limits.h"
#include "policy.h"
#include "registry.h"
#include "util.h"

struct limits {
	limits_clock_fn clock;
	void *clock_userdata;
	struct hashmap rates; /* struct rate, by rate_key() */
	size_t rates_pruned_at;
	struct fd_budget fds;
	struct hashmap logs; /* struct log_window, by uid */
	uint64_t map_per_user, map_total;
};

/* One uid's lines in the current window. */
struct log_window {
	struct hnode node; /* key: uid */
	uint64_t start_usec;
	unsigned lines, suppressed;
};

/* A token bucket for rate=: refills at rule->rate per second, holds at most that many. */
struct rate {
	struct hnode node; /* key: rate_key() */
	uid_t uid;
	const struct policy_rule *rule;
	double tokens;
	uint64_t stamp_usec;
};

static uint64_t monotonic(void *userdata)
{
	(void)userdata;
	return now_usec(CLOCK_MONOTONIC);
}

int limits_new(limits_clock_fn clock, void *clock_userdata, struct limits **ret)
{
	struct limits *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->clock = clock ? clock : monotonic;
	l->clock_userdata = clock_userdata;
	l->map_per_user = LIMITS_MAP_BYTES_PER_USER;
	*ret = l;
	return 0;
}

static void rates_free(struct limits *l)
{
	hashmap_for_each_safe (e, &l->rates)
		free(container_of(e, struct rate, node));
	hashmap_done(&l->rates);
	l->rates_pruned_at = 0;
}

struct limits *limits_free(struct limits *l)
{
	if (!l)
		return NULL;
	rates_free(l);
	hashmap_for_each_safe (e, &l->logs)
		free(container_of(e, struct log_window, node));
	hashmap_done(&l->logs);
	free(l);
	return NULL;
}

static uint64_t rate_key(uid_t uid, const struct policy_rule *rule)
{
	return (uint64_t)(uintptr_t)rule * 0x9e3779b97f4a7c15ull ^ uid;
}

static void rate_refill(struct rate *r, uint64_t now)
{
	r->tokens += (double)(now - r->stamp_usec) * r->rule->rate / 1e6;
	if (r->tokens > r->rule->rate)
		r->tokens = r->rule->rate;
	r->stamp_usec = now;
}

/* A rule as the admin sees it, whatever its place in the file: its file and its text. */
static uint64_t rule_fingerprint(const struct policy_rule *rule)
{
	/* The file, a byte no name holds, the text. */
	return hash_string(hash_string(hash_string(HASH_INIT, rule->file), "\xff"), rule->text);
}

static bool same_rule(const struct policy_rule *a, const struct policy_rule *b)
{
	return strcmp(a->file, b->file) == 0 && strcmp(a->text, b->text) == 0;
}

static bool has_rate(const struct policy_rule *rule)
{
	return rule->keys & (1u << POLICY_KEY_RATE);
}

/* The rules of p with rate=, indexed by fingerprint. */
struct kept {
	struct hnode node; /* key: rule_fingerprint() */
	const struct policy_rule *rule;
};

static int index_rates(const struct policy *p, struct hashmap *by_print, struct kept **ret)
{
	_cleanup_free_ struct kept *kept = calloc(p->n_rules, sizeof(*kept));
	size_t n = 0;

	if (!kept && p->n_rules)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_rules; i++) {
		if (!has_rate(&p->rules[i]))
			continue;
		kept[n].rule = &p->rules[i];
		if (hashmap_put(by_print, &kept[n].node, rule_fingerprint(kept[n].rule)) < 0)
			return -ENOMEM;
		n++;
	}
	*ret = TAKE_PTR(kept);
	return 0;
}

/* The rule of p that r's bucket goes to: the same text in the same file. When it is there
 * twice, the first copy is the one that decides (rules are in file order in p->rules). */
static const struct policy_rule *carried_to(const struct hashmap *by_print, const struct rate *r)
{
	const struct policy_rule *to = NULL;

	for (struct hnode *k = hashmap_get(by_print, rule_fingerprint(r->rule)); k;
	     k = hashmap_next_same(k)) {
		const struct policy_rule *x = container_of(k, struct kept, node)->rule;
		if (same_rule(x, r->rule) && (!to || x < to))
			to = x;
	}
	return to;
}

void limits_rates_carry(struct limits *l, const struct policy *p)
{
	struct hashmap by_print = {0}, carried = {0};
	struct kept *kept = NULL;
	uint64_t now = l->clock(l->clock_userdata);

	if (l->rates.n == 0)
		return;
	if (index_rates(p, &by_print, &kept) < 0) {
		/* Out of memory: every bucket goes (they start full again). */
		hashmap_done(&by_print);
		rates_free(l);
		return;
	}
	hashmap_for_each_safe (e, &l->rates) {
		struct rate *r = container_of(e, struct rate, node);
		const struct policy_rule *to = carried_to(&by_print, r);

		rate_refill(r, now);
		r->rule = to;
		if (!to || hashmap_put(&carried, &r->node, rate_key(r->uid, to)) < 0) {
			free(r);
			continue;
		}
		if (r->tokens > to->rate)
			r->tokens = to->rate;
	}
	hashmap_done(&l->rates);
	l->rates = carried;
	l->rates_pruned_at = l->rates.n;
	hashmap_done(&by_print);
	free(kept);
}

/* Drops buckets that have filled up again (they hold no memory of anything). */
static void rates_prune(struct limits *l, uint64_t now)
{
	hashmap_for_each_safe (e, &l->rates) {
		struct rate *r = container_of(e, struct rate, node);
		rate_refill(r, now);
		if (r->tokens >= r->rule->rate) {
			hashmap_remove(&l->rates, &r->node);
			free(r);
		}
	}
	l->rates_pruned_at = l->rates.n;
}

static struct rate *rate_find(const struct limits *l, uid_t uid, const struct policy_rule *rule)
{
	for (struct hnode *n = hashmap_get(&l->rates, rate_key(uid, rule)); n;
	     n = hashmap_next_same(n)) {
		struct rate *x = container_of(n, struct rate, node);
		if (x->uid == uid && x->rule == rule)
			return x;
	}
	return NULL;
}

int limits_rate_take(struct limits *l, uid_t uid, const struct policy_rule *rule,
		     unsigned *ret_wait_ms)
{
	uint64_t now = l->clock(l->clock_userdata);
	struct rate *r = rate_find(l, uid, rule);

	if (!r) {
		if (l->rates.n >= 1024 && l->rates.n >= 2 * l->rates_pruned_at)
			rates_prune(l, now);
		r = calloc(1, sizeof(*r));
		if (!r || hashmap_put(&l->rates, &r->node, rate_key(uid, rule)) < 0) {
			free(r);
			return -ENOMEM;
		}
		r->uid = uid;
		r->rule = rule;
		r->tokens = rule->rate;
		r->stamp_usec = now;
	}
	rate_refill(r, now);
	if (r->tokens < 1.0) {
		*ret_wait_ms = (unsigned)((1.0 - r->tokens) * 1000.0 / rule->rate) + 1;
		return -EAGAIN;
	}
	r->tokens -= 1.0;
	return 0;
}

size_t limits_n_rates(const struct limits *l)
{
	return l->rates.n;
}

void limits_set_fds(struct limits *l, unsigned limit, unsigned own_open)
{
	struct fd_budget *b = &l->fds;
	unsigned rest;

	*b = (struct fd_budget){.limit = limit};
	b->own = own_open + LIMITS_FDS_TRANSIENT;
	b->root = limit / 16 > LIMITS_FDS_ROOT_MIN ? limit / 16 : LIMITS_FDS_ROOT_MIN;
	if (b->own > limit)
		b->own = limit;
	rest = limit - b->own;
	if (b->root > rest)
		b->root = rest;
	b->pool = rest - b->root;
}

const struct fd_budget *limits_fds(const struct limits *l)
{
	return &l->fds;
}

bool limits_fds_allow(const struct limits *l, const struct registry *reg, uid_t uid,
		      const struct user *u, unsigned n)
{
	const struct fd_budget *b = &l->fds;

	if (b->limit == 0)
		return true;
	if (uid == 0)
		return registry_count_fds(reg) + n <= b->pool + b->root;
	return (u ? u->n_fds : 0) + n <= limits_fds_share(l, reg, u);
}

unsigned limits_fds_share(const struct limits *l, const struct registry *reg, const struct user *u)
{
	const struct fd_budget *b = &l->fds;
	unsigned others = registry_count_fds(reg) - registry_count_user_fds(reg, 0),
		 held = u ? u->n_fds : 0, free;

	if (others >= b->pool)
		return held;
	free = b->pool - others;
	/* held + n <= free - n: after taking n, it holds no more than is left for the rest. */
	return held + (free > held ? (free - held) / 2 : 0);
}

/* Forgets the windows that have closed with nothing held back (they remember nothing). */
static void logs_prune(struct limits *l, uint64_t now)
{
	hashmap_for_each_safe (e, &l->logs) {
		struct log_window *w = container_of(e, struct log_window, node);
		if (now - w->start_usec >= LIMITS_LOG_USEC && w->suppressed == 0) {
			hashmap_remove(&l->logs, &w->node);
			free(w);
		}
	}
}

bool limits_log_pass(struct limits *l, uid_t uid, unsigned *ret_suppressed)
{
	uint64_t now = l->clock(l->clock_userdata);
	struct hnode *n = hashmap_get(&l->logs, uid);
	struct log_window *w = n ? container_of(n, struct log_window, node) : NULL;

	*ret_suppressed = 0;
	if (!w) {
		if (l->logs.n >= 1024)
			logs_prune(l, now);
		w = calloc(1, sizeof(*w));
		/* Out of memory: log, rather than lose what may be the only line. */
		if (!w || hashmap_put(&l->logs, &w->node, uid) < 0) {
			free(w);
			return true;
		}
		w->start_usec = now;
	}
	if (now - w->start_usec >= LIMITS_LOG_USEC) {
		*ret_suppressed = w->suppressed;
		w->start_usec = now;
		w->lines = w->suppressed = 0;
	}
	if (w->lines >= LIMITS_LOG_BURST) {
		w->suppressed++;
		return false;
	}
	w->lines++;
	return true;
}

void limits_log_summaries(struct limits *l, void (*say)(uid_t uid, unsigned suppressed))
{
	uint64_t now = l->clock(l->clock_userdata);

	hashmap_for_each_safe (e, &l->logs) {
		struct log_window *w = container_of(e, struct log_window, node);
		if (now - w->start_usec < LIMITS_LOG_USEC || w->suppressed == 0)
			continue;
		say((uid_t)w->node.key, w->suppressed);
		hashmap_remove(&l->logs, &w->node);
		free(w);
	}
}

void limits_set_map_bytes(struct limits *l, uint64_t per_user, uint64_t total)
{
	l->map_per_user = per_user;
	l->map_total = total;
}

void limits_map_bytes(const struct limits *l, uint64_t *ret_per_user, uint64_t *ret_total)
{
	*ret_per_user = l->map_per_user;
	*ret_total = l->map_total;
}

int limits_map_bytes_allow(const struct limits *l, const struct registry *reg, uid_t uid,
			   const struct user *u, uint64_t n, char *why, size_t whylen)
{
	uint64_t held = u ? u->map_bytes : 0, all = registry_map_bytes(reg), free;
	char a[32], b[32], c[32], d[32];

	if (n > l->map_per_user || held > l->map_per_user - n)
		return fail(why, whylen, -EDQUOT,
			    "uid %u has %s mapped; %s more is over svmd's limit per user, %s "
			    "(--map-bytes-per-user)",
			    (unsigned)uid, format_size(held, a), format_size(n, b),
			    format_size(l->map_per_user, c));
	if (l->map_total == 0)
		return 0;
	free = all < l->map_total ? l->map_total - all : 0;
	/* held + n <= free - n: after mapping, no more than it leaves to the others. */
	if (n > free / 2 || held + n > free - n)
		return fail(why, whylen, -EDQUOT,
			    "svmd has %s of %s mapped for its users (--map-bytes-total); uid %u, "
			    "with %s of it, may not take %s more: it would hold more than it "
			    "leaves to the others",
			    format_size(all, a), format_size(l->map_total, b), (unsigned)uid,
			    format_size(held, c), format_size(n, d));
	return 0;
}
