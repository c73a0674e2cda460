/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The org.svmd.Binding1 objects, one per binding under /org/svmd/Broker1/binding/ID, visible to
 * the binding's owner and to root only, and announced through the ObjectManager on
 * /org/svmd/Broker1. The binding an object names is found per call and handed to its property
 * getters and methods as their userdata.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "cleanup.h"
#include "log.h"
#include "loop.h"
#include "svmd-bus.h"

/* The identity the current message comes from, if it has a sender (emissions and sd-bus asking
 * itself have none: NULL). */
static int current_caller(struct bus *b, const struct identity **ret)
{
	sd_bus_message *m = sd_bus_get_current_message(b->bus);
	struct peer *p;
	int r;

	*ret = NULL;
	if (!m || !sd_bus_message_get_sender(m))
		return 0;
	/* A caller that never called a method is not known yet: ask the bus. */
	r = bus_peer_get(b, m, &p, NULL);
	if (r < 0)
		return r;
	*ret = p->session->owner;
	return 0;
}

/* The binding id of a path under the binding prefix, or 0. */
static uint64_t path_id(const char *path)
{
	size_t n = strlen(SVMD_BUS_BINDING_PREFIX "/");
	uint64_t id = 0;

	if (strncmp(path, SVMD_BUS_BINDING_PREFIX "/", n) != 0 || !path[n])
		return 0;
	for (const char *s = path + n; *s; s++) {
		if (*s < '0' || *s > '9' || id > UINT64_MAX / 10)
			return 0;
		id = id * 10 + (uint64_t)(*s - '0');
	}
	return id;
}

int bus_binding_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
		     void **found, sd_bus_error *error)
{
	struct bus *b = userdata;
	const struct identity *who;
	struct binding *x = registry_find(b->core->registry, path_id(path));

	(void)bus, (void)interface, (void)error;
	if (!x || current_caller(b, &who) < 0 || (who && !ops_visible(who, x)))
		return 0;
	*found = x;
	return 1;
}

int bus_binding_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
			  sd_bus_error *error)
{
	static const struct identity everyone = {.uid = 0, .pidfd = -1}; /* sd-bus asking itself */
	struct bus *b = userdata;
	const struct identity *who;
	char **v;
	size_t n = 0, k = 0;

	(void)bus, (void)path, (void)error;
	if (current_caller(b, &who) < 0)
		return -EPERM;
	if (!who)
		who = &everyone;
	for (struct binding *x = ops_visible_first(b->core, who, 0); x;
	     x = ops_visible_next(b->core, who, x))
		n++;
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (struct binding *x = ops_visible_first(b->core, who, 0); x;
	     x = ops_visible_next(b->core, who, x)) {
		char buf[96];
		bus_binding_path(binding_id(x), buf, sizeof(buf));
		if (!(v[k++] = strdup(buf))) {
			for (size_t i = 0; i + 1 < k; i++)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
	}
	*nodes = v;
	return 0;
}

#define PROPERTY(name)                                                                             \
	static int prop_##name(sd_bus *bus, const char *path, const char *interface,               \
			       const char *property, sd_bus_message *reply, void *userdata,        \
			       sd_bus_error *error)

#define UNUSED_PROPERTY_ARGS (void)bus, (void)path, (void)interface, (void)property, (void)error

PROPERTY(id)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "t", binding_id(x));
}

PROPERTY(kind)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "s", svmd_kind_name(x->args.kind));
}

PROPERTY(device)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "s", x->device->name);
}

PROPERTY(pasid)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "u", x->args.pasid);
}

PROPERTY(owner_uid)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "u", (uint32_t)x->owner->uid);
}

PROPERTY(owner_pid)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "i", (int32_t)x->owner->pid);
}

PROPERTY(target_pid)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(
		reply, "i", (int32_t)(x->args.kind == SVMD_KIND_TASK ? x->args.task.pid : 0));
}

PROPERTY(leased)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "b", (int)x->leased);
}

PROPERTY(created)
{
	const struct binding *x = userdata;

	UNUSED_PROPERTY_ARGS;
	return sd_bus_message_append(reply, "t", binding_created_usec(x));
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	/* The vtable's own userdata (the bus) is its slot's; userdata is the binding found. */
	struct bus *b =
		sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(m)));
	const struct binding *x = userdata;
	struct op_result res;
	struct peer *p;
	int r;

	r = bus_peer_get(b, m, &p, error);
	if (r < 0)
		return r;
	if (ops_unbind(b->core, p->session, binding_id(x), &res) < 0)
		return bus_reply_error(error, &res);
	bus_state_before_reply(b);
	return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable bus_binding_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Release", "", "", method_release, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("Released", "ssut",
				 SD_BUS_PARAM(reason) SD_BUS_PARAM(message) SD_BUS_PARAM(by_uid)
					 SD_BUS_PARAM(generation),
				 0),
	SD_BUS_PROPERTY("Id", "t", prop_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Kind", "s", prop_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Device", "s", prop_device, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("PASID", "u", prop_pasid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("OwnerUID", "u", prop_owner_uid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("OwnerPID", "i", prop_owner_pid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("TargetPID", "i", prop_target_pid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Leased", "b", prop_leased, 0, 0),
	SD_BUS_PROPERTY("Created", "t", prop_created, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END,
};

/* The interfaces a binding object has, as its ObjectManager signals list them. */
static const char *const binding_interfaces[] = {
	SVMD_BUS_BINDING_IFACE,
	"org.freedesktop.DBus.Properties",
	"org.freedesktop.DBus.Introspectable",
	"org.freedesktop.DBus.Peer",
};

/* x's properties, as an a{sv} of Binding1's, for InterfacesAdded. */
static int append_properties(sd_bus_message *m, const struct binding *x)
{
	int r = sd_bus_message_open_container(m, 'a', "{sv}");

	if (r >= 0)
		r = sd_bus_message_append(
			m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "Id", "t", binding_id(x), "Kind",
			"s", svmd_kind_name(x->args.kind), "Device", "s", x->device->name, "PASID",
			"u", x->args.pasid, "OwnerUID", "u", (uint32_t)x->owner->uid, "OwnerPID",
			"i", (int32_t)x->owner->pid, "TargetPID", "i",
			(int32_t)(x->args.kind == SVMD_KIND_TASK ? x->args.task.pid : 0), "Leased",
			"b", (int)x->leased, "Created", "t", binding_created_usec(x));
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

/* One InterfacesAdded/Removed for x, addressed to destination. */
static int send_announce(struct bus *b, const struct binding *x, bool added, const char *path,
			 const char *destination)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r = sd_bus_message_new_signal(b->bus, &m, SVMD_BUS_PATH,
					  "org.freedesktop.DBus.ObjectManager",
					  added ? "InterfacesAdded" : "InterfacesRemoved");

	if (r >= 0)
		r = sd_bus_message_set_destination(m, destination);
	if (r >= 0)
		r = sd_bus_message_append(m, "o", path);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', added ? "{sa{sv}}" : "s");
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(binding_interfaces); i++) {
		if (!added) {
			r = sd_bus_message_append(m, "s", binding_interfaces[i]);
			continue;
		}
		r = sd_bus_message_open_container(m, 'e', "sa{sv}");
		if (r >= 0)
			r = sd_bus_message_append(m, "s", binding_interfaces[i]);
		if (r >= 0)
			r = i == 0 ? append_properties(m, x) : sd_bus_message_append(m, "a{sv}", 0);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_send(b->bus, m, NULL);
	return r;
}

/* Released(s reason, s message, u by_uid, t generation) on x's object, addressed to
 * destination. */
static int send_released(struct bus *b, const struct binding *x, const struct core_end *end,
			 const char *path, const char *destination)
{
	static const char *const names[_END_REASON_MAX] = {
		[END_UNBIND] = "unbind",           [END_SESSION] = "session-ended",
		[END_LEASE] = "lease-closed",      [END_PROCESS] = "process-exited",
		[END_SHUTDOWN] = "shutdown",       [END_REVOKED] = "revoked",
		[END_UNDELIVERED] = "undelivered", [END_UNMAP] = "unmap",
	};
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r = sd_bus_message_new_signal(b->bus, &m, path, SVMD_BUS_BINDING_IFACE, "Released");

	(void)x;
	if (r >= 0)
		r = sd_bus_message_set_destination(m, destination);
	if (r >= 0)
		r = sd_bus_message_append(m, "ssut", names[end->why], end->text ? end->text : "",
					  end->why == END_UNBIND ? (uint32_t)end->by_uid : 0,
					  end->generation);
	if (r >= 0)
		r = sd_bus_send(b->bus, m, NULL);
	return r;
}

/*
 * InterfacesAdded/Removed for a binding, with Binding1's properties, and before the removal its
 * Released. A binding is visible to its owner and root only, so nothing is broadcast: each
 * signal is addressed to every bus peer svmd knows (one that has called it, or asked for its
 * objects) of the owner's uid or root's; Released goes to the peer whose session held the
 * binding (a leased one's: to those of the owner's uid). end is NULL for an addition.
 */
void bus_binding_announce(struct bus *b, const struct binding *x, const struct core_end *end)
{
	bool added = !end;
	char path[96];
	int r = 0;

	bus_binding_path(binding_id(x), path, sizeof(path));
	hashmap_for_each_safe (e, &b->peers) {
		struct peer *p = container_of(e, struct peer, node);
		uid_t uid = p->session->owner->uid;
		if (uid != 0 && uid != x->owner->uid)
			continue;
		if (end && end->why != END_SESSION && end->why != END_UNDELIVERED &&
		    (x->session ? p->session == x->session : uid == x->owner->uid) &&
		    end->by != p->session)
			r = send_released(b, x, end, path, p->name);
		if (r >= 0)
			r = send_announce(b, x, added, path, p->name);
		if (r < 0)
			log_debug_errno(r, "Cannot announce %s to %s: %m", path, p->name);
	}
	(void)sd_bus_emit_properties_changed(b->bus, SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "NBindings",
					     NULL);
	loop_bus_kick(b->loop);
}
