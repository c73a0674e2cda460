/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd.conf, systemd style: a [Daemon] section of Key=Value lines, `#` and `;` comments.
 * List keys (Device=, PolicyDir=) take several space-separated values, may repeat, and an
 * empty assignment clears what came before.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "config.h"

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int set_string(char **slot, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	free(*slot);
	*slot = v;
	return 0;
}

static int set_list(char **list, size_t *n, char *value, const char *path, unsigned line)
{
	char *save = NULL;

	if (!*value) {
		for (size_t i = 0; i < *n; i++)
			free(list[i]);
		*n = 0;
		return 0;
	}
	for (char *w = strtok_r(value, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (*n >= CONFIG_LIST_MAX) {
			fprintf(stderr, "%s:%u: more than %d values\n", path, line,
				CONFIG_LIST_MAX);
			return -EINVAL;
		}
		list[*n] = strdup(w);
		if (!list[*n])
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int parse_bool(const char *v)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

static int assign(struct config *c, const char *key, char *value, const char *path, unsigned line)
{
	if (strcmp(key, "Backend") == 0)
		return set_string(&c->backend, value);
	if (strcmp(key, "Device") == 0)
		return set_list(c->devices, &c->n_devices, value, path, line);
	if (strcmp(key, "SimTopology") == 0)
		return set_string(&c->sim_topology, value);
	if (strcmp(key, "Socket") == 0)
		return set_string(&c->socket, value);
	if (strcmp(key, "StateDir") == 0)
		return set_string(&c->state_dir, value);
	if (strcmp(key, "Bus") == 0)
		return set_string(&c->bus, value);
	if (strcmp(key, "PolicyDir") == 0)
		return set_list(c->policy_dirs, &c->n_policy_dirs, value, path, line);
	if (strcmp(key, "LogLevel") == 0)
		return set_string(&c->log_level, value);
	if (strcmp(key, "Audit") == 0)
		return set_string(&c->audit, value);
	if (strcmp(key, "MapBytesPerUser") == 0)
		return set_string(&c->map_bytes_per_user, value);
	if (strcmp(key, "MapBytesTotal") == 0)
		return set_string(&c->map_bytes_total, value);
	if (strcmp(key, "Sandbox") == 0) {
		int b = parse_bool(value);
		if (b < 0) {
			fprintf(stderr, "%s:%u: Sandbox= takes yes or no, not '%s'\n", path, line,
				value);
			return -EINVAL;
		}
		c->sandbox = b;
		return 0;
	}
	fprintf(stderr, "%s:%u: warning: unknown key '%s', ignored\n", path, line, key);
	return 0;
}

int config_load(const char *path, bool missing_ok, struct config *c)
{
	FILE *f = fopen(path, "re");
	char buf[4096];
	unsigned line = 0;
	bool in_daemon = false, in_other = false;
	int r = 0;

	if (!f) {
		if (errno == ENOENT && missing_ok)
			return 0;
		r = -errno;
		fprintf(stderr, "svmd: cannot read %s: %s\n", path, strerror(-r));
		return r;
	}
	while (r >= 0 && fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			fprintf(stderr, "%s:%u: line too long\n", path, line);
			r = -EINVAL;
			break;
		}
		char *s = strip(buf);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1]) {
				fprintf(stderr, "%s:%u: malformed section header\n", path, line);
				r = -EINVAL;
				break;
			}
			*end = 0;
			in_daemon = strcmp(s + 1, "Daemon") == 0;
			in_other = !in_daemon;
			if (in_other)
				fprintf(stderr, "%s:%u: warning: unknown section [%s], ignored\n",
					path, line, s + 1);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "%s:%u: expected Key=Value\n", path, line);
			r = -EINVAL;
			break;
		}
		*eq = 0;
		char *key = strip(s), *value = strip(eq + 1);
		if (in_other)
			continue; /* its section was warned about */
		if (!in_daemon) {
			fprintf(stderr, "%s:%u: %s= outside [Daemon]\n", path, line, key);
			r = -EINVAL;
			break;
		}
		r = assign(c, key, value, path, line);
	}
	if (r >= 0 && ferror(f))
		r = -EIO;
	fclose(f);
	return r;
}

void config_done(struct config *c)
{
	free(c->backend);
	free(c->sim_topology);
	free(c->socket);
	free(c->state_dir);
	free(c->map_bytes_per_user);
	free(c->map_bytes_total);
	free(c->bus);
	free(c->log_level);
	free(c->audit);
	for (size_t i = 0; i < c->n_devices; i++)
		free(c->devices[i]);
	for (size_t i = 0; i < c->n_policy_dirs; i++)
		free(c->policy_dirs[i]);
	*c = (struct config){.sandbox = -1};
}
