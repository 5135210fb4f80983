// SPDX-License-Identifier: GPL-2.0
/*
 * What only a udmabuf has, as seen by a DMA device (the test importer):
 * the memfd behind it, lists of ranges, hugetlb memfds and dmabridge's
 * read-only flag.  The generic CPU/device cases every exporter must pass
 * are in exporter_dma.c.  Meaningful in a guest booted with swiotlb=force,
 * where every mapping bounces and each missing sync loses data.
 *
 * The exporter is $DMABRIDGE_UDMABUF_DEV (default /dev/dmabridge-udmabuf);
 * DMABRIDGE_UDMABUF_DEV=/dev/udmabuf runs the same cases against the
 * kernel's own udmabuf for comparison.
 */
#include "dmabridge_test_util.h"
#include "kselftest_harness.h"

#define NPAGES		16

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

TEST_F(udma, device_writes_reach_the_memfd_itself_after_unmap)
{
	size_t off = 3 * self->pg + 100, len = 2 * self->pg;

	ASSERT_EQ(0, cpu_write(self->buf, self->map, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, dev_write(self->tifd, 0, self->tmp, off, len, SEED_DEV));
	ASSERT_EQ(0, ti_detach(self->tifd, 0));
	/* Not only the exporter's mmap: the memfd's own pages have them. */
	EXPECT_EQ(-1, pat_check(self->mem, 0, off, SEED_CPU));
	EXPECT_EQ(-1, pat_check(self->mem + off, off, len, SEED_DEV));
	EXPECT_EQ(-1, pat_check(self->mem + off + len, off + len,
				self->size - off - len, SEED_CPU));
}

TEST_F(udma, cpu_writes_through_the_memfd_reach_the_device)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	/* The memfd is the same memory; the dma-buf's SYNC still governs. */
	ASSERT_EQ(0, dmabuf_sync(self->buf,
				 DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	pat_fill(self->mem, 0, self->size, SEED_CPU);
	ASSERT_EQ(0, dmabuf_sync(self->buf,
				 DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
	EXPECT_EQ(-1, dev_check(self->tifd, 0, self->tmp, 0, self->size,
				SEED_CPU));
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
	const unsigned int n = ARRAY_SIZE(items);
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
	const unsigned int n = ARRAY_SIZE(items);
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

/*
 * An importer that may write is refused, not quietly given a mapping for
 * reading: without an IOMMU nothing would stop its device's writes.
 */
TEST_F(ro, writable_mappings_of_readonly_buffer_fail_with_eperm)
{
	EXPECT_EQ(-EPERM, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	EXPECT_EQ(-EPERM, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_FROM_DEVICE,
				    DMABRIDGE_TI_ATTACH_DMA32));
	EXPECT_EQ(-EPERM, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	EXPECT_EQ(-EPERM, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_BIDIRECTIONAL,
				    DMABRIDGE_TI_ATTACH_DMA32));
	/* The failures left the slot free. */
	EXPECT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
}

TEST_F(ro, devices_read_readonly_buffer_through_to_device_mappings)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_attach(self->tifd, 1, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE,
			       DMABRIDGE_TI_ATTACH_DMA32));
	ASSERT_EQ(0, ti_read(self->tifd, 0, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_CPU));
	ASSERT_EQ(0, ti_read(self->tifd, 1, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_CPU));
}

/*
 * A vmap has no direction and kernel importers write through it, so a
 * read-only buffer offers none (EINVAL, as for any exporter without one).
 */
TEST_F(ro, kernel_vmap_of_readonly_buffer_is_refused)
{
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-EINVAL, ti_vmap_read(self->tifd, 0, 0, self->tmp,
					self->size));
	/* The importer can still read it by DMA. */
	ASSERT_EQ(0, ti_read(self->tifd, 0, 0, self->tmp, self->size));
	EXPECT_EQ(-1, pat_check(self->tmp, 0, self->size, SEED_CPU));
}

TEST_HARNESS_MAIN
