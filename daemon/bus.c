/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * org.svmd.Broker1 over sd-bus. Each method handler reads its arguments, finds the caller's
 * session (credentials asked from the bus once per unique name, then cached until the name
 * leaves), calls the same ops.c function the socket front-end calls, and maps the result to a
 * reply or an org.svmd.Broker1.Error.* error. Bindings are exported as objects under
 * /org/svmd/Broker1/binding/, announced through an ObjectManager.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "bus.h"
#include "cleanup.h"
#include "hashmap.h"
#include "log.h"
#include "loop.h"
#include "ops.h"
#include "process.h"
#include "svmd-bus.h"
#include "svmd-version.h"

struct bus {
	struct loop *loop;
	struct core *core;
	sd_bus *bus;
	struct hashmap peers; /* struct peer, by unique name */
	/* The binding object a property or method call is about: set by binding_find() just
	 * before sd-bus calls the vtable callback, within the same dispatch. */
	struct binding *current;
	sd_bus_slot *slots[4];
};

/* One unique name: its credentials and its session, from its first call until it leaves. */
struct peer {
	struct hnode node; /* key: name_key(name) */
	struct bus *bus;
	char *name;
	struct caller caller;
	struct session *session;
	sd_bus_track *track;
};

static uint64_t name_key(const char *name)
{
	return hash_string(HASH_INIT, name);
}

static struct peer *peer_find(struct bus *b, const char *name)
{
	for (struct hnode *n = hashmap_get(&b->peers, name_key(name)); n;
	     n = hashmap_next_same(n)) {
		struct peer *p = container_of(n, struct peer, node);
		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static void peer_free(struct peer *p)
{
	if (!p)
		return;
	hashmap_remove(&p->bus->peers, &p->node);
	/* The name is gone: its bindings go too, unless leased. */
	ops_session_end(p->bus->core, p->session);
	sd_bus_track_unref(p->track);
	safe_close(p->caller.pidfd);
	free(p->caller.groups);
	free(p->name);
	free(p);
}

static int on_peer_gone(sd_bus_track *t, void *userdata)
{
	struct peer *p = userdata;

	(void)t;
	log_debug("Bus client %s (uid %u) left.", p->name, (unsigned)p->caller.uid);
	peer_free(p);
	return 0;
}

/* The primary gid of pid, confirmed against its pidfd (the bus does not report it); and, when
 * ret_groups is given, its supplementary groups (for buses and sd-bus versions that do not
 * report them either, so that group= rules hold over D-Bus as they do on the socket). */
static int primary_gid(int pidfd, pid_t pid, gid_t *ret, gid_t **ret_groups, size_t *ret_n)
{
	char path[32], buf[4096];
	unsigned real, eff;
	ssize_t n;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ gid_t *groups = NULL;
	size_t n_groups = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	const char *g = strstr(buf, "\nGid:");
	if (!g || sscanf(g + 5, "%u %u", &real, &eff) != 2)
		return -ESRCH;
	if (ret_groups) {
		const char *s = strstr(buf, "\nGroups:");
		if (!s)
			return -ESRCH;
		for (s += strlen("\nGroups:");;) {
			char *end;
			s += strspn(s, " \t");
			if (*s < '0' || *s > '9')
				break;
			unsigned long v = strtoul(s, &end, 10);
			gid_t *grown = reallocarray(groups, n_groups + 1, sizeof(gid_t));
			if (!grown)
				return -ENOMEM;
			groups = grown;
			groups[n_groups++] = (gid_t)v;
			s = end;
		}
	}
	if (!pidfd_alive(pidfd))
		return -ESRCH;
	*ret = eff;
	if (ret_groups) {
		*ret_groups = TAKE_PTR(groups);
		*ret_n = n_groups;
	}
	return 0;
}

/* The session of the message's sender; made on its first call (one bus round trip for the
 * credentials), then cached until the name leaves. */
static int peer_get(struct bus *b, sd_bus_message *m, struct peer **ret, sd_bus_error *error)
{
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	const char *sender = sd_bus_message_get_sender(m);
	const gid_t *gids = NULL;
	struct peer *p;
	uid_t uid;
	pid_t pid;
	int r, n;

	if (!sender)
		return sd_bus_error_set(error, SVMD_BUS_ERROR("NotPermitted"),
					"svmd serves callers with a unique bus name only");
	p = peer_find(b, sender);
	if (p) {
		*ret = p;
		return 0;
	}

	r = sd_bus_query_sender_creds(
		m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS, &creds);
	if (r < 0)
		return sd_bus_error_set_errnof(error, -r, "cannot get the caller's credentials: %s",
					       strerror(-r));
	if (sd_bus_creds_get_euid(creds, &uid) < 0 || sd_bus_creds_get_pid(creds, &pid) < 0)
		return sd_bus_error_set(error, SVMD_BUS_ERROR("NotPermitted"),
					"the bus did not report the caller's uid and pid");
	n = sd_bus_creds_get_supplementary_gids(creds, &gids);

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->bus = b;
	p->caller = (struct caller){.uid = uid, .pid = pid, .gid = (gid_t)-1, .pidfd = -1};
	/*
	 * Pin the process now. The bus recorded its pid when it connected: if that process has
	 * gone since (handing its connection to a child, say), the pid may name another one by
	 * now. Whatever svmd reads of the process must be the caller's, so it must run as the
	 * uid the bus reported; otherwise the caller is refused rather than half known.
	 * n < 0: the bus did not report groups (sd-bus 252 does not read dbus-daemon's
	 * UnixGroupIDs): they come from /proc too.
	 */
	p->caller.pidfd = pidfd_open_pid(pid);
	if (p->caller.pidfd < 0 || process_owned_by(p->caller.pidfd, uid) < 0 ||
	    primary_gid(p->caller.pidfd, pid, &p->caller.gid, n < 0 ? &p->caller.groups : NULL,
			&p->caller.n_groups) < 0) {
		log_debug("Bus client %s (uid %u, pid %d): its process is gone or not its own.",
			  sender, (unsigned)uid, pid);
		safe_close(p->caller.pidfd);
		free(p->caller.groups);
		free(p);
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("NoSuchProcess"),
					 "svmd cannot confirm the calling process (pid %d): it has "
					 "exited or another process has its pid",
					 pid);
	}
	if (n > 0) {
		p->caller.groups = calloc((size_t)n, sizeof(gid_t));
		if (p->caller.groups) {
			memcpy(p->caller.groups, gids, (size_t)n * sizeof(gid_t));
			p->caller.n_groups = (size_t)n;
		}
	}
	p->name = strdup(sender);
	if (!p->name || (n > 0 && !p->caller.groups) ||
	    hashmap_put(&b->peers, &p->node, name_key(sender)) < 0)
		goto oom;
	p->session = ops_session_new(b->core, &p->caller);
	if (!p->session)
		goto oom_unlink;
	r = sd_bus_track_new(b->bus, &p->track, on_peer_gone, p);
	if (r >= 0)
		r = sd_bus_track_add_name(p->track, sender);
	if (r < 0) {
		peer_free(p);
		return sd_bus_error_set_errnof(error, -r, "cannot track the caller: %s",
					       strerror(-r));
	}
	log_debug("Bus client %s (uid %u, pid %d) connected.", sender, (unsigned)uid, pid);
	*ret = p;
	return 0;

oom_unlink:
	hashmap_remove(&b->peers, &p->node);
oom:
	safe_close(p->caller.pidfd);
	free(p->caller.groups);
	free(p->name);
	free(p);
	return -ENOMEM;
}

/* An op_result's error as org.svmd.Broker1.Error.*, its reason as the message. sd-bus's own
 * errno mapping would pick the generic org.freedesktop.DBus.Error.* names: look ours up. */
static int reply_error(sd_bus_error *error, const struct op_result *res)
{
	const char *reason = res->reason[0] ? res->reason : strerror(-res->status);

	for (const sd_bus_error_map *e = svmd_bus_errors; e->name; e++)
		if (e->code == -res->status)
			return sd_bus_error_set(error, e->name, reason);
	return sd_bus_error_set(error, SVMD_BUS_ERROR("Failed"), reason);
}

static void binding_path(uint64_t id, char *buf, size_t size)
{
	snprintf(buf, size, SVMD_BUS_BINDING_PREFIX "/%" PRIu64, id);
}

/* Methods of org.svmd.Broker1. */

static int method_list_devices(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	const struct backend *be = core_backend(b->core);
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct peer *p;
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(suuuqqyy)");
	for (size_t i = 0; r >= 0 && i < be->n_devices; i++) {
		const struct device *d = &be->devices[i];
		r = sd_bus_message_append(reply, "(suuuqqyy)", d->name, d->iommu_group,
					  d->group_devices, d->kinds, d->vendor, d->device_id,
					  d->pasid_bits, d->model);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int method_list_bindings(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct peer *p;
	char path[96];
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(tssuuiibto)");
	for (struct binding *x = ops_visible_first(b->core, &p->caller, 0); r >= 0 && x;
	     x = ops_visible_next(b->core, &p->caller, x)) {
		binding_path(binding_id(x), path, sizeof(path));
		r = sd_bus_message_append(
			reply, "(tssuuiibto)", binding_id(x), svmd_kind_name(x->args.kind),
			x->device->name, x->args.pasid, (uint32_t)x->owner->uid,
			(int32_t)x->owner->pid,
			(int32_t)(x->args.kind == SVMD_KIND_TASK ? x->args.task.pid : 0),
			(int)x->leased, binding_created_usec(x), path);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int do_bind(struct bus *b, sd_bus_message *m, struct peer *p, struct bind_request *req,
		   bool with_pasid, sd_bus_error *error)
{
	struct binding *x = NULL;
	struct op_result res;
	char path[96];

	if (ops_bind(b->core, p->session, &p->caller, req, &res, &x) < 0)
		return reply_error(error, &res);
	binding_path(binding_id(x), path, sizeof(path));
	if (with_pasid)
		return sd_bus_reply_method_return(m, "tuo", binding_id(x), x->args.pasid, path);
	return sd_bus_reply_method_return(m, "to", binding_id(x), path);
}

static int method_bind_task(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_TASK};
	bool with_fd = strcmp(sd_bus_message_get_member(m), "BindTaskPidfd") == 0;
	struct peer *p;
	int fd = -1, r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (with_fd)
		r = sd_bus_message_read(m, "shu", &req.device, &fd, &req.args.pasid);
	else
		r = sd_bus_message_read(m, "su", &req.device, &req.args.pasid);
	if (r < 0)
		return r;
	if (with_fd) {
		/* The message keeps its fd: the core takes a copy it owns. */
		req.target_pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (req.target_pidfd < 0)
			return sd_bus_error_set_errnof(error, errno, "cannot take the pidfd: %m");
	}
	return do_bind(b, m, p, &req, true, error);
}

/* Reads an a{sv} of known keys into u32/u64 slots. */
struct option_slot {
	const char *key;
	char type; /* 'u' or 't' */
	void *value;
	bool *seen;
};

static int read_options(sd_bus_message *m, const struct option_slot *slots, size_t n,
			sd_bus_error *error)
{
	const char *key;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		size_t i;
		r = sd_bus_message_read(m, "s", &key);
		if (r < 0)
			return r;
		for (i = 0; i < n && strcmp(slots[i].key, key) != 0; i++)
			;
		if (i == n)
			return sd_bus_error_setf(error, SVMD_BUS_ERROR("InvalidArgument"),
						 "unknown option '%s'", key);
		char sig[2] = {slots[i].type, 0};
		r = sd_bus_message_read(m, "v", sig, slots[i].value);
		if (r < 0)
			return sd_bus_error_setf(error, SVMD_BUS_ERROR("InvalidArgument"),
						 "option '%s' must be of type %s", key, sig);
		if (slots[i].seen)
			*slots[i].seen = true;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int method_bind_pgtable(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_PGTABLE};
	uint32_t gpasid = 0;
	bool have_gpasid = false;
	struct peer *p;
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "sutu", &req.device, &req.args.pasid, &req.args.pgtable.gpgd,
				&req.args.pgtable.addr_width);
	if (r < 0)
		return r;
	const struct option_slot slots[] = {
		{"gpasid", 'u', &gpasid, &have_gpasid},
		{"vtd-flags", 't', &req.args.pgtable.vtd_flags, NULL},
		{"pat", 'u', &req.args.pgtable.pat, NULL},
		{"emt", 'u', &req.args.pgtable.emt, NULL},
	};
	r = read_options(m, slots, ELEMENTSOF(slots), error);
	if (r < 0)
		return r;
	req.args.pgtable.format = SVMD_PGTABLE_FORMAT_VTD;
	if (have_gpasid) {
		req.args.pgtable.flags = SVMD_PGTABLE_GPASID_VALID;
		req.args.pgtable.gpasid = gpasid;
	}
	return do_bind(b, m, p, &req, false, error);
}

static int method_bind_pasid_table(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_PASID_TABLE};
	const char *model;
	struct peer *p;
	int r, mdl;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "stts", &req.device, &req.args.table.ptr, &req.args.table.size,
				&model);
	if (r < 0)
		return r;
	mdl = svmd_model_from_name(model);
	if (mdl <= 0)
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("InvalidArgument"),
					 "model must be vtd or smmu, not '%s'", model);
	req.args.table.model = (uint32_t)mdl;
	return do_bind(b, m, p, &req, false, error);
}

static int method_open_device(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct binding *x = NULL;
	struct op_result res;
	const char *device;
	_cleanup_close_ int fd = -1;
	struct peer *p;
	char path[96];
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "s", &device);
	if (r < 0)
		return r;
	if (ops_open_device(b->core, p->session, &p->caller, device, &fd, &res, &x) < 0)
		return reply_error(error, &res);
	binding_path(binding_id(x), path, sizeof(path));
	/* sd-bus sends a copy of the fd; ours closes on return. */
	return sd_bus_reply_method_return(m, "hto", fd, binding_id(x), path);
}

static int method_unbind(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct op_result res;
	struct peer *p;
	uint64_t id;
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	if (ops_unbind(b->core, &p->caller, id, &res) < 0)
		return reply_error(error, &res);
	return sd_bus_reply_method_return(m, NULL);
}

static int method_lease(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	_cleanup_close_ int fd = -1;
	struct op_result res;
	struct peer *p;
	uint64_t id;
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	if (ops_lease(b->core, &p->caller, id, &fd, &res) < 0)
		return reply_error(error, &res);
	return sd_bus_reply_method_return(m, "h", fd);
}

static int method_explain(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct explain_request x = {0};
	const char *op, *device;
	enum policy_verdict verdict;
	bool have_pasid = false, have_uid = false;
	uint32_t uid = 0;
	struct op_result res;
	struct peer *p;
	char text[SVMD_PAYLOAD_MAX];
	int r, k;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "ss", &op, &device);
	if (r < 0)
		return r;
	const struct option_slot slots[] = {
		{"pasid", 'u', &x.pasid, &have_pasid},
		{"uid", 'u', &uid, &have_uid},
		{"addr-width", 'u', &x.addr_width, NULL},
		{"vtd-flags", 't', &x.vtd_flags, NULL},
	};
	r = read_options(m, slots, ELEMENTSOF(slots), error);
	if (r < 0)
		return r;
	k = policy_op_from_name(op);
	if (k < 0)
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("InvalidArgument"),
					 "unknown operation '%s'", op);
	x.op = (enum policy_op)k;
	if ((x.op == POLICY_OP_RELOAD) != (device[0] == 0))
		return sd_bus_error_set(error, SVMD_BUS_ERROR("InvalidArgument"),
					"a device is needed, except for reload");
	x.device = device[0] ? device : NULL;
	x.has_uid = have_uid;
	x.uid = uid;
	if (ops_explain(b->core, &p->caller, &x, text, sizeof(text), &verdict, &res) < 0)
		return reply_error(error, &res);
	return sd_bus_reply_method_return(m, "bs", verdict == POLICY_ALLOW, text);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct reload_result rr;
	struct op_result res;
	struct peer *p;
	char text[SVMD_PAYLOAD_MAX];
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (ops_reload(b->core, &p->caller, &rr, text, sizeof(text), &res) < 0)
		return reply_error(error, &res);
	return sd_bus_reply_method_return(m, "tuuuuus", rr.generation, (uint32_t)rr.n_rules,
					  (uint32_t)rr.n_files, (uint32_t)rr.n_warnings,
					  (uint32_t)rr.n_denied, (uint32_t)rr.n_revoked, text);
}

static int prop_version(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)userdata, (void)error;
	return sd_bus_message_append(reply, "s", SVMD_VERSION_STRING);
}

static int prop_broker(sd_bus *bus, const char *path, const char *interface, const char *property,
		       sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;

	(void)bus, (void)path, (void)interface, (void)error;
	if (strcmp(property, "Backend") == 0)
		return sd_bus_message_append(reply, "s", core_backend(b->core)->ops->name);
	if (strcmp(property, "NDevices") == 0)
		return sd_bus_message_append(reply, "u",
					     (uint32_t)core_backend(b->core)->n_devices);
	if (strcmp(property, "NBindings") == 0)
		return sd_bus_message_append(reply, "u",
					     (uint32_t)registry_count(core_registry(b->core)));
	return sd_bus_message_append(reply, "t", core_generation(b->core));
}

static const sd_bus_vtable broker_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_NAMES("ListDevices", "", , "a(suuuqqyy)", SD_BUS_PARAM(devices),
				 method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListBindings", "", , "a(tssuuiibto)", SD_BUS_PARAM(bindings),
				 method_list_bindings, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindTask", "su", SD_BUS_PARAM(device) SD_BUS_PARAM(pasid), "tuo",
				 SD_BUS_PARAM(id) SD_BUS_PARAM(bound_pasid) SD_BUS_PARAM(binding),
				 method_bind_task, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindTaskPidfd", "shu",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(pidfd) SD_BUS_PARAM(pasid),
				 "tuo",
				 SD_BUS_PARAM(id) SD_BUS_PARAM(bound_pasid) SD_BUS_PARAM(binding),
				 method_bind_task, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindPgtable", "sutua{sv}",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(pasid) SD_BUS_PARAM(gpgd)
					 SD_BUS_PARAM(addr_width) SD_BUS_PARAM(options),
				 "to", SD_BUS_PARAM(id) SD_BUS_PARAM(binding), method_bind_pgtable,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindPasidTable", "stts",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(ptr) SD_BUS_PARAM(size)
					 SD_BUS_PARAM(model),
				 "to", SD_BUS_PARAM(id) SD_BUS_PARAM(binding),
				 method_bind_pasid_table, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("OpenDevice", "s", SD_BUS_PARAM(device), "hto",
				 SD_BUS_PARAM(fd) SD_BUS_PARAM(id) SD_BUS_PARAM(binding),
				 method_open_device, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Unbind", "t", SD_BUS_PARAM(id), "", , method_unbind,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Lease", "t", SD_BUS_PARAM(id), "h", SD_BUS_PARAM(lease),
				 method_lease, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Explain", "ssa{sv}",
				 SD_BUS_PARAM(op) SD_BUS_PARAM(device) SD_BUS_PARAM(options), "bs",
				 SD_BUS_PARAM(allowed) SD_BUS_PARAM(text), method_explain,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Reload", "", , "tuuuuus",
				 SD_BUS_PARAM(generation) SD_BUS_PARAM(rules) SD_BUS_PARAM(files)
					 SD_BUS_PARAM(warnings) SD_BUS_PARAM(no_longer_granted)
						 SD_BUS_PARAM(revoked) SD_BUS_PARAM(text),
				 method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("PolicyReloaded", "t", SD_BUS_PARAM(generation), 0),
	SD_BUS_PROPERTY("Version", "s", prop_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Backend", "s", prop_broker, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("NDevices", "u", prop_broker, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("NBindings", "u", prop_broker, 0, 0),
	SD_BUS_PROPERTY("PolicyGeneration", "t", prop_broker, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_VTABLE_END,
};

/* Binding objects. */

/* The binding a path names, if the current caller may see it (emissions have no caller). */
static struct binding *binding_for_path(struct bus *b, const char *path)
{
	const char *s = path + strlen(SVMD_BUS_BINDING_PREFIX);
	struct binding *x;
	uint64_t id = 0;

	if (strncmp(path, SVMD_BUS_BINDING_PREFIX "/", strlen(SVMD_BUS_BINDING_PREFIX) + 1) != 0)
		return NULL;
	for (s++; *s; s++) {
		if (*s < '0' || *s > '9' || id > UINT64_MAX / 10)
			return NULL;
		id = id * 10 + (uint64_t)(*s - '0');
	}
	x = registry_find(core_registry(b->core), id);
	if (!x)
		return NULL;
	sd_bus_message *m = sd_bus_get_current_message(b->bus);
	if (m && sd_bus_message_get_sender(m)) {
		struct peer *p = peer_find(b, sd_bus_message_get_sender(m));
		/* A caller that never called a method is not known yet: ask the bus. */
		if (!p && peer_get(b, m, &p, NULL) < 0)
			return NULL;
		if (!ops_visible(&p->caller, x))
			return NULL;
	}
	return x;
}

static int binding_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
			void **found, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct binding *x = binding_for_path(b, path);

	(void)bus, (void)interface, (void)error;
	if (!x)
		return 0;
	b->current = x;
	*found = b;
	return 1;
}

static int binding_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
			     sd_bus_error *error)
{
	static const struct caller everyone = {.uid = 0, .pidfd = -1}; /* sd-bus asking itself */
	struct bus *b = userdata;
	const struct caller *who = &everyone;
	struct peer *p = NULL;
	char **v;
	size_t n = 0, k = 0;

	(void)bus, (void)path, (void)error;
	sd_bus_message *m = sd_bus_get_current_message(b->bus);
	if (m && sd_bus_message_get_sender(m)) {
		if (peer_get(b, m, &p, NULL) < 0)
			return -EPERM;
		who = &p->caller;
	}
	for (struct binding *x = ops_visible_first(b->core, who, 0); x;
	     x = ops_visible_next(b->core, who, x))
		n++;
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (struct binding *x = ops_visible_first(b->core, who, 0); x;
	     x = ops_visible_next(b->core, who, x)) {
		char buf[96];
		binding_path(binding_id(x), buf, sizeof(buf));
		v[k] = strdup(buf);
		if (!v[k]) {
			for (size_t i = 0; i < k; i++)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
		k++;
	}
	*nodes = v;
	return 0;
}

static int prop_binding(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	const struct binding *x = b->current;

	(void)bus, (void)path, (void)interface, (void)error;
	if (strcmp(property, "Id") == 0)
		return sd_bus_message_append(reply, "t", binding_id(x));
	if (strcmp(property, "Kind") == 0)
		return sd_bus_message_append(reply, "s", svmd_kind_name(x->args.kind));
	if (strcmp(property, "Device") == 0)
		return sd_bus_message_append(reply, "s", x->device->name);
	if (strcmp(property, "PASID") == 0)
		return sd_bus_message_append(reply, "u", x->args.pasid);
	if (strcmp(property, "OwnerUID") == 0)
		return sd_bus_message_append(reply, "u", (uint32_t)x->owner->uid);
	if (strcmp(property, "OwnerPID") == 0)
		return sd_bus_message_append(reply, "i", (int32_t)x->owner->pid);
	if (strcmp(property, "TargetPID") == 0)
		return sd_bus_message_append(
			reply, "i",
			(int32_t)(x->args.kind == SVMD_KIND_TASK ? x->args.task.pid : 0));
	if (strcmp(property, "Leased") == 0)
		return sd_bus_message_append(reply, "b", (int)x->leased);
	return sd_bus_message_append(reply, "t", binding_created_usec(x));
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct op_result res;
	struct peer *p;
	int r;

	r = peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (ops_unbind(b->core, &p->caller, binding_id(b->current), &res) < 0)
		return reply_error(error, &res);
	return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable binding_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Release", "", "", method_release, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_PROPERTY("Id", "t", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Kind", "s", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Device", "s", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("PASID", "u", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("OwnerUID", "u", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("OwnerPID", "i", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("TargetPID", "i", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Leased", "b", prop_binding, 0, 0),
	SD_BUS_PROPERTY("Created", "t", prop_binding, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END,
};

/* What the core tells us: bindings come and go, the policy changes. */

/* The interfaces a binding object has, as its ObjectManager signals list them. */
static const char *const binding_interfaces[] = {
	SVMD_BUS_BINDING_IFACE,
	"org.freedesktop.DBus.Properties",
	"org.freedesktop.DBus.Introspectable",
	"org.freedesktop.DBus.Peer",
};

/*
 * InterfacesAdded/Removed for a binding. Signals reach every listener on the bus, while a
 * binding is visible to its owner and root only: so they carry the path and the interface
 * names but no properties (an empty dictionary per interface); the owner asks for them.
 */
static void announce(struct bus *b, const struct binding *x, bool added)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	char path[96];
	int r;

	binding_path(binding_id(x), path, sizeof(path));
	r = sd_bus_message_new_signal(b->bus, &m, SVMD_BUS_PATH,
				      "org.freedesktop.DBus.ObjectManager",
				      added ? "InterfacesAdded" : "InterfacesRemoved");
	if (r >= 0)
		r = sd_bus_message_append(m, "o", path);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', added ? "{sa{sv}}" : "s");
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(binding_interfaces); i++)
		r = added ? sd_bus_message_append(m, "{sa{sv}}", binding_interfaces[i], 0)
			  : sd_bus_message_append(m, "s", binding_interfaces[i]);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_send(b->bus, m, NULL);
	if (r < 0)
		log_debug_errno(r, "Cannot announce %s: %m", path);
	loop_bus_kick(b->loop);
}

static void on_binding_added(void *userdata, struct binding *x)
{
	announce(userdata, x, true);
}

static void on_binding_removed(void *userdata, struct binding *x)
{
	announce(userdata, x, false);
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

static const struct core_hooks hooks = {
	.binding_added = on_binding_added,
	.binding_removed = on_binding_removed,
	.policy_reloaded = on_policy_reloaded,
};

int bus_new(struct loop *loop, struct core *core, const char *address, struct bus **ret)
{
	struct bus *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return log_oom();
	b->loop = loop;
	b->core = core;
	r = svmd_bus_open(address, &b->bus);
	if (r < 0) {
		free(b);
		return log_error_errno(r,
				       "Cannot connect to the %s bus: %m. Pass --bus=none to serve "
				       "the socket only.",
				       address);
	}
	r = sd_bus_error_add_map(svmd_bus_errors);
	if (r >= 0)
		r = sd_bus_add_object_vtable(b->bus, &b->slots[0], SVMD_BUS_PATH,
					     SVMD_BUS_INTERFACE, broker_vtable, b);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(b->bus, &b->slots[1], SVMD_BUS_BINDING_PREFIX,
					       SVMD_BUS_BINDING_IFACE, binding_vtable, binding_find,
					       b);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(b->bus, &b->slots[2], SVMD_BUS_BINDING_PREFIX,
					       binding_enumerate, b);
	if (r >= 0)
		r = sd_bus_add_object_manager(b->bus, &b->slots[3], SVMD_BUS_PATH);
	if (r < 0) {
		log_error_errno(r, "Cannot export the D-Bus objects: %m");
		bus_free(b);
		return r;
	}
	r = sd_bus_request_name(b->bus, SVMD_BUS_NAME, 0);
	if (r < 0) {
		if (r == -EEXIST || r == -EALREADY)
			log_error("%s is owned by another process (another svmd?).", SVMD_BUS_NAME);
		else
			log_error_errno(r,
					"Cannot own %s on the %s bus: %m (is the bus policy "
					"installed?)",
					SVMD_BUS_NAME, address);
		bus_free(b);
		return r < 0 ? r : -EIO;
	}
	r = loop_attach_bus(loop, b->bus);
	if (r < 0) {
		bus_free(b);
		return log_error_errno(r, "Cannot watch the bus: %m");
	}
	core_set_hooks(core, &hooks, b);
	*ret = b;
	return 0;
}

struct bus *bus_free(struct bus *b)
{
	if (!b)
		return NULL;
	core_set_hooks(b->core, NULL, NULL);
	for (size_t i = 0; i < b->peers.n_buckets; i++)
		while (b->peers.buckets && b->peers.buckets[i])
			peer_free(container_of(b->peers.buckets[i], struct peer, node));
	hashmap_done(&b->peers);
	for (size_t i = 0; i < ELEMENTSOF(b->slots); i++)
		sd_bus_slot_unref(b->slots[i]);
	if (b->bus) {
		loop_detach_bus(b->loop);
		sd_bus_flush_close_unref(b->bus);
	}
	free(b);
	return NULL;
}
