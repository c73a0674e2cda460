/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Restart survival; see persist.h. The state file, line by line:
 *
 *   svmd-state 3
 *   generation G
 *   session ID RESUME UID GID PID GROUPS EXE UNITS
 *   binding ID SESSION KIND DEVICE PASID CREATED ARGS... [UID GID PID GROUPS EXE UNITS]
 *   end LINES SUM
 *
 * and its journal, the changes since, in batches (one a loop iteration that changed something):
 *
 *   svmd-journal 1 SUM       (the state file's SUM: a journal that names another is stale)
 *   session ... | binding ... (as in the file: made, or replacing the line of the same id)
 *   drop session ID | drop binding ID | generation G
 *   commit LINES SUM          (the batch's lines, SUM going on from the last commit's)
 *
 * A batch cut short (svmd died writing it: no reply about it went out) is not applied; one whose
 * commit does not match makes the whole state untrusted.
 *
 * Strings a client could have chosen (an executable's path, unit names, a resume note) are hex;
 * GROUPS is "-" or gids joined by commas; EXE "-" (unknown) or hex; UNITS "-" (unknown), "+"
 * (none) or hex names joined by commas. SESSION is 0 for a leased binding, which then carries
 * its owner. ARGS are the bind's arguments by kind, or "-" for what svmd cannot keep (maps,
 * device fds and binds in a client's space: released by the next svmd). LINES counts the lines
 * before "end", SUM the FNV-1a hash of their hashes (version 1: of their text), in hex.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "core.h"
#include "identity.h"
#include "log.h"
#include "ops.h"
#include "persist.h"
#include "util.h"

/* The record of an adoption (systemd/svmd.catalog). */
#define ADOPT_MESSAGE_ID "5f1c0c3a8e6b4c2f9d7a1e4b3c2d1a09"
/* Larger than any state svmd writes (about 200 bytes a binding): refused unread. */
#define STATE_MAX (512u << 20)
/* A journal is replaced by a whole file once it is longer than the file and than this. */
#define JOURNAL_MIN (64u << 10)
#define TOKENS_MAX  24

/* An fd the previous svmd stored, by name (hash_string()), until something takes it. */
struct stored {
	struct hnode node;
	int fd;
	char name[];
};

struct persist {
	struct core *core;
	bool store;         /* fds go to PID 1's fd store */
	bool off;           /* stopping for good */
	bool forced;        /* write at the next flush whatever the count says */
	uint64_t written;   /* registry_changes() the state file holds */
	struct hashmap fds; /* struct stored */
	/* The lines last written for each session and binding (struct line, by id), so that a
	 * write formats only what is new or changed; a line not written once is dropped. */
	struct hashmap session_lines, binding_lines;
	unsigned stamp; /* of the last write */
	/* The journal (see the file comment): open for appending once a whole file is written
	 * (-1: the next write is a whole one), its length, the length of the whole file it
	 * follows, the sum its last batch ended with, and the generation written last. */
	int journal_fd;
	size_t journal_len, whole_len;
	uint64_t chain, generation;
	uint64_t serial; /* of the last whole file */
	/* Names to take out of the fd store once the state that no longer needs them is written. */
	char **removals;
	size_t n_removals, removals_cap;
};

/* A line of the state file, as last written for one session or binding. */
struct line {
	struct hnode node;
	/* What else the line says that can change: a binding's session (0 once leased), a
	 * session's resume note (text[] holds the line, then the note). */
	uint64_t session;
	const char *resume;
	uint64_t hash;
	size_t len; /* of text */
	unsigned stamp;
	char text[];
};

static void lines_done(struct hashmap *h)
{
	hashmap_for_each_safe (e, h)
		free(container_of(e, struct line, node));
	hashmap_done(h);
}

int persist_new(struct core *c, bool store, struct persist **ret)
{
	struct persist *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->core = c;
	p->store = store;
	p->forced = true;
	p->journal_fd = -1;
	p->serial = now_usec(CLOCK_REALTIME); /* above any an svmd before this one wrote */
	registry_track(c->registry);
	*ret = p;
	return 0;
}

struct persist *persist_free(struct persist *p)
{
	if (!p)
		return NULL;
	hashmap_for_each_safe (e, &p->fds) {
		struct stored *x = container_of(e, struct stored, node);
		safe_close(x->fd);
		free(x);
	}
	hashmap_done(&p->fds);
	lines_done(&p->session_lines);
	lines_done(&p->binding_lines);
	safe_close(p->journal_fd);
	for (size_t i = 0; i < p->n_removals; i++)
		free(p->removals[i]);
	free(p->removals);
	free(p);
	return NULL;
}

int persist_add_fd(struct persist *p, const char *name, int fd)
{
	size_t n = strlen(name) + 1;
	struct stored *x = malloc(sizeof(*x) + n);

	if (!x || hashmap_put(&p->fds, &x->node, hash_string(HASH_INIT, name)) < 0) {
		free(x);
		safe_close(fd);
		return -ENOMEM;
	}
	x->fd = fd;
	memcpy(x->name, name, n);
	return 0;
}

/* The stored fd called name, taken out of the table; -1 when there is none. */
static int take_fd(struct persist *p, const char *name)
{
	if (!p)
		return -1;
	for (struct hnode *e = hashmap_get(&p->fds, hash_string(HASH_INIT, name)); e;
	     e = hashmap_next_same(e)) {
		struct stored *x = container_of(e, struct stored, node);
		if (strcmp(x->name, name) == 0) {
			int fd = x->fd;
			hashmap_remove(&p->fds, e);
			free(x);
			return fd;
		}
	}
	return -1;
}

int persist_take_fd(struct persist *p, const char *name)
{
	return take_fd(p, name);
}

static _printf_(3, 4) int take_fdf(struct persist *p, char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, PERSIST_NAME_MAX, fmt, ap);
	va_end(ap);
	return take_fd(p, name);
}

static void notify_store(const char *name, int fd)
{
	char msg[PERSIST_NAME_MAX + 32];
	int r;

	if (fd >= 0) {
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
		r = sd_pid_notify_with_fds(0, false, msg, &fd, 1);
	} else {
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
		r = sd_notify(false, msg);
	}
	if (r < 0)
		log_warning_errno(r, "Cannot %s %s in systemd's fd store: %m.",
				  fd >= 0 ? "keep" : "drop", name);
}

void persist_store(struct persist *p, const char *name, int fd)
{
	char *copy;

	if (!p || !p->store || p->off)
		return;
	if (fd >= 0) {
		notify_store(name, fd);
		return;
	}
	if (p->n_removals == p->removals_cap) {
		size_t cap = p->removals_cap ? 2 * p->removals_cap : 16;
		char **more = realloc(p->removals, cap * sizeof(*more));
		if (!more) {
			notify_store(name, -1); /* out of memory: at once, as before */
			return;
		}
		p->removals = more;
		p->removals_cap = cap;
	}
	if (!(copy = strdup(name))) {
		notify_store(name, -1);
		return;
	}
	p->removals[p->n_removals++] = copy;
}

/* The state written names none of them any more: out of the store they go. */
static void flush_removals(struct persist *p)
{
	for (size_t i = 0; i < p->n_removals; i++) {
		notify_store(p->removals[i], -1);
		free(p->removals[i]);
	}
	p->n_removals = 0;
}

void persist_store_id(struct persist *p, const char *kind, uint64_t id, int fd)
{
	char name[PERSIST_NAME_MAX];

	snprintf(name, sizeof(name), "svmd-%s-%" PRIu64, kind, id);
	persist_store(p, name, fd);
}

/* Writing. */

struct out {
	char *buf;
	size_t len;
	size_t cap; /* the buffer's size */
	size_t lines;
	uint64_t sum;
};

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

/* The file's sum goes on with one line's hash (version 2): its 8 bytes, little-endian. */
static uint64_t fnv_hash(uint64_t sum, uint64_t line_hash)
{
	char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (char)(line_hash >> (8 * i));
	return fnv(sum, le, sizeof(le));
}

/* " HEX" (or, for the members of a list, "HEX" alone). */
static void put_hex_word(FILE *f, const char *s, bool spaced)
{
	if (spaced)
		fputc(' ', f);
	if (!s) {
		fputc('-', f);
		return;
	}
	if (!*s)
		fputs("=", f); /* the empty string */
	for (; *s; s++)
		fprintf(f, "%02x", (unsigned char)*s);
}

static void put_hex(FILE *f, const char *s)
{
	put_hex_word(f, s, true);
}

static void put_identity(FILE *f, const struct identity *id)
{
	fprintf(f, " %u %u %d ", (unsigned)id->uid, (unsigned)id->gid, (int)id->pid);
	if (id->n_groups == 0)
		fputc('-', f);
	for (size_t i = 0; i < id->n_groups; i++)
		fprintf(f, "%s%u", i ? "," : "", (unsigned)id->groups[i]);
	put_hex(f, id->exe);
	if (!id->units) {
		fputs(" -", f);
		return;
	}
	if (!id->units[0]) {
		fputs(" +", f);
		return;
	}
	for (size_t i = 0; id->units[i]; i++) {
		if (i)
			fputc(',', f);
		put_hex_word(f, id->units[i], i == 0);
	}
}

/* Whether the next svmd can keep b: a bind of the kernel's own (not in a client's space) on a
 * backend whose kernel state outlives svmd. */
static bool keepable(const struct core *c, const struct binding *b)
{
	const struct backend *be = c->backend;

	if (!be->ops->holds)
		return false;
	switch (b->args.kind) {
	case SVMD_KIND_TASK:
		return true;
	case SVMD_KIND_PGTABLE:
		return !core_nests(c, SVMD_KIND_PGTABLE);
	case SVMD_KIND_PASID_TABLE:
		return !b->args.table.space;
	default:
		return false;
	}
}

static void put_args(FILE *f, const struct core *c, const struct binding *b)
{
	const struct bind_args *a = &b->args;

	if (!keepable(c, b)) {
		fputs(" -", f);
		return;
	}
	switch (a->kind) {
	case SVMD_KIND_TASK:
		fprintf(f, " %d %u", (int)a->task.pid, a->task.asked);
		break;
	case SVMD_KIND_PGTABLE:
		fprintf(f, " %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u %u %u", a->pgtable.flags,
			a->pgtable.gpgd, a->pgtable.gpasid, a->pgtable.vtd_flags,
			a->pgtable.addr_width, a->pgtable.format, a->pgtable.pat, a->pgtable.emt);
		break;
	default:
		fprintf(f, " %" PRIu64 " %" PRIu64 " %u %u %u %u %u", a->table.ptr, a->table.size,
			a->table.model, a->table.vsid_valid, a->table.s1fmt, a->table.s1cdmax,
			a->table.vsid);
		break;
	}
}

/* One line made with stdio (the put_*() above), ending in a newline: malloc'd, or NULL. */
static FILE *line_open(char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	return open_memstream(buf, len);
}

/* Ends the line open_memstream() makes at *buf: the line, or NULL. */
static char *line_close(FILE *f, char **buf)
{
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

/* Keeps text (a line of stdio's, NUL-terminated; freed here) as id's line in h, in place of
 * what was there: the line kept, or NULL. */
static const struct line *line_keep(struct persist *p, struct hashmap *h, uint64_t id, char *text,
				    uint64_t session, const char *resume)
{
	size_t n = strlen(text), nr = resume ? strlen(resume) + 1 : 0;
	struct hnode *old = hashmap_get(h, id);
	struct line *l = malloc(sizeof(*l) + n + 1 + nr);

	if (l) {
		memcpy(l->text, text, n + 1);
		l->resume = resume ? memcpy(l->text + n + 1, resume, nr) : NULL;
		l->session = session;
		l->hash = fnv(HASH_INIT, l->text, n);
		l->len = n;
		l->stamp = p->stamp;
	}
	free(text);
	if (l && hashmap_put(h, &l->node, id) < 0) {
		free(l);
		l = NULL;
	}
	if (l && old) {
		hashmap_remove(h, old);
		free(container_of(old, struct line, node));
	}
	return l;
}

/* The line of s (or b) as the state file says it: the one written last time when nothing it
 * says has changed (a binding's session, a session's note; the rest never does), else made
 * now. NULL: out of memory. */
static const struct line *session_line(struct persist *p, const struct session *s)
{
	struct hnode *e = hashmap_get(&p->session_lines, s->id);
	struct line *l = e ? container_of(e, struct line, node) : NULL;
	char *buf;
	size_t len;
	FILE *f;

	if (l && strcmp(l->resume, s->resume) == 0) {
		l->stamp = p->stamp;
		return l;
	}
	if (!(f = line_open(&buf, &len)))
		return NULL;
	fprintf(f, "session %" PRIu64, s->id);
	put_hex(f, s->resume);
	put_identity(f, s->owner);
	buf = line_close(f, &buf);
	return buf ? line_keep(p, &p->session_lines, s->id, buf, 0, s->resume) : NULL;
}

static const struct line *binding_line(struct persist *p, const struct binding *b)
{
	struct hnode *e = hashmap_get(&p->binding_lines, binding_id(b));
	struct line *l = e ? container_of(e, struct line, node) : NULL;
	uint64_t session = b->session ? b->session->id : 0;
	char *buf;
	size_t len;
	FILE *f;

	if (l && l->session == session) {
		l->stamp = p->stamp;
		return l;
	}
	if (!(f = line_open(&buf, &len)))
		return NULL;
	fprintf(f, "binding %" PRIu64 " %" PRIu64 " %u %s %u %" PRIu64, binding_id(b), session,
		b->args.kind, b->device->name, b->args.pasid, binding_created_usec(b));
	put_args(f, p->core, b);
	if (!b->session)
		put_identity(f, b->owner);
	buf = line_close(f, &buf);
	return buf ? line_keep(p, &p->binding_lines, binding_id(b), buf, session, NULL) : NULL;
}

/* Drops the lines of what is gone since (not written this time), once they are many. */
static void lines_sweep(struct persist *p, struct hashmap *h, size_t written)
{
	if (h->n < 64 || h->n < written + written / 8)
		return;
	hashmap_for_each_safe (e, h) {
		struct line *l = container_of(e, struct line, node);
		if (l->stamp != p->stamp) {
			hashmap_remove(h, e);
			free(l);
		}
	}
}

/* Appends line (n bytes, the last a newline) whose hash is hash, counted and summed. */
static int put_line_hashed(struct out *o, const char *line, size_t n, uint64_t hash)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *more = realloc(o->buf, cap);
		if (!more)
			return -ENOMEM;
		o->buf = more;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, line, n);
	o->buf[o->len + n] = 0;
	o->len += n;
	o->sum = fnv_hash(o->sum, hash);
	o->lines++;
	return 0;
}

static int put_line(struct out *o, const char *line)
{
	size_t n = strlen(line);

	return put_line_hashed(o, line, n, fnv(HASH_INIT, line, n));
}

/* The whole state as text, into a malloc'd buffer: the header, a line a resumable session and
 * a line a binding of one (or leased), then the count and checksum of those lines. */
static int render(struct persist *p, bool empty, char **ret, size_t *ret_len, uint64_t *ret_sum)
{
	struct core *c = p->core;
	struct out o = {.sum = HASH_INIT};
	char line[64];
	int r;

	snprintf(line, sizeof(line), "svmd-state %u\n", PERSIST_VERSION);
	r = put_line(&o, line);
	snprintf(line, sizeof(line), "generation %" PRIu64 "\n", c->generation);
	if (r >= 0)
		r = put_line(&o, line);
	/* Each whole file differs from every other, so that a journal that followed another
	 * one never matches it, however alike what they hold. */
	snprintf(line, sizeof(line), "serial %" PRIu64 "\n", ++p->serial);
	if (r >= 0)
		r = put_line(&o, line);
	size_t n_sessions = 0, n_bindings = 0;
	p->stamp++;
	for (struct session *s = empty ? NULL : registry_sessions_first(c->registry); r >= 0 && s;
	     s = registry_sessions_next(s)) {
		const struct line *l;
		if (!s->resume)
			continue;
		r = (l = session_line(p, s)) ? put_line_hashed(&o, l->text, l->len, l->hash)
					     : -ENOMEM;
		n_sessions++;
	}
	for (struct binding *b = empty ? NULL : registry_first_after(c->registry, 0); r >= 0 && b;
	     b = registry_next(c->registry, b)) {
		const struct line *l;
		if (b->session && !b->session->resume)
			continue; /* a session no front-end could resume */
		r = (l = binding_line(p, b)) ? put_line_hashed(&o, l->text, l->len, l->hash)
					     : -ENOMEM;
		n_bindings++;
	}
	if (r >= 0) {
		lines_sweep(p, &p->session_lines, n_sessions);
		lines_sweep(p, &p->binding_lines, n_bindings);
	}
	*ret_sum = o.sum;
	if (r >= 0) {
		snprintf(line, sizeof(line), "end %zu %016" PRIx64 "\n", o.lines, o.sum);
		r = put_line(&o, line); /* (what it adds to the count and sum is not used) */
	}
	if (r < 0) {
		free(o.buf);
		return r;
	}
	*ret = o.buf;
	*ret_len = o.len;
	return 0;
}

static int write_all_fd(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replaces the file name in the state directory with len bytes of buf (aside, then renamed). */
static int replace_file(int dir, const char *name, const char *buf, size_t len)
{
	char aside[64];
	int r;

	snprintf(aside, sizeof(aside), "%s.new", name);
	int fd = openat(dir, aside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all_fd(fd, buf, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dir, aside, dir, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dir, aside, 0);
	return r;
}

/* The whole state file, then a new journal that follows it (named by its sum); a journal left
 * from before no longer matches once the file is replaced, should svmd die in between. */
static int write_state(struct persist *p, bool empty)
{
	int dir = p->core->state_fd;
	_cleanup_free_ char *buf = NULL;
	char head[64];
	size_t len;
	uint64_t sum;
	int r = render(p, empty, &buf, &len, &sum);

	p->journal_fd = safe_close(p->journal_fd);
	if (r < 0)
		return r;
	r = replace_file(dir, PERSIST_FILE, buf, len);
	if (r < 0 || empty)
		return r;
	int n = snprintf(head, sizeof(head), "svmd-journal 1 %016" PRIx64 "\n", sum);
	r = replace_file(dir, PERSIST_JOURNAL, head, (size_t)n);
	if (r < 0)
		return r;
	p->journal_fd = openat(dir, PERSIST_JOURNAL, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (p->journal_fd < 0)
		return -errno;
	p->journal_len = (size_t)n;
	p->whole_len = len;
	p->chain = sum;
	p->generation = p->core->generation;
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	const struct registry_change *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A line that ends what the last svmd wrote of id in h ("drop session ID"), and its cache. */
static int put_drop(struct out *o, struct hashmap *h, const char *what, uint64_t id)
{
	struct hnode *e = hashmap_get(h, id);
	char line[64];

	if (!e)
		return 0; /* never written (or gone already) */
	hashmap_remove(h, e);
	free(container_of(e, struct line, node));
	snprintf(line, sizeof(line), "drop %s %" PRIu64 "\n", what, id);
	return put_line(o, line);
}

static int put_cached(struct out *o, const struct line *l)
{
	return l ? put_line_hashed(o, l->text, l->len, l->hash) : -ENOMEM;
}

/* What one change made of a session's lines: the session line (and, when it becomes one the
 * file holds, its bindings' lines), or the lines that drop them. */
static int put_session_change(struct persist *p, struct out *o, uint64_t id)
{
	struct session *s = registry_session_find(p->core->registry, id);
	bool had = hashmap_get(&p->session_lines, id) != NULL;
	int r = 0;

	if (s && s->resume) {
		r = put_cached(o, session_line(p, s));
		list_for_each (pos, &s->bindings)
			if (r >= 0 && !had)
				r = put_cached(o, binding_line(p, container_of(pos, struct binding,
									       session_link)));
		return r;
	}
	r = put_drop(o, &p->session_lines, "session", id);
	if (s)
		list_for_each (pos, &s->bindings)
			if (r >= 0)
				r = put_drop(o, &p->binding_lines, "binding",
					     binding_id(container_of(pos, struct binding,
								     session_link)));
	return r;
}

static int put_binding_change(struct persist *p, struct out *o, uint64_t id)
{
	struct binding *b = registry_find(p->core->registry, id);

	if (b && (!b->session || b->session->resume))
		return put_cached(o, binding_line(p, b));
	return put_drop(o, &p->binding_lines, "binding", id);
}

/* Appends what changed since the last write to the journal as one batch, its lines followed
 * by "commit LINES SUM" (SUM going on from the last batch's). -EAGAIN: a whole file is due
 * (no journal open, the journal as long as the file, or what changed not known). */
static int append_changes(struct persist *p)
{
	struct core *c = p->core;
	size_t n;
	struct registry_change *ch = registry_changed(c->registry, &n);
	struct out o = {.sum = p->chain};
	char line[96];
	int r = 0;

	if (p->journal_fd < 0 || !ch ||
	    (p->journal_len > JOURNAL_MIN && p->journal_len > p->whole_len))
		return -EAGAIN;
	if (n)
		qsort(ch, n, sizeof(*ch), change_cmp);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (i && ch[i].kind == ch[i - 1].kind && ch[i].id == ch[i - 1].id)
			continue;
		r = ch[i].kind == REGISTRY_SESSION ? put_session_change(p, &o, ch[i].id)
						   : put_binding_change(p, &o, ch[i].id);
	}
	if (r >= 0 && c->generation != p->generation) {
		snprintf(line, sizeof(line), "generation %" PRIu64 "\n", c->generation);
		r = put_line(&o, line);
	}
	uint64_t sum = o.sum;
	if (r >= 0 && o.lines) {
		snprintf(line, sizeof(line), "commit %zu %016" PRIx64 "\n", o.lines, sum);
		r = put_line(&o, line);
	}
	if (r >= 0 && o.len)
		r = write_all_fd(p->journal_fd, o.buf, o.len);
	free(o.buf);
	if (r < 0) {
		/* What the caches say is no longer what the file holds: all of it again. */
		p->journal_fd = safe_close(p->journal_fd);
		return -EAGAIN;
	}
	p->journal_len += o.len;
	p->chain = sum;
	p->generation = c->generation;
	return 0;
}

void persist_flush(struct persist *p)
{
	struct backend *be;
	uint64_t now;
	int r;

	if (!p || p->off)
		return;
	be = p->core->backend;
	/* The kernel's state first: a record never names a bind the stored kernel lacks. */
	if (be->ops->sync) {
		r = be->ops->sync(be);
		if (r < 0)
			log_error_errno(r, "Cannot save the %s backend's state for a restart: %m.",
					be->ops->name);
	}
	now = registry_changes(p->core->registry);
	if (now == p->written && !p->forced) {
		flush_removals(p);
		return;
	}
	r = p->forced ? -EAGAIN : append_changes(p);
	if (r == -EAGAIN)
		r = write_state(p, false);
	registry_changed_clear(p->core->registry);
	if (r < 0) {
		/* Said once per change: the next change tries again. */
		log_error_errno(r,
				"Cannot write the state file %s for a restart: %m; a restart now "
				"would release what changed.",
				PERSIST_FILE);
		p->written = now;
		return;
	}
	p->written = now;
	p->forced = false;
	flush_removals(p);
}

void persist_stop(struct persist *p)
{
	int r;

	if (!p || p->off)
		return;
	r = write_state(p, true);
	if (r < 0)
		log_warning_errno(r, "Cannot empty the state file: %m; the next svmd releases what "
				     "it names.");
	(void)unlinkat(p->core->state_fd, PERSIST_JOURNAL, 0);
	p->off = true;
}

/* Reading. */

struct rec_identity {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t *groups;
	size_t n_groups;
	char *exe;      /* NULL: unknown */
	char **units;   /* NULL: unknown; {NULL}: none */
	bool has_units; /* units given (possibly none) */
};

struct rec_session {
	uint64_t id;
	char *resume;
	struct rec_identity who;
	struct session *s; /* once adopted */
	size_t seq;        /* its line's place in the file, then the journal */
	bool dropped;      /* a journal's "drop" line */
};

struct rec_binding {
	uint64_t id, session, created;
	uint32_t kind, pasid;
	char device[SVMD_DEVICE_NAME_SZ];
	bool keep; /* its arguments were kept */
	struct bind_args args;
	struct rec_identity who; /* leased */
	size_t seq;
	bool dropped;
};

struct state {
	uint32_t version;
	uint64_t sum; /* the file's, which its journal names */
	size_t seq;   /* lines read */
	uint64_t generation;
	struct rec_session *sessions;
	size_t n_sessions;
	struct rec_binding *bindings;
	size_t n_bindings;
};

static void identity_done(struct rec_identity *w)
{
	free(w->groups);
	free(w->exe);
	for (size_t i = 0; w->units && w->units[i]; i++)
		free(w->units[i]);
	free(w->units);
}

static void rec_session_done(struct rec_session *s)
{
	free(s->resume);
	identity_done(&s->who);
}

static void state_done(struct state *st)
{
	for (size_t i = 0; i < st->n_sessions; i++)
		rec_session_done(&st->sessions[i]);
	for (size_t i = 0; i < st->n_bindings; i++)
		identity_done(&st->bindings[i].who);
	free(st->sessions);
	free(st->bindings);
}

static int state_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int state_u32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r = state_u64(s, UINT32_MAX, &v);

	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

static int state_int(const char *s, int32_t *ret)
{
	uint64_t v;
	int r = state_u64(s, INT32_MAX, &v);

	if (r == 0)
		*ret = (int32_t)v;
	return r;
}

static int unhex(const char *s, size_t n, char **ret)
{
	char *out;

	if (n == 1 && s[0] == '=') {
		*ret = strdup("");
		return *ret ? 0 : -ENOMEM;
	}
	if (n == 0 || n % 2)
		return -EINVAL;
	out = malloc(n / 2 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !v) {
			free(out);
			return -EINVAL;
		}
		out[i] = (char)v;
	}
	out[n / 2] = 0;
	*ret = out;
	return 0;
}

static int parse_identity(char **t, struct rec_identity *w)
{
	uint32_t uid = 0, gid = 0;
	int32_t pid = 0;
	int r;

	if (state_u32(t[0], &uid) < 0 || state_u32(t[1], &gid) < 0 || state_int(t[2], &pid) < 0)
		return -EINVAL;
	w->uid = uid;
	w->gid = gid;
	w->pid = pid;
	if (strcmp(t[3], "-") != 0) {
		for (char *s = t[3]; s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL) {
			char num[16];
			size_t n = strcspn(s, ",");
			uint32_t g = 0;
			gid_t *more;
			if (n == 0 || n >= sizeof(num))
				return -EINVAL;
			memcpy(num, s, n);
			num[n] = 0;
			if (state_u32(num, &g) < 0 || w->n_groups >= 65536)
				return -EINVAL;
			more = realloc(w->groups, (w->n_groups + 1) * sizeof(gid_t));
			if (!more)
				return -ENOMEM;
			w->groups = more;
			w->groups[w->n_groups++] = g;
		}
	}
	if (strcmp(t[4], "-") != 0 && (r = unhex(t[4], strlen(t[4]), &w->exe)) < 0)
		return r;
	if (strcmp(t[5], "-") == 0)
		return 0;
	w->has_units = true;
	size_t n = 0;
	if (strcmp(t[5], "+") != 0)
		for (const char *s = t[5]; s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
			n++;
	if (n > 64)
		return -EINVAL;
	w->units = calloc(n + 1, sizeof(char *));
	if (!w->units)
		return -ENOMEM;
	size_t i = 0;
	for (const char *s = n ? t[5] : NULL; s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
		if ((r = unhex(s, strcspn(s, ","), &w->units[i++])) < 0)
			return r;
	return 0;
}

static int parse_args(char **t, size_t n, struct rec_binding *b)
{
	struct bind_args *a = &b->args;
	uint64_t v[8];
	size_t want = b->kind == SVMD_KIND_TASK ? 2 : b->kind == SVMD_KIND_PGTABLE ? 8 : 7;

	if (n < want)
		return -EINVAL;
	for (size_t i = 0; i < want; i++)
		if (state_u64(t[i], UINT64_MAX, &v[i]) < 0)
			return -EINVAL;
	a->kind = b->kind;
	a->pasid = b->pasid;
	switch (b->kind) {
	case SVMD_KIND_TASK:
		if (v[0] == 0 || v[0] > INT32_MAX || v[1] > UINT32_MAX)
			return -EINVAL;
		a->task.pid = (int32_t)v[0];
		a->task.asked = (uint32_t)v[1];
		break;
	case SVMD_KIND_PGTABLE:
		if (v[0] > UINT32_MAX || v[4] > UINT32_MAX || v[5] > UINT32_MAX ||
		    v[6] > UINT32_MAX || v[7] > UINT32_MAX)
			return -EINVAL;
		a->pgtable.flags = (uint32_t)v[0];
		a->pgtable.fault_fd = -1;
		a->pgtable.gpgd = v[1];
		a->pgtable.gpasid = v[2];
		a->pgtable.vtd_flags = v[3];
		a->pgtable.addr_width = (uint32_t)v[4];
		a->pgtable.format = (uint32_t)v[5];
		a->pgtable.pat = (uint32_t)v[6];
		a->pgtable.emt = (uint32_t)v[7];
		break;
	case SVMD_KIND_PASID_TABLE:
		if (v[2] > UINT32_MAX || v[3] > 1 || v[4] > 255 || v[5] > 255 || v[6] > UINT32_MAX)
			return -EINVAL;
		a->table.ptr = v[0];
		a->table.size = v[1];
		a->table.model = (uint32_t)v[2];
		a->table.vsid_valid = v[3];
		a->table.s1fmt = (uint8_t)v[4];
		a->table.s1cdmax = (uint8_t)v[5];
		a->table.vsid = (uint32_t)v[6];
		a->table.event_fd = -1;
		a->table.space = NULL;
		break;
	default:
		return -EINVAL;
	}
	return (int)want;
}

static int parse_binding(char **t, size_t n, struct rec_binding *b)
{
	size_t at = 7;
	int r;

	if (n < 7 || state_u64(t[1], UINT64_MAX, &b->id) < 0 || b->id == 0 ||
	    state_u64(t[2], UINT64_MAX, &b->session) < 0 || state_u32(t[3], &b->kind) < 0 ||
	    b->kind == 0 || b->kind >= _SVMD_KIND_MAX || strlen(t[4]) >= sizeof(b->device) ||
	    state_u32(t[5], &b->pasid) < 0 || state_u64(t[6], UINT64_MAX, &b->created) < 0)
		return -EINVAL;
	memcpy(b->device, t[4], strlen(t[4]) + 1);
	if (n > at && strcmp(t[at], "-") == 0) {
		at++;
	} else {
		r = parse_args(t + at, n - at, b);
		if (r < 0)
			return r;
		at += (size_t)r;
		b->keep = true;
	}
	if (b->session == 0) {
		if (n != at + 6)
			return -EINVAL;
		return parse_identity(t + at, &b->who);
	}
	return n == at ? 0 : -EINVAL;
}

static int grow(void **arr, size_t n, size_t size)
{
	if (n % 64)
		return 0;
	void *more = realloc(*arr, (n + 64) * size);
	if (!more)
		return -ENOMEM;
	*arr = more;
	return 0;
}

/* Splits line (NUL-terminated, written to) at spaces: the number of tokens, or -EINVAL. */
static int tokens(char *line, char **t)
{
	int n = 0;

	for (char *s = strtok(line, " "); s; s = strtok(NULL, " ")) {
		if (n == TOKENS_MAX)
			return -EINVAL;
		t[n++] = s;
	}
	return n;
}

/* The first line: 0 with *version (1 to PERSIST_VERSION), or why not. */
static int parse_header(char **t, int n, uint32_t *version, char *why, size_t whylen)
{
	if (n != 2 || strcmp(t[0], "svmd-state") != 0 || state_u32(t[1], version) < 0)
		return fail(why, whylen, -EINVAL, "it is not an svmd state file");
	if (*version < 1 || *version > PERSIST_VERSION)
		return fail(why, whylen, -EPROTONOSUPPORT,
			    "it is version %u, this svmd reads versions 1 to %u", *version,
			    PERSIST_VERSION);
	return 0;
}

/* The end line: the count of the lines before it and their sum (sum as the file's version
 * made it), or why not. */
static int parse_end(char **t, int n, size_t lines, uint64_t sum, char *why, size_t whylen)
{
	uint64_t want_lines, want_sum;
	char *e;

	if (n != 3 || state_u64(t[1], UINT64_MAX, &want_lines) < 0)
		return fail(why, whylen, -EINVAL, "its end line is malformed");
	errno = 0;
	want_sum = strtoull(t[2], &e, 16);
	if (errno || *e || want_lines != lines || want_sum != sum)
		return fail(why, whylen, -EINVAL, "its checksum does not match (%zu lines)", lines);
	return 0;
}

/* A session line (n tokens t) into a new record of st: 0, -ENOMEM or -EINVAL. */
static int parse_session(char **t, int n, struct state *st)
{
	struct rec_session *s;
	int r;

	if (n != 9)
		return -EINVAL;
	if ((r = grow((void **)&st->sessions, st->n_sessions, sizeof(*s))) < 0)
		return r;
	s = &st->sessions[st->n_sessions++];
	*s = (struct rec_session){.seq = st->seq};
	if (state_u64(t[1], UINT64_MAX, &s->id) < 0 || s->id == 0 ||
	    unhex(t[2], strlen(t[2]), &s->resume) < 0 || parse_identity(t + 3, &s->who) < 0)
		return -EINVAL;
	return 0;
}

static int add_binding(char **t, int n, struct state *st)
{
	struct rec_binding *b;
	int r;

	if ((r = grow((void **)&st->bindings, st->n_bindings, sizeof(*b))) < 0)
		return r;
	b = &st->bindings[st->n_bindings++];
	*b = (struct rec_binding){.seq = st->seq};
	return parse_binding(t, (size_t)n, b) < 0 ? -EINVAL : 0;
}

/* Parses the state file text (len bytes, modified) into st, or says why not. */
static int parse_state(char *text, size_t len, struct state *st, char *why, size_t whylen)
{
	uint64_t sum = HASH_INIT, sum2 = HASH_INIT, prev = 0;
	uint32_t version = 0;
	size_t lines = 0;
	char *line = text, *t[TOKENS_MAX];
	bool ended = false;
	int n, r;

	if (memchr(text, 0, len))
		return fail(why, whylen, -EINVAL, "it holds a NUL byte");
	text[len] = 0;
	while (*line && !ended) {
		char *nl = strchr(line, '\n');
		if (!nl)
			return fail(why, whylen, -EINVAL, "line %zu is cut short", lines + 1);
		bool is_end = strncmp(line, "end ", 4) == 0;
		if (!is_end) {
			/* Version 1 summed the text, version 2 each line's hash. */
			sum = fnv(sum, line, (size_t)(nl - line) + 1);
			sum2 = fnv_hash(sum2, fnv(HASH_INIT, line, (size_t)(nl - line) + 1));
		}
		*nl = 0;
		n = tokens(line, t);
		if (n <= 0)
			return fail(why, whylen, -EINVAL, "line %zu is empty or too long",
				    lines + 1);
		if (lines == 0) {
			if ((r = parse_header(t, n, &version, why, whylen)) < 0)
				return r;
		} else if (is_end) {
			st->sum = version == 1 ? sum : sum2;
			r = parse_end(t, n, lines, st->sum, why, whylen);
			if (r < 0)
				return r;
			ended = true;
		} else if (strcmp(t[0], "generation") == 0 && n == 2) {
			if (state_u64(t[1], UINT64_MAX / 2, &st->generation) < 0)
				return fail(why, whylen, -EINVAL, "line %zu: bad generation",
					    lines + 1);
		} else if (strcmp(t[0], "serial") == 0 && n == 2 && version >= 3) {
			uint64_t serial;
			if (state_u64(t[1], UINT64_MAX, &serial) < 0)
				return fail(why, whylen, -EINVAL, "line %zu: bad serial",
					    lines + 1);
		} else if (strcmp(t[0], "session") == 0) {
			st->seq++;
			r = parse_session(t, n, st);
			if (r == -ENOMEM)
				return r;
			if (r < 0 ||
			    (st->n_sessions > 1 && st->sessions[st->n_sessions - 1].id <=
							   st->sessions[st->n_sessions - 2].id))
				return fail(why, whylen, -EINVAL, "line %zu: a malformed session",
					    lines + 1);
		} else if (strcmp(t[0], "binding") == 0) {
			st->seq++;
			r = add_binding(t, n, st);
			if (r == -ENOMEM)
				return r;
			if (r < 0 || st->bindings[st->n_bindings - 1].id <= prev)
				return fail(why, whylen, -EINVAL, "line %zu: a malformed binding",
					    lines + 1);
			prev = st->bindings[st->n_bindings - 1].id;
		} else {
			return fail(why, whylen, -EINVAL, "line %zu is not one svmd writes",
				    lines + 1);
		}
		lines += !is_end;
		line = nl + 1;
	}
	if (!ended)
		return fail(why, whylen, -EINVAL, "it has no end line (cut short)");
	if (*line)
		return fail(why, whylen, -EINVAL, "it goes on after its end line");
	st->version = version;
	return 0;
}

/* A tombstone: the journal's "drop KIND ID". */
static int parse_drop(char **t, int n, struct state *st)
{
	uint64_t id;
	int r;

	if (n != 3 || state_u64(t[2], UINT64_MAX, &id) < 0 || id == 0)
		return -EINVAL;
	if (strcmp(t[1], "session") == 0) {
		if ((r = grow((void **)&st->sessions, st->n_sessions, sizeof(struct rec_session))) <
		    0)
			return r;
		st->sessions[st->n_sessions++] =
			(struct rec_session){.id = id, .seq = st->seq, .dropped = true};
		return 0;
	}
	if (strcmp(t[1], "binding") != 0)
		return -EINVAL;
	if ((r = grow((void **)&st->bindings, st->n_bindings, sizeof(struct rec_binding))) < 0)
		return r;
	st->bindings[st->n_bindings++] =
		(struct rec_binding){.id = id, .seq = st->seq, .dropped = true};
	return 0;
}

/* One line of a journal batch (tokens t), into st; *gen takes a generation line. */
static int journal_line(char **t, int n, struct state *st, uint64_t *gen)
{
	st->seq++;
	if (strcmp(t[0], "session") == 0)
		return parse_session(t, n, st);
	if (strcmp(t[0], "binding") == 0)
		return add_binding(t, n, st);
	if (strcmp(t[0], "drop") == 0)
		return parse_drop(t, n, st);
	if (strcmp(t[0], "generation") == 0 && n == 2)
		return state_u64(t[1], UINT64_MAX / 2, gen);
	return -EINVAL;
}

/* The journal's first line: 1 when it follows st's file, 0 when it is stale. */
static int journal_header(char **t, int n, const struct state *st, char *why, size_t whylen)
{
	char *e;

	if (n != 3 || strcmp(t[0], "svmd-journal") != 0 || strcmp(t[1], "1") != 0)
		return fail(why, whylen, -EINVAL, "its journal is not one svmd writes");
	errno = 0;
	uint64_t sum = strtoull(t[2], &e, 16);
	return !errno && !*e && sum == st->sum;
}

/* Applies the journal (len bytes of text, modified) that follows st's file, batch by batch; a
 * last batch cut short is left out. */
static int parse_journal(char *text, size_t len, struct state *st, char *why, size_t whylen)
{
	char *line = text, *nl, *t[TOKENS_MAX];
	uint64_t sum = st->sum, gen = st->generation;
	size_t lines = 0, batch = 1, n_sessions = st->n_sessions, n_bindings = st->n_bindings;
	int n, r;

	if (memchr(text, 0, len))
		return fail(why, whylen, -EINVAL, "its journal holds a NUL byte");
	text[len] = 0;
	if (!(nl = strchr(line, '\n')))
		return fail(why, whylen, -EINVAL, "its journal has no header");
	*nl = 0;
	r = journal_header(t, tokens(line, t), st, why, whylen);
	if (r <= 0)
		return r; /* stale: the file was replaced after it, before a new one was made */
	for (line = nl + 1; *line && (nl = strchr(line, '\n')); line = nl + 1) {
		uint64_t h = fnv(HASH_INIT, line, (size_t)(nl - line) + 1), want_lines, want_sum;
		char *e;
		*nl = 0;
		if ((n = tokens(line, t)) <= 0)
			return fail(why, whylen, -EINVAL,
				    "its journal's batch %zu has an empty line", batch);
		if (strcmp(t[0], "commit") != 0) {
			sum = fnv_hash(sum, h);
			lines++;
			if ((r = journal_line(t, n, st, &gen)) == -ENOMEM)
				return r;
			if (r < 0)
				return fail(why, whylen, -EINVAL,
					    "its journal's batch %zu has a malformed line", batch);
			continue;
		}
		errno = 0;
		want_sum = n == 3 ? strtoull(t[2], &e, 16) : 0;
		if (n != 3 || errno || *e || state_u64(t[1], UINT64_MAX, &want_lines) < 0 ||
		    want_lines != lines || want_sum != sum)
			return fail(why, whylen, -EINVAL,
				    "its journal's batch %zu does not match its commit line",
				    batch);
		st->generation = gen;
		n_sessions = st->n_sessions;
		n_bindings = st->n_bindings;
		lines = 0;
		batch++;
	}
	/* What a batch without its commit line added. */
	while (st->n_sessions > n_sessions)
		rec_session_done(&st->sessions[--st->n_sessions]);
	while (st->n_bindings > n_bindings)
		identity_done(&st->bindings[--st->n_bindings].who);
	return 0;
}

static int by_id_seq(uint64_t a, size_t sa, uint64_t b, size_t sb)
{
	if (a != b)
		return a < b ? -1 : 1;
	return sa < sb ? -1 : sa > sb;
}

static int rec_session_cmp(const void *a, const void *b)
{
	const struct rec_session *x = a, *y = b;

	return by_id_seq(x->id, x->seq, y->id, y->seq);
}

static int rec_binding_cmp(const void *a, const void *b)
{
	const struct rec_binding *x = a, *y = b;

	return by_id_seq(x->id, x->seq, y->id, y->seq);
}

/* The journal applied: of each id's records the last, unless it drops the id; in id order. */
static void merge(struct state *st)
{
	size_t k = 0;

	if (st->n_sessions) /* (qsort() takes no NULL, even for nothing) */
		qsort(st->sessions, st->n_sessions, sizeof(*st->sessions), rec_session_cmp);
	for (size_t i = 0; i < st->n_sessions; i++) {
		struct rec_session *s = &st->sessions[i];
		if ((i + 1 < st->n_sessions && s[1].id == s->id) || s->dropped)
			rec_session_done(s);
		else
			st->sessions[k++] = *s;
	}
	st->n_sessions = k;
	k = 0;
	if (st->n_bindings)
		qsort(st->bindings, st->n_bindings, sizeof(*st->bindings), rec_binding_cmp);
	for (size_t i = 0; i < st->n_bindings; i++) {
		struct rec_binding *b = &st->bindings[i];
		if ((i + 1 < st->n_bindings && b[1].id == b->id) || b->dropped)
			identity_done(&b->who);
		else
			st->bindings[k++] = *b;
	}
	st->n_bindings = k;
}

/* A file of the state directory, whole, into a malloc'd buffer one byte longer: 1, 0 when
 * there is none, or a negative errno with why. */
static int read_file(int dir, const char *name, const char *what, char **ret, size_t *ret_len,
		     char *why, size_t whylen)
{
	_cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *text = NULL;
	struct stat sb;
	ssize_t n;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &sb) < 0)
		return fail(why, whylen, -errno, "cannot read %s: %s", what, strerror(errno));
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > STATE_MAX)
		return fail(why, whylen, -EINVAL, "%s is not a regular file of at most %u MiB",
			    what, STATE_MAX >> 20);
	text = malloc((size_t)sb.st_size + 1);
	if (!text)
		return -ENOMEM;
	n = pread(fd, text, (size_t)sb.st_size, 0);
	if (n != sb.st_size)
		return fail(why, whylen, -EIO, "cannot read %s whole", what);
	*ret = TAKE_PTR(text);
	*ret_len = (size_t)n;
	return 1;
}

/* Reads the state file and its journal: 1 with st filled, 0 when there is none, or a
 * negative errno with why. */
static int read_state(int dir, struct state *st, char *why, size_t whylen)
{
	_cleanup_free_ char *text = NULL, *journal = NULL;
	size_t len = 0, jlen = 0;
	int r = read_file(dir, PERSIST_FILE, "it", &text, &len, why, whylen);

	if (r <= 0)
		return r;
	r = parse_state(text, len, st, why, whylen);
	if (r < 0 || st->version < 3)
		return r < 0 ? r : 1;
	r = read_file(dir, PERSIST_JOURNAL, "its journal", &journal, &jlen, why, whylen);
	if (r > 0)
		r = parse_journal(journal, jlen, st, why, whylen);
	if (r < 0)
		return r;
	merge(st);
	return 1;
}

int persist_read(int dir, size_t *ret_sessions, size_t *ret_bindings, char *why, size_t whylen)
{
	struct state st = {0};
	int r = read_state(dir, &st, why, whylen);

	*ret_sessions = st.n_sessions;
	*ret_bindings = st.n_bindings;
	state_done(&st);
	return r;
}

/* Adopting. */

struct tally {
	size_t kept, released, sessions_kept, sessions_ended;
	size_t gone_session, gone_lease, gone_process, not_kept, not_in_kernel, revoked;
	size_t unrecorded; /* connections served as new */
};

static int make_identity(struct rec_identity *w, int pidfd, struct identity **ret)
{
	_cleanup_(identity_unrefp) struct identity *id = NULL;
	int r = identity_new(w->uid, w->gid, w->pid, &id);

	if (r == 0)
		r = identity_set_groups(id, w->groups, w->n_groups);
	if (r == 0)
		r = identity_set_exe(id, w->exe);
	if (r == 0 && w->has_units)
		r = identity_set_units(id, (const char *const *)w->units);
	if (r < 0) {
		safe_close(pidfd);
		return r;
	}
	id->pidfd = pidfd;
	*ret = TAKE_PTR(id);
	return 0;
}

/* Whether a pidfd's process still runs. */
static bool alive(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return pidfd >= 0 && poll(&pfd, 1, 0) == 0;
}

/* A release record for a binding the next svmd cannot or need not keep, without making it. */
static void record_release(struct core *c, const struct rec_binding *b,
			   const struct identity *owner, enum end_reason why)
{
	const struct device *dev = backend_find_device(c->backend, b->device);

	c->ending = (int)why + 1;
	core_audit(c, AUDIT_RELEASE, owner, core_kind_op_name(b->kind), dev, b->pasid, NULL, b->id,
		   0, end_reason_name(why));
	c->ending = 0;
}

static bool claimed(void *userdata, const struct device *dev, uint32_t slot)
{
	struct core *c = userdata;

	return registry_find_pasid(c->registry, dev, slot) != NULL;
}

/* Makes the sessions the state names (their owners as recorded, pinned again by their stored
 * pidfds); a front-end resumes each below. */
static void adopt_sessions(struct persist *p, struct state *st)
{
	char name[PERSIST_NAME_MAX];

	for (size_t i = 0; i < st->n_sessions; i++) {
		struct rec_session *rs = &st->sessions[i];
		_cleanup_(identity_unrefp) struct identity *who = NULL;
		int pin = take_fdf(p, name, "svmd-pin-%" PRIu64, rs->id);

		if (make_identity(&rs->who, pin, &who) < 0 ||
		    registry_session_adopt(p->core->registry, who, 0, rs->id, &rs->s) < 0) {
			rs->s = NULL;
			continue;
		}
		/* Out of memory the next restart ends it; this one still resumes it. */
		(void)registry_session_set_resume(rs->s, rs->resume);
		if (who->pidfd >= 0) {
			rs->s->n_fds = 1;
			registry_charge_fds(p->core->registry, rs->s->user, 1);
		}
	}
}

static int session_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct rec_session *)a)->id, y = ((const struct rec_session *)b)->id;

	return x < y ? -1 : x > y;
}

/* The sessions are in id order (parse_state() checks): one lookup per binding. */
static struct rec_session *find_session(struct state *st, uint64_t id)
{
	struct rec_session key = {.id = id};

	return st->n_sessions
		       ? bsearch(&key, st->sessions, st->n_sessions, sizeof(key), session_cmp)
		       : NULL;
}

/* Takes a released binding's process and lease fds out of the store. */
static void forget_anchors(struct persist *p, uint64_t id)
{
	persist_store_id(p, "proc", id, -1);
	persist_store_id(p, "lease", id, -1);
}

/* The bindings: those the kernel still holds, whose owners and anchors are here, are made
 * again; the others get their release record. */
static void adopt_bindings(struct persist *p, struct state *st, struct tally *t)
{
	struct core *c = p->core;
	char name[PERSIST_NAME_MAX];

	for (size_t i = 0; i < st->n_bindings; i++) {
		struct rec_binding *rb = &st->bindings[i];
		struct rec_session *rs = rb->session ? find_session(st, rb->session) : NULL;
		_cleanup_(identity_unrefp) struct identity *owner = NULL;
		_cleanup_close_ int lease = take_fdf(p, name, "svmd-lease-%" PRIu64, rb->id);
		_cleanup_close_ int proc = take_fdf(p, name, "svmd-proc-%" PRIu64, rb->id);
		const struct device *dev = backend_find_device(c->backend, rb->device);
		enum end_reason why = END_SHUTDOWN;
		struct binding *b;

		if (rs && rs->s)
			owner = identity_ref(rs->s->owner);
		else if (!rb->session && make_identity(&rb->who, -1, &owner) < 0)
			owner = NULL;
		else if (rs && make_identity(&rs->who, -1, &owner) < 0)
			owner = NULL; /* for the record: its session could not be made again */
		if (rb->session && !(rs && rs->s)) {
			/* Its session's record is missing or could not be made. */
			why = END_SESSION;
			t->gone_session++;
		} else if (!owner) {
			t->not_kept++;
		} else if (!rb->keep || !dev) {
			t->not_kept++;
		} else if (!c->backend->ops->holds(c->backend, dev, &rb->args)) {
			t->not_in_kernel++;
		} else if (!rb->session && lease < 0) {
			why = END_LEASE;
			t->gone_lease++;
		} else if (rb->kind == SVMD_KIND_TASK && !alive(proc)) {
			why = END_PROCESS;
			t->gone_process++;
		} else if ((b = registry_adopt(c->registry, rb->session ? rs->s : NULL, owner, dev,
					       &rb->args, rb->id, rb->created))) {
			b->committed = 1;
			if (proc >= 0 && lifetime_watch_process(c->lifetime, b, proc) == 0)
				TAKE_FD(proc);
			if (lease >= 0 && lifetime_adopt_lease(c->lifetime, b, lease) == 0)
				TAKE_FD(lease);
			if (proc >= 0 || lease >= 0) {
				/* Out of memory watching it: it cannot be kept. */
				core_end_binding(c, b, END_SHUTDOWN);
				forget_anchors(p, rb->id);
				t->released++;
			}
			continue;
		}
		record_release(c, rb, owner, why);
		/* systemd's copies go too: a lease's holder hears EOF only once none is left. */
		forget_anchors(p, rb->id);
		if (rs && rs->s)
			registry_session_note_ended(rs->s, rb->id, why);
		t->released++;
	}
}

/* Each adopted session goes back to its front-end, or ends (its client left meanwhile). */
static void resume_sessions(struct persist *p, struct state *st, const struct persist_frontends *fe,
			    struct tally *t)
{
	char name[PERSIST_NAME_MAX];

	for (size_t i = 0; i < st->n_sessions; i++) {
		struct rec_session *rs = &st->sessions[i];
		int r = -ENOENT;

		if (!rs->s)
			continue;
		if (strncmp(rs->resume, "socket ", 7) == 0 && fe->socket) {
			int fd = take_fdf(p, name, "svmd-conn-%" PRIu64, rs->id);
			r = fd < 0 ? -ENOENT
				   : fe->socket(fe->socket_userdata, rs->s, fd, rs->resume);
			if (r < 0) {
				safe_close(fd);
				persist_store(p, name, -1);
			}
		} else if (strncmp(rs->resume, "bus ", 4) == 0 && fe->bus) {
			r = fe->bus(fe->bus_userdata, rs->s, rs->resume);
		}
		if (r == 0) {
			t->sessions_kept++;
			continue;
		}
		log_debug("Session %" PRIu64 " (uid %u) did not come back: %s.", rs->id,
			  (unsigned)rs->who.uid, strerror(-r));
		t->sessions_ended++;
		t->gone_session += rs->s->n_bindings;
		t->released += rs->s->n_bindings;
		ops_session_end(p->core, rs->s);
		rs->s = NULL;
	}
}

/* The connections the last svmd had accepted but not yet written down (it died first: none
 * has had a reply) are served as new ones, under new sessions and names. Returns how many. */
/* New sessions get ids above every one the stored fds name, so that no fd store name is used
 * twice (the last svmd may have had sessions the state does not name yet). */
static void session_ids_above_stored(struct persist *p)
{
	static const char *const prefixes[] = {"svmd-conn-", "svmd-pin-", "svmd-reply-"};

	hashmap_for_each_safe (e, &p->fds) {
		struct stored *x = container_of(e, struct stored, node);
		for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
			size_t n = strlen(prefixes[i]);
			char *end;
			if (strncmp(x->name, prefixes[i], n) != 0)
				continue;
			errno = 0;
			unsigned long long id = strtoull(x->name + n, &end, 10);
			if (!errno && end != x->name + n)
				registry_session_ids_above(p->core->registry, id);
		}
	}
}

static size_t take_unrecorded(struct persist *p, struct state *st,
			      const struct persist_frontends *fe)
{
	size_t n = 0;

	if (!fe->socket_new)
		return 0;
	hashmap_for_each_safe (e, &p->fds) {
		struct stored *x = container_of(e, struct stored, node);
		uint64_t id;
		if (strncmp(x->name, "svmd-conn-", 10) != 0 ||
		    state_u64(x->name + 10, UINT64_MAX, &id) < 0 || find_session(st, id))
			continue;
		int fd = x->fd;
		persist_store(p, x->name, -1);
		hashmap_remove(&p->fds, e);
		free(x);
		fe->socket_new(fe->socket_userdata, fd);
		n++;
	}
	return n;
}

/* Closes the stored fds nothing claimed, and takes them out of the store. */
static size_t drop_leftovers(struct persist *p)
{
	size_t n = 0;

	hashmap_for_each_safe (e, &p->fds) {
		struct stored *x = container_of(e, struct stored, node);
		safe_close(x->fd);
		persist_store(p, x->name, -1);
		hashmap_remove(&p->fds, e);
		free(x);
		n++;
	}
	return n;
}

static void report(const struct tally *t, const char *rejected, size_t leftovers)
{
	char msg[768], unrecorded[96] = "";

	if (t->unrecorded)
		snprintf(unrecorded, sizeof(unrecorded),
			 "; %zu connections not yet recorded served as new", t->unrecorded);

	if (rejected)
		snprintf(msg, sizeof(msg),
			 "State not adopted: %s; starting clean (%zu stored file descriptors "
			 "closed).",
			 rejected, leftovers);
	else
		snprintf(msg, sizeof(msg),
			 "State adopted: %zu bindings kept, %zu released (%zu of sessions that "
			 "ended, %zu leases closed, %zu processes exited, %zu the backend cannot "
			 "keep, %zu no longer in the kernel, %zu revoked); %zu sessions kept, %zu "
			 "ended; %zu stored file descriptors unclaimed%s.",
			 t->kept, t->released, t->gone_session, t->gone_lease, t->gone_process,
			 t->not_kept, t->not_in_kernel, t->revoked, t->sessions_kept,
			 t->sessions_ended, leftovers, unrecorded);
	/* The journal, where there is one (with its fields); else a line like any other. */
	if (access("/run/systemd/journal/socket", F_OK) == 0 &&
	    sd_journal_send("MESSAGE=%s", msg, "MESSAGE_ID=" ADOPT_MESSAGE_ID, "PRIORITY=5",
			    "SVMD_KEPT_BINDINGS=%zu", t->kept, "SVMD_RELEASED_BINDINGS=%zu",
			    t->released, "SVMD_KEPT_SESSIONS=%zu", t->sessions_kept,
			    "SVMD_ENDED_SESSIONS=%zu", t->sessions_ended,
			    rejected ? "SVMD_STATE_REJECTED=%s" : NULL, rejected, NULL) >= 0)
		return;
	log_notice("%s", msg);
}

void persist_adopt(struct persist *p, const struct persist_frontends *fe)
{
	struct core *c = p->core;
	struct backend *be = c->backend;
	struct state st = {0};
	struct tally t = {0};
	char why[256] = "", kwhy[256] = "";
	int fd, r;

	/* The kernel's state the last svmd kept, then the record of what it held. */
	fd = take_fd(p, "svmd-sim");
	if (fd >= 0 && be->ops->adopt && (r = be->ops->adopt(be, fd, kwhy, sizeof(kwhy))) < 0) {
		log_warning("The %s backend's state from the last svmd is not usable (%s): it "
			    "starts empty.",
			    be->ops->name, kwhy);
		if (p->store) /* at once: a new one is stored under the same name below */
			notify_store("svmd-sim", -1);
	} else if (fd >= 0 && !be->ops->adopt) {
		safe_close(fd);
	}
	session_ids_above_stored(p);
	r = read_state(c->state_fd, &st, why, sizeof(why));
	if (r <= 0) {
		/* Nothing to adopt, or nothing that can be trusted: what the kernel still holds
		 * for the last svmd is released, and every fd it stored closed. */
		if (be->ops->release_unclaimed)
			be->ops->release_unclaimed(be, claimed, c);
		size_t n = drop_leftovers(p);
		if (r < 0)
			report(&t, why, n);
		else if (n)
			log_info("No state file: %zu stored file descriptors from an earlier svmd "
				 "closed.",
				 n);
	} else {
		if (st.generation >= c->generation)
			c->generation = st.generation + 1;
		adopt_sessions(p, &st);
		adopt_bindings(p, &st, &t);
		if (be->ops->release_unclaimed)
			be->ops->release_unclaimed(be, claimed, c);
		resume_sessions(p, &st, fe, &t);
		t.unrecorded = take_unrecorded(p, &st, fe);
		t.revoked = ops_decide_adopted(c);
		t.released += t.revoked;
		t.kept = registry_n_bindings(c->registry);
		report(&t, NULL, drop_leftovers(p));
	}
	state_done(&st);
	if (be->ops->state_fd) {
		fd = be->ops->state_fd(be);
		if (fd < 0)
			log_warning_errno(fd,
					  "Cannot keep the %s backend's state for a restart: %m.",
					  be->ops->name);
		else
			persist_store(p, "svmd-sim", fd);
	}
	p->forced = true;
	persist_flush(p);
}
