/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Restart survival without systemd: this process plays PID 1's fd store (a notify socket that
 * keeps what FDSTORE=1 sends, by FDNAME, and passes it back to the next svmd as LISTEN_FDS) and
 * kills svmd at chosen points of a request with ptrace, so that the windows a crash can hit
 * are hit every time: the request read but its state not written, the state written but the
 * reply not sent, the reply sent but the request not yet taken off the socket. In each, the
 * client's call must end as if nothing happened: answered once, its binding made once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define DEV "0000:3b:00.0"
#define POLICY                                                                                     \
	"allow bind-task user=svmd-test1 device=" DEV " pasid=auto max=2\n"                        \
	"allow open-device user=svmd-test1 device=" DEV "\n"                                       \
	"allow map user=svmd-test1 device=" DEV " iova=0x100000-0x1fffffff max-bytes=64M\n"

/* The stand-in for PID 1's fd store. */
#define STORE_MAX 64
static struct {
	pthread_mutex_t lock;
	int sock;
	char path[108];
	size_t n;
	int fds[STORE_MAX];
	char names[STORE_MAX][64];
	bool overflow;
	volatile bool stopping;
	const char *refuse; /* names starting so are not kept (as by a full store) */
} store = {.lock = PTHREAD_MUTEX_INITIALIZER, .sock = -1};
static pthread_t store_thread;
static bool store_running;

static void store_remove(const char *name)
{
	for (size_t i = 0; i < store.n;) {
		if (strcmp(store.names[i], name) == 0) {
			close(store.fds[i]);
			store.n--;
			store.fds[i] = store.fds[store.n];
			memcpy(store.names[i], store.names[store.n], sizeof(store.names[i]));
		} else {
			i++;
		}
	}
}

/* One notify message: FDSTORE=1 with its fd and FDNAME=, or FDSTOREREMOVE=1 with FDNAME=. */
static void store_take(char *msg, const int *fds, size_t n_fds)
{
	bool add = false, remove = false;
	const char *name = "stored";

	for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n")) {
		add |= strcmp(line, "FDSTORE=1") == 0;
		remove |= strcmp(line, "FDSTOREREMOVE=1") == 0;
		if (strncmp(line, "FDNAME=", 7) == 0)
			name = line + 7;
	}
	if (remove)
		store_remove(name);
	bool refused = store.refuse && strncmp(name, store.refuse, strlen(store.refuse)) == 0;
	for (size_t i = 0; i < n_fds; i++) {
		if (!add || refused || store.n == STORE_MAX) {
			store.overflow |= add && !refused;
			close(fds[i]);
			continue;
		}
		store.fds[store.n] = fds[i];
		snprintf(store.names[store.n], sizeof(store.names[0]), "%s", name);
		store.n++;
	}
}

static void *store_loop(void *arg)
{
	(void)arg;
	for (;;) {
		char msg[4096];
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 8)];
		} control;
		struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.buf,
				    .msg_controllen = sizeof(control.buf)};
		int fds[8];
		size_t n_fds = 0;
		ssize_t n = recvmsg(store.sock, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 && store.stopping)
			return NULL; /* stop() shut the socket down */
		if (n < 0)
			continue;
		msg[n] = 0;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0;
				     i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) && n_fds < 8;
				     i++)
					memcpy(&fds[n_fds++], CMSG_DATA(cm) + i * sizeof(int),
					       sizeof(int));
		pthread_mutex_lock(&store.lock);
		store_take(msg, fds, n_fds);
		pthread_mutex_unlock(&store.lock);
	}
}

static void store_start(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	store.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(store.sock, 0);
	snprintf(store.path, sizeof(store.path), "%s/notify", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", store.path);
	cr_assert_eq(bind(store.sock, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s",
		     strerror(errno));
	cr_assert_eq(pthread_create(&store_thread, NULL, store_loop, NULL), 0);
	store_running = true;
}

/* Waits until the store has read every message queued to it. */
static void store_drain(void)
{
	for (int i = 0; i < 200; i++) {
		int queued = 0;
		cr_assert_eq(ioctl(store.sock, FIONREAD, &queued), 0);
		if (queued == 0)
			break;
		usleep(10000);
	}
	usleep(50000); /* the last one read is also taken */
}

/* Whether the store holds an fd whose name starts with prefix. */
static bool store_has(const char *prefix)
{
	bool found = false;

	pthread_mutex_lock(&store.lock);
	for (size_t i = 0; i < store.n; i++)
		found |= strncmp(store.names[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&store.lock);
	return found;
}

static bool store_wait(const char *prefix, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		if (store_has(prefix))
			return true;
		usleep(10000);
	}
	return false;
}

static struct daemon d;
static struct test_user u1, u2;
static struct peer peer;
static char dir[] = "/tmp/svmd-restart.XXXXXX", state_arg[64], notify_env[160];

static void start(void)
{
	static const char *args[2], *env[2];

	test_users(&u1, &u2);
	cr_assert_not_null(mkdtemp(dir));
	store_start(dir);
	snprintf(state_arg, sizeof(state_arg), "--state-dir=%s/state", dir);
	cr_assert_eq(mkdir(state_arg + strlen("--state-dir="), 0700), 0);
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", store.path);
	args[0] = state_arg;
	env[0] = notify_env;
	daemon_start_env(&d, POLICY, NULL, args, env);
	peer_start(&peer, &d, u1.uid, u1.gid, 0);
	/* The peer's connection is in the store: a restart keeps it. */
	cr_assert(store_wait("svmd-conn-", 5000), "svmd did not store the connection");
}

static void stop(void)
{
	char cmd[128];

	peer_stop(&peer);
	daemon_stop(&d);
	if (store_running) {
		store.stopping = true;
		shutdown(store.sock, SHUT_RDWR);
		pthread_join(store_thread, NULL);
		store_running = false;
	}
	for (size_t i = 0; i < store.n; i++)
		close(store.fds[i]);
	store.n = 0;
	store.stopping = false;
	store.refuse = NULL;
	close(store.sock);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
}

/* Where svmd is killed: at the entry of the state's write (the request read, its state not
 * written), of the reply's sendmsg (the state written, no reply), or of the next recvmsg on the
 * connection (the reply sent: the one that takes the request off the socket, or reads the
 * next); or at the state's write after it accepted a connection (not yet recorded). */
enum point { AT_WRITE, AT_REPLY, AT_TAKE, AT_ACCEPTED };

/* Whether syscall nr of svmd (pid) with first argument fd writes its state: a rename of the
 * state file, or a write to its journal. */
static bool state_write(pid_t pid, long nr, int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (nr == SYS_renameat || nr == SYS_renameat2)
		return true;
	if (nr != SYS_write)
		return false;
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return false;
	path[n] = 0;
	return n > 8 && strcmp(path + n - 8, "/journal") == 0;
}

/* Lets svmd (traced from now on) run until the point of the request the peer sends when go()
 * is called, kills it there and reaps it. Returns whether the point was reached. */
static bool kill_at(enum point at, void (*go)(uint64_t), uint64_t arg)
{
	pid_t pid = d.pid;
	int status, conn = -1;
	bool written = false, sent = false, accepted = false;
	struct timespec t0, t;

	cr_assert_eq(ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD), 0, "%s", strerror(errno));
	cr_assert_eq(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	cr_assert_eq(waitpid(pid, &status, __WALL), pid);
	go(arg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct __ptrace_syscall_info info;
		int sig = 0;

		cr_assert_eq(ptrace(PTRACE_SYSCALL, pid, 0, sig), 0);
		cr_assert_eq(waitpid(pid, &status, __WALL), pid);
		cr_assert(WIFSTOPPED(status), "svmd ended (status 0x%x) before the point", status);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			break;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue; /* a signal or group stop: svmd gets no signals in these tests */
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0 ||
		    info.op != PTRACE_SYSCALL_INFO_ENTRY)
			continue;
		long nr = (long)info.entry.nr;
		int fd = (int)info.entry.args[0];
		bool there = false;
		if (nr == SYS_accept4) {
			accepted = true;
		} else if (at == AT_ACCEPTED) {
			there = accepted && state_write(pid, nr, fd);
		} else if (nr == SYS_recvmsg && conn < 0) {
			conn = fd; /* the request's connection: the first svmd reads after go() */
		} else if (state_write(pid, nr, fd)) {
			there = at == AT_WRITE && conn >= 0;
			written = conn >= 0;
		} else if (nr == SYS_sendmsg && written && fd == conn) {
			there = at == AT_REPLY;
			sent = true;
		} else if (nr == SYS_recvmsg && sent && fd == conn) {
			there = at == AT_TAKE;
		}
		if (there) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, __WALL);
			d.pid = 0;
			return true;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	d.pid = 0;
	return false;
}

/* What the store holds goes to the next svmd, as systemd gives it. */
static void restart(void)
{
	int fds[STORE_MAX];
	const char *names[STORE_MAX];

	static char copy[STORE_MAX][64];

	store_drain();
	pthread_mutex_lock(&store.lock);
	bool overflow = store.overflow;
	size_t n = store.n;
	for (size_t i = 0; i < n; i++) {
		fds[i] = fcntl(store.fds[i], F_DUPFD_CLOEXEC, 3);
		memcpy(copy[i], store.names[i], sizeof(copy[i]));
		names[i] = copy[i];
	}
	pthread_mutex_unlock(&store.lock);
	cr_assert(!overflow, "the store was full");
	daemon_respawn(&d, fds, names, n);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	cr_assert(daemon_log_wait(&d, "State adopted", 5000));
}

static void go_bind(uint64_t unused)
{
	(void)unused;
	peer_bind_task_async(&peer, DEV);
}

static void go_lease(uint64_t id)
{
	peer_lease_async(&peer, id);
}

/* A bind in flight when svmd dies, at one of the points: the next svmd answers it, and it is
 * made once. */
static void bind_across(enum point at)
{
	struct peer_result r, c;

	cr_assert(kill_at(at, go_bind, 0), "svmd never reached the point");
	restart();
	cr_assert_eq(peer_wait(&peer, 15000, &r), 0, "the bind in flight failed: %s (%s)",
		     strerror(-r.status), r.reason);
	cr_assert_gt(r.id, 0);
	/* Over the same connection: the bindings it lists, one. */
	cr_assert_eq(peer_count(&peer, &c), 0, "list after the restart: %s (%s)",
		     strerror(-c.status), c.reason);
	cr_assert_eq(c.id, 1, "the peer has %llu bindings, not 1", (unsigned long long)c.id);
	cr_assert_eq(count_bindings(&d), 1);
	cr_assert_eq(peer_unbind(&peer, r.id, &c), 0, "unbind %llu: %s", (unsigned long long)r.id,
		     strerror(-c.status));
	cr_assert(wait_bindings(&d, 0, 3000));
}

Test(restart, bind_read_state_not_written, .init = start, .fini = stop, .timeout = 60)
{
	bind_across(AT_WRITE);
}

Test(restart, bind_state_written_reply_not_sent, .init = start, .fini = stop, .timeout = 60)
{
	bind_across(AT_REPLY);
}

Test(restart, bind_reply_sent_request_not_taken, .init = start, .fini = stop, .timeout = 60)
{
	bind_across(AT_TAKE);
}

/* A lease's reply carries its fd: the next svmd gives the same lease, and the fd store lets
 * go of it once given (closing it then ends the binding). */
Test(restart, lease_state_written_reply_not_sent, .init = start, .fini = stop, .timeout = 60)
{
	struct peer_result b, r;

	cr_assert_eq(peer_bind_task(&peer, DEV, -1, 0, &b), 0, "%s", b.reason);
	cr_assert(kill_at(AT_REPLY, go_lease, b.id), "svmd never reached the point");
	restart();
	cr_assert_eq(peer_wait(&peer, 15000, &r), 0, "the lease in flight failed: %s (%s)",
		     strerror(-r.status), r.reason);
	cr_assert_geq(r.fd, 0, "the lease came without its fd");
	cr_assert_eq(count_bindings(&d), 1);
	store_drain();
	cr_assert(!store_has("svmd-reply-"), "the lease's fd stayed in the store");
	close(r.fd);
	cr_assert(wait_bindings(&d, 0, 5000), "closing the lease did not end the binding");
}

static struct peer late;

static void go_connect(uint64_t unused)
{
	(void)unused;
	peer_connect_async(&late);
}

/* A lease whose reply's fd never reached the store (systemd refused it): the next svmd cannot
 * give the reply whole, and says so rather than leave the client waiting. */
Test(restart, lease_reply_fd_lost_is_answered, .init = start, .fini = stop, .timeout = 60)
{
	struct peer_result b, r;

	cr_assert_eq(peer_bind_task(&peer, DEV, -1, 0, &b), 0, "%s", b.reason);
	store.refuse = "svmd-reply-";
	cr_assert(kill_at(AT_REPLY, go_lease, b.id), "svmd never reached the point");
	restart();
	cr_assert_eq(peer_wait(&peer, 15000, &r), -ESTALE, "the lease in flight: %s (%s)",
		     strerror(-r.status), r.reason);
	cr_assert(strstr(r.reason, "hand over"), "%s", r.reason);
	/* Its holder's end is gone with the reply: the lease has ended. */
	cr_assert(wait_bindings(&d, 0, 5000), "the lease without a holder lives on");
}

/* A connection accepted when svmd dies, before the state names it: the next svmd serves it as
 * a new one, and its HELLO (still in the socket) is answered. */
Test(restart, connection_accepted_not_recorded, .init = start, .fini = stop, .timeout = 60)
{
	struct peer_result r, b;

	peer_start_paused(&late, &d, u1.uid, u1.gid, 0);
	cr_assert(kill_at(AT_ACCEPTED, go_connect, 0), "svmd never reached the point");
	restart();
	cr_assert(daemon_log_has(&d, "1 connections not yet recorded served as new"));
	cr_assert_eq(peer_wait(&late, 15000, &r), 0, "the connect in flight failed: %s",
		     strerror(-r.status));
	cr_assert_eq(peer_bind_task(&late, DEV, -1, 0, &b), 0, "bind: %s (%s)", strerror(-b.status),
		     b.reason);
	/* Its session is one like any other now: the next crash keeps it and its binding. */
	struct peer_result c;
	cr_assert(store_wait("svmd-proc-", 5000));
	store_drain();
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	d.pid = 0;
	restart();
	cr_assert_eq(peer_count(&late, &c), 0, "list after the second restart: %s (%s)",
		     strerror(-c.status), c.reason);
	cr_assert_eq(c.id, 1, "the late peer has %llu bindings, not 1", (unsigned long long)c.id);
	cr_assert_eq(peer_unbind(&late, b.id, &b), 0);
	peer_stop(&late);
}

static void go_open(uint64_t unused)
{
	(void)unused;
	peer_open_device_async(&peer, DEV);
}

/* An open-device svmd records the reply of, and dies before sending: the next svmd does not
 * keep device fds' records, so it gives the recorded reply (with its fd) and tells the client
 * the binding ended, rather than open the device a second time. */
Test(restart, open_device_not_kept_is_not_done_twice, .init = start, .fini = stop, .timeout = 60)
{
	struct peer_result r, c;

	cr_assert(kill_at(AT_REPLY, go_open, 0), "svmd never reached the point");
	restart();
	cr_assert_eq(peer_wait(&peer, 15000, &r), 0, "the open in flight failed: %s (%s)",
		     strerror(-r.status), r.reason);
	cr_assert_geq(r.fd, 0, "the device fd did not come");
	close(r.fd);
	cr_assert(daemon_log_has(&d, "svmd shutting down"), "no release record for it");
	cr_assert_eq(count_bindings(&d), 0, "the device was opened again");
	/* Unbinding it, as a client that heard nothing would, is answered as done. */
	cr_assert_eq(peer_unbind(&peer, r.id, &c), 0, "unbind %llu: %s (%s)",
		     (unsigned long long)r.id, strerror(-c.status), c.reason);
}

/* Hundreds of bindings the restart cannot keep (maps): the client hears of each ending, a few
 * records at a time, and is not dropped for records it reads only when it next calls. */
Test(restart, many_released_bindings_do_not_drop_the_client, .init = start, .fini = stop,
     .timeout = 120)
{
	struct peer_result b, r, c;
	int memfd = memfd_create("svmd-restart-test", MFD_CLOEXEC);

	cr_assert_geq(memfd, 0);
	cr_assert_eq(ftruncate(memfd, 4096), 0);
	cr_assert_eq(peer_bind_task(&peer, DEV, -1, 0, &b), 0, "%s", b.reason);
	for (int i = 0; i < 600; i++)
		cr_assert_eq(peer_map(&peer, DEV, memfd, 0, 4096, 0x100000 + 0x1000 * (uint64_t)i,
				      SVM_MAP_READ, &r),
			     0, "map %d: %s", i, r.reason);
	close(memfd);
	store_drain();
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	d.pid = 0;
	restart();
	usleep(500000); /* svmd sends what the socket takes; the peer reads nothing meanwhile */
	cr_assert_eq(peer_count(&peer, &c), 0, "list after the restart: %s (%s)",
		     strerror(-c.status), c.reason);
	cr_assert_eq(c.id, 1, "the peer has %llu bindings, not its task bind alone",
		     (unsigned long long)c.id);
	cr_assert_not(daemon_log_has(&d, "event records unread"), "the peer was dropped");
}
