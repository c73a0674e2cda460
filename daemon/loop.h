/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop: a libevent base plus svmd's signal handling (SIGTERM/SIGINT stop it, SIGHUP
 * asks for a reload, SIGPIPE is ignored).
 */
#pragma once

#include <stdbool.h>

#include <systemd/sd-bus.h>

#include "cleanup.h"
#include "list.h"

struct event_base;
struct loop;

struct loop *loop_new(void);
struct loop *loop_free(struct loop *l);
DEFINE_FREE_FUNC(struct loop, loop_free);
struct event_base *loop_base(const struct loop *l);

/* What SIGHUP does; without a handler it is logged and ignored. */
void loop_on_reload(struct loop *l, void (*cb)(void *userdata), void *userdata);

/* Drives bus from the loop: one event on its fd, re-armed after every dispatch from
 * sd_bus_get_events() and sd_bus_get_timeout(). Returns 0 or -ENOMEM. */
int loop_attach_bus(struct loop *l, sd_bus *bus);
void loop_detach_bus(struct loop *l);
/* Messages were queued outside a bus dispatch (signals): re-arm for writing soon. */
void loop_bus_kick(struct loop *l);

/* Runs until a stop signal or loop_stop(). Returns 0 or a negative errno: the bus connection
 * was lost. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/*
 * The outbox: what waits for the end of the loop iteration. No client may learn of a decision
 * before its audit record is written, so at the end of every iteration, and before every bus
 * dispatch (sd-bus sends replies as they are made), the loop writes the audit records held
 * (audit_flush()) and then calls send() of every item queued, in order. send() sends; it does
 * not read the next request (the loop does that, through resume() or on the next iteration).
 */
struct outbox_item {
	struct list link;
	bool queued; /* in the outbox (else idle, or waiting for its resume()) */
	/* May free the item (its owner dropped): then its owner calls loop_cancel() first. */
	void (*send)(struct outbox_item *item);
	/* Optional: once every item is sent, the loop calls this (not from inside the flush) so the
	 * owner may take its next request if it is already there: a client that sends its next
	 * request as soon as it has the reply (on one CPU it runs before svmd waits again) is
	 * served without another wait. The loop does this for a bounded number of rounds before
	 * it waits again, so the other clients' events are not kept waiting. */
	void (*resume)(struct outbox_item *item);
};

/* Writes the records held and sends what is queued now, outside the loop (before svmd exits:
 * the releases of shutting down). */
void loop_flush(struct loop *l);
/* What runs at every flush after the records are written and before anything queued is sent
 * (the state file a restart adopts: no client hears of what it does not hold). */
void loop_before_send(struct loop *l, void (*cb)(void *userdata), void *userdata);
/* Queues item (once: queueing a queued item again does nothing). */
void loop_defer(struct loop *l, struct outbox_item *item);
/* Takes item out of the queue, if it is there (its owner is going away). */
void loop_cancel(struct outbox_item *item);
