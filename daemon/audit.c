/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Audit records; see audit.h. The MESSAGE_IDs never change: tools match on them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "audit.h"
#include "cleanup.h"

static const struct {
	const char *name;
	const char *message_id;
	int priority;
} events[_AUDIT_EVENT_MAX] = {
	[AUDIT_GRANT] = {"grant", "4cd1d4d4891e41ad98ef60f8b1c643d8", LOG_INFO},
	[AUDIT_DENY] = {"deny", "a8f0a104128347bb8d002e1127dea1eb", LOG_NOTICE},
	[AUDIT_FAIL] = {"fail", "16b6a755e559466fa4b4a6a88139053c", LOG_WARNING},
	[AUDIT_RELEASE] = {"release", "a8730116b6e849dfa6234d3a985b9870", LOG_INFO},
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

/* Writes s with quotes and escapes when it holds spaces, quotes or control characters. */
static void put_value(FILE *f, const char *s)
{
	if (s[0] && !strpbrk(s, " \"\\=") && !memchr(s, '\n', strlen(s))) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void log_stderr(const struct audit_record *r, const char *rule)
{
	char line[2048];
	FILE *f = fmemopen(line, sizeof(line), "w");

	if (!f)
		return;
	fprintf(f, "svmd-audit: EVENT=%s UID=%u GID=%u PID=%d OP=", events[r->event].name,
		(unsigned)r->uid, (unsigned)r->gid, (int)r->pid);
	put_value(f, r->op);
	if (r->device)
		fprintf(f, " DEVICE=%s", r->device);
	if (r->pasid)
		fprintf(f, " PASID=%" PRIu32, r->pasid);
	if (r->binding)
		fprintf(f, " BINDING=%" PRIu64, r->binding);
	fprintf(f, " RULE=");
	put_value(f, rule);
	fprintf(f, " RESULT=%s ERRNO=%d", r->error ? "error" : "ok", r->error);
	if (r->reason) {
		fprintf(f, " REASON=");
		put_value(f, r->reason);
	}
	fputc('\n', f);
	fputc(0, f);
	fclose(f);
	line[sizeof(line) - 2] = '\n';
	/* One write(2) per record so concurrent writers never interleave within a line. */
	size_t n = strnlen(line, sizeof(line) - 1);
	ssize_t k = write(STDERR_FILENO, line, n);
	(void)k;
}

void audit_log(const struct audit_record *r)
{
	char rule[512];

	if (r->rule_file)
		snprintf(rule, sizeof(rule), "%s:%u", r->rule_file, r->rule_line);
	else
		snprintf(rule, sizeof(rule), "none");

	if (use_journal()) {
		int k = sd_journal_send(
			"MESSAGE=%s %s uid=%u device=%s pasid=%" PRIu32 " rule=%s%s%s",
			events[r->event].name, r->op, (unsigned)r->uid, r->device ? r->device : "-",
			r->pasid, rule, r->reason ? ": " : "", r->reason ? r->reason : "",
			"MESSAGE_ID=%s", events[r->event].message_id, "PRIORITY=%d",
			events[r->event].priority, "SYSLOG_IDENTIFIER=svmd", "SVMD_EVENT=%s",
			events[r->event].name, "SVMD_UID=%u", (unsigned)r->uid, "SVMD_GID=%u",
			(unsigned)r->gid, "SVMD_PID=%d", (int)r->pid, "SVMD_OP=%s", r->op,
			"SVMD_DEVICE=%s", r->device ? r->device : "", "SVMD_PASID=%" PRIu32,
			r->pasid, "SVMD_BINDING=%" PRIu64, r->binding, "SVMD_RULE=%s", rule,
			"SVMD_RESULT=%s", r->error ? "error" : "ok", "SVMD_ERRNO=%d", r->error,
			"SVMD_REASON=%s", r->reason ? r->reason : "", NULL);
		if (k >= 0)
			return;
		/* The journal went away: fall back rather than lose the record. */
		sink = AUDIT_SINK_STDERR;
	}
	log_stderr(r, rule);
}
