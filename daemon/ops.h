/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one request core. Both front-ends translate their messages into these calls and the
 * results back; every decision (argument checks, policy, quotas, conflicts) and every kernel
 * call is made here, in the order: validate, identify, authorise, check conflicts, act, commit,
 * audit. Bindings end only here too, whatever ends them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "policy.h"
#include "registry.h"

struct event_base;
struct core;

/* Who is asking, from the kernel: SO_PEERCRED/SO_PEERGROUPS/SO_PEERPIDFD or bus credentials,
 * plus the executable and systemd unit, resolved once per session by ops_session_new(). */
struct caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int pidfd; /* -1 when the kernel could not give one */
	gid_t *groups;
	size_t n_groups;
	const char *exe;          /* set by ops_session_new(); NULL if unknown */
	const char *const *units; /* likewise: the unit and its slices, NULL-terminated */
};

#define OPS_REASON_MAX 1024

/* What a request came to: status 0 or a negative errno, and a reason for the client. */
struct op_result {
	int status;
	char reason[OPS_REASON_MAX];
};

struct bind_request {
	const char *device;
	int target_pidfd; /* task binds: -1 for the caller itself; ops_bind() takes ownership */
	struct bind_args args;
};

struct explain_request {
	enum policy_op op;
	const char *device; /* NULL for reload */
	uint32_t pasid;     /* 0: auto */
	bool has_uid;       /* explain for another uid (root only) */
	uid_t uid;
	uint32_t addr_width; /* page-table binds, 0 if not given */
	uint64_t vtd_flags;
};

struct reload_result {
	uint64_t generation;
	size_t n_rules, n_files, n_warnings;
	size_t n_denied;  /* live bindings the new policy does not grant */
	size_t n_revoked; /* ended: their denying rule says revoke */
};

/* What front-ends want to hear about (the D-Bus face exports bindings as objects). */
struct core_hooks {
	void (*binding_added)(void *userdata, struct binding *b);
	void (*binding_removed)(void *userdata, struct binding *b); /* before it is freed */
	void (*policy_reloaded)(void *userdata, uint64_t generation);
};

/* Live bindings one uid may hold whatever the policy says: a bound on memory and PASIDs. */
#define OPS_USER_BINDINGS_MAX 131072u

/* Takes ownership of backend and policy; policy_dirs (copied; NULL: the default directories)
 * are where reloads read from. Returns NULL when out of memory. */
struct core *core_new(struct event_base *base, struct backend *backend, struct policy *policy,
		      const char *const *policy_dirs, size_t n_policy_dirs);
/* Ends every binding with the reason "svmd shutting down" (kernel unbind, audit). */
void core_release_all(struct core *c);
/* Ends every binding (kernel unbind, audit), then frees. Takes NULL. */
struct core *core_free(struct core *c);

void core_set_hooks(struct core *c, const struct core_hooks *hooks, void *userdata);
/* One uid's share of svmd's fds (0: no limit) and what one of its connections takes: the
 * socket front-end sets these from the fd limit. A uid at its share gets no more connections,
 * task bindings or leases. */
void core_set_fd_share(struct core *c, unsigned user_fds_max, unsigned fds_per_connection);
/* The fds svmd holds for uid now, counting its connections at fds_per_connection each. */
unsigned core_user_fds(const struct core *c, uid_t uid);
/* Whether uid may take n more of svmd's fds. */
bool core_user_fds_allow(const struct core *c, uid_t uid, unsigned n);
uint64_t core_generation(const struct core *c);
struct registry *core_registry(const struct core *c);
const struct backend *core_backend(const struct core *c);
const struct policy *core_policy(const struct core *c);

/*
 * Binds for the caller in session s. Errors: -ENODEV unknown device, -EOPNOTSUPP kind the
 * device lacks, -EINVAL bad arguments, -EBADF target fd not a pidfd, -ESRCH target gone,
 * -EPERM target not the caller's to bind, -EACCES policy denial, -EDQUOT quota, -EBUSY
 * PASID or table in use, -ENOSPC no PASID left, or what the kernel answered. On success
 * *ret (if given) is the binding.
 */
int ops_bind(struct core *c, struct session *s, const struct caller *who, struct bind_request *req,
	     struct op_result *res, struct binding **ret);

/*
 * Hands the caller a new fd on device's VFIO device and records it as a binding of kind
 * SVMD_KIND_DEVICE (one holder per device; listed, leased and released like any binding).
 * svmd cannot revoke the fd: ending the record frees the device for the next holder.
 * Errors as ops_bind(); *ret_fd is the caller's to send and close.
 */
int ops_open_device(struct core *c, struct session *s, const struct caller *who, const char *device,
		    int *ret_fd, struct op_result *res, struct binding **ret);

/* Ends binding id if the caller owns it (root: any). -ENOENT otherwise. */
int ops_unbind(struct core *c, const struct caller *who, uint64_t id, struct op_result *res);

/* Detaches binding id (the caller's) from its session and returns a lease fd: the binding now
 * lives as long as any copy of it. -ENOENT, -EALREADY (leased before), -EMFILE. */
int ops_lease(struct core *c, const struct caller *who, uint64_t id, int *ret_fd,
	      struct op_result *res);

/* Explains how policy decides req for the caller (root: for req->uid) into text. */
int ops_explain(struct core *c, const struct caller *who, const struct explain_request *req,
		char *text, size_t size, enum policy_verdict *ret_verdict, struct op_result *res);

/* A session for the caller: resolves its executable and unit (when the kernel still knows
 * them) and points caller->exe/units at the session's copies. NULL when out of memory. */
struct session *ops_session_new(struct core *c, struct caller *who);

/*
 * Reads the policy directories again and swaps the new policy in only if every file compiles;
 * then decides every live binding again: those no longer granted are counted (and ended if the
 * denying rule says revoke). who is NULL for SIGHUP; else it must be root or allowed `reload`.
 * On success the text lists warnings and the bindings concerned. Errors: -EACCES, -EINVAL
 * (the reason holds the first errors with file:line:col; the old policy stays), -ENOMEM.
 */
int ops_reload(struct core *c, const struct caller *who, struct reload_result *ret, char *text,
	       size_t size, struct op_result *res);

/* The session's owner went away: ends its bindings that are not leased, frees s. */
void ops_session_end(struct core *c, struct session *s);

/* Whether who may see (list) b: its owner, or root. */
bool ops_visible(const struct caller *who, const struct binding *b);
/* What who may see, in id order from after_id on: root walks every binding, anyone else only
 * their own (so listing costs what the caller holds, not what everyone holds). */
struct binding *ops_visible_first(struct core *c, const struct caller *who, uint64_t after_id);
struct binding *ops_visible_next(struct core *c, const struct caller *who, const struct binding *b);
