/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd backend at the syscall boundary: the real svmd, and the backend driven operation
 * by operation (tests/integration/backend-driver.c), with tests/vfio-emul preloaded on a fake
 * sysfs and /dev built per test. Checks start-up (the exact ioctls, what each device is, every
 * refusal), --backend=auto, a second svmd refused, and for clients' spaces what the emulated
 * kernel holds after each step: whose iommufd a device is bound to, which IOAS it is attached
 * to, what is mapped, and that a space's end leaves nothing behind, all inside svmd's seccomp
 * filter.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-machine.h"
#include "harness.h"

#define DEV0 "0000:3b:00.0"
#define DEV1 "0000:3c:00.0"

static const struct fdev one[] = {
	{DEV0, 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
};
static const struct fdev two[] = {
	{DEV0, 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
	{DEV1, 13, "vfio-pci", 16, "dmar1", 0x8086, 0x0b26, false, false, false},
};

static const char policy[] = "allow * user=svmd-test1\n";
static struct test_user u1;

static void setup(void)
{
	test_users(&u1, NULL);
}

TestSuite(iommufd, .init = setup, .timeout = 60);

static void start(struct daemon *d, struct fake *f, const char *extra_env)
{
	if (extra_env)
		env_add(f, "%s", extra_env);
	daemon_start_env(d, policy, NULL, f->args, f->env);
}

/* Hex of a struct built field by field, little-endian: the tests' own encoding of the uAPI. */
struct bytes {
	uint8_t b[64];
	size_t n;
};

static struct bytes *put(struct bytes *b, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
	return b;
}

static const char *hex_of(const struct bytes *b)
{
	static char buf[8][140];
	static int slot;

	slot = (slot + 1) % 8;
	buf[slot][0] = 0;
	for (size_t i = 0; i < b->n; i++)
		sprintf(buf[slot] + 2 * i, "%02x", b->b[i]);
	return buf[slot];
}

/* "ioctl NAME 0xREQ in=IN out=OUT [TAG] -> 0\n" */
static const char *ok_line(const char *name, unsigned req, const struct bytes *in,
			   const struct bytes *out, const char *tag)
{
	static char line[4][600];
	static int slot;

	slot = (slot + 1) % 4;
	snprintf(line[slot], sizeof(line[slot]), "ioctl %s 0x%x in=%s out=%s [%s] -> 0\n", name,
		 req, hex_of(in), hex_of(out), tag);
	return line[slot];
}

/* IOMMU_OPTION(RLIMIT_MODE, SET, 1): size, option_id, op, reserved, object_id, val64. */
static struct bytes option_set1(void)
{
	struct bytes b = {0};
	put(put(put(put(put(put(&b, 24, 4), 0, 4), 0, 2), 0, 2), 0, 4), 1, 8);
	return b;
}

/* IOMMU_GET_HW_INFO as svmd asks it (dev_id, 64 bytes of room) and a VT-d's answer. */
static struct bytes hw_info(uint32_t dev, uint32_t len, uint32_t type, uint8_t pasid)
{
	struct bytes b = {0};
	put(put(put(put(&b, 40, 4), 0, 4), dev, 4), len, 4);
	put(put(put(put(put(&b, 0, 8), type, 4), pasid, 1), 0, 3), 0, 8);
	return b;
}

static struct bytes ioas_alloc(uint32_t id)
{
	struct bytes b = {0};
	put(put(put(&b, 12, 4), 0, 4), id, 4);
	return b;
}

static struct bytes attach_pt(uint32_t pt)
{
	struct bytes b = {0};
	put(put(put(put(&b, 16, 4), 0, 4), pt, 4), 0, 4);
	return b;
}

static struct bytes iova_ranges(uint32_t ioas, uint32_t n, uint64_t align)
{
	struct bytes b = {0};
	put(put(put(put(&b, 32, 4), ioas, 4), n, 4), 0, 4);
	put(put(&b, 0, 8), align, 8);
	return b;
}

static struct bytes detach_pt(void)
{
	struct bytes b = {0};
	put(put(put(&b, 12, 4), 0, 4), 0, 4);
	return b;
}

static struct bytes destroy(uint32_t id)
{
	struct bytes b = {0};
	put(put(&b, 8, 4), id, 4);
	return b;
}

/* What svmd logs of one device's start-up, after its cdev's open and BIND. */
static void startup_device(char *buf, size_t size, unsigned cdev, unsigned devid, unsigned ioas,
			   unsigned pasid, const char *tag_hw)
{
	struct bytes hin = hw_info(devid, 64, 0, 0), hout = hw_info(devid, 24, 1, (uint8_t)pasid);
	struct bytes a0 = ioas_alloc(0), a1 = ioas_alloc(ioas), at = attach_pt(ioas),
		     at2 = attach_pt(ioas + 1), q = iova_ranges(ioas, 16, 0),
		     q2 = iova_ranges(ioas, 2, 0x1000), de = detach_pt(), x = destroy(ioas);
	char cd[16], tag[200];

	snprintf(cd, sizeof(cd), "cdev%u", cdev);
	snprintf(tag, sizeof(tag), "ioas %u", ioas);
	snprintf(buf, size, "%s%s", ok_line("iommufd1", 0x3b8a, &hin, &hout, tag_hw),
		 ok_line("iommufd1", 0x3b81, &a0, &a1, tag));
	snprintf(tag, sizeof(tag), "vfio%u attach %u via hwpt %u of ioas %u", cdev - 1, ioas,
		 ioas + 1, ioas);
	snprintf(buf + strlen(buf), size - strlen(buf), "%s", ok_line(cd, 0x3b77, &at, &at2, tag));
	snprintf(tag, sizeof(tag), "ioas %u: align 0x1000: 0-0xfedfffff 0xfef00000-0x7fffffffff",
		 ioas);
	snprintf(buf + strlen(buf), size - strlen(buf), "%s",
		 ok_line("iommufd1", 0x3b84, &q, &q2, tag));
	snprintf(tag, sizeof(tag), "vfio%u detach", cdev - 1);
	snprintf(buf + strlen(buf), size - strlen(buf), "%s", ok_line(cd, 0x3b78, &de, &de, tag));
	snprintf(tag, sizeof(tag), "destroy %u", ioas);
	snprintf(buf + strlen(buf), size - strlen(buf), "%s",
		 ok_line("iommufd1", 0x3b80, &x, &x, tag));
}

/* ---- Start-up ---- */

Test(iommufd, startup_ioctls_exact)
{
	struct fake f;
	struct daemon d;
	struct bytes opt = option_set1();
	char want[4096], dev0[3000], tag[128];
	const char *log;

	fake_new_backend(&f, "iommufd", one, 1);
	start(&d, &f, NULL);
	log = emul_log(&f);
	/* The option before any object; the BIND names svmd's iommufd by fd number, so its
	 * bytes are checked up to that field and its effect by the emulator's tag. */
	snprintf(want, sizeof(want),
		 "open iommu rw,cloexec -> iommufd1\n%sopen vfio/devices/vfio0 rw,cloexec -> "
		 "cdev1\n",
		 ok_line("iommufd1", 0x3b87, &opt, &opt, "option 0 set 1"));
	cr_assert(strncmp(log, want, strlen(want)) == 0, "%s", log);
	cr_assert(strstr(log, "ioctl cdev1 0x3b76 in=1800000000000000"), "%s", log);
	cr_assert(strstr(log, "[vfio0 -> iommufd1 as device 1] -> 0\n"), "%s", log);
	snprintf(tag, sizeof(tag),
		 "device 1 (vfio0): type 1, 20 PASID bits, capabilities 0, ecap 0xf00f4a");
	startup_device(dev0, sizeof(dev0), 1, 1, 2, 20, tag);
	const char *rest = strstr(log, "[vfio0 -> iommufd1 as device 1] -> 0\n");
	cr_assert(rest && strcmp(rest + strlen("[vfio0 -> iommufd1 as device 1] -> 0\n"), dev0) ==
				  0,
		  "got:\n%s\nwant after the BIND:\n%s", log, dev0);
	cr_assert(daemon_log_has(&d, "iommufd backend, 1 device"));
	cr_assert(daemon_log_has(&d,
				 "charged to svmd's own locked memory (IOMMU_OPTION_RLIMIT_MODE "
				 "1, VmLck), against svmd's RLIMIT_MEMLOCK"));
	cr_assert(daemon_log_has(&d, "svmd gave up CAP_IPC_LOCK, with which nothing would be "
				     "charged"));
	daemon_stop(&d);
	/* Shut down: the idle binding goes (the device is unbound), then svmd's iommufd, empty. */
	log = emul_log(&f);
	cr_assert(strstr(log, "close cdev1 [vfio0 unbound from iommufd1]\n"
			      "close iommufd1 [left: nothing]\n"),
		  "%s", log);
	cr_assert_eq(count_of(log, "\n"), 12, "%s", log);
	fake_free(&f);
}

static const struct svm_device *find_dev(const struct svm_device *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	cr_assert_fail("device %s not listed", name);
	return NULL;
}

Test(iommufd, devices_described_by_the_iommu)
{
	const struct fdev devs[] = {
		{DEV0, 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{DEV1, 13, "vfio-pci", 16, "smmu3.0x0000000009050000", 0x19e5, 0xa250, false, false,
		 false},
		{"0000:3d:00.0", 14, "vfio-pci", NO_PASID, "ivhd0", 0x1022, 0x1234, false, false,
		 false},
		{"0000:3e:00.0", 15, "vfio-pci", SHORT_CFG, NULL, 0x1234, 0x11e8, false, false,
		 false},
	};
	const uint32_t kinds = SVM_KIND_BIT(SVM_KIND_DEVICE) | SVM_KIND_BIT(SVM_KIND_MAP);
	const struct {
		const char *name;
		uint32_t group;
		uint16_t vendor, device;
		uint8_t bits, model;
	} want[] = {
		{DEV0, 12, 0x8086, 0x0b25, 20, SVM_MODEL_VTD},
		{DEV1, 13, 0x19e5, 0xa250, 8, SVM_MODEL_SMMU}, /* VFIO_EMUL_HW_INFO below */
		{"0000:3d:00.0", 14, 0x1022, 0x1234, 0, SVM_MODEL_NONE},
		{"0000:3e:00.0", 15, 0x1234, 0x11e8, 0, SVM_MODEL_NONE},
	};
	struct fake f;
	struct daemon d;
	struct svm_client *c = NULL;
	struct svm_device *v = NULL;
	size_t n = 0;

	fake_new_backend(&f, "iommufd", devs, 4);
	/* The PASID width is the IOMMU's answer (here narrower than the config space's). */
	start(&d, &f, "VFIO_EMUL_HW_INFO=" DEV1 "=2/8/0x6/0");
	cr_assert_eq(svm_connect(d.socket, &c), 0);
	cr_assert_str_eq(svm_backend(c), "iommufd");
	cr_assert_eq(svm_devices(c, &v, &n), 0);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		const struct svm_device *x = find_dev(v, n, want[i].name);
		cr_assert_eq(x->iommu_group, want[i].group, "%s", x->name);
		cr_assert_eq(x->group_devices, 1, "%s", x->name);
		cr_assert_eq(x->kinds, kinds, "%s: 0x%x", x->name, x->kinds);
		cr_assert_eq(x->vendor, want[i].vendor, "%s", x->name);
		cr_assert_eq(x->device, want[i].device, "%s", x->name);
		cr_assert_eq(x->pasid_bits, want[i].bits, "%s", x->name);
		cr_assert_eq(x->model, want[i].model, "%s", x->name);
	}
	free(v);
	svm_disconnect(c);
	daemon_stop(&d);
	fake_free(&f);
}

Test(iommufd, binds_are_not_supported_and_say_why)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new_backend(&f, "iommufd", one, 1);
	start(&d, &f, NULL);
	cr_assert(daemon_log_has(&d, "the iommufd backend brokers open-device, map and guest page "
				     "tables on a nesting VT-d, and no managed device's IOMMU "
				     "nests; a process's address space has no mainline uAPI: SVM "
				     "binds will fail as not supported"));
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, DEV0, -1, 0, &r), -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "no mainline uAPI"), "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable(&p, DEV0, 150, 0x10000, &r), -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "cannot nest (ECAP.NEST, bit 26, is clear"), "%s", r.reason);
	cr_assert_eq(peer_bind_pasid_table(&p, DEV0, 0x100000, 4096, SVM_MODEL_VTD, &r),
		     -EOPNOTSUPP);
	cr_assert_eq(count_bindings(&d), 0);
	/* No bind reached the kernel: start-up's ioctls only. */
	const char *log = emul_log(&f);
	cr_assert_eq(count_of(log, "ioctl "), 8, "%s", log);
	peer_stop(&p);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- Start-up refusals: each says what to fix, and closes what it opened ---- */

static void closed_what_it_opened(const struct fake *f)
{
	const char *log = emul_log(f);

	cr_assert_eq(count_of(log, "cloexec -> iommufd"), count_of(log, "close iommufd"), "%s",
		     log);
	cr_assert_eq(count_of(log, "cloexec -> cdev"), count_of(log, "close cdev"), "%s", log);
	cr_assert_eq(count_of(log, "as device"), count_of(log, "unbound from"), "%s", log);
}

struct refusal_row {
	char env[48];
	char message[300];
};

/* Messages name the fake /dev where they say DEV/. */
static const char *with_dev(const struct fake *f, const char *message)
{
	static char buf[600];
	const char *at = strstr(message, "DEV/");

	if (!at)
		return message;
	snprintf(buf, sizeof(buf), "%.*s%s/%s", (int)(at - message), message, f->dev, at + 4);
	return buf;
}

ParameterizedTestParameters(iommufd, refuses_when_the_kernel_refuses)
{
	static struct refusal_row rows[] = {
		{"VFIO_EMUL_OPEN_FAIL=iommu:13",
		 "cannot open DEV/iommu: Permission denied (svmd's udev rule gives group svmd the "
		 "VFIO nodes of the devices named in Device= of /etc/svmd/svmd.conf, and "
		 "/dev/iommu while there are some: name the device there, then run 'udevadm "
		 "trigger"},
		{"VFIO_EMUL_OPEN_FAIL=vfio/devices/vfio0:13",
		 "cannot open DEV/vfio/devices/vfio0 (" DEV0 "): Permission denied (svmd's udev "
		 "rule gives group svmd the VFIO nodes of the devices named in Device="},
		{"VFIO_EMUL_OPEN_FAIL=vfio/devices/vfio0:19",
		 "cannot open DEV/vfio/devices/vfio0 (" DEV0 "): No such device"},
		{"VFIO_EMUL_FAIL=3b87:22",
		 "IOMMU_OPTION(RLIMIT_MODE) on DEV/iommu: Invalid argument (EINVAL)"},
		{"VFIO_EMUL_FAIL=3b76:1",
		 "VFIO_DEVICE_BIND_IOMMUFD of " DEV0 ": EPERM: the platform cannot isolate its MSI "
		 "interrupts (enable interrupt remapping, e.g. intremap=on)"},
		{"VFIO_EMUL_FAIL=3b76:12", "VFIO_DEVICE_BIND_IOMMUFD of " DEV0
					   " (DEV/vfio/devices/vfio0): Cannot allocate memory "
					   "(ENOMEM)"},
		{"VFIO_EMUL_FAIL=3b8a:5",
		 "IOMMU_GET_HW_INFO for " DEV0 ": Input/output error (EIO)"},
		{"VFIO_EMUL_FAIL=3b81:12", "IOMMU_IOAS_ALLOC: Cannot allocate memory"},
		{"VFIO_EMUL_FAIL=3b77:22",
		 "VFIO_DEVICE_ATTACH_IOMMUFD_PT of " DEV0 " to an IOAS: Invalid argument (EINVAL)"},
		{"VFIO_EMUL_FAIL=3b84:90", "IOMMU_IOAS_IOVA_RANGES with " DEV0
					   " attached: Message too long (more than 16 ranges)"},
		{"VFIO_EMUL_FAIL=3b78:5",
		 "VFIO_DEVICE_DETACH_IOMMUFD_PT of " DEV0 ": Input/output error"},
		{"VFIO_EMUL_FAIL=3b80:16",
		 "IOMMU_DESTROY of a detached IOAS: Device or resource busy"},
	};
	return cr_make_param_array(struct refusal_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct refusal_row *row, iommufd, refuses_when_the_kernel_refuses)
{
	struct fake f;

	fake_new_backend(&f, "iommufd", one, 1);
	const char *err = svmd_refuses(&f, row->env);
	const char *want = with_dev(&f, row->message);
	cr_assert(strstr(err, "svmd: Cannot start the iommufd backend: "), "%s", err);
	cr_assert(strstr(err, want), "want '%s' in:\n%s", want, err);
	closed_what_it_opened(&f);
	fake_free(&f);
}

struct device_row {
	char driver[16]; /* "": none */
	char device_arg[40];
	char message[200];
};

ParameterizedTestParameters(iommufd, refuses_unusable_devices)
{
	static struct device_row rows[] = {
		{"nvme", "", DEV0 " is bound to nvme, not vfio-pci: bind it to vfio-pci"},
		{"", "", DEV0 " has no driver: bind it to vfio-pci"},
		{"vfio-pci", "--device=0000:99:00.0", "no PCI device 0000:99:00.0"},
		{"vfio-pci", "--device=3b:00", "'3b:00' is not a PCI address DDDD:BB:DD.F"},
	};
	return cr_make_param_array(struct device_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct device_row *row, iommufd, refuses_unusable_devices)
{
	struct fdev dev = one[0];
	struct fake f;

	dev.driver = row->driver[0] ? row->driver : NULL;
	fake_new_backend(&f, "iommufd", &dev, 1);
	if (row->device_arg[0])
		f.args[1] = row->device_arg;
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, row->message), "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);
}

Test(iommufd, refuses_without_devices_or_twice_the_same)
{
	struct fake f;
	const char *err;

	fake_new_backend(&f, "iommufd", NULL, 0);
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "no devices to manage: name them with --device=BDF"), "%s", err);
	cr_assert_str_eq(emul_log(&f), "", "nothing opened");
	fake_free(&f);

	fake_new_backend(&f, "iommufd", one, 1);
	/* --backend --device --sysfs-root --dev-root: the device again, upper case. */
	memmove(&f.args[3], &f.args[2], sizeof(f.args[0]) * 3);
	f.args[2] = "--device=0000:3B:00.0";
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, DEV0 " given twice"), "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);
}

Test(iommufd, refuses_without_iommufd_or_cdevs)
{
	struct fdev dev = one[0];
	struct fake f;
	char path[256], want[800];
	const char *err;

	/* No /dev/iommu: a kernel without CONFIG_IOMMUFD. */
	fake_new_backend(&f, "iommufd", one, 1);
	snprintf(path, sizeof(path), "%s/iommu", f.dev);
	cr_assert_eq(unlink(path), 0);
	err = svmd_refuses(&f, NULL);
	snprintf(want, sizeof(want),
		 "cannot open %s: No such file or directory (this kernel has no iommufd, "
		 "CONFIG_IOMMUFD; use --backend=vfio)",
		 path);
	cr_assert(strstr(err, want), "%s", err);
	fake_free(&f);

	/* No cdev in sysfs: a kernel without CONFIG_VFIO_DEVICE_CDEV. */
	dev.no_cdev = true;
	fake_new_backend(&f, "iommufd", &dev, 1);
	err = svmd_refuses(&f, NULL);
	snprintf(want, sizeof(want),
		 DEV0
		 " has no VFIO device cdev (%s/bus/pci/devices/" DEV0 "/vfio-dev: No such file "
		 "or directory): this kernel lacks CONFIG_VFIO_DEVICE_CDEV; use --backend=vfio",
		 f.sys);
	cr_assert(strstr(err, want), "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);

	/* sysfs names a cdev /dev lacks. */
	fake_new_backend(&f, "iommufd", one, 1);
	snprintf(path, sizeof(path), "%s/vfio/devices/vfio0", f.dev);
	cr_assert_eq(unlink(path), 0);
	err = svmd_refuses(&f, NULL);
	snprintf(want, sizeof(want),
		 "no %s, the cdev sysfs names for " DEV0 " (is devtmpfs mounted on %s?)", path,
		 f.dev);
	cr_assert(strstr(err, want), "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);
}

Test(iommufd, refuses_groups_it_cannot_own)
{
	const struct fdev viable[] = {
		{DEV0, 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3b:00.1", 12, "ixgbe", NO_PASID, "dmar0", 0x8086, 0x10fb, false, true,
		 false},
	};
	const struct fdev shared[] = {
		{"0000:5e:00.0", 20, "vfio-pci", 20, "dmar0", 0x8086, 0x4940, false, false, false},
		{"0000:5e:00.1", 20, "vfio-pci", 20, "dmar0", 0x8086, 0x4941, false, false, false},
	};
	struct fake f;
	char path[256];
	const char *err;

	fake_new_backend(&f, "iommufd", viable, 2);
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "IOMMU group 12 is not viable: bind 0000:3b:00.1 (bound to ixgbe) to "
			      "vfio-pci too"),
		  "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);

	fake_new_backend(&f, "iommufd", shared, 2);
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err,
			 "0000:5e:00.0 and 0000:5e:00.1 share IOMMU group 20: the iommufd "
			 "backend hands each device to its own client's iommufd, and the kernel "
			 "lets one iommufd own a group; manage one of them, or use "
			 "--backend=vfio"),
		  "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);

	fake_new_backend(&f, "iommufd", one, 1);
	put_text("vfio-noiommu\n", "%s/kernel/iommu_groups/12/name", f.sys);
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "IOMMU group 12 (" DEV0 ") is a no-IOMMU group"), "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);

	fake_new_backend(&f, "iommufd", one, 1);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/" DEV0 "/iommu_group", f.sys);
	cr_assert_eq(unlink(path), 0);
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, DEV0 " has no IOMMU group: enable the IOMMU"), "%s", err);
	fake_free(&f);
}

Test(iommufd, a_second_svmd_is_refused)
{
	struct fake f;
	struct daemon d;
	char want[400];

	fake_new_backend(&f, "iommufd", one, 1);
	start(&d, &f, NULL);
	const char *err = svmd_refuses(&f, NULL);
	snprintf(want, sizeof(want),
		 "svmd: Cannot start the iommufd backend: " DEV0 " (%s/vfio/devices/vfio0) is in "
		 "use by another process (another svmd?): VFIO_DEVICE_BIND_IOMMUFD answered EINVAL",
		 f.dev);
	cr_assert(strstr(err, want), "%s", err);
	/* The second one's iommufd and cdev (its second of each) are gone; the first still
	 * holds the device. */
	const char *log = emul_log(&f);
	cr_assert(strstr(log, "[vfio0 -> iommufd1] -> EINVAL\nclose cdev1 [vfio0 not bound]\n"
			      "close iommufd1 [left: nothing]\n"),
		  "%s", log);
	cr_assert_eq(count_bindings(&d), 0);
	daemon_stop(&d);
	cr_assert(strstr(emul_log(&f), "close cdev1 [vfio0 unbound from iommufd1]\n"), "%s",
		  emul_log(&f));
	fake_free(&f);
}

/* ---- Accounting ---- */

Test(iommufd, without_cap_sys_resource_the_users_locked_memory)
{
	struct fake f;
	struct daemon d;

	fake_new_backend(&f, "iommufd", one, 1);
	start(&d, &f, "VFIO_EMUL_NO_SYS_RESOURCE=1");
	cr_assert(daemon_log_has(&d, "charged to the locked memory of svmd's user (RLIMIT_MODE 0: "
				     "svmd lacks CAP_SYS_RESOURCE to choose its own)"));
	cr_assert(strstr(emul_log(&f), "[option 0 set 1] -> EPERM\n"), "%s", emul_log(&f));
	daemon_stop(&d);
	fake_free(&f);
}

/* The ioctl numbers the filter allows, as libseccomp prints them. */
static bool filter_allows(const char *pfc, unsigned long req)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "if ($a1.lo32 == %lu)", req);
	return strstr(pfc, needle) != NULL;
}

static const char *print_seccomp(struct fake *f)
{
	static char out[65536];
	char err[4096];
	const char *argv[12];
	size_t n = 0;

	argv[n++] = build_path("svmd");
	for (size_t i = 0; f->args[i]; i++)
		argv[n++] = f->args[i];
	argv[n++] = "--print-seccomp";
	argv[n] = NULL;
	cr_assert_eq(run_cmd_env(0, 0, argv, f->env, out, sizeof(out), err, sizeof(err)), 0, "%s",
		     err);
	return out;
}

Test(iommufd, the_filter_allows_what_serving_issues)
{
	const unsigned long serving[] = {0x3b76, 0x3b77, 0x3b78, 0x3b81, 0x3b8f, 0x3b86, 0x3b80};
	const unsigned long startup_only[] = {0x3b8a, 0x3b84, 0x3b82, 0x3b85};
	struct fake f;
	const char *pfc;

	fake_new_backend(&f, "iommufd", one, 1);
	pfc = print_seccomp(&f);
	for (size_t i = 0; i < sizeof(serving) / sizeof(serving[0]); i++)
		cr_assert(filter_allows(pfc, serving[i]), "0x%lx:\n%s", serving[i], pfc);
	cr_assert(filter_allows(pfc, 0x3b87), "the option, in mode 1");
	for (size_t i = 0; i < sizeof(startup_only) / sizeof(startup_only[0]); i++)
		cr_assert(!filter_allows(pfc, startup_only[i]), "0x%lx", startup_only[i]);
	fake_free(&f);

	/* Mode 0 sets no option while serving. */
	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, "VFIO_EMUL_NO_SYS_RESOURCE=1");
	pfc = print_seccomp(&f);
	cr_assert(filter_allows(pfc, 0x3b76));
	cr_assert(!filter_allows(pfc, 0x3b87));
	fake_free(&f);
}

/* ---- --backend=auto ---- */

Test(iommufd, auto_prefers_iommufd_then_vfio)
{
	struct fdev devs[2] = {two[0], two[1]};
	struct fake f;
	struct daemon d;
	char path[256];

	/* /dev/iommu and a cdev for every device. */
	fake_new_backend(&f, "auto", devs, 2);
	start(&d, &f, NULL);
	cr_assert(daemon_log_has(&d, "iommufd backend, 2 devices"));
	daemon_stop(&d);
	fake_free(&f);

	/* One device without a cdev: the legacy container, as before iommufd. */
	devs[1].no_cdev = true;
	fake_new_backend(&f, "auto", devs, 2);
	start(&d, &f, NULL);
	cr_assert(daemon_log_has(&d, "vfio backend, 2 devices"));
	cr_assert_eq(count_of(emul_log(&f), "iommufd"), 0, "%s", emul_log(&f));
	daemon_stop(&d);
	fake_free(&f);

	/* Neither the container nor a cdev: iommufd says which device lacks one. */
	fake_new_backend(&f, "auto", devs, 2);
	snprintf(path, sizeof(path), "%s/vfio/vfio", f.dev);
	cr_assert_eq(unlink(path), 0);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "Cannot start the iommufd backend: " DEV1 " has no VFIO device cdev"),
		  "%s", err);
	closed_what_it_opened(&f);
	fake_free(&f);
}

/* ---- fds ---- */

Test(iommufd, one_iommufd_and_one_cdev_per_device_all_cloexec)
{
	struct fake f;
	struct daemon d;
	bool cloexec;

	fake_new_backend(&f, "iommufd", two, 2);
	start(&d, &f, NULL);
	cr_assert_eq(vfio_fds(&d, &f, &cloexec), 3);
	cr_assert(cloexec);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- Clients' spaces, operation by operation (tests/integration/backend-driver.c) ---- */

/* The driver's stderr of the last drive(): svmd's log lines. */
static char drive_err[65536];

/* Runs the backend driver on the fake machine with cmds (NULL-terminated), inside svmd's
 * seccomp filter from its "sandbox" command on; returns its output. Nothing may be refused. */
static const char *drive(struct fake *f, const char *const *cmds)
{
	static char out[65536];
	char *err = drive_err;
	const size_t errlen = sizeof(drive_err);
	const char *argv[64];
	size_t n = 0;

	argv[n++] = build_path("tests/backend-driver");
	for (size_t i = 0; f->args[i]; i++)
		argv[n++] = f->args[i];
	argv[n++] = "--";
	for (size_t i = 0; cmds[i] && n < 63; i++)
		argv[n++] = cmds[i];
	argv[n] = NULL;
	cr_assert_eq(run_cmd_env(0, 0, argv, f->env, out, sizeof(out), err, errlen), 0, "%s\n%s",
		     out, err);
	cr_assert_null(strstr(err, "seccomp: refused"), "%s", err);
	cr_assert(strstr(out, "new: 0\n"), "%s\n%s", out, err);
	return out;
}

/* What the emulator logged for one command of the driver: from its "== CMD" line to the
 * next (static buffer). */
static const char *segment(const struct fake *f, const char *cmd)
{
	static char buf[16384];
	char marker[256];
	const char *log = emul_log(f), *at, *end;

	snprintf(marker, sizeof(marker), "== %s\n", cmd);
	at = strstr(log, marker);
	cr_assert_not_null(at, "no %s in:\n%s", marker, log);
	at += strlen(marker);
	end = strstr(at, "== ");
	snprintf(buf, sizeof(buf), "%.*s", (int)(end ? end - at : (long)strlen(at)), at);
	return buf;
}

/* A line of the driver's output, which must be there. */
static void said(const char *out, const char *line)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s\n", line);
	cr_assert(strstr(out, want), "no '%s' in:\n%s", line, out);
}

Test(iommufd, each_client_gets_an_iommufd_of_its_own)
{
	const char *const cmds[] = {"sandbox",      "space A",      "space B",
				    "open A " DEV0, "open B " DEV1, NULL};
	struct fake f;
	struct bytes opt = option_set1(), a0 = ioas_alloc(0), a1 = ioas_alloc(1), at = attach_pt(1),
		     at3 = attach_pt(3);
	char want[2048];
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", two, 2);
	out = drive(&f, cmds);
	said(out, "space A: 0");
	said(out, "space B: 0");
	/* Each space: a new iommufd, its accounting mode set before any object. */
	snprintf(want, sizeof(want), "open iommu rw,cloexec -> iommufd2\n%s",
		 ok_line("iommufd2", 0x3b87, &opt, &opt, "option 0 set 1"));
	cr_assert_str_eq(segment(&f, "space A"), want);
	/* open: the device's IOAS in A's iommufd; the cdev opened anew; svmd's idle binding
	 * given up; the new open bound to A's iommufd and attached to that IOAS. */
	seg = segment(&f, "open A " DEV0);
	snprintf(want, sizeof(want),
		 "%sopen vfio/devices/vfio0 rw,cloexec -> cdev3\n"
		 "close cdev1 [vfio0 unbound from iommufd1]\n",
		 ok_line("iommufd2", 0x3b81, &a0, &a1, "ioas 1"));
	cr_assert(strncmp(seg, want, strlen(want)) == 0, "%s", seg);
	cr_assert(strstr(seg, "[vfio0 -> iommufd2 as device 2] -> 0\n"), "%s", seg);
	cr_assert(strstr(seg, ok_line("cdev3", 0x3b77, &at, &at3,
				      "vfio0 attach 1 via hwpt 3 of "
				      "ioas 1")),
		  "%s", seg);
	cr_assert_eq(count_of(seg, "\n"), 5, "%s", seg);
	/* B's objects are in B's iommufd, never A's. */
	seg = segment(&f, "open B " DEV1);
	cr_assert(strstr(seg, "ioctl iommufd3 0x3b81 "), "%s", seg);
	cr_assert(strstr(seg, "close cdev2 [vfio1 unbound from iommufd1]\n"), "%s", seg);
	cr_assert(strstr(seg, "[vfio1 -> iommufd3 as device 2] -> 0\n"), "%s", seg);
	cr_assert(strstr(seg, "[vfio1 attach 1 via hwpt 3 of ioas 1] -> 0\n"), "%s", seg);
	cr_assert_null(strstr(seg, "iommufd2"), "%s", seg);
	/* At the driver's end (clients' fds closed, spaces freed, backend freed): nothing left in
	 * any iommufd. */
	const char *log = emul_log(&f);
	cr_assert_eq(count_of(log, "[left: nothing]"), 3, "%s", log);
	/* Every cdev open closed (the clients' dups closed as copies of those). */
	cr_assert_eq(count_of(log, "cloexec -> cdev"),
		     count_of(log, "close cdev") - count_of(log, "more fd here"), "%s", log);
	fake_free(&f);
}

Test(iommufd, the_previous_holder_must_close_its_fd)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "space B",
				    "open A " DEV0,
				    "close A " DEV0,
				    "open B " DEV0,
				    "client-close A " DEV0,
				    "open B " DEV0,
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	out = drive(&f, cmds);
	/* close: detached through svmd's copy, which goes; the client's copy keeps the binding,
	 * so svmd cannot bind the device to its own iommufd again yet. */
	seg = segment(&f, "close A " DEV0);
	cr_assert(strstr(seg, "ioctl cdev2 0x3b78 in=0c0000000000000000000000 "
			      "out=0c0000000000000000000000 [vfio0 detach] -> 0\n"
			      "close cdev2 [1 more fd here]\n"
			      "open vfio/devices/vfio0 rw,cloexec -> cdev3\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[vfio0 -> iommufd1] -> EINVAL\nclose cdev3 [vfio0 not bound]\n"),
		  "%s", seg);
	cr_assert(strstr(drive_err,
			 DEV0 ": not bound to svmd's own iommufd again (EINVAL): still "
			      "open in its last holder's process; svmd tries again at the "
			      "next open-device"),
		  "%s", drive_err);
	said(out, "open B " DEV0 ": -EBUSY: " DEV0 " is still open in the previous holder's "
		  "process: it must close it");
	cr_assert_null(strstr(segment(&f, "open B " DEV0), "0x3b77"), "never attached");
	/* Once the client closed it, the kernel unbinds it and the next client gets it. */
	cr_assert_str_eq(segment(&f, "client-close A " DEV0),
			 "close cdev2 [vfio0 unbound from iommufd2]\n");
	cr_assert(strstr(out, "client-close A " DEV0 ": 0\nopen B " DEV0 ": 0 fd "), "%s", out);
	fake_free(&f);
}

Test(iommufd, closed_first_by_the_client_the_device_is_svmds_again)
{
	const char *const cmds[] = {"sandbox",       "space A",
				    "open A " DEV0,  "client-close A " DEV0,
				    "close A " DEV0, NULL};
	struct fake f;
	const char *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	drive(&f, cmds);
	cr_assert_str_eq(segment(&f, "client-close A " DEV0), "close cdev2 [1 more fd here]\n");
	seg = segment(&f, "close A " DEV0);
	cr_assert(strstr(seg, "[vfio0 detach] -> 0\nclose cdev2 [vfio0 unbound from iommufd2]\n"
			      "open vfio/devices/vfio0 rw,cloexec -> cdev3\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[vfio0 -> iommufd1 as device 1] -> 0\n"), "%s", seg);
	fake_free(&f);
}

/* MAP_FILE as svmd fills it: size, flags, IOAS, fd, start, length, IOVA. */
static struct bytes map_file(uint32_t flags, uint32_t ioas, int fd, uint64_t start, uint64_t length,
			     uint64_t iova)
{
	struct bytes b = {0};
	put(put(put(put(&b, 40, 4), flags, 4), ioas, 4), (uint32_t)fd, 4);
	put(put(put(&b, start, 8), length, 8), iova, 8);
	return b;
}

static int fd_of(const char *out, const char *cmd)
{
	char want[256];
	const char *at;

	snprintf(want, sizeof(want), "%s: 0 fd ", cmd);
	at = strstr(out, want);
	cr_assert_not_null(at, "%s", out);
	return atoi(at + strlen(want));
}

Test(iommufd, maps_reach_the_kernel_checked)
{
	const char *const cmds[] = {"file 0 memfd:0x10000",
				    "file 1 file:0x4000",
				    "file 2 pipe",
				    "sandbox",
				    "space A",
				    "map A " DEV0 " 0x100000 0x4000 0 3 0",
				    "map A " DEV0 " 0x200000 0x2000 0x4000 1 0",
				    "open A " DEV0,
				    "map A " DEV0 " 0x102000 0x4000 0x8000 2 0",
				    "map A " DEV0 " 0x300800 0x1000 0 3 0",
				    "map A " DEV0 " 0x300000 0x1800 0 3 0",
				    "map A " DEV0 " 0x300000 0x1000 0x10 3 0",
				    "map A " DEV0 " 0xfee00000 0x1000 0 3 0",
				    "map A " DEV0 " 0x8000000000 0x1000 0 3 0",
				    "map A " DEV0 " 0x300000 0x1000 0 0 0",
				    "map A " DEV0 " 0x300000 0x1000 0 4 0",
				    "map A " DEV0 " 0x300000 0x20000 0 3 0",
				    "map A " DEV0 " 0x300000 0x1000 0 3 1",
				    "map A " DEV0 " 0x300000 0x1000 0 3 2",
				    "unmap A " DEV0 " 0x100000 0x2000",
				    "unmap A " DEV0 " 0x400000 0x1000",
				    "unmap A " DEV0 " 0x100000 0x4000",
				    "unmap A " DEV1 " 0x100000 0x4000",
				    NULL};
	struct fake f;
	const char *out, *seg;
	int memfd;

	fake_new_backend(&f, "iommufd", two, 2);
	out = drive(&f, cmds);
	memfd = fd_of(out, "file 0 memfd:0x10000");
	/* Read and write; read only: FIXED_IOVA and the device's permissions. */
	struct bytes m1 = map_file(1 | 2 | 4, 1, memfd, 0, 0x4000, 0x100000),
		     m2 = map_file(1 | 4, 1, memfd, 0x4000, 0x2000, 0x200000);
	seg = segment(&f, "map A " DEV0 " 0x100000 0x4000 0 3 0");
	cr_assert(strstr(seg, "ioctl iommufd2 0x3b81 "), "the IOAS, at the first use: %s", seg);
	cr_assert(strstr(seg, ok_line("iommufd2", 0x3b8f, &m1, &m1,
				      "ioas 1: 0x100000+0x4000 <- fd 5 at 0 rw (/memfd:driver "
				      "(deleted))")) ||
			  strstr(seg, hex_of(&m1)),
		  "%s", seg);
	cr_assert(strstr(segment(&f, "map A " DEV0 " 0x200000 0x2000 0x4000 1 0"), hex_of(&m2)),
		  "%s", emul_log(&f));
	said(out, "map A " DEV0 " 0x100000 0x4000 0 3 0: 0");
	/* Overlap: the kernel's EEXIST, said precisely. */
	said(out, "map A " DEV0 " 0x102000 0x4000 0x8000 2 0: -EEXIST: [0x102000, 0x106000) "
		  "overlaps a mapping in " DEV0 "'s space");
	/* Refused by svmd before the kernel: alignment, the device's IOVA ranges, flags, the
	 * memfd's size, what is not a memfd. */
	said(out, "map A " DEV0 " 0x300800 0x1000 0 3 0: -EINVAL: IOVA 0x300800, length 0x1000 and "
		  "memfd offset 0 must be multiples of 0x1000 on " DEV0);
	said(out, "map A " DEV0 " 0x300000 0x1800 0 3 0: -EINVAL: IOVA 0x300000, length 0x1800 and "
		  "memfd offset 0 must be multiples of 0x1000 on " DEV0);
	said(out, "map A " DEV0 " 0x300000 0x1000 0x10 3 0: -EINVAL: IOVA 0x300000, length 0x1000 "
		  "and memfd offset 0x10 must be multiples of 0x1000 on " DEV0);
	said(out,
	     "map A " DEV0 " 0xfee00000 0x1000 0 3 0: -EINVAL: [0xfee00000, 0xfee01000) is not "
	     "within the IOVAs " DEV0 " reaches: 0-0xfedfffff, 0xfef00000-0x7fffffffff");
	said(out,
	     "map A " DEV0 " 0x8000000000 0x1000 0 3 0: -EINVAL: [0x8000000000, 0x8000001000) "
	     "is not within the IOVAs " DEV0 " reaches: 0-0xfedfffff, 0xfef00000-0x7fffffffff");
	said(out,
	     "map A " DEV0 " 0x300000 0x1000 0 0 0: -EINVAL: map flags 0: the device may read, "
	     "write, or both");
	said(out, "map A " DEV0 " 0x300000 0x1000 0 4 0: -EINVAL: map flags 0x4: the device may "
		  "read, write, or both");
	said(out,
	     "map A " DEV0 " 0x300000 0x20000 0 3 0: -EINVAL: the memfd holds 65536 bytes, not "
	     "[0, 131072)");
	said(out,
	     "map A " DEV0 " 0x300000 0x1000 0 3 1: -EMEDIUMTYPE: the fd sent is not a memfd: svmd "
	     "maps only memory made with memfd_create(2)");
	said(out,
	     "map A " DEV0 " 0x300000 0x1000 0 3 2: -EMEDIUMTYPE: the fd sent is not a memfd: svmd "
	     "maps only memory made with memfd_create(2)");
	cr_assert_eq(count_of(emul_log(&f), "0x3b8f"), 3, "only the first three reach the kernel");
	/* Unmaps: exactly what was mapped. */
	said(out, "unmap A " DEV0 " 0x100000 0x2000: -ENOENT: no mapping is exactly [0x100000, "
		  "0x102000) in " DEV0 "'s space");
	said(out, "unmap A " DEV0 " 0x400000 0x1000: -ENOENT: no mapping is exactly [0x400000, "
		  "0x401000) in " DEV0 "'s space");
	said(out, "unmap A " DEV0 " 0x100000 0x4000: 0");
	said(out, "unmap A " DEV1 " 0x100000 0x4000: -ENOENT: nothing is mapped for " DEV1);
	cr_assert(strstr(segment(&f, "unmap A " DEV0 " 0x100000 0x4000"),
			 "[ioas 1: unmap 0x100000+0x4000: 0x4000 bytes] -> 0\n"),
		  "%s", emul_log(&f));
	fake_free(&f);
}

Test(iommufd, a_space_ends_with_nothing_left)
{
	const char *const cmds[] = {"file 0 memfd:0x8000",
				    "sandbox",
				    "space A",
				    "map A " DEV0 " 0x100000 0x4000 0 3 0",
				    "map A " DEV0 " 0x200000 0x4000 0x4000 3 0",
				    "map A " DEV1 " 0x100000 0x4000 0 3 0",
				    "open A " DEV0,
				    "free A",
				    "client-close A " DEV0,
				    NULL};
	struct fake f;
	const char *seg;

	fake_new_backend(&f, "iommufd", two, 2);
	drive(&f, cmds);
	seg = segment(&f, "free A");
	/* Per device: everything unmapped, the open device detached (svmd's copy closed), the
	 * IOAS destroyed; then the iommufd, of which only the device the client still holds is
	 * left (the kernel keeps it bound until the client closes its fd). */
	cr_assert(strstr(seg, "[ioas 1: unmap 0+0xffffffffffffffff: 0x8000 bytes] -> 0\n"
			      "ioctl cdev3 0x3b78 in=0c0000000000000000000000 "
			      "out=0c0000000000000000000000 [vfio0 detach] -> 0\n"
			      "close cdev3 [1 more fd here]\n"
			      "ioctl iommufd2 0x3b80 in=0800000001000000 out=0800000001000000 "
			      "[destroy 1] -> 0\n"
			      "ioctl iommufd2 0x3b86 "),
		  "%s", seg);
	cr_assert(strstr(seg, "[ioas 2: unmap 0+0xffffffffffffffff: 0x4000 bytes] -> 0\n"
			      "ioctl iommufd2 0x3b80 in=0800000002000000 out=0800000002000000 "
			      "[destroy 2] -> 0\n"
			      "close iommufd2 [left: device 3; kept by a bound device]\n"),
		  "%s", seg);
	cr_assert_str_eq(segment(&f, "client-close A " DEV0),
			 "close cdev3 [vfio0 unbound from iommufd2]\n");
	fake_free(&f);
}

Test(iommufd, what_a_client_attaches_again_is_emptied)
{
	const char *const cmds[] = {"file 0 memfd:0x4000",
				    "sandbox",
				    "space A",
				    "map A " DEV0 " 0x100000 0x4000 0 3 0",
				    "open A " DEV0,
				    "close A " DEV0,
				    "client-attach A " DEV0 " 1",
				    "free A",
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	out = drive(&f, cmds);
	/* Its own IOAS again, with its own memory: the kernel lets it. */
	said(out, "client-attach A " DEV0 " 1: 0");
	cr_assert(strstr(segment(&f, "client-attach A " DEV0 " 1"),
			 "[vfio0 attach 1 via hwpt 3 of ioas 1] -> 0\n"),
		  "%s", emul_log(&f));
	/* The space ends: unmapped first, so the IOAS the client holds is empty, and stays
	 * (EBUSY) until the client closes its fd; svmd says so. */
	seg = segment(&f, "free A");
	cr_assert(strstr(seg, "[ioas 1: unmap 0+0xffffffffffffffff: 0x4000 bytes] -> 0\n"
			      "ioctl iommufd2 0x3b80 in=0800000001000000 [destroy 1] -> EBUSY\n"
			      "close iommufd2 [left: ioas 1 (0 areas), device 2, hwpt 3; kept by a "
			      "bound device]\n"),
		  "%s", seg);
	cr_assert(strstr(drive_err, DEV0 ": its client attached its device fd to its IOAS again; "
					 "the IOAS, empty, lives until the client closes that fd"),
		  "%s", drive_err);
	fake_free(&f);
}

Test(iommufd, what_each_device_cannot_bind_and_why)
{
	const struct fdev devs[] = {
		{DEV0, 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{DEV1, 13, "vfio-pci", 20, "dmar1", 0x8086, 0x0b25, false, false, false},
		{"0000:3d:00.0", 14, "vfio-pci", 20, "ivhd0", 0x1022, 0x1234, false, false, false},
		{"0000:3e:00.0", 15, "vfio-pci", 20, NULL, 0x1234, 0x11e8, false, false, false},
	};
	const char *const cmds[] = {"devices", "check " DEV0 " task", "check " DEV1 " pgtable",
				    "check 0000:3d:00.0 pasid-table", NULL};
	struct fake f;
	const char *out;

	fake_new_backend(&f, "iommufd", devs, 4);
	/* DEV1's VT-d can nest (ECAP bit 26); the last IOMMU is of a type svmd does not know. */
	env_add(&f, "VFIO_EMUL_HW_INFO=" DEV1 "=1/20/0/0x4f00f4a,0000:3e:00.0=9/0/0/0");
	out = drive(&f, cmds);
	said(out, "  task: no mainline uAPI binds another process's address space: SVA is bound "
		  "by the driver of an SVA-capable node to whoever opens it (uacce, idxd, "
		  "uio_pci_generic_sva, amdxdna): open that node instead");
	said(out, "  pgtable: the VT-d IOMMU of " DEV0 " cannot nest (ECAP.NEST, bit 26, is clear "
		  "in ecap 0xf00f4a; the kernel answers IOMMU_HWPT_ALLOC(NEST_PARENT) with "
		  "EOPNOTSUPP): no guest table can be bound on it");
	said(out, "  pasid-table: the VT-d IOMMU of " DEV0 " cannot nest (ECAP.NEST, bit 26, is "
		  "clear in ecap 0xf00f4a; the kernel answers IOMMU_HWPT_ALLOC(NEST_PARENT) with "
		  "EOPNOTSUPP): no guest table can be bound on it");
	/* DEV1 nests: page tables are its kind, a PASID table is not. */
	cr_assert(strstr(out, "device " DEV1 " group=13 group-devices=1 model=1 pasid=20 "
			      "kinds=0x34\n"),
		  "%s", out);
	said(out, "  pasid-table: VT-d has no PASID-table bind on mainline: bind each PASID's page "
		  "table (bind-pgtable) instead");
	said(out, "  pgtable: AMD guest tables (a vIOMMU and IOMMU_HWPT_DATA_AMD_GUEST) are not "
		  "brokered by svmd yet");
	said(out, "  pasid-table: PASID-table binds are not brokered on the iommufd backend for "
		  "IOMMU amd: a guest PASID table is an SMMUv3 stage-1 context descriptor table");
	said(out, "  pgtable: the IOMMU of 0000:3e:00.0 (type 9) takes no guest page table svmd "
		  "knows (IOMMU_HWPT_DATA_VTD_S1 is VT-d's)");
	cr_assert(strstr(out, "device " DEV0 " group=12 group-devices=1 model=1 pasid=20 "
			      "kinds=0x30\n"),
		  "%s", out);
	cr_assert(strstr(out, "device 0000:3e:00.0 group=15 group-devices=1 model=0 pasid=0 "
			      "kinds=0x30\n"),
		  "%s", out);
	said(out, "check " DEV0 " task: -EOPNOTSUPP: no mainline uAPI binds another process's "
		  "address space: SVA is bound by the driver of an SVA-capable node to whoever "
		  "opens it (uacce, idxd, uio_pci_generic_sva, amdxdna): open that node instead");
	said(out, "check " DEV1 " pgtable: -EINVAL: page-table format 0: the IOMMU of " DEV1
		  " takes VT-d stage-1 tables (format 1)");
	said(out, "check 0000:3d:00.0 pasid-table: -EOPNOTSUPP: PASID-table binds are not brokered "
		  "on the iommufd backend for IOMMU amd: a guest PASID table is an SMMUv3 stage-1 "
		  "context descriptor table");
	fake_free(&f);
}

Test(iommufd, mode_0_sets_no_option_in_spaces)
{
	const char *const cmds[] = {"note", "ioctls", "sandbox", "space A", NULL};
	struct fake f;
	const char *out;

	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, "VFIO_EMUL_NO_SYS_RESOURCE=1");
	out = drive(&f, cmds);
	cr_assert_str_eq(segment(&f, "space A"), "open iommu rw,cloexec -> iommufd2\n");
	cr_assert_null(strstr(out, "ioctl 0x3b87\n"), "%s", out);
	cr_assert(strstr(out, "ioctl 0x3b76\n"), "%s", out);
	cr_assert(strstr(out, "RLIMIT_MODE 0: svmd lacks CAP_SYS_RESOURCE"), "%s", out);
	fake_free(&f);
}

Test(iommufd, a_failed_open_gives_the_device_back_to_svmd)
{
	const char *const cmds[] = {"sandbox", "space A", "open A " DEV0, NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	/* The second ATTACH: the first was start-up's. */
	env_add(&f, "VFIO_EMUL_FAIL=3b77:22:2");
	out = drive(&f, cmds);
	said(out, "open A " DEV0 ": -EINVAL: VFIO_DEVICE_ATTACH_IOMMUFD_PT of " DEV0
		  " to its IOAS: Invalid argument (EINVAL)");
	seg = segment(&f, "open A " DEV0);
	cr_assert(strstr(seg, "[injected] -> EINVAL\nclose cdev2 [vfio0 unbound from iommufd2]\n"
			      "open vfio/devices/vfio0 rw,cloexec -> cdev3\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[vfio0 -> iommufd1 as device 1] -> 0\n"), "%s", seg);
	fake_free(&f);
}

Test(iommufd, pins_past_the_limit_are_refused)
{
	const char *const cmds[] = {"file 0 memfd:0x10000",
				    "sandbox",
				    "space A",
				    "map A " DEV0 " 0x100000 0x8000 0 3 0",
				    "open A " DEV0,
				    "unmap A " DEV0 " 0x100000 0x8000",
				    "map A " DEV0 " 0x100000 0x4000 0 3 0",
				    "open A " DEV0,
				    "map A " DEV0 " 0x200000 0x1000 0 3 0",
				    "map A " DEV0 " 0x300000 0x2000 0 3 0",
				    NULL};
	struct fake f;
	const char *out;

	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, "VFIO_EMUL_PIN_LIMIT=0x6000");
	out = drive(&f, cmds);
	/* Mapped while no device is attached: pinned, and refused, at the attach. */
	said(out, "map A " DEV0 " 0x100000 0x8000 0 3 0: 0");
	cr_assert(strstr(out, "open A " DEV0 ": -ENOMEM: the kernel cannot pin what " DEV0
			      "'s space maps: svmd's locked memory (RLIMIT_MEMLOCK "),
		  "%s", out);
	cr_assert(strstr(out, "open A " DEV0 ": 0 fd "), "%s", out);
	/* With the device attached, each map pins at once. */
	said(out, "map A " DEV0 " 0x200000 0x1000 0 3 0: 0");
	cr_assert(strstr(out, "map A " DEV0 " 0x300000 0x2000 0 3 0: -ENOMEM: the kernel cannot "
			      "pin [0x300000, 0x302000) for " DEV0 ": svmd's locked memory "
			      "(RLIMIT_MEMLOCK "),
		  "%s", out);
	fake_free(&f);
}

Test(iommufd, a_space_the_kernel_refuses_says_why)
{
	const char *const cmds[] = {"sandbox", "space A", "space B", "space C", NULL};
	struct fake f;
	char want[512];
	const char *out;

	fake_new_backend(&f, "iommufd", one, 1);
	/* The second open of /dev/iommu (the first space's); the second option set (the second
	 * space's: the first space set none). */
	env_add(&f, "VFIO_EMUL_OPEN_FAIL=iommu:24:2");
	env_add(&f, "VFIO_EMUL_FAIL=3b87:16:2");
	out = drive(&f, cmds);
	snprintf(want, sizeof(want), "space A: -EMFILE: cannot open %s/iommu: Too many open files",
		 f.dev);
	said(out, want);
	said(out, "space B: -EBUSY: IOMMU_OPTION(RLIMIT_MODE=1) on a new iommufd: Device or "
		  "resource busy");
	cr_assert_str_eq(
		segment(&f, "space B"),
		"open iommu rw,cloexec -> iommufd2\n"
		"ioctl iommufd2 0x3b87 in=180000000000000000000000000000000100000000000000 "
		"[injected] -> EBUSY\n"
		"close iommufd2 [left: nothing]\n");
	said(out, "space C: 0");
	fake_free(&f);
}

/* ---- Through svmd: open-device and maps of real clients ---- */

static struct test_user u2;

static void start_with(struct daemon *d, struct fake *f, const char *policy_text)
{
	daemon_start_env(d, policy_text, NULL, f->args, f->env);
}

static const char both[] = "allow * user=svmd-test1\nallow * user=svmd-test2\n";

/* The emulator's log from the first line holding needle on (static buffer). */
static const char *log_from(const struct fake *f, const char *needle)
{
	static char buf[65536];
	const char *at = strstr(emul_log(f), needle);

	cr_assert_not_null(at, "no '%s' in:\n%s", needle, emul_log(f));
	snprintf(buf, sizeof(buf), "%s", at);
	return buf;
}

Test(iommufd, open_device_binds_in_the_clients_own_iommufd)
{
	struct fake f;
	struct daemon d;
	struct peer p1, p2;
	struct peer_result r1, r2, r3;
	const char *seg;

	test_users(&u1, &u2);
	fake_new_backend(&f, "iommufd", two, 2);
	start_with(&d, &f, both);
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_open_device(&p1, DEV0, &r1), 0, "%s", r1.reason);
	cr_assert_geq(r1.fd, 0);
	/* The client's own iommufd (mode set first), the device's IOAS in it, the idle binding
	 * given up, a new open bound to the client's iommufd and attached to that IOAS. */
	seg = log_from(&f, "open iommu rw,cloexec -> iommufd2\n");
	cr_assert(strstr(seg, "ioctl iommufd2 0x3b87 "), "%s", seg);
	cr_assert(strstr(seg, "ioctl iommufd2 0x3b81 in=0c0000000000000000000000 "
			      "out=0c0000000000000001000000 [ioas 1] -> 0\n"
			      "open vfio/devices/vfio0 rw,cloexec -> cdev3\n"
			      "close cdev1 [vfio0 unbound from iommufd1]\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[vfio0 -> iommufd2 as device 2] -> 0\n"), "%s", seg);
	cr_assert(strstr(seg, "ioctl cdev3 0x3b77 in=10000000000000000100000000000000 "
			      "out=10000000000000000300000000000000 [vfio0 attach 1 via hwpt 3 of "
			      "ioas 1] -> 0\n"),
		  "%s", seg);
	/* The second client's objects are in an iommufd of its own. */
	cr_assert_eq(peer_open_device(&p2, DEV1, &r2), 0, "%s", r2.reason);
	seg = log_from(&f, "open iommu rw,cloexec -> iommufd3\n");
	cr_assert(strstr(seg, "[vfio1 -> iommufd3 as device 2] -> 0\n"), "%s", seg);
	cr_assert(strstr(seg, "[vfio1 attach 1 via hwpt 3 of ioas 1] -> 0\n"), "%s", seg);
	cr_assert_null(strstr(seg, "iommufd2"), "%s", seg);
	/* What the client is refused while it holds it: a second open. */
	cr_assert_eq(peer_open_device(&p2, DEV0, &r3), -EBUSY, "%s", r3.reason);

	/* The first session ends: detached, its iommufd emptied and closed, though the test
	 * still holds the device fd the client got (the kernel keeps it bound there). */
	peer_stop(&p1);
	cr_assert(wait_bindings(&d, 1, 2000));
	cr_assert(emul_wait(&f, "close iommufd2 "));
	/* The open-device binding's end, then the space's (nothing mapped in it). */
	seg = log_from(&f, "ioctl cdev3 0x3b78 ");
	cr_assert(strstr(seg,
			 "ioctl cdev3 0x3b78 in=0c0000000000000000000000 "
			 "out=0c0000000000000000000000 [vfio0 detach] -> 0\n"
			 "close cdev3 [vfio0 stays bound to iommufd2: open in another process]\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[ioas 1: unmap 0+0xffffffffffffffff: 0 bytes] -> 0\n"
			      "ioctl iommufd2 0x3b80 in=0800000001000000 out=0800000001000000 "
			      "[destroy 1] -> 0\nclose iommufd2 [left: device 2]\n"),
		  "%s", seg);
	/* Until the holder closes it, nobody else gets the device; then the next client does.
	 * (p2, forked before the test held the fd: a peer forked later would hold a copy.) */
	cr_assert_eq(peer_open_device(&p2, DEV0, &r3), -EBUSY);
	cr_assert(strstr(r3.reason, DEV0 " is still open in the previous holder's process: it must "
					 "close it"),
		  "%s", r3.reason);
	close(r1.fd);
	cr_assert_eq(peer_open_device(&p2, DEV0, &r3), 0, "%s", r3.reason);
	close(r3.fd);
	close(r2.fd);
	peer_stop(&p2);
	cr_assert(wait_bindings(&d, 0, 2000));
	daemon_stop(&d);
	/* Every iommufd svmd opened for a client was closed, holding nothing but devices. */
	const char *log = emul_log(&f);
	cr_assert_eq(count_of(log, "cloexec -> iommufd"), count_of(log, "close iommufd"), "%s",
		     log);
	cr_assert_eq(count_of(log, "(0 areas)"), 0, "%s", log);
	fake_free(&f);
}

static int memfd_of(size_t size)
{
	int fd = memfd_create("client", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

Test(iommufd, maps_of_a_client_reach_the_kernel_in_its_space)
{
	static const char policy_text[] =
		"allow * user=svmd-test1\n"
		"allow map user=svmd-test1 device=" DEV0 " max-bytes=64K\n";
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r, rdev;
	int memfd = memfd_of(0x40000), pipefd[2];
	const char *log;

	fake_new_backend(&f, "iommufd", one, 1);
	start_with(&d, &f, policy_text);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(
		peer_map(&p, DEV0, memfd, 0, 0x4000, 0x100000, SVM_MAP_READ | SVM_MAP_WRITE, &r), 0,
		"%s", r.reason);
	/* The space and its IOAS on first use, then the map: flags FIXED_IOVA|WRITEABLE|
	 * READABLE, IOAS 1, svmd's copy of the memfd, start 0, 16 KiB at 0x100000. */
	log = log_from(&f, "open iommu rw,cloexec -> iommufd2\n");
	cr_assert(strstr(log, "ioctl iommufd2 0x3b8f in=2800000007000000010000"), "%s", log);
	cr_assert(strstr(log, "[ioas 1: 0x100000+0x4000 <- fd "), "%s", log);
	cr_assert(strstr(log, " at 0 rw (/memfd:client (deleted))] -> 0\n"), "%s", log);
	cr_assert_eq(count_of(log, "0x3b8f"), 1, "%s", log);
	/* Read only, at an offset. */
	cr_assert_eq(peer_map(&p, DEV0, memfd, 0x8000, 0x2000, 0x200000, SVM_MAP_READ, &r), 0, "%s",
		     r.reason);
	cr_assert(strstr(emul_log(&f), "[ioas 1: 0x200000+0x2000 <- fd "), "%s", emul_log(&f));
	cr_assert(strstr(emul_log(&f), " at 0x8000 r- (/memfd:client"), "%s", emul_log(&f));
	/* An overlap, which the kernel refuses. */
	cr_assert_eq(peer_map(&p, DEV0, memfd, 0, 0x4000, 0x102000, SVM_MAP_READ, &r), -EEXIST);
	cr_assert(strstr(r.reason, "[0x102000, 0x106000) overlaps a mapping in " DEV0 "'s space"),
		  "%s", r.reason);
	/* What svmd refuses before the kernel: alignment, the device's IOVAs, not a memfd, more
	 * than the rule's max-bytes=. */
	cr_assert_eq(peer_map(&p, DEV0, memfd, 0, 0x4000, 0x300800, SVM_MAP_READ, &r), -EINVAL);
	cr_assert(strstr(r.reason, "must be multiples of 0x1000"), "%s", r.reason);
	cr_assert_eq(peer_map(&p, DEV0, memfd, 0, 0x1000, 0xfee00000, SVM_MAP_READ, &r), -EINVAL);
	cr_assert(strstr(r.reason, "is not within the IOVAs " DEV0 " reaches"), "%s", r.reason);
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	cr_assert_eq(peer_map(&p, DEV0, pipefd[0], 0, 0x1000, 0x300000, SVM_MAP_READ, &r),
		     -EMEDIUMTYPE);
	cr_assert_eq(peer_map(&p, DEV0, memfd, 0, 0x20000, 0x400000, SVM_MAP_READ, &r), -EDQUOT,
		     "%s", r.reason);
	cr_assert_eq(count_of(emul_log(&f), "0x3b8f"), 3,
		     "the quota reached the kernel as nothing");
	/* The device opened in the same space: attached to the IOAS that holds the maps. */
	cr_assert_eq(peer_open_device(&p, DEV0, &rdev), 0, "%s", rdev.reason);
	cr_assert(strstr(emul_log(&f), "[vfio0 attach 1 via hwpt 3 of ioas 1] -> 0\n"), "%s",
		  emul_log(&f));
	close(rdev.fd);
	/* An unmap: exactly the mapping, in the kernel too. */
	cr_assert_eq(peer_unmap(&p, DEV0, 0x100000, 0x4000, &r), 0, "%s", r.reason);
	cr_assert_eq(r.pasid, 1);
	cr_assert_eq(r.id, 0x4000);
	cr_assert(strstr(emul_log(&f), "ioctl iommufd2 0x3b86 in=18000000010000000000100000000000"
				       "0040000000000000 out=180000000100000000001000000000000040"
				       "000000000000 [ioas 1: unmap 0x100000+0x4000: 0x4000 bytes] "
				       "-> 0\n"),
		  "%s", emul_log(&f));
	/* The session ends: the other map unmapped by itself, the device detached, the space's
	 * objects destroyed. */
	peer_stop(&p);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(emul_wait(&f, "close iommufd2 "));
	log = log_from(&f, "[ioas 1: unmap 0x200000+0x2000: 0x2000 bytes] -> 0\n");
	cr_assert(strstr(log, "[vfio0 detach] -> 0\n"), "%s", log);
	cr_assert(strstr(log, "[destroy 1] -> 0\n"), "%s", log);
	cr_assert(strstr(log, "close iommufd2 [left: nothing]\n"), "%s", log);
	daemon_stop(&d);
	close(memfd);
	close(pipefd[0]);
	close(pipefd[1]);
	fake_free(&f);
}

/* ---- bind-pasid-table on an SMMUv3 (iommufd-smmuv3.c) ---- */

#define SMMU_DEV "0000:00:01.0"
static const struct fdev smmu_one[] = {
	{SMMU_DEV, 1, "vfio-pci", 0, "smmu3.0x9050000", 0x1234, 0x11e8, false, false, false},
};

/* Linux 7.2 on QEMU's SMMUv3: no vIOMMU (neither S2FWB nor CANWBS). Start-up asks once and
 * leaves nothing behind; the device says why, and no bind reaches the kernel. */
Test(iommufd, smmuv3_without_viommu_says_why)
{
	const char *const cmds[] = {"devices",
				    "sandbox",
				    "space A",
				    "open A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x800000 64 8 0 0",
				    NULL};
	const char *why = "the kernel refuses a vIOMMU on the SMMUv3 of " SMMU_DEV
			  " (IOMMU_VIOMMU_ALLOC: EOPNOTSUPP): the SMMU has neither S2FWB nor a "
			  "CANWBS root complex (IORT), so a guest's stage 1 could make DMA bypass "
			  "the cache";
	char line[1024];
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", smmu_one, 1);
	out = drive(&f, cmds);
	cr_assert(strstr(out, "device " SMMU_DEV " group=1 group-devices=1 model=2 pasid=0 "
			      "kinds=0x30\n"),
		  "%s", out);
	snprintf(line, sizeof(line), "  pasid-table: %s", why);
	said(out, line);
	snprintf(line, sizeof(line), "table A " SMMU_DEV " 0x800000 64 8 0 0: -EOPNOTSUPP: %s",
		 why);
	said(out, line);
	/* The probe: IOAS, NEST_PARENT HWPT, the refused vIOMMU, both destroyed. */
	const char *log = emul_log(&f);
	cr_assert(strstr(log, "[nest-parent hwpt "), "%s", log);
	cr_assert(strstr(log, "[no S2FWB, no CANWBS]"), "%s", log);
	seg = segment(&f, "table A " SMMU_DEV " 0x800000 64 8 0 0");
	cr_assert_null(strstr(seg, "ioctl "), "%s", seg);
	seg = segment(&f, "devices");
	cr_assert_null(strstr(seg, "hwpt"), "%s", seg);
	fake_free(&f);
}

/* What svmd refuses before the kernel sees it, each with its reason; none reaches an ioctl. */
Test(iommufd, smmuv3_tables_checked_before_the_kernel)
{
	const char *const cmds[] = {"devices",
				    "file 0 memfd:0x10000",
				    "sandbox",
				    "space A",
				    "map A " SMMU_DEV " 0x800000 0x4000 0 3 0",
				    "table A " SMMU_DEV " 0x800000 64 8 0 0",
				    "open A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x800000 64 8 0 0 40",
				    "table A " SMMU_DEV " 0x800000 128 8 0 1",
				    "table A " SMMU_DEV " 0x800000 128 8 0 0",
				    "table A " SMMU_DEV " 0x800008 64 8 0 0",
				    "table A " SMMU_DEV " 0x10000000000000 64 8 0 0",
				    "table A " SMMU_DEV " 0x800000 64 8 3 0",
				    "table A " SMMU_DEV " 0x800000 64 8 1 0",
				    NULL};
	static const char *const refused[][2] = {
		{"0x800000 64 8 0 0", "-EINVAL: open " SMMU_DEV " first (open-device)"},
		{"0x800000 64 8 0 0 40",
		 "-EINVAL: a PASID table on an SMMUv3 through iommufd needs "
		 "the guest's virtual StreamID"},
		{"0x800000 128 8 0 1", "-EINVAL: S1CDMax 1 asks for 2 CDs, but " SMMU_DEV " has 0 "
				       "PASID bits"},
		{"0x800000 128 8 0 0",
		 "-EINVAL: size 128 is not the 64 bytes S1Fmt 0 and S1CDMax 0 "
		 "make"},
		{"0x800008 64 8 0 0", "-EINVAL: the CD table address 0x800008 is not 64-byte "
				      "aligned below 2^52"},
		{"0x10000000000000 64 8 0 0", "-EINVAL: the CD table address 0x10000000000000 is "
					      "not 64-byte aligned below 2^52"},
		{"0x800000 64 8 3 0", "-EINVAL: S1Fmt 3 is none of 0 (linear), 1, 2 (2-level)"},
		{"0x800000 64 8 1 0", "-EINVAL: a 2-level CD table needs S1CDMax above 0"},
	};
	struct fake f;
	const char *out, *seg;
	char cmd[256], want[512];

	fake_new_backend(&f, "iommufd", smmu_one, 1);
	env_add(&f, "VFIO_EMUL_VIOMMU=" SMMU_DEV);
	out = drive(&f, cmds);
	cr_assert(strstr(out, "kinds=0x38\n"), "the probe found a vIOMMU: %s", out);
	for (size_t i = 0; i < (sizeof(refused) / sizeof(refused[0])); i++) {
		snprintf(cmd, sizeof(cmd), "table A " SMMU_DEV " %s", refused[i][0]);
		snprintf(want, sizeof(want), "%s: %s", cmd, refused[i][1]);
		cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
		seg = segment(&f, cmd);
		cr_assert_null(strstr(seg, "ioctl "), "%s: %s", cmd, seg);
	}
	fake_free(&f);
}

/* The whole sequence, the vSTE svmd builds, exclusivity, unbind back to stage 2 only, and the
 * vIOMMU that lives as long as the owner keeps the vEVENTQ fd. */
Test(iommufd, smmuv3_table_bound_and_unbound)
{
	const char *const cmds[] = {"file 0 memfd:0x10000",
				    "sandbox",
				    "space A",
				    "map A " SMMU_DEV " 0x800000 0x4000 0 3 0",
				    "open A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x800000 64 8 0 0",
				    "table A " SMMU_DEV " 0x800040 64 9 0 0",
				    "untable A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x800080 64 9 0 0",
				    "event-close A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x8000c0 64 9 0 0",
				    "event-close A " SMMU_DEV,
				    "close A " SMMU_DEV,
				    "client-close A " SMMU_DEV,
				    "free A",
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", smmu_one, 1);
	env_add(&f, "VFIO_EMUL_VIOMMU=" SMMU_DEV);
	out = drive(&f, cmds);
	cr_assert(strstr(out, "table A " SMMU_DEV " 0x800000 64 8 0 0: 0 event fd "), "%s", out);
	seg = segment(&f, "table A " SMMU_DEV " 0x800000 64 8 0 0");
	/* V, Config 0b101 (stage-1 translate), S1ContextPtr 0x800000; nothing else. */
	const char *steps[] = {"[nest-parent hwpt ", "[viommu ",       "[vdevice ", "(virt_id 0x8)",
			       "[veventq ",          "vste 0x80000b]", " attach "};
	const char *at = seg;
	for (size_t i = 0; i < (sizeof(steps) / sizeof(steps[0])); i++) {
		at = strstr(at, steps[i]);
		cr_assert_not_null(at, "no %s, in order, in:\n%s", steps[i], seg);
	}
	said(out, "table A " SMMU_DEV " 0x800040 64 9 0 0: -EBUSY: a PASID table is already bound "
		  "on " SMMU_DEV);
	/* Unbind: back on the IOAS, the vSTE and vDEVICE gone, the vEVENTQ (and so the vIOMMU
	 * and the parent) kept by the fd the owner still has. */
	seg = segment(&f, "untable A " SMMU_DEV);
	cr_assert(strstr(seg, " via hwpt "), "attached to the IOAS again: %s", seg);
	cr_assert(strstr(seg, "-> EBUSY"), "the vEVENTQ stays while its fd is open: %s", seg);
	cr_assert_eq(count_of(seg, "-> 0"), 3, "attach, the nested HWPT, the vDEVICE: %s", seg);
	const char *busy = "table A " SMMU_DEV " 0x800080 64 9 0 0: -EBUSY: the vEVENTQ fd of the "
			   "last PASID table bound on " SMMU_DEV " is still open: close it first";
	cr_assert(strstr(out, busy), "%s", out);
	/* Once closed, the next bind destroys the rest first, then binds. */
	seg = segment(&f, "table A " SMMU_DEV " 0x8000c0 64 9 0 0");
	cr_assert(strstr(seg, "[viommu "), "%s", seg);
	cr_assert(strstr(seg, "(virt_id 0x9)"), "%s", seg);
	cr_assert(strstr(out, "table A " SMMU_DEV " 0x8000c0 64 9 0 0: 0 event fd "), "%s", out);
	cr_assert(strstr(out, "close A " SMMU_DEV ": 0\n"), "%s", out);
	/* The fd closed, its space's iommufd goes with nothing left in it. */
	const char *log = emul_log(&f);
	cr_assert(strstr(log, "close iommufd2 [left: nothing]"), "%s", log);
	fake_free(&f);
}

/* A kernel refusal at each step after the vIOMMU: the reply names the step, and nothing is left
 * (the next bind, with the fault gone, succeeds). */
Test(iommufd, smmuv3_kernel_refusals_leave_nothing)
{
	static const struct {
		const char *fail, *said;
	} steps[] = {
		{"VFIO_EMUL_FAIL=0x3b91:22:1",
		 "-EINVAL: IOMMU_VDEVICE_ALLOC(vSID 0x8) for " SMMU_DEV},
		{"VFIO_EMUL_FAIL=0x3b93:12:1",
		 "-ENOMEM: IOMMU_VEVENTQ_ALLOC(ARM_SMMUV3) for " SMMU_DEV},
		{"VFIO_EMUL_FAIL=0x3b89:5:3",
		 "-EIO: IOMMU_HWPT_ALLOC(ARM_SMMUV3) of the vSTE 0x80000b"},
	};
	const char *const cmds[] = {"file 0 memfd:0x10000",
				    "sandbox",
				    "space A",
				    "map A " SMMU_DEV " 0x800000 0x4000 0 3 0",
				    "open A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x800000 64 8 0 0",
				    "event-close A " SMMU_DEV,
				    "untable A " SMMU_DEV,
				    "table A " SMMU_DEV " 0x800000 64 8 0 0",
				    NULL};

	for (size_t i = 0; i < (sizeof(steps) / sizeof(steps[0])); i++) {
		struct fake f;
		const char *out, *seg;

		fake_new_backend(&f, "iommufd", smmu_one, 1);
		env_add(&f, "VFIO_EMUL_VIOMMU=" SMMU_DEV);
		/* Only the first such call (the probe's HWPT_ALLOC is the 1st of its kind, the
		 * bind's parent the 2nd, its nested HWPT the 3rd). */
		env_add(&f, "%s", steps[i].fail);
		out = drive(&f, cmds);
		seg = segment(&f, "table A " SMMU_DEV " 0x800000 64 8 0 0");
		cr_assert(strstr(out, steps[i].said), "%s: %s", steps[i].fail, out);
		cr_assert(strstr(seg, "[destroy "), "%s: %s", steps[i].fail, seg);
		cr_assert_null(strstr(seg, "-> EBUSY"), "%s: %s", steps[i].fail, seg);
		cr_assert(strstr(out, "event fd "), "the second bind: %s", out);
		fake_free(&f);
	}
}

/* Invalidation through the vIOMMU: the commands svmd lets through reach IOMMU_HWPT_INVALIDATE
 * on the table's vIOMMU as they came, little-endian; every other one is refused with its reason
 * before the kernel sees it; the kernel's own refusal says how far it got. */
Test(iommufd, smmuv3_invalidate_through_the_viommu)
{
	/* vSID 8, ASID 1: TLBI_NH_VA of 0x400000 (leaf), NH_ALL, CFGI_CD of SSID 0 (leaf),
	 * CFGI_CD_ALL, NH_ASID, NSNH_ALL, ATC_INV of everything. */
	const char *const cmds[] = {
		"file 0 memfd:0x10000",
		"sandbox",
		"space A",
		"map A " SMMU_DEV " 0x800000 0x4000 0 3 0",
		"open A " SMMU_DEV,
		"table A " SMMU_DEV " 0x800000 64 8 0 0",
		"inval A " SMMU_DEV " 2 0x1000000000012,0x400001 0x10,0 0x800000005,1",
		"inval A " SMMU_DEV
		" 2 0x800000006,0 0x1000000000011,0 0x30,0 0x800000040,0xfff0003f",
		"inval A " SMMU_DEV " 2 0x11f013,0x400f01",
		"inval A " SMMU_DEV " 2 0x1000000000013,0x400000",
		"inval A " SMMU_DEV " 2 0x800001840,0",
		"inval A " SMMU_DEV " 1 0x1000,1,0",
		"inval A " SMMU_DEV " 2 0x3,0",
		"inval A " SMMU_DEV " 2 0x46,0",
		"inval A " SMMU_DEV " 2 0x10,0,1",
		"inval A " SMMU_DEV " 2 0x110,0",
		"inval A " SMMU_DEV " 2 0x10,0x2",
		"inval A " SMMU_DEV " 2 0x900000005,0",
		"inval A " SMMU_DEV " 2 0x10,0 0x900000040,0",
		"inval A " SMMU_DEV " 2 0x800001005,0",
		"inval A " SMMU_DEV " 2 0x12,0x1000 0x12,0x2000",
		"inval A " SMMU_DEV " 2",
		"inval A " SMMU_DEV " 2 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 "
		"0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0 0x10,0",
		"untable A " SMMU_DEV,
		"inval A " SMMU_DEV " 2 0x10,0",
		NULL};
	static const char *const refused[][2] = {
		{"inval A " SMMU_DEV " 1 0x1000,1,0",
		 "-EOPNOTSUPP: invalidation type 1: the PASID table of " SMMU_DEV
		 " is an SMMUv3's, "
		 "flushed with its commands (type 2)"},
		{"inval A " SMMU_DEV " 2 0x3,0",
		 "-EINVAL: entry 0: SMMUv3 command opcode 0x3 is none a vIOMMU takes"},
		{"inval A " SMMU_DEV " 2 0x46,0",
		 "-EINVAL: entry 0: SMMUv3 command opcode 0x46 is none a vIOMMU takes"},
		{"inval A " SMMU_DEV " 2 0x10,0,1",
		 "-EINVAL: entry 0: word 2 is 0x1: an SMMUv3 command is words 0 and 1 only"},
		{"inval A " SMMU_DEV " 2 0x110,0",
		 "-EINVAL: entry 0: CMD_TLBI_NH_ALL sets reserved bits (word 0 0x100, word 1 0)"},
		{"inval A " SMMU_DEV " 2 0x10,0x2",
		 "-EINVAL: entry 0: CMD_TLBI_NH_ALL sets reserved bits (word 0 0, word 1 0x2)"},
		{"inval A " SMMU_DEV " 2 0x900000005,0",
		 "-EINVAL: entry 0: CMD_CFGI_CD names StreamID 0x9, but this PASID table's device "
		 "is vSID 0x8 (the only one it may name)"},
		{"inval A " SMMU_DEV " 2 0x10,0 0x900000040,0",
		 "-EINVAL: entry 1: CMD_ATC_INV names StreamID 0x9"},
		{"inval A " SMMU_DEV " 2 0x800001005,0",
		 "-EINVAL: entry 0: CMD_CFGI_CD names SubstreamID 1, past the 1 CDs of this table "
		 "(S1CDMax 0)"},
		{"inval A " SMMU_DEV " 2", "-EINVAL: 0 entries: 1 to 16"},
		{" 0x10,0 0x10,0", "-EINVAL: 17 entries: 1 to 16"}, /* the end of the line */
		{"inval A " SMMU_DEV " 2 0x1000000000013,0x400000",
		 "-EINVAL: entry 0: CMD_TLBI_NH_VAA sets reserved bits (word 0 0x1000000000000, "
		 "word 1 0)"},
		{"inval A " SMMU_DEV " 2 0x800001840,0",
		 "-EINVAL: entry 0: CMD_ATC_INV names SubstreamID 1, past the 1 CDs of this table"},
		/* Unbound: nothing to flush. */
		{"untable A " SMMU_DEV ": 0\ninval A " SMMU_DEV " 2 0x10,0",
		 "-ENOENT: " SMMU_DEV " has no PASID table bound in this space [done 0]"},
	};
	struct fake f;
	const char *out, *seg;
	char want[1024];

	fake_new_backend(&f, "iommufd", smmu_one, 1);
	env_add(&f, "VFIO_EMUL_VIOMMU=" SMMU_DEV);
	/* The kernel refuses the fourth IOMMU_HWPT_INVALIDATE svmd sends (after the three that
	 * pass). */
	env_add(&f, "VFIO_EMUL_FAIL=0x3b8d:5:4");
	out = drive(&f, cmds);
	/* What passes reaches the vIOMMU (object 5, on the parent 4) word for word, in one call
	 * each. */
	said(out, "inval A " SMMU_DEV " 2 0x1000000000012,0x400001 0x10,0 0x800000005,1: 0 done 3");
	seg = segment(&f, "inval A " SMMU_DEV " 2 0x1000000000012,0x400001 0x10,0 0x800000005,1");
	cr_assert(strstr(seg, "[invalidate viommu "), "%s", seg);
	cr_assert(strstr(seg, ": 3 commands 0x1000000000012:0x400001 0x10:0 0x800000005:0x1] -> 0"),
		  "%s", seg);
	said(out, "inval A " SMMU_DEV
		  " 2 0x800000006,0 0x1000000000011,0 0x30,0 0x800000040,0xfff0003f: 0 done 4");
	/* TLBI_NH_VAA: a range (NUM 31, SCALE 1, TG 3, TTL 3), leaf; no ASID. */
	said(out, "inval A " SMMU_DEV " 2 0x11f013,0x400f01: 0 done 1");
	for (size_t i = 0; i < (sizeof(refused) / sizeof(refused[0])); i++) {
		snprintf(want, sizeof(want), "%s: %s", refused[i][0], refused[i][1]);
		cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
	}
	/* The kernel's refusal, with how far it got. */
	cr_assert(strstr(out,
			 "inval A " SMMU_DEV " 2 0x12,0x1000 0x12,0x2000: -EIO: kernel refused: "
			 "IOMMU_HWPT_INVALIDATE(ARM_SMMUV3) on the vIOMMU of " SMMU_DEV
			 ": Input/output error (EIO), after 0 of 2 commands [done 0]"),
		  "%s", out);
	/* Nothing refused reached an ioctl: the four calls above only (the fourth refused by
	 * the emulator before it logs what it would have done). */
	cr_assert_eq(count_of(emul_log(&f), "ioctl iommufd2 0x3b8d "), 4, "%s", emul_log(&f));
	cr_assert_eq(count_of(emul_log(&f), "[invalidate viommu 5: "), 3, "%s", emul_log(&f));
	fake_free(&f);
}

/* svmd itself, and svmctl's SMMUv3 form: the device lists pasid-table as unsupported, and the
 * bind is refused with the reason, through the socket to an unprivileged user. */
Test(iommufd, smmuv3_svmctl_says_why_not)
{
	struct fake f;
	struct daemon d;
	char out[4096], err[4096];

	fake_new_backend(&f, "iommufd", smmu_one, 1);
	start(&d, &f, NULL);
	const char *argv[] = {build_path("svmctl"),
			      "--socket",
			      d.socket,
			      "bind-pasid-table",
			      SMMU_DEV,
			      "--ptr=0x800000",
			      "--size=64",
			      "--model=smmu",
			      "--vsid=8",
			      "--",
			      "true",
			      NULL};
	cr_assert_neq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 0);
	cr_assert(strstr(err, "IOMMU_VIOMMU_ALLOC: EOPNOTSUPP): the SMMU has neither S2FWB nor a "
			      "CANWBS root complex"),
		  "%s", err);
	cr_assert_eq(count_bindings(&d), 0);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- Guest page tables nested over a client's stage 2 ---- */

/* DEV0's VT-d nests (ECAP.NEST) and has 20 PASID bits. */
static void log_has_in(const struct fake *f, const char *needle)
{
	const char *log = emul_log(f);

	cr_assert(strstr(log, needle), "no '%s' in:\n%s", needle, log);
}

#define NESTING_VTD "VFIO_EMUL_HW_INFO=" DEV0 "=1/20/0/0x4f00f4a"

Test(iommufd, a_guest_table_nests_at_the_rid_and_at_pasids)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "nest A " DEV0 " 0 0x180000 48 1",
				    "open A " DEV0,
				    "nest A " DEV0 " 0 0x100000 48 1",
				    "nest A " DEV0 " 0 0x300000 48 0",
				    "nest A " DEV0 " 5 0x200000 48 3",
				    "unnest A " DEV0 " 5",
				    "unnest A " DEV0 " 5",
				    "unnest A " DEV0 " 0",
				    "nest A " DEV0 " 9 0x200000 48 0",
				    "free A",
				    "client-close A " DEV0,
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, NESTING_VTD);
	out = drive(&f, cmds);
	said(out, "nest A " DEV0 " 0 0x180000 48 1: -EINVAL: " DEV0 " is not open in this "
		  "session: open it first (open-device), a guest table is attached through the "
		  "device as it is open in your DMA space");
	said(out, "nest A " DEV0 " 0 0x100000 48 1: 0");
	said(out, "nest A " DEV0 " 0 0x300000 48 0: -EBUSY: the RID of " DEV0 " already has a "
		  "guest table in this session");
	said(out, "nest A " DEV0 " 5 0x200000 48 3: 0");
	said(out, "unnest A " DEV0 " 5: 0");
	said(out, "unnest A " DEV0 " 5: -ENOENT: PASID 5 of " DEV0 " has no guest table in this "
		  "space");
	said(out, "unnest A " DEV0 " 0: 0");
	said(out, "nest A " DEV0 " 9 0x200000 48 0: 0");
	/* Nothing reached the kernel for a device not open here. */
	cr_assert_null(strstr(segment(&f, "nest A " DEV0 " 0 0x180000 48 1"), "ioctl"));
	/* The first: a PASID-capable NEST_PARENT on the IOAS (flags 0x9), the RID moved onto
	 * it, a VT-d stage 1 (SRE) on it, and the RID attached there. */
	seg = segment(&f, "open A " DEV0);
	cr_assert(strstr(seg, "[vfio0 attach 1 via hwpt 3 of ioas 1]"), "%s", seg);
	seg = segment(&f, "nest A " DEV0 " 0 0x100000 48 1");
	cr_assert(strstr(seg, "[hwpt-alloc flags 0x9 on 1 for device 2: hwpt 4] -> 0\n"
			      "ioctl cdev2 0x3b77 in=10000000000000000400000000000000 "
			      "out=10000000000000000400000000000000 [vfio0 attach 4 via hwpt 4 of "
			      "ioas 1] -> 0\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[hwpt-alloc flags 0x8 on 4 for device 2 vtd-s1 flags 0x1 pgtbl "
			      "0x100000 width 48: hwpt 3] -> 0\n"),
		  "%s", seg);
	cr_assert(strstr(seg, "[vfio0 attach 3 via hwpt 3 of ioas 0] -> 0\n"), "%s", seg);
	cr_assert_null(strstr(segment(&f, "nest A " DEV0 " 0 0x300000 48 0"), "ioctl"));
	/* The PASID: SRE and EAFE, attached at PASID 5; undone by a PASID detach and destroy. */
	seg = segment(&f, "nest A " DEV0 " 5 0x200000 48 3");
	cr_assert(strstr(seg, "vtd-s1 flags 0x3 pgtbl 0x200000 width 48: hwpt 5] -> 0"), "%s", seg);
	cr_assert(strstr(seg, "[vfio0 attach 5 at pasid 5] -> 0"), "%s", seg);
	seg = segment(&f, "unnest A " DEV0 " 5");
	cr_assert(strstr(seg, "[vfio0 detach pasid 5] -> 0"), "%s", seg);
	cr_assert(strstr(seg, "[destroy 5] -> 0"), "%s", seg);
	/* The RID back on stage 2 only (the parent), then its nested table destroyed. */
	seg = segment(&f, "unnest A " DEV0 " 0");
	cr_assert(strstr(seg, "[vfio0 attach 4 via hwpt 4 of ioas 1] -> 0"), "%s", seg);
	cr_assert(strstr(seg, "[destroy 3] -> 0"), "%s", seg);
	/* The space ends: PASID 9 detached before the RID, its table, the parent, the IOAS. */
	seg = segment(&f, "free A");
	const char *p9 = strstr(seg, "[vfio0 detach pasid 9] -> 0"),
		   *rid = strstr(seg, "[vfio0 detach] -> 0"), *t = strstr(seg, "[destroy 3] -> 0"),
		   *parent = strstr(seg, "[destroy 4] -> 0"),
		   *ioas = strstr(seg, "[destroy 1] -> 0");
	cr_assert(p9 && rid && t && parent && ioas && p9 < rid && rid < t && t < parent &&
			  parent < ioas,
		  "%s", seg);
	cr_assert(strstr(seg, "close iommufd2 [left: device 2; kept by a bound device]"), "%s",
		  seg);
	fake_free(&f);
}

Test(iommufd, a_guest_table_is_checked_before_the_kernel_sees_it)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "open A " DEV0,
				    "open A " DEV1,
				    "nest A " DEV0 " 0x100000 0x1000 48 0",
				    "nest A " DEV0 " 7 0x1001 48 0",
				    "nest A " DEV0 " 7 0x1000 39 0",
				    "nest A " DEV0 " 7 0x1000 57 0",
				    "nest A " DEV0 " 7 0x1000 48 4",
				    "nest A " DEV1 " 3 0x1000 48 0",
				    "nest A " DEV1 " 0 0x1000 48 0",
				    NULL};
	struct fake f;
	const char *out;

	fake_new_backend(&f, "iommufd", two, 2);
	/* DEV1: a nesting VT-d, and no PASIDs (as every emulated PCI device). */
	env_add(&f, NESTING_VTD "," DEV1 "=1/0/0/0x4f00f4a");
	out = drive(&f, cmds);
	said(out, "nest A " DEV0 " 0x100000 0x1000 48 0: -EINVAL: PASID 1048576 is beyond the "
		  "20-bit PASID space of " DEV0 " (1 to 1048575)");
	said(out, "nest A " DEV0 " 7 0x1001 48 0: -EINVAL: gpgd 0x1001 is not 4 KiB aligned");
	said(out, "nest A " DEV0 " 7 0x1000 39 0: -EINVAL: address width 39: a VT-d stage-1 "
		  "table is 48 (4-level) or 57 (5-level) bits wide");
	said(out,
	     "nest A " DEV0 " 7 0x1000 57 0: -EINVAL: a 57-bit stage 1 needs 5-level "
	     "first-level paging, which the VT-d of " DEV0 " lacks (CAP.FL5LP, bit 60, clear in "
	     "cap 0xd2008c22260286)");
	said(out, "nest A " DEV0 " 7 0x1000 48 4: -EINVAL: VT-d flags 0x4: mainline's stage 1 has "
		  "SRE (0x1) and EAFE (0x2) only, no PCD, PWT, EMTE or CD");
	said(out, "nest A " DEV1 " 3 0x1000 48 0: -EINVAL: " DEV1 " has no PASIDs "
		  "(IOMMU_GET_HW_INFO: out_max_pasid_log2 0), and the kernel would answer a PASID "
		  "attach with success and program nothing: bind at the RID (PASID 0)");
	said(out, "nest A " DEV1 " 0 0x1000 48 0: 0");
	/* None of the refused reached the kernel. */
	const char *const refused[] = {
		"nest A " DEV0 " 0x100000 0x1000 48 0", "nest A " DEV0 " 7 0x1001 48 0",
		"nest A " DEV0 " 7 0x1000 39 0",        "nest A " DEV0 " 7 0x1000 57 0",
		"nest A " DEV0 " 7 0x1000 48 4",        "nest A " DEV1 " 3 0x1000 48 0",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		cr_assert_null(strstr(segment(&f, refused[i]), "ioctl"), "%s", refused[i]);
	/* Without PASIDs the parent is not asked PASID-capable (flags NEST_PARENT only). */
	log_has_in(&f, "[hwpt-alloc flags 0x1 on 4 for device 5: hwpt 7] -> 0");
	fake_free(&f);
}

Test(iommufd, what_the_kernel_refuses_of_a_nested_bind_is_undone)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "open A " DEV0,
				    "nest A " DEV0 " 0 0x1000 48 0",
				    "nest A " DEV0 " 0 0x1000 48 0",
				    "nest A " DEV0 " 0 0x1000 48 0",
				    "nest A " DEV0 " 0 0x1000 48 0",
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, NESTING_VTD);
	/* The first NEST_PARENT (EOPNOTSUPP), the first nested table (EINVAL) and the attach to
	 * the second (EBUSY) are refused. */
	env_add(&f, "VFIO_EMUL_FAIL=3b89:95:1,3b89:22:3,3b77:16:4");
	out = drive(&f, cmds);
	said(out, "nest A " DEV0 " 0 0x1000 48 0: -EOPNOTSUPP: the IOMMU of " DEV0 " cannot nest: "
		  "IOMMU_HWPT_ALLOC(NEST_PARENT) answered EOPNOTSUPP");
	said(out, "nest A " DEV0 " 0 0x1000 48 0: -EINVAL: kernel refused: "
		  "IOMMU_HWPT_ALLOC(VTD_S1, gpgd 0x1000, 48 bits) for " DEV0 ": Invalid argument "
		  "(EINVAL)");
	said(out,
	     "nest A " DEV0 " 0 0x1000 48 0: -EBUSY: kernel refused: "
	     "VFIO_DEVICE_ATTACH_IOMMUFD_PT of the RID of " DEV0 " to its nested table: Device "
	     "or resource busy (EBUSY)");
	said(out, "nest A " DEV0 " 0 0x1000 48 0: 0");
	/* The refused attach's table was destroyed. */
	seg = emul_log(&f);
	cr_assert(strstr(seg, "[injected] -> EBUSY\n"
			      "ioctl iommufd2 0x3b80 in=0800000003000000 out=0800000003000000 "
			      "[destroy 3] -> 0\n"),
		  "%s", seg);
	fake_free(&f);
}

Test(iommufd, bind_pgtable_nests_in_the_callers_space_only)
{
	struct fake f;
	struct daemon d;
	struct peer p1, p2;
	struct peer_result r, rid, pasid;
	const char *seg;

	test_users(&u1, &u2);
	fake_new_backend(&f, "iommufd", two, 2);
	env_add(&f, NESTING_VTD);
	start_with(&d, &f, both);
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	/* Only on a device open in the caller's session. */
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 5, 48, 1, &r), -EINVAL);
	cr_assert(strstr(r.reason, DEV0 " is not open in this session: open it first"), "%s",
		  r.reason);
	cr_assert_eq(peer_open_device(&p1, DEV0, &r), 0, "%s", r.reason);
	close(r.fd);
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 5, 48, 1, &pasid), 0, "%s", pasid.reason);
	cr_assert(emul_wait(&f, "[vfio0 attach 3 at pasid 5] -> 0"));
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 5, 48, 0, &r), -EBUSY);
	cr_assert(strstr(r.reason, "PASID 5 on " DEV0 " is already bound (by you)"), "%s",
		  r.reason);
	/* Another client cannot nest on the device the first holds, at any PASID. */
	cr_assert_eq(peer_bind_pgtable_ex(&p2, DEV0, 6, 48, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "is not open in this session"), "%s", r.reason);
	/* Beyond the width, and on DEV1's default VT-d (no NEST): refused with the reason. */
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 1u << 20, 48, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "beyond the 20-bit PASID space of " DEV0), "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV1, 0, 48, 0, &r), -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "cannot nest (ECAP.NEST, bit 26, is clear"), "%s", r.reason);
	/* The RID too; unbinding the PASID detaches it and destroys its table. */
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 0, 48, 0, &rid), 0, "%s", rid.reason);
	cr_assert(emul_wait(&f, "[vfio0 attach 5 via hwpt 5 of ioas 0] -> 0"));
	cr_assert_eq(peer_unbind(&p1, pasid.id, &r), 0, "%s", r.reason);
	seg = log_from(&f, "[vfio0 detach pasid 5] -> 0\n");
	cr_assert(strstr(seg, "[destroy 3] -> 0\n"), "%s", seg);
	cr_assert_eq(count_bindings(&d), 2);
	/* The session ends: the device detached, the RID's table, the parent and the IOAS go. */
	peer_stop(&p1);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(emul_wait(&f, "close iommufd2 "));
	seg = log_from(&f, "[vfio0 detach pasid 5] -> 0\n");
	const char *rid_off = strstr(seg, "[vfio0 detach] -> 0\n"),
		   *table = strstr(seg, "[destroy 5] -> 0\n"),
		   *parent = strstr(seg, "[destroy 4] -> 0\n"),
		   *ioas = strstr(seg, "[destroy 1] -> 0\nclose iommufd2 [left: nothing]");
	cr_assert(rid_off && table && parent && ioas && rid_off < table && table < parent &&
			  parent < ioas,
		  "%s", seg);
	peer_stop(&p2);
	daemon_stop(&d);
	fake_free(&f);
}

/* Over the socket, the real svmd: the reply hands the client the queue's fd; unbind destroys
 * the table, then tries the queue (EBUSY: the client holds its fd); once the client closed it
 * the session's end destroys it. */
Test(iommufd, a_client_gets_its_tables_fault_queue)
{
	struct fake f;
	struct daemon d;
	struct peer p1;
	struct peer_result r, b;
	struct stat st;
	const char *seg;

	test_users(&u1, &u2);
	fake_new_backend(&f, "iommufd", two, 2);
	env_add(&f, NESTING_VTD);
	env_add(&f, "VFIO_EMUL_FAULTS=1");
	start_with(&d, &f, both);
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_open_device(&p1, DEV0, &r), 0, "%s", r.reason);
	close(r.fd);
	cr_assert_eq(peer_bind_pgtable_faults(&p1, DEV0, 5, &b), 0, "%s", b.reason);
	cr_assert_geq(b.fd, 0);
	cr_assert_eq(fstat(b.fd, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode), "not the emulator's queue fd");
	cr_assert(emul_wait(&f, "[fault 3 fd "));
	cr_assert(emul_wait(&f, "[hwpt-alloc flags 0xc on 4 for device 2 vtd-s1 flags 0 pgtbl "
				"0x10000 width 48 fault 3: hwpt 5] -> 0"));
	cr_assert(emul_wait(&f, "[vfio0 attach 5 at pasid 5] -> 0"));
	/* DEV1's VT-d cannot nest, and says so; no fd. */
	cr_assert_eq(peer_bind_pgtable_faults(&p1, DEV1, 0, &r), -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "cannot nest"), "%s", r.reason);
	cr_assert_lt(r.fd, 0);
	cr_assert_eq(peer_unbind(&p1, b.id, &r), 0, "%s", r.reason);
	seg = log_from(&f, "[vfio0 detach pasid 5] -> 0\n");
	cr_assert(strstr(seg, "[destroy 5] -> 0\nioctl iommufd2 0x3b80 in=0800000003000000 "
			      "[destroy 3] -> EBUSY\n"),
		  "%s", seg);
	close(b.fd);
	peer_stop(&p1);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(emul_wait(&f, "close iommufd2 "));
	seg = log_from(&f, "[vfio0 detach pasid 5] -> 0\n");
	cr_assert(strstr(seg, "[destroy 3] -> 0\n"), "%s", seg);
	cr_assert(strstr(seg, "close iommufd2 [left: nothing]"), "%s", seg);
	daemon_stop(&d);
	fake_free(&f);
}

Test(iommufd, invalidate_flushes_ones_own_guest_table_only)
{
	static const char policy_text[] = "allow * user=svmd-test1\nallow * user=svmd-test2\n"
					  "allow invalidate user=svmd-test1\n"
					  "allow invalidate user=svmd-test2\n"
					  "allow map user=svmd-test1\n";
	struct fake f;
	struct daemon d;
	struct peer p1, p2;
	struct peer_result r, table, mapped;
	const char *seg;
	int memfd = memfd_of(0x4000);

	test_users(&u1, &u2);
	fake_new_backend(&f, "iommufd", two, 2);
	env_add(&f, NESTING_VTD);
	env_add(&f, "VFIO_EMUL_FAIL=3b8d:5:3");
	start_with(&d, &f, policy_text);
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_open_device(&p1, DEV0, &r), 0, "%s", r.reason);
	close(r.fd);
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 7, 48, 0, &table), 0, "%s", table.reason);
	/* Its own: two ranges, leaf only, reach the table's nested HWPT. */
	cr_assert_eq(peer_invalidate(&p1, table.id, 2, 0x100000, 16, 1, &r), 0, "%s", r.reason);
	cr_assert_eq(r.id, 2);
	cr_assert(emul_wait(&f, "[invalidate hwpt 3: 2 entries 0x100000+0x10/1 0x100000+0x10/1] "
				"-> 0"));
	/* Everything, in one entry. */
	cr_assert_eq(peer_invalidate(&p1, table.id, 1, 0, UINT64_MAX, 0, &r), 0, "%s", r.reason);
	cr_assert(emul_wait(&f, "[invalidate hwpt 3: 1 entries 0+0xffffffffffffffff/0] -> 0"));
	/* Checked before the kernel: alignment, flags, no pages, past 2^64. */
	cr_assert_eq(peer_invalidate(&p1, table.id, 1, 0x100800, 1, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "entry 0: address 0x100800 is not 4 KiB aligned"), "%s",
		  r.reason);
	cr_assert_eq(peer_invalidate(&p1, table.id, 3, 0x1000, 1, 2, &r), -EINVAL);
	cr_assert(strstr(r.reason, "entry 0: flags 0x2: VT-d stage 1 has LEAF (0x1) only"), "%s",
		  r.reason);
	cr_assert_eq(peer_invalidate(&p1, table.id, 1, 0x1000, 0, 0, &r), -EINVAL);
	cr_assert_eq(peer_invalidate(&p1, table.id, 1, 0xfffffffffffff000ull, 2, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "run past 2^64"), "%s", r.reason);
	/* The kernel's refusal (the third call), with how far it got. */
	cr_assert_eq(peer_invalidate(&p1, table.id, 1, 0x2000, 1, 0, &r), -EIO);
	cr_assert(strstr(r.reason, "kernel refused: IOMMU_HWPT_INVALIDATE of the table at PASID 7 "
				   "of " DEV0 ": Input/output error (EIO), after 0 of 1 entries"),
		  "%s", r.reason);
	/* Another's binding is as invisible as a missing one, and recorded. */
	cr_assert_eq(peer_invalidate(&p2, table.id, 1, 0x1000, 1, 0, &r), -ENOENT);
	cr_assert(strstr(r.reason, "of yours"), "%s", r.reason);
	cr_assert(daemon_log_has(&d, "OP=invalidate"), "no record of the refusal");
	/* A binding that is no nested table: a map. */
	cr_assert_eq(peer_map(&p1, DEV0, memfd, 0, 0x4000, 0x200000, 3, &mapped), 0, "%s",
		     mapped.reason);
	cr_assert_eq(peer_invalidate(&p1, mapped.id, 1, 0x1000, 1, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "is a map, not a guest table nested in your space"), "%s",
		  r.reason);
	/* No refused one reached the kernel: the three calls above only. */
	seg = emul_log(&f);
	cr_assert_eq(count_of(seg, "ioctl iommufd2 0x3b8d "), 3, "%s", seg);
	/* svmctl invalidate, of the table its uid holds, in both JSON forms: the schema of
	 * svmctl(1) (check-json.py). */
	char script[2048], sout[2048], serr[2048];
	snprintf(script, sizeof(script),
		 "for f in short pretty; do %s --socket=%s --json=$f invalidate %" PRIu64
		 " 0x100000:16:leaf >/tmp/svmctl-inv.$$ || exit 1; python3 %s invalidate "
		 "--$f /tmp/svmctl-inv.$$ >&2 || exit 99; cat /tmp/svmctl-inv.$$; done; "
		 "rm -f /tmp/svmctl-inv.$$",
		 build_path("svmctl"), d.socket, table.id,
		 build_path("../tests/integration/check-json.py"));
	const char *sh[] = {"/bin/sh", "-c", script, NULL};
	cr_assert_eq(run_cmd(u1.uid, u1.gid, sh, sout, sizeof(sout), serr, sizeof(serr)), 0, "%s",
		     serr);
	char want[128];
	snprintf(want, sizeof(want),
		 "{\"id\":%" PRIu64 ",\"invalidated\":1}\n{\n  \"id\": %" PRIu64, table.id,
		 table.id);
	cr_assert(strstr(sout, want), "%s", sout);
	close(memfd);
	peer_stop(&p1);
	peer_stop(&p2);
	cr_assert(wait_bindings(&d, 0, 2000));
	daemon_stop(&d);
	fake_free(&f);
}

Test(iommufd, a_device_opened_again_finds_its_guest_tables)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "open A " DEV0,
				    "nest A " DEV0 " 0 0x100000 48 0",
				    "nest A " DEV0 " 5 0x200000 48 0",
				    "close A " DEV0,
				    "client-close A " DEV0,
				    "open A " DEV0,
				    "nest A " DEV0 " 6 0x300000 48 0",
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, NESTING_VTD);
	out = drive(&f, cmds);
	/* Closed: PASID 5, then the RID, detached. */
	seg = segment(&f, "close A " DEV0);
	cr_assert(strstr(seg, "[vfio0 detach pasid 5] -> 0\n"), "%s", seg);
	/* Opened again: the RID onto its guest table (hwpt 3), PASID 5 onto its own (hwpt 5). */
	seg = strstr(emul_log(&f), "== client-close A " DEV0);
	cr_assert(seg && strstr(seg, "[vfio0 attach 3 via hwpt 3 of ioas 0] -> 0\n"), "%s", seg);
	cr_assert(strstr(seg, "[vfio0 attach 5 at pasid 5] -> 0\n"), "%s", seg);
	/* So a new PASID finds the RID on a PASID-capable table, as the kernel requires. */
	said(out, "nest A " DEV0 " 6 0x300000 48 0: 0");
	fake_free(&f);
}

/* ---- TEST ONLY: --test-mock-devices, the kernel's mock IOMMU ---- */

/* f's arguments and one more (f.args has room past the NULL). */
static void arg_add(struct fake *f, const char *arg)
{
	size_t n = 0;

	while (f->args[n])
		n++;
	cr_assert_lt(n + 1, sizeof(f->args) / sizeof(f->args[0]));
	f->args[n] = arg;
	f->args[n + 1] = NULL;
}

Test(iommufd, mock_devices_refused_without_a_test_kernel)
{
	struct fake f;
	const char *err, *log;

	/* The emulator, like every kernel without IOMMUFD_TEST, answers IOMMU_TEST_CMD ENOTTY. */
	fake_new_backend(&f, "iommufd", one, 1);
	arg_add(&f, "--test-mock-devices=2");
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "this kernel has no IOMMUFD_TEST (IOMMU_TEST_CMD answered ENOTTY): "
			      "--test-mock-devices is for test kernels only"),
		  "%s", err);
	/* The probe's scratch IOAS is destroyed again, and no device was taken. */
	log = emul_log(&f);
	cr_assert(strstr(log, "ioctl iommufd1 0x3ba0 "), "%s", log);
	cr_assert_eq(count_of(log, "[ioas 1]"), 1, "%s", log);
	cr_assert(strstr(log, "ioctl iommufd1 0x3b80 "), "no IOMMU_DESTROY: %s", log);
	cr_assert_null(strstr(log, "as device"), "%s", log);
	closed_what_it_opened(&f);
	fake_free(&f);

	/* Mock devices alone, no --device: the same refusal, not "no devices to manage". */
	fake_new_backend(&f, "iommufd", NULL, 0);
	arg_add(&f, "--test-mock-devices=1");
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "--test-mock-devices is for test kernels only"), "%s", err);
	fake_free(&f);
}

Test(iommufd, mock_devices_option_checked)
{
	static const char *const bad[] = {"--test-mock-devices=0", "--test-mock-devices=9",
					  "--test-mock-devices=x", "--test-mock-devices=-1",
					  "--test-mock-devices=1x"};
	struct fake f;
	const char *err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake_new_backend(&f, "iommufd", one, 1);
		arg_add(&f, bad[i]);
		err = svmd_refuses(&f, NULL);
		cr_assert(strstr(err, "--test-mock-devices takes a number of mock devices, 1 to 8"),
			  "%s: %s", bad[i], err);
		cr_assert_str_eq(emul_log(&f), "", "%s: nothing opened", bad[i]);
		fake_free(&f);
	}
	/* Only the iommufd backend, named: not vfio, not auto. */
	fake_new_backend(&f, "vfio", one, 1);
	arg_add(&f, "--test-mock-devices=1");
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "--test-mock-devices is for --backend=iommufd on a test kernel "
			      "(CONFIG_IOMMUFD_TEST), not --backend=vfio"),
		  "%s", err);
	cr_assert_str_eq(emul_log(&f), "", "nothing opened");
	fake_free(&f);
	fake_new_backend(&f, "auto", one, 1);
	arg_add(&f, "--test-mock-devices=1");
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "not --backend=auto"), "%s", err);
	fake_free(&f);
}

Test(iommufd, the_filter_has_test_cmd_only_with_mock_devices)
{
	struct fake f;

	fake_new_backend(&f, "iommufd", one, 1);
	cr_assert(!filter_allows(print_seccomp(&f), 0x3ba0), "IOMMU_TEST_CMD allowed");
	fake_free(&f);
	fake_new_backend(&f, "iommufd", one, 1);
	arg_add(&f, "--test-mock-devices=1");
	env_add(&f, "VFIO_EMUL_MOCK=1");
	cr_assert(filter_allows(print_seccomp(&f), 0x3ba0), "IOMMU_TEST_CMD not allowed");
	fake_free(&f);
}

Test(iommufd, mock_invalidate_type_only_on_a_mock)
{
	struct fake f;
	struct daemon d;
	struct peer p1;
	struct peer_result r, table;
	const char *seg;

	test_users(&u1, NULL);
	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, NESTING_VTD);
	start_with(&d, &f, "allow * user=svmd-test1\nallow invalidate user=svmd-test1\n");
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_open_device(&p1, DEV0, &r), 0, "%s", r.reason);
	close(r.fd);
	cr_assert_eq(peer_bind_pgtable_ex(&p1, DEV0, 7, 48, 0, &table), 0, "%s", table.reason);
	/* Type 3 is the mock's: on a VT-d table it is refused before the kernel. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 1, 0, 0, &r),
		     -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "invalidation type 3: the guest table at PASID 7 of " DEV0
				   " is a VT-d stage 1 (type 1)"),
		  "%s", r.reason);
	/* Type 4 is no type: libsvmclient refuses it without asking svmd. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, 4, 1, 1, 0, 0, &r), -EINVAL);
	seg = emul_log(&f);
	cr_assert_eq(count_of(seg, " 0x3b8d "), 0, "%s", seg);
	peer_stop(&p1);
	cr_assert(wait_bindings(&d, 0, 2000));
	daemon_stop(&d);
	fake_free(&f);
}

#define MOCK0 "ffff:00:00.0"
#define MOCK1 "ffff:00:01.0"

/* What the emulator logged of one driver command, that must hold needle. */
static void seg_has(const struct fake *f, const char *cmd, const char *needle)
{
	const char *seg = segment(f, cmd);

	cr_assert(strstr(seg, needle), "%s: no '%s' in:\n%s", cmd, needle, seg);
}

Test(iommufd, mock_devices_nest_at_the_rid_and_at_pasids)
{
	const char *const cmds[] = {"devices",
				    "ioctls",
				    "sandbox",
				    "space A",
				    "space B",
				    "open A " MOCK0,
				    "nest A " MOCK0 " 0 0x1234000 48 0",
				    "nest A " MOCK0 " 5 0x5678000 48 0",
				    "nest A " MOCK0 " 0x100000 0x1000 48 0",
				    "nest A " MOCK0 " 5 0x1000 48 0",
				    "nest B " MOCK0 " 3 0x1000 48 0",
				    "unnest A " MOCK0 " 5",
				    "unnest A " MOCK0 " 0",
				    "nest A " MOCK0 " 7 0x9abc000 48 0",
				    "free A",
				    "nest B " MOCK0 " 3 0x1000 48 0",
				    NULL};
	struct fake f;
	const char *out, *log;

	fake_new_backend(&f, "iommufd", NULL, 0);
	arg_add(&f, "--test-mock-devices=2");
	env_add(&f, "VFIO_EMUL_MOCK=1");
	out = drive(&f, cmds);
	/* Two mock devices, each its own group: 20 PASID bits, map and pgtable, the rest not. */
	said(out, "device " MOCK0 " group=4294967295 group-devices=1 model=0 pasid=20 kinds=0x24");
	said(out, "device " MOCK1 " group=4294967294 group-devices=1 model=0 pasid=20 kinds=0x24");
	said(out,
	     "  device: a mock device (svmd --test-mock-devices, test only) has no VFIO device "
	     "to hand out: bind-pgtable makes it in your DMA space, without open-device");
	said(out, "ioctl 0x3ba0");
	/* Start-up: one mock device on a scratch IOAS, its hw info and ranges, all destroyed. */
	log = emul_log(&f);
	cr_assert(strstr(log, "[mock device (flags 0x4): stdev 4, device 3, on hwpt 2 of ioas 1] "
			      "-> 0\n"
			      "ioctl iommufd1 0x3b8a "),
		  "%s", log);
	cr_assert(strstr(log, "[destroy 4: mock device detached, unbound] -> 0\n"
			      "ioctl iommufd1 0x3b80 in=0800000001000000 out=0800000001000000 "
			      "[destroy 1] -> 0\n== devices"),
		  "%s", log);
	said(out, "open A " MOCK0 ": -EOPNOTSUPP: " MOCK0 ": a mock device (svmd "
		  "--test-mock-devices, test only) has no VFIO device to hand out: bind-pgtable "
		  "makes it in your DMA space, without open-device");
	/* The RID: the mock device made on the space's IOAS, moved onto a PASID-capable
	 * NEST_PARENT, then onto the nested table whose IOTLB is gpgd >> 12. */
	said(out, "nest A " MOCK0 " 0 0x1234000 48 0: 0");
	seg_has(&f, "nest A " MOCK0 " 0 0x1234000 48 0",
		"[mock device (flags 0x4): stdev 4, device 3, on hwpt 2 of ioas 1] -> 0\n");
	seg_has(&f, "nest A " MOCK0 " 0 0x1234000 48 0",
		"[mock hwpt-alloc flags 0x9 on 1 for device 3: hwpt 5] -> 0\n");
	seg_has(&f, "nest A " MOCK0 " 0 0x1234000 48 0",
		"[mock op 10 on stdev 4:vfio1000 attach 5 via hwpt 5 of ioas 1] -> 0\n");
	seg_has(&f, "nest A " MOCK0 " 0 0x1234000 48 0",
		"[mock hwpt-alloc flags 0x8 on 5 for device 3 selftest iotlb 0x1234: hwpt 2] "
		"-> 0\n");
	seg_has(&f, "nest A " MOCK0 " 0 0x1234000 48 0",
		"[mock op 10 on stdev 4:vfio1000 attach 2 via hwpt 2 of ioas 0] -> 0\n");
	/* A PASID: the same device, its own nested table, PASID_ATTACH. */
	said(out, "nest A " MOCK0 " 5 0x5678000 48 0: 0");
	seg_has(&f, "nest A " MOCK0 " 5 0x5678000 48 0", "selftest iotlb 0x5678: hwpt 6] -> 0\n");
	seg_has(&f, "nest A " MOCK0 " 5 0x5678000 48 0",
		"[mock op 18 on stdev 4:vfio1000 attach 6 at pasid 5] -> 0\n");
	cr_assert_null(strstr(segment(&f, "nest A " MOCK0 " 5 0x5678000 48 0"), "mock device ("));
	/* Refused before the kernel: beyond the width, a PASID already nested, another space. */
	said(out, "nest A " MOCK0 " 0x100000 0x1000 48 0: -EINVAL: PASID 1048576 is beyond the "
		  "20-bit PASID space of " MOCK0 " (1 to 1048575)");
	said(out,
	     "nest A " MOCK0 " 5 0x1000 48 0: -EBUSY: PASID 5 of " MOCK0 " already has a guest "
	     "table in this session");
	said(out, "nest B " MOCK0 " 3 0x1000 48 0: -EBUSY: mock device " MOCK0 " is held by "
		  "another client's session (its first bind-pgtable made it there, for as long as "
		  "that session lasts)");
	const char *const refused[] = {"nest A " MOCK0 " 0x100000 0x1000 48 0",
				       "nest A " MOCK0 " 5 0x1000 48 0",
				       "nest B " MOCK0 " 3 0x1000 48 0", "open A " MOCK0};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		cr_assert_null(strstr(segment(&f, refused[i]), "ioctl"), "%s", refused[i]);
	/* Unbind: the PASID detached, the RID back on the parent; their tables destroyed. */
	seg_has(&f, "unnest A " MOCK0 " 5",
		"[mock op 20 on stdev 4:vfio1000 detach pasid 5] -> 0\n"
		"ioctl iommufd2 0x3b80 in=0800000006000000 out=0800000006000000 [destroy 6] -> "
		"0\n");
	seg_has(&f, "unnest A " MOCK0 " 0",
		"[mock op 10 on stdev 4:vfio1000 attach 5 via hwpt 5 of ioas 1] -> 0\n"
		"ioctl iommufd2 0x3b80 in=0800000002000000 out=0800000002000000 [destroy 2] -> "
		"0\n");
	/* The space's end: its PASID detached, the mock device destroyed (unbound), then its
	 * tables, parent and IOAS: nothing is left; the device is free for another space. */
	seg_has(&f, "free A",
		"[mock op 20 on stdev 4:vfio1000 detach pasid 7] -> 0\n"
		"ioctl iommufd2 0x3b80 in=0800000004000000 out=0800000004000000 "
		"[destroy 4: mock device detached, unbound] -> 0\n");
	seg_has(&f, "free A", "close iommufd2 [left: nothing]\n");
	said(out, "nest B " MOCK0 " 3 0x1000 48 0: 0");
	log = emul_log(&f);
	cr_assert_eq(count_of(log, "[mock device (flags"), count_of(log, "mock device detached"),
		     "%s", log);
	fake_free(&f);
}

Test(iommufd, what_the_kernel_refuses_of_a_mock_bind_is_undone)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "nest A " MOCK0 " 0 0x1000 48 0",
				    "nest A " MOCK0 " 0 0x1000 48 0",
				    "nest A " MOCK0 " 0 0x1000 48 0",
				    "nest A " MOCK0 " 0 0x1000 48 0",
				    "nest A " MOCK0 " 0 0x1000 48 0",
				    "nest A " MOCK0 " 0 0x1000 48 0",
				    "nest A " MOCK0 " 5 0x2000 48 0",
				    "free A",
				    NULL};
	struct fake f;
	const char *out, *log;

	fake_new_backend(&f, "iommufd", NULL, 0);
	arg_add(&f, "--test-mock-devices=1");
	env_add(&f, "VFIO_EMUL_MOCK=1");
	/* IOMMU_TEST_CMD #1 is start-up's. Refused in turn: making the mock device (#2), the
	 * NEST_PARENT (HWPT_ALLOC #1), moving the RID onto it (#5), the nested table (HWPT_ALLOC
	 * #4), attaching the RID to it (#10); then, the RID nested (#11-13), a PASID's attach
	 * (#14). */
	env_add(&f, "VFIO_EMUL_FAIL=3ba0:12:2,3b89:95:1,3ba0:16:5,3b89:22:4,3ba0:5:10,3ba0:16:14");
	out = drive(&f, cmds);
	log = emul_log(&f);
	said(out, "nest A " MOCK0 " 0 0x1000 48 0: -ENOMEM: kernel refused: "
		  "IOMMU_TEST_CMD(MOCK_DOMAIN_FLAGS) on the IOAS of " MOCK0 ": Cannot allocate "
		  "memory (ENOMEM)");
	said(out, "nest A " MOCK0 " 0 0x1000 48 0: -EOPNOTSUPP: the IOMMU of " MOCK0 " cannot "
		  "nest: IOMMU_HWPT_ALLOC(NEST_PARENT) answered EOPNOTSUPP");
	said(out,
	     "nest A " MOCK0 " 0 0x1000 48 0: -EBUSY: IOMMU_TEST_CMD(MOCK_DOMAIN_REPLACE) of " MOCK0
	     " to its stage-2 parent: Device or resource busy (EBUSY)");
	said(out, "nest A " MOCK0 " 0 0x1000 48 0: -EINVAL: kernel refused: "
		  "IOMMU_HWPT_ALLOC(DATA_SELFTEST, IOTLB 0x1) for mock device " MOCK0 ": Invalid "
		  "argument (EINVAL)");
	said(out,
	     "nest A " MOCK0 " 0 0x1000 48 0: -EIO: kernel refused: "
	     "IOMMU_TEST_CMD(MOCK_DOMAIN_REPLACE) of the RID of " MOCK0 " to its nested table: "
	     "Input/output error (EIO)");
	said(out, "nest A " MOCK0 " 0 0x1000 48 0: 0");
	said(out,
	     "nest A " MOCK0 " 5 0x2000 48 0: -EBUSY: kernel refused: "
	     "IOMMU_TEST_CMD(PASID_ATTACH) of PASID 5 of " MOCK0 " to its nested table: Device "
	     "or resource busy (EBUSY)");
	/* Each refused bind that made the mock device destroyed it, its parent with it: every
	 * mock device made is gone by the end, and so is everything else. */
	cr_assert_eq(count_of(log, "[mock device (flags"), 6, "%s", log);
	cr_assert_eq(count_of(log, "mock device detached"), 6, "%s", log);
	seg_has(&f, "nest A " MOCK0 " 5 0x2000 48 0",
		"[injected] -> EBUSY\nioctl iommufd2 0x3b80 in=0800000006000000 "
		"out=0800000006000000 [destroy 6] -> 0\n");
	cr_assert_null(strstr(segment(&f, "nest A " MOCK0 " 5 0x2000 48 0"), "mock device "),
		       "the RID's mock device stays");
	seg_has(&f, "free A", "close iommufd2 [left: nothing]\n");
	fake_free(&f);
}

Test(iommufd, mock_invalidate_checked_and_own_only)
{
	static const char policy_text[] = "allow * user=svmd-test1\nallow * user=svmd-test2\n"
					  "allow invalidate user=svmd-test1\n"
					  "allow invalidate user=svmd-test2\n";
	struct fake f;
	struct daemon d;
	struct peer p1, p2;
	struct peer_result r, table;
	const char *seg;

	test_users(&u1, &u2);
	fake_new_backend(&f, "iommufd", one, 1);
	arg_add(&f, "--test-mock-devices=1");
	env_add(&f, "VFIO_EMUL_MOCK=1");
	/* IOMMU_HWPT_INVALIDATE #2 fails in the kernel. */
	env_add(&f, "VFIO_EMUL_FAIL=3b8d:5:2");
	start_with(&d, &f, policy_text);
	cr_assert(daemon_log_has(&d, MOCK0 ": TEST ONLY, a mock device of the kernel's "
					   "IOMMUFD_TEST"),
		  "no start-up line");
	peer_start(&p1, &d, u1.uid, u1.gid, 0);
	peer_start(&p2, &d, u2.uid, u2.gid, 0);
	cr_assert_eq(peer_open_device(&p1, MOCK0, &r), -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "has no VFIO device to hand out"), "%s", r.reason);
	cr_assert_eq(peer_bind_pgtable_ex(&p1, MOCK0, 7, 48, 0, &table), 0, "%s", table.reason);
	/* One entry, then everything: the mock clears them. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 0, 2, 0, &r), 0,
		     "%s", r.reason);
	cr_assert_eq(r.id, 1);
	/* The harness binds gpgd 0x10000: IOTLB 0x10, and entry 2 cleared. */
	cr_assert(emul_wait(&f, "selftest iotlb 0x10: hwpt "), "%s", emul_log(&f));
	cr_assert(emul_wait(&f, " flags 0 id 2: iotlb 0x10 0x10 0 0x10] -> 0"), "%s", emul_log(&f));
	/* Checked before the kernel: flags, IOTLB id, the third word. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 2, 0, 0, &r),
		     -EINVAL);
	cr_assert(strstr(r.reason, "entry 0: flags 0x2: the mock IOMMU has ALL (0x1) only"), "%s",
		  r.reason);
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 0, 4, 0, &r),
		     -EINVAL);
	cr_assert(strstr(r.reason, "entry 0: IOTLB id 0x4, word 2 0: the mock IOMMU has IOTLB "
				   "entries 0 to 3, and word 2 is 0"),
		  "%s", r.reason);
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 0, 1, 9, &r),
		     -EINVAL);
	/* The VT-d type is not the mock's. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_VTD_S1, 1, 0, 1, 0, &r),
		     -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "invalidation type 1: the guest table at PASID 7 of " MOCK0
				   " is the kernel's mock IOMMU's (type 3, test only)"),
		  "%s", r.reason);
	/* The kernel's refusal, with how far it got. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 1, 0, 0, &r),
		     -EIO);
	cr_assert(strstr(r.reason, "kernel refused: IOMMU_HWPT_INVALIDATE(DATA_SELFTEST) of the "
				   "table at PASID 7 of " MOCK0 ": Input/output error (EIO), "
				   "after 0 of 1 entries"),
		  "%s", r.reason);
	/* Everything, then another's binding: as invisible as a missing one. */
	cr_assert_eq(peer_invalidate_type(&p1, table.id, SVM_INVALIDATE_MOCK, 1, 1, 0, 0, &r), 0,
		     "%s", r.reason);
	cr_assert(emul_wait(&f, " flags 0x1 id 0: iotlb 0 0 0 0] -> 0"), "%s", emul_log(&f));
	cr_assert_eq(peer_invalidate_type(&p2, table.id, SVM_INVALIDATE_MOCK, 1, 1, 0, 0, &r),
		     -ENOENT);
	/* svmctl spells type 3's entries mock:all and mock:N (the same uid's binding). */
	{
		char id[32], out[4096], err[4096];
		snprintf(id, sizeof(id), "%llu", (unsigned long long)table.id);
		const char *argv[] = {build_path("svmctl"), "--socket", d.socket,
				      "invalidate",         id,         "mock:3",
				      "mock:all",           NULL};
		cr_assert_eq(run_cmd(u1.uid, u1.gid, argv, out, sizeof(out), err, sizeof(err)), 0,
			     "%s", err);
		cr_assert(strstr(out, "Invalidated 2 ranges of binding"), "%s", out);
		cr_assert(emul_wait(&f, " flags 0 id 3 flags 0x1 id 0: iotlb 0 0 0 0] -> 0"), "%s",
			  emul_log(&f));
		const char *bad[] = {build_path("svmctl"),
				     "--socket",
				     d.socket,
				     "invalidate",
				     id,
				     "mock:4x",
				     NULL};
		cr_assert_neq(run_cmd(u1.uid, u1.gid, bad, out, sizeof(out), err, sizeof(err)), 0);
		cr_assert(strstr(err, "'mock:4x' is not mock:all or mock:ID"), "%s", err);
	}
	/* p2 cannot bind on the mock device p1's session holds. */
	cr_assert_eq(peer_bind_pgtable_ex(&p2, MOCK0, 8, 48, 0, &r), -EBUSY);
	cr_assert(strstr(r.reason, "is held by another client's session"), "%s", r.reason);
	/* Four reached the kernel: three handled, one refused there. */
	seg = emul_log(&f);
	cr_assert_eq(count_of(seg, " 0x3b8d "), 4, "%s", seg);
	peer_stop(&p1);
	peer_stop(&p2);
	cr_assert(wait_bindings(&d, 0, 2000));
	daemon_stop(&d);
	seg = emul_log(&f);
	cr_assert_eq(count_of(seg, "[mock device (flags"), count_of(seg, "mock device detached"),
		     "%s", seg);
	fake_free(&f);
}

/* ---- Page requests to the binding's owner (SVMD_PGTABLE_FAULTS) ---- */

/* The bit: a FAULT object before the nested table, which names it (FAULT_ID_VALID); the
 * caller's fd a copy of svmd's. Unbind destroys the queue after its table, or, while the owner
 * still holds its fd (EBUSY), at the next bind once it closed it; the session's end too. */
Test(iommufd, mock_faults_queue_for_the_owner)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "nestf A " MOCK0 " 0 0x1000 48 0",
				    "nestf A " MOCK0 " 5 0x2000 48 0",
				    "unnest A " MOCK0 " 5",
				    "fault-close A " MOCK0 " 5",
				    "nestf A " MOCK0 " 7 0x3000 48 0",
				    "nest A " MOCK0 " 9 0x4000 48 0",
				    "fault-close A " MOCK0 " 0",
				    "fault-close A " MOCK0 " 7",
				    "free A",
				    NULL};
	struct fake f;
	const char *out;

	fake_new_backend(&f, "iommufd", NULL, 0);
	arg_add(&f, "--test-mock-devices=1");
	env_add(&f, "VFIO_EMUL_MOCK=1");
	out = drive(&f, cmds);
	/* The queue first, then the nested table allocated with FAULT_ID_VALID (0x4) naming it
	 * (fault_id at offset 40); the caller's fd is not svmd's. */
	cr_assert(strstr(out, "nestf A " MOCK0 " 0 0x1000 48 0: 0 fault fd "), "%s", out);
	seg_has(&f, "nestf A " MOCK0 " 0 0x1000 48 0",
		"[fault 2 fd 20] -> 0\nioctl iommufd2 0x3b89 in=300000000c000000030000000500000000"
		"00000000000000adde0000080000000000000000000000020000000000000");
	seg_has(&f, "nestf A " MOCK0 " 0 0x1000 48 0",
		"[mock hwpt-alloc flags 0xc on 5 for device 3 fault 2 selftest iotlb 0x1: hwpt 6] "
		"-> 0\n");
	cr_assert_null(strstr(out, "nestf A " MOCK0 " 0 0x1000 48 0: 0 fault fd 20\n"), "%s", out);
	seg_has(&f, "nestf A " MOCK0 " 5 0x2000 48 0",
		"[mock hwpt-alloc flags 0xc on 5 for device 3 fault 7 selftest iotlb 0x2: hwpt 8] "
		"-> 0\n");
	/* Unbind: the PASID detached, its table destroyed, then its queue: EBUSY while the owner
	 * holds its fd; once closed, the next bind destroys it first. */
	seg_has(&f, "unnest A " MOCK0 " 5",
		"detach pasid 5] -> 0\nioctl iommufd2 0x3b80 in=0800000008000000 "
		"out=0800000008000000 [destroy 8] -> 0\nioctl iommufd2 0x3b80 in=0800000007000000 "
		"[destroy 7] -> EBUSY\n");
	seg_has(&f, "nestf A " MOCK0 " 7 0x3000 48 0", "[destroy 7] -> 0\nioctl iommufd2 0x3b8e ");
	/* Without the bit: no queue, no FAULT_ID_VALID, no fd. */
	said(out, "nest A " MOCK0 " 9 0x4000 48 0: 0");
	cr_assert_null(strstr(segment(&f, "nest A " MOCK0 " 9 0x4000 48 0"), "0x3b8e"));
	seg_has(&f, "nest A " MOCK0 " 9 0x4000 48 0",
		"[mock hwpt-alloc flags 0x8 on 5 for "
		"device 3 selftest iotlb 0x4: hwpt 9]");
	/* The session's end: each queue destroyed after its table, nothing left. */
	seg_has(&f, "free A",
		"[destroy 6] -> 0\nioctl iommufd2 0x3b80 in=0800000002000000 out=0800000002000000 "
		"[destroy 2] -> 0\n");
	seg_has(&f, "free A",
		"[destroy 8] -> 0\nioctl iommufd2 0x3b80 in=0800000007000000 out=0800000007000000 "
		"[destroy 7] -> 0\n");
	seg_has(&f, "free A", "close iommufd2 [left: nothing]\n");
	fake_free(&f);
}

/* A session's end while the owner holds its fault fds: each queue outlives the iommufd only as
 * long as the fd (the kernel's rule); svmd closed its copies. */
Test(iommufd, a_space_ends_with_the_owners_fault_fds_open)
{
	const char *const cmds[] = {"sandbox", "space A", "nestf A " MOCK0 " 3 0x1000 48 0",
				    "free A", NULL};
	struct fake f;
	const char *out;

	fake_new_backend(&f, "iommufd", NULL, 0);
	arg_add(&f, "--test-mock-devices=1");
	env_add(&f, "VFIO_EMUL_MOCK=1");
	out = drive(&f, cmds);
	cr_assert(strstr(out, "nestf A " MOCK0 " 3 0x1000 48 0: 0 fault fd "), "%s", out);
	seg_has(&f, "free A",
		"[destroy 6] -> 0\nioctl iommufd2 0x3b80 in=0800000002000000 "
		"[destroy 2] -> EBUSY\n");
	seg_has(&f, "free A", "close iommufd2 [left: fault 2]\n");
	fake_free(&f);
}

/* VT-d: the queue named in the stage-1 alloc; a refused queue or a refused table leaves
 * nothing, and the reply says which step. */
Test(iommufd, a_vtd_table_with_faults_and_its_refusals_undone)
{
	const char *const cmds[] = {"sandbox",
				    "space A",
				    "open A " DEV0,
				    "nestf A " DEV0 " 0 0x1000 48 0",
				    "nestf A " DEV0 " 0 0x1000 48 0",
				    "nestf A " DEV0 " 0 0x1000 48 0",
				    "nestf A " DEV0 " 0 0x1000 48 0",
				    "fault-close A " DEV0 " 0",
				    "unnest A " DEV0 " 0",
				    "free A",
				    "client-close A " DEV0,
				    NULL};
	struct fake f;
	const char *out, *seg;

	fake_new_backend(&f, "iommufd", one, 1);
	env_add(&f, NESTING_VTD);
	env_add(&f, "VFIO_EMUL_FAULTS=1");
	/* The first queue (ENOMEM), the second's table (EINVAL: HWPT_ALLOC #2, after the
	 * parent), the third's attach (EBUSY: attach #4, after start-up's, open's and the
	 * parent's). */
	env_add(&f, "VFIO_EMUL_FAIL=3b8e:12:1,3b89:22:2,3b77:16:4");
	out = drive(&f, cmds);
	said(out,
	     "nestf A " DEV0 " 0 0x1000 48 0: -ENOMEM: kernel refused: "
	     "IOMMU_FAULT_QUEUE_ALLOC for the RID of " DEV0 ": Cannot allocate memory (ENOMEM)");
	said(out, "nestf A " DEV0 " 0 0x1000 48 0: -EINVAL: kernel refused: "
		  "IOMMU_HWPT_ALLOC(VTD_S1, gpgd 0x1000, 48 bits) for " DEV0 ": Invalid argument "
		  "(EINVAL)");
	said(out,
	     "nestf A " DEV0 " 0 0x1000 48 0: -EBUSY: kernel refused: "
	     "VFIO_DEVICE_ATTACH_IOMMUFD_PT of the RID of " DEV0 " to its nested table: Device "
	     "or resource busy (EBUSY)");
	cr_assert(strstr(out, "nestf A " DEV0 " 0 0x1000 48 0: 0 fault fd "), "%s", out);
	seg = emul_log(&f);
	cr_assert_eq(count_of(seg, "0x3b8e "), 4, "%s", seg);
	/* Each refused bind destroyed the queue it made (the table's first, where there was
	 * one). */
	cr_assert(strstr(seg, "[injected] -> EINVAL\nioctl iommufd2 0x3b80 "), "%s", seg);
	cr_assert(strstr(seg, "[injected] -> EBUSY\nioctl iommufd2 0x3b80 "), "%s", seg);
	cr_assert(strstr(seg, "[hwpt-alloc flags 0xc on 4 for device 2 vtd-s1 flags 0 pgtbl 0x1000 "
			      "width 48 fault 3: hwpt 5] -> 0\n"),
		  "%s", seg);
	/* Unbind: the table, then its queue (its fd closed by the owner first). */
	seg_has(&f, "unnest A " DEV0 " 0",
		"[destroy 5] -> 0\nioctl iommufd2 0x3b80 in=0800000003000000 out=0800000003000000 "
		"[destroy 3] -> 0\n");
	cr_assert(strstr(emul_log(&f), "close iommufd2 [left: device 2; kept by a bound device]\n"),
		  "%s", emul_log(&f));
	fake_free(&f);
}
