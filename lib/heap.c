// SPDX-License-Identifier: LGPL-2.1-or-later
/* dma-buf heaps: open, allocate, tell the kernel's from dmabridge's, usage. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "internal.h"

/* The kernel's heap class, and the name dmabridge takes beside its system heap. */
#define KERNEL_HEAP_SYSFS	"/sys/class/dma_heap"
#define OURS_SYSTEM		"dmabridge-system"
#define HEAPS_PARAMS		"/sys/module/dmabridge_heaps/parameters"

int dmb_heap_check_name(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= DMABRIDGE_HEAP_NAME_MAX || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

int dmabridge_heap_open(const char *name)
{
	char path[PATH_MAX];
	int fd, ret;

	if (!name)
		name = dmabridge_heap_system_name();
	if (name[0] == '/') {
		fd = open(name, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	ret = dmb_heap_check_name(name);
	if (ret)
		return ret;
	ret = dmb_sys_path(path, sizeof(path), DMABRIDGE_HEAP_DIR "/%s", name);
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int dmabridge_heap_alloc(int heapfd, uint64_t len, unsigned int fd_flags)
{
	struct dma_heap_allocation_data data = {
		.len = len,
		.fd_flags = fd_flags,
	};

	if (ioctl(heapfd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return -errno;
	if (data.fd > INT_MAX)
		return -EBADF;
	return (int)data.fd;
}

const char *dmabridge_heap_system_name(void)
{
	/* Loaded: the module's sysfs says which name it took. */
	if (dmb_sys_exists(DMABRIDGE_HEAP_SYSFS "/%s", OURS_SYSTEM))
		return OURS_SYSTEM;
	if (dmb_sys_exists(DMABRIDGE_HEAP_SYSFS "/%s", "system"))
		return "system";
	/* Not loaded: it will take the prefixed name if the kernel has one. */
	if (dmb_sys_exists(KERNEL_HEAP_SYSFS "/%s", "system"))
		return OURS_SYSTEM;
	return "system";
}

int dmb_heap_owner(const char *name)
{
	if (dmb_sys_exists(DMABRIDGE_HEAP_SYSFS "/%s", name))
		return DMABRIDGE_HEAP_OWNER_DMABRIDGE;
	if (dmb_sys_exists(KERNEL_HEAP_SYSFS "/%s", name))
		return DMABRIDGE_HEAP_OWNER_KERNEL;
	return DMABRIDGE_HEAP_OWNER_UNKNOWN;
}

unsigned int dmb_heap_props(const char *name, int owner)
{
	unsigned int props = 0;

	if (owner == DMABRIDGE_HEAP_OWNER_DMABRIDGE) {
		if (!strcmp(name, "system") || !strcmp(name, OURS_SYSTEM))
			props = DMABRIDGE_HEAP_PROP_CACHED |
				DMABRIDGE_HEAP_PROP_POOLED;
		else if (!strcmp(name, "system-uncached"))
			props = DMABRIDGE_HEAP_PROP_WC |
				DMABRIDGE_HEAP_PROP_POOLED;
		else if (!strcmp(name, "contiguous"))
			props = DMABRIDGE_HEAP_PROP_CACHED |
				DMABRIDGE_HEAP_PROP_CONTIGUOUS;
	} else if (owner == DMABRIDGE_HEAP_OWNER_KERNEL) {
		/*
		 * Upstream's names: "system" (its page pools went in 5.11
		 * and out again), "system-uncached" (never merged, but
		 * vendor trees carry it), and CMA heaps, named "reserved"
		 * or after their CMA area ("linux,cma" and the like).
		 */
		if (!strcmp(name, "system"))
			props = DMABRIDGE_HEAP_PROP_CACHED;
		else if (!strcmp(name, "system-uncached"))
			props = DMABRIDGE_HEAP_PROP_WC;
		else if (!strcmp(name, "reserved") || strstr(name, "cma"))
			props = DMABRIDGE_HEAP_PROP_CACHED |
				DMABRIDGE_HEAP_PROP_CONTIGUOUS;
	}
	return props;
}

static void read_stats(const char *name, struct dmabridge_heap_info *info)
{
	static const struct {
		const char *file;
		unsigned int bit;
		size_t offset;
	} stats[] = {
		{ "buffers", DMABRIDGE_HEAP_HAS_BUFFERS,
		  offsetof(struct dmabridge_heap_info, buffers) },
		{ "bytes", DMABRIDGE_HEAP_HAS_BYTES,
		  offsetof(struct dmabridge_heap_info, bytes) },
		{ "pool_bytes", DMABRIDGE_HEAP_HAS_POOL,
		  offsetof(struct dmabridge_heap_info, pool_bytes) },
		{ "region_bytes", DMABRIDGE_HEAP_HAS_REGION,
		  offsetof(struct dmabridge_heap_info, region_bytes) },
		{ "free_bytes", DMABRIDGE_HEAP_HAS_FREE,
		  offsetof(struct dmabridge_heap_info, free_bytes) },
		{ "largest_free_bytes", DMABRIDGE_HEAP_HAS_LARGEST,
		  offsetof(struct dmabridge_heap_info, largest_free_bytes) },
	};
	char path[PATH_MAX];
	uint64_t val;
	size_t i;

	for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
		if (dmb_sys_path(path, sizeof(path), DMABRIDGE_HEAP_SYSFS "/%s/%s",
			      name, stats[i].file) ||
		    dmb_read_u64(path, &val))
			continue;
		memcpy((char *)info + stats[i].offset, &val, sizeof(val));
		info->fields |= stats[i].bit;
	}
}

/* Y/N of a boolean module parameter; @dflt when it cannot be read. */
static int param_bool(const char *param, int dflt)
{
	char path[PATH_MAX], val[8];

	if (dmb_sys_path(path, sizeof(path), HEAPS_PARAMS "/%s", param) ||
	    dmb_read_line(path, val, sizeof(val)) <= 0)
		return dflt;
	return val[0] == 'Y' || val[0] == 'y' || val[0] == '1';
}

int dmabridge_heap_info(const char *name, struct dmabridge_heap_info *info)
{
	int ret = dmb_heap_check_name(name);

	if (ret)
		return ret;
	if (!dmb_sys_exists(DMABRIDGE_HEAP_DIR "/%s", name))
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	memcpy(info->name, name, strlen(name) + 1);
	info->owner = dmb_heap_owner(name);
	info->props = dmb_heap_props(name, info->owner);
	if (info->owner == DMABRIDGE_HEAP_OWNER_DMABRIDGE) {
		/* The contiguous region is outside the page allocator's memcgs. */
		if (param_bool("memcg_account", 1) &&
		    !(info->props & DMABRIDGE_HEAP_PROP_CONTIGUOUS))
			info->props |= DMABRIDGE_HEAP_PROP_MEMCG;
		read_stats(name, info);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dmabridge_heap_list(struct dmabridge_heap_info *heaps, size_t max)
{
	char path[PATH_MAX], **names = NULL, **grown;
	size_t n = 0, cap = 0, i, filled = 0;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (max && !heaps)
		return -EINVAL;
	ret = dmb_sys_path(path, sizeof(path), "%s", DMABRIDGE_HEAP_DIR);
	if (ret)
		return ret;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (dmb_heap_check_name(de->d_name))
			continue;	/* ".", "..", or too long for the struct */
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				ret = -ENOMEM;
				goto out;
			}
			names = grown;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			ret = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n > INT_MAX) {
		ret = -EOVERFLOW;
		goto out;
	}
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n && filled < max; i++) {
		/* A heap that went away since readdir() is left out. */
		if (dmabridge_heap_info(names[i], &heaps[filled]) == 0)
			filled++;
	}
	ret = (int)(n - (i - filled));
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}
