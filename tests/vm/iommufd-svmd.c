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
 * It needs /usr/bin/svmd and the users svmd-vm-a and svmd-vm-b (both in group svmd-vm), which
 * run-kernel.sh puts into the guest. Built against the test kernel's uAPI headers and
 * libsvmclient.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
	/* svmd on the real kernel. */
	"svmd-serves",
	"svmd-owns-devices",
	"open-device",
	"seed-ioctl-enotty",
	"second-svmd-refused",
	"no-seccomp-refusals",
	"svmd-clean-exit",
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static int n_failed;

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s: ", ok ? "PASS" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
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

/* ---- svmd on the real kernel -------------------------------------------------------- */

/* Client A on the real kernel: a working device fd from svmd, which answers the seed's ioctl
 * as every kernel does. */
static int real_client(void *arg)
{
	struct svm_client *c = NULL;
	struct edu_regs regs;
	char why[256];
	uint64_t id = 0;
	int fd = -1, r;

	(void)arg;
	r = svm_connect(SOCKET, &c);
	if (r < 0) {
		report(false, "open-device", "svm_connect: %s", strerror(-r));
		return 0;
	}
	r = svm_open_device(c, edus[0].bdf, &fd, &id);
	if (r < 0) {
		report(false, "open-device", "%s: %s (%s)", edus[0].bdf, strerror(-r), reason(c));
		svm_disconnect(c);
		return 0;
	}
	r = edu_setup(&regs, fd, why, sizeof(why));
	report(r == 0, "open-device", "binding %" PRIu64 " on %s: %s", id, edus[0].bdf, why);

	errno = 0;
	r = ioctl(fd, SEED_SVM_BIND, NULL);
	report(r < 0 && errno == ENOTTY, "seed-ioctl-enotty",
	       "VFIO_IOMMU_SVM_BIND (%#lx) on svmd's device fd: %d, %s",
	       (unsigned long)SEED_SVM_BIND, r, strerror(errno));
	close(fd);
	svm_disconnect(c);
	return 0;
}

static void real_part(void)
{
	char dev0[64], dev1[64], why[4096], line[512], what[1024];
	const char *args[] = {"--backend=vfio",
			      dev0,
			      dev1,
			      "--bus=none",
			      "--socket=" SOCKET,
			      "--policy-dir=" POLICY_DIR,
			      "--audit=stderr",
			      "--state-dir=",
			      NULL};
	const char *second[] = {"--backend=vfio",
				dev0,
				dev1,
				"--bus=none",
				"--socket=" SECOND_SOCKET,
				"--policy-dir=" POLICY_DIR,
				"--audit=stderr",
				"--state-dir=",
				NULL};
	struct svmd d = {.pid = -1}, d2 = {.pid = -1};
	int status;

	snprintf(dev0, sizeof(dev0), "--device=%s", edus[0].bdf);
	snprintf(dev1, sizeof(dev1), "--device=%s", edus[1].bdf);
	if (svmd_start(&d, args, SOCKET, WORK "/svmd.log", why, sizeof(why)) < 0) {
		report(false, "svmd-serves", "%s", why);
		return;
	}
	if (find_line(d.log, "serving on", line, sizeof(line)))
		report(true, "svmd-serves", "%s", line);
	else
		report(false, "svmd-serves", "socket there, but no \"serving on\" in %s", d.log);

	report(holds_fd(d.pid, "/dev/vfio/vfio"), "svmd-owns-devices",
	       "svmd (pid %d) holds /dev/vfio/vfio", (int)d.pid);

	client_wait(client_start(USER_A, false, real_client, NULL), "open-device");

	/* A second svmd on the same devices, while the first serves. */
	if (svmd_start(&d2, second, SECOND_SOCKET, WORK "/second.log", why, sizeof(why)) == 0) {
		report(false, "second-svmd-refused", "a second svmd serves on %s", SECOND_SOCKET);
		svmd_stop(&d2);
	} else {
		grep_file(d2.log, "in use", what, sizeof(what));
		report(what[0] != '\0', "second-svmd-refused", "%s", what[0] ? what : why);
	}

	status = svmd_stop(&d);
	grep_file(d.log, "seccomp: refused", what, sizeof(what));
	report(what[0] == '\0', "no-seccomp-refusals", "%s",
	       what[0] ? what : "every call svmd made was on its allow-list");
	report(status == 0, "svmd-clean-exit", "svmd exited with status %#x on SIGTERM", status);
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
	return n_failed ? 1 : 0;
}
