/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every backend shares; see backend.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backend.h"
#include "util.h"

struct backend *backend_free(struct backend *b)
{
	if (b)
		b->ops->free(b);
	return NULL;
}

struct device *backend_find_device(const struct backend *b, const char *name)
{
	char canon[SVMD_DEVICE_NAME_SZ];

	if (device_name_canonical(name, canon) < 0)
		return NULL;
	for (size_t i = 0; i < b->n_devices; i++)
		if (strcmp(b->devices[i].name, canon) == 0)
			return &b->devices[i];
	return NULL;
}

/* statfs(2)'s f_type of shmem (tmpfs) and hugetlbfs, where memfds live. */
#define SHMEM_MAGIC     0x01021994
#define HUGETLBFS_MAGIC 0x958458f6

/* A memfd is an unlinked regular file on the kernel's internal shmem (or hugetlbfs) mount,
 * which memfd_create(2) names "/memfd:NAME (deleted)": no other file is all three. */
static bool is_memfd(int fd, const struct stat *st)
{
	char path[64], target[16] = "";
	struct statfs sfs;
	ssize_t n;

	if (!S_ISREG(st->st_mode) || st->st_nlink != 0 || fstatfs(fd, &sfs) < 0)
		return false;
	if (sfs.f_type != SHMEM_MAGIC && sfs.f_type != HUGETLBFS_MAGIC)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	return n >= 7 && memcmp(target, "/memfd:", 7) == 0;
}

int memfd_check(int fd, uint64_t offset, uint64_t length, char *why, size_t whylen)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !is_memfd(fd, &st))
		return fail(why, whylen, -EMEDIUMTYPE,
			    "the fd sent is not a memfd: svmd maps only memory made with "
			    "memfd_create(2)");
	if (offset + length < offset || offset + length > (uint64_t)st.st_size)
		return fail(why, whylen, -EINVAL,
			    "the memfd holds %" PRIu64 " bytes, not [%" PRIu64 ", %" PRIu64 ")",
			    (uint64_t)st.st_size, offset, offset + length);
	return 0;
}
