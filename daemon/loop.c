/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libevent base and signals; see loop.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"

struct loop {
	struct event_base *base;
	struct event *sigterm, *sigint, *sighup;
	void (*reload)(void *userdata);
	void *reload_userdata;
};

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

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
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

int loop_run(struct loop *l)
{
	return event_base_dispatch(l->base) < 0 ? -EIO : 0;
}

void loop_stop(struct loop *l)
{
	event_base_loopbreak(l->base);
}
