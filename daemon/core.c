/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request core's objects; see core.h. Lifetimes (ARCHITECTURE.md section 2): a binding
 * ends at the first of unbind, end of its owner's session unless leased, last lease fd closed,
 * bound process exited; ending always issues the kernel unbind and is recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "persist.h"
#include "svmd-proto.h"
#include "util.h"

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
	c->started_usec = now_usec(CLOCK_MONOTONIC);
	c->state_fd = -1;
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
	safe_close(c->state_fd);
	persist_free(c->persist);
	limits_free(c->limits);
	policy_free(c->policy);
	backend_free(c->backend);
	for (size_t i = 0; i < c->n_policy_dirs; i++)
		free(c->policy_dirs[i]);
	free(c->policy_dirs);
	free(c);
	return NULL;
}

void core_set_hooks(struct core *c, enum core_frontend which, const struct core_hooks *hooks,
		    void *userdata)
{
	c->hooks[which].hooks = hooks;
	c->hooks[which].userdata = userdata;
}

void core_audit(struct core *c, enum audit_event event, const struct identity *who, const char *op,
		const struct device *dev, uint32_t pasid, const struct policy_rule *rule,
		uint64_t binding, int error, const char *reason)
{
	struct audit_record r = {
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
	};

	/* The counters: a few increments, no allocation. */
	unsigned op_i = svmd_metrics_op_index(op);
	if (event == AUDIT_RELEASE)
		c->metrics.releases[op_i][c->ending > 0 ? c->ending - 1 : END_UNBIND]++;
	else if (event == AUDIT_RELOAD)
		(error ? &c->metrics.reloads_refused : &c->metrics.reloads_ok)[0]++;
	else
		c->metrics.requests[event == AUDIT_GRANT ? SVMD_METRICS_GRANT
				    : event == AUDIT_DENY
					    ? SVMD_METRICS_DENY
					    : SVMD_METRICS_FAIL][op_i][svmd_metrics_class(error)]++;
	audit_log(&r);
	core_notify(c, record, &r, event == AUDIT_RELEASE && c->ending ? c->ending - 1 : -1);
}

_Static_assert(_END_REASON_MAX == SVMD_METRICS_ENDS && END_UNMAP == 7 && END_REVOKED == 5,
	       "the metrics block names why bindings end in this order");

/* The state file of the ids: the first id not reserved yet, in decimal. */
#define IDS_FILE "next-id"

static int write_ids(int dir, uint64_t next)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", next), r = 0;
	_cleanup_close_ int fd = openat(
		dir, IDS_FILE ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n || fdatasync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (r == 0 && renameat(dir, IDS_FILE ".new", dir, IDS_FILE) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dir, IDS_FILE ".new", 0);
	return r;
}

/* The first id the last svmd of this boot had not reserved; 0 when there is none (or it is
 * not a number: started afresh, ids go on from 1 as after a reboot). */
static uint64_t read_ids(int dir)
{
	char text[32] = "";
	_cleanup_close_ int fd = openat(dir, IDS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	char *end;

	if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) <= 0)
		return 0;
	text[n] = 0;
	errno = 0;
	uint64_t v = strtoull(text, &end, 10);
	return errno || end == text || (*end && *end != '\n') ? 0 : v;
}

int core_set_state_dir(struct core *c, const char *dir, char *err, size_t errlen)
{
	uint64_t next;
	int r;

	c->state_fd = safe_close(c->state_fd);
	c->state_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->state_fd < 0)
		return fail(err, errlen, -errno, "cannot open the state directory %s: %s", dir,
			    strerror(errno));
	next = read_ids(c->state_fd);
	registry_set_next_id(c->registry, next);
	c->ids_reserved = 0;
	r = write_ids(c->state_fd, registry_next_id(c->registry) + CORE_IDS_BLOCK);
	if (r < 0)
		return fail(err, errlen, r, "cannot write %s/%s: %s", dir, IDS_FILE, strerror(-r));
	c->ids_reserved = registry_next_id(c->registry) + CORE_IDS_BLOCK;
	return 0;
}

void core_reserve_id(struct core *c)
{
	uint64_t next = registry_next_id(c->registry);
	int r;

	if (c->state_fd < 0 || next < c->ids_reserved)
		return;
	r = write_ids(c->state_fd, next + CORE_IDS_BLOCK);
	if (r < 0) {
		log_error_errno(r, "Cannot reserve binding ids in the state directory: %m; ids may "
				   "repeat after a restart.");
		/* Try again after the next block, not on every bind. */
		c->ids_reserved = next + CORE_IDS_BLOCK;
		return;
	}
	c->ids_reserved = next + CORE_IDS_BLOCK;
}

static const struct {
	enum policy_op op;
	const char *name;
} kind_ops[] = {
	[SVMD_KIND_TASK] = {POLICY_OP_BIND_TASK, "bind-task"},
	[SVMD_KIND_PGTABLE] = {POLICY_OP_BIND_PGTABLE, "bind-pgtable"},
	[SVMD_KIND_PASID_TABLE] = {POLICY_OP_BIND_PASID_TABLE, "bind-pasid-table"},
	[SVMD_KIND_DEVICE] = {POLICY_OP_OPEN_DEVICE, "open-device"},
	[SVMD_KIND_MAP] = {POLICY_OP_MAP, "map"},
};

enum policy_op core_kind_op(uint32_t kind)
{
	return kind < ELEMENTSOF(kind_ops) ? kind_ops[kind].op : POLICY_OP_OPEN_DEVICE;
}

const char *core_kind_op_name(uint32_t kind)
{
	return kind < ELEMENTSOF(kind_ops) ? kind_ops[kind].name : "open-device";
}

const char *core_why_not(const struct core *c, const struct device *dev, uint32_t kind, char *buf,
			 size_t len)
{
	const struct backend *b = c->backend;
	bool svm = kind != SVMD_KIND_DEVICE && kind != SVMD_KIND_MAP;

	/* The device's own reason is the most precise; then what the kernel cannot do at all. */
	if (kind < _SVMD_KIND_MAX && dev->unsupported[kind])
		return dev->unsupported[kind];
	if (svm && b->svm_unsupported)
		return b->svm_unsupported;
	if (dev->kinds & SVMD_KIND_BIT(kind))
		return NULL;
	if (kind == SVMD_KIND_DEVICE)
		snprintf(buf, len, "the %s backend cannot open it", b->ops->name);
	else if (kind == SVMD_KIND_MAP)
		snprintf(buf, len, "the %s backend maps no client memory", b->ops->name);
	else
		snprintf(buf, len, "it does not support %s binds", svmd_kind_name(kind));
	return buf;
}

int core_session_space(struct core *c, struct session *s, struct space **ret, char *why,
		       size_t whylen)
{
	struct backend *be = c->backend;
	struct space *sp;
	int r;

	if (s->space) {
		*ret = s->space;
		return 0;
	}
	if (!be->ops->space_new)
		return fail(why, whylen, -EOPNOTSUPP, "the %s backend maps no client memory",
			    be->ops->name);
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return fail(why, whylen, -ENOMEM, "out of memory");
	r = be->ops->space_new(be, &sp->bs, why, whylen);
	if (r < 0) {
		free(sp);
		return r;
	}
	sp->refs = 1;
	sp->user = s->user;
	sp->n_fds = be->space_fds;
	registry_charge_fds(c->registry, sp->user, (int)sp->n_fds);
	*ret = s->space = sp;
	return 0;
}

struct space *core_space_ref(struct space *sp)
{
	if (sp)
		sp->refs++;
	return sp;
}

void core_space_unref(struct core *c, struct space *sp)
{
	if (!sp || --sp->refs > 0)
		return;
	c->backend->ops->space_free(c->backend, sp->bs);
	registry_charge_fds(c->registry, sp->user, -(int)sp->n_fds);
	free(sp);
}

bool core_nests(const struct core *c, uint32_t kind)
{
	return c->backend->ops->nest_bind && kind == SVMD_KIND_PGTABLE;
}

struct space **core_nest_space(struct bind_args *a)
{
	return &a->pgtable.space;
}

/* The kernel's part of ending b. */
static int undo(struct core *c, struct binding *b, char *why, size_t whylen)
{
	struct backend *be = c->backend;
	int r = 0;

	switch (b->args.kind) {
	case SVMD_KIND_DEVICE:
		if (!b->args.device.space)
			return 0; /* nothing to take back: the holder keeps its fd */
		be->ops->close_device(be, b->args.device.space->bs, b->device);
		registry_charge_fds(c->registry, b->user, -(int)be->device_fds);
		core_space_unref(c, b->args.device.space);
		return 0;
	case SVMD_KIND_MAP:
		r = be->ops->unmap(be, b->args.map.space->bs, b->device, &b->args, why, whylen);
		core_space_unref(c, b->args.map.space);
		return r;
	case SVMD_KIND_PASID_TABLE:
		if (b->args.table.space) {
			be->ops->unbind_space(be, b->args.table.space->bs, b->device, &b->args);
			registry_charge_fds(c->registry, b->user, -1);
			core_space_unref(c, TAKE_PTR(b->args.table.space));
			b->args.table.event_fd = safe_close(b->args.table.event_fd);
			return 0;
		}
		return be->ops->unbind(be, b->device, &b->args, why, whylen);
	default:
		if (core_nests(c, b->args.kind)) {
			struct space *sp = *core_nest_space(&b->args);
			r = be->ops->nest_unbind(be, sp->bs, b->device, &b->args, why, whylen);
			if (b->args.pgtable.flags & SVMD_PGTABLE_FAULTS) /* svmd's fault fd */
				registry_charge_fds(c->registry, b->user, -1);
			b->args.pgtable.fault_fd = safe_close(b->args.pgtable.fault_fd);
			core_space_unref(c, sp);
			return r;
		}
		return be->ops->unbind(be, b->device, &b->args, why, whylen);
	}
}

/* What a leased binding's holder reads from its lease when the binding ends (PROTOCOL.md,
 * LEASE): the EV_BINDING_ENDED record the socket front-end sends a session, framed. Returns
 * its size, or 0 when there is no one to tell. */
static size_t lease_end_record(const struct binding *b, const struct core_end *end,
			       unsigned char rec[SVMD_RECORD_MAX])
{
	_Alignas(8) unsigned char payload[sizeof(struct svmd_ev_binding_ended) + 256];
	struct svmd_ev_binding_ended e = {
		.id = binding_id(b),
		.reason = end_reason_code(end->why),
		.by_uid = end->why == END_UNBIND ? (uint32_t)end->by_uid : 0,
		.generation = end->generation,
	};
	const char *text = end->text ? end->text : end_reason_name(end->why);
	size_t n = strnlen(text, sizeof(payload) - sizeof(e) - 1);

	if (!b->leased || end->why == END_LEASE || e.reason == 0)
		return 0;
	memcpy(payload, &e, sizeof(e));
	memcpy(payload + sizeof(e), text, n);
	payload[sizeof(e) + n] = 0;
	int size = svmd_frame(rec, SVMD_EV_BINDING_ENDED, 0, payload, sizeof(e) + n + 1);
	return size > 0 ? (size_t)size : 0;
}

int core_drop_binding(struct core *c, struct binding *b, const struct core_end *end, char *why,
		      size_t whylen)
{
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	size_t n = end ? lease_end_record(b, end, rec) : 0;
	int r;

	lifetime_forget(c->lifetime, b, n ? rec : NULL, n);
	r = undo(c, b, why, whylen);
	if (r < 0)
		/* Nothing more we can do than say so: the binding goes either way. */
		log_error_errno(r, "Kernel refused to unbind binding %" PRIu64 " (%s PASID %u): %s",
				binding_id(b), b->device->name, b->args.pasid,
				why && why[0] ? why : "%m");
	if (b->committed)
		core_notify(c, binding_removed, b, end);
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
	char kwhy[256] = "", text[128];
	struct core_end end = {.why = why, .generation = c->generation, .text = text};
	int r;

	if (why == END_REVOKED)
		snprintf(text, sizeof(text), "revoked by policy generation %" PRIu64,
			 c->generation);
	else
		snprintf(text, sizeof(text), "%s", end_reason_name(why));
	r = core_drop_binding(c, b, &end, kwhy, sizeof(kwhy));
	c->ending = (int)why + 1;
	core_audit(c, AUDIT_RELEASE, owner, core_kind_op_name(kind), dev, pasid, rule, id, r,
		   end_reason_name(why));
	c->ending = 0;
}
