/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the policy engine (daemon/policy.c): decisions table by table for every key, the
 * good and the bad corpus with their exact diagnostics, explain's reasons, the index (and a
 * randomized check that it decides as the full walk does), lint, op names and cgroup units.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "policy.h"
#include "svmd-proto.h"

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
	if (strcmp(name, "unreachable") == 0)
		return -ECONNREFUSED;
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
	if (strcmp(name, "unreachable") == 0)
		return -EIO;
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
	char what[80];
	char policy[192];
	uid_t uid;
	gid_t gid;
	gid_t groups[3]; /* supplementary */
	size_t n_groups;
	char units[3][32]; /* the caller's unit and slices, innermost first */
	size_t n_units;
	bool units_unknown; /* the units could not be found out */
	char exe[48];       /* "": unknown */
	enum policy_op op;
	char device[24]; /* "": DEV0; reload has no device */
	uint32_t iommu_group;
	uint16_t vendor, device_id;
	uint32_t model; /* enum svmd_model */
	uint32_t pasid;
	bool other_target;
	uint32_t addr_width;
	uint64_t vtd_flags;
	int warnings; /* exactly this many (unknown names, keys that do not apply); -1: any */
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

/* The caller runs in a VM's unit; a page-table bind on 0000:3b:00.0 as the simulator has it. */
#define VM1      .units = {"qemu@vm1.service", "machine.slice"}, .n_units = 2
#define QEMU     "/usr/bin/qemu-system-x86_64"
#define EXE_QEMU .exe = QEMU
#define DEV3B    .iommu_group = 12, .vendor = 0x8086, .device_id = 0x0b25, .model = SVMD_MODEL_VTD
#define PG       .op = POLICY_OP_BIND_PGTABLE, .addr_width = 48
#define ALL_DEVICE_KEYS                                                                            \
	"allow bind-pgtable device=0000:3b:00.0 iommu-group=12 pci-id=8086:0b25 model=vtd "        \
	"pasid=100-199 addr-width=48 vtd-flags=sre"

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
		 OP(BIND_PASID_TABLE), .warnings = 2, NO_MATCH},
		{"pasid key on open-device never matches", "allow * pasid=auto", AS_ALICE,
		 OP(OPEN_DEVICE), .warnings = 2, NO_MATCH},
		{"pasid range on bind-pasid-table never matches", "allow * pasid=1-1048575",
		 AS_ALICE, OP(BIND_PASID_TABLE), .warnings = 2, NO_MATCH},
		{"pasid key on bind-pgtable", "allow * pasid=1-1048575", AS_ALICE, OP(BIND_PGTABLE),
		 .pasid = 42, .warnings = 2, ALLOWED(1)},
		{"deny with pasid does not cover open-device", "deny * pasid=auto\nallow *",
		 AS_ALICE, OP(OPEN_DEVICE), .warnings = 2, ALLOWED(2)},
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
		{"unknown user never matches", "allow * user=nosuch", AS_CAROL, .warnings = 1,
		 NO_MATCH},
		{"unknown user, root", "allow * user=nosuch", .uid = 0, .gid = 0, .warnings = 1,
		 NO_MATCH},
		{"unknown user in a list, known one", "allow * user=nosuch,alice", AS_ALICE,
		 .warnings = 1, ALLOWED(1)},
		{"unknown group never matches", "allow * group=nosuch", AS_CAROL,
		 .groups = {ACCEL, VIDEO}, .n_groups = 2, .warnings = 1, NO_MATCH},
		/*
		 * The subject with uid/gid -1 (what ops.c's subject_for_uid() uses when getpwuid()
		 * knows no such uid) must not match an unknown name either.
		 */
		{"unknown user vs uid -1", "allow * user=nosuch", .uid = (uid_t)-1, .gid = USERS,
		 .warnings = 1, NO_MATCH},
		{"unknown group vs gid -1", "allow * group=nosuch", .uid = CAROL, .gid = (gid_t)-1,
		 .warnings = 1, NO_MATCH},
		/* max= is not a match key */
		{"max= alone", "allow * max=1", AS_ALICE, ALLOWED(1)},
		{"max= with keys", "allow bind-task user=alice max=1\nallow *", AS_ALICE,
		 ALLOWED(1)},
		{"max= with keys, other user", "allow bind-task user=alice max=1\ndeny *", AS_BOB,
		 DENIED(2)},
		/* unit=: globs on the caller's unit and the slices above it */
		{"unit: the unit itself", "allow * unit=qemu@vm1.service", AS_ALICE, VM1,
		 ALLOWED(1)},
		{"unit: a slice above it", "allow * unit=machine.slice", AS_ALICE, VM1, ALLOWED(1)},
		{"unit: glob", "allow * unit=qemu@*.service", AS_ALICE, VM1, ALLOWED(1)},
		{"unit: glob on the slices", "allow * unit=*.slice", AS_ALICE, VM1, ALLOWED(1)},
		{"unit: bracket glob", "allow * unit=qemu@vm[0-9].service", AS_ALICE, VM1,
		 ALLOWED(1)},
		{"unit: bracket glob, outside", "allow * unit=qemu@vm[2-9].service", AS_ALICE, VM1,
		 NO_MATCH},
		{"unit: backslash quotes", "allow * unit=qemu\\@vm1.service", AS_ALICE, VM1,
		 ALLOWED(1)},
		{"unit: other unit", "allow * unit=qemu@vm2.service", AS_ALICE, VM1, NO_MATCH},
		{"unit: other slice", "allow * unit=system.slice", AS_ALICE, VM1, NO_MATCH},
		{"unit: case matters", "allow * unit=QEMU@vm1.service", AS_ALICE, VM1, NO_MATCH},
		{"unit: the whole name", "allow * unit=qemu@vm1", AS_ALICE, VM1, NO_MATCH},
		{"unit: comma list", "allow * unit=sshd.service,machine.slice", AS_ALICE, VM1,
		 ALLOWED(1)},
		{"unit: repeated = any", "allow * unit=sshd.service unit=qemu@vm1.service",
		 AS_ALICE, VM1, ALLOWED(1)},
		{"unit: repeated, none", "allow * unit=sshd.service unit=user.slice", AS_ALICE, VM1,
		 NO_MATCH},
		{"unit: * matches any unit", "allow * unit=*", AS_ALICE, VM1, ALLOWED(1)},
		{"unit: no units never match, not even *", "allow * unit=*", AS_ALICE, NO_MATCH},
		{"unit: beyond n_units is not looked at", "allow * unit=machine.slice", AS_ALICE,
		 .units = {"qemu@vm1.service", "machine.slice"}, .n_units = 1, NO_MATCH},
		{"unit and user must both hold", "allow * user=alice unit=machine.slice", AS_BOB,
		 VM1, NO_MATCH},
		{"unit applies to reload", "allow reload unit=machine.slice", AS_ALICE, VM1,
		 OP(RELOAD), ALLOWED(1)},
		/* exe=: one exact path per key */
		{"exe: exact path", "allow * exe=" QEMU, AS_ALICE, EXE_QEMU, ALLOWED(1)},
		{"exe: a prefix is not the path", "allow * exe=/usr/bin/qemu", AS_ALICE, EXE_QEMU,
		 NO_MATCH},
		{"exe: a longer path", "allow * exe=" QEMU "x", AS_ALICE, EXE_QEMU, NO_MATCH},
		{"exe: unknown executable never matches", "allow * exe=" QEMU, AS_ALICE, NO_MATCH},
		/* Identity that could not be found out fails closed: deny rules still apply. */
		{"exe: unknown executable, a deny applies", "deny * exe=" QEMU "\nallow *",
		 AS_ALICE, DENIED(1)},
		{"exe: known other executable, the deny does not", "deny * exe=" QEMU "\nallow *",
		 AS_ALICE, .exe = "/bin/sh", ALLOWED(2)},
		{"unit: unknown units, an allow does not apply", "allow * unit=*", AS_ALICE,
		 .units_unknown = true, NO_MATCH},
		{"unit: unknown units, a deny applies", "deny * unit=vm-*.service\nallow *",
		 AS_ALICE, .units_unknown = true, DENIED(1)},
		{"unit: known, no unit, the deny does not", "deny * unit=vm-*.service\nallow *",
		 AS_ALICE, ALLOWED(2)},
		{"exe: not a glob", "allow * exe=/usr/bin/*", AS_ALICE, EXE_QEMU, NO_MATCH},
		{"exe: * is a character", "allow * exe=/usr/bin/*", AS_ALICE, .exe = "/usr/bin/*",
		 ALLOWED(1)},
		{"exe: commas are part of the path", "allow * exe=/opt/a,b", AS_ALICE,
		 .exe = "/opt/a,b", ALLOWED(1)},
		{"exe: commas make no list", "allow * exe=/opt/a,b", AS_ALICE, .exe = "/opt/a",
		 NO_MATCH},
		{"exe: commas make no list, second", "allow * exe=/opt/a,b", AS_ALICE, .exe = "b",
		 NO_MATCH},
		{"exe: repeated = any", "allow * exe=/bin/sh exe=" QEMU, AS_ALICE, EXE_QEMU,
		 ALLOWED(1)},
		{"exe: repeated, none", "allow * exe=/bin/sh exe=/bin/bash", AS_ALICE, EXE_QEMU,
		 NO_MATCH},
		{"exe: case matters", "allow * exe=/USR/bin/qemu-system-x86_64", AS_ALICE, EXE_QEMU,
		 NO_MATCH},
		{"exe: / alone", "allow * exe=/", AS_ALICE, .exe = "/", ALLOWED(1)},
		{"exe applies to reload", "allow reload exe=/usr/bin/svmctl", AS_ALICE,
		 .exe = "/usr/bin/svmctl", OP(RELOAD), ALLOWED(1)},
		/* iommu-group= */
		{"iommu-group: its group", "allow * iommu-group=12", AS_ALICE, DEV3B, ALLOWED(1)},
		{"iommu-group: other group", "allow * iommu-group=13", AS_ALICE, DEV3B, NO_MATCH},
		{"iommu-group: list", "allow * iommu-group=13,12", AS_ALICE, DEV3B, ALLOWED(1)},
		{"iommu-group: repeated", "allow * iommu-group=1 iommu-group=12", AS_ALICE, DEV3B,
		 ALLOWED(1)},
		{"iommu-group: 0", "allow * iommu-group=0", AS_ALICE, .iommu_group = 0, ALLOWED(1)},
		{"iommu-group: 0 is not any group", "allow * iommu-group=0", AS_ALICE, DEV3B,
		 NO_MATCH},
		{"iommu-group: the largest", "allow * iommu-group=4294967295", AS_ALICE,
		 .iommu_group = UINT32_MAX, ALLOWED(1)},
		{"iommu-group: leading zeros", "allow * iommu-group=012", AS_ALICE, DEV3B,
		 ALLOWED(1)},
		/* pci-id= */
		{"pci-id: vendor and device", "allow * pci-id=8086:0b25", AS_ALICE, DEV3B,
		 ALLOWED(1)},
		{"pci-id: hex in either case", "allow * pci-id=8086:0B25", AS_ALICE, DEV3B,
		 ALLOWED(1)},
		{"pci-id: other device id", "allow * pci-id=8086:0b26", AS_ALICE, DEV3B, NO_MATCH},
		{"pci-id: other vendor", "allow * pci-id=8087:0b25", AS_ALICE, DEV3B, NO_MATCH},
		{"pci-id: swapped", "allow * pci-id=0b25:8086", AS_ALICE, DEV3B, NO_MATCH},
		{"pci-id: list", "allow * pci-id=19e5:a250,8086:0b25", AS_ALICE, DEV3B, ALLOWED(1)},
		{"pci-id: repeated", "allow * pci-id=19e5:a250 pci-id=8086:0b25", AS_ALICE, DEV3B,
		 ALLOWED(1)},
		{"pci-id: ffff:ffff", "allow * pci-id=FFFF:ffff", AS_ALICE, .vendor = 0xffff,
		 .device_id = 0xffff, ALLOWED(1)},
		/* model= */
		{"model=vtd, vtd", "allow * model=vtd", AS_ALICE, DEV3B, ALLOWED(1)},
		{"model=vtd, smmu", "allow * model=vtd", AS_ALICE, .model = SVMD_MODEL_SMMU,
		 NO_MATCH},
		{"model=smmu, smmu", "allow * model=smmu", AS_ALICE, .model = SVMD_MODEL_SMMU,
		 ALLOWED(1)},
		{"model=smmu, vtd", "allow * model=smmu", AS_ALICE, DEV3B, NO_MATCH},
		{"model list", "allow * model=smmu,vtd", AS_ALICE, DEV3B, ALLOWED(1)},
		{"model list, no IOMMU", "allow * model=smmu,vtd", AS_ALICE,
		 .model = SVMD_MODEL_NONE, NO_MATCH},
		{"model list, unknown model", "allow * model=smmu,vtd", AS_ALICE, .model = 40,
		 NO_MATCH},
		{"model list, unknown model 33", "allow * model=smmu,vtd", AS_ALICE, .model = 33,
		 NO_MATCH},
		/* addr-width=: bind-pgtable only */
		{"addr-width=48, 48", "allow bind-pgtable addr-width=48", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 48, ALLOWED(1)},
		{"addr-width=48, 57", "allow bind-pgtable addr-width=48", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 57, NO_MATCH},
		{"addr-width=57, 57", "allow bind-pgtable addr-width=57", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 57, ALLOWED(1)},
		{"addr-width=57, 48", "allow bind-pgtable addr-width=57", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 48, NO_MATCH},
		{"addr-width list", "allow bind-pgtable addr-width=48,57", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 57, ALLOWED(1)},
		{"addr-width repeated", "allow bind-pgtable addr-width=57 addr-width=48", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 48, ALLOWED(1)},
		{"addr-width, none asked", "allow bind-pgtable addr-width=48,57", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 0, NO_MATCH},
		{"addr-width, another width", "allow bind-pgtable addr-width=48,57", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 39, NO_MATCH},
		{"no addr-width key: any width", "allow bind-pgtable", AS_ALICE, OP(BIND_PGTABLE),
		 .addr_width = 57, ALLOWED(1)},
		{"addr-width never holds for bind-task",
		 "allow bind-task,bind-pgtable addr-width=48", AS_ALICE, .addr_width = 48,
		 .warnings = 1, NO_MATCH},
		{"addr-width on *: three warnings", "allow * addr-width=48", AS_ALICE,
		 OP(BIND_PGTABLE), .addr_width = 48, .warnings = 3, ALLOWED(1)},
		/* vtd-flags=: what a bind-pgtable may set (a subset) */
		{"vtd-flags: a subset", "allow bind-pgtable vtd-flags=sre,pcd", AS_ALICE, PG,
		 .vtd_flags = 0x1, ALLOWED(1)},
		{"vtd-flags: all of them", "allow bind-pgtable vtd-flags=sre,pcd", AS_ALICE, PG,
		 .vtd_flags = 0x5, ALLOWED(1)},
		{"vtd-flags: one more", "allow bind-pgtable vtd-flags=sre,pcd", AS_ALICE, PG,
		 .vtd_flags = 0x7, NO_MATCH},
		{"vtd-flags: none set", "allow bind-pgtable vtd-flags=sre,pcd", AS_ALICE, PG,
		 .vtd_flags = 0, ALLOWED(1)},
		{"vtd-flags repeated", "allow bind-pgtable vtd-flags=sre vtd-flags=pcd", AS_ALICE,
		 PG, .vtd_flags = 0x5, ALLOWED(1)},
		{"vtd-flags=none, none set", "allow bind-pgtable vtd-flags=none", AS_ALICE, PG,
		 .vtd_flags = 0, ALLOWED(1)},
		{"vtd-flags=none, sre set", "allow bind-pgtable vtd-flags=none", AS_ALICE, PG,
		 .vtd_flags = 0x1, NO_MATCH},
		{"vtd-flags=sre is bit 0", "allow bind-pgtable vtd-flags=sre", AS_ALICE, PG,
		 .vtd_flags = 0x1, ALLOWED(1)},
		{"vtd-flags=eafe is bit 1", "allow bind-pgtable vtd-flags=eafe", AS_ALICE, PG,
		 .vtd_flags = 0x2, ALLOWED(1)},
		{"vtd-flags=pcd is bit 2", "allow bind-pgtable vtd-flags=pcd", AS_ALICE, PG,
		 .vtd_flags = 0x4, ALLOWED(1)},
		{"vtd-flags=pwt is bit 3", "allow bind-pgtable vtd-flags=pwt", AS_ALICE, PG,
		 .vtd_flags = 0x8, ALLOWED(1)},
		{"vtd-flags=emte is bit 4", "allow bind-pgtable vtd-flags=emte", AS_ALICE, PG,
		 .vtd_flags = 0x10, ALLOWED(1)},
		{"vtd-flags=cd is bit 5", "allow bind-pgtable vtd-flags=cd", AS_ALICE, PG,
		 .vtd_flags = 0x20, ALLOWED(1)},
		{"vtd-flags=cd, pwt set", "allow bind-pgtable vtd-flags=cd", AS_ALICE, PG,
		 .vtd_flags = 0x8, NO_MATCH},
		{"vtd-flags=sre, eafe set", "allow bind-pgtable vtd-flags=sre", AS_ALICE, PG,
		 .vtd_flags = 0x2, NO_MATCH},
		{"vtd-flags all names", "allow bind-pgtable vtd-flags=sre,eafe,pcd,pwt,emte,cd",
		 AS_ALICE, PG, .vtd_flags = 0x3f, ALLOWED(1)},
		{"vtd-flags hex", "allow bind-pgtable vtd-flags=0x3f", AS_ALICE, PG,
		 .vtd_flags = 0x3f, ALLOWED(1)},
		{"vtd-flags hex, either case", "allow bind-pgtable vtd-flags=0x3F", AS_ALICE, PG,
		 .vtd_flags = 0x21, ALLOWED(1)},
		{"vtd-flags hex subset", "allow bind-pgtable vtd-flags=0x5", AS_ALICE, PG,
		 .vtd_flags = 0x4, ALLOWED(1)},
		{"vtd-flags hex, outside", "allow bind-pgtable vtd-flags=0x5", AS_ALICE, PG,
		 .vtd_flags = 0x8, NO_MATCH},
		{"vtd-flags=0x0 is none", "allow bind-pgtable vtd-flags=0x0", AS_ALICE, PG,
		 .vtd_flags = 0x1, NO_MATCH},
		{"no vtd-flags key: any flags", "allow bind-pgtable", AS_ALICE, PG,
		 .vtd_flags = 0x3f, ALLOWED(1)},
		{"vtd-flags never holds for open-device",
		 "allow open-device,bind-pgtable vtd-flags=none", AS_ALICE, OP(OPEN_DEVICE),
		 .warnings = 1, NO_MATCH},
		/* every device key at once */
		{"all device keys hold", ALL_DEVICE_KEYS, AS_ALICE, PG, DEV3B, .pasid = 150,
		 .vtd_flags = 0x1, ALLOWED(1)},
		{"all device keys, device fails", ALL_DEVICE_KEYS, AS_ALICE, PG, DEV3B,
		 .device = "0000:3b:00.1", .pasid = 150, .vtd_flags = 0x1, NO_MATCH},
		{"all device keys, group fails", ALL_DEVICE_KEYS, AS_ALICE, PG, .iommu_group = 13,
		 .vendor = 0x8086, .device_id = 0x0b25, .model = SVMD_MODEL_VTD, .pasid = 150,
		 .vtd_flags = 0x1, NO_MATCH},
		{"all device keys, pci-id fails", ALL_DEVICE_KEYS, AS_ALICE, PG, .iommu_group = 12,
		 .vendor = 0x8086, .device_id = 0x0b26, .model = SVMD_MODEL_VTD, .pasid = 150,
		 .vtd_flags = 0x1, NO_MATCH},
		{"all device keys, model fails", ALL_DEVICE_KEYS, AS_ALICE, PG, .iommu_group = 12,
		 .vendor = 0x8086, .device_id = 0x0b25, .model = SVMD_MODEL_SMMU, .pasid = 150,
		 .vtd_flags = 0x1, NO_MATCH},
		{"all device keys, pasid fails", ALL_DEVICE_KEYS, AS_ALICE, PG, DEV3B, .pasid = 250,
		 .vtd_flags = 0x1, NO_MATCH},
		{"all device keys, width fails", ALL_DEVICE_KEYS, AS_ALICE, OP(BIND_PGTABLE),
		 .addr_width = 57, DEV3B, .pasid = 150, .vtd_flags = 0x1, NO_MATCH},
		{"all device keys, flags fail", ALL_DEVICE_KEYS, AS_ALICE, PG, DEV3B, .pasid = 150,
		 .vtd_flags = 0x3, NO_MATCH},
		/* targets= defaults: an allow grants self, a deny refuses both */
		{"allow, targets unsaid, own task", "allow bind-task user=alice", AS_ALICE,
		 ALLOWED(1)},
		{"allow, targets unsaid, other task falls through",
		 "allow bind-task user=alice\nallow bind-task targets=same-user\n", AS_ALICE,
		 .other_target = true, ALLOWED(2)},
		{"deny, targets unsaid, own task", "deny bind-task user=alice\nallow bind-task",
		 AS_ALICE, DENIED(1)},
		{"deny targets=same-user, own task",
		 "deny bind-task user=alice targets=same-user\nallow bind-task", AS_ALICE,
		 DENIED(1)},
		{"targets on other ops: never another process", "allow open-device", AS_ALICE,
		 OP(OPEN_DEVICE), ALLOWED(1)},
		/* reload: named explicitly; subject keys apply, device keys never hold */
		{"* does not cover reload", "allow *", AS_ALICE, OP(RELOAD), NO_MATCH},
		{"* does not cover reload, root", "allow *", .uid = 0, .gid = 0, OP(RELOAD),
		 NO_MATCH},
		{"reload named", "allow reload", AS_ALICE, OP(RELOAD), ALLOWED(1)},
		{"reload is no device op", "allow reload", AS_ALICE, OP(OPEN_DEVICE), NO_MATCH},
		{"reload and * in a list", "allow *,reload", AS_ALICE, OP(RELOAD), ALLOWED(1)},
		{"reload and * in a list, a device op", "allow *,reload", AS_ALICE,
		 OP(BIND_PASID_TABLE), ALLOWED(1)},
		{"reload, user", "allow reload user=alice", AS_ALICE, OP(RELOAD), ALLOWED(1)},
		{"reload, other user", "allow reload user=alice", AS_BOB, OP(RELOAD), NO_MATCH},
		{"reload, group", "allow reload group=accel", .uid = CAROL, .gid = ACCEL,
		 OP(RELOAD), ALLOWED(1)},
		{"reload, deny first", "deny reload user=bob\nallow reload", AS_BOB, OP(RELOAD),
		 DENIED(1)},
		{"reload, deny first, other user", "deny reload user=bob\nallow reload", AS_ALICE,
		 OP(RELOAD), ALLOWED(2)},
		{"reload, device= never holds", "allow reload,open-device device=" DEV0, AS_ALICE,
		 OP(RELOAD), .warnings = 1, NO_MATCH},
		{"reload, device= still holds for open-device",
		 "allow reload,open-device device=" DEV0, AS_ALICE, OP(OPEN_DEVICE), .warnings = 1,
		 ALLOWED(1)},
		{"reload, device=* never holds", "allow reload,open-device device=*", AS_ALICE,
		 OP(RELOAD), .warnings = 1, NO_MATCH},
		{"reload, iommu-group= never holds", "allow reload,bind-task iommu-group=12",
		 AS_ALICE, OP(RELOAD), DEV3B, .warnings = 1, NO_MATCH},
		{"reload, pci-id= never holds", "allow reload,bind-task pci-id=8086:0b25", AS_ALICE,
		 OP(RELOAD), DEV3B, .warnings = 1, NO_MATCH},
		{"reload, model= never holds", "allow reload,bind-task model=vtd", AS_ALICE,
		 OP(RELOAD), DEV3B, .warnings = 1, NO_MATCH},
		{"reload, pasid= never holds", "allow reload,bind-task pasid=auto", AS_ALICE,
		 OP(RELOAD), .warnings = 1, NO_MATCH},
		{"reload, a deny with a device key does not apply",
		 "deny reload,open-device device=*\nallow reload", AS_ALICE, OP(RELOAD),
		 .warnings = 1, ALLOWED(2)},
		{"reload, a rule of device keys only never matches", "allow reload device=*",
		 AS_ALICE, OP(RELOAD), .warnings = 1, NO_MATCH},
		{"open-device, a rule with pasid= never matches", "allow open-device pasid=auto",
		 AS_ALICE, OP(OPEN_DEVICE), .warnings = 1, NO_MATCH},
		{"reload, rate=", "allow reload user=alice rate=1/s", AS_ALICE, OP(RELOAD),
		 ALLOWED(1)},
		{"reload, targets=", "allow reload targets=same-user", AS_ALICE, OP(RELOAD),
		 ALLOWED(1)},
		/* limits are not match keys */
		{"max-device= alone", "allow * max-device=1", AS_ALICE, ALLOWED(1)},
		{"rate= alone", "allow * rate=5/s", AS_ALICE, ALLOWED(1)},
		{"all limits with keys",
		 "allow bind-task user=alice max=1 max-device=1 rate=1/s\ndeny *", AS_ALICE,
		 ALLOWED(1)},
		{"all limits with keys, other user",
		 "allow bind-task user=alice max=1 max-device=1 rate=1/s\ndeny *", AS_BOB,
		 DENIED(2)},
		/* revoke: a deny like any other when deciding */
		{"deny revoke denies", "deny * user=bob revoke\nallow *", AS_BOB, DENIED(1)},
		{"deny revoke, other user", "deny * user=bob revoke\nallow *", AS_ALICE,
		 ALLOWED(2)},
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
	const char *units[3];
	struct identity s = {
		.uid = row->uid,
		.gid = row->gid,
		.groups = row->groups,
		.n_groups = row->n_groups,
		.exe = row->exe[0] ? row->exe : NULL,
		.units = row->units_unknown ? NULL : units,
		.n_units = row->n_units,
	};
	struct policy_request req = {
		.op = row->op,
		.device = row->op == POLICY_OP_RELOAD ? NULL
			  : row->device[0]            ? row->device
						      : DEV0,
		.iommu_group = row->iommu_group,
		.vendor = row->vendor,
		.device_id = row->device_id,
		.model = row->model,
		.pasid = row->pasid,
		.other_target = row->other_target,
		.addr_width = row->addr_width,
		.vtd_flags = row->vtd_flags,
	};
	struct policy_decision d = {.verdict = POLICY_ALLOW}, e = {.verdict = POLICY_ALLOW};
	unsigned steps = 0;
	int r;

	for (size_t i = 0; i < 3; i++)
		units[i] = row->units[i];
	cr_assert_not_null(p);
	r = policy_add_file(p, FILE_NAME, row->policy, strlen(row->policy), &resolver);
	cr_assert_eq(r, 0, "%s: policy_add_file: %d%s", row->what, r, diags_text(p));
	cr_assert_eq(p->n_errors, 0, "%s: errors%s", row->what, diags_text(p));
	if (row->warnings >= 0)
		cr_assert_eq(p->n_warnings, (size_t)row->warnings, "%s: %zu warnings, want %d%s",
			     row->what, p->n_warnings, row->warnings, diags_text(p));
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
	cr_assert_leq(steps, p->by_op[req.op].n, "%s", row->what);
	if (d.rule)
		cr_assert_geq(steps, 1, "%s", row->what);
	policy_free(p);
}

Test(policy_decide, before_seal_denies)
{
	struct policy *p = policy_new();
	struct identity s = {.uid = ALICE, .gid = USERS};
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
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK].n, 1);
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[0]);
	policy_free(p);
}

Test(policy_decide, invalid_op_denies)
{
	struct policy *p = compile_ok("allow *");
	struct identity s = {.uid = ALICE, .gid = USERS};
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
	struct identity s = {.uid = BOB, .gid = USERS};
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
	cr_assert((r->keys & (1u << POLICY_KEY_PASID)));
	cr_assert(r->pasid_auto);
	cr_assert_eq(r->n_pasids, 0);
	cr_assert((r->keys & (1u << POLICY_KEY_MAX_UID)));
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
	cr_assert((r->keys & (1u << POLICY_KEY_PASID)));
	cr_assert_not(r->pasid_auto);
	cr_assert_eq(r->n_pasids, 1);
	cr_assert_eq(r->pasids[0].lo, 100);
	cr_assert_eq(r->pasids[0].hi, 199);
	cr_assert_not((r->keys & (1u << POLICY_KEY_MAX_UID)));
	cr_assert_eq(r->line, 4);
	cr_assert_eq(r->index, 1);
	cr_assert_str_eq(r->text,
			 "allow\tbind-pgtable\tuser=alice\tdevice=0000:3B:00.0 pasid=100-199");

	r = &p->rules[2];
	cr_assert_eq(r->verdict, POLICY_DENY);
	cr_assert_eq(r->ops, POLICY_OPS_ALL);
	cr_assert_eq(r->n_users, 1);
	cr_assert_eq(r->users[0], BOB);
	cr_assert_not((r->keys & (1u << POLICY_KEY_PASID)));
	cr_assert_not((r->keys & (1u << POLICY_KEY_MAX_UID)));
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
	cr_assert((r->keys & (1u << POLICY_KEY_PASID)));
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
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK].n, 3);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK].rules[0], &p->rules[0]);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK].rules[1], &p->rules[2]);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK].rules[2], &p->rules[4]);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_PGTABLE].n, 2);
	cr_assert_eq(p->by_op[POLICY_OP_BIND_PASID_TABLE].n, 2);
	cr_assert_eq(p->by_op[POLICY_OP_OPEN_DEVICE].n, 2);
	cr_assert_eq(p->by_op[POLICY_OP_OPEN_DEVICE].rules[1], &p->rules[3]);
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
		{"allow bind-task,bind-pgtable unit=qemu@*.service,*.slice unit=a\\@b.service "
		 "exe=/usr/bin/qemu exe=/opt/a,b iommu-group=12,13 pci-id=8086:0b25,FFFF:ffff "
		 "model=vtd,smmu pasid=auto,100-199",
		 1, 1},
		{"allow bind-pgtable addr-width=48,57 addr-width=48 "
		 "vtd-flags=sre,eafe,pcd,pwt,emte,cd "
		 "vtd-flags=none vtd-flags=0x3F,0x0",
		 1, 1},
		{"allow reload user=alice group=accel unit=admin.service exe=/usr/bin/svmctl "
		 "rate=1/s targets=self",
		 1, 1},
		{"deny * user=bob revoke\ndeny reload,* revoke user=alice targets=self", 2, 2},
		{"allow * max=1 max-device=1000000 rate=1000000/s", 1, 1},
		{"allow reload rate=1/s\nallow *,reload", 2, 2},
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

/* A lookup that fails, as opposed to a name that does not exist, is an error: the rule would
 * not mean what it says. */
Test(policy_warnings, failed_lookup_is_an_error)
{
	const char *text =
		"allow * user=alice\ndeny * user=unreachable\nallow * group=unreachable\n";
	struct policy *p = policy_new();

	cr_assert_eq(policy_add_file(p, FILE_NAME, text, strlen(text), &resolver), -EINVAL);
	cr_assert_eq(p->n_errors, 2, "%s", diags_text(p));
	cr_assert_str_eq(p->diags[0],
			 "t.policy:2:13: error: cannot look up user 'unreachable': "
			 "Connection refused; fix the name service or give the user ID");
	cr_assert_str_eq(p->diags[1],
			 "t.policy:3:15: error: cannot look up group 'unreachable': "
			 "Input/output error; fix the name service or give the group ID");
	policy_free(p);
}

/* A key that cannot hold for an op of its rule: one warning per key and op, at the rule. */
Test(policy_warnings, keys_that_do_not_apply)
{
	const char *text =
		"allow * pasid=auto\n"
		"allow reload device=0000:3b:00.0 model=vtd\n"
		"allow bind-task,bind-pgtable vtd-flags=none addr-width=48\n"
		"  deny open-device pasid=5\n"
		"allow reload rate=1/s targets=self user=alice group=accel unit=a exe=/a\n"
		"allow open-device max=1 max-device=1 rate=1/s\n"
		"allow bind-task,bind-pgtable pasid=auto\n";
	static const char *const want[] = {
		"t.policy:1:1: warning: pasid= does not apply to bind-pasid-table: this rule never "
		"matches bind-pasid-table",
		"t.policy:1:1: warning: pasid= does not apply to open-device: this rule never "
		"matches "
		"open-device",
		"t.policy:2:1: warning: device= does not apply to reload: this rule never matches "
		"reload",
		"t.policy:2:1: warning: model= does not apply to reload: this rule never matches "
		"reload",
		"t.policy:3:1: warning: addr-width= does not apply to bind-task: this rule never "
		"matches bind-task",
		"t.policy:3:1: warning: vtd-flags= does not apply to bind-task: this rule never "
		"matches bind-task",
		"t.policy:4:3: warning: pasid= does not apply to open-device: this rule never "
		"matches "
		"open-device",
	};
	int r;
	struct policy *p = compile_len(text, strlen(text), &r);

	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(p->n_errors, 0);
	cr_assert_eq(p->n_rules, 7);
	cr_assert_eq(p->n_diags, sizeof(want) / sizeof(want[0]), "%s", diags_text(p));
	cr_assert_eq(p->n_warnings, p->n_diags);
	for (size_t i = 0; i < p->n_diags; i++)
		cr_assert_str_eq(p->diags[i], want[i]);
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
	"bind-pgtable, bind-pasid-table, open-device, map, reload, invalidate, policy or metrics)"
#define UNKNOWN_KEY(line, col, name)                                                               \
	"t.policy:" #line ":" #col ": error: unknown key '" name "' (see svmd.policy(5))"

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
		{"allow * colour=", .diags = {UNKNOWN_KEY(1, 9, "colour")}}, /* the key first */
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
		/* iommu-group= */
		{"allow * iommu-group=x",
		 .diags = {"t.policy:1:21: error: invalid IOMMU group 'x'"}},
		{"allow * iommu-group=-1",
		 .diags = {"t.policy:1:21: error: invalid IOMMU group '-1'"}},
		{"allow * iommu-group=0x1",
		 .diags = {"t.policy:1:21: error: invalid IOMMU group '0x1'"}},
		{"allow * iommu-group=4294967296",
		 .diags = {"t.policy:1:21: error: invalid IOMMU group '4294967296'"}},
		{"allow * iommu-group=12,x",
		 .diags = {"t.policy:1:24: error: invalid IOMMU group 'x'"}},
		{"allow * iommu-group=12,",
		 .diags = {"t.policy:1:24: error: empty value in iommu-group="}},
		/* pci-id= */
		{"allow * pci-id=8086:0b2", .diags = {"t.policy:1:16: error: invalid PCI id "
						      "'8086:0b2' (want VVVV:DDDD in hex)"}},
		{"allow * pci-id=8086-0b25",
		 .diags = {"t.policy:1:16: error: invalid PCI id '8086-0b25' (want VVVV:DDDD in "
			   "hex)"}},
		{"allow * pci-id=808g:0b25",
		 .diags = {"t.policy:1:16: error: invalid PCI id '808g:0b25' (want VVVV:DDDD in "
			   "hex)"}},
		{"allow * pci-id=08086:b25",
		 .diags = {"t.policy:1:16: error: invalid PCI id '08086:b25' (want VVVV:DDDD in "
			   "hex)"}},
		{"allow * pci-id=8086",
		 .diags = {"t.policy:1:16: error: invalid PCI id '8086' (want VVVV:DDDD in hex)"}},
		{"allow * pci-id=8086:0b25,19e5",
		 .diags = {"t.policy:1:26: error: invalid PCI id '19e5' (want VVVV:DDDD in hex)"}},
		/* model= */
		{"allow * model=VTD",
		 .diags = {"t.policy:1:15: error: invalid model 'VTD' (want vtd or smmu)"}},
		{"allow * model=none",
		 .diags = {"t.policy:1:15: error: invalid model 'none' (want vtd or smmu)"}},
		{"allow * model=vtd,arm",
		 .diags = {"t.policy:1:19: error: invalid model 'arm' (want vtd or smmu)"}},
		/* addr-width= */
		{"allow bind-pgtable addr-width=39",
		 .diags = {"t.policy:1:31: error: invalid address width '39' (want 48 or 57)"}},
		{"allow bind-pgtable addr-width=48,64",
		 .diags = {"t.policy:1:34: error: invalid address width '64' (want 48 or 57)"}},
		{"allow bind-pgtable addr-width=048",
		 .diags = {"t.policy:1:31: error: invalid address width '048' (want 48 or 57)"}},
		/* vtd-flags= */
		{"allow bind-pgtable vtd-flags=foo",
		 .diags = {"t.policy:1:30: error: invalid VT-d flag 'foo' (want sre, eafe, pcd, "
			   "pwt, emte, cd, none or 0xN)"}},
		{"allow bind-pgtable vtd-flags=SRE",
		 .diags = {"t.policy:1:30: error: invalid VT-d flag 'SRE' (want sre, eafe, pcd, "
			   "pwt, emte, cd, none or 0xN)"}},
		{"allow bind-pgtable vtd-flags=sre,bogus",
		 .diags = {"t.policy:1:34: error: invalid VT-d flag 'bogus' (want sre, eafe, pcd, "
			   "pwt, emte, cd, none or 0xN)"}},
		{"allow bind-pgtable vtd-flags=0x",
		 .diags = {"t.policy:1:30: error: invalid VT-d flag '0x' (want sre, eafe, pcd, "
			   "pwt, emte, cd, none or 0xN)"}},
		{"allow bind-pgtable vtd-flags=0x1g",
		 .diags = {"t.policy:1:30: error: invalid VT-d flag '0x1g' (want sre, eafe, pcd, "
			   "pwt, emte, cd, none or 0xN)"}},
		{"allow bind-pgtable vtd-flags=0x10000000000000000",
		 .diags = {"t.policy:1:30: error: invalid VT-d flag '0x10000000000000000' (want "
			   "sre, eafe, pcd, pwt, emte, cd, none or 0xN)"}},
		{"allow bind-pgtable vtd-flags=0x40",
		 .diags = {"t.policy:1:30: error: unknown VT-d flag bits in '0x40' (known: 0x3f)"}},
		{"allow bind-pgtable vtd-flags=0xffffffffffffffff",
		 .diags = {"t.policy:1:30: error: unknown VT-d flag bits in '0xffffffffffffffff' "
			   "(known: 0x3f)"}},
		/* rate= */
		{"allow * rate=5", .diags = {"t.policy:1:14: error: invalid rate '5' (want N/s)"}},
		{"allow * rate=5/m",
		 .diags = {"t.policy:1:14: error: invalid rate '5/m' (want N/s)"}},
		{"allow * rate=/s",
		 .diags = {"t.policy:1:14: error: invalid rate '/s' (want N/s)"}},
		{"allow * rate=0/s",
		 .diags = {"t.policy:1:14: error: invalid rate '0/s' (want 1-1000000/s)"}},
		{"allow * rate=x/s",
		 .diags = {"t.policy:1:14: error: invalid rate 'x/s' (want 1-1000000/s)"}},
		{"allow * rate=1000001/s",
		 .diags = {"t.policy:1:14: error: invalid rate '1000001/s' (want 1-1000000/s)"}},
		{"allow * rate=1/s rate=2/s", .diags = {"t.policy:1:18: error: rate= given twice"}},
		{"deny * rate=1/s",
		 .diags = {"t.policy:1:8: error: rate= on a deny rule has no meaning"}},
		/* max-device= */
		{"allow * max-device=0",
		 .diags = {"t.policy:1:20: error: invalid max-device '0' (want 1-1000000)"}},
		{"allow * max-device=1 max-device=2",
		 .diags = {"t.policy:1:22: error: max-device= given twice"}},
		{"allow * max=1 max-device=1 max-device=1",
		 .diags = {"t.policy:1:28: error: max-device= given twice"}},
		{"deny * max-device=1",
		 .diags = {"t.policy:1:8: error: max-device= on a deny rule has no meaning"}},
		{"allow * max_device=1", .diags = {UNKNOWN_KEY(1, 9, "max_device")}},
		/* max= and max-device= for reload */
		{"allow reload max=1",
		 .diags = {"t.policy:1:1: error: max= and max-device= count bindings: they have no "
			   "meaning for reload"}},
		{"  allow bind-task,reload max-device=2",
		 .diags = {"t.policy:1:3: error: max= and max-device= count bindings: they have no "
			   "meaning for reload"}},
		{"allow *,reload max=1 rate=1/s",
		 .diags = {"t.policy:1:1: error: max= and max-device= count bindings: they have no "
			   "meaning for reload"}},
		{"deny reload max=1",
		 .diags = {"t.policy:1:13: error: max= on a deny rule has no meaning"}},
		/* revoke */
		{"allow * revoke",
		 .diags = {"t.policy:1:9: error: revoke applies to deny rules only"}},
		{"allow * user=alice revoke",
		 .diags = {"t.policy:1:20: error: revoke applies to deny rules only"}},
		{"deny * Revoke",
		 .diags = {"t.policy:1:8: error: expected KEY=VALUE, got 'Revoke'"}},
		{"deny * revoke=yes", .diags = {UNKNOWN_KEY(1, 8, "revoke")}},
		{"allow * reload",
		 .diags = {"t.policy:1:9: error: expected KEY=VALUE, got 'reload'"}},
		/* exe= */
		{"allow * exe=bin/qemu",
		 .diags = {"t.policy:1:13: error: exe= needs an absolute path"}},
		{"allow * exe=~/bin/qemu",
		 .diags = {"t.policy:1:13: error: exe= needs an absolute path"}},
		{"allow * exe=/bin/sh exe=sh",
		 .diags = {"t.policy:1:25: error: exe= needs an absolute path"}},
		{"allow * exe=", .diags = {"t.policy:1:13: error: empty value for 'exe'"}},
		/* unit= */
		{"allow * unit=foo/bar.service",
		 .diags = {"t.policy:1:17: error: invalid character '/' in unit pattern"}},
		{"allow * unit=a.service,b$c",
		 .diags = {"t.policy:1:25: error: invalid character '$' in unit pattern"}},
		{"allow * unit=sshd.service,",
		 .diags = {"t.policy:1:27: error: empty value in unit="}},
		{"allow * unit=", .diags = {"t.policy:1:14: error: empty value for 'unit'"}},
		/* a line with an error gets no does-not-apply warnings */
		{"allow * pasid=auto colour=red", .diags = {UNKNOWN_KEY(1, 20, "colour")}},
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
	struct identity s = {.uid = BOB, .gid = USERS};
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

	/* Unit patterns: 255 characters are fine, 256 are too long. */
	snprintf(text, sizeof(text), "allow * unit=");
	memset(text + 13, 'u', 255);
	text[13 + 255] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(strlen(p->rules[0].units[0]), 255);
	policy_free(p);
	memset(text + 13, 'u', 256);
	text[13 + 256] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(p->n_diags, 1);
	cr_assert_str_eq(p->diags[0], "t.policy:1:14: error: unit pattern too long");
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

/* exe= paths: up to 4095 bytes. */
Test(policy_bad, long_exe_path)
{
	static char text[4200];
	struct policy *p;
	int r;

	strcpy(text, "allow * exe=/");
	memset(text + 13, 'e', 4094);
	text[13 + 4094] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(p->rules[0].n_exes, 1);
	cr_assert_eq(strlen(p->rules[0].exes[0]), 4095);
	policy_free(p);
	memset(text + 13, 'e', 4095);
	text[13 + 4095] = 0;
	p = compile_len(text, strlen(text), &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(p->n_diags, 1);
	cr_assert_str_eq(p->diags[0], "t.policy:1:13: error: exe= needs an absolute path");
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
			   "allow bind-task targets=self\n"     /* 6: targets, as written */
			   "allow bind-task user=alice\n"       /* 7: targets, unsaid */
			   "deny bind-task user=alice targets=same-user\n" /* 8: decides */
			   "allow bind-task\n";                            /* 9: not reached */
	struct policy *p = compile_ok(text);
	struct identity s = {.uid = ALICE, .gid = USERS};
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
	cr_assert_eq(d.rule->line, 8);
	cr_assert_eq(st.n, 7);
	for (unsigned i = 0; i < st.n; i++) {
		cr_assert_eq(st.line[i], i + 2);
		cr_assert_eq(st.matched[i], st.line[i] == 8, "step %u", i);
	}
	cr_assert_str_eq(st.why[0], "user=bob: caller is uid 1001");
	cr_assert_str_eq(st.why[1], "group=video: caller (gid 100, 0 supplementary) is in none of "
				    "them");
	cr_assert_str_eq(st.why[2], "device=0000:3c:*: device is 0000:3b:00.0");
	cr_assert_str_eq(st.why[3], "pasid=5: auto (kernel-chosen PASID) not granted");
	cr_assert_str_eq(st.why[4],
			 "targets=self: binding another process needs targets=same-user");
	cr_assert_str_eq(st.why[5], "targets: binding another process needs targets=same-user");
	cr_assert_str_eq(st.why[6], "");

	/* explain and decide agree */
	policy_decide(p, &s, &req, &d2);
	cr_assert_eq(d2.verdict, d.verdict);
	cr_assert_eq(d2.rule, d.rule);
	policy_free(p);
}

/* One rule, one step: what explain says about the key that fails. */
struct why_row {
	char policy[96];
	enum policy_op op;
	unsigned subject; /* WHY_* */
	uint32_t model;   /* 0: vtd */
	uint32_t pasid;   /* 0: 250 */
	char why[160];
};

#define WHY_NO_UNITS 0x1u /* the caller runs in no unit */
#define WHY_ONE_UNIT 0x2u /* the caller runs in sshd.service only */
#define WHY_NO_EXE   0x4u /* the caller's executable is unknown */
#define WHY_AUTO     0x8u /* the request asks for a kernel-chosen PASID */

ParameterizedTestParameters(policy_explain, reasons)
{
	static struct why_row rows[] = {
		{"allow * user=bob", OP(BIND_TASK), .why = "user=bob: caller is uid 1001"},
		{"allow * user=bob user=1003", OP(BIND_TASK),
		 .why = "user=bob user=1003: caller is uid 1001"},
		{"allow * user=bob,1003", OP(OPEN_DEVICE),
		 .why = "user=bob,1003: caller is uid 1001"},
		{"allow * group=accel", OP(BIND_TASK),
		 .why = "group=accel: caller (gid 100, 1 supplementary) is in none of them"},
		{"allow * unit=sshd.service", OP(BIND_TASK),
		 .why = "unit=sshd.service: caller runs in qemu@vm1.service (and its slices)"},
		{"allow * unit=qemu@vm1.service", OP(BIND_TASK), .subject = WHY_ONE_UNIT,
		 .why = "unit=qemu@vm1.service: caller runs in sshd.service"},
		{"allow * unit=*", OP(BIND_TASK), .subject = WHY_NO_UNITS,
		 .why = "unit=*: caller runs in no systemd unit"},
		{"allow * exe=/bin/sh", OP(BIND_TASK),
		 .why = "exe=/bin/sh: caller runs /usr/bin/qemu-system-x86_64"},
		{"allow * exe=/bin/sh", OP(BIND_TASK), .subject = WHY_NO_EXE,
		 .why = "exe=/bin/sh: the caller's executable is unknown"},
		{"allow * device=0000:3c:00.0", OP(BIND_TASK),
		 .why = "device=0000:3c:00.0: device is 0000:3b:00.0"},
		{"allow * device=0000:3C:00.*", OP(BIND_TASK),
		 .why = "device=0000:3C:00.*: device is 0000:3b:00.0"},
		{"allow * iommu-group=13,14", OP(BIND_TASK),
		 .why = "iommu-group=13,14: 0000:3b:00.0 is in IOMMU group 12"},
		{"allow * pci-id=8086:0B26", OP(BIND_TASK),
		 .why = "pci-id=8086:0B26: 0000:3b:00.0 is 8086:0b25"},
		{"allow * model=smmu", OP(BIND_TASK),
		 .why = "model=smmu: 0000:3b:00.0's IOMMU is vtd"},
		{"allow * model=smmu", OP(BIND_TASK), .model = SVMD_MODEL_NONE + 100,
		 .why = "model=smmu: 0000:3b:00.0's IOMMU is unknown"},
		{"allow bind-pgtable pasid=100-199", OP(BIND_PGTABLE),
		 .why = "pasid=100-199: PASID 250 not granted"},
		{"allow bind-task pasid=100-199", OP(BIND_TASK), .subject = WHY_AUTO,
		 .why = "pasid=100-199: auto (kernel-chosen PASID) not granted"},
		{"allow bind-pgtable addr-width=57", OP(BIND_PGTABLE),
		 .why = "addr-width=57: request asks for 48"},
		{"allow bind-pgtable vtd-flags=sre", OP(BIND_PGTABLE),
		 .why = "vtd-flags=sre: request sets 0x5"},
		{"allow bind-pgtable vtd-flags=none", OP(BIND_PGTABLE),
		 .why = "vtd-flags=none: request sets 0x5"},
		{"allow bind-task", OP(BIND_TASK),
		 .why = "targets: binding another process needs targets=same-user"},
		{"allow bind-task targets=self", OP(BIND_TASK),
		 .why = "targets=self: binding another process needs targets=same-user"},
		/* keys that do not apply to the op */
		{"allow bind-task,bind-pgtable addr-width=48", OP(BIND_TASK),
		 .why = "addr-width=48: does not apply to bind-task"},
		{"allow * pasid=auto", OP(OPEN_DEVICE),
		 .why = "pasid=auto: does not apply to open-device"},
		{"allow * vtd-flags=none", OP(BIND_PASID_TABLE),
		 .why = "vtd-flags=none: does not apply to bind-pasid-table"},
		{"allow reload,open-device device=*", OP(RELOAD),
		 .why = "device=*: does not apply to reload"},
		{"allow reload,open-device model=vtd", OP(RELOAD),
		 .why = "model=vtd: does not apply to reload"},
		/* the first key that fails in the documented order, whatever the written one */
		{"allow bind-pgtable vtd-flags=none model=smmu user=bob", OP(BIND_PGTABLE),
		 .why = "user=bob: caller is uid 1001"},
		{"allow bind-pgtable vtd-flags=none model=smmu user=alice", OP(BIND_PGTABLE),
		 .why = "model=smmu: 0000:3b:00.0's IOMMU is vtd"},
		{"allow bind-pgtable vtd-flags=none exe=/bin/sh pasid=1", OP(BIND_PGTABLE),
		 .why = "exe=/bin/sh: caller runs /usr/bin/qemu-system-x86_64"},
		{"allow bind-pgtable vtd-flags=none pasid=250 addr-width=57", OP(BIND_PGTABLE),
		 .why = "addr-width=57: request asks for 48"},
		{"allow reload group=accel user=alice unit=foo.service", OP(RELOAD),
		 .why = "group=accel: caller (gid 100, 1 supplementary) is in none of them"},
	};
	return cr_make_param_array(struct why_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct why_row *row, policy_explain, reasons)
{
	static const gid_t groups[] = {VIDEO};
	const char *vm1[] = {"qemu@vm1.service", "machine.slice"}, *sshd[] = {"sshd.service"};
	struct identity s = {
		.uid = ALICE,
		.gid = USERS,
		.groups = groups,
		.n_groups = 1,
		.exe = row->subject & WHY_NO_EXE ? NULL : QEMU,
		.units = row->subject & WHY_ONE_UNIT ? sshd : vm1,
		.n_units = row->subject & WHY_NO_UNITS   ? 0
			   : row->subject & WHY_ONE_UNIT ? 1
							 : 2,
	};
	struct policy_request req = {
		.op = row->op,
		.device = row->op == POLICY_OP_RELOAD ? NULL : DEV0,
		.iommu_group = 12,
		.vendor = 0x8086,
		.device_id = 0x0b25,
		.model = row->model ? row->model : SVMD_MODEL_VTD,
		.pasid = row->subject & WHY_AUTO ? 0
			 : row->pasid            ? row->pasid
						 : 250,
		.other_target = row->op == POLICY_OP_BIND_TASK,
		.addr_width = 48,
		.vtd_flags = 0x5,
	};
	int r;
	struct policy *p = compile_len(row->policy, strlen(row->policy), &r);
	struct policy_decision d = {.verdict = POLICY_ALLOW}, d2;
	struct steps st = {0};

	cr_assert_eq(r, 0, "%s:%s", row->policy, diags_text(p));
	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 1, "%s: %u steps", row->policy, st.n);
	cr_assert_not(st.matched[0], "%s matched", row->policy);
	cr_assert_str_eq(st.why[0], row->why, "%s", row->policy);
	cr_assert_null(d.rule);
	cr_assert_eq(d.verdict, POLICY_DENY);
	policy_decide(p, &s, &req, &d2);
	cr_assert_null(d2.rule);
	policy_free(p);
}

Test(policy_explain, pasid_reasons)
{
	const char *text = "allow * pasid=5,100-199\nallow * user=bob\n";
	int r;
	struct policy *p = compile_len(text, strlen(text), &r);
	struct identity s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_BIND_PGTABLE, .device = DEV0, .pasid = 42};
	struct policy_decision d;
	struct steps st = {0};

	/* pasid= on '*' does not apply to two of its ops: a warning each. */
	cr_assert_eq(r, 0);
	cr_assert_eq(p->n_warnings, 2, "%s", diags_text(p));
	cr_assert_str_eq(p->diags[0], "t.policy:1:1: warning: pasid= does not apply to "
				      "bind-pasid-table: this rule never matches bind-pasid-table");
	cr_assert_str_eq(p->diags[1], "t.policy:1:1: warning: pasid= does not apply to "
				      "open-device: this rule never matches open-device");

	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 2);
	cr_assert_str_eq(st.why[0], "pasid=5,100-199: PASID 42 not granted");
	cr_assert_str_eq(st.why[1], "user=bob: caller is uid 1001");
	cr_assert_null(d.rule);
	cr_assert_eq(d.verdict, POLICY_DENY);

	memset(&st, 0, sizeof(st));
	req.op = POLICY_OP_OPEN_DEVICE;
	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 2);
	cr_assert_str_eq(st.why[0], "pasid=5,100-199: does not apply to open-device");
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
	struct identity s = {.uid = ALICE, .gid = USERS};
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
	cr_assert(starts_with(st.why[0], "user=bob: "), "%s", st.why[0]);
	cr_assert(starts_with(st.why[1], "group=accel: "), "%s", st.why[1]);
	cr_assert(starts_with(st.why[2], "device=0000:3c:00.0: "), "%s", st.why[2]);
	policy_free(p);
}

Test(policy_explain, first_rule_decides)
{
	struct policy *p = compile_ok("allow *\ndeny *\n");
	struct identity s = {.uid = 0, .gid = 0};
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

/* Explain walks only the rules naming reload; '*' rules are not among them. */
Test(policy_explain, reload)
{
	const char *text = "allow * user=alice\n"
			   "allow reload user=bob\n"
			   "deny reload group=video\n"
			   "allow reload\n";
	struct policy *p = compile_ok(text);
	struct identity s = {.uid = ALICE, .gid = VIDEO};
	struct policy_request req = {.op = POLICY_OP_RELOAD};
	struct policy_decision d;
	struct steps st = {0};

	cr_assert_eq(p->by_op[POLICY_OP_RELOAD].n, 3);
	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(st.n, 2);
	cr_assert_eq(st.line[0], 2);
	cr_assert_str_eq(st.why[0], "user=bob: caller is uid 1001");
	cr_assert_eq(st.line[1], 3);
	cr_assert(st.matched[1]);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_eq(d.rule, &p->rules[2]);
	policy_free(p);
}

/* ---- the new keys as compiled ---- */

Test(policy_good, fields_of_the_new_keys)
{
	const char *text =
		"allow bind-pgtable user=alice unit=qemu@*.service,machine.slice exe=/usr/bin/qemu "
		"exe=/opt/a,b iommu-group=12,0 pci-id=8086:0B25 model=smmu addr-width=57 "
		"vtd-flags=sre,cd max=2 max-device=3 rate=10/s\n"
		"deny reload user=bob revoke\n"
		"deny * targets=self\n"
		"allow open-device model=vtd model=smmu vtd-flags=0x3f addr-width=48,57\n";
	int ret;
	struct policy *p = compile_len(text, strlen(text), &ret);
	const struct policy_rule *r = &p->rules[0];

	cr_assert_eq(ret, 0, "%s", diags_text(p));
	/* rule 4's vtd-flags= and addr-width= never hold for open-device */
	cr_assert_eq(p->n_warnings, 2, "%s", diags_text(p));
	cr_assert_str_eq(p->diags[0], "t.policy:4:1: warning: addr-width= does not apply to "
				      "open-device: this rule never matches open-device");
	cr_assert_str_eq(p->diags[1], "t.policy:4:1: warning: vtd-flags= does not apply to "
				      "open-device: this rule never matches open-device");
	cr_assert_eq(p->n_rules, 4);
	cr_assert(p->uses_unit);
	cr_assert(p->uses_exe);

	cr_assert_eq(r->ops, 1u << POLICY_OP_BIND_PGTABLE);
	cr_assert_eq(r->n_units, 2);
	cr_assert_str_eq(r->units[0], "qemu@*.service");
	cr_assert_str_eq(r->units[1], "machine.slice");
	cr_assert_eq(r->n_exes, 2);
	cr_assert_str_eq(r->exes[0], "/usr/bin/qemu");
	cr_assert_str_eq(r->exes[1], "/opt/a,b");
	cr_assert_eq(r->n_iommu_groups, 2);
	cr_assert_eq(r->iommu_groups[0], 12);
	cr_assert_eq(r->iommu_groups[1], 0);
	cr_assert_eq(r->n_pci_ids, 1);
	cr_assert_eq(r->pci_ids[0].vendor, 0x8086);
	cr_assert_eq(r->pci_ids[0].device, 0x0b25);
	cr_assert_eq(r->models, 1u << SVMD_MODEL_SMMU);
	cr_assert_eq(r->addr_widths, 2u);
	cr_assert_eq(r->vtd_flags, 0x21);
	cr_assert_eq(r->max, 2);
	cr_assert_eq(r->max_device, 3);
	cr_assert_eq(r->rate, 10);
	cr_assert_not(r->revoke);
	cr_assert_eq(r->targets, POLICY_TARGETS_SELF);
	cr_assert_eq(r->keys, 1u << POLICY_KEY_USER | 1u << POLICY_KEY_UNIT | 1u << POLICY_KEY_EXE |
				      1u << POLICY_KEY_IOMMU_GROUP | 1u << POLICY_KEY_PCI_ID |
				      1u << POLICY_KEY_MODEL | 1u << POLICY_KEY_ADDR_WIDTH |
				      1u << POLICY_KEY_VTD_FLAGS | 1u << POLICY_KEY_MAX_UID |
				      1u << POLICY_KEY_MAX_DEVICE | 1u << POLICY_KEY_RATE);
	cr_assert_str_eq(r->key_text[POLICY_KEY_USER], "user=alice");
	cr_assert_str_eq(r->key_text[POLICY_KEY_UNIT], "unit=qemu@*.service,machine.slice");
	cr_assert_str_eq(r->key_text[POLICY_KEY_EXE], "exe=/usr/bin/qemu exe=/opt/a,b");
	cr_assert_str_eq(r->key_text[POLICY_KEY_PCI_ID], "pci-id=8086:0B25");
	cr_assert_str_eq(r->key_text[POLICY_KEY_MAX_DEVICE], "max-device=3");
	cr_assert_str_eq(r->key_text[POLICY_KEY_RATE], "rate=10/s");
	cr_assert_null(r->key_text[POLICY_KEY_DEVICE]);
	cr_assert_null(r->key_text[POLICY_KEY_TARGETS]);

	r = &p->rules[1];
	cr_assert_eq(r->ops, 1u << POLICY_OP_RELOAD);
	cr_assert(r->revoke);
	cr_assert_eq(r->verdict, POLICY_DENY);
	cr_assert_eq(r->targets, POLICY_TARGETS_SAME_USER); /* a deny's default */
	cr_assert_str_eq(r->text, "deny reload user=bob revoke");

	r = &p->rules[2];
	cr_assert_eq(r->ops, POLICY_OPS_ALL);
	cr_assert_eq(r->targets, POLICY_TARGETS_SELF);
	cr_assert_not(r->revoke);

	r = &p->rules[3];
	cr_assert_eq(r->models, 1u << SVMD_MODEL_VTD | 1u << SVMD_MODEL_SMMU);
	cr_assert_eq(r->vtd_flags, 0x3f);
	cr_assert_eq(r->addr_widths, 3u);
	cr_assert_eq(r->targets, POLICY_TARGETS_SELF);
	policy_free(p);

	/* Without unit= or exe= rules, nobody's unit or executable is needed. */
	p = compile_ok("allow * user=alice\ndeny reload\n");
	cr_assert_not(p->uses_unit);
	cr_assert_not(p->uses_exe);
	policy_free(p);
	p = compile_ok("allow reload unit=x.service\n");
	cr_assert(p->uses_unit);
	cr_assert_not(p->uses_exe);
	policy_free(p);
}

/* ---- policy_seal: a decision walks only the rules naming its op ---- */

Test(policy_seal, walks_only_rules_of_the_op)
{
	const char *text = "allow open-device user=9999\n"                 /* 1 */
			   "allow bind-pgtable user=9999\n"                /* 2 */
			   "allow bind-task,bind-pgtable user=9999\n"      /* 3 */
			   "allow * user=9999\n"                           /* 4 */
			   "allow bind-pasid-table user=9999\n"            /* 5 */
			   "deny open-device,bind-pasid-table user=9999\n" /* 6 */
			   "allow reload,open-device user=9999\n"          /* 7 */
			   "allow map,open-device user=9999\n"             /* 8 */
			   "allow invalidate user=9999\n"                  /* 9 */
			   "allow policy user=9999\n"                      /* 10 */
			   "allow metrics user=9999\n";                    /* 11 */
	static const struct {
		enum policy_op op;
		unsigned n;
		unsigned lines[5];
	} want[] = {
		{POLICY_OP_BIND_TASK, 2, {3, 4}},
		{POLICY_OP_BIND_PGTABLE, 3, {2, 3, 4}},
		{POLICY_OP_BIND_PASID_TABLE, 3, {4, 5, 6}},
		{POLICY_OP_OPEN_DEVICE, 5, {1, 4, 6, 7, 8}},
		{POLICY_OP_MAP, 1, {8}},
		{POLICY_OP_RELOAD, 1, {7}},
		{POLICY_OP_INVALIDATE, 1, {9}},
		{POLICY_OP_POLICY, 1, {10}},  /* '*' is not it */
		{POLICY_OP_METRICS, 1, {11}}, /* nor this */
	};
	struct policy *p = compile_ok(text);
	struct identity s = {.uid = ALICE, .gid = USERS};

	cr_assert_eq(sizeof(want) / sizeof(want[0]), _POLICY_OP_MAX);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy_request req = {
			.op = want[i].op,
			.device = want[i].op >= POLICY_OP_RELOAD ? NULL : DEV0,
		};
		struct policy_decision d;
		struct steps st = {0};

		cr_assert_eq(p->by_op[want[i].op].n, want[i].n, "%s", policy_op_name(want[i].op));
		policy_explain(p, &s, &req, &d, record_step, &st);
		cr_assert_eq(st.n, want[i].n, "%s: %u steps", policy_op_name(want[i].op), st.n);
		for (unsigned k = 0; k < st.n; k++) {
			cr_assert_eq(st.line[k], want[i].lines[k], "%s step %u",
				     policy_op_name(want[i].op), k);
			cr_assert_str_eq(st.why[k], "user=9999: caller is uid 1001");
		}
		cr_assert_null(d.rule);
	}
	policy_free(p);
}

Test(policy_seal, empty_policy)
{
	struct policy *p = compile_ok("");

	for (int op = 0; op < _POLICY_OP_MAX; op++) {
		cr_assert_eq(p->by_op[op].n, 0);
		cr_assert_eq(p->generic[op].n, 0);
	}
	cr_assert_eq(p->by_device.n, 0);
	cr_assert_eq(p->by_uid.n, 0);
	policy_free(p);
}

/* The bucket of (op, device) or (op, uid), found the long way round. */
static const struct rule_list *bucket(const struct hashmap *h, enum policy_op op,
				      const char *device, uid_t uid)
{
	for (size_t i = 0; i < h->n_buckets; i++)
		for (const struct hnode *e = h->buckets[i]; e; e = e->next) {
			const struct rule_bucket *b = container_of(e, struct rule_bucket, node);
			if (b->op == (unsigned)op &&
			    (device ? strcmp(b->name, device) == 0 : b->uid == uid))
				return &b->list;
		}
	return NULL;
}

static void assert_lines(const struct rule_list *l, unsigned n, const unsigned *lines,
			 const char *what)
{
	cr_assert_not_null(l, "%s: no bucket", what);
	cr_assert_eq(l->n, n, "%s: %zu rules, want %u", what, l->n, n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(l->rules[i]->line, lines[i], "%s: rule %u", what, i);
}

#define LONG_DEVICE "000000000000000000000000000000" /* 30 characters: no bucket name */

/* Where policy_seal() files each rule: exact devices, else resolved users, else generic. */
Test(policy_seal, index_files_rules)
{
	const char *text = "allow bind-task device=0000:3b:00.0\n"                         /* 1 */
			   "allow bind-task device=0000:3b:00.0,0000:3c:00.0 user=alice\n" /* 2 */
			   "allow bind-task device=0000:3b:00.*\n"                         /* 3 */
			   "allow bind-task device=0000:3b:00.*,0000:3c:00.0 user=alice\n" /* 4 */
			   "allow bind-task user=alice,bob\n"                              /* 5 */
			   "allow bind-task user=nosuch\n"                                 /* 6 */
			   "allow bind-task\n"                                             /* 7 */
			   "allow reload,open-device device=0000:3b:00.0\n"                /* 8 */
			   "allow open-device device=" LONG_DEVICE "\n"                    /* 9 */
			   "deny bind-task device=0000:3c:00.0 device=0000:3c:00.0\n"      /* 10 */
			   "allow reload user=bob\n";                                      /* 11 */
	int r;
	struct policy *p = compile_len(text, strlen(text), &r);

	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(p->n_warnings, 2, "%s", diags_text(p)); /* nosuch; device= for reload */
	cr_assert_eq(p->by_op[POLICY_OP_BIND_TASK].n, 8);
	assert_lines(&p->generic[POLICY_OP_BIND_TASK], 2, (unsigned[]){3, 7}, "generic task");
	assert_lines(bucket(&p->by_device, POLICY_OP_BIND_TASK, "0000:3b:00.0", 0), 2,
		     (unsigned[]){1, 2}, "task 3b");
	assert_lines(bucket(&p->by_device, POLICY_OP_BIND_TASK, "0000:3c:00.0", 0), 2,
		     (unsigned[]){2, 10}, "task 3c");
	assert_lines(bucket(&p->by_uid, POLICY_OP_BIND_TASK, NULL, ALICE), 2, (unsigned[]){4, 5},
		     "task alice");
	assert_lines(bucket(&p->by_uid, POLICY_OP_BIND_TASK, NULL, BOB), 1, (unsigned[]){5},
		     "task bob");
	cr_assert_null(bucket(&p->by_uid, POLICY_OP_BIND_TASK, NULL, POLICY_ID_UNRESOLVED));
	/* reload has no device: the rule naming one is generic there */
	assert_lines(&p->generic[POLICY_OP_RELOAD], 1, (unsigned[]){8}, "generic reload");
	assert_lines(bucket(&p->by_uid, POLICY_OP_RELOAD, NULL, BOB), 1, (unsigned[]){11},
		     "reload bob");
	assert_lines(bucket(&p->by_device, POLICY_OP_OPEN_DEVICE, "0000:3b:00.0", 0), 1,
		     (unsigned[]){8}, "open 3b");
	assert_lines(&p->generic[POLICY_OP_OPEN_DEVICE], 1, (unsigned[]){9}, "generic open");
	cr_assert_null(bucket(&p->by_device, POLICY_OP_RELOAD, "0000:3b:00.0", 0));
	cr_assert_eq(p->by_device.n, 3);
	cr_assert_eq(p->by_uid.n, 3);

	/* Decisions across the three lists keep file order. */
	struct identity s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_BIND_TASK, .device = "0000:3c:00.0"};
	struct policy_decision d;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[1]); /* 2: the device's bucket */
	s.uid = BOB;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[4]); /* 5: bob's bucket */
	s.uid = CAROL;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[6]); /* 7: generic, before 10 in the device's bucket */
	req.op = POLICY_OP_OPEN_DEVICE;
	req.device = LONG_DEVICE;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[8]);
	req.op = POLICY_OP_RELOAD;
	req.device = NULL;
	policy_decide(p, &s, &req, &d);
	cr_assert_null(d.rule);
	s.uid = BOB;
	policy_decide(p, &s, &req, &d);
	cr_assert_eq(d.rule, &p->rules[10]);
	policy_free(p);
}

/* ---- the index against the full walk, on random policies ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: the same sequence on every run, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32) % n;
}

#define PICK(a) ((a)[rnd(sizeof(a) / sizeof((a)[0]))])

static const char *const rand_devices[] = {
	"0000:3b:00.0", "0000:3b:00.1", "0000:3c:00.0", "0000:5e:00.0",
	"0000:5e:00.1", "0000:af:00.0", "0000:00:02.0", "0000:3B:00.0",
};
static const char *const rand_globs[] = {
	"0000:3b:00.*", "0000:3?:00.0", "0000:5e:00.[01]", "*", "0000:[35]*", "0000:3b:00.[!0]",
};

/* Appends "KEY=a,b" with 1-2 values from pool. */
static void add_list(char **t, const char *key, const char *const *pool, size_t n)
{
	size_t k = 1 + rnd(2);

	*t += sprintf(*t, " %s=", key);
	for (size_t i = 0; i < k; i++)
		*t += sprintf(*t, "%s%s", i ? "," : "", pool[rnd((uint32_t)n)]);
}

#define ADD_LIST(t, key, pool) add_list(t, key, pool, sizeof(pool) / sizeof(pool[0]))

/* One random rule: mostly selective, so decisions walk deep into the lists. */
static void random_rule(char **t)
{
	static const char *const ops[] = {
		"bind-task", "bind-pgtable", "bind-pasid-table", "open-device", "map", "reload",
		"*"};
	static const char *const users[] = {"alice", "bob", "1001", "1002", "1003", "0", "nosuch"};
	static const char *const groups[] = {"accel", "video", "2001", "100", "nosuch"};
	static const char *const units[] = {"qemu@*.service", "machine.slice", "*.slice",
					    "sshd.service", "qemu@vm1.service"};
	static const char *const exes[] = {"/usr/bin/qemu", "/bin/sh", "/opt/a,b"};
	static const char *const igroups[] = {"12", "13", "20"};
	static const char *const pci[] = {"8086:0b25", "19e5:a250"};
	static const char *const models[] = {"vtd", "smmu"};
	static const char *const flags[] = {"sre", "eafe", "pcd", "pwt", "emte", "cd", "none"};
	bool allow = rnd(4) != 0, reload = false, only_map = true;
	unsigned n_ops = 1 + rnd(2);

	*t += sprintf(*t, "%s ", allow ? "allow" : "deny");
	for (unsigned i = 0; i < n_ops; i++) {
		const char *op = PICK(ops);
		reload = reload || strcmp(op, "reload") == 0;
		only_map = only_map && strcmp(op, "map") == 0;
		*t += sprintf(*t, "%s%s", i ? "," : "", op);
	}
	if (rnd(3) == 0)
		*t += sprintf(*t, " device=%s", PICK(rand_devices));
	else if (rnd(3) == 0)
		*t += sprintf(*t, " device=%s,%s", PICK(rand_devices), PICK(rand_devices));
	else if (rnd(3) == 0)
		*t += sprintf(*t, " device=%s", PICK(rand_globs));
	if (rnd(5) < 2)
		ADD_LIST(t, "user", users);
	if (rnd(5) == 0)
		ADD_LIST(t, "group", groups);
	if (rnd(6) == 0)
		ADD_LIST(t, "unit", units);
	if (rnd(8) == 0)
		*t += sprintf(*t, " exe=%s", PICK(exes));
	if (rnd(8) == 0)
		ADD_LIST(t, "iommu-group", igroups);
	if (rnd(8) == 0)
		ADD_LIST(t, "pci-id", pci);
	if (rnd(8) == 0)
		ADD_LIST(t, "model", models);
	if (rnd(3) == 0) {
		uint32_t lo = 1 + rnd(300);
		if (rnd(4) == 0)
			*t += sprintf(*t, " pasid=auto");
		else
			*t += sprintf(*t, " pasid=%u-%u", lo, lo + rnd(60));
	}
	if (rnd(8) == 0)
		*t += sprintf(*t, " addr-width=%s", rnd(2) ? "48" : "57,48");
	if (rnd(8) == 0)
		ADD_LIST(t, "vtd-flags", flags);
	if (rnd(4) == 0) {
		unsigned lo = rnd(64) * 0x1000u;
		*t += sprintf(*t, " iova=0x%x-0x%x", lo, lo + rnd(64) * 0x1000u + 0xfffu);
	}
	if (allow && only_map && rnd(3) == 0)
		*t += sprintf(*t, " max-bytes=%uK", 4 * (1 + rnd(64)));
	if (rnd(4) == 0)
		*t += sprintf(*t, " targets=%s", rnd(2) ? "self" : "same-user");
	if (allow && !reload && rnd(6) == 0)
		*t += sprintf(*t, " max=%u max-device=%u", 1 + rnd(4), 1 + rnd(4));
	if (allow && rnd(6) == 0)
		*t += sprintf(*t, " rate=%u/s", 1 + rnd(100));
	if (!allow && rnd(3) == 0)
		*t += sprintf(*t, " revoke");
	*t += sprintf(*t, "\n");
}

static void random_request(struct identity *s, struct policy_request *r, gid_t groups[2],
			   const char **units)
{
	static const uid_t uids[] = {ALICE, BOB, CAROL, 0, (uid_t)-1};
	static const gid_t gids[] = {USERS, ACCEL, VIDEO};
	static const char *const exes[] = {"/usr/bin/qemu", "/bin/sh", "/opt/a,b", "/opt/a"};
	static const char *const unit_sets[][2] = {
		{"qemu@vm1.service", "machine.slice"},
		{"sshd.service", "system.slice"},
		{"qemu@vm2.service", "machine.slice"},
	};
	static const uint32_t igroups[] = {12, 13, 20, 0};
	static const struct pci_id pci[] = {{0x8086, 0x0b25}, {0x19e5, 0xa250}, {0x15b3, 0x101d}};
	unsigned u = rnd(4);

	groups[0] = PICK(gids);
	groups[1] = PICK(gids);
	*s = (struct identity){
		.uid = PICK(uids),
		.gid = PICK(gids),
		.groups = groups,
		.n_groups = rnd(3),
		.exe = rnd(4) ? PICK(exes) : NULL,
		.units = units,
		.n_units = u < 3 ? 1 + rnd(2) : 0,
	};
	if (u < 3) {
		units[0] = unit_sets[u][0];
		units[1] = unit_sets[u][1];
	}
	struct pci_id id = PICK(pci);
	*r = (struct policy_request){
		/* Not POLICY_OP_POLICY: the random rules never name it, and a request no rule can
		 * match tells the index nothing. */
		.op = (enum policy_op)rnd(POLICY_OP_POLICY),
		.device = rnd(10) ? PICK(rand_devices) : "0000:99:00.0",
		.iommu_group = PICK(igroups),
		.vendor = id.vendor,
		.device_id = id.device,
		.model = rnd(3),
		.pasid = rnd(4) ? 1 + rnd(400) : 0,
		.other_target = rnd(3) == 0,
		.addr_width = rnd(3) ? 48 : 57,
		.vtd_flags = rnd(2) ? 0 : rnd(64),
	};
	if (r->op == POLICY_OP_RELOAD)
		r->device = NULL;
}

static bool has_exact_devices(const struct policy_rule *r)
{
	for (size_t i = 0; i < r->n_devices; i++)
		if (strpbrk(r->devices[i], "*?["))
			return false;
	return r->n_devices > 0;
}

struct cross_param {
	uint64_t seed;
	unsigned n_rules;
	unsigned n_requests;
};

ParameterizedTestParameters(policy_index, random_policies_decide_as_explain)
{
	static struct cross_param params[] = {
		{0x5eed0001, 20, 4000},  {0x5eed0002, 100, 4000}, {0x5eed0003, 300, 4000},
		{0x5eed0004, 500, 4000}, {0x5eed0005, 300, 4000}, {0x5eed0006, 1000, 2000},
		{0xdeadbeef, 200, 4000}, {0x12345678, 50, 4000},
	};
	return cr_make_param_array(struct cross_param, params, sizeof(params) / sizeof(params[0]));
}

/* policy_decide() goes by the index; policy_explain() walks every rule of the op. On random
 * policies and requests they must agree on the verdict and on the rule. */
ParameterizedTest(struct cross_param *cp, policy_index, random_policies_decide_as_explain,
		  .timeout = 60)
{
	char *text = malloc((size_t)cp->n_rules * 400), *t = text;
	unsigned by_device = 0, by_user = 0, generic = 0, none = 0, deny = 0, allow = 0;
	struct policy *p = policy_new();
	int r;

	cr_assert_not_null(text);
	rng_state = cp->seed;
	for (unsigned i = 0; i < cp->n_rules; i++)
		random_rule(&t);
	r = policy_add_file(p, FILE_NAME, text, (size_t)(t - text), &resolver);
	cr_assert_eq(r, 0, "%s", diags_text(p));
	cr_assert_eq(p->n_rules, cp->n_rules);
	cr_assert_eq(policy_seal(p), 0);

	for (unsigned i = 0; i < cp->n_requests; i++) {
		struct identity s;
		struct policy_request req;
		struct policy_decision d, e;
		gid_t groups[2];
		const char *units[2];

		random_request(&s, &req, groups, units);
		policy_decide(p, &s, &req, &d);
		policy_explain(p, &s, &req, &e, NULL, NULL);
		cr_assert_eq(
			d.rule, e.rule,
			"request %u (%s on %s, uid %u, PASID %u): decide says line %u, explain "
			"line %u",
			i, policy_op_name(req.op), req.device ? req.device : "-", (unsigned)s.uid,
			req.pasid, d.rule ? d.rule->line : 0, e.rule ? e.rule->line : 0);
		cr_assert_eq(d.verdict, e.verdict, "request %u", i);
		if (!d.rule)
			none++;
		else if (has_exact_devices(d.rule) && req.op != POLICY_OP_RELOAD)
			by_device++;
		else if (d.rule->n_users)
			by_user++;
		else
			generic++;
		if (d.rule)
			*(d.verdict == POLICY_ALLOW ? &allow : &deny) += 1;
	}
	/* The requests exercised every list of the index, and both verdicts. */
	cr_assert_gt(by_device, 0, "device buckets never decided");
	cr_assert_gt(by_user, 0, "uid buckets never decided");
	cr_assert_gt(generic, 0, "the generic lists never decided");
	cr_assert_gt(by_device + by_user + generic, cp->n_requests / 10);
	cr_assert_gt(allow, 0);
	cr_assert_gt(deny, 0);
	policy_free(p);
	free(text);
}

/* ---- lint ---- */

struct lint_row {
	char what[80];
	char policy[256];
	char diags[3][256]; /* exactly these warnings from policy_lint(), in order */
};

#define SHADOW(line, first, first_line)                                                            \
	"t.policy:" #line ":1: warning: rule can never match: '" first "' (t.policy:" #first_line  \
	") comes first and matches all it does"
#define OVERLAP(line, lo_hi, other)                                                                \
	"t.policy:" #line ":1: warning: PASIDs " lo_hi " are also granted to another subject by "  \
	"t.policy:" #other " on overlapping devices"
#define OVERLAP_OTHERS(n) ", and some of this rule's PASIDs to other subjects by " n

ParameterizedTestParameters(policy_lint, corpus)
{
	static struct lint_row rows[] = {
		/* shadowed rules */
		{"a broader rule first",
		 "allow * user=alice\nallow bind-task user=alice device=" DEV0,
		 {SHADOW(2, "allow * user=alice", 1)}},
		{"the same rule twice",
		 "allow bind-task\nallow bind-task",
		 {SHADOW(2, "allow bind-task", 1)}},
		{"a deny shadows an allow",
		 "deny * user=bob\nallow bind-task user=bob",
		 {SHADOW(2, "deny * user=bob", 1)}},
		{"an allow shadows a deny",
		 "allow * targets=same-user\ndeny open-device group=video",
		 {SHADOW(2, "allow * targets=same-user", 1)}},
		{"each shadowed rule once, by the first, with a count of the others",
		 "allow *\nallow *\nallow bind-task",
		 {SHADOW(2, "allow *", 1),
		  SHADOW(3, "allow *", 1) ", as does 1 other earlier rule"}},
		{"a count over device, uid and generic rules",
		 "allow * device=" DEV0 "\nallow bind-task user=alice\nallow bind-task\nallow "
		 "bind-task user=alice device=" DEV0 "\nallow bind-task user=alice device=" DEV0,
		 {SHADOW(4, "allow * device=" DEV0, 1) ", as do 2 other earlier rules",
		  SHADOW(5, "allow * device=" DEV0, 1) ", as do 3 other earlier rules"}},
		{"a device glob covers a device",
		 "allow * device=0000:3b:*\nallow bind-task device=0000:3b:00.1",
		 {SHADOW(2, "allow * device=0000:3b:*", 1)}},
		{"a device glob covers a narrower glob",
		 "allow * device=0000:3b:*\nallow bind-task device=0000:3b:00.*",
		 {SHADOW(2, "allow * device=0000:3b:*", 1)}},
		{"a unit glob covers a unit",
		 "allow * unit=qemu@*.service\nallow * unit=qemu@vm1.service",
		 {SHADOW(2, "allow * unit=qemu@*.service", 1)}},
		{"a unit suffix glob covers a glob",
		 "allow * unit=*.slice\nallow * unit=machine-*.slice",
		 {SHADOW(2, "allow * unit=*.slice", 1)}},
		{"a group list covers one group",
		 "allow * group=accel,video\nallow * group=video",
		 {SHADOW(2, "allow * group=accel,video", 1)}},
		{"exe paths",
		 "allow * exe=/a exe=/b\nallow * exe=/b",
		 {SHADOW(2, "allow * exe=/a exe=/b", 1)}},
		{"pasid ranges together cover",
		 "allow bind-task pasid=100-149,150-199\nallow bind-task pasid=120-180",
		 {SHADOW(2, "allow bind-task pasid=100-149,150-199", 1)}},
		{"vtd-flags: more allowed first",
		 "allow bind-pgtable vtd-flags=sre,pcd\nallow bind-pgtable vtd-flags=sre",
		 {SHADOW(2, "allow bind-pgtable vtd-flags=sre,pcd", 1)}},
		{"targets: same-user first covers self",
		 "allow bind-task targets=same-user\nallow bind-task",
		 {SHADOW(2, "allow bind-task targets=same-user", 1)}},
		{"limits do not take part",
		 "allow bind-task max=1\nallow bind-task rate=2/s",
		 {SHADOW(2, "allow bind-task max=1", 1)}},
		{"reload",
		 "allow reload targets=same-user\ndeny reload user=bob",
		 {SHADOW(2, "allow reload targets=same-user", 1)}},
		/* no shadow */
		{"different users", "allow * user=alice\nallow * user=bob", {""}},
		{"a narrower rule first", "allow bind-task user=alice\nallow * user=alice", {""}},
		{"narrower ops first", "allow bind-task\nallow bind-task,bind-pgtable", {""}},
		{"a key the later rule lacks", "allow * device=" DEV0 "\nallow *", {""}},
		{"a group list after one group",
		 "allow * group=video\nallow * group=accel,video",
		 {""}},
		{"pasids partly covered",
		 "allow bind-task pasid=100-149\nallow bind-task pasid=100-199",
		 {""}},
		{"pasids with a gap",
		 "allow bind-task pasid=100-149,151-199\nallow bind-task pasid=120-180",
		 {""}},
		{"auto is no range",
		 "allow bind-task pasid=1-1048575\nallow bind-task pasid=auto",
		 {""}},
		{"targets: self first does not cover same-user",
		 "allow bind-task\nallow bind-task targets=same-user",
		 {""}},
		{"vtd-flags: fewer allowed first",
		 "allow bind-pgtable vtd-flags=sre\nallow bind-pgtable vtd-flags=sre,pcd",
		 {""}},
		{"addr-width: fewer first",
		 "allow bind-pgtable addr-width=48\nallow bind-pgtable addr-width=48,57",
		 {""}},
		{"models: fewer first", "allow * model=vtd\nallow * model=vtd,smmu", {""}},
		{"a unit ? glob is narrower than *",
		 "allow * unit=qemu@?.service\nallow * unit=qemu@*.service",
		 {""}},
		{"a negated bracket is narrower than *",
		 "allow * device=0000:3b:00.[!0]\nallow * device=0000:3b:00.*",
		 {""}},
		{"a glob with two stars",
		 "allow * unit=*@*.service\nallow * unit=qemu@vm*.service",
		 {""}},
		{"a slice does not cover its units",
		 "allow * unit=machine.slice\nallow * unit=qemu@vm1.service",
		 {""}},
		{"exe: another path", "allow * exe=/a\nallow * exe=/a exe=/b", {""}},
		{"a unit then an exe", "allow * unit=a.service\nallow * exe=/a", {""}},
		/* PASIDs granted to two subjects */
		{"overlapping ranges, two users",
		 "allow bind-pgtable user=alice pasid=100-199\nallow bind-pgtable user=bob "
		 "pasid=150-250",
		 {OVERLAP(2, "150-199", 1)}},
		{"overlapping on a device glob",
		 "allow bind-task user=alice device=0000:3b:* pasid=5\nallow "
		 "bind-task,bind-pgtable group=video device=" DEV0 " pasid=1-10",
		 {OVERLAP(2, "5-5", 1)}},
		{"one warning per rule, naming the first earlier grant",
		 "allow bind-task user=alice pasid=10-20\nallow bind-task user=bob "
		 "pasid=30-40\nallow bind-task unit=a.service pasid=15-35",
		 {OVERLAP(3, "15-20", 1) OVERLAP_OTHERS("1 other earlier rule")}},
		{"overlap: each pair once, whatever the ranges and devices",
		 "allow bind-task user=alice device=" DEV0 ",0000:3c:00.0 pasid=10-20,30-40\nallow "
		 "bind-task user=bob device=0000:3c:00.0," DEV0 " pasid=15-35\nallow bind-task "
		 "user=alice device=0000:3c:00.* pasid=1-100",
		 {OVERLAP(2, "15-20", 1), OVERLAP(3, "15-35", 2)}},
		{"no overlap: same subject",
		 "allow bind-pgtable user=alice pasid=100-199 device=" DEV0
		 "\nallow bind-task user=alice pasid=150-250",
		 {""}},
		{"no overlap: disjoint devices",
		 "allow bind-pgtable user=alice device=0000:3b:00.0 pasid=100-199\nallow "
		 "bind-pgtable user=bob device=0000:3c:00.0 pasid=100-199",
		 {""}},
		{"no overlap: disjoint ranges",
		 "allow bind-pgtable user=alice pasid=100-199\nallow bind-pgtable user=bob "
		 "pasid=200-299",
		 {""}},
		{"no overlap: other ops",
		 "allow bind-task user=alice pasid=100-199\nallow bind-pgtable user=bob "
		 "pasid=100-199",
		 {""}},
		{"no overlap: a deny",
		 "deny bind-pgtable user=alice pasid=100-199\nallow bind-pgtable user=bob "
		 "pasid=100-199",
		 {""}},
		{"no overlap: auto only",
		 "allow bind-task user=alice pasid=auto\nallow bind-task user=bob pasid=auto",
		 {""}},
	};
	return cr_make_param_array(struct lint_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct lint_row *row, policy_lint, corpus)
{
	int r;
	struct policy *p = compile_len(row->policy, strlen(row->policy), &r);
	size_t before = p->n_diags, n = 0;

	cr_assert_eq(r, 0, "%s:%s", row->what, diags_text(p));
	cr_assert_eq(p->n_errors, 0);
	cr_assert_eq(policy_lint(p), 0);
	while (n < 3 && row->diags[n][0])
		n++;
	cr_assert_eq(p->n_diags - before, n, "%s: %zu warnings, want %zu:%s", row->what,
		     p->n_diags - before, n, diags_text(p));
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(p->diags[before + i], row->diags[i], "%s", row->what);
	cr_assert_eq(p->n_errors, 0);
	policy_free(p);
}

/* Lint reports shadowing across files with each rule's own file. */
Test(policy_lint, across_files)
{
	struct policy *p = policy_new();
	const char *a = "\nallow * user=alice\n", *b = "allow open-device user=alice\n";

	cr_assert_eq(policy_add_file(p, "10-a.policy", a, strlen(a), &resolver), 0);
	cr_assert_eq(policy_add_file(p, "20-b.policy", b, strlen(b), &resolver), 0);
	cr_assert_eq(policy_seal(p), 0);
	cr_assert_eq(policy_lint(p), 0);
	cr_assert_eq(p->n_diags, 1, "%s", diags_text(p));
	cr_assert_eq(p->n_warnings, 1);
	cr_assert_str_eq(p->diags[0], "20-b.policy:1:1: warning: rule can never match: 'allow * "
				      "user=alice' (10-a.policy:2) comes first and matches all it "
				      "does");
	policy_free(p);
}

/* ---- lint at scale ---- */

/* Lint's warnings (from diagnostic `from` on) as one string, for comparing two runs. */
static char *diags_from(const struct policy *p, size_t from, size_t to)
{
	size_t len = 1;
	char *s, *q;

	for (size_t i = from; i < to; i++)
		len += strlen(p->diags[i]) + 1;
	s = q = malloc(len);
	cr_assert_not_null(s);
	*q = 0;
	for (size_t i = from; i < to; i++)
		q += sprintf(q, "%s\n", p->diags[i]);
	return s;
}

/*
 * A site policy of n rules shaped like make bench's (tests/bench/svmd-bench.c): generic rules
 * first, then rules for other users, groups, units and executables over a fleet of n / 8
 * devices, by numeric id. On its own lint finds nothing in it; two rules planted before the
 * last must be found among the n: a copy of line 4 (shadowed by it) and a grant of one of line
 * 4's PASIDs to another user on line 4's device.
 */
static char *site_policy(unsigned n, size_t *ret_len, char line4[128])
{
	char *text = malloc((size_t)n * 160), *t = text, dev[16], *rule;
	unsigned n_dev = n / 8, n_uid = n / 4, n_gid = n / 50;

	cr_assert_not_null(text);
	t += sprintf(t, "allow bind-task group=video device=0000:b?:00.* pasid=auto max=8\n");
	t += sprintf(t, "allow bind-pgtable group=2001 unit=vm-*.service device=0000:b*:*.* "
			"pasid=20000-24095 addr-width=48\n");
	t += sprintf(t, "deny open-device group=2003\n");
	for (unsigned i = 0; i < n - 6; i++) {
		unsigned h = i * 2654435761u;
		unsigned uid = 70000 + (h >> 7) % n_uid, gid = 80000 + i % n_gid;
		unsigned lo = 32768 + (i * 64) % 960000, j = (h >> 3) % n_dev;
		snprintf(dev, sizeof(dev), "%04x:%02x:%02x.%x", 1 + (j >> 13), (j >> 5) & 0xff,
			 j & 0x1f, (j >> 4) & 1);
		rule = t;
		switch (i % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			t += sprintf(t,
				     "allow bind-pgtable user=%u device=%s pasid=%u-%u "
				     "addr-width=48 max=64\n",
				     uid, dev, lo, lo + 63);
			break;
		case 5:
			t += sprintf(t, "allow bind-task user=%u device=%.10s.* pasid=auto max=4\n",
				     uid, dev);
			break;
		case 6:
			t += sprintf(
				t, "allow bind-task,bind-pgtable group=%u device=%s pasid=%u-%u\n",
				gid, dev, lo, lo + 63);
			break;
		case 7:
			t += sprintf(t, "allow open-device unit=vm-%u.service device=%s\n", i, dev);
			break;
		case 8:
			t += sprintf(t, "deny * user=%u\n", 100000 + i);
			break;
		default:
			/* Fifteen system users and ten groups share a tenth of the rules. */
			t += sprintf(t,
				     "allow bind-task user=%u group=%u unit=qemu-%u.service "
				     "exe=/usr/bin/qemu-system-x86_64 device=%.8s*.* pasid=auto\n",
				     1 + i / 10 % 15, 10 + i / 10 % 10, i, dev);
			break;
		}
		if (i == 0)
			snprintf(line4, 128, "%.*s", (int)(t - rule - 1), rule);
	}
	/* Line n - 2: line 4 again; line n - 1: PASID 32800 of line 4's device to another. */
	t += sprintf(t, "%s\n", line4);
	t += sprintf(t, "allow bind-pgtable user=1 device=%.12s pasid=32800\n",
		     strstr(line4, "device=") + 7);
	t += sprintf(t, "allow bind-pgtable user=alice device=0000:b0:00.0 pasid=1-16383\n");
	*ret_len = (size_t)(t - text);
	return text;
}

/* Lint of a 100,000-rule site policy compares each rule with the few a decision for it would
 * consider, not with every earlier rule (5,000,000,000 pairs), and still finds what is there. */
Test(policy_lint, scales_with_the_index, .timeout = 120)
{
	const unsigned n = 100000;
	char line4[128], want[2][512];
	size_t len, before;
	char *text = site_policy(n, &len, line4);
	struct policy *p = compile_len(text, len, NULL);

	cr_assert_eq(p->n_rules, n, "%s", diags_text(p));
	cr_assert_eq(p->n_diags, 0, "%s", diags_text(p));
	before = p->n_diags;
	cr_assert_eq(policy_lint(p), 0);
	snprintf(want[0], sizeof(want[0]),
		 "t.policy:%u:1: warning: rule can never match: '%s' (t.policy:4) comes first and "
		 "matches all it does",
		 n - 2, line4);
	snprintf(want[1], sizeof(want[1]),
		 "t.policy:%u:1: warning: PASIDs 32800-32800 are also granted to another subject "
		 "by t.policy:4 on overlapping devices" OVERLAP_OTHERS("1 other earlier rule"),
		 n - 1);
	cr_assert_eq(p->n_diags - before, 2, "%zu warnings:%s", p->n_diags - before, diags_text(p));
	cr_assert_str_eq(p->diags[before], want[0]);
	cr_assert_str_eq(p->diags[before + 1], want[1]);
	/* The index's buckets hold a few rules each, the system users' a few hundred. */
	cr_assert_leq(p->n_lint_pairs, 64 * (size_t)n, "%zu pairs compared for %u rules",
		      p->n_lint_pairs, n);
	policy_free(p);
	free(text);
}

/* 100,000 rules on one device, each naming its own user and PASID: every rule is in the one
 * device bucket, yet each is compared only with the rules naming its user (none), not with the
 * rules before it (5,000,000,000 pairs). A rule naming that user again is still found. */
Test(policy_lint, one_device_many_users, .timeout = 120)
{
	const unsigned n = 100000;
	char *text = malloc((size_t)n * 96), *t = text;
	struct policy *p;
	size_t before;

	cr_assert_not_null(text);
	for (unsigned i = 0; i < n - 1; i++)
		t += sprintf(
			t,
			"allow bind-pgtable user=%u device=0000:3b:00.0 pasid=%u addr-width=48 "
			"max=4\n",
			100000 + i, i + 1);
	t += sprintf(t,
		     "allow bind-pgtable user=100007 device=0000:3b:00.0 pasid=8 addr-width=48\n");
	p = compile_len(text, (size_t)(t - text), NULL);
	cr_assert_eq(p->n_rules, n, "%s", diags_text(p));
	before = p->n_diags;
	cr_assert_eq(policy_lint(p), 0);
	cr_assert_eq(p->n_diags - before, 1, "%s", diags_text(p));
	cr_assert_str_eq(
		p->diags[before],
		"t.policy:100000:1: warning: rule can never match: 'allow bind-pgtable "
		"user=100007 device=0000:3b:00.0 pasid=8 addr-width=48 max=4' (t.policy:8) "
		"comes first and matches all it does");
	cr_assert_leq(p->n_lint_pairs, 8 * (size_t)n, "%zu pairs compared for %u rules",
		      p->n_lint_pairs, n);
	policy_free(p);
	free(text);
}

/* 2,000 users granted the same PASIDs on one device: one warning for each rule after the
 * first, with a count, not one per pair (1,999,000). */
Test(policy_lint, overlapping_grants_once_per_rule)
{
	const unsigned n = 2000;
	char *text = malloc(n * 80), *t = text, want[512], num[16];
	struct policy *p;

	cr_assert_not_null(text);
	for (unsigned i = 0; i < n; i++)
		t += sprintf(t, "allow bind-pgtable user=%u device=" DEV0 " pasid=100-199\n",
			     70000 + i);
	p = compile_len(text, (size_t)(t - text), NULL);
	cr_assert_eq(p->n_diags, 0, "%s", diags_text(p));
	cr_assert_eq(policy_lint(p), 0);
	cr_assert_eq(p->n_diags, n - 1, "%zu warnings", p->n_diags);
	cr_assert_eq(p->n_warnings, n - 1);
	for (unsigned line = 2; line <= n; line++) {
		unsigned k = line - 2;
		if (k >= 1000)
			snprintf(num, sizeof(num), "%u,%03u", k / 1000, k % 1000);
		else
			snprintf(num, sizeof(num), "%u", k);
		snprintf(want, sizeof(want),
			 "t.policy:%u:1: warning: PASIDs 100-199 are also granted to another "
			 "subject by t.policy:1 on overlapping devices%s%s%s",
			 line, k ? OVERLAP_OTHERS("") : "", k ? num : "",
			 k == 0   ? ""
			 : k == 1 ? " other earlier rule"
				  : " other earlier rules");
		cr_assert_str_eq(p->diags[line - 2], want);
	}
	policy_free(p);
	free(text);
}

/* 2,000 copies of one rule: each after the first is shadowed, reported once with a count. */
Test(policy_lint, shadowed_copies_once_per_rule)
{
	const unsigned n = 2000;
	char *text = malloc(n * 80), *t = text, want[512], num[16];
	struct policy *p;

	cr_assert_not_null(text);
	for (unsigned i = 0; i < n; i++)
		t += sprintf(t, "allow bind-pgtable device=" DEV0 " pasid=100-199\n");
	p = compile_len(text, (size_t)(t - text), NULL);
	cr_assert_eq(policy_lint(p), 0);
	cr_assert_eq(p->n_diags, n - 1, "%zu warnings", p->n_diags);
	for (unsigned line = 2; line <= n; line++) {
		unsigned k = line - 2;
		if (k >= 1000)
			snprintf(num, sizeof(num), "%u,%03u", k / 1000, k % 1000);
		else
			snprintf(num, sizeof(num), "%u", k);
		snprintf(want, sizeof(want),
			 "t.policy:%u:1: warning: rule can never match: 'allow bind-pgtable "
			 "device=" DEV0 " pasid=100-199' (t.policy:1) comes first and matches all "
			 "it does%s%s%s",
			 line,
			 k == 0   ? ""
			 : k == 1 ? ", as does "
				  : ", as do ",
			 k ? num : "",
			 k == 0   ? ""
			 : k == 1 ? " other earlier rule"
				  : " other earlier rules");
		cr_assert_str_eq(p->diags[line - 2], want);
	}
	policy_free(p);
	free(text);
}

ParameterizedTestParameters(policy_lint, random_policies_index_as_all_pairs)
{
	static struct cross_param params[] = {
		{0x11a70001, 30, 0},   {0x11a70002, 100, 0},  {0x11a70003, 300, 0},
		{0x11a70004, 1000, 0}, {0x11a70005, 2000, 0}, {0xdeadbeef, 500, 0},
	};
	return cr_make_param_array(struct cross_param, params, sizeof(params) / sizeof(params[0]));
}

/* Lint by the index finds exactly what comparing every earlier rule finds, on random
 * policies, in fewer comparisons. */
ParameterizedTest(struct cross_param *cp, policy_lint, random_policies_index_as_all_pairs,
		  .timeout = 60)
{
	char *text = malloc((size_t)cp->n_rules * 400), *t = text, *a, *b;
	struct policy *p = policy_new();
	size_t n0, n1, pairs, shadowed = 0, overlaps = 0;

	cr_assert_not_null(text);
	rng_state = cp->seed;
	for (unsigned i = 0; i < cp->n_rules; i++)
		random_rule(&t);
	cr_assert_eq(policy_add_file(p, FILE_NAME, text, (size_t)(t - text), &resolver), 0);
	cr_assert_eq(policy_seal(p), 0);
	n0 = p->n_diags;
	cr_assert_eq(policy_lint(p), 0);
	n1 = p->n_diags;
	pairs = p->n_lint_pairs;
	p->lint_all_pairs = true;
	p->n_lint_pairs = 0;
	cr_assert_eq(policy_lint(p), 0);
	a = diags_from(p, n0, n1);
	b = diags_from(p, n1, p->n_diags);
	cr_assert_str_eq(a, b, "by the index:\n%s\nall pairs:\n%s", a, b);
	cr_assert_leq(pairs, p->n_lint_pairs);
	for (size_t i = n0; i < n1; i++) {
		shadowed += strstr(p->diags[i], "can never match") != NULL;
		overlaps += strstr(p->diags[i], "PASIDs") != NULL;
	}
	/* Not vacuous: both kinds, and counts of other rules among them. */
	cr_assert_gt(shadowed, 0, "%s", a);
	if (cp->n_rules >= 100) {
		cr_assert_gt(overlaps, 0, "%s", a);
		cr_assert_not_null(strstr(a, "other earlier rule"));
	}
	free(a);
	free(b);
	policy_free(p);
	free(text);
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
		{POLICY_OP_MAP, "map"},
		{POLICY_OP_RELOAD, "reload"},
		{POLICY_OP_POLICY, "policy"},
		{POLICY_OP_METRICS, "metrics"},
		{POLICY_OP_INVALIDATE, "invalidate"},
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
	cr_assert_eq(policy_op_from_name("Reload"), -EINVAL);
	/* '*' is every device op, not reload */
	cr_assert_eq(POLICY_OPS_ALL, 0xfu);
	cr_assert_eq(POLICY_OPS_ALL & (1u << POLICY_OP_RELOAD), 0);
}

/* ---- cgroup paths to units ---- */

struct cgroup_row {
	char path[96];
	int n;
	char units[6][40];
};

ParameterizedTestParameters(policy_cgroup, units)
{
	static struct cgroup_row rows[] = {
		{"/system.slice/qemu@vm1.service", 2, {"qemu@vm1.service", "system.slice"}},
		/* What a user's own manager names below user@UID.service does not count. */
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.scope",
		 3,
		 {"user@1000.service", "user-1000.slice", "user.slice"}},
		{"/user.slice/user-1000.slice/user@1000.service/machine.slice/vm-evil.service",
		 3,
		 {"user@1000.service", "user-1000.slice", "user.slice"}},
		/* Nor what a delegated subtree below a system unit calls itself. */
		{"/system.slice/docker.service/machine.slice/vm-x.service",
		 2,
		 {"docker.service", "system.slice"}},
		{"/", 0, {""}},
		{"", 0, {""}},
		{"/init.scope", 1, {"init.scope"}},
		{"/system.slice/sshd.socket", 2, {"sshd.socket", "system.slice"}},
		{"/machine.slice/libpod-abc.scope/container",
		 2,
		 {"libpod-abc.scope", "machine.slice"}},
		{"/svmdtest.slice/svmd-app.service/", 2, {"svmd-app.service", "svmdtest.slice"}},
		{"/process_api/7430e26867183a42", 0, {""}},
		{"/.service/x.slice", 0, {""}}, /* a bare suffix names no unit: the walk stops */
		{"system.slice", 1, {"system.slice"}},
		{"//a.service//", 1, {"a.service"}},
	};
	return cr_make_param_array(struct cgroup_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct cgroup_row *row, policy_cgroup, units)
{
	char **v = NULL;
	int n = policy_cgroup_units(row->path, &v);

	cr_assert_eq(n, row->n, "'%s': %d units", row->path, n);
	cr_assert_not_null(v);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(v[i], row->units[i], "'%s' unit %d", row->path, i);
	cr_assert_null(v[n], "'%s': not NULL-terminated", row->path);
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- map: the op, its keys, its limits ---- */

Test(policy_map, parses_its_keys)
{
	struct policy *p = compile_ok("allow map user=alice device=0000:3b:00.0 "
				      "iova=0x100000-0x1fffffff,0x40000000-0x4fffffff "
				      "max-bytes=256M max-device-bytes=1G max=100\n"
				      "allow map user=bob iova=4096-8191 max-bytes=12345\n");
	const struct policy_rule *r = &p->rules[0];

	cr_assert_eq(r->ops, 1u << POLICY_OP_MAP);
	cr_assert_eq(r->n_iovas, 2);
	cr_assert_eq(r->iovas[0].lo, 0x100000);
	cr_assert_eq(r->iovas[0].hi, 0x1fffffff);
	cr_assert_eq(r->iovas[1].lo, 0x40000000);
	cr_assert_eq(r->max_bytes, 256ull << 20);
	cr_assert_eq(r->max_device_bytes, 1ull << 30);
	cr_assert_eq(r->max, 100);
	cr_assert_eq(p->rules[1].iovas[0].lo, 4096);
	cr_assert_eq(p->rules[1].iovas[0].hi, 8191);
	cr_assert_eq(p->rules[1].max_bytes, 12345);
	policy_free(p);
}

Test(policy_map, star_does_not_include_map)
{
	struct policy *p = compile_ok("allow * user=alice\n");

	cr_assert_eq(p->rules[0].ops & (1u << POLICY_OP_MAP), 0u, "map pins memory: named only");
	cr_assert_eq(p->rules[0].ops & (1u << POLICY_OP_OPEN_DEVICE), 1u << POLICY_OP_OPEN_DEVICE);
	policy_free(p);
}

static void compile_fails(const char *text, const char *want)
{
	struct policy *p = policy_new();
	int r = policy_add_file(p, FILE_NAME, text, strlen(text), &resolver);

	cr_assert_eq(r, -EINVAL, "accepted: %s", text);
	cr_assert(strstr(diags_text(p), want), "for %s: %s", text, diags_text(p));
	policy_free(p);
}

Test(policy_map, refuses_what_it_cannot_mean)
{
	compile_fails("allow map iova=5\n", "invalid IOVA range '5'");
	compile_fails("allow map iova=0x2000-0x1000\n", "empty IOVA range");
	compile_fails("allow map iova=0x-0x1000\n", "invalid IOVA range");
	compile_fails("allow map iova=0-18446744073709551616\n", "invalid IOVA range");
	compile_fails("allow map max-bytes=0\n", "invalid max-bytes '0'");
	compile_fails("allow map max-bytes=1X\n", "invalid max-bytes '1X'");
	compile_fails("allow map max-bytes=16777216T\n", "invalid max-bytes");
	compile_fails("allow map max-bytes=1M max-bytes=2M\n", "max-bytes= given twice");
	compile_fails("deny map max-bytes=1M\n", "max-bytes= on a deny rule has no meaning");
	compile_fails("allow map,open-device max-bytes=1M\n", "give them a rule for map alone");
	compile_fails("allow map max-device-bytes=1M,2M\n", "invalid max-device-bytes");
}

Test(policy_map, warns_of_keys_that_do_not_apply)
{
	static const char text[] = "allow bind-task,map iova=0-0xfff pasid=auto\n";
	struct policy *p = compile_len(text, sizeof(text) - 1, NULL);

	cr_assert(strstr(diags_text(p), "iova= does not apply to bind-task"), "%s", diags_text(p));
	cr_assert(strstr(diags_text(p), "pasid= does not apply to map"), "%s", diags_text(p));
	policy_free(p);
}

static enum policy_verdict decide_map(const struct policy *p, uint64_t iova, uint64_t length,
				      char *why, size_t len)
{
	struct identity s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {
		.op = POLICY_OP_MAP, .device = DEV0, .iova = iova, .length = length};
	struct policy_decision d;
	struct steps st = {0};

	policy_decide(p, &s, &req, &d);
	if (why) {
		policy_explain(p, &s, &req, &d, record_step, &st);
		snprintf(why, len, "%s", st.n ? st.why[0] : "");
	}
	return d.verdict;
}

Test(policy_map, a_map_lies_wholly_within_one_range)
{
	struct policy *p = compile_ok("allow map user=alice iova=0x1000-0x1fff,0x2000-0x2fff\n");
	char why[1024] = "";

	cr_assert_eq(decide_map(p, 0x1000, 0x1000, NULL, 0), POLICY_ALLOW);
	cr_assert_eq(decide_map(p, 0x2000, 0x1000, NULL, 0), POLICY_ALLOW);
	/* Across the two ranges: each alone does not hold it. */
	cr_assert_eq(decide_map(p, 0x1000, 0x2000, why, sizeof(why)), POLICY_DENY);
	cr_assert(strstr(why, "IOVA range 0x1000-0x2fff not within one of them"), "%s", why);
	cr_assert_eq(decide_map(p, 0x0, 0x1000, NULL, 0), POLICY_DENY);
	cr_assert_eq(decide_map(p, 0x2fff, 1, NULL, 0), POLICY_ALLOW);
	cr_assert_eq(decide_map(p, 0x2fff, 2, NULL, 0), POLICY_DENY);
	/* An IOVA alone (explain without a length). */
	cr_assert_eq(decide_map(p, 0x1800, 0, NULL, 0), POLICY_ALLOW);
	/* A range that would wrap matches nothing. */
	cr_assert_eq(decide_map(p, UINT64_MAX, 2, NULL, 0), POLICY_DENY);
	policy_free(p);
}

Test(policy_map, lint_sees_shadowed_ranges)
{
	struct policy *p = compile_ok("allow map user=alice iova=0-0xffffff\n"
				      "allow map user=alice iova=0x1000-0x1fff max-bytes=4K\n"
				      "allow map user=alice iova=0x1000000-0x1ffffff\n"
				      "allow map user=alice\n"
				      "allow map user=alice iova=0x2000000-0x2ffffff\n");
	size_t before = p->n_diags;

	cr_assert_eq(policy_lint(p), 0);
	cr_assert_eq(p->n_diags - before, 2, "%s", diags_text(p));
	cr_assert(strstr(p->diags[before], "t.policy:2:1: warning: rule can never match: 'allow "
					   "map user=alice iova=0-0xffffff' (t.policy:1)"),
		  "%s", p->diags[before]);
	cr_assert(strstr(p->diags[before + 1], "t.policy:5:1: warning: rule can never match: "
					       "'allow map user=alice' (t.policy:4)"),
		  "%s", p->diags[before + 1]);
	policy_free(p);
}

/* ---- invalidate: named only, on a binding's device and PASID ---- */

static enum policy_verdict decide_invalidate(const struct policy *p, const char *device,
					     uint32_t pasid)
{
	struct identity s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_INVALIDATE, .device = device, .pasid = pasid};
	struct policy_decision d;

	policy_decide(p, &s, &req, &d);
	return d.verdict;
}

Test(policy_invalidate, star_does_not_include_it)
{
	struct policy *p = compile_ok("allow * user=alice\n");

	cr_assert_eq(p->rules[0].ops & (1u << POLICY_OP_INVALIDATE), 0u);
	cr_assert_eq(decide_invalidate(p, DEV0, 100), POLICY_DENY);
	policy_free(p);
}

Test(policy_invalidate, decided_on_device_and_pasid)
{
	struct policy *p =
		compile_ok("allow invalidate user=alice device=" DEV0 " pasid=100-199\n");

	cr_assert_eq(p->rules[0].ops, 1u << POLICY_OP_INVALIDATE);
	cr_assert_eq(decide_invalidate(p, DEV0, 100), POLICY_ALLOW);
	cr_assert_eq(decide_invalidate(p, DEV0, 199), POLICY_ALLOW);
	cr_assert_eq(decide_invalidate(p, DEV0, 200), POLICY_DENY);
	cr_assert_eq(decide_invalidate(p, DEV0, 0), POLICY_DENY);
	cr_assert_eq(decide_invalidate(p, "0000:3c:00.0", 150), POLICY_DENY);
	policy_free(p);
}

/* A PASID table's (or the RID's) binding is at PASID 0: a rule without pasid= grants it, and so
 * does pasid=auto; a PASID range does not, and explain says how to grant it. */
Test(policy_invalidate, pasid_0_of_a_pasid_table)
{
	struct policy *p =
		compile_ok("allow invalidate user=alice device=" DEV0 " pasid=100-199\n"
			   "allow invalidate user=alice device=0000:3c:00.0\n"
			   "allow invalidate user=alice device=0000:3d:00.0 pasid=auto\n");
	struct identity s = {.uid = ALICE, .gid = USERS};
	struct policy_request req = {.op = POLICY_OP_INVALIDATE, .device = DEV0, .pasid = 0};
	struct policy_decision d;
	struct steps st = {0};

	cr_assert_eq(decide_invalidate(p, DEV0, 0), POLICY_DENY);
	cr_assert_eq(decide_invalidate(p, "0000:3c:00.0", 0), POLICY_ALLOW);
	cr_assert_eq(decide_invalidate(p, "0000:3d:00.0", 0), POLICY_ALLOW);
	cr_assert_eq(decide_invalidate(p, "0000:3d:00.0", 5), POLICY_DENY);
	policy_explain(p, &s, &req, &d, record_step, &st);
	cr_assert_eq(d.verdict, POLICY_DENY);
	cr_assert_geq(st.n, 1);
	cr_assert(strstr(st.why[0], "PASID 0 (a PASID table, or a page table at the RID) not "
				    "granted: pasid=auto grants it, or leave pasid= out"),
		  "%s", st.why[0]);
	policy_free(p);
}

Test(policy_invalidate, warns_of_keys_that_do_not_apply)
{
	static const char text[] = "allow invalidate addr-width=48 iova=0-0xfff\n";
	struct policy *p = compile_len(text, sizeof(text) - 1, NULL);

	cr_assert(strstr(diags_text(p), "addr-width= does not apply to invalidate"), "%s",
		  diags_text(p));
	cr_assert(strstr(diags_text(p), "iova= does not apply to invalidate"), "%s", diags_text(p));
	policy_free(p);
}
