/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop: a libevent base plus svmd's signal handling (SIGTERM/SIGINT stop it, SIGHUP
 * asks for a reload, SIGPIPE is ignored).
 */
#pragma once

struct event_base;
struct loop;

struct loop *loop_new(void);
struct loop *loop_free(struct loop *l);
struct event_base *loop_base(const struct loop *l);

/* What SIGHUP does; without a handler it is logged and ignored. */
void loop_on_reload(struct loop *l, void (*cb)(void *userdata), void *userdata);

/* Runs until a stop signal or loop_stop(). Returns 0 or a negative errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
