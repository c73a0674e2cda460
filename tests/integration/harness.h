/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Integration test harness: a real svmd on a temporary socket with a given policy, and peers:
 * client processes running as other users, driven from the test over a socketpair so a test can
 * script several users' calls in a precise order.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "svmclient.h"

struct daemon {
	pid_t pid;
	char dir[64];
	char socket[96];
	char log[128];
};

/* Starts svmd with policy_text as the only policy file and, if topology is not NULL, that
 * simulated topology; extra arguments may be NULL. Waits until the socket accepts. */
void daemon_start(struct daemon *d, const char *policy_text, const char *topology,
		  const char *const *extra_args);
/* The same with "NAME=VALUE" strings (NULL-terminated, may be NULL) added to its environment.
 * Both pass --backend=sim before extra_args, which may name another backend. */
void daemon_start_env(struct daemon *d, const char *policy_text, const char *topology,
		      const char *const *extra_args, const char *const *env);
/* When not 0, the fd limit (soft and hard) of the daemons started next: the test process and
 * its peers keep theirs (the kernel also bounds a user's fds in flight by its senders' limit). */
extern rlim_t daemon_nofile;
/* Starts the same svmd again (after it was killed and reaped: d->pid 0), in the same directory,
 * with n fds passed as systemd passes stored fds (LISTEN_FDS, LISTEN_FDNAMES from names). */
void daemon_respawn(struct daemon *d, const int *fds, const char *const *names, size_t n);
/* SIGTERM, wait, expect exit 0, remove the directory. */
void daemon_stop(struct daemon *d);
/* The same for an svmd told to stop already (a second SIGTERM while it shuts down would be
 * the test's, not a user's). */
void daemon_reap(struct daemon *d);
/* Whether the daemon's log (stderr: diagnostics and audit) contains needle. */
bool daemon_log_has(const struct daemon *d, const char *needle);
/* Waits up to timeout_ms for the log to contain needle. */
bool daemon_log_wait(const struct daemon *d, const char *needle, int timeout_ms);
/* How many lines of the log hold every one of needles (NULL-terminated). */
size_t daemon_log_count(const struct daemon *d, const char *const *needles);
/* Waits up to timeout_ms for a line holding every one of needles. */
bool daemon_log_wait_all(const struct daemon *d, const char *const *needles, int timeout_ms);
/* Writes (atomically: aside, then renamed) or removes DIR/policy/name, for reloads. */
void daemon_write_policy(const struct daemon *d, const char *name, const char *text);
void daemon_remove_policy(const struct daemon *d, const char *name);
/* Open fds of the daemon process. */
int daemon_fd_count(const struct daemon *d);
/* The path of a built binary ("svmd", "svmctl"), next to the test binaries' directory. */
const char *build_path(const char *name);

/* The test users made by tests/setup-users.sh; skips the test when they do not exist. */
struct test_user {
	const char *name;
	uid_t uid;
	gid_t gid;
};
void test_users(struct test_user *u1, struct test_user *u2);
/* The supplementary group svmd-test1 is in (svmd-testgrp). */
gid_t test_group(void);

/* A client process running as a given user. */
struct peer {
	pid_t pid;
	int ctl; /* our end of the control socketpair */
};

struct peer_result {
	int status; /* 0 or negative errno */
	uint32_t pasid;
	uint64_t id;
	char reason[512];
	int fd; /* a received fd (lease), or -1 */
};

/* Forks a peer as uid/gid (with gid as its only group unless extra_gid != 0), connected to d. */
void peer_start(struct peer *p, const struct daemon *d, uid_t uid, gid_t gid, gid_t extra_gid);
/* Like peer_start(), but the peer connects only when told to by peer_connect(): a test can
 * first change what the daemon will see of it (its cgroup, say). */
void peer_start_paused(struct peer *p, const struct daemon *d, uid_t uid, gid_t gid,
		       gid_t extra_gid);
int peer_connect(struct peer *p, struct peer_result *r);
/* Ends the peer process (its connection closes with it). */
void peer_stop(struct peer *p);

int peer_bind_task(struct peer *p, const char *device, int target_pidfd, uint32_t pasid,
		   struct peer_result *r);
int peer_bind_pgtable(struct peer *p, const char *device, uint32_t pasid, uint64_t gpgd,
		      struct peer_result *r);
int peer_bind_pasid_table(struct peer *p, const char *device, uint64_t ptr, uint64_t size,
			  uint32_t model, struct peer_result *r);
/* A page-table bind with the address width and VT-d flags given (gpgd 0x10000). */
/* svm_bind_pgtable_faults() of gpgd 0x10000, width 48: r->fd the fault queue's fd. */
int peer_bind_pgtable_faults(struct peer *p, const char *device, uint32_t pasid,
			     struct peer_result *r);
int peer_bind_pgtable_ex(struct peer *p, const char *device, uint32_t pasid, uint32_t addr_width,
			 uint64_t vtd_flags, struct peer_result *r);
int peer_unbind(struct peer *p, uint64_t id, struct peer_result *r);
/* svm_reload() as the peer; r->id is the generation now in force. */
int peer_reload(struct peer *p, struct peer_result *r);
/* Opens device; r->fd is the device fd, passed back to the test process. */
int peer_open_device(struct peer *p, const char *device, struct peer_result *r);
/* Maps length bytes of memfd (the test's, sent to the peer; it may be any fd) from offset at
 * iova of device's space, flags SVM_MAP_*; r->id is the binding. */
int peer_map(struct peer *p, const char *device, int memfd, uint64_t offset, uint64_t length,
	     uint64_t iova, uint32_t flags, struct peer_result *r);
/* Unmaps the peer's mappings on device within [iova, iova + length): r->pasid mappings ended,
 * r->id bytes. */
int peer_unmap(struct peer *p, const char *device, uint64_t iova, uint64_t length,
	       struct peer_result *r);
/* Invalidates binding id with n VT-d stage-1 entries, each (addr, pages, flags): r->id is how
 * many the kernel handled. */
int peer_invalidate(struct peer *p, uint64_t id, uint32_t n, uint64_t addr, uint64_t pages,
		    uint64_t flags, struct peer_result *r);
/* The same with an invalidate type of svmclient.h (SVM_INVALIDATE_*) and the entries' words. */
int peer_invalidate_type(struct peer *p, uint64_t id, uint32_t type, uint32_t n, uint64_t w0,
			 uint64_t w1, uint64_t w2, struct peer_result *r);
/* Leases binding id; r->fd is the lease fd, passed back to the test process. */
int peer_lease(struct peer *p, uint64_t id, struct peer_result *r);
/* The same calls, asked for without waiting: peer_wait() waits up to timeout_ms for the
 * answer and returns its status. */
void peer_bind_task_async(struct peer *p, const char *device);
void peer_lease_async(struct peer *p, uint64_t id);
void peer_connect_async(struct peer *p); /* of a peer_start_paused() peer */
void peer_open_device_async(struct peer *p, const char *device);
int peer_wait(struct peer *p, int timeout_ms, struct peer_result *r);
/* The number of bindings the peer can see. */
int peer_count(struct peer *p, struct peer_result *r);
/* Closes the peer's connection (the process lives on). */
int peer_disconnect(struct peer *p, struct peer_result *r);
/* Forks a child of the peer (same user) that sleeps; r->fd is its pidfd in the test. */
int peer_spawn_sleeper(struct peer *p, struct peer_result *r);
/* The same with flags: SPAWN_NOT_DUMPABLE makes it call prctl(PR_SET_DUMPABLE, 0) first. */
#define SPAWN_NOT_DUMPABLE 1u
int peer_spawn_sleeper_ex(struct peer *p, unsigned flags, struct peer_result *r);

/* Root's view: every live binding. */
size_t count_bindings(const struct daemon *d);
/* Waits up to timeout_ms until count_bindings() == n. */
bool wait_bindings(const struct daemon *d, size_t n, int timeout_ms);

/* A raw SEQPACKET connection to the daemon (no hello). */
int raw_connect(const struct daemon *d);
/* Whether the daemon closed a raw connection (recv returns 0 within timeout_ms). */
bool raw_closed(int fd, int timeout_ms);

/* Runs a command (argv) as uid/gid with stdout and stderr captured (each up to cap bytes).
 * Returns its exit status (128+signal when killed). */
int run_cmd(uid_t uid, gid_t gid, const char *const *argv, char *out, size_t cap, char *err,
	    size_t errcap);
/* The same with "NAME=VALUE" strings (NULL-terminated, may be NULL) added to its environment. */
int run_cmd_env(uid_t uid, gid_t gid, const char *const *argv, const char *const *env, char *out,
		size_t cap, char *err, size_t errcap);

/* A command running in the background as uid/gid, its output captured. */
struct bg_cmd {
	pid_t pid;
	int out, err;
	int status; /* once it exited: its exit status (128+signal); else -1 */
	char outbuf[16384], errbuf[8192];
	size_t no, ne;
};
void bg_start(struct bg_cmd *b, uid_t uid, gid_t gid, const char *const *argv,
	      const char *const *env);
/* Waits up to timeout_ms for needle in its stdout (in_err: stderr). */
bool bg_wait_output(struct bg_cmd *b, bool in_err, const char *needle, int timeout_ms);
/* Waits up to timeout_ms for the command to have exec'd (until then it is the test binary,
 * not yet dumpable again after its change of user, so no one may bind it). */
bool bg_wait_exec(const struct bg_cmd *b, int timeout_ms);
/* Waits up to timeout_ms for it to exit: its status, or -1 when it is still running. */
int bg_wait(struct bg_cmd *b, int timeout_ms);
/* Kills it if it still runs, closes the pipes. */
void bg_stop(struct bg_cmd *b);
