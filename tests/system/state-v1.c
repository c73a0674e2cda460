/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make check-system's svmd-state-v1 FILE: rewrites an svmd state file of version 2 as the
 * version 1 an svmd before it wrote (the same lines; the end line's sum over their text, not
 * over their hashes), so that the check can show a new svmd adopting an old one's state.
 * Exits 0, 1 (not a version 2 state file) or 2 (cannot open it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char text[64 << 20];
	uint64_t sum = 0xcbf29ce484222325ull;
	size_t len, lines = 0;
	char *line, *nl;
	FILE *f;

	if (argc != 2 || !(f = fopen(argv[1], "r+")))
		return 2;
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = 0;
	if (strncmp(text, "svmd-state 2\n", 13) != 0)
		return 1;
	text[11] = '1';
	for (line = text; strncmp(line, "end ", 4) != 0; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			return 1;
		for (const char *p = line; p <= nl; p++)
			sum = (sum ^ (unsigned char)*p) * 0x100000001b3ull;
		lines++;
	}
	rewind(f);
	fwrite(text, 1, (size_t)(line - text), f);
	fprintf(f, "end %zu %016" PRIx64 "\n", lines, sum);
	fflush(f);
	if (ftruncate(fileno(f), ftell(f)) < 0)
		return 2;
	return fclose(f) == 0 ? 0 : 2;
}
