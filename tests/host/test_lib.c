// SPDX-License-Identifier: GPL-2.0
/*
 * Library calls that need no dma-buf driver: memfds, the checks
 * dmabridge_udmabuf_create() makes before the ioctl (with /dev/null
 * standing in for the device, so a call that passes them ends in
 * ENOTTY), dma-buf calls on files that are not dma-bufs, and telling the
 * udmabuf drivers apart in a fake sysfs tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"
#include "tests.h"

static void memfds(void)
{
	uint64_t page = dmb_page_size(), huge;
	struct stat st;
	int fd, seals, ret;

	fd = dmabridge_memfd_create("host-test", 3 * page, DMABRIDGE_MEMFD_CLOEXEC);
	ok(fd >= 0, "memfd_create 3 pages: %s", dmabridge_strerror(fd < 0 ? fd : 0));
	if (fd < 0)
		return;
	ok(fstat(fd, &st) == 0 && (uint64_t)st.st_size == 3 * page,
	   "memfd has the size asked for");
	seals = fcntl(fd, F_GET_SEALS);
	is(seals, F_SEAL_SHRINK | F_SEAL_GROW, "sealed against resizing only");
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "DMABRIDGE_MEMFD_CLOEXEC honoured");
	ok(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0,
	   "a write seal can still be added");
	close(fd);

	fd = dmabridge_memfd_create(NULL, page, 0);
	ok(fd >= 0 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC),
	   "no CLOEXEC unless asked, NULL name");
	if (fd >= 0)
		close(fd);

	is(dmabridge_memfd_create("x", 0, 0), -EINVAL, "size 0");
	is(dmabridge_memfd_create("x", page, 1U << 7), -EINVAL, "unknown flag");
	is(dmabridge_memfd_create("x", UINT64_MAX, 0), -EFBIG, "size 2^64-1");

	ret = dmabridge_hugepage_size(&huge);
	if (ret) {
		tap_skip("no huge pages on this kernel", "hugetlb alignment");
		return;
	}
	is(dmabridge_memfd_create("x", page, DMABRIDGE_MEMFD_HUGETLB),
	   -DMABRIDGE_EALIGN, "hugetlb memfd of one small page");
}

static int device_stand_in(void)
{
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

static void create_checks(void)
{
	uint64_t page = dmb_page_size();
	struct dmabridge_range r[2];
	char path[] = "/tmp/dmabridge-host-XXXXXX";
	int dev, memfd, memfd2, plain, pipefd[2], unsealed;

	dev = device_stand_in();
	memfd = dmabridge_memfd_create("a", 4 * page, DMABRIDGE_MEMFD_CLOEXEC);
	memfd2 = dmabridge_memfd_create("b", 4 * page, DMABRIDGE_MEMFD_CLOEXEC);
	if (!ok(dev >= 0 && memfd >= 0 && memfd2 >= 0, "fixtures"))
		return;

	r[0] = (struct dmabridge_range){ memfd, 0, 4 * page };
	r[1] = (struct dmabridge_range){ memfd2, page, 2 * page };
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -ENOTTY,
	   "a valid range reaches the ioctl (ENOTTY from /dev/null)");
	is(dmabridge_udmabuf_create(dev, r, 2, DMABRIDGE_UDMABUF_CLOEXEC), -ENOTTY,
	   "a valid list reaches the ioctl");
	is(dmabridge_udmabuf_create(dev, r, 1, DMABRIDGE_UDMABUF_LIST), -ENOTTY,
	   "forced list of one reaches the ioctl");
	is(dmabridge_udmabuf_create(dev, r, 0, 0), -EINVAL, "count 0");
	is(dmabridge_udmabuf_create(dev, NULL, 1, 0), -EINVAL, "NULL ranges");
	is(dmabridge_udmabuf_create(dev, r, 1, 1U << 9), -EINVAL, "unknown flag");
	is(dmabridge_udmabuf_create(dev, r, 0, DMABRIDGE_UDMABUF_UNCHECKED), -ENOTTY,
	   "UNCHECKED passes count 0 to the kernel");

	r[0].offset = page / 2;
	r[0].size = page;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_EALIGN,
	   "unaligned offset");
	is(dmabridge_udmabuf_create(dev, r, 1, DMABRIDGE_UDMABUF_UNCHECKED),
	   -ENOTTY, "UNCHECKED skips the alignment check");
	r[0].offset = 0;
	r[0].size = page + 1;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_EALIGN,
	   "unaligned size");
	r[0].size = 0;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_ERANGE, "empty range");
	r[0].offset = 2 * page;
	r[0].size = 3 * page;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_ERANGE,
	   "range past the end");
	r[0].offset = UINT64_MAX - page + 1;
	r[0].size = 2 * page;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_ERANGE,
	   "offset + size wraps around");
	r[0].offset = 0;
	r[0].size = page;
	r[1].offset = 4 * page;
	is(dmabridge_udmabuf_create(dev, r, 2, 0), -DMABRIDGE_ERANGE,
	   "the second range is checked too");
	r[1].offset = 0;

	r[0].memfd = -1;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -EBADF, "negative memfd");
	r[0].memfd = 1000000;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -EBADF, "closed memfd");

	plain = mkstemp(path);
	if (plain >= 0) {
		unlink(path);
		ok(ftruncate(plain, (off_t)page) == 0, "plain file fixture");
		r[0].memfd = plain;
		is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_ENOTMEMFD,
		   "a file in /tmp is no memfd (tmpfs or not)");
		close(plain);
	}
	if (pipe(pipefd) == 0) {
		r[0].memfd = pipefd[0];
		is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_ENOTMEMFD,
		   "a pipe is no memfd");
		close(pipefd[0]);
		close(pipefd[1]);
	}

	unsealed = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ok(unsealed >= 0 && ftruncate(unsealed, (off_t)page) == 0,
	       "unsealed memfd fixture")) {
		r[0].memfd = unsealed;
		is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_ENOSEAL,
		   "memfd without F_SEAL_SHRINK");
		fcntl(unsealed, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
		is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_EWRITESEALED,
		   "F_SEAL_FUTURE_WRITE needs a read-only buffer");
		close(unsealed);
	}

	ok(fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "write-seal memfd a");
	r[0].memfd = memfd;
	is(dmabridge_udmabuf_create(dev, r, 1, 0), -DMABRIDGE_EWRITESEALED,
	   "F_SEAL_WRITE needs a read-only buffer");
	/* /dev/null is no udmabuf of either kind: the library asks the kernel. */
	is(dmabridge_udmabuf_create(dev, r, 1, DMABRIDGE_UDMABUF_READONLY), -ENOTTY,
	   "read-only accepts a write-sealed memfd");

	close(memfd);
	close(memfd2);
	close(dev);
}

static void not_dmabufs(void)
{
	struct dmabridge_dmabuf_info info;
	uint64_t size;
	size_t len;
	void *addr;
	int memfd = dmabridge_memfd_create("nd", dmb_page_size(), DMABRIDGE_MEMFD_CLOEXEC);

	if (!ok(memfd >= 0, "memfd fixture"))
		return;
	is(dmabridge_dmabuf_size(memfd, &size), -DMABRIDGE_ENOTDMABUF,
	   "size of a memfd");
	is(dmabridge_dmabuf_map(memfd, DMABRIDGE_ACCESS_READ, &addr, &len),
	   -DMABRIDGE_ENOTDMABUF, "map of a memfd");
	is(dmabridge_dmabuf_map(memfd, 0, &addr, &len), -EINVAL, "map access 0");
	is(dmabridge_dmabuf_map(memfd, 4, &addr, &len), -EINVAL,
	   "map unknown access");
	is(dmabridge_dmabuf_begin_cpu_access(memfd, DMABRIDGE_ACCESS_RW), -ENOTTY,
	   "sync of a memfd");
	is(dmabridge_dmabuf_end_cpu_access(memfd, 0), -EINVAL, "sync access 0");
	is(dmabridge_dmabuf_set_name(memfd, "0123456789012345678901234567890"),
	   -ENOTTY, "31-byte name reaches the ioctl");
	is(dmabridge_dmabuf_set_name(memfd, "01234567890123456789012345678901"),
	   -ENAMETOOLONG, "32-byte name");
	is(dmabridge_dmabuf_set_name(memfd, NULL), -EINVAL, "NULL name");
	is(dmabridge_dmabuf_query(0, memfd, &info), -DMABRIDGE_ENOTDMABUF,
	   "query of a memfd");
	is(dmabridge_dmabuf_query(0, 1000000, &info), -EBADF, "query of a closed fd");
	is(dmabridge_dmabuf_query(0, -1, &info), -EINVAL, "query of fd -1");
	is(dmabridge_dmabuf_query(getpid(), 1000000, &info), -EBADF,
	   "query of a closed fd by pid");
	is(dmabridge_dmabuf_query(getpid(), memfd, &info), -DMABRIDGE_ENOTDMABUF,
	   "query of a memfd by pid");
	is(dmabridge_dmabuf_query(INT_MAX, 0, &info), -ESRCH,
	   "query of a process that does not exist");
	is(dmabridge_dmabuf_size(1000000, &size), -EBADF, "size of a closed fd");
	close(memfd);

	is(dmabridge_udmabuf_open("/nonexistent/udmabuf"), -ENOENT,
	   "open of a missing path");
	is(dmabridge_udmabuf_kind(0) == -ENOTTY || dmabridge_udmabuf_kind(0) >= 0, 1,
	   "kind of stdin does not crash");
}

/* mkdir -p */
static int mkdirs(const char *path)
{
	char buf[512];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		buf[i] = path[i];
	}
	return 0;
}

/* Build a file under the fake root, with its directories. */
static int put(const char *root, const char *rel, const char *content)
{
	char path[512];
	FILE *f;
	char *slash;

	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path))
		return -1;
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdirs(path))
		return -1;
	*slash = '/';
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

/* Point the fake /sys/dev/char/MAJ:MIN at a misc device named @target. */
static int link_dev(const char *root, unsigned int maj, unsigned int min,
		    const char *target)
{
	char path[512], dir[512];

	snprintf(dir, sizeof(dir), "%s/sys/devices/virtual/misc/%s", root, target);
	snprintf(path, sizeof(path), "%s/sys/dev/char", root);
	if (mkdirs(dir) || mkdirs(path))
		return -1;
	snprintf(path, sizeof(path), "%s/sys/dev/char/%u:%u", root, maj, min);
	unlink(path);
	snprintf(dir, sizeof(dir), "../../devices/virtual/misc/%s", target);
	return symlink(dir, path);
}

static void kinds(void)
{
	char root[] = "/tmp/dmabridge-sysroot-XXXXXX", cmd[128], path[512];
	struct dmabridge_udmabuf_limits lim;
	struct stat st;
	unsigned int maj, min;
	struct dmabridge_range r;
	int dev, memfd;

	dev = device_stand_in();
	if (!ok(dev >= 0 && mkdtemp(root) && fstat(dev, &st) == 0, "fake sysfs root"))
		return;
	maj = major(st.st_rdev);
	min = minor(st.st_rdev);
	dmb_sysroot = root;

	is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_UNKNOWN,
	   "empty sysfs: unknown");
	is(dmabridge_udmabuf_limits(dev, &lim), -ENOENT, "unknown: no limits");

	link_dev(root, maj, min, "udmabuf");
	is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_UNKNOWN,
	   "misc 'udmabuf' with no module known: unknown");

	put(root, "sys/module/dmabridge_udmabuf/parameters/list_limit", "16\n");
	put(root, "sys/module/dmabridge_udmabuf/parameters/size_limit_mb", "8\n");
	is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_DMABRIDGE,
	   "misc 'udmabuf', only dmabridge_udmabuf loaded: dmabridge's compat node");
	ok(!dmabridge_udmabuf_limits(dev, &lim) && lim.list_limit == 16 &&
	   lim.size_limit == 8 << 20, "dmabridge limits read");

	put(root, "sys/module/udmabuf/parameters/list_limit", "1024\n");
	is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_KERNEL,
	   "misc 'udmabuf' with the kernel's module present: kernel");
	ok(!dmabridge_udmabuf_limits(dev, &lim) && lim.list_limit == 1024 &&
	   lim.size_limit == 0, "kernel limits read, missing size_limit_mb is 0");

	memfd = dmabridge_memfd_create("k", dmb_page_size(), DMABRIDGE_MEMFD_CLOEXEC);
	r = (struct dmabridge_range){ memfd, 0, dmb_page_size() };
	is(dmabridge_udmabuf_create(dev, &r, 1, DMABRIDGE_UDMABUF_READONLY),
	   -DMABRIDGE_ENOREADONLY, "read-only refused on the kernel's udmabuf");
	is(dmabridge_udmabuf_create(dev, &r, 1, 0), -ENOTTY,
	   "writable is fine on the kernel's udmabuf");
	close(memfd);

	link_dev(root, maj, min, "dmabridge-udmabuf");
	is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_DMABRIDGE,
	   "misc 'dmabridge-udmabuf': dmabridge");

	link_dev(root, maj, min, "something-else");
	is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_UNKNOWN,
	   "other misc device: unknown");

	snprintf(path, sizeof(path), "%s/dev", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s" DMABRIDGE_UDMABUF_DEVICE, root);
	if (mknod(path, S_IFCHR | 0600, st.st_rdev) == 0)
		is(dmabridge_udmabuf_kind(dev), DMABRIDGE_UDMABUF_KIND_DMABRIDGE,
		   "same device number as /dev/dmabridge-udmabuf: dmabridge");
	else
		tap_skip("mknod needs root", "device number match");

	dmb_sysroot = "";
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		tap_diag("could not remove %s", root);
	close(dev);
}

/* The page directory's size, whole pages of 1023 refs, at the extremes. */
static void pgdir_sizes(void)
{
	is(dmabridge_xen_pgdir_pages(0), 0, "pgdir: no refs, no page");
	is(dmabridge_xen_pgdir_pages(1), 1, "pgdir: one ref, one page");
	is(dmabridge_xen_pgdir_pages(1023), 1, "pgdir: 1023 refs fill a page");
	is(dmabridge_xen_pgdir_pages(1024), 2, "pgdir: 1024 refs take two");
	is(dmabridge_xen_pgdir_pages(UINT32_MAX), 4198405,
	   "pgdir: the most refs there can be do not wrap to 0 pages");
}

void test_lib(void)
{
	is_str(dmabridge_version(), "0.1.0", "version string");
	memfds();
	create_checks();
	not_dmabufs();
	kinds();
	pgdir_sizes();
}
