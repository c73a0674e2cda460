/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One socket connection. Every record goes through the same gate before any handler runs:
 * the header (svmd_parse), the payload's exact size, fd count and fields (svmd_request_check,
 * whose table in protocol/svmd-proto.c is the size/fd half of the permitted-request table), and
 * the table below (which request in which state, handled by what). Anything malformed drops
 * this client only: its fds are closed and its session bindings end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "cleanup.h"
#include "client.h"
#include "log.h"
#include "core.h"
#include "ops.h"
#include "persist.h"
#include "server.h"
#include "svmd-version.h"
#include "svmd-wire.h"
#include "util.h"

typedef int (*handler_fn)(struct client *c, const struct svmd_hdr *h, const void *payload, int *fds,
			  size_t n_fds);

/* What the next svmd needs to serve c again after a restart (persist.h): the revision HELLO
 * agreed on (0: no HELLO yet) and whether it subscribed. Out of memory it keeps the last. */
#define NOTE_MAX 48
static void note_base(const struct client *c, char resume[static NOTE_MAX])
{
	snprintf(resume, NOTE_MAX, "socket %u %d", c->state == CLIENT_READY ? c->proto : 0u,
		 c->subscribed);
}

static void note_resume(struct client *c)
{
	char resume[NOTE_MAX];

	note_base(c, resume);
	(void)registry_session_set_resume(c->session, resume);
}

/* The longest reply recorded for the next svmd (a bind's, a lease's, an error with its reason
 * are shorter): a longer one's request would be done again after a restart. */
#define REPLY_RECORD_MAX 1024u

/* c's request changed the state: its reply (c->out) goes into the session's note, which the
 * state written before the reply is sent holds, as " reply SEQ OPCODE BINDING FD FRAME" after
 * what note_resume() says (FD: 1 when the reply carries one, kept in the fd store as
 * "svmd-reply-SESSION-SEQ"; FRAME: the reply record in hex). Out of memory nothing is
 * recorded. */
/* The fd store's name for the fd of c's recorded reply to request seq. */
static void reply_fd_name(const struct client *c, uint32_t seq, char name[static PERSIST_NAME_MAX])
{
	snprintf(name, PERSIST_NAME_MAX, "svmd-reply-%" PRIu64 "-%" PRIu32, c->session->id, seq);
}

static void note_reply(struct client *c)
{
	static const char digits[] = "0123456789abcdef";
	struct persist *p = c->srv->core->persist;
	const unsigned char *rec = c->out;
	char base[NOTE_MAX];
	struct svmd_hdr h;

	if (!p || c->out_len > REPLY_RECORD_MAX)
		return;
	size_t cap = NOTE_MAX + 64 + 2 * c->out_len + 1;
	_cleanup_free_ char *note = malloc(cap);
	if (!note)
		return;
	memcpy(&h, rec, sizeof(h));
	note_base(c, base);
	int k = snprintf(note, cap, "%s reply %" PRIu32 " %u %" PRIu64 " %d ", base, h.seq,
			 (unsigned)(h.opcode & ~SVMD_REPLY), c->reply_binding, c->out_fd >= 0);
	for (size_t i = 0; i < c->out_len; i++) {
		note[k++] = digits[rec[i] >> 4];
		note[k++] = digits[rec[i] & 15];
	}
	note[k] = 0;
	if (registry_session_set_resume(c->session, note) < 0)
		return;
	c->recorded = true;
	c->recorded_seq = h.seq;
	if (c->out_fd >= 0) {
		char name[PERSIST_NAME_MAX];
		reply_fd_name(c, h.seq, name);
		persist_store(p, name, c->out_fd);
		c->recorded_fd = true;
	}
}

/* The record of c's reply is no longer needed (written with the next state change). */
static void forget_reply(struct client *c)
{
	char base[NOTE_MAX], name[PERSIST_NAME_MAX];

	reply_fd_name(c, c->recorded_seq, name);
	if (c->recorded_fd)
		persist_store(c->srv->core->persist, name, -1);
	c->recorded = c->recorded_fd = false;
	note_base(c, base);
	(void)registry_session_set_resume_quietly(c->session, base);
}

/* c's reply is out: its request comes off the socket and the record of it goes, in this order
 * (see resume_reply()). Returns 0 or a negative errno: drop the client. */
static int taken(struct client *c)
{
	int r = 0;

	if (c->recorded)
		forget_reply(c);
	if (c->unread) {
		c->unread = false;
		r = svmd_discard(c->fd);
	}
	return r == -EAGAIN ? 0 : r;
}

static int handle_hello(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			size_t n_fds);
static int handle_devices(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			  size_t n_fds);
static int handle_list(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
		       size_t n_fds);
static int handle_bind(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
		       size_t n_fds);
static int handle_unbind(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			 size_t n_fds);
static int handle_lease(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			size_t n_fds);
static int handle_explain(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			  size_t n_fds);
static int handle_open_device(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			      size_t n_fds);
static int handle_reload(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			 size_t n_fds);
static int handle_map(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
		      size_t n_fds);
static int handle_unmap(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			size_t n_fds);
static int handle_device_info(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			      size_t n_fds);
static int handle_subscribe(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			    size_t n_fds);
static int handle_status(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			 size_t n_fds);
static int handle_policy_list(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			      size_t n_fds);
static int handle_metrics(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			  size_t n_fds);
static int handle_invalidate(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			     size_t n_fds);

#define NEW   (1u << CLIENT_NEW)
#define READY (1u << CLIENT_READY)

/* The permitted requests: which state allows each, and who handles it. */
static const struct {
	unsigned states;
	handler_fn handle;
} requests[_SVMD_OP_MAX] = {
	[SVMD_OP_HELLO] = {NEW, handle_hello},
	[SVMD_OP_DEVICES] = {READY, handle_devices},
	[SVMD_OP_LIST] = {READY, handle_list},
	[SVMD_OP_BIND_TASK] = {READY, handle_bind},
	[SVMD_OP_BIND_PGTABLE] = {READY, handle_bind},
	[SVMD_OP_BIND_PASID_TABLE] = {READY, handle_bind},
	[SVMD_OP_UNBIND] = {READY, handle_unbind},
	[SVMD_OP_LEASE] = {READY, handle_lease},
	[SVMD_OP_EXPLAIN] = {READY, handle_explain},
	[SVMD_OP_OPEN_DEVICE] = {READY, handle_open_device},
	[SVMD_OP_RELOAD] = {READY, handle_reload},
	[SVMD_OP_MAP] = {READY, handle_map},
	[SVMD_OP_UNMAP] = {READY, handle_unmap},
	[SVMD_OP_STATUS] = {READY, handle_status},
	[SVMD_OP_POLICY_LIST] = {READY, handle_policy_list},
	[SVMD_OP_METRICS] = {READY, handle_metrics},
	[SVMD_OP_DEVICE_INFO] = {READY, handle_device_info},
	[SVMD_OP_SUBSCRIBE] = {READY, handle_subscribe},
	[SVMD_OP_INVALIDATE] = {READY, handle_invalidate},
};

/* Requests served from one client in a row, before the others get their turn. */
#define CLIENT_BATCH 16

/* Single-threaded daemon: one record is read at a time, so one buffer serves all. */
static _Alignas(8) unsigned char rx[SVMD_RECORD_MAX];

static void on_event(evutil_socket_t fd, short what, void *userdata);

/* Queues the reply record: it is sent at the end of the loop iteration, once the audit records
 * of the iteration are written (the loop's outbox), so no client learns of a decision before it
 * is recorded. Takes ownership of fd (closed once sent). Returns 0, or a negative
 * errno: drop the client. */
static int send_reply(struct client *c, const struct svmd_hdr *h, const void *payload, size_t len,
		      int fd)
{
	_cleanup_close_ int owned = fd;
	_cleanup_free_ void *rec = malloc(sizeof(struct svmd_hdr) + len);
	int n;

	if (!rec)
		return -ENOMEM;
	n = svmd_frame(rec, (uint16_t)(h->opcode | SVMD_REPLY), h->seq, payload, len);
	if (n < 0)
		return n;
	c->out = TAKE_PTR(rec);
	c->out_len = (size_t)n;
	c->out_fd = TAKE_FD(owned);
	if (c->out_fd >= 0)
		/* svmd's until it is sent: charged to the client's uid meanwhile. */
		registry_charge_fds(c->srv->core->registry, c->session->user, 1);
	loop_defer(c->srv->loop, &c->outbox);
	return 0;
}

static int reply_error(struct client *c, const struct svmd_hdr *h, int status, const char *reason)
{
	_Alignas(8) unsigned char buf[sizeof(int32_t) + OPS_REASON_MAX];
	int32_t st = status;
	size_t n = sizeof(st);

	memcpy(buf, &st, sizeof(st));
	if (reason && reason[0]) {
		size_t k = strnlen(reason, OPS_REASON_MAX - 1);
		memcpy(buf + n, reason, k);
		buf[n + k] = 0;
		n += k + 1;
	}
	return send_reply(c, h, buf, n, -1);
}

static int reply_result(struct client *c, const struct svmd_hdr *h, const struct op_result *res)
{
	return reply_error(c, h, res->status, res->reason);
}

static int handle_hello(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			size_t n_fds)
{
	const struct svmd_hello_req *req = p;
	struct svmd_hello_rep rep = {
		.status = 0,
		.version = SVMD_VERSION,
		.record_max = SVMD_RECORD_MAX,
		.fds_max = SVMD_FDS_MAX,
	};

	(void)fds;
	(void)n_fds;
	/* The highest revision both speak. */
	if (req->version_min > SVMD_PROTO_MAX || req->version_max < SVMD_PROTO_MIN)
		return reply_error(c, h, -EPROTONOSUPPORT,
				   "svmd speaks protocol versions 1 to 3 only");
	c->proto = req->version_max < SVMD_PROTO_MAX ? req->version_max : SVMD_PROTO_MAX;
	rep.version = (uint16_t)c->proto;
	c->state = CLIENT_READY;
	note_resume(c);
	svmd_set_name(rep.backend, sizeof(rep.backend), c->srv->core->backend->ops->name);
	svmd_set_name(rep.server_version, sizeof(rep.server_version), SVMD_VERSION_STRING);
	return send_reply(c, h, &rep, sizeof(rep), -1);
}

static int handle_devices(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			  size_t n_fds)
{
	const struct svmd_devices_req *req = p;
	const struct backend *b = c->srv->core->backend;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_devices_rep rep = {.total = (uint32_t)b->n_devices};
	struct svmd_device_entry *e = (void *)(buf + sizeof(rep));

	(void)fds;
	(void)n_fds;
	for (size_t i = req->start; i < b->n_devices && rep.n < SVMD_DEVICES_PER_PAGE; i++) {
		const struct device *d = &b->devices[i];
		e[rep.n] = (struct svmd_device_entry){
			.iommu_group = d->iommu_group,
			.group_devices = d->group_devices,
			.kinds = d->kinds,
			.vendor = d->vendor,
			.device = d->device_id,
			.pasid_bits = d->pasid_bits,
			.model = d->model,
		};
		memcpy(e[rep.n].name, d->name, sizeof(d->name));
		rep.n++;
	}
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + rep.n * sizeof(*e), -1);
}

static int handle_list(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
		       size_t n_fds)
{
	const struct svmd_list_req *req = p;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_list_rep rep = {0};
	struct svmd_binding_entry *e = (void *)(buf + sizeof(rep));
	const struct identity *who = c->session->owner;

	(void)fds;
	(void)n_fds;
	for (struct binding *b = ops_visible_first(c->srv->core, who, req->after_id); b;
	     b = ops_visible_next(c->srv->core, who, b)) {
		if (rep.n == SVMD_BINDINGS_PER_PAGE) {
			rep.flags |= SVMD_LIST_MORE;
			break;
		}
		e[rep.n] = (struct svmd_binding_entry){
			.id = binding_id(b),
			.kind = b->args.kind,
			.pasid = b->args.pasid,
			.owner_uid = b->owner->uid,
			.owner_pid = b->owner->pid,
			.target_pid = b->args.kind == SVMD_KIND_TASK ? b->args.task.pid : 0,
			.flags = b->leased ? SVMD_BINDING_LEASED : 0,
			.created_usec = binding_created_usec(b),
		};
		memcpy(e[rep.n].device, b->device->name, sizeof(b->device->name));
		rep.n++;
	}
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + rep.n * sizeof(*e), -1);
}

/* The reply to a request that made b is queued: tell the others; or it could not be, and b
 * ends. Returns what queueing returned. */
static int commit(struct client *c, struct binding *b, int queued)
{
	if (queued < 0) {
		ops_undelivered(c->srv->core, b);
	} else {
		c->reply_binding = binding_id(b);
		ops_commit(c->srv->core, b);
	}
	return queued;
}

static int handle_bind(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
		       size_t n_fds)
{
	struct bind_request req = {.target_pidfd = -1};
	struct svmd_bind_rep rep = {0};
	struct op_result res;
	struct binding *b = NULL;
	char device[SVMD_DEVICE_NAME_SZ];
	int r;

	switch (h->opcode) {
	case SVMD_OP_BIND_TASK: {
		const struct svmd_bind_task_req *t = p;
		memcpy(device, t->device, sizeof(device));
		req.args.kind = SVMD_KIND_TASK;
		req.args.pasid = t->pasid;
		if (n_fds == 1)
			req.target_pidfd = TAKE_FD(fds[0]);
		break;
	}
	case SVMD_OP_BIND_PGTABLE: {
		const struct svmd_bind_pgtable_req *g = p;
		memcpy(device, g->device, sizeof(device));
		req.args.kind = SVMD_KIND_PGTABLE;
		req.args.pasid = g->pasid;
		req.args.pgtable.flags = (uint32_t)g->flags; /* checked: SVMD_PGTABLE_FLAGS_ALL */
		req.args.pgtable.gpgd = g->gpgd;
		req.args.pgtable.gpasid = g->gpasid;
		req.args.pgtable.vtd_flags = g->vtd_flags;
		req.args.pgtable.addr_width = g->addr_width;
		req.args.pgtable.format = g->format;
		req.args.pgtable.pat = g->vtd_pat;
		req.args.pgtable.emt = g->vtd_emt;
		break;
	}
	default: {
		const struct svmd_bind_pasid_table_req *t = p;
		memcpy(device, t->device, sizeof(device));
		req.args.kind = SVMD_KIND_PASID_TABLE;
		req.args.table.ptr = t->ptr;
		req.args.table.size = t->size;
		req.args.table.model = t->model;
		req.args.table.event_fd = -1;
		if (h->len == sizeof(struct svmd_bind_pasid_table_ext_req) &&
		    c->proto < SVMD_PROTO_SMMU_TABLE)
			return reply_error(c, h, -EPROTO,
					   "the 48-byte BIND_PASID_TABLE needs protocol version 3 "
					   "(ask for it in HELLO)");
		if (h->len == sizeof(struct svmd_bind_pasid_table_ext_req)) {
			const struct svmd_bind_pasid_table_ext_req *x = p;
			req.args.table.vsid_valid = true;
			req.args.table.vsid = x->vsid;
			req.args.table.s1fmt = x->s1fmt;
			req.args.table.s1cdmax = x->s1cdmax;
		}
		break;
	}
	}
	req.device = device;
	/* A task bind of the caller itself needs it pinned: unless its identity holds the pin,
	 * ask the socket again. Should the peer be gone, the core answers -ESRCH. */
	if (req.args.kind == SVMD_KIND_TASK && req.target_pidfd < 0 &&
	    c->session->owner->pidfd < 0) {
		int self = identity_socket_pidfd(c->fd);
		req.target_pidfd = self < 0 ? -1 : self;
	}
	r = ops_bind(c->srv->core, c->session, &req, &res, &b);
	if (r < 0)
		return reply_result(c, h, &res);
	rep.pasid = b->args.pasid;
	rep.id = binding_id(b);
	/* A PASID table's vEVENTQ, where the backend made one: the reply hands it over. */
	int event_fd = b->args.kind == SVMD_KIND_PASID_TABLE ? TAKE_FD(b->args.table.event_fd) : -1;
	/* A page table's fault queue, asked for with SVMD_PGTABLE_FAULTS: likewise. */
	if (b->args.kind == SVMD_KIND_PGTABLE && (b->args.pgtable.flags & SVMD_PGTABLE_FAULTS))
		event_fd = TAKE_FD(b->args.pgtable.fault_fd);
	return commit(c, b, send_reply(c, h, &rep, sizeof(rep), event_fd));
}

static int handle_unbind(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			 size_t n_fds)
{
	const struct svmd_id_req *req = p;
	struct op_result res;

	(void)fds;
	(void)n_fds;
	ops_unbind(c->srv->core, c->session, req->id, &res);
	return reply_result(c, h, &res);
}

static int handle_lease(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			size_t n_fds)
{
	const struct svmd_id_req *req = p;
	struct svmd_status_rep rep = {0};
	struct op_result res;
	int fd = -1;

	(void)fds;
	(void)n_fds;
	if (ops_lease(c->srv->core, c->session, req->id, &fd, &res) < 0)
		return reply_result(c, h, &res);
	c->reply_binding = req->id;
	return send_reply(c, h, &rep, sizeof(rep), fd);
}

static int handle_explain(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			  size_t n_fds)
{
	static const enum policy_op ops[_SVMD_EXPLAIN_OP_MAX] = {
		[SVMD_EXPLAIN_BIND_TASK] = POLICY_OP_BIND_TASK,
		[SVMD_EXPLAIN_BIND_PGTABLE] = POLICY_OP_BIND_PGTABLE,
		[SVMD_EXPLAIN_BIND_PASID_TABLE] = POLICY_OP_BIND_PASID_TABLE,
		[SVMD_EXPLAIN_OPEN_DEVICE] = POLICY_OP_OPEN_DEVICE,
		[SVMD_EXPLAIN_RELOAD] = POLICY_OP_RELOAD,
		[SVMD_EXPLAIN_INVALIDATE] = POLICY_OP_INVALIDATE,
	};
	const struct svmd_explain_req *req = p;
	const struct svmd_explain_map_req *mreq = p;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_explain_rep rep = {0};
	char device[SVMD_DEVICE_NAME_SZ];
	enum policy_verdict verdict;
	struct op_result res;
	bool map = req->op == SVMD_EXPLAIN_MAP;

	(void)fds;
	(void)n_fds;
	memcpy(device, req->device, sizeof(device));
	struct explain_request x = {
		.op = map ? POLICY_OP_MAP : ops[req->op],
		.device = req->op == SVMD_EXPLAIN_RELOAD ? NULL : device,
		.pasid = !map && (req->flags & SVMD_EXPLAIN_PASID) ? req->pasid : 0,
		.has_uid = req->flags & SVMD_EXPLAIN_UID,
		.uid = req->uid,
		.addr_width = map ? 0 : req->addr_width,
		.vtd_flags = map ? 0 : req->vtd_flags,
		.iova = map ? mreq->iova : 0,
		.length = map ? mreq->length : 0,
	};
	char *text = (char *)buf + sizeof(rep);
	if (ops_explain(c->srv->core, c->session, &x, text, sizeof(buf) - sizeof(rep), &verdict,
			&res) < 0)
		return reply_result(c, h, &res);
	rep.verdict = verdict == POLICY_ALLOW ? SVMD_VERDICT_ALLOW : SVMD_VERDICT_DENY;
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + strlen(text) + 1, -1);
}

static int handle_open_device(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			      size_t n_fds)
{
	const struct svmd_open_device_req *req = p;
	struct svmd_open_device_rep rep = {0};
	char device[SVMD_DEVICE_NAME_SZ];
	struct binding *b = NULL;
	struct op_result res;
	int fd = -1;

	(void)fds;
	(void)n_fds;
	memcpy(device, req->device, sizeof(device));
	if (ops_open_device(c->srv->core, c->session, device, &fd, &res, &b) < 0)
		return reply_result(c, h, &res);
	rep.id = binding_id(b);
	return commit(c, b, send_reply(c, h, &rep, sizeof(rep), fd));
}

static int handle_reload(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			 size_t n_fds)
{
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_reload_rep rep = {0};
	char *text = (char *)buf + sizeof(rep);
	struct reload_result rr;
	struct op_result res;

	(void)p;
	(void)fds;
	(void)n_fds;
	if (ops_reload(c->srv->core, c->session, &rr, text, sizeof(buf) - sizeof(rep), &res) < 0)
		return reply_result(c, h, &res);
	rep.generation = rr.generation;
	rep.n_rules = (uint32_t)rr.n_rules;
	rep.n_files = (uint32_t)rr.n_files;
	rep.n_warnings = (uint32_t)rr.n_warnings;
	rep.n_denied = (uint32_t)rr.n_denied;
	rep.n_revoked = (uint32_t)rr.n_revoked;
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + strlen(text) + 1, -1);
}

static int handle_map(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
		      size_t n_fds)
{
	const struct svmd_map_req *m = p;
	struct map_request req = {.memfd = TAKE_FD(fds[0])};
	struct svmd_map_rep rep = {0};
	char device[SVMD_DEVICE_NAME_SZ];
	struct binding *b = NULL;
	struct op_result res;

	(void)n_fds; /* exactly one: the codec checked */
	memcpy(device, m->device, sizeof(device));
	req.device = device;
	req.args.map.iova = m->iova;
	req.args.map.length = m->length;
	req.args.map.offset = m->offset;
	req.args.map.flags = m->flags;
	if (ops_map(c->srv->core, c->session, &req, &res, &b) < 0)
		return reply_result(c, h, &res);
	rep.id = binding_id(b);
	return commit(c, b, send_reply(c, h, &rep, sizeof(rep), -1));
}

static int handle_unmap(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			size_t n_fds)
{
	const struct svmd_unmap_req *m = p;
	struct svmd_unmap_rep rep = {0};
	char device[SVMD_DEVICE_NAME_SZ];
	struct unmap_result u;
	struct op_result res;

	(void)fds;
	(void)n_fds;
	memcpy(device, m->device, sizeof(device));
	if (ops_unmap(c->srv->core, c->session, device, m->iova, m->length, &u, &res) < 0)
		return reply_result(c, h, &res);
	rep.n = u.n;
	rep.bytes = u.bytes;
	return send_reply(c, h, &rep, sizeof(rep), -1);
}

static int handle_invalidate(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			     size_t n_fds)
{
	const struct svmd_invalidate_req *req = p;
	struct svmd_invalidate_rep rep = {0};
	struct op_result res;

	(void)fds;
	(void)n_fds;
	if (ops_invalidate(c->srv->core, c->session, req->id, req->type, req->e, req->n, &rep.done,
			   &res) < 0)
		return reply_result(c, h, &res);
	return send_reply(c, h, &rep, sizeof(rep), -1);
}

static int handle_device_info(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			      size_t n_fds)
{
	const struct svmd_device_info_req *req = p;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_device_info_rep rep = {0};
	char *text = (char *)buf + sizeof(rep), device[SVMD_DEVICE_NAME_SZ];
	struct op_result res;

	(void)fds;
	(void)n_fds;
	memcpy(device, req->device, sizeof(device));
	if (ops_device_info(c->srv->core, c->session, device, &rep.kinds, text,
			    sizeof(buf) - sizeof(rep), &res) < 0)
		return reply_result(c, h, &res);
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + strlen(text) + 1, -1);
}

static int handle_subscribe(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			    size_t n_fds)
{
	struct server *srv = c->srv;
	uid_t uid = c->session->owner->uid;
	unsigned mine = 0, roots = 0;
	char why[128];

	(void)p;
	(void)fds;
	(void)n_fds;
	if (c->proto < SVMD_PROTO_EVENTS)
		return reply_error(c, h, -EPROTO,
				   "SUBSCRIBE needs protocol version 2 (ask for it in HELLO)");
	if (c->subscribed)
		return reply_error(c, h, 0, NULL);
	list_for_each (pos, &srv->subscribers) {
		uid_t theirs = container_of(pos, struct client, sub_link)->session->owner->uid;
		mine += theirs == uid;
		roots += theirs == 0;
	}
	if (mine >= SERVER_SUBSCRIBERS_PER_UID) {
		snprintf(why, sizeof(why),
			 "uid %u has %u subscriptions already (at most %u a user)", (unsigned)uid,
			 mine, SERVER_SUBSCRIBERS_PER_UID);
		return reply_error(c, h, -EDQUOT, why);
	}
	/* Root's own are not counted: other users cannot keep root from monitoring. */
	if (uid != 0 && srv->n_subscribers - roots >= SERVER_SUBSCRIBERS_MAX) {
		snprintf(why, sizeof(why), "svmd has %u subscriptions already (at most %u)",
			 (unsigned)(srv->n_subscribers - roots), SERVER_SUBSCRIBERS_MAX);
		return reply_error(c, h, -EDQUOT, why);
	}
	c->subscribed = true;
	list_append(&srv->subscribers, &c->sub_link);
	srv->n_subscribers++;
	note_resume(c);
	return reply_error(c, h, 0, NULL);
}

static int handle_status(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			 size_t n_fds)
{
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_daemon_status_rep rep = {0};
	char *text = (char *)buf + sizeof(rep);
	struct status_info st;
	struct op_result res;

	(void)p;
	(void)fds;
	(void)n_fds;
	if (ops_status(c->srv->core, c->session, &st, text, sizeof(buf) - sizeof(rep), &res) < 0)
		return reply_result(c, h, &res);
	rep.n_devices = (uint32_t)st.n_devices;
	rep.generation = st.generation;
	rep.uptime_usec = st.uptime_usec;
	rep.n_sessions = (uint32_t)st.n_sessions;
	rep.n_bindings = (uint32_t)st.n_bindings;
	rep.n_rules = (uint32_t)st.n_rules;
	rep.n_files = (uint32_t)st.n_files;
	(void)svmd_set_name(rep.backend, sizeof(rep.backend), st.backend);
	(void)svmd_set_name(rep.server_version, sizeof(rep.server_version), SVMD_VERSION_STRING);
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + strlen(text) + 1, -1);
}

static int handle_policy_list(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			      size_t n_fds)
{
	const struct svmd_policy_list_req *req = p;
	_Alignas(8) unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_policy_list_rep rep = {0};
	char *text = (char *)buf + sizeof(rep);
	struct op_result res;
	size_t n, total;

	(void)fds;
	(void)n_fds;
	if (ops_policy_list(c->srv->core, c->session, req->start, text, sizeof(buf) - sizeof(rep),
			    &n, &total, &res) < 0)
		return reply_result(c, h, &res);
	rep.n = (uint32_t)n;
	rep.total = (uint32_t)total;
	rep.generation = c->srv->core->generation;
	memcpy(buf, &rep, sizeof(rep));
	return send_reply(c, h, buf, sizeof(rep) + strlen(text) + 1, -1);
}

static int handle_metrics(struct client *c, const struct svmd_hdr *h, const void *p, int *fds,
			  size_t n_fds)
{
	struct svmd_metrics_rep rep = {0};
	struct op_result res;

	(void)p;
	(void)fds;
	(void)n_fds;
	if (ops_metrics(c->srv->core, c->session, &rep.m, &res) < 0)
		return reply_result(c, h, &res);
	return send_reply(c, h, &rep, sizeof(rep), -1);
}

/* Handles one received record. Returns 0 to go on, a negative errno to drop the client. */
static int dispatch(struct client *c, size_t size, int *fds, size_t n_fds)
{
	struct svmd_hdr h;
	const void *payload = rx + sizeof(h);
	int r;

	r = svmd_parse(rx, size, &h);
	if (r < 0)
		return r;
	if (h.opcode & SVMD_REPLY)
		return -EBADMSG;
	r = svmd_request_check(h.opcode, payload, h.len, n_fds);
	if (r == -EOPNOTSUPP)
		/* A well-framed request this version does not know: say so, keep the client. */
		return reply_error(c, &h, -EOPNOTSUPP, "unknown request");
	if (r < 0)
		return r;
	if (!(requests[h.opcode].states & (1u << c->state)))
		return -EPROTO;
	return requests[h.opcode].handle(c, &h, payload, fds, n_fds);
}

static void drop(struct client *c, int err)
{
	const struct identity *who = c->session->owner;
	unsigned held;

	if (err != 0)
		c->srv->core->metrics.dropped[SVMD_METRICS_SOCKET]++;
	if (err == 0)
		log_debug("Client pid %d (uid %u) disconnected.", who->pid, (unsigned)who->uid);
	else if (limits_log_pass(c->srv->core->limits, who->uid, &held))
		log_info("Dropping client pid %d (uid %u): %s.%s", who->pid, (unsigned)who->uid,
			 strerror(-err), held ? log_held(held) : "");
	client_free(c);
}

static struct timeval monotonic_now(void)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	return (struct timeval){.tv_sec = (time_t)(now / 1000000u),
				.tv_usec = (suseconds_t)(now % 1000000u)};
}

/* Waits for room in the socket to send c->out, reading nothing meanwhile, until
 * c->out_deadline. */
static int wait_writable(struct client *c)
{
	struct timeval now = monotonic_now(), left = {0};

	if (timercmp(&c->out_deadline, &now, >))
		timersub(&c->out_deadline, &now, &left);
	event_del(c->ev);
	event_assign(c->ev, loop_base(c->srv->loop), c->fd, EV_WRITE, on_event, c);
	return event_add(c->ev, &left) < 0 ? -ENOMEM : 0;
}

static void drop_reply_fd(struct client *c)
{
	if (c->out_fd < 0)
		return;
	c->out_fd = safe_close(c->out_fd);
	registry_charge_fds(c->srv->core->registry, c->session->user, -1);
}

/* One event record waiting to be sent. */
struct client_event {
	struct list link;
	size_t len;
	_Alignas(8) unsigned char rec[];
};

static void resume_ended(struct client *c);

/* Tries to send c->out (and the fd it carries), then the events waiting, in order. What went
 * out is forgotten. Returns 0 when nothing is left, -EAGAIN when the socket is full. */
static int send_reply_now(struct client *c)
{
	int r = 0;

	if (c->out) {
		r = svmd_send(c->fd, c->out, c->out_len, &c->out_fd, c->out_fd >= 0 ? 1 : 0,
			      MSG_DONTWAIT);
		if (r < 0)
			return r;
		free(c->out);
		c->out = NULL;
		drop_reply_fd(c);
		r = taken(c);
		if (r < 0)
			return r;
	}
	for (;;) {
		while (!list_empty(&c->events)) {
			struct client_event *e =
				container_of(c->events.next, struct client_event, link);
			r = svmd_send(c->fd, e->rec, e->len, NULL, 0, MSG_DONTWAIT);
			if (r < 0)
				return r;
			list_unlink(&e->link);
			c->n_events--;
			free(e);
		}
		if (c->ended_told >= c->session->n_ended)
			break;
		resume_ended(c); /* the next few */
	}
	c->waiting_room = false;
	return 0;
}

/* Something is waiting to be sent: read nothing more until it is. */
static bool busy(const struct client *c)
{
	return c->out || !list_empty(&c->events);
}

void client_event(struct client *c, uint16_t opcode, const void *payload, size_t len)
{
	struct client_event *e;

	if (c->proto < SVMD_PROTO_EVENTS || c->overflow)
		return;
	if (c->n_events >= CLIENT_EVENTS_MAX && !c->serving && (!c->srv->serving || !c->out)) {
		/* A burst in one iteration: what the socket takes goes now, once the records and
		 * the state of the iteration so far are written (as at its end); a failure other
		 * than a full socket is on_send()'s to handle. Not while c's own request is
		 * handled: its events follow its reply. While another's is, its state is not whole
		 * yet: the state waits, and so does a reply of c's (whose record it may be), with
		 * up to CLIENT_EVENTS_BURST events behind it. */
		audit_flush();
		if (!c->srv->serving)
			persist_flush(c->srv->core->persist);
		(void)send_reply_now(c);
	}
	unsigned most = c->srv->serving && c->out ? CLIENT_EVENTS_BURST : CLIENT_EVENTS_MAX;
	/* As long as the record is (at most a header longer than its payload). */
	if (c->n_events >= most || !(e = malloc(sizeof(*e) + sizeof(struct svmd_hdr) + len + 8))) {
		/* Dropped by on_send(), not here: the core may be iterating over bindings. */
		c->overflow = true;
		loop_defer(c->srv->loop, &c->outbox);
		return;
	}
	int n = svmd_frame(e->rec, opcode, 0, payload, len);
	if (n < 0) {
		free(e);
		return;
	}
	e->len = (size_t)n;
	list_append(&c->events, &e->link);
	c->n_events++;
	loop_defer(c->srv->loop, &c->outbox);
}

/* The reply went out: back to reading requests. */
static int wait_readable(struct client *c)
{
	event_del(c->ev);
	event_assign(c->ev, loop_base(c->srv->loop), c->fd, EV_READ | EV_PERSIST, on_event, c);
	return event_add(c->ev, NULL) < 0 ? -ENOMEM : 0;
}

/* Room to send, or the deadline: one more try either way. */
static void on_writable(struct client *c, bool expired)
{
	int r = send_reply_now(c);
	if (r == -EAGAIN && expired) {
		log_info("Dropping client pid %d (uid %u): its reply went unread for %d s.",
			 c->session->owner->pid, (unsigned)c->session->owner->uid,
			 CLIENT_REPLY_TIMEOUT_SEC);
		c->srv->core->metrics.dropped[SVMD_METRICS_SOCKET]++;
		client_free(c);
		return;
	}
	if (r == -EAGAIN) /* woken without room after all */
		r = wait_writable(c);
	else if (r == 0)
		r = wait_readable(c);
	if (r < 0)
		drop(c, r);
}

/* Reads and serves one record, if one is there. Its reply waits in the loop's outbox. */
static void serve_one(struct client *c)
{
	int fds[SVMD_FDS_MAX] = {-1, -1, -1, -1};
	size_t n_fds = 0;
	ssize_t n;
	int r;

	/* With restart survival, left in the socket until its reply is out (taken()); without,
	 * no next svmd will look for it there. */
	bool keep = c->srv->core->persist != NULL;
	n = svmd_recv(c->fd, rx, fds, &n_fds, MSG_DONTWAIT | (keep ? MSG_PEEK : 0));
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		drop(c, (int)n);
		return;
	}
	c->unread = keep;
	c->reply_binding = 0;
	uint64_t changes = registry_changes(c->srv->core->registry);
	/* The records this request makes are written with the others of the iteration, before
	 * any reply goes out (the loop's outbox). */
	audit_hold();
	c->serving = c->srv->serving = true;
	r = dispatch(c, (size_t)n, fds, n_fds);
	c->serving = c->srv->serving = false;
	svmd_close_fds(fds, n_fds); /* whatever the handler did not take */
	if (r >= 0 && !c->out)
		r = taken(c);
	else if (r >= 0 && registry_changes(c->srv->core->registry) != changes)
		note_reply(c);
	if (r < 0)
		drop(c, r);
}

static void on_event(evutil_socket_t fd, short what, void *userdata)
{
	struct client *c = userdata;

	(void)fd;
	if (what & (EV_WRITE | EV_TIMEOUT)) {
		on_writable(c, what & EV_TIMEOUT);
		return;
	}
	/* One record per wake-up: its reply waits for the end of the iteration, and nothing more
	 * is read from this client until it is sent. */
	if (!busy(c))
		serve_one(c);
}

/* c's reply went out: its next request may be there already. */
static void on_resume(struct outbox_item *item)
{
	struct client *c = container_of(item, struct client, outbox);

	if (!busy(c))
		serve_one(c);
}

/* The loop's outbox: the iteration's records are written, c's reply may go. If the socket has no
 * room, it waits for room (reading nothing) until the deadline. */
static void on_send(struct outbox_item *item)
{
	struct client *c = container_of(item, struct client, outbox);
	int r;

	if (c->overflow) {
		log_info("Dropping client pid %d (uid %u): it left %u event records unread.",
			 c->session->owner->pid, (unsigned)c->session->owner->uid, c->n_events);
		c->srv->core->metrics.dropped[SVMD_METRICS_SOCKET]++;
		client_free(c);
		return;
	}
	r = send_reply_now(c);
	if (r == 0)
		return;
	if (r == -EAGAIN) {
		/* The deadline runs from the first record that found no room. */
		if (!c->waiting_room) {
			c->out_deadline = monotonic_now();
			c->out_deadline.tv_sec += CLIENT_REPLY_TIMEOUT_SEC;
			c->waiting_room = true;
		}
		r = wait_writable(c);
	}
	if (r < 0)
		drop(c, r);
}

/* A client of srv with no connection or session yet (NULL when out of memory). */
static struct client *client_alloc(struct server *srv)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = srv;
	c->fd = -1;
	c->out_fd = -1;
	c->proto = SVMD_PROTO_MIN;
	list_init(&c->link);
	list_init(&c->events);
	list_init(&c->sub_link);
	list_init(&c->outbox.link);
	c->outbox.send = on_send;
	c->outbox.resume = on_resume;
	return c;
}

int client_new(struct server *srv, int fd, struct identity *who, struct client **ret)
{
	_cleanup_(client_freep) struct client *c = client_alloc(srv);
	int r;

	if (!c)
		return -ENOMEM;
	r = ops_session_new(srv->core, who, srv->fds_per_connection, &c->session);
	if (r < 0)
		return r;
	srv->core->metrics.sessions[SVMD_METRICS_SOCKET]++;
	c->ev = event_new(loop_base(srv->loop), fd, EV_READ | EV_PERSIST, on_event, c);
	if (!c->ev || event_add(c->ev, NULL) < 0)
		return -ENOMEM;
	c->fd = fd;
	list_append(&srv->clients, &c->link);
	srv->n_clients++;
	note_resume(c);
	persist_store_id(srv->core->persist, "conn", c->session->id, fd);
	log_debug("Client pid %d (uid %u) connected.", who->pid, (unsigned)who->uid);
	*ret = TAKE_PTR(c);
	return 0;
}

/* The reply frame of a record (hex, len characters) into a malloc'd buffer: its size, or 0. */
static size_t unhex_frame(const char *hex, size_t len, unsigned char **ret)
{
	unsigned char *buf;

	if (len < 2 * sizeof(struct svmd_hdr) || len % 2 || len / 2 > REPLY_RECORD_MAX ||
	    strspn(hex, "0123456789abcdef") != len || !(buf = malloc(len / 2)))
		return 0;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;
		(void)sscanf(hex + 2 * i, "%2x", &v);
		buf[i] = (unsigned char)v;
	}
	*ret = buf;
	return len / 2;
}

/* Whether the request the last svmd recorded a reply to (note_reply()) is still first in the
 * socket: that svmd died before taking it off, and its reply is to be given (again: it may
 * have gone out). What the request made may have been released by the restart since; the
 * client hears so from the events that follow (resume_ended()), never from doing it twice. */
static bool still_first(struct client *c, uint32_t seq, unsigned op)
{
	int fds[SVMD_FDS_MAX] = {-1, -1, -1, -1};
	size_t n_fds = 0;
	struct svmd_hdr head;
	ssize_t n = svmd_recv(c->fd, rx, fds, &n_fds, MSG_DONTWAIT | MSG_PEEK);

	svmd_close_fds(fds, n_fds);
	return n > 0 && svmd_parse(rx, (size_t)n, &head) == 0 && head.seq == seq &&
	       head.opcode == op;
}

/* The rest of a session's note after "socket PROTO SUBSCRIBED": a recorded reply is given
 * again, or its request taken off the socket, or the record forgotten (see replay_of()). */
static void resume_reply(struct client *c, const char *rec)
{
	char name[PERSIST_NAME_MAX];
	uint32_t seq = 0;
	unsigned op = 0;
	uint64_t binding = 0;
	int has_fd = 0, n = 0;
	unsigned char *frame = NULL;
	size_t len = 0;
	struct svmd_hdr h;

	_cleanup_close_ int fd = -1;
	if (sscanf(rec, " reply %" SCNu32 " %u %" SCNu64 " %d %n", &seq, &op, &binding, &has_fd,
		   &n) == 4 &&
	    n > 0 && (has_fd == 0 || has_fd == 1) &&
	    (len = unhex_frame(rec + n, strlen(rec + n), &frame)) &&
	    svmd_parse(frame, len, &h) == 0 && h.seq == seq && h.opcode == (op | SVMD_REPLY)) {
		reply_fd_name(c, seq, name);
		if (has_fd)
			fd = persist_take_fd(c->srv->core->persist, name);
		if (still_first(c, seq, op) && (!has_fd || fd >= 0)) {
			c->out = frame;
			c->out_len = len;
			c->out_fd = TAKE_FD(fd);
			if (c->out_fd >= 0)
				registry_charge_fds(c->srv->core->registry, c->session->user, 1);
			c->unread = c->recorded = true;
			c->recorded_fd = has_fd;
			c->recorded_seq = seq;
			loop_defer(c->srv->loop, &c->outbox);
			return;
		}
		if (still_first(c, seq, op)) {
			/* Its fd never reached the store: the reply cannot be given whole. */
			struct svmd_hdr req = {.opcode = (uint16_t)op, .seq = seq};
			if (reply_error(
				    c, &req, -ESTALE,
				    "svmd restarted before it could hand over this reply's file "
				    "descriptor; what the request made may have ended (see "
				    "LIST)") == 0)
				c->unread = true;
		}
	}
	free(frame);
	if (fd >= 0)
		persist_store(c->srv->core->persist, name, -1);
	c->recorded_fd = false;
	forget_reply(c);
}

/* The bindings of c's session the restart released, told as events (revision 2), after the
 * reply given again, if any: a few at a time, the next few once those are out (however many
 * there are, they never make c overflow). */
static void resume_ended(struct client *c)
{
	_Alignas(8) unsigned char buf[sizeof(struct svmd_ev_binding_ended) + 96];
	const struct session *s = c->session;

	if (c->proto < SVMD_PROTO_EVENTS)
		c->ended_told = s->n_ended;
	for (size_t n = 0; n < CLIENT_EVENTS_MAX / 2 && c->ended_told < s->n_ended; n++) {
		size_t i = c->ended_told++;
		enum end_reason why = (enum end_reason)s->ended[i].why;
		struct svmd_ev_binding_ended e = {.id = s->ended[i].id,
						  .reason = end_reason_code(why),
						  .generation = c->srv->core->generation};
		char *text = (char *)buf + sizeof(e);
		snprintf(text, sizeof(buf) - sizeof(e), "released at a restart of svmd: %s",
			 end_reason_name(why));
		memcpy(buf, &e, sizeof(e));
		client_event(c, SVMD_EV_BINDING_ENDED, buf, sizeof(e) + strlen(text) + 1);
	}
}

int client_resume(struct server *srv, struct session *s, int fd, const char *resume)
{
	_cleanup_(client_freep) struct client *c = client_alloc(srv);
	unsigned proto;
	int subscribed, n = 0;

	if (!c)
		return -ENOMEM;
	if (sscanf(resume, "socket %u %d%n", &proto, &subscribed, &n) != 2 ||
	    (resume[n] && strncmp(resume + n, " reply ", 7) != 0) ||
	    (proto && (proto < SVMD_PROTO_MIN || proto > SVMD_PROTO_MAX)) ||
	    (subscribed != 0 && subscribed != 1) || (subscribed && proto < SVMD_PROTO_EVENTS))
		return -EINVAL;
	c->proto = proto ? proto : SVMD_PROTO_MIN;
	c->state = proto ? CLIENT_READY : CLIENT_NEW;
	c->ev = event_new(loop_base(srv->loop), fd, EV_READ | EV_PERSIST, on_event, c);
	if (!c->ev || event_add(c->ev, NULL) < 0)
		return -ENOMEM;
	/* Nothing below fails: the session is c's from here on. */
	c->session = s;
	srv->core->metrics.sessions[SVMD_METRICS_SOCKET]++;
	c->fd = fd;
	list_append(&srv->clients, &c->link);
	srv->n_clients++;
	if (subscribed) {
		c->subscribed = true;
		list_append(&srv->subscribers, &c->sub_link);
		srv->n_subscribers++;
	}
	srv->serving = true; /* in the middle of an adoption */
	if (resume[n])
		resume_reply(c, resume + n);
	resume_ended(c);
	srv->serving = false;
	TAKE_PTR(c);
	return 0;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	if (!list_empty(&c->link)) {
		list_unlink(&c->link);
		c->srv->n_clients--;
	}
	if (c->subscribed) {
		list_unlink(&c->sub_link);
		c->srv->n_subscribers--;
		c->subscribed = false;
	}
	loop_cancel(&c->outbox);
	if (c->session && c->fd >= 0)
		persist_store_id(c->srv->core->persist, "conn", c->session->id, -1);
	if (c->session && c->recorded_fd) {
		char name[PERSIST_NAME_MAX];
		reply_fd_name(c, c->recorded_seq, name);
		persist_store(c->srv->core->persist, name, -1);
	}
	if (c->session) {
		drop_reply_fd(c);
		c->srv->core->metrics.sessions[SVMD_METRICS_SOCKET]--;
	}
	ops_session_end(c->srv->core, c->session);
	if (c->ev)
		event_free(c->ev);
	safe_close(c->fd);
	free(c->out);
	list_for_each_safe (pos, &c->events)
		free(container_of(pos, struct client_event, link));
	free(c);
	return NULL;
}
