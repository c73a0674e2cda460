/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request to the core, as every recipe in ops.c runs it: its context (who asks, what, on
 * which device and PASID, the deciding rule, the outcome), its one exit, which writes its one
 * audit record, and the steps every recipe shares (the device, authorisation).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cleanup.h"
#include "core.h"
#include "ops.h"

struct request {
	struct core *core;
	struct session *session;    /* NULL: svmd itself (SIGHUP) */
	const struct identity *who; /* NULL: svmd itself (SIGHUP) */
	const char *op;             /* as recorded */
	const struct device *dev;
	uint32_t pasid;
	const struct bind_args *map; /* a map's arguments, for the record */
	const struct policy_rule *rule;
	uint64_t binding;
	enum audit_event event; /* what this request is recorded as, once decided */
	struct op_result *res;
	bool recorded;       /* reading requests (explain) are not */
	const char *note;    /* a success's reason, for the record (a reload's summary) */
	int kernel_error;    /* recorded with a success: the kernel refused to unbind */
	uint64_t start_usec; /* CLOCK_MONOTONIC, for the latency histogram */
};

/* A request of op ("bind-task", "unbind", ...) by the owner of s (NULL: svmd itself), whose
 * outcome goes to res. Reading requests ("explain") are not recorded. */
struct request request_start(struct core *c, struct session *s, const char *op,
			     struct op_result *res);
/* The request fails with r and this reason for the client. Returns r. */
int request_refuse(struct request *rq, int r, const char *fmt, ...) _printf_(3, 4);
/* The one exit: the outcome (0 or r < 0) goes to the client's result and into the request's
 * record. Returns it. */
int request_finish(struct request *rq, int r);

/* The device called name into rq->dev, or -ENODEV. */
int request_find_device(struct request *rq, const char *name);
/* What the kernel or rq->dev cannot do at all, before anything else is looked at: 0, or
 * -EOPNOTSUPP with the backend's reason for that kind on that device. */
int request_can(struct request *rq, uint32_t kind);
/* Records what the kernel made (a binding of a's kind) for session s, watched when it is a task
 * bind (*pidfd is taken then). Nothing is recorded on failure. */
int request_record(struct request *rq, struct session *s, const struct bind_args *a, int *pidfd,
		   struct binding **ret);

/* The policy's view of a request on dev (NULL for reload) with arguments a (may be NULL). */
void request_policy_view(enum policy_op op, const struct device *dev, const struct bind_args *a,
			 bool other, struct policy_request *r);

/* Policy, then the deciding rule's limits and svmd's own (rate=, max=, max-device=,
 * max-bytes=, max-device-bytes=, the per-user ceilings, the fds the request makes svmd hold).
 * Returns 0 with the rule in rq->rule, or -EACCES (denied), -EAGAIN (rate), -EDQUOT (quota),
 * -ENOMEM: all recorded as denials. */
int request_authorise(struct request *rq, enum policy_op op, const struct bind_args *a, bool other);
/* Whether the caller (u: its account, may be NULL) may take n more of svmd's fds: 0, or -EDQUOT
 * saying whose share is full (user-limits.h). */
int request_take_fds(struct request *rq, const struct user *u, unsigned n);
