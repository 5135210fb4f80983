/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the Xen tests: grants from userspace (xen-gntalloc and
 * xen-gntdev), the gntdev dma-buf ioctls on our node, xenstore.
 */
#ifndef XEN_TEST_H
#define XEN_TEST_H

#include "dmabridge_test_util.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>
/* The UAPI headers use the kernel's names for these. */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/gntalloc.h>
#include <xen/gntdev.h>
#include <dmabridge/gntdev_map.h>

#define GDB_DEV		"/dev/xen/gntdev-dmabuf"
#define PAGE		4096UL
#define MAX_REFS	64
/* What a buffer held before a peer's grants were mapped behind it. */
#define SEED_OWN	0x3333

/* N pages granted to domid (writable unless ro), mapped here. */
struct grant {
	int fd;
	uint32_t count;
	uint8_t *map;
	uint32_t refs[MAX_REFS];
};

static inline int grant_alloc(struct grant *g, uint32_t domid, uint32_t count,
			      bool ro)
{
	size_t sz = sizeof(struct ioctl_gntalloc_alloc_gref) +
		    count * sizeof(uint32_t);
	struct ioctl_gntalloc_alloc_gref *a = calloc(1, sz);
	int err = 0;

	memset(g, 0, sizeof(*g));
	g->fd = open("/dev/xen/gntalloc", O_RDWR | O_CLOEXEC);
	if (g->fd < 0 || !a)
		return -errno;
	a->domid = domid;
	a->flags = ro ? 0 : GNTALLOC_FLAG_WRITABLE;
	a->count = count;
	if (ioctl(g->fd, IOCTL_GNTALLOC_ALLOC_GREF, a))
		err = -errno;
	if (!err) {
		memcpy(g->refs, a->gref_ids, count * sizeof(uint32_t));
		g->count = count;
		g->map = mmap(NULL, count * PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED, g->fd, a->index);
		if (g->map == MAP_FAILED)
			err = -errno;
	}
	free(a);
	return err;
}

static inline void grant_free(struct grant *g)
{
	munmap(g->map, g->count * PAGE);
	close(g->fd);
}

/* Maps count refs of domid through xen-gntdev; NULL on failure. */
static inline uint8_t *gntdev_map(int *gfd, uint32_t domid,
				  const uint32_t *refs, uint32_t count)
{
	size_t sz = sizeof(struct ioctl_gntdev_map_grant_ref) +
		    count * sizeof(struct ioctl_gntdev_grant_ref);
	struct ioctl_gntdev_map_grant_ref *m = calloc(1, sz);
	void *p = NULL;
	uint32_t i;

	*gfd = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
	if (*gfd < 0 || !m)
		return NULL;
	m->count = count;
	for (i = 0; i < count; i++) {
		m->refs[i].domid = domid;
		m->refs[i].ref = refs[i];
	}
	if (!ioctl(*gfd, IOCTL_GNTDEV_MAP_GRANT_REF, m)) {
		p = mmap(NULL, count * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, *gfd, m->index);
		if (p == MAP_FAILED)
			p = NULL;
	}
	free(m);
	return p;
}

static inline int gdb_open(void)
{
	return open(GDB_DEV, O_RDWR | O_CLOEXEC);
}

/* EXP_FROM_REFS: the dma-buf fd, or -errno. */
static inline int gdb_export(int dev, uint32_t domid, const uint32_t *refs,
			     uint32_t count, uint32_t flags)
{
	/* Counts the test lies about are never read that far. */
	uint32_t n = count <= MAX_REFS ? count : 0;
	size_t sz = sizeof(struct ioctl_gntdev_dmabuf_exp_from_refs) +
		    n * sizeof(uint32_t);
	struct ioctl_gntdev_dmabuf_exp_from_refs *e = calloc(1, sz);
	int ret;

	if (!e)
		return -ENOMEM;
	e->flags = flags;
	e->count = count;
	e->domid = domid;
	memcpy(e->refs, refs, n * sizeof(uint32_t));
	ret = ioctl(dev, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, e) ? -errno : (int)e->fd;
	free(e);
	return ret;
}

static inline int gdb_wait(int dev, uint32_t fd, uint32_t ms)
{
	struct ioctl_gntdev_dmabuf_exp_wait_released w = {
		.fd = fd, .wait_to_ms = ms,
	};

	return ioctl(dev, IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, &w) ? -errno : 0;
}

/* IMP_TO_REFS into refs[count]; 0 or -errno. */
static inline int gdb_import(int dev, int fd, uint32_t domid, uint32_t *refs,
			     uint32_t count, uint32_t reserved)
{
	size_t sz = sizeof(struct ioctl_gntdev_dmabuf_imp_to_refs) +
		    count * sizeof(uint32_t);
	struct ioctl_gntdev_dmabuf_imp_to_refs *i = calloc(1, sz);
	int ret;

	if (!i)
		return -ENOMEM;
	i->fd = fd;
	i->count = count;
	i->domid = domid;
	i->reserved = reserved;
	ret = ioctl(dev, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, i) ? -errno : 0;
	if (!ret)
		memcpy(refs, i->refs, count * sizeof(uint32_t));
	free(i);
	return ret;
}

static inline int gdb_release(int dev, int fd, uint32_t reserved)
{
	struct ioctl_gntdev_dmabuf_imp_release r = {
		.fd = fd, .reserved = reserved,
	};

	return ioctl(dev, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, &r) ? -errno : 0;
}

/* MAP_REFS_TO_BUF of refs[count] onto the dma-buf fd; 0 or -errno. */
static inline int gdb_map(int dev, int fd, uint32_t domid, const uint32_t *refs,
			  uint32_t count, uint32_t data_ofs, uint32_t flags)
{
	uint32_t n = count <= MAX_REFS ? count : 0;
	size_t sz = sizeof(struct ioctl_gntdev_dmabuf_map_refs_to_buf) +
		    n * sizeof(uint32_t);
	struct ioctl_gntdev_dmabuf_map_refs_to_buf *m = calloc(1, sz);
	int ret;

	if (!m)
		return -ENOMEM;
	m->flags = flags;
	m->count = count;
	m->data_ofs = data_ofs;
	m->fd = fd;
	m->domid = domid;
	memcpy(m->refs, refs, n * sizeof(uint32_t));
	ret = ioctl(dev, IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF, m) ? -errno : 0;
	free(m);
	return ret;
}

static inline int gdb_map_release(int dev, int fd, uint32_t reserved)
{
	struct ioctl_gntdev_dmabuf_map_release r = {
		.fd = fd, .reserved = reserved,
	};

	return ioctl(dev, IOCTL_GNTDEV_DMABUF_MAP_RELEASE, &r) ? -errno : 0;
}

static inline int gdb_map_wait(int dev, uint32_t fd, uint32_t ms)
{
	struct ioctl_gntdev_dmabuf_map_wait_released w = {
		.fd = fd, .wait_to_ms = ms,
	};

	return ioctl(dev, IOCTL_GNTDEV_DMABUF_MAP_WAIT_RELEASED, &w) ? -errno : 0;
}

/*
 * A vgem dumb buffer seen the way its owner sees it: CPU maps come from
 * the DRM node, not from the dma-buf, which is exported as fd.
 */
struct vgem_buf {
	int card;
	uint32_t handle;
	int fd;
	size_t size;
};

static inline int vgem_buf_new(struct vgem_buf *b, size_t size, bool rdwr)
{
	struct drm_mode_create_dumb dumb = {
		.width = 1024, .bpp = 32, .height = size / 4096,
	};
	struct drm_prime_handle prime = {
		.flags = DRM_CLOEXEC | (rdwr ? DRM_RDWR : 0),
	};

	*b = (struct vgem_buf){ .fd = -1, .size = size };
	b->card = vgem_open();
	if (b->card < 0)
		return b->card;
	if (ioctl(b->card, DRM_IOCTL_MODE_CREATE_DUMB, &dumb))
		return -errno;
	b->handle = prime.handle = dumb.handle;
	if (ioctl(b->card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime))
		return -errno;
	b->fd = prime.fd;
	return 0;
}

/* A fresh CPU map through the DRM node, or NULL. */
static inline uint8_t *vgem_buf_map(struct vgem_buf *b)
{
	struct drm_mode_map_dumb md = { .handle = b->handle };
	void *p;

	if (ioctl(b->card, DRM_IOCTL_MODE_MAP_DUMB, &md))
		return NULL;
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->card,
		 md.offset);
	return p == MAP_FAILED ? NULL : p;
}

static inline void vgem_buf_free(struct vgem_buf *b)
{
	struct drm_gem_close gc = { .handle = b->handle };

	close(b->fd);
	ioctl(b->card, DRM_IOCTL_GEM_CLOSE, &gc);
	close(b->card);
}

#define GDB_OBJECTS	"/sys/kernel/debug/dmabridge-xen/objects"

static inline int gdb_objects_now(char *what, size_t len)
{
	FILE *f = fopen(GDB_OBJECTS, "r");
	char line[64];
	long n;
	int ret = 0;

	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %ld", &n) != 1 || n) {
			snprintf(what, len, "%s", line);
			ret = -1;
		}
	}
	fclose(f);
	return ret;
}

/*
 * 0 when the module holds no grant or grant mapping (see
 * kernel/xen/gntdev_dmabuf.h), else -1 with the first count that is not
 * zero in what, or -errno.  Waits up to 3 s: a released import's grants
 * end in the background once the peer has unmapped them, tried again at
 * most a second apart.
 */
static inline int gdb_objects_left(char *what, size_t len)
{
	int ret, tries;

	for (tries = 0; tries < 300; tries++) {
		ret = gdb_objects_now(what, len);
		if (ret != -1)
			break;
		usleep(10000);
	}
	return ret;
}

#define GDB_KNOBS "/sys/kernel/debug/dmabridge-xen/"

/*
 * Test builds of the module have knobs in GDB_KNOBS that make Xen fail on
 * purpose, each for the next n times:
 *  - refuse_restores: Xen refuses a page restore of MAP_REFS_TO_BUF (the
 *    module hands it a handle it never gave out);
 *  - cut_map_hypercalls: a MAP hypercall does the first half of its ops,
 *    then fails as a whole.
 * Sets one: 0, or -errno (-ENOENT: not a test build).
 */
static inline int gdb_knob_set(const char *knob, long n)
{
	char path[128];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), GDB_KNOBS "%s", knob);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", n) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* How many times a knob has still to fail, or -1. */
static inline long gdb_knob_left(const char *knob)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), GDB_KNOBS "%s", knob);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static inline long mem_free_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#endif
