// SPDX-License-Identifier: GPL-2.0
/* dmabridge heap list / alloc / system-name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmabridge.h"
#include "cli.h"

static const char heap_usage[] =
"Usage: dmabridge heap COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  list [--ours] [--names]      every heap in /dev/dma_heap: whose it is,\n"
"                               its properties and usage\n"
"  alloc NAME SIZE [...]        allocate a buffer (see 'alloc --help')\n"
"  system-name                  the name of dmabridge's system heap on this\n"
"                               kernel ('system' or 'dmabridge-system')\n";

static const char list_usage[] =
"Usage: dmabridge heap list [--ours] [--names]\n"
"\n"
"Show every dma-buf heap in /dev/dma_heap: whether it is the kernel's or\n"
"dmabridge's, its properties (cached or write-combined CPU mappings,\n"
"physically contiguous, page pools, memory cgroup charging) and, for\n"
"dmabridge's heaps, its usage from /sys/class/dmabridge_heap/NAME/.  The\n"
"kernel's heaps keep no statistics.\n"
"\n"
"Options:\n"
"      --ours    only dmabridge's heaps\n"
"      --names   only the names, one a line (for scripts)\n"
"  -h, --help    show this help\n";

static const char alloc_usage[] =
"Usage: dmabridge heap alloc NAME SIZE [OPTIONS]\n"
"\n"
"Allocate a buffer of SIZE bytes from the heap NAME (in /dev/dma_heap, or\n"
"a path to a heap node), optionally fill and verify it, and print its\n"
"fdinfo and the heap's usage.  The buffer lives as long as this process,\n"
"or as long as the --exec command that inherits it.\n"
"SIZE: bytes, 0xHEX, or with a binary suffix K/KiB, M/MiB, G/GiB, T/TiB.\n"
"\n"
"Options:\n"
"  -n, --name NAME     set the dma-buf's name (< 32 bytes)\n"
"  -f, --fill BYTE     fill the buffer with BYTE through its mapping\n"
"      --verify        check that the new buffer reads as zeroes, then that\n"
"                      what one mapping writes another reads back (fills\n"
"                      with 0xa5 unless --fill is given)\n"
"  -e, --exec CMD      run CMD with /bin/sh with the buffer inherited; its\n"
"                      fd number is in $DMABRIDGE_FD and its size in\n"
"                      $DMABRIDGE_SIZE.  The exit status is CMD's.\n"
"  -h, --help          show this help\n";

static const char system_name_usage[] =
"Usage: dmabridge heap system-name\n"
"\n"
"Print the name of dmabridge's system heap on this kernel: 'system' where\n"
"the kernel has no system heap of its own, 'dmabridge-system' where it has.\n";

#define VERIFY_STAMP 0xdb0e000000000000ULL

static const char *owner_text(int owner)
{
	switch (owner) {
	case DMABRIDGE_HEAP_OWNER_KERNEL:
		return "the kernel's";
	case DMABRIDGE_HEAP_OWNER_DMABRIDGE:
		return "dmabridge's";
	}
	return "owner unknown";
}

static void print_heap(const struct dmabridge_heap_info *h)
{
	char props[160], a[48], b[48], c[48];

	format_heap_props(h->props, props, sizeof(props));
	printf("%s: %s %s; %s\n", h->name, owner_text(h->owner),
	       h->owner == DMABRIDGE_HEAP_OWNER_DMABRIDGE &&
	       !strcmp(h->name, dmabridge_heap_system_name()) ?
	       "system heap" : "heap", props);
	if (!h->fields) {
		printf("  usage: not reported (%s)\n",
		       h->owner == DMABRIDGE_HEAP_OWNER_KERNEL ?
		       "the kernel's heaps keep no statistics" :
		       "no statistics in " DMABRIDGE_HEAP_SYSFS);
		return;
	}
	if (h->fields & (DMABRIDGE_HEAP_HAS_BUFFERS | DMABRIDGE_HEAP_HAS_BYTES)) {
		format_size(h->bytes, a, sizeof(a));
		printf("  in use: %" PRIu64 " buffers, %s\n", h->buffers, a);
	}
	if (h->fields & DMABRIDGE_HEAP_HAS_POOL) {
		format_size(h->pool_bytes, a, sizeof(a));
		printf("  pools: %s\n", a);
	}
	if (h->fields & DMABRIDGE_HEAP_HAS_REGION) {
		format_size(h->region_bytes, a, sizeof(a));
		format_size(h->free_bytes, b, sizeof(b));
		format_size(h->largest_free_bytes, c, sizeof(c));
		printf("  region: %s, %s free, largest free range %s\n", a,
		       h->fields & DMABRIDGE_HEAP_HAS_FREE ? b : "?",
		       h->fields & DMABRIDGE_HEAP_HAS_LARGEST ? c : "?");
	}
}

static int cmd_list(int argc, char **argv)
{
	struct dmabridge_heap_info *heaps = NULL;
	struct heap_list_opts o;
	int n, i, rc, shown = 0;
	char err[256];

	rc = parse_outcome(parse_heap_list(argc, argv, &o, err, sizeof(err)),
			   list_usage, "heap list", err);
	if (rc >= 0)
		return rc;
	n = dmabridge_heap_list(NULL, 0);
	if (n > 0) {
		heaps = calloc((size_t)n, sizeof(*heaps));
		if (!heaps) {
			errmsg("out of memory");
			return EXIT_RUNTIME;
		}
		n = dmabridge_heap_list(heaps, (size_t)n);
	}
	if (n < 0) {
		errmsg("cannot list %s: %s", DMABRIDGE_HEAP_DIR,
		       dmabridge_strerror(n));
		free(heaps);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < n; i++) {
		if (o.ours_only && heaps[i].owner != DMABRIDGE_HEAP_OWNER_DMABRIDGE)
			continue;
		if (o.names_only)
			printf("%s\n", heaps[i].name);
		else
			print_heap(&heaps[i]);
		shown++;
	}
	if (!shown && !o.names_only)
		printf("no %sheaps in %s%s\n", o.ours_only ? "dmabridge " : "",
		       DMABRIDGE_HEAP_DIR,
		       o.ours_only ? " (is dmabridge_heaps loaded?)" : "");
	free(heaps);
	return EXIT_OK;
}

/* Fill through one mapping; with @stamps, a page number heads each page. */
static int fill(int fd, unsigned char byte, int stamps)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pg;
	unsigned char *map;
	size_t size;
	void *addr;
	int ret;

	ret = dmabridge_dmabuf_map(fd, DMABRIDGE_ACCESS_RW, &addr, &size);
	if (ret) {
		errmsg("cannot map the buffer: %s", dmabridge_strerror(ret));
		return -1;
	}
	map = addr;
	ret = buffer_cpu_access(fd, DMABRIDGE_ACCESS_WRITE, 1, "");
	if (!ret) {
		memset(map, byte, size);
		for (pg = 0; stamps && pg < size / page; pg++) {
			uint64_t stamp = VERIFY_STAMP | pg;

			memcpy(map + pg * page, &stamp, sizeof(stamp));
		}
		ret = buffer_cpu_access(fd, DMABRIDGE_ACCESS_WRITE, 0, "");
	}
	dmabridge_dmabuf_unmap(addr, size);
	return ret ? -1 : 0;
}

/*
 * Check through a fresh mapping: every byte is @byte, or with @stamps,
 * each page starts with its stamp and the rest is @byte.
 */
static int check(int fd, unsigned char byte, int stamps, const char *what)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), i;
	const unsigned char *map;
	size_t size;
	void *addr;
	int ret, bad = 0;

	ret = dmabridge_dmabuf_map(fd, DMABRIDGE_ACCESS_READ, &addr, &size);
	if (ret) {
		errmsg("verify: cannot map the buffer: %s",
		       dmabridge_strerror(ret));
		return -1;
	}
	map = addr;
	if (buffer_cpu_access(fd, DMABRIDGE_ACCESS_READ, 1, "")) {
		dmabridge_dmabuf_unmap(addr, size);
		return -1;
	}
	for (i = 0; i < size; i++) {
		uint64_t in_page = i % page;

		if (stamps && in_page < sizeof(uint64_t)) {
			uint64_t want = VERIFY_STAMP | (i / page), got;

			memcpy(&got, map + i, sizeof(got));
			if (got != want) {
				errmsg("verify: page %" PRIu64 " starts with 0x%016"
				       PRIx64 ", the other mapping wrote 0x%016" PRIx64,
				       i / page, got, want);
				bad = 1;
				break;
			}
			i += sizeof(uint64_t) - 1;
			continue;
		}
		if (map[i] != byte) {
			errmsg("verify: byte %" PRIu64 " is 0x%02x, expected 0x%02x (%s)",
			       i, map[i], byte, what);
			bad = 1;
			break;
		}
	}
	buffer_cpu_access(fd, DMABRIDGE_ACCESS_READ, 0, "");
	dmabridge_dmabuf_unmap(addr, size);
	if (!bad)
		printf("verify: %s: %zu bytes ok\n", what, size);
	return bad ? -1 : 0;
}

static void explain_alloc_error(int err, const struct heap_alloc_opts *o)
{
	errmsg("cannot allocate %" PRIu64 " bytes from heap %s: %s", o->size,
	       o->heap, dmabridge_strerror(err));
	if (err == -ENOMEM)
		errmsg("the heap cannot back that much now (free memory, the "
		       "contiguous region, or the memory cgroup's limit)");
}

static int cmd_alloc(int argc, char **argv)
{
	struct dmabridge_dmabuf_info info;
	struct dmabridge_heap_info heap;
	struct heap_alloc_opts o;
	int heapfd, fd = -1, ret, rc = EXIT_RUNTIME, have_heap;
	const char *base;
	uint64_t size;
	char err[256], buf[48];

	ret = parse_outcome(parse_heap_alloc(argc, argv, &o, err, sizeof(err)),
			    alloc_usage, "heap alloc", err);
	if (ret >= 0)
		return ret;
	if (o.verify && !o.fill_set) {
		o.fill = 0xa5;
		o.fill_set = 1;
	}

	heapfd = dmabridge_heap_open(o.heap);
	if (heapfd < 0) {
		errmsg("cannot open heap %s: %s", o.heap,
		       dmabridge_strerror(heapfd));
		if (heapfd == -ENOENT)
			errmsg("'dmabridge heap list' shows the heaps there are");
		return EXIT_RUNTIME;
	}
	fd = dmabridge_heap_alloc(heapfd, o.size, O_RDWR | O_CLOEXEC);
	close(heapfd);
	if (fd < 0) {
		explain_alloc_error(fd, &o);
		return EXIT_RUNTIME;
	}
	base = strrchr(o.heap, '/');
	base = base ? base + 1 : o.heap;
	have_heap = dmabridge_heap_info(base, &heap) == 0;
	ret = dmabridge_dmabuf_size(fd, &size);
	if (ret) {
		errmsg("the heap returned no dma-buf: %s", dmabridge_strerror(ret));
		goto out;
	}
	format_size(size, buf, sizeof(buf));
	printf("heap: %s (%s)\n", base,
	       have_heap ? owner_text(heap.owner) : "owner unknown");
	printf("fd: %d\n", fd);
	printf("size: %" PRIu64 " (%s)\n", size, buf);

	if (buffer_set_name(fd, o.name))
		goto out;
	if (o.verify) {
		if (check(fd, 0, 0, "new buffer is zeroed"))
			goto out;
		if (fill(fd, o.fill, 1) ||
		    check(fd, o.fill, 1, "one mapping reads what another wrote"))
			goto out;
	}
	/* Without stamps: an --exec command sees what was asked for. */
	if (o.fill_set && fill(fd, o.fill, 0))
		goto out;

	ret = dmabridge_dmabuf_query(0, fd, &info);
	if (ret) {
		errmsg("cannot read the buffer's fdinfo: %s",
		       dmabridge_strerror(ret));
		goto out;
	}
	printf("exporter: %s\n", info.exp_name);
	printf("name: %s\n", info.fields & DMABRIDGE_INFO_NAME && info.name[0] ?
	       info.name : "(none)");
	if (info.fields & DMABRIDGE_INFO_INODE)
		printf("inode: %" PRIu64 "\n", info.inode);
	if (dmabridge_heap_info(base, &heap) == 0 && heap.fields) {
		format_size(heap.bytes, buf, sizeof(buf));
		printf("heap usage now: %" PRIu64 " buffers, %s", heap.buffers,
		       buf);
		if (heap.fields & DMABRIDGE_HEAP_HAS_POOL) {
			format_size(heap.pool_bytes, buf, sizeof(buf));
			printf(", pools %s", buf);
		}
		printf("\n");
	}
	rc = o.exec ? buffer_exec(o.exec, fd, size) : EXIT_OK;
out:
	close(fd);
	return rc;
}

int cmd_heap(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub) {
		fputs(heap_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") ||
	    !strcmp(sub, "help")) {
		fputs(heap_usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(sub, "alloc"))
		return cmd_alloc(argc - 1, argv + 1);
	if (!strcmp(sub, "system-name")) {
		if (argc > 2) {
			if (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
				fputs(system_name_usage, stdout);
				return EXIT_OK;
			}
			errmsg("heap system-name: unexpected argument '%s'; try --help",
			       argv[2]);
			return EXIT_USAGE;
		}
		printf("%s\n", dmabridge_heap_system_name());
		return EXIT_OK;
	}
	errmsg("heap: unknown command '%s'; try 'dmabridge heap --help'", sub);
	return EXIT_USAGE;
}
