/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the three files of the D-Bus front-end share: bus.c (the connection and its peers),
 * bus-broker.c (the org.svmd.Broker1 methods and properties) and bus-binding.c (the
 * org.svmd.Binding1 objects).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "hashmap.h"
#include "list.h"
#include "loop.h"
#include "ops.h"

struct loop;

struct bus {
	struct loop *loop;
	struct core *core;
	sd_bus *bus;
	struct hashmap peers;   /* struct peer, by unique name */
	struct hashmap probes;  /* struct peer.probe_node, by the probe signal's cookie */
	unsigned n_subscribers; /* peers with subscribed set */
	/* Record signals wait for the end of the loop iteration, as the socket's events do: no one
	 * learns of a decision before its audit record is written (loop.h, the outbox). */
	struct outbox_item records_out;
	sd_bus_message **records;
	size_t n_records, records_size;
	sd_bus_slot *slots[6];
	/* The metrics block one Get or GetAll of org.svmd.Metrics1 reads (one request for all its
	 * properties), and the message it was read for. */
	struct svmd_metrics metrics;
	sd_bus_message *metrics_for; /* a reference, so that no other message has its address */
};

/* Subscriptions (Subscribe()): at most this many per uid, and in all, as on the socket. */
#define BUS_SUBSCRIBERS_PER_UID 4
#define BUS_SUBSCRIBERS_MAX     64
/* Record signals svmd holds for its subscribers (in sd-bus's write queue, or waiting for the end
 * of the iteration), per subscription: past that many the bus is not taking them as fast as they
 * come (a subscriber that does not read, a bus daemon that falls behind), and svmd ends every
 * subscription (SubscriptionEnded) rather than grow without bound, as the socket drops a
 * subscriber that leaves CLIENT_EVENTS_MAX of them unread. */
#define BUS_RECORDS_PER_SUBSCRIBER 1024
/* Held this many for the end of the iteration, they go at once (the audit records written
 * first). */
#define BUS_RECORDS_BATCH 64

/* Whether a peer's connection accepts fds: the bus does not deliver a message carrying one to a
 * connection that did not negotiate them (dbus-daemon drops it and tells the sender; dbus-broker
 * disconnects the receiver), so svmd asks before its first reply with an fd. */
enum peer_fds {
	PEER_FDS_UNKNOWN,
	PEER_FDS_PROBING, /* a probe signal with an fd went out, then a call to the bus driver */
	PEER_FDS_YES,
	PEER_FDS_NO,
};

/* One unique name: its session (whose owner is its identity), from its first call until it
 * leaves. */
struct peer {
	struct hnode node; /* key: hash_string() of name */
	bool indexed;      /* node is in bus.peers */
	struct bus *bus;
	char *name;
	struct session *session;
	sd_bus_track *track;
	enum peer_fds fds;
	bool subscribed;         /* Subscribe(): sent a Record signal per record it may see */
	struct hnode probe_node; /* while probing: key the probe signal's cookie */
	sd_bus_slot *probe_slot; /* the call to the bus driver that follows the probe */
	struct list waiting;     /* struct fd_reply, until the probe says */
};

/* A reply that carries an fd, waiting for the probe of its peer. */
struct fd_reply {
	struct list link;
	sd_bus_message *call, *reply; /* the reply holds its copy of the fd */
	uint64_t binding;
	bool lease; /* a lease on binding, else binding's device fd */
};

extern const sd_bus_vtable bus_broker_vtable[];
extern const sd_bus_vtable bus_binding_vtable[];
extern const sd_bus_vtable bus_metrics_vtable[];

/* The peer that sent m: made on its first call (one bus round trip for its credentials), then
 * cached until the name leaves. Returns 0, or a negative errno with error set. */
int bus_peer_get(struct bus *b, sd_bus_message *m, struct peer **ret, sd_bus_error *error);
/* The peer of name, if it called before. */
struct peer *bus_peer_find(struct bus *b, const char *name);

/* Makes s valid UTF-8 as sd-bus wants a string (no surrogates, no noncharacters), in place:
 * each byte of a sequence that is not becomes '?'. What svmd's words quote (a policy file's
 * name, its rules) may be any bytes. */
void bus_utf8_sanitize(char *s);

/* An op_result's error as org.svmd.Broker1.Error.*, its reason (made UTF-8) as the message. */
int bus_reply_error(sd_bus_error *error, const struct op_result *res);
/* The object path of binding id. */
void bus_binding_path(uint64_t id, char *buf, size_t size);

/* Before a reply that tells of a change: the state file gets it first (persist.h). sd-bus writes
 * a reply at once, not at the loop's flush as the socket's replies go, and a client must never
 * hear of a binding that a crash right after would lose, or of an end a restart would undo. */
void bus_state_before_reply(struct bus *b);

/* Sends reply to call from p: it carries an fd, for binding (a lease on it, or its device fd).
 * A device's binding is committed once its reply is sent, or ended when it cannot be (a lease
 * ends by itself when its only copy goes with an undelivered reply); a peer whose connection
 * does not accept fds is told so instead. Takes reply. Returns 0 or a negative errno. */
int bus_send_fd_reply(struct bus *b, struct peer *p, sd_bus_message *call, sd_bus_message *reply,
		      uint64_t binding, bool lease);

/* Subscribe(): p hears a Record signal per audit record it may see, until it leaves. Returns
 * 0, or a negative errno with error set (QuotaExceeded past the bounds). */
int bus_subscribe(struct bus *b, struct peer *p, sd_bus_error *error);

/* The binding objects' find and enumerate callbacks (bus-binding.c). */
int bus_binding_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
		     void **found, sd_bus_error *error);
int bus_binding_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
			  sd_bus_error *error);
/* InterfacesAdded/Removed for b. */
void bus_binding_announce(struct bus *b, const struct binding *x, const struct core_end *end);
