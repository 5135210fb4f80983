// SPDX-License-Identifier: GPL-2.0
/*
 * The test importer's own contract: argument validation, slot states,
 * reference handling and what INFO/SEGMENT report.  Any exporter will do
 * for these; exporter behaviour is tested elsewhere (udmabuf_dma.c).
 */
#include "dmabridge_test_util.h"
#include "kselftest_harness.h"

#define NPAGES	8

FIXTURE(ti)
{
	int tifd;
	int buf;
	size_t size;
};

FIXTURE_SETUP(ti)
{
	self->size = NPAGES * getpagesize();
	self->tifd = ti_open();
	if (self->tifd < 0)
		SKIP(return, "no %s: module not loaded", DMABRIDGE_TI_DEVICE);
	self->buf = any_dmabuf(self->size);
	if (self->buf < 0)
		SKIP(return, "no exporter could make a dma-buf: %s",
		     strerror(-self->buf));
}

FIXTURE_TEARDOWN(ti)
{
	if (self->buf >= 0)
		close(self->buf);
	if (self->tifd >= 0)
		close(self->tifd);
}

TEST_F(ti, attach_rejects_negative_and_closed_fds_with_ebadf)
{
	int fd = dup(self->buf);

	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(-EBADF, ti_attach(self->tifd, 0, -1,
				    DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-EBADF, ti_attach(self->tifd, 0, fd,
				    DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	/* The failed attaches must leave the slot free. */
	EXPECT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
}

TEST_F(ti, attach_rejects_fd_that_is_not_a_dmabuf_with_einval)
{
	int memfd = memfd_sealed("not-a-dmabuf", getpagesize(), 0);

	ASSERT_GE(memfd, 0);
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, memfd,
				     DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, self->tifd,
				     DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	close(memfd);
}

TEST_F(ti, attach_rejects_bad_direction_flags_slot_and_reserved)
{
	struct dmabridge_ti_attach a = {
		.fd = self->buf, .dir = DMABRIDGE_TI_DIR_TO_DEVICE,
	};

	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, self->buf, 0, 0));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, self->buf, 4, 0));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, self->buf, ~0U, 0));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, self->buf,
				     DMABRIDGE_TI_DIR_TO_DEVICE,
				     ~DMABRIDGE_TI_ATTACH_FLAGS_ALL));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, 0, self->buf,
				     DMABRIDGE_TI_DIR_TO_DEVICE, 1U << 31));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, DMABRIDGE_TI_MAX_SLOTS,
				     self->buf, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-EINVAL, ti_attach(self->tifd, ~0U, self->buf,
				     DMABRIDGE_TI_DIR_TO_DEVICE, 0));

	a.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_ATTACH, &a));
	a.reserved[0] = 0;
	a.reserved[1] = 1ULL << 63;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_ATTACH, &a));
	a.reserved[1] = 0;
	EXPECT_EQ(0, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_ATTACH, &a));
}

TEST_F(ti, attach_to_busy_slot_fails_with_ebusy_other_slots_work)
{
	uint32_t s;

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-EBUSY, ti_attach(self->tifd, 0, self->buf,
				    DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	for (s = 1; s < DMABRIDGE_TI_MAX_SLOTS; s++) {
		EXPECT_EQ(0, ti_attach(self->tifd, s, self->buf,
				       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	}
	/* After a detach the slot takes a new attachment. */
	EXPECT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
}

TEST_F(ti, detach_of_empty_slot_fails_with_enoent)
{
	struct dmabridge_ti_detach d = { .slot = 0 };

	EXPECT_EQ(-ENOENT, ti_detach(self->tifd, 0));
	EXPECT_EQ(-EINVAL, ti_detach(self->tifd, DMABRIDGE_TI_MAX_SLOTS));
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	d.flags = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DETACH, &d));
	d.flags = 0;
	d.reserved = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DETACH, &d));
	EXPECT_EQ(0, ti_detach(self->tifd, 0));
	EXPECT_EQ(-ENOENT, ti_detach(self->tifd, 0));
}

TEST_F(ti, read_write_info_segment_without_mapping_fail_with_enoent)
{
	struct dmabridge_ti_info info;
	struct dmabridge_ti_segment seg;
	char b[16];

	EXPECT_EQ(-ENOENT, ti_read(self->tifd, 0, 0, b, sizeof(b)));
	EXPECT_EQ(-ENOENT, ti_write(self->tifd, 0, 0, b, sizeof(b)));
	EXPECT_EQ(-ENOENT, ti_info(self->tifd, 0, &info));
	EXPECT_EQ(-ENOENT, ti_segment(self->tifd, 0, 0, &seg));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, DMABRIDGE_TI_MAX_SLOTS, 0, b,
				   sizeof(b)));
}

TEST_F(ti, transfers_outside_the_mapping_fail_with_einval)
{
	size_t size = self->size;
	char *b = malloc(size + 1);

	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, 0, 0, b, size + 1));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, 0, 1, b, size));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, 0, size, b, 1));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, 0, size + 1, b, 0));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, 0, ~0ULL, b, 2));
	EXPECT_EQ(-EINVAL, ti_read(self->tifd, 0, 2, b, ~0ULL));
	EXPECT_EQ(-EINVAL, ti_write(self->tifd, 0, size - 1, b, 2));
	EXPECT_EQ(-EINVAL, ti_write(self->tifd, 0, 1ULL << 63, b, 1ULL << 63));
	/* The edges themselves are inside. */
	EXPECT_EQ(0, ti_read(self->tifd, 0, 0, b, size));
	EXPECT_EQ(0, ti_read(self->tifd, 0, size, b, 0));
	EXPECT_EQ(0, ti_read(self->tifd, 0, size - 1, b, 1));
	EXPECT_EQ(0, ti_write(self->tifd, 0, 0, b, size));
	free(b);
}

TEST_F(ti, transfers_reject_flags_and_reserved_fields)
{
	char b[16];
	struct dmabridge_ti_xfer x = {
		.len = sizeof(b), .ptr = (uintptr_t)b,
	};

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	x.flags = ~DMABRIDGE_TI_XFER_FLAGS_ALL;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DMA_READ, &x));
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DMA_WRITE, &x));
	x.flags = 0;
	x.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DMA_READ, &x));
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DMA_WRITE, &x));
	x.reserved[1] = 0;
	EXPECT_EQ(0, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_DMA_READ, &x));
}

TEST_F(ti, transfers_with_bad_user_pointers_fail_with_efault)
{
	size_t pg = getpagesize();
	char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	EXPECT_EQ(-EFAULT, ti_read(self->tifd, 0, 0, NULL, 16));
	EXPECT_EQ(-EFAULT, ti_write(self->tifd, 0, 0, NULL, 16));
	EXPECT_EQ(-EFAULT, ti_read(self->tifd, 0, 0, (void *)-4096L, 16));
	/* Reading into read-only memory must fail, writing from it works. */
	EXPECT_EQ(-EFAULT, ti_read(self->tifd, 0, 0, ro, 16));
	EXPECT_EQ(0, ti_write(self->tifd, 0, 0, ro, 16));
	EXPECT_EQ(-EFAULT, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_INFO, NULL));
	EXPECT_EQ(-EFAULT, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_ATTACH,
				    (void *)8));
	munmap(ro, pg);
}

TEST_F(ti, write_through_to_device_mapping_fails_with_eperm)
{
	char b[16] = { 0 };

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-EPERM, ti_write(self->tifd, 0, 0, b, sizeof(b)));
	EXPECT_EQ(0, ti_read(self->tifd, 0, 0, b, sizeof(b)));
}

TEST_F(ti, unknown_ioctl_fails_with_enotty)
{
	char b[256] = { 0 };

	EXPECT_EQ(-ENOTTY, ti_ioctl(self->tifd,
				    _IOW(DMABRIDGE_TI_IOC_MAGIC, 0x7f, b), b));
	/* Same number, different size: a different ioctl. */
	EXPECT_EQ(-ENOTTY, ti_ioctl(self->tifd,
				    _IOW(DMABRIDGE_TI_IOC_MAGIC, 0x80,
					 struct dmabridge_ti_detach), b));
	EXPECT_EQ(-ENOTTY, ti_ioctl(self->tifd, DMA_BUF_IOCTL_SYNC, b));
}

TEST_F(ti, info_reports_size_direction_flags_and_dma_mask)
{
	struct dmabridge_ti_info info;
	uint32_t s;

	ASSERT_EQ(0, ti_attach(self->tifd, 1, self->buf,
			       DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	ASSERT_EQ(0, ti_attach(self->tifd, 2, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE,
			       DMABRIDGE_TI_ATTACH_DMA32));

	ASSERT_EQ(0, ti_info(self->tifd, 1, &info));
	EXPECT_EQ(self->size, info.dmabuf_size);
	EXPECT_EQ(self->size, info.mapped_len);
	EXPECT_EQ(DMABRIDGE_TI_DIR_FROM_DEVICE, info.dir);
	EXPECT_EQ(0, info.attach_flags);
	EXPECT_EQ(64, info.dma_mask_bits);
	EXPECT_TRUE(info.info_flags & DMABRIDGE_TI_INFO_DMA_DIRECT);
	EXPECT_GE(info.nents, info.dma_nents);
	EXPECT_GE(info.dma_nents, 1);
	EXPECT_LE(info.max_seg_len, info.mapped_len);
	EXPECT_LE(info.bounced_segs, info.dma_nents);
	EXPECT_NE(0, info.dev_max_seg_size);
	EXPECT_EQ(0, info.pad);
	for (s = 0; s < 4; s++) {
		EXPECT_EQ(0, info.reserved[s]);
	}
	if (swiotlb_forced()) {
		EXPECT_EQ(info.dma_nents, info.bounced_segs);
	}

	ASSERT_EQ(0, ti_info(self->tifd, 2, &info));
	EXPECT_EQ(DMABRIDGE_TI_DIR_TO_DEVICE, info.dir);
	EXPECT_EQ(DMABRIDGE_TI_ATTACH_DMA32, info.attach_flags);
	EXPECT_EQ(32, info.dma_mask_bits);
	EXPECT_EQ(self->size, info.mapped_len);
}

TEST_F(ti, info_rejects_flags_and_reserved_fields)
{
	struct dmabridge_ti_info info = { 0 };

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	info.flags = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_INFO, &info));
	info.flags = 0;
	info.pad = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_INFO, &info));
	info.pad = 0;
	info.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_INFO, &info));
	info.reserved[3] = 0;
	EXPECT_EQ(0, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_INFO, &info));
}

TEST_F(ti, segments_tile_the_mapping_in_order)
{
	struct dmabridge_ti_info info;
	struct dmabridge_ti_segment seg;
	uint64_t off = 0, max = 0;
	uint32_t i, bounced = 0;

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_info(self->tifd, 0, &info));
	for (i = 0; i < info.dma_nents; i++) {
		ASSERT_EQ(0, ti_segment(self->tifd, 0, i, &seg));
		EXPECT_EQ(off, seg.offset);
		EXPECT_NE(0, seg.len);
		off += seg.len;
		if (seg.len > max)
			max = seg.len;
		if (seg.seg_flags & DMABRIDGE_TI_SEG_BOUNCED)
			bounced++;
	}
	EXPECT_EQ(info.mapped_len, off);
	EXPECT_EQ(info.max_seg_len, max);
	EXPECT_EQ(info.bounced_segs, bounced);
	EXPECT_EQ(-EINVAL, ti_segment(self->tifd, 0, info.dma_nents, &seg));
	EXPECT_EQ(-EINVAL, ti_segment(self->tifd, 0, ~0U, &seg));

	/* Output fields must come in zero. */
	memset(&seg, 0, sizeof(seg));
	seg.len = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_SEGMENT, &seg));
	memset(&seg, 0, sizeof(seg));
	seg.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, ti_ioctl(self->tifd, DMABRIDGE_TI_IOC_SEGMENT, &seg));
}

TEST_F(ti, attachment_keeps_dmabuf_alive_after_its_fd_is_closed)
{
	size_t size = self->size;
	char *a = malloc(size), *b = malloc(size);

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	pat_fill(a, 0, size, 7);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	close(self->buf);
	self->buf = -1;
	ASSERT_EQ(0, ti_write(self->tifd, 0, 0, a, size));
	ASSERT_EQ(0, ti_read(self->tifd, 0, 0, b, size));
	EXPECT_EQ(-1, pat_check(b, 0, size, 7));
	EXPECT_EQ(0, ti_detach(self->tifd, 0));
	free(a);
	free(b);
}

TEST_F(ti, closing_a_session_with_attachments_releases_them)
{
	int i, before = ti_attachments_in_debugfs();

	/* Repeat so that leaked bounce buffers would run out. */
	for (i = 0; i < 64; i++) {
		int fd = ti_open();
		uint32_t s;

		ASSERT_GE(fd, 0);
		for (s = 0; s < DMABRIDGE_TI_MAX_SLOTS; s++) {
			ASSERT_EQ(0, ti_attach(fd, s, self->buf,
					       DMABRIDGE_TI_DIR_BIDIRECTIONAL,
					       s & 1 ? DMABRIDGE_TI_ATTACH_DMA32
						     : 0));
		}
		if (before >= 0 && i == 0) {
			EXPECT_EQ(before + DMABRIDGE_TI_MAX_SLOTS,
				  ti_attachments_in_debugfs());
		}
		close(fd);
	}
	if (before < 0) {
		TH_LOG("debugfs not mounted: attachment count not checked");
		return;
	}
	EXPECT_EQ(before, ti_attachments_in_debugfs());
}

TEST_F(ti, sessions_are_independent)
{
	int other = ti_open();
	char b[8];

	ASSERT_GE(other, 0);
	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	EXPECT_EQ(-ENOENT, ti_read(other, 0, 0, b, sizeof(b)));
	EXPECT_EQ(0, ti_attach(other, 0, self->buf,
			       DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	close(other);
	EXPECT_EQ(0, ti_read(self->tifd, 0, 0, b, sizeof(b)));
}

TEST_F(ti, vmap_transfers_stay_inside_the_dma_buf)
{
	char b[16];

	ASSERT_EQ(0, ti_attach(self->tifd, 0, self->buf,
			       DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	EXPECT_EQ(0, ti_vmap_read(self->tifd, 0, self->size - sizeof(b), b,
				  sizeof(b)));
	EXPECT_EQ(-EINVAL, ti_vmap_read(self->tifd, 0, self->size - 1, b,
					sizeof(b)));
	EXPECT_EQ(-EINVAL, ti_vmap_write(self->tifd, 0, ~0ULL, b, 2));
	EXPECT_EQ(-EFAULT, ti_vmap_read(self->tifd, 0, 0, (void *)8, 8));
	EXPECT_EQ(-ENOENT, ti_vmap_read(self->tifd, 1, 0, b, sizeof(b)));
}

TEST_HARNESS_MAIN
