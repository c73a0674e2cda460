/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The socket front-end: a listening AF_UNIX SOCK_SEQPACKET socket (ours, or systemd's) and
 * its connections. server.c accepts and takes credentials; client.c serves one connection.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "list.h"

struct core;
struct event;
struct loop;

struct server {
	struct loop *loop;
	struct core *core;
	int fd;
	bool own_socket; /* created by us: unlink on exit */
	char *path;
	struct event *accept_ev;
	struct event *retry_ev; /* re-enables accepting after running out of fds */
	struct list clients;
	size_t n_clients;
	struct list subscribers; /* struct client.sub_link: SUBSCRIBE */
	size_t n_subscribers;
	/* A request is being served (or a session resumed): its changes are not all in the
	 * registry yet, nor its reply's record, so the state is not written meanwhile. */
	bool serving;
	/* An idle connection's fds, charged to its uid: 1 (the socket), or 2 on kernels without
	 * SO_PEERPIDFD (the socket and the peer's pidfd). */
	unsigned fds_per_connection;
};

struct session;
/* Serves again a connection (fd, taken on success) of session s a previous svmd served, once the
 * kernel confirms its peer is s's owner. Returns 0, -EPERM (another peer), -ESRCH (its pin is
 * gone), -EINVAL, -ENOMEM: then s is the caller's to end. */
int server_resume(void *srv, struct session *s, int fd, const char *resume);
/* Serves a connection the last svmd accepted but had not yet recorded (persist.h) as if just
 * accepted: identified from the socket, admitted, or closed. Takes fd. */
void server_take_unrecorded(void *srv, int fd);

/* Subscriptions (SUBSCRIBE): at most this many per uid, and in all. */
#define SERVER_SUBSCRIBERS_PER_UID 4
#define SERVER_SUBSCRIBERS_MAX     64

/* Binds path (mode 0666; a stale socket is replaced, a live one refused). Returns the listening
 * fd or a negative errno with a message logged. */
int server_listen_path(const char *path);

/* Serves the listening socket fd (owned, also on failure). Returns 0 or a negative errno. */
int server_new(struct loop *loop, struct core *core, int fd, const char *path, bool own_socket,
	       struct server **ret);
/* Drops every client (ending their sessions) and closes the socket. Takes NULL; returns NULL. */
struct server *server_free(struct server *s);
DEFINE_FREE_FUNC(struct server, server_free);
