// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge_export_floor.ko, the test-only heap that allocates nothing
 * (bench/run's floor for heap alloc+free): it gives a read-only page of
 * zeros that importers can map, refuses everything else with upstream's
 * heap errnos, and stays loaded while a buffer lives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "kselftest_harness.h"
#include "dmabridge_test_util.h"

#define PAGE 4096UL
#define NODE "/dev/dmabridge-export-floor"
#define MODULE "dmabridge_export_floor"

static int floor_alloc(int dev, uint64_t len, uint32_t fd_flags,
		       uint64_t heap_flags)
{
	struct dma_heap_allocation_data d = {
		.len = len, .fd_flags = fd_flags, .heap_flags = heap_flags,
	};

	if (ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &d))
		return -errno;
	return d.fd;
}

FIXTURE(floor) {
	int dev;
};

FIXTURE_SETUP(floor)
{
	self->dev = open(NODE, O_RDONLY | O_CLOEXEC);
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, NODE " is not there (a TESTING=1 build loads it)");
	ASSERT_GE(self->dev, 0) TH_LOG("%s: %s", NODE, strerror(errno));
}

FIXTURE_TEARDOWN(floor)
{
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(floor, gives_a_read_only_page_of_zeros)
{
	static const uint8_t zeros[PAGE];
	struct stat st;
	int fd, flags;
	void *p;

	fd = floor_alloc(self->dev, PAGE, O_RDONLY | O_CLOEXEC, 0);
	ASSERT_GE(fd, 0) TH_LOG("alloc: %s", strerror(-fd));
	flags = fcntl(fd, F_GETFD);
	EXPECT_TRUE(flags & FD_CLOEXEC);
	EXPECT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(PAGE, (unsigned long)lseek(fd, 0, SEEK_END));

	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, zeros, PAGE));
	munmap(p, PAGE);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EACCES, errno);
	close(fd);
}

TEST_F(floor, an_importer_maps_it_for_reading_only)
{
	uint8_t got[PAGE], zeros[PAGE] = { 0 };
	int fd, tifd;

	tifd = ti_open();
	if (tifd < 0)
		SKIP(return, "no test importer");
	fd = floor_alloc(self->dev, PAGE, O_RDONLY, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EPERM, ti_attach(tifd, 0, fd, DMABRIDGE_TI_DIR_FROM_DEVICE, 0));
	EXPECT_EQ(-EPERM, ti_attach(tifd, 0, fd, DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(0, ti_attach(tifd, 0, fd, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_read(tifd, 0, 0, got, PAGE));
	EXPECT_EQ(0, memcmp(got, zeros, PAGE));
	EXPECT_EQ(-EINVAL, ti_vmap_read(tifd, 0, 0, got, PAGE));
	EXPECT_EQ(0, ti_detach(tifd, 0));
	close(fd);
	close(tifd);
}

TEST_F(floor, refuses_anything_but_one_read_only_page)
{
	struct dma_heap_allocation_data d = { .len = PAGE, .fd = 3 };

	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, 0, O_RDONLY, 0));
	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, PAGE - 1, O_RDONLY, 0));
	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, 2 * PAGE, O_RDONLY, 0));
	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, PAGE, O_RDWR, 0));
	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, PAGE, O_WRONLY, 0));
	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, PAGE, O_RDONLY | O_NONBLOCK, 0));
	EXPECT_EQ(-EINVAL, floor_alloc(self->dev, PAGE, O_RDONLY, 1));
	/* A caller's fd field must be zero, as upstream's heaps want it. */
	EXPECT_EQ(-1, ioctl(self->dev, DMA_HEAP_IOCTL_ALLOC, &d));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->dev, DMA_HEAP_IOCTL_ALLOC, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->dev, _IO('H', 0x1), 0));
	EXPECT_EQ(ENOTTY, errno);
}

/* The returned fd is written back: a read-only argument is EFAULT. */
TEST_F(floor, unwritable_argument_leaves_no_fd_behind)
{
	struct dma_heap_allocation_data *d;
	int probe, next;

	d = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, d);
	d->len = PAGE;
	d->fd_flags = O_RDONLY;
	ASSERT_EQ(0, mprotect(d, PAGE, PROT_READ));
	probe = dup(self->dev);
	ASSERT_GE(probe, 0);
	close(probe);
	EXPECT_EQ(-1, ioctl(self->dev, DMA_HEAP_IOCTL_ALLOC, d));
	EXPECT_EQ(EFAULT, errno);
	/* The lowest free fd is still free: nothing was installed there. */
	next = dup(self->dev);
	EXPECT_EQ(probe, next);
	close(next);
	munmap(d, PAGE);
}

static int try_unload(void)
{
	return syscall(SYS_delete_module, MODULE, O_NONBLOCK) ? -errno : 0;
}

TEST_F(floor, a_live_buffer_keeps_the_module_loaded)
{
	int fd, ret;

	fd = floor_alloc(self->dev, PAGE, O_RDONLY, 0);
	ASSERT_GE(fd, 0);
	/* The node's own file holds the module too. */
	close(self->dev);
	self->dev = -1;
	ret = try_unload();
	EXPECT_TRUE(ret == -EBUSY || ret == -EAGAIN) TH_LOG("delete_module: %s",
		ret ? strerror(-ret) : "unloaded with a live buffer");
	close(fd);
	/* The harness unloads it at the end of the run, which must work. */
}

TEST_HARNESS_MAIN
