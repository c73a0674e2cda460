/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU's edu device through a VFIO device fd, and the kernel log's IOMMU fault lines: what the
 * test kernel's VM programs (iommufd-smoke, iommufd-svmd) share. Built against the test
 * kernel's own uAPI headers, like those programs. Header-only (static inline): each program is
 * one translation unit.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* The edu device (QEMU docs/specs/edu.rst): BAR0 registers, and its 4 KiB DMA buffer at device
 * address 0x40000, which only DMA reaches. DMA addresses are masked to 28 bits by default, so
 * every IOVA used with it must be below 256 MiB. QEMU 7.2's edu aborts on a transfer ending
 * exactly at the buffer's end: transfers use the middle 2 KiB. */
#define EDU_PCI_ID      "0x1234:0x11e8"
#define EDU_IDENT       0x00
#define EDU_IDENT_VALUE 0x010000edu
#define EDU_LIVENESS    0x04
#define EDU_DMA_SRC     0x80
#define EDU_DMA_DST     0x88
#define EDU_DMA_COUNT   0x90
#define EDU_DMA_CMD     0x98
#define EDU_DMA_RUN     0x1
#define EDU_DMA_TO_RAM  0x2
#define EDU_BUFFER      0x40000
#define EDU_XFER_OFFSET 1024
#define EDU_XFER_SIZE   2048
/* The middle of the buffer, where every transfer goes. */
#define EDU_XFER_ADDR (EDU_BUFFER + EDU_XFER_OFFSET)

/* One edu function's registers, through a VFIO device fd. */
struct edu_regs {
	int fd;                /* the VFIO device fd; not owned */
	uint64_t bar0, config; /* region offsets in fd */
};

/*
 * Finds bdf's VFIO cdev from sysfs (BDF/vfio-dev/vfioN) and checks that node is the character
 * device sysfs names: 0 with the path in node, or a negative errno with the reason in why.
 */
static inline int edu_find_cdev(const char *bdf, char *node, size_t nodelen, char *why,
				size_t whylen)
{
	char dir[128], path[192], devno[32], name[32] = "";
	unsigned int maj, min;
	struct dirent *de;
	struct stat st;
	FILE *f;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(dir);
	if (!d) {
		int r = -errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(-r));
		return r;
	}
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "vfio", 4) == 0 && strlen(de->d_name) < sizeof(name))
			strcpy(name, de->d_name);
	closedir(d);
	if (!name[0]) {
		snprintf(why, whylen, "no vfioN in %s", dir);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/%s/dev", dir, name);
	f = fopen(path, "re");
	if (!f || !fgets(devno, sizeof(devno), f) || sscanf(devno, "%u:%u", &maj, &min) != 2) {
		if (f)
			fclose(f);
		snprintf(why, whylen, "cannot read %s", path);
		return -EIO;
	}
	fclose(f);
	snprintf(node, nodelen, "/dev/vfio/devices/%s", name);
	if (stat(node, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != maj ||
	    minor(st.st_rdev) != min) {
		snprintf(why, whylen, "%s is not the character device %u:%u", node, maj, min);
		return -ENODEV;
	}
	snprintf(why, whylen, "%s (%u:%u) from %s", node, maj, min, dir);
	return 0;
}

static inline int edu_region_offset(int fd, uint32_t index, uint64_t *ret_offset)
{
	struct vfio_region_info info = {.argsz = sizeof(info), .index = index};

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info) < 0)
		return -errno;
	*ret_offset = info.offset;
	return 0;
}

static inline int edu_rd32(const struct edu_regs *e, uint64_t reg, uint32_t *val)
{
	return pread(e->fd, val, 4, (off_t)(e->bar0 + reg)) == 4 ? 0 : -EIO;
}

static inline int edu_wr32(const struct edu_regs *e, uint64_t reg, uint32_t val)
{
	return pwrite(e->fd, &val, 4, (off_t)(e->bar0 + reg)) == 4 ? 0 : -EIO;
}

static inline int edu_wr64(const struct edu_regs *e, uint64_t reg, uint64_t val)
{
	return pwrite(e->fd, &val, 8, (off_t)(e->bar0 + reg)) == 8 ? 0 : -EIO;
}

/*
 * Reaches fd's BAR0 and config space: the ident register, the liveness register inverting
 * what it is given, and bus mastering turned on in the command register (QEMU drops DMA
 * without it). 0, or a negative errno with the reason in why; on success why says what was
 * seen.
 */
static inline int edu_setup(struct edu_regs *e, int fd, char *why, size_t whylen)
{
	uint32_t ident = 0, live = 0;
	uint16_t cmd = 0;
	int r;

	e->fd = fd;
	e->bar0 = e->config = 0;
	if ((r = edu_region_offset(fd, VFIO_PCI_BAR0_REGION_INDEX, &e->bar0)) < 0 ||
	    (r = edu_region_offset(fd, VFIO_PCI_CONFIG_REGION_INDEX, &e->config)) < 0) {
		snprintf(why, whylen, "VFIO_DEVICE_GET_REGION_INFO: %s", strerror(-r));
		return r;
	}
	if (edu_rd32(e, EDU_IDENT, &ident) < 0 || edu_wr32(e, EDU_LIVENESS, 0x12345678) < 0 ||
	    edu_rd32(e, EDU_LIVENESS, &live) < 0) {
		snprintf(why, whylen, "BAR0 access: %s", strerror(errno));
		return -EIO;
	}
	if (pread(fd, &cmd, 2, (off_t)(e->config + PCI_COMMAND)) != 2) {
		snprintf(why, whylen, "config read: %s", strerror(errno));
		return -EIO;
	}
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(fd, &cmd, 2, (off_t)(e->config + PCI_COMMAND)) != 2) {
		snprintf(why, whylen, "config write: %s", strerror(errno));
		return -EIO;
	}
	if (ident != EDU_IDENT_VALUE || live != ~0x12345678u) {
		snprintf(why, whylen, "ident %#x (want %#x), liveness %#x (want %#x)", ident,
			 EDU_IDENT_VALUE, live, ~0x12345678u);
		return -EIO;
	}
	snprintf(why, whylen, "ident %#x, liveness inverts, bus master on", ident);
	return 0;
}

/* One edu DMA of count bytes, waited for: edu runs it 100 ms (virtual time) after the
 * command. 0, -EIO (register access failed) or -ETIMEDOUT. */
static inline int edu_dma(const struct edu_regs *e, uint64_t src, uint64_t dst, uint32_t count,
			  uint32_t cmd)
{
	struct timespec t0, now;
	uint32_t status;

	if (edu_wr64(e, EDU_DMA_SRC, src) < 0 || edu_wr64(e, EDU_DMA_DST, dst) < 0 ||
	    edu_wr64(e, EDU_DMA_COUNT, count) < 0 || edu_wr64(e, EDU_DMA_CMD, cmd) < 0)
		return -EIO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (edu_rd32(e, EDU_DMA_CMD, &status) < 0)
			return -EIO;
		if (!(status & EDU_DMA_RUN))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 10)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

/* memory at iova -> the middle of edu's buffer. */
static inline int edu_dma_from(const struct edu_regs *e, uint64_t iova)
{
	return edu_dma(e, iova, EDU_XFER_ADDR, EDU_XFER_SIZE, EDU_DMA_RUN);
}

/* the middle of edu's buffer -> memory at iova. */
static inline int edu_dma_to(const struct edu_regs *e, uint64_t iova)
{
	return edu_dma(e, EDU_XFER_ADDR, iova, EDU_XFER_SIZE, EDU_DMA_RUN | EDU_DMA_TO_RAM);
}

/* The kernel log from now on (/dev/kmsg, positioned at its end), or a negative errno. */
static inline int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * Waits up to two seconds for a kernel log record, after where kmsg stands, that contains
 * every one of the n strings in want: true with its text (without the record's prefix) in
 * line. Records read on the way are consumed.
 */
static inline bool kmsg_find(int kmsg, const char *const *want, size_t n, char *line,
			     size_t linelen)
{
	char rec[1024];
	ssize_t len;
	int tries;
	size_t i;

	for (tries = 0; tries < 100; tries++) {
		while ((len = read(kmsg, rec, sizeof(rec) - 1)) > 0) {
			const char *text;
			size_t n_text;

			rec[len] = '\0';
			rec[strcspn(rec, "\n")] = '\0';
			for (i = 0; i < n && strstr(rec, want[i]); i++)
				;
			if (i < n)
				continue;
			text = strchr(rec, ';') ? strchr(rec, ';') + 1 : rec;
			n_text = strlen(text) < linelen ? strlen(text) : linelen - 1;
			memcpy(line, text, n_text);
			line[n_text] = '\0';
			return true;
		}
		usleep(20000);
	}
	return false;
}
