// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf heaps without a heap: name checks, whose heap a node is, which
 * name dmabridge's system heap has, properties and usage read from fake
 * /dev and sysfs trees (6.1-like: only dmabridge's heaps; 6.12-like: the
 * kernel's "system" beside them), and the CLI's argument parsing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"
#include "tap.h"
#include "tests.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE_ALLOC(o, ...) \
	parse_heap_alloc(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), err, sizeof(err))
#define PARSE_LIST(o, ...) \
	parse_heap_list(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), err, sizeof(err))

static char root[] = "/tmp/dmabridge-heaproot-XXXXXX";

/* Create root/@rel (parents too) holding @text, or a directory if NULL. */
static int make(const char *rel, const char *text)
{
	char path[PATH_MAX], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (!text)
		return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void clear_root(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", root);
	if (system(cmd))
		tap_diag("could not clean %s", root);
}

static void names(void)
{
	static const struct {
		const char *name;
		int ret;
	} cases[] = {
		{ "system", 0 }, { "dmabridge-system", 0 }, { "linux,cma", 0 },
		{ "", -EINVAL }, { ".", -EINVAL }, { "..", -EINVAL },
		{ "a/b", -EINVAL }, { "/dev/dma_heap/system", -EINVAL },
		{ "...", 0 },
		{ "0123456789012345678901234567890123456789012345678901234567890", 0 },
		{ "0123456789012345678901234567890123456789012345678901234567890123", -EINVAL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is(dmb_heap_check_name(cases[i].name), cases[i].ret,
		   "heap name \"%s\"", cases[i].name);
	is(dmb_heap_check_name(NULL), -EINVAL, "heap name NULL");
}

static void props(void)
{
	const unsigned int sys = DMABRIDGE_HEAP_PROP_CACHED | DMABRIDGE_HEAP_PROP_POOLED;

	is(dmb_heap_props("system", DMABRIDGE_HEAP_OWNER_DMABRIDGE), sys,
	   "our system heap: cached, pooled");
	is(dmb_heap_props("dmabridge-system", DMABRIDGE_HEAP_OWNER_DMABRIDGE), sys,
	   "our prefixed system heap: the same");
	is(dmb_heap_props("system-uncached", DMABRIDGE_HEAP_OWNER_DMABRIDGE),
	   DMABRIDGE_HEAP_PROP_WC | DMABRIDGE_HEAP_PROP_POOLED,
	   "our uncached heap: write-combined, pooled");
	is(dmb_heap_props("contiguous", DMABRIDGE_HEAP_OWNER_DMABRIDGE),
	   DMABRIDGE_HEAP_PROP_CACHED | DMABRIDGE_HEAP_PROP_CONTIGUOUS,
	   "our contiguous heap");
	is(dmb_heap_props("system", DMABRIDGE_HEAP_OWNER_KERNEL),
	   DMABRIDGE_HEAP_PROP_CACHED, "the kernel's system heap has no pools");
	is(dmb_heap_props("linux,cma", DMABRIDGE_HEAP_OWNER_KERNEL),
	   DMABRIDGE_HEAP_PROP_CACHED | DMABRIDGE_HEAP_PROP_CONTIGUOUS,
	   "a kernel CMA heap is contiguous");
	is(dmb_heap_props("contiguous", DMABRIDGE_HEAP_OWNER_KERNEL), 0,
	   "a kernel heap we do not know: no claims");
	is(dmb_heap_props("mystery", DMABRIDGE_HEAP_OWNER_DMABRIDGE), 0,
	   "a dmabridge heap we do not know: no claims");
	is(dmb_heap_props("system", DMABRIDGE_HEAP_OWNER_UNKNOWN), 0,
	   "unknown owner: no claims");
}

static void format_props(void)
{
	char buf[160];

	format_heap_props(DMABRIDGE_HEAP_PROP_CACHED | DMABRIDGE_HEAP_PROP_POOLED |
			  DMABRIDGE_HEAP_PROP_MEMCG, buf, sizeof(buf));
	is_str(buf, "cached, page pools, charged to the memory cgroup",
	       "properties in words");
	format_heap_props(0, buf, sizeof(buf));
	is_str(buf, "unknown", "no properties");
	format_heap_props(DMABRIDGE_HEAP_PROP_WC | DMABRIDGE_HEAP_PROP_CONTIGUOUS,
			  buf, 20);
	ok(strlen(buf) < 20, "a short buffer is not overrun");
}

/* Debian 6.1: no heap framework, dmabridge's heaps alone. */
static void tree_61(void)
{
	struct dmabridge_heap_info h[8];
	int n, fd;

	clear_root();
	ok(!make("dev/dma_heap/system", "") &&
	   !make("dev/dma_heap/system-uncached", "") &&
	   !make("sys/class/dmabridge_heap/system/buffers", "2\n") &&
	   !make("sys/class/dmabridge_heap/system/bytes", "8192\n") &&
	   !make("sys/class/dmabridge_heap/system/pool_bytes", "1048576\n") &&
	   !make("sys/class/dmabridge_heap/system-uncached/buffers", "0\n") &&
	   !make("sys/class/dmabridge_heap/system-uncached/bytes", "0\n") &&
	   !make("sys/class/dmabridge_heap/system-uncached/pool_bytes", "junk\n"),
	   "6.1-like tree");
	is_str(dmabridge_heap_system_name(), "system",
	       "6.1: our system heap is \"system\"");
	n = dmabridge_heap_list(h, 8);
	is(n, 2, "6.1: two heaps");
	if (n != 2)
		return;
	is_str(h[0].name, "system", "sorted: system first");
	is(h[0].owner, DMABRIDGE_HEAP_OWNER_DMABRIDGE, "system is ours");
	is(h[0].props, DMABRIDGE_HEAP_PROP_CACHED | DMABRIDGE_HEAP_PROP_POOLED |
	   DMABRIDGE_HEAP_PROP_MEMCG, "memcg charging on without the parameter");
	is(h[0].fields, DMABRIDGE_HEAP_HAS_BUFFERS | DMABRIDGE_HEAP_HAS_BYTES |
	   DMABRIDGE_HEAP_HAS_POOL, "usage read");
	ok(h[0].buffers == 2 && h[0].bytes == 8192 && h[0].pool_bytes == 1 << 20,
	   "usage values");
	is(h[1].fields, DMABRIDGE_HEAP_HAS_BUFFERS | DMABRIDGE_HEAP_HAS_BYTES,
	   "an unreadable counter is left out, not zero");

	is(dmabridge_heap_list(h, 1), 2, "a short array still counts all");
	is(dmabridge_heap_list(NULL, 0), 2, "counting only");
	is(dmabridge_heap_list(NULL, 1), -EINVAL, "NULL array with room");

	fd = dmabridge_heap_open(NULL);
	ok(fd >= 0, "NULL opens our system heap (the fake \"system\")");
	if (fd >= 0)
		close(fd);
	is(dmabridge_heap_info("nonexistent", &h[0]), -ENOENT, "absent heap info");
	is(dmabridge_heap_info("../x", &h[0]), -EINVAL, "bad heap name info");
}

/* Debian 6.12: the kernel's "system" beside ours. */
static void tree_612(void)
{
	struct dmabridge_heap_info h[8];
	int n;

	clear_root();
	ok(!make("dev/dma_heap/system", "") &&
	   !make("dev/dma_heap/dmabridge-system", "") &&
	   !make("dev/dma_heap/contiguous", "") &&
	   !make("dev/dma_heap/weird", "") &&
	   !make("sys/class/dma_heap/system", NULL) &&
	   !make("sys/class/dmabridge_heap/dmabridge-system/bytes", "0\n") &&
	   !make("sys/class/dmabridge_heap/contiguous/region_bytes", "67108864\n") &&
	   !make("sys/class/dmabridge_heap/contiguous/free_bytes", "65536\n") &&
	   !make("sys/class/dmabridge_heap/contiguous/largest_free_bytes", "4096\n") &&
	   !make("sys/module/dmabridge_heaps/parameters/memcg_account", "N\n"),
	   "6.12-like tree");
	is_str(dmabridge_heap_system_name(), "dmabridge-system",
	       "6.12: our system heap is \"dmabridge-system\"");
	n = dmabridge_heap_list(h, 8);
	is(n, 4, "6.12: four heaps");
	if (n != 4)
		return;
	is_str(h[0].name, "contiguous", "sorted by name");
	ok(h[0].region_bytes == 64 << 20 && h[0].free_bytes == 65536 &&
	   h[0].largest_free_bytes == 4096 &&
	   h[0].fields == (DMABRIDGE_HEAP_HAS_REGION | DMABRIDGE_HEAP_HAS_FREE |
			   DMABRIDGE_HEAP_HAS_LARGEST), "region counters");
	is(h[0].props, DMABRIDGE_HEAP_PROP_CACHED | DMABRIDGE_HEAP_PROP_CONTIGUOUS,
	   "memcg_account=N shows");
	is_str(h[1].name, "dmabridge-system", "then ours");
	is(h[1].owner, DMABRIDGE_HEAP_OWNER_DMABRIDGE, "dmabridge-system is ours");
	is_str(h[2].name, "system", "then the kernel's");
	is(h[2].owner, DMABRIDGE_HEAP_OWNER_KERNEL, "system is the kernel's");
	is(h[2].fields, 0, "the kernel's heap has no usage counters");
	is(h[3].owner, DMABRIDGE_HEAP_OWNER_UNKNOWN, "a node of no class");

	/* Module not loaded yet: the kernel's heap decides the name. */
	clear_root();
	ok(!make("sys/class/dma_heap/system", NULL), "kernel heap only");
	is_str(dmabridge_heap_system_name(), "dmabridge-system",
	       "not loaded, kernel has system: the prefixed name");
	clear_root();
	is_str(dmabridge_heap_system_name(), "system",
	       "not loaded, no kernel heaps: \"system\"");
	is(dmabridge_heap_list(h, 8), 0, "no /dev/dma_heap: no heaps, no error");
}

static void open_and_alloc(void)
{
	char path[PATH_MAX];
	int fd;

	clear_root();
	ok(!make("dev/dma_heap/fake", ""), "a fake heap node");
	is(dmabridge_heap_open(""), -EINVAL, "open \"\"");
	is(dmabridge_heap_open(".."), -EINVAL, "open \"..\"");
	is(dmabridge_heap_open("a/b"), -EINVAL, "open a name with a slash");
	is(dmabridge_heap_open("absent"), -ENOENT, "open an absent heap");
	fd = dmabridge_heap_open("fake");
	ok(fd >= 0, "open by name under the root");
	if (fd >= 0) {
		ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "heap fd is close-on-exec");
		is(dmabridge_heap_alloc(fd, 4096, O_RDWR | O_CLOEXEC), -ENOTTY,
		   "alloc on a file that is not a heap");
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/dev/dma_heap/fake", root);
	fd = dmabridge_heap_open(path);
	ok(fd >= 0, "open by absolute path");
	if (fd >= 0)
		close(fd);
	is(dmabridge_heap_alloc(-1, 4096, O_RDWR), -EBADF, "alloc on fd -1");
}

static void parsing(void)
{
	struct heap_alloc_opts a;
	struct heap_list_opts l;
	char err[256];

	is(PARSE_ALLOC(&a, "alloc", "system", "1M"), PARSE_OK, "alloc NAME SIZE");
	ok(a.size == 1 << 20 && !strcmp(a.heap, "system") && !a.verify &&
	   !a.fill_set && !a.name && !a.exec, "alloc defaults");
	is(PARSE_ALLOC(&a, "alloc", "--verify", "contiguous", "--fill", "0x5a",
		       "64K", "--name", "frame", "--exec", "true"), PARSE_OK,
	   "options anywhere");
	ok(a.verify && a.fill_set && a.fill == 0x5a && a.size == 65536 &&
	   !strcmp(a.name, "frame") && !strcmp(a.exec, "true") &&
	   !strcmp(a.heap, "contiguous"), "all options taken");
	is(PARSE_ALLOC(&a, "alloc", "/dev/dma_heap/system", "4096"), PARSE_OK,
	   "a path as the heap");
	is(PARSE_ALLOC(&a, "alloc", "--help"), PARSE_HELP, "alloc --help");
	is(PARSE_ALLOC(&a, "alloc"), PARSE_ERROR, "alloc without NAME");
	is(PARSE_ALLOC(&a, "alloc", "system"), PARSE_ERROR, "alloc without SIZE");
	is(PARSE_ALLOC(&a, "alloc", "system", "0"), PARSE_ERROR, "size 0");
	is(PARSE_ALLOC(&a, "alloc", "system", "1Q"), PARSE_ERROR, "bad size");
	is(PARSE_ALLOC(&a, "alloc", "system", "1M", "x"), PARSE_ERROR, "extra arg");
	is(PARSE_ALLOC(&a, "alloc", "a/b", "1M"), PARSE_ERROR, "relative path");
	is(PARSE_ALLOC(&a, "alloc", "..", "1M"), PARSE_ERROR, "\"..\" as a heap");
	is(PARSE_ALLOC(&a, "alloc", "system", "1M", "--fill", "256"), PARSE_ERROR,
	   "fill 256");
	is(PARSE_ALLOC(&a, "alloc", "system", "1M", "--name",
		       "0123456789012345678901234567890123"), PARSE_ERROR,
	   "name too long");
	is(PARSE_ALLOC(&a, "alloc", "system", "1M", "--bogus"), PARSE_ERROR,
	   "unknown option");
	is(PARSE_ALLOC(&a, "alloc", "system", "1M", "--exec"), PARSE_ERROR,
	   "--exec without an argument");
	ok(strstr(err, "needs an argument") != NULL, "and says so: %s", err);

	is(PARSE_LIST(&l, "list"), PARSE_OK, "list");
	ok(!l.names_only && !l.ours_only, "list defaults");
	is(PARSE_LIST(&l, "list", "--ours", "--names"), PARSE_OK, "list options");
	ok(l.names_only && l.ours_only, "list options taken");
	is(PARSE_LIST(&l, "list", "-h"), PARSE_HELP, "list -h");
	is(PARSE_LIST(&l, "list", "x"), PARSE_ERROR, "list extra arg");
	is(PARSE_LIST(&l, "list", "--bogus"), PARSE_ERROR, "list unknown option");
}

void test_heap(void)
{
	names();
	props();
	format_props();
	parsing();
	if (!ok(mkdtemp(root) != NULL, "fake root for heaps"))
		return;
	dmb_sysroot = root;
	tree_61();
	tree_612();
	open_and_alloc();
	dmb_sysroot = "";
	clear_root();
	rmdir(root);
}
