// SPDX-License-Identifier: LGPL-2.1-or-later
/* Small file-reading helpers and library-wide facts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *dmb_sysroot = "";

const char *dmabridge_version(void)
{
	return STR(DMABRIDGE_VERSION_MAJOR) "." STR(DMABRIDGE_VERSION_MINOR)
		"." STR(DMABRIDGE_VERSION_PATCH);
}

int dmb_sys_path(char *buf, size_t len, const char *fmt, ...)
{
	size_t root = strlen(dmb_sysroot);
	va_list ap;
	int n;

	if (root >= len)
		return -ENAMETOOLONG;
	memcpy(buf, dmb_sysroot, root);
	va_start(ap, fmt);
	n = vsnprintf(buf + root, len - root, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - root)
		return -ENAMETOOLONG;
	return 0;
}

int dmb_sys_exists(const char *fmt, const char *arg)
{
	char path[PATH_MAX];
	struct stat st;

	if (dmb_sys_path(path, sizeof(path), fmt, arg))
		return 0;
	return stat(path, &st) == 0;
}

uint64_t dmb_page_size(void)
{
	long sz = sysconf(_SC_PAGESIZE);

	return sz > 0 ? (uint64_t)sz : 4096;
}

ssize_t dmb_read_file(const char *path, char *buf, size_t len)
{
	size_t done = 0;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len - 1) {
		ssize_t n = read(fd, buf + done, len - 1 - done);

		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	buf[done] = '\0';
	return (ssize_t)done;
}

ssize_t dmb_read_line(const char *path, char *buf, size_t len)
{
	ssize_t n = dmb_read_file(path, buf, len);

	if (n < 0)
		return n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return n;
}

int dmb_read_u64(const char *path, uint64_t *val)
{
	char buf[32], *end;
	unsigned long long v;
	ssize_t n;

	n = dmb_read_line(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n == 0 || buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end != '\0')
		return -EINVAL;
	*val = v;
	return 0;
}
