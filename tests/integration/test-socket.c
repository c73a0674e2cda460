/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The socket front-end end to end: the real svmd on a temporary socket, real clients running as
 * two test users (and root), and raw connections that misbehave on purpose.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <libgen.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "svmd-version.h"
#include "svmd-proto.h"
#include "svmd-wire.h"

/* Line numbers matter: tests check that denials name their rule. */
static const char policy[] =
	"allow bind-task user=svmd-test1 device=0000:3b:00.0 pasid=auto max=2\n"
	"allow bind-task user=svmd-test1 device=0000:3c:00.0 pasid=auto targets=same-user\n"
	"allow bind-pgtable user=svmd-test1,svmd-test2 device=0000:3b:00.0 pasid=100-199\n"
	"allow * user=svmd-test1 device=0000:5e:00.* device=0000:af:00.0\n"
	"allow bind-pasid-table group=svmd-testgrp device=0000:3c:00.0\n"
	"deny * user=svmd-test2\n"
	"allow open-device user=svmd-test1 device=0000:3b:00.0\n";

static struct daemon d;
static struct test_user u1, u2;

static void setup(void)
{
	test_users(&u1, &u2);
	daemon_start(&d, policy, NULL, NULL);
}

static void teardown(void)
{
	daemon_stop(&d);
}

TestSuite(socket, .init = setup, .fini = teardown, .timeout = 60);

Test(socket, task_bind_allowed)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_geq(r.pasid, 1);
	cr_assert_gt(r.id, 0);
	cr_assert_eq(count_bindings(&d), 1);
	cr_assert(daemon_log_has(&d, "EVENT=grant"));
	cr_assert(daemon_log_has(&d, "RULE=") && daemon_log_has(&d, "50-test.policy:1"));
	peer_stop(&p);
}

Test(socket, denial_names_the_rule)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), -EACCES);
	cr_assert(strstr(r.reason, "deny * user=svmd-test2"), "reason: %s", r.reason);
	cr_assert(strstr(r.reason, "50-test.policy:6)"), "reason: %s", r.reason);
	cr_assert(daemon_log_has(&d, "EVENT=deny"));
	cr_assert_eq(count_bindings(&d), 0);
	peer_stop(&p);
}

Test(socket, quota_refusal_names_the_rule)
{
	struct peer p[3];
	struct peer_result r;

	for (int i = 0; i < 3; i++)
		peer_start(&p[i], &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p[0], "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	uint64_t first = r.id;
	cr_assert_eq(peer_bind_task(&p[1], "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_task(&p[2], "0000:3b:00.0", -1, 0, &r), -EDQUOT);
	cr_assert(strstr(r.reason, "max=2") && strstr(r.reason, "50-test.policy:1"), "%s",
		  r.reason);
	/* Quota is per uid under the rule: freeing one makes room. */
	cr_assert_eq(peer_unbind(&p[0], first, &r), 0);
	cr_assert_eq(peer_bind_task(&p[2], "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	for (int i = 0; i < 3; i++)
		peer_stop(&p[i]);
}

Test(socket, pasid_conflict_across_users)
{
	struct peer a, b;
	struct peer_result r;

	peer_start(&a, &d, u1.uid, u1.gid, 0);
	peer_start(&b, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&a, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&b, "0000:3b:00.0", 150, 0x20000, &r), -EBUSY);
	cr_assert(strstr(r.reason, "PASID 150"), "%s", r.reason);
	cr_assert_null(strstr(r.reason, "by you"), "must not tell whose: %s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&b, "0000:3b:00.0", 151, 0x20000, &r), 0, "%s", r.reason);
	peer_stop(&a);
	peer_stop(&b);
}

Test(socket, pgtable_inside_and_outside_the_granted_range)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 199, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 200, 0x10000, &r), -EACCES);
	cr_assert(strstr(r.reason, "no rule matched"), "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 120, 0x10001, &r), -EINVAL);
	cr_assert(strstr(r.reason, "aligned"), "%s", r.reason);
	peer_stop(&p);
}

Test(socket, kernel_refusals_reach_the_client)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:5e:00.0", -1, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "group 20"), "%s", r.reason);
	cr_assert_eq(peer_bind_task(&p, "0000:af:00.0", -1, 0, &r), -EOPNOTSUPP);
	cr_assert_eq(peer_bind_task(&p, "0000:99:00.0", -1, 0, &r), -ENODEV);
	cr_assert_eq(count_bindings(&d), 0);
	cr_assert(daemon_log_has(&d, "EVENT=fail"));
	peer_stop(&p);
}

Test(socket, release_on_disconnect)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 110, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 2);
	cr_assert_eq(peer_disconnect(&p, &r), 0);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(daemon_log_has(&d, "REASON=\"session ended\""));
	peer_stop(&p);
}

Test(socket, lease_outlives_its_session)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 120, 0x10000, &r), 0, "%s", r.reason);
	uint64_t id = r.id;
	cr_assert_eq(peer_lease(&p, id, &r), 0, "%s", r.reason);
	int lease = r.fd;
	cr_assert_geq(lease, 0);
	cr_assert_eq(peer_lease(&p, id, &r), -EALREADY);
	/* The owner goes away; the lease, now held by the test process, keeps the binding. */
	peer_stop(&p);
	cr_assert(daemon_log_wait(&d, "disconnected", 2000));
	cr_assert_eq(count_bindings(&d), 1);
	close(lease);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(daemon_log_has(&d, "REASON=\"lease closed\""));
}

/* CPU time (user + system, in clock ticks) the process has used. */
static unsigned long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	const char *p = strrchr(buf, ')');
	cr_assert_not_null(p);
	/* After "pid (comm)": state is field 3, utime and stime are fields 14 and 15. */
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			    &stime),
		     2);
	return utime + stime;
}

Test(socket, release_on_bound_process_exit)
{
	struct peer p, q;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_spawn_sleeper(&p, &r), 0);
	int pidfd = r.fd;
	pid_t sleeper = (pid_t)r.id;
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", pidfd, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 1);
	kill(sleeper, SIGKILL);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(daemon_log_has(&d, "REASON=\"bound process exited\""));
	/* The session itself is untouched. */
	cr_assert_eq(peer_count(&p, &r), 0);

	/* We still hold a copy of that pidfd, and it stays readable: svmd must not keep
	 * watching it, neither spinning on it nor mistaking it for the next binding's. */
	unsigned long long before = cpu_ticks(d.pid);
	usleep(500000);
	unsigned long long spent = cpu_ticks(d.pid) - before;
	cr_assert_lt(spent, (unsigned long long)sysconf(_SC_CLK_TCK) / 4,
		     "an idle svmd used %llu ticks in 0.5 s", spent);
	peer_start(&q, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&q, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	usleep(300000);
	cr_assert_eq(count_bindings(&d), 1, "a live process's binding was ended");
	close(pidfd);
	peer_stop(&q);
	peer_stop(&p);
}

/* svmd holds one fd per idle connection: the kernel keeps the peer's pid with the socket, so
 * SO_PEERPIDFD gives the pidfd again whenever a request needs it (a task bind of the caller). */
Test(socket, idle_connection_holds_one_fd)
{
	struct peer first, p[4];
	struct peer_result r;
	int sv[2], pidfd = -1, base, now;
	socklen_t len = sizeof(pidfd);

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	if (getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		close(sv[0]);
		close(sv[1]);
		cr_skip_test("this kernel lacks SO_PEERPIDFD: svmd keeps a pidfd per connection");
	}
	close(pidfd);
	close(sv[0]);
	close(sv[1]);

	/* A first peer's round trip lets svmd finish with the harness's start-up probe. */
	peer_start(&first, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_count(&first, &r), 0);
	base = daemon_fd_count(&d);
	for (int i = 0; i < 4; i++) {
		peer_start(&p[i], &d, u1.uid, u1.gid, 0);
		cr_assert_eq(peer_count(&p[i], &r), 0); /* connected, hello done */
	}
	cr_assert_eq(daemon_fd_count(&d), base + 4);
	/* The caller is pinned when it binds itself; the binding then watches its pidfd. */
	cr_assert_eq(peer_bind_task(&p[0], "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(daemon_fd_count(&d), base + 5);
	for (int i = 0; i < 4; i++)
		peer_stop(&p[i]);
	cr_assert(wait_bindings(&d, 0, 2000));
	base--; /* and the first peer's */
	peer_stop(&first);
	now = base + 1;
	for (int t = 0; t < 200 && now != base; t++) {
		now = daemon_fd_count(&d);
		usleep(10000);
	}
	cr_assert_eq(now, base, "svmd holds %d fds, had %d", now, base);
}

Test(socket, another_users_pidfd_is_refused)
{
	struct peer a, b;
	struct peer_result r;

	peer_start(&a, &d, u1.uid, u1.gid, 0);
	peer_start(&b, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_spawn_sleeper(&b, &r), 0);
	int pidfd = r.fd;
	pid_t sleeper = (pid_t)r.id;
	cr_assert_eq(peer_bind_task(&a, "0000:3c:00.0", pidfd, 0, &r), -EPERM);
	cr_assert(strstr(r.reason, "belongs to uid"), "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 0);
	kill(sleeper, SIGKILL);
	close(pidfd);
	peer_stop(&a);
	peer_stop(&b);
}

/* Same uid, but the kernel would not let the caller ptrace it (ssh-agent does this). */
Test(socket, a_non_dumpable_process_of_the_same_user_is_refused)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_spawn_sleeper_ex(&p, SPAWN_NOT_DUMPABLE, &r), 0);
	int pidfd = r.fd;
	pid_t sleeper = (pid_t)r.id;
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", pidfd, 0, &r), -EPERM);
	cr_assert(strstr(r.reason, "is not dumpable"), "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 0);
	/* A dumpable one of the same user is allowed by the same rule. */
	cr_assert_eq(peer_spawn_sleeper(&p, &r), 0);
	int dumpable = r.fd;
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", dumpable, 0, &r), 0, "%s", r.reason);
	kill(sleeper, SIGKILL);
	close(pidfd);
	close(dumpable);
	peer_stop(&p);
}

Test(socket, other_process_needs_targets_same_user)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_spawn_sleeper(&p, &r), 0);
	int pidfd = r.fd;
	pid_t sleeper = (pid_t)r.id;
	/* Rule 1 (0000:3b:00.0) does not say targets=same-user. */
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", pidfd, 0, &r), -EACCES);
	kill(sleeper, SIGKILL);
	close(pidfd);
	peer_stop(&p);
}

Test(socket, target_fd_must_be_a_pidfd)
{
	struct peer p;
	struct peer_result r;
	int fds[2];

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", fds[0], 0, &r), -EBADF);
	close(fds[0]);
	close(fds[1]);
	peer_stop(&p);
}

Test(socket, callers_see_and_release_only_their_own)
{
	struct peer a, b;
	struct peer_result r;

	peer_start(&a, &d, u1.uid, u1.gid, 0);
	peer_start(&b, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&a, "0000:3b:00.0", 101, 0x10000, &r), 0, "%s", r.reason);
	uint64_t id = r.id;
	cr_assert_eq(peer_bind_pgtable(&b, "0000:3b:00.0", 102, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_count(&a, &r), 0);
	cr_assert_eq(r.id, 1);
	cr_assert_eq(peer_count(&b, &r), 0);
	cr_assert_eq(r.id, 1);
	cr_assert_eq(count_bindings(&d), 2); /* root sees all */
	cr_assert_eq(peer_unbind(&b, id, &r), -ENOENT);
	cr_assert_eq(peer_unbind(&a, id, &r), 0);
	cr_assert_eq(peer_unbind(&a, id, &r), -ENOENT);
	peer_stop(&a);
	peer_stop(&b);
}

Test(socket, pasid_table_by_supplementary_group)
{
	struct peer a, b;
	struct peer_result r;
	gid_t g = test_group();

	peer_start(&a, &d, u1.uid, u1.gid, g);
	peer_start(&b, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pasid_table(&a, "0000:3c:00.0", 0x100000, 4096, SVM_MODEL_SMMU, &r),
		     0, "%s", r.reason);
	cr_assert_eq(r.pasid, 0);
	cr_assert_eq(peer_bind_pasid_table(&a, "0000:3c:00.0", 0x200000, 4096, SVM_MODEL_SMMU, &r),
		     -EBUSY);
	cr_assert_eq(peer_bind_pasid_table(&b, "0000:3c:00.0", 0x200000, 4096, SVM_MODEL_SMMU, &r),
		     -EACCES);
	peer_stop(&a);
	peer_stop(&b);
}

Test(socket, open_device_one_holder_at_a_time)
{
	struct peer a, b, c2;
	struct peer_result r;
	char path[64], target[128];

	peer_start(&a, &d, u1.uid, u1.gid, 0);
	peer_start(&b, &d, u1.uid, u1.gid, 0);
	peer_start(&c2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_open_device(&a, "0000:3b:00.0", &r), 0, "%s", r.reason);
	cr_assert_geq(r.fd, 0);
	/* The sim backend's stand-in for a VFIO device fd, named after the device. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r.fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	cr_assert_gt(n, 0);
	target[n] = 0;
	cr_assert(strstr(target, "svmd-sim-device:0000:3b:00.0"), "%s", target);
	close(r.fd);
	cr_assert(daemon_log_has(&d, "OP=open-device"));
	cr_assert_eq(peer_open_device(&b, "0000:3b:00.0", &r), -EBUSY);
	cr_assert(strstr(r.reason, "held by another client of yours"), "%s", r.reason);
	cr_assert_eq(peer_open_device(&c2, "0000:3b:00.0", &r), -EACCES);
	cr_assert_eq(peer_open_device(&a, "0000:3c:00.0", &r), -EACCES);
	cr_assert_eq(count_bindings(&d), 1);
	/* It ends with its session; then the next client may hold it. */
	cr_assert_eq(peer_disconnect(&a, &r), 0);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert_eq(peer_open_device(&b, "0000:3b:00.0", &r), 0, "%s", r.reason);
	close(r.fd);
	peer_stop(&a);
	peer_stop(&b);
	peer_stop(&c2);
}

Test(socket, serves_under_its_seccomp_filter)
{
	char path[64], line[256];
	int mode = -1;

	/* The socket listens before svmd enters the sandbox (it serves nothing until then): wait
	 * for its word that it did, then ask the kernel. */
	cr_assert(daemon_log_wait(&d, "Entered the seccomp sandbox.", 5000));
	snprintf(path, sizeof(path), "/proc/%d/status", d.pid);
	FILE *f = fopen(path, "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	cr_assert_eq(mode, 2, "Seccomp: %d (2 is a filter)", mode);
}

/* Raw protocol helpers for misbehaving clients. */
static void raw_send(int fd, uint16_t op, const void *payload, size_t len, const int *fds,
		     size_t n_fds)
{
	unsigned char rec[SVMD_RECORD_MAX];
	int n = svmd_frame(rec, op, 1, payload, len);

	cr_assert_gt(n, 0);
	cr_assert_eq(svmd_send(fd, rec, (size_t)n, fds, n_fds, 0), 0);
}

static int32_t raw_status(int fd, uint16_t op)
{
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	int fds[SVMD_FDS_MAX];
	size_t n_fds = 0;
	struct svmd_hdr h;
	int32_t st;
	ssize_t n = svmd_recv(fd, rec, fds, &n_fds, 0);

	cr_assert_gt(n, 0, "no reply (%zd)", n);
	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
	cr_assert_eq(h.opcode, op | SVMD_REPLY);
	memcpy(&st, rec + sizeof(h), sizeof(st));
	svmd_close_fds(fds, n_fds);
	return st;
}

static void raw_hello(int fd)
{
	struct svmd_hello_req h = {.version_min = 1, .version_max = 1};

	raw_send(fd, SVMD_OP_HELLO, &h, sizeof(h), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_HELLO), 0);
}

/* A client that behaves, to show the daemon still serves it after someone misbehaves. */
struct bystander {
	struct peer p;
	uint64_t id;
};

static void bystander_start(struct bystander *b)
{
	struct peer_result r;

	peer_start(&b->p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&b->p, "0000:3b:00.0", 130, 0x10000, &r), 0, "%s", r.reason);
	b->id = r.id;
}

static void bystander_check(struct bystander *b)
{
	struct peer_result r;

	cr_assert_eq(peer_count(&b->p, &r), 0, "the daemon no longer serves others");
	cr_assert_eq(r.id, 1, "another client's binding was lost");
	cr_assert_eq(peer_bind_pgtable(&b->p, "0000:3b:00.0", 131, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_unbind(&b->p, r.id, &r), 0);
	peer_stop(&b->p);
}

/*
 * The process svmd pinned at connect time exec's a set-uid program; a child that kept the
 * connection then asks to bind "itself", i.e. that process. Refused: it is no longer a process
 * the caller could ptrace.
 */
Test(socket, self_bind_after_a_setuid_exec_is_refused)
{
	int result[2], in[2], ready[2];
	int32_t status = 1;
	pid_t connector;

	cr_assert_eq(pipe2(result, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(in, 0), 0);
	connector = fork();
	cr_assert_geq(connector, 0);
	if (connector == 0) {
		struct svmd_hello_req hello = {.version_min = 1, .version_max = 1};
		_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
		int fd, fds[SVMD_FDS_MAX];
		size_t n_fds;

		if (setresgid(u1.gid, u1.gid, u1.gid) < 0 || setresuid(u1.uid, u1.uid, u1.uid) < 0)
			_exit(1);
		fd = raw_connect(&d);
		int n = svmd_frame(rec, SVMD_OP_HELLO, 1, &hello, sizeof(hello));
		if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) < 0 ||
		    svmd_recv(fd, rec, fds, &n_fds, 0) <= 0)
			_exit(2);
		if (fork() == 0) {
			/* The child: once the connector is passwd, bind "the caller". */
			struct svmd_bind_task_req task = {.device = "0000:3b:00.0"};
			struct svmd_hdr h;
			char c;
			close(ready[1]);
			if (read(ready[0], &c, 1) != 0) /* EOF: the connector exec'd */
				_exit(3);
			usleep(100000);
			n = svmd_frame(rec, SVMD_OP_BIND_TASK, 2, &task, sizeof(task));
			if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) < 0)
				_exit(4);
			ssize_t k = svmd_recv(fd, rec, fds, &n_fds, 0);
			if (k <= 0 || svmd_parse(rec, (size_t)k, &h) < 0)
				_exit(5);
			memcpy(&status, rec + sizeof(h), sizeof(status));
			(void)!write(result[1], &status, sizeof(status));
			_exit(0);
		}
		dup2(in[0], STDIN_FILENO);
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl("/usr/bin/passwd", "passwd", (char *)NULL);
		_exit(127);
	}
	close(ready[0]);
	close(ready[1]);
	close(result[1]);
	ssize_t got = read(result[0], &status, sizeof(status));
	kill(connector, SIGKILL); /* passwd, by now */
	waitpid(connector, NULL, 0);
	close(in[1]);
	close(result[0]);
	cr_assert_eq(got, (ssize_t)sizeof(status), "the child did not report");
	cr_assert_eq(status, -EPERM, "bind of a set-uid process: status %d", status);
	cr_assert_eq(count_bindings(&d), 0);
	/* passwd may have made its real uid 0 too by then: either way it is not the caller's. */
	cr_assert(daemon_log_has(&d, "is set-uid (effective uid 0)") ||
		  daemon_log_has(&d, "belongs to uid 0, not"));
}

/* svmctl metrics' count of dropped socket clients. */
static long dropped_clients(void)
{
	static const char key[] = "\nsvmd_dropped_clients_total{frontend=\"socket\"} ";
	static char out[32768];
	char err[4096];
	const char *argv[] = {build_path("svmctl"), "--socket", d.socket, "metrics", NULL};

	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	const char *p = strstr(out, key);
	cr_assert_not_null(p, "%s", out);
	return strtol(p + strlen(key), NULL, 10);
}

Test(socket, garbage_drops_only_that_client)
{
	struct bystander b;
	int fd = raw_connect(&d);
	char junk[100];
	long before = dropped_clients();

	bystander_start(&b);
	memset(junk, 0xa5, sizeof(junk));
	cr_assert_eq(send(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	cr_assert(raw_closed(fd, 2000));
	close(fd);
	bystander_check(&b);
	cr_assert_eq(dropped_clients(), before + 1, "counted in svmctl metrics");
}

/* A uid flooding malformed records cannot drown the log: a burst of "Dropping client" lines
 * about it per window, the rest counted; another uid's lines still come. */
Test(socket, a_flood_of_garbage_is_logged_in_moderation)
{
	char needle[64], junk[100];
	pid_t pid;
	int status;

	memset(junk, 0xa5, sizeof(junk));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setresgid(u2.gid, u2.gid, u2.gid) < 0 || setresuid(u2.uid, u2.uid, u2.uid) < 0)
			_exit(1);
		for (int i = 0; i < 300; i++) {
			int fd = raw_connect(&d);
			if (send(fd, junk, sizeof(junk), 0) != (ssize_t)sizeof(junk) ||
			    !raw_closed(fd, 2000))
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the flood failed: %d", status);
	snprintf(needle, sizeof(needle), "(uid %u): Bad message.", (unsigned)u2.uid);
	const char *flood[] = {"Dropping client", needle, NULL};
	size_t n = daemon_log_count(&d, flood);
	cr_assert_gt(n, 0, "no line at all about the flood");
	cr_assert_leq(n, 2 * 10, "%zu lines for 300 dropped clients", n);
	/* Another uid's garbage is still logged. */
	int fd = raw_connect(&d);
	cr_assert_eq(send(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	cr_assert(raw_closed(fd, 2000));
	close(fd);
	cr_assert(daemon_log_wait(&d, "(uid 0): Bad message.", 2000));
}

Test(socket, request_before_hello_drops)
{
	struct svmd_devices_req req = {0};
	int fd = raw_connect(&d);

	raw_send(fd, SVMD_OP_DEVICES, &req, sizeof(req), NULL, 0);
	cr_assert(raw_closed(fd, 2000));
	close(fd);
}

Test(socket, second_hello_drops)
{
	struct svmd_hello_req h = {.version_min = 1, .version_max = 1};
	int fd = raw_connect(&d);

	raw_hello(fd);
	raw_send(fd, SVMD_OP_HELLO, &h, sizeof(h), NULL, 0);
	cr_assert(raw_closed(fd, 2000));
	close(fd);
}

Test(socket, unsupported_version_is_answered)
{
	struct svmd_hello_req h = {.version_min = 4, .version_max = 5};
	int fd = raw_connect(&d);

	raw_send(fd, SVMD_OP_HELLO, &h, sizeof(h), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_HELLO), -EPROTONOSUPPORT);
	raw_hello(fd); /* still usable */
	close(fd);
}

/* The 48-byte BIND_PASID_TABLE is version 3's: a version 1 (or 2) connection is answered
 * -EPROTO and stays usable; a version 3 one reaches the bind (and policy). */
Test(socket, pasid_table_ext_form_needs_version_3)
{
	struct svmd_bind_pasid_table_ext_req req = {
		.base = {.device = "0000:3c:00.0", .ptr = 0x100000, .size = 64, .model = 2},
		.vsid = 8};
	struct svmd_hello_req h3 = {.version_min = 1, .version_max = 3};
	struct svmd_devices_req dr = {0};
	int fd = raw_connect(&d);

	raw_hello(fd);
	raw_send(fd, SVMD_OP_BIND_PASID_TABLE, &req, sizeof(req), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_BIND_PASID_TABLE), -EPROTO);
	raw_send(fd, SVMD_OP_DEVICES, &dr, sizeof(dr), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_DEVICES), 0);
	close(fd);

	fd = raw_connect(&d);
	raw_send(fd, SVMD_OP_HELLO, &h3, sizeof(h3), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_HELLO), 0);
	raw_send(fd, SVMD_OP_BIND_PASID_TABLE, &req, sizeof(req), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_BIND_PASID_TABLE), -EACCES, "root has no rule");
	close(fd);
}

Test(socket, oversized_record_drops)
{
	struct bystander b;
	int fd = raw_connect(&d);
	static char big[5000];

	bystander_start(&b);
	raw_hello(fd);
	struct svmd_hdr h = {SVMD_MAGIC, 1, SVMD_OP_DEVICES, 2, sizeof(big) - sizeof(h)};
	memcpy(big, &h, sizeof(h));
	cr_assert_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	cr_assert(raw_closed(fd, 2000));
	close(fd);
	bystander_check(&b);
}

Test(socket, wrong_length_drops)
{
	struct svmd_devices_req req = {0};
	int fd = raw_connect(&d);

	raw_hello(fd);
	raw_send(fd, SVMD_OP_DEVICES, &req, sizeof(req) - 1, NULL, 0);
	cr_assert(raw_closed(fd, 2000));
	close(fd);
}

Test(socket, reply_opcode_as_request_drops)
{
	struct svmd_devices_req req = {0};
	int fd = raw_connect(&d);

	raw_hello(fd);
	raw_send(fd, SVMD_OP_DEVICES | SVMD_REPLY, &req, sizeof(req), NULL, 0);
	cr_assert(raw_closed(fd, 2000));
	close(fd);
}

Test(socket, unknown_opcode_is_answered)
{
	int fd = raw_connect(&d);
	struct svmd_devices_req req = {0};

	raw_hello(fd);
	raw_send(fd, 0x0077, "x", 1, NULL, 0);
	cr_assert_eq(raw_status(fd, 0x0077), -EOPNOTSUPP);
	raw_send(fd, SVMD_OP_DEVICES, &req, sizeof(req), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_DEVICES), 0);
	close(fd);
}

Test(socket, fd_floods_drop_the_client_and_leak_nothing)
{
	struct bystander b;
	struct svmd_devices_req req = {0};
	struct svmd_bind_task_req task = {.device = "0000:3b:00.0"};
	int base, fds[4];

	bystander_start(&b);
	base = daemon_fd_count(&d);
	cr_assert_eq(pipe2(&fds[0], O_CLOEXEC), 0);
	cr_assert_eq(pipe2(&fds[2], O_CLOEXEC), 0);
	for (int round = 0; round < 20; round++) {
		int fd = raw_connect(&d);
		raw_hello(fd);
		if (round % 2)
			/* fds on a request that takes none */
			raw_send(fd, SVMD_OP_DEVICES, &req, sizeof(req), fds, 4);
		else
			/* more fds than bind-task takes */
			raw_send(fd, SVMD_OP_BIND_TASK, &task, sizeof(task), fds, 2);
		cr_assert(raw_closed(fd, 2000));
		close(fd);
	}
	/* More than SVMD_FDS_MAX in one record: the kernel truncates, svmd drops. */
	int fd = raw_connect(&d);
	raw_hello(fd);
	{
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 8)];
		} control = {0};
		unsigned char rec[64];
		int n = svmd_frame(rec, SVMD_OP_DEVICES, 3, &req, sizeof(req));
		int eight[8] = {fds[0], fds[1], fds[2], fds[3], fds[0], fds[1], fds[2], fds[3]};
		struct iovec iov = {rec, (size_t)n};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.buf,
				    .msg_controllen = sizeof(control.buf)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(eight));
		memcpy(CMSG_DATA(cm), eight, sizeof(eight));
		cr_assert_eq(sendmsg(fd, &mh, 0), n);
	}
	cr_assert(raw_closed(fd, 2000));
	close(fd);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	/* Dropped clients' sockets close asynchronously: give the loop a moment. */
	int now = base + 1;
	for (int t = 0; t < 200 && now != base; t++) {
		now = daemon_fd_count(&d);
		usleep(10000);
	}
	cr_assert_eq(now, base, "svmd holds %d fds, had %d", now, base);
	bystander_check(&b);
}

Test(socket, pipelining_client_is_throttled_not_served_forever)
{
	struct bystander b;
	struct svmd_devices_req req = {0};
	unsigned char rec[64];
	int fd = raw_connect(&d), sent = 0, got = 0;
	int n = svmd_frame(rec, SVMD_OP_DEVICES, 7, &req, sizeof(req));

	bystander_start(&b);
	raw_hello(fd);
	/* Send until the socket refuses: svmd answers until our receive buffer is full, then
	 * holds one reply and stops reading from us. */
	while (sent < 100000 && send(fd, rec, (size_t)n, MSG_DONTWAIT) == n)
		sent++;
	cr_assert_gt(sent, 10);
	/* Others are still served promptly. */
	bystander_check(&b);
	/* Every request gets its reply once we read. */
	for (; got < sent; got++)
		cr_assert_eq(raw_status(fd, SVMD_OP_DEVICES), 0, "reply %d of %d", got, sent);
	close(fd);
}

/* As u1: holds 3b:00.0 open, stops reading while pipelining requests (svmd parks a reply),
 * queues the connection's own fd behind them, and exits. That socket then stays open in svmd's
 * unread queue: no hang-up ever comes. Exit status 0 when all of it was done. */
static int parked_self_queuer(uid_t uid, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct svmd_hello_req hello = {.version_min = 1, .version_max = 1};
	struct svmd_open_device_req od = {.device = "0000:3b:00.0"};
	struct svmd_devices_req dev = {0};
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	int fds[SVMD_FDS_MAX], fd, self, n, big = 8 << 20;
	size_t n_fds;
	int32_t st;

	/* A send buffer (set while still root) far larger than what svmd can send back before
	 * it stops: every request we pipeline fits, whatever the pace of svmd. The credentials
	 * svmd sees are taken at connect(). */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		return 9;
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		return 10;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.socket);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return 11;
	n = svmd_frame(rec, SVMD_OP_HELLO, 1, &hello, sizeof(hello));
	if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) || svmd_recv(fd, rec, fds, &n_fds, 0) <= 0)
		return 12;
	n = svmd_frame(rec, SVMD_OP_OPEN_DEVICE, 2, &od, sizeof(od));
	if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) || svmd_recv(fd, rec, fds, &n_fds, 0) <= 0)
		return 13;
	memcpy(&st, rec + sizeof(struct svmd_hdr), sizeof(st));
	if (st != 0 || n_fds != 1)
		return 14;
	close(fds[0]);
	/* svmd's own send buffer (212992 bytes unless tuned) holds a few hundred replies at most:
	 * it stops serving us long before the 2000th request, and never reads our socket. */
	n = svmd_frame(rec, SVMD_OP_DEVICES, 3, &dev, sizeof(dev));
	for (int i = 0; i < 2000; i++)
		if (svmd_send(fd, rec, (size_t)n, NULL, 0, MSG_DONTWAIT))
			return 15;
	self = dup(fd);
	if (svmd_send(fd, rec, (size_t)n, &self, 1, MSG_DONTWAIT))
		return 16;
	return 0;
}

Test(socket, unread_reply_times_out_and_ends_the_session)
{
	struct peer p;
	struct peer_result r;
	int base = daemon_fd_count(&d), status = -1;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(parked_self_queuer(u1.uid, u1.gid));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client failed: %#x", status);
	/* Gone, but its socket lives on in svmd's queue: only the timeout ends the session. */
	cr_assert_eq(count_bindings(&d), 1);
	cr_assert(daemon_log_wait(&d, "reply went unread for 10 s", 15000));
	cr_assert(wait_bindings(&d, 0, 2000));
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_open_device(&p, "0000:3b:00.0", &r), 0, "%s", r.reason);
	close(r.fd);
	peer_stop(&p);
	/* No more than before: base may count one that setup's last exchange still held. */
	int now = base + 1;
	for (int t = 0; t < 200 && now > base; t++) {
		now = daemon_fd_count(&d);
		usleep(10000);
	}
	cr_assert_leq(now, base, "svmd holds %d fds, had %d", now, base);
}

Test(socket, explain_for_self_and_for_others)
{
	struct svm_client *c = NULL;
	char *text = NULL;
	bool allowed = true;

	cr_assert_eq(svm_connect(d.socket, &c), 0);
	struct svm_explain_request x = {
		.op = "bind-task", .device = "0000:3b:00.0", .pasid = -1, .uid = u2.uid};
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert_not(allowed);
	cr_assert(strstr(text, "deny * user=svmd-test2"), "%s", text);
	cr_assert(strstr(text, "verdict: deny by"), "%s", text);
	cr_assert(strstr(text, "does not match: user"), "%s", text);
	free(text);
	x = (struct svm_explain_request){
		.op = "bind-pgtable", .device = "0000:3b:00.0", .pasid = 150, .uid = u1.uid};
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert(allowed, "%s", text);
	free(text);
	/* root's own request: no rule names root. */
	x = (struct svm_explain_request){
		.op = "bind-task", .device = "0000:3b:00.0", .pasid = -1, .uid = -1};
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert_not(allowed);
	cr_assert(strstr(text, "no rule matched"), "%s", text);
	free(text);
	svm_disconnect(c);

	/* Only root explains for someone else. */
	char out[4096], err[4096];
	char uid_arg[32];
	snprintf(uid_arg, sizeof(uid_arg), "--user=%u", (unsigned)u2.uid);
	const char *argv[] = {build_path("svmctl"), "--socket",     d.socket, "explain",
			      "bind-task",          "0000:3b:00.0", uid_arg,  NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "only root"), "%s", err);
}

Test(socket, svmctl_runs_a_command_with_its_binding)
{
	char out[4096], err[4096];
	const char *argv[] = {build_path("svmctl"),
			      "--socket",
			      d.socket,
			      "bind-task",
			      "0000:3b:00.0",
			      "--",
			      "sh",
			      "-c",
			      "echo pasid=$SVMD_PASID "
			      "dev=$SVMD_DEVICE id=$SVMD_BINDING; exit 7",
			      NULL};

	cr_assert_eq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 7, "%s",
		     err);
	cr_assert(strstr(out, "pasid=1 dev=0000:3b:00.0 id="), "%s", out);
	cr_assert(wait_bindings(&d, 0, 2000), "released when the command ended");

	const char *denied[] = {build_path("svmctl"), "--socket", d.socket, "bind-task",
				"0000:3b:00.0",       "--",       "true",   NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, denied, out, sizeof(out), err, sizeof(err)), 77);
	cr_assert(strstr(err, "svmctl: denied: rule 'deny * user=svmd-test2' ("), "%s", err);
	cr_assert(strstr(err, "50-test.policy:6)"), "%s", err);

	const char *no_holder[] = {build_path("svmctl"), "--socket",     d.socket,
				   "bind-task",          "0000:3b:00.0", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, no_holder, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "--hold"), "%s", err);
	cr_assert_eq(count_bindings(&d), 0);

	const char *list[] = {build_path("svmctl"), "--socket", d.socket, "list", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, list, out, sizeof(out), err, sizeof(err)), 0);
	cr_assert_str_eq(out, "No bindings.\n");
}

Test(socket, shutdown_releases_everything)
{
	struct peer p;
	struct peer_result r;

	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 140, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 141, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_lease(&p, r.id, &r), 0);
	int lease = r.fd;
	kill(d.pid, SIGTERM);
	int status;
	cr_assert_eq(waitpid(d.pid, &status, 0), d.pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Both, the leased one and the one its connected session held, end as svmd shuts down. */
	const char *shutdown[] = {"EVENT=release", "REASON=\"svmd shutting down\"", NULL};
	cr_assert_eq(daemon_log_count(&d, shutdown), 2);
	cr_assert(!daemon_log_has(&d, "REASON=\"session ended\""));
	/* The socket file goes with the daemon. */
	struct stat st;
	cr_assert_neq(stat(d.socket, &st), 0);
	d.pid = 0;
	close(lease);
	peer_stop(&p);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d.dir);
	cr_assert_eq(system(cmd), 0);
}

/* Start-up: configuration errors and the socket's lifecycle. These start their own daemons. */
TestSuite(startup, .timeout = 60);

/* -V and -h are --version and --help, as svmctl has them. */
Test(startup, short_version_and_help)
{
	char out[4096], err[1024], want[64];
	const char *v[] = {build_path("svmd"), "-V", NULL};
	const char *version[] = {build_path("svmd"), "--version", NULL};
	const char *h[] = {build_path("svmd"), "-h", NULL};

	snprintf(want, sizeof(want), "svmd %s\n", SVMD_VERSION_STRING);
	cr_assert_eq(run_cmd(0, 0, v, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(out, want);
	cr_assert_eq(run_cmd(0, 0, version, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(out, want);
	cr_assert_eq(run_cmd(0, 0, h, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(out, "  -V, --version "), "%s", out);
}

Test(startup, check_policy_reports_file_line_col)
{
	char dir[] = "/tmp/svmd-cp.XXXXXX", path[128], arg[128], out[4096], err[4096];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/10-bad.policy", dir);
	FILE *f = fopen(path, "w");
	fputs("# comment\nallow bind-task user=root pasid=0\nallw * user=root\n", f);
	fclose(f);
	snprintf(arg, sizeof(arg), "--policy-dir=%s", dir);
	const char *argv[] = {build_path("svmd"), "--check-policy", arg, NULL};
	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "10-bad.policy:2:33: error: PASID '0' outside 1-1048575"), "%s", err);
	cr_assert(strstr(err, "10-bad.policy:3:1: error: expected 'allow' or 'deny'"), "%s", err);
	cr_assert(strstr(err, "2 errors"), "%s", err);

	f = fopen(path, "w");
	fputs("allow bind-task user=root pasid=auto\n", f);
	fclose(f);
	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, "1 rule from 1 file, 0 errors"), "%s", err);

	/* A broken policy keeps the daemon from starting at all. */
	f = fopen(path, "w");
	fputs("allow bind-task usr=root\n", f);
	fclose(f);
	char sock[160];
	snprintf(sock, sizeof(sock), "--socket=%s/s.sock", dir);
	const char *start[] = {build_path("svmd"), "--backend=sim", arg, sock, NULL};
	cr_assert_eq(run_cmd(0, 0, start, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "unknown key 'usr'"), "%s", err);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);
}

Test(startup, second_instance_refused_stale_socket_replaced)
{
	struct daemon a;
	char out[4096], err[4096], arg[160];

	daemon_start(&a, "deny *\n", NULL, NULL);
	snprintf(arg, sizeof(arg), "--socket=%s", a.socket);
	const char *argv[] = {build_path("svmd"),          "--backend=sim", arg,
			      "--policy-dir=/nonexistent", "--bus=none",    NULL};
	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "Another svmd is already listening"), "%s", err);
	kill(a.pid, SIGKILL); /* leaves its socket file behind */
	waitpid(a.pid, NULL, 0);
	struct stat st;
	cr_assert_eq(stat(a.socket, &st), 0);
	/* A new daemon replaces the stale file. */
	struct daemon b = a;
	b.pid = fork();
	if (b.pid == 0) {
		int fd = open(a.log, O_WRONLY | O_APPEND);
		dup2(fd, 2);
		execl(build_path("svmd"), "svmd", "--backend=sim", arg, "--policy-dir=/nonexistent",
		      "--bus=none", NULL);
		_exit(127);
	}
	struct svm_client *c = NULL;
	int r = -1;
	for (int i = 0; i < 300 && r < 0; i++) {
		r = svm_connect(a.socket, &c);
		if (r < 0)
			usleep(10000);
	}
	cr_assert_eq(r, 0, "the new daemon does not serve");
	svm_disconnect(c);
	daemon_stop(&b);
}

/* As uid: opens up to n connections, each answered HELLO or refused; reports how many were
 * answered on report, then holds them until killed. */
static void connect_many(const char *socket_path, uid_t uid, gid_t gid, int n, int report)
{
	struct svmd_hello_req hello = {.version_min = 1, .version_max = 1};
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int answered = 0, len = svmd_frame(rec, SVMD_OP_HELLO, 1, &hello, sizeof(hello));

	if (setgroups(1, &gid) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		_exit(10);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(11);
		if (send(fd, rec, (size_t)len, MSG_NOSIGNAL) == len && poll(&pfd, 1, 2000) == 1 &&
		    recv(fd, rec + 64, sizeof(rec) - 64, 0) > 0)
			answered++;
	}
	if (write(report, &answered, sizeof(answered)) != sizeof(answered))
		_exit(12);
	pause();
	_exit(0);
}

/* svmd's fd budget as it logs it at start (user-limits.h): the pool the users other than root
 * share, one uid's share of it when alone, root's reserve. */
struct budget {
	unsigned limit, own, root, pool, share;
};

static struct budget budget_of(const struct daemon *dm)
{
	struct budget b = {0};
	char line[512];
	FILE *f;

	/* svmd listens before it serves, and shares out its fds only then: a test that connects
	 * at once may read the log before the line is there. */
	cr_assert(daemon_log_wait(dm, "File descriptors: ", 5000),
		  "svmd did not log its fd budget");
	f = fopen(dm->log, "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "File descriptors: ");
		if (p &&
		    sscanf(p,
			   "File descriptors: %u in all; svmd keeps %u, root %u; the other users "
			   "share %u, none holding more than it leaves free (%u when alone).",
			   &b.limit, &b.own, &b.root, &b.pool, &b.share) == 5)
			break;
	}
	fclose(f);
	cr_assert_gt(b.limit, 0, "svmd did not log its fd budget");
	cr_assert_eq(b.own + b.root + b.pool, b.limit, "the budget does not add up");
	return b;
}

/* The fds one connection holds: 1, or 2 on kernels without SO_PEERPIDFD. */
static unsigned fds_per_connection(void)
{
	int pair[2], pidfd = -1;
	socklen_t len = sizeof(pidfd);
	unsigned n = 2;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
	if (getsockopt(pair[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
		close(pidfd);
		n = 1;
	}
	close(pair[0]);
	close(pair[1]);
	return n;
}

static int connect_many_as(const struct daemon *dm, uid_t uid, gid_t gid, int n, int pipefd[2],
			   pid_t *ret_pid)
{
	int answered = -1;

	*ret_pid = fork();
	cr_assert_geq(*ret_pid, 0);
	if (*ret_pid == 0)
		connect_many(dm->socket, uid, gid, n, pipefd[1]);
	cr_assert_eq(read(pipefd[0], &answered, sizeof(answered)), (ssize_t)sizeof(answered));
	return answered;
}

Test(startup, one_uid_gets_a_share_of_the_fd_limit)
{
	/* svmd gets a limit of 128 fds and shares it out: its own, root's reserve, and a pool for
	 * everyone else, where no uid holds more than it leaves free: half of the pool for the
	 * first, half of what is left for the next, and so on. */
	struct daemon a;
	struct svm_client *c = NULL;
	int pipefd[2];
	pid_t pid, pid2, pid3;
	char line[200];

	test_users(&u1, &u2);
	daemon_nofile = 128;
	daemon_start(&a, "deny *\n", NULL, NULL);
	struct budget b = budget_of(&a);
	unsigned fpc = fds_per_connection();
	cr_assert_gt(b.share, 8, "a budget this small tests nothing: %u", b.share);
	cr_assert_eq(b.share, b.pool / 2);
	cr_assert_eq(pipe(pipefd), 0);
	int answered = connect_many_as(&a, u1.uid, u1.gid, 120, pipefd, &pid);
	cr_expect_eq((unsigned)answered, b.share / fpc, "%d of 120 connections served", answered);
	snprintf(line, sizeof(line),
		 "it has %d sessions and holds %u of svmd's file descriptors, as many as it would "
		 "leave to the other users",
		 answered, (unsigned)answered * fpc);
	cr_expect(daemon_log_has(&a, line), "no '%s'", line);
	/* Another user gets half of what is left of the pool... */
	unsigned left = b.pool - (unsigned)answered * fpc;
	int answered2 = connect_many_as(&a, u2.uid, u2.gid, 120, pipefd, &pid2);
	cr_expect_eq((unsigned)answered2, left / 2 / fpc, "%d connections for the second uid",
		     answered2);
	/* ... and a third, while both hold theirs, half of what they left. */
	left -= (unsigned)answered2 * fpc;
	int answered3 = connect_many_as(&a, 65534, 65534, 120, pipefd, &pid3);
	cr_expect_gt(answered3, 0, "two uids left a third nothing");
	cr_expect_eq((unsigned)answered3, left / 2 / fpc, "%d connections for the third uid",
		     answered3);
	/* Root still gets in: its reserve is its own. */
	cr_expect_eq(svm_connect(a.socket, &c), 0, "root was turned away");
	svm_disconnect(c);
	cr_expect(!daemon_log_has(&a, "Too many open files"), "svmd ran out of fds");
	kill(pid, SIGKILL);
	kill(pid2, SIGKILL);
	kill(pid3, SIGKILL);
	waitpid(pid, NULL, 0);
	waitpid(pid2, NULL, 0);
	waitpid(pid3, NULL, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	daemon_stop(&a);
}

/* The share counts what a uid's bindings hold too: leases (and bound processes' pidfds). */
Test(startup, one_uid_gets_a_share_of_the_fds_for_its_leases)
{
	struct daemon a;
	struct peer p, p2, q;
	struct peer_result r;
	int leases[128], n = 0, got = 0;

	test_users(&u1, &u2);
	daemon_nofile = 128;
	daemon_start(&a,
		     "allow bind-pgtable user=svmd-test1 device=0000:3b:00.0 pasid=100-299\n"
		     "allow bind-task user=svmd-test1 device=0000:3c:00.0 pasid=auto\n",
		     NULL, NULL);
	struct budget b = budget_of(&a);
	unsigned fpc = fds_per_connection();
	peer_start(&p, &a, u1.uid, u1.gid, 0);
	for (; n < 128; n++) {
		cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 100 + (uint32_t)n, 0x10000, &r),
			     0, "%s", r.reason);
		got = peer_lease(&p, r.id, &r);
		if (got < 0)
			break;
		leases[n] = r.fd;
	}
	/* Each lease keeps one fd in svmd, and needs one more until it is sent. */
	cr_assert_eq(got, -EDQUOT, "%d leases, then %d", n, got);
	cr_assert_eq((unsigned)n, b.share - fpc - 1, "%d leases, share %u", n, b.share);
	cr_assert(strstr(r.reason, "as many as it would leave to the other users"), "%s", r.reason);
	/* A task binding holds the process's pidfd: the last one fits, the next is refused. */
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", -1, 0, &r), -EDQUOT);
	cr_assert(strstr(r.reason, "as many as it would leave"), "%s", r.reason);
	/* No more connections for that uid either; the others still get theirs. */
	peer_start_paused(&p2, &a, u1.uid, u1.gid, 0);
	cr_assert_neq(peer_connect(&p2, &r), 0);
	peer_start(&q, &a, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_count(&q, &r), 0, "%s", r.reason);
	/* Closing the leases gives the fds back: our copies, and with the peers (forked from us)
	 * theirs. */
	for (int i = 0; i < n; i++)
		close(leases[i]);
	peer_stop(&p);
	peer_stop(&p2);
	peer_stop(&q);
	cr_assert(wait_bindings(&a, 0, 5000), "the leased bindings did not end");
	peer_start(&p2, &a, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_count(&p2, &r), 0, "%s", r.reason);
	peer_stop(&p2);
	daemon_stop(&a);
}

/* Two uids together cannot take the fds root and svmd need: one fills its share with
 * connections, the other with connections and leases; every refusal is EDQUOT (never EMFILE),
 * and root still binds and leases. */
Test(startup, two_uids_cannot_exhaust_the_fds)
{
	struct daemon a;
	struct peer p;
	struct peer_result r;
	struct svm_client *c = NULL;
	int pipefd[2], leases[128], n = 0, got = 0;
	pid_t pid, pid2;
	uint64_t id;

	test_users(&u1, &u2);
	daemon_nofile = 128;
	daemon_start(&a,
		     "allow bind-pgtable user=svmd-test2 device=0000:3b:00.0 pasid=100-299\n"
		     "allow bind-pgtable user=root device=0000:3b:00.0 pasid=300-399\n",
		     NULL, NULL);
	cr_assert_eq(pipe(pipefd), 0);
	/* The second uid's first connection, then the first uid's connections, then as many
	 * more of the second's as it gets, and leases on the first one. */
	peer_start(&p, &a, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_count(&p, &r), 0, "%s", r.reason);
	int answered = connect_many_as(&a, u1.uid, u1.gid, 120, pipefd, &pid);
	cr_assert_gt(answered, 0);
	int answered2 = connect_many_as(&a, u2.uid, u2.gid, 120, pipefd, &pid2);
	(void)answered2;
	for (; n < 128; n++) {
		got = peer_bind_pgtable(&p, "0000:3b:00.0", 100 + (uint32_t)n, 0x10000, &r);
		if (got == 0)
			got = peer_lease(&p, r.id, &r);
		if (got < 0)
			break;
		leases[n] = r.fd;
	}
	/* Its connection may have been refused already: then there is nothing to lease on. */
	cr_expect(got == -EDQUOT || got == -ECONNRESET || got == -ENOTCONN,
		  "%d leases, then %d (%s)", n, got, r.reason);
	cr_expect(!daemon_log_has(&a, "Too many open files"), "svmd ran out of fds");
	/* Root: a connection, a bind, a lease. */
	cr_assert_eq(svm_connect(a.socket, &c), 0, "root was turned away");
	struct svm_pgtable pg = {.pasid = 300, .addr_width = 48, .gpgd = 0x10000};
	cr_expect_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, &id), 0, "%s", svm_reason(c));
	int fd = -1;
	cr_expect_eq(svm_lease(c, id, &fd), 0, "%s", svm_reason(c));
	if (fd >= 0)
		close(fd);
	svm_disconnect(c);
	cr_expect_lt(daemon_fd_count(&a), 128);
	for (int i = 0; i < n; i++)
		close(leases[i]);
	peer_stop(&p);
	kill(pid, SIGKILL);
	kill(pid2, SIGKILL);
	waitpid(pid, NULL, 0);
	waitpid(pid2, NULL, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	daemon_stop(&a);
}

/* With a state directory (the unit gives svmd one under /run), a restart goes on above every
 * binding id handed out before it: an old id never names a new binding. */
Test(startup, binding_ids_do_not_repeat_across_restarts)
{
	char dir[] = "/tmp/svmd-state.XXXXXX", arg[64];
	struct svm_pgtable pg = {.pasid = 300, .addr_width = 48, .gpgd = 0x10000};
	uint64_t first = 0, second = 0;
	struct daemon a;
	struct svm_client *c = NULL;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(arg, sizeof(arg), "--state-dir=%s", dir);
	const char *extra[] = {arg, NULL};
	for (int run = 0; run < 2; run++) {
		daemon_start(&a, "allow bind-pgtable user=root device=0000:3b:00.0 pasid=300-399\n",
			     NULL, extra);
		cr_assert_eq(svm_connect(a.socket, &c), 0);
		cr_assert_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, run ? &second : &first), 0,
			     "%s", svm_reason(c));
		c = svm_disconnect(c);
		daemon_stop(&a);
	}
	cr_assert_gt(second, first, "the id %" PRIu64 " came again after a restart", second);
	/* Without one, a fresh svmd starts at 1. */
	daemon_start(&a, "allow bind-pgtable user=root device=0000:3b:00.0 pasid=300-399\n", NULL,
		     (const char *[]){"--state-dir=", NULL});
	cr_assert_eq(svm_connect(a.socket, &c), 0);
	cr_assert_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, &second), 0, "%s", svm_reason(c));
	cr_assert_eq(second, 1);
	svm_disconnect(c);
	daemon_stop(&a);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* An impatient second SIGTERM (or SIGINT) while svmd releases everything and frees what it
 * made does not kill it half-way: it finishes and exits 0. A large policy makes the teardown
 * long enough for the signals sent every 100 us to land in each part of it. */
Test(startup, a_second_sigterm_does_not_cut_the_shutdown_short, .timeout = 60)
{
	size_t cap = 10000 * 80, used = 0;
	char *text = malloc(cap);
	struct daemon a;
	int status = 0;
	pid_t r = 0;

	cr_assert_not_null(text);
	for (int i = 0; i < 10000; i++)
		used += (size_t)snprintf(text + used, cap - used,
					 "allow bind-pgtable user=root device=0000:3b:00.0 "
					 "pasid=%d\n",
					 i + 1);
	daemon_start(&a, text, NULL, NULL);
	free(text);
	for (int i = 0; i < 200000 && r == 0; i++) {
		kill(a.pid, i % 2 ? SIGINT : SIGTERM);
		usleep(100);
		r = waitpid(a.pid, &status, WNOHANG);
	}
	cr_assert_eq(r, a.pid, "svmd did not exit");
	a.pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "svmd ended with status 0x%x (signal %d), not exit 0", status,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	daemon_stop(&a);
}

/* svmctl --hold notices svmd going away: its binding is gone, and it says so. */
Test(startup, svmctl_hold_ends_when_svmd_closes_the_connection)
{
	struct daemon a;
	int errpipe[2], status = -1;
	char err[1024] = "";
	ssize_t n;

	test_users(&u1, &u2);
	daemon_start(&a, "allow bind-pgtable user=svmd-test1 device=0000:3b:00.0 pasid=100-199\n",
		     NULL, NULL);
	cr_assert_eq(pipe2(errpipe, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *argv[] = {build_path("svmctl"),
				      "--socket",
				      a.socket,
				      "bind-pgtable",
				      "0000:3b:00.0",
				      "--pasid=150",
				      "--pgd=0x7f000",
				      "--addr-width=48",
				      "--hold",
				      NULL};
		int null = open("/dev/null", O_WRONLY);
		if (setgroups(1, &u1.gid) || setresgid(u1.gid, u1.gid, u1.gid) ||
		    setresuid(u1.uid, u1.uid, u1.uid) || null < 0)
			_exit(100);
		dup2(null, STDOUT_FILENO);
		dup2(errpipe[1], STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(errpipe[1]);
	cr_assert(wait_bindings(&a, 1, 5000), "svmctl did not bind");
	daemon_stop(&a);
	for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_fail("svmctl --hold kept waiting after svmd went away");
	}
	n = read(errpipe[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = 0;
	close(errpipe[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x: %s", status, err);
	/* svmd says why before it goes (protocol version 2). */
	cr_assert(strstr(err, "svmctl: binding 1 is gone: svmd shutting down."), "%s", err);
}

Test(startup, socket_from_systemd)
{
	char dir[] = "/tmp/svmd-sa.XXXXXX", sock[128];

	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		cr_skip_test("systemd-socket-activate not installed");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/act.sock", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/bin/systemd-socket-activate", "systemd-socket-activate", "--seqpacket",
		      "-l", sock, "--", build_path("svmd"), "--backend=sim", "--bus=none",
		      "--policy-dir=/nonexistent", "--socket=/nonexistent/ignored.sock", NULL);
		_exit(127);
	}
	struct svm_client *c = NULL;
	struct svm_device *devs = NULL;
	size_t n = 0;
	int r = -1;
	for (int i = 0; i < 300 && r < 0; i++) {
		r = svm_connect(sock, &c);
		if (r < 0)
			usleep(10000);
	}
	cr_assert_eq(r, 0, "no answer on the activated socket: %d", r);
	cr_assert_eq(svm_devices(c, &devs, &n), 0);
	cr_assert_eq(n, 5);
	free(devs);
	svm_disconnect(c);
	kill(pid, SIGTERM);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	snprintf(sock, sizeof(sock), "rm -rf %s", dir);
	cr_assert_eq(system(sock), 0);
}

/* libsvmclient against a server that answers out of order: the call fails, and the connection
 * is not used again (a late reply would otherwise be taken for the next call's). */
static void out_of_order_server(int lfd, int report)
{
	struct svmd_hello_rep hello = {.version = SVMD_VERSION,
				       .record_max = SVMD_RECORD_MAX,
				       .fds_max = SVMD_FDS_MAX,
				       .backend = "sim",
				       .server_version = "test"};
	struct svmd_devices_rep devices = {0};
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	int fds[SVMD_FDS_MAX], fd = accept(lfd, NULL, NULL), later = 0, n;
	size_t n_fds;
	struct svmd_hdr h;

	if (fd < 0 || svmd_recv(fd, rec, fds, &n_fds, 0) <= 0)
		_exit(1);
	memcpy(&h, rec, sizeof(h));
	n = svmd_frame(rec, SVMD_OP_HELLO | SVMD_REPLY, h.seq, &hello, sizeof(hello));
	if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) < 0 ||
	    svmd_recv(fd, rec, fds, &n_fds, 0) <= 0)
		_exit(2);
	memcpy(&h, rec, sizeof(h));
	n = svmd_frame(rec, SVMD_OP_DEVICES | SVMD_REPLY, h.seq + 1, &devices, sizeof(devices));
	if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) < 0)
		_exit(3);
	/* Count what comes after, until the client hangs up. */
	while (svmd_recv(fd, rec, fds, &n_fds, 0) > 0)
		later++;
	_exit(write(report, &later, sizeof(later)) == sizeof(later) ? 0 : 4);
}

Test(client, a_reply_out_of_order_ends_the_connection)
{
	char dir[] = "/tmp/svmd-oo.XXXXXX", path[64];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct svm_client *c = NULL;
	struct svm_device *devs = NULL;
	size_t n = 0;
	int lfd, pipefd[2], later = -1, status;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		out_of_order_server(lfd, pipefd[1]);
	close(pipefd[1]);
	cr_assert_eq(svm_connect(path, &c), 0);
	cr_assert_eq(svm_devices(c, &devs, &n), -EPROTO);
	cr_assert_eq(svm_devices(c, &devs, &n), -ENOTCONN);
	cr_assert(strstr(svm_reason(c), "connect again"), "%s", svm_reason(c));
	svm_disconnect(c);
	cr_assert_eq(read(pipefd[0], &later, sizeof(later)), (ssize_t)sizeof(later));
	cr_assert_eq(later, 0, "%d requests sent on a broken connection", later);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server: %#x", status);
	close(pipefd[0]);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/* A caller's bad fd never reaches svmd (sendmsg refuses it): the connection stays usable. */
Test(socket, a_bad_fd_from_the_caller_leaves_the_connection_usable)
{
	struct svm_client *c = NULL;
	struct svm_device *devs = NULL;
	uint64_t id;
	uint32_t pasid;
	size_t n = 0;

	cr_assert_eq(svm_connect(d.socket, &c), 0);
	cr_assert_eq(svm_bind_task(c, "0000:3b:00.0", 1000000, 0, &id, &pasid), -EBADF);
	cr_assert_eq(svm_devices(c, &devs, &n), 0, "%s", svm_reason(c) ? svm_reason(c) : "");
	cr_assert_gt(n, 0);
	free(devs);
	svm_disconnect(c);
}

/*
 * Events (protocol version 2): holders hear how their binding ended, subscribers see the
 * records. Each test has its own svmd: some rewrite its policy.
 */
static const char events_policy[] =
	"allow bind-pgtable user=svmd-test1,svmd-test2 device=0000:3b:00.0 pasid=100-159\n"
	"allow bind-pgtable user=root device=0000:3b:00.0 pasid=160-169\n"
	"allow bind-task user=svmd-test1 device=0000:3c:00.0 pasid=auto targets=same-user\n"
	"allow reload user=root\n";

static struct daemon ev;

static void events_setup(void)
{
	test_users(&u1, &u2);
	daemon_start(&ev, events_policy, NULL, NULL);
}

static void events_teardown(void)
{
	if (ev.pid > 0)
		daemon_stop(&ev);
}

TestSuite(events, .init = events_setup, .fini = events_teardown, .timeout = 60);

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* svmctl bind-pgtable as u1 at pasid, holding with --hold (cmd NULL) or running cmd. */
static void start_holder(struct bg_cmd *b, const char *front, const char *pasid, const char *cmd)
{
	const char *argv[16] = {build_path("svmctl"), front, "bind-pgtable",
				"0000:3b:00.0",       pasid, "--pgd=0x7f000",
				"--addr-width=48"};
	int n = 7;

	if (cmd) {
		argv[n++] = "--";
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = cmd;
	} else {
		argv[n++] = "--hold";
	}
	argv[n] = NULL;
	bg_start(b, u1.uid, u1.gid, argv, NULL);
}

static char socket_arg[128];

static const char *ev_socket(void)
{
	snprintf(socket_arg, sizeof(socket_arg), "--socket=%s", ev.socket);
	return socket_arg;
}

/* The holder exits 1 within a second of t0, saying why. */
static void expect_taken(struct bg_cmd *b, long long t0, const char *why)
{
	int st = bg_wait(b, 5000);
	long long took = now_ms() - t0;

	cr_assert_eq(st, 1, "exit %d after %lld ms: %s", st, took, b->errbuf);
	cr_assert_lt(took, 1000, "took %lld ms", took);
	cr_assert(strstr(b->errbuf, why), "%s", b->errbuf);
}

Test(events, hold_ends_when_another_client_unbinds)
{
	struct bg_cmd h;
	struct svm_client *root;

	start_holder(&h, ev_socket(), "--pasid=150", NULL);
	cr_assert(bg_wait_output(&h, false, "holding it", 5000), "%s", h.errbuf);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	long long t0 = now_ms();
	cr_assert_eq(svm_unbind(root, 1), 0, "%s", svm_reason(root));
	expect_taken(&h, t0, "svmctl: binding 1 is gone: unbound by uid 0.");
	svm_disconnect(root);
	bg_stop(&h);
}

Test(events, command_gets_sigterm_when_a_reload_revokes)
{
	struct bg_cmd h;
	struct svm_client *root;
	struct svm_reload_result rr;

	/* The command says when it is told to stop, and keeps running until then. */
	start_holder(
		&h, ev_socket(), "--pasid=151",
		"trap 'echo got-TERM; exit 3' TERM; echo started; while :; do sleep 0.05; done");
	cr_assert(bg_wait_output(&h, false, "started", 5000), "%s", h.errbuf);
	daemon_write_policy(&ev, "10-revoke.policy",
			    "deny bind-pgtable user=svmd-test1 device=0000:3b:00.0 revoke\n");
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	long long t0 = now_ms();
	cr_assert_eq(svm_reload(root, &rr, NULL), 0, "%s", svm_reason(root));
	cr_assert_eq(rr.n_revoked, 1);
	expect_taken(&h, t0, "svmctl: binding 1 is gone: revoked by policy generation 2.");
	cr_assert(strstr(h.errbuf, "sending SIGTERM to /bin/sh"), "%s", h.errbuf);
	cr_assert(strstr(h.outbuf, "got-TERM"), "%s", h.outbuf);
	svm_disconnect(root);
	bg_stop(&h);
}

Test(events, hold_ends_when_svmd_stops)
{
	struct bg_cmd h;

	start_holder(&h, ev_socket(), "--pasid=152", NULL);
	cr_assert(bg_wait_output(&h, false, "holding it", 5000), "%s", h.errbuf);
	long long t0 = now_ms();
	kill(ev.pid, SIGTERM);
	expect_taken(&h, t0, "svmctl: binding 1 is gone: svmd shutting down.");
	daemon_reap(&ev);
	bg_stop(&h);
}

Test(events, hold_ends_when_the_same_user_unbinds_from_elsewhere)
{
	struct bg_cmd h;
	struct peer p;
	struct peer_result r;

	start_holder(&h, ev_socket(), "--pasid=153", NULL);
	cr_assert(bg_wait_output(&h, false, "holding it", 5000), "%s", h.errbuf);
	peer_start(&p, &ev, u1.uid, u1.gid, 0);
	long long t0 = now_ms();
	cr_assert_eq(peer_unbind(&p, 1, &r), 0, "%s", r.reason);
	expect_taken(&h, t0, "unbound by uid ");
	peer_stop(&p);
	bg_stop(&h);
}

/* A client that said HELLO for version 1 is never sent an event record. */
Test(events, version_1_clients_get_no_events)
{
	int fd = raw_connect(&ev);
	struct svmd_bind_pgtable_req bind = {.device = "0000:3b:00.0",
					     .pasid = 160,
					     .addr_width = 48,
					     .gpgd = 0x7f000,
					     .format = SVMD_PGTABLE_FORMAT_VTD};
	struct svmd_subscribe_req sub = {0};
	struct svm_client *root;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	raw_hello(fd);
	raw_send(fd, SVMD_OP_BIND_PGTABLE, &bind, sizeof(bind), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_BIND_PGTABLE), 0);
	/* SUBSCRIBE needs version 2: answered, and the connection stays. */
	raw_send(fd, SVMD_OP_SUBSCRIBE, &sub, sizeof(sub), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_SUBSCRIBE), -EPROTO);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	cr_assert_eq(svm_unbind(root, 1), 0, "%s", svm_reason(root));
	cr_assert(daemon_log_wait(&ev, "EVENT=release", 2000));
	cr_assert_eq(poll(&pfd, 1, 300), 0, "svmd sent a version 1 client something unasked");
	svm_disconnect(root);
	close(fd);
}

/* A version 2 client sees its binding's end as one well-formed record, seq 0. */
Test(events, version_2_gets_the_record)
{
	int fd = raw_connect(&ev);
	struct svmd_hello_req hello = {.version_min = 1, .version_max = 2};
	struct svmd_bind_pgtable_req bind = {.device = "0000:3b:00.0",
					     .pasid = 161,
					     .addr_width = 48,
					     .gpgd = 0x7f000,
					     .format = SVMD_PGTABLE_FORMAT_VTD};
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_ev_binding_ended e;
	struct svm_client *root;
	struct svmd_hdr h;
	int fds[SVMD_FDS_MAX];
	size_t n_fds = 0;

	raw_send(fd, SVMD_OP_HELLO, &hello, sizeof(hello), NULL, 0);
	ssize_t n = svmd_recv(fd, rec, fds, &n_fds, 0);
	cr_assert_gt(n, 0);
	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
	struct svmd_hello_rep rep;
	memcpy(&rep, rec + sizeof(h), sizeof(rep));
	cr_assert_eq(rep.status, 0);
	cr_assert_eq(rep.version, 2);
	raw_send(fd, SVMD_OP_BIND_PGTABLE, &bind, sizeof(bind), NULL, 0);
	cr_assert_eq(raw_status(fd, SVMD_OP_BIND_PGTABLE), 0);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	cr_assert_eq(svm_unbind(root, 1), 0, "%s", svm_reason(root));
	n = svmd_recv(fd, rec, fds, &n_fds, 0);
	cr_assert_gt(n, 0);
	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
	cr_assert_eq(h.opcode, SVMD_EV_BINDING_ENDED);
	cr_assert_eq(svmd_event_check(h.opcode, h.seq, rec + sizeof(h), h.len, n_fds), 0);
	memcpy(&e, rec + sizeof(h), sizeof(e));
	cr_assert_eq(e.id, 1);
	cr_assert_eq(e.reason, SVMD_END_UNBIND);
	cr_assert_eq(e.by_uid, 0);
	cr_assert_str_eq(svmd_event_text(h.opcode, rec + sizeof(h)), "unbound by uid 0");
	svm_disconnect(root);
	close(fd);
}

static void on_count(struct svm_client *c, const struct svm_event *e, void *userdata)
{
	(void)c;
	if (e->type == SVM_EVENT_RECORD)
		++*(unsigned *)userdata;
}

static void on_count_releases(struct svm_client *c, const struct svm_event *e, void *userdata)
{
	(void)c;
	if (e->type == SVM_EVENT_RECORD && strcmp(e->record, "release") == 0)
		++*(unsigned *)userdata;
}

/* A client that leaves with 150 bindings makes 150 release records in one loop iteration, more
 * than CLIENT_EVENTS_MAX: root's monitor, which reads as they come, sees every one and is not
 * dropped (what its socket takes goes at once; only what it does not take counts against it). */
Test(events, a_burst_of_records_does_not_drop_a_monitor_that_reads)
{
	struct svm_client *mon, *root;
	struct svm_reload_result rr;
	struct peer q1;
	struct peer_result pr;
	unsigned released = 0;
	const unsigned n = 150;

	daemon_write_policy(
		&ev, "60-burst.policy",
		"allow bind-pgtable user=svmd-test1 device=0000:3b:00.0 pasid=1000-1199 "
		"max=200\n");
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	cr_assert_eq(svm_reload(root, &rr, NULL), 0, "%s", svm_reason(root));
	cr_assert_eq(svm_connect(ev.socket, &mon), 0);
	svm_set_event_handler(mon, on_count_releases, &released);
	cr_assert_eq(svm_subscribe(mon), 0, "%s", svm_reason(mon));
	peer_start(&q1, &ev, u1.uid, u1.gid, 0);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(peer_bind_pgtable(&q1, "0000:3b:00.0", 1000 + i, 0x10000, &pr), 0,
			     "%s", pr.reason);
		if (i % 32 == 0)
			while (svm_dispatch(mon, 0) > 0)
				;
	}
	peer_stop(&q1);
	long long t0 = now_ms();
	int r = 0;
	while (released < n && r >= 0 && now_ms() - t0 < 5000)
		r = svm_dispatch(mon, 100);
	cr_assert_geq(r, 0, "the monitor was dropped: %s", svm_strerror(r));
	cr_assert_eq(released, n, "the monitor saw %u of %u releases", released, n);
	cr_assert_not(daemon_log_has(&ev, "event records unread"));
	svm_disconnect(mon);
	svm_disconnect(root);
}

/* svmd's SERVER_SUBSCRIBERS_PER_UID, as svmd(8) says it. */
#define SERVER_SUBS_PER_UID 4

/* In a child per subscription, as uid first_uid + i / 4 (numeric uids with no passwd entry
 * needed): n subscriptions; each child writes its result to fd, then waits to be killed. */
static void subscribe_as_uids(uid_t first_uid, int n, pid_t *kids, int fd)
{
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		cr_assert_geq(kids[i], 0);
		if (kids[i])
			continue;
		uid_t uid = first_uid + (uid_t)(i / SERVER_SUBS_PER_UID);
		struct svm_client *c = NULL;
		int r = setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
					setresuid(uid, uid, uid) < 0
				? -errno
				: svm_connect(ev.socket, &c);
		/* After the uid change, which clears it; and the parent may be gone already. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		if (r == 0)
			r = svm_subscribe(c);
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		for (;;)
			pause();
	}
}

enum { N_OTHERS = 64 };
static pid_t other_kids[N_OTHERS + 1];

static void kill_other_kids(void)
{
	for (int i = 0; i <= N_OTHERS; i++)
		if (other_kids[i] > 0) {
			kill(other_kids[i], SIGKILL);
			waitpid(other_kids[i], NULL, 0);
			other_kids[i] = 0;
		}
	events_teardown();
}

/* Other users cannot keep root from subscribing: 16 uids take the 64 subscriptions svmd has for
 * everyone, a 17th uid is refused, and root still subscribes, and sees records. */
Test(events, other_users_cannot_take_roots_subscriptions, .fini = kill_other_kids)
{
	enum { N = N_OTHERS };
	pid_t *kids = other_kids;
	int fds[2], r, ok = 0;
	struct svm_client *root;
	unsigned seen = 0;

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	subscribe_as_uids(71000, N, kids, fds[1]);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(read(fds[0], &r, sizeof(r)), (ssize_t)sizeof(r), "a child died");
		ok += r == 0;
	}
	cr_assert_eq(ok, N, "%d of %d subscribed", ok, N);
	subscribe_as_uids(72000, 1, &kids[N], fds[1]);
	cr_assert_eq(read(fds[0], &r, sizeof(r)), (ssize_t)sizeof(r));
	cr_assert_eq(r, -EDQUOT, "a 17th uid: %d", r);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	svm_set_event_handler(root, on_count, &seen);
	cr_assert_eq(svm_subscribe(root), 0, "%s", svm_reason(root));
	struct svm_pgtable pg = {.pasid = 300, .addr_width = 48, .gpgd = 0x7f000};
	cr_assert_eq(svm_bind_pgtable(root, "0000:3b:00.0", &pg, NULL), -EACCES);
	while (seen == 0 && svm_dispatch(root, 1000) > 0)
		;
	cr_assert_eq(seen, 1);
	svm_disconnect(root);
	close(fds[0]);
	close(fds[1]);
}

/* Subscriptions are charged to the uid and bounded; one that does not read is dropped alone. */
Test(events, subscriptions_are_bounded)
{
	struct svm_client *sub[SERVER_SUBS_PER_UID + 1], *root;
	unsigned seen = 0;

	for (int i = 0; i <= SERVER_SUBS_PER_UID; i++)
		cr_assert_eq(svm_connect(ev.socket, &sub[i]), 0);
	for (int i = 0; i < SERVER_SUBS_PER_UID; i++)
		cr_assert_eq(svm_subscribe(sub[i]), 0, "%s", svm_reason(sub[i]));
	cr_assert_eq(svm_subscribe(sub[SERVER_SUBS_PER_UID]), -EDQUOT);
	cr_assert(strstr(svm_reason(sub[SERVER_SUBS_PER_UID]), "at most 4 a user"), "%s",
		  svm_reason(sub[SERVER_SUBS_PER_UID]));
	/* A subscription ends with its connection: another may take its place. */
	svm_disconnect(sub[1]);
	usleep(100000);
	cr_assert_eq(svm_subscribe(sub[SERVER_SUBS_PER_UID]), 0);
	svm_set_event_handler(sub[0], on_count, &seen);
	/* sub[2] never reads: a few hundred denials fill its socket, then its queue. */
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	for (int i = 0; i < 600; i++) {
		cr_assert_eq(svm_bind_pgtable(root, "0000:3b:00.0",
					      &(struct svm_pgtable){.pasid = 300,
								    .addr_width = 48,
								    .gpgd = 0x7f000},
					      NULL),
			     -EACCES);
		if (i % 50 == 0)
			while (svm_dispatch(sub[0], 0) > 0)
				;
	}
	cr_assert(daemon_log_wait(&ev, "event records unread", 5000), "not dropped");
	while (svm_dispatch(sub[0], 100) > 0)
		;
	cr_assert_eq(seen, 600, "a reading subscriber saw %u of 600", seen);
	/* The rest still work. */
	struct svm_binding_info *list = NULL;
	size_t n_list = 0;
	cr_assert_eq(svm_list(root, &list, &n_list), 0);
	free(list);
	svm_disconnect(root);
	for (int i = 0; i <= SERVER_SUBS_PER_UID; i++)
		if (i != 1)
			svm_disconnect(sub[i]);
}

/* The nth line of text (from 0), into buf; false when there are fewer. */
static bool nth_line(const char *text, int n, char *buf, size_t size)
{
	for (; n > 0 && text; n--)
		if ((text = strchr(text, '\n')))
			text++;
	if (!text || !*text)
		return false;
	size_t k = strcspn(text, "\n");
	snprintf(buf, size, "%.*s", (int)(k < size ? k : size - 1), text);
	return true;
}

static void expect_json(const char *kind, const char *short_text, const char *pretty_text);

/* svmctl monitor as uid; json: NULL, or "--json" or "--json=pretty". */
static void start_monitor(struct bg_cmd *m, uid_t uid, gid_t gid, const char *json)
{
	const char *argv[] = {build_path("svmctl"), ev_socket(), "monitor", json, NULL};

	bg_start(m, uid, gid, argv, NULL);
	cr_assert(bg_wait_output(m, true, "press Ctrl-C to stop", 5000), "%s", m->errbuf);
}

/* A grant, a denial, a release and a reload, as root's monitor (text and JSON) and as a
 * user's (its own and the reload only) show them. */
Test(events, monitor_shows_grant_deny_release_reload)
{
	struct bg_cmd text, json, pretty, mine;
	struct peer p1, p2;
	struct peer_result r;
	struct svm_client *root;
	struct svm_reload_result rr;
	char line[1024];

	start_monitor(&text, 0, 0, NULL);
	start_monitor(&json, 0, 0, "--json");
	start_monitor(&pretty, 0, 0, "--json=pretty");
	start_monitor(&mine, u2.uid, u2.gid, NULL);
	peer_start(&p1, &ev, u1.uid, u1.gid, 0);
	peer_start(&p2, &ev, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p1, "0000:3b:00.0", 120, 0x7f000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p2, "0000:3b:00.0", 199, 0x7f000, &r), -EACCES);
	cr_assert_eq(peer_unbind(&p1, 1, &r), 0, "%s", r.reason);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	cr_assert_eq(svm_reload(root, &rr, NULL), 0, "%s", svm_reason(root));
	/* The reload's line, whole: the last. */
	cr_assert(bg_wait_output(&text, false, " 0 revoked\n", 3000), "%s", text.outbuf);
	cr_assert(bg_wait_output(&json, false, " 0 revoked\"}\n", 3000), "%s", json.outbuf);
	cr_assert(bg_wait_output(&pretty, false, " 0 revoked\"\n}\n", 3000), "%s", pretty.outbuf);
	cr_assert(bg_wait_output(&mine, false, " 0 revoked\n", 3000), "%s", mine.outbuf);

	char want[4][256];
	snprintf(want[0], sizeof(want[0]),
		 "Z grant bind-pgtable device=0000:3b:00.0 pasid=120 binding=1 uid=%u pid=",
		 (unsigned)u1.uid);
	snprintf(want[1], sizeof(want[1]),
		 "Z deny bind-pgtable device=0000:3b:00.0 pasid=199 uid=%u pid=", (unsigned)u2.uid);
	snprintf(want[2], sizeof(want[2]),
		 "Z release bind-pgtable device=0000:3b:00.0 pasid=120 binding=1 uid=%u pid=",
		 (unsigned)u1.uid);
	snprintf(want[3], sizeof(want[3]), "Z reload reload uid=0 pid=");
	for (int i = 0; i < 4; i++) {
		cr_assert(nth_line(text.outbuf, i, line, sizeof(line)), "%s", text.outbuf);
		cr_assert(strstr(line, want[i]), "line %d: %s\nwant %s", i, line, want[i]);
		/* An ISO 8601 time in UTC first. */
		cr_assert(strlen(line) > 28 && line[4] == '-' && line[10] == 'T' && line[26] == 'Z',
			  "%s", line);
	}
	cr_assert(nth_line(text.outbuf, 1, line, sizeof(line)));
	cr_assert(strstr(line, "generation=1 error=Permission denied: no rule matched"), "%s",
		  line);
	cr_assert(nth_line(text.outbuf, 2, line, sizeof(line)));
	cr_assert(strstr(line, "generation=1 ended=unbind: unbind"), "%s", line);
	cr_assert(nth_line(text.outbuf, 3, line, sizeof(line)));
	cr_assert(strstr(line, "generation=2: generation 2: 4 rules from 1 files"), "%s", line);
	cr_assert(!nth_line(text.outbuf, 4, line, sizeof(line)), "more: %s", text.outbuf);

	/* JSON: one object a line, the same four. */
	static const char *const jwant[4][4] = {
		{"\"event\":\"grant\",\"op\":\"bind-pgtable\",\"device\":\"0000:3b:00.0\","
		 "\"pasid\":120,\"binding\":1,",
		 "\"error\":0,\"ended\":null,\"reason\":\"\"}", "\"generation\":1,", NULL},
		{"\"event\":\"deny\",\"op\":\"bind-pgtable\",\"device\":\"0000:3b:00.0\","
		 "\"pasid\":199,\"binding\":null,",
		 "\"error\":13,\"ended\":null,\"reason\":\"no rule matched", NULL, NULL},
		{"\"event\":\"release\",", "\"binding\":1,",
		 "\"ended\":\"unbind\",\"reason\":\"unbind\"}", NULL},
		{"\"event\":\"reload\",\"op\":\"reload\",\"device\":null,\"pasid\":0,"
		 "\"binding\":null,\"uid\":0,",
		 "\"generation\":2,", NULL, NULL},
	};
	for (int i = 0; i < 4; i++) {
		cr_assert(nth_line(json.outbuf, i, line, sizeof(line)), "%s", json.outbuf);
		cr_assert(line[0] == '{' && line[strlen(line) - 1] == '}', "%s", line);
		cr_assert(strncmp(line, "{\"time\":\"", 9) == 0, "%s", line);
		for (int k = 0; k < 4 && jwant[i][k]; k++)
			cr_assert(strstr(line, jwant[i][k]), "line %d: %s\nwant %s", i, line,
				  jwant[i][k]);
	}
	cr_assert(!nth_line(json.outbuf, 4, line, sizeof(line)), "more: %s", json.outbuf);
	/* Both forms parse as the documented objects, the pretty ones indented. */
	expect_json("monitor", json.outbuf, pretty.outbuf);

	/* svmd-test2 sees its own denial and the reload (not who asked), nothing of svmd-test1. */
	cr_assert(nth_line(mine.outbuf, 0, line, sizeof(line)), "%s", mine.outbuf);
	cr_assert(strstr(line, want[1]), "%s", line);
	cr_assert(nth_line(mine.outbuf, 1, line, sizeof(line)), "%s", mine.outbuf);
	cr_assert(strstr(line, "Z reload reload uid=0 pid=0 generation=2"), "%s", line);
	cr_assert(!nth_line(mine.outbuf, 2, line, sizeof(line)), "more: %s", mine.outbuf);

	/* SIGINT ends a monitor with status 0. */
	kill(text.pid, SIGINT);
	cr_assert_eq(bg_wait(&text, 2000), 0, "%s", text.errbuf);
	svm_disconnect(root);
	peer_stop(&p1);
	peer_stop(&p2);
	bg_stop(&text);
	bg_stop(&json);
	bg_stop(&pretty);
	bg_stop(&mine);
}

struct seen {
	unsigned n;
	char last[32];
};

static void on_record(struct svm_client *c, const struct svm_event *e, void *userdata)
{
	struct seen *s = userdata;

	(void)c;
	if (e->type != SVM_EVENT_RECORD)
		return;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%s %s", e->record, e->op);
}

/* libsvmclient: events that come while a call waits for its reply are neither lost nor handed
 * out from inside the call, but from the next svm_dispatch(). */
Test(events, events_during_a_call_wait_for_dispatch)
{
	struct svm_client *c;
	struct seen s = {0};
	struct svm_binding_info *list = NULL;
	size_t n = 0;
	uint64_t id;

	cr_assert_eq(svm_connect(ev.socket, &c), 0);
	cr_assert(svm_events_supported(c));
	svm_set_event_handler(c, on_record, &s);
	cr_assert_eq(svm_subscribe(c), 0, "%s", svm_reason(c));
	struct svm_pgtable pg = {.pasid = 162, .addr_width = 48, .gpgd = 0x7f000};
	cr_assert_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, &id), 0, "%s", svm_reason(c));
	cr_assert_eq(svm_list(c, &list, &n), 0);
	free(list);
	cr_assert_eq(n, 1);
	cr_assert_eq(s.n, 0, "the handler ran inside a call");
	cr_assert_eq(svm_dispatch(c, 1000), 1);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.last, "grant bind-pgtable");
	/* Nothing more: a dispatch that finds nothing returns 0 after its timeout. */
	cr_assert_eq(svm_dispatch(c, 50), 0);
	cr_assert_eq(svm_events_lost(c), 0);
	svm_disconnect(c);
}

/* The faults bit on the simulated backend: refused with the reason, no fd, nothing bound; the
 * same table without it binds. */
Test(events, a_fault_queue_is_refused_by_the_simulated_backend)
{
	struct svm_client *c;
	struct svm_binding_info *list = NULL;
	size_t n = 0;
	uint64_t id = 0;
	int fd = 7;

	cr_assert_eq(svm_connect(ev.socket, &c), 0);
	struct svm_pgtable pg = {.pasid = 163, .addr_width = 48, .gpgd = 0x7f000};
	cr_assert_eq(svm_bind_pgtable_faults(c, "0000:3b:00.0", &pg, &id, &fd), -EOPNOTSUPP);
	cr_assert_eq(fd, -1);
	cr_assert_str_eq(svm_reason(c), "the simulated backend has no fault queue: page-request "
					"queues (SVMD_PGTABLE_FAULTS) are mainline's iommufd "
					"backend only");
	cr_assert_eq(svm_bind_pgtable_faults(c, "0000:3b:00.0", &pg, &id, NULL), -EINVAL);
	cr_assert_eq(svm_list(c, &list, &n), 0);
	free(list);
	cr_assert_eq(n, 0);
	cr_assert_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, &id), 0, "%s", svm_reason(c));
	svm_disconnect(c);
}

Test(events, hold_ends_when_the_bound_process_exits)
{
	struct bg_cmd sleeper, h;
	const char *sleep_argv[] = {"/bin/sleep", "30", NULL};
	char pid_arg[32];

	bg_start(&sleeper, u1.uid, u1.gid, sleep_argv, NULL);
	cr_assert(bg_wait_exec(&sleeper, 5000), "the sleeper did not exec");
	snprintf(pid_arg, sizeof(pid_arg), "--pid=%d", (int)sleeper.pid);
	const char *argv[] = {build_path("svmctl"),
			      ev_socket(),
			      "bind-task",
			      "0000:3c:00.0",
			      pid_arg,
			      "--hold",
			      NULL};
	bg_start(&h, u1.uid, u1.gid, argv, NULL);
	cr_assert(bg_wait_output(&h, false, "holding it", 5000), "%s", h.errbuf);
	long long t0 = now_ms();
	kill(sleeper.pid, SIGKILL);
	expect_taken(&h, t0, "svmctl: binding 1 is gone: bound process exited.");
	bg_stop(&sleeper);
	bg_stop(&h);
}

/*
 * Leases tell their holder why the binding ended (PROTOCOL.md, LEASE): the holder here is the
 * test process, which got the lease from the owner (a peer of uid u1) over SCM_RIGHTS and has
 * no svmd connection of its own for it; it polls the lease and reads svmd's record.
 */

/* u1's page-table binding at pasid on 3b:00.0, leased and passed to us: its lease fd. */
static int leased_binding(struct peer *p, uint32_t pasid, uint64_t *ret_id)
{
	struct peer_result r;

	cr_assert_eq(peer_bind_pgtable(p, "0000:3b:00.0", pasid, 0x10000, &r), 0, "%s", r.reason);
	*ret_id = r.id;
	cr_assert_eq(peer_lease(p, r.id, &r), 0, "%s", r.reason);
	cr_assert_geq(r.fd, 0);
	return r.fd;
}

/* Waits (up to 1 s after t0) for the lease to say its binding ended, and reads why. */
static void lease_end(int lease, long long t0, struct svm_event *e)
{
	struct pollfd pfd = {.fd = lease, .events = POLLIN};
	int n = poll(&pfd, 1, 1000);
	long long took = now_ms() - t0;

	cr_assert_eq(n, 1, "the lease said nothing in %lld ms", took);
	cr_assert(pfd.revents & POLLIN);
	cr_assert_eq(svm_lease_read_end(lease, e), 0);
	cr_assert_lt(took, 1000, "took %lld ms", took);
	cr_assert_eq(e->type, SVM_EVENT_BINDING_ENDED);
}

/* svmd's fds go back to what they were (a closing fd may take a loop iteration). */
static void expect_fds(int base)
{
	int now = -1;

	for (int t = 0; t < 200 && now != base; t++) {
		now = daemon_fd_count(&ev);
		if (now != base)
			usleep(10000);
	}
	cr_assert_eq(now, base, "svmd holds %d fds, had %d", now, base);
}

Test(events, lease_holder_hears_unbind)
{
	struct peer p;
	struct peer_result r;
	struct svm_client *root;
	struct svm_event e;
	uint64_t id;

	peer_start(&p, &ev, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_count(&p, &r), 0);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	int base = daemon_fd_count(&ev);
	int lease = leased_binding(&p, 150, &id);
	/* Alive: nothing to read, and poll says so. */
	cr_assert_eq(svm_lease_read_end(lease, &e), -EAGAIN);
	cr_assert_eq(poll(&(struct pollfd){.fd = lease, .events = POLLIN}, 1, 0), 0);
	long long t0 = now_ms();
	cr_assert_eq(svm_unbind(root, id), 0, "%s", svm_reason(root));
	lease_end(lease, t0, &e);
	cr_assert_eq(e.binding, id);
	cr_assert_eq(e.reason, SVM_END_UNBIND);
	cr_assert_eq(e.by_uid, 0);
	cr_assert_str_eq(e.text, "unbound by uid 0");
	/* Said once; then the lease is at its end. */
	cr_assert_eq(svm_lease_read_end(lease, &e), -ENODATA);
	close(lease);
	expect_fds(base);
	svm_disconnect(root);
	peer_stop(&p);
}

Test(events, lease_holder_hears_a_revoking_reload)
{
	struct peer p;
	struct svm_client *root;
	struct svm_reload_result rr;
	struct svm_event e;
	uint64_t id;

	peer_start(&p, &ev, u1.uid, u1.gid, 0);
	int lease = leased_binding(&p, 151, &id);
	/* Its owner's session is gone: the lease alone keeps it, and alone hears of its end. */
	peer_stop(&p);
	cr_assert_eq(count_bindings(&ev), 1);
	daemon_write_policy(&ev, "10-revoke.policy",
			    "deny bind-pgtable user=svmd-test1 device=0000:3b:00.0 revoke\n");
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	long long t0 = now_ms();
	cr_assert_eq(svm_reload(root, &rr, NULL), 0, "%s", svm_reason(root));
	cr_assert_eq(rr.n_revoked, 1);
	lease_end(lease, t0, &e);
	cr_assert_eq(e.binding, id);
	cr_assert_eq(e.reason, SVM_END_REVOKED);
	cr_assert_eq(e.generation, 2);
	cr_assert_str_eq(e.text, "revoked by policy generation 2");
	close(lease);
	svm_disconnect(root);
}

Test(events, lease_holder_hears_svmd_stop)
{
	struct peer p;
	struct svm_event e;
	uint64_t id;

	peer_start(&p, &ev, u1.uid, u1.gid, 0);
	int lease = leased_binding(&p, 152, &id);
	long long t0 = now_ms();
	kill(ev.pid, SIGTERM);
	lease_end(lease, t0, &e);
	cr_assert_eq(e.binding, id);
	cr_assert_eq(e.reason, SVM_END_SHUTDOWN);
	cr_assert_str_eq(e.text, "svmd shutting down");
	daemon_reap(&ev);
	close(lease);
	peer_stop(&p);
}

Test(events, lease_holder_hears_the_bound_process_exit)
{
	struct peer p;
	struct peer_result r;
	struct svm_event e;

	peer_start(&p, &ev, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_count(&p, &r), 0);
	int base = daemon_fd_count(&ev);
	cr_assert_eq(peer_spawn_sleeper(&p, &r), 0);
	int pidfd = r.fd;
	pid_t sleeper = (pid_t)r.id;
	cr_assert_eq(peer_bind_task(&p, "0000:3c:00.0", pidfd, 0, &r), 0, "%s", r.reason);
	uint64_t id = r.id;
	cr_assert_eq(peer_lease(&p, id, &r), 0, "%s", r.reason);
	int lease = r.fd;
	long long t0 = now_ms();
	kill(sleeper, SIGKILL);
	lease_end(lease, t0, &e);
	cr_assert_eq(e.binding, id);
	cr_assert_eq(e.reason, SVM_END_PROCESS);
	cr_assert_str_eq(e.text, "bound process exited");
	close(lease);
	close(pidfd);
	expect_fds(base);
	peer_stop(&p);
}

/* A holder that writes into its lease as fast as it can (big records, empty ones, its own
 * lease fd in flight) does not end its binding, slow svmd for others, or keep an fd in svmd. */
Test(events, a_lease_holder_flooding_its_lease_hurts_no_one)
{
	struct peer p, q;
	struct peer_result r;
	struct svm_event e;
	uint64_t id;

	peer_start(&p, &ev, u1.uid, u1.gid, 0);
	peer_start(&q, &ev, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_count(&p, &r), 0);
	cr_assert_eq(peer_count(&q, &r), 0);
	int base = daemon_fd_count(&ev);
	int lease = leased_binding(&p, 153, &id);
	pid_t flooder = fork();
	cr_assert_geq(flooder, 0);
	if (flooder == 0) {
		static char big[4000];
		long long end = now_ms() + 1500;
		while (now_ms() < end) {
			(void)!send(lease, big, sizeof(big), MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)!send(lease, big, 0, MSG_DONTWAIT | MSG_NOSIGNAL);
			char cbuf[CMSG_SPACE(sizeof(int))] = {0};
			struct iovec iov = {.iov_base = big, .iov_len = 1};
			struct msghdr m = {.msg_iov = &iov,
					   .msg_iovlen = 1,
					   .msg_control = cbuf,
					   .msg_controllen = sizeof(cbuf)};
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &lease, sizeof(int));
			(void)!sendmsg(lease, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		_exit(0);
	}
	/* Meanwhile another user's requests are answered as ever. */
	long long worst = 0, t_end = now_ms() + 1200;
	int n = 0;
	while (now_ms() < t_end) {
		long long t0 = now_ms();
		cr_assert_eq(peer_count(&q, &r), 0);
		long long took = now_ms() - t0;
		worst = took > worst ? took : worst;
		n++;
	}
	cr_assert_lt(worst, 250, "a request took %lld ms while a holder flooded its lease", worst);
	cr_assert_gt(n, 20, "only %d requests in 1.2 s", n);
	int status;
	cr_assert_eq(waitpid(flooder, &status, 0), flooder);
	/* The binding lives (an empty record is no EOF); what the holder wrote never comes back. */
	cr_assert_eq(count_bindings(&ev), 1);
	cr_assert_eq(svm_lease_read_end(lease, &e), -EAGAIN);
	/* The last copy closes, also the one it sent into the lease: the binding ends. */
	close(lease);
	cr_assert(wait_bindings(&ev, 0, 2000), "the flooded lease did not end when closed");
	cr_assert(daemon_log_wait(&ev, "REASON=\"lease closed\"", 2000));
	expect_fds(base);
	peer_stop(&q);
	peer_stop(&p);
}

/* Not a lease of this kind (an older svmd's pipe), or no fd: said, not misread. */
Test(events, lease_read_end_refuses_what_is_no_lease)
{
	struct svm_event e;
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(svm_lease_read_end(p[1], &e), -EOPNOTSUPP);
	cr_assert_eq(svm_lease_read_end(-1, &e), -EINVAL);
	close(p[0]);
	close(p[1]);
	/* A socket whose peer is not svmd: its record is refused by the codec. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p), 0);
	cr_assert_eq(write(p[0], "not svmd's record", 17), 17);
	cr_assert_eq(svm_lease_read_end(p[1], &e), -EPROTO);
	/* Framed, but what the codec refuses: an unknown reason; by_uid with a revocation; another
	 * event; a record longer than any. */
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX + 64], payload[SVMD_PAYLOAD_MAX];
	struct svmd_ev_binding_ended bad[] = {
		{.id = 3, .reason = 99},
		{.id = 3, .reason = SVMD_END_REVOKED, .by_uid = 5},
	};
	for (size_t i = 0; i < 2; i++) {
		memcpy(payload, &bad[i], sizeof(bad[i]));
		memcpy(payload + sizeof(bad[i]), "x", 2);
		int n = svmd_frame(rec, SVMD_EV_BINDING_ENDED, 0, payload, sizeof(bad[i]) + 2);
		cr_assert_eq(write(p[0], rec, (size_t)n), n);
		cr_assert_eq(svm_lease_read_end(p[1], &e), -EPROTO, "case %zu", i);
	}
	struct svmd_ev_record other = {.event = SVMD_RECORD_RELOAD, .generation = 2};
	memcpy(payload, &other, sizeof(other));
	memcpy(payload + sizeof(other), "x", 2);
	int n = svmd_frame(rec, SVMD_EV_RECORD, 0, payload, sizeof(other) + 2);
	cr_assert_eq(write(p[0], rec, (size_t)n), n);
	cr_assert_eq(svm_lease_read_end(p[1], &e), -EPROTO);
	memset(rec, 'a', sizeof(rec));
	cr_assert_eq(write(p[0], rec, sizeof(rec)), (ssize_t)sizeof(rec));
	cr_assert_eq(svm_lease_read_end(p[1], &e), -EPROTO);
	/* A good one, with a text longer than svmd writes: cut, still a string. */
	struct svmd_ev_binding_ended good = {.id = 4, .reason = SVMD_END_UNBIND, .by_uid = 7};
	memcpy(payload, &good, sizeof(good));
	memset(payload + sizeof(good), 'w', 1000);
	payload[sizeof(good) + 1000] = 0;
	n = svmd_frame(rec, SVMD_EV_BINDING_ENDED, 0, payload, sizeof(good) + 1001);
	cr_assert_eq(write(p[0], rec, (size_t)n), n);
	cr_assert_eq(svm_lease_read_end(p[1], &e), 0);
	cr_assert_eq(e.binding, 4);
	cr_assert_eq(e.by_uid, 7);
	cr_assert_eq(strlen(e.text), 255);
	close(p[0]);
	cr_assert_eq(svm_lease_read_end(p[1], &e), -ENODATA);
	close(p[1]);
}

/* check-json.py KIND on svmctl's output: short (--json=short's, or NULL), pretty
 * (--json=pretty's, or NULL); with both, they must be the same documents. */
static void expect_json(const char *kind, const char *short_text, const char *pretty_text)
{
	const char *texts[2] = {short_text, pretty_text}, *flags[2] = {"--short", "--pretty"};
	char paths[2][32], out[1024], err[8192];
	const char *argv[8] = {"/usr/bin/python3", build_path("../tests/integration/check-json.py"),
			       kind};
	int n = 3;

	for (int i = 0; i < 2; i++) {
		if (!texts[i])
			continue;
		snprintf(paths[i], sizeof(paths[i]), "/tmp/svmd-json-XXXXXX");
		int fd = mkstemp(paths[i]);
		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, texts[i], strlen(texts[i])), (ssize_t)strlen(texts[i]));
		close(fd);
		argv[n++] = flags[i];
		argv[n++] = paths[i];
	}
	argv[n] = NULL;
	int rc = run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err));
	for (int i = 0; i < 2; i++)
		if (texts[i])
			unlink(paths[i]);
	cr_assert_eq(rc, 0, "not the documented %s: %s", kind, err);
}

/* With --json, -- CMD says at the end how the binding was taken away (svmd's reason, and
 * CMD's own end after the SIGTERM), after CMD is done: CMD's output is never interleaved. */
Test(events, command_json_says_why_it_was_taken_away)
{
	struct bg_cmd h;
	struct svm_client *root;
	struct svm_reload_result rr;
	const char *cmd = "trap 'echo got-TERM >&2; exit 3' TERM; echo started >&2; "
			  "while :; do sleep 0.05; done";
	const char *argv[] = {build_path("svmctl"),
			      ev_socket(),
			      "--json",
			      "bind-pgtable",
			      "0000:3b:00.0",
			      "--pasid=154",
			      "--pgd=0x7f000",
			      "--addr-width=48",
			      "--",
			      "/bin/sh",
			      "-c",
			      cmd,
			      NULL};

	bg_start(&h, u1.uid, u1.gid, argv, NULL);
	cr_assert(bg_wait_output(&h, true, "started", 5000), "%s", h.errbuf);
	cr_assert_eq(svm_connect(ev.socket, &root), 0);
	long long t0 = now_ms();
	cr_assert_eq(svm_unbind(root, 1), 0, "%s", svm_reason(root));
	expect_taken(&h, t0, "svmctl: binding 1 is gone: unbound by uid 0.");
	cr_assert(strstr(h.errbuf, "got-TERM"), "%s", h.errbuf);
	cr_assert_str_eq(h.outbuf,
			 "{\"id\":1,\"pasid\":154,\"device\":\"0000:3b:00.0\"}\n"
			 "{\"id\":1,\"ended\":\"unbind\",\"reason\":\"unbound by uid 0\","
			 "\"by_uid\":0,\"generation\":null,\"exit_status\":3,\"signal\":null}\n");
	expect_json("held", h.outbuf, NULL);
	bg_stop(&h);

	/* Revoked by a reload, told in the pretty form. */
	argv[2] = "--json=pretty";
	bg_start(&h, u1.uid, u1.gid, argv, NULL);
	cr_assert(bg_wait_output(&h, true, "started", 5000), "%s", h.errbuf);
	daemon_write_policy(&ev, "10-revoke.policy",
			    "deny bind-pgtable user=svmd-test1 device=0000:3b:00.0 revoke\n");
	t0 = now_ms();
	cr_assert_eq(svm_reload(root, &rr, NULL), 0, "%s", svm_reason(root));
	cr_assert_eq(rr.n_revoked, 1);
	expect_taken(&h, t0, "revoked by policy generation 2.");
	cr_assert(strstr(h.outbuf, "\"ended\": \"revoked\",\n"), "%s", h.outbuf);
	cr_assert(strstr(h.outbuf, "\"generation\": 2,\n"), "%s", h.outbuf);
	cr_assert(strstr(h.outbuf, "\"exit_status\": 3,\n"), "%s", h.outbuf);
	expect_json("held", NULL, h.outbuf);
	svm_disconnect(root);
	bg_stop(&h);
}

/* --hold with --json: the same end object, when svmd stops. */
Test(events, hold_json_says_svmd_stopped)
{
	struct bg_cmd h;
	const char *argv[] = {build_path("svmctl"),
			      ev_socket(),
			      "--json",
			      "bind-pgtable",
			      "0000:3b:00.0",
			      "--pasid=155",
			      "--pgd=0x7f000",
			      "--addr-width=48",
			      "--hold",
			      NULL};

	bg_start(&h, u1.uid, u1.gid, argv, NULL);
	cr_assert(bg_wait_output(&h, false, "\"pasid\":155", 5000), "%s", h.errbuf);
	long long t0 = now_ms();
	kill(ev.pid, SIGTERM);
	expect_taken(&h, t0, "svmd shutting down.");
	cr_assert(strstr(h.outbuf, "\"ended\":\"shutdown\",\"reason\":\"svmd shutting down\","
				   "\"by_uid\":null,\"generation\":null,\"exit_status\":null,"
				   "\"signal\":null}\n"),
		  "%s", h.outbuf);
	expect_json("held", h.outbuf, NULL);
	daemon_reap(&ev);
	bg_stop(&h);
}

/* svmd itself takes lspci's form and upper case for a device, and answers a name that is no PCI
 * address with an error reply: the connection stays usable. */
Test(socket, device_names_svmd_canonicalises_or_answers)
{
	int fd = raw_connect(&d);
	struct svmd_devices_req dev = {0};
	static const char *const bad[] = {"zz", "3b:00", "0000:3b:20.0", "3b-00.0", "ZZ:00.0"};

	raw_hello(fd);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct svmd_bind_pgtable_req req = {.pasid = 150,
						    .addr_width = 48,
						    .gpgd = 0x10000,
						    .format = SVMD_PGTABLE_FORMAT_VTD};
		_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
		int fds[SVMD_FDS_MAX];
		size_t n_fds = 0;
		struct svmd_hdr h;
		int32_t st;

		cr_assert_eq(svmd_set_name(req.device, sizeof(req.device), bad[i]), 0);
		raw_send(fd, SVMD_OP_BIND_PGTABLE, &req, sizeof(req), NULL, 0);
		ssize_t n = svmd_recv(fd, rec, fds, &n_fds, 0);
		cr_assert_gt(n, 0, "'%s': no reply: the connection was dropped", bad[i]);
		cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
		memcpy(&st, rec + sizeof(h), sizeof(st));
		cr_assert_eq(st, -EINVAL, "'%s': %d", bad[i], st);
		const char *why = svmd_reply_reason(rec + sizeof(h), h.len);
		cr_assert(why && strstr(why, "is not a PCI address"), "'%s': %s", bad[i],
			  why ? why : "(none)");
		/* Still served. */
		raw_send(fd, SVMD_OP_DEVICES, &dev, sizeof(dev), NULL, 0);
		cr_assert_eq(raw_status(fd, SVMD_OP_DEVICES), 0);
	}
	close(fd);

	/* A raw client naming the device as lspci prints it, in upper case: the same device. */
	fd = raw_connect(&d);
	raw_hello(fd);
	struct svmd_bind_pgtable_req req = {
		.pasid = 150, .addr_width = 48, .gpgd = 0x10000, .format = SVMD_PGTABLE_FORMAT_VTD};
	cr_assert_eq(svmd_set_name(req.device, sizeof(req.device), "3B:00.0"), 0);
	raw_send(fd, SVMD_OP_BIND_PGTABLE, &req, sizeof(req), NULL, 0);
	/* root has no bind-pgtable rule: denied, which shows the device was found. */
	int32_t st = raw_status(fd, SVMD_OP_BIND_PGTABLE);
	cr_assert_eq(st, -EACCES, "%d", st);
	close(fd);
}

/* A command given the wrong number of arguments says how many it takes, as a count a user can
 * read (the commands with a range of them included). */
Test(socket, svmctl_says_how_many_arguments_a_command_takes)
{
	static const struct {
		const char *cmd, *said;
	} cases[] = {
		{"unbind", "unbind takes 1 argument."},
		{"explain", "explain takes 1 to 2 arguments."},
		{"invalidate", "invalidate takes 1 to 17 arguments."},
	};
	char out[4096], err[4096];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[] = {build_path("svmctl"), "--socket", d.socket, cases[i].cmd,
				      NULL};
		cr_assert_eq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 1);
		cr_assert(strstr(err, cases[i].said), "%s: %s", cases[i].cmd, err);
		cr_assert_null(strstr(err, "takes -"), "%s: %s", cases[i].cmd, err);
	}
}

/* svmctl and libsvmclient: lspci's short form works; anything else is a clear error. */
Test(socket, svmctl_takes_lspci_device_names)
{
	char out[4096], err[4096];
	const char *short_form[] = {build_path("svmctl"),
				    "--socket",
				    d.socket,
				    "bind-task",
				    "3B:00.0",
				    "--",
				    "sh",
				    "-c",
				    "echo dev=$SVMD_DEVICE",
				    NULL};

	cr_assert_eq(run_cmd(u1.uid, u1.gid, short_form, out, sizeof(out), err, sizeof(err)), 0,
		     "%s", err);
	cr_assert(strstr(out, "dev=0000:3b:00.0"), "%s", out);
	const char *bad[] = {
		build_path("svmctl"), "--socket", d.socket, "bind-task", "zz", "--", "true", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, bad, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "'zz' is not a PCI address"), "%s", err);
	const char *spaced[] = {build_path("svmctl"),
				"--socket",
				d.socket,
				"bind-task",
				"3b 00.0",
				"--",
				"true",
				NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, spaced, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "'3b 00.0' is not a PCI address"), "%s", err);

	/* The library: one connection, a bad name, then a good call on it. */
	struct svm_client *c = NULL;
	struct svm_device *devs = NULL;
	size_t n = 0;
	uint64_t id;
	struct svm_pgtable pg = {.pasid = 150, .addr_width = 48, .gpgd = 0x10000};
	cr_assert_eq(svm_connect(d.socket, &c), 0);
	cr_assert_eq(svm_bind_pgtable(c, "zz", &pg, &id), -EINVAL);
	cr_assert(svm_reason(c) && strstr(svm_reason(c), "not a PCI address"));
	cr_assert_eq(svm_bind_pgtable(c, "0123456789abcdefgh", &pg, &id), -EINVAL);
	cr_assert(svm_reason(c) && strstr(svm_reason(c), "not a PCI address"));
	cr_assert_eq(svm_devices(c, &devs, &n), 0, "the connection is still usable");
	cr_assert_gt(n, 0);
	free(devs);
	svm_disconnect(c);
}

/* A socket the caller may not open is a file-mode problem, not a policy denial: exit 1. */
Test(socket, svmctl_connect_permission_is_not_a_denial)
{
	char dir[] = "/tmp/svmd-perm.XXXXXX", link[160], arg[200], out[4096], err[4096];

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0700), 0);
	snprintf(link, sizeof(link), "%s/s", dir);
	cr_assert_eq(symlink(d.socket, link), 0);
	snprintf(arg, sizeof(arg), "--socket=%s", link);
	const char *argv[] = {build_path("svmctl"), arg, "devices", NULL};
	int rc = run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err));
	unlink(link);
	rmdir(dir);
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "permission denied on the socket"), "%s", err);
	cr_assert_null(strstr(err, "svmctl: denied"), "%s", err);
	cr_assert_null(strstr(err, "by policy"), "%s", err);
}

/* explain's exit status is its verdict (pkcheck); a denied reload says what it needs. */
Test(socket, svmctl_explain_exit_status_and_reload_denial)
{
	char out[4096], err[4096];
	const char *deny[] = {build_path("svmctl"), "--socket",     d.socket, "explain",
			      "bind-task",          "0000:3b:00.0", NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, deny, out, sizeof(out), err, sizeof(err)), 77, "%s",
		     err);
	cr_assert(strstr(out, "verdict: deny"), "%s", out);
	const char *allow[] = {build_path("svmctl"), "--socket", d.socket, "explain",
			       "bind-task",          "3b:00.0",  NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, allow, out, sizeof(out), err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(strstr(out, "verdict: allow"), "%s", out);
	const char *reload[] = {build_path("svmctl"), "--socket", d.socket, "reload", NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, reload, out, sizeof(out), err, sizeof(err)), 77);
	cr_assert(strstr(err, "needs root or an 'allow reload' rule"), "%s", err);
	/* Another user's verdict is root's to ask: the message says so, and it is no verdict. */
	char uid_arg[32];
	snprintf(uid_arg, sizeof(uid_arg), "--user=%u", (unsigned)u1.uid);
	const char *other[] = {build_path("svmctl"), "--socket",     d.socket, "explain",
			       "bind-task",          "0000:3b:00.0", uid_arg,  NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, other, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "only root may explain for another user"), "%s", err);
	cr_assert(strstr(err, "svmd-test1"), "names the user asked about: %s", err);
}

/* explain invalidate: on a binding's device and PASID; '*' does not name it; no page-table
 * options (refused before svmd sees them: it would drop the connection). */
Test(socket, svmctl_explain_invalidate)
{
	char out[4096], err[4096];
	const char *inv[] = {build_path("svmctl"), "--socket", d.socket,      "explain",
			     "invalidate",         "3b:00.0",  "--pasid=150", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, inv, out, sizeof(out), err, sizeof(err)), 77, "%s",
		     err);
	cr_assert(strstr(out, "invalidate on 0000:3b:00.0 (PASID 150) for uid "), "%s", out);
	cr_assert(strstr(out, "verdict: deny (no rule matched: default deny)"), "%s", out);
	const char *width[] = {build_path("svmctl"), "--socket", d.socket,          "explain",
			       "invalidate",         "3b:00.0",  "--addr-width=48", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, width, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "no addr-width or vtd-flags"), "%s", err);
}

Test(socket, svmctl_option_errors)
{
	char out[4096], err[4096];
	const char *pasid[] = {build_path("svmctl"), "bind-task", "3b:00.0",
			       "--pasid=0x100000",   "--hold",    NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, pasid, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "--pasid takes a PASID from 1 to 1048575 (0xfffff"), "%s", err);
	const char *v[] = {build_path("svmctl"), "-V", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, v, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert(strncmp(out, "svmctl ", 7) == 0, "%s", out);
}

Test(startup, check_policy_warns_about_what_it_did_not_read)
{
	char dir[] = "/tmp/svmd-cp.XXXXXX", arg[128], arg2[160], out[4096], err[4096];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(arg, sizeof(arg), "--policy-dir=%s", dir);
	snprintf(arg2, sizeof(arg2), "--policy-dir=%s/nonesuch", dir);
	const char *argv[] = {build_path("svmd"), "--check-policy", arg, arg2, NULL};
	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, "/nonesuch: warning: no such policy directory"), "%s", err);
	cr_assert(strstr(err, "warning: the policy has no rules"), "%s", err);
	cr_assert(strstr(err, "0 rules from 0 files, 0 errors, 2 warnings"), "%s", err);
	rmdir(dir);
}

Test(startup, options_are_checked_before_the_policy_and_the_sink_is_named)
{
	char dir[] = "/tmp/svmd-cp.XXXXXX", path[160], arg[128], sock[160], out[4096], err[4096];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/10-bad.policy", dir);
	FILE *f = fopen(path, "w");
	fputs("allow bind-task usr=root\n", f);
	fclose(f);
	snprintf(arg, sizeof(arg), "--policy-dir=%s", dir);
	snprintf(sock, sizeof(sock), "--socket=%s/s.sock", dir);
	const char *start[] = {build_path("svmd"), "--backend=sim", "--device=zz", arg, sock, NULL};
	cr_assert_eq(run_cmd(0, 0, start, out, sizeof(out), err, sizeof(err)), 1);
	cr_assert(strstr(err, "'zz' is not a PCI address"), "%s", err);
	cr_assert_null(strstr(err, "usr"), "the policy was read before the options: %s", err);

	/* No journal here: asked for, svmd says where the records go instead. */
	cr_assert_neq(access("/run/systemd/journal/socket", F_OK), 0, "this test needs no journal");
	f = fopen(path, "w");
	fputs("allow bind-task user=root pasid=auto\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);

	struct daemon j;
	const char *journal[] = {"--audit=journal", NULL};
	daemon_start(&j, "allow bind-task user=root pasid=auto\n", NULL, journal);
	cr_assert(daemon_log_has(&j, "--audit=journal, but the journal is not running "
				     "(/run/systemd/journal/socket is not there): audit records "
				     "go to stderr."));
	struct peer p;
	struct peer_result r;
	peer_start(&p, &j, 0, 0, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	peer_stop(&p);
	cr_assert(daemon_log_wait(&j, "EVENT=grant", 2000), "the record was not dropped");
	daemon_stop(&j);
}

/* Runs svmctl --json=FORM ARGS as uid, form "short", "pretty" or "both" (each once, in that
 * order: a command that changes nothing), and checks stdout against the documented schema of
 * kind (both: and that the two are the same documents); returns svmctl's exit status, which
 * must be the same in both forms. */
static int json_form(uid_t uid, gid_t gid, const char *kind, const char *args, const char *form)
{
	char script[4096], out[8192], err[8192], cmd[1024], check[512];
	bool both = strcmp(form, "both") == 0;

	snprintf(cmd, sizeof(cmd), "%s --socket=%s", build_path("svmctl"), d.socket);
	snprintf(check, sizeof(check), "python3 %s %s",
		 build_path("../tests/integration/check-json.py"), kind);
	if (both)
		snprintf(script, sizeof(script),
			 "S=/tmp/svmctl-json.$$.short P=/tmp/svmctl-json.$$.pretty; "
			 "%s --json=short %s >$S 2>/dev/null; rc=$?; "
			 "%s --json=pretty %s >$P 2>/dev/null; [ $? = $rc ] || rc=98; "
			 "%s --short $S --pretty $P >&2 || rc=99; rm -f $S $P; exit $rc",
			 cmd, args, cmd, args, check);
	else
		snprintf(script, sizeof(script),
			 "F=/tmp/svmctl-json.$$; %s --json=%s %s >$F 2>/dev/null; rc=$?; "
			 "%s --%s $F >&2 || rc=99; rm -f $F; exit $rc",
			 cmd, form, args, check, form);
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	int rc = run_cmd(uid, gid, argv, out, sizeof(out), err, sizeof(err));
	cr_assert_neq(rc, 98, "svmctl --json=short and --json=pretty %s exit differently", args);
	cr_assert_neq(rc, 99, "svmctl --json=%s %s: not the documented %s object: %s",
		      both ? "short|pretty" : form, args, kind, err);
	return rc;
}

static int json_run(uid_t uid, gid_t gid, const char *kind, const char *args)
{
	return json_form(uid, gid, kind, args, "both");
}

/* Every command's --json, errors included, parses (python3's json) and has the documented
 * keys and types (svmctl(1), JSON OUTPUT); exit statuses are the same as without --json. */
Test(socket, svmctl_json_matches_the_documented_schemas)
{
	struct peer p;
	struct peer_result r;
	char args[128];

	cr_assert_eq(json_run(u1.uid, u1.gid, "list", "list"), 0);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(json_run(u1.uid, u1.gid, "devices", "devices"), 0);
	cr_assert_eq(json_run(u1.uid, u1.gid, "list", "list"), 0);
	cr_assert_eq(json_run(0, 0, "list", "list"), 0);
	cr_assert_eq(json_run(u1.uid, u1.gid, "status", "status"), 0);
	snprintf(args, sizeof(args), "show %" PRIu64, r.id);
	cr_assert_eq(json_run(u1.uid, u1.gid, "show", args), 0);
	cr_assert_eq(json_run(0, 0, "policy", "policy"), 0);
	cr_assert_eq(json_run(u1.uid, u1.gid, "explain", "explain bind-task 3b:00.0"), 0);
	/* --hold and -- CMD: the binding, then how it ended; CMD's status is svmctl's. */
	cr_assert_eq(json_run(u1.uid, u1.gid, "held",
			      "bind-pgtable 3b:00.0 --pasid=151 --pgd=0x7f000 --addr-width=48 "
			      "-- sh -c 'echo $SVMD_PASID >&2; exit 3'"),
		     3);
	cr_assert_eq(json_run(u1.uid, u1.gid, "held",
			      "bind-pgtable 3b:00.0 --pasid=151 --pgd=0x7f000 --addr-width=48 "
			      "-- sh -c 'kill -KILL $$'"),
		     128 + SIGKILL);
	cr_assert_eq(json_run(u2.uid, u2.gid, "explain", "explain bind-task 3b:00.0"), 77);
	/* What changes something runs once in each form. */
	cr_assert_eq(json_form(0, 0, "reload", "reload", "short"), 0);
	cr_assert_eq(json_form(0, 0, "reload", "reload", "pretty"), 0);
	snprintf(args, sizeof(args), "unbind %" PRIu64, r.id);
	cr_assert_eq(json_form(0, 0, "unbind", args, "pretty"), 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	snprintf(args, sizeof(args), "unbind %" PRIu64, r.id);
	cr_assert_eq(json_form(0, 0, "unbind", args, "short"), 0);
	peer_stop(&p);

	/* Errors: one object, the same exit status. */
	cr_assert_eq(json_run(u1.uid, u1.gid, "error", "bind-task zz -- true"), 1);
	cr_assert_eq(json_run(u2.uid, u2.gid, "error", "bind-task 3b:00.0 -- true"), 77);
	cr_assert_eq(json_run(u2.uid, u2.gid, "error", "policy"), 77);
	cr_assert_eq(json_run(u2.uid, u2.gid, "error", "reload"), 77);
	cr_assert_eq(json_run(u1.uid, u1.gid, "error", "unbind 999999"), 1);
	cr_assert_eq(json_run(u1.uid, u1.gid, "error", "show 999999"), 1);
	snprintf(args, sizeof(args), "explain bind-task 3b:00.0 --user=%u", (unsigned)u1.uid);
	cr_assert_eq(json_run(u2.uid, u2.gid, "error", args), 1);
	/* metrics is OpenMetrics text in either form: --json=pretty leaves it alone. */
	char mout[16384], merr[512], msock[160];
	snprintf(msock, sizeof(msock), "--socket=%s", d.socket);
	const char *metrics[] = {build_path("svmctl"), msock, "--json=pretty", "metrics", NULL};
	cr_assert_eq(run_cmd(0, 0, metrics, mout, sizeof(mout), merr, sizeof(merr)), 0, "%s", merr);
	cr_assert(strstr(mout, "\nsvmd_grants_total{op=\"bind-pgtable\"} "), "%s", mout);
	cr_assert(strlen(mout) > 6 && strcmp(mout + strlen(mout) - 6, "# EOF\n") == 0, "%s", mout);
	/* --json takes short or pretty, nothing else: an argument error (exit 1, as every other),
	 * on stderr. */
	const char *bad[] = {build_path("svmctl"), "--json=long", "status", NULL};
	char bout[512], berr[512];
	cr_assert_eq(run_cmd(0, 0, bad, bout, sizeof(bout), berr, sizeof(berr)), 1);
	cr_assert_str_eq(bout, "");
	cr_assert(strstr(berr, "--json takes short or pretty, not 'long'"), "%s", berr);

	/* explain lists each rule it considered and why it did or did not match. */
	char xout[8192], xerr[2048], xsock[160];
	snprintf(xsock, sizeof(xsock), "--socket=%s", d.socket);
	const char *xp[] = {build_path("svmctl"), xsock,     "--json", "explain",
			    "bind-task",          "3b:00.0", NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, xp, xout, sizeof(xout), xerr, sizeof(xerr)), 77);
	cr_assert(strstr(xout, "/50-test.policy\",\"line\":6,\"rule\":\"deny * user=svmd-test2\","
			       "\"matched\":true,"),
		  "%s", xout);
	cr_assert(strstr(xout,
			 "\"line\":1,\"rule\":\"allow bind-task user=svmd-test1 "
			 "device=0000:3b:00.0 pasid=auto max=2\",\"matched\":false,\"why\":\"user"),
		  "%s", xout);

	/* CMD's own stdout comes between svmctl's two objects, byte for byte, in both forms. */
	const char *forms[] = {"--json=short", "--json=pretty"};
	for (size_t i = 0; i < 2; i++) {
		char cout[4096], cerr[2048], csock[160];
		snprintf(csock, sizeof(csock), "--socket=%s", d.socket);
		const char *cp[] = {build_path("svmctl"),
				    csock,
				    forms[i],
				    "bind-pgtable",
				    "3b:00.0",
				    "--pasid=152",
				    "--pgd=0x7f000",
				    "--addr-width=48",
				    "--",
				    "printf",
				    "{ raw, \"not\": [json\\n",
				    NULL};
		cr_assert_eq(run_cmd(u1.uid, u1.gid, cp, cout, sizeof(cout), cerr, sizeof(cerr)), 0,
			     "%s", cerr);
		const char *raw = strstr(cout, "}\n{ raw, \"not\": [json\n{");
		cr_assert(raw, "%s: CMD's output changed: %s", forms[i], cout);
		cr_assert(strstr(raw, "\"ended\""), "%s", cout);
	}

	/* The rule a denial names is its own field. */
	char out[4096], err[4096], sock[160];
	snprintf(sock, sizeof(sock), "--socket=%s", d.socket);
	const char *deny[] = {
		build_path("svmctl"), sock, "--json", "bind-task", "3b:00.0", "--", "true", NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, deny, out, sizeof(out), err, sizeof(err)), 77);
	cr_assert(strstr(out, "\"error\":\"EACCES\",\"errno\":13,"), "%s", out);
	cr_assert(strstr(out, "/50-test.policy:6\"}"), "%s", out);
	/* Text that is not UTF-8 (here a policy file's name) comes out escaped, and parses. */
	daemon_write_policy(&d, "60-\xff\xc3(.policy", "allow bind-task user=nobody\n");
	/* and quotes, backslashes and braces, which --json=pretty must leave inside the string */
	daemon_write_policy(&d, "61-\"{q}\\\",[x]:.policy", "allow bind-task user=nobody\n");
	const char *reload[] = {build_path("svmctl"), sock, "reload", NULL};
	cr_assert_eq(run_cmd(0, 0, reload, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(json_run(0, 0, "status", "status"), 0);
	cr_assert_eq(json_run(0, 0, "policy", "policy"), 0);
	const char *status[] = {build_path("svmctl"), sock, "--json", "status", NULL};
	cr_assert_eq(run_cmd(0, 0, status, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(out, "/60-\\u00ff\\u00c3(.policy\""), "%s", out);
	cr_assert(strstr(out, "/61-\\\"{q}\\\\\\\",[x]:.policy\""), "%s", out);
	daemon_remove_policy(&d, "60-\xff\xc3(.policy");
	daemon_remove_policy(&d, "61-\"{q}\\\",[x]:.policy");
}

/* bash completion: commands, options, the devices svmd manages, the caller's binding ids. */
static void complete(uid_t uid, gid_t gid, const char *words, char *out, size_t size)
{
	char script[2048], err[2048];

	snprintf(script, sizeof(script),
		 "PATH=%s:$PATH; . %s; COMP_WORDS=(svmctl --socket=%s %s); "
		 "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _svmctl; printf '%%s\\n' "
		 "\"${COMPREPLY[@]}\"",
		 dirname(strdupa(build_path("svmctl"))), build_path("../completion/svmctl.bash"),
		 d.socket, words);
	const char *argv[] = {"/bin/bash", "-c", script, NULL};
	cr_assert_eq(run_cmd(uid, gid, argv, out, size, err, sizeof(err)), 0, "%s", err);
}

Test(socket, bash_completion_asks_svmd)
{
	char out[4096], want[64];
	struct peer p;
	struct peer_result r;

	complete(u1.uid, u1.gid, "st", out, sizeof(out));
	cr_assert_str_eq(out, "status\n");
	complete(u1.uid, u1.gid, "bind-task ''", out, sizeof(out));
	cr_assert(strstr(out, "0000:3b:00.0\n") && strstr(out, "0000:af:00.0\n"), "%s", out);
	complete(u1.uid, u1.gid, "bind-task 0000:3b:00.0 --pa", out, sizeof(out));
	cr_assert_str_eq(out, "--pasid=\n");
	complete(u1.uid, u1.gid, "explain ''", out, sizeof(out));
	cr_assert(strstr(out, "bind-pgtable\n") && strstr(out, "reload\n"), "%s", out);
	complete(u1.uid, u1.gid, "inv", out, sizeof(out));
	cr_assert_str_eq(out, "invalidate\n");
	complete(u1.uid, u1.gid, "--json=p", out, sizeof(out));
	cr_assert_str_eq(out, "pretty\n");
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	complete(u1.uid, u1.gid, "unbind ''", out, sizeof(out));
	snprintf(want, sizeof(want), "%" PRIu64 "\n", r.id);
	cr_assert_str_eq(out, want);
	complete(u1.uid, u1.gid, "invalidate ''", out, sizeof(out));
	cr_assert_str_eq(out, want);
	complete(u2.uid, u2.gid, "unbind ''", out, sizeof(out));
	cr_assert_str_eq(out, "\n", "another user's binding offered: %s", out);
	complete(u1.uid, u1.gid, "show 1 -p Own", out, sizeof(out));
	cr_assert(strstr(out, "OwnerUID\n") && strstr(out, "OwnerUser\n"), "%s", out);
	peer_stop(&p);
}

/* zsh completion: completion/_svmctl in a real interactive zsh (compinit, _arguments, in a
 * pty: tests/completion/zsh-complete.zsh), what it offers after LINE<TAB>, a match a line. */
static void zcomplete(uid_t uid, gid_t gid, const char *line, char *out, size_t size)
{
	char path[4096], full[1024], err[2048];

	snprintf(path, sizeof(path), "PATH=%s:/usr/bin:/bin",
		 dirname(strdupa(build_path("svmctl"))));
	snprintf(full, sizeof(full), "svmctl %s", line);
	/* The socket goes where the line says: before the command, or after it. */
	char *at = strstr(full, "@S");
	if (at) {
		char rest[512];
		snprintf(rest, sizeof(rest), "%s", at + 2);
		snprintf(at, sizeof(full) - (size_t)(at - full), "--socket=%s%s", d.socket, rest);
	}
	const char *argv[] = {"/usr/bin/zsh",
			      "-f",
			      build_path("../tests/completion/zsh-complete.zsh"),
			      build_path("../completion"),
			      full,
			      NULL};
	const char *env[] = {path, NULL};
	cr_assert_eq(run_cmd_env(uid, gid, argv, env, out, size, err, sizeof(err)), 0, "%s: %s",
		     full, err);
}

Test(socket, zsh_completion_asks_svmd)
{
	char out[4096], want[64];
	struct peer p;
	struct peer_result r;

	cr_assert_eq(access("/usr/bin/zsh", X_OK), 0,
		     "no zsh: 'make deps' installs it (tests/install-deps.sh)");
	/* Commands, and options with their values. */
	zcomplete(u1.uid, u1.gid, "@S st", out, sizeof(out));
	cr_assert_str_eq(out, "status\n");
	zcomplete(u1.uid, u1.gid, "@S ", out, sizeof(out));
	cr_assert(strstr(out, "bind-pgtable\n") && strstr(out, "invalidate\n") &&
			  strstr(out, "reload\n"),
		  "%s", out);
	zcomplete(u1.uid, u1.gid, "@S --js", out, sizeof(out));
	cr_assert_str_eq(out, "--json\n");
	zcomplete(u1.uid, u1.gid, "--json=p", out, sizeof(out));
	cr_assert_str_eq(out, "pretty\n");
	zcomplete(u1.uid, u1.gid, "@S bind-task 0000:3b:00.0 --pa", out, sizeof(out));
	cr_assert_str_eq(out, "--pasid\n");
	zcomplete(u1.uid, u1.gid, "bind-pgtable 0000:3b:00.0 --addr-width=", out, sizeof(out));
	cr_assert_str_eq(out, "48\n57\n");
	/* The devices svmd manages, with the socket before the command or after it. */
	zcomplete(u1.uid, u1.gid, "@S bind-task ", out, sizeof(out));
	cr_assert(strstr(out, "0000:3b:00.0\n") && strstr(out, "0000:af:00.0\n"), "%s", out);
	zcomplete(u1.uid, u1.gid, "bind-task @S 0000:3c", out, sizeof(out));
	cr_assert_str_eq(out, "0000:3c:00.0\n");
	zcomplete(u1.uid, u1.gid, "@S explain bind-task 0000:3b", out, sizeof(out));
	cr_assert_str_eq(out, "0000:3b:00.0\n");
	/* After --, CMD's line: commands. */
	zcomplete(u1.uid, u1.gid, "@S bind-task 0000:3b:00.0 -- tru", out, sizeof(out));
	cr_assert(strstr(out, "true\n"), "%s", out);
	/* The caller's binding ids, not another user's. */
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	snprintf(want, sizeof(want), "%" PRIu64 "\n", r.id);
	zcomplete(u1.uid, u1.gid, "@S unbind ", out, sizeof(out));
	cr_assert_str_eq(out, want);
	zcomplete(u1.uid, u1.gid, "@S invalidate ", out, sizeof(out));
	cr_assert_str_eq(out, want);
	zcomplete(u2.uid, u2.gid, "@S unbind ", out, sizeof(out));
	cr_assert_str_eq(out, "", "another user's binding offered: %s", out);
	zcomplete(u1.uid, u1.gid, "@S show 1 -p Own", out, sizeof(out));
	cr_assert(strstr(out, "OwnerUID\n") && strstr(out, "OwnerUser\n"), "%s", out);
	peer_stop(&p);
}
