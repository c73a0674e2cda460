/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-bus-fuzz: a D-Bus fuzzer against org.svmd.Broker1 and org.svmd.Binding1, built on
 * sd-bus's message API so that it can send what no client library would: every method with its
 * own signature and with random ones, edge integers, empty, malformed and huge strings, option
 * dictionaries of unknown keys and wrong variant types, fds of every kind where a pidfd is
 * wanted and where no fd is, calls on binding objects of its own, of others and of none,
 * properties got and set, no-reply calls; mixed with well-formed binds, leases, unbinds and
 * releases so that the handlers' deep paths run too. It reconnects now and then (a new unique
 * name: svmd's session of the old one ends). With --no-fds the connection does not negotiate
 * fd passing (as some bindings cannot), and only its fd-free calls are sent.
 *
 *   stress-bus-fuzz --bus=ADDRESS --user=NAME --calls=N [--no-fds] [--seed=S]
 *                   [--timeout-ms=T] [--device=BDF] [--pasid-base=N]
 *
 * Every call must be answered within T ms (2000): a call that is not is counted in
 * no_reply= (a method that goes unanswered 3 times is given up, to stay bounded). Prints
 * KEY=VALUE lines: the replies by error name, what was refused before sending, and more.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress.h"
#include "svmd-bus.h"

#define GIVE_UP_AFTER 3

static const char *address, *device = "0000:3b:00.0";
static bool with_fds = true;
static uint64_t rs, timeout_us;
static sd_bus *bus;
static uint32_t pasid_base = 1;

static uint64_t ids[64];
static size_t n_ids;
static int fd_pool[32];
static size_t n_fd_pool;

static struct named_tally replies, unanswered;
static uint64_t n_calls, n_refused, n_no_reply, n_reconnects, n_binds, n_leases, n_noreply_sent;

static const struct {
	const char *name;
	const char *sig;
	const char *reply; /* what a success carries first: "t" for an id */
	bool fd_in;
} methods[] = {
	{"ListDevices", "", "", false},
	{"ListBindings", "", "", false},
	{"BindTask", "su", "t", false},
	{"BindTaskPidfd", "shu", "t", true},
	{"BindPgtable", "sutua{sv}", "t", false},
	{"BindPasidTable", "stts", "t", false},
	{"OpenDevice", "s", "h", false},
	{"Unbind", "t", "", false},
	{"Lease", "t", "h", false},
	{"Explain", "ssa{sv}", "", false},
	{"Reload", "", "", false},
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
static unsigned given_up[N_METHODS + 8];

static const char *const devices[] = {
	"0000:3b:00.0", "0000:3c:00.0", "0000:5e:00.0", "0000:5e:00.1",
	"0000:af:00.0", "0000:00:00.0", "ffff:ff:1f.7",
};
static const char *const odd_strings[] = {
	"",
	"0000:3b:00",
	"0000:3B:00.0",
	"0000:3b:00.0 ",
	" 0000:3b:00.0",
	"0000:3b:00.00",
	"0000:3b:00.8",
	"0000:3b:0g.0",
	"000:3b:00.0",
	"0000:3b:00.0\n",
	"../../../../dev/vfio/vfio",
	"%s%s%n%n",
	"\xc3\xbc\xe2\x82\xac",
	"bind-task",
	"bind-pgtable",
	"bind-pasid-table",
	"open-device",
	"reload",
	"vtd",
	"smmu",
	"none",
	"*",
	"-1",
};
static const char *const option_keys[] = {
	"gpasid", "vtd-flags", "pat", "emt", "pasid", "uid", "addr-width", "bogus", "", "GPASID",
};

static uint32_t edge_u32(void)
{
	static const uint32_t e[] = {0,          1,          2,          47,         48,
				     57,         99,         100,        199,        0xff,
				     0xfff,      0xffff,     0xfffff,    0x100000,   0x7fffffff,
				     0x80000000, 0xfffffffe, 0xffffffff, 0x10000000, 1000};
	if (rnd_below(&rs, 3) == 0)
		return (uint32_t)rnd(&rs);
	return e[rnd_below(&rs, sizeof(e) / sizeof(e[0]))];
}

static uint64_t edge_u64(void)
{
	static const uint64_t e[] = {
		0,          1,          0x1000,         0x10000,    0x7f000,    0xfff,
		64,         4096 * 64,  1ull << 20,     1ull << 32, 1ull << 48, (1ull << 57) - 1,
		1ull << 63, UINT64_MAX, UINT64_MAX - 1, 0x3f};
	if (n_ids && rnd_below(&rs, 3) == 0)
		return ids[rnd_below(&rs, (uint32_t)n_ids)];
	if (rnd_below(&rs, 4) == 0)
		return rnd(&rs);
	return e[rnd_below(&rs, sizeof(e) / sizeof(e[0]))];
}

/* A string: a device (most often), an odd one, a huge one, or random printable bytes. */
static char *any_string(void)
{
	unsigned pick = rnd_below(&rs, 10);
	char *s;

	if (pick < 4)
		return strdup(devices[rnd_below(&rs, sizeof(devices) / sizeof(devices[0]))]);
	if (pick < 7)
		return strdup(
			odd_strings[rnd_below(&rs, sizeof(odd_strings) / sizeof(odd_strings[0]))]);
	size_t n = pick == 7 ? (size_t)1 << (8 + rnd_below(&rs, 11)) : rnd_below(&rs, 80);
	s = malloc(n + 1);
	if (!s)
		exit(2);
	for (size_t i = 0; i < n; i++)
		s[i] = pick == 7 ? 'a' + (char)(i % 26) : (char)(0x20 + rnd_below(&rs, 0x5f));
	s[n] = 0;
	return s;
}

/* Fds of many kinds, made once: none is a pidfd the caller may bind but the first. */
static void make_fd_pool(void)
{
	int p[2];
	pid_t child;

	fd_pool[n_fd_pool++] = (int)syscall(SYS_pidfd_open, getpid(), 0);
	fd_pool[n_fd_pool++] = (int)syscall(SYS_pidfd_open, 1, 0); /* root's init */
	child = fork();
	if (child == 0)
		_exit(0);
	fd_pool[n_fd_pool++] = (int)syscall(SYS_pidfd_open, child, 0); /* exited, reaped below */
	waitpid(child, NULL, 0);
	fd_pool[n_fd_pool++] = open("/dev/null", O_RDWR | O_CLOEXEC);
	fd_pool[n_fd_pool++] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd_pool[n_fd_pool++] = open("/proc/self/status", O_PATH | O_CLOEXEC);
	fd_pool[n_fd_pool++] = eventfd(0, EFD_CLOEXEC);
	fd_pool[n_fd_pool++] = memfd_create("svmd-fuzz", MFD_CLOEXEC);
	if (pipe2(p, O_CLOEXEC) == 0) {
		fd_pool[n_fd_pool++] = p[0];
		fd_pool[n_fd_pool++] = p[1];
	}
	fd_pool[n_fd_pool++] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	for (size_t i = 0; i < n_fd_pool; i++)
		if (fd_pool[i] < 0)
			fd_pool[i] = fd_pool[0];
}

static int any_fd(void)
{
	return fd_pool[rnd_below(&rs, (uint32_t)n_fd_pool)];
}

/* A random complete type of at most depth levels: basic, array, struct, dict, variant. */
static void random_type(char *buf, size_t *n, size_t cap, int depth)
{
	static const char basic[] = "ybnqiuxtdsog";
	unsigned pick = rnd_below(&rs, depth > 0 ? 10 : 7);

	if (*n + 8 >= cap)
		pick = 0;
	if (pick < 6) {
		char c = basic[rnd_below(&rs, sizeof(basic) - 1)];
		if (with_fds && rnd_below(&rs, 8) == 0)
			c = 'h';
		buf[(*n)++] = c;
	} else if (pick == 6) {
		buf[(*n)++] = 'v';
	} else if (pick == 7) {
		buf[(*n)++] = 'a';
		random_type(buf, n, cap, depth - 1);
	} else if (pick == 8) {
		unsigned k = 1 + rnd_below(&rs, 3);
		buf[(*n)++] = '(';
		for (unsigned i = 0; i < k; i++)
			random_type(buf, n, cap, depth - 1);
		buf[(*n)++] = ')';
	} else {
		buf[(*n)++] = 'a';
		buf[(*n)++] = '{';
		buf[(*n)++] = "sutyo"[rnd_below(&rs, 5)];
		random_type(buf, n, cap, depth - 1);
		buf[(*n)++] = '}';
	}
	buf[*n] = 0;
}

/* The length of the complete type at sig. */
static size_t type_len(const char *sig)
{
	size_t n = 1;
	int depth;

	switch (sig[0]) {
	case 'a':
		return 1 + type_len(sig + 1);
	case '(':
	case '{':
		depth = 1;
		while (depth > 0 && sig[n]) {
			if (sig[n] == '(' || sig[n] == '{')
				depth++;
			else if (sig[n] == ')' || sig[n] == '}')
				depth--;
			n++;
		}
		return n;
	default:
		return 1;
	}
}

static int append_value(sd_bus_message *m, const char *sig, int depth);

static int append_options(sd_bus_message *m)
{
	unsigned n = rnd_below(&rs, 8) == 0 ? 64 + rnd_below(&rs, 512) : rnd_below(&rs, 4);
	int r = sd_bus_message_open_container(m, 'a', "{sv}");

	for (unsigned i = 0; r >= 0 && i < n; i++) {
		const char *key =
			option_keys[rnd_below(&rs, sizeof(option_keys) / sizeof(option_keys[0]))];
		static const char *const vt[] = {"u", "t", "s", "i", "b", "y", "au", "(uu)"};
		const char *t = vt[rnd_below(&rs, rnd_below(&rs, 2) ? 2 : 8)];
		r = sd_bus_message_open_container(m, 'e', "sv");
		if (r >= 0)
			r = sd_bus_message_append(m, "s", key);
		if (r >= 0)
			r = sd_bus_message_open_container(m, 'v', t);
		if (r >= 0)
			r = append_value(m, t, 2);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	return r < 0 ? r : sd_bus_message_close_container(m);
}

/* Appends one value of the complete type at sig. */
static int append_value(sd_bus_message *m, const char *sig, int depth)
{
	char inner[64];
	size_t n;
	int r = 0;

	switch (sig[0]) {
	case 'y': {
		uint8_t v = (uint8_t)edge_u32();
		return sd_bus_message_append_basic(m, 'y', &v);
	}
	case 'b': {
		int v = (int)rnd_below(&rs, 2);
		return sd_bus_message_append_basic(m, 'b', &v);
	}
	case 'n':
	case 'q': {
		uint16_t v = (uint16_t)edge_u32();
		return sd_bus_message_append_basic(m, sig[0], &v);
	}
	case 'i':
	case 'u': {
		uint32_t v = edge_u32();
		return sd_bus_message_append_basic(m, sig[0], &v);
	}
	case 'x':
	case 't': {
		uint64_t v = edge_u64();
		return sd_bus_message_append_basic(m, sig[0], &v);
	}
	case 'd': {
		double v = (double)(int64_t)edge_u64();
		return sd_bus_message_append_basic(m, 'd', &v);
	}
	case 's': {
		char *s = any_string();
		r = sd_bus_message_append_basic(m, 's', s);
		free(s);
		return r;
	}
	case 'o': {
		char p[96];
		snprintf(p, sizeof(p), "/org/svmd/Broker1/binding/%" PRIu64, edge_u64());
		return sd_bus_message_append_basic(m, 'o', rnd_below(&rs, 2) ? p : "/");
	}
	case 'g':
		return sd_bus_message_append_basic(m, 'g', rnd_below(&rs, 2) ? "sutua{sv}" : "");
	case 'h': {
		int fd = any_fd();
		return sd_bus_message_append_basic(m, 'h', &fd);
	}
	case 'v':
		n = 0;
		random_type(inner, &n, sizeof(inner), depth > 0 ? depth - 1 : 0);
		r = sd_bus_message_open_container(m, 'v', inner);
		if (r >= 0)
			r = append_value(m, inner, depth - 1);
		return r < 0 ? r : sd_bus_message_close_container(m);
	case 'a': {
		n = type_len(sig + 1);
		if (n >= sizeof(inner))
			return -E2BIG;
		memcpy(inner, sig + 1, n);
		inner[n] = 0;
		if (strcmp(inner, "{sv}") == 0)
			return append_options(m);
		r = sd_bus_message_open_container(m, 'a', inner);
		unsigned k = depth > 0 ? rnd_below(&rs, rnd_below(&rs, 8) ? 4 : 200) : 0;
		for (unsigned i = 0; r >= 0 && i < k; i++)
			r = append_value(m, inner, depth - 1);
		return r < 0 ? r : sd_bus_message_close_container(m);
	}
	case '(':
	case '{': {
		n = type_len(sig);
		if (n - 2 >= sizeof(inner))
			return -E2BIG;
		memcpy(inner, sig + 1, n - 2);
		inner[n - 2] = 0;
		r = sd_bus_message_open_container(m, sig[0] == '(' ? 'r' : 'e', inner);
		for (const char *p = inner; r >= 0 && *p; p += type_len(p))
			r = append_value(m, p, depth - 1);
		return r < 0 ? r : sd_bus_message_close_container(m);
	}
	default:
		return -EINVAL;
	}
}

static int append_all(sd_bus_message *m, const char *sig)
{
	int r = 0;

	for (const char *p = sig; r >= 0 && *p; p += type_len(p))
		r = append_value(m, p, 3);
	return r;
}

static void reconnect(void)
{
	int r;

	for (size_t i = 0; i < n_ids; i++)
		ids[i] = 0;
	n_ids = 0;
	bus = sd_bus_flush_close_unref(bus);
	r = stress_bus_open(address, with_fds, &bus);
	if (r < 0) {
		fprintf(stderr, "stress-bus-fuzz: cannot connect to %s: %s\n", address,
			strerror(-r));
		exit(2);
	}
	n_reconnects++;
}

static void remember(uint64_t id)
{
	if (n_ids < sizeof(ids) / sizeof(ids[0]))
		ids[n_ids++] = id;
	else
		ids[rnd_below(&rs, (uint32_t)n_ids)] = id;
}

/*
 * Sends m and waits for its reply; counts the outcome by error name. method is an index into
 * methods[] (or -1). Returns the reply for a method return, else NULL.
 */
static sd_bus_message *call(sd_bus_message *m, int method)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	n_calls++;
	if (rnd_below(&rs, 50) == 0) {
		/* No reply wanted: svmd must cope with that too. */
		(void)sd_bus_message_set_expect_reply(m, false);
		r = sd_bus_send(bus, m, NULL);
		if (r < 0)
			n_refused++;
		else
			n_noreply_sent++;
		sd_bus_message_unref(m);
		return NULL;
	}
	r = sd_bus_call(bus, m, timeout_us, &e, &reply);
	sd_bus_message_unref(m);
	if (r >= 0) {
		named_add(&replies, "ok");
		return reply;
	}
	if (sd_bus_error_has_name(&e, SD_BUS_ERROR_NO_REPLY) || r == -ETIMEDOUT) {
		char what[64];
		n_no_reply++;
		snprintf(what, sizeof(what), "%s", method >= 0 ? methods[method].name : "other");
		named_add(&unanswered, what);
		if (method >= 0)
			given_up[method]++;
	} else {
		named_add(&replies, sd_bus_error_is_set(&e) ? e.name : errno_name(r));
		/* The bus daemon hung up on us (a message over its limits): start afresh. */
		if (r == -ECONNRESET || r == -ENOTCONN || r == -ESHUTDOWN ||
		    sd_bus_error_has_name(&e, SD_BUS_ERROR_DISCONNECTED))
			reconnect();
	}
	sd_bus_error_free(&e);
	return NULL;
}

static sd_bus_message *new_call(const char *path, const char *iface, const char *member)
{
	sd_bus_message *m = NULL;

	if (sd_bus_message_new_method_call(bus, &m, SVMD_BUS_NAME, path, iface, member) < 0)
		return NULL;
	return m;
}

/* A method of Broker1, with its own signature (right) or a random one, and its id if any. */
static void fuzz_method(bool right)
{
	unsigned k = rnd_below(&rs, N_METHODS);
	sd_bus_message *m, *reply;
	char sig[64];
	size_t n = 0;

	if (given_up[k] >= GIVE_UP_AFTER || (!with_fds && methods[k].fd_in))
		return;
	m = new_call(SVMD_BUS_PATH, SVMD_BUS_INTERFACE, methods[k].name);
	if (!m)
		return;
	if (right) {
		snprintf(sig, sizeof(sig), "%s", methods[k].sig);
	} else {
		unsigned args = rnd_below(&rs, 5);
		for (unsigned i = 0; i < args; i++)
			random_type(sig, &n, sizeof(sig), 2);
		sig[n] = 0;
	}
	if (append_all(m, sig) < 0) {
		n_refused++;
		sd_bus_message_unref(m);
		return;
	}
	reply = call(m, (int)k);
	if (reply && methods[k].reply[0] == 't') {
		uint64_t id;
		if (sd_bus_message_read_basic(reply, 't', &id) > 0) {
			remember(id);
			n_binds++;
		}
	}
	sd_bus_message_unref(reply);
}

/* A path under the binding prefix: one of ours, anyone's, none, or not a binding path. */
static void binding_path(char *p, size_t size)
{
	static const char *const odd[] = {
		SVMD_BUS_BINDING_PREFIX,
		SVMD_BUS_BINDING_PREFIX "/0",
		SVMD_BUS_BINDING_PREFIX "/007",
		SVMD_BUS_BINDING_PREFIX "/1/2",
		SVMD_BUS_BINDING_PREFIX "/abc",
		SVMD_BUS_BINDING_PREFIX "/18446744073709551615",
		SVMD_BUS_BINDING_PREFIX "/99999999999999999999999",
		"/org/svmd",
		"/org/svmd/Broker1/x",
		"/",
	};
	switch (rnd_below(&rs, 4)) {
	case 0:
		snprintf(p, size, "%s", odd[rnd_below(&rs, sizeof(odd) / sizeof(odd[0]))]);
		break;
	case 1: /* someone's, perhaps: ids are small */
		snprintf(p, size, SVMD_BUS_BINDING_PREFIX "/%u", 1 + rnd_below(&rs, 5000));
		break;
	default:
		snprintf(p, size, SVMD_BUS_BINDING_PREFIX "/%" PRIu64,
			 n_ids ? ids[rnd_below(&rs, (uint32_t)n_ids)] : edge_u64());
		break;
	}
}

static void fuzz_binding_object(void)
{
	static const char *const props[] = {"Id",       "Kind",     "Device",    "PASID",
					    "OwnerUID", "OwnerPID", "TargetPID", "Leased",
					    "Created",  "Bogus",    ""};
	static const char *const ifaces[] = {SVMD_BUS_BINDING_IFACE, SVMD_BUS_INTERFACE,
					     "org.freedesktop.DBus.Properties", "org.x.Y"};
	char path[128], sig[64];
	sd_bus_message *m;
	size_t n = 0;

	binding_path(path, sizeof(path));
	switch (rnd_below(&rs, 4)) {
	case 0: /* Release, with or without arguments */
		m = new_call(path, ifaces[rnd_below(&rs, 2) ? 0 : rnd_below(&rs, 4)], "Release");
		if (m && rnd_below(&rs, 3) == 0) {
			random_type(sig, &n, sizeof(sig), 2);
			if (append_all(m, sig) < 0) {
				n_refused++;
				m = sd_bus_message_unref(m);
			}
		}
		break;
	case 1: /* Get */
		m = new_call(path, "org.freedesktop.DBus.Properties", "Get");
		if (m && sd_bus_message_append(
				 m, "ss", ifaces[rnd_below(&rs, 4)],
				 props[rnd_below(&rs, sizeof(props) / sizeof(props[0]))]) < 0)
			m = sd_bus_message_unref(m);
		break;
	case 2: /* GetAll, Set */
		if (rnd_below(&rs, 2)) {
			m = new_call(path, "org.freedesktop.DBus.Properties", "GetAll");
			if (m && sd_bus_message_append(m, "s", ifaces[rnd_below(&rs, 4)]) < 0)
				m = sd_bus_message_unref(m);
		} else {
			m = new_call(path, "org.freedesktop.DBus.Properties", "Set");
			if (m && (sd_bus_message_append(m, "ss", ifaces[rnd_below(&rs, 4)],
							props[rnd_below(&rs, 9)]) < 0 ||
				  append_value(m, "v", 2) < 0))
				m = sd_bus_message_unref(m);
		}
		break;
	default: /* Introspect, or an unknown method */
		m = new_call(path,
			     rnd_below(&rs, 2) ? "org.freedesktop.DBus.Introspectable"
					       : SVMD_BUS_BINDING_IFACE,
			     rnd_below(&rs, 2) ? "Introspect" : "Bogus");
		break;
	}
	if (m)
		sd_bus_message_unref(call(m, -1));
}

static void fuzz_broker_object(void)
{
	static const char *const props[] = {"Version",   "Backend",          "NDevices",
					    "NBindings", "PolicyGeneration", "Nope"};
	sd_bus_message *m = NULL;

	switch (rnd_below(&rs, 6)) {
	case 0:
		m = new_call(SVMD_BUS_PATH, "org.freedesktop.DBus.ObjectManager",
			     "GetManagedObjects");
		break;
	case 1:
		m = new_call(SVMD_BUS_PATH, "org.freedesktop.DBus.Properties", "Get");
		if (m && sd_bus_message_append(m, "ss", SVMD_BUS_INTERFACE,
					       props[rnd_below(&rs, 6)]) < 0)
			m = sd_bus_message_unref(m);
		break;
	case 2:
		m = new_call(SVMD_BUS_PATH, "org.freedesktop.DBus.Properties", "Set");
		if (m && (sd_bus_message_append(m, "ss", SVMD_BUS_INTERFACE,
						props[rnd_below(&rs, 6)]) < 0 ||
			  append_value(m, "v", 2) < 0))
			m = sd_bus_message_unref(m);
		break;
	case 3:
		m = new_call(rnd_below(&rs, 2) ? SVMD_BUS_PATH : "/",
			     "org.freedesktop.DBus.Introspectable", "Introspect");
		break;
	case 4:
		m = new_call(SVMD_BUS_PATH, "org.freedesktop.DBus.Peer", "Ping");
		break;
	default:
		m = new_call(SVMD_BUS_PATH, rnd_below(&rs, 2) ? SVMD_BUS_INTERFACE : "org.x.Y",
			     "NoSuchMethod");
		break;
	}
	if (m)
		sd_bus_message_unref(call(m, -1));
}

/* Well-formed requests that succeed for an allowed caller, and what follows a bind. */
static void fuzz_deep(void)
{
	sd_bus_message *m, *reply;
	uint64_t id = 0;
	char path[96];
	int k;

	switch (rnd_below(&rs, 3)) {
	case 0: /* BindPgtable at a PASID the policy grants */
		k = 4;
		m = new_call(SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "BindPgtable");
		if (!m ||
		    sd_bus_message_append(m, "sutua{sv}", device, pasid_base + rnd_below(&rs, 1000),
					  (uint64_t)0x10000, 48u, 0) < 0) {
			sd_bus_message_unref(m);
			return;
		}
		break;
	case 1: /* BindTask of the caller */
		k = 2;
		m = new_call(SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "BindTask");
		if (!m || sd_bus_message_append(m, "su", device, 0u) < 0) {
			sd_bus_message_unref(m);
			return;
		}
		break;
	default: /* OpenDevice */
		k = 6;
		if (given_up[k] >= GIVE_UP_AFTER)
			return;
		m = new_call(SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "OpenDevice");
		if (!m || sd_bus_message_append(m, "s", device) < 0) {
			sd_bus_message_unref(m);
			return;
		}
		reply = call(m, k);
		if (reply) {
			int fd;
			if (sd_bus_message_read(reply, "ht", &fd, &id) > 0)
				remember(id);
		}
		sd_bus_message_unref(reply);
		return;
	}
	reply = call(m, k);
	if (!reply || sd_bus_message_read_basic(reply, 't', &id) <= 0) {
		sd_bus_message_unref(reply);
		return;
	}
	sd_bus_message_unref(reply);
	n_binds++;
	remember(id);
	switch (rnd_below(&rs, 4)) {
	case 0: /* lease it: the fd comes in the reply (the message keeps it) */
		if (given_up[8] >= GIVE_UP_AFTER)
			break;
		m = new_call(SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "Lease");
		if (m && sd_bus_message_append(m, "t", id) >= 0) {
			reply = call(m, 8);
			n_leases += reply != NULL;
			sd_bus_message_unref(reply);
		} else {
			sd_bus_message_unref(m);
		}
		break;
	case 1:
		m = new_call(SVMD_BUS_PATH, SVMD_BUS_INTERFACE, "Unbind");
		if (m && sd_bus_message_append(m, "t", id) >= 0)
			sd_bus_message_unref(call(m, 7));
		else
			sd_bus_message_unref(m);
		break;
	case 2:
		snprintf(path, sizeof(path), SVMD_BUS_BINDING_PREFIX "/%" PRIu64, id);
		m = new_call(path, SVMD_BUS_BINDING_IFACE, "Release");
		if (m)
			sd_bus_message_unref(call(m, -1));
		break;
	default: /* keep it, in the session */
		snprintf(path, sizeof(path), SVMD_BUS_BINDING_PREFIX "/%" PRIu64, id);
		m = new_call(path, "org.freedesktop.DBus.Properties", "GetAll");
		if (m && sd_bus_message_append(m, "s", SVMD_BUS_BINDING_IFACE) >= 0)
			sd_bus_message_unref(call(m, -1));
		else
			sd_bus_message_unref(m);
		break;
	}
}

int main(int argc, char **argv)
{
	const char *user = NULL;
	unsigned long calls = 0, seed = 1, timeout_ms = 2000, pasid = 1;
	uid_t uid;
	gid_t gid;

	for (int i = 1; i < argc; i++) {
		if (opt_str(argv[i], "--bus", &address) || opt_str(argv[i], "--user", &user) ||
		    opt_str(argv[i], "--device", &device) || opt_uint(argv[i], "--calls", &calls) ||
		    opt_uint(argv[i], "--seed", &seed) ||
		    opt_uint(argv[i], "--timeout-ms", &timeout_ms) ||
		    opt_uint(argv[i], "--pasid-base", &pasid))
			continue;
		if (strcmp(argv[i], "--no-fds") == 0) {
			with_fds = false;
			continue;
		}
		fprintf(stderr, "stress-bus-fuzz: unknown argument %s\n", argv[i]);
		return 2;
	}
	if (!address || !user || !calls) {
		fprintf(stderr, "stress-bus-fuzz: --bus, --user and --calls are needed\n");
		return 2;
	}
	stress_user(user, &uid, &gid);
	become(uid, gid);
	signal(SIGPIPE, SIG_IGN);
	rs = rnd_seed(seed, uid);
	timeout_us = (uint64_t)timeout_ms * 1000;
	pasid_base = (uint32_t)pasid;
	make_fd_pool();
	reconnect();
	n_reconnects = 0;

	uint64_t start = now_us();
	while (n_calls < calls) {
		unsigned pick = rnd_below(&rs, 100);
		if (pick < 30)
			fuzz_method(true);
		else if (pick < 55)
			fuzz_method(false);
		else if (pick < 70)
			fuzz_binding_object();
		else if (pick < 80)
			fuzz_broker_object();
		else
			fuzz_deep();
		if (rnd_below(&rs, 500) == 0)
			reconnect();
		/* Bounded: a method that goes unanswered is given up, but not the whole run. */
		if (now_us() - start > (uint64_t)calls * 20000 + 60000000)
			break;
	}
	sd_bus_flush_close_unref(bus);
	printf("identity=%s%s\ncalls=%llu\nrefused_before_sending=%llu\nsent_without_reply=%llu\n",
	       user, with_fds ? "" : " (no fd passing)", (unsigned long long)n_calls,
	       (unsigned long long)n_refused, (unsigned long long)n_noreply_sent);
	named_print("replies", &replies);
	printf("no_reply=%llu\n", (unsigned long long)n_no_reply);
	named_print("no_reply_methods", &unanswered);
	printf("binds=%llu\nleases=%llu\nreconnects=%llu\nseconds=%.1f\n",
	       (unsigned long long)n_binds, (unsigned long long)n_leases,
	       (unsigned long long)n_reconnects, (double)(now_us() - start) / 1e6);
	return 0;
}
