/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit.c's stderr sink, byte for byte: one "svmd-audit:" line of KEY=VALUE fields per record,
 * values quoted and escaped when they need it, optional fields left out, long values capped.
 * Tools (and the integration suites) parse these lines, so the format must not drift.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "audit.h"

/* What audit_log() writes to stderr for r. */
static char *logged(const struct audit_record *r)
{
	char path[] = "/tmp/svmd-test-audit.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	static char buf[16384];
	ssize_t n;

	cr_assert_geq(fd, 0);
	unlink(path);
	audit_set_sink(AUDIT_SINK_STDERR);
	dup2(fd, STDERR_FILENO);
	audit_log(r);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	return buf;
}

static void expect(const struct audit_record *r, const char *want)
{
	const char *line = logged(r);

	cr_assert_str_eq(line, want, "\n got: %s want: %s", line, want);
}

Test(audit, grant_with_every_field)
{
	struct audit_record r = {
		.event = AUDIT_GRANT,
		.who = &(struct identity){.uid = 1000,
					  .gid = 1001,
					  .pid = 4711,
					  .units = (const char *const[]){"vm-1.service", NULL},
					  .exe = "/usr/bin/qemu-system-x86_64"},
		.op = "bind-pgtable",
		.device = "0000:3b:00.0",
		.pasid = 100,
		.binding = 7,
		.rule_file = "/etc/svmd/policy.d/50-vm.policy",
		.rule_line = 3,
		.generation = 2,
	};
	expect(&r, "svmd-audit: EVENT=grant VERDICT=allow UID=1000 GID=1001 PID=4711 "
		   "UNIT=vm-1.service EXE=/usr/bin/qemu-system-x86_64 OP=bind-pgtable "
		   "DEVICE=0000:3b:00.0 PASID=100 BINDING=7 "
		   "RULE=/etc/svmd/policy.d/50-vm.policy:3 RESULT=ok ERRNO=0 GENERATION=2\n");
}

Test(audit, failure_before_any_rule_has_no_verdict)
{
	struct audit_record r = {
		.event = AUDIT_FAIL,
		.who = &(struct identity){.pid = 1},
		.op = "bind-task",
		.device = "0000:3c:00.0",
		.error = 3,
		.generation = 18446744073709551615ull,
		.reason = "the process to bind has exited",
	};
	expect(&r, "svmd-audit: EVENT=fail UID=0 GID=0 PID=1 OP=bind-task DEVICE=0000:3c:00.0 "
		   "RULE=none RESULT=error ERRNO=3 GENERATION=18446744073709551615 "
		   "REASON=\"the process to bind has exited\"\n");
}

Test(audit, release_extremes)
{
	struct audit_record r = {
		.event = AUDIT_RELEASE,
		.who = &(struct identity){.uid = 4294967294u, .gid = (gid_t)-1, .pid = -1},
		.op = "open-device",
		.device = "0000:af:00.0",
		.binding = 18446744073709551615ull,
		.rule_file = "x.policy",
		.rule_line = 4294967295u,
		.reason = "unbind",
	};
	expect(&r, "svmd-audit: EVENT=release UID=4294967294 GID=4294967295 PID=-1 "
		   "OP=open-device DEVICE=0000:af:00.0 BINDING=18446744073709551615 "
		   "RULE=x.policy:4294967295 RESULT=ok ERRNO=0 GENERATION=0 REASON=unbind\n");
}

Test(audit, quotes_backslashes_and_control_characters_are_escaped)
{
	struct audit_record r = {
		.event = AUDIT_DENY,
		.who = &(struct identity){.uid = 5, .gid = 5, .pid = 6, .exe = "/opt/my app/bin"},
		.op = "reload",
		.rule_file = "/tmp/a dir/p.policy",
		.rule_line = 12,
		.error = 13,
		.reason = "rule 'deny * user=\"x\"' a\\b\tc\nd\x7f\xc3\xa9",
	};
	expect(&r, "svmd-audit: EVENT=deny VERDICT=deny UID=5 GID=5 PID=6 "
		   "EXE=\"/opt/my app/bin\" OP=reload RULE=\"/tmp/a dir/p.policy:12\" "
		   "RESULT=error ERRNO=13 GENERATION=0 "
		   "REASON=\"rule 'deny * user=\\\"x\\\"' a\\\\b\\x09c\\x0ad\\x7f\xc3\xa9\"\n");
}

Test(audit, empty_values_are_quoted_and_equals_signs_too)
{
	struct audit_record r = {
		.event = AUDIT_RELOAD,
		.who = &(struct identity){.units = (const char *const[]){"", NULL},
					  .exe = "/usr/bin/a=b"},
		.op = "reload",
		.generation = 1,
		.reason = "",
	};
	expect(&r, "svmd-audit: EVENT=reload UID=0 GID=0 PID=0 UNIT=\"\" EXE=\"/usr/bin/a=b\" "
		   "OP=reload RULE=none RESULT=ok ERRNO=0 GENERATION=1 REASON=\"\"\n");
}

/* Values are capped at 511 bytes, the rule's file:line included; the line still ends. */
Test(audit, long_values_are_capped)
{
	static char exe[700], file[600], want[2048];
	char *line;

	memset(exe, 'e', sizeof(exe) - 1);
	memset(file, 'f', sizeof(file) - 1);
	struct audit_record r = {
		.event = AUDIT_GRANT,
		.who = &(struct identity){.uid = 1, .gid = 2, .pid = 3, .exe = exe},
		.op = "bind-task",
		.rule_file = file,
		.rule_line = 9,
	};
	line = logged(&r);
	snprintf(want, sizeof(want),
		 "svmd-audit: EVENT=grant VERDICT=allow UID=1 GID=2 PID=3 EXE=%.511s OP=bind-task "
		 "RULE=%.511s RESULT=ok ERRNO=0 GENERATION=0\n",
		 exe, file);
	cr_assert_str_eq(line, want);
}

/* The rule's FILE:LINE is cut at 511 bytes wherever that falls: in the line number, at the
 * colon, or in the file name. */
Test(audit, rule_is_capped_as_one_value)
{
	static const size_t lens[] = {505, 509, 510, 511, 512, 600};
	static char file[700], want[2048], rule[1300];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(file, 0, sizeof(file));
		memset(file, 'f', lens[i]);
		struct audit_record r = {
			.event = AUDIT_RELEASE,
			.op = "bind-task",
			.rule_file = file,
			.rule_line = 123456,
		};
		snprintf(rule, sizeof(rule), "%s:%u", file, 123456u);
		snprintf(want, sizeof(want),
			 "svmd-audit: EVENT=release UID=0 GID=0 PID=0 OP=bind-task RULE=%.511s "
			 "RESULT=ok ERRNO=0 GENERATION=0\n",
			 rule);
		cr_assert_str_eq(logged(&r), want, "file name of %zu bytes", lens[i]);
	}
}

/* A record of 20 long fields that need escaping does not overflow: it is cut, and ends with a
 * newline. */
Test(audit, oversized_line_is_cut_and_terminated)
{
	static char reason[600];
	char *line;

	memset(reason, 0x01, sizeof(reason) - 1);
	struct audit_record r = {
		.event = AUDIT_DENY,
		.who = &(struct identity){.units = (const char *const[]){reason, NULL},
					  .exe = reason},
		.op = reason,
		.device = reason,
		.rule_file = reason,
		.reason = reason,
	};
	line = logged(&r);
	size_t n = strlen(line);
	cr_assert_gt(n, 8000);
	cr_assert_lt(n, 8192);
	cr_assert_eq(line[n - 1], '\n');
	cr_assert_null(memchr(line, '\n', n - 1));
	cr_assert_eq(strncmp(line, "svmd-audit: EVENT=deny VERDICT=deny UID=0", 41), 0);
}
