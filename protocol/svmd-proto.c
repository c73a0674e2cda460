/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The svmd wire codec: framing, header checks and per-opcode payload validation.
 * Pure functions over byte buffers, linked by the daemon, libsvmclient and the tests, and the
 * main fuzz target. Nothing here trusts a length it did not check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "svmd-proto.h"

/* Per-request facts: exact payload size and how many fds may ride along. */
struct request_desc {
	uint32_t size;
	uint32_t size_ext; /* 0, or a longer form's size (checked zero-extended by check) */
	uint8_t fds_min, fds_max;
	int (*check)(const void *payload);
};

/* Per-reply facts on success: fixed part and, for paged replies, the entry size. */
struct reply_desc {
	uint32_t size;
	uint32_t entry_size; /* 0: no entries; else the count is a uint32_t at entry_count_off */
	uint32_t entry_count_off;
	uint8_t fds;     /* fd count on success */
	uint8_t fds_opt; /* up to this many more may come (BIND_PASID_TABLE: its vEVENTQ) */
	bool text;       /* a NUL-terminated text follows the fixed part */
	bool exact;      /* the fixed part only, its fields checked (METRICS) */
};

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

bool svmd_device_name_valid(const char name[SVMD_DEVICE_NAME_SZ])
{
	static const char form[] = "xxxx:xx:xx.x"; /* DDDD:BB:DD.F, lower-case hex */

	for (size_t i = 0; i < sizeof(form) - 1; i++) {
		char c = name[i];
		if (form[i] == 'x' ? !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
				   : c != form[i])
			return false;
	}
	return all_zero(name + sizeof(form) - 1, SVMD_DEVICE_NAME_SZ - (sizeof(form) - 1));
}

/* The characters a device field may carry: enough for any spelling of a PCI address, and
 * nothing a reason or an audit record would have to escape. */
static bool device_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == ':' || c == '.' || c == '_' || c == '-';
}

bool svmd_device_field_valid(const char field[SVMD_DEVICE_NAME_SZ])
{
	size_t n = strnlen(field, SVMD_DEVICE_NAME_SZ);

	if (n == 0 || n == SVMD_DEVICE_NAME_SZ)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!device_char(field[i]))
			return false;
	return all_zero(field + n, SVMD_DEVICE_NAME_SZ - n);
}

/* Two hex digits of s at i, lower-cased into out. */
static bool hex_at(const char *s, size_t i, size_t n, char *out)
{
	for (size_t k = i; k < i + n; k++) {
		char c = s[k];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[k] = c;
	}
	return true;
}

int svmd_device_name_canonical(const char *s, char ret[SVMD_DEVICE_NAME_SZ])
{
	char out[SVMD_DEVICE_NAME_SZ] = "0000:";
	size_t n = strnlen(s, 13);

	/* lspci's short form BB:DD.F is domain 0000. */
	if (n == 7)
		memcpy(out + 5, s, 8);
	else if (n == 12)
		memcpy(out, s, 13);
	else
		return -EINVAL;
	if (out[4] != ':' || out[7] != ':' || out[10] != '.')
		return -EINVAL;
	if (!hex_at(out, 0, 4, out) || !hex_at(out, 5, 2, out) || !hex_at(out, 8, 2, out) ||
	    !hex_at(out, 11, 1, out))
		return -EINVAL;
	/* Device 0x00-0x1f, function 0-7. */
	if (out[8] > '1' || out[11] > '7')
		return -EINVAL;
	memcpy(ret, out, sizeof(out));
	return 0;
}

int svmd_set_name(char *field, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		return -ENAMETOOLONG;
	memset(field, 0, size);
	memcpy(field, s, n);
	return 0;
}

static int check_hello(const void *payload)
{
	const struct svmd_hello_req *r = payload;

	return r->flags == 0 && r->version_min <= r->version_max ? 0 : -EBADMSG;
}

static int check_devices(const void *payload)
{
	const struct svmd_devices_req *r = payload;

	return r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_list(const void *payload)
{
	const struct svmd_list_req *r = payload;

	return r->flags == 0 && r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_bind_task(const void *payload)
{
	const struct svmd_bind_task_req *r = payload;

	return svmd_device_field_valid(r->device) && r->flags == 0 ? 0 : -EBADMSG;
}

static int check_bind_pgtable(const void *payload)
{
	const struct svmd_bind_pgtable_req *r = payload;

	if (!svmd_device_field_valid(r->device) || r->reserved != 0)
		return -EBADMSG;
	if (r->flags & ~(uint64_t)SVMD_PGTABLE_FLAGS_ALL)
		return -EBADMSG;
	if (!(r->flags & SVMD_PGTABLE_GPASID_VALID) && r->gpasid != 0)
		return -EBADMSG;
	if (r->vtd_flags & ~(uint64_t)SVMD_VTD_FLAGS_ALL)
		return -EBADMSG;
	return 0;
}

/* Both forms: the 40-byte one reaches here zero-extended to the 48-byte one. */
static int check_bind_pasid_table(const void *payload)
{
	const struct svmd_bind_pasid_table_ext_req *r = payload;

	if (!svmd_device_field_valid(r->base.device) || r->base.reserved != 0 || r->reserved != 0)
		return -EBADMSG;
	return r->s1fmt <= SVMD_SMMU_S1FMT_2LVL_64K && r->s1cdmax <= SVMD_SMMU_S1CDMAX_MAX
		       ? 0
		       : -EBADMSG;
}

static int check_device_name(const void *payload)
{
	const struct svmd_open_device_req *r = payload;

	return svmd_device_field_valid(r->device) ? 0 : -EBADMSG;
}

static int check_status(const void *payload)
{
	const struct svmd_status_req *r = payload;

	return r->flags == 0 && r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_policy_list(const void *payload)
{
	const struct svmd_policy_list_req *r = payload;

	return r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_metrics(const void *payload)
{
	const struct svmd_metrics_req *r = payload;

	return r->flags == 0 && r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_reload(const void *payload)
{
	const struct svmd_reload_req *r = payload;

	return r->flags == 0 && r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_id(const void *payload)
{
	(void)payload;
	return 0;
}

/* A range [iova, iova + length) that does not wrap: length > 0 and the end below 2^64. */
static bool range_valid(uint64_t iova, uint64_t length)
{
	return length > 0 && iova + length > iova;
}

static int check_explain_map(const struct svmd_explain_map_req *r)
{
	if (!svmd_device_field_valid(r->device) || r->reserved0 != 0)
		return -EBADMSG;
	if (r->flags & ~SVMD_EXPLAIN_UID || (!(r->flags & SVMD_EXPLAIN_UID) && r->uid != 0))
		return -EBADMSG;
	return r->length == 0 || range_valid(r->iova, r->length) ? 0 : -EBADMSG;
}

static int check_explain(const void *payload)
{
	static const char none[SVMD_DEVICE_NAME_SZ];
	const struct svmd_explain_req *r = payload;

	if (r->op == SVMD_EXPLAIN_MAP)
		return check_explain_map(payload);
	/* Reload is not about a device: its name field is all zero. */
	if (r->op == SVMD_EXPLAIN_RELOAD ? memcmp(r->device, none, sizeof(none)) != 0
					 : !svmd_device_field_valid(r->device))
		return -EBADMSG;
	if (r->reserved != 0 || (r->vtd_flags & ~(uint64_t)SVMD_VTD_FLAGS_ALL))
		return -EBADMSG;
	if (r->addr_width != 0 && r->addr_width != 48 && r->addr_width != 57)
		return -EBADMSG;
	/* Invalidate is decided on a binding's device and PASID: no page-table fields. */
	if (r->op == SVMD_EXPLAIN_INVALIDATE && (r->addr_width != 0 || r->vtd_flags != 0))
		return -EBADMSG;
	if (r->op == 0 || r->op >= _SVMD_EXPLAIN_OP_MAX || (r->flags & ~SVMD_EXPLAIN_FLAGS))
		return -EBADMSG;
	if (!(r->flags & SVMD_EXPLAIN_PASID) && r->pasid != 0)
		return -EBADMSG;
	if (!(r->flags & SVMD_EXPLAIN_UID) && r->uid != 0)
		return -EBADMSG;
	return 0;
}

static int check_map(const void *payload)
{
	const struct svmd_map_req *r = payload;

	if (!svmd_device_field_valid(r->device) || r->reserved != 0)
		return -EBADMSG;
	if ((r->flags & ~SVMD_MAP_FLAGS) || !(r->flags & SVMD_MAP_FLAGS))
		return -EBADMSG;
	return range_valid(r->iova, r->length) && range_valid(r->offset, r->length) ? 0 : -EBADMSG;
}

static int check_unmap(const void *payload)
{
	const struct svmd_unmap_req *r = payload;

	return svmd_device_field_valid(r->device) && range_valid(r->iova, r->length) ? 0 : -EBADMSG;
}

static int check_subscribe(const void *payload)
{
	const struct svmd_subscribe_req *r = payload;

	return r->flags == 0 && r->reserved == 0 ? 0 : -EBADMSG;
}

static int check_invalidate(const void *payload)
{
	const struct svmd_invalidate_req *r = payload;

	if (r->type == 0 || r->type >= _SVMD_INVALIDATE_TYPE_MAX || r->n == 0 ||
	    r->n > SVMD_INVALIDATE_ENTRIES_MAX)
		return -EBADMSG;
	for (uint32_t i = r->n; i < SVMD_INVALIDATE_ENTRIES_MAX; i++)
		if (r->e[i].w[0] || r->e[i].w[1] || r->e[i].w[2])
			return -EBADMSG;
	return 0;
}

static const struct request_desc requests[_SVMD_OP_MAX] = {
	[SVMD_OP_HELLO] = {sizeof(struct svmd_hello_req), 0, 0, 0, check_hello},
	[SVMD_OP_DEVICES] = {sizeof(struct svmd_devices_req), 0, 0, 0, check_devices},
	[SVMD_OP_LIST] = {sizeof(struct svmd_list_req), 0, 0, 0, check_list},
	[SVMD_OP_BIND_TASK] = {sizeof(struct svmd_bind_task_req), 0, 0, 1, check_bind_task},
	[SVMD_OP_BIND_PGTABLE] = {sizeof(struct svmd_bind_pgtable_req), 0, 0, 0,
				  check_bind_pgtable},
	[SVMD_OP_BIND_PASID_TABLE] = {sizeof(struct svmd_bind_pasid_table_req),
				      sizeof(struct svmd_bind_pasid_table_ext_req), 0, 0,
				      check_bind_pasid_table},
	[SVMD_OP_UNBIND] = {sizeof(struct svmd_id_req), 0, 0, 0, check_id},
	[SVMD_OP_LEASE] = {sizeof(struct svmd_id_req), 0, 0, 0, check_id},
	[SVMD_OP_EXPLAIN] = {sizeof(struct svmd_explain_req), 0, 0, 0, check_explain},
	[SVMD_OP_OPEN_DEVICE] = {sizeof(struct svmd_open_device_req), 0, 0, 0, check_device_name},
	[SVMD_OP_RELOAD] = {sizeof(struct svmd_reload_req), 0, 0, 0, check_reload},
	[SVMD_OP_MAP] = {sizeof(struct svmd_map_req), 0, 1, 1, check_map},
	[SVMD_OP_UNMAP] = {sizeof(struct svmd_unmap_req), 0, 0, 0, check_unmap},
	[SVMD_OP_DEVICE_INFO] = {sizeof(struct svmd_device_info_req), 0, 0, 0, check_device_name},
	[SVMD_OP_SUBSCRIBE] = {sizeof(struct svmd_subscribe_req), 0, 0, 0, check_subscribe},
	[SVMD_OP_INVALIDATE] = {sizeof(struct svmd_invalidate_req), 0, 0, 0, check_invalidate},
	[SVMD_OP_STATUS] = {sizeof(struct svmd_status_req), 0, 0, 0, check_status},
	[SVMD_OP_POLICY_LIST] = {sizeof(struct svmd_policy_list_req), 0, 0, 0, check_policy_list},
	[SVMD_OP_METRICS] = {sizeof(struct svmd_metrics_req), 0, 0, 0, check_metrics},
};

static const struct reply_desc replies[_SVMD_OP_MAX] = {
	[SVMD_OP_HELLO] = {.size = sizeof(struct svmd_hello_rep)},
	[SVMD_OP_DEVICES] = {.size = sizeof(struct svmd_devices_rep),
			     .entry_size = sizeof(struct svmd_device_entry),
			     .entry_count_off = offsetof(struct svmd_devices_rep, n)},
	[SVMD_OP_LIST] = {.size = sizeof(struct svmd_list_rep),
			  .entry_size = sizeof(struct svmd_binding_entry),
			  .entry_count_off = offsetof(struct svmd_list_rep, n)},
	[SVMD_OP_BIND_TASK] = {.size = sizeof(struct svmd_bind_rep)},
	/* With SVMD_PGTABLE_FAULTS, the fault queue fd. */
	[SVMD_OP_BIND_PGTABLE] = {.size = sizeof(struct svmd_bind_rep), .fds_opt = 1},
	[SVMD_OP_BIND_PASID_TABLE] = {.size = sizeof(struct svmd_bind_rep), .fds_opt = 1},
	[SVMD_OP_UNBIND] = {.size = sizeof(struct svmd_status_rep)},
	[SVMD_OP_LEASE] = {.size = sizeof(struct svmd_status_rep), .fds = 1},
	[SVMD_OP_EXPLAIN] = {.size = sizeof(struct svmd_explain_rep), .text = true},
	[SVMD_OP_OPEN_DEVICE] = {.size = sizeof(struct svmd_open_device_rep), .fds = 1},
	[SVMD_OP_RELOAD] = {.size = sizeof(struct svmd_reload_rep), .text = true},
	[SVMD_OP_MAP] = {.size = sizeof(struct svmd_map_rep)},
	[SVMD_OP_UNMAP] = {.size = sizeof(struct svmd_unmap_rep)},
	[SVMD_OP_DEVICE_INFO] = {.size = sizeof(struct svmd_device_info_rep), .text = true},
	[SVMD_OP_SUBSCRIBE] = {.size = sizeof(struct svmd_status_rep)},
	[SVMD_OP_INVALIDATE] = {.size = sizeof(struct svmd_invalidate_rep)},
	[SVMD_OP_STATUS] = {.size = sizeof(struct svmd_daemon_status_rep), .text = true},
	[SVMD_OP_POLICY_LIST] = {.size = sizeof(struct svmd_policy_list_rep), .text = true},
	[SVMD_OP_METRICS] = {.size = sizeof(struct svmd_metrics_rep), .exact = true},
};

int svmd_frame(void *rec, uint16_t opcode, uint32_t seq, const void *payload, size_t len)
{
	struct svmd_hdr h = {
		.magic = SVMD_MAGIC,
		.version = SVMD_VERSION,
		.opcode = opcode,
		.seq = seq,
		.len = (uint32_t)len,
	};

	if (len > SVMD_PAYLOAD_MAX)
		return -EMSGSIZE;
	memcpy(rec, &h, sizeof(h));
	if (len)
		memmove((char *)rec + sizeof(h), payload, len);
	return (int)(sizeof(h) + len);
}

int svmd_parse(const void *rec, size_t size, struct svmd_hdr *ret_hdr)
{
	struct svmd_hdr h;

	if (size > SVMD_RECORD_MAX)
		return -EMSGSIZE;
	if (size < sizeof(h))
		return -EBADMSG;
	memcpy(&h, rec, sizeof(h));
	if (h.magic != SVMD_MAGIC || h.version != SVMD_VERSION)
		return -EBADMSG;
	if (h.len != size - sizeof(h))
		return -EBADMSG;
	*ret_hdr = h;
	return 0;
}

int svmd_request_check(uint16_t opcode, const void *payload, size_t len, size_t n_fds)
{
	const struct request_desc *d;

	if (opcode == 0 || opcode >= _SVMD_OP_MAX || !requests[opcode].check)
		return -EOPNOTSUPP;
	d = &requests[opcode];
	if ((len != d->size && (!d->size_ext || len != d->size_ext)) || n_fds < d->fds_min ||
	    n_fds > d->fds_max)
		return -EBADMSG;
	/* Requests are fixed size (or of two sizes) and at most 400 bytes: copy to an aligned
	 * buffer. */
	_Alignas(8) unsigned char copy[400] = {0};
	_Static_assert(sizeof(struct svmd_bind_pgtable_req) <= sizeof(copy), "copy buffer");
	_Static_assert(sizeof(struct svmd_invalidate_req) <= sizeof(copy), "copy buffer");
	if (len > sizeof(copy))
		return -EBADMSG;
	memcpy(copy, payload, len);
	return d->check(copy);
}

/* What a metrics block must be: its device entries named, the rest zero, the histogram's
 * buckets within its count. */
static bool svmd_metrics_valid(const struct svmd_metrics *m)
{
	uint64_t n = 0;

	if (m->n_devices > SVMD_METRICS_DEVICES || m->reserved != 0)
		return false;
	for (size_t i = 0; i < SVMD_METRICS_DEVICES; i++) {
		const struct svmd_metrics_device *d = &m->device[i];
		if (i < m->n_devices ? !svmd_device_name_valid(d->name) : !all_zero(d, sizeof(*d)))
			return false;
	}
	for (size_t i = 0; i < SVMD_METRICS_BUCKETS; i++) {
		if (m->latency[i] > m->latency_count - n)
			return false;
		n += m->latency[i];
	}
	return true;
}

int svmd_reply_check(uint16_t opcode, const void *payload, size_t len, size_t n_fds)
{
	const struct reply_desc *d;
	int32_t status;

	if (opcode == 0 || opcode >= _SVMD_OP_MAX || !replies[opcode].size)
		return -EBADMSG;
	d = &replies[opcode];
	if (len < sizeof(status))
		return -EBADMSG;
	memcpy(&status, payload, sizeof(status));
	if (status > 0 || status < -4095)
		return -EBADMSG;
	if (status < 0) {
		/* An error: nothing, or a NUL-terminated reason, and no fds. */
		if (n_fds != 0)
			return -EBADMSG;
		if (len == sizeof(status))
			return 0;
		const char *s = (const char *)payload + sizeof(status);
		size_t n = len - sizeof(status);
		return memchr(s, 0, n) == s + n - 1 ? 0 : -EBADMSG;
	}
	if (n_fds < d->fds || n_fds > (size_t)d->fds + d->fds_opt || len < d->size)
		return -EBADMSG;
	if (d->exact) {
		struct svmd_metrics_rep rep;

		if (len != d->size)
			return -EBADMSG;
		memcpy(&rep, payload, sizeof(rep));
		return svmd_metrics_valid(&rep.m) ? 0 : -EBADMSG;
	}
	if (d->entry_size) {
		uint32_t count;
		memcpy(&count, (const char *)payload + d->entry_count_off, sizeof(count));
		if ((len - d->size) % d->entry_size || (len - d->size) / d->entry_size != count)
			return -EBADMSG;
		return 0;
	}
	if (d->text) {
		const char *s = (const char *)payload + d->size;
		size_t n = len - d->size;
		return n > 0 && memchr(s, 0, n) == s + n - 1 ? 0 : -EBADMSG;
	}
	return len == d->size ? 0 : -EBADMSG;
}

/* Exactly one NUL-terminated string in [s, s + n): its NUL is the last byte. */
static bool one_text(const char *s, size_t n)
{
	return n > 0 && memchr(s, 0, n) == s + n - 1;
}

static bool name_or_none(const char name[SVMD_DEVICE_NAME_SZ])
{
	return all_zero(name, SVMD_DEVICE_NAME_SZ) || svmd_device_name_valid(name);
}

/* An op field: a non-empty name of lower-case letters and '-', NUL padded. */
static bool op_valid(const char op[SVMD_RECORD_OP_SZ])
{
	size_t n = strnlen(op, SVMD_RECORD_OP_SZ);

	if (n == 0 || n == SVMD_RECORD_OP_SZ || !all_zero(op + n, SVMD_RECORD_OP_SZ - n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((op[i] >= 'a' && op[i] <= 'z') || op[i] == '-'))
			return false;
	return true;
}

static int check_binding_ended(const void *payload, size_t len)
{
	struct svmd_ev_binding_ended e;

	if (len < sizeof(e) + 1)
		return -EBADMSG;
	memcpy(&e, payload, sizeof(e));
	if (e.id == 0 || e.reason == 0 || e.reason >= _SVMD_END_MAX)
		return -EBADMSG;
	if (e.reason != SVMD_END_UNBIND && e.by_uid != 0)
		return -EBADMSG;
	return one_text((const char *)payload + sizeof(e), len - sizeof(e)) ? 0 : -EBADMSG;
}

static int check_record(const void *payload, size_t len)
{
	struct svmd_ev_record e;

	if (len < sizeof(e) + 1)
		return -EBADMSG;
	memcpy(&e, payload, sizeof(e));
	if (e.event == 0 || e.event >= _SVMD_RECORD_MAX || e.error > 4095)
		return -EBADMSG;
	if (e.event == SVMD_RECORD_RELEASE ? e.end == 0 || e.end >= _SVMD_END_MAX : e.end != 0)
		return -EBADMSG;
	if (!op_valid(e.op) || !name_or_none(e.device) || e.pasid > SVMD_PASID_MAX + 1)
		return -EBADMSG;
	return one_text((const char *)payload + sizeof(e), len - sizeof(e)) ? 0 : -EBADMSG;
}

int svmd_event_check(uint16_t opcode, uint32_t seq, const void *payload, size_t len, size_t n_fds)
{
	if ((opcode & SVMD_EVENT) != SVMD_EVENT || seq != 0 || n_fds != 0)
		return -EBADMSG;
	switch (opcode) {
	case SVMD_EV_BINDING_ENDED:
		return check_binding_ended(payload, len);
	case SVMD_EV_RECORD:
		return check_record(payload, len);
	default:
		return -EOPNOTSUPP;
	}
}

const char *svmd_event_text(uint16_t opcode, const void *payload)
{
	size_t fixed = opcode == SVMD_EV_BINDING_ENDED ? sizeof(struct svmd_ev_binding_ended)
						       : sizeof(struct svmd_ev_record);

	return (const char *)payload + fixed;
}

static const char *const end_names[_SVMD_END_MAX] = {
	[SVMD_END_UNBIND] = "unbind",
	[SVMD_END_REVOKED] = "revoked",
	[SVMD_END_PROCESS] = "process-exited",
	[SVMD_END_LEASE] = "lease-closed",
	[SVMD_END_SHUTDOWN] = "shutdown",
	[SVMD_END_SESSION] = "session-ended",
	[SVMD_END_UNMAP] = "unmap",
	[SVMD_END_UNDELIVERED] = "undelivered",
};

const char *svmd_end_name(uint32_t reason)
{
	return reason < _SVMD_END_MAX ? end_names[reason] : NULL;
}

static const char *const record_event_names[_SVMD_RECORD_MAX] = {
	[SVMD_RECORD_GRANT] = "grant",   [SVMD_RECORD_DENY] = "deny",
	[SVMD_RECORD_FAIL] = "fail",     [SVMD_RECORD_RELEASE] = "release",
	[SVMD_RECORD_RELOAD] = "reload",
};

const char *svmd_record_event_name(uint32_t event)
{
	return event < _SVMD_RECORD_MAX ? record_event_names[event] : NULL;
}

const char *svmd_reply_reason(const void *payload, size_t len)
{
	int32_t status;

	if (len <= sizeof(status))
		return NULL;
	memcpy(&status, payload, sizeof(status));
	if (status >= 0)
		return NULL;
	return (const char *)payload + sizeof(status);
}

static const char *const opcode_names[_SVMD_OP_MAX] = {
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

const char *svmd_opcode_name(uint16_t opcode)
{
	if (opcode == SVMD_EV_BINDING_ENDED)
		return "binding-ended";
	if (opcode == SVMD_EV_RECORD)
		return "record";
	opcode &= (uint16_t)~SVMD_REPLY;
	return opcode < _SVMD_OP_MAX && opcode_names[opcode] ? opcode_names[opcode] : "unknown";
}

static const char *const kind_names[_SVMD_KIND_MAX] = {
	[SVMD_KIND_TASK] = "task",
	[SVMD_KIND_PGTABLE] = "pgtable",
	[SVMD_KIND_PASID_TABLE] = "pasid-table",
	[SVMD_KIND_DEVICE] = "device",
	[SVMD_KIND_MAP] = "map",
};

const char *svmd_kind_name(uint32_t kind)
{
	return kind < _SVMD_KIND_MAX ? kind_names[kind] : NULL;
}

int svmd_kind_from_name(const char *s)
{
	for (int k = 1; k < _SVMD_KIND_MAX; k++)
		if (strcmp(s, kind_names[k]) == 0)
			return k;
	return -EINVAL;
}

static const char *const model_names[_SVMD_MODEL_MAX] = {
	[SVMD_MODEL_NONE] = "none",
	[SVMD_MODEL_VTD] = "vtd",
	[SVMD_MODEL_SMMU] = "smmu",
};

const char *svmd_model_name(uint32_t model)
{
	return model < _SVMD_MODEL_MAX ? model_names[model] : NULL;
}

int svmd_model_from_name(const char *s)
{
	for (int m = 0; m < _SVMD_MODEL_MAX; m++)
		if (strcmp(s, model_names[m]) == 0)
			return m;
	return -EINVAL;
}

/* The metrics block's labels. */
static const char *const metrics_ops[SVMD_METRICS_OPS] = {
	"bind-task", "bind-pgtable", "bind-pasid-table", "open-device", "map",   "unmap",
	"unbind",    "lease",        "reload",           "invalidate",  "other",
};
static const char *const metrics_classes[SVMD_METRICS_CLASSES] = {
	"none", "policy", "limit", "invalid", "conflict", "kernel",
};
/* In the daemon's order of why a binding ends. */
static const char *const metrics_ends[SVMD_METRICS_ENDS] = {
	"unbind",   "session-ended", "lease-closed", "process-exited",
	"shutdown", "revoked",       "undelivered",  "unmap",
};
static const uint64_t metrics_bounds_usec[SVMD_METRICS_BUCKETS] = {
	50, 100, 500, 1000, 5000, 10000, 100000, 1000000,
};
static const char *const metrics_bounds[SVMD_METRICS_BUCKETS] = {
	"0.00005", "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.1", "1.0",
};

const char *svmd_metrics_op_name(unsigned i)
{
	return i < SVMD_METRICS_OPS ? metrics_ops[i] : NULL;
}

const char *svmd_metrics_class_name(unsigned i)
{
	return i < SVMD_METRICS_CLASSES ? metrics_classes[i] : NULL;
}

uint64_t svmd_metrics_bound_usec(unsigned i)
{
	return i < SVMD_METRICS_BUCKETS ? metrics_bounds_usec[i] : UINT64_MAX;
}

const char *svmd_metrics_end_name(unsigned i)
{
	return i < SVMD_METRICS_ENDS ? metrics_ends[i] : NULL;
}

unsigned svmd_metrics_op_index(const char *op)
{
	for (unsigned i = 0; op && i < SVMD_METRICS_OPS - 1; i++)
		if (strcmp(op, metrics_ops[i]) == 0)
			return i;
	return SVMD_METRICS_OPS - 1;
}

unsigned svmd_metrics_class(int error)
{
	switch (error < 0 ? -error : error) {
	case 0:
		return 0;
	case EACCES:
	case EPERM:
		return 1;
	case EDQUOT:
	case EUSERS:
	case EMFILE:
	case ENFILE:
	case ENOSPC:
	case EAGAIN:
	case ENOMEM:
		return 2;
	case EINVAL:
	case ENODEV:
	case ENOENT:
	case ESRCH:
	case EOPNOTSUPP:
	case ERANGE:
		return 3;
	case EBUSY:
	case EEXIST:
		return 4;
	default:
		return 5;
	}
}

void svmd_metrics_observe(struct svmd_metrics *m, uint64_t usec)
{
	for (size_t i = 0; i < SVMD_METRICS_BUCKETS; i++)
		if (usec <= metrics_bounds_usec[i]) {
			m->latency[i]++;
			break;
		}
	m->latency_count++;
	m->latency_sum_usec += usec;
}

struct text {
	char *buf;
	size_t size, o;
	bool full;
};

static void _printf_(2, 3) put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (t->full)
		return;
	va_start(ap, fmt);
	k = vsnprintf(t->buf + t->o, t->size - t->o, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= t->size - t->o)
		t->full = true;
	else
		t->o += (size_t)k;
}

/* A label value, quoted and escaped as OpenMetrics wants it. */
static void put_label(struct text *t, const char *name, const char *value, bool last)
{
	put(t, "%s=\"", name);
	for (const char *c = value; *c; c++) {
		if (*c == '\\' || *c == '"')
			put(t, "\\%c", *c);
		else if (*c == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *c);
	}
	put(t, last ? "\"}" : "\",");
}

static void put_family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

int svmd_metrics_format(const struct svmd_metrics *m, char *buf, size_t size)
{
	static const char *const outcomes[_SVMD_METRICS_OUTCOMES][2] = {
		{"svmd_grants", "Requests granted, by op."},
		{"svmd_denials", "Requests denied by policy or a limit, by op and reason class."},
		{"svmd_failures", "Requests allowed that failed, by op and reason class."},
	};
	static const char *const uids[_SVMD_METRICS_UIDS] = {"root", "other"};
	static const char *const frontends[_SVMD_METRICS_FRONTENDS] = {"bus", "socket"};
	struct text t = {buf, size, 0, size == 0};
	uint64_t cum = 0;

	for (unsigned e = 0; e < _SVMD_METRICS_OUTCOMES; e++) {
		put_family(&t, outcomes[e][0], "counter", outcomes[e][1]);
		for (unsigned o = 0; o < SVMD_METRICS_OPS; o++)
			for (unsigned k = 0; k < SVMD_METRICS_CLASSES; k++) {
				/* Grants have no reason: one series per op. */
				if (e == SVMD_METRICS_GRANT ? k != 0 : k == 0)
					continue;
				uint64_t n = m->requests[e][o][k];
				if (e == SVMD_METRICS_GRANT)
					for (unsigned j = 1; j < SVMD_METRICS_CLASSES; j++)
						n += m->requests[e][o][j];
				if (n == 0 && (o != 0 || k > 1))
					continue; /* the zeros but one, for the family's shape */
				put(&t, "%s_total{", outcomes[e][0]);
				put_label(&t, "op", metrics_ops[o], e == SVMD_METRICS_GRANT);
				if (e != SVMD_METRICS_GRANT)
					put_label(&t, "reason", metrics_classes[k], true);
				put(&t, " %" PRIu64 "\n", n);
			}
	}
	put_family(&t, "svmd_releases", "counter", "Bindings ended, by op and why.");
	for (unsigned o = 0; o < SVMD_METRICS_OPS; o++)
		for (unsigned k = 0; k < SVMD_METRICS_ENDS; k++) {
			if (m->releases[o][k] == 0 && (o != 0 || k != 0))
				continue;
			put(&t, "svmd_releases_total{");
			put_label(&t, "op", metrics_ops[o], false);
			put_label(&t, "reason", metrics_ends[k], true);
			put(&t, " %" PRIu64 "\n", m->releases[o][k]);
		}
	put_family(&t, "svmd_bindings", "gauge",
		   "Live bindings, by device and owner (root or other).");
	for (unsigned d = 0; d <= m->n_devices && d <= SVMD_METRICS_DEVICES; d++)
		for (unsigned u = 0; u < _SVMD_METRICS_UIDS; u++) {
			const char *name = d < m->n_devices ? m->device[d].name : "other";
			uint32_t n =
				d < m->n_devices ? m->device[d].bindings[u] : m->other_bindings[u];
			if (d == m->n_devices && m->n_devices && !m->other_bindings[0] &&
			    !m->other_bindings[1])
				break;
			put(&t, "svmd_bindings{");
			put_label(&t, "device", name, false);
			put_label(&t, "uid", uids[u], true);
			put(&t, " %" PRIu32 "\n", n);
		}
	put_family(&t, "svmd_sessions", "gauge", "Live sessions, by front-end.");
	for (unsigned f = 0; f < _SVMD_METRICS_FRONTENDS; f++) {
		put(&t, "svmd_sessions{");
		put_label(&t, "frontend", frontends[f], true);
		put(&t, " %" PRIu32 "\n", m->sessions[f]);
	}
	put_family(&t, "svmd_request_duration_seconds", "histogram",
		   "Time from a request's start to its outcome.");
	for (unsigned b = 0; b < SVMD_METRICS_BUCKETS; b++) {
		cum += m->latency[b];
		put(&t, "svmd_request_duration_seconds_bucket{");
		put_label(&t, "le", metrics_bounds[b], true);
		put(&t, " %" PRIu64 "\n", cum);
	}
	put(&t, "svmd_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
	    m->latency_count);
	put(&t, "svmd_request_duration_seconds_sum %" PRIu64 ".%06" PRIu64 "\n",
	    m->latency_sum_usec / 1000000, m->latency_sum_usec % 1000000);
	put(&t, "svmd_request_duration_seconds_count %" PRIu64 "\n", m->latency_count);
	put_family(&t, "svmd_reloads", "counter", "Policy reloads, swapped in or refused.");
	put(&t, "svmd_reloads_total{result=\"ok\"} %" PRIu64 "\n", m->reloads_ok);
	put(&t, "svmd_reloads_total{result=\"refused\"} %" PRIu64 "\n", m->reloads_refused);
	put_family(&t, "svmd_dropped_clients", "counter",
		   "Clients svmd dropped (a malformed record, a reply or events left unread).");
	for (unsigned f = 0; f < _SVMD_METRICS_FRONTENDS; f++) {
		put(&t, "svmd_dropped_clients_total{");
		put_label(&t, "frontend", frontends[f], true);
		put(&t, " %" PRIu64 "\n", m->dropped[f]);
	}
	put(&t, "# EOF\n");
	if (t.full) {
		if (size)
			buf[0] = 0;
		return -ENOBUFS;
	}
	return (int)t.o;
}
