/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers every part of the daemon shares: the clocks, and one way to fail with a reason.
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
