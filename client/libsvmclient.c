/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsvmclient's public calls. A client is made by svm_connect() (svmd's socket,
 * libsvmclient-socket.c) or svm_connect_bus() (D-Bus, libsvmclient-bus.c); every call goes to
 * the transport it was made with, through its table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "svmclient-internal.h"

_Static_assert((int)SVM_KIND_TASK == (int)SVMD_KIND_TASK &&
		       (int)SVM_KIND_PGTABLE == (int)SVMD_KIND_PGTABLE &&
		       (int)SVM_KIND_PASID_TABLE == (int)SVMD_KIND_PASID_TABLE &&
		       (int)SVM_KIND_DEVICE == (int)SVMD_KIND_DEVICE &&
		       (int)SVM_KIND_MAP == (int)SVMD_KIND_MAP,
	       "kinds");
_Static_assert(SVM_MAP_READ == SVMD_MAP_READ && SVM_MAP_WRITE == SVMD_MAP_WRITE, "map flags");
_Static_assert((int)SVM_MODEL_VTD == (int)SVMD_MODEL_VTD &&
		       (int)SVM_MODEL_SMMU == (int)SVMD_MODEL_SMMU,
	       "models");

_public_ int svm_connect(const char *path, struct svm_client **ret)
{
	return socket_connect(path, ret);
}

_public_ int svm_connect_bus(const char *address, struct svm_client **ret)
{
	struct svm_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->transport = &bus_transport;
	r = bus_connect(address, c);
	if (r < 0) {
		svm_disconnect(c);
		return r;
	}
	*ret = c;
	return 0;
}

_public_ int svm_fd(const struct svm_client *c)
{
	return c->transport->fd(c);
}

/*
 * The calls whose structs cross the ABI with their size (svmclient.h, "Structs that grow").
 * FIRST_SIZE() is the size of a struct's first layout, the least a caller passes: today every
 * struct is in its first layout. When one grows, its FIRST_SIZE() becomes the size of a frozen
 * copy of the old layout, and callers of that size are served by the code below as they are.
 */
#define FIRST_SIZE(type) sizeof(type)

/* No struct ends in padding (svmclient.h): a field added at its end changes its size. */
#define ENDS_WITH(type, last)                                                                      \
	_Static_assert(sizeof(type) == offsetof(type, last) + sizeof(((type *)0)->last),           \
		       #type " ends in padding: a reserved field must fill it")
ENDS_WITH(struct svm_device, reserved);
ENDS_WITH(struct svm_binding_info, created_usec);
ENDS_WITH(struct svm_pgtable, vtd_emt);
ENDS_WITH(struct svm_pasid_table, reserved);
ENDS_WITH(struct svm_smmu_cd_table, reserved);
ENDS_WITH(struct svm_event, usec);
ENDS_WITH(struct svm_explain_request, length);
ENDS_WITH(struct svm_reload_result, reserved);
ENDS_WITH(struct svm_status, reserved);

/* The caller's struct of size bytes (at least first) as this library's *own (own_size bytes): a
 * shorter one (an older caller's) reads as if it ended in zeros; a longer one (a newer
 * caller's) is taken when what this library does not know of it is zero, else -E2BIG. */
static int struct_in(void *own, size_t own_size, const void *theirs, size_t size, size_t first)
{
	const unsigned char *p = theirs;

	if (!theirs || size < first)
		return -EINVAL;
	for (size_t i = own_size; i < size; i++)
		if (p[i])
			return -E2BIG;
	memset(own, 0, own_size);
	memcpy(own, theirs, size < own_size ? size : own_size);
	return 0;
}

/* Fills the caller's struct of size bytes from this library's: what it does not know, zero. */
static void struct_out(void *theirs, size_t size, const void *own, size_t own_size)
{
	memcpy(theirs, own, size < own_size ? size : own_size);
	if (size > own_size)
		memset((unsigned char *)theirs + own_size, 0, size - own_size);
}

/* Re-lays the malloc()ed array *a of n structs of own_size bytes out in the caller's size. */
static int array_out(void **a, size_t n, size_t own_size, size_t size)
{
	unsigned char *to;

	if (size == own_size || !*a)
		return 0;
	to = calloc(n ? n : 1, size);
	if (!to) {
		free(*a);
		*a = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		struct_out(to + i * size, size, (unsigned char *)*a + i * own_size, own_size);
	free(*a);
	*a = to;
	return 0;
}

_public_ void svm_set_event_handler_sized(struct svm_client *c, svm_event_fn fn, void *userdata,
					  size_t ev_size)
{
	c->on_event = fn;
	c->event_userdata = userdata;
	/* A size below this library's would have the handler read past what it may; such a
	 * caller gets no events rather than garbage. */
	if (fn && ev_size < FIRST_SIZE(struct svm_event))
		c->on_event = NULL;
	c->event_size = ev_size;
	if (!c->on_event)
		client_drop_events(c);
}

_public_ bool svm_events_supported(const struct svm_client *c)
{
	return c->bus || c->proto >= SVMD_PROTO_EVENTS;
}

_public_ int svm_dispatch(struct svm_client *c, int timeout_ms)
{
	return c->transport->dispatch(c, timeout_ms);
}

_public_ int svm_subscribe(struct svm_client *c)
{
	return c->transport->subscribe(c);
}

_public_ uint64_t svm_events_lost(const struct svm_client *c)
{
	return c->events_lost;
}

_public_ const char *svm_end_name(uint32_t reason)
{
	return svmd_end_name(reason);
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copies s into *at, returns the copy (NULL stays NULL). */
static const char *put(char **at, const char *s)
{
	char *d = *at;

	if (!s)
		return NULL;
	strcpy(d, s);
	*at += strlen(s) + 1;
	return d;
}

int client_queue_event(struct svm_client *c, const struct svm_event *ev)
{
	struct queued_event *q;
	char *at;

	if (!c->on_event)
		return 0;
	if (c->n_events >= SVM_EVENTS_QUEUED) {
		struct queued_event *old = c->events_head;
		c->events_head = old->next;
		if (!c->events_head)
			c->events_tail = &c->events_head;
		free(old);
		c->n_events--;
		c->events_lost++;
	}
	q = malloc(sizeof(*q) + str_size(ev->text) + str_size(ev->record) + str_size(ev->op) +
		   str_size(ev->device));
	if (!q)
		return -ENOMEM;
	q->next = NULL;
	q->ev = *ev;
	at = q->text;
	q->ev.text = put(&at, ev->text);
	q->ev.record = put(&at, ev->record);
	q->ev.op = put(&at, ev->op);
	q->ev.device = put(&at, ev->device);
	if (!c->events_tail)
		c->events_tail = &c->events_head;
	*c->events_tail = q;
	c->events_tail = &q->next;
	c->n_events++;
	return 0;
}

int client_deliver_events(struct svm_client *c)
{
	int n = 0;

	while (c->events_head) {
		struct queued_event *q = c->events_head;
		c->events_head = q->next;
		if (!c->events_head)
			c->events_tail = &c->events_head;
		c->n_events--;
		if (c->on_event && c->event_size > sizeof(q->ev)) {
			/* A newer caller's larger struct: what this library does not know is 0. */
			struct svm_event *big = calloc(1, c->event_size);
			if (big) {
				*big = q->ev;
				c->on_event(c, big, c->event_userdata);
				free(big);
			} else {
				c->events_lost++;
			}
		} else if (c->on_event) {
			c->on_event(c, &q->ev, c->event_userdata);
		}
		free(q);
		n++;
	}
	return n;
}

void client_drop_events(struct svm_client *c)
{
	while (c->events_head) {
		struct queued_event *q = c->events_head;
		c->events_head = q->next;
		free(q);
	}
	c->events_tail = &c->events_head;
	c->n_events = 0;
}

_public_ struct svm_client *svm_disconnect(struct svm_client *c)
{
	if (!c)
		return NULL;
	c->transport->close(c);
	client_drop_events(c);
	free(c);
	return NULL;
}

_public_ const char *svm_reason(const struct svm_client *c)
{
	return c && c->reason[0] ? c->reason : NULL;
}

_public_ const char *svm_backend(const struct svm_client *c)
{
	return c->backend;
}

_public_ const char *svm_server_version(const struct svm_client *c)
{
	return c->server_version;
}

/* The device name as svmd spells it: DDDD:BB:DD.F or lspci's BB:DD.F, in either case, becomes
 * canonical; anything else goes to svmd as given, which answers "not a PCI address" (both
 * front-ends alike), unless the socket could not even carry it: that is refused here with
 * svmd's words, so no call drops the connection. NULL (with the reason set) when refused. */
static const char *device_arg(struct svm_client *c, const char *device,
			      char buf[SVMD_DEVICE_NAME_SZ])
{
	if (!device)
		return NULL;
	if (svmd_device_name_canonical(device, buf) == 0)
		return buf;
	if (strlen(device) < SVMD_DEVICE_NAME_SZ) {
		char field[SVMD_DEVICE_NAME_SZ] = {0};
		memcpy(field, device, strlen(device));
		if (svmd_device_field_valid(field))
			return device;
	}
	snprintf(c->reason, sizeof(c->reason), SVMD_NOT_A_PCI_ADDRESS, device);
	return NULL;
}

#define DEVICE_ARG(c, device, buf)                                                                 \
	do {                                                                                       \
		if (!((device) = device_arg((c), (device), (buf))))                                \
			return -EINVAL;                                                            \
	} while (0)

_public_ int svm_devices_sized(struct svm_client *c, struct svm_device **ret, size_t size,
			       size_t *ret_n)
{
	int r;

	if (size < FIRST_SIZE(struct svm_device))
		return -EINVAL;
	r = c->transport->devices(c, ret, ret_n);
	return r < 0 ? r : array_out((void **)ret, *ret_n, sizeof(**ret), size);
}

_public_ int svm_list_sized(struct svm_client *c, struct svm_binding_info **ret, size_t size,
			    size_t *ret_n)
{
	int r;

	if (size < FIRST_SIZE(struct svm_binding_info))
		return -EINVAL;
	r = c->transport->list(c, ret, ret_n);
	return r < 0 ? r : array_out((void **)ret, *ret_n, sizeof(**ret), size);
}

_public_ int svm_bind_task(struct svm_client *c, const char *device, int pidfd, uint32_t pasid,
			   uint64_t *ret_id, uint32_t *ret_pasid)
{
	char buf[SVMD_DEVICE_NAME_SZ];

	DEVICE_ARG(c, device, buf);
	return c->transport->bind_task(c, device, pidfd, pasid, ret_id, ret_pasid);
}

_public_ int svm_bind_pgtable_sized(struct svm_client *c, const char *device,
				    const struct svm_pgtable *pg, size_t size, uint64_t *ret_id)
{
	char buf[SVMD_DEVICE_NAME_SZ];
	struct svm_pgtable own;
	int r = struct_in(&own, sizeof(own), pg, size, FIRST_SIZE(struct svm_pgtable));

	if (r < 0)
		return r;
	DEVICE_ARG(c, device, buf);
	return c->transport->bind_pgtable(c, device, &own, ret_id, NULL);
}

_public_ int svm_bind_pgtable_faults_sized(struct svm_client *c, const char *device,
					   const struct svm_pgtable *pg, size_t size,
					   uint64_t *ret_id, int *ret_fault_fd)
{
	char buf[SVMD_DEVICE_NAME_SZ];
	struct svm_pgtable own;
	int r;

	if (!ret_fault_fd)
		return -EINVAL;
	*ret_fault_fd = -1;
	if ((r = struct_in(&own, sizeof(own), pg, size, FIRST_SIZE(struct svm_pgtable))) < 0)
		return r;
	DEVICE_ARG(c, device, buf);
	return c->transport->bind_pgtable(c, device, &own, ret_id, ret_fault_fd);
}

_public_ int svm_bind_pasid_table_sized(struct svm_client *c, const char *device,
					const struct svm_pasid_table *t, size_t size,
					uint64_t *ret_id)
{
	char buf[SVMD_DEVICE_NAME_SZ];
	struct svm_pasid_table own;
	int r = struct_in(&own, sizeof(own), t, size, FIRST_SIZE(struct svm_pasid_table));

	if (r < 0)
		return r;
	if (own.reserved)
		return -E2BIG;
	DEVICE_ARG(c, device, buf);
	return c->transport->bind_pasid_table(c, device, &own, ret_id);
}

_public_ int svm_bind_smmu_cd_table_sized(struct svm_client *c, const char *device,
					  const struct svm_smmu_cd_table *t, size_t size,
					  uint64_t *ret_id, int *ret_event_fd)
{
	struct svm_smmu_cd_table own;
	int r;

	if (ret_event_fd)
		*ret_event_fd = -1;
	if ((r = struct_in(&own, sizeof(own), t, size, FIRST_SIZE(struct svm_smmu_cd_table))) < 0)
		return r;
	if (own.reserved[0] || own.reserved[1])
		return -E2BIG;
	return c->transport->bind_smmu_cd_table(c, device, &own, ret_id, ret_event_fd);
}

_public_ int svm_open_device(struct svm_client *c, const char *device, int *ret_fd,
			     uint64_t *ret_id)
{
	char buf[SVMD_DEVICE_NAME_SZ];

	DEVICE_ARG(c, device, buf);
	return c->transport->open_device(c, device, ret_fd, ret_id);
}

_public_ int svm_unbind(struct svm_client *c, uint64_t id)
{
	return c->transport->unbind(c, id);
}

_public_ int svm_lease(struct svm_client *c, uint64_t id, int *ret_fd)
{
	return c->transport->lease(c, id, ret_fd);
}

static int lease_read_end(int lease_fd, struct svm_event *ev)
{
	/* ev->text points here: valid until this thread's next call (svmd's words are shorter). */
	static __thread char text[256];
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_ev_binding_ended e;
	struct svmd_hdr h;
	int type = 0;
	socklen_t tlen = sizeof(type);
	ssize_t n;

	if (lease_fd < 0 || !ev)
		return -EINVAL;
	/* An svmd before this one made the lease a pipe, which says nothing. */
	if (getsockopt(lease_fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
		return errno == ENOTSOCK ? -EOPNOTSUPP : -errno;
	if (type != SOCK_SEQPACKET)
		return -EOPNOTSUPP;
	do
		n = recv(lease_fd, rec, sizeof(rec), MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* svmd sends no empty record: 0 is its end closed, with nothing (more) to say. */
	if (n == 0)
		return -ENODATA;
	if ((size_t)n > sizeof(rec) || svmd_parse(rec, (size_t)n, &h) < 0 ||
	    h.opcode != SVMD_EV_BINDING_ENDED ||
	    svmd_event_check(h.opcode, h.seq, rec + sizeof(h), h.len, 0) < 0)
		return -EPROTO;
	memcpy(&e, rec + sizeof(h), sizeof(e));
	snprintf(text, sizeof(text), "%s", svmd_event_text(h.opcode, rec + sizeof(h)));
	*ev = (struct svm_event){
		.type = SVM_EVENT_BINDING_ENDED,
		.binding = e.id,
		.reason = e.reason,
		.by_uid = e.by_uid,
		.generation = e.generation,
		.text = text,
	};
	return 0;
}

_public_ int svm_lease_read_end_sized(int lease_fd, struct svm_event *ev, size_t size)
{
	struct svm_event own;
	int r;

	if (!ev || size < FIRST_SIZE(struct svm_event))
		return -EINVAL;
	r = lease_read_end(lease_fd, &own);
	if (r == 0)
		struct_out(ev, size, &own, sizeof(own));
	return r;
}

_public_ int svm_explain_sized(struct svm_client *c, const struct svm_explain_request *x,
			       size_t size, char **ret_text, bool *ret_allowed)
{
	char buf[SVMD_DEVICE_NAME_SZ];
	struct svm_explain_request y;
	int r = struct_in(&y, sizeof(y), x, size, FIRST_SIZE(struct svm_explain_request));

	if (r < 0)
		return r;
	if (y.device)
		DEVICE_ARG(c, y.device, buf);
	/* As svmd says on the bus; on the socket it would drop the connection. */
	if (y.op && strcmp(y.op, "invalidate") == 0 && (y.addr_width || y.vtd_flags)) {
		snprintf(c->reason, sizeof(c->reason),
			 "invalidate is decided on a binding's device and PASID: no addr-width or "
			 "vtd-flags");
		return -EINVAL;
	}
	return c->transport->explain(c, &y, ret_text, ret_allowed);
}

_public_ int svm_status_sized(struct svm_client *c, struct svm_status *ret, size_t size,
			      char **ret_text)
{
	struct svm_status own = {0};
	int r;

	if (!ret || size < FIRST_SIZE(struct svm_status))
		return -EINVAL;
	r = c->transport->status(c, &own, ret_text);
	if (r >= 0)
		struct_out(ret, size, &own, sizeof(own));
	return r;
}

_public_ int svm_metrics(struct svm_client *c, char **ret_text)
{
	return c->transport->metrics(c, ret_text);
}

_public_ int svm_policy_rules(struct svm_client *c, uint64_t *ret_generation, char **ret_text)
{
	return c->transport->policy_rules(c, ret_generation, ret_text);
}

_public_ int svm_reload_sized(struct svm_client *c, struct svm_reload_result *ret, size_t size,
			      char **ret_text)
{
	struct svm_reload_result own = {0};
	int r;

	if (ret && size < FIRST_SIZE(struct svm_reload_result))
		return -EINVAL;
	r = c->transport->reload(c, &own, ret_text);
	if (r >= 0 && ret)
		struct_out(ret, size, &own, sizeof(own));
	return r;
}

/* A range [start, start + length) that is not empty and does not wrap. */
static bool range_ok(uint64_t start, uint64_t length)
{
	return length > 0 && start + length > start;
}

_public_ int svm_map(struct svm_client *c, const char *device, int memfd, uint64_t offset,
		     uint64_t length, uint64_t iova, uint32_t flags, uint64_t *ret_id)
{
	char buf[SVMD_DEVICE_NAME_SZ];

	/* Refused here, not sent: svmd would take such a record for a broken client. */
	if (memfd < 0 || !range_ok(iova, length) || !range_ok(offset, length) ||
	    (flags & ~(SVM_MAP_READ | SVM_MAP_WRITE)) || !(flags & (SVM_MAP_READ | SVM_MAP_WRITE)))
		return -EINVAL;
	DEVICE_ARG(c, device, buf);
	return c->transport->map(c, device, memfd, offset, length, iova, flags, ret_id);
}

_public_ int svm_unmap(struct svm_client *c, const char *device, uint64_t iova, uint64_t length,
		       uint32_t *ret_n, uint64_t *ret_bytes)
{
	char buf[SVMD_DEVICE_NAME_SZ];

	if (!range_ok(iova, length))
		return -EINVAL;
	DEVICE_ARG(c, device, buf);
	return c->transport->unmap(c, device, iova, length, ret_n, ret_bytes);
}

_public_ int svm_invalidate(struct svm_client *c, uint64_t id, uint32_t type,
			    const struct svm_invalidate_entry *e, uint32_t n, uint32_t *ret_done)
{
	uint32_t done = 0;
	int r;

	/* Refused here, not sent: svmd would take such a record for a broken client. */
	if (!e || n == 0 || n > SVM_INVALIDATE_ENTRIES_MAX ||
	    (type != SVM_INVALIDATE_VTD_S1 && type != SVM_INVALIDATE_SMMUV3 &&
	     type != SVM_INVALIDATE_MOCK))
		return -EINVAL;
	r = c->transport->invalidate(c, id, type, e, n, &done);
	if (r == 0 && ret_done)
		*ret_done = done;
	return r;
}

_public_ int svm_device_info(struct svm_client *c, const char *device, uint32_t *ret_kinds,
			     char **ret_text)
{
	char buf[SVMD_DEVICE_NAME_SZ];

	DEVICE_ARG(c, device, buf);
	return c->transport->device_info(c, device, ret_kinds, ret_text);
}

_public_ const char *svm_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case EACCES:
		return "denied by policy";
	case EDQUOT:
		return "quota exceeded";
	case EBUSY:
		return "already bound";
	case ENODEV:
		return "no such device";
	case EOPNOTSUPP:
		return "not supported by the device";
	case EINVAL:
		return "invalid argument";
	case EPERM:
		return "not permitted (that process, or that memfd's access)";
	case ESRCH:
		return "process not found";
	case ENOENT:
		return "no such binding";
	case ENOSPC:
		return "no free PASID";
	case EALREADY:
		return "already leased";
	case ECONNRESET:
		return "svmd closed the connection";
	case ECONNREFUSED:
		return "svmd is not running (connection refused)";
	case EPROTO:
		return "protocol error";
	case ETIMEDOUT:
		return "svmd did not answer";
	case ENOTCONN:
		return "the connection to svmd failed earlier";
	case EAGAIN:
		return "rate limited";
	case EMEDIUMTYPE:
		return "not a memfd";
	case EEXIST:
		return "overlaps a mapping";
	default:
		return strerror(err < 0 ? -err : err);
	}
}

_public_ const char *svm_kind_name(uint32_t kind)
{
	return svmd_kind_name(kind);
}
