/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Audit records; see audit.h. The MESSAGE_IDs never change: tools and the catalog match on
 * them. Both sinks carry the same fields, built once per record.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "audit.h"
#include "cleanup.h"

static const struct {
	const char *name;
	const char *message_id;
	int priority;
	const char *verdict; /* what policy said, for this event */
} events[_AUDIT_EVENT_MAX] = {
	[AUDIT_GRANT] = {"grant", "4cd1d4d4891e41ad98ef60f8b1c643d8", LOG_INFO, "allow"},
	[AUDIT_DENY] = {"deny", "a8f0a104128347bb8d002e1127dea1eb", LOG_NOTICE, "deny"},
	[AUDIT_FAIL] = {"fail", "16b6a755e559466fa4b4a6a88139053c", LOG_WARNING, "allow"},
	[AUDIT_RELEASE] = {"release", "a8730116b6e849dfa6234d3a985b9870", LOG_INFO, NULL},
	[AUDIT_RELOAD] = {"reload", "a3e6f793c95a40f1b356e679643ce548", LOG_NOTICE, NULL},
};

static enum audit_sink sink = AUDIT_SINK_AUTO;

void audit_set_sink(enum audit_sink s)
{
	sink = s;
}

const char *audit_event_name(enum audit_event e)
{
	return e >= 0 && e < _AUDIT_EVENT_MAX ? events[e].name : "unknown";
}

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

enum audit_sink audit_sink_resolve(const char **ret_why)
{
	bool there = access(JOURNAL_SOCKET, F_OK) == 0;

	*ret_why = NULL;
	if (sink == AUDIT_SINK_AUTO) {
		sink = there ? AUDIT_SINK_JOURNAL : AUDIT_SINK_STDERR;
		if (!there)
			*ret_why = "No journal (" JOURNAL_SOCKET " is not there)";
	} else if (sink == AUDIT_SINK_JOURNAL && !there) {
		/* Asked for, and not there: sd_journal_sendv() would fail on every record. */
		sink = AUDIT_SINK_STDERR;
		*ret_why = "--audit=journal, but the journal is not running (" JOURNAL_SOCKET
			   " is not there)";
	}
	return sink;
}

static bool use_journal(void)
{
	const char *why;

	if (sink == AUDIT_SINK_AUTO)
		(void)audit_sink_resolve(&why);
	return sink == AUDIT_SINK_JOURNAL;
}

#define MAX_FIELDS     20
#define VALUE_MAX      511 /* bytes of one value that are recorded */
#define AUDIT_LINE_MAX 8192

/* A record's fields. Built for every grant and release, so nothing is cleared or formatted
 * that the record does not use: values point at the record's own strings, numbers and the
 * rule are written into num[] and rule[]. `plain` marks values that cannot need quoting
 * (numbers, svmd's own words, canonical device names), so only the others are scanned. */
struct fields {
	const char *key[MAX_FIELDS];
	const char *value[MAX_FIELDS];
	size_t len[MAX_FIELDS];
	bool plain[MAX_FIELDS];
	size_t n;
	char num[MAX_FIELDS][24];
	char rule[VALUE_MAX + 1];
};

static void add_value(struct fields *f, const char *key, const char *value, size_t len, bool plain)
{
	if (f->n == MAX_FIELDS)
		return;
	f->key[f->n] = key;
	f->value[f->n] = value;
	f->len[f->n] = len > VALUE_MAX ? VALUE_MAX : len;
	f->plain[f->n] = plain && len > 0;
	f->n++;
}

/* A string from outside (a path, a unit, a reason): quoted if it needs it. */
static void add_str(struct fields *f, const char *key, const char *value)
{
	add_value(f, key, value, strlen(value), false);
}

/* One of svmd's own words ("grant", "bind-task", a canonical device name). */
static void add_word(struct fields *f, const char *key, const char *value)
{
	add_value(f, key, value, strlen(value), true);
}

/* Writes v in decimal, ending at end; returns where it starts. */
static char *utoa(uint64_t v, char *end)
{
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10));
	return end;
}

static void add_num(struct fields *f, const char *key, bool negative, uint64_t v)
{
	char *end, *p;

	if (f->n == MAX_FIELDS)
		return;
	end = f->num[f->n] + sizeof(f->num[f->n]);
	p = utoa(v, end);
	if (negative)
		*--p = '-';
	add_value(f, key, p, (size_t)(end - p), true);
}

static void add_uint(struct fields *f, const char *key, uint64_t v)
{
	add_num(f, key, false, v);
}

static void add_int(struct fields *f, const char *key, int v)
{
	add_num(f, key, v < 0, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

/* FILE:LINE, as "%s:%u" would write it, capped like any value. */
static void add_rule(struct fields *f, const char *file, unsigned line)
{
	char digits[16], *d = utoa(line, digits + sizeof(digits));
	size_t n = strlen(file), k = (size_t)(digits + sizeof(digits) - d);

	if (n > VALUE_MAX)
		n = VALUE_MAX;
	memcpy(f->rule, file, n);
	if (n < VALUE_MAX)
		f->rule[n++] = ':';
	if (k > VALUE_MAX - n)
		k = VALUE_MAX - n;
	memcpy(f->rule + n, d, k);
	add_value(f, "RULE", f->rule, n + k, false);
}

/* One stderr line being built; what does not fit is dropped (it still ends with "\n"). */
struct line {
	char buf[AUDIT_LINE_MAX];
	size_t n;
};

static void put(struct line *l, const char *s, size_t len)
{
	size_t room = sizeof(l->buf) - 2 - l->n; /* as before: at most 8190 bytes, then "\n" */

	if (len > room)
		len = room;
	memcpy(l->buf + l->n, s, len);
	l->n += len;
}

static bool plain_char(char c)
{
	return c > 0x20 && c != '"' && c != '\\' && c != '=' && c != 0x7f;
}

/* Writes s as is when it is one plain word, else quoted with " and \ escaped and control
 * characters as \xNN. */
static void put_value(struct line *l, const char *s, size_t len, bool plain)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, from;

	for (i = 0; !plain && i < len && plain_char(s[i]); i++)
		;
	if (plain || (len > 0 && i == len)) {
		put(l, s, len);
		return;
	}
	put(l, "\"", 1);
	for (i = from = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
			continue;
		put(l, s + from, i - from);
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(l, e, 2);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
			put(l, e, 4);
		}
		from = i + 1;
	}
	put(l, s + from, len - from);
	put(l, "\"", 1);
}

/* Records held by audit_hold(), whole lines. */
static struct {
	bool on;
	size_t n;
	char buf[64 * 1024];
} held;

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(STDERR_FILENO, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return; /* nowhere to write to: as with a single record, nothing more to do
				 */
		p += k;
		n -= (size_t)k;
	}
}

/* Writes the held lines, in writes of at most PIPE_BUF bytes that end at a line's end (a line
 * longer than that goes alone, as it always did). */
static void write_held(void)
{
	size_t off = 0;

	while (off < held.n) {
		const char *p = held.buf + off, *nl;
		size_t len = held.n - off;
		if (len > PIPE_BUF) {
			nl = memrchr(p, '\n', PIPE_BUF);
			if (!nl)
				nl = memchr(p + PIPE_BUF, '\n', len - PIPE_BUF);
			len = (size_t)(nl - p) + 1;
		}
		write_all(p, len);
		off += len;
	}
	held.n = 0;
}

void audit_hold(void)
{
	held.on = true;
}

void audit_flush(void)
{
	write_held();
	held.on = false;
}

static void log_stderr(const struct fields *fl)
{
	struct line l;

	l.n = 0;
	put(&l, "svmd-audit:", strlen("svmd-audit:"));
	for (size_t i = 0; i < fl->n; i++) {
		char key[24];
		size_t k = strlen(fl->key[i]);
		key[0] = ' ';
		memcpy(key + 1, fl->key[i], k);
		key[k + 1] = '=';
		put(&l, key, k + 2);
		put_value(&l, fl->value[i], fl->len[i], fl->plain[i]);
	}
	l.buf[l.n++] = '\n';
	if (held.on) {
		if (held.n + l.n > sizeof(held.buf))
			write_held();
		memcpy(held.buf + held.n, l.buf, l.n);
		held.n += l.n;
		return;
	}
	/* One write(2) per record so concurrent writers never interleave within a line. */
	write_all(l.buf, l.n);
}

static int log_journal(const struct audit_record *r, const struct fields *fl)
{
	char message[1024], strings[MAX_FIELDS + 3][1040];
	struct iovec iov[MAX_FIELDS + 3];
	size_t n = 0;

	snprintf(message, sizeof(message), "%s %s uid=%u device=%s pasid=%" PRIu32 "%s%s",
		 events[r->event].name, r->op, r->who ? (unsigned)r->who->uid : 0u,
		 r->device ? r->device : "-", r->pasid, r->reason ? ": " : "",
		 r->reason ? r->reason : "");
	snprintf(strings[n], sizeof(strings[n]), "MESSAGE=%s", message);
	n++;
	snprintf(strings[n], sizeof(strings[n]), "MESSAGE_ID=%s", events[r->event].message_id);
	n++;
	snprintf(strings[n], sizeof(strings[n]), "PRIORITY=%d", events[r->event].priority);
	n++;
	for (size_t i = 0; i < fl->n; i++, n++)
		snprintf(strings[n], sizeof(strings[n]), "SVMD_%s=%.*s", fl->key[i],
			 (int)fl->len[i], fl->value[i]);
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){strings[i], strlen(strings[i])};
	return sd_journal_sendv(iov, (int)n);
}

void audit_log(const struct audit_record *r)
{
	const struct identity *w = r->who;
	struct fields fl;

	fl.n = 0;
	add_word(&fl, "EVENT", events[r->event].name);
	/* A failure before any rule was consulted (a bad pidfd, say) had no verdict. */
	if (events[r->event].verdict && !(r->event == AUDIT_FAIL && !r->rule_file))
		add_word(&fl, "VERDICT", events[r->event].verdict);
	add_uint(&fl, "UID", w ? w->uid : 0);
	add_uint(&fl, "GID", w ? w->gid : 0);
	add_int(&fl, "PID", w ? (int)w->pid : 0);
	if (w && w->units && w->units[0])
		add_str(&fl, "UNIT", w->units[0]);
	if (w && w->exe)
		add_str(&fl, "EXE", w->exe);
	add_str(&fl, "OP", r->op);
	if (r->device)
		add_str(&fl, "DEVICE", r->device);
	if (r->pasid)
		add_uint(&fl, "PASID", r->pasid);
	if (r->binding)
		add_uint(&fl, "BINDING", r->binding);
	if (r->rule_file)
		add_rule(&fl, r->rule_file, r->rule_line);
	else
		add_word(&fl, "RULE", "none");
	add_word(&fl, "RESULT", r->error ? "error" : "ok");
	add_int(&fl, "ERRNO", r->error);
	add_uint(&fl, "GENERATION", r->generation);
	if (r->reason)
		add_str(&fl, "REASON", r->reason);

	if (use_journal()) {
		if (log_journal(r, &fl) >= 0)
			return;
		/* The journal went away: fall back rather than lose the record, and say so (the
		 * line goes where the records now go). */
		sink = AUDIT_SINK_STDERR;
		fprintf(stderr,
			"svmd: warning: the journal refused an audit record; audit records go "
			"to stderr from now on.\n");
	}
	log_stderr(&fl);
}
