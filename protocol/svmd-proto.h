/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The svmd socket protocol: the wire contract between svmd and its clients.
 * One record per SOCK_SEQPACKET message: a 16-byte header, then a fixed-width payload.
 * This header and svmd-proto.c are compiled into both the daemon and libsvmclient, so the
 * two sides cannot drift. PROTOCOL.md documents every message in prose.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVMD_MAGIC   0x444d5653u /* "SVMD" in memory on little-endian */
#define SVMD_VERSION 1           /* the header's: the framing, the same in every revision */
/* HELLO negotiates the protocol revision: 1, 2 (1 plus event records, SUBSCRIBE), or 3 (2 plus
 * the 48-byte BIND_PASID_TABLE, an SMMUv3 CD table, whose reply may carry its vEVENTQ fd). */
#define SVMD_PROTO_MIN        1
#define SVMD_PROTO_EVENTS     2
#define SVMD_PROTO_SMMU_TABLE 3
#define SVMD_PROTO_MAX        3
#define SVMD_RECORD_MAX       4096u /* header + payload */
#define SVMD_FDS_MAX          4u    /* SCM_RIGHTS per record */
#define SVMD_REPLY            0x8000u
/* Server-initiated records (revision 2): opcodes 0xc000..0xffff, seq 0, never a reply (request
 * opcodes stay below 0x4000, so X | SVMD_REPLY never is one). */
#define SVMD_EVENT          0xc000u
#define SVMD_DEVICE_NAME_SZ 16u /* "DDDD:BB:DD.F" + NUL, zero padded */
#define SVMD_PASID_MAX      0xfffffu

enum svmd_opcode {
	SVMD_OP_HELLO = 0x0001,
	SVMD_OP_DEVICES = 0x0002,
	SVMD_OP_LIST = 0x0003,
	SVMD_OP_BIND_TASK = 0x0004,
	SVMD_OP_BIND_PGTABLE = 0x0005,
	SVMD_OP_BIND_PASID_TABLE = 0x0006,
	SVMD_OP_UNBIND = 0x0007,
	SVMD_OP_LEASE = 0x0008,
	SVMD_OP_EXPLAIN = 0x0009,
	SVMD_OP_OPEN_DEVICE = 0x000a,
	SVMD_OP_RELOAD = 0x000b,
	SVMD_OP_MAP = 0x000c,
	SVMD_OP_UNMAP = 0x000d,
	SVMD_OP_DEVICE_INFO = 0x000e,
	SVMD_OP_INVALIDATE = 0x000f,
	SVMD_OP_STATUS = 0x0010,
	SVMD_OP_POLICY_LIST = 0x0011,
	SVMD_OP_METRICS = 0x0012,
	SVMD_OP_SUBSCRIBE = 0x0013, /* revision 2 */
	_SVMD_OP_MAX,
};

/* Server-initiated records: sent only on a connection whose HELLO agreed on revision 2. */
enum svmd_event_opcode {
	SVMD_EV_BINDING_ENDED = 0xc001, /* to the session holding the binding */
	SVMD_EV_RECORD = 0xc002,        /* to subscribers: a grant, denial, release, reload */
	_SVMD_EV_MAX,
};

/* Why a binding ended, as SVMD_EV_BINDING_ENDED and SVMD_EV_RECORD say it. */
enum svmd_end {
	SVMD_END_UNBIND = 1,      /* unbound (by_uid says by whom) */
	SVMD_END_REVOKED = 2,     /* a reload's policy (generation) revoked it */
	SVMD_END_PROCESS = 3,     /* the bound process exited */
	SVMD_END_LEASE = 4,       /* the last copy of its lease was closed */
	SVMD_END_SHUTDOWN = 5,    /* svmd is shutting down */
	SVMD_END_SESSION = 6,     /* its session ended (never sent to that session) */
	SVMD_END_UNMAP = 7,       /* a map, ended by an unmap of its range */
	SVMD_END_UNDELIVERED = 8, /* the reply granting it could not be sent */
	_SVMD_END_MAX,
};

/* Audit events, as SVMD_EV_RECORD carries them. */
enum svmd_record_event {
	SVMD_RECORD_GRANT = 1,
	SVMD_RECORD_DENY = 2,
	SVMD_RECORD_FAIL = 3,
	SVMD_RECORD_RELEASE = 4,
	SVMD_RECORD_RELOAD = 5,
	_SVMD_RECORD_MAX,
};

/* Binding kinds, as listed and as named in policy. */
enum svmd_kind {
	SVMD_KIND_TASK = 1,        /* bind-task: a process address space at a PASID */
	SVMD_KIND_PGTABLE = 2,     /* bind-pgtable: a guest stage-1 page table at a PASID */
	SVMD_KIND_PASID_TABLE = 3, /* bind-pasid-table: a guest PASID table, one per device */
	SVMD_KIND_DEVICE = 4,      /* open-device: the VFIO device fd, one holder per device */
	SVMD_KIND_MAP = 5,         /* map: client memory (a memfd) at an IOVA of a device */
	_SVMD_KIND_MAX,
};
#define SVMD_KIND_BIT(k) (1u << (k))

enum svmd_model {
	SVMD_MODEL_NONE = 0,
	SVMD_MODEL_VTD = 1, /* Intel VT-d: the seed ABI's model numbers */
	SVMD_MODEL_SMMU = 2,
	_SVMD_MODEL_MAX,
};

/* Explain: what is being asked about (policy ops; a later protocol version may add more). */
enum svmd_verdict {
	SVMD_VERDICT_DENY = 0,
	SVMD_VERDICT_ALLOW = 1,
};

struct svmd_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t opcode;
	uint32_t seq;
	uint32_t len; /* payload bytes; header + len == record size, exactly */
};

/* HELLO: must be the first request on a connection. */
struct svmd_hello_req {
	uint16_t version_min;
	uint16_t version_max;
	uint32_t flags; /* none defined: must be 0 */
};
struct svmd_hello_rep {
	int32_t status;
	uint16_t version;
	uint16_t reserved;
	uint32_t record_max;
	uint32_t fds_max;
	char backend[16];        /* "sim", "vfio", NUL padded */
	char server_version[16]; /* NUL padded */
};

/* DEVICES: one page of the devices svmd manages, from index `start`. */
struct svmd_devices_req {
	uint32_t start;
	uint32_t reserved;
};
struct svmd_device_entry {
	char name[SVMD_DEVICE_NAME_SZ];
	uint32_t iommu_group;
	uint32_t group_devices; /* devices in that IOMMU group */
	uint32_t kinds;         /* SVMD_KIND_BIT() of the bind kinds the device supports */
	uint16_t vendor;
	uint16_t device;
	uint8_t pasid_bits; /* 0: no PASID support */
	uint8_t model;      /* enum svmd_model */
	uint8_t reserved[6];
};
struct svmd_devices_rep {
	int32_t status;
	uint32_t total; /* devices in all */
	uint32_t n;     /* entries in this record */
	uint32_t reserved;
	/* struct svmd_device_entry entries[n]; */
};

/* LIST: bindings with an id above `after_id`, in id order; the caller's own (root: all). */
struct svmd_list_req {
	uint64_t after_id;
	uint32_t flags; /* none defined: must be 0 */
	uint32_t reserved;
};
#define SVMD_LIST_MORE      0x1u /* reply flag: ask again from the last id */
#define SVMD_BINDING_LEASED 0x1u
struct svmd_binding_entry {
	uint64_t id;
	char device[SVMD_DEVICE_NAME_SZ];
	uint32_t kind; /* enum svmd_kind */
	uint32_t pasid;
	uint32_t owner_uid;
	int32_t owner_pid;
	int32_t target_pid;    /* task bindings: the bound process; else 0 */
	uint32_t flags;        /* SVMD_BINDING_* */
	uint64_t created_usec; /* CLOCK_REALTIME */
};
struct svmd_list_rep {
	int32_t status;
	uint32_t n;
	uint32_t flags; /* SVMD_LIST_MORE */
	uint32_t reserved;
	/* struct svmd_binding_entry entries[n]; */
};

/* BIND_TASK: 0 fds binds the caller itself; 1 fd is a pidfd of the process to bind. */
struct svmd_bind_task_req {
	char device[SVMD_DEVICE_NAME_SZ];
	uint32_t pasid; /* 0: let the kernel choose */
	uint32_t flags; /* none defined: must be 0 */
};

/* BIND_PGTABLE: a guest stage-1 page table (iommu_gpasid_bind_data). */
#define SVMD_PGTABLE_GPASID_VALID 0x1u
/* Hand me a fault queue: on success the reply carries one fd, the kernel's page-request queue
 * of the nested table (iommufd's FAULT object); the owner answers each request on it. */
#define SVMD_PGTABLE_FAULTS     0x2u
#define SVMD_PGTABLE_FLAGS_ALL  0x3u
#define SVMD_PGTABLE_FORMAT_VTD 1u
#define SVMD_VTD_FLAGS_ALL      0x3fu /* SRE EAFE PCD PWT EMTE CD */
struct svmd_bind_pgtable_req {
	char device[SVMD_DEVICE_NAME_SZ];
	uint32_t pasid;      /* host PASID, 1..device width */
	uint32_t addr_width; /* 48 or 57 */
	uint64_t flags;      /* SVMD_PGTABLE_GPASID_VALID, SVMD_PGTABLE_FAULTS */
	uint64_t gpgd;       /* guest page-directory base, 4 KiB aligned */
	uint64_t gpasid;     /* guest PASID when GPASID_VALID, else 0 */
	uint32_t format;     /* SVMD_PGTABLE_FORMAT_VTD */
	uint32_t vtd_pat;
	uint64_t vtd_flags; /* within SVMD_VTD_FLAGS_ALL */
	uint32_t vtd_emt;
	uint32_t reserved;
};

/* BIND_PASID_TABLE: a guest PASID table. */
struct svmd_bind_pasid_table_req {
	char device[SVMD_DEVICE_NAME_SZ];
	uint64_t ptr;   /* guest-physical address of the table */
	uint64_t size;  /* bytes */
	uint32_t model; /* enum svmd_model */
	uint32_t reserved;
};
/* Its 48-byte form, for an SMMUv3 through iommufd: the first 40 bytes as above, then what the
 * Stream Table Entry svmd builds needs besides the CD table's address and size. The reply to
 * this form carries one fd on success where the backend has one: the binding's vEVENTQ. */
#define SVMD_SMMU_S1FMT_LINEAR   0u /* one table of 2^s1cdmax CDs */
#define SVMD_SMMU_S1FMT_2LVL_4K  1u /* 2-level, 4 KiB leaf tables (64 CDs each) */
#define SVMD_SMMU_S1FMT_2LVL_64K 2u /* 2-level, 64 KiB leaf tables (1024 CDs each) */
#define SVMD_SMMU_S1CDMAX_MAX    20u
struct svmd_bind_pasid_table_ext_req {
	struct svmd_bind_pasid_table_req base;
	uint32_t vsid;   /* the guest's virtual StreamID of the device */
	uint8_t s1fmt;   /* SVMD_SMMU_S1FMT_* */
	uint8_t s1cdmax; /* log2 of the CDs, 0..20 */
	uint16_t reserved;
};

/* Reply to the three binds. */
struct svmd_bind_rep {
	int32_t status;
	uint32_t pasid; /* the PASID bound; 0 for a PASID table */
	uint64_t id;
};

/* UNBIND and LEASE: a binding id. LEASE's reply carries one fd. */
struct svmd_id_req {
	uint64_t id;
};
struct svmd_status_rep {
	int32_t status;
};

/* EXPLAIN: how policy decides an op for the caller (or, for root, another uid). */
#define SVMD_EXPLAIN_PASID 0x1u /* pasid is set (else: auto) */
#define SVMD_EXPLAIN_UID   0x2u /* uid is set (root only) */
#define SVMD_EXPLAIN_FLAGS (SVMD_EXPLAIN_PASID | SVMD_EXPLAIN_UID)
enum svmd_explain_op {
	SVMD_EXPLAIN_BIND_TASK = 1,
	SVMD_EXPLAIN_BIND_PGTABLE = 2,
	SVMD_EXPLAIN_BIND_PASID_TABLE = 3,
	SVMD_EXPLAIN_OPEN_DEVICE = 4,
	SVMD_EXPLAIN_RELOAD = 5,
	SVMD_EXPLAIN_MAP = 6,        /* iova and length in the fields below */
	SVMD_EXPLAIN_INVALIDATE = 7, /* a binding's device and PASID; addr_width, vtd_flags 0 */
	_SVMD_EXPLAIN_OP_MAX,
};
struct svmd_explain_req {
	char device[SVMD_DEVICE_NAME_SZ]; /* all zero for reload */
	uint32_t op;                      /* enum svmd_explain_op */
	uint32_t pasid;
	uint32_t flags; /* SVMD_EXPLAIN_* */
	uint32_t uid;
	uint32_t addr_width; /* page-table binds: 0, 48 or 57 */
	uint32_t reserved;
	uint64_t vtd_flags; /* page-table binds: within SVMD_VTD_FLAGS_ALL */
};
/* EXPLAIN of a map: the same record, with the IOVA range in place of the bind fields. */
struct svmd_explain_map_req {
	char device[SVMD_DEVICE_NAME_SZ];
	uint32_t op; /* SVMD_EXPLAIN_MAP */
	uint32_t reserved0;
	uint32_t flags; /* SVMD_EXPLAIN_UID only */
	uint32_t uid;
	uint64_t iova;
	uint64_t length; /* 0: the IOVA alone */
};
struct svmd_explain_rep {
	int32_t status;
	uint32_t verdict; /* enum svmd_verdict */
	uint32_t reserved[2];
	/* char text[]: NUL-terminated, one line per rule considered */
};

/* RELOAD: read the policy again; swapped in only if every file compiles. */
struct svmd_reload_req {
	uint32_t flags; /* none defined: must be 0 */
	uint32_t reserved;
};
struct svmd_reload_rep {
	int32_t status;
	uint32_t n_rules;
	uint64_t generation; /* the policy now in force */
	uint32_t n_files;
	uint32_t n_warnings;
	uint32_t n_denied;  /* live bindings the new policy would not grant */
	uint32_t n_revoked; /* of those, ended because the denying rule says revoke */
	/* char text[]: NUL-terminated: the warnings and the bindings concerned */
};

/* OPEN_DEVICE: the device's VFIO fd; the reply carries it. */
struct svmd_open_device_req {
	char device[SVMD_DEVICE_NAME_SZ];
};
struct svmd_open_device_rep {
	int32_t status;
	uint32_t reserved;
	uint64_t id;
};

/* MAP: length bytes of the memfd sent (exactly one fd) from offset, at iova of the device's
 * space in the caller's own; the reply is a binding. UNMAP: every mapping of the caller's on
 * the device within [iova, iova + length). */
#define SVMD_MAP_READ  0x1u /* the device may read */
#define SVMD_MAP_WRITE 0x2u /* the device may write */
#define SVMD_MAP_FLAGS (SVMD_MAP_READ | SVMD_MAP_WRITE)
struct svmd_map_req {
	char device[SVMD_DEVICE_NAME_SZ];
	uint64_t offset; /* in the memfd */
	uint64_t length; /* > 0 */
	uint64_t iova;
	uint32_t flags; /* SVMD_MAP_*: at least one */
	uint32_t reserved;
};
struct svmd_map_rep {
	int32_t status;
	uint32_t reserved;
	uint64_t id;
};
struct svmd_unmap_req {
	char device[SVMD_DEVICE_NAME_SZ];
	uint64_t iova;
	uint64_t length; /* > 0 */
};
struct svmd_unmap_rep {
	int32_t status;
	uint32_t n;     /* mappings ended */
	uint64_t bytes; /* their length in all */
};

/* DEVICE_INFO: what one device can do on this kernel; the text says why not, per kind. */
struct svmd_device_info_req {
	char device[SVMD_DEVICE_NAME_SZ];
};
struct svmd_device_info_rep {
	int32_t status;
	uint32_t kinds; /* SVMD_KIND_BIT() of what works */
	/* char text[]: NUL-terminated; one line "KIND: reason" per kind that does not */
};

/* SUBSCRIBE (revision 2): from now on, send this connection an SVMD_EV_RECORD per audit record
 * the caller may see (root: all; others: their own, and reloads). */
struct svmd_subscribe_req {
	uint32_t flags; /* none defined: must be 0 */
	uint32_t reserved;
};

/* SVMD_EV_BINDING_ENDED: one of the session's bindings is gone. Then a NUL-terminated text:
 * why, in words. */
struct svmd_ev_binding_ended {
	uint64_t id;
	uint32_t reason;     /* enum svmd_end */
	uint32_t by_uid;     /* SVMD_END_UNBIND: who unbound it; else 0 */
	uint64_t generation; /* SVMD_END_REVOKED: the policy that did; else the one in force */
};

/* SVMD_EV_RECORD: one audit record. Then a NUL-terminated text: its reason, or empty. */
#define SVMD_RECORD_OP_SZ 24u
struct svmd_ev_record {
	uint32_t event;                   /* enum svmd_record_event */
	uint32_t uid;                     /* whom it is about: the caller, or a binding's owner */
	int32_t pid;                      /* the same */
	uint32_t error;                   /* 0 or a positive errno */
	uint64_t binding;                 /* 0: none */
	uint64_t generation;              /* of the policy */
	uint64_t usec;                    /* CLOCK_REALTIME */
	char op[SVMD_RECORD_OP_SZ];       /* "bind-task", ..., "reload"; NUL padded */
	char device[SVMD_DEVICE_NAME_SZ]; /* all zero: none */
	uint32_t pasid;
	uint32_t end; /* SVMD_RECORD_RELEASE: enum svmd_end; else 0 */
};

/*
 * INVALIDATE: after the caller changed a guest table it bound (a binding of its own nested in
 * its space: bind-pgtable, or an SMMUv3 bind-pasid-table, on the iommufd backend), what the
 * IOMMU cached of it is flushed: n entries, each three u64 words whose meaning is type's.
 * Entries past n are 0.
 */
#define SVMD_INVALIDATE_ENTRIES_MAX 16u
enum svmd_invalidate_type {
	/* VT-d stage 1: w[0] address (4 KiB aligned), w[1] pages (> 0; address 0 and pages
	 * UINT64_MAX: everything), w[2] flags (SVMD_INVALIDATE_VTD_LEAF). */
	SVMD_INVALIDATE_VTD_S1 = 1,
	/* SMMUv3 vIOMMU commands: w[0], w[1] one 128-bit command, w[2] 0. */
	SVMD_INVALIDATE_SMMUV3 = 2,
	/* TEST ONLY, the kernel's mock IOMMU (svmd --test-mock-devices): w[0] flags
	 * (SVMD_INVALIDATE_MOCK_ALL), w[1] IOTLB id (0..SVMD_INVALIDATE_MOCK_IOTLB_MAX), w[2] 0. */
	SVMD_INVALIDATE_MOCK = 3,
	_SVMD_INVALIDATE_TYPE_MAX,
};
#define SVMD_INVALIDATE_VTD_LEAF       0x1u /* leaf entries only */
#define SVMD_INVALIDATE_MOCK_ALL       0x1u /* every IOTLB entry; the id is ignored */
#define SVMD_INVALIDATE_MOCK_IOTLB_MAX 3u
struct svmd_invalidate_entry {
	uint64_t w[3];
};
struct svmd_invalidate_req {
	uint64_t id;   /* the binding */
	uint32_t type; /* enum svmd_invalidate_type */
	uint32_t n;    /* 1..SVMD_INVALIDATE_ENTRIES_MAX */
	struct svmd_invalidate_entry e[SVMD_INVALIDATE_ENTRIES_MAX];
};
struct svmd_invalidate_rep {
	int32_t status;
	uint32_t done; /* entries the kernel handled (all of them on success) */
};

/* STATUS: what svmd is and holds. Counts are the caller's own (root: everyone's). */
struct svmd_status_req {
	uint32_t flags; /* none defined: must be 0 */
	uint32_t reserved;
};
struct svmd_daemon_status_rep {
	int32_t status;
	uint32_t n_devices;
	uint64_t generation;  /* of the policy in force */
	uint64_t uptime_usec; /* since svmd started (CLOCK_MONOTONIC) */
	uint32_t n_sessions;  /* clients connected (socket and bus) */
	uint32_t n_bindings;
	uint32_t n_rules;
	uint32_t n_files; /* policy files in force */
	char backend[16];
	char server_version[16];
	/* char text[]: NUL-terminated lines: "svm: supported" or "svm: <the kernel's reason>",
	 * then "file: PATH" per policy file in force, in the order read */
};

/* POLICY_LIST: the rules of the generation in force, one line each as "FILE:LINE RULE", from
 * rule `start`; root, or a caller an 'allow policy' rule grants. */
struct svmd_policy_list_req {
	uint32_t start;
	uint32_t reserved;
};
struct svmd_policy_list_rep {
	int32_t status;
	uint32_t total; /* rules in all */
	uint32_t n;     /* lines in the text */
	uint32_t reserved;
	uint64_t generation;
	/* char text[]: NUL-terminated, n lines */
};

/* METRICS: svmd's counters since it started, and what it holds now; root, or a caller an
 * 'allow metrics' rule grants. A fixed block: libsvmclient formats it as OpenMetrics text
 * (svmd_metrics_format()). */
#define SVMD_METRICS_OPS     11 /* svmd_metrics_op_name(): bind-task ... other */
#define SVMD_METRICS_CLASSES 6  /* svmd_metrics_class_name(): none, policy, limit, ... */
#define SVMD_METRICS_ENDS    8  /* svmd_metrics_end_name(): why a binding ended */
#define SVMD_METRICS_BUCKETS 8  /* latency bounds: 50us 100us 500us 1ms 5ms 10ms 100ms 1s */
#define SVMD_METRICS_DEVICES 16 /* devices listed by name; the rest count as "other" */
enum { SVMD_METRICS_GRANT, SVMD_METRICS_DENY, SVMD_METRICS_FAIL, _SVMD_METRICS_OUTCOMES };
enum { SVMD_METRICS_UID_ROOT, SVMD_METRICS_UID_OTHER, _SVMD_METRICS_UIDS };
enum { SVMD_METRICS_BUS, SVMD_METRICS_SOCKET, _SVMD_METRICS_FRONTENDS };
struct svmd_metrics_req {
	uint32_t flags; /* none defined: must be 0 */
	uint32_t reserved;
};
struct svmd_metrics_device {
	char name[SVMD_DEVICE_NAME_SZ];
	uint32_t bindings[_SVMD_METRICS_UIDS]; /* live, by the owner's uid class */
};
struct svmd_metrics {
	uint64_t requests[_SVMD_METRICS_OUTCOMES][SVMD_METRICS_OPS][SVMD_METRICS_CLASSES];
	uint64_t releases[SVMD_METRICS_OPS][SVMD_METRICS_ENDS];
	uint64_t latency[SVMD_METRICS_BUCKETS]; /* requests in (bound i-1, bound i], not summed */
	uint64_t latency_count;                 /* all requests (the +Inf bucket) */
	uint64_t latency_sum_usec;
	uint64_t reloads_ok, reloads_refused;
	uint64_t dropped[_SVMD_METRICS_FRONTENDS];   /* clients svmd dropped: bad records, stalls */
	uint32_t sessions[_SVMD_METRICS_FRONTENDS];  /* live */
	uint32_t other_bindings[_SVMD_METRICS_UIDS]; /* on devices beyond the listed ones */
	uint32_t n_devices;                          /* 0..SVMD_METRICS_DEVICES listed */
	uint32_t reserved;
	struct svmd_metrics_device device[SVMD_METRICS_DEVICES];
};
struct svmd_metrics_rep {
	int32_t status;
	uint32_t reserved;
	struct svmd_metrics m;
};

/* Size checks: these layouts are the wire format. */
_Static_assert(sizeof(struct svmd_hdr) == 16, "header");
_Static_assert(offsetof(struct svmd_hdr, opcode) == 6 && offsetof(struct svmd_hdr, len) == 12,
	       "header offsets");
_Static_assert(sizeof(struct svmd_hello_req) == 8, "hello req");
_Static_assert(sizeof(struct svmd_hello_rep) == 48, "hello rep");
_Static_assert(sizeof(struct svmd_devices_req) == 8, "devices req");
_Static_assert(sizeof(struct svmd_device_entry) == 40, "device entry");
_Static_assert(offsetof(struct svmd_device_entry, pasid_bits) == 32, "device entry offsets");
_Static_assert(sizeof(struct svmd_devices_rep) == 16, "devices rep");
_Static_assert(sizeof(struct svmd_list_req) == 16, "list req");
_Static_assert(sizeof(struct svmd_binding_entry) == 56, "binding entry");
_Static_assert(offsetof(struct svmd_binding_entry, created_usec) == 48, "binding entry offsets");
_Static_assert(sizeof(struct svmd_list_rep) == 16, "list rep");
_Static_assert(sizeof(struct svmd_bind_task_req) == 24, "bind task req");
_Static_assert(sizeof(struct svmd_bind_pgtable_req) == 72, "bind pgtable req");
_Static_assert(offsetof(struct svmd_bind_pgtable_req, gpgd) == 32 &&
		       offsetof(struct svmd_bind_pgtable_req, vtd_flags) == 56,
	       "bind pgtable offsets");
_Static_assert(sizeof(struct svmd_bind_pasid_table_req) == 40, "bind pasid table req");
_Static_assert(sizeof(struct svmd_bind_pasid_table_ext_req) == 48, "bind pasid table ext req");
_Static_assert(offsetof(struct svmd_bind_pasid_table_ext_req, vsid) == 40, "ext vsid");
_Static_assert(offsetof(struct svmd_bind_pasid_table_ext_req, s1fmt) == 44, "ext s1fmt");
_Static_assert(offsetof(struct svmd_bind_pasid_table_ext_req, s1cdmax) == 45, "ext s1cdmax");
_Static_assert(sizeof(struct svmd_bind_rep) == 16, "bind rep");
_Static_assert(sizeof(struct svmd_id_req) == 8, "id req");
_Static_assert(sizeof(struct svmd_explain_req) == 48, "explain req");
_Static_assert(offsetof(struct svmd_explain_req, vtd_flags) == 40, "explain req offsets");
_Static_assert(sizeof(struct svmd_reload_req) == 8, "reload req");
_Static_assert(sizeof(struct svmd_reload_rep) == 32, "reload rep");
_Static_assert(sizeof(struct svmd_explain_rep) == 16, "explain rep");
_Static_assert(sizeof(struct svmd_open_device_req) == 16, "open device req");
_Static_assert(sizeof(struct svmd_open_device_rep) == 16, "open device rep");
_Static_assert(sizeof(struct svmd_explain_map_req) == sizeof(struct svmd_explain_req),
	       "explain map req");
_Static_assert(offsetof(struct svmd_explain_map_req, iova) == 32, "explain map req offsets");
_Static_assert(sizeof(struct svmd_map_req) == 48, "map req");
_Static_assert(offsetof(struct svmd_map_req, iova) == 32 &&
		       offsetof(struct svmd_map_req, flags) == 40,
	       "map req offsets");
_Static_assert(sizeof(struct svmd_map_rep) == 16, "map rep");
_Static_assert(sizeof(struct svmd_unmap_req) == 32, "unmap req");
_Static_assert(sizeof(struct svmd_unmap_rep) == 16, "unmap rep");
_Static_assert(sizeof(struct svmd_device_info_req) == 16, "device info req");
_Static_assert(sizeof(struct svmd_device_info_rep) == 8, "device info rep");
_Static_assert(sizeof(struct svmd_status_req) == 8, "status req");
_Static_assert(sizeof(struct svmd_daemon_status_rep) == 72, "status rep");
_Static_assert(offsetof(struct svmd_daemon_status_rep, backend) == 40, "status rep offsets");
_Static_assert(sizeof(struct svmd_policy_list_req) == 8, "policy list req");
_Static_assert(sizeof(struct svmd_policy_list_rep) == 24, "policy list rep");
_Static_assert(sizeof(struct svmd_metrics_req) == 8, "metrics req");
_Static_assert(sizeof(struct svmd_metrics_device) == 24, "metrics device");
_Static_assert(sizeof(struct svmd_metrics) == 2808, "metrics block");
_Static_assert(sizeof(struct svmd_metrics_rep) == 2816, "metrics rep");
_Static_assert(sizeof(struct svmd_subscribe_req) == 8, "subscribe req");
_Static_assert(sizeof(struct svmd_ev_binding_ended) == 24, "binding ended event");
_Static_assert(sizeof(struct svmd_ev_record) == 88, "record event");
_Static_assert(offsetof(struct svmd_ev_record, op) == 40 &&
		       offsetof(struct svmd_ev_record, device) == 64 &&
		       offsetof(struct svmd_ev_record, end) == 84,
	       "record event offsets");
_Static_assert(sizeof(struct svmd_invalidate_entry) == 24, "invalidate entry");
_Static_assert(sizeof(struct svmd_invalidate_req) == 400, "invalidate req");
_Static_assert(offsetof(struct svmd_invalidate_req, e) == 16, "invalidate req offsets");
_Static_assert(sizeof(struct svmd_invalidate_rep) == 8, "invalidate rep");

#define SVMD_DEVICES_PER_PAGE                                                                      \
	((SVMD_RECORD_MAX - sizeof(struct svmd_hdr) - sizeof(struct svmd_devices_rep)) /           \
	 sizeof(struct svmd_device_entry))
#define SVMD_BINDINGS_PER_PAGE                                                                     \
	((SVMD_RECORD_MAX - sizeof(struct svmd_hdr) - sizeof(struct svmd_list_rep)) /              \
	 sizeof(struct svmd_binding_entry))
#define SVMD_PAYLOAD_MAX (SVMD_RECORD_MAX - sizeof(struct svmd_hdr))

/*
 * Codec. All functions are pure: no allocation, no I/O.
 */

/* Writes header + payload into rec (at least SVMD_RECORD_MAX bytes). Returns the record size,
 * or -EMSGSIZE when the payload does not fit a record. */
int svmd_frame(void *rec, uint16_t opcode, uint32_t seq, const void *payload, size_t len);

/* Checks a received record's header: magic, version, len == size - 16, record size. Returns 0,
 * -EBADMSG (not an svmd record) or -EMSGSIZE; on success *ret_hdr holds the header. */
int svmd_parse(const void *rec, size_t size, struct svmd_hdr *ret_hdr);

/* Checks a request payload: a known request opcode, its exact size, fd count, zero reserved
 * fields, known flags, well-formed device names. Returns 0, -EOPNOTSUPP (unknown opcode) or
 * -EBADMSG (malformed). */
int svmd_request_check(uint16_t opcode, const void *payload, size_t len, size_t n_fds);

/* Checks a reply payload for the request `opcode` (without SVMD_REPLY): status present; on
 * error an optional NUL-terminated reason and no fds; on success the op's exact layout. Returns
 * 0 or -EBADMSG. */
int svmd_reply_check(uint16_t opcode, const void *payload, size_t len, size_t n_fds);

/* Checks a server-initiated record (opcode SVMD_EV_*, seq 0): its fixed part, known reason or
 * event, a valid or all-zero device name, zero padding, then exactly one NUL-terminated text;
 * no fds. Returns 0, -EOPNOTSUPP (an event opcode this revision does not know: skip it) or
 * -EBADMSG. */
int svmd_event_check(uint16_t opcode, uint32_t seq, const void *payload, size_t len, size_t n_fds);
/* The text of a checked event record. */
const char *svmd_event_text(uint16_t opcode, const void *payload);
/* "unbind", "revoked", "process-exited", "lease-closed", "shutdown", "session-ended", "unmap",
 * "undelivered", or NULL. */
const char *svmd_end_name(uint32_t reason);
/* "grant", "deny", "fail", "release", "reload", or NULL. */
const char *svmd_record_event_name(uint32_t event);

/* The reason string of an error reply, or NULL when it carries none. Call after
 * svmd_reply_check(). */
const char *svmd_reply_reason(const void *payload, size_t len);

/* A device name field is "DDDD:BB:DD.F" in lower-case hex, NUL-terminated, zero padded. */
bool svmd_device_name_valid(const char name[SVMD_DEVICE_NAME_SZ]);

/* What a request's device field may hold: up to 15 of [0-9A-Za-z:._-], NUL-terminated and zero
 * padded (empty is none: explain reload's). Whether that names a PCI function is the core's
 * question, answered with an error reply ("not a PCI address"), not by dropping the client. */
bool svmd_device_field_valid(const char field[SVMD_DEVICE_NAME_SZ]);

/* Parses a PCI address, "DDDD:BB:DD.F" or lspci's short "BB:DD.F" (domain 0000), hex in either
 * case, into the canonical "DDDD:BB:DD.F" in lower case. Returns 0 or -EINVAL. */
int svmd_device_name_canonical(const char *s, char ret[SVMD_DEVICE_NAME_SZ]);

/* The reason for a device name that is none (a printf format of the name given). */
#define SVMD_NOT_A_PCI_ADDRESS                                                                     \
	"'%s' is not a PCI address (DDDD:BB:DD.F, or BB:DD.F as lspci prints it; see 'svmctl "     \
	"devices')"

/* Copies a NUL-terminated string into a zero-padded field. Returns -ENAMETOOLONG when it does
 * not fit with its NUL. */
int svmd_set_name(char *field, size_t size, const char *s);

const char *svmd_opcode_name(uint16_t opcode);
/* The metrics block's labels, or NULL out of range. */
const char *svmd_metrics_op_name(unsigned i);
const char *svmd_metrics_class_name(unsigned i);
const char *svmd_metrics_end_name(unsigned i);
/* The latency histogram's upper bound i in µs (UINT64_MAX past the last: +Inf). */
uint64_t svmd_metrics_bound_usec(unsigned i);
/* The index of a recorded op ("bind-task", ...; any other: "other"), and the class of a
 * request's error (0: "none"). */
unsigned svmd_metrics_op_index(const char *op);
unsigned svmd_metrics_class(int error);
/* One request of `usec` into the latency histogram. */
void svmd_metrics_observe(struct svmd_metrics *m, uint64_t usec);
/* The block as OpenMetrics text into buf (NUL-terminated): its length, or -ENOBUFS. */
int svmd_metrics_format(const struct svmd_metrics *m, char *buf, size_t size);
/* Suggested size of that buffer (the text's worst case). */
#define SVMD_METRICS_TEXT_MAX 65536u
const char *svmd_kind_name(uint32_t kind);   /* "task", "pgtable", "pasid-table", "device", "map" */
int svmd_kind_from_name(const char *s);      /* enum svmd_kind or -EINVAL */
const char *svmd_model_name(uint32_t model); /* "vtd", "smmu", "none" or NULL */
int svmd_model_from_name(const char *s);     /* enum svmd_model or -EINVAL */
