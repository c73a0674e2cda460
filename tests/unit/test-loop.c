/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the loop's outbox (daemon/loop.c): what an iteration queued is sent after it,
 * an item may free itself while it is sent, and resume() runs after the flush, a bounded number
 * of rounds before the loop waits again.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include <event2/event.h>

#include "loop.h"

struct item {
	struct outbox_item o;
	struct loop *l;
	int sent, resumed;
	bool free_on_send, defer_on_resume;
	int *freed; /* counted when the item frees itself */
};

static void on_send(struct outbox_item *o)
{
	struct item *it = container_of(o, struct item, o);

	it->sent++;
	if (it->free_on_send) {
		/* Its owner is dropped while sending: it leaves the loop, then goes. */
		loop_cancel(o);
		(*it->freed)++;
		free(it);
	}
}

static void on_resume(struct outbox_item *o)
{
	struct item *it = container_of(o, struct item, o);

	it->resumed++;
	if (it->defer_on_resume)
		loop_defer(it->l, o); /* served again: another reply */
}

static struct item *item_new(struct loop *l, int *freed)
{
	struct item *it = calloc(1, sizeof(*it));

	cr_assert_not_null(it);
	list_init(&it->o.link);
	it->o.send = on_send;
	it->o.resume = on_resume;
	it->l = l;
	it->freed = freed;
	return it;
}

/* The iteration's work: queue the items given. */
struct kick {
	struct item **items;
	size_t n;
	bool stop;
	struct loop *l;
};

static void on_kick(evutil_socket_t fd, short what, void *userdata)
{
	struct kick *k = userdata;

	(void)fd, (void)what;
	for (size_t i = 0; i < k->n; i++)
		loop_defer(k->l, &k->items[i]->o);
	if (k->stop)
		loop_stop(k->l);
}

static void on_stop_timer(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd, (void)what;
	loop_stop(userdata);
}

/* Runs the loop once around the kick, then until a timer 50 ms later stops it. */
static void run(struct loop *l, struct kick *k)
{
	struct event *kick = event_new(loop_base(l), -1, 0, on_kick, k);
	struct event *stop = evtimer_new(loop_base(l), on_stop_timer, l);
	struct timeval tv = {0, 50000};

	k->l = l;
	event_active(kick, EV_TIMEOUT, 0);
	evtimer_add(stop, &tv);
	cr_assert_eq(loop_run(l), 0);
	event_free(kick);
	event_free(stop);
}

Test(loop, an_item_may_free_itself_while_it_is_sent)
{
	struct loop *l = loop_new();
	int freed = 0;
	struct item *a = item_new(l, &freed), *b = item_new(l, &freed), *c = item_new(l, &freed);
	struct item *items[] = {a, b, c};
	struct kick k = {.items = items, .n = 3};

	a->free_on_send = c->free_on_send = true;
	run(l, &k);
	cr_assert_eq(freed, 2);
	/* b, between the two, was sent once and resumed once; nothing touched the others after. */
	cr_assert_eq(b->sent, 1);
	cr_assert_eq(b->resumed, 1);
	free(b);
	loop_free(l);
}

Test(loop, queued_once_however_often_it_is_deferred)
{
	struct loop *l = loop_new();
	int freed = 0;
	struct item *a = item_new(l, &freed);
	struct item *items[] = {a, a, a};
	struct kick k = {.items = items, .n = 3};

	run(l, &k);
	cr_assert_eq(a->sent, 1);
	cr_assert_eq(a->resumed, 1);
	free(a);
	loop_free(l);
}

Test(loop, resume_runs_a_bounded_number_of_rounds_then_the_loop_waits)
{
	struct loop *l = loop_new();
	int freed = 0;
	struct item *a = item_new(l, &freed);
	struct item *items[] = {a};
	struct kick k = {.items = items, .n = 1};

	/* A client that always has its next request ready: served 16 times in a row, then the
	 * loop waits (its 17th reply goes out when the loop wakes, for the timer). */
	a->defer_on_resume = true;
	run(l, &k);
	cr_assert_eq(a->resumed, 16, "%d rounds", a->resumed);
	cr_assert_eq(a->sent, 17);
	free(a);
	loop_free(l);
}

Test(loop, no_resume_once_stopped)
{
	struct loop *l = loop_new();
	int freed = 0;
	struct item *a = item_new(l, &freed);
	struct item *items[] = {a};
	struct kick k = {.items = items, .n = 1, .stop = true};

	run(l, &k);
	cr_assert_eq(a->sent, 1, "what was queued still goes out");
	cr_assert_eq(a->resumed, 0);
	cr_assert(list_empty(&a->o.link));
	free(a);
	loop_free(l);
}
