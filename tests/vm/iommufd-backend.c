/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's iommufd backend (daemon/backend-iommufd.c, linked in) on the test kernel, inside the
 * QEMU guest of make check-vm-iommufd: this program plays svmd's request core and its
 * clients. It starts the backend on both edu devices, has a second instance refused, gives
 * two clients spaces, maps a memfd of each, opens each device in its client's space and makes
 * the edu DMA through the fd the backend handed out; then checks what ends: a closed device
 * reaches nothing, the previous holder must close its fd before the next may open, a space's
 * end unmaps everything (even what its client attached to again), pins are charged to this
 * process's locked memory, once the backend is freed another may start, and one started with a
 * small RLIMIT_MEMLOCK refuses to pin past it. Same conventions as iommufd-smoke.c:
 *
 *   iommufd-backend BDF0 BDF1    the two edu functions, bound to vfio-pci
 *   iommufd-backend --list       the names of the checks, one a line
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend-iommufd.h"
#include "log.h"
#include "vfio-abi.h"

/* The edu device (QEMU docs/specs/edu.rst), as in iommufd-smoke.c. */
#define EDU_DMA_SRC     0x80
#define EDU_DMA_DST     0x88
#define EDU_DMA_COUNT   0x90
#define EDU_DMA_CMD     0x98
#define EDU_DMA_RUN     0x1
#define EDU_DMA_TO_RAM  0x2
#define EDU_BUFFER      0x40000
#define EDU_XFER_OFFSET 1024
#define EDU_XFER_SIZE   2048
#define PCI_COMMAND     0x04
#define PCI_CMD_MEM_BM  0x6

#define MEMFD_SIZE  0x4000
#define IOVA_BASE   0x1000000ull
#define COPY_OFFSET 0x2000

static const char *const checks[] = {
	"backend-start",
	"backend-second-refused",
	"backend-map-checks",
	"backend-open-dma",
	"backend-isolated-spaces",
	"backend-pins-charged",
	"backend-close-blocks-dma",
	"backend-previous-holder",
	"backend-reattach-own-memory",
	"backend-space-end",
	"backend-released",
	"backend-rlimit",
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static bool reported[N_CHECKS];
static int n_failed;

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < N_CHECKS; i++)
		if (strcmp(checks[i], name) == 0)
			reported[i] = true;
	printf("%s %s: ", ok ? "PASS" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		n_failed++;
}

/* A client's memfd, mapped here too so the test can see what the device did. */
struct mem {
	int fd;
	uint8_t *p;
};

static int mem_new(struct mem *m, size_t size, uint8_t seed)
{
	m->fd = memfd_create("client", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)size) < 0)
		return -errno;
	m->p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->p == MAP_FAILED)
		return -errno;
	for (size_t i = 0; i < EDU_XFER_SIZE; i++)
		m->p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
	return 0;
}

/* The device fd a client got: BAR0 and config space through it. */
static int region(int fd, uint32_t index, uint64_t *off)
{
	struct svmd_vfio_region_info ri = {.argsz = sizeof(ri), .index = index};

	if (ioctl(fd, SVMD_VFIO_DEVICE_GET_REGION_INFO, &ri) < 0)
		return -errno;
	*off = ri.offset;
	return 0;
}

static int wr64(int fd, uint64_t bar0, uint64_t reg, uint64_t v)
{
	return pwrite(fd, &v, 8, (off_t)(bar0 + reg)) == 8 ? 0 : -EIO;
}

/* Memory -> edu -> memory through IOVA_BASE and IOVA_BASE + COPY_OFFSET of the fd's space.
 * Returns 0 when the DMA ran (whether or not the IOMMU let it through). */
static int edu_copy(int fd)
{
	uint64_t bar0, cfg, buf = EDU_BUFFER + EDU_XFER_OFFSET;
	uint16_t cmd = 0;
	int r = region(fd, SVMD_VFIO_PCI_BAR0_REGION_INDEX, &bar0);

	if (r == 0)
		r = region(fd, SVMD_VFIO_PCI_CONFIG_REGION_INDEX, &cfg);
	if (r < 0)
		return r;
	if (pread(fd, &cmd, 2, (off_t)(cfg + PCI_COMMAND)) != 2)
		return -EIO;
	cmd |= PCI_CMD_MEM_BM;
	if (pwrite(fd, &cmd, 2, (off_t)(cfg + PCI_COMMAND)) != 2)
		return -EIO;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t status;
		struct timespec t0, now;
		uint64_t src = pass ? buf : IOVA_BASE, dst = pass ? IOVA_BASE + COPY_OFFSET : buf;
		if (wr64(fd, bar0, EDU_DMA_SRC, src) < 0 || wr64(fd, bar0, EDU_DMA_DST, dst) < 0 ||
		    wr64(fd, bar0, EDU_DMA_COUNT, EDU_XFER_SIZE) < 0 ||
		    wr64(fd, bar0, EDU_DMA_CMD, EDU_DMA_RUN | (pass ? EDU_DMA_TO_RAM : 0)) < 0)
			return -EIO;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			usleep(10000);
			if (pread(fd, &status, 4, (off_t)(bar0 + EDU_DMA_CMD)) != 4)
				return -EIO;
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while ((status & EDU_DMA_RUN) && now.tv_sec - t0.tv_sec < 10);
		if (status & EDU_DMA_RUN)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Whether a copy through fd lands in m: the copy area cleared, the DMA, compared. */
static bool dma_lands(int fd, struct mem *m, int *ret)
{
	memset(m->p + COPY_OFFSET, 0, EDU_XFER_SIZE);
	*ret = edu_copy(fd);
	return *ret == 0 && memcmp(m->p, m->p + COPY_OFFSET, EDU_XFER_SIZE) == 0;
}

static long status_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static struct bind_args map_args(uint64_t iova, uint64_t len)
{
	return (struct bind_args){
		.kind = SVMD_KIND_MAP,
		.map = {.iova = iova, .length = len, .flags = SVMD_MAP_READ | SVMD_MAP_WRITE}};
}

static const char *ename(int r)
{
	return r == 0 ? "0" : strerrorname_np(-r);
}

struct run {
	const char *devs[2];
	struct backend_config cfg;
	struct backend *b;
	struct device *edu[2];
	struct backend_space *a, *bs;
	struct mem ma, mb;
	int fa, fb; /* the clients' device fds */
	char why[512];
};

static bool start(struct run *t)
{
	char err[512] = "";
	int r = backend_iommufd_new(&t->cfg, &t->b, err, sizeof(err));
	bool ok = r == 0;

	if (ok) {
		t->edu[0] = &t->b->devices[0];
		t->edu[1] = &t->b->devices[1];
		ok = t->edu[0]->model == SVMD_MODEL_VTD &&
		     t->edu[0]->kinds ==
			     (SVMD_KIND_BIT(SVMD_KIND_DEVICE) | SVMD_KIND_BIT(SVMD_KIND_MAP)) &&
		     t->b->note && strstr(t->b->note, "RLIMIT_MODE 1");
	}
	report(ok, "backend-start", "%s%s; %s: model %u, %u PASID bits, kinds %#x; pgtable: %s",
	       ename(r), err, t->devs[0], ok ? t->edu[0]->model : 0, ok ? t->edu[0]->pasid_bits : 0,
	       ok ? t->edu[0]->kinds : 0, ok ? t->edu[0]->unsupported[SVMD_KIND_PGTABLE] : "-");
	if (ok)
		printf("  note: %s\n", t->b->note);
	return ok;
}

static void second_refused(struct run *t)
{
	struct backend *b2 = NULL;
	char err[512] = "";
	int r = backend_iommufd_new(&t->cfg, &b2, err, sizeof(err));

	report(r == -EBUSY && strstr(err, "is in use by another process (another svmd?)"),
	       "backend-second-refused", "%s: %s", ename(r), err);
	backend_free(b2);
}

static void map_checks(struct run *t)
{
	struct bind_args msi = map_args(0xfee00000ull, MEMFD_SIZE), ok = map_args(IOVA_BASE, 4096);
	char w1[512] = "";
	int r1 = t->b->ops->check(t->b, t->edu[0], &msi, w1, sizeof(w1));
	int r2 = t->b->ops->check(t->b, t->edu[0], &ok, t->why, sizeof(t->why));

	report(r1 == -EINVAL && strstr(w1, "not within the IOVAs") && r2 == 0, "backend-map-checks",
	       "the MSI window: %s (%s); a page at %#llx: %s", ename(r1), w1, IOVA_BASE, ename(r2));
}

/* Client A: a memfd mapped, the device opened, a DMA through the fd it got. */
static bool open_dma(struct run *t, long *pin0, long *lck0)
{
	struct bind_args m = map_args(IOVA_BASE, MEMFD_SIZE);
	int r, rd = -1;

	*pin0 = status_kb("VmPin:");
	*lck0 = status_kb("VmLck:");
	r = t->b->ops->space_new(t->b, &t->a, t->why, sizeof(t->why));
	if (r == 0)
		r = mem_new(&t->ma, MEMFD_SIZE, 0x5a);
	if (r == 0)
		r = t->b->ops->map(t->b, t->a, t->edu[0], t->ma.fd, &m, t->why, sizeof(t->why));
	if (r == 0)
		r = t->b->ops->open_device(t->b, t->a, t->edu[0], &t->fa, t->why, sizeof(t->why));
	bool ok = r == 0 && dma_lands(t->fa, &t->ma, &rd);
	report(ok, "backend-open-dma",
	       "space, map of %u KiB at %#llx, open-device: %s %s; edu DMA through the fd: %s, "
	       "copy %s",
	       MEMFD_SIZE / 1024, IOVA_BASE, ename(r), r ? t->why : "", ename(rd),
	       ok ? "landed" : "missing");
	return ok;
}

/* Client B, the other edu, the same IOVAs in its own space: it sees its own memory only. */
static void isolated(struct run *t)
{
	struct bind_args m = map_args(IOVA_BASE, MEMFD_SIZE);
	int r, rd = -1;

	r = t->b->ops->space_new(t->b, &t->bs, t->why, sizeof(t->why));
	if (r == 0)
		r = mem_new(&t->mb, MEMFD_SIZE, 0xa5);
	if (r == 0)
		r = t->b->ops->map(t->b, t->bs, t->edu[1], t->mb.fd, &m, t->why, sizeof(t->why));
	if (r == 0)
		r = t->b->ops->open_device(t->b, t->bs, t->edu[1], &t->fb, t->why, sizeof(t->why));
	bool ok = r == 0 && dma_lands(t->fb, &t->mb, &rd) && t->ma.p[0] != t->mb.p[0];
	report(ok, "backend-isolated-spaces",
	       "client B's edu1 at the same IOVA: %s %s, DMA %s, its own bytes (%#x, A's %#x)",
	       ename(r), r ? t->why : "", ename(rd), t->mb.p[COPY_OFFSET], t->ma.p[COPY_OFFSET]);
}

static void pins(long pin0, long lck0)
{
	long pin = status_kb("VmPin:") - pin0, lck = status_kb("VmLck:") - lck0;

	report(pin == 2 * MEMFD_SIZE / 1024 && lck == pin, "backend-pins-charged",
	       "two clients' %u KiB maps, attached: VmPin +%ld kB, VmLck +%ld kB of this process",
	       MEMFD_SIZE / 1024, pin, lck);
}

static void close_blocks(struct run *t)
{
	int rd = -1;

	t->b->ops->close_device(t->b, t->a, t->edu[0]);
	bool landed = dma_lands(t->fa, &t->ma, &rd);
	report(rd == 0 && !landed, "backend-close-blocks-dma",
	       "after close_device, client A's fd (still open) DMAs: %s, copy %s", ename(rd),
	       landed ? "landed" : "blocked");
}

static void previous_holder(struct run *t)
{
	int fd = -1,
	    r = t->b->ops->open_device(t->b, t->bs, t->edu[0], &fd, t->why, sizeof(t->why));
	char first[512];

	snprintf(first, sizeof(first), "%s", t->why);
	report(r == -EBUSY && strstr(first, "still open in the previous holder's process"),
	       "backend-previous-holder",
	       "client B opens edu0 while client A keeps its fd: %s (%s)", ename(r), first);
	if (fd >= 0)
		close(fd);
}

/* Client A attaches its fd again (IOAS 1 of its space): its own memory, until the space ends
 * and svmd unmaps everything. */
static void reattach(struct run *t)
{
	struct svmd_vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = 1};
	int ra = ioctl(t->fa, SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0 ? -errno : 0, r1, r2;
	bool own = dma_lands(t->fa, &t->ma, &r1);

	t->b->ops->space_free(t->b, t->a);
	t->a = NULL;
	bool after = dma_lands(t->fa, &t->ma, &r2);
	report(ra == 0 && own && r2 == 0 && !after, "backend-reattach-own-memory",
	       "client A attaches its fd to its IOAS again: %s, DMA %s (its own memory); after "
	       "its space ends: copy %s",
	       ename(ra), own ? "landed" : "missing", after ? "landed" : "blocked");
}

static void space_end(struct run *t, long pin0)
{
	int r;

	close(t->fa);
	t->fa = -1;
	long pin = status_kb("VmPin:") - pin0;
	r = t->b->ops->open_device(t->b, t->bs, t->edu[0], &t->fa, t->why, sizeof(t->why));
	report(r == 0 && pin == MEMFD_SIZE / 1024, "backend-space-end",
	       "client A's space ended, its fd closed: VmPin +%ld kB (client B's only); client B "
	       "opens edu0: %s %s",
	       pin, ename(r), r ? t->why : "");
	t->b->ops->close_device(t->b, t->bs, t->edu[0]);
	close(t->fa);
	t->fa = -1;
}

/* A backend started with RLIMIT_MEMLOCK at 64 KiB (svmd reads it at start-up): a 128 KiB map
 * before the attach is taken (nothing is pinned yet); the open-device that pins it is refused,
 * naming the limit. */
static void rlimit(struct run *t)
{
	struct rlimit old, rl = {.rlim_cur = 64 * 1024};
	struct bind_args m = map_args(IOVA_BASE, 0x20000);
	struct backend_space *c = NULL;
	struct backend *b = NULL;
	struct mem mc;
	char err[512] = "", w1[512] = "";
	int fd = -1, r0, r1 = -1, r2 = -1;

	getrlimit(RLIMIT_MEMLOCK, &old);
	rl.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_MEMLOCK, &rl);
	r0 = backend_iommufd_new(&t->cfg, &b, err, sizeof(err));
	if (r0 == 0)
		r1 = b->ops->space_new(b, &c, w1, sizeof(w1));
	if (r1 == 0)
		r1 = mem_new(&mc, 0x20000, 1);
	if (r1 == 0)
		r1 = b->ops->map(b, c, &b->devices[0], mc.fd, &m, w1, sizeof(w1));
	if (r1 == 0)
		r2 = b->ops->open_device(b, c, &b->devices[0], &fd, t->why, sizeof(t->why));
	report(r0 == 0 && r1 == 0 && r2 == -ENOMEM && strstr(t->why, "RLIMIT_MEMLOCK 64 KiB"),
	       "backend-rlimit",
	       "RLIMIT_MEMLOCK 64 KiB: start %s%s; a 128 KiB map before the attach %s; "
	       "open-device %s (%s)",
	       ename(r0), err, ename(r1), ename(r2), t->why);
	if (fd >= 0)
		close(fd);
	if (b)
		b->ops->space_free(b, c);
	backend_free(b);
	setrlimit(RLIMIT_MEMLOCK, &old);
}

static void released(struct run *t)
{
	struct backend *b2 = NULL;
	char err[512] = "";
	int r;

	t->b->ops->close_device(t->b, t->bs, t->edu[1]);
	close(t->fb);
	t->b->ops->space_free(t->b, t->bs);
	t->bs = NULL;
	t->b = backend_free(t->b);
	r = backend_iommufd_new(&t->cfg, &b2, err, sizeof(err));
	report(r == 0, "backend-released",
	       "every space ended, the backend freed: another one starts: %s%s", ename(r), err);
	backend_free(b2);
}

int main(int argc, char **argv)
{
	struct run t = {.fa = -1, .fb = -1};
	long pin0 = 0, lck0 = 0;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t c = 0; c < N_CHECKS; c++)
			printf("%s\n", checks[c]);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF0 BDF1 | --list\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_NOTICE);
	t.devs[0] = argv[1];
	t.devs[1] = argv[2];
	t.cfg = (struct backend_config){.name = "iommufd", .devices = t.devs, .n_devices = 2};
	if (start(&t)) {
		second_refused(&t);
		map_checks(&t);
		if (open_dma(&t, &pin0, &lck0)) {
			isolated(&t);
			pins(pin0, lck0);
			close_blocks(&t);
			previous_holder(&t);
			reattach(&t);
			space_end(&t, pin0);
			released(&t);
			rlimit(&t);
		}
	}
	for (size_t c = 0; c < N_CHECKS; c++)
		if (!reported[c])
			report(false, checks[c], "not run: an earlier step failed");
	return n_failed ? 1 : 0;
}
