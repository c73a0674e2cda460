/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The request recipes' test fixture; see ops-fixture.h.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend-sim.h"
#include "ops-fixture.h"
#include "policy-load.h"
#include "process.h"
#include "sim-kernel.h"

static const char policy_text[] =
	"allow bind-pgtable user=1000 device=0000:3b:00.0 pasid=100-199 max=2\n"
	"allow bind-pgtable user=1000 device=0000:3b:00.0 pasid=200-299 rate=2/s\n"
	"allow bind-pgtable user=1000 device=0000:5e:00.0 pasid=1-9\n"
	"allow bind-pasid-table user=1000 device=0000:3c:00.0 max-device=1\n"
	"allow open-device user=1000 device=0000:3b:00.0\n"
	"allow bind-task user=0 device=0000:3b:00.0 pasid=auto targets=same-user\n"
	"deny * user=1001\n"
	"allow reload user=1002\n"
	"allow map user=1000 device=0000:3b:00.0 iova=0x100000-0x1fffffff max-bytes=1M\n"
	"allow map user=1002 device=0000:3b:00.0 iova=0x100000-0x1fffffff max-device-bytes=2M\n"
	"allow map user=1000,1002 device=0000:3c:00.0\n"
	"allow open-device user=1000,1002 device=0000:3c:00.0\n";

struct rec recs[64];
size_t n_recs;

const char *event_name(enum audit_event e)
{
	static const char *const names[] = {"grant", "deny", "fail", "release", "reload"};
	return e < ELEMENTSOF(names) ? names[e] : "?";
}

void audit_log(const struct audit_record *r)
{
	cr_assert_lt(n_recs, ELEMENTSOF(recs), "more records than any test makes");
	struct rec *x = &recs[n_recs++];
	*x = (struct rec){
		.event = r->event,
		.uid = r->who ? r->who->uid : 0,
		.pasid = r->pasid,
		.binding = r->binding,
		.error = r->error,
		.has_rule = r->rule_file != NULL,
	};
	snprintf(x->op, sizeof(x->op), "%s", r->op);
	snprintf(x->reason, sizeof(x->reason), "%s", r->reason ? r->reason : "");
}

/* The allocator and the other calls the modules make that can fail: the Nth one from when
 * fail_countdown is set (0: the next) fails, once. */
long fail_countdown = -1;
bool failed;

static bool fail_now(void)
{
	if (fail_countdown < 0)
		return false;
	if (fail_countdown-- > 0)
		return false;
	failed = true;
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t n, size_t size);
char *__real_strdup(const char *s);
struct event *__real_event_new(struct event_base *b, evutil_socket_t fd, short what,
			       event_callback_fn cb, void *arg);
int __real_pipe2(int fds[2], int flags);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

void *__wrap_reallocarray(void *p, size_t n, size_t size)
{
	return fail_now() ? NULL : __real_reallocarray(p, n, size);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

struct event *__wrap_event_new(struct event_base *b, evutil_socket_t fd, short what,
			       event_callback_fn cb, void *arg)
{
	return fail_now() ? NULL : __real_event_new(b, fd, what, cb, arg);
}

int __wrap_pipe2(int fds[2], int flags)
{
	if (fail_now()) {
		errno = EMFILE;
		return -1;
	}
	return __real_pipe2(fds, flags);
}

/* The kernel refuses what the test asks it to (0: nothing), then answers as the sim would. */
int refuse_check, refuse_bind, refuse_unbind, refuse_open;
const struct backend_ops *sim;
struct backend_ops hooked;

static int hooked_check(struct backend *b, const struct device *dev, const struct bind_args *a,
			char *why, size_t whylen)
{
	if (refuse_check)
		return snprintf(why, whylen, "refused by the test"), refuse_check;
	return sim->check(b, dev, a, why, whylen);
}

static int hooked_bind(struct backend *b, const struct device *dev, struct bind_args *a, char *why,
		       size_t whylen)
{
	if (refuse_bind)
		return snprintf(why, whylen, "refused by the test"), refuse_bind;
	return sim->bind(b, dev, a, why, whylen);
}

static int hooked_unbind(struct backend *b, const struct device *dev, const struct bind_args *a,
			 char *why, size_t whylen)
{
	int r = sim->unbind(b, dev, a, why, whylen);

	/* The kernel unbinds and then says it could not: svmd must not keep the binding. */
	return refuse_unbind && r == 0 ? refuse_unbind : r;
}

static int hooked_open(struct backend *b, struct backend_space *s, const struct device *dev,
		       int *ret_fd, char *why, size_t whylen)
{
	if (refuse_open)
		return snprintf(why, whylen, "refused by the test"), refuse_open;
	return sim->open_device(b, s, dev, ret_fd, why, whylen);
}

/* Guest tables nested in a client's space, as a backend with spaces binds them
 * (backend-iommufd.c's nest_bind, bind_space, invalidate): what each holds is an allocation
 * and, for a PASID table, a pipe (its vEVENTQ: the backend keeps one end, the client gets the
 * other), so that a leak on any path shows in the allocator, the fd count or nested(). */
struct fake_nest {
	const struct device *dev; /* NULL: a free slot */
	uint32_t kind, pasid;
	void *mem;
	int fd;
};
static struct fake_nest fake_nests[8];
unsigned n_invalidated;

static struct fake_nest *fake_find(const struct device *dev, uint32_t kind, uint32_t pasid)
{
	for (size_t i = 0; i < ELEMENTSOF(fake_nests); i++)
		if (fake_nests[i].dev == dev && fake_nests[i].kind == kind &&
		    fake_nests[i].pasid == pasid)
			return &fake_nests[i];
	return NULL;
}

static int fake_add(const struct device *dev, const struct bind_args *a, int fd, char *why,
		    size_t whylen)
{
	struct fake_nest *n = fake_find(NULL, 0, 0);
	void *mem;

	if (fake_find(dev, a->kind, a->pasid))
		return snprintf(why, whylen, "bound already"), -EBUSY;
	if (!n || !(mem = malloc(32)))
		return snprintf(why, whylen, "out of memory"), -ENOMEM;
	*n = (struct fake_nest){
		.dev = dev, .kind = a->kind, .pasid = a->pasid, .mem = mem, .fd = fd};
	return 0;
}

static void fake_remove(struct fake_nest *n)
{
	free(n->mem);
	if (n->fd >= 0)
		close(n->fd);
	*n = (struct fake_nest){.fd = -1};
}

static int fake_nest_bind(struct backend *b, struct backend_space *s, const struct device *dev,
			  struct bind_args *a, char *why, size_t whylen)
{
	(void)b, (void)s;
	return fake_add(dev, a, -1, why, whylen);
}

static int fake_nest_unbind(struct backend *b, struct backend_space *s, const struct device *dev,
			    const struct bind_args *a, char *why, size_t whylen)
{
	struct fake_nest *n = fake_find(dev, a->kind, a->pasid);

	(void)b, (void)s;
	if (!n)
		return snprintf(why, whylen, "not bound"), -ENOENT;
	fake_remove(n);
	return 0;
}

static int fake_bind_space(struct backend *b, struct backend_space *s, const struct device *dev,
			   struct bind_args *a, char *why, size_t whylen)
{
	int p[2], r;

	(void)b, (void)s;
	if (pipe2(p, O_CLOEXEC) < 0)
		return snprintf(why, whylen, "no vEVENTQ: %s", strerror(errno)), -errno;
	r = fake_add(dev, a, p[0], why, whylen);
	if (r < 0) {
		close(p[0]);
		close(p[1]);
		return r;
	}
	a->table.event_fd = p[1];
	return 0;
}

static void fake_unbind_space(struct backend *b, struct backend_space *s, const struct device *dev,
			      const struct bind_args *a)
{
	struct fake_nest *n = fake_find(dev, a->kind, a->pasid);

	(void)b, (void)s;
	cr_assert_not_null(n, "unbind_space of a table never bound");
	fake_remove(n);
}

static int fake_invalidate(struct backend *b, struct backend_space *s, const struct device *dev,
			   const struct bind_args *a, uint32_t type,
			   const struct svmd_invalidate_entry *e, uint32_t n, uint32_t *ret_done,
			   char *why, size_t whylen)
{
	uint32_t want =
		a->kind == SVMD_KIND_PASID_TABLE ? SVMD_INVALIDATE_SMMUV3 : SVMD_INVALIDATE_VTD_S1;

	(void)b, (void)s, (void)e;
	*ret_done = 0;
	if (!fake_find(dev, a->kind, a->pasid))
		return snprintf(why, whylen, "no table"), -ENOENT;
	if (type != want)
		return snprintf(why, whylen, "type %u: this table takes %u", type, want),
		       -EOPNOTSUPP;
	n_invalidated++;
	*ret_done = n;
	return 0;
}

void fake_nesting(void)
{
	hooked.nest_bind = fake_nest_bind;
	hooked.nest_unbind = fake_nest_unbind;
	hooked.bind_space = fake_bind_space;
	hooked.unbind_space = fake_unbind_space;
	hooked.invalidate = fake_invalidate;
}

size_t nested(const char *device)
{
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(fake_nests); i++)
		n += fake_nests[i].dev && strcmp(fake_nests[i].dev->name, device) == 0;
	return n;
}

struct ops_fixture f;

static uint64_t fake_clock(void *userdata)
{
	(void)userdata;
	return f.now_usec;
}

static void on_added(void *userdata, struct binding *b)
{
	(void)userdata, (void)b;
	f.added++;
}

static void on_removed(void *userdata, struct binding *b, const struct core_end *end)
{
	(void)userdata, (void)b;
	f.removed++;
	f.last_end = (int)end->why;
	snprintf(f.last_end_text, sizeof(f.last_end_text), "%s", end->text ? end->text : "");
}

static const struct core_hooks hooks = {.binding_added = on_added, .binding_removed = on_removed};

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

void write_policy(const char *name, const char *text)
{
	char path[128];
	FILE *p;

	snprintf(path, sizeof(path), "%s/%s", f.dir, name);
	p = fopen(path, "we");
	cr_assert_not_null(p);
	fputs(text, p);
	fclose(p);
}

struct session *session_of(uid_t uid, bool pinned)
{
	struct identity *who = NULL;
	struct session *s = NULL;

	cr_assert_eq(identity_new(uid, uid, getpid(), &who), 0);
	if (pinned)
		who->pidfd = pidfd_open_pid(getpid());
	cr_assert_eq(ops_session_new(f.core, who, 0, &s), 0);
	identity_unref(who);
	return s;
}

void setup(void)
{
	const char *dirs[1];
	struct backend *be = NULL;
	struct policy *p = NULL;
	char err[256];

	memset(&f, 0, sizeof(f));
	f.last_end = -1;
	n_recs = 0;
	refuse_check = refuse_bind = refuse_unbind = refuse_open = 0;
	n_invalidated = 0;
	for (size_t i = 0; i < ELEMENTSOF(fake_nests); i++)
		fake_nests[i] = (struct fake_nest){.fd = -1};
	f.baseline_fds = count_fds();
	snprintf(f.dir, sizeof(f.dir), "/tmp/svmd-test-ops.XXXXXX");
	cr_assert_not_null(mkdtemp(f.dir));
	write_policy("50-test.policy", policy_text);
	dirs[0] = f.dir;
	cr_assert_eq(policy_load(dirs, 1, &p), 0);
	cr_assert_eq(p->n_errors, 0, "%s", p->n_diags ? p->diags[0] : "");
	cr_assert_eq(backend_sim_new(NULL, &be, err, sizeof(err)), 0, "%s", err);
	f.kernel = backend_sim_kernel(be);
	sim = be->ops;
	hooked = *sim;
	hooked.check = hooked_check;
	hooked.bind = hooked_bind;
	hooked.unbind = hooked_unbind;
	hooked.open_device = hooked_open;
	be->ops = &hooked;
	f.base = event_base_new();
	cr_assert_eq(core_new(f.base, be, p, dirs, 1, &f.core), 0);
	limits_free(f.core->limits);
	cr_assert_eq(limits_new(fake_clock, NULL, &f.core->limits), 0);
	core_set_hooks(f.core, CORE_FRONTEND_BUS, &hooks, NULL);
	f.alice = session_of(ALICE, false);
	f.bob = session_of(BOB, false);
	f.carol = session_of(CAROL, false);
	f.root = session_of(0, true);
}

pid_t child = -1;

void teardown(void)
{
	fail_countdown = -1;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	ops_session_end(f.core, f.alice);
	ops_session_end(f.core, f.bob);
	ops_session_end(f.core, f.carol);
	ops_session_end(f.core, f.root);
	f.core = core_free(f.core);
	event_base_free(f.base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f.dir);
	cr_assert_eq(system(cmd), 0);
}

size_t bound(const char *device)
{
	return sim_kernel_n_bound(f.kernel, device) + nested(device);
}

struct bind_request pgtable(const char *device, uint32_t pasid)
{
	return (struct bind_request){
		.device = device,
		.target_pidfd = -1,
		.args = {.kind = SVMD_KIND_PGTABLE,
			 .pasid = pasid,
			 .pgtable = {.gpgd = 0x10000,
				     .addr_width = 48,
				     .format = SVMD_PGTABLE_FORMAT_VTD}},
	};
}

/* One request of s: its status, and the one record it wrote. */
int bind_pgtable(struct session *s, const char *device, uint32_t pasid, struct binding **ret)
{
	struct bind_request req = pgtable(device, pasid);
	struct op_result res;
	struct binding *b = NULL;
	int r;

	n_recs = 0;
	r = ops_bind(f.core, s, &req, &res, &b);
	cr_assert_eq(r, res.status);
	cr_assert_eq(n_recs, 1, "one record per request, not %zu", n_recs);
	if (r == 0) {
		ops_commit(f.core, b);
		if (ret)
			*ret = b;
	}
	return r;
}

void assert_record(enum audit_event event, const char *op, int error, const char *reason)
{
	cr_assert_eq(n_recs, 1, "%zu records", n_recs);
	cr_assert_eq(recs[0].event, event, "%s, not %s", event_name(recs[0].event),
		     event_name(event));
	cr_assert_str_eq(recs[0].op, op);
	cr_assert_eq(recs[0].error, error, "errno %d", recs[0].error);
	if (reason && reason[0])
		cr_assert(strstr(recs[0].reason, reason), "'%s' not in '%s'", reason,
			  recs[0].reason);
}
