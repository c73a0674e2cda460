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

/* The executable a process runs, from /proc/PID/exe, confirmed against pidfd (-1: pid only,
 * racy). Returns 0 and a malloc()ed path, or a negative errno. */
int process_exe(int pidfd, pid_t pid, char **ret);

/* The systemd unit and slices a process runs in, innermost first, from its cgroup (the unified
 * hierarchy, else the name=systemd one), confirmed against pidfd. Returns the count and a
 * NULL-terminated malloc()ed array, or a negative errno. */
int process_units(int pidfd, pid_t pid, char ***ret);

/* Whether the process behind pidfd runs entirely as uid (real, effective and saved). Returns
 * 0, -EPERM, or -ESRCH if it has exited. */
int process_owned_by(int pidfd, uid_t uid);

/*
 * Whether uid could ptrace the process behind pidfd without privilege: its real, effective
 * and saved uids all equal uid, it is not set-id (real, effective and saved gids agree) and
 * it is dumpable (/proc/PID owned by uid). Returns 0, -EPERM (with the reason in why) or
 * -ESRCH if it exited meanwhile.
 */
int process_same_user(int pidfd, uid_t uid, char *why, size_t whylen);
