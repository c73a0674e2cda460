/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy files to rules, rules to verdicts. Grammar (one rule per line, `#` starts a comment):
 *
 *   allow|deny OPS KEY=VALUE...
 *   OPS  = '*' | op[,op...]   op: bind-task bind-pgtable bind-pasid-table open-device
 *   KEYS = user= group= device= pasid= max= targets=
 *
 * The same key repeated (or a comma list) means any of its values; different keys must all
 * hold. max= is not a match key but a limit applied after the match.
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

#define MAX_LIMIT 1000000u

static const char *const op_names[_POLICY_OP_MAX] = {
	[POLICY_OP_BIND_TASK] = "bind-task",
	[POLICY_OP_BIND_PGTABLE] = "bind-pgtable",
	[POLICY_OP_BIND_PASID_TABLE] = "bind-pasid-table",
	[POLICY_OP_OPEN_DEVICE] = "open-device",
};

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

static void rule_done(struct policy_rule *r)
{
	free(r->users);
	free(r->groups);
	for (size_t i = 0; i < r->n_devices; i++)
		free(r->devices[i]);
	free(r->devices);
	free(r->pasids);
	free(r->text);
}

struct policy *policy_free(struct policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_done(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i]);
	free(p->files);
	for (size_t i = 0; i < p->n_diags; i++)
		free(p->diags[i]);
	free(p->diags);
	for (int i = 0; i < _POLICY_OP_MAX; i++)
		free(p->by_op[i]);
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

static _printf_(3, 4) int lerr(struct line_ctx *c, const char *at, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = policy_add_diag(c->p, true, "%s:%u:%u: error: %s", c->file, c->line,
			    (unsigned)(at - c->start) + 1, msg);
	c->error = -EINVAL;
	return r < 0 ? r : -EINVAL;
}

static _printf_(3, 4) int lwarn(struct line_ctx *c, const char *at, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return policy_add_diag(c->p, false, "%s:%u:%u: warning: %s", c->file, c->line,
			       (unsigned)(at - c->start) + 1, msg);
}

/* Parses a decimal number of at most max without sign or garbage. */
static int parse_u32(const char *s, size_t n, uint32_t max, uint32_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

/* Calls item() for each comma-separated item of value[0..n). Empty items are errors. */
static int for_each_item(struct line_ctx *c, const char *key, const char *value, size_t n,
			 int (*item)(struct line_ctx *c, struct policy_rule *r, const char *s,
				     size_t n),
			 struct policy_rule *r)
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

	if (!slot)
		return -ENOMEM;
	return ids_item(c, true, s, n, slot);
}

static int group_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	gid_t *slot = grow_one(&r->groups, &r->n_groups, sizeof(gid_t));

	if (!slot)
		return -ENOMEM;
	return ids_item(c, false, s, n, slot);
}

static int device_item(struct line_ctx *c, struct policy_rule *r, const char *s, size_t n)
{
	char **slot;

	if (n >= 64)
		return lerr(c, s, "device pattern too long");
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && !strchr(":.*?[]!-", s[i]))
			return lerr(c, s + i, "invalid character '%c' in device pattern", s[i]);
	slot = grow_one(&r->devices, &r->n_devices, sizeof(char *));
	if (!slot)
		return -ENOMEM;
	*slot = strndup(s, n);
	if (!*slot) {
		r->n_devices--;
		return -ENOMEM;
	}
	for (char *q = *slot; *q; q++)
		*q = (char)tolower((unsigned char)*q);
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
	if (range.lo < 1 || range.hi > 0xfffff)
		return lerr(c, s, "PASID '%.*s' outside 1-1048575", (int)n, s);
	if (range.lo > range.hi)
		return lerr(c, s, "empty PASID range '%.*s'", (int)n, s);
	slot = grow_one(&r->pasids, &r->n_pasids, sizeof(*slot));
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
			    "bind-pasid-table or open-device)",
			    name);
	r->ops |= 1u << op;
	return 0;
}

static int parse_key(struct line_ctx *c, struct policy_rule *r, const char *tok, size_t n)
{
	const char *eq = memchr(tok, '=', n);
	const char *value;
	size_t klen, vlen;

	if (!eq)
		return lerr(c, tok, "expected KEY=VALUE, got '%.*s'", (int)n, tok);
	klen = (size_t)(eq - tok);
	value = eq + 1;
	vlen = n - klen - 1;
	if (vlen == 0)
		return lerr(c, value, "empty value for '%.*s'", (int)klen, tok);

#define KEY(k) (klen == strlen(k) && memcmp(tok, k, klen) == 0)
	if (KEY("user"))
		return for_each_item(c, "user", value, vlen, user_item, r);
	if (KEY("group"))
		return for_each_item(c, "group", value, vlen, group_item, r);
	if (KEY("device"))
		return for_each_item(c, "device", value, vlen, device_item, r);
	if (KEY("pasid")) {
		r->pasid_key = true;
		return for_each_item(c, "pasid", value, vlen, pasid_item, r);
	}
	if (KEY("max")) {
		uint32_t v;
		if (r->verdict == POLICY_DENY)
			return lerr(c, tok, "max= on a deny rule has no meaning");
		if (r->max_key)
			return lerr(c, tok, "max= given twice");
		if (parse_u32(value, vlen, MAX_LIMIT, &v) < 0 || v == 0)
			return lerr(c, value, "invalid max '%.*s' (want 1-%u)", (int)vlen, value,
				    MAX_LIMIT);
		r->max_key = true;
		r->max = v;
		return 0;
	}
	if (KEY("targets")) {
		r->targets_key = true;
		if (vlen == 4 && memcmp(value, "self", 4) == 0)
			r->targets = POLICY_TARGETS_SELF;
		else if (vlen == 9 && memcmp(value, "same-user", 9) == 0)
			r->targets = POLICY_TARGETS_SAME_USER;
		else
			return lerr(c, value, "invalid targets '%.*s' (want self or same-user)",
				    (int)vlen, value);
		return 0;
	}
#undef KEY
	return lerr(c, tok, "unknown key '%.*s' (want user, group, device, pasid, max or targets)",
		    (int)klen, tok);
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

static int parse_line(struct line_ctx *c, const char *s, const char *end)
{
	struct policy_rule rule = {0};
	const char *tok, *text_end = s, *q = s;
	size_t n;
	int r = 0;

	for (const char *t = s; t < end; t++)
		if (!isprint((unsigned char)*t) && *t != '\t')
			return lerr(c, t, "control or non-ASCII character");

	if (!next_token(&q, end, &tok, &n))
		return 0; /* blank or comment */
	if (n == 5 && memcmp(tok, "allow", 5) == 0)
		rule.verdict = POLICY_ALLOW;
	else if (n == 4 && memcmp(tok, "deny", 4) == 0)
		rule.verdict = POLICY_DENY;
	else
		return lerr(c, tok, "expected 'allow' or 'deny', got '%.*s'", (int)n, tok);

	if (!next_token(&q, end, &tok, &n)) {
		lerr(c, q, "missing operations after '%s'",
		     rule.verdict == POLICY_ALLOW ? "allow" : "deny");
		goto out;
	}
	r = for_each_item(c, "operations", tok, n, op_item, &rule);
	text_end = tok + n;
	while (r != -ENOMEM && next_token(&q, end, &tok, &n)) {
		r = parse_key(c, &rule, tok, n);
		text_end = tok + n;
	}
	if (r == -ENOMEM || c->error)
		goto out;
	/* Unsaid, targets= takes the safe side: an allow grants the caller's own process only, a
	 * deny refuses binds of other processes too. */
	if (!rule.targets_key)
		rule.targets = rule.verdict == POLICY_ALLOW ? POLICY_TARGETS_SELF
							    : POLICY_TARGETS_SAME_USER;

	const char *text_start = s;
	while (*text_start == ' ' || *text_start == '\t')
		text_start++;
	rule.text = strndup(text_start, (size_t)(text_end - text_start));
	struct policy_rule *slot =
		rule.text ? grow_one(&c->p->rules, &c->p->n_rules, sizeof(rule)) : NULL;
	if (!slot) {
		r = -ENOMEM;
		goto out;
	}
	rule.file = c->file;
	rule.line = c->line;
	rule.index = (unsigned)(c->p->n_rules - 1);
	*slot = rule;
	return 0;
out:
	rule_done(&rule);
	return r == -ENOMEM ? r : c->error;
}

int policy_add_file(struct policy *p, const char *file, const char *text, size_t len,
		    const struct policy_resolver *res)
{
	static const struct policy_resolver none = {0};
	struct line_ctx c = {.p = p, .res = res ? res : &none};
	const char *s = text, *end = text + len;
	char **slot;
	int result = 0;

	slot = grow_one(&p->files, &p->n_files, sizeof(char *));
	if (!slot)
		return -ENOMEM;
	*slot = strdup(file);
	if (!*slot) {
		p->n_files--;
		return -ENOMEM;
	}
	c.file = *slot;

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

int policy_seal(struct policy *p)
{
	for (int op = 0; op < _POLICY_OP_MAX; op++) {
		size_t n = 0;
		for (size_t i = 0; i < p->n_rules; i++)
			if (p->rules[i].ops & (1u << op))
				n++;
		free(p->by_op[op]);
		p->by_op[op] = calloc(n ? n : 1, sizeof(struct policy_rule *));
		if (!p->by_op[op])
			return -ENOMEM;
		p->n_by_op[op] = 0;
		for (size_t i = 0; i < p->n_rules; i++)
			if (p->rules[i].ops & (1u << op))
				p->by_op[op][p->n_by_op[op]++] = &p->rules[i];
	}
	return 0;
}

static bool op_has_pasid(enum policy_op op)
{
	return op == POLICY_OP_BIND_TASK || op == POLICY_OP_BIND_PGTABLE;
}

static bool has_group(const struct policy_subject *s, gid_t g)
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

/* Returns NULL when every key of the rule holds for the request, else what failed: in words
 * when buf is given (explain), else just "" (decide, which must stay cheap). */
#define MISMATCH(...)                                                                              \
	do {                                                                                       \
		if (!buf)                                                                          \
			return "";                                                                 \
		snprintf(buf, len, __VA_ARGS__);                                                   \
		return buf;                                                                        \
	} while (0)

static const char *rule_mismatch(const struct policy_rule *rule, const struct policy_subject *s,
				 const struct policy_request *r, char *buf, size_t len)
{
	size_t i;

	if (!(rule->ops & (1u << r->op))) {
		MISMATCH("operation %s not in the rule", policy_op_name(r->op));
	}
	if (rule->n_users) {
		for (i = 0; i < rule->n_users; i++)
			if (rule->users[i] == s->uid && rule->users[i] != POLICY_ID_UNRESOLVED)
				break;
		if (i == rule->n_users) {
			MISMATCH("user: caller is uid %u", (unsigned)s->uid);
		}
	}
	if (rule->n_groups) {
		for (i = 0; i < rule->n_groups && !has_group(s, rule->groups[i]); i++)
			;
		if (i == rule->n_groups) {
			MISMATCH("group: caller (gid %u) is in none of them", (unsigned)s->gid);
		}
	}
	if (rule->n_devices) {
		for (i = 0; i < rule->n_devices && fnmatch(rule->devices[i], r->device, 0) != 0;
		     i++)
			;
		if (i == rule->n_devices) {
			MISMATCH("device: %s does not match", r->device);
		}
	}
	if (rule->pasid_key) {
		if (!op_has_pasid(r->op)) {
			MISMATCH("pasid: %s has no PASID", policy_op_name(r->op));
		}
		if (r->pasid == 0) {
			if (!rule->pasid_auto) {
				MISMATCH("pasid: auto not granted");
			}
		} else {
			for (i = 0; i < rule->n_pasids && !(r->pasid >= rule->pasids[i].lo &&
							    r->pasid <= rule->pasids[i].hi);
			     i++)
				;
			if (i == rule->n_pasids) {
				MISMATCH("pasid: %" PRIu32 " not in the granted ranges", r->pasid);
			}
		}
	}
	if (r->other_target && rule->targets != POLICY_TARGETS_SAME_USER) {
		MISMATCH("targets: binding another process needs targets=same-user");
	}
	return NULL;
}

void policy_explain(const struct policy *p, const struct policy_subject *s,
		    const struct policy_request *r, struct policy_decision *ret,
		    void (*step)(const struct policy_rule *rule, const char *why, void *userdata),
		    void *userdata)
{
	char why_buf[160], *buf = step ? why_buf : NULL;

	*ret = (struct policy_decision){.verdict = POLICY_DENY};
	if (r->op < 0 || r->op >= _POLICY_OP_MAX)
		return;
	for (size_t i = 0; i < p->n_by_op[r->op]; i++) {
		const struct policy_rule *rule = p->by_op[r->op][i];
		const char *why = rule_mismatch(rule, s, r, buf, sizeof(why_buf));
		if (step)
			step(rule, why, userdata);
		if (!why) {
			ret->verdict = rule->verdict;
			ret->rule = rule;
			return;
		}
	}
}

void policy_decide(const struct policy *p, const struct policy_subject *s,
		   const struct policy_request *r, struct policy_decision *ret)
{
	policy_explain(p, s, r, ret, NULL, NULL);
}
