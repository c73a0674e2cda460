/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's PASID-table bind on an Arm SMMUv3, inside the arm64 guest of tests/vm/run-arm64.sh
 * (QEMU -M virt,iommu=smmuv3, QEMU's edu device on vfio-pci). This program (root) starts
 * svmd --backend=iommufd on the edu and forks a client that drops to the unprivileged user
 * svmd-vm-a. One "PASS name: detail" or "FAIL name: detail" line per check; exits 1 when any
 * failed.
 *
 *   arm64-svmd test BDF     the test kernel (tests/vm/kernel-arm64-test-only.patch): the
 *                           client builds a guest CD table and stage-1 page tables in a memfd,
 *                           maps it, binds the CD table through svmd, and edu DMAs by stage-1
 *                           virtual address; a DMA to a VA the tables leave unmapped arrives
 *                           on the binding's vEVENTQ fd with the virtual StreamID; the client
 *                           remaps a VA in its stage 1 and, after svmd's invalidate (its
 *                           SMMUv3 commands through the vIOMMU), edu's next DMA goes to the new
 *                           page; commands svmd does not pass, and another user's invalidate,
 *                           are refused; policy rows for pasid-table and invalidate; after
 *                           unbind the device is on stage 2 only again
 *   arm64-svmd stock BDF    the stock kernel: bind-pasid-table is NotSupported, with the reason
 *   arm64-svmd --list test|stock   the names of the checks
 *
 * Checked by what edu moved and what the kernel's vEVENTQ says, not svmd's bookkeeping.
 * Built for aarch64 against the arm64 kernel's uAPI headers and libsvmclient.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edu.h"
#include "svmclient.h"

#define SVMD        "/usr/bin/svmd"
#define WORK        "/tmp/svmd-vm"
#define POLICY_DIR  WORK "/policy.d"
#define POLICY_FILE POLICY_DIR "/50-arm64.policy"
#define SOCKET      "/run/svmd/svmd.sock"
#define USER_A      "svmd-vm-a"
#define USER_B      "svmd-vm-b" /* map and open-device only */
#define VSID        0x8u        /* the guest's virtual StreamID for the edu */

/*
 * The client's memfd, as "guest physical" memory (IOVAs of its IOAS, stage 2): page 0 the CD
 * table (one CD: the edu has no PASIDs), pages 1-3 the stage-1 tables (4 KiB granule, 39-bit
 * VA, levels 1-3), pages 4 and 5 the DMA's source and destination, page 6 where the client
 * remaps VA_DST to. Stage 1 maps VA_SRC to page 4 and VA_DST to page 5, nothing else. Every
 * address stays below 256 MiB (edu's DMA mask).
 */
#define PAGE       4096u
#define IPA_TABLES 0x800000ull /* pages 0-3 */
#define IPA_DATA   0x900000ull /* pages 4-6 */
#define PAGES      7u
#define IPA_CD     IPA_TABLES
#define IPA_L1     (IPA_TABLES + 1 * PAGE)
#define IPA_L2     (IPA_TABLES + 2 * PAGE)
#define IPA_L3     (IPA_TABLES + 3 * PAGE)
#define IPA_SRC    IPA_DATA
#define IPA_DST    (IPA_DATA + PAGE)
#define IPA_ALT    (IPA_DATA + 2 * PAGE)
#define VA_SRC     0x400000ull
#define VA_DST     0x401000ull
#define VA_HOLE    0x402000ull /* stage 1 leaves it unmapped */

/* CD word 0 (SMMUv3 architecture 5.4): T0SZ 25 (39-bit VA), TG0 4 KiB, IR0/OR0 write-back,
 * SH0 inner shareable, EPD1 (no TTB1 walks), V, IPS 40-bit, AA64, R, A, ASID 1. Word 1 is
 * TTB0, word 3 MAIR (attribute 0: normal write-back). */
#define CD0_T0SZ(n)   ((uint64_t)(n))
#define CD0_IR0_WBWA  (1ull << 8)
#define CD0_OR0_WBWA  (1ull << 10)
#define CD0_SH0_IS    (3ull << 12)
#define CD0_EPD1      (1ull << 30)
#define CD0_V         (1ull << 31)
#define CD0_IPS_40    (2ull << 32)
#define CD0_AA64      (1ull << 41)
#define CD0_R         (1ull << 45)
#define CD0_A         (1ull << 46)
#define CD0_ASID(n)   ((uint64_t)(n) << 48)
#define CD1_TTB0_MASK 0x000ffffffffffff0ull
#define MAIR_WB       0xffull
/* Stage-1 descriptors: a table, and a page (AttrIndx 0, AP EL0 read/write, inner shareable,
 * access flag set). */
#define DESC_TABLE 3ull
#define DESC_PAGE  (3ull | (1ull << 6) | (3ull << 8) | (1ull << 10))

/* An SMMUv3 event record (32 bytes): word 0 holds the type (bits 7:0) and StreamID (63:32). */
#define EVT_F_TRANSLATION 0x10u

/* SMMUv3 commands (architecture 4.3-4.5): opcode in word 0 bits 7:0; CFGI_CD's StreamID in
 * 63:32 (SubstreamID 31:12), Leaf in word 1 bit 0; TLBI_NH_VA's ASID in word 0 63:48, its
 * address in word 1 63:12, Leaf bit 0. */
#define CMD_CFGI_STE    0x03ull
#define CMD_CFGI_CD     0x05ull
#define CMD_TLBI_NH_ALL 0x10ull
#define CMD_TLBI_NH_VA  0x12ull
#define CMD_SID(s)      ((uint64_t)(s) << 32)
#define CMD_ASID(a)     ((uint64_t)(a) << 48)
#define CMD_LEAF        1ull

static const char *const checks_test[] = {
	"arm64-svmd-serves",
	"arm64-client-drops-root",
	"arm64-device-listed",
	"arm64-stage2-dma",
	"arm64-bind-refusals",
	"arm64-bind-cd-table",
	"arm64-bind-exclusive",
	"arm64-dma-by-s1-va",
	"arm64-stale-without-invalidate",
	"arm64-invalidate-tlbi-nh-va",
	"arm64-invalidate-cfgi-cd-nh-all",
	"arm64-invalidate-refusals",
	"arm64-invalidate-not-others",
	"arm64-policy-user-a",
	"arm64-policy-user-b",
	"arm64-s1-hole-event",
	"arm64-unbind-stage2-only",
	"arm64-rebind-waits-for-event-fd",
	"arm64-svmd-clean-exit",
};
static const char *const checks_stock[] = {
	"arm64-svmd-serves",         "arm64-client-drops-root", "arm64-stock-device-listed",
	"arm64-stock-not-supported", "arm64-svmd-clean-exit",
};

static int n_failed;
static const char *bdf;
static bool test_kernel;

static void report(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(bool ok, const char *name, const char *fmt, ...)
{
	char detail[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	for (char *p = detail; *p; p++)
		if (*p == '\n')
			*p = '/';
	printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name, detail);
	fflush(stdout);
	if (!ok)
		n_failed++;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

/* ---- svmd ---------------------------------------------------------------------------------- */

static pid_t svmd_pid = -1;

static bool svmd_start(char *why, size_t whylen)
{
	char dev[64];
	const char *argv[] = {SVMD,
			      "--backend=iommufd",
			      dev,
			      "--bus=none",
			      "--socket=" SOCKET,
			      "--policy-dir=" POLICY_DIR,
			      "--audit=stderr",
			      "--state-dir=",
			      NULL};
	int status;

	snprintf(dev, sizeof(dev), "--device=%s", bdf);
	unlink(SOCKET);
	fflush(stdout);
	svmd_pid = fork();
	if (svmd_pid == 0) {
		int fd = open(WORK "/svmd.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(SVMD, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		struct stat st;

		if (stat(SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
			return true;
		if (waitpid(svmd_pid, &status, WNOHANG) == svmd_pid) {
			snprintf(why, whylen, "svmd exited (status %#x); see %s/svmd.log", status,
				 WORK);
			svmd_pid = -1;
			return false;
		}
		usleep(100000);
	}
	snprintf(why, whylen, "no %s after 30 s", SOCKET);
	return false;
}

static int svmd_stop(void)
{
	int status = -1;

	if (svmd_pid <= 0)
		return -1;
	kill(svmd_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(svmd_pid, &status, WNOHANG) == svmd_pid)
			return status;
		usleep(100000);
	}
	kill(svmd_pid, SIGKILL);
	waitpid(svmd_pid, &status, 0);
	return -1;
}

static void svmd_log_tail(char *buf, size_t len)
{
	int fd = open(WORK "/svmd.log", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	off_t size;

	buf[0] = 0;
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)len - 1 ? size - (off_t)len + 1 : 0, SEEK_SET);
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
}

/* ---- The client ---------------------------------------------------------------------------- */

static bool drop_to(const char *user, char *why, size_t whylen)
{
	struct passwd *pw = getpwnam(user);
	gid_t groups[16];
	int n = 16;

	if (!pw || getgrouplist(user, pw->pw_gid, groups, &n) < 0) {
		snprintf(why, whylen, "no user %s", user);
		return false;
	}
	if (setgroups((size_t)n, groups) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(why, whylen, "dropping to %s: %s", user, strerror(errno));
		return false;
	}
	if (setuid(0) == 0 || geteuid() != pw->pw_uid) {
		snprintf(why, whylen, "still privileged");
		return false;
	}
	snprintf(why, whylen, "uid %u gid %u, %d groups", pw->pw_uid, pw->pw_gid, n);
	return true;
}

struct guest {
	struct svm_client *c;
	int memfd, devfd, event_fd;
	uint8_t *mem; /* PAGES pages */
	struct edu_regs regs;
};

static uint64_t *page64(struct guest *g, unsigned i)
{
	return (uint64_t *)(g->mem + (size_t)i * PAGE);
}

/* The guest's tables: one CD, and stage 1 mapping VA_SRC and VA_DST only. */
static void build_tables(struct guest *g)
{
	uint64_t *cd = page64(g, 0);

	memset(g->mem, 0, 4 * PAGE);
	cd[0] = CD0_T0SZ(25) | CD0_IR0_WBWA | CD0_OR0_WBWA | CD0_SH0_IS | CD0_EPD1 | CD0_V |
		CD0_IPS_40 | CD0_AA64 | CD0_R | CD0_A | CD0_ASID(1);
	cd[1] = IPA_L1 & CD1_TTB0_MASK;
	cd[3] = MAIR_WB;
	page64(g, 1)[(VA_SRC >> 30) & 511] = IPA_L2 | DESC_TABLE;
	page64(g, 2)[(VA_SRC >> 21) & 511] = IPA_L3 | DESC_TABLE;
	page64(g, 3)[(VA_SRC >> 12) & 511] = IPA_SRC | DESC_PAGE;
	page64(g, 3)[(VA_DST >> 12) & 511] = IPA_DST | DESC_PAGE;
	__sync_synchronize();
}

/* Source pattern in page 4, page 5 cleared; then edu copies src -> its buffer -> dst. */
static int copy_dma(struct guest *g, uint64_t src, uint64_t dst, uint8_t seed)
{
	uint8_t *s = g->mem + 4 * PAGE, *d = g->mem + 5 * PAGE;
	int r;

	for (unsigned i = 0; i < PAGE; i++)
		s[i] = (uint8_t)(seed + i * 7);
	memset(d, 0, PAGE);
	__sync_synchronize();
	r = edu_dma_from(&g->regs, src);
	if (r == 0)
		r = edu_dma_to(&g->regs, dst);
	return r;
}

static bool copied(struct guest *g)
{
	return memcmp(g->mem + 4 * PAGE, g->mem + 5 * PAGE, EDU_XFER_SIZE) == 0;
}

static bool untouched(struct guest *g)
{
	const uint8_t *d = g->mem + 5 * PAGE;

	for (unsigned i = 0; i < PAGE; i++)
		if (d[i])
			return false;
	return true;
}

/* The client's stage 1 maps VA_DST to ipa from now on (the SMMU may still hold the old). */
static void remap_dst(struct guest *g, uint64_t ipa)
{
	page64(g, 3)[(VA_DST >> 12) & 511] = ipa | DESC_PAGE;
	__sync_synchronize();
}

/* edu copies page 4 to VA_DST, pages 5 and 6 cleared before: 5 or 6, the page the copy is in
 * (0: neither, or both), or a negative errno when the DMA failed. */
static int dma_lands(struct guest *g, uint8_t seed)
{
	uint8_t *s = g->mem + 4 * PAGE, *p5 = g->mem + 5 * PAGE, *p6 = g->mem + 6 * PAGE;
	int r;

	for (unsigned i = 0; i < PAGE; i++)
		s[i] = (uint8_t)(seed + i * 3);
	memset(p5, 0, PAGE);
	memset(p6, 0, PAGE);
	__sync_synchronize();
	r = edu_dma_from(&g->regs, VA_SRC);
	if (r == 0)
		r = edu_dma_to(&g->regs, VA_DST);
	if (r < 0)
		return r;
	bool in5 = memcmp(s, p5, EDU_XFER_SIZE) == 0, in6 = memcmp(s, p6, EDU_XFER_SIZE) == 0;
	return in5 && !in6 ? 5 : in6 && !in5 ? 6 : 0;
}

static const char *landed(int where)
{
	return where == 5   ? "page 5 (IPA 0x901000, the old mapping)"
	       : where == 6 ? "page 6 (IPA 0x902000, the new mapping)"
	       : where == 0 ? "NEITHER PAGE"
			    : strerror(-where);
}

/* Events on the vEVENTQ within timeout_ms: the first F_TRANSLATION record's StreamID and
 * address in *sid, *addr; the number of records read, or a negative errno. */
static int read_events(int fd, int timeout_ms, uint32_t *sid, uint64_t *addr, uint32_t *type)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint8_t buf[4096];
	int n = 0;

	*type = 0;
	while (poll(&p, 1, timeout_ms) == 1) {
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k <= 0)
			break;
		for (ssize_t off = 0; off + 8 + 32 <= k; off += 8 + 32) {
			uint64_t evt[4];

			memcpy(evt, buf + off + 8, sizeof(evt));
			if (n++ == 0) {
				*type = (uint32_t)(evt[0] & 0xff);
				*sid = (uint32_t)(evt[0] >> 32);
				*addr = evt[2];
			}
		}
		timeout_ms = 200;
	}
	return n;
}

static const char *reason(const struct svm_client *c)
{
	const char *r = svm_reason(c);
	return r && r[0] ? r : "no reason given";
}

/* The parent's end of the client's test: after the bind, the client sends its binding's id
 * and waits until root and user B have tried it (another user's invalidate). */
static int sync_up = -1, sync_down = -1;

static void let_others_try(uint64_t id)
{
	char c;

	if (sync_up >= 0 && write(sync_up, &id, sizeof(id)) == sizeof(id))
		(void)!read(sync_down, &c, 1);
}

/* The invalidations of the test kernel's client: remap, flush, DMA; refusals. */
static void client_invalidate(struct guest *g, uint64_t id)
{
	uint32_t done = 0;
	int r, where;

	/* Stage 1 now maps VA_DST to page 6; nobody told the SMMU. */
	remap_dst(g, IPA_ALT);
	where = dma_lands(g, 0x31);
	report(where == 5, "arm64-stale-without-invalidate",
	       "VA %#llx remapped to IPA %#llx in the guest's stage 1, no invalidate: edu's DMA "
	       "lands in %s (QEMU's SMMUv3 serves the translation it cached)",
	       VA_DST, IPA_ALT, landed(where));

	const struct svm_invalidate_entry va = {
		{CMD_TLBI_NH_VA | CMD_ASID(1), VA_DST | CMD_LEAF, 0}};
	r = svm_invalidate(g->c, id, SVM_INVALIDATE_SMMUV3, &va, 1, &done);
	where = r == 0 ? dma_lands(g, 0x32) : r;
	report(r == 0 && done == 1 && where == 6, "arm64-invalidate-tlbi-nh-va",
	       "invalidate CMD_TLBI_NH_VA (ASID 1, VA %#llx, leaf) through svmd: %s, done %u; "
	       "then edu's DMA to VA %#llx lands in %s",
	       VA_DST, r ? reason(g->c) : "ok", done, VA_DST, landed(where));

	/* Back to page 5: CD 0 of the vSID and all of the vIOMMU's stage-1 TLB, in one call. */
	remap_dst(g, IPA_DST);
	const struct svm_invalidate_entry two[] = {
		{{CMD_CFGI_CD | CMD_SID(VSID), CMD_LEAF, 0}},
		{{CMD_TLBI_NH_ALL, 0, 0}},
	};
	done = 0;
	r = svm_invalidate(g->c, id, SVM_INVALIDATE_SMMUV3, two, 2, &done);
	where = r == 0 ? dma_lands(g, 0x33) : r;
	report(r == 0 && done == 2 && where == 5, "arm64-invalidate-cfgi-cd-nh-all",
	       "VA %#llx back to IPA %#llx; invalidate CMD_CFGI_CD (vSID %#x, CD 0) and "
	       "CMD_TLBI_NH_ALL: %s, done %u; then edu's DMA lands in %s",
	       VA_DST, IPA_DST, VSID, r ? reason(g->c) : "ok", done, landed(where));

	/* What svmd does not pass to the kernel, each with its reason. */
	static const struct {
		struct svm_invalidate_entry e;
		uint32_t type;
		int want;
		const char *says;
	} bad[] = {
		{{{CMD_CFGI_STE | CMD_SID(VSID), CMD_LEAF, 0}},
		 SVM_INVALIDATE_SMMUV3,
		 -EINVAL,
		 "opcode 0x3 is none a vIOMMU takes"},
		{{{CMD_CFGI_CD | CMD_SID(VSID + 1), CMD_LEAF, 0}},
		 SVM_INVALIDATE_SMMUV3,
		 -EINVAL,
		 "names StreamID 0x9, but this PASID table's device is vSID 0x8"},
		{{{CMD_TLBI_NH_ALL | (1ull << 8), 0, 0}},
		 SVM_INVALIDATE_SMMUV3,
		 -EINVAL,
		 "sets reserved bits"},
		{{{0x1000, 1, 0}}, SVM_INVALIDATE_VTD_S1, -EOPNOTSUPP, "is an SMMUv3's"},
	};
	char refusals[2048] = "";
	bool ok = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = svm_invalidate(g->c, id, bad[i].type, &bad[i].e, 1, &done);
		ok = ok && r == bad[i].want && strstr(reason(g->c), bad[i].says);
		snprintf(refusals + strlen(refusals), sizeof(refusals) - strlen(refusals),
			 "%s[%s: %s]", i ? " " : "", strerrorname_np(-r) ?: "ok", reason(g->c));
	}
	where = dma_lands(g, 0x34);
	report(ok && where == 5, "arm64-invalidate-refusals", "%s; DMA still lands in %s", refusals,
	       landed(where));
}

/* User A's policy rows: what its rules grant, as svmd explains them. */
static void client_policy(struct guest *g)
{
	struct svm_explain_request inv = {
		.op = "invalidate", .device = bdf, .pasid = -1, .uid = -1};
	struct svm_explain_request tbl = {
		.op = "bind-pasid-table", .device = bdf, .pasid = -1, .uid = -1};
	char *t1 = NULL, *t2 = NULL;
	bool a1 = false, a2 = false;
	int r1 = svm_explain(g->c, &inv, &t1, &a1), r2 = svm_explain(g->c, &tbl, &t2, &a2);

	report(r1 == 0 && a1 && strstr(t1, "verdict: allow by " POLICY_FILE ":2") && r2 == 0 &&
		       a2 && strstr(t2, "verdict: allow by " POLICY_FILE ":1"),
	       "arm64-policy-user-a", "explain invalidate: %s; explain bind-pasid-table: %s",
	       t1 ? t1 : reason(g->c), t2 ? t2 : reason(g->c));
	free(t1);
	free(t2);
}

static bool client_setup(struct guest *g)
{
	char why[256];
	uint64_t id;
	int r;

	g->memfd = memfd_create("arm64-guest", MFD_CLOEXEC);
	if (g->memfd < 0 || ftruncate(g->memfd, PAGES * PAGE) < 0) {
		report(false, "arm64-stage2-dma", "memfd: %s", strerror(errno));
		return false;
	}
	g->mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	if (g->mem == MAP_FAILED) {
		report(false, "arm64-stage2-dma", "mmap: %s", strerror(errno));
		return false;
	}
	r = svm_map(g->c, bdf, g->memfd, 0, 4 * PAGE, IPA_TABLES, SVM_MAP_READ | SVM_MAP_WRITE,
		    &id);
	if (r == 0)
		r = svm_map(g->c, bdf, g->memfd, 4 * PAGE, 3 * PAGE, IPA_DATA,
			    SVM_MAP_READ | SVM_MAP_WRITE, &id);
	if (r == 0)
		r = svm_open_device(g->c, bdf, &g->devfd, &id);
	if (r < 0) {
		report(false, "arm64-stage2-dma", "map/open-device: %s (%s)", strerror(-r),
		       reason(g->c));
		return false;
	}
	r = edu_setup(&g->regs, g->devfd, why, sizeof(why));
	if (r < 0) {
		report(false, "arm64-stage2-dma", "%s", why);
		return false;
	}
	return true;
}

static void client_test(struct guest *g)
{
	struct svm_smmu_cd_table t = {.ptr = IPA_CD, .size = 64, .vsid = VSID};
	struct svm_device *devs = NULL;
	size_t n = 0;
	uint64_t id = 0, id2;
	uint32_t sid = 0, type = 0;
	uint64_t addr = 0;
	int r, fd2, k;
	bool ok;

	r = svm_devices(g->c, &devs, &n);
	ok = r == 0 && n == 1 && devs[0].model == SVM_MODEL_SMMU &&
	     (devs[0].kinds & SVM_KIND_BIT(SVM_KIND_PASID_TABLE));
	report(ok, "arm64-device-listed", "%zu devices; %s: model %u (SMMU is %u), kinds %#x", n,
	       n ? devs[0].name : "-", n ? devs[0].model : 0, SVM_MODEL_SMMU,
	       n ? devs[0].kinds : 0);
	free(devs);
	if (!client_setup(g))
		return;

	/* Stage 2 alone first: DMA by IOVA (guest physical). */
	r = copy_dma(g, IPA_SRC, IPA_DST, 0x11);
	report(r == 0 && copied(g), "arm64-stage2-dma",
	       "edu copied %u bytes IOVA %#llx -> %#llx through svmd's maps: %s", EDU_XFER_SIZE,
	       IPA_SRC, IPA_DST,
	       r           ? strerror(-r)
	       : copied(g) ? "equal"
			   : "DIFFERENT");

	/* What svmd refuses before the kernel sees it. */
	struct svm_smmu_cd_table bad[] = {
		{.ptr = IPA_CD, .size = 128, .vsid = VSID, .s1cdmax = 1}, /* no PASIDs on edu */
		{.ptr = IPA_CD, .size = 128, .vsid = VSID},               /* size != 64 << 0 */
		{.ptr = IPA_CD + 8, .size = 64, .vsid = VSID},            /* not 64-byte aligned */
	};
	char refusals[1024] = "";
	ok = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = svm_bind_smmu_cd_table(g->c, bdf, &bad[i], &id2, &fd2);
		ok = ok && r == -EINVAL && fd2 < 0;
		snprintf(refusals + strlen(refusals), sizeof(refusals) - strlen(refusals),
			 "%s[%s: %s]", i ? " " : "", strerrorname_np(-r) ?: "ok", reason(g->c));
		if (fd2 >= 0)
			close(fd2);
	}
	report(ok, "arm64-bind-refusals", "%s", refusals);

	build_tables(g);
	r = svm_bind_smmu_cd_table(g->c, bdf, &t, &id, &g->event_fd);
	report(r == 0 && g->event_fd >= 0, "arm64-bind-cd-table",
	       "binding %" PRIu64 ": CD table at IOVA %#llx, vSID %#x, vEVENTQ fd %d%s%s", id,
	       IPA_CD, VSID, g->event_fd, r ? ": " : "", r ? reason(g->c) : "");
	if (r < 0)
		return;
	r = svm_bind_smmu_cd_table(g->c, bdf, &t, &id2, &fd2);
	report(r == -EBUSY, "arm64-bind-exclusive", "a second CD table on %s: %s (%s)", bdf,
	       strerrorname_np(-r) ?: "bound", reason(g->c));

	r = copy_dma(g, VA_SRC, VA_DST, 0x5a);
	k = read_events(g->event_fd, 300, &sid, &addr, &type);
	report(r == 0 && copied(g) && k == 0, "arm64-dma-by-s1-va",
	       "edu copied %u bytes VA %#llx -> %#llx through the guest's CD table and stage 1, "
	       "nested on svmd's maps: %s; %d events",
	       EDU_XFER_SIZE, VA_SRC, VA_DST,
	       r           ? strerror(-r)
	       : copied(g) ? "equal"
			   : "DIFFERENT",
	       k);

	client_invalidate(g, id);
	client_policy(g);
	let_others_try(id);

	r = copy_dma(g, VA_SRC, VA_HOLE, 0x77);
	k = read_events(g->event_fd, 2000, &sid, &addr, &type);
	report(k > 0 && type == EVT_F_TRANSLATION && sid == VSID && untouched(g),
	       "arm64-s1-hole-event",
	       "a DMA to VA %#llx, which stage 1 leaves unmapped: %d events on the vEVENTQ, the "
	       "first type %#x (F_TRANSLATION is %#x), StreamID %#x (vSID %#x), address %#" PRIx64
	       "; memory %s",
	       VA_HOLE, k, type, EVT_F_TRANSLATION, sid, VSID, addr,
	       untouched(g) ? "untouched" : "WRITTEN");

	r = svm_unbind(g->c, id);
	int r1 = copy_dma(g, IPA_SRC, IPA_DST, 0x23);
	bool by_iova = r1 == 0 && copied(g);
	copy_dma(g, VA_SRC, VA_DST, 0x42);
	bool va_dropped = untouched(g);
	k = read_events(g->event_fd, 300, &sid, &addr, &type);
	report(r == 0 && by_iova && va_dropped, "arm64-unbind-stage2-only",
	       "unbind: %s; then DMA by IOVA %s, DMA by stage-1 VA %s (no stage 1); %d more events "
	       "on the old vEVENTQ fd",
	       r ? strerror(-r) : "ok", by_iova ? "copies" : "FAILS",
	       va_dropped ? "reaches nothing" : "STILL TRANSLATED", k);

	/* The old vIOMMU lives while its vEVENTQ fd is open: a new bind waits for its close. */
	char first[512];
	int r2 = svm_bind_smmu_cd_table(g->c, bdf, &t, &id2, &fd2);
	snprintf(first, sizeof(first), "%s (%s)", strerrorname_np(-r2) ?: "bound", reason(g->c));
	if (r2 == 0) {
		svm_unbind(g->c, id2);
		close(fd2);
	}
	close(g->event_fd);
	g->event_fd = -1;
	r = svm_bind_smmu_cd_table(g->c, bdf, &t, &id2, &g->event_fd);
	int r3 = r == 0 ? copy_dma(g, VA_SRC, VA_DST, 0x66) : r;
	ok = r2 == -EBUSY && r == 0 && r3 == 0 && copied(g);
	report(ok, "arm64-rebind-waits-for-event-fd",
	       "a new bind with the old vEVENTQ fd open: %s; after closing it: %s, and DMA by "
	       "stage-1 VA %s",
	       first, r ? reason(g->c) : "bound",
	       r3          ? strerror(-r3)
	       : copied(g) ? "copies"
			   : "DIFFERENT");
	/* Left bound: the session's end unbinds it. */
}

static void client_stock(struct guest *g)
{
	struct svm_smmu_cd_table t = {.ptr = IPA_CD, .size = 64, .vsid = VSID};
	struct svm_device *devs = NULL;
	size_t n = 0;
	uint64_t id;
	int r, fd = -1;
	bool ok;

	r = svm_devices(g->c, &devs, &n);
	ok = r == 0 && n == 1 && devs[0].model == SVM_MODEL_SMMU &&
	     !(devs[0].kinds & SVM_KIND_BIT(SVM_KIND_PASID_TABLE));
	report(ok, "arm64-stock-device-listed",
	       "%zu devices; %s: model %u, kinds %#x (no pasid-table)", n, n ? devs[0].name : "-",
	       n ? devs[0].model : 0, n ? devs[0].kinds : 0);
	free(devs);
	if (!client_setup(g))
		return;
	build_tables(g);
	r = svm_bind_smmu_cd_table(g->c, bdf, &t, &id, &fd);
	const char *why = reason(g->c);
	report(r == -EOPNOTSUPP && fd < 0 && strstr(why, "S2FWB") && strstr(why, "CANWBS") &&
		       strstr(why, "IOMMU_VIOMMU_ALLOC"),
	       "arm64-stock-not-supported", "%s: %s", strerrorname_np(-r) ?: "bound", why);
}

static int client_main(void)
{
	struct guest g = {.memfd = -1, .devfd = -1, .event_fd = -1};
	char why[256];
	int r;

	n_failed = 0;
	if (!drop_to(USER_A, why, sizeof(why))) {
		report(false, "arm64-client-drops-root", "%s", why);
		return 1;
	}
	report(true, "arm64-client-drops-root", "%s", why);
	r = svm_connect(SOCKET, &g.c);
	if (r < 0) {
		report(false, test_kernel ? "arm64-device-listed" : "arm64-stock-device-listed",
		       "svm_connect: %s", strerror(-r));
		return 1;
	}
	if (test_kernel)
		client_test(&g);
	else
		client_stock(&g);
	svm_disconnect(g.c);
	return n_failed ? 1 : 0;
}

/* User B (map and open-device only): A's binding is not B's to invalidate (ENOENT, as if
 * missing, before policy); B's own pasid-table bind and invalidate are denied by policy. Exits
 * 0 when B's invalidate was ENOENT. */
static int user_b_main(uint64_t id)
{
	const struct svm_invalidate_entry all = {{CMD_TLBI_NH_ALL, 0, 0}};
	struct svm_smmu_cd_table t = {.ptr = IPA_CD, .size = 64, .vsid = VSID};
	struct svm_explain_request inv = {
		.op = "invalidate", .device = bdf, .pasid = -1, .uid = -1};
	struct svm_explain_request tbl = {
		.op = "bind-pasid-table", .device = bdf, .pasid = -1, .uid = -1};
	struct svm_client *c = NULL;
	char why[256], bind_why[512] = "", *t1 = NULL, *t2 = NULL;
	bool a1 = true, a2 = true;
	uint32_t done = 99;
	uint64_t id2;
	int r, rb, fd = -1;

	if (!drop_to(USER_B, why, sizeof(why)) || svm_connect(SOCKET, &c) < 0) {
		report(false, "arm64-policy-user-b", "user B: %s", why);
		return 1;
	}
	r = svm_invalidate(c, id, SVM_INVALIDATE_SMMUV3, &all, 1, &done);
	bool enoent = r == -ENOENT && strstr(reason(c), "of yours");
	printf("user-b: invalidate of binding %" PRIu64 ": %s (%s)\n", id,
	       strerrorname_np(-r) ?: "ok", reason(c));
	int r1 = svm_explain(c, &inv, &t1, &a1), r2 = svm_explain(c, &tbl, &t2, &a2);
	rb = svm_bind_smmu_cd_table(c, bdf, &t, &id2, &fd);
	snprintf(bind_why, sizeof(bind_why), "%s", reason(c));
	report(r1 == 0 && !a1 && strstr(t1, "verdict: deny (no rule matched") && r2 == 0 && !a2 &&
		       strstr(t2, "verdict: deny (no rule matched") && rb == -EACCES && fd < 0 &&
		       strstr(bind_why, "no rule matched"),
	       "arm64-policy-user-b",
	       "explain invalidate: %s; explain bind-pasid-table: %s; its own bind-pasid-table: "
	       "%s (%s)",
	       t1 ? t1 : reason(c), t2 ? t2 : reason(c), strerrorname_np(-rb) ?: "BOUND", bind_why);
	free(t1);
	free(t2);
	svm_disconnect(c);
	return enoent ? 0 : 1;
}

/* Root's and user B's invalidate of client A's binding id: ENOENT for both (one's own only,
 * root included: "root's too"). */
static void others_try(uint64_t id)
{
	const struct svm_invalidate_entry all = {{CMD_TLBI_NH_ALL, 0, 0}};
	struct svm_client *c = NULL;
	char root_says[512] = "";
	uint32_t done = 99;
	int r = svm_connect(SOCKET, &c), status = -1;
	pid_t b;

	if (r == 0) {
		r = svm_invalidate(c, id, SVM_INVALIDATE_SMMUV3, &all, 1, &done);
		snprintf(root_says, sizeof(root_says), "%s (%s)", strerrorname_np(-r) ?: "ok",
			 reason(c));
		svm_disconnect(c);
	}
	fflush(stdout);
	b = fork();
	if (b == 0)
		_exit(user_b_main(id));
	if (b < 0 || waitpid(b, &status, 0) != b)
		status = -1;
	report(r == -ENOENT && strstr(root_says, "of yours") && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0,
	       "arm64-invalidate-not-others",
	       "root's invalidate of user A's binding %" PRIu64 ": %s; user B's: %s", id, root_says,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ENOENT" : "NOT ENOENT (above)");
}

int main(int argc, char **argv)
{
	char why[512], policy[512], tail[1024];
	int status;
	pid_t pid;

	if (argc == 3 && strcmp(argv[1], "--list") == 0) {
		bool t = strcmp(argv[2], "test") == 0;
		const char *const *c = t ? checks_test : checks_stock;
		size_t n = t ? sizeof(checks_test) / sizeof(*c) : sizeof(checks_stock) / sizeof(*c);
		for (size_t i = 0; i < n; i++)
			printf("%s\n", c[i]);
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "test") != 0 && strcmp(argv[1], "stock") != 0)) {
		fprintf(stderr, "usage: %s test|stock BDF | --list test|stock\n", argv[0]);
		return 2;
	}
	test_kernel = strcmp(argv[1], "test") == 0;
	bdf = argv[2];
	mkdir(WORK, 0755);
	mkdir(POLICY_DIR, 0755);
	/* Line numbers matter: the policy rows name them. */
	snprintf(policy, sizeof(policy),
		 "allow map,open-device,bind-pasid-table user=%s device=%s\n"
		 "allow invalidate user=%s device=%s model=smmu\n"
		 "allow map,open-device user=%s device=%s\n",
		 USER_A, bdf, USER_A, bdf, USER_B, bdf);
	write_file(POLICY_FILE, policy);
	if (!svmd_start(why, sizeof(why))) {
		svmd_log_tail(tail, sizeof(tail));
		report(false, "arm64-svmd-serves", "%s: %s", why, tail);
		return 1;
	}
	report(true, "arm64-svmd-serves", "svmd %d on %s", (int)svmd_pid, bdf);
	fflush(stdout);
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) {
		report(false, "arm64-svmd-serves", "pipe2: %s", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		sync_up = up[1];
		sync_down = down[0];
		_exit(client_main());
	}
	close(up[1]);
	close(down[0]);
	uint64_t id;
	if (read(up[0], &id, sizeof(id)) == sizeof(id)) /* 0: the client ended without a bind */
		others_try(id);
	close(down[1]); /* the client goes on */
	close(up[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		n_failed++;
	status = svmd_stop();
	svmd_log_tail(tail, sizeof(tail));
	report(status == 0 && !strstr(tail, "seccomp: refused"), "arm64-svmd-clean-exit",
	       "svmd's status %#x on SIGTERM; its log ends: %s", status, tail);
	return n_failed ? 1 : 0;
}
