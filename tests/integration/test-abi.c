/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libsvmclient's structs across the ABI (svmclient.h, "Structs that grow"): a caller built
 * against an older header passes a smaller size, one built against a newer header a larger
 * one; the library must read and fill exactly what each knows. The callers here are root on
 * the real svmd; a newer caller's struct is this one with bytes after it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static struct daemon d;
static struct svm_client *c;

static void setup(void)
{
	char policy[128];

	/* Whoever runs the suite (root under make check, not in a package build) may reload, and
	 * has no rule for binds. */
	snprintf(policy, sizeof(policy), "allow reload user=%u\n", (unsigned)geteuid());
	daemon_start(&d, policy, NULL, NULL);
	cr_assert_eq(svm_connect(d.socket, &c), 0);
}

static void teardown(void)
{
	svm_disconnect(c);
	daemon_stop(&d);
}

TestSuite(abi, .init = setup, .fini = teardown, .timeout = 60);

static bool all(const void *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != v)
			return false;
	return true;
}

#define TAIL 24

Test(abi, a_size_below_the_first_layout_is_refused)
{
	struct svm_status st;
	struct svm_device *devs = NULL;
	struct svm_pgtable pg = {.pasid = 150, .addr_width = 48, .gpgd = 0x1000};
	struct svm_explain_request x = {.op = "bind-task", .device = "0000:3b:00.0", .pasid = -1};
	struct svm_event ev;
	size_t n;

	cr_assert_eq(svm_status_sized(c, &st, sizeof(st) - 1, NULL), -EINVAL);
	cr_assert_eq(svm_devices_sized(c, &devs, sizeof(*devs) - 4, &n), -EINVAL);
	cr_assert_null(devs);
	cr_assert_eq(svm_bind_pgtable_sized(c, "0000:3b:00.0", &pg, 8, NULL), -EINVAL);
	cr_assert_eq(svm_explain_sized(c, &x, sizeof(x) - 8, NULL, NULL), -EINVAL);
	cr_assert_eq(svm_lease_read_end_sized(0, &ev, 4), -EINVAL);
	/* Nothing was sent: the connection still answers. */
	cr_assert_eq(svm_status(c, &st, NULL), 0);
}

Test(abi, a_newer_callers_larger_output_structs_end_in_zeros)
{
	struct {
		struct svm_status st;
		unsigned char more[TAIL];
	} big;
	struct svm_status st;
	struct svm_device *devs = NULL, *wide = NULL;
	size_t n = 0, n_wide = 0, stride = sizeof(struct svm_device) + TAIL;

	memset(&big, 0xa5, sizeof(big));
	cr_assert_eq(svm_status_sized(c, &big.st, sizeof(big), NULL), 0);
	cr_assert(all(big.more, TAIL, 0), "the bytes this library does not know are zeroed");
	cr_assert_eq(svm_status(c, &st, NULL), 0);
	cr_assert_str_eq(big.st.version, st.version);
	cr_assert_eq(big.st.n_devices, st.n_devices);

	cr_assert_eq(svm_devices(c, &devs, &n), 0);
	cr_assert_eq(svm_devices_sized(c, &wide, stride, &n_wide), 0);
	cr_assert_eq(n_wide, n);
	cr_assert_gt(n, 1);
	/* Laid out at the caller's stride, each one whole, its tail zero. */
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = (const unsigned char *)wide + i * stride;
		cr_assert_eq(memcmp(e, &devs[i], sizeof(devs[i])), 0, "device %zu", i);
		cr_assert(all(e + sizeof(struct svm_device), TAIL, 0), "device %zu's tail", i);
	}
	free(devs);
	free(wide);
}

Test(abi, a_newer_callers_input_is_taken_only_when_what_is_unknown_is_zero)
{
	struct {
		struct svm_pgtable pg;
		unsigned char more[TAIL];
	} big;
	struct {
		struct svm_explain_request x;
		unsigned char more[TAIL];
	} bx;
	char *text = NULL;
	bool allowed = true;

	memset(&big, 0, sizeof(big));
	big.pg = (struct svm_pgtable){.pasid = 150, .addr_width = 48, .gpgd = 0x1000};
	big.more[TAIL - 1] = 1;
	cr_assert_eq(svm_bind_pgtable_sized(c, "0000:3b:00.0", &big.pg, sizeof(big), NULL), -E2BIG);
	/* Zero beyond what the library knows: the request reaches svmd (root has no rule). */
	big.more[TAIL - 1] = 0;
	cr_assert_eq(svm_bind_pgtable_sized(c, "0000:3b:00.0", &big.pg, sizeof(big), NULL),
		     -EACCES);
	cr_assert(strstr(svm_reason(c), "default deny"), "%s", svm_reason(c));

	memset(&bx, 0, sizeof(bx));
	bx.x = (struct svm_explain_request){
		.op = "bind-task", .device = "0000:3b:00.0", .pasid = -1, .uid = -1};
	cr_assert_eq(svm_explain_sized(c, &bx.x, sizeof(bx), &text, &allowed), 0, "%s",
		     svm_reason(c));
	cr_assert_not(allowed);
	cr_assert_not_null(text);
	free(text);
}

struct seen {
	unsigned n;
	bool tail_zero;
};

static void on_record(struct svm_client *cl, const struct svm_event *e, void *userdata)
{
	struct seen *s = userdata;

	(void)cl;
	s->n++;
	s->tail_zero = all((const unsigned char *)e + sizeof(*e), TAIL, 0);
}

Test(abi, a_newer_callers_event_handler_gets_its_whole_struct)
{
	struct seen s = {0};
	struct svm_pgtable pg = {.pasid = 150, .addr_width = 48, .gpgd = 0x1000};

	svm_set_event_handler_sized(c, on_record, &s, sizeof(struct svm_event) + TAIL);
	cr_assert_eq(svm_subscribe(c), 0, "%s", svm_reason(c));
	cr_assert_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, NULL), -EACCES);
	for (int i = 0; i < 50 && !s.n; i++)
		svm_dispatch(c, 100);
	cr_assert_geq(s.n, 1, "the denial's record");
	cr_assert(s.tail_zero);

	/* A handler for a smaller struct than this library hands out gets nothing, not a struct
	 * it would read past. */
	s.n = 0;
	svm_set_event_handler_sized(c, on_record, &s, sizeof(struct svm_event) - 8);
	cr_assert_eq(svm_bind_pgtable(c, "0000:3b:00.0", &pg, NULL), -EACCES);
	svm_dispatch(c, 300);
	cr_assert_eq(s.n, 0);
}

/* No struct ends in padding a new field could take unseen: the reserved fields that fill it are
 * refused unless 0 on the way in, and come back 0. */
Test(abi, reserved_fields_are_zero_both_ways)
{
	struct svm_pasid_table t = {.ptr = 0x1000, .size = 4096, .model = SVM_MODEL_SMMU};
	struct svm_smmu_cd_table cd = {.ptr = 0x1000, .size = 64, .vsid = 1};
	struct svm_status st;
	struct svm_reload_result rr;
	struct svm_device *devs = NULL;
	size_t n = 0;

	t.reserved = 1;
	cr_assert_eq(svm_bind_pasid_table(c, "0000:3c:00.0", &t, NULL), -E2BIG);
	t.reserved = 0;
	cr_assert_eq(svm_bind_pasid_table(c, "0000:3c:00.0", &t, NULL), -EACCES, "%s",
		     svm_reason(c));
	cd.reserved[1] = 1;
	cr_assert_eq(svm_bind_smmu_cd_table(c, "0000:3c:00.0", &cd, NULL, NULL), -E2BIG);

	memset(&st, 0xa5, sizeof(st));
	cr_assert_eq(svm_status(c, &st, NULL), 0);
	cr_assert_eq(st.reserved, 0);
	memset(&rr, 0xa5, sizeof(rr));
	cr_assert_eq(svm_reload(c, &rr, NULL), 0, "%s", svm_reason(c));
	cr_assert_eq(rr.reserved, 0);
	cr_assert_eq(svm_devices(c, &devs, &n), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert(all(devs[i].reserved, sizeof(devs[i].reserved), 0), "device %zu", i);
	free(devs);
}
