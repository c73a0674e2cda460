/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The D-Bus front-end answers first and commits after (daemon/bus-broker.c): a bind or
 * open-device whose reply cannot be sent must not live on. The front-end and the request core
 * run in this process on a private dbus-daemon, with sd_bus_send() wrapped (ld --wrap) so that
 * the replies it sends fail on demand; a child calls through libsvmclient. The audit trail is
 * captured here.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "audit.h"
#include "cleanup.h"
#include "backend-sim.h"
#include "bus.h"
#include "loop.h"
#include "ops.h"
#include "persist.h"
#include "policy-load.h"
#include "sim-kernel.h"
#include "state-lines.h"
#include "svmclient.h"

#define DEV "0000:3b:00.0"

static struct rec {
	enum audit_event event;
	char reason[256];
} recs[32];
static size_t n_recs;

void audit_log(const struct audit_record *r)
{
	if (n_recs < ELEMENTSOF(recs)) {
		recs[n_recs].event = r->event;
		snprintf(recs[n_recs].reason, sizeof(recs[0].reason), "%s",
			 r->reason ? r->reason : "");
		n_recs++;
	}
}

void audit_hold(void)
{
}

void audit_flush(void)
{
}

/* Method returns sent by svmd fail while fail_replies is set; everything else goes out. With
 * state_dir set, each method return notes how many bindings the state file held as it went. */
static bool fail_replies;
static const char *state_dir;
static int state_bindings_at_reply = -1;
int __real_sd_bus_send(sd_bus *bus, sd_bus_message *m, uint64_t *cookie);

static int state_bindings(void)
{
	static struct state_lines st;
	int n = 0;

	state_lines_read(&st, state_dir);
	for (size_t i = 0; i < st.n; i++)
		n += strncmp(st.line[i], "binding ", 8) == 0;
	state_lines_done(&st);
	return n;
}

int __wrap_sd_bus_send(sd_bus *bus, sd_bus_message *m, uint64_t *cookie)
{
	uint8_t type = 0;

	if (sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_RETURN)
		return __real_sd_bus_send(bus, m, cookie);
	if (state_dir)
		state_bindings_at_reply = state_bindings();
	if (fail_replies)
		return -ENOBUFS;
	return __real_sd_bus_send(bus, m, cookie);
}

static struct {
	char dir[64];
	char address[160];
	pid_t bus_pid;
	struct loop *loop;
	struct core *core;
	struct bus *bus;
	struct sim_kernel *kernel;
} f;

static bool bus_listens(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void start_dbus(void)
{
	char conf[128], sock[128];
	FILE *c;

	snprintf(conf, sizeof(conf), "%s/bus.conf", f.dir);
	snprintf(sock, sizeof(sock), "%s/bus.sock", f.dir);
	c = fopen(conf, "we");
	cr_assert_not_null(c);
	fprintf(c,
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
		"1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig><type>system</type><listen>unix:path=%s</listen>"
		"<auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>"
		"<allow own=\"*\"/><allow send_destination=\"*\"/><allow receive_sender=\"*\"/>"
		"</policy></busconfig>\n",
		sock);
	fclose(c);
	f.bus_pid = fork();
	cr_assert_geq(f.bus_pid, 0);
	if (f.bus_pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execlp("dbus-daemon", "dbus-daemon", "--config-file", conf, "--nofork",
		       "--nopidfile", "--nosyslog", (char *)NULL);
		_exit(127);
	}
	/* The socket file exists from bind(), before listen(): wait until it takes a connection. */
	for (int i = 0; i < 500 && !bus_listens(sock); i++)
		usleep(10000);
	cr_assert(bus_listens(sock), "dbus-daemon did not start listening on %s", sock);
	snprintf(f.address, sizeof(f.address), "unix:path=%s", sock);
}

static void setup(void)
{
	const char *dirs[1];
	struct backend *be = NULL;
	struct policy *p = NULL;
	char path[128], err[256];
	FILE *pf;

	memset(&f, 0, sizeof(f));
	n_recs = 0;
	fail_replies = false;
	snprintf(f.dir, sizeof(f.dir), "/tmp/svmd-test-bus.XXXXXX");
	cr_assert_not_null(mkdtemp(f.dir));
	start_dbus();
	snprintf(path, sizeof(path), "%s/50-test.policy", f.dir);
	pf = fopen(path, "we");
	cr_assert_not_null(pf);
	/* The caller is whoever runs the test (root under make check, not in a package build). */
	fprintf(pf,
		"allow bind-pgtable user=%u device=0000:3b:00.0 pasid=100-199\n"
		"allow open-device user=%u device=0000:3b:00.0\n",
		(unsigned)geteuid(), (unsigned)geteuid());
	fclose(pf);
	dirs[0] = f.dir;
	cr_assert_eq(policy_load(dirs, 1, &p), 0);
	cr_assert_eq(backend_sim_new(NULL, &be, err, sizeof(err)), 0, "%s", err);
	f.kernel = backend_sim_kernel(be);
	f.loop = loop_new();
	cr_assert_not_null(f.loop);
	cr_assert_eq(core_new(loop_base(f.loop), be, p, dirs, 1, &f.core), 0);
	cr_assert_eq(bus_new(f.loop, f.core, f.address, &f.bus), 0);
}

static void hang_up(void);

static void teardown(void)
{
	char cmd[128];

	hang_up();
	f.bus = bus_free(f.bus);
	f.core = core_free(f.core);
	f.loop = loop_free(f.loop);
	if (f.bus_pid > 0) {
		kill(f.bus_pid, SIGTERM);
		waitpid(f.bus_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f.dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(bus_reply, .init = setup, .fini = teardown);

/* What the child's call came to. */
struct outcome {
	int status;
	int fd_ok; /* open-device: a device fd arrived */
};

enum call { CALL_BIND, CALL_OPEN };

static pid_t caller = -1;
static int release_caller = -1; /* closing it lets the caller disconnect and exit */

/* Ends the last caller: its name leaves the bus, and its session with it. */
static void hang_up(void)
{
	if (caller < 0)
		return;
	release_caller = safe_close(release_caller);
	waitpid(caller, NULL, 0);
	caller = -1;
}

/* Runs the call in a child (as root, through libsvmclient on the bus) while this process serves
 * it; returns what the child saw. The child stays connected until hang_up(). */
static struct outcome call(enum call what)
{
	struct outcome out = {0};
	int p[2], hold[2];
	pid_t pid;

	hang_up();
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(hold, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct svm_client *c = NULL;
		struct outcome o = {0};
		char x;
		close(p[0]);
		close(hold[1]);
		o.status = svm_connect_bus(f.address, &c);
		if (o.status == 0 && what == CALL_BIND) {
			struct svm_pgtable pg = {.pasid = 150, .addr_width = 48, .gpgd = 0x10000};
			uint64_t id;
			o.status = svm_bind_pgtable(c, DEV, &pg, &id);
		} else if (o.status == 0) {
			int fd = -1;
			uint64_t id;
			o.status = svm_open_device(c, DEV, &fd, &id);
			o.fd_ok = fd >= 0;
		}
		(void)!write(p[1], &o, sizeof(o));
		(void)!read(hold[0], &x, 1);
		svm_disconnect(c);
		_exit(0);
	}
	close(p[1]);
	close(hold[0]);
	caller = pid;
	release_caller = hold[1];
	/* Serve until the child has its answer. */
	for (int i = 0; i < 2000; i++) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (poll(&pf, 1, 0) > 0)
			break;
		struct timeval tv = {.tv_usec = 5000};
		event_base_loopexit(loop_base(f.loop), &tv);
		event_base_dispatch(loop_base(f.loop));
	}
	cr_assert_eq(read(p[0], &out, sizeof(out)), (ssize_t)sizeof(out), "the call got no answer");
	close(p[0]);
	return out;
}

/* Open fds of this process (svmd's side) that are the sim backend's device fds. */
static int device_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t k;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = 0;
			n += strstr(target, "svmd-sim-device:") != NULL;
		}
	}
	closedir(d);
	return n;
}

Test(bus_reply, a_bind_is_committed_once_its_reply_is_sent)
{
	struct outcome o = call(CALL_BIND);
	struct binding *b;

	cr_assert_eq(o.status, 0);
	cr_assert_eq(registry_count(f.core->registry), 1);
	b = registry_first_after(f.core->registry, 0);
	cr_assert(b->committed);
	cr_assert_eq(sim_kernel_n_bound(f.kernel, DEV), 1);
	cr_assert_eq(n_recs, 1);
	cr_assert_eq(recs[0].event, AUDIT_GRANT);
}

/* sd-bus writes a reply at once, before the loop's own flush: a client told of a binding that
 * a crash right after would lose (the next svmd adopts what the state file holds) would find it
 * gone, unannounced. */
Test(bus_reply, a_binds_reply_goes_out_once_the_state_file_holds_it)
{
	char err[256];
	struct outcome o;

	cr_assert_eq(core_set_state_dir(f.core, f.dir, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(persist_new(f.core, false, &f.core->persist), 0);
	state_dir = f.dir;
	o = call(CALL_BIND);
	state_dir = NULL;
	cr_assert_eq(o.status, 0);
	cr_assert_eq(registry_count(f.core->registry), 1);
	cr_assert_eq(state_bindings_at_reply, 1, "the state file held %d bindings at the reply",
		     state_bindings_at_reply);
}

Test(bus_reply, a_bind_whose_reply_cannot_be_sent_ends)
{
	fail_replies = true;
	struct outcome o = call(CALL_BIND);

	/* sd-bus answers the call with an error instead: the caller does not believe it holds a
	 * binding, and svmd holds none. */
	cr_assert_lt(o.status, 0);
	cr_assert_eq(registry_count(f.core->registry), 0);
	cr_assert_eq(sim_kernel_n_bound(f.kernel, DEV), 0);
	cr_assert_eq(n_recs, 2);
	cr_assert_eq(recs[0].event, AUDIT_GRANT);
	cr_assert_eq(recs[1].event, AUDIT_RELEASE);
	cr_assert_str_eq(recs[1].reason, "the reply granting it could not be sent");
}

Test(bus_reply, an_open_device_whose_reply_cannot_be_sent_ends_and_keeps_no_fd)
{
	fail_replies = true;
	struct outcome o = call(CALL_OPEN);
	cr_assert_lt(o.status, 0);
	cr_assert_eq(o.fd_ok, 0);
	cr_assert_eq(registry_count(f.core->registry), 0);
	cr_assert_eq(device_fds(), 0, "the device fd stayed open in svmd");
	cr_assert_eq(n_recs, 2, "%zu records, first %d '%s'", n_recs, recs[0].event,
		     recs[0].reason);
	cr_assert_eq(recs[1].event, AUDIT_RELEASE);
	fail_replies = false;
	o = call(CALL_OPEN);
	cr_assert_eq(o.status, 0, "the device is free for the next holder (%d)", o.status);
	cr_assert(o.fd_ok);
}
