/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy drop-in directories to a compiled policy; see policy-load.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "hashmap.h"
#include "policy-load.h"

#define POLICY_FILE_MAX  (1u << 20)
#define POLICY_FILES_MAX 4096

const char *const policy_default_dirs[] = {
	"/etc/svmd/policy.d",
	"/run/svmd/policy.d",
	SVMD_VENDOR_POLICYDIR,
	NULL,
};

struct entry {
	char *name; /* file name, the sort and masking key */
	char *path;
};

/* Names already resolved during one load: a large policy names the same users and groups
 * again and again, and each NSS lookup reads /etc/passwd or /etc/group (or asks a directory
 * service). Kept for one load only, so the next reload sees changes. */
struct name_cache {
	struct hashmap names; /* struct cached_name, by name_key() */
};

struct cached_name {
	struct hnode node;
	bool user;
	int result; /* 0, -ENOENT or why the lookup failed */
	uint32_t id;
	char name[];
};

static uint64_t name_key(bool user, const char *name)
{
	return hash_string(HASH_INIT ^ user, name);
}

static struct cached_name *cache_find(struct name_cache *c, bool user, const char *name)
{
	for (struct hnode *n = hashmap_get(&c->names, name_key(user, name)); n;
	     n = hashmap_next_same(n)) {
		struct cached_name *e = container_of(n, struct cached_name, node);
		if (e->user == user && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

/* Remembers an answer; out of memory, it is simply not remembered. */
static void cache_add(struct name_cache *c, bool user, const char *name, int result, uint32_t id)
{
	size_t n = strlen(name);
	struct cached_name *e = malloc(sizeof(*e) + n + 1);

	if (!e)
		return;
	*e = (struct cached_name){.user = user, .result = result, .id = id};
	memcpy(e->name, name, n + 1);
	if (hashmap_put(&c->names, &e->node, name_key(user, name)) < 0)
		free(e);
}

static void cache_done(struct name_cache *c)
{
	hashmap_for_each_safe (e, &c->names)
		free(container_of(e, struct cached_name, node));
	hashmap_done(&c->names);
}

/* Asks the name service. The buffer grows for an entry that does not fit (a group with many
 * members). Returns 0, -ENOENT (no such name), or the error of a lookup that failed. */
static int lookup(bool user, const char *name, uint32_t *ret)
{
	for (size_t size = 4096;; size *= 4) {
		_cleanup_free_ char *buf = malloc(size);
		struct passwd pw, *p = NULL;
		struct group gr, *g = NULL;
		int e;

		if (!buf)
			return -ENOMEM;
		e = user ? getpwnam_r(name, &pw, buf, size, &p)
			 : getgrnam_r(name, &gr, buf, size, &g);
		if (e == ERANGE && size < 16 * 1024 * 1024)
			continue;
		if (e == 0 && (p || g)) {
			*ret = user ? p->pw_uid : g->gr_gid;
			return 0;
		}
		/* Not found is 0 with no entry. An errno, even ENOENT, is glibc passing on why a
		 * source was unavailable (a service's socket missing, say): a failure. */
		if (e == 0)
			return -ENOENT;
		return -e;
	}
}

/* Looks a name up once per load: every answer is remembered, failures too (a name service
 * that hangs costs one timeout per name, not one per mention). */
static int resolve(bool user, const char *name, uint32_t *ret, struct name_cache *cache)
{
	struct cached_name *e = cache_find(cache, user, name);
	int r;

	if (e) {
		*ret = e->id;
		return e->result;
	}
	r = lookup(user, name, ret);
	if (r != -ENOMEM)
		cache_add(cache, user, name, r, r == 0 ? *ret : 0);
	return r;
}

static int resolve_user(const char *name, uid_t *ret, void *userdata)
{
	return resolve(true, name, ret, userdata);
}

static int resolve_group(const char *name, gid_t *ret, void *userdata)
{
	return resolve(false, name, ret, userdata);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static bool is_policy_name(const char *n)
{
	size_t len = strlen(n);
	return n[0] != '.' && len > 7 && strcmp(n + len - 7, ".policy") == 0;
}

/* Reads a whole regular file of at most POLICY_FILE_MAX bytes; anything else is -EBADFD.
 * O_NONBLOCK: opening a FIFO must not wait for a writer (reads of a regular file ignore it). */
static int read_all(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t n = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if (st.st_size > POLICY_FILE_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size + 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > (size_t)st.st_size)
			return -EFBIG; /* grew while we read it */
	}
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

static void free_entries(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].path);
	}
	free(e);
}

/* The policy files found, by name; a name seen in an earlier directory masks it in later ones. */
struct files {
	struct entry *v;
	size_t n;
};

static void files_done(struct files *f)
{
	free_entries(f->v, f->n);
}

static int add_file(struct files *f, const char *dir, const char *name)
{
	struct entry *grown = reallocarray(f->v, f->n + 1, sizeof(*f->v));

	if (!grown)
		return -ENOMEM;
	f->v = grown;
	f->v[f->n] = (struct entry){.name = strdup(name)};
	if (asprintf(&f->v[f->n].path, "%s/%s", dir, name) < 0)
		f->v[f->n].path = NULL;
	f->n++;
	return f->v[f->n - 1].name && f->v[f->n - 1].path ? 0 : -ENOMEM;
}

/* The *.policy files of one directory, into f. A directory that does not exist is skipped; one
 * that cannot be read is a diagnostic. Returns 0 or -ENOMEM. */
static int scan_dir(struct policy *p, const char *dir, struct files *f)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0
				       : policy_add_diag(p, true, "%s: cannot read directory: %s",
							 dir, strerror(errno));
	while (r >= 0 && (de = readdir(d))) {
		bool masked = false;
		if (!is_policy_name(de->d_name))
			continue;
		for (size_t i = 0; i < f->n && !masked; i++)
			masked = strcmp(f->v[i].name, de->d_name) == 0;
		if (masked)
			continue;
		if (f->n >= POLICY_FILES_MAX) {
			r = policy_add_diag(p, true, "%s: more than %d policy files", dir,
					    POLICY_FILES_MAX);
			break;
		}
		r = add_file(f, dir, de->d_name);
	}
	closedir(d);
	return r;
}

/* Compiles one file into p: one that cannot be read is a diagnostic. Returns 0 or -ENOMEM. */
static int compile_file(struct policy *p, const struct entry *e, const struct policy_resolver *nss)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_all(e->path, &text, &len);

	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return policy_add_diag(p, true, "%s: cannot read: %s", e->path,
				       r == -EBADFD ? "not a regular file" : strerror(-r));
	r = policy_add_file(p, e->path, text, len, nss);
	return r == -ENOMEM ? r : 0;
}

int policy_load(const char *const *dirs, size_t n_dirs, struct policy **ret)
{
	_cleanup_(cache_done) struct name_cache cache = {0};
	_cleanup_(files_done) struct files files = {0};
	_cleanup_(policy_freep) struct policy *p = policy_new();
	const struct policy_resolver nss = {resolve_user, resolve_group, &cache};
	int r = 0;

	if (!p)
		return -ENOMEM;
	if (!dirs || n_dirs == 0) {
		dirs = policy_default_dirs;
		for (n_dirs = 0; dirs[n_dirs]; n_dirs++)
			;
	}
	for (size_t d = 0; d < n_dirs && r >= 0; d++)
		r = scan_dir(p, dirs[d], &files);
	if (files.n > 1)
		qsort(files.v, files.n, sizeof(*files.v), cmp_entry);
	for (size_t i = 0; i < files.n && r >= 0; i++)
		r = compile_file(p, &files.v[i], &nss);
	if (r >= 0)
		r = policy_seal(p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}
