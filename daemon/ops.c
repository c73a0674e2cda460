/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request recipes; see ops.h (the maps' are in ops-map.c). Each runs around one struct
 * request, which carries who asks, what, on which device and PASID, the deciding rule and the
 * outcome; request_finish() is its one exit and writes its one audit record. Which requests are
 * recorded, and as what (svmd(8) has the same list):
 *
 * - bind-*, open-device, map: grant, deny (policy, rate, quota) or fail (anything else, before
 *   or after policy: a failure before any rule was asked has RULE=none);
 * - unbind: release (the binding's record), or fail;
 * - unmap: a release per mapping it ends, or fail;
 * - lease: grant (OP=lease), or fail;
 * - reload: reload, refused or not (and a release per binding it revokes);
 * - invalidate (ops-map.c): deny or fail only, not the flushes themselves.
 *
 * Reading requests (devices, device-info, list, explain) are not recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "persist.h"
#include "request.h"
#include "policy-load.h"
#include "process.h"
#include "util.h"

int ops_session_new(struct core *c, struct identity *who, unsigned n_fds, struct session **ret)
{
	int r = registry_session_new(c->registry, who, n_fds, ret);

	if (r == 0 && who->pidfd >= 0)
		persist_store_id(c->persist, "pin", (*ret)->id, who->pidfd);
	return r;
}

bool ops_admit(const struct core *c, uid_t uid, unsigned n_fds, char *why, size_t whylen)
{
	const struct user *u = registry_user(c->registry, uid),
			  *root = registry_user(c->registry, 0);
	size_t others = registry_count_sessions(c->registry) - (root ? root->n_sessions : 0);
	const struct fd_budget *b = limits_fds(c->limits);

	/* Root is never turned away by the others' sessions: the administrator must be able to
	 * look (its own share of the fds still bounds it). */
	if (uid != 0 && others >= SESSIONS_MAX)
		return fail(why, whylen, 0, "%zu sessions open", others), false;
	if (u && u->n_sessions >= SESSIONS_PER_USER_MAX)
		return fail(why, whylen, 0, "it has %u sessions", u->n_sessions), false;
	if (limits_fds_allow(c->limits, c->registry, uid, u, n_fds))
		return true;
	if (uid != 0 && u && u->n_fds > 0 &&
	    u->n_fds + n_fds > limits_fds_share(c->limits, c->registry, u))
		fail(why, whylen, 0,
		     "it has %u sessions and holds %u of svmd's file descriptors, as many as it "
		     "would leave to the other users",
		     u->n_sessions, u->n_fds);
	else
		fail(why, whylen, 0, "svmd's file descriptors for %s are all in use (%u)",
		     uid == 0 ? "root" : "users other than root",
		     uid == 0 ? b->pool + b->root : b->pool);
	return false;
}

void ops_session_end(struct core *c, struct session *s)
{
	if (!s)
		return;
	list_for_each_safe (pos, &s->bindings)
		core_end_binding(c, container_of(pos, struct binding, session_link), END_SESSION);
	/* Its leased maps keep the space, if any. */
	core_space_unref(c, TAKE_PTR(s->space));
	if (s->owner->pidfd >= 0)
		persist_store_id(c->persist, "pin", s->id, -1);
	identity_unpin(s->owner);
	registry_session_free(s);
}

bool ops_visible(const struct identity *who, const struct binding *b)
{
	return who->uid == 0 || who->uid == b->owner->uid;
}

struct binding *ops_visible_first(struct core *c, const struct identity *who, uint64_t after_id)
{
	return who->uid == 0 ? registry_first_after(c->registry, after_id)
			     : registry_user_first_after(c->registry, who->uid, after_id);
}

struct binding *ops_visible_next(struct core *c, const struct identity *who,
				 const struct binding *b)
{
	return who->uid == 0 ? registry_next(c->registry, b) : registry_user_next(b);
}

/* Validation. */

/* Which process a task bind targets: *pidfd (the one sent, else a copy of the caller's pin)
 * must be a process the caller could ptrace. Fills a->task.pid and *ret_other. */
static int identify_target(struct request *rq, int *pidfd, struct bind_args *a, bool *ret_other)
{
	const struct identity *who = rq->who;
	char why[200];
	pid_t pid;
	int r;

	if (*pidfd < 0) {
		if (who->pidfd < 0)
			return request_refuse(rq, -ESRCH, "svmd could not pin the calling process");
		/* Its own open file, not a copy of the pin (the fd store keeps a file once); the
		 * caller's, as the pin says it still runs after it was opened. */
		*pidfd = pidfd_open_pid(who->pid);
		if (*pidfd < 0)
			return request_refuse(rq, *pidfd, "cannot pin the calling process: %s",
					      strerror(-*pidfd));
		if (!pidfd_alive(who->pidfd))
			return request_refuse(rq, -ESRCH, "the process to bind has exited");
	}
	pid = pidfd_get_pid(*pidfd);
	if (pid == -EBADF)
		return request_refuse(rq, -EBADF, "the fd sent is not a pidfd (use pidfd_open(2))");
	if (pid < 0 || !pidfd_alive(*pidfd))
		return request_refuse(rq, -ESRCH, "the process to bind has exited");
	*ret_other = pid != who->pid;
	/* The caller itself too: it may have exec'd a set-id program since it connected, and
	 * where the kernel could not pin it at connect time the pid may name another process
	 * by now. Either way it must be a process the caller could ptrace. */
	r = process_may_ptrace(*pidfd, &(struct tracer){who->uid, who->gid, who->pid}, why,
			       sizeof(why));
	if (r == -EPERM)
		return request_refuse(rq, r, "may not bind process %d: %s", pid, why);
	if (r < 0)
		return request_refuse(rq, -ESRCH, "the process to bind has exited");
	a->task.pid = pid;
	return 0;
}

/* The kernel's own argument checks, asked of the backend before policy. */
static int check_args(struct request *rq, const struct bind_args *a)
{
	char why[256] = "";
	int r = rq->core->backend->ops->check(rq->core->backend, rq->dev, a, why, sizeof(why));

	if (r == -EOPNOTSUPP)
		return request_refuse(rq, r, "%s", why);
	if (r < 0)
		return request_refuse(rq, r, "invalid arguments for %s: %s", rq->dev->name, why);
	return 0;
}

/* Binds. */

/* What is in the way that svmd knows of before asking the kernel. */
static int conflicts(struct request *rq, const struct bind_args *a)
{
	uint32_t slot = registry_slot(a);
	const struct binding *b;
	const char *yours;

	if (a->kind == SVMD_KIND_TASK && a->pasid == 0)
		return 0; /* the kernel chooses a free one */
	b = registry_find_pasid(rq->core->registry, rq->dev, slot);
	if (!b)
		return 0;
	yours = b->owner->uid == rq->who->uid ? " (by you)" : "";
	if (a->kind == SVMD_KIND_DEVICE)
		return request_refuse(rq, -EBUSY, "%s is held by another client%s", rq->dev->name,
				      b->owner->uid == rq->who->uid ? " of yours" : "");
	if (slot == 0 && b->args.kind == SVMD_KIND_PGTABLE)
		return request_refuse(rq, -EBUSY,
				      "the RID of %s is already bound to a page table%s",
				      rq->dev->name, yours);
	if (slot == 0)
		return request_refuse(rq, -EBUSY, "a PASID table is already bound on %s%s",
				      rq->dev->name, yours);
	return request_refuse(rq, -EBUSY, "PASID %u on %s is already bound%s", slot, rq->dev->name,
			      yours);
}

/* A guest table nested in the caller's space (backend_ops.nest_bind): the binding holds a
 * reference to the space, as maps do. */
static int act_nested(struct request *rq, struct session *s, struct bind_args *a,
		      struct binding **ret)
{
	struct core *c = rq->core;
	struct backend *be = c->backend;
	struct space *sp = NULL;
	char why[256] = "";
	int r = core_session_space(c, s, &sp, why, sizeof(why));

	if (r < 0)
		return request_refuse(rq, r, "cannot make a DMA space: %s", why);
	a->pgtable.fault_fd = -1;
	r = be->ops->nest_bind(be, sp->bs, rq->dev, a, why, sizeof(why));
	if (r < 0)
		return request_refuse(rq, r, "%s", why[0] ? why : strerror(-r));
	*core_nest_space(a) = core_space_ref(sp);
	rq->pasid = a->pasid;
	r = request_record(rq, s, a, NULL, ret);
	if (r == 0 && (a->pgtable.flags & SVMD_PGTABLE_FAULTS))
		/* svmd's own copy of the fault fd, for as long as the binding lasts. */
		registry_charge_fds(c->registry, s->user, 1);
	if (r < 0) {
		be->ops->nest_unbind(be, sp->bs, rq->dev, a, NULL, 0);
		a->pgtable.fault_fd = safe_close(a->pgtable.fault_fd);
		core_space_unref(c, sp);
	}
	return r;
}

/* The kernel binds, then svmd records it; a failure to record undoes the kernel's part. */
static int act(struct request *rq, struct session *s, struct bind_args *a, int *pidfd,
	       struct binding **ret)
{
	struct backend *be = rq->core->backend;
	struct space *sp = NULL;
	char why[256] = "";
	int r;

	if (core_nests(rq->core, a->kind))
		return act_nested(rq, s, a, ret);
	if (a->kind == SVMD_KIND_PASID_TABLE) {
		a->table.event_fd = -1;
		a->table.space = NULL;
	}
	if (a->kind == SVMD_KIND_PASID_TABLE && be->ops->bind_space) {
		r = core_session_space(rq->core, s, &sp, why, sizeof(why));
		if (r < 0)
			return request_refuse(rq, r, "%s", why);
		r = be->ops->bind_space(be, sp->bs, rq->dev, a, why, sizeof(why));
		if (r == 0)
			a->table.space = core_space_ref(sp);
	} else
		r = be->ops->bind(be, rq->dev, a, why, sizeof(why));
	if (r < 0)
		return request_refuse(rq, r, "kernel refused: %s", why[0] ? why : strerror(-r));
	rq->pasid = a->pasid;
	r = request_record(rq, s, a, pidfd, ret);
	if (r == 0 && a->kind == SVMD_KIND_PASID_TABLE && a->table.space)
		/* svmd's own copy of the vEVENTQ fd, for as long as the binding lasts. */
		registry_charge_fds(rq->core->registry, s->user, 1);
	if (r < 0) {
		if (a->kind == SVMD_KIND_PASID_TABLE && a->table.space) {
			be->ops->unbind_space(be, sp->bs, rq->dev, a);
			core_space_unref(rq->core, TAKE_PTR(a->table.space));
			a->table.event_fd = safe_close(a->table.event_fd);
		} else
			be->ops->unbind(be, rq->dev, a, NULL, 0);
	}
	return r;
}

int ops_bind(struct core *c, struct session *s, struct bind_request *req, struct op_result *res,
	     struct binding **ret)
{
	_cleanup_close_ int pidfd = TAKE_FD(req->target_pidfd);
	struct bind_args *a = &req->args;
	struct request rq = request_start(c, s, core_kind_op_name(a->kind), res);
	struct binding *b = NULL;
	bool other = false;
	int r;

	if (a->kind == SVMD_KIND_TASK)
		a->task.asked = a->pasid;
	rq.pasid = a->pasid;
	r = request_find_device(&rq, req->device);
	if (r == 0)
		r = request_can(&rq, a->kind);
	if (r == 0 && a->kind == SVMD_KIND_TASK)
		r = identify_target(&rq, &pidfd, a, &other);
	if (r == 0)
		r = check_args(&rq, a);
	if (r == 0)
		r = request_authorise(&rq, core_kind_op(a->kind), a, other);
	if (r == 0)
		r = conflicts(&rq, a);
	if (r == 0)
		r = act(&rq, s, a, &pidfd, &b);
	if (r == 0) {
		rq.event = AUDIT_GRANT;
		rq.binding = binding_id(b);
		*ret = b;
	}
	return request_finish(&rq, r);
}

/* Opens rq->dev for the caller: in its space on backends that have them, so the fd DMAs what
 * it maps there; recorded in *ret. A failure to record undoes the open. */
static int open_in_space(struct request *rq, struct session *s, int *ret_fd, struct binding **ret)
{
	struct core *c = rq->core;
	struct backend *be = c->backend;
	struct bind_args args = {.kind = SVMD_KIND_DEVICE};
	_cleanup_close_ int fd = -1;
	struct space *sp = NULL;
	char why[256] = "";
	int r;

	if (be->ops->space_new && (r = core_session_space(c, s, &sp, why, sizeof(why))) < 0)
		return request_refuse(rq, r, "cannot make a DMA space: %s", why);
	r = be->ops->open_device(be, sp ? sp->bs : NULL, rq->dev, &fd, why, sizeof(why));
	if (r < 0)
		return request_refuse(rq, r, "kernel refused: %s", why[0] ? why : strerror(-r));
	args.device.space = core_space_ref(sp);
	r = request_record(rq, s, &args, NULL, ret);
	if (r < 0) {
		if (sp)
			be->ops->close_device(be, sp->bs, rq->dev);
		core_space_unref(c, args.device.space);
		return r;
	}
	if (sp)
		registry_charge_fds(c->registry, (*ret)->user, (int)be->device_fds);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int ops_open_device(struct core *c, struct session *s, const char *device, int *ret_fd,
		    struct op_result *res, struct binding **ret)
{
	struct bind_args args = {.kind = SVMD_KIND_DEVICE};
	struct request rq = request_start(c, s, core_kind_op_name(SVMD_KIND_DEVICE), res);
	struct binding *b = NULL;
	int r;

	r = request_find_device(&rq, device);
	if (r == 0)
		r = request_can(&rq, SVMD_KIND_DEVICE);
	if (r == 0)
		r = request_authorise(&rq, POLICY_OP_OPEN_DEVICE, &args, false);
	if (r == 0)
		r = conflicts(&rq, &args);
	if (r == 0)
		r = open_in_space(&rq, s, ret_fd, &b);
	if (r == 0) {
		rq.event = AUDIT_GRANT;
		rq.binding = binding_id(b);
		*ret = b;
	}
	return request_finish(&rq, r);
}

void ops_commit(struct core *c, struct binding *b)
{
	b->committed = true;
	core_notify(c, binding_added, b);
}

void ops_undelivered(struct core *c, struct binding *b)
{
	core_end_binding(c, b, END_UNDELIVERED);
}

/* Unbind and lease. */

int ops_unbind(struct core *c, struct session *s, uint64_t id, struct op_result *res)
{
	struct request rq = request_start(c, s, "unbind", res);
	struct binding *b = registry_find(c->registry, id);
	_cleanup_(identity_unrefp) struct identity *owner = NULL;
	char kwhy[256] = "", note[64], told[64];
	int r;

	rq.binding = id;
	rq.recorded = b || !registry_session_forget_ended(s, id);
	if (!rq.recorded) /* ended by the restart s came through: as asked */
		return request_finish(&rq, 0);
	/* Someone else's binding is as invisible as a missing one. */
	if (!b || !ops_visible(rq.who, b))
		return request_finish(
			&rq, request_refuse(&rq, -ENOENT, "no binding %" PRIu64 " of yours", id));
	/* Recorded as the binding's release: its owner's, its op, device, PASID and rule. */
	owner = identity_ref(b->owner);
	rq.op = core_kind_op_name(b->args.kind);
	rq.dev = b->device;
	rq.pasid = b->args.pasid;
	rq.rule = b->rule;
	rq.note = end_reason_name(END_UNBIND);
	if (owner->uid != rq.who->uid) {
		snprintf(note, sizeof(note), "unbind by uid %u", (unsigned)rq.who->uid);
		rq.note = note;
	}
	/* What its holder is told: by whom, when not by itself. */
	snprintf(told, sizeof(told), "unbound by uid %u", (unsigned)rq.who->uid);
	struct core_end end = {
		.why = END_UNBIND,
		.by_uid = rq.who->uid,
		.by = s,
		.generation = c->generation,
		.text = told,
	};
	rq.who = owner;
	rq.event = AUDIT_RELEASE;
	/* The kernel's refusal is recorded; to the client, the binding is gone either way. */
	rq.kernel_error = core_drop_binding(c, b, &end, kwhy, sizeof(kwhy));
	c->ending = END_UNBIND + 1;
	r = request_finish(&rq, 0);
	c->ending = 0;
	return r;
}

int ops_lease(struct core *c, struct session *s, uint64_t id, int *ret_fd, struct op_result *res)
{
	struct request rq = request_start(c, s, "lease", res);
	struct binding *b = registry_find(c->registry, id);
	int r;

	rq.binding = id;
	if (!b || b->owner->uid != rq.who->uid)
		return request_finish(
			&rq, request_refuse(&rq, -ENOENT, "no binding %" PRIu64 " of yours", id));
	rq.dev = b->device;
	rq.pasid = b->args.pasid;
	rq.rule = b->rule;
	if (b->leased)
		return request_finish(&rq,
				      request_refuse(&rq, -EALREADY,
						     "binding %" PRIu64 " is leased already", id));
	/* Both ends of the lease: the one svmd keeps, and the one on its way to the client. */
	r = request_take_fds(&rq, b->user, 2);
	if (r < 0)
		return request_finish(&rq, r);
	r = lifetime_lease(c->lifetime, b, ret_fd);
	if (r < 0)
		return request_finish(
			&rq, request_refuse(&rq, r, "cannot create a lease: %s", strerror(-r)));
	registry_lease(c->registry, b);
	rq.event = AUDIT_GRANT;
	return request_finish(&rq, 0);
}

/* Policy: explain and reload. */

struct explain_ctx {
	FILE *f;
};

static void explain_step(const struct policy_rule *rule, const char *why, void *userdata)
{
	struct explain_ctx *x = userdata;

	fprintf(x->f, "  %s:%u: %s\n", rule->file, rule->line, rule->text);
	if (why)
		fprintf(x->f, "    does not match: %s\n", why);
	else
		fprintf(x->f, "    matches: %s\n",
			rule->verdict == POLICY_ALLOW ? "allow" : "deny");
}

/* The arguments explain asks about, as a bind of that op would carry them. */
static struct bind_args explain_args(const struct explain_request *req)
{
	struct bind_args a = {.pasid = req->pasid};

	a.kind = req->op == POLICY_OP_BIND_TASK      ? SVMD_KIND_TASK
		 : req->op == POLICY_OP_BIND_PGTABLE ? SVMD_KIND_PGTABLE
		 : req->op == POLICY_OP_MAP          ? SVMD_KIND_MAP
		 : req->op == POLICY_OP_INVALIDATE   ? SVMD_KIND_PGTABLE
						     : SVMD_KIND_DEVICE;
	if (req->op == POLICY_OP_INVALIDATE) {
		/* Decided on the binding's device and PASID (0: a PASID table, or the RID), as
		 * ops_invalidate() asks; nothing of a page table's fields. */
	} else if (a.kind == SVMD_KIND_TASK) {
		a.task.asked = req->pasid;
	} else if (a.kind == SVMD_KIND_MAP) {
		a.pasid = 0;
		a.map.iova = req->iova;
		a.map.length = req->length;
	} else {
		a.pgtable.addr_width = req->addr_width;
		a.pgtable.vtd_flags = req->vtd_flags;
	}
	return a;
}

/* Writes the explanation of req for subj into f; returns the verdict. */
static enum policy_verdict explain_into(const struct core *c, FILE *f, const struct identity *subj,
					const struct explain_request *req, const struct device *dev)
{
	struct bind_args a = explain_args(req);
	struct explain_ctx x = {.f = f};
	struct policy_request preq;
	struct policy_decision d;
	char what[64] = "";

	request_policy_view(req->op, dev, &a, false, &preq);
	if (req->op == POLICY_OP_BIND_TASK || req->op == POLICY_OP_BIND_PGTABLE) {
		if (req->pasid)
			snprintf(what, sizeof(what), " (PASID %u)", req->pasid);
		else
			snprintf(what, sizeof(what), " (PASID auto)");
	} else if (req->op == POLICY_OP_INVALIDATE) {
		snprintf(what, sizeof(what), " (PASID %u)", req->pasid);
	} else if (req->op == POLICY_OP_MAP && req->length) {
		snprintf(what, sizeof(what), " (IOVA 0x%" PRIx64 "-0x%" PRIx64 ")", req->iova,
			 req->iova + req->length - 1);
	} else if (req->op == POLICY_OP_MAP) {
		snprintf(what, sizeof(what), " (IOVA 0x%" PRIx64 ")", req->iova);
	}
	fprintf(f, "%s%s%s%s for uid %u, policy generation %" PRIu64 ":\n", policy_op_name(req->op),
		dev ? " on " : "", dev ? dev->name : "", what, (unsigned)subj->uid, c->generation);
	policy_explain(c->policy, subj, &preq, &d, explain_step, &x);
	if (d.rule)
		fprintf(f, "verdict: %s by %s:%u\n", d.verdict == POLICY_ALLOW ? "allow" : "deny",
			d.rule->file, d.rule->line);
	else if (req->op == POLICY_OP_RELOAD && subj->uid == 0)
		fprintf(f, "verdict: allow (root may always reload)\n");
	else
		fprintf(f, "verdict: deny (no rule matched: default deny)\n");
	return d.rule || subj->uid != 0 || req->op != POLICY_OP_RELOAD ? d.verdict : POLICY_ALLOW;
}

int ops_explain(struct core *c, struct session *s, const struct explain_request *req, char *text,
		size_t size, enum policy_verdict *ret_verdict, struct op_result *res)
{
	struct request rq = request_start(c, s, "explain", res);
	_cleanup_(identity_unrefp) struct identity *other = NULL;
	const struct identity *subj = rq.who;
	FILE *f;

	int r = req->device ? request_find_device(&rq, req->device) : 0;

	if (r < 0)
		return request_finish(&rq, r);
	if (req->has_uid && req->uid != rq.who->uid) {
		if (rq.who->uid != 0)
			return request_finish(
				&rq, request_refuse(&rq, -EPERM,
						    "only root may explain for another user"));
		if (identity_for_uid(req->uid, &other) < 0)
			return request_finish(&rq, request_refuse(&rq, -ENOMEM, "out of memory"));
		subj = other;
	}
	f = fmemopen(text, size, "w");
	if (!f)
		return request_finish(&rq, request_refuse(&rq, -ENOMEM, "out of memory"));
	*ret_verdict = explain_into(c, f, subj, req, rq.dev);
	fclose(f);
	/* fmemopen NUL-terminates within size; say so when the text did not fit. */
	if (strlen(text) >= size - 1 && size > 16)
		memcpy(text + size - 16, "\n(truncated)\n", 14);
	return request_finish(&rq, 0);
}

/* Appends a line to the reload report, if there is room. */
static _printf_(3, 4) void report(char *text, size_t size, const char *fmt, ...)
{
	size_t n = strlen(text);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(text + n, size - n, fmt, ap);
	va_end(ap);
}

/* Decides b again under the current policy; ends it when the denying rule says revoke.
 * Returns whether it is still granted. */
static bool redecide_one(struct core *c, struct binding *b, struct reload_result *out, char *text,
			 size_t size)
{
	bool other = b->args.kind == SVMD_KIND_TASK && b->args.task.pid != b->owner->pid;
	struct policy_request preq;
	struct policy_decision d;

	request_policy_view(core_kind_op(b->args.kind), b->device, &b->args, other, &preq);
	policy_decide(c->policy, b->owner, &preq, &d);
	if (d.verdict == POLICY_ALLOW) {
		registry_set_rule(c->registry, b, d.rule);
		return true;
	}
	bool revoke = d.rule && d.rule->revoke;
	out->n_denied++;
	report(text, size, "binding %" PRIu64 " (%s %s PASID %u, uid %u) %s: ", binding_id(b),
	       core_kind_op_name(b->args.kind), b->device->name, b->args.pasid,
	       (unsigned)b->owner->uid, revoke ? "revoked" : "no longer granted");
	if (d.rule)
		report(text, size, "rule '%s' (%s:%u)\n", d.rule->text, d.rule->file, d.rule->line);
	else
		report(text, size, "no rule matched\n");
	if (revoke) {
		out->n_revoked++;
		core_end_binding(c, b, END_REVOKED);
	} else {
		/* Kept (a reload does not take back what was granted unless told to), but no
		 * longer counted under any rule. */
		registry_set_rule(c->registry, b, NULL);
	}
	return false;
}

static void redecide_all(struct core *c, struct reload_result *out, char *text, size_t size)
{
	for (struct binding *b = registry_first_after(c->registry, 0), *next; b; b = next) {
		next = registry_next(c->registry, b);
		redecide_one(c, b, out, text, size);
	}
}

size_t ops_decide_adopted(struct core *c)
{
	struct reload_result out = {0};
	char text[1] = "";

	redecide_all(c, &out, text, sizeof(text));
	return out.n_revoked;
}

/* The errors of a policy that does not compile, after the reason's first line: every
 * diagnostic but warnings (a file that cannot be read has no "error:" of its own). */
static int refuse_policy(struct request *rq, const struct policy *p)
{
	request_refuse(rq, -EINVAL,
		       "%zu error%s; the policy in force (generation %" PRIu64 ") stays:",
		       p->n_errors, p->n_errors == 1 ? "" : "s", rq->core->generation);
	for (size_t i = 0; i < p->n_diags; i++)
		if (!strstr(p->diags[i], ": warning: ")) {
			size_t n = strlen(rq->res->reason);
			snprintf(rq->res->reason + n, sizeof(rq->res->reason) - n, "\n%s",
				 p->diags[i]);
		}
	return -EINVAL;
}

/* Puts p in force: the rules' buckets carry over, every binding is decided again. */
static void swap_policy(struct core *c, struct policy *p, struct reload_result *out, char *text,
			size_t size)
{
	struct policy *old = c->policy;

	c->policy = p;
	c->generation++;
	limits_rates_carry(c->limits, p);
	for (size_t i = 0; i < p->n_diags; i++)
		report(text, size, "%s\n", p->diags[i]);
	/* As at start-up: a tree whose files all went (a directory removed, a mount gone) is a
	 * policy that denies everything, which its reloader should hear. */
	if (p->n_rules == 0)
		report(text, size,
		       "warning: the policy has no rules (%zu files): every request will be "
		       "denied\n",
		       p->n_files);
	redecide_all(c, out, text, size);
	/* Nothing refers to the old rules any more. */
	policy_free(old);
	out->generation = c->generation;
	out->n_rules = p->n_rules;
	out->n_files = p->n_files;
	out->n_warnings = p->n_warnings;
}

int ops_reload(struct core *c, struct session *s, struct reload_result *ret, char *text,
	       size_t size, struct op_result *res)
{
	struct request rq = request_start(c, s, "reload", res);
	struct reload_result out = {0};
	struct policy *p = NULL;
	char summary[200];
	int r;

	rq.event = AUDIT_RELOAD;
	if (size)
		text[0] = 0;
	if (rq.who && rq.who->uid != 0 &&
	    (r = request_authorise(&rq, POLICY_OP_RELOAD, NULL, false)) < 0)
		return request_finish(&rq, r);
	rq.event = AUDIT_RELOAD;
	/* Compile the whole new tree beside the live one. */
	r = policy_load((const char *const *)c->policy_dirs, c->n_policy_dirs, &p);
	if (r < 0)
		return request_finish(
			&rq, request_refuse(&rq, r, "cannot load the policy: %s", strerror(-r)));
	if (p->n_errors) {
		r = refuse_policy(&rq, p);
		policy_free(p);
		return request_finish(&rq, r);
	}
	swap_policy(c, p, &out, text, size);
	snprintf(summary, sizeof(summary),
		 "generation %" PRIu64 ": %zu rules from %zu files; %zu bindings no longer "
		 "granted, %zu revoked",
		 out.generation, out.n_rules, out.n_files, out.n_denied, out.n_revoked);
	rq.note = summary;
	rq.rule = NULL;
	r = request_finish(&rq, 0);
	core_notify(c, policy_reloaded, c->generation);
	*ret = out;
	return r;
}
