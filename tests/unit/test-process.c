/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Facts about processes (daemon/process.c) on real processes: what a pidfd names, whether it
 * lives, whose it is, whether a user could ptrace it (a set-id exec included), and its
 * executable and cgroup. Run as root (it switches children to another uid).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "process.h"

#define NOBODY 65534

static pid_t child = -1;

static void reap(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
}

TestSuite(process, .fini = reap);

/* A child that waits, optionally as another uid; returns its pidfd. */
static int spawn(uid_t uid)
{
	int ready[2];
	char c;

	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* Changing uid makes a process non-dumpable; one that exec'd as the user is not. */
		if (uid != getuid() &&
		    (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
		     prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0))
			_exit(1);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not start");
	close(ready[0]);
	int fd = pidfd_open_pid(child);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(process, pidfd_names_its_process_until_it_exits)
{
	int fd = spawn(getuid());

	cr_assert_eq(pidfd_get_pid(fd), child);
	cr_assert(pidfd_alive(fd));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	cr_assert_not(pidfd_alive(fd));
	cr_assert_eq(pidfd_get_pid(fd), -ESRCH);
	close(fd);
}

Test(process, a_pipe_is_no_pidfd)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pidfd_get_pid(p[0]), -EBADF);
	close(p[0]);
	close(p[1]);
}

Test(process, owned_by)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a child as another uid");
	int fd = spawn(NOBODY);

	cr_assert_eq(process_owned_by(fd, NOBODY), 0);
	cr_assert_eq(process_owned_by(fd, 0), -EPERM);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	cr_assert_eq(process_owned_by(fd, NOBODY), -ESRCH);
	close(fd);
}

static int may_ptrace(int fd, uid_t uid, gid_t gid, char *why, size_t whylen)
{
	/* As a caller other than the target (pid 1 is never a test's child). */
	return process_may_ptrace(fd, &(struct tracer){uid, gid, 1}, why, whylen);
}

Test(process, same_user)
{
	char why[160] = "";

	if (geteuid() != 0)
		cr_skip_test("needs root to run a child as another uid");
	int fd = spawn(NOBODY);

	cr_assert_eq(may_ptrace(fd, NOBODY, NOBODY, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(may_ptrace(fd, 1000, NOBODY, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "belongs to uid 65534"), "%s", why);
	close(fd);
}

/* The kernel lets a user ptrace its process only when the process runs with the user's gid. */
Test(process, another_group_is_not_the_callers)
{
	char why[160] = "";

	if (geteuid() != 0)
		cr_skip_test("needs root to run a child as another uid");
	int fd = spawn(NOBODY);

	cr_assert_eq(may_ptrace(fd, NOBODY, 100, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "runs as group 65534, not the caller's group 100"), "%s", why);
	close(fd);
}

/* prctl(PR_SET_DUMPABLE, 0), as ssh-agent does: the kernel refuses the user its /proc/PID/environ
 * and mem, so svmd must refuse to bind it for the user too (it is still the user's uid). */
Test(process, a_non_dumpable_process_is_not_reachable)
{
	char why[160] = "", c;
	int ready[2];

	if (geteuid() != 0)
		cr_skip_test("needs root to run a child as another uid");
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		if (setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not start");
	close(ready[0]);
	int fd = pidfd_open_pid(child);
	cr_assert_geq(fd, 0);
	cr_assert_eq(process_owned_by(fd, NOBODY), 0, "it still runs as the user");
	cr_assert_eq(may_ptrace(fd, NOBODY, NOBODY, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "is not dumpable"), "%s", why);
	/* The process itself may reach its own address space, dumpable or not. */
	cr_assert_eq(
		process_may_ptrace(fd, &(struct tracer){NOBODY, NOBODY, child}, why, sizeof(why)),
		0, "%s", why);
	close(fd);
}

/* A process of the user that exec'd a set-uid program is no longer theirs to bind. */
Test(process, a_setuid_exec_is_not_the_same_user)
{
	const char *prog = "/usr/bin/passwd";
	struct stat st;
	char why[160] = "";
	int in[2];

	if (geteuid() != 0)
		cr_skip_test("needs root to run a child as another uid");
	cr_assert_eq(stat(prog, &st), 0, "%s is missing", prog);
	cr_assert(st.st_mode & S_ISUID, "%s is not set-uid here", prog);
	cr_assert_eq(pipe2(in, 0), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* passwd asks for the current password and waits on stdin: a pipe nobody fills. */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(in[0], STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(1);
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	int fd = pidfd_open_pid(child);
	cr_assert_geq(fd, 0);
	/* Wait for the exec to have happened (the process runs passwd), not just the uid change
	 * before it, which makes the child non-dumpable too. */
	char *exe = NULL;
	for (int i = 0; i < 200; i++) {
		if (process_exe(fd, child, &exe) == 0 && strcmp(exe, prog) == 0)
			break;
		free(exe);
		exe = NULL;
		usleep(10000);
	}
	cr_assert_not_null(exe, "the child did not exec %s", prog);
	free(exe);
	int r = may_ptrace(fd, NOBODY, NOBODY, why, sizeof(why));
	cr_assert_eq(r, -EPERM, "a set-uid process counted as the user's own");
	/* passwd may make its real uid 0 as well: either way, not the user's. */
	cr_assert(strstr(why, "is set-uid (effective uid 0)") || strstr(why, "belongs to uid 0"),
		  "%s", why);
	cr_assert_eq(process_owned_by(fd, NOBODY), -EPERM);
	close(in[1]);
	close(fd);
}

Test(process, exe)
{
	char *exe = NULL, self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert_gt(n, 0);
	self[n] = 0;
	int fd = pidfd_open_pid(getpid());
	cr_assert_geq(fd, 0);
	cr_assert_eq(process_exe(fd, getpid(), &exe), 0);
	cr_assert_str_eq(exe, self);
	free(exe);
	close(fd);
	cr_assert_lt(process_exe(-1, 0x7ffffff0, &exe), 0);
}

Test(process, cgroup_of_this_process)
{
	char *cgroup = NULL;
	int fd = pidfd_open_pid(getpid());

	/* Whatever this machine's cgroups say, the answer is an absolute path. */
	cr_assert_eq(process_cgroup(fd, getpid(), &cgroup), 0);
	cr_assert_not_null(cgroup);
	cr_assert_eq(cgroup[0], '/', "%s", cgroup);
	free(cgroup);
	close(fd);
}

/* One read of status, confirmed against the pidfd: ids, parent, groups, dumpability. */
Test(process, read_this_process)
{
	struct process_status st;
	int fd = pidfd_open_pid(getpid());

	cr_assert_eq(process_read(fd, true, &st), 0);
	cr_assert_eq(st.pid, getpid());
	cr_assert_eq(st.ppid, getppid());
	cr_assert_eq(st.uids[0], getuid());
	cr_assert_eq(st.gids[1], getegid());
	cr_assert_eq((int)st.n_groups, getgroups(0, NULL));
	free(st.groups);
	close(fd);
}
