/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-probe: root's view of a running svmd, for the check-stress scripts. Counts the live
 * bindings three ways (LIST over the socket, the NBindings property, the binding objects of
 * GetManagedObjects), can wait for them to reach 0 and for svmd's fds to come back to a
 * baseline, and can ask for a reload.
 *
 *   stress-probe --socket=PATH [--bus=ADDRESS] [--wait-idle=MS] [--pid=PID --fds=N
 *                [--wait-fds=MS]] [--reload]
 *
 * Prints KEY=VALUE lines; exits 0 when every count asked for could be taken (whatever the
 * counts are: the script judges them), 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"
#include "svmclient.h"
#include "svmd-bus.h"

struct counts {
	long socket, nbindings, objects;
};

static long socket_count(const char *path)
{
	struct svm_client *c = NULL;
	struct svm_binding_info *b = NULL;
	size_t n = 0;
	int r = svm_connect(path, &c);

	if (r >= 0)
		r = svm_list(c, &b, &n);
	free(b);
	svm_disconnect(c);
	return r < 0 ? r : (long)n;
}

static long bus_nbindings(sd_bus *bus)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	uint32_t n = 0;
	int r = sd_bus_get_property_trivial(bus, SVMD_BUS_NAME, SVMD_BUS_PATH, SVMD_BUS_INTERFACE,
					    "NBindings", &e, 'u', &n);

	sd_bus_error_free(&e);
	return r < 0 ? r : (long)n;
}

/* The objects under the binding prefix that GetManagedObjects lists (root sees all). */
static long bus_objects(sd_bus *bus)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *path;
	long n = 0;
	int r;

	r = sd_bus_call_method(bus, SVMD_BUS_NAME, SVMD_BUS_PATH,
			       "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &e,
			       &reply, NULL);
	sd_bus_error_free(&e);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		r = sd_bus_message_read(reply, "o", &path);
		if (r >= 0 && strncmp(path, SVMD_BUS_BINDING_PREFIX "/",
				      strlen(SVMD_BUS_BINDING_PREFIX) + 1) == 0)
			n++;
		if (r >= 0)
			r = sd_bus_message_skip(reply, "a{sa{sv}}");
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	sd_bus_message_unref(reply);
	return r < 0 ? r : n;
}

static int take(const char *sock, const char *address, struct counts *c)
{
	sd_bus *bus = NULL;
	int r;

	*c = (struct counts){-1, 0, 0};
	c->socket = socket_count(sock);
	if (c->socket < 0)
		return (int)c->socket;
	if (!address)
		return 0;
	r = stress_bus_open(address, true, &bus);
	if (r < 0)
		return r;
	c->nbindings = bus_nbindings(bus);
	c->objects = bus_objects(bus);
	sd_bus_flush_close_unref(bus);
	if (c->nbindings < 0)
		return (int)c->nbindings;
	if (c->objects < 0)
		return (int)c->objects;
	return 0;
}

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\t')
			*s = ' ';
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *address = NULL;
	unsigned long wait_idle = 0, pid = 0, fds = 0, wait_fds = 0;
	bool reload = false, have_fds = false;
	struct counts c;
	int r, status = 0;

	for (int i = 1; i < argc; i++) {
		if (opt_str(argv[i], "--socket", &sock) || opt_str(argv[i], "--bus", &address) ||
		    opt_uint(argv[i], "--wait-idle", &wait_idle) ||
		    opt_uint(argv[i], "--pid", &pid) || opt_uint(argv[i], "--wait-fds", &wait_fds))
			continue;
		if (opt_uint(argv[i], "--fds", &fds)) {
			have_fds = true;
			continue;
		}
		if (strcmp(argv[i], "--reload") == 0) {
			reload = true;
			continue;
		}
		fprintf(stderr, "stress-probe: unknown argument %s\n", argv[i]);
		return 2;
	}
	if (!sock) {
		fprintf(stderr, "stress-probe: --socket= is needed\n");
		return 2;
	}

	if (reload) {
		struct svm_client *cl = NULL;
		struct svm_reload_result rr = {0};
		char *text = NULL, reason[1024] = "";
		r = svm_connect(sock, &cl);
		if (r >= 0)
			r = svm_reload(cl, &rr, &text);
		if (r < 0 && cl && svm_reason(cl))
			snprintf(reason, sizeof(reason), "%s", svm_reason(cl));
		one_line(reason);
		printf("reload=%s\ngeneration=%" PRIu64 "\nrules=%u\nreload_reason=%s\n",
		       errno_name(r), rr.generation, rr.n_rules, reason);
		free(text);
		svm_disconnect(cl);
		if (r < 0 && r != -EINVAL)
			status = 1;
	}

	uint64_t start = now_us();
	for (;;) {
		r = take(sock, address, &c);
		if (r < 0) {
			printf("probe_error=%s\n", errno_name(r));
			return 1;
		}
		if (!wait_idle || (c.socket == 0 && c.nbindings == 0 && c.objects == 0) ||
		    now_us() - start > wait_idle * 1000)
			break;
		sleep_us(20000);
	}
	printf("bindings=%ld\n", c.socket);
	if (address)
		printf("bus_nbindings=%ld\nbus_objects=%ld\n", c.nbindings, c.objects);
	if (wait_idle)
		printf("idle_ms=%llu\n", (unsigned long long)((now_us() - start) / 1000));

	if (pid && have_fds) {
		int n;
		start = now_us();
		for (;;) {
			n = proc_fd_count((pid_t)pid);
			if (n < 0 || (unsigned long)n <= fds || now_us() - start > wait_fds * 1000)
				break;
			sleep_us(20000);
		}
		if (n < 0) {
			printf("probe_error=svmd-gone\n");
			return 1;
		}
		printf("fds=%d\nfds_ms=%llu\n", n, (unsigned long long)((now_us() - start) / 1000));
	}
	return status;
}
