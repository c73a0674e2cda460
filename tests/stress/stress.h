/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the load generators of `make check-stress` share: time, users, a random generator,
 * tallies of outcomes kept in shared memory (so forked clients add to them), a look at svmd's
 * fds. Each tool prints its figures as KEY=VALUE lines for its scenario script.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>

uint64_t now_us(void);
void sleep_us(uint64_t us);

/* Looks a user up by name; exits 2 with a message when there is none. */
void stress_user(const char *name, uid_t *ret_uid, gid_t *ret_gid);
/* Becomes uid/gid with no supplementary groups, dumpable as a user's own processes are (root
 * stays root); _exit(126) on failure. */
void become(uid_t uid, gid_t gid);

/* xorshift64*: small, fast, and the same run for the same seed. */
uint64_t rnd(uint64_t *state);
/* Uniform in [0, n), n > 0. */
uint32_t rnd_below(uint64_t *state, uint32_t n);
/* A seed for a forked child from its parent's seed and an index. */
uint64_t rnd_seed(uint64_t seed, uint64_t index);

/* size bytes of zeroed memory shared with the children forked later; exits 2 if none. */
void *shared_new(size_t size);

/* Outcomes by errno: slot 0 counts successes, slot e errno e, the last slot anything larger.
 * tally_new() maps n of them shared, so forked children count into them. */
#define TALLY_SLOTS 160
struct tally {
	uint64_t n[TALLY_SLOTS];
};
struct tally *tally_new(size_t n);
/* r: 0 for success, or an errno (either sign). */
void tally_add(struct tally *t, int r);
uint64_t tally_total(const struct tally *t);
uint64_t tally_count(const struct tally *t, int err);
/* Everything but successes and the errnos listed (0-terminated). */
uint64_t tally_other(const struct tally *t, const int *allowed);
/* Prints "key=ok:N,EDQUOT:M,..." ("key=none" when empty) and a newline. */
void tally_print(const char *key, const struct tally *t);

/* The open fds of a process, -1 if they cannot be read. */
int proc_fd_count(pid_t pid);

/* A bus connection to address as the current user; fds: whether to negotiate fd passing.
 * Returns 0 or a negative errno. */
int stress_bus_open(const char *address, bool fds, sd_bus **ret);

/* "EDQUOT" for EDQUOT, "E123" for what glibc cannot name. */
const char *errno_name(int err);

/* Parses "--name=value" into *value when arg is that option. */
bool opt_str(const char *arg, const char *name, const char **value);
bool opt_uint(const char *arg, const char *name, unsigned long *value);
