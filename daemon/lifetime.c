/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bound processes and leases; see lifetime.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "hashmap.h"
#include "lifetime.h"
#include "persist.h"
#include "registry.h"
#include "svmd-proto.h"

struct lifetime {
	struct event_base *base;
	struct registry *registry;
	void (*ended)(void *userdata, struct binding *b, enum end_reason why);
	void *userdata;
	struct hashmap watches; /* struct watch, by binding id */
	struct persist *persist;
};

/* What keeps one binding alive besides its session. */
struct watch {
	struct hnode node; /* key: the binding's id */
	struct lifetime *lifetime;
	struct binding *binding;
	struct event *process; /* on the target's pidfd: readable once it exits */
	struct event *lease;   /* on svmd's end of the lease: EOF once every copy is closed */
};

static const char *const end_reasons[_END_REASON_MAX] = {
	[END_UNBIND] = "unbind",
	[END_SESSION] = "session ended",
	[END_LEASE] = "lease closed",
	[END_PROCESS] = "bound process exited",
	[END_SHUTDOWN] = "svmd shutting down",
	[END_REVOKED] = "revoked by the reloaded policy",
	[END_UNDELIVERED] = "the reply granting it could not be sent",
	[END_UNMAP] = "unmap",
};

const char *end_reason_name(enum end_reason why)
{
	return why >= 0 && why < _END_REASON_MAX ? end_reasons[why] : "ended";
}

static const uint32_t end_codes[_END_REASON_MAX] = {
	[END_UNBIND] = SVMD_END_UNBIND,
	[END_SESSION] = SVMD_END_SESSION,
	[END_LEASE] = SVMD_END_LEASE,
	[END_PROCESS] = SVMD_END_PROCESS,
	[END_SHUTDOWN] = SVMD_END_SHUTDOWN,
	[END_REVOKED] = SVMD_END_REVOKED,
	[END_UNDELIVERED] = SVMD_END_UNDELIVERED,
	[END_UNMAP] = SVMD_END_UNMAP,
};

uint32_t end_reason_code(enum end_reason why)
{
	return why >= 0 && why < _END_REASON_MAX ? end_codes[why] : 0;
}

int lifetime_new(struct event_base *base, struct registry *registry,
		 void (*ended)(void *userdata, struct binding *b, enum end_reason why),
		 void *userdata, struct lifetime **ret)
{
	struct lifetime *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->base = base;
	l->registry = registry;
	l->ended = ended;
	l->userdata = userdata;
	*ret = l;
	return 0;
}

void lifetime_set_persist(struct lifetime *l, struct persist *p)
{
	l->persist = p;
}

/* The event first, then the fd: the open file may be shared (the client keeps its copy of a
 * pidfd), and an epoll entry outlives a close while any copy is open. The fd store's copy goes
 * too (a lease's holder hears EOF only once no copy of svmd's end is left). */
static struct event *stop(struct watch *w, struct event *ev)
{
	if (ev) {
		int fd = event_get_fd(ev);
		persist_store_id(w->lifetime->persist, ev == w->lease ? "lease" : "proc",
				 binding_id(w->binding), -1);
		event_free(ev);
		safe_close(fd);
		registry_charge_fds(w->lifetime->registry, w->binding->user, -1);
	}
	return NULL;
}

static void watch_free(struct watch *w)
{
	w->process = stop(w, w->process);
	w->lease = stop(w, w->lease);
	hashmap_remove(&w->lifetime->watches, &w->node);
	free(w);
}

struct lifetime *lifetime_free(struct lifetime *l)
{
	if (!l)
		return NULL;
	hashmap_for_each_safe (e, &l->watches)
		watch_free(container_of(e, struct watch, node));
	hashmap_done(&l->watches);
	free(l);
	return NULL;
}

static struct watch *watch_find(const struct lifetime *l, const struct binding *b)
{
	struct hnode *n = hashmap_get(&l->watches, binding_id(b));
	return n ? container_of(n, struct watch, node) : NULL;
}

static int watch_get(struct lifetime *l, struct binding *b, struct watch **ret)
{
	struct watch *w = watch_find(l, b);

	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->lifetime = l;
		w->binding = b;
		if (hashmap_put(&l->watches, &w->node, binding_id(b)) < 0) {
			free(w);
			return -ENOMEM;
		}
	}
	*ret = w;
	return 0;
}

/* Drops w if it watches nothing (a watch that could not be armed). */
static void watch_put(struct watch *w)
{
	if (!w->process && !w->lease)
		watch_free(w);
}

/* The watch fired. A closed lease goes first, then the binding (whose end would look for the
 * watch). A bound process's exit stops that watch alone: a lease the binding has stays until
 * the end, which tells its holder why (lifetime_forget()). */
static void fire(struct watch *w, enum end_reason why)
{
	struct lifetime *l = w->lifetime;
	struct binding *b = w->binding;

	if (why == END_PROCESS) {
		w->process = stop(w, w->process);
		watch_put(w);
	} else {
		watch_free(w);
	}
	l->ended(l->userdata, b, why);
}

static void on_process_exit(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	fire(userdata, END_PROCESS);
}

/* At most this many of a holder's records are drained per wake-up, so that one who keeps
 * writing into its lease shares the loop like any client. */
#define LEASE_DRAIN_MAX 16

static void on_lease_readable(evutil_socket_t fd, short what, void *userdata)
{
	char buf[256];

	(void)what;
	/* Whatever a holder writes into the lease is read and thrown away (a record longer than
	 * buf is cut, fds it carries are closed by the kernel: there is no room for them); EOF,
	 * once every copy of the holder's end is closed, ends the binding. */
	for (int i = 0; i < LEASE_DRAIN_MAX; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0) {
			/* An empty record reads as 0 too: the end is when the peer is gone. */
			struct pollfd p = {.fd = fd, .events = POLLRDHUP};
			if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLHUP | POLLRDHUP)))
				continue;
		}
		fire(userdata, END_LEASE);
		return;
	}
}

/* Arms an event on fd for w; on success the fd is w's (and charged to the binding's user). */
static int arm(struct watch *w, int fd, event_callback_fn cb, struct event **slot)
{
	struct event *ev = event_new(w->lifetime->base, fd, EV_READ | EV_PERSIST, cb, w);

	if (!ev)
		return -ENOMEM;
	if (event_add(ev, NULL) < 0) {
		event_free(ev);
		return -ENOMEM;
	}
	*slot = ev;
	registry_charge_fds(w->lifetime->registry, w->binding->user, 1);
	persist_store_id(w->lifetime->persist, slot == &w->lease ? "lease" : "proc",
			 binding_id(w->binding), fd);
	return 0;
}

/* Watches fd for b: its bound process's pidfd, or svmd's end of its lease. */
static int watch_fd(struct lifetime *l, struct binding *b, int fd, bool lease)
{
	struct watch *w;
	int r = watch_get(l, b, &w);

	if (r < 0)
		return r;
	if (lease)
		r = w->lease ? -EALREADY : arm(w, fd, on_lease_readable, &w->lease);
	else
		r = w->process ? -EALREADY : arm(w, fd, on_process_exit, &w->process);
	watch_put(w);
	return r;
}

int lifetime_watch_process(struct lifetime *l, struct binding *b, int pidfd)
{
	return watch_fd(l, b, pidfd, false);
}

int lifetime_lease(struct lifetime *l, struct binding *b, int *ret_fd)
{
	int p[2], r;

	/* A SEQPACKET pair rather than a pipe: EOF on svmd's end when the last copy of the
	 * holder's closes, as with a pipe, and room for the one record that says why it ended. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p) < 0)
		return -errno;
	r = watch_fd(l, b, p[0], true);
	if (r < 0) {
		safe_close(p[0]);
		safe_close(p[1]);
		return r;
	}
	*ret_fd = p[1];
	return 0;
}

int lifetime_adopt_lease(struct lifetime *l, struct binding *b, int fd)
{
	return watch_fd(l, b, fd, true);
}

void lifetime_forget(struct lifetime *l, struct binding *b, const void *rec, size_t len)
{
	struct watch *w = watch_find(l, b);

	if (!w)
		return;
	/* Never waits: svmd's end has sent nothing before, so its send buffer has room for one
	 * record; should it not (or the holder be gone), the holder sees the EOF alone. */
	if (w->lease && rec)
		(void)!send(event_get_fd(w->lease), rec, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	watch_free(w);
}
