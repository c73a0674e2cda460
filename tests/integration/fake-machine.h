/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake machine for the suites that run the real svmd on the VFIO emulator (tests/vfio-emul,
 * preloaded): a sysfs and a /dev under one temporary directory, with PCI functions, their IOMMU
 * groups, config space, drivers, IOMMU links and VFIO device cdevs, the group nodes and, for the
 * iommufd backend, /dev/iommu; svmd's arguments and environment; and what the tests read back
 * (the emulator's log, svmd's fds).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define NO_PASID  (-1) /* extended config space without a PASID capability */
#define SHORT_CFG (-2) /* a conventional 256-byte config space */
#define FDEVS_MAX 12

struct fdev {
	const char *name;
	unsigned group;
	const char *driver; /* NULL: no driver */
	int pasid_bits;     /* 0..20, NO_PASID or SHORT_CFG */
	const char *iommu;  /* the iommu link's name ("dmar0", "smmu3.0x..."), NULL for none */
	unsigned vendor, device;
	bool bridge;
	bool unmanaged; /* in sysfs, but not given to svmd with --device */
	bool no_cdev;   /* vfio-pci without a VFIO device cdev (a kernel without them) */
};

struct fake {
	char root[64];
	char sys[96], dev[96], log[128], topo[128];
	char backend_arg[32], sysfs_arg[128], dev_arg[128], device_args[FDEVS_MAX][32];
	char env_buf[14][700];
	const char *env[16];
	const char *args[FDEVS_MAX + 4];
	size_t n_env;
};

void vmkdir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void put_file(const char *path, const void *data, size_t len);
void put_text(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void put_link(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void env_add(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Builds the machine: every device in sysfs and its group, /dev/vfio/vfio, /dev/vfio/N for each
 * group with a vfio-pci member, and for each vfio-pci device (but no_cdev ones) its cdev, vfioN
 * in order, in sysfs and /dev/vfio/devices; the simulated kernel's topology (managed devices);
 * svmd's arguments (--backend=vfio, --device for each managed device, the roots) and
 * environment. */
void fake_new(struct fake *f, const struct fdev *devs, size_t n);
/* The same for another backend: "iommufd" and "auto" add /dev/iommu. */
void fake_new_backend(struct fake *f, const char *backend, const struct fdev *devs, size_t n);
void fake_free(struct fake *f);
/* The emulator's log so far (static buffer). */
const char *emul_log(const struct fake *f);
/* Waits up to 2 s for needle in the emulator's log. */
bool emul_wait(const struct fake *f, const char *needle);
int count_of(const char *hay, const char *needle);
/* Lines of the daemon's log holding needle. */
int log_count(const struct daemon *d, const char *needle);
bool wait_log_count(const struct daemon *d, const char *needle, int n, int timeout_ms);
const char *kernel_release(void);
/* Runs svmd on the fake machine expecting it to refuse to start; returns its stderr. */
const char *svmd_refuses(struct fake *f, const char *extra_env);
/* The daemon's fd count once the connections the harness opened to see it start are gone. */
int idle_fd_count(const struct daemon *d);
bool wait_fd_count(const struct daemon *d, int n);
/* The daemon's fds on the fake /dev: how many, and whether each is close-on-exec. */
int vfio_fds(const struct daemon *d, const struct fake *f, bool *all_cloexec);
