/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pidfd and /proc helpers: the one place svmd reads /proc about other processes. Every answer
 * about a pid is confirmed against its pidfd afterwards, so a pid reused in between cannot be
 * mistaken for the process the client meant.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "process.h"

pid_t pidfd_get_pid(int fd)
{
	char path[64], buf[1024];
	_cleanup_close_ int f = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -EBADF;
	n = read(f, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EBADF;
	buf[n] = 0;
	/* Only a pidfd's fdinfo has a "Pid:" line; it reads -1 once the process is gone. */
	const char *p = strstr(buf, "\nPid:\t");
	if (!p)
		return -EBADF;
	int pid;
	if (sscanf(p + 6, "%d", &pid) != 1)
		return -EBADF;
	return pid > 0 ? pid : -ESRCH;
}

bool pidfd_alive(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

int pidfd_open_pid(pid_t pid)
{
	/* pidfd_open() fds are always O_CLOEXEC. */
	long fd = syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : (int)fd;
}

static int parse_ids(const char *status, const char *key, unsigned ids[4])
{
	const char *p = strstr(status, key);

	if (!p || sscanf(p + strlen(key), "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
		return -EIO;
	return 0;
}

/* The numbers after key ("\nGroups:") in status, as gids. */
static int parse_groups(const char *status, gid_t **ret, size_t *ret_n)
{
	_cleanup_free_ gid_t *groups = NULL;
	const char *s = strstr(status, "\nGroups:");
	size_t n = 0;

	if (!s)
		return -EIO;
	for (s += strlen("\nGroups:");;) {
		char *end;
		s += strspn(s, " \t");
		if (*s < '0' || *s > '9')
			break;
		unsigned long v = strtoul(s, &end, 10);
		gid_t *grown = reallocarray(groups, n + 1, sizeof(gid_t));
		if (!grown)
			return -ENOMEM;
		groups = grown;
		groups[n++] = (gid_t)v;
		s = end;
	}
	*ret = TAKE_PTR(groups);
	*ret_n = n;
	return 0;
}

static int read_ppid(const char *status, pid_t *ret)
{
	const char *p = strstr(status, "\nPPid:");
	int v;

	if (!p || sscanf(p + 6, "%d", &v) != 1)
		return -EIO;
	*ret = v;
	return 0;
}

int process_read(int pidfd, bool groups, struct process_status *ret)
{
	struct process_status st = {0};
	char path[32], buf[4096];
	struct stat mem;
	ssize_t n;
	int r;

	st.pid = pidfd_get_pid(pidfd);
	if (st.pid < 0)
		return st.pid;
	snprintf(path, sizeof(path), "/proc/%d", st.pid);
	_cleanup_close_ int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	_cleanup_close_ int f = openat(dir, "status", O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(f, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	if (parse_ids(buf, "\nUid:", st.uids) < 0 || parse_ids(buf, "\nGid:", st.gids) < 0 ||
	    read_ppid(buf, &st.ppid) < 0 || fstatat(dir, "mem", &mem, 0) < 0)
		return -ESRCH;
	st.mem_owner = mem.st_uid;
	if (groups && (r = parse_groups(buf, &st.groups, &st.n_groups)) < 0)
		return r == -ENOMEM ? r : -ESRCH;
	/* The pid could have been reused before we opened /proc/PID: the pidfd says. */
	if (!pidfd_alive(pidfd)) {
		free(st.groups);
		return -ESRCH;
	}
	*ret = st;
	return 0;
}

int process_owned_by(int pidfd, uid_t uid)
{
	struct process_status p;
	int r = process_read(pidfd, false, &p);

	if (r < 0)
		return r;
	return p.uids[0] == uid && p.uids[1] == uid && p.uids[2] == uid ? 0 : -EPERM;
}

/* kernel.yama.ptrace_scope: 0 (or no Yama) classic, 1 descendants only, 2 admin only, 3 none. */
static int yama_scope(void)
{
	char buf[16] = "";
	_cleanup_close_ int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return 0;
	return atoi(buf);
}

/* Whether ancestor is pid's parent, grandparent, ... (a bounded walk up the PPid chain). */
static bool is_ancestor(pid_t ancestor, pid_t ppid)
{
	for (int depth = 0; ppid > 1 && depth < 256; depth++) {
		char path[48], buf[4096];
		ssize_t n;

		if (ppid == ancestor)
			return true;
		snprintf(path, sizeof(path), "/proc/%d/status", ppid);
		_cleanup_close_ int f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0 || (n = read(f, buf, sizeof(buf) - 1)) <= 0)
			return false;
		buf[n] = 0;
		if (read_ppid(buf, &ppid) < 0)
			return false;
	}
	return ppid == ancestor;
}

int process_may_ptrace(int pidfd, const struct tracer *by, char *why, size_t whylen)
{
	struct process_status p;
	int r = process_read(pidfd, false, &p), scope;
	pid_t pid = p.pid;
	const unsigned *uids = p.uids, *gids = p.gids;

	if (r < 0)
		return r;
	/* What the kernel's ptrace access check (__ptrace_may_access) asks of a caller without
	 * CAP_SYS_PTRACE: every uid of the target is the caller's uid and every gid its gid... */
	if (uids[0] != by->uid) {
		snprintf(why, whylen, "process %d belongs to uid %u, not %u", pid, uids[0],
			 (unsigned)by->uid);
		return -EPERM;
	}
	if (uids[1] != by->uid || uids[2] != by->uid) {
		snprintf(why, whylen, "process %d is set-uid (effective uid %u)", pid, uids[1]);
		return -EPERM;
	}
	if (gids[0] != gids[1] || gids[1] != gids[2]) {
		snprintf(why, whylen, "process %d is set-gid", pid);
		return -EPERM;
	}
	if (gids[0] != by->gid) {
		snprintf(why, whylen, "process %d runs as group %u, not the caller's group %u", pid,
			 gids[0], (unsigned)by->gid);
		return -EPERM;
	}
	/* ...a process may always reach its own address space... */
	if (pid == by->pid)
		return 0;
	/* ...another one only while it is dumpable (not after prctl(PR_SET_DUMPABLE, 0), nor
	 * after exec'ing a set-id or unreadable program)... */
	if (p.mem_owner != by->uid) {
		snprintf(why, whylen,
			 "process %d is not dumpable (prctl PR_SET_DUMPABLE 0, or it runs a set-id "
			 "or unreadable program)",
			 pid);
		return -EPERM;
	}
	/* ...and as Yama allows. */
	scope = yama_scope();
	if (scope >= 2) {
		snprintf(why, whylen,
			 "kernel.yama.ptrace_scope is %d: no unprivileged process may ptrace "
			 "another",
			 scope);
		return -EPERM;
	}
	if (scope == 1 && !is_ancestor(by->pid, p.ppid)) {
		snprintf(why, whylen,
			 "kernel.yama.ptrace_scope is 1 and process %d does not descend from the "
			 "caller (pid %d)",
			 pid, by->pid);
		return -EPERM;
	}
	return 0;
}

int process_exe(int pidfd, pid_t pid, char **ret)
{
	char path[32], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	buf[n] = 0;
	if (pidfd >= 0 && !pidfd_alive(pidfd))
		return -ESRCH;
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

int process_cgroup(int pidfd, pid_t pid, char **ret)
{
	char path[32], buf[4096];
	_cleanup_close_ int fd = -1;
	const char *unified = NULL, *named = NULL;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (strncmp(line, "0::", 3) == 0)
			unified = line + 3;
		else if (strstr(line, ":name=systemd:"))
			named = strstr(line, ":name=systemd:") + 14;
	}
	if (pidfd >= 0 && !pidfd_alive(pidfd))
		return -ESRCH;
	/* On a hybrid hierarchy the unified line may be just "/". */
	*ret = strdup(unified && strcmp(unified, "/") != 0 ? unified : named ? named : "/");
	return *ret ? 0 : -ENOMEM;
}
