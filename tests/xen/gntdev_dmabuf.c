// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/xen/gntdev-dmabuf within one domain: a domain may map its own
 * grants, so dom0 grants pages to itself with xen-gntalloc and exports,
 * imports and waits on them.  Run in a Xen dom0 (tests/plan, kernel xen).
 */
#include "xen_test.h"

#include <dmabridge.h>
#include <limits.h>
#include <pthread.h>
#include "kselftest_harness.h"

#define SELF 0	/* dom0 */

FIXTURE(self) {
	int dev;
	int ti;
	struct grant g;
};

FIXTURE_SETUP(self)
{
	if (access("/sys/hypervisor/type", F_OK))
		SKIP(return, "not a Xen domain");
	self->dev = gdb_open();
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", GDB_DEV, strerror(errno));
	self->ti = ti_open();
	ASSERT_LE(0, self->ti);
	ASSERT_EQ(0, grant_alloc(&self->g, SELF, 4, false));
	pat_fill(self->g.map, 0, 4 * PAGE, SEED_CPU);
}

FIXTURE_TEARDOWN(self)
{
	if (!self->g.map)
		return;
	char left[64] = "";

	grant_free(&self->g);
	close(self->ti);
	close(self->dev);
	EXPECT_EQ(0, gdb_objects_left(left, sizeof(left))) TH_LOG("left: %s", left);
}

/* The exported dma-buf is the granted pages: no copy either way. */
TEST_F(self, export_round_trip)
{
	static uint8_t buf[4 * PAGE];
	int fd;

	fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
	ASSERT_LE(0, fd) TH_LOG("EXP_FROM_REFS: %s", strerror(-fd));
	ASSERT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(4 * PAGE, (size_t)lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, ti_attach(self->ti, 0, fd, DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, ti_vmap_read(self->ti, 0, 0, buf, sizeof(buf)));
	ASSERT_EQ(-1, pat_check(buf, 0, sizeof(buf), SEED_CPU));
	/* The granting side writes, the importer sees it... */
	pat_fill(self->g.map + PAGE, PAGE, PAGE, SEED_DEV);
	ASSERT_EQ(0, ti_vmap_read(self->ti, 0, PAGE, buf, PAGE));
	ASSERT_EQ(-1, pat_check(buf, PAGE, PAGE, SEED_DEV));
	/* ...and the other way round. */
	pat_fill(buf, 3 * PAGE, PAGE, SEED_DEV);
	ASSERT_EQ(0, ti_vmap_write(self->ti, 0, 3 * PAGE, buf, PAGE));
	ASSERT_EQ(-1, pat_check(self->g.map + 3 * PAGE, 3 * PAGE, PAGE, SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->ti, 0));
	close(fd);
}

/*
 * In PV, neighbouring pfns are not neighbouring machine frames, where DMA
 * goes: an importer's scatterlist has an entry per page, however the
 * pfns the grants were mapped at happen to lie (exports made one after
 * another reuse the same unpopulated pfns).
 */
TEST_F(self, pv_export_maps_a_segment_per_page)
{
	struct dmabridge_ti_info info;
	int round, fd;

	for (round = 0; round < 3; round++) {
		fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
		ASSERT_LE(0, fd) TH_LOG("EXP_FROM_REFS: %s", strerror(-fd));
		ASSERT_EQ(0, ti_attach(self->ti, 0, fd,
				       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
		ASSERT_EQ(0, ti_info(self->ti, 0, &info));
		EXPECT_EQ(4U, info.nents) TH_LOG("round %d", round);
		ASSERT_EQ(0, ti_detach(self->ti, 0));
		close(fd);
	}
}

/* PV: a user mapping is gntdev's business; refused, not half done. */
TEST_F(self, pv_mmap_refused)
{
	int fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
	void *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EOPNOTSUPP, errno);
	close(fd);
}

TEST_F(self, read_only_grant_exports_read_only)
{
	static uint8_t buf[PAGE];
	struct grant ro = { 0 };
	int fd, ret;

	ASSERT_EQ(0, grant_alloc(&ro, SELF, 1, true));
	pat_fill(ro.map, 0, PAGE, SEED_CPU);
	fd = gdb_export(self->dev, SELF, ro.refs, 1, 0);
	ASSERT_LE(0, fd) TH_LOG("EXP_FROM_REFS: %s", strerror(-fd));
	ASSERT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(-EPERM, ti_attach(self->ti, 0, fd, DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	/* A device that may write is refused too, not given less. */
	ASSERT_EQ(-EPERM, ti_attach(self->ti, 0, fd, DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, ti_attach(self->ti, 0, fd, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	/* A vmap has no direction: a read-only buffer has none. */
	ASSERT_EQ(-EINVAL, ti_vmap_read(self->ti, 0, 0, buf, PAGE));
	/*
	 * The importer reads it by DMA where it can; in a PV dom0 it cannot
	 * (EOPNOTSUPP), and the bytes were checked by export_round_trip.
	 */
	ret = ti_read(self->ti, 0, 0, buf, PAGE);
	if (ret != -EOPNOTSUPP) {
		ASSERT_EQ(0, ret);
		ASSERT_EQ(-1, pat_check(buf, 0, PAGE, SEED_CPU));
	}
	ASSERT_EQ(0, ti_detach(self->ti, 0));
	close(fd);
	grant_free(&ro);
}

struct closer {
	int fd;
	int ms;
};

static void *close_later(void *arg)
{
	struct closer *c = arg;

	usleep(c->ms * 1000);
	close(c->fd);
	return NULL;
}

TEST_F(self, wait_released)
{
	struct closer c = { .ms = 300 };
	pthread_t t;
	double t0;
	int fd;

	fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
	ASSERT_LE(0, fd);
	/* Still open: the full timeout, then ETIMEDOUT. */
	t0 = now_ms();
	ASSERT_EQ(-ETIMEDOUT, gdb_wait(self->dev, fd, 200));
	ASSERT_LE(190, now_ms() - t0);
	ASSERT_EQ(-ETIMEDOUT, gdb_wait(self->dev, fd, 0));
	/* Closed by someone else while we wait: back as soon as it is gone. */
	c.fd = fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, close_later, &c));
	t0 = now_ms();
	ASSERT_EQ(0, gdb_wait(self->dev, fd, 10000));
	ASSERT_LE(250, now_ms() - t0);
	ASSERT_GT(5000, now_ms() - t0);
	pthread_join(t, NULL);
	/* Released: ENOENT, as upstream documents. */
	ASSERT_EQ(-ENOENT, gdb_wait(self->dev, fd, 100));
}

/* Waiting works on the exporting file only, as upstream's does. */
TEST_F(self, wait_other_file_is_enoent)
{
	int other = gdb_open(), fd;

	ASSERT_LE(0, other);
	fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-ENOENT, gdb_wait(other, fd, 10));
	close(fd);
	close(other);
}

/*
 * A 4-page vgem buffer (fd in *fd) with SEED_CPU's pattern, granted to
 * ourselves with IMP_TO_REFS (refs in @refs); its mapping, or NULL.
 */
static uint8_t *vgem_granted_to_self(int dev, int *fd, uint32_t refs[4])
{
	uint8_t *buf;

	*fd = vgem_alloc(4 * PAGE);
	if (*fd < 0)
		return NULL;
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (buf == MAP_FAILED)
		goto err;
	pat_fill(buf, 0, 4 * PAGE, SEED_CPU);
	if (!gdb_import(dev, *fd, SELF, refs, 4, 0))
		return buf;
	munmap(buf, 4 * PAGE);
err:
	close(*fd);
	return NULL;
}

/* vgem's pages granted (IMP_TO_REFS), mapped back with gntdev. */
TEST_F(self, import_round_trip)
{
	uint32_t refs[4];
	uint8_t *buf, *peer;
	int fd, gfd;

	buf = vgem_granted_to_self(self->dev, &fd, refs);
	ASSERT_NE(NULL, buf);
	peer = gntdev_map(&gfd, SELF, refs, 4);
	ASSERT_NE(NULL, peer);
	ASSERT_EQ(-1, pat_check(peer, 0, 4 * PAGE, SEED_CPU));
	pat_fill(peer + 2 * PAGE, 2 * PAGE, PAGE, SEED_DEV);
	ASSERT_EQ(-1, pat_check(buf + 2 * PAGE, 2 * PAGE, PAGE, SEED_DEV));
	/* The peer still maps the pages: ending access is deferred. */
	ASSERT_EQ(0, gdb_release(self->dev, fd, 0));
	ASSERT_EQ(-ENOENT, gdb_release(self->dev, fd, 0));
	ASSERT_EQ(-1, pat_check(peer, 0, 2 * PAGE, SEED_CPU));
	munmap(peer, 4 * PAGE);
	close(gfd);
	munmap(buf, 4 * PAGE);
	close(fd);
}

/*
 * IMP_RELEASE names the import by the descriptor number IMP_TO_REFS was
 * given, as upstream does: a program may close the dma-buf once it is
 * granted, and the grants live on until the release.
 */
TEST_F(self, import_release_after_the_fd_is_closed)
{
	uint32_t refs[4];
	uint8_t *buf, *peer;
	int fd, gfd;

	buf = vgem_granted_to_self(self->dev, &fd, refs);
	ASSERT_NE(NULL, buf);
	munmap(buf, 4 * PAGE);
	close(fd);
	/* The import holds the buffer: the grants still reach its pages. */
	peer = gntdev_map(&gfd, SELF, refs, 4);
	ASSERT_NE(NULL, peer);
	ASSERT_EQ(-1, pat_check(peer, 0, 4 * PAGE, SEED_CPU));
	munmap(peer, 4 * PAGE);
	close(gfd);
	ASSERT_EQ(0, gdb_release(self->dev, fd, 0));
	ASSERT_EQ(-ENOENT, gdb_release(self->dev, fd, 0));
}

/*
 * A released import keeps its buffer while the peer still maps a page: a
 * system heap zeroes its freed pages and hands them out again whatever
 * their page references say, so letting the buffer go at release would
 * show the peer zeroes, and then someone else's data.
 */
TEST_F(self, released_import_keeps_the_buffer_while_the_peer_maps_it)
{
	char left[64] = "";
	uint32_t refs[4];
	uint8_t *buf, *peer;
	int heap, fd, gfd, other, i;

	/* Ours: the kernel's own system heap of 6.12 has no pool. */
	heap = dmabridge_heap_open(NULL);
	if (heap < 0)
		SKIP(return, "no system heap: %s", strerror(-heap));
	fd = dmabridge_heap_alloc(heap, 4 * PAGE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, buf);
	pat_fill(buf, 0, 4 * PAGE, SEED_CPU);
	munmap(buf, 4 * PAGE);
	ASSERT_EQ(0, gdb_import(self->dev, fd, SELF, refs, 4, 0));
	peer = gntdev_map(&gfd, SELF, refs, 4);
	ASSERT_NE(NULL, peer);
	ASSERT_EQ(0, gdb_release(self->dev, fd, 0));
	close(fd);
	/* Frees and allocations set the heap's zeroing worker going. */
	for (i = 0; i < 256; i++) {
		other = dmabridge_heap_alloc(heap, PAGE, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, other);
		close(other);
	}
	close(heap);
	usleep(100 * 1000);
	EXPECT_EQ(-1, pat_check(peer, 0, 4 * PAGE, SEED_CPU));
	/* The grants live on until the peer lets go. */
	EXPECT_EQ(-1, gdb_objects_now(left, sizeof(left)));
	EXPECT_NE(NULL, strstr(left, "import_grants"));
	munmap(peer, 4 * PAGE);
	close(gfd);
	EXPECT_EQ(0, gdb_objects_left(left, sizeof(left))) TH_LOG("left: %s", left);
}

/* Grant refs -> dma-buf -> vgem (PRIME import): the xen-zcopy backend flow. */
TEST_F(self, zcopy_export_into_vgem)
{
	struct drm_prime_handle prime = { 0 };
	struct drm_gem_close gc = { 0 };
	int fd, card;

	card = vgem_open();
	ASSERT_LE(0, card);
	fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
	ASSERT_LE(0, fd);
	prime.fd = fd;
	ASSERT_EQ(0, ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime));
	close(fd);
	/* vgem holds it: not released yet. */
	ASSERT_EQ(-ETIMEDOUT, gdb_wait(self->dev, fd, 50));
	gc.handle = prime.handle;
	ASSERT_EQ(0, ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc));
	ASSERT_EQ(0, gdb_wait(self->dev, fd, 5000) == -ENOENT ? 0 : -1);
	close(card);
}

TEST_F(self, bad_inputs)
{
	struct ioctl_gntdev_dmabuf_exp_wait_released w = { 0 };
	uint32_t refs[4], bad = 0xfffff;
	int fd, nul;

	/* EXP_FROM_REFS */
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, SELF, self->g.refs, 4, 0x4));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, SELF, self->g.refs, 4, 0x80000000));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, SELF, self->g.refs, 4,
				      GNTDEV_DMA_FLAG_WC | GNTDEV_DMA_FLAG_COHERENT));
	ASSERT_EQ(-EOPNOTSUPP, gdb_export(self->dev, SELF, self->g.refs, 4,
					  GNTDEV_DMA_FLAG_WC));
	ASSERT_EQ(-EOPNOTSUPP, gdb_export(self->dev, SELF, self->g.refs, 4,
					  GNTDEV_DMA_FLAG_COHERENT));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, SELF, self->g.refs, 0, 0));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, SELF, self->g.refs, 0x7fffffff, 0));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, 0x7ff0, self->g.refs, 4, 0));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, 0x10000, self->g.refs, 4, 0));
	/* Any grant Xen refuses: EINVAL, as upstream. */
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, SELF, &bad, 1, 0));
	ASSERT_EQ(-EINVAL, gdb_export(self->dev, 4000, self->g.refs, 1, 0));
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, NULL));
	ASSERT_EQ(EFAULT, errno);

	/* EXP_WAIT_RELEASED */
	ASSERT_EQ(-ENOENT, gdb_wait(self->dev, 999, 10));
	ASSERT_EQ(-ENOENT, gdb_wait(self->dev, 0x80000000, 10));
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, NULL));
	ASSERT_EQ(EFAULT, errno);
	(void)w;

	/* IMP_TO_REFS */
	fd = vgem_alloc(4 * PAGE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-EINVAL, gdb_import(self->dev, fd, SELF, refs, 3, 0));
	ASSERT_EQ(-EINVAL, gdb_import(self->dev, fd, SELF, refs, 0, 0));
	ASSERT_EQ(-EINVAL, gdb_import(self->dev, fd, 0x7ff0, refs, 4, 0));
	ASSERT_EQ(-EBADF, gdb_import(self->dev, 999, SELF, refs, 4, 0));
	/* As upstream, whose dma_buf_get() sees a negative descriptor. */
	ASSERT_EQ(-EBADF, gdb_import(self->dev, -1, SELF, refs, 4, 0));
	nul = open("/dev/null", O_RDWR);
	ASSERT_EQ(-EINVAL, gdb_import(self->dev, nul, SELF, refs, 4, 0));
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, NULL));
	ASSERT_EQ(EFAULT, errno);

	/* IMP_RELEASE */
	ASSERT_EQ(-ENOENT, gdb_release(self->dev, fd, 0));
	/*
	 * Upstream never reads `reserved` of these two, and libxengnttab
	 * leaves it as malloc() or the stack had it: garbage is ignored.
	 */
	ASSERT_EQ(0, gdb_import(self->dev, fd, SELF, refs, 4, 0xdeadbeef));
	/* As upstream: a descriptor number nothing was imported from. */
	ASSERT_EQ(-ENOENT, gdb_release(self->dev, nul, 0));
	ASSERT_EQ(-ENOENT, gdb_release(self->dev, 999, 0));
	ASSERT_EQ(-ENOENT, gdb_release(self->dev, INT_MIN, 0));
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(0, gdb_release(self->dev, fd, 0xdeadbeef));

	/* Not ours. */
	ASSERT_NE(0, ioctl(self->dev, _IO('G', 13), 0));
	ASSERT_EQ(ENOTTY, errno);
	close(nul);
	close(fd);
}

/* Closing the device with imports ends them; exports live on. */
TEST_F(self, close_device_first)
{
	static uint8_t buf[PAGE];
	uint32_t refs[1];
	int dev = gdb_open(), vfd, efd;

	ASSERT_LE(0, dev);
	vfd = vgem_alloc(PAGE);
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, gdb_import(dev, vfd, SELF, refs, 1, 0));
	efd = gdb_export(dev, SELF, self->g.refs, 1, 0);
	ASSERT_LE(0, efd);
	close(dev);
	ASSERT_EQ(0, ti_attach(self->ti, 0, efd, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_vmap_read(self->ti, 0, 0, buf, PAGE));
	ASSERT_EQ(-1, pat_check(buf, 0, PAGE, SEED_CPU));
	ASSERT_EQ(0, ti_detach(self->ti, 0));
	close(efd);
	close(vfd);
}

TEST_F(self, churn_200_no_leak)
{
	static uint8_t buf[PAGE];
	long before, after;
	long long kmem_before, kmem_after;
	uint32_t refs[4];
	int i, fd, vfd, bufs = dmabufs_in_debugfs();

	ASSERT_LE(0, bufs) TH_LOG("no /sys/kernel/debug/dma_buf/bufinfo");
	vfd = vgem_alloc(4 * PAGE);
	ASSERT_LE(0, vfd);
	/* Warm up allocator caches before measuring. */
	for (i = 0; i < 10; i++) {
		fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
		ASSERT_LE(0, fd);
		close(fd);
	}
	before = mem_free_kb();
	kmem_before = kernel_unreclaimable_bytes();
	for (i = 0; i < 200; i++) {
		fd = gdb_export(self->dev, SELF, self->g.refs, 4, 0);
		ASSERT_LE(0, fd) TH_LOG("cycle %d: %s", i, strerror(-fd));
		if (i % 20 == 0) {
			ASSERT_EQ(0, ti_attach(self->ti, 0, fd,
					       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
			ASSERT_EQ(0, ti_vmap_read(self->ti, 0, 0, buf, PAGE));
			ASSERT_EQ(0, ti_detach(self->ti, 0));
		}
		close(fd);
		ASSERT_EQ(-ENOENT, gdb_wait(self->dev, fd, 0));
		ASSERT_EQ(0, gdb_import(self->dev, vfd, SELF, refs, 4, 0))
			TH_LOG("cycle %d", i);
		ASSERT_EQ(0, gdb_release(self->dev, vfd, 0));
	}
	after = mem_free_kb();
	kmem_after = kernel_unreclaimable_bytes();
	/* 200 cycles of 4 pages leaked would be 3.2 MiB. */
	ASSERT_GT(1024, before - after) TH_LOG("MemFree %ld -> %ld kB", before, after);
	/* The objects of a cycle (export, import, their arrays) are ~2 KiB. */
	EXPECT_GT(128 * 1024, kmem_after - kmem_before)
		TH_LOG("kernel memory %lld -> %lld bytes", kmem_before, kmem_after);
	close(vfd);
	/* No dma-buf stays behind, the vgem one imported 200 times included. */
	EXPECT_EQ(bufs, dmabufs_in_debugfs());
}

TEST_HARNESS_MAIN
