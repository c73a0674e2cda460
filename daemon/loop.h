/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop: a libevent base plus svmd's signal handling (SIGTERM/SIGINT stop it, SIGHUP
 * asks for a reload, SIGPIPE is ignored).
 */
#pragma once

#include <systemd/sd-bus.h>

struct event_base;
struct loop;

struct loop *loop_new(void);
struct loop *loop_free(struct loop *l);
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

/* Work to finish once the callbacks of a loop iteration have run (the socket front-end's
 * replies wait there for the iteration's audit records), and before every bus dispatch, since
 * sd-bus sends its replies as they are made. svmd runs one loop per process, so these are
 * kept per process. Returns 0, or -ENOSPC when there are too many. */
int loop_add_iteration_end(void (*cb)(void *userdata), void *userdata);
void loop_remove_iteration_end(void (*cb)(void *userdata), void *userdata);
