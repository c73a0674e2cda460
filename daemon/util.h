/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers every part of the daemon shares: the clocks, one way to fail with a reason, and
 * sizes as people write them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cleanup.h"

/* clock (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) in microseconds. */
uint64_t now_usec(clockid_t clock);

/* Writes the reason (printf-style) into why, when why is not NULL and whylen > 0, and returns
 * r (a negative errno), so that `return fail(why, whylen, -EINVAL, "...", ...)` says why and
 * fails in one statement. */
int fail(char *why, size_t whylen, int r, const char *fmt, ...) _printf_(4, 5);

/* A 64-bit number of n characters (not NUL-terminated): decimal, or hex after 0x. 0, -EINVAL or
 * -ERANGE. */
int parse_u64(const char *s, size_t n, uint64_t *ret);
/* A size in bytes: such a number with an optional K, M, G or T (binary: KiB ... TiB). */
int parse_size(const char *s, size_t n, uint64_t *ret);
/* A size for people: "256 MiB", "1.5 GiB", "4096 bytes". */
const char *format_size(uint64_t bytes, char buf[32]);
