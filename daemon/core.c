/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request core's objects; see core.h. Lifetimes (ARCHITECTURE.md section 2): a binding
 * ends at the first of unbind, end of its owner's session unless leased, last lease fd closed,
 * bound process exited; ending always issues the kernel unbind and is recorded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"

static void on_watch_ended(void *userdata, struct binding *b, enum end_reason why)
{
	log_debug("Binding %" PRIu64 " ended: %s.", binding_id(b), end_reason_name(why));
	core_end_binding(userdata, b, why);
}

static int copy_dirs(struct core *c, const char *const *dirs, size_t n)
{
	if (n == 0)
		return 0;
	c->policy_dirs = calloc(n, sizeof(char *));
	if (!c->policy_dirs)
		return -ENOMEM;
	for (; c->n_policy_dirs < n; c->n_policy_dirs++)
		if (!(c->policy_dirs[c->n_policy_dirs] = strdup(dirs[c->n_policy_dirs])))
			return -ENOMEM;
	return 0;
}

int core_new(struct event_base *base, struct backend *backend, struct policy *policy,
	     const char *const *policy_dirs, size_t n_policy_dirs, struct core **ret)
{
	_cleanup_(core_freep) struct core *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->base = base;
	c->generation = 1;
	r = copy_dirs(c, policy_dirs, n_policy_dirs);
	if (r == 0)
		r = registry_new(&c->registry);
	if (r == 0)
		r = lifetime_new(base, c->registry, on_watch_ended, c, &c->lifetime);
	if (r == 0)
		r = limits_new(NULL, NULL, &c->limits);
	if (r < 0)
		return r;
	/* Owned from here on: nothing below can fail. */
	c->backend = backend;
	c->policy = policy;
	*ret = TAKE_PTR(c);
	return 0;
}

void core_release_all(struct core *c)
{
	struct binding *b;

	while ((b = registry_first_after(c->registry, 0)))
		core_end_binding(c, b, END_SHUTDOWN);
}

struct core *core_free(struct core *c)
{
	if (!c)
		return NULL;
	if (c->registry)
		core_release_all(c);
	lifetime_free(c->lifetime);
	registry_free(c->registry);
	limits_free(c->limits);
	policy_free(c->policy);
	backend_free(c->backend);
	for (size_t i = 0; i < c->n_policy_dirs; i++)
		free(c->policy_dirs[i]);
	free(c->policy_dirs);
	free(c);
	return NULL;
}

void core_set_hooks(struct core *c, const struct core_hooks *hooks, void *userdata)
{
	c->hooks = hooks;
	c->hooks_userdata = userdata;
}

void core_audit(const struct core *c, enum audit_event event, const struct identity *who,
		const char *op, const struct device *dev, uint32_t pasid,
		const struct policy_rule *rule, uint64_t binding, int error, const char *reason)
{
	audit_log(&(struct audit_record){
		.event = event,
		.who = who,
		.generation = c->generation,
		.op = op,
		.device = dev ? dev->name : NULL,
		.pasid = pasid,
		.binding = binding,
		.rule_file = rule ? rule->file : NULL,
		.rule_line = rule ? rule->line : 0,
		.error = error < 0 ? -error : error,
		.reason = reason && reason[0] ? reason : NULL,
	});
}

static const struct {
	enum policy_op op;
	const char *name;
} kind_ops[] = {
	[SVMD_KIND_TASK] = {POLICY_OP_BIND_TASK, "bind-task"},
	[SVMD_KIND_PGTABLE] = {POLICY_OP_BIND_PGTABLE, "bind-pgtable"},
	[SVMD_KIND_PASID_TABLE] = {POLICY_OP_BIND_PASID_TABLE, "bind-pasid-table"},
	[SVMD_KIND_DEVICE] = {POLICY_OP_OPEN_DEVICE, "open-device"},
};

enum policy_op core_kind_op(uint32_t kind)
{
	return kind < ELEMENTSOF(kind_ops) ? kind_ops[kind].op : POLICY_OP_OPEN_DEVICE;
}

const char *core_kind_op_name(uint32_t kind)
{
	return kind < ELEMENTSOF(kind_ops) ? kind_ops[kind].name : "open-device";
}

int core_drop_binding(struct core *c, struct binding *b, char *why, size_t whylen)
{
	int r = 0;

	lifetime_forget(c->lifetime, b);
	if (b->args.kind != SVMD_KIND_DEVICE)
		r = c->backend->ops->unbind(c->backend, b->device, &b->args, why, whylen);
	if (r < 0)
		/* Nothing more we can do than say so: the binding goes either way. */
		log_error_errno(r, "Kernel refused to unbind binding %" PRIu64 " (%s PASID %u): %s",
				binding_id(b), b->device->name, b->args.pasid,
				why && why[0] ? why : "%m");
	if (b->committed && c->hooks && c->hooks->binding_removed)
		c->hooks->binding_removed(c->hooks_userdata, b);
	registry_remove(c->registry, b);
	return r;
}

void core_end_binding(struct core *c, struct binding *b, enum end_reason why)
{
	/* The owner outlives the binding until its record is written. */
	_cleanup_(identity_unrefp) struct identity *owner = identity_ref(b->owner);
	const struct policy_rule *rule = b->rule;
	const struct device *dev = b->device;
	uint32_t kind = b->args.kind, pasid = b->args.pasid;
	uint64_t id = binding_id(b);
	char kwhy[256] = "";
	int r;

	r = core_drop_binding(c, b, kwhy, sizeof(kwhy));
	core_audit(c, AUDIT_RELEASE, owner, core_kind_op_name(kind), dev, pasid, rule, id, r,
		   end_reason_name(why));
}
