/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One request; see request.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "process.h"
#include "request.h"
#include "util.h"

struct request request_start(struct core *c, struct session *s, const char *op,
			     struct op_result *res)
{
	res->status = 0;
	res->reason[0] = 0;
	return (struct request){
		.core = c,
		.session = s,
		.who = s ? s->owner : NULL,
		.op = op,
		.event = AUDIT_FAIL,
		.res = res,
		.start_usec = now_usec(CLOCK_MONOTONIC),
		/* Reading ops change nothing: no record. */
		.recorded = strcmp(op, "explain") != 0 && strcmp(op, "device-info") != 0 &&
			    strcmp(op, "status") != 0 && strcmp(op, "policy") != 0 &&
			    strcmp(op, "metrics") != 0,
	};
}

/* The request fails with r and this reason for the client. Returns r. */
int request_refuse(struct request *rq, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rq->res->reason, sizeof(rq->res->reason), fmt, ap);
	va_end(ap);
	return r;
}

/* The one exit: the outcome goes to the client's result and into the record. */
int request_finish(struct request *rq, int r)
{
	rq->res->status = r < 0 ? r : 0;
	/* A failure is a failure, but for a denial, and for a reload, which is recorded as a
	 * reload whatever came of it. */
	if (r < 0 && rq->event != AUDIT_DENY && rq->event != AUDIT_RELOAD)
		rq->event = AUDIT_FAIL;
	svmd_metrics_observe(&rq->core->metrics, now_usec(CLOCK_MONOTONIC) - rq->start_usec);
	if (!rq->recorded)
		return r < 0 ? r : 0;
	core_audit(rq->core, rq->event, rq->who, rq->op, rq->dev, rq->pasid, rq->rule, rq->binding,
		   r < 0 ? r : rq->kernel_error, r < 0 ? rq->res->reason : rq->note);
	return r < 0 ? r : 0;
}

int request_find_device(struct request *rq, const char *name)
{
	char canon[SVMD_DEVICE_NAME_SZ];

	if (device_name_canonical(name, canon) < 0)
		return request_refuse(rq, -EINVAL, SVMD_NOT_A_PCI_ADDRESS, name);
	rq->dev = backend_find_device(rq->core->backend, name);
	if (!rq->dev)
		return request_refuse(rq, -ENODEV,
				      "no device %s is managed by svmd (see 'svmctl devices')",
				      name);
	return 0;
}

/* The policy's view of a request on dev (NULL for reload) with arguments a (may be NULL). */
void request_policy_view(enum policy_op op, const struct device *dev, const struct bind_args *a,
			 bool other, struct policy_request *r)
{
	*r = (struct policy_request){.op = op, .other_target = other};
	if (dev) {
		r->device = dev->name;
		r->iommu_group = dev->iommu_group;
		r->vendor = dev->vendor;
		r->device_id = dev->device_id;
		r->model = dev->model;
	}
	/* A task bind is decided (and decided again) on what it asked for, not on what the
	 * kernel chose: pasid=auto grants the latter too. */
	if (a && a->kind == SVMD_KIND_TASK)
		r->pasid = a->task.asked;
	else if (a && a->kind == SVMD_KIND_PGTABLE)
		r->pasid = a->pasid;
	if (a && a->kind == SVMD_KIND_PGTABLE) {
		r->addr_width = a->pgtable.addr_width;
		r->vtd_flags = a->pgtable.vtd_flags;
	}
	if (a && a->kind == SVMD_KIND_MAP) {
		r->iova = a->map.iova;
		r->length = a->map.length;
	}
}

static bool rule_has(const struct policy_rule *rule, enum policy_key k)
{
	return rule && (rule->keys & (1u << k));
}

static int denied(struct request *rq, int r)
{
	rq->event = AUDIT_DENY;
	return r;
}

int request_take_fds(struct request *rq, const struct user *u, unsigned n)
{
	const struct fd_budget *b = limits_fds(rq->core->limits);
	uid_t uid = rq->who->uid;

	if (limits_fds_allow(rq->core->limits, rq->core->registry, uid, u, n))
		return 0;
	if (uid == 0)
		return request_refuse(rq, -EDQUOT,
				      "svmd has no file descriptor left for root (%u of %u in use)",
				      registry_count_fds(rq->core->registry), b->pool + b->root);
	if (u && u->n_fds > 0)
		return request_refuse(
			rq, -EDQUOT,
			"uid %u holds %u of svmd's file descriptors (connections, bound processes, "
			"leases), as many as it would leave to the other users",
			(unsigned)uid, u->n_fds);
	return request_refuse(rq, -EDQUOT,
			      "svmd's file descriptors for users other than root are all in use "
			      "(%u); try again later",
			      b->pool);
}

/* svmd's fds a request of op makes it hold: a bound process's pidfd; a device fd until it is
 * sent, and on backends with spaces the copy svmd keeps; a new space's. */
static unsigned fds_needed(const struct request *rq, enum policy_op op)
{
	const struct backend *be = rq->core->backend;
	bool new_space = be->ops->space_new && rq->session && !rq->session->space;
	unsigned n = 0;

	if (op == POLICY_OP_BIND_TASK)
		return 1;
	if (op == POLICY_OP_OPEN_DEVICE)
		n = 1 + (be->ops->space_new ? be->device_fds : 0);
	if ((op == POLICY_OP_OPEN_DEVICE || op == POLICY_OP_MAP) && new_space)
		n += be->space_fds;
	return n;
}

/* A map's bytes: under the rule per uid (max-bytes=) and per device (max-device-bytes=), then
 * svmd's own per uid. */
static int within_bytes(struct request *rq, const struct user *u, uint64_t n)
{
	const struct policy_rule *rule = rq->rule;
	struct core *c = rq->core;
	char why[OPS_REASON_MAX], a[32], b[32];
	uint64_t held;
	int r;

	if (rule_has(rule, POLICY_KEY_MAX_BYTES) &&
	    ((held = user_bytes_rule(u, rule)) > rule->max_bytes || n > rule->max_bytes - held))
		return request_refuse(rq, -EDQUOT,
				      "uid %u has %s mapped under rule '%s' (%s:%u); %s more is "
				      "over its max-bytes=",
				      (unsigned)rq->who->uid, format_size(held, a), rule->text,
				      rule->file, rule->line, format_size(n, b));
	if (rule_has(rule, POLICY_KEY_MAX_DEVICE_BYTES) &&
	    ((held = registry_device_rule_bytes(c->registry, rq->dev, rule)) >
		     rule->max_device_bytes ||
	     n > rule->max_device_bytes - held))
		return request_refuse(rq, -EDQUOT,
				      "%s has %s mapped under rule '%s' (%s:%u); %s more is over "
				      "its max-device-bytes=",
				      rq->dev->name, format_size(held, a), rule->text, rule->file,
				      rule->line, format_size(n, b));
	r = limits_map_bytes_allow(c->limits, c->registry, rq->who->uid, u, n, why, sizeof(why));
	if (r < 0)
		return request_refuse(rq, r, "%s", why);
	return 0;
}

/* The limits of the deciding rule, then svmd's own: rate= per uid, max= per uid, max-device= per
 * device, a map's bytes, the per-user ceiling and the fd budget. One account lookup. */
static int within_limits(struct request *rq, enum policy_op op)
{
	struct core *c = rq->core;
	const struct policy_rule *rule = rq->rule;
	const struct user *u = registry_user(c->registry, rq->who->uid);
	unsigned wait_ms = 0, uid = (unsigned)rq->who->uid;
	int r;

	if (rule_has(rule, POLICY_KEY_RATE) &&
	    (r = limits_rate_take(c->limits, rq->who->uid, rule, &wait_ms)) < 0)
		return r == -ENOMEM
			       ? request_refuse(rq, r, "out of memory")
			       : request_refuse(
					 rq, -EAGAIN,
					 "rate limit of %u/s for uid %u under rule '%s' (%s:%u); "
					 "try again in %u ms",
					 rule->rate, uid, rule->text, rule->file, rule->line,
					 wait_ms);
	if (rule_has(rule, POLICY_KEY_MAX_UID) && user_count_rule(u, rule) >= rule->max)
		return request_refuse(rq, -EDQUOT,
				      "uid %u already holds %u binding%s under rule '%s' (%s:%u)",
				      uid, rule->max, rule->max == 1 ? "" : "s", rule->text,
				      rule->file, rule->line);
	if (rule_has(rule, POLICY_KEY_MAX_DEVICE) && rq->dev &&
	    registry_count_device_rule(c->registry, rq->dev, rule) >= rule->max_device)
		return request_refuse(
			rq, -EDQUOT, "%s already has %u binding%s under rule '%s' (%s:%u)",
			rq->dev->name, rule->max_device, rule->max_device == 1 ? "" : "s",
			rule->text, rule->file, rule->line);
	if (op != POLICY_OP_RELOAD && op != POLICY_OP_INVALIDATE && u &&
	    u->n_bindings >= OPS_USER_BINDINGS_MAX)
		return request_refuse(rq, -EDQUOT,
				      "uid %u holds the most bindings svmd allows one user (%u)",
				      uid, OPS_USER_BINDINGS_MAX);
	if (op == POLICY_OP_MAP && (r = within_bytes(rq, u, rq->map->map.length)) < 0)
		return r;
	return fds_needed(rq, op) ? request_take_fds(rq, u, fds_needed(rq, op)) : 0;
}

/* Policy, then the limits. Returns 0 with the deciding rule in rq->rule, or -EACCES (denied),
 * -EAGAIN (rate), -EDQUOT (quota), -ENOMEM: recorded as denials. */
int request_authorise(struct request *rq, enum policy_op op, const struct bind_args *a, bool other)
{
	struct policy_request preq;
	struct policy_decision d;
	int r;

	request_policy_view(op, rq->dev, a, other, &preq);
	policy_decide(rq->core->policy, rq->who, &preq, &d);
	rq->rule = d.rule;
	if (d.verdict != POLICY_ALLOW && d.rule)
		return denied(rq, request_refuse(rq, -EACCES, "rule '%s' (%s:%u)", d.rule->text,
						 d.rule->file, d.rule->line));
	if (d.verdict != POLICY_ALLOW)
		return denied(rq, request_refuse(rq, -EACCES, "no rule matched (default deny)"));
	r = within_limits(rq, op);
	return r < 0 ? denied(rq, r) : 0;
}

int request_can(struct request *rq, uint32_t kind)
{
	char buf[200];
	const char *why = core_why_not(rq->core, rq->dev, kind, buf, sizeof(buf));

	if (!why)
		return 0;
	/* The kernel's own reason is the same for every device. */
	if (why == rq->core->backend->svm_unsupported)
		return request_refuse(rq, -EOPNOTSUPP, "%s", why);
	return request_refuse(rq, -EOPNOTSUPP, "%s: %s", rq->dev->name, why);
}

int request_record(struct request *rq, struct session *s, const struct bind_args *a, int *pidfd,
		   struct binding **ret)
{
	struct core *c = rq->core;
	uint32_t slot = registry_slot(a);
	struct binding *b;
	char why[200];
	int r;

	/* Only for a target still alive after the bind (pid reuse), still the caller's to bind
	 * (no set-id exec in between), and only when the registry agrees the PASID is free. */
	if (a->kind == SVMD_KIND_TASK &&
	    (r = process_may_ptrace(*pidfd,
				    &(struct tracer){rq->who->uid, rq->who->gid, rq->who->pid}, why,
				    sizeof(why))) < 0)
		return r == -EPERM ? request_refuse(rq, r, "may not bind process %d: %s",
						    a->task.pid, why)
				   : request_refuse(rq, -ESRCH,
						    "the process to bind exited during the bind");
	if (slot != 0 && slot < REGISTRY_DEVICE_SLOT &&
	    registry_find_pasid(c->registry, rq->dev, a->pasid))
		return request_refuse(rq, -EBUSY, "PASID %u on %s is already bound", a->pasid,
				      rq->dev->name);
	core_reserve_id(c);
	b = registry_add(c->registry, s, rq->rule, rq->dev, a);
	if (!b)
		return request_refuse(rq, -ENOMEM, "out of memory");
	if (a->kind == SVMD_KIND_TASK) {
		r = lifetime_watch_process(c->lifetime, b, *pidfd);
		if (r < 0) {
			registry_remove(c->registry, b);
			return request_refuse(rq, r, "cannot watch the bound process: %s",
					      strerror(-r));
		}
		*pidfd = -1; /* the watch's now */
	}
	*ret = b;
	return 0;
}
