/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Identities from the kernel; see identity.h. Everything read of a process is read through
 * process.c and confirmed against its pidfd.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "identity.h"
#include "policy.h"
#include "process.h"
#include "svmd-wire.h"

int identity_new(uid_t uid, gid_t gid, pid_t pid, struct identity **ret)
{
	struct identity *id = calloc(1, sizeof(*id));

	if (!id)
		return -ENOMEM;
	*id = (struct identity){.n_ref = 1, .uid = uid, .gid = gid, .pid = pid, .pidfd = -1};
	*ret = id;
	return 0;
}

struct identity *identity_ref(struct identity *id)
{
	id->n_ref++;
	return id;
}

static void free_units(const char *const *units)
{
	for (size_t i = 0; units && units[i]; i++)
		free((char *)units[i]);
	free((char **)units);
}

struct identity *identity_unref(struct identity *id)
{
	if (!id || --id->n_ref > 0)
		return NULL;
	safe_close(id->pidfd);
	free((gid_t *)id->groups);
	free((char *)id->exe);
	free_units(id->units);
	free(id);
	return NULL;
}

int identity_set_groups(struct identity *id, const gid_t *groups, size_t n)
{
	gid_t *copy = NULL;

	if (n) {
		copy = calloc(n, sizeof(gid_t));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, groups, n * sizeof(gid_t));
	}
	free((gid_t *)id->groups);
	id->groups = copy;
	id->n_groups = n;
	return 0;
}

int identity_set_exe(struct identity *id, const char *exe)
{
	char *copy = NULL;

	if (exe && !(copy = strdup(exe)))
		return -ENOMEM;
	free((char *)id->exe);
	id->exe = copy;
	return 0;
}

int identity_set_units(struct identity *id, const char *const *units)
{
	char **copy = NULL;
	size_t n = 0;

	while (units && units[n])
		n++;
	if (units) {
		/* An empty list stays one: "runs in no unit" is not "unknown". */
		copy = calloc(n + 1, sizeof(char *));
		if (!copy)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			if (!(copy[i] = strdup(units[i]))) {
				free_units((const char *const *)copy);
				return -ENOMEM;
			}
	}
	free_units(id->units);
	id->units = (const char *const *)copy;
	id->n_units = n;
	return 0;
}

void identity_unpin(struct identity *id)
{
	if (id)
		id->pidfd = safe_close(id->pidfd);
}

/* The executable and the units, through pidfd. A process that has gone simply has none (exe=
 * and unit= then never match it); only running out of memory is an error. */
static int resolve(struct identity *id, int pidfd)
{
	_cleanup_free_ char *exe = NULL, *cgroup = NULL;
	char **units = NULL;
	int r = 0;

	if (process_exe(pidfd, id->pid, &exe) == -ENOMEM)
		return -ENOMEM;
	r = process_cgroup(pidfd, id->pid, &cgroup);
	if (r == -ENOMEM)
		return r;
	if (r == 0 && policy_cgroup_units(cgroup, &units) < 0)
		return -ENOMEM;
	r = identity_set_exe(id, exe);
	if (r == 0 && units)
		r = identity_set_units(id, (const char *const *)units);
	free_units((const char *const *)units);
	return r;
}

int identity_socket_pidfd(int fd)
{
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		return -errno;
	return pidfd >= 0 ? pidfd : -ESRCH;
}

/* Supplementary groups of the peer, as the kernel recorded them at connect(). */
static int socket_groups(int fd, struct identity *id)
{
	gid_t small[64];
	_cleanup_free_ gid_t *big = NULL;
	socklen_t len = sizeof(small);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) == 0)
		return identity_set_groups(id, small, len / sizeof(gid_t));
	if (errno != ERANGE)
		/* Kernels before 4.13: no supplementary groups, so group= matches the primary
		 * only. */
		return 0;
	/* len is now what the kernel needs. */
	big = malloc(len);
	if (!big)
		return -ENOMEM;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, big, &len) < 0)
		return -errno;
	return identity_set_groups(id, big, len / sizeof(gid_t));
}

int identity_from_socket(int fd, struct identity **ret)
{
	_cleanup_(identity_unrefp) struct identity *id = NULL;
	_cleanup_close_ int pidfd = -1;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	bool again = true;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	r = identity_new(uc.uid, uc.gid, uc.pid, &id);
	if (r < 0)
		return r;
	r = socket_groups(fd, id);
	if (r < 0)
		return r;
	pidfd = identity_socket_pidfd(fd);
	if (pidfd == -ENOPROTOOPT) {
		/* Only a kernel without the option gets the racy fallback: an error from one that
		 * has it (the peer exited, say) means its pid may be reused already. */
		pidfd = pidfd_open_pid(uc.pid);
		again = false;
	}
	if (pidfd >= 0) {
		r = resolve(id, pidfd);
		if (r < 0)
			return r;
		/* Kept only when the socket cannot give it again: an idle connection holds one
		 * fd, not two. */
		if (!again)
			id->pidfd = TAKE_FD(pidfd);
	}
	*ret = TAKE_PTR(id);
	return 0;
}

int identity_from_bus(uid_t uid, pid_t pid, const gid_t *groups, int n_groups,
		      struct identity **ret)
{
	_cleanup_(identity_unrefp) struct identity *id = NULL;
	struct process_status st;
	int r;

	r = identity_new(uid, (gid_t)-1, pid, &id);
	if (r < 0)
		return r;
	/* Pin the process now. The bus recorded its pid when it connected: if that process has
	 * gone since (handing its connection to a child, say), the pid may name another one by
	 * now. Whatever svmd reads of the process must be the caller's, so it must run as the uid
	 * the bus reported; otherwise the caller is refused rather than half known. */
	id->pidfd = pidfd_open_pid(pid);
	if (id->pidfd == -EMFILE || id->pidfd == -ENFILE || id->pidfd == -ENOMEM)
		return id->pidfd;
	if (id->pidfd < 0)
		return -ESRCH;
	r = process_read(id->pidfd, n_groups < 0, &st);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || st.uids[0] != uid || st.uids[1] != uid || st.uids[2] != uid) {
		if (r == 0)
			free(st.groups);
		return -ESRCH;
	}
	/* The effective gid, as SO_PEERCRED reports it (the bus does not report it). */
	id->gid = st.gids[1];
	if (n_groups < 0) {
		id->groups = st.groups;
		id->n_groups = st.n_groups;
	} else {
		r = identity_set_groups(id, groups, (size_t)n_groups);
		if (r < 0)
			return r;
	}
	r = resolve(id, id->pidfd);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(id);
	return 0;
}

int identity_for_uid(uid_t uid, struct identity **ret)
{
	_cleanup_(identity_unrefp) struct identity *id = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	int n = 64, r;

	r = identity_new(uid, (gid_t)-1, 0, &id);
	if (r < 0)
		return r;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
		*ret = TAKE_PTR(id);
		return 0;
	}
	id->gid = pw.pw_gid;
	groups = calloc((size_t)n, sizeof(gid_t));
	if (!groups)
		return -ENOMEM;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) {
		gid_t *grown = reallocarray(groups, (size_t)n, sizeof(gid_t));
		if (!grown)
			return -ENOMEM;
		groups = grown;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
			n = 0;
	}
	id->groups = TAKE_PTR(groups);
	id->n_groups = (size_t)n;
	*ret = TAKE_PTR(id);
	return 0;
}
