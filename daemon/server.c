/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Listening and accepting. Identity is taken here, from the kernel, once per connection:
 * SO_PEERCRED (uid, gid, pid), SO_PEERGROUPS (supplementary groups) and SO_PEERPIDFD (the peer
 * pinned as a pidfd; on kernels without it, pidfd_open() of the peer's pid).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "cleanup.h"
#include "log.h"
#include "loop.h"
#include "process.h"
#include "server.h"
#include "svmd-wire.h"

static int sockaddr_for(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int server_listen_path(const char *path)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;
	socklen_t len;
	int r;

	r = sockaddr_for(path, &sa, &len);
	if (r < 0)
		return log_error_errno(r, "Socket path '%s' is empty or too long.", path);

	/* A socket file left behind by a dead svmd is replaced; a live one is not. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(errno, "socket(): %m");
	if (connect(fd, (struct sockaddr *)&sa, len) == 0)
		return log_error_errno(EADDRINUSE,
				       "Another svmd is already listening on %s; stop it first or "
				       "pass --socket=PATH.",
				       path);
	if (errno == ECONNREFUSED)
		(void)unlink(path);
	fd = safe_close(fd);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(errno, "socket(): %m");
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return log_error_errno(errno, "Cannot bind %s: %m (does its directory exist?)",
				       path);
	/* Who may do what is the policy's business, not the file mode's. */
	if (chmod(path, 0666) < 0) {
		r = log_error_errno(errno, "chmod %s: %m", path);
		(void)unlink(path);
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = log_error_errno(errno, "listen on %s: %m", path);
		(void)unlink(path);
		return r;
	}
	return TAKE_FD(fd);
}

/* Supplementary groups of the peer, as the kernel recorded them at connect(). */
static int peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
	socklen_t len = 32 * sizeof(gid_t);
	gid_t *g = NULL;

	for (int tries = 0; tries < 3; tries++) {
		gid_t *ng = realloc(g, len ? len : sizeof(gid_t));
		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			*ret = g;
			*ret_n = len / sizeof(gid_t);
			return 0;
		}
		if (errno != ERANGE)
			break;
	}
	free(g);
	/* Kernels before 4.13: no supplementary groups, so group= matches the primary only. */
	*ret = NULL;
	*ret_n = 0;
	return 0;
}

/* The peer pinned as a pidfd; *ret_repin tells whether the socket can give it again later. */
static int peer_pidfd(int fd, pid_t pid, bool *ret_repin)
{
	static bool warned;
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	*ret_repin = false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
		*ret_repin = true;
		return pidfd;
	}
	/* Only a kernel without the option gets the racy fallback: an error from one that has
	 * it (EINVAL, ESRCH: the peer exited) means the pid may be reused already. */
	if (errno != ENOPROTOOPT)
		return -errno;
	if (!warned) {
		log_debug("Kernel lacks SO_PEERPIDFD; pinning peers with pidfd_open() instead.");
		warned = true;
	}
	pidfd = pidfd_open_pid(pid);
	return pidfd;
}

static void on_accept(evutil_socket_t lfd, short what, void *userdata);

static void on_retry(evutil_socket_t fd, short what, void *userdata)
{
	struct server *s = userdata;

	(void)fd;
	(void)what;
	event_add(s->accept_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *userdata)
{
	struct server *s = userdata;

	(void)what;
	/* A bounded batch per wake-up keeps one flood from starving established clients. */
	for (int i = 0; i < 32; i++) {
		struct caller caller = {.pidfd = -1};
		bool repin = false;
		struct ucred uc;
		socklen_t len = sizeof(uc);
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Back off for a moment instead of spinning on a readable socket.
				 */
				log_warning_errno(errno, "Cannot accept connections: %m");
				event_del(s->accept_ev);
				struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
				event_add(s->retry_ev, &tv);
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
			log_warning_errno(errno, "SO_PEERCRED: %m");
			close(fd);
			continue;
		}
		/* Root is never turned away by the others' connections: the admin must be able to
		 * look (its own share still bounds it). */
		if (uc.uid != 0 && s->n_clients >= s->clients_max) {
			log_warning("Refusing connection from pid %d: %zu connections open.",
				    uc.pid, s->clients_max);
			close(fd);
			continue;
		}
		if (registry_count_user_sessions(core_registry(s->core), uc.uid) >=
			    SERVER_USER_CLIENTS_MAX ||
		    !core_user_fds_allow(s->core, uc.uid, s->fds_per_connection)) {
			log_warning("Refusing connection from uid %u: it has %u connections and "
				    "holds %u of svmd's file descriptors.",
				    (unsigned)uc.uid,
				    registry_count_user_sessions(core_registry(s->core), uc.uid),
				    core_user_fds(s->core, uc.uid));
			close(fd);
			continue;
		}
		caller.uid = uc.uid;
		caller.gid = uc.gid;
		caller.pid = uc.pid;
		caller.pidfd = peer_pidfd(fd, uc.pid, &repin);
		if (caller.pidfd < 0)
			caller.pidfd = -1;
		if (peer_groups(fd, &caller.groups, &caller.n_groups) < 0 ||
		    client_new(s, fd, &caller, repin && caller.pidfd >= 0) < 0) {
			log_oom();
			safe_close(caller.pidfd);
			free(caller.groups);
			close(fd);
		}
	}
}

/* The loop iteration's callbacks have run: the replies they made go out, after the audit
 * records they made. */
static void on_iteration_end(void *userdata)
{
	client_send_deferred(userdata);
}

/* The fds an idle connection holds: its socket, and the peer's pidfd unless the kernel gives
 * it again on demand (SO_PEERPIDFD). */
static unsigned fds_per_connection(void)
{
	int pair[2], pidfd = -1;
	socklen_t len = sizeof(pidfd);
	unsigned n = 2;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return n;
	if (getsockopt(pair[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
		close(pidfd);
		n = 1;
	}
	close(pair[0]);
	close(pair[1]);
	return n;
}

/* One uid must not be able to take every fd: see SERVER_CLIENTS_MAX. */
static void set_limits(struct server *s)
{
	struct rlimit rl;
	rlim_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
	unsigned share = (unsigned)MIN(fds / 2, (rlim_t)UINT_MAX);

	s->fds_per_connection = fds_per_connection();
	s->clients_max =
		(size_t)MIN(fds / 4 * 3 / s->fds_per_connection, (rlim_t)SERVER_CLIENTS_MAX);
	core_set_fd_share(s->core, share, s->fds_per_connection);
	log_debug("Serving at most %zu connections; one uid may hold %u fds (%llu in all, %u per "
		  "connection).",
		  s->clients_max, share, (unsigned long long)fds, s->fds_per_connection);
}

int server_new(struct event_base *base, struct core *core, int fd, const char *path,
	       bool own_socket, struct server **ret)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->base = base;
	s->core = core;
	s->fd = fd;
	s->own_socket = own_socket;
	set_limits(s);
	list_init(&s->clients);
	list_init(&s->deferred);
	s->path = path ? strdup(path) : NULL;
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	s->accept_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, s);
	s->retry_ev = evtimer_new(base, on_retry, s);
	if ((path && !s->path) || !s->accept_ev || !s->retry_ev ||
	    event_add(s->accept_ev, NULL) < 0 || loop_add_iteration_end(on_iteration_end, s) < 0) {
		server_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

struct server *server_free(struct server *s)
{
	if (!s)
		return NULL;
	loop_remove_iteration_end(on_iteration_end, s);
	list_for_each_safe (pos, &s->clients)
		client_free(container_of(pos, struct client, link));
	if (s->accept_ev)
		event_free(s->accept_ev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	safe_close(s->fd);
	if (s->own_socket && s->path)
		(void)unlink(s->path);
	free(s->path);
	free(s);
	return NULL;
}
