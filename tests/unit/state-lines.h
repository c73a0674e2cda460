/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a state directory holds for the next svmd, as the tests see it: the state file's session
 * and binding lines with its journal's committed batches applied (a line replaces the one of the
 * same id, "drop KIND ID" removes it; a batch without its commit line is left out). The format
 * is persist.c's; the checksums and the journal's header are left to persist_read(), which the
 * tests also ask.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"

#define STATE_LINES_MAX 4096

struct state_lines {
	size_t n;
	char *line[STATE_LINES_MAX];
};

/* "session 12 " of "session 12 ...", or of "drop session 12". */
static inline void state_key(const char *line, char *key, size_t size)
{
	const char *s = strncmp(line, "drop ", 5) == 0 ? line + 5 : line;
	size_t n = strcspn(s, " ");

	n += strcspn(s + n + 1, " \n") + 1;
	snprintf(key, size, "%.*s ", (int)n, s);
}

static inline void state_forget(struct state_lines *st, const char *key)
{
	for (size_t i = 0; i < st->n;)
		if (strncmp(st->line[i], key, strlen(key)) == 0) {
			free(st->line[i]);
			st->line[i] = st->line[--st->n];
		} else {
			i++;
		}
}

static inline void state_take(struct state_lines *st, const char *line, bool journal)
{
	char key[96];
	bool drop = strncmp(line, "drop ", 5) == 0;

	if (!drop && strncmp(line, "session ", 8) != 0 && strncmp(line, "binding ", 8) != 0)
		return;
	state_key(line, key, sizeof(key));
	if (journal)
		state_forget(st, key);
	if (!drop && st->n < STATE_LINES_MAX)
		st->line[st->n++] = strdup(line);
}

static inline void state_read_file(struct state_lines *st, const char *path, bool journal)
{
	static char batch[256][8192];
	char line[8192];
	size_t n = 0;
	FILE *in = fopen(path, "re");

	if (!in)
		return;
	while (fgets(line, sizeof(line), in)) {
		if (!journal) {
			state_take(st, line, false);
		} else if (strncmp(line, "commit ", 7) == 0) {
			for (size_t i = 0; i < n; i++)
				state_take(st, batch[i], true);
			n = 0;
		} else if (n < 256 && strchr(line, '\n')) {
			memcpy(batch[n++], line, sizeof(line));
		}
	}
	fclose(in);
}

/* Reads dir's state; state_lines_done() frees it. */
static inline void state_lines_read(struct state_lines *st, const char *dir)
{
	char path[512];

	st->n = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_FILE);
	state_read_file(st, path, false);
	snprintf(path, sizeof(path), "%s/%s", dir, PERSIST_JOURNAL);
	state_read_file(st, path, true);
}

static inline void state_lines_done(struct state_lines *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->line[i]);
	st->n = 0;
}
