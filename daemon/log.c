/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's diagnostic log: one line per message on stderr, with a syslog-style "<N>" prefix when
 * stderr is the journal (systemd sets JOURNAL_STREAM), so levels survive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"

static int max_level = LOG_INFO;
static int prefix_mode = -1; /* -1 unknown, 0 plain, 1 journal "<N>" prefixes */

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
		return s[0] - '0';
	return -EINVAL;
}

void log_set_level(int level)
{
	max_level = level;
}

int log_get_level(void)
{
	return max_level;
}

/* stderr goes to the journal when JOURNAL_STREAM names the device:inode of our stderr. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%lu:%lu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

int log_internal(int level, int errnum, const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	char msg[1024];
	va_list ap;

	if (level > max_level)
		return -errnum;
	if (prefix_mode < 0)
		prefix_mode = stderr_is_journal();
	errno = errnum;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (prefix_mode)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else if (max_level >= LOG_DEBUG)
		fprintf(stderr, "svmd[%s:%d]: %s\n", file, line, msg);
	else
		fprintf(stderr, "svmd: %s\n", msg);
	errno = saved;
	return -errnum;
}

const char *log_held(unsigned n)
{
	static char buf[96];

	snprintf(buf, sizeof(buf), " (%u more line%s about this uid held back)", n,
		 n == 1 ? "" : "s");
	return buf;
}
