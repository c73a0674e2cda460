/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What ends a binding besides its session (ARCHITECTURE.md section 2): the bound process
 * exiting (its pidfd becomes readable) and the last copy of a lease closing (EOF on svmd's end
 * of the lease, a SOCK_SEQPACKET pair; the holder's end hears why its binding ended). Each such fd
 * svmd holds is charged to the binding's user and uncharged when it goes. The watches live here, in
 * a table by binding id; the registry knows nothing of them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"

struct binding;
struct event_base;
struct lifetime;
struct registry;

/* Why a binding ended. */
enum end_reason {
	END_UNBIND,
	END_SESSION,
	END_LEASE,
	END_PROCESS,
	END_SHUTDOWN,
	END_REVOKED,
	END_UNDELIVERED, /* the reply that would have told its owner could not be sent */
	END_UNMAP,       /* a map, ended by an unmap of its range */
	_END_REASON_MAX,
};

/* "unbind", "session ended", ... as the release record says it. */
const char *end_reason_name(enum end_reason why);
/* The wire's SVMD_END_* for why (0 for none). */
uint32_t end_reason_code(enum end_reason why);

/* ended is called when a watch fires, with the binding and why (the watch is gone by then: it
 * must end the binding). Returns 0 or -ENOMEM. */
int lifetime_new(struct event_base *base, struct registry *registry,
		 void (*ended)(void *userdata, struct binding *b, enum end_reason why),
		 void *userdata, struct lifetime **ret);
/* Where the fds of the watches are kept for a restart (persist.h; NULL: nowhere). */
struct persist;
void lifetime_set_persist(struct lifetime *l, struct persist *p);
/* Watches a lease a previous svmd made on b (adopted: svmd's end, taken on success). */
int lifetime_adopt_lease(struct lifetime *l, struct binding *b, int fd);
/* Stops every watch (closing their fds). Takes NULL; returns NULL. */
struct lifetime *lifetime_free(struct lifetime *l);
DEFINE_FREE_FUNC(struct lifetime, lifetime_free);

/* Ends b when the process behind pidfd exits. Takes pidfd on success (0); on failure
 * (-ENOMEM) it stays the caller's. */
int lifetime_watch_process(struct lifetime *l, struct binding *b, int pidfd);
/* A new lease on b: *ret_fd (O_CLOEXEC, O_NONBLOCK) is the client's end of a SOCK_SEQPACKET
 * pair whose other end svmd keeps; b ends once every copy of it is closed. Returns 0,
 * -EMFILE/-ENFILE or -ENOMEM. */
int lifetime_lease(struct lifetime *l, struct binding *b, int *ret_fd);
/* Stops watching b (it ends for another reason), closing what it held; a lease's holder is
 * first sent rec (len bytes, a framed EV_BINDING_ENDED; NULL: nothing), without waiting. */
void lifetime_forget(struct lifetime *l, struct binding *b, const void *rec, size_t len);
