/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The iommufd uAPI (/dev/iommu) that svmd's iommufd backend needs, written from the kernel's
 * documented ABI (not copied from kernel headers): Debian 12's 6.1 headers have no
 * <linux/iommufd.h>. Checked against Linux 7.3's include/uapi/linux/iommufd.h; every number,
 * size and offset is asserted below, and tests/unit/test-iommufd-abi.c compares them with the
 * system's <linux/iommufd.h> where there is one. The VFIO cdev ioctls are in vfio-abi.h.
 *
 * How the kernel reads these structs (drivers/iommu/iommufd/main.c): every ioctl is _IO(';',
 * 0x80 + n), without size or direction bits; the first u32 of the argument is its size. The
 * kernel refuses a size below the ioctl's first layout (EINVAL), zero-fills what a shorter
 * struct lacks, and accepts a longer one only if every byte past its own struct is zero (else
 * E2BIG). So svmd always passes sizeof() of the structs here, zeroed but for what it sets: an
 * older kernel takes them as long as svmd leaves the newer fields zero.
 *
 * What an old kernel answers, which is how the backend can say "too old for X":
 *   ENOTTY      the ioctl number is unknown (the "since" release below is later);
 *   E2BIG       a field the kernel does not know is non-zero (e.g. fault_id before 6.11);
 *   EOPNOTSUPP  a flag, type or data type it does not know, or the IOMMU cannot do it.
 *
 * Kernel versions are the first mainline release with the item. u64 fields are 8-byte aligned
 * even on 32-bit ABIs (the kernel's __aligned_u64); fields marked "little-endian" hold
 * hardware words in the IOMMU's byte order. "in"/"out" says who writes a field; reserved
 * fields must be zero.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef uint64_t svmd_aligned_u64 __attribute__((aligned(8)));

#define SVMD_IOMMUFD_TYPE 0x3b /* ';', shared with VFIO: iommufd's numbers start at 0x80 */
#define SVMD_IOMMUFD_BASE 0x80
/* _IO(type, nr): no direction or size bits. */
#define SVMD_IOMMUFD_IO(n) ((unsigned long)((SVMD_IOMMUFD_TYPE << 8) | (SVMD_IOMMUFD_BASE + (n))))

/*
 * Command numbers svmd does not use, listed so the gaps below are not taken for free numbers:
 * 0x83 IOAS_COPY, 0x88 VFIO_IOAS, 0x8b HWPT_SET_DIRTY_TRACKING, 0x8c HWPT_GET_DIRTY_BITMAP,
 * 0x92 IOAS_CHANGE_PROCESS, 0x94 HW_QUEUE_ALLOC (6.17), 0x95 IOAS_NOIOMMU_GET_PA (7.3).
 */

/* ---- Objects ---------------------------------------------------------------------------- */

/* IOMMU_DESTROY (6.2): frees any object by id (IOAS, HWPT, FAULT, vIOMMU, vDEVICE, vEVENTQ),
 * EBUSY while another object or an open fd still uses it: svmd tears a binding down in the
 * reverse order it built it, closing a FAULT's or vEVENTQ's fd before destroying it. */
#define SVMD_IOMMU_DESTROY SVMD_IOMMUFD_IO(0x00)
struct svmd_iommu_destroy {
	uint32_t size; /* sizeof(struct svmd_iommu_destroy) */
	uint32_t id;   /* in */
};

/* ---- IOAS: an IO address space, the stage 2 (GPA -> HPA) of a binding -------------------- */

/* IOMMU_IOAS_ALLOC (6.2): a new, empty IOAS. */
#define SVMD_IOMMU_IOAS_ALLOC SVMD_IOMMUFD_IO(0x01)
struct svmd_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;       /* 0 */
	uint32_t out_ioas_id; /* out */
};

/* One inclusive range of IOVAs. */
struct svmd_iommu_iova_range {
	svmd_aligned_u64 start;
	svmd_aligned_u64 last;
};

/* IOMMU_IOAS_ALLOW_IOVAS (6.2): pins ranges the IOAS must keep usable; an attach that would
 * narrow them fails instead, so svmd can keep a guest's address space mappable. */
#define SVMD_IOMMU_IOAS_ALLOW_IOVAS SVMD_IOMMUFD_IO(0x02)
struct svmd_iommu_ioas_allow_iovas {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas; /* in: entries at allowed_iovas (replaces the whole list) */
	uint32_t reserved;
	svmd_aligned_u64 allowed_iovas; /* in: pointer to struct svmd_iommu_iova_range[] */
};

/* IOMMU_IOAS_IOVA_RANGES (6.2): which IOVAs the devices attached now can reach; changes with
 * every attach and detach. EMSGSIZE: num_iovas says how many entries it needs. */
#define SVMD_IOMMU_IOAS_IOVA_RANGES SVMD_IOMMUFD_IO(0x04)
struct svmd_iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas; /* in: room at allowed_iovas; out: ranges there are */
	uint32_t reserved;
	svmd_aligned_u64 allowed_iovas;      /* in: pointer to struct svmd_iommu_iova_range[] */
	svmd_aligned_u64 out_iova_alignment; /* out: IOVAs and lengths must be multiples of it */
};

/* Flags of IOMMU_IOAS_MAP and IOMMU_IOAS_MAP_FILE. */
#define SVMD_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0) /* map at iova; else the kernel chooses */
#define SVMD_IOMMU_IOAS_MAP_WRITEABLE  (1u << 1) /* the device may write */
#define SVMD_IOMMU_IOAS_MAP_READABLE   (1u << 2) /* the device may read */

/* IOMMU_IOAS_MAP (6.2): maps [user_va, user_va + length) of the caller's memory, pinned. */
#define SVMD_IOMMU_IOAS_MAP SVMD_IOMMUFD_IO(0x05)
struct svmd_iommu_ioas_map {
	uint32_t size;
	uint32_t flags; /* SVMD_IOMMU_IOAS_MAP_* */
	uint32_t ioas_id;
	uint32_t reserved;
	svmd_aligned_u64 user_va; /* in */
	svmd_aligned_u64 length;  /* in */
	svmd_aligned_u64 iova;    /* in with FIXED_IOVA, else out */
};

/* IOMMU_IOAS_MAP_FILE (6.13): the same from a memfd (7.x: also some dma-bufs) at an offset,
 * without a mapping in svmd's own address space: how svmd maps memory a client hands it. */
#define SVMD_IOMMU_IOAS_MAP_FILE SVMD_IOMMUFD_IO(0x0f)
struct svmd_iommu_ioas_map_file {
	uint32_t size;
	uint32_t flags; /* SVMD_IOMMU_IOAS_MAP_* */
	uint32_t ioas_id;
	int32_t fd;             /* in: the memfd */
	svmd_aligned_u64 start; /* in: byte offset in the file */
	svmd_aligned_u64 length;
	svmd_aligned_u64 iova; /* in with FIXED_IOVA, else out */
};

/* IOMMU_IOAS_UNMAP (6.2): unmaps whole earlier maps inside [iova, iova + length); iova 0 and
 * length UINT64_MAX unmap everything. */
#define SVMD_IOMMU_IOAS_UNMAP SVMD_IOMMUFD_IO(0x06)
struct svmd_iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	svmd_aligned_u64 iova;   /* in */
	svmd_aligned_u64 length; /* in; out: the bytes unmapped */
};

/* IOMMU_OPTION (6.2): reads or sets one option. RLIMIT_MODE (of this iommufd, object_id 0;
 * setting it needs CAP_SYS_RESOURCE, else EPERM, and an iommufd with no objects yet, else
 * EBUSY): 0 charges pinned pages to the user's locked_vm, 1 to the process's (VmLck), both
 * against the pinning process's RLIMIT_MEMLOCK, and neither when it holds CAP_IPC_LOCK
 * (measured on 7.2: tests/vm/iommufd-owner.c); svmd pins for its clients, so it decides which.
 * HUGE_PAGES is per IOAS. */
#define SVMD_IOMMU_OPTION SVMD_IOMMUFD_IO(0x07)
struct svmd_iommu_option {
	uint32_t size;
	uint32_t option_id; /* SVMD_IOMMU_OPTION_* */
	uint16_t op;        /* SVMD_IOMMU_OPTION_OP_* */
	uint16_t reserved;
	uint32_t object_id;     /* 0, or the IOAS for HUGE_PAGES */
	svmd_aligned_u64 val64; /* in for SET, out for GET */
};
#define SVMD_IOMMU_OPTION_RLIMIT_MODE 0u
#define SVMD_IOMMU_OPTION_HUGE_PAGES  1u
#define SVMD_IOMMU_OPTION_OP_SET      0u
#define SVMD_IOMMU_OPTION_OP_GET      1u

/* ---- The IOMMU behind a bound device --------------------------------------------------- */

/* IOMMU_GET_HW_INFO (6.6): what the IOMMU behind dev_id (from VFIO_DEVICE_BIND_IOMMUFD) is
 * and can do: svmd's model (VT-d, SMMUv3, AMD), its capability bits and the PASID width it
 * checks requests against. out_capabilities is 6.7; out_max_pasid_log2 and the PASID bits are
 * 6.15 (Debian's 6.12.117 headers have them too): older kernels leave them 0, which reads as
 * "no PASIDs". data_uptr receives the per-type struct below, data_len bytes at most. */
#define SVMD_IOMMU_GET_HW_INFO SVMD_IOMMUFD_IO(0x0a)
struct svmd_iommu_hw_info {
	uint32_t size;
	uint32_t flags; /* 0, or SVMD_IOMMU_HW_INFO_FLAG_INPUT_TYPE (6.17) */
	uint32_t dev_id;
	uint32_t data_len;          /* in: room at data_uptr; out: the length the kernel has */
	svmd_aligned_u64 data_uptr; /* in: pointer to the per-type struct */
	union {
		uint32_t in_data_type;  /* in, with FLAG_INPUT_TYPE: the type asked for */
		uint32_t out_data_type; /* out: SVMD_IOMMU_HW_INFO_TYPE_* */
	};
	uint8_t out_max_pasid_log2; /* out: PASID width in bits; 0: no PASID support */
	uint8_t reserved[3];
	svmd_aligned_u64 out_capabilities; /* out: SVMD_IOMMU_HW_CAP_* */
};
#define SVMD_IOMMU_HW_INFO_FLAG_INPUT_TYPE (1u << 0)

#define SVMD_IOMMU_HW_INFO_TYPE_NONE           0u /* out: the driver reports nothing */
#define SVMD_IOMMU_HW_INFO_TYPE_DEFAULT        0u /* in: whatever the driver reports */
#define SVMD_IOMMU_HW_INFO_TYPE_INTEL_VTD      1u /* 6.6 */
#define SVMD_IOMMU_HW_INFO_TYPE_ARM_SMMUV3     2u /* 6.13 */
#define SVMD_IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV 3u /* 6.17: an SMMUv3 extension */
#define SVMD_IOMMU_HW_INFO_TYPE_AMD            4u /* 7.0 */

#define SVMD_IOMMU_HW_CAP_DIRTY_TRACKING        (1ull << 0) /* 6.7 */
#define SVMD_IOMMU_HW_CAP_PCI_PASID_EXEC        (1ull << 1) /* 6.15; ignore if no PASIDs */
#define SVMD_IOMMU_HW_CAP_PCI_PASID_PRIV        (1ull << 2) /* 6.15; ignore if no PASIDs */
#define SVMD_IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED (1ull << 3) /* 7.1: a negative flag */

/* TYPE_INTEL_VTD: the raw capability and extended capability registers (VT-d spec 11.4.2,
 * 11.4.3); nesting needs ECAP.NEST, bit 26. */
struct svmd_iommu_hw_info_vtd {
	uint32_t flags; /* SVMD_IOMMU_HW_INFO_VTD_* */
	uint32_t reserved;
	svmd_aligned_u64 cap_reg;
	svmd_aligned_u64 ecap_reg;
};
/* Erratum 772415 (SPR17): no read-only mappings in a nesting parent. */
#define SVMD_IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 (1u << 0)

/* TYPE_ARM_SMMUV3: the raw ID registers (SMMUv3 spec 6.3.1-6.3.6); the kernel documents which
 * fields may be read (IDR0 ST_LEVEL, TERM_MODEL, STALL_MODEL, TTENDIAN, CD2L, ASID16, TTF;
 * IDR1 SIDSIZE, SSIDSIZE; IDR3 BBML, RIL; IDR5 VAX, GRANx, DS). */
struct svmd_iommu_hw_info_arm_smmuv3 {
	uint32_t flags; /* SVMD_IOMMU_HW_INFO_ARM_SMMUV3_* */
	uint32_t reserved;
	uint32_t idr[6];
	uint32_t iidr;
	uint32_t aidr;
};
/* 7.3: TLBI/CFGI commands must be issued twice (erratum T264-SMMU-3). */
#define SVMD_IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI (1u << 0)

/* TYPE_AMD (7.0): the raw Extended Feature registers EFR (MMIO 0x30) and EFR2 (0x1a0). */
struct svmd_iommu_hw_info_amd {
	svmd_aligned_u64 efr;
	svmd_aligned_u64 efr2;
};

/* ---- HWPT: a hardware page table, kernel-managed on an IOAS or user-managed nested ------- */

/* Flags of IOMMU_HWPT_ALLOC. */
#define SVMD_IOMMU_HWPT_ALLOC_NEST_PARENT    (1u << 0) /* 6.7: may parent a nested HWPT */
#define SVMD_IOMMU_HWPT_ALLOC_DIRTY_TRACKING (1u << 1) /* 6.7 */
#define SVMD_IOMMU_HWPT_FAULT_ID_VALID       (1u << 2) /* 6.11: fault_id is set */
#define SVMD_IOMMU_HWPT_ALLOC_PASID          (1u << 3) /* 6.15: attachable at PASIDs */

/* data_type of IOMMU_HWPT_ALLOC: what data_uptr points to. */
#define SVMD_IOMMU_HWPT_DATA_NONE       0u /* a kernel-managed HWPT on the IOAS pt_id */
#define SVMD_IOMMU_HWPT_DATA_VTD_S1     1u /* 6.7: struct svmd_iommu_hwpt_vtd_s1 */
#define SVMD_IOMMU_HWPT_DATA_ARM_SMMUV3 2u /* 6.13: struct svmd_iommu_hwpt_arm_smmuv3 */
#define SVMD_IOMMU_HWPT_DATA_AMD_GUEST  3u /* 7.0: struct svmd_iommu_hwpt_amd_guest */

/* VT-d stage 1: a guest's first-level page table, translated through the NEST_PARENT HWPT
 * given as pt_id. The seed's BIND_PGTABLE (gpgd, addr_width, SRE/EAFE) maps onto this. */
struct svmd_iommu_hwpt_vtd_s1 {
	svmd_aligned_u64 flags;      /* SVMD_IOMMU_VTD_S1_* */
	svmd_aligned_u64 pgtbl_addr; /* guest physical base of the stage-1 table */
	uint32_t addr_width;         /* its input address width in bits */
	uint32_t reserved;
};
#define SVMD_IOMMU_VTD_S1_SRE  (1ull << 0) /* supervisor requests */
#define SVMD_IOMMU_VTD_S1_EAFE (1ull << 1) /* extended access flag */
#define SVMD_IOMMU_VTD_S1_WPE  (1ull << 2) /* write protect */

/* SMMUv3: words 0 and 1 of a guest Stream Table Entry, little-endian, on a vIOMMU (pt_id) of
 * type ARM_SMMUV3. Only V, Config, S1Fmt, S1ContextPtr, S1CDMax (word 0) and EATS, S1DSS,
 * S1CIR, S1COR, S1CSH, S1STALLD (word 1) may be set, else EIO. With Config = translate the
 * device needs a vDEVICE first. The seed's BIND_PASIDTBL (a guest CD table) maps onto this. */
struct svmd_iommu_hwpt_arm_smmuv3 {
	svmd_aligned_u64 ste[2];
};

/* AMD: a guest Device Table Entry (256 bits, with the guest CR3 table root), on a vIOMMU. */
struct svmd_iommu_hwpt_amd_guest {
	svmd_aligned_u64 dte[4];
};

/* IOMMU_HWPT_ALLOC (6.6): a HWPT for dev_id. With DATA_NONE, on the IOAS pt_id (NEST_PARENT:
 * to carry nested ones); with a data type, a nested HWPT on the parent HWPT or vIOMMU pt_id.
 * Layouts: 24 bytes (6.6), data_* (6.7, 40), fault_id (6.11, 48). */
#define SVMD_IOMMU_HWPT_ALLOC SVMD_IOMMUFD_IO(0x09)
struct svmd_iommu_hwpt_alloc {
	uint32_t size;
	uint32_t flags; /* SVMD_IOMMU_HWPT_ALLOC_*, SVMD_IOMMU_HWPT_FAULT_ID_VALID */
	uint32_t dev_id;
	uint32_t pt_id;       /* an IOAS, a NEST_PARENT HWPT or a vIOMMU */
	uint32_t out_hwpt_id; /* out */
	uint32_t reserved;
	uint32_t data_type; /* SVMD_IOMMU_HWPT_DATA_* */
	uint32_t data_len;  /* 0 with DATA_NONE */
	svmd_aligned_u64 data_uptr;
	uint32_t fault_id; /* a FAULT object, with SVMD_IOMMU_HWPT_FAULT_ID_VALID */
	uint32_t reserved2;
};

/* data_type of IOMMU_HWPT_INVALIDATE. */
#define SVMD_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1       0u /* 6.8, on a nested VT-d HWPT */
#define SVMD_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 1u /* 6.13, on an SMMUv3 vIOMMU */

/* One VT-d stage-1 IOTLB invalidation: addr 0 with npages UINT64_MAX is everything. */
struct svmd_iommu_hwpt_vtd_s1_invalidate {
	svmd_aligned_u64 addr;   /* 4 KiB aligned */
	svmd_aligned_u64 npages; /* 4 KiB pages */
	uint32_t flags;          /* SVMD_IOMMU_VTD_INV_FLAGS_* */
	uint32_t reserved;
};
#define SVMD_IOMMU_VTD_INV_FLAGS_LEAF (1u << 0) /* leaf entries only */

/* One SMMUv3 command, as the guest queued it, little-endian: CMDQ_OP_TLBI_NSNH_ALL, TLBI_NH_VA,
 * TLBI_NH_VAA, TLBI_NH_ALL, TLBI_NH_ASID, ATC_INV, CFGI_CD, CFGI_CD_ALL; others fail with EIO. */
struct svmd_iommu_viommu_arm_smmuv3_invalidate {
	svmd_aligned_u64 cmd[2];
};

/* IOMMU_HWPT_INVALIDATE (6.8; on a vIOMMU 6.13): after a user-managed table changes, flushes
 * what the IOMMU cached of it. entry_num 0 only probes whether data_type is supported. */
#define SVMD_IOMMU_HWPT_INVALIDATE SVMD_IOMMUFD_IO(0x0d)
struct svmd_iommu_hwpt_invalidate {
	uint32_t size;
	uint32_t hwpt_id;           /* a nested HWPT or a vIOMMU */
	svmd_aligned_u64 data_uptr; /* in: entry_num entries of entry_len bytes */
	uint32_t data_type;         /* SVMD_IOMMU_*_INVALIDATE_DATA_* */
	uint32_t entry_len;
	uint32_t entry_num; /* in: entries given; out: entries done */
	uint32_t reserved;
};

/* ---- FAULT: page requests (PRI) of the HWPTs that name it, read from its fd ------------- */

/* IOMMU_FAULT_QUEUE_ALLOC (6.11): a FAULT object and its fd. read() returns whole
 * struct svmd_iommu_hwpt_pgfault records; write() takes whole struct
 * svmd_iommu_hwpt_page_response records, one per group, for the LAST_PAGE record's cookie.
 * A HWPT delivers its faults here when allocated with FAULT_ID_VALID and fault_id. */
#define SVMD_IOMMU_FAULT_QUEUE_ALLOC SVMD_IOMMUFD_IO(0x0e)
struct svmd_iommu_fault_alloc {
	uint32_t size;
	uint32_t flags;        /* 0 */
	uint32_t out_fault_id; /* out */
	uint32_t out_fault_fd; /* out: a new O_CLOEXEC fd, svmd's to close */
};

/* One page request, as read from a FAULT fd. */
struct svmd_iommu_hwpt_pgfault {
	uint32_t flags;  /* SVMD_IOMMU_PGFAULT_FLAGS_* */
	uint32_t dev_id; /* the device's id from VFIO_DEVICE_BIND_IOMMUFD */
	uint32_t pasid;  /* with FLAGS_PASID_VALID */
	uint32_t grpid;  /* PRI page request group index */
	uint32_t perm;   /* SVMD_IOMMU_PGFAULT_PERM_* */
	uint32_t reserved;
	svmd_aligned_u64 addr;
	uint32_t length; /* a hint of the bytes wanted, or 0 */
	uint32_t cookie; /* echo it in the response to the group's last request */
};
#define SVMD_IOMMU_PGFAULT_FLAGS_PASID_VALID (1u << 0)
#define SVMD_IOMMU_PGFAULT_FLAGS_LAST_PAGE   (1u << 1) /* the last request of its group */
#define SVMD_IOMMU_PGFAULT_PERM_READ         (1u << 0)
#define SVMD_IOMMU_PGFAULT_PERM_WRITE        (1u << 1)
#define SVMD_IOMMU_PGFAULT_PERM_EXEC         (1u << 2)
#define SVMD_IOMMU_PGFAULT_PERM_PRIV         (1u << 3)

/* The answer to one group, written to the FAULT fd. */
struct svmd_iommu_hwpt_page_response {
	uint32_t cookie;
	uint32_t code; /* SVMD_IOMMUFD_PAGE_RESP_* */
};
#define SVMD_IOMMUFD_PAGE_RESP_SUCCESS 0u /* handled: retry the access (PCIe "Success") */
#define SVMD_IOMMUFD_PAGE_RESP_INVALID 1u /* not handled: do not retry ("Invalid Request") */

/* ---- vIOMMU: a slice of one physical IOMMU for one guest, over a NEST_PARENT HWPT -------- */

/* Types of IOMMU_VIOMMU_ALLOC. 7.3's uAPI names none for AMD: its driver (7.0) takes any type
 * but DEFAULT, which the core refuses. */
#define SVMD_IOMMU_VIOMMU_TYPE_DEFAULT        0u /* reserved: refused */
#define SVMD_IOMMU_VIOMMU_TYPE_ARM_SMMUV3     1u /* 6.13 */
#define SVMD_IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV 2u /* 6.17 */

/* IOMMU_VIOMMU_ALLOC (6.13): the vIOMMU that SMMUv3 and AMD nested HWPTs, vDEVICEs and
 * vEVENTQs hang off. Layouts: 24 bytes (6.13), data_len/data_uptr (6.17, 40). */
#define SVMD_IOMMU_VIOMMU_ALLOC SVMD_IOMMUFD_IO(0x10)
struct svmd_iommu_viommu_alloc {
	uint32_t size;
	uint32_t flags; /* 0 */
	uint32_t type;  /* SVMD_IOMMU_VIOMMU_TYPE_* */
	uint32_t dev_id;
	uint32_t hwpt_id;       /* the NEST_PARENT HWPT */
	uint32_t out_viommu_id; /* out */
	uint32_t data_len;      /* per-type data (Tegra241 CMDQV); 0 for SMMUv3 */
	uint32_t reserved;
	svmd_aligned_u64 data_uptr;
};

/* IOMMU_VDEVICE_ALLOC (6.13): names a bound device to a vIOMMU by its guest-visible id (the
 * vSID of an SMMUv3, AMD's vDeviceID, VT-d's vRID). Needed before an SMMUv3 translate vSTE is
 * attached, and for the device's events to reach a vEVENTQ. Destroy it before closing the
 * device fd, else its id leaks until the iommufd is closed. */
#define SVMD_IOMMU_VDEVICE_ALLOC SVMD_IOMMUFD_IO(0x11)
struct svmd_iommu_vdevice_alloc {
	uint32_t size;
	uint32_t viommu_id;
	uint32_t dev_id;
	uint32_t out_vdevice_id; /* out */
	svmd_aligned_u64 virt_id;
};

/* ---- vEVENTQ: IOMMU events of a vIOMMU's devices, read from its fd ---------------------- */

/* Types of IOMMU_VEVENTQ_ALLOC; one queue per type per vIOMMU. */
#define SVMD_IOMMU_VEVENTQ_TYPE_DEFAULT        0u /* reserved */
#define SVMD_IOMMU_VEVENTQ_TYPE_ARM_SMMUV3     1u /* 6.15 */
#define SVMD_IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV 2u /* 6.17 */

/* IOMMU_VEVENTQ_ALLOC (6.15): a vEVENTQ and its fd. read() returns whole events: a header,
 * then that type's record (none after a LOST_EVENTS header). Events past veventq_depth are
 * dropped, which a jump in sequence shows. */
#define SVMD_IOMMU_VEVENTQ_ALLOC SVMD_IOMMUFD_IO(0x13)
struct svmd_iommu_veventq_alloc {
	uint32_t size;
	uint32_t flags; /* 0 */
	uint32_t viommu_id;
	uint32_t type; /* SVMD_IOMMU_VEVENTQ_TYPE_* */
	uint32_t veventq_depth;
	uint32_t out_veventq_id; /* out */
	uint32_t out_veventq_fd; /* out: a new O_CLOEXEC fd, svmd's to close */
	uint32_t reserved;
};

/* Before each record in a vEVENTQ read. */
struct svmd_iommufd_vevent_header {
	uint32_t flags;    /* SVMD_IOMMU_VEVENTQ_FLAG_* */
	uint32_t sequence; /* 0..INT32_MAX, then 0 again */
};
#define SVMD_IOMMU_VEVENTQ_FLAG_LOST_EVENTS (1u << 0)

/* TYPE_ARM_SMMUV3: a 256-bit SMMUv3 event record, little-endian, its StreamID replaced by the
 * vDEVICE's virt_id: C_BAD_STE, F_STREAM_DISABLED, C_BAD_SUBSTREAMID, C_BAD_CD, F_TRANSLATION,
 * F_ADDR_SIZE, F_ACCESS, F_PERMISSION. */
struct svmd_iommu_vevent_arm_smmuv3 {
	svmd_aligned_u64 evt[4];
};

/* ---- Layouts, as Linux 7.3 has them --------------------------------------------------- */

_Static_assert(SVMD_IOMMU_DESTROY == 0x3b80, "IOMMU_DESTROY");
_Static_assert(SVMD_IOMMU_IOAS_ALLOC == 0x3b81, "IOMMU_IOAS_ALLOC");
_Static_assert(SVMD_IOMMU_IOAS_ALLOW_IOVAS == 0x3b82, "IOMMU_IOAS_ALLOW_IOVAS");
_Static_assert(SVMD_IOMMU_IOAS_IOVA_RANGES == 0x3b84, "IOMMU_IOAS_IOVA_RANGES");
_Static_assert(SVMD_IOMMU_IOAS_MAP == 0x3b85, "IOMMU_IOAS_MAP");
_Static_assert(SVMD_IOMMU_IOAS_UNMAP == 0x3b86, "IOMMU_IOAS_UNMAP");
_Static_assert(SVMD_IOMMU_OPTION == 0x3b87, "IOMMU_OPTION");
_Static_assert(SVMD_IOMMU_HWPT_ALLOC == 0x3b89, "IOMMU_HWPT_ALLOC");
_Static_assert(SVMD_IOMMU_GET_HW_INFO == 0x3b8a, "IOMMU_GET_HW_INFO");
_Static_assert(SVMD_IOMMU_HWPT_INVALIDATE == 0x3b8d, "IOMMU_HWPT_INVALIDATE");
_Static_assert(SVMD_IOMMU_FAULT_QUEUE_ALLOC == 0x3b8e, "IOMMU_FAULT_QUEUE_ALLOC");
_Static_assert(SVMD_IOMMU_IOAS_MAP_FILE == 0x3b8f, "IOMMU_IOAS_MAP_FILE");
_Static_assert(SVMD_IOMMU_VIOMMU_ALLOC == 0x3b90, "IOMMU_VIOMMU_ALLOC");
_Static_assert(SVMD_IOMMU_VDEVICE_ALLOC == 0x3b91, "IOMMU_VDEVICE_ALLOC");
_Static_assert(SVMD_IOMMU_VEVENTQ_ALLOC == 0x3b93, "IOMMU_VEVENTQ_ALLOC");

#define SVMD_ABI_OFF(type, field, off)                                                             \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field)
#define SVMD_ABI_SIZE(type, size) _Static_assert(sizeof(struct type) == (size), #type)

SVMD_ABI_SIZE(svmd_iommu_destroy, 8);
SVMD_ABI_OFF(svmd_iommu_destroy, id, 4);

SVMD_ABI_SIZE(svmd_iommu_ioas_alloc, 12);
SVMD_ABI_OFF(svmd_iommu_ioas_alloc, flags, 4);
SVMD_ABI_OFF(svmd_iommu_ioas_alloc, out_ioas_id, 8);

SVMD_ABI_SIZE(svmd_iommu_iova_range, 16);
SVMD_ABI_OFF(svmd_iommu_iova_range, last, 8);

SVMD_ABI_SIZE(svmd_iommu_ioas_allow_iovas, 24);
SVMD_ABI_OFF(svmd_iommu_ioas_allow_iovas, ioas_id, 4);
SVMD_ABI_OFF(svmd_iommu_ioas_allow_iovas, num_iovas, 8);
SVMD_ABI_OFF(svmd_iommu_ioas_allow_iovas, reserved, 12);
SVMD_ABI_OFF(svmd_iommu_ioas_allow_iovas, allowed_iovas, 16);

SVMD_ABI_SIZE(svmd_iommu_ioas_iova_ranges, 32);
SVMD_ABI_OFF(svmd_iommu_ioas_iova_ranges, ioas_id, 4);
SVMD_ABI_OFF(svmd_iommu_ioas_iova_ranges, num_iovas, 8);
SVMD_ABI_OFF(svmd_iommu_ioas_iova_ranges, reserved, 12);
SVMD_ABI_OFF(svmd_iommu_ioas_iova_ranges, allowed_iovas, 16);
SVMD_ABI_OFF(svmd_iommu_ioas_iova_ranges, out_iova_alignment, 24);

SVMD_ABI_SIZE(svmd_iommu_ioas_map, 40);
SVMD_ABI_OFF(svmd_iommu_ioas_map, flags, 4);
SVMD_ABI_OFF(svmd_iommu_ioas_map, ioas_id, 8);
SVMD_ABI_OFF(svmd_iommu_ioas_map, reserved, 12);
SVMD_ABI_OFF(svmd_iommu_ioas_map, user_va, 16);
SVMD_ABI_OFF(svmd_iommu_ioas_map, length, 24);
SVMD_ABI_OFF(svmd_iommu_ioas_map, iova, 32);

SVMD_ABI_SIZE(svmd_iommu_ioas_map_file, 40);
SVMD_ABI_OFF(svmd_iommu_ioas_map_file, flags, 4);
SVMD_ABI_OFF(svmd_iommu_ioas_map_file, ioas_id, 8);
SVMD_ABI_OFF(svmd_iommu_ioas_map_file, fd, 12);
SVMD_ABI_OFF(svmd_iommu_ioas_map_file, start, 16);
SVMD_ABI_OFF(svmd_iommu_ioas_map_file, length, 24);
SVMD_ABI_OFF(svmd_iommu_ioas_map_file, iova, 32);

SVMD_ABI_SIZE(svmd_iommu_ioas_unmap, 24);
SVMD_ABI_OFF(svmd_iommu_ioas_unmap, ioas_id, 4);
SVMD_ABI_OFF(svmd_iommu_ioas_unmap, iova, 8);
SVMD_ABI_OFF(svmd_iommu_ioas_unmap, length, 16);

SVMD_ABI_SIZE(svmd_iommu_option, 24);
SVMD_ABI_OFF(svmd_iommu_option, option_id, 4);
SVMD_ABI_OFF(svmd_iommu_option, op, 8);
SVMD_ABI_OFF(svmd_iommu_option, reserved, 10);
SVMD_ABI_OFF(svmd_iommu_option, object_id, 12);
SVMD_ABI_OFF(svmd_iommu_option, val64, 16);

SVMD_ABI_SIZE(svmd_iommu_hw_info, 40);
SVMD_ABI_OFF(svmd_iommu_hw_info, flags, 4);
SVMD_ABI_OFF(svmd_iommu_hw_info, dev_id, 8);
SVMD_ABI_OFF(svmd_iommu_hw_info, data_len, 12);
SVMD_ABI_OFF(svmd_iommu_hw_info, data_uptr, 16);
SVMD_ABI_OFF(svmd_iommu_hw_info, in_data_type, 24);
SVMD_ABI_OFF(svmd_iommu_hw_info, out_data_type, 24);
SVMD_ABI_OFF(svmd_iommu_hw_info, out_max_pasid_log2, 28);
SVMD_ABI_OFF(svmd_iommu_hw_info, reserved, 29);
SVMD_ABI_OFF(svmd_iommu_hw_info, out_capabilities, 32);

SVMD_ABI_SIZE(svmd_iommu_hw_info_vtd, 24);
SVMD_ABI_OFF(svmd_iommu_hw_info_vtd, reserved, 4);
SVMD_ABI_OFF(svmd_iommu_hw_info_vtd, cap_reg, 8);
SVMD_ABI_OFF(svmd_iommu_hw_info_vtd, ecap_reg, 16);

SVMD_ABI_SIZE(svmd_iommu_hw_info_arm_smmuv3, 40);
SVMD_ABI_OFF(svmd_iommu_hw_info_arm_smmuv3, reserved, 4);
SVMD_ABI_OFF(svmd_iommu_hw_info_arm_smmuv3, idr, 8);
SVMD_ABI_OFF(svmd_iommu_hw_info_arm_smmuv3, iidr, 32);
SVMD_ABI_OFF(svmd_iommu_hw_info_arm_smmuv3, aidr, 36);

SVMD_ABI_SIZE(svmd_iommu_hw_info_amd, 16);
SVMD_ABI_OFF(svmd_iommu_hw_info_amd, efr2, 8);

SVMD_ABI_SIZE(svmd_iommu_hwpt_vtd_s1, 24);
SVMD_ABI_OFF(svmd_iommu_hwpt_vtd_s1, pgtbl_addr, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_vtd_s1, addr_width, 16);
SVMD_ABI_OFF(svmd_iommu_hwpt_vtd_s1, reserved, 20);

SVMD_ABI_SIZE(svmd_iommu_hwpt_arm_smmuv3, 16);
SVMD_ABI_SIZE(svmd_iommu_hwpt_amd_guest, 32);

SVMD_ABI_SIZE(svmd_iommu_hwpt_alloc, 48);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, flags, 4);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, dev_id, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, pt_id, 12);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, out_hwpt_id, 16);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, reserved, 20);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, data_type, 24);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, data_len, 28);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, data_uptr, 32);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, fault_id, 40);
SVMD_ABI_OFF(svmd_iommu_hwpt_alloc, reserved2, 44);

SVMD_ABI_SIZE(svmd_iommu_hwpt_vtd_s1_invalidate, 24);
SVMD_ABI_OFF(svmd_iommu_hwpt_vtd_s1_invalidate, npages, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_vtd_s1_invalidate, flags, 16);
SVMD_ABI_OFF(svmd_iommu_hwpt_vtd_s1_invalidate, reserved, 20);

SVMD_ABI_SIZE(svmd_iommu_viommu_arm_smmuv3_invalidate, 16);

SVMD_ABI_SIZE(svmd_iommu_hwpt_invalidate, 32);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate, hwpt_id, 4);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate, data_uptr, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate, data_type, 16);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate, entry_len, 20);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate, entry_num, 24);
SVMD_ABI_OFF(svmd_iommu_hwpt_invalidate, reserved, 28);

SVMD_ABI_SIZE(svmd_iommu_fault_alloc, 16);
SVMD_ABI_OFF(svmd_iommu_fault_alloc, flags, 4);
SVMD_ABI_OFF(svmd_iommu_fault_alloc, out_fault_id, 8);
SVMD_ABI_OFF(svmd_iommu_fault_alloc, out_fault_fd, 12);

SVMD_ABI_SIZE(svmd_iommu_hwpt_pgfault, 40);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, dev_id, 4);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, pasid, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, grpid, 12);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, perm, 16);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, reserved, 20);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, addr, 24);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, length, 32);
SVMD_ABI_OFF(svmd_iommu_hwpt_pgfault, cookie, 36);

SVMD_ABI_SIZE(svmd_iommu_hwpt_page_response, 8);
SVMD_ABI_OFF(svmd_iommu_hwpt_page_response, code, 4);

SVMD_ABI_SIZE(svmd_iommu_viommu_alloc, 40);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, flags, 4);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, type, 8);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, dev_id, 12);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, hwpt_id, 16);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, out_viommu_id, 20);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, data_len, 24);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, reserved, 28);
SVMD_ABI_OFF(svmd_iommu_viommu_alloc, data_uptr, 32);

SVMD_ABI_SIZE(svmd_iommu_vdevice_alloc, 24);
SVMD_ABI_OFF(svmd_iommu_vdevice_alloc, viommu_id, 4);
SVMD_ABI_OFF(svmd_iommu_vdevice_alloc, dev_id, 8);
SVMD_ABI_OFF(svmd_iommu_vdevice_alloc, out_vdevice_id, 12);
SVMD_ABI_OFF(svmd_iommu_vdevice_alloc, virt_id, 16);

SVMD_ABI_SIZE(svmd_iommu_veventq_alloc, 32);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, flags, 4);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, viommu_id, 8);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, type, 12);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, veventq_depth, 16);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, out_veventq_id, 20);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, out_veventq_fd, 24);
SVMD_ABI_OFF(svmd_iommu_veventq_alloc, reserved, 28);

SVMD_ABI_SIZE(svmd_iommufd_vevent_header, 8);
SVMD_ABI_OFF(svmd_iommufd_vevent_header, sequence, 4);
SVMD_ABI_SIZE(svmd_iommu_vevent_arm_smmuv3, 32);

/* The smallest size each ioctl accepts: its first layout (the kernel's min_size). */
#define SVMD_IOMMU_HWPT_ALLOC_SIZE_6_6    24u /* through reserved */
#define SVMD_IOMMU_HWPT_ALLOC_SIZE_6_7    40u /* through data_uptr */
#define SVMD_IOMMU_GET_HW_INFO_SIZE_6_6   32u /* through out_data_type and 4 reserved bytes */
#define SVMD_IOMMU_VIOMMU_ALLOC_SIZE_6_13 24u /* through out_viommu_id */
_Static_assert(offsetof(struct svmd_iommu_hwpt_alloc, data_type) == SVMD_IOMMU_HWPT_ALLOC_SIZE_6_6,
	       "HWPT_ALLOC grew at its end in 6.7");
_Static_assert(offsetof(struct svmd_iommu_hwpt_alloc, fault_id) == SVMD_IOMMU_HWPT_ALLOC_SIZE_6_7,
	       "HWPT_ALLOC grew at its end in 6.11");
_Static_assert(offsetof(struct svmd_iommu_hw_info, out_capabilities) ==
		       SVMD_IOMMU_GET_HW_INFO_SIZE_6_6,
	       "GET_HW_INFO grew at its end in 6.7");
_Static_assert(offsetof(struct svmd_iommu_viommu_alloc, data_len) ==
		       SVMD_IOMMU_VIOMMU_ALLOC_SIZE_6_13,
	       "VIOMMU_ALLOC grew at its end in 6.17");
