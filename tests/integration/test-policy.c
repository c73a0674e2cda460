/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine end to end: reloads (by root, by allowed users, by SIGHUP, broken trees,
 * under load), what a reload does to live bindings, the limits, unit= and exe= on real
 * processes, explain over the socket, and the audit fields.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define DEV "0000:3b:00.0" /* the simulator's VT-d device: task, pgtable, pasid-table */

static struct daemon d;
static struct test_user u1, u2;

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Starts the daemon with policy as DIR/policy/50-test.policy. */
static void start(const char *policy)
{
	test_users(&u1, &u2);
	daemon_start(&d, policy, NULL, NULL);
}

static void stop(void)
{
	daemon_stop(&d);
}

static struct svm_client *root_client(void)
{
	struct svm_client *c = NULL;

	cr_assert_eq(svm_connect(d.socket, &c), 0);
	return c;
}

/* Reloads as root on a fresh connection; the reason (if refused) goes to why. */
static int root_reload(struct svm_reload_result *rr, char **text, char *why, size_t n)
{
	struct svm_client *c = root_client();
	int r = svm_reload(c, rr, text);

	if (why)
		snprintf(why, n, "%s", r < 0 && svm_reason(c) ? svm_reason(c) : "");
	svm_disconnect(c);
	return r;
}

/* "DIR/policy/NAME", where the daemon reads it from (rules name their file so). */
static const char *policy_path(const char *name)
{
	static char buf[4][192];
	static int slot;

	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof(buf[slot]), "%s/policy/%s", d.dir, name);
	return buf[slot];
}

/* The test binary: forked peers run it too, so it is their executable. */
static const char *self_exe(void)
{
	static char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	cr_assert_gt(n, 0);
	exe[n] = 0;
	return exe;
}

static const char *uid_field(uid_t uid)
{
	static char buf[4][32];
	static int slot;

	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof(buf[slot]), " UID=%u ", (unsigned)uid);
	return buf[slot];
}

#define LOG_LINE(...) ((const char *const[]){__VA_ARGS__, NULL})
/* Whether one line of the daemon's log holds every one of the strings. */
#define log_has(...) (daemon_log_count(&d, LOG_LINE(__VA_ARGS__)) > 0)

TestSuite(policy, .timeout = 60);

/* ---- reload ------------------------------------------------------------------------------ */

Test(policy, reload_applies_new_rules_to_new_requests, .fini = stop)
{
	struct peer p;
	struct peer_result r;
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024];

	start("allow bind-pgtable user=svmd-test1 device=" DEV " pasid=100-199\n");
	peer_start(&p, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 250, 0x10000, &r), -EACCES);
	cr_assert(strstr(r.reason, "no rule matched"), "%s", r.reason);

	daemon_write_policy(&d, "60-extra.policy",
			    "# svmd-test2's guests\n"
			    "allow bind-pgtable user=svmd-test2 device=" DEV " pasid=200-299\n");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 2);
	cr_assert_eq(rr.n_files, 2);
	cr_assert_eq(rr.n_rules, 2);
	cr_assert_eq(rr.n_warnings, 0);
	cr_assert_eq(rr.n_denied, 0);
	cr_assert_eq(rr.n_revoked, 0);
	cr_assert_not_null(text);
	cr_assert_str_eq(text, "");
	free(text);

	/* The same connection: a new request is decided by the new policy. */
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 250, 0x10000, &r), 0, "%s", r.reason);
	cr_assert(log_has("EVENT=grant", uid_field(u2.uid), "GENERATION=2",
			  "RULE=", "60-extra.policy:2"));
	cr_assert(log_has("EVENT=reload", "RESULT=ok", "GENERATION=2", "2 rules from 2 files"));
	cr_assert(log_has("EVENT=deny", uid_field(u2.uid), "GENERATION=1", "RULE=none"));

	/* Every reload is a new generation, changed or not. */
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 3);
	daemon_remove_policy(&d, "60-extra.policy");
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 4);
	cr_assert_eq(rr.n_files, 1);
	cr_assert_eq(rr.n_rules, 1);
	/* The binding made under generation 2 is no longer granted, but kept. */
	cr_assert_eq(rr.n_denied, 1);
	cr_assert_eq(rr.n_revoked, 0);
	cr_assert_eq(count_bindings(&d), 1);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 251, 0x10000, &r), -EACCES);
	peer_stop(&p);
}

/* A policy with warnings is swapped in; the reply lists them with file:line:col. */
Test(policy, reload_reports_warnings, .fini = stop)
{
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024], want[512];

	start("allow bind-task user=svmd-test1\n");
	daemon_write_policy(&d, "60-extra.policy", "allow * user=no-such-user-here pasid=auto\n");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 2);
	cr_assert_eq(rr.n_warnings, 3, "%s", text);
	snprintf(want, sizeof(want),
		 "%s:1:14: warning: unknown user 'no-such-user-here': this entry never matches\n",
		 policy_path("60-extra.policy"));
	cr_assert(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want),
		 "%s:1:1: warning: pasid= does not apply to open-device: this rule never "
		 "matches open-device\n",
		 policy_path("60-extra.policy"));
	cr_assert(strstr(text, want), "%s", text);
	free(text);
}

/* A reload that finds no rules (every file gone) puts a deny-all policy in force: the reloader is
 * told so in words, over the socket and in the log of a SIGHUP, as at start-up. */
Test(policy, reload_to_no_rules_says_everything_is_denied, .fini = stop)
{
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024];

	start("allow bind-task user=svmd-test1\n");
	daemon_remove_policy(&d, "50-test.policy");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.n_rules, 0);
	cr_assert(text && strstr(text, "warning: the policy has no rules (0 files): every request "
				       "will be denied"),
		  "%s", text ? text : "(no text)");
	free(text);
	kill(d.pid, SIGHUP);
	cr_assert(daemon_log_wait(&d, "the policy has no rules (0 files)", 3000),
		  "a SIGHUP to a deny-all policy said nothing of it");
}

/* A reload runs under the seccomp filter: sorting many file names and asking the name service
 * for users and groups must need nothing it refuses. */
Test(policy, reload_of_many_files_within_the_sandbox, .fini = stop)
{
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024], name[64];

	start("allow bind-task user=svmd-test1\n");
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "%02d-many-files-%d.policy", i, i);
		daemon_write_policy(&d, name,
				    "deny open-device user=svmd-test2 group=svmd-testgrp\n");
	}
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.n_files, 81);
	cr_assert(!daemon_log_has(&d, "seccomp: refused"), "the filter refused a system call");
	free(text);
}

Test(policy, broken_tree_is_refused_and_the_old_policy_stays, .fini = stop)
{
	struct peer p1, p2;
	struct peer_result r;
	struct svm_reload_result rr = {0};
	char *text = NULL, why[2048], want[512];

	start("allow bind-pgtable user=svmd-test1 device=" DEV " pasid=100-199\n");
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 150, 0x10000, &r), 0, "%s", r.reason);

	/* Rules that would change decisions, around two errors. */
	daemon_write_policy(&d, "40-broken.policy",
			    "allow bind-pgtable user=svmd-test2\n"
			    "allow frob\n"
			    "deny * user=svmd-test1 colour=red\n"
			    "deny * user=svmd-test1\n");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "2 errors; the policy in force (generation 1) stays:"), "%s", why);
	snprintf(want, sizeof(want),
		 "%s:2:7: error: unknown operation 'frob' (want *, bind-task, bind-pgtable, "
		 "bind-pasid-table, open-device, map, reload, invalidate, policy or metrics)",
		 policy_path("40-broken.policy"));
	cr_assert(strstr(why, want), "%s", why);
	snprintf(want, sizeof(want), "%s:3:24: error: unknown key 'colour' (see svmd.policy(5))",
		 policy_path("40-broken.policy"));
	cr_assert(strstr(why, want), "%s", why);
	cr_assert(log_has("EVENT=reload", "RESULT=error", "ERRNO=22", "GENERATION=1",
			  "40-broken.policy:2:7"));

	/* The old policy still decides, nothing of the broken tree does. */
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 151, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p2, DEV, 152, 0x10000, &r), -EACCES);
	cr_assert(strstr(r.reason, "no rule matched"), "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 2);
	struct svm_client *c = root_client();
	struct svm_explain_request x = {
		.op = "bind-pgtable", .device = DEV, .pasid = 150, .uid = u1.uid};
	bool allowed = false;
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert(allowed, "%s", text);
	cr_assert(strstr(text, "policy generation 1:"), "%s", text);
	cr_assert_null(strstr(text, "40-broken"), "%s", text);
	free(text);

	/* A file that cannot be read is refused too. */
	daemon_remove_policy(&d, "40-broken.policy");
	char dir[192];
	snprintf(dir, sizeof(dir), "%s", policy_path("45-dir.policy"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(svm_reload(c, &rr, NULL), -EINVAL);
	cr_assert(strstr(svm_reason(c), "45-dir.policy: cannot read"), "%s", svm_reason(c));
	cr_assert_eq(rmdir(dir), 0);

	/* Fixed: the next reload goes through, as generation 2 (refusals used none). */
	cr_assert_eq(svm_reload(c, &rr, NULL), 0, "%s", svm_reason(c));
	cr_assert_eq(rr.generation, 2);
	cr_assert_eq(rr.n_denied, 0);
	svm_disconnect(c);
	peer_stop(&p1);
	peer_stop(&p2);
}

Test(policy, reload_needs_root_or_an_allow_reload_rule, .fini = stop)
{
	struct peer p1, p2;
	struct peer_result r;
	struct svm_reload_result rr;
	char why[1024], want[512];

	/* '*' does not include reload. */
	start("allow * user=svmd-test1\n"
	      "allow reload user=svmd-test2\n");
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_reload(&p1, &r), -EACCES);
	cr_assert(strstr(r.reason, "no rule matched (default deny)"), "%s", r.reason);
	/* A refused reload leaves a trace too. */
	cr_assert(log_has("EVENT=deny", uid_field(u1.uid), "OP=reload", "ERRNO=13"));
	cr_assert_eq(peer_reload(&p2, &r), 0, "%s", r.reason);
	cr_assert_eq(r.id, 2); /* the generation */
	cr_assert(log_has("EVENT=reload", uid_field(u2.uid), "RESULT=ok", "GENERATION=2"));

	/* A deny ahead of it, named in the refusal. */
	daemon_write_policy(&d, "40-deny.policy", "deny reload user=svmd-test2\n");
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 3);
	cr_assert_eq(peer_reload(&p2, &r), -EACCES);
	snprintf(want, sizeof(want), "rule 'deny reload user=svmd-test2' (%s:1)",
		 policy_path("40-deny.policy"));
	cr_assert(strstr(r.reason, want), "%s", r.reason);
	cr_assert_eq(peer_reload(&p1, &r), -EACCES);

	/* root needs no rule, even against a deny naming it. */
	daemon_write_policy(&d, "40-deny.policy", "deny reload user=root\n");
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 4);
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 5);
	cr_assert_eq(peer_reload(&p2, &r), 0, "%s", r.reason);
	cr_assert_eq(r.id, 6);

	/* svmctl reload as a user without a rule. */
	char out[4096], err[4096];
	const char *argv[] = {build_path("svmctl"), "--socket", d.socket, "reload", NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 77, "%s%s",
		     out, err);
	cr_assert(strstr(err, "denied: no rule matched (default deny)"), "%s", err);
	cr_assert_eq(run_cmd(u2.uid, u2.gid, argv, out, sizeof(out), err, sizeof(err)), 0, "%s%s",
		     out, err);
	cr_assert(strstr(out, "Policy generation 7: 3 rules from 2 files; 0 bindings no longer "
			      "granted, 0 revoked."),
		  "%s", out);
	peer_stop(&p1);
	peer_stop(&p2);
}

Test(policy, reload_keeps_or_revokes_what_it_no_longer_grants, .fini = stop)
{
	struct peer p;
	struct peer_result r;
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024], want[512], id_field[64];
	const char *grant = "allow bind-pgtable user=svmd-test1 device=" DEV " pasid=100-199\n";

	start(grant);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 150, 0x10000, &r), 0, "%s", r.reason);
	uint64_t a = r.id;
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 160, 0x10000, &r), 0, "%s", r.reason);
	uint64_t b = r.id;

	/* Denied now, without revoke: counted, reported, kept. */
	daemon_write_policy(&d, "50-test.policy",
			    "deny bind-pgtable user=svmd-test1 pasid=150\n"
			    "allow bind-pgtable user=svmd-test1 device=" DEV " pasid=160-199\n");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 2);
	cr_assert_eq(rr.n_denied, 1);
	cr_assert_eq(rr.n_revoked, 0);
	snprintf(want, sizeof(want),
		 "binding %" PRIu64 " (bind-pgtable " DEV " PASID 150, uid %u) no longer granted: "
		 "rule 'deny bind-pgtable user=svmd-test1 pasid=150' (%s:1)\n",
		 a, (unsigned)u1.uid, policy_path("50-test.policy"));
	cr_assert(strstr(text, want), "%s", text);
	free(text);
	cr_assert_eq(count_bindings(&d), 2);
	cr_assert_eq(peer_count(&p, &r), 0);
	cr_assert_eq(r.id, 2);

	/* With revoke: ended, audited as such. */
	daemon_write_policy(&d, "50-test.policy",
			    "deny bind-pgtable user=svmd-test1 pasid=150 revoke\n"
			    "allow bind-pgtable user=svmd-test1 device=" DEV " pasid=160-199\n");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.generation, 3);
	cr_assert_eq(rr.n_denied, 1);
	cr_assert_eq(rr.n_revoked, 1);
	snprintf(want, sizeof(want),
		 "binding %" PRIu64 " (bind-pgtable " DEV " PASID 150, uid %u) revoked: ", a,
		 (unsigned)u1.uid);
	cr_assert(strstr(text, want), "%s", text);
	free(text);
	cr_assert_eq(count_bindings(&d), 1);
	snprintf(id_field, sizeof(id_field), "BINDING=%" PRIu64 " ", a);
	cr_assert(log_has("EVENT=release", id_field, "GENERATION=3",
			  "REASON=\"revoked by the reloaded policy\""));
	cr_assert_eq(peer_count(&p, &r), 0);
	cr_assert_eq(r.id, 1);

	/* No rule at all: "no rule matched", kept. */
	daemon_write_policy(&d, "50-test.policy", "# nothing\n");
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.n_denied, 1);
	cr_assert_eq(rr.n_revoked, 0);
	cr_assert_eq(rr.n_rules, 0);
	snprintf(want, sizeof(want),
		 "binding %" PRIu64 " (bind-pgtable " DEV " PASID 160, uid %u) no longer granted: "
		 "no rule matched\n",
		 b, (unsigned)u1.uid);
	cr_assert(strstr(text, want), "%s", text);
	free(text);
	cr_assert_eq(count_bindings(&d), 1);

	/* Granted again under a rule with max=1: the live binding counts against it. (Not the
	 * first rule of the file, so it does not sit where a rule of an earlier generation
	 * was.) */
	daemon_write_policy(&d, "50-test.policy",
			    "allow bind-task user=svmd-test2\n"
			    "allow bind-task user=svmd-test2 device=0000:3c:00.0\n"
			    "allow bind-pgtable user=svmd-test1 device=" DEV
			    " pasid=100-199 max=1\n");
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.n_denied, 0);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 170, 0x10000, &r), -EDQUOT);
	cr_assert(strstr(r.reason, "max=1"), "%s", r.reason);
	cr_assert_eq(peer_unbind(&p, b, &r), 0, "%s", r.reason);
	/* PASID 150 was given back to the kernel when its binding was revoked. */
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 150, 0x10000, &r), 0, "%s", r.reason);
	peer_stop(&p);
	cr_assert(wait_bindings(&d, 0, 2000));
}

/* Waits up to timeout_ms for a notify message holding needle; false if none came. */
static bool notify_wait(int fd, const char *needle, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char msg[4096];

	while (poll(&pfd, 1, timeout_ms) == 1) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		if (n < 0)
			return false;
		msg[n] = 0;
		if (strstr(msg, needle))
			return true;
	}
	return false;
}

/* What systemd shows after a reload says what is in force, even when the reload was refused. */
Test(policy, sighup_refreshes_the_status, .fini = stop)
{
	char dir[] = "/tmp/svmd-nt.XXXXXX", env[128];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	test_users(&u1, &u2);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sa.sun_path);
	const char *const envv[] = {env, NULL};
	daemon_start_env(&d, "allow bind-task user=svmd-test1\n", NULL, NULL, envv);
	cr_assert(notify_wait(fd, "policy generation 1", 5000));
	daemon_write_policy(&d, "60-extra.policy", "allow frob\n");
	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	cr_assert(notify_wait(fd, "RELOADING=1", 5000));
	cr_assert(notify_wait(fd, "READY=1", 5000));
	cr_assert(
		notify_wait(fd, "STATUS=Serving 0 clients, 0 bindings; policy generation 1.", 3000),
		"the status was not refreshed after the reload");
	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
}

Test(policy, sighup_reloads, .fini = stop)
{
	struct peer p;
	struct peer_result r;

	start("allow bind-pgtable user=svmd-test1 device=" DEV " pasid=100-199\n");
	peer_start(&p, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 250, 0x10000, &r), -EACCES);
	daemon_write_policy(&d, "60-extra.policy",
			    "allow bind-pgtable user=svmd-test2 device=" DEV " pasid=200-299\n");
	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	cr_assert(
		daemon_log_wait_all(
			&d, LOG_LINE("EVENT=reload", "UID=0 ", "RESULT=ok", "GENERATION=2"), 5000),
		"no reload in the audit trail");
	cr_assert(daemon_log_has(&d, "Policy reloaded: generation 2, 2 rules from 2 files"));
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 250, 0x10000, &r), 0, "%s", r.reason);

	/* A broken tree on SIGHUP: refused, logged, generation 2 stays. */
	daemon_write_policy(&d, "60-extra.policy", "allow frob\n");
	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	cr_assert(daemon_log_wait_all(
		&d, LOG_LINE("EVENT=reload", "RESULT=error", "ERRNO=22", "GENERATION=2"), 5000));
	cr_assert(daemon_log_has(&d, "Policy reload refused"));
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 251, 0x10000, &r), 0, "%s", r.reason);

	/* A FIFO among the files: refused at once, never waited on. */
	char fifo[192];
	daemon_remove_policy(&d, "60-extra.policy");
	snprintf(fifo, sizeof(fifo), "%s/policy/70-fifo.policy", d.dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	cr_assert(daemon_log_wait(&d, "70-fifo.policy: cannot read: not a regular file", 5000));
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 252, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(unlink(fifo), 0);
	peer_stop(&p);
}

/* ---- reload under load ------------------------------------------------------------------- */

struct load_report {
	unsigned binds, failures;
	int first_error;
	char first_reason[512];
};

/* Binds and unbinds in a loop as uid/gid until stop is readable; reports on out. */
static void load_client(int stop_fd, int out_fd, uid_t uid, gid_t gid)
{
	struct load_report rep = {0};
	struct svm_client *c = NULL;
	struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	rep.first_error = svm_connect(d.socket, &c);
	if (rep.first_error < 0) {
		rep.failures = 1;
		snprintf(rep.first_reason, sizeof(rep.first_reason), "connect failed");
	}
	while (c && poll(&pfd, 1, 0) == 0) {
		uint64_t id = 0;
		uint32_t pasid = 0;
		int k = svm_bind_task(c, DEV, -1, 0, &id, &pasid);
		if (k == 0)
			k = svm_unbind(c, id);
		if (k == 0) {
			rep.binds++;
			continue;
		}
		if (rep.failures++ == 0) {
			rep.first_error = k;
			snprintf(rep.first_reason, sizeof(rep.first_reason), "%s",
				 svm_reason(c) ? svm_reason(c) : "(no reason)");
		}
	}
	if (write(out_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(125);
	_exit(0);
}

/* The distinct GENERATION= values of uid's grants in the log. */
static unsigned grant_generations(uid_t uid)
{
	FILE *f = fopen(d.log, "re");
	char line[8192];
	bool seen[256] = {false};
	unsigned n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *g = strstr(line, " GENERATION=");
		unsigned gen;
		if (!strstr(line, "EVENT=grant") || !strstr(line, uid_field(uid)) || !g ||
		    sscanf(g, " GENERATION=%u", &gen) != 1 || gen >= 256)
			continue;
		if (!seen[gen])
			n++;
		seen[gen] = true;
	}
	fclose(f);
	return n;
}

/*
 * A client binds in a tight loop while the policy is reloaded 50 times, alternating trees that
 * compile and trees that do not. The broken tree denies the client before its error: had any
 * request been decided by a half-loaded policy, it would have failed. max=1 makes every
 * reload's recount of the live binding matter too.
 */
Test(policy, reload_under_load, .fini = stop)
{
	const char *broken = "deny * user=svmd-test1\n"
			     "allow frob\n";
	int stop_pipe[2], out_pipe[2], status;
	struct load_report rep;
	struct svm_client *c;
	int results[50];
	uint64_t generations[50];
	char reasons[50][256];
	unsigned n_good = 0;
	pid_t child;

	start("allow bind-task user=svmd-test1 device=" DEV " pasid=auto max=1\n");
	cr_assert_eq(pipe2(stop_pipe, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out_pipe, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0)
		load_client(stop_pipe[0], out_pipe[1], u1.uid, u1.gid);
	close(stop_pipe[0]);
	close(out_pipe[1]);

	c = root_client();
	sleep_ms(100); /* the client is up and binding */
	for (unsigned i = 0; i < 50; i++) {
		struct svm_reload_result rr = {0};
		switch (i % 4) {
		case 0: /* good: a rewritten extra file */
			daemon_write_policy(&d, "40-extra.policy",
					    i % 8 ? "deny * user=svmd-test2\n"
						  : "allow bind-task user=svmd-test2\n# another\n");
			break;
		case 2: /* good: no extra file */
			daemon_remove_policy(&d, "40-extra.policy");
			break;
		default:
			daemon_write_policy(&d, "40-extra.policy", broken);
			break;
		}
		results[i] = svm_reload(c, &rr, NULL);
		generations[i] = rr.generation;
		snprintf(reasons[i], sizeof(reasons[i]), "%s",
			 results[i] < 0 && svm_reason(c) ? svm_reason(c) : "");
		sleep_ms(20);
	}
	sleep_ms(100);
	cr_assert_eq(write(stop_pipe[1], "x", 1), 1);
	cr_assert_eq(read(out_pipe[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client status 0x%x", status);

	/* Every reload did exactly what its tree asked. */
	for (unsigned i = 0; i < 50; i++) {
		if (i % 2 == 0) {
			cr_assert_eq(results[i], 0, "reload %u: %d %s", i, results[i], reasons[i]);
			cr_assert_eq(generations[i], 2 + n_good, "reload %u", i);
			n_good++;
		} else {
			cr_assert_eq(results[i], -EINVAL, "reload %u of a broken tree: %d", i,
				     results[i]);
			cr_assert(strstr(reasons[i],
					 "40-extra.policy:2:7: error: unknown operation "
					 "'frob'"),
				  "reload %u: %s", i, reasons[i]);
		}
	}
	/* No request failed, and they spanned the reloads. */
	cr_assert_eq(rep.failures, 0, "%u of %u binds failed, first: %d %s", rep.failures,
		     rep.failures + rep.binds, rep.first_error, rep.first_reason);
	cr_assert_gt(rep.binds, 100, "only %u binds", rep.binds);
	cr_assert_geq(grant_generations(u1.uid), 10, "binds under %u generations only",
		      grant_generations(u1.uid));
	cr_assert_eq(daemon_log_count(&d, LOG_LINE("EVENT=deny")), 0);
	cr_assert_eq(daemon_log_count(&d, LOG_LINE("EVENT=fail")), 0);
	cr_assert_eq(daemon_log_count(&d, LOG_LINE("EVENT=reload", "RESULT=ok")), 25);
	cr_assert_eq(daemon_log_count(&d, LOG_LINE("EVENT=reload", "RESULT=error")), 25);
	struct svm_reload_result rr = {0};
	daemon_remove_policy(&d, "40-extra.policy");
	cr_assert_eq(svm_reload(c, &rr, NULL), 0);
	cr_assert_eq(rr.generation, 27);
	cr_assert_eq(rr.n_denied, 0);
	svm_disconnect(c);
	cr_assert(wait_bindings(&d, 0, 2000));
}

/* ---- limits ------------------------------------------------------------------------------ */

Test(policy, rate_limit, .fini = stop)
{
	struct peer p1, p2;
	struct peer_result r;
	char want[512];
	const char *rule = "allow bind-pgtable user=svmd-test1,svmd-test2 device=" DEV
			   " pasid=100-199 rate=2/s";
	char policy[256];

	snprintf(policy, sizeof(policy), "%s\n", rule);
	start(policy);
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	uint64_t first = 0;
	for (uint32_t pasid = 100; pasid < 102; pasid++) {
		cr_assert_eq(peer_bind_pgtable(&p1, DEV, pasid, 0x10000, &r), 0, "PASID %u: %s",
			     pasid, r.reason);
		first = first ? first : r.id;
	}
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 102, 0x10000, &r), -EAGAIN);
	snprintf(want, sizeof(want),
		 "rate limit of 2/s for uid %u under rule '%s' (%s:1); try again in ",
		 (unsigned)u1.uid, rule, policy_path("50-test.policy"));
	cr_assert(strstr(r.reason, want), "%s\nwant: %s", r.reason, want);
	cr_assert(log_has("EVENT=deny", uid_field(u1.uid), "ERRNO=11", "VERDICT=deny",
			  "50-test.policy:1"));
	/* Unbinding gives no token back. */
	cr_assert_eq(peer_unbind(&p1, first, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 102, 0x10000, &r), -EAGAIN);
	/* The bucket is per uid. */
	cr_assert_eq(peer_bind_pgtable(&p2, DEV, 110, 0x10000, &r), 0, "%s", r.reason);
	/* A token comes back every half second. */
	sleep_ms(650);
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 102, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 103, 0x10000, &r), -EAGAIN);
	/* A reload that keeps the rule (moved down a line) keeps its buckets: no fresh tokens. */
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024];
	snprintf(policy, sizeof(policy), "# moved\n%s\n", rule);
	daemon_write_policy(&d, "50-test.policy", policy);
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	free(text);
	/* A fresh bucket would grant two in a row; the carried one (under a token, refilling at
	 * 2/s) grants at most one unless this took most of a second. */
	struct peer_result ra, rb;
	int a = peer_bind_pgtable(&p1, DEV, 103, 0x10000, &ra);
	int b = peer_bind_pgtable(&p1, DEV, 104, 0x10000, &rb);
	cr_assert(a == -EAGAIN || b == -EAGAIN, "two binds in a row after the reload: %d, %d", a,
		  b);
	const char *limited = a == -EAGAIN ? ra.reason : rb.reason;
	cr_assert(strstr(limited, "50-test.policy:2);"), "%s", limited);
	/* A changed rule is a new rule, with a full bucket: three in a row at 3/s. */
	snprintf(policy, sizeof(policy), "%.*s3/s\n", (int)strlen(rule) - 3, rule);
	daemon_write_policy(&d, "50-test.policy", policy);
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	free(text);
	for (uint32_t pasid = 105; pasid < 108; pasid++)
		cr_assert_eq(peer_bind_pgtable(&p1, DEV, pasid, 0x10000, &r), 0, "PASID %u: %s",
			     pasid, r.reason);
	/* The same rule twice: the first copy decides, and the bucket goes with it. */
	char twice[600];
	snprintf(twice, sizeof(twice), "%s%s", policy, policy);
	daemon_write_policy(&d, "50-test.policy", twice);
	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	free(text);
	a = peer_bind_pgtable(&p1, DEV, 108, 0x10000, &ra);
	b = peer_bind_pgtable(&p1, DEV, 109, 0x10000, &rb);
	cr_assert(a == -EAGAIN || b == -EAGAIN, "a duplicated rule refilled the bucket: %d, %d", a,
		  b);
	peer_stop(&p1);
	peer_stop(&p2);
}

Test(policy, max_device, .fini = stop)
{
	struct peer p1, p2;
	struct peer_result r;
	char want[512];
	const char *rule = "allow bind-pgtable user=svmd-test1,svmd-test2 device=" DEV
			   " pasid=100-199 max-device=1";
	char policy[512];

	snprintf(policy, sizeof(policy),
		 "%s\nallow bind-pgtable user=svmd-test2 device=" DEV " pasid=200-299\n", rule);
	start(policy);
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 150, 0x10000, &r), 0, "%s", r.reason);
	uint64_t first = r.id;
	/* Another user, the same device under the same rule. */
	cr_assert_eq(peer_bind_pgtable(&p2, DEV, 160, 0x10000, &r), -EDQUOT);
	snprintf(want, sizeof(want), DEV " already has 1 binding under rule '%s' (%s:1)", rule,
		 policy_path("50-test.policy"));
	cr_assert(strstr(r.reason, want), "%s\nwant: %s", r.reason, want);
	cr_assert(log_has("EVENT=deny", uid_field(u2.uid), "ERRNO=122", "VERDICT=deny"));
	cr_assert_eq(peer_bind_pgtable(&p1, DEV, 161, 0x10000, &r), -EDQUOT);
	/* Another rule counts apart. */
	cr_assert_eq(peer_bind_pgtable(&p2, DEV, 250, 0x10000, &r), 0, "%s", r.reason);
	/* Room again once the first is gone. */
	cr_assert_eq(peer_unbind(&p1, first, &r), 0);
	cr_assert_eq(peer_bind_pgtable(&p2, DEV, 160, 0x10000, &r), 0, "%s", r.reason);
	peer_stop(&p1);
	peer_stop(&p2);
}

/* ---- unit= and exe= on real processes ---------------------------------------------------- */

static char cg_slice[1200], cg_unit[1300];
static struct peer cg_in, cg_out;

/* The cgroup directory the daemon will read the peer's unit from (see process_units()): the
 * unified hierarchy unless the process sits at its root, else the name=systemd one. */
static bool cgroup_base(char *buf, size_t n, char *why, size_t whylen)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512], unified[512] = "", named[512] = "";
	bool has_unified = false, has_named = false;

	if (!f) {
		snprintf(why, whylen, "cannot read /proc/self/cgroup");
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(unified, sizeof(unified), "%s", line + 3);
			has_unified = true;
		} else if (strstr(line, ":name=systemd:")) {
			snprintf(named, sizeof(named), "%s", strstr(line, ":name=systemd:") + 14);
			has_named = true;
		}
	}
	fclose(f);
	if (has_unified && strcmp(unified, "/") != 0) {
		const char *mnt = access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0
					  ? "/sys/fs/cgroup/unified"
					  : "/sys/fs/cgroup";
		snprintf(buf, n, "%s%s", mnt, unified);
	} else if (has_named && access("/sys/fs/cgroup/systemd/cgroup.procs", F_OK) == 0) {
		snprintf(buf, n, "/sys/fs/cgroup/systemd%s", strcmp(named, "/") ? named : "");
	} else if (has_unified && access("/sys/fs/cgroup/cgroup.procs", F_OK) == 0) {
		snprintf(buf, n, "/sys/fs/cgroup");
	} else {
		snprintf(why, whylen, "no writable cgroup hierarchy the daemon reads units from");
		return false;
	}
	return true;
}

static void cgroup_cleanup(void)
{
	peer_stop(&cg_in);
	peer_stop(&cg_out);
	/* The peers are reaped: the directories are empty and go. */
	if (cg_unit[0])
		rmdir(cg_unit);
	if (cg_slice[0])
		rmdir(cg_slice);
	stop();
}

Test(policy, unit_rule_on_a_process_in_a_unit, .fini = cgroup_cleanup)
{
	struct peer_result r;
	char base[1100], why[256], procs[1400], pid[32], slice_name[64];

	start("allow bind-pgtable unit=svmd-app.service device=" DEV " pasid=100-199\n"
	      "allow bind-pgtable unit=svmdtest-*.slice device=" DEV " pasid=200-299\n");
	if (!cgroup_base(base, sizeof(base), why, sizeof(why)))
		cr_skip_test("unit= needs a cgroup to run a peer in: %s", why);
	snprintf(slice_name, sizeof(slice_name), "svmdtest-%d.slice", (int)getpid());
	snprintf(cg_slice, sizeof(cg_slice), "%s/%s", base, slice_name);
	snprintf(cg_unit, sizeof(cg_unit), "%s/svmd-app.service", cg_slice);
	if (mkdir(cg_slice, 0755) < 0 || mkdir(cg_unit, 0755) < 0) {
		int e = errno;
		if (e == EACCES || e == EROFS || e == EPERM)
			cr_skip_test("cannot create a cgroup under %s: %s", base, strerror(e));
		cr_assert_fail("mkdir %s: %s", cg_unit, strerror(e));
	}

	/* The peer moves into the unit before it connects: svmd resolves units then. */
	peer_start_paused(&cg_in, &d, u1.uid, u1.gid, 0);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_unit);
	snprintf(pid, sizeof(pid), "%d\n", (int)cg_in.pid);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", procs, strerror(errno));
	cr_assert_eq(write(fd, pid, strlen(pid)), (ssize_t)strlen(pid), "%s: %s", procs,
		     strerror(errno));
	close(fd);
	cr_assert_eq(peer_connect(&cg_in, &r), 0, "%s", r.reason);
	peer_start(&cg_out, &d, u1.uid, u1.gid, 0);

	cr_assert_eq(peer_bind_pgtable(&cg_in, DEV, 150, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&cg_in, DEV, 250, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&cg_out, DEV, 151, 0x10000, &r), -EACCES);
	cr_assert(strstr(r.reason, "no rule matched"), "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&cg_out, DEV, 251, 0x10000, &r), -EACCES);

	/* The grant says which unit and executable it went to. */
	char exe_field[600];
	snprintf(exe_field, sizeof(exe_field), " EXE=%s ", self_exe());
	cr_assert(log_has("EVENT=grant", "VERDICT=allow", " UNIT=svmd-app.service ", exe_field,
			  "GENERATION=1", "PASID=150"));
	cr_assert(log_has("EVENT=deny", "VERDICT=deny", exe_field, "PASID=151", "GENERATION=1"));
	cr_assert_not(log_has("EVENT=deny", "UNIT="));

	/* After a reload the unit is still known: it was resolved once, at connect. */
	daemon_write_policy(&d, "50-test.policy",
			    "allow bind-pgtable unit=svmd-app.service device=" DEV
			    " pasid=100-199 revoke-not-a-key=1\n");
	struct svm_reload_result rr;
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), -EINVAL);
	daemon_write_policy(&d, "50-test.policy",
			    "deny bind-pgtable unit=svmdtest-*.slice pasid=200-299 revoke\n"
			    "allow bind-pgtable unit=svmd-app.service device=" DEV
			    " pasid=100-199\n");
	cr_assert_eq(root_reload(&rr, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.n_denied, 1);
	cr_assert_eq(rr.n_revoked, 1); /* PASID 250, by the slice */
	cr_assert_eq(peer_bind_pgtable(&cg_in, DEV, 151, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 2);
}

Test(policy, exe_rule, .fini = stop)
{
	struct peer p;
	struct peer_result r;
	char policy[2048], out[4096], err[4096], want[1200];
	const char *exe = self_exe();

	if (strpbrk(exe, " \t#"))
		cr_skip_test("the test binary's path '%s' cannot be written in a policy", exe);
	snprintf(policy, sizeof(policy),
		 "allow bind-pgtable exe=/usr/bin/false exe=%s device=" DEV " pasid=100-199\n"
		 "allow bind-pgtable exe=/usr/bin/false device=" DEV " pasid=200-299\n"
		 "allow bind-pgtable exe=%sx device=" DEV " pasid=300-399\n",
		 exe, exe);
	start(policy);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 150, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 250, 0x10000, &r), -EACCES);
	cr_assert_eq(peer_bind_pgtable(&p, DEV, 350, 0x10000, &r), -EACCES);

	/* Another executable (svmctl), the same user: explain says what it runs. */
	const char *svmctl = build_path("svmctl");
	const char *argv[] = {svmctl,         "--socket", d.socket,      "explain",
			      "bind-pgtable", DEV,        "--pasid=150", NULL};
	/* A deny verdict is explain's exit status 77, as pkcheck's. */
	cr_assert_eq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 77, "%s",
		     err);
	snprintf(want, sizeof(want), "does not match: exe=/usr/bin/false exe=%s: caller runs %s\n",
		 exe, svmctl);
	cr_assert(strstr(out, want), "%s\nwant: %s", out, want);
	cr_assert(strstr(out, "verdict: deny (no rule matched: default deny)"), "%s", out);
	peer_stop(&p);
}

/* ---- explain over the socket ------------------------------------------------------------- */

Test(policy, explain_pgtable_widths_flags_and_reload, .fini = stop)
{
	struct svm_client *c;
	char *text = NULL, want[512];
	bool allowed = true;

	start("allow bind-pgtable user=svmd-test1 device=" DEV " pasid=100-199 addr-width=48 "
	      "vtd-flags=sre\n"
	      "allow reload user=svmd-test2\n");
	c = root_client();

	struct svm_explain_request x = {
		.op = "bind-pgtable",
		.device = DEV,
		.pasid = 150,
		.uid = u1.uid,
		.addr_width = 57,
		.vtd_flags = 0x1,
	};
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0, "%s", svm_reason(c));
	cr_assert_not(allowed);
	snprintf(want, sizeof(want),
		 "bind-pgtable on " DEV " (PASID 150) for uid %u, policy generation 1:\n",
		 (unsigned)u1.uid);
	cr_assert(strstr(text, want), "%s", text);
	cr_assert(strstr(text, "    does not match: addr-width=48: request asks for 57\n"), "%s",
		  text);
	cr_assert(strstr(text, "verdict: deny (no rule matched: default deny)\n"), "%s", text);
	free(text);

	x.addr_width = 48;
	x.vtd_flags = 0x5; /* SRE and PCD */
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert_not(allowed);
	cr_assert(strstr(text, "    does not match: vtd-flags=sre: request sets 0x5\n"), "%s",
		  text);
	free(text);

	x.vtd_flags = 0x1;
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert(allowed, "%s", text);
	snprintf(want, sizeof(want), "verdict: allow by %s:1\n", policy_path("50-test.policy"));
	cr_assert(strstr(text, "    matches: allow\n"), "%s", text);
	cr_assert(strstr(text, want), "%s", text);
	free(text);

	/* Reload: for a user with a rule, without one, and for root. */
	x = (struct svm_explain_request){.op = "reload", .pasid = -1, .uid = u2.uid};
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0, "%s", svm_reason(c));
	cr_assert(allowed, "%s", text);
	snprintf(want, sizeof(want), "reload for uid %u, policy generation 1:\n", (unsigned)u2.uid);
	cr_assert(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "verdict: allow by %s:2\n", policy_path("50-test.policy"));
	cr_assert(strstr(text, want), "%s", text);
	cr_assert_null(strstr(text, "bind-pgtable user"), "only reload rules are walked: %s", text);
	free(text);
	x.uid = u1.uid;
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert_not(allowed);
	snprintf(want, sizeof(want), "    does not match: user=svmd-test2: caller is uid %u\n",
		 (unsigned)u1.uid);
	cr_assert(strstr(text, want), "%s", text);
	free(text);
	x.uid = -1;
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), 0);
	cr_assert(allowed, "%s", text);
	cr_assert(strstr(text, "verdict: allow (root may always reload)\n"), "%s", text);
	free(text);
	/* Reload takes no device, the others need one. */
	x.device = DEV;
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), -EINVAL);
	x = (struct svm_explain_request){.op = "bind-task", .pasid = -1, .uid = -1};
	cr_assert_eq(svm_explain(c, &x, &text, &allowed), -EINVAL);
	svm_disconnect(c);

	/* The same through svmctl. */
	char out[4096], err[4096], uid_arg[32];
	snprintf(uid_arg, sizeof(uid_arg), "--user=%u", (unsigned)u1.uid);
	const char *argv[] = {build_path("svmctl"),  "--socket", d.socket,      "explain",
			      "bind-pgtable",        DEV,        "--pasid=150", "--addr-width=48",
			      "--vtd-flags=sre,pcd", uid_arg,    NULL};
	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 77, "%s", err);
	cr_assert(strstr(out, "does not match: vtd-flags=sre: request sets 0x5"), "%s", out);
	const char *argv2[] = {
		build_path("svmctl"), "--socket", d.socket, "explain", "reload", NULL};
	cr_assert_eq(run_cmd(u2.uid, u2.gid, argv2, out, sizeof(out), err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(strstr(out, "matches: allow"), "%s", out);
	cr_assert_eq(run_cmd(u1.uid, u1.gid, argv2, out, sizeof(out), err, sizeof(err)), 77, "%s",
		     err);
	cr_assert(strstr(out, "verdict: deny"), "%s", out);
}

/*
 * A task bind granted as pasid=auto is decided again, at each reload, as what it asked for
 * (auto), not as the PASID the kernel chose: an unchanged policy keeps it, counted under the
 * same rule, so its max= still holds afterwards.
 */
Test(policy, reload_decides_auto_task_binds_as_asked, .fini = stop)
{
	struct peer p1, p2;
	struct peer_result r;
	struct svm_reload_result rr = {0};
	char *text = NULL, why[1024];

	start("allow bind-task user=svmd-test1 device=0000:3b:00.0 pasid=auto max=1\n"
	      "deny * revoke\n");
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p1, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_geq(r.pasid, 1);
	cr_assert_eq(peer_bind_task(&p2, "0000:3b:00.0", -1, 0, &r), -EDQUOT, "%s", r.reason);

	cr_assert_eq(root_reload(&rr, &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rr.n_denied, 0, "%s", text);
	cr_assert_eq(rr.n_revoked, 0, "%s", text);
	free(text);
	cr_assert_eq(count_bindings(&d), 1, "the reload took the binding back");
	/* Still counted under max=1. */
	cr_assert_eq(peer_bind_task(&p2, "0000:3b:00.0", -1, 0, &r), -EDQUOT, "%s", r.reason);
	peer_stop(&p1);
	peer_stop(&p2);
}
