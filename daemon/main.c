/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd: the Shared Virtual Memory bind broker. Start-up in the order that lets each step fail
 * cleanly: options, policy (refuse to start on any error), backend, loop, socket, serve.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "audit.h"
#include "backends.h"
#include "bus.h"
#include "config.h"
#include "device.h"
#include "iommufd-mock.h"
#include "cleanup.h"
#include "log.h"
#include "loop.h"
#include "ops.h"
#include "persist.h"
#include "policy-load.h"
#include "sandbox.h"
#include "server.h"
#include "svmd-version.h"
#include "udev-match.h"
#include "util.h"

#define DEFAULT_SOCKET    "/run/svmd/svmd.sock"
#define DEFAULT_STATE_DIR "/run/svmd/state"
#define POLICY_DIRS_MAX   16
#define DEVICES_MAX       256

struct options {
	const char *config; /* NULL: the default file, if it exists */
	bool print_seccomp;
	int sandbox; /* -1 unset */
	bool log_level_set, audit_set;
	const char *backend;
	const char *sim_topology;
	const char *devices[DEVICES_MAX];
	size_t n_devices;
	const char *sysfs_root, *dev_root;
	const char *socket;
	const char *state_dir; /* NULL: DEFAULT_STATE_DIR if it exists; "": none */
	const char *policy_dirs[POLICY_DIRS_MAX];
	size_t n_policy_dirs;
	bool check_policy;
	const char *udev_match; /* --udev-match=WHAT */
	const char *bus;
	enum audit_sink audit;
	const char *map_bytes_per_user, *map_bytes_total; /* NULL: the defaults */
	size_t test_mock_devices; /* --test-mock-devices=N; command line only */
};

static void help(void)
{
	printf("Usage: svmd [OPTION]...\n"
	       "Broker Shared Virtual Memory binds (VFIO_IOMMU_SVM_BIND) for unprivileged\n"
	       "clients, as its policy allows.\n"
	       "\n"
	       "  --backend=NAME        kernel backend: iommufd (a mainline kernel's /dev/iommu\n"
	       "                        and VFIO cdevs), vfio (the legacy VFIO container), sim\n"
	       "                        (a simulated kernel) or auto (iommufd if /dev/iommu and\n"
	       "                        every device's cdev exist, else vfio if /dev/vfio/vfio\n"
	       "                        does) [auto]\n"
	       "  --device=BDF          iommufd, vfio: manage this PCI function (repeatable)\n"
	       "  --sim-topology=FILE   sim: devices of the simulated machine [built in]\n"
	       "  --sysfs-root=DIR      iommufd, vfio, for testing: read sysfs from DIR [/sys]\n"
	       "  --dev-root=DIR        iommufd, vfio, for testing: open DIR/iommu, DIR/vfio/*\n"
	       "                        [/dev]\n"
	       "  --test-mock-devices=N iommufd, TEST KERNELS ONLY: manage N (1-8) mock devices\n"
	       "                        of the kernel's IOMMUFD_TEST besides, ffff:00:00.0 on\n"
	       "                        (refused on a kernel without CONFIG_IOMMUFD_TEST)\n"
	       "  --socket=PATH         listening socket [" DEFAULT_SOCKET "];\n"
	       "                        a socket passed by systemd (LISTEN_FDS) wins\n"
	       "  --state-dir=DIR       keep what outlives a restart in DIR (binding ids; under\n"
	       "                        systemd, what the next svmd adopts), empty for\n"
	       "                        nowhere [" DEFAULT_STATE_DIR ", if it exists]\n"
	       "  --map-bytes-per-user=SIZE  client memory one uid may have mapped [256M]\n"
	       "  --map-bytes-total=SIZE|infinity  all users together [RLIMIT_MEMLOCK when the\n"
	       "                        kernel charges svmd for it, else infinity]\n"
	       "  --policy-dir=DIR      read *.policy files from DIR (repeatable) "
	       "[/etc/svmd/policy.d,\n"
	       "                        /run/svmd/policy.d, " SVMD_VENDOR_POLICYDIR "]\n"
	       "  --check-policy        validate the policy, print what is wrong, exit 0 or 1\n"
	       "  --config=FILE         settings to read first [" CONFIG_DEFAULT_PATH ", if any]\n"
	       "  --udev-match=WHAT     for the udev rule: exit 0 if the node (group:N,\n"
	       "                        cdev:DEVPATH or iommu) is a managed device's, else 1\n"
	       "  --sandbox=yes|no      enter the seccomp allow-list once serving [yes]\n"
	       "  --print-seccomp       print that allow-list for the configured backend, exit\n"
	       "  --bus=BUS             D-Bus to serve org.svmd.Broker1 on: system, session,\n"
	       "                        none, or an address such as unix:path=... [system]\n"
	       "  --audit=SINK          audit records to: auto, journal, stderr [auto]\n"
	       "  --log-level=LEVEL     err, warning, notice, info or debug [info]\n"
	       "  -V, --version         print the version and exit\n"
	       "  -h, --help            print this help and exit\n"
	       "\n"
	       "See svmd(8), svmctl(1) and the policy files' own comments.\n");
}

static int parse_audit(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return AUDIT_SINK_AUTO;
	if (strcmp(s, "journal") == 0)
		return AUDIT_SINK_JOURNAL;
	if (strcmp(s, "stderr") == 0)
		return AUDIT_SINK_STDERR;
	return -EINVAL;
}

enum {
	OPT_BACKEND = 0x100,
	OPT_SIM_TOPOLOGY,
	OPT_DEVICE,
	OPT_SYSFS_ROOT,
	OPT_DEV_ROOT,
	OPT_TEST_MOCK_DEVICES,
	OPT_SOCKET,
	OPT_STATE_DIR,
	OPT_MAP_BYTES_PER_USER,
	OPT_MAP_BYTES_TOTAL,
	OPT_POLICY_DIR,
	OPT_CHECK_POLICY,
	OPT_UDEV_MATCH,
	OPT_CONFIG,
	OPT_SANDBOX,
	OPT_PRINT_SECCOMP,
	OPT_BUS,
	OPT_AUDIT,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option longopts[] = {
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"sim-topology", required_argument, NULL, OPT_SIM_TOPOLOGY},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"sysfs-root", required_argument, NULL, OPT_SYSFS_ROOT},
	{"dev-root", required_argument, NULL, OPT_DEV_ROOT},
	{"test-mock-devices", required_argument, NULL, OPT_TEST_MOCK_DEVICES},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"map-bytes-per-user", required_argument, NULL, OPT_MAP_BYTES_PER_USER},
	{"map-bytes-total", required_argument, NULL, OPT_MAP_BYTES_TOTAL},
	{"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
	{"check-policy", no_argument, NULL, OPT_CHECK_POLICY},
	{"udev-match", required_argument, NULL, OPT_UDEV_MATCH},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"sandbox", required_argument, NULL, OPT_SANDBOX},
	{"print-seccomp", no_argument, NULL, OPT_PRINT_SECCOMP},
	{"bus", required_argument, NULL, OPT_BUS},
	{"audit", required_argument, NULL, OPT_AUDIT},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"version", no_argument, NULL, OPT_VERSION},
	{"help", no_argument, NULL, OPT_HELP},
	{},
};

/* The options that only name something: where the argument goes. */
static const struct {
	int opt;
	size_t offset; /* of a const char * in struct options */
} plain_options[] = {
	{OPT_BACKEND, offsetof(struct options, backend)},
	{OPT_SIM_TOPOLOGY, offsetof(struct options, sim_topology)},
	{OPT_SYSFS_ROOT, offsetof(struct options, sysfs_root)},
	{OPT_DEV_ROOT, offsetof(struct options, dev_root)},
	{OPT_SOCKET, offsetof(struct options, socket)},
	{OPT_STATE_DIR, offsetof(struct options, state_dir)},
	{OPT_MAP_BYTES_PER_USER, offsetof(struct options, map_bytes_per_user)},
	{OPT_MAP_BYTES_TOTAL, offsetof(struct options, map_bytes_total)},
	{OPT_CONFIG, offsetof(struct options, config)},
	{OPT_UDEV_MATCH, offsetof(struct options, udev_match)},
};

/* Appends arg to a list of at most max; says so when it is full. */
static int list_add(const char **list, size_t *n, size_t max, const char *arg, const char *opt)
{
	if (*n >= max) {
		fprintf(stderr, "svmd: at most %zu %s options\n", max, opt);
		return -EINVAL;
	}
	list[(*n)++] = arg;
	return 0;
}

/* One option of those that are more than a name. Returns 1 to go on, 0 to exit (done), or
 * -EINVAL (reported). */
static int parse_option(int c, const char *arg, struct options *o)
{
	int r;

	switch (c) {
	case OPT_DEVICE:
		return list_add(o->devices, &o->n_devices, DEVICES_MAX, arg, "--device") ?: 1;
	case OPT_POLICY_DIR:
		return list_add(o->policy_dirs, &o->n_policy_dirs, POLICY_DIRS_MAX, arg,
				"--policy-dir")
			       ?: 1;
	case OPT_CHECK_POLICY:
		o->check_policy = true;
		return 1;
	case OPT_TEST_MOCK_DEVICES: {
		char *end;
		unsigned long n;
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || n < 1 || n > MOCK_DEVICES_MAX) {
			fprintf(stderr,
				"svmd: --test-mock-devices takes a number of mock devices, 1 to "
				"%u, not '%s'\n",
				MOCK_DEVICES_MAX, arg);
			return -EINVAL;
		}
		o->test_mock_devices = n;
		return 1;
	}
	case OPT_SANDBOX:
		if (strcmp(arg, "yes") != 0 && strcmp(arg, "no") != 0) {
			fprintf(stderr, "svmd: --sandbox takes yes or no, not '%s'\n", arg);
			return -EINVAL;
		}
		o->sandbox = strcmp(arg, "yes") == 0;
		return 1;
	case OPT_PRINT_SECCOMP:
		o->print_seccomp = true;
		return 1;
	case OPT_BUS:
		if (!*arg) {
			fprintf(stderr, "svmd: --bus needs system, session, none or an address\n");
			return -EINVAL;
		}
		o->bus = arg;
		return 1;
	case OPT_AUDIT:
		r = parse_audit(arg);
		if (r < 0) {
			fprintf(stderr, "svmd: --audit takes auto, journal or stderr, not '%s'\n",
				arg);
			return -EINVAL;
		}
		o->audit = (enum audit_sink)r;
		o->audit_set = true;
		return 1;
	case OPT_LOG_LEVEL:
		r = log_level_from_string(arg);
		if (r < 0) {
			fprintf(stderr,
				"svmd: unknown log level '%s' (err, warning, notice, info, "
				"debug)\n",
				arg);
			return -EINVAL;
		}
		log_set_level(r);
		o->log_level_set = true;
		return 1;
	case 'V':
	case OPT_VERSION:
		printf("svmd " SVMD_VERSION_STRING "\n");
		return 0;
	case 'h':
	case OPT_HELP:
		help();
		return 0;
	default:
		fprintf(stderr, "Try 'svmd --help'.\n");
		return -EINVAL;
	}
}

/* Returns 1 to go on, 0 to exit with success (--help, --version), or -EINVAL (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	int c, r;

	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) >= 0) {
		size_t i;

		for (i = 0; i < ELEMENTSOF(plain_options) && plain_options[i].opt != c; i++)
			;
		if (i < ELEMENTSOF(plain_options)) {
			*(const char **)((char *)o + plain_options[i].offset) = optarg;
			continue;
		}
		r = parse_option(c, optarg, o);
		if (r <= 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "svmd: unexpected argument '%s'. Try 'svmd --help'.\n",
			argv[optind]);
		return -EINVAL;
	}
	return 1;
}

/* Fills what the command line left unset from the configuration file (the command line
 * wins), then the defaults. Returns 0 or -EINVAL (reported). */
static int apply_config(struct options *o, struct config *c)
{
	const char *path = o->config ? o->config : CONFIG_DEFAULT_PATH;
	int r = config_load(path, !o->config, c);

	if (r < 0)
		return r;
	if (!o->backend)
		o->backend = c->backend;
	for (size_t i = 0; !o->n_devices && i < c->n_devices; i++)
		o->devices[i] = c->devices[i];
	if (!o->n_devices)
		o->n_devices = c->n_devices;
	if (!o->sim_topology)
		o->sim_topology = c->sim_topology;
	if (!o->socket)
		o->socket = c->socket ? c->socket : DEFAULT_SOCKET;
	if (!o->state_dir)
		o->state_dir = c->state_dir;
	if (!o->map_bytes_per_user)
		o->map_bytes_per_user = c->map_bytes_per_user;
	if (!o->map_bytes_total)
		o->map_bytes_total = c->map_bytes_total;
	if (!o->bus)
		o->bus = c->bus ? c->bus : "system";
	if (!o->n_policy_dirs) {
		for (size_t i = 0; i < c->n_policy_dirs; i++)
			o->policy_dirs[i] = c->policy_dirs[i];
		o->n_policy_dirs = c->n_policy_dirs;
	}
	if (!o->log_level_set && c->log_level) {
		int level = log_level_from_string(c->log_level);
		if (level < 0) {
			fprintf(stderr, "%s: unknown LogLevel= '%s'\n", path, c->log_level);
			return -EINVAL;
		}
		log_set_level(level);
	}
	if (!o->audit_set && c->audit) {
		r = parse_audit(c->audit);
		if (r < 0) {
			fprintf(stderr, "%s: Audit= takes auto, journal or stderr, not '%s'\n",
				path, c->audit);
			return -EINVAL;
		}
		o->audit = (enum audit_sink)r;
	}
	if (o->sandbox < 0)
		o->sandbox = c->sandbox < 0 ? 1 : c->sandbox;
	return 0;
}

/* Prints every diagnostic; returns 0 when the policy may be used. */
static int report_policy(const struct policy *p, bool verbose)
{
	for (size_t i = 0; i < p->n_diags; i++)
		fprintf(stderr, "%s\n", p->diags[i]);
	if (verbose || p->n_errors)
		fprintf(stderr,
			"svmd: policy: %zu rule%s from %zu file%s, %zu error%s, %zu warning%s\n",
			p->n_rules, p->n_rules == 1 ? "" : "s", p->n_files,
			p->n_files == 1 ? "" : "s", p->n_errors, p->n_errors == 1 ? "" : "s",
			p->n_warnings, p->n_warnings == 1 ? "" : "s");
	return p->n_errors ? -EINVAL : 0;
}

/* Room for one fd per binding and connection, and for what the kernel pins for clients: take
 * the hard limits. */
static void raise_limits(void)
{
	static const int which[] = {RLIMIT_NOFILE, RLIMIT_MEMLOCK};
	struct rlimit rl;

	for (size_t i = 0; i < ELEMENTSOF(which); i++)
		if (getrlimit(which[i], &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(which[i], &rl);
		}
}

/* A --map-bytes-* value: a size, or (total) "infinity" for 0. */
static int parse_map_bytes(const char *opt, const char *s, bool total, uint64_t *ret)
{
	if (total && strcmp(s, "infinity") == 0) {
		*ret = 0;
		return 0;
	}
	if (parse_size(s, strlen(s), ret) < 0 || *ret == 0) {
		fprintf(stderr, "svmd: %s takes a size in bytes with K, M, G or T%s, not '%s'\n",
			opt, total ? ", or infinity" : "", s);
		return -EINVAL;
	}
	return 0;
}

/* How much client memory svmd maps for its users (user-limits.h). Returns 0 or -EINVAL
 * (reported). */
static int share_map_bytes(const struct options *o, struct core *core)
{
	uint64_t per_user = LIMITS_MAP_BYTES_PER_USER, total = 0;
	struct rlimit rl;
	char a[32], b[32];

	if (o->map_bytes_per_user &&
	    parse_map_bytes("--map-bytes-per-user", o->map_bytes_per_user, false, &per_user) < 0)
		return -EINVAL;
	if (o->map_bytes_total) {
		if (parse_map_bytes("--map-bytes-total", o->map_bytes_total, true, &total) < 0)
			return -EINVAL;
	} else if (core->backend->pins_memlock && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
		   rl.rlim_cur != RLIM_INFINITY) {
		total = rl.rlim_cur;
	}
	limits_set_map_bytes(core->limits, per_user, total);
	if (core->backend->ops->space_new)
		log_info("Client memory: at most %s mapped per user, %s for all users.",
			 format_size(per_user, a), total ? format_size(total, b) : "no limit");
	return 0;
}

/* The listening socket: systemd's if it passed one, else our own. The fds an earlier svmd kept
 * in systemd's fd store (named svmd-*) come the same way: they go to persist (or, with no
 * persistence, are closed). */
static int get_socket(const char *path, struct persist *persist, bool *ret_own)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(true, &names), listen_fd = -1, r = 0;

	if (n < 0)
		return log_error_errno(n, "LISTEN_FDS: %m");
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";
		if (strncmp(name, "svmd-", 5) == 0) {
			if (!persist)
				safe_close(fd);
			else if (persist_add_fd(persist, name, fd) < 0)
				r = -ENOMEM;
		} else if (listen_fd >= 0) {
			r = log_error_errno(EINVAL,
					    "systemd passed more than one socket; svmd takes "
					    "exactly one.");
			safe_close(fd);
		} else {
			listen_fd = fd;
		}
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0) {
		safe_close(listen_fd);
		return r == -ENOMEM ? log_oom() : r;
	}
	if (listen_fd >= 0) {
		if (sd_is_socket_unix(listen_fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
			safe_close(listen_fd);
			return log_error_errno(EINVAL, "The socket from systemd is not a listening "
						       "AF_UNIX SOCK_SEQPACKET socket.");
		}
		*ret_own = false;
		return listen_fd;
	}
	*ret_own = true;
	return server_listen_path(path);
}

/* What systemd hears while svmd serves: STATUS= when something changed, WATCHDOG=1 at half
 * the watchdog interval. */
struct status {
	struct core *core;
	struct event *ev;
	char last[128];
	bool watchdog;
};

static void say_held(uid_t uid, unsigned n)
{
	log_info("Held back %u more line%s about clients of uid %u in the last %llu s.", n,
		 n == 1 ? "" : "s", (unsigned)uid, LIMITS_LOG_USEC / 1000000ull);
}

static void on_status(evutil_socket_t fd, short what, void *userdata)
{
	struct status *st = userdata;
	struct registry *reg = st->core->registry;
	char now[128];

	(void)fd;
	(void)what;
	snprintf(now, sizeof(now),
		 "Serving %zu client%s, %zu binding%s; policy generation %" PRIu64,
		 registry_count_sessions(reg), registry_count_sessions(reg) == 1 ? "" : "s",
		 registry_count(reg), registry_count(reg) == 1 ? "" : "s", st->core->generation);
	if (strcmp(now, st->last) != 0) {
		snprintf(st->last, sizeof(st->last), "%s", now);
		(void)sd_notifyf(false, "STATUS=%s.", now);
	}
	if (st->watchdog)
		(void)sd_notify(false, "WATCHDOG=1");
	limits_log_summaries(st->core->limits, say_held);
}

/* SIGHUP: reload the policy; what happened goes to the log (and the audit trail). */
static void on_sighup(void *userdata)
{
	struct status *st = userdata;
	struct core *core = st->core;
	struct reload_result rr;
	struct op_result res;
	char text[4096];

	(void)sd_notify(false, "RELOADING=1\nSTATUS=Reloading the policy.");
	if (ops_reload(core, NULL, &rr, text, sizeof(text), &res) < 0) {
		log_error("Policy reload refused: %s", res.reason);
	} else {
		log_notice("Policy reloaded: generation %" PRIu64 ", %zu rules from %zu files; %zu "
			   "bindings no longer granted, %zu revoked.",
			   rr.generation, rr.n_rules, rr.n_files, rr.n_denied, rr.n_revoked);
		for (char *line = text, *next; *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			log_notice("%s", line);
			if (!next)
				break;
		}
	}
	(void)sd_notify(false, "READY=1");
	st->last[0] = 0; /* say what it serves now, whether the generation changed or not */
	on_status(-1, 0, st);
}

static struct backend_config backend_config(const struct options *o)
{
	return (struct backend_config){
		.name = o->backend,
		.sim_topology = o->sim_topology,
		.devices = o->devices,
		.n_devices = o->n_devices,
		.sysfs_root = o->sysfs_root,
		.dev_root = o->dev_root,
		.test_mock_devices = o->test_mock_devices,
	};
}

/* The filter depends on the backend (its ioctls): make the one configured, print, done. */
static int print_seccomp(const struct options *o)
{
	_cleanup_(backend_freep) struct backend *backend = NULL;
	struct backend_config bc = backend_config(o);
	char err[512];
	int r = backend_new(&bc, &backend, err, sizeof(err));

	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = sandbox_print(stdout, backend->ioctls, backend->n_ioctls);
	if (r < 0)
		log_error_errno(r, "Cannot print the seccomp filter: %m");
	return r;
}

static int status_start(struct status *st, struct loop *loop, struct core *core)
{
	struct timeval tv = {.tv_sec = 1};
	uint64_t wd = 0;

	st->core = core;
	st->watchdog = sd_watchdog_enabled(false, &wd) > 0;
	/* Often enough for the watchdog (half its interval), at most once a second for STATUS=. */
	if (st->watchdog && wd / 2 < 1000000u) {
		tv.tv_sec = (time_t)(wd / 2 / 1000000u);
		tv.tv_usec = (suseconds_t)(wd / 2 % 1000000u);
	}
	st->ev = event_new(loop_base(loop), -1, EV_PERSIST, on_status, st);
	if (!st->ev || event_add(st->ev, &tv) < 0)
		return -ENOMEM;
	on_status(-1, 0, st);
	return 0;
}

static void status_done(struct status *st)
{
	if (st->ev)
		event_free(st->ev);
}

/* The options a start needs, checked before anything is loaded: the devices' names. */
static int check_options(const struct options *o)
{
	char canon[SVMD_DEVICE_NAME_SZ];

	for (size_t i = 0; i < o->n_devices; i++)
		if (device_name_canonical(o->devices[i], canon) < 0) {
			log_error("'%s' is not a PCI address DDDD:BB:DD.F (or BB:DD.F)",
				  o->devices[i]);
			return -EINVAL;
		}
	return 0;
}

/* Where the audit records go, said once when that is not the journal the unit expects. */
static void warn_audit_sink(void)
{
	const char *why = NULL;

	switch (audit_sink_resolve(&why)) {
	case AUDIT_SINK_STDERR:
		if (why)
			log_warning("%s: audit records go to stderr.", why);
		break;
	default:
		break;
	}
}

/* The policy to start with: a broken one is refused. */
static int load_policy(const struct options *o, struct policy **ret)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	int r = policy_load(o->n_policy_dirs ? o->policy_dirs : NULL, o->n_policy_dirs, &p);

	if (r < 0)
		return log_error_errno(r, "Cannot load policy: %m");
	if (report_policy(p, false) < 0) {
		log_error("Refusing to start with a broken policy; check it with 'svmd "
			  "--check-policy'.");
		return -EINVAL;
	}
	if (p->n_rules == 0)
		log_notice("The policy has no rules: every request will be denied.");
	*ret = TAKE_PTR(p);
	return 0;
}

/* What --check-policy warns about beyond the files: a directory named that is not there (of the
 * default ones, only when none is), and a policy without rules, which denies everything. */
static int warn_unread_policy(const struct options *o, struct policy *p)
{
	const char *const *dirs =
		o->n_policy_dirs ? (const char *const *)o->policy_dirs : policy_default_dirs;
	size_t n = 0, missing = 0;
	struct stat st;
	int r = 0;

	for (; dirs[n] && (!o->n_policy_dirs || n < o->n_policy_dirs); n++)
		if (stat(dirs[n], &st) < 0 && errno == ENOENT) {
			missing++;
			if (o->n_policy_dirs)
				r = policy_add_diag(
					p, false, "%s: warning: no such policy directory", dirs[n]);
		}
	if (r >= 0 && !o->n_policy_dirs && missing == n)
		r = policy_add_diag(p, false,
				    "warning: none of the policy directories exists (%s, %s, %s)",
				    dirs[0], dirs[1], dirs[2]);
	if (r >= 0 && p->n_rules == 0)
		r = policy_add_diag(
			p, false,
			"warning: the policy has no rules: svmd would deny every request");
	return r;
}

/* svmd --check-policy: every diagnostic, and what can never match. */
static int check_policy(const struct options *o)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	int r = policy_load(o->n_policy_dirs ? o->policy_dirs : NULL, o->n_policy_dirs, &p);

	if (r < 0)
		return log_error_errno(r, "Cannot load policy: %m");
	if (policy_lint(p) < 0 || warn_unread_policy(o, p) < 0)
		return log_oom();
	return report_policy(p, true);
}

/* svmd --udev-match=WHAT, for the udev rule: exit 0 when the node is svmd's (one of the
 * configured devices), 1 when it is not, 2 when WHAT is malformed. */
static int udev_answer(const struct options *o)
{
	char err[300];
	int r = udev_match(o->udev_match, o->sysfs_root ? o->sysfs_root : "/sys", o->backend,
			   o->devices, o->n_devices, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "svmd: --udev-match: %s\n", err);
	return r < 0 ? 2 : !r;
}

/* The state directory: the one asked for, else the default one if it is there. */
static int use_state_dir(const struct options *o, struct core *core)
{
	const char *dir = o->state_dir;
	struct stat st;
	char err[600];
	int r;

	if (!dir && stat(DEFAULT_STATE_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		dir = DEFAULT_STATE_DIR;
	if (!dir || !*dir) {
		log_debug("No state directory: binding ids start at 1.");
		return 0;
	}
	r = core_set_state_dir(core, dir, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	log_debug("State in %s: binding ids go on from %" PRIu64 ".", dir,
		  registry_next_id(core->registry));
	return 0;
}

/* The front-ends: the socket (systemd's, or our own), and the bus unless --bus=none. */
static int start_front_ends(const struct options *o, struct loop *loop, struct core *core,
			    struct server **ret_server, struct bus **ret_bus, bool *ret_own)
{
	int fd, r;

	fd = get_socket(o->socket, core->persist, ret_own);
	if (fd < 0)
		return fd;
	r = server_new(loop, core, fd, *ret_own ? o->socket : NULL, *ret_own, ret_server);
	if (r < 0)
		return log_error_errno(r, "Cannot serve the socket: %m");
	if (strcmp(o->bus, "none") != 0)
		return bus_new(loop, core, o->bus, ret_bus);
	return 0;
}

/* The fds svmd holds now. */
static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 64; /* no /proc: assume a generous few */
	while (readdir(d))
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own fd */
}

/* Shares out the fd limit (user-limits.h), now that what svmd holds for itself is open. */
static void share_fds(struct core *core)
{
	struct rlimit rl;
	unsigned limit = 1024;
	const struct fd_budget *b;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		limit = rl.rlim_cur > UINT_MAX ? UINT_MAX : (unsigned)rl.rlim_cur;
	limits_set_fds(core->limits, limit, open_fds());
	b = limits_fds(core->limits);
	log_debug("File descriptors: %u in all; svmd keeps %u, root %u; the other users share %u, "
		  "none holding more than it leaves free (%u when alone).",
		  b->limit, b->own, b->root, b->pool, b->pool / 2);
}

/* systemd is restarting svmd: the next svmd adopts what this one holds (persist.h). The calls
 * already addressed to this one are answered, the state is written, and svmd leaves as a crash
 * would, releasing nothing: the kernel objects, connections and leases stay open in systemd's
 * fd store. */
static _Noreturn void hand_over(struct loop *loop, struct core *core, struct bus *bus)
{
	(void)sd_notify(false, "STOPPING=1\nSTATUS=Restarting: handing every binding over.");
	bus_hand_over(bus);
	loop_flush(loop);
	persist_flush(core->persist);
	log_info("Restarting: %zu bindings and %zu sessions kept for the next svmd.",
		 registry_n_bindings(core->registry), registry_n_sessions(core->registry));
	fflush(NULL);
	_exit(0);
}

static void on_before_send(void *userdata)
{
	persist_flush(userdata);
}

/* Restart survival: with a state directory and systemd's fd store ($NOTIFY_SOCKET). */
static int start_persist(struct core *core, struct loop *loop)
{
	int r;

	if (core->state_fd < 0 || !getenv("NOTIFY_SOCKET"))
		return 0;
	r = persist_new(core, true, &core->persist);
	if (r < 0)
		return log_oom();
	lifetime_set_persist(core->lifetime, core->persist);
	loop_before_send(loop, on_before_send, core->persist);
	return 0;
}

/* Start-up is done (sockets bound, bus name taken, containers open): from here on only what
 * serving needs, then serve until told to stop. */
static int serve(const struct options *o, struct loop *loop, struct core *core, struct bus *bus,
		 struct status *status)
{
	int r;

	share_fds(core);

	if (o->sandbox) {
		r = sandbox_enter(core->backend->ioctls, core->backend->n_ioctls);
		if (r < 0)
			return log_error_errno(r, "Cannot enter the seccomp sandbox: %m");
		log_debug("Entered the seccomp sandbox.");
	}
	(void)sd_notify(false, "READY=1");
	r = status_start(status, loop, core);
	if (r < 0)
		return log_oom();
	r = loop_run(loop);
	/* Stopping: a second SIGTERM or SIGINT waits (pending, then dropped at exit) rather than
	 * kill svmd half-way through releasing and freeing, once the loop that handled them is
	 * gone. systemd's SIGKILL after TimeoutStopSec= still ends it. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &stop, NULL);
	if (r == 0 && core->persist && bus && bus_restart_pending(bus))
		hand_over(loop, core, bus); /* does not return */
	/* A stop: the next svmd starts with nothing, as systemd empties its fd store. */
	persist_stop(core->persist);
	(void)sd_notify(false, "STOPPING=1\nSTATUS=Releasing every binding.");
	/* Before the front-ends go, so each record says why its binding really ended. */
	core_release_all(core);
	/* Their holders hear why (revision 2), as far as their sockets have room. */
	loop_flush(loop);
	return r;
}

/* Everything svmd makes to serve, undone in the reverse order when this returns: the status
 * timer, the bus (its sessions end), the socket (its sessions end), the core (leased bindings
 * end; the policy and backend go with it), the loop. */
static int run(const struct options *o)
{
	_cleanup_(policy_freep) struct policy *policy = NULL;
	_cleanup_(backend_freep) struct backend *backend = NULL;
	_cleanup_(loop_freep) struct loop *loop = NULL;
	_cleanup_(core_freep) struct core *core = NULL;
	_cleanup_(server_freep) struct server *server = NULL;
	_cleanup_(bus_freep) struct bus *bus = NULL;
	_cleanup_(status_done) struct status status = {0};
	struct backend_config bc = backend_config(o);
	char err[512];
	bool own = false;
	int r;

	/* What the options say is checked before the policy is: a mistake in them is named first.
	 */
	r = check_options(o);
	if (r < 0)
		return r;
	r = load_policy(o, &policy);
	if (r < 0)
		return r;
	warn_audit_sink();
	/* Before the backend, which says what RLIMIT_MEMLOCK its pins are charged against. */
	raise_limits();
	r = backend_new(&bc, &backend, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	if (backend->svm_unsupported)
		log_warning("%s: SVM binds will fail as not supported; open-device works.",
			    backend->svm_unsupported);
	if (backend->note)
		log_info("%s.", backend->note);
	loop = loop_new();
	if (!loop)
		return log_oom();
	r = core_new(loop_base(loop), backend, policy, o->policy_dirs, o->n_policy_dirs, &core);
	if (r < 0)
		return log_oom();
	TAKE_PTR(backend);
	TAKE_PTR(policy);
	r = share_map_bytes(o, core);
	if (r < 0)
		return r;
	r = use_state_dir(o, core);
	if (r < 0)
		return r;
	r = start_persist(core, loop);
	if (r < 0)
		return r;
	r = start_front_ends(o, loop, core, &server, &bus, &own);
	if (r < 0)
		return r;
	if (core->persist) {
		struct persist_frontends fe = {
			.socket = server_resume,
			.socket_new = server_take_unrecorded,
			.socket_userdata = server,
			.bus = bus ? bus_resume : NULL,
			.bus_userdata = bus,
		};
		persist_adopt(core->persist, &fe);
	}
	status.core = core;
	loop_on_reload(loop, on_sighup, &status);
	log_info("svmd " SVMD_VERSION_STRING " serving on %s%s%s: %s backend, %zu device%s, %zu "
		 "policy rule%s.",
		 own ? o->socket : "the socket from systemd", bus ? " and the bus " : "",
		 bus ? o->bus : "", core->backend->ops->name, core->backend->n_devices,
		 core->backend->n_devices == 1 ? "" : "s", core->policy->n_rules,
		 core->policy->n_rules == 1 ? "" : "s");
	return serve(o, loop, core, bus, &status);
}

int main(int argc, char **argv)
{
	_cleanup_(config_done) struct config cfg = {.sandbox = -1};
	struct options o = {.sandbox = -1};
	int r;

	r = parse_options(argc, argv, &o);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	r = apply_config(&o, &cfg);
	if (r < 0)
		return 1;
	audit_set_sink(o.audit);
	if (o.print_seccomp)
		r = print_seccomp(&o);
	else if (o.check_policy)
		r = check_policy(&o);
	else if (o.udev_match)
		return udev_answer(&o);
	else
		r = run(&o);
	return r < 0 ? 1 : 0;
}
