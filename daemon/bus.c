/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * org.svmd.Broker1 over sd-bus: the connection, and its peers. A peer is a unique name: its
 * identity is taken from the bus (credentials asked once, on its first call) and pinned, and
 * it has a session until the name leaves. The methods are in bus-broker.c, the binding objects
 * in bus-binding.c; all of them call the same ops.c functions the socket front-end calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include "audit.h"
#include "bus-internal.h"
#include "bus.h"
#include "cleanup.h"
#include "identity.h"
#include "log.h"
#include "loop.h"
#include "persist.h"
#include "svmd-bus.h"
#include "util.h"

struct peer *bus_peer_find(struct bus *b, const char *name)
{
	for (struct hnode *n = hashmap_get(&b->peers, hash_string(HASH_INIT, name)); n;
	     n = hashmap_next_same(n)) {
		struct peer *p = container_of(n, struct peer, node);
		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static void fd_reply_free(struct fd_reply *x)
{
	list_unlink(&x->link);
	sd_bus_message_unref(x->call);
	sd_bus_message_unref(x->reply);
	free(x);
}

/* The name is gone (or the peer could not be made): its bindings go too, unless leased. */
static struct peer *peer_free(struct peer *p)
{
	if (!p)
		return NULL;
	if (p->indexed)
		hashmap_remove(&p->bus->peers, &p->node);
	if (p->fds == PEER_FDS_PROBING) {
		hashmap_remove(&p->bus->probes, &p->probe_node);
		sd_bus_slot_unref(p->probe_slot);
	}
	/* Undelivered: a device's binding ends with the session below, a lease with its fd. */
	list_for_each_safe (pos, &p->waiting)
		fd_reply_free(container_of(pos, struct fd_reply, link));
	if (p->subscribed)
		p->bus->n_subscribers--;
	if (p->session)
		p->bus->core->metrics.sessions[SVMD_METRICS_BUS]--;
	ops_session_end(p->bus->core, p->session);
	sd_bus_track_unref(p->track);
	free(p->name);
	free(p);
	return NULL;
}
DEFINE_FREE_FUNC(struct peer, peer_free);

/* What the next svmd needs to serve p again after a restart (persist.h). */
static void note_resume(struct peer *p)
{
	_cleanup_free_ char *resume = NULL;

	if (asprintf(&resume, "bus %s %d", p->name, p->subscribed) >= 0)
		(void)registry_session_set_resume(p->session, resume);
}

static int on_peer_gone(sd_bus_track *t, void *userdata)
{
	struct peer *p = userdata;

	(void)t;
	log_debug("Bus client %s (uid %u) left.", p->name, (unsigned)p->session->owner->uid);
	peer_free(p);
	return 0;
}

/* What the bus says of the sender: uid, pid and (when it says) groups, as an identity, once
 * svmd's fd budget and session caps have room for one more caller of that uid (its process is
 * pinned: one fd). */
static int identify(struct bus *b, sd_bus_message *m, struct identity **ret, sd_bus_error *error)
{
	char why[160];
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	const gid_t *gids = NULL;
	uid_t uid;
	pid_t pid;
	int r, n;

	r = sd_bus_query_sender_creds(
		m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS, &creds);
	if (r < 0)
		return sd_bus_error_set_errnof(error, -r, "cannot get the caller's credentials: %s",
					       strerror(-r));
	if (sd_bus_creds_get_euid(creds, &uid) < 0 || sd_bus_creds_get_pid(creds, &pid) < 0)
		return sd_bus_error_set(error, SVMD_BUS_ERROR("NotPermitted"),
					"the bus did not report the caller's uid and pid");
	if (!ops_admit(b->core, uid, 1, why, sizeof(why))) {
		unsigned held;
		if (limits_log_pass(b->core->limits, uid, &held))
			log_warning("Refusing bus client %s (uid %u, pid %d): %s.%s",
				    sd_bus_message_get_sender(m), (unsigned)uid, pid, why,
				    held ? log_held(held) : "");
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("QuotaExceeded"),
					 "svmd serves no more callers of uid %u: %s", (unsigned)uid,
					 why);
	}
	/* n < 0: the bus did not report groups (sd-bus 252 does not read dbus-daemon's
	 * UnixGroupIDs): they come from /proc, so group= holds over D-Bus as on the socket. */
	n = sd_bus_creds_get_supplementary_gids(creds, &gids);
	r = identity_from_bus(uid, pid, gids, n, ret);
	if (r == -ESRCH) {
		log_debug("Bus client %s (uid %u, pid %d): its process is gone or not its own.",
			  sd_bus_message_get_sender(m), (unsigned)uid, pid);
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("NoSuchProcess"),
					 "svmd cannot confirm the calling process (pid %d): it has "
					 "exited or another process has its pid",
					 pid);
	}
	if (r == -EMFILE || r == -ENFILE)
		return sd_bus_error_setf(
			error, SVMD_BUS_ERROR("OutOfResources"),
			"svmd has no file descriptor left to pin the calling process "
			"(%s)",
			strerror(-r));
	if (r < 0)
		return sd_bus_error_set_errnof(error, -r, "svmd cannot pin the calling process: %s",
					       strerror(-r));
	return 0;
}

/* A peer for name, watched (it is freed when the name leaves) and indexed; no session yet. */
static int peer_alloc(struct bus *b, const char *name, struct peer **ret)
{
	_cleanup_(peer_freep) struct peer *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->bus = b;
	list_init(&p->waiting);
	p->name = strdup(name);
	if (!p->name)
		return -ENOMEM;
	r = sd_bus_track_new(b->bus, &p->track, on_peer_gone, p);
	if (r >= 0)
		r = sd_bus_track_add_name(p->track, name);
	if (r >= 0)
		r = hashmap_put(&b->peers, &p->node, hash_string(HASH_INIT, name));
	p->indexed = r >= 0;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int bus_peer_get(struct bus *b, sd_bus_message *m, struct peer **ret, sd_bus_error *error)
{
	_cleanup_(identity_unrefp) struct identity *who = NULL;
	_cleanup_(peer_freep) struct peer *p = NULL;
	const char *sender = sd_bus_message_get_sender(m);
	int r;

	if (!sender)
		return sd_bus_error_set(error, SVMD_BUS_ERROR("NotPermitted"),
					"svmd serves callers with a unique bus name only");
	*ret = bus_peer_find(b, sender);
	if (*ret)
		return 0;
	r = identify(b, m, &who, error);
	if (r < 0)
		return r;
	r = peer_alloc(b, sender, &p);
	if (r >= 0)
		r = ops_session_new(b->core, who, 1, &p->session);
	if (r >= 0)
		b->core->metrics.sessions[SVMD_METRICS_BUS]++;
	if (r < 0)
		return sd_bus_error_set_errnof(error, -r, "cannot track the caller: %s",
					       strerror(-r));
	note_resume(p);
	log_debug("Bus client %s (uid %u, pid %d) connected.", sender, (unsigned)who->uid,
		  who->pid);
	*ret = TAKE_PTR(p);
	return 0;
}

int bus_resume(void *bus, struct session *s, const char *resume)
{
	struct bus *b = bus;
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	_cleanup_(peer_freep) struct peer *p = NULL;
	char name[256];
	int subscribed, n = 0, r;
	uid_t uid;
	pid_t pid;

	if (sscanf(resume, "bus %255s %d%n", name, &subscribed, &n) != 2 || resume[n] ||
	    name[0] != ':' || (subscribed != 0 && subscribed != 1) || bus_peer_find(b, name))
		return -EINVAL;
	r = peer_alloc(b, name, &p);
	if (r < 0)
		return r;
	/* Asked after the watch is in place, so that a name leaving from now on is seen. Unique
	 * names are never reused on a bus: the same name is the same connection. */
	r = sd_bus_get_name_creds(b->bus, name, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
	if (r < 0)
		return r == -ENOENT || r == -ESRCH || r == -ENXIO ? -ENXIO : r;
	if (sd_bus_creds_get_euid(creds, &uid) < 0 || sd_bus_creds_get_pid(creds, &pid) < 0 ||
	    uid != s->owner->uid || pid != s->owner->pid)
		return -EPERM;
	/* Nothing below fails: the session is p's from here on. */
	p->session = s;
	b->core->metrics.sessions[SVMD_METRICS_BUS]++;
	if (subscribed) {
		p->subscribed = true;
		b->n_subscribers++;
	}
	TAKE_PTR(p);
	return 0;
}

/* One property of a systemd object, asked with a short timeout: svmd is stopping. */
static int systemd_get(struct bus *b, const char *path, const char *iface, const char *prop,
		       const char *type, sd_bus_message **ret)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r = sd_bus_message_new_method_call(b->bus, &m, "org.freedesktop.systemd1", path,
					       "org.freedesktop.DBus.Properties", "Get");

	if (r >= 0)
		r = sd_bus_message_append(m, "ss", iface, prop);
	if (r >= 0)
		r = sd_bus_call(b->bus, m, 2 * 1000000ull, NULL, ret);
	if (r >= 0)
		r = sd_bus_message_enter_container(*ret, 'v', type);
	return r;
}

bool bus_restart_pending(struct bus *b)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL, *job = NULL,
							*type = NULL;
	const char *unit, *job_path, *job_type;
	uint32_t job_id;
	int r;

	r = sd_bus_message_new_method_call(b->bus, &m, "org.freedesktop.systemd1",
					   "/org/freedesktop/systemd1",
					   "org.freedesktop.systemd1.Manager", "GetUnitByPID");
	if (r >= 0)
		r = sd_bus_message_append(m, "u", (uint32_t)getpid());
	if (r >= 0)
		r = sd_bus_call(b->bus, m, 2 * 1000000ull, NULL, &reply);
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &unit);
	if (r >= 0)
		r = systemd_get(b, unit, "org.freedesktop.systemd1.Unit", "Job", "(uo)", &job);
	if (r >= 0)
		r = sd_bus_message_read(job, "(uo)", &job_id, &job_path);
	if (r < 0) {
		log_debug_errno(r, "Cannot ask systemd whether svmd is restarting: %m.");
		return false;
	}
	if (job_id == 0)
		return false;
	r = systemd_get(b, job_path, "org.freedesktop.systemd1.Job", "JobType", "s", &type);
	if (r >= 0)
		r = sd_bus_message_read(type, "s", &job_type);
	if (r < 0) {
		log_debug_errno(r, "Cannot read systemd's job %" PRIu32 " for svmd: %m.", job_id);
		return false;
	}
	log_debug("systemd's job %" PRIu32 " for svmd: %s.", job_id, job_type);
	return strstr(job_type, "restart") != NULL;
}

void bus_hand_over(struct bus *b)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r = sd_bus_release_name(b->bus, SVMD_BUS_NAME);

	if (r < 0)
		log_warning_errno(r, "Cannot give up %s: %m.", SVMD_BUS_NAME);
	/* A round trip: every call routed to svmd before the name went is queued by then. */
	(void)sd_bus_call_method(b->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				 "org.freedesktop.DBus", "GetId", NULL, &reply, "");
	while ((r = sd_bus_process(b->bus, NULL)) > 0)
		loop_flush(b->loop);
	loop_flush(b->loop);
	(void)sd_bus_flush(b->bus);
}

int bus_reply_error(sd_bus_error *error, const struct op_result *res)
{
	char reason[sizeof(res->reason)];

	snprintf(reason, sizeof(reason), "%s",
		 res->reason[0] ? res->reason : strerror(-res->status));
	/* Else sd-bus could not send the error, and the caller would wait for nothing. */
	bus_utf8_sanitize(reason);

	/* sd-bus's own errno mapping would pick the generic org.freedesktop.DBus.Error.* names:
	 * look ours up. */
	for (const sd_bus_error_map *e = svmd_bus_errors; e->name; e++)
		if (e->code == -res->status)
			return sd_bus_error_set(error, e->name, reason);
	return sd_bus_error_set(error, SVMD_BUS_ERROR("Failed"), reason);
}

void bus_binding_path(uint64_t id, char *buf, size_t size)
{
	snprintf(buf, size, SVMD_BUS_BINDING_PREFIX "/%" PRIu64, id);
}

void bus_state_before_reply(struct bus *b)
{
	persist_flush(b->core->persist);
}

/* Replies that carry fds. */

/* Sends x's reply, or tells its caller that its connection takes no fds; a device's binding is
 * committed or ended accordingly. Frees x. */
static void fd_reply_deliver(struct bus *b, struct peer *p, struct fd_reply *x)
{
	struct binding *bound = x->lease ? NULL : registry_find(b->core->registry, x->binding);
	int r = -EOPNOTSUPP;

	if (p->fds == PEER_FDS_YES)
		bus_state_before_reply(b);
	if (p->fds == PEER_FDS_YES && (r = sd_bus_send(NULL, x->reply, NULL)) < 0)
		(void)sd_bus_reply_method_errorf(x->call, SVMD_BUS_ERROR("Failed"),
						 "svmd could not send its reply: %s", strerror(-r));
	else if (p->fds != PEER_FDS_YES)
		(void)sd_bus_reply_method_errorf(
			x->call, SVMD_BUS_ERROR("NotSupported"),
			"the reply carries a file descriptor (%s of binding %" PRIu64 "), and this "
			"D-Bus connection does not accept them: connect with Unix fd passing",
			x->lease ? "a lease" : "the device", x->binding);
	if (bound && r >= 0)
		ops_commit(b->core, bound);
	else if (bound)
		ops_undelivered(b->core, bound);
	fd_reply_free(x);
	loop_bus_kick(b->loop);
}

/* The bus driver answered the call that followed p's probe: the probe was delivered unless an
 * error for it came first (the bus handles one sender's messages in order). */
static int on_probe_done(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct peer *p = userdata;

	(void)m, (void)error;
	hashmap_remove(&p->bus->probes, &p->probe_node);
	p->probe_slot = sd_bus_slot_unref(p->probe_slot);
	if (p->fds == PEER_FDS_PROBING)
		p->fds = PEER_FDS_YES;
	log_debug("Bus client %s %s file descriptors.", p->name,
		  p->fds == PEER_FDS_YES ? "accepts" : "does not accept");
	list_for_each_safe (pos, &p->waiting)
		fd_reply_deliver(p->bus, p, container_of(pos, struct fd_reply, link));
	return 1;
}

/* An empty, sealed memfd: what the probe carries, harmless to whoever gets it. */
static int probe_fd(void)
{
	int fd = memfd_create("svmd-fd-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd >= 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		fd = safe_close(fd);
	return fd;
}

/* Asks whether p's connection takes fds: a signal carrying one, addressed to p alone, then a
 * call to the bus driver, whose reply says the signal was dealt with. */
static int probe(struct bus *b, struct peer *p)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	_cleanup_close_ int fd = probe_fd();
	uint64_t cookie = 0;
	int r;

	if (fd < 0)
		return -errno;
	r = sd_bus_message_new_signal(b->bus, &m, SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "FdProbe");
	if (r >= 0)
		r = sd_bus_message_set_destination(m, p->name);
	if (r >= 0)
		r = sd_bus_message_append(m, "h", fd);
	if (r >= 0)
		r = sd_bus_send(b->bus, m, &cookie);
	if (r >= 0)
		r = hashmap_put(&b->probes, &p->probe_node, cookie);
	if (r < 0)
		return r;
	r = sd_bus_call_method_async(b->bus, &p->probe_slot, "org.freedesktop.DBus",
				     "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
				     on_probe_done, p, "");
	if (r < 0) {
		hashmap_remove(&b->probes, &p->probe_node);
		return r;
	}
	p->fds = PEER_FDS_PROBING;
	return 0;
}

int bus_send_fd_reply(struct bus *b, struct peer *p, sd_bus_message *call, sd_bus_message *reply,
		      uint64_t binding, bool lease)
{
	struct fd_reply *x = calloc(1, sizeof(*x));
	int r;

	if (!x) {
		sd_bus_message_unref(reply);
		return -ENOMEM;
	}
	*x = (struct fd_reply){.call = sd_bus_message_ref(call),
			       .reply = reply,
			       .binding = binding,
			       .lease = lease};
	list_append(&p->waiting, &x->link);
	if (p->fds == PEER_FDS_UNKNOWN && (r = probe(b, p)) < 0) {
		/* Cannot ask: send it, as svmd would without asking. */
		log_debug_errno(r, "Cannot probe %s for fd passing: %m", p->name);
		p->fds = PEER_FDS_YES;
	}
	if (p->fds != PEER_FDS_PROBING)
		fd_reply_deliver(b, p, x);
	return 0;
}

/* An error from the bus driver to one of the probes: that peer's connection takes no fds. */
static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	const char *sender = sd_bus_message_get_sender(m);
	uint64_t cookie;
	struct hnode *n;
	uint8_t type;

	(void)error;
	if (sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_ERROR ||
	    !sender || strcmp(sender, "org.freedesktop.DBus") != 0 ||
	    sd_bus_message_get_reply_cookie(m, &cookie) < 0 ||
	    !(n = hashmap_get(&b->probes, cookie)))
		return 0;
	container_of(n, struct peer, probe_node)->fds = PEER_FDS_NO;
	return 1;
}

/* What the core tells us: bindings come and go, the policy changes. */

static void on_binding_added(void *userdata, struct binding *x)
{
	bus_binding_announce(userdata, x, NULL);
}

static void on_binding_removed(void *userdata, struct binding *x, const struct core_end *end)
{
	bus_binding_announce(userdata, x, end);
}

static void on_policy_reloaded(void *userdata, uint64_t generation)
{
	struct bus *b = userdata;

	(void)sd_bus_emit_signal(b->bus, SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "PolicyReloaded", "t",
				 generation);
	(void)sd_bus_emit_properties_changed(b->bus, SVMD_BUS_PATH, SVMD_BUS_INTERFACE,
					     "PolicyGeneration", NULL);
	loop_bus_kick(b->loop);
}

/* Subscribers: a Record signal per audit record, addressed to each subscribed peer that may see
 * it (the socket's rule: root all; others their own, and that a reload happened). */

int bus_subscribe(struct bus *b, struct peer *p, sd_bus_error *error)
{
	uid_t uid = p->session->owner->uid;
	unsigned mine = 0, roots = 0;

	if (p->subscribed)
		return 0;
	hashmap_for_each_safe (e, &b->peers) {
		const struct peer *q = container_of(e, struct peer, node);
		mine += q->subscribed && q->session->owner->uid == uid;
		roots += q->subscribed && q->session->owner->uid == 0;
	}
	if (mine >= BUS_SUBSCRIBERS_PER_UID)
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("QuotaExceeded"),
					 "uid %u has %u subscriptions already (at most %u a user)",
					 (unsigned)uid, mine, BUS_SUBSCRIBERS_PER_UID);
	/* Root's own are not counted: other users cannot keep root from monitoring. */
	if (uid != 0 && b->n_subscribers - roots >= BUS_SUBSCRIBERS_MAX)
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("QuotaExceeded"),
					 "svmd has %u subscriptions already (at most %u)",
					 b->n_subscribers - roots, BUS_SUBSCRIBERS_MAX);
	p->subscribed = true;
	b->n_subscribers++;
	note_resume(p);
	log_debug("Bus client %s (uid %u) subscribed to the records.", p->name, (unsigned)uid);
	return 0;
}

static void send_records(struct outbox_item *item)
{
	struct bus *b = container_of(item, struct bus, records_out);

	for (size_t i = 0; i < b->n_records; i++) {
		int r = sd_bus_send(b->bus, b->records[i], NULL);
		if (r < 0)
			log_debug_errno(r, "Cannot send a record to %s: %m",
					sd_bus_message_get_destination(b->records[i]));
		sd_bus_message_unref(b->records[i]);
	}
	b->n_records = 0;
	loop_bus_kick(b->loop);
}

void bus_utf8_sanitize(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p;) {
		size_t n = *p < 0x80             ? 1
			   : (*p & 0xe0) == 0xc0 ? 2
			   : (*p & 0xf0) == 0xe0 ? 3
			   : (*p & 0xf8) == 0xf0 ? 4
						 : 0;
		bool ok = n > 0 && !(n == 2 && *p < 0xc2) && !(n == 4 && *p > 0xf4);
		uint32_t cp = n == 1 ? *p : n ? *p & (0x7f >> n) : 0;
		/* Stops at the NUL, which is no continuation byte. */
		for (size_t k = 1; ok && k < n; k++) {
			ok = (p[k] & 0xc0) == 0x80;
			cp = (cp << 6) | (p[k] & 0x3f);
		}
		if (ok && ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
			   (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
			   (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe))
			ok = false;
		if (!ok)
			*p = '?';
		p += ok ? n : 1;
	}
}

static const char *const record_events[_AUDIT_EVENT_MAX] = {
	[AUDIT_GRANT] = "grant",     [AUDIT_DENY] = "deny",     [AUDIT_FAIL] = "fail",
	[AUDIT_RELEASE] = "release", [AUDIT_RELOAD] = "reload",
};

/* Room for one more signal in b->records. */
static int records_grow(struct bus *b)
{
	if (b->n_records == b->records_size) {
		size_t size = b->records_size ? b->records_size * 2 : 16;
		sd_bus_message **grown = reallocarray(b->records, size, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		b->records = grown;
		b->records_size = size;
	}
	return 0;
}

/* Record(s event, s op, s device, u pasid, t binding, u uid, i pid, u error, t generation,
 * t usec, s ended, s reason, s rule) to destination; uid and pid 0 when anonymous. */
static int queue_record(struct bus *b, const struct audit_record *r, const char *ended,
			const char *reason, const char *rule, bool anonymous, uint64_t usec,
			const char *destination)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	const char *device = r->device && svmd_device_name_valid(r->device) ? r->device : "";
	int k = records_grow(b);

	if (k < 0)
		return k;
	k = sd_bus_message_new_signal(b->bus, &m, SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "Record");
	if (k >= 0)
		k = sd_bus_message_set_destination(m, destination);
	if (k >= 0)
		k = sd_bus_message_append(m, "sssutuiuttsss", record_events[r->event],
					  r->op ? r->op : "unknown", device, r->pasid, r->binding,
					  anonymous || !r->who ? 0u : (uint32_t)r->who->uid,
					  anonymous || !r->who ? 0 : (int32_t)r->who->pid,
					  (uint32_t)r->error, r->generation, usec, ended, reason,
					  rule);
	if (k < 0)
		return k;
	b->records[b->n_records++] = TAKE_PTR(m);
	loop_defer(b->loop, &b->records_out);
	return 0;
}

/* The bus holds too many records: every subscription ends, each subscriber told why after the
 * records it was sent already (SubscriptionEnded(s reason), in the same queue). */
static void end_subscriptions(struct bus *b, uint64_t held)
{
	unsigned n = b->n_subscribers;
	char reason[200];

	snprintf(reason, sizeof(reason),
		 "svmd ended the subscription: %" PRIu64 " records waited for the bus (at most %u "
		 "per subscriber); Subscribe() again to go on",
		 held, BUS_RECORDS_PER_SUBSCRIBER);
	hashmap_for_each_safe (e, &b->peers) {
		_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
		struct peer *p = container_of(e, struct peer, node);
		int k;
		if (!p->subscribed)
			continue;
		p->subscribed = false;
		b->n_subscribers--;
		k = records_grow(b);
		if (k >= 0)
			k = sd_bus_message_new_signal(b->bus, &m, SVMD_BUS_PATH, SVMD_BUS_INTERFACE,
						      "SubscriptionEnded");
		if (k >= 0)
			k = sd_bus_message_set_destination(m, p->name);
		if (k >= 0)
			k = sd_bus_message_append(m, "s", reason);
		if (k < 0) {
			log_debug_errno(k, "Cannot tell %s its subscription ended: %m", p->name);
			continue;
		}
		b->records[b->n_records++] = TAKE_PTR(m);
	}
	loop_defer(b->loop, &b->records_out);
	log_warning("Ended %u bus subscription%s: %" PRIu64 " records waited for the bus (at most "
		    "%u per subscriber), so a subscriber or the bus itself falls behind.",
		    n, n == 1 ? "" : "s", held, BUS_RECORDS_PER_SUBSCRIBER);
}

static void on_record(void *userdata, const struct audit_record *r, int end)
{
	struct bus *b = userdata;
	uid_t about = r->who ? r->who->uid : 0;
	uint64_t usec = now_usec(CLOCK_REALTIME);
	const char *ended = "";
	char reason[SVMD_PAYLOAD_MAX], rule[320] = "";
	uint64_t queued = 0;

	if (b->n_subscribers == 0 || r->event >= _AUDIT_EVENT_MAX)
		return;
	(void)sd_bus_get_n_queued_write(b->bus, &queued);
	if (queued + b->n_records >= (uint64_t)BUS_RECORDS_PER_SUBSCRIBER * b->n_subscribers) {
		end_subscriptions(b, queued + b->n_records);
		return;
	}
	/* As the socket's EV_RECORD says it: a release whose reason the core did not give was an
	 * unbind. */
	if (r->event == AUDIT_RELEASE)
		ended = svmd_metrics_end_name(end >= 0 ? (unsigned)end : END_UNBIND) ?: "unbind";
	snprintf(reason, sizeof(reason), "%s", r->reason ? r->reason : "");
	bus_utf8_sanitize(reason);
	if (r->rule_file) {
		snprintf(rule, sizeof(rule), "%s:%u", r->rule_file, r->rule_line);
		bus_utf8_sanitize(rule);
	}
	hashmap_for_each_safe (e, &b->peers) {
		struct peer *p = container_of(e, struct peer, node);
		uid_t uid = p->session->owner->uid;
		int k;
		if (!p->subscribed || (uid != 0 && about != uid && r->event != AUDIT_RELOAD))
			continue;
		/* Someone else's reload: that it happened, not who asked, nor by which rule. */
		k = queue_record(b, r, ended, reason, uid != 0 && about != uid ? "" : rule,
				 uid != 0 && about != uid, usec, p->name);
		if (k < 0)
			log_debug_errno(k, "Cannot queue a record for %s: %m", p->name);
	}
	/* A burst in one iteration (a session or a reload ending many bindings): what the bus
	 * takes goes now, once the records so far are written, so that only what it does not take
	 * counts against the subscriptions. */
	if (b->n_records >= BUS_RECORDS_BATCH) {
		audit_flush();
		send_records(&b->records_out);
	}
}

static const struct core_hooks hooks = {
	.binding_added = on_binding_added,
	.binding_removed = on_binding_removed,
	.policy_reloaded = on_policy_reloaded,
	.record = on_record,
};

static int export(struct bus *b)
{
	int r = sd_bus_error_add_map(svmd_bus_errors);

	if (r >= 0)
		r = sd_bus_add_object_vtable(b->bus, &b->slots[0], SVMD_BUS_PATH,
					     SVMD_BUS_INTERFACE, bus_broker_vtable, b);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(b->bus, &b->slots[1], SVMD_BUS_BINDING_PREFIX,
					       SVMD_BUS_BINDING_IFACE, bus_binding_vtable,
					       bus_binding_find, b);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(b->bus, &b->slots[2], SVMD_BUS_BINDING_PREFIX,
					       bus_binding_enumerate, b);
	if (r >= 0)
		r = sd_bus_add_object_manager(b->bus, &b->slots[3], SVMD_BUS_PATH);
	if (r >= 0)
		r = sd_bus_add_filter(b->bus, &b->slots[4], on_bus_message, b);
	if (r >= 0)
		r = sd_bus_add_object_vtable(b->bus, &b->slots[5], SVMD_BUS_METRICS_PATH,
					     SVMD_BUS_METRICS_IFACE, bus_metrics_vtable, b);
	if (r < 0)
		return log_error_errno(r, "Cannot export the D-Bus objects: %m");
	return 0;
}

static int take_name(struct bus *b, const char *address)
{
	int r = sd_bus_request_name(b->bus, SVMD_BUS_NAME, 0);

	if (r == -EEXIST || r == -EALREADY)
		return log_error_errno(r, "%s is owned by another process (another svmd?).",
				       SVMD_BUS_NAME);
	if (r < 0)
		return log_error_errno(r,
				       "Cannot own %s on the %s bus: %m (is the bus policy "
				       "installed?)",
				       SVMD_BUS_NAME, address);
	return 0;
}

int bus_new(struct loop *loop, struct core *core, const char *address, struct bus **ret)
{
	_cleanup_(bus_freep) struct bus *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return log_oom();
	b->loop = loop;
	b->core = core;
	list_init(&b->records_out.link);
	b->records_out.send = send_records;
	r = svmd_bus_open(address, &b->bus);
	if (r < 0)
		return log_error_errno(r,
				       "Cannot connect to the %s bus: %m. Pass --bus=none to serve "
				       "the socket only.",
				       address);
	r = export(b);
	if (r >= 0)
		r = take_name(b, address);
	if (r < 0)
		return r;
	r = loop_attach_bus(loop, b->bus);
	if (r < 0)
		return log_error_errno(r, "Cannot watch the bus: %m");
	core_set_hooks(core, CORE_FRONTEND_BUS, &hooks, b);
	*ret = TAKE_PTR(b);
	return 0;
}

struct bus *bus_free(struct bus *b)
{
	if (!b)
		return NULL;
	if (b->core->hooks[CORE_FRONTEND_BUS].hooks == &hooks)
		core_set_hooks(b->core, CORE_FRONTEND_BUS, NULL, NULL);
	hashmap_for_each_safe (e, &b->peers)
		peer_free(container_of(e, struct peer, node));
	hashmap_done(&b->peers);
	hashmap_done(&b->probes);
	loop_cancel(&b->records_out);
	for (size_t i = 0; i < b->n_records; i++)
		sd_bus_message_unref(b->records[i]);
	free(b->records);
	sd_bus_message_unref(b->metrics_for);
	for (size_t i = 0; i < ELEMENTSOF(b->slots); i++)
		sd_bus_slot_unref(b->slots[i]);
	if (b->bus) {
		loop_detach_bus(b->loop);
		sd_bus_flush_close_unref(b->bus);
	}
	free(b);
	return NULL;
}
