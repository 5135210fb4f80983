// SPDX-License-Identifier: LGPL-2.1-or-later
/* Generic dma-buf access: size, mapping, CPU access, naming, fdinfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/magic.h>

#include "internal.h"

/* Older headers call the pointer-sized variant DMA_BUF_SET_NAME only. */
#ifndef DMA_BUF_SET_NAME_B
#define DMA_BUF_SET_NAME_B DMA_BUF_SET_NAME
#endif

static int check_dmabuf(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	if (sfs.f_type != DMA_BUF_MAGIC)
		return -DMABRIDGE_ENOTDMABUF;
	return 0;
}

int dmabridge_dmabuf_size(int fd, uint64_t *size)
{
	off_t end;
	int ret;

	ret = check_dmabuf(fd);
	if (ret)
		return ret;
	/* dma-buf's llseek reports the size and leaves the position alone. */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	*size = (uint64_t)end;
	return 0;
}

int dmabridge_dmabuf_map(int fd, unsigned int access, void **addr,
			 size_t *size)
{
	uint64_t len;
	void *p;
	int prot = 0, ret;

	if (!access || (access & ~DMABRIDGE_ACCESS_RW))
		return -EINVAL;
	ret = dmabridge_dmabuf_size(fd, &len);
	if (ret)
		return ret;
	if (len == 0)
		return -EINVAL;
	if (len > SIZE_MAX)
		return -EOVERFLOW;
	if (access & DMABRIDGE_ACCESS_READ)
		prot |= PROT_READ;
	if (access & DMABRIDGE_ACCESS_WRITE)
		prot |= PROT_WRITE;
	p = mmap(NULL, (size_t)len, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	*size = (size_t)len;
	return 0;
}

int dmabridge_dmabuf_unmap(void *addr, size_t size)
{
	if (munmap(addr, size) < 0)
		return -errno;
	return 0;
}

int dmb_sync_flags(unsigned int access)
{
	int flags = 0;

	if (!access || (access & ~DMABRIDGE_ACCESS_RW))
		return -EINVAL;
	if (access & DMABRIDGE_ACCESS_READ)
		flags |= DMA_BUF_SYNC_READ;
	if (access & DMABRIDGE_ACCESS_WRITE)
		flags |= DMA_BUF_SYNC_WRITE;
	return flags;
}

static int cpu_access(int fd, unsigned int access, uint64_t when)
{
	int flags = dmb_sync_flags(access);
	struct dma_buf_sync sync = { .flags = when };

	if (flags < 0)
		return flags;
	sync.flags |= (uint64_t)flags;
	/* Waiting for fences may be interrupted; the bracket must not be lost. */
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int dmabridge_dmabuf_begin_cpu_access(int fd, unsigned int access)
{
	return cpu_access(fd, access, DMA_BUF_SYNC_START);
}

int dmabridge_dmabuf_end_cpu_access(int fd, unsigned int access)
{
	return cpu_access(fd, access, DMA_BUF_SYNC_END);
}

int dmabridge_dmabuf_set_name(int fd, const char *name)
{
	if (!name)
		return -EINVAL;
	if (strlen(name) >= DMABRIDGE_NAME_MAX)
		return -ENAMETOOLONG;
	if (ioctl(fd, DMA_BUF_SET_NAME_B, name) < 0)
		return -errno;
	return 0;
}

static int parse_number(const char *s, int base, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s)
		return -EINVAL;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static void copy_field(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * fdinfo is "key:<tab>value" lines.  The first line with a key wins: a
 * buffer name may contain a newline, and the name comes last, so a name
 * cannot override what the kernel printed before it.
 */
int dmb_parse_fdinfo(const char *text, struct dmabridge_dmabuf_info *info)
{
	const char *line = text;
	char buf[256];

	memset(info, 0, sizeof(*info));
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *colon, *val;
		uint64_t num;

		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl ? nl + 1 : line + strlen(line);

		colon = strchr(buf, ':');
		if (!colon)
			continue;
		*colon = '\0';
		val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		len = strlen(val);
		while (len && (val[len - 1] == '\r' || val[len - 1] == ' ' ||
			       val[len - 1] == '\t'))
			val[--len] = '\0';

		if (!strcmp(buf, "size") && !(info->fields & DMABRIDGE_INFO_SIZE)) {
			if (!parse_number(val, 10, &num)) {
				info->size = num;
				info->fields |= DMABRIDGE_INFO_SIZE;
			}
		} else if (!strcmp(buf, "count") &&
			   !(info->fields & DMABRIDGE_INFO_COUNT)) {
			if (!parse_number(val, 10, &num)) {
				info->count = num;
				info->fields |= DMABRIDGE_INFO_COUNT;
			}
		} else if (!strcmp(buf, "ino") &&
			   !(info->fields & DMABRIDGE_INFO_INODE)) {
			if (!parse_number(val, 10, &num)) {
				info->inode = num;
				info->fields |= DMABRIDGE_INFO_INODE;
			}
		} else if (!strcmp(buf, "flags") &&
			   !(info->fields & DMABRIDGE_INFO_FLAGS)) {
			if (!parse_number(val, 8, &num) && num <= UINT_MAX) {
				info->flags = (unsigned int)num;
				info->fields |= DMABRIDGE_INFO_FLAGS;
			}
		} else if (!strcmp(buf, "exp_name") &&
			   !(info->fields & DMABRIDGE_INFO_EXP_NAME)) {
			copy_field(info->exp_name, sizeof(info->exp_name), val);
			info->fields |= DMABRIDGE_INFO_EXP_NAME;
		} else if (!strcmp(buf, "name") &&
			   !(info->fields & DMABRIDGE_INFO_NAME)) {
			copy_field(info->name, sizeof(info->name), val);
			info->fields |= DMABRIDGE_INFO_NAME;
		}
	}
	if (!(info->fields & DMABRIDGE_INFO_EXP_NAME)) {
		memset(info, 0, sizeof(*info));
		return -DMABRIDGE_ENOTDMABUF;
	}
	return 0;
}

int dmabridge_dmabuf_query(pid_t pid, int fd,
			   struct dmabridge_dmabuf_info *info)
{
	char path[64], text[4096], pidstr[24];
	struct stat st;
	ssize_t n;
	int ret;

	if (fd < 0 || pid < 0)
		return -EINVAL;
	if (pid == 0) {
		if (fcntl(fd, F_GETFD) < 0)
			return -errno;
		snprintf(pidstr, sizeof(pidstr), "self");
	} else {
		snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	}

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%d", pidstr, fd);
	n = dmb_read_file(path, text, sizeof(text));
	if (n == -ENOENT && pid != 0) {
		snprintf(path, sizeof(path), "/proc/%s", pidstr);
		if (access(path, F_OK) == 0)
			return -EBADF;
		if (access("/proc/self", F_OK) == 0)
			return -ESRCH;
		return -ENOENT;
	}
	if (n < 0)
		return (int)n;
	ret = dmb_parse_fdinfo(text, info);
	if (ret)
		return ret;

	/* Kernels before 5.14 print no "ino:"; the fd link still has it. */
	if (!(info->fields & DMABRIDGE_INFO_INODE)) {
		snprintf(path, sizeof(path), "/proc/%s/fd/%d", pidstr, fd);
		if (stat(path, &st) == 0) {
			info->inode = st.st_ino;
			info->fields |= DMABRIDGE_INFO_INODE;
		}
	}
	return 0;
}
