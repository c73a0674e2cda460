/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd.conf parsing (daemon/config.c): the [Daemon] keys, list keys and their reset, comments,
 * and the errors that keep svmd from starting, with file:line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include "config.h"

static char path[64];

static const char *write_conf(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/svmd-conf.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void cleanup(void)
{
	if (path[0])
		unlink(path);
}

TestSuite(config, .fini = cleanup);

Test(config, every_key)
{
	struct config c = {.sandbox = -1};

	write_conf("# comment\n"
		   "; another\n"
		   "\n"
		   "[Daemon]\n"
		   "Backend = sim\n"
		   "Device=0000:3b:00.0 0000:3c:00.0\n"
		   "Device=0000:5e:00.0\n"
		   "SimTopology=/etc/svmd/topology\n"
		   "Socket=/run/x.sock\n"
		   "Bus=none\n"
		   "PolicyDir=/a /b\n"
		   "LogLevel=debug\n"
		   "Audit=journal\n"
		   "Sandbox=no\n");
	cr_assert_eq(config_load(path, false, &c), 0);
	cr_assert_str_eq(c.backend, "sim");
	cr_assert_eq(c.n_devices, 3);
	cr_assert_str_eq(c.devices[2], "0000:5e:00.0");
	cr_assert_str_eq(c.sim_topology, "/etc/svmd/topology");
	cr_assert_str_eq(c.socket, "/run/x.sock");
	cr_assert_str_eq(c.bus, "none");
	cr_assert_eq(c.n_policy_dirs, 2);
	cr_assert_str_eq(c.policy_dirs[1], "/b");
	cr_assert_str_eq(c.log_level, "debug");
	cr_assert_str_eq(c.audit, "journal");
	cr_assert_eq(c.sandbox, 0);
	config_done(&c);
	cr_assert_null(c.backend);
	cr_assert_eq(c.sandbox, -1);
}

Test(config, empty_assignment_clears_a_list_and_later_wins)
{
	struct config c = {.sandbox = -1};

	write_conf("[Daemon]\nDevice=0000:3b:00.0\nDevice=\nDevice=0000:af:00.0\nBus=system\n"
		   "Bus=session\n");
	cr_assert_eq(config_load(path, false, &c), 0);
	cr_assert_eq(c.n_devices, 1);
	cr_assert_str_eq(c.devices[0], "0000:af:00.0");
	cr_assert_str_eq(c.bus, "session");
	config_done(&c);
}

Test(config, missing_file)
{
	struct config c = {.sandbox = -1};

	cr_assert_eq(config_load("/nonexistent/svmd.conf", true, &c), 0);
	cr_assert_eq(config_load("/nonexistent/svmd.conf", false, &c), -ENOENT);
	config_done(&c);
}

struct bad {
	char text[128];
	char message[128];
};

ParameterizedTestParameters(config, errors)
{
	static struct bad rows[] = {
		{"[Daemon]\nBackend\n", ":2: expected Key=Value"},
		{"Backend=sim\n", ":1: Backend= outside [Daemon]"},
		{"[Daemon\nBackend=sim\n", ":1: malformed section header"},
		{"[Daemon]\nSandbox=maybe\n", ":2: Sandbox= takes yes or no, not 'maybe'"},
		{"[Daemon]\nDevice=a b c d e f g h i j k l m n o p q\n", ":2: more than 16 values"},
	};
	return cr_make_param_array(struct bad, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad *b, config, errors, .init = cr_redirect_stderr)
{
	struct config c = {.sandbox = -1};
	char want[256];

	write_conf(b->text);
	cr_assert_eq(config_load(path, false, &c), -EINVAL);
	config_done(&c);
	fflush(stderr);
	snprintf(want, sizeof(want), "%s%s\n", path, b->message);
	cr_assert_stderr_eq_str(want);
}

Test(config, unknown_keys_and_sections_only_warn, .init = cr_redirect_stderr)
{
	struct config c = {.sandbox = -1};
	char want[512];

	write_conf("[Daemon]\nColour=blue\n[Other]\nX=1\n");
	cr_assert_eq(config_load(path, false, &c), 0);
	config_done(&c);
	fflush(stderr);
	snprintf(want, sizeof(want),
		 "%s:2: warning: unknown key 'Colour', ignored\n"
		 "%s:3: warning: unknown section [Other], ignored\n",
		 path, path);
	cr_assert_stderr_eq_str(want);
}
