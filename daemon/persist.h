/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Restart survival: what svmd keeps so that the next svmd (a `systemctl restart`, a crash and
 * systemd's Restart=, a package upgrade) serves the same clients and bindings. Every fd that
 * carries state goes into PID 1's fd store (FDSTORE=1, FDNAME= naming what it is and whose),
 * and the registry goes into a versioned, checksummed state file in the state directory, at
 * the end of every loop iteration that changed it, before that iteration's replies are sent:
 * what changed is appended to a journal that follows the last whole file, which is replaced
 * (with a new journal) once the journal has grown as long as it. Each session's and binding's
 * line is made once and kept until what it says changes. The next svmd adopts what it can
 * prove alive and releases the rest.
 *
 * The state file is authoritative for what svmd held; the fds decide what is still alive: a
 * record without its fds (a client that left, a lease closed, a process gone) is released,
 * and an fd without a record is closed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cleanup.h"

struct core;
struct persist;
struct session;

/* The state file's name in the state directory, its journal's, and the file's first line's
 * version. Version 3 is followed by a journal; version 2 sums each line's hash (so that a
 * line's hash is made once, with the line); version 1 summed the text. All three are read. */
#define PERSIST_FILE    "state"
#define PERSIST_JOURNAL "journal"
#define PERSIST_VERSION 3u

/* fd store names: "svmd-conn-<session>", "svmd-pin-<session>", "svmd-reply-<session>-<seq>"
 * (the fd a recorded reply carries, until it is out), "svmd-proc-<binding>",
 * "svmd-lease-<binding>", "svmd-sim". */
#define PERSIST_NAME_MAX 64

/* Persistence for c, whose state directory is open (core_set_state_dir()); store: there is an
 * fd store to keep fds in ($NOTIFY_SOCKET). Returns 0 or -ENOMEM. */
int persist_new(struct core *c, bool store, struct persist **ret);
struct persist *persist_free(struct persist *p);
DEFINE_FREE_FUNC(struct persist, persist_free);

/* An fd the previous svmd stored, as systemd passed it (name from LISTEN_FDNAMES): taken. */
int persist_add_fd(struct persist *p, const char *name, int fd);
/* The stored fd called name, for a front-end while persist_adopt() resumes its sessions (it
 * stays in systemd's store): the caller's, or -1 when there is none (or p is NULL). */
int persist_take_fd(struct persist *p, const char *name);

/* Puts a copy of fd into the fd store under name at once, or (fd < 0) takes name out once the
 * state has been written (so that a restart before it finds what the state still names).
 * Failures are logged: the fd then does not survive a restart. p may be NULL (no
 * persistence). Names are never used twice. */
void persist_store(struct persist *p, const char *name, int fd);

/* The front-ends that serve adopted sessions again (server_resume(), bus_resume()): each takes
 * the session (and the socket's its connection fd) and returns 0, or fails and leaves both
 * to the caller. NULL: that front-end is not there (its sessions end). */
struct persist_frontends {
	int (*socket)(void *userdata, struct session *s, int fd, const char *resume);
	/* A connection the state file does not name yet (accepted, then svmd died before the
	 * state was written): served as a new one (takes fd). NULL: closed. */
	void (*socket_new)(void *userdata, int fd);
	void *socket_userdata;
	int (*bus)(void *userdata, struct session *s, const char *resume);
	void *bus_userdata;
};

/* The same for the fd store name "svmd-KIND-ID". */
void persist_store_id(struct persist *p, const char *kind, uint64_t id, int fd);

/* Adopts what the previous svmd left (the state file and the stored fds) once the front-ends
 * are up: see the file comment. Logs one record of what it kept and released. */
void persist_adopt(struct persist *p, const struct persist_frontends *fe);

/* Writes the state file (and the backend's state) if something changed. */
void persist_flush(struct persist *p);

/* Reads the state directory dir (an fd) as the next svmd would: 1 with how many sessions and
 * bindings it names, 0 when there is no state file, or a negative errno and why not. */
int persist_read(int dir, size_t *ret_sessions, size_t *ret_bindings, char *why, size_t whylen);

/* svmd is stopping for good: the state file is emptied and nothing more is stored. */
void persist_stop(struct persist *p);
