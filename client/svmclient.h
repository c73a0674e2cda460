/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsvmclient: ask svmd for Shared Virtual Memory binds, device fds and DMA mappings.
 *
 * One struct svm_client is one connection to svmd, and one session: the bindings it makes end
 * when it is closed (or the process exits), unless leased with svm_lease(). Calls are
 * synchronous and not thread-safe on one client; use one client per thread.
 *
 * Every function returning int returns >= 0 on success and a negative errno on failure. When
 * svmd refused a request, svm_reason() says why in words (for a policy denial it names the
 * rule). Notable errors: -EACCES denied by policy, -EDQUOT over a quota, -EBUSY PASID or table
 * in use, -ENODEV no such device, -EOPNOTSUPP not supported by the device, -EINVAL invalid
 * arguments, -EPERM not allowed to bind that process (or a memfd not open for what the device
 * would do), -ESRCH process gone, -ENOENT no such binding of yours, -EMEDIUMTYPE not a memfd,
 * -EEXIST overlaps a mapping, -ECONNRESET svmd closed the connection, -ETIMEDOUT svmd did not take
 * the request or did not answer it within 30 seconds, -EPROTO svmd's reply made no sense. After
 * -ECONNRESET, -EPROTO, or -ETIMEDOUT waiting for a reply, the connection is done: every later
 * call on it fails with -ENOTCONN; disconnect (which ends its bindings that are not leased) and
 * connect again.
 */
#ifndef SVMCLIENT_H
#define SVMCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SVM_DEFAULT_SOCKET "/run/svmd/svmd.sock"

enum svm_kind {
	SVM_KIND_TASK = 1,        /* a process address space */
	SVM_KIND_PGTABLE = 2,     /* a guest stage-1 page table */
	SVM_KIND_PASID_TABLE = 3, /* a guest PASID table */
	SVM_KIND_DEVICE = 4,      /* a device fd handed out (svm_open_device) */
	SVM_KIND_MAP = 5,         /* client memory mapped for a device (svm_map) */
};
#define SVM_KIND_BIT(k) (1u << (k))

enum svm_model {
	SVM_MODEL_NONE = 0,
	SVM_MODEL_VTD = 1,
	SVM_MODEL_SMMU = 2,
};

struct svm_client;

/*
 * Structs that grow. The structs below that a call reads or fills cross the ABI with their
 * size: those calls are inline functions that add sizeof the caller's struct and call the
 * exported svm_NAME_sized() function (a program in another language calls that one, with the size
 * of the layout it knows). A struct only ever grows at its end. A program built against an older
 * header passes a smaller size: the library reads its struct as if the fields it lacks were
 * zero and fills only what it has. One built against a newer header passes a larger size: the
 * library zeroes what it does not know, and refuses (-E2BIG) a struct to read whose fields
 * beyond what it knows are not zero. A size below the first one's is -EINVAL. No struct ends
 * in padding, where a field could hide without changing its size: the reserved fields that
 * fill it are 0 (the library refuses a struct to read whose reserved bytes are not, -E2BIG).
 * struct svm_invalidate_entry is the exception: its layout is svmd's wire format and stays
 * (a new layout is a new type).
 */

struct svm_device {
	char name[16]; /* "0000:3b:00.0" */
	uint32_t iommu_group;
	uint32_t group_devices; /* devices sharing the IOMMU group */
	uint32_t kinds;         /* SVM_KIND_BIT() of supported kinds */
	uint16_t vendor, device;
	uint8_t pasid_bits;
	uint8_t model;       /* enum svm_model */
	uint8_t reserved[2]; /* 0 */
};

struct svm_binding_info {
	uint64_t id;
	char device[16];
	uint32_t kind; /* enum svm_kind */
	uint32_t pasid;
	uint32_t owner_uid;
	int32_t owner_pid;
	int32_t target_pid; /* task bindings */
	bool leased;
	uint64_t created_usec; /* CLOCK_REALTIME */
};

struct svm_pgtable {
	uint32_t pasid;      /* host PASID */
	uint32_t addr_width; /* 48 or 57 */
	uint64_t gpgd;       /* guest page directory, 4 KiB aligned */
	bool gpasid_valid;
	uint32_t gpasid;
	uint64_t vtd_flags; /* SRE 1<<0, EAFE 1<<1, PCD 1<<2, PWT 1<<3, EMTE 1<<4, CD 1<<5 */
	uint32_t vtd_pat, vtd_emt;
};

struct svm_pasid_table {
	uint64_t ptr;      /* guest-physical address */
	uint64_t size;     /* bytes */
	uint32_t model;    /* enum svm_model */
	uint32_t reserved; /* 0 */
};

/* A guest's SMMUv3 Context Descriptor table, for svm_bind_smmu_cd_table(): at ptr in the DMA
 * space of the device (what the caller mapped with svm_map()), size bytes. */
struct svm_smmu_cd_table {
	uint64_t ptr;        /* 64-byte aligned: the STE's S1ContextPtr */
	uint64_t size;       /* linear: 64 << s1cdmax; 2-level: its L1 table's bytes */
	uint32_t vsid;       /* the guest's virtual StreamID of the device (events carry it) */
	uint8_t s1fmt;       /* 0 linear, 1 2-level with 4 KiB leaves, 2 with 64 KiB leaves */
	uint8_t s1cdmax;     /* log2 of the CDs; 0 on a device without PASIDs (CD 0 only) */
	uint8_t reserved[2]; /* 0 */
};

/* Connects to svmd at path (NULL: $SVMD_SOCKET, else SVM_DEFAULT_SOCKET) and says hello. */
int svm_connect(const char *path, struct svm_client **ret);
/* Connects to svmd's D-Bus face instead: address NULL or "system" for the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS), "session", or a D-Bus address. Every call below then works the
 * same way, with the same errors; the session is the bus connection. */
int svm_connect_bus(const char *address, struct svm_client **ret);
/* Closes the connection, ending its bindings that are not leased. Takes NULL; returns NULL. */
struct svm_client *svm_disconnect(struct svm_client *c);

/*
 * Events, for an event loop (the way libseat does it): set a handler, poll svm_fd() for POLLIN,
 * and call svm_dispatch() when it is readable; the handler runs from inside svm_dispatch()
 * only, never from another call (events that come while a call waits for its reply are kept
 * for the next svm_dispatch(); at most 256, then the oldest are dropped and counted in
 * svm_events_lost()).
 *
 * SVM_EVENT_BINDING_ENDED: one of this connection's bindings was taken away: unbound by another
 * client (by_uid says who), revoked by a reload's policy (generation), its bound process
 * exited, or svmd is shutting down. Not sent for a binding this connection unbound itself, nor
 * for a leased one (its lease says it: svm_lease_read_end()). SVM_EVENT_RECORD: after
 * svm_subscribe(), one per grant, denial, failure, release and reload the caller may see (root:
 * all; others: their own, and reloads).
 *
 * Socket: needs an svmd that speaks protocol version 2 (svm_events_supported()). D-Bus:
 * svm_fd() is the bus connection's fd; binding-ended events come from the binding objects'
 * Released signals, and after svm_subscribe() (the broker's Subscribe()) records from the
 * Record signals svmd addresses to this connection, as the same struct svm_event. When svmd
 * leaves the bus, or ends the subscription because the bus fell behind its records
 * (SubscriptionEnded), a subscribed connection's svm_dispatch() returns -ECONNRESET, with the
 * reason in svm_reason(), once it has handed out the events that came before, as on the
 * socket.
 */
enum svm_event_type {
	SVM_EVENT_BINDING_ENDED = 1,
	SVM_EVENT_RECORD = 2,
};

/* Why a binding ended. */
enum svm_end {
	SVM_END_UNBIND = 1,
	SVM_END_REVOKED = 2,
	SVM_END_PROCESS = 3,  /* the bound process exited */
	SVM_END_LEASE = 4,    /* the last copy of its lease was closed */
	SVM_END_SHUTDOWN = 5, /* svmd is shutting down */
	SVM_END_SESSION = 6,  /* its session ended */
	SVM_END_UNMAP = 7,
	SVM_END_UNDELIVERED = 8,
};

struct svm_event {
	uint32_t type;       /* enum svm_event_type */
	uint64_t binding;    /* the binding (records: 0 when none) */
	uint32_t reason;     /* enum svm_end: a binding's end, or a release record's */
	uint32_t by_uid;     /* SVM_END_UNBIND: who unbound it */
	uint64_t generation; /* of the policy (SVM_END_REVOKED: the one that revoked it) */
	const char *text;    /* the reason in words ("" when none) */
	/* SVM_EVENT_RECORD only: */
	const char *record; /* "grant", "deny", "fail", "release", "reload" */
	const char *op;     /* "bind-task", ..., "unbind", "reload" */
	const char *device; /* NULL: none */
	uint32_t pasid;
	uint32_t uid; /* whom it is about (0 for someone else's reload) */
	int32_t pid;
	int error;     /* 0 or a positive errno */
	uint64_t usec; /* CLOCK_REALTIME */
};

/* Called from svm_dispatch(); ev and its strings are valid during the call only. */
typedef void (*svm_event_fn)(struct svm_client *c, const struct svm_event *ev, void *userdata);

/* Sets (fn NULL: clears) the event handler. Events before a handler was set are dropped. */
void svm_set_event_handler_sized(struct svm_client *c, svm_event_fn fn, void *userdata,
				 size_t ev_size);
static inline void svm_set_event_handler(struct svm_client *c, svm_event_fn fn, void *userdata)
{
	svm_set_event_handler_sized(c, fn, userdata, sizeof(struct svm_event));
}
/* Whether this connection can deliver events: on the socket, svmd agreed on version 2. */
bool svm_events_supported(const struct svm_client *c);
/* The fd to poll(2) for POLLIN. On a socket of protocol version 1 svmd sends nothing unasked:
 * POLLIN or POLLHUP there means it closed the connection (and ended the bindings that were not
 * leased). */
int svm_fd(const struct svm_client *c);
/* Reads what is there (waiting up to timeout_ms for something: 0 not at all, -1 forever) and
 * runs the handler for each event. Returns how many were handled, or a negative errno:
 * -ECONNRESET when svmd closed the connection. */
int svm_dispatch(struct svm_client *c, int timeout_ms);
/* Asks for an SVM_EVENT_RECORD per record the caller may see (svmctl monitor), over the socket
 * or the bus. -EDQUOT when the caller's uid has 4 subscriptions open already (on the bus: 4 of
 * its bus connections). */
int svm_subscribe(struct svm_client *c);
/* Events dropped because svm_dispatch() was not called in time. */
uint64_t svm_events_lost(const struct svm_client *c);
/* "unbind", "revoked", "process-exited", "lease-closed", "shutdown", ... or NULL. */
const char *svm_end_name(uint32_t reason);

/* Why svmd refused the last failed request, or NULL if it did not say. */
const char *svm_reason(const struct svm_client *c);
/* The server's backend ("sim", ...) and version, from the hello. */
const char *svm_backend(const struct svm_client *c);
const char *svm_server_version(const struct svm_client *c);

/* The managed devices, as a malloc()ed array for free(). */
int svm_devices_sized(struct svm_client *c, struct svm_device **ret, size_t size, size_t *ret_n);
static inline int svm_devices(struct svm_client *c, struct svm_device **ret, size_t *ret_n)
{
	return svm_devices_sized(c, ret, sizeof(**ret), ret_n);
}
/* The caller's live bindings (root: everyone's), as a malloc()ed array for free(). */
int svm_list_sized(struct svm_client *c, struct svm_binding_info **ret, size_t size, size_t *ret_n);
static inline int svm_list(struct svm_client *c, struct svm_binding_info **ret, size_t *ret_n)
{
	return svm_list_sized(c, ret, sizeof(**ret), ret_n);
}

/* Binds the process behind pidfd (-1: the calling process) on device. pasid 0 lets the kernel
 * choose. ret_id and ret_pasid may be NULL. */
int svm_bind_task(struct svm_client *c, const char *device, int pidfd, uint32_t pasid,
		  uint64_t *ret_id, uint32_t *ret_pasid);
int svm_bind_pgtable_sized(struct svm_client *c, const char *device, const struct svm_pgtable *pg,
			   size_t size, uint64_t *ret_id);
static inline int svm_bind_pgtable(struct svm_client *c, const char *device,
				   const struct svm_pgtable *pg, uint64_t *ret_id)
{
	return svm_bind_pgtable_sized(c, device, pg, sizeof(*pg), ret_id);
}
/* svm_bind_pgtable() with the table's page-request queue (iommufd backend only; the others
 * refuse it with -EOPNOTSUPP): *ret_fault_fd gets its fd (O_CLOEXEC, the caller's to close),
 * -1 on failure. read() it for whole 40-byte struct iommu_hwpt_pgfault records (0: none
 * pending; poll for POLLIN) and answer each group by writing an 8-byte
 * struct iommu_hwpt_page_response (its last record's cookie, code 0 success or 1 invalid)
 * into the same fd: the device waits until then. svmd relays nothing. Over D-Bus:
 * org.svmd.Broker1.BindPgtableWithFaults. */
int svm_bind_pgtable_faults_sized(struct svm_client *c, const char *device,
				  const struct svm_pgtable *pg, size_t size, uint64_t *ret_id,
				  int *ret_fault_fd);
static inline int svm_bind_pgtable_faults(struct svm_client *c, const char *device,
					  const struct svm_pgtable *pg, uint64_t *ret_id,
					  int *ret_fault_fd)
{
	return svm_bind_pgtable_faults_sized(c, device, pg, sizeof(*pg), ret_id, ret_fault_fd);
}
int svm_bind_pasid_table_sized(struct svm_client *c, const char *device,
			       const struct svm_pasid_table *t, size_t size, uint64_t *ret_id);
static inline int svm_bind_pasid_table(struct svm_client *c, const char *device,
				       const struct svm_pasid_table *t, uint64_t *ret_id)
{
	return svm_bind_pasid_table_sized(c, device, t, sizeof(*t), ret_id);
}
/* Binds a guest's SMMUv3 CD table on device (the iommufd backend: device must be open in this
 * session, svm_open_device(), and the table and the stage-1 tables it points to mapped with
 * svm_map()); the device then DMAs by stage-1 virtual address. *ret_event_fd (may be NULL: it
 * is closed) gets the binding's vEVENTQ fd, or -1 if svmd sent none: read() it for the
 * device's IOMMU events, each an 8-byte header (flags, sequence) and a 32-byte SMMUv3 event
 * record whose StreamID is vsid. Over D-Bus: org.svmd.Broker1.BindSmmuCdTable. */
int svm_bind_smmu_cd_table_sized(struct svm_client *c, const char *device,
				 const struct svm_smmu_cd_table *t, size_t size, uint64_t *ret_id,
				 int *ret_event_fd);
static inline int svm_bind_smmu_cd_table(struct svm_client *c, const char *device,
					 const struct svm_smmu_cd_table *t, uint64_t *ret_id,
					 int *ret_event_fd)
{
	return svm_bind_smmu_cd_table_sized(c, device, t, sizeof(*t), ret_id, ret_event_fd);
}
int svm_unbind(struct svm_client *c, uint64_t id);

/* Opens device's VFIO device for the caller: *ret_fd (O_CLOEXEC) is the device fd, recorded
 * as a binding of kind SVM_KIND_DEVICE (ret_id may be NULL); one holder per device. */
int svm_open_device(struct svm_client *c, const char *device, int *ret_fd, uint64_t *ret_id);

/* Leases binding id: returns an fd (O_CLOEXEC, O_NONBLOCK) that keeps it alive, independent
 * of this connection, until every copy is closed. Whoever holds a copy (another process, given
 * it over SCM_RIGHTS, needs no connection of its own) learns when and why the binding ends:
 * poll(2) the fd for POLLIN (POLLHUP comes with it), then svm_lease_read_end(). Over D-Bus
 * (org.svmd.Broker1.Lease) the fd is the same. */
int svm_lease(struct svm_client *c, uint64_t id, int *ret_fd);
/*
 * Reads, without waiting, why the leased binding ended from a copy of its lease fd: 0 and *ev
 * an SVM_EVENT_BINDING_ENDED (binding, reason: unbound, by_uid; revoked, generation; bound
 * process exited; svmd shutting down; unmapped), ev->text (at most 255 bytes) valid until this
 * thread's next call.
 * -EAGAIN: it has not ended (poll for POLLIN). -ENODATA: it ended and svmd said nothing more
 * (the reason was read already, or svmd could not write it). -EPROTO: not svmd's record.
 * -EOPNOTSUPP: the fd is no lease of this kind (an svmd before it made leases pipes, which
 * tell only POLLERR). svmd reads and ignores anything written into a lease.
 */
int svm_lease_read_end_sized(int lease_fd, struct svm_event *ev, size_t size);
static inline int svm_lease_read_end(int lease_fd, struct svm_event *ev)
{
	return svm_lease_read_end_sized(lease_fd, ev, sizeof(*ev));
}

/* Device access to memory (svm_map): the device may read it, write it, or both. */
#define SVM_MAP_READ  0x1u
#define SVM_MAP_WRITE 0x2u

/*
 * Maps length bytes of memfd (a memfd_create(2) fd; svmd maps nothing else), from offset, at
 * iova of device's DMA space in the caller's own (each device has its own, which only the
 * caller's device fd reaches: svm_open_device()). offset, length and iova are multiples of the
 * page size. Recorded as a binding of kind SVM_KIND_MAP (ret_id may be NULL) that ends with the
 * connection unless leased; svm_unbind() or svm_unmap() ends it. The memfd stays the caller's:
 * the kernel holds the pages mapped, not the fd.
 */
int svm_map(struct svm_client *c, const char *device, int memfd, uint64_t offset, uint64_t length,
	    uint64_t iova, uint32_t flags, uint64_t *ret_id);
/* Ends every mapping of the caller's on device that lies within [iova, iova + length); one
 * that lies only partly within is an error (-EINVAL) and nothing is unmapped. ret_n (mappings
 * ended) and ret_bytes (their length in all) may be NULL. */
int svm_unmap(struct svm_client *c, const char *device, uint64_t iova, uint64_t length,
	      uint32_t *ret_n, uint64_t *ret_bytes);

/*
 * After the caller changed a guest table it bound (binding id, its own, nested in its space:
 * svm_bind_pgtable() on the iommufd backend), flushes what the IOMMU cached of it: n entries
 * (1 to SVM_INVALIDATE_ENTRIES_MAX) of type's layout. *ret_done (may be NULL): the entries
 * the kernel handled. Another's binding is -ENOENT.
 */
#define SVM_INVALIDATE_ENTRIES_MAX 16u
#define SVM_INVALIDATE_VTD_S1      1u   /* w[0] address, w[1] 4 KiB pages, w[2] flags */
#define SVM_INVALIDATE_SMMUV3      2u   /* w[0], w[1]: one SMMUv3 command; w[2] 0 */
#define SVM_INVALIDATE_VTD_LEAF    0x1u /* VT-d: leaf entries only */
/* TEST ONLY, the kernel's mock IOMMU (svmd --test-mock-devices): w[0] flags, w[1] IOTLB id
 * (0 to 3), w[2] 0. */
#define SVM_INVALIDATE_MOCK     3u
#define SVM_INVALIDATE_MOCK_ALL 0x1u /* every IOTLB entry; the id is ignored */
struct svm_invalidate_entry {
	uint64_t w[3];
};
int svm_invalidate(struct svm_client *c, uint64_t id, uint32_t type,
		   const struct svm_invalidate_entry *e, uint32_t n, uint32_t *ret_done);

/* What device can do on this kernel: *ret_kinds (SVM_KIND_BIT()s), and *ret_text
 * (malloc()ed; may be NULL) with one line "KIND: reason" per kind it cannot. */
int svm_device_info(struct svm_client *c, const char *device, uint32_t *ret_kinds, char **ret_text);

struct svm_explain_request {
	const char *op;      /* "bind-task", "bind-pgtable", "bind-pasid-table", "open-device",
				"map", "reload", "invalidate" (pasid: the binding's; no
				addr_width or vtd_flags) */
	const char *device;  /* NULL for reload */
	int64_t pasid;       /* < 0: auto (kernel-chosen) */
	int64_t uid;         /* < 0: the caller; else another user (root only) */
	uint32_t addr_width; /* page-table binds: 0 (not given), 48 or 57 */
	uint64_t vtd_flags;  /* page-table binds */
	uint64_t iova;       /* map: the range asked about, [iova, iova + length); */
	uint64_t length;     /* length 0: iova alone */
};

/* How policy decides a request: *ret_text (malloc()ed) walks the rules one by one, naming
 * the first key of each that does not hold, and the verdict with its rule. */
int svm_explain_sized(struct svm_client *c, const struct svm_explain_request *req, size_t size,
		      char **ret_text, bool *ret_allowed);
static inline int svm_explain(struct svm_client *c, const struct svm_explain_request *req,
			      char **ret_text, bool *ret_allowed)
{
	return svm_explain_sized(c, req, sizeof(*req), ret_text, ret_allowed);
}

struct svm_reload_result {
	uint64_t generation; /* of the policy now in force */
	uint32_t n_rules, n_files, n_warnings;
	uint32_t n_denied;  /* live bindings the new policy does not grant */
	uint32_t n_revoked; /* of those, ended by a rule that says revoke */
	uint32_t reserved;  /* 0 */
};

/* Asks svmd to read its policy again (root, or an `allow reload` rule). On -EINVAL the new
 * policy had errors, svm_reason() lists them (file:line:col) and the old policy stays.
 * *ret_text (malloc()ed, may be NULL) lists warnings and the bindings no longer granted. */
int svm_reload_sized(struct svm_client *c, struct svm_reload_result *ret, size_t size,
		     char **ret_text);
static inline int svm_reload(struct svm_client *c, struct svm_reload_result *ret, char **ret_text)
{
	return svm_reload_sized(c, ret, sizeof(*ret), ret_text);
}

/* What svmd is and holds (svmctl status). Counts are the caller's own; root's: everyone's. */
struct svm_status {
	char version[16];
	char backend[16];
	uint64_t generation;  /* of the policy in force */
	uint64_t uptime_usec; /* since svmd started */
	uint32_t n_devices, n_clients, n_bindings, n_rules, n_files;
	uint32_t reserved; /* 0 */
};

/* Fills *ret; *ret_text (malloc()ed; may be NULL) has the lines "svm: supported" (or the
 * kernel's reason why SVM binds fail) and "file: PATH" per policy file in force. */
int svm_status_sized(struct svm_client *c, struct svm_status *ret, size_t size, char **ret_text);
static inline int svm_status(struct svm_client *c, struct svm_status *ret, char **ret_text)
{
	return svm_status_sized(c, ret, sizeof(*ret), ret_text);
}

/* The rules of the policy generation in force (*ret_generation), as lines "FILE:LINE RULE" in
 * *ret_text (malloc()ed); root, or an `allow policy` rule, else -EACCES. */
int svm_policy_rules(struct svm_client *c, uint64_t *ret_generation, char **ret_text);

/* svmd's counters as OpenMetrics text in *ret_text (malloc()ed, ends with "# EOF"): requests
 * granted, denied and failed by op and reason class, releases by op and why, live bindings by
 * device and uid class, sessions by front-end, a latency histogram, reloads, dropped clients.
 * Root, or an `allow metrics` rule, else -EACCES (svm_reason() says so). */
int svm_metrics(struct svm_client *c, char **ret_text);

/* What an error from this library means, in words ("denied by policy", ...). */
const char *svm_strerror(int err);
const char *svm_kind_name(uint32_t kind);

#ifdef __cplusplus
}
#endif

#endif
