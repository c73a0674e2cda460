/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seccomp sandbox (daemon/sandbox.c), tried the way bubblewrap's try-syscall does: a child
 * enters the very filter svmd enters, then makes forbidden and allowed calls and reports what
 * each returned; its stderr shows what the SIGSYS handler logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sandbox.h"
#include "seed-abi.h"

/* What the child saw: one errno per attempt (0: it worked). */
struct attempts {
	int inet_socket;
	int unix_socket;
	int chroot;
	int mount;
	int setuid;
	int tiocsti;
	int fionread;
	int seed_bind; /* allowed by the filter: the kernel answers */
	int pipe2;
	int unix_pair; /* a lease's */
	int inet_pair;
	int enter;
};

static int err_of(long r)
{
	return r < 0 ? errno : 0;
}

/* Forks a child that enters the sandbox and tries everything; *ret gets its results and
 * log the child's stderr. */
static void try_all(struct attempts *ret, char *log, size_t size)
{
	int res[2], err[2];
	pid_t pid;
	int status;

	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		static const unsigned long ioctls[] = {SEED_VFIO_IOMMU_SVM_BIND};
		struct attempts a = {0};
		int p[2], n;

		dup2(err[1], STDERR_FILENO);
		a.enter = -sandbox_enter(ioctls, 1);
		a.inet_socket = err_of(socket(AF_INET, SOCK_STREAM, 0));
		int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		a.unix_socket = err_of(s);
		/* Harmless if it went through; not ptrace(), which sanitizer builds allow. */
		a.chroot = err_of(chroot("/"));
		a.mount = err_of(mount("none", "/mnt", "tmpfs", 0, NULL));
		a.setuid = err_of(setuid(0));
		a.pipe2 = err_of(pipe2(p, O_CLOEXEC));
		int sp[2];
		a.unix_pair = err_of(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp));
		a.inet_pair = err_of(socketpair(AF_INET, SOCK_STREAM, 0, sp));
		char c = 'x';
		a.tiocsti = err_of(ioctl(p[0], TIOCSTI, &c));
		a.fionread = err_of(ioctl(p[0], FIONREAD, &n));
		a.seed_bind = err_of(ioctl(p[0], SEED_VFIO_IOMMU_SVM_BIND, NULL));
		(void)!write(res[1], &a, sizeof(a));
		_exit(0);
	}
	close(res[1]);
	close(err[1]);
	cr_assert_eq(read(res[0], ret, sizeof(*ret)), (ssize_t)sizeof(*ret), "the child died");
	ssize_t n = read(err[0], log, size - 1);
	log[n > 0 ? n : 0] = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	close(res[0]);
	close(err[0]);
}

Test(sandbox, forbidden_calls_fail_with_eperm_and_are_logged)
{
	struct attempts a;
	char log[4096];

	try_all(&a, log, sizeof(log));
	cr_assert_eq(a.enter, 0, "sandbox_enter: %s", strerror(a.enter));
	cr_assert_eq(a.inet_socket, EPERM, "socket(AF_INET): %s", strerror(a.inet_socket));
	cr_assert_eq(a.chroot, EPERM);
	cr_assert_eq(a.mount, EPERM);
	cr_assert_eq(a.setuid, EPERM);
	/* The kernel would say EOPNOTSUPP: the filter's EPERM comes first. */
	cr_assert_eq(a.inet_pair, EPERM, "socketpair(AF_INET): %s", strerror(a.inet_pair));
	/* Logged, not silent: one line per refusal, naming the system call. */
	cr_assert(strstr(log, "svmd: seccomp: refused system call 41 (returned EPERM)"), "%s",
		  log); /* socket() with AF_INET: the argument filter */
	cr_assert(strstr(log, "refused system call 161 "), "%s", log); /* chroot */
	cr_assert(strstr(log, "refused system call 165 "), "%s", log); /* mount */
}

Test(sandbox, ioctl_is_limited_to_the_backends_requests)
{
	struct attempts a;
	char log[4096];

	try_all(&a, log, sizeof(log));
	/* Not on the list: refused by the filter, logged with its request number. */
	cr_assert_eq(a.tiocsti, EPERM);
	cr_assert(strstr(log, "svmd: seccomp: refused ioctl request 0x5412 (returned EPERM)"), "%s",
		  log);
	/* On the list: the filter lets them through, the kernel answers as it will. */
	cr_assert_eq(a.fionread, 0);
	cr_assert_eq(a.seed_bind, ENOTTY, "seed bind on a pipe: %s", strerror(a.seed_bind));
	cr_assert_null(strstr(log, "0x3b7a"), "%s", log);
}

Test(sandbox, what_serving_needs_still_works)
{
	struct attempts a;
	char log[4096];

	try_all(&a, log, sizeof(log));
	cr_assert_eq(a.unix_socket, 0, "socket(AF_UNIX): %s", strerror(a.unix_socket));
	cr_assert_eq(a.pipe2, 0);
	cr_assert_eq(a.unix_pair, 0, "socketpair(AF_UNIX): %s", strerror(a.unix_pair));
}

Test(sandbox, the_filter_prints)
{
	static const unsigned long ioctls[] = {SEED_VFIO_IOMMU_SVM_BIND};
	int fd[2];

	/* seccomp_export_pfc() writes to an fd: collect it through a pipe. */
	cr_assert_eq(pipe(fd), 0);
	FILE *w = fdopen(fd[1], "w");
	cr_assert_eq(sandbox_print(w, ioctls, 1), 0);
	fclose(w);
	char out[65536];
	ssize_t n = 0, k;
	while ((k = read(fd[0], out + n, sizeof(out) - 1 - (size_t)n)) > 0)
		n += k;
	out[n] = 0;
	close(fd[0]);
	cr_assert(strstr(out, "\"ioctl\""), "%s", out);
	cr_assert(strstr(out, "\"epoll_wait\""), "%s", out);
	cr_assert(strstr(out, "0x3b7a") || strstr(out, "15226"), "the backend's ioctl: %s", out);
	cr_assert_null(strstr(out, "\"chroot\""), "chroot allowed?");
#if !defined(__SANITIZE_ADDRESS__)
	/* Only the sanitizers' leak checker needs it, and only their builds allow it. */
	cr_assert_null(strstr(out, "\"ptrace\""), "ptrace allowed?");
#endif
}
