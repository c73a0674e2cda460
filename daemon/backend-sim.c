/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated backend: devices from a topology file (or the built-in one), the seed ioctls
 * answered by the simulated kernel, and clients' DMA spaces kept as an IOMMU would keep them
 * (an IO address space per device and client, 4 KiB pages, a 48-bit input address, overlaps
 * refused, unmaps of whole mappings only). Lets svmd run, demo and be tested anywhere.
 *
 * Topology lines:  device BDF group=N pasid-bits=N model=vtd|smmu|none
 *                         kinds=task,pgtable,pasid-table|none [pci-id=VVVV:DDDD]
 * Every device can also be opened and mapped for.
 */
#include <ctype.h>
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

#include "backend-sim.h"
#include "cleanup.h"
#include "sim-kernel.h"
#include "util.h"

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
	struct sim_counts counts;
	/* The kernel's state for a restart (a memfd), and how many changes it holds. */
	int state_fd;
	uint64_t synced;
};

#define SIM_PAGE       4096u
#define SIM_IOVA_LIMIT (1ull << 48)

/* One mapping, and one device's IO address space in a client's space: its mappings sorted by
 * IOVA, and whether the client's device fd is attached to it. */
struct sim_area {
	uint64_t iova, length;
};

struct sim_ioas {
	const struct device *dev;
	struct sim_area *areas;
	size_t n, cap;
	bool attached;
};

struct backend_space {
	struct sim_backend *sim;
	struct sim_ioas *ioas;
	size_t n_ioas;
};

static const struct backend_ops sim_ops;
static void sim_free(struct backend *b);

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

/* Pages, and an IOVA the IOMMU can translate. */
static int map_check(const struct bind_args *a, char *why, size_t whylen)
{
	const uint64_t m = SIM_PAGE - 1;

	if ((a->map.iova | a->map.length | a->map.offset) & m)
		return fail(why, whylen, -EINVAL,
			    "IOVA, length and offset must be multiples of the page size (%u)",
			    SIM_PAGE);
	if (a->map.length == 0 || a->map.iova >= SIM_IOVA_LIMIT ||
	    a->map.length > SIM_IOVA_LIMIT - a->map.iova)
		return fail(why, whylen, -EINVAL,
			    "the range ends beyond the IOMMU's 48-bit input addresses");
	return 0;
}

/* What a kernel checks before acting; the simulated kernel checks the same again. */
static int sim_check(struct backend *b, const struct device *dev, const struct bind_args *a,
		     char *why, size_t whylen)
{
	(void)b;
	if (a->kind == SVMD_KIND_MAP)
		return map_check(a, why, whylen);
	if (a->kind == SVMD_KIND_PGTABLE && (a->pgtable.flags & SVMD_PGTABLE_FAULTS))
		return fail(why, whylen, -EOPNOTSUPP,
			    "the simulated backend has no fault queue: page-request queues "
			    "(SVMD_PGTABLE_FAULTS) are mainline's iommufd backend only");
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

/* dev's IO address space in s, made on first use; NULL when out of memory. */
static struct sim_ioas *ioas_of(struct backend_space *s, const struct device *dev)
{
	struct sim_ioas *v;

	for (size_t i = 0; i < s->n_ioas; i++)
		if (s->ioas[i].dev == dev)
			return &s->ioas[i];
	v = reallocarray(s->ioas, s->n_ioas + 1, sizeof(*v));
	if (!v)
		return NULL;
	s->ioas = v;
	v = &s->ioas[s->n_ioas++];
	*v = (struct sim_ioas){.dev = dev};
	s->sim->counts.ioas++;
	return v;
}

/* Where an area at iova would go: the first area ending after it. */
static size_t area_pos(const struct sim_ioas *v, uint64_t iova)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (v->areas[m].iova + v->areas[m].length <= iova)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* The simulated kernel has no VFIO device to open: it hands out an empty, sealed memfd named
 * after the device, standing in for the device fd (no VFIO ioctl works on it). In a space, the
 * stand-in is attached to the device's IO address space there. */
static int sim_open_device(struct backend *b, struct backend_space *s, const struct device *dev,
			   int *ret_fd, char *why, size_t whylen)
{
	struct sim_ioas *v = s ? ioas_of(s, dev) : NULL;
	char name[64];
	int fd;

	if (s && !v)
		return fail(why, whylen, -ENOMEM, "out of memory");
	snprintf(name, sizeof(name), "svmd-sim-device:%s", dev->name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		int r = -errno;
		snprintf(why, whylen, "cannot create the stand-in device fd: %s", strerror(-r));
		safe_close(fd);
		return r;
	}
	if (v) {
		v->attached = true;
		((struct sim_backend *)b)->counts.attached++;
	}
	*ret_fd = fd;
	return 0;
}

static void sim_close_device(struct backend *b, struct backend_space *s, const struct device *dev)
{
	struct sim_ioas *v = ioas_of(s, dev);

	if (v && v->attached) {
		v->attached = false;
		((struct sim_backend *)b)->counts.attached--;
	}
}

static int sim_space_new(struct backend *b, struct backend_space **ret, char *why, size_t whylen)
{
	struct backend_space *s = calloc(1, sizeof(*s));

	if (!s)
		return fail(why, whylen, -ENOMEM, "out of memory");
	s->sim = (struct sim_backend *)b;
	s->sim->counts.spaces++;
	*ret = s;
	return 0;
}

static int sim_map(struct backend *b, struct backend_space *s, const struct device *dev, int memfd,
		   const struct bind_args *a, char *why, size_t whylen)
{
	struct sim_ioas *v;
	size_t i;
	int r = map_check(a, why, whylen);

	(void)b;
	(void)memfd; /* nothing is pinned: the simulated device never reads it */
	if (r < 0)
		return r;
	v = ioas_of(s, dev);
	if (!v)
		return fail(why, whylen, -ENOMEM, "out of memory");
	i = area_pos(v, a->map.iova);
	if (i < v->n && v->areas[i].iova < a->map.iova + a->map.length)
		return fail(why, whylen, -EEXIST,
			    "IOVA 0x%" PRIx64 "-0x%" PRIx64 " overlaps a mapping at 0x%" PRIx64,
			    a->map.iova, a->map.iova + a->map.length - 1, v->areas[i].iova);
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct sim_area *n = reallocarray(v->areas, cap, sizeof(*n));
		if (!n)
			return fail(why, whylen, -ENOMEM, "out of memory");
		v->areas = n;
		v->cap = cap;
	}
	memmove(&v->areas[i + 1], &v->areas[i], (v->n - i) * sizeof(*v->areas));
	v->areas[i] = (struct sim_area){a->map.iova, a->map.length};
	v->n++;
	s->sim->counts.areas++;
	s->sim->counts.bytes += a->map.length;
	return 0;
}

static int sim_unmap(struct backend *b, struct backend_space *s, const struct device *dev,
		     const struct bind_args *a, char *why, size_t whylen)
{
	struct sim_ioas *v = ioas_of(s, dev);
	size_t i;

	(void)b;
	i = v ? area_pos(v, a->map.iova) : 0;
	if (!v || i == v->n || v->areas[i].iova != a->map.iova ||
	    v->areas[i].length != a->map.length)
		return fail(why, whylen, -ENOENT, "no mapping at IOVA 0x%" PRIx64 " of that length",
			    a->map.iova);
	memmove(&v->areas[i], &v->areas[i + 1], (v->n - i - 1) * sizeof(*v->areas));
	v->n--;
	s->sim->counts.areas--;
	s->sim->counts.bytes -= a->map.length;
	return 0;
}

static void sim_space_free(struct backend *b, struct backend_space *s)
{
	struct sim_counts *k = &((struct sim_backend *)b)->counts;

	for (size_t i = 0; i < s->n_ioas; i++) {
		struct sim_ioas *v = &s->ioas[i];
		for (size_t j = 0; j < v->n; j++)
			k->bytes -= v->areas[j].length;
		k->areas -= v->n;
		k->attached -= v->attached;
		free(v->areas);
	}
	k->ioas -= s->n_ioas;
	k->spaces--;
	free(s->ioas);
	free(s);
}

void backend_sim_counts(struct backend *b, struct sim_counts *ret)
{
	/* By its free(): tests hook the other operations. */
	*ret = b->ops->free == sim_free ? ((struct sim_backend *)b)->counts
					: (struct sim_counts){0};
}

struct sim_kernel *backend_sim_kernel(struct backend *b)
{
	return b->ops == &sim_ops ? ((struct sim_backend *)b)->kernel : NULL;
}

/* Restart survival: the simulated kernel's state lives in a memfd svmd gives PID 1 to keep, as a
 * real kernel's state lives in the fds svmd keeps there. */
static int sim_state_fd(struct backend *b)
{
	struct sim_backend *s = (struct sim_backend *)b;

	if (s->state_fd < 0) {
		s->state_fd = memfd_create("svmd-sim", MFD_CLOEXEC);
		if (s->state_fd < 0)
			return -errno;
		s->synced = ~0ull;
	}
	return s->state_fd;
}

static int sim_sync(struct backend *b)
{
	struct sim_backend *s = (struct sim_backend *)b;
	_cleanup_free_ void *buf = NULL;
	uint64_t now = sim_kernel_changes(s->kernel);
	size_t len;
	ssize_t n;
	int r;

	if (s->state_fd < 0 || now == s->synced)
		return 0;
	r = sim_kernel_save(s->kernel, &buf, &len);
	if (r < 0)
		return r;
	/* One write from the start: the header says how long the state is, so what a longer
	 * state left beyond it does not matter, and a crash cannot cut one write in two. */
	n = pwrite(s->state_fd, buf, len, 0);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	s->synced = now;
	return 0;
}

static int sim_adopt(struct backend *b, int fd, char *why, size_t whylen)
{
	_cleanup_close_ int owned = fd;
	struct sim_backend *s = (struct sim_backend *)b;
	_cleanup_free_ unsigned char *buf = NULL;
	struct sim_kernel *k = NULL;
	struct stat st;
	size_t len;
	int r;

	if (fstat(fd, &st) < 0)
		return fail(why, whylen, -errno, "fstat: %s", strerror(errno));
	/* What svmd itself wrote: the state of at most a few million binds. */
	if (!S_ISREG(st.st_mode) || st.st_size < 40 || st.st_size > (256 << 20))
		return fail(why, whylen, -EINVAL, "not a state svmd wrote (%lld bytes)",
			    (long long)st.st_size);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return -ENOMEM;
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		return fail(why, whylen, -EIO, "cannot read it");
	/* The header's length (at byte 32) says how much of it is the state. */
	uint64_t body;
	memcpy(&body, buf + 32, sizeof(body));
	if (body > (uint64_t)st.st_size - 40)
		return fail(why, whylen, -EINVAL, "cut short");
	len = 40 + (size_t)body;
	r = sim_kernel_restore(b->devices, b->n_devices, buf, len, &k, why, whylen);
	if (r < 0)
		return r;
	sim_kernel_free(s->kernel);
	s->kernel = k;
	safe_close(s->state_fd);
	s->state_fd = TAKE_FD(owned);
	s->synced = sim_kernel_changes(k);
	return 0;
}

static bool sim_holds(struct backend *b, const struct device *dev, const struct bind_args *a)
{
	struct sim_backend *s = (struct sim_backend *)b;

	return sim_kernel_holds(s->kernel, dev, a);
}

static size_t sim_release_unclaimed(struct backend *b,
				    bool (*claimed)(void *userdata, const struct device *dev,
						    uint32_t slot),
				    void *userdata)
{
	return sim_kernel_release_unclaimed(((struct sim_backend *)b)->kernel, claimed, userdata);
}

static void sim_free(struct backend *b)
{
	struct sim_backend *s = (struct sim_backend *)b;

	safe_close(s->state_fd);
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
	.close_device = sim_close_device,
	.space_new = sim_space_new,
	.map = sim_map,
	.unmap = sim_unmap,
	.space_free = sim_space_free,
	.state_fd = sim_state_fd,
	.sync = sim_sync,
	.adopt = sim_adopt,
	.holds = sim_holds,
	.release_unclaimed = sim_release_unclaimed,
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
		s->state_fd = -1;
	if (s)
		s->kernel = sim_kernel_new(devs, (size_t)n);
	if (!s || !s->kernel) {
		free(s);
		free(devs);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Every simulated device can be opened and mapped for. */
	for (int i = 0; i < n; i++)
		devs[i].kinds |= SVMD_KIND_BIT(SVMD_KIND_DEVICE) | SVMD_KIND_BIT(SVMD_KIND_MAP);
	s->base.ops = &sim_ops;
	s->base.devices = devs;
	s->base.n_devices = (size_t)n;
	*ret = &s->base;
	return 0;
}
