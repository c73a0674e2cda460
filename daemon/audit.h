/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit trail: one structured record per grant, denial, failure, release and policy
 * reload, to the journal (with a fixed MESSAGE_ID per event kind, documented in
 * systemd/svmd.catalog) or, without a journal, to stderr as one "svmd-audit:" line of the same
 * KEY=VALUE fields.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "identity.h"

enum audit_event {
	AUDIT_GRANT,   /* policy allowed and the kernel bound */
	AUDIT_DENY,    /* policy or a quota refused */
	AUDIT_FAIL,    /* allowed, but the request failed (kernel, conflict, bad target) */
	AUDIT_RELEASE, /* a binding ended */
	AUDIT_RELOAD,  /* a new policy was tried: swapped in, or refused */
	_AUDIT_EVENT_MAX,
};

enum audit_sink {
	AUDIT_SINK_AUTO, /* the journal when its socket exists, else stderr */
	AUDIT_SINK_JOURNAL,
	AUDIT_SINK_STDERR,
};

struct audit_record {
	enum audit_event event;
	/* The caller (for a release: the binding's owner): uid, gid, pid, its executable and unit
	 * when known. NULL: svmd itself (a SIGHUP reload), recorded as uid, gid and pid 0. */
	const struct identity *who;
	const char *op;     /* "bind-task", ... */
	const char *device; /* may be NULL */
	uint32_t pasid;
	uint64_t binding;      /* 0: none */
	const char *rule_file; /* NULL: no rule */
	unsigned rule_line;
	int error;           /* 0 or a positive errno */
	uint64_t generation; /* the policy's */
	const char *reason;  /* may be NULL */
};

void audit_set_sink(enum audit_sink sink);
/* Decides where records go now (auto: the journal if its socket is there; journal asked for but
 * not there: stderr). *ret_why says why records go to stderr when that was not asked for, or
 * NULL. */
enum audit_sink audit_sink_resolve(const char **ret_why);
void audit_log(const struct audit_record *r);

/*
 * Group commit for the stderr sink: from audit_hold() until audit_flush(), records are kept and
 * then written together, whole lines at most PIPE_BUF bytes per write(2) (so that on a pipe no
 * other writer's output lands inside a line). Whoever holds records must not let anyone learn
 * of the decisions they record (reply) before audit_flush() has written them. Records are
 * written early when the buffer fills. The journal sink sends every record at once.
 */
void audit_hold(void);
void audit_flush(void);
/* "grant", "deny", "fail", "release", "reload" */
const char *audit_event_name(enum audit_event e);
