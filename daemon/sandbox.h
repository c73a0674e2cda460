/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seccomp sandbox svmd enters once start-up is done: an allow-list of exactly the system
 * calls the serving loop makes, with ioctl(2) limited to the request numbers the active
 * backend issues. A call outside it fails with EPERM and is logged, never silently.
 */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* Loads the filter (and sets no_new_privs). ioctls: the backend's request numbers, n of them.
 * Returns 0 or a negative errno. */
int sandbox_enter(const unsigned long *ioctls, size_t n);

/* Writes the filter as seccomp pseudo-code (libseccomp's PFC) to f. Returns 0 or -errno. */
int sandbox_print(FILE *f, const unsigned long *ioctls, size_t n);
