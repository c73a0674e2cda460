/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine: rule files compile into an immutable snapshot, and a decision is a pure
 * function of (snapshot, subject, request). No I/O and no logging here: names are resolved
 * through callbacks and problems come back as diagnostics, so the whole engine is unit-tested.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum policy_op {
	POLICY_OP_BIND_TASK,
	POLICY_OP_BIND_PGTABLE,
	POLICY_OP_BIND_PASID_TABLE,
	POLICY_OP_OPEN_DEVICE,
	_POLICY_OP_MAX,
	_POLICY_OP_INVALID = -1,
};
#define POLICY_OPS_ALL ((1u << _POLICY_OP_MAX) - 1)

enum policy_verdict {
	POLICY_DENY,
	POLICY_ALLOW,
};

enum policy_targets {
	POLICY_TARGETS_SELF,      /* task binds of the caller only (the default) */
	POLICY_TARGETS_SAME_USER, /* also other processes the caller could ptrace */
};

/* What an unknown user or group name compiles to: an id that never matches. */
#define POLICY_ID_UNRESOLVED ((uint32_t)-1)

struct pasid_range {
	uint32_t lo, hi;
};

struct policy_rule {
	enum policy_verdict verdict;
	unsigned ops; /* bit per enum policy_op */
	uid_t *users;
	size_t n_users;
	gid_t *groups;
	size_t n_groups;
	char **devices; /* fnmatch(3) globs */
	size_t n_devices;
	struct pasid_range *pasids;
	size_t n_pasids;
	bool pasid_key;  /* pasid= given */
	bool pasid_auto; /* pasid=auto given */
	bool max_key;
	bool targets_key;
	unsigned max;                /* live bindings per uid under this rule; valid if max_key */
	enum policy_targets targets; /* unsaid: self for allow, same-user for deny */
	const char *file;            /* points into the snapshot's file table */
	unsigned line;
	char *text; /* the rule as written, comment stripped */
	unsigned index;
};

struct policy {
	struct policy_rule *rules;
	size_t n_rules;
	char **files; /* every file added, in order */
	size_t n_files;
	size_t n_errors, n_warnings;
	char **diags; /* "file:line:col: error|warning: message" */
	size_t n_diags;
	/* Rules per op, in file order: a decision walks only the rules naming its op. */
	struct policy_rule **by_op[_POLICY_OP_MAX];
	size_t n_by_op[_POLICY_OP_MAX];
};

/* Who asks: from the kernel (socket credentials or bus credentials), never from the payload. */
struct policy_subject {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups */
	size_t n_groups;
};

struct policy_request {
	enum policy_op op;
	const char *device;
	uint32_t pasid;    /* 0: auto (the kernel chooses) */
	bool other_target; /* a task bind of a process other than the caller */
};

struct policy_decision {
	enum policy_verdict verdict;
	const struct policy_rule *rule; /* NULL: no rule matched (default deny) */
};

struct policy_resolver {
	/* Return 0 and the id, or a negative errno (-ENOENT: no such name). */
	int (*user)(const char *name, uid_t *ret, void *userdata);
	int (*group)(const char *name, gid_t *ret, void *userdata);
	void *userdata;
};

struct policy *policy_new(void);
struct policy *policy_free(struct policy *p);

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

/* First matching rule wins; no match is deny. Root gets no implicit allow. */
void policy_decide(const struct policy *p, const struct policy_subject *s,
		   const struct policy_request *r, struct policy_decision *ret);

/*
 * Like policy_decide(), and calls step() for each rule considered, in order: `why` is NULL for
 * the deciding rule, else the first key that did not hold, in words (valid during the call).
 */
void policy_explain(const struct policy *p, const struct policy_subject *s,
		    const struct policy_request *r, struct policy_decision *ret,
		    void (*step)(const struct policy_rule *rule, const char *why, void *userdata),
		    void *userdata);

/* "bind-task", ... and back (-EINVAL for an unknown name). */
const char *policy_op_name(enum policy_op op);
int policy_op_from_name(const char *s);
