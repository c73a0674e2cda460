/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the two halves of the VFIO emulator share (vfio-emul.c: the legacy container, the
 * interposed calls and the log; iommufd-emul.c: /dev/iommu and the VFIO device cdevs): the
 * table of emulated fds, the configuration read from the environment, the log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cleanup.h"

#define EXPORT __attribute__((visibility("default")))

#define FDS_MAX   4096
#define FAILS_MAX 8

enum kind { K_NONE, K_CONTAINER, K_GROUP, K_DEVICE, K_IOMMUFD, K_CDEV };

/* One emulated fd. Kernel objects that several fds share (a dup of an iommufd or of a cdev
 * opens no new file) are in the iommufd half's tables, named by id. */
struct efd {
	enum kind kind;
	unsigned id;        /* container, group, device; iommufd context; cdev open file */
	unsigned container; /* groups: the container they are attached to, 0 for none */
	dev_t dev;
	ino_t ino;
};

struct emul_fail {
	unsigned long request; /* an ioctl number; 0 for an open */
	char path[64];         /* opens: relative to the emulated dev root ("iommu") */
	int err;
	unsigned nth; /* 0: every call; else only the nth (from 1) */
	unsigned seen;
};

struct emul_config {
	bool on;
	char dev[512];
	char sysfs[512];
	char log[512];
	struct emul_fail fail[FAILS_MAX];
	size_t n_fail;
};

extern struct emul_config emul;
extern struct efd emul_fds[FDS_MAX];

void emul_log(const char *fmt, ...) _printf_(1, 2);
void emul_hex(char *out, size_t size, const void *p, size_t n);
const char *emul_errname(int e);
/* The entry of an emulated fd, or NULL. */
struct efd *emul_lookup(int fd);
void emul_track(int fd, enum kind kind, unsigned id);
/* The driver a device of the fake sysfs is bound to ("" for none). */
void emul_driver_of(const char *device, char *buf, size_t size);
/* 0, or the negative errno a VFIO_EMUL_FAIL entry injects into this call (counted). */
int emul_injected(unsigned long request, const char *path);

/* The iommufd half: opens of DEV/iommu and DEV/vfio/devices/vfioN (fd already open; returns it,
 * or -1 with errno after closing it), ioctls on its fds (logged there), a close (it closes the
 * fd, and returns what close(2) did) and a dup (after newfd exists). */
void iommufd_emul_init(void);
int iommufd_emul_open(int fd, const char *rel, const char *flags);
int iommufd_emul_ioctl(int fd, struct efd *e, unsigned long req, void *arg, char *details,
		       size_t size);
int iommufd_emul_close(int fd, struct efd *e);
void iommufd_emul_dup(int oldfd, int newfd);
