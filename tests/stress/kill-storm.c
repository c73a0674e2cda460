/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-kill-storm: clients of svmd, over the socket and over D-Bus, SIGKILLed at random
 * points of their life: before they connect, while connecting, mid-request, after a bind, while
 * a lease is on its way, after it, or while holding. Each client binds itself, binds another of
 * its processes (by pidfd, as `svmctl bind-task --pid` does) or binds a page table, and may
 * lease the binding and hand the lease to that other process. The other processes die too:
 * with their client (PR_SET_PDEATHSIG), or killed by this driver later, some after many other
 * clients came and went.
 *
 *   stress-kill-storm --socket=PATH --bus=ADDRESS --user=NAME --device=BDF --clients=N
 *                     [--parallel=P] [--seed=S]
 *
 * Prints KEY=VALUE lines: where the clients were killed, the outcome of every request by
 * errno, and `unexpected=` (requests that failed in a way svmd should not fail them, clients
 * that died on their own, clients stuck for 5 s); exit 0 when it ran (the script judges).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress.h"
#include "svmclient.h"

enum stage {
	ST_FORKED,     /* set by the driver before fork() */
	ST_STARTED,    /* the client runs, as its user */
	ST_CONNECTING, /* in svm_connect*() */
	ST_CONNECTED,
	ST_REQUEST, /* a bind on its way */
	ST_BOUND,
	ST_LEASING, /* a lease on its way */
	ST_LEASED,
	ST_HOLDING, /* done, holding what it has */
	ST_FAILED,  /* a request failed: waits to be killed */
	_ST_MAX,
};

static const char *const stage_names[_ST_MAX] = {
	[ST_FORKED] = "before_connect", [ST_STARTED] = "before_connect",
	[ST_CONNECTING] = "connecting", [ST_CONNECTED] = "connected",
	[ST_REQUEST] = "mid_request",   [ST_BOUND] = "after_bind",
	[ST_LEASING] = "mid_lease",     [ST_LEASED] = "after_lease",
	[ST_HOLDING] = "holding",       [ST_FAILED] = "after_failure",
};

/* Shared with the client processes. */
struct slot {
	int stage;
	int bus;         /* front-end: 0 socket, 1 D-Bus */
	pid_t other;     /* the other process the client made, 0 none */
	int other_stays; /* it does not die with the client */
};

enum { T_CONNECT, T_BIND_SELF, T_BIND_OTHER, T_BIND_PGTABLE, T_LEASE, T_UNBIND, _T_MAX };
static const char *const tally_names[_T_MAX] = {"connect",      "bind_self", "bind_other",
						"bind_pgtable", "lease",     "unbind"};

static const char *sock_path, *bus_address, *device;
static struct tally *tallies;
static struct slot *slots;

static void set_stage(struct slot *s, int st)
{
	__atomic_store_n(&s->stage, st, __ATOMIC_RELEASE);
}

static int send_fd(int sock, int fd)
{
	char c = 'L';
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {0};
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* The other process: sleeps, holding whatever lease it is handed, until it is killed. */
static void other_main(int sock, bool dies_with_parent)
{
	if (dies_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		char c;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} control;
		struct iovec iov = {.iov_base = &c, .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.buf,
				    .msg_controllen = sizeof(control.buf)};
		/* The fds received stay open: they are the leases held. */
		if (recvmsg(sock, &mh, 0) <= 0)
			for (;;)
				pause();
	}
}

static int check(int which, int r)
{
	tally_add(&tallies[which], r);
	return r;
}

static _Noreturn void fail_and_wait(struct slot *s)
{
	set_stage(s, ST_FAILED);
	for (;;)
		pause();
}

/* Sometimes stays a moment where it is, so that kills land there too. */
static void dwell(uint64_t *rs)
{
	if (rnd_below(rs, 2))
		sleep_us(rnd_below(rs, 1000));
}

static _Noreturn void client_main(size_t i, uint64_t seed)
{
	struct slot *s = &slots[i];
	struct svm_client *c = NULL;
	uint64_t rs = rnd_seed(seed, i);
	int pair[2] = {-1, -1}, pidfd = -1, r;
	unsigned n_ops = 1 + rnd_below(&rs, 3);
	/* A process is bound once per device: the bindings of each, while they last. */
	uint64_t self_id = 0, other_id = 0;

	set_stage(s, ST_STARTED);
	/* Half the clients make another process first: a bind target and a lease holder. */
	if (rnd_below(&rs, 2)) {
		bool stays = rnd_below(&rs, 2);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
			fail_and_wait(s);
		pid_t pid = fork();
		if (pid < 0)
			fail_and_wait(s);
		if (pid == 0) {
			close(pair[0]);
			other_main(pair[1], !stays);
		}
		close(pair[1]);
		s->other_stays = stays;
		__atomic_store_n(&s->other, pid, __ATOMIC_RELEASE);
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	}
	set_stage(s, ST_CONNECTING);
	r = s->bus ? svm_connect_bus(bus_address, &c) : svm_connect(sock_path, &c);
	if (check(T_CONNECT, r) < 0)
		fail_and_wait(s);
	set_stage(s, ST_CONNECTED);
	dwell(&rs);

	for (unsigned op = 0; op < n_ops; op++) {
		uint64_t id = 0, *bound = NULL;
		int kind = rnd_below(&rs, 3);

		if ((kind == 0 && self_id) || (kind == 2 && (other_id || pidfd < 0)))
			kind = 1;
		set_stage(s, ST_REQUEST);
		if (kind == 0) {
			r = check(T_BIND_SELF, svm_bind_task(c, device, -1, 0, &id, NULL));
			bound = &self_id;
		} else if (kind == 2) {
			r = check(T_BIND_OTHER, svm_bind_task(c, device, pidfd, 0, &id, NULL));
			bound = &other_id;
		} else {
			struct svm_pgtable pg = {
				.pasid = 1 + rnd_below(&rs, 0xffffe),
				.addr_width = 48,
				.gpgd = 0x1000ull * (1 + rnd_below(&rs, 1u << 20)),
			};
			r = svm_bind_pgtable(c, device, &pg, &id);
			check(T_BIND_PGTABLE, r);
			if (r == -EBUSY) /* another client has that PASID: not svmd's fault */
				continue;
		}
		if (r < 0)
			fail_and_wait(s);
		if (bound)
			*bound = id;
		set_stage(s, ST_BOUND);
		dwell(&rs);
		switch (rnd_below(&rs, 4)) {
		case 0: /* unbind it again */
			set_stage(s, ST_REQUEST);
			if (check(T_UNBIND, svm_unbind(c, id)) < 0)
				fail_and_wait(s);
			if (bound)
				*bound = 0;
			break;
		case 1:
		case 2: { /* lease it, and maybe hand the lease to the other process */
			int lease = -1;
			set_stage(s, ST_LEASING);
			if (check(T_LEASE, svm_lease(c, id, &lease)) < 0)
				fail_and_wait(s);
			set_stage(s, ST_LEASED);
			if (pair[0] >= 0 && rnd_below(&rs, 2) && send_fd(pair[0], lease) == 0)
				close(lease);
			dwell(&rs);
			break;
		}
		default: /* keep it in the session */
			break;
		}
	}
	set_stage(s, ST_HOLDING);
	for (;;)
		pause();
}

struct active {
	pid_t pid;
	size_t slot;
	int target; /* the stage at which it is killed */
	uint64_t kill_at, deadline;
};

static unsigned long n_clients, parallel = 24;
static uint64_t killed_at[_ST_MAX], stuck, crashed, others_killed_late, others_killed_now;
static pid_t *late; /* others that outlive their client for a while */
static size_t n_late;

static void kill_other(size_t i, bool now)
{
	pid_t other = __atomic_load_n(&slots[i].other, __ATOMIC_ACQUIRE);

	if (other <= 0)
		return;
	if (now || !slots[i].other_stays) {
		kill(other, SIGKILL);
		others_killed_now++;
		return;
	}
	late[n_late++] = other;
}

/* Orphans come to us (we are their subreaper): reap whatever has exited. */
static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Kills every process still our child (orphaned others that were never announced). */
static void kill_children(void)
{
	DIR *d = opendir("/proc");
	pid_t self = getpid();

	for (struct dirent *e; d && (e = readdir(d));) {
		char path[64], line[128];
		int ppid = -1;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "PPid: %d", &ppid) == 1)
				break;
		fclose(f);
		if (ppid == self)
			kill(pid, SIGKILL);
	}
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	const char *user = NULL;
	unsigned long seed = 1;
	uid_t uid;
	gid_t gid;

	for (int i = 1; i < argc; i++) {
		if (opt_str(argv[i], "--socket", &sock_path) ||
		    opt_str(argv[i], "--bus", &bus_address) || opt_str(argv[i], "--user", &user) ||
		    opt_str(argv[i], "--device", &device) ||
		    opt_uint(argv[i], "--clients", &n_clients) ||
		    opt_uint(argv[i], "--parallel", &parallel) ||
		    opt_uint(argv[i], "--seed", &seed))
			continue;
		fprintf(stderr, "stress-kill-storm: unknown argument %s\n", argv[i]);
		return 2;
	}
	if (!sock_path || !bus_address || !user || !device || !n_clients || !parallel) {
		fprintf(stderr, "stress-kill-storm: --socket, --bus, --user, --device and "
				"--clients are needed\n");
		return 2;
	}
	stress_user(user, &uid, &gid);
	tallies = tally_new(_T_MAX);
	slots = shared_new(n_clients * sizeof(*slots));
	late = calloc(n_clients, sizeof(*late));
	struct active *act = calloc(parallel, sizeof(*act));
	if (!late || !act)
		return 2;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);

	uint64_t rs = rnd_seed(seed, 0), start = now_us(), n_bus = 0;
	size_t launched = 0, n_active = 0;
	while (launched < n_clients || n_active > 0) {
		bool busy = false;
		while (n_active < parallel && launched < n_clients) {
			size_t i = launched++;
			struct active *a = &act[n_active];
			slots[i] = (struct slot){.stage = ST_FORKED, .bus = (int)rnd_below(&rs, 2)};
			n_bus += (uint64_t)slots[i].bus;
			/* Where to kill it: every stage about as often, before connect included. */
			static const int targets[] = {ST_FORKED,  ST_CONNECTING, ST_CONNECTED,
						      ST_REQUEST, ST_BOUND,      ST_LEASING,
						      ST_LEASED,  ST_HOLDING};
			a->target = targets[rnd_below(&rs, sizeof(targets) / sizeof(targets[0]))];
			a->slot = i;
			a->kill_at = 0;
			a->deadline = now_us() + 5000000;
			a->pid = fork();
			if (a->pid < 0) {
				perror("fork");
				return 2;
			}
			if (a->pid == 0) {
				become(uid, gid);
				client_main(i, seed);
			}
			n_active++;
			busy = true;
		}
		for (size_t k = 0; k < n_active; k++) {
			struct active *a = &act[k];
			int st = __atomic_load_n(&slots[a->slot].stage, __ATOMIC_ACQUIRE);
			uint64_t now = now_us();
			if (!a->kill_at) {
				if (st < a->target && st != ST_FAILED && now < a->deadline)
					continue;
				if (now >= a->deadline && st < a->target && st != ST_HOLDING &&
				    st != ST_FAILED)
					stuck++;
				/* Then a little later, so the kill lands anywhere in the step. */
				a->kill_at = now + rnd_below(&rs, 300);
			}
			if (now < a->kill_at)
				continue;
			st = __atomic_load_n(&slots[a->slot].stage, __ATOMIC_ACQUIRE);
			int status;
			if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
				crashed++; /* a client never ends by itself */
			} else {
				kill(a->pid, SIGKILL);
				waitpid(a->pid, &status, 0);
				killed_at[st]++;
			}
			kill_other(a->slot, rnd_below(&rs, 2));
			act[k--] = act[--n_active];
			busy = true;
		}
		/* The others left alive are killed a few hundred clients later. */
		if (n_late > 2 * parallel) {
			for (size_t k = 0; k < n_late; k++)
				kill(late[k], SIGKILL);
			others_killed_late += n_late;
			n_late = 0;
		}
		reap();
		if (!busy)
			sleep_us(50);
	}
	for (size_t k = 0; k < n_late; k++)
		kill(late[k], SIGKILL);
	others_killed_late += n_late;
	/* Others announced after their client was killed, and any not announced at all. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < n_clients; i++)
			if (__atomic_load_n(&slots[i].other, __ATOMIC_ACQUIRE) > 0)
				kill(slots[i].other, SIGKILL);
		kill_children();
		sleep_us(20000);
		reap();
	}
	while (waitpid(-1, NULL, 0) > 0)
		;

	uint64_t unexpected = stuck + crashed;
	static const int none[] = {0}, busy_only[] = {EBUSY, 0};
	for (int t = 0; t < _T_MAX; t++)
		unexpected += tally_other(&tallies[t], t == T_BIND_PGTABLE ? busy_only : none);

	printf("clients=%lu\nsocket_clients=%llu\nbus_clients=%llu\n", n_clients,
	       (unsigned long long)(n_clients - n_bus), (unsigned long long)n_bus);
	for (int st = 0; st < _ST_MAX; st++) {
		uint64_t n = 0;
		for (int k = 0; k < _ST_MAX; k++)
			if (strcmp(stage_names[k], stage_names[st]) == 0)
				n += killed_at[k];
		if (st == ST_FORKED || strcmp(stage_names[st], stage_names[st - 1]) != 0)
			printf("killed_%s=%llu\n", stage_names[st], (unsigned long long)n);
	}
	printf("others_killed_with_client=%llu\nothers_killed_later=%llu\n",
	       (unsigned long long)others_killed_now, (unsigned long long)others_killed_late);
	for (int t = 0; t < _T_MAX; t++)
		tally_print(tally_names[t], &tallies[t]);
	printf("stuck=%llu\ncrashed=%llu\nunexpected=%llu\nseconds=%.1f\n",
	       (unsigned long long)stuck, (unsigned long long)crashed,
	       (unsigned long long)unexpected, (double)(now_us() - start) / 1e6);
	return 0;
}
