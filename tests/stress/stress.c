/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of the check-stress load generators; see stress.h.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"
#include "svmd-bus.h"
#include "svmd-wire.h"

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
			      .tv_nsec = (long)(us % 1000000u) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void stress_user(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(name);

	if (!pw) {
		fprintf(stderr, "no user %s (tests/stress/lib.sh creates it, as root)\n", name);
		exit(2);
	}
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
}

void become(uid_t uid, gid_t gid)
{
	if (uid == 0 && geteuid() == 0)
		return;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	/* Changing uid made us non-dumpable, as a set-id program is; a user's own processes,
	 * which have exec'd as the user, are dumpable (and svmd binds only those). */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		_exit(126);
}

uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint32_t rnd_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)((rnd(state) >> 32) % n);
}

uint64_t rnd_seed(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0x9e3779b97f4a7c15ull);

	(void)rnd(&s);
	return s ? s : 1;
}

void *shared_new(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

struct tally *tally_new(size_t n)
{
	return shared_new(n * sizeof(struct tally));
}

void tally_add(struct tally *t, int r)
{
	unsigned e = (unsigned)(r < 0 ? -r : r);

	if (e >= TALLY_SLOTS)
		e = TALLY_SLOTS - 1;
	__atomic_fetch_add(&t->n[e], 1, __ATOMIC_RELAXED);
}

uint64_t tally_total(const struct tally *t)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < TALLY_SLOTS; i++)
		sum += __atomic_load_n(&t->n[i], __ATOMIC_RELAXED);
	return sum;
}

uint64_t tally_count(const struct tally *t, int err)
{
	unsigned e = (unsigned)(err < 0 ? -err : err);

	return e < TALLY_SLOTS ? __atomic_load_n(&t->n[e], __ATOMIC_RELAXED) : 0;
}

uint64_t tally_other(const struct tally *t, const int *allowed)
{
	uint64_t sum = 0;

	for (int e = 1; e < TALLY_SLOTS; e++) {
		bool ok = false;
		for (const int *a = allowed; a && *a; a++)
			ok |= *a == e || -*a == e;
		if (!ok)
			sum += tally_count(t, e);
	}
	return sum;
}

const char *errno_name(int err)
{
	static char buf[16];
	const char *s;

	if (err < 0)
		err = -err;
	if (err == 0)
		return "ok";
	s = strerrorname_np(err);
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

void tally_print(const char *key, const struct tally *t)
{
	bool first = true;

	printf("%s=", key);
	for (int e = 0; e < TALLY_SLOTS; e++) {
		uint64_t n = tally_count(t, e);
		if (!n)
			continue;
		printf("%s%s:%llu", first ? "" : ",",
		       e == TALLY_SLOTS - 1 ? "other" : errno_name(e), (unsigned long long)n);
		first = false;
	}
	printf("%s\n", first ? "none" : "");
}

void named_add(struct named_tally *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0) {
			t->count[i]++;
			return;
		}
	if (t->n == NAMED_MAX) {
		named_add(t, "(more)");
		return;
	}
	t->name[t->n] = strdup(name);
	if (!t->name[t->n])
		exit(2);
	t->count[t->n++] = 1;
}

void named_print(const char *key, const struct named_tally *t)
{
	printf("%s=", key);
	for (size_t i = 0; i < t->n; i++)
		printf("%s%s:%llu", i ? "," : "", t->name[i], (unsigned long long)t->count[i]);
	printf("%s\n", t->n ? "" : "none");
}

int proc_fd_count(pid_t pid)
{
	char path[64];
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	for (struct dirent *e; (e = readdir(dir));)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t percentile(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

int stress_bus_open(const char *address, bool fds, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, true);
	if (r >= 0)
		r = sd_bus_negotiate_fds(bus, fds);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

bool opt_str(const char *arg, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return false;
	*value = arg + n + 1;
	return true;
}

bool opt_uint(const char *arg, const char *name, unsigned long *value)
{
	const char *s;
	char *end;

	if (!opt_str(arg, name, &s))
		return false;
	errno = 0;
	*value = strtoul(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: not a number: %s\n", name, s);
		exit(2);
	}
	return true;
}

int raw_open(struct raw_client *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	struct svmd_hello_req hello = {.version_min = SVMD_VERSION, .version_max = SVMD_VERSION};
	struct svmd_hello_rep rep;
	int r;

	*c = (struct raw_client){.fd = -1, .timeout_ms = timeout_ms};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		raw_close(c);
		return r;
	}
	r = raw_call(c, SVMD_OP_HELLO, &hello, sizeof(hello), NULL, 0, &rep, sizeof(rep), NULL);
	if (r < 0)
		raw_close(c);
	return r;
}

void raw_close(struct raw_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int raw_call(struct raw_client *c, uint16_t op, const void *req, size_t len, const int *fds,
	     size_t n_fds, void *rep, size_t rep_size, int *ret_fd)
{
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	int in[SVMD_FDS_MAX];
	size_t n_in = 0;
	struct svmd_hdr h;
	int32_t status;
	ssize_t k;
	int n, r;

	if (ret_fd)
		*ret_fd = -1;
	if (c->fd < 0)
		return -ECONNRESET;
	n = svmd_frame(rec, op, ++c->seq, req, len);
	if (n < 0)
		return n;
	r = svmd_send(c->fd, rec, (size_t)n, fds, n_fds, 0);
	if (r == -EPIPE || r == -ECONNRESET)
		return -ECONNRESET;
	if (r < 0)
		return r == -EAGAIN ? -ETIMEDOUT : r;
	k = svmd_recv(c->fd, rec, in, &n_in, 0);
	if (k == 0 || k == -ECONNRESET)
		return -ECONNRESET;
	if (k == -EAGAIN)
		return -ETIMEDOUT;
	if (k < 0)
		return -EPROTO;
	if (svmd_parse(rec, (size_t)k, &h) < 0 || h.opcode != (op | SVMD_REPLY) ||
	    h.seq != c->seq || svmd_reply_check(op, rec + sizeof(h), h.len, n_in) < 0) {
		svmd_close_fds(in, n_in);
		return -EPROTO;
	}
	memcpy(&status, rec + sizeof(h), sizeof(status));
	if (rep)
		memcpy(rep, rec + sizeof(h), h.len < rep_size ? h.len : rep_size);
	if (ret_fd && n_in) {
		*ret_fd = in[0];
		in[0] = -1;
	}
	svmd_close_fds(in, n_in);
	return status;
}

int raw_bind_pgtable(struct raw_client *c, const char *device, uint32_t pasid, uint64_t *ret_id)
{
	struct svmd_bind_pgtable_req req = {
		.pasid = pasid, .addr_width = 48, .gpgd = 0x10000, .format = 1};
	struct svmd_bind_rep rep = {0};
	int r;

	svmd_set_name(req.device, sizeof(req.device), device);
	r = raw_call(c, SVMD_OP_BIND_PGTABLE, &req, sizeof(req), NULL, 0, &rep, sizeof(rep), NULL);
	if (r == 0 && ret_id)
		*ret_id = rep.id;
	return r;
}

int raw_bind_task(struct raw_client *c, const char *device, int pidfd, uint64_t *ret_id)
{
	struct svmd_bind_task_req req = {0};
	struct svmd_bind_rep rep = {0};
	int r;

	svmd_set_name(req.device, sizeof(req.device), device);
	r = raw_call(c, SVMD_OP_BIND_TASK, &req, sizeof(req), pidfd >= 0 ? &pidfd : NULL,
		     pidfd >= 0 ? 1 : 0, &rep, sizeof(rep), NULL);
	if (r == 0 && ret_id)
		*ret_id = rep.id;
	return r;
}

int raw_lease(struct raw_client *c, uint64_t id, int *ret_fd)
{
	struct svmd_id_req req = {.id = id};
	struct svmd_status_rep rep;
	int fd = -1, r;

	r = raw_call(c, SVMD_OP_LEASE, &req, sizeof(req), NULL, 0, &rep, sizeof(rep), &fd);
	if (r == 0 && fd < 0)
		return -EPROTO;
	if (r == 0)
		*ret_fd = fd;
	return r;
}

int raw_unbind(struct raw_client *c, uint64_t id)
{
	struct svmd_id_req req = {.id = id};
	struct svmd_status_rep rep;

	return raw_call(c, SVMD_OP_UNBIND, &req, sizeof(req), NULL, 0, &rep, sizeof(rep), NULL);
}

int raw_list(struct raw_client *c, uint32_t *ret_n)
{
	struct svmd_list_req req = {0};
	struct svmd_list_rep rep = {0};
	int r;

	r = raw_call(c, SVMD_OP_LIST, &req, sizeof(req), NULL, 0, &rep, sizeof(rep), NULL);
	if (r == 0 && ret_n)
		*ret_n = rep.n;
	return r;
}

int bus_call(sd_bus *bus, const char *method, int timeout_ms, struct named_tally *names,
	     sd_bus_message **reply, const char *types, ...)
{
	sd_bus_message *m = NULL, *rep = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	(void)sd_bus_error_add_map(svmd_bus_errors);
	r = sd_bus_message_new_method_call(bus, &m, SVMD_BUS_NAME, SVMD_BUS_PATH,
					   SVMD_BUS_INTERFACE, method);
	if (r >= 0 && types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
	}
	if (r >= 0)
		r = sd_bus_call(bus, m, (uint64_t)timeout_ms * 1000, &e, &rep);
	if (r < 0 && sd_bus_error_is_set(&e)) {
		int k = sd_bus_error_get_errno(&e);
		if (names)
			named_add(names, e.name);
		r = k > 0 ? -k : -EIO;
	} else if (r < 0 && names) {
		named_add(names, errno_name(r));
	} else if (names) {
		named_add(names, "ok");
	}
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
	if (reply && r >= 0)
		*reply = rep;
	else
		sd_bus_message_unref(rep);
	return r < 0 ? r : 0;
}
