/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The socket front-end: a listening AF_UNIX SOCK_SEQPACKET socket (ours, or systemd's) and
 * its connections. server.c accepts and takes credentials; client.c serves one connection.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include "list.h"
#include "ops.h"

struct event_base;
struct client;

/* Connections in all and per uid, at most. Below these, the fd limit (RLIMIT_NOFILE) decides:
 * connections may take three quarters of the fds, and one uid half of them, counting what its
 * connections hold (one fd each, or two on kernels without SO_PEERPIDFD: the socket and the
 * peer's pidfd) and what its bindings hold (bound processes' pidfds, lease ends). No one user
 * can leave the others without fds. */
#define SERVER_CLIENTS_MAX      65536u
#define SERVER_USER_CLIENTS_MAX 16384u
/* A client that leaves a reply unread this long is dropped: its session must not be held open by
 * a peer that never reads (one that exited with its own socket's fd queued to us, say). */
#define SERVER_REPLY_TIMEOUT_SEC 10

struct server {
	struct event_base *base;
	struct core *core;
	int fd;
	bool own_socket; /* created by us: unlink on exit */
	char *path;
	struct event *accept_ev;
	struct event *retry_ev; /* re-enables accepting after running out of fds */
	struct list clients;
	size_t n_clients;
	size_t clients_max;          /* from the fd limit at start */
	unsigned fds_per_connection; /* an idle connection's fds: 1, or 2 without SO_PEERPIDFD */
	struct list deferred;        /* clients with a reply waiting for the iteration's end */
};

/* Binds path (mode 0666; a stale socket is replaced, a live one refused). Returns the listening
 * fd or a negative errno with a message logged. */
int server_listen_path(const char *path);

/* Serves the listening socket fd (owned). Returns 0 or a negative errno. */
int server_new(struct event_base *base, struct core *core, int fd, const char *path,
	       bool own_socket, struct server **ret);
/* Drops every client (ending their sessions) and closes the socket. Takes NULL. */
struct server *server_free(struct server *s);

enum client_state {
	CLIENT_NEW,   /* only HELLO is permitted */
	CLIENT_READY, /* HELLO done */
};

struct client {
	struct list link; /* in server.clients */
	struct server *srv;
	int fd;
	struct event *ev;
	struct session *session;
	struct caller caller;
	/* The kernel gives the peer's pidfd through SO_PEERPIDFD for as long as the socket lives:
	 * then caller.pidfd is -1 between requests and is asked for when a request needs it,
	 * which keeps an idle connection to one fd. */
	bool repin;
	enum client_state state;
	/* The reply to the request being served: it waits for the end of the loop iteration, when
	 * the iteration's audit records have been written (deferred_link is then in
	 * server.deferred), or for room in the socket. Nothing more is read meanwhile. */
	void *out;
	size_t out_len;
	int out_fd;
	struct timeval out_deadline; /* CLOCK_MONOTONIC, while waiting for room to send out */
	struct list deferred_link;
};

/* client.c: one connection, accepted with its credentials (caller is moved into the client).
 * repin: caller->pidfd came from SO_PEERPIDFD on fd, which can give it again. */
int client_new(struct server *srv, int fd, struct caller *caller, bool repin);
void client_free(struct client *c);
/* The end of a loop iteration: writes the audit records held, then sends the replies that
 * waited for them. */
void client_send_deferred(struct server *srv);
