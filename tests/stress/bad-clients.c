/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-bad-clients: clients that misbehave on svmd's socket, all as one user, while a
 * canary of another user measures how long svmd takes to serve it. The misbehaving kinds run
 * at once, each its own process:
 *   slow        many connections, some never saying hello, the others sending a request now
 *               and then
 *   half-sent   records cut short: a header alone, less than a header, a length beyond the
 *               record, an empty record
 *   non-reading requests pipelined without reading a reply, so svmd holds one and stops
 *               reading from it (until its 10 s deadline drops it)
 *   malformed   bad magic, version, opcode, sizes, reserved fields, device names; a request
 *               before HELLO, a second HELLO, a reply sent as a request, oversized records
 *   fd-flooding records carrying fds where none are taken, the most fds a record may carry,
 *               more than that, fds of every kind (its own socket to svmd included), and
 *               control messages other than SCM_RIGHTS
 * The canary first runs alone for --baseline-seconds, then with the others for --seconds: a
 * page-table bind and its unbind on a long-lived connection every 2 ms, a fresh connection
 * every 50 ms and a ListBindings over D-Bus every 50 ms; each exchange with a 3 s deadline.
 *
 *   stress-bad-clients --socket=PATH --bus=ADDRESS --user=NAME --canary-user=NAME
 *                      [--seconds=S] [--baseline-seconds=S] [--device=BDF] [--seed=N]
 *
 * Prints KEY=VALUE lines: for each phase the canary's p50/p99/max in microseconds per kind of
 * exchange and its failures; for each bad kind, what it sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"
#include "svmd-proto.h"
#include "svmd-wire.h"

static const char *sock_path, *bus_address, *device = "0000:3b:00.0";

enum kind { K_SLOW, K_HALF, K_NONREAD, K_MALFORMED, K_FDS, _K_MAX };
static const char *const kind_names[_K_MAX] = {"slow", "half_sent", "non_reading", "malformed",
					       "fd_flooding"};

/* What each bad kind did, shared with the driver. */
struct bad_stats {
	uint64_t connections, records, fds_sent, refused;
};
static struct bad_stats *stats;

static int open_raw(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void count(struct bad_stats *s, uint64_t conns, uint64_t recs, uint64_t fds)
{
	__atomic_fetch_add(&s->connections, conns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->records, recs, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->fds_sent, fds, __ATOMIC_RELAXED);
}

static int hello_rec(void *rec)
{
	struct svmd_hello_req h = {.version_min = 1, .version_max = 1};

	return svmd_frame(rec, SVMD_OP_HELLO, 1, &h, sizeof(h));
}

/* A connection that said hello and read the answer; -1 if svmd would not have it. */
static int open_hello(struct bad_stats *s)
{
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	int fds[SVMD_FDS_MAX];
	size_t n_fds;
	int fd = open_raw(), n;

	if (fd < 0)
		return -1;
	n = hello_rec(rec);
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (svmd_send(fd, rec, (size_t)n, NULL, 0, 0) < 0 ||
	    svmd_recv(fd, rec, fds, &n_fds, 0) <= 0) {
		__atomic_fetch_add(&s->refused, 1, __ATOMIC_RELAXED);
		close(fd);
		return -1;
	}
	count(s, 1, 1, 0);
	return fd;
}

/* Sends raw bytes as one record with these fds (any number) and, optionally, credentials. */
static void send_raw(int fd, const void *buf, size_t len, const int *fds, size_t n_fds, bool creds)
{
	size_t space = (n_fds ? CMSG_SPACE(sizeof(int) * n_fds) : 0) +
		       (creds ? CMSG_SPACE(sizeof(struct ucred)) : 0);
	char *control = space ? calloc(1, space) : NULL;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = space};

	if (space && !control)
		return;
	if (space) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (n_fds) {
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
			cm = CMSG_NXTHDR(&mh, cm);
		}
		if (creds && cm) {
			struct ucred uc = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_CREDENTIALS;
			cm->cmsg_len = CMSG_LEN(sizeof(uc));
			memcpy(CMSG_DATA(cm), &uc, sizeof(uc));
		}
	}
	(void)sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(control);
}

/* Waits a little for svmd to close fd (it should, at once, for a malformed record). */
static void drain_close(int fd)
{
	char buf[SVMD_RECORD_MAX];
	struct timeval tv = {.tv_usec = 20000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
}

static void run_slow(uint64_t deadline, uint64_t *rs)
{
	struct bad_stats *s = &stats[K_SLOW];
	int conns[48];
	size_t n = 0;

	while (now_us() < deadline) {
		if (n < 48) {
			/* Every third one never says hello. */
			int fd = rnd_below(rs, 3) ? open_hello(s) : open_raw();
			if (fd >= 0)
				conns[n++] = fd;
		} else {
			/* A request now and then on one of them; svmd answers, we read it later. */
			_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
			struct svmd_devices_req req = {0};
			size_t k = rnd_below(rs, 48);
			int len = svmd_frame(rec, SVMD_OP_DEVICES, 2, &req, sizeof(req));
			send_raw(conns[k], rec, (size_t)len, NULL, 0, false);
			count(s, 0, 1, 0);
			while (recv(conns[k], rec, sizeof(rec), MSG_DONTWAIT) > 0)
				;
			if (rnd_below(rs, 8) == 0) { /* and a new one instead of another */
				close(conns[k]);
				conns[k] = conns[--n];
			}
		}
		sleep_us(20000);
	}
}

static void run_half(uint64_t deadline, uint64_t *rs)
{
	struct bad_stats *s = &stats[K_HALF];
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];

	while (now_us() < deadline) {
		int fd = rnd_below(rs, 2) ? open_hello(s) : open_raw();
		if (fd < 0) {
			sleep_us(5000);
			continue;
		}
		int len = hello_rec(rec);
		struct svmd_hdr h;
		memcpy(&h, rec, sizeof(h));
		switch (rnd_below(rs, 5)) {
		case 0: /* the header alone, its len says 8 more */
			send_raw(fd, rec, sizeof(h), NULL, 0, false);
			break;
		case 1: /* less than a header */
			send_raw(fd, rec, 1 + rnd_below(rs, sizeof(h) - 1), NULL, 0, false);
			break;
		case 2: /* a len beyond the record */
			h.len = 8 + 1 + rnd_below(rs, 4000);
			memcpy(rec, &h, sizeof(h));
			send_raw(fd, rec, (size_t)len, NULL, 0, false);
			break;
		case 3: /* an empty record */
			send_raw(fd, rec, 0, NULL, 0, false);
			break;
		default: /* part of the payload */
			send_raw(fd, rec, (size_t)len - 1 - rnd_below(rs, 7), NULL, 0, false);
			break;
		}
		count(s, 1, 1, 0);
		drain_close(fd);
		sleep_us(2000);
	}
}

static void run_nonread(uint64_t deadline, uint64_t *rs)
{
	struct bad_stats *s = &stats[K_NONREAD];
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	struct svmd_devices_req req = {0};
	int conns[8];
	size_t n = 0;

	(void)rs;
	while (now_us() < deadline) {
		if (n == 8) { /* the oldest goes: svmd may have dropped it already */
			close(conns[0]);
			memmove(conns, conns + 1, sizeof(conns[0]) * --n);
		}
		int fd = open_hello(s);
		if (fd < 0) {
			sleep_us(100000);
			continue;
		}
		int len = svmd_frame(rec, SVMD_OP_DEVICES, 2, &req, sizeof(req));
		/* Until the socket is full: svmd stops reading once its reply cannot go. */
		for (int i = 0; i < 4000; i++) {
			ssize_t k = send(fd, rec, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k < 0)
				break;
			count(s, 0, 1, 0);
		}
		conns[n++] = fd;
		sleep_us(500000);
	}
	for (size_t i = 0; i < n; i++)
		close(conns[i]);
}

static void run_malformed(uint64_t deadline, uint64_t *rs)
{
	struct bad_stats *s = &stats[K_MALFORMED];
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX * 2];

	while (now_us() < deadline) {
		bool hello = rnd_below(rs, 4) != 0;
		int fd = hello ? open_hello(s) : open_raw();
		size_t len;
		if (fd < 0) {
			sleep_us(5000);
			continue;
		}
		struct svmd_bind_pgtable_req pg = {
			.pasid = 1, .addr_width = 48, .gpgd = 0x10000, .format = 1};
		svmd_set_name(pg.device, sizeof(pg.device), device);
		len = (size_t)svmd_frame(rec, SVMD_OP_BIND_PGTABLE, 7, &pg, sizeof(pg));
		struct svmd_hdr *h = (struct svmd_hdr *)(void *)rec;
		unsigned char *p = rec + sizeof(*h);
		switch (rnd_below(rs, 12)) {
		case 0:
			h->magic ^= 1u << rnd_below(rs, 32);
			break;
		case 1:
			h->version = (uint16_t)(2 + rnd_below(rs, 0xfffe));
			break;
		case 2: /* a reply opcode, or a HELLO again */
			h->opcode = rnd_below(rs, 2) ? (uint16_t)(SVMD_OP_BIND_PGTABLE | SVMD_REPLY)
						     : SVMD_OP_HELLO;
			break;
		case 3: /* the wrong size for the opcode */
			h->opcode = (uint16_t)(1 + rnd_below(rs, _SVMD_OP_MAX - 1));
			break;
		case 4: /* non-zero reserved field */
			pg.reserved = 1 + rnd_below(rs, 1000);
			memcpy(p, &pg, sizeof(pg));
			break;
		case 5: /* unknown flag bits */
			pg.flags = 2ull << rnd_below(rs, 62);
			memcpy(p, &pg, sizeof(pg));
			break;
		case 6: /* a device name that is not one */
			for (int i = 0; i < 16; i++)
				p[i] = (unsigned char)rnd(rs);
			break;
		case 7: /* an oversized record */
			memset(rec + len, 0, sizeof(rec) - len);
			h->len = (uint32_t)(sizeof(rec) - sizeof(*h));
			len = sizeof(rec);
			break;
		case 8: /* random bytes */
			len = 1 + rnd_below(rs, SVMD_RECORD_MAX);
			for (size_t i = 0; i < len; i++)
				rec[i] = (unsigned char)rnd(rs);
			break;
		case 9: /* an unknown opcode, well framed: answered, and the client stays */
			h->opcode = (uint16_t)(_SVMD_OP_MAX + rnd_below(rs, 0x7f00));
			break;
		default: /* flip a byte of a good request */
			rec[rnd_below(rs, (uint32_t)len)] ^=
				(unsigned char)(1 + rnd_below(rs, 255));
			break;
		}
		send_raw(fd, rec, len, NULL, 0, false);
		count(s, 1, 1, 0);
		drain_close(fd);
		sleep_us(300);
	}
}

static void run_fds(uint64_t deadline, uint64_t *rs)
{
	struct bad_stats *s = &stats[K_FDS];
	_Alignas(8) unsigned char rec[SVMD_RECORD_MAX];
	int pool[64];
	size_t n_pool = 0;

	/* Fds of many kinds to send: pipes, eventfds, memfds, /dev/null, a directory, sockets,
	 * pidfds of ourselves. */
	while (n_pool + 2 <= 40) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) == 0) {
			pool[n_pool++] = p[0];
			pool[n_pool++] = p[1];
		}
		pool[n_pool++] = eventfd(0, EFD_CLOEXEC);
		pool[n_pool++] = open("/dev/null", O_RDWR | O_CLOEXEC);
		pool[n_pool++] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		pool[n_pool++] = (int)syscall(SYS_pidfd_open, getpid(), 0);
	}
	while (now_us() < deadline) {
		int fd = open_hello(s);
		int fds[253];
		size_t n = 0;
		if (fd < 0) {
			sleep_us(5000);
			continue;
		}
		int len;
		switch (rnd_below(rs, 6)) {
		case 0: { /* as many fds as a record may carry, on a request that takes none */
			struct svmd_devices_req req = {0};
			len = svmd_frame(rec, SVMD_OP_DEVICES, 2, &req, sizeof(req));
			n = SVMD_FDS_MAX;
			break;
		}
		case 1: { /* far more than that */
			struct svmd_devices_req req = {0};
			len = svmd_frame(rec, SVMD_OP_DEVICES, 2, &req, sizeof(req));
			n = SVMD_FDS_MAX + 1 + rnd_below(rs, 248);
			break;
		}
		case 2: { /* a task bind with an fd that is not a pidfd: answered EBADF */
			struct svmd_bind_task_req req = {0};
			svmd_set_name(req.device, sizeof(req.device), device);
			len = svmd_frame(rec, SVMD_OP_BIND_TASK, 2, &req, sizeof(req));
			n = 1;
			break;
		}
		case 3: { /* our own socket to svmd, inside a record to it */
			struct svmd_devices_req req = {0};
			len = svmd_frame(rec, SVMD_OP_DEVICES, 2, &req, sizeof(req));
			fds[0] = fd;
			n = 1;
			send_raw(fd, rec, (size_t)len, fds, n, false);
			count(s, 0, 1, n);
			drain_close(fd);
			continue;
		}
		case 4: { /* credentials: a control message svmd does not take */
			struct svmd_devices_req req = {0};
			len = svmd_frame(rec, SVMD_OP_DEVICES, 2, &req, sizeof(req));
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
			send_raw(fd, rec, (size_t)len, NULL, 0, true);
			count(s, 0, 1, 0);
			drain_close(fd);
			continue;
		}
		default: { /* four fds on a lease request */
			struct svmd_id_req req = {.id = rnd(rs)};
			len = svmd_frame(rec, SVMD_OP_LEASE, 2, &req, sizeof(req));
			n = SVMD_FDS_MAX;
			break;
		}
		}
		for (size_t i = 0; i < n; i++)
			fds[i] = pool[rnd_below(rs, (uint32_t)n_pool)];
		send_raw(fd, rec, (size_t)len, fds, n, false);
		count(s, 1, 1, n);
		drain_close(fd);
		sleep_us(1000);
	}
}

/* The canary: latencies in microseconds, per kind of exchange. */
enum { C_REQUEST, C_CONNECT, C_BUS, _C_MAX };
static const char *const canary_names[_C_MAX] = {"request", "connect", "bus"};

struct samples {
	uint64_t *v;
	size_t n, cap;
	uint64_t failed;
};

static void sample(struct samples *s, uint64_t us)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			exit(2);
	}
	s->v[s->n++] = us;
}

static void canary(const char *phase, uint64_t seconds)
{
	struct samples sm[_C_MAX] = {{0}};
	struct named_tally errors = {0};
	struct raw_client c;
	sd_bus *bus = NULL;
	uint64_t deadline = now_us() + seconds * 1000000, next_connect = 0, next_bus = 0;
	uint32_t pasid = 1;
	int r;

	r = raw_open(&c, sock_path, 3000);
	if (r < 0)
		named_add(&errors, errno_name(r));
	r = stress_bus_open(bus_address, true, &bus);
	if (r < 0)
		named_add(&errors, errno_name(r));
	while (now_us() < deadline) {
		uint64_t t0 = now_us(), id = 0;
		if (c.fd < 0 && raw_open(&c, sock_path, 3000) < 0)
			sm[C_REQUEST].failed++;
		if (c.fd >= 0) {
			r = raw_bind_pgtable(&c, device, pasid, &id);
			if (r == 0)
				r = raw_unbind(&c, id);
			if (r == 0) {
				sample(&sm[C_REQUEST], (now_us() - t0) / 2);
			} else {
				sm[C_REQUEST].failed++;
				named_add(&errors, errno_name(r));
				if (r == -ECONNRESET || r == -ETIMEDOUT || r == -EPROTO)
					raw_close(&c);
			}
			pasid = pasid % 1000 + 1;
		}
		if (t0 >= next_connect) {
			struct raw_client fresh;
			uint64_t t1 = now_us();
			r = raw_open(&fresh, sock_path, 3000);
			if (r == 0) {
				sample(&sm[C_CONNECT], now_us() - t1);
				raw_close(&fresh);
			} else {
				sm[C_CONNECT].failed++;
				named_add(&errors, errno_name(r));
			}
			next_connect = t0 + 50000;
		}
		if (bus && t0 >= next_bus) {
			uint64_t t1 = now_us();
			r = bus_call(bus, "ListBindings", 3000, NULL, NULL, NULL);
			if (r == 0) {
				sample(&sm[C_BUS], now_us() - t1);
			} else {
				sm[C_BUS].failed++;
				named_add(&errors, errno_name(r));
			}
			next_bus = t0 + 50000;
		}
		sleep_us(2000);
	}
	raw_close(&c);
	sd_bus_flush_close_unref(bus);
	for (int k = 0; k < _C_MAX; k++) {
		uint64_t max = 0;
		for (size_t i = 0; i < sm[k].n; i++)
			max = sm[k].v[i] > max ? sm[k].v[i] : max;
		printf("%s_%s_n=%zu\n%s_%s_failed=%llu\n", phase, canary_names[k], sm[k].n, phase,
		       canary_names[k], (unsigned long long)sm[k].failed);
		printf("%s_%s_p50_us=%llu\n", phase, canary_names[k],
		       (unsigned long long)percentile(sm[k].v, sm[k].n, 50));
		printf("%s_%s_p99_us=%llu\n%s_%s_max_us=%llu\n", phase, canary_names[k],
		       (unsigned long long)percentile(sm[k].v, sm[k].n, 99), phase, canary_names[k],
		       (unsigned long long)max);
		free(sm[k].v);
	}
	named_print(phase[0] == 'b' ? "baseline_errors" : "flood_errors", &errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *user = NULL, *canary_user = NULL;
	unsigned long seconds = 15, baseline_seconds = 3, seed = 1;
	uid_t uid, cuid;
	gid_t gid, cgid;
	pid_t pids[_K_MAX];

	for (int i = 1; i < argc; i++) {
		if (opt_str(argv[i], "--socket", &sock_path) ||
		    opt_str(argv[i], "--bus", &bus_address) || opt_str(argv[i], "--user", &user) ||
		    opt_str(argv[i], "--canary-user", &canary_user) ||
		    opt_str(argv[i], "--device", &device) ||
		    opt_uint(argv[i], "--seconds", &seconds) ||
		    opt_uint(argv[i], "--baseline-seconds", &baseline_seconds) ||
		    opt_uint(argv[i], "--seed", &seed))
			continue;
		fprintf(stderr, "stress-bad-clients: unknown argument %s\n", argv[i]);
		return 2;
	}
	if (!sock_path || !bus_address || !user || !canary_user) {
		fprintf(stderr, "stress-bad-clients: --socket, --bus, --user and --canary-user are "
				"needed\n");
		return 2;
	}
	stress_user(user, &uid, &gid);
	stress_user(canary_user, &cuid, &cgid);
	stats = shared_new(_K_MAX * sizeof(*stats));
	signal(SIGPIPE, SIG_IGN);

	pid_t cpid = fork();
	if (cpid == 0) {
		become(cuid, cgid);
		canary("baseline", baseline_seconds);
		_exit(0);
	}
	waitpid(cpid, NULL, 0);

	uint64_t deadline = now_us() + seconds * 1000000;
	printf("flood_start_unix=%lld\n", (long long)time(NULL));
	fflush(stdout);
	for (int k = 0; k < _K_MAX; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			uint64_t rs = rnd_seed(seed, (uint64_t)k + 1);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			become(uid, gid);
			switch (k) {
			case K_SLOW:
				run_slow(deadline, &rs);
				break;
			case K_HALF:
				run_half(deadline, &rs);
				break;
			case K_NONREAD:
				run_nonread(deadline, &rs);
				break;
			case K_MALFORMED:
				run_malformed(deadline, &rs);
				break;
			default:
				run_fds(deadline, &rs);
				break;
			}
			_exit(0);
		}
	}
	cpid = fork();
	if (cpid == 0) {
		become(cuid, cgid);
		sleep_us(200000); /* the bad ones get going first */
		canary("flood", seconds - 1);
		_exit(0);
	}
	waitpid(cpid, NULL, 0);
	for (int k = 0; k < _K_MAX; k++) {
		kill(pids[k], SIGKILL);
		waitpid(pids[k], NULL, 0);
	}
	printf("flood_end_unix=%lld\n", (long long)time(NULL));
	for (int k = 0; k < _K_MAX; k++)
		printf("%s_connections=%llu\n%s_records=%llu\n%s_fds=%llu\n%s_refused=%llu\n",
		       kind_names[k], (unsigned long long)stats[k].connections, kind_names[k],
		       (unsigned long long)stats[k].records, kind_names[k],
		       (unsigned long long)stats[k].fds_sent, kind_names[k],
		       (unsigned long long)stats[k].refused);
	return 0;
}
