/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reading recipes: what svmd is and holds (status), and the rules in force (policy list).
 * They change nothing, so they write no record; see ops.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "request.h"
#include "util.h"

int ops_status(struct core *c, struct session *s, struct status_info *ret, char *text, size_t size,
	       struct op_result *res)
{
	struct request rq = request_start(c, s, "status", res);
	const struct backend *be = c->backend;
	bool all = rq.who->uid == 0;
	size_t o = 0;

	*ret = (struct status_info){
		.generation = c->generation,
		.uptime_usec = now_usec(CLOCK_MONOTONIC) - c->started_usec,
		.n_devices = be->n_devices,
		.n_sessions = all ? registry_n_sessions(c->registry)
				  : registry_count_user_sessions(c->registry, rq.who->uid),
		.n_bindings = all ? registry_n_bindings(c->registry)
				  : registry_count_user(c->registry, rq.who->uid),
		.n_rules = c->policy->n_rules,
		.n_files = c->policy->n_files,
		.backend = be->ops->name,
	};
	/* Whole lines, as many as fit. */
	text[0] = 0;
	for (size_t i = 0; i <= c->policy->n_files; i++) {
		int k = i == 0 ? snprintf(text + o, size - o, "svm: %s\n",
					  be->svm_unsupported ? be->svm_unsupported : "supported")
			       : snprintf(text + o, size - o, "file: %s\n",
					  c->policy->files[i - 1]);
		if (k < 0 || (size_t)k >= size - o) {
			text[o] = 0;
			break;
		}
		o += (size_t)k;
	}
	return request_finish(&rq, 0);
}

/* Whether who may read the rules in force: root, or an 'allow policy' rule. */
static bool may_read_policy(struct core *c, const struct identity *who)
{
	struct policy_request preq;
	struct policy_decision d;

	if (who->uid == 0)
		return true;
	request_policy_view(POLICY_OP_POLICY, NULL, NULL, false, &preq);
	policy_decide(c->policy, who, &preq, &d);
	return d.verdict == POLICY_ALLOW;
}

int ops_policy_list(struct core *c, struct session *s, size_t start, char *text, size_t size,
		    size_t *ret_n, size_t *ret_total, struct op_result *res)
{
	struct request rq = request_start(c, s, "policy", res);
	const struct policy *p = c->policy;
	size_t o = 0, n = 0;

	if (!may_read_policy(c, rq.who))
		return request_finish(
			&rq, request_refuse(&rq, -EACCES,
					    "reading the policy needs root or an 'allow policy' "
					    "rule for uid %u",
					    (unsigned)rq.who->uid));
	text[0] = 0;
	for (size_t i = start; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];
		int k = snprintf(text + o, size - o, "%s:%u %s\n", r->file, r->line, r->text);
		if (k >= 0 && (size_t)k >= size - o && n == 0 && size > 1) {
			/* A rule longer than a page: cut, so the list goes on. */
			text[size - 2] = '\n';
			o = size - 1;
			n++;
			break;
		}
		if (k < 0 || (size_t)k >= size - o) {
			text[o] = 0;
			break;
		}
		o += (size_t)k;
		n++;
	}
	*ret_n = n;
	*ret_total = p->n_rules;
	return request_finish(&rq, 0);
}

/* Whether who may read the counters: root, or an 'allow metrics' rule. */
static bool may_read_metrics(struct core *c, const struct identity *who)
{
	struct policy_request preq;
	struct policy_decision d;

	if (who->uid == 0)
		return true;
	request_policy_view(POLICY_OP_METRICS, NULL, NULL, false, &preq);
	policy_decide(c->policy, who, &preq, &d);
	return d.verdict == POLICY_ALLOW;
}

int ops_metrics(struct core *c, struct session *s, struct svmd_metrics *ret, struct op_result *res)
{
	struct request rq = request_start(c, s, "metrics", res);
	const struct backend *be = c->backend;

	if (!may_read_metrics(c, rq.who))
		return request_finish(
			&rq, request_refuse(&rq, -EACCES,
					    "reading the metrics needs root or an 'allow metrics' "
					    "rule for uid %u",
					    (unsigned)rq.who->uid));
	/* This request's own latency is not in the block it reads. */
	*ret = c->metrics;
	ret->n_devices = be->n_devices < SVMD_METRICS_DEVICES ? (uint32_t)be->n_devices
							      : SVMD_METRICS_DEVICES;
	for (size_t i = 0; i < ret->n_devices; i++)
		svmd_set_name(ret->device[i].name, sizeof(ret->device[i].name),
			      be->devices[i].name);
	for (const struct binding *b = registry_first_after(c->registry, 0); b;
	     b = registry_next(c->registry, b)) {
		size_t d = (size_t)(b->device - be->devices);
		unsigned u = b->owner->uid == 0 ? SVMD_METRICS_UID_ROOT : SVMD_METRICS_UID_OTHER;
		if (d < ret->n_devices)
			ret->device[d].bindings[u]++;
		else
			ret->other_bindings[u]++;
	}
	return request_finish(&rq, 0);
}
