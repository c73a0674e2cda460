/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the wire codec (svmd-proto.c) and the record transport (svmd-wire.c): every
 * message round-trips, every malformed one is rejected, and fds cross a real SOCK_SEQPACKET pair.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "svmd-proto.h"
#include "svmd-wire.h"

/* The same values as tests/fuzz/seeds-protocol.c. The fuzz target takes n_fds from the low byte
 * of seq modulo 6, so SEQ(n) carries n fds there. */
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
#define INFO_TEXT                                                                                  \
	"task: it does not support task binds\nmap: the vfio backend maps no client memory\n"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const uint16_t all_ops[] = {
	SVMD_OP_HELLO,        SVMD_OP_DEVICES,          SVMD_OP_LIST,       SVMD_OP_BIND_TASK,
	SVMD_OP_BIND_PGTABLE, SVMD_OP_BIND_PASID_TABLE, SVMD_OP_UNBIND,     SVMD_OP_LEASE,
	SVMD_OP_EXPLAIN,      SVMD_OP_OPEN_DEVICE,      SVMD_OP_RELOAD,     SVMD_OP_MAP,
	SVMD_OP_UNMAP,        SVMD_OP_DEVICE_INFO,      SVMD_OP_INVALIDATE, SVMD_OP_STATUS,
	SVMD_OP_POLICY_LIST,  SVMD_OP_SUBSCRIBE,        SVMD_OP_METRICS,
};
#define N_UNALLOCATED 0
_Static_assert(N_ELEM(all_ops) == _SVMD_OP_MAX - 1 - N_UNALLOCATED, "every opcode");

/* ---- vectors ----------------------------------------------------------------------------- */

static void set_dev(char *field, const char *name)
{
	cr_assert_eq(svmd_set_name(field, SVMD_DEVICE_NAME_SZ, name), 0);
}

/* The canonical request payload of op into buf; returns its size. */
static size_t req_payload(uint16_t op, void *buf)
{
	switch (op) {
	case SVMD_OP_HELLO: {
		struct svmd_hello_req r = {.version_min = 1, .version_max = 1};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_DEVICES: {
		struct svmd_devices_req r = {.start = 3};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_LIST: {
		struct svmd_list_req r = {.after_id = 0x1122334455667788ull};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_BIND_TASK: {
		struct svmd_bind_task_req r = {.pasid = 42};
		set_dev(r.device, DEV_A);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_BIND_PGTABLE: {
		struct svmd_bind_pgtable_req r = {
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
		set_dev(r.device, DEV_A);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_BIND_PASID_TABLE: {
		struct svmd_bind_pasid_table_req r = {
			.ptr = 0x80000000ull,
			.size = 0x1000,
			.model = SVMD_MODEL_VTD,
		};
		set_dev(r.device, DEV_B);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_UNBIND:
	case SVMD_OP_LEASE: {
		struct svmd_id_req r = {.id = op == SVMD_OP_UNBIND ? 5 : 6};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_EXPLAIN: {
		struct svmd_explain_req r = {
			.op = SVMD_EXPLAIN_BIND_TASK,
			.pasid = 42,
			.flags = SVMD_EXPLAIN_PASID | SVMD_EXPLAIN_UID,
			.uid = 1000,
			.addr_width = 48,
			.vtd_flags = 0x5,
		};
		set_dev(r.device, DEV_A);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_OPEN_DEVICE: {
		struct svmd_open_device_req r;
		set_dev(r.device, DEV_A);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_RELOAD: {
		struct svmd_reload_req r = {0};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_MAP: {
		struct svmd_map_req r = {
			.offset = 0x2000,
			.length = 0x10000,
			.iova = 0x100000,
			.flags = SVMD_MAP_READ | SVMD_MAP_WRITE,
		};
		set_dev(r.device, DEV_A);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_UNMAP: {
		struct svmd_unmap_req r = {.iova = 0x100000, .length = 0x10000};
		set_dev(r.device, DEV_A);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_DEVICE_INFO: {
		struct svmd_device_info_req r;
		set_dev(r.device, DEV_B);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_SUBSCRIBE: {
		struct svmd_subscribe_req r = {0};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_INVALIDATE: {
		struct svmd_invalidate_req r = {.id = 9, .type = SVMD_INVALIDATE_VTD_S1, .n = 2};
		r.e[0] = (struct svmd_invalidate_entry){{0x100000, 16, SVMD_INVALIDATE_VTD_LEAF}};
		r.e[1] = (struct svmd_invalidate_entry){{0, UINT64_MAX, 0}};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_STATUS: {
		struct svmd_status_req r = {0};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_POLICY_LIST: {
		struct svmd_policy_list_req r = {.start = 3};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_METRICS: {
		struct svmd_metrics_req r = {0};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	}
	cr_assert_fail("no request vector for opcode %u", op);
	return 0;
}

static size_t req_size(uint16_t op)
{
	unsigned char buf[512];

	return req_payload(op, buf);
}

static uint8_t req_fds_max(uint16_t op)
{
	return op == SVMD_OP_BIND_TASK || op == SVMD_OP_MAP ? 1 : 0;
}

/* A map carries its memfd: exactly one. */
static uint8_t req_fds_min(uint16_t op)
{
	return op == SVMD_OP_MAP ? 1 : 0;
}

static void device_entry(struct svmd_device_entry *e, uint32_t i)
{
	char name[32];

	memset(e, 0, sizeof(*e));
	snprintf(name, sizeof(name), "0000:%02x:%02x.%x", i / 32, i % 32, i % 8);
	set_dev(e->name, name);
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
	set_dev(e->device, i % 2 ? DEV_B : DEV_A);
	e->kind = 1 + i % 3;
	e->pasid = 100 + i;
	e->owner_uid = 1000;
	e->owner_pid = 4242;
	e->target_pid = e->kind == SVMD_KIND_TASK ? 4243 : 0;
	e->flags = i % 2 ? SVMD_BINDING_LEASED : 0;
	e->created_usec = 1700000000000000ull + i;
}

enum rep_variant {
	REP_OK,
	REP_ERR,        /* status only */
	REP_ERR_REASON, /* status and a reason */
};

struct rep_param {
	uint16_t op;
	uint8_t variant;
	uint32_t n; /* entries of a paged reply */
};

/* A reply payload into buf (SVMD_PAYLOAD_MAX bytes); returns its size, *ret_fds the fd count. */
static size_t rep_payload(const struct rep_param *p, unsigned char *buf, size_t *ret_fds)
{
	*ret_fds = 0;
	if (p->variant != REP_OK) {
		int32_t status = p->variant == REP_ERR ? -EPERM : -EACCES;
		memcpy(buf, &status, sizeof(status));
		if (p->variant == REP_ERR)
			return sizeof(status);
		memcpy(buf + sizeof(status), REASON, sizeof(REASON));
		return sizeof(status) + sizeof(REASON);
	}
	switch (p->op) {
	case SVMD_OP_HELLO: {
		struct svmd_hello_rep r = {.version = SVMD_VERSION,
					   .record_max = SVMD_RECORD_MAX,
					   .fds_max = SVMD_FDS_MAX};
		cr_assert_eq(svmd_set_name(r.backend, sizeof(r.backend), "sim"), 0);
		cr_assert_eq(svmd_set_name(r.server_version, sizeof(r.server_version), "0.1.0"), 0);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_DEVICES: {
		struct svmd_devices_rep r = {.total = p->n + 2, .n = p->n};
		size_t off = sizeof(r);
		memcpy(buf, &r, sizeof(r));
		for (uint32_t i = 0; i < p->n; i++, off += sizeof(struct svmd_device_entry)) {
			struct svmd_device_entry e;
			device_entry(&e, i);
			memcpy(buf + off, &e, sizeof(e));
		}
		return off;
	}
	case SVMD_OP_LIST: {
		struct svmd_list_rep r = {.n = p->n, .flags = p->n ? SVMD_LIST_MORE : 0};
		size_t off = sizeof(r);
		memcpy(buf, &r, sizeof(r));
		for (uint32_t i = 0; i < p->n; i++, off += sizeof(struct svmd_binding_entry)) {
			struct svmd_binding_entry e;
			binding_entry(&e, i);
			memcpy(buf + off, &e, sizeof(e));
		}
		return off;
	}
	case SVMD_OP_BIND_TASK:
	case SVMD_OP_BIND_PGTABLE:
	case SVMD_OP_BIND_PASID_TABLE: {
		struct svmd_bind_rep r = {
			.pasid = p->op == SVMD_OP_BIND_PASID_TABLE ? 0 : 42,
			.id = 7,
		};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_UNBIND:
	case SVMD_OP_LEASE: {
		struct svmd_status_rep r = {0};
		memcpy(buf, &r, sizeof(r));
		*ret_fds = p->op == SVMD_OP_LEASE;
		return sizeof(r);
	}
	case SVMD_OP_EXPLAIN: {
		struct svmd_explain_rep r = {.verdict = SVMD_VERDICT_ALLOW};
		memcpy(buf, &r, sizeof(r));
		memcpy(buf + sizeof(r), EXPLAIN_TEXT, sizeof(EXPLAIN_TEXT));
		return sizeof(r) + sizeof(EXPLAIN_TEXT);
	}
	case SVMD_OP_OPEN_DEVICE: {
		struct svmd_open_device_rep r = {.id = 11};
		memcpy(buf, &r, sizeof(r));
		*ret_fds = 1;
		return sizeof(r);
	}
	case SVMD_OP_RELOAD: {
		struct svmd_reload_rep r = {
			.n_rules = 12,
			.generation = 3,
			.n_files = 2,
			.n_warnings = 1,
			.n_denied = 1,
			.n_revoked = 0,
		};
		memcpy(buf, &r, sizeof(r));
		memcpy(buf + sizeof(r), RELOAD_TEXT, sizeof(RELOAD_TEXT));
		return sizeof(r) + sizeof(RELOAD_TEXT);
	}
	case SVMD_OP_MAP: {
		struct svmd_map_rep r = {.id = 12};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_UNMAP: {
		struct svmd_unmap_rep r = {.n = 2, .bytes = 0x20000};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_INVALIDATE: {
		struct svmd_invalidate_rep r = {.done = 2};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_DEVICE_INFO: {
		struct svmd_device_info_rep r = {.kinds = SVMD_KIND_BIT(SVMD_KIND_DEVICE)};
		memcpy(buf, &r, sizeof(r));
		memcpy(buf + sizeof(r), INFO_TEXT, sizeof(INFO_TEXT));
		return sizeof(r) + sizeof(INFO_TEXT);
	}
	case SVMD_OP_SUBSCRIBE: {
		struct svmd_status_rep r = {0};
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	case SVMD_OP_STATUS: {
		static const char text[] = "svm: supported\nfile: /etc/svmd/policy.d/50.policy\n";
		struct svmd_daemon_status_rep r = {
			.n_devices = 2, .generation = 3, .n_rules = 4, .n_files = 1};
		cr_assert_eq(svmd_set_name(r.backend, sizeof(r.backend), "sim"), 0);
		memcpy(buf, &r, sizeof(r));
		memcpy(buf + sizeof(r), text, sizeof(text));
		return sizeof(r) + sizeof(text);
	}
	case SVMD_OP_POLICY_LIST: {
		static const char text[] = "/etc/svmd/policy.d/50.policy:1 allow reload user=a\n";
		struct svmd_policy_list_rep r = {.total = 1, .n = 1, .generation = 3};
		memcpy(buf, &r, sizeof(r));
		memcpy(buf + sizeof(r), text, sizeof(text));
		return sizeof(r) + sizeof(text);
	}
	case SVMD_OP_METRICS: {
		struct svmd_metrics_rep r = {.m = {.n_devices = 1, .latency_count = 2}};
		r.m.latency[0] = 1;
		r.m.latency[7] = 1;
		r.m.requests[SVMD_METRICS_GRANT][0][0] = 5;
		cr_assert_eq(svmd_set_name(r.m.device[0].name, SVMD_DEVICE_NAME_SZ, "0000:3b:00.0"),
			     0);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	}
	cr_assert_fail("no reply vector for opcode %u", p->op);
	return 0;
}

static int32_t status_of(const void *payload)
{
	int32_t s;

	memcpy(&s, payload, sizeof(s));
	return s;
}

/* Frames op/payload, parses it back and checks the header; returns the record size. */
static size_t frame_and_parse(unsigned char *rec, uint16_t op, uint32_t seq, const void *payload,
			      size_t len, struct svmd_hdr *h)
{
	int n = svmd_frame(rec, op, seq, payload, len);

	cr_assert_eq(n, (int)(sizeof(struct svmd_hdr) + len), "frame size %d for len %zu", n, len);
	memset(h, 0xa5, sizeof(*h));
	cr_assert_eq(svmd_parse(rec, (size_t)n, h), 0);
	cr_assert_eq(h->magic, SVMD_MAGIC);
	cr_assert_eq(h->version, SVMD_VERSION);
	cr_assert_eq(h->opcode, op);
	cr_assert_eq(h->seq, seq);
	cr_assert_eq(h->len, len);
	cr_assert_eq(memcmp(rec + sizeof(*h), payload, len), 0, "payload bytes differ");
	return (size_t)n;
}

/* ---- framing and header ------------------------------------------------------------------ */

Test(frame, golden_hello_bytes)
{
	static const unsigned char want[] = {
		'S',  'V',  'M',  'D',  0x01, 0x00, 0x01, 0x00, 0xc0, 0xee, 0x05, 0x00,
		0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	unsigned char payload[512], rec[SVMD_RECORD_MAX];
	size_t len = req_payload(SVMD_OP_HELLO, payload);

	cr_assert_eq(svmd_frame(rec, SVMD_OP_HELLO, SEQ(0), payload, len), (int)sizeof(want));
	cr_assert_arr_eq(rec, want, sizeof(want));
}

Test(frame, empty_payload)
{
	unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_hdr h;

	cr_assert_eq(svmd_frame(rec, SVMD_OP_HELLO, 1, NULL, 0), 16);
	cr_assert_eq(svmd_parse(rec, 16, &h), 0);
	cr_assert_eq(h.len, 0);
	cr_assert_eq(h.seq, 1);
}

Test(frame, max_payload_fits_and_one_more_does_not)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX + 1];
	static unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_hdr h;

	memset(payload, 0x3c, sizeof(payload));
	cr_assert_eq(SVMD_PAYLOAD_MAX, 4080);
	cr_assert_eq(svmd_frame(rec, SVMD_OP_LIST | SVMD_REPLY, 9, payload, SVMD_PAYLOAD_MAX),
		     SVMD_RECORD_MAX);
	cr_assert_eq(svmd_parse(rec, SVMD_RECORD_MAX, &h), 0);
	cr_assert_eq(h.len, SVMD_PAYLOAD_MAX);
	cr_assert_eq(rec[SVMD_RECORD_MAX - 1], 0x3c);
	memset(rec, 0, sizeof(rec));
	cr_assert_eq(svmd_frame(rec, SVMD_OP_LIST, 9, payload, SVMD_PAYLOAD_MAX + 1), -EMSGSIZE);
	cr_assert_eq(rec[0], 0, "a refused frame must not write the record");
}

Test(frame, payload_already_in_place)
{
	unsigned char rec[SVMD_RECORD_MAX], want[512];
	size_t len = req_payload(SVMD_OP_BIND_PGTABLE, want);
	struct svmd_hdr h;

	memcpy(rec + sizeof(h), want, len);
	cr_assert_eq(svmd_frame(rec, SVMD_OP_BIND_PGTABLE, 3, rec + sizeof(h), len),
		     (int)(sizeof(h) + len));
	cr_assert_eq(svmd_parse(rec, sizeof(h) + len, &h), 0);
	cr_assert_eq(memcmp(rec + sizeof(h), want, len), 0);
}

Test(parse, shorter_than_header)
{
	unsigned char rec[SVMD_RECORD_MAX], payload[512];
	size_t len = req_payload(SVMD_OP_HELLO, payload);
	struct svmd_hdr h;

	svmd_frame(rec, SVMD_OP_HELLO, 1, payload, len);
	for (size_t size = 0; size < sizeof(h); size++)
		cr_assert_eq(svmd_parse(rec, size, &h), -EBADMSG, "size %zu", size);
}

Test(parse, longer_than_record_max)
{
	static unsigned char rec[2 * SVMD_RECORD_MAX];
	struct svmd_hdr h = {
		.magic = SVMD_MAGIC, .version = SVMD_VERSION, .opcode = SVMD_OP_LIST, .len = 4081};

	memcpy(rec, &h, sizeof(h));
	cr_assert_eq(svmd_parse(rec, SVMD_RECORD_MAX + 1, &h), -EMSGSIZE);
	h.len = sizeof(rec) - sizeof(h);
	memcpy(rec, &h, sizeof(h));
	cr_assert_eq(svmd_parse(rec, sizeof(rec), &h), -EMSGSIZE);
	cr_assert_eq(svmd_parse(rec, SIZE_MAX, &h), -EMSGSIZE);
}

Test(parse, len_field_disagrees_with_size)
{
	unsigned char rec[SVMD_RECORD_MAX], payload[512];
	size_t len = req_payload(SVMD_OP_BIND_TASK, payload);
	int n = svmd_frame(rec, SVMD_OP_BIND_TASK, 1, payload, len);
	const uint32_t bad[] = {0,    (uint32_t)len - 1, (uint32_t)len + 1,
				4080, 0xffffffffu,       (uint32_t)len + 0x100000000ull - 16};
	struct svmd_hdr h;

	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
	for (size_t i = 0; i < N_ELEM(bad); i++) {
		memcpy(rec + offsetof(struct svmd_hdr, len), &bad[i], 4);
		cr_assert_eq(svmd_parse(rec, (size_t)n, &h), -EBADMSG, "len %u", bad[i]);
	}
	/* the right len, but the record is one byte longer or shorter than it says */
	memcpy(rec + offsetof(struct svmd_hdr, len), &(uint32_t){(uint32_t)len}, 4);
	cr_assert_eq(svmd_parse(rec, (size_t)n + 1, &h), -EBADMSG);
	cr_assert_eq(svmd_parse(rec, (size_t)n - 1, &h), -EBADMSG);
}

Test(parse, bad_magic)
{
	unsigned char rec[SVMD_RECORD_MAX], payload[512];
	size_t len = req_payload(SVMD_OP_DEVICES, payload);
	int n = svmd_frame(rec, SVMD_OP_DEVICES, 1, payload, len);
	struct svmd_hdr h;

	for (int byte = 0; byte < 4; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			rec[byte] ^= (unsigned char)(1u << bit);
			cr_assert_eq(svmd_parse(rec, (size_t)n, &h), -EBADMSG, "byte %d bit %d",
				     byte, bit);
			rec[byte] ^= (unsigned char)(1u << bit);
		}
	}
	memcpy(rec, "DMVS", 4); /* the other byte order */
	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), -EBADMSG);
	memcpy(rec, "SVMD", 4);
	cr_assert_eq(svmd_parse(rec, (size_t)n, &h), 0);
}

Test(parse, bad_version)
{
	unsigned char rec[SVMD_RECORD_MAX], payload[512];
	size_t len = req_payload(SVMD_OP_DEVICES, payload);
	int n = svmd_frame(rec, SVMD_OP_DEVICES, 1, payload, len);
	const uint16_t bad[] = {0, 2, 0x100, 0xffff};
	struct svmd_hdr h;

	for (size_t i = 0; i < N_ELEM(bad); i++) {
		memcpy(rec + offsetof(struct svmd_hdr, version), &bad[i], 2);
		cr_assert_eq(svmd_parse(rec, (size_t)n, &h), -EBADMSG, "version %u", bad[i]);
	}
}

Test(parse, any_opcode_and_seq_pass_the_header_check)
{
	unsigned char rec[SVMD_RECORD_MAX];
	const uint16_t ops[] = {0, 0x7fff, SVMD_REPLY, 0xffff};
	struct svmd_hdr h;

	for (size_t i = 0; i < N_ELEM(ops); i++) {
		cr_assert_eq(svmd_frame(rec, ops[i], 0xffffffffu, "x", 1), 17);
		cr_assert_eq(svmd_parse(rec, 17, &h), 0);
		cr_assert_eq(h.opcode, ops[i]);
		cr_assert_eq(h.seq, 0xffffffffu);
	}
}

/* ---- requests: round trips --------------------------------------------------------------- */

struct req_rt_param {
	uint16_t op;
	uint8_t n_fds;
};

ParameterizedTestParameters(request, roundtrip)
{
	static struct req_rt_param params[] = {
		{SVMD_OP_HELLO, 0},
		{SVMD_OP_DEVICES, 0},
		{SVMD_OP_LIST, 0},
		{SVMD_OP_BIND_TASK, 0},
		{SVMD_OP_BIND_TASK, 1},
		{SVMD_OP_BIND_PGTABLE, 0},
		{SVMD_OP_BIND_PASID_TABLE, 0},
		{SVMD_OP_UNBIND, 0},
		{SVMD_OP_LEASE, 0},
		{SVMD_OP_EXPLAIN, 0},
		{SVMD_OP_OPEN_DEVICE, 0},
		{SVMD_OP_RELOAD, 0},
		{SVMD_OP_MAP, 1},
		{SVMD_OP_UNMAP, 0},
		{SVMD_OP_DEVICE_INFO, 0},
		{SVMD_OP_INVALIDATE, 0},
	};
	return cr_make_param_array(struct req_rt_param, params, N_ELEM(params));
}

ParameterizedTest(struct req_rt_param *p, request, roundtrip)
{
	unsigned char payload[512], rec[SVMD_RECORD_MAX];
	size_t len = req_payload(p->op, payload);
	struct svmd_hdr h;
	size_t size = frame_and_parse(rec, p->op, SEQ(p->n_fds), payload, len, &h);

	cr_assert_eq(size, sizeof(h) + len);
	cr_assert_eq(svmd_request_check(h.opcode, rec + sizeof(h), h.len, p->n_fds), 0,
		     "%s rejected", svmd_opcode_name(p->op));
	/* a request is not a reply, and a reply opcode is no request */
	cr_assert_eq(svmd_request_check(h.opcode | SVMD_REPLY, rec + sizeof(h), h.len, p->n_fds),
		     -EOPNOTSUPP);
}

Test(request, sizes_are_the_wire_sizes)
{
	const size_t want[] = {
		[SVMD_OP_HELLO] = 8,         [SVMD_OP_DEVICES] = 8,
		[SVMD_OP_LIST] = 16,         [SVMD_OP_BIND_TASK] = 24,
		[SVMD_OP_BIND_PGTABLE] = 72, [SVMD_OP_BIND_PASID_TABLE] = 40,
		[SVMD_OP_UNBIND] = 8,        [SVMD_OP_LEASE] = 8,
		[SVMD_OP_EXPLAIN] = 48,      [SVMD_OP_OPEN_DEVICE] = 16,
		[SVMD_OP_RELOAD] = 8,        [SVMD_OP_MAP] = 48,
		[SVMD_OP_UNMAP] = 32,        [SVMD_OP_DEVICE_INFO] = 16,
		[SVMD_OP_SUBSCRIBE] = 8,     [SVMD_OP_INVALIDATE] = 400,
		[SVMD_OP_STATUS] = 8,        [SVMD_OP_POLICY_LIST] = 8,
		[SVMD_OP_METRICS] = 8,
	};

	for (size_t i = 0; i < N_ELEM(all_ops); i++)
		cr_assert_eq(req_size(all_ops[i]), want[all_ops[i]], "%s",
			     svmd_opcode_name(all_ops[i]));
}

Test(request, accepted_variants)
{
	unsigned char b[512];

	/* hello: a version range */
	struct svmd_hello_req hello = {.version_min = 1, .version_max = 3};
	cr_assert_eq(svmd_request_check(SVMD_OP_HELLO, &hello, sizeof(hello), 0), 0);
	/* bind-task: pasid 0 lets the kernel choose */
	req_payload(SVMD_OP_BIND_TASK, b);
	memset(b + offsetof(struct svmd_bind_task_req, pasid), 0, 4);
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_TASK, b, 24, 0), 0);
	/* bind-pgtable: no guest PASID */
	struct svmd_bind_pgtable_req pg;
	req_payload(SVMD_OP_BIND_PGTABLE, &pg);
	pg.flags = 0;
	pg.gpasid = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &pg, sizeof(pg), 0), 0);
	/* explain: every op on a device; pasid and uid flags independently */
	struct svmd_explain_req ex;
	req_payload(SVMD_OP_EXPLAIN, &ex);
	for (uint32_t op = 1; op < _SVMD_EXPLAIN_OP_MAX; op++) {
		if (op == SVMD_EXPLAIN_RELOAD || op == SVMD_EXPLAIN_MAP ||
		    op == SVMD_EXPLAIN_INVALIDATE)
			continue; /* their own layouts: below */
		ex.op = op;
		cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0, "op %u",
			     op);
	}
	/* explain invalidate: a device and a PASID, no page-table fields (else malformed) */
	struct svmd_explain_req inv_ex = ex;
	inv_ex.op = SVMD_EXPLAIN_INVALIDATE;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &inv_ex, sizeof(inv_ex), 0), -EBADMSG);
	inv_ex.addr_width = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &inv_ex, sizeof(inv_ex), 0), -EBADMSG);
	inv_ex.vtd_flags = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &inv_ex, sizeof(inv_ex), 0), 0);
	inv_ex.addr_width = 57;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &inv_ex, sizeof(inv_ex), 0), -EBADMSG);
	/* explain: address widths and VT-d flags */
	const uint32_t widths[] = {0, 48, 57};
	for (size_t i = 0; i < N_ELEM(widths); i++) {
		ex.addr_width = widths[i];
		cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0,
			     "addr_width %u", widths[i]);
	}
	for (uint64_t f = 0; f <= SVMD_VTD_FLAGS_ALL; f++) {
		ex.vtd_flags = f;
		cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0,
			     "vtd_flags %#llx", (unsigned long long)f);
	}
	ex.flags = SVMD_EXPLAIN_PASID;
	ex.uid = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	ex.flags = SVMD_EXPLAIN_UID;
	ex.pasid = 0;
	ex.uid = 0; /* uid 0 with the flag: asks about root */
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	ex.flags = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	/* unbind and lease: any id */
	struct svmd_id_req id = {.id = UINT64_MAX};
	cr_assert_eq(svmd_request_check(SVMD_OP_UNBIND, &id, sizeof(id), 0), 0);
	cr_assert_eq(svmd_request_check(SVMD_OP_LEASE, &id, sizeof(id), 0), 0);
	/* invalidate: all 16 entries; the SMMUv3 type (whose entries the backend checks) */
	struct svmd_invalidate_req inv = {
		.id = 1, .type = SVMD_INVALIDATE_SMMUV3, .n = SVMD_INVALIDATE_ENTRIES_MAX};
	memset(inv.e, 0xff, sizeof(inv.e));
	cr_assert_eq(svmd_request_check(SVMD_OP_INVALIDATE, &inv, sizeof(inv), 0), 0);
}

Test(request, unaligned_payload)
{
	_Alignas(8) unsigned char b[512];
	unsigned char *p = b + 3;

	for (size_t i = 0; i < N_ELEM(all_ops); i++) {
		size_t len = req_payload(all_ops[i], p);
		cr_assert_eq(svmd_request_check(all_ops[i], p, len, req_fds_min(all_ops[i])), 0,
			     "%s", svmd_opcode_name(all_ops[i]));
	}
}

/* Explain of a map: the IOVA range in place of the bind fields, and only the uid flag. */
Test(request, explain_map)
{
	struct svmd_explain_map_req r = {.op = SVMD_EXPLAIN_MAP, .iova = 0x100000, .length = 4096};
	struct svmd_explain_map_req bad;

	set_dev(r.device, DEV_A);
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &r, sizeof(r), 0), 0);
	r.length = 0; /* the IOVA alone */
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &r, sizeof(r), 0), 0);
	r.flags = SVMD_EXPLAIN_UID;
	r.uid = 1000;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &r, sizeof(r), 0), 0);
	bad = r;
	bad.flags |= SVMD_EXPLAIN_PASID;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	bad.reserved0 = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	bad.flags = 0; /* a uid without its flag */
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	bad.iova = UINT64_MAX - 4095;
	bad.length = 8192;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	memset(bad.device, 0, sizeof(bad.device)); /* a map is about a device */
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &bad, sizeof(bad), 0), -EBADMSG);
}

/* ---- requests: rejections ---------------------------------------------------------------- */

struct req_len_param {
	uint16_t op;
	int8_t delta;
};

ParameterizedTestParameters(request, wrong_length)
{
	static struct req_len_param params[] = {
		{SVMD_OP_HELLO, -1},
		{SVMD_OP_HELLO, 1},
		{SVMD_OP_DEVICES, -1},
		{SVMD_OP_DEVICES, 1},
		{SVMD_OP_LIST, -1},
		{SVMD_OP_LIST, 1},
		{SVMD_OP_BIND_TASK, -1},
		{SVMD_OP_BIND_TASK, 1},
		{SVMD_OP_BIND_PGTABLE, -1},
		{SVMD_OP_BIND_PGTABLE, 1},
		{SVMD_OP_BIND_PASID_TABLE, -1},
		{SVMD_OP_BIND_PASID_TABLE, 1},
		{SVMD_OP_UNBIND, -1},
		{SVMD_OP_UNBIND, 1},
		{SVMD_OP_LEASE, -1},
		{SVMD_OP_LEASE, 1},
		{SVMD_OP_EXPLAIN, -1},
		{SVMD_OP_EXPLAIN, 1},
		{SVMD_OP_OPEN_DEVICE, -1},
		{SVMD_OP_OPEN_DEVICE, 1},
		{SVMD_OP_RELOAD, -1},
		{SVMD_OP_RELOAD, 1},
		{SVMD_OP_MAP, -1},
		{SVMD_OP_MAP, 1},
		{SVMD_OP_MAP, -8},
		{SVMD_OP_UNMAP, -1},
		{SVMD_OP_UNMAP, 1},
		{SVMD_OP_DEVICE_INFO, -1},
		{SVMD_OP_DEVICE_INFO, 1},
		{SVMD_OP_INVALIDATE, -1},
		{SVMD_OP_INVALIDATE, 1},
		{SVMD_OP_INVALIDATE, -24}, /* one entry fewer than the array */
		{SVMD_OP_EXPLAIN, -16},    /* the 32-byte explain of protocol 0.1 */
		{SVMD_OP_RELOAD, -8},      /* no payload at all */
	};
	return cr_make_param_array(struct req_len_param, params, N_ELEM(params));
}

ParameterizedTest(struct req_len_param *p, request, wrong_length)
{
	unsigned char payload[512] = {0}, rec[SVMD_RECORD_MAX];
	size_t len = req_payload(p->op, payload) + (size_t)(ssize_t)p->delta;
	struct svmd_hdr h;

	/* The header is fine: the record is framed consistently; the payload is not. */
	frame_and_parse(rec, p->op, SEQ(0), payload, len, &h);
	cr_assert_eq(svmd_request_check(h.opcode, rec + sizeof(h), h.len, req_fds_min(p->op)),
		     -EBADMSG, "%s with %zu bytes", svmd_opcode_name(p->op), len);
	cr_assert_eq(svmd_request_check(p->op, payload, 0, req_fds_min(p->op)), -EBADMSG);
}

/* One field of the canonical request overwritten (little-endian, width bytes). */
struct req_field_param {
	uint16_t op;
	uint16_t off;
	uint8_t width;
	uint64_t value;
};

ParameterizedTestParameters(request, bad_field)
{
#define F(op, type, field, v)                                                                      \
	{                                                                                          \
		op, offsetof(type, field), sizeof(((type *)0)->field), v                           \
	}
	static struct req_field_param params[] = {
		/* reserved and flags fields */
		F(SVMD_OP_HELLO, struct svmd_hello_req, flags, 1),
		F(SVMD_OP_HELLO, struct svmd_hello_req, flags, 0x80000000u),
		F(SVMD_OP_HELLO, struct svmd_hello_req, version_min, 2), /* min > max */
		F(SVMD_OP_DEVICES, struct svmd_devices_req, reserved, 1),
		F(SVMD_OP_DEVICES, struct svmd_devices_req, reserved, 0x80000000u),
		F(SVMD_OP_LIST, struct svmd_list_req, flags, SVMD_LIST_MORE),
		F(SVMD_OP_LIST, struct svmd_list_req, flags, 0x80000000u),
		F(SVMD_OP_LIST, struct svmd_list_req, reserved, 1),
		F(SVMD_OP_BIND_TASK, struct svmd_bind_task_req, flags, 1),
		F(SVMD_OP_BIND_TASK, struct svmd_bind_task_req, flags, 0x80000000u),
		F(SVMD_OP_BIND_PGTABLE, struct svmd_bind_pgtable_req, flags, 0x4),
		F(SVMD_OP_BIND_PGTABLE, struct svmd_bind_pgtable_req, flags, 0x7),
		F(SVMD_OP_BIND_PGTABLE, struct svmd_bind_pgtable_req, flags, 0x8000000000000001ull),
		F(SVMD_OP_BIND_PGTABLE, struct svmd_bind_pgtable_req, flags, 0x100000001ull),
		F(SVMD_OP_BIND_PGTABLE, struct svmd_bind_pgtable_req, flags, 0), /* gpasid 9 */
		F(SVMD_OP_BIND_PGTABLE, struct svmd_bind_pgtable_req, reserved, 1),
		F(SVMD_OP_BIND_PASID_TABLE, struct svmd_bind_pasid_table_req, reserved, 1),
		F(SVMD_OP_BIND_PASID_TABLE, struct svmd_bind_pasid_table_req, reserved,
		  0xff000000u),
		/* explain: op, flags, pasid and uid without their flag */
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, op, 0),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, op, _SVMD_EXPLAIN_OP_MAX),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, op, 0x100 | SVMD_EXPLAIN_BIND_TASK),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, op, 0xffffffffu),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, flags, SVMD_EXPLAIN_FLAGS | 0x4),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, flags,
		  SVMD_EXPLAIN_FLAGS | 0x80000000u),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, flags, SVMD_EXPLAIN_UID), /* pasid 42 */
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, flags,
		  SVMD_EXPLAIN_PASID), /* uid 1000 */
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, flags, 0),
		/* explain: address width, reserved, VT-d flags, reload naming a device */
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 1),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 39),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 47),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 49),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 56),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 58),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 64),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 48 | 0x100),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, addr_width, 0xffffffffu),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, reserved, 1),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, reserved, 0x80000000u),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, vtd_flags, 0x40),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, vtd_flags, 0x7f),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, vtd_flags, 0x8000000000000000ull),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, vtd_flags, 0x100000001ull),
		F(SVMD_OP_EXPLAIN, struct svmd_explain_req, op, SVMD_EXPLAIN_RELOAD), /* device */
		/* reload: flags and reserved */
		F(SVMD_OP_RELOAD, struct svmd_reload_req, flags, 1),
		F(SVMD_OP_RELOAD, struct svmd_reload_req, flags, 0x80000000u),
		F(SVMD_OP_RELOAD, struct svmd_reload_req, reserved, 1),
		F(SVMD_OP_RELOAD, struct svmd_reload_req, reserved, 0x01000000u),
		/* map: flags (none, unknown), reserved, empty and wrapping ranges */
		F(SVMD_OP_MAP, struct svmd_map_req, flags, 0),
		F(SVMD_OP_MAP, struct svmd_map_req, flags, 4),
		F(SVMD_OP_MAP, struct svmd_map_req, flags, 0x80000003u),
		F(SVMD_OP_MAP, struct svmd_map_req, reserved, 1),
		F(SVMD_OP_MAP, struct svmd_map_req, length, 0),
		F(SVMD_OP_MAP, struct svmd_map_req, iova, 0xffffffffffff0000ull), /* wraps */
		F(SVMD_OP_MAP, struct svmd_map_req, iova, 0xffffffffffff8000ull), /* wraps */
		F(SVMD_OP_MAP, struct svmd_map_req, offset, 0xfffffffffffff000ull),
		F(SVMD_OP_MAP, struct svmd_map_req, length, 0xffffffffffffffffull),
		/* unmap: empty and wrapping ranges */
		F(SVMD_OP_UNMAP, struct svmd_unmap_req, length, 0),
		F(SVMD_OP_UNMAP, struct svmd_unmap_req, iova, 0xffffffffffff0000ull),
		F(SVMD_OP_UNMAP, struct svmd_unmap_req, length, 0xffffffffffffffffull),
		/* invalidate: a type, 1 to 16 entries, nothing past them */
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, type, 0),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, type, _SVMD_INVALIDATE_TYPE_MAX),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, type, 0xffffffffu),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, n, 0),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, n,
		  SVMD_INVALIDATE_ENTRIES_MAX + 1),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, n, 0xffffffffu),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, e[2].w[0], 1),
		F(SVMD_OP_INVALIDATE, struct svmd_invalidate_req, e[15].w[2], 0x100),
	};
#undef F
	return cr_make_param_array(struct req_field_param, params, N_ELEM(params));
}

ParameterizedTest(struct req_field_param *p, request, bad_field)
{
	unsigned char payload[512], rec[SVMD_RECORD_MAX];
	size_t len = req_payload(p->op, payload);
	struct svmd_hdr h;

	cr_assert_eq(svmd_request_check(p->op, payload, len, req_fds_min(p->op)), 0);
	cr_assert_leq(p->off + p->width, len);
	memcpy(payload + p->off, &p->value, p->width); /* little-endian */
	frame_and_parse(rec, p->op, SEQ(0), payload, len, &h);
	cr_assert_eq(svmd_request_check(h.opcode, rec + sizeof(h), h.len, req_fds_min(p->op)),
		     -EBADMSG, "%s: field at %u = %#llx accepted", svmd_opcode_name(p->op), p->off,
		     (unsigned long long)p->value);
}

Test(request, explain_pasid_without_flag)
{
	struct svmd_explain_req ex;

	req_payload(SVMD_OP_EXPLAIN, &ex);
	ex.flags = 0;
	ex.uid = 0;
	ex.pasid = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	ex.pasid = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), -EBADMSG);
	ex.flags = SVMD_EXPLAIN_PASID;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	ex.uid = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), -EBADMSG);
}

/* A 16-byte device name field. */
struct name_param {
	char name[SVMD_DEVICE_NAME_SZ];
};

/* Fields the gate refuses: the client is broken (not NUL-terminated, not zero padded, or a
 * character no spelling of a PCI address has). */
ParameterizedTestParameters(request, bad_device_field)
{
	static struct name_param params[] = {
		{""},                                  /* empty */
		{"0000:00:02.0abcd"},                  /* 16 characters: no NUL */
		{"0000000000000000"},                  /* no NUL */
		{"0000:00:02.0\0x"},                   /* garbage after the NUL */
		{"0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"}, /* garbage in the last byte */
		{"\0"
		 "0000:00:02.0"},    /* empty, then a name */
		{"0000:00:02.0 "},   /* space */
		{" 0000:00:02.0"},   /* space */
		{"../../etc/x"},     /* slash */
		{"0000:00:02.0\n"},  /* control character */
		{"0000:00:02.\xe0"}, /* high bit */
		{"\xff"},            /* high bit, negative as char */
		{"a\"b"},            /* a quote */
	};
	return cr_make_param_array(struct name_param, params, N_ELEM(params));
}

ParameterizedTest(struct name_param *p, request, bad_device_field)
{
	static const uint16_t ops[] = {SVMD_OP_BIND_TASK, SVMD_OP_BIND_PGTABLE,
				       SVMD_OP_BIND_PASID_TABLE, SVMD_OP_EXPLAIN};

	cr_assert_not(svmd_device_field_valid(p->name));
	cr_assert_not(svmd_device_name_valid(p->name));
	for (size_t i = 0; i < N_ELEM(ops); i++) {
		unsigned char payload[512];
		size_t len = req_payload(ops[i], payload);
		cr_assert_eq(svmd_request_check(ops[i], payload, len, 0), 0);
		memcpy(payload, p->name, SVMD_DEVICE_NAME_SZ); /* device is the first field */
		cr_assert_eq(svmd_request_check(ops[i], payload, len, 0), -EBADMSG, "%s",
			     svmd_opcode_name(ops[i]));
	}
}

/* Text that names no PCI function (or not canonically) passes the gate: the core answers it
 * ("not a PCI address", or the canonical device), as svmd does over D-Bus. */
ParameterizedTestParameters(request, device_text_for_the_core)
{
	static struct name_param params[] = {
		{"0"},             /* not DDDD:BB:DD.F */
		{"::::"},          /* not DDDD:BB:DD.F */
		{"zz"},            /* not hex */
		{"0000:00:02"},    /* no function */
		{"000:00:02.0"},   /* short domain */
		{"0000:00:02.00"}, /* long function */
		{"0000:00:0A.0"},  /* upper case */
		{"0000:00:02.F"},  /* upper case */
		{"0000:00:02.g"},  /* beyond hex */
		{"0000-00-02.0"},  /* other punctuation */
		{"3b:00.0"},       /* lspci's short form */
	};
	return cr_make_param_array(struct name_param, params, N_ELEM(params));
}

ParameterizedTest(struct name_param *p, request, device_text_for_the_core)
{
	static const uint16_t ops[] = {SVMD_OP_BIND_TASK, SVMD_OP_BIND_PGTABLE,
				       SVMD_OP_BIND_PASID_TABLE, SVMD_OP_EXPLAIN};

	cr_assert(svmd_device_field_valid(p->name));
	cr_assert_not(svmd_device_name_valid(p->name));
	for (size_t i = 0; i < N_ELEM(ops); i++) {
		unsigned char payload[128];
		size_t len = req_payload(ops[i], payload);
		memcpy(payload, p->name, SVMD_DEVICE_NAME_SZ);
		cr_assert_eq(svmd_request_check(ops[i], payload, len, 0), 0, "%s",
			     svmd_opcode_name(ops[i]));
	}
}

Test(request, device_name_canonical)
{
	static const char *const cases[][2] = {
		{"0000:3b:00.0", "0000:3b:00.0"},
		{"3b:00.0", "0000:3b:00.0"},
		{"3B:00.0", "0000:3b:00.0"},
		{"ABCD:EF:1F.7", "abcd:ef:1f.7"},
		{"3b:20.0", NULL},
		{"3b:00.8", NULL},
		{"3b:00", NULL},
		{"zz", NULL},
		{"", NULL},
		{"0000:3b:00.0x", NULL},
		{"3b:00.0 ", NULL},
		{"3b.00:0", NULL},
	};
	char out[SVMD_DEVICE_NAME_SZ];

	for (size_t i = 0; i < N_ELEM(cases); i++) {
		memset(out, 'x', sizeof(out));
		int r = svmd_device_name_canonical(cases[i][0], out);
		if (!cases[i][1]) {
			cr_assert_eq(r, -EINVAL, "'%s' accepted", cases[i][0]);
			cr_assert_eq(out[0], 'x', "a refused name must leave ret alone");
			continue;
		}
		cr_assert_eq(r, 0, "'%s' refused", cases[i][0]);
		cr_assert_str_eq(out, cases[i][1]);
		cr_assert(svmd_device_name_valid(out));
	}
}

Test(request, good_device_names)
{
	static const char good[][SVMD_DEVICE_NAME_SZ] = {
		DEV_A, DEV_B, "ffff:ff:1f.7", "0000:00:00.0", "abcd:ef:01.2",
	};

	for (size_t i = 0; i < N_ELEM(good); i++) {
		struct svmd_bind_task_req r = {0};
		memcpy(r.device, good[i], SVMD_DEVICE_NAME_SZ);
		cr_assert(svmd_device_name_valid(good[i]), "%s", good[i]);
		cr_assert_eq(svmd_request_check(SVMD_OP_BIND_TASK, &r, sizeof(r), 0), 0, "%s",
			     good[i]);
	}
}

ParameterizedTestParameters(request, too_many_fds)
{
	static uint16_t params[N_ELEM(all_ops)];

	memcpy(params, all_ops, sizeof(all_ops));
	return cr_make_param_array(uint16_t, params, N_ELEM(params));
}

ParameterizedTest(uint16_t *op, request, too_many_fds)
{
	unsigned char payload[512];
	size_t len = req_payload(*op, payload);
	size_t max = req_fds_max(*op), min = req_fds_min(*op);

	for (size_t n = 0; n < min; n++)
		cr_assert_eq(svmd_request_check(*op, payload, len, n), -EBADMSG, "%s with %zu fds",
			     svmd_opcode_name(*op), n);
	for (size_t n = min; n <= max; n++)
		cr_assert_eq(svmd_request_check(*op, payload, len, n), 0, "%zu fds", n);
	for (size_t n = max + 1; n <= SVMD_FDS_MAX + 1; n++)
		cr_assert_eq(svmd_request_check(*op, payload, len, n), -EBADMSG, "%s with %zu fds",
			     svmd_opcode_name(*op), n);
	cr_assert_eq(svmd_request_check(*op, payload, len, SIZE_MAX), -EBADMSG);
}

Test(request, unknown_opcode)
{
	const uint16_t bad[] = {
		0,      _SVMD_OP_MAX, _SVMD_OP_MAX + 1,           0x00ff,
		0x7fff, SVMD_REPLY,   SVMD_REPLY | SVMD_OP_HELLO, SVMD_REPLY | SVMD_OP_EXPLAIN,
		0xffff};
	unsigned char payload[512] = {0};

	for (size_t i = 0; i < N_ELEM(bad); i++) {
		for (size_t len = 0; len <= 72; len += 8)
			cr_assert_eq(svmd_request_check(bad[i], payload, len, 0), -EOPNOTSUPP,
				     "opcode %#x len %zu", bad[i], len);
		cr_assert_eq(svmd_request_check(bad[i], payload, 8, 5), -EOPNOTSUPP);
	}
}

/* ---- replies: round trips ---------------------------------------------------------------- */

ParameterizedTestParameters(reply, roundtrip)
{
	static struct rep_param params[] = {
		{SVMD_OP_HELLO, REP_OK, 0},
		{SVMD_OP_DEVICES, REP_OK, 0},
		{SVMD_OP_DEVICES, REP_OK, 1},
		{SVMD_OP_DEVICES, REP_OK, 2},
		{SVMD_OP_DEVICES, REP_OK, SVMD_DEVICES_PER_PAGE},
		{SVMD_OP_LIST, REP_OK, 0},
		{SVMD_OP_LIST, REP_OK, 1},
		{SVMD_OP_LIST, REP_OK, 2},
		{SVMD_OP_LIST, REP_OK, SVMD_BINDINGS_PER_PAGE},
		{SVMD_OP_BIND_TASK, REP_OK, 0},
		{SVMD_OP_BIND_PGTABLE, REP_OK, 0},
		{SVMD_OP_BIND_PASID_TABLE, REP_OK, 0},
		{SVMD_OP_UNBIND, REP_OK, 0},
		{SVMD_OP_LEASE, REP_OK, 0},
		{SVMD_OP_EXPLAIN, REP_OK, 0},
		{SVMD_OP_OPEN_DEVICE, REP_OK, 0},
		{SVMD_OP_RELOAD, REP_OK, 0},
		{SVMD_OP_MAP, REP_OK, 0},
		{SVMD_OP_UNMAP, REP_OK, 0},
		{SVMD_OP_DEVICE_INFO, REP_OK, 0},
		{SVMD_OP_INVALIDATE, REP_OK, 0},
		{SVMD_OP_INVALIDATE, REP_ERR_REASON, 0},
		{SVMD_OP_MAP, REP_ERR, 0},
		{SVMD_OP_UNMAP, REP_ERR_REASON, 0},
		{SVMD_OP_DEVICE_INFO, REP_ERR_REASON, 0},
		{SVMD_OP_HELLO, REP_ERR, 0},
		{SVMD_OP_DEVICES, REP_ERR, 0},
		{SVMD_OP_LIST, REP_ERR, 0},
		{SVMD_OP_BIND_TASK, REP_ERR, 0},
		{SVMD_OP_BIND_PGTABLE, REP_ERR, 0},
		{SVMD_OP_BIND_PASID_TABLE, REP_ERR, 0},
		{SVMD_OP_UNBIND, REP_ERR, 0},
		{SVMD_OP_LEASE, REP_ERR, 0},
		{SVMD_OP_EXPLAIN, REP_ERR, 0},
		{SVMD_OP_OPEN_DEVICE, REP_ERR, 0},
		{SVMD_OP_RELOAD, REP_ERR, 0},
		{SVMD_OP_HELLO, REP_ERR_REASON, 0},
		{SVMD_OP_DEVICES, REP_ERR_REASON, 0},
		{SVMD_OP_LIST, REP_ERR_REASON, 0},
		{SVMD_OP_BIND_TASK, REP_ERR_REASON, 0},
		{SVMD_OP_BIND_PGTABLE, REP_ERR_REASON, 0},
		{SVMD_OP_BIND_PASID_TABLE, REP_ERR_REASON, 0},
		{SVMD_OP_UNBIND, REP_ERR_REASON, 0},
		{SVMD_OP_LEASE, REP_ERR_REASON, 0},
		{SVMD_OP_EXPLAIN, REP_ERR_REASON, 0},
		{SVMD_OP_OPEN_DEVICE, REP_ERR_REASON, 0},
		{SVMD_OP_RELOAD, REP_ERR_REASON, 0},
	};
	return cr_make_param_array(struct rep_param, params, N_ELEM(params));
}

ParameterizedTest(struct rep_param *p, reply, roundtrip)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX], rec[SVMD_RECORD_MAX];
	size_t n_fds;
	size_t len = rep_payload(p, payload, &n_fds);
	struct svmd_hdr h;
	uint16_t op = p->op | SVMD_REPLY;

	frame_and_parse(rec, op, SEQ(n_fds), payload, len, &h);
	const unsigned char *got = rec + sizeof(h);
	cr_assert_eq(svmd_reply_check(h.opcode & ~SVMD_REPLY, got, h.len, n_fds), 0,
		     "%s reply (variant %u, %u entries) rejected", svmd_opcode_name(op), p->variant,
		     p->n);
	/* replies are not requests */
	cr_assert_eq(svmd_request_check(h.opcode, got, h.len, n_fds), -EOPNOTSUPP);

	const char *why = svmd_reply_reason(got, h.len);
	switch (p->variant) {
	case REP_OK:
		cr_assert_eq(status_of(got), 0);
		cr_assert_null(why);
		break;
	case REP_ERR:
		cr_assert_eq(status_of(got), -EPERM);
		cr_assert_eq(h.len, 4);
		cr_assert_null(why);
		break;
	case REP_ERR_REASON:
		cr_assert_eq(status_of(got), -EACCES);
		cr_assert_not_null(why);
		cr_assert_str_eq(why, REASON);
		cr_assert_eq((const unsigned char *)why, got + 4,
			     "reason must point into the record");
		break;
	}
}

Test(reply, paged_max_is_one_record)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX + 64], rec[SVMD_RECORD_MAX];
	struct rep_param dev = {SVMD_OP_DEVICES, REP_OK, SVMD_DEVICES_PER_PAGE};
	struct rep_param list = {SVMD_OP_LIST, REP_OK, SVMD_BINDINGS_PER_PAGE};
	size_t n_fds;

	cr_assert_eq(SVMD_DEVICES_PER_PAGE, 101);
	cr_assert_eq(SVMD_BINDINGS_PER_PAGE, 72);
	size_t len = rep_payload(&dev, payload, &n_fds);
	cr_assert_eq(len, 16 + 101 * 40);
	/* one entry more no longer fits a record */
	cr_assert_eq(svmd_frame(rec, SVMD_OP_DEVICES | SVMD_REPLY, 1, payload, len + 40),
		     -EMSGSIZE);
	len = rep_payload(&list, payload, &n_fds);
	cr_assert_eq(len, 16 + 72 * 56);
	cr_assert_eq(svmd_frame(rec, SVMD_OP_LIST | SVMD_REPLY, 1, payload, len + 56), -EMSGSIZE);
}

Test(reply, entries_are_laid_out_as_documented)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX];
	struct rep_param list = {SVMD_OP_LIST, REP_OK, 2};
	size_t n_fds;
	size_t len = rep_payload(&list, payload, &n_fds);
	uint64_t id, created;
	uint32_t n;

	cr_assert_eq(len, 16 + 2 * 56);
	memcpy(&n, payload + 4, 4);
	cr_assert_eq(n, 2);
	memcpy(&id, payload + 16 + 56, 8);
	cr_assert_eq(id, 2);
	cr_assert_str_eq((const char *)payload + 16 + 56 + 8, DEV_B);
	memcpy(&created, payload + 16 + 56 + 48, 8);
	cr_assert_eq(created, 1700000000000000ull + 1);
	cr_assert_eq(svmd_reply_check(SVMD_OP_LIST, payload, len, 0), 0);
}

Test(reply, status_boundaries)
{
	const int32_t good[] = {0, -1, -EPERM, -4095};
	const int32_t bad[] = {1, 2, 0x7fffffff, -4096, -4097, -0x10000, INT32_MIN};

	for (size_t i = 0; i < N_ELEM(all_ops); i++) {
		uint16_t op = all_ops[i];
		for (size_t j = 0; j < N_ELEM(bad); j++)
			cr_assert_eq(svmd_reply_check(op, &bad[j], 4, 0), -EBADMSG, "%s status %d",
				     svmd_opcode_name(op), bad[j]);
		for (size_t j = 1; j < N_ELEM(good); j++)
			cr_assert_eq(svmd_reply_check(op, &good[j], 4, 0), 0, "%s status %d",
				     svmd_opcode_name(op), good[j]);
	}
	/* status 0 with only the status is a complete reply for unbind alone */
	cr_assert_eq(svmd_reply_check(SVMD_OP_UNBIND, &good[0], 4, 0), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_HELLO, &good[0], 4, 0), -EBADMSG);
}

Test(reply, status_out_of_range_on_full_replies)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX];
	const int32_t bad[] = {1, -4096};

	for (size_t i = 0; i < N_ELEM(all_ops); i++) {
		struct rep_param p = {all_ops[i], REP_OK, 1};
		size_t n_fds;
		size_t len = rep_payload(&p, payload, &n_fds);
		cr_assert_eq(svmd_reply_check(p.op, payload, len, n_fds), 0);
		for (size_t j = 0; j < N_ELEM(bad); j++) {
			memcpy(payload, &bad[j], 4);
			cr_assert_eq(svmd_reply_check(p.op, payload, len, n_fds), -EBADMSG,
				     "%s status %d", svmd_opcode_name(p.op), bad[j]);
			cr_assert_eq(svmd_reply_check(p.op, payload, len, 0), -EBADMSG);
		}
	}
}

Test(reply, shorter_than_status)
{
	const unsigned char zero[4] = {0};

	for (size_t i = 0; i < N_ELEM(all_ops); i++)
		for (size_t len = 0; len < 4; len++)
			cr_assert_eq(svmd_reply_check(all_ops[i], zero, len, 0), -EBADMSG,
				     "%s len %zu", svmd_opcode_name(all_ops[i]), len);
}

Test(reply, unknown_opcode)
{
	const uint16_t bad[] = {0,
				_SVMD_OP_MAX,
				0x7fff,
				SVMD_REPLY,
				SVMD_REPLY | SVMD_OP_HELLO,
				SVMD_REPLY | SVMD_OP_UNBIND,
				0xffff};
	const int32_t err = -EPERM, ok = 0;

	for (size_t i = 0; i < N_ELEM(bad); i++) {
		cr_assert_eq(svmd_reply_check(bad[i], &err, 4, 0), -EBADMSG, "opcode %#x", bad[i]);
		cr_assert_eq(svmd_reply_check(bad[i], &ok, 4, 0), -EBADMSG, "opcode %#x", bad[i]);
	}
}

Test(reply, error_reason_must_be_one_terminated_string)
{
	struct {
		const char *bytes;
		size_t n;
		int want;
	} cases[] = {
		{"denied", 6, -EBADMSG},     /* no NUL */
		{"denied\0", 7, 0},          /* terminated */
		{"\0", 1, 0},                /* empty reason */
		{"de\0nied\0", 8, -EBADMSG}, /* NUL in the middle */
		{"denied\0\0", 8, -EBADMSG}, /* NUL padding after the terminator */
		{"\0\0", 2, -EBADMSG},       /* two NULs */
		{"\0denied", 7, -EBADMSG},   /* leading NUL, no terminator */
		{"d", 1, -EBADMSG},          /* one byte, not NUL */
	};
	unsigned char payload[64];
	const int32_t status = -ENOENT;

	for (size_t i = 0; i < N_ELEM(cases); i++) {
		memcpy(payload, &status, 4);
		memcpy(payload + 4, cases[i].bytes, cases[i].n);
		for (size_t j = 0; j < N_ELEM(all_ops); j++)
			cr_assert_eq(svmd_reply_check(all_ops[j], payload, 4 + cases[i].n, 0),
				     cases[i].want, "case %zu, %s", i,
				     svmd_opcode_name(all_ops[j]));
		if (cases[i].want == 0) {
			const char *why = svmd_reply_reason(payload, 4 + cases[i].n);
			cr_assert_not_null(why);
			cr_assert_str_eq(why, cases[i].bytes);
		}
	}
}

Test(reply, error_with_fd)
{
	unsigned char payload[64];
	const int32_t status = -EPERM;

	memcpy(payload, &status, 4);
	memcpy(payload + 4, REASON, sizeof(REASON));
	for (size_t i = 0; i < N_ELEM(all_ops); i++) {
		for (size_t n = 1; n <= SVMD_FDS_MAX; n++) {
			cr_assert_eq(svmd_reply_check(all_ops[i], payload, 4, n), -EBADMSG,
				     "%s error with %zu fds", svmd_opcode_name(all_ops[i]), n);
			cr_assert_eq(svmd_reply_check(all_ops[i], payload, 4 + sizeof(REASON), n),
				     -EBADMSG);
		}
	}
}

Test(reply, lease_needs_exactly_one_fd)
{
	const struct svmd_status_rep ok = {0};

	cr_assert_eq(svmd_reply_check(SVMD_OP_LEASE, &ok, sizeof(ok), 1), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_LEASE, &ok, sizeof(ok), 0), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_LEASE, &ok, sizeof(ok), 2), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_LEASE, &ok, sizeof(ok), SVMD_FDS_MAX), -EBADMSG);
}

Test(reply, success_without_fd_for_other_ops)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX];

	for (size_t i = 0; i < N_ELEM(all_ops); i++) {
		struct rep_param p = {all_ops[i], REP_OK, 1};
		size_t n_fds;
		size_t len = rep_payload(&p, payload, &n_fds);
		if (p.op == SVMD_OP_LEASE || p.op == SVMD_OP_OPEN_DEVICE ||
		    p.op == SVMD_OP_BIND_PASID_TABLE || p.op == SVMD_OP_BIND_PGTABLE)
			continue;
		cr_assert_eq(n_fds, 0);
		cr_assert_eq(svmd_reply_check(p.op, payload, len, 0), 0);
		cr_assert_eq(svmd_reply_check(p.op, payload, len, 1), -EBADMSG, "%s with an fd",
			     svmd_opcode_name(p.op));
	}
}

Test(reply, fixed_size_one_byte_short_or_long)
{
	static const uint16_t ops[] = {SVMD_OP_HELLO,        SVMD_OP_BIND_TASK,
				       SVMD_OP_BIND_PGTABLE, SVMD_OP_BIND_PASID_TABLE,
				       SVMD_OP_UNBIND,       SVMD_OP_LEASE};
	unsigned char payload[512] = {0};

	for (size_t i = 0; i < N_ELEM(ops); i++) {
		struct rep_param p = {ops[i], REP_OK, 0};
		size_t n_fds;
		size_t len = rep_payload(&p, payload, &n_fds);
		cr_assert_eq(svmd_reply_check(p.op, payload, len, n_fds), 0);
		cr_assert_eq(svmd_reply_check(p.op, payload, len - 1, n_fds), -EBADMSG, "%s short",
			     svmd_opcode_name(p.op));
		cr_assert_eq(svmd_reply_check(p.op, payload, len + 1, n_fds), -EBADMSG, "%s long",
			     svmd_opcode_name(p.op));
	}
}

struct paged_param {
	uint16_t op;
	uint32_t entries; /* entries actually present */
	uint32_t count;   /* the count field */
	int16_t extra;    /* bytes added to (or removed from) the length */
};

ParameterizedTestParameters(reply, paged_count_disagrees)
{
	static struct paged_param params[] = {
		{SVMD_OP_DEVICES, 0, 1, 0},
		{SVMD_OP_DEVICES, 1, 0, 0},
		{SVMD_OP_DEVICES, 1, 2, 0},
		{SVMD_OP_DEVICES, 2, 1, 0},
		{SVMD_OP_DEVICES, 0, 0, 1},  /* a partial entry */
		{SVMD_OP_DEVICES, 1, 1, -1}, /* the last entry cut short */
		{SVMD_OP_DEVICES, 1, 1, 1},  /* a byte after the last entry */
		{SVMD_OP_DEVICES, 0, 0xffffffffu, 0},
		{SVMD_OP_DEVICES, SVMD_DEVICES_PER_PAGE, SVMD_DEVICES_PER_PAGE + 1, 0},
		{SVMD_OP_DEVICES, 0, 0, -1}, /* shorter than the fixed part */
		{SVMD_OP_LIST, 0, 1, 0},
		{SVMD_OP_LIST, 1, 0, 0},
		{SVMD_OP_LIST, 1, 2, 0},
		{SVMD_OP_LIST, 2, 1, 0},
		{SVMD_OP_LIST, 0, 0, 1},
		{SVMD_OP_LIST, 1, 1, -1},
		{SVMD_OP_LIST, 1, 1, 55},
		{SVMD_OP_LIST, 0, 0xffffffffu, 0},
		{SVMD_OP_LIST, SVMD_BINDINGS_PER_PAGE, SVMD_BINDINGS_PER_PAGE - 1, 0},
		{SVMD_OP_LIST, 0, 0, -12}, /* status only */
	};
	return cr_make_param_array(struct paged_param, params, N_ELEM(params));
}

ParameterizedTest(struct paged_param *p, reply, paged_count_disagrees)
{
	static unsigned char payload[SVMD_PAYLOAD_MAX + 64];
	struct rep_param rp = {p->op, REP_OK, p->entries};
	size_t count_off = p->op == SVMD_OP_DEVICES ? offsetof(struct svmd_devices_rep, n)
						    : offsetof(struct svmd_list_rep, n);
	size_t n_fds;
	size_t len = rep_payload(&rp, payload, &n_fds);

	cr_assert_eq(svmd_reply_check(p->op, payload, len, 0), 0);
	memcpy(payload + count_off, &p->count, 4);
	len = (size_t)((ssize_t)len + p->extra);
	cr_assert_eq(svmd_reply_check(p->op, payload, len, 0), -EBADMSG,
		     "%s: %u entries, count %u, %zu bytes accepted", svmd_opcode_name(p->op),
		     p->entries, p->count, len);
}

Test(reply, explain_text)
{
	unsigned char payload[256];
	struct svmd_explain_rep r = {.verdict = SVMD_VERDICT_DENY};
	const size_t fixed = sizeof(r);

	memcpy(payload, &r, sizeof(r));
	/* no text at all */
	cr_assert_eq(svmd_reply_check(SVMD_OP_EXPLAIN, payload, fixed, 0), -EBADMSG);
	/* text without its NUL */
	memcpy(payload + fixed, "deny: no rule", 13);
	cr_assert_eq(svmd_reply_check(SVMD_OP_EXPLAIN, payload, fixed + 13, 0), -EBADMSG);
	/* NUL in the middle */
	memcpy(payload + fixed, "deny\0rule\0", 10);
	cr_assert_eq(svmd_reply_check(SVMD_OP_EXPLAIN, payload, fixed + 10, 0), -EBADMSG);
	/* terminated */
	memcpy(payload + fixed, "deny: no rule", 14);
	cr_assert_eq(svmd_reply_check(SVMD_OP_EXPLAIN, payload, fixed + 14, 0), 0);
	cr_assert_null(svmd_reply_reason(payload, fixed + 14));
	/* the fixed part cut short */
	cr_assert_eq(svmd_reply_check(SVMD_OP_EXPLAIN, payload, fixed - 1, 0), -EBADMSG);
	/* and with an fd */
	cr_assert_eq(svmd_reply_check(SVMD_OP_EXPLAIN, payload, fixed + 14, 1), -EBADMSG);
}

Test(reply, reason_accessor)
{
	unsigned char payload[64];
	const int32_t err = -EBUSY, ok = 0;

	cr_assert_null(svmd_reply_reason(&ok, 4));
	cr_assert_null(svmd_reply_reason(&err, 4));
	cr_assert_null(svmd_reply_reason(&err, 0));
	memcpy(payload, &ok, 4);
	memcpy(payload + 4, "text", 5);
	cr_assert_null(svmd_reply_reason(payload, 9), "a success reply carries no reason");
	memcpy(payload, &err, 4);
	const char *why = svmd_reply_reason(payload, 9);
	cr_assert_eq(why, (const char *)payload + 4);
	cr_assert_str_eq(why, "text");
}

/* ---- transport --------------------------------------------------------------------------- */

static void seqpacket_pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0, "%s",
		     strerror(errno));
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A memfd without O_CLOEXEC holding its index, to recognise it on the far side. */
static int tagged_fd(int i)
{
	char tag[16];
	int fd = memfd_create("svmd-test", 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	snprintf(tag, sizeof(tag), "fd-%d", i);
	cr_assert_eq(write(fd, tag, strlen(tag) + 1), (ssize_t)(strlen(tag) + 1));
	return fd;
}

static void check_tagged_fd(int fd, int i)
{
	char want[16], got[16] = {0};
	int flags = fcntl(fd, F_GETFD);

	cr_assert_neq(flags, -1, "fd %d is not open", fd);
	cr_assert(flags & FD_CLOEXEC, "fd %d arrived without O_CLOEXEC", fd);
	snprintf(want, sizeof(want), "fd-%d", i);
	cr_assert_gt(pread(fd, got, sizeof(got) - 1, 0), 0);
	cr_assert_str_eq(got, want);
}

static void raw_sendmsg(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	cr_assert_leq(n_fds, 8);
	memset(&control, 0, sizeof(control));
	if (n_fds) {
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	cr_assert_eq(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len, "sendmsg: %s",
		     strerror(errno));
}

ParameterizedTestParameters(wire, fds_arrive)
{
	static size_t params[] = {0, 1, 2, 3, 4};
	return cr_make_param_array(size_t, params, N_ELEM(params));
}

ParameterizedTest(size_t *n, wire, fds_arrive)
{
	unsigned char payload[512], rec[SVMD_RECORD_MAX], got[SVMD_RECORD_MAX];
	int sv[2], out[SVMD_FDS_MAX], in[SVMD_FDS_MAX] = {-1, -1, -1, -1};
	size_t len = req_payload(SVMD_OP_BIND_TASK, payload), n_in = 99;
	int size = svmd_frame(rec, SVMD_OP_BIND_TASK, SEQ(*n), payload, len);

	seqpacket_pair(sv);
	for (size_t i = 0; i < *n; i++)
		out[i] = tagged_fd((int)i);
	int before = count_fds();
	cr_assert_eq(svmd_send(sv[0], rec, (size_t)size, out, *n, 0), 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), size);
	cr_assert_eq(n_in, *n);
	cr_assert_eq(memcmp(got, rec, (size_t)size), 0);
	cr_assert_eq(count_fds(), before + (int)*n);
	for (size_t i = 0; i < *n; i++) {
		for (size_t j = 0; j < *n; j++)
			cr_assert_neq(in[i], out[j], "a received fd reuses a sent number");
		check_tagged_fd(in[i], (int)i);
	}
	for (size_t i = *n; i < SVMD_FDS_MAX; i++)
		cr_assert_eq(in[i], -1, "slot %zu written", i);
	svmd_close_fds(in, *n);
	for (size_t i = 0; i < *n; i++)
		cr_assert_eq(in[i], -1);
	cr_assert_eq(count_fds(), before);
}

Test(wire, max_record_with_fds)
{
	static unsigned char rec[SVMD_RECORD_MAX], got[SVMD_RECORD_MAX];
	int sv[2], out[SVMD_FDS_MAX], in[SVMD_FDS_MAX];
	size_t n_in = 0;

	seqpacket_pair(sv);
	for (size_t i = 0; i < SVMD_FDS_MAX; i++)
		out[i] = tagged_fd((int)i + 10);
	for (size_t i = 0; i < sizeof(rec); i++)
		rec[i] = (unsigned char)(i * 7);
	cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), out, SVMD_FDS_MAX, 0), 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), SVMD_RECORD_MAX);
	cr_assert_eq(n_in, SVMD_FDS_MAX);
	cr_assert_arr_eq(got, rec, sizeof(rec));
	for (size_t i = 0; i < SVMD_FDS_MAX; i++)
		check_tagged_fd(in[i], (int)i + 10);
}

Test(wire, records_keep_their_boundaries)
{
	unsigned char a[32], b[SVMD_RECORD_MAX], got[SVMD_RECORD_MAX];
	int sv[2], fd = tagged_fd(3), in[SVMD_FDS_MAX];
	size_t n_in = 0;

	seqpacket_pair(sv);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', 100);
	cr_assert_eq(svmd_send(sv[0], a, sizeof(a), NULL, 0, 0), 0);
	cr_assert_eq(svmd_send(sv[0], b, 100, &fd, 1, 0), 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), 32);
	cr_assert_eq(n_in, 0);
	cr_assert_eq(got[31], 'a');
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), 100);
	cr_assert_eq(n_in, 1);
	cr_assert_eq(got[0], 'b');
	check_tagged_fd(in[0], 3);
}

Test(wire, five_fds_are_refused_and_closed)
{
	unsigned char rec[64] = {1}, got[SVMD_RECORD_MAX];
	int sv[2], out[5], in[SVMD_FDS_MAX] = {-1, -1, -1, -1};
	size_t n_in = 99;

	seqpacket_pair(sv);
	for (int i = 0; i < 5; i++)
		out[i] = tagged_fd(i);
	int before = count_fds();
	raw_sendmsg(sv[0], rec, sizeof(rec), out, 5);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -ETOOMANYREFS);
	cr_assert_eq(count_fds(), before, "svmd_recv leaked an fd");
	for (size_t i = 0; i < SVMD_FDS_MAX; i++)
		cr_assert_eq(in[i], -1, "slot %zu left holding fd %d", i, in[i]);
	/* the connection stays usable */
	cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), NULL, 0, 0), 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), (ssize_t)sizeof(rec));
	cr_assert_eq(n_in, 0);
}

Test(wire, two_rights_messages_beyond_the_limit)
{
	unsigned char rec[16] = {0}, got[SVMD_RECORD_MAX];
	union {
		struct cmsghdr align;
		char buf[2 * CMSG_SPACE(sizeof(int) * 3)];
	} control;
	struct iovec iov = {.iov_base = rec, .iov_len = sizeof(rec)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	int sv[2], out[6], in[SVMD_FDS_MAX];
	size_t n_in = 0;

	seqpacket_pair(sv);
	for (int i = 0; i < 6; i++)
		out[i] = tagged_fd(i);
	memset(&control, 0, sizeof(control));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	for (int k = 0; k < 2; k++, cm = CMSG_NXTHDR(&mh, cm)) {
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * 3);
		memcpy(CMSG_DATA(cm), out + 3 * k, sizeof(int) * 3);
	}
	int before = count_fds();
	cr_assert_eq(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(rec), "%s", strerror(errno));
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -ETOOMANYREFS);
	cr_assert_eq(count_fds(), before, "svmd_recv leaked an fd");
}

Test(wire, oversized_record_is_refused)
{
	static unsigned char big[SVMD_RECORD_MAX + 1], got[SVMD_RECORD_MAX];
	int sv[2], out[2], in[SVMD_FDS_MAX] = {-1, -1, -1, -1};
	size_t n_in = 99;

	seqpacket_pair(sv);
	out[0] = tagged_fd(0);
	out[1] = tagged_fd(1);
	memset(big, 'x', sizeof(big));
	int before = count_fds();
	raw_sendmsg(sv[0], big, sizeof(big), NULL, 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -EMSGSIZE);
	raw_sendmsg(sv[0], big, sizeof(big), out, 2);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -EMSGSIZE);
	cr_assert_eq(count_fds(), before, "svmd_recv leaked an fd");
	cr_assert_eq(in[0], -1);
	cr_assert_eq(in[1], -1);
	/* the sender side refuses to build one */
	cr_assert_eq(svmd_send(sv[0], big, sizeof(big), NULL, 0, 0), -EINVAL);
}

Test(wire, orderly_close)
{
	unsigned char got[SVMD_RECORD_MAX];
	int sv[2], in[SVMD_FDS_MAX];
	size_t n_in = 99;

	seqpacket_pair(sv);
	cr_assert_eq(close(sv[0]), 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), 0);
	cr_assert_eq(n_in, 0);
}

Test(wire, empty_record_with_fd_is_not_the_end)
{
	unsigned char got[SVMD_RECORD_MAX];
	int sv[2], out = tagged_fd(0), in[SVMD_FDS_MAX] = {-1, -1, -1, -1};
	size_t n_in = 99;

	seqpacket_pair(sv);
	int before = count_fds();
	raw_sendmsg(sv[0], "", 0, &out, 1);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -EBADMSG);
	cr_assert_eq(count_fds(), before, "svmd_recv leaked an fd");
	cr_assert_eq(in[0], -1);
}

Test(wire, credentials_are_refused)
{
	unsigned char rec[24] = {7}, got[SVMD_RECORD_MAX];
	int sv[2], in[SVMD_FDS_MAX] = {-1, -1, -1, -1}, one = 1;
	size_t n_in = 99;

	seqpacket_pair(sv);
	cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);

	/* explicit SCM_CREDENTIALS from the sender */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct ucred uc = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	struct iovec iov = {.iov_base = rec, .iov_len = sizeof(rec)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	memset(&control, 0, sizeof(control));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(uc));
	memcpy(CMSG_DATA(cm), &uc, sizeof(uc));
	cr_assert_eq(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(rec), "%s", strerror(errno));
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -ETOOMANYREFS);

	/* credentials the kernel attaches because the receiver asked for them */
	cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), NULL, 0, 0), 0);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -ETOOMANYREFS);
}

Test(wire, credentials_with_fds_leak_nothing)
{
	unsigned char rec[24] = {7}, got[SVMD_RECORD_MAX];
	int sv[2], out[SVMD_FDS_MAX], in[SVMD_FDS_MAX] = {-1, -1, -1, -1}, one = 1;
	size_t n_in = 99;

	seqpacket_pair(sv);
	cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	for (size_t i = 0; i < SVMD_FDS_MAX; i++)
		out[i] = tagged_fd((int)i);
	int before = count_fds();
	for (size_t n = 1; n <= SVMD_FDS_MAX; n++) {
		cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), out, n, 0), 0);
		cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, 0), -ETOOMANYREFS, "%zu fds", n);
		cr_assert_eq(count_fds(), before, "svmd_recv leaked an fd (%zu sent)", n);
	}
	for (size_t i = 0; i < SVMD_FDS_MAX; i++)
		cr_assert_eq(in[i], -1);
}

Test(wire, send_refuses_bad_arguments)
{
	unsigned char rec[16] = {0};
	int sv[2], fds[SVMD_FDS_MAX + 1] = {0, 0, 0, 0, 0};

	seqpacket_pair(sv);
	cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), fds, SVMD_FDS_MAX + 1, 0), -EINVAL);
	cr_assert_eq(svmd_send(sv[0], rec, SVMD_RECORD_MAX + 1, NULL, 0, 0), -EINVAL);
	int bad = -1;
	cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), &bad, 1, 0), -EBADF);
}

Test(wire, nonblocking_and_broken_pipe)
{
	unsigned char rec[16] = {0}, got[SVMD_RECORD_MAX];
	int sv[2], in[SVMD_FDS_MAX];
	size_t n_in = 0;

	seqpacket_pair(sv);
	cr_assert_eq(svmd_recv(sv[1], got, in, &n_in, MSG_DONTWAIT), -EAGAIN);
	cr_assert_eq(close(sv[1]), 0);
	/* An error, and no SIGPIPE (MSG_NOSIGNAL), should this kernel raise one on SEQPACKET */
	cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
	cr_assert_eq(svmd_send(sv[0], rec, sizeof(rec), NULL, 0, 0), -EPIPE);
}

Test(wire, close_fds)
{
	int fds[3] = {tagged_fd(0), -1, tagged_fd(2)};
	int a = fds[0], c = fds[2];

	svmd_close_fds(fds, 3);
	cr_assert_eq(fds[0], -1);
	cr_assert_eq(fds[1], -1);
	cr_assert_eq(fds[2], -1);
	cr_assert_eq(fcntl(a, F_GETFD), -1);
	cr_assert_eq(fcntl(c, F_GETFD), -1);
}

/* ---- names ------------------------------------------------------------------------------- */

Test(names, set_name)
{
	char f[SVMD_DEVICE_NAME_SZ];

	memset(f, 'z', sizeof(f));
	cr_assert_eq(svmd_set_name(f, sizeof(f), "0123456789abcdef"), -ENAMETOOLONG);
	cr_assert_eq(f[0], 'z', "a refused name must leave the field alone");
	cr_assert_eq(svmd_set_name(f, sizeof(f), "0123456789abcde"), 0);
	cr_assert_eq(memcmp(f, "0123456789abcde", 16), 0);
	cr_assert_eq(svmd_set_name(f, sizeof(f), "ab"), 0);
	cr_assert_eq(memcmp(f, "ab\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16), 0, "not zero padded");
	cr_assert_not(svmd_device_name_valid(f), "not of the form DDDD:BB:DD.F");
	cr_assert_eq(svmd_set_name(f, sizeof(f), "0000:3b:00.0"), 0);
	cr_assert(svmd_device_name_valid(f));
	cr_assert_eq(svmd_set_name(f, sizeof(f), ""), 0);
	cr_assert_eq(memcmp(f, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16), 0);
	cr_assert_not(svmd_device_name_valid(f));
	cr_assert_eq(svmd_set_name(f, 1, ""), 0);
	cr_assert_eq(svmd_set_name(f, 1, "a"), -ENAMETOOLONG);
	cr_assert_eq(svmd_set_name(f, 0, ""), -ENAMETOOLONG);
}

Test(names, kinds)
{
	cr_assert_str_eq(svmd_kind_name(SVMD_KIND_TASK), "task");
	cr_assert_str_eq(svmd_kind_name(SVMD_KIND_PGTABLE), "pgtable");
	cr_assert_str_eq(svmd_kind_name(SVMD_KIND_PASID_TABLE), "pasid-table");
	cr_assert_null(svmd_kind_name(0));
	cr_assert_null(svmd_kind_name(_SVMD_KIND_MAX));
	cr_assert_null(svmd_kind_name(0xffffffffu));
	for (uint32_t k = 1; k < _SVMD_KIND_MAX; k++)
		cr_assert_eq(svmd_kind_from_name(svmd_kind_name(k)), (int)k);
	cr_assert_eq(svmd_kind_from_name(""), -EINVAL);
	cr_assert_eq(svmd_kind_from_name("Task"), -EINVAL);
	cr_assert_eq(svmd_kind_from_name("pasid_table"), -EINVAL);
	cr_assert_eq(svmd_kind_from_name("task "), -EINVAL);
	cr_assert_eq(svmd_kind_from_name("none"), -EINVAL);
}

Test(names, models)
{
	cr_assert_str_eq(svmd_model_name(SVMD_MODEL_NONE), "none");
	cr_assert_str_eq(svmd_model_name(SVMD_MODEL_VTD), "vtd");
	cr_assert_str_eq(svmd_model_name(SVMD_MODEL_SMMU), "smmu");
	cr_assert_null(svmd_model_name(_SVMD_MODEL_MAX));
	cr_assert_null(svmd_model_name(0xffffffffu));
	for (uint32_t m = 0; m < _SVMD_MODEL_MAX; m++)
		cr_assert_eq(svmd_model_from_name(svmd_model_name(m)), (int)m);
	cr_assert_eq(svmd_model_from_name("VTD"), -EINVAL);
	cr_assert_eq(svmd_model_from_name(""), -EINVAL);
	cr_assert_eq(svmd_model_from_name("task"), -EINVAL);
	cr_assert_eq(svmd_model_from_name("smmuv3"), -EINVAL);
}

Test(names, opcodes)
{
	static const char *const want[] = {
		[SVMD_OP_HELLO] = "hello",
		[SVMD_OP_DEVICES] = "devices",
		[SVMD_OP_LIST] = "list",
		[SVMD_OP_BIND_TASK] = "bind-task",
		[SVMD_OP_BIND_PGTABLE] = "bind-pgtable",
		[SVMD_OP_BIND_PASID_TABLE] = "bind-pasid-table",
		[SVMD_OP_UNBIND] = "unbind",
		[SVMD_OP_LEASE] = "lease",
		[SVMD_OP_EXPLAIN] = "explain",
		[SVMD_OP_OPEN_DEVICE] = "open-device",
		[SVMD_OP_RELOAD] = "reload",
		[SVMD_OP_MAP] = "map",
		[SVMD_OP_UNMAP] = "unmap",
		[SVMD_OP_DEVICE_INFO] = "device-info",
		[SVMD_OP_SUBSCRIBE] = "subscribe",
		[SVMD_OP_INVALIDATE] = "invalidate",
		[SVMD_OP_STATUS] = "status",
		[SVMD_OP_POLICY_LIST] = "policy-list",
		[SVMD_OP_METRICS] = "metrics",
	};

	_Static_assert(sizeof(want) / sizeof(want[0]) == _SVMD_OP_MAX, "every opcode named");
	for (uint16_t op = 1; op < _SVMD_OP_MAX; op++) {
		const char *name = want[op] ? want[op] : "unknown"; /* not allocated here */
		cr_assert_str_eq(svmd_opcode_name(op), name);
		cr_assert_str_eq(svmd_opcode_name(op | SVMD_REPLY), name);
	}
	cr_assert_str_eq(svmd_opcode_name(SVMD_EV_BINDING_ENDED), "binding-ended");
	cr_assert_str_eq(svmd_opcode_name(SVMD_EV_RECORD), "record");
	cr_assert_str_eq(svmd_opcode_name(0), "unknown");
	cr_assert_str_eq(svmd_opcode_name(SVMD_REPLY), "unknown");
	cr_assert_str_eq(svmd_opcode_name(_SVMD_OP_MAX), "unknown");
	cr_assert_str_eq(svmd_opcode_name(0x7fff), "unknown");
	cr_assert_str_eq(svmd_opcode_name(0xffff), "unknown");
}

Test(request, pgtable_unknown_vtd_flags)
{
	struct svmd_bind_pgtable_req r = {
		.device = "0000:3b:00.0",
		.pasid = 100,
		.addr_width = 48,
		.gpgd = 0x1000,
		.format = SVMD_PGTABLE_FORMAT_VTD,
		.vtd_flags = SVMD_VTD_FLAGS_ALL,
	};

	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &r, sizeof(r), 0), 0);
	r.vtd_flags = SVMD_VTD_FLAGS_ALL + 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &r, sizeof(r), 0), -EBADMSG);
}

/* The faults bit is known, the next one is not; the reply may carry the queue's fd. */
Test(request, pgtable_faults_flag)
{
	struct svmd_bind_pgtable_req r = {
		.device = "0000:3b:00.0",
		.pasid = 100,
		.addr_width = 48,
		.gpgd = 0x1000,
		.format = SVMD_PGTABLE_FORMAT_VTD,
		.flags = SVMD_PGTABLE_FAULTS,
	};
	const struct svmd_bind_rep ok = {.id = 3};
	const int32_t status = -EOPNOTSUPP;
	unsigned char err[sizeof(status) + 3] = {0};

	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &r, sizeof(r), 0), 0);
	r.flags = SVMD_PGTABLE_FAULTS | SVMD_PGTABLE_GPASID_VALID;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &r, sizeof(r), 0), 0);
	r.flags = 0x4;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &r, sizeof(r), 0), -EBADMSG);
	r.flags = SVMD_PGTABLE_FAULTS;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PGTABLE, &r, sizeof(r), 1), -EBADMSG);
	memcpy(err, &status, sizeof(status));
	memcpy(err + sizeof(status), "no", 3);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PGTABLE, &ok, sizeof(ok), 0), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PGTABLE, &ok, sizeof(ok), 1), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PGTABLE, &ok, sizeof(ok), 2), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PGTABLE, &err, sizeof(err), 1), -EBADMSG);
}

/* The 48-byte form of BIND_PASID_TABLE (SMMUv3 through iommufd): its extension checked, and
 * the 40-byte form still accepted; any other length is malformed. */
Test(request, pasid_table_ext_form)
{
	struct svmd_bind_pasid_table_ext_req r = {
		.base = {.device = "0000:00:02.0", .ptr = 0x800000, .size = 64, .model = 2},
		.vsid = 0x8,
		.s1fmt = SVMD_SMMU_S1FMT_2LVL_64K,
		.s1cdmax = SVMD_SMMU_S1CDMAX_MAX,
	};

	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r), 0), 0);
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r.base), 0), 0);
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r) - 4, 0), -EBADMSG);
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r), 1), -EBADMSG);
	r.s1fmt = SVMD_SMMU_S1FMT_2LVL_64K + 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r), 0), -EBADMSG);
	r.s1fmt = 0;
	r.s1cdmax = SVMD_SMMU_S1CDMAX_MAX + 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r), 0), -EBADMSG);
	r.s1cdmax = 0;
	r.reserved = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r), 0), -EBADMSG);
	r.reserved = 0;
	r.base.reserved = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_BIND_PASID_TABLE, &r, sizeof(r), 0), -EBADMSG);
}

/* Its reply: the binding's vEVENTQ fd, or none (other backends); never two. */
Test(reply, pasid_table_zero_or_one_fd)
{
	const struct svmd_bind_rep ok = {.id = 3};
	const int32_t status = -EOPNOTSUPP;
	unsigned char err[sizeof(status) + 3] = {0};

	memcpy(err, &status, sizeof(status));
	memcpy(err + sizeof(status), "no", 3);

	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PASID_TABLE, &ok, sizeof(ok), 0), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PASID_TABLE, &ok, sizeof(ok), 1), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PASID_TABLE, &ok, sizeof(ok), 2), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PASID_TABLE, &err, sizeof(err), 0), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_BIND_PASID_TABLE, &err, sizeof(err), 1), -EBADMSG);
}

Test(reply, open_device_needs_exactly_one_fd)
{
	const struct svmd_open_device_rep ok = {.id = 3};

	cr_assert_eq(svmd_reply_check(SVMD_OP_OPEN_DEVICE, &ok, sizeof(ok), 1), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_OPEN_DEVICE, &ok, sizeof(ok), 0), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_OPEN_DEVICE, &ok, sizeof(ok), 2), -EBADMSG);
}

/* ---- explain for reload, and the reload op ----------------------------------------------- */

Test(request, explain_layout)
{
	cr_assert_eq(offsetof(struct svmd_explain_req, op), 16);
	cr_assert_eq(offsetof(struct svmd_explain_req, pasid), 20);
	cr_assert_eq(offsetof(struct svmd_explain_req, flags), 24);
	cr_assert_eq(offsetof(struct svmd_explain_req, uid), 28);
	cr_assert_eq(offsetof(struct svmd_explain_req, addr_width), 32);
	cr_assert_eq(offsetof(struct svmd_explain_req, reserved), 36);
	cr_assert_eq(offsetof(struct svmd_explain_req, vtd_flags), 40);
	cr_assert_eq(sizeof(struct svmd_explain_req), 48);
	cr_assert_eq(SVMD_EXPLAIN_RELOAD, 5);
	cr_assert_eq(SVMD_OP_RELOAD, 0x000b);
	cr_assert_eq(SVMD_OP_OPEN_DEVICE, 0x000a);
}

/* Reload names no device: its device field is all zero, and only reload's may be. */
Test(request, explain_reload_device_all_zero)
{
	struct svmd_explain_req ex;

	req_payload(SVMD_OP_EXPLAIN, &ex);
	memset(ex.device, 0, sizeof(ex.device));
	ex.op = SVMD_EXPLAIN_RELOAD;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	/* pasid, uid, width and flags are as free as for other ops */
	ex.flags = 0;
	ex.pasid = 0;
	ex.uid = 0;
	ex.addr_width = 0;
	ex.vtd_flags = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	ex.flags = SVMD_EXPLAIN_UID;
	ex.uid = 1000;
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), 0);
	/* any byte of the device field set */
	for (size_t i = 0; i < SVMD_DEVICE_NAME_SZ; i++) {
		struct svmd_explain_req bad = ex;
		bad.device[i] = '0';
		cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &bad, sizeof(bad), 0), -EBADMSG,
			     "byte %zu", i);
	}
	/* a valid name is no better */
	set_dev(ex.device, DEV_A);
	cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), -EBADMSG);
	/* and the other ops need one */
	memset(ex.device, 0, sizeof(ex.device));
	for (uint32_t op = 1; op < SVMD_EXPLAIN_RELOAD; op++) {
		ex.op = op;
		cr_assert_eq(svmd_request_check(SVMD_OP_EXPLAIN, &ex, sizeof(ex), 0), -EBADMSG,
			     "op %u", op);
	}
}

Test(request, reload_zero_is_the_only_request)
{
	struct svmd_reload_req r = {0};

	cr_assert_eq(sizeof(r), 8);
	cr_assert_eq(svmd_request_check(SVMD_OP_RELOAD, &r, sizeof(r), 0), 0);
	cr_assert_eq(svmd_request_check(SVMD_OP_RELOAD, &r, sizeof(r), 1), -EBADMSG);
	for (unsigned bit = 0; bit < 64; bit++) {
		unsigned char b[8] = {0};
		b[bit / 8] = (unsigned char)(1u << (bit % 8));
		cr_assert_eq(svmd_request_check(SVMD_OP_RELOAD, b, sizeof(b), 0), -EBADMSG,
			     "bit %u", bit);
	}
}

Test(reply, reload_layout_and_text)
{
	unsigned char payload[256];
	struct svmd_reload_rep r = {.generation = 2, .n_rules = 3};
	const size_t fixed = sizeof(r);

	cr_assert_eq(fixed, 32);
	cr_assert_eq(offsetof(struct svmd_reload_rep, n_rules), 4);
	cr_assert_eq(offsetof(struct svmd_reload_rep, generation), 8);
	cr_assert_eq(offsetof(struct svmd_reload_rep, n_files), 16);
	cr_assert_eq(offsetof(struct svmd_reload_rep, n_warnings), 20);
	cr_assert_eq(offsetof(struct svmd_reload_rep, n_denied), 24);
	cr_assert_eq(offsetof(struct svmd_reload_rep, n_revoked), 28);
	memcpy(payload, &r, sizeof(r));
	/* no text at all */
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed, 0), -EBADMSG);
	/* an empty text: nothing to report */
	payload[fixed] = 0;
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed + 1, 0), 0);
	/* text without its NUL */
	memcpy(payload + fixed, "warning", 7);
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed + 7, 0), -EBADMSG);
	/* NUL in the middle */
	memcpy(payload + fixed, "a\0b\0", 4);
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed + 4, 0), -EBADMSG);
	/* terminated */
	memcpy(payload + fixed, "warning", 8);
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed + 8, 0), 0);
	cr_assert_null(svmd_reply_reason(payload, fixed + 8));
	/* no fd rides along */
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed + 8, 1), -EBADMSG);
	/* the fixed part cut short */
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, fixed - 1, 0), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, 4, 0), -EBADMSG);
	/* a refusal carries its reason: the errors with file:line:col */
	const char why[] = "1 error; the policy in force (generation 1) stays:\n"
			   "/etc/svmd/policy.d/60.policy:1:7: error: unknown operation 'frob'";
	int32_t einval = -EINVAL;
	memcpy(payload, &einval, 4);
	memcpy(payload + 4, why, sizeof(why));
	cr_assert_eq(svmd_reply_check(SVMD_OP_RELOAD, payload, 4 + sizeof(why), 0), 0);
	cr_assert_str_eq(svmd_reply_reason(payload, 4 + sizeof(why)), why);
}

/* Event records (revision 2). */

static size_t ended_event(unsigned char *buf, uint64_t id, uint32_t reason, uint32_t by_uid,
			  const char *text)
{
	struct svmd_ev_binding_ended e = {
		.id = id, .reason = reason, .by_uid = by_uid, .generation = 3};
	size_t n = strlen(text) + 1;

	memcpy(buf, &e, sizeof(e));
	memcpy(buf + sizeof(e), text, n);
	return sizeof(e) + n;
}

static size_t record_event(unsigned char *buf, const struct svmd_ev_record *e, const char *text)
{
	size_t n = strlen(text) + 1;

	memcpy(buf, e, sizeof(*e));
	memcpy(buf + sizeof(*e), text, n);
	return sizeof(*e) + n;
}

static struct svmd_ev_record good_record(void)
{
	struct svmd_ev_record e = {.event = SVMD_RECORD_RELEASE,
				   .uid = 1000,
				   .pid = 42,
				   .binding = 7,
				   .generation = 2,
				   .pasid = 150,
				   .end = SVMD_END_REVOKED};
	memcpy(e.op, "bind-pgtable", 12);
	memcpy(e.device, "0000:3b:00.0", 12);
	return e;
}

Test(event, sizes_are_the_wire_sizes)
{
	cr_assert_eq(sizeof(struct svmd_ev_binding_ended), 24);
	cr_assert_eq(sizeof(struct svmd_ev_record), 88);
	cr_assert_eq(sizeof(struct svmd_subscribe_req), 8);
	/* Events are beyond every reply: a reply opcode is never an event's. */
	for (uint16_t op = 1; op < _SVMD_OP_MAX; op++)
		cr_assert_neq((op | SVMD_REPLY) & SVMD_EVENT, SVMD_EVENT);
}

Test(event, golden_binding_ended_bytes)
{
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX], payload[64];
	size_t len = ended_event(payload, 7, SVMD_END_UNBIND, 1000, "unbound by uid 1000");
	static const unsigned char want[] = {
		0x53, 0x56, 0x4d, 0x44, 0x01, 0x00, 0x01, 0xc0, 0x00, 0x00,
		0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, /* header: magic, version 1, 0xc001, seq 0, len
						       44 */
		0x07, 0,    0,    0,    0,    0,    0,    0, /* id 7 */
		0x01, 0,    0,    0,                         /* reason 1: unbind */
		0xe8, 0x03, 0,    0,                         /* by_uid 1000 */
		0x03, 0,    0,    0,    0,    0,    0,    0, /* generation 3 */
		'u',  'n',  'b',  'o',  'u',  'n',  'd',  ' ',  'b',  'y',
		' ',  'u',  'i',  'd',  ' ',  '1',  '0',  '0',  '0',  0};
	int n = svmd_frame(rec, SVMD_EV_BINDING_ENDED, 0, payload, len);

	cr_assert_eq(n, (int)sizeof(want));
	cr_assert_arr_eq(rec, want, sizeof(want));
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, payload, len, 0), 0);
	cr_assert_str_eq(svmd_event_text(SVMD_EV_BINDING_ENDED, payload), "unbound by uid 1000");
}

Test(event, binding_ended_is_checked)
{
	_Alignas(8) unsigned char p[SVMD_PAYLOAD_MAX];
	size_t len;

	for (uint32_t r = 1; r < _SVMD_END_MAX; r++) {
		len = ended_event(p, 1, r, 0, "x");
		cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), 0, "reason %u",
			     r);
		cr_assert_not_null(svmd_end_name(r));
	}
	len = ended_event(p, 1, 0, 0, "x");
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), -EBADMSG);
	len = ended_event(p, 1, _SVMD_END_MAX, 0, "x");
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), -EBADMSG);
	len = ended_event(p, 0, SVMD_END_UNBIND, 0, "x"); /* id 0 names no binding */
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), -EBADMSG);
	len = ended_event(p, 1, SVMD_END_REVOKED, 5, "x"); /* by_uid only for unbind */
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), -EBADMSG);
	len = ended_event(p, 1, SVMD_END_UNBIND, 5, "");
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), 0);
	/* The text: exactly one, terminated at the record's end. */
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len - 1, 0), -EBADMSG);
	len = ended_event(p, 1, SVMD_END_UNBIND, 0, "ab");
	p[len - 2] = 0; /* "a\0\0" */
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), -EBADMSG);
	len = ended_event(p, 1, SVMD_END_UNBIND, 0, "ab");
	p[len - 1] = 'c'; /* unterminated */
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 0), -EBADMSG);
	/* Shorter than the fixed part, a seq, fds. */
	len = ended_event(p, 1, SVMD_END_UNBIND, 0, "x");
	for (size_t n = 0; n < sizeof(struct svmd_ev_binding_ended) + 1; n++)
		cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, n, 0), -EBADMSG);
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 1, p, len, 0), -EBADMSG);
	cr_assert_eq(svmd_event_check(SVMD_EV_BINDING_ENDED, 0, p, len, 1), -EBADMSG);
}

Test(event, record_is_checked)
{
	_Alignas(8) unsigned char p[SVMD_PAYLOAD_MAX];
	struct svmd_ev_record e = good_record();
	size_t len = record_event(p, &e, "revoked by policy generation 2");

	cr_assert_eq(svmd_event_check(SVMD_EV_RECORD, 0, p, len, 0), 0);
	cr_assert_str_eq(svmd_event_text(SVMD_EV_RECORD, p), "revoked by policy generation 2");
	for (uint32_t ev = 1; ev < _SVMD_RECORD_MAX; ev++)
		cr_assert_not_null(svmd_record_event_name(ev));
	cr_assert_null(svmd_record_event_name(0));
	cr_assert_null(svmd_record_event_name(_SVMD_RECORD_MAX));

	/* Each field that is not what the protocol says. */
	static const char *const bad[] = {
		"event 0",      "event beyond",      "release without end",
		"end beyond",   "end on a grant",    "errno beyond",
		"empty op",     "op unterminated",   "op upper case",
		"op padding",   "device not a name", "device padding",
		"pasid beyond",
	};
	for (size_t i = 0; i < N_ELEM(bad); i++) {
		struct svmd_ev_record x = good_record();
		switch (i) {
		case 0:
			x.event = 0;
			break;
		case 1:
			x.event = _SVMD_RECORD_MAX;
			break;
		case 2:
			x.end = 0;
			break;
		case 3:
			x.end = _SVMD_END_MAX;
			break;
		case 4:
			x.event = SVMD_RECORD_GRANT;
			break;
		case 5:
			x.error = 4096;
			break;
		case 6:
			memset(x.op, 0, sizeof(x.op));
			break;
		case 7:
			memset(x.op, 'a', sizeof(x.op));
			break;
		case 8:
			x.op[0] = 'B';
			break;
		case 9:
			x.op[20] = 'x';
			break;
		case 10:
			x.device[0] = 'x';
			break;
		case 11:
			x.device[15] = '1';
			break;
		default:
			x.pasid = SVMD_PASID_MAX + 2;
			break;
		}
		len = record_event(p, &x, "");
		cr_assert_eq(svmd_event_check(SVMD_EV_RECORD, 0, p, len, 0), -EBADMSG, "%s",
			     bad[i]);
	}
	/* No device is all zero; a grant has no end. */
	e = good_record();
	memset(e.device, 0, sizeof(e.device));
	e.event = SVMD_RECORD_RELOAD;
	e.end = 0;
	len = record_event(p, &e, "");
	cr_assert_eq(svmd_event_check(SVMD_EV_RECORD, 0, p, len, 0), 0);
	cr_assert_eq(svmd_event_check(SVMD_EV_RECORD, 0, p, len - 1, 0), -EBADMSG);
}

Test(event, unknown_event_opcodes_are_skipped_and_replies_are_not_events)
{
	_Alignas(8) unsigned char p[64] = {0};

	cr_assert_eq(svmd_event_check(0xc003, 0, p, 8, 0), -EOPNOTSUPP);
	cr_assert_eq(svmd_event_check(0xffff, 0, p, 8, 0), -EOPNOTSUPP);
	cr_assert_eq(svmd_event_check(SVMD_REPLY | SVMD_OP_HELLO, 0, p, 8, 0), -EBADMSG);
	cr_assert_eq(svmd_event_check(SVMD_OP_HELLO, 0, p, 8, 0), -EBADMSG);
	/* An event is not a request either: well framed, it is an unknown one. */
	cr_assert_eq(svmd_request_check(SVMD_EV_BINDING_ENDED, p, 8, 0), -EOPNOTSUPP);
}

Test(request, subscribe)
{
	struct svmd_subscribe_req r = {0};

	cr_assert_eq(svmd_request_check(SVMD_OP_SUBSCRIBE, &r, sizeof(r), 0), 0);
	r.flags = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_SUBSCRIBE, &r, sizeof(r), 0), -EBADMSG);
	r.flags = 0;
	r.reserved = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_SUBSCRIBE, &r, sizeof(r), 0), -EBADMSG);
	r.reserved = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_SUBSCRIBE, &r, sizeof(r) - 1, 0), -EBADMSG);
	cr_assert_eq(svmd_request_check(SVMD_OP_SUBSCRIBE, &r, sizeof(r), 1), -EBADMSG);
}

Test(metrics, request_has_no_flags_and_no_fds)
{
	struct svmd_metrics_req r = {0};

	cr_assert_eq(svmd_request_check(SVMD_OP_METRICS, &r, sizeof(r), 0), 0);
	r.flags = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_METRICS, &r, sizeof(r), 0), -EBADMSG);
	r.flags = 0;
	r.reserved = 1;
	cr_assert_eq(svmd_request_check(SVMD_OP_METRICS, &r, sizeof(r), 0), -EBADMSG);
	r.reserved = 0;
	cr_assert_eq(svmd_request_check(SVMD_OP_METRICS, &r, sizeof(r) + 1, 0), -EBADMSG);
	cr_assert_eq(svmd_request_check(SVMD_OP_METRICS, &r, sizeof(r), 1), -EBADMSG);
}

Test(metrics, reply_block_is_exact_and_checked)
{
	static struct svmd_metrics_rep r, bad;
	unsigned char big[sizeof(r) + 1] = {0};

	r.m.n_devices = 2;
	cr_assert_eq(svmd_set_name(r.m.device[0].name, SVMD_DEVICE_NAME_SZ, "0000:3b:00.0"), 0);
	cr_assert_eq(svmd_set_name(r.m.device[1].name, SVMD_DEVICE_NAME_SZ, "0000:3c:00.0"), 0);
	r.m.latency[2] = 3;
	r.m.latency_count = 3;
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &r, sizeof(r), 0), 0);
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &r, sizeof(r) - 1, 0), -EBADMSG);
	memcpy(big, &r, sizeof(r));
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, big, sizeof(big), 0), -EBADMSG);
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &r, sizeof(r), 1), -EBADMSG);
	/* Too many devices; an unnamed or badly named one; a name past the count. */
	bad = r;
	bad.m.n_devices = SVMD_METRICS_DEVICES + 1;
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	bad.m.n_devices = 3;
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	memcpy(bad.m.device[1].name, "0000:3c:00.0\"x", 14);
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	bad.m.device[5].bindings[0] = 1;
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &bad, sizeof(bad), 0), -EBADMSG);
	/* Buckets holding more than the count; a reserved field set. */
	bad = r;
	bad.m.latency[7] = 1;
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &bad, sizeof(bad), 0), -EBADMSG);
	bad = r;
	bad.m.reserved = 1;
	cr_assert_eq(svmd_reply_check(SVMD_OP_METRICS, &bad, sizeof(bad), 0), -EBADMSG);
}

Test(metrics, classes_and_ops)
{
	cr_assert_str_eq(svmd_metrics_class_name(svmd_metrics_class(0)), "none");
	cr_assert_str_eq(svmd_metrics_class_name(svmd_metrics_class(-EACCES)), "policy");
	cr_assert_str_eq(svmd_metrics_class_name(svmd_metrics_class(-EDQUOT)), "limit");
	cr_assert_str_eq(svmd_metrics_class_name(svmd_metrics_class(-ENODEV)), "invalid");
	cr_assert_str_eq(svmd_metrics_class_name(svmd_metrics_class(EBUSY)), "conflict");
	cr_assert_str_eq(svmd_metrics_class_name(svmd_metrics_class(-EIO)), "kernel");
	cr_assert_null(svmd_metrics_class_name(SVMD_METRICS_CLASSES));
	cr_assert_str_eq(svmd_metrics_op_name(svmd_metrics_op_index("bind-pgtable")),
			 "bind-pgtable");
	cr_assert_str_eq(svmd_metrics_op_name(svmd_metrics_op_index("reload")), "reload");
	cr_assert_str_eq(svmd_metrics_op_name(svmd_metrics_op_index("colour")), "other");
	cr_assert_str_eq(svmd_metrics_op_name(svmd_metrics_op_index(NULL)), "other");
	cr_assert_null(svmd_metrics_op_name(SVMD_METRICS_OPS));
	cr_assert_str_eq(svmd_metrics_end_name(5), "revoked");
	cr_assert_null(svmd_metrics_end_name(SVMD_METRICS_ENDS));
}

Test(metrics, histogram_buckets_each_request_once)
{
	static struct svmd_metrics m;

	svmd_metrics_observe(&m, 0);
	svmd_metrics_observe(&m, 50);
	svmd_metrics_observe(&m, 51);
	svmd_metrics_observe(&m, 1000000);
	svmd_metrics_observe(&m, 1000001);
	cr_assert_eq(m.latency[0], 2);
	cr_assert_eq(m.latency[1], 1);
	cr_assert_eq(m.latency[7], 1);
	cr_assert_eq(m.latency_count, 5);
	cr_assert_eq(m.latency_sum_usec, 2000102);
}

Test(metrics, text_is_openmetrics)
{
	static struct svmd_metrics m;
	static char text[SVMD_METRICS_TEXT_MAX];
	char small[64];

	m.requests[SVMD_METRICS_GRANT][1][0] = 4;
	m.requests[SVMD_METRICS_DENY][1][1] = 2;
	m.requests[SVMD_METRICS_FAIL][1][4] = 1;
	m.releases[1][0] = 3;
	m.latency[0] = 2;
	m.latency[3] = 1;
	m.latency_count = 4;
	m.latency_sum_usec = 1500123;
	m.reloads_ok = 1;
	m.reloads_refused = 2;
	m.dropped[SVMD_METRICS_SOCKET] = 7;
	m.sessions[SVMD_METRICS_BUS] = 1;
	m.n_devices = 1;
	m.device[0].bindings[SVMD_METRICS_UID_OTHER] = 3;
	cr_assert_eq(svmd_set_name(m.device[0].name, SVMD_DEVICE_NAME_SZ, "0000:3b:00.0"), 0);
	int n = svmd_metrics_format(&m, text, sizeof(text));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(text));
	static const char *const want[] = {
		"# TYPE svmd_grants counter\n# HELP svmd_grants ",
		"\nsvmd_grants_total{op=\"bind-task\"} 0\n",
		"\nsvmd_grants_total{op=\"bind-pgtable\"} 4\n",
		"\nsvmd_denials_total{op=\"bind-pgtable\",reason=\"policy\"} 2\n",
		"\nsvmd_failures_total{op=\"bind-pgtable\",reason=\"conflict\"} 1\n",
		"\nsvmd_releases_total{op=\"bind-pgtable\",reason=\"unbind\"} 3\n",
		"\nsvmd_bindings{device=\"0000:3b:00.0\",uid=\"root\"} 0\n",
		"\nsvmd_bindings{device=\"0000:3b:00.0\",uid=\"other\"} 3\n",
		"\nsvmd_sessions{frontend=\"bus\"} 1\nsvmd_sessions{frontend=\"socket\"} 0\n",
		"\n# TYPE svmd_request_duration_seconds histogram\n",
		"\nsvmd_request_duration_seconds_bucket{le=\"0.00005\"} 2\n",
		"\nsvmd_request_duration_seconds_bucket{le=\"0.0005\"} 2\n"
		"svmd_request_duration_seconds_bucket{le=\"0.001\"} 3\n",
		"\nsvmd_request_duration_seconds_bucket{le=\"1.0\"} 3\n"
		"svmd_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		"svmd_request_duration_seconds_sum 1.500123\n"
		"svmd_request_duration_seconds_count 4\n",
		"\nsvmd_reloads_total{result=\"ok\"} 1\nsvmd_reloads_total{result=\"refused\"} 2\n",
		"\nsvmd_dropped_clients_total{frontend=\"socket\"} 7\n# EOF\n",
	};
	for (size_t i = 0; i < N_ELEM(want); i++)
		cr_assert(strstr(text, want[i]), "missing %s in\n%s", want[i], text);
	cr_assert_null(strstr(text, "svmd_grants_total{op=\"map\"}"), "zeros are left out");
	cr_assert(strstr(text, "# EOF\n") == text + n - 6, "# EOF is last");
	/* A buffer too small: nothing half written. */
	cr_assert_eq(svmd_metrics_format(&m, small, sizeof(small)), -ENOBUFS);
	cr_assert_str_empty(small);
	cr_assert_eq(svmd_metrics_format(&m, small, 0), -ENOBUFS);
}
