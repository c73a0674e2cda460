/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Intrusive circular doubly-linked lists: O(1) unlink from wherever an object sits, which is
 * what the registry needs for sessions, users and devices.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

struct list {
	struct list *prev, *next;
};

#define LIST_INIT(name)                                                                            \
	{                                                                                          \
		&(name), &(name)                                                                   \
	}

static inline void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static inline bool list_empty(const struct list *l)
{
	return l->next == l;
}

/* Inserts n before head, i.e. at the tail. */
static inline void list_append(struct list *head, struct list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* Unlinks n and leaves it empty, so unlinking twice is harmless. */
static inline void list_unlink(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

/* Moves every entry of src, in order, to dst (which must be empty); src is left empty. */
static inline void list_move_all(struct list *dst, struct list *src)
{
	if (list_empty(src)) {
		list_init(dst);
		return;
	}
	dst->next = src->next;
	dst->prev = src->prev;
	dst->next->prev = dst;
	dst->prev->next = dst;
	list_init(src);
}

#define list_for_each(pos, head)                                                                   \
	for (struct list *pos = (head)->next; pos != (head); pos = pos->next)
#define list_for_each_safe(pos, head)                                                              \
	for (struct list *pos = (head)->next, *_n = pos->next; pos != (head);                      \
	     pos = _n, _n = pos->next)
