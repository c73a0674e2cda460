/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make check-system's library user: built inside the booted root against the installed
 * libsvmclient-dev, `cc pkgconfig-client.c $(pkg-config --cflags --libs svmclient)`, and run as
 * alice: binds itself on DEVICE through the installed svmd, finds the binding in its list,
 * unbinds it. Prints "bound ID:PASID listed unbound" and exits 0, or says what failed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <svmclient.h>

static int fail(const char *what, struct svm_client *c, int r)
{
	fprintf(stderr, "%s: %s (%s)\n", what, svm_strerror(r),
		c && svm_reason(c) ? svm_reason(c) : "");
	return 1;
}

int main(int argc, char **argv)
{
	struct svm_client *c = NULL;
	struct svm_binding_info *b = NULL;
	uint64_t id = 0;
	uint32_t pasid = 0;
	size_t n = 0, i;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DEVICE\n", argv[0]);
		return 2;
	}
	if ((r = svm_connect(NULL, &c)) < 0)
		return fail("svm_connect", c, r);
	if ((r = svm_bind_task(c, argv[1], -1, 0, &id, &pasid)) < 0)
		return fail("svm_bind_task", c, r);
	printf("bound %llu:%u", (unsigned long long)id, pasid);
	if ((r = svm_list(c, &b, &n)) < 0)
		return fail("svm_list", c, r);
	for (i = 0; i < n && b[i].id != id; i++)
		;
	free(b);
	if (i == n)
		return fail("svm_list", c, -ENOENT);
	printf(" listed");
	if ((r = svm_unbind(c, id)) < 0)
		return fail("svm_unbind", c, r);
	printf(" unbound\n");
	svm_disconnect(c);
	return 0;
}
