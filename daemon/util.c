/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * See util.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

uint64_t now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int fail(char *why, size_t whylen, int r, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return r;
}
