/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request core's state: the backend, the policy in force and its generation, the
 * registry of bindings, what ends them (lifetime) and the per-uid limits, plus the hooks the
 * front-ends listen on. The recipes that act on it are in ops.c; this file owns the objects, the
 * one way a binding ends, and the one function that writes audit records.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "backend.h"
#include "cleanup.h"
#include "lifetime.h"
#include "user-limits.h"
#include "policy.h"
#include "registry.h"

struct event_base;

/* What front-ends want to hear about (the D-Bus face exports bindings as objects). */
struct core_hooks {
	void (*binding_added)(void *userdata, struct binding *b);   /* once committed */
	void (*binding_removed)(void *userdata, struct binding *b); /* before it is freed */
	void (*policy_reloaded)(void *userdata, uint64_t generation);
};

struct core {
	struct event_base *base;
	struct backend *backend;
	struct policy *policy;
	uint64_t generation; /* of the policy: 1 at start, +1 per reload */
	char **policy_dirs;  /* NULL: the default directories */
	size_t n_policy_dirs;
	struct registry *registry;
	struct lifetime *lifetime;
	struct limits *limits;
	const struct core_hooks *hooks;
	void *hooks_userdata;
	/* Where svmd keeps what must outlive a restart (NULL: nowhere), and the binding ids
	 * reserved there: a restart starts above them, so an id never names two bindings in one
	 * boot. */
	int state_fd;
	uint64_t ids_reserved;
};

/*
 * One client's DMA spaces (the backend's struct backend_space), shared by its session and by
 * each map and open-device binding made in it: it lives as long as any of them (a leased map
 * outlives its session), and its kernel objects go with the last. The fds it holds are charged
 * to the client's uid.
 */
struct space {
	unsigned refs;
	struct backend_space *bs;
	struct user *user;
	unsigned n_fds;
};

/* Ids are reserved in the state directory this many at a time. */
#define CORE_IDS_BLOCK 1024u

/* Takes ownership of backend and policy on success only; policy_dirs (copied; none: the default
 * directories) are where reloads read from. Returns 0 or -ENOMEM. */
int core_new(struct event_base *base, struct backend *backend, struct policy *policy,
	     const char *const *policy_dirs, size_t n_policy_dirs, struct core **ret);
/* Ends every binding (kernel unbind, audit), then frees. Takes NULL; returns NULL. */
struct core *core_free(struct core *c);
DEFINE_FREE_FUNC(struct core, core_free);

void core_set_hooks(struct core *c, const struct core_hooks *hooks, void *userdata);

/* Keeps svmd's state in dir (kept across restarts, gone at reboot: /run): binding ids go on
 * from where the last svmd of this boot left them. Returns 0 or a negative errno with a message
 * in err. */
int core_set_state_dir(struct core *c, const char *dir, char *err, size_t errlen);
/* Before a binding takes the next id: reserves more when the reservation is used up. A failure
 * to write is logged (ids may then repeat after a restart) and nothing else. */
void core_reserve_id(struct core *c);

/* The one function that writes audit records (audit.h): who is the caller, or for a release the
 * binding's owner (NULL: svmd itself); rule NULL: none; error 0 or an errno, either sign. */
void core_audit(const struct core *c, enum audit_event event, const struct identity *who,
		const char *op, const struct device *dev, uint32_t pasid,
		const struct policy_rule *rule, uint64_t binding, int error, const char *reason);

/* "bind-task", "bind-pgtable", "bind-pasid-table", "open-device", "map": the op that makes a
 * binding of kind (enum svmd_kind), as policy and the audit trail name it. */
enum policy_op core_kind_op(uint32_t kind);
const char *core_kind_op_name(uint32_t kind);

/* Why dev cannot do kind on this kernel (a reason, in buf or static), or NULL when it can. */
const char *core_why_not(const struct core *c, const struct device *dev, uint32_t kind, char *buf,
			 size_t len);

/* s's space, made on first use (backend space_new; its fds charged to s's uid). -EOPNOTSUPP
 * when the backend has no spaces; else 0 or the backend's error, with why. */
int core_session_space(struct core *c, struct session *s, struct space **ret, char *why,
		       size_t whylen);
struct space *core_space_ref(struct space *sp);
/* Drops a reference; the last frees the space's kernel objects (backend space_free). Takes
 * NULL. */
void core_space_unref(struct core *c, struct space *sp);

/* Undoes b: stops its watches, kernel unbind, tells the front-ends (if they heard of it), frees
 * it. Writes no record: returns the kernel's answer to the unbind (0 or a negative errno, with
 * its reason in why) for the caller's. */
int core_drop_binding(struct core *c, struct binding *b, char *why, size_t whylen);
/* Ends b for why with its release record: the one way a binding ends outside a request. */
void core_end_binding(struct core *c, struct binding *b, enum end_reason why);
/* Ends every binding with the reason "svmd shutting down". */
void core_release_all(struct core *c);
