/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the maps' recipes (daemon/ops-map.c, with the spaces of core.c and the simulated
 * IOMMU of backend-sim.c): map, unmap, device-info, what ends a mapping and what the simulated
 * IOMMU holds after each, the byte limits, and every undo path (ops-fixture.h).
 *
 * The fixture's policy: alice may map on DEV within 0x100000-0x1fffffff, 1 MiB at most under
 * that rule (max-bytes=); carol there too, 2 MiB on the device under her rule for everyone
 * (max-device-bytes=); both anywhere on DEV_SMMU; bob nowhere.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend-sim.h"
#include "ops-fixture.h"

#define IOVA 0x100000ull
#define KiB  1024ull
#define MiB  (1024 * KiB)

TestSuite(ops_map, .init = setup, .fini = teardown);

static int memfd_of(uint64_t size)
{
	int fd = memfd_create("svmd-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static struct map_request map_req(const char *device, int memfd, uint64_t iova, uint64_t length,
				  uint32_t flags)
{
	return (struct map_request){
		.device = device,
		.memfd = memfd,
		.args = {.map = {.iova = iova, .length = length, .flags = flags}},
	};
}

/* One map of s: a memfd of its own, its status, the one record it wrote; committed. */
static int map(struct session *s, const char *device, uint64_t iova, uint64_t length,
	       struct binding **ret, char reason[OPS_REASON_MAX])
{
	struct map_request req =
		map_req(device, memfd_of(length), iova, length, SVMD_MAP_READ | SVMD_MAP_WRITE);
	struct op_result res;
	struct binding *b = NULL;
	int r;

	n_recs = 0;
	r = ops_map(f.core, s, &req, &res, &b);
	cr_assert_eq(r, res.status);
	cr_assert_eq(n_recs, 1, "one record per map, not %zu", n_recs);
	if (reason)
		snprintf(reason, OPS_REASON_MAX, "%s", res.reason);
	if (r == 0) {
		ops_commit(f.core, b);
		if (ret)
			*ret = b;
	}
	return r;
}

static struct sim_counts counts(void)
{
	struct sim_counts k;

	backend_sim_counts(f.core->backend, &k);
	return k;
}

static int unmap(struct session *s, const char *device, uint64_t iova, uint64_t length,
		 struct unmap_result *u)
{
	struct op_result res;
	int r = ops_unmap(f.core, s, device, iova, length, u, &res);

	cr_assert_eq(r, res.status);
	return r;
}

Test(ops_map, a_map_is_recorded_held_by_the_iommu_and_unmapped)
{
	struct binding *b = NULL;
	struct unmap_result u;

	cr_assert_eq(map(f.alice, DEV, IOVA, 16 * KiB, &b, NULL), 0);
	assert_record(AUDIT_GRANT, "map", 0, "IOVA 0x100000-0x103fff, 16 KiB, read-write");
	cr_assert(recs[0].has_rule);
	cr_assert_eq(recs[0].binding, binding_id(b));
	cr_assert_eq(b->args.kind, SVMD_KIND_MAP);
	cr_assert_eq(b->user->map_bytes, 16 * KiB);
	struct sim_counts k = counts();
	cr_assert_eq(k.spaces, 1);
	cr_assert_eq(k.ioas, 1);
	cr_assert_eq(k.areas, 1);
	cr_assert_eq(k.bytes, 16 * KiB);
	/* Unmapped by its range: its release is the request's record. */
	n_recs = 0;
	cr_assert_eq(unmap(f.alice, DEV, IOVA, 16 * KiB, &u), 0);
	cr_assert_eq(u.n, 1);
	cr_assert_eq(u.bytes, 16 * KiB);
	assert_record(AUDIT_RELEASE, "map", 0, "unmap");
	k = counts();
	cr_assert_eq(k.areas, 0);
	cr_assert_eq(k.bytes, 0);
	cr_assert_eq(registry_count(f.core->registry), 0);
	/* The space stays with the session, empty. */
	cr_assert_eq(k.spaces, 1);
}

Test(ops_map, what_is_refused_before_the_kernel_is_asked)
{
	struct map_request req;
	struct binding *b = NULL;
	struct op_result res;
	int pipefd[2], ro, fds = count_fds();
	char path[128];

	/* Not a memfd: a pipe, and a file on disk. */
	cr_assert_eq(pipe(pipefd), 0);
	close(pipefd[1]);
	req = map_req(DEV, pipefd[0], IOVA, 4 * KiB, SVMD_MAP_READ);
	n_recs = 0;
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EMEDIUMTYPE);
	assert_record(AUDIT_FAIL, "map", EMEDIUMTYPE, "not a memfd");
	cr_assert_not(recs[0].has_rule, "refused before any rule was asked");
	snprintf(path, sizeof(path), "%s/50-test.policy", f.dir);
	req = map_req(DEV, open(path, O_RDONLY | O_CLOEXEC), IOVA, 4 * KiB, SVMD_MAP_READ);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EMEDIUMTYPE);
	/* Beyond the memfd's end. */
	req = map_req(DEV, memfd_of(4 * KiB), IOVA, 8 * KiB, SVMD_MAP_READ);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EINVAL);
	cr_assert(strstr(res.reason, "the memfd holds 4096 bytes"), "%s", res.reason);
	/* Not page-aligned, and beyond what the IOMMU translates: the kernel's rules. */
	req = map_req(DEV, memfd_of(8 * KiB), IOVA + 512, 4 * KiB, SVMD_MAP_READ);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EINVAL);
	cr_assert(strstr(res.reason, "multiples of the page size"), "%s", res.reason);
	req = map_req(DEV, memfd_of(8 * KiB), 1ull << 48, 4 * KiB, SVMD_MAP_READ);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EINVAL);
	/* No access at all, or one that is not a flag. */
	req = map_req(DEV, memfd_of(4 * KiB), IOVA, 4 * KiB, 0);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EINVAL);
	req = map_req(DEV, memfd_of(4 * KiB), IOVA, 4 * KiB, 4);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EINVAL);
	/* A device that may write needs a memfd open for writing and not sealed against it. */
	int mfd = memfd_of(4 * KiB);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ro, 0);
	req = map_req(DEV, ro, IOVA, 4 * KiB, SVMD_MAP_READ | SVMD_MAP_WRITE);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EPERM);
	cr_assert(strstr(res.reason, "read-only"), "%s", res.reason);
	cr_assert_eq(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	req = map_req(DEV, fcntl(mfd, F_DUPFD_CLOEXEC, 3), IOVA, 4 * KiB, SVMD_MAP_WRITE);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), -EPERM);
	cr_assert(strstr(res.reason, "sealed against writing"), "%s", res.reason);
	/* ... while reading a write-sealed memfd is fine. */
	req = map_req(DEV, mfd, IOVA, 4 * KiB, SVMD_MAP_READ);
	cr_assert_eq(ops_map(f.core, f.alice, &req, &res, &b), 0, "%s", res.reason);
	ops_commit(f.core, b);
	cr_assert_eq(counts().areas, 1);
	/* Every fd sent was taken and closed: none is left open. */
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	cr_assert_eq(count_fds(), fds);
	cr_assert_eq(counts().areas, 0);
}

Test(ops_map, policy_decides_on_the_device_and_the_iova_range)
{
	char why[OPS_REASON_MAX];

	/* No rule for bob (deny * does not name map: the default denies it). */
	cr_assert_eq(map(f.bob, DEV, IOVA, 4 * KiB, NULL, why), -EACCES);
	assert_record(AUDIT_DENY, "map", EACCES, "default deny");
	/* Wholly within a range of the rule, or no rule holds. */
	cr_assert_eq(map(f.alice, DEV, 0x0, 4 * KiB, NULL, why), -EACCES);
	cr_assert_eq(map(f.alice, DEV, 0x1ffff000, 8 * KiB, NULL, why), -EACCES, "%s", why);
	cr_assert_eq(map(f.alice, DEV, 0x1ffff000, 4 * KiB, NULL, why), 0, "%s", why);
	/* A device the rule does not name. */
	cr_assert_eq(map(f.alice, DEV_SHARED, IOVA, 4 * KiB, NULL, why), -EACCES);
	/* Nothing mapped but the one allowed. */
	cr_assert_eq(counts().areas, 1);
}

Test(ops_map, the_byte_limits_of_the_rule_and_of_svmd)
{
	char why[OPS_REASON_MAX];

	/* max-bytes=1M for alice under her rule. */
	cr_assert_eq(map(f.alice, DEV, IOVA, 512 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA + MiB, 512 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA + 2 * MiB, 4 * KiB, NULL, why), -EDQUOT);
	assert_record(AUDIT_DENY, "map", EDQUOT, "over its max-bytes=");
	cr_assert(strstr(why, "uid 1000 has 1 MiB mapped under rule"), "%s", why);
	/* max-device-bytes=2M for the device under carol's rule, whoever maps. */
	cr_assert_eq(map(f.carol, DEV, IOVA, 2 * MiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.carol, DEV, IOVA + 4 * MiB, 4 * KiB, NULL, why), -EDQUOT);
	cr_assert(strstr(why, "over its max-device-bytes="), "%s", why);
	/* svmd's own limit per user, whatever the rule (DEV_SMMU has none). */
	limits_set_map_bytes(f.core->limits, 64 * KiB, 0);
	cr_assert_eq(map(f.carol, DEV_SMMU, IOVA, 64 * KiB, NULL, why), -EDQUOT);
	cr_assert(strstr(why, "--map-bytes-per-user"), "%s", why);
	/* And the total: no uid holds more than it leaves to the others. */
	limits_set_map_bytes(f.core->limits, 1ull << 40, 8 * MiB);
	/* 1 MiB (alice) + 2 MiB (carol) mapped: 5 MiB free; carol holds 2, may take 1.5 more. */
	cr_assert_eq(map(f.carol, DEV_SMMU, IOVA, 2 * MiB, NULL, why), -EDQUOT);
	cr_assert(strstr(why, "more than it leaves to the others"), "%s", why);
	cr_assert_eq(map(f.carol, DEV_SMMU, IOVA, MiB, NULL, why), 0, "%s", why);
	/* The refused asked the kernel nothing. */
	struct sim_counts k = counts();
	cr_assert_eq(k.areas, 4);
	cr_assert_eq(k.bytes, 4 * MiB);
}

Test(ops_map, overlaps_are_the_kernels_to_refuse)
{
	char why[OPS_REASON_MAX];

	cr_assert_eq(map(f.alice, DEV, IOVA, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA + 8 * KiB, 16 * KiB, NULL, why), -EEXIST);
	assert_record(AUDIT_FAIL, "map", EEXIST, "overlaps a mapping at 0x100000");
	/* The same IOVA of another device is another space. */
	cr_assert_eq(map(f.alice, DEV_SMMU, IOVA, 16 * KiB, NULL, why), 0, "%s", why);
	/* And of another client. */
	cr_assert_eq(map(f.carol, DEV, IOVA, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(counts().spaces, 2);
	cr_assert_eq(counts().ioas, 3);
}

Test(ops_map, unmap_ends_whole_mappings_only)
{
	struct unmap_result u;
	char why[OPS_REASON_MAX];

	cr_assert_eq(map(f.alice, DEV, IOVA, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA + 16 * KiB, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA + 64 * KiB, 4 * KiB, NULL, why), 0, "%s", why);
	/* Partly within: nothing unmapped, one failure record. */
	n_recs = 0;
	cr_assert_eq(unmap(f.alice, DEV, IOVA, 24 * KiB, &u), -EINVAL);
	assert_record(AUDIT_FAIL, "unmap", EINVAL, "lies only partly within");
	cr_assert_eq(counts().areas, 3);
	/* Nothing there; and someone else's mapping is not there for you. */
	n_recs = 0;
	cr_assert_eq(unmap(f.alice, DEV, IOVA + MiB, 4 * KiB, &u), -ENOENT);
	assert_record(AUDIT_FAIL, "unmap", ENOENT, "no mapping of yours");
	cr_assert_eq(unmap(f.carol, DEV, IOVA, 16 * KiB, &u), -ENOENT);
	cr_assert_eq(unmap(f.alice, "0000:99:00.0", IOVA, 16 * KiB, &u), -ENODEV);
	/* Two whole ones within: two release records. */
	n_recs = 0;
	cr_assert_eq(unmap(f.alice, DEV, IOVA, 32 * KiB, &u), 0);
	cr_assert_eq(u.n, 2);
	cr_assert_eq(u.bytes, 32 * KiB);
	cr_assert_eq(n_recs, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(recs[i].event, AUDIT_RELEASE);
		cr_assert_str_eq(recs[i].reason, "unmap");
	}
	cr_assert_eq(counts().areas, 1);
	/* unbind by id ends a mapping too. */
	struct binding *b = registry_user_first_after(f.core->registry, ALICE, 0);
	struct op_result res;
	cr_assert_not_null(b);
	cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
	cr_assert_eq(counts().areas, 0);
}

Test(ops_map, the_session_end_undoes_everything)
{
	struct binding *b = NULL;
	struct op_result res;
	char why[OPS_REASON_MAX];
	int fd = -1;

	cr_assert_eq(map(f.alice, DEV_SMMU, IOVA, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV_SMMU, IOVA + MiB, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(ops_open_device(f.core, f.alice, DEV_SMMU, &fd, &res, &b), 0, "%s",
		     res.reason);
	ops_commit(f.core, b);
	close(fd);
	struct sim_counts k = counts();
	cr_assert_eq(k.spaces, 1);
	cr_assert_eq(k.ioas, 2);
	cr_assert_eq(k.areas, 3);
	cr_assert_eq(k.attached, 1);
	n_recs = 0;
	ops_session_end(f.core, f.alice);
	f.alice = NULL;
	cr_assert_eq(n_recs, 4);
	for (size_t i = 0; i < n_recs; i++)
		cr_assert_str_eq(recs[i].reason, "session ended");
	k = counts();
	cr_assert_eq(k.spaces + k.ioas + k.areas + k.attached + k.bytes, 0,
		     "left: %zu spaces, %zu IOAS, %zu areas, %zu attached", k.spaces, k.ioas,
		     k.areas, k.attached);
	cr_assert_null(registry_user(f.core->registry, ALICE), "alice's account outlived her");
}

Test(ops_map, a_leased_map_keeps_its_space_after_the_session)
{
	struct binding *b = NULL;
	struct op_result res;
	char why[OPS_REASON_MAX];
	int fd = -1;

	cr_assert_eq(map(f.alice, DEV, IOVA, 16 * KiB, &b, why), 0, "%s", why);
	cr_assert_eq(map(f.alice, DEV, IOVA + MiB, 16 * KiB, NULL, why), 0, "%s", why);
	cr_assert_eq(ops_lease(f.core, f.alice, binding_id(b), &fd, &res), 0, "%s", res.reason);
	ops_session_end(f.core, f.alice);
	f.alice = NULL;
	struct sim_counts k = counts();
	cr_assert_eq(k.spaces, 1);
	cr_assert_eq(k.areas, 1);
	n_recs = 0;
	close(fd);
	for (int i = 0; i < 100 && n_recs == 0; i++)
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	assert_record(AUDIT_RELEASE, "map", 0, "lease closed");
	k = counts();
	cr_assert_eq(k.spaces + k.areas, 0);
}

Test(ops_map, open_device_attaches_in_the_callers_space)
{
	struct binding *b = NULL;
	struct op_result res;
	int fd = -1;

	cr_assert_eq(ops_open_device(f.core, f.carol, DEV_SMMU, &fd, &res, &b), 0, "%s",
		     res.reason);
	ops_commit(f.core, b);
	close(fd);
	cr_assert_eq(counts().attached, 1);
	cr_assert_eq(b->args.device.space, f.carol->space);
	cr_assert_eq(ops_unbind(f.core, f.carol, binding_id(b), &res), 0);
	cr_assert_eq(counts().attached, 0);
	cr_assert_eq(counts().spaces, 1, "the session keeps its space");
}

Test(ops_map, a_map_undoes_what_it_did_when_an_allocation_fails)
{
	int fds = count_fds();
	long n;

	for (n = 0; n < 1000; n++) {
		struct map_request req = map_req(DEV, memfd_of(8 * KiB), IOVA, 8 * KiB,
						 SVMD_MAP_READ | SVMD_MAP_WRITE);
		struct binding *b = NULL;
		struct op_result res;
		int r;

		n_recs = 0;
		failed = false;
		fail_countdown = n;
		r = ops_map(f.core, f.alice, &req, &res, &b);
		fail_countdown = -1;
		cr_assert_eq(n_recs, 1, "allocation %ld: %zu records", n, n_recs);
		if (r == 0) {
			cr_assert_eq(recs[0].event, AUDIT_GRANT);
			ops_commit(f.core, b);
			cr_assert_eq(ops_unbind(f.core, f.alice, binding_id(b), &res), 0);
			if (!failed)
				break;
			continue;
		}
		cr_assert(failed, "allocation %ld: failed (%d) with no failure injected", n, r);
		cr_assert_eq(recs[0].error, -r);
		cr_assert_eq(registry_count(f.core->registry), 0, "allocation %ld", n);
		cr_assert_eq(counts().areas, 0, "allocation %ld: left mapped", n);
		cr_assert_eq(count_fds(), fds, "allocation %ld: an fd leaked", n);
	}
	cr_assert_lt(n, 1000);
	cr_assert_gt(n, 2, "the map made no allocation to fail");
	ops_session_end(f.core, f.alice);
	f.alice = NULL;
	cr_assert_eq(counts().spaces, 0);
}

Test(ops_map, device_info_says_what_works_and_why_not)
{
	char text[1024];
	struct op_result res;
	uint32_t kinds;

	cr_assert_eq(ops_device_info(f.core, f.alice, DEV, &kinds, text, sizeof(text), &res), 0);
	cr_assert_eq(kinds, SVMD_KIND_BIT(SVMD_KIND_TASK) | SVMD_KIND_BIT(SVMD_KIND_PGTABLE) |
				    SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE) |
				    SVMD_KIND_BIT(SVMD_KIND_DEVICE) | SVMD_KIND_BIT(SVMD_KIND_MAP));
	cr_assert_str_eq(text, "");
	cr_assert_eq(ops_device_info(f.core, f.alice, DEV_NONE, &kinds, text, sizeof(text), &res),
		     0);
	cr_assert_eq(kinds, SVMD_KIND_BIT(SVMD_KIND_DEVICE) | SVMD_KIND_BIT(SVMD_KIND_MAP));
	cr_assert(strstr(text, "task: it does not support task binds\n"), "%s", text);
	cr_assert(strstr(text, "pasid-table: "), "%s", text);
	n_recs = 0;
	cr_assert_eq(
		ops_device_info(f.core, f.alice, "0000:99:00.0", &kinds, text, sizeof(text), &res),
		-ENODEV);
	cr_assert_eq(n_recs, 0, "a reading request is not recorded");
}

Test(ops_map, explain_a_map)
{
	struct explain_request x = {
		.op = POLICY_OP_MAP, .device = DEV, .iova = IOVA, .length = 2 * MiB};
	enum policy_verdict v;
	struct op_result res;
	char text[4096];

	n_recs = 0;
	cr_assert_eq(ops_explain(f.core, f.alice, &x, text, sizeof(text), &v, &res), 0);
	cr_assert_eq(v, POLICY_ALLOW, "%s", text);
	cr_assert(strstr(text, "map on 0000:3b:00.0 (IOVA 0x100000-0x2fffff) for uid 1000"), "%s",
		  text);
	x.iova = 0x1fff0000;
	cr_assert_eq(ops_explain(f.core, f.alice, &x, text, sizeof(text), &v, &res), 0);
	cr_assert_eq(v, POLICY_DENY);
	cr_assert(strstr(text, "does not match: iova=0x100000-0x1fffffff: IOVA range "
			       "0x1fff0000-0x201effff not within one of them"),
		  "%s", text);
	cr_assert_eq(n_recs, 0);
}
