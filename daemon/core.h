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

/* How a binding ended, for the front-ends to tell its holder. */
struct core_end {
	enum end_reason why;
	uid_t by_uid;             /* END_UNBIND: who unbound it */
	const struct session *by; /* END_UNBIND: the session that asked (its owner knows) */
	uint64_t generation;      /* END_REVOKED: the policy that revoked it; else in force */
	const char *text;         /* in words */
};

/* What front-ends want to hear about (the D-Bus face exports bindings as objects; both tell
 * holders when their bindings end, and subscribers of every record). Each may be NULL. */
struct core_hooks {
	void (*binding_added)(void *userdata, struct binding *b); /* once committed */
	/* Before it is freed; only for a binding that was committed. */
	void (*binding_removed)(void *userdata, struct binding *b, const struct core_end *end);
	void (*policy_reloaded)(void *userdata, uint64_t generation);
	/* Every audit record as it is written; end is the release's reason (else -1). */
	void (*record)(void *userdata, const struct audit_record *r, int end);
};

/* Who listens: one set of hooks per front-end. */
enum core_frontend {
	CORE_FRONTEND_BUS,
	CORE_FRONTEND_SOCKET,
	_CORE_FRONTEND_MAX,
};

struct core {
	struct event_base *base;
	struct backend *backend;
	struct policy *policy;
	uint64_t generation;   /* of the policy: 1 at start, +1 per reload */
	uint64_t started_usec; /* CLOCK_MONOTONIC, at core_new() */
	char **policy_dirs;    /* NULL: the default directories */
	size_t n_policy_dirs;
	struct registry *registry;
	struct lifetime *lifetime;
	struct limits *limits;
	struct {
		const struct core_hooks *hooks;
		void *userdata;
	} hooks[_CORE_FRONTEND_MAX];
	/* While a release is being recorded: its enum end_reason + 1 (0: not a release). */
	int ending;
	/* Where svmd keeps what must outlive a restart (NULL: nowhere), and the binding ids
	 * reserved there: a restart starts above them, so an id never names two bindings in one
	 * boot. */
	int state_fd;
	uint64_t ids_reserved;
	/* Restart survival (persist.h), once set up; NULL: what svmd holds ends with it. */
	struct persist *persist;
	/* The counters of svmctl metrics, kept by core_audit() and request_finish(); the live
	 * parts (bindings, devices) are filled when read. */
	struct svmd_metrics metrics;
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

/* Sets (or, with NULL, clears) front-end which's hooks. */
void core_set_hooks(struct core *c, enum core_frontend which, const struct core_hooks *hooks,
		    void *userdata);
/* Calls hook NAME(userdata, ...) of every front-end that has it. */
#define core_notify(c, name, ...)                                                                  \
	do {                                                                                       \
		for (int i_ = 0; i_ < _CORE_FRONTEND_MAX; i_++)                                    \
			if ((c)->hooks[i_].hooks && (c)->hooks[i_].hooks->name)                    \
				(c)->hooks[i_].hooks->name((c)->hooks[i_].userdata, __VA_ARGS__);  \
	} while (0)

/* Keeps svmd's state in dir (kept across restarts, gone at reboot: /run): binding ids go on
 * from where the last svmd of this boot left them. Returns 0 or a negative errno with a message
 * in err. */
int core_set_state_dir(struct core *c, const char *dir, char *err, size_t errlen);
/* Before a binding takes the next id: reserves more when the reservation is used up. A failure
 * to write is logged (ids may then repeat after a restart) and nothing else. */
void core_reserve_id(struct core *c);

/* The one function that writes audit records (audit.h): who is the caller, or for a release the
 * binding's owner (NULL: svmd itself); rule NULL: none; error 0 or an errno, either sign. */
void core_audit(struct core *c, enum audit_event event, const struct identity *who, const char *op,
		const struct device *dev, uint32_t pasid, const struct policy_rule *rule,
		uint64_t binding, int error, const char *reason);

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
/* Whether the backend nests binds of kind in a client's space (backend_ops.nest_bind: page
 * tables; PASID tables have bind_space()), and where such a bind keeps its reference to that
 * space. */
bool core_nests(const struct core *c, uint32_t kind);
struct space **core_nest_space(struct bind_args *a);

/* Undoes b: stops its watches, kernel unbind, tells the front-ends (if they heard of it) how it
 * ended (end), frees it. Writes no record: returns the kernel's answer to the unbind (0 or a
 * negative errno, with its reason in why) for the caller's. */
int core_drop_binding(struct core *c, struct binding *b, const struct core_end *end, char *why,
		      size_t whylen);
/* Ends b for why with its release record: the one way a binding ends outside a request. */
void core_end_binding(struct core *c, struct binding *b, enum end_reason why);
/* Ends every binding with the reason "svmd shutting down". */
void core_release_all(struct core *c);
