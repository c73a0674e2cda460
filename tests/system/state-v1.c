/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make check-system's svmd-state-v1 DIR: rewrites the state an svmd of version 3 left in DIR
 * (the file "state" and its "journal" of changes since) as the single version 1 file an svmd
 * before both wrote (the same session and binding lines, the journal applied; the end line's
 * sum over their text), so that the check can show a new svmd adopting an old one's state.
 * Exits 0, 1 (not a version 2 or 3 state) or 2 (cannot read or write it).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINES 65536

static char *lines[MAX_LINES];
static size_t n_lines;
static char generation[64];

/* "session 12" of "session 12 ..." or of "drop session 12". */
static size_t key(const char *line, const char **start)
{
	const char *s = strncmp(line, "drop ", 5) == 0 ? line + 5 : line;
	size_t n = strcspn(s, " ");

	*start = s;
	return n + 1 + strcspn(s + n + 1, " \n");
}

static void take(const char *line, bool journal)
{
	const char *k, *other;
	size_t n = key(line, &k);

	if (strncmp(line, "generation ", 11) == 0) {
		snprintf(generation, sizeof(generation), "%.63s", line);
		return;
	}
	if (strncmp(line, "session ", 8) != 0 && strncmp(line, "binding ", 8) != 0 &&
	    strncmp(line, "drop ", 5) != 0)
		return;
	for (size_t i = 0; journal && i < n_lines; i++)
		if (key(lines[i], &other) == n && strncmp(other, k, n) == 0) {
			free(lines[i]);
			lines[i--] = lines[--n_lines];
		}
	if (strncmp(line, "drop ", 5) != 0 && n_lines < MAX_LINES)
		lines[n_lines++] = strdup(line);
}

/* Sessions first, then bindings, each in id order. */
static int cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int kind = strncmp(x, y, 8);

	if (kind)
		return -kind; /* "session " before "binding " */
	uint64_t i = strtoull(x + 8, NULL, 10), j = strtoull(y + 8, NULL, 10);
	return i < j ? -1 : i > j;
}

static int read_lines(const char *path, bool journal, bool must)
{
	char line[1 << 16];
	FILE *f = fopen(path, "re");

	if (!f)
		return must ? 2 : 0;
	if (!fgets(line, sizeof(line), f) || (!journal && strcmp(line, "svmd-state 2\n") != 0 &&
					      strcmp(line, "svmd-state 3\n") != 0))
		return fclose(f), 1;
	while (fgets(line, sizeof(line), f))
		take(line, journal);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t sum = 0xcbf29ce484222325ull;
	char path[4096], text[128];
	size_t count = 0;
	FILE *f;
	int r;

	if (argc != 2)
		return 2;
	snprintf(path, sizeof(path), "%s/state", argv[1]);
	if ((r = read_lines(path, false, true)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/journal", argv[1]);
	if ((r = read_lines(path, true, false)) != 0)
		return r;
	qsort(lines, n_lines, sizeof(lines[0]), cmp);
	snprintf(path, sizeof(path), "%s/state", argv[1]);
	if (!(f = fopen(path, "we")))
		return 2;
	for (size_t i = 0; i < n_lines + 2; i++) {
		const char *line = i == 0 ? "svmd-state 1\n" : i == 1 ? generation : lines[i - 2];
		if (!*line)
			continue;
		for (const char *p = line; *p; p++)
			sum = (sum ^ (unsigned char)*p) * 0x100000001b3ull;
		fputs(line, f);
		count++;
	}
	snprintf(text, sizeof(text), "end %zu %016" PRIx64 "\n", count, sum);
	fputs(text, f);
	if (fclose(f) != 0)
		return 2;
	snprintf(path, sizeof(path), "%s/journal", argv[1]);
	return unlink(path) == 0 || access(path, F_OK) != 0 ? 0 : 2;
}
