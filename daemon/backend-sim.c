/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated backend: devices from a topology file (or the built-in one) and the seed ioctls
 * answered by the simulated kernel. Lets svmd run, demo and be tested anywhere.
 *
 * Topology lines:  device BDF group=N pasid-bits=N model=vtd|smmu|none
 *                         kinds=task,pgtable,pasid-table|none [pci-id=VVVV:DDDD]
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend-sim.h"
#include "cleanup.h"
#include "sim-kernel.h"

const char sim_default_topology[] =
	"# The built-in simulated machine: one device of each situation a client meets.\n"
	"device 0000:3b:00.0 group=12 pasid-bits=20 model=vtd kinds=task,pgtable,pasid-table "
	"pci-id=8086:0b25\n"
	"device 0000:3c:00.0 group=13 pasid-bits=16 model=smmu kinds=task,pasid-table "
	"pci-id=19e5:a250\n"
	"# Two functions sharing IOMMU group 20: the kernel refuses SVM binds on either.\n"
	"device 0000:5e:00.0 group=20 pasid-bits=20 model=vtd kinds=task,pgtable,pasid-table "
	"pci-id=8086:4940\n"
	"device 0000:5e:00.1 group=20 pasid-bits=20 model=vtd kinds=task,pgtable,pasid-table "
	"pci-id=8086:4941\n"
	"# No PASID capability at all.\n"
	"device 0000:af:00.0 group=30 pasid-bits=0 model=vtd kinds=none pci-id=15b3:101d\n";

struct sim_backend {
	struct backend base;
	struct sim_kernel *kernel;
};

static const struct backend_ops sim_ops;

static _printf_(5, 6) int perr(char *err, size_t errlen, unsigned line, const char *at,
			       const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)at;
	snprintf(err, errlen, "line %u: %s", line, msg);
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_kinds(char *s, uint32_t *ret)
{
	char *save = NULL;

	*ret = 0;
	if (strcmp(s, "none") == 0)
		return 0;
	for (char *k = strtok_r(s, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		int kind = svmd_kind_from_name(k);
		if (kind < 0)
			return -EINVAL;
		*ret |= SVMD_KIND_BIT(kind);
	}
	return *ret ? 0 : -EINVAL;
}

static int parse_device(char *line, unsigned lineno, struct device *d, char *err, size_t errlen)
{
	char *save = NULL, *tok;
	bool have_group = false, have_bits = false, have_model = false, have_kinds = false;
	unsigned long v;

	tok = strtok_r(line, " \t", &save); /* "device" */
	tok = strtok_r(NULL, " \t", &save);
	if (!tok || device_name_canonical(tok, d->name) < 0)
		return perr(err, errlen, lineno, tok, "expected a PCI address DDDD:BB:DD.F");
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return perr(err, errlen, lineno, tok, "expected KEY=VALUE, got '%s'", tok);
		*eq = 0;
		char *val = eq + 1;
		if (strcmp(tok, "group") == 0) {
			if (parse_uint(val, UINT32_MAX, &v) < 0)
				return perr(err, errlen, lineno, val, "invalid group '%s'", val);
			d->iommu_group = (uint32_t)v;
			have_group = true;
		} else if (strcmp(tok, "pasid-bits") == 0) {
			if (parse_uint(val, 20, &v) < 0)
				return perr(err, errlen, lineno, val,
					    "invalid pasid-bits '%s' (0-20)", val);
			d->pasid_bits = (uint8_t)v;
			have_bits = true;
		} else if (strcmp(tok, "model") == 0) {
			int m = svmd_model_from_name(val);
			if (m < 0)
				return perr(err, errlen, lineno, val,
					    "invalid model '%s' (vtd, smmu or none)", val);
			d->model = (uint8_t)m;
			have_model = true;
		} else if (strcmp(tok, "kinds") == 0) {
			if (parse_kinds(val, &d->kinds) < 0)
				return perr(err, errlen, lineno, val,
					    "invalid kinds (task, pgtable, pasid-table or none)");
			have_kinds = true;
		} else if (strcmp(tok, "pci-id") == 0) {
			unsigned vid, did;
			int n = 0;
			bool hex = strlen(val) == 9 && val[4] == ':';
			for (int i = 0; hex && i < 9; i++)
				hex = i == 4 || isxdigit((unsigned char)val[i]);
			if (!hex || sscanf(val, "%4x:%4x%n", &vid, &did, &n) != 2 || n != 9)
				return perr(err, errlen, lineno, val, "invalid pci-id '%s'", val);
			d->vendor = (uint16_t)vid;
			d->device_id = (uint16_t)did;
		} else {
			return perr(err, errlen, lineno, tok, "unknown key '%s'", tok);
		}
	}
	if (!have_group || !have_bits || !have_model || !have_kinds)
		return perr(err, errlen, lineno, NULL,
			    "%s needs group=, pasid-bits=, model= and kinds=", d->name);
	if (d->kinds && d->pasid_bits == 0 && (d->kinds & ~SVMD_KIND_BIT(SVMD_KIND_PASID_TABLE)))
		return perr(err, errlen, lineno, NULL, "%s: PASID binds need pasid-bits > 0",
			    d->name);
	return 0;
}

int sim_topology_parse(const char *text, struct device **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *copy = strdup(text);
	_cleanup_free_ struct device *devs = NULL;
	size_t n = 0;
	unsigned lineno = 0;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	/* strtok_r would merge empty lines and lose the count: split by hand. */
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *s = line + strspn(line, " \t");
		if (!*s)
			continue;
		if (strncmp(s, "device", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
			return perr(err, errlen, lineno, s, "expected 'device BDF KEY=VALUE...'");
		if (n >= 4096)
			return perr(err, errlen, lineno, s, "too many devices");
		struct device *grown = reallocarray(devs, n + 1, sizeof(*devs));
		if (!grown)
			return -ENOMEM;
		devs = grown;
		memset(&devs[n], 0, sizeof(devs[n]));
		int r = parse_device(s, lineno, &devs[n], err, errlen);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			if (strcmp(devs[i].name, devs[n].name) == 0)
				return perr(err, errlen, lineno, s, "%s listed twice",
					    devs[n].name);
		devs[n].index = (unsigned)n;
		n++;
	}
	(void)save;
	if (n == 0) {
		snprintf(err, errlen, "no devices");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (devs[j].iommu_group == devs[i].iommu_group)
				devs[i].group_devices++;
	*ret = TAKE_PTR(devs);
	return (int)n;
}

/* What a kernel checks before acting; the simulated kernel checks the same again. */
static int sim_check(struct backend *b, const struct device *dev, const struct bind_args *a,
		     char *why, size_t whylen)
{
	(void)b;
	return sim_kernel_check(dev, a, why, whylen);
}

static int sim_bind(struct backend *b, const struct device *dev, struct bind_args *a, char *why,
		    size_t whylen)
{
	struct sim_backend *s = (struct sim_backend *)b;

	return sim_kernel_bind(s->kernel, dev->iommu_group, a, why, whylen);
}

static int sim_unbind(struct backend *b, const struct device *dev, const struct bind_args *a,
		      char *why, size_t whylen)
{
	struct sim_backend *s = (struct sim_backend *)b;

	return sim_kernel_unbind(s->kernel, dev->iommu_group, a, why, whylen);
}

/* The simulated kernel has no VFIO device to open: it hands out an empty, sealed memfd named
 * after the device, standing in for the device fd (no VFIO ioctl works on it). */
static int sim_open_device(struct backend *b, struct backend_space *s, const struct device *dev,
			   int *ret_fd, char *why, size_t whylen)
{
	(void)s; /* no spaces: the fd reaches what the device's container maps */
	char name[64];
	int fd;

	(void)b;
	snprintf(name, sizeof(name), "svmd-sim-device:%s", dev->name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		int r = -errno;
		snprintf(why, whylen, "cannot create the stand-in device fd: %s", strerror(-r));
		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

struct sim_kernel *backend_sim_kernel(struct backend *b)
{
	return b->ops == &sim_ops ? ((struct sim_backend *)b)->kernel : NULL;
}

static void sim_free(struct backend *b)
{
	struct sim_backend *s = (struct sim_backend *)b;

	sim_kernel_free(s->kernel);
	free(s->base.devices);
	free(s);
}

static const struct backend_ops sim_ops = {
	.name = "sim",
	.check = sim_check,
	.bind = sim_bind,
	.unbind = sim_unbind,
	.open_device = sim_open_device,
	.free = sim_free,
};

static int read_file(const char *path, char **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	buf = malloc(65537);
	if (buf)
		n = fread(buf, 1, 65536, f);
	if (!buf)
		r = -ENOMEM;
	else if (ferror(f))
		r = -EIO;
	else if (n == 65536)
		r = -EFBIG;
	fclose(f);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	buf[n] = 0;
	if (strlen(buf) != n) {
		snprintf(err, errlen, "%s: NUL byte in topology", path);
		return -EINVAL;
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

int backend_sim_new(const char *topology_path, struct backend **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	struct sim_backend *s;
	struct device *devs = NULL;
	char msg[256];
	int n, r;

	if (topology_path) {
		r = read_file(topology_path, &text, err, errlen);
		if (r < 0)
			return r;
	}
	n = sim_topology_parse(text ? text : sim_default_topology, &devs, msg, sizeof(msg));
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", topology_path ? topology_path : "built-in topology",
			 n == -ENOMEM ? "out of memory" : msg);
		return n;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->kernel = sim_kernel_new(devs, (size_t)n);
	if (!s || !s->kernel) {
		free(s);
		free(devs);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Every simulated device can be opened. */
	for (int i = 0; i < n; i++)
		devs[i].kinds |= SVMD_KIND_BIT(SVMD_KIND_DEVICE);
	s->base.ops = &sim_ops;
	s->base.devices = devs;
	s->base.n_devices = (size_t)n;
	*ret = &s->base;
	return 0;
}
