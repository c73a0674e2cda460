/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One socket connection: its session, the request gate every record goes through, and the one
 * reply in flight.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "cleanup.h"
#include "list.h"
#include "loop.h"

struct identity;
struct server;
struct session;

/* Event records (revision 2) waiting to be sent to one client: one more and the client is
 * dropped (a subscriber that does not keep up, or a holder that does not read). A burst of them
 * in one loop iteration (a session or a reload ending many bindings) first goes out as far as
 * the client's socket takes it: only what it does not take counts. */
#define CLIENT_EVENTS_MAX 64

/* A client that leaves a reply unread this long is dropped: its session must not be held open by
 * a peer that never reads (one that exited with its own socket's fd queued to us, say). */
#define CLIENT_REPLY_TIMEOUT_SEC 10
/* Event records held for a client while a request is being served (client_event()). */
#define CLIENT_EVENTS_BURST (16 * CLIENT_EVENTS_MAX)

enum client_state {
	CLIENT_NEW,   /* only HELLO is permitted */
	CLIENT_READY, /* HELLO done */
};

struct client {
	struct list link; /* in server.clients */
	struct server *srv;
	int fd;
	struct event *ev;
	struct session *session; /* its owner is the peer's identity */
	enum client_state state;
	/* The reply to the request being served: it waits in the loop's outbox for the end of the
	 * iteration, when the iteration's audit records have been written, or for room in the
	 * socket. Nothing more is read meanwhile. */
	void *out;
	size_t out_len;
	int out_fd;
	struct timeval out_deadline; /* CLOCK_MONOTONIC, while waiting for room to send out */
	bool waiting_room;           /* out_deadline is set */
	struct outbox_item outbox;
	/* Revision 2: the protocol revision HELLO agreed on; the event records waiting to be sent
	 * (after the reply, in order; at most CLIENT_EVENTS_MAX), and whether one more was due. */
	unsigned proto;
	struct list events; /* struct client_event.link */
	unsigned n_events;
	bool overflow;
	bool serving;    /* its request is being handled: its reply is not queued yet */
	bool subscribed; /* SUBSCRIBE: in server.subscribers */
	struct list sub_link;
	/* Restart survival (persist.h): the request being served is still in the socket (read with
	 * MSG_PEEK) and is taken off only once its reply is out, so that an svmd killed meanwhile
	 * leaves it to the next one. A reply to a request that changed the state is in the
	 * session's note (recorded; its fd, if it carries one, in the fd store) until then: the
	 * next svmd gives it again instead of doing the request twice. reply_binding: what the
	 * request made or leased (0: nothing), for the record. */
	bool unread, recorded, recorded_fd;
	uint32_t recorded_seq;
	uint64_t reply_binding;
	size_t ended_told; /* of session->ended: told as events so far (resume_ended()) */
};

/* Serves a connection accepted with the peer's identity who (a reference is taken for its
 * session). Takes fd on success. Returns 0 or -ENOMEM. */
int client_new(struct server *srv, int fd, struct identity *who, struct client **ret);
/* Serves again, after a restart, a connection (fd, taken on success) and session s a previous
 * svmd served: resume is what it noted of it (registry.h). Returns 0, -EINVAL (a note svmd does
 * not write) or -ENOMEM; on failure s stays the caller's. */
int client_resume(struct server *srv, struct session *s, int fd, const char *resume);
/* Queues an event record for c (revision 2 only; else nothing is sent). Over CLIENT_EVENTS_MAX,
 * c is dropped at the end of the iteration. Never fails: out of memory drops c the same way. */
void client_event(struct client *c, uint16_t opcode, const void *payload, size_t len);

/* Ends the session (its bindings that are not leased end), closes the connection. Takes NULL;
 * returns NULL. */
struct client *client_free(struct client *c);
DEFINE_FREE_FUNC(struct client, client_free);
