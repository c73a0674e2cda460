/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Facts about processes, from the kernel: what a pidfd refers to, whether it still runs,
 * and whether one user could ptrace another process.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The pid a pidfd refers to (in svmd's pid namespace). Returns it, -EBADF when fd is not a
 * pidfd, -ESRCH when the process has exited. */
pid_t pidfd_get_pid(int fd);

/* Whether the process behind a pidfd still runs (a pidfd becomes readable when it exits). */
bool pidfd_alive(int fd);

/* A pidfd for pid, O_CLOEXEC. Returns it or a negative errno. */
int pidfd_open_pid(pid_t pid);

/* What the kernel reports of a process in /proc/PID: its pid and parent, real, effective, saved
 * and filesystem uids and gids, supplementary groups (when asked for), and the owner of its
 * /proc/PID/mem, which is root's while the process is not dumpable. */
struct process_status {
	pid_t pid, ppid;
	unsigned uids[4], gids[4];
	gid_t *groups; /* malloc()ed; NULL unless asked for */
	size_t n_groups;
	uid_t mem_owner;
};

/* Reads the process behind pidfd, with one read of its status, confirmed against the pidfd
 * afterwards. Returns 0, -ESRCH (it has exited), -EBADF (not a pidfd) or -ENOMEM. */
int process_read(int pidfd, bool groups, struct process_status *ret);

/* The executable a process runs, from /proc/PID/exe, confirmed against pidfd (-1: pid only,
 * racy). Returns 0 and a malloc()ed path, or a negative errno. */
int process_exe(int pidfd, pid_t pid, char **ret);

/* The cgroup a process runs in (the unified hierarchy, else the name=systemd one), confirmed
 * against pidfd. Returns 0 and a malloc()ed path, or a negative errno. */
int process_cgroup(int pidfd, pid_t pid, char **ret);

/* Whether the process behind pidfd runs entirely as uid (real, effective and saved). Returns
 * 0, -EPERM, or -ESRCH if it has exited. */
int process_owned_by(int pidfd, uid_t uid);

/* The caller on whose behalf svmd would reach another process: its uid, gid and pid. */
struct tracer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/*
 * Whether the caller could ptrace the process behind pidfd without privilege, as the kernel's
 * ptrace access check decides it: the target's real, effective and saved uids are by->uid and its
 * gids by->gid; and, unless it is the caller itself, it is dumpable (the kernel's answer: the
 * owner of /proc/PID/mem) and Yama's ptrace_scope allows it (scope 1: the target descends from
 * by->pid). Linux security modules may refuse more. Returns 0, -EPERM (with the reason in why)
 * or -ESRCH if it exited meanwhile.
 */
int process_may_ptrace(int pidfd, const struct tracer *by, char *why, size_t whylen);
