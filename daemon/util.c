/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * See util.h.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

int parse_u64(const char *s, size_t n, uint64_t *ret)
{
	bool hex = n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned base = hex ? 16 : 10;
	uint64_t v = 0;

	if (hex) {
		s += 2;
		n -= 2;
	}
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (isdigit((unsigned char)s[i]))
			d = (unsigned)(s[i] - '0');
		else if (hex && isxdigit((unsigned char)s[i]))
			d = (unsigned)(tolower((unsigned char)s[i]) - 'a' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*ret = v;
	return 0;
}

int parse_size(const char *s, size_t n, uint64_t *ret)
{
	static const char units[] = "KMGT";
	const char *u = n ? memchr(units, s[n - 1], sizeof(units) - 1) : NULL;
	unsigned shift = u ? 10 * (unsigned)(u - units + 1) : 0;
	uint64_t v;
	int r = parse_u64(s, u ? n - 1 : n, &v);

	if (r < 0)
		return r;
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

const char *format_size(uint64_t bytes, char buf[32])
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	int i = -1;

	if (bytes < 1024) {
		snprintf(buf, 32, "%" PRIu64 " bytes", bytes);
		return buf;
	}
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (v == (double)(uint64_t)v)
		snprintf(buf, 32, "%" PRIu64 " %s", (uint64_t)v, units[i]);
	else
		snprintf(buf, 32, "%.1f %s", v, units[i]);
	return buf;
}
