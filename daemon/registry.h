/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The registry: the only owner of bindings, sessions and per-user accounts. Lookups by binding
 * id, by (device, PASID) and by owner session are O(1); quotas are counted per uid and per
 * (uid, granting rule). Pure bookkeeping: no kernel calls, no events, no policy.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "device.h"
#include "hashmap.h"
#include "list.h"
#include "bind.h"

struct registry;

/* Live bindings per (user, rule), for max= quotas. */
struct rule_count {
	struct rule_count *next;
	const void *rule;
	unsigned n;
};

/* Everything one uid holds: charged on create, uncharged on free. */
struct user {
	struct hnode node; /* key: uid */
	uid_t uid;
	unsigned n_bindings;
	unsigned n_sessions;
	struct rule_count *counts;
	struct list bindings; /* struct binding.user_link, in id order */
	unsigned n_fds;       /* held for its bindings: bound processes' pidfds, lease ends */
};

/* Who made a session and its bindings, as the kernel said at the time: kept so bindings can
 * be decided again when the policy changes. Shared by a session and its bindings. */
struct owner {
	unsigned n_ref;
	struct user *user; /* uid's account, which the session and bindings are charged to */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t *groups; /* supplementary */
	size_t n_groups;
	char *exe;    /* the executable, once a policy needed it; else NULL */
	char **units; /* the unit and slices, once a policy needed them; NULL-terminated */
};

/* One client: a socket connection or a bus name. */
struct session {
	struct registry *reg;
	struct user *user;
	struct owner *owner;
	struct list bindings; /* struct binding.session_link */
	uint64_t id;
	unsigned n_bindings;
};

/* The registry slot of an open-device holder: beyond the 20-bit PASID space, so one key space
 * holds PASIDs (1..), the PASID table (0) and the device holder. */
#define REGISTRY_DEVICE_SLOT 0x100000u

/* 184 bytes, the most that fits a 192-byte heap chunk: the id is the key of by_id, and the flags
 * share a word with the creation time. */
struct binding {
	struct hnode by_id;       /* key: the binding's id (binding_id()) */
	struct hnode by_pasid;    /* key: device index << 32 | registry_slot() */
	struct list session_link; /* empty once leased */
	struct list all_link;     /* registry order == id order */
	struct list user_link;    /* in its user's bindings, id order */
	struct session *session;  /* NULL once leased */
	const void *rule;         /* the rule that granted it, the quota key */
	const struct device *device;
	struct owner *owner;        /* a reference; owner->user is the account it is charged to */
	uint64_t created_usec : 62; /* CLOCK_REALTIME */
	uint64_t leased : 1;
	uint64_t uncounted : 1; /* out of memory while re-keying: counted under no rule */
	void *watch;            /* owned by the request core: what ends it (pidfd, lease) */
	struct bind_args args;
};

static inline uint64_t binding_id(const struct binding *b)
{
	return b->by_id.key;
}

static inline uint64_t binding_created_usec(const struct binding *b)
{
	return b->created_usec;
}

struct registry *registry_new(void);
/* Frees the bookkeeping; the caller must have ended every binding and session first. */
struct registry *registry_free(struct registry *r);

/* A session whose owner is a copy of *who (its n_ref is ignored). Returns NULL when out of
 * memory. */
struct session *registry_session_new(struct registry *r, const struct owner *who);
/* Frees a session without bindings (end them first). Takes NULL. Returns NULL. */
struct session *registry_session_free(struct session *s);

/* Adds a binding owned by session s (charged to its user) granted by rule. The id is assigned
 * here. Returns the binding or NULL when out of memory. */
struct binding *registry_add(struct registry *r, struct session *s, const void *rule,
			     const struct device *dev, const struct bind_args *args);
/* Unlinks and frees b (its watch must be gone). Takes NULL. */
void registry_remove(struct registry *r, struct binding *b);
/* Moves b's quota accounting to another rule (or none), e.g. after a policy reload. */
void registry_set_rule(struct registry *r, struct binding *b, const void *rule);
/* Detaches b from its session: it now lives until its lease ends. */
void registry_lease(struct registry *r, struct binding *b);

struct binding *registry_find(const struct registry *r, uint64_t id);
/* Where a binding of this kind sits on its device: its PASID, 0 for the PASID table,
 * REGISTRY_DEVICE_SLOT for the device holder. */
uint32_t registry_slot(const struct bind_args *args);
/* The binding holding (dev, slot): a PASID, 0 (PASID table) or REGISTRY_DEVICE_SLOT. */
struct binding *registry_find_pasid(const struct registry *r, const struct device *dev,
				    uint32_t pasid);
/* The first binding with an id above after_id, or NULL; then registry_next(). */
struct binding *registry_first_after(const struct registry *r, uint64_t after_id);
struct binding *registry_next(const struct registry *r, const struct binding *b);
/* The same among uid's bindings only: the work is bounded by what uid holds, not by all. */
struct binding *registry_user_first_after(const struct registry *r, uid_t uid, uint64_t after_id);
struct binding *registry_user_next(const struct binding *b);

/* Live bindings of uid in all, and granted by rule. */
unsigned registry_count_user(const struct registry *r, uid_t uid);
unsigned registry_count_rule(const struct registry *r, uid_t uid, const void *rule);
/* Live bindings on dev granted by rule, whoever holds them. */
unsigned registry_count_device_rule(const struct registry *r, const struct device *dev,
				    const void *rule);
unsigned registry_count_user_sessions(const struct registry *r, uid_t uid);
/* The fds svmd holds for uid's bindings (struct user.n_fds). */
unsigned registry_count_user_fds(const struct registry *r, uid_t uid);
size_t registry_count(const struct registry *r);
size_t registry_count_sessions(const struct registry *r);
