// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fences: dmabridge-sync timelines, sync_file queries and merges, waits on
 * any or all of several fences, and implicit sync on dma-bufs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/sync_file.h>

#include "internal.h"
#include "uapi/dmabridge/sync.h"

static int sync_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	return ret < 0 ? -errno : ret;
}

int dmabridge_timeline_create(const char *name, uint64_t initial_value,
			      uint64_t timeout_ns, unsigned int flags)
{
	struct dmabridge_sync_timeline_create args = {
		.timeout_ns = timeout_ns,
		.initial_value = initial_value,
	};
	int dev, ret;

	if (flags & ~DMABRIDGE_FENCE_CLOEXEC)
		return -EINVAL;
	if (flags & DMABRIDGE_FENCE_CLOEXEC)
		args.flags |= DMABRIDGE_SYNC_CLOEXEC;
	if (name) {
		if (strlen(name) >= sizeof(args.name))
			return -ENAMETOOLONG;
		strcpy(args.name, name);
	}
	dev = open(DMABRIDGE_SYNC_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	ret = sync_ioctl(dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &args);
	close(dev);
	return ret < 0 ? ret : args.fd;
}

int dmabridge_fence_create(int timeline, uint64_t value, unsigned int flags)
{
	struct dmabridge_sync_fence_create args = { .value = value };
	int ret;

	if (flags & ~DMABRIDGE_FENCE_CLOEXEC)
		return -EINVAL;
	if (flags & DMABRIDGE_FENCE_CLOEXEC)
		args.flags |= DMABRIDGE_SYNC_CLOEXEC;
	ret = sync_ioctl(timeline, DMABRIDGE_SYNC_IOC_FENCE_CREATE, &args);
	return ret < 0 ? ret : args.fd;
}

static int timeline_signal(int timeline, uint64_t value, uint32_t flags,
			   int error)
{
	struct dmabridge_sync_signal args = {
		.value = value, .flags = flags, .error = error,
	};

	return sync_ioctl(timeline, DMABRIDGE_SYNC_IOC_SIGNAL, &args);
}

int dmabridge_timeline_signal(int timeline, uint64_t value)
{
	return timeline_signal(timeline, value, 0, 0);
}

int dmabridge_timeline_inc(int timeline, uint64_t inc)
{
	return timeline_signal(timeline, inc, DMABRIDGE_SYNC_SIGNAL_INC, 0);
}

int dmabridge_timeline_fail(int timeline, uint64_t value, int error)
{
	if (error > 0)
		error = -error;
	if (error == 0 || error < -4095)
		return -EINVAL;
	return timeline_signal(timeline, value, 0, error);
}

int dmabridge_timeline_info(int timeline, struct dmabridge_timeline_info *info)
{
	struct dmabridge_sync_timeline_info args = { 0 };
	int ret;

	ret = sync_ioctl(timeline, DMABRIDGE_SYNC_IOC_TIMELINE_INFO, &args);
	if (ret < 0)
		return ret;
	memset(info, 0, sizeof(*info));
	info->value = args.value;
	info->timeout_ns = args.timeout_ns;
	info->context = args.context;
	info->pending = args.pending;
	memcpy(info->name, args.name, sizeof(info->name));
	info->name[sizeof(info->name) - 1] = '\0';
	return 0;
}

int dmabridge_fence_merge(int fence1, int fence2, const char *name)
{
	struct sync_merge_data args = { .fd2 = fence2 };
	int ret;

	if (!name)
		name = "dmabridge-merge";
	if (strlen(name) >= sizeof(args.name))
		return -ENAMETOOLONG;
	strcpy(args.name, name);
	ret = sync_ioctl(fence1, SYNC_IOC_MERGE, &args);
	return ret < 0 ? ret : args.fence;
}

static void copy_name(char *dst, const char *src, size_t len)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int dmabridge_fence_points(int fence, struct dmabridge_fence_point *points,
			   size_t max)
{
	struct sync_file_info info = { 0 };
	struct sync_fence_info *fi;
	size_t i, n;
	int ret;

	ret = sync_ioctl(fence, SYNC_IOC_FILE_INFO, &info);
	if (ret < 0)
		return ret == -ENOTTY ? -EINVAL : ret;
	n = info.num_fences;
	if (!points || !max || !n)
		return (int)n;
	/* The kernel fills all or nothing: ask for every fence. */
	fi = calloc(n, sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	memset(&info, 0, sizeof(info));
	info.num_fences = n;
	info.sync_fence_info = (uintptr_t)fi;
	ret = sync_ioctl(fence, SYNC_IOC_FILE_INFO, &info);
	if (ret < 0) {
		free(fi);
		return ret;
	}
	/*
	 * A sync_file's fences never change, but a dma_fence_chain in it
	 * drops links that have signaled as it is walked, so there may be
	 * fewer now: the kernel says how many it filled in.
	 */
	if (info.num_fences < n)
		n = info.num_fences;
	for (i = 0; i < n && i < max; i++) {
		memset(&points[i], 0, sizeof(points[i]));
		copy_name(points[i].driver, fi[i].driver_name,
			  sizeof(points[i].driver));
		copy_name(points[i].timeline, fi[i].obj_name,
			  sizeof(points[i].timeline));
		points[i].status = fi[i].status;
		points[i].timestamp_ns = fi[i].timestamp_ns;
	}
	free(fi);
	return (int)n;
}

int dmabridge_fence_status(int fence, int *error)
{
	struct sync_file_info info = { 0 };
	int ret;

	ret = sync_ioctl(fence, SYNC_IOC_FILE_INFO, &info);
	if (ret < 0)
		return ret == -ENOTTY ? -EINVAL : ret;
	if (error)
		*error = info.status < 0 ? info.status : 0;
	return info.status != 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int dmabridge_fence_wait(const int *fences, size_t count, unsigned int flags,
			 int64_t timeout_ns, size_t *index)
{
	struct pollfd *pfd;
	int64_t end = 0;
	size_t i, left;
	int ret;

	if (flags & ~DMABRIDGE_WAIT_ALL)
		return -EINVAL;
	if (!count || count > 65536 || (!fences && count))
		return -EINVAL;
	for (i = 0; i < count; i++) {
		ret = dmabridge_fence_status(fences[i], NULL);
		if (ret < 0)
			return ret;
	}
	pfd = calloc(count, sizeof(*pfd));
	if (!pfd)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		pfd[i].fd = fences[i];
		pfd[i].events = POLLIN;
	}
	if (timeout_ns >= 0) {
		end = now_ns();
		/* So long that it cannot end: no limit. */
		if (timeout_ns > INT64_MAX - end)
			timeout_ns = -1;
		else
			end += timeout_ns;
	}
	left = count;
	for (;;) {
		struct timespec ts, *tsp = NULL;
		int64_t rem;

		if (timeout_ns >= 0) {
			rem = end - now_ns();
			if (rem < 0)
				rem = 0;
			ts.tv_sec = rem / 1000000000;
			ts.tv_nsec = rem % 1000000000;
			tsp = &ts;
		}
		ret = ppoll(pfd, count, tsp, NULL);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		for (i = 0; i < count; i++) {
			if (pfd[i].revents & (POLLERR | POLLNVAL)) {
				ret = -EBADF;
				goto out;
			}
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (!(flags & DMABRIDGE_WAIT_ALL)) {
				if (index)
					*index = i;
				ret = 0;
				goto out;
			}
			/* Signaled for good: a negative fd is skipped by poll. */
			pfd[i].fd = -1;
			pfd[i].revents = 0;
			left--;
		}
		if (!left) {
			ret = 0;
			break;
		}
		if (ret == 0 && timeout_ns >= 0 && now_ns() >= end) {
			ret = -ETIME;
			break;
		}
	}
out:
	free(pfd);
	return ret;
}

int dmabridge_fence_import(int dmabuf, int fence, unsigned int access)
{
	struct dma_buf_import_sync_file args = { .fd = fence };
	int flags = dmb_sync_flags(access);

	if (flags < 0)
		return flags;
	args.flags = (uint32_t)flags;
	return sync_ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &args);
}

int dmabridge_fence_export(int dmabuf, unsigned int access)
{
	struct dma_buf_export_sync_file args = { .fd = -1 };
	int flags = dmb_sync_flags(access);
	int ret;

	if (flags < 0)
		return flags;
	args.flags = (uint32_t)flags;
	ret = sync_ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &args);
	return ret < 0 ? ret : args.fd;
}
