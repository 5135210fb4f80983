// SPDX-License-Identifier: GPL-2.0
/*
 * dmabench: dmabridge's microbenchmarks, run in a guest by bench/run.
 *
 * Every measurement compares "ours" with a baseline in the same process:
 * both are warmed up, then timed in batches, ours and the baseline taking
 * turns batch by batch (which goes first alternates), so that drift of the
 * guest's speed (TCG, a busy host) hits both alike.  The ratio is taken per
 * batch pair, then its median over the batches; the medians and quartiles
 * of each side are reported too.
 *
 * Output, one line per result, tab-separated, for bench/run:
 *   R group series name x unit better ours q1 q3 base q1 q3
 *     ratio q1 q3 min max batches iters
 *   I key value              facts about the guest (kernel, settings)
 *   N group message          a measurement that could not be made, and why
 *
 * Times come from clock_gettime(CLOCK_MONOTONIC).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dmabridge/sync.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
/* Upstream's Xen UAPI headers use the kernel's names for these. */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/gntalloc.h>
#include <xen/gntdev.h>

#define KiB (1024UL)
#define MiB (1024UL * 1024UL)
#define PAGE 4096UL
#define HUGE_PAGE (2 * MiB)
#define MAX_BATCHES 201

#define OURS_UDMABUF "/dev/dmabridge-udmabuf"
#define BASE_UDMABUF "/dev/udmabuf"
#define OURS_HEAP "/dev/dma_heap/dmabridge-system"
#define BASE_HEAP "/dev/dma_heap/system"
#define UNCACHED_HEAP "/dev/dma_heap/system-uncached"
#define OURS_HEAP_SYSFS "/sys/class/dmabridge_heap/dmabridge-system/pool_bytes"
/* Test-only (TESTING=1): a heap of read-only single pages it never allocates. */
#define FLOOR_HEAP "/dev/dmabridge-export-floor"

static struct {
	int batches;		/* timed batches per side */
	double batch_ns;	/* how long one batch should take */
	int warmup;		/* untimed operations per side first */
	int mem_reps;		/* repetitions of a memory measurement */
	const char *only;	/* comma-separated groups, NULL for all */
	int settle_us;		/* cold heap: pause after emptying the pools */
} cfg = { 21, 20e6, 3, 7, NULL, 10000 };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void note(const char *group, const char *fmt, ...)
{
	va_list ap;

	printf("N\t%s\t", group);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int want(const char *group)
{
	const char *p;
	size_t n = strlen(group);

	if (!cfg.only)
		return 1;
	for (p = cfg.only; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, group, n) && (p[n] == ',' || !p[n]))
			return 1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Quantile q (0..1) of v[0..n), linear between the closest ranks. */
static double quantile(const double *v, int n, double q)
{
	double s[MAX_BATCHES], pos;
	int i;

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	pos = q * (n - 1);
	i = (int)pos;
	if (i >= n - 1)
		return s[n - 1];
	return s[i] + (pos - i) * (s[i + 1] - s[i]);
}

/* One side of a comparison: an operation, and what runs untimed before it. */
struct side {
	int (*op)(void *arg);
	int (*prep)(void *arg);	/* NULL, or run before each op, untimed */
	void *arg;
};

/* What one measured point is and how its times become values. */
struct point {
	const char *group, *series, *name;
	double x;		/* the size axis of the plots */
	const char *unit;
	int higher;		/* bandwidth: higher is better */
	double div;		/* value = ns per op / div (e.g. 1000: us) */
	double bytes;		/* bandwidth: value = bytes per op / time, MiB/s */
};

static double to_value(const struct point *p, double ns_per_op)
{
	if (p->bytes)
		return p->bytes / ns_per_op * 1e9 / MiB;
	return ns_per_op / p->div;
}

static void print_result(const struct point *p, const double *ours,
			 const double *base, const double *ratio, int n,
			 long iters)
{
	printf("R\t%s\t%s\t%s\t%.0f\t%s\t%s", p->group, p->series, p->name,
	       p->x, p->unit, p->higher ? "higher" : "lower");
	printf("\t%.6g\t%.6g\t%.6g", quantile(ours, n, 0.5),
	       quantile(ours, n, 0.25), quantile(ours, n, 0.75));
	printf("\t%.6g\t%.6g\t%.6g", quantile(base, n, 0.5),
	       quantile(base, n, 0.25), quantile(base, n, 0.75));
	printf("\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%ld\n",
	       quantile(ratio, n, 0.5), quantile(ratio, n, 0.25),
	       quantile(ratio, n, 0.75), quantile(ratio, n, 0.0),
	       quantile(ratio, n, 1.0), n, iters);
	fflush(stdout);
}

/* Runs @iters operations of @s; returns the ns they took, or -1. */
static double run_batch(const struct side *s, long iters)
{
	double total = 0, t0;
	long i;

	if (!s->prep) {
		t0 = now_ns();
		for (i = 0; i < iters; i++)
			if (s->op(s->arg))
				return -1;
		return now_ns() - t0;
	}
	for (i = 0; i < iters; i++) {
		if (s->prep(s->arg))
			return -1;
		t0 = now_ns();
		if (s->op(s->arg))
			return -1;
		total += now_ns() - t0;
	}
	return total;
}

/*
 * Warm-up, then cfg.batches batches per side, interleaved.  Side 0 is
 * ours, side 1 the baseline.  Returns 0, or -1 with errno set when an
 * operation failed (reported as N).
 */
static int compare(const struct point *p, const struct side s[2])
{
	double v[2][MAX_BATCHES], ratio[MAX_BATCHES], op_ns = 0, t;
	long iters;
	int b, j, i;

	for (i = 0; i < cfg.warmup; i++)
		for (j = 0; j < 2; j++)
			if (run_batch(&s[j], 1) < 0)
				goto fail;
	/*
	 * Calibration: each side runs for a tenth of a batch, so that the
	 * cost per operation is not that of the first one after a pause
	 * (a sleeping thread's wakeup, cold caches), which under TCG can be
	 * a whole timer tick.
	 */
	for (j = 0; j < 2; j++) {
		double spent = 0;
		long n = 0;

		while (n < 1000 && (n == 0 || spent < cfg.batch_ns / 10)) {
			t = run_batch(&s[j], 1);
			if (t < 0)
				goto fail;
			spent += t;
			n++;
		}
		if (spent / n > op_ns)
			op_ns = spent / n;
	}
	iters = op_ns > 0 ? (long)(cfg.batch_ns / op_ns) : 1;
	if (iters < 1)
		iters = 1;
	if (iters > 100000)
		iters = 100000;

	for (b = 0; b < cfg.batches; b++) {
		for (i = 0; i < 2; i++) {
			j = i ^ (b & 1);
			t = run_batch(&s[j], iters);
			if (t < 0)
				goto fail;
			v[j][b] = to_value(p, t / iters);
		}
		ratio[b] = v[0][b] / v[1][b];
	}
	print_result(p, v[0], v[1], ratio, cfg.batches, iters);
	return 0;
fail:
	note(p->group, "%s: %s", p->name, strerror(errno));
	return -1;
}

static const char *size_name(unsigned long bytes)
{
	static char buf[8][32];
	static int n;
	char *s = buf[n++ % 8];

	if (bytes >= MiB && !(bytes % MiB))
		snprintf(s, 32, "%luM", bytes / MiB);
	else
		snprintf(s, 32, "%luK", bytes / KiB);
	return s;
}

/* ---- memfds ---- */

/* A sealed memfd of @size bytes with every page present. */
static int make_memfd(unsigned long size, int hugetlb)
{
	unsigned int flags = MFD_ALLOW_SEALING | (hugetlb ? MFD_HUGETLB : 0);
	int fd = memfd_create("dmabench", flags);
	char *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size))
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	memset(p, 0x5a, size);
	munmap(p, size);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* ---- udmabuf ---- */

struct udmabuf_arg {
	int dev;
	int memfd;
	unsigned long size;		/* single create */
	struct udmabuf_create_list *list; /* or a list */
	int buf;			/* a live buffer, for mmap tests */
};

static int udmabuf_make(struct udmabuf_arg *a)
{
	struct udmabuf_create c = {
		.memfd = a->memfd, .flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0, .size = a->size,
	};

	if (a->list)
		return ioctl(a->dev, UDMABUF_CREATE_LIST, a->list);
	return ioctl(a->dev, UDMABUF_CREATE, &c);
}

static int op_udmabuf_create(void *arg)
{
	int fd = udmabuf_make(arg);

	if (fd < 0)
		return -1;
	return close(fd);
}

static int open_udmabuf_pair(int dev[2], const char *group)
{
	dev[0] = open(OURS_UDMABUF, O_RDWR | O_CLOEXEC);
	dev[1] = open(BASE_UDMABUF, O_RDWR | O_CLOEXEC);
	if (dev[0] >= 0 && dev[1] >= 0) {
		struct stat a, b;

		/* On 6.1 /dev/udmabuf is ours: nothing to compare with. */
		if (!fstat(dev[0], &a) && !fstat(dev[1], &b) &&
		    a.st_rdev != b.st_rdev)
			return 0;
		errno = ENODEV;
		note(group, "%s is ours: no upstream udmabuf in this kernel",
		     BASE_UDMABUF);
	} else {
		note(group, "%s or %s: %s", OURS_UDMABUF, BASE_UDMABUF,
		     strerror(errno));
	}
	if (dev[0] >= 0)
		close(dev[0]);
	if (dev[1] >= 0)
		close(dev[1]);
	return -1;
}

static void bench_udmabuf(const unsigned long *sizes, int nsizes)
{
	static const unsigned int counts[] = { 1, 16, 256, 1024 };
	static const unsigned long huge_sizes[] = { 2 * MiB, 64 * MiB };
	struct udmabuf_arg a[2];
	struct side s[2];
	char name[96];
	int dev[2], memfd, i, j;
	unsigned long max = 0;

	if (open_udmabuf_pair(dev, "udmabuf"))
		return;
	for (i = 0; i < nsizes; i++)
		if (sizes[i] > max)
			max = sizes[i];

	memfd = make_memfd(max > 1024 * PAGE ? max : 1024 * PAGE, 0);
	if (memfd < 0) {
		note("udmabuf", "memfd: %s", strerror(errno));
		goto out;
	}
	for (j = 0; j < 2; j++) {
		a[j] = (struct udmabuf_arg){ .dev = dev[j], .memfd = memfd };
		s[j] = (struct side){ .op = op_udmabuf_create, .arg = &a[j] };
	}
	for (i = 0; i < nsizes; i++) {
		struct point p = { "udmabuf", "udmabuf-create", name, sizes[i],
				   "us", 0, 1000, 0 };

		snprintf(name, sizeof(name), "udmabuf create+close %s",
			 size_name(sizes[i]));
		a[0].size = a[1].size = sizes[i];
		compare(&p, s);
	}

	/* Lists of one-page items. */
	for (i = 0; i < (int)(sizeof(counts) / sizeof(counts[0])); i++) {
		struct point p = { "udmabuf", "udmabuf-list", name, counts[i],
				   "us", 0, 1000, 0 };
		struct udmabuf_create_list *l;
		unsigned int k;

		l = calloc(1, sizeof(*l) + counts[i] * sizeof(l->list[0]));
		if (!l)
			break;
		l->flags = UDMABUF_FLAGS_CLOEXEC;
		l->count = counts[i];
		for (k = 0; k < counts[i]; k++) {
			l->list[k].memfd = memfd;
			l->list[k].offset = k * PAGE;
			l->list[k].size = PAGE;
		}
		snprintf(name, sizeof(name),
			 "udmabuf create_list+close %u items", counts[i]);
		a[0].list = a[1].list = l;
		compare(&p, s);
		a[0].list = a[1].list = NULL;
		free(l);
	}
	close(memfd);

	/* hugetlb memfds (2 MiB pages, present). */
	memfd = make_memfd(64 * MiB, 1);
	if (memfd < 0) {
		note("udmabuf", "hugetlb memfd: %s", strerror(errno));
		goto out;
	}
	for (j = 0; j < 2; j++)
		a[j].memfd = memfd;
	for (i = 0; i < 2; i++) {
		struct point p = { "udmabuf", "udmabuf-hugetlb", name,
				   huge_sizes[i], "us", 0, 1000, 0 };

		snprintf(name, sizeof(name), "udmabuf create+close hugetlb %s",
			 size_name(huge_sizes[i]));
		a[0].size = a[1].size = huge_sizes[i];
		compare(&p, s);
	}
	close(memfd);
out:
	close(dev[0]);
	close(dev[1]);
}

/* ---- heaps ---- */

struct heap_arg {
	int dev;
	unsigned long size;
	const char *pool;	/* sysfs pool_bytes of ours, or NULL */
	int held;		/* alloc only: the buffer, freed untimed */
	int read_only;		/* the export floor gives nothing else */
};

static int heap_alloc_mode(int dev, unsigned long size, int read_only)
{
	struct dma_heap_allocation_data d = {
		.len = size,
		.fd_flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC,
	};

	if (ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &d))
		return -1;
	return d.fd;
}

static int heap_alloc(int dev, unsigned long size)
{
	return heap_alloc_mode(dev, size, 0);
}

static int op_heap_alloc_free(void *arg)
{
	struct heap_arg *a = arg;
	int fd = heap_alloc_mode(a->dev, a->size, a->read_only);

	if (fd < 0)
		return -1;
	return close(fd);
}

/* Allocation alone: the buffer is freed by the next prep, untimed. */
static int op_heap_alloc(void *arg)
{
	struct heap_arg *a = arg;

	a->held = heap_alloc(a->dev, a->size);
	return a->held < 0 ? -1 : 0;
}

static long long read_ll(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atoll(buf);
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	/* 2: slab objects, which runs the shrinkers, our pool's among them. */
	ret = write(fd, "2", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

static long cold_retries;

/*
 * Cold: every pool empty.  Both sides get the same drop, so the slab
 * caches are equally cold; ours also waits until its pool reads 0 (pages
 * that the zeroing worker holds come back to the pool a moment later).
 */
static int prep_cold(void *arg)
{
	struct heap_arg *a = arg;
	int tries;

	if (a->held >= 0) {
		close(a->held);
		a->held = -1;
	}
	for (tries = 0; tries < 200; tries++) {
		if (drop_caches())
			return -1;
		if (!a->pool || read_ll(a->pool) == 0) {
			/* Let what the drop set off (RCU, workers) settle. */
			if (cfg.settle_us)
				usleep(cfg.settle_us);
			return 0;
		}
		cold_retries++;
		usleep(1000);
	}
	errno = EBUSY;
	return -1;
}

static int open_heap_pair(int dev[2], const char *group)
{
	dev[0] = open(OURS_HEAP, O_RDONLY | O_CLOEXEC);
	dev[1] = open(BASE_HEAP, O_RDONLY | O_CLOEXEC);
	if (dev[0] >= 0 && dev[1] >= 0)
		return 0;
	note(group, "%s or %s: %s (the kernel's system heap is 6.12's)",
	     OURS_HEAP, BASE_HEAP, strerror(errno));
	if (dev[0] >= 0)
		close(dev[0]);
	if (dev[1] >= 0)
		close(dev[1]);
	return -1;
}

/*
 * How low can a heap's warm alloc+free go?  The export floor does only
 * what every dma_buf_export()-based heap must (ioctl, a small object, the
 * dma_buf with its inode and file, the fd, the release), and no memory.
 * Both rows are at one page, read-only (all the floor gives; the upstream
 * heap costs the same either way): the floor against upstream's system
 * heap bounds any heap's warm ratio from below, and ours against the floor
 * is what our pools and pages add on top of it.
 */
static void bench_heap_floor(const int dev[2], const unsigned long *sizes,
			     int nsizes)
{
	struct heap_arg a[2] = { { .size = PAGE, .held = -1, .read_only = 1 },
				 { .size = PAGE, .held = -1, .read_only = 1 } };
	struct side s[2] = { { .op = op_heap_alloc_free, .arg = &a[0] },
			     { .op = op_heap_alloc_free, .arg = &a[1] } };
	struct point p = { "heap", NULL, NULL, PAGE, "us", 0, 1000, 0 };
	int floor, i;

	for (i = 0; i < nsizes && sizes[i] != PAGE; i++)
		;
	if (i == nsizes)
		return;
	floor = open(FLOOR_HEAP, O_RDONLY | O_CLOEXEC);
	if (floor < 0) {
		note("heap", "%s: %s (test-only, built with TESTING=1)",
		     FLOOR_HEAP, strerror(errno));
		return;
	}
	a[0].dev = floor;
	a[1].dev = dev[1];
	p.series = "heap-floor";
	p.name = "heap alloc+free warm 4K read-only: export floor (no memory)";
	compare(&p, s);
	a[0].dev = dev[0];
	a[1].dev = floor;
	p.series = "heap-over-floor";
	p.name = "heap alloc+free warm 4K read-only: ours over the export floor";
	compare(&p, s);
	close(floor);
}

static void bench_heap(const unsigned long *sizes, int nsizes)
{
	struct heap_arg a[2];
	struct side s[2];
	char name[96];
	int dev[2], i, j, cold;
	long long pool;

	if (open_heap_pair(dev, "heap"))
		return;
	/* Does drop_caches empty our pool?  Say so in the report. */
	close(heap_alloc(dev[0], 8 * MiB));
	usleep(100000);
	pool = read_ll(OURS_HEAP_SYSFS);
	drop_caches();
	printf("I\tpool_bytes_after_free_8M\t%lld\n", pool);
	printf("I\tpool_bytes_after_drop_caches_2\t%lld\n",
	       read_ll(OURS_HEAP_SYSFS));

	/* 2: cold, allocation alone; 1: cold; 0: warm. */
	for (cold = 2; cold >= 0; cold--) {
		for (j = 0; j < 2; j++) {
			a[j] = (struct heap_arg){ .dev = dev[j], .held = -1,
				.pool = j ? NULL : OURS_HEAP_SYSFS };
			s[j] = (struct side){
				.op = cold == 2 ? op_heap_alloc : op_heap_alloc_free,
				.prep = cold ? prep_cold : NULL, .arg = &a[j] };
		}
		for (i = 0; i < nsizes; i++) {
			struct point p = { "heap", cold == 2 ? "heap-cold-alloc" :
					   cold ? "heap-cold" : "heap-warm",
					   name, sizes[i], "us", 0, 1000, 0 };

			snprintf(name, sizeof(name), "heap %s %s %s",
				 cold == 2 ? "alloc (free untimed)" : "alloc+free",
				 cold ? "cold" : "warm", size_name(sizes[i]));
			a[0].size = a[1].size = sizes[i];
			compare(&p, s);
			for (j = 0; j < 2; j++)
				if (a[j].held >= 0)
					close(a[j].held);
			a[0].held = a[1].held = -1;
		}
	}
	printf("I\tcold_retries\t%ld\n", cold_retries);
	bench_heap_floor(dev, sizes, nsizes);
	close(dev[0]);
	close(dev[1]);
}

/* ---- first touch through mmap ---- */

struct touch_arg {
	int buf;
	unsigned long size;
};

static int op_touch(void *arg)
{
	struct touch_arg *a = arg;
	volatile char *p;
	unsigned long off;

	p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, a->buf, 0);
	if (p == MAP_FAILED)
		return -1;
	for (off = 0; off < a->size; off += PAGE)
		p[off] = 1;
	return munmap((void *)p, a->size);
}

static void touch_pair(const char *series, const char *what, int buf[2],
		       unsigned long size)
{
	struct touch_arg a[2];
	struct side s[2];
	char name[96];
	struct point p = { "fault", series, name, size, "ns/page", 0,
			   size / PAGE, 0 };
	int j;

	for (j = 0; j < 2; j++) {
		a[j] = (struct touch_arg){ .buf = buf[j], .size = size };
		s[j] = (struct side){ .op = op_touch, .arg = &a[j] };
	}
	snprintf(name, sizeof(name), "first touch %s %s (mmap+touch+munmap)",
		 what, size_name(size));
	compare(&p, s);
}

static void bench_fault(const unsigned long *sizes, int nsizes)
{
	struct udmabuf_arg ua;
	int dev[2], buf[2], memfd, i, j;

	if (!open_udmabuf_pair(dev, "fault")) {
		for (i = 0; i < nsizes; i++) {
			memfd = make_memfd(sizes[i], 0);
			if (memfd < 0)
				break;
			for (j = 0; j < 2; j++) {
				ua = (struct udmabuf_arg){ .dev = dev[j],
					.memfd = memfd, .size = sizes[i] };
				buf[j] = udmabuf_make(&ua);
			}
			if (buf[0] >= 0 && buf[1] >= 0)
				touch_pair("fault-udmabuf", "udmabuf", buf,
					   sizes[i]);
			else
				note("fault", "udmabuf %s: %s",
				     size_name(sizes[i]), strerror(errno));
			for (j = 0; j < 2; j++)
				if (buf[j] >= 0)
					close(buf[j]);
			close(memfd);
		}
		close(dev[0]);
		close(dev[1]);
	}
	if (!open_heap_pair(dev, "fault")) {
		for (i = 0; i < nsizes; i++) {
			for (j = 0; j < 2; j++)
				buf[j] = heap_alloc(dev[j], sizes[i]);
			if (buf[0] >= 0 && buf[1] >= 0)
				touch_pair("fault-heap", "heap", buf, sizes[i]);
			else
				note("fault", "heap %s: %s",
				     size_name(sizes[i]), strerror(errno));
			for (j = 0; j < 2; j++)
				if (buf[j] >= 0)
					close(buf[j]);
		}
		close(dev[0]);
		close(dev[1]);
	}
}

/* ---- CPU bandwidth through mmap ---- */

struct copy_arg {
	void *dst;
	const void *src;
	unsigned long size;
};

static int op_copy(void *arg)
{
	struct copy_arg *a = arg;

	memcpy(a->dst, a->src, a->size);
	/* Keep the compiler from dropping a copy nobody reads. */
	__asm__ volatile("" : : "r"(a->dst) : "memory");
	return 0;
}

/* A buffer of an exporter, mmap'ed and touched; NULL when there is none. */
static void *map_buffer(int fd, unsigned long size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 1, size);
	return p;
}

static void bandwidth_pair(const char *exporter, void *buf, void *anon_a,
			   void *anon_b, unsigned long size)
{
	struct copy_arg a[2];
	struct side s[2];
	char name[96], series[64];
	struct point p = { "bw", series, name, size, "MiB/s", 1, 0, size };
	int write;

	for (write = 0; write <= 1; write++) {
		snprintf(series, sizeof(series), "bw-%s-%s",
			 write ? "write" : "read", exporter);
		snprintf(name, sizeof(name), "CPU %s bandwidth %s %s (memcpy)",
			 write ? "write" : "read", exporter, size_name(size));
		a[0] = (struct copy_arg){ .dst = write ? buf : anon_a,
			.src = write ? anon_a : buf, .size = size };
		a[1] = (struct copy_arg){ .dst = anon_b, .src = anon_a,
			.size = size };
		s[0] = (struct side){ .op = op_copy, .arg = &a[0] };
		s[1] = (struct side){ .op = op_copy, .arg = &a[1] };
		compare(&p, s);
	}
}

static void bench_bandwidth(unsigned long size)
{
	static const struct {
		const char *name, *dev;
		int heap;
	} exporters[] = {
		{ "udmabuf-ours", OURS_UDMABUF, 0 },
		{ "udmabuf-upstream", BASE_UDMABUF, 0 },
		{ "heap-ours", OURS_HEAP, 1 },
		{ "heap-upstream", BASE_HEAP, 1 },
		{ "heap-uncached-wc", UNCACHED_HEAP, 1 },
	};
	char *anon_a, *anon_b;
	unsigned int i;
	int memfd;

	anon_a = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	anon_b = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon_a == MAP_FAILED || anon_b == MAP_FAILED) {
		note("bw", "anonymous memory: %s", strerror(errno));
		return;
	}
	memset(anon_a, 2, size);
	memset(anon_b, 3, size);
	memfd = make_memfd(size, 0);

	for (i = 0; i < sizeof(exporters) / sizeof(exporters[0]); i++) {
		int dev = open(exporters[i].dev, O_RDWR | O_CLOEXEC), fd;
		void *p;

		if (dev < 0) {
			note("bw", "%s: %s", exporters[i].dev, strerror(errno));
			continue;
		}
		if (exporters[i].heap) {
			fd = heap_alloc(dev, size);
		} else {
			struct udmabuf_arg ua = { .dev = dev, .memfd = memfd,
						  .size = size };

			fd = memfd < 0 ? -1 : udmabuf_make(&ua);
		}
		p = fd < 0 ? NULL : map_buffer(fd, size);
		if (p)
			bandwidth_pair(exporters[i].name, p, anon_a, anon_b,
				       size);
		else
			note("bw", "%s: %s", exporters[i].name, strerror(errno));
		if (p)
			munmap(p, size);
		if (fd >= 0)
			close(fd);
		close(dev);
	}
	if (memfd >= 0)
		close(memfd);
	munmap(anon_a, size);
	munmap(anon_b, size);
}

/* ---- kernel memory per live buffer ---- */

/*
 * Slab plus page tables, in bytes, from /proc/meminfo, after folding the
 * CPUs' pending counter updates in (vm.stat_refresh): without that, the
 * counters lag by up to a few hundred KiB.
 */
static long long kernel_bytes(void)
{
	char line[128];
	long long kb, total = 0;
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	FILE *f;

	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			fd = -1;
		close(fd);
	}
	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Slab: %lld", &kb) == 1 ||
		    sscanf(line, "PageTables: %lld", &kb) == 1)
			total += kb * 1024;
	}
	fclose(f);
	return total;
}

/*
 * @n live buffers of @size, each mmap'ed and touched: the growth of slab
 * and page tables, in bytes per MiB of buffer, in *@cost.  The growth can
 * be negative: slab that something else freed meanwhile outweighs a
 * driver that needs little.  -1 (errno set) on failure, else 0.
 */
static int live_cost(int dev, int heap, int memfd, unsigned long size, int n,
		     double *cost)
{
	int fds[256], i, made = 0;
	void *maps[256];
	long long before, after;
	int ret = -1;

	sync();
	drop_caches();
	usleep(20000);
	before = kernel_bytes();
	for (i = 0; i < n; i++) {
		struct udmabuf_arg ua = { .dev = dev, .memfd = memfd,
					  .size = size };

		fds[i] = heap ? heap_alloc(dev, size) : udmabuf_make(&ua);
		if (fds[i] < 0)
			break;
		maps[i] = map_buffer(fds[i], size);
		made++;
		if (!maps[i])
			break;
	}
	if (made == n && maps[n - 1]) {
		after = kernel_bytes();
		*cost = (double)(after - before) / ((double)size * n / MiB);
		ret = 0;
	}
	for (i = 0; i < made; i++) {
		if (maps[i])
			munmap(maps[i], size);
		close(fds[i]);
	}
	return ret;
}

static void memory_pair(const char *kind, const int dev[2], int heap,
			int memfd, unsigned long size, int n)
{
	double v[2][MAX_BATCHES], ratio[MAX_BATCHES];
	char name[96], series[64];
	struct point p = { "mem", series, name, size, "B/MiB", 0, 1, 0 };
	int r, i, j;

	snprintf(series, sizeof(series), "mem-%s", kind);
	snprintf(name, sizeof(name),
		 "kernel memory per MiB, %d live %s buffers of %s", n, kind,
		 size_name(size));
	/* Once untimed each, for the caches' sake. */
	for (j = 0; j < 2; j++)
		live_cost(dev[j], heap, memfd, size, n, &v[j][0]);
	for (r = 0; r < cfg.mem_reps; r++) {
		for (i = 0; i < 2; i++) {
			j = i ^ (r & 1);
			if (live_cost(dev[j], heap, memfd, size, n, &v[j][r])) {
				note("mem", "%s: %s", name, strerror(errno));
				return;
			}
		}
		/* Floors at one byte per MiB: a baseline of 0 has no ratio. */
		ratio[r] = (v[0][r] > 1 ? v[0][r] : 1) /
			   (v[1][r] > 1 ? v[1][r] : 1);
	}
	print_result(&p, v[0], v[1], ratio, cfg.mem_reps, n);
}

static void bench_memory(void)
{
	static const struct { unsigned long size; int n; } pts[] = {
		{ 64 * KiB, 256 }, { MiB, 64 }, { 16 * MiB, 8 },
	};
	int dev[2], memfd;
	unsigned int i;

	if (!open_udmabuf_pair(dev, "mem")) {
		/* Every buffer of a point shares the first pages of one memfd. */
		memfd = make_memfd(16 * MiB, 0);
		for (i = 0; memfd >= 0 && i < sizeof(pts) / sizeof(pts[0]); i++)
			memory_pair("udmabuf", dev, 0, memfd, pts[i].size,
				    pts[i].n);
		if (memfd >= 0)
			close(memfd);
		close(dev[0]);
		close(dev[1]);
	}
	if (!open_heap_pair(dev, "mem")) {
		for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
			memory_pair("heap", dev, 1, -1, pts[i].size, pts[i].n);
		close(dev[0]);
		close(dev[1]);
	}
}

/* ---- fences ---- */

/*
 * Both sides wake a thread that sleeps and hear back from it through the
 * same eventfd, so they differ only in what wakes the thread:
 *  - baseline: an eventfd write wakes a thread blocked in read();
 *  - ours: a fence of a /dev/dmabridge-sync timeline is created, and the
 *    thread, blocked in poll() on the fence created one round earlier, is
 *    woken by the timeline being signaled past it (it then closes it).
 * One round: create the next fence, signal the current one, await the ack.
 *
 * The fence floor runs the same round with an eventfd made per round in
 * place of each fence: made by eventfd(), signaled by a write, polled and
 * closed by the waiter alike.  That is what any fence handed to userspace
 * as a file pays (a new file and fd, a poll, the close), so against the
 * eventfd round trip it bounds the fence row from below, and ours against
 * it is what the timeline, the fence and its sync_file add.
 */
struct pingpong {
	int ping, pong;		/* eventfds: to the waiter, and back */
};

static void *eventfd_waiter(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t v;

	/* Blocks in read: each ping wakes a sleeping thread. */
	while (read(pp->ping, &v, sizeof(v)) == sizeof(v)) {
		if (v > 1)	/* the last one */
			break;
		if (write(pp->pong, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

static int op_eventfd_roundtrip(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t one = 1, got;

	if (write(pp->ping, &one, sizeof(one)) != sizeof(one))
		return -1;
	return read(pp->pong, &got, sizeof(got)) == sizeof(got) ? 0 : -1;
}

#define FENCE_RING 64
#define SYNC_DEV "/dev/dmabridge-sync"

struct fencepp {
	int timeline;			/* -1: an eventfd per round (the floor) */
	int pong;
	uint64_t value;			/* the fence the waiter waits for */
	int fds[FENCE_RING];		/* fence fds by value, -1: none yet */
	int stop;
	pthread_t waiter;
};

static int fence_create(struct fencepp *fp, uint64_t value)
{
	struct dmabridge_sync_fence_create c = {
		.value = value, .flags = DMABRIDGE_SYNC_CLOEXEC, .fd = -1,
	};

	if (fp->timeline < 0)
		c.fd = eventfd(0, EFD_CLOEXEC);
	else if (ioctl(fp->timeline, DMABRIDGE_SYNC_IOC_FENCE_CREATE, &c))
		return -1;
	if (c.fd < 0)
		return -1;
	__atomic_store_n(&fp->fds[value % FENCE_RING], c.fd, __ATOMIC_RELEASE);
	return 0;
}

static int fence_signal(struct fencepp *fp, uint64_t value)
{
	struct dmabridge_sync_signal sig = { .value = value };
	uint64_t one = 1;

	/* The waiter closes a fence only once it has been signaled. */
	if (fp->timeline < 0)
		return write(fp->fds[value % FENCE_RING], &one, sizeof(one)) ==
		       sizeof(one) ? 0 : -1;
	return ioctl(fp->timeline, DMABRIDGE_SYNC_IOC_SIGNAL, &sig);
}

static void *fence_waiter(void *arg)
{
	struct fencepp *fp = arg;
	uint64_t w, one = 1;

	for (w = 1;; w++) {
		int *slot = &fp->fds[w % FENCE_RING], fd;
		struct pollfd pfd = { .events = POLLIN };

		/* Created before the previous one was signaled: never waits. */
		while ((fd = __atomic_load_n(slot, __ATOMIC_ACQUIRE)) < 0)
			;
		pfd.fd = fd;
		if (poll(&pfd, 1, -1) != 1)
			break;
		close(fd);
		__atomic_store_n(slot, -1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&fp->stop, __ATOMIC_ACQUIRE))
			break;
		if (write(fp->pong, &one, sizeof(one)) != sizeof(one))
			break;
	}
	return NULL;
}

static int op_fence_roundtrip(void *arg)
{
	struct fencepp *fp = arg;
	uint64_t got, v = ++fp->value;

	if (fence_create(fp, v + 1) || fence_signal(fp, v))
		return -1;
	return read(fp->pong, &got, sizeof(got)) == sizeof(got) ? 0 : -1;
}

/* The first fence made and its waiter started; on failure, nothing left. */
static int fencepp_start(struct fencepp *fp, int timeline)
{
	int i, err;

	fp->timeline = timeline;
	fp->value = 0;
	fp->stop = 0;
	for (i = 0; i < FENCE_RING; i++)
		fp->fds[i] = -1;
	fp->pong = eventfd(0, EFD_CLOEXEC);
	if (fp->pong < 0)
		return -1;
	if (fence_create(fp, 1))
		goto err;
	errno = pthread_create(&fp->waiter, NULL, fence_waiter, fp);
	if (!errno)
		return 0;
	close(fp->fds[1]);
err:
	err = errno;
	close(fp->pong);
	errno = err;
	return -1;
}

static void fencepp_stop(struct fencepp *fp)
{
	int i;

	__atomic_store_n(&fp->stop, 1, __ATOMIC_RELEASE);
	/* The waiter waits for the next fence: it wakes and sees the stop. */
	fence_signal(fp, fp->value + 1);
	pthread_join(fp->waiter, NULL);
	for (i = 0; i < FENCE_RING; i++)
		if (fp->fds[i] >= 0)
			close(fp->fds[i]);
	close(fp->pong);
}

static void bench_fence(void)
{
	struct pingpong pp = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	struct dmabridge_sync_timeline_create tc = {
		.flags = DMABRIDGE_SYNC_CLOEXEC, .name = "dmabench",
	};
	struct fencepp fp, floor;
	struct point p = { "fence", "fence",
			   "fence create+signal+wake a waiter (one CPU)",
			   0, "us", 0, 1000, 0 };
	struct side s[2] = {
		{ .op = op_fence_roundtrip, .arg = &fp },
		{ .op = op_eventfd_roundtrip, .arg = &pp },
	};
	uint64_t stop = 2;
	cpu_set_t all, one;
	pthread_t te;
	int dev;

	/*
	 * Everything on one CPU: a wakeup is then a local context switch.
	 * Across the guest's vCPUs it needs an IPI to a halted vCPU, which
	 * under TCG on a busy host now and then takes a whole timer tick,
	 * and the round trips jump between 40 us and 4 ms.
	 */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_getaffinity(0, sizeof(all), &all) ||
	    sched_setaffinity(0, sizeof(one), &one))
		note("fence", "cannot pin to CPU 0: %s", strerror(errno));

	dev = open(SYNC_DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		note("fence", "%s: %s (is the fences module loaded?)", SYNC_DEV,
		     strerror(errno));
		goto out_affinity;
	}
	if (ioctl(dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &tc)) {
		note("fence", "timeline: %s", strerror(errno));
		goto out_dev;
	}
	if (pp.ping < 0 || pp.pong < 0 ||
	    (errno = pthread_create(&te, NULL, eventfd_waiter, &pp))) {
		note("fence", "setup: %s", strerror(errno));
		goto out_timeline;
	}
	if (fencepp_start(&fp, tc.fd)) {
		note("fence", "setup: %s", strerror(errno));
		goto out_eventfd;
	}
	if (fencepp_start(&floor, -1)) {
		note("fence", "setup: %s", strerror(errno));
		goto out_fence;
	}
	compare(&p, s);

	s[0].arg = &floor;
	p.series = "fence-floor";
	p.name = "fence round trip: an eventfd per round (the floor)";
	compare(&p, s);

	s[0].arg = &fp;
	s[1].op = op_fence_roundtrip;
	s[1].arg = &floor;
	p.series = "fence-over-floor";
	p.name = "fence round trip: ours over the floor";
	compare(&p, s);

	fencepp_stop(&floor);
out_fence:
	fencepp_stop(&fp);
out_eventfd:
	if (write(pp.ping, &stop, sizeof(stop)) == sizeof(stop))
		pthread_join(te, NULL);
out_timeline:
	close(tc.fd);
out_dev:
	close(dev);
out_affinity:
	if (pp.ping >= 0)
		close(pp.ping);
	if (pp.pong >= 0)
		close(pp.pong);
	sched_setaffinity(0, sizeof(all), &all);
}

static int write_str(const char *path, const char *s);

/* ---- Xen grants (in a Xen dom0, with self-grants) ---- */

#define XEN_GNTDEV "/dev/xen/gntdev"
#define XEN_GNTALLOC "/dev/xen/gntalloc"
#define XEN_GDB "/dev/xen/gntdev-dmabuf"
#define XEN_GNTALLOC_LIMIT "/sys/module/xen_gntalloc/parameters/limit"
#define XEN_SELF 0	/* dom0 maps its own grants */

struct xen_arg {
	int dev;		/* gntdev-dmabuf, gntdev or gntalloc */
	uint32_t count;
	int buf;		/* import: the dma-buf granted */
	uint32_t *refs;		/* the self-grants (export, gntdev map) */
	void *req;		/* the ioctl's argument, filled once */
};

/* Ours: EXP_FROM_REFS, then close of the dma-buf. */
static int op_xen_export(void *arg)
{
	struct xen_arg *a = arg;
	struct ioctl_gntdev_dmabuf_exp_from_refs *e = a->req;

	if (ioctl(a->dev, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, e))
		return -1;
	return close(e->fd);
}

/* Baseline: gntdev's MAP_GRANT_REF and UNMAP_GRANT_REF, no mmap. */
static int op_xen_gntdev_map(void *arg)
{
	struct xen_arg *a = arg;
	struct ioctl_gntdev_map_grant_ref *m = a->req;
	struct ioctl_gntdev_unmap_grant_ref u = { .count = a->count };

	if (ioctl(a->dev, IOCTL_GNTDEV_MAP_GRANT_REF, m))
		return -1;
	u.index = m->index;
	return ioctl(a->dev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
}

/* Reference: the same with mmap and munmap, which map the grants in PV. */
static int op_xen_gntdev_mmap(void *arg)
{
	struct xen_arg *a = arg;
	struct ioctl_gntdev_map_grant_ref *m = a->req;
	struct ioctl_gntdev_unmap_grant_ref u = { .count = a->count };
	void *p;

	if (ioctl(a->dev, IOCTL_GNTDEV_MAP_GRANT_REF, m))
		return -1;
	u.index = m->index;
	p = mmap(NULL, a->count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 a->dev, m->index);
	if (p == MAP_FAILED)
		return -1;
	if (munmap(p, a->count * PAGE))
		return -1;
	return ioctl(a->dev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
}

/* Ours: IMP_TO_REFS of a live dma-buf, then IMP_RELEASE. */
static int op_xen_import(void *arg)
{
	struct xen_arg *a = arg;
	struct ioctl_gntdev_dmabuf_imp_release r = { .fd = a->buf };

	if (ioctl(a->dev, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, a->req))
		return -1;
	return ioctl(a->dev, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, &r);
}

/* Baseline: gntalloc ALLOC_GREF of as many pages, then DEALLOC_GREF. */
static int op_xen_gntalloc(void *arg)
{
	struct xen_arg *a = arg;
	struct ioctl_gntalloc_alloc_gref *g = a->req;
	struct ioctl_gntalloc_dealloc_gref d = { .count = a->count };

	if (ioctl(a->dev, IOCTL_GNTALLOC_ALLOC_GREF, g))
		return -1;
	d.index = g->index;
	return ioctl(a->dev, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
}

static struct ioctl_gntalloc_alloc_gref *gntalloc_req(uint32_t count)
{
	struct ioctl_gntalloc_alloc_gref *g;

	g = calloc(1, sizeof(*g) + count * sizeof(uint32_t));
	if (g) {
		g->domid = XEN_SELF;
		g->flags = GNTALLOC_FLAG_WRITABLE;
		g->count = count;
	}
	return g;
}

static void bench_xen_export(int gdb, int gntalloc, uint32_t count)
{
	struct ioctl_gntalloc_alloc_gref *g = gntalloc_req(count);
	struct ioctl_gntdev_dmabuf_exp_from_refs *e;
	struct ioctl_gntdev_map_grant_ref *m;
	struct ioctl_gntalloc_dealloc_gref d = { .count = count };
	struct xen_arg ours = { .dev = gdb, .count = count };
	struct xen_arg base = { .count = count };
	char name[128];
	uint32_t i;

	e = calloc(1, sizeof(*e) + count * sizeof(uint32_t));
	m = calloc(1, sizeof(*m) + count * sizeof(m->refs[0]));
	base.dev = open(XEN_GNTDEV, O_RDWR | O_CLOEXEC);
	if (!g || !e || !m || base.dev < 0) {
		note("xen", "export %u pages: setup: %s", count, strerror(errno));
		goto out;
	}
	/* The refs both sides map: pages dom0 grants to itself. */
	if (ioctl(gntalloc, IOCTL_GNTALLOC_ALLOC_GREF, g)) {
		note("xen", "export %u pages: gntalloc of the refs: %s", count,
		     strerror(errno));
		goto out;
	}
	e->count = count;
	e->domid = XEN_SELF;
	memcpy(e->refs, g->gref_ids, count * sizeof(uint32_t));
	m->count = count;
	for (i = 0; i < count; i++) {
		m->refs[i].domid = XEN_SELF;
		m->refs[i].ref = g->gref_ids[i];
	}
	ours.req = e;
	base.req = m;
	{
		struct side s[2] = { { op_xen_export, NULL, &ours },
				     { op_xen_gntdev_map, NULL, &base } };
		struct point p = { "xen", "xen-exp", name, count * PAGE, "us",
				   0, 1000, 0 };

		/* For reference: the ioctls alone, which map nothing in PV. */
		snprintf(name, sizeof(name),
			 "xen EXP_FROM_REFS+close %u pages vs gntdev ioctls only",
			 count);
		compare(&p, s);
		/*
		 * The target: what xengnttab_map_grant_refs() does, the ioctl
		 * and the mmap that maps the grants.
		 */
		s[1].op = op_xen_gntdev_mmap;
		p.series = "xen-exp-mmap";
		snprintf(name, sizeof(name),
			 "xen EXP_FROM_REFS+close %u pages vs gntdev map+mmap",
			 count);
		compare(&p, s);
	}
	d.index = g->index;
	ioctl(gntalloc, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
out:
	if (base.dev >= 0)
		close(base.dev);
	free(g);
	free(e);
	free(m);
}

/* A dma-buf of @count pages: our udmabuf of a memfd, or our system heap. */
static int xen_dmabuf(uint32_t count)
{
	struct udmabuf_arg ua = { .size = count * PAGE };
	int fd = -1;

	ua.dev = open(OURS_UDMABUF, O_RDWR | O_CLOEXEC);
	ua.memfd = make_memfd(ua.size, 0);
	if (ua.dev >= 0 && ua.memfd >= 0)
		fd = udmabuf_make(&ua);
	if (ua.dev >= 0)
		close(ua.dev);
	if (ua.memfd >= 0)
		close(ua.memfd);
	if (fd < 0) {
		int heap = open(OURS_HEAP, O_RDWR | O_CLOEXEC);

		if (heap >= 0) {
			fd = heap_alloc(heap, count * PAGE);
			close(heap);
		}
	}
	return fd;
}

static void bench_xen_import(int gdb, int gntalloc, uint32_t count)
{
	struct ioctl_gntdev_dmabuf_imp_to_refs *r;
	struct xen_arg ours = { .dev = gdb, .count = count };
	struct xen_arg base = { .dev = gntalloc, .count = count };
	char name[128];

	r = calloc(1, sizeof(*r) + count * sizeof(uint32_t));
	base.req = gntalloc_req(count);
	ours.buf = xen_dmabuf(count);
	if (!r || !base.req || ours.buf < 0) {
		note("xen", "import %u pages: setup (a dma-buf from %s or %s): %s",
		     count, OURS_UDMABUF, OURS_HEAP, strerror(errno));
		goto out;
	}
	r->fd = ours.buf;
	r->count = count;
	r->domid = XEN_SELF;
	ours.req = r;
	{
		struct side s[2] = { { op_xen_import, NULL, &ours },
				     { op_xen_gntalloc, NULL, &base } };
		struct point p = { "xen", "xen-imp", name, count * PAGE, "us",
				   0, 1000, 0 };

		snprintf(name, sizeof(name),
			 "xen IMP_TO_REFS+IMP_RELEASE %u pages vs gntalloc", count);
		compare(&p, s);
	}
out:
	if (ours.buf >= 0)
		close(ours.buf);
	free(r);
	free(base.req);
}

static void bench_xen(const unsigned long *pages, int npages)
{
	int gdb, gntalloc, i;
	char lim[32];

	if (access("/sys/hypervisor/type", F_OK)) {
		note("xen", "not a Xen domain (bench/run boots one with --xen)");
		return;
	}
	gdb = open(XEN_GDB, O_RDWR | O_CLOEXEC);
	gntalloc = open(XEN_GNTALLOC, O_RDWR | O_CLOEXEC);
	if (gdb < 0 || gntalloc < 0) {
		note("xen", "%s or %s: %s", XEN_GDB, XEN_GNTALLOC, strerror(errno));
		goto out;
	}
	/*
	 * gntalloc allows 1024 grants by default (all its files together);
	 * the largest point holds the exported refs and a baseline's at once.
	 */
	snprintf(lim, sizeof(lim), "%lu", 4 * pages[npages - 1] + 1024);
	if (write_str(XEN_GNTALLOC_LIMIT, lim))
		note("xen", "%s: %s", XEN_GNTALLOC_LIMIT, strerror(errno));
	printf("I\txen_gntalloc_limit\t%s\n", lim);
	fflush(stdout);
	for (i = 0; i < npages; i++)
		bench_xen_export(gdb, gntalloc, pages[i]);
	for (i = 0; i < npages; i++)
		bench_xen_import(gdb, gntalloc, pages[i]);
out:
	if (gdb >= 0)
		close(gdb);
	if (gntalloc >= 0)
		close(gntalloc);
}

static int parse_sizes(const char *arg, unsigned long *sizes, int max);

/* ---- tracing one operation (for finding where the time goes) ---- */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * --trace DEV SIZE cold|warm: one allocation and free of SIZE from heap
 * DEV (a udmabuf device: one create+close of a memfd of SIZE), with
 * tracing on around it and only for this process; the caller sets the
 * tracer up (bench/trace).  "cold" drops the caches before it.
 */
static int trace_once(const char *dev_path, const char *size_arg,
		      const char *mode)
{
	const char *tr = "/sys/kernel/tracing";
	char path[128], pid[32];
	unsigned long size;
	int dev, memfd = -1, i, ret;
	struct udmabuf_arg ua;
	struct heap_arg ha;
	int udmabuf = strstr(dev_path, "udmabuf") != NULL;

	if (parse_sizes(size_arg, &size, 1) != 1)
		return 2;
	if (access("/sys/kernel/tracing/trace", F_OK))
		tr = "/sys/kernel/debug/tracing";
	dev = open(dev_path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return perror(dev_path), 1;
	ua = (struct udmabuf_arg){ .dev = dev, .size = size };
	ha = (struct heap_arg){ .dev = dev, .size = size };
	if (udmabuf) {
		memfd = make_memfd(size, 0);
		ua.memfd = memfd;
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	snprintf(path, sizeof(path), "%s/set_ftrace_pid", tr);
	if (write_str(path, pid))
		return perror(path), 1;
	/*
	 * Untraced runs first, also when cold: setting the tracer up
	 * patched every function's entry, and the first run after that pays
	 * for QEMU translating the kernel's code again, which under TCG
	 * costs more than the operation itself.
	 */
	for (i = 0; i < 5; i++) {
		if (!strcmp(mode, "cold"))
			drop_caches();
		if (udmabuf ? op_udmabuf_create(&ua) : op_heap_alloc_free(&ha))
			return perror("warm-up"), 1;
	}
	if (!strcmp(mode, "cold")) {
		drop_caches();
		usleep(cfg.settle_us);
	}
	snprintf(path, sizeof(path), "%s/tracing_on", tr);
	write_str(path, "1");
	ret = udmabuf ? op_udmabuf_create(&ua) : op_heap_alloc_free(&ha);
	write_str(path, "0");
	if (ret)
		perror(dev_path);
	if (memfd >= 0)
		close(memfd);
	close(dev);
	return ret ? 1 : 0;
}

/* ---- main ---- */

static int parse_sizes(const char *arg, unsigned long *sizes, int max)
{
	int n = 0;
	char *end;

	while (*arg && n < max) {
		unsigned long v = strtoul(arg, &end, 10);

		if (*end == 'K' || *end == 'k')
			v *= KiB, end++;
		else if (*end == 'M' || *end == 'm')
			v *= MiB, end++;
		if (!v || v % PAGE || (*end && *end != ','))
			return -1;
		sizes[n++] = v;
		arg = *end ? end + 1 : end;
	}
	return n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dmabench [--batches N] [--batch-ms MS] [--warmup N] [--mem-reps N] [--settle-us US]\n"
		"                [--sizes 4K,64K,1M,...] [--fault-sizes ...] [--bw-size SIZE]\n"
		"                [--only udmabuf,heap,fault,bw,mem,fence,xen] [--xen-pages 1,256,2048]\n"
		"       dmabench --trace DEVICE SIZE cold|warm   (see bench/trace)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long sizes[16] = { 4 * KiB, 64 * KiB, MiB, 16 * MiB, 64 * MiB };
	unsigned long fault_sizes[16] = { 64 * KiB, MiB, 16 * MiB };
	unsigned long xen_pages[16] = { 1, 256, 2048 };
	unsigned long bw_size = 16 * MiB;
	int nsizes = 5, nfault = 3, nxen = 3, i;
	char cmdline[1024] = "";
	FILE *f;

	if (argc == 5 && !strcmp(argv[1], "--trace"))
		return trace_once(argv[2], argv[3], argv[4]);
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(o, "--batches"))
			cfg.batches = atoi(v);
		else if (!strcmp(o, "--batch-ms"))
			cfg.batch_ns = atof(v) * 1e6;
		else if (!strcmp(o, "--warmup"))
			cfg.warmup = atoi(v);
		else if (!strcmp(o, "--mem-reps"))
			cfg.mem_reps = atoi(v);
		else if (!strcmp(o, "--settle-us"))
			cfg.settle_us = atoi(v);
		else if (!strcmp(o, "--only"))
			cfg.only = v;
		else if (!strcmp(o, "--sizes"))
			nsizes = parse_sizes(v, sizes, 16);
		else if (!strcmp(o, "--fault-sizes"))
			nfault = parse_sizes(v, fault_sizes, 16);
		else if (!strcmp(o, "--xen-pages")) {
			char *end;

			for (nxen = 0; *v && nxen < 16; nxen++) {
				xen_pages[nxen] = strtoul(v, &end, 10);
				if (!xen_pages[nxen] || (*end && *end != ','))
					usage();
				v = *end ? end + 1 : end;
			}
		} else if (!strcmp(o, "--bw-size")) {
			unsigned long b[1];

			if (parse_sizes(v, b, 1) != 1)
				usage();
			bw_size = b[0];
		} else
			usage();
	}
	if (cfg.batches < 1 || cfg.batches > MAX_BATCHES || cfg.warmup < 0 ||
	    cfg.mem_reps < 1 || cfg.mem_reps > MAX_BATCHES || nsizes < 1 ||
	    nfault < 1 || nxen < 1 || cfg.batch_ns <= 0)
		usage();

	f = fopen("/proc/cmdline", "re");
	if (f) {
		if (fgets(cmdline, sizeof(cmdline), f))
			cmdline[strcspn(cmdline, "\n")] = 0;
		fclose(f);
	}
	printf("I\tcmdline\t%s\n", cmdline);
	printf("I\tbatches\t%d\nI\tbatch_ms\t%g\nI\twarmup\t%d\nI\tcold_settle_us\t%d\n",
	       cfg.batches, cfg.batch_ns / 1e6, cfg.warmup, cfg.settle_us);
	fflush(stdout);

	if (want("udmabuf"))
		bench_udmabuf(sizes, nsizes);
	if (want("heap"))
		bench_heap(sizes, nsizes);
	if (want("fault"))
		bench_fault(fault_sizes, nfault);
	if (want("bw"))
		bench_bandwidth(bw_size);
	if (want("mem"))
		bench_memory();
	if (want("fence"))
		bench_fence();
	/* Not in "all": it needs a Xen dom0 (bench/run boots one for it). */
	if (cfg.only && want("xen"))
		bench_xen(xen_pages, nxen);
	return 0;
}
