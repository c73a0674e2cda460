/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Moving whole records with their fds over an AF_UNIX SOCK_SEQPACKET socket, for both sides.
 * Every fd that arrives is O_CLOEXEC, and every received fd is either handed to the caller or
 * closed: a truncated record or too many fds never leaves an fd behind.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "svmd-proto.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/* Sends one record with n_fds fds (n_fds <= SVMD_FDS_MAX). flags are added to MSG_NOSIGNAL.
 * Returns 0 or a negative errno (-EAGAIN with MSG_DONTWAIT when the socket is full). */
int svmd_send(int sock, const void *rec, size_t size, const int *fds, size_t n_fds, int flags);

/* Receives one record into rec (SVMD_RECORD_MAX bytes) and its fds into fds[SVMD_FDS_MAX].
 * Returns the record size, 0 on orderly end of the connection, -EMSGSIZE for a record longer
 * than SVMD_RECORD_MAX, -ETOOMANYREFS for more than SVMD_FDS_MAX fds or a control message that
 * is not SCM_RIGHTS (all fds closed in both cases), or another negative errno. */
ssize_t svmd_recv(int sock, void *rec, int *fds, size_t *ret_n_fds, int flags);

/* Takes the first record off sock unread, closing any fds it carries (after svmd_recv() with
 * MSG_PEEK: the record a reply answered). Returns 0, -EAGAIN when there is none, or another
 * negative errno. */
int svmd_discard(int sock);

/* Closes n fds and sets each to -1. */
void svmd_close_fds(int *fds, size_t n);
