// SPDX-License-Identifier: GPL-2.0
/*
 * A udmabuf exporter as seen by a DMA device (the test importer).
 *
 * Bytes the CPU writes through the dma-buf's mmap() must reach the device
 * once the mapping exists and the CPU has ended its access
 * (DMA_BUF_IOCTL_SYNC END); bytes the device writes must reach the CPU
 * after SYNC START or after the mapping is torn down.  x86 is coherent, so
 * these only fail for real in a guest booted with swiotlb=force, where
 * every mapping bounces and each missing sync loses data.
 *
 * The exporter is $DMABRIDGE_UDMABUF_DEV (default /dev/dmabridge-udmabuf);
 * DMABRIDGE_UDMABUF_DEV=/dev/udmabuf runs the same cases against the
 * kernel's own udmabuf for comparison.
 */
#include "importer_util.h"
#include "kselftest_harness.h"

#define NPAGES		16
#define SEED_CPU	0x1111
#define SEED_DEV	0x2222

FIXTURE(udma)
{
	int devfd;
	int tifd;
	int memfd;
	int buf;
	size_t pg;
	size_t size;
	uint8_t *map;		/* the dma-buf's mmap */
	uint8_t *mem;		/* the memfd's own mmap: memory as it is */
	uint8_t *tmp;		/* size bytes of scratch */
};

FIXTURE_SETUP(udma)
{
	self->buf = -1;
	self->memfd = -1;
	self->map = MAP_FAILED;
	self->mem = MAP_FAILED;
	self->tmp = NULL;
	self->pg = getpagesize();
	self->size = NPAGES * self->pg;

	self->tifd = ti_open();
	self->devfd = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	if (self->tifd < 0)
		SKIP(return, "no %s: module not loaded", DMABRIDGE_TI_DEVICE);
	if (self->devfd < 0)
		SKIP(return, "no exporter %s", udmabuf_dev_path());

	self->memfd = memfd_sealed("udma", self->size, 0);
	ASSERT_LE(0, self->memfd);
	self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->buf = udmabuf_create(self->devfd, self->memfd, 0, self->size,
				   UDMABUF_FLAGS_CLOEXEC);
	ASSERT_LE(0, self->buf);
	self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->buf, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->tmp = malloc(self->size);
	ASSERT_NE(NULL, self->tmp);
}

FIXTURE_TEARDOWN(udma)
{
	free(self->tmp);
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, self->size);
	if (self->buf >= 0)
		close(self->buf);
	if (self->memfd >= 0)
		close(self->memfd);
	if (self->devfd >= 0)
		close(self->devfd);
	if (self->tifd >= 0)
		close(self->tifd);
}

/* CPU writes [off, off + len) of the dma-buf, bracketed as the ABI asks. */
static int cpu_write(int buf, uint8_t *map, size_t off, size_t len,
		     uint32_t seed)
{
	int ret = dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);

	if (ret)
		return ret;
	pat_fill(map + off, off, len, seed);
	return dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

/* CPU checks [off, off + len); returns the first bad offset or -1. */
static int64_t cpu_check(int buf, const uint8_t *map, size_t off, size_t len,
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
static int64_t dev_check(int tifd, uint32_t slot, uint8_t *tmp, size_t off,
			 size_t len, uint32_t seed)
{
	int64_t bad;

	if (ti_read(tifd, slot, off, tmp, len))
		return -2;
	bad = pat_check(tmp, off, len, seed);
	return bad < 0 ? -1 : (int64_t)off + bad;
}

static int dev_write(int tifd, uint32_t slot, uint8_t *tmp, size_t off,
		     size_t len, uint32_t seed)
{
	pat_fill(tmp, off, len, seed);
	return ti_write(tifd, slot, off, tmp, len);
}

static bool bounced(int tifd, uint32_t slot)
{
	struct dmabridge_ti_info info;

	return !ti_info(tifd, slot, &info) && info.bounced_segs;
}

TEST_F(udma, device_reads_what_cpu_wrote_before_the_mapping)
{
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
}

TEST_F(udma, device_reads_what_cpu_wrote_after_mapping_once_cpu_ends_access)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
}

TEST_F(udma, device_sees_every_cpu_write_cycle_not_only_the_first)
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

TEST_F(udma, cpu_reads_device_writes_after_sync_start_bidirectional)
{
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
}

TEST_F(udma, cpu_reads_device_writes_after_sync_start_from_device)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
}

TEST_F(udma, cpu_reads_device_writes_after_unmap_from_device)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size,
				SEED_DEV));
	/* And memory itself, not just the exporter's mmap, has them. */
	EXPECT_EQ(-1, pat_check(self->mem, 0, self->size, SEED_DEV));
}

TEST_F(udma, cpu_reads_device_writes_after_unmap_bidirectional)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, pat_check(self->mem, 0, self->size, SEED_DEV));
}

TEST_F(udma, partial_device_write_leaves_other_bytes_alone)
{
	size_t off = 3 * self->pg + 100, len = 2 * self->pg;

	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, off, len, SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, pat_check(self->mem, 0, off, SEED_CPU));
	EXPECT_EQ(-1, pat_check(self->mem + off, off, len, SEED_DEV));
	EXPECT_EQ(-1, pat_check(self->mem + off + len, off + len,
				self->size - off - len, SEED_CPU));
}

TEST_F(udma, every_attachment_sees_cpu_writes_and_cpu_sees_theirs)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	/*
	 * One writable attachment only: the CPU syncs every bidirectional
	 * bounce buffer back, and a second one would copy stale bytes over
	 * what the first device wrote, on real hardware too.
	 */
	ASSERT_EQ(0, ti_attach(self->tifd, 1, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE,
			       DMABRIDGE_TI_ATTACH_DMA32));
	ASSERT_EQ(0, ti_attach(self->tifd, 2, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
	EXPECT_EQ(-1, dev_check(self->tifd, 1, self->tmp, 0, self->size,
				SEED_CPU));
	EXPECT_EQ(-1, dev_check(self->tifd, 2, self->tmp, 0, self->size,
				SEED_CPU));

	/* The last attachment writes the upper half, the 32-bit one reads. */
	ASSERT_EQ(0, dev_write(self->tifd, 2, self->tmp, self->size / 2,
			       self->size / 2, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, self->size / 2,
				self->size / 2, SEED_DEV));
	EXPECT_EQ(-1, cpu_check(self->buf, self->map, 0, self->size / 2,
				SEED_CPU));
	ASSERT_EQ(0, dmabuf_sync(self->buf,
				 DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW));
	ASSERT_EQ(0, dmabuf_sync(self->buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW));
	EXPECT_EQ(-1, dev_check(self->tifd, 1, self->tmp, self->size / 2,
				self->size / 2, SEED_DEV));
}

TEST_F(udma, unaligned_transfers_across_page_boundaries_match_memory)
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
	for (i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
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

TEST_F(udma, list_ranges_map_in_list_order)
{
	size_t pg = self->pg;
	/* Out of order, not adjacent, of different lengths. */
	const struct udmabuf_create_item items[] = {
		{ .memfd = self->memfd, .offset = 12 * pg, .size = 2 * pg },
		{ .memfd = self->memfd, .offset = 0, .size = 3 * pg },
		{ .memfd = self->memfd, .offset = 7 * pg, .size = pg },
		{ .memfd = self->memfd, .offset = 3 * pg, .size = 3 * pg },
	};
	const unsigned int n = sizeof(items) / sizeof(items[0]);
	struct dmabridge_ti_info info;
	size_t off;
	unsigned int i;
	int list;

	pat_fill(self->mem, 0, self->size, SEED_CPU);
	list = udmabuf_create_list(self->devfd, UDMABUF_FLAGS_CLOEXEC, items, n);
	ASSERT_LE(0, list);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, list,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_info(self->tifd, 0, &info));
	ASSERT_EQ(9 * pg, info.mapped_len);
	for (i = 0, off = 0; i < n; off += items[i].size, i++) {
		ASSERT_EQ(0, ti_read(self->tifd, 0, off, self->tmp,
				     items[i].size));
		EXPECT_EQ(-1, pat_check(self->tmp, items[i].offset,
					items[i].size, SEED_CPU))
			TH_LOG("item %u read back wrong", i);
	}
	ASSERT_EQ(0, ti_detach(self->tifd, 0));

	/* Device writes go back to the right ranges of the memfd. */
	ASSERT_EQ(0, ti_attach(self->tifd, 0, list,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, 9 * pg, SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	for (i = 0, off = 0; i < n; off += items[i].size, i++) {
		EXPECT_EQ(-1, pat_check(self->mem + items[i].offset, off,
					items[i].size, SEED_DEV))
			TH_LOG("item %u written back wrong", i);
	}
	/* Pages in no item keep their bytes. */
	EXPECT_EQ(-1, pat_check(self->mem + 6 * pg, 6 * pg, pg, SEED_CPU));
	EXPECT_EQ(-1, pat_check(self->mem + 8 * pg, 8 * pg, 4 * pg, SEED_CPU));
	close(list);
}

TEST_F(udma, mapping_fits_importer_segment_limit)
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

/* --- hugetlb-backed memfds ------------------------------------------ */

#define HPAGE	(2UL << 20)

FIXTURE(huge)
{
	int devfd;
	int tifd;
	int memfd;
	uint8_t *mem;
	uint8_t *tmp;
};

FIXTURE_SETUP(huge)
{
	self->memfd = -1;
	self->mem = MAP_FAILED;
	self->tmp = NULL;
	self->tifd = ti_open();
	self->devfd = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	if (self->tifd < 0)
		SKIP(return, "no %s: module not loaded", DMABRIDGE_TI_DEVICE);
	if (self->devfd < 0)
		SKIP(return, "no exporter %s", udmabuf_dev_path());
	self->memfd = memfd_sealed("udma-huge", 2 * HPAGE, MFD_HUGETLB);
	if (self->memfd < 0)
		SKIP(return, "no hugetlb memfd: %s", strerror(-self->memfd));
	self->mem = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->memfd, 0);
	if (self->mem == MAP_FAILED)
		SKIP(return, "cannot fault in 2 huge pages (hugepages=2?)");
	/* mmap alone reserves; touching proves the pages are there. */
	memset(self->mem, 0, 2 * HPAGE);
	self->tmp = malloc(2 * HPAGE);
	ASSERT_NE(NULL, self->tmp);
}

FIXTURE_TEARDOWN(huge)
{
	free(self->tmp);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, 2 * HPAGE);
	if (self->memfd >= 0)
		close(self->memfd);
	if (self->devfd >= 0)
		close(self->devfd);
	if (self->tifd >= 0)
		close(self->tifd);
}

TEST_F(huge, range_straddling_two_huge_pages_moves_both_ways)
{
	size_t pg = getpagesize();
	size_t off = HPAGE - 5 * pg, len = 9 * pg;
	int buf;

	pat_fill(self->mem + off, 0, len, SEED_CPU);
	buf = udmabuf_create(self->devfd, self->memfd, off, len,
			     UDMABUF_FLAGS_CLOEXEC);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, ti_read(self->tifd, 0, 0, self->tmp, len));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, len, SEED_CPU));

	pat_fill(self->tmp, 0, len, SEED_DEV);
	ASSERT_EQ(0, ti_write(self->tifd, 0, 0, self->tmp, len));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, pat_check(self->mem + off, 0, len, SEED_DEV));
	/* Neighbours inside the same huge pages keep their zeroes. */
	EXPECT_EQ(0, self->mem[off - 1]);
	EXPECT_EQ(0, self->mem[off + len]);
	close(buf);
}

TEST_F(huge, list_of_ranges_inside_huge_pages_maps_in_order)
{
	size_t pg = getpagesize();
	const struct udmabuf_create_item items[] = {
		{ .memfd = self->memfd, .offset = HPAGE + 3 * pg, .size = 4 * pg },
		{ .memfd = self->memfd, .offset = 17 * pg, .size = 2 * pg },
		{ .memfd = self->memfd, .offset = HPAGE - pg, .size = 2 * pg },
	};
	const unsigned int n = sizeof(items) / sizeof(items[0]);
	size_t off;
	unsigned int i;
	int buf;

	pat_fill(self->mem, 0, 2 * HPAGE, SEED_CPU);
	buf = udmabuf_create_list(self->devfd, UDMABUF_FLAGS_CLOEXEC, items, n);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	for (i = 0, off = 0; i < n; off += items[i].size, i++) {
		ASSERT_EQ(0, ti_read(self->tifd, 0, off, self->tmp,
				     items[i].size));
		EXPECT_EQ(-1, pat_check(self->tmp, items[i].offset,
					items[i].size, SEED_CPU))
			TH_LOG("item %u read back wrong", i);
	}
	pat_fill(self->tmp, 0, off, SEED_DEV);
	ASSERT_EQ(0, ti_write(self->tifd, 0, 0, self->tmp, off));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	for (i = 0, off = 0; i < n; off += items[i].size, i++) {
		EXPECT_EQ(-1, pat_check(self->mem + items[i].offset, off,
					items[i].size, SEED_DEV))
			TH_LOG("item %u written back wrong", i);
	}
	close(buf);
}

TEST_F(huge, whole_huge_page_maps_within_importer_limits)
{
	struct dmabridge_ti_info info;
	int buf;

	pat_fill(self->mem, 0, HPAGE, SEED_CPU);
	buf = udmabuf_create(self->devfd, self->memfd, 0, HPAGE,
			     UDMABUF_FLAGS_CLOEXEC);
	ASSERT_LE(0, buf);
	/*
	 * A physically contiguous 2 MiB must still be cut into segments the
	 * device takes (and swiotlb can bounce: 256 KiB at most).
	 */
	ASSERT_EQ(0, ti_attach(self->tifd, 0, buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_info(self->tifd, 0, &info));
	EXPECT_EQ(HPAGE, info.mapped_len);
	EXPECT_LE(info.max_seg_len, info.dev_max_seg_size);
	ASSERT_EQ(0, ti_read(self->tifd, 0, 0, self->tmp, HPAGE));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, HPAGE, SEED_CPU));
	close(buf);
}

/* --- DMABRIDGE_UDMABUF_FLAGS_READONLY ------------------------------- */

FIXTURE(ro)
{
	int devfd;
	int tifd;
	int memfd;
	int buf;
	size_t size;
	uint8_t *mem;
	uint8_t *tmp;
};

FIXTURE_SETUP(ro)
{
	self->buf = -1;
	self->memfd = -1;
	self->mem = MAP_FAILED;
	self->tmp = NULL;
	self->size = NPAGES * getpagesize();
	self->tifd = ti_open();
	self->devfd = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	if (self->tifd < 0)
		SKIP(return, "no %s: module not loaded", DMABRIDGE_TI_DEVICE);
	if (self->devfd < 0)
		SKIP(return, "no exporter %s", udmabuf_dev_path());
	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "%s has no read-only flag", udmabuf_dev_path());

	self->memfd = memfd_sealed("udma-ro", self->size, 0);
	ASSERT_LE(0, self->memfd);
	self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	pat_fill(self->mem, 0, self->size, SEED_CPU);
	self->buf = udmabuf_create(self->devfd, self->memfd, 0, self->size,
				   UDMABUF_FLAGS_CLOEXEC |
				   DMABRIDGE_UDMABUF_FLAGS_READONLY);
	ASSERT_LE(0, self->buf);
	self->tmp = malloc(self->size);
	ASSERT_NE(NULL, self->tmp);
}

FIXTURE_TEARDOWN(ro)
{
	free(self->tmp);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, self->size);
	if (self->buf >= 0)
		close(self->buf);
	if (self->memfd >= 0)
		close(self->memfd);
	if (self->devfd >= 0)
		close(self->devfd);
	if (self->tifd >= 0)
		close(self->tifd);
}

TEST_F(ro, from_device_mapping_of_readonly_buffer_fails_with_eperm)
{
	EXPECT_EQ(-EPERM, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	EXPECT_EQ(-EPERM, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_FROM_DEVICE,
				    DMABRIDGE_TI_ATTACH_DMA32));
	/* The failure left the slot free. */
	EXPECT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
}

TEST_F(ro, device_reads_readonly_buffer_in_both_allowed_directions)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_attach(self->tifd, 1, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, ti_read(self->tifd, 0, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_read(self->tifd, 1, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_CPU));
}

TEST_F(ro, bidirectional_mapping_is_to_device_so_device_writes_are_lost)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	if (!bounced(self->tifd, 0))
		SKIP(return, "mapping does not bounce (boot swiotlb=force)");
	/* What a misbehaving device does; only the bounce buffer sees it. */
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, 0, self->size,
			       SEED_DEV));
	ASSERT_EQ(0, dmabuf_sync(self->buf,
				 DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(-1, pat_check(self->mem, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, dmabuf_sync(self->buf,
				 DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-1, pat_check(self->mem, 0, self->size, SEED_CPU));
}

TEST_HARNESS_MAIN
