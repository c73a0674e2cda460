/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A backend of svmd driven by hand: the iommufd integration suite runs it under the VFIO
 * emulator to call each backend operation (space_new, open_device, map, close_device,
 * space_free, ...) in the order a test wants, and to act as the client that holds a device
 * fd, before and besides the request core. One output line per command:
 *
 *   backend-driver [--backend=NAME] --device=BDF... [--sysfs-root=DIR] [--dev-root=DIR]
 *                  [--test-mock-devices=N] -- CMD...
 *
 *   devices                          one line per device: name, group, model, PASID bits, kinds
 *                                    and, per kind it lacks, why
 *   note                             the backend's start-up note and SVM summary
 *   ioctls                           what it issues once serving, hex
 *   space S                          space_new as S (a letter)
 *   free S                           space_free
 *   open S DEV                       open_device; the client's fd is kept as S's for DEV
 *   close S DEV                      close_device
 *   client-close S DEV               the client closes its fd
 *   client-attach S DEV ID           the client attaches its fd to object ID (its own ioctl)
 *   check DEV KIND                   check() of a task/pgtable/pasid-table bind
 *   nest S DEV PASID GPGD WIDTH FLAGS  check() and nest_bind() of a VT-d page table (PASID 0:
 *                                    the RID; FLAGS: the seed's VT-d flags)
 *   unnest S DEV PASID               nest_unbind() of one made so
 *   nestf S DEV PASID GPGD WIDTH FLAGS  the same with SVMD_PGTABLE_FAULTS ("fault fd N")
 *   fault-close S DEV PASID          closes the fault fd nestf gave
 *   client-attach-pasid S DEV PASID ID  the client attaches its fd at PASID to object ID
 *   file N memfd:SIZE|file:SIZE|pipe  a client's file as number N (0-7): a memfd, an unlinked
 *                                    regular file, a pipe
 *   map S DEV IOVA LEN OFF FLAGS N   memfd_check(), check() and map() of file N
 *   unmap S DEV IOVA LEN             unmap() of a map made with those
 *   table S DEV PTR SIZE VSID FMT CDMAX [40]  check() and bind_space() of an SMMUv3 CD table
 *   untable S DEV, event-close S DEV  unbind_space() of it; closing the vEVENTQ fd it gave
 *   inval S DEV TYPE W0,W1[,W2]...   invalidate() of the table last bound there, one entry per
 *                                    word list (the line ends "done N")
 *   sandbox                          enters svmd's seccomp filter with the backend's ioctls, as
 *                                    svmd does once serving: what follows runs as svmd's loop
 *                                    would (a refused call prints "seccomp: refused")
 *
 * Each line reads "CMD: 0" or "CMD: -ENAME: why". Every command is also written to the
 * emulator's log (VFIO_EMUL_LOG) as "== CMD", so a test can tell which calls it made, and
 * "== end" before the driver closes the clients' fds, frees what is left and the backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends.h"
#include "log.h"
#include "sandbox.h"
#include "vfio-abi.h"

#define SPACES 8

static struct backend *b;
static struct backend_space *spaces[SPACES];
static int client_fd[SPACES][16];
static int files[8];

static void mark(const char *cmd)
{
	const char *log = getenv("VFIO_EMUL_LOG");
	FILE *f = log ? fopen(log, "ae") : NULL;

	if (f) {
		fprintf(f, "== %s\n", cmd);
		fclose(f);
	}
}

static void say(const char *cmd, int r, const char *why)
{
	if (r >= 0)
		printf("%s: 0\n", cmd);
	else
		printf("%s: -%s: %s\n", cmd, strerrorname_np(-r), why);
	fflush(stdout);
}

static int space_of(const char *s)
{
	return s && s[0] >= 'A' && s[0] < 'A' + SPACES && !s[1] ? s[0] - 'A' : -1;
}

static struct device *dev_of(const char *name)
{
	return name ? backend_find_device(b, name) : NULL;
}

static const char *const kind_names[] = {"none", "task", "pgtable", "pasid-table", "device", "map"};

static void devices(void)
{
	for (size_t i = 0; i < b->n_devices; i++) {
		const struct device *d = &b->devices[i];
		printf("device %s group=%u group-devices=%u model=%u pasid=%u kinds=0x%x\n",
		       d->name, d->iommu_group, d->group_devices, d->model, d->pasid_bits,
		       d->kinds);
		for (unsigned k = 1; k < _SVMD_KIND_MAX; k++)
			if (d->unsupported[k])
				printf("  %s: %s\n", kind_names[k], d->unsupported[k]);
	}
}

/* File n: a memfd of SIZE bytes, a regular file (unlinked) of SIZE, or a pipe. */
static int file_new(char **a, char *why, size_t whylen)
{
	int n = a[1] ? atoi(a[1]) : -1, fd = -1, p[2];
	const char *spec = a[2] ? a[2] : "";

	if (n < 0 || n >= 8)
		return -EINVAL;
	if (strncmp(spec, "memfd:", 6) == 0) {
		fd = memfd_create("driver", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, strtoll(spec + 6, NULL, 0)) < 0)
			fd = safe_close(fd);
	} else if (strncmp(spec, "file:", 5) == 0) {
		char path[] = "/tmp/backend-driver.XXXXXX";
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, strtoll(spec + 5, NULL, 0)) < 0)
			fd = safe_close(fd);
		unlink(path);
	} else if (strcmp(spec, "pipe") == 0 && pipe2(p, O_CLOEXEC) == 0) {
		close(p[1]);
		fd = p[0];
	}
	if (fd < 0)
		return -EINVAL;
	files[n] = fd;
	snprintf(why, whylen, "fd %d", fd);
	return 0;
}

static int map(char **a, char *why, size_t whylen)
{
	int s = space_of(a[1]);
	const struct device *dev = dev_of(a[2]);
	struct bind_args args = {.kind = SVMD_KIND_MAP};
	int fd, r;

	if (s < 0 || !dev || !a[7] || atoi(a[7]) < 0 || atoi(a[7]) >= 8)
		return -EINVAL;
	args.map.iova = strtoull(a[3], NULL, 0);
	args.map.length = strtoull(a[4], NULL, 0);
	args.map.offset = strtoull(a[5], NULL, 0);
	args.map.flags = (uint32_t)strtoul(a[6], NULL, 0);
	fd = files[atoi(a[7])];
	r = memfd_check(fd, args.map.offset, args.map.length, why, whylen);
	if (r == 0)
		r = b->ops->check(b, dev, &args, why, whylen);
	if (r == 0)
		r = b->ops->map(b, spaces[s], dev, fd, &args, why, whylen);
	return r;
}

static int unmap(char **a, char *why, size_t whylen)
{
	int s = space_of(a[1]);
	const struct device *dev = dev_of(a[2]);
	struct bind_args args = {.kind = SVMD_KIND_MAP};

	if (s < 0 || !dev || !a[4])
		return -EINVAL;
	args.map.iova = strtoull(a[3], NULL, 0);
	args.map.length = strtoull(a[4], NULL, 0);
	return b->ops->unmap(b, spaces[s], dev, &args, why, whylen);
}

static int check(char **a, char *why, size_t whylen)
{
	const struct device *dev = dev_of(a[1]);
	struct bind_args args = {0};

	if (!dev || !a[2])
		return -EINVAL;
	for (unsigned k = 1; k < 4; k++)
		if (strcmp(a[2], kind_names[k]) == 0)
			args.kind = k;
	return b->ops->check(b, dev, &args, why, whylen);
}

static int pgtable_args(char **a, struct bind_args *args)
{
	if (!a[3])
		return -EINVAL;
	*args = (struct bind_args){.kind = SVMD_KIND_PGTABLE};
	args->pasid = (uint32_t)strtoul(a[3], NULL, 0);
	args->pgtable.format = SVMD_PGTABLE_FORMAT_VTD;
	if (a[4] && a[5] && a[6]) {
		args->pgtable.gpgd = strtoull(a[4], NULL, 0);
		args->pgtable.addr_width = (uint32_t)strtoul(a[5], NULL, 0);
		args->pgtable.vtd_flags = strtoull(a[6], NULL, 0);
	}
	return 0;
}

/* The fault fds nestf gave, by space, device and PASID (the fd + 1: 0 is none). */
static struct {
	int s, dev;
	uint32_t pasid;
	int fd1;
} fault_fds[32];

static int *fault_fd_of(int s, const struct device *dev, uint32_t pasid)
{
	for (size_t i = 0; i < sizeof(fault_fds) / sizeof(fault_fds[0]); i++)
		if (fault_fds[i].fd1 && fault_fds[i].s == s &&
		    fault_fds[i].dev == (int)dev->index && fault_fds[i].pasid == pasid)
			return &fault_fds[i].fd1;
	for (size_t i = 0; i < sizeof(fault_fds) / sizeof(fault_fds[0]); i++)
		if (!fault_fds[i].fd1) {
			fault_fds[i].s = s;
			fault_fds[i].dev = (int)dev->index;
			fault_fds[i].pasid = pasid;
			return &fault_fds[i].fd1;
		}
	return NULL;
}

static int nest(char **a, char *why, size_t whylen)
{
	int s = space_of(a[1]);
	const struct device *dev = dev_of(a[2]);
	struct bind_args args;
	int r, *ff;

	if (s < 0 || !dev || pgtable_args(a, &args) < 0 || !b->ops->nest_bind)
		return -EINVAL;
	if (strcmp(a[0], "unnest") == 0)
		return b->ops->nest_unbind(b, spaces[s], dev, &args, why, whylen);
	if (strcmp(a[0], "fault-close") == 0) {
		ff = fault_fd_of(s, dev, args.pasid);
		if (!ff || !*ff)
			return -ENOENT;
		safe_close(*ff - 1);
		*ff = 0;
		return 0;
	}
	if (strcmp(a[0], "nestf") == 0)
		args.pgtable.flags |= SVMD_PGTABLE_FAULTS;
	args.pgtable.fault_fd = -1;
	r = b->ops->check(b, dev, &args, why, whylen);
	if (r == 0)
		r = b->ops->nest_bind(b, spaces[s], dev, &args, why, whylen);
	if (r == 0 && args.pgtable.fault_fd >= 0) {
		ff = fault_fd_of(s, dev, args.pasid);
		if (!ff)
			return -ENOSPC;
		if (*ff)
			safe_close(*ff - 1);
		*ff = args.pgtable.fault_fd + 1;
		snprintf(why, whylen, "fault fd %d", args.pgtable.fault_fd);
	}
	return r;
}

static int client_attach(int s, const struct device *dev, uint32_t id, uint32_t pasid)
{
	struct svmd_vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.flags = pasid ? SVMD_VFIO_DEVICE_ATTACH_PASID : 0,
		.pt_id = id,
		.pasid = pasid,
	};

	return ioctl(client_fd[s][dev->index], SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0 ? -errno
											    : 0;
}

/* "table S DEV PTR SIZE VSID FMT CDMAX [40]": bind_space() of a PASID table (an SMMUv3 CD
 * table, the request's 48-byte form unless "40"), after check(); "untable S DEV" unbinds it;
 * "event-close S DEV" closes the vEVENTQ fd the bind gave. */
static int event_fd[SPACES][16];            /* the fd + 1: 0 is none */
static struct bind_args tables[SPACES][16]; /* the last table bound */

/* "inval S DEV TYPE W0,W1[,W2]...": invalidate() of the table last bound on DEV in S. */
static int inval_cmd(int s, const struct device *dev, char **a, char *why, size_t whylen)
{
	struct svmd_invalidate_entry e[SVMD_INVALIDATE_ENTRIES_MAX + 1] = {0};
	uint32_t n = 0, done = 0;
	int r;

	if (!a[3] || !b->ops->invalidate)
		return -EINVAL;
	for (char **w = &a[4]; *w && n <= SVMD_INVALIDATE_ENTRIES_MAX; w++, n++) {
		char *p = *w;
		for (unsigned k = 0; k < 3 && *p; k++) {
			e[n].w[k] = strtoull(p, &p, 0);
			if (*p == ',')
				p++;
		}
	}
	r = b->ops->invalidate(b, spaces[s], dev, &tables[s][dev->index],
			       (uint32_t)strtoul(a[3], NULL, 0), e, n, &done, why, whylen);
	if (r == 0)
		snprintf(why, whylen, "done %" PRIu32, done);
	else
		snprintf(why + strlen(why), whylen - strlen(why), " [done %" PRIu32 "]", done);
	return r;
}

static int table_cmd(int s, const struct device *dev, char **a, char *why, size_t whylen)
{
	struct bind_args args = {.kind = SVMD_KIND_PASID_TABLE};
	int r;

	if (strcmp(a[0], "untable") == 0) {
		b->ops->unbind_space(b, spaces[s], dev, &args);
		return 0;
	}
	if (strcmp(a[0], "event-close") == 0) {
		safe_close(event_fd[s][dev->index] - 1);
		event_fd[s][dev->index] = 0;
		return 0;
	}
	if (!a[3] || !a[4] || !a[5] || !a[6] || !a[7])
		return -EINVAL;
	args.table.ptr = strtoull(a[3], NULL, 0);
	args.table.size = strtoull(a[4], NULL, 0);
	args.table.model = SVMD_MODEL_SMMU;
	args.table.vsid = (uint32_t)strtoul(a[5], NULL, 0);
	args.table.s1fmt = (uint8_t)atoi(a[6]);
	args.table.s1cdmax = (uint8_t)atoi(a[7]);
	args.table.vsid_valid = !a[8] || strcmp(a[8], "40") != 0;
	args.table.event_fd = -1;
	r = b->ops->check(b, dev, &args, why, whylen);
	if (r == 0)
		r = b->ops->bind_space(b, spaces[s], dev, &args, why, whylen);
	if (r == 0) {
		tables[s][dev->index] = args;
		event_fd[s][dev->index] = args.table.event_fd + 1;
		snprintf(why, whylen, "event fd %d", args.table.event_fd);
	}
	return r;
}

/* Commands on a space and a device. */
static int space_device_cmd(char **a, char *why, size_t whylen)
{
	int s = space_of(a[1]);
	const struct device *dev = dev_of(a[2]);

	if (s < 0 || !dev)
		return -EINVAL;
	int *cfd = &client_fd[s][dev->index];
	if (strcmp(a[0], "open") == 0) {
		int r = b->ops->open_device(b, spaces[s], dev, cfd, why, whylen);
		if (r == 0)
			snprintf(why, whylen, "fd %d", *cfd);
		return r;
	}
	if (strcmp(a[0], "close") == 0) {
		b->ops->close_device(b, spaces[s], dev);
		return 0;
	}
	if (strcmp(a[0], "client-close") == 0) {
		*cfd = safe_close(*cfd);
		return 0;
	}
	if (strcmp(a[0], "client-attach") == 0 && a[3])
		return client_attach(s, dev, (uint32_t)strtoul(a[3], NULL, 0), 0);
	if (strcmp(a[0], "client-attach-pasid") == 0 && a[3] && a[4])
		return client_attach(s, dev, (uint32_t)strtoul(a[4], NULL, 0),
				     (uint32_t)strtoul(a[3], NULL, 0));
	if (strcmp(a[0], "table") == 0 || strcmp(a[0], "untable") == 0 ||
	    strcmp(a[0], "event-close") == 0)
		return table_cmd(s, dev, a, why, whylen);
	if (strcmp(a[0], "inval") == 0)
		return inval_cmd(s, dev, a, why, whylen);
	return -EINVAL;
}

static int run(char **a, char *why, size_t whylen)
{
	int s = space_of(a[1]);

	if (strcmp(a[0], "devices") == 0) {
		devices();
		return 0;
	}
	if (strcmp(a[0], "note") == 0) {
		printf("note: %s\nsvm: %s\n", b->note ? b->note : "(none)",
		       b->svm_unsupported ? b->svm_unsupported : "(none)");
		return 0;
	}
	if (strcmp(a[0], "ioctls") == 0) {
		for (size_t i = 0; i < b->n_ioctls; i++)
			printf("ioctl 0x%lx\n", b->ioctls[i]);
		return 0;
	}
	if (strcmp(a[0], "space") == 0 && s >= 0)
		return b->ops->space_new(b, &spaces[s], why, whylen);
	if (strcmp(a[0], "free") == 0 && s >= 0) {
		b->ops->space_free(b, spaces[s]);
		spaces[s] = NULL;
		return 0;
	}
	if (strcmp(a[0], "sandbox") == 0)
		return sandbox_enter(b->ioctls, b->n_ioctls);
	if (strcmp(a[0], "file") == 0)
		return file_new(a, why, whylen);
	if (strcmp(a[0], "map") == 0)
		return map(a, why, whylen);
	if (strcmp(a[0], "unmap") == 0)
		return unmap(a, why, whylen);
	if (strcmp(a[0], "check") == 0)
		return check(a, why, whylen);
	if (strcmp(a[0], "nest") == 0 || strcmp(a[0], "unnest") == 0 ||
	    strcmp(a[0], "nestf") == 0 || strcmp(a[0], "fault-close") == 0)
		return nest(a, why, whylen);
	return space_device_cmd(a, why, whylen);
}

int main(int argc, char **argv)
{
	const char *devs[16];
	struct backend_config cfg = {.name = "iommufd", .devices = devs};
	char err[512] = "";
	int i, r;

	log_set_level(LOG_DEBUG);
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--backend=", 10) == 0)
			cfg.name = argv[i] + 10;
		else if (strncmp(argv[i], "--device=", 9) == 0 && cfg.n_devices < 16)
			devs[cfg.n_devices++] = argv[i] + 9;
		else if (strncmp(argv[i], "--sysfs-root=", 13) == 0)
			cfg.sysfs_root = argv[i] + 13;
		else if (strncmp(argv[i], "--dev-root=", 11) == 0)
			cfg.dev_root = argv[i] + 11;
		else if (strncmp(argv[i], "--test-mock-devices=", 20) == 0)
			cfg.test_mock_devices = strtoul(argv[i] + 20, NULL, 10);
	}
	memset(client_fd, -1, sizeof(client_fd));
	memset(files, -1, sizeof(files));
	r = backend_new(&cfg, &b, err, sizeof(err));
	say("new", r, err);
	if (r < 0)
		return 1;
	for (i++; i < argc; i++) {
		char line[1024], why[512] = "", *a[32] = {0};
		size_t n = 0;
		snprintf(line, sizeof(line), "%s", argv[i]);
		mark(argv[i]);
		for (char *t = strtok(line, " "); t && n < 31; t = strtok(NULL, " "))
			a[n++] = t;
		if (!n)
			continue;
		r = run(a, why, sizeof(why));
		if (r == 0 && why[0])
			printf("%s: 0 %s\n", argv[i], why);
		else
			say(argv[i], r, why);
	}
	mark("end");
	for (int s = 0; s < SPACES; s++)
		for (int k = 0; k < 16; k++)
			safe_close(client_fd[s][k]);
	for (int s = 0; s < SPACES; s++)
		if (spaces[s])
			b->ops->space_free(b, spaces[s]);
	backend_free(b);
	return 0;
}
