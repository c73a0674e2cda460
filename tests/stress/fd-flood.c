/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-fd-flood: one user taking as many of svmd's fds as it can, over the socket
 * (connections, then page-table binds leased: one fd each in svmd) or over D-Bus (bus
 * connections that each call ListBindings, so that svmd pins each caller, then binds leased
 * the same way); then it keeps pressing for more until told to stop. Or, with --mode=serve,
 * a user who just wants to be served meanwhile: task bind, lease, unbind, list, over both
 * front-ends, round after round.
 *
 *   stress-fd-flood --mode=socket|bus --socket=PATH --bus=ADDRESS --user=NAME [--connections=N]
 *                   [--binds=N] [--leases=N] [--device=BDF] [--pasid-base=N] [--until=FILE]
 *                   [--max-seconds=S]
 *   stress-fd-flood --mode=serve --socket=PATH --bus=ADDRESS --user=NAME [--rounds=N]
 *                   [--device=BDF]
 *
 * Every exchange has a 3 s deadline. Prints "ready=1" once the flood is in place (the script
 * waits for it), then, at the end, the outcome of every kind of request by errno (and by D-Bus
 * error name), as KEY=VALUE lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"
#include "svmd-proto.h"

#define TIMEOUT_MS 3000

enum {
	T_CONNECT,
	T_LIST,
	T_BIND,
	T_LEASE,
	T_UNBIND,
	T_PRESS_CONNECT,
	T_PRESS_LIST,
	T_PRESS_BIND,
	T_PRESS_LEASE,
	_T_MAX,
};
static const char *const names[_T_MAX] = {
	"connect",       "list",       "bind",       "lease",       "unbind",
	"press_connect", "press_list", "press_bind", "press_lease",
};

static struct tally *t;
static struct named_tally bus_names;
static const char *sock_path, *bus_address, *device = "0000:3b:00.0";

static int count(int which, int r)
{
	tally_add(&t[which], r);
	return r;
}

static bool stop_now(const char *until, uint64_t deadline)
{
	return (until && access(until, F_OK) == 0) || now_us() > deadline;
}

static int bus_bind_pgtable(sd_bus *bus, uint32_t pasid, uint64_t *ret_id)
{
	sd_bus_message *reply = NULL;
	const char *path;
	int r = bus_call(bus, "BindPgtable", TIMEOUT_MS, &bus_names, &reply, "sutua{sv}", device,
			 pasid, (uint64_t)0x10000, 48u, 0);

	if (r >= 0) {
		r = sd_bus_message_read(reply, "to", ret_id, &path);
		r = r < 0 ? -EPROTO : 0;
	}
	sd_bus_message_unref(reply);
	return r;
}

/* Leases id; the lease fd (a copy) into *ret_fd. */
static int bus_lease(sd_bus *bus, uint64_t id, int *ret_fd)
{
	sd_bus_message *reply = NULL;
	int fd = -1, r = bus_call(bus, "Lease", TIMEOUT_MS, &bus_names, &reply, "t", id);

	if (r >= 0) {
		r = sd_bus_message_read(reply, "h", &fd);
		r = r < 0 ? -EPROTO : 0;
		if (r == 0) {
			*ret_fd = dup(fd);
			r = *ret_fd < 0 ? -errno : 0;
		}
	}
	sd_bus_message_unref(reply);
	return r;
}

static int flood(bool over_bus, unsigned long n_conn, unsigned long n_binds, unsigned long n_leases,
		 unsigned long pasid_base, const char *until, unsigned long max_seconds)
{
	size_t cap = n_conn + 256, n = 0, n_ids = 0, n_press = 0;
	struct raw_client *raw = calloc(cap, sizeof(*raw));
	sd_bus **buses = calloc(cap, sizeof(*buses));
	uint64_t *ids = calloc(n_binds + 256, sizeof(*ids));
	uint32_t pasid = (uint32_t)pasid_base;

	if (!raw || !buses || !ids)
		return 2;
	/* Connections; over D-Bus a first call, which is when svmd pins the caller. */
	for (unsigned long i = 0; i < n_conn; i++) {
		if (over_bus) {
			int r = count(T_CONNECT, stress_bus_open(bus_address, true, &buses[n]));
			if (r >= 0 && count(T_LIST, bus_call(buses[n], "ListBindings", TIMEOUT_MS,
							     &bus_names, NULL, NULL)) >= 0)
				n++;
			else if (r >= 0)
				buses[n] = sd_bus_flush_close_unref(buses[n]);
		} else if (count(T_CONNECT, raw_open(&raw[n], sock_path, TIMEOUT_MS)) == 0) {
			n++;
		}
	}
	/* Binds that hold no fd in svmd, then leases of them: one fd each. */
	for (unsigned long i = 0; n > 0 && i < n_binds; i++) {
		uint64_t id = 0;
		int r = over_bus ? bus_bind_pgtable(buses[i % n], pasid++, &id)
				 : raw_bind_pgtable(&raw[i % n], device, pasid++, &id);
		if (count(T_BIND, r) == 0)
			ids[n_ids++] = id;
	}
	size_t n_leased = 0;
	for (unsigned long i = 0; i < n_leases && i < n_ids; i++) {
		int fd = -1;
		int r = over_bus ? bus_lease(buses[i % n], ids[i], &fd)
				 : raw_lease(&raw[i % n], ids[i], &fd);
		if (count(T_LEASE, r) == 0) /* the fd stays open: it is the flood */
			n_leased++;
	}
	printf("held_connections=%zu\nheld_bindings=%zu\nheld_leases=%zu\nready=1\n", n, n_ids,
	       n_leased);
	fflush(stdout);

	/* Then more, every 25 ms, until told to stop (at most 256 more of each). */
	uint64_t deadline = now_us() + max_seconds * 1000000;
	while (!stop_now(until, deadline)) {
		sleep_us(25000);
		if (n_press++ >= 256)
			continue;
		if (over_bus) {
			if (count(T_PRESS_CONNECT, stress_bus_open(bus_address, true, &buses[n])) >=
			    0) {
				int r = count(T_PRESS_LIST,
					      bus_call(buses[n], "ListBindings", TIMEOUT_MS,
						       &bus_names, NULL, NULL));
				if (r >= 0)
					n++;
				else
					buses[n] = sd_bus_flush_close_unref(buses[n]);
			}
		} else if (count(T_PRESS_CONNECT, raw_open(&raw[n], sock_path, TIMEOUT_MS)) == 0) {
			n++;
		}
		if (n_binds && n > 0) {
			uint64_t id = 0;
			int fd = -1;
			int r = over_bus ? bus_bind_pgtable(buses[0], pasid++, &id)
					 : raw_bind_pgtable(&raw[0], device, pasid++, &id);
			if (count(T_PRESS_BIND, r) == 0)
				count(T_PRESS_LEASE, over_bus ? bus_lease(buses[0], id, &fd)
							      : raw_lease(&raw[0], id, &fd));
		}
	}
	printf("held_connections_at_end=%zu\n", n);
	return 0;
}

/* A user who wants service: every request of every round must succeed. */
static int serve(unsigned long rounds)
{
	for (unsigned long i = 0; i < rounds; i++) {
		struct raw_client c;
		sd_bus *bus = NULL;
		uint64_t id = 0;
		int fd = -1;

		if (count(T_CONNECT, raw_open(&c, sock_path, TIMEOUT_MS)) == 0) {
			count(T_LIST, raw_list(&c, NULL));
			if (count(T_BIND, raw_bind_task(&c, device, -1, &id)) == 0) {
				count(T_LEASE, raw_lease(&c, id, &fd));
				count(T_UNBIND, raw_unbind(&c, id));
				if (fd >= 0)
					close(fd);
				fd = -1;
			}
			raw_close(&c);
		}
		if (count(T_CONNECT, stress_bus_open(bus_address, true, &bus)) >= 0) {
			sd_bus_message *reply = NULL;
			const char *path;
			uint32_t pasid;
			count(T_LIST,
			      bus_call(bus, "ListBindings", TIMEOUT_MS, &bus_names, NULL, NULL));
			int r = bus_call(bus, "BindTask", TIMEOUT_MS, &bus_names, &reply, "su",
					 device, 0u);
			if (r >= 0 && sd_bus_message_read(reply, "tuo", &id, &pasid, &path) < 0)
				r = -EPROTO;
			reply = sd_bus_message_unref(reply);
			if (count(T_BIND, r) == 0) {
				count(T_LEASE, bus_lease(bus, id, &fd));
				count(T_UNBIND, bus_call(bus, "Unbind", TIMEOUT_MS, &bus_names,
							 NULL, "t", id));
				if (fd >= 0)
					close(fd);
				fd = -1;
			}
			sd_bus_flush_close_unref(bus);
		}
		sleep_us(50000);
	}
	uint64_t failed = 0;
	for (int k = 0; k < _T_MAX; k++)
		failed += tally_total(&t[k]) - tally_count(&t[k], 0);
	printf("served_rounds=%lu\nfailed=%llu\n", rounds, (unsigned long long)failed);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *user = NULL, *until = NULL;
	unsigned long n_conn = 0, n_binds = 0, n_leases = 0, pasid_base = 1, rounds = 10,
		      max_seconds = 120;
	uid_t uid;
	gid_t gid;
	int r;

	for (int i = 1; i < argc; i++) {
		if (opt_str(argv[i], "--mode", &mode) || opt_str(argv[i], "--socket", &sock_path) ||
		    opt_str(argv[i], "--bus", &bus_address) || opt_str(argv[i], "--user", &user) ||
		    opt_str(argv[i], "--device", &device) || opt_str(argv[i], "--until", &until) ||
		    opt_uint(argv[i], "--connections", &n_conn) ||
		    opt_uint(argv[i], "--binds", &n_binds) ||
		    opt_uint(argv[i], "--leases", &n_leases) ||
		    opt_uint(argv[i], "--pasid-base", &pasid_base) ||
		    opt_uint(argv[i], "--rounds", &rounds) ||
		    opt_uint(argv[i], "--max-seconds", &max_seconds))
			continue;
		fprintf(stderr, "stress-fd-flood: unknown argument %s\n", argv[i]);
		return 2;
	}
	if (!mode || !sock_path || !bus_address || !user) {
		fprintf(stderr, "stress-fd-flood: --mode, --socket, --bus and --user are needed\n");
		return 2;
	}
	stress_user(user, &uid, &gid);
	t = tally_new(_T_MAX);
	become(uid, gid);

	if (strcmp(mode, "serve") == 0)
		r = serve(rounds);
	else if (strcmp(mode, "socket") == 0 || strcmp(mode, "bus") == 0)
		r = flood(strcmp(mode, "bus") == 0, n_conn, n_binds, n_leases, pasid_base, until,
			  max_seconds);
	else {
		fprintf(stderr, "stress-fd-flood: --mode is socket, bus or serve\n");
		return 2;
	}
	for (int k = 0; k < _T_MAX; k++)
		if (tally_total(&t[k]))
			tally_print(names[k], &t[k]);
	named_print("bus_replies", &bus_names);
	return r;
}
