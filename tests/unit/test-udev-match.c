/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which nodes the udev rule gives to group svmd (daemon/udev-match.c): a managed device's VFIO
 * group node and cdev, /dev/iommu when svmd manages any device, and nothing of a device it
 * does not manage, whatever the backend; malformed answers are errors, not matches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "udev-match.h"

static char sys[64];

static void put_dir(const char *rel)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", sys, rel);
	cr_assert_eq(system(cmd), 0);
}

/* Group 5: the managed 0000:3b:00.0 and its sibling 0000:3b:00.1; group 6: 0000:3c:00.0,
 * which svmd does not manage. */
static void setup(void)
{
	snprintf(sys, sizeof(sys), "/tmp/svmd-udev.XXXXXX");
	cr_assert_not_null(mkdtemp(sys));
	put_dir("kernel/iommu_groups/5/devices/0000:3b:00.0");
	put_dir("kernel/iommu_groups/5/devices/0000:3b:00.1");
	put_dir("kernel/iommu_groups/6/devices/0000:3c:00.0");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sys);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(udev_match, .init = setup, .fini = teardown);

static const char *const managed[] = {"0000:3B:00.0"};

static int ask(const char *what, const char *backend, size_t n)
{
	char err[300] = "";
	int r = udev_match(what, sys, backend, managed, n, err, sizeof(err));

	if (r < 0)
		cr_assert_neq(err[0], 0, "an error for '%s' without a reason", what);
	return r;
}

Test(udev_match, a_managed_devices_group_and_cdev_are_svmds)
{
	cr_expect_eq(ask("group:5", NULL, 1), 1);
	cr_expect_eq(ask("group:5", "vfio", 1), 1);
	cr_expect_eq(
		ask("cdev:/devices/pci0000:00/0000:00:01.0/0000:3b:00.0/vfio-dev/vfio0", NULL, 1),
		1);
	cr_expect_eq(ask("cdev:/devices/pci0000:3a/0000:3b:00.0/vfio-dev/vfio3", "iommufd", 1), 1);
	cr_expect_eq(ask("iommu", NULL, 1), 1);
	cr_expect_eq(ask("iommu", "iommufd", 1), 1);
}

Test(udev_match, other_devices_keep_their_nodes)
{
	cr_expect_eq(ask("group:6", NULL, 1), 0);
	cr_expect_eq(ask("group:7", NULL, 1), 0, "a group sysfs does not have");
	/* The managed device's sibling shares its group, but has a cdev of its own. */
	cr_expect_eq(ask("cdev:/devices/pci0000:3a/0000:3b:00.1/vfio-dev/vfio1", NULL, 1), 0);
	cr_expect_eq(ask("cdev:/devices/pci0000:3a/0000:3c:00.0/vfio-dev/vfio2", NULL, 1), 0);
}

Test(udev_match, nothing_is_svmds_without_devices)
{
	cr_expect_eq(ask("group:5", NULL, 0), 0);
	cr_expect_eq(ask("cdev:/devices/pci0000:3a/0000:3b:00.0/vfio-dev/vfio0", NULL, 0), 0);
	cr_expect_eq(ask("iommu", NULL, 0), 0);
}

Test(udev_match, only_the_nodes_the_backend_opens)
{
	cr_expect_eq(ask("group:5", "iommufd", 1), 0);
	cr_expect_eq(ask("cdev:/devices/pci0000:3a/0000:3b:00.0/vfio-dev/vfio0", "vfio", 1), 0);
	cr_expect_eq(ask("iommu", "vfio", 1), 0);
	cr_expect_eq(ask("group:5", "sim", 1), 0);
	cr_expect_eq(ask("cdev:/devices/pci0000:3a/0000:3b:00.0/vfio-dev/vfio0", "sim", 1), 0);
	cr_expect_eq(ask("iommu", "sim", 1), 0);
}

Test(udev_match, malformed_questions_are_errors)
{
	static const char *const bad[] = {
		"",
		"vfio",
		"group:",
		"group:noiommu-5",
		"group:5x",
		"group:-5",
		"group:99999999999",
		"cdev:",
		"cdev:vfio0",
		"cdev:/vfio-dev/vfio0",
		"cdev:/devices/0000:3b:00.0/vfio0",
		"cdev:/devices/0000:3b:00.0/vfio-dev/card0",
		"iommu0",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(ask(bad[i], NULL, 1), -EINVAL, "'%s'", bad[i]);
}

Test(udev_match, a_name_that_is_not_a_pci_address_matches_nothing)
{
	cr_expect_eq(ask("cdev:/devices/virtual/x/vfio-dev/vfio0", NULL, 1), 0);
	put_dir("kernel/iommu_groups/8/devices/not-a-device");
	cr_expect_eq(ask("group:8", NULL, 1), 0);
}
