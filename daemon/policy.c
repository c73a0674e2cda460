/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy files to rules, rules to verdicts. Grammar (one rule per line, `#` starts a comment):
 *
 *   allow|deny OPS KEY=VALUE... [revoke]
 *
 * The same key repeated (or a comma list) means any of its values; different keys must all
 * hold; a key that does not apply to the op (pasid= for open-device) never holds. max=,
 * max-device=, rate=, max-bytes= and max-device-bytes= are limits applied after the match.
 * svmd.policy(5) is the reference.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "policy.h"
#include "svmd-proto.h"
#include "util.h"

#define LIMIT_MAX 1000000u

static const char *const op_names[_POLICY_OP_MAX] = {
	[POLICY_OP_BIND_TASK] = "bind-task",
	[POLICY_OP_BIND_PGTABLE] = "bind-pgtable",
	[POLICY_OP_BIND_PASID_TABLE] = "bind-pasid-table",
	[POLICY_OP_OPEN_DEVICE] = "open-device",
	[POLICY_OP_MAP] = "map",
	[POLICY_OP_RELOAD] = "reload",
	[POLICY_OP_POLICY] = "policy",
	[POLICY_OP_METRICS] = "metrics",
	[POLICY_OP_INVALIDATE] = "invalidate",
};

#define OP(o)      (1u << POLICY_OP_##o)
#define DEVICE_OPS (POLICY_OPS_ALL | OP(MAP))
/* Keys about the device and PASID a request is on hold for invalidate too (its binding's). */
#define ON_DEVICE_OPS (DEVICE_OPS | OP(INVALIDATE))
#define ALL_OPS       ((1u << _POLICY_OP_MAX) - 1)

/* Which ops each key can hold for; for the others it never holds. */
static const struct {
	const char *name;
	unsigned ops;
} keys[_POLICY_KEY_MAX] = {
	[POLICY_KEY_USER] = {"user", ALL_OPS},
	[POLICY_KEY_GROUP] = {"group", ALL_OPS},
	[POLICY_KEY_UNIT] = {"unit", ALL_OPS},
	[POLICY_KEY_EXE] = {"exe", ALL_OPS},
	[POLICY_KEY_DEVICE] = {"device", ON_DEVICE_OPS},
	[POLICY_KEY_IOMMU_GROUP] = {"iommu-group", ON_DEVICE_OPS},
	[POLICY_KEY_PCI_ID] = {"pci-id", ON_DEVICE_OPS},
	[POLICY_KEY_MODEL] = {"model", ON_DEVICE_OPS},
	[POLICY_KEY_PASID] = {"pasid", OP(BIND_TASK) | OP(BIND_PGTABLE) | OP(INVALIDATE)},
	[POLICY_KEY_ADDR_WIDTH] = {"addr-width", OP(BIND_PGTABLE)},
	[POLICY_KEY_VTD_FLAGS] = {"vtd-flags", OP(BIND_PGTABLE)},
	[POLICY_KEY_IOVA] = {"iova", OP(MAP)},
	[POLICY_KEY_TARGETS] = {"targets", ALL_OPS},
	[POLICY_KEY_MAX_UID] = {"max", DEVICE_OPS},
	[POLICY_KEY_MAX_DEVICE] = {"max-device", DEVICE_OPS},
	[POLICY_KEY_RATE] = {"rate", ALL_OPS},
	[POLICY_KEY_MAX_BYTES] = {"max-bytes", OP(MAP)},
	[POLICY_KEY_MAX_DEVICE_BYTES] = {"max-device-bytes", OP(MAP)},
};
#define KEY(k)       (1u << POLICY_KEY_##k)
#define BYTE_KEYS    (KEY(MAX_BYTES) | KEY(MAX_DEVICE_BYTES))
#define LIMIT_KEYS   (KEY(MAX_UID) | KEY(MAX_DEVICE) | KEY(RATE) | BYTE_KEYS)
#define SUBJECT_KEYS (KEY(USER) | KEY(GROUP) | KEY(UNIT) | KEY(EXE))

static const char *const vtd_flag_names[] = {"sre", "eafe", "pcd", "pwt", "emte", "cd"};

const char *policy_op_name(enum policy_op op)
{
	return op >= 0 && op < _POLICY_OP_MAX ? op_names[op] : "unknown";
}

int policy_op_from_name(const char *s)
{
	for (int i = 0; i < _POLICY_OP_MAX; i++)
		if (strcmp(s, op_names[i]) == 0)
			return i;
	return -EINVAL;
}

struct policy *policy_new(void)
{
	return calloc(1, sizeof(struct policy));
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_done(struct policy_rule *r)
{
	free(r->users);
	free(r->groups);
	free_strv(r->units, r->n_units);
	free_strv(r->exes, r->n_exes);
	free_strv(r->devices, r->n_devices);
	free(r->iommu_groups);
	free(r->pci_ids);
	free(r->pasids);
	free(r->iovas);
	for (int k = 0; k < _POLICY_KEY_MAX; k++)
		free(r->key_text[k]);
	free(r->text);
}

static void free_buckets(struct hashmap *h)
{
	hashmap_for_each_safe (e, h) {
		struct rule_bucket *b = container_of(e, struct rule_bucket, node);
		free(b->list.rules);
		free(b);
	}
	hashmap_done(h);
}

static void index_free(struct policy *p);

struct policy *policy_free(struct policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_done(&p->rules[i]);
	free(p->rules);
	free_strv(p->files, p->n_files);
	free_strv(p->diags, p->n_diags);
	index_free(p);
	free(p);
	return NULL;
}

/* Appends one element of size sz to *array holding *n. Returns a pointer to it or NULL. */
static void *grow_one(void *array_p, size_t *n, size_t sz)
{
	void **array = array_p;
	/* Capacity doubles at powers of two, so no separate capacity field is needed. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 1;
		void *a = reallocarray(*array, cap, sz);
		if (!a)
			return NULL;
		*array = a;
	}
	return (char *)*array + (*n)++ * sz;
}

static int vdiag(struct policy *p, bool error, const char *fmt, va_list ap)
{
	char *s = NULL, **slot;

	if (vasprintf(&s, fmt, ap) < 0)
		return -ENOMEM;
	slot = grow_one(&p->diags, &p->n_diags, sizeof(char *));
	if (!slot) {
		free(s);
		return -ENOMEM;
	}
	*slot = s;
	if (error)
		p->n_errors++;
	else
		p->n_warnings++;
	return 0;
}

int policy_add_diag(struct policy *p, bool error, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vdiag(p, error, fmt, ap);
	va_end(ap);
	return r;
}

/* The parse state of one line. */
struct line_ctx {
	struct policy *p;
	const char *file;
	unsigned line;
	const char *start; /* the line's first byte, for columns */
	const struct policy_resolver *res;
	int error; /* set once an error was reported on this line */
};

static int ldiag(struct line_ctx *c, bool error, const char *at, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	r = policy_add_diag(c->p, error, "%s:%u:%u: %s: %s", c->file, c->line,
			    (unsigned)(at - c->start) + 1, error ? "error" : "warning", msg);
	if (error)
		c->error = -EINVAL;
	return r < 0 ? r : error ? -EINVAL : 0;
}

static _printf_(3, 4) int lerr(struct line_ctx *c, const char *at, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ldiag(c, true, at, fmt, ap);
	va_end(ap);
	return r;
}

static _printf_(3, 4) int lwarn(struct line_ctx *c, const char *at, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ldiag(c, false, at, fmt, ap);
	va_end(ap);
	return r;
}

/* Parses a number of at most max without sign or garbage; base 16 with hex. */
static int parse_num(const char *s, size_t n, uint64_t max, bool hex, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > (hex ? 16 : 10))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int d;
		if (isdigit((unsigned char)s[i]))
			d = s[i] - '0';
		else if (hex && isxdigit((unsigned char)s[i]))
			d = tolower((unsigned char)s[i]) - 'a' + 10;
		else
			return -EINVAL;
		v = v * (hex ? 16 : 10) + (uint64_t)d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int parse_u32(const char *s, size_t n, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r = parse_num(s, n, max, false, &v);

	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

typedef int (*item_fn)(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n);

/* Calls item() for each comma-separated item of value[0..n). Empty items are errors. */
static int for_each_item(struct line_ctx *c, const char *key, const char *value, size_t n,
			 item_fn item, struct policy_rule *r)
{
	const char *s = value, *end = value + n;

	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		if (e == s)
			return lerr(c, s, "empty value in %s=", key);
		int k = item(c, r, s, (size_t)(e - s));
		if (k == -ENOMEM)
			return k;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

static int ids_item(struct line_ctx *c, bool user, const char *s, size_t n, uint32_t *ret)
{
	const char *what = user ? "user" : "group";
	char name[256];
	uint32_t id;
	int r;

	if (parse_u32(s, n, POLICY_ID_UNRESOLVED - 1, &id) == 0) {
		*ret = id;
		return 0;
	}
	if (n >= sizeof(name))
		return lerr(c, s, "%s name too long", what);
	memcpy(name, s, n);
	name[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-$", name[i]))
			return lerr(c, s, "invalid %s name '%s'", what, name);
	if (user)
		r = c->res->user ? c->res->user(name, &id, c->res->userdata) : -ENOENT;
	else
		r = c->res->group ? c->res->group(name, &id, c->res->userdata) : -ENOENT;
	if (r == -ENOMEM)
		return r;
	if (r < 0 && r != -ENOENT)
		/* The name service failed: a rule that would mean something else than written
		 * must not come into force. */
		return lerr(c, s,
			    "cannot look up %s '%s': %s; fix the name service or give the %s ID",
			    what, name, strerror(-r), what);
	if (r < 0) {
		/* Not fatal: the entry can never match, and --check-policy says so. */
		r = lwarn(c, s, "unknown %s '%s': this entry never matches", what, name);
		*ret = POLICY_ID_UNRESOLVED;
		return r < 0 ? r : 0;
	}
	*ret = id;
	return 0;
}

static int user_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	uid_t *slot = grow_one(&r->users, &r->n_users, sizeof(uid_t));

	return slot ? ids_item(c, true, s, n, slot) : -ENOMEM;
}

static int group_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	gid_t *slot = grow_one(&r->groups, &r->n_groups, sizeof(gid_t));

	return slot ? ids_item(c, false, s, n, slot) : -ENOMEM;
}

/* Appends a copy of s[0..n) to a string vector, lower-cased if asked. */
static int strv_add(char ***v, size_t *n, const char *s, size_t len, bool lower)
{
	char **slot = grow_one(v, n, sizeof(char *));

	if (!slot)
		return -ENOMEM;
	*slot = strndup(s, len);
	if (!*slot) {
		(*n)--;
		return -ENOMEM;
	}
	for (char *q = *slot; lower && *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return 0;
}

static int device_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	if (n >= 64)
		return lerr(c, s, "device pattern too long");
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && !strchr(":.*?[]!-", s[i]))
			return lerr(c, s + i, "invalid character '%c' in device pattern", s[i]);
	return strv_add(&r->devices, &r->n_devices, s, n, true);
}

static int unit_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	if (n >= 256)
		return lerr(c, s, "unit pattern too long");
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(":_.@-\\*?[]!", s[i]))
			return lerr(c, s + i, "invalid character '%c' in unit pattern", s[i]);
	return strv_add(&r->units, &r->n_units, s, n, false);
}

static int iommu_group_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	uint32_t g = 0, *slot;

	if (parse_u32(s, n, UINT32_MAX, &g) < 0)
		return lerr(c, s, "invalid IOMMU group '%.*s'", (int)n, s);
	slot = grow_one(&r->iommu_groups, &r->n_iommu_groups, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = g;
	return 0;
}

static int pci_id_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	uint64_t v, d;
	struct pci_id *slot;

	if (n != 9 || s[4] != ':' || parse_num(s, 4, 0xffff, true, &v) < 0 ||
	    parse_num(s + 5, 4, 0xffff, true, &d) < 0)
		return lerr(c, s, "invalid PCI id '%.*s' (want VVVV:DDDD in hex)", (int)n, s);
	slot = grow_one(&r->pci_ids, &r->n_pci_ids, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = (struct pci_id){(uint16_t)v, (uint16_t)d};
	return 0;
}

static int model_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	if (n == 3 && memcmp(s, "vtd", 3) == 0)
		r->models |= 1u << SVMD_MODEL_VTD;
	else if (n == 4 && memcmp(s, "smmu", 4) == 0)
		r->models |= 1u << SVMD_MODEL_SMMU;
	else
		return lerr(c, s, "invalid model '%.*s' (want vtd or smmu)", (int)n, s);
	return 0;
}

static int pasid_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	const char *dash = memchr(s, '-', n);
	struct pasid_range range, *slot;

	if (n == 4 && memcmp(s, "auto", 4) == 0) {
		r->pasid_auto = true;
		return 0;
	}
	if (dash) {
		if (parse_u32(s, (size_t)(dash - s), UINT32_MAX, &range.lo) < 0 ||
		    parse_u32(dash + 1, n - (size_t)(dash - s) - 1, UINT32_MAX, &range.hi) < 0)
			return lerr(c, s, "invalid PASID range '%.*s' (want N-M)", (int)n, s);
	} else if (parse_u32(s, n, UINT32_MAX, &range.lo) < 0) {
		return lerr(c, s, "invalid PASID '%.*s' (want auto, N or N-M)", (int)n, s);
	} else {
		range.hi = range.lo;
	}
	if (range.lo < 1 || range.hi > SVMD_PASID_MAX)
		return lerr(c, s, "PASID '%.*s' outside 1-1048575", (int)n, s);
	if (range.lo > range.hi)
		return lerr(c, s, "empty PASID range '%.*s'", (int)n, s);
	slot = grow_one(&r->pasids, &r->n_pasids, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = range;
	return 0;
}

static int addr_width_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	if (n == 2 && memcmp(s, "48", 2) == 0)
		r->addr_widths |= 1u << 0;
	else if (n == 2 && memcmp(s, "57", 2) == 0)
		r->addr_widths |= 1u << 1;
	else
		return lerr(c, s, "invalid address width '%.*s' (want 48 or 57)", (int)n, s);
	return 0;
}

static int vtd_flags_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	uint64_t v;

	if (n == 4 && memcmp(s, "none", 4) == 0)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(vtd_flag_names); i++)
		if (n == strlen(vtd_flag_names[i]) && memcmp(s, vtd_flag_names[i], n) == 0) {
			r->vtd_flags |= 1ull << i;
			return 0;
		}
	if (n > 2 && s[0] == '0' && s[1] == 'x' &&
	    parse_num(s + 2, n - 2, UINT64_MAX, true, &v) == 0) {
		if (v & ~(uint64_t)SVMD_VTD_FLAGS_ALL)
			return lerr(c, s, "unknown VT-d flag bits in '%.*s' (known: 0x3f)", (int)n,
				    s);
		r->vtd_flags |= v;
		return 0;
	}
	return lerr(c, s,
		    "invalid VT-d flag '%.*s' (want sre, eafe, pcd, pwt, emte, cd, none or 0xN)",
		    (int)n, s);
}

static int iova_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	const char *dash = memchr(s, '-', n);
	struct iova_range range, *slot;

	if (!dash || parse_u64(s, (size_t)(dash - s), &range.lo) < 0 ||
	    parse_u64(dash + 1, n - (size_t)(dash - s) - 1, &range.hi) < 0)
		return lerr(c, s,
			    "invalid IOVA range '%.*s' (want LO-HI, both included, e.g. "
			    "0x100000-0x1fffffff)",
			    (int)n, s);
	if (range.lo > range.hi)
		return lerr(c, s, "empty IOVA range '%.*s'", (int)n, s);
	slot = grow_one(&r->iovas, &r->n_iovas, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = range;
	return 0;
}

static int op_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	char name[32];
	int op;

	if (n == 1 && s[0] == '*') {
		r->ops |= POLICY_OPS_ALL;
		return 0;
	}
	if (n >= sizeof(name))
		return lerr(c, s, "unknown operation '%.*s'", (int)n, s);
	memcpy(name, s, n);
	name[n] = 0;
	op = policy_op_from_name(name);
	if (op < 0)
		return lerr(c, s,
			    "unknown operation '%s' (want *, bind-task, bind-pgtable, "
			    "bind-pasid-table, open-device, map, reload, invalidate, policy or "
			    "metrics)",
			    name);
	r->ops |= 1u << op;
	return 0;
}

/* A limit: a positive number, with "/s" for rate=. */
static int parse_limit(struct line_ctx *c, struct policy_rule *r, enum policy_key k,
		       const char *tok, const char *value, size_t vlen, unsigned *ret)
{
	uint32_t v = 0;

	if (r->verdict == POLICY_DENY)
		return lerr(c, tok, "%s= on a deny rule has no meaning", keys[k].name);
	if (r->keys & (1u << k))
		return lerr(c, tok, "%s= given twice", keys[k].name);
	if (k == POLICY_KEY_RATE) {
		if (vlen < 3 || memcmp(value + vlen - 2, "/s", 2) != 0)
			return lerr(c, value, "invalid rate '%.*s' (want N/s)", (int)vlen, value);
		vlen -= 2;
	}
	if (parse_u32(value, vlen, LIMIT_MAX, &v) < 0 || v == 0)
		return lerr(c, value, "invalid %s '%.*s' (want 1-%u%s)", keys[k].name,
			    (int)(k == POLICY_KEY_RATE ? vlen + 2 : vlen), value, LIMIT_MAX,
			    k == POLICY_KEY_RATE ? "/s" : "");
	*ret = v;
	return 0;
}

/* A byte limit: a positive size. */
static int parse_bytes_limit(struct line_ctx *c, struct policy_rule *r, enum policy_key k,
			     const char *tok, const char *value, size_t vlen, uint64_t *ret)
{
	uint64_t v = 0;

	if (r->verdict == POLICY_DENY)
		return lerr(c, tok, "%s= on a deny rule has no meaning", keys[k].name);
	if (r->keys & (1u << k))
		return lerr(c, tok, "%s= given twice", keys[k].name);
	if (parse_size(value, vlen, &v) < 0 || v == 0)
		return lerr(c, value, "invalid %s '%.*s' (want a size in bytes, with K, M, G or T)",
			    keys[k].name, (int)vlen, value);
	*ret = v;
	return 0;
}

/* Records the key as written, for explain ("user=alice user=bob"). */
static int note_key(struct policy_rule *r, enum policy_key k, const char *tok, size_t n)
{
	char *old = r->key_text[k], *s;
	size_t o = old ? strlen(old) + 1 : 0; /* with the separating space */

	/* "OLD TOK" or "TOK": put together by hand, as every key of every rule passes here. */
	s = malloc(o + n + 1);
	if (!s)
		return -ENOMEM;
	if (old) {
		memcpy(s, old, o - 1);
		s[o - 1] = ' ';
	}
	memcpy(s + o, tok, n);
	s[o + n] = 0;
	free(old);
	r->key_text[k] = s;
	return 0;
}

static int parse_key(struct line_ctx *c, struct policy_rule *r, const char *tok, size_t n)
{
	static const item_fn items[_POLICY_KEY_MAX] = {
		[POLICY_KEY_USER] = user_item,
		[POLICY_KEY_GROUP] = group_item,
		[POLICY_KEY_UNIT] = unit_item,
		[POLICY_KEY_DEVICE] = device_item,
		[POLICY_KEY_IOMMU_GROUP] = iommu_group_item,
		[POLICY_KEY_PCI_ID] = pci_id_item,
		[POLICY_KEY_MODEL] = model_item,
		[POLICY_KEY_PASID] = pasid_item,
		[POLICY_KEY_ADDR_WIDTH] = addr_width_item,
		[POLICY_KEY_VTD_FLAGS] = vtd_flags_item,
		[POLICY_KEY_IOVA] = iova_item,
	};
	const char *eq = memchr(tok, '=', n);
	const char *value;
	size_t klen, vlen;
	int k, r2;

	if (n == 6 && memcmp(tok, "revoke", 6) == 0) {
		if (r->verdict != POLICY_DENY)
			return lerr(c, tok, "revoke applies to deny rules only");
		r->revoke = true;
		return 0;
	}
	if (!eq)
		return lerr(c, tok, "expected KEY=VALUE, got '%.*s'", (int)n, tok);
	klen = (size_t)(eq - tok);
	value = eq + 1;
	vlen = n - klen - 1;
	for (k = 0; k < _POLICY_KEY_MAX; k++)
		if (klen == strlen(keys[k].name) && memcmp(tok, keys[k].name, klen) == 0)
			break;
	if (k == _POLICY_KEY_MAX)
		return lerr(c, tok, "unknown key '%.*s' (see svmd.policy(5))", (int)klen, tok);
	if (vlen == 0)
		return lerr(c, value, "empty value for '%.*s'", (int)klen, tok);

	switch (k) {
	case POLICY_KEY_EXE:
		/* One path per key: paths may hold commas. */
		if (value[0] != '/' || vlen >= 4096)
			return lerr(c, value, "exe= needs an absolute path");
		r2 = strv_add(&r->exes, &r->n_exes, value, vlen, false);
		break;
	case POLICY_KEY_TARGETS:
		if (vlen == 4 && memcmp(value, "self", 4) == 0)
			r->targets = POLICY_TARGETS_SELF;
		else if (vlen == 9 && memcmp(value, "same-user", 9) == 0)
			r->targets = POLICY_TARGETS_SAME_USER;
		else
			return lerr(c, value, "invalid targets '%.*s' (want self or same-user)",
				    (int)vlen, value);
		r2 = 0;
		break;
	case POLICY_KEY_MAX_UID:
		r2 = parse_limit(c, r, k, tok, value, vlen, &r->max);
		break;
	case POLICY_KEY_MAX_DEVICE:
		r2 = parse_limit(c, r, k, tok, value, vlen, &r->max_device);
		break;
	case POLICY_KEY_RATE:
		r2 = parse_limit(c, r, k, tok, value, vlen, &r->rate);
		break;
	case POLICY_KEY_MAX_BYTES:
		r2 = parse_bytes_limit(c, r, k, tok, value, vlen, &r->max_bytes);
		break;
	case POLICY_KEY_MAX_DEVICE_BYTES:
		r2 = parse_bytes_limit(c, r, k, tok, value, vlen, &r->max_device_bytes);
		break;
	default:
		r2 = for_each_item(c, keys[k].name, value, vlen, items[k], r);
		break;
	}
	if (r2 < 0 || c->error)
		return r2 < 0 ? r2 : c->error;
	r->keys |= 1u << k;
	return note_key(r, (enum policy_key)k, tok, n);
}

/* Splits the next whitespace-separated token off [*s, end). */
static bool next_token(const char **s, const char *end, const char **tok, size_t *n)
{
	const char *q = *s;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q == end || *q == '#')
		return false;
	*tok = q;
	while (q < end && *q != ' ' && *q != '\t')
		q++;
	*n = (size_t)(q - *tok);
	*s = q;
	return true;
}

/* Keys that cannot hold for some of the rule's ops make it an allow for fewer ops than it
 * says (or a deny that never applies to them): worth a warning. */
static int warn_inapplicable(struct line_ctx *c, const struct policy_rule *r, const char *at)
{
	for (int k = 0; k < POLICY_KEY_MAX_UID; k++) {
		unsigned missing = (r->keys & (1u << k)) ? r->ops & ~keys[k].ops : 0;
		if (!missing)
			continue;
		for (int op = 0; op < _POLICY_OP_MAX; op++)
			if (missing & (1u << op)) {
				int e = lwarn(c, at,
					      "%s= does not apply to %s: this rule never "
					      "matches %s",
					      keys[k].name, op_names[op], op_names[op]);
				if (e < 0)
					return e;
			}
	}
	return 0;
}

/* What a line that did not make a rule came to: out of memory, or its error (0: none). */
static int line_result(const struct line_ctx *c, int r)
{
	return r == -ENOMEM ? r : c->error;
}

static int parse_line(struct line_ctx *c, const char *s, const char *end)
{
	_cleanup_(rule_done) struct policy_rule rule = {0};
	const char *tok, *text_end = s, *q = s, *verdict_at;
	size_t n;
	int r = 0;

	for (const char *t = s; t < end; t++)
		if (!isprint((unsigned char)*t) && *t != '\t')
			return lerr(c, t, "control or non-ASCII character");

	if (!next_token(&q, end, &tok, &n))
		return 0; /* blank or comment */
	verdict_at = tok;
	if (n == 5 && memcmp(tok, "allow", 5) == 0)
		rule.verdict = POLICY_ALLOW;
	else if (n == 4 && memcmp(tok, "deny", 4) == 0)
		rule.verdict = POLICY_DENY;
	else
		return lerr(c, tok, "expected 'allow' or 'deny', got '%.*s'", (int)n, tok);

	if (!next_token(&q, end, &tok, &n)) {
		lerr(c, q, "missing operations after '%s'",
		     rule.verdict == POLICY_ALLOW ? "allow" : "deny");
		return line_result(c, r);
	}
	r = for_each_item(c, "operations", tok, n, op_item, &rule);
	text_end = tok + n;
	while (r != -ENOMEM && next_token(&q, end, &tok, &n)) {
		r = parse_key(c, &rule, tok, n);
		text_end = tok + n;
	}
	if (r == -ENOMEM || c->error)
		return line_result(c, r);
	if ((rule.keys & (KEY(MAX_UID) | KEY(MAX_DEVICE))) && (rule.ops & OP(RELOAD))) {
		lerr(c, verdict_at,
		     "max= and max-device= count bindings: they have no meaning "
		     "for reload");
		return line_result(c, r);
	}
	if ((rule.keys & BYTE_KEYS) && (rule.ops & ~OP(MAP))) {
		lerr(c, verdict_at,
		     "max-bytes= and max-device-bytes= count mapped bytes: give them a rule "
		     "for map alone");
		return line_result(c, r);
	}
	/* Unsaid, targets= takes the safe side: an allow grants the caller's own process only, a
	 * deny refuses binds of other processes too. */
	if (!(rule.keys & KEY(TARGETS)))
		rule.targets = rule.verdict == POLICY_ALLOW ? POLICY_TARGETS_SELF
							    : POLICY_TARGETS_SAME_USER;
	r = warn_inapplicable(c, &rule, verdict_at);
	if (r < 0)
		return line_result(c, r);

	rule.text = strndup(verdict_at, (size_t)(text_end - verdict_at));
	struct policy_rule *slot =
		rule.text ? grow_one(&c->p->rules, &c->p->n_rules, sizeof(rule)) : NULL;
	if (!slot)
		return -ENOMEM;
	rule.file = c->file;
	rule.line = c->line;
	rule.index = (unsigned)(c->p->n_rules - 1);
	if (rule.keys & KEY(UNIT))
		c->p->uses_unit = true;
	if (rule.keys & KEY(EXE))
		c->p->uses_exe = true;
	*slot = rule;
	rule = (struct policy_rule){0}; /* the policy's now */
	return 0;
}

int policy_add_file(struct policy *p, const char *file, const char *text, size_t len,
		    const struct policy_resolver *res)
{
	static const struct policy_resolver none = {0};
	struct line_ctx c = {.p = p, .res = res ? res : &none};
	const char *s = text, *end = text + len;
	int result = 0;

	if (strv_add(&p->files, &p->n_files, file, strlen(file), false) < 0)
		return -ENOMEM;
	c.file = p->files[p->n_files - 1];

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		c.line++;
		c.start = s;
		c.error = 0;
		if (memchr(s, 0, (size_t)(e - s))) {
			lerr(&c, memchr(s, 0, (size_t)(e - s)), "NUL byte");
		} else {
			int r = parse_line(&c, s, e);
			if (r == -ENOMEM)
				return r;
		}
		if (c.error)
			result = -EINVAL;
		s = nl ? nl + 1 : end;
	}
	return result;
}

/* The index. */

static uint64_t device_bucket_key(unsigned op, const char *device)
{
	return hash_string(HASH_INIT ^ op, device);
}

static struct rule_bucket *bucket_find(const struct hashmap *h, uint64_t key, unsigned op,
				       const char *device, uid_t uid)
{
	for (struct hnode *n = hashmap_get(h, key); n; n = hashmap_next_same(n)) {
		struct rule_bucket *b = container_of(n, struct rule_bucket, node);
		if (b->op == op && (device ? strcmp(b->name, device) == 0 : b->uid == uid))
			return b;
	}
	return NULL;
}

static int list_add(struct rule_list *l, const struct policy_rule *r)
{
	const struct policy_rule **slot = grow_one(&l->rules, &l->n, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	*slot = r;
	return 0;
}

static int bucket_add(struct hashmap *h, unsigned op, const char *device, uid_t uid,
		      const struct policy_rule *r)
{
	uint64_t key = device ? device_bucket_key(op, device) : (uint64_t)op << 32 | uid;
	struct rule_bucket *b = bucket_find(h, key, op, device, uid);

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->op = op;
		b->uid = uid;
		if (device)
			snprintf(b->name, sizeof(b->name), "%s", device);
		if (hashmap_put(h, &b->node, key) < 0) {
			free(b);
			return -ENOMEM;
		}
	}
	/* A rule naming the same device twice is filed once. */
	if (b->list.n && b->list.rules[b->list.n - 1] == r)
		return 0;
	return list_add(&b->list, r);
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Whether the rule names devices, all of them exact (and short enough for a bucket). */
static bool exact_devices(const struct policy_rule *r)
{
	for (size_t i = 0; i < r->n_devices; i++)
		if (is_glob(r->devices[i]) ||
		    strlen(r->devices[i]) >= sizeof(((struct rule_bucket *)0)->name))
			return false;
	return r->n_devices > 0;
}

/* Whether the rule is filed by device for op. */
static bool filed_by_device(const struct policy_rule *r, unsigned op)
{
	return (keys[POLICY_KEY_DEVICE].ops & (1u << op)) && exact_devices(r);
}

/* Where a rule is filed for one op: every exact device it names, else every resolved uid it
 * names, else the generic list. Returns 0 or -ENOMEM. */
static int file_rule(struct policy *p, unsigned op, const struct policy_rule *r)
{
	int e;

	if (filed_by_device(r, op)) {
		for (size_t i = 0; i < r->n_devices; i++) {
			e = bucket_add(&p->by_device, op, r->devices[i], 0, r);
			if (e < 0)
				return e;
		}
		return 0;
	}
	if (r->n_users) {
		/* Unresolved names never match: a rule with only those is filed nowhere. */
		for (size_t i = 0; i < r->n_users; i++) {
			if (r->users[i] == POLICY_ID_UNRESOLVED)
				continue;
			e = bucket_add(&p->by_uid, op, NULL, r->users[i], r);
			if (e < 0)
				return e;
		}
		return 0;
	}
	return list_add(&p->generic[op], r);
}

static void index_free(struct policy *p)
{
	for (int i = 0; i < _POLICY_OP_MAX; i++) {
		free(p->by_op[i].rules);
		free(p->generic[i].rules);
		p->by_op[i] = p->generic[i] = (struct rule_list){0};
	}
	free_buckets(&p->by_device);
	free_buckets(&p->by_uid);
}

int policy_seal(struct policy *p)
{
	/* Sealing again rebuilds the index from scratch. */
	index_free(p);
	for (unsigned op = 0; op < _POLICY_OP_MAX; op++)
		for (size_t i = 0; i < p->n_rules; i++) {
			const struct policy_rule *r = &p->rules[i];
			if (!(r->ops & (1u << op)))
				continue;
			if (list_add(&p->by_op[op], r) < 0 || file_rule(p, op, r) < 0)
				return -ENOMEM;
		}
	return 0;
}

/* Matching. */

static bool has_group(const struct identity *s, gid_t g)
{
	if (g == POLICY_ID_UNRESOLVED)
		return false;
	if (s->gid == g)
		return true;
	for (size_t i = 0; i < s->n_groups; i++)
		if (s->groups[i] == g)
			return true;
	return false;
}

static bool any_glob(char *const *globs, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (fnmatch(globs[i], s, 0) == 0)
			return true;
	return false;
}

static bool pasid_granted(const struct policy_rule *rule, uint32_t pasid)
{
	if (pasid == 0)
		return rule->pasid_auto;
	for (size_t i = 0; i < rule->n_pasids; i++)
		if (pasid >= rule->pasids[i].lo && pasid <= rule->pasids[i].hi)
			return true;
	return false;
}

/* Whether [iova, iova + length) lies wholly within one of the rule's ranges (length 0: iova). */
static bool iova_granted(const struct policy_rule *rule, uint64_t iova, uint64_t length)
{
	uint64_t last = length ? iova + length - 1 : iova;

	if (last < iova)
		return false;
	for (size_t i = 0; i < rule->n_iovas; i++)
		if (iova >= rule->iovas[i].lo && last <= rule->iovas[i].hi)
			return true;
	return false;
}

/* Says why a key does not hold into buf (after the key's own text), and fails. */
#define MISS(...)                                                                                  \
	do {                                                                                       \
		if (buf)                                                                           \
			snprintf(buf, len, __VA_ARGS__);                                           \
		return false;                                                                      \
	} while (0)

/* The keys about the caller: user, group, unit, exe. */
static bool caller_key_holds(const struct policy_rule *rule, enum policy_key k,
			     const struct identity *s, char *buf, size_t len)
{
	size_t i;

	switch (k) {
	case POLICY_KEY_USER:
		for (i = 0; i < rule->n_users; i++)
			if (rule->users[i] == s->uid && rule->users[i] != POLICY_ID_UNRESOLVED)
				return true;
		MISS("caller is uid %u", (unsigned)s->uid);
	case POLICY_KEY_GROUP:
		for (i = 0; i < rule->n_groups; i++)
			if (has_group(s, rule->groups[i]))
				return true;
		MISS("caller (gid %u, %zu supplementary) is in none of them", (unsigned)s->gid,
		     s->n_groups);
	case POLICY_KEY_UNIT:
		/* Unknown (the caller was gone, say) fails closed: a deny applies, an allow not. */
		if (!s->units) {
			if (rule->verdict == POLICY_DENY)
				return true;
			MISS("the caller's unit is unknown");
		}
		for (i = 0; i < s->n_units; i++)
			if (any_glob(rule->units, rule->n_units, s->units[i]))
				return true;
		if (s->n_units == 0)
			MISS("caller runs in no systemd unit");
		MISS("caller runs in %s%s", s->units[0], s->n_units > 1 ? " (and its slices)" : "");
	default: /* POLICY_KEY_EXE */
		if (!s->exe) {
			if (rule->verdict == POLICY_DENY)
				return true;
			MISS("the caller's executable is unknown");
		}
		for (i = 0; i < rule->n_exes; i++)
			if (strcmp(rule->exes[i], s->exe) == 0)
				return true;
		MISS("caller runs %s", s->exe);
	}
}

/* The keys about the request: the device, its group, ids and IOMMU, and the arguments. */
static bool request_key_holds(const struct policy_rule *rule, enum policy_key k,
			      const struct policy_request *r, char *buf, size_t len)
{
	size_t i;

	switch (k) {
	case POLICY_KEY_DEVICE:
		if (any_glob(rule->devices, rule->n_devices, r->device))
			return true;
		MISS("device is %s", r->device);
	case POLICY_KEY_IOMMU_GROUP:
		for (i = 0; i < rule->n_iommu_groups; i++)
			if (rule->iommu_groups[i] == r->iommu_group)
				return true;
		MISS("%s is in IOMMU group %u", r->device, r->iommu_group);
	case POLICY_KEY_PCI_ID:
		for (i = 0; i < rule->n_pci_ids; i++)
			if (rule->pci_ids[i].vendor == r->vendor &&
			    rule->pci_ids[i].device == r->device_id)
				return true;
		MISS("%s is %04x:%04x", r->device, r->vendor, r->device_id);
	case POLICY_KEY_MODEL:
		if (r->model < 32 && (rule->models & (1u << r->model)))
			return true;
		MISS("%s's IOMMU is %s", r->device, svmd_model_name(r->model) ?: "unknown");
	case POLICY_KEY_PASID:
		if (pasid_granted(rule, r->pasid))
			return true;
		if (r->pasid == 0 && r->op == POLICY_OP_INVALIDATE)
			MISS("PASID 0 (a PASID table, or a page table at the RID) not granted: "
			     "pasid=auto grants it, or leave pasid= out");
		if (r->pasid == 0)
			MISS("auto (kernel-chosen PASID) not granted");
		MISS("PASID %" PRIu32 " not granted", r->pasid);
	case POLICY_KEY_ADDR_WIDTH:
		if ((r->addr_width == 48 && (rule->addr_widths & 1)) ||
		    (r->addr_width == 57 && (rule->addr_widths & 2)))
			return true;
		MISS("request asks for %u", r->addr_width);
	case POLICY_KEY_VTD_FLAGS:
		if (!(r->vtd_flags & ~rule->vtd_flags))
			return true;
		MISS("request sets 0x%" PRIx64, r->vtd_flags);
	case POLICY_KEY_IOVA:
		if (iova_granted(rule, r->iova, r->length))
			return true;
		if (r->length == 0)
			MISS("IOVA 0x%" PRIx64 " not within", r->iova);
		MISS("IOVA range 0x%" PRIx64 "-0x%" PRIx64 " not within one of them", r->iova,
		     r->iova + r->length - 1);
	case POLICY_KEY_TARGETS:
		if (!r->other_target || rule->targets == POLICY_TARGETS_SAME_USER)
			return true;
		MISS("binding another process needs targets=same-user");
	default:
		return true; /* limits are not matched */
	}
}

/* Whether key k of rule holds for (s, r); if not and buf is given, why, as "key: reason". */
static bool key_holds(const struct policy_rule *rule, enum policy_key k, const struct identity *s,
		      const struct policy_request *r, char *buf, size_t len)
{
	int n = 0;

	if (buf)
		n = snprintf(buf, len,
			     "%s: ", rule->key_text[k] ? rule->key_text[k] : keys[k].name);
	if (n < 0 || (size_t)n >= len)
		n = 0;
	if (buf) {
		buf += n;
		len -= (size_t)n;
	}
	if (!(keys[k].ops & (1u << r->op)))
		MISS("does not apply to %s", op_names[r->op]);
	if (k <= POLICY_KEY_EXE)
		return caller_key_holds(rule, k, s, buf, len);
	return request_key_holds(rule, k, r, buf, len);
}
#undef MISS

/* Returns true when every key of the rule holds; else writes what failed (when buf). */
static bool rule_matches(const struct policy_rule *rule, const struct identity *s,
			 const struct policy_request *r, char *buf, size_t len)
{
	if (!(rule->ops & (1u << r->op))) {
		if (buf)
			snprintf(buf, len, "operation %s not in the rule", op_names[r->op]);
		return false;
	}
	/* targets= always takes part: unsaid, it has its verdict's default. */
	unsigned k_set = (rule->keys & ~LIMIT_KEYS) | KEY(TARGETS);
	for (int k = 0; k < POLICY_KEY_MAX_UID; k++)
		if ((k_set & (1u << k)) && !key_holds(rule, (enum policy_key)k, s, r, buf, len))
			return false;
	return true;
}

void policy_explain(const struct policy *p, const struct identity *s,
		    const struct policy_request *r, struct policy_decision *ret,
		    void (*step)(const struct policy_rule *rule, const char *why, void *userdata),
		    void *userdata)
{
	char why_buf[512], *buf = step ? why_buf : NULL;

	*ret = (struct policy_decision){.verdict = POLICY_DENY};
	if (r->op < 0 || r->op >= _POLICY_OP_MAX)
		return;
	for (size_t i = 0; i < p->by_op[r->op].n; i++) {
		const struct policy_rule *rule = p->by_op[r->op].rules[i];
		bool match = rule_matches(rule, s, r, buf, sizeof(why_buf));
		if (step)
			step(rule, match ? NULL : why_buf, userdata);
		if (match) {
			ret->verdict = rule->verdict;
			ret->rule = rule;
			return;
		}
	}
}

void policy_decide(const struct policy *p, const struct identity *s, const struct policy_request *r,
		   struct policy_decision *ret)
{
	static const struct rule_list empty;
	const struct rule_list *lists[3];
	size_t pos[3] = {0, 0, 0};

	*ret = (struct policy_decision){.verdict = POLICY_DENY};
	if (r->op < 0 || r->op >= _POLICY_OP_MAX)
		return;
	const struct rule_bucket *d =
		r->device ? bucket_find(&p->by_device, device_bucket_key(r->op, r->device), r->op,
					r->device, 0)
			  : NULL;
	const struct rule_bucket *u =
		bucket_find(&p->by_uid, (uint64_t)r->op << 32 | s->uid, r->op, NULL, s->uid);
	lists[0] = &p->generic[r->op];
	lists[1] = d ? &d->list : &empty;
	lists[2] = u ? &u->list : &empty;

	/* Merge the three file-ordered lists: the first rule that matches decides. */
	for (;;) {
		const struct policy_rule *next = NULL;
		int from = -1;
		for (int i = 0; i < 3; i++)
			if (pos[i] < lists[i]->n &&
			    (!next || lists[i]->rules[pos[i]]->index < next->index)) {
				next = lists[i]->rules[pos[i]];
				from = i;
			}
		if (!next)
			return;
		pos[from]++;
		if (rule_matches(next, s, r, NULL, 0)) {
			ret->verdict = next->verdict;
			ret->rule = next;
			return;
		}
	}
}

/* Lint. */

static bool ids_subset(const uint32_t *b, size_t nb, const uint32_t *a, size_t na)
{
	for (size_t i = 0; i < nb; i++) {
		size_t j;
		for (j = 0; j < na && a[j] != b[i]; j++)
			;
		if (j == na)
			return false;
	}
	return true;
}

/* Whether glob a matches every name glob b matches. A plain b is a name; for a glob b, a must
 * be b itself or PREFIX*SUFFIX around b's wildcards ('?' or '[' in a could match b's wildcard
 * characters themselves, as in 'vm?' against 'vm*', and cover nothing). */
static bool glob_covers(const char *a, const char *b)
{
	const char *star = strchr(a, '*');
	size_t blen = strlen(b), plen, slen;

	if (!strpbrk(b, "*?[\\"))
		/* A pattern without wildcards or escapes matches itself only. */
		return strpbrk(a, "*?[\\") ? fnmatch(a, b, 0) == 0 : strcmp(a, b) == 0;
	if (strcmp(a, b) == 0)
		return true;
	if (!star || strchr(star + 1, '*') || strpbrk(a, "?[]\\"))
		return false;
	plen = (size_t)(star - a);
	slen = strlen(star + 1);
	return plen + slen <= blen && strncmp(b, a, plen) == 0 &&
	       strcmp(b + blen - slen, star + 1) == 0;
}

/* Every glob of b is covered by some glob of a. */
static bool globs_cover(char *const *a, size_t na, char *const *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++) {
		size_t j;
		for (j = 0; j < na && !glob_covers(a[j], b[i]); j++)
			;
		if (j == na)
			return false;
	}
	return true;
}

static bool strs_subset(char *const *b, size_t nb, char *const *a, size_t na)
{
	for (size_t i = 0; i < nb; i++) {
		size_t j;
		for (j = 0; j < na && strcmp(a[j], b[i]) != 0; j++)
			;
		if (j == na)
			return false;
	}
	return true;
}

static bool pasids_cover(const struct policy_rule *a, const struct policy_rule *b)
{
	if (b->pasid_auto && !a->pasid_auto)
		return false;
	for (size_t i = 0; i < b->n_pasids; i++)
		for (uint32_t v = b->pasids[i].lo;; v++) {
			/* Walk b's range in a's ranges' steps. */
			size_t j;
			for (j = 0;
			     j < a->n_pasids && !(v >= a->pasids[j].lo && v <= a->pasids[j].hi);
			     j++)
				;
			if (j == a->n_pasids)
				return false;
			if (a->pasids[j].hi >= b->pasids[i].hi)
				break;
			v = a->pasids[j].hi;
		}
	return true;
}

/* Whether every map b grants lies within one of a's ranges: each of b's ranges within one of
 * a's (a map lies within one range, so a's ranges need not be merged). */
static bool iovas_cover(const struct policy_rule *a, const struct policy_rule *b)
{
	for (size_t i = 0; i < b->n_iovas; i++) {
		size_t j;
		for (j = 0; j < a->n_iovas &&
			    !(b->iovas[i].lo >= a->iovas[j].lo && b->iovas[i].hi <= a->iovas[j].hi);
		     j++)
			;
		if (j == a->n_iovas)
			return false;
	}
	return true;
}

/* Whether every request rule b matches is matched by a (so b after a never decides). */
static bool covers(const struct policy_rule *a, const struct policy_rule *b)
{
	unsigned ak = a->keys & ~LIMIT_KEYS & ~KEY(TARGETS);

	if ((b->ops & ~a->ops) || (ak & ~b->keys))
		return false;
	if ((ak & KEY(USER)) && !ids_subset(b->users, b->n_users, a->users, a->n_users))
		return false;
	if ((ak & KEY(GROUP)) && !ids_subset(b->groups, b->n_groups, a->groups, a->n_groups))
		return false;
	if ((ak & KEY(UNIT)) && !globs_cover(a->units, a->n_units, b->units, b->n_units))
		return false;
	if ((ak & KEY(EXE)) && !strs_subset(b->exes, b->n_exes, a->exes, a->n_exes))
		return false;
	if ((ak & KEY(DEVICE)) && !globs_cover(a->devices, a->n_devices, b->devices, b->n_devices))
		return false;
	if ((ak & KEY(IOMMU_GROUP)) &&
	    !ids_subset(b->iommu_groups, b->n_iommu_groups, a->iommu_groups, a->n_iommu_groups))
		return false;
	if (ak & KEY(PCI_ID))
		for (size_t i = 0; i < b->n_pci_ids; i++) {
			size_t j;
			for (j = 0; j < a->n_pci_ids && memcmp(&a->pci_ids[j], &b->pci_ids[i],
							       sizeof(struct pci_id)) != 0;
			     j++)
				;
			if (j == a->n_pci_ids)
				return false;
		}
	if ((ak & KEY(MODEL)) && (b->models & ~a->models))
		return false;
	if ((ak & KEY(PASID)) && !pasids_cover(a, b))
		return false;
	if ((ak & KEY(ADDR_WIDTH)) && (b->addr_widths & ~a->addr_widths))
		return false;
	if ((ak & KEY(VTD_FLAGS)) && (b->vtd_flags & ~a->vtd_flags))
		return false;
	if ((ak & KEY(IOVA)) && !iovas_cover(a, b))
		return false;
	/* a must take every target b takes. */
	if (b->targets == POLICY_TARGETS_SAME_USER && a->targets != POLICY_TARGETS_SAME_USER)
		return false;
	return true;
}

static bool same_subject(const struct policy_rule *a, const struct policy_rule *b)
{
	for (int k = 0; k < POLICY_KEY_DEVICE; k++) {
		const char *x = a->key_text[k], *y = b->key_text[k];
		if (!x != !y || (x && strcmp(x, y) != 0))
			return false;
	}
	return true;
}

static bool devices_overlap(const struct policy_rule *a, const struct policy_rule *b)
{
	if (!a->n_devices || !b->n_devices)
		return true;
	for (size_t i = 0; i < a->n_devices; i++)
		for (size_t j = 0; j < b->n_devices; j++) {
			const char *x = a->devices[i], *y = b->devices[j];
			if (!is_glob(x) && !is_glob(y)
				    ? strcmp(x, y) == 0
				    : fnmatch(x, y, 0) == 0 || fnmatch(y, x, 0) == 0)
				return true;
		}
	return false;
}

static bool pasid_overlap(const struct policy_rule *a, const struct policy_rule *b,
			  struct pasid_range *ret)
{
	for (size_t i = 0; i < a->n_pasids; i++)
		for (size_t j = 0; j < b->n_pasids; j++) {
			uint32_t lo = a->pasids[i].lo > b->pasids[j].lo ? a->pasids[i].lo
									: b->pasids[j].lo;
			uint32_t hi = a->pasids[i].hi < b->pasids[j].hi ? a->pasids[i].hi
									: b->pasids[j].hi;
			if (lo <= hi) {
				*ret = (struct pasid_range){lo, hi};
				return true;
			}
		}
	return false;
}

/* n with a comma every three digits, as the warnings print counts. */
static const char *thousands(size_t n, char buf[32])
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%zu", n), o = 0;

	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = 0;
	return buf;
}

/* ", LEAD N other earlier rules": the rules found besides the one a warning names. */
static const char *others(size_t n, const char *lead_one, const char *lead_many, char buf[160])
{
	char num[32];

	if (n == 0)
		return "";
	snprintf(buf, 160, ", %s %s other earlier rule%s", n == 1 ? lead_one : lead_many,
		 thousands(n, num), n == 1 ? "" : "s");
	return buf;
}

/* How many rules of l come before b (l is in file order, which is their order in p->rules). */
static size_t before(const struct rule_list *l, const struct policy_rule *b)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (l->rules[m] < b)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/*
 * The lists holding every rule that could shadow b for op: a rule covering b takes every op b
 * has and every value b gives of each key it has, so it is in b's device bucket (when it is
 * filed by device, so is b, under the same devices), in the bucket of any uid b names (when it
 * is filed by uid), or in the generic list: the lists a decision for a request b matches would
 * merge. Returns how many lists, 0 when b names users but none that exist (it never matches,
 * which a warning already said).
 */
static int shadow_lists(const struct policy *p, const struct policy_rule *b, unsigned op,
			const struct rule_list *ret[3])
{
	const struct rule_bucket *d = NULL, *u = NULL;
	size_t i;
	int n = 0;

	for (i = 0; i < b->n_users && b->users[i] == POLICY_ID_UNRESOLVED; i++)
		;
	if (b->n_users && i == b->n_users)
		return 0;
	if (p->lint_all_pairs) {
		ret[n++] = &p->by_op[op];
		return n;
	}
	ret[n++] = &p->generic[op];
	if (filed_by_device(b, op))
		d = bucket_find(&p->by_device, device_bucket_key(op, b->devices[0]), op,
				b->devices[0], 0);
	if (d)
		ret[n++] = &d->list;
	if (i < b->n_users)
		u = bucket_find(&p->by_uid, (uint64_t)op << 32 | b->users[i], op, NULL,
				b->users[i]);
	if (u)
		ret[n++] = &u->list;
	return n;
}

/*
 * What covers() needs of a rule, packed apart from it, so that the candidates that do not cover
 * are turned down without reading them: the ops and keys, and for users, groups, units,
 * executables and devices whether the rule names a single value (without wildcards), with it
 * (for strings, 32 bits of its hash). A rule naming a single value covers only rules naming that
 * value alone.
 */
struct lint_digest {
	uint32_t ops, keys, one; /* one: bit per key naming a single value */
	uint32_t user, group, unit, exe, device;
};

/* Whether ids are one value repeated, and which. */
static bool one_id(const uint32_t *v, size_t n, uint32_t *ret)
{
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[0])
			return false;
	*ret = n ? v[0] : 0;
	return n > 0;
}

/* Whether strings are one string (without wildcards, for globs) repeated, and its hash. */
static bool one_str(char *const *v, size_t n, bool globs, uint32_t *ret)
{
	if (n == 0 || (globs && strpbrk(v[0], "*?[\\")))
		return false;
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i], v[0]) != 0)
			return false;
	*ret = (uint32_t)hash_string(HASH_INIT, v[0]);
	return true;
}

static void digest_rule(const struct policy_rule *r, struct lint_digest *d)
{
	*d = (struct lint_digest){.ops = r->ops, .keys = r->keys};
	if (one_id(r->users, r->n_users, &d->user))
		d->one |= KEY(USER);
	if (one_id(r->groups, r->n_groups, &d->group))
		d->one |= KEY(GROUP);
	if (one_str(r->units, r->n_units, true, &d->unit))
		d->one |= KEY(UNIT);
	if (one_str(r->exes, r->n_exes, false, &d->exe))
		d->one |= KEY(EXE);
	if (one_str(r->devices, r->n_devices, true, &d->device))
		d->one |= KEY(DEVICE);
}

/* The keys covers() compares, of which a rule covering b names b's value where it names one. */
static unsigned covering_keys(const struct lint_digest *a)
{
	return a->keys & ~LIMIT_KEYS & ~KEY(TARGETS);
}

/* True when a certainly does not cover b; false when covers() must tell. */
static bool digest_rejects(const struct lint_digest *a, const struct lint_digest *b)
{
	unsigned ak = covering_keys(a), one = a->one & ak;

	if ((b->ops & ~a->ops) || (ak & ~b->keys))
		return true;
	/* Where a names one value, b must name that one alone. */
	if ((one & ~b->one) != 0)
		return true;
	return ((one & KEY(USER)) && a->user != b->user) ||
	       ((one & KEY(GROUP)) && a->group != b->group) ||
	       ((one & KEY(UNIT)) && a->unit != b->unit) ||
	       ((one & KEY(EXE)) && a->exe != b->exe) ||
	       ((one & KEY(DEVICE)) && a->device != b->device);
}

/*
 * The rules by the single values they name: a rule naming one value of each key in mask (and
 * several or none of the others) is filed under mask and those values, so the rules that could
 * cover b are, for each mask found among the rules that b names one value of every key of, those
 * filed under it with b's values. However many rules share a device, a rule naming one user is
 * compared only with those naming that user, or none.
 */
struct value_group {
	struct hnode node;
	struct lint_digest values; /* mask and the values of its keys; the rest is zero */
	struct rule_list list;
};

struct value_index {
	struct hashmap groups;
	unsigned masks[32]; /* the masks filed under, at most one per subset of 5 keys */
	size_t n_masks;
};

/* The values of d on the keys of mask, and mask (in one). */
static struct lint_digest values_on(const struct lint_digest *d, unsigned mask)
{
	return (struct lint_digest){
		.one = mask,
		.user = mask & KEY(USER) ? d->user : 0,
		.group = mask & KEY(GROUP) ? d->group : 0,
		.unit = mask & KEY(UNIT) ? d->unit : 0,
		.exe = mask & KEY(EXE) ? d->exe : 0,
		.device = mask & KEY(DEVICE) ? d->device : 0,
	};
}

static uint64_t values_key(const struct lint_digest *v)
{
	uint64_t h = HASH_INIT;
	const uint32_t w[] = {v->one, v->user, v->group, v->unit, v->exe, v->device};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		h = (h ^ w[i]) * 0x100000001b3ull;
	return h;
}

static struct value_group *value_group_find(const struct value_index *x,
					    const struct lint_digest *v)
{
	for (struct hnode *n = hashmap_get(&x->groups, values_key(v)); n;
	     n = hashmap_next_same(n)) {
		struct value_group *g = container_of(n, struct value_group, node);
		if (memcmp(&g->values, v, sizeof(*v)) == 0)
			return g;
	}
	return NULL;
}

/* Files rule r (digested as d) under the values it names one of. */
static int value_index_add(struct value_index *x, const struct policy_rule *r,
			   const struct lint_digest *d)
{
	unsigned mask = d->one & covering_keys(d);
	struct lint_digest v = values_on(d, mask);
	struct value_group *g = value_group_find(x, &v);
	const struct policy_rule **slot;
	size_t i;

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		g->values = v;
		if (hashmap_put(&x->groups, &g->node, values_key(&v)) < 0) {
			free(g);
			return -ENOMEM;
		}
	}
	slot = grow_one(&g->list.rules, &g->list.n, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	*slot = r;
	for (i = 0; i < x->n_masks && x->masks[i] != mask; i++)
		;
	if (i == x->n_masks && x->n_masks < sizeof(x->masks) / sizeof(x->masks[0]))
		x->masks[x->n_masks++] = mask;
	return 0;
}

/* The groups that may hold a rule covering b (digested as d); returns how many. */
static size_t value_index_lists(const struct value_index *x, const struct lint_digest *d,
				const struct rule_list *ret[32])
{
	size_t n = 0;

	for (size_t i = 0; i < x->n_masks; i++) {
		const struct value_group *g;
		struct lint_digest v;
		if (x->masks[i] & ~d->one)
			continue;
		v = values_on(d, x->masks[i]);
		g = value_group_find(x, &v);
		if (g)
			ret[n++] = &g->list;
	}
	return n;
}

static void value_index_done(struct value_index *x)
{
	hashmap_for_each_safe (n, &x->groups) {
		struct value_group *g = container_of(n, struct value_group, node);
		free(g->list.rules);
		free(g);
	}
	hashmap_done(&x->groups);
}

/* The fewest candidates that could cover b: the decision index's lists of one of b's ops, or
 * the value groups. Returns how many lists, in ret. */
static size_t shadow_candidates(const struct policy *p, const struct value_index *x,
				const struct lint_digest *d, const struct policy_rule *b,
				const struct rule_list *ret[32])
{
	const struct rule_list *lists[32];
	size_t cost = 0, n_best, i;

	/* Naming users of which none exist, b never matches (a warning already said so). */
	for (i = 0; i < b->n_users && b->users[i] == POLICY_ID_UNRESOLVED; i++)
		;
	if (b->n_users && i == b->n_users)
		return 0;
	n_best = value_index_lists(x, d, ret);
	for (size_t k = 0; k < n_best; k++)
		cost += before(ret[k], b);
	if (p->lint_all_pairs)
		n_best = 0;
	/* Any op of b will do (a rule covering b has them all). */
	for (unsigned op = 0; op < _POLICY_OP_MAX && (cost > 0 || p->lint_all_pairs); op++) {
		size_t c = 0;
		int n;
		if (!(b->ops & (1u << op)))
			continue;
		n = shadow_lists(p, b, op, lists);
		for (int k = 0; k < n; k++)
			c += before(lists[k], b);
		if (n && (c < cost || p->lint_all_pairs)) {
			cost = c;
			n_best = (size_t)n;
			memcpy(ret, lists, (size_t)n * sizeof(*ret));
			if (p->lint_all_pairs)
				break;
		}
	}
	return n_best;
}

static int lint_shadowed(struct policy *p)
{
	_cleanup_free_ struct lint_digest *dg =
		calloc(p->n_rules ? p->n_rules : 1, sizeof(struct lint_digest));
	struct value_index x = {0};
	int e = dg ? 0 : -ENOMEM;

	for (size_t j = 0; j < p->n_rules && e == 0; j++) {
		digest_rule(&p->rules[j], &dg[j]);
		e = value_index_add(&x, &p->rules[j], &dg[j]);
	}
	for (size_t j = 0; j < p->n_rules && e == 0; j++) {
		const struct policy_rule *b = &p->rules[j], *first = NULL;
		const struct rule_list *best[32];
		size_t n_covering = 0, n_best = shadow_candidates(p, &x, &dg[j], b, best);
		char buf[160];

		for (size_t k = 0; k < n_best; k++)
			for (size_t i = 0, n = before(best[k], b); i < n; i++) {
				const struct policy_rule *a = best[k]->rules[i];
				p->n_lint_pairs++;
				if (digest_rejects(&dg[a - p->rules], &dg[j]) || !covers(a, b))
					continue;
				n_covering++;
				if (!first || a < first)
					first = a;
			}
		if (!first)
			continue;
		e = policy_add_diag(p, false,
				    "%s:%u:1: warning: rule can never match: '%s' (%s:%u) comes "
				    "first and matches all it does%s",
				    b->file, b->line, first->text, first->file, first->line,
				    others(n_covering - 1, "as does", "as do", buf));
	}
	value_index_done(&x);
	return e < 0 ? e : 0;
}

/*
 * PASID grants for the overlap check: one span per PASID range of each allow rule for task or
 * page-table binds, in sets sorted by start. A span array is also a balanced search tree: the
 * middle element of each slice is the root of that slice, and max is the largest end in the
 * subtree it roots, so the spans overlapping a range are found in O(log n) each.
 */
struct span {
	uint32_t lo, hi, max;
	const struct policy_rule *rule;
};

struct spans {
	struct span *v;
	size_t n;
};

/* The spans of the rules naming one exact device (those naming only exact devices). */
struct span_group {
	struct hnode node;
	const char *device;
	struct spans spans;
};

#define PASID_OPS (OP(BIND_TASK) | OP(BIND_PGTABLE))

static bool grants_pasids(const struct policy_rule *r)
{
	return r->verdict == POLICY_ALLOW && (r->ops & PASID_OPS) && r->n_pasids;
}

static int span_cmp(const void *x, const void *y)
{
	const struct span *a = x, *b = y;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static int spans_add(struct spans *s, const struct policy_rule *r)
{
	for (size_t i = 0; i < r->n_pasids; i++) {
		struct span *slot = grow_one(&s->v, &s->n, sizeof(*slot));
		if (!slot)
			return -ENOMEM;
		*slot = (struct span){r->pasids[i].lo, r->pasids[i].hi, r->pasids[i].hi, r};
	}
	return 0;
}

/* Sets max over v[lo, hi) as a tree; returns the largest end in it. */
static uint32_t span_tree(struct span *v, size_t lo, size_t hi)
{
	if (lo >= hi)
		return 0;
	size_t m = lo + (hi - lo) / 2;
	uint32_t l = span_tree(v, lo, m), r = span_tree(v, m + 1, hi);

	v[m].max = v[m].hi > l ? v[m].hi : l;
	if (r > v[m].max)
		v[m].max = r;
	return v[m].max;
}

static void spans_seal(struct spans *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(struct span), span_cmp);
	span_tree(s->v, 0, s->n);
}

static struct span_group *group_find(const struct hashmap *h, const char *device)
{
	for (struct hnode *n = hashmap_get(h, device_bucket_key(0, device)); n;
	     n = hashmap_next_same(n)) {
		struct span_group *g = container_of(n, struct span_group, node);
		if (strcmp(g->device, device) == 0)
			return g;
	}
	return NULL;
}

static int group_add(struct hashmap *h, const char *device, const struct policy_rule *r)
{
	struct span_group *g = group_find(h, device);

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		g->device = device;
		if (hashmap_put(h, &g->node, device_bucket_key(0, device)) < 0) {
			free(g);
			return -ENOMEM;
		}
	}
	return spans_add(&g->spans, r);
}

struct overlap_ctx {
	struct policy *p;
	const struct policy_rule *b, *first;
	unsigned *seen; /* per rule: the index + 1 of the last b it was compared with */
	size_t n;
};

/* Compares b with an earlier rule, once. */
static void overlap_visit(struct overlap_ctx *c, const struct policy_rule *a)
{
	const struct policy_rule *b = c->b;
	struct pasid_range o;

	c->p->n_lint_pairs++;
	if (a >= b || c->seen[a->index] == b->index + 1)
		return;
	c->seen[a->index] = b->index + 1;
	if (!grants_pasids(a) || !(a->ops & b->ops & PASID_OPS) || same_subject(a, b) ||
	    !devices_overlap(a, b) || !pasid_overlap(a, b, &o))
		return;
	c->n++;
	if (!c->first || a < c->first)
		c->first = a;
}

/* Visits the rules of the spans in v[lo, hi) that overlap g. */
static void span_query(struct overlap_ctx *c, const struct span *v, size_t lo, size_t hi,
		       const struct pasid_range *g)
{
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (v[m].max < g->lo)
			return; /* everything here ends before g */
		span_query(c, v, lo, m, g);
		if (v[m].lo > g->hi)
			return; /* everything from here on starts after g */
		if (v[m].hi >= g->lo)
			overlap_visit(c, v[m].rule);
		lo = m + 1;
	}
}

/*
 * A rule granting PASIDs that an earlier rule also grants to another subject on an overlapping
 * device. Candidates: for a rule naming exact devices, the spans on each of its devices and
 * those of rules naming globs or no device; for the others, every span; in both, only spans
 * overlapping its ranges. The decision index does not serve here: a decision never merges the
 * rules of two subjects, and those are the pairs sought.
 */
static int lint_pasid_overlaps(struct policy *p)
{
	static const char lead[] = "and some of this rule's PASIDs to other subjects by";
	struct spans wide = {0}, all = {0};
	struct hashmap groups = {0};
	_cleanup_free_ unsigned *seen = calloc(p->n_rules ? p->n_rules : 1, sizeof(unsigned));
	int e = seen ? 0 : -ENOMEM;

	for (size_t j = 0; j < p->n_rules && e == 0; j++) {
		const struct policy_rule *r = &p->rules[j];
		if (!grants_pasids(r))
			continue;
		e = spans_add(&all, r);
		if (e == 0 && !exact_devices(r))
			e = spans_add(&wide, r);
		for (size_t d = 0; e == 0 && exact_devices(r) && d < r->n_devices; d++)
			e = group_add(&groups, r->devices[d], r);
	}
	if (e == 0) {
		spans_seal(&wide);
		spans_seal(&all);
		hashmap_for_each_safe (n, &groups)
			spans_seal(&container_of(n, struct span_group, node)->spans);
	}

	for (size_t j = 0; j < p->n_rules && e == 0; j++) {
		const struct policy_rule *b = &p->rules[j];
		struct overlap_ctx c = {.p = p, .b = b, .seen = seen};
		bool exact = exact_devices(b);
		struct pasid_range o;
		char buf[160];
		if (!grants_pasids(b))
			continue;
		if (p->lint_all_pairs) {
			for (size_t i = 0; i < j; i++)
				overlap_visit(&c, &p->rules[i]);
		}
		for (size_t i = 0; i < b->n_pasids && !p->lint_all_pairs; i++) {
			const struct pasid_range *g = &b->pasids[i];
			if (!exact) {
				span_query(&c, all.v, 0, all.n, g);
				continue;
			}
			for (size_t d = 0; d < b->n_devices; d++) {
				const struct span_group *sg = group_find(&groups, b->devices[d]);
				span_query(&c, sg->spans.v, 0, sg->spans.n, g);
			}
			span_query(&c, wide.v, 0, wide.n, g);
		}
		if (!c.first)
			continue;
		pasid_overlap(c.first, b, &o);
		e = policy_add_diag(p, false,
				    "%s:%u:1: warning: PASIDs %u-%u are also granted to another "
				    "subject by %s:%u on overlapping devices%s",
				    b->file, b->line, o.lo, o.hi, c.first->file, c.first->line,
				    others(c.n - 1, lead, lead, buf));
	}
	hashmap_for_each_safe (n, &groups) {
		struct span_group *g = container_of(n, struct span_group, node);
		free(g->spans.v);
		free(g);
	}
	hashmap_done(&groups);
	free(wide.v);
	free(all.v);
	return e;
}

int policy_lint(struct policy *p)
{
	int e = lint_shadowed(p);

	return e < 0 ? e : lint_pasid_overlaps(p);
}

int policy_cgroup_units(const char *path, char ***ret)
{
	char **v = NULL;
	size_t n = 0;
	const char *s = path;

	/*
	 * From the root down: the slices, then the first unit, and no further. Below that unit
	 * its owner may make cgroups with any name (a user's own manager under user@UID.service,
	 * a delegated subtree), so only what the system manager placed counts.
	 */
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = strchrnul(s, '/');
		size_t len = (size_t)(e - s);
		bool slice = len > 6 && memcmp(e - 6, ".slice", 6) == 0;
		bool unit = (len > 8 && memcmp(e - 8, ".service", 8) == 0) ||
			    (len > 6 && memcmp(e - 6, ".scope", 6) == 0) ||
			    (len > 7 && memcmp(e - 7, ".socket", 7) == 0);
		if (!slice && !unit)
			break;
		if (strv_add(&v, &n, s, len, false) < 0) {
			free_strv(v, n);
			return -ENOMEM;
		}
		if (unit)
			break;
		s = e;
	}
	/* Innermost first: the unit, then its slices. */
	for (size_t i = 0; i < n / 2; i++) {
		char *t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	char **t = reallocarray(v, n + 1, sizeof(char *));
	if (!t) {
		free_strv(v, n);
		return -ENOMEM;
	}
	t[n] = NULL;
	*ret = t;
	return (int)n;
}
