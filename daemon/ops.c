/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request core; see ops.h. Lifetimes (ARCHITECTURE.md section 2): a binding ends at the
 * first of unbind, end of its owner's session unless leased, last lease fd closed, bound process
 * exited; ending always issues the kernel unbind and writes an audit record.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "cleanup.h"
#include "log.h"
#include "ops.h"
#include "policy-load.h"
#include "process.h"

struct core {
	struct event_base *base;
	struct backend *backend;
	struct policy *policy;
	uint64_t generation; /* of the policy: 1 at start, +1 per reload */
	char **policy_dirs;  /* NULL: the default directories */
	size_t n_policy_dirs;
	struct registry *registry;
	struct hashmap rates; /* struct rate, per (uid, rule) */
	size_t rates_pruned_at;
	const struct core_hooks *hooks;
	void *hooks_userdata;
	unsigned user_fds_max;       /* one uid's share of svmd's fds; 0: no limit */
	unsigned fds_per_connection; /* 1 with SO_PEERPIDFD, else 2 */
};

/* A token bucket for rate=: refills at rule->rate per second, holds at most that many. */
struct rate {
	struct hnode node; /* key: rate_key() */
	uid_t uid;
	const struct policy_rule *rule;
	double tokens;
	uint64_t stamp_usec; /* CLOCK_MONOTONIC */
};

enum end_reason {
	END_UNBIND,
	END_SESSION,
	END_LEASE,
	END_PROCESS,
	END_SHUTDOWN,
	END_REVOKED,
};

static const char *const end_reasons[] = {
	[END_UNBIND] = "unbind",
	[END_SESSION] = "session ended",
	[END_LEASE] = "lease closed",
	[END_PROCESS] = "bound process exited",
	[END_SHUTDOWN] = "svmd shutting down",
	[END_REVOKED] = "revoked by the reloaded policy",
};

/* What keeps a binding alive besides its session: the bound process, a lease. */
struct watch {
	struct core *core;
	struct binding *binding;
	struct event *process; /* on the target's pidfd: readable once it exits */
	struct event *lease;   /* on the lease pipe's read end: EOF once every copy is closed */
};

static _printf_(3, 4) int result(struct op_result *res, int status, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	res->reason[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
		va_end(ap);
	}
	return status;
}

struct core *core_new(struct event_base *base, struct backend *backend, struct policy *policy,
		      const char *const *policy_dirs, size_t n_policy_dirs)
{
	struct core *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->registry = registry_new();
	if (n_policy_dirs) {
		c->policy_dirs = calloc(n_policy_dirs, sizeof(char *));
		for (size_t i = 0; c->policy_dirs && i < n_policy_dirs; i++)
			if ((c->policy_dirs[i] = strdup(policy_dirs[i])))
				c->n_policy_dirs++;
	}
	if (!c->registry || c->n_policy_dirs != n_policy_dirs) {
		registry_free(c->registry);
		for (size_t i = 0; i < c->n_policy_dirs; i++)
			free(c->policy_dirs[i]);
		free(c->policy_dirs);
		free(c);
		return NULL;
	}
	c->base = base;
	c->backend = backend;
	c->policy = policy;
	c->generation = 1;
	return c;
}

void core_set_hooks(struct core *c, const struct core_hooks *hooks, void *userdata)
{
	c->hooks = hooks;
	c->hooks_userdata = userdata;
}

void core_set_fd_share(struct core *c, unsigned user_fds_max, unsigned fds_per_connection)
{
	c->user_fds_max = user_fds_max;
	c->fds_per_connection = fds_per_connection;
}

unsigned core_user_fds(const struct core *c, uid_t uid)
{
	/* Bus sessions hold no fd of ours: counting them too errs on the safe side. */
	return registry_count_user_sessions(c->registry, uid) * c->fds_per_connection +
	       registry_count_user_fds(c->registry, uid);
}

bool core_user_fds_allow(const struct core *c, uid_t uid, unsigned n)
{
	return c->user_fds_max == 0 || core_user_fds(c, uid) + n <= c->user_fds_max;
}

uint64_t core_generation(const struct core *c)
{
	return c->generation;
}

struct registry *core_registry(const struct core *c)
{
	return c->registry;
}

const struct backend *core_backend(const struct core *c)
{
	return c->backend;
}

const struct policy *core_policy(const struct core *c)
{
	return c->policy;
}

static const char *kind_op(uint32_t kind)
{
	switch (kind) {
	case SVMD_KIND_TASK:
		return "bind-task";
	case SVMD_KIND_PGTABLE:
		return "bind-pgtable";
	case SVMD_KIND_PASID_TABLE:
		return "bind-pasid-table";
	default:
		return "open-device";
	}
}

static enum policy_op kind_policy_op(uint32_t kind)
{
	switch (kind) {
	case SVMD_KIND_TASK:
		return POLICY_OP_BIND_TASK;
	case SVMD_KIND_PGTABLE:
		return POLICY_OP_BIND_PGTABLE;
	case SVMD_KIND_PASID_TABLE:
		return POLICY_OP_BIND_PASID_TABLE;
	default:
		return POLICY_OP_OPEN_DEVICE;
	}
}

static void watch_free(struct watch *w)
{
	if (!w)
		return;
	/* The event first, then the fd: the open file may be shared (the client keeps its copy
	 * of a pidfd), and an epoll entry outlives a close while any copy is open. */
	if (w->process) {
		int fd = event_get_fd(w->process);
		event_free(w->process);
		safe_close(fd);
		w->binding->owner->user->n_fds--;
	}
	if (w->lease) {
		int fd = event_get_fd(w->lease);
		event_free(w->lease);
		safe_close(fd);
		w->binding->owner->user->n_fds--;
	}
	free(w);
}

static struct watch *watch_get(struct core *c, struct binding *b)
{
	struct watch *w = b->watch;

	if (w)
		return w;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->core = c;
	w->binding = b;
	b->watch = w;
	return w;
}

/* Ends b: kernel unbind, audit, forget. The one place a binding ends. */
static void end_binding(struct core *c, struct binding *b, enum end_reason why,
			const struct caller *by)
{
	char kwhy[256] = "";
	char by_uid[64];
	const char *reason = end_reasons[why];
	int r;
	watch_free(b->watch);
	b->watch = NULL;
	r = 0;
	if (b->args.kind != SVMD_KIND_DEVICE)
		r = c->backend->ops->unbind(c->backend, b->device, &b->args, kwhy, sizeof(kwhy));
	if (r < 0)
		/* Nothing more we can do than say so: the record goes either way. */
		log_error_errno(r, "Kernel refused to unbind binding %" PRIu64 " (%s PASID %u): %s",
				binding_id(b), b->device->name, b->args.pasid,
				kwhy[0] ? kwhy : "%m");
	if (why == END_UNBIND && by && by->uid != b->owner->uid) {
		snprintf(by_uid, sizeof(by_uid), "unbind by uid %u", (unsigned)by->uid);
		reason = by_uid;
	}
	if (c->hooks && c->hooks->binding_removed)
		c->hooks->binding_removed(c->hooks_userdata, b);
	audit_log(&(struct audit_record){
		.event = AUDIT_RELEASE,
		.uid = b->owner->uid,
		.gid = b->owner->gid,
		.pid = b->owner->pid,
		.unit = b->owner->units ? b->owner->units[0] : NULL,
		.exe = b->owner->exe,
		.generation = c->generation,
		.op = kind_op(b->args.kind),
		.device = b->device->name,
		.pasid = b->args.pasid,
		.binding = binding_id(b),
		.rule_file = b->rule ? ((const struct policy_rule *)b->rule)->file : NULL,
		.rule_line = b->rule ? ((const struct policy_rule *)b->rule)->line : 0,
		.error = r < 0 ? -r : 0,
		.reason = reason,
	});
	registry_remove(c->registry, b);
}

static int fd_share_refusal(const struct core *c, const struct caller *who, struct op_result *res)
{
	return result(res, -EDQUOT,
		      "uid %u holds %u of svmd's file descriptors, its share of them (connections, "
		      "bound processes, leases)",
		      (unsigned)who->uid, core_user_fds(c, who->uid));
}

static bool rule_has(const struct policy_rule *rule, enum policy_key k)
{
	return rule && (rule->keys & (1u << k));
}

static uint64_t rate_key(uid_t uid, const struct policy_rule *rule)
{
	return (uint64_t)(uintptr_t)rule * 0x9e3779b97f4a7c15ull ^ uid;
}

static uint64_t now_monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rate_refill(struct rate *r, uint64_t now)
{
	r->tokens += (double)(now - r->stamp_usec) * r->rule->rate / 1e6;
	if (r->tokens > r->rule->rate)
		r->tokens = r->rule->rate;
	r->stamp_usec = now;
}

static void rates_free(struct core *c)
{
	hashmap_for_each_safe (e, &c->rates)
		free(container_of(e, struct rate, node));
	hashmap_done(&c->rates);
	c->rates_pruned_at = 0;
}

/* A rule as the admin sees it, whatever its place in the file: its file and its text. */
static uint64_t rule_fingerprint(const struct policy_rule *rule)
{
	/* The file, a byte no name holds, the text. */
	return hash_string(hash_string(hash_string(HASH_INIT, rule->file), "\xff"), rule->text);
}

static bool same_rule(const struct policy_rule *a, const struct policy_rule *b)
{
	return strcmp(a->file, b->file) == 0 && strcmp(a->text, b->text) == 0;
}

/* A reload keeps the buckets of the rules it keeps (same file, same text), so reloading does
 * not hand out fresh tokens; a bucket whose rule went is dropped. Out of memory, all go. */
static void rates_carry(struct core *c, const struct policy *p)
{
	struct kept {
		struct hnode node; /* key: rule_fingerprint() */
		const struct policy_rule *rule;
	} *kept = NULL;
	struct hashmap by_print = {0}, carried = {0};
	uint64_t now = now_monotonic_usec();
	size_t n = 0;

	if (c->rates.n == 0)
		return;
	kept = calloc(p->n_rules, sizeof(*kept));
	for (size_t i = 0; kept && i < p->n_rules; i++)
		if (rule_has(&p->rules[i], POLICY_KEY_RATE)) {
			kept[n].rule = &p->rules[i];
			if (hashmap_put(&by_print, &kept[n].node, rule_fingerprint(kept[n].rule)) <
			    0)
				goto fail;
			n++;
		}
	if (!kept)
		goto fail;
	hashmap_for_each_safe (e, &c->rates) {
		struct rate *r = container_of(e, struct rate, node);
		const struct policy_rule *to = NULL;

		/* The same text twice in a file: the first copy is the one that decides
		 * (rules are in file order in p->rules), so the bucket goes to it. */
		for (struct hnode *k = hashmap_get(&by_print, rule_fingerprint(r->rule)); k;
		     k = hashmap_next_same(k)) {
			const struct policy_rule *x = container_of(k, struct kept, node)->rule;
			if (same_rule(x, r->rule) && (!to || x < to))
				to = x;
		}
		rate_refill(r, now);
		r->rule = to;
		if (!to || hashmap_put(&carried, &r->node, rate_key(r->uid, to)) < 0) {
			free(r);
			continue;
		}
		if (r->tokens > to->rate)
			r->tokens = to->rate;
	}
	hashmap_done(&c->rates);
	c->rates = carried;
	c->rates_pruned_at = c->rates.n;
	hashmap_done(&by_print);
	free(kept);
	return;
fail:
	hashmap_done(&by_print);
	free(kept);
	rates_free(c);
}

/* Drops buckets that have filled up again (they hold no memory of anything). */
static void rates_prune(struct core *c, uint64_t now)
{
	hashmap_for_each_safe (e, &c->rates) {
		struct rate *r = container_of(e, struct rate, node);
		rate_refill(r, now);
		if (r->tokens >= r->rule->rate) {
			hashmap_remove(&c->rates, &r->node);
			free(r);
		}
	}
	c->rates_pruned_at = c->rates.n;
}

/* Takes one token from uid's bucket under rule. Returns 0, -EAGAIN (empty: *ret_wait_ms until
 * the next token) or -ENOMEM. */
static int rate_take(struct core *c, uid_t uid, const struct policy_rule *rule,
		     unsigned *ret_wait_ms)
{
	uint64_t now = now_monotonic_usec(), key = rate_key(uid, rule);
	struct rate *r = NULL;

	for (struct hnode *n = hashmap_get(&c->rates, key); n && !r; n = hashmap_next_same(n)) {
		struct rate *x = container_of(n, struct rate, node);
		if (x->uid == uid && x->rule == rule)
			r = x;
	}
	if (!r) {
		if (c->rates.n >= 1024 && c->rates.n >= 2 * c->rates_pruned_at)
			rates_prune(c, now);
		r = calloc(1, sizeof(*r));
		if (!r || hashmap_put(&c->rates, &r->node, key) < 0) {
			free(r);
			return -ENOMEM;
		}
		r->uid = uid;
		r->rule = rule;
		r->tokens = rule->rate;
		r->stamp_usec = now;
	}
	rate_refill(r, now);
	if (r->tokens < 1.0) {
		*ret_wait_ms = (unsigned)((1.0 - r->tokens) * 1000.0 / rule->rate) + 1;
		return -EAGAIN;
	}
	r->tokens -= 1.0;
	return 0;
}

void core_release_all(struct core *c)
{
	struct binding *b;

	while ((b = registry_first_after(c->registry, 0)))
		end_binding(c, b, END_SHUTDOWN, NULL);
}

struct core *core_free(struct core *c)
{
	if (!c)
		return NULL;
	core_release_all(c);
	registry_free(c->registry);
	policy_free(c->policy);
	backend_free(c->backend);
	rates_free(c);
	for (size_t i = 0; i < c->n_policy_dirs; i++)
		free(c->policy_dirs[i]);
	free(c->policy_dirs);
	free(c);
	return NULL;
}

static void on_process_exit(evutil_socket_t fd, short what, void *userdata)
{
	struct watch *w = userdata;

	(void)fd;
	(void)what;
	log_debug("Bound process of binding %" PRIu64 " exited.", binding_id(w->binding));
	end_binding(w->core, w->binding, END_PROCESS, NULL);
}

static void on_lease_readable(evutil_socket_t fd, short what, void *userdata)
{
	struct watch *w = userdata;
	char buf[256];
	ssize_t n;

	(void)what;
	/* Whatever a holder writes into the lease is drained and ignored; EOF ends the binding. */
	n = read(fd, buf, sizeof(buf));
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	end_binding(w->core, w->binding, END_LEASE, NULL);
}

/* The audit record of a request by who (NULL: svmd itself, on SIGHUP). */
static void audit_request(const struct core *c, enum audit_event ev, const struct caller *who,
			  const char *op, const char *device, uint32_t pasid,
			  const struct policy_rule *rule, uint64_t id, int error,
			  const char *reason)
{
	static const struct caller self = {0};

	if (!who)
		who = &self;
	audit_log(&(struct audit_record){
		.event = ev,
		.uid = who->uid,
		.gid = who->gid,
		.pid = who->pid,
		.unit = who->units ? who->units[0] : NULL,
		.exe = who->exe,
		.generation = c->generation,
		.op = op,
		.device = device,
		.pasid = pasid,
		.binding = id,
		.rule_file = rule ? rule->file : NULL,
		.rule_line = rule ? rule->line : 0,
		.error = error < 0 ? -error : error,
		.reason = reason,
	});
}

/* Works out which process a task bind targets; fills args->task.pid and *ret_pidfd (owned). */
static int identify_target(const struct caller *who, struct bind_request *req, int *ret_pidfd,
			   bool *ret_other, struct op_result *res)
{
	_cleanup_close_ int fd = TAKE_FD(req->target_pidfd);
	char why[160];
	pid_t pid;
	int r;

	if (fd < 0) {
		if (who->pidfd < 0)
			return result(res, -ESRCH, "svmd could not pin the calling process");
		fd = fcntl(who->pidfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return result(res, -errno, "cannot duplicate the caller's pidfd");
	}
	pid = pidfd_get_pid(fd);
	if (pid == -EBADF)
		return result(res, -EBADF, "the fd sent is not a pidfd (use pidfd_open(2))");
	if (pid < 0 || !pidfd_alive(fd))
		return result(res, -ESRCH, "the process to bind has exited");
	*ret_other = pid != who->pid;
	/* The caller itself too: it may have exec'd a set-id program since it connected, and
	 * where the kernel could not pin it at connect time the pid may name another process
	 * by now. Either way it must be a process the caller could ptrace. */
	r = process_may_ptrace(fd, &(struct tracer){who->uid, who->gid, who->pid}, why,
			       sizeof(why));
	if (r == -EPERM)
		return result(res, r, "may not bind process %d: %s", pid, why);
	if (r < 0)
		return result(res, -ESRCH, "the process to bind has exited");
	req->args.task.pid = pid;
	*ret_pidfd = TAKE_FD(fd);
	return 0;
}

static size_t count_units(const char *const *units)
{
	size_t n = 0;

	while (units && units[n])
		n++;
	return n;
}

static void subject_of(const struct caller *who, struct policy_subject *s)
{
	*s = (struct policy_subject){
		.uid = who->uid,
		.gid = who->gid,
		.groups = who->groups,
		.n_groups = who->n_groups,
		.exe = who->exe,
		.units = who->units,
		.n_units = count_units(who->units),
	};
}

/* The policy's view of a request on dev (NULL for reload) with arguments a (may be NULL). */
static void request_of(enum policy_op op, const struct device *dev, const struct bind_args *a,
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
}

/* Policy, then the limits: the rule's rate= per uid, max= per uid, max-device= per device, and
 * svmd's own per-user ceiling. Audits a refusal. Returns 0 with the deciding rule in *d, or
 * -EACCES (denied), -EAGAIN (rate), -EDQUOT (quota), -ENOMEM. */
static int authorise(struct core *c, const struct caller *who, enum policy_op op,
		     const struct device *dev, const struct bind_args *a, bool other,
		     struct policy_decision *d, struct op_result *res)
{
	struct policy_subject subj;
	struct policy_request preq;
	const struct policy_rule *rule;
	unsigned wait_ms = 0;
	int r;

	subject_of(who, &subj);
	request_of(op, dev, a, other, &preq);
	policy_decide(c->policy, &subj, &preq, d);
	rule = d->rule;
	if (d->verdict != POLICY_ALLOW) {
		if (rule)
			result(res, -EACCES, "rule '%s' (%s:%u)", rule->text, rule->file,
			       rule->line);
		else
			result(res, -EACCES, "no rule matched (default deny)");
	} else if (rule_has(rule, POLICY_KEY_RATE) &&
		   (r = rate_take(c, who->uid, rule, &wait_ms)) < 0) {
		if (r == -ENOMEM)
			return result(res, r, "out of memory");
		result(res, -EAGAIN,
		       "rate limit of %u/s for uid %u under rule '%s' (%s:%u); "
		       "try again in %u ms",
		       rule->rate, (unsigned)who->uid, rule->text, rule->file, rule->line, wait_ms);
	} else if (rule_has(rule, POLICY_KEY_MAX_UID) &&
		   registry_count_rule(c->registry, who->uid, rule) >= rule->max) {
		result(res, -EDQUOT, "uid %u already holds %u binding%s under rule '%s' (%s:%u)",
		       (unsigned)who->uid, rule->max, rule->max == 1 ? "" : "s", rule->text,
		       rule->file, rule->line);
	} else if (rule_has(rule, POLICY_KEY_MAX_DEVICE) && dev &&
		   registry_count_device_rule(c->registry, dev, rule) >= rule->max_device) {
		result(res, -EDQUOT, "%s already has %u binding%s under rule '%s' (%s:%u)",
		       dev->name, rule->max_device, rule->max_device == 1 ? "" : "s", rule->text,
		       rule->file, rule->line);
	} else if (op != POLICY_OP_RELOAD &&
		   registry_count_user(c->registry, who->uid) >= OPS_USER_BINDINGS_MAX) {
		result(res, -EDQUOT, "uid %u holds the most bindings svmd allows one user (%u)",
		       (unsigned)who->uid, OPS_USER_BINDINGS_MAX);
	} else if (op == POLICY_OP_BIND_TASK && !core_user_fds_allow(c, who->uid, 1)) {
		fd_share_refusal(c, who, res);
	} else {
		return 0;
	}
	audit_request(c, AUDIT_DENY, who,
		      op == POLICY_OP_RELOAD ? "reload" : kind_op(a ? a->kind : SVMD_KIND_DEVICE),
		      dev ? dev->name : NULL, a ? a->pasid : 0, rule, 0, res->status, res->reason);
	return res->status;
}

int ops_bind(struct core *c, struct session *s, const struct caller *who, struct bind_request *req,
	     struct op_result *res, struct binding **ret)
{
	struct bind_args *a = &req->args;
	_cleanup_close_ int pidfd = -1;
	struct policy_decision d;
	struct binding *b;
	const struct device *dev;
	bool other = false;
	char why[256];
	int r;

	result(res, 0, NULL);
	if (a->kind == SVMD_KIND_TASK)
		a->task.asked = a->pasid;
	/* 1. Validate: the device, the kind, then (with the target known) the arguments as a
	 * kernel would check them. */
	dev = backend_find_device(c->backend, req->device);
	if (!dev) {
		safe_close(TAKE_FD(req->target_pidfd));
		return result(res, -ENODEV,
			      "no device %s is managed by svmd (see 'svmctl devices')",
			      req->device);
	}
	if (c->backend->svm_unsupported) {
		safe_close(TAKE_FD(req->target_pidfd));
		return result(res, -EOPNOTSUPP, "%s", c->backend->svm_unsupported);
	}
	if (!(dev->kinds & SVMD_KIND_BIT(a->kind))) {
		safe_close(TAKE_FD(req->target_pidfd));
		return result(res, -EOPNOTSUPP, "%s does not support %s binds", dev->name,
			      svmd_kind_name(a->kind));
	}
	/* 2. Identify: for a task bind, the process, pinned by a pidfd. */
	if (a->kind == SVMD_KIND_TASK) {
		r = identify_target(who, req, &pidfd, &other, res);
		if (r < 0) {
			audit_request(c, AUDIT_FAIL, who, kind_op(a->kind), dev->name, a->pasid,
				      NULL, 0, r, res->reason);
			return r;
		}
	} else {
		safe_close(TAKE_FD(req->target_pidfd));
	}
	why[0] = 0;
	r = c->backend->ops->check(c->backend, dev, a, why, sizeof(why));
	if (r == -EOPNOTSUPP)
		return result(res, r, "%s", why);
	if (r < 0)
		return result(res, r, "invalid arguments for %s: %s", dev->name, why);

	/* 3. Authorise. */
	r = authorise(c, who, kind_policy_op(a->kind), dev, a, other, &d, res);
	if (r < 0)
		return r;

	/* 4. Conflicts we know of before asking the kernel. */
	if (a->kind != SVMD_KIND_TASK || a->pasid) {
		uint32_t key = registry_slot(a);
		b = registry_find_pasid(c->registry, dev, key);
		if (b) {
			if (key)
				result(res, -EBUSY, "PASID %u on %s is already bound%s", key,
				       dev->name, b->owner->uid == who->uid ? " (by you)" : "");
			else
				result(res, -EBUSY, "a PASID table is already bound on %s%s",
				       dev->name, b->owner->uid == who->uid ? " (by you)" : "");
			audit_request(c, AUDIT_FAIL, who, kind_op(a->kind), dev->name, a->pasid,
				      d.rule, 0, -EBUSY, res->reason);
			return res->status;
		}
	}

	/* 5. Act. */
	why[0] = 0;
	r = c->backend->ops->bind(c->backend, dev, a, why, sizeof(why));
	if (r < 0) {
		result(res, r, "kernel refused: %s", why[0] ? why : strerror(-r));
		audit_request(c, AUDIT_FAIL, who, kind_op(a->kind), dev->name, a->pasid, d.rule, 0,
			      r, res->reason);
		return r;
	}

	/* 6. Commit: only for a target still alive after the bind (pid reuse), and only when
	 * the registry agrees the PASID is free; otherwise undo the kernel's part. */
	r = 0;
	if (a->kind == SVMD_KIND_TASK &&
	    (r = process_may_ptrace(pidfd, &(struct tracer){who->uid, who->gid, who->pid}, why,
				    sizeof(why))) < 0)
		/* Still alive and still the caller's to bind (no set-id exec in between)? */
		r = r == -EPERM ? result(res, r, "may not bind process %d: %s", a->task.pid, why)
				: result(res, -ESRCH, "the process to bind exited during the bind");
	else if (a->kind != SVMD_KIND_PASID_TABLE &&
		 registry_find_pasid(c->registry, dev, a->pasid))
		r = result(res, -EBUSY, "PASID %u on %s is already bound", a->pasid, dev->name);
	b = r < 0 ? NULL : registry_add(c->registry, s, d.rule, dev, a);
	if (!b && r == 0)
		r = result(res, -ENOMEM, "out of memory");
	if (b && a->kind == SVMD_KIND_TASK) {
		struct watch *w = watch_get(c, b);
		if (w)
			w->process =
				event_new(c->base, pidfd, EV_READ | EV_PERSIST, on_process_exit, w);
		if (!w || !w->process || event_add(w->process, NULL) < 0) {
			if (w && w->process) {
				event_free(w->process);
				w->process = NULL;
			}
			watch_free(b->watch);
			b->watch = NULL;
			registry_remove(c->registry, b);
			b = NULL;
			r = result(res, -ENOMEM, "out of memory");
		} else {
			TAKE_FD(pidfd);
			b->owner->user->n_fds++;
		}
	}
	if (!b) {
		c->backend->ops->unbind(c->backend, dev, a, NULL, 0);
		audit_request(c, AUDIT_FAIL, who, kind_op(a->kind), dev->name, a->pasid, d.rule, 0,
			      r, res->reason);
		return r;
	}

	/* 7. Tell, audit. */
	if (c->hooks && c->hooks->binding_added)
		c->hooks->binding_added(c->hooks_userdata, b);
	audit_request(c, AUDIT_GRANT, who, kind_op(a->kind), dev->name, a->pasid, d.rule,
		      binding_id(b), 0, NULL);
	if (ret)
		*ret = b;
	return 0;
}

int ops_open_device(struct core *c, struct session *s, const struct caller *who, const char *device,
		    int *ret_fd, struct op_result *res, struct binding **ret)
{
	struct bind_args args = {.kind = SVMD_KIND_DEVICE};
	_cleanup_close_ int fd = -1;
	struct policy_decision d;
	const struct device *dev;
	struct binding *b;
	char why[256] = "";
	int r;

	result(res, 0, NULL);
	dev = backend_find_device(c->backend, device);
	if (!dev)
		return result(res, -ENODEV,
			      "no device %s is managed by svmd (see 'svmctl devices')", device);
	if (!(dev->kinds & SVMD_KIND_BIT(SVMD_KIND_DEVICE)) || !c->backend->ops->open_device)
		return result(res, -EOPNOTSUPP, "the %s backend cannot open %s",
			      c->backend->ops->name, dev->name);
	r = authorise(c, who, POLICY_OP_OPEN_DEVICE, dev, &args, false, &d, res);
	if (r < 0)
		return r;
	b = registry_find_pasid(c->registry, dev, REGISTRY_DEVICE_SLOT);
	if (b) {
		result(res, -EBUSY, "%s is held by another client%s", dev->name,
		       b->owner->uid == who->uid ? " of yours" : "");
		audit_request(c, AUDIT_FAIL, who, kind_op(SVMD_KIND_DEVICE), dev->name, 0, d.rule,
			      0, -EBUSY, res->reason);
		return res->status;
	}
	r = c->backend->ops->open_device(c->backend, dev, &fd, why, sizeof(why));
	if (r < 0) {
		result(res, r, "kernel refused: %s", why[0] ? why : strerror(-r));
		audit_request(c, AUDIT_FAIL, who, kind_op(SVMD_KIND_DEVICE), dev->name, 0, d.rule,
			      0, r, res->reason);
		return r;
	}
	b = registry_add(c->registry, s, d.rule, dev, &args);
	if (!b) {
		result(res, -ENOMEM, "out of memory");
		audit_request(c, AUDIT_FAIL, who, kind_op(SVMD_KIND_DEVICE), dev->name, 0, d.rule,
			      0, -ENOMEM, res->reason);
		return -ENOMEM;
	}
	if (c->hooks && c->hooks->binding_added)
		c->hooks->binding_added(c->hooks_userdata, b);
	audit_request(c, AUDIT_GRANT, who, kind_op(SVMD_KIND_DEVICE), dev->name, 0, d.rule,
		      binding_id(b), 0, NULL);
	*ret_fd = TAKE_FD(fd);
	if (ret)
		*ret = b;
	return 0;
}

bool ops_visible(const struct caller *who, const struct binding *b)
{
	return who->uid == 0 || who->uid == b->owner->uid;
}

struct binding *ops_visible_first(struct core *c, const struct caller *who, uint64_t after_id)
{
	return who->uid == 0 ? registry_first_after(c->registry, after_id)
			     : registry_user_first_after(c->registry, who->uid, after_id);
}

struct binding *ops_visible_next(struct core *c, const struct caller *who, const struct binding *b)
{
	return who->uid == 0 ? registry_next(c->registry, b) : registry_user_next(b);
}

int ops_unbind(struct core *c, const struct caller *who, uint64_t id, struct op_result *res)
{
	struct binding *b = registry_find(c->registry, id);

	result(res, 0, NULL);
	/* Someone else's binding is as invisible as a missing one. */
	if (!b || !ops_visible(who, b))
		return result(res, -ENOENT, "no binding %" PRIu64 " of yours", id);
	end_binding(c, b, END_UNBIND, who);
	return 0;
}

int ops_lease(struct core *c, const struct caller *who, uint64_t id, int *ret_fd,
	      struct op_result *res)
{
	struct binding *b = registry_find(c->registry, id);
	struct watch *w;
	int p[2];

	result(res, 0, NULL);
	if (!b || b->owner->uid != who->uid)
		return result(res, -ENOENT, "no binding %" PRIu64 " of yours", id);
	if (b->leased)
		return result(res, -EALREADY, "binding %" PRIu64 " is leased already", id);
	if (!core_user_fds_allow(c, who->uid, 1))
		return fd_share_refusal(c, who, res);
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return result(res, -errno, "cannot create a lease: %s", strerror(errno));
	w = watch_get(c, b);
	if (w)
		w->lease = event_new(c->base, p[0], EV_READ | EV_PERSIST, on_lease_readable, w);
	if (!w || !w->lease || event_add(w->lease, NULL) < 0) {
		if (w && w->lease) {
			event_free(w->lease);
			w->lease = NULL;
		}
		safe_close(p[0]);
		safe_close(p[1]);
		return result(res, -ENOMEM, "out of memory");
	}
	b->owner->user->n_fds++;
	registry_lease(c->registry, b);
	*ret_fd = p[1];
	return 0;
}

struct session *ops_session_new(struct core *c, struct caller *who)
{
	_cleanup_free_ char *exe = NULL;
	char **units = NULL;
	struct session *s;

	/* Resolved once, like SO_PEERCRED: the identity as of connecting. A process that has
	 * gone already simply has none (exe= and unit= never match it). */
	if (!who->exe)
		(void)process_exe(who->pidfd, who->pid, &exe);
	if (!who->units)
		(void)process_units(who->pidfd, who->pid, &units);
	struct owner o = {
		.uid = who->uid,
		.gid = who->gid,
		.pid = who->pid,
		.groups = who->groups,
		.n_groups = who->n_groups,
		.exe = (char *)(who->exe ? who->exe : exe),
		.units = (char **)(who->units ? who->units : (const char *const *)units),
	};
	s = registry_session_new(c->registry, &o);
	for (size_t i = 0; units && units[i]; i++)
		free(units[i]);
	free(units);
	if (!s)
		return NULL;
	who->exe = s->owner->exe;
	who->units = (const char *const *)s->owner->units;
	return s;
}

void ops_session_end(struct core *c, struct session *s)
{
	if (!s)
		return;
	list_for_each_safe (pos, &s->bindings)
		end_binding(c, container_of(pos, struct binding, session_link), END_SESSION, NULL);
	registry_session_free(s);
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

/* Decides every live binding again under the current policy. */
static void redecide(struct core *c, struct reload_result *out, char *text, size_t size)
{
	struct binding *b, *next;

	for (b = registry_first_after(c->registry, 0); b; b = next) {
		next = registry_next(c->registry, b);
		const struct owner *o = b->owner;
		struct policy_subject subj = {
			.uid = o->uid,
			.gid = o->gid,
			.groups = o->groups,
			.n_groups = o->n_groups,
			.exe = o->exe,
			.units = (const char *const *)o->units,
			.n_units = count_units((const char *const *)o->units),
		};
		struct policy_request preq;
		struct policy_decision d;
		bool other = b->args.kind == SVMD_KIND_TASK && b->args.task.pid != o->pid;

		request_of(kind_policy_op(b->args.kind), b->device, &b->args, other, &preq);
		policy_decide(c->policy, &subj, &preq, &d);
		if (d.verdict == POLICY_ALLOW) {
			registry_set_rule(c->registry, b, d.rule);
			continue;
		}
		out->n_denied++;
		bool revoke = d.rule && d.rule->revoke;
		report(text, size,
		       "binding %" PRIu64 " (%s %s PASID %u, uid %u) %s: ", binding_id(b),
		       kind_op(b->args.kind), b->device->name, b->args.pasid, (unsigned)o->uid,
		       revoke ? "revoked" : "no longer granted");
		if (d.rule)
			report(text, size, "rule '%s' (%s:%u)\n", d.rule->text, d.rule->file,
			       d.rule->line);
		else
			report(text, size, "no rule matched\n");
		if (revoke) {
			out->n_revoked++;
			end_binding(c, b, END_REVOKED, NULL);
		} else {
			/* Kept (a reload does not take back what was granted unless told to),
			 * but no longer counted under any rule. */
			registry_set_rule(c->registry, b, NULL);
		}
	}
}

int ops_reload(struct core *c, const struct caller *who, struct reload_result *ret, char *text,
	       size_t size, struct op_result *res)
{
	struct reload_result out = {0};
	struct policy_decision d;
	struct policy *p = NULL, *old;
	int r;

	result(res, 0, NULL);
	if (size)
		text[0] = 0;
	if (who && who->uid != 0) {
		r = authorise(c, who, POLICY_OP_RELOAD, NULL, NULL, false, &d, res);
		if (r < 0)
			return r;
	}
	/* Compile the whole new tree beside the live one. */
	r = policy_load((const char *const *)c->policy_dirs, c->n_policy_dirs, &p);
	if (r < 0)
		return result(res, r, "cannot load the policy: %s", strerror(-r));
	if (p->n_errors) {
		result(res, -EINVAL,
		       "%zu error%s; the policy in force (generation %" PRIu64 ") stays:",
		       p->n_errors, p->n_errors == 1 ? "" : "s", c->generation);
		/* The errors: every diagnostic but warnings (a file that cannot be read has no
		 * "error:" of its own). */
		for (size_t i = 0; i < p->n_diags; i++)
			if (!strstr(p->diags[i], ": warning: ")) {
				size_t n = strlen(res->reason);
				snprintf(res->reason + n, sizeof(res->reason) - n, "\n%s",
					 p->diags[i]);
			}
		audit_request(c, AUDIT_RELOAD, who, "reload", NULL, 0, NULL, 0, EINVAL,
			      res->reason);
		policy_free(p);
		return res->status;
	}

	/* Swap, then drop what referred to the old rules. */
	old = c->policy;
	c->policy = p;
	c->generation++;
	rates_carry(c, p);
	for (size_t i = 0; i < p->n_diags; i++)
		report(text, size, "%s\n", p->diags[i]);
	redecide(c, &out, text, size);
	policy_free(old);

	out.generation = c->generation;
	out.n_rules = p->n_rules;
	out.n_files = p->n_files;
	out.n_warnings = p->n_warnings;
	char summary[200];
	snprintf(summary, sizeof(summary),
		 "generation %" PRIu64 ": %zu rules from %zu files; %zu bindings no longer "
		 "granted, %zu revoked",
		 out.generation, out.n_rules, out.n_files, out.n_denied, out.n_revoked);
	audit_request(c, AUDIT_RELOAD, who, "reload", NULL, 0, NULL, 0, 0, summary);
	if (c->hooks && c->hooks->policy_reloaded)
		c->hooks->policy_reloaded(c->hooks_userdata, c->generation);
	*ret = out;
	return 0;
}

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

/* The groups an arbitrary uid would have, for explaining on its behalf (root only). */
static int subject_for_uid(uid_t uid, struct policy_subject *s, gid_t **ret_groups)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	int n = 64;
	gid_t *g;

	*s = (struct policy_subject){.uid = uid, .gid = (gid_t)-1};
	*ret_groups = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return 0;
	s->gid = pw.pw_gid;
	g = calloc((size_t)n, sizeof(gid_t));
	if (!g)
		return -ENOMEM;
	if (getgrouplist(pw.pw_name, pw.pw_gid, g, &n) < 0) {
		gid_t *g2 = reallocarray(g, (size_t)n, sizeof(gid_t));
		if (!g2) {
			free(g);
			return -ENOMEM;
		}
		g = g2;
		if (getgrouplist(pw.pw_name, pw.pw_gid, g, &n) < 0)
			n = 0;
	}
	s->groups = g;
	s->n_groups = (size_t)n;
	*ret_groups = g;
	return 0;
}

int ops_explain(struct core *c, const struct caller *who, const struct explain_request *req,
		char *text, size_t size, enum policy_verdict *ret_verdict, struct op_result *res)
{
	_cleanup_free_ gid_t *groups = NULL;
	struct policy_subject subj;
	struct policy_request preq;
	struct policy_decision d;
	const struct device *dev = NULL;
	char what[64] = "";
	FILE *f;

	result(res, 0, NULL);
	subject_of(who, &subj);
	if (req->device) {
		dev = backend_find_device(c->backend, req->device);
		if (!dev)
			return result(res, -ENODEV, "no device %s is managed by svmd", req->device);
	}
	if (req->has_uid && req->uid != who->uid) {
		if (who->uid != 0)
			return result(res, -EPERM, "only root may explain for another user");
		if (subject_for_uid(req->uid, &subj, &groups) < 0)
			return result(res, -ENOMEM, "out of memory");
	}
	f = fmemopen(text, size, "w");
	if (!f)
		return result(res, -ENOMEM, "out of memory");

	struct bind_args a = {.pasid = req->pasid};
	a.kind = req->op == POLICY_OP_BIND_TASK      ? SVMD_KIND_TASK
		 : req->op == POLICY_OP_BIND_PGTABLE ? SVMD_KIND_PGTABLE
						     : SVMD_KIND_DEVICE;
	if (a.kind == SVMD_KIND_TASK) {
		a.task.asked = req->pasid;
	} else {
		a.pgtable.addr_width = req->addr_width;
		a.pgtable.vtd_flags = req->vtd_flags;
	}
	request_of(req->op, dev, &a, false, &preq);
	if (req->op == POLICY_OP_BIND_TASK || req->op == POLICY_OP_BIND_PGTABLE) {
		if (req->pasid)
			snprintf(what, sizeof(what), " (PASID %u)", req->pasid);
		else
			snprintf(what, sizeof(what), " (PASID auto)");
	}
	fprintf(f, "%s%s%s%s for uid %u, policy generation %" PRIu64 ":\n", policy_op_name(req->op),
		dev ? " on " : "", dev ? dev->name : "", what, (unsigned)subj.uid, c->generation);

	struct explain_ctx x = {.f = f};
	policy_explain(c->policy, &subj, &preq, &d, explain_step, &x);
	if (d.rule)
		fprintf(f, "verdict: %s by %s:%u\n", d.verdict == POLICY_ALLOW ? "allow" : "deny",
			d.rule->file, d.rule->line);
	else if (req->op == POLICY_OP_RELOAD && subj.uid == 0)
		fprintf(f, "verdict: allow (root may always reload)\n");
	else
		fprintf(f, "verdict: deny (no rule matched: default deny)\n");
	fclose(f);
	/* fmemopen NUL-terminates within size; say so when the text did not fit. */
	if (strlen(text) >= size - 1 && size > 16)
		memcpy(text + size - 16, "\n(truncated)\n", 14);
	*ret_verdict =
		d.rule || subj.uid != 0 || req->op != POLICY_OP_RELOAD ? d.verdict : POLICY_ALLOW;
	return 0;
}
