/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The unprivileged client of the VM suite (tests/vm): runs inside the QEMU guest as a plain
 * user against svmd on a real VFIO kernel and prints one "PASS name" or "FAIL name: detail"
 * line per check: the device fd svmd hands out works, and binds say the kernel lacks the ioctl.
 *
 *   vm-client SOCKET DEVICE GROUP UID KERNEL-RELEASE
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "svmclient.h"

static int n_failed;

static void pass(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("PASS %s", name);
	if (fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

static void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	n_failed++;
}

static const char *reason(struct svm_client *c)
{
	return svm_reason(c) ? svm_reason(c) : "(no reason)";
}

/* A bind must come back NotSupported with exactly the kernel-naming reason. */
static void expect_not_supported(struct svm_client *c, const char *name, int r, const char *want)
{
	if (r == -EOPNOTSUPP && strcmp(reason(c), want) == 0)
		pass(name, "EOPNOTSUPP \"%s\"", reason(c));
	else
		fail(name, "got %d (%s) \"%s\", want EOPNOTSUPP \"%s\"", r, strerror(-r), reason(c),
		     want);
}

/* What the device fd can do: VFIO_DEVICE_GET_INFO, then read the edu identification register
 * at the start of BAR0 (0x010000ed: version 1.0, "ed"). */
static void check_device_fd(int fd)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};
	uint32_t ident = 0;

	if (ioctl(fd, VFIO_DEVICE_GET_INFO, &info) < 0) {
		fail("device-info", "VFIO_DEVICE_GET_INFO: %s", strerror(errno));
		return;
	}
	if ((info.flags & VFIO_DEVICE_FLAGS_PCI) && info.num_regions >= VFIO_PCI_NUM_REGIONS)
		pass("device-info", "VFIO_DEVICE_GET_INFO flags=0x%x regions=%u irqs=%u",
		     info.flags, info.num_regions, info.num_irqs);
	else
		fail("device-info", "flags=0x%x regions=%u: not a vfio-pci device", info.flags,
		     info.num_regions);

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &bar0) < 0) {
		fail("device-bar0", "VFIO_DEVICE_GET_REGION_INFO: %s", strerror(errno));
		return;
	}
	if (pread(fd, &ident, sizeof(ident), (off_t)bar0.offset) != sizeof(ident))
		fail("device-bar0", "read of BAR0: %s", strerror(errno));
	else if ((ident & 0xff) != 0xed)
		fail("device-bar0", "identification register 0x%08x, want 0x......ed", ident);
	else
		pass("device-bar0", "BAR0 (%" PRIu64 " bytes) identification 0x%08x",
		     (uint64_t)bar0.size, ident);
}

int main(int argc, char **argv)
{
	struct svm_client *c = NULL;
	struct svm_device *devs = NULL;
	struct svm_binding_info *list = NULL;
	char want[256], node[64];
	size_t n = 0;
	uint64_t id = 0;
	int fd = -1, r;

	if (argc != 6) {
		fprintf(stderr, "usage: vm-client SOCKET DEVICE GROUP UID KERNEL-RELEASE\n");
		return 2;
	}
	const char *sock = argv[1], *device = argv[2], *group = argv[3], *release = argv[5];
	uid_t uid = (uid_t)strtoul(argv[4], NULL, 10);

	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		fail("client-drops-root", "%s", strerror(errno));
		return 1;
	}
	/* On its own the client cannot reach the device. */
	snprintf(node, sizeof(node), "/dev/vfio/%s", group);
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		pass("client-cannot-open-group", "uid %u: %s: %s", (unsigned)uid, node,
		     strerror(errno));
	else
		fail("client-cannot-open-group", "uid %u opened %s itself", (unsigned)uid, node);
	if (fd >= 0)
		close(fd);

	r = svm_connect(sock, &c);
	if (r < 0) {
		fail("client-hello", "svm_connect(%s): %s", sock, strerror(-r));
		return 1;
	}
	if (strcmp(svm_backend(c), "vfio") == 0)
		pass("client-hello", "svmd %s, %s backend", svm_server_version(c), svm_backend(c));
	else
		fail("client-hello", "backend %s, want vfio", svm_backend(c));

	r = svm_devices(c, &devs, &n);
	const struct svm_device *d = NULL;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (strcmp(devs[i].name, device) == 0)
			d = &devs[i];
	if (!d)
		fail("device-listed", "%s not among %zu devices (%d)", device, n, r);
	else if (d->vendor != 0x1234 || d->device != 0x11e8 ||
		 d->iommu_group != strtoul(group, NULL, 10) ||
		 !(d->kinds & SVM_KIND_BIT(SVM_KIND_DEVICE)) || d->model != SVM_MODEL_VTD)
		fail("device-listed", "%s: %04x:%04x group %u kinds 0x%x model %u", d->name,
		     d->vendor, d->device, d->iommu_group, d->kinds, d->model);
	else
		pass("device-listed", "%s %04x:%04x group %u, PASID bits %u, model vtd", d->name,
		     d->vendor, d->device, d->iommu_group, d->pasid_bits);
	free(devs);

	fd = -1;
	r = svm_open_device(c, device, &fd, &id);
	if (r < 0) {
		fail("open-device", "%s (%s)", strerror(-r), reason(c));
	} else {
		pass("open-device", "binding %" PRIu64 ", fd %d", id, fd);
		check_device_fd(fd);
		close(fd);
	}

	snprintf(want, sizeof(want), "this kernel (%s) lacks VFIO_IOMMU_SVM_BIND", release);
	r = svm_bind_task(c, device, -1, 0, NULL, NULL);
	expect_not_supported(c, "bind-task-not-supported", r, want);
	struct svm_pgtable pg = {.pasid = 100, .addr_width = 48, .gpgd = 0x100000};
	r = svm_bind_pgtable(c, device, &pg, NULL);
	expect_not_supported(c, "bind-pgtable-not-supported", r, want);
	struct svm_pasid_table t = {.ptr = 0x200000, .size = 4096, .model = SVM_MODEL_VTD};
	r = svm_bind_pasid_table(c, device, &t, NULL);
	expect_not_supported(c, "bind-pasid-table-not-supported", r, want);

	r = svm_list(c, &list, &n);
	if (r == 0 && n == 1 && list[0].kind == SVM_KIND_DEVICE && list[0].id == id)
		pass("open-device-listed", "binding %" PRIu64 " kind device", id);
	else
		fail("open-device-listed", "r=%d, %zu bindings", r, n);
	free(list);
	svm_disconnect(c);
	return n_failed ? 1 : 0;
}
