/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the dma-buf core offers on any of our buffers, checked the same way
 * for every exporter (udmabuf, each heap): include after
 * kselftest_harness.h and call from a TEST_F with the buffer's fd, which
 * the caller still owns afterwards.
 */
#ifndef DMABRIDGE_DMABUF_CHECKS_H
#define DMABRIDGE_DMABUF_CHECKS_H

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drm/drm.h>
#include <linux/dma-buf.h>
#include <dmabridge/sync.h>

#include "dmabridge_test_util.h"

/* A private mapping would need copy-on-write of pages nobody owns. */
static inline void check_private_mapping_refused(struct __test_metadata *_metadata,
						 int fd)
{
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
}

static inline void check_cpu_access_sync(struct __test_metadata *_metadata,
					 int fd)
{
	EXPECT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW));
	EXPECT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW));
	EXPECT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	EXPECT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	EXPECT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
	EXPECT_EQ(-EINVAL, dmabuf_sync(fd, DMA_BUF_SYNC_START));
	EXPECT_EQ(-EINVAL, dmabuf_sync(fd, 1ULL << 40));
}

/*
 * A shared mapping holds the buffer by itself: it outlives the fd, which
 * this closes, and a child's write through the inherited mapping lands
 * in the same page.
 */
static inline void check_mapping_outlives_fd_and_fork(struct __test_metadata *_metadata,
						       int fd)
{
	volatile uint8_t *p;
	int status;
	pid_t pid;

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, (void *)p);
	close(fd);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		p[100] = 42;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(42, p[100]);
	munmap((void *)p, 4096);
}

/* exp_name NULL: whatever the exporter calls itself. */
static inline void check_name_in_fdinfo(struct __test_metadata *_metadata,
					int fd, const char *exp_name)
{
	char value[64];

	ASSERT_EQ(0, ioctl(fd, DMA_BUF_SET_NAME_B, "camera-frame"));
	ASSERT_EQ(0, fdinfo_value(fd, "name", value, sizeof(value)));
	EXPECT_STREQ("camera-frame", value);
	if (exp_name) {
		ASSERT_EQ(0, fdinfo_value(fd, "exp_name", value, sizeof(value)));
		EXPECT_STREQ(exp_name, value);
	}
}

/*
 * The buffer's reservation object carries implicit sync: with no fence
 * the exported one is signaled; a pending write fence imported (one of a
 * dmabridge-sync timeline) holds back readers and writers, comes out
 * again in an exported sync_file, and lets them go once it signals.
 */
static inline void check_implicit_sync_roundtrip(struct __test_metadata *_metadata,
						 int fd)
{
	struct dmabridge_sync_timeline_create tc = {
		.flags = DMABRIDGE_SYNC_CLOEXEC, .name = "implicit-sync",
	};
	struct dmabridge_sync_fence_create fc = {
		.value = 1, .flags = DMABRIDGE_SYNC_CLOEXEC, .fd = -1,
	};
	struct dmabridge_sync_signal sig = { .value = 1 };
	struct dma_buf_export_sync_file exp = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };
	struct dma_buf_import_sync_file imp = { .flags = DMA_BUF_SYNC_WRITE };
	struct pollfd pfd;
	int dev;

	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp));
	ASSERT_GE(exp.fd, 0);
	pfd = (struct pollfd){ .fd = exp.fd, .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	close(exp.fd);

	dev = open("/dev/dmabridge-sync", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev) TH_LOG("/dev/dmabridge-sync: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &tc));
	ASSERT_EQ(0, ioctl(tc.fd, DMABRIDGE_SYNC_IOC_FENCE_CREATE, &fc));
	imp.fd = fc.fd;
	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &imp));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	exp.fd = -1;
	ASSERT_EQ(0, ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp));
	ASSERT_GE(exp.fd, 0);
	pfd = (struct pollfd){ .fd = exp.fd, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	ASSERT_EQ(0, ioctl(tc.fd, DMABRIDGE_SYNC_IOC_SIGNAL, &sig));
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	close(exp.fd);
	close(fc.fd);
	close(tc.fd);
	close(dev);
}

/*
 * vgem imports the buffer through PRIME (its attach and map run), and
 * exporting the import again hands back the very same dma-buf.
 */
static inline void check_vgem_prime_import(struct __test_metadata *_metadata,
					   int vgem, int fd)
{
	struct drm_prime_handle imp = { .fd = fd }, exp = { .flags = DRM_CLOEXEC };
	struct drm_gem_close gc = { 0 };
	struct stat a, b;

	ASSERT_EQ(0, ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &imp));
	EXPECT_NE(0U, imp.handle);
	exp.handle = imp.handle;
	ASSERT_EQ(0, ioctl(vgem, DRM_IOCTL_PRIME_HANDLE_TO_FD, &exp));
	ASSERT_EQ(0, fstat(fd, &a));
	ASSERT_EQ(0, fstat(exp.fd, &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	close(exp.fd);
	gc.handle = imp.handle;
	EXPECT_EQ(0, ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc));
}

#endif /* DMABRIDGE_DMABUF_CHECKS_H */
