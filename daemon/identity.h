/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Who is asking, as the kernel says: built once per client by the front-end that took the
 * credentials (identity_from_socket(), identity_from_bus()), then shared read-only by that
 * client's session, its bindings (which outlive the session when leased), the policy and the
 * audit trail. Refcounted; never built from anything a client sends.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cleanup.h"

struct identity {
	unsigned n_ref;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/* The process pinned. -1 when not held: a socket peer's is asked of the socket when a
	 * request needs it (SO_PEERPIDFD), and the pin ends with the session. */
	int pidfd;
	/* Owned, but read-only once built (hence const): */
	const gid_t *groups; /* supplementary */
	size_t n_groups;
	const char *exe; /* the executable; NULL: unknown (exe= then holds for deny rules only) */
	const char *const *units; /* the unit and its slices, innermost first, NULL-terminated;
				     NULL: unknown (unit= then holds for deny rules only) */
	size_t n_units;
};

/* An identity of uid/gid/pid with no process pinned, nothing else known (the setters below add
 * the rest). Returns 0 or -ENOMEM. */
int identity_new(uid_t uid, gid_t gid, pid_t pid, struct identity **ret);
struct identity *identity_ref(struct identity *id);
/* Drops a reference; the last one closes the pidfd and frees. Takes NULL; returns NULL. */
struct identity *identity_unref(struct identity *id);
DEFINE_FREE_FUNC(struct identity, identity_unref);

/* Copies of what is given replace what id held. Return 0 or -ENOMEM (id unchanged). */
int identity_set_groups(struct identity *id, const gid_t *groups, size_t n);
int identity_set_exe(struct identity *id, const char *exe);
int identity_set_units(struct identity *id, const char *const *units); /* NULL-terminated */

/* The peer of a connected AF_UNIX socket: SO_PEERCRED (uid, gid, pid), SO_PEERGROUPS, and the
 * peer pinned by SO_PEERPIDFD (or, on kernels without it, pidfd_open() of its pid, which is then
 * held), its executable and unit read through the pin. A peer that has gone already has no
 * executable or unit. Returns 0 or a negative errno. */
int identity_from_socket(int fd, struct identity **ret);
/* The peer's pidfd from SO_PEERPIDFD, asked again: the process that connected (O_CLOEXEC).
 * Returns it, -ENOPROTOOPT on kernels without the option, or another negative errno. */
int identity_socket_pidfd(int fd);

/*
 * A bus caller, from what the bus reported: uid and pid, and groups when the bus gave them
 * (n_groups < 0: it did not; they are read from /proc). The process is pinned with
 * pidfd_open() (held) and must still run as uid: if it has gone, the pid may name another
 * process by now. Returns 0, -ESRCH (gone, or not uid's), -EMFILE/-ENFILE (svmd is out of fds:
 * not the caller's fault), -ENOMEM.
 */
int identity_from_bus(uid_t uid, pid_t pid, const gid_t *groups, int n_groups,
		      struct identity **ret);

/* What uid would be, for explaining a decision on its behalf: its primary and supplementary
 * groups from the user database (none when it has no entry); no process. */
int identity_for_uid(uid_t uid, struct identity **ret);

/* Closes the pin (the session it was made for ended); the rest stays for bindings that
 * outlive it. */
void identity_unpin(struct identity *id);
