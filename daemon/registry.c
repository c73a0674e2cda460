/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Binding, session and user bookkeeping; see registry.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "util.h"

/* Live bindings per (device, rule), for max-device= quotas, and their maps' bytes. */
struct device_count {
	struct hnode node; /* key: device_count_key() */
	unsigned dev;
	const struct policy_rule *rule;
	unsigned n;
	uint64_t bytes;
};

struct registry {
	struct hashmap by_id;
	struct hashmap by_pasid;
	struct hashmap users;
	struct hashmap device_counts;
	struct list bindings;
	size_t n_bindings;
	size_t n_sessions;
	unsigned n_fds; /* every user's */
	uint64_t map_bytes;
	uint64_t next_id;
	uint64_t next_session_id;
	struct list sessions; /* struct session.link, oldest first */
	struct hashmap sessions_by_id;
	uint64_t changes; /* what a state file holds: bindings, sessions, leases */
	/* Once registry_track() asked for it: what changed since registry_changed_clear(). */
	bool tracking, lost_track;
	struct registry_change *changed;
	size_t n_changed, changed_cap;
};

/* Notes that the session or binding id changed (its state file line may differ). */
static void changed(struct registry *r, enum registry_change_kind kind, uint64_t id)
{
	if (!r->tracking || r->lost_track)
		return;
	if (r->n_changed == r->changed_cap) {
		size_t cap = r->changed_cap ? 2 * r->changed_cap : 64;
		struct registry_change *more = realloc(r->changed, cap * sizeof(*more));
		if (!more) {
			r->lost_track = true; /* the next write is a whole one */
			return;
		}
		r->changed = more;
		r->changed_cap = cap;
	}
	r->changed[r->n_changed++] = (struct registry_change){.kind = kind, .id = id};
}

void registry_track(struct registry *r)
{
	r->tracking = true;
}

struct registry_change *registry_changed(struct registry *r, size_t *n)
{
	*n = r->n_changed;
	return r->lost_track ? NULL : r->changed;
}

void registry_changed_clear(struct registry *r)
{
	r->n_changed = 0;
	r->lost_track = false;
	/* A burst's room is given back once it is written. */
	if (r->changed_cap > 4096) {
		free(r->changed);
		r->changed = NULL;
		r->changed_cap = 0;
	}
}

void registry_session_note_ended(struct session *s, uint64_t id, unsigned why)
{
	struct session_ended *more = realloc(s->ended, (s->n_ended + 1) * sizeof(*more));

	if (!more)
		return;
	s->ended = more;
	s->ended[s->n_ended++] = (struct session_ended){.id = id, .why = why};
}

bool registry_session_forget_ended(struct session *s, uint64_t id)
{
	for (size_t i = 0; s && i < s->n_ended; i++)
		if (s->ended[i].id == id && !s->ended[i].answered) {
			s->ended[i].answered = true; /* kept in place: front-ends walk the list */
			return true;
		}
	return false;
}

void registry_session_ids_above(struct registry *r, uint64_t id)
{
	if (id < UINT64_MAX && r->next_session_id <= id)
		r->next_session_id = id + 1;
}

struct session *registry_session_find(const struct registry *r, uint64_t id)
{
	struct hnode *e = hashmap_get(&r->sessions_by_id, id);

	return e ? container_of(e, struct session, by_id) : NULL;
}

static uint64_t pasid_key(const struct device *dev, uint32_t pasid)
{
	return (uint64_t)dev->index << 32 | pasid;
}

static uint64_t device_count_key(unsigned dev, const struct policy_rule *rule)
{
	return (uint64_t)(uintptr_t)rule ^ ((uint64_t)dev << 48);
}

static struct device_count *device_count_get(const struct registry *r, unsigned dev,
					     const struct policy_rule *rule)
{
	for (struct hnode *n = hashmap_get(&r->device_counts, device_count_key(dev, rule)); n;
	     n = hashmap_next_same(n)) {
		struct device_count *c = container_of(n, struct device_count, node);
		if (c->dev == dev && c->rule == rule)
			return c;
	}
	return NULL;
}

uint32_t registry_slot(const struct bind_args *args)
{
	switch (args->kind) {
	case SVMD_KIND_PASID_TABLE:
		return 0;
	case SVMD_KIND_DEVICE:
		return REGISTRY_DEVICE_SLOT;
	case SVMD_KIND_MAP:
		return REGISTRY_NO_SLOT;
	default:
		return args->pasid;
	}
}

int registry_new(struct registry **ret)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	list_init(&r->bindings);
	list_init(&r->sessions);
	r->next_id = 1;
	r->next_session_id = 1;
	*ret = r;
	return 0;
}

struct registry *registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	/* Normally empty by now; free what is left so nothing leaks on an error exit. */
	list_for_each_safe (pos, &r->bindings)
		registry_remove(r, container_of(pos, struct binding, all_link));
	hashmap_for_each_safe (e, &r->users) {
		struct user *u = container_of(e, struct user, node);
		while (u->counts) {
			struct rule_count *c = u->counts;
			u->counts = c->next;
			free(c);
		}
		free(u);
	}
	hashmap_done(&r->users);
	hashmap_for_each_safe (e, &r->device_counts)
		free(container_of(e, struct device_count, node));
	hashmap_done(&r->device_counts);
	hashmap_done(&r->by_id);
	hashmap_done(&r->by_pasid);
	hashmap_done(&r->sessions_by_id);
	free(r->changed);
	free(r);
	return NULL;
}

static struct user *user_get(const struct registry *r, uid_t uid)
{
	struct hnode *n = hashmap_get(&r->users, uid);
	return n ? container_of(n, struct user, node) : NULL;
}

static struct user *user_ref(struct registry *r, uid_t uid)
{
	struct user *u = user_get(r, uid);

	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	list_init(&u->bindings);
	if (hashmap_put(&r->users, &u->node, uid) < 0) {
		free(u);
		return NULL;
	}
	return u;
}

/* Frees u once nothing is charged to it. */
static void user_unref(struct registry *r, struct user *u)
{
	if (u->n_bindings || u->n_sessions || u->n_fds)
		return;
	hashmap_remove(&r->users, &u->node);
	while (u->counts) {
		struct rule_count *c = u->counts;
		u->counts = c->next;
		free(c);
	}
	free(u);
}

static struct rule_count *rule_count_get(const struct user *u, const struct policy_rule *rule)
{
	for (struct rule_count *c = u->counts; c; c = c->next)
		if (c->rule == rule)
			return c;
	return NULL;
}

static int session_new(struct registry *r, struct identity *who, unsigned n_fds, uint64_t id,
		       struct session **ret)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s || hashmap_put(&r->sessions_by_id, &s->by_id, id) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->user = user_ref(r, who->uid);
	if (!s->user) {
		hashmap_remove(&r->sessions_by_id, &s->by_id);
		free(s);
		return -ENOMEM;
	}
	s->owner = identity_ref(who);
	s->user->n_sessions++;
	s->reg = r;
	s->n_fds = n_fds;
	registry_charge_fds(r, s->user, (int)n_fds);
	s->id = id;
	list_init(&s->bindings);
	list_append(&r->sessions, &s->link);
	r->n_sessions++;
	r->changes++;
	changed(r, REGISTRY_SESSION, id);
	*ret = s;
	return 0;
}

int registry_session_new(struct registry *r, struct identity *who, unsigned n_fds,
			 struct session **ret)
{
	int k = session_new(r, who, n_fds, r->next_session_id, ret);

	if (k == 0)
		r->next_session_id++;
	return k;
}

int registry_session_adopt(struct registry *r, struct identity *who, unsigned n_fds, uint64_t id,
			   struct session **ret)
{
	int k;

	if (id == 0)
		return -EINVAL;
	if (registry_session_find(r, id))
		return -EEXIST;
	k = session_new(r, who, n_fds, id, ret);
	if (k == 0 && id >= r->next_session_id)
		r->next_session_id = id + 1;
	return k;
}

static int set_resume(struct session *s, const char *resume, bool counted)
{
	char *copy = resume ? strdup(resume) : NULL;

	if (resume && !copy)
		return -ENOMEM;
	free(s->resume);
	s->resume = copy;
	s->reg->changes += counted;
	changed(s->reg, REGISTRY_SESSION, s->id);
	return 0;
}

int registry_session_set_resume(struct session *s, const char *resume)
{
	return set_resume(s, resume, true);
}

int registry_session_set_resume_quietly(struct session *s, const char *resume)
{
	return set_resume(s, resume, false);
}

struct session *registry_sessions_first(const struct registry *r)
{
	return list_empty(&r->sessions) ? NULL
					: container_of(r->sessions.next, struct session, link);
}

struct session *registry_sessions_next(const struct session *s)
{
	return s->link.next == &s->reg->sessions ? NULL
						 : container_of(s->link.next, struct session, link);
}

uint64_t registry_changes(const struct registry *r)
{
	return r->changes;
}

struct session *registry_session_free(struct session *s)
{
	if (!s)
		return NULL;
	/* Callers end the bindings first; a leftover one is detached rather than left dangling. */
	list_for_each_safe (pos, &s->bindings)
		registry_lease(s->reg, container_of(pos, struct binding, session_link));
	registry_charge_fds(s->reg, s->user, -(int)s->n_fds);
	s->user->n_sessions--;
	user_unref(s->reg, s->user);
	identity_unref(s->owner);
	list_unlink(&s->link);
	hashmap_remove(&s->reg->sessions_by_id, &s->by_id);
	s->reg->n_sessions--;
	s->reg->changes++;
	changed(s->reg, REGISTRY_SESSION, s->id);
	free(s->resume);
	free(s->ended);
	free(s);
	return NULL;
}

/* The bytes a binding holds mapped. */
static uint64_t map_bytes(const struct bind_args *a)
{
	return a->kind == SVMD_KIND_MAP ? a->map.length : 0;
}

/* Counts one more binding (holding bytes mapped) under rule for u (max=, max-bytes=) and for
 * dev (max-device=, max-device-bytes=). Returns 0 or -ENOMEM (then nothing is counted). */
static int charge(struct registry *r, struct user *u, unsigned dev, const struct policy_rule *rule,
		  uint64_t bytes)
{
	struct rule_count *c = rule_count_get(u, rule);
	struct device_count *d = device_count_get(r, dev, rule);
	bool new_c = false;

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->rule = rule;
		c->next = u->counts;
		u->counts = c;
		new_c = true;
	}
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d ||
		    hashmap_put(&r->device_counts, &d->node, device_count_key(dev, rule)) < 0) {
			free(d);
			if (new_c) {
				u->counts = c->next;
				free(c);
			}
			return -ENOMEM;
		}
		d->dev = dev;
		d->rule = rule;
	}
	c->n++;
	c->bytes += bytes;
	d->n++;
	d->bytes += bytes;
	return 0;
}

static void uncharge(struct registry *r, struct user *u, unsigned dev,
		     const struct policy_rule *rule, uint64_t bytes)
{
	struct rule_count *c, **p;
	struct device_count *d = device_count_get(r, dev, rule);

	for (p = &u->counts; (c = *p); p = &c->next)
		if (c->rule == rule) {
			c->bytes -= bytes;
			if (--c->n == 0) {
				*p = c->next;
				free(c);
			}
			break;
		}
	if (d)
		d->bytes -= bytes;
	if (d && --d->n == 0) {
		hashmap_remove(&r->device_counts, &d->node);
		free(d);
	}
}

/* A binding of owner (in session s, or leased when s is NULL) with the given id. */
static struct binding *add(struct registry *r, struct session *s, struct identity *owner,
			   const struct policy_rule *rule, const struct device *dev,
			   const struct bind_args *args, uint64_t id)
{
	struct binding *b = calloc(1, sizeof(*b));
	struct user *u = s ? s->user : user_ref(r, owner->uid);

	if (!b || !u || hashmap_put(&r->by_id, &b->by_id, id) < 0) {
		free(b);
		if (u && !s)
			user_unref(r, u);
		return NULL;
	}
	if (registry_slot(args) != REGISTRY_NO_SLOT &&
	    hashmap_put(&r->by_pasid, &b->by_pasid, pasid_key(dev, registry_slot(args))) < 0) {
		hashmap_remove(&r->by_id, &b->by_id);
		free(b);
		if (!s)
			user_unref(r, u);
		return NULL;
	}
	if (charge(r, u, dev->index, rule, map_bytes(args)) < 0) {
		if (registry_slot(args) != REGISTRY_NO_SLOT)
			hashmap_remove(&r->by_pasid, &b->by_pasid);
		hashmap_remove(&r->by_id, &b->by_id);
		free(b);
		if (!s)
			user_unref(r, u);
		return NULL;
	}
	b->session = s;
	b->owner = identity_ref(owner);
	b->user = u;
	b->rule = rule;
	b->device = dev;
	b->args = *args;
	b->created_usec = now_usec(CLOCK_REALTIME);
	b->leased = !s;
	if (s) {
		list_append(&s->bindings, &b->session_link);
		s->n_bindings++;
	} else {
		list_init(&b->session_link);
	}
	list_append(&r->bindings, &b->all_link);
	list_append(&u->bindings, &b->user_link);
	u->n_bindings++;
	u->map_bytes += map_bytes(args);
	r->map_bytes += map_bytes(args);
	r->n_bindings++;
	r->changes++;
	changed(r, REGISTRY_BINDING, id);
	return b;
}

struct binding *registry_add(struct registry *r, struct session *s, const struct policy_rule *rule,
			     const struct device *dev, const struct bind_args *args)
{
	struct binding *b = add(r, s, s->owner, rule, dev, args, r->next_id);

	if (b)
		r->next_id++;
	return b;
}

struct binding *registry_adopt(struct registry *r, struct session *s, struct identity *owner,
			       const struct device *dev, const struct bind_args *args, uint64_t id,
			       uint64_t created_usec)
{
	struct binding *b;

	if (id == 0 || id >= r->next_id || registry_find(r, id) ||
	    (r->bindings.prev != &r->bindings &&
	     binding_id(container_of(r->bindings.prev, struct binding, all_link)) > id))
		return NULL;
	b = add(r, s, s ? s->owner : owner, NULL, dev, args, id);
	if (b)
		b->created_usec = created_usec;
	return b;
}

void registry_remove(struct registry *r, struct binding *b)
{
	if (!b)
		return;
	changed(r, REGISTRY_BINDING, binding_id(b));
	hashmap_remove(&r->by_id, &b->by_id);
	if (registry_slot(&b->args) != REGISTRY_NO_SLOT)
		hashmap_remove(&r->by_pasid, &b->by_pasid);
	list_unlink(&b->all_link);
	list_unlink(&b->user_link);
	if (b->session) {
		list_unlink(&b->session_link);
		b->session->n_bindings--;
	}
	struct user *u = b->user;

	if (!b->uncounted)
		uncharge(r, u, b->device->index, b->rule, map_bytes(&b->args));
	u->n_bindings--;
	u->map_bytes -= map_bytes(&b->args);
	r->map_bytes -= map_bytes(&b->args);
	user_unref(r, u);
	identity_unref(b->owner);
	r->n_bindings--;
	r->changes++;
	free(b);
}

void registry_set_rule(struct registry *r, struct binding *b, const struct policy_rule *rule)
{
	if (rule == b->rule && !b->uncounted)
		return;
	if (!b->uncounted)
		uncharge(r, b->user, b->device->index, b->rule, map_bytes(&b->args));
	b->rule = rule;
	/* The old rule may be freed next (a reload): never keep pointing at it. Out of memory,
	 * the binding is counted under no rule rather than under a stale one. */
	b->uncounted = charge(r, b->user, b->device->index, rule, map_bytes(&b->args)) < 0;
}

void registry_lease(struct registry *r, struct binding *b)
{
	(void)r;
	if (b->session) {
		list_unlink(&b->session_link);
		b->session->n_bindings--;
		b->session = NULL;
	}
	b->leased = true;
	r->changes++;
	changed(r, REGISTRY_BINDING, binding_id(b));
}

struct binding *registry_find(const struct registry *r, uint64_t id)
{
	struct hnode *n = hashmap_get(&r->by_id, id);
	return n ? container_of(n, struct binding, by_id) : NULL;
}

struct binding *registry_find_pasid(const struct registry *r, const struct device *dev,
				    uint32_t pasid)
{
	struct hnode *n = hashmap_get(&r->by_pasid, pasid_key(dev, pasid));
	return n ? container_of(n, struct binding, by_pasid) : NULL;
}

struct binding *registry_next(const struct registry *r, const struct binding *b)
{
	return b->all_link.next == &r->bindings
		       ? NULL
		       : container_of(b->all_link.next, struct binding, all_link);
}

struct binding *registry_first_after(const struct registry *r, uint64_t after_id)
{
	struct binding *b = registry_find(r, after_id);

	if (b)
		return registry_next(r, b);
	/* The cursor binding is gone: ids only grow, so scan for the first larger one. */
	list_for_each (pos, &r->bindings) {
		b = container_of(pos, struct binding, all_link);
		if (binding_id(b) > after_id)
			return b;
	}
	return NULL;
}

struct binding *registry_user_next(const struct binding *b)
{
	const struct list *head = &b->user->bindings;

	return b->user_link.next == head
		       ? NULL
		       : container_of(b->user_link.next, struct binding, user_link);
}

struct binding *registry_user_first_after(const struct registry *r, uid_t uid, uint64_t after_id)
{
	struct user *u = user_get(r, uid);
	struct binding *b = registry_find(r, after_id);

	if (!u)
		return NULL;
	if (b && b->user == u)
		return registry_user_next(b);
	list_for_each (pos, &u->bindings) {
		b = container_of(pos, struct binding, user_link);
		if (binding_id(b) > after_id)
			return b;
	}
	return NULL;
}

unsigned registry_count_user_fds(const struct registry *r, uid_t uid)
{
	struct user *u = user_get(r, uid);
	return u ? u->n_fds : 0;
}

unsigned registry_count_fds(const struct registry *r)
{
	return r->n_fds;
}

void registry_charge_fds(struct registry *r, struct user *u, int delta)
{
	u->n_fds = (unsigned)((int)u->n_fds + delta);
	r->n_fds = (unsigned)((int)r->n_fds + delta);
}

unsigned registry_count_user(const struct registry *r, uid_t uid)
{
	struct user *u = user_get(r, uid);
	return u ? u->n_bindings : 0;
}

const struct user *registry_user(const struct registry *r, uid_t uid)
{
	return user_get(r, uid);
}

unsigned user_count_rule(const struct user *u, const struct policy_rule *rule)
{
	struct rule_count *c = u ? rule_count_get(u, rule) : NULL;
	return c ? c->n : 0;
}

unsigned registry_count_rule(const struct registry *r, uid_t uid, const struct policy_rule *rule)
{
	return user_count_rule(user_get(r, uid), rule);
}

unsigned registry_count_device_rule(const struct registry *r, const struct device *dev,
				    const struct policy_rule *rule)
{
	struct device_count *d = device_count_get(r, dev->index, rule);
	return d ? d->n : 0;
}

uint64_t user_bytes_rule(const struct user *u, const struct policy_rule *rule)
{
	struct rule_count *c = u ? rule_count_get(u, rule) : NULL;
	return c ? c->bytes : 0;
}

uint64_t registry_device_rule_bytes(const struct registry *r, const struct device *dev,
				    const struct policy_rule *rule)
{
	struct device_count *d = device_count_get(r, dev->index, rule);
	return d ? d->bytes : 0;
}

uint64_t registry_map_bytes(const struct registry *r)
{
	return r->map_bytes;
}

unsigned registry_count_user_sessions(const struct registry *r, uid_t uid)
{
	struct user *u = user_get(r, uid);
	return u ? u->n_sessions : 0;
}

size_t registry_n_bindings(const struct registry *r)
{
	return r->n_bindings;
}

size_t registry_n_sessions(const struct registry *r)
{
	return r->n_sessions;
}

uint64_t registry_next_id(const struct registry *r)
{
	return r->next_id;
}

void registry_set_next_id(struct registry *r, uint64_t id)
{
	if (id > r->next_id)
		r->next_id = id;
}

size_t registry_count(const struct registry *r)
{
	return r->n_bindings;
}

size_t registry_count_sessions(const struct registry *r)
{
	return r->n_sessions;
}
