/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of the check-stress load generators; see stress.h.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
			      .tv_nsec = (long)(us % 1000000u) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void stress_user(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(name);

	if (!pw) {
		fprintf(stderr, "no user %s (tests/stress/lib.sh creates it, as root)\n", name);
		exit(2);
	}
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
}

void become(uid_t uid, gid_t gid)
{
	if (uid == 0 && geteuid() == 0)
		return;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	/* Changing uid made us non-dumpable, as a set-id program is; a user's own processes,
	 * which have exec'd as the user, are dumpable (and svmd binds only those). */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		_exit(126);
}

uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint32_t rnd_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)((rnd(state) >> 32) % n);
}

uint64_t rnd_seed(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0x9e3779b97f4a7c15ull);

	(void)rnd(&s);
	return s ? s : 1;
}

void *shared_new(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

struct tally *tally_new(size_t n)
{
	return shared_new(n * sizeof(struct tally));
}

void tally_add(struct tally *t, int r)
{
	unsigned e = (unsigned)(r < 0 ? -r : r);

	if (e >= TALLY_SLOTS)
		e = TALLY_SLOTS - 1;
	__atomic_fetch_add(&t->n[e], 1, __ATOMIC_RELAXED);
}

uint64_t tally_total(const struct tally *t)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < TALLY_SLOTS; i++)
		sum += __atomic_load_n(&t->n[i], __ATOMIC_RELAXED);
	return sum;
}

uint64_t tally_count(const struct tally *t, int err)
{
	unsigned e = (unsigned)(err < 0 ? -err : err);

	return e < TALLY_SLOTS ? __atomic_load_n(&t->n[e], __ATOMIC_RELAXED) : 0;
}

uint64_t tally_other(const struct tally *t, const int *allowed)
{
	uint64_t sum = 0;

	for (int e = 1; e < TALLY_SLOTS; e++) {
		bool ok = false;
		for (const int *a = allowed; a && *a; a++)
			ok |= *a == e || -*a == e;
		if (!ok)
			sum += tally_count(t, e);
	}
	return sum;
}

const char *errno_name(int err)
{
	static char buf[16];
	const char *s;

	if (err < 0)
		err = -err;
	if (err == 0)
		return "ok";
	s = strerrorname_np(err);
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

void tally_print(const char *key, const struct tally *t)
{
	bool first = true;

	printf("%s=", key);
	for (int e = 0; e < TALLY_SLOTS; e++) {
		uint64_t n = tally_count(t, e);
		if (!n)
			continue;
		printf("%s%s:%llu", first ? "" : ",",
		       e == TALLY_SLOTS - 1 ? "other" : errno_name(e), (unsigned long long)n);
		first = false;
	}
	printf("%s\n", first ? "none" : "");
}

int proc_fd_count(pid_t pid)
{
	char path[64];
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	for (struct dirent *e; (e = readdir(dir));)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int stress_bus_open(const char *address, bool fds, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, true);
	if (r >= 0)
		r = sd_bus_negotiate_fds(bus, fds);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

bool opt_str(const char *arg, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return false;
	*value = arg + n + 1;
	return true;
}

bool opt_uint(const char *arg, const char *name, unsigned long *value)
{
	const char *s;
	char *end;

	if (!opt_str(arg, name, &s))
		return false;
	errno = 0;
	*value = strtoul(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: not a number: %s\n", name, s);
		exit(2);
	}
	return true;
}
