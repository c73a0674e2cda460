/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The integration harness; see harness.h. Everything here talks to the real svmd binary
 * through the real libsvmclient (or raw sockets, to misbehave on purpose).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

const char *build_path(const char *name)
{
	static char buf[4][512];
	static int slot;
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	cr_assert_gt(n, 0);
	exe[n] = 0;
	/* Test binaries live in BUILD/tests/, the programs in BUILD/. */
	char *dir = dirname(dirname(exe));
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", dir, name);
	return buf[slot];
}

static bool can_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void dump_log(const struct daemon *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "sed 's/^/  svmd log: /' %s >&2", d->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no daemon log)\n");
}

void daemon_start(struct daemon *d, const char *policy_text, const char *topology,
		  const char *const *extra_args)
{
	daemon_start_env(d, policy_text, topology, extra_args, NULL);
}

rlim_t daemon_nofile;

static const char *last_argv[32];
static const char *const *last_env;
static void spawn(struct daemon *d, const int *fds, const char *const *names, size_t n);

void daemon_start_env(struct daemon *d, const char *policy_text, const char *topology,
		      const char *const *extra_args, const char *const *env)
{
	char policy_dir[128], policy_file[192], topo_file[128];
	const char *argv[32];
	int n = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/svmd-it.XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir));
	/* Peers running as other users must reach the socket inside. */
	cr_assert_eq(chmod(d->dir, 0755), 0);
	snprintf(d->socket, sizeof(d->socket), "%s/svmd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/svmd.log", d->dir);
	snprintf(policy_dir, sizeof(policy_dir), "%s/policy", d->dir);
	cr_assert_eq(mkdir(policy_dir, 0755), 0);
	snprintf(policy_file, sizeof(policy_file), "%s/50-test.policy", policy_dir);
	write_file(policy_file, policy_text);

	static char socket_arg[160], policy_arg[160], topo_arg[160];
	snprintf(socket_arg, sizeof(socket_arg), "--socket=%s", d->socket);
	snprintf(policy_arg, sizeof(policy_arg), "--policy-dir=%s", policy_dir);
	argv[n++] = build_path("svmd");
	argv[n++] = socket_arg;
	argv[n++] = policy_arg;
	argv[n++] = "--audit=stderr";
	argv[n++] = "--bus=none";
	argv[n++] = "--log-level=debug";
	/* Not the machine's /etc/svmd/svmd.conf; the sandbox on, as in production. */
	argv[n++] = "--config=/dev/null";
	argv[n++] = "--backend=sim"; /* extra_args may choose another: the last one counts */
	argv[n++] = "--state-dir=";  /* not the machine's /run/svmd/state, should it have one */
	if (topology) {
		snprintf(topo_file, sizeof(topo_file), "%s/topology", d->dir);
		write_file(topo_file, topology);
		snprintf(topo_arg, sizeof(topo_arg), "--sim-topology=%s", topo_file);
		argv[n++] = topo_arg;
	}
	for (int i = 0; extra_args && extra_args[i] && n < 30; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	memcpy(last_argv, argv, sizeof(argv));
	last_env = env;
	spawn(d, NULL, NULL, 0);
}

/* Forks and execs the svmd daemon_start_env() chose last (last_argv, last_env), with n fds
 * passed as systemd passes them (LISTEN_FDS, LISTEN_FDNAMES from names), and waits until its
 * socket accepts. */
static void spawn(struct daemon *d, const int *fds, const char *const *names, size_t n)
{
	d->pid = fork();
	cr_assert_geq(d->pid, 0);
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		char count[32], pid[32], list[4096] = "";
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		/* Out of the way of 3.. first, then in place. */
		int moved[64];
		if (n > 64)
			_exit(125);
		for (size_t i = 0; i < n; i++)
			moved[i] = fcntl(fds[i], F_DUPFD, 3 + (int)n);
		for (size_t i = 0; i < n; i++)
			if (moved[i] < 0 || dup2(moved[i], 3 + (int)i) < 0)
				_exit(125);
		/* Nothing of the test runner's (criterion's arena, say) leaks into the daemon. */
		close_range(3 + (unsigned)n, ~0u, 0);
		if (n) {
			for (size_t i = 0; i < n; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 i ? ":" : "", names[i]);
			snprintf(count, sizeof(count), "%zu", n);
			snprintf(pid, sizeof(pid), "%d", (int)getpid());
			setenv("LISTEN_FDS", count, 1);
			setenv("LISTEN_FDNAMES", list, 1);
			setenv("LISTEN_PID", pid, 1);
		}
		if (daemon_nofile) {
			struct rlimit rl = {daemon_nofile, daemon_nofile};
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int i = 0; last_env && last_env[i]; i++)
			putenv((char *)last_env[i]);
		execv(last_argv[0], (char *const *)last_argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int status;
		if (can_connect(d->socket))
			return;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0; /* reaped: nothing for daemon_stop() to stop */
			dump_log(d);
			cr_assert_fail("svmd exited during start-up (status 0x%x)", status);
		}
		sleep_ms(10);
	}
	dump_log(d);
	cr_assert_fail("svmd did not start listening on %s", d->socket);
}

void daemon_respawn(struct daemon *d, const int *fds, const char *const *names, size_t n)
{
	cr_assert_eq(d->pid, 0, "svmd %d still runs", (int)d->pid);
	spawn(d, fds, names, n);
}

void daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	daemon_reap(d);
}

void daemon_reap(struct daemon *d)
{
	int status = 0;
	char cmd[128];

	if (d->pid <= 0)
		return;
	for (int i = 0; i < 500; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			break;
		if (i == 499) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			dump_log(d);
			cr_assert_fail("svmd did not stop on SIGTERM");
		}
		sleep_ms(10);
	}
	d->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_log(d);
		cr_assert_fail("svmd exited with status 0x%x", status);
	}
	/* Every path a test drives must fit the sandbox's allow-list. */
	if (daemon_log_has(d, "seccomp: refused")) {
		dump_log(d);
		cr_assert_fail("svmd made a system call its seccomp filter refuses");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	cr_assert_eq(system(cmd), 0);
}

bool daemon_log_has(const struct daemon *d, const char *needle)
{
	FILE *f = fopen(d->log, "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

bool daemon_log_wait(const struct daemon *d, const char *needle, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 10) {
		if (daemon_log_has(d, needle))
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Whether one line of the log holds every needle. */
static bool line_has_all(const char *line, const char *const *needles)
{
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(line, needles[i]))
			return false;
	return true;
}

size_t daemon_log_count(const struct daemon *d, const char *const *needles)
{
	FILE *f = fopen(d->log, "re");
	char line[8192];
	size_t n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += line_has_all(line, needles);
	fclose(f);
	return n;
}

bool daemon_log_wait_all(const struct daemon *d, const char *const *needles, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 10) {
		if (daemon_log_count(d, needles) > 0)
			return true;
		sleep_ms(10);
	}
	return false;
}

void daemon_write_policy(const struct daemon *d, const char *name, const char *text)
{
	char path[192], tmp[208];

	/* Written aside and renamed: a reload never reads half a file. */
	snprintf(path, sizeof(path), "%s/policy/%s", d->dir, name);
	snprintf(tmp, sizeof(tmp), "%s/policy/.%s.tmp", d->dir, name);
	write_file(tmp, text);
	cr_assert_eq(rename(tmp, path), 0, "rename %s: %s", path, strerror(errno));
}

void daemon_remove_policy(const struct daemon *d, const char *name)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/policy/%s", d->dir, name);
	cr_assert(unlink(path) == 0 || errno == ENOENT, "unlink %s: %s", path, strerror(errno));
}

int daemon_fd_count(const struct daemon *d)
{
	char path[64];
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", d->pid);
	dir = opendir(path);
	cr_assert_not_null(dir);
	for (struct dirent *e; (e = readdir(dir));)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

void test_users(struct test_user *u1, struct test_user *u2)
{
	struct test_user *u[2] = {u1, u2};
	const char *names[2] = {"svmd-test1", "svmd-test2"};

	if (geteuid() != 0)
		cr_skip_test("integration tests run as root (they switch to test users)");
	for (int i = 0; i < 2; i++) {
		struct passwd *pw = getpwnam(names[i]);
		if (!pw)
			cr_skip_test("user %s missing: run tests/setup-users.sh as root", names[i]);
		if (u[i])
			*u[i] = (struct test_user){names[i], pw->pw_uid, pw->pw_gid};
	}
}

gid_t test_group(void)
{
	struct group *g = getgrnam("svmd-testgrp");

	if (!g)
		cr_skip_test("group svmd-testgrp missing: run tests/setup-users.sh as root");
	return g->gr_gid;
}

static void drop_privileges(uid_t uid, gid_t gid, gid_t extra)
{
	gid_t groups[1] = {extra};

	if (setgroups(extra ? 1 : 0, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		_exit(126);
	/* Changing uid made the process non-dumpable, as a set-id program is; a user's own
	 * processes, which have exec'd as the user, are dumpable: be one. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		_exit(126);
	/* The change of uid cleared the parent-death signal set before it: set it again, so that
	 * a test that fails half-way leaves none of its users' processes behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
}

/* Control messages between the test and a peer. */
enum peer_op {
	OP_BIND_TASK,
	OP_BIND_PGTABLE,
	OP_BIND_PASID_TABLE,
	OP_UNBIND,
	OP_LEASE,
	OP_COUNT,
	OP_DISCONNECT,
	OP_SPAWN,
	OP_OPEN_DEVICE,
	OP_CONNECT,
	OP_RELOAD,
	OP_BIND_PGTABLE_EX,
	OP_BIND_PGTABLE_FAULTS,
	OP_MAP,
	OP_UNMAP,
	OP_INVALIDATE,
};

struct peer_cmd {
	enum peer_op op;
	char device[16];
	uint32_t pasid;
	uint32_t model;
	uint64_t a, b;
	uint32_t addr_width;
	uint64_t vtd_flags;
	uint32_t type; /* OP_INVALIDATE: 0 for SVM_INVALIDATE_VTD_S1 */
};

static int send_fd_msg(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {0};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

static ssize_t recv_fd_msg(int sock, void *buf, size_t len, int *ret_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	*ret_fd = -1;
	if (n < 0)
		return -errno;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

static void peer_main(int ctl, const char *socket_path, uid_t uid, gid_t gid, gid_t extra,
		      bool connect_now)
{
	struct svm_client *c = NULL;
	int connect_r = -ENOTCONN;
	pid_t sleeper = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	drop_privileges(uid, gid, extra);
	if (connect_now)
		connect_r = svm_connect(socket_path, &c);

	for (;;) {
		struct peer_cmd cmd;
		struct peer_result r = {.fd = -1};
		int in_fd, out_fd = -1;
		ssize_t n = recv_fd_msg(ctl, &cmd, sizeof(cmd), &in_fd);

		if (n <= 0)
			break;
		if (cmd.op == OP_CONNECT) {
			/* A paused peer connects now, as whatever it has become meanwhile. */
			if (c) {
				r.status = -EISCONN;
			} else {
				r.status = svm_connect(socket_path, &c);
				connect_r = r.status;
			}
		} else if (connect_r < 0 && cmd.op != OP_SPAWN) {
			r.status = connect_r;
			snprintf(r.reason, sizeof(r.reason), "connect failed");
		} else if (!c && cmd.op != OP_SPAWN && cmd.op != OP_DISCONNECT) {
			r.status = -ENOTCONN;
		} else {
			switch (cmd.op) {
			case OP_BIND_TASK:
				r.status = svm_bind_task(c, cmd.device, in_fd, cmd.pasid, &r.id,
							 &r.pasid);
				break;
			case OP_BIND_PGTABLE: {
				struct svm_pgtable pg = {
					.pasid = cmd.pasid, .addr_width = 48, .gpgd = cmd.a};
				r.status = svm_bind_pgtable(c, cmd.device, &pg, &r.id);
				r.pasid = cmd.pasid;
				break;
			}
			case OP_BIND_PASID_TABLE: {
				struct svm_pasid_table t = {
					.ptr = cmd.a, .size = cmd.b, .model = cmd.model};
				r.status = svm_bind_pasid_table(c, cmd.device, &t, &r.id);
				break;
			}
			case OP_UNBIND:
				r.status = svm_unbind(c, cmd.a);
				break;
			case OP_LEASE:
				r.status = svm_lease(c, cmd.a, &out_fd);
				break;
			case OP_OPEN_DEVICE:
				r.status = svm_open_device(c, cmd.device, &out_fd, &r.id);
				break;
			case OP_BIND_PGTABLE_EX: {
				struct svm_pgtable pg = {
					.pasid = cmd.pasid,
					.addr_width = cmd.addr_width,
					.gpgd = cmd.a,
					.vtd_flags = cmd.vtd_flags,
				};
				r.status = svm_bind_pgtable(c, cmd.device, &pg, &r.id);
				r.pasid = cmd.pasid;
				break;
			}
			case OP_BIND_PGTABLE_FAULTS: {
				struct svm_pgtable pg = {
					.pasid = cmd.pasid, .addr_width = 48, .gpgd = cmd.a};
				r.status =
					svm_bind_pgtable_faults(c, cmd.device, &pg, &r.id, &out_fd);
				r.pasid = cmd.pasid;
				break;
			}
			case OP_MAP: /* iova a, length b, offset vtd_flags, flags model */
				r.status = svm_map(c, cmd.device, in_fd, cmd.vtd_flags, cmd.b,
						   cmd.a, cmd.model, &r.id);
				break;
			case OP_INVALIDATE: { /* id a, n pasid, addr b, pages addr_width-as-count */
				struct svm_invalidate_entry e[SVM_INVALIDATE_ENTRIES_MAX];
				uint32_t done = 0;
				for (uint32_t i = 0; i < SVM_INVALIDATE_ENTRIES_MAX; i++)
					e[i] = (struct svm_invalidate_entry){
						{cmd.b, (uint64_t)cmd.model << 32 | cmd.addr_width,
						 cmd.vtd_flags}};
				r.status = svm_invalidate(
					c, cmd.a, cmd.type ? cmd.type : SVM_INVALIDATE_VTD_S1, e,
					cmd.pasid, &done);
				r.id = done;
				break;
			}
			case OP_UNMAP:
				r.status = svm_unmap(c, cmd.device, cmd.a, cmd.b, &r.pasid, &r.id);
				break;
			case OP_RELOAD: {
				struct svm_reload_result rr = {0};
				r.status = svm_reload(c, &rr, NULL);
				r.id = rr.generation;
				break;
			}
			case OP_CONNECT: /* handled above */
				break;
			case OP_COUNT: {
				struct svm_binding_info *b = NULL;
				size_t k = 0;
				r.status = svm_list(c, &b, &k);
				r.id = k;
				free(b);
				break;
			}
			case OP_DISCONNECT:
				c = svm_disconnect(c);
				break;
			case OP_SPAWN: {
				int ready[2] = {-1, -1};
				char x;
				if (pipe2(ready, O_CLOEXEC) < 0) {
					r.status = -errno;
					break;
				}
				sleeper = fork();
				if (sleeper == 0) {
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					if (cmd.a & SPAWN_NOT_DUMPABLE)
						prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
					(void)!write(ready[1], "x", 1);
					for (;;)
						pause();
				}
				close(ready[1]);
				/* It runs (and is as asked) before the test sees it. */
				(void)!read(ready[0], &x, 1);
				close(ready[0]);
				out_fd = (int)syscall(SYS_pidfd_open, sleeper, 0);
				r.status = out_fd < 0 ? -errno : 0;
				r.id = (uint64_t)sleeper;
				break;
			}
			}
		}
		if (r.status < 0 && c && svm_reason(c))
			snprintf(r.reason, sizeof(r.reason), "%s", svm_reason(c));
		if (in_fd >= 0)
			close(in_fd);
		send_fd_msg(ctl, &r, sizeof(r), out_fd);
		if (out_fd >= 0)
			close(out_fd);
	}
	if (sleeper > 0)
		kill(sleeper, SIGKILL);
	_exit(0);
}

static void peer_fork(struct peer *p, const struct daemon *d, uid_t uid, gid_t gid, gid_t extra_gid,
		      bool connect_now)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (p->pid == 0) {
		close(sv[0]);
		peer_main(sv[1], d->socket, uid, gid, extra_gid, connect_now);
	}
	close(sv[1]);
	p->ctl = sv[0];
}

void peer_start(struct peer *p, const struct daemon *d, uid_t uid, gid_t gid, gid_t extra_gid)
{
	peer_fork(p, d, uid, gid, extra_gid, true);
}

void peer_start_paused(struct peer *p, const struct daemon *d, uid_t uid, gid_t gid,
		       gid_t extra_gid)
{
	peer_fork(p, d, uid, gid, extra_gid, false);
}

void peer_stop(struct peer *p)
{
	if (p->pid <= 0)
		return;
	close(p->ctl);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
}

static int peer_call(struct peer *p, const struct peer_cmd *cmd, int fd, struct peer_result *r)
{
	struct pollfd pfd = {.fd = p->ctl, .events = POLLIN};
	int in_fd;

	cr_assert_eq(send_fd_msg(p->ctl, cmd, sizeof(*cmd), fd), 0);
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "peer did not answer");
	cr_assert_eq(recv_fd_msg(p->ctl, r, sizeof(*r), &in_fd), (ssize_t)sizeof(*r));
	r->fd = in_fd;
	return r->status;
}

static void set_device(struct peer_cmd *cmd, const char *device)
{
	snprintf(cmd->device, sizeof(cmd->device), "%s", device);
}

int peer_bind_task(struct peer *p, const char *device, int target_pidfd, uint32_t pasid,
		   struct peer_result *r)
{
	struct peer_cmd cmd = {.op = OP_BIND_TASK, .pasid = pasid};

	set_device(&cmd, device);
	return peer_call(p, &cmd, target_pidfd, r);
}

int peer_bind_pgtable(struct peer *p, const char *device, uint32_t pasid, uint64_t gpgd,
		      struct peer_result *r)
{
	struct peer_cmd cmd = {.op = OP_BIND_PGTABLE, .pasid = pasid, .a = gpgd};

	set_device(&cmd, device);
	return peer_call(p, &cmd, -1, r);
}

int peer_bind_pasid_table(struct peer *p, const char *device, uint64_t ptr, uint64_t size,
			  uint32_t model, struct peer_result *r)
{
	struct peer_cmd cmd = {.op = OP_BIND_PASID_TABLE, .a = ptr, .b = size, .model = model};

	set_device(&cmd, device);
	return peer_call(p, &cmd, -1, r);
}

int peer_unbind(struct peer *p, uint64_t id, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_UNBIND, .a = id}, -1, r);
}

int peer_open_device(struct peer *p, const char *device, struct peer_result *r)
{
	struct peer_cmd cmd = {.op = OP_OPEN_DEVICE};

	set_device(&cmd, device);
	return peer_call(p, &cmd, -1, r);
}

int peer_map(struct peer *p, const char *device, int memfd, uint64_t offset, uint64_t length,
	     uint64_t iova, uint32_t flags, struct peer_result *r)
{
	struct peer_cmd cmd = {
		.op = OP_MAP, .a = iova, .b = length, .vtd_flags = offset, .model = flags};

	set_device(&cmd, device);
	return peer_call(p, &cmd, memfd, r);
}

int peer_unmap(struct peer *p, const char *device, uint64_t iova, uint64_t length,
	       struct peer_result *r)
{
	struct peer_cmd cmd = {.op = OP_UNMAP, .a = iova, .b = length};

	set_device(&cmd, device);
	return peer_call(p, &cmd, -1, r);
}

int peer_invalidate(struct peer *p, uint64_t id, uint32_t n, uint64_t addr, uint64_t pages,
		    uint64_t flags, struct peer_result *r)
{
	struct peer_cmd cmd = {
		.op = OP_INVALIDATE,
		.a = id,
		.pasid = n,
		.b = addr,
		.model = (uint32_t)(pages >> 32),
		.addr_width = (uint32_t)pages,
		.vtd_flags = flags,
	};

	return peer_call(p, &cmd, -1, r);
}

int peer_invalidate_type(struct peer *p, uint64_t id, uint32_t type, uint32_t n, uint64_t w0,
			 uint64_t w1, uint64_t w2, struct peer_result *r)
{
	struct peer_cmd cmd = {
		.op = OP_INVALIDATE,
		.a = id,
		.pasid = n,
		.b = w0,
		.model = (uint32_t)(w1 >> 32),
		.addr_width = (uint32_t)w1,
		.vtd_flags = w2,
		.type = type,
	};

	return peer_call(p, &cmd, -1, r);
}

int peer_connect(struct peer *p, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_CONNECT}, -1, r);
}

int peer_bind_pgtable_ex(struct peer *p, const char *device, uint32_t pasid, uint32_t addr_width,
			 uint64_t vtd_flags, struct peer_result *r)
{
	struct peer_cmd cmd = {
		.op = OP_BIND_PGTABLE_EX,
		.pasid = pasid,
		.a = 0x10000,
		.addr_width = addr_width,
		.vtd_flags = vtd_flags,
	};

	set_device(&cmd, device);
	return peer_call(p, &cmd, -1, r);
}

int peer_bind_pgtable_faults(struct peer *p, const char *device, uint32_t pasid,
			     struct peer_result *r)
{
	struct peer_cmd cmd = {.op = OP_BIND_PGTABLE_FAULTS, .pasid = pasid, .a = 0x10000};

	set_device(&cmd, device);
	return peer_call(p, &cmd, -1, r);
}

int peer_reload(struct peer *p, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_RELOAD}, -1, r);
}

void peer_bind_task_async(struct peer *p, const char *device)
{
	struct peer_cmd cmd = {.op = OP_BIND_TASK};

	set_device(&cmd, device);
	cr_assert_eq(send_fd_msg(p->ctl, &cmd, sizeof(cmd), -1), 0);
}

void peer_open_device_async(struct peer *p, const char *device)
{
	struct peer_cmd cmd = {.op = OP_OPEN_DEVICE};

	set_device(&cmd, device);
	cr_assert_eq(send_fd_msg(p->ctl, &cmd, sizeof(cmd), -1), 0);
}

void peer_connect_async(struct peer *p)
{
	struct peer_cmd cmd = {.op = OP_CONNECT};

	cr_assert_eq(send_fd_msg(p->ctl, &cmd, sizeof(cmd), -1), 0);
}

void peer_lease_async(struct peer *p, uint64_t id)
{
	struct peer_cmd cmd = {.op = OP_LEASE, .a = id};

	cr_assert_eq(send_fd_msg(p->ctl, &cmd, sizeof(cmd), -1), 0);
}

int peer_wait(struct peer *p, int timeout_ms, struct peer_result *r)
{
	struct pollfd pfd = {.fd = p->ctl, .events = POLLIN};
	int in_fd;

	cr_assert_eq(poll(&pfd, 1, timeout_ms), 1, "the peer's call did not end in %d ms",
		     timeout_ms);
	cr_assert_eq(recv_fd_msg(p->ctl, r, sizeof(*r), &in_fd), (ssize_t)sizeof(*r));
	r->fd = in_fd;
	return r->status;
}

int peer_lease(struct peer *p, uint64_t id, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_LEASE, .a = id}, -1, r);
}

int peer_count(struct peer *p, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_COUNT}, -1, r);
}

int peer_disconnect(struct peer *p, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_DISCONNECT}, -1, r);
}

int peer_spawn_sleeper(struct peer *p, struct peer_result *r)
{
	return peer_spawn_sleeper_ex(p, 0, r);
}

int peer_spawn_sleeper_ex(struct peer *p, unsigned flags, struct peer_result *r)
{
	return peer_call(p, &(struct peer_cmd){.op = OP_SPAWN, .a = flags}, -1, r);
}

size_t count_bindings(const struct daemon *d)
{
	struct svm_client *c = NULL;
	struct svm_binding_info *b = NULL;
	size_t n = 0;

	cr_assert_eq(svm_connect(d->socket, &c), 0);
	cr_assert_eq(svm_list(c, &b, &n), 0);
	free(b);
	svm_disconnect(c);
	return n;
}

bool wait_bindings(const struct daemon *d, size_t n, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 10) {
		if (count_bindings(d) == n)
			return true;
		sleep_ms(10);
	}
	return false;
}

int raw_connect(const struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->socket);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

bool raw_closed(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[4096];

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) != 1)
			return false;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return true;
		if (n < 0)
			return errno == ECONNRESET;
		/* A reply: keep waiting for the close. */
	}
}

/* Appends what one read(2) gives to buf (keeping it NUL-terminated, dropping what does not
 * fit). Returns the read's result: 0 at EOF. */
static ssize_t read_into(int fd, char *buf, size_t cap, size_t *len)
{
	char scratch[1024];
	ssize_t n = read(fd, scratch, sizeof(scratch));

	if (n > 0) {
		size_t room = cap > *len + 1 ? cap - *len - 1 : 0;
		size_t k = (size_t)n < room ? (size_t)n : room;
		memcpy(buf + *len, scratch, k);
		*len += k;
		buf[*len] = 0;
	}
	return n;
}

int run_cmd(uid_t uid, gid_t gid, const char *const *argv, char *out, size_t cap, char *err,
	    size_t errcap)
{
	return run_cmd_env(uid, gid, argv, NULL, out, cap, err, errcap);
}

int run_cmd_env(uid_t uid, gid_t gid, const char *const *argv, const char *const *env, char *out,
		size_t cap, char *err, size_t errcap)
{
	int po[2], pe[2], status;
	size_t no = 0, ne = 0;
	pid_t pid;

	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	out[0] = err[0] = 0;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		drop_privileges(uid, gid, 0);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct pollfd pfd[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		cr_assert_gt(poll(pfd, 2, 20000), 0, "command %s hangs", argv[0]);
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			ssize_t n = i ? read_into(pfd[i].fd, err, errcap, &ne)
				      : read_into(pfd[i].fd, out, cap, &no);
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

void bg_start(struct bg_cmd *b, uid_t uid, gid_t gid, const char *const *argv,
	      const char *const *env)
{
	int po[2], pe[2];

	memset(b, 0, sizeof(*b));
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	b->pid = fork();
	cr_assert_geq(b->pid, 0);
	if (b->pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		drop_privileges(uid, gid, 0);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	b->out = po[0];
	b->err = pe[0];
	b->status = -1;
}

bool bg_wait_exec(const struct bg_cmd *b, int timeout_ms)
{
	char self[PATH_MAX], path[64], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert_gt(n, 0);
	self[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)b->pid);
	for (int t = 0; t <= timeout_ms; t += 5) {
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (strcmp(exe, self) != 0)
				return true;
		}
		sleep_ms(5);
	}
	return false;
}

/* Reads what the command wrote, waiting up to timeout_ms for something. */
static void bg_read(struct bg_cmd *b, int timeout_ms)
{
	struct pollfd pfd[2] = {{.fd = b->out, .events = POLLIN}, {.fd = b->err, .events = POLLIN}};

	if (poll(pfd, 2, timeout_ms) <= 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (pfd[i].fd < 0 || !pfd[i].revents)
			continue;
		ssize_t n = i ? read_into(b->err, b->errbuf, sizeof(b->errbuf), &b->ne)
			      : read_into(b->out, b->outbuf, sizeof(b->outbuf), &b->no);
		if (n <= 0) {
			close(pfd[i].fd);
			*(i ? &b->err : &b->out) = -1;
		}
	}
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool bg_wait_output(struct bg_cmd *b, bool in_err, const char *needle, int timeout_ms)
{
	long long until = ms_now() + timeout_ms;

	for (;;) {
		if (strstr(in_err ? b->errbuf : b->outbuf, needle))
			return true;
		long long left = until - ms_now();
		if (left <= 0 || (b->out < 0 && b->err < 0))
			return false;
		bg_read(b, (int)(left > 50 ? 50 : left));
	}
}

int bg_wait(struct bg_cmd *b, int timeout_ms)
{
	long long until = ms_now() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(b->pid, &status, WNOHANG);
		if (r == b->pid) {
			while (b->out >= 0 || b->err >= 0)
				bg_read(b, 1000);
			b->status =
				WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
			return b->status;
		}
		if (ms_now() >= until)
			return -1;
		bg_read(b, 10);
	}
}

void bg_stop(struct bg_cmd *b)
{
	if (b->status < 0 && b->pid > 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
	}
	if (b->out >= 0)
		close(b->out);
	if (b->err >= 0)
		close(b->err);
	b->out = b->err = -1;
	b->pid = 0;
}
