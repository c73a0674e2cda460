/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The org.svmd.Broker1 interface on /org/svmd/Broker1: each method reads its arguments, finds
 * the caller's peer (bus.c), calls the ops.c function the socket front-end calls too, and maps
 * the result to a reply or an org.svmd.Broker1.Error.* error. A request that makes a binding is
 * answered first and committed after (or ended, when the answer could not be sent).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-internal.h"
#include "cleanup.h"
#include "svmd-bus.h"
#include "svmd-version.h"

/* Methods of org.svmd.Broker1. */

static int method_list_devices(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	const struct backend *be = b->core->backend;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
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

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(tssuuiibto)");
	for (struct binding *x = ops_visible_first(b->core, p->session->owner, 0); r >= 0 && x;
	     x = ops_visible_next(b->core, p->session->owner, x)) {
		bus_binding_path(binding_id(x), path, sizeof(path));
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

/* Sends reply (to m, that x is made; r: how building it went), then commits x; a reply that
 * cannot be sent ends x instead. With an fd in it, the reply waits until p's connection is
 * known to take fds. */
static int send_made(struct bus *b, struct peer *p, sd_bus_message *m, sd_bus_message *reply,
		     struct binding *x, bool has_fd, int r)
{
	if (r >= 0 && has_fd)
		return bus_send_fd_reply(b, p, m, sd_bus_message_ref(reply), binding_id(x), false)
			       ?: 1;
	if (r >= 0) {
		bus_state_before_reply(b);
		r = sd_bus_send(NULL, reply, NULL);
	}
	if (r < 0) {
		ops_undelivered(b->core, x);
		return r;
	}
	ops_commit(b->core, x);
	return 1;
}

/* Replies to m that x is made, with x's device fd if fd >= 0 (send_made()). */
static int reply_made(struct bus *b, struct peer *p, sd_bus_message *m, struct binding *x,
		      const char *types, int fd)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	char path[96];
	int r;

	bus_binding_path(binding_id(x), path, sizeof(path));
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0 && strcmp(types, "tuo") == 0)
		r = sd_bus_message_append(reply, types, binding_id(x), x->args.pasid, path);
	else if (r >= 0 && strcmp(types, "hto") == 0)
		r = sd_bus_message_append(reply, types, fd, binding_id(x), path);
	else if (r >= 0 && strcmp(types, "toh") == 0)
		r = sd_bus_message_append(reply, types, binding_id(x), path, fd);
	else if (r >= 0)
		r = sd_bus_message_append(reply, types, binding_id(x), path);
	return send_made(b, p, m, reply, x, fd >= 0, r);
}

static int bind(struct bus *b, sd_bus_message *m, struct peer *p, struct bind_request *req,
		const char *types, sd_bus_error *error)
{
	struct binding *x = NULL;
	struct op_result res;

	if (ops_bind(b->core, p->session, req, &res, &x) < 0)
		return bus_reply_error(error, &res);
	return reply_made(b, p, m, x, types, -1);
}

static int method_bind_task(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_TASK};
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "su", &req.device, &req.args.pasid);
	if (r < 0)
		return r;
	return bind(b, m, p, &req, "tuo", error);
}

static int method_bind_task_pidfd(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_TASK};
	struct peer *p;
	int fd, r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "shu", &req.device, &fd, &req.args.pasid);
	if (r < 0)
		return r;
	/* The message keeps its fd: the core takes a copy it owns. */
	req.target_pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (req.target_pidfd < 0)
		return sd_bus_error_set_errnof(error, errno, "cannot take the pidfd: %m");
	return bind(b, m, p, &req, "tuo", error);
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

/* BindPgtable's arguments, and with_faults whether the caller asked for the fault queue. */
static int pgtable_request(struct bus *b, sd_bus_message *m, bool with_faults,
			   struct bind_request *ret_req, struct peer **ret_peer,
			   sd_bus_error *error)
{
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_PGTABLE};
	uint32_t gpasid = 0;
	bool have_gpasid = false;
	int r;

	r = bus_peer_get(b, m, ret_peer, error);
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
	if (with_faults)
		req.args.pgtable.flags |= SVMD_PGTABLE_FAULTS;
	*ret_req = req;
	return 0;
}

static int method_bind_pgtable(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req;
	struct peer *p;
	int r = pgtable_request(b, m, false, &req, &p, error);

	return r < 0 ? r : bind(b, m, p, &req, "to", error);
}

/* BindPgtable with SVMD_PGTABLE_FAULTS: the reply carries the table's fault queue fd. */
static int method_bind_pgtable_with_faults(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req;
	struct binding *x = NULL;
	struct op_result res;
	struct peer *p;
	int r = pgtable_request(b, m, true, &req, &p, error);

	if (r < 0)
		return r;
	if (ops_bind(b->core, p->session, &req, &res, &x) < 0)
		return bus_reply_error(error, &res);
	_cleanup_close_ int fd = TAKE_FD(x->args.pgtable.fault_fd);
	if (fd < 0) {
		ops_undelivered(b->core, x);
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("Failed"),
					 "the table was bound without a fault queue");
	}
	/* The message holds a copy of the fd; ours closes on return. */
	return reply_made(b, p, m, x, "toh", fd);
}

static int method_bind_pasid_table(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_PASID_TABLE};
	const char *model;
	struct peer *p;
	int r, mdl;

	r = bus_peer_get(b, m, &p, error);
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
	return bind(b, m, p, &req, "to", error);
}

/* The 48-byte form of BIND_PASID_TABLE: an SMMUv3 CD table; the reply's array holds the
 * binding's vEVENTQ fd where the backend made one (iommufd), else nothing. */
static int method_bind_smmu_cd_table(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct bind_request req = {.target_pidfd = -1, .args.kind = SVMD_KIND_PASID_TABLE};
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct binding *x = NULL;
	struct op_result res;
	struct peer *p;
	char path[96];
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "sttuyy", &req.device, &req.args.table.ptr, &req.args.table.size,
				&req.args.table.vsid, &req.args.table.s1fmt,
				&req.args.table.s1cdmax);
	if (r < 0)
		return r;
	if (req.args.table.s1fmt > SVMD_SMMU_S1FMT_2LVL_64K ||
	    req.args.table.s1cdmax > SVMD_SMMU_S1CDMAX_MAX)
		return sd_bus_error_setf(error, SVMD_BUS_ERROR("InvalidArgument"),
					 "s1fmt must be 0..2 and s1cdmax 0..20");
	req.args.table.model = SVMD_MODEL_SMMU;
	req.args.table.vsid_valid = true;
	if (ops_bind(b->core, p->session, &req, &res, &x) < 0)
		return bus_reply_error(error, &res);
	_cleanup_close_ int fd = TAKE_FD(x->args.table.event_fd);
	bus_binding_path(binding_id(x), path, sizeof(path));
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "to", binding_id(x), path);
	if (r >= 0)
		r = fd >= 0 ? sd_bus_message_append(reply, "ah", 1, fd)
			    : sd_bus_message_append(reply, "ah", 0);
	/* The message holds a copy of the fd; ours closes on return. */
	return send_made(b, p, m, reply, x, fd >= 0, r);
}

static int method_open_device(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct binding *x = NULL;
	struct op_result res;
	const char *device;
	_cleanup_close_ int fd = -1;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "s", &device);
	if (r < 0)
		return r;
	if (ops_open_device(b->core, p->session, device, &fd, &res, &x) < 0)
		return bus_reply_error(error, &res);
	/* sd-bus sends a copy of the fd; ours closes on return. */
	return reply_made(b, p, m, x, "hto", fd);
}

static int method_map(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct map_request req = {.memfd = -1};
	struct binding *x = NULL;
	struct op_result res;
	struct peer *p;
	int fd, r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "shtttu", &req.device, &fd, &req.args.map.offset,
				&req.args.map.length, &req.args.map.iova, &req.args.map.flags);
	if (r < 0)
		return r;
	/* The message keeps its fd: the core takes a copy it owns. */
	req.memfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (req.memfd < 0)
		return sd_bus_error_set_errnof(error, errno, "cannot take the memfd: %m");
	if (ops_map(b->core, p->session, &req, &res, &x) < 0)
		return bus_reply_error(error, &res);
	return reply_made(b, p, m, x, "to", -1);
}

static int method_unmap(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct unmap_result u;
	struct op_result res;
	const char *device;
	uint64_t iova, length;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "stt", &device, &iova, &length);
	if (r < 0)
		return r;
	if (ops_unmap(b->core, p->session, device, iova, length, &u, &res) < 0)
		return bus_reply_error(error, &res);
	return sd_bus_reply_method_return(m, "ut", u.n, u.bytes);
}

/* Invalidate(t id, u type, a(ttt) entries) -> u done: the socket's INVALIDATE. */
static int method_invalidate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct svmd_invalidate_entry e[SVMD_INVALIDATE_ENTRIES_MAX] = {0};
	struct op_result res;
	uint64_t id;
	uint32_t type, n = 0, done = 0;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "tu", &id, &type);
	if (r >= 0)
		r = sd_bus_message_enter_container(m, 'a', "(ttt)");
	while (r >= 0) {
		uint64_t w0, w1, w2;
		r = sd_bus_message_read(m, "(ttt)", &w0, &w1, &w2);
		if (r <= 0)
			break;
		if (n == SVMD_INVALIDATE_ENTRIES_MAX)
			return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
						 "at most %u entries in one invalidate",
						 SVMD_INVALIDATE_ENTRIES_MAX);
		e[n++] = (struct svmd_invalidate_entry){{w0, w1, w2}};
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	if (n == 0 || type == 0 || type >= _SVMD_INVALIDATE_TYPE_MAX)
		return sd_bus_error_setf(
			error, SD_BUS_ERROR_INVALID_ARGS,
			"type %u with %u entries: a known type and 1 to %u entries", type, n,
			SVMD_INVALIDATE_ENTRIES_MAX);
	if (ops_invalidate(b->core, p->session, id, type, e, n, &done, &res) < 0)
		return bus_reply_error(error, &res);
	return sd_bus_reply_method_return(m, "u", done);
}

static int method_device_info(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct op_result res;
	const char *device;
	char text[SVMD_PAYLOAD_MAX];
	uint32_t kinds;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "s", &device);
	if (r < 0)
		return r;
	if (ops_device_info(b->core, p->session, device, &kinds, text, sizeof(text), &res) < 0)
		return bus_reply_error(error, &res);
	bus_utf8_sanitize(text);
	return sd_bus_reply_method_return(m, "us", kinds, text);
}

static int method_unbind(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct op_result res;
	struct peer *p;
	uint64_t id;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	if (ops_unbind(b->core, p->session, id, &res) < 0)
		return bus_reply_error(error, &res);
	bus_state_before_reply(b);
	return sd_bus_reply_method_return(m, NULL);
}

static int method_lease(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct bus *b = userdata;
	_cleanup_close_ int fd = -1;
	struct op_result res;
	struct peer *p;
	uint64_t id;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	if (ops_lease(b->core, p->session, id, &fd, &res) < 0)
		return bus_reply_error(error, &res);
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "h", fd);
	/* Not sent: the lease's only copy goes with the reply, and the binding ends with it. */
	if (r >= 0)
		r = bus_send_fd_reply(b, p, m, TAKE_PTR(reply), id, true);
	return r < 0 ? r : 1;
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

	r = bus_peer_get(b, m, &p, error);
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
		{"iova", 't', &x.iova, NULL},
		{"length", 't', &x.length, NULL},
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
	if (x.op == POLICY_OP_INVALIDATE && (x.addr_width || x.vtd_flags))
		return sd_bus_error_set(error, SVMD_BUS_ERROR("InvalidArgument"),
					"invalidate is decided on a binding's device and PASID: "
					"no addr-width or vtd-flags");
	x.device = device[0] ? device : NULL;
	x.has_uid = have_uid;
	x.uid = uid;
	if (ops_explain(b->core, p->session, &x, text, sizeof(text), &verdict, &res) < 0)
		return bus_reply_error(error, &res);
	bus_utf8_sanitize(text);
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

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (ops_reload(b->core, p->session, &rr, text, sizeof(text), &res) < 0)
		return bus_reply_error(error, &res);
	bus_utf8_sanitize(text);
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

static int prop_backend(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;

	(void)bus, (void)path, (void)interface, (void)property, (void)error;
	return sd_bus_message_append(reply, "s", b->core->backend->ops->name);
}

static int method_status(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct op_result res;
	struct status_info st;
	char text[SVMD_PAYLOAD_MAX - sizeof(struct svmd_daemon_status_rep)];
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (ops_status(b->core, p->session, &st, text, sizeof(text), &res) < 0)
		return bus_reply_error(error, &res);
	bus_utf8_sanitize(text);
	return sd_bus_reply_method_return(
		m, "ttuuuuusss", st.generation, st.uptime_usec, (uint32_t)st.n_devices,
		(uint32_t)st.n_sessions, (uint32_t)st.n_bindings, (uint32_t)st.n_rules,
		(uint32_t)st.n_files, st.backend, SVMD_VERSION_STRING, text);
}

/* The counters, as the OpenMetrics text libsvmclient makes of the socket's block. */
static int method_metrics(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct svmd_metrics mt;
	struct op_result res;
	_cleanup_free_ char *text = NULL;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (ops_metrics(b->core, p->session, &mt, &res) < 0)
		return bus_reply_error(error, &res);
	text = malloc(SVMD_METRICS_TEXT_MAX);
	if (!text)
		return -ENOMEM;
	r = svmd_metrics_format(&mt, text, SVMD_METRICS_TEXT_MAX);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "s", text);
}

/* Subscribe(): from now on a Record signal per audit record the caller may see (bus.c). */
static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus *b = userdata;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = bus_subscribe(b, p, error);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
}

/* Every rule in force, paged through the same recipe as the socket's. */
static int method_policy_list(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct bus *b = userdata;
	struct op_result res;
	char text[SVMD_PAYLOAD_MAX - sizeof(struct svmd_policy_list_rep)];
	size_t start = 0, n, total;
	uint64_t generation = b->core->generation;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "t", generation);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "s");
	do {
		if (ops_policy_list(b->core, p->session, start, text, sizeof(text), &n, &total,
				    &res) < 0)
			return bus_reply_error(error, &res);
		bus_utf8_sanitize(text);
		for (char *l = text, *nl; r >= 0 && (nl = strchr(l, '\n')); l = nl + 1) {
			*nl = 0;
			r = sd_bus_message_append(reply, "s", l);
		}
		start += n;
	} while (r >= 0 && n > 0 && start < total);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int prop_n_devices(sd_bus *bus, const char *path, const char *interface,
			  const char *property, sd_bus_message *reply, void *userdata,
			  sd_bus_error *error)
{
	struct bus *b = userdata;

	(void)bus, (void)path, (void)interface, (void)property, (void)error;
	return sd_bus_message_append(reply, "u", (uint32_t)b->core->backend->n_devices);
}

static int prop_n_bindings(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	struct bus *b = userdata;

	(void)bus, (void)path, (void)interface, (void)property, (void)error;
	return sd_bus_message_append(reply, "u", (uint32_t)registry_count(b->core->registry));
}

static int prop_generation(sd_bus *bus, const char *path, const char *interface,
			   const char *property, sd_bus_message *reply, void *userdata,
			   sd_bus_error *error)
{
	struct bus *b = userdata;

	(void)bus, (void)path, (void)interface, (void)property, (void)error;
	return sd_bus_message_append(reply, "t", b->core->generation);
}

const sd_bus_vtable bus_broker_vtable[] = {
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
				 method_bind_task_pidfd, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindPgtable", "sutua{sv}",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(pasid) SD_BUS_PARAM(gpgd)
					 SD_BUS_PARAM(addr_width) SD_BUS_PARAM(options),
				 "to", SD_BUS_PARAM(id) SD_BUS_PARAM(binding), method_bind_pgtable,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindPgtableWithFaults", "sutua{sv}",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(pasid) SD_BUS_PARAM(gpgd)
					 SD_BUS_PARAM(addr_width) SD_BUS_PARAM(options),
				 "toh", SD_BUS_PARAM(id) SD_BUS_PARAM(binding) SD_BUS_PARAM(faults),
				 method_bind_pgtable_with_faults, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("BindPasidTable", "stts",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(ptr) SD_BUS_PARAM(size)
					 SD_BUS_PARAM(model),
				 "to", SD_BUS_PARAM(id) SD_BUS_PARAM(binding),
				 method_bind_pasid_table, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES(
		"BindSmmuCdTable", "sttuyy",
		SD_BUS_PARAM(device) SD_BUS_PARAM(ptr) SD_BUS_PARAM(size) SD_BUS_PARAM(vsid)
			SD_BUS_PARAM(s1fmt) SD_BUS_PARAM(s1cdmax),
		"toah", SD_BUS_PARAM(id) SD_BUS_PARAM(binding) SD_BUS_PARAM(events),
		method_bind_smmu_cd_table, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("OpenDevice", "s", SD_BUS_PARAM(device), "hto",
				 SD_BUS_PARAM(fd) SD_BUS_PARAM(id) SD_BUS_PARAM(binding),
				 method_open_device, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Map", "shtttu",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(memfd) SD_BUS_PARAM(offset)
					 SD_BUS_PARAM(length) SD_BUS_PARAM(iova)
						 SD_BUS_PARAM(flags),
				 "to", SD_BUS_PARAM(id) SD_BUS_PARAM(binding), method_map,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Invalidate", "tua(ttt)",
				 SD_BUS_PARAM(binding_id) SD_BUS_PARAM(type) SD_BUS_PARAM(entries),
				 "u", SD_BUS_PARAM(done), method_invalidate,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Unmap", "stt",
				 SD_BUS_PARAM(device) SD_BUS_PARAM(iova) SD_BUS_PARAM(length), "ut",
				 SD_BUS_PARAM(mappings) SD_BUS_PARAM(bytes), method_unmap,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("DeviceInfo", "s", SD_BUS_PARAM(device), "us",
				 SD_BUS_PARAM(kinds) SD_BUS_PARAM(text), method_device_info,
				 SD_BUS_VTABLE_UNPRIVILEGED),
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
	SD_BUS_METHOD_WITH_NAMES(
		"Status", "", , "ttuuuuusss",
		SD_BUS_PARAM(generation) SD_BUS_PARAM(uptime_usec) SD_BUS_PARAM(devices)
			SD_BUS_PARAM(clients) SD_BUS_PARAM(bindings) SD_BUS_PARAM(rules)
				SD_BUS_PARAM(files) SD_BUS_PARAM(backend) SD_BUS_PARAM(version)
					SD_BUS_PARAM(text),
		method_status, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListPolicy", "", , "tas",
				 SD_BUS_PARAM(generation) SD_BUS_PARAM(rules), method_policy_list,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Metrics", "", , "s", SD_BUS_PARAM(text), method_metrics,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Subscribe", "", "", method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("PolicyReloaded", "t", SD_BUS_PARAM(generation), 0),
	SD_BUS_SIGNAL_WITH_NAMES(
		"Record", "sssutuiuttsss",
		SD_BUS_PARAM(event) SD_BUS_PARAM(op) SD_BUS_PARAM(device) SD_BUS_PARAM(pasid)
			SD_BUS_PARAM(binding) SD_BUS_PARAM(uid) SD_BUS_PARAM(pid)
				SD_BUS_PARAM(error) SD_BUS_PARAM(generation) SD_BUS_PARAM(usec)
					SD_BUS_PARAM(ended) SD_BUS_PARAM(reason) SD_BUS_PARAM(rule),
		0),
	SD_BUS_SIGNAL_WITH_NAMES("SubscriptionEnded", "s", SD_BUS_PARAM(reason), 0),
	SD_BUS_SIGNAL_WITH_NAMES("FdProbe", "h", SD_BUS_PARAM(fd), 0),
	SD_BUS_PROPERTY("Version", "s", prop_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Backend", "s", prop_backend, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("NDevices", "u", prop_n_devices, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("NBindings", "u", prop_n_bindings, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("PolicyGeneration", "t", prop_generation, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_VTABLE_END,
};

/*
 * org.svmd.Metrics1 on /org/svmd/Metrics1: the counters of Metrics() as typed properties, read
 * with the same recipe and access rule (root, or an 'allow metrics' rule; else AccessDenied
 * naming the rule to add). An object of their own, outside the ObjectManager's subtree: a
 * refused GetAll there would fail `busctl introspect` of /org/svmd/Broker1 and
 * GetManagedObjects for every caller without the rule. One Get or GetAll reads the block once.
 */

/* The block for the message being answered, read once per message. */
static int metrics_for_current(struct bus *b, const struct svmd_metrics **ret, sd_bus_error *error)
{
	sd_bus_message *m = sd_bus_get_current_message(b->bus);
	struct op_result res;
	struct peer *p;
	int r;

	if (!m || !sd_bus_message_get_sender(m))
		return sd_bus_error_set(error, SVMD_BUS_ERROR("NotPermitted"),
					"svmd serves callers with a unique bus name only");
	if (m != b->metrics_for) {
		r = bus_peer_get(b, m, &p, error);
		if (r < 0)
			return r;
		b->metrics_for = sd_bus_message_unref(b->metrics_for);
		if (ops_metrics(b->core, p->session, &b->metrics, &res) < 0)
			return bus_reply_error(error, &res);
		b->metrics_for = sd_bus_message_ref(m);
	}
	*ret = &b->metrics;
	return 0;
}

#define METRICS_PROPERTY(name)                                                                     \
	static int metrics_##name(sd_bus_message *reply, const struct svmd_metrics *mt);           \
	static int prop_metrics_##name(sd_bus *bus, const char *path, const char *interface,       \
				       const char *property, sd_bus_message *reply,                \
				       void *userdata, sd_bus_error *error)                        \
	{                                                                                          \
		const struct svmd_metrics *mt;                                                     \
		int r;                                                                             \
                                                                                                   \
		(void)bus, (void)path, (void)interface, (void)property;                            \
		r = metrics_for_current(userdata, &mt, error);                                     \
		return r < 0 ? r : metrics_##name(reply, mt);                                      \
	}                                                                                          \
	static int metrics_##name(sd_bus_message *reply, const struct svmd_metrics *mt)

/* a{st}: op -> granted requests. */
METRICS_PROPERTY(grants)
{
	int r = sd_bus_message_open_container(reply, 'a', "{st}");

	for (unsigned o = 0; r >= 0 && o < SVMD_METRICS_OPS; o++) {
		uint64_t n = 0;
		for (unsigned k = 0; k < SVMD_METRICS_CLASSES; k++)
			n += mt->requests[SVMD_METRICS_GRANT][o][k];
		r = sd_bus_message_append(reply, "{st}", svmd_metrics_op_name(o), n);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* a{sa{st}}: op -> reason class (or why a binding ended) -> count. */
static int append_by_op(sd_bus_message *reply, const uint64_t *v, unsigned n_keys,
			const char *(*key)(unsigned))
{
	int r = sd_bus_message_open_container(reply, 'a', "{sa{st}}");

	for (unsigned o = 0; r >= 0 && o < SVMD_METRICS_OPS; o++) {
		r = sd_bus_message_open_container(reply, 'e', "sa{st}");
		if (r >= 0)
			r = sd_bus_message_append(reply, "s", svmd_metrics_op_name(o));
		if (r >= 0)
			r = sd_bus_message_open_container(reply, 'a', "{st}");
		for (unsigned k = 0; r >= 0 && k < n_keys; k++)
			r = sd_bus_message_append(reply, "{st}", key(k), v[o * n_keys + k]);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* Denials and failures have no class "none": every one has a reason. */
static const char *class_name(unsigned k)
{
	return svmd_metrics_class_name(k + 1);
}

/* a{sa{st}} of one outcome's requests: op -> reason class -> count. */
static int append_outcome(sd_bus_message *reply, const struct svmd_metrics *mt, unsigned outcome)
{
	uint64_t v[SVMD_METRICS_OPS][SVMD_METRICS_CLASSES - 1];

	for (unsigned o = 0; o < SVMD_METRICS_OPS; o++)
		for (unsigned k = 1; k < SVMD_METRICS_CLASSES; k++)
			v[o][k - 1] = mt->requests[outcome][o][k];
	return append_by_op(reply, &v[0][0], SVMD_METRICS_CLASSES - 1, class_name);
}

METRICS_PROPERTY(denials)
{
	return append_outcome(reply, mt, SVMD_METRICS_DENY);
}

METRICS_PROPERTY(failures)
{
	return append_outcome(reply, mt, SVMD_METRICS_FAIL);
}

METRICS_PROPERTY(releases)
{
	return append_by_op(reply, &mt->releases[0][0], SVMD_METRICS_ENDS, svmd_metrics_end_name);
}

METRICS_PROPERTY(reloads)
{
	return sd_bus_message_append(reply, "a{st}", 2, "ok", mt->reloads_ok, "refused",
				     mt->reloads_refused);
}

METRICS_PROPERTY(dropped)
{
	return sd_bus_message_append(reply, "a{st}", 2, "bus", mt->dropped[SVMD_METRICS_BUS],
				     "socket", mt->dropped[SVMD_METRICS_SOCKET]);
}

METRICS_PROPERTY(sessions)
{
	return sd_bus_message_append(reply, "a{su}", 2, "bus", mt->sessions[SVMD_METRICS_BUS],
				     "socket", mt->sessions[SVMD_METRICS_SOCKET]);
}

/* a{sa{su}}: device -> uid class -> live bindings; "other" for devices past the listed ones. */
METRICS_PROPERTY(bindings)
{
	int r = sd_bus_message_open_container(reply, 'a', "{sa{su}}");

	for (uint32_t i = 0; r >= 0 && i <= mt->n_devices && i <= SVMD_METRICS_DEVICES; i++) {
		char name[SVMD_DEVICE_NAME_SZ + 1] = "other";
		const uint32_t *n = mt->other_bindings;
		if (i < mt->n_devices) {
			memcpy(name, mt->device[i].name, SVMD_DEVICE_NAME_SZ);
			name[SVMD_DEVICE_NAME_SZ] = 0;
			n = mt->device[i].bindings;
		}
		r = sd_bus_message_append(reply, "{sa{su}}", name, 2, "root",
					  n[SVMD_METRICS_UID_ROOT], "other",
					  n[SVMD_METRICS_UID_OTHER]);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* a(tt): (upper bound in µs, requests that took at most that long), cumulative as OpenMetrics'
 * buckets; the last bound is UINT64_MAX (+Inf: every request). */
METRICS_PROPERTY(latency)
{
	uint64_t sum = 0;
	int r = sd_bus_message_open_container(reply, 'a', "(tt)");

	for (unsigned i = 0; r >= 0 && i < SVMD_METRICS_BUCKETS; i++) {
		sum += mt->latency[i];
		r = sd_bus_message_append(reply, "(tt)", svmd_metrics_bound_usec(i), sum);
	}
	if (r >= 0)
		r = sd_bus_message_append(reply, "(tt)", UINT64_MAX, mt->latency_count);
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

METRICS_PROPERTY(requests)
{
	return sd_bus_message_append(reply, "t", mt->latency_count);
}

METRICS_PROPERTY(latency_sum)
{
	return sd_bus_message_append(reply, "t", mt->latency_sum_usec);
}

const sd_bus_vtable bus_metrics_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Grants", "a{st}", prop_metrics_grants, 0, 0),
	SD_BUS_PROPERTY("Denials", "a{sa{st}}", prop_metrics_denials, 0, 0),
	SD_BUS_PROPERTY("Failures", "a{sa{st}}", prop_metrics_failures, 0, 0),
	SD_BUS_PROPERTY("Releases", "a{sa{st}}", prop_metrics_releases, 0, 0),
	SD_BUS_PROPERTY("Reloads", "a{st}", prop_metrics_reloads, 0, 0),
	SD_BUS_PROPERTY("DroppedClients", "a{st}", prop_metrics_dropped, 0, 0),
	SD_BUS_PROPERTY("Sessions", "a{su}", prop_metrics_sessions, 0, 0),
	SD_BUS_PROPERTY("Bindings", "a{sa{su}}", prop_metrics_bindings, 0, 0),
	SD_BUS_PROPERTY("RequestLatency", "a(tt)", prop_metrics_latency, 0, 0),
	SD_BUS_PROPERTY("Requests", "t", prop_metrics_requests, 0, 0),
	SD_BUS_PROPERTY("RequestLatencySumUSec", "t", prop_metrics_latency_sum, 0, 0),
	SD_BUS_VTABLE_END,
};
