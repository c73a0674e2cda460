/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The polkit-gated D-Bus server `make bench` compares svmd with (row 2b): what a user would run
 * instead of svmd, a daemon that asks polkit about every call, as udisks2 and NetworkManager do.
 * It owns org.svmd.BenchPolkit1 and exports BindPgtable (sutua{sv} -> to) and Unbind (t -> ) at
 * /org/svmd/Broker1, interface org.svmd.Broker1, the signatures svmd answers, so the bench's
 * client code drives it unchanged.
 *
 * Every call sends org.freedesktop.PolicyKit1.Authority.CheckAuthorization for the caller
 * (subject "system-bus-name" with the sender's unique name, action org.svmd.bench.bind or
 * org.svmd.bench.unbind, no details, flags 0: no interaction) and answers once polkitd has
 * decided: the reply when authorized, org.svmd.Bench.Error.NotAuthorized when not. Nothing is
 * cached, as in those daemons. The check is asynchronous (the handler returns and the reply goes
 * out from the callback), as an sd-bus daemon does it: one caller's latency is the same as with a
 * blocking call, but the server keeps taking other calls while polkitd decides (udisks2 blocks
 * instead, in one of its worker threads per call).
 *
 * On SIGTERM it prints how many checks polkitd authorized, refused and failed, so that the bench
 * can tell that every call was decided by polkitd.
 *
 * Usage: polkit-bus-server BUS_ADDRESS   (prints "ready" once the name is owned)
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#define SERVER_NAME "org.svmd.BenchPolkit1"
#define PATH        "/org/svmd/Broker1"
#define IFACE       "org.svmd.Broker1"

#define POLKIT_NAME  "org.freedesktop.PolicyKit1"
#define POLKIT_PATH  "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"

#define ERROR_NOT_AUTHORIZED "org.svmd.Bench.Error.NotAuthorized"
#define ERROR_POLKIT         "org.svmd.Bench.Error.PolkitFailed"

static uint64_t next_id = 1;
static unsigned long n_authorized, n_refused, n_failed;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

enum op { OP_BIND, OP_UNBIND };

/* A call waiting for polkitd's answer. */
struct pending {
	sd_bus_message *call;
	enum op op;
};

static void pending_free(void *userdata)
{
	struct pending *p = userdata;

	sd_bus_message_unref(p->call);
	free(p);
}

/* The work itself, once authorized: as little as the naive server does. */
static int reply_authorized(struct pending *p)
{
	char path[96];
	uint64_t id;

	if (p->op == OP_UNBIND)
		return sd_bus_reply_method_return(p->call, NULL);
	id = next_id++;
	snprintf(path, sizeof(path), PATH "/binding/%" PRIu64, id);
	return sd_bus_reply_method_return(p->call, "to", id, path);
}

/* polkitd's answer: AuthorizationResult (bba{ss}) = is_authorized, is_challenge, details. */
static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	struct pending *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(reply);
	int authorized = 0, challenge = 0, r;

	(void)ret_error;
	if (e) {
		n_failed++;
		r = sd_bus_reply_method_errorf(p->call, ERROR_POLKIT, "CheckAuthorization: %s: %s",
					       e->name, e->message ? e->message : "");
		return r < 0 ? r : 0;
	}
	r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
	if (r >= 0)
		r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
	if (r < 0) {
		n_failed++;
		r = sd_bus_reply_method_errorf(p->call, ERROR_POLKIT,
					       "CheckAuthorization: bad reply: %s", strerror(-r));
		return r < 0 ? r : 0;
	}
	if (!authorized) {
		n_refused++;
		r = sd_bus_reply_method_errorf(
			p->call, ERROR_NOT_AUTHORIZED, "polkit refused %s%s",
			p->op == OP_BIND ? "org.svmd.bench.bind" : "org.svmd.bench.unbind",
			challenge ? " (it would ask for authentication)" : "");
		return r < 0 ? r : 0;
	}
	n_authorized++;
	r = reply_authorized(p);
	return r < 0 ? r : 0;
}

/*
 * CheckAuthorization(subject (sa{sv}), action_id s, details a{ss}, flags u, cancellation_id s)
 * for the sender of call, asynchronously. The call's reply goes out from on_check_reply().
 */
static int check_authorization(sd_bus_message *call, enum op op, sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(call);
	const char *action = op == OP_BIND ? "org.svmd.bench.bind" : "org.svmd.bench.unbind";
	sd_bus *bus = sd_bus_message_get_bus(call);
	sd_bus_message *m = NULL;
	sd_bus_slot *slot = NULL;
	struct pending *p;
	int r;

	if (!sender)
		return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "no sender");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->call = sd_bus_message_ref(call);
	p->op = op;
	r = sd_bus_message_new_method_call(bus, &m, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
					   "CheckAuthorization");
	/* The subject: kind "system-bus-name", details {"name": <the sender's unique name>}. */
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sa{sv}");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", "system-bus-name");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}", "name", "s", sender);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	/* The action, no details, flags 0 (no user interaction), no cancellation id. */
	if (r >= 0)
		r = sd_bus_message_append(m, "s", action);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{ss}");
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "us", (uint32_t)0, "");
	if (r >= 0)
		r = sd_bus_call_async(bus, &slot, m, on_check_reply, p, 0);
	sd_bus_message_unref(m);
	if (r < 0) {
		pending_free(p);
		return r;
	}
	/* The slot frees p whenever it goes: after the callback, or with the bus. */
	sd_bus_slot_set_destroy_callback(slot, pending_free);
	sd_bus_slot_set_floating(slot, 1);
	return 1; /* handled: the reply follows */
}

static int method_bind_pgtable(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	const char *device;
	uint32_t pasid, width;
	uint64_t gpgd;
	int r;

	(void)userdata;
	r = sd_bus_message_read(m, "sutu", &device, &pasid, &gpgd, &width);
	if (r >= 0)
		r = sd_bus_message_skip(m, "a{sv}");
	if (r < 0)
		return r;
	return check_authorization(m, OP_BIND, error);
}

static int method_unbind(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	uint64_t id;
	int r;

	(void)userdata;
	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	return check_authorization(m, OP_UNBIND, error);
}

static const sd_bus_vtable vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("BindPgtable", "sutua{sv}", "to", method_bind_pgtable,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Unbind", "t", "", method_unbind, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
	sd_bus *bus = NULL;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: polkit-bus-server BUS_ADDRESS\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, argv[1]);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, true);
	if (r >= 0)
		r = sd_bus_set_trusted(bus, false);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r >= 0)
		r = sd_bus_add_object_vtable(bus, NULL, PATH, IFACE, vtable, NULL);
	if (r >= 0)
		r = sd_bus_request_name(bus, SERVER_NAME, 0);
	if (r < 0) {
		fprintf(stderr, "polkit-bus-server: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		r = sd_bus_process(bus, NULL);
		if (r < 0) {
			fprintf(stderr, "polkit-bus-server: %s\n", strerror(-r));
			return 1;
		}
		if (r > 0)
			continue;
		r = sd_bus_wait(bus, UINT64_MAX);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "polkit-bus-server: %s\n", strerror(-r));
			return 1;
		}
	}
	printf("checks: %lu authorized, %lu refused, %lu failed\n", n_authorized, n_refused,
	       n_failed);
	fflush(stdout);
	sd_bus_flush_close_unref(bus);
	return 0;
}
