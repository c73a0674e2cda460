/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the policy engine: arbitrary bytes as one policy file, compiled, sealed
 * and linted (by the index and by every pair, which must agree), then a fixed set of requests
 * decided through the index and by the full walk, which must agree too; every diagnostic and
 * compiled rule is checked for its contract.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "svmd-proto.h"

#define FILE_NAME "fuzz.policy"

/* A fake name service: a few known names, "oom" fails as out of memory. */
static int fake_id(const char *name, uint32_t *ret, const char *const *names, const uint32_t *ids,
		   size_t n)
{
	if (strcmp(name, "oom") == 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0) {
			*ret = ids[i];
			return 0;
		}
	return -ENOENT;
}

static int fake_user(const char *name, uid_t *ret, void *userdata)
{
	static const char *const names[] = {"alice", "bob", "root"};
	static const uint32_t ids[] = {1001, 1002, 0};

	(void)userdata;
	return fake_id(name, ret, names, ids, 3);
}

static int fake_group(const char *name, gid_t *ret, void *userdata)
{
	static const char *const names[] = {"accel", "video", "users"};
	static const uint32_t ids[] = {2001, 2002, 100};

	(void)userdata;
	return fake_id(name, ret, names, ids, 3);
}

static const struct policy_resolver resolver = {fake_user, fake_group, NULL};

struct walk {
	const struct policy *p;
	const struct policy_rule *matched;
	size_t steps;
	unsigned last_index;
};

static void step(const struct policy_rule *rule, const char *why, void *userdata)
{
	struct walk *w = userdata;

	/* Rules come in file order, each of the walk's op, and the first match ends it. */
	assert(!w->matched);
	assert(rule >= w->p->rules && rule < w->p->rules + w->p->n_rules);
	assert(w->steps == 0 || rule->index > w->last_index);
	w->last_index = rule->index;
	w->steps++;
	if (why)
		assert(why[0] != 0);
	else
		w->matched = rule;
}

static void check_rule(const struct policy *p, size_t i, size_t n_lines)
{
	const struct policy_rule *r = &p->rules[i];

	assert(r->index == i);
	assert(r->file == p->files[0]);
	assert(r->line >= 1 && r->line <= n_lines);
	assert(i == 0 || r->line > p->rules[i - 1].line);
	assert(r->text && r->text[0]);
	assert(strncmp(r->text, r->verdict == POLICY_ALLOW ? "allow" : "deny",
		       r->verdict == POLICY_ALLOW ? 5 : 4) == 0);
	assert(r->verdict == POLICY_ALLOW || r->verdict == POLICY_DENY);
	assert(r->ops != 0 && (r->ops & ~((1u << _POLICY_OP_MAX) - 1)) == 0);
	assert(r->targets == POLICY_TARGETS_SELF || r->targets == POLICY_TARGETS_SAME_USER);
	if (!(r->keys & (1u << POLICY_KEY_TARGETS)))
		assert(r->targets == (r->verdict == POLICY_ALLOW ? POLICY_TARGETS_SELF
								 : POLICY_TARGETS_SAME_USER));
	assert(!r->revoke || r->verdict == POLICY_DENY);
	if (r->verdict == POLICY_DENY)
		assert(!(r->keys & (1u << POLICY_KEY_MAX_UID | 1u << POLICY_KEY_MAX_DEVICE |
				    1u << POLICY_KEY_RATE)));
	if (r->ops & (1u << POLICY_OP_RELOAD))
		assert(!(r->keys & (1u << POLICY_KEY_MAX_UID | 1u << POLICY_KEY_MAX_DEVICE)));
	assert(!(r->keys & (1u << POLICY_KEY_MAX_UID)) || (r->max >= 1 && r->max <= 1000000));
	assert(!(r->keys & (1u << POLICY_KEY_RATE)) || (r->rate >= 1 && r->rate <= 1000000));
	assert((r->vtd_flags & ~(uint64_t)SVMD_VTD_FLAGS_ALL) == 0);
	assert((r->addr_widths & ~3u) == 0);
	for (size_t k = 0; k < r->n_iovas; k++)
		assert(r->iovas[k].lo <= r->iovas[k].hi);
	if (r->keys & (1u << POLICY_KEY_MAX_BYTES | 1u << POLICY_KEY_MAX_DEVICE_BYTES))
		assert(r->verdict == POLICY_ALLOW && r->ops == 1u << POLICY_OP_MAP);
	assert(!(r->keys & (1u << POLICY_KEY_MAX_BYTES)) || r->max_bytes > 0);
	for (size_t k = 0; k < r->n_pasids; k++)
		assert(r->pasids[k].lo >= 1 && r->pasids[k].lo <= r->pasids[k].hi &&
		       r->pasids[k].hi <= SVMD_PASID_MAX);
	for (size_t k = 0; k < r->n_exes; k++)
		assert(r->exes[k][0] == '/');
	for (int k = 0; k < _POLICY_KEY_MAX; k++)
		assert(!r->key_text[k] == !(r->keys & (1u << k)));
	assert(!(r->keys & (1u << POLICY_KEY_UNIT)) || p->uses_unit);
	assert(!(r->keys & (1u << POLICY_KEY_EXE)) || p->uses_exe);
}

static void check_diags(const struct policy *p, size_t from, bool errors_allowed)
{
	for (size_t i = from; i < p->n_diags; i++) {
		const char *d = p->diags[i];
		assert(strncmp(d, FILE_NAME ":", sizeof(FILE_NAME)) == 0);
		bool error = strstr(d, ": error: ") != NULL;
		assert(error || strstr(d, ": warning: "));
		assert(errors_allowed || !error);
	}
}

/* Decides a fixed set of requests both ways. */
static void decide_all(const struct policy *p)
{
	static const gid_t groups[] = {2001, 2002};
	static const char *const units[] = {"qemu@vm1.service", "machine.slice"};
	static const struct identity subjects[] = {
		{.uid = 1001,
		 .gid = 100,
		 .groups = groups,
		 .n_groups = 1,
		 .exe = "/usr/bin/qemu",
		 .units = units,
		 .n_units = 2},
		{.uid = 1002, .gid = 2002, .groups = groups, .n_groups = 2},
		{.uid = 0, .gid = 0, .exe = "/usr/bin/svmctl"},
		{.uid = (uid_t)-1, .gid = (gid_t)-1, .units = units, .n_units = 1},
	};
	static const struct policy_request requests[] = {
		{.op = POLICY_OP_BIND_TASK,
		 .device = "0000:3b:00.0",
		 .iommu_group = 12,
		 .vendor = 0x8086,
		 .device_id = 0x0b25,
		 .model = SVMD_MODEL_VTD},
		{.op = POLICY_OP_BIND_TASK,
		 .device = "0000:3c:00.0",
		 .iommu_group = 13,
		 .vendor = 0x19e5,
		 .device_id = 0xa250,
		 .model = SVMD_MODEL_SMMU,
		 .pasid = 5,
		 .other_target = true},
		{.op = POLICY_OP_BIND_PGTABLE,
		 .device = "0000:3b:00.0",
		 .iommu_group = 12,
		 .vendor = 0x8086,
		 .device_id = 0x0b25,
		 .model = SVMD_MODEL_VTD,
		 .pasid = 150,
		 .addr_width = 48,
		 .vtd_flags = 0x1},
		{.op = POLICY_OP_BIND_PGTABLE,
		 .device = "0000:3b:00.1",
		 .iommu_group = 12,
		 .model = SVMD_MODEL_VTD,
		 .pasid = 1,
		 .addr_width = 57,
		 .vtd_flags = 0x3f},
		{.op = POLICY_OP_BIND_PASID_TABLE,
		 .device = "0000:3c:00.0",
		 .iommu_group = 13,
		 .model = SVMD_MODEL_SMMU},
		{.op = POLICY_OP_OPEN_DEVICE,
		 .device = "0000:3b:00.0",
		 .iommu_group = 12,
		 .vendor = 0x8086,
		 .device_id = 0x0b25,
		 .model = SVMD_MODEL_VTD},
		{.op = POLICY_OP_OPEN_DEVICE, .device = "0000:5e:00.1", .iommu_group = 20},
		{.op = POLICY_OP_MAP,
		 .device = "0000:3b:00.0",
		 .iommu_group = 12,
		 .iova = 0x100000,
		 .length = 0x4000},
		{.op = POLICY_OP_MAP,
		 .device = "0000:3b:00.0",
		 .iova = UINT64_MAX - 4095,
		 .length = 4096},
		{.op = POLICY_OP_RELOAD},
	};

	for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++)
		for (size_t r = 0; r < sizeof(requests) / sizeof(requests[0]); r++) {
			struct policy_decision d, e;
			struct walk w = {.p = p};

			policy_decide(p, &subjects[s], &requests[r], &d);
			policy_explain(p, &subjects[s], &requests[r], &e, step, &w);
			assert(d.rule == e.rule);
			assert(d.verdict == e.verdict);
			assert(w.matched == e.rule);
			assert(w.steps <= p->by_op[requests[r].op].n);
			if (d.rule) {
				assert(d.verdict == d.rule->verdict);
				assert(d.rule->ops & (1u << requests[r].op));
			} else {
				assert(d.verdict == POLICY_DENY);
				assert(w.steps == p->by_op[requests[r].op].n);
			}
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = policy_new();
	size_t n_lines = 1, n_diags, n_errors;
	int r;

	assert(p);
	for (size_t i = 0; i < size; i++)
		n_lines += data[i] == '\n';
	/* A private copy of exactly size bytes: an over-read is caught even with no NUL. */
	char *text = malloc(size ? size : 1);
	assert(text);
	memcpy(text, data, size);
	r = policy_add_file(p, FILE_NAME, text, size, &resolver);
	free(text);
	assert(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -ENOMEM) {
		/* Only the fake "oom" name fails this way; what was compiled still frees. */
		assert(memmem(data, size, "oom", 3));
		policy_free(p);
		return 0;
	}
	assert((r == -EINVAL) == (p->n_errors > 0));
	assert(p->n_diags == p->n_errors + p->n_warnings);
	assert(p->n_files == 1 && strcmp(p->files[0], FILE_NAME) == 0);
	check_diags(p, 0, true);
	for (size_t i = 0; i < p->n_rules; i++)
		check_rule(p, i, n_lines);

	assert(policy_seal(p) == 0);
	for (int op = 0; op < _POLICY_OP_MAX; op++) {
		size_t n = 0;
		for (size_t i = 0; i < p->n_rules; i++)
			n += (p->rules[i].ops >> op) & 1;
		assert(p->by_op[op].n == n);
	}
	decide_all(p);

	/* Lint adds warnings only, and changes no decision. */
	n_diags = p->n_diags;
	n_errors = p->n_errors;
	assert(policy_lint(p) == 0);
	assert(p->n_errors == n_errors);
	assert(p->n_diags >= n_diags);
	check_diags(p, n_diags, false);
	/* Lint by the index warns as comparing every earlier rule does. */
	size_t n_lint = p->n_diags;
	p->lint_all_pairs = true;
	assert(policy_lint(p) == 0);
	assert(p->n_diags - n_lint == n_lint - n_diags);
	for (size_t i = n_diags; i < n_lint; i++)
		assert(strcmp(p->diags[i], p->diags[n_lint + i - n_diags]) == 0);
	/* Sealing again rebuilds the same index. */
	assert(policy_seal(p) == 0);
	decide_all(p);

	assert(policy_free(p) == NULL);
	return 0;
}
