/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libevent base and signals; see loop.h.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "audit.h"
#include "log.h"
#include "loop.h"
#include "util.h"

struct loop {
	bool stopped;
	struct event_base *base;
	struct event *sigterm, *sigint, *sighup;
	void (*reload)(void *userdata);
	void *reload_userdata;
	sd_bus *bus;
	struct event *bus_io, *bus_timer, *bus_kick;
	int error;          /* why the loop stopped, if not a signal */
	struct list outbox; /* struct outbox_item.link */
	struct list resume; /* sent items with a resume(), for after the flush */
	void (*before_send)(void *userdata);
	void *before_send_userdata;
};

/* Rounds of resume() after a flush before the loop waits again (as many requests as one client
 * could have served in a row). */
#define LOOP_RESUME_ROUNDS 16

/* Bus messages handled per wake-up before yielding to the socket clients. */
#define BUS_BATCH 64

void loop_defer(struct loop *l, struct outbox_item *item)
{
	if (item->queued)
		return;
	list_unlink(&item->link); /* it may be waiting for its resume(): sending comes first */
	list_append(&l->outbox, &item->link);
	item->queued = true;
}

void loop_cancel(struct outbox_item *item)
{
	list_unlink(&item->link);
	item->queued = false;
}

/* The records first, then what waited for them. */
static void flush(struct loop *l)
{
	struct list sending;

	audit_flush();
	if (l->before_send)
		l->before_send(l->before_send_userdata);
	list_move_all(&sending, &l->outbox);
	list_for_each_safe (pos, &sending) {
		struct outbox_item *item = container_of(pos, struct outbox_item, link);
		list_unlink(&item->link);
		item->queued = false;
		/* Before sending, which may free the item: its owner's loop_cancel() then takes it
		 * off the resume list again. */
		if (item->resume)
			list_append(&l->resume, &item->link);
		item->send(item);
	}
	/* What sending made (a dropped client's releases) is not held back. */
	audit_flush();
}

void loop_flush(struct loop *l)
{
	flush(l);
}

void loop_before_send(struct loop *l, void (*cb)(void *userdata), void *userdata)
{
	l->before_send = cb;
	l->before_send_userdata = userdata;
}

static void on_stop(evutil_socket_t sig, short what, void *userdata)
{
	struct loop *l = userdata;

	(void)what;
	log_info("Received %s, shutting down.", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	loop_stop(l);
}

static void on_hup(evutil_socket_t sig, short what, void *userdata)
{
	struct loop *l = userdata;

	(void)sig;
	(void)what;
	if (l->reload)
		l->reload(l->reload_userdata);
	else
		log_notice(
			"SIGHUP: this svmd does not reload policy; restart it to apply changes.");
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	signal(SIGPIPE, SIG_IGN);
	list_init(&l->outbox);
	list_init(&l->resume);
	l->base = event_base_new();
	if (!l->base)
		return loop_free(l);
	l->sigterm = evsignal_new(l->base, SIGTERM, on_stop, l);
	l->sigint = evsignal_new(l->base, SIGINT, on_stop, l);
	l->sighup = evsignal_new(l->base, SIGHUP, on_hup, l);
	if (!l->sigterm || !l->sigint || !l->sighup || evsignal_add(l->sigterm, NULL) < 0 ||
	    evsignal_add(l->sigint, NULL) < 0 || evsignal_add(l->sighup, NULL) < 0)
		return loop_free(l);
	return l;
}

static void bus_arm(struct loop *l);

static void on_bus(evutil_socket_t fd, short what, void *userdata)
{
	struct loop *l = userdata;
	int r = 0;

	(void)fd;
	(void)what;
	/* sd-bus replies as soon as a method returns: what this iteration holds goes out first,
	 * so that no audit record stays held behind a bus reply. */
	flush(l);
	for (int i = 0; i < BUS_BATCH; i++) {
		r = sd_bus_process(l->bus, NULL);
		if (r <= 0)
			break;
	}
	if (r < 0) {
		log_error_errno(r, "Lost the bus connection: %m");
		l->error = r;
		loop_stop(l);
		return;
	}
	if (r > 0) {
		/* More queued: come back after the others had their turn. */
		event_active(l->bus_kick, EV_TIMEOUT, 0);
		return;
	}
	bus_arm(l);
}

/* Waits for what the bus wants next: readable, writable, or its timeout. */
static void bus_arm(struct loop *l)
{
	int events = sd_bus_get_events(l->bus);
	uint64_t until = UINT64_MAX;
	short what = 0;

	if (events < 0) {
		l->error = events;
		loop_stop(l);
		return;
	}
	if (events & POLLIN)
		what |= EV_READ;
	if (events & POLLOUT)
		what |= EV_WRITE;
	event_del(l->bus_io);
	event_assign(l->bus_io, l->base, sd_bus_get_fd(l->bus), what, on_bus, l);
	event_add(l->bus_io, NULL);
	evtimer_del(l->bus_timer);
	if (sd_bus_get_timeout(l->bus, &until) > 0 && until != UINT64_MAX) {
		/* An absolute CLOCK_MONOTONIC time in µs, 0 meaning now. */
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		uint64_t left = until > now ? until - now : 0;
		struct timeval tv = {.tv_sec = (time_t)(left / 1000000u),
				     .tv_usec = (suseconds_t)(left % 1000000u)};
		evtimer_add(l->bus_timer, &tv);
	}
}

int loop_attach_bus(struct loop *l, sd_bus *bus)
{
	l->bus = bus;
	l->bus_io = event_new(l->base, sd_bus_get_fd(bus), EV_READ, on_bus, l);
	l->bus_timer = evtimer_new(l->base, on_bus, l);
	l->bus_kick = event_new(l->base, -1, 0, on_bus, l);
	if (!l->bus_io || !l->bus_timer || !l->bus_kick) {
		loop_detach_bus(l);
		return -ENOMEM;
	}
	/* Anything already queued (the name request's reply, say) is handled on the first turn. */
	event_active(l->bus_kick, EV_TIMEOUT, 0);
	return 0;
}

void loop_detach_bus(struct loop *l)
{
	if (l->bus_io)
		event_free(l->bus_io);
	if (l->bus_timer)
		event_free(l->bus_timer);
	if (l->bus_kick)
		event_free(l->bus_kick);
	l->bus_io = l->bus_timer = l->bus_kick = NULL;
	l->bus = NULL;
}

void loop_bus_kick(struct loop *l)
{
	if (l && l->bus_kick)
		event_active(l->bus_kick, EV_TIMEOUT, 0);
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	loop_detach_bus(l);
	if (l->sigterm)
		event_free(l->sigterm);
	if (l->sigint)
		event_free(l->sigint);
	if (l->sighup)
		event_free(l->sighup);
	if (l->base)
		event_base_free(l->base);
	free(l);
	return NULL;
}

struct event_base *loop_base(const struct loop *l)
{
	return l->base;
}

void loop_on_reload(struct loop *l, void (*cb)(void *userdata), void *userdata)
{
	l->reload = cb;
	l->reload_userdata = userdata;
}

/* The owners of what was just sent take their next request, if it is there; then the records
 * and replies that made go out. A bounded number of rounds. */
static void resume(struct loop *l)
{
	for (int round = 0; round < LOOP_RESUME_ROUNDS && !list_empty(&l->resume); round++) {
		struct list now;

		list_move_all(&now, &l->resume);
		list_for_each_safe (pos, &now) {
			struct outbox_item *item = container_of(pos, struct outbox_item, link);
			list_unlink(&item->link);
			if (!l->stopped)
				item->resume(item);
		}
		flush(l);
	}
	list_for_each_safe (pos, &l->resume)
		list_unlink(pos);
}

int loop_run(struct loop *l)
{
	l->stopped = false;
	while (!l->stopped) {
		/* One pass: wait for events, run every callback that is due. */
		int r = event_base_loop(l->base, EVLOOP_ONCE);
		flush(l);
		resume(l);
		if (r < 0)
			return -EIO;
		if (r > 0)
			break; /* nothing left to wait for */
	}
	return l->error;
}

void loop_stop(struct loop *l)
{
	l->stopped = true;
	event_base_loopbreak(l->base);
}
