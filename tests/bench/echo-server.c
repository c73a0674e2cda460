/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bare SEQPACKET server `make bench` compares svmd with: the physical limit of any broker
 * on this socket. It does what svmd's socket front-end cannot avoid and nothing else: at accept
 * the same credential lookups (SO_PEERCRED, SO_PEERPIDFD, SO_PEERGROUPS), then per request one
 * recvmsg with room for fds, and a reply of exactly the size svmd sends for that opcode (so
 * libsvmclient talks to it unchanged). No validation, policy, registry or audit.
 *
 * Usage: echo-server SOCKET_PATH
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "svmd-proto.h"
#include "svmd-wire.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Per connection, what svmd keeps from accept: the peer pinned as a pidfd, its groups. */
struct conn {
	int fd;
	int pidfd;
	gid_t *groups;
	size_t n_groups;
	uid_t uid;
	pid_t pid;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void creds(struct conn *c)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int pidfd = -1;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
		c->uid = uc.uid;
		c->pid = uc.pid;
	}
	len = sizeof(pidfd);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	c->pidfd = pidfd;
	len = 32 * sizeof(gid_t);
	c->groups = malloc(len);
	if (c->groups && getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) == 0)
		c->n_groups = len / sizeof(gid_t);
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c->groups);
	free(c);
}

/* Answers one record the way svmd would size it. Returns 0, or -1 to drop the client. */
static int answer(struct conn *c, const unsigned char *rec, size_t size)
{
	static _Alignas(8) unsigned char tx[SVMD_RECORD_MAX];
	_Alignas(8) unsigned char payload[64] = {0};
	static uint64_t next_id = 1;
	struct svmd_hdr h;
	size_t len;

	if (size < sizeof(h))
		return -1;
	memcpy(&h, rec, sizeof(h));
	switch (h.opcode) {
	case SVMD_OP_HELLO: {
		struct svmd_hello_rep rep = {
			.version = SVMD_VERSION,
			.record_max = SVMD_RECORD_MAX,
			.fds_max = SVMD_FDS_MAX,
		};
		svmd_set_name(rep.backend, sizeof(rep.backend), "echo");
		svmd_set_name(rep.server_version, sizeof(rep.server_version), "0");
		memcpy(payload, &rep, sizeof(rep));
		len = sizeof(rep);
		break;
	}
	case SVMD_OP_BIND_TASK:
	case SVMD_OP_BIND_PGTABLE:
	case SVMD_OP_BIND_PASID_TABLE: {
		struct svmd_bind_rep rep = {.id = next_id++};
		/* The PASID sits at the same offset in task and page-table requests. */
		if (h.opcode != SVMD_OP_BIND_PASID_TABLE && size >= sizeof(h) + 20)
			memcpy(&rep.pasid, rec + sizeof(h) + 16, sizeof(rep.pasid));
		memcpy(payload, &rep, sizeof(rep));
		len = sizeof(rep);
		break;
	}
	case SVMD_OP_UNBIND:
		len = sizeof(struct svmd_status_rep);
		break;
	default: {
		int32_t st = -EOPNOTSUPP;
		memcpy(payload, &st, sizeof(st));
		len = sizeof(st);
		break;
	}
	}
	int n = svmd_frame(tx, (uint16_t)(h.opcode | SVMD_REPLY), h.seq, payload, len);
	if (n < 0)
		return -1;
	/* The benchmark clients wait for each reply: the socket always has room. */
	return svmd_send(c->fd, tx, (size_t)n, NULL, 0, 0) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static _Alignas(8) unsigned char rx[SVMD_RECORD_MAX];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev;
	int lfd, ep;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: echo-server SOCKET_PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(argv[1], 0666) < 0 || listen(lfd, SOMAXCONN) < 0) {
		perror("echo-server: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = NULL};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		perror("echo-server: epoll");
		return 1;
	}
	while (!stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("echo-server: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					creds(c);
					ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = c};
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
						conn_free(c);
				}
				continue;
			}
			/* Like svmd: one record per wake-up (the socket stays readable when there
			 * are more, and epoll comes back for them). */
			int fds[SVMD_FDS_MAX];
			size_t n_fds = 0;
			ssize_t got = svmd_recv(c->fd, rx, fds, &n_fds, MSG_DONTWAIT);
			if (got == -EAGAIN)
				continue;
			svmd_close_fds(fds, n_fds);
			if (got <= 0 || answer(c, rx, (size_t)got) < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				conn_free(c);
			}
		}
	}
	unlink(argv[1]);
	return 0;
}
