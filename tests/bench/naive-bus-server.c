/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The naive D-Bus server `make bench` compares svmd's bus face with: it owns
 * org.svmd.BenchNaive1 and exports BindPgtable (sutua{sv} -> to) and Unbind (t -> ) at
 * /org/svmd/Broker1, interface org.svmd.Broker1, the signatures svmd answers. Like a broker
 * that caches nothing, it asks the bus for the caller's credentials (euid, pid, supplementary
 * groups: what svmd asks once per unique name) on every call, then reads the arguments and
 * replies. Nothing else: no policy, no registry, no signals.
 *
 * Usage: naive-bus-server BUS_ADDRESS   (prints "ready" once the name is owned)
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#define NAIVE_NAME "org.svmd.BenchNaive1"
#define PATH       "/org/svmd/Broker1"
#define IFACE      "org.svmd.Broker1"

static uint64_t next_id = 1;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* What every handler does first: the caller's identity, from the bus, every time. */
static int identify(sd_bus_message *m, sd_bus_error *error)
{
	sd_bus_creds *creds = NULL;
	const gid_t *gids = NULL;
	uid_t uid;
	pid_t pid;
	int r;

	r = sd_bus_query_sender_creds(
		m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS, &creds);
	if (r < 0)
		return sd_bus_error_set_errno(error, r);
	r = sd_bus_creds_get_euid(creds, &uid);
	if (r >= 0)
		r = sd_bus_creds_get_pid(creds, &pid);
	(void)sd_bus_creds_get_supplementary_gids(creds, &gids);
	sd_bus_creds_unref(creds);
	return r < 0 ? sd_bus_error_set_errno(error, r) : 0;
}

static int method_bind_pgtable(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	const char *device;
	uint32_t pasid, width;
	uint64_t gpgd, id = next_id++;
	char path[96];
	int r;

	(void)userdata;
	r = identify(m, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "sutu", &device, &pasid, &gpgd, &width);
	if (r >= 0)
		r = sd_bus_message_skip(m, "a{sv}");
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), PATH "/binding/%" PRIu64, id);
	return sd_bus_reply_method_return(m, "to", id, path);
}

static int method_unbind(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	uint64_t id;
	int r;

	(void)userdata;
	r = identify(m, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "t", &id);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, NULL);
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
		fprintf(stderr, "usage: naive-bus-server BUS_ADDRESS\n");
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
		r = sd_bus_request_name(bus, NAIVE_NAME, 0);
	if (r < 0) {
		fprintf(stderr, "naive-bus-server: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		r = sd_bus_process(bus, NULL);
		if (r < 0) {
			fprintf(stderr, "naive-bus-server: %s\n", strerror(-r));
			return 1;
		}
		if (r > 0)
			continue;
		r = sd_bus_wait(bus, UINT64_MAX);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "naive-bus-server: %s\n", strerror(-r));
			return 1;
		}
	}
	sd_bus_flush_close_unref(bus);
	return 0;
}
