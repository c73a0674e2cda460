/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bind-pasid-table on an Arm SMMUv3 through iommufd: the seed's BIND_PASIDTBL as mainline has
 * it. The guest (a VMM's, or any client's) keeps a Context Descriptor table and its stage-1
 * page tables in memory it mapped into its own IOAS (svmd's map); svmd builds the Stream Table
 * Entry that points the SMMU at that table and nests it on the IOAS:
 *
 *   IOMMU_HWPT_ALLOC(NEST_PARENT, pt = the client's IOAS)       stage 2: what the client mapped
 *   IOMMU_VIOMMU_ALLOC(ARM_SMMUV3, hwpt = that parent)
 *   IOMMU_VDEVICE_ALLOC(virt_id = the guest's virtual StreamID)  needed by a translate vSTE
 *   IOMMU_VEVENTQ_ALLOC(ARM_SMMUV3)                              the device's faults, vSID'd
 *   IOMMU_HWPT_ALLOC(DATA_ARM_SMMUV3, pt = the vIOMMU, vSTE)     stage 1: the guest's CD table
 *   VFIO_DEVICE_ATTACH_IOMMUFD_PT(nested HWPT)                   replaces the IOAS attach
 *
 * The vSTE is svmd's, never the client's bytes: V, Config (stage-1 translate), S1Fmt,
 * S1ContextPtr and S1CDMax, which are all the kernel accepts in word 0 (anything else is EIO),
 * and nothing in word 1 (S1DSS 0: with S1CDMax 0, DMA without a PASID uses CD 0). Unbind
 * attaches the device to the IOAS again (stage 2 only) and destroys the objects, newest first.
 *
 * Events: the vEVENTQ's fd goes to the binding's owner (the bind reply carries it) instead
 * of svmd relaying its records: it yields only events of this vIOMMU, whose only vDEVICE is
 * this device, with the StreamID already replaced by the guest's vSID, so there is nothing
 * for svmd to filter or translate; the fd can only be read and polled; and a VMM injects the
 * records into its guest's event queue with no round trip through svmd. svmd keeps its own
 * copy only to destroy the queue at unbind.
 *
 * Start-up probes each SMMUv3 device once (smmuv3_probe): Linux refuses a vIOMMU when the
 * SMMU can neither force write-back on stage 2 (S2FWB) nor sits behind a root complex that
 * IORT marks cache-coherent (CANWBS), since VFIO does no cache maintenance; QEMU's emulated
 * SMMUv3 has neither. Such devices list pasid-table as unsupported, with that reason.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "iommufd-abi.h"
#include "iommufd-smmuv3.h"
#include "log.h"
#include "util.h"
#include "vfio-abi.h"

/* STE word 0 (SMMUv3 architecture, 5.2). */
#define STE0_V             (1ull << 0)
#define STE0_CONFIG_SHIFT  1
#define STE0_CONFIG_S1     5ull /* 0b101: stage 1 translate (stage 2 is the parent's) */
#define STE0_S1FMT_SHIFT   4
#define STE0_S1CTXPTR_MASK 0x000fffffffffffc0ull /* bits 51:6 */
#define STE0_S1CDMAX_SHIFT 59
#define CD_SIZE            64u
#define CD_L1_DESC_SIZE    8u
#define S1CDMAX_MAX        20u /* SSIDs are at most 20 bits */
#define VEVENTQ_DEPTH      64u

_Static_assert((STE0_S1CTXPTR_MASK >> 6) == (1ull << 46) - 1, "S1ContextPtr is bits 51:6");

struct smmuv3_nest {
	uint32_t parent, viommu, vdevice, veventq, nested; /* 0 once destroyed */
	int event_fd;                                      /* svmd's copy */
	bool detached; /* unbound: the device is on its IOAS again, some objects remain */
};

static int xioctl(int fd, unsigned long request, void *arg)
{
	int r;

	do
		r = ioctl(fd, request, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static const char *ename(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "an unknown errno";
}

static int destroy(int iommufd, uint32_t id)
{
	struct svmd_iommu_destroy d = {.size = sizeof(d), .id = id};

	return id ? xioctl(iommufd, SVMD_IOMMU_DESTROY, &d) : 0;
}

static int hwpt_alloc(int iommufd, uint32_t dev_id, uint32_t pt, uint32_t flags, uint32_t type,
		      const void *data, uint32_t len, uint32_t *ret)
{
	struct svmd_iommu_hwpt_alloc h = {
		.size = sizeof(h),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt,
		.data_type = type,
		.data_len = len,
		.data_uptr = (uintptr_t)data,
	};
	int r = xioctl(iommufd, SVMD_IOMMU_HWPT_ALLOC, &h);

	if (r >= 0)
		*ret = h.out_hwpt_id;
	return r;
}

static int viommu_alloc(int iommufd, uint32_t dev_id, uint32_t hwpt, uint32_t *ret)
{
	struct svmd_iommu_viommu_alloc v = {
		.size = sizeof(v),
		.type = SVMD_IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
		.dev_id = dev_id,
		.hwpt_id = hwpt,
	};
	int r = xioctl(iommufd, SVMD_IOMMU_VIOMMU_ALLOC, &v);

	if (r >= 0)
		*ret = v.out_viommu_id;
	return r;
}

/* Why the kernel refused a vIOMMU: EOPNOTSUPP is the cache-coherency rule (or no nesting). */
static int viommu_refusal(int r, const char *name, char *why, size_t whylen)
{
	if (r == -EOPNOTSUPP)
		return fail(why, whylen, -EOPNOTSUPP,
			    "the kernel refuses a vIOMMU on the SMMUv3 of %s (IOMMU_VIOMMU_ALLOC: "
			    "EOPNOTSUPP): the SMMU has neither S2FWB nor a CANWBS root complex "
			    "(IORT), so a guest's stage 1 could make DMA bypass the cache",
			    name);
	return fail(why, whylen, r, "IOMMU_VIOMMU_ALLOC(ARM_SMMUV3) for %s: %s (%s)", name,
		    strerror(-r), ename(-r));
}

int smmuv3_probe(int iommufd, uint32_t dev_id, const char *name, char *why, size_t whylen)
{
	struct svmd_iommu_ioas_alloc a = {.size = sizeof(a)};
	uint32_t parent = 0, viommu = 0;
	int r;

	r = xioctl(iommufd, SVMD_IOMMU_IOAS_ALLOC, &a);
	if (r < 0)
		return fail(why, whylen, r, "IOMMU_IOAS_ALLOC to probe %s: %s", name, strerror(-r));
	r = hwpt_alloc(iommufd, dev_id, a.out_ioas_id, SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT,
		       SVMD_IOMMU_HWPT_DATA_NONE, NULL, 0, &parent);
	if (r < 0)
		fail(why, whylen, r,
		     "the SMMUv3 of %s cannot nest (IOMMU_HWPT_ALLOC NEST_PARENT: %s): no guest "
		     "table can be bound on it",
		     name, ename(-r));
	else if ((r = viommu_alloc(iommufd, dev_id, parent, &viommu)) < 0)
		viommu_refusal(r, name, why, whylen);
	destroy(iommufd, viommu);
	destroy(iommufd, parent);
	destroy(iommufd, a.out_ioas_id);
	return r < 0 ? r : 0;
}

/* Bytes of the table S1Fmt and S1CDMax describe: linear, or the L1 table of a 2-level one
 * (4 KiB leaves of 64 CDs, or 64 KiB leaves of 1024). */
static uint64_t table_bytes(uint32_t fmt, uint32_t cdmax)
{
	uint32_t split = fmt == SVMD_SMMU_S1FMT_2LVL_4K ? 6 : 10;

	if (fmt == SVMD_SMMU_S1FMT_LINEAR)
		return (uint64_t)CD_SIZE << cdmax;
	return (uint64_t)CD_L1_DESC_SIZE << (cdmax > split ? cdmax - split : 0);
}

int smmuv3_table_check(const struct bind_args *a, const char *name, uint32_t pasid_bits, char *why,
		       size_t whylen)
{
	const uint64_t ptr = a->table.ptr, size = a->table.size;

	if (a->table.model != SVMD_MODEL_SMMU)
		return fail(why, whylen, -EINVAL,
			    "%s sits behind an SMMUv3: the table's model must be smmu (2), not "
			    "%" PRIu32,
			    name, a->table.model);
	if (!a->table.vsid_valid)
		return fail(why, whylen, -EINVAL,
			    "a PASID table on an SMMUv3 through iommufd needs the guest's virtual "
			    "StreamID, S1Fmt and S1CDMax (the request's 48-byte form; "
			    "svm_bind_smmu_cd_table())");
	if (a->table.s1fmt > SVMD_SMMU_S1FMT_2LVL_64K)
		return fail(why, whylen, -EINVAL, "S1Fmt %u is none of 0 (linear), 1, 2 (2-level)",
			    a->table.s1fmt);
	if (a->table.s1cdmax > S1CDMAX_MAX)
		return fail(why, whylen, -EINVAL, "S1CDMax %u is above %u (20-bit SubstreamIDs)",
			    a->table.s1cdmax, S1CDMAX_MAX);
	if (a->table.s1cdmax > pasid_bits)
		return fail(why, whylen, -EINVAL,
			    "S1CDMax %u asks for %u CDs, but %s has %u PASID bits (without a PASID "
			    "capability only CD 0 is reachable: S1CDMax must be 0)",
			    a->table.s1cdmax, 1u << a->table.s1cdmax, name, pasid_bits);
	if (a->table.s1fmt != SVMD_SMMU_S1FMT_LINEAR && a->table.s1cdmax == 0)
		return fail(why, whylen, -EINVAL, "a 2-level CD table needs S1CDMax above 0");
	if (size != table_bytes(a->table.s1fmt, a->table.s1cdmax))
		return fail(why, whylen, -EINVAL,
			    "size %" PRIu64 " is not the %" PRIu64 " bytes S1Fmt %u and S1CDMax %u "
			    "make",
			    size, table_bytes(a->table.s1fmt, a->table.s1cdmax), a->table.s1fmt,
			    a->table.s1cdmax);
	if (ptr & ~STE0_S1CTXPTR_MASK)
		return fail(why, whylen, -EINVAL,
			    "the CD table address %#" PRIx64 " is not 64-byte aligned below 2^52 "
			    "(S1ContextPtr, STE bits 51:6)",
			    ptr);
	if (((ptr + size - 1) & ~STE0_S1CTXPTR_MASK & ~0x3full) != 0)
		return fail(why, whylen, -EINVAL,
			    "the CD table [%#" PRIx64 ", +%" PRIu64 ") ends "
			    "above 2^52",
			    ptr, size);
	return 0;
}

uint64_t smmuv3_vste0(const struct bind_args *a)
{
	return STE0_V | (STE0_CONFIG_S1 << STE0_CONFIG_SHIFT) |
	       ((uint64_t)a->table.s1fmt << STE0_S1FMT_SHIFT) |
	       (a->table.ptr & STE0_S1CTXPTR_MASK) |
	       ((uint64_t)a->table.s1cdmax << STE0_S1CDMAX_SHIFT);
}

/* Destroys what of n is left, newest first: true when nothing is. The vEVENTQ lives while an
 * fd on it is open (EBUSY), and with it the vIOMMU and the parent: the owner's copy keeps
 * them until it is closed. Other errors are logged and the object forgotten (the iommufd's
 * close frees it). */
static bool nest_destroy(int iommufd, struct smmuv3_nest *n, const char *name)
{
	uint32_t *ids[] = {&n->nested, &n->veventq, &n->vdevice, &n->viommu, &n->parent};
	bool left = false;
	int r;

	n->event_fd = safe_close(n->event_fd);
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		r = destroy(iommufd, *ids[i]);
		if (r == -EBUSY) {
			left = true;
			continue;
		}
		if (r < 0)
			log_warning_errno(r,
					  "%s: IOMMU_DESTROY of object %" PRIu32 " of its PASID "
					  "table: %m",
					  name, *ids[i]);
		*ids[i] = 0;
	}
	return !left;
}

/* The objects a nested vSTE hangs off: the NEST_PARENT HWPT on ioas, the vIOMMU, the vDEVICE
 * (the guest's vSID) and the vEVENTQ, into n (what it made is there on failure too). */
static int nest_parent_objects(int iommufd, uint32_t dev_id, uint32_t ioas,
			       const struct bind_args *a, struct smmuv3_nest *n, const char *name,
			       char *why, size_t whylen)
{
	int r;

	r = hwpt_alloc(iommufd, dev_id, ioas, SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT,
		       SVMD_IOMMU_HWPT_DATA_NONE, NULL, 0, &n->parent);
	if (r < 0)
		return fail(why, whylen, r,
			    "IOMMU_HWPT_ALLOC(NEST_PARENT) on the IOAS of %s: %s (%s)", name,
			    strerror(-r), ename(-r));
	r = viommu_alloc(iommufd, dev_id, n->parent, &n->viommu);
	if (r < 0)
		return viommu_refusal(r, name, why, whylen);
	struct svmd_iommu_vdevice_alloc vd = {.size = sizeof(vd),
					      .viommu_id = n->viommu,
					      .dev_id = dev_id,
					      .virt_id = a->table.vsid};
	r = xioctl(iommufd, SVMD_IOMMU_VDEVICE_ALLOC, &vd);
	if (r < 0)
		return fail(why, whylen, r,
			    "IOMMU_VDEVICE_ALLOC(vSID %#" PRIx32 ") for %s: %s (%s)", a->table.vsid,
			    name, strerror(-r), ename(-r));
	n->vdevice = vd.out_vdevice_id;
	struct svmd_iommu_veventq_alloc q = {
		.size = sizeof(q),
		.viommu_id = n->viommu,
		.type = SVMD_IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
		.veventq_depth = VEVENTQ_DEPTH,
	};
	r = xioctl(iommufd, SVMD_IOMMU_VEVENTQ_ALLOC, &q);
	if (r < 0)
		return fail(why, whylen, r, "IOMMU_VEVENTQ_ALLOC(ARM_SMMUV3) for %s: %s (%s)", name,
			    strerror(-r), ename(-r));
	n->veventq = q.out_veventq_id;
	n->event_fd = (int)q.out_veventq_fd;
	return 0;
}

int smmuv3_bind(int iommufd, int dev_fd, uint32_t dev_id, uint32_t ioas, const struct bind_args *a,
		const char *name, struct smmuv3_nest **ret, int *ret_event_fd, char *why,
		size_t whylen)
{
	struct svmd_iommu_hwpt_arm_smmuv3 ste = {.ste = {smmuv3_vste0(a), 0}};
	struct smmuv3_nest *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return fail(why, whylen, -ENOMEM, "out of memory");
	n->event_fd = -1;
	r = nest_parent_objects(iommufd, dev_id, ioas, a, n, name, why, whylen);
	if (r == 0) {
		r = hwpt_alloc(iommufd, dev_id, n->viommu, 0, SVMD_IOMMU_HWPT_DATA_ARM_SMMUV3, &ste,
			       sizeof(ste), &n->nested);
		if (r < 0)
			fail(why, whylen, r,
			     "IOMMU_HWPT_ALLOC(ARM_SMMUV3) of the vSTE %#" PRIx64
			     " for %s: %s (%s)",
			     ste.ste[0], name, strerror(-r), ename(-r));
	}
	if (r == 0) {
		struct svmd_vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at),
								.pt_id = n->nested};
		r = xioctl(dev_fd, SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
		if (r < 0)
			fail(why, whylen, r, "attaching %s to its nested HWPT: %s (%s)", name,
			     strerror(-r), ename(-r));
	}
	if (r < 0) {
		/* Nothing was attached and svmd holds the only vEVENTQ fd: all of it goes. */
		nest_destroy(iommufd, n, name);
		free(n);
		return r;
	}
	int copy = fcntl(n->event_fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0) {
		r = -errno;
		smmuv3_forget(smmuv3_unbind(iommufd, dev_fd, ioas, n, name));
		return fail(why, whylen, r, "cannot duplicate the vEVENTQ fd: %s", strerror(-r));
	}
	*ret_event_fd = copy;
	*ret = n;
	return 0;
}

struct smmuv3_nest *smmuv3_unbind(int iommufd, int dev_fd, uint32_t ioas, struct smmuv3_nest *n,
				  const char *name)
{
	struct svmd_vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = ioas};
	int r;

	if (!n)
		return NULL;
	if (!n->detached && dev_fd >= 0 &&
	    (r = xioctl(dev_fd, SVMD_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) < 0)
		log_warning_errno(r, "%s: attaching it to its IOAS again (stage 2 only): %m", name);
	n->detached = true;
	if (nest_destroy(iommufd, n, name)) {
		free(n);
		return NULL;
	}
	log_debug("%s: the owner of its last PASID table still has its vEVENTQ fd open: its "
		  "vIOMMU goes once that is closed",
		  name);
	return n;
}

void smmuv3_forget(struct smmuv3_nest *n)
{
	if (n)
		safe_close(n->event_fd);
	free(n);
}

bool smmuv3_unbound(const struct smmuv3_nest *n)
{
	return n && n->detached;
}

/* ---- Invalidation through the vIOMMU ---- */

/*
 * The SMMUv3 commands a vIOMMU takes from userspace (arm-smmu-v3-iommufd.c; anything else is
 * EIO) and, per the architecture's layout (4.3, 4.4, 4.5, 4.6), the bits each may set besides
 * its opcode: the kernel checks the opcode and, for the commands that name a StreamID, that
 * the vSID is a vDEVICE of this vIOMMU, puts its own VMID into the TLBIs, and sends the rest
 * to the host's SMMU as it came. svmd passes nothing the architecture leaves RES0 (a non-zero
 * one is CONSTRAINED UNPREDICTABLE, or CERROR_ILL on the host's command queue).
 */
#define CMD_OP_MASK    0xffull
#define CMD_SSID       0x00000000fffff000ull /* word 0, 31:12 (CFGI_CD, ATC_INV) */
#define CMD_SID        0xffffffff00000000ull /* word 0, 63:32 */
#define CMD_SID_SHIFT  32
#define CMD_SSID_SHIFT 12
#define CMD_ATC_SSV    (1ull << 11)
#define CMD_ATC_G      (1ull << 9)
#define CMD_TLBI_NUM   0x000000000001f000ull /* 16:12 */
#define CMD_TLBI_SCALE 0x0000000001f00000ull /* 24:20 */
#define CMD_TLBI_VMID  0x0000ffff00000000ull /* 47:32, the kernel's to fill */
#define CMD_TLBI_ASID  0xffff000000000000ull /* 63:48 */
#define CMD_TLBI1_LEAF (1ull << 0)
#define CMD_TLBI1_TTL  0x0000000000000300ull /* 9:8 */
#define CMD_TLBI1_TG   0x0000000000000c00ull /* 11:10 */
#define CMD_ADDR       0xfffffffffffff000ull /* word 1, 63:12 */
#define CMD_ATC1_SIZE  0x000000000000003full /* 5:0 */

struct cmd_layout {
	uint8_t op;
	const char *name;
	uint64_t w0, w1; /* the bits besides the opcode it may set */
	bool sid;        /* names a StreamID (word 0, 63:32) */
};

static const struct cmd_layout cmd_layouts[] = {
	{0x05, "CMD_CFGI_CD", CMD_SSID | CMD_SID, CMD_TLBI1_LEAF, true},
	{0x06, "CMD_CFGI_CD_ALL", CMD_SID, 0, true},
	{0x10, "CMD_TLBI_NH_ALL", CMD_TLBI_VMID, 0, false},
	{0x11, "CMD_TLBI_NH_ASID", CMD_TLBI_VMID | CMD_TLBI_ASID, 0, false},
	{0x12, "CMD_TLBI_NH_VA", CMD_TLBI_NUM | CMD_TLBI_SCALE | CMD_TLBI_VMID | CMD_TLBI_ASID,
	 CMD_TLBI1_LEAF | CMD_TLBI1_TTL | CMD_TLBI1_TG | CMD_ADDR, false},
	{0x13, "CMD_TLBI_NH_VAA", CMD_TLBI_NUM | CMD_TLBI_SCALE | CMD_TLBI_VMID,
	 CMD_TLBI1_LEAF | CMD_TLBI1_TTL | CMD_TLBI1_TG | CMD_ADDR, false},
	{0x30, "CMD_TLBI_NSNH_ALL", 0, 0, false},
	{0x40, "CMD_ATC_INV", CMD_ATC_SSV | CMD_ATC_G | CMD_SSID | CMD_SID,
	 CMD_ATC1_SIZE | CMD_ADDR, true},
};

int smmuv3_cmd_check(const struct bind_args *a, const struct svmd_invalidate_entry *e, uint32_t i,
		     char *why, size_t whylen)
{
	const uint64_t w0 = e->w[0], w1 = e->w[1];
	const uint8_t op = (uint8_t)(w0 & CMD_OP_MASK);
	const struct cmd_layout *l = NULL;

	for (size_t k = 0; k < ELEMENTSOF(cmd_layouts); k++)
		if (cmd_layouts[k].op == op)
			l = &cmd_layouts[k];
	if (!l)
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": SMMUv3 command opcode %#x is none a vIOMMU takes: "
			    "CMD_CFGI_CD (0x05), CMD_CFGI_CD_ALL (0x06), CMD_TLBI_NH_ALL (0x10), "
			    "_NH_ASID (0x11), _NH_VA (0x12), _NH_VAA (0x13), CMD_TLBI_NSNH_ALL "
			    "(0x30), CMD_ATC_INV (0x40)",
			    i, op);
	if (e->w[2])
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": word 2 is %#" PRIx64 ": an SMMUv3 command is "
			    "words 0 and 1 only (word 2 must be 0)",
			    i, e->w[2]);
	const uint64_t bad0 = w0 & ~CMD_OP_MASK & ~l->w0, bad1 = w1 & ~l->w1;
	if (bad0 || bad1)
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": %s sets reserved bits (word 0 %#" PRIx64
			    ", word 1 %#" PRIx64 "): they must be 0",
			    i, l->name, bad0, bad1);
	if (l->sid && (uint32_t)(w0 >> CMD_SID_SHIFT) != a->table.vsid)
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": %s names StreamID %#" PRIx32 ", but this PASID "
			    "table's device is vSID %#" PRIx32 " (the only one it may name)",
			    i, l->name, (uint32_t)(w0 >> CMD_SID_SHIFT), a->table.vsid);
	uint32_t ssid = (uint32_t)((w0 & CMD_SSID) >> CMD_SSID_SHIFT);
	bool has_ssid = op == 0x05 || (op == 0x40 && (w0 & CMD_ATC_SSV));
	if (has_ssid && ssid >> a->table.s1cdmax)
		return fail(why, whylen, -EINVAL,
			    "entry %" PRIu32 ": %s names SubstreamID %" PRIu32
			    ", past the %u CDs of "
			    "this table (S1CDMax %u)",
			    i, l->name, ssid, 1u << a->table.s1cdmax, a->table.s1cdmax);
	return 0;
}

int smmuv3_invalidate(int iommufd, const struct smmuv3_nest *n, const struct bind_args *a,
		      uint32_t type, const struct svmd_invalidate_entry *e, uint32_t count,
		      uint32_t *ret_done, const char *name, char *why, size_t whylen)
{
	struct svmd_iommu_viommu_arm_smmuv3_invalidate cmds[SVMD_INVALIDATE_ENTRIES_MAX] = {0};
	struct svmd_iommu_hwpt_invalidate req = {
		.size = sizeof(req),
		.data_uptr = (uintptr_t)cmds,
		.data_type = SVMD_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
		.entry_len = sizeof(cmds[0]),
		.entry_num = count,
	};
	int r;

	*ret_done = 0;
	if (type != SVMD_INVALIDATE_SMMUV3)
		return fail(why, whylen, -EOPNOTSUPP,
			    "invalidation type %" PRIu32 ": the PASID table of %s is an SMMUv3's, "
			    "flushed with its commands (type %u)",
			    type, name, SVMD_INVALIDATE_SMMUV3);
	if (count == 0 || count > SVMD_INVALIDATE_ENTRIES_MAX)
		return fail(why, whylen, -EINVAL, "%" PRIu32 " entries: 1 to %u", count,
			    SVMD_INVALIDATE_ENTRIES_MAX);
	if (!n || n->detached || !n->viommu)
		return fail(why, whylen, -ENOENT, "%s has no PASID table bound in this space",
			    name);
	for (uint32_t i = 0; i < count; i++) {
		if ((r = smmuv3_cmd_check(a, &e[i], i, why, whylen)) < 0)
			return r;
		/* The kernel reads them little-endian. */
		cmds[i].cmd[0] = htole64(e[i].w[0]);
		cmds[i].cmd[1] = htole64(e[i].w[1]);
	}
	req.hwpt_id = n->viommu;
	r = xioctl(iommufd, SVMD_IOMMU_HWPT_INVALIDATE, &req);
	/* The kernel writes back how many it handled, on failure fewer than all. */
	*ret_done = r < 0 ? (req.entry_num < count ? req.entry_num : 0) : count;
	if (r < 0)
		return fail(
			why, whylen, r,
			"kernel refused: IOMMU_HWPT_INVALIDATE(ARM_SMMUV3) on the vIOMMU of %s: "
			"%s (%s), after %" PRIu32 " of %" PRIu32 " commands",
			name, strerror(-r), ename(-r), *ret_done, count);
	return 0;
}
