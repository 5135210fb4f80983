// SPDX-License-Identifier: LGPL-2.1-or-later
/* udmabuf: dma-bufs made of memfd pages, through either udmabuf driver. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/udmabuf.h>

#include "internal.h"
#include "uapi/dmabridge/udmabuf.h"

/* The kernel's driver is module "udmabuf", built in or loadable. */
#define KERNEL_MODULE		"udmabuf"
#define DMABRIDGE_MODULE	"dmabridge_udmabuf"

int dmabridge_udmabuf_open(const char *path)
{
	static const char *const defaults[] = {
		DMABRIDGE_UDMABUF_DEVICE,
		DMABRIDGE_UDMABUF_KERNEL_DEVICE,
	};
	int fd, err = -DMABRIDGE_ENODEVICE;
	size_t i;

	if (path) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		fd = open(defaults[i], O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		/* A node that exists but fails (EACCES) says more than ENOENT. */
		if (errno != ENOENT && err == -DMABRIDGE_ENODEVICE)
			err = -errno;
	}
	return err;
}

int dmabridge_udmabuf_kind(int devfd)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *name;
	struct stat st, ours;

	if (fstat(devfd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;

	/* dmabridge's own node: same device number means same driver. */
	if (!dmb_sys_path(path, sizeof(path), "%s", DMABRIDGE_UDMABUF_DEVICE) &&
	    stat(path, &ours) == 0 && S_ISCHR(ours.st_mode) &&
	    ours.st_rdev == st.st_rdev)
		return DMABRIDGE_UDMABUF_KIND_DMABRIDGE;

	/* Otherwise go by the misc device's name in sysfs. */
	if (dmb_sys_path(path, sizeof(path), "/sys/dev/char/%u:%u",
		     major(st.st_rdev), minor(st.st_rdev)) ||
	    !realpath(path, target))
		return DMABRIDGE_UDMABUF_KIND_UNKNOWN;
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	if (!strncmp(name, "dmabridge", strlen("dmabridge")))
		return DMABRIDGE_UDMABUF_KIND_DMABRIDGE;
	if (strcmp(name, "udmabuf"))
		return DMABRIDGE_UDMABUF_KIND_UNKNOWN;
	/*
	 * A misc device named "udmabuf": the kernel's driver owns that name
	 * whenever it is present, so dmabridge can only have taken it when
	 * the kernel's is absent.
	 */
	if (dmb_sys_exists("/sys/module/%s", KERNEL_MODULE))
		return DMABRIDGE_UDMABUF_KIND_KERNEL;
	if (dmb_sys_exists("/sys/module/%s", DMABRIDGE_MODULE))
		return DMABRIDGE_UDMABUF_KIND_DMABRIDGE;
	return DMABRIDGE_UDMABUF_KIND_UNKNOWN;
}

int dmabridge_udmabuf_limits(int devfd, struct dmabridge_udmabuf_limits *limits)
{
	char path[PATH_MAX];
	const char *module;
	uint64_t val;
	int kind, found = 0;

	kind = dmabridge_udmabuf_kind(devfd);
	if (kind < 0)
		return kind;
	if (kind == DMABRIDGE_UDMABUF_KIND_KERNEL)
		module = KERNEL_MODULE;
	else if (kind == DMABRIDGE_UDMABUF_KIND_DMABRIDGE)
		module = DMABRIDGE_MODULE;
	else
		return -ENOENT;

	memset(limits, 0, sizeof(*limits));
	if (!dmb_sys_path(path, sizeof(path),
		      "/sys/module/%s/parameters/list_limit", module) &&
	    !dmb_read_u64(path, &val)) {
		limits->list_limit = val;
		found = 1;
	}
	if (!dmb_sys_path(path, sizeof(path),
		      "/sys/module/%s/parameters/size_limit_mb", module) &&
	    !dmb_read_u64(path, &val)) {
		limits->size_limit = val > UINT64_MAX >> 20 ? UINT64_MAX
							    : val << 20;
		found = 1;
	}
	return found ? 0 : -ENOENT;
}

static int check_range(const struct dmabridge_range *r, int readonly)
{
	uint64_t page = dmb_page_size();
	struct statfs sfs;
	struct stat st;
	int seals;

	if (r->memfd < 0)
		return -EBADF;
	if (fstat(r->memfd, &st) < 0)
		return -errno;
	if (fstatfs(r->memfd, &sfs) < 0)
		return -errno;
	/* f_type is an int on i386, where HUGETLBFS_MAGIC does not fit one. */
	if (!S_ISREG(st.st_mode) ||
	    ((uint32_t)sfs.f_type != TMPFS_MAGIC &&
	     (uint32_t)sfs.f_type != HUGETLBFS_MAGIC))
		return -DMABRIDGE_ENOTMEMFD;
	seals = fcntl(r->memfd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? -DMABRIDGE_ENOTMEMFD : -errno;
	if (!(seals & F_SEAL_SHRINK))
		return -DMABRIDGE_ENOSEAL;
	if (!readonly && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return -DMABRIDGE_EWRITESEALED;
	if (r->offset % page || r->size % page)
		return -DMABRIDGE_EALIGN;
	if (r->size == 0 || r->offset > (uint64_t)st.st_size ||
	    r->size > (uint64_t)st.st_size - r->offset)
		return -DMABRIDGE_ERANGE;
	return 0;
}

/*
 * Upstream's driver ignores flags it does not know, so a read-only request
 * to an unidentified device is checked on the result: a buffer that lets
 * itself be mapped writable is not read-only.
 */
static int refuses_write_mapping(int fd)
{
	size_t page = (size_t)dmb_page_size();
	void *p;

	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	munmap(p, page);
	return 0;
}

int dmabridge_udmabuf_create(int devfd, const struct dmabridge_range *ranges,
			     size_t count, unsigned int flags)
{
	const unsigned int known = DMABRIDGE_UDMABUF_CLOEXEC |
		DMABRIDGE_UDMABUF_READONLY | DMABRIDGE_UDMABUF_LIST |
		DMABRIDGE_UDMABUF_UNCHECKED;
	int readonly = !!(flags & DMABRIDGE_UDMABUF_READONLY);
	int kind = DMABRIDGE_UDMABUF_KIND_UNKNOWN;
	struct udmabuf_create_list *list;
	uint32_t uflags = 0;
	uint64_t total = 0;
	size_t i;
	int fd, ret;

	if (flags & ~known)
		return -EINVAL;
	if ((count && !ranges) || count > UINT32_MAX)
		return -EINVAL;
	if (count == 0 && !(flags & DMABRIDGE_UDMABUF_UNCHECKED))
		return -EINVAL;

	if (readonly) {
		kind = dmabridge_udmabuf_kind(devfd);
		if (kind < 0)
			return kind;
		if (kind == DMABRIDGE_UDMABUF_KIND_KERNEL)
			return -DMABRIDGE_ENOREADONLY;
		uflags |= DMABRIDGE_UDMABUF_FLAGS_READONLY;
	}
	if (flags & DMABRIDGE_UDMABUF_CLOEXEC)
		uflags |= UDMABUF_FLAGS_CLOEXEC;

	if (!(flags & DMABRIDGE_UDMABUF_UNCHECKED)) {
		for (i = 0; i < count; i++) {
			ret = check_range(&ranges[i], readonly);
			if (ret)
				return ret;
			if (ranges[i].size > UINT64_MAX - total)
				return -EOVERFLOW;
			total += ranges[i].size;
		}
	}

	if (count == 1 && !(flags & DMABRIDGE_UDMABUF_LIST)) {
		struct udmabuf_create create = {
			.memfd = (uint32_t)ranges[0].memfd,
			.flags = uflags,
			.offset = ranges[0].offset,
			.size = ranges[0].size,
		};

		fd = ioctl(devfd, UDMABUF_CREATE, &create);
		if (fd < 0)
			return -errno;
	} else {
		if (count > (SIZE_MAX - sizeof(*list)) / sizeof(list->list[0]))
			return -ENOMEM;
		list = calloc(1, sizeof(*list) + count * sizeof(list->list[0]));
		if (!list)
			return -ENOMEM;
		list->flags = uflags;
		list->count = (uint32_t)count;
		for (i = 0; i < count; i++) {
			list->list[i].memfd = (uint32_t)ranges[i].memfd;
			list->list[i].offset = ranges[i].offset;
			list->list[i].size = ranges[i].size;
		}
		fd = ioctl(devfd, UDMABUF_CREATE_LIST, list);
		ret = -errno;
		free(list);
		if (fd < 0)
			return ret;
	}

	if (readonly && kind != DMABRIDGE_UDMABUF_KIND_DMABRIDGE &&
	    !refuses_write_mapping(fd)) {
		close(fd);
		return -DMABRIDGE_ENOREADONLY;
	}
	return fd;
}
