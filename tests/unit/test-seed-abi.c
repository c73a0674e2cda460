/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The seed VFIO_IOMMU_SVM_BIND ABI checked at run time: ioctl numbers, layouts against literal
 * offsets, the exact bytes seed_arg_init/seed_encode produce, and seed_check's argument hygiene.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <linux/ioctl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seed-abi.h"

/* Literal byte offsets of the whole argument (header + payload), from KERNEL-ABI.md, so that
 * these tests do not lean on the structs they check. */
#define H_ARGSZ  0
#define H_FLAGS  4
#define H_LENGTH 8
#define P        12 /* the payload */

#define T_FLAGS (P + 0)
#define T_PASID (P + 4)
#define T_PID   (P + 8)

#define G_VERSION   (P + 0)
#define G_FORMAT    (P + 4)
#define G_FLAGS     (P + 8)
#define G_GPGD      (P + 16)
#define G_HPASID    (P + 24)
#define G_GPASID    (P + 32)
#define G_ADDRW     (P + 40)
#define G_PADDING   (P + 44)
#define G_VTD_FLAGS (P + 56)
#define G_PAT       (P + 64)
#define G_EMT       (P + 68)

#define PT_PTR    (P + 0)
#define PT_SIZE   (P + 8)
#define PT_MODEL  (P + 16)
#define PT_LENGTH (P + 20)

static uint32_t rd32(const void *p, size_t off)
{
	uint32_t v;

	memcpy(&v, (const unsigned char *)p + off, sizeof(v));
	return v;
}

static uint64_t rd64(const void *p, size_t off)
{
	uint64_t v;

	memcpy(&v, (const unsigned char *)p + off, sizeof(v));
	return v;
}

static void wr(void *p, size_t off, unsigned width, uint64_t v)
{
	unsigned char *d = (unsigned char *)p + off;
	uint8_t v8 = (uint8_t)v;
	uint32_t v32 = (uint32_t)v;

	switch (width) {
	case 1:
		memcpy(d, &v8, 1);
		break;
	case 4:
		memcpy(d, &v32, 4);
		break;
	case 8:
		memcpy(d, &v, 8);
		break;
	default:
		cr_assert_fail("bad width %u", width);
	}
}

/* Asserts that got holds exactly the n bytes of want, naming the first difference. */
static void assert_bytes(const unsigned char *got, const unsigned char *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: got 0x%02x, want 0x%02x", i, got[i],
			     want[i]);
}

/*
 * Numbers and layouts.
 */

Test(seed_abi, ioctl_numbers)
{
	cr_assert_eq(SEED_VFIO_TYPE, ';');
	cr_assert_eq(SEED_VFIO_BASE, 100);
	cr_assert_eq(SEED_VFIO_IOMMU_SVM_BIND, 0x3b7aul);
	cr_assert_eq(SEED_VFIO_IOMMU_SVM_UNBIND, 0x3b7bul);
	cr_assert_eq(SEED_VFIO_IOMMU_SVM_BIND, (unsigned long)_IO(';', 100 + 22));
	cr_assert_eq(SEED_VFIO_IOMMU_SVM_UNBIND, (unsigned long)_IO(';', 100 + 23));
	/* _IO: no direction and no size encoded, as for every VFIO ioctl. */
	cr_assert_eq(_IOC_DIR(SEED_VFIO_IOMMU_SVM_BIND), _IOC_NONE);
	cr_assert_eq(_IOC_SIZE(SEED_VFIO_IOMMU_SVM_BIND), 0);
	cr_assert_eq(_IOC_TYPE(SEED_VFIO_IOMMU_SVM_BIND), ';');
	cr_assert_eq(_IOC_NR(SEED_VFIO_IOMMU_SVM_BIND), 122);
	cr_assert_eq(_IOC_DIR(SEED_VFIO_IOMMU_SVM_UNBIND), _IOC_NONE);
	cr_assert_eq(_IOC_SIZE(SEED_VFIO_IOMMU_SVM_UNBIND), 0);
	cr_assert_eq(_IOC_NR(SEED_VFIO_IOMMU_SVM_UNBIND), 123);
}

#define FIELD_SIZE(type, member) sizeof(((type *)0)->member)

Test(seed_abi, header_layout)
{
	cr_assert_eq(sizeof(struct seed_svm), 12);
	cr_assert_eq(offsetof(struct seed_svm, argsz), H_ARGSZ);
	cr_assert_eq(offsetof(struct seed_svm, flags), H_FLAGS);
	cr_assert_eq(offsetof(struct seed_svm, length), H_LENGTH);
	cr_assert_eq(FIELD_SIZE(struct seed_svm, argsz), 4);
	cr_assert_eq(FIELD_SIZE(struct seed_svm, flags), 4);
	cr_assert_eq(FIELD_SIZE(struct seed_svm, length), 4);
}

Test(seed_abi, task_layout)
{
	struct seed_svm_task t = {.pid = -1};

	cr_assert_eq(sizeof(struct seed_svm_task), 12);
	cr_assert_eq(offsetof(struct seed_svm_task, flags), 0);
	cr_assert_eq(offsetof(struct seed_svm_task, pasid), 4);
	cr_assert_eq(offsetof(struct seed_svm_task, pid), 8);
	cr_assert_eq(FIELD_SIZE(struct seed_svm_task, pid), 4);
	cr_assert_lt(t.pid, 0, "pid is signed");
}

Test(seed_abi, gpasid_bind_data_layout)
{
	typedef struct seed_gpasid_bind_data G;

	cr_assert_eq(sizeof(G), 72);
	cr_assert_eq(offsetof(G, version), 0);
	cr_assert_eq(offsetof(G, format), 4);
	cr_assert_eq(offsetof(G, flags), 8);
	cr_assert_eq(offsetof(G, gpgd), 16);
	cr_assert_eq(offsetof(G, hpasid), 24);
	cr_assert_eq(offsetof(G, gpasid), 32);
	cr_assert_eq(offsetof(G, addr_width), 40);
	cr_assert_eq(offsetof(G, padding), 44);
	cr_assert_eq(offsetof(G, vendor), 56);
	cr_assert_eq(offsetof(G, vendor.vtd.flags), 56);
	cr_assert_eq(offsetof(G, vendor.vtd.pat), 64);
	cr_assert_eq(offsetof(G, vendor.vtd.emt), 68);
	cr_assert_eq(FIELD_SIZE(G, version), 4);
	cr_assert_eq(FIELD_SIZE(G, format), 4);
	cr_assert_eq(FIELD_SIZE(G, flags), 8);
	cr_assert_eq(FIELD_SIZE(G, gpgd), 8);
	cr_assert_eq(FIELD_SIZE(G, hpasid), 8);
	cr_assert_eq(FIELD_SIZE(G, gpasid), 8);
	cr_assert_eq(FIELD_SIZE(G, addr_width), 4);
	cr_assert_eq(FIELD_SIZE(G, padding), 12);
	cr_assert_eq(FIELD_SIZE(G, vendor), 16);
	cr_assert_eq(FIELD_SIZE(G, vendor.vtd.flags), 8);
	cr_assert_eq(FIELD_SIZE(G, vendor.vtd.pat), 4);
	cr_assert_eq(FIELD_SIZE(G, vendor.vtd.emt), 4);
}

Test(seed_abi, pasid_table_info_layout)
{
	typedef struct seed_pasid_table_info T;

	cr_assert_eq(sizeof(T), 24);
	cr_assert_eq(offsetof(T, ptr), 0);
	cr_assert_eq(offsetof(T, size), 8);
	cr_assert_eq(offsetof(T, model), 16);
	cr_assert_eq(offsetof(T, length), 20);
	cr_assert_eq(FIELD_SIZE(T, ptr), 8);
	cr_assert_eq(FIELD_SIZE(T, size), 8);
	cr_assert_eq(FIELD_SIZE(T, model), 4);
	cr_assert_eq(FIELD_SIZE(T, length), 4);
}

Test(seed_abi, arg_buffer)
{
	struct seed_arg a;

	/* Large enough for the header and the largest payload, and 8-byte aligned for u64s. */
	cr_assert_geq(sizeof(a.bytes), 12 + 72);
	cr_assert_eq(_Alignof(struct seed_arg), 8);
	cr_assert_eq((unsigned char *)seed_payload(&a) - a.bytes, 12);
	cr_assert_eq((void *)&a.hdr, (void *)a.bytes);
}

Test(seed_abi, flag_values)
{
	cr_assert_eq(SEED_SVM_BIND_PASIDTBL, 0x1u);
	cr_assert_eq(SEED_SVM_BIND_PASID, 0x2u);
	cr_assert_eq(SEED_SVM_BIND_PGTABLE, 0x4u);
	cr_assert_eq(SEED_SVM_TYPE_MASK, 0x7u);
	cr_assert_eq(SEED_SVM_PID_VALID, 0x1u);
	cr_assert_eq(SEED_GPASID_BIND_VERSION_1, 1u);
	cr_assert_eq(SEED_PASID_FORMAT_INTEL_VTD, 1u);
	cr_assert_eq(SEED_SVA_GPASID_VAL, 0x1ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_SRE, 0x1ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_EAFE, 0x2ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_PCD, 0x4ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_PWT, 0x8ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_EMTE, 0x10ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_CD, 0x20ull);
	cr_assert_eq(SEED_SVA_VTD_GPASID_MASK, 0x3full);
	cr_assert_eq(SEED_SVA_VTD_GPASID_MASK,
		     SEED_SVA_VTD_GPASID_SRE | SEED_SVA_VTD_GPASID_EAFE | SEED_SVA_VTD_GPASID_PCD |
			     SEED_SVA_VTD_GPASID_PWT | SEED_SVA_VTD_GPASID_EMTE |
			     SEED_SVA_VTD_GPASID_CD);
	cr_assert_eq(SEED_MODEL_INTEL_VTD, 1u);
	cr_assert_eq(SEED_MODEL_ARM_SMMU, 2u);
	cr_assert_eq(SEED_PASID_MAX, 0xfffffu);
	cr_assert_eq(SEED_PGD_ALIGN, 4096u);
	cr_assert_eq(SEED_SMMU_CD_ALIGN, 64u);
	cr_assert_eq(SEED_PASID_ENTRY_SIZE, 64u);
	cr_assert_eq(SEED_SMMU_CD_MAX, 1u << 20);
}

/*
 * seed_arg_init and seed_encode: the exact bytes.
 */

struct init_case {
	uint32_t kind_flag;
	uint32_t length;
};

ParameterizedTestParameters(seed_abi, arg_init)
{
	static struct init_case cases[] = {
		{SEED_SVM_BIND_PASID, 12},
		{SEED_SVM_BIND_PGTABLE, 72},
		{SEED_SVM_BIND_PASIDTBL, 24},
	};
	return cr_make_param_array(struct init_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct init_case *c, seed_abi, arg_init)
{
	struct seed_arg a;
	unsigned char want[sizeof(a)] = {0};

	memset(&a, 0xa5, sizeof(a));
	seed_arg_init(&a, c->kind_flag);
	wr(want, H_ARGSZ, 4, 12 + c->length);
	wr(want, H_FLAGS, 4, c->kind_flag);
	wr(want, H_LENGTH, 4, c->length);
	/* Header as stated, payload and the rest of the buffer zero. */
	assert_bytes(a.bytes, want, sizeof(a));
	cr_assert_eq(rd32(a.bytes, H_ARGSZ), 12 + rd32(a.bytes, H_LENGTH));
	cr_assert_eq(__builtin_popcount(rd32(a.bytes, H_FLAGS)), 1);
}

Test(seed_abi, encode_task)
{
	struct bind_args b = {.kind = SVMD_KIND_TASK, .pasid = 0x1234, .task.pid = 4321};
	struct seed_arg a;
	unsigned char want[sizeof(a)] = {0};

	memset(&a, 0xa5, sizeof(a));
	seed_encode(&a, &b);
	wr(want, H_ARGSZ, 4, 24);
	wr(want, H_FLAGS, 4, SEED_SVM_BIND_PASID);
	wr(want, H_LENGTH, 4, 12);
	wr(want, T_FLAGS, 4, SEED_SVM_PID_VALID);
	wr(want, T_PASID, 4, 0x1234);
	wr(want, T_PID, 4, 4321);
	assert_bytes(a.bytes, want, sizeof(a));
}

Test(seed_abi, encode_pgtable)
{
	struct bind_args b = {
		.kind = SVMD_KIND_PGTABLE,
		.pasid = 0xabcde,
		.pgtable =
			{
				.flags = SEED_SVA_GPASID_VAL,
				.gpgd = 0x123456789000ull,
				.gpasid = 0x54321,
				.vtd_flags = SEED_SVA_VTD_GPASID_SRE | SEED_SVA_VTD_GPASID_CD,
				.addr_width = 57,
				.format = SEED_PASID_FORMAT_INTEL_VTD,
				.pat = 0x06070406,
				.emt = 0x5,
			},
	};
	struct seed_arg a;
	unsigned char want[sizeof(a)] = {0};

	memset(&a, 0xa5, sizeof(a));
	seed_encode(&a, &b);
	wr(want, H_ARGSZ, 4, 84);
	wr(want, H_FLAGS, 4, SEED_SVM_BIND_PGTABLE);
	wr(want, H_LENGTH, 4, 72);
	wr(want, G_VERSION, 4, 1);
	wr(want, G_FORMAT, 4, 1);
	wr(want, G_FLAGS, 8, 1);
	wr(want, G_GPGD, 8, 0x123456789000ull);
	wr(want, G_HPASID, 8, 0xabcde);
	wr(want, G_GPASID, 8, 0x54321);
	wr(want, G_ADDRW, 4, 57);
	/* G_PADDING..+12 stays zero */
	wr(want, G_VTD_FLAGS, 8, 0x21);
	wr(want, G_PAT, 4, 0x06070406);
	wr(want, G_EMT, 4, 0x5);
	assert_bytes(a.bytes, want, sizeof(a));
	for (size_t i = 0; i < 12; i++)
		cr_assert_eq(a.bytes[G_PADDING + i], 0, "padding byte %zu", i);
	/* The struct's view and the literal offsets agree. The payload sits at offset 12, so
	 * only 4-byte aligned: copy it out rather than reading u64s through a cast pointer. */
	struct seed_gpasid_bind_data g;
	memcpy(&g, a.bytes + P, sizeof(g));
	cr_assert_eq(rd64(a.bytes, G_GPGD), g.gpgd);
	cr_assert_eq(rd64(a.bytes, G_HPASID), g.hpasid);
	cr_assert_eq(rd64(a.bytes, G_GPASID), g.gpasid);
	cr_assert_eq(rd64(a.bytes, G_VTD_FLAGS), g.vendor.vtd.flags);
	cr_assert_eq(rd32(a.bytes, G_EMT), g.vendor.vtd.emt);
}

Test(seed_abi, encode_pasid_table)
{
	struct bind_args b = {
		.kind = SVMD_KIND_PASID_TABLE,
		.table = {.ptr = 0xfeed0040ull, .size = 64 * 256, .model = SEED_MODEL_ARM_SMMU},
	};
	struct seed_arg a;
	unsigned char want[sizeof(a)] = {0};

	memset(&a, 0xa5, sizeof(a));
	seed_encode(&a, &b);
	wr(want, H_ARGSZ, 4, 36);
	wr(want, H_FLAGS, 4, SEED_SVM_BIND_PASIDTBL);
	wr(want, H_LENGTH, 4, 24);
	wr(want, PT_PTR, 8, 0xfeed0040ull);
	wr(want, PT_SIZE, 8, 64 * 256);
	wr(want, PT_MODEL, 4, 2);
	wr(want, PT_LENGTH, 4, 0);
	assert_bytes(a.bytes, want, sizeof(a));
}

Test(seed_abi, encoded_arguments_pass_check)
{
	const struct seed_limits vtd = {.pasid_bits = 20, .model = SEED_MODEL_INTEL_VTD};
	const struct seed_limits smmu = {.pasid_bits = 16, .model = SEED_MODEL_ARM_SMMU};
	struct bind_args task = {.kind = SVMD_KIND_TASK, .pasid = 9, .task.pid = 1};
	struct bind_args pgt = {
		.kind = SVMD_KIND_PGTABLE,
		.pasid = 9,
		.pgtable = {.gpgd = 0x1000, .addr_width = 48, .format = 1},
	};
	struct bind_args tbl = {
		.kind = SVMD_KIND_PASID_TABLE,
		.table = {.ptr = 0x40, .size = 64, .model = SEED_MODEL_ARM_SMMU},
	};
	struct seed_arg a;
	char why[128] = "";

	seed_encode(&a, &task);
	cr_assert_eq(seed_check(&a, a.hdr.argsz, &vtd, why, sizeof(why)), 0, "%s", why);
	seed_encode(&a, &pgt);
	cr_assert_eq(seed_check(&a, a.hdr.argsz, &vtd, why, sizeof(why)), 0, "%s", why);
	seed_encode(&a, &tbl);
	cr_assert_eq(seed_check(&a, a.hdr.argsz, &smmu, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_empty(why);
}

/*
 * seed_check: tables of arguments, each a good argument of one kind with up to two fields
 * overwritten, checked against a device's limits.
 */

enum base {
	B_TASK,     /* PID_VALID, pid 1000, PASID 0 */
	B_PGTABLE,  /* v1 VT-d, gpgd 0x12345000, hpasid 5, width 48, SRE|EAFE */
	B_TBL_VTD,  /* ptr 0x7f000, 4096 bytes, VT-d */
	B_TBL_SMMU, /* ptr 0x1040, 8192 bytes, SMMU */
};

enum lim {
	L_VTD20, /* the default */
	L_VTD16,
	L_VTD2,
	L_VTD0,
	L_SMMU20,
	L_SMMU16,
	L_NONE20,
};

struct set {
	uint8_t off;
	uint8_t width; /* 0: unused */
	uint64_t value;
};

struct check_case {
	char name[48];
	uint8_t base; /* enum base */
	uint8_t lim;  /* enum lim */
	struct set set[2];
	uint32_t size; /* bytes readable at the argument; 0: its argsz */
	char why[64];  /* expected in the reason ("" when accepted) */
};

#define S1(o, v)                                                                                   \
	{                                                                                          \
		.off = (o), .width = 1, .value = (v)                                               \
	}
#define S4(o, v)                                                                                   \
	{                                                                                          \
		.off = (o), .width = 4, .value = (v)                                               \
	}
#define S8(o, v)                                                                                   \
	{                                                                                          \
		.off = (o), .width = 8, .value = (v)                                               \
	}

static struct seed_limits limits_of(uint8_t lim)
{
	switch (lim) {
	case L_VTD16:
		return (struct seed_limits){16, SEED_MODEL_INTEL_VTD};
	case L_VTD2:
		return (struct seed_limits){2, SEED_MODEL_INTEL_VTD};
	case L_VTD0:
		return (struct seed_limits){0, SEED_MODEL_INTEL_VTD};
	case L_SMMU20:
		return (struct seed_limits){20, SEED_MODEL_ARM_SMMU};
	case L_SMMU16:
		return (struct seed_limits){16, SEED_MODEL_ARM_SMMU};
	case L_NONE20:
		return (struct seed_limits){20, 0};
	default:
		return (struct seed_limits){20, SEED_MODEL_INTEL_VTD};
	}
}

/* Builds the case's argument by hand, from literal offsets. */
static void build(const struct check_case *c, struct seed_arg *a)
{
	memset(a, 0, sizeof(*a));
	switch (c->base) {
	case B_TASK:
		wr(a->bytes, H_ARGSZ, 4, 24);
		wr(a->bytes, H_FLAGS, 4, SEED_SVM_BIND_PASID);
		wr(a->bytes, H_LENGTH, 4, 12);
		wr(a->bytes, T_FLAGS, 4, SEED_SVM_PID_VALID);
		wr(a->bytes, T_PID, 4, 1000);
		break;
	case B_PGTABLE:
		wr(a->bytes, H_ARGSZ, 4, 84);
		wr(a->bytes, H_FLAGS, 4, SEED_SVM_BIND_PGTABLE);
		wr(a->bytes, H_LENGTH, 4, 72);
		wr(a->bytes, G_VERSION, 4, 1);
		wr(a->bytes, G_FORMAT, 4, 1);
		wr(a->bytes, G_GPGD, 8, 0x12345000);
		wr(a->bytes, G_HPASID, 8, 5);
		wr(a->bytes, G_ADDRW, 4, 48);
		wr(a->bytes, G_VTD_FLAGS, 8, 0x3);
		break;
	case B_TBL_VTD:
	case B_TBL_SMMU:
		wr(a->bytes, H_ARGSZ, 4, 36);
		wr(a->bytes, H_FLAGS, 4, SEED_SVM_BIND_PASIDTBL);
		wr(a->bytes, H_LENGTH, 4, 24);
		wr(a->bytes, PT_PTR, 8, c->base == B_TBL_VTD ? 0x7f000 : 0x1040);
		wr(a->bytes, PT_SIZE, 8, c->base == B_TBL_VTD ? 4096 : 8192);
		wr(a->bytes, PT_MODEL, 4, c->base == B_TBL_VTD ? 1 : 2);
		break;
	default:
		cr_assert_fail("bad base %u", c->base);
	}
	for (size_t i = 0; i < 2; i++)
		if (c->set[i].width)
			wr(a->bytes, c->set[i].off, c->set[i].width, c->set[i].value);
}

/*
 * Runs seed_check on the case's argument placed so that its last readable byte ends a page
 * followed by an inaccessible one: reading past `size` crashes the test.
 */
static int run_check(const struct check_case *c, char *why, size_t whylen)
{
	long page = sysconf(_SC_PAGESIZE);
	struct seed_limits lim = limits_of(c->lim);
	struct seed_arg a;
	unsigned char *map, *at;
	size_t size;
	int r;

	build(c, &a);
	size = c->size ? c->size : rd32(a.bytes, H_ARGSZ);
	if (size > sizeof(a))
		size = sizeof(a);
	map = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	at = map + page - size;
	memcpy(at, a.bytes, size);
	r = seed_check(at, size, &lim, why, whylen);
	/* The same verdict without a reason buffer. */
	cr_assert_eq(seed_check(at, size, &lim, NULL, 0), r, "%s: verdict changed without why",
		     c->name);
	/* The argument is only read. */
	cr_assert_eq(memcmp(at, a.bytes, size), 0, "%s: argument modified", c->name);
	munmap(map, 2 * (size_t)page);
	return r;
}

ParameterizedTestParameters(seed_check, accepts)
{
	static struct check_case cases[] = {
		{"task", B_TASK, L_VTD20, {}, 0, ""},
		{"task, the caller", B_TASK, L_VTD20, {S4(T_FLAGS, 0), S4(T_PID, 0)}, 0, ""},
		{"task, PASID 1", B_TASK, L_VTD20, {S4(T_PASID, 1)}, 0, ""},
		{"task, PASID 0xfffff", B_TASK, L_VTD20, {S4(T_PASID, 0xfffff)}, 0, ""},
		{"task, PASID 0xffff of 16 bits", B_TASK, L_VTD16, {S4(T_PASID, 0xffff)}, 0, ""},
		{"task, PASID 3 of 2 bits", B_TASK, L_VTD2, {S4(T_PASID, 3)}, 0, ""},
		{"task, kernel chooses, 0 bits", B_TASK, L_VTD0, {}, 0, ""},
		{"task, pid INT32_MAX", B_TASK, L_VTD20, {S4(T_PID, INT32_MAX)}, 0, ""},
		{"task, size beyond argsz", B_TASK, L_VTD20, {}, sizeof(struct seed_arg), ""},
		{"task on SMMU", B_TASK, L_SMMU16, {S4(T_PASID, 0x8000)}, 0, ""},
		{"pgtable", B_PGTABLE, L_VTD20, {}, 0, ""},
		{"pgtable, 57 bits", B_PGTABLE, L_VTD20, {S4(G_ADDRW, 57)}, 0, ""},
		{"pgtable, gpasid 0xfffff",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_FLAGS, 1), S8(G_GPASID, 0xfffff)},
		 0,
		 ""},
		{"pgtable, gpasid 1", B_PGTABLE, L_VTD20, {S8(G_FLAGS, 1), S8(G_GPASID, 1)}, 0, ""},
		{"pgtable, hpasid 1", B_PGTABLE, L_VTD20, {S8(G_HPASID, 1)}, 0, ""},
		{"pgtable, hpasid 0xfffff", B_PGTABLE, L_VTD20, {S8(G_HPASID, 0xfffff)}, 0, ""},
		{"pgtable, hpasid 0xffff of 16", B_PGTABLE, L_VTD16, {S8(G_HPASID, 0xffff)}, 0, ""},
		{"pgtable, hpasid 3 of 2 bits", B_PGTABLE, L_VTD2, {S8(G_HPASID, 3)}, 0, ""},
		{"pgtable, all VT-d flags", B_PGTABLE, L_VTD20, {S8(G_VTD_FLAGS, 0x3f)}, 0, ""},
		{"pgtable, no VT-d flags", B_PGTABLE, L_VTD20, {S8(G_VTD_FLAGS, 0)}, 0, ""},
		{"pgtable, pat and emt",
		 B_PGTABLE,
		 L_VTD20,
		 {S4(G_PAT, ~0u), S4(G_EMT, ~0u)},
		 0,
		 ""},
		{"pgtable, high gpgd",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_GPGD, 0xfffff000ull << 12)},
		 0,
		 ""},
		{"table vtd", B_TBL_VTD, L_VTD20, {}, 0, ""},
		{"table vtd, one entry", B_TBL_VTD, L_VTD20, {S8(PT_SIZE, 64)}, 0, ""},
		{"table vtd, 2^20 entries", B_TBL_VTD, L_VTD20, {S8(PT_SIZE, 64ull << 20)}, 0, ""},
		{"table vtd, 2^16 entries", B_TBL_VTD, L_VTD16, {S8(PT_SIZE, 64ull << 16)}, 0, ""},
		{"table vtd, 4 entries", B_TBL_VTD, L_VTD2, {S8(PT_SIZE, 256)}, 0, ""},
		{"table smmu", B_TBL_SMMU, L_SMMU20, {}, 0, ""},
		{"table smmu, 64 B aligned", B_TBL_SMMU, L_SMMU20, {S8(PT_PTR, 0x40)}, 0, ""},
		{"table smmu, 2^16 CDs", B_TBL_SMMU, L_SMMU16, {S8(PT_SIZE, 64ull << 16)}, 0, ""},
		{"table smmu, 2^20 CDs", B_TBL_SMMU, L_SMMU20, {S8(PT_SIZE, 64ull << 20)}, 0, ""},
	};
	return cr_make_param_array(struct check_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct check_case *c, seed_check, accepts)
{
	char why[128] = "";
	int r = run_check(c, why, sizeof(why));

	cr_assert_eq(r, 0, "%s: refused (%d): %s", c->name, r, why);
}

ParameterizedTestParameters(seed_check, rejects)
{
	static struct check_case cases[] = {
		/* The header. */
		{"argsz too big",
		 B_TASK,
		 L_VTD20,
		 {S4(H_ARGSZ, 25)},
		 0,
		 "argsz 25 != 12 + length 12"},
		{"argsz too small", B_TASK, L_VTD20, {S4(H_ARGSZ, 23)}, 0, "argsz 23 != 12"},
		{"argsz 0", B_PGTABLE, L_VTD20, {S4(H_ARGSZ, 0)}, 84, "argsz 0 != 12 + length 72"},
		{"argsz huge",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(H_ARGSZ, 0xffffffff)},
		 0,
		 "argsz 4294967295 != 12 + length 24"},
		{"no kind bit", B_TASK, L_VTD20, {S4(H_FLAGS, 0)}, 0, "exactly one bind kind"},
		{"two kind bits", B_TASK, L_VTD20, {S4(H_FLAGS, 3)}, 0, "exactly one bind kind"},
		{"two kind bits pgtable",
		 B_PGTABLE,
		 L_VTD20,
		 {S4(H_FLAGS, 6)},
		 0,
		 "exactly one bind kind"},
		{"three kind bits",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(H_FLAGS, 7)},
		 0,
		 "exactly one bind kind"},
		{"unknown flag bit 3", B_TASK, L_VTD20, {S4(H_FLAGS, 0xa)}, 0, "unknown flags 0x8"},
		{"unknown flag bit 31",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(H_FLAGS, 0x80000001)},
		 0,
		 "unknown flags 0x80000000"},
		{"task length of pgtable",
		 B_TASK,
		 L_VTD20,
		 {S4(H_LENGTH, 72), S4(H_ARGSZ, 84)},
		 0,
		 "payload length 72, kind needs 12"},
		{"task length 0",
		 B_TASK,
		 L_VTD20,
		 {S4(H_LENGTH, 0), S4(H_ARGSZ, 12)},
		 0,
		 "length 0"},
		{"pgtable length of task",
		 B_PGTABLE,
		 L_VTD20,
		 {S4(H_LENGTH, 12), S4(H_ARGSZ, 24)},
		 0,
		 "payload length 12, kind needs 72"},
		{"pgtable without vendor part",
		 B_PGTABLE,
		 L_VTD20,
		 {S4(H_LENGTH, 56), S4(H_ARGSZ, 68)},
		 0,
		 "payload length 56"},
		{"table with opaque bytes",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(H_LENGTH, 32), S4(H_ARGSZ, 44)},
		 0,
		 "payload length 32, kind needs 24"},
		{"table length of task",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(H_LENGTH, 12), S4(H_ARGSZ, 24)},
		 0,
		 "kind needs 24"},
		{"size 0", B_TASK, L_VTD20, {}, 0xffffffff, "shorter than its header"},
		{"size 11", B_TASK, L_VTD20, {}, 11, "argument shorter than its header"},
		{"size 1", B_PGTABLE, L_VTD20, {}, 1, "argument shorter than its header"},
		{"size below task argsz", B_TASK, L_VTD20, {}, 23, "argument shorter than argsz"},
		{"size of header only", B_PGTABLE, L_VTD20, {}, 12, "argument shorter than argsz"},
		{"size below pgtable argsz", B_PGTABLE, L_VTD20, {}, 83, "shorter than argsz"},
		{"size below table argsz", B_TBL_VTD, L_VTD20, {}, 35, "shorter than argsz"},

		/* Task payload. */
		{"task flag bit 1", B_TASK, L_VTD20, {S4(T_FLAGS, 3)}, 0, "unknown task flags 0x2"},
		{"task flag bit 31",
		 B_TASK,
		 L_VTD20,
		 {S4(T_FLAGS, 0x80000001)},
		 0,
		 "unknown task flags 0x80000000"},
		{"pid without PID_VALID",
		 B_TASK,
		 L_VTD20,
		 {S4(T_FLAGS, 0)},
		 0,
		 "without PID_VALID"},
		{"negative pid without PID_VALID",
		 B_TASK,
		 L_VTD20,
		 {S4(T_FLAGS, 0), S4(T_PID, (uint32_t)-5)},
		 0,
		 "without PID_VALID"},
		{"PID_VALID, pid 0", B_TASK, L_VTD20, {S4(T_PID, 0)}, 0, "invalid pid 0"},
		{"PID_VALID, pid -1",
		 B_TASK,
		 L_VTD20,
		 {S4(T_PID, (uint32_t)-1)},
		 0,
		 "invalid pid -1"},
		{"PID_VALID, pid INT32_MIN",
		 B_TASK,
		 L_VTD20,
		 {S4(T_PID, 0x80000000u)},
		 0,
		 "invalid pid -2147483648"},
		{"task PASID 2^20",
		 B_TASK,
		 L_VTD20,
		 {S4(T_PASID, 0x100000)},
		 0,
		 "PASID 1048576 outside 1..1048575"},
		{"task PASID ~0",
		 B_TASK,
		 L_VTD20,
		 {S4(T_PASID, ~0u)},
		 0,
		 "PASID 4294967295 outside"},
		{"task PASID 2^16 of 16 bits",
		 B_TASK,
		 L_VTD16,
		 {S4(T_PASID, 0x10000)},
		 0,
		 "PASID 65536 outside 1..65535"},
		{"task PASID 4 of 2 bits",
		 B_TASK,
		 L_VTD2,
		 {S4(T_PASID, 4)},
		 0,
		 "PASID 4 outside 1..3"},
		{"task PASID 1 of 0 bits", B_TASK, L_VTD0, {S4(T_PASID, 1)}, 0, "PASID 1 outside"},
		{"task PASID 2^16 on SMMU16",
		 B_TASK,
		 L_SMMU16,
		 {S4(T_PASID, 0x10000)},
		 0,
		 "PASID 65536 outside"},

		/* Page-table payload. */
		{"pgtable version 0", B_PGTABLE, L_VTD20, {S4(G_VERSION, 0)}, 0, "version 0"},
		{"pgtable version 2", B_PGTABLE, L_VTD20, {S4(G_VERSION, 2)}, 0, "version 2"},
		{"pgtable format 0",
		 B_PGTABLE,
		 L_VTD20,
		 {S4(G_FORMAT, 0)},
		 0,
		 "page-table format 0"},
		{"pgtable format 2",
		 B_PGTABLE,
		 L_VTD20,
		 {S4(G_FORMAT, 2)},
		 0,
		 "page-table format 2"},
		{"pgtable on SMMU", B_PGTABLE, L_SMMU20, {}, 0, "non-VT-d IOMMU"},
		{"pgtable on no IOMMU model", B_PGTABLE, L_NONE20, {}, 0, "non-VT-d IOMMU"},
		{"pgtable flag bit 1", B_PGTABLE, L_VTD20, {S8(G_FLAGS, 2)}, 0, "bind flags 0x2"},
		{"pgtable flag bit 63",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_FLAGS, 1ull << 63)},
		 0,
		 "bind flags 0x8000000000000000"},
		{"padding first byte",
		 B_PGTABLE,
		 L_VTD20,
		 {S1(G_PADDING, 1)},
		 0,
		 "non-zero padding"},
		{"padding last byte",
		 B_PGTABLE,
		 L_VTD20,
		 {S1(G_PADDING + 11, 0x80)},
		 0,
		 "non-zero padding"},
		{"addr width 0", B_PGTABLE, L_VTD20, {S4(G_ADDRW, 0)}, 0, "address width 0"},
		{"addr width 39", B_PGTABLE, L_VTD20, {S4(G_ADDRW, 39)}, 0, "address width 39"},
		{"addr width 47", B_PGTABLE, L_VTD20, {S4(G_ADDRW, 47)}, 0, "address width 47"},
		{"addr width 56", B_PGTABLE, L_VTD20, {S4(G_ADDRW, 56)}, 0, "address width 56"},
		{"addr width 64", B_PGTABLE, L_VTD20, {S4(G_ADDRW, 64)}, 0, "address width 64"},
		{"gpgd 0", B_PGTABLE, L_VTD20, {S8(G_GPGD, 0)}, 0, "page directory 0x0"},
		{"gpgd +1",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_GPGD, 0x12345001)},
		 0,
		 "0x12345001 not 4 KiB"},
		{"gpgd +0x800",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_GPGD, 0x12345800)},
		 0,
		 "not 4 KiB aligned"},
		{"gpgd 64 B aligned",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_GPGD, 0x40)},
		 0,
		 "not 4 KiB aligned"},
		{"hpasid 0",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_HPASID, 0)},
		 0,
		 "PASID 0 outside 1..1048575"},
		{"hpasid 2^20", B_PGTABLE, L_VTD20, {S8(G_HPASID, 0x100000)}, 0, "PASID 1048576"},
		{"hpasid 2^32 + 5 (truncation)",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_HPASID, (1ull << 32) + 5)},
		 0,
		 "PASID 4294967301 outside"},
		{"hpasid 2^16 of 16 bits",
		 B_PGTABLE,
		 L_VTD16,
		 {S8(G_HPASID, 0x10000)},
		 0,
		 "PASID 65536 outside 1..65535"},
		{"hpasid 4 of 2 bits",
		 B_PGTABLE,
		 L_VTD2,
		 {S8(G_HPASID, 4)},
		 0,
		 "PASID 4 outside 1..3"},
		{"hpasid 1 of 0 bits", B_PGTABLE, L_VTD0, {S8(G_HPASID, 1)}, 0, "PASID 1 outside"},
		{"gpasid without GPASID_VAL",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_GPASID, 3)},
		 0,
		 "guest PASID 3 invalid"},
		{"gpasid 2^20",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_FLAGS, 1), S8(G_GPASID, 0x100000)},
		 0,
		 "guest PASID 1048576 invalid"},
		{"gpasid 2^32",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_FLAGS, 1), S8(G_GPASID, 1ull << 32)},
		 0,
		 "guest PASID 4294967296 invalid"},
		{"vtd flag bit 6",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_VTD_FLAGS, 0x40)},
		 0,
		 "VT-d flags 0x40"},
		{"vtd flag bit 63",
		 B_PGTABLE,
		 L_VTD20,
		 {S8(G_VTD_FLAGS, (1ull << 63) | 1)},
		 0,
		 "VT-d flags 0x8000000000000000"},

		/* PASID-table payload. */
		{"table model 0",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(PT_MODEL, 0)},
		 0,
		 "unknown PASID table model 0"},
		{"table model 3",
		 B_TBL_VTD,
		 L_VTD20,
		 {S4(PT_MODEL, 3)},
		 0,
		 "unknown PASID table model 3"},
		{"smmu table on VT-d", B_TBL_SMMU, L_VTD20, {}, 0, "model smmu does not match"},
		{"vtd table on SMMU", B_TBL_VTD, L_SMMU20, {}, 0, "model vtd does not match"},
		{"vtd table on no model", B_TBL_VTD, L_NONE20, {}, 0, "does not match"},
		{"opaque length 8", B_TBL_VTD, L_VTD20, {S4(PT_LENGTH, 8)}, 0, "vendor data"},
		{"opaque length on SMMU",
		 B_TBL_SMMU,
		 L_SMMU20,
		 {S4(PT_LENGTH, 1)},
		 0,
		 "vendor data"},
		{"vtd ptr 0", B_TBL_VTD, L_VTD20, {S8(PT_PTR, 0)}, 0, "pointer 0x0 not 4096-byte"},
		{"smmu ptr 0", B_TBL_SMMU, L_SMMU20, {S8(PT_PTR, 0)}, 0, "pointer 0x0 not 64-byte"},
		{"vtd ptr 64 B aligned",
		 B_TBL_VTD,
		 L_VTD20,
		 {S8(PT_PTR, 0x7f040)},
		 0,
		 "pointer 0x7f040 not 4096-byte aligned"},
		{"vtd ptr +1",
		 B_TBL_VTD,
		 L_VTD20,
		 {S8(PT_PTR, 0x7f001)},
		 0,
		 "not 4096-byte aligned"},
		{"smmu ptr +32",
		 B_TBL_SMMU,
		 L_SMMU20,
		 {S8(PT_PTR, 0x1020)},
		 0,
		 "pointer 0x1020 not 64-byte aligned"},
		{"smmu ptr +1",
		 B_TBL_SMMU,
		 L_SMMU20,
		 {S8(PT_PTR, 0x1001)},
		 0,
		 "not 64-byte aligned"},
		{"table size 0",
		 B_TBL_VTD,
		 L_VTD20,
		 {S8(PT_SIZE, 0)},
		 0,
		 "size 0 not a multiple of 64"},
		{"table size 100", B_TBL_VTD, L_VTD20, {S8(PT_SIZE, 100)}, 0, "100 not a multiple"},
		{"table size 63",
		 B_TBL_SMMU,
		 L_SMMU20,
		 {S8(PT_SIZE, 63)},
		 0,
		 "not a multiple of 64"},
		{"vtd table 2^20 + 1 entries",
		 B_TBL_VTD,
		 L_VTD20,
		 {S8(PT_SIZE, (64ull << 20) + 64)},
		 0,
		 "exceeds 1048576 entries"},
		{"vtd table 2^16 + 1 entries of 16 bits",
		 B_TBL_VTD,
		 L_VTD16,
		 {S8(PT_SIZE, (64ull << 16) + 64)},
		 0,
		 "table size 4194368 exceeds 65536 entries"},
		{"vtd table 5 entries of 2 bits",
		 B_TBL_VTD,
		 L_VTD2,
		 {S8(PT_SIZE, 320)},
		 0,
		 "exceeds 4 entries"},
		{"smmu table 2^16 + 1 CDs",
		 B_TBL_SMMU,
		 L_SMMU16,
		 {S8(PT_SIZE, (64ull << 16) + 64)},
		 0,
		 "exceeds 65536 entries"},
		{"smmu table 2^20 + 1 CDs",
		 B_TBL_SMMU,
		 L_SMMU20,
		 {S8(PT_SIZE, (64ull << 20) + 64)},
		 0,
		 "exceeds 1048576 entries"},
		{"table size 2^63",
		 B_TBL_VTD,
		 L_VTD20,
		 {S8(PT_SIZE, 1ull << 63)},
		 0,
		 "exceeds 1048576 entries"},
	};
	return cr_make_param_array(struct check_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct check_case *c, seed_check, rejects)
{
	char why[128];
	int r;

	memset(why, 0, sizeof(why));
	/* size 0xffffffff stands for a zero-byte argument. */
	if (c->size == 0xffffffff) {
		struct seed_limits lim = limits_of(c->lim);
		unsigned char none[1] = {0xff};
		r = seed_check(none, 0, &lim, why, sizeof(why));
	} else {
		r = run_check(c, why, sizeof(why));
	}
	cr_assert_eq(r, -EINVAL, "%s: got %d (%s), want -EINVAL", c->name, r, why);
	cr_assert_neq(why[0], 0, "%s: no reason given", c->name);
	cr_assert_not_null(strstr(why, c->why), "%s: reason '%s' lacks '%s'", c->name, why, c->why);
	cr_assert_null(strchr(why, '\n'), "%s: reason is not one line: '%s'", c->name, why);
}

Test(seed_check, reason_truncated_to_buffer)
{
	struct check_case c = {.name = "short why", .base = B_PGTABLE, .set = {S4(G_ADDRW, 39)}};
	char why[9];

	memset(why, 'x', sizeof(why));
	cr_assert_eq(run_check(&c, why, 8), -EINVAL);
	cr_assert_str_eq(why, "address");
	cr_assert_eq(why[8], 'x', "wrote past whylen");
}
