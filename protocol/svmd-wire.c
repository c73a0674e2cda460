/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Record transport over SOCK_SEQPACKET with SCM_RIGHTS, shared by svmd and libsvmclient.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "svmd-wire.h"

void svmd_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = safe_close(fds[i]);
}

int svmd_send(int sock, const void *rec, size_t size, const int *fds, size_t n_fds, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SVMD_FDS_MAX)];
	} control;
	struct iovec iov = {.iov_base = (void *)rec, .iov_len = size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (n_fds > SVMD_FDS_MAX || size > SVMD_RECORD_MAX)
		return -EINVAL;
	if (n_fds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SEQPACKET sends a record whole or not at all. */
	return (size_t)n == size ? 0 : -EIO;
}

ssize_t svmd_recv(int sock, void *rec, int *fds, size_t *ret_n_fds, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SVMD_FDS_MAX)];
	} control;
	struct iovec iov = {.iov_base = rec, .iov_len = SVMD_RECORD_MAX};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	size_t n_fds = 0;
	bool bad_control = false;
	ssize_t n;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int in[SVMD_FDS_MAX + 1];
			/* The buffer holds at most SVMD_FDS_MAX fds; the kernel drops the rest and
			 * sets MSG_CTRUNC. */
			if (k > SVMD_FDS_MAX - n_fds) {
				bad_control = true;
				k = k > SVMD_FDS_MAX ? SVMD_FDS_MAX : k;
			}
			memcpy(in, CMSG_DATA(cm), sizeof(int) * k);
			for (size_t i = 0; i < k; i++) {
				if (n_fds < SVMD_FDS_MAX)
					fds[n_fds++] = in[i];
				else
					safe_close(in[i]);
			}
		} else {
			/* Credentials or anything else we did not ask for. */
			bad_control = true;
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		bad_control = true;
	if (bad_control) {
		svmd_close_fds(fds, n_fds);
		return -ETOOMANYREFS;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		svmd_close_fds(fds, n_fds);
		return -EMSGSIZE;
	}
	if (n == 0 && n_fds > 0) {
		/* An empty record is the orderly end only without fds. */
		svmd_close_fds(fds, n_fds);
		return -EBADMSG;
	}
	*ret_n_fds = n_fds;
	return n;
}

int svmd_discard(int sock)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * (SVMD_FDS_MAX + 1))];
	} control;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;

	/* A record is taken whole however little of it is read; fds beyond the control buffer's
	 * room are closed by the kernel. */
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			safe_close(fd);
		}
	}
	return 0;
}
