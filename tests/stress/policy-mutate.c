/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-policy-mutate: policy trees for svmd to choke on. Each tree is a directory of
 * *.policy files made from the seed files: most with bytes flipped, inserted, deleted, lines
 * duplicated and the policy language's own words dropped in, one in four as the seeds are
 * (seeds named *error* left out); every fourth one a special case instead: a huge line, a file over
 * the 1 MiB limit and one exactly at it, a FIFO, a directory, a socket, a device, symlink loops,
 * dangling symlinks and symlinks to /dev/zero, /proc or /, more files than svmd reads, 100,000
 * rules, NUL bytes and binary junk, a key with 20,000 values, odd file names, a file nobody may
 * read, an empty tree.
 *
 *   stress-policy-mutate --out=DIR --trees=N [--seed=S] [--user=NAME] SEED-FILE...
 *
 * Writes DIR/tree-NNNN/ and prints one line per tree: its name and what it holds. With
 * --user, half the trees also grant that user page-table binds (so that live bindings are
 * decided again on each reload).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "stress.h"

static uint64_t rs;

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			exit(2);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* DIR/NAME, in a buffer of its own per call site's turn (two at a time). */
static const char *at(const char *dir, const char *name)
{
	static char buf[2][8192];
	static int turn;
	char *p = buf[turn ^= 1];

	if ((size_t)snprintf(p, sizeof(buf[0]), "%s/%s", dir, name) >= sizeof(buf[0]))
		exit(2);
	return p;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
	const char *path = at(dir, name);
	FILE *f;

	f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "stress-policy-mutate: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (n && fwrite(data, 1, n, f) != n) {
		fprintf(stderr, "stress-policy-mutate: writing %s failed\n", path);
		exit(2);
	}
	fclose(f);
}

static struct buf read_seed(const char *path)
{
	struct buf b = {0};
	char chunk[4096];
	size_t k;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "stress-policy-mutate: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		put(&b, chunk, k);
	fclose(f);
	if (!b.p)
		put(&b, "", 0);
	return b;
}

/* The policy language's words, to drop into mutated files. */
static const char *const words[] = {
	"allow",
	"deny",
	"revoke",
	"*",
	"bind-task",
	"bind-pgtable",
	"bind-pasid-table",
	"open-device",
	"reload",
	"user=",
	"group=",
	"unit=",
	"exe=",
	"device=",
	"iommu-group=",
	"pci-id=",
	"model=",
	"pasid=",
	"addr-width=",
	"vtd-flags=",
	"targets=",
	"max=",
	"max-device=",
	"rate=",
	"auto",
	"self",
	"same-user",
	"vtd",
	"smmu",
	"sre,eafe,pcd,pwt,emte,cd",
	"0x3f",
	"0x40",
	"0-1048575",
	"1048576",
	"4294967295",
	"4294967296",
	"18446744073709551616",
	"-1",
	"0",
	"99999999999999999999999",
	"1-0",
	"5-5",
	"100/s",
	"0/s",
	"1000000000/s",
	"0000:3b:00.0",
	"0000:3b:00.*",
	"[0-9]",
	"*.service",
	"8086:0b25",
	"ffff:ffff",
	"/usr/bin/qemu",
	",",
	"=",
	"==",
	",,",
	"#",
	"\\",
	"\"",
	"\t",
	"\n",
	"\r\n",
	"root",
	"nobody",
	"svmd-stress1",
	"\xff\xfe",
	"\xc3\x28",
	"\xe2\x82\xac",
};

static const char *word(void)
{
	return words[rnd_below(&rs, sizeof(words) / sizeof(words[0]))];
}

/* One seed with a few mutations (now and then none: a tree of good files must reload). */
static void mutate(struct buf *b)
{
	unsigned n = rnd_below(&rs, 4);

	for (unsigned i = 0; i < n; i++) {
		size_t at = b->n ? rnd_below(&rs, (uint32_t)b->n + 1) : 0;
		struct buf t = {0};
		switch (rnd_below(&rs, 7)) {
		case 0: /* flip a byte */
			if (b->n)
				b->p[at < b->n ? at : b->n - 1] ^= (char)(1u << rnd_below(&rs, 8));
			break;
		case 1: /* a random byte, NUL and newline included */
			put(&t, b->p, at);
			char c = (char)rnd(&rs);
			put(&t, &c, 1);
			put(&t, b->p + at, b->n - at);
			free(b->p);
			*b = t;
			break;
		case 2: /* a word of the language */
			put(&t, b->p, at);
			puts_(&t, rnd_below(&rs, 2) ? " " : "");
			puts_(&t, word());
			put(&t, b->p + at, b->n - at);
			free(b->p);
			*b = t;
			break;
		case 3: { /* delete a range */
			size_t k = rnd_below(&rs, 64);
			if (at + k > b->n)
				k = b->n - at;
			memmove(b->p + at, b->p + at + k, b->n - at - k);
			b->n -= k;
			b->p[b->n] = 0;
			break;
		}
		case 4: { /* duplicate the line at `at` many times */
			size_t s = at, e = at;
			while (s > 0 && b->p[s - 1] != '\n')
				s--;
			while (e < b->n && b->p[e] != '\n')
				e++;
			unsigned times = 1 + rnd_below(&rs, 50);
			put(&t, b->p, e);
			for (unsigned k = 0; k < times; k++) {
				puts_(&t, "\n");
				put(&t, b->p + s, e - s);
			}
			put(&t, b->p + e, b->n - e);
			free(b->p);
			*b = t;
			break;
		}
		case 5: /* truncate */
			b->n = at;
			if (b->p)
				b->p[b->n] = 0;
			break;
		default: { /* a new rule of random words */
			put(&t, b->p, b->n);
			puts_(&t, "\n");
			unsigned k = 1 + rnd_below(&rs, 12);
			for (unsigned j = 0; j < k; j++) {
				puts_(&t, word());
				if (rnd_below(&rs, 3))
					puts_(&t, word());
				puts_(&t, " ");
			}
			puts_(&t, "\n");
			free(b->p);
			*b = t;
			break;
		}
		}
	}
}

enum special {
	S_HUGE_LINE,
	S_TOO_BIG,
	S_AT_LIMIT,
	S_FIFO,
	S_DIR,
	S_SOCKET,
	S_DEVICE,
	S_SYMLINK_LOOP,
	S_SYMLINK_DANGLING,
	S_SYMLINK_DEVZERO,
	S_SYMLINK_PROC,
	S_SYMLINK_ROOT,
	S_MANY_FILES,
	S_100K_RULES,
	S_BINARY,
	S_LONG_LIST,
	S_ODD_NAMES,
	S_UNREADABLE,
	S_EMPTY,
	_S_MAX,
};
static const char *const special_names[_S_MAX] = {
	"huge-line",
	"over-1MiB",
	"at-1MiB",
	"fifo",
	"directory",
	"socket",
	"device-node",
	"symlink-loop",
	"dangling-symlink",
	"symlink-/dev/zero",
	"symlink-/proc",
	"symlink-/",
	"4097-files",
	"100k-rules",
	"binary",
	"20k-values",
	"odd-names",
	"mode-000",
	"empty",
};

static void special(const char *dir, enum special s)
{
	struct buf b = {0};

	switch (s) {
	case S_HUGE_LINE: /* 512 KiB on one line */
		puts_(&b, "allow bind-task");
		while (b.n < 512 * 1024) {
			puts_(&b, " user=");
			puts_(&b, word());
		}
		puts_(&b, "\n");
		write_file(dir, "50-huge.policy", b.p, b.n);
		break;
	case S_TOO_BIG:
	case S_AT_LIMIT: {
		size_t want = (1u << 20) + (s == S_TOO_BIG);
		while (b.n + 80 < want)
			puts_(&b,
			      "# a comment line, over and over, to reach svmd's limit of a file\n");
		while (b.n < want - 1)
			puts_(&b, "#");
		puts_(&b, "\n");
		write_file(dir, "50-big.policy", b.p, b.n);
		break;
	}
	case S_FIFO:
		if (mkfifo(at(dir, "50-fifo.policy"), 0644) < 0)
			exit(2);
		break;
	case S_DIR:
		if (mkdir(at(dir, "50-dir.policy"), 0755) < 0)
			exit(2);
		break;
	case S_SOCKET: {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (strlen(at(dir, "50-sock.policy")) >= sizeof(sa.sun_path))
			exit(2);
		strcpy(sa.sun_path, at(dir, "50-sock.policy"));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			exit(2);
		close(fd);
		break;
	}
	case S_DEVICE: /* a character device like /dev/null's */
		if (mknod(at(dir, "50-dev.policy"), S_IFCHR | 0644, makedev(1, 3)) < 0)
			exit(2);
		break;
	case S_SYMLINK_LOOP:
		if (symlink("50-b.policy", at(dir, "50-a.policy")) < 0)
			exit(2);
		if (symlink("50-a.policy", at(dir, "50-b.policy")) < 0)
			exit(2);
		if (symlink("50-self.policy", at(dir, "50-self.policy")) < 0)
			exit(2);
		break;
	case S_SYMLINK_DANGLING:
		if (symlink("/nonexistent/svmd/x.policy", at(dir, "50-gone.policy")) < 0)
			exit(2);
		break;
	case S_SYMLINK_DEVZERO:
		if (symlink("/dev/zero", at(dir, "50-zero.policy")) < 0)
			exit(2);
		if (symlink("/dev/urandom", at(dir, "51-urandom.policy")) < 0)
			exit(2);
		break;
	case S_SYMLINK_PROC: /* regular files whose size says 0 */
		if (symlink("/proc/self/status", at(dir, "50-proc.policy")) < 0)
			exit(2);
		if (symlink("/proc/self/maps", at(dir, "51-maps.policy")) < 0)
			exit(2);
		break;
	case S_SYMLINK_ROOT:
		if (symlink("/", at(dir, "50-root.policy")) < 0)
			exit(2);
		break;
	case S_MANY_FILES:
		for (int i = 0; i < 4097; i++) {
			char name[64], rule[128];
			snprintf(name, sizeof(name), "%05d.policy", i);
			snprintf(rule, sizeof(rule),
				 "allow bind-pgtable user=%d device=0000:3b:00.0 pasid=%d\n",
				 20000 + i, i + 1);
			write_file(dir, name, rule, strlen(rule));
		}
		break;
	case S_100K_RULES: /* 100 files of 1000 rules, each its own user and PASID */
		for (int f = 0; f < 100; f++) {
			char name[64], rule[160];
			b.n = 0;
			for (int i = 0; i < 1000; i++) {
				int k = f * 1000 + i;
				snprintf(rule, sizeof(rule),
					 "allow bind-pgtable user=%d device=0000:3b:00.0 pasid=%d "
					 "addr-width=48 max=4\n",
					 100000 + k, k + 1);
				puts_(&b, rule);
			}
			snprintf(name, sizeof(name), "60-rules-%03d.policy", f);
			write_file(dir, name, b.p, b.n);
		}
		break;
	case S_BINARY:
		for (int i = 0; i < 65536; i++) {
			char c = (char)rnd(&rs);
			put(&b, &c, 1);
		}
		write_file(dir, "50-binary.policy", b.p, b.n);
		break;
	case S_LONG_LIST: /* one key, 20,000 values (unknown users: one lookup each) */
		puts_(&b, "allow bind-task device=0000:3b:00.0 pasid=auto user=");
		for (int i = 0; i < 20000; i++) {
			char v[32];
			snprintf(v, sizeof(v), "%ssvmd-nouser-%d", i ? "," : "", i);
			puts_(&b, v);
		}
		puts_(&b, "\n");
		write_file(dir, "50-list.policy", b.p, b.n);
		break;
	case S_ODD_NAMES: {
		static const char *const names[] = {
			".hidden.policy",  "x.policy~",        "a b.policy", "\x01\x02.policy",
			"\xc3\xa9.policy", "new\nline.policy", ".policy",    "x.POLICY",
		};
		const char *rule =
			"allow bind-task user=svmd-stress1 device=0000:3b:00.0 pasid=auto\n";
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			write_file(dir, names[i], rule, strlen(rule));
		char longname[256];
		memset(longname, 'x', sizeof(longname) - 8);
		strcpy(longname + sizeof(longname) - 8, ".policy");
		write_file(dir, longname, rule, strlen(rule));
		break;
	}
	case S_UNREADABLE:
		write_file(dir, "50-secret.policy", "deny * user=root\n", 17);
		if (chmod(at(dir, "50-secret.policy"), 0) < 0)
			exit(2);
		break;
	case S_EMPTY:
		if (rnd_below(&rs, 2))
			write_file(dir, "50-empty.policy", "", 0);
		break;
	default:
		break;
	}
	free(b.p);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *user = NULL;
	unsigned long trees = 0, seed = 1;
	struct buf seeds[64];
	bool seed_bad[64];
	size_t n_seeds = 0;

	for (int i = 1; i < argc; i++) {
		if (opt_str(argv[i], "--out", &out) || opt_str(argv[i], "--user", &user) ||
		    opt_uint(argv[i], "--trees", &trees) || opt_uint(argv[i], "--seed", &seed))
			continue;
		if (argv[i][0] == '-' || n_seeds == 64) {
			fprintf(stderr, "stress-policy-mutate: unknown argument %s\n", argv[i]);
			return 2;
		}
		/* Seeds of errors on purpose are never clean. */
		seed_bad[n_seeds] = strstr(argv[i], "error") != NULL;
		seeds[n_seeds++] = read_seed(argv[i]);
	}
	if (!out || !trees || !n_seeds) {
		fprintf(stderr, "stress-policy-mutate: --out, --trees and seed files are needed\n");
		return 2;
	}
	rs = rnd_seed(seed, 0);
	for (unsigned long t = 0; t < trees; t++) {
		char dir[2048], what[128] = "";
		snprintf(dir, sizeof(dir), "%s/tree-%04lu", out, t);
		if (mkdir(dir, 0755) < 0) {
			fprintf(stderr, "stress-policy-mutate: %s: %s\n", dir, strerror(errno));
			return 2;
		}
		if (user && rnd_below(&rs, 2)) {
			char rule[256];
			snprintf(rule, sizeof(rule),
				 "allow bind-pgtable user=%s device=0000:3b:00.0 pasid=1-1048575 "
				 "addr-width=48\n",
				 user);
			write_file(dir, "10-stress.policy", rule, strlen(rule));
		}
		if (t % 4 == 3) {
			enum special s = (enum special)((t / 4) % _S_MAX);
			special(dir, s);
			snprintf(what, sizeof(what), "%s", special_names[s]);
		} else {
			/* Every fourth tree (the one after a special) is left as the seeds are, so
			 * that good trees are swapped in as often as bad ones are refused. */
			bool clean = t % 4 == 0;
			unsigned k = 1 + rnd_below(&rs, 4), written = 0;
			for (unsigned i = 0; i < k; i++) {
				size_t pick = rnd_below(&rs, (uint32_t)n_seeds);
				const struct buf *src = &seeds[pick];
				struct buf b = {0};
				char name[32];
				if (clean && seed_bad[pick])
					continue;
				put(&b, src->p, src->n);
				if (!clean)
					mutate(&b);
				snprintf(name, sizeof(name), "%02u-mutated.policy", 20 + i);
				write_file(dir, name, b.p, b.n);
				free(b.p);
				written++;
			}
			snprintf(what, sizeof(what), "%u %s files", written,
				 clean ? "seed" : "mutated");
		}
		printf("tree-%04lu %s\n", t, what);
	}
	return 0;
}
