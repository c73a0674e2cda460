/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine: rule files compile into an immutable snapshot, and a decision is a pure
 * function of (snapshot, the caller's identity, request). No I/O and no logging here: names are
 * resolved through callbacks and problems come back as diagnostics, so the whole engine is
 * unit-tested. The language is documented in svmd.policy(5).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "hashmap.h"
#include "identity.h"

enum policy_op {
	POLICY_OP_BIND_TASK,
	POLICY_OP_BIND_PGTABLE,
	POLICY_OP_BIND_PASID_TABLE,
	POLICY_OP_OPEN_DEVICE,
	POLICY_OP_MAP,        /* named explicitly only: it pins memory */
	POLICY_OP_RELOAD,     /* named explicitly only: '*' does not include it */
	POLICY_OP_INVALIDATE, /* named explicitly only: on a nested binding of one's own */
	POLICY_OP_POLICY,  /* reading the rules in force (svmctl policy): named explicitly only */
	POLICY_OP_METRICS, /* reading the counters (svmctl metrics): named explicitly only */
	_POLICY_OP_MAX,
	_POLICY_OP_INVALID = -1,
};
/* What '*' means: every bind and open-device (map, reload and invalidate are named
 * explicitly). */
#define POLICY_OPS_ALL ((1u << POLICY_OP_MAP) - 1)

enum policy_verdict {
	POLICY_DENY,
	POLICY_ALLOW,
};

enum policy_targets {
	POLICY_TARGETS_SELF,      /* task binds of the caller only */
	POLICY_TARGETS_SAME_USER, /* also other processes the caller could ptrace */
};

/* The keys of a rule, in the order a decision tests them (explain names the first that fails). */
enum policy_key {
	POLICY_KEY_USER,
	POLICY_KEY_GROUP,
	POLICY_KEY_UNIT,
	POLICY_KEY_EXE,
	POLICY_KEY_DEVICE,
	POLICY_KEY_IOMMU_GROUP,
	POLICY_KEY_PCI_ID,
	POLICY_KEY_MODEL,
	POLICY_KEY_PASID,
	POLICY_KEY_ADDR_WIDTH,
	POLICY_KEY_VTD_FLAGS,
	POLICY_KEY_IOVA,
	POLICY_KEY_TARGETS, /* Limits, applied after the match (every key before these is a match
			       key): */
	POLICY_KEY_MAX_UID, /* max= */
	POLICY_KEY_MAX_DEVICE,
	POLICY_KEY_RATE,
	POLICY_KEY_MAX_BYTES,
	POLICY_KEY_MAX_DEVICE_BYTES,
	_POLICY_KEY_MAX,
};

/* What an unknown user or group name compiles to: an id that never matches. */
#define POLICY_ID_UNRESOLVED ((uint32_t)-1)

struct pasid_range {
	uint32_t lo, hi;
};

struct pci_id {
	uint16_t vendor, device;
};

/* An IOVA range, both ends included. */
struct iova_range {
	uint64_t lo, hi;
};

struct policy_rule {
	enum policy_verdict verdict;
	unsigned ops;  /* bit per enum policy_op */
	unsigned keys; /* bit per enum policy_key given */
	uid_t *users;
	size_t n_users;
	gid_t *groups;
	size_t n_groups;
	char **units; /* fnmatch(3) globs on the caller's unit and slices */
	size_t n_units;
	char **exes; /* exact executable paths */
	size_t n_exes;
	char **devices; /* fnmatch(3) globs on the PCI address */
	size_t n_devices;
	uint32_t *iommu_groups;
	size_t n_iommu_groups;
	struct pci_id *pci_ids;
	size_t n_pci_ids;
	unsigned models; /* bit per enum svmd_model */
	struct pasid_range *pasids;
	size_t n_pasids;
	bool pasid_auto;          /* pasid=auto given */
	unsigned addr_widths;     /* bit 0: 48, bit 1: 57 */
	uint64_t vtd_flags;       /* the VT-d flags a page-table bind may set */
	struct iova_range *iovas; /* where a map may lie (wholly within one) */
	size_t n_iovas;
	enum policy_targets targets; /* unsaid: self for allow, same-user for deny */
	unsigned max;                /* live bindings per uid under this rule */
	unsigned max_device;         /* live bindings per device under this rule */
	unsigned rate;               /* requests per second per uid under this rule */
	uint64_t max_bytes;          /* bytes mapped per uid under this rule */
	uint64_t max_device_bytes;   /* bytes mapped per device under this rule */
	bool revoke;                 /* deny: on reload, end live bindings this rule now denies */
	char *key_text[_POLICY_KEY_MAX]; /* the keys as written, for explain */
	const char *file;                /* points into the snapshot's file table */
	unsigned line;
	char *text; /* the rule as written, comment stripped */
	unsigned index;
};

/* Rules of one op that a decision must consider, in file order. */
struct rule_list {
	const struct policy_rule **rules;
	size_t n;
};

/* An index bucket: the rules of one op naming one exact device (or uid). */
struct rule_bucket {
	struct hnode node;
	unsigned op;
	uid_t uid;
	char name[24]; /* the exact device */
	struct rule_list list;
};

struct policy {
	struct policy_rule *rules;
	size_t n_rules;
	char **files; /* every file added, in order */
	size_t n_files;
	size_t n_errors, n_warnings;
	char **diags; /* "file:line:col: error|warning: message" */
	size_t n_diags;
	bool uses_unit, uses_exe; /* resolve those only when a rule asks */
	/* The index (policy_seal): per op, every rule (explain walks these); rules naming exact
	 * devices by device, else rules naming users by uid, else the rest (generic). A decision
	 * merges its device's bucket, its uid's bucket and the generic list, in file order. */
	struct rule_list by_op[_POLICY_OP_MAX];
	struct rule_list generic[_POLICY_OP_MAX];
	struct hashmap by_device; /* key: hash of (op, device name) */
	struct hashmap by_uid;    /* key: op << 32 | uid */
	/* policy_lint(): the rule pairs it compared (the tests hold it to the index's cost), and,
	 * for the tests, comparing every earlier rule instead of the index's candidates. */
	size_t n_lint_pairs;
	bool lint_all_pairs;
};

struct policy_request {
	enum policy_op op;
	const char *device; /* NULL for reload */
	uint32_t iommu_group;
	uint16_t vendor, device_id;
	uint32_t model;      /* the device's IOMMU: enum svmd_model */
	uint32_t pasid;      /* 0: auto (the kernel chooses) */
	bool other_target;   /* a task bind of a process other than the caller */
	uint32_t addr_width; /* page-table binds */
	uint64_t vtd_flags;  /* page-table binds */
	uint64_t iova;       /* maps: [iova, iova + length) */
	uint64_t length;     /* 0: the IOVA alone (explain) */
};

struct policy_decision {
	enum policy_verdict verdict;
	const struct policy_rule *rule; /* NULL: no rule matched (default deny) */
};

struct policy_resolver {
	/* Return 0 and the id, or a negative errno: -ENOENT for no such name (a warning), any
	 * other for a failed lookup (an error: the file does not compile). */
	int (*user)(const char *name, uid_t *ret, void *userdata);
	int (*group)(const char *name, gid_t *ret, void *userdata);
	void *userdata;
};

struct policy *policy_new(void);
struct policy *policy_free(struct policy *p);
DEFINE_FREE_FUNC(struct policy, policy_free);

/*
 * Compiles one file's text (len bytes, need not be NUL-terminated) and appends its rules.
 * Errors and warnings are added to p->diags with file:line:col. Returns 0 when the file had no
 * errors, -EINVAL when it had some, -ENOMEM when out of memory.
 */
int policy_add_file(struct policy *p, const char *file, const char *text, size_t len,
		    const struct policy_resolver *res);

/* Adds a diagnostic not tied to a rule (e.g. a file that cannot be read). */
int policy_add_diag(struct policy *p, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Builds the lookup indices. Call once, after the last policy_add_file(). Returns 0 or
 * -ENOMEM. */
int policy_seal(struct policy *p);

/*
 * Adds warnings, at most one of each kind per rule: for a rule that can never match because
 * earlier rules shadow it (naming the first, with a count of the others), and for a rule
 * granting PASIDs that earlier rules also grant to other subjects on overlapping devices (the
 * same). Call after policy_seal(): a rule is compared with the rules a decision for a request
 * it matches would consider before it (its device's, its uid's and the generic list), and with
 * the grants whose PASID ranges overlap its own, not with every rule. For `svmd
 * --check-policy`, not for start-up or reloads. Returns 0 or -ENOMEM.
 */
int policy_lint(struct policy *p);

/* First matching rule wins; no match is deny. Root gets no implicit allow. Cost: the rules of
 * the op that name this device, this uid, or neither; not every rule. */
void policy_decide(const struct policy *p, const struct identity *s, const struct policy_request *r,
		   struct policy_decision *ret);

/*
 * Like policy_decide(), walking every rule of the op, and calls step() for each rule
 * considered, in order: `why` is NULL for the deciding rule, else the first key that did not
 * hold, in words (valid during the call).
 */
void policy_explain(const struct policy *p, const struct identity *s,
		    const struct policy_request *r, struct policy_decision *ret,
		    void (*step)(const struct policy_rule *rule, const char *why, void *userdata),
		    void *userdata);

/* "bind-task", ... and back (-EINVAL for an unknown name). */
const char *policy_op_name(enum policy_op op);
int policy_op_from_name(const char *s);

/* The system unit and its slices in a cgroup path, innermost first: the slices from the root
 * down to the first unit, that unit, and nothing below it (its owner names what is below):
 * "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope" gives "user@1000.service",
 * "user-1000.slice", "user.slice". A NULL-terminated malloc()ed array of malloc()ed strings;
 * returns the count or -ENOMEM. */
int policy_cgroup_units(const char *path, char ***ret);
