/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request recipes. Both front-ends translate their messages into these calls and the
 * results back; every decision (arguments, policy, limits, conflicts) and every kernel call is
 * made here, in the order: validate, identify, check with the kernel's rules, authorise, check
 * conflicts, act. Each request that can make, change or end a binding, or change the policy,
 * writes exactly one audit record, at its one exit (ops.c: finish()).
 *
 * Errors: every call returns 0 or a negative errno and fills an op_result with the same status
 * and a reason for the client. Ownership: fds passed in are taken; fds handed out are the
 * caller's to send and close.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

#define OPS_REASON_MAX 1024

/* What a request came to: status 0 or a negative errno, and a reason for the client. */
struct op_result {
	int status;
	char reason[OPS_REASON_MAX];
};

struct bind_request {
	const char *device;
	/* Task binds: the process to bind, pinned (taken by ops_bind()); -1: the caller itself,
	 * as its session's identity holds it pinned. */
	int target_pidfd;
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
	uint64_t iova, length; /* maps; length 0: the IOVA alone */
};

struct reload_result {
	uint64_t generation;
	size_t n_rules, n_files, n_warnings;
	size_t n_denied;  /* live bindings the new policy does not grant */
	size_t n_revoked; /* ended: their denying rule says revoke */
};

/* Live bindings one uid may hold whatever the policy says: a bound on memory and PASIDs. */
#define OPS_USER_BINDINGS_MAX 131072u

/* A session for who (a reference is taken): one socket connection or bus name, which holds
 * n_fds of svmd's fds (charged to who's uid). Returns 0 or -ENOMEM. */
int ops_session_new(struct core *c, struct identity *who, unsigned n_fds, struct session **ret);
/* Whether a new session of uid holding n_fds would fit svmd's fd budget and connection caps
 * (SESSIONS_MAX in all, not counting root's; SESSIONS_PER_USER_MAX per uid). On refusal, why. */
#define SESSIONS_MAX          65536u
#define SESSIONS_PER_USER_MAX 16384u
bool ops_admit(const struct core *c, uid_t uid, unsigned n_fds, char *why, size_t whylen);
/* The session's owner went away: ends its bindings that are not leased, unpins its process,
 * frees s. Takes NULL. */
void ops_session_end(struct core *c, struct session *s);

/*
 * Binds for the owner of session s. Errors: -ENODEV unknown device, -EOPNOTSUPP kind the
 * device or kernel lacks, -EINVAL bad arguments, -EBADF target fd not a pidfd, -ESRCH target
 * gone, -EPERM target not the caller's to bind, -EACCES policy denial, -EAGAIN rate, -EDQUOT
 * quota, -EBUSY PASID or table in use, -ENOSPC no PASID left, or what the kernel answered. On
 * success *ret is the binding: the front-end replies, then calls ops_commit() (or, when the
 * reply could not be sent, ops_undelivered()).
 */
int ops_bind(struct core *c, struct session *s, struct bind_request *req, struct op_result *res,
	     struct binding **ret);

/*
 * Hands the caller a new fd on device's VFIO device (*ret_fd) and records it as a binding of
 * kind SVMD_KIND_DEVICE (one holder per device; listed, leased and released like any binding).
 * svmd cannot revoke the fd: ending the record frees the device for the next holder. Errors as
 * ops_bind(); then ops_commit() or ops_undelivered() as there.
 */
int ops_open_device(struct core *c, struct session *s, const char *device, int *ret_fd,
		    struct op_result *res, struct binding **ret);

/* A map: length bytes of memfd (taken) from offset at iova of device's space in the caller's
 * own (args.kind SVMD_KIND_MAP; args.map.{iova,length,offset,flags} set). */
struct map_request {
	const char *device;
	int memfd;
	struct bind_args args;
};

/*
 * Maps req for the owner of session s, into its space (made on first use), and records it as a
 * binding of kind SVMD_KIND_MAP. Errors: -ENODEV, -EOPNOTSUPP (the backend maps no client
 * memory), -EMEDIUMTYPE (not a memfd), -EPERM (a read-only or write-sealed memfd for a device
 * that may write), -EINVAL (flags, beyond the memfd, or what the kernel would refuse:
 * alignment, the IOVA aperture), -EACCES, -EAGAIN,
 * -EDQUOT (max-bytes=, max-device-bytes=, svmd's own limits), -EEXIST (overlaps a mapping), or
 * what the kernel answered. Then ops_commit() or ops_undelivered() as for ops_bind().
 */
int ops_map(struct core *c, struct session *s, struct map_request *req, struct op_result *res,
	    struct binding **ret);

struct unmap_result {
	unsigned n;     /* mappings ended */
	uint64_t bytes; /* their length in all */
};

/* Ends every mapping of session s's space on device within [iova, iova + length), each with
 * its release record. -ENODEV, -EINVAL (one lies only partly within: nothing is unmapped),
 * -ENOENT (none within). */
int ops_unmap(struct core *c, struct session *s, const char *device, uint64_t iova, uint64_t length,
	      struct unmap_result *ret, struct op_result *res);

/* Flushes what the IOMMU cached of the guest table of binding id, the caller's own and nested
 * in its space, after the caller changed it: n entries of type (svmd-proto.h), under policy
 * op invalidate on the binding's device and PASID. *ret_done: the entries the kernel handled.
 * Refusals are recorded (not the flushes themselves). -ENOENT (no binding of the caller's:
 * another's is as invisible), -EINVAL (not a nested table, or what the kernel would refuse),
 * -EOPNOTSUPP (a type the IOMMU has not), -EACCES, -EAGAIN, or what the kernel answered. */
int ops_invalidate(struct core *c, struct session *s, uint64_t id, uint32_t type,
		   const struct svmd_invalidate_entry *e, uint32_t n, uint32_t *ret_done,
		   struct op_result *res);

/* What device can do on this kernel: *ret_kinds (SVMD_KIND_BIT()s) and, in text, one line
 * "KIND: reason" per kind it cannot. -ENODEV. */
int ops_device_info(struct core *c, struct session *s, const char *device, uint32_t *ret_kinds,
		    char *text, size_t size, struct op_result *res);

/* What svmd is and holds, for svmctl status: counts of the caller's own (root: everyone's);
 * text: "svm: ..." then "file: PATH" per policy file in force. Anyone may ask. */
struct status_info {
	uint64_t generation, uptime_usec;
	size_t n_devices, n_sessions, n_bindings, n_rules, n_files;
	const char *backend;
};
int ops_status(struct core *c, struct session *s, struct status_info *ret, char *text, size_t size,
	       struct op_result *res);

/* The rules in force from rule start on, one line each "FILE:LINE RULE" into text, as many as
 * fit: *ret_n of *ret_total. Root, or a caller an 'allow policy' rule grants; else -EACCES
 * with the reason. Not recorded (it changes nothing). */
int ops_policy_list(struct core *c, struct session *s, size_t start, char *text, size_t size,
		    size_t *ret_n, size_t *ret_total, struct op_result *res);
/* svmd's counters and what it holds now (svmctl metrics): root, or an 'allow metrics' rule
 * (else -EACCES). Writes no record. */
int ops_metrics(struct core *c, struct session *s, struct svmd_metrics *ret, struct op_result *res);

/* The client was told of b: the front-ends hear of it (binding_added). */
void ops_commit(struct core *c, struct binding *b);
/* The reply telling the client of b could not be sent: b ends, with a release record. */
void ops_undelivered(struct core *c, struct binding *b);

/* Ends binding id if the caller owns it (root: any). -ENOENT otherwise. */
int ops_unbind(struct core *c, struct session *s, uint64_t id, struct op_result *res);

/* Detaches binding id (the caller's) from its session and returns a lease fd: the binding now
 * lives as long as any copy of it. -ENOENT, -EALREADY (leased before), -EDQUOT (the uid's fd
 * share), -EMFILE. */
int ops_lease(struct core *c, struct session *s, uint64_t id, int *ret_fd, struct op_result *res);

/* Explains how policy decides req for the caller (root: for req->uid) into text. */
int ops_explain(struct core *c, struct session *s, const struct explain_request *req, char *text,
		size_t size, enum policy_verdict *ret_verdict, struct op_result *res);

/*
 * Reads the policy directories again and swaps the new policy in only if every file compiles;
 * then decides every live binding again: those no longer granted are counted (and ended if the
 * denying rule says revoke). s is NULL for SIGHUP; else its owner must be root or allowed
 * `reload`. On success the text lists warnings and the bindings concerned. Errors: -EACCES,
 * -EINVAL (the reason holds the first errors with file:line:col; the old policy stays),
 * -ENOMEM.
 */
int ops_reload(struct core *c, struct session *s, struct reload_result *ret, char *text,
	       size_t size, struct op_result *res);

/* After a restart: decides every binding the previous svmd left (counted under no rule so far)
 * under the policy in force, as a reload does. Returns how many were revoked. */
size_t ops_decide_adopted(struct core *c);
/* Whether who may see (list) b: its owner, or root. */
bool ops_visible(const struct identity *who, const struct binding *b);
/* What who may see, in id order from after_id on: root walks every binding, anyone else only
 * their own (so listing costs what the caller holds, not what everyone holds). */
struct binding *ops_visible_first(struct core *c, const struct identity *who, uint64_t after_id);
struct binding *ops_visible_next(struct core *c, const struct identity *who,
				 const struct binding *b);
