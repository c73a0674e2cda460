/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An intrusive hash table keyed by uint64_t: objects embed a struct hnode, the table never
 * allocates per entry. Chained buckets, power-of-two sizes, grows at load factor 2: a bucket
 * pointer costs as much as a key, so at 100,000 bindings the tables hold 4 to 8 bytes per entry
 * rather than 8 to 16, for chains of two on average.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;
	uint64_t key;
};

struct hashmap {
	struct hnode **buckets;
	size_t n_buckets; /* 0 or a power of two */
	size_t n;
};

/* Inserts node under key (keys need not be unique). Returns 0 or -ENOMEM. */
int hashmap_put(struct hashmap *h, struct hnode *node, uint64_t key);
/* The first node with key, or NULL. */
struct hnode *hashmap_get(const struct hashmap *h, uint64_t key);
/* The next node after node with the same key, or NULL. */
struct hnode *hashmap_next_same(const struct hnode *node);
/* Unlinks node (which must be in h). */
void hashmap_remove(struct hashmap *h, struct hnode *node);
void hashmap_done(struct hashmap *h);

/* The FNV-1a hash of s, continuing from h (start from HASH_INIT, or mix a small value into it
 * first to keep several key spaces apart). */
#define HASH_INIT 0xcbf29ce484222325ull
uint64_t hash_string(uint64_t h, const char *s);

/* Visits every node of h in no particular order. The body may unlink, move or free the node it
 * is given, and no other. Two nested loops: a break leaves only the inner one. */
#define hashmap_for_each_safe(e, h)                                                                \
	for (size_t e##_bucket = 0; e##_bucket < (h)->n_buckets; e##_bucket++)                     \
		for (struct hnode *e = (h)->buckets[e##_bucket], *e##_next;                        \
		     e && (e##_next = e->next, 1); e = e##_next)
