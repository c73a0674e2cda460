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

#include "bind.h"
#include "device.h"
#include "hashmap.h"
#include "identity.h"
#include "list.h"

struct registry;
struct policy_rule;

/* Live bindings per (user, rule), for max= quotas, and the bytes its maps hold (max-bytes=). */
struct rule_count {
	struct rule_count *next;
	const struct policy_rule *rule;
	unsigned n;
	uint64_t bytes;
};

/* Everything one uid holds: charged on create, uncharged on free. */
struct user {
	struct hnode node; /* key: uid */
	uid_t uid;
	unsigned n_bindings;
	unsigned n_sessions;
	struct rule_count *counts;
	struct list bindings; /* struct binding.user_link, in id order */
	/* svmd's fds held for this uid: its sessions' (a socket connection's, a bus caller's
	 * pinned process), its bindings' (bound processes' pidfds, lease ends) and its replies'
	 * waiting to be sent. */
	unsigned n_fds;
	uint64_t map_bytes; /* client memory its maps hold mapped (pinned) */
};

/* A binding of a session that the restart the session came through ended (persist.c). */
struct session_ended {
	uint64_t id;
	unsigned why;  /* enum end_reason */
	bool answered; /* an unbind of it was answered as done */
};

/* One client: a socket connection or a bus name. */
struct session {
	struct registry *reg;
	struct user *user;
	/* A reference: who the client is, as the kernel said when it came. Its bindings share it,
	 * and keep it after the session when leased, so they can be decided again on a reload. */
	struct identity *owner;
	struct list bindings; /* struct binding.session_link */
	uint64_t id;
	unsigned n_bindings;
	unsigned n_fds;      /* what the session itself holds, charged to its user */
	struct space *space; /* its DMA spaces (core.h), once it maps or opens a device */
	struct list link;    /* in the registry's sessions */
	struct hnode by_id;  /* key: id */
	/* What its front-end needs to serve it again after a restart (the state file keeps
	 * it): "socket PROTO SUBSCRIBED", "bus NAME SUBSCRIBED"; NULL: nothing to resume. */
	char *resume;
	/* The ids of its bindings the restart it came through ended (persist.c): an unbind of one
	 * is answered as done, since its request may have been the one svmd was serving. */
	struct session_ended *ended;
	size_t n_ended;
};

/* The registry slot of an open-device holder: beyond the 20-bit PASID space, so one key space
 * holds PASIDs (1..), the PASID table (0) and the device holder. Maps hold no slot: any number
 * of them share a device, and the backend tells overlaps. */
#define REGISTRY_DEVICE_SLOT 0x100000u
#define REGISTRY_NO_SLOT     0x100001u

/* 184 bytes, the most that fits a 192-byte heap chunk: the id is the key of by_id, and the flags
 * share a word with the creation time. What keeps a binding alive besides its session (a bound
 * process, a lease) is the request core's, in its own table (lifetime.c). */
struct binding {
	struct hnode by_id;             /* key: the binding's id (binding_id()) */
	struct hnode by_pasid;          /* key: device index << 32 | registry_slot() */
	struct list session_link;       /* empty once leased */
	struct list all_link;           /* registry order == id order */
	struct list user_link;          /* in its user's bindings, id order */
	struct session *session;        /* NULL once leased */
	const struct policy_rule *rule; /* the rule that granted it, the quota key */
	const struct device *device;
	struct identity *owner;     /* a reference */
	struct user *user;          /* the account it is charged to: its owner's uid's */
	uint64_t created_usec : 61; /* CLOCK_REALTIME */
	uint64_t leased : 1;
	uint64_t uncounted : 1; /* out of memory while re-keying: counted under no rule */
	uint64_t committed : 1; /* its owner was told, and the front-ends */
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

/* Returns 0 or -ENOMEM. */
int registry_new(struct registry **ret);
/* Frees the bookkeeping; the caller must have ended every binding and session first (what is
 * left is freed without being ended). Takes NULL; returns NULL. */
struct registry *registry_free(struct registry *r);
DEFINE_FREE_FUNC(struct registry, registry_free);

/* A session of who (a reference is taken), charged to who's uid with the n_fds it holds.
 * Returns 0 or -ENOMEM. */
int registry_session_new(struct registry *r, struct identity *who, unsigned n_fds,
			 struct session **ret);
/* The same for a session a previous svmd had, with its id (-EEXIST: taken; -EINVAL: 0). */
int registry_session_adopt(struct registry *r, struct identity *who, unsigned n_fds, uint64_t id,
			   struct session **ret);
/* Replaces s->resume with a copy of resume (NULL: none). Returns 0 or -ENOMEM. */
int registry_session_set_resume(struct session *s, const char *resume);
/* The same, not counted as a change (registry_changes()): the next state write that happens
 * for another reason carries it. */
int registry_session_set_resume_quietly(struct session *s, const char *resume);
/* Every session, oldest first. */
struct session *registry_sessions_first(const struct registry *r);
struct session *registry_sessions_next(const struct session *s);
/* Counts every change a state file would show (bindings and sessions made, ended, leased;
 * a session's resume set): a caller that saw the same count has nothing new to write. */
uint64_t registry_changes(const struct registry *r);
/* Notes that binding id of s ended at an adoption; whether one such id is noted (and forgets
 * it). Out of memory nothing is noted. */
void registry_session_note_ended(struct session *s, uint64_t id, unsigned why);
bool registry_session_forget_ended(struct session *s, uint64_t id);

/* Sessions made from now on get ids above id. */
void registry_session_ids_above(struct registry *r, uint64_t id);

/* The session with this id, or NULL. */
struct session *registry_session_find(const struct registry *r, uint64_t id);

/* What changed, for a state file that is written a change at a time (persist.c): once
 * registry_track() is called, every session and binding made, ended, leased or given a new
 * resume note is listed (an id may come more than once) until registry_changed_clear().
 * registry_changed() returns NULL when the list could not grow (out of memory): then anything
 * may have changed. The caller may reorder the list. */
enum registry_change_kind { REGISTRY_SESSION, REGISTRY_BINDING };
struct registry_change {
	enum registry_change_kind kind;
	uint64_t id;
};
void registry_track(struct registry *r);
struct registry_change *registry_changed(struct registry *r, size_t *n);
void registry_changed_clear(struct registry *r);

/* Frees a session without bindings (end them first). Takes NULL. Returns NULL. */
struct session *registry_session_free(struct session *s);

/* Adds a binding owned by session s (charged to its user) granted by rule. The id is assigned
 * here. Returns the binding or NULL when out of memory. */
struct binding *registry_add(struct registry *r, struct session *s, const struct policy_rule *rule,
			     const struct device *dev, const struct bind_args *args);
/* A binding a previous svmd recorded, as it was: id (below registry_next_id(), above every
 * binding's), created, owned by session s, or leased by owner when s is NULL; counted under no
 * rule until decided again (registry_set_rule()). Returns it, or NULL (out of memory, or the id
 * is not new and in order). */
struct binding *registry_adopt(struct registry *r, struct session *s, struct identity *owner,
			       const struct device *dev, const struct bind_args *args, uint64_t id,
			       uint64_t created_usec);
/* Unlinks and frees b (its watch must be gone). Takes NULL. */
void registry_remove(struct registry *r, struct binding *b);
/* Moves b's quota accounting to another rule (or none), e.g. after a policy reload. */
void registry_set_rule(struct registry *r, struct binding *b, const struct policy_rule *rule);
/* Detaches b from its session: it now lives until its lease ends. */
void registry_lease(struct registry *r, struct binding *b);

struct binding *registry_find(const struct registry *r, uint64_t id);
/* Where a binding of this kind sits on its device: its PASID, 0 for the PASID table,
 * REGISTRY_DEVICE_SLOT for the device holder, REGISTRY_NO_SLOT for a map. */
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

/* uid's account (what it holds), or NULL when it holds nothing: one lookup, then read the
 * counts from it. */
const struct user *registry_user(const struct registry *r, uid_t uid);
/* Live bindings of u granted by rule (u may be NULL). */
unsigned user_count_rule(const struct user *u, const struct policy_rule *rule);

/* Live bindings of uid in all, and granted by rule. */
unsigned registry_count_user(const struct registry *r, uid_t uid);
unsigned registry_count_rule(const struct registry *r, uid_t uid, const struct policy_rule *rule);
/* Live bindings on dev granted by rule, whoever holds them. */
unsigned registry_count_device_rule(const struct registry *r, const struct device *dev,
				    const struct policy_rule *rule);
/* Bytes mapped: by u under rule (u may be NULL), on dev under rule, by every uid. */
uint64_t user_bytes_rule(const struct user *u, const struct policy_rule *rule);
uint64_t registry_device_rule_bytes(const struct registry *r, const struct device *dev,
				    const struct policy_rule *rule);
uint64_t registry_map_bytes(const struct registry *r);
unsigned registry_count_user_sessions(const struct registry *r, uid_t uid);
/* Everyone's live bindings and sessions. */
size_t registry_n_bindings(const struct registry *r);
size_t registry_n_sessions(const struct registry *r);
/* The fds svmd holds for uid (struct user.n_fds), and for every uid. */
unsigned registry_count_user_fds(const struct registry *r, uid_t uid);
unsigned registry_count_fds(const struct registry *r);
/* u takes delta more of svmd's fds (or gives -delta back). */
void registry_charge_fds(struct registry *r, struct user *u, int delta);
size_t registry_count(const struct registry *r);
/* The id the next binding gets; ids only grow. Setting it lower than it is does nothing. */
uint64_t registry_next_id(const struct registry *r);
void registry_set_next_id(struct registry *r, uint64_t id);
size_t registry_count_sessions(const struct registry *r);
