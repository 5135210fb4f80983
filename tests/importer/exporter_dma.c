// SPDX-License-Identifier: GPL-2.0
/*
 * Any dma-buf exporter as seen by a DMA device (the test importer).
 *
 * Bytes the CPU writes through the dma-buf's mmap() must reach the device
 * once the mapping exists and the CPU has ended its access
 * (DMA_BUF_IOCTL_SYNC END); bytes the device writes must reach the CPU
 * after SYNC START or after the mapping is torn down.  x86 is coherent, so
 * these only fail for real in a guest booted with swiotlb=force, where
 * every mapping bounces and each missing sync loses data.
 *
 * One variant per exporter; a variant whose exporter is absent skips:
 *   udmabuf  $DMABRIDGE_UDMABUF_DEV (default /dev/dmabridge-udmabuf)
 *   heap     $DMABRIDGE_DMA_HEAP, a dma-heap node (unset: skipped)
 *   vgem     the kernel's vgem, only with DMABRIDGE_TEST_VGEM=1: upstream,
 *            for comparison (it maps with DMA_ATTR_SKIP_CPU_SYNC and has
 *            no begin/end_cpu_access, so it fails under swiotlb=force)
 * Exporter-specific cases (udmabuf lists, hugetlb, read-only) are in
 * udmabuf_dma.c.
 */
#include "dmabridge_test_util.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <time.h>

#define NPAGES		16

FIXTURE(dma)
{
	int tifd;
	int buf;
	size_t pg;
	size_t size;
	uint8_t *map;		/* the dma-buf's mmap */
	uint8_t *tmp;		/* size bytes of scratch */
};

FIXTURE_VARIANT(dma)
{
	enum exporter_kind kind;
	const char *enable_env;	/* NULL: always; else only when set to 1 */
};

FIXTURE_VARIANT_ADD(dma, udmabuf)
{
	.kind = EXPORTER_UDMABUF,
};

FIXTURE_VARIANT_ADD(dma, heap)
{
	.kind = EXPORTER_HEAP,
};

FIXTURE_VARIANT_ADD(dma, vgem)
{
	.kind = EXPORTER_VGEM,
	.enable_env = "DMABRIDGE_TEST_VGEM",
};

FIXTURE_SETUP(dma)
{
	const char *on = variant->enable_env ? getenv(variant->enable_env) : "1";

	self->buf = -1;
	self->map = MAP_FAILED;
	self->tmp = NULL;
	self->pg = getpagesize();
	self->size = NPAGES * self->pg;

	self->tifd = ti_open();
	if (self->tifd < 0)
		SKIP(return, "no %s: module not loaded", DMABRIDGE_TI_DEVICE);
	if (!on || strcmp(on, "1"))
		SKIP(return, "upstream exporter: set %s=1", variant->enable_env);
	self->buf = exporter_alloc(variant->kind, self->size);
	if (self->buf == -ENODEV)
		SKIP(return, "exporter not present");
	ASSERT_LE(0, self->buf) TH_LOG("allocation: %s", strerror(-self->buf));
	self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->buf, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->tmp = malloc(4 * self->size);
	ASSERT_NE(NULL, self->tmp);
}

FIXTURE_TEARDOWN(dma)
{
	free(self->tmp);
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->buf >= 0)
		close(self->buf);
	if (self->tifd >= 0)
		close(self->tifd);
}

/*
 * A device whose DMA segments must not cross a 16 KiB boundary gets none
 * that does: dma-direct maps the exporter's entries as they are, and the
 * heaps' 64 KiB chunks or a run of contiguous pages would cross one.
 */
TEST_F(dma, segments_keep_within_the_devices_boundary)
{
	const uint64_t boundary = DMABRIDGE_TI_SEG_BOUNDARY_16K;
	struct dmabridge_ti_segment seg;
	struct dmabridge_ti_info info;
	uint32_t i;

	if (variant->kind == EXPORTER_VGEM)
		SKIP(return, "vgem builds its sg table for its own device");
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE,
			       DMABRIDGE_TI_ATTACH_SEG_BOUNDARY_16K));
	ASSERT_EQ(0, ti_info(self->tifd, 0, &info));
	EXPECT_EQ(self->size, info.mapped_len);
	for (i = 0; i < info.dma_nents; i++) {
		ASSERT_EQ(0, ti_segment(self->tifd, 0, i, &seg));
		EXPECT_EQ(seg.dma_addr & ~boundary,
			  (seg.dma_addr + seg.len - 1) & ~boundary)
			TH_LOG("segment %u: %#llx + %#llx", i,
			       (unsigned long long)seg.dma_addr,
			       (unsigned long long)seg.len);
	}
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
	/* Not with the 32-bit device: it has no boundary of its own. */
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 1, self->buf,
				     DMABRIDGE_TI_DIR_TO_DEVICE,
				     DMABRIDGE_TI_ATTACH_DMA32 |
				     DMABRIDGE_TI_ATTACH_SEG_BOUNDARY_16K));
}

TEST_F(dma, device_reads_what_cpu_wrote_before_the_mapping)
{
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
}

TEST_F(dma, device_reads_what_cpu_wrote_after_mapping_once_cpu_ends_access)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
}

TEST_F(dma, device_sees_every_cpu_write_cycle_not_only_the_first)
{
	uint32_t seed;

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	for (seed = 1; seed <= 3; seed++) {
		ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size,
				       seed));
		EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0,
					self->size, seed));
	}
}

TEST_F(dma, cpu_reads_device_writes_after_sync_start_bidirectional)
{
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
}

TEST_F(dma, cpu_reads_device_writes_after_sync_start_from_device)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
}

TEST_F(dma, cpu_reads_device_writes_after_unmap_from_device)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
}

TEST_F(dma, cpu_reads_device_writes_after_unmap_bidirectional)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
}

/*
 * A kernel importer that touches the buffer with its CPU goes through the
 * exporter's vmap inside begin/end_cpu_access; that must agree with both
 * userspace's mmap and the devices' views.
 */
TEST_F(dma, kernel_vmap_reads_what_user_cpu_wrote)
{
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_vmap_read(self->tifd, 0, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_CPU));
}

TEST_F(dma, kernel_vmap_sees_device_writes_after_begin_cpu_access)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	memset(self->tmp, 0, self->size);
	ASSERT_EQ(0, ti_vmap_read(self->tifd, 0, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_DEV));
}

TEST_F(dma, device_and_user_see_kernel_vmap_writes_after_end_cpu_access)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	pat_fill(self->tmp, 0, self->size, SEED_CPU + 7);
	ASSERT_EQ(0, ti_vmap_write(self->tifd, 0, 0, self->tmp, self->size));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU + 7));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_CPU + 7));
}

TEST_F(dma, partial_device_write_leaves_other_bytes_alone)
{
	size_t off = 3 * self->pg + 100, len = 2 * self->pg;

	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, off, len, SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, off, SEED_CPU));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, off, len, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, off + len,
				self->size - off - len, SEED_CPU));
}

TEST_F(dma, every_attachment_sees_cpu_writes_after_sync_end)
{
	uint32_t slot;

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_attach(self->tifd, 1, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE,
			       DMABRIDGE_TI_ATTACH_DMA32));
	ASSERT_EQ(0, ti_attach(self->tifd, 2, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	for (slot = 0; slot < 3; slot++) {
		EXPECT_EQ(-1, dev_check(self->tifd, slot, self->tmp, 0,
					self->size, SEED_CPU))
			TH_LOG("attachment %u", slot);
	}
}

/*
 * Syncing for the CPU must use each mapping's own direction: a TO_DEVICE
 * bounce buffer synced as FROM_DEVICE is copied back over memory and
 * wipes out what another device just wrote.  (Two writable attachments
 * cannot be tested that way: each bidirectional bounce buffer is copied
 * back, and one of them is stale, on any hardware that bounces.)
 */
TEST_F(dma, cpu_sync_keeps_read_only_attachments_from_clobbering_device_writes)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_attach(self->tifd, 1, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, ti_attach(self->tifd, 2, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE,
			       DMABRIDGE_TI_ATTACH_DMA32));
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));

	ASSERT_EQ(0, dev_write(self->tifd, 1, self->tmp, self->size / 2,
			       self->size / 2, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, self->size / 2,
				self->size / 2, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size / 2,
				SEED_CPU));

	/* A full CPU access cycle hands the device's bytes to the others. */
	ASSERT_EQ(0, dmabuf_sync(self->buf,
				 DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW));
	ASSERT_EQ(0, dmabuf_sync(self->buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, self->size / 2,
				self->size / 2, SEED_DEV));
	EXPECT_EQ(-1, dev_check(self->tifd, 2, self->tmp, self->size / 2,
				self->size / 2, SEED_DEV));
}

TEST_F(dma, unaligned_transfers_across_page_boundaries_match_memory)
{
	size_t pg = self->pg;
	const struct { size_t off, len; } spans[] = {
		{ pg - 1, 2 }, { pg - 7, 2 * pg + 14 }, { 3, self->size - 6 },
		{ 5 * pg, pg }, { 6 * pg + 1, pg - 1 }, { self->size - 1, 1 },
		{ 0, 1 }, { 9 * pg - 4095, 3 * pg + 4095 },
	};
	unsigned int i;

	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	for (i = 0; i < ARRAY_SIZE(spans); i++) {
		EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, spans[i].off,
					spans[i].len, SEED_CPU))
			TH_LOG("read span %u", i);
	}

	/* Device writes of odd spans land exactly there. */
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 2 * pg - 5, 10,
			       SEED_DEV));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 7 * pg + 3,
			       2 * pg, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, 2 * pg - 5,
				SEED_CPU));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 2 * pg - 5, 10,
				SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 2 * pg + 5,
				5 * pg - 2, SEED_CPU));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 7 * pg + 3, 2 * pg,
				SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 9 * pg + 3,
				self->size - 9 * pg - 3, SEED_CPU));
}

TEST_F(dma, mapping_fits_importer_segment_limit)
{
	struct dmabridge_ti_info info;

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_info(self->tifd, 0, &info));
	EXPECT_EQ(self->size, info.mapped_len);
	EXPECT_LE(info.max_seg_len, info.dev_max_seg_size);
	if (swiotlb_forced()) {
		EXPECT_EQ(info.dma_nents, info.bounced_segs);
	}
}

TEST_F(dma, device_and_cpu_agree_on_a_larger_buffer_of_many_segments)
{
	size_t size = 4 * self->size;
	uint8_t *map;
	int buf;

	munmap(self->map, self->size);
	self->map = MAP_FAILED;
	buf = exporter_alloc(variant->kind, size);
	ASSERT_LE(0, buf);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);

	ASSERT_EQ(0, ti_attach(self->tifd, 0, buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, cpu_write(buf, map, 0, size, SEED_CPU));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, size, SEED_CPU));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, size, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(buf, map, 0, size, SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	munmap(map, size);
	close(buf);
}

struct racer {
	int buf;
	int iterations;
	int err;		/* first failure, -errno */
	int done;		/* iterations the device side completed */
	volatile bool stop;	/* set by the CPU side on failure */
	volatile bool finished;
};

/* Device side: attach, read, detach, over and over, in its own session. */
static void *attach_detach_loop(void *arg)
{
	struct racer *r = arg;
	int tifd = ti_open();
	uint8_t page[64];
	int i, err = 0;

	if (tifd < 0) {
		r->err = -errno;
		r->finished = true;
		return NULL;
	}
	for (i = 0; i < r->iterations && !r->stop && !err; i++) {
		err = ti_attach(tifd, i % DMABRIDGE_TI_MAX_SLOTS, r->buf,
				DMABRIDGE_TI_DIR_TO_DEVICE,
				i & 1 ? DMABRIDGE_TI_ATTACH_DMA32 : 0);
		if (!err)
			err = ti_read(tifd, i % DMABRIDGE_TI_MAX_SLOTS, 0, page,
				      sizeof(page));
		if (!err)
			err = ti_detach(tifd, i % DMABRIDGE_TI_MAX_SLOTS);
	}
	close(tifd);
	r->done = i;
	r->err = err;
	r->finished = true;
	return NULL;
}

/*
 * begin/end_cpu_access walk the exporter's attachments while other
 * importers come and go: the walk must be serialised against attach,
 * map, unmap and detach.  A race shows as an error, a splat in the
 * kernel log (the harness fails the run on it) or stale bytes at the end.
 */
TEST_F(dma, cpu_syncs_race_safely_with_attach_and_detach)
{
	struct racer r = { .buf = self->buf, .iterations = 2000 };
	time_t deadline = time(NULL) + 20;
	pthread_t thread;
	uint32_t seed = 1;

	ASSERT_EQ(0, pthread_create(&thread, NULL, attach_detach_loop, &r));
	while (!r.finished && time(NULL) < deadline) {
		int err = cpu_write(self->buf, self->map, 0, self->pg, seed);

		if (err) {
			r.stop = true;
			ASSERT_EQ(0, err);
		}
		seed++;
	}
	r.stop = true;
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, r.err);
	TH_LOG("%d attach cycles against %u CPU access cycles", r.done,
	       seed - 1);

	/* Whatever happened, a fresh mapping sees the last CPU write. */
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->pg,
				seed - 1));
}

TEST_HARNESS_MAIN
