// SPDX-License-Identifier: GPL-2.0
/* dmabridge udmabuf create / inspect. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmabridge.h"
#include "cli.h"

static const char udmabuf_usage[] =
"Usage: dmabridge udmabuf COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  create --size SIZE [...]   create a udmabuf (see 'create --help')\n"
"  inspect FD|/proc/PID/fd/N  show a dma-buf's fdinfo\n";

static const char create_usage[] =
"Usage: dmabridge udmabuf create --size SIZE [OPTIONS]\n"
"\n"
"Create memfds, make a udmabuf of them, optionally fill and verify it,\n"
"and print the buffer's fdinfo.  The buffer lives as long as this\n"
"process, or as long as the --exec command that inherits it.\n"
"\n"
"Options:\n"
"  -s, --size SIZE     total size: bytes, 0xHEX, or with a binary suffix\n"
"                      K/KiB, M/MiB, G/GiB, T/TiB (1K = 1024)\n"
"  -l, --list N        build the buffer from N memfds of SIZE/N bytes each\n"
"                      with UDMABUF_CREATE_LIST (without it: one memfd,\n"
"                      UDMABUF_CREATE)\n"
"      --hugetlb       back the memfds with huge pages (SIZE/N a multiple\n"
"                      of the huge page size; see /proc/sys/vm/nr_hugepages)\n"
"      --readonly      seal the memfds against writing and make a\n"
"                      read-only buffer (needs dmabridge's udmabuf)\n"
"  -n, --name NAME     set the dma-buf's name (< 32 bytes)\n"
"  -f, --fill BYTE     fill the memory with BYTE through the memfds\n"
"      --verify        check that the memfds and the dma-buf mapping share\n"
"                      their bytes, both ways (fills with 0xa5 unless\n"
"                      --fill is given; read-only: one way, and checks\n"
"                      that a writable mapping is refused)\n"
"  -d, --device PATH   udmabuf device (default: /dev/dmabridge-udmabuf,\n"
"                      else /dev/udmabuf)\n"
"  -e, --exec CMD      run CMD with /bin/sh with the buffer inherited; its\n"
"                      fd number is in $DMABRIDGE_FD and its size in\n"
"                      $DMABRIDGE_SIZE.  The exit status is CMD's.\n"
"  -h, --help          show this help\n";

static const char inspect_usage[] =
"Usage: dmabridge udmabuf inspect [--raw] FD|/proc/PID/fd/N\n"
"\n"
"Show size, exporter, name, inode, references and access mode of a\n"
"dma-buf (any exporter), from /proc/PID/fdinfo.  FD is a descriptor of\n"
"this process (one it inherited); /proc/PID/fd/N one of another process.\n"
"\n"
"Options:\n"
"      --raw    print the kernel's fdinfo text unchanged\n"
"  -h, --help   show this help\n";

#define VERIFY_STAMP 0xdb0f000000000000ULL

static void print_info(int fd, const struct dmabridge_dmabuf_info *info)
{
	char buf[48];

	printf("fd: %d\n", fd);
	if (info->fields & DMABRIDGE_INFO_SIZE) {
		format_size(info->size, buf, sizeof(buf));
		printf("size: %" PRIu64 " (%s)\n", info->size, buf);
	}
	printf("exporter: %s\n", info->exp_name);
	if (info->fields & DMABRIDGE_INFO_NAME)
		printf("name: %s\n", info->name);
	else
		printf("name: (none)\n");
	if (info->fields & DMABRIDGE_INFO_INODE)
		printf("inode: %" PRIu64 "\n", info->inode);
	if (info->fields & DMABRIDGE_INFO_COUNT)
		printf("references: %" PRIu64 "\n", info->count);
	if (info->fields & DMABRIDGE_INFO_FLAGS) {
		unsigned int acc = info->flags & O_ACCMODE;

		printf("access: %s\n", acc == O_RDONLY ? "read-only" :
		       acc == O_WRONLY ? "write-only" : "read-write");
		printf("cloexec: %s\n", info->flags & O_CLOEXEC ? "yes" : "no");
	}
}

/* Map a whole memfd, or fail with a message. */
static void *map_memfd(int memfd, uint64_t size, int prot)
{
	void *p = mmap(NULL, (size_t)size, prot, MAP_SHARED, memfd, 0);

	if (p == MAP_FAILED) {
		errmsg("cannot map memfd: %s", strerror(errno));
		return NULL;
	}
	return p;
}

static int fill_memfds(const int *memfds, unsigned int n, uint64_t item,
		       unsigned char byte)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		void *p = map_memfd(memfds[i], item, PROT_READ | PROT_WRITE);

		if (!p)
			return -1;
		memset(p, byte, (size_t)item);
		munmap(p, (size_t)item);
	}
	return 0;
}

/* First offset in [p, p+len) whose byte differs from @byte, or -1. */
static int64_t find_mismatch(const unsigned char *p, size_t len,
			     unsigned char byte)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != byte)
			return (int64_t)i;
	return -1;
}

/*
 * memfd -> dma-buf: every byte of the mapping is @byte.  dma-buf -> memfd
 * (writable buffers): a stamp written at the start of each page through
 * the dma-buf shows up in the right memfd at the right place, in order.
 */
static int verify(int fd, const int *memfds, unsigned int n, uint64_t item,
		  unsigned char byte, int readonly)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pages, pg;
	unsigned char *map;
	size_t size;
	int64_t bad;
	void *addr;
	unsigned int i;
	int ret;

	ret = dmabridge_dmabuf_map(fd, readonly ? DMABRIDGE_ACCESS_READ
						: DMABRIDGE_ACCESS_RW,
				   &addr, &size);
	if (ret) {
		errmsg("verify: cannot map the dma-buf: %s",
		       dmabridge_strerror(ret));
		return -1;
	}
	map = addr;
	if (size != item * n) {
		errmsg("verify: dma-buf is %zu bytes, expected %" PRIu64,
		       size, item * n);
		goto fail;
	}
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_READ, 1, "verify: "))
		goto fail;
	bad = find_mismatch(map, size, byte);
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_READ, 0, "verify: "))
		goto fail;
	if (bad >= 0) {
		errmsg("verify: dma-buf byte %" PRId64 " is 0x%02x, memfd wrote 0x%02x",
		       bad, map[bad], byte);
		goto fail;
	}
	printf("verify: memfd -> dma-buf: %zu bytes of 0x%02x ok\n", size, byte);

	if (readonly) {
		void *w;
		size_t wsize;

		ret = dmabridge_dmabuf_map(fd, DMABRIDGE_ACCESS_RW, &w, &wsize);
		if (!ret) {
			dmabridge_dmabuf_unmap(w, wsize);
			errmsg("verify: read-only buffer allowed a writable mapping");
			goto fail;
		}
		printf("verify: writable mapping refused (%s) ok\n",
		       dmabridge_strerror(ret));
		dmabridge_dmabuf_unmap(addr, size);
		return 0;
	}

	pages = size / page;
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_WRITE, 1, "verify: "))
		goto fail;
	for (pg = 0; pg < pages; pg++) {
		uint64_t stamp = VERIFY_STAMP | pg;

		memcpy(map + pg * page, &stamp, sizeof(stamp));
	}
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_WRITE, 0, "verify: "))
		goto fail;

	for (i = 0; i < n; i++) {
		unsigned char *m = map_memfd(memfds[i], item, PROT_READ);
		uint64_t first = i * (item / page);

		if (!m)
			goto fail;
		for (pg = 0; pg < item / page; pg++) {
			uint64_t got, want = VERIFY_STAMP | (first + pg);

			memcpy(&got, m + pg * page, sizeof(got));
			if (got != want || m[pg * page + sizeof(got)] != byte) {
				errmsg("verify: memfd %u page %" PRIu64
				       " has 0x%016" PRIx64 ", dma-buf wrote 0x%016" PRIx64,
				       i, pg, got, want);
				munmap(m, (size_t)item);
				goto fail;
			}
		}
		munmap(m, (size_t)item);
	}
	printf("verify: dma-buf -> memfd: %" PRIu64 " page stamps in order ok\n",
	       pages);

	/* Put the fill back so an --exec command sees what was asked for. */
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_WRITE, 1, "verify: "))
		goto fail;
	for (pg = 0; pg < pages; pg++)
		memset(map + pg * page, byte, sizeof(uint64_t));
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_WRITE, 0, "verify: "))
		goto fail;
	dmabridge_dmabuf_unmap(addr, size);
	return 0;

fail:
	dmabridge_dmabuf_unmap(addr, size);
	return -1;
}

/* The path an fd was opened by, for messages. */
static const char *fd_path(int fd, char *buf, size_t len)
{
	char link[32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n <= 0)
		return "?";
	buf[n] = '\0';
	return buf;
}

static void explain_create_error(int err, int devfd,
				 const struct create_opts *o)
{
	struct dmabridge_udmabuf_limits lim;

	errmsg("cannot create the udmabuf: %s", dmabridge_strerror(err));
	if (err == -EINVAL && !dmabridge_udmabuf_limits(devfd, &lim)) {
		char buf[48];

		format_size(lim.size_limit, buf, sizeof(buf));
		errmsg("the driver's limits: %" PRIu64 " ranges, %s per buffer",
		       lim.list_limit, lim.size_limit ? buf : "unknown size");
	}
	if (err == -ENOMEM && o->hugetlb)
		errmsg("are there enough free huge pages? "
		       "(HugePages_Free in /proc/meminfo, /proc/sys/vm/nr_hugepages)");
}

static int cmd_create(int argc, char **argv)
{
	struct dmabridge_dmabuf_info info;
	struct dmabridge_range *ranges = NULL;
	struct create_opts o;
	uint64_t item, hugepage = 0;
	unsigned int n, i, created = 0, flags;
	int *memfds = NULL, devfd = -1, fd = -1, ret, rc = EXIT_RUNTIME;
	const char *kind;
	char err[256];

	ret = parse_outcome(parse_create(argc, argv, &o, err, sizeof(err)),
			    create_usage, "udmabuf create", err);
	if (ret >= 0)
		return ret;
	if (o.hugetlb)
		dmabridge_hugepage_size(&hugepage);
	if (check_create(&o, (uint64_t)sysconf(_SC_PAGESIZE), hugepage, &item,
			 err, sizeof(err))) {
		errmsg("udmabuf create: %s", err);
		return EXIT_USAGE;
	}
	if (item > SIZE_MAX) {
		errmsg("udmabuf create: ranges too large for this machine");
		return EXIT_USAGE;
	}
	if (o.verify && !o.fill_set) {
		o.fill = 0xa5;
		o.fill_set = 1;
	}
	n = o.list ? o.list : 1;

	devfd = dmabridge_udmabuf_open(o.device);
	if (devfd < 0) {
		errmsg("cannot open %s: %s",
		       o.device ? o.device : "a udmabuf device",
		       dmabridge_strerror(devfd));
		return EXIT_RUNTIME;
	}
	switch (dmabridge_udmabuf_kind(devfd)) {
	case DMABRIDGE_UDMABUF_KIND_KERNEL: kind = "kernel udmabuf"; break;
	case DMABRIDGE_UDMABUF_KIND_DMABRIDGE: kind = "dmabridge_udmabuf"; break;
	default: kind = "unknown driver"; break;
	}

	memfds = calloc(n, sizeof(*memfds));
	ranges = calloc(n, sizeof(*ranges));
	if (!memfds || !ranges) {
		errmsg("out of memory");
		goto out;
	}
	for (created = 0; created < n; created++) {
		ret = dmabridge_memfd_create("dmabridge-cli", item,
					     DMABRIDGE_MEMFD_CLOEXEC |
					     (o.hugetlb ? DMABRIDGE_MEMFD_HUGETLB : 0));
		if (ret < 0) {
			errmsg("cannot create memfd: %s", dmabridge_strerror(ret));
			goto out;
		}
		memfds[created] = ret;
		ranges[created] = (struct dmabridge_range){
			.memfd = ret, .offset = 0, .size = item,
		};
	}
	if (o.fill_set && fill_memfds(memfds, n, item, o.fill))
		goto out;
	if (o.readonly) {
		for (i = 0; i < n; i++) {
			if (fcntl(memfds[i], F_ADD_SEALS, F_SEAL_WRITE) < 0) {
				errmsg("cannot seal memfd against writes: %s",
				       strerror(errno));
				goto out;
			}
		}
	}

	flags = DMABRIDGE_UDMABUF_CLOEXEC;
	if (o.readonly)
		flags |= DMABRIDGE_UDMABUF_READONLY;
	if (o.list)
		flags |= DMABRIDGE_UDMABUF_LIST;
	fd = dmabridge_udmabuf_create(devfd, ranges, n, flags);
	if (fd < 0) {
		explain_create_error(fd, devfd, &o);
		goto out;
	}
	printf("device: %s (%s)\n", fd_path(devfd, err, sizeof(err)), kind);
	printf("ranges: %u x %" PRIu64 " bytes from %s memfds via %s\n", n, item,
	       o.hugetlb ? "hugetlb" : "shmem",
	       o.list ? "UDMABUF_CREATE_LIST" : "UDMABUF_CREATE");

	if (buffer_set_name(fd, o.name))
		goto out;
	if (o.verify && verify(fd, memfds, n, item, o.fill, o.readonly))
		goto out;

	/* The buffer holds the pages now; the memfds are not needed. */
	for (i = 0; i < created; i++)
		close(memfds[i]);
	created = 0;

	ret = dmabridge_dmabuf_query(0, fd, &info);
	if (ret) {
		errmsg("cannot read the buffer's fdinfo: %s",
		       dmabridge_strerror(ret));
		goto out;
	}
	print_info(fd, &info);
	rc = o.exec ? buffer_exec(o.exec, fd, item * n) : EXIT_OK;

out:
	for (i = 0; i < created; i++)
		close(memfds[i]);
	if (fd >= 0)
		close(fd);
	if (devfd >= 0)
		close(devfd);
	free(memfds);
	free(ranges);
	return rc;
}

static int print_raw(pid_t pid, int fd)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f) {
		errmsg("%s: %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return EXIT_OK;
}

static int cmd_inspect(int argc, char **argv)
{
	struct dmabridge_dmabuf_info info;
	struct inspect_opts o;
	char err[256];
	int ret;

	ret = parse_outcome(parse_inspect(argc, argv, &o, err, sizeof(err)),
			    inspect_usage, "udmabuf inspect", err);
	if (ret >= 0)
		return ret;
	ret = dmabridge_dmabuf_query(o.pid, o.fd, &info);
	if (ret) {
		if (o.pid)
			errmsg("process %d fd %d: %s", (int)o.pid, o.fd,
			       dmabridge_strerror(ret));
		else
			errmsg("fd %d: %s", o.fd, dmabridge_strerror(ret));
		return EXIT_RUNTIME;
	}
	if (o.raw)
		return print_raw(o.pid, o.fd);
	if (o.pid)
		printf("pid: %d\n", (int)o.pid);
	print_info(o.fd, &info);
	return EXIT_OK;
}

int cmd_udmabuf(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub) {
		fputs(udmabuf_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") ||
	    !strcmp(sub, "help")) {
		fputs(udmabuf_usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "create"))
		return cmd_create(argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return cmd_inspect(argc - 1, argv + 1);
	errmsg("udmabuf: unknown command '%s'; try 'dmabridge udmabuf --help'",
	       sub);
	return EXIT_USAGE;
}
