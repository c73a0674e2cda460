/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the hash table under the registry, the policy index and the name caches
 * (daemon/hashmap.c): duplicate keys, removal from a chain, growth, the safe iteration, and the
 * string hash.
 */
#include <criterion/criterion.h>

#include "hashmap.h"

/* Duplicate keys and removal from a chain. */
Test(hashmap, duplicates_and_remove)
{
	struct hashmap h = {0};
	struct hnode n[40];

	cr_assert_null(hashmap_get(&h, 1));
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(hashmap_put(&h, &n[i], i < 3 ? 7 : i), 0);
	cr_assert_eq(h.n, 40);
	/* At most two entries per bucket on average (hashmap.h). */
	cr_assert_geq(2 * h.n_buckets, 40);
	cr_assert_eq(h.n_buckets & (h.n_buckets - 1), 0);

	/* Three nodes under key 7 (and node 7 too, with key 7). */
	unsigned seen = 0;
	for (struct hnode *e = hashmap_get(&h, 7); e; e = hashmap_next_same(e)) {
		cr_assert_eq(e->key, 7);
		cr_assert(e == &n[0] || e == &n[1] || e == &n[2] || e == &n[7]);
		seen++;
	}
	cr_assert_eq(seen, 4);

	hashmap_remove(&h, &n[1]);
	hashmap_remove(&h, &n[7]);
	cr_assert_eq(h.n, 38);
	seen = 0;
	for (struct hnode *e = hashmap_get(&h, 7); e; e = hashmap_next_same(e)) {
		cr_assert(e == &n[0] || e == &n[2]);
		seen++;
	}
	cr_assert_eq(seen, 2);
	for (unsigned i = 3; i < 40; i++) {
		if (i == 7)
			continue;
		cr_assert_eq(hashmap_get(&h, i), &n[i], "key %u", i);
	}
	cr_assert_null(hashmap_get(&h, 40));
	hashmap_done(&h);
	cr_assert_null(h.buckets);
	cr_assert_eq(h.n, 0);
	cr_assert_eq(h.n_buckets, 0);
}

/* Every node once, also while the body unlinks the node it was given. */
Test(hashmap, for_each_safe_visits_each_node_once)
{
	struct hashmap h = {0};
	struct hnode n[40];
	unsigned seen[40] = {0}, visits = 0;

	hashmap_for_each_safe (e, &h)
		visits++;
	cr_assert_eq(visits, 0, "an empty table has nothing to visit");
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(hashmap_put(&h, &n[i], i % 5), 0);
	hashmap_for_each_safe (e, &h) {
		seen[e - n]++;
		if ((e - n) % 2)
			hashmap_remove(&h, e);
	}
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(seen[i], 1, "node %u visited %u times", i, seen[i]);
	cr_assert_eq(h.n, 20);
	hashmap_for_each_safe (e, &h)
		cr_assert_eq((e - n) % 2, 0, "node %td was removed", e - n);
	hashmap_done(&h);
}

/* FNV-1a: the published test values, and continuing from a seed. */
Test(hashmap, hash_string_is_fnv1a)
{
	cr_assert_eq(hash_string(HASH_INIT, ""), 0xcbf29ce484222325ull);
	cr_assert_eq(hash_string(HASH_INIT, "a"), 0xaf63dc4c8601ec8cull);
	cr_assert_eq(hash_string(HASH_INIT, "foobar"), 0x85944171f73967e8ull);
	cr_assert_eq(hash_string(hash_string(HASH_INIT, "foo"), "bar"),
		     hash_string(HASH_INIT, "foobar"));
	cr_assert_neq(hash_string(HASH_INIT ^ 1, "x"), hash_string(HASH_INIT, "x"));
}
