/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the policy engine (daemon/policy.c): decisions table by table, the good and the
 * bad corpus with their exact diagnostics, explain steps, the per-op indices and op names.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define FILE_NAME "t.policy"

#define ALICE 1001
#define BOB   1002
#define CAROL 1003 /* known to nobody: not in the resolver */
#define USERS 100  /* everybody's primary group unless a row says otherwise */
#define ACCEL 2001
#define VIDEO 2002

#define DEV0 "0000:3b:00.0"

/* The fake name service: alice, bob, groups accel and video; "oom" fails as out of memory. */
struct resolver_calls {
	unsigned users, groups;
};

static int fake_user(const char *name, uid_t *ret, void *userdata)
{
	struct resolver_calls *calls = userdata;

	if (calls)
		calls->users++;
	if (strcmp(name, "oom") == 0)
		return -ENOMEM;
	if (strcmp(name, "alice") == 0)
		*ret = ALICE;
	else if (strcmp(name, "bob") == 0)
		*ret = BOB;
	else
		return -ENOENT;
	return 0;
}

static int fake_group(const char *name, gid_t *ret, void *userdata)
{
	struct resolver_calls *calls = userdata;

	if (calls)
		calls->groups++;
	if (strcmp(name, "oom") == 0)
		return -ENOMEM;
	if (strcmp(name, "accel") == 0)
		*ret = ACCEL;
	else if (strcmp(name, "video") == 0)
		*ret = VIDEO;
	else
		return -ENOENT;
	return 0;
}

static const struct policy_resolver resolver = {fake_user, fake_group, NULL};

/* All diagnostics, one per line, for assertion messages. */
static const char *diags_text(const struct policy *p)
{
	static char buf[4096];
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < p->n_diags && off < sizeof(buf) - 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "\n  %s", p->diags[i]);
	return buf;
}

/* Compiles text of len bytes as FILE_NAME and seals; *ret_r gets policy_add_file()'s result. */
static struct policy *compile_len(const char *text, size_t len, int *ret_r)
{
	struct policy *p = policy_new();
	int r;

	cr_assert_not_null(p);
	r = policy_add_file(p, FILE_NAME, text, len, &resolver);
	if (ret_r)
		*ret_r = r;
	cr_assert_eq(policy_seal(p), 0);
	return p;
}

/* Compiles a policy that must have no errors and no warnings. */
static struct policy *compile_ok(const char *text)
{
	int r;
	struct policy *p = compile_len(text, strlen(text), &r);

	cr_assert_eq(r, 0, "policy_add_file: %d for:\n%s%s", r, text, diags_text(p));
	cr_assert_eq(p->n_errors, 0, "errors for:\n%s%s", text, diags_text(p));
	cr_assert_eq(p->n_warnings, 0, "warnings for:\n%s%s", text, diags_text(p));
	return p;
}

/* ---- decisions, table-driven ---- */

/*
 * Rows hold their strings inline: criterion copies the parameters into a worker that is a new
 * process image, where pointers into this one's data would not be valid.
 */
struct decide_row {
	char what[64];
	char policy[128];
	uid_t uid;
	gid_t gid;
	gid_t groups[3]; /* supplementary */
	size_t n_groups;
	enum policy_op op;
	char device[24]; /* "": DEV0 */
	uint32_t pasid;
	bool other_target;
	bool warnings; /* the policy is expected to have warnings (unknown names) */
	enum policy_verdict verdict;
	unsigned line; /* the deciding rule's line, 0: no rule matched */
};

#define AS_ALICE   .uid = ALICE, .gid = USERS
#define AS_BOB     .uid = BOB, .gid = USERS
#define AS_CAROL   .uid = CAROL, .gid = USERS
#define ALLOWED(l) .verdict = POLICY_ALLOW, .line = (l)
#define DENIED(l)  .verdict = POLICY_DENY, .line = (l)
#define NO_MATCH   .verdict = POLICY_DENY, .line = 0
#define OP(o)      .op = POLICY_OP_##o

#define ALL_KEYS "allow bind-task user=alice group=accel device=0000:3b:00.* pasid=auto"

ParameterizedTestParameters(policy_decide, table)
{
	static struct decide_row rows[] = {
		/* user= */
		{"user by name", "allow * user=alice", AS_ALICE, ALLOWED(1)},
		{"user by name, other uid", "allow * user=alice", AS_BOB, NO_MATCH},
		{"user by number", "allow * user=1002", AS_BOB, ALLOWED(1)},
		{"user by number, other uid", "allow * user=1002", AS_ALICE, NO_MATCH},
		{"user by number, no resolver needed", "allow * user=1003", AS_CAROL, ALLOWED(1)},
		{"user 0 is root by number", "allow * user=0", .uid = 0, .gid = 0, ALLOWED(1)},
		{"user comma list", "allow * user=alice,bob", AS_BOB, ALLOWED(1)},
		{"user comma list, not in it", "allow * user=alice,bob", AS_CAROL, NO_MATCH},
		{"user repeated = any", "allow * user=alice user=bob", AS_BOB, ALLOWED(1)},
		{"user repeated = any, first", "allow * user=alice user=bob", AS_ALICE, ALLOWED(1)},
		{"user repeated, none", "allow * user=alice user=bob", AS_CAROL, NO_MATCH},
		{"user= is the uid, not the gid", "allow * user=2001", .uid = ALICE, .gid = 2001,
		 NO_MATCH},
		/* group= */
		{"group, primary gid", "allow * group=accel", .uid = CAROL, .gid = ACCEL,
		 ALLOWED(1)},
		{"group, supplementary", "allow * group=accel", AS_CAROL, .groups = {VIDEO, ACCEL},
		 .n_groups = 2, ALLOWED(1)},
		{"group, in neither", "allow * group=accel", AS_CAROL, .groups = {VIDEO},
		 .n_groups = 1, NO_MATCH},
		{"group by number", "allow * group=2002", AS_CAROL, .groups = {VIDEO},
		 .n_groups = 1, ALLOWED(1)},
		{"group comma list", "allow * group=accel,video", AS_CAROL, .groups = {VIDEO},
		 .n_groups = 1, ALLOWED(1)},
		{"group repeated = any", "allow * group=accel group=video", .uid = CAROL,
		 .gid = VIDEO, ALLOWED(1)},
		{"group= is not the uid", "allow * group=1003", AS_CAROL, NO_MATCH},
		{"group, beyond n_groups is not looked at", "allow * group=accel", AS_CAROL,
		 .groups = {VIDEO, ACCEL}, .n_groups = 1, NO_MATCH},
		/* device= */
		{"device exact", "allow * device=0000:3b:00.0", AS_ALICE, ALLOWED(1)},
		{"device exact, other function", "allow * device=0000:3b:00.0", AS_ALICE,
		 .device = "0000:3b:00.1", NO_MATCH},
		{"device glob *", "allow * device=0000:3b:00.*", AS_ALICE, .device = "0000:3b:00.7",
		 ALLOWED(1)},
		{"device glob *, other bus", "allow * device=0000:3b:00.*", AS_ALICE,
		 .device = "0000:3c:00.0", NO_MATCH},
		{"device glob ?", "allow * device=0000:3b:0?.0", AS_ALICE, .device = "0000:3b:01.0",
		 ALLOWED(1)},
		{"device glob ?, one char only", "allow * device=0000:3b:0?.0", AS_ALICE,
		 .device = "0000:3b:010.0", NO_MATCH},
		{"device glob [0-3]", "allow * device=0000:3b:00.[0-3]", AS_ALICE,
		 .device = "0000:3b:00.2", ALLOWED(1)},
		{"device glob [0-3], outside", "allow * device=0000:3b:00.[0-3]", AS_ALICE,
		 .device = "0000:3b:00.4", NO_MATCH},
		{"device glob [!0]", "allow * device=0000:3b:00.[!0]", AS_ALICE,
		 .device = "0000:3b:00.1", ALLOWED(1)},
		{"device glob [!0], excluded", "allow * device=0000:3b:00.[!0]", AS_ALICE,
		 .device = "0000:3b:00.0", NO_MATCH},
		{"device pattern is case-folded", "allow * device=0000:3B:00.0", AS_ALICE,
		 ALLOWED(1)},
		{"device comma list", "allow * device=0000:3b:00.0,0000:3c:00.0", AS_ALICE,
		 .device = "0000:3c:00.0", ALLOWED(1)},
		{"device repeated = any", "allow * device=0000:3b:00.0 device=0000:3c:00.0",
		 AS_ALICE, .device = "0000:3c:00.0", ALLOWED(1)},
		{"device list, none", "allow * device=0000:3b:00.0,0000:3c:00.0", AS_ALICE,
		 .device = "0000:3d:00.0", NO_MATCH},
		/* pasid= */
		{"pasid=auto, auto", "allow bind-task pasid=auto", AS_ALICE, ALLOWED(1)},
		{"pasid=auto, explicit", "allow bind-task pasid=auto", AS_ALICE, .pasid = 5,
		 NO_MATCH},
		{"pasid=N, auto", "allow bind-task pasid=5", AS_ALICE, .pasid = 0, NO_MATCH},
		{"pasid=N, N", "allow bind-task pasid=5", AS_ALICE, .pasid = 5, ALLOWED(1)},
		{"pasid=N, N+1", "allow bind-task pasid=5", AS_ALICE, .pasid = 6, NO_MATCH},
		{"pasid=N, N-1", "allow bind-task pasid=5", AS_ALICE, .pasid = 4, NO_MATCH},
		{"pasid range, low end", "allow bind-pgtable pasid=100-199", AS_ALICE,
		 OP(BIND_PGTABLE), .pasid = 100, ALLOWED(1)},
		{"pasid range, high end", "allow bind-pgtable pasid=100-199", AS_ALICE,
		 OP(BIND_PGTABLE), .pasid = 199, ALLOWED(1)},
		{"pasid range, below", "allow bind-pgtable pasid=100-199", AS_ALICE,
		 OP(BIND_PGTABLE), .pasid = 99, NO_MATCH},
		{"pasid range, above", "allow bind-pgtable pasid=100-199", AS_ALICE,
		 OP(BIND_PGTABLE), .pasid = 200, NO_MATCH},
		{"pasid range, auto", "allow bind-task pasid=100-199", AS_ALICE, NO_MATCH},
		{"pasid single-element range", "allow bind-task pasid=7-7", AS_ALICE, .pasid = 7,
		 ALLOWED(1)},
		{"pasid full range", "allow bind-task pasid=1-1048575", AS_ALICE, .pasid = 1048575,
		 ALLOWED(1)},
		{"pasid comma list, single", "allow bind-task pasid=5,100-199", AS_ALICE,
		 .pasid = 5, ALLOWED(1)},
		{"pasid comma list, range", "allow bind-task pasid=5,100-199", AS_ALICE,
		 .pasid = 150, ALLOWED(1)},
		{"pasid comma list, neither", "allow bind-task pasid=5,100-199", AS_ALICE,
		 .pasid = 6, NO_MATCH},
		{"pasid auto in a list, auto", "allow bind-task pasid=auto,5", AS_ALICE,
		 ALLOWED(1)},
		{"pasid auto in a list, N", "allow bind-task pasid=auto,5", AS_ALICE, .pasid = 5,
		 ALLOWED(1)},
		{"pasid repeated = any", "allow bind-task pasid=5 pasid=7", AS_ALICE, .pasid = 7,
		 ALLOWED(1)},
		{"no pasid key: any PASID", "allow bind-task", AS_ALICE, .pasid = 77, ALLOWED(1)},
		{"no pasid key: auto", "allow bind-task", AS_ALICE, ALLOWED(1)},
		{"pasid key on bind-pasid-table never matches", "allow * pasid=auto", AS_ALICE,
		 OP(BIND_PASID_TABLE), NO_MATCH},
		{"pasid key on open-device never matches", "allow * pasid=auto", AS_ALICE,
		 OP(OPEN_DEVICE), NO_MATCH},
		{"pasid range on bind-pasid-table never matches", "allow * pasid=1-1048575",
		 AS_ALICE, OP(BIND_PASID_TABLE), NO_MATCH},
		{"pasid key on bind-pgtable", "allow * pasid=1-1048575", AS_ALICE, OP(BIND_PGTABLE),
		 .pasid = 42, ALLOWED(1)},
		{"deny with pasid does not cover open-device", "deny * pasid=auto\nallow *",
		 AS_ALICE, OP(OPEN_DEVICE), ALLOWED(2)},
		/* targets= */
		{"targets default is self: other target", "allow bind-task", AS_ALICE,
		 .other_target = true, NO_MATCH},
		{"targets=self, own task", "allow bind-task targets=self", AS_ALICE, ALLOWED(1)},
		{"targets=self, other target", "allow bind-task targets=self", AS_ALICE,
		 .other_target = true, NO_MATCH},
		{"targets=same-user, other target", "allow bind-task targets=same-user", AS_ALICE,
		 .other_target = true, ALLOWED(1)},
		{"targets=same-user, own task", "allow bind-task targets=same-user", AS_ALICE,
		 ALLOWED(1)},
		{"targets=same-user then self (last wins)",
		 "allow bind-task targets=same-user targets=self", AS_ALICE, .other_target = true,
		 NO_MATCH},
		{"deny without targets covers other targets too",
		 "deny bind-task user=alice\nallow bind-task targets=same-user", AS_ALICE,
		 .other_target = true, DENIED(1)},
		{"deny targets=self leaves other targets to later rules",
		 "deny bind-task user=alice targets=self\nallow bind-task targets=same-user",
		 AS_ALICE, .other_target = true, ALLOWED(2)},
		{"deny targets=self still denies the caller's own task",
		 "deny bind-task user=alice targets=self\nallow bind-task targets=same-user",
		 AS_ALICE, DENIED(1)},
		/* operations */
		{"* covers bind-task", "allow *", AS_ALICE, OP(BIND_TASK), ALLOWED(1)},
		{"* covers bind-pgtable", "allow *", AS_ALICE, OP(BIND_PGTABLE), ALLOWED(1)},
		{"* covers bind-pasid-table", "allow *", AS_ALICE, OP(BIND_PASID_TABLE),
		 ALLOWED(1)},
		{"* covers open-device", "allow *", AS_ALICE, OP(OPEN_DEVICE), ALLOWED(1)},
		{"op list, in it", "allow bind-task,bind-pgtable", AS_ALICE, OP(BIND_PGTABLE),
		 ALLOWED(1)},
		{"op list, open-device not in it", "allow bind-task,bind-pgtable", AS_ALICE,
		 OP(OPEN_DEVICE), NO_MATCH},
		{"op list, bind-pasid-table not in it", "allow bind-task,bind-pgtable", AS_ALICE,
		 OP(BIND_PASID_TABLE), NO_MATCH},
		{"single op, other op", "allow open-device", AS_ALICE, OP(BIND_TASK), NO_MATCH},
		{"rules of other ops are skipped", "allow open-device\nallow bind-task", AS_ALICE,
		 OP(BIND_TASK), ALLOWED(2)},
		{"op list with *", "allow open-device,*", AS_ALICE, OP(BIND_PGTABLE), ALLOWED(1)},
		/* first match wins */
		{"deny before allow", "deny * user=alice\nallow *", AS_ALICE, DENIED(1)},
		{"deny before allow, other user", "deny * user=alice\nallow *", AS_BOB, ALLOWED(2)},
		{"allow before deny", "allow * user=alice\ndeny *", AS_ALICE, ALLOWED(1)},
		{"allow before deny, other user", "allow * user=alice\ndeny *", AS_BOB, DENIED(2)},
		{"identical rules: the first decides", "allow bind-task\nallow bind-task", AS_ALICE,
		 ALLOWED(1)},
		{"deny then same allow", "deny bind-task device=0000:3b:00.0\nallow bind-task",
		 AS_ALICE, DENIED(1)},
		/* different keys: all must hold */
		{"all keys hold", ALL_KEYS, .uid = ALICE, .gid = ACCEL, .device = "0000:3b:00.1",
		 ALLOWED(1)},
		{"all keys, group fails", ALL_KEYS, AS_ALICE, .device = "0000:3b:00.1", NO_MATCH},
		{"all keys, user fails", ALL_KEYS, .uid = BOB, .gid = ACCEL,
		 .device = "0000:3b:00.1", NO_MATCH},
		{"all keys, device fails", ALL_KEYS, .uid = ALICE, .gid = ACCEL,
		 .device = "0000:3c:00.0", NO_MATCH},
		{"all keys, pasid fails", ALL_KEYS, .uid = ALICE, .gid = ACCEL, .pasid = 5,
		 NO_MATCH},
		{"all keys, op fails", ALL_KEYS, .uid = ALICE, .gid = ACCEL, OP(BIND_PGTABLE),
		 NO_MATCH},
		{"all keys, targets fail", ALL_KEYS, .uid = ALICE, .gid = ACCEL,
		 .other_target = true, NO_MATCH},
		/* no rules: deny */
		{"empty policy", "", AS_ALICE, NO_MATCH},
		{"comments only", "# nothing\n\n   # here\n", AS_ALICE, NO_MATCH},
		{"no rule for this op", "allow open-device", AS_ALICE, OP(BIND_PGTABLE), NO_MATCH},
		/* root */
		{"root gets no implicit allow", "allow * user=alice", .uid = 0, .gid = 0, NO_MATCH},
		{"root, empty policy", "", .uid = 0, .gid = 0, OP(OPEN_DEVICE), NO_MATCH},
		{"root is in no group of its own", "allow * group=accel", .uid = 0, .gid = 0,
		 NO_MATCH},
		/* unknown names (warnings) never match */
		{"unknown user never matches", "allow * user=nosuch", AS_CAROL, .warnings = true,
		 NO_MATCH},
		{"unknown user, root", "allow * user=nosuch", .uid = 0, .gid = 0, .warnings = true,
		 NO_MATCH},
		{"unknown user in a list, known one", "allow * user=nosuch,alice", AS_ALICE,
		 .warnings = true, ALLOWED(1)},
		{"unknown group never matches", "allow * group=nosuch", AS_CAROL,
		 .groups = {ACCEL, VIDEO}, .n_groups = 2, .warnings = true, NO_MATCH},
		/*
		 * The subject with uid/gid -1 (what ops.c's subject_for_uid() uses when getpwuid()
		 * knows no such uid) must not match an unknown name either.
		 */
		{"unknown user vs uid -1", "allow * user=nosuch", .uid = (uid_t)-1, .gid = USERS,
		 .warnings = true, NO_MATCH},
		{"unknown group vs gid -1", "allow * group=nosuch", .uid = CAROL, .gid = (gid_t)-1,
		 .warnings = true, NO_MATCH},
		/* max= is not a match key */
		{"max= alone", "allow * max=1", AS_ALICE, ALLOWED(1)},
		{"max= with keys", "allow bind-task user=alice max=1\nallow *", AS_ALICE,
		 ALLOWED(1)},
		{"max= with keys, other user", "allow bind-task user=alice max=1\ndeny *", AS_BOB,
		 DENIED(2)},
	};
	return cr_make_param_array(struct decide_row, rows, sizeof(rows) / sizeof(rows[0]));
}

static void count_step(const struct policy_rule *rule, const char *why, void *userdata)
{
	(void)rule;
	(void)why;
	(*(unsigned *)userdata)++;
}

ParameterizedTest(struct decide_row *row, policy_decide, table)
{
	struct policy *p = policy_new();
	struct policy_subject s = {
		.uid = row->uid,
		.gid = row->gid,
		.groups = row->groups,
		.n_groups = row->n_groups,
	};
	struct policy_request req = {
		.op = row->op,
		.device = row->device[0] ? row->device : DEV0,
		.pasid = row->pasid,
		.other_target = row->other_target,
	};
	struct policy_decision d = {.verdict = POLICY_ALLOW}, e = {.verdict = POLICY_ALLOW};
	unsigned steps = 0;
	int r;

	cr_assert_not_null(p);
	r = policy_add_file(p, FILE_NAME, row->policy, strlen(row->policy), &resolver);
	cr_assert_eq(r, 0, "%s: policy_add_file: %d%s", row->what, r, diags_text(p));
	cr_assert_eq(p->n_errors, 0, "%s: errors%s", row->what, diags_text(p));
	if (row->warnings)
		cr_assert_gt(p->n_warnings, 0, "%s: expected a warning", row->what);
	else
		cr_assert_eq(p->n_warnings, 0, "%s: warnings%s", row->what, diags_text(p));
	cr_assert_eq(policy_seal(p), 0);

	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, row->verdict, "%s: verdict %d, want %d", row->what, d.verdict,
		     row->verdict);
	cr_assert_eq(d.rule ? d.rule->line : 0, row->line, "%s: decided by line %u, want %u",
		     row->what, d.rule ? d.rule->line : 0, row->line);
	if (d.rule) {
		cr_assert_eq(d.rule->verdict, d.verdict, "%s", row->what);
		cr_assert_str_eq(d.rule->file, FILE_NAME, "%s", row->what);
	}

	/* explain() decides the same and considers at least the deciding rule. */
	policy_explain(p, &s, &req, &e, count_step, &steps);
	cr_assert_eq(e.verdict, d.verdict, "%s: explain disagrees", row->what);
	cr_assert_eq(e.rule, d.rule, "%s: explain disagrees on the rule", row->what);
	cr_assert_leq(steps, p->n_by_op[req.op], "%s", row->what);
	if (d.rule)
		cr_assert_geq(steps, 1, "%s", row->what);
	policy_free(p);
}

Test(policy_decide, before_seal_denies)
{
	struct policy *p = policy_new();
	struct policy_subject s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_BIND_TASK, .device = DEV0};
	struct policy_decision d = {.verdict = POLICY_ALLOW};

	cr_assert_eq(policy_add_file(p, FILE_NAME, "allow *", 7, &resolver), 0);
	cr_assert_eq(p->n_rules, 1);
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_null(d.rule);
	cr_assert_eq(policy_seal(p), 0);
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, POLICY_ALLOW);
	cr_assert_eq(d.rule, &p->rules[0]);
	/* Sealing again rebuilds the same indices. */
	cr_assert_eq(policy_seal(p), 0);
	cr_assert_eq(p->n_by_op[POLICY_OP_BIND_TASK], 1);
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[0]);
	policy_free(p);
}

Test(policy_decide, invalid_op_denies)
{
	struct policy *p = compile_ok("allow *");
	struct policy_subject s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = _POLICY_OP_MAX, .device = DEV0};
	struct policy_decision d = {.verdict = POLICY_ALLOW, .rule = &p->rules[0]};
	unsigned steps = 0;

	policy_explain(p, &s, &req, &d, count_step, &steps);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_null(d.rule);
	cr_assert_eq(steps, 0);
	req.op = _POLICY_OP_INVALID;
	d = (struct policy_decision){.verdict = POLICY_ALLOW, .rule = &p->rules[0]};
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_null(d.rule);
	policy_free(p);
}

Test(policy_decide, rules_across_files)
{
	struct policy *p = policy_new();
	struct policy_subject s = {.uid = BOB, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_OPEN_DEVICE, .device = DEV0};
	struct policy_decision d;
	const char *a = "# first file\nallow bind-task user=alice\n";
	const char *b = "\ndeny * user=bob\nallow *\n";

	cr_assert_eq(policy_add_file(p, "10-a.policy", a, strlen(a), &resolver), 0);
	cr_assert_eq(policy_add_file(p, "20-b.policy", b, strlen(b), &resolver), 0);
	cr_assert_eq(policy_seal(p), 0);
	cr_assert_eq(p->n_files, 2);
	cr_assert_str_eq(p->files[0], "10-a.policy");
	cr_assert_str_eq(p->files[1], "20-b.policy");
	cr_assert_eq(p->n_rules, 3);
	cr_assert_eq(p->rules[0].file, p->files[0]);
	cr_assert_eq(p->rules[1].file, p->files[1]);
	cr_assert_eq(p->rules[2].file, p->files[1]);
	cr_assert_eq(p->rules[0].line, 2);
	cr_assert_eq(p->rules[1].line, 2);
	cr_assert_eq(p->rules[2].line, 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(p->rules[i].index, i);

	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_eq(d.rule, &p->rules[1]);
	s.uid = ALICE;
	req.op = POLICY_OP_BIND_TASK;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, POLICY_ALLOW);
	cr_assert_eq(d.rule, &p->rules[0]);
	s.uid = CAROL;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.verdict, POLICY_ALLOW);
	cr_assert_eq(d.rule, &p->rules[2]);
	policy_free(p);
}

/* ---- the good corpus ---- */

Test(policy_good, fields)
{
	const char *text =
		"# svmd test policy\n"
		"\n"
		"allow bind-task group=accel device=0000:3c:00.* pasid=auto max=4\n"
		"\tallow\tbind-pgtable\tuser=alice\tdevice=0000:3B:00.0 pasid=100-199   "
		"# guests\n"
		"deny  *                   user=bob\n"
		"   # an indented comment\n"
		"allow open-device,bind-pasid-table user=1001,bob group=video "
		"targets=same-user\n"
		"\t \n"
		"allow bind-task pasid=5,auto,7-9 pasid=11 max=1000000 targets=self #end";
	struct policy *p = compile_ok(text);
	const struct policy_rule *r;

	cr_assert_eq(p->n_rules, 5);
	cr_assert_eq(p->n_diags, 0);
	cr_assert_eq(p->n_files, 1);
	cr_assert_str_eq(p->files[0], FILE_NAME);

	r = &p->rules[0];
	cr_assert_eq(r->verdict, POLICY_ALLOW);
	cr_assert_eq(r->ops, 1u << POLICY_OP_BIND_TASK);
	cr_assert_eq(r->n_users, 0);
	cr_assert_eq(r->n_groups, 1);
	cr_assert_eq(r->groups[0], ACCEL);
	cr_assert_eq(r->n_devices, 1);
	cr_assert_str_eq(r->devices[0], "0000:3c:00.*");
	cr_assert(r->pasid_key);
	cr_assert(r->pasid_auto);
	cr_assert_eq(r->n_pasids, 0);
	cr_assert(r->max_key);
	cr_assert_eq(r->max, 4);
	cr_assert_eq(r->targets, POLICY_TARGETS_SELF);
	cr_assert_eq(r->line, 3);
	cr_assert_eq(r->index, 0);
	cr_assert_eq(r->file, p->files[0]);
	cr_assert_str_eq(r->text,
			 "allow bind-task group=accel device=0000:3c:00.* pasid=auto max=4");

	r = &p->rules[1];
	cr_assert_eq(r->verdict, POLICY_ALLOW);
	cr_assert_eq(r->ops, 1u << POLICY_OP_BIND_PGTABLE);
	cr_assert_eq(r->n_users, 1);
	cr_assert_eq(r->users[0], ALICE);
	cr_assert_eq(r->n_groups, 0);
	cr_assert_eq(r->n_devices, 1);
	cr_assert_str_eq(r->devices[0], "0000:3b:00.0"); /* lower-cased */
	cr_assert(r->pasid_key);
	cr_assert_not(r->pasid_auto);
	cr_assert_eq(r->n_pasids, 1);
	cr_assert_eq(r->pasids[0].lo, 100);
	cr_assert_eq(r->pasids[0].hi, 199);
	cr_assert_not(r->max_key);
	cr_assert_eq(r->line, 4);
	cr_assert_eq(r->index, 1);
	cr_assert_str_eq(r->text,
			 "allow\tbind-pgtable\tuser=alice\tdevice=0000:3B:00.0 pasid=100-199");

	r = &p->rules[2];
	cr_assert_eq(r->verdict, POLICY_DENY);
	cr_assert_eq(r->ops, POLICY_OPS_ALL);
	cr_assert_eq(r->n_users, 1);
	cr_assert_eq(r->users[0], BOB);
	cr_assert_not(r->pasid_key);
	cr_assert_not(r->max_key);
	cr_assert_eq(r->n_devices, 0);
	cr_assert_eq(r->line, 5);
	cr_assert_str_eq(r->text, "deny  *                   user=bob");

	r = &p->rules[3];
	cr_assert_eq(r->verdict, POLICY_ALLOW);
	cr_assert_eq(r->ops, 1u << POLICY_OP_OPEN_DEVICE | 1u << POLICY_OP_BIND_PASID_TABLE);
	cr_assert_eq(r->n_users, 2);
	cr_assert_eq(r->users[0], ALICE);
	cr_assert_eq(r->users[1], BOB);
	cr_assert_eq(r->n_groups, 1);
	cr_assert_eq(r->groups[0], VIDEO);
	cr_assert_eq(r->targets, POLICY_TARGETS_SAME_USER);
	cr_assert_eq(r->line, 7);

	r = &p->rules[4];
	cr_assert_eq(r->line, 9);
	cr_assert_eq(r->index, 4);
	cr_assert(r->pasid_key);
	cr_assert(r->pasid_auto);
	cr_assert_eq(r->n_pasids, 3);
	cr_assert_eq(r->pasids[0].lo, 5);
	cr_assert_eq(r->pasids[0].hi, 5);
	cr_assert_eq(r->pasids[1].lo, 7);
	cr_assert_eq(r->pasids[1].hi, 9);
	cr_assert_eq(r->pasids[2].lo, 11);
	cr_assert_eq(r->pasids[2].hi, 11);
	cr_assert_eq(r->max, 1000000);
	cr_assert_eq(r->targets, POLICY_TARGETS_SELF);
	cr_assert_str_eq(r->text,
			 "allow bind-task pasid=5,auto,7-9 pasid=11 max=1000000 targets=self");

	/* The indices hold the rules of each op, in file order. */
	cr_assert_eq(p->n_by_op[POLICY_OP_BIND_TASK], 3);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK][0], &p->rules[0]);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK][1], &p->rules[2]);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK][2], &p->rules[4]);
	cr_assert_eq(p->n_by_op[POLICY_OP_BIND_PGTABLE], 2);
	cr_assert_eq(p->n_by_op[POLICY_OP_BIND_PASID_TABLE], 2);
	cr_assert_eq(p->n_by_op[POLICY_OP_OPEN_DEVICE], 2);
	cr_assert_eq(p->by_op[POLICY_OP_OPEN_DEVICE][1], &p->rules[3]);
	policy_free(p);
}

struct good_row {
	char text[256];
	unsigned n_rules;
	unsigned last_line; /* the last rule's line */
};

ParameterizedTestParameters(policy_good, corpus)
{
	static struct good_row rows[] = {
		{"", 0, 0},
		{"\n\n\n", 0, 0},
		{"# only a comment", 0, 0},
		{"#allow *\n  #deny *\n\t# allow bind-task\n", 0, 0},
		{"allow *", 1, 1},
		{"allow *\n", 1, 1},
		{"deny *\n\n\n", 1, 1},
		{"\n\nallow *", 1, 3},
		{"   allow   *   ", 1, 1},
		{"\tallow\t*\tuser=alice\t", 1, 1},
		{"allow * # allow everything", 1, 1},
		{"allow *\t#tab before the comment", 1, 1},
		{"allow * user=alice # a trailing comment with = and , and user=", 1, 1},
		{"allow bind-task,bind-pgtable,bind-pasid-table,open-device", 1, 1},
		{"allow bind-task\nallow bind-pgtable\nallow bind-pasid-table\nallow open-device\n",
		 4, 4},
		{"# default\ndeny * user=bob\n\n# the accelerators\n"
		 "allow bind-task group=accel device=0000:3c:00.* pasid=auto max=4\n"
		 "allow bind-pgtable user=alice device=0000:3b:00.0 pasid=100-199\n",
		 3, 6},
		{"allow * device=0000:3b:00.[0-7] device=0000:3c:??.* device=[0-9a-f]*:3d:00.[!7]",
		 1, 1},
		{"allow * user=$svc group=my.group_1-x", 1,
		 1}, /* names: only warnings, see below */
		{"allow bind-task pasid=1 pasid=1048575 pasid=1-1048575 max=1", 1, 1},
		{"allow * user=0,4294967294 group=0,4294967294", 1, 1},
		{"deny * user=alice targets=same-user", 1, 1},
	};
	return cr_make_param_array(struct good_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct good_row *row, policy_good, corpus)
{
	int r;
	struct policy *p = compile_len(row->text, strlen(row->text), &r);

	cr_assert_eq(r, 0, "'%s': %d%s", row->text, r, diags_text(p));
	cr_assert_eq(p->n_errors, 0, "'%s':%s", row->text, diags_text(p));
	cr_assert_eq(p->n_rules, row->n_rules, "'%s': %zu rules", row->text, p->n_rules);
	if (row->n_rules)
		cr_assert_eq(p->rules[p->n_rules - 1].line, row->last_line, "'%s'", row->text);
	for (size_t i = 0; i < p->n_rules; i++) {
		/* The text never carries the comment or surrounding blanks. */
		const char *t = p->rules[i].text;
		size_t n = strlen(t);
		cr_assert_null(strchr(t, '#'), "'%s'", t);
		cr_assert(n > 0 && t[0] != ' ' && t[0] != '\t' && t[n - 1] != ' ' &&
				  t[n - 1] != '\t',
			  "'%s'", t);
	}
	policy_free(p);
}

/* ---- warnings ---- */

Test(policy_warnings, unknown_names)
{
	const char *text = "allow * user=nosuch\n"
			   "allow * group=alice,nogroup\n"
			   "allow * user=$svc group=my.group_1-x\n";
	struct resolver_calls calls = {0};
	struct policy_resolver res = {fake_user, fake_group, &calls};
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_file(p, FILE_NAME, text, strlen(text), &res), 0);
	cr_assert_eq(p->n_errors, 0);
	cr_assert_eq(p->n_warnings, 5, "%s", diags_text(p));
	cr_assert_eq(p->n_diags, 5);
	cr_assert_str_eq(p->diags[0],
			 "t.policy:1:14: warning: unknown user 'nosuch': this entry never matches");
	cr_assert_str_eq(p->diags[1],
			 "t.policy:2:15: warning: unknown group 'alice': this entry never matches");
	cr_assert_str_eq(
		p->diags[2],
		"t.policy:2:21: warning: unknown group 'nogroup': this entry never matches");
	cr_assert_str_eq(p->diags[3],
			 "t.policy:3:14: warning: unknown user '$svc': this entry never matches");
	cr_assert_str_eq(p->diags[4], "t.policy:3:25: warning: unknown group 'my.group_1-x': this "
				      "entry never matches");
	/* Rules with unknown names are kept (they just never match through them). */
	cr_assert_eq(p->n_rules, 3);
	cr_assert_eq(calls.users, 2);
	cr_assert_eq(calls.groups, 3);
	policy_free(p);
}

Test(policy_warnings, numbers_do_not_ask_the_resolver)
{
	const char *text = "allow * user=1001,0 group=2001\n";
	struct resolver_calls calls = {0};
	struct policy_resolver res = {fake_user, fake_group, &calls};
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_file(p, FILE_NAME, text, strlen(text), &res), 0);
	cr_assert_eq(p->n_diags, 0);
	cr_assert_eq(calls.users, 0);
	cr_assert_eq(calls.groups, 0);
	cr_assert_eq(p->rules[0].users[0], 1001);
	cr_assert_eq(p->rules[0].users[1], 0);
	cr_assert_eq(p->rules[0].groups[0], 2001);
	policy_free(p);
}

Test(policy_warnings, no_resolver)
{
	const char *text = "allow * user=alice group=accel\n";
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_file(p, FILE_NAME, text, strlen(text), NULL), 0);
	cr_assert_eq(p->n_errors, 0);
	cr_assert_eq(p->n_warnings, 2);
	cr_assert_str_eq(p->diags[0],
			 "t.policy:1:14: warning: unknown user 'alice': this entry never matches");
	cr_assert_str_eq(p->diags[1],
			 "t.policy:1:26: warning: unknown group 'accel': this entry never matches");
	policy_free(p);
}

Test(policy_warnings, resolver_out_of_memory)
{
	const char *text = "allow * user=alice\nallow * user=oom\nallow *\n";
	const char *text2 = "allow * group=oom\n";
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_file(p, FILE_NAME, text, strlen(text), &resolver), -ENOMEM);
	cr_assert_eq(policy_add_file(p, "u.policy", text2, strlen(text2), &resolver), -ENOMEM);
	policy_free(p);
}

Test(policy_warnings, add_diag)
{
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_diag(p, true, "%s: cannot read: %s", "/x.policy", "denied"), 0);
	cr_assert_eq(policy_add_diag(p, false, "plain %d", 7), 0);
	cr_assert_eq(p->n_errors, 1);
	cr_assert_eq(p->n_warnings, 1);
	cr_assert_eq(p->n_diags, 2);
	cr_assert_str_eq(p->diags[0], "/x.policy: cannot read: denied");
	cr_assert_str_eq(p->diags[1], "plain 7");
	cr_assert_null(policy_free(p));
	cr_assert_null(policy_free(NULL));
}

/* ---- the bad corpus ---- */

struct bad_row {
	char text[128];
	size_t len;         /* 0: strlen(text) */
	unsigned n_rules;   /* rules that still compiled */
	char diags[4][160]; /* exactly these, in order; FILE_NAME is "t.policy" */
};

#define UNKNOWN_OP(line, col, name)                                                                \
	"t.policy:" #line ":" #col ": error: unknown operation '" name "' (want *, bind-task, "    \
	"bind-pgtable, bind-pasid-table or open-device)"
#define UNKNOWN_KEY(line, col, name)                                                               \
	"t.policy:" #line ":" #col ": error: unknown key '" name "' (want user, group, device, "   \
	"pasid, max or targets)"

ParameterizedTestParameters(policy_bad, corpus)
{
	static struct bad_row rows[] = {
		/* the verdict */
		{"permit *",
		 .diags = {"t.policy:1:1: error: expected 'allow' or 'deny', got 'permit'"}},
		{"  Allow *",
		 .diags = {"t.policy:1:3: error: expected 'allow' or 'deny', got 'Allow'"}},
		{"allowed *",
		 .diags = {"t.policy:1:1: error: expected 'allow' or 'deny', got 'allowed'"}},
		{"user=alice allow *",
		 .diags = {"t.policy:1:1: error: expected 'allow' or 'deny', got 'user=alice'"}},
		/* missing operations */
		{"allow", .diags = {"t.policy:1:6: error: missing operations after 'allow'"}},
		{"deny   # nothing",
		 .diags = {"t.policy:1:5: error: missing operations after 'deny'"}},
		{"\tallow\t", .diags = {"t.policy:1:7: error: missing operations after 'allow'"}},
		/* operations */
		{"allow frob", .diags = {UNKNOWN_OP(1, 7, "frob")}},
		{"allow bind-task,frob", .diags = {UNKNOWN_OP(1, 17, "frob")}},
		{"allow Bind-Task", .diags = {UNKNOWN_OP(1, 7, "Bind-Task")}},
		{"allow user=alice", .diags = {UNKNOWN_OP(1, 7, "user=alice")}},
		{"allow ** user=alice", .diags = {UNKNOWN_OP(1, 7, "**")}},
		{"allow bind-task,", .diags = {"t.policy:1:17: error: empty value in operations="}},
		{"allow ,bind-task", .diags = {"t.policy:1:7: error: empty value in operations="}},
		{"allow bind-task,,open-device",
		 .diags = {"t.policy:1:17: error: empty value in operations="}},
		/* keys */
		{"allow * colour=red", .diags = {UNKNOWN_KEY(1, 9, "colour")}},
		{"allow * User=alice", .diags = {UNKNOWN_KEY(1, 9, "User")}},
		{"allow * =alice", .diags = {UNKNOWN_KEY(1, 9, "")}},
		{"allow * user", .diags = {"t.policy:1:9: error: expected KEY=VALUE, got 'user'"}},
		{"allow * user alice",
		 .diags = {"t.policy:1:9: error: expected KEY=VALUE, got 'user'",
			   "t.policy:1:14: error: expected KEY=VALUE, got 'alice'"}},
		{"allow * user =alice",
		 .diags = {"t.policy:1:9: error: expected KEY=VALUE, got 'user'",
			   UNKNOWN_KEY(1, 14, "")}},
		{"allow * user= alice",
		 .diags = {"t.policy:1:14: error: empty value for 'user'",
			   "t.policy:1:15: error: expected KEY=VALUE, got 'alice'"}},
		/* empty values and empty items */
		{"allow * user=", .diags = {"t.policy:1:14: error: empty value for 'user'"}},
		{"allow * group=", .diags = {"t.policy:1:15: error: empty value for 'group'"}},
		{"allow * device=", .diags = {"t.policy:1:16: error: empty value for 'device'"}},
		{"allow * pasid=", .diags = {"t.policy:1:15: error: empty value for 'pasid'"}},
		{"allow * max=", .diags = {"t.policy:1:13: error: empty value for 'max'"}},
		{"allow * targets=", .diags = {"t.policy:1:17: error: empty value for 'targets'"}},
		{"allow * colour=", .diags = {"t.policy:1:16: error: empty value for 'colour'"}},
		{"allow * user=alice,,bob",
		 .diags = {"t.policy:1:20: error: empty value in user="}},
		{"allow * user=alice,", .diags = {"t.policy:1:20: error: empty value in user="}},
		{"allow * user=,alice", .diags = {"t.policy:1:14: error: empty value in user="}},
		{"allow * group=accel,", .diags = {"t.policy:1:21: error: empty value in group="}},
		{"allow * device=,0000:3b:00.0",
		 .diags = {"t.policy:1:16: error: empty value in device="}},
		{"allow bind-task pasid=5,",
		 .diags = {"t.policy:1:25: error: empty value in pasid="}},
		/* the first empty item ends the list */
		{"allow * user=,, # comment",
		 .diags = {"t.policy:1:14: error: empty value in user="}},
		/* names */
		{"allow * user=al/ice",
		 .diags = {"t.policy:1:14: error: invalid user name 'al/ice'"}},
		{"allow * user=alice,b*b",
		 .diags = {"t.policy:1:20: error: invalid user name 'b*b'"}},
		{"allow * group=a:b", .diags = {"t.policy:1:15: error: invalid group name 'a:b'"}},
		{"allow * user=bob#c",
		 .diags = {"t.policy:1:14: error: invalid user name 'bob#c'"}},
		/* PASIDs */
		{"allow bind-task pasid=abc",
		 .diags = {"t.policy:1:23: error: invalid PASID 'abc' (want auto, N or N-M)"}},
		{"allow bind-task pasid=AUTO",
		 .diags = {"t.policy:1:23: error: invalid PASID 'AUTO' (want auto, N or N-M)"}},
		{"allow bind-task pasid=+5",
		 .diags = {"t.policy:1:23: error: invalid PASID '+5' (want auto, N or N-M)"}},
		{"allow bind-task pasid=0x10",
		 .diags = {"t.policy:1:23: error: invalid PASID '0x10' (want auto, N or N-M)"}},
		{"allow bind-task pasid=4294967296",
		 .diags = {"t.policy:1:23: error: invalid PASID '4294967296' (want auto, N or "
			   "N-M)"}},
		{"allow bind-task pasid=5-",
		 .diags = {"t.policy:1:23: error: invalid PASID range '5-' (want N-M)"}},
		{"allow bind-task pasid=-5",
		 .diags = {"t.policy:1:23: error: invalid PASID range '-5' (want N-M)"}},
		{"allow bind-task pasid=1-2-3",
		 .diags = {"t.policy:1:23: error: invalid PASID range '1-2-3' (want N-M)"}},
		{"allow bind-task pasid=1-auto",
		 .diags = {"t.policy:1:23: error: invalid PASID range '1-auto' (want N-M)"}},
		{"allow bind-task pasid=0",
		 .diags = {"t.policy:1:23: error: PASID '0' outside 1-1048575"}},
		{"allow bind-task pasid=1048576",
		 .diags = {"t.policy:1:23: error: PASID '1048576' outside 1-1048575"}},
		{"allow bind-task pasid=0-10",
		 .diags = {"t.policy:1:23: error: PASID '0-10' outside 1-1048575"}},
		{"allow bind-task pasid=10-1048576",
		 .diags = {"t.policy:1:23: error: PASID '10-1048576' outside 1-1048575"}},
		{"allow bind-task pasid=200-100",
		 .diags = {"t.policy:1:23: error: empty PASID range '200-100'"}},
		{"allow bind-task pasid=auto,0",
		 .diags = {"t.policy:1:28: error: PASID '0' outside 1-1048575"}},
		{"allow bind-task pasid=5 pasid=x",
		 .diags = {"t.policy:1:31: error: invalid PASID 'x' (want auto, N or N-M)"}},
		/* max= */
		{"allow * max=0",
		 .diags = {"t.policy:1:13: error: invalid max '0' (want 1-1000000)"}},
		{"allow * max=1000001",
		 .diags = {"t.policy:1:13: error: invalid max '1000001' (want 1-1000000)"}},
		{"allow * max=-1",
		 .diags = {"t.policy:1:13: error: invalid max '-1' (want 1-1000000)"}},
		{"allow * max=4x",
		 .diags = {"t.policy:1:13: error: invalid max '4x' (want 1-1000000)"}},
		{"allow * max=1,2",
		 .diags = {"t.policy:1:13: error: invalid max '1,2' (want 1-1000000)"}},
		{"allow * max=2 max=3", .diags = {"t.policy:1:15: error: max= given twice"}},
		{"allow * max=2 max=2", .diags = {"t.policy:1:15: error: max= given twice"}},
		{"deny * max=3",
		 .diags = {"t.policy:1:8: error: max= on a deny rule has no meaning"}},
		/* The offending token of an indented line is not at column 1. */
		{"  deny * max=3",
		 .diags = {"t.policy:1:10: error: max= on a deny rule has no meaning"}},
		/* targets= */
		{"allow bind-task targets=others",
		 .diags = {"t.policy:1:25: error: invalid targets 'others' (want self or "
			   "same-user)"}},
		{"allow bind-task targets=self,same-user",
		 .diags = {"t.policy:1:25: error: invalid targets 'self,same-user' (want self or "
			   "same-user)"}},
		{"allow bind-task targets=Self",
		 .diags =
			 {"t.policy:1:25: error: invalid targets 'Self' (want self or same-user)"}},
		/* device patterns */
		{"allow * device=0000:3b:00.g",
		 .diags = {"t.policy:1:27: error: invalid character 'g' in device pattern"}},
		{"allow * device=/dev/vfio/3",
		 .diags = {"t.policy:1:16: error: invalid character '/' in device pattern"}},
		{"allow * device=0000:3b:00.0,0000:3b:00.\\0",
		 .diags = {"t.policy:1:40: error: invalid character '\\' in device pattern"}},
		{"allow * device=0000:3b:00.{0,1}",
		 .diags = {"t.policy:1:27: error: invalid character '{' in device pattern",
			   "t.policy:1:31: error: invalid character '}' in device pattern"}},
		/* control characters, non-ASCII, NUL */
		{"allow *\x01", .diags = {"t.policy:1:8: error: control or non-ASCII character"}},
		{"allow * user=al\x7f",
		 .diags = {"t.policy:1:16: error: control or non-ASCII character"}},
		{"allow * user=caf\xc3\xa9",
		 .diags = {"t.policy:1:17: error: control or non-ASCII character"}},
		{"\x1b[31mallow *",
		 .diags = {"t.policy:1:1: error: control or non-ASCII character"}},
		{"allow * # \x0b in a comment",
		 .diags = {"t.policy:1:11: error: control or non-ASCII character"}},
		{"allow *\0 user=alice", 19, .diags = {"t.policy:1:8: error: NUL byte"}},
		{"allow *\nallow \0\nallow *", 23, 2, .diags = {"t.policy:2:7: error: NUL byte"}},
		{"\0", 1, .diags = {"t.policy:1:1: error: NUL byte"}},
		/* several errors on one line are all reported */
		{"allow frob colour=red user=",
		 .diags = {UNKNOWN_OP(1, 7, "frob"), UNKNOWN_KEY(1, 12, "colour"),
			   "t.policy:1:28: error: empty value for 'user'"}},
		{"allow * pasid=0,abc max=0",
		 .diags = {"t.policy:1:15: error: PASID '0' outside 1-1048575",
			   "t.policy:1:17: error: invalid PASID 'abc' (want auto, N or N-M)",
			   "t.policy:1:25: error: invalid max '0' (want 1-1000000)"}},
		/* errors on one line do not stop the following lines */
		{"permit *\nallow *\nallow frob\n\ndeny * max=1\nallow bind-task user=bob\nallow * "
		 "user=",
		 .n_rules = 2,
		 .diags = {"t.policy:1:1: error: expected 'allow' or 'deny', got 'permit'",
			   UNKNOWN_OP(3, 7, "frob"),
			   "t.policy:5:8: error: max= on a deny rule has no meaning",
			   "t.policy:7:14: error: empty value for 'user'"}},
		/* a warning before an error on the same line */
		{"allow * user=nosuch colour=red",
		 .diags =
			 {"t.policy:1:14: warning: unknown user 'nosuch': this entry never matches",
			  UNKNOWN_KEY(1, 21, "colour")}},
	};
	return cr_make_param_array(struct bad_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_row *row, policy_bad, corpus)
{
	size_t len = row->len ? row->len : strlen(row->text);
	size_t n_diags = 0, n_errors = 0;
	int r;
	struct policy *p = compile_len(row->text, len, &r);

	for (; n_diags < 4 && row->diags[n_diags][0]; n_diags++)
		if (strstr(row->diags[n_diags], ": error: "))
			n_errors++;
	cr_assert_eq(r, -EINVAL, "'%s': policy_add_file: %d", row->text, r);
	cr_assert_eq(p->n_diags, n_diags, "'%s': %zu diagnostics, want %zu:%s", row->text,
		     p->n_diags, n_diags, diags_text(p));
	cr_assert_eq(p->n_errors, n_errors, "'%s'", row->text);
	cr_assert_eq(p->n_warnings, n_diags - n_errors, "'%s'", row->text);
	for (size_t i = 0; i < n_diags; i++) {
		const char *want = row->diags[i];
		cr_assert_str_eq(p->diags[i], want, "'%s': diagnostic %zu is\n  %s\nwant\n  %s",
				 row->text, i, p->diags[i], want);
	}
	cr_assert_eq(p->n_rules, row->n_rules, "'%s': %zu rules", row->text, p->n_rules);
	policy_free(p);
}

Test(policy_bad, rules_after_errors_still_compile)
{
	const char *text =
		"permit *\nallow *\nallow frob\n\ndeny * max=1\nallow bind-task user=bob\n";
	int r;
	struct policy *p = compile_len(text, strlen(text), &r);
	struct policy_subject s = {.uid = BOB, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_BIND_TASK, .device = DEV0};
	struct policy_decision d;

	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(p->n_errors, 3, "%s", diags_text(p));
	cr_assert_eq(p->n_rules, 2);
	cr_assert_eq(p->rules[0].line, 2);
	cr_assert_eq(p->rules[1].line, 6);
	cr_assert_eq(p->rules[1].index, 1);
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[0]);
	policy_free(p);
}

Test(policy_bad, errors_per_file)
{
	const char *bad = "allow frob\n";
	const char *good = "allow *\n";
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_file(p, "a.policy", bad, strlen(bad), &resolver), -EINVAL);
	/* A later good file reports 0 although the policy as a whole has errors. */
	cr_assert_eq(policy_add_file(p, "b.policy", good, strlen(good), &resolver), 0);
	cr_assert_eq(p->n_errors, 1);
	cr_assert_eq(p->n_rules, 1);
	cr_assert_str_eq(p->rules[0].file, "b.policy");
	cr_assert_eq(strncmp(p->diags[0], "a.policy:1:7: error: ", 21), 0, "%s", p->diags[0]);
	policy_free(p);
}

/* Names at and over their length limits. */
Test(policy_bad, long_names)
{
	char text[600], want[800];
	struct policy *p;
	int r;

	/* A 255-character user name is looked up (and unknown: a warning only). */
	strcpy(text, "allow * user=");
	memset(text + 13, 'u', 255);
	text[13 + 255] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, 0);
	cr_assert_eq(p->n_errors, 0);
	cr_assert_eq(p->n_warnings, 1);
	policy_free(p);

	/* 256 characters are too long. */
	memset(text + 13, 'u', 256);
	text[13 + 256] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(p->n_diags, 1);
	cr_assert_str_eq(p->diags[0], "t.policy:1:14: error: user name too long");
	policy_free(p);

	snprintf(text, sizeof(text), "allow * user=alice group=");
	memset(text + 25, 'g', 300);
	text[25 + 300] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(p->n_diags, 1);
	cr_assert_str_eq(p->diags[0], "t.policy:1:26: error: group name too long");
	policy_free(p);

	/* Device patterns: 63 characters are fine, 64 are too long. */
	snprintf(text, sizeof(text), "allow * device=");
	memset(text + 15, '0', 63);
	text[15 + 63] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(p->n_rules, 1);
	cr_assert_eq(strlen(p->rules[0].devices[0]), 63);
	policy_free(p);
	memset(text + 15, '0', 64);
	text[15 + 64] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(p->n_diags, 1);
	cr_assert_str_eq(p->diags[0], "t.policy:1:16: error: device pattern too long");
	policy_free(p);

	/* Operations: 31 characters get the full message, 32 and more the short one. */
	snprintf(text, sizeof(text), "allow ");
	memset(text + 6, 'o', 31);
	text[6 + 31] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	snprintf(want, sizeof(want), UNKNOWN_OP(1, 7, "%s"), text + 6);
	cr_assert_str_eq(p->diags[0], want);
	policy_free(p);
	memset(text + 6, 'o', 40);
	text[6 + 40] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	snprintf(want, sizeof(want), "t.policy:1:7: error: unknown operation '%s'", text + 6);
	cr_assert_str_eq(p->diags[0], want);
	policy_free(p);
}

/* The text need not be NUL-terminated: nothing past len is read or compiled. */
Test(policy_bad, length_bounds_the_text)
{
	const char text[] = "allow * user=alice" /* 18 bytes */ "colour=red";
	int r;
	struct policy *p = compile_len(text, 18, &r);

	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(p->n_rules, 1);
	cr_assert_str_eq(p->rules[0].text, "allow * user=alice");
	cr_assert_eq(p->rules[0].users[0], ALICE);
	policy_free(p);
}

/* ---- explain ---- */

#define MAX_STEPS 16

struct steps {
	unsigned n;
	unsigned line[MAX_STEPS];
	char why[MAX_STEPS][160];
	bool matched[MAX_STEPS];
};

static void record_step(const struct policy_rule *rule, const char *why, void *userdata)
{
	struct steps *st = userdata;

	cr_assert_lt(st->n, MAX_STEPS);
	st->line[st->n] = rule->line;
	st->matched[st->n] = !why;
	snprintf(st->why[st->n], sizeof(st->why[0]), "%s", why ? why : "");
	st->n++;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

Test(policy_explain, steps_name_the_failing_key)
{
	const char *text = "allow open-device user=alice\n"     /* 1: other op: not walked */
			   "allow bind-task user=bob\n"         /* 2: user */
			   "allow bind-task group=video\n"      /* 3: group */
			   "allow bind-task device=0000:3c:*\n" /* 4: device */
			   "allow bind-task pasid=5\n"          /* 5: pasid */
			   "allow bind-task targets=self\n"     /* 6: targets */
			   "deny bind-task user=alice targets=same-user\n" /* 7: decides */
			   "allow bind-task\n";                            /* 8: not reached */
	struct policy *p = compile_ok(text);
	struct policy_subject s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {
		.op = POLICY_OP_BIND_TASK,
		.device = DEV0,
		.other_target = true,
	};
	struct policy_decision d = {.verdict = POLICY_ALLOW}, d2;
	struct steps st = {0};

	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_not_null(d.rule);
	cr_assert_eq(d.rule->line, 7);
	cr_assert_eq(st.n, 6);
	for (unsigned i = 0; i < st.n; i++) {
		cr_assert_eq(st.line[i], i + 2);
		cr_assert_eq(st.matched[i], st.line[i] == 7, "step %u", i);
	}
	cr_assert(starts_with(st.why[0], "user:"), "%s", st.why[0]);
	cr_assert(starts_with(st.why[1], "group:"), "%s", st.why[1]);
	cr_assert(starts_with(st.why[2], "device:"), "%s", st.why[2]);
	cr_assert(starts_with(st.why[3], "pasid:"), "%s", st.why[3]);
	cr_assert(starts_with(st.why[4], "targets:"), "%s", st.why[4]);
	cr_assert_str_eq(st.why[0], "user: caller is uid 1001");
	cr_assert_str_eq(st.why[1], "group: caller (gid 100) is in none of them");
	cr_assert_str_eq(st.why[2], "device: 0000:3b:00.0 does not match");
	cr_assert_str_eq(st.why[3], "pasid: auto not granted");
	cr_assert_str_eq(st.why[4], "targets: binding another process needs targets=same-user");

	/* explain and decide agree */
	policy_decide(p, &s, &req, &d2);
	cr_assert_eq(d2.verdict, d.verdict);
	cr_assert_eq(d2.rule, d.rule);
	policy_free(p);
}

Test(policy_explain, pasid_reasons)
{
	const char *text = "allow * pasid=5,100-199\nallow * user=bob\n";
	struct policy *p = compile_ok(text);
	struct policy_subject s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_BIND_PGTABLE, .device = DEV0, .pasid = 42};
	struct policy_decision d;
	struct steps st = {0};

	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 2);
	cr_assert_str_eq(st.why[0], "pasid: 42 not in the granted ranges");
	cr_assert(starts_with(st.why[1], "user:"), "%s", st.why[1]);
	cr_assert_null(d.rule);
	cr_assert_eq(d.verdict, POLICY_DENY);

	memset(&st, 0, sizeof(st));
	req.op = POLICY_OP_OPEN_DEVICE;
	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 2);
	cr_assert_str_eq(st.why[0], "pasid: open-device has no PASID");
	cr_assert_null(d.rule);

	memset(&st, 0, sizeof(st));
	req.op = POLICY_OP_BIND_TASK;
	req.pasid = 150;
	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 1);
	cr_assert(st.matched[0]);
	cr_assert_eq(d.rule, &p->rules[0]);
	cr_assert_eq(d.verdict, POLICY_ALLOW);
	policy_free(p);
}

Test(policy_explain, no_match_every_step_has_a_reason)
{
	const char *text = "allow * user=bob\nallow * group=accel\nallow * device=0000:3c:00.0\n";
	struct policy *p = compile_ok(text);
	struct policy_subject s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_OPEN_DEVICE, .device = DEV0};
	struct policy_decision d = {.verdict = POLICY_ALLOW, .rule = &p->rules[0]};
	struct steps st = {0};

	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_null(d.rule);
	cr_assert_eq(st.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_not(st.matched[i]);
		cr_assert_neq(st.why[i][0], 0);
		cr_assert_eq(st.line[i], i + 1);
	}
	cr_assert(starts_with(st.why[0], "user:"));
	cr_assert(starts_with(st.why[1], "group:"));
	cr_assert(starts_with(st.why[2], "device:"));
	policy_free(p);
}

Test(policy_explain, first_rule_decides)
{
	struct policy *p = compile_ok("allow *\ndeny *\n");
	struct policy_subject s = {.uid = 0, .gid = 0};
	struct policy_request req = {.op = POLICY_OP_BIND_PASID_TABLE, .device = DEV0};
	struct policy_decision d;
	struct steps st = {0};

	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 1);
	cr_assert(st.matched[0]);
	cr_assert_eq(st.line[0], 1);
	cr_assert_eq(d.verdict, POLICY_ALLOW);
	policy_free(p);
}

/* ---- policy_seal: a decision walks only the rules naming its op ---- */

Test(policy_seal, walks_only_rules_of_the_op)
{
	const char *text = "allow open-device user=9999\n"                  /* 1 */
			   "allow bind-pgtable user=9999\n"                 /* 2 */
			   "allow bind-task,bind-pgtable user=9999\n"       /* 3 */
			   "allow * user=9999\n"                            /* 4 */
			   "allow bind-pasid-table user=9999\n"             /* 5 */
			   "deny open-device,bind-pasid-table user=9999\n"; /* 6 */
	static const struct {
		enum policy_op op;
		unsigned n;
		unsigned lines[4];
	} want[] = {
		{POLICY_OP_BIND_TASK, 2, {3, 4}},
		{POLICY_OP_BIND_PGTABLE, 3, {2, 3, 4}},
		{POLICY_OP_BIND_PASID_TABLE, 3, {4, 5, 6}},
		{POLICY_OP_OPEN_DEVICE, 3, {1, 4, 6}},
	};
	struct policy *p = compile_ok(text);
	struct policy_subject s = {.uid = ALICE, .gid = USERS};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy_request req = {.op = want[i].op, .device = DEV0};
		struct policy_decision d;
		struct steps st = {0};

		cr_assert_eq(p->n_by_op[want[i].op], want[i].n, "%s", policy_op_name(want[i].op));
		policy_explain(p, &s, &req, &d, record_step, &st);
		cr_assert_eq(st.n, want[i].n, "%s: %u steps", policy_op_name(want[i].op), st.n);
		for (unsigned k = 0; k < st.n; k++) {
			cr_assert_eq(st.line[k], want[i].lines[k], "%s step %u",
				     policy_op_name(want[i].op), k);
			cr_assert(starts_with(st.why[k], "user:"), "%s", st.why[k]);
		}
		cr_assert_null(d.rule);
	}
	policy_free(p);
}

Test(policy_seal, empty_policy)
{
	struct policy *p = compile_ok("");

	for (int op = 0; op < _POLICY_OP_MAX; op++) {
		cr_assert_eq(p->n_by_op[op], 0);
		cr_assert_not_null(p->by_op[op]);
	}
	policy_free(p);
}

/* ---- op names ---- */

Test(policy_ops, names)
{
	static const struct {
		enum policy_op op;
		const char *name;
	} ops[] = {
		{POLICY_OP_BIND_TASK, "bind-task"},
		{POLICY_OP_BIND_PGTABLE, "bind-pgtable"},
		{POLICY_OP_BIND_PASID_TABLE, "bind-pasid-table"},
		{POLICY_OP_OPEN_DEVICE, "open-device"},
	};

	cr_assert_eq(sizeof(ops) / sizeof(ops[0]), _POLICY_OP_MAX);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		cr_assert_str_eq(policy_op_name(ops[i].op), ops[i].name);
		cr_assert_eq(policy_op_from_name(ops[i].name), (int)ops[i].op);
	}
	cr_assert_str_eq(policy_op_name(_POLICY_OP_MAX), "unknown");
	cr_assert_str_eq(policy_op_name(_POLICY_OP_INVALID), "unknown");
	cr_assert_str_eq(policy_op_name((enum policy_op)1000), "unknown");
	cr_assert_eq(policy_op_from_name(""), -EINVAL);
	cr_assert_eq(policy_op_from_name("*"), -EINVAL);
	cr_assert_eq(policy_op_from_name("unknown"), -EINVAL);
	cr_assert_eq(policy_op_from_name("BIND-TASK"), -EINVAL);
	cr_assert_eq(policy_op_from_name("bind-task "), -EINVAL);
	cr_assert_eq(policy_op_from_name("bind"), -EINVAL);
	cr_assert_eq(policy_op_from_name("bind-taskx"), -EINVAL);
	cr_assert_eq(POLICY_OPS_ALL, 0xfu);
}
