/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Audit records; see audit.h. The MESSAGE_IDs never change: tools and the catalog match on
 * them. Both sinks carry the same fields, built once per record.
 */
#include <errno.h>
#include <inttypes.h>
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

static bool use_journal(void)
{
	if (sink == AUDIT_SINK_AUTO)
		sink = access("/run/systemd/journal/socket", F_OK) == 0 ? AUDIT_SINK_JOURNAL
									: AUDIT_SINK_STDERR;
	return sink == AUDIT_SINK_JOURNAL;
}

#define MAX_FIELDS 20

struct fields {
	const char *key[MAX_FIELDS];
	char value[MAX_FIELDS][512];
	size_t n;
};

static _printf_(3, 4) void add(struct fields *f, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (f->n == MAX_FIELDS)
		return;
	f->key[f->n] = key;
	va_start(ap, fmt);
	vsnprintf(f->value[f->n], sizeof(f->value[f->n]), fmt, ap);
	va_end(ap);
	f->n++;
}

/* Writes s with quotes and escapes when it holds spaces, quotes or control characters. */
static void put_value(FILE *f, const char *s)
{
	bool plain = s[0] != 0;

	for (const char *p = s; plain && *p; p++)
		plain = *p > 0x20 && *p != '"' && *p != '\\' && *p != '=' && *p != 0x7f;
	if (plain) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void log_stderr(const struct fields *fl)
{
	char line[8192];
	FILE *f = fmemopen(line, sizeof(line) - 1, "w");

	if (!f)
		return;
	fputs("svmd-audit:", f);
	for (size_t i = 0; i < fl->n; i++) {
		fprintf(f, " %s=", fl->key[i]);
		put_value(f, fl->value[i]);
	}
	fputc('\n', f);
	fclose(f);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = 0;
	/* One write(2) per record so concurrent writers never interleave within a line. */
	ssize_t k = write(STDERR_FILENO, line, strlen(line));
	(void)k;
}

static int log_journal(const struct audit_record *r, const struct fields *fl)
{
	char message[1024], strings[MAX_FIELDS + 3][1040];
	struct iovec iov[MAX_FIELDS + 3];
	size_t n = 0;

	snprintf(message, sizeof(message), "%s %s uid=%u device=%s pasid=%" PRIu32 "%s%s",
		 events[r->event].name, r->op, (unsigned)r->uid, r->device ? r->device : "-",
		 r->pasid, r->reason ? ": " : "", r->reason ? r->reason : "");
	snprintf(strings[n], sizeof(strings[n]), "MESSAGE=%s", message);
	n++;
	snprintf(strings[n], sizeof(strings[n]), "MESSAGE_ID=%s", events[r->event].message_id);
	n++;
	snprintf(strings[n], sizeof(strings[n]), "PRIORITY=%d", events[r->event].priority);
	n++;
	for (size_t i = 0; i < fl->n; i++, n++)
		snprintf(strings[n], sizeof(strings[n]), "SVMD_%s=%s", fl->key[i], fl->value[i]);
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){strings[i], strlen(strings[i])};
	return sd_journal_sendv(iov, (int)n);
}

void audit_log(const struct audit_record *r)
{
	struct fields fl = {.n = 0};

	add(&fl, "EVENT", "%s", events[r->event].name);
	/* A failure before any rule was consulted (a bad pidfd, say) had no verdict. */
	if (events[r->event].verdict && !(r->event == AUDIT_FAIL && !r->rule_file))
		add(&fl, "VERDICT", "%s", events[r->event].verdict);
	add(&fl, "UID", "%u", (unsigned)r->uid);
	add(&fl, "GID", "%u", (unsigned)r->gid);
	add(&fl, "PID", "%d", (int)r->pid);
	if (r->unit)
		add(&fl, "UNIT", "%s", r->unit);
	if (r->exe)
		add(&fl, "EXE", "%s", r->exe);
	add(&fl, "OP", "%s", r->op);
	if (r->device)
		add(&fl, "DEVICE", "%s", r->device);
	if (r->pasid)
		add(&fl, "PASID", "%" PRIu32, r->pasid);
	if (r->binding)
		add(&fl, "BINDING", "%" PRIu64, r->binding);
	if (r->rule_file)
		add(&fl, "RULE", "%s:%u", r->rule_file, r->rule_line);
	else
		add(&fl, "RULE", "none");
	add(&fl, "RESULT", "%s", r->error ? "error" : "ok");
	add(&fl, "ERRNO", "%d", r->error);
	add(&fl, "GENERATION", "%" PRIu64, r->generation);
	if (r->reason)
		add(&fl, "REASON", "%s", r->reason);

	if (use_journal()) {
		if (log_journal(r, &fl) >= 0)
			return;
		/* The journal went away: fall back rather than lose the record. */
		sink = AUDIT_SINK_STDERR;
	}
	log_stderr(&fl);
}
