/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the guest test suites: thin wrappers around the test
 * importer's ioctls, dma-buf syncs, byte patterns, and making buffers with
 * each exporter.
 * They return 0 or -errno and never assert, so each test decides what a
 * failure means.  Tests for another exporter include this file too.
 */
#ifndef DMABRIDGE_TEST_UTIL_H
#define DMABRIDGE_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/memfd.h>
#include <linux/udmabuf.h>

#include <dmabridge/udmabuf.h>
#include <dmabridge_test_importer.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* --- the importer -------------------------------------------------- */

static inline int ti_open(void)
{
	return open(DMABRIDGE_TI_DEVICE, O_RDWR | O_CLOEXEC);
}

static inline int ti_ioctl(int tifd, unsigned long cmd, void *arg)
{
	return ioctl(tifd, cmd, arg) ? -errno : 0;
}

static inline int ti_attach(int tifd, uint32_t slot, int fd, uint32_t dir,
			    uint32_t flags)
{
	struct dmabridge_ti_attach a = {
		.fd = fd, .slot = slot, .dir = dir, .flags = flags,
	};

	return ti_ioctl(tifd, DMABRIDGE_TI_IOC_ATTACH, &a);
}

static inline int ti_detach(int tifd, uint32_t slot)
{
	struct dmabridge_ti_detach d = { .slot = slot };

	return ti_ioctl(tifd, DMABRIDGE_TI_IOC_DETACH, &d);
}

/* flags: 0 for the device's view, DMABRIDGE_TI_XFER_VMAP for the kernel CPU's. */
static inline int ti_xfer(int tifd, unsigned long cmd, uint32_t slot,
			  uint32_t flags, uint64_t off, const void *buf,
			  uint64_t len)
{
	struct dmabridge_ti_xfer x = {
		.slot = slot, .flags = flags, .offset = off, .len = len,
		.ptr = (uintptr_t)buf,
	};

	return ti_ioctl(tifd, cmd, &x);
}

static inline int ti_read(int tifd, uint32_t slot, uint64_t off, void *buf,
			  uint64_t len)
{
	return ti_xfer(tifd, DMABRIDGE_TI_IOC_DMA_READ, slot, 0, off, buf, len);
}

static inline int ti_write(int tifd, uint32_t slot, uint64_t off,
			   const void *buf, uint64_t len)
{
	return ti_xfer(tifd, DMABRIDGE_TI_IOC_DMA_WRITE, slot, 0, off, buf, len);
}

static inline int ti_vmap_read(int tifd, uint32_t slot, uint64_t off,
			       void *buf, uint64_t len)
{
	return ti_xfer(tifd, DMABRIDGE_TI_IOC_DMA_READ, slot,
		       DMABRIDGE_TI_XFER_VMAP, off, buf, len);
}

static inline int ti_vmap_write(int tifd, uint32_t slot, uint64_t off,
				const void *buf, uint64_t len)
{
	return ti_xfer(tifd, DMABRIDGE_TI_IOC_DMA_WRITE, slot,
		       DMABRIDGE_TI_XFER_VMAP, off, buf, len);
}

static inline int ti_info(int tifd, uint32_t slot, struct dmabridge_ti_info *i)
{
	memset(i, 0, sizeof(*i));
	i->slot = slot;
	return ti_ioctl(tifd, DMABRIDGE_TI_IOC_INFO, i);
}

static inline int ti_segment(int tifd, uint32_t slot, uint32_t index,
			     struct dmabridge_ti_segment *s)
{
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	s->index = index;
	return ti_ioctl(tifd, DMABRIDGE_TI_IOC_SEGMENT, s);
}

/*
 * How many attachments of the importer's devices the dma-buf core knows
 * of, from debugfs; -1 when debugfs is not mounted.
 */
static inline int ti_attachments_in_debugfs(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "dmabridge-test-importer"))
			n++;
	fclose(f);
	return n;
}

/*
 * How many dma-bufs exist system-wide, from debugfs's "Total N objects";
 * -1 when debugfs is not mounted.  A reference leaked on a buffer keeps it
 * counted after every fd of it is closed.
 */
static inline int dmabufs_in_debugfs(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[512];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Total %d objects", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * How many references the file of the dma-buf @fd has, from debugfs's
 * list of buffers (found by inode); -1 when it cannot be told.  A
 * reference leaked on a buffer that lives on shows here.
 */
static inline long dmabuf_file_count(int fd)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	unsigned long ino;
	char line[512], exp_name[128];
	long count, found = -1;
	unsigned int flags, mode;
	size_t size;
	struct stat st;

	if (!f)
		return -1;
	if (fstat(fd, &st)) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%zu %x %x %ld %127s %lu", &size, &flags, &mode,
			   &count, exp_name, &ino) == 6 && ino == st.st_ino) {
			found = count;
			break;
		}
	fclose(f);
	return found;
}

/* --- dma-buf CPU access -------------------------------------------- */

static inline int dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) ? -errno : 0;
}

/* --- patterns ------------------------------------------------------ */

/*
 * Every byte depends on seed and absolute position (a splitmix64 step), so
 * shifted, stale or foreign data shows; seeds never alias each other.
 */
static inline uint8_t pat_byte(uint32_t seed, uint64_t pos)
{
	uint64_t x = pos + ((uint64_t)seed << 40) + 0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (uint8_t)(x ^ (x >> 31));
}

static inline void pat_fill(void *buf, uint64_t pos, uint64_t len,
			    uint32_t seed)
{
	uint8_t *p = buf;
	uint64_t i;

	for (i = 0; i < len; i++)
		p[i] = pat_byte(seed, pos + i);
}

/* Offset of the first byte that differs from the pattern, or -1. */
static inline int64_t pat_check(const void *buf, uint64_t pos, uint64_t len,
				uint32_t seed)
{
	const uint8_t *p = buf;
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pat_byte(seed, pos + i))
			return (int64_t)i;
	return -1;
}

/* --- moving patterns, checked on the other side ------------------- */

#define SEED_CPU	0x1111
#define SEED_DEV	0x2222

/* CPU writes [off, off + len) of the dma-buf, bracketed as the ABI asks. */
static inline int cpu_write(int buf, uint8_t *map, size_t off, size_t len,
		     uint32_t seed)
{
	int ret = dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);

	if (ret)
		return ret;
	pat_fill(map + off, off, len, seed);
	return dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

/* CPU checks [off, off + len); returns the first bad offset or -1. */
static inline int64_t cpu_check(int buf, const uint8_t *map, size_t off, size_t len,
			 uint32_t seed)
{
	int64_t bad;

	if (dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))
		return -2;
	bad = pat_check(map + off, off, len, seed);
	if (dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ))
		return -2;
	return bad < 0 ? -1 : (int64_t)off + bad;
}

/* Device checks [off, off + len) of slot; same return as cpu_check. */
static inline int64_t dev_check(int tifd, uint32_t slot, uint8_t *tmp, size_t off,
			 size_t len, uint32_t seed)
{
	int64_t bad;

	if (ti_read(tifd, slot, off, tmp, len))
		return -2;
	bad = pat_check(tmp, off, len, seed);
	return bad < 0 ? -1 : (int64_t)off + bad;
}

static inline int dev_write(int tifd, uint32_t slot, uint8_t *tmp, size_t off,
		     size_t len, uint32_t seed)
{
	pat_fill(tmp, off, len, seed);
	return ti_write(tifd, slot, off, tmp, len);
}

static inline bool bounced(int tifd, uint32_t slot)
{
	struct dmabridge_ti_info info;

	return !ti_info(tifd, slot, &info) && info.bounced_segs;
}

/* --- exporters ----------------------------------------------------- */

/* The udmabuf under test: dmabridge's by default, any other by env. */
static inline const char *udmabuf_dev_path(void)
{
	const char *p = getenv("DMABRIDGE_UDMABUF_DEV");

	return p && *p ? p : "/dev/dmabridge-udmabuf";
}

static inline bool udmabuf_dev_is_dmabridge(void)
{
	return strstr(udmabuf_dev_path(), "dmabridge") != NULL;
}

static inline bool swiotlb_forced(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	return strstr(line, "swiotlb=force") != NULL;
}

/* A memfd of size bytes sealed against shrinking, as udmabuf wants. */
static inline int memfd_sealed(const char *name, uint64_t size,
			       unsigned int mfd_flags)
{
	int fd = memfd_create(name, MFD_ALLOW_SEALING | MFD_CLOEXEC | mfd_flags);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Returns a dma-buf fd or -errno. */
static inline int udmabuf_create(int devfd, int memfd, uint64_t off,
				 uint64_t size, uint32_t flags)
{
	struct udmabuf_create c = {
		.memfd = memfd, .flags = flags, .offset = off, .size = size,
	};
	int fd = ioctl(devfd, UDMABUF_CREATE, &c);

	return fd < 0 ? -errno : fd;
}

static inline int udmabuf_create_list(int devfd, uint32_t flags,
				      const struct udmabuf_create_item *items,
				      uint32_t count)
{
	struct udmabuf_create_list *l;
	int fd, err;

	l = calloc(1, sizeof(*l) + count * sizeof(*items));
	if (!l)
		return -ENOMEM;
	l->flags = flags;
	l->count = count;
	memcpy(l->list, items, count * sizeof(*items));
	fd = ioctl(devfd, UDMABUF_CREATE_LIST, l);
	err = errno;
	free(l);
	return fd < 0 ? -err : fd;
}

/* --- exporters, uniformly ---------------------------------------- */

enum exporter_kind {
	EXPORTER_UDMABUF,	/* $DMABRIDGE_UDMABUF_DEV */
	EXPORTER_HEAP,		/* $DMABRIDGE_DMA_HEAP, a /dev/dma_heap node */
	EXPORTER_VGEM,		/* the kernel's vgem, a dumb buffer */
};

static inline int udmabuf_alloc(uint64_t size)
{
	int dev = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	int memfd, buf;

	if (dev < 0)
		return -ENODEV;
	memfd = memfd_sealed("udmabuf", size, 0);
	if (memfd < 0) {
		close(dev);
		return memfd;
	}
	buf = udmabuf_create(dev, memfd, 0, size, UDMABUF_FLAGS_CLOEXEC);
	close(memfd);
	close(dev);
	return buf;
}

static inline int heap_alloc(const char *path, uint64_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap, err;

	if (!path || !*path)
		return -ENODEV;
	heap = open(path, O_RDONLY | O_CLOEXEC);
	if (heap < 0)
		return -ENODEV;
	err = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) ? -errno : 0;
	close(heap);
	return err ? err : (int)d.fd;
}

/* The DRM node of vgem, the kernel's virtual GEM driver, or -ENODEV. */
static inline int vgem_open(void)
{
	char path[32], name[16];
	int i;

	for (i = 0; i < 16; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };
		int card;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		card = open(path, O_RDWR | O_CLOEXEC);
		if (card < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(card, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return card;
		close(card);
	}
	return -ENODEV;
}

/* A dumb buffer of vgem, exported with PRIME; -ENODEV without vgem. */
static inline int vgem_alloc(uint64_t size)
{
	struct drm_mode_create_dumb dumb = {
		.width = 1024, .bpp = 32, .height = size / 4096,
	};
	struct drm_prime_handle prime = { .flags = DRM_CLOEXEC | DRM_RDWR };
	int card, err;

	if (size % 4096)
		return -EINVAL;
	card = vgem_open();
	if (card < 0)
		return card;
	err = ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) ? -errno : 0;
	prime.handle = dumb.handle;
	if (!err)
		err = ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) ? -errno : 0;
	/* The dma-buf holds the object; the handle can go with the fd. */
	close(card);
	return err ? err : prime.fd;
}

/* A dma-buf of size bytes; -ENODEV when that exporter is not there. */
static inline int exporter_alloc(enum exporter_kind kind, uint64_t size)
{
	switch (kind) {
	case EXPORTER_UDMABUF:
		return udmabuf_alloc(size);
	case EXPORTER_HEAP:
		return heap_alloc(getenv("DMABRIDGE_DMA_HEAP"), size);
	case EXPORTER_VGEM:
		return vgem_alloc(size);
	}
	return -EINVAL;
}

/* A dma-buf from whichever exporter the guest has, or -errno. */
static inline int any_dmabuf(uint64_t size)
{
	const char *heaps[] = { getenv("DMABRIDGE_DMA_HEAP"),
				"/dev/dma_heap/system" };
	unsigned int i;
	int fd;

	fd = udmabuf_alloc(size);
	if (fd != -ENODEV)
		return fd;
	for (i = 0; i < ARRAY_SIZE(heaps); i++) {
		fd = heap_alloc(heaps[i], size);
		if (fd != -ENODEV)
			return fd;
	}
	return vgem_alloc(size);
}

/* --- procfs, fds and dma-buf heaps ----------------------------------- */

/* "Key: value kB" from a /proc file such as /proc/meminfo, in bytes; -1 if absent. */
static inline long long proc_field_bytes(const char *path, const char *key)
{
	char line[256];
	size_t keylen = strlen(key);
	long long value = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, keylen) && line[keylen] == ':') {
			value = atoll(line + keylen + 1) * 1024;
			break;
		}
	fclose(f);
	return value;
}

/* Unreclaimable kernel memory a leak would grow, in bytes. */
static inline long long kernel_unreclaimable_bytes(void)
{
	return proc_field_bytes("/proc/meminfo", "SUnreclaim") +
	       proc_field_bytes("/proc/meminfo", "VmallocUsed") +
	       proc_field_bytes("/proc/meminfo", "PageTables");
}

/* The value of "key:" in this process's fdinfo of fd, copied into out. */
static inline int fdinfo_value(int fd, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	size_t keylen = strlen(key);
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *v = line + keylen + 1;

		if (strncmp(line, key, keylen) || line[keylen] != ':')
			continue;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* The lowest free fd: a failed call that made none leaves it unchanged. */
static inline int next_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* DMA_HEAP_IOCTL_ALLOC with every field under the caller's control. */
static inline int heap_ioctl_alloc(int heapfd, uint64_t len, uint32_t fd_flags,
				   uint64_t heap_flags)
{
	struct dma_heap_allocation_data d = {
		.len = len, .fd_flags = fd_flags, .heap_flags = heap_flags,
	};

	return ioctl(heapfd, DMA_HEAP_IOCTL_ALLOC, &d) ? -errno : (int)d.fd;
}

/* A counter of dmabridge's heap @name from /sys/class/dmabridge_heap; -1 if none. */
static inline long long dmabridge_heap_stat(const char *name, const char *stat)
{
	char path[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/dmabridge_heap/%s/%s", name, stat);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

#endif /* DMABRIDGE_TEST_UTIL_H */
