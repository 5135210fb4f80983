/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers of the fence suites: raw ioctls, vgem fences, object counts. */
#ifndef DMABRIDGE_SYNC_COMMON_H
#define DMABRIDGE_SYNC_COMMON_H

#include <poll.h>
#include <time.h>
#include <linux/sync_file.h>
#include <drm/vgem_drm.h>

#include <dmabridge.h>
#include <dmabridge/sync.h>
#include <dmabridge_sync_test.h>
#include "dmabridge_test_util.h"

/* Upstream's since 6.3; the build's headers may be older. */
#ifndef SYNC_IOC_SET_DEADLINE
struct sync_set_deadline {
	__u64	deadline_ns;
	__u64	pad;
};
#define SYNC_IOC_SET_DEADLINE	_IOW(SYNC_IOC_MAGIC, 5, struct sync_set_deadline)
#endif

#define SYNC_DEV	"/dev/dmabridge-sync"
#define SW_SYNC_DEV	"/dev/sw_sync"
#define SW_SYNC_DEBUGFS	"/sys/kernel/debug/sync/sw_sync"
#define OBJECTS_DEBUGFS	"/sys/kernel/debug/dmabridge-sync/objects"

static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* 1 if @fd is readable (a sync_file: signaled) within @ms, 0 if not. */
static inline int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Status of a sync_file: 1 signaled, 0 active, <0 its error. */
static inline int fence_state(int fd)
{
	struct sync_file_info info = { 0 };

	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info))
		return -1000 - errno;
	return info.status;
}

/* A sw_sync timeline, /dev/sw_sync first as IGT does. */
static inline int sw_sync_open(void)
{
	int fd = open(SW_SYNC_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = open(SW_SYNC_DEBUGFS, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static inline int sw_sync_fence(int tl, uint32_t value)
{
	struct sw_sync_create_fence_data d = { .value = value };

	strcpy(d.name, "sw_sync fence");
	return ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) ? -errno : d.fence;
}

static inline int sw_sync_inc(int tl, uint32_t inc)
{
	return xioctl(tl, SW_SYNC_IOC_INC, &inc);
}

/* A vgem buffer whose fences another producer (the vgem driver) makes. */
struct vgem_bo {
	int card;
	uint32_t handle;
	int dmabuf;
};

static inline int vgem_bo_create(struct vgem_bo *bo)
{
	struct drm_mode_create_dumb dumb = { .width = 1024, .bpp = 32, .height = 1 };
	struct drm_prime_handle prime = { .flags = DRM_CLOEXEC | DRM_RDWR };
	int ret;

	bo->card = vgem_open();
	if (bo->card < 0)
		return bo->card;
	ret = xioctl(bo->card, DRM_IOCTL_MODE_CREATE_DUMB, &dumb);
	prime.handle = dumb.handle;
	if (!ret)
		ret = xioctl(bo->card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime);
	if (ret) {
		close(bo->card);
		return ret;
	}
	bo->handle = dumb.handle;
	bo->dmabuf = prime.fd;
	return 0;
}

static inline void vgem_bo_destroy(struct vgem_bo *bo)
{
	close(bo->dmabuf);
	close(bo->card);
}

/*
 * A vgem fence on @bo as a sync_file (exported from the buffer's
 * reservation object); *@id is what signals it.
 */
static inline int vgem_fence(struct vgem_bo *bo, uint32_t *id)
{
	struct drm_vgem_fence_attach a = {
		.handle = bo->handle, .flags = VGEM_FENCE_WRITE,
	};
	struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_WRITE };
	int ret = xioctl(bo->card, DRM_IOCTL_VGEM_FENCE_ATTACH, &a);

	if (ret)
		return ret;
	*id = a.out_fence;
	ret = xioctl(bo->dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e);
	return ret ? ret : e.fd;
}

static inline int vgem_signal(struct vgem_bo *bo, uint32_t id)
{
	struct drm_vgem_fence_signal s = { .fence = id };

	return xioctl(bo->card, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s);
}

/* Live timelines and fences of dmabridge_sync; -1 without debugfs. */
static inline int sync_objects(long *timelines, long *fences)
{
	FILE *f = fopen(OBJECTS_DEBUGFS, "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "timelines %ld\nfences %ld\n", timelines, fences);
	fclose(f);
	return n == 2 ? 0 : -1;
}

/*
 * Wait up to 10 s for the counts to fall back to @tl and @f: fences are
 * freed after an RCU grace period.  0 when they did.
 */
static inline int sync_objects_settle(long tl, long f, long *now_tl, long *now_f)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (sync_objects(now_tl, now_f))
			return -1;
		if (*now_tl == tl && *now_f == f)
			return 0;
		sleep_ms(10);
	}
	return -1;
}

#endif /* DMABRIDGE_SYNC_COMMON_H */
