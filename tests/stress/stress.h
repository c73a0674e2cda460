/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the load generators of `make check-stress` share: time, users, a random generator,
 * tallies of outcomes kept in shared memory (so forked clients add to them), a look at svmd's
 * fds, and clients of both front-ends with a deadline on every exchange. Each tool prints its
 * figures as KEY=VALUE lines for its scenario script.
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

/* Counts of named outcomes (D-Bus error names), for one process. */
#define NAMED_MAX 64
struct named_tally {
	size_t n;
	char *name[NAMED_MAX];
	uint64_t count[NAMED_MAX];
};
void named_add(struct named_tally *t, const char *name);
void named_print(const char *key, const struct named_tally *t);

/* The open fds of a process, -1 if they cannot be read. */
int proc_fd_count(pid_t pid);

/* Sorts v and returns its p-th percentile (0 <= p <= 100); 0 for an empty v. */
uint64_t percentile(uint64_t *v, size_t n, double p);

/* A bus connection to address as the current user; fds: whether to negotiate fd passing.
 * Returns 0 or a negative errno. */
int stress_bus_open(const char *address, bool fds, sd_bus **ret);

/* "EDQUOT" for EDQUOT, "E123" for what glibc cannot name. */
const char *errno_name(int err);

/* Parses "--name=value" into *value when arg is that option. */
bool opt_str(const char *arg, const char *name, const char **value);
bool opt_uint(const char *arg, const char *name, unsigned long *value);

/*
 * A raw svmd socket client with a deadline on every exchange, for the tools that must tell a
 * slow svmd from a refusing one (libsvmclient waits 30 s). Transport failures come back as
 * -ECONNRESET (svmd closed the connection), -ETIMEDOUT (no reply within the deadline) or
 * -EPROTO (a reply that is not one); anything else is svmd's status.
 */
struct raw_client {
	int fd;
	uint32_t seq;
	int timeout_ms;
};
/* Connects and says hello; 0 or a negative errno (the client is then closed). */
int raw_open(struct raw_client *c, const char *path, int timeout_ms);
void raw_close(struct raw_client *c);
/* One request; the reply's payload (status first) into rep (rep_size bytes at most), an fd
 * the reply carries into *ret_fd (closed if ret_fd is NULL). Returns the status. */
int raw_call(struct raw_client *c, uint16_t op, const void *req, size_t len, const int *fds,
	     size_t n_fds, void *rep, size_t rep_size, int *ret_fd);
/* The usual requests: a pgtable bind at pasid (gpgd 0x10000), a task bind of the caller, a
 * lease, an unbind, a list of the first page. */
int raw_bind_pgtable(struct raw_client *c, const char *device, uint32_t pasid, uint64_t *ret_id);
int raw_bind_task(struct raw_client *c, const char *device, int pidfd, uint64_t *ret_id);
int raw_lease(struct raw_client *c, uint64_t id, int *ret_fd);
int raw_unbind(struct raw_client *c, uint64_t id);
int raw_list(struct raw_client *c, uint32_t *ret_n);

/* A method call on org.svmd.Broker1 with a deadline; 0 or the errno of svmd's error name
 * (svmd's names mapped as libsvmclient maps them), counted by name into names if given.
 * reply may be NULL. */
int bus_call(sd_bus *bus, const char *method, int timeout_ms, struct named_tally *names,
	     sd_bus_message **reply, const char *types, ...);
