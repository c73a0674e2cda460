/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sysfs of PCI functions and IOMMU groups; see pci-sysfs.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci-sysfs.h"
#include "util.h"

#define PCI_EXT_CAP_START    0x100u
#define PCI_CFG_SPACE_SIZE   4096u
#define PCI_EXT_CAP_ID_PASID 0x1bu
#define PCI_CLASS_BRIDGE_PCI 0x0604u

const char *node_access_hint(int r)
{
	if (r != -EACCES && r != -EPERM)
		return "";
	return " (svmd's udev rule gives group svmd the VFIO nodes of the devices named in Device= "
	       "of /etc/svmd/svmd.conf, and /dev/iommu while there are some: name the device "
	       "there, then run 'udevadm trigger --action=add --subsystem-match=vfio "
	       "--subsystem-match=vfio-dev --subsystem-match=misc')";
}

int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int sysfs_read_line(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int sysfs_read_hex(const char *path, unsigned long *ret)
{
	char buf[32], *end;
	int r = sysfs_read_line(path, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	*ret = strtoul(buf, &end, 16);
	return errno || end == buf || *end ? -EINVAL : 0;
}

int sysfs_link_name(const char *path, char *buf, size_t size)
{
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	if (n < 0)
		return -errno;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, base);
	return 0;
}

bool pci_driver_is_vfio(const char *driver)
{
	return strstr(driver, "vfio") != NULL;
}

/* Drivers the kernel accepts in a viable group besides vfio's: they do no DMA of their own. */
static bool is_harmless_driver(const char *driver)
{
	return strcmp(driver, "pci-stub") == 0 || strcmp(driver, "pcieport") == 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Max PASID Width from the PASID extended capability (0x1B) in config space: bits 12:8 of the
 * 16-bit capability register at cap+4. 0 when there is none (a conventional 256-byte config
 * space has no extended capabilities at all).
 */
int pci_pasid_bits(const char *config, uint8_t *ret)
{
	_cleanup_close_ int fd = open(config, O_RDONLY | O_CLOEXEC);
	uint8_t cfg[PCI_CFG_SPACE_SIZE];
	unsigned off = PCI_EXT_CAP_START;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, sizeof(cfg), 0);
	if (n < 0)
		return -errno;
	*ret = 0;
	/* Each capability is at least 4 bytes: bound the walk so a loop in the list ends. */
	for (unsigned i = 0; i < (PCI_CFG_SPACE_SIZE - PCI_EXT_CAP_START) / 4; i++) {
		if (off < PCI_EXT_CAP_START || off + 8 > (size_t)n)
			break;
		uint32_t hdr = le32(cfg + off);
		if (hdr == 0 || hdr == 0xffffffffu)
			break;
		if ((hdr & 0xffff) == PCI_EXT_CAP_ID_PASID) {
			unsigned width = (le32(cfg + off + 4) >> 8) & 0x1f;
			*ret = (uint8_t)(width > 20 ? 20 : width);
			break;
		}
		off = (hdr >> 20) & 0xffc;
	}
	return 0;
}

/* An Intel DMAR unit or an Arm SMMUv3; none for anything else. */
uint8_t pci_iommu_model(const char *devdir)
{
	char path[4096], name[256];

	if (path_fmt(path, sizeof(path), "%s/iommu", devdir) < 0 ||
	    sysfs_link_name(path, name, sizeof(name)) < 0)
		return SVMD_MODEL_NONE;
	if (strncmp(name, "dmar", 4) == 0)
		return SVMD_MODEL_VTD;
	if (strncmp(name, "smmu3.", 6) == 0)
		return SVMD_MODEL_SMMU;
	return SVMD_MODEL_NONE;
}

static int describe_group(const char *devdir, const char *name, struct device *d, char *err,
			  size_t errlen)
{
	char path[4096], buf[256], *end;
	unsigned long v;
	int r;

	path_fmt(path, sizeof(path), "%s/iommu_group", devdir);
	r = sysfs_link_name(path, buf, sizeof(buf));
	if (r == -ENOENT)
		return fail(err, errlen, -ENODEV,
			    "%s has no IOMMU group: enable the IOMMU (e.g. intel_iommu=on on the "
			    "kernel command line)",
			    name);
	if (r < 0)
		return fail(err, errlen, r, "%s: %s", path, strerror(-r));
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || *end || v > UINT32_MAX)
		return fail(err, errlen, -EINVAL, "%s: unexpected IOMMU group '%s'", path, buf);
	d->iommu_group = (uint32_t)v;
	return 0;
}

static int describe_driver(const char *devdir, const char *name, char *err, size_t errlen)
{
	char path[4096], buf[256];
	int r;

	path_fmt(path, sizeof(path), "%s/driver", devdir);
	r = sysfs_link_name(path, buf, sizeof(buf));
	if (r == -ENOENT)
		return fail(err, errlen, -ENODEV,
			    "%s has no driver: bind it to vfio-pci (e.g. driverctl set-override %s "
			    "vfio-pci)",
			    name, name);
	if (r < 0)
		return fail(err, errlen, r, "%s: %s", path, strerror(-r));
	if (!pci_driver_is_vfio(buf))
		return fail(err, errlen, -EBUSY,
			    "%s is bound to %s, not vfio-pci: bind it to vfio-pci (e.g. driverctl "
			    "set-override %s vfio-pci)",
			    name, buf, name);
	return 0;
}

static int describe_id(const char *devdir, const char *file, uint16_t *ret, char *err,
		       size_t errlen)
{
	char path[4096];
	unsigned long v;
	int r;

	path_fmt(path, sizeof(path), "%s/%s", devdir, file);
	if ((r = sysfs_read_hex(path, &v)) < 0 || v > UINT16_MAX)
		return fail(err, errlen, r < 0 ? r : -EINVAL, "cannot read %s", path);
	*ret = (uint16_t)v;
	return 0;
}

int pci_describe(const char *sysfs, const char *name, struct device *d, char *err, size_t errlen)
{
	char devdir[4096];
	struct stat st;
	int r;

	if (path_fmt(devdir, sizeof(devdir), "%s/bus/pci/devices/%s", sysfs, name) < 0)
		return fail(err, errlen, -ENAMETOOLONG, "sysfs root too long");
	if (stat(devdir, &st) < 0)
		return fail(err, errlen, -ENODEV, "no PCI device %s (%s: %s)", name, devdir,
			    strerror(errno));
	r = describe_group(devdir, name, d, err, errlen);
	if (r == 0)
		r = describe_driver(devdir, name, err, errlen);
	if (r == 0)
		r = describe_id(devdir, "vendor", &d->vendor, err, errlen);
	if (r == 0)
		r = describe_id(devdir, "device", &d->device_id, err, errlen);
	return r;
}

int pci_group_members(const char *sysfs, uint32_t g, uint32_t *ret_dma, char *list, size_t listlen)
{
	char dir[4096], path[4096], driver[256];
	DIR *dp;
	size_t used = 0;
	uint32_t n_dma = 0;

	if (list && listlen)
		list[0] = 0;
	if (path_fmt(dir, sizeof(dir), "%s/kernel/iommu_groups/%u/devices", sysfs, g) < 0)
		return -ENAMETOOLONG;
	dp = opendir(dir);
	if (!dp)
		return -errno;
	for (struct dirent *e; (e = readdir(dp));) {
		unsigned long class;
		if (e->d_name[0] == '.')
			continue;
		if (path_fmt(path, sizeof(path), "%s/bus/pci/devices/%s/class", sysfs, e->d_name) <
			    0 ||
		    sysfs_read_hex(path, &class) < 0 || (class >> 8) != PCI_CLASS_BRIDGE_PCI)
			n_dma++;
		if (!list || path_fmt(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sysfs,
				      e->d_name) < 0)
			continue;
		if (sysfs_link_name(path, driver, sizeof(driver)) < 0 ||
		    pci_driver_is_vfio(driver) || is_harmless_driver(driver))
			continue;
		int n = snprintf(list + used, listlen - used, "%s%s (bound to %s)",
				 used ? ", " : "", e->d_name, driver);
		if (n > 0)
			used = used + (size_t)n < listlen ? used + (size_t)n : listlen - 1;
	}
	closedir(dp);
	*ret_dma = n_dma;
	return 0;
}

bool pci_group_is_noiommu(const char *sysfs, uint32_t g)
{
	char path[4096], name[64];

	return path_fmt(path, sizeof(path), "%s/kernel/iommu_groups/%u/name", sysfs, g) == 0 &&
	       sysfs_read_line(path, name, sizeof(name)) == 0 && strcmp(name, "vfio-noiommu") == 0;
}
