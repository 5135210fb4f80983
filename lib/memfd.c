// SPDX-License-Identifier: LGPL-2.1-or-later
/* Sealed memfds, the memory that udmabufs are made of. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int dmb_parse_hugepagesize(const char *meminfo, uint64_t *size)
{
	static const char key[] = "Hugepagesize:";
	const char *p = meminfo;
	unsigned long long kb;
	char *end;

	while (p && *p) {
		if (!strncmp(p, key, sizeof(key) - 1)) {
			p += sizeof(key) - 1;
			while (*p == ' ' || *p == '\t')
				p++;
			errno = 0;
			kb = strtoull(p, &end, 10);
			if (errno || end == p || kb == 0 ||
			    kb > UINT64_MAX / 1024)
				return -EINVAL;
			while (*end == ' ')
				end++;
			if (strncmp(end, "kB", 2))
				return -EINVAL;
			*size = (uint64_t)kb * 1024;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

int dmabridge_hugepage_size(uint64_t *size)
{
	char text[8192];
	ssize_t n;

	n = dmb_read_file("/proc/meminfo", text, sizeof(text));
	if (n < 0)
		return (int)n;
	return dmb_parse_hugepagesize(text, size);
}

int dmabridge_memfd_create(const char *name, uint64_t size, unsigned int flags)
{
	unsigned int mfd_flags = MFD_ALLOW_SEALING;
	uint64_t align;
	int fd, ret;

	if (flags & ~(DMABRIDGE_MEMFD_CLOEXEC | DMABRIDGE_MEMFD_HUGETLB))
		return -EINVAL;
	if (size == 0)
		return -EINVAL;
	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	if (flags & DMABRIDGE_MEMFD_CLOEXEC)
		mfd_flags |= MFD_CLOEXEC;
	if (flags & DMABRIDGE_MEMFD_HUGETLB) {
		ret = dmabridge_hugepage_size(&align);
		if (ret)
			return ret == -ENOENT ? -EOPNOTSUPP : ret;
		if (size % align)
			return -DMABRIDGE_EALIGN;
		mfd_flags |= MFD_HUGETLB;
	}

	fd = memfd_create(name ? name : "dmabridge", mfd_flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		goto fail;
	return fd;

fail:
	ret = -errno;
	close(fd);
	return ret;
}
