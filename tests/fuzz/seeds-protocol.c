/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seeds-protocol DIR: writes the seed corpus of fuzz-protocol, one valid record per request and
 * reply type, with the field values of the unit vectors in tests/unit/test-protocol.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmd-proto.h"

/* fuzz-protocol takes n_fds from the low byte of seq modulo 6: SEQ(n) carries n fds. */
#define SEQ_BASE 0x5eec0u
#define SEQ(n)   (SEQ_BASE + (n))
#define DEV_A    "0000:00:02.0"
#define DEV_B    "0000:3a:00.1"
#define REASON   "denied by policy"
#define EXPLAIN_TEXT                                                                               \
	"allow: 10-default.policy:3 uid 1000 device 0000:00:02.0 bind-task\n"                      \
	"deny: 20-local.policy:7 not reached\n"
#define RELOAD_TEXT                                                                                \
	"/etc/svmd/policy.d/50-local.policy:3:1: warning: rule can never match\n"                  \
	"binding 7 (bind-task 0000:00:02.0 PASID 42, uid 1000) no longer granted: no rule "        \
	"matched\n"

static const char *dir;
static unsigned written;

static void die(const char *what)
{
	fprintf(stderr, "seeds-protocol: %s\n", what);
	exit(1);
}

static void set_name(char *field, size_t size, const char *s)
{
	if (svmd_set_name(field, size, s) < 0)
		die("name too long");
}

/* Frames the payload, checks it is a valid request or reply, and writes it to DIR/name. */
static void emit(const char *name, uint16_t opcode, size_t n_fds, const void *payload, size_t len)
{
	static unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_hdr h;
	char path[4096];
	FILE *f;
	int n, r;

	bool event = (opcode & SVMD_EVENT) == SVMD_EVENT;
	/* An event's seq is 0: no fds, as the fuzzer reads them from it. */
	n = svmd_frame(rec, opcode, event ? 0 : SEQ(n_fds), payload, len);
	if (n < 0 || svmd_parse(rec, (size_t)n, &h) < 0)
		die(name);
	if (event)
		r = svmd_event_check(opcode, h.seq, rec + sizeof(h), h.len, 0);
	else if (opcode & SVMD_REPLY)
		r = svmd_reply_check(opcode & ~SVMD_REPLY, rec + sizeof(h), h.len, n_fds);
	else
		r = svmd_request_check(opcode, rec + sizeof(h), h.len, n_fds);
	if (r < 0) {
		fprintf(stderr, "seeds-protocol: %s: %s\n", name, strerror(-r));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(rec, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
		fprintf(stderr, "seeds-protocol: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	written++;
}

static void requests(void)
{
	struct svmd_hello_req hello = {.version_min = 1, .version_max = 1};
	emit("req-hello", SVMD_OP_HELLO, 0, &hello, sizeof(hello));

	struct svmd_devices_req devices = {.start = 3};
	emit("req-devices", SVMD_OP_DEVICES, 0, &devices, sizeof(devices));

	struct svmd_list_req list = {.after_id = 0x1122334455667788ull};
	emit("req-list", SVMD_OP_LIST, 0, &list, sizeof(list));

	struct svmd_bind_task_req task = {.pasid = 42};
	set_name(task.device, sizeof(task.device), DEV_A);
	emit("req-bind-task", SVMD_OP_BIND_TASK, 0, &task, sizeof(task));
	emit("req-bind-task-pidfd", SVMD_OP_BIND_TASK, 1, &task, sizeof(task));

	struct svmd_bind_pgtable_req pg = {
		.pasid = 7,
		.addr_width = 48,
		.flags = SVMD_PGTABLE_GPASID_VALID,
		.gpgd = 0x12345000,
		.gpasid = 9,
		.format = SVMD_PGTABLE_FORMAT_VTD,
		.vtd_pat = 0x6,
		.vtd_flags = 0x5,
		.vtd_emt = 0x6,
	};
	set_name(pg.device, sizeof(pg.device), DEV_A);
	emit("req-bind-pgtable", SVMD_OP_BIND_PGTABLE, 0, &pg, sizeof(pg));

	struct svmd_bind_pasid_table_req pt = {
		.ptr = 0x80000000ull,
		.size = 0x1000,
		.model = SVMD_MODEL_VTD,
	};
	set_name(pt.device, sizeof(pt.device), DEV_B);
	emit("req-bind-pasid-table", SVMD_OP_BIND_PASID_TABLE, 0, &pt, sizeof(pt));

	struct svmd_id_req unbind = {.id = 5}, lease = {.id = 6};
	emit("req-unbind", SVMD_OP_UNBIND, 0, &unbind, sizeof(unbind));
	emit("req-lease", SVMD_OP_LEASE, 0, &lease, sizeof(lease));

	struct svmd_open_device_req open = {.device = "0000:3b:00.0"};
	emit("req-open-device", SVMD_OP_OPEN_DEVICE, 0, &open, sizeof(open));

	struct svmd_map_req map = {.offset = 0x2000,
				   .length = 0x10000,
				   .iova = 0x100000,
				   .flags = SVMD_MAP_READ | SVMD_MAP_WRITE};
	set_name(map.device, sizeof(map.device), DEV_A);
	emit("req-map", SVMD_OP_MAP, 1, &map, sizeof(map));
	struct svmd_unmap_req unmap = {.iova = 0x100000, .length = 0x10000};
	set_name(unmap.device, sizeof(unmap.device), DEV_A);
	emit("req-unmap", SVMD_OP_UNMAP, 0, &unmap, sizeof(unmap));
	struct svmd_invalidate_req inv = {.id = 3, .type = SVMD_INVALIDATE_VTD_S1, .n = 2};
	inv.e[0] = (struct svmd_invalidate_entry){{0x100000, 16, SVMD_INVALIDATE_VTD_LEAF}};
	inv.e[1] = (struct svmd_invalidate_entry){{0, UINT64_MAX, 0}};
	emit("req-invalidate", SVMD_OP_INVALIDATE, 0, &inv, sizeof(inv));
	struct svmd_invalidate_req inv_mock = {.id = 4, .type = SVMD_INVALIDATE_MOCK, .n = 2};
	inv_mock.e[0] = (struct svmd_invalidate_entry){{SVMD_INVALIDATE_MOCK_ALL, 0, 0}};
	inv_mock.e[1] = (struct svmd_invalidate_entry){{0, SVMD_INVALIDATE_MOCK_IOTLB_MAX, 0}};
	emit("req-invalidate-mock", SVMD_OP_INVALIDATE, 0, &inv_mock, sizeof(inv_mock));
	struct svmd_device_info_req info = {.device = "0000:3b:00.0"};
	emit("req-device-info", SVMD_OP_DEVICE_INFO, 0, &info, sizeof(info));
	struct svmd_status_req status = {0};
	emit("req-status", SVMD_OP_STATUS, 0, &status, sizeof(status));
	struct svmd_policy_list_req plist = {.start = 1};
	emit("req-policy-list", SVMD_OP_POLICY_LIST, 0, &plist, sizeof(plist));
	struct svmd_metrics_req metrics = {0};
	emit("req-metrics", SVMD_OP_METRICS, 0, &metrics, sizeof(metrics));
	struct svmd_explain_map_req exmap = {
		.op = SVMD_EXPLAIN_MAP, .iova = 0x100000, .length = 0x4000};
	set_name(exmap.device, sizeof(exmap.device), DEV_A);
	emit("req-explain-map", SVMD_OP_EXPLAIN, 0, &exmap, sizeof(exmap));

	struct svmd_explain_req ex = {
		.op = SVMD_EXPLAIN_BIND_TASK,
		.pasid = 42,
		.flags = SVMD_EXPLAIN_PASID | SVMD_EXPLAIN_UID,
		.uid = 1000,
		.addr_width = 48,
		.vtd_flags = 0x5,
	};
	set_name(ex.device, sizeof(ex.device), DEV_A);
	emit("req-explain", SVMD_OP_EXPLAIN, 0, &ex, sizeof(ex));

	struct svmd_explain_req ex_pg = {
		.op = SVMD_EXPLAIN_BIND_PGTABLE,
		.pasid = 150,
		.flags = SVMD_EXPLAIN_PASID,
		.addr_width = 57,
		.vtd_flags = SVMD_VTD_FLAGS_ALL,
	};
	set_name(ex_pg.device, sizeof(ex_pg.device), DEV_B);
	emit("req-explain-pgtable", SVMD_OP_EXPLAIN, 0, &ex_pg, sizeof(ex_pg));

	struct svmd_explain_req ex_inv = {
		.op = SVMD_EXPLAIN_INVALIDATE, .pasid = 150, .flags = SVMD_EXPLAIN_PASID};
	set_name(ex_inv.device, sizeof(ex_inv.device), DEV_A);
	emit("req-explain-invalidate", SVMD_OP_EXPLAIN, 0, &ex_inv, sizeof(ex_inv));

	/* reload is about no device: the name field stays all zero */
	struct svmd_explain_req ex_reload = {
		.op = SVMD_EXPLAIN_RELOAD, .flags = SVMD_EXPLAIN_UID, .uid = 1000};
	emit("req-explain-reload", SVMD_OP_EXPLAIN, 0, &ex_reload, sizeof(ex_reload));

	struct svmd_reload_req reload = {0};
	emit("req-reload", SVMD_OP_RELOAD, 0, &reload, sizeof(reload));
}

static void device_entry(struct svmd_device_entry *e, uint32_t i)
{
	char name[32];

	memset(e, 0, sizeof(*e));
	snprintf(name, sizeof(name), "0000:%02x:%02x.%x", i / 32, i % 32, i % 8);
	set_name(e->name, sizeof(e->name), name);
	e->iommu_group = i;
	e->group_devices = 1 + i % 3;
	e->kinds = SVMD_KIND_BIT(SVMD_KIND_TASK) | SVMD_KIND_BIT(SVMD_KIND_PGTABLE);
	e->vendor = 0x8086;
	e->device = (uint16_t)(0x1234 + i);
	e->pasid_bits = 20;
	e->model = SVMD_MODEL_VTD;
}

static void binding_entry(struct svmd_binding_entry *e, uint32_t i)
{
	memset(e, 0, sizeof(*e));
	e->id = i + 1;
	set_name(e->device, sizeof(e->device), i % 2 ? DEV_B : DEV_A);
	e->kind = 1 + i % 3;
	e->pasid = 100 + i;
	e->owner_uid = 1000;
	e->owner_pid = 4242;
	e->target_pid = e->kind == SVMD_KIND_TASK ? 4243 : 0;
	e->flags = i % 2 ? SVMD_BINDING_LEASED : 0;
	e->created_usec = 1700000000000000ull + i;
}

static void devices_reply(const char *name, uint32_t n)
{
	static unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_devices_rep r = {.total = n + 2, .n = n};
	size_t off = sizeof(r);

	memcpy(buf, &r, sizeof(r));
	for (uint32_t i = 0; i < n; i++, off += sizeof(struct svmd_device_entry)) {
		struct svmd_device_entry e;
		device_entry(&e, i);
		memcpy(buf + off, &e, sizeof(e));
	}
	emit(name, SVMD_OP_DEVICES | SVMD_REPLY, 0, buf, off);
}

static void list_reply(const char *name, uint32_t n)
{
	static unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_list_rep r = {.n = n, .flags = n ? SVMD_LIST_MORE : 0};
	size_t off = sizeof(r);

	memcpy(buf, &r, sizeof(r));
	for (uint32_t i = 0; i < n; i++, off += sizeof(struct svmd_binding_entry)) {
		struct svmd_binding_entry e;
		binding_entry(&e, i);
		memcpy(buf + off, &e, sizeof(e));
	}
	emit(name, SVMD_OP_LIST | SVMD_REPLY, 0, buf, off);
}

static void replies(void)
{
	struct svmd_hello_rep hello = {
		.version = SVMD_VERSION,
		.record_max = SVMD_RECORD_MAX,
		.fds_max = SVMD_FDS_MAX,
	};
	set_name(hello.backend, sizeof(hello.backend), "sim");
	set_name(hello.server_version, sizeof(hello.server_version), "0.1.0");
	emit("rep-hello", SVMD_OP_HELLO | SVMD_REPLY, 0, &hello, sizeof(hello));

	devices_reply("rep-devices-0", 0);
	devices_reply("rep-devices-1", 1);
	devices_reply("rep-devices-max", SVMD_DEVICES_PER_PAGE);
	list_reply("rep-list-0", 0);
	list_reply("rep-list-1", 1);
	list_reply("rep-list-max", SVMD_BINDINGS_PER_PAGE);

	struct svmd_bind_rep bind = {.pasid = 42, .id = 7}, bind_pt = {.pasid = 0, .id = 7};
	emit("rep-bind-task", SVMD_OP_BIND_TASK | SVMD_REPLY, 0, &bind, sizeof(bind));
	emit("rep-bind-pgtable", SVMD_OP_BIND_PGTABLE | SVMD_REPLY, 0, &bind, sizeof(bind));
	emit("rep-bind-pasid-table", SVMD_OP_BIND_PASID_TABLE | SVMD_REPLY, 0, &bind_pt,
	     sizeof(bind_pt));

	struct svmd_status_rep ok = {0};
	emit("rep-unbind", SVMD_OP_UNBIND | SVMD_REPLY, 0, &ok, sizeof(ok));
	static struct svmd_metrics_rep mrep = {.m = {.n_devices = 1, .latency_count = 3}};
	mrep.m.latency[1] = 2;
	mrep.m.requests[SVMD_METRICS_DENY][1][1] = 4;
	mrep.m.device[0].bindings[SVMD_METRICS_UID_OTHER] = 1;
	set_name(mrep.m.device[0].name, sizeof(mrep.m.device[0].name), DEV_A);
	emit("rep-metrics", SVMD_OP_METRICS | SVMD_REPLY, 0, &mrep, sizeof(mrep));
	emit("rep-lease", SVMD_OP_LEASE | SVMD_REPLY, 1, &ok, sizeof(ok));
	struct svmd_open_device_rep opened = {.id = 11};
	emit("rep-open-device", SVMD_OP_OPEN_DEVICE | SVMD_REPLY, 1, &opened, sizeof(opened));
	struct svmd_map_rep mapped = {.id = 12};
	emit("rep-map", SVMD_OP_MAP | SVMD_REPLY, 0, &mapped, sizeof(mapped));
	struct svmd_unmap_rep unmapped = {.n = 2, .bytes = 0x20000};
	emit("rep-unmap", SVMD_OP_UNMAP | SVMD_REPLY, 0, &unmapped, sizeof(unmapped));
	struct svmd_invalidate_rep invalidated = {.done = 2};
	emit("rep-invalidate", SVMD_OP_INVALIDATE | SVMD_REPLY, 0, &invalidated,
	     sizeof(invalidated));

	unsigned char buf[256];
	struct svmd_explain_rep ex = {.verdict = SVMD_VERDICT_ALLOW};
	memcpy(buf, &ex, sizeof(ex));
	memcpy(buf + sizeof(ex), EXPLAIN_TEXT, sizeof(EXPLAIN_TEXT));
	emit("rep-explain", SVMD_OP_EXPLAIN | SVMD_REPLY, 0, buf,
	     sizeof(ex) + sizeof(EXPLAIN_TEXT));

	struct svmd_reload_rep rl = {
		.n_rules = 12,
		.generation = 3,
		.n_files = 2,
		.n_warnings = 1,
		.n_denied = 1,
	};
	memcpy(buf, &rl, sizeof(rl));
	memcpy(buf + sizeof(rl), RELOAD_TEXT, sizeof(RELOAD_TEXT));
	emit("rep-reload", SVMD_OP_RELOAD | SVMD_REPLY, 0, buf, sizeof(rl) + sizeof(RELOAD_TEXT));
	buf[sizeof(rl)] = 0;
	emit("rep-reload-quiet", SVMD_OP_RELOAD | SVMD_REPLY, 0, buf, sizeof(rl) + 1);
	static const char info_text[] = "task: it does not support task binds\n";
	struct svmd_device_info_rep info_rep = {.kinds = 1u << SVMD_KIND_DEVICE};
	memcpy(buf, &info_rep, sizeof(info_rep));
	memcpy(buf + sizeof(info_rep), info_text, sizeof(info_text));
	emit("rep-device-info", SVMD_OP_DEVICE_INFO | SVMD_REPLY, 0, buf,
	     sizeof(info_rep) + sizeof(info_text));

	/* error replies, without and with a reason */
	int32_t eperm = -EPERM, eacces = -EACCES;
	emit("rep-error", SVMD_OP_BIND_TASK | SVMD_REPLY, 0, &eperm, sizeof(eperm));
	memcpy(buf, &eacces, sizeof(eacces));
	memcpy(buf + sizeof(eacces), REASON, sizeof(REASON));
	emit("rep-error-reason", SVMD_OP_LEASE | SVMD_REPLY, 0, buf,
	     sizeof(eacces) + sizeof(REASON));
	static const char reload_errors[] =
		"1 error; the policy in force (generation 1) stays:\n"
		"/etc/svmd/policy.d/60-extra.policy:1:7: error: unknown operation 'frob'";
	int32_t einval = -EINVAL;
	memcpy(buf, &einval, sizeof(einval));
	memcpy(buf + sizeof(einval), reload_errors, sizeof(reload_errors));
	emit("rep-reload-refused", SVMD_OP_RELOAD | SVMD_REPLY, 0, buf,
	     sizeof(einval) + sizeof(reload_errors));
}

/* Revision 2: SUBSCRIBE and the two event records. */
static void events(void)
{
	static unsigned char buf[SVMD_PAYLOAD_MAX];
	struct svmd_subscribe_req sub = {0};
	struct svmd_hello_req hello2 = {.version_min = 1, .version_max = 2};
	struct svmd_ev_binding_ended e = {.id = 7, .reason = SVMD_END_REVOKED, .generation = 3};
	static const char revoked[] = "revoked by policy generation 3";
	struct svmd_ev_record rec = {.event = SVMD_RECORD_DENY,
				     .uid = 1000,
				     .pid = 4242,
				     .error = 13,
				     .generation = 1,
				     .usec = 1700000000000000ull,
				     .pasid = 250};
	static const char denied[] = "no rule matched (default deny)";

	emit("req-hello-v2", SVMD_OP_HELLO, 0, &hello2, sizeof(hello2));
	emit("req-subscribe", SVMD_OP_SUBSCRIBE, 0, &sub, sizeof(sub));
	memcpy(buf, &e, sizeof(e));
	memcpy(buf + sizeof(e), revoked, sizeof(revoked));
	emit("ev-binding-ended", SVMD_EV_BINDING_ENDED, 0, buf, sizeof(e) + sizeof(revoked));
	/* What a lease's holder reads when another uid unbinds it (the same record, PROTOCOL.md
	 * LEASE): by_uid is set for an unbind alone. */
	static const char unbound[] = "unbound by uid 1000";
	struct svmd_ev_binding_ended lease_end = {
		.id = 8, .reason = SVMD_END_UNBIND, .by_uid = 1000, .generation = 1};
	memcpy(buf, &lease_end, sizeof(lease_end));
	memcpy(buf + sizeof(lease_end), unbound, sizeof(unbound));
	emit("ev-binding-ended-lease-unbind", SVMD_EV_BINDING_ENDED, 0, buf,
	     sizeof(lease_end) + sizeof(unbound));
	set_name(rec.op, sizeof(rec.op), "bind-pgtable");
	set_name(rec.device, sizeof(rec.device), "0000:3b:00.0");
	memcpy(buf, &rec, sizeof(rec));
	memcpy(buf + sizeof(rec), denied, sizeof(denied));
	emit("ev-record-deny", SVMD_EV_RECORD, 0, buf, sizeof(rec) + sizeof(denied));
	rec.event = SVMD_RECORD_RELOAD;
	rec.error = 0;
	rec.pasid = 0;
	memset(rec.device, 0, sizeof(rec.device));
	set_name(rec.op, sizeof(rec.op), "reload");
	memcpy(buf, &rec, sizeof(rec));
	buf[sizeof(rec)] = 0;
	emit("ev-record-reload", SVMD_EV_RECORD, 0, buf, sizeof(rec) + 1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds-protocol DIR\n");
		return 2;
	}
	dir = argv[1];
	requests();
	replies();
	events();
	printf("seeds-protocol: %u records in %s\n", written, dir);
	return 0;
}
