/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make bench's driver: starts svmd and the baselines it is compared with (pinned to CPUs),
 * drives them with clients running as the bench user, and measures every svmd figure in the
 * same run as its baseline, alternating the two round by round. Prints the table and writes
 * results.json. Exits 1 when a scenario could not run (it is listed as FAILED, with why).
 *
 * Usage: svmd-bench --build=DIR --workdir=DIR --json=FILE [--bus=ADDRESS] [--user=NAME]
 *                   [--cpu=N] [--server-cpu=N] [--client-cpu=N] [--quick]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "svmclient.h"

#define N_DEVICES     8
#define IDLE_CONNS    10000
#define SCALE_SMALL   100
#define SCALE_LARGE   100000
#define POLICY_RULES  1000
#define HUGE_RULES    100000   /* scenario 5's largest tree */
#define MEASURE_PASID 1000000u /* above every PASID the scale scenario fills */
#define NAIVE_NAME    "org.svmd.BenchNaive1"
#define SVMD_NAME     "org.svmd.Broker1"
#define BUS_PATH      "/org/svmd/Broker1"
#define BUS_IFACE     "org.svmd.Broker1"

static struct {
	const char *build, *workdir, *json, *bus;
	const char *user;
	uid_t uid;
	gid_t gid;
	bool drop;                  /* clients switch to the bench user */
	int cpu;                    /* latency: clients and servers share it */
	int server_cpu, client_cpu; /* throughput and reload under load */
	double scale;               /* --quick: fewer rounds */
	int nice;                   /* of every process the driver starts */
} opt = {.cpu = 1, .server_cpu = 0, .client_cpu = 1, .scale = 1.0};

/* Results. */

enum verdict { V_PASS, V_MISS, V_INFO, V_FAILED, V_SKIPPED };
static const char *const verdict_names[] = {"PASS", "MISS", "info", "FAILED", "SKIPPED"};

struct row {
	char id[8];
	char what[72];
	char unit[12];
	double svmd, base, ratio;
	bool has_base, has_ratio;
	int runs;
	double svmd_lo, svmd_hi, base_lo, base_hi; /* spread: min and max of the runs' figures */
	bool has_spread;
	char target[24];
	enum verdict verdict;
	char note[240];
	char extra[512]; /* more JSON members, each starting with a comma */
};

static struct row rows[64];
static size_t n_rows;
static bool any_failed;

static struct row *row_new(const char *id, const char *what, const char *unit)
{
	struct row *r = &rows[n_rows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->verdict = V_INFO;
	return r;
}

static _Noreturn __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "svmd-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* A scenario that could not run: one FAILED row saying why. */
static __attribute__((format(printf, 3, 4))) void row_failed(const char *id, const char *what,
							     const char *fmt, ...)
{
	struct row *r = row_new(id, what, "");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	r->verdict = V_FAILED;
	any_failed = true;
	fprintf(stderr, "svmd-bench: scenario %s FAILED: %s\n", id, r->note);
}

/* Statistics. */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v and returns its q-quantile (nearest rank). */
static double quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)ceil(q * (double)n);
	return v[i ? i - 1 : 0];
}

struct summary {
	double median;   /* of the runs' medians */
	double lo, hi;   /* the smallest and largest run median */
	double p50, p99; /* over every sample */
};

/* runs x per_run samples (run-major) into a summary. */
static struct summary summarize(const double *samples, int runs, size_t per_run)
{
	struct summary s;
	double *meds = calloc((size_t)runs, sizeof(double));
	double *all = malloc((size_t)runs * per_run * sizeof(double));
	double *tmp = malloc(per_run * sizeof(double));

	if (!meds || !all || !tmp)
		die("out of memory");
	for (int r = 0; r < runs; r++) {
		memcpy(tmp, samples + (size_t)r * per_run, per_run * sizeof(double));
		meds[r] = quantile(tmp, per_run, 0.5);
	}
	memcpy(all, samples, (size_t)runs * per_run * sizeof(double));
	s.p50 = quantile(all, (size_t)runs * per_run, 0.5);
	s.p99 = quantile(all, (size_t)runs * per_run, 0.99);
	s.median = quantile(meds, (size_t)runs, 0.5);
	s.lo = meds[0];
	s.hi = meds[runs - 1];
	free(meds);
	free(all);
	free(tmp);
	return s;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void sleep_ms(double ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)fmod(ms * 1e6, 1e9)};
	nanosleep(&ts, NULL);
}

static int scaled(int n)
{
	int k = (int)(n * opt.scale);
	return k < 3 ? 3 : k;
}

/* Processes. */

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "svmd-bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static void *shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu bytes: %s", size, strerror(errno));
	return p;
}

/* In a forked client: the CPU, then the bench user's identity (groups too). */
static void become_client(int cpu)
{
	pin(cpu);
	if (!opt.drop)
		return;
	if (initgroups(opt.user, opt.gid) < 0 || setresgid(opt.gid, opt.gid, opt.gid) < 0 ||
	    setresuid(opt.uid, opt.uid, opt.uid) < 0) {
		fprintf(stderr, "svmd-bench: cannot become %s: %s\n", opt.user, strerror(errno));
		_exit(1);
	}
}

struct server {
	pid_t pid;
	char name[32];
	char socket[256];
	char log[256];
};

/* Starts argv pinned to cpu with stdout and stderr to log, and RLIMIT_NOFILE nofile if not 0. */
static pid_t spawn(const char *const *argv, int cpu, const char *log, rlim_t nofile)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		pin(cpu);
		if (nofile) {
			/* Raising the hard limit needs CAP_SYS_RESOURCE; without it, svmd
			 * works within the hard limit it has (it raises its soft limit). */
			struct rlimit rl = {nofile, nofile};
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "svmd-bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static bool can_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(sa.sun_path, path, strlen(path));
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool file_has(const char *path, const char *needle)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* The last line of a log, for error messages. */
static const char *log_tail(const char *path)
{
	static char last[512];
	char line[512];
	FILE *f = fopen(path, "re");

	last[0] = 0;
	if (!f)
		return "(no log)";
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			snprintf(last, sizeof(last), "%s", line);
	fclose(f);
	last[strcspn(last, "\n")] = 0;
	return last;
}

/* Waits until the server accepts on its socket (or, with ready_text, logs it). */
static int server_wait(struct server *s, const char *ready_text, char *err, size_t errlen)
{
	for (int i = 0; i < 1000; i++) {
		int status;
		if (ready_text ? file_has(s->log, ready_text) : can_connect(s->socket))
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			snprintf(err, errlen, "%s exited at start-up: %s", s->name,
				 log_tail(s->log));
			return -1;
		}
		sleep_ms(10);
	}
	snprintf(err, errlen, "%s did not become ready: %s", s->name, log_tail(s->log));
	return -1;
}

static void server_stop(struct server *s)
{
	int status;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
}

/* svmd on the bench topology; policy_dir NULL: the 1,000-rule policy. */
static int start_svmd_with(struct server *s, const char *name, int cpu, const char *policy_dir,
			   const char *bus, rlim_t nofile, const char *extra, char *err,
			   size_t errlen)
{
	char svmd[512], topo[512], pol[512], sock[300], busarg[512];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->socket, sizeof(s->socket), "%s/%s.sock", opt.workdir, name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", opt.workdir, name);
	snprintf(svmd, sizeof(svmd), "%s/svmd", opt.build);
	snprintf(topo, sizeof(topo), "--sim-topology=%s/topology", opt.workdir);
	snprintf(pol, sizeof(pol), "--policy-dir=%s", policy_dir);
	snprintf(sock, sizeof(sock), "--socket=%s", s->socket);
	snprintf(busarg, sizeof(busarg), "--bus=%s", bus ? bus : "none");
	/* The audit trail goes to stderr, which is the log file: every record is written to
	 * disk, as the journal would store it. A name ending in "-devnull" sends it to /dev/null
	 * instead, to show what writing it costs. */
	const char *argv[] = {svmd,   "--backend=sim",  topo,  pol, sock,
			      busarg, "--audit=stderr", extra, NULL};
	size_t n = strlen(name);
	bool devnull = n > 8 && strcmp(name + n - 8, "-devnull") == 0;
	s->pid = spawn(argv, cpu, devnull ? "/dev/null" : s->log, nofile);
	return server_wait(s, bus ? "serving on" : NULL, err, errlen);
}

static int start_svmd(struct server *s, const char *name, int cpu, const char *policy_dir,
		      const char *bus, rlim_t nofile, char *err, size_t errlen)
{
	return start_svmd_with(s, name, cpu, policy_dir, bus, nofile, NULL, err, errlen);
}

static int start_echo(struct server *s, int cpu, char *err, size_t errlen)
{
	char exe[512];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "echo-server");
	snprintf(s->socket, sizeof(s->socket), "%s/echo.sock", opt.workdir);
	snprintf(s->log, sizeof(s->log), "%s/echo.log", opt.workdir);
	snprintf(exe, sizeof(exe), "%s/bench/echo-server", opt.build);
	const char *argv[] = {exe, s->socket, NULL};
	s->pid = spawn(argv, cpu, s->log, 0);
	return server_wait(s, NULL, err, errlen);
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The soft RLIMIT_NOFILE of a process, from /proc/PID/limits. */
static long fd_limit(pid_t pid)
{
	char path[64], line[256];
	long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %ld", &soft) == 1)
			break;
	fclose(f);
	return soft;
}

/* Runs fn(arg) in a child process; returns its exit status (0 is success). */
static int run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg) == 0 ? 0 : 1);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Clients: one bind+unbind round trip per call, over the socket (libsvmclient) or D-Bus. */

static const char *device_name(unsigned i)
{
	static char names[N_DEVICES][16];

	snprintf(names[i % N_DEVICES], 16, "0000:%02x:00.0", 0xb0 + i % N_DEVICES);
	return names[i % N_DEVICES];
}

struct target {
	const char *socket; /* socket targets */
	const char *dest;   /* bus targets: the bus name */
	struct svm_client *c;
	sd_bus *bus;
	unsigned dev;
	uint32_t pasid;
	char error[256];
};

static int target_open(struct target *t)
{
	int r;

	if (t->socket) {
		r = svm_connect(t->socket, &t->c);
		if (r < 0)
			snprintf(t->error, sizeof(t->error), "connect %s: %s", t->socket,
				 strerror(-r));
		return r;
	}
	r = sd_bus_new(&t->bus);
	if (r >= 0)
		r = sd_bus_set_address(t->bus, opt.bus);
	if (r >= 0)
		r = sd_bus_set_bus_client(t->bus, true);
	if (r >= 0)
		r = sd_bus_start(t->bus);
	if (r < 0)
		snprintf(t->error, sizeof(t->error), "bus %s: %s", opt.bus, strerror(-r));
	return r;
}

static void target_close(struct target *t)
{
	t->c = svm_disconnect(t->c);
	if (t->bus)
		t->bus = sd_bus_flush_close_unref(t->bus);
}

static int bus_bind_unbind(struct target *t)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	uint64_t id = 0;
	int r;

	/* The same message libsvmclient sends for svm_bind_pgtable() over the bus. */
	r = sd_bus_message_new_method_call(t->bus, &m, t->dest, BUS_PATH, BUS_IFACE, "BindPgtable");
	if (r >= 0)
		r = sd_bus_message_append(m, "sutu", device_name(t->dev), t->pasid,
					  (uint64_t)0x1000 * t->pasid, 48);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}{sv}{sv}", "vtd-flags", "t", (uint64_t)0, "pat",
					  "u", 0, "emt", "u", 0);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_call(t->bus, m, 0, &error, &reply);
	if (r >= 0)
		r = sd_bus_message_read(reply, "to", &id, NULL);
	m = sd_bus_message_unref(m);
	reply = sd_bus_message_unref(reply);
	if (r >= 0)
		r = sd_bus_call_method(t->bus, t->dest, BUS_PATH, BUS_IFACE, "Unbind", &error, NULL,
				       "t", id);
	if (r < 0)
		snprintf(t->error, sizeof(t->error), "%s: %s", t->dest,
			 error.message ? error.message : strerror(-r));
	sd_bus_error_free(&error);
	return r;
}

static int bind_unbind(struct target *t)
{
	struct svm_pgtable pg = {
		.pasid = t->pasid,
		.addr_width = 48,
		.gpgd = (uint64_t)0x1000 * t->pasid,
	};
	uint64_t id;
	int r;

	if (t->bus)
		return bus_bind_unbind(t);
	r = svm_bind_pgtable(t->c, device_name(t->dev), &pg, &id);
	if (r >= 0)
		r = svm_unbind(t->c, id);
	if (r < 0)
		snprintf(t->error, sizeof(t->error), "%s: %s%s%s", t->socket, svm_strerror(r),
			 svm_reason(t->c) ? ": " : "", svm_reason(t->c) ? svm_reason(t->c) : "");
	return r;
}

/* Latency: two targets, alternating rounds, one sample per bind+unbind. */

struct latency {
	struct target a, b; /* a: the baseline, b: svmd */
	int runs, per_run, warmup;
	double *sa, *sb; /* shared: runs * per_run each, in µs */
	char *error;     /* shared */
	/* Optional set-up in the child once connected (holders); then, in a staged run, it
	 * writes one byte to ready_fd and waits for one on go_fd before measuring. */
	int (*setup)(struct latency *l);
	void *setup_data;
	int ready_fd, go_fd;
};

static int measure(struct target *t, double *out, int n)
{
	for (int i = 0; i < n; i++) {
		double t0 = now_ns();
		if (bind_unbind(t) < 0)
			return -1;
		out[i] = (now_ns() - t0) / 1e3;
	}
	return 0;
}

static int latency_child(void *arg)
{
	struct latency *l = arg;
	double *scratch = calloc((size_t)l->warmup + 1, sizeof(double));
	int r = 0;

	become_client(opt.cpu);
	if (target_open(&l->a) < 0 || target_open(&l->b) < 0) {
		snprintf(l->error, 256, "%s", l->a.error[0] ? l->a.error : l->b.error);
		return 1;
	}
	if (l->setup && l->setup(l) < 0)
		return 1;
	if (l->ready_fd >= 0) {
		char c = 0;
		if (write(l->ready_fd, "r", 1) != 1 || read(l->go_fd, &c, 1) != 1)
			return 1;
	}
	if (measure(&l->a, scratch, l->warmup) < 0 || measure(&l->b, scratch, l->warmup) < 0)
		r = -1;
	for (int i = 0; r == 0 && i < l->runs; i++) {
		double *pa = l->sa + (size_t)i * l->per_run, *pb = l->sb + (size_t)i * l->per_run;
		/* Alternate which goes first, so drift favours neither. */
		if (i % 2 == 0)
			r = measure(&l->a, pa, l->per_run) < 0 ||
			    measure(&l->b, pb, l->per_run) < 0;
		else
			r = measure(&l->b, pb, l->per_run) < 0 ||
			    measure(&l->a, pa, l->per_run) < 0;
	}
	if (r)
		snprintf(l->error, 256, "%s", l->a.error[0] ? l->a.error : l->b.error);
	target_close(&l->a);
	target_close(&l->b);
	free(scratch);
	return r ? 1 : 0;
}

static void latency_init(struct latency *l, int runs, int per_run, int warmup)
{
	memset(l, 0, sizeof(*l));
	l->runs = runs;
	l->per_run = per_run;
	l->warmup = warmup;
	l->sa = shared((size_t)runs * per_run * sizeof(double));
	l->sb = shared((size_t)runs * per_run * sizeof(double));
	l->error = shared(256);
	l->ready_fd = l->go_fd = -1;
}

static void latency_free(struct latency *l)
{
	munmap(l->sa, (size_t)l->runs * l->per_run * sizeof(double));
	munmap(l->sb, (size_t)l->runs * l->per_run * sizeof(double));
	munmap(l->error, 256);
}

/* Fills a latency row: svmd is b, the baseline a. */
static struct row *latency_row(const struct latency *l, const char *id, const char *what,
			       double target, const char *base_name)
{
	struct summary a = summarize(l->sa, l->runs, (size_t)l->per_run);
	struct summary b = summarize(l->sb, l->runs, (size_t)l->per_run);
	struct row *r = row_new(id, what, "us");

	r->svmd = b.median;
	r->base = a.median;
	r->has_base = r->has_ratio = r->has_spread = true;
	r->ratio = b.median / a.median;
	r->runs = l->runs;
	r->svmd_lo = b.lo;
	r->svmd_hi = b.hi;
	r->base_lo = a.lo;
	r->base_hi = a.hi;
	snprintf(r->extra, sizeof(r->extra),
		 ", \"baseline_name\": \"%s\", \"samples_per_run\": %d, \"svmd_p99\": %.2f, "
		 "\"baseline_p99\": %.2f",
		 base_name, l->per_run, b.p99, a.p99);
	if (target > 0) {
		snprintf(r->target, sizeof(r->target), "<= %.2fx", target);
		r->verdict = r->ratio <= target ? V_PASS : V_MISS;
	}
	return r;
}

/* Policies and topology. */

static const char *const sys_users[] = {"daemon",   "bin",    "sys",  "games", "man",
					"lp",       "mail",   "news", "uucp",  "proxy",
					"www-data", "backup", "list", "irc",   "nobody"};
static const char *const sys_groups[] = {"adm",     "users",   "staff", "audio",  "video",
					 "plugdev", "dialout", "cdrom", "floppy", "tape"};

/* A fleet's device names: the machine's own first, then others elsewhere. */
static void fleet_device(unsigned j, char buf[16])
{
	if (j < N_DEVICES)
		snprintf(buf, 16, "0000:%02x:00.0", 0xb0 + j);
	else
		snprintf(buf, 16, "%04x:%02x:%02x.%x", 1 + (j >> 13), (j >> 5) & 0xff, j & 0x1f,
			 (j >> 4) & 1);
}

#define POLICY_FILE_RULES 10000 /* svmd reads policy files of up to 1 MiB */

/* The file of a policy tree that rule number `rule` (from 0) of n goes to: 50-bench.policy for
 * the last POLICY_FILE_RULES or fewer, 49-bench-NNN.policy before. Opens it at its first rule;
 * returns 0, or -errno with *f closed. */
static int policy_file(const char *dir, int n, int rule, FILE **f)
{
	int chunk = rule / POLICY_FILE_RULES, last = (n - 1) / POLICY_FILE_RULES;
	char path[1024];

	if (*f && rule % POLICY_FILE_RULES != 0)
		return 0;
	if (*f && fclose(*f) != 0) {
		*f = NULL;
		return -errno;
	}
	if (chunk == last)
		snprintf(path, sizeof(path), "%s/50-bench.policy", dir);
	else
		snprintf(path, sizeof(path), "%s/49-bench-%03d.policy", dir, chunk);
	*f = fopen(path, "we");
	return *f ? 0 : -errno;
}

/*
 * A site policy of n rules (n >= 10) in which exactly one rule, the last, matches the bench
 * user's page-table binds: three generic rules first (a group and unit glob for page tables
 * among them, so every page-table decision walks it), then rules for other users, groups, units
 * and executables over a fleet of devices that grows with the policy (about 8 rules per
 * device, as a site names each machine's devices), some by name (resolved through NSS like any
 * policy), most by numeric id. Up to 10,000 rules in one file, 50-bench.policy; larger trees
 * in several, the last rule in 50-bench.policy.
 */
static int write_policy(const char *dir, int n)
{
	char dev[16];
	unsigned n_dev = n / 8 > N_DEVICES ? (unsigned)n / 8 : N_DEVICES;
	unsigned n_uid = n / 4 > 4 ? (unsigned)n / 4 : 4, n_gid = n / 50 > 2 ? (unsigned)n / 50 : 2;
	FILE *f = NULL;
	int e;

	mkdir(dir, 0755);
	if ((e = policy_file(dir, n, 0, &f)) < 0)
		return e;
	fprintf(f, "# make bench: a site policy of %d rules; only the last one matches %s.\n", n,
		opt.user);
	fprintf(f, "allow bind-task group=video device=0000:b?:00.* pasid=auto max=8\n");
	fprintf(f, "allow bind-pgtable group=staff unit=vm-*.service device=0000:b*:*.* "
		   "pasid=20000-24095 addr-width=48\n");
	fprintf(f, "deny open-device group=floppy\n");
	for (int i = 0; i < n - 4; i++) {
		unsigned h = (unsigned)i * 2654435761u;
		if ((e = policy_file(dir, n, i + 3, &f)) < 0)
			return e;
		unsigned uid = 70000 + (h >> 7) % n_uid, gid = 80000 + (unsigned)i % n_gid;
		/* Other subjects' PASIDs: apart from each other's and the bench user's. */
		unsigned lo = 32768 + ((unsigned)i * 64) % 960000;
		fleet_device((h >> 3) % n_dev, dev);
		switch (i % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			fprintf(f,
				"allow bind-pgtable user=%u device=%s pasid=%u-%u addr-width=48 "
				"max=64\n",
				uid, dev, lo, lo + 63);
			break;
		case 5:
			fprintf(f, "allow bind-task user=%u device=%.10s.* pasid=auto max=4\n", uid,
				dev);
			break;
		case 6:
			fprintf(f, "allow bind-task,bind-pgtable group=%u device=%s pasid=%u-%u\n",
				gid, dev, lo, lo + 63);
			break;
		case 7:
			fprintf(f, "allow open-device unit=vm-%d.service device=%s\n", i, dev);
			break;
		case 8:
			/* Accounts barred from every device. */
			fprintf(f, "deny * user=%u\n", 100000 + (unsigned)i);
			break;
		default:
			fprintf(f,
				"allow bind-task user=%s group=%s unit=qemu-%d.service "
				"exe=/usr/bin/qemu-system-x86_64 device=%.8s*.* pasid=auto\n",
				sys_users[i / 10 % (sizeof(sys_users) / sizeof(*sys_users))],
				sys_groups[i / 10 % 10], i, dev);
			break;
		}
	}
	if ((e = policy_file(dir, n, n - 1, &f)) < 0)
		return e;
	fprintf(f, "allow bind-pgtable user=%s device=", opt.user);
	for (unsigned j = 0; j < N_DEVICES; j++) {
		fleet_device(j, dev);
		fprintf(f, "%s%s", j ? "," : "", dev);
	}
	fprintf(f, " pasid=1-16383,%u-%u addr-width=48\n", MEASURE_PASID, MEASURE_PASID + 63);
	return fclose(f) == 0 ? 0 : -errno;
}

static int write_topology(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/topology", opt.workdir);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	for (unsigned j = 0; j < N_DEVICES; j++)
		fprintf(f,
			"device 0000:%02x:00.0 group=%u pasid-bits=20 model=vtd "
			"kinds=task,pgtable,pasid-table pci-id=8086:0b25\n",
			0xb0 + j, 100 + j);
	return fclose(f) == 0 ? 0 : -errno;
}

static void policy_dir(int n, char *buf, size_t size)
{
	snprintf(buf, size, "%s/policy-%d", opt.workdir, n);
}

static int write_policy_n(int n)
{
	char dir[512];

	policy_dir(n, dir, sizeof(dir));
	return write_policy(dir, n);
}

/* Scenario 1: the socket round trip against the bare echo server. */
static void scenario_socket(void)
{
	const char *what = "socket bind+unbind, 1,000 rules";
	struct server echo = {0}, svmd = {0};
	struct latency l;
	char err[512], dir[512], rule[600];

	fprintf(stderr, "svmd-bench: 1: %s vs echo-server\n", what);
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	if (start_echo(&echo, opt.cpu, err, sizeof(err)) < 0 ||
	    start_svmd(&svmd, "svmd-socket", opt.cpu, dir, NULL, 0, err, sizeof(err)) < 0) {
		row_failed("1", what, "%s", err);
		goto out;
	}
	latency_init(&l, scaled(20), 2000, 2000);
	l.a.socket = echo.socket;
	l.b.socket = svmd.socket;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	/* Every grant must come from the policy's last rule (line N + 1, after the comment),
	 * the only one for the bench user: the audit trail says which rule decided. */
	snprintf(rule, sizeof(rule), "RULE=%s/50-bench.policy:%d ", dir, POLICY_RULES + 1);
	if (run_child(latency_child, &l) != 0)
		row_failed("1", what, "%s", l.error[0] ? l.error : "client failed");
	else if (!file_has(svmd.log, rule))
		row_failed("1", what, "the grants do not name the bench rule (%s)", rule);
	else
		latency_row(&l, "1", what, 1.25, "echo-server");
	latency_free(&l);
	server_stop(&svmd);

	/* The same with the audit trail thrown away: what writing one record per grant and
	 * release costs (for information; the figure above is the one that counts). */
	what = "socket bind+unbind, audit to /dev/null";
	if (start_svmd(&svmd, "svmd-socket-devnull", opt.cpu, dir, NULL, 0, err, sizeof(err)) < 0) {
		row_failed("1b", what, "%s", err);
		goto out;
	}
	latency_init(&l, scaled(10), 2000, 1000);
	l.a.socket = echo.socket;
	l.b.socket = svmd.socket;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	if (run_child(latency_child, &l) != 0) {
		row_failed("1b", what, "%s", l.error[0] ? l.error : "client failed");
	} else {
		struct row *r = latency_row(&l, "1b", what, 0, "echo-server");
		snprintf(r->note, sizeof(r->note),
			 "information: how much of row 1 is writing the audit records");
	}
	latency_free(&l);
out:
	server_stop(&svmd);
	server_stop(&echo);
}

/* Scenario 2: D-Bus, against the naive server on the same bus. */
static void scenario_bus(void)
{
	const char *what = "D-Bus bind+unbind vs naive sd-bus server";
	struct server svmd = {0}, naive = {0};
	struct latency l;
	char err[512], dir[512], exe[512];

	fprintf(stderr, "svmd-bench: 2: %s\n", what);
	if (!opt.bus) {
		row_failed("2", what, "no private bus: dbus-daemon did not start (see above)");
		return;
	}
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	if (start_svmd(&svmd, "svmd-bus", opt.cpu, dir, opt.bus, 0, err, sizeof(err)) < 0) {
		row_failed("2", what, "%s", err);
		goto out;
	}
	memset(&naive, 0, sizeof(naive));
	snprintf(naive.name, sizeof(naive.name), "naive-bus-server");
	snprintf(naive.log, sizeof(naive.log), "%s/naive.log", opt.workdir);
	snprintf(exe, sizeof(exe), "%s/bench/naive-bus-server", opt.build);
	const char *argv[] = {exe, opt.bus, NULL};
	naive.pid = spawn(argv, opt.cpu, naive.log, 0);
	if (server_wait(&naive, "ready", err, sizeof(err)) < 0) {
		row_failed("2", what, "%s", err);
		goto out;
	}
	latency_init(&l, scaled(10), 300, 300);
	l.a.dest = NAIVE_NAME;
	l.b.dest = SVMD_NAME;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	if (run_child(latency_child, &l) != 0)
		row_failed("2", what, "%s", l.error[0] ? l.error : "client failed");
	else
		latency_row(&l, "2", what, 1.0, "naive-bus-server");
	latency_free(&l);
out:
	server_stop(&naive);
	server_stop(&svmd);
}

/*
 * Scenario 2b: D-Bus, against what a user would run instead of svmd: a server that asks polkitd
 * about every call (polkit-bus-server, the udisks2 and NetworkManager pattern), with polkitd on
 * the same bus and a rules file that allows the bench user only. Before measuring, one call as
 * another user must be refused; afterwards the server's counts must show that polkitd
 * authorized every measured call: a gate that does not gate fails the row.
 */

#define POLKIT_SERVER_NAME "org.svmd.BenchPolkit1"
#define POLKITD_NAME       "org.freedesktop.PolicyKit1"
#define POLKITD_SCRIPT     "tests/bench/polkitd.sh" /* run.sh runs us from the top of the tree */
#define POLKIT_REFUSED     "org.svmd.Bench.Error.NotAuthorized"
#define DENIED_USER        "nobody"

/* Waits until name has an owner on the bench's bus, while s (which should take it) runs. */
static int bus_name_wait(struct server *s, const char *name, char *err, size_t errlen)
{
	sd_bus *bus = NULL;
	int r = sd_bus_new(&bus);

	if (r >= 0)
		r = sd_bus_set_address(bus, opt.bus);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, true);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		snprintf(err, errlen, "bus %s: %s", opt.bus, strerror(-r));
		sd_bus_unref(bus);
		return -1;
	}
	for (int i = 0; i < 1000; i++) {
		sd_bus_message *reply = NULL;
		int has = 0, status;

		r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
				       name);
		if (r >= 0)
			r = sd_bus_message_read(reply, "b", &has);
		sd_bus_message_unref(reply);
		if (r >= 0 && has) {
			sd_bus_flush_close_unref(bus);
			return 0;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			snprintf(err, errlen, "%s exited at start-up: %s", s->name,
				 log_tail(s->log));
			sd_bus_flush_close_unref(bus);
			return -1;
		}
		sleep_ms(10);
	}
	snprintf(err, errlen, "%s did not take %s: %s", s->name, name, log_tail(s->log));
	sd_bus_flush_close_unref(bus);
	return -1;
}

struct denied_call {
	bool allowed;
	char name[128];  /* the error's name */
	char error[256]; /* and its message, or why the call could not be made */
};

/* In a child, as DENIED_USER: one BindPgtable on the polkit-gated server. */
static int denied_child(void *arg)
{
	struct denied_call *d = arg;
	struct target t = {.dest = POLKIT_SERVER_NAME, .pasid = MEASURE_PASID};
	sd_bus_error error = SD_BUS_ERROR_NULL;
	struct passwd *pw = getpwnam(DENIED_USER);
	int r;

	pin(opt.cpu);
	if (!pw || setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(d->error, sizeof(d->error), "cannot become %s: %s", DENIED_USER,
			 pw ? strerror(errno) : "no such user");
		return 1;
	}
	if (target_open(&t) < 0) {
		snprintf(d->error, sizeof(d->error), "%s", t.error);
		return 1;
	}
	r = sd_bus_call_method(t.bus, t.dest, BUS_PATH, BUS_IFACE, "BindPgtable", &error, NULL,
			       "sutua{sv}", device_name(0), t.pasid, (uint64_t)0x1000 * t.pasid, 48,
			       0);
	d->allowed = r >= 0;
	if (r < 0) {
		snprintf(d->name, sizeof(d->name), "%s", error.name ? error.name : "");
		snprintf(d->error, sizeof(d->error), "%s",
			 error.message ? error.message : strerror(-r));
	}
	sd_bus_error_free(&error);
	target_close(&t);
	return 0;
}

/* The counts polkit-bus-server prints when it stops; -1 if it printed none. */
static int polkit_counts(const char *log, unsigned long *authorized, unsigned long *refused,
			 unsigned long *failed)
{
	char line[256];
	int found = -1;
	FILE *f = fopen(log, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "checks: %lu authorized, %lu refused, %lu failed", authorized,
			   refused, failed) == 3)
			found = 0;
	fclose(f);
	return found;
}

static void scenario_bus_polkit(void)
{
	const char *what = "D-Bus bind+unbind vs polkit-gated server";
	struct server svmd = {0}, gated = {0}, polkitd = {0};
	struct denied_call *denied = shared(sizeof(*denied));
	unsigned long n_auth = 0, n_refused = 0, n_failed = 0, expected;
	struct latency l;
	char err[512], dir[512], exe[512];
	bool measured = false;

	fprintf(stderr, "svmd-bench: 2b: %s, polkitd on the same bus\n", what);
	if (!opt.bus) {
		row_failed("2b", what, "no private bus: dbus-daemon did not start (see above)");
		goto out;
	}
	if (geteuid() != 0) {
		row_failed("2b", what,
			   "needs root: polkitd runs as its own user, with the bench's rules "
			   "mounted in a private namespace (%s)",
			   POLKITD_SCRIPT);
		goto out;
	}
	snprintf(polkitd.name, sizeof(polkitd.name), "polkitd");
	snprintf(polkitd.log, sizeof(polkitd.log), "%s/polkitd.log", opt.workdir);
	const char *pk_argv[] = {"/bin/sh", POLKITD_SCRIPT, opt.workdir, opt.bus, opt.user, NULL};
	polkitd.pid = spawn(pk_argv, opt.cpu, polkitd.log, 0);
	if (bus_name_wait(&polkitd, POLKITD_NAME, err, sizeof(err)) < 0) {
		row_failed("2b", what, "%s", err);
		goto out;
	}
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	if (start_svmd(&svmd, "svmd-bus-2b", opt.cpu, dir, opt.bus, 0, err, sizeof(err)) < 0) {
		row_failed("2b", what, "%s", err);
		goto out;
	}
	snprintf(gated.name, sizeof(gated.name), "polkit-bus-server");
	snprintf(gated.log, sizeof(gated.log), "%s/polkit-bus-server.log", opt.workdir);
	snprintf(exe, sizeof(exe), "%s/bench/polkit-bus-server", opt.build);
	const char *argv[] = {exe, opt.bus, NULL};
	gated.pid = spawn(argv, opt.cpu, gated.log, 0);
	if (server_wait(&gated, "ready", err, sizeof(err)) < 0) {
		row_failed("2b", what, "%s", err);
		goto out;
	}

	/* The gate must gate: another user is refused, by polkitd's answer. */
	if (run_child(denied_child, denied) != 0) {
		row_failed("2b", what, "the call as %s could not be made: %s", DENIED_USER,
			   denied->error);
		goto out;
	}
	if (denied->allowed) {
		row_failed("2b", what, "the gate does not gate: a bind as %s was allowed",
			   DENIED_USER);
		goto out;
	}
	if (strcmp(denied->name, POLKIT_REFUSED) != 0) {
		row_failed("2b", what, "a bind as %s was not refused by polkitd but failed: %s: %s",
			   DENIED_USER, denied->name, denied->error);
		goto out;
	}

	latency_init(&l, scaled(10), 150, 50);
	l.a.dest = POLKIT_SERVER_NAME;
	l.b.dest = SVMD_NAME;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	measured = run_child(latency_child, &l) == 0;
	if (!measured)
		row_failed("2b", what, "%s", l.error[0] ? l.error : "client failed");
	server_stop(&gated);
	/* Every call, warm-up included, is a bind and an unbind polkitd must have authorized;
	 * the one refusal is the call above. */
	expected = 2ul * (unsigned long)(l.warmup + l.runs * l.per_run);
	if (measured && polkit_counts(gated.log, &n_auth, &n_refused, &n_failed) < 0) {
		row_failed("2b", what, "polkit-bus-server printed no counts: %s",
			   log_tail(gated.log));
	} else if (measured && (n_auth != expected || n_refused != 1 || n_failed != 0)) {
		row_failed("2b", what,
			   "polkitd did not decide every call: %lu authorized (expected %lu), %lu "
			   "refused (expected 1), %lu failed",
			   n_auth, expected, n_refused, n_failed);
	} else if (measured) {
		struct row *r = latency_row(&l, "2b", what, 0.1, "polkit-bus-server");
		double bare = NAN;
		size_t n;

		for (size_t i = 0; i < n_rows; i++)
			if (strcmp(rows[i].id, "2") == 0 && rows[i].has_base)
				bare = rows[i].base;
		n = (size_t)snprintf(
			r->note, sizeof(r->note),
			"svmd %.1fx faster than the polkit-gated call (target: >= "
			"10x); polkitd authorized all %lu calls, refused the one as %s",
			1 / r->ratio, n_auth, DENIED_USER);
		if (!isnan(bare) && n < sizeof(r->note))
			snprintf(r->note + n, sizeof(r->note) - n,
				 "; row 2's naive server: %.1f us", bare);
		n = strlen(r->extra);
		snprintf(r->extra + n, sizeof(r->extra) - n,
			 ", \"times_faster\": %.2f, \"polkit_checks\": {\"authorized\": %lu, "
			 "\"refused\": %lu, \"failed\": %lu}, \"refused_user\": \"%s\"",
			 1 / r->ratio, n_auth, n_refused, n_failed, DENIED_USER);
	}
	latency_free(&l);
out:
	server_stop(&gated);
	server_stop(&svmd);
	server_stop(&polkitd);
	munmap(denied, sizeof(*denied));
}

/* Scenario 3: throughput with n concurrent socket clients. */

#define TP_CLIENTS_MAX 16
#define TP_ROUNDS_MAX  16
#define TP_CAP         (1 << 15) /* samples per client and run */

struct tp {
	atomic_int ready, go;
	double start, end;
	long count[TP_CLIENTS_MAX], errors[TP_CLIENTS_MAX];
	char error[256];
	atomic_int stop;                   /* reload scenario: run until told */
	float lat[TP_CLIENTS_MAX][TP_CAP]; /* µs */
};

static int tp_client(struct tp *tp, int k, const char *socket)
{
	struct target t = {.socket = socket, .dev = (unsigned)k, .pasid = MEASURE_PASID + k};

	become_client(opt.client_cpu);
	if (target_open(&t) < 0) {
		snprintf(tp->error, sizeof(tp->error), "%s", t.error);
		return 1;
	}
	atomic_fetch_add(&tp->ready, 1);
	while (!atomic_load(&tp->go))
		sleep_ms(0.2);
	while (now_ns() < tp->start)
		;
	for (double t0 = now_ns(); t0 < tp->end && !atomic_load(&tp->stop);) {
		int r = bind_unbind(&t);
		double t1 = now_ns();
		if (r < 0) {
			if (tp->errors[k]++ == 0)
				snprintf(tp->error, sizeof(tp->error), "%s", t.error);
			if (tp->errors[k] > 1000)
				break;
		} else {
			if (tp->count[k] < TP_CAP)
				tp->lat[k][tp->count[k]] = (float)((t1 - t0) / 1e3);
			tp->count[k]++;
		}
		t0 = t1;
	}
	target_close(&t);
	return 0;
}

/* Starts n clients on socket; they run from start until end (or tp->stop). Returns 0 once all
 * are connected and started, with their pids in pids. */
static int tp_start(struct tp *tp, int n, const char *socket, double seconds, pid_t *pids)
{
	memset(tp, 0, offsetof(struct tp, lat));
	for (int k = 0; k < n; k++) {
		pids[k] = fork();
		if (pids[k] < 0)
			die("fork: %s", strerror(errno));
		if (pids[k] == 0)
			_exit(tp_client(tp, k, socket));
	}
	for (int i = 0; i < 2000 && atomic_load(&tp->ready) < n && !tp->error[0]; i++)
		sleep_ms(5);
	tp->start = now_ns() + 20e6;
	tp->end = seconds > 0 ? tp->start + seconds * 1e9 : INFINITY;
	atomic_store(&tp->go, 1);
	return atomic_load(&tp->ready) == n ? 0 : -1;
}

static int tp_wait(pid_t *pids, int n)
{
	int bad = 0, status;

	for (int k = 0; k < n; k++)
		if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;
	return bad ? -1 : 0;
}

struct tp_result {
	double rate; /* bind+unbind pairs per second, all clients */
	long errors;
};

static int tp_run(struct tp *tp, int n, const char *socket, double seconds, double *lat,
		  size_t *n_lat, struct tp_result *res)
{
	pid_t pids[TP_CLIENTS_MAX];
	int r = tp_start(tp, n, socket, seconds, pids);

	if (tp_wait(pids, n) < 0 || r < 0)
		return -1;
	long total = 0;
	res->errors = 0;
	for (int k = 0; k < n; k++) {
		total += tp->count[k];
		res->errors += tp->errors[k];
		for (long i = 0; i < tp->count[k] && i < TP_CAP; i++)
			lat[(*n_lat)++] = tp->lat[k][i];
	}
	res->rate = (double)total / seconds;
	return 0;
}

static void scenario_throughput(void)
{
	static const int clients[] = {1, 4, 16};
	const char *what = "throughput";
	struct server echo = {0}, svmd = {0};
	struct tp *tp = shared(sizeof(struct tp));
	char err[512], dir[512];
	/* Short runs, many alternations: other work on the machine comes and goes. */
	int rounds = scaled(16);
	double seconds = 0.25;
	size_t cap = (size_t)rounds * TP_CLIENTS_MAX * TP_CAP;
	double *lat_a = malloc(cap * sizeof(double)), *lat_b = malloc(cap * sizeof(double));

	fprintf(stderr, "svmd-bench: 3: throughput with 1, 4 and 16 clients vs echo-server\n");
	if (!lat_a || !lat_b)
		die("out of memory");
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	if (start_echo(&echo, opt.server_cpu, err, sizeof(err)) < 0 ||
	    start_svmd(&svmd, "svmd-throughput", opt.server_cpu, dir, NULL, 0, err, sizeof(err)) <
		    0) {
		row_failed("3", what, "%s", err);
		goto out;
	}
	for (size_t c = 0; c < sizeof(clients) / sizeof(*clients); c++) {
		int n = clients[c];
		double rate_a[TP_ROUNDS_MAX], rate_b[TP_ROUNDS_MAX];
		long errors_a = 0, errors_b = 0;
		size_t n_a = 0, n_b = 0;
		char id[8], title[72];
		int bad = 0;

		snprintf(id, sizeof(id), "3%c", (char)('a' + c));
		snprintf(title, sizeof(title), "throughput, %d client%s (binds/s)", n,
			 n == 1 ? "" : "s");
		for (int i = 0; i < rounds && !bad; i++) {
			struct tp_result ra, rb;
			for (int side = 0; side < 2 && !bad; side++) {
				/* Alternate which server goes first. */
				bool svmd_turn = (side == 0) == (i % 2 == 1);
				if (svmd_turn) {
					bad = tp_run(tp, n, svmd.socket, seconds, lat_b, &n_b,
						     &rb) < 0;
					rate_b[i] = rb.rate;
					errors_b += rb.errors;
				} else {
					bad = tp_run(tp, n, echo.socket, seconds, lat_a, &n_a,
						     &ra) < 0;
					rate_a[i] = ra.rate;
					errors_a += ra.errors;
				}
			}
		}
		if (bad) {
			row_failed(id, title, "%s", tp->error[0] ? tp->error : "a client failed");
			continue;
		}
		/* Each round ran both servers back to back: their ratio round by round shows
		 * how much of the spread is the machine rather than svmd. */
		double pair[TP_ROUNDS_MAX];
		for (int i = 0; i < rounds; i++)
			pair[i] = rate_b[i] / rate_a[i];
		double pair_med = quantile(pair, (size_t)rounds, 0.5);
		struct row *r = row_new(id, title, "binds/s");
		double ma = quantile(rate_a, (size_t)rounds, 0.5),
		       mb = quantile(rate_b, (size_t)rounds, 0.5);
		r->svmd = mb;
		r->base = ma;
		r->ratio = mb / ma;
		r->has_base = r->has_ratio = r->has_spread = true;
		r->runs = rounds;
		r->svmd_lo = rate_b[0];
		r->svmd_hi = rate_b[rounds - 1];
		r->base_lo = rate_a[0];
		r->base_hi = rate_a[rounds - 1];
		double p50a = quantile(lat_a, n_a, 0.5), p99a = quantile(lat_a, n_a, 0.99);
		double p50b = quantile(lat_b, n_b, 0.5), p99b = quantile(lat_b, n_b, 0.99);
		snprintf(r->note, sizeof(r->note),
			 "p50/p99 per bind+unbind: svmd %.1f/%.1f us, echo %.1f/%.1f us; "
			 "errors: svmd %ld, echo %ld; round by round: %.2fx (%.2f-%.2f)",
			 p50b, p99b, p50a, p99a, errors_b, errors_a, pair_med, pair[0],
			 pair[rounds - 1]);
		snprintf(r->extra, sizeof(r->extra),
			 ", \"baseline_name\": \"echo-server\", \"clients\": %d, "
			 "\"seconds_per_run\": "
			 "%.2f, \"svmd_p50_us\": %.2f, \"svmd_p99_us\": %.2f, \"baseline_p50_us\": "
			 "%.2f, \"baseline_p99_us\": %.2f, \"svmd_errors\": %ld, "
			 "\"baseline_errors\": %ld, \"round_ratio_median\": %.3f",
			 n, seconds, p50b, p99b, p50a, p99a, errors_b, errors_a, pair_med);
		if (n == 16) {
			snprintf(r->target, sizeof(r->target), ">= 0.80x, 0 err");
			r->verdict = r->ratio >= 0.8 && errors_b == 0 ? V_PASS : V_MISS;
		}
	}
out:
	server_stop(&svmd);
	server_stop(&echo);
	munmap(tp, sizeof(struct tp));
	free(lat_a);
	free(lat_b);
}

/* Scenario 4: 100 vs 100,000 live bindings. */

struct hold {
	const char *socket_small, *socket_large;
	struct svm_client *small, *large;
};

static int fill(struct svm_client *c, int from, int to, char *error)
{
	for (int j = from; j < to; j++) {
		struct svm_pgtable pg = {
			.pasid = 1 + (uint32_t)j / N_DEVICES,
			.addr_width = 48,
			.gpgd = (uint64_t)0x1000 * (uint64_t)(j + 1),
		};
		int r = svm_bind_pgtable(c, device_name((unsigned)j), &pg, NULL);
		if (r < 0) {
			snprintf(error, 256, "binding %d: %s: %s", j, svm_strerror(r),
				 svm_reason(c) ? svm_reason(c) : "");
			return r;
		}
	}
	return 0;
}

static int scale_setup(struct latency *l)
{
	struct hold *h = l->setup_data;
	double scratch[500];
	char c;
	int r;

	r = svm_connect(h->socket_small, &h->small);
	if (r >= 0)
		r = svm_connect(h->socket_large, &h->large);
	if (r < 0) {
		snprintf(l->error, 256, "connect: %s", strerror(-r));
		return r;
	}
	if (fill(h->small, 0, SCALE_SMALL, l->error) < 0 ||
	    fill(h->large, 0, SCALE_SMALL, l->error) < 0)
		return -1;
	/* Warm both up before the first RSS reading. */
	if (measure(&l->a, scratch, 500) < 0 || measure(&l->b, scratch, 500) < 0)
		return -1;
	if (write(l->ready_fd, "r", 1) != 1 || read(l->go_fd, &c, 1) != 1)
		return -1;
	return fill(h->large, SCALE_SMALL, SCALE_LARGE, l->error);
}

/* Forks a latency child with a set-up and lets parent_step() run at each of its n_steps
 * pauses. Returns 0 or -1. */
static int run_staged(struct latency *l, int n_steps, void (*parent_step)(int step, void *data),
		      void *data)
{
	int ready[2], go[2], status, bad = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	l->ready_fd = ready[1];
	l->go_fd = go[0];
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		_exit(latency_child(l) == 0 ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < n_steps && !bad; i++) {
		char c;
		if (read(ready[0], &c, 1) != 1) {
			bad = 1;
			break;
		}
		parent_step(i, data);
		if (write(go[1], "g", 1) != 1)
			bad = 1;
	}
	close(go[1]);
	close(ready[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad = 1;
	return bad ? -1 : 0;
}

struct scale_rss {
	pid_t small, large;
	long small_kib[2], large_kib[2];
};

static void scale_step(int step, void *data)
{
	struct scale_rss *s = data;

	s->small_kib[step] = rss_kib(s->small);
	s->large_kib[step] = rss_kib(s->large);
}

static void scenario_scale(void)
{
	const char *what = "bind+unbind, 100,000 vs 100 live bindings";
	struct server small = {0}, large = {0};
	struct hold h = {0};
	struct scale_rss rss = {0};
	struct latency l;
	char err[512], dir[512];

	fprintf(stderr, "svmd-bench: 4: %s\n", what);
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	if (start_svmd(&small, "svmd-100", opt.cpu, dir, NULL, 0, err, sizeof(err)) < 0 ||
	    start_svmd(&large, "svmd-100000", opt.cpu, dir, NULL, 0, err, sizeof(err)) < 0) {
		row_failed("4", what, "%s", err);
		goto out;
	}
	latency_init(&l, scaled(20), 1000, 1000);
	l.a.socket = small.socket;
	l.b.socket = large.socket;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	h.socket_small = small.socket;
	h.socket_large = large.socket;
	l.setup = scale_setup;
	l.setup_data = &h;
	rss.small = small.pid;
	rss.large = large.pid;
	if (run_staged(&l, 2, scale_step, &rss) < 0) {
		row_failed("4", what, "%s", l.error[0] ? l.error : "client failed");
	} else {
		struct row *r = latency_row(&l, "4a", what, 1.2, "svmd with 100 bindings");
		snprintf(r->note, sizeof(r->note), "baseline: svmd holding %d bindings",
			 SCALE_SMALL);
		r = row_new("4b", "RSS per live binding (bytes)", "B");
		r->svmd = (double)(rss.large_kib[1] - rss.large_kib[0]) * 1024.0 /
			  (SCALE_LARGE - SCALE_SMALL);
		r->runs = 1;
		snprintf(r->target, sizeof(r->target), "<= 256 B");
		r->verdict = r->svmd <= 256 ? V_PASS : V_MISS;
		snprintf(r->note, sizeof(r->note),
			 "VmRSS %.1f MiB with %d bindings, %.1f MiB with %d (the other svmd: %.1f "
			 "MiB with %d)",
			 rss.large_kib[0] / 1024.0, SCALE_SMALL, rss.large_kib[1] / 1024.0,
			 SCALE_LARGE, rss.small_kib[1] / 1024.0, SCALE_SMALL);
		snprintf(
			r->extra, sizeof(r->extra),
			", \"rss_kib_small\": %ld, \"rss_kib_large\": %ld, \"bindings_small\": %d, "
			"\"bindings_large\": %d",
			rss.large_kib[0], rss.large_kib[1], SCALE_SMALL, SCALE_LARGE);
	}
	latency_free(&l);
out:
	server_stop(&large);
	server_stop(&small);
}

/* Scenario 7: what restart survival costs a bind+unbind. The same svmd holding SURVIVE_HELD
 * bindings, once with a state directory (on tmpfs, as /run is) under a stand-in for systemd's
 * notify socket that takes and closes the fds svmd stores, once without: under systemd svmd
 * writes its state file at every loop iteration that changed something. */
#define SURVIVE_HELD 1000

/* A datagram socket at path that reads and drops what comes, fds closed, until this process
 * ends. */
static pid_t notify_drain(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("notify socket %s: %s", path, strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		for (;;) {
			char buf[4096];
			union {
				struct cmsghdr h;
				char space[CMSG_SPACE(sizeof(int) * 253)];
			} cm;
			struct iovec iov = {buf, sizeof(buf)};
			struct msghdr m = {.msg_iov = &iov,
					   .msg_iovlen = 1,
					   .msg_control = &cm,
					   .msg_controllen = sizeof(cm)};
			if (recvmsg(fd, &m, MSG_CMSG_CLOEXEC) < 0 && errno != EINTR)
				_exit(1);
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
				if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
					continue;
				size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				int fds[253];
				memcpy(fds, CMSG_DATA(c), n * sizeof(int));
				for (size_t i = 0; i < n; i++)
					close(fds[i]);
			}
		}
	}
	close(fd);
	return pid;
}

struct survive {
	const char *socket_a, *socket_b;
	struct svm_client *a, *b;
};

static int survive_setup(struct latency *l)
{
	struct survive *h = l->setup_data;
	int r = svm_connect(h->socket_a, &h->a);

	if (r >= 0)
		r = svm_connect(h->socket_b, &h->b);
	if (r < 0) {
		snprintf(l->error, 256, "connect: %s", strerror(-r));
		return r;
	}
	if (fill(h->a, 0, SURVIVE_HELD, l->error) < 0 || fill(h->b, 0, SURVIVE_HELD, l->error) < 0)
		return -1;
	return 0;
}

static void scenario_survive(void)
{
	const char *what = "bind+unbind with restart survival, 1,000 live bindings";
	struct server plain = {0}, surviving = {0};
	struct survive h = {0};
	struct latency l;
	char err[512], dir[512], state[128], notify[sizeof(((struct sockaddr_un *)0)->sun_path)],
		arg[160];
	pid_t drain;

	fprintf(stderr, "svmd-bench: 7: %s\n", what);
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	/* tmpfs, as /run is under systemd; the work directory where there is none. */
	snprintf(state, sizeof(state), "%s",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm/svmd-bench-state.XXXXXX" : "");
	if (!state[0])
		snprintf(state, sizeof(state), "%s/state.XXXXXX", opt.workdir);
	if (!mkdtemp(state))
		die("mkdtemp %s: %s", state, strerror(errno));
	snprintf(notify, sizeof(notify), "%s/notify", opt.workdir);
	snprintf(arg, sizeof(arg), "--state-dir=%s", state);
	drain = notify_drain(notify);
	setenv("NOTIFY_SOCKET", notify, 1);
	int r = start_svmd_with(&surviving, "svmd-survive", opt.cpu, dir, NULL, 0, arg, err,
				sizeof(err));
	unsetenv("NOTIFY_SOCKET");
	if (r < 0 || start_svmd_with(&plain, "svmd-plain", opt.cpu, dir, NULL, 0,
				     "--state-dir=", err, sizeof(err)) < 0) {
		row_failed("7", what, "%s", err);
		goto out;
	}
	latency_init(&l, scaled(20), 200, 200);
	l.a.socket = plain.socket;
	l.b.socket = surviving.socket;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	h.socket_a = plain.socket;
	h.socket_b = surviving.socket;
	l.setup = survive_setup;
	l.setup_data = &h;
	if (run_child(latency_child, &l) != 0) {
		row_failed("7", what, "%s", l.error[0] ? l.error : "client failed");
	} else {
		struct row *row = latency_row(&l, "7", what, 1.5, "svmd without restart survival");
		snprintf(row->note, sizeof(row->note),
			 "baseline: the same svmd, no state directory; state in %s", state);
	}
	latency_free(&l);
out:
	server_stop(&surviving);
	server_stop(&plain);
	kill(drain, SIGTERM);
	waitpid(drain, NULL, 0);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	(void)!system(cmd);
}

/* Scenario 5: policy decisions in-process, and reloads under load. */

/* Rows 5a and 5b, or 5d and 5e: decisions and compile time of tree k against tree 0. */
static void policy_rows(const char *id_decide, const char *id_compile, const char *label,
			double *base, double *ns, int got, double load_base, double load_k,
			size_t rules_base, size_t rules_k)
{
	char what[72];

	snprintf(what, sizeof(what), "policy decision, %s vs %zu rules (in-process)", label,
		 rules_base);
	struct row *r = row_new(id_decide, what, "ns");
	r->base = quantile(base, (size_t)got, 0.5);
	r->svmd = quantile(ns, (size_t)got, 0.5);
	r->ratio = r->svmd / r->base;
	r->has_base = r->has_ratio = r->has_spread = true;
	r->runs = got;
	r->base_lo = base[0];
	r->base_hi = base[got - 1];
	r->svmd_lo = ns[0];
	r->svmd_hi = ns[got - 1];
	snprintf(r->target, sizeof(r->target), "<= 1.50x");
	r->verdict = r->ratio <= 1.5 ? V_PASS : V_MISS;
	snprintf(r->note, sizeof(r->note), "baseline: the same decision with %zu rules",
		 rules_base);
	snprintf(what, sizeof(what), "policy compile, %s vs %zu rules (in-process)", label,
		 rules_base);
	r = row_new(id_compile, what, "ms");
	r->svmd = load_k;
	r->base = load_base;
	r->ratio = load_k / load_base;
	r->has_base = r->has_ratio = true;
	r->runs = 1;
	snprintf(r->note, sizeof(r->note),
		 "policy_load() of %zu and of %zu rules: medians of 5 loads each, after one",
		 rules_k, rules_base);
}

static void scenario_policy(void)
{
	const char *what = "policy decision, 10,000 and 100,000 vs 10 rules (in-process)";
	char exe[512], dirs[3][512], rounds[16], line[256];
	int p[2], status, n_rounds = scaled(10), got = 0;
	double ns[3][64], load[3] = {NAN, NAN, NAN};
	size_t rules[3] = {0, 0, 0};
	pid_t pid;
	FILE *f;

	fprintf(stderr, "svmd-bench: 5: %s\n", what);
	snprintf(exe, sizeof(exe), "%s/bench/policy-bench", opt.build);
	policy_dir(10, dirs[0], sizeof(dirs[0]));
	policy_dir(10000, dirs[1], sizeof(dirs[1]));
	policy_dir(HUGE_RULES, dirs[2], sizeof(dirs[2]));
	snprintf(rounds, sizeof(rounds), "%d", n_rounds);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		pin(opt.cpu);
		execl(exe, exe, opt.user, device_name(0), rounds, "200000", dirs[0], dirs[1],
		      dirs[2], (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		int i, k;
		double x, y, z;
		size_t n;
		if (sscanf(line, "load %d %lf %zu", &k, &x, &n) == 3 && k >= 0 && k < 3) {
			load[k] = x;
			rules[k] = n;
			continue;
		}
		if (sscanf(line, "round %d %lf %lf %lf", &i, &x, &y, &z) == 4 && got < 64) {
			ns[0][got] = x;
			ns[1][got] = y;
			ns[2][got] = z;
			got++;
		}
	}
	if (f)
		fclose(f);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != n_rounds) {
		row_failed("5a", what, "policy-bench exited with status %d after %d rounds",
			   WIFEXITED(status) ? WEXITSTATUS(status) : -1, got);
		return;
	}
	policy_rows("5a", "5b", "10,000", ns[0], ns[1], got, load[0], load[1], rules[0], rules[1]);
	policy_rows("5d", "5e", "100,000", ns[0], ns[2], got, load[0], load[2], rules[0], rules[2]);
}

/* Replaces the policy file of dir with the one of src (atomically). */
static int swap_policy(const char *dir, const char *src)
{
	char from[600], tmp[600], to[600], buf[65536];
	ssize_t n;
	int in, out, r = 0;

	snprintf(from, sizeof(from), "%s/50-bench.policy", src);
	snprintf(tmp, sizeof(tmp), "%s/.50-bench.tmp", dir);
	snprintf(to, sizeof(to), "%s/50-bench.policy", dir);
	in = open(from, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
		r = -1;
	while (r == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			r = -1;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		r = -1;
	if (r == 0 && rename(tmp, to) < 0)
		r = -1;
	return r;
}

static void scenario_reload(void)
{
	const char *what = "reload 10,000 rules while 4 clients bind";
	struct server svmd = {0};
	struct tp *tp = shared(sizeof(struct tp));
	struct svm_client *root = NULL;
	char err[512], dir[512], small[512], large[512];
	int n_clients = 4, rounds = scaled(10), bad = 0;
	double t_small[64], t_large[64];
	pid_t pids[TP_CLIENTS_MAX];
	long errors = 0, count = 0;

	fprintf(stderr, "svmd-bench: 5: %s\n", what);
	snprintf(dir, sizeof(dir), "%s/policy-reload", opt.workdir);
	policy_dir(10, small, sizeof(small));
	policy_dir(10000, large, sizeof(large));
	mkdir(dir, 0755);
	if (swap_policy(dir, large) < 0) {
		row_failed("5c", what, "cannot write %s: %s", dir, strerror(errno));
		goto out;
	}
	if (start_svmd(&svmd, "svmd-reload", opt.server_cpu, dir, NULL, 0, err, sizeof(err)) < 0) {
		row_failed("5c", what, "%s", err);
		goto out;
	}
	/* The reloads come from root, on svmd's CPU: on the clients' CPU, the four busy clients
	 * would delay its wake-up and the reload would look slower than it is. */
	int r = svm_connect(svmd.socket, &root);
	if (r < 0) {
		row_failed("5c", what, "root client: %s", strerror(-r));
		goto out;
	}
	if (tp_start(tp, n_clients, svmd.socket, 0, pids) < 0)
		bad = 1;
	sleep_ms(100);
	for (int i = 0; i < rounds && !bad; i++) {
		for (int side = 0; side < 2 && !bad; side++) {
			struct svm_reload_result rr;
			double t0;
			if (swap_policy(dir, side ? large : small) < 0) {
				bad = 2;
				break;
			}
			t0 = now_ns();
			r = svm_reload(root, &rr, NULL);
			(side ? t_large : t_small)[i] = (now_ns() - t0) / 1e6;
			if (r < 0 || rr.n_rules != (side ? 10000u : 10u))
				bad = 3;
			sleep_ms(50);
		}
	}
	atomic_store(&tp->stop, 1);
	if (tp_wait(pids, n_clients) < 0 && !bad)
		bad = 4;
	for (int k = 0; k < n_clients; k++) {
		errors += tp->errors[k];
		count += tp->count[k];
	}
	if (bad) {
		row_failed("5c", what, "%s",
			   bad == 3       ? "a reload failed or loaded the wrong rule count"
			   : tp->error[0] ? tp->error
					  : "a client failed");
		goto out;
	}
	double max_lat = 0;
	for (int k = 0; k < n_clients; k++)
		for (long i = 0; i < tp->count[k] && i < TP_CAP; i++)
			if (tp->lat[k][i] > max_lat)
				max_lat = tp->lat[k][i];
	struct row *row = row_new("5c", "reload 10,000 rules under load (ms)", "ms");
	row->svmd = quantile(t_large, (size_t)rounds, 0.5);
	row->base = quantile(t_small, (size_t)rounds, 0.5);
	row->ratio = row->svmd / row->base;
	row->has_base = row->has_ratio = row->has_spread = true;
	row->runs = rounds;
	row->svmd_lo = t_large[0];
	row->svmd_hi = t_large[rounds - 1];
	row->base_lo = t_small[0];
	row->base_hi = t_small[rounds - 1];
	snprintf(row->target, sizeof(row->target), "< 50 ms, 0 fail");
	/* The median decides, like every other row; the slowest reload is in the spread. */
	row->verdict = row->svmd < 50 && errors == 0 ? V_PASS : V_MISS;
	snprintf(row->note, sizeof(row->note),
		 "baseline: reloading 10 rules; %d clients: %ld binds, %ld failed, slowest "
		 "bind+unbind %.1f ms",
		 n_clients, count, errors, max_lat / 1e3);
	snprintf(row->extra, sizeof(row->extra),
		 ", \"clients\": %d, \"binds\": %ld, \"failed\": %ld, \"max_bind_unbind_ms\": %.3f",
		 n_clients, count, errors, max_lat / 1e3);
out:
	svm_disconnect(root);
	pin(opt.server_cpu);
	server_stop(&svmd);
	munmap(tp, sizeof(struct tp));
}

/*
 * `svmd --check-policy` on the 100,000-rule tree, against a reload of the same tree by a running
 * svmd (what svmd compiles for the policy to come into force), alternating. The tree lints
 * clean, so the check must end with "0 errors, 0 warnings".
 */
static void scenario_lint(void)
{
	const char *what = "svmd --check-policy, 100,000 rules, vs a reload of them";
	struct server svmd = {0};
	struct svm_client *root = NULL;
	char err[512], dir[512], exe[512], pol[600], log[600], clean[96];
	int rounds = scaled(5), r;
	double t_check[64], t_reload[64];

	fprintf(stderr, "svmd-bench: 5: %s\n", what);
	policy_dir(HUGE_RULES, dir, sizeof(dir));
	snprintf(exe, sizeof(exe), "%s/svmd", opt.build);
	snprintf(pol, sizeof(pol), "--policy-dir=%s", dir);
	snprintf(log, sizeof(log), "%s/check-policy.log", opt.workdir);
	snprintf(clean, sizeof(clean), "%d rules from %d files, 0 errors, 0 warnings", HUGE_RULES,
		 (HUGE_RULES + POLICY_FILE_RULES - 1) / POLICY_FILE_RULES);
	if (start_svmd(&svmd, "svmd-lint", opt.server_cpu, dir, NULL, 0, err, sizeof(err)) < 0) {
		row_failed("5f", what, "%s", err);
		goto out;
	}
	r = svm_connect(svmd.socket, &root);
	if (r < 0) {
		row_failed("5f", what, "root client: %s", strerror(-r));
		goto out;
	}
	for (int i = 0; i < rounds; i++) {
		for (int j = 0; j < 2; j++) {
			double t0 = now_ns();
			if ((i + j) % 2 == 0) {
				struct svm_reload_result rr;
				r = svm_reload(root, &rr, NULL);
				t_reload[i] = (now_ns() - t0) / 1e6;
				if (r < 0 || rr.n_rules != HUGE_RULES) {
					row_failed("5f", what, "reload: %s, %u rules",
						   r < 0 ? strerror(-r) : "done", rr.n_rules);
					goto out;
				}
				continue;
			}
			const char *argv[] = {exe, "--check-policy", pol, NULL};
			int status;
			pid_t pid = spawn(argv, opt.server_cpu, log, 0);
			waitpid(pid, &status, 0);
			t_check[i] = (now_ns() - t0) / 1e6;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
			    !file_has(log, clean)) {
				row_failed("5f", what, "svmd --check-policy: status %d: %s",
					   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
					   log_tail(log));
				goto out;
			}
		}
	}
	struct row *row = row_new("5f", "svmd --check-policy, 100,000 rules (ms)", "ms");
	row->svmd = quantile(t_check, (size_t)rounds, 0.5);
	row->base = quantile(t_reload, (size_t)rounds, 0.5);
	row->ratio = row->svmd / row->base;
	row->has_base = row->has_ratio = row->has_spread = true;
	row->runs = rounds;
	row->svmd_lo = t_check[0];
	row->svmd_hi = t_check[rounds - 1];
	row->base_lo = t_reload[0];
	row->base_hi = t_reload[rounds - 1];
	snprintf(row->target, sizeof(row->target), "<= 3.00x");
	row->verdict = row->ratio <= 3.0 ? V_PASS : V_MISS;
	snprintf(row->note, sizeof(row->note),
		 "baseline: svmctl reload of the same tree by a running svmd; the check "
		 "compiles it too, then lints it (a fresh process each time)");
out:
	svm_disconnect(root);
	server_stop(&svmd);
}

/* Scenario 6: 10,000 idle connections, held by this process: as root when clients run as the
 * bench user, so that svmd's per-uid share of its fds (half of them) does not count the
 * measuring client's connection with the 10,000. */

static int idle_open(const char *socket, struct svm_client **c, char *err, size_t errlen)
{
	for (int i = 0; i < IDLE_CONNS; i++) {
		int r = svm_connect(socket, &c[i]);
		if (r < 0) {
			snprintf(err, errlen, "idle connection %d: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

struct idle_rss {
	pid_t none, idle;
	long none_kib, idle_kib, nofile;
};

static void idle_step(int step, void *data)
{
	struct idle_rss *s = data;

	(void)step;
	s->none_kib = rss_kib(s->none);
	s->idle_kib = rss_kib(s->idle);
	s->nofile = fd_limit(s->idle);
}

static void scenario_idle(void)
{
	const char *what = "bind+unbind, 10,000 idle connections vs none";
	struct server none = {0}, idle = {0};
	static struct svm_client *conns[IDLE_CONNS];
	struct idle_rss rss = {0};
	struct latency l;
	char err[512], dir[512];

	fprintf(stderr, "svmd-bench: 6: %s\n", what);
	policy_dir(POLICY_RULES, dir, sizeof(dir));
	if (start_svmd(&none, "svmd-no-idle", opt.cpu, dir, NULL, 131072, err, sizeof(err)) < 0 ||
	    start_svmd(&idle, "svmd-idle", opt.cpu, dir, NULL, 131072, err, sizeof(err)) < 0) {
		row_failed("6", what, "%s", err);
		goto out;
	}
	if (idle_open(idle.socket, conns, err, sizeof(err)) < 0) {
		row_failed("6", what, "%s", err);
		goto out;
	}
	latency_init(&l, scaled(20), 1000, 1000);
	l.a.socket = none.socket;
	l.b.socket = idle.socket;
	l.a.pasid = l.b.pasid = MEASURE_PASID;
	rss.none = none.pid;
	rss.idle = idle.pid;
	if (run_staged(&l, 1, idle_step, &rss) < 0) {
		row_failed("6", what, "%s", l.error[0] ? l.error : "client failed");
	} else {
		struct row *r =
			row_new("6a", "RSS of svmd with 10,000 idle connections (MiB)", "MiB");
		r->svmd = rss.idle_kib / 1024.0;
		r->base = rss.none_kib / 1024.0;
		r->has_base = true;
		r->runs = 1;
		snprintf(r->target, sizeof(r->target), "<= 64 MiB");
		r->verdict = r->svmd <= 64 ? V_PASS : V_MISS;
		snprintf(r->note, sizeof(r->note),
			 "baseline: the same svmd with none; %.1f KiB per connection; svmd's fd "
			 "limit %ld",
			 (double)(rss.idle_kib - rss.none_kib) / IDLE_CONNS, rss.nofile);
		r = latency_row(&l, "6b", what, 1.2, "svmd with no idle connections");
		snprintf(r->note, sizeof(r->note), "baseline: svmd with no idle connections");
	}
	latency_free(&l);
out:
	for (int i = 0; i < IDLE_CONNS; i++)
		conns[i] = svm_disconnect(conns[i]);
	server_stop(&idle);
	server_stop(&none);
}

/* Output. */

static const char *num(double v, char *buf, size_t size)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else if (fabs(v) >= 1000)
		snprintf(buf, size, "%.0f", v);
	else if (fabs(v) >= 100)
		snprintf(buf, size, "%.1f", v);
	else
		snprintf(buf, size, "%.2f", v);
	return buf;
}

static void print_table(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32], g[32], ratio[16];

	fprintf(f, "\n%-3s %-50s %10s %10s %7s %-16s %-6s %4s  %s\n", "ID", "SCENARIO (unit)",
		"SVMD", "BASELINE", "RATIO", "TARGET", "RESULT", "RUNS",
		"SPREAD: svmd min-max | baseline min-max");
	for (size_t i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];
		char what[96];
		snprintf(what, sizeof(what), "%s (%s)", r->what, r->unit);
		if (strchr(r->what, '('))
			snprintf(what, sizeof(what), "%s", r->what);
		if (r->verdict == V_FAILED || r->verdict == V_SKIPPED) {
			fprintf(f, "%-3s %-50s %10s %10s %7s %-16s %-7s %3s  %s\n", r->id, r->what,
				"-", "-", "-", "-", verdict_names[r->verdict], "-", r->note);
			continue;
		}
		if (r->has_ratio)
			snprintf(ratio, sizeof(ratio), "%.2fx", r->ratio);
		else
			snprintf(ratio, sizeof(ratio), "-");
		fprintf(f, "%-3s %-50.50s %10s %10s %7s %-16s %-6s %4d  ", r->id, what,
			num(r->svmd, a, sizeof(a)), r->has_base ? num(r->base, b, sizeof(b)) : "-",
			ratio, r->target[0] ? r->target : "-", verdict_names[r->verdict], r->runs);
		if (r->has_spread)
			fprintf(f, "%s-%s | %s-%s", num(r->svmd_lo, c, sizeof(c)),
				num(r->svmd_hi, d, sizeof(d)), num(r->base_lo, e, sizeof(e)),
				num(r->base_hi, g, sizeof(g)));
		fprintf(f, "\n");
		if (r->note[0])
			fprintf(f, "%-3s   %s\n", "", r->note);
	}
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_number(FILE *f, const char *key, double v, bool present)
{
	fprintf(f, ", \"%s\": ", key);
	if (present && !isnan(v) && !isinf(v))
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "null");
}

static double load_start, load_end;

static double loadavg(void)
{
	double v = NAN;
	FILE *f = fopen("/proc/loadavg", "re");

	if (f) {
		if (fscanf(f, "%lf", &v) != 1)
			v = NAN;
		fclose(f);
	}
	return v;
}

static int write_json(const char *path)
{
	char kernel[256] = "";
	FILE *f = fopen("/proc/sys/kernel/osrelease", "re");

	if (f) {
		if (fgets(kernel, sizeof(kernel), f))
			kernel[strcspn(kernel, "\n")] = 0;
		fclose(f);
	}
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "{\n  \"kernel\": ");
	json_string(f, kernel);
	fprintf(f,
		",\n  \"cpus\": %ld, \"latency_cpu\": %d, \"server_cpu\": %d, \"client_cpu\": "
		"%d,\n",
		sysconf(_SC_NPROCESSORS_ONLN), opt.cpu, opt.server_cpu, opt.client_cpu);
	fprintf(f, "  \"loadavg_start\": %.2f, \"loadavg_end\": %.2f, \"nice\": %d,\n", load_start,
		load_end, opt.nice);
	fprintf(f, "  \"bench_user\": ");
	json_string(f, opt.user);
	fprintf(f, ",\n  \"results\": [\n");
	for (size_t i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];
		fprintf(f, "    {\"id\": ");
		json_string(f, r->id);
		fprintf(f, ", \"scenario\": ");
		json_string(f, r->what);
		fprintf(f, ", \"unit\": ");
		json_string(f, r->unit);
		fprintf(f, ", \"result\": ");
		json_string(f, verdict_names[r->verdict]);
		json_number(f, "svmd", r->svmd, r->verdict != V_FAILED && r->verdict != V_SKIPPED);
		json_number(f, "baseline", r->base, r->has_base);
		json_number(f, "ratio", r->ratio, r->has_ratio);
		fprintf(f, ", \"runs\": %d", r->runs);
		if (r->has_spread)
			fprintf(f,
				", \"spread\": {\"svmd_min\": %.6g, \"svmd_max\": %.6g, "
				"\"baseline_min\": %.6g, \"baseline_max\": %.6g}",
				r->svmd_lo, r->svmd_hi, r->base_lo, r->base_hi);
		else
			fprintf(f, ", \"spread\": null");
		fprintf(f, ", \"target\": ");
		json_string(f, r->target);
		fprintf(f, ", \"note\": ");
		json_string(f, r->note);
		fprintf(f, "%s}%s\n", r->extra, i + 1 < n_rows ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
	enum { O_BUILD = 0x100, O_WORKDIR, O_JSON, O_BUS, O_USER, O_CPU, O_SCPU, O_CCPU, O_QUICK };
	static const struct option longopts[] = {
		{"build", required_argument, NULL, O_BUILD},
		{"workdir", required_argument, NULL, O_WORKDIR},
		{"json", required_argument, NULL, O_JSON},
		{"bus", required_argument, NULL, O_BUS},
		{"user", required_argument, NULL, O_USER},
		{"cpu", required_argument, NULL, O_CPU},
		{"server-cpu", required_argument, NULL, O_SCPU},
		{"client-cpu", required_argument, NULL, O_CCPU},
		{"quick", no_argument, NULL, O_QUICK},
		{},
	};
	const char *only = getenv("SVMD_BENCH_ONLY"); /* e.g. "1,3": a subset, for profiling */
	struct rlimit rl;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
		switch (c) {
		case O_BUILD:
			opt.build = optarg;
			break;
		case O_WORKDIR:
			opt.workdir = optarg;
			break;
		case O_JSON:
			opt.json = optarg;
			break;
		case O_BUS:
			opt.bus = *optarg ? optarg : NULL;
			break;
		case O_USER:
			opt.user = optarg;
			break;
		case O_CPU:
			opt.cpu = atoi(optarg);
			break;
		case O_SCPU:
			opt.server_cpu = atoi(optarg);
			break;
		case O_CCPU:
			opt.client_cpu = atoi(optarg);
			break;
		case O_QUICK:
			opt.scale = 0.3;
			break;
		default:
			return 2;
		}
	}
	if (!opt.build || !opt.workdir || !opt.json)
		die("usage: svmd-bench --build=DIR --workdir=DIR --json=FILE [--bus=ADDRESS] "
		    "[--user=NAME] [--cpu=N] [--server-cpu=N] [--client-cpu=N] [--quick]");
	signal(SIGPIPE, SIG_IGN);

	/* Clients run as the bench user when we are root; otherwise as ourselves. */
	struct passwd *pw = geteuid() == 0 && opt.user ? getpwnam(opt.user) : getpwuid(geteuid());
	if (!pw)
		die("no user %s (tests/bench/run.sh creates it)", opt.user ? opt.user : "(self)");
	opt.user = strdup(pw->pw_name);
	opt.uid = pw->pw_uid;
	opt.gid = pw->pw_gid;
	opt.drop = geteuid() == 0 && opt.uid != 0;
	/* Room for 10,000 idle connections in the client (svmd gets its own limit). */
	rl = (struct rlimit){65536, 65536};
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	pin(opt.server_cpu);
	/* Servers and clients inherit this: at nice -20 they keep their CPUs when other work on
	 * the machine wants them too (svmd and the baselines alike). Needs CAP_SYS_NICE. */
	opt.nice = setpriority(PRIO_PROCESS, 0, -20) == 0 ? -20 : getpriority(PRIO_PROCESS, 0);

	if (write_topology() < 0 || write_policy_n(10) < 0 || write_policy_n(POLICY_RULES) < 0 ||
	    write_policy_n(10000) < 0 || write_policy_n(HUGE_RULES) < 0)
		die("cannot write the policies into %s: %s", opt.workdir, strerror(errno));

	load_start = loadavg();
	static const struct {
		char id;
		const char *what;
		void (*run)(void);
	} scenarios[] = {
		{'1', "socket bind+unbind", scenario_socket},
		{'2', "D-Bus bind+unbind", scenario_bus},
		{'2', "D-Bus bind+unbind vs polkit", scenario_bus_polkit},
		{'3', "throughput", scenario_throughput},
		{'4', "100,000 live bindings", scenario_scale},
		{'5', "policy decisions", scenario_policy},
		{'5', "reload under load", scenario_reload},
		{'5', "policy lint", scenario_lint},
		{'6', "10,000 idle connections", scenario_idle},
		{'7', "bind+unbind with restart survival", scenario_survive},
	};
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (!only || strchr(only, scenarios[i].id)) {
			scenarios[i].run();
			continue;
		}
		/* Left out on request: listed, and the run does not count as complete. */
		char id[2] = {scenarios[i].id, 0};
		struct row *r = row_new(id, scenarios[i].what, "");
		r->verdict = V_SKIPPED;
		snprintf(r->note, sizeof(r->note), "not run: SVMD_BENCH_ONLY=%s", only);
		any_failed = true;
	}

	load_end = loadavg();
	printf("\nLoad average (1 min) at the start %.2f, at the end %.2f (other work on this "
	       "machine widens the spreads); benchmark processes at nice %d.\n",
	       load_start, load_end, opt.nice);
	print_table(stdout);
	if (write_json(opt.json) < 0)
		die("cannot write %s: %s", opt.json, strerror(errno));
	printf("\nResults: %s%s\n", opt.json,
	       any_failed ? "; some scenarios FAILED or were SKIPPED (see above): exit status 1"
			  : "");
	return any_failed ? 1 : 0;
}
