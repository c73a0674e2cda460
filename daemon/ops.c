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
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "cleanup.h"
#include "log.h"
#include "ops.h"
#include "process.h"

struct core {
	struct event_base *base;
	struct backend *backend;
	struct policy *policy;
	struct registry *registry;
};

enum end_reason {
	END_UNBIND,
	END_SESSION,
	END_LEASE,
	END_PROCESS,
	END_SHUTDOWN,
};

static const char *const end_reasons[] = {
	[END_UNBIND] = "unbind",
	[END_SESSION] = "session ended",
	[END_LEASE] = "lease closed",
	[END_PROCESS] = "bound process exited",
	[END_SHUTDOWN] = "svmd shutting down",
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

struct core *core_new(struct event_base *base, struct backend *backend, struct policy *policy)
{
	struct core *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->registry = registry_new();
	if (!c->registry) {
		free(c);
		return NULL;
	}
	c->base = base;
	c->backend = backend;
	c->policy = policy;
	return c;
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
	if (w->process) {
		safe_close(event_get_fd(w->process));
		event_free(w->process);
	}
	if (w->lease) {
		safe_close(event_get_fd(w->lease));
		event_free(w->lease);
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
	struct seed_arg arg;
	char kwhy[256] = "";
	char reason[320];
	int r;
	watch_free(b->watch);
	b->watch = NULL;
	r = 0;
	if (b->args.kind != SVMD_KIND_DEVICE) {
		seed_encode(&arg, &b->args);
		r = c->backend->ops->svm_ioctl(c->backend, b->device, SEED_VFIO_IOMMU_SVM_UNBIND,
					       &arg, kwhy, sizeof(kwhy));
	}
	if (r < 0)
		/* Nothing more we can do than say so: the record goes either way. */
		log_error_errno(r, "Kernel refused to unbind binding %" PRIu64 " (%s PASID %u): %s",
				b->id, b->device->name, b->args.pasid, kwhy[0] ? kwhy : "%m");
	if (why == END_UNBIND && by && by->uid != b->user->uid)
		snprintf(reason, sizeof(reason), "unbind by uid %u", (unsigned)by->uid);
	else
		snprintf(reason, sizeof(reason), "%s", end_reasons[why]);
	audit_log(&(struct audit_record){
		.event = AUDIT_RELEASE,
		.uid = b->user->uid,
		.gid = b->owner_gid,
		.pid = b->owner_pid,
		.op = kind_op(b->args.kind),
		.device = b->device->name,
		.pasid = b->args.pasid,
		.binding = b->id,
		.rule_file = b->rule ? ((const struct policy_rule *)b->rule)->file : NULL,
		.rule_line = b->rule ? ((const struct policy_rule *)b->rule)->line : 0,
		.error = r < 0 ? -r : 0,
		.reason = reason,
	});
	registry_remove(c->registry, b);
}

struct core *core_free(struct core *c)
{
	struct binding *b;

	if (!c)
		return NULL;
	while ((b = registry_first_after(c->registry, 0)))
		end_binding(c, b, END_SHUTDOWN, NULL);
	registry_free(c->registry);
	policy_free(c->policy);
	backend_free(c->backend);
	free(c);
	return NULL;
}

static void on_process_exit(evutil_socket_t fd, short what, void *userdata)
{
	struct watch *w = userdata;

	(void)fd;
	(void)what;
	log_debug("Bound process of binding %" PRIu64 " exited.", w->binding->id);
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

static void audit_request(enum audit_event ev, const struct caller *who, uint32_t kind,
			  const char *device, uint32_t pasid, const struct policy_rule *rule,
			  uint64_t id, int error, const char *reason)
{
	audit_log(&(struct audit_record){
		.event = ev,
		.uid = who->uid,
		.gid = who->gid,
		.pid = who->pid,
		.op = kind_op(kind),
		.device = device,
		.pasid = pasid,
		.binding = id,
		.rule_file = rule ? rule->file : NULL,
		.rule_line = rule ? rule->line : 0,
		.error = error < 0 ? -error : error,
		.reason = reason,
	});
}

static struct seed_limits device_limits(const struct device *d)
{
	return (struct seed_limits){.pasid_bits = d->pasid_bits, .model = d->model};
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
	if (*ret_other) {
		r = process_same_user(fd, who->uid, why, sizeof(why));
		if (r == -EPERM)
			return result(res, r, "may not bind process %d: %s", pid, why);
		if (r < 0)
			return result(res, -ESRCH, "the process to bind has exited");
	}
	req->args.task.pid = pid;
	*ret_pidfd = TAKE_FD(fd);
	return 0;
}

/* Policy, then quotas: the matching rule's max= and svmd's own per-user ceiling. Audits a
 * refusal. Returns 0 with the deciding rule in *d, or -EACCES/-EDQUOT. */
static int authorise(struct core *c, const struct caller *who, uint32_t kind,
		     const struct device *dev, uint32_t pasid, bool other,
		     struct policy_decision *d, struct op_result *res)
{
	struct policy_subject subj = {
		.uid = who->uid,
		.gid = who->gid,
		.groups = who->groups,
		.n_groups = who->n_groups,
	};
	struct policy_request preq = {
		.op = kind_policy_op(kind),
		.device = dev->name,
		.pasid = pasid,
		.other_target = other,
	};

	policy_decide(c->policy, &subj, &preq, d);
	if (d->verdict != POLICY_ALLOW) {
		if (d->rule)
			result(res, -EACCES, "rule '%s' (%s:%u)", d->rule->text, d->rule->file,
			       d->rule->line);
		else
			result(res, -EACCES, "no rule matched (default deny)");
	} else if (d->rule->max_key &&
		   registry_count_rule(c->registry, who->uid, d->rule) >= d->rule->max) {
		result(res, -EDQUOT, "uid %u already holds %u binding%s under rule '%s' (%s:%u)",
		       (unsigned)who->uid, d->rule->max, d->rule->max == 1 ? "" : "s",
		       d->rule->text, d->rule->file, d->rule->line);
	} else if (registry_count_user(c->registry, who->uid) >= OPS_USER_BINDINGS_MAX) {
		result(res, -EDQUOT, "uid %u holds the most bindings svmd allows one user (%u)",
		       (unsigned)who->uid, OPS_USER_BINDINGS_MAX);
	} else {
		return 0;
	}
	audit_request(AUDIT_DENY, who, kind, dev->name, pasid, d->rule, 0, res->status,
		      res->reason);
	return res->status;
}

int ops_bind(struct core *c, struct session *s, const struct caller *who, struct bind_request *req,
	     struct op_result *res, struct binding **ret)
{
	struct bind_args *a = &req->args;
	_cleanup_close_ int pidfd = -1;
	struct policy_decision d;
	struct seed_arg arg;
	struct seed_limits lim;
	struct binding *b;
	const struct device *dev;
	bool other = false;
	char why[256];
	int r;

	result(res, 0, NULL);

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
			audit_request(AUDIT_FAIL, who, a->kind, dev->name, a->pasid, NULL, 0, r,
				      res->reason);
			return r;
		}
	} else {
		safe_close(TAKE_FD(req->target_pidfd));
	}
	seed_encode(&arg, a);
	lim = device_limits(dev);
	r = seed_check(&arg, sizeof(arg), &lim, why, sizeof(why));
	if (r < 0)
		return result(res, r, "invalid arguments for %s: %s", dev->name, why);

	/* 3. Authorise. */
	r = authorise(c, who, a->kind, dev, a->pasid, other, &d, res);
	if (r < 0)
		return r;

	/* 4. Conflicts we know of before asking the kernel. */
	if (a->kind != SVMD_KIND_TASK || a->pasid) {
		uint32_t key = registry_slot(a);
		b = registry_find_pasid(c->registry, dev, key);
		if (b) {
			if (key)
				result(res, -EBUSY, "PASID %u on %s is already bound%s", key,
				       dev->name, b->user->uid == who->uid ? " (by you)" : "");
			else
				result(res, -EBUSY, "a PASID table is already bound on %s%s",
				       dev->name, b->user->uid == who->uid ? " (by you)" : "");
			audit_request(AUDIT_FAIL, who, a->kind, dev->name, a->pasid, d.rule, 0,
				      -EBUSY, res->reason);
			return res->status;
		}
	}

	/* 5. Act. */
	seed_encode(&arg, a);
	why[0] = 0;
	r = c->backend->ops->svm_ioctl(c->backend, dev, SEED_VFIO_IOMMU_SVM_BIND, &arg, why,
				       sizeof(why));
	if (r < 0) {
		result(res, r, "kernel refused: %s", why[0] ? why : strerror(-r));
		audit_request(AUDIT_FAIL, who, a->kind, dev->name, a->pasid, d.rule, 0, r,
			      res->reason);
		return r;
	}
	if (a->kind == SVMD_KIND_TASK) {
		struct seed_svm_task t;
		memcpy(&t, seed_payload(&arg), sizeof(t));
		a->pasid = t.pasid;
	}

	/* 6. Commit: only for a target still alive after the bind (pid reuse), and only when
	 * the registry agrees the PASID is free; otherwise undo the kernel's part. */
	r = 0;
	if (a->kind == SVMD_KIND_TASK && !pidfd_alive(pidfd))
		r = result(res, -ESRCH, "the process to bind exited during the bind");
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
		}
	}
	if (!b) {
		seed_encode(&arg, a);
		c->backend->ops->svm_ioctl(c->backend, dev, SEED_VFIO_IOMMU_SVM_UNBIND, &arg, NULL,
					   0);
		audit_request(AUDIT_FAIL, who, a->kind, dev->name, a->pasid, d.rule, 0, r,
			      res->reason);
		return r;
	}

	/* 7. Audit. */
	audit_request(AUDIT_GRANT, who, a->kind, dev->name, a->pasid, d.rule, b->id, 0, NULL);
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
	r = authorise(c, who, SVMD_KIND_DEVICE, dev, 0, false, &d, res);
	if (r < 0)
		return r;
	b = registry_find_pasid(c->registry, dev, REGISTRY_DEVICE_SLOT);
	if (b) {
		result(res, -EBUSY, "%s is held by another client%s", dev->name,
		       b->user->uid == who->uid ? " of yours" : "");
		audit_request(AUDIT_FAIL, who, SVMD_KIND_DEVICE, dev->name, 0, d.rule, 0, -EBUSY,
			      res->reason);
		return res->status;
	}
	r = c->backend->ops->open_device(c->backend, dev, &fd, why, sizeof(why));
	if (r < 0) {
		result(res, r, "kernel refused: %s", why[0] ? why : strerror(-r));
		audit_request(AUDIT_FAIL, who, SVMD_KIND_DEVICE, dev->name, 0, d.rule, 0, r,
			      res->reason);
		return r;
	}
	b = registry_add(c->registry, s, d.rule, dev, &args);
	if (!b) {
		result(res, -ENOMEM, "out of memory");
		audit_request(AUDIT_FAIL, who, SVMD_KIND_DEVICE, dev->name, 0, d.rule, 0, -ENOMEM,
			      res->reason);
		return -ENOMEM;
	}
	audit_request(AUDIT_GRANT, who, SVMD_KIND_DEVICE, dev->name, 0, d.rule, b->id, 0, NULL);
	*ret_fd = TAKE_FD(fd);
	if (ret)
		*ret = b;
	return 0;
}

bool ops_visible(const struct caller *who, const struct binding *b)
{
	return who->uid == 0 || who->uid == b->user->uid;
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
	if (!b || b->user->uid != who->uid)
		return result(res, -ENOENT, "no binding %" PRIu64 " of yours", id);
	if (b->leased)
		return result(res, -EALREADY, "binding %" PRIu64 " is leased already", id);
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
	registry_lease(c->registry, b);
	*ret_fd = p[1];
	return 0;
}

void ops_session_end(struct core *c, struct session *s)
{
	if (!s)
		return;
	list_for_each_safe (pos, &s->bindings)
		end_binding(c, container_of(pos, struct binding, session_link), END_SESSION, NULL);
	registry_session_free(s);
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
	struct policy_subject subj = {
		.uid = who->uid,
		.gid = who->gid,
		.groups = who->groups,
		.n_groups = who->n_groups,
	};
	struct policy_decision d;
	const struct device *dev;
	char pasid[16];
	FILE *f;

	result(res, 0, NULL);
	dev = backend_find_device(c->backend, req->device);
	if (!dev)
		return result(res, -ENODEV, "no device %s is managed by svmd", req->device);
	if (req->has_uid && req->uid != who->uid) {
		if (who->uid != 0)
			return result(res, -EPERM, "only root may explain for another user");
		if (subject_for_uid(req->uid, &subj, &groups) < 0)
			return result(res, -ENOMEM, "out of memory");
	}
	f = fmemopen(text, size, "w");
	if (!f)
		return result(res, -ENOMEM, "out of memory");
	if (req->pasid)
		snprintf(pasid, sizeof(pasid), "%u", req->pasid);
	else
		snprintf(pasid, sizeof(pasid), "auto");
	fprintf(f, "%s on %s (PASID %s) for uid %u:\n", policy_op_name(req->op), dev->name, pasid,
		(unsigned)subj.uid);

	struct explain_ctx x = {.f = f};
	struct policy_request preq = {.op = req->op, .device = dev->name, .pasid = req->pasid};
	policy_explain(c->policy, &subj, &preq, &d, explain_step, &x);
	if (d.rule)
		fprintf(f, "verdict: %s by %s:%u\n", d.verdict == POLICY_ALLOW ? "allow" : "deny",
			d.rule->file, d.rule->line);
	else
		fprintf(f, "verdict: deny (no rule matched: default deny)\n");
	fclose(f);
	/* fmemopen NUL-terminates within size; say so when the text did not fit. */
	if (strlen(text) >= size - 1 && size > 16)
		memcpy(text + size - 16, "\n(truncated)\n", 14);
	*ret_verdict = d.verdict;
	return 0;
}
