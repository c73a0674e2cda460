/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A client of `make check-system`'s restart checks: holds bindings on one connection across
 * svmd's restarts and answers, on that same connection, when asked.
 *
 *   svmd-restart-client [--bus] [--lease] [--other] [--loop] DEVICE OUT
 *
 * Connects (the socket, or the system bus with --bus), binds itself on DEVICE (with --other:
 * also a child process of its own, which sleeps; with --lease: leases its own binding and keeps
 * the lease fd), writes "bound ID:PASID..." to OUT and waits. On SIGUSR1 it checks, over the
 * same connection, that svmd still lists each of its bindings with the same id and PASID, then
 * binds itself on DEVICE2 (the environment's SVMD_DEVICE2) and unbinds that again, and appends
 * "ok ..." or "bad: what failed" to OUT.
 *
 * With --loop it does that check, bind and unbind again and again, as fast as svmd answers,
 * until SIGTERM, and then appends "loop ok ROUNDS" (or "bad: ..." at the first call that
 * failed, and exits): a client busy while svmd is killed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "svmclient.h"

static volatile sig_atomic_t asked, stopping;

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

struct held {
	uint64_t id;
	uint32_t pasid;
};

static __attribute__((format(printf, 2, 3))) void say(const char *out, const char *fmt, ...)
{
	FILE *f = fopen(out, "a");
	va_list ap;

	if (!f)
		exit(2);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* Whether svmd lists every binding in held as it was made. */
static int check(struct svm_client *c, const struct held *held, size_t n, char *why, size_t len)
{
	struct svm_binding_info *list = NULL;
	size_t n_list = 0;
	int r = svm_list(c, &list, &n_list);

	if (r < 0) {
		snprintf(why, len, "list: %s (%s)", strerror(-r), svm_reason(c));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n_list && list[j].id != held[i].id)
			j++;
		if (j == n_list || list[j].pasid != held[i].pasid) {
			snprintf(why, len, "binding %llu (PASID %u) is %s",
				 (unsigned long long)held[i].id, held[i].pasid,
				 j == n_list ? "not listed" : "listed with another PASID");
			free(list);
			return -ENOENT;
		}
	}
	free(list);
	return 0;
}

/* The check, then (with dev2) a bind on dev2 and its unbind, over c; *ret_id the bind's id. */
static int round_trip(struct svm_client *c, const struct held *held, size_t n, const char *dev2,
		      uint64_t *ret_id, char *why, size_t len)
{
	uint64_t id2 = 0;
	int r = check(c, held, n, why, len);

	if (r == 0 && dev2 && (r = svm_bind_task(c, dev2, -1, 0, &id2, NULL)) < 0)
		snprintf(why, len, "bind on %s: %s (%s)", dev2, strerror(-r), svm_reason(c));
	if (r == 0 && id2 && (r = svm_unbind(c, id2)) < 0)
		snprintf(why, len, "unbind %llu: %s (%s)", (unsigned long long)id2, strerror(-r),
			 svm_reason(c));
	if (ret_id)
		*ret_id = id2;
	return r;
}

int main(int argc, char **argv)
{
	bool bus = false, lease = false, other = false, loop = false;
	struct svm_client *c = NULL;
	struct held held[2];
	size_t n = 0;
	int i = 1, r, lease_fd = -1;
	char why[512];

	for (; i < argc && argv[i][0] == '-'; i++) {
		bus |= strcmp(argv[i], "--bus") == 0;
		lease |= strcmp(argv[i], "--lease") == 0;
		other |= strcmp(argv[i], "--other") == 0;
		loop |= strcmp(argv[i], "--loop") == 0;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: %s [--bus] [--lease] [--other] [--loop] DEVICE OUT\n",
			argv[0]);
		return 2;
	}
	const char *dev = argv[i], *out = argv[i + 1], *dev2 = getenv("SVMD_DEVICE2");
	signal(SIGUSR1, on_usr1);
	r = bus ? svm_connect_bus(NULL, &c) : svm_connect(NULL, &c);
	if (r < 0) {
		say(out, "bad: connect: %s\n", strerror(-r));
		return 1;
	}
	r = svm_bind_task(c, dev, -1, 0, &held[n].id, &held[n].pasid);
	if (r == 0 && lease)
		r = svm_lease(c, held[n].id, &lease_fd);
	if (r == 0)
		n++;
	if (r == 0 && other) {
		/* Asked before the fork: sd-bus refuses a forked child (-ECHILD). */
		int conn = svm_fd(c);
		pid_t child = fork();
		if (child == 0) {
			/* Not a holder of the connection: the session is the parent's alone. */
			close(conn);
			if (lease_fd >= 0)
				close(lease_fd);
			for (;;)
				pause();
		}
		int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
		r = pidfd < 0 ? -errno
			      : svm_bind_task(c, dev, pidfd, 0, &held[n].id, &held[n].pasid);
		if (r == 0)
			n++;
	}
	if (r < 0) {
		say(out, "bad: bind: %s (%s)\n", strerror(-r), svm_reason(c));
		return 1;
	}
	for (size_t k = 0; k < n; k++)
		say(out, "bound %llu:%u\n", (unsigned long long)held[k].id, held[k].pasid);
	if (loop) {
		unsigned long rounds = 0;
		signal(SIGTERM, on_term);
		while (!stopping) {
			r = round_trip(c, held, n, dev2, NULL, why, sizeof(why));
			if (r < 0) {
				say(out, "bad: round %lu: %s\n", rounds, why);
				return 1;
			}
			rounds++;
		}
		say(out, "loop ok %lu\n", rounds);
		return 0;
	}
	for (;;) {
		pause();
		if (!asked)
			continue;
		asked = 0;
		uint64_t id2 = 0;
		r = round_trip(c, held, n, dev2, &id2, why, sizeof(why));
		if (r == 0)
			say(out, "ok %zu %llu\n", n, (unsigned long long)id2);
		else
			say(out, "bad: %s\n", why);
	}
}
