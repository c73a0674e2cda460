/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsvmclient's inside: the client handle and its transport table, shared by the public calls
 * (libsvmclient.c), the socket transport (libsvmclient-socket.c) and the D-Bus transport
 * (libsvmclient-bus.c).
 */
#pragma once

#include <stdint.h>

#include <systemd/sd-bus.h>

#include "svmclient.h"
#include "svmd-proto.h"

#define _public_ __attribute__((visibility("default")))

struct svm_client {
	const struct svm_transport *transport;
	int fd;      /* the socket, or -1 on the bus */
	sd_bus *bus; /* the bus, or NULL on the socket */
	/* The bus, after svm_subscribe(): the matches for Record signals and for svmd leaving. */
	sd_bus_slot *record_slot, *owner_slot, *ended_slot;
	bool svmd_gone;
	bool subscription_ended; /* SubscriptionEnded came: its reason is in ended_reason */
	char ended_reason[256];
	uint32_t seq;
	uint32_t answered; /* the seq of the last request whose reply came */
	/* The socket's exchange went wrong (no reply in time, a reply out of order, an error):
	 * a late reply could be taken for the next one, so every later call fails at once. */
	bool broken;
	char reason[1024];
	char backend[16];
	char server_version[16];
	/* Events (svm_set_event_handler): the handler, and the socket's event records that came
	 * while a call waited for its reply (at most SVM_EVENTS_QUEUED, then the oldest go). */
	unsigned proto; /* the protocol revision HELLO agreed on */
	svm_event_fn on_event;
	void *event_userdata;
	size_t event_size; /* of the handler's struct svm_event: at least this library's */
	struct queued_event *events_head, **events_tail;
	unsigned n_events;
	uint64_t events_lost;
	_Alignas(8) unsigned char buf[SVMD_RECORD_MAX];
};

/* A transport: the public calls' contracts (svmclient.h), over one way of reaching svmd. */
struct svm_transport {
	int (*devices)(struct svm_client *c, struct svm_device **ret, size_t *ret_n);
	int (*list)(struct svm_client *c, struct svm_binding_info **ret, size_t *ret_n);
	int (*bind_task)(struct svm_client *c, const char *device, int pidfd, uint32_t pasid,
			 uint64_t *ret_id, uint32_t *ret_pasid);
	/* ret_fault_fd NULL: without SVMD_PGTABLE_FAULTS; else it gets the fault queue. */
	int (*bind_pgtable)(struct svm_client *c, const char *device, const struct svm_pgtable *pg,
			    uint64_t *ret_id, int *ret_fault_fd);
	int (*bind_pasid_table)(struct svm_client *c, const char *device,
				const struct svm_pasid_table *t, uint64_t *ret_id);
	int (*bind_smmu_cd_table)(struct svm_client *c, const char *device,
				  const struct svm_smmu_cd_table *t, uint64_t *ret_id,
				  int *ret_event_fd);
	int (*open_device)(struct svm_client *c, const char *device, int *ret_fd, uint64_t *ret_id);
	int (*unbind)(struct svm_client *c, uint64_t id);
	int (*lease)(struct svm_client *c, uint64_t id, int *ret_fd);
	int (*explain)(struct svm_client *c, const struct svm_explain_request *x, char **ret_text,
		       bool *ret_allowed);
	int (*reload)(struct svm_client *c, struct svm_reload_result *ret, char **ret_text);
	int (*map)(struct svm_client *c, const char *device, int memfd, uint64_t offset,
		   uint64_t length, uint64_t iova, uint32_t flags, uint64_t *ret_id);
	int (*unmap)(struct svm_client *c, const char *device, uint64_t iova, uint64_t length,
		     uint32_t *ret_n, uint64_t *ret_bytes);
	int (*device_info)(struct svm_client *c, const char *device, uint32_t *ret_kinds,
			   char **ret_text);
	int (*status)(struct svm_client *c, struct svm_status *ret, char **ret_text);
	int (*policy_rules)(struct svm_client *c, uint64_t *ret_generation, char **ret_text);
	int (*metrics)(struct svm_client *c, char **ret_text);
	int (*invalidate)(struct svm_client *c, uint64_t id, uint32_t type,
			  const struct svm_invalidate_entry *e, uint32_t n, uint32_t *ret_done);
	int (*fd)(const struct svm_client *c);
	int (*dispatch)(struct svm_client *c, int timeout_ms);
	int (*subscribe)(struct svm_client *c);
	void (*close)(struct svm_client *c); /* what the transport holds; not c itself */
};

#define SVM_EVENTS_QUEUED 256u

struct queued_event {
	struct queued_event *next;
	struct svm_event ev;
	char text[]; /* ev's strings point here */
};

/* Queues ev (its strings copied) for the next svm_dispatch(). Returns 0 or -ENOMEM. */
int client_queue_event(struct svm_client *c, const struct svm_event *ev);
/* Hands the queued events to the handler, in order. Returns how many. */
int client_deliver_events(struct svm_client *c);
void client_drop_events(struct svm_client *c);

extern const struct svm_transport socket_transport, bus_transport;

/* svm_connect(): connects to path (NULL: $SVMD_SOCKET, else the default) and says HELLO. */
int socket_connect(const char *path, struct svm_client **ret);
/* svm_connect_bus(): connects c (already allocated, fd -1) to the bus at address. */
int bus_connect(const char *address, struct svm_client *c);
