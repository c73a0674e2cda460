/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vfio backend at the syscall boundary: the real svmd, with tests/vfio-emul preloaded, on
 * a fake sysfs and /dev built per test. Checks the exact bytes of every VFIO ioctl svmd issues,
 * the start-up probe both ways, each start-up refusal, kernel errno mapping and fd hygiene.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake-machine.h"
#include "harness.h"

static const char policy[] = "allow * user=svmd-test1\n";

static struct test_user u1;

static void start(struct daemon *d, struct fake *f, const char *extra_env)
{
	if (extra_env)
		env_add(f, "%s", extra_env);
	daemon_start_env(d, policy, NULL, f->args, f->env);
}

/* Hex of an argument built field by field, little-endian, as KERNEL-ABI.md lays it out: the
 * tests' own encoding, independent of seed-abi.c. */
struct bytes {
	uint8_t b[128];
	size_t n;
};

/* width bytes of v, little-endian; bytes past the eighth are zero (padding). */
static void put(struct bytes *b, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		b->b[b->n++] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
}

static const char *hex_of(const struct bytes *b)
{
	static char buf[4][300];
	static int slot;

	slot = (slot + 1) % 4;
	buf[slot][0] = 0;
	for (size_t i = 0; i < b->n; i++)
		sprintf(buf[slot] + 2 * i, "%02x", b->b[i]);
	return buf[slot];
}

static struct bytes task_arg(uint32_t pasid, int32_t pid)
{
	struct bytes b = {0};

	put(&b, 24, 4);      /* argsz = 12 + 12 */
	put(&b, 1u << 1, 4); /* VFIO_SVM_BIND_PASID */
	put(&b, 12, 4);      /* length */
	put(&b, 1, 4);       /* pid valid */
	put(&b, pasid, 4);
	put(&b, (uint32_t)pid, 4);
	return b;
}

static struct bytes pgtable_arg(uint32_t pasid, uint64_t gpgd)
{
	struct bytes b = {0};

	put(&b, 84, 4);      /* argsz = 12 + 72 */
	put(&b, 1u << 2, 4); /* VFIO_SVM_BIND_PGTABLE */
	put(&b, 72, 4);
	put(&b, 1, 4); /* version */
	put(&b, 1, 4); /* format: VT-d */
	put(&b, 0, 8); /* flags: no guest PASID */
	put(&b, gpgd, 8);
	put(&b, pasid, 8); /* hpasid */
	put(&b, 0, 8);     /* gpasid */
	put(&b, 48, 4);    /* addr_width */
	put(&b, 0, 12);    /* padding */
	put(&b, 0, 8);     /* vtd.flags */
	put(&b, 0, 4);     /* vtd.pat */
	put(&b, 0, 4);     /* vtd.emt */
	return b;
}

static struct bytes table_arg(uint64_t ptr, uint64_t size, uint32_t model)
{
	struct bytes b = {0};

	put(&b, 36, 4);      /* argsz = 12 + 24 */
	put(&b, 1u << 0, 4); /* VFIO_SVM_BIND_PASIDTBL */
	put(&b, 24, 4);
	put(&b, ptr, 8);
	put(&b, size, 8);
	put(&b, model, 4);
	put(&b, 0, 4); /* no vendor data */
	return b;
}

/* The log line of one successful SVM ioctl. */
static const char *svm_line(unsigned container, unsigned long req, const struct bytes *in,
			    const struct bytes *out)
{
	static char line[800];

	snprintf(line, sizeof(line), "ioctl container%u 0x%lx in=%s out=%s -> 0\n", container, req,
		 hex_of(in), hex_of(out));
	return line;
}

static const struct fdev one[] = {
	{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
};

static void setup(void)
{
	test_users(&u1, NULL);
}

TestSuite(vfio, .init = setup, .timeout = 60);

/* ---- Start-up: the exact ioctls ---- */

static const char startup_one[] =
	"open vfio/vfio rw,cloexec -> container1\n"
	"ioctl container1 0x3b64 -> 0\n"
	"ioctl container1 0x3b65 arg=3 -> 1\n"
	"open vfio/12 rw,cloexec -> group12\n"
	"ioctl group12 0x3b67 in=0800000000000000 out=0800000001000000 -> 0\n"
	"ioctl group12 0x3b68 arg=container1 -> 0\n"
	"ioctl container1 0x3b66 arg=3 -> 0\n"
	"ioctl container1 0x3b7a in=0c0000000000000000000000 -> ENOTTY\n";

Test(vfio, startup_ioctls_and_probe_exact)
{
	struct fake f;
	struct daemon d;
	char want[256];

	fake_new(&f, one, 1);
	start(&d, &f, NULL);
	cr_assert_str_eq(emul_log(&f), startup_one);
	snprintf(want, sizeof(want), "this kernel (%s) lacks VFIO_IOMMU_SVM_BIND",
		 kernel_release());
	cr_assert_eq(log_count(&d, want), 1, "said once, naming the kernel");
	cr_assert(daemon_log_has(&d, "vfio backend, 1 device"));
	daemon_stop(&d);
	/* Shut down: the group goes, then its container. */
	char all[1024];
	snprintf(all, sizeof(all), "%sclose group12\nclose container1\n", startup_one);
	cr_assert_str_eq(emul_log(&f), all);
	fake_free(&f);
}

Test(vfio, each_group_gets_its_own_container)
{
	const struct fdev devs[] = {
		{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3c:00.0", 13, "vfio-pci", 16, "dmar1", 0x8086, 0x0b26, false, false, false},
		{"0000:3b:00.1", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b27, false, false, false},
	};
	struct fake f;
	struct daemon d;

	fake_new(&f, devs, 3);
	start(&d, &f, NULL);
	const char *log = emul_log(&f);
	cr_assert(strstr(log, "open vfio/vfio rw,cloexec -> container1\n"
			      "ioctl container1 0x3b64 -> 0\n"
			      "ioctl container1 0x3b65 arg=3 -> 1\n"
			      "open vfio/12 rw,cloexec -> group12\n"),
		  "%s", log);
	cr_assert(strstr(log, "open vfio/vfio rw,cloexec -> container2\n"
			      "ioctl container2 0x3b64 -> 0\n"
			      "ioctl container2 0x3b65 arg=3 -> 1\n"
			      "open vfio/13 rw,cloexec -> group13\n"
			      "ioctl group13 0x3b67 in=0800000000000000 out=0800000001000000 -> 0\n"
			      "ioctl group13 0x3b68 arg=container2 -> 0\n"
			      "ioctl container2 0x3b66 arg=3 -> 0\n"),
		  "%s", log);
	/* Group 12 is opened once for its two devices, and the probe asks once. */
	cr_assert_eq(count_of(log, "open vfio/12 "), 1, "%s", log);
	cr_assert_eq(count_of(log, "open vfio/vfio "), 2, "%s", log);
	cr_assert_eq(count_of(log, " 0x3b7a "), 1, "%s", log);
	daemon_stop(&d);
	log = emul_log(&f);
	cr_assert_eq(count_of(log, "close group"), 2, "%s", log);
	cr_assert_eq(count_of(log, "close container"), 2, "%s", log);
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

Test(vfio, devices_described_from_sysfs)
{
	const struct fdev devs[] = {
		{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3c:00.0", 13, "vfio-pci", 16, "smmu3.0x0000000009050000", 0x19e5, 0xa250,
		 false, false, false},
		{"0000:3d:00.0", 14, "vfio-pci", NO_PASID, "dmar2", 0x15b3, 0x101d, false, false,
		 false},
		{"0000:3e:00.0", 15, "vfio-pci", SHORT_CFG, NULL, 0x1234, 0x11e8, false, false,
		 false},
		{"0000:3f:00.0", 16, "vfio-pci", 8, "ivhd0", 0x1022, 0x1234, false, false, false},
		/* A PCI bridge in the group, on pcieport: viable, and it does no DMA. */
		{"0000:40:00.0", 17, "vfio-pci", 20, "dmar3", 0x8086, 0x0b25, false, false, false},
		{"0000:40:01.0", 17, "pcieport", NO_PASID, "dmar3", 0x8086, 0x7f00, true, true,
		 false},
		/* Two managed devices in one group. */
		{"0000:5e:00.0", 20, "vfio-pci", 20, "dmar4", 0x8086, 0x4940, false, false, false},
		{"0000:5e:00.1", 20, "vfio-pci", 20, "dmar4", 0x8086, 0x4941, false, false, false},
	};
	const uint32_t dev = SVM_KIND_BIT(SVM_KIND_DEVICE), task = SVM_KIND_BIT(SVM_KIND_TASK),
		       pg = SVM_KIND_BIT(SVM_KIND_PGTABLE),
		       tbl = SVM_KIND_BIT(SVM_KIND_PASID_TABLE);
	const struct {
		const char *name;
		uint32_t group, group_devices, kinds;
		uint16_t vendor, device;
		uint8_t bits, model;
	} want[] = {
		{"0000:3b:00.0", 12, 1, dev | task | pg | tbl, 0x8086, 0x0b25, 20, SVM_MODEL_VTD},
		{"0000:3c:00.0", 13, 1, dev | task | tbl, 0x19e5, 0xa250, 16, SVM_MODEL_SMMU},
		{"0000:3d:00.0", 14, 1, dev, 0x15b3, 0x101d, 0, SVM_MODEL_VTD},
		{"0000:3e:00.0", 15, 1, dev, 0x1234, 0x11e8, 0, SVM_MODEL_NONE},
		{"0000:3f:00.0", 16, 1, dev | task, 0x1022, 0x1234, 8, SVM_MODEL_NONE},
		{"0000:40:00.0", 17, 1, dev | task | pg | tbl, 0x8086, 0x0b25, 20, SVM_MODEL_VTD},
		{"0000:5e:00.0", 20, 2, dev | task | pg | tbl, 0x8086, 0x4940, 20, SVM_MODEL_VTD},
		{"0000:5e:00.1", 20, 2, dev | task | pg | tbl, 0x8086, 0x4941, 20, SVM_MODEL_VTD},
	};
	struct fake f;
	struct daemon d;
	struct svm_client *c = NULL;
	struct svm_device *v = NULL;
	size_t n = 0;

	fake_new(&f, devs, sizeof(devs) / sizeof(devs[0]));
	start(&d, &f, NULL);
	cr_assert_eq(svm_connect(d.socket, &c), 0);
	cr_assert_str_eq(svm_backend(c), "vfio");
	cr_assert_eq(svm_devices(c, &v, &n), 0);
	cr_assert_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		const struct svm_device *x = find_dev(v, n, want[i].name);
		cr_assert_eq(x->iommu_group, want[i].group, "%s", x->name);
		cr_assert_eq(x->group_devices, want[i].group_devices, "%s", x->name);
		cr_assert_eq(x->kinds, want[i].kinds, "%s: 0x%x", x->name, x->kinds);
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

/* ---- A kernel without the seed ioctl (every real one) ---- */

Test(vfio, without_svm_binds_are_not_supported)
{
	const struct fdev devs[] = {
		{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3e:00.0", 15, "vfio-pci", SHORT_CFG, NULL, 0x1234, 0x11e8, false, false,
		 false},
	};
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;
	char want[200];

	fake_new(&f, devs, 2);
	start(&d, &f, NULL);
	snprintf(want, sizeof(want), "this kernel (%s) lacks VFIO_IOMMU_SVM_BIND",
		 kernel_release());
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), -EOPNOTSUPP);
	cr_assert_str_eq(r.reason, want);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), -EOPNOTSUPP);
	cr_assert_str_eq(r.reason, want);
	cr_assert_eq(peer_bind_pasid_table(&p, "0000:3b:00.0", 0x100000, 4096, SVM_MODEL_VTD, &r),
		     -EOPNOTSUPP);
	cr_assert_str_eq(r.reason, want);
	/* Even a device without PASID support hears why, not "does not support". */
	cr_assert_eq(peer_bind_task(&p, "0000:3e:00.0", -1, 0, &r), -EOPNOTSUPP);
	cr_assert_str_eq(r.reason, want);
	cr_assert_eq(peer_bind_task(&p, "0000:99:00.0", -1, 0, &r), -ENODEV);
	cr_assert_eq(count_bindings(&d), 0);
	/* Only the probe reached the kernel. */
	cr_assert_eq(count_of(emul_log(&f), " 0x3b7a "), 1, "%s", emul_log(&f));
	cr_assert_eq(count_of(emul_log(&f), " 0x3b7b "), 0, "%s", emul_log(&f));

	/* open-device still works, and is a binding like any other. */
	cr_assert_eq(peer_open_device(&p, "0000:3e:00.0", &r), 0, "%s", r.reason);
	cr_assert_geq(r.fd, 0);
	close(r.fd);
	cr_assert_eq(count_bindings(&d), 1);
	peer_stop(&p);
	cr_assert(wait_bindings(&d, 0, 2000));
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, probe_answered_oddly_means_no_binds)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new(&f, one, 1);
	start(&d, &f, "VFIO_EMUL_FAIL=3b7a:1");
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "answered the VFIO_IOMMU_SVM_BIND probe with EPERM"), "%s",
		  r.reason);
	cr_assert(daemon_log_has(&d, "answered the VFIO_IOMMU_SVM_BIND probe with EPERM"));
	peer_stop(&p);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- open-device ---- */

/* Whether one of the daemon's fds is a device fd the emulator handed out. */
static bool daemon_holds_device_fd(const struct daemon *d)
{
	char dir[64], path[600], target[512];
	bool found = false;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", d->pid);
	dp = opendir(dir);
	cr_assert_not_null(dp);
	for (struct dirent *e; !found && (e = readdir(dp));) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = 0;
			found = strstr(target, "vfio-emul-device:") != NULL;
		}
	}
	closedir(dp);
	return found;
}

Test(vfio, open_device_hands_out_a_fresh_device_fd)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;
	char path[64], target[256];

	fake_new(&f, one, 1);
	start(&d, &f, NULL);
	int base = idle_fd_count(&d);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_open_device(&p, "0000:3b:00.0", &r), 0, "%s", r.reason);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r.fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	cr_assert_gt(n, 0);
	target[n] = 0;
	cr_assert(strstr(target, "vfio-emul-device:0000:3b:00.0"), "%s", target);
	close(r.fd);
	cr_assert(emul_wait(&f, "ioctl group12 0x3b6a arg=\"0000:3b:00.0\" -> device1\n"
				"close device1\n"),
		  "svmd keeps no copy of the device fd:\n%s", emul_log(&f));
	/* The emulator logs a close just before making it. */
	bool held = true;
	for (int t = 0; t < 200 && (held = daemon_holds_device_fd(&d)); t++)
		usleep(10000);
	cr_assert_not(held, "svmd still holds the device fd");
	cr_assert(daemon_log_has(&d, "OP=open-device"));
	cr_assert_eq(count_bindings(&d), 1);
	/* Released with the session; the next holder gets a new fd from the kernel. */
	cr_assert_eq(peer_disconnect(&p, &r), 0);
	cr_assert(wait_bindings(&d, 0, 2000));
	peer_stop(&p);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_open_device(&p, "0000:3b:00.0", &r), 0, "%s", r.reason);
	close(r.fd);
	cr_assert(emul_wait(&f, "-> device2\nclose device2\n"), "%s", emul_log(&f));
	peer_stop(&p);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(wait_fd_count(&d, base), "svmd holds %d fds, had %d", daemon_fd_count(&d), base);
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, open_device_kernel_refusal_reaches_the_client)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new(&f, one, 1);
	start(&d, &f, "VFIO_EMUL_FAIL=3b6a:16");
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_open_device(&p, "0000:3b:00.0", &r), -EBUSY);
	cr_assert_str_eq(r.reason, "kernel refused: VFIO_GROUP_GET_DEVICE_FD for 0000:3b:00.0: "
				   "Device or resource busy");
	cr_assert_eq(r.fd, -1);
	cr_assert_eq(count_bindings(&d), 0);
	cr_assert(daemon_log_has(&d, "EVENT=fail"));
	peer_stop(&p);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- A kernel with the seed ioctl: the simulated kernel behind the emulated container ---- */

Test(vfio, svm_binds_issue_the_exact_seed_bytes)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new(&f, one, 1);
	start(&d, &f, "VFIO_EMUL_SVM=1");
	const char *log = emul_log(&f);
	cr_assert(strstr(log, "ioctl container1 0x3b7a in=0c0000000000000000000000 why=need "
			      "exactly one bind kind, flags 0x0 -> EINVAL\n"),
		  "%s", log);
	cr_assert_not(daemon_log_has(&d, "lacks VFIO_IOMMU_SVM_BIND"));
	peer_start(&p, &d, u1.uid, u1.gid, 0);

	/* Task: the kernel writes the PASID back. */
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(r.pasid, 1);
	struct bytes in = task_arg(0, p.pid), out = task_arg(1, p.pid), bound = out;
	cr_assert(strstr(emul_log(&f), svm_line(1, 0x3b7a, &in, &out)), "%s", emul_log(&f));
	cr_assert_eq(peer_unbind(&p, r.id, &r), 0, "%s", r.reason);
	cr_assert(strstr(emul_log(&f), svm_line(1, 0x3b7b, &bound, &bound)), "%s", emul_log(&f));

	/* Page table. */
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	in = pgtable_arg(150, 0x10000);
	cr_assert(strstr(emul_log(&f), svm_line(1, 0x3b7a, &in, &in)), "%s", emul_log(&f));
	cr_assert_eq(peer_unbind(&p, r.id, &r), 0, "%s", r.reason);
	cr_assert(strstr(emul_log(&f), svm_line(1, 0x3b7b, &in, &in)), "%s", emul_log(&f));

	/* PASID table. */
	cr_assert_eq(peer_bind_pasid_table(&p, "0000:3b:00.0", 0x100000, 4096, SVM_MODEL_VTD, &r),
		     0, "%s", r.reason);
	in = table_arg(0x100000, 4096, 1);
	cr_assert(strstr(emul_log(&f), svm_line(1, 0x3b7a, &in, &in)), "%s", emul_log(&f));
	/* Ended by the session this time: the same unbind bytes. */
	peer_stop(&p);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(strstr(emul_log(&f), svm_line(1, 0x3b7b, &in, &in)), "%s", emul_log(&f));
	cr_assert_eq(count_of(emul_log(&f), " 0x3b7a "), 4);
	cr_assert_eq(count_of(emul_log(&f), " 0x3b7b "), 3);
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, kernel_refusals_keep_their_meaning)
{
	const struct fdev devs[] = {
		{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3c:00.0", 13, "vfio-pci", 20, "dmar1", 0x8086, 0x0b25, false, false, false},
		{"0000:3d:00.0", 14, "vfio-pci", 1, "dmar2", 0x8086, 0x0b25, false, false, false},
	};
	struct fake f;
	struct daemon d;
	struct peer a, b;
	struct peer_result r;

	fake_new(&f, devs, 3);
	start(&d, &f, "VFIO_EMUL_SVM=1");
	peer_start(&a, &d, u1.uid, u1.gid, 0);
	peer_start(&b, &d, u1.uid, u1.gid, 0);

	/* EBUSY: PASID 1 is a's address space; svmd's registry does not know it on the other
	 * device, the kernel does. */
	cr_assert_eq(peer_bind_task(&a, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(r.pasid, 1);
	cr_assert_eq(peer_bind_pgtable(&b, "0000:3c:00.0", 1, 0x10000, &r), -EBUSY);
	cr_assert(strstr(r.reason, "kernel refused: VFIO_IOMMU_SVM_BIND on IOMMU group 13 "
				   "(0000:3c:00.0): Device or resource busy (EBUSY)"),
		  "%s", r.reason);

	/* ENOSPC: a 1-bit PASID space holds one process. */
	cr_assert_eq(peer_bind_task(&a, "0000:3d:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_bind_task(&b, "0000:3d:00.0", -1, 0, &r), -ENOSPC);
	cr_assert(strstr(r.reason, "(ENOSPC)"), "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 2);
	peer_stop(&a);
	peer_stop(&b);
	cr_assert(wait_bindings(&d, 0, 2000));
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, kernel_without_a_kind_says_not_supported)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new(&f, one, 1);
	/* The kernel's view of the device lacks PASID tables though sysfs shows VT-d. */
	put_text("device 0000:3b:00.0 group=12 pasid-bits=20 model=vtd kinds=task\n", "%s", f.topo);
	start(&d, &f, "VFIO_EMUL_SVM=1");
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pasid_table(&p, "0000:3b:00.0", 0x100000, 4096, SVM_MODEL_VTD, &r),
		     -EOPNOTSUPP);
	cr_assert(strstr(r.reason, "(EOPNOTSUPP)"), "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 0);
	peer_stop(&p);
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, shared_group_is_owned_but_not_bound)
{
	const struct fdev devs[] = {
		{"0000:5e:00.0", 20, "vfio-pci", 20, "dmar0", 0x8086, 0x4940, false, false, false},
		{"0000:5e:00.1", 20, "vfio-pci", 20, "dmar0", 0x8086, 0x4941, false, false, false},
	};
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new(&f, devs, 2);
	start(&d, &f, "VFIO_EMUL_SVM=1");
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:5e:00.1", -1, 0, &r), -EINVAL);
	cr_assert(strstr(r.reason, "IOMMU group 20 has 2 devices; SVM binds need a group of one"),
		  "%s", r.reason);
	cr_assert_eq(count_of(emul_log(&f), " 0x3b7a "), 1, "only the probe");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(peer_open_device(&p, devs[i].name, &r), 0, "%s", r.reason);
		close(r.fd);
	}
	cr_assert_eq(count_bindings(&d), 2);
	peer_stop(&p);
	daemon_stop(&d);
	fake_free(&f);
}

struct errno_row {
	int kernel, client;
};

ParameterizedTestParameters(vfio, errno_mapping)
{
	static struct errno_row rows[] = {
		{EINVAL, -EINVAL},
		{E2BIG, -EINVAL},
		{EFAULT, -EINVAL},
		{ERANGE, -EINVAL},
		{EBUSY, -EBUSY},
		{EEXIST, -EBUSY},
		{EOPNOTSUPP, -EOPNOTSUPP},
		{ENODEV, -EOPNOTSUPP},
		{ENOTTY, -EOPNOTSUPP},
		{ENOSYS, -EOPNOTSUPP},
		{ENOSPC, -ENOSPC},
		{ESRCH, -ESRCH},
		{EPERM, -EPERM},
		{EACCES, -EPERM},
		{ENOMEM, -ENOMEM},
		{EIO, -EIO},
		{ENXIO, -EIO},
	};
	return cr_make_param_array(struct errno_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct errno_row *row, vfio, errno_mapping)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;
	char env[64], name[64];

	test_users(&u1, NULL);
	fake_new(&f, one, 1);
	env_add(&f, "VFIO_EMUL_SVM=1");
	snprintf(env, sizeof(env), "VFIO_EMUL_SVM_ERRNO=%d", row->kernel);
	start(&d, &f, env);
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), row->client,
		     "kernel %s: got %d (%s)", strerrorname_np(row->kernel), r.status, r.reason);
	/* The reason names what the kernel said. */
	snprintf(name, sizeof(name), "(%s)", strerrorname_np(row->kernel));
	cr_assert(strstr(r.reason, name), "%s", r.reason);
	cr_assert_eq(count_bindings(&d), 0);
	peer_stop(&p);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- Start-up refusals: each says what to fix ---- */

Test(vfio, refuses_a_group_owned_by_another_process)
{
	struct fake f;
	struct daemon d;

	fake_new(&f, one, 1);
	start(&d, &f, NULL);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "svmd: Cannot start the vfio backend: IOMMU group 12 (0000:3b:00.0) "
			      "is in use by another process (another svmd?)"),
		  "%s", err);
	cr_assert(strstr(emul_log(&f), "open vfio/12 rw,cloexec -> EBUSY\nclose container1\n"),
		  "the refused daemon closes its container:\n%s", emul_log(&f));
	/* The first one still serves. */
	cr_assert_eq(count_bindings(&d), 0);
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, refuses_a_group_that_is_not_viable)
{
	const struct fdev devs[] = {
		{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3b:00.1", 12, "ixgbe", NO_PASID, "dmar0", 0x8086, 0x10fb, false, true,
		 false},
		{"0000:3b:00.2", 12, NULL, NO_PASID, "dmar0", 0x8086, 0x10fb, false, true, false},
	};
	struct fake f;

	fake_new(&f, devs, 3);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "IOMMU group 12 is not viable: bind 0000:3b:00.1 (bound to ixgbe) "
			      "to vfio-pci too"),
		  "%s", err);
	cr_assert_null(strstr(err, "0000:3b:00.2"), "a driverless device is fine: %s", err);
	const char *log = emul_log(&f);
	cr_assert(strstr(log, "ioctl group12 0x3b67 in=0800000000000000 out=0800000000000000 -> 0\n"
			      "close group12\nclose container1\n"),
		  "%s", log);
	cr_assert_eq(count_of(log, "0x3b68"), 0, "never attached: %s", log);
	fake_free(&f);
}

Test(vfio, refuses_no_iommu_groups)
{
	struct fake f;
	char path[256];

	/* Told by sysfs: the group's name. */
	fake_new(&f, one, 1);
	put_text("vfio-noiommu\n", "%s/kernel/iommu_groups/12/name", f.sys);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "IOMMU group 12 (0000:3b:00.0) is a no-IOMMU group"), "%s", err);
	cr_assert(strstr(err, "enable the IOMMU"), "%s", err);
	cr_assert_str_eq(emul_log(&f), "", "nothing opened");
	fake_free(&f);

	/* Told by /dev: only the noiommu-N node exists. */
	fake_new(&f, one, 1);
	snprintf(path, sizeof(path), "%s/vfio/12", f.dev);
	cr_assert_eq(unlink(path), 0);
	put_text("", "%s/vfio/noiommu-12", f.dev);
	err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "IOMMU group 12 (0000:3b:00.0) is a no-IOMMU group"), "%s", err);
	fake_free(&f);
}

Test(vfio, refuses_a_missing_group_node)
{
	struct fake f;
	char path[256];

	fake_new(&f, one, 1);
	snprintf(path, sizeof(path), "%s/vfio/12", f.dev);
	cr_assert_eq(unlink(path), 0);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "/dev/vfio/12: bind 0000:3b:00.0 to vfio-pci"), "%s", err);
	fake_free(&f);
}

Test(vfio, refuses_a_missing_container_node)
{
	struct fake f;
	char path[256];

	fake_new(&f, one, 1);
	snprintf(path, sizeof(path), "%s/vfio/vfio", f.dev);
	cr_assert_eq(unlink(path), 0);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "/dev/vfio/vfio: No such file or directory (is the vfio module "
			      "loaded?)"),
		  "%s", err);
	fake_free(&f);
}

Test(vfio, refuses_another_api_version)
{
	struct fake f;

	fake_new(&f, one, 1);
	const char *err = svmd_refuses(&f, "VFIO_EMUL_API=1");
	cr_assert(strstr(err, "the kernel speaks VFIO API version 1; svmd speaks version 0"), "%s",
		  err);
	cr_assert_str_eq(emul_log(&f), "open vfio/vfio rw,cloexec -> container1\n"
				       "ioctl container1 0x3b64 -> 1\n"
				       "close container1\n");
	fake_free(&f);
}

Test(vfio, refuses_a_kernel_without_type1v2)
{
	struct fake f;

	fake_new(&f, one, 1);
	const char *err = svmd_refuses(&f, "VFIO_EMUL_EXTENSIONS=1");
	cr_assert(strstr(err, "this kernel's VFIO has no Type1v2 IOMMU (is vfio_iommu_type1 "
			      "loaded?)"),
		  "%s", err);
	cr_assert(strstr(emul_log(&f), "ioctl container1 0x3b65 arg=3 -> 0\nclose container1\n"),
		  "%s", emul_log(&f));
	fake_free(&f);
}

/* Rows hold their strings inline: criterion copies the parameters into a worker that is a new
 * process image, where pointers into this one's data would not be valid. */
struct ioctl_fail_row {
	char env[32];
	char message[96];
};

ParameterizedTestParameters(vfio, refuses_when_an_ioctl_fails)
{
	static struct ioctl_fail_row rows[] = {
		{"VFIO_EMUL_FAIL=3b64:25", "VFIO_GET_API_VERSION: Inappropriate ioctl for device"},
		{"VFIO_EMUL_FAIL=3b65:22", "no Type1v2 IOMMU (is vfio_iommu_type1 loaded?): "
					   "Invalid argument"},
		{"VFIO_EMUL_FAIL=3b67:14", "VFIO_GROUP_GET_STATUS on group 12: Bad address"},
		{"VFIO_EMUL_FAIL=3b68:1",
		 "VFIO_GROUP_SET_CONTAINER on group 12: Operation not permitted"},
		{"VFIO_EMUL_FAIL=3b66:22",
		 "VFIO_SET_IOMMU(Type1v2) for group 12: Invalid argument"},
	};
	return cr_make_param_array(struct ioctl_fail_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct ioctl_fail_row *row, vfio, refuses_when_an_ioctl_fails)
{
	struct fake f;

	fake_new(&f, one, 1);
	const char *err = svmd_refuses(&f, row->env);
	cr_assert(strstr(err, row->message), "%s", err);
	/* Whatever it opened, it closed. */
	const char *log = emul_log(&f);
	cr_assert_eq(count_of(log, "-> container"), count_of(log, "close container"), "%s", log);
	cr_assert_eq(count_of(log, "-> group"), count_of(log, "close group"), "%s", log);
	fake_free(&f);
}

struct device_row {
	char driver[16];     /* "": none */
	char device_arg[32]; /* "": --device=0000:3b:00.0 */
	bool twice;          /* device_arg comes in addition */
	char message[96];
};

ParameterizedTestParameters(vfio, refuses_unusable_devices)
{
	static struct device_row rows[] = {
		{"nvme", "", false,
		 "0000:3b:00.0 is bound to nvme, not vfio-pci: bind it to vfio-pci"},
		{"", "", false, "0000:3b:00.0 has no driver: bind it to vfio-pci"},
		{"vfio-pci", "--device=0000:99:00.0", false, "no PCI device 0000:99:00.0"},
		{"vfio-pci", "--device=3b:00", false, "'3b:00' is not a PCI address DDDD:BB:DD.F"},
		/* lspci's short form is the same device */
		{"vfio-pci", "--device=3B:00.0", true, "0000:3b:00.0 given twice"},
		{"vfio-pci", "--device=0000:3B:00.0", true, "0000:3b:00.0 given twice"},
	};
	return cr_make_param_array(struct device_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct device_row *row, vfio, refuses_unusable_devices)
{
	struct fdev dev = one[0];
	struct fake f;

	dev.driver = row->driver[0] ? row->driver : NULL;
	fake_new(&f, &dev, 1);
	/* f.args: --backend=vfio --device=... --sysfs-root=... --dev-root=... NULL */
	if (row->twice) {
		memmove(&f.args[3], &f.args[2], sizeof(f.args[0]) * 3);
		f.args[2] = row->device_arg;
	} else if (row->device_arg[0]) {
		f.args[1] = row->device_arg;
	}
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, row->message), "%s", err);
	fake_free(&f);
}

Test(vfio, refuses_a_device_without_iommu_group)
{
	struct fake f;
	char path[256];

	fake_new(&f, one, 1);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:3b:00.0/iommu_group", f.sys);
	cr_assert_eq(unlink(path), 0);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "0000:3b:00.0 has no IOMMU group: enable the IOMMU"), "%s", err);
	fake_free(&f);
}

Test(vfio, refuses_without_devices)
{
	struct fake f;

	fake_new(&f, NULL, 0);
	const char *err = svmd_refuses(&f, NULL);
	cr_assert(strstr(err, "no devices to manage: name them with --device=BDF"), "%s", err);
	fake_free(&f);
}

/* ---- --backend=auto ---- */

Test(vfio, auto_without_vfio_points_to_sim)
{
	char dir[] = "/tmp/svmd-auto.XXXXXX", devroot[64], sock[96], out[1024], err[1024];
	char want[256];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(devroot, sizeof(devroot), "--dev-root=%s", dir);
	snprintf(sock, sizeof(sock), "--socket=%s/s.sock", dir);
	/* No --backend at all: auto is the default. */
	const char *argv[] = {build_path("svmd"), devroot, sock, "--policy-dir=/nonexistent", NULL};
	cr_assert_eq(run_cmd(0, 0, argv, out, sizeof(out), err, sizeof(err)), 1);
	snprintf(want, sizeof(want),
		 "svmd: no %s/vfio/vfio: this machine has no VFIO; use --backend=sim to try svmd "
		 "without hardware\n",
		 dir);
	cr_assert(strstr(err, want), "%s", err);
	cr_assert_eq(rmdir(dir), 0);
}

Test(vfio, auto_with_vfio_is_vfio)
{
	struct fake f;
	struct daemon d;

	fake_new(&f, one, 1);
	f.args[0] = "--backend=auto";
	start(&d, &f, NULL);
	cr_assert(daemon_log_has(&d, "vfio backend, 1 device"));
	cr_assert_str_eq(emul_log(&f), startup_one);
	daemon_stop(&d);
	fake_free(&f);
}

/* ---- fd hygiene ---- */

Test(vfio, one_container_and_one_group_fd_per_group_all_cloexec)
{
	const struct fdev devs[] = {
		{"0000:3b:00.0", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3b:00.1", 12, "vfio-pci", 20, "dmar0", 0x8086, 0x0b25, false, false, false},
		{"0000:3c:00.0", 13, "vfio-pci", 20, "dmar1", 0x8086, 0x0b25, false, false, false},
	};
	struct fake f;
	struct daemon d;
	bool cloexec;

	fake_new(&f, devs, 3);
	start(&d, &f, NULL);
	cr_assert_eq(vfio_fds(&d, &f, &cloexec), 4);
	cr_assert(cloexec);
	daemon_stop(&d);
	fake_free(&f);
}

Test(vfio, fds_return_to_baseline)
{
	struct fake f;
	struct daemon d;
	struct peer p;
	struct peer_result r;

	fake_new(&f, one, 1);
	start(&d, &f, "VFIO_EMUL_SVM=1");
	int base = idle_fd_count(&d);

	/* Bind and unbind. */
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_unbind(&p, r.id, &r), 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 150, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_unbind(&p, r.id, &r), 0);
	cr_assert_eq(peer_disconnect(&p, &r), 0);
	peer_stop(&p);
	cr_assert(wait_fd_count(&d, base), "after unbind: %d, had %d", daemon_fd_count(&d), base);

	/* The client dies holding a task binding and the device. */
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_task(&p, "0000:3b:00.0", -1, 0, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_open_device(&p, "0000:3b:00.0", &r), 0, "%s", r.reason);
	close(r.fd);
	peer_stop(&p);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(wait_fd_count(&d, base), "after client death: %d, had %d", daemon_fd_count(&d),
		  base);

	/* A leased binding outlives its session, then its lease. */
	peer_start(&p, &d, u1.uid, u1.gid, 0);
	cr_assert_eq(peer_bind_pgtable(&p, "0000:3b:00.0", 151, 0x10000, &r), 0, "%s", r.reason);
	cr_assert_eq(peer_lease(&p, r.id, &r), 0, "%s", r.reason);
	int lease = r.fd;
	peer_stop(&p);
	cr_assert(wait_log_count(&d, "disconnected", 3, 2000));
	cr_assert_eq(count_bindings(&d), 1);
	close(lease);
	cr_assert(wait_bindings(&d, 0, 2000));
	cr_assert(wait_fd_count(&d, base), "after the lease closed: %d, had %d",
		  daemon_fd_count(&d), base);

	/* Every bind was undone in the kernel too. */
	const char *log = emul_log(&f);
	cr_assert_eq(count_of(log, " 0x3b7a ") - 1, count_of(log, " 0x3b7b "), "%s", log);
	daemon_stop(&d);
	fake_free(&f);
}
