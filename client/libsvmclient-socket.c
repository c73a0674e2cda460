/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsvmclient's socket transport: one synchronous request/reply per call over svmd's socket,
 * framed and checked by the same codec the daemon uses.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "cleanup.h"
#include "svmclient-internal.h"
#include "svmd-wire.h"

/* A reply that does not come within this long means svmd is stuck: fail, do not hang. */
#define REPLY_TIMEOUT_SEC 30

/* Marks c unusable after err; returns err. */
static int broken(struct svm_client *c, int err)
{
	c->broken = true;
	return err;
}

/* An event record received (a revision 2 connection): to the queue for svm_dispatch(). Returns
 * 0 (also for an event this revision does not know: skipped) or -EPROTO. */
static int take_event(struct svm_client *c, const struct svmd_hdr *h, const void *p, size_t n_fds)
{
	int r = c->proto >= SVMD_PROTO_EVENTS
			? svmd_event_check(h->opcode, h->seq, p, h->len, n_fds)
			: -EBADMSG;
	struct svm_event ev = {.text = svmd_event_text(h->opcode, p)};

	if (r == -EOPNOTSUPP)
		return 0;
	if (r < 0)
		return -EPROTO;
	if (h->opcode == SVMD_EV_BINDING_ENDED) {
		struct svmd_ev_binding_ended e;
		memcpy(&e, p, sizeof(e));
		ev.type = SVM_EVENT_BINDING_ENDED;
		ev.binding = e.id;
		ev.reason = e.reason;
		ev.by_uid = e.by_uid;
		ev.generation = e.generation;
	} else {
		struct svmd_ev_record e;
		char op[SVMD_RECORD_OP_SZ + 1] = "", device[SVMD_DEVICE_NAME_SZ] = "";
		memcpy(&e, p, sizeof(e));
		memcpy(op, e.op, sizeof(e.op));
		memcpy(device, e.device, sizeof(e.device));
		ev.type = SVM_EVENT_RECORD;
		ev.binding = e.binding;
		ev.reason = e.end;
		ev.generation = e.generation;
		ev.record = svmd_record_event_name(e.event);
		ev.op = op;
		ev.device = device[0] ? device : NULL;
		ev.pasid = e.pasid;
		ev.uid = e.uid;
		ev.pid = e.pid;
		ev.error = (int)e.error;
		ev.usec = e.usec;
		return client_queue_event(c, &ev) < 0 ? -ENOMEM : 0;
	}
	return client_queue_event(c, &ev) < 0 ? -ENOMEM : 0;
}

/* Receives one record into c->buf (flags: 0 or MSG_DONTWAIT); an event goes to the queue and
 * *ret_event says so. Returns the record's payload length, or a negative errno (the connection
 * is broken but for -EAGAIN). */
static int receive(struct svm_client *c, int flags, struct svmd_hdr *ret_h, int *in_fds,
		   size_t *n_in, bool *ret_event)
{
	ssize_t k = svmd_recv(c->fd, c->buf, in_fds, n_in, flags);
	int r;

	*ret_event = false;
	if (k == 0)
		return broken(c, -ECONNRESET);
	if (k == -EAGAIN)
		return -EAGAIN;
	if (k < 0)
		return broken(c, (int)k);
	r = svmd_parse(c->buf, (size_t)k, ret_h);
	if (r == 0 && (ret_h->opcode & SVMD_EVENT) == SVMD_EVENT) {
		*ret_event = true;
		r = take_event(c, ret_h, c->buf + sizeof(*ret_h), *n_in);
	}
	if (r < 0) {
		svmd_close_fds(in_fds, *n_in);
		return broken(c, r == -EBADMSG ? -EPROTO : r);
	}
	return (int)ret_h->len;
}

/* A reply to a request answered already (h not an event): after a restart svmd may answer the
 * last request once more, when it cannot tell whether its answer went out. Its fds are closed. */
static bool stale(const struct svm_client *c, const struct svmd_hdr *h, int *fds, size_t n_fds)
{
	if (!(h->opcode & SVMD_REPLY) || (int32_t)(c->answered - h->seq) < 0)
		return false;
	svmd_close_fds(fds, n_fds);
	return true;
}

/* One exchange: sends op with payload (and fds), waits for its reply into c->buf. On success
 * returns the reply payload length (its status is 0), *ret_fd gets a received fd if wanted. */
static int call(struct svm_client *c, uint16_t op, const void *payload, size_t len, const int *fds,
		size_t n_fds, int *ret_fd, const void **ret_payload)
{
	int in_fds[SVMD_FDS_MAX];
	size_t n_in = 0;
	struct svmd_hdr h;
	int32_t status;
	int n, r;

	if (c->broken) {
		snprintf(c->reason, sizeof(c->reason),
			 "an earlier call on this connection failed; connect again");
		return -ENOTCONN;
	}
	c->reason[0] = 0;
	n = svmd_frame(c->buf, op, ++c->seq, payload, len);
	if (n < 0)
		return n;
	r = svmd_send(c->fd, c->buf, (size_t)n, fds, n_fds, 0);
	/* Nothing went out (a record goes whole or not at all): only a closed connection is the
	 * end of it; a bad fd from the caller, or no room for 30 s, leaves it usable. */
	if (r == -EPIPE || r == -ECONNRESET)
		return broken(c, -ECONNRESET);
	if (r < 0)
		return r == -EAGAIN ? -ETIMEDOUT : r;

	/* Events that come first wait in the queue for svm_dispatch(). */
	bool event;
	do
		r = receive(c, 0, &h, in_fds, &n_in, &event);
	while (r >= 0 && (event || stale(c, &h, in_fds, n_in)));
	if (r == -EAGAIN)
		return broken(c, -ETIMEDOUT);
	if (r < 0)
		return r;
	c->answered = c->seq;
	r = 0;
	if (h.opcode != (op | SVMD_REPLY) || h.seq != c->seq)
		r = -EPROTO;
	const void *p = c->buf + sizeof(h);
	if (r == 0)
		r = svmd_reply_check(op, p, h.len, n_in);
	if (r < 0) {
		svmd_close_fds(in_fds, n_in);
		return broken(c, r == -EBADMSG ? -EPROTO : r);
	}
	memcpy(&status, p, sizeof(status));
	if (status < 0) {
		const char *why = svmd_reply_reason(p, h.len);
		snprintf(c->reason, sizeof(c->reason), "%s", why ? why : "");
		return status;
	}
	if (ret_fd)
		*ret_fd = n_in ? in_fds[0] : -1;
	else
		svmd_close_fds(in_fds, n_in);
	*ret_payload = p;
	return (int)h.len;
}

int socket_connect(const char *path, struct svm_client **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = REPLY_TIMEOUT_SEC};
	struct svm_client *c;
	const void *p;
	int r;

	if (!path)
		path = getenv("SVMD_SOCKET");
	if (!path || !*path)
		path = SVM_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->transport = &socket_transport;
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		svm_disconnect(c);
		return r;
	}
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	/* Version 2 where svmd speaks it (one that speaks 1 only answers 1). */
	struct svmd_hello_req hello = {.version_min = SVMD_PROTO_MIN,
				       .version_max = SVMD_PROTO_MAX};
	r = call(c, SVMD_OP_HELLO, &hello, sizeof(hello), NULL, 0, NULL, &p);
	if (r < 0) {
		svm_disconnect(c);
		return r;
	}
	const struct svmd_hello_rep *rep = p;
	if (rep->version < SVMD_PROTO_MIN || rep->version > SVMD_PROTO_MAX) {
		svm_disconnect(c);
		return -EPROTO;
	}
	c->proto = rep->version;
	memcpy(c->backend, rep->backend, sizeof(c->backend));
	c->backend[sizeof(c->backend) - 1] = 0;
	memcpy(c->server_version, rep->server_version, sizeof(c->server_version));
	c->server_version[sizeof(c->server_version) - 1] = 0;
	*ret = c;
	return 0;
}

/* Appends n elements of size sz to a malloc()ed array. */
static int append(void **array, size_t *n, const void *items, size_t k, size_t sz)
{
	void *a = reallocarray(*array, *n + k ? *n + k : 1, sz);

	if (!a)
		return -ENOMEM;
	memcpy((char *)a + *n * sz, items, k * sz);
	*array = a;
	*n += k;
	return 0;
}

static int socket_devices(struct svm_client *c, struct svm_device **ret, size_t *ret_n)
{
	_cleanup_free_ struct svm_device *out = NULL;
	size_t n = 0;

	for (;;) {
		struct svmd_devices_req req = {.start = (uint32_t)n};
		struct svmd_devices_rep rep;
		const void *p;
		int r = call(c, SVMD_OP_DEVICES, &req, sizeof(req), NULL, 0, NULL, &p);
		if (r < 0)
			return r;
		memcpy(&rep, p, sizeof(rep));
		const struct svmd_device_entry *e = (const void *)((const char *)p + sizeof(rep));
		for (uint32_t i = 0; i < rep.n; i++) {
			struct svm_device d = {
				.iommu_group = e[i].iommu_group,
				.group_devices = e[i].group_devices,
				.kinds = e[i].kinds,
				.vendor = e[i].vendor,
				.device = e[i].device,
				.pasid_bits = e[i].pasid_bits,
				.model = e[i].model,
			};
			memcpy(d.name, e[i].name, sizeof(d.name));
			d.name[sizeof(d.name) - 1] = 0;
			if (append((void **)&out, &n, &d, 1, sizeof(d)) < 0)
				return -ENOMEM;
		}
		if (rep.n == 0 || n >= rep.total)
			break;
	}
	*ret = TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

static int socket_list(struct svm_client *c, struct svm_binding_info **ret, size_t *ret_n)
{
	_cleanup_free_ struct svm_binding_info *out = NULL;
	uint64_t after = 0;
	size_t n = 0;

	for (;;) {
		struct svmd_list_req req = {.after_id = after};
		struct svmd_list_rep rep;
		const void *p;
		int r = call(c, SVMD_OP_LIST, &req, sizeof(req), NULL, 0, NULL, &p);
		if (r < 0)
			return r;
		memcpy(&rep, p, sizeof(rep));
		const struct svmd_binding_entry *e = (const void *)((const char *)p + sizeof(rep));
		for (uint32_t i = 0; i < rep.n; i++) {
			struct svm_binding_info b = {
				.id = e[i].id,
				.kind = e[i].kind,
				.pasid = e[i].pasid,
				.owner_uid = e[i].owner_uid,
				.owner_pid = e[i].owner_pid,
				.target_pid = e[i].target_pid,
				.leased = e[i].flags & SVMD_BINDING_LEASED,
				.created_usec = e[i].created_usec,
			};
			memcpy(b.device, e[i].device, sizeof(b.device));
			b.device[sizeof(b.device) - 1] = 0;
			if (append((void **)&out, &n, &b, 1, sizeof(b)) < 0)
				return -ENOMEM;
			after = e[i].id;
		}
		if (!(rep.flags & SVMD_LIST_MORE) || rep.n == 0)
			break;
	}
	*ret = TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

static int bind_reply(int r, const void *p, uint64_t *ret_id, uint32_t *ret_pasid)
{
	struct svmd_bind_rep rep;

	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	if (ret_id)
		*ret_id = rep.id;
	if (ret_pasid)
		*ret_pasid = rep.pasid;
	return 0;
}

static int socket_bind_task(struct svm_client *c, const char *device, int pidfd, uint32_t pasid,
			    uint64_t *ret_id, uint32_t *ret_pasid)
{
	struct svmd_bind_task_req req = {.pasid = pasid};
	const void *p = NULL;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	int r = call(c, SVMD_OP_BIND_TASK, &req, sizeof(req), &pidfd, pidfd >= 0 ? 1 : 0, NULL, &p);
	return bind_reply(r, p, ret_id, ret_pasid);
}

static int socket_bind_pgtable(struct svm_client *c, const char *device,
			       const struct svm_pgtable *pg, uint64_t *ret_id, int *ret_fault_fd)
{
	struct svmd_bind_pgtable_req req = {
		.pasid = pg->pasid,
		.addr_width = pg->addr_width,
		.flags = (pg->gpasid_valid ? SVMD_PGTABLE_GPASID_VALID : 0) |
			 (ret_fault_fd ? SVMD_PGTABLE_FAULTS : 0),
		.gpgd = pg->gpgd,
		.gpasid = pg->gpasid_valid ? pg->gpasid : 0,
		.format = SVMD_PGTABLE_FORMAT_VTD,
		.vtd_pat = pg->vtd_pat,
		.vtd_flags = pg->vtd_flags,
		.vtd_emt = pg->vtd_emt,
	};
	const void *p = NULL;
	int fd = -1;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	int r = call(c, SVMD_OP_BIND_PGTABLE, &req, sizeof(req), NULL, 0, ret_fault_fd ? &fd : NULL,
		     &p);
	r = bind_reply(r, p, ret_id, NULL);
	if (r < 0 || !ret_fault_fd)
		return r;
	if (fd < 0) {
		snprintf(c->reason, sizeof(c->reason),
			 "svmd bound the table but sent no fault queue fd");
		return -EPROTO;
	}
	*ret_fault_fd = fd;
	return 0;
}

static int socket_bind_pasid_table(struct svm_client *c, const char *device,
				   const struct svm_pasid_table *t, uint64_t *ret_id)
{
	struct svmd_bind_pasid_table_req req = {.ptr = t->ptr, .size = t->size, .model = t->model};
	const void *p = NULL;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	int r = call(c, SVMD_OP_BIND_PASID_TABLE, &req, sizeof(req), NULL, 0, NULL, &p);
	return bind_reply(r, p, ret_id, NULL);
}

static int socket_bind_smmu_cd_table(struct svm_client *c, const char *device,
				     const struct svm_smmu_cd_table *t, uint64_t *ret_id,
				     int *ret_event_fd)
{
	struct svmd_bind_pasid_table_ext_req req = {
		.base = {.ptr = t->ptr, .size = t->size, .model = SVMD_MODEL_SMMU},
		.vsid = t->vsid,
		.s1fmt = t->s1fmt,
		.s1cdmax = t->s1cdmax,
	};
	const void *p = NULL;
	int fd = -1;

	if (!device || svmd_set_name(req.base.device, sizeof(req.base.device), device) < 0)
		return -EINVAL;
	if (c->proto < SVMD_PROTO_SMMU_TABLE) {
		snprintf(c->reason, sizeof(c->reason),
			 "this svmd speaks protocol version %u: SMMUv3 CD tables need version 3",
			 c->proto);
		return -EPROTONOSUPPORT;
	}
	if (t->s1fmt > SVMD_SMMU_S1FMT_2LVL_64K || t->s1cdmax > SVMD_SMMU_S1CDMAX_MAX) {
		/* svmd would drop the connection; the words are the D-Bus face's. */
		snprintf(c->reason, sizeof(c->reason), "s1fmt must be 0..2 and s1cdmax 0..20");
		return -EINVAL;
	}
	int r = call(c, SVMD_OP_BIND_PASID_TABLE, &req, sizeof(req), NULL, 0, &fd, &p);
	r = bind_reply(r, p, ret_id, NULL);
	if (r < 0)
		return r;
	if (ret_event_fd)
		*ret_event_fd = fd;
	else
		safe_close(fd);
	return 0;
}

static int socket_open_device(struct svm_client *c, const char *device, int *ret_fd,
			      uint64_t *ret_id)
{
	struct svmd_open_device_req req;
	struct svmd_open_device_rep rep;
	const void *p = NULL;
	int fd = -1, r;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	r = call(c, SVMD_OP_OPEN_DEVICE, &req, sizeof(req), NULL, 0, &fd, &p);
	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	*ret_fd = fd;
	if (ret_id)
		*ret_id = rep.id;
	return 0;
}

static int socket_unbind(struct svm_client *c, uint64_t id)
{
	struct svmd_id_req req = {.id = id};
	const void *p;
	int r = call(c, SVMD_OP_UNBIND, &req, sizeof(req), NULL, 0, NULL, &p);
	return r < 0 ? r : 0;
}

static int socket_lease(struct svm_client *c, uint64_t id, int *ret_fd)
{
	struct svmd_id_req req = {.id = id};
	const void *p;
	int r = call(c, SVMD_OP_LEASE, &req, sizeof(req), NULL, 0, ret_fd, &p);
	return r < 0 ? r : 0;
}

/* The explanation in an explain reply p, into the caller's. */
static int explained(const void *p, char **ret_text, bool *ret_allowed)
{
	struct svmd_explain_rep rep;

	memcpy(&rep, p, sizeof(rep));
	if (ret_text) {
		*ret_text = strdup((const char *)p + sizeof(rep));
		if (!*ret_text)
			return -ENOMEM;
	}
	if (ret_allowed)
		*ret_allowed = rep.verdict == SVMD_VERDICT_ALLOW;
	return 0;
}

static int explain_map(struct svm_client *c, const struct svm_explain_request *x, char **ret_text,
		       bool *ret_allowed)
{
	struct svmd_explain_map_req req = {
		.op = SVMD_EXPLAIN_MAP, .iova = x->iova, .length = x->length};
	const void *p;
	int r;

	if (!x->device || svmd_set_name(req.device, sizeof(req.device), x->device) < 0)
		return -EINVAL;
	if (x->uid > UINT32_MAX - 1 || (x->length && x->iova + x->length <= x->iova))
		return -EINVAL;
	if (x->uid >= 0) {
		req.flags |= SVMD_EXPLAIN_UID;
		req.uid = (uint32_t)x->uid;
	}
	r = call(c, SVMD_OP_EXPLAIN, &req, sizeof(req), NULL, 0, NULL, &p);
	return r < 0 ? r : explained(p, ret_text, ret_allowed);
}

static int socket_explain(struct svm_client *c, const struct svm_explain_request *x,
			  char **ret_text, bool *ret_allowed)
{
	static const char *const ops[] = {
		[SVMD_EXPLAIN_BIND_TASK] = "bind-task",
		[SVMD_EXPLAIN_BIND_PGTABLE] = "bind-pgtable",
		[SVMD_EXPLAIN_BIND_PASID_TABLE] = "bind-pasid-table",
		[SVMD_EXPLAIN_OPEN_DEVICE] = "open-device",
		[SVMD_EXPLAIN_RELOAD] = "reload",
		[SVMD_EXPLAIN_INVALIDATE] = "invalidate",
	};
	struct svmd_explain_req req = {0};
	const void *p;
	int r;

	if (x->op && strcmp(x->op, "map") == 0)
		return explain_map(c, x, ret_text, ret_allowed);
	for (uint32_t i = 1; i < ELEMENTSOF(ops); i++)
		if (x->op && ops[i] && strcmp(x->op, ops[i]) == 0)
			req.op = i;
	if (req.op == 0 || (req.op == SVMD_EXPLAIN_RELOAD) != !x->device)
		return -EINVAL;
	if (x->device && svmd_set_name(req.device, sizeof(req.device), x->device) < 0)
		return -EINVAL;
	if (x->pasid > SVMD_PASID_MAX || x->uid > UINT32_MAX - 1)
		return -EINVAL;
	if (x->pasid >= 0) {
		req.flags |= SVMD_EXPLAIN_PASID;
		req.pasid = (uint32_t)x->pasid;
	}
	if (x->uid >= 0) {
		req.flags |= SVMD_EXPLAIN_UID;
		req.uid = (uint32_t)x->uid;
	}
	req.addr_width = x->addr_width;
	req.vtd_flags = x->vtd_flags;
	r = call(c, SVMD_OP_EXPLAIN, &req, sizeof(req), NULL, 0, NULL, &p);
	return r < 0 ? r : explained(p, ret_text, ret_allowed);
}

static int socket_reload(struct svm_client *c, struct svm_reload_result *ret, char **ret_text)
{
	struct svmd_reload_req req = {0};
	struct svmd_reload_rep rep;
	const void *p;
	int r = call(c, SVMD_OP_RELOAD, &req, sizeof(req), NULL, 0, NULL, &p);

	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	if (ret)
		*ret = (struct svm_reload_result){
			.generation = rep.generation,
			.n_rules = rep.n_rules,
			.n_files = rep.n_files,
			.n_warnings = rep.n_warnings,
			.n_denied = rep.n_denied,
			.n_revoked = rep.n_revoked,
		};
	if (ret_text) {
		*ret_text = strdup((const char *)p + sizeof(rep));
		if (!*ret_text)
			return -ENOMEM;
	}
	return 0;
}

static int socket_map(struct svm_client *c, const char *device, int memfd, uint64_t offset,
		      uint64_t length, uint64_t iova, uint32_t flags, uint64_t *ret_id)
{
	struct svmd_map_req req = {
		.offset = offset, .length = length, .iova = iova, .flags = flags};
	struct svmd_map_rep rep;
	const void *p = NULL;
	int r;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	r = call(c, SVMD_OP_MAP, &req, sizeof(req), &memfd, 1, NULL, &p);
	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	if (ret_id)
		*ret_id = rep.id;
	return 0;
}

static int socket_unmap(struct svm_client *c, const char *device, uint64_t iova, uint64_t length,
			uint32_t *ret_n, uint64_t *ret_bytes)
{
	struct svmd_unmap_req req = {.iova = iova, .length = length};
	struct svmd_unmap_rep rep;
	const void *p = NULL;
	int r;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	r = call(c, SVMD_OP_UNMAP, &req, sizeof(req), NULL, 0, NULL, &p);
	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	if (ret_n)
		*ret_n = rep.n;
	if (ret_bytes)
		*ret_bytes = rep.bytes;
	return 0;
}

static int socket_invalidate(struct svm_client *c, uint64_t id, uint32_t type,
			     const struct svm_invalidate_entry *e, uint32_t n, uint32_t *ret_done)
{
	struct svmd_invalidate_req req = {.id = id, .type = type, .n = n};
	struct svmd_invalidate_rep rep;
	const void *p = NULL;
	int r;

	for (uint32_t i = 0; i < n; i++)
		memcpy(req.e[i].w, e[i].w, sizeof(req.e[i].w));
	r = call(c, SVMD_OP_INVALIDATE, &req, sizeof(req), NULL, 0, NULL, &p);
	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	*ret_done = rep.done;
	return 0;
}

static int socket_device_info(struct svm_client *c, const char *device, uint32_t *ret_kinds,
			      char **ret_text)
{
	struct svmd_device_info_req req;
	struct svmd_device_info_rep rep;
	const void *p = NULL;
	int r;

	if (!device || svmd_set_name(req.device, sizeof(req.device), device) < 0)
		return -EINVAL;
	r = call(c, SVMD_OP_DEVICE_INFO, &req, sizeof(req), NULL, 0, NULL, &p);
	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	if (ret_kinds)
		*ret_kinds = rep.kinds;
	if (ret_text) {
		*ret_text = strdup((const char *)p + sizeof(rep));
		if (!*ret_text)
			return -ENOMEM;
	}
	return 0;
}

static int socket_status(struct svm_client *c, struct svm_status *ret, char **ret_text)
{
	struct svmd_status_req req = {0};
	struct svmd_daemon_status_rep rep;
	const void *p = NULL;
	int r = call(c, SVMD_OP_STATUS, &req, sizeof(req), NULL, 0, NULL, &p);

	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	*ret = (struct svm_status){
		.generation = rep.generation,
		.uptime_usec = rep.uptime_usec,
		.n_devices = rep.n_devices,
		.n_clients = rep.n_sessions,
		.n_bindings = rep.n_bindings,
		.n_rules = rep.n_rules,
		.n_files = rep.n_files,
	};
	snprintf(ret->version, sizeof(ret->version), "%.*s", (int)sizeof(rep.server_version),
		 rep.server_version);
	snprintf(ret->backend, sizeof(ret->backend), "%.*s", (int)sizeof(rep.backend), rep.backend);
	if (ret_text) {
		*ret_text = strdup((const char *)p + sizeof(rep));
		if (!*ret_text)
			return -ENOMEM;
	}
	return 0;
}

/* Pages through the rules: each reply says how many lines it holds of how many rules. */
static int socket_policy_rules(struct svm_client *c, uint64_t *ret_generation, char **ret_text)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	uint32_t start = 0;
	uint64_t generation = 0;

	for (;;) {
		struct svmd_policy_list_req req = {.start = start};
		struct svmd_policy_list_rep rep;
		const void *p = NULL;
		int r = call(c, SVMD_OP_POLICY_LIST, &req, sizeof(req), NULL, 0, NULL, &p);
		if (r < 0)
			return r;
		memcpy(&rep, p, sizeof(rep));
		/* A reload between pages: start again from the new generation's first rule. */
		if (start && rep.generation != generation) {
			start = 0;
			len = 0;
			generation = rep.generation;
			continue;
		}
		generation = rep.generation;
		const char *page = (const char *)p + sizeof(rep);
		size_t n = strlen(page);
		char *t = realloc(text, len + n + 1);
		if (!t)
			return -ENOMEM;
		text = t;
		memcpy(text + len, page, n + 1);
		len += n;
		if (rep.n == 0 || start + rep.n >= rep.total)
			break;
		start += rep.n;
	}
	if (!text && !(text = strdup("")))
		return -ENOMEM;
	if (ret_generation)
		*ret_generation = generation;
	if (ret_text)
		*ret_text = TAKE_PTR(text);
	return 0;
}

/* A fixed block the codec checked; the text is made here, as svmd makes it for D-Bus. */
static int socket_metrics(struct svm_client *c, char **ret_text)
{
	struct svmd_metrics_req req = {0};
	struct svmd_metrics_rep rep;
	_cleanup_free_ char *text = NULL;
	const void *p = NULL;
	int r = call(c, SVMD_OP_METRICS, &req, sizeof(req), NULL, 0, NULL, &p);

	if (r < 0)
		return r;
	memcpy(&rep, p, sizeof(rep));
	text = malloc(SVMD_METRICS_TEXT_MAX);
	if (!text)
		return -ENOMEM;
	r = svmd_metrics_format(&rep.m, text, SVMD_METRICS_TEXT_MAX);
	if (r < 0)
		return r;
	*ret_text = TAKE_PTR(text);
	return 0;
}

static int socket_fd(const struct svm_client *c)
{
	return c->fd;
}

static int socket_dispatch(struct svm_client *c, int timeout_ms)
{
	int n = client_deliver_events(c);

	if (c->broken)
		return n > 0 ? n : -ECONNRESET;
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int in_fds[SVMD_FDS_MAX];
		size_t n_in = 0;
		struct svmd_hdr h;
		bool event;
		int r;

		if (n == 0 && timeout_ms != 0) {
			r = poll(&pfd, 1, timeout_ms);
			if (r < 0)
				return errno == EINTR ? 0 : -errno;
			if (r == 0)
				return 0;
		}
		r = receive(c, MSG_DONTWAIT, &h, in_fds, &n_in, &event);
		if (r == -EAGAIN)
			return n;
		if (r < 0)
			return n > 0 ? n : r;
		if (!event && stale(c, &h, in_fds, n_in))
			continue;
		if (!event) {
			/* A reply nobody asked for. */
			svmd_close_fds(in_fds, n_in);
			return broken(c, -EPROTO);
		}
		n += client_deliver_events(c);
		timeout_ms = 0;
	}
}

static int socket_subscribe(struct svm_client *c)
{
	struct svmd_subscribe_req req = {0};
	const void *p;

	if (c->proto < SVMD_PROTO_EVENTS) {
		snprintf(c->reason, sizeof(c->reason),
			 "this svmd speaks protocol version 1, without events");
		return -EOPNOTSUPP;
	}
	int r = call(c, SVMD_OP_SUBSCRIBE, &req, sizeof(req), NULL, 0, NULL, &p);
	return r < 0 ? r : 0;
}

static void socket_close(struct svm_client *c)
{
	safe_close(c->fd);
}

const struct svm_transport socket_transport = {
	.devices = socket_devices,
	.list = socket_list,
	.bind_task = socket_bind_task,
	.bind_pgtable = socket_bind_pgtable,
	.bind_pasid_table = socket_bind_pasid_table,
	.bind_smmu_cd_table = socket_bind_smmu_cd_table,
	.open_device = socket_open_device,
	.unbind = socket_unbind,
	.lease = socket_lease,
	.explain = socket_explain,
	.reload = socket_reload,
	.map = socket_map,
	.unmap = socket_unmap,
	.invalidate = socket_invalidate,
	.device_info = socket_device_info,
	.status = socket_status,
	.policy_rules = socket_policy_rules,
	.metrics = socket_metrics,
	.fd = socket_fd,
	.dispatch = socket_dispatch,
	.subscribe = socket_subscribe,
	.close = socket_close,
};
