/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small macros shared by daemon and client. Mostly scope-bound ownership: a local declared with
 * _cleanup_free_ or _cleanup_close_ is released when it goes out of scope unless TAKE_PTR() or
 * TAKE_FD() hands it on.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* close() that keeps errno, so cleanup on an error path cannot clobber the error. */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void closep(int *fd)
{
	safe_close(*fd);
}

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* Defines freep-style cleanup for a type with its own free function returning NULL. */
#define DEFINE_FREE_FUNC(type, func)                                                               \
	static inline void func##p(type **p)                                                       \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define ELEMENTSOF(a)                   (sizeof(a) / sizeof((a)[0]))
#define _unused_                        __attribute__((unused))
#define _printf_(a, b)                  __attribute__((format(printf, a, b)))
