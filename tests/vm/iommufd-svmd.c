/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd on the test kernel (tests/vm/kernel.sh), inside the QEMU guest of tests/vm/run-kernel.sh:
 * this program (root) starts svmd on the two edu functions, forks clients that drop to the
 * unprivileged users of the guest's /etc/passwd, and checks what the kernel answers them. One
 * "PASS name: detail" or "FAIL name: detail" line per check; exits 1 when any failed.
 *
 *   iommufd-svmd BDF0 BDF1    the two edu functions, already bound to vfio-pci
 *   iommufd-svmd --list       the names of the checks, one a line
 *
 * First the plumbing, on the simulated kernel. Then svmd --backend=iommufd on the edus, and
 * what its clients get, checked by the kernel's answers rather than svmd's bookkeeping: DMA
 * through what a client mapped (edu moving the client's memfd), IOMMU faults in the kernel log
 * for what it did not map, svmd's pinned memory in /proc/PID/status, the object ids a device
 * fd can attach to; the policy's byte quota and IOVA range; a second client on the other edu,
 * whose memory the first cannot reach. Last, svmd --test-mock-devices=2 on the kernel's mock
 * IOMMU (IOMMUFD_TEST): page-table binds at the RID and at PASIDs, their checks, invalidate,
 * unbind and release, each checked against the mock's own state (see mock_part()).
 *
 * It needs /usr/bin/svmd and the users svmd-vm-a and svmd-vm-b (both in group svmd-vm), which
 * run-kernel.sh puts into the guest. Built against the test kernel's uAPI headers and
 * libsvmclient.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iommufd_test.h>

#include "edu.h"
#include "svmclient.h"

#define SVMD          "/usr/bin/svmd"
#define WORK          "/tmp/svmd-vm"
#define POLICY_DIR    WORK "/policy.d"
#define POLICY_FILE   POLICY_DIR "/50-vm.policy"
#define SIM_TOPOLOGY  WORK "/sim-topology"
#define SOCKET        "/run/svmd/svmd.sock"
#define SECOND_SOCKET "/run/svmd/second.sock"
#define USER_A        "svmd-vm-a"
#define USER_B        "svmd-vm-b"
#define GROUP_AB      "svmd-vm"
/* The seed's ioctl, which no kernel has: _IO(VFIO_TYPE, VFIO_BASE + 22). */
#define SEED_SVM_BIND _IO(';', 122)

static const char *const checks[] = {
	/* The plumbing, on the simulated kernel: svmd, the users, the policy. */
	"sim-svmd-serves",
	"client-drops-root",
	"client-cannot-open-cdev",
	"sim-client-hello",
	"sim-policy-by-name",
	/* svmd on the iommufd backend, on the edus. */
	"svmd-serves",
	"svmd-owns-devices",
	"second-svmd-refused",
	/* One client, all of its life. */
	"client-hello",
	"map",
	"open-device",
	"pinned-charged",
	"read-only-map-enforced",
	"unmapped-iova-faults",
	"dma-through-svmd",
	"seed-ioctl-enotty",
	"bind-task-unsupported",
	"bind-pgtable-unsupported",
	"policy-max-bytes",
	"policy-iova-range",
	"unmap-revokes",
	"session-end-revokes-dma",
	"session-end-destroys-ioas",
	"session-end-unpins",
	/* Two clients, each with its own edu. */
	"isolation-attach-scan",
	"isolation-other-untouched",
	/* svmd's end. */
	"no-seccomp-refusals",
	"svmd-clean-exit",
	/* svmd --test-mock-devices: the kernel's mock IOMMU, checked against the mock's state. */
	"mock-svmd-serves",
	"mock-device-info",
	"mock-open-device-refused",
	"mock-bind-rid",
	"mock-bind-pasid",
	"mock-pasid-busy",
	"mock-pasid-busy-kernel",
	"mock-pasid-beyond-width",
	"mock-pasid-beyond-width-kernel",
	"mock-policy-pgtable",
	"mock-invalidate",
	"mock-fault-to-owner",
	"mock-held-by-session",
	"mock-invalidate-others-refused",
	"mock-session-end-releases",
	"mock-unbind-pasid",
	"mock-unbind-rid",
	"mock-session-end-keeps-lease",
	"mock-lease-close-releases",
	"mock-svmd-clean-exit",
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static int n_failed;

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One line per check, whatever the detail holds: its line breaks become " / ". */
static void report(bool ok, const char *name, const char *fmt, ...)
{
	char detail[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("%s %s: ", ok ? "PASS" : "FAIL", name);
	for (const char *p = detail; *p; p++)
		if (*p != '\n')
			putchar(*p);
		else if (p[1])
			fputs(" / ", stdout);
	printf("\n");
	fflush(stdout);
	if (!ok)
		n_failed++;
}

/* The guest: the two edus and their cdevs. */
struct edu_dev {
	const char *bdf;
	char cdev[64]; /* /dev/vfio/devices/vfioN */
};
static struct edu_dev edus[2];

/* ---- Files ---------------------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

/* The whole of path (up to 64 KiB), NUL-terminated, for free(); "" when unreadable. */
static char *read_file(const char *path)
{
	char *buf = calloc(1, 65536);
	FILE *f;
	size_t n;

	if (!buf)
		abort();
	f = fopen(path, "re");
	if (f) {
		n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

/* The first line of path containing needle, into line; false when there is none. */
static bool find_line(const char *path, const char *needle, char *line, size_t len)
{
	char *text = read_file(path), *p, *save = NULL;
	bool found = false;

	for (p = strtok_r(text, "\n", &save); p && !found; p = strtok_r(NULL, "\n", &save))
		if (strstr(p, needle)) {
			snprintf(line, len, "%s", p);
			found = true;
		}
	free(text);
	return found;
}

/* The lines of path that contain needle, joined by " | ", into buf ("" when none). */
static void grep_file(const char *path, const char *needle, char *buf, size_t len)
{
	char *text = read_file(path), *p, *save = NULL;
	size_t used = 0;

	buf[0] = '\0';
	for (p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		if (strstr(p, needle) && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " | " : "",
						 p);
	free(text);
}

/* ---- svmd --------------------------------------------------------------------------- */

struct svmd {
	pid_t pid;
	char log[64];
};

/*
 * Starts svmd with args (NULL-terminated, after argv[0]), its stdout and stderr into log, and
 * waits up to 30 s for socket to appear: 0, or -1 with why (svmd exited, or never served).
 */
static int svmd_start(struct svmd *d, const char *const *args, const char *socket, const char *log,
		      char *why, size_t whylen)
{
	const char *argv[32] = {SVMD};
	int i, status;

	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	snprintf(d->log, sizeof(d->log), "%s", log);
	unlink(socket);
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -1;
	}
	if (d->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(SVMD, (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 300; i++) {
		struct stat st;

		if (stat(socket, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			char *text = read_file(log);
			snprintf(why, whylen, "svmd exited (status %#x): %s", status, text);
			free(text);
			d->pid = -1;
			return -1;
		}
		usleep(100000);
	}
	snprintf(why, whylen, "no %s after 30 s", socket);
	return -1;
}

/* SIGTERM, then waits up to 10 s (SIGKILL after that): svmd's wait status, or -1. */
static int svmd_stop(struct svmd *d)
{
	int i, status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = -1;
			return status;
		}
		usleep(100000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = -1;
	return -1;
}

/* Whether /proc/PID/fd has a link to target. */
static bool holds_fd(pid_t pid, const char *target)
{
	char dir[64], path[320], link[256];
	struct dirent *de;
	bool found = false;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, target) == 0;
		}
	}
	closedir(d);
	return found;
}

/* A "Key:\tvalue" line of /proc/PID/status, into val ("" when absent). */
static void proc_status(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256], want[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(want, sizeof(want), "%s:", key);
	val[0] = '\0';
	if (find_line(path, want, line, sizeof(line))) {
		const char *p = line + strlen(want);
		p += strspn(p, " \t");
		snprintf(val, len, "%s", p);
	}
}

/* ---- Clients -------------------------------------------------------------------------- */

/*
 * Becomes user for good: supplementary groups from /etc/group, then gid, then uid
 * (setgroups, setresgid, setresuid), and checks the kernel agrees and root cannot be had
 * back. false with the reason in why.
 */
static bool drop_to(const char *user, char *why, size_t whylen)
{
	gid_t groups[16], rg, eg, sg;
	uid_t ru, eu, su;
	char caps[64];
	struct passwd *pw = getpwnam(user);
	int n = 16;

	if (!pw) {
		snprintf(why, whylen, "no user %s in /etc/passwd", user);
		return false;
	}
	if (getgrouplist(user, pw->pw_gid, groups, &n) < 0) {
		snprintf(why, whylen, "%s is in more than 16 groups", user);
		return false;
	}
	if (setgroups((size_t)n, groups) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(why, whylen, "dropping to %s: %s", user, strerror(errno));
		return false;
	}
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != pw->pw_uid ||
	    eu != ru || su != ru || rg != pw->pw_gid || eg != rg || sg != rg) {
		snprintf(why, whylen, "ids after the drop: uid %u/%u/%u gid %u/%u/%u", ru, eu, su,
			 rg, eg, sg);
		return false;
	}
	proc_status(getpid(), "CapEff", caps, sizeof(caps));
	if (setuid(0) == 0 || strcmp(caps, "0000000000000000") != 0) {
		snprintf(why, whylen, "still privileged: CapEff %s", caps);
		return false;
	}
	snprintf(why, whylen, "uid %u gid %u, %d groups, CapEff %s", pw->pw_uid, pw->pw_gid, n,
		 caps);
	return true;
}

typedef int (*client_fn)(void *arg);

/*
 * Forks a client that becomes user and runs fn(arg); its exit status is 1 when a check of its
 * own failed. A failed drop is a FAIL of client-drops-root; a successful one is a PASS of it
 * when report_drop. Returns the pid.
 */
static pid_t client_start(const char *user, bool report_drop, client_fn fn, void *arg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(false, "client-drops-root", "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char why[256];

		n_failed = 0;
		if (!drop_to(user, why, sizeof(why))) {
			report(false, "client-drops-root", "%s: %s", user, why);
			_exit(1);
		}
		if (report_drop)
			report(true, "client-drops-root", "%s: %s", user, why);
		fn(arg);
		fflush(stdout);
		_exit(n_failed ? 1 : 0);
	}
	return pid;
}

/* Waits for a client, and counts it as a failure when it failed a check of its own or died:
 * false then. what names the check a death fails. */
static bool client_wait(pid_t pid, const char *what)
{
	int status;

	if (pid < 0) {
		n_failed++;
		return false;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		report(false, what, "client %d died (status %#x)", (int)pid, status);
		return false;
	}
	if (WEXITSTATUS(status) != 0)
		n_failed++;
	return WEXITSTATUS(status) == 0;
}

static const char *reason(const struct svm_client *c)
{
	return svm_reason(c) ? svm_reason(c) : "(no reason)";
}

/* ---- The plumbing, on the simulated kernel ------------------------------------------ */

/* The policy's line numbers, for the reasons svmd gives. */
#define RULE_A_LINE    2
#define RULE_DENY_LINE 4
static char rule_a[128], rule_b[128], rule_deny[128];

static void write_policy(void)
{
	char text[1024];

	snprintf(rule_a, sizeof(rule_a), "allow * user=%s device=%s", USER_A, edus[0].bdf);
	snprintf(rule_b, sizeof(rule_b), "allow * user=%s device=%s", USER_B, edus[1].bdf);
	snprintf(rule_deny, sizeof(rule_deny), "deny * group=%s", GROUP_AB);
	snprintf(text, sizeof(text),
		 "# iommufd-svmd: each client its own edu, by user name; the group for the rest\n"
		 "%s\n%s\n%s\n",
		 rule_a, rule_b, rule_deny);
	if (mkdir(WORK, 0755) < 0 && errno != EEXIST)
		perror(WORK);
	if (mkdir(POLICY_DIR, 0755) < 0 && errno != EEXIST)
		perror(POLICY_DIR);
	if (write_file(POLICY_FILE, text) < 0)
		perror(POLICY_FILE);
}

/* Client A on the simulated kernel: it cannot reach the hardware itself; svmd knows the edus
 * and applies the policy by user and group name. */
static int sim_client(void *arg)
{
	struct svm_client *c = NULL;
	struct svm_device *devs = NULL;
	char want[512];
	size_t n = 0, i;
	int fd, fd2, r, found = 0;

	(void)arg;
	fd = open(edus[0].cdev, O_RDWR | O_CLOEXEC);
	fd2 = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fd2 < 0)
		report(true, "client-cannot-open-cdev", "%s and /dev/iommu: %s", edus[0].cdev,
		       strerror(EACCES));
	else
		report(false, "client-cannot-open-cdev", "%s: fd %d, /dev/iommu: fd %d",
		       edus[0].cdev, fd, fd2);
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);

	r = svm_connect(SOCKET, &c);
	if (r < 0) {
		report(false, "sim-client-hello", "svm_connect: %s", strerror(-r));
		return 0;
	}
	r = svm_devices(c, &devs, &n);
	for (i = 0; r == 0 && i < n; i++)
		if ((strcmp(devs[i].name, edus[0].bdf) == 0 ||
		     strcmp(devs[i].name, edus[1].bdf) == 0) &&
		    devs[i].vendor == 0x1234 && devs[i].device == 0x11e8)
			found++;
	report(strcmp(svm_backend(c), "sim") == 0 && found == 2, "sim-client-hello",
	       "backend %s, %d of the %zu devices are the two edus", svm_backend(c), found, n);
	free(devs);

	fd = -1;
	r = svm_open_device(c, edus[0].bdf, &fd, NULL);
	if (r < 0) {
		report(false, "sim-policy-by-name", "open-device %s: %s (%s)", edus[0].bdf,
		       strerror(-r), reason(c));
	} else {
		close(fd);
		r = svm_open_device(c, edus[1].bdf, &fd, NULL);
		snprintf(want, sizeof(want), "rule '%s' (%s:%d)", rule_deny, POLICY_FILE,
			 RULE_DENY_LINE);
		report(r == -EACCES && strcmp(reason(c), want) == 0, "sim-policy-by-name",
		       "%s granted by user name; %s: %d \"%s\" (want EACCES \"%s\")", edus[0].bdf,
		       edus[1].bdf, r, reason(c), want);
		if (r == 0)
			close(fd);
	}
	svm_disconnect(c);
	return 0;
}

static void sim_part(void)
{
	const char *args[] = {"--backend=sim",
			      "--sim-topology=" SIM_TOPOLOGY,
			      "--bus=none",
			      "--socket=" SOCKET,
			      "--policy-dir=" POLICY_DIR,
			      "--audit=stderr",
			      "--state-dir=",
			      NULL};
	char topo[512], why[4096], line[256];
	struct svmd d = {.pid = -1};

	snprintf(topo, sizeof(topo),
		 "device %s group=1 pasid-bits=0 model=vtd kinds=none pci-id=1234:11e8\n"
		 "device %s group=2 pasid-bits=0 model=vtd kinds=none pci-id=1234:11e8\n",
		 edus[0].bdf, edus[1].bdf);
	write_file(SIM_TOPOLOGY, topo);
	if (svmd_start(&d, args, SOCKET, WORK "/sim.log", why, sizeof(why)) < 0) {
		report(false, "sim-svmd-serves", "%s", why);
		return;
	}
	if (find_line(d.log, "serving on", line, sizeof(line)))
		report(true, "sim-svmd-serves", "%s", line);
	else
		report(false, "sim-svmd-serves", "socket there, but no \"serving on\" in %s",
		       d.log);
	client_wait(client_start(USER_A, true, sim_client, NULL), "sim-client-hello");
	svmd_stop(&d);
}

/* ---- svmd on the real kernel: the clients' memory and DMA ---------------------------- */

/*
 * A client's memfd, in regions of two pages, each a map of its own; edu moves EDU_XFER_SIZE
 * bytes from and to the start of a region. A's IOVAs lie in the policy's iova= range but for
 * IOVA_OUTSIDE; IOVA_UNMAPPED is never mapped. B maps the same IOVAs in its own space.
 */
#define REGION        0x2000u
#define N_REGIONS     4u
#define IOVA_SRC      0x1000000ull /* region 0: the device reads (SVM_MAP_READ) */
#define IOVA_DST      0x1100000ull /* region 1: the device writes; unmapped by unmap-revokes */
#define IOVA_KEEP     0x1200000ull /* region 2: read and write, mapped until the session ends */
#define IOVA_QUOTA    0x1400000ull /* regions 2-3 again: over max-bytes */
#define IOVA_UNMAPPED 0x1800000ull
#define IOVA_OUTSIDE  0x3000000ull
#define IOVA_RANGE    "0x1000000-0x1ffffff"
#define MAX_BYTES_S   "32K" /* three regions fit, a fourth and fifth do not */
#define FILLER        0xee
/* Object ids a device fd tries: iommufd numbers each context's objects from 1. */
#define MAX_OBJECT_ID 4096u

struct mem {
	int fd;
	uint8_t *p;
	size_t size;
	uint8_t *saved; /* mem_save() */
};

static bool mem_new(struct mem *m, const char *name, size_t size)
{
	m->size = size;
	m->saved = malloc(size);
	m->fd = memfd_create(name, MFD_CLOEXEC);
	if (!m->saved || m->fd < 0 || ftruncate(m->fd, (off_t)size) < 0)
		return false;
	m->p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->p == MAP_FAILED)
		return false;
	memset(m->p, FILLER, size);
	return true;
}

static uint8_t *region(const struct mem *m, unsigned i)
{
	return m->p + (size_t)i * REGION;
}

/* A transfer's worth of bytes no other call of it gives, into p. */
static void fill_pattern(uint8_t *p, uint8_t seed)
{
	for (unsigned i = 0; i < EDU_XFER_SIZE; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static void mem_save(struct mem *m)
{
	memcpy(m->saved, m->p, m->size);
}

/* Whether m is as mem_save() left it; where it first differs into why. */
static bool mem_unchanged(const struct mem *m, char *why, size_t whylen)
{
	for (size_t i = 0; i < m->size; i++)
		if (m->p[i] != m->saved[i]) {
			snprintf(why, whylen, "byte %#zx of the memfd changed from %#x to %#x", i,
				 m->saved[i], m->p[i]);
			return false;
		}
	snprintf(why, whylen, "the memfd's %zu bytes are unchanged", m->size);
	return true;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The last three IOMMU faults, oldest first. VT-d's fault handler (dmar_fault()) prints under
 * one rate limit, 10 lines per window of 5 s, and spends three of them on each fault (the
 * status register, the record, the loop's last look): a window logs three faults. A window
 * begins with the first fault after the last one ended, so a fault 5 s after the third before
 * it is in a fresh window. The programs before this one may have left a window open: its start
 * counts as three faults.
 */
static double fault_times[3];

/* Waits until a fault now would be logged, and counts one. */
static void fault_pace(void)
{
	double wait = fault_times[0] + 5.2 - now_s();

	if (wait > 0)
		usleep((useconds_t)(wait * 1e6));
	fault_times[0] = fault_times[1];
	fault_times[1] = fault_times[2];
	fault_times[2] = now_s();
}

/*
 * One edu DMA that must fault: the device writes (to_ram) or reads iova. true when the kernel
 * logged the IOMMU fault of this device at that address, with the log line in why.
 */
static bool dma_faults(const struct edu_regs *e, const char *bdf, uint64_t iova, bool to_ram,
		       char *why, size_t whylen)
{
	char dev[64], addr[64], line[512];
	const char *want[] = {dev, addr, to_ram ? "DMA Write" : "DMA Read"};
	int kmsg, r;

	fault_pace();
	kmsg = kmsg_open();
	if (kmsg < 0) {
		snprintf(why, whylen, "/dev/kmsg: %s", strerror(-kmsg));
		return false;
	}
	r = to_ram ? edu_dma_to(e, iova) : edu_dma_from(e, iova);
	if (r < 0) {
		snprintf(why, whylen, "edu DMA: %s", strerror(-r));
		close(kmsg);
		return false;
	}
	snprintf(dev, sizeof(dev), "Request device [%s]", bdf);
	snprintf(addr, sizeof(addr), "fault addr %#" PRIx64, iova);
	if (kmsg_find(kmsg, want, 3, line, sizeof(line))) {
		snprintf(why, whylen, "%s", line);
		close(kmsg);
		return true;
	}
	snprintf(why, whylen, "no \"%s ... %s\" (%s) in the kernel log", dev, addr, want[2]);
	close(kmsg);
	return false;
}

/* svmd's pinned and locked memory, in kB, from /proc/PID/status; -1 when unreadable. */
static void svmd_pinned(pid_t pid, long *pin, long *lck)
{
	char v[64];

	proc_status(pid, "VmPin", v, sizeof(v));
	*pin = v[0] ? strtol(v, NULL, 10) : -1;
	proc_status(pid, "VmLck", v, sizeof(v));
	*lck = v[0] ? strtol(v, NULL, 10) : -1;
}

/*
 * Tries VFIO_DEVICE_ATTACH_IOMMUFD_PT of fd with every object id up to MAX_OBJECT_ID: the ids
 * that attach into ids (at most max), how many failed with which errno into why. The device
 * stays attached to the last one that did.
 */
static size_t attach_scan(int fd, uint32_t *ids, size_t max, char *why, size_t whylen)
{
	unsigned n_enoent = 0, n_einval = 0, n_other = 0;
	int other_errno = 0;
	size_t n = 0;

	for (uint32_t id = 0; id <= MAX_OBJECT_ID; id++) {
		struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = id};

		if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0) {
			if (n < max)
				ids[n++] = id;
		} else if (errno == ENOENT) {
			n_enoent++;
		} else if (errno == EINVAL) {
			n_einval++;
		} else {
			n_other++;
			other_errno = errno;
		}
	}
	snprintf(why, whylen, "%u ENOENT, %u EINVAL, %u other%s%s", n_enoent, n_einval, n_other,
		 n_other ? " e.g. " : "", n_other ? strerror(other_errno) : "");
	return n;
}

static void ids_text(const uint32_t *ids, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%u", i ? "," : "", ids[i]);
}

/* ---- svmd on the real kernel: one client, all of its life ---------------------------- */

static pid_t svmd_pid;
static long pin_base, lck_base; /* svmd's VmPin and VmLck before any client */
/*
 * The policy on the edus. Each client may map into its own edu's space within IOVA_RANGE, up
 * to MAX_BYTES_S, and open it; the rest is denied to their group, ops and maps (which `*` does
 * not include) apart, so that every denial names a rule. Line numbers for the reasons.
 */
#define RULE_MAP_A_LINE    2
#define RULE_DENY_MAP_LINE 7
static char rule_map_a[192], rule_deny_map[128];

static void write_real_policy(void)
{
	char text[2048], rule_open_a[192], rule_map_b[192], rule_open_b[192];

	snprintf(rule_map_a, sizeof(rule_map_a), "allow map user=%s device=%s iova=%s max-bytes=%s",
		 USER_A, edus[0].bdf, IOVA_RANGE, MAX_BYTES_S);
	snprintf(rule_open_a, sizeof(rule_open_a),
		 "allow open-device,bind-task,bind-pgtable user=%s device=%s", USER_A, edus[0].bdf);
	snprintf(rule_map_b, sizeof(rule_map_b), "allow map user=%s device=%s iova=%s max-bytes=%s",
		 USER_B, edus[1].bdf, IOVA_RANGE, MAX_BYTES_S);
	snprintf(rule_open_b, sizeof(rule_open_b), "allow open-device user=%s device=%s", USER_B,
		 edus[1].bdf);
	snprintf(rule_deny_map, sizeof(rule_deny_map), "deny map group=%s", GROUP_AB);
	snprintf(text, sizeof(text),
		 "# iommufd-svmd on the edus: each client maps and opens its own\n"
		 "%s\n%s\n%s\n%s\ndeny * group=%s\n%s\n",
		 rule_map_a, rule_open_a, rule_map_b, rule_open_b, GROUP_AB, rule_deny_map);
	if (write_file(POLICY_FILE, text) < 0)
		perror(POLICY_FILE);
}

struct single {
	struct svm_client *c;
	struct mem m;
	struct edu_regs regs;
	int fd;
	uint32_t ids[16];
	size_t n_ids;
};

static bool single_hello(struct single *x)
{
	const uint32_t want = SVM_KIND_BIT(SVM_KIND_DEVICE) | SVM_KIND_BIT(SVM_KIND_MAP);
	struct svm_device *devs = NULL;
	size_t n = 0, i, found = 0;
	int r;

	r = svm_connect(SOCKET, &x->c);
	if (r < 0) {
		report(false, "client-hello", "svm_connect: %s", strerror(-r));
		return false;
	}
	r = svm_devices(x->c, &devs, &n);
	for (i = 0; r == 0 && i < n; i++)
		if ((strcmp(devs[i].name, edus[0].bdf) == 0 ||
		     strcmp(devs[i].name, edus[1].bdf) == 0) &&
		    (devs[i].kinds & want) == want && devs[i].model == SVM_MODEL_VTD)
			found++;
	report(strcmp(svm_backend(x->c), "iommufd") == 0 && found == 2, "client-hello",
	       "backend %s; %zu of %zu devices are the edus, on VT-d, with map and open-device",
	       svm_backend(x->c), found, n);
	free(devs);
	return true;
}

/* Regions 0 (read), 1 (write) and 2 (both) at IOVA_SRC, IOVA_DST, IOVA_KEEP, then the
 * device: edu reaches them once it is attached, and the kernel pins them then. */
static bool single_map_open(struct single *x)
{
	static const struct {
		unsigned region;
		uint64_t iova;
		uint32_t flags;
	} maps[] = {
		{0, IOVA_SRC, SVM_MAP_READ},
		{1, IOVA_DST, SVM_MAP_WRITE},
		{2, IOVA_KEEP, SVM_MAP_READ | SVM_MAP_WRITE},
	};
	char why[256];
	uint64_t id[3] = {0}, dev_id = 0;
	long pin, lck;
	int r;

	if (!mem_new(&x->m, "svmd-vm-a", N_REGIONS * REGION)) {
		report(false, "map", "memfd: %s", strerror(errno));
		return false;
	}
	fill_pattern(region(&x->m, 0), 0x5a);
	for (unsigned i = 0; i < 3; i++) {
		r = svm_map(x->c, edus[0].bdf, x->m.fd, maps[i].region * REGION, REGION,
			    maps[i].iova, maps[i].flags, &id[i]);
		if (r < 0) {
			report(false, "map", "svm_map(region %u at %#" PRIx64 "): %s (%s)",
			       maps[i].region, maps[i].iova, strerror(-r), reason(x->c));
			return false;
		}
	}
	report(true, "map",
	       "bindings %" PRIu64 ", %" PRIu64 ", %" PRIu64 ": 8 KiB each at IOVA %#llx (read), "
	       "%#llx (write), %#llx (both)",
	       id[0], id[1], id[2], IOVA_SRC, IOVA_DST, IOVA_KEEP);

	r = svm_open_device(x->c, edus[0].bdf, &x->fd, &dev_id);
	if (r < 0) {
		report(false, "open-device", "%s: %s (%s)", edus[0].bdf, strerror(-r),
		       reason(x->c));
		return false;
	}
	r = edu_setup(&x->regs, x->fd, why, sizeof(why));
	report(r == 0, "open-device", "binding %" PRIu64 ", fd %d: %s", dev_id, x->fd, why);
	if (r < 0)
		return false;

	svmd_pinned(svmd_pid, &pin, &lck);
	report(pin - pin_base == 3 * REGION / 1024, "pinned-charged",
	       "svmd's VmPin %ld kB, VmLck %ld kB (before any client %ld, %ld): want VmPin +%u kB "
	       "for the three maps",
	       pin, lck, pin_base, lck_base, 3 * REGION / 1024);
	return true;
}

/*
 * DMAs the maps do not allow, then memfd -> edu -> memfd at another IOVA. The write to the
 * read-only map comes first: QEMU's VT-d checks a translation's permissions, and reports a
 * fault, only when it misses its IOTLB; once a read cached the page, a write there is dropped
 * without a fault record.
 */
static void single_dma(struct single *x)
{
	char why[512], why2[256];
	bool ok;
	int r;

	mem_save(&x->m);
	ok = dma_faults(&x->regs, edus[0].bdf, IOVA_SRC, true, why, sizeof(why));
	ok = mem_unchanged(&x->m, why2, sizeof(why2)) && ok;
	report(ok, "read-only-map-enforced", "a DMA write to the read-only map at %#llx: %s; %s",
	       IOVA_SRC, why, why2);

	mem_save(&x->m);
	ok = dma_faults(&x->regs, edus[0].bdf, IOVA_UNMAPPED, true, why, sizeof(why));
	ok = mem_unchanged(&x->m, why2, sizeof(why2)) && ok;
	report(ok, "unmapped-iova-faults", "a DMA write to unmapped %#llx: %s; %s", IOVA_UNMAPPED,
	       why, why2);

	r = edu_dma_from(&x->regs, IOVA_SRC);
	if (r == 0)
		r = edu_dma_to(&x->regs, IOVA_DST);
	if (r < 0) {
		report(false, "dma-through-svmd", "edu DMA: %s", strerror(-r));
	} else {
		const uint8_t *dst = region(&x->m, 1);
		size_t rest = 0;

		for (size_t i = EDU_XFER_SIZE; i < REGION; i++)
			rest += dst[i] != FILLER;
		ok = memcmp(region(&x->m, 0), dst, EDU_XFER_SIZE) == 0 && rest == 0;
		report(ok, "dma-through-svmd",
		       "%u bytes memfd (IOVA %#llx) -> edu -> memfd (IOVA %#llx): %s, %zu bytes "
		       "past them touched (first bytes %02x %02x, want %02x %02x)",
		       EDU_XFER_SIZE, IOVA_SRC, IOVA_DST, ok ? "equal" : "DIFFERENT", rest, dst[0],
		       dst[1], region(&x->m, 0)[0], region(&x->m, 0)[1]);
	}
}

/*
 * The reason svm_device_info() gives for kind (its text has a line "KIND: reason" per kind the
 * device cannot do, KIND as svm_kind_name() names it), into buf; "" when there is none.
 */
static void info_reason(const char *info, uint32_t kind, char *buf, size_t len)
{
	const char *name = svm_kind_name(kind), *p = info;
	size_t n = strlen(name);

	buf[0] = '\0';
	while (p && *p) {
		const char *eol = strchrnul(p, '\n');

		if ((size_t)(eol - p) > n + 2 && strncmp(p, name, n) == 0 && p[n] == ':' &&
		    p[n + 1] == ' ') {
			snprintf(buf, len, "%.*s", (int)(eol - p - (int)n - 2), p + n + 2);
			return;
		}
		p = *eol ? eol + 1 : NULL;
	}
}

/*
 * The seed's ioctl on the device fd, and the SVM binds this IOMMU cannot do: refused as not
 * supported, with the reason svm_device_info() gives for that kind on this device, which must
 * say what mainline lacks: for a process's address space, any uAPI; for a page table, nesting
 * on this device's IOMMU, whose extended capabilities (as sysfs has them) it must name.
 */
static void single_svm(struct single *x)
{
	char path[128], ecap_text[64] = "", want[64], why_task[512], why_pg[512];
	struct svm_pgtable pg = {.pasid = 1, .addr_width = 48, .gpgd = 0x100000};
	unsigned long long ecap = 0;
	char *info = NULL;
	uint32_t kinds = 0;
	FILE *f;
	bool ok;
	int r;

	errno = 0;
	r = ioctl(x->fd, SEED_SVM_BIND, NULL);
	report(r < 0 && errno == ENOTTY, "seed-ioctl-enotty",
	       "VFIO_IOMMU_SVM_BIND (%#lx) on svmd's device fd: %d, %s",
	       (unsigned long)SEED_SVM_BIND, r, strerror(errno));

	r = svm_device_info(x->c, edus[0].bdf, &kinds, &info);
	if (r < 0) {
		report(false, "bind-task-unsupported", "svm_device_info: %s (%s)", strerror(-r),
		       reason(x->c));
		report(false, "bind-pgtable-unsupported", "svm_device_info: %s", strerror(-r));
		return;
	}
	info_reason(info, SVM_KIND_TASK, why_task, sizeof(why_task));
	info_reason(info, SVM_KIND_PGTABLE, why_pg, sizeof(why_pg));

	r = svm_bind_task(x->c, edus[0].bdf, -1, 0, NULL, NULL);
	ok = r == -EOPNOTSUPP && why_task[0] && strstr(reason(x->c), why_task) &&
	     strstr(why_task, "no mainline uAPI") && !(kinds & SVM_KIND_BIT(SVM_KIND_TASK));
	report(ok, "bind-task-unsupported", "%d (%s) \"%s\"; svm_device_info for %s: \"%s\"", r,
	       strerror(-r), reason(x->c), svm_kind_name(SVM_KIND_TASK), why_task);

	/* The kernel's own word on the IOMMU: VT-d's extended capabilities, NEST is bit 26. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu/intel-iommu/ecap", edus[0].bdf);
	f = fopen(path, "re");
	if (f && fgets(ecap_text, sizeof(ecap_text), f))
		ecap = strtoull(ecap_text, NULL, 16);
	if (f)
		fclose(f);
	snprintf(want, sizeof(want), "ecap %#llx", ecap);
	r = svm_bind_pgtable(x->c, edus[0].bdf, &pg, NULL);
	ok = r == -EOPNOTSUPP && why_pg[0] && strstr(reason(x->c), why_pg) && ecap &&
	     !(ecap & (1ull << 26)) && strstr(why_pg, want) && strstr(why_pg, edus[0].bdf) &&
	     !(kinds & SVM_KIND_BIT(SVM_KIND_PGTABLE));
	report(ok, "bind-pgtable-unsupported",
	       "%d (%s) \"%s\"; svm_device_info for %s: \"%s\"; sysfs: ecap %#llx, NEST (bit "
	       "26) %s",
	       r, strerror(-r), reason(x->c), svm_kind_name(SVM_KIND_PGTABLE), why_pg, ecap,
	       ecap & (1ull << 26) ? "set" : "clear");
	free(info);
}

/* Maps the policy does not grant: nothing more is pinned, and the reason names the rule. */
static void single_policy(struct single *x)
{
	struct svm_explain_request q = {.op = "map",
					.device = edus[0].bdf,
					.pasid = -1,
					.uid = -1,
					.iova = IOVA_OUTSIDE,
					.length = REGION};
	char want[512], why[1024], *text = NULL;
	long pin0, pin, lck;
	bool allowed = true, ok;
	int r, r2;

	svmd_pinned(svmd_pid, &pin0, &lck);
	r = svm_map(x->c, edus[0].bdf, x->m.fd, 2 * REGION, 2 * REGION, IOVA_QUOTA,
		    SVM_MAP_READ | SVM_MAP_WRITE, NULL);
	snprintf(want, sizeof(want), "'%s' (%s:%d)", rule_map_a, POLICY_FILE, RULE_MAP_A_LINE);
	svmd_pinned(svmd_pid, &pin, &lck);
	ok = r == -EDQUOT && strstr(reason(x->c), want) && strstr(reason(x->c), "max-bytes=") &&
	     pin == pin0;
	report(ok, "policy-max-bytes",
	       "16 KiB more at %#llx with 24 KiB of %s mapped: %d (%s) \"%s\", want EDQUOT naming "
	       "%s:%d; VmPin %ld kB before, %ld after",
	       IOVA_QUOTA, MAX_BYTES_S, r, strerror(-r), reason(x->c), POLICY_FILE, RULE_MAP_A_LINE,
	       pin0, pin);

	/* The map rule does not take it (svmd explains why), the group's deny rule does. */
	r = svm_map(x->c, edus[0].bdf, x->m.fd, 3 * REGION, REGION, IOVA_OUTSIDE,
		    SVM_MAP_READ | SVM_MAP_WRITE, NULL);
	snprintf(why, sizeof(why), "%s", reason(x->c));
	snprintf(want, sizeof(want), "rule '%s' (%s:%d)", rule_deny_map, POLICY_FILE,
		 RULE_DENY_MAP_LINE);
	svmd_pinned(svmd_pid, &pin, &lck);
	r2 = svm_explain(x->c, &q, &text, &allowed);
	ok = r == -EACCES && strcmp(why, want) == 0 && pin == pin0 && r2 == 0 && !allowed && text &&
	     strstr(text, rule_map_a) && strstr(text, "IOVA range");
	report(ok, "policy-iova-range",
	       "8 KiB at %#llx, outside %s: %d (%s) \"%s\", want EACCES \"%s\"; VmPin %ld kB "
	       "before, %ld after; svmd explains: %s",
	       IOVA_OUTSIDE, IOVA_RANGE, r, strerror(-r), why, want, pin0, pin,
	       text ? text : "(nothing)");
	free(text);
}

/* svm_unmap of the write map: the kernel unpins it and the device's write faults. */
static void single_unmap(struct single *x)
{
	char why[512], why2[256];
	uint64_t bytes = 0;
	uint32_t n = 0;
	long pin0, pin, lck;
	bool ok;
	int r;

	svmd_pinned(svmd_pid, &pin0, &lck);
	r = svm_unmap(x->c, edus[0].bdf, IOVA_DST, REGION, &n, &bytes);
	svmd_pinned(svmd_pid, &pin, &lck);
	if (r < 0) {
		report(false, "unmap-revokes", "svm_unmap(%#llx, 8 KiB): %s (%s)", IOVA_DST,
		       strerror(-r), reason(x->c));
		return;
	}
	memset(region(&x->m, 1), FILLER, REGION);
	mem_save(&x->m);
	ok = dma_faults(&x->regs, edus[0].bdf, IOVA_DST, true, why, sizeof(why));
	ok = mem_unchanged(&x->m, why2, sizeof(why2)) && ok && n == 1 && bytes == REGION &&
	     pin0 - pin == REGION / 1024;
	report(ok, "unmap-revokes",
	       "svm_unmap: %u map, %" PRIu64 " bytes; VmPin %ld -> %ld kB; a DMA write to %#llx: "
	       "%s; %s",
	       n, bytes, pin0, pin, IOVA_DST, why, why2);
}

/*
 * The session ends while the client keeps its device fd: the fd reaches nothing (a write to
 * what was mapped faults and moves nothing, so does a read), no object of its old space can
 * be attached, and svmd no longer pins anything.
 */
static void single_end(struct single *x)
{
	char why[512], why2[256], why3[256], idl[128];
	struct svm_binding_info *list = NULL;
	struct svm_client *c2 = NULL;
	uint32_t ids[16];
	size_t n = 0, n_ids;
	long pin, lck;
	bool ok, ok2, synced;
	int r;

	x->c = svm_disconnect(x->c);
	/* svmd ends a session as it reads the hang-up, before the next request: one on a new
	 * connection is answered after. */
	r = svm_connect(SOCKET, &c2);
	if (r == 0)
		r = svm_list(c2, &list, &n);
	free(list);
	svm_disconnect(c2);
	synced = r == 0 && n == 0;

	edu_setup(&x->regs, x->fd, why, sizeof(why)); /* bus mastering on, whatever svmd did */
	mem_save(&x->m);
	ok = dma_faults(&x->regs, edus[0].bdf, IOVA_KEEP, true, why, sizeof(why));
	ok2 = dma_faults(&x->regs, edus[0].bdf, IOVA_SRC, false, why3, sizeof(why3));
	ok = mem_unchanged(&x->m, why2, sizeof(why2)) && ok && ok2 && synced;
	report(ok, "session-end-revokes-dma",
	       "the kept device fd, a write to %#llx: %s; a read of %#llx: %s; %s%s", IOVA_KEEP,
	       why, IOVA_SRC, why3, why2,
	       synced ? "" : "; svm_list after the end still lists some");

	n_ids = attach_scan(x->fd, ids, 16, why, sizeof(why));
	ids_text(x->ids, x->n_ids, idl, sizeof(idl));
	report(n_ids == 0 && x->n_ids > 0, "session-end-destroys-ioas",
	       "ATTACH_IOMMUFD_PT of ids 0-%u, among them %s that attached before the end: %zu "
	       "attach (%s)",
	       MAX_OBJECT_ID, idl, n_ids, why);

	svmd_pinned(svmd_pid, &pin, &lck);
	report(pin == pin_base && lck == lck_base, "session-end-unpins",
	       "svmd's VmPin %ld kB, VmLck %ld kB (before any client %ld, %ld)", pin, lck, pin_base,
	       lck_base);
}

static int single_client(void *arg)
{
	struct single x = {.fd = -1};
	char why[256];

	(void)arg;
	if (!single_hello(&x))
		return 0;
	if (!single_map_open(&x)) {
		svm_disconnect(x.c);
		return 0;
	}
	single_dma(&x);
	single_svm(&x);
	single_policy(&x);
	single_unmap(&x);
	/* What the fd can attach to while the session lives: its own space's objects. */
	x.n_ids = attach_scan(x.fd, x.ids, 16, why, sizeof(why));
	single_end(&x);
	close(x.fd);
	return 0;
}

/* ---- svmd on the real kernel: two clients --------------------------------------------- */

struct pair {
	int ready[2]; /* B -> A: "B's memory is mapped and saved" ('+', or '-' when B failed) */
	int done[2];  /* A -> B: "A has tried everything" */
};

/* B: its own edu and memory; what A does must not reach them. */
static int client_b(void *arg)
{
	struct pair *p = arg;
	struct svm_client *c = NULL;
	struct edu_regs regs;
	struct mem m;
	char why[256], why2[256];
	char go = '-';
	int fd = -1, r;
	bool ok;

	close(p->ready[0]);
	close(p->done[1]);
	r = svm_connect(SOCKET, &c);
	if (r == 0 && !mem_new(&m, "svmd-vm-b", 2 * REGION))
		r = -errno;
	if (r == 0) {
		fill_pattern(region(&m, 0), 0xa5);
		r = svm_map(c, edus[1].bdf, m.fd, 0, REGION, IOVA_SRC, SVM_MAP_READ | SVM_MAP_WRITE,
			    NULL);
	}
	if (r == 0)
		r = svm_map(c, edus[1].bdf, m.fd, REGION, REGION, IOVA_DST,
			    SVM_MAP_READ | SVM_MAP_WRITE, NULL);
	if (r == 0)
		r = svm_open_device(c, edus[1].bdf, &fd, NULL);
	if (r == 0)
		r = edu_setup(&regs, fd, why, sizeof(why));
	if (r == 0)
		r = edu_dma_from(&regs, IOVA_SRC);
	if (r == 0)
		r = edu_dma_to(&regs, IOVA_DST);
	if (r == 0 && memcmp(region(&m, 0), region(&m, 1), EDU_XFER_SIZE) != 0)
		r = -EIO;
	if (r < 0) {
		report(false, "isolation-other-untouched", "%s's set-up: %s (%s)", USER_B,
		       strerror(-r), c ? reason(c) : "");
	} else {
		mem_save(&m);
		go = '+';
	}
	if (write(p->ready[1], &go, 1) != 1 || go != '+')
		return 0;
	if (read(p->done[0], &go, 1) != 1)
		report(false, "isolation-other-untouched", "%s never said it was done", USER_A);
	ok = mem_unchanged(&m, why, sizeof(why));
	/* And B's device still works, in B's own space. */
	memset(region(&m, 1), 0, EDU_XFER_SIZE);
	r = edu_dma_from(&regs, IOVA_SRC);
	if (r == 0)
		r = edu_dma_to(&regs, IOVA_DST);
	ok = ok && r == 0 && memcmp(region(&m, 0), region(&m, 1), EDU_XFER_SIZE) == 0;
	snprintf(why2, sizeof(why2), "%s's own DMA at the same IOVAs still copies %s", USER_B,
		 r == 0 && memcmp(region(&m, 0), region(&m, 1), EDU_XFER_SIZE) == 0 ? "its memory"
										    : "WRONG data");
	report(ok, "isolation-other-untouched",
	       "%s mapped %#llx and %#llx of %s, which %s's edu tried: %s; %s", USER_B, IOVA_SRC,
	       IOVA_DST, edus[1].bdf, USER_A, why, why2);
	close(fd);
	svm_disconnect(c);
	return 0;
}

/*
 * A: a device fd of its own edu, and every object id it can name. Each id that attaches must
 * translate IOVA_DST to A's own memory (the device writes A's pattern there), and B's memory
 * at the same IOVAs must stay as it was.
 */
static int client_a(void *arg)
{
	struct pair *p = arg;
	struct svm_client *c = NULL;
	struct edu_regs regs;
	struct mem m;
	uint32_t ids[16];
	char why[256], idl[128];
	char go = 0;
	size_t n, own = 0;
	int fd = -1, r;

	close(p->ready[1]);
	close(p->done[0]);
	r = svm_connect(SOCKET, &c);
	if (r == 0 && !mem_new(&m, "svmd-vm-a", 2 * REGION))
		r = -errno;
	if (r == 0) {
		fill_pattern(region(&m, 0), 0x3c);
		r = svm_map(c, edus[0].bdf, m.fd, 0, REGION, IOVA_SRC, SVM_MAP_READ, NULL);
	}
	if (r == 0)
		r = svm_map(c, edus[0].bdf, m.fd, REGION, REGION, IOVA_DST, SVM_MAP_WRITE, NULL);
	if (r == 0)
		r = svm_open_device(c, edus[0].bdf, &fd, NULL);
	if (r == 0)
		r = edu_setup(&regs, fd, why, sizeof(why));
	if (r == 0)
		r = edu_dma_from(&regs, IOVA_SRC); /* edu's buffer now holds A's pattern */
	if (read(p->ready[0], &go, 1) != 1 || go != '+' || r < 0) {
		report(false, "isolation-attach-scan", "set-up: %s, %s %s", strerror(-r), USER_B,
		       go == '+' ? "ready" : "not ready");
		goto out;
	}
	n = attach_scan(fd, ids, 16, why, sizeof(why));
	for (size_t i = 0; i < n; i++) {
		struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = ids[i]};

		memset(region(&m, 1), FILLER, REGION);
		if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0 &&
		    edu_dma_to(&regs, IOVA_DST) == 0 &&
		    memcmp(region(&m, 0), region(&m, 1), EDU_XFER_SIZE) == 0)
			own++;
	}
	ids_text(ids, n, idl, sizeof(idl));
	report(n > 0 && own == n, "isolation-attach-scan",
	       "%s's device fd attaches to ids %s of 0-%u (%s); %zu of them write %#llx into %s's "
	       "own memfd",
	       USER_A, idl, MAX_OBJECT_ID, why, own, IOVA_DST, USER_A);
out:
	go = '+';
	if (write(p->done[1], &go, 1) != 1)
		report(false, "isolation-attach-scan", "cannot tell %s: %s", USER_B,
		       strerror(errno));
	if (fd >= 0)
		close(fd);
	svm_disconnect(c);
	return 0;
}

static void pair_part(void)
{
	struct pair p;
	pid_t a, b;

	if (pipe2(p.ready, O_CLOEXEC) < 0 || pipe2(p.done, O_CLOEXEC) < 0) {
		report(false, "isolation-attach-scan", "pipe2: %s", strerror(errno));
		return;
	}
	b = client_start(USER_B, false, client_b, &p);
	a = client_start(USER_A, false, client_a, &p);
	close(p.ready[0]);
	close(p.ready[1]);
	close(p.done[0]);
	close(p.done[1]);
	client_wait(a, "isolation-attach-scan");
	client_wait(b, "isolation-other-untouched");
}

/* ---- svmd on the real kernel -------------------------------------------------------- */

/*
 * Waits up to 5 s for svmd to have ended the sessions of clients that exited (it does as it
 * reads their hang-up): the bindings root's svm_list still shows, or -1.
 */
static ssize_t svmd_wait_idle(void)
{
	struct svm_binding_info *list = NULL;
	struct svm_client *c = NULL;
	size_t n = 0;
	int r = -1;

	for (int i = 0; i < 50; i++) {
		r = svm_connect(SOCKET, &c);
		if (r == 0)
			r = svm_list(c, &list, &n);
		free(list);
		list = NULL;
		c = svm_disconnect(c);
		if (r < 0 || n == 0)
			break;
		usleep(100000);
	}
	return r < 0 ? -1 : (ssize_t)n;
}

/* svmd holds both cdevs bound, so root cannot bind one itself. */
static void owns_devices(pid_t pid)
{
	char what[512] = "";
	bool held = holds_fd(pid, "/dev/iommu"), ok = held;
	int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	size_t used = 0;

	for (int i = 0; i < 2; i++) {
		struct vfio_device_bind_iommufd bind = {.argsz = sizeof(bind), .iommufd = iommufd};
		int fd = open(edus[i].cdev, O_RDWR | O_CLOEXEC), r = -1, e = 0;

		if (fd >= 0 && iommufd >= 0) {
			r = ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
			e = errno;
		}
		held = holds_fd(pid, edus[i].cdev);
		ok = ok && held && fd >= 0 && r < 0 && e == EINVAL;
		used += (size_t)snprintf(what + used, sizeof(what) - used,
					 "; %s %s, root's own VFIO_DEVICE_BIND_IOMMUFD: %s",
					 edus[i].cdev, held ? "held" : "NOT held",
					 r == 0 ? "bound!" : strerror(e));
		if (fd >= 0)
			close(fd);
	}
	if (iommufd >= 0)
		close(iommufd);
	report(ok, "svmd-owns-devices", "svmd (pid %d) %s /dev/iommu%s", (int)pid,
	       holds_fd(pid, "/dev/iommu") ? "holds" : "does NOT hold", what);
}

static void real_part(void)
{
	char dev0[64], dev1[64], why[4096], line[512], what[1024];
	const char *args[] = {"--backend=iommufd",
			      dev0,
			      dev1,
			      "--bus=none",
			      "--socket=" SOCKET,
			      "--policy-dir=" POLICY_DIR,
			      "--audit=stderr",
			      "--state-dir=",
			      NULL};
	const char *second[] = {"--backend=iommufd",
				dev0,
				dev1,
				"--bus=none",
				"--socket=" SECOND_SOCKET,
				"--policy-dir=" POLICY_DIR,
				"--audit=stderr",
				"--state-dir=",
				NULL};
	struct svmd d = {.pid = -1}, d2 = {.pid = -1};
	long pin, lck;
	ssize_t n_left;
	int status;

	write_real_policy();
	snprintf(dev0, sizeof(dev0), "--device=%s", edus[0].bdf);
	snprintf(dev1, sizeof(dev1), "--device=%s", edus[1].bdf);
	if (svmd_start(&d, args, SOCKET, WORK "/svmd.log", why, sizeof(why)) < 0) {
		report(false, "svmd-serves", "%s", why);
		return;
	}
	svmd_pid = d.pid;
	if (find_line(d.log, "serving on", line, sizeof(line)))
		report(strstr(line, "iommufd backend") != NULL, "svmd-serves", "%s", line);
	else
		report(false, "svmd-serves", "socket there, but no \"serving on\" in %s", d.log);
	svmd_pinned(d.pid, &pin_base, &lck_base);
	owns_devices(d.pid);

	/* A second svmd on the same devices, while the first serves; the clients below show the
	 * first one unharmed. */
	if (svmd_start(&d2, second, SECOND_SOCKET, WORK "/second.log", why, sizeof(why)) == 0) {
		report(false, "second-svmd-refused", "a second svmd serves on %s", SECOND_SOCKET);
		svmd_stop(&d2);
	} else {
		grep_file(d2.log, edus[0].bdf, what, sizeof(what));
		report(what[0] != '\0' && strstr(why, "exited (status 0x100)"),
		       "second-svmd-refused", "%s", what[0] ? what : why);
	}

	client_wait(client_start(USER_A, false, single_client, NULL), "client-hello");
	pair_part();

	n_left = svmd_wait_idle();
	svmd_pinned(d.pid, &pin, &lck);
	status = svmd_stop(&d);
	grep_file(d.log, "seccomp: refused", what, sizeof(what));
	report(what[0] == '\0', "no-seccomp-refusals", "%s",
	       what[0] ? what : "every call svmd made was on its allow-list");
	report(status == 0 && n_left == 0 && pin == pin_base && lck == lck_base, "svmd-clean-exit",
	       "svmd exited with status %#x on SIGTERM; with every client gone (%zd bindings left) "
	       "VmPin %ld kB, VmLck %ld kB (at start %ld, %ld)",
	       status, n_left, pin, lck, pin_base, lck_base);
}

/* ---- svmd's test-only mock devices (the kernel's IOMMUFD_TEST) ------------------------ */

/*
 * svmd --test-mock-devices=2 (no edu): two mock devices of the kernel's mock IOMMU, which nests
 * and has PASIDs, so that the kernel's own iommufd core runs svmd's whole bind-pgtable
 * sequence. Clients A and B bind, invalidate, unbind and go; after each step root (this
 * program) asks the mock itself, not svmd: it takes svmd's iommufds with pidfd_getfd() and
 * finds there the mock device (the selftest object: PASID_CHECK_HWPT answers ENOENT for any
 * other id) and the nested HWPT of a client's table (MD_CHECK_IOTLB: svmd sets the mock's IOTLB
 * entries to gpgd >> 12, which only that table's HWPT has), then PASID_CHECK_HWPT(stdev, PASID,
 * HWPT) for what is attached where and MD_CHECK_IOTLB for what an invalidation cleared.
 * Holding a copy of the iommufd keeps its objects alive: that they go shows svmd destroyed
 * them.
 */
#define MOCK_POLICY_DIR  WORK "/mock-policy.d"
#define MOCK_POLICY_FILE MOCK_POLICY_DIR "/50-mock.policy"
#define MOCK0            "ffff:00:00.0"
#define MOCK1            "ffff:00:01.0"
#define MOCK_IDS_MAX     64u
/* The guest tables' gpgds; the mock's IOTLB value for each is gpgd >> 12. */
#define GPGD_RID     0x1234000ull
#define GPGD_PASID   0x5678000ull
#define GPGD_LEASE   0x9abc000ull
#define GPGD_B       0xdef0000ull
#define GPGD_DENIED  0x4444000ull
#define PASID_BOUND  5u
#define PASID_LEASE  7u
#define PASID_NO_INV 60u /* bind-pgtable allows it, invalidate does not */
#define PASID_DENIED 150u
#define GPGD_FAULT   0x7777000ull /* a table bound with its fault queue */
#define PASID_FAULT  11u
#define FAULT_ADDR   0x40001000ull /* the page request root triggers */
#define FAULT_GRPID  3u
#define FAULT_PERM   (IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE)
/* The RID is PASID 0, which a policy's pasid= grants as auto. */
#define POLICY_PG_A                                                                                \
	"allow bind-pgtable user=" USER_A " device=" MOCK0 " pasid=auto,1-99 addr-width=48"
#define POLICY_INV_A    "allow invalidate user=" USER_A " device=" MOCK0 " pasid=auto,1-49"
#define POLICY_B        "allow bind-pgtable,invalidate user=" USER_B " device=ffff:00:0*.0 pasid=1-99"
#define POLICY_DENY     "deny * group=" GROUP_AB
#define POLICY_DENY_INV "deny invalidate group=" GROUP_AB /* '*' has no invalidate */
#define DENIED_BY       "rule '" POLICY_DENY "' (" MOCK_POLICY_FILE ":5)"
#define DENIED_INV_BY   "rule '" POLICY_DENY_INV "' (" MOCK_POLICY_FILE ":6)"

static void write_mock_policy(void)
{
	if (mkdir(MOCK_POLICY_DIR, 0755) < 0 && errno != EEXIST)
		perror(MOCK_POLICY_DIR);
	if (write_file(MOCK_POLICY_FILE,
		       "# iommufd-svmd: svmd's test-only mock devices\n" POLICY_PG_A
		       "\n" POLICY_INV_A "\n" POLICY_B "\n" POLICY_DENY "\n" POLICY_DENY_INV
		       "\n") < 0)
		perror(MOCK_POLICY_FILE);
}

static int mock_cmd(int iommufd, struct iommu_test_cmd *c)
{
	c->size = sizeof(*c);
	return ioctl(iommufd, IOMMU_TEST_CMD, c) < 0 ? -errno : 0;
}

/* PASID_CHECK_HWPT: 0 when pasid of the mock device stdev is attached to hwpt (0: to nothing),
 * -EINVAL when not, -ENOENT when stdev (or hwpt) is no longer there. */
static int pasid_check(int iommufd, uint32_t stdev, uint32_t pasid, uint32_t hwpt)
{
	struct iommu_test_cmd c = {.op = IOMMU_TEST_OP_PASID_CHECK_HWPT,
				   .id = stdev,
				   .pasid_check = {.pasid = pasid, .hwpt_id = hwpt}};
	return mock_cmd(iommufd, &c);
}

/* MD_CHECK_IOTLB: 0 when entry `entry` of the nested mock HWPT hwpt is value, -EINVAL when not,
 * -ENOENT when there is no such HWPT. */
static int iotlb_check(int iommufd, uint32_t hwpt, uint32_t entry, uint32_t value)
{
	struct iommu_test_cmd c = {
		.op = IOMMU_TEST_OP_MD_CHECK_IOTLB, .id = hwpt, .check_iotlb = {entry, value}};
	return mock_cmd(iommufd, &c);
}

static const char *err_text(int r)
{
	return r == 0 ? "0" : strerrorname_np(-r) ? strerrorname_np(-r) : "?";
}

/* What the mock holds for one client's table: a copy of the iommufd it is in, the mock device
 * there and the nested HWPT whose IOTLB holds gpgd >> 12. */
struct mock_seen {
	int fd;
	uint32_t stdev, hwpt;
};

/* Searches every iommufd svmd holds for the nested HWPT of gpgd: true with *s filled (s->fd a
 * copy of that iommufd, for mock_seen_close()). */
static bool mock_find(pid_t svmd, uint64_t gpgd, struct mock_seen *s, char *why, size_t whylen)
{
	int pidfd = (int)syscall(SYS_pidfd_open, svmd, 0), n_ifd = 0;
	char dir[64], path[320], link[256];
	struct dirent *de;
	DIR *d;

	*s = (struct mock_seen){.fd = -1};
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)svmd);
	d = opendir(dir);
	if (pidfd < 0 || !d) {
		snprintf(why, whylen, "pidfd_open/opendir of svmd %d: %s", (int)svmd,
			 strerror(errno));
		if (d)
			closedir(d);
		if (pidfd >= 0)
			close(pidfd);
		return false;
	}
	while (s->fd < 0 && (de = readdir(d))) {
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "/dev/iommu") != 0 && strcmp(link, "anon_inode:[iommufd]") != 0)
			continue;
		n_ifd++;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd < 0)
			continue;
		uint32_t stdev = 0, hwpt = 0;
		for (uint32_t id = 1; id <= MOCK_IDS_MAX; id++) {
			if (!stdev && pasid_check(fd, id, 0, 0) != -ENOENT)
				stdev = id;
			if (!hwpt && iotlb_check(fd, id, 0, (uint32_t)(gpgd >> 12)) == 0)
				hwpt = id;
		}
		if (stdev && hwpt)
			*s = (struct mock_seen){.fd = fd, .stdev = stdev, .hwpt = hwpt};
		else
			close(fd);
	}
	closedir(d);
	close(pidfd);
	if (s->fd < 0)
		snprintf(why, whylen,
			 "none of svmd's %d iommufds has a mock device and a nested HWPT with "
			 "IOTLB %#llx",
			 n_ifd, (unsigned long long)(gpgd >> 12));
	return s->fd >= 0;
}

static void mock_seen_close(struct mock_seen *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Client and root in step: the client says what it did ("name [arg]" in a line), root checks
 * the kernel and answers one byte. */
struct mock_link {
	int up[2];         /* client -> root */
	int down[2];       /* root -> client */
	uint64_t a_ids[2]; /* B's arguments: two of A's binding ids */
};

static void link_say(struct mock_link *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void link_say(struct mock_link *l, const char *fmt, ...)
{
	char line[512], ack;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	fflush(stdout);
	if (write(l->up[1], line, (size_t)n) != n || read(l->down[0], &ack, 1) != 1)
		_exit(1);
}

/* Root: the client's next line into line (false when it went, or said nothing for 60 s). */
static bool link_hear(struct mock_link *l, char *line, size_t len)
{
	struct pollfd p = {.fd = l->up[0], .events = POLLIN};
	size_t n = 0;
	char ch;

	while (n + 1 < len && poll(&p, 1, 60000) == 1 && read(l->up[0], &ch, 1) == 1 && ch != '\n')
		line[n++] = ch;
	line[n] = '\0';
	return n > 0;
}

static void link_ack(struct mock_link *l)
{
	if (write(l->down[1], "+", 1) != 1)
		perror("ack");
}

static int bind_mock(struct svm_client *c, const char *dev, uint32_t pasid, uint32_t width,
		     uint64_t gpgd, uint64_t *id)
{
	struct svm_pgtable pg = {.pasid = pasid, .addr_width = width, .gpgd = gpgd};

	return svm_bind_pgtable(c, dev, &pg, id);
}

static int invalidate_mock(struct svm_client *c, uint64_t id, uint64_t flags, uint64_t iotlb)
{
	struct svm_invalidate_entry e = {{flags, iotlb, 0}};

	return svm_invalidate(c, id, SVM_INVALIDATE_MOCK, &e, 1, NULL);
}

/* A's table with its fault queue: root triggers a page request at its PASID (through the
 * mock), A reads it within 1 s and answers it; after unbind a second one reaches nothing. A
 * says what it saw, root judges (step_fault_*). */
static void mock_a_faults(struct svm_client *c, struct mock_link *l)
{
	struct svm_pgtable pg = {.pasid = PASID_FAULT, .addr_width = 48, .gpgd = GPGD_FAULT};
	struct iommu_hwpt_pgfault f = {0};
	uint64_t id = 0;
	int fd = -1, r, pr, e2 = 0, ru;
	ssize_t n, w, w2;

	r = svm_bind_pgtable_faults(c, MOCK0, &pg, &id, &fd);
	link_say(l, "fault-bound %d %d %s", r, fd >= 0, r ? reason(c) : "");
	if (r < 0 || fd < 0)
		return;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	pr = poll(&p, 1, 1000);
	n = read(fd, &f, sizeof(f));
	struct iommu_hwpt_page_response resp = {.cookie = f.cookie,
						.code = IOMMUFD_PAGE_RESP_SUCCESS};
	w = write(fd, &resp, sizeof(resp));
	w2 = write(fd, &resp, sizeof(resp)); /* answered already */
	if (w2 < 0)
		e2 = errno;
	link_say(l, "fault-read %d %zd %u %u %u %u %llx %zd %zd %s", pr > 0 ? p.revents : -1, n,
		 f.flags, f.pasid, f.grpid, f.perm, (unsigned long long)f.addr, w, w2,
		 e2 ? strerrorname_np(e2) : "0");
	ru = svm_unbind(c, id);
	link_say(l, "fault-unbound %d", ru);
	p.revents = 0;
	pr = poll(&p, 1, 200);
	n = read(fd, &f, sizeof(f));
	e2 = n < 0 ? errno : 0;
	link_say(l, "fault-after %d %zd %s", pr > 0 ? p.revents : 0, n,
		 e2 ? strerrorname_np(e2) : "0");
	close(fd);
}

/* A's policy rows: bind-pgtable's PASID range and address width, invalidate's PASIDs. */
static void mock_a_policy(struct svm_client *c)
{
	uint64_t no_inv = 0, id = 0;
	char denied[3][256];
	int rd[3], r;
	bool ok;

	rd[0] = bind_mock(c, MOCK0, PASID_DENIED, 48, GPGD_DENIED, &id);
	snprintf(denied[0], sizeof(denied[0]), "%s", reason(c));
	rd[1] = bind_mock(c, MOCK0, 8, 57, GPGD_DENIED, &id);
	snprintf(denied[1], sizeof(denied[1]), "%s", reason(c));
	r = bind_mock(c, MOCK0, PASID_NO_INV, 48, GPGD_LEASE + 0x1000, &no_inv);
	rd[2] = invalidate_mock(c, no_inv, SVM_INVALIDATE_MOCK_ALL, 0);
	snprintf(denied[2], sizeof(denied[2]), "%s", reason(c));
	ok = rd[0] == -EACCES && rd[1] == -EACCES && rd[2] == -EACCES && r == 0 &&
	     strcmp(denied[0], DENIED_BY) == 0 && strcmp(denied[1], DENIED_BY) == 0 &&
	     strcmp(denied[2], DENIED_INV_BY) == 0;
	report(ok, "mock-policy-pgtable",
	       "allowed (\"%s\"): RID, PASIDs %u and %u, width 48; denied: PASID %u: %d \"%s\"; "
	       "width 57: %d \"%s\"; (\"%s\") invalidate at PASID %u: %d \"%s\"",
	       POLICY_PG_A, PASID_BOUND, PASID_NO_INV, PASID_DENIED, rd[0], denied[0], rd[1],
	       denied[1], POLICY_INV_A, PASID_NO_INV, rd[2], denied[2]);
	if (no_inv)
		svm_unbind(c, no_inv);
}

/* Client A on mock 0. */
static int mock_client_a(void *arg)
{
	struct mock_link *l = arg;
	struct svm_client *c = NULL;
	uint64_t rid = 0, pid5 = 0, lease = 0, id = 0;
	char *info = NULL, why[512];
	uint32_t kinds = 0;
	int fd = -1, r, lease_fd = -1;
	bool ok;

	r = svm_connect(SOCKET, &c);
	if (r < 0) {
		report(false, "mock-device-info", "svm_connect: %s", strerror(-r));
		return 0;
	}
	r = svm_device_info(c, MOCK0, &kinds, &info);
	ok = r == 0 && kinds == (SVM_KIND_BIT(SVM_KIND_PGTABLE) | SVM_KIND_BIT(SVM_KIND_MAP)) &&
	     info && strstr(info, "task:") && strstr(info, "pasid-table:") &&
	     strstr(info, "device:");
	report(ok, "mock-device-info", "%s: %d, kinds %#x, \"%s\"", MOCK0, r, kinds,
	       info ? info : "");
	free(info);
	r = svm_open_device(c, MOCK0, &fd, NULL);
	report(r == -EOPNOTSUPP && strstr(reason(c), "no VFIO device to hand out"),
	       "mock-open-device-refused", "%d (%s) \"%s\"", r, strerror(-r), reason(c));
	if (fd >= 0)
		close(fd);

	r = bind_mock(c, MOCK0, 0, 48, GPGD_RID, &rid);
	snprintf(why, sizeof(why), "%d %s", r, r ? reason(c) : "");
	link_say(l, "rid %d %s", r, why);
	r = bind_mock(c, MOCK0, PASID_BOUND, 48, GPGD_PASID, &pid5);
	snprintf(why, sizeof(why), "%d %s", r, r ? reason(c) : "");
	link_say(l, "pasid %s", why);

	r = bind_mock(c, MOCK0, PASID_BOUND, 48, GPGD_DENIED, &id);
	report(r == -EBUSY && strstr(reason(c), "already bound"), "mock-pasid-busy",
	       "PASID %u again: %d (%s) \"%s\"", PASID_BOUND, r, strerror(-r), reason(c));
	link_say(l, "busy");
	r = bind_mock(c, MOCK0, 1u << 20, 48, GPGD_DENIED, &id);
	report(r == -EINVAL && strstr(reason(c), "beyond the 20-bit PASID space"),
	       "mock-pasid-beyond-width", "PASID %#x: %d (%s) \"%s\"", 1u << 20, r, strerror(-r),
	       reason(c));
	link_say(l, "wide");

	mock_a_policy(c);
	mock_a_faults(c, l);

	/* Invalidate: entry 1 of the PASID's table, checked first: entry 4 and type 1 are not
	 * the mock's. */
	r = invalidate_mock(c, pid5, 0, 1);
	int bad = invalidate_mock(c, pid5, 0, 4);
	snprintf(why, sizeof(why), "%s", reason(c));
	struct svm_invalidate_entry vtd = {{0, UINT64_MAX, 0}};
	int wrong = svm_invalidate(c, pid5, SVM_INVALIDATE_VTD_S1, &vtd, 1, NULL);
	link_say(l, "invalidate %d %d %d %s / %s", r, bad, wrong, why, reason(c));

	link_say(l, "b"); /* B runs now: it tries mock 0 and A's bindings */

	r = svm_unbind(c, pid5);
	link_say(l, "unbind-pasid %d", r);
	r = svm_unbind(c, rid);
	link_say(l, "unbind-rid %d", r);

	/* The RID bound again, a PASID bound and leased; the session ends. */
	r = bind_mock(c, MOCK0, 0, 48, GPGD_RID, &rid);
	int rl = bind_mock(c, MOCK0, PASID_LEASE, 48, GPGD_LEASE, &lease);
	if (rl == 0)
		rl = svm_lease(c, lease, &lease_fd);
	link_say(l, "leased %d %d", r, rl);
	c = svm_disconnect(c);
	link_say(l, "disconnected");
	if (lease_fd >= 0)
		close(lease_fd);
	link_say(l, "lease-closed");
	return 0;
}

/* Client B: mock 0 is A's; A's bindings are not B's; its own on mock 1, until it goes. */
static int mock_client_b(void *arg)
{
	struct mock_link *l = arg;
	struct svm_client *c = NULL;
	uint64_t id = 0;
	int r, r2, r3;

	r = svm_connect(SOCKET, &c);
	if (r < 0) {
		report(false, "mock-held-by-session", "svm_connect: %s", strerror(-r));
		link_say(l, "b-done");
		return 0;
	}
	r = bind_mock(c, MOCK0, 9, 48, GPGD_DENIED, &id);
	report(r == -EBUSY && strstr(reason(c), "held by another client's session"),
	       "mock-held-by-session", "%s's bind-pgtable on %s (A's) at PASID 9: %d (%s) \"%s\"",
	       USER_B, MOCK0, r, strerror(-r), reason(c));
	r2 = invalidate_mock(c, l->a_ids[0], SVM_INVALIDATE_MOCK_ALL, 0);
	r3 = invalidate_mock(c, l->a_ids[1], SVM_INVALIDATE_MOCK_ALL, 0);
	link_say(l, "b-invalidate %d %d %s", r2, r3, reason(c));
	r = bind_mock(c, MOCK1, 3, 48, GPGD_B, &id);
	link_say(l, "b-bound %d %s", r, r ? reason(c) : "");
	c = svm_disconnect(c);
	link_say(l, "b-done");
	return 0;
}

/* svmd ends a session as it reads the hang-up, before the next request: one on a new
 * connection is answered after it. */
static void svmd_sync(void)
{
	struct svm_binding_info *list = NULL;
	struct svm_client *c = NULL;
	size_t n = 0;

	if (svm_connect(SOCKET, &c) == 0)
		svm_list(c, &list, &n);
	free(list);
	svm_disconnect(c);
}

static void mock_iotlb_text(int fd, uint32_t hwpt, uint32_t value, char *buf, size_t len)
{
	snprintf(buf, len, "%s,%s,%s,%s", err_text(iotlb_check(fd, hwpt, 0, value)),
		 err_text(iotlb_check(fd, hwpt, 1, value)),
		 err_text(iotlb_check(fd, hwpt, 2, value)),
		 err_text(iotlb_check(fd, hwpt, 3, value)));
}

/* Root's side of client B's steps. */
static void mock_root_b(struct mock_link *l, const struct mock_seen *rid,
			const struct mock_seen *p5)
{
	char line[512], why[256], why2[256];
	struct mock_seen b = {.fd = -1};
	bool ok;

	while (link_hear(l, line, sizeof(line))) {
		if (strncmp(line, "b-invalidate ", 13) == 0) {
			int r2 = 1, r3 = 1;
			sscanf(line + 13, "%d %d", &r2, &r3);
			mock_iotlb_text(rid->fd, rid->hwpt, (uint32_t)(GPGD_RID >> 12), why,
					sizeof(why));
			ok = r2 == -ENOENT && r3 == -ENOENT && strcmp(why, "0,0,0,0") == 0 &&
			     iotlb_check(p5->fd, p5->hwpt, 0, (uint32_t)(GPGD_PASID >> 12)) == 0;
			report(ok, "mock-invalidate-others-refused",
			       "%s's invalidate of A's bindings: %s; A's RID table's IOTLB entries "
			       "still %#llx: %s",
			       USER_B, line + 13, (unsigned long long)(GPGD_RID >> 12), why);
		} else if (strncmp(line, "b-bound ", 8) == 0) {
			ok = strncmp(line + 8, "0", 1) == 0 &&
			     mock_find(svmd_pid, GPGD_B, &b, why, sizeof(why)) &&
			     pasid_check(b.fd, b.stdev, 3, b.hwpt) == 0;
			if (!ok)
				report(false, "mock-session-end-releases",
				       "%s's bind on %s: %s; %s", USER_B, MOCK1, line + 8, why);
		} else if (strcmp(line, "b-done") == 0) {
			if (b.fd >= 0) {
				svmd_sync();
				int rs = pasid_check(b.fd, b.stdev, 3, 0);
				int rh = iotlb_check(b.fd, b.hwpt, 0, (uint32_t)(GPGD_B >> 12));
				snprintf(why2, sizeof(why2),
					 "mock device %u: PASID_CHECK_HWPT %s, nested HWPT %u: "
					 "MD_CHECK_IOTLB %s",
					 b.stdev, err_text(rs), b.hwpt, err_text(rh));
				report(rs == -ENOENT && rh == -ENOENT, "mock-session-end-releases",
				       "before: %s PASID 3 on HWPT %u (IOTLB %#llx); after %s's "
				       "session ended, holding a copy of its iommufd: %s",
				       MOCK1, b.hwpt, (unsigned long long)(GPGD_B >> 12), USER_B,
				       why2);
			}
			mock_seen_close(&b);
			link_ack(l);
			return;
		}
		link_ack(l);
	}
}

/* Root's side of client A's steps: what the mock holds for A's tables. */
struct mock_root {
	struct mock_seen rid, p5, ls; /* A's RID table, its PASID's, its leased one */
	uint32_t rid_hwpt;
	struct mock_seen fl; /* A's table with a fault queue */
	uint32_t fault_dev;  /* the mock device's object in that iommufd (TRIGGER_IOPF's) */
	char fault_said[1024];
	bool fault_ok, fault_reported;
};

/* TRIGGER_IOPF: the mock reports a page request of its device dev_id at pasid, to the fault
 * queue of the HWPT that PASID is attached to. */
static int trigger_iopf(int iommufd, uint32_t dev_id, uint32_t pasid)
{
	struct iommu_test_cmd c = {.op = IOMMU_TEST_OP_TRIGGER_IOPF,
				   .trigger_iopf = {.dev_id = dev_id,
						    .pasid = pasid,
						    .grpid = FAULT_GRPID,
						    .perm = FAULT_PERM,
						    .addr = FAULT_ADDR}};
	return mock_cmd(iommufd, &c);
}

static void fault_note(struct mock_root *m, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fault_note(struct mock_root *m, bool ok, const char *fmt, ...)
{
	size_t used = strlen(m->fault_said);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->fault_said + used, sizeof(m->fault_said) - used, fmt, ap);
	va_end(ap);
	m->fault_ok = m->fault_ok && ok;
}

/* A bound its table with the fault queue: root finds it in the mock (attached at the PASID)
 * and triggers a page request there. The device object is the one id TRIGGER_IOPF takes in
 * that iommufd (the others are no devices: ENOENT). */
static void step_fault_bound(struct mock_root *m, const char *arg)
{
	char why[512] = "";
	int r = 1;

	m->fault_ok = strncmp(arg, "0 1", 3) == 0 &&
		      mock_find(svmd_pid, GPGD_FAULT, &m->fl, why, sizeof(why));
	fault_note(m, true, "bind with faults at PASID %u: %s%s", PASID_FAULT, arg, why);
	if (!m->fault_ok) {
		report(false, "mock-fault-to-owner", "%s", m->fault_said);
		m->fault_reported = true;
		return;
	}
	r = pasid_check(m->fl.fd, m->fl.stdev, PASID_FAULT, m->fl.hwpt);
	fault_note(m, r == 0, "; PASID_CHECK_HWPT(%u, %u) %s", PASID_FAULT, m->fl.hwpt,
		   err_text(r));
	for (uint32_t id = 1; !m->fault_dev && id <= MOCK_IDS_MAX; id++)
		if (trigger_iopf(m->fl.fd, id, PASID_FAULT) == 0)
			m->fault_dev = id;
	fault_note(m, m->fault_dev != 0, "; TRIGGER_IOPF(device %u, PASID %u, addr %#llx)",
		   m->fault_dev, PASID_FAULT, FAULT_ADDR);
}

/* What A read (within 1 s) and how the kernel took its answer (a second one for the same
 * cookie is refused: EINVAL). */
static void step_fault_read(struct mock_root *m, const char *arg)
{
	int revents = 0;
	long n = 0, w = 0, w2 = 0;
	unsigned flags = 0, pasid = 0, grpid = 0, perm = 0;
	unsigned long long addr = 0;
	char e2[32] = "";

	if (sscanf(arg, "%d %ld %u %u %u %u %llx %ld %ld %31s", &revents, &n, &flags, &pasid,
		   &grpid, &perm, &addr, &w, &w2, e2) != 10)
		m->fault_ok = false;
	fault_note(m,
		   (revents & POLLIN) && n == (long)sizeof(struct iommu_hwpt_pgfault) &&
			   flags == (IOMMU_PGFAULT_FLAGS_PASID_VALID |
				     IOMMU_PGFAULT_FLAGS_LAST_PAGE) &&
			   pasid == PASID_FAULT && grpid == FAULT_GRPID && perm == FAULT_PERM &&
			   addr == FAULT_ADDR &&
			   w == (long)sizeof(struct iommu_hwpt_page_response) && w2 == -1 &&
			   strcmp(e2, "EINVAL") == 0,
		   "; A read (revents, bytes, flags, pasid, grpid, perm, addr) and wrote its "
		   "response, then again: %s",
		   arg);
}

static void step_fault_unbound(struct mock_root *m, const char *arg)
{
	int r = m->fl.fd >= 0 ? pasid_check(m->fl.fd, m->fl.stdev, PASID_FAULT, 0) : -EBADF;
	int rh = m->fl.fd >= 0 ? iotlb_check(m->fl.fd, m->fl.hwpt, 0, (uint32_t)(GPGD_FAULT >> 12))
			       : -EBADF;
	int rt = m->fault_dev ? trigger_iopf(m->fl.fd, m->fault_dev, PASID_FAULT) : -ENODEV;

	fault_note(m, strcmp(arg, "0") == 0 && r == 0 && rh == -ENOENT,
		   "; unbind %s: PASID %u attached to nothing: %s, its HWPT: %s; TRIGGER_IOPF "
		   "again: %s",
		   arg, PASID_FAULT, err_text(r), err_text(rh), err_text(rt));
}

static void step_fault_after(struct mock_root *m, const char *arg)
{
	fault_note(m, strcmp(arg, "0 0 0") == 0,
		   "; then A's fd (revents, read, errno): %s (nothing more)", arg);
	report(m->fault_ok, "mock-fault-to-owner", "%s", m->fault_said);
	m->fault_reported = true;
	mock_seen_close(&m->fl);
}

static void step_rid(struct mock_root *m, const char *arg)
{
	char why[512];
	bool ok = strncmp(arg, "0 ", 2) == 0 &&
		  mock_find(svmd_pid, GPGD_RID, &m->rid, why, sizeof(why));

	if (ok) {
		int r = pasid_check(m->rid.fd, m->rid.stdev, 0, m->rid.hwpt);
		snprintf(why, sizeof(why),
			 "mock device %u, nested HWPT %u (IOTLB %#llx): PASID_CHECK_HWPT(RID, %u) "
			 "%s",
			 m->rid.stdev, m->rid.hwpt, (unsigned long long)(GPGD_RID >> 12),
			 m->rid.hwpt, err_text(r));
		ok = r == 0;
		m->rid_hwpt = m->rid.hwpt;
	}
	report(ok, "mock-bind-rid", "bind-pgtable %s at the RID: %s; %s", MOCK0, arg, why);
}

static void step_pasid(struct mock_root *m, const char *arg)
{
	struct mock_seen *p5 = &m->p5;
	char why[512];
	bool ok =
		strncmp(arg, "0 ", 2) == 0 && mock_find(svmd_pid, GPGD_PASID, p5, why, sizeof(why));

	if (ok) {
		int r = pasid_check(p5->fd, p5->stdev, PASID_BOUND, p5->hwpt);
		int r0 = pasid_check(p5->fd, p5->stdev, 0, m->rid_hwpt);
		snprintf(why, sizeof(why),
			 "nested HWPT %u (IOTLB %#llx): PASID_CHECK_HWPT(%u, %u) %s; the RID still "
			 "on %u: %s",
			 p5->hwpt, (unsigned long long)(GPGD_PASID >> 12), PASID_BOUND, p5->hwpt,
			 err_text(r), m->rid_hwpt, err_text(r0));
		ok = r == 0 && r0 == 0 && p5->stdev == m->rid.stdev;
	}
	report(ok, "mock-bind-pasid", "bind-pgtable %s at PASID %u: %s; %s", MOCK0, PASID_BOUND,
	       arg, why);
}

static void step_busy(struct mock_root *m, const char *arg)
{
	int r = pasid_check(m->p5.fd, m->p5.stdev, PASID_BOUND, m->p5.hwpt);
	int ri = iotlb_check(m->p5.fd, m->p5.hwpt, 0, (uint32_t)(GPGD_PASID >> 12));

	(void)arg;
	report(r == 0 && ri == 0, "mock-pasid-busy-kernel",
	       "after the refused second bind, PASID %u still on HWPT %u: %s, its IOTLB still "
	       "%#llx: %s",
	       PASID_BOUND, m->p5.hwpt, err_text(r), (unsigned long long)(GPGD_PASID >> 12),
	       err_text(ri));
}

static void step_wide(struct mock_root *m, const char *arg)
{
	int r = pasid_check(m->p5.fd, m->p5.stdev, 1u << 20, 0);

	(void)arg;
	report(r == 0, "mock-pasid-beyond-width-kernel",
	       "PASID %#x of mock device %u attached to nothing: %s", 1u << 20, m->p5.stdev,
	       err_text(r));
}

static void step_invalidate(struct mock_root *m, const char *arg)
{
	const struct mock_seen *p5 = &m->p5;
	int ri = 1, bad = 1, wrong = 1, zero1;
	char iotlb[256];
	bool ok;

	sscanf(arg, "%d %d %d", &ri, &bad, &wrong);
	mock_iotlb_text(p5->fd, p5->hwpt, (uint32_t)(GPGD_PASID >> 12), iotlb, sizeof(iotlb));
	zero1 = iotlb_check(p5->fd, p5->hwpt, 1, 0);
	ok = ri == 0 && bad == -EINVAL && wrong == -EOPNOTSUPP &&
	     strcmp(iotlb, "0,EINVAL,0,0") == 0 && zero1 == 0;
	report(ok, "mock-invalidate",
	       "invalidate (type 3) of entry 1, entry 4, type 1: %s; MD_CHECK_IOTLB of HWPT %u "
	       "entries 0-3 against %#llx: %s, entry 1 against 0: %s",
	       arg, p5->hwpt, (unsigned long long)(GPGD_PASID >> 12), iotlb, err_text(zero1));
}

/* Client B, while A waits for this step's answer: on pipes of its own, with two of A's
 * binding ids from svmd's list as root sees it. */
static void step_b(struct mock_root *m, const char *arg)
{
	struct mock_link lb = {.up = {-1, -1}, .down = {-1, -1}};
	struct svm_binding_info *list = NULL;
	struct svm_client *c = NULL;
	size_t n = 0, k = 0;
	pid_t b = -1;

	(void)arg;
	if (svm_connect(SOCKET, &c) == 0 && svm_list(c, &list, &n) == 0)
		for (size_t i = 0; i < n && k < 2; i++)
			if (list[i].kind == SVM_KIND_PGTABLE)
				lb.a_ids[k++] = list[i].id;
	free(list);
	svm_disconnect(c);
	if (pipe2(lb.up, O_CLOEXEC) == 0 && pipe2(lb.down, O_CLOEXEC) == 0)
		b = client_start(USER_B, false, mock_client_b, &lb);
	else
		report(false, "mock-held-by-session", "pipe2: %s", strerror(errno));
	if (b > 0)
		mock_root_b(&lb, &m->rid, &m->p5);
	client_wait(b, "mock-held-by-session");
	for (int i = 0; i < 2; i++) {
		if (lb.up[i] >= 0)
			close(lb.up[i]);
		if (lb.down[i] >= 0)
			close(lb.down[i]);
	}
}

static void step_unbind_pasid(struct mock_root *m, const char *arg)
{
	const struct mock_seen *p5 = &m->p5;
	int r = pasid_check(p5->fd, p5->stdev, PASID_BOUND, 0);
	int rh = iotlb_check(p5->fd, p5->hwpt, 0, (uint32_t)(GPGD_PASID >> 12));
	int r0 = pasid_check(p5->fd, p5->stdev, 0, m->rid_hwpt);

	report(strcmp(arg, "0") == 0 && r == 0 && rh == -ENOENT && r0 == 0, "mock-unbind-pasid",
	       "svm_unbind: %s; PASID %u attached to nothing: %s; its HWPT %u: %s; the RID still "
	       "on %u: %s",
	       arg, PASID_BOUND, err_text(r), p5->hwpt, err_text(rh), m->rid_hwpt, err_text(r0));
}

static void step_unbind_rid(struct mock_root *m, const char *arg)
{
	const struct mock_seen *rid = &m->rid;
	int r = pasid_check(rid->fd, rid->stdev, 0, 0);
	int rh = iotlb_check(rid->fd, rid->hwpt, 0, (uint32_t)(GPGD_RID >> 12)), rn;
	uint32_t on = 0;

	/* What the RID is on now: a HWPT that is no nested one (MD_CHECK_IOTLB answers ENOENT
	 * for a paging HWPT), svmd's stage-2 parent. */
	for (uint32_t id = 1; !on && id <= MOCK_IDS_MAX; id++)
		if (pasid_check(rid->fd, rid->stdev, 0, id) == 0)
			on = id;
	rn = on ? iotlb_check(rid->fd, on, 0, 0) : 0;
	report(strcmp(arg, "0") == 0 && r == -EINVAL && rh == -ENOENT && on && on != rid->hwpt &&
		       rn == -ENOENT,
	       "mock-unbind-rid",
	       "svm_unbind: %s; the RID attached to something, PASID_CHECK_HWPT(RID, 0): %s: to "
	       "HWPT %u, not nested (MD_CHECK_IOTLB %s), stage 2; its nested HWPT %u: %s",
	       arg, err_text(r), on, err_text(rn), rid->hwpt, err_text(rh));
	mock_seen_close(&m->rid);
	mock_seen_close(&m->p5);
}

static void step_leased(struct mock_root *m, const char *arg)
{
	char why[512] = "";
	bool ok = strcmp(arg, "0 0") == 0 &&
		  mock_find(svmd_pid, GPGD_RID, &m->rid, why, sizeof(why)) &&
		  mock_find(svmd_pid, GPGD_LEASE, &m->ls, why, sizeof(why));

	if (!ok)
		report(false, "mock-lease-close-releases", "set-up: %s; %s", arg, why);
}

static void step_disconnected(struct mock_root *m, const char *arg)
{
	const struct mock_seen *rid = &m->rid, *ls = &m->ls;
	int rr, rh, rl;

	(void)arg;
	if (ls->fd < 0)
		return;
	svmd_sync();
	rr = pasid_check(rid->fd, rid->stdev, 0, rid->hwpt);
	rh = iotlb_check(rid->fd, rid->hwpt, 0, (uint32_t)(GPGD_RID >> 12));
	rl = pasid_check(ls->fd, ls->stdev, PASID_LEASE, ls->hwpt);
	report(rr != 0 && rh == -ENOENT && rl == 0, "mock-session-end-keeps-lease",
	       "after A's session ended: its RID table (HWPT %u) released: PASID_CHECK_HWPT %s, "
	       "MD_CHECK_IOTLB %s; the leased PASID %u still on HWPT %u: %s",
	       rid->hwpt, err_text(rr), err_text(rh), PASID_LEASE, ls->hwpt, err_text(rl));
}

static void step_lease_closed(struct mock_root *m, const char *arg)
{
	const struct mock_seen *ls = &m->ls;
	ssize_t left;
	int rl, rh;

	(void)arg;
	if (ls->fd < 0)
		return;
	left = svmd_wait_idle();
	rl = pasid_check(ls->fd, ls->stdev, PASID_LEASE, 0);
	rh = iotlb_check(ls->fd, ls->hwpt, 0, (uint32_t)(GPGD_LEASE >> 12));
	report(left == 0 && rl == -ENOENT && rh == -ENOENT, "mock-lease-close-releases",
	       "lease closed: %zd bindings left; mock device %u: %s, nested HWPT %u: %s (a copy "
	       "of the iommufd held)",
	       left, ls->stdev, err_text(rl), ls->hwpt, err_text(rh));
}

/* Each of A's steps ("NAME ARGS"), in the order A takes them; the last ends the talk. */
static const struct {
	const char *name;
	void (*fn)(struct mock_root *m, const char *arg);
} mock_steps[] = {
	{"rid", step_rid},
	{"pasid", step_pasid},
	{"busy", step_busy},
	{"wide", step_wide},
	{"fault-bound", step_fault_bound},
	{"fault-read", step_fault_read},
	{"fault-unbound", step_fault_unbound},
	{"fault-after", step_fault_after},
	{"invalidate", step_invalidate},
	{"b", step_b},
	{"unbind-pasid", step_unbind_pasid},
	{"unbind-rid", step_unbind_rid},
	{"leased", step_leased},
	{"disconnected", step_disconnected},
	{"lease-closed", step_lease_closed},
};

static void mock_root(struct mock_link *l)
{
	struct mock_root m = {
		.rid = {.fd = -1}, .p5 = {.fd = -1}, .ls = {.fd = -1}, .fl = {.fd = -1}};
	char line[512];
	bool last = false;

	while (!last && link_hear(l, line, sizeof(line))) {
		size_t len = strcspn(line, " ");
		const char *arg = line[len] ? line + len + 1 : "";
		for (size_t i = 0; i < sizeof(mock_steps) / sizeof(mock_steps[0]); i++)
			if (strlen(mock_steps[i].name) == len &&
			    strncmp(line, mock_steps[i].name, len) == 0) {
				mock_steps[i].fn(&m, arg);
				last = i + 1 == sizeof(mock_steps) / sizeof(mock_steps[0]);
			}
		link_ack(l);
	}
	mock_seen_close(&m.rid);
	mock_seen_close(&m.p5);
	mock_seen_close(&m.ls);
	mock_seen_close(&m.fl);
	if (!m.fault_reported)
		report(false, "mock-fault-to-owner", "client A did not finish its fault steps: %s",
		       m.fault_said[0] ? m.fault_said : "it never bound its table with faults");
}

static void mock_part(void)
{
	const char *args[] = {"--backend=iommufd",
			      "--test-mock-devices=2",
			      "--bus=none",
			      "--socket=" SOCKET,
			      "--policy-dir=" MOCK_POLICY_DIR,
			      "--audit=stderr",
			      "--state-dir=",
			      NULL};
	struct mock_link l = {0};
	struct svmd d = {.pid = -1};
	char why[4096], what[1024];
	int status;
	pid_t a;

	write_mock_policy();
	if (svmd_start(&d, args, SOCKET, WORK "/mock.log", why, sizeof(why)) < 0) {
		report(false, "mock-svmd-serves", "%s", why);
		return;
	}
	svmd_pid = d.pid;
	grep_file(d.log, "TEST ONLY, a mock device", what, sizeof(what));
	report(strstr(what, MOCK0) && strstr(what, MOCK1) && strstr(what, "20 PASID bits"),
	       "mock-svmd-serves", "%s", what);
	if (pipe2(l.up, O_CLOEXEC) < 0 || pipe2(l.down, O_CLOEXEC) < 0) {
		report(false, "mock-bind-rid", "pipe2: %s", strerror(errno));
		svmd_stop(&d);
		return;
	}
	a = client_start(USER_A, false, mock_client_a, &l);
	mock_root(&l);
	client_wait(a, "mock-bind-rid");
	status = svmd_stop(&d);
	grep_file(d.log, "seccomp: refused", what, sizeof(what));
	report(status == 0 && what[0] == '\0', "mock-svmd-clean-exit",
	       "svmd exited with status %#x on SIGTERM; %s", status,
	       what[0] ? what : "every call svmd made was on its allow-list");
}

int main(int argc, char **argv)
{
	char why[256];
	size_t c;
	int i;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (c = 0; c < N_CHECKS; c++)
			printf("%s\n", checks[c]);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF0 BDF1 | --list\n", argv[0]);
		return 2;
	}
	fault_times[0] = fault_times[1] = fault_times[2] = now_s();
	for (i = 0; i < 2; i++) {
		edus[i].bdf = argv[1 + i];
		if (edu_find_cdev(edus[i].bdf, edus[i].cdev, sizeof(edus[i].cdev), why,
				  sizeof(why)) < 0) {
			report(false, "svmd-serves", "%s", why);
			return 1;
		}
	}
	write_policy();
	sim_part();
	real_part();
	mock_part();
	return n_failed ? 1 : 0;
}
