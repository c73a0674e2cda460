/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Listening and accepting. Identity is taken once per connection, from the kernel
 * (identity_from_socket()), after the connection caps let the peer's uid in.
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
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cleanup.h"
#include "client.h"
#include "core.h"
#include "identity.h"
#include "log.h"
#include "loop.h"
#include "ops.h"
#include "server.h"
#include "svmd-wire.h"
#include "util.h"

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

static void on_accept(evutil_socket_t lfd, short what, void *userdata);

static void on_retry(evutil_socket_t fd, short what, void *userdata)
{
	struct server *s = userdata;

	(void)fd;
	(void)what;
	event_add(s->accept_ev, NULL);
}

/* Whether the peer may have one more connection (ops_admit()), logged when not. */
static bool admit(struct server *s, const struct ucred *uc)
{
	char why[160];
	unsigned held;

	if (ops_admit(s->core, uc->uid, s->fds_per_connection, why, sizeof(why)))
		return true;
	if (limits_log_pass(s->core->limits, uc->uid, &held))
		log_warning("Refusing connection from uid %u (pid %d): %s.%s", (unsigned)uc->uid,
			    uc->pid, why, held ? log_held(held) : "");
	return false;
}

/* One accepted connection: let in, identified, served; or closed. */
static void take(struct server *s, int fd)
{
	_cleanup_(identity_unrefp) struct identity *who = NULL;
	struct client *c;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		log_warning_errno(errno, "SO_PEERCRED: %m");
		close(fd);
		return;
	}
	if (!admit(s, &uc)) {
		close(fd);
		return;
	}
	r = identity_from_socket(fd, &who);
	if (r == 0)
		r = client_new(s, fd, who, &c);
	if (r < 0) {
		log_warning_errno(r, "Cannot serve pid %d (uid %u): %m", uc.pid, (unsigned)uc.uid);
		close(fd);
	}
}

static void on_accept(evutil_socket_t lfd, short what, void *userdata)
{
	struct server *s = userdata;

	(void)what;
	/* A bounded batch per wake-up keeps one flood from starving established clients. */
	for (int i = 0; i < 32; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			take(s, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Back off for a moment instead of spinning on a readable socket. */
			log_warning_errno(errno, "Cannot accept connections: %m");
			event_del(s->accept_ev);
			struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
			event_add(s->retry_ev, &tv);
		}
		return;
	}
}

/* The fds an idle connection holds: its socket, and the peer's pidfd unless the kernel gives
 * it again on demand (SO_PEERPIDFD). */
static unsigned fds_per_connection(void)
{
	int pair[2], pidfd;
	unsigned n = 2;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return n;
	pidfd = identity_socket_pidfd(pair[0]);
	if (pidfd >= 0) {
		close(pidfd);
		n = 1;
	}
	close(pair[0]);
	close(pair[1]);
	return n;
}

/* Revision 2's events: the holder hears how its binding ended; subscribers hear every record
 * they may see. */

/* Copies text and its NUL after a record's fixed part; returns the payload's length. */
static size_t with_text(unsigned char *buf, size_t fixed, const char *text)
{
	size_t n = text ? strnlen(text, SVMD_PAYLOAD_MAX - fixed - 1) : 0;

	if (n)
		memcpy(buf + fixed, text, n);
	buf[fixed + n] = 0;
	return fixed + n + 1;
}

static void on_binding_removed(void *userdata, struct binding *b, const struct core_end *end)
{
	struct server *srv = userdata;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_ev_binding_ended e = {
		.id = binding_id(b),
		.reason = end_reason_code(end->why),
		.by_uid = end->why == END_UNBIND ? (uint32_t)end->by_uid : 0,
		.generation = end->generation,
	};

	/* A session that ended, or asked itself, or never heard of the binding, is not told. */
	if (!b->session || end->by == b->session || end->why == END_SESSION ||
	    end->why == END_UNDELIVERED)
		return;
	list_for_each (pos, &srv->clients) {
		struct client *c = container_of(pos, struct client, link);
		if (c->session != b->session)
			continue;
		memcpy(buf, &e, sizeof(e));
		client_event(c, SVMD_EV_BINDING_ENDED, buf, with_text(buf, sizeof(e), end->text));
		return;
	}
}

static const uint32_t record_events[_AUDIT_EVENT_MAX] = {
	[AUDIT_GRANT] = SVMD_RECORD_GRANT,   [AUDIT_DENY] = SVMD_RECORD_DENY,
	[AUDIT_FAIL] = SVMD_RECORD_FAIL,     [AUDIT_RELEASE] = SVMD_RECORD_RELEASE,
	[AUDIT_RELOAD] = SVMD_RECORD_RELOAD,
};

static void on_record(void *userdata, const struct audit_record *r, int end)
{
	struct server *srv = userdata;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_ev_record e = {
		.event = record_events[r->event],
		.uid = r->who ? (uint32_t)r->who->uid : 0,
		.pid = r->who ? r->who->pid : 0,
		.error = (uint32_t)r->error,
		.binding = r->binding,
		.generation = r->generation,
		.usec = now_usec(CLOCK_REALTIME),
		.pasid = r->pasid,
		.end = r->event == AUDIT_RELEASE && end >= 0 && end < _END_REASON_MAX
			       ? end_reason_code((enum end_reason)end)
		       : r->event == AUDIT_RELEASE ? SVMD_END_UNBIND
						   : 0,
	};
	size_t len;

	if (list_empty(&srv->subscribers))
		return;
	if (svmd_set_name(e.op, sizeof(e.op), r->op ? r->op : "unknown") < 0)
		return;
	if (r->device && svmd_device_name_valid(r->device))
		memcpy(e.device, r->device, sizeof(e.device));
	memcpy(buf, &e, sizeof(e));
	len = with_text(buf, sizeof(e), r->reason);
	list_for_each (pos, &srv->subscribers) {
		struct client *c = container_of(pos, struct client, sub_link);
		uid_t uid = c->session->owner->uid;
		/* Root sees everything; the others their own records, and that a reload happened
		 * (not who asked for it). */
		if (uid != 0 && e.uid != uid && r->event != AUDIT_RELOAD)
			continue;
		if (uid != 0 && e.uid != uid) {
			struct svmd_ev_record anon = e;
			anon.uid = 0;
			anon.pid = 0;
			memcpy(buf, &anon, sizeof(anon));
			client_event(c, SVMD_EV_RECORD, buf, len);
			memcpy(buf, &e, sizeof(e));
			continue;
		}
		client_event(c, SVMD_EV_RECORD, buf, len);
	}
}

static const struct core_hooks hooks = {
	.binding_removed = on_binding_removed,
	.record = on_record,
};

int server_resume(void *userdata, struct session *s, int fd, const char *resume)
{
	struct server *srv = userdata;
	const struct identity *who = s->owner;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int r;

	/* The kernel still says who connected; it must be who the state file says. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (uc.uid != who->uid || uc.gid != who->gid || uc.pid != who->pid)
		return -EPERM;
	/* Without SO_PEERPIDFD the pin is what keeps the peer's pid its own. */
	if (srv->fds_per_connection > 1 && who->pidfd < 0)
		return -ESRCH;
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	r = client_resume(srv, s, fd, resume);
	if (r < 0)
		return r;
	registry_charge_fds(srv->core->registry, s->user,
			    (int)srv->fds_per_connection - (int)s->n_fds);
	s->n_fds = srv->fds_per_connection;
	return 0;
}

void server_take_unrecorded(void *userdata, int fd)
{
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	take(userdata, fd);
}

int server_new(struct loop *loop, struct core *core, int fd, const char *path, bool own_socket,
	       struct server **ret)
{
	_cleanup_close_ int owned = fd;
	_cleanup_(server_freep) struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->core = core;
	s->fd = TAKE_FD(owned);
	s->own_socket = own_socket;
	list_init(&s->clients);
	list_init(&s->subscribers);
	s->fds_per_connection = fds_per_connection();
	if (path && !(s->path = strdup(path)))
		return -ENOMEM;
	(void)fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	s->accept_ev = event_new(loop_base(loop), s->fd, EV_READ | EV_PERSIST, on_accept, s);
	s->retry_ev = evtimer_new(loop_base(loop), on_retry, s);
	if (!s->accept_ev || !s->retry_ev || event_add(s->accept_ev, NULL) < 0)
		return -ENOMEM;
	core_set_hooks(core, CORE_FRONTEND_SOCKET, &hooks, s);
	*ret = TAKE_PTR(s);
	return 0;
}

struct server *server_free(struct server *s)
{
	if (!s)
		return NULL;
	if (s->core && s->core->hooks[CORE_FRONTEND_SOCKET].hooks == &hooks)
		core_set_hooks(s->core, CORE_FRONTEND_SOCKET, NULL, NULL);
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
