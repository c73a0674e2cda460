/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the wire codec: arbitrary bytes as one received record, through the
 * header check, the request and reply checks and the reason accessor, asserting their contracts.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svmd-proto.h"

/* Request sizes and fd limits, restated here so the fuzzer checks the codec against the header
 * rather than against itself. */
static const struct {
	size_t size;
	size_t fds_max;
	bool has_device;
	size_t fds_min;
	size_t alt_size; /* a second form's size (BIND_PASID_TABLE's SMMUv3 form), or 0 */
} request_facts[_SVMD_OP_MAX] = {
	[SVMD_OP_HELLO] = {sizeof(struct svmd_hello_req), 0, false},
	[SVMD_OP_DEVICES] = {sizeof(struct svmd_devices_req), 0, false},
	[SVMD_OP_LIST] = {sizeof(struct svmd_list_req), 0, false},
	[SVMD_OP_BIND_TASK] = {sizeof(struct svmd_bind_task_req), 1, true},
	[SVMD_OP_BIND_PGTABLE] = {sizeof(struct svmd_bind_pgtable_req), 0, true},
	[SVMD_OP_BIND_PASID_TABLE] = {sizeof(struct svmd_bind_pasid_table_req), 0, true, 0,
				      sizeof(struct svmd_bind_pasid_table_ext_req)},
	[SVMD_OP_UNBIND] = {sizeof(struct svmd_id_req), 0, false},
	[SVMD_OP_LEASE] = {sizeof(struct svmd_id_req), 0, false},
	[SVMD_OP_EXPLAIN] = {sizeof(struct svmd_explain_req), 0, true}, /* but reload: none */
	[SVMD_OP_OPEN_DEVICE] = {sizeof(struct svmd_open_device_req), 0, true},
	[SVMD_OP_RELOAD] = {sizeof(struct svmd_reload_req), 0, false},
	[SVMD_OP_MAP] = {sizeof(struct svmd_map_req), 1, true, 1},
	[SVMD_OP_UNMAP] = {sizeof(struct svmd_unmap_req), 0, true},
	[SVMD_OP_DEVICE_INFO] = {sizeof(struct svmd_device_info_req), 0, true},
	[SVMD_OP_INVALIDATE] = {sizeof(struct svmd_invalidate_req), 0, false},
	[SVMD_OP_SUBSCRIBE] = {sizeof(struct svmd_subscribe_req), 0, false},
	[SVMD_OP_STATUS] = {sizeof(struct svmd_status_req), 0, false},
	[SVMD_OP_POLICY_LIST] = {sizeof(struct svmd_policy_list_req), 0, false},
	[SVMD_OP_METRICS] = {sizeof(struct svmd_metrics_req), 0, false},
};

/* A range [start, start + length) that is not empty and does not wrap. */
static bool range_ok(uint64_t start, uint64_t length)
{
	return length > 0 && start + length > start;
}

static bool known_op(uint16_t op)
{
	return op != 0 && op < _SVMD_OP_MAX && request_facts[op].size; /* holes: not allocated */
}

/* A server-initiated record: what svmd_event_check() accepts is what PROTOCOL.md says. */
static void check_event(const struct svmd_hdr *h, const uint8_t *payload, size_t n_fds)
{
	int r = svmd_event_check(h->opcode, h->seq, payload, h->len, n_fds);

	assert(r == 0 || r == -EBADMSG || r == -EOPNOTSUPP);
	if (r == -EOPNOTSUPP)
		assert((h->opcode & SVMD_EVENT) == SVMD_EVENT &&
		       h->opcode != SVMD_EV_BINDING_ENDED && h->opcode != SVMD_EV_RECORD);
	if (r != 0)
		return;
	assert(h->seq == 0 && n_fds == 0);
	size_t fixed = h->opcode == SVMD_EV_BINDING_ENDED ? sizeof(struct svmd_ev_binding_ended)
							  : sizeof(struct svmd_ev_record);
	assert(h->len > fixed);
	const char *text = svmd_event_text(h->opcode, payload);
	assert(text == (const char *)payload + fixed);
	assert(strnlen(text, h->len - fixed) == h->len - fixed - 1);
	if (h->opcode == SVMD_EV_BINDING_ENDED) {
		struct svmd_ev_binding_ended e;
		memcpy(&e, payload, sizeof(e));
		assert(e.id != 0 && svmd_end_name(e.reason));
		assert(e.reason == SVMD_END_UNBIND || e.by_uid == 0);
	} else {
		struct svmd_ev_record e;
		memcpy(&e, payload, sizeof(e));
		assert(svmd_record_event_name(e.event) && e.error <= 4095);
		assert(e.event == SVMD_RECORD_RELEASE ? svmd_end_name(e.end) != NULL : e.end == 0);
		size_t n = strnlen(e.op, sizeof(e.op));
		assert(n > 0 && n < sizeof(e.op));
		for (size_t i = 0; i < n; i++)
			assert((e.op[i] >= 'a' && e.op[i] <= 'z') || e.op[i] == '-');
		if (e.device[0])
			assert(svmd_device_name_valid(e.device));
		else
			for (size_t i = 0; i < sizeof(e.device); i++)
				assert(e.device[i] == 0);
	}
}

static void check_name_field(const char *name)
{
	if (!svmd_device_field_valid(name))
		return;
	size_t n = strnlen(name, SVMD_DEVICE_NAME_SZ);
	assert(n < SVMD_DEVICE_NAME_SZ);
	for (size_t i = 0; i < n; i++)
		assert(strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:._-",
			      name[i]) &&
		       name[i]);
	for (size_t i = n; i < SVMD_DEVICE_NAME_SZ; i++)
		assert(name[i] == 0);
}

static void check_request(const struct svmd_hdr *h, const uint8_t *payload, size_t n_fds)
{
	int r = svmd_request_check(h->opcode, payload, h->len, n_fds);

	assert(r == 0 || r == -EBADMSG || r == -EOPNOTSUPP);
	assert((r == -EOPNOTSUPP) == !known_op(h->opcode));
	if (r != 0)
		return;
	assert(h->len == request_facts[h->opcode].size ||
	       (request_facts[h->opcode].alt_size && h->len == request_facts[h->opcode].alt_size));
	assert(n_fds <= request_facts[h->opcode].fds_max);
	assert(n_fds >= request_facts[h->opcode].fds_min);
	if (h->opcode == SVMD_OP_EXPLAIN && payload[16] == SVMD_EXPLAIN_MAP) {
		struct svmd_explain_map_req x;
		memcpy(&x, payload, sizeof(x));
		assert(x.op == SVMD_EXPLAIN_MAP && svmd_device_field_valid(x.device));
		assert(x.reserved0 == 0 && (x.flags & ~(uint32_t)SVMD_EXPLAIN_UID) == 0);
		assert((x.flags & SVMD_EXPLAIN_UID) || x.uid == 0);
		assert(x.length == 0 || range_ok(x.iova, x.length));
	} else if (h->opcode == SVMD_OP_EXPLAIN) {
		struct svmd_explain_req x;
		memcpy(&x, payload, sizeof(x));
		assert((x.op >= SVMD_EXPLAIN_BIND_TASK && x.op <= SVMD_EXPLAIN_RELOAD) ||
		       x.op == SVMD_EXPLAIN_INVALIDATE);
		/* invalidate is decided on a binding's device and PASID only */
		if (x.op == SVMD_EXPLAIN_INVALIDATE)
			assert(x.addr_width == 0 && x.vtd_flags == 0);
		/* reload names no device: all zero; every other op a valid name */
		if (x.op == SVMD_EXPLAIN_RELOAD)
			for (size_t i = 0; i < SVMD_DEVICE_NAME_SZ; i++)
				assert(x.device[i] == 0);
		else
			assert(svmd_device_field_valid(x.device));
		assert(x.addr_width == 0 || x.addr_width == 48 || x.addr_width == 57);
		assert(x.reserved == 0);
		assert((x.vtd_flags & ~(uint64_t)SVMD_VTD_FLAGS_ALL) == 0);
		assert((x.flags & ~(uint32_t)SVMD_EXPLAIN_FLAGS) == 0);
		assert((x.flags & SVMD_EXPLAIN_PASID) || x.pasid == 0);
		assert((x.flags & SVMD_EXPLAIN_UID) || x.uid == 0);
	} else if (request_facts[h->opcode].has_device) {
		assert(svmd_device_field_valid((const char *)payload)); /* device comes first */
	}
	if (h->opcode == SVMD_OP_RELOAD) {
		struct svmd_reload_req rl;
		memcpy(&rl, payload, sizeof(rl));
		assert(rl.flags == 0 && rl.reserved == 0);
	}
	if (h->opcode == SVMD_OP_MAP) {
		struct svmd_map_req m;
		memcpy(&m, payload, sizeof(m));
		assert(m.reserved == 0 && m.flags && !(m.flags & ~(uint32_t)SVMD_MAP_FLAGS));
		assert(range_ok(m.iova, m.length) && range_ok(m.offset, m.length));
	}
	if (h->opcode == SVMD_OP_INVALIDATE) {
		struct svmd_invalidate_req v;
		memcpy(&v, payload, sizeof(v));
		assert(v.type >= SVMD_INVALIDATE_VTD_S1 && v.type < _SVMD_INVALIDATE_TYPE_MAX);
		assert(v.n >= 1 && v.n <= SVMD_INVALIDATE_ENTRIES_MAX);
		for (uint32_t i = v.n; i < SVMD_INVALIDATE_ENTRIES_MAX; i++)
			assert(!v.e[i].w[0] && !v.e[i].w[1] && !v.e[i].w[2]);
	}
	if (h->opcode == SVMD_OP_UNMAP) {
		struct svmd_unmap_req m;
		memcpy(&m, payload, sizeof(m));
		assert(range_ok(m.iova, m.length));
	}
	/* a valid request stays valid when framed again */
	uint8_t copy[SVMD_RECORD_MAX];
	assert(svmd_frame(copy, h->opcode, h->seq, payload, h->len) == (int)(16 + h->len));
	assert(svmd_request_check(h->opcode, copy + 16, h->len, n_fds) == 0);
}

static void check_reply(uint16_t op, const uint8_t *payload, size_t len, size_t n_fds)
{
	int r = svmd_reply_check(op, payload, len, n_fds);
	int32_t status;

	assert(r == 0 || r == -EBADMSG);
	if (r != 0)
		return;
	assert(known_op(op));
	assert(len >= sizeof(status));
	memcpy(&status, payload, sizeof(status));
	assert(status <= 0 && status >= -4095);

	const char *why = svmd_reply_reason(payload, len);
	const char *s = (const char *)payload + sizeof(status);
	if (status < 0) {
		assert(n_fds == 0);
		if (len == sizeof(status)) {
			assert(why == NULL);
		} else {
			/* within the buffer, terminated by the record's last byte */
			assert(why == s);
			assert(strnlen(why, len - sizeof(status)) == len - sizeof(status) - 1);
		}
		return;
	}
	assert(why == NULL);
	if (op == SVMD_OP_BIND_PASID_TABLE || op == SVMD_OP_BIND_PGTABLE)
		/* the SMMUv3 form's vEVENTQ, a page table's fault queue (SVMD_PGTABLE_FAULTS) */
		assert(n_fds <= 1);
	else
		assert(n_fds == (op == SVMD_OP_LEASE || op == SVMD_OP_OPEN_DEVICE ? 1u : 0u));
	uint32_t n;
	switch (op) {
	case SVMD_OP_DEVICES:
		memcpy(&n, payload + offsetof(struct svmd_devices_rep, n), sizeof(n));
		assert(len == sizeof(struct svmd_devices_rep) +
				      (size_t)n * sizeof(struct svmd_device_entry));
		assert(n <= SVMD_DEVICES_PER_PAGE);
		break;
	case SVMD_OP_LIST:
		memcpy(&n, payload + offsetof(struct svmd_list_rep, n), sizeof(n));
		assert(len == sizeof(struct svmd_list_rep) +
				      (size_t)n * sizeof(struct svmd_binding_entry));
		assert(n <= SVMD_BINDINGS_PER_PAGE);
		break;
	case SVMD_OP_EXPLAIN:
	case SVMD_OP_RELOAD:
	case SVMD_OP_DEVICE_INFO:
	case SVMD_OP_STATUS:
	case SVMD_OP_POLICY_LIST: {
		/* a fixed part, then one NUL-terminated text filling the rest */
		size_t fixed = op == SVMD_OP_EXPLAIN       ? sizeof(struct svmd_explain_rep)
			       : op == SVMD_OP_RELOAD      ? sizeof(struct svmd_reload_rep)
			       : op == SVMD_OP_STATUS      ? sizeof(struct svmd_daemon_status_rep)
			       : op == SVMD_OP_POLICY_LIST ? sizeof(struct svmd_policy_list_rep)
							   : sizeof(struct svmd_device_info_rep);
		assert(len > fixed);
		const char *text = (const char *)payload + fixed;
		assert(strnlen(text, len - fixed) == len - fixed - 1);
		break;
	}
	case SVMD_OP_OPEN_DEVICE:
		assert(len == sizeof(struct svmd_open_device_rep));
		break;
	case SVMD_OP_METRICS: {
		/* A block the codec passed always makes whole OpenMetrics text. */
		static struct svmd_metrics_rep rep;
		static char text[SVMD_METRICS_TEXT_MAX];
		assert(len == sizeof(rep));
		memcpy(&rep, payload, sizeof(rep));
		assert(rep.m.n_devices <= SVMD_METRICS_DEVICES);
		int k = svmd_metrics_format(&rep.m, text, sizeof(text));
		assert(k > 0 && strcmp(text + k - 6, "# EOF\n") == 0);
		break;
	}
	case SVMD_OP_MAP:
		assert(len == sizeof(struct svmd_map_rep));
		break;
	case SVMD_OP_UNMAP:
		assert(len == sizeof(struct svmd_unmap_rep));
		break;
	case SVMD_OP_INVALIDATE:
		assert(len == sizeof(struct svmd_invalidate_rep));
		break;
	case SVMD_OP_HELLO:
		assert(len == sizeof(struct svmd_hello_rep));
		break;
	case SVMD_OP_BIND_TASK:
	case SVMD_OP_BIND_PGTABLE:
	case SVMD_OP_BIND_PASID_TABLE:
		assert(len == sizeof(struct svmd_bind_rep));
		break;
	default:
		assert(len == sizeof(struct svmd_status_rep));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svmd_hdr h;
	int r = svmd_parse(data, size, &h);

	assert(r == 0 || r == -EBADMSG || r == -EMSGSIZE);
	assert((r == -EMSGSIZE) == (size > SVMD_RECORD_MAX));
	if (r != 0)
		return 0;
	assert(size >= sizeof(h) && size <= SVMD_RECORD_MAX);
	assert(size == sizeof(h) + h.len);
	assert(h.magic == SVMD_MAGIC && h.version == SVMD_VERSION);
	assert(memcmp(&h, data, sizeof(h)) == 0);

	/* Framing the header's fields again gives back the same bytes. */
	uint8_t again[SVMD_RECORD_MAX];
	assert(svmd_frame(again, h.opcode, h.seq, data + sizeof(h), h.len) == (int)size);
	assert(memcmp(again, data, size) == 0);
	assert(svmd_opcode_name(h.opcode) != NULL);

	/* The fd count comes from one input byte: the low byte of seq, as the seeds expect. */
	size_t n_fds = data[offsetof(struct svmd_hdr, seq)] % 6;

	/* A private copy of exactly h.len bytes, so an over-read is caught by ASan even for an
	 * empty payload. */
	uint8_t *payload = malloc(h.len ? h.len : 1);
	assert(payload);
	memcpy(payload, data + sizeof(h), h.len);

	check_request(&h, payload, n_fds);
	check_reply(h.opcode, payload, h.len, n_fds);
	check_reply((uint16_t)(h.opcode & ~SVMD_REPLY), payload, h.len, n_fds);
	if (h.len >= SVMD_DEVICE_NAME_SZ)
		check_name_field((const char *)payload);
	if (h.opcode & SVMD_REPLY)
		assert(svmd_reply_check(h.opcode, payload, h.len, n_fds) == -EBADMSG);
	/* Events: the seq's low byte chose n_fds; seq 0 is what a good one carries. */
	check_event(&h, payload, n_fds);
	if ((h.opcode & SVMD_EVENT) != SVMD_EVENT)
		assert(svmd_event_check(h.opcode, h.seq, payload, h.len, n_fds) == -EBADMSG);

	free(payload);
	return 0;
}
