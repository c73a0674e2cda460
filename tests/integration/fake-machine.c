/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake machine of the emulator suites; see fake-machine.h.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fake-machine.h"

#define TOPO_BYTES 2048

void vmkdir(const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

void put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

void put_text(const char *text, const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	put_file(path, text, strlen(text));
}

void put_link(const char *target, const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
}

static void le16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Config space: the ids, and behind an AER capability (so the walk must follow the list) the
 * PASID capability with Max PASID Width in bits 12:8 of its capability register. */
static void put_config(const struct fdev *d, const char *path)
{
	uint8_t cfg[4096] = {0};
	size_t len = d->pasid_bits == SHORT_CFG ? 256 : sizeof(cfg);

	le16(cfg, d->vendor);
	le16(cfg + 2, d->device);
	if (len == sizeof(cfg)) {
		le32(cfg + 0x100, 0x0001u | 2u << 16 | (d->pasid_bits >= 0 ? 0x148u : 0u) << 20);
		if (d->pasid_bits >= 0) {
			le32(cfg + 0x148, 0x001bu | 1u << 16);
			le16(cfg + 0x14c, (unsigned)d->pasid_bits << 8 | 0x6);
		}
	}
	put_file(path, cfg, len);
}

static const char *model_of(const struct fdev *d)
{
	if (d->iommu && strncmp(d->iommu, "dmar", 4) == 0)
		return "vtd";
	if (d->iommu && strncmp(d->iommu, "smmu3.", 6) == 0)
		return "smmu";
	return "none";
}

void env_add(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	cr_assert_lt(f->n_env, sizeof(f->env_buf) / sizeof(f->env_buf[0]));
	va_start(ap, fmt);
	vsnprintf(f->env_buf[f->n_env], sizeof(f->env_buf[0]), fmt, ap);
	va_end(ap);
	f->env[f->n_env] = f->env_buf[f->n_env];
	f->env[++f->n_env] = NULL;
}

/* A vfio-pci device's cdev vfioN: in sysfs under the device, and its node. */
static void put_cdev(const struct fake *f, const char *dir, unsigned n)
{
	vmkdir("%s/vfio-dev/vfio%u", dir, n);
	put_text("", "%s/vfio/devices/vfio%u", f->dev, n);
}

void fake_new(struct fake *f, const struct fdev *devs, size_t n)
{
	fake_new_backend(f, "vfio", devs, n);
}

void fake_new_backend(struct fake *f, const char *backend, const struct fdev *devs, size_t n)
{
	char topo[TOPO_BYTES] = "";
	size_t n_args = 0;
	unsigned n_cdevs = 0;

	memset(f, 0, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/svmd-vfio.XXXXXX");
	cr_assert_not_null(mkdtemp(f->root));
	snprintf(f->sys, sizeof(f->sys), "%s/sys", f->root);
	snprintf(f->dev, sizeof(f->dev), "%s/dev", f->root);
	snprintf(f->log, sizeof(f->log), "%s/emul.log", f->root);
	snprintf(f->topo, sizeof(f->topo), "%s/topology", f->root);
	vmkdir("%s/vfio/devices", f->dev);
	vmkdir("%s/bus/pci/drivers", f->sys);
	put_text("", "%s/vfio/vfio", f->dev);
	if (strcmp(backend, "vfio") != 0)
		put_text("", "%s/iommu", f->dev);

	snprintf(f->backend_arg, sizeof(f->backend_arg), "--backend=%s", backend);
	f->args[n_args++] = f->backend_arg;
	for (size_t i = 0; i < n; i++) {
		const struct fdev *d = &devs[i];
		char dir[256], buf[300];

		snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s", f->sys, d->name);
		vmkdir("%s", dir);
		vmkdir("%s/kernel/iommu_groups/%u/devices", f->sys, d->group);
		snprintf(buf, sizeof(buf), "../../../../kernel/iommu_groups/%u", d->group);
		put_link(buf, "%s/iommu_group", dir);
		put_link("../../../../../bus/pci/devices/X", "%s/kernel/iommu_groups/%u/devices/%s",
			 f->sys, d->group, d->name);
		snprintf(buf, sizeof(buf), "0x%04x\n", d->vendor);
		put_text(buf, "%s/vendor", dir);
		snprintf(buf, sizeof(buf), "0x%04x\n", d->device);
		put_text(buf, "%s/device", dir);
		put_text(d->bridge ? "0x060400\n" : "0x120000\n", "%s/class", dir);
		snprintf(buf, sizeof(buf), "%s/config", dir);
		put_config(d, buf);
		if (d->driver) {
			char target[96];
			snprintf(target, sizeof(target), "../../../../bus/pci/drivers/%s",
				 d->driver);
			put_link(target, "%s/driver", dir);
		}
		if (d->iommu) {
			char target[128];
			snprintf(target, sizeof(target), "../../../../devices/virtual/iommu/%s",
				 d->iommu);
			put_link(target, "%s/iommu", dir);
		}
		if (d->driver && strcmp(d->driver, "vfio-pci") == 0) {
			char node[160];
			snprintf(node, sizeof(node), "%s/vfio/%u", f->dev, d->group);
			if (access(node, F_OK) != 0)
				put_text("", "%s", node);
			if (!d->no_cdev)
				put_cdev(f, dir, n_cdevs++);
		}
		if (d->unmanaged)
			continue;
		cr_assert_lt(n_args, FDEVS_MAX + 1);
		snprintf(f->device_args[i], sizeof(f->device_args[i]), "--device=%s", d->name);
		f->args[n_args++] = f->device_args[i];
		int bits = d->pasid_bits > 0 ? d->pasid_bits : 0;
		const char *model = model_of(d);
		char kinds[48] = "none";
		if (bits)
			snprintf(kinds, sizeof(kinds), "task%s%s",
				 strcmp(model, "vtd") == 0 ? ",pgtable" : "",
				 strcmp(model, "none") != 0 ? ",pasid-table" : "");
		snprintf(topo + strlen(topo), sizeof(topo) - strlen(topo),
			 "device %s group=%u pasid-bits=%d model=%s kinds=%s\n", d->name, d->group,
			 bits, model, kinds);
	}
	put_text(topo, "%s", f->topo);
	snprintf(f->sysfs_arg, sizeof(f->sysfs_arg), "--sysfs-root=%s", f->sys);
	snprintf(f->dev_arg, sizeof(f->dev_arg), "--dev-root=%s", f->dev);
	f->args[n_args++] = f->sysfs_arg;
	f->args[n_args++] = f->dev_arg;
	f->args[n_args] = NULL;

	env_add(f, "LD_PRELOAD=%s", build_path("tests/libvfio-emul.so"));
	env_add(f, "VFIO_EMUL_DEV=%s", f->dev);
	env_add(f, "VFIO_EMUL_SYSFS=%s", f->sys);
	env_add(f, "VFIO_EMUL_LOG=%s", f->log);
	env_add(f, "VFIO_EMUL_TOPOLOGY=%s", f->topo);
	/* An ASan build of svmd must accept a preloaded library ahead of its runtime. */
	env_add(f, "ASAN_OPTIONS=verify_asan_link_order=0");
}

void fake_free(struct fake *f)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	cr_assert_eq(system(cmd), 0);
}

/* The emulator's log so far (static buffer). */
const char *emul_log(const struct fake *f)
{
	static char buf[65536];
	FILE *fp = fopen(f->log, "re");
	size_t n = 0;

	buf[0] = 0;
	if (fp) {
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
	}
	buf[n] = 0;
	return buf;
}

/* Waits up to 2 s for needle in the emulator's log: svmd closes its copy of an fd just after
 * the reply that carries it, so the client may look first. */
bool emul_wait(const struct fake *f, const char *needle)
{
	for (int t = 0; t < 200; t++) {
		if (strstr(emul_log(f), needle))
			return true;
		usleep(10000);
	}
	return false;
}

int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

int log_count(const struct daemon *d, const char *needle)
{
	FILE *f = fopen(d->log, "re");
	char line[4096];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

bool wait_log_count(const struct daemon *d, const char *needle, int n, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 10) {
		if (log_count(d, needle) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

const char *kernel_release(void)
{
	static struct utsname u;

	cr_assert_eq(uname(&u), 0);
	return u.release;
}

/* Runs svmd on the fake machine expecting it to refuse to start; returns its stderr. */
const char *svmd_refuses(struct fake *f, const char *extra_env)
{
	static char out[4096], err[8192];
	char sock[128];
	const char *argv[FDEVS_MAX + 10];
	size_t n = 0;

	if (extra_env)
		env_add(f, "%s", extra_env);
	snprintf(sock, sizeof(sock), "--socket=%s/refused.sock", f->root);
	argv[n++] = build_path("svmd");
	for (size_t i = 0; f->args[i]; i++)
		argv[n++] = f->args[i];
	argv[n++] = sock;
	argv[n++] = "--policy-dir=/nonexistent";
	argv[n] = NULL;
	cr_assert_eq(run_cmd_env(0, 0, argv, f->env, out, sizeof(out), err, sizeof(err)), 1,
		     "svmd did not refuse: %s", err);
	return err;
}

/* The daemon's fd count once the connections the harness opened to see it start are gone. */
int idle_fd_count(const struct daemon *d)
{
	int n = daemon_fd_count(d), stable = 0;

	for (int t = 0; t < 300 && stable < 10; t++) {
		usleep(10000);
		int m = daemon_fd_count(d);
		stable = m == n ? stable + 1 : 0;
		n = m;
	}
	return n;
}

bool wait_fd_count(const struct daemon *d, int n)
{
	for (int t = 0; t < 200; t++) {
		if (daemon_fd_count(d) == n)
			return true;
		usleep(10000);
	}
	return false;
}

/* The daemon's fds on the fake /dev: how many, and whether each is close-on-exec. */
int vfio_fds(const struct daemon *d, const struct fake *f, bool *all_cloexec)
{
	char dir[64], path[600], target[512], line[256];
	DIR *dp;
	int n = 0;

	*all_cloexec = true;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", d->pid);
	dp = opendir(dir);
	cr_assert_not_null(dp);
	for (struct dirent *e; (e = readdir(dp));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = 0;
		if (strncmp(target, f->dev, strlen(f->dev)) != 0)
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", d->pid, e->d_name);
		FILE *fp = fopen(path, "re");
		cr_assert_not_null(fp);
		while (fgets(line, sizeof(line), fp)) {
			unsigned long flags;
			if (sscanf(line, "flags: %lo", &flags) == 1 && !(flags & O_CLOEXEC))
				*all_cloexec = false;
		}
		fclose(fp);
	}
	closedir(dp);
	return n;
}
