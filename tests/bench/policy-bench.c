/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make bench, scenario 5: policy_decide() in-process, on policy trees compiled by the same loader
 * svmd uses (policy_load()), measured alternately in rounds. The caller is the bench user asking
 * for a page-table bind on DEVICE; the deciding rule must be the last rule of each tree (the
 * one rule written for that user), else the run fails: that proves no other rule matched.
 *
 * Usage: policy-bench USER DEVICE ROUNDS ITERATIONS DIR...  (the first DIR is the baseline)
 * Prints per tree "load I MS RULES" (median compile time), then per round "round N NS..."
 * (nanoseconds per decision, one figure per tree in the order given).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy-load.h"
#include "policy.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct policy *load(const char *dir, double *ret_ms)
{
	const char *dirs[] = {dir};
	struct policy *p = NULL;
	double t0 = now_ns();
	int r = policy_load(dirs, 1, &p);

	*ret_ms = (now_ns() - t0) / 1e6;
	if (r < 0 || p->n_errors || p->n_rules == 0) {
		fprintf(stderr, "policy-bench: %s: %s, %zu errors\n", dir,
			r < 0 ? strerror(-r) : "loaded", r < 0 ? 0 : p->n_errors);
		for (size_t i = 0; r >= 0 && i < p->n_diags && i < 5; i++)
			fprintf(stderr, "  %s\n", p->diags[i]);
		exit(1);
	}
	return p;
}

#define LOADS 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* ns per decision over n decisions; checks the verdict once. */
static double run(const struct policy *p, const struct identity *s, const struct policy_request *rq,
		  long n)
{
	struct policy_decision d;
	double t0;

	policy_decide(p, s, rq, &d);
	if (d.verdict != POLICY_ALLOW || !d.rule || d.rule != &p->rules[p->n_rules - 1]) {
		fprintf(stderr, "policy-bench: the decision is not the bench rule (%s line %u)\n",
			d.rule ? d.rule->file : "no rule", d.rule ? d.rule->line : 0);
		exit(1);
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		policy_decide(p, s, rq, &d);
		__asm__ volatile("" : : "r"(d.rule) : "memory");
	}
	return (now_ns() - t0) / (double)n;
}

#define TREES_MAX 4

int main(int argc, char **argv)
{
	if (argc < 6 || argc > 5 + TREES_MAX) {
		fprintf(stderr, "usage: policy-bench USER DEVICE ROUNDS ITERATIONS DIR...\n");
		return 2;
	}
	struct passwd *pw = getpwnam(argv[1]);
	if (!pw) {
		fprintf(stderr, "policy-bench: no user %s\n", argv[1]);
		return 1;
	}
	gid_t groups[64];
	int n_groups = 64;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n_groups) < 0)
		n_groups = 0;
	/* What svmd resolves for a session: the executable and the unit with its slices. */
	const char *units[] = {"session-1.scope", "user-0.slice", "user.slice", NULL};
	struct identity subj = {
		.uid = pw->pw_uid,
		.gid = pw->pw_gid,
		.groups = groups,
		.n_groups = (size_t)n_groups,
		.exe = "/usr/local/bin/svmd-bench",
		.units = units,
		.n_units = 3,
	};
	struct policy_request rq = {
		.op = POLICY_OP_BIND_PGTABLE,
		.device = argv[2],
		.iommu_group = 100,
		.vendor = 0x8086,
		.device_id = 0x0b25,
		.model = 1,
		.pasid = 1000000,
		.addr_width = 48,
	};
	int rounds = atoi(argv[3]), n = argc - 5;
	long iters = atol(argv[4]);
	char **dirs = argv + 5;
	double ms[TREES_MAX][LOADS], t;
	struct policy *trees[TREES_MAX];

	/* Compile times: the median of LOADS loads of each, alternating, after one of each (the
	 * first load also pays for setting up NSS and the heap, which a reload does not). */
	for (int k = 0; k < n; k++)
		policy_free(load(dirs[k], &t));
	for (int i = 0; i < LOADS; i++)
		for (int k = 0; k < n; k++)
			policy_free(load(dirs[k], &ms[k][i]));
	for (int k = 0; k < n; k++) {
		trees[k] = load(dirs[k], &t);
		printf("load %d %.3f %zu\n", k, median(ms[k], LOADS), trees[k]->n_rules);
	}
	/* Warm-up, then rotate which tree goes first. */
	for (int k = 0; k < n; k++)
		run(trees[k], &subj, &rq, iters / 4);
	for (int i = 0; i < rounds; i++) {
		double ns[TREES_MAX];
		for (int j = 0; j < n; j++) {
			int k = (i + j) % n;
			ns[k] = run(trees[k], &subj, &rq, iters);
		}
		printf("round %d", i);
		for (int k = 0; k < n; k++)
			printf(" %.2f", ns[k]);
		printf("\n");
	}
	for (int k = 0; k < n; k++)
		policy_free(trees[k]);
	return 0;
}
