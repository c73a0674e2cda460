/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Intrusive u64-keyed hash table; see hashmap.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "hashmap.h"

static size_t bucket(uint64_t key, size_t n_buckets)
{
	/* Fibonacci hashing spreads sequential ids and packed (device, PASID) pairs. */
	key *= 0x9e3779b97f4a7c15ull;
	return (size_t)(key >> 32) & (n_buckets - 1);
}

static int grow(struct hashmap *h)
{
	size_t n = h->n_buckets ? h->n_buckets * 2 : 16;
	struct hnode **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_buckets; i++) {
		struct hnode *e = h->buckets[i];
		while (e) {
			struct hnode *next = e->next;
			size_t j = bucket(e->key, n);
			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->n_buckets = n;
	return 0;
}

int hashmap_put(struct hashmap *h, struct hnode *node, uint64_t key)
{
	if (h->n >= 2 * h->n_buckets) { /* load factor 2; see hashmap.h */
		int r = grow(h);
		/* A full table still works, just slower: only fail when there is none. */
		if (r < 0 && h->n_buckets == 0)
			return r;
	}
	size_t i = bucket(key, h->n_buckets);
	node->key = key;
	node->next = h->buckets[i];
	h->buckets[i] = node;
	h->n++;
	return 0;
}

struct hnode *hashmap_get(const struct hashmap *h, uint64_t key)
{
	if (h->n_buckets == 0)
		return NULL;
	for (struct hnode *e = h->buckets[bucket(key, h->n_buckets)]; e; e = e->next)
		if (e->key == key)
			return e;
	return NULL;
}

struct hnode *hashmap_next_same(const struct hnode *node)
{
	for (struct hnode *e = node->next; e; e = e->next)
		if (e->key == node->key)
			return e;
	return NULL;
}

void hashmap_remove(struct hashmap *h, struct hnode *node)
{
	struct hnode **p = &h->buckets[bucket(node->key, h->n_buckets)];

	while (*p && *p != node)
		p = &(*p)->next;
	if (*p) {
		*p = node->next;
		node->next = NULL;
		h->n--;
	}
}

void hashmap_done(struct hashmap *h)
{
	free(h->buckets);
	*h = (struct hashmap){0};
}

uint64_t hash_string(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}
