/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmctl: ask svmd for Shared Virtual Memory binds from the command line. A bind lives while
 * svmctl holds it: until SIGINT/SIGTERM with --hold, or while a command runs with -- CMD
 * (like systemd-inhibit). Exit status: 0 success, 77 denied by policy (and explain's verdict
 * deny, as pkcheck), 1 any other error, or the command's own status.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svmclient.h"
#include "svmd-proto.h"
#include "svmd-version.h"

#define EXIT_DENIED    77
#define ELEMENTSOF_(a) (sizeof(a) / sizeof((a)[0]))

struct args {
	const char *socket;
	bool bus;
	const char *bus_address; /* NULL: the system bus */
	bool json;
	bool pretty; /* --json=pretty */
	bool hold;
	char **cmd;    /* after "--" */
	long pid;      /* --pid, 0: none */
	int64_t pasid; /* -1: not given */
	int64_t gpasid;
	uint64_t pgd, ptr, size, iova;
	bool have_pgd, have_ptr, have_size, have_iova, read_only;
	uint32_t addr_width;
	uint64_t vtd_flags;
	int model;
	int64_t vsid;           /* --vsid: the SMMUv3 CD-table form; -1: not given */
	uint8_t s1fmt, s1cdmax; /* with --vsid */
	const char *user;
	char **pos; /* positional arguments after the command */
	int n_pos;
	/* status, show, policy, list */
	bool no_legend;
	const char *properties; /* show -p: comma separated, NULL: all */
};

static const char *prog = "svmctl";

static void help(void)
{
	printf("Usage: svmctl [--socket=PATH | --bus[=ADDRESS]] [--json[=short|pretty]] COMMAND "
	       "[ARGS]...\n"
	       "Ask svmd for Shared Virtual Memory binds, device fds and DMA mappings.\n"
	       "\n"
	       "Commands:\n"
	       "  devices                         the devices svmd manages, what works on each\n"
	       "  list                            live bindings (yours; root: all)\n"
	       "  bind-task DEVICE [--pid=PID] [--pasid=N] (--hold | -- CMD [ARG]...)\n"
	       "                                  bind a process address space (default: "
	       "svmctl's)\n"
	       "  bind-pgtable DEVICE --pasid=N --pgd=ADDR --addr-width=48|57 [--gpasid=N]\n"
	       "               (--hold | -- CMD [ARG]...)\n"
	       "                                  bind a guest page table at a PASID\n"
	       "  bind-pasid-table DEVICE --ptr=ADDR --size=N --model=vtd|smmu\n"
	       "                   [--vsid=N [--s1fmt=0|1|2] [--s1cdmax=N]] (SMMUv3 CD table)\n"
	       "               (--hold | -- CMD [ARG]...)\n"
	       "                                  bind a guest PASID table\n"
	       "  open-device DEVICE (--hold | -- CMD [ARG]...)\n"
	       "                                  the VFIO device fd, as $SVMD_DEVICE_FD for CMD\n"
	       "  map DEVICE --iova=ADDR --size=N [--read-only] (--hold | -- CMD [ARG]...)\n"
	       "                                  map a new memfd of N bytes for DEVICE at ADDR,\n"
	       "                                  as $SVMD_MEMFD for CMD\n"

	       "  unbind ID                       end one of your bindings\n"
	       "  invalidate ID [ADDR:PAGES[:leaf]]...\n"
	       "                                  flush the IOMMU's cache of guest page table ID\n"
	       "                                  (yours), after changing it; none: everything;\n"
	       "                                  mock:all or mock:N for svmd's test-only mock\n"
	       "                                  devices\n"
	       "  explain OP [DEVICE] [--pasid=N] [--user=USER] [--addr-width=N] [--vtd-flags=F]\n"
	       "          [--iova=ADDR [--size=N]]\n"
	       "                                  how policy decides OP (bind-task, bind-pgtable,\n"
	       "                                  bind-pasid-table, open-device, map; reload\n"
	       "                                  without DEVICE), rule by rule\n"
	       "  reload                          make svmd read its policy again (root, or an\n"
	       "                                  'allow reload' rule)\n"
	       "  monitor                         a line per grant, denial, release and reload\n"
	       "                                  (yours; root: all) until SIGINT\n"
	       "  status                          svmd's version, backend, devices, policy in\n"
	       "                                  force, clients, bindings, uptime\n"
	       "  show ID [-p NAME[,NAME]...]     one binding's properties, NAME=value\n"
	       "  policy                          the rules in force, FILE:LINE RULE (root, or an\n"
	       "                                  'allow policy' rule)\n"
	       "  metrics                         svmd's counters as OpenMetrics text (root, or "
	       "an\n"
	       "                                  'allow metrics' rule)\n"
	       "\n"
	       "A bind lasts while svmctl holds it: with --hold until SIGINT or SIGTERM; with\n"
	       "-- CMD while CMD runs, which finds SVMD_BINDING, SVMD_PASID and SVMD_DEVICE in "
	       "its\n"
	       "environment. Should svmd take the binding away, svmctl says why, sends CMD\n"
	       "SIGTERM and exits 1. Exit status: 0 done, 77 denied by policy (explain: the\n"
	       "verdict is deny), 1 other errors, else CMD's.\n"
	       "\n"
	       "  --socket=PATH   svmd's socket [$SVMD_SOCKET or " SVM_DEFAULT_SOCKET "]\n"
	       "  --bus[=ADDRESS] talk D-Bus instead: the system bus, or ADDRESS (session, or\n"
	       "                  unix:path=...)\n"
	       "  --json[=short|pretty]\n"
	       "                  machine-readable output: one line per object (short, the\n"
	       "                  default), or indented (pretty)\n"
	       "  --no-legend     no column headers and footers (list, policy)\n"
	       "  -V, --version   print the version and exit\n");
}

static bool json_errors; /* --json: errors also as one JSON object on stdout */
static FILE *raw_stdout; /* stdout before --json=pretty put its filter there */

/*
 * --json=pretty: svmctl writes its JSON compact, as for --json=short, and this filter (stdout,
 * through fopencookie()) indents it on its way to fd 1: a line per member and per element, two
 * spaces a level, "key": value, empty objects and arrays as {} and [], the newline that ends a
 * document kept. Only the whitespace outside strings changes, so both forms are the same
 * document. What is not JSON (metrics) is written to raw_stdout instead.
 */
struct pretty {
	unsigned depth;
	bool in_string, escape;
	bool open; /* a { or [ written, its newline held until we know it is not empty */
	char buf[4096];
	size_t n;
};

static int pretty_flush(struct pretty *p)
{
	for (size_t done = 0; done < p->n;) {
		ssize_t w = write(STDOUT_FILENO, p->buf + done, p->n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	p->n = 0;
	return 0;
}

static int pretty_put(struct pretty *p, char ch)
{
	if (p->n == sizeof(p->buf) && pretty_flush(p) < 0)
		return -1;
	p->buf[p->n++] = ch;
	return 0;
}

static int pretty_newline(struct pretty *p)
{
	int r = pretty_put(p, '\n');

	for (unsigned i = 0; r == 0 && i < 2 * p->depth; i++)
		r = pretty_put(p, ' ');
	return r;
}

static int pretty_char(struct pretty *p, char ch)
{
	if (p->in_string) {
		if (p->escape)
			p->escape = false;
		else if (ch == '\\')
			p->escape = true;
		else if (ch == '"')
			p->in_string = false;
		return pretty_put(p, ch);
	}
	if (p->open) {
		p->open = false;
		if (ch == '}' || ch == ']') {
			p->depth--;
			return pretty_put(p, ch);
		}
		if (pretty_newline(p) < 0)
			return -1;
	}
	switch (ch) {
	case '"':
		p->in_string = true;
		return pretty_put(p, ch);
	case '{':
	case '[':
		p->depth++;
		p->open = true;
		return pretty_put(p, ch);
	case '}':
	case ']':
		p->depth -= p->depth > 0;
		return pretty_newline(p) < 0 ? -1 : pretty_put(p, ch);
	case ',':
		return pretty_put(p, ch) < 0 ? -1 : pretty_newline(p);
	case ':':
		return pretty_put(p, ch) < 0 ? -1 : pretty_put(p, ' ');
	case ' ':
	case '\t':
	case '\r':
		return 0;
	case '\n':
		return p->depth == 0 ? pretty_put(p, ch) : 0;
	default:
		return pretty_put(p, ch);
	}
}

static ssize_t pretty_write(void *cookie, const char *buf, size_t n)
{
	struct pretty *p = cookie;

	for (size_t i = 0; i < n; i++)
		if (pretty_char(p, buf[i]) < 0)
			return -1;
	return pretty_flush(p) < 0 ? -1 : (ssize_t)n;
}

/* Puts the filter in stdout's place (fd 1 stays what it was, for CMD). -1 and errno if not. */
static int json_pretty_start(void)
{
	static struct pretty p;
	FILE *f;

	fflush(stdout);
	f = fopencookie(&p, "w", (cookie_io_functions_t){.write = pretty_write});
	if (!f)
		return -1;
	stdout = f;
	return 0;
}
static void json_string(const char *s);

/* The rule a reason names, "FILE:LINE" from "... (FILE:LINE)", into buf; false if none. */
static bool reason_rule(const char *why, char *buf, size_t len)
{
	const char *open = why ? strstr(why, "rule '") : NULL;
	const char *l = open ? strstr(open, "' (") : NULL, *e = l ? strchr(l + 3, ')') : NULL;

	if (!e)
		return false;
	snprintf(buf, len, "%.*s", (int)(e - l - 3), l + 3);
	return true;
}

/* {"error":"EACCES","errno":13,"reason":"...","rule":"FILE:LINE"|null} */
static void json_error(int r, const char *why)
{
	char rule[1024];
	const char *name = strerrorname_np(-r);

	printf("{\"error\":");
	json_string(name ? name : "unknown");
	printf(",\"errno\":%d,\"reason\":", -r);
	json_string(why ? why : svm_strerror(r));
	printf(",\"rule\":");
	if (reason_rule(why, rule, sizeof(rule)))
		json_string(rule);
	else
		printf("null");
	printf("}\n");
	fflush(stdout);
}

static int fail(int r, struct svm_client *c, const char *what)
{
	const char *why = c ? svm_reason(c) : NULL;

	if (json_errors)
		json_error(r, why);

	if (r == -EACCES) {
		fprintf(stderr, "%s: denied: %s\n", prog, why ? why : "by policy");
		return EXIT_DENIED;
	}
	if (why)
		fprintf(stderr, "%s: %s: %s: %s\n", prog, what, svm_strerror(r), why);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, what, svm_strerror(r));
	return 1;
}

/* The length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80                   ? 1
		   : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
		   : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
		   : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
						 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; a byte that is not part
 * of valid UTF-8 becomes \u00XX (the byte read as Latin-1), so the output always parses. */
static void json_string(const char *s)
{
	putchar('"');
	while (*s) {
		const unsigned char *u = (const unsigned char *)s;
		size_t n = utf8_len(u);
		if (*u == '"' || *u == '\\')
			printf("\\%c", *u);
		else if (*u == '\n')
			printf("\\n");
		else if (*u < 0x20 || n == 0)
			printf("\\u%04x", *u);
		else
			fwrite(s, 1, n, stdout);
		s += n ? n : 1;
	}
	putchar('"');
}

static const char *model_name(unsigned m)
{
	return m == SVM_MODEL_VTD ? "vtd" : m == SVM_MODEL_SMMU ? "smmu" : "none";
}

static void kinds_string(uint32_t kinds, char *buf, size_t len)
{
	buf[0] = 0;
	for (uint32_t k = SVM_KIND_TASK; k <= SVM_KIND_MAP; k++)
		if (kinds & SVM_KIND_BIT(k)) {
			if (buf[0])
				strncat(buf, ",", len - strlen(buf) - 1);
			strncat(buf, svm_kind_name(k), len - strlen(buf) - 1);
		}
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* kinds as a JSON array of names: ["task","device"]. */
static void json_kinds(uint32_t kinds)
{
	bool first = true;

	putchar('[');
	for (uint32_t k = SVM_KIND_TASK; k <= SVM_KIND_MAP; k++)
		if (kinds & SVM_KIND_BIT(k)) {
			printf("%s\"%s\"", first ? "" : ",", svm_kind_name(k));
			first = false;
		}
	putchar(']');
}

/* What works on device (kinds as svmd says now), and why the rest does not (malloc()ed, or
 * NULL). An svmd without device-info: what the device list says. */
static uint32_t working_kinds(struct svm_client *c, const struct svm_device *d, char **ret_why)
{
	uint32_t kinds = d->kinds;

	*ret_why = NULL;
	if (svm_device_info(c, d->name, &kinds, ret_why) < 0)
		kinds = d->kinds;
	return kinds;
}

/* The lines "KIND: reason" of why, as a JSON object. */
static void json_reasons(const char *why)
{
	bool first = true;

	putchar('{');
	for (const char *l = why; l && *l;) {
		const char *nl = strchr(l, '\n'), *colon = strstr(l, ": ");
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (colon && (size_t)(colon - l) < n) {
			char kind[32], text[512];
			snprintf(kind, sizeof(kind), "%.*s", (int)(colon - l), l);
			snprintf(text, sizeof(text), "%.*s", (int)(n - (size_t)(colon - l) - 2),
				 colon + 2);
			printf("%s", first ? "" : ",");
			json_string(kind);
			putchar(':');
			json_string(text);
			first = false;
		}
		l += n + (nl != NULL);
	}
	putchar('}');
}

/* A uid as a user name (loginctl's USER), or the number when it has none. */
static void user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", uid);
}

static int cmd_devices(struct svm_client *c, const struct args *a)
{
	struct svm_device *d = NULL;
	size_t n = 0;
	char kinds[64], **why;
	int r = svm_devices(c, &d, &n);

	if (r < 0)
		return fail(r, c, "devices");
	why = calloc(n ? n : 1, sizeof(*why));
	if (!why) {
		free(d);
		return fail(-ENOMEM, NULL, "devices");
	}
	if (a->json)
		printf("[");
	else
		printf("%-14s %5s %6s %10s %-5s %-36s %s\n", "DEVICE", "GROUP", "SHARED",
		       "PASID-BITS", "MODEL", "KINDS", "PCI-ID");
	for (size_t i = 0; i < n; i++) {
		uint32_t working_kinds_bits = working_kinds(c, &d[i], &why[i]);
		kinds_string(working_kinds_bits, kinds, sizeof(kinds));
		if (a->json) {
			printf("%s{\"device\":", i ? "," : "");
			json_string(d[i].name);
			printf(",\"iommu_group\":%u,\"group_devices\":%u,\"pasid_bits\":%u,"
			       "\"model\":\"%s\",\"kinds\":",
			       d[i].iommu_group, d[i].group_devices, d[i].pasid_bits,
			       model_name(d[i].model));
			json_kinds(working_kinds_bits);
			printf(",\"pci_id\":\"%04x:%04x\",\"why_not\":", d[i].vendor, d[i].device);
			json_reasons(why[i]);
			putchar('}');
		} else {
			printf("%-14s %5u %6s %10u %-5s %-36s %04x:%04x\n", d[i].name,
			       d[i].iommu_group, d[i].group_devices > 1 ? "yes" : "no",
			       d[i].pasid_bits, model_name(d[i].model), kinds, d[i].vendor,
			       d[i].device);
		}
	}
	if (a->json)
		printf("]\n");
	/* Then why the kinds missing from the table do not work, device by device. */
	for (size_t i = 0, said = 0; !a->json && i < n; i++)
		for (const char *l = why[i]; l && *l;) {
			const char *nl = strchr(l, '\n');
			int len = nl ? (int)(nl - l) : (int)strlen(l);
			if (!said++)
				printf("\nNot on this kernel:\n");
			printf("  %s %.*s\n", d[i].name, len, l);
			l += len + (nl != NULL);
		}
	for (size_t i = 0; i < n; i++)
		free(why[i]);
	free(why);
	free(d);
	return 0;
}

static int cmd_list(struct svm_client *c, const struct args *a)
{
	struct svm_binding_info *b = NULL;
	size_t n = 0;
	int r = svm_list(c, &b, &n);

	if (r < 0)
		return fail(r, c, "list");
	if (a->json)
		printf("[");
	else if (n == 0 && !a->no_legend)
		printf("No bindings.\n");
	else if (!a->no_legend)
		printf("%6s %-11s %-14s %7s %8s %-12s %8s %8s %s\n", "ID", "KIND", "DEVICE",
		       "PASID", "UID", "USER", "PID", "TARGET", "LEASED");
	for (size_t i = 0; i < n; i++) {
		char user[64];
		user_name(b[i].owner_uid, user, sizeof(user));
		if (a->json) {
			printf("%s{\"id\":%" PRIu64 ",\"kind\":\"%s\",\"device\":", i ? "," : "",
			       b[i].id, svm_kind_name(b[i].kind));
			json_string(b[i].device);
			printf(",\"pasid\":%u,\"owner_uid\":%u,\"owner_user\":", b[i].pasid,
			       b[i].owner_uid);
			json_string(user);
			printf(",\"owner_pid\":%d,\"target_pid\":%d,"
			       "\"leased\":%s,\"created_usec\":%" PRIu64 "}",
			       b[i].owner_pid, b[i].target_pid, b[i].leased ? "true" : "false",
			       b[i].created_usec);
		} else {
			printf("%6" PRIu64 " %-11s %-14s %7u %8u %-12s %8d %8d %s\n", b[i].id,
			       svm_kind_name(b[i].kind), b[i].device, b[i].pasid, b[i].owner_uid,
			       user, b[i].owner_pid, b[i].target_pid, b[i].leased ? "yes" : "no");
		}
	}
	if (a->json)
		printf("]\n");
	else if (n && !a->no_legend)
		printf("\n%zu binding%s listed.\n", n, n == 1 ? "" : "s");
	free(b);
	return 0;
}

static volatile sig_atomic_t got_signal;
static volatile pid_t child;

static void on_signal(int sig)
{
	got_signal = sig;
	if (child > 0)
		kill(child, sig);
}

/* What the event handler heard about the binding held. */
struct held {
	uint64_t id;
	bool ended;      /* svmd's BINDING_ENDED came */
	bool gone;       /* or svmd closed the connection */
	uint32_t reason; /* enum svm_end */
	uint32_t by_uid;
	uint64_t generation;
	char text[256];
};

static void on_hold_event(struct svm_client *c, const struct svm_event *ev, void *userdata)
{
	struct held *h = userdata;

	(void)c;
	if (ev->type != SVM_EVENT_BINDING_ENDED || ev->binding != h->id || h->ended)
		return;
	h->ended = true;
	h->reason = ev->reason;
	h->by_uid = ev->by_uid;
	h->generation = ev->generation;
	snprintf(h->text, sizeof(h->text), "%s", ev->text && ev->text[0] ? ev->text : "ended");
}

/* The binding was taken away (or svmd went): say so on stderr (--json's object comes at the
 * end, when CMD, if any, is done). */
static int taken_away(struct held *h, bool gone)
{
	h->gone = gone;
	fprintf(stderr, "%s: binding %" PRIu64 " is gone: %s.\n", prog, h->id,
		gone ? "svmd closed the connection" : h->text);
	return 1;
}

/* --json's first object: the binding made (before CMD starts). */
static void json_held(uint64_t id, uint32_t pasid, const char *device)
{
	printf("{\"id\":%" PRIu64 ",\"pasid\":%u,\"device\":", id, pasid);
	json_string(device);
	printf("}\n");
	fflush(stdout);
}

/*
 * --json's last object, how it ended (after CMD, if any, is done):
 * {"id","ended","reason","by_uid","generation","exit_status","signal"}. ended: taken away
 * (svm_end_name(): "unbind", "revoked", "process-exited", "shutdown", ..., or "disconnected"),
 * else "exited" or "killed" (CMD ended, svmctl released the binding), or "released" (--hold,
 * after a signal). status: CMD's wait status, or -1 (--hold).
 */
static void json_ended(const struct args *a, const struct held *h, int status)
{
	const char *ended, *cmd = a->cmd ? a->cmd[0] : NULL;
	char why[512];
	int sig = status >= 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	const char *signame = sig ? sigabbrev_np(sig) : NULL;

	if (h->gone) {
		ended = "disconnected";
		snprintf(why, sizeof(why), "svmd closed the connection");
	} else if (h->ended) {
		ended = svm_end_name(h->reason) ? svm_end_name(h->reason) : "ended";
		snprintf(why, sizeof(why), "%s", h->text);
	} else if (status < 0) {
		ended = "released";
		snprintf(why, sizeof(why), "svmctl got SIG%s and released it",
			 got_signal && sigabbrev_np(got_signal) ? sigabbrev_np(got_signal) : "?");
	} else if (sig) {
		ended = "killed";
		snprintf(why, sizeof(why), "%s was killed by SIG%s; svmctl released it", cmd,
			 signame ? signame : "?");
	} else {
		ended = "exited";
		snprintf(why, sizeof(why), "%s exited with status %d; svmctl released it", cmd,
			 WEXITSTATUS(status));
	}
	printf("{\"id\":%" PRIu64 ",\"ended\":", h->id);
	json_string(ended);
	printf(",\"reason\":");
	json_string(why);
	if (h->ended && h->reason == SVM_END_UNBIND)
		printf(",\"by_uid\":%u", h->by_uid);
	else
		printf(",\"by_uid\":null");
	if (h->ended && h->reason == SVM_END_REVOKED)
		printf(",\"generation\":%" PRIu64, h->generation);
	else
		printf(",\"generation\":null");
	if (status >= 0 && WIFEXITED(status))
		printf(",\"exit_status\":%d", WEXITSTATUS(status));
	else
		printf(",\"exit_status\":null");
	printf(",\"signal\":");
	if (sig) {
		char name[32];
		snprintf(name, sizeof(name), "SIG%s", signame ? signame : "?");
		json_string(name);
	} else {
		printf("null");
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * Waits for SIGINT, SIGTERM or SIGHUP, for the child pidfd (if >= 0) to exit, or for the
 * binding to be taken away (svmd's event, or svmd closing the connection). Returns 0 after a
 * signal or the child's exit, 1 (said why) when the binding is gone.
 */
static int wait_for_end(struct svm_client *c, struct held *h, int pidfd)
{
	struct pollfd pfd[2] = {{.fd = svm_fd(c), .events = POLLIN},
				{.fd = pidfd, .events = POLLIN}};
	bool events = svm_events_supported(c);
	sigset_t block, empty;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigemptyset(&empty);
	/* Signals are let in only inside ppoll(), so none slips between the check and the wait. */
	sigprocmask(SIG_BLOCK, &block, NULL);
	/* What came with the replies so far is read already: see to it before waiting. */
	if (events) {
		int r = svm_dispatch(c, 0);
		if (h->ended)
			return taken_away(h, false);
		if (r < 0)
			return taken_away(h, true);
	}
	while (!got_signal) {
		int n = ppoll(pfd, 2, NULL, &empty);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return 1;
		}
		if (n > 0 && pfd[1].revents)
			return 0;
		if (n > 0 && pfd[0].revents) {
			/* Without events (an older svmd), anything there means it hung up. */
			int r = events ? svm_dispatch(c, 0) : -ECONNRESET;
			if (h->ended)
				return taken_away(h, false);
			if (r < 0)
				return taken_away(h, true);
		}
	}
	return 0;
}

/* Keeps the binding for as long as asked: until a signal (or the binding is taken away), or
 * while the command runs (which inherits fd, if any, as $fd_var, and gets SIGTERM should the
 * binding be taken away). */
static int hold(struct svm_client *c, const struct args *a, const char *device, uint64_t id,
		uint32_t pasid, int fd, const char *fd_var)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct held h = {.id = id};
	char buf[32];
	int status, r;

	svm_set_event_handler(c, on_hold_event, &h);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (a->json)
		json_held(id, pasid, device);
	if (a->hold) {
		if (a->json)
			; /* said above */
		else if (fd >= 0 && strcmp(fd_var, "SVMD_MEMFD") == 0)
			printf("Mapped %" PRIu64 " bytes for %s at IOVA 0x%" PRIx64
			       " as binding %" PRIu64 "; holding it until SIGINT or SIGTERM.\n",
			       a->size, device, a->iova, id);
		else if (fd >= 0 && strcmp(fd_var, "SVMD_DEVICE_FD") == 0)
			printf("Opened %s as binding %" PRIu64 "; holding it until SIGINT or "
			       "SIGTERM.\n",
			       device, id);
		else
			printf("Bound %s as binding %" PRIu64 " (PASID %u); holding it until "
			       "SIGINT or SIGTERM.\n",
			       device, id, pasid);
		fflush(stdout);
		r = wait_for_end(c, &h, -1);
		if (a->json)
			json_ended(a, &h, -1);
		return r;
	}

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	setenv("SVMD_BINDING", buf, 1);
	snprintf(buf, sizeof(buf), "%u", pasid);
	setenv("SVMD_PASID", buf, 1);
	setenv("SVMD_DEVICE", device, 1);
	if (fd >= 0) {
		snprintf(buf, sizeof(buf), "%d", fd);
		setenv(fd_var, buf, 1);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		/* The device fd (or memfd) is the one fd the command should inherit. */
		if (fd >= 0)
			fcntl(fd, F_SETFD, 0);
		execvp(a->cmd[0], a->cmd);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, a->cmd[0], strerror(errno));
		_exit(127);
	}
	child = pid;
	/* Without a pidfd (an old kernel) svmctl waits for CMD alone, as before. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	r = pidfd >= 0 ? wait_for_end(c, &h, pidfd) : 0;
	if (pidfd >= 0)
		close(pidfd);
	if (r != 0) {
		/* Taken away: CMD must stop using it (systemd-inhibit's users expect SIGTERM). */
		fprintf(stderr, "%s: sending SIGTERM to %s (pid %d).\n", prog, a->cmd[0], (int)pid);
		kill(pid, SIGTERM);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "%s: waitpid: %s\n", prog, strerror(errno));
			return 1;
		}
	if (a->json)
		json_ended(a, &h, status);
	if (r != 0)
		return r;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int need_holder(const struct args *a, const char *cmd)
{
	if (a->hold && a->cmd) {
		fprintf(stderr, "%s: %s: give either --hold or -- CMD, not both.\n", prog, cmd);
		return -1;
	}
	if (!a->hold && !a->cmd) {
		fprintf(stderr,
			"%s: %s: a binding lives only while svmctl holds it; add --hold (until "
			"SIGINT/SIGTERM) or -- CMD [ARG]... (while CMD runs).\n",
			prog, cmd);
		return -1;
	}
	return 0;
}

static int cmd_bind(struct svm_client *c, const struct args *a, int kind)
{
	const char *what = kind == SVM_KIND_TASK          ? "bind-task"
			   : kind == SVM_KIND_PGTABLE     ? "bind-pgtable"
			   : kind == SVM_KIND_PASID_TABLE ? "bind-pasid-table"
							  : "open-device";
	int device_fd = -1;
	const char *device = a->pos[0];
	uint64_t id = 0;
	uint32_t pasid = 0;
	int r;

	if (need_holder(a, what) < 0)
		return 1;
	switch (kind) {
	case SVM_KIND_TASK: {
		int pidfd = -1;
		if (a->pid) {
			pidfd = (int)syscall(SYS_pidfd_open, (pid_t)a->pid, 0);
			if (pidfd < 0) {
				fprintf(stderr, "%s: no process %ld: %s\n", prog, a->pid,
					strerror(errno));
				return 1;
			}
		}
		r = svm_bind_task(c, device, pidfd, a->pasid > 0 ? (uint32_t)a->pasid : 0, &id,
				  &pasid);
		if (pidfd >= 0)
			close(pidfd);
		break;
	}
	case SVM_KIND_PGTABLE: {
		if (a->pasid < 0 || !a->have_pgd || !a->addr_width) {
			fprintf(stderr,
				"%s: bind-pgtable needs --pasid=N, --pgd=ADDR and "
				"--addr-width=48|57.\n",
				prog);
			return 1;
		}
		struct svm_pgtable pg = {
			.pasid = (uint32_t)a->pasid,
			.addr_width = a->addr_width,
			.gpgd = a->pgd,
			.gpasid_valid = a->gpasid >= 0,
			.gpasid = a->gpasid >= 0 ? (uint32_t)a->gpasid : 0,
		};
		r = svm_bind_pgtable(c, device, &pg, &id);
		pasid = pg.pasid;
		break;
	}
	case SVM_KIND_DEVICE:
		r = svm_open_device(c, device, &device_fd, &id);
		break;
	default: {
		if (!a->have_ptr || !a->have_size || a->model <= 0) {
			fprintf(stderr,
				"%s: bind-pasid-table needs --ptr=ADDR, --size=N and "
				"--model=vtd|smmu.\n",
				prog);
			return 1;
		}
		if (a->vsid >= 0 && a->model == SVM_MODEL_SMMU) {
			/* An SMMUv3 CD table: the vEVENTQ fd, if any, is held like a device fd. */
			struct svm_smmu_cd_table t = {.ptr = a->ptr,
						      .size = a->size,
						      .vsid = (uint32_t)a->vsid,
						      .s1fmt = a->s1fmt,
						      .s1cdmax = a->s1cdmax};
			r = svm_bind_smmu_cd_table(c, device, &t, &id, &device_fd);
			if (r == 0 && device_fd >= 0)
				return hold(c, a, device, id, pasid, device_fd, "SVMD_EVENT_FD");
			break;
		}
		struct svm_pasid_table t = {
			.ptr = a->ptr, .size = a->size, .model = (uint32_t)a->model};
		r = svm_bind_pasid_table(c, device, &t, &id);
		break;
	}
	}
	if (r < 0)
		return fail(r, c, what);
	return hold(c, a, device, id, pasid, device_fd, "SVMD_DEVICE_FD");
}

/* A new memfd of a->size bytes, mapped for the device while svmctl holds it. */
static int cmd_map(struct svm_client *c, const struct args *a)
{
	const char *device = a->pos[0];
	uint32_t flags = SVM_MAP_READ | (a->read_only ? 0 : SVM_MAP_WRITE);
	uint64_t id = 0;
	int fd, r;

	if (need_holder(a, "map") < 0)
		return 1;
	if (!a->have_iova || !a->have_size || a->size == 0) {
		fprintf(stderr, "%s: map needs --iova=ADDR and --size=N.\n", prog);
		return 1;
	}
	fd = memfd_create("svmctl-map", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)a->size) < 0) {
		fprintf(stderr, "%s: map: cannot make a memfd of %" PRIu64 " bytes: %s\n", prog,
			a->size, strerror(errno));
		return 1;
	}
	r = svm_map(c, device, fd, 0, a->size, a->iova, flags, &id);
	if (r < 0) {
		close(fd);
		return fail(r, c, "map");
	}
	r = hold(c, a, device, id, 0, fd, "SVMD_MEMFD");
	close(fd);
	return r;
}

static int cmd_unbind(struct svm_client *c, const struct args *a)
{
	char *end;
	unsigned long long id;
	int r;

	errno = 0;
	id = strtoull(a->pos[0], &end, 10);
	if (errno || *end || !a->pos[0][0] || a->pos[0][0] == '-') {
		fprintf(stderr, "%s: unbind: '%s' is not a binding id (see 'svmctl list').\n", prog,
			a->pos[0]);
		return 1;
	}
	r = svm_unbind(c, id);
	if (r < 0)
		return fail(r, c, "unbind");
	if (a->json)
		printf("{\"released\":%llu}\n", id);
	else
		printf("Released binding %llu.\n", id);
	return 0;
}

/* One "mock:all" or "mock:ID" entry (TEST ONLY, the kernel's mock IOMMU): 0, or -EINVAL. */
static int mock_entry(const char *s, struct svm_invalidate_entry *x)
{
	char *end;

	if (strncmp(s, "mock:", 5) != 0)
		return -EINVAL;
	*x = (struct svm_invalidate_entry){{0}};
	if (strcmp(s + 5, "all") == 0) {
		x->w[0] = SVM_INVALIDATE_MOCK_ALL;
		return 0;
	}
	errno = 0;
	x->w[1] = strtoull(s + 5, &end, 0);
	return errno || end == s + 5 || *end || s[5] == '-' ? -EINVAL : 0;
}

/* invalidate ID [ADDR:PAGES[:leaf]]...: VT-d stage-1 entries; none: everything. Or, TEST
 * ONLY, ID mock:all|mock:N...: the kernel's mock IOMMU's. */
static int cmd_invalidate(struct svm_client *c, const struct args *a)
{
	struct svm_invalidate_entry e[SVM_INVALIDATE_ENTRIES_MAX] = {{{0, UINT64_MAX, 0}}};
	uint32_t n = a->n_pos > 1 ? (uint32_t)(a->n_pos - 1) : 1, done = 0;
	uint32_t type = SVM_INVALIDATE_VTD_S1;
	unsigned long long id;
	char *end;
	int r;

	errno = 0;
	id = strtoull(a->pos[0], &end, 10);
	if (errno || *end || !a->pos[0][0] || a->pos[0][0] == '-') {
		fprintf(stderr, "%s: invalidate: '%s' is not a binding id (see 'svmctl list').\n",
			prog, a->pos[0]);
		return 1;
	}
	if (a->n_pos > 1 && strncmp(a->pos[1], "mock:", 5) == 0)
		type = SVM_INVALIDATE_MOCK;
	for (int i = 1; i < a->n_pos; i++) {
		const char *s = a->pos[i];
		struct svm_invalidate_entry *x = &e[i - 1];
		if (type == SVM_INVALIDATE_MOCK) {
			if (mock_entry(s, x) == 0)
				continue;
			fprintf(stderr, "%s: invalidate: '%s' is not mock:all or mock:ID.\n", prog,
				s);
			return 1;
		}
		errno = 0;
		x->w[0] = strtoull(s, &end, 0);
		if (!errno && *end == ':')
			x->w[1] = strtoull(end + 1, &end, 0);
		else
			errno = EINVAL;
		x->w[2] = 0;
		if (!errno && strcmp(end, ":leaf") == 0)
			x->w[2] = SVM_INVALIDATE_VTD_LEAF;
		else if (!errno && *end)
			errno = EINVAL;
		if (errno || s[0] == '-') {
			fprintf(stderr,
				"%s: invalidate: '%s' is not ADDR:PAGES or ADDR:PAGES:leaf.\n",
				prog, s);
			return 1;
		}
	}
	r = svm_invalidate(c, id, type, e, n, &done);
	if (r < 0)
		return fail(r, c, "invalidate");
	if (a->json)
		printf("{\"id\":%llu,\"invalidated\":%u}\n", id, done);
	else
		printf("Invalidated %u range%s of binding %llu.\n", done, done == 1 ? "" : "s", id);
	return 0;
}

/* explain's steps as [{"file","line","rule","matched","why"}]: svmd writes each rule it
 * considered as "  FILE:LINE: RULE", then "    matches: WHY" or "    does not match: WHY". */
static void json_explain_rules(const char *text)
{
	bool first = true;
	char file[4096] = "", rule[4096] = "";
	unsigned long line = 0;
	bool have = false;

	putchar('[');
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		int n = (int)(nl ? nl - l : (ptrdiff_t)strlen(l));
		char buf[4096];
		snprintf(buf, sizeof(buf), "%.*s", n, l);
		const char *sep = strstr(buf, ": ");
		if (strncmp(buf, "    ", 4) == 0 && have) {
			bool matched = strncmp(buf + 4, "matches: ", 9) == 0;
			const char *why = strstr(buf + 4, ": ");
			printf("%s{\"file\":", first ? "" : ",");
			json_string(file);
			printf(",\"line\":%lu,\"rule\":", line);
			json_string(rule);
			printf(",\"matched\":%s,\"why\":", matched ? "true" : "false");
			json_string(why ? why + 2 : "");
			putchar('}');
			first = false;
			have = false;
		} else if (strncmp(buf, "  ", 2) == 0 && buf[2] != ' ' && sep) {
			/* "  FILE:LINE: RULE": the line number is what follows the last ':' before
			 * it */
			const char *colon = sep;
			while (colon > buf + 2 && colon[-1] != ':')
				colon--;
			if (colon > buf + 2) {
				snprintf(file, sizeof(file), "%.*s", (int)(colon - 1 - (buf + 2)),
					 buf + 2);
				line = strtoul(colon, NULL, 10);
				snprintf(rule, sizeof(rule), "%s", sep + 2);
				have = true;
			}
		}
		l += n + (nl != NULL);
	}
	putchar(']');
}

/* explain's text with the user named: "for uid 1001" becomes "for uid 1001 (alice)". */
static void explain_print(const char *text)
{
	const char *p = strstr(text, " for uid "), *nl = strchr(text, '\n');
	char *end, user[64];

	if (!p || (nl && p > nl)) {
		fputs(text, stdout);
		return;
	}
	p += strlen(" for uid ");
	unsigned long uid = strtoul(p, &end, 10);
	struct passwd *pw = end > p ? getpwuid((uid_t)uid) : NULL;
	if (!pw) {
		fputs(text, stdout);
		return;
	}
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	printf("%.*s (%s)%s", (int)(end - text), text, user, end);
}

static int cmd_explain(struct svm_client *c, const struct args *a)
{
	int64_t uid = -1;
	char *text = NULL, who[64] = "";
	bool allowed = false;
	int r;

	if (a->user) {
		struct passwd *pw = getpwnam(a->user);
		char *end;
		if (pw) {
			uid = pw->pw_uid;
		} else {
			errno = 0;
			unsigned long v = strtoul(a->user, &end, 10);
			if (errno || *end || !a->user[0] || v >= UINT32_MAX) {
				fprintf(stderr, "%s: explain: no user '%s'.\n", prog, a->user);
				return 1;
			}
			uid = (int64_t)v;
		}
		struct passwd *named = getpwuid((uid_t)uid);
		snprintf(who, sizeof(who), "%s", named ? named->pw_name : a->user);
	}
	bool reload = strcmp(a->pos[0], "reload") == 0;
	if (reload != (a->n_pos == 1)) {
		fprintf(stderr, "%s: explain: %s.\n", prog,
			reload ? "reload takes no DEVICE" : "OP DEVICE expected");
		return 1;
	}
	struct svm_explain_request x = {
		.op = a->pos[0],
		.device = reload ? NULL : a->pos[1],
		.pasid = a->pasid,
		.uid = uid,
		.addr_width = a->addr_width,
		.vtd_flags = a->vtd_flags,
		.iova = a->iova,
		.length = a->have_size ? a->size : 0,
	};
	if (strcmp(x.op, "map") == 0 && !a->have_iova) {
		fprintf(stderr, "%s: explain map needs --iova=ADDR (and --size=N).\n", prog);
		return 1;
	}
	r = svm_explain(c, &x, &text, &allowed);
	if (r == -EINVAL && !svm_reason(c)) {
		fprintf(stderr,
			"%s: explain: OP must be bind-task, bind-pgtable, bind-pasid-table, "
			"open-device, map, reload or invalidate (without --addr-width and "
			"--vtd-flags).\n",
			prog);
		return 1;
	}
	if (r == -EPERM && a->user) {
		/* Not a verdict about that user: a question only root may ask. */
		if (json_errors)
			json_error(r, svm_reason(c));
		fprintf(stderr,
			"%s: explain --user=%s: %s; you are uid %u: leave out --user for your own "
			"verdict, or ask as root.\n",
			prog, who, svm_reason(c) ? svm_reason(c) : "not permitted",
			(unsigned)getuid());
		return 1;
	}
	if (r < 0)
		return fail(r, c, "explain");
	if (a->json) {
		printf("{\"allowed\":%s,\"rules\":", allowed ? "true" : "false");
		json_explain_rules(text);
		printf(",\"text\":");
		json_string(text);
		printf("}\n");
	} else {
		explain_print(text);
	}
	free(text);
	/* As pkcheck: the verdict is the exit status. */
	return allowed ? 0 : EXIT_DENIED;
}

static int cmd_reload(struct svm_client *c, const struct args *a)
{
	struct svm_reload_result rr;
	char *text = NULL;
	int r = svm_reload(c, &rr, &text);

	if (r == -EINVAL && svm_reason(c)) {
		if (json_errors)
			json_error(r, svm_reason(c));
		fprintf(stderr, "%s: reload refused: %s\n", prog, svm_reason(c));
		return 1;
	}
	if (r == -EACCES) {
		if (json_errors)
			json_error(r, svm_reason(c));
		fprintf(stderr,
			"%s: reload denied: %s\n%s: reloading needs root or an 'allow reload' rule "
			"for you (see 'svmctl explain reload').\n",
			prog, svm_reason(c) ? svm_reason(c) : "by policy", prog);
		return EXIT_DENIED;
	}
	if (r < 0)
		return fail(r, c, "reload");
	if (a->json) {
		printf("{\"generation\":%" PRIu64 ",\"rules\":%u,\"files\":%u,\"warnings\":%u,"
		       "\"no_longer_granted\":%u,\"revoked\":%u,\"text\":",
		       rr.generation, rr.n_rules, rr.n_files, rr.n_warnings, rr.n_denied,
		       rr.n_revoked);
		json_string(text);
		printf("}\n");
	} else {
		fputs(text, stdout);
		printf("Policy generation %" PRIu64 ": %u rule%s from %u file%s; %u binding%s no "
		       "longer granted, %u revoked.\n",
		       rr.generation, rr.n_rules, rr.n_rules == 1 ? "" : "s", rr.n_files,
		       rr.n_files == 1 ? "" : "s", rr.n_denied, rr.n_denied == 1 ? "" : "s",
		       rr.n_revoked);
	}
	free(text);
	return 0;
}

/* ---- status, show, policy ------------------------------------------------------------- */

/* "1h 2min 3s", as systemctl says a duration. */
static void duration_string(uint64_t usec, char *buf, size_t len)
{
	uint64_t s = usec / 1000000, d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (d)
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "min", d, h, m);
	else if (h)
		snprintf(buf, len, "%" PRIu64 "h %" PRIu64 "min %" PRIu64 "s", h, m, s % 60);
	else if (m)
		snprintf(buf, len, "%" PRIu64 "min %" PRIu64 "s", m, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", s % 60);
}

/* The value after "KEY: " on a line of text, or NULL; *ret_len its length. */
static const char *text_value(const char *text, const char *key, const char **from, size_t *ret_len)
{
	size_t k = strlen(key);

	for (const char *l = *from ? *from : text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		*from = nl ? nl + 1 : l + n;
		if (n > k + 1 && strncmp(l, key, k) == 0 && l[k] == ':' && l[k + 1] == ' ') {
			*ret_len = n - k - 2;
			return l + k + 2;
		}
		l = *from;
	}
	return NULL;
}

static int cmd_status(struct svm_client *c, const struct args *a)
{
	struct svm_status st;
	char *text = NULL, up[64];
	const char *from = NULL, *v;
	size_t n;
	int r = svm_status(c, &st, &text);

	if (r < 0)
		return fail(r, c, "status");
	duration_string(st.uptime_usec, up, sizeof(up));
	const char *svm = text_value(text, "svm", &from, &n);
	size_t svm_len = svm ? n : 0;
	if (a->json) {
		printf("{\"version\":");
		json_string(st.version);
		printf(",\"backend\":");
		json_string(st.backend);
		printf(",\"svm\":");
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)svm_len, svm ? svm : "");
		json_string(buf);
		printf(",\"devices\":%u,\"policy\":{\"generation\":%" PRIu64 ",\"rules\":%u,"
		       "\"files\":[",
		       st.n_devices, st.generation, st.n_rules);
		bool first = true;
		for (from = NULL; (v = text_value(text, "file", &from, &n)); first = false) {
			snprintf(buf, sizeof(buf), "%.*s", (int)n, v);
			printf("%s", first ? "" : ",");
			json_string(buf);
		}
		printf("]},\"clients\":%u,\"bindings\":%u,\"uptime_usec\":%" PRIu64 "}\n",
		       st.n_clients, st.n_bindings, st.uptime_usec);
		free(text);
		return 0;
	}
	bool root = getuid() == 0;
	printf("svmd %s, up %s\n", st.version, up);
	printf("%11s %s\n", "Backend:", st.backend);
	printf("%11s %.*s\n", "SVM binds:", (int)svm_len, svm ? svm : "unknown");
	printf("%11s %u (see 'svmctl devices')\n", "Devices:", st.n_devices);
	printf("%11s generation %" PRIu64 ", %u rule%s from %u file%s\n", "Policy:", st.generation,
	       st.n_rules, st.n_rules == 1 ? "" : "s", st.n_files, st.n_files == 1 ? "" : "s");
	for (from = NULL; (v = text_value(text, "file", &from, &n));)
		printf("%11s %.*s\n", "", (int)n, v);
	printf("%11s %u%s\n", "Clients:", st.n_clients, root ? "" : " (yours)");
	printf("%11s %u%s\n", "Bindings:", st.n_bindings, root ? "" : " (yours)");
	free(text);
	return 0;
}

/* One binding's properties, as systemctl show prints a unit's: NAME=value, all or those asked
 * for (-p NAME[,NAME...]), in this order. */
static int cmd_show(struct svm_client *c, const struct args *a)
{
	static const char *const names[] = {"Id",       "Kind",       "Device",   "PASID",
					    "OwnerUID", "OwnerUser",  "OwnerPID", "TargetPID",
					    "Leased",   "CreatedUSec"};
	struct svm_binding_info *b = NULL;
	size_t n = 0, i;
	char *end, user[64], values[ELEMENTSOF_(names)][64];
	int r;

	errno = 0;
	unsigned long long id = strtoull(a->pos[0], &end, 10);
	if (errno || *end || !a->pos[0][0] || a->pos[0][0] == '-') {
		fprintf(stderr, "%s: show: '%s' is not a binding id (see 'svmctl list').\n", prog,
			a->pos[0]);
		return 1;
	}
	if (a->properties) {
		char buf[512], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", a->properties);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			for (i = 0; i < ELEMENTSOF_(names) && strcmp(t, names[i]) != 0; i++)
				;
			if (i == ELEMENTSOF_(names)) {
				fprintf(stderr,
					"%s: show: no property '%s'; a binding has Id, Kind, "
					"Device, PASID, OwnerUID, OwnerUser, OwnerPID, TargetPID, "
					"Leased, CreatedUSec.\n",
					prog, t);
				return 1;
			}
		}
	}
	r = svm_list(c, &b, &n);
	if (r < 0)
		return fail(r, c, "show");
	for (i = 0; i < n && b[i].id != id; i++)
		;
	if (i == n) {
		char why[80];
		free(b);
		snprintf(why, sizeof(why), "no binding %llu of yours", id);
		if (json_errors)
			json_error(-ENOENT, why);
		fprintf(stderr, "%s: show: %s (see 'svmctl list').\n", prog, why);
		return 1;
	}
	const struct svm_binding_info *x = &b[i];
	user_name(x->owner_uid, user, sizeof(user));
	snprintf(values[0], sizeof(values[0]), "%" PRIu64, x->id);
	snprintf(values[1], sizeof(values[1]), "%s", svm_kind_name(x->kind));
	snprintf(values[2], sizeof(values[2]), "%s", x->device);
	snprintf(values[3], sizeof(values[3]), "%u", x->pasid);
	snprintf(values[4], sizeof(values[4]), "%u", x->owner_uid);
	snprintf(values[5], sizeof(values[5]), "%s", user);
	snprintf(values[6], sizeof(values[6]), "%d", x->owner_pid);
	snprintf(values[7], sizeof(values[7]), "%d", x->target_pid);
	snprintf(values[8], sizeof(values[8]), "%s", x->leased ? "yes" : "no");
	snprintf(values[9], sizeof(values[9]), "%" PRIu64, x->created_usec);
	free(b);
	bool first = true;
	if (a->json)
		putchar('{');
	for (i = 0; i < ELEMENTSOF_(names); i++) {
		if (a->properties) {
			char buf[512], *save = NULL;
			bool want = false;
			snprintf(buf, sizeof(buf), "%s", a->properties);
			for (char *t = strtok_r(buf, ",", &save); t && !want;
			     t = strtok_r(NULL, ",", &save))
				want = strcmp(t, names[i]) == 0;
			if (!want)
				continue;
		}
		if (a->json) {
			printf("%s", first ? "" : ",");
			json_string(names[i]);
			putchar(':');
			json_string(values[i]);
		} else {
			printf("%s=%s\n", names[i], values[i]);
		}
		first = false;
	}
	if (a->json)
		printf("}\n");
	return 0;
}

/* svmd's counters as OpenMetrics text, for a textfile collector or a scraper. The text is the
 * format; --json changes only how errors are told. */
static int cmd_metrics(struct svm_client *c)
{
	char *text = NULL;
	int r = svm_metrics(c, &text);

	if (r == -EACCES) {
		if (json_errors)
			json_error(r, svm_reason(c));
		fprintf(stderr, "%s: metrics: %s\n", prog,
			svm_reason(c)
				? svm_reason(c)
				: "reading the metrics needs root or an 'allow metrics' rule");
		return EXIT_DENIED;
	}
	if (r < 0)
		return fail(r, c, "metrics");
	/* OpenMetrics text, not JSON: past --json=pretty's re-indenting. */
	fputs(text, raw_stdout);
	free(text);
	return fflush(raw_stdout) == 0 ? 0 : 1;
}

/* The rules in force, "FILE:LINE RULE" each, like usbguard list-rules. */
static int cmd_policy(struct svm_client *c, const struct args *a)
{
	uint64_t generation = 0;
	char *text = NULL;
	size_t n = 0;
	int r = svm_policy_rules(c, &generation, &text);

	if (r == -EACCES) {
		if (json_errors)
			json_error(r, svm_reason(c));
		fprintf(stderr, "%s: policy: %s\n", prog,
			svm_reason(c) ? svm_reason(c)
				      : "reading the policy needs root or an 'allow policy' rule");
		return EXIT_DENIED;
	}
	if (r < 0)
		return fail(r, c, "policy");
	if (a->json)
		printf("{\"generation\":%" PRIu64 ",\"rules\":[", generation);
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (a->json) {
			/* "FILE:LINE RULE": the file's name has no space; the line is a number */
			const char *sp = memchr(l, ' ', len);
			const char *colon = sp ? sp : l + len;
			while (colon > l && *colon != ':')
				colon--;
			char file[4096], rule[4096];
			snprintf(file, sizeof(file), "%.*s", (int)(colon - l), l);
			snprintf(rule, sizeof(rule), "%.*s",
				 sp ? (int)(len - (size_t)(sp - l) - 1) : 0, sp ? sp + 1 : "");
			printf("%s{\"file\":", n ? "," : "");
			json_string(file);
			printf(",\"line\":%lu,\"rule\":", strtoul(colon + 1, NULL, 10));
			json_string(rule);
			putchar('}');
		} else {
			printf("%.*s\n", (int)len, l);
		}
		n++;
		l += len + (nl != NULL);
	}
	if (a->json)
		printf("]}\n");
	else if (!a->no_legend)
		printf("\n%zu rule%s in policy generation %" PRIu64 ".\n", n, n == 1 ? "" : "s",
		       generation);
	free(text);
	return 0;
}

/* --vtd-flags: names (sre,eafe,pcd,pwt,emte,cd) or a number. */
/*
 * svmctl monitor: a line per record svmd writes that the caller may see (root: all; others:
 * their own, and reloads), until SIGINT or SIGTERM; with --json one object a line.
 */

static void monitor_time(uint64_t usec, char *buf, size_t len)
{
	time_t t = (time_t)(usec / 1000000u);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, len, "?");
	else
		snprintf(buf + strlen(buf), len - strlen(buf), ".%06uZ",
			 (unsigned)(usec % 1000000u));
}

static void monitor_json(const struct svm_event *ev, const char *when)
{
	printf("{\"time\":\"%s\",\"event\":", when);
	json_string(ev->record);
	printf(",\"op\":");
	json_string(ev->op);
	printf(",\"device\":");
	if (ev->device)
		json_string(ev->device);
	else
		printf("null");
	printf(",\"pasid\":%u,\"binding\":", ev->pasid);
	if (ev->binding)
		printf("%" PRIu64, ev->binding);
	else
		printf("null");
	printf(",\"uid\":%u,\"pid\":%d,\"generation\":%" PRIu64 ",\"error\":%d,\"ended\":", ev->uid,
	       ev->pid, ev->generation, ev->error);
	if (ev->reason && svm_end_name(ev->reason))
		json_string(svm_end_name(ev->reason));
	else
		printf("null");
	printf(",\"reason\":");
	json_string(ev->text ? ev->text : "");
	printf("}\n");
}

static void on_monitor_event(struct svm_client *c, const struct svm_event *ev, void *userdata)
{
	const struct args *a = userdata;
	char when[48];

	(void)c;
	if (ev->type != SVM_EVENT_RECORD)
		return;
	monitor_time(ev->usec, when, sizeof(when));
	if (a->json) {
		monitor_json(ev, when);
	} else {
		printf("%s %s %s", when, ev->record, ev->op);
		if (ev->device)
			printf(" device=%s", ev->device);
		if (ev->pasid)
			printf(" pasid=%u", ev->pasid);
		if (ev->binding)
			printf(" binding=%" PRIu64, ev->binding);
		printf(" uid=%u pid=%d generation=%" PRIu64, ev->uid, ev->pid, ev->generation);
		if (ev->error)
			printf(" error=%s", strerror(ev->error));
		if (ev->reason && svm_end_name(ev->reason))
			printf(" ended=%s", svm_end_name(ev->reason));
		if (ev->text && ev->text[0])
			printf(": %s", ev->text);
		printf("\n");
	}
	fflush(stdout);
}

static int cmd_monitor(struct svm_client *c, const struct args *a)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct pollfd pfd = {.fd = svm_fd(c), .events = POLLIN};
	sigset_t block, empty;
	int r;

	svm_set_event_handler(c, on_monitor_event, (void *)a);
	r = svm_subscribe(c);
	if (r < 0)
		return fail(r, c, "monitor");
	/* On stderr, so that stdout holds the records alone. */
	fprintf(stderr, "Monitoring svmd's records (%s); press Ctrl-C to stop.\n",
		getuid() == 0 ? "every user's" : "your own and reloads");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	for (bool first = true; !got_signal; first = false) {
		/* First what came with SUBSCRIBE's reply, then as it comes. */
		int n = first ? 1 : ppoll(&pfd, 1, NULL, &empty);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return 1;
		}
		if (n <= 0)
			continue;
		r = svm_dispatch(c, 0);
		if (r < 0) {
			if (r == -ECONNRESET && a->bus && svm_reason(c) && svm_reason(c)[0])
				/* svmd left the bus, or ended the subscription: its words. */
				fprintf(stderr, "%s: monitor: %s.\n", prog, svm_reason(c));
			else if (r == -ECONNRESET)
				fprintf(stderr,
					"%s: monitor: svmd closed the connection (it stopped, or "
					"this monitor fell 64 records behind).\n",
					prog);
			else
				fprintf(stderr, "%s: monitor: %s\n", prog, svm_strerror(r));
			return 1;
		}
	}
	return 0;
}

static int parse_vtd_flags(const char *s, uint64_t *ret)
{
	static const char *const names[] = {"sre", "eafe", "pcd", "pwt", "emte", "cd"};
	char buf[128], *save = NULL;
	uint64_t v = 0;

	if (isdigit((unsigned char)s[0])) {
		char *end;
		errno = 0;
		v = strtoull(s, &end, 0);
		if (errno || *end || v > 0x3f)
			return -EINVAL;
		*ret = v;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < ELEMENTSOF_(names) && strcmp(t, names[i]) != 0; i++)
			;
		if (i == ELEMENTSOF_(names))
			return -EINVAL;
		v |= 1ull << i;
	}
	*ret = v;
	return 0;
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || v > max) {
		fprintf(stderr, "%s: --%s: invalid number '%s'.\n", prog, opt, s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* A PASID: 20 bits, min to 0xfffff (PCIe's PASID width; PASID 0 is the device's own). */
static int parse_pasid(const char *opt, const char *s, uint64_t min, uint64_t *ret)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || v < min || v > 0xfffff) {
		fprintf(stderr,
			"%s: --%s takes a PASID from %" PRIu64
			" to 1048575 (0xfffff, 20 bits), not '%s'.\n",
			prog, opt, min, s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* A number of bytes, with an optional K, M, G or T (1024-based). */
static int parse_size_arg(const char *opt, const char *s, uint64_t *ret)
{
	static const char units[] = "KMGT";
	size_t n = strlen(s);
	const char *u = n > 1 ? strchr(units, s[n - 1]) : NULL;
	unsigned shift = u && *u ? 10 * (unsigned)(u - units + 1) : 0;
	char num[32];

	if (n >= sizeof(num))
		return parse_u64(opt, s, UINT64_MAX, ret);
	snprintf(num, sizeof(num), "%.*s", (int)(shift ? n - 1 : n), s);
	if (parse_u64(opt, num, UINT64_MAX >> shift, ret) < 0)
		return -EINVAL;
	*ret <<= shift;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	enum {
		OPT_SOCKET = 0x100,
		OPT_JSON,
		OPT_HOLD,
		OPT_PID,
		OPT_PASID,
		OPT_GPASID,
		OPT_PGD,
		OPT_ADDR_WIDTH,
		OPT_PTR,
		OPT_SIZE,
		OPT_MODEL,
		OPT_USER,
		OPT_VTD_FLAGS,
		OPT_IOVA,
		OPT_READ_ONLY,
		OPT_VSID,
		OPT_S1FMT,
		OPT_S1CDMAX,
		OPT_BUS,
		OPT_VERSION,
		OPT_HELP,
		OPT_NO_LEGEND,
		OPT_PROPERTY,
	};
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, OPT_SOCKET},
		{"json", optional_argument, NULL, OPT_JSON},
		{"hold", no_argument, NULL, OPT_HOLD},
		{"pid", required_argument, NULL, OPT_PID},
		{"pasid", required_argument, NULL, OPT_PASID},
		{"gpasid", required_argument, NULL, OPT_GPASID},
		{"pgd", required_argument, NULL, OPT_PGD},
		{"addr-width", required_argument, NULL, OPT_ADDR_WIDTH},
		{"ptr", required_argument, NULL, OPT_PTR},
		{"size", required_argument, NULL, OPT_SIZE},
		{"model", required_argument, NULL, OPT_MODEL},
		{"user", required_argument, NULL, OPT_USER},
		{"vtd-flags", required_argument, NULL, OPT_VTD_FLAGS},
		{"iova", required_argument, NULL, OPT_IOVA},
		{"read-only", no_argument, NULL, OPT_READ_ONLY},
		{"vsid", required_argument, NULL, OPT_VSID},
		{"s1fmt", required_argument, NULL, OPT_S1FMT},
		{"s1cdmax", required_argument, NULL, OPT_S1CDMAX},
		{"bus", optional_argument, NULL, OPT_BUS},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, OPT_HELP},
		{"no-legend", no_argument, NULL, OPT_NO_LEGEND},
		{"property", required_argument, NULL, OPT_PROPERTY},
		{},
	};
	uint64_t v;
	int c, end = argc;

	/* What follows "--" is the command to run: hide it from getopt, which would permute. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			end = i;
			break;
		}
	if (end < argc) {
		if (end + 1 >= argc) {
			fprintf(stderr, "%s: nothing to run after '--'.\n", prog);
			return -EINVAL;
		}
		a->cmd = argv + end + 1;
	}

	a->pasid = a->gpasid = a->vsid = -1;
	while ((c = getopt_long(end, argv, "hVp:", longopts, NULL)) >= 0) {
		switch (c) {
		case OPT_SOCKET:
			a->socket = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			if (optarg && strcmp(optarg, "pretty") == 0)
				a->pretty = true;
			else if (optarg && strcmp(optarg, "short") != 0) {
				fprintf(stderr, "%s: --json takes short or pretty, not '%s'.\n",
					prog, optarg);
				return -EINVAL;
			}
			break;
		case OPT_BUS:
			a->bus = true;
			a->bus_address = optarg;
			break;
		case OPT_HOLD:
			a->hold = true;
			break;
		case OPT_PID:
			if (parse_u64("pid", optarg, INT32_MAX, &v) < 0 || v == 0)
				return -EINVAL;
			a->pid = (long)v;
			break;
		case OPT_PASID:
			if (parse_pasid("pasid", optarg, 1, &v) < 0)
				return -EINVAL;
			a->pasid = (int64_t)v;
			break;
		case OPT_GPASID:
			if (parse_pasid("gpasid", optarg, 0, &v) < 0)
				return -EINVAL;
			a->gpasid = (int64_t)v;
			break;
		case OPT_PGD:
			if (parse_u64("pgd", optarg, UINT64_MAX, &a->pgd) < 0)
				return -EINVAL;
			a->have_pgd = true;
			break;
		case OPT_ADDR_WIDTH:
			if (parse_u64("addr-width", optarg, 64, &v) < 0)
				return -EINVAL;
			a->addr_width = (uint32_t)v;
			break;
		case OPT_VSID:
			if (parse_u64("vsid", optarg, UINT32_MAX, &v) < 0)
				return -EINVAL;
			a->vsid = (int64_t)v;
			break;
		case OPT_S1FMT:
			if (parse_u64("s1fmt", optarg, 2, &v) < 0)
				return -EINVAL;
			a->s1fmt = (uint8_t)v;
			break;
		case OPT_S1CDMAX:
			if (parse_u64("s1cdmax", optarg, 20, &v) < 0)
				return -EINVAL;
			a->s1cdmax = (uint8_t)v;
			break;
		case OPT_PTR:
			if (parse_u64("ptr", optarg, UINT64_MAX, &a->ptr) < 0)
				return -EINVAL;
			a->have_ptr = true;
			break;
		case OPT_SIZE:
			if (parse_size_arg("size", optarg, &a->size) < 0)
				return -EINVAL;
			a->have_size = true;
			break;
		case OPT_MODEL:
			if (strcmp(optarg, "vtd") == 0)
				a->model = SVM_MODEL_VTD;
			else if (strcmp(optarg, "smmu") == 0)
				a->model = SVM_MODEL_SMMU;
			else {
				fprintf(stderr, "%s: --model takes vtd or smmu, not '%s'.\n", prog,
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_USER:
			a->user = optarg;
			break;
		case OPT_IOVA:
			if (parse_u64("iova", optarg, UINT64_MAX, &a->iova) < 0)
				return -EINVAL;
			a->have_iova = true;
			break;
		case OPT_READ_ONLY:
			a->read_only = true;
			break;
		case OPT_NO_LEGEND:
			a->no_legend = true;
			break;
		case 'p':
		case OPT_PROPERTY:
			a->properties = optarg;
			break;
		case OPT_VTD_FLAGS:
			if (parse_vtd_flags(optarg, &a->vtd_flags) < 0) {
				fprintf(stderr,
					"%s: --vtd-flags takes sre, eafe, pcd, pwt, emte, cd "
					"(comma "
					"separated) or a number up to 0x3f, not '%s'.\n",
					prog, optarg);
				return -EINVAL;
			}
			break;
		case 'V':
		case OPT_VERSION:
			printf("svmctl " SVMD_VERSION_STRING "\n");
			return 0;
		case 'h':
		case OPT_HELP:
			help();
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return -EINVAL;
		}
	}
	a->pos = argv + optind;
	a->n_pos = end - optind;
	return 1;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int n_pos;
		int kind; /* for binds */
	} cmds[] = {
		{"devices", 0, 0},
		{"list", 0, 0},
		{"bind-task", 1, SVM_KIND_TASK},
		{"bind-pgtable", 1, SVM_KIND_PGTABLE},
		{"bind-pasid-table", 1, SVM_KIND_PASID_TABLE},
		{"open-device", 1, SVM_KIND_DEVICE},
		{"map", 1, SVM_KIND_MAP},
		{"unbind", 1, 0},
		{"reload", 0, 0},
		{"explain", -2, 0}, /* 1 or 2 */
		{"monitor", 0, 0},
		{"status", 0, 0},
		{"show", 1, 0},
		{"policy", 0, 0},
		{"metrics", 0, 0},
		{"invalidate", -(int)(SVM_INVALIDATE_ENTRIES_MAX + 1), 0},
	};
	struct args a = {0};
	struct svm_client *c = NULL;
	size_t i;
	int r;

	raw_stdout = stdout;
	r = parse_args(argc, argv, &a);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	if (a.n_pos == 0) {
		fprintf(stderr, "%s: no command given. Try '%s --help'.\n", prog, prog);
		return 1;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(a.pos[0], cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "%s: unknown command '%s'. Try '%s --help'.\n", prog, a.pos[0],
			prog);
		return 1;
	}
	if (cmds[i].n_pos < 0 ? a.n_pos - 1 < 1 || a.n_pos - 1 > -cmds[i].n_pos
			      : a.n_pos - 1 != cmds[i].n_pos) {
		if (cmds[i].n_pos < 0)
			fprintf(stderr, "%s: %s takes 1 to %d arguments. Try '%s --help'.\n", prog,
				cmds[i].name, -cmds[i].n_pos, prog);
		else
			fprintf(stderr, "%s: %s takes %d argument%s. Try '%s --help'.\n", prog,
				cmds[i].name, cmds[i].n_pos, cmds[i].n_pos == 1 ? "" : "s", prog);
		return 1;
	}
	if (a.cmd && !cmds[i].kind) {
		fprintf(stderr, "%s: %s does not run a command.\n", prog, cmds[i].name);
		return 1;
	}
	a.pos++;
	a.n_pos--;
	json_errors = a.json;
	if (a.pretty && json_pretty_start() < 0) {
		fprintf(stderr, "%s: --json=pretty: %s\n", prog, strerror(errno));
		return 1;
	}
	/* A device as lspci prints it, or in upper case, is said back (and given to CMD) as svmd
	 * spells it; anything else goes to svmd, which says why it is no device. */
	static char canon[SVMD_DEVICE_NAME_SZ];
	int dev_arg = strcmp(cmds[i].name, "explain") == 0 ? 1 : 0;
	if ((cmds[i].kind || strcmp(cmds[i].name, "explain") == 0) && a.n_pos > dev_arg &&
	    svmd_device_name_canonical(a.pos[dev_arg], canon) == 0)
		a.pos[dev_arg] = canon;

	if (a.bus && a.socket) {
		fprintf(stderr, "%s: give --socket or --bus, not both.\n", prog);
		return 1;
	}
	if (a.bus) {
		r = svm_connect_bus(a.bus_address, &c);
		if (r < 0) {
			fprintf(stderr, "%s: cannot talk to svmd on the %s bus: %s\n", prog,
				a.bus_address ? a.bus_address : "system",
				c ? svm_reason(c)
				: r == -ENOENT || r == -ECONNREFUSED
					? "no such bus (is it running?)"
					: strerror(-r));
			return 1;
		}
	} else {
		r = svm_connect(a.socket, &c);
		if (r < 0) {
			const char *path = a.socket ? a.socket : getenv("SVMD_SOCKET");
			path = path && *path ? path : SVM_DEFAULT_SOCKET;
			if (a.json)
				json_error(r, r == -EACCES || r == -EPERM
						      ? "permission denied on the socket"
					      : r == -ENOENT ? "no such socket (is svmd running?)"
							     : NULL);
			if (r == -EACCES || r == -EPERM)
				/* The file's mode, not svmd's policy: svmd never saw us. */
				fprintf(stderr,
					"%s: cannot talk to svmd at %s: permission denied on the "
					"socket or a directory above it (its file mode, not svmd's "
					"policy: see 'ls -ld %s')\n",
					prog, path, path);
			else
				fprintf(stderr, "%s: cannot talk to svmd at %s: %s\n", prog, path,
					r == -ENOENT ? "no such socket (is svmd running?)"
						     : svm_strerror(r));
			return 1;
		}
	}
	if (cmds[i].kind == SVM_KIND_MAP)
		r = cmd_map(c, &a);
	else if (cmds[i].kind)
		r = cmd_bind(c, &a, cmds[i].kind);

	else if (strcmp(cmds[i].name, "devices") == 0)
		r = cmd_devices(c, &a);
	else if (strcmp(cmds[i].name, "list") == 0)
		r = cmd_list(c, &a);
	else if (strcmp(cmds[i].name, "unbind") == 0)
		r = cmd_unbind(c, &a);
	else if (strcmp(cmds[i].name, "reload") == 0)
		r = cmd_reload(c, &a);
	else if (strcmp(cmds[i].name, "monitor") == 0)
		r = cmd_monitor(c, &a);
	else if (strcmp(cmds[i].name, "invalidate") == 0)
		r = cmd_invalidate(c, &a);
	else if (strcmp(cmds[i].name, "status") == 0)
		r = cmd_status(c, &a);
	else if (strcmp(cmds[i].name, "show") == 0)
		r = cmd_show(c, &a);
	else if (strcmp(cmds[i].name, "policy") == 0)
		r = cmd_policy(c, &a);
	else if (strcmp(cmds[i].name, "metrics") == 0)
		r = cmd_metrics(c);
	else
		r = cmd_explain(c, &a);
	svm_disconnect(c);
	return r;
}
