/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Diagnostics for svmd's edges (main, front-ends, loop): levels, stderr or the journal, and
 * log_*_errno() helpers that log and return the error in one statement.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "cleanup.h"

/* Parses "err", "warning", "notice", "info", "debug" (or syslog numbers). Returns the level or
 * -EINVAL. */
int log_level_from_string(const char *s);
void log_set_level(int level);
int log_get_level(void);

/* Logs "svmd: message" at level; errnum > 0 makes %m print strerror(errnum). Returns -errnum so
 * callers can `return log_error_errno(r, ...)`. Never changes errno. */
int log_internal(int level, int errnum, const char *file, int line, const char *fmt, ...)
	_printf_(5, 6);

#define log_full_errno(level, e, ...) log_internal((level), abs(e), __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)                log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)                 log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)               log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)              log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)                log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)       log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...)     log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)       log_full_errno(LOG_ERR, (e), __VA_ARGS__)
/* " (N more lines about this uid held back)", for a line logged after a per-uid limiter held
 * some back (user-limits.h): a static buffer, valid until the next call. */
const char *log_held(unsigned n);

#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")
