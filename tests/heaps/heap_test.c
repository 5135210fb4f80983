// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge's dma-buf heaps: upstream's UAPI checks and errnos, what a
 * buffer offers (mmap, CPU-access syncs, names, implicit sync, PRIME
 * import), no stale data ever, ENOMEM without OOM kills, memory cgroup
 * charging, usage in sysfs, the contiguous heap's allocator, a soak, and
 * module unload while buffers live.
 *
 * One variant per heap; a variant whose heap is not there skips:
 *   system           dmabridge's system heap ("system" on 6.1,
 *                    "dmabridge-system" where the kernel has a "system")
 *   system_uncached  dmabridge's "system-uncached"
 *   contiguous       dmabridge's "contiguous"; the test gives the module
 *                    the region the guest booted with (memmap=SIZE$ADDR)
 *   kernel_system    the kernel's own "system" (6.12), for comparison:
 *                    the tests of dmabridge's own promises skip on it
 * Heaps are found through /sys/class/dmabridge_heap/; a heap there that
 * no variant covers fails every_dmabridge_heap_is_tested.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <drm/drm.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "kselftest_harness.h"
#include "dmabridge_test_util.h"
#include "dmabridge_dmabuf_checks.h"
#include "dmabridge.h"

#define PAGE 4096UL
#define MiB (1UL << 20)
#define MODULE "dmabridge_heaps"
#define PARAMS "/sys/module/" MODULE "/parameters/"

static const char *const covered[] = {
	"system", "dmabridge-system", "system-uncached", "contiguous",
};

static bool path_exists(const char *fmt, const char *arg)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), fmt, arg);
	return stat(path, &st) == 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Run the shrinkers, the pools' among them. */
static void drop_caches(void)
{
	sync();
	write_file("/proc/sys/vm/drop_caches", "3");
}

/* Lines of the kernel log that say the OOM killer ran. */
static int oom_lines(void)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), n = 0;
	char *buf, *p;

	if (len <= 0)
		return -1;
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	for (p = buf; (p = strstr(p, "Out of memory")); p++)
		n++;
	for (p = buf; (p = strstr(p, "oom-kill")); p++)
		n++;
	for (p = buf; (p = strstr(p, "invoked oom-killer")); p++)
		n++;
	free(buf);
	return n;
}

/*
 * The guest booted with memmap=SIZE$ADDR: hand that region to the module
 * unless it has one.  Returns 0 when the contiguous heap has a region.
 */
static int setup_carveout(void)
{
	char cmdline[4096], val[128], *m, arg[128];
	unsigned long long size, addr;
	char unit;

	if (!read_file(PARAMS "carveout", val, sizeof(val)) && val[0] &&
	    strcmp(val, "(none)") && strcmp(val, "0"))
		return 0;
	if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)))
		return -ENOENT;
	m = strstr(cmdline, "memmap=");
	if (!m || sscanf(m, "memmap=%llu%c$%llx", &size, &unit, &addr) != 3)
		return -ENOENT;
	switch (unit) {
	case 'G': size <<= 30; break;
	case 'M': size <<= 20; break;
	case 'K': size <<= 10; break;
	default: return -EINVAL;
	}
	snprintf(arg, sizeof(arg), "%llu@0x%llx", size, addr);
	return write_file(PARAMS "carveout", arg);
}

/* [start, end) of the carveout from /proc/cmdline; 0 if none. */
static int carveout_range(uint64_t *start, uint64_t *end)
{
	char cmdline[4096], *m, unit;
	unsigned long long size, addr;

	if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)))
		return -ENOENT;
	m = strstr(cmdline, "memmap=");
	if (!m || sscanf(m, "memmap=%llu%c$%llx", &size, &unit, &addr) != 3)
		return -ENOENT;
	size <<= unit == 'G' ? 30 : unit == 'M' ? 20 : unit == 'K' ? 10 : 0;
	*start = addr;
	*end = addr + size;
	return 0;
}

FIXTURE(heap)
{
	char name[64];
	int heap;
	bool ours;
};

FIXTURE_VARIANT(heap)
{
	const char *name;	/* NULL: dmabridge's system heap */
	bool kernel;		/* the kernel's heap, not ours */
};

FIXTURE_VARIANT_ADD(heap, system) { .name = NULL };
FIXTURE_VARIANT_ADD(heap, system_uncached) { .name = "system-uncached" };
FIXTURE_VARIANT_ADD(heap, contiguous) { .name = "contiguous" };
FIXTURE_VARIANT_ADD(heap, kernel_system) { .name = "system", .kernel = true };

FIXTURE_SETUP(heap)
{
	char path[128];

	self->heap = -1;
	snprintf(self->name, sizeof(self->name), "%s",
		 variant->name ? variant->name : dmabridge_heap_system_name());
	self->ours = !variant->kernel;
	if (self->ours && !strcmp(self->name, "contiguous"))
		setup_carveout();
	if (self->ours && !path_exists("/sys/class/dmabridge_heap/%s", self->name))
		SKIP(return, "dmabridge has no heap %s here", self->name);
	if (!self->ours && !path_exists("/sys/class/dma_heap/%s", self->name))
		SKIP(return, "the kernel has no heap %s", self->name);
	snprintf(path, sizeof(path), "/dev/dma_heap/%s", self->name);
	self->heap = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(self->heap, 0) TH_LOG("%s: %s", path, strerror(errno));
}

FIXTURE_TEARDOWN(heap)
{
	if (self->heap >= 0)
		close(self->heap);
}

#define OURS_ONLY(why) do {						\
	if (!self->ours)						\
		SKIP(return, "the kernel's heap: %s", why);		\
} while (0)

#define CONTIGUOUS_ONLY() do {						\
	if (strcmp(self->name, "contiguous"))				\
		SKIP(return, "for the contiguous heap");		\
} while (0)

static int halloc(struct __test_metadata *_metadata, int heap, uint64_t len)
{
	(void)_metadata;
	return heap_ioctl_alloc(heap, len, O_RDWR | O_CLOEXEC, 0);
}

/* A call that fails must fail with @err and leave no fd behind. */
#define EXPECT_FAILS_CLEANLY(err, call) do {				\
	int free_fd_ = next_free_fd(), ret_ = (call);			\
	EXPECT_EQ(-(err), ret_);					\
	if (ret_ >= 0)							\
		close(ret_);						\
	EXPECT_EQ(free_fd_, next_free_fd());				\
} while (0)

TEST(every_dmabridge_heap_is_tested)
{
	DIR *d = opendir("/sys/class/dmabridge_heap");
	struct dirent *de;
	size_t i;
	int n = 0;

	if (!d)
		SKIP(return, "dmabridge_heaps is not loaded");
	while ((de = readdir(d))) {
		bool known = false;

		if (de->d_name[0] == '.')
			continue;
		n++;
		for (i = 0; i < ARRAY_SIZE(covered); i++)
			known |= !strcmp(de->d_name, covered[i]);
		EXPECT_TRUE(known) TH_LOG("heap %s has no variant here", de->d_name);
		EXPECT_TRUE(path_exists("/dev/dma_heap/%s", de->d_name))
			TH_LOG("heap %s has no node in /dev/dma_heap", de->d_name);
	}
	closedir(d);
	TH_LOG("%d dmabridge heaps", n);
	/* Never shadow the kernel's heap. */
	if (path_exists("/sys/class/dma_heap/%s", "system")) {
		EXPECT_FALSE(path_exists("/sys/class/dmabridge_heap/%s", "system"));
	}
}

/* --- upstream's checks --------------------------------------------- */

TEST_F(heap, alloc_gives_a_dmabuf_rounded_up_to_pages)
{
	static const uint64_t lens[] = { 1, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE + 7 };
	char value[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		int fd = halloc(_metadata, self->heap, lens[i]);
		uint64_t want = (lens[i] + PAGE - 1) & ~(PAGE - 1);

		ASSERT_GE(fd, 0) TH_LOG("len %llu: %s", (unsigned long long)lens[i],
				       strerror(-fd));
		EXPECT_EQ(want, (uint64_t)lseek(fd, 0, SEEK_END));
		EXPECT_EQ(0, fdinfo_value(fd, "exp_name", value, sizeof(value)));
		close(fd);
	}
}

TEST_F(heap, fd_field_must_be_zero_on_entry)
{
	struct dma_heap_allocation_data d = {
		.len = PAGE, .fd = 5, .fd_flags = O_RDWR,
	};
	int free_fd = next_free_fd();

	EXPECT_EQ(-1, ioctl(self->heap, DMA_HEAP_IOCTL_ALLOC, &d));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(free_fd, next_free_fd());
}

TEST_F(heap, fd_flags_other_than_access_mode_and_cloexec_are_einval)
{
	static const uint32_t bad[] = { O_NONBLOCK, O_APPEND, O_TRUNC, O_CREAT,
					0x80000000U, O_RDWR | O_SYNC };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_FAILS_CLEANLY(EINVAL,
			heap_ioctl_alloc(self->heap, PAGE, bad[i], 0));
}

TEST_F(heap, fd_flags_decide_access_mode_and_cloexec)
{
	int rw = heap_ioctl_alloc(self->heap, PAGE, O_RDWR, 0);
	int ro = heap_ioctl_alloc(self->heap, PAGE, O_RDONLY | O_CLOEXEC, 0);
	void *p;

	ASSERT_GE(rw, 0);
	ASSERT_GE(ro, 0);
	EXPECT_EQ(O_RDWR, fcntl(rw, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(O_RDONLY, fcntl(ro, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(0, fcntl(rw, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(FD_CLOEXEC, fcntl(ro, F_GETFD) & FD_CLOEXEC);
	/* A read-only buffer fd cannot be mapped writable. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				   MAP_SHARED, ro, 0));
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
	EXPECT_NE(MAP_FAILED, p);
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	close(rw);
	close(ro);
}

TEST_F(heap, nonzero_heap_flags_are_einval)
{
	EXPECT_FAILS_CLEANLY(EINVAL, heap_ioctl_alloc(self->heap, PAGE, O_RDWR, 1));
	EXPECT_FAILS_CLEANLY(EINVAL,
		heap_ioctl_alloc(self->heap, PAGE, O_RDWR, 1ULL << 63));
}

TEST_F(heap, zero_len_is_einval)
{
	EXPECT_FAILS_CLEANLY(EINVAL, heap_ioctl_alloc(self->heap, 0, O_RDWR, 0));
}

TEST_F(heap, unknown_ioctl_number_is_einval_as_upstream)
{
	struct dma_heap_allocation_data d = { .len = PAGE, .fd_flags = O_RDWR };
	int free_fd = next_free_fd();

	EXPECT_EQ(-1, ioctl(self->heap, _IOWR(DMA_HEAP_IOC_MAGIC, 1,
					      struct dma_heap_allocation_data), &d));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->heap, _IO(DMA_HEAP_IOC_MAGIC, 0x7f), NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(free_fd, next_free_fd());
}

TEST_F(heap, foreign_ioctl_type_is_enotty)
{
	struct dma_heap_allocation_data d = { .len = PAGE, .fd_flags = O_RDWR };
	int free_fd = next_free_fd();

	/* Upstream looks at the number only and would allocate here. */
	OURS_ONLY("upstream ignores the ioctl type");
	EXPECT_EQ(-1, ioctl(self->heap, _IOWR('x', 0,
					      struct dma_heap_allocation_data), &d));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(free_fd, next_free_fd());
}

TEST_F(heap, shorter_struct_is_zero_extended)
{
	/* A caller built against a struct without heap_flags. */
	struct {
		uint64_t len;
		uint32_t fd;
		uint32_t fd_flags;
	} d = { .len = 2 * PAGE, .fd_flags = O_RDWR | O_CLOEXEC };

	ASSERT_EQ(0, ioctl(self->heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0, d), &d));
	ASSERT_GT(d.fd, 0U);
	EXPECT_EQ(2 * PAGE, (uint64_t)lseek(d.fd, 0, SEEK_END));
	close(d.fd);
}

TEST_F(heap, longer_struct_tail_is_ignored)
{
	struct {
		struct dma_heap_allocation_data d;
		uint64_t future[2];
	} l = {
		.d = { .len = PAGE, .fd_flags = O_RDWR | O_CLOEXEC },
		.future = { 0xdeadbeefcafef00dULL, 0x0123456789abcdefULL },
	};

	ASSERT_EQ(0, ioctl(self->heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0, l), &l));
	ASSERT_GT(l.d.fd, 0U);
	EXPECT_EQ(0xdeadbeefcafef00dULL, l.future[0]);
	EXPECT_EQ(0x0123456789abcdefULL, l.future[1]);
	close(l.d.fd);
}

TEST_F(heap, bad_argument_pointer_is_efault_and_leaks_no_fd)
{
	struct dma_heap_allocation_data *ro;
	int free_fd = next_free_fd();

	EXPECT_EQ(-1, ioctl(self->heap, DMA_HEAP_IOCTL_ALLOC, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->heap, DMA_HEAP_IOCTL_ALLOC, (void *)16));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(free_fd, next_free_fd());

	/* Readable but not writable: the fd cannot be handed back. */
	OURS_ONLY("upstream installs the fd before it copies it out");
	ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = (struct dma_heap_allocation_data){ .len = PAGE, .fd_flags = O_RDWR };
	ASSERT_EQ(0, mprotect(ro, PAGE, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->heap, DMA_HEAP_IOCTL_ALLOC, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(free_fd, next_free_fd());
	munmap(ro, PAGE);
}

/* --- CPU mappings and the dma-buf core ------------------------------ */

TEST_F(heap, new_buffer_is_zeroed_and_mmap_reads_back_writes)
{
	uint64_t size = 64 * PAGE + 2 * MiB;
	uint8_t *a, *b;
	int fd = halloc(_metadata, self->heap, size);

	ASSERT_GE(fd, 0);
	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW));
	for (uint64_t i = 0; i < size; i += 8)
		if (*(uint64_t *)(a + i)) {
			ASSERT_EQ(0, *(uint64_t *)(a + i)) TH_LOG("offset %llu",
				(unsigned long long)i);
		}
	pat_fill(a, 0, size, 11);
	ASSERT_EQ(0, dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW));
	EXPECT_EQ(-1, cpu_check(fd, b, 0, size, 11));
	munmap(a, size);
	munmap(b, size);
	close(fd);
}

TEST_F(heap, mmap_at_offsets_works_and_past_the_end_is_refused)
{
	int fd = halloc(_metadata, self->heap, 4 * PAGE);
	uint8_t *all, *p;

	ASSERT_GE(fd, 0);
	all = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, all);
	ASSERT_EQ(0, cpu_write(fd, all, 0, 4 * PAGE, 12));
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, pat_check(p, 2 * PAGE, 2 * PAGE, 12));
	munmap(p, 2 * PAGE);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 5 * PAGE, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd,
				   3 * PAGE));
	munmap(all, 4 * PAGE);
	close(fd);
}

TEST_F(heap, private_mapping_is_refused)
{
	int fd;

	OURS_ONLY("upstream's system heap maps private mappings shared");
	fd = halloc(_metadata, self->heap, PAGE);
	ASSERT_GE(fd, 0);
	check_private_mapping_refused(_metadata, fd);
	close(fd);
}

TEST_F(heap, mapping_outlives_the_fd_and_survives_fork)
{
	int fd = halloc(_metadata, self->heap, PAGE);

	ASSERT_GE(fd, 0);
	check_mapping_outlives_fd_and_fork(_metadata, fd);
}

TEST_F(heap, cpu_access_sync_accepts_valid_and_refuses_bad_flags)
{
	int fd = halloc(_metadata, self->heap, PAGE);

	ASSERT_GE(fd, 0);
	check_cpu_access_sync(_metadata, fd);
	close(fd);
}

TEST_F(heap, name_set_on_buffer_shows_in_fdinfo)
{
	int fd = halloc(_metadata, self->heap, PAGE);
	char value[64];

	ASSERT_GE(fd, 0);
	check_name_in_fdinfo(_metadata, fd, NULL);
	ASSERT_EQ(0, fdinfo_value(fd, "size", value, sizeof(value)));
	EXPECT_STREQ("4096", value);
	close(fd);
}

TEST_F(heap, implicit_sync_files_export_and_import)
{
	int fd = halloc(_metadata, self->heap, PAGE);

	ASSERT_GE(fd, 0);
	check_implicit_sync_roundtrip(_metadata, fd);
	close(fd);
}

TEST_F(heap, vgem_imports_buffer_through_prime)
{
	int vgem = vgem_open(), fd;

	if (vgem < 0)
		SKIP(return, "vgem not loaded");
	fd = halloc(_metadata, self->heap, 8 * PAGE);
	ASSERT_GE(fd, 0);
	check_vgem_prime_import(_metadata, vgem, fd);
	close(fd);
	close(vgem);
}

/* --- no stale data, ever -------------------------------------------- */

/*
 * Every byte of a new buffer must be zero, through the heap's own kind of
 * CPU mapping (cached or write-combined) and, when the test importer is
 * loaded, through the kernel's vmap of it.  Returns the first bad offset
 * or -1.
 */
static int64_t first_nonzero(int fd, uint64_t size, int tifd)
{
	uint8_t *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	int64_t bad = -1;
	uint64_t i;

	if (p == MAP_FAILED)
		return -2;
	dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	for (i = 0; i < size && bad < 0; i += 8)
		if (*(uint64_t *)(p + i))
			bad = (int64_t)i;
	dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	munmap(p, size);
	if (bad < 0 && tifd >= 0 && !ti_attach(tifd, 0, fd, DMABRIDGE_TI_DIR_TO_DEVICE, 0)) {
		uint8_t *tmp = malloc(size);

		if (tmp && !ti_vmap_read(tifd, 0, 0, tmp, size))
			for (i = 0; i < size && bad < 0; i += 8)
				if (*(uint64_t *)(tmp + i))
					bad = (int64_t)i;
		free(tmp);
		ti_detach(tifd, 0);
	}
	return bad;
}

static void dirty(int fd, uint64_t size, uint32_t seed)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return;
	cpu_write(fd, p, 0, size, seed);
	munmap(p, size);
}

TEST_F_TIMEOUT(heap, reallocated_buffers_never_show_previous_data, 600)
{
	static const uint64_t sizes[] = { PAGE, 16 * PAGE, 64 * 1024 + PAGE,
					  MiB, 2 * MiB + 3 * PAGE };
	int tifd = ti_open(), round, i;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 40; i++) {
			uint64_t size = sizes[i % ARRAY_SIZE(sizes)];
			int fd = halloc(_metadata, self->heap, size);
			int64_t bad;

			ASSERT_GE(fd, 0) TH_LOG("round %d alloc %d: %s", round, i,
					       strerror(-fd));
			bad = first_nonzero(fd, size, tifd);
			ASSERT_EQ(-1, bad) TH_LOG("round %d alloc %d of %llu bytes: "
				"byte %lld was not zero", round, i,
				(unsigned long long)size, (long long)bad);
			dirty(fd, size, 100 + i);
			close(fd);
		}
		/* The pools' shrinker gives pages back, new ones come in. */
		if (round == 1)
			drop_caches();
	}
	if (tifd >= 0)
		close(tifd);
}

/*
 * Large allocations zero their fresh pages on several CPUs at once (with
 * init_on_alloc=0, as the guests boot): pages a buffer dirtied and the
 * shrinker gave back to the page allocator come back zeroed, in every
 * piece, whoever zeroed it.
 */
TEST_F_TIMEOUT(heap, large_buffers_of_fresh_pages_come_back_zeroed, 300)
{
	static const uint64_t sizes[] = { 4 * MiB, 8 * MiB + 3 * PAGE,
					  32 * MiB + PAGE };
	int tifd = ti_open(), i;

	for (i = 0; i < (int)ARRAY_SIZE(sizes); i++) {
		int fd = halloc(_metadata, self->heap, sizes[i]);
		int64_t bad;

		ASSERT_GE(fd, 0);
		dirty(fd, sizes[i], 200 + i);
		close(fd);
		drop_caches();
		fd = halloc(_metadata, self->heap, sizes[i]);
		ASSERT_GE(fd, 0);
		bad = first_nonzero(fd, sizes[i], tifd);
		EXPECT_EQ(-1, bad) TH_LOG("%llu bytes: byte %lld was not zero",
					  (unsigned long long)sizes[i],
					  (long long)bad);
		close(fd);
	}
	if (tifd >= 0)
		close(tifd);
}

/* --- usage in sysfs ------------------------------------------------- */

TEST_F(heap, usage_in_sysfs_follows_allocations)
{
	long long buffers, bytes;
	int fds[3], i;

	OURS_ONLY("the kernel's heaps keep no statistics");
	buffers = dmabridge_heap_stat(self->name, "buffers");
	bytes = dmabridge_heap_stat(self->name, "bytes");
	ASSERT_GE(buffers, 0);
	ASSERT_GE(bytes, 0);
	for (i = 0; i < 3; i++) {
		fds[i] = halloc(_metadata, self->heap, MiB);
		ASSERT_GE(fds[i], 0);
	}
	EXPECT_EQ(buffers + 3, dmabridge_heap_stat(self->name, "buffers"));
	EXPECT_EQ(bytes + 3 * (long long)MiB, dmabridge_heap_stat(self->name, "bytes"));
	for (i = 0; i < 3; i++)
		close(fds[i]);
	/* dma-bufs are released from deferred work: give it a moment. */
	for (i = 0; i < 50 && dmabridge_heap_stat(self->name, "buffers") != buffers; i++)
		usleep(20000);
	EXPECT_EQ(buffers, dmabridge_heap_stat(self->name, "buffers"));
	EXPECT_EQ(bytes, dmabridge_heap_stat(self->name, "bytes"));
}

TEST_F(heap, pools_grow_after_frees_and_shrink_under_pressure)
{
	long long before, grown = -1, after;
	int fds[8], i;

	OURS_ONLY("the kernel's system heap has no pools in 6.12");
	if (dmabridge_heap_stat(self->name, "pool_bytes") < 0)
		SKIP(return, "%s has no pools", self->name);
	for (i = 0; i < 8; i++) {
		fds[i] = halloc(_metadata, self->heap, MiB);
		ASSERT_GE(fds[i], 0);
	}
	/* The allocations may have emptied the pools of earlier tests. */
	before = dmabridge_heap_stat(self->name, "pool_bytes");
	for (i = 0; i < 8; i++)
		close(fds[i]);
	/* Freed pages are zeroed in a worker before they enter a pool. */
	for (i = 0; i < 100; i++) {
		grown = dmabridge_heap_stat(self->name, "pool_bytes");
		if (grown >= before + 8 * (long long)MiB)
			break;
		usleep(20000);
	}
	TH_LOG("pool_bytes %lld -> %lld after freeing 8 MiB", before, grown);
	EXPECT_GE(grown, before + 8 * (long long)MiB);
	drop_caches();
	after = dmabridge_heap_stat(self->name, "pool_bytes");
	TH_LOG("pool_bytes %lld after drop_caches", after);
	EXPECT_LT(after, grown);
}

/* --- ENOMEM, and nobody killed --------------------------------------- */

static void expect_enomem_quickly(struct __test_metadata *_metadata, int heap,
				  uint64_t len, double limit)
{
	int oom = oom_lines(), fd;
	double t = now();

	fd = heap_ioctl_alloc(heap, len, O_RDWR | O_CLOEXEC, 0);
	t = now() - t;
	TH_LOG("%llu bytes: %s in %.2f s", (unsigned long long)len,
	       fd < 0 ? strerror(-fd) : "allocated", t);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-ENOMEM, fd);
	EXPECT_LT(t, limit);
	EXPECT_EQ(oom, oom_lines()) TH_LOG("the OOM killer ran");
	/* The harness and the shell that started it are still there. */
	EXPECT_EQ(0, kill(getppid(), 0));
}

TEST_F_TIMEOUT(heap, absurd_size_is_enomem_at_once_and_kills_nothing, 120)
{
	OURS_ONLY("upstream's system heap runs the OOM killer");
	expect_enomem_quickly(_metadata, self->heap, 1ULL << 46, 2.0);
	expect_enomem_quickly(_metadata, self->heap, ~0ULL & ~(PAGE - 1), 2.0);
}

TEST_F_TIMEOUT(heap, just_above_available_memory_is_enomem_and_kills_nothing, 300)
{
	long long avail = proc_field_bytes("/proc/meminfo", "MemAvailable");
	long long region = dmabridge_heap_stat(self->name, "region_bytes");

	OURS_ONLY("upstream's system heap runs the OOM killer");
	ASSERT_GT(avail, 0);
	if (region > 0)	/* contiguous: just above its region */
		expect_enomem_quickly(_metadata, self->heap, region + PAGE, 5.0);
	else
		expect_enomem_quickly(_metadata, self->heap, avail + 64 * MiB, 120.0);
	/* And the heap still works. */
	int fd = halloc(_metadata, self->heap, MiB);

	ASSERT_GE(fd, 0);
	close(fd);
}

/* --- memory cgroups --------------------------------------------------- */

#define CG_ROOT "/sys/fs/cgroup"
#define CG CG_ROOT "/dmabridge-heap-test"

static int cgroup_setup(const char *max)
{
	struct stat st;

	if (stat(CG_ROOT "/cgroup.controllers", &st)) {
		mkdir(CG_ROOT, 0755);
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
			return -errno;
	}
	if (write_file(CG_ROOT "/cgroup.subtree_control", "+memory"))
		return -EOPNOTSUPP;
	if (mkdir(CG, 0755) && errno != EEXIST)
		return -errno;
	return write_file(CG "/memory.max", max);
}

static long long cgroup_event(const char *key)
{
	char buf[1024], *p;

	{
		int fd = open(CG "/memory.events", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n < 0)
			return -1;
		buf[n] = '\0';
	}
	p = strstr(buf, key);
	return p ? atoll(p + strlen(key) + 1) : -1;
}

/*
 * Fork a child into the cgroup that allocates @len (and, with @anon, frees
 * it, reads the heap's pool_bytes into *@pooled if not NULL, and then
 * touches @anon bytes of anonymous memory); its errno (0 = ok), or
 * -1000 - the signal that killed it.
 */
static int alloc_in_cgroup(const char *heapname, uint64_t len, uint64_t anon,
			   long long *pooled)
{
	struct { int err; long long pooled; } out = { -1, -1 };
	int pipefd[2], status;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char path[128], me[32];
		int heap, fd;

		close(pipefd[0]);
		snprintf(me, sizeof(me), "%d", getpid());
		if (write_file(CG "/cgroup.procs", me))
			_exit(100);
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", heapname);
		heap = open(path, O_RDONLY | O_CLOEXEC);
		fd = heap_ioctl_alloc(heap, len, O_RDWR | O_CLOEXEC, 0);
		out.err = fd < 0 ? -fd : 0;
		if (!out.err && anon) {
			char *p;

			close(fd);
			out.pooled = dmabridge_heap_stat(heapname, "pool_bytes");
			p = mmap(NULL, anon, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				out.err = errno;
			else
				memset(p, 0x5a, anon);
		}
		if (write(pipefd[1], &out, sizeof(out)) < 0)
			_exit(101);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &out, sizeof(out)) != sizeof(out))
		out.err = -1;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -1000 - (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (pooled)
		*pooled = out.pooled;
	return out.err;
}

/* In a test of a heap: the cgroup set up with memory.max @max, or a skip. */
#define CHARGED_HEAP_IN_CGROUP_OR_SKIP(max) do {				\
	int __ret;							\
	if (!strcmp(self->name, "contiguous"))				\
		SKIP(return, "the contiguous heap's region is not charged to memcgs"); \
	__ret = cgroup_setup(max);					\
	if (__ret)							\
		SKIP(return, "no memory cgroup: %s", strerror(-__ret));	\
} while (0)

TEST_F_TIMEOUT(heap, memcg_limit_stops_allocation_with_enomem_and_kills_nothing, 300)
{
	char saved[8] = "Y";
	int oom = oom_lines();

	OURS_ONLY("upstream's heaps charge no cgroup");
	CHARGED_HEAP_IN_CGROUP_OR_SKIP("32M");
	EXPECT_EQ(0, alloc_in_cgroup(self->name, 8 * MiB, 0, NULL));
	EXPECT_EQ(ENOMEM, alloc_in_cgroup(self->name, 64 * MiB, 0, NULL));
	EXPECT_EQ(0, cgroup_event("oom_kill"));
	EXPECT_EQ(oom, oom_lines());

	if (read_file(PARAMS "memcg_account", saved, sizeof(saved)) ||
	    write_file(PARAMS "memcg_account", "N")) {
		rmdir(CG);
		SKIP(return, "memcg_account cannot be changed at run time");
	}
	EXPECT_EQ(0, alloc_in_cgroup(self->name, 64 * MiB, 0, NULL))
		TH_LOG("memcg_account=N still charges the cgroup");
	write_file(PARAMS "memcg_account", saved);
	EXPECT_EQ(0, cgroup_event("oom_kill"));
	rmdir(CG);
}

/*
 * A freed buffer's pages stay in the pool, charged to the cgroup: when
 * the cgroup then needs the memory for something else, its own reclaim
 * must take them back rather than OOM-kill a task of the cgroup.
 */
TEST_F_TIMEOUT(heap, memcg_reclaim_takes_back_the_cgroups_pooled_pages, 300)
{
	long long pooled, freed_into_pool = -1;
	int oom = oom_lines();

	OURS_ONLY("upstream's heaps keep no pool");
	CHARGED_HEAP_IN_CGROUP_OR_SKIP("64M");
	drop_caches();	/* every pool empty: what is pooled after is ours */
	/* 40 MiB pooled and charged, then 48 MiB more: over 64 MiB. */
	EXPECT_EQ(0, alloc_in_cgroup(self->name, 40 * MiB, 48 * MiB,
				     &freed_into_pool));
	/* Otherwise nothing was there for the reclaim to take back. */
	EXPECT_GE(freed_into_pool, 40 * (long long)MiB);
	EXPECT_EQ(0, cgroup_event("oom_kill"));
	EXPECT_EQ(oom, oom_lines());
	pooled = dmabridge_heap_stat(self->name, "pool_bytes");
	EXPECT_LT(pooled, 40 * MiB) TH_LOG("the pool still holds %lld bytes",
					   pooled);
	rmdir(CG);
}

/*
 * Nothing can take pages from the pool of a removed cgroup: they go back
 * to the kernel within the reap worker's period (10 s), with no memory
 * pressure to make the shrinker run.
 */
TEST_F_TIMEOUT(heap, a_removed_cgroups_pooled_pages_go_back_without_pressure, 300)
{
	const long long size = 8 * MiB;
	long long pooled = -1;
	int tries;

	OURS_ONLY("upstream's heaps keep no pool");
	CHARGED_HEAP_IN_CGROUP_OR_SKIP("max");
	drop_caches();	/* every pool empty: what is pooled after is ours */
	/* The child's exit frees the buffer into the cgroup's pool. */
	ASSERT_EQ(0, alloc_in_cgroup(self->name, size, 0, NULL));
	ASSERT_GE(dmabridge_heap_stat(self->name, "pool_bytes"), size);
	ASSERT_EQ(0, rmdir(CG));
	for (tries = 0; tries < 300; tries++) {
		pooled = dmabridge_heap_stat(self->name, "pool_bytes");
		if (pooled < size)
			break;
		usleep(100 * 1000);
	}
	EXPECT_LT(pooled, size)
		TH_LOG("%lld bytes still pooled 30 s after the cgroup went",
		       pooled);
}

/* --- the contiguous heap --------------------------------------------- */

TEST_F(heap, contiguous_buffers_are_physically_contiguous_in_the_region)
{
	uint64_t size = 4 * MiB + 5 * PAGE, lo, hi;
	struct dmabridge_ti_info info;
	int fd, tifd;
	uint8_t *p;

	CONTIGUOUS_ONLY();
	ASSERT_EQ(0, carveout_range(&lo, &hi));
	fd = halloc(_metadata, self->heap, size);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, cpu_write(fd, p, 0, size, 21));
	munmap(p, size);

	tifd = ti_open();
	if (tifd >= 0) {
		ASSERT_EQ(0, ti_attach(tifd, 0, fd, DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
		ASSERT_EQ(0, ti_info(tifd, 0, &info));
		TH_LOG("%u DMA segments, longest %llu, device max %llu, %u bounced",
		       info.dma_nents, (unsigned long long)info.max_seg_len,
		       (unsigned long long)info.dev_max_seg_size, info.bounced_segs);
		/*
		 * Without bounce buffers (and no IOMMU in these guests) DMA
		 * addresses are physical: one run inside the reserved region.
		 * (/proc/self/pagemap cannot tell: it skips PFN mappings.)
		 */
		if (!swiotlb_forced()) {
			struct dmabridge_ti_segment first, last;

			EXPECT_TRUE(info.info_flags & DMABRIDGE_TI_INFO_CONTIGUOUS);
			EXPECT_EQ(0U, info.bounced_segs);
			EXPECT_EQ(size, info.mapped_len);
			EXPECT_LE(info.dma_nents, (size + info.dev_max_seg_size - 1) /
				  info.dev_max_seg_size);
			ASSERT_EQ(0, ti_segment(tifd, 0, 0, &first));
			ASSERT_EQ(0, ti_segment(tifd, 0, info.dma_nents - 1, &last));
			EXPECT_GE(first.dma_addr, lo);
			EXPECT_LE(last.dma_addr + last.len, hi);
			EXPECT_EQ(first.dma_addr + size, last.dma_addr + last.len);
		}
		ti_detach(tifd, 0);
		close(tifd);
	}
	close(fd);
}

TEST_F(heap, contiguous_exhaustion_is_enomem_and_freeing_makes_room)
{
	long long region = dmabridge_heap_stat(self->name, "region_bytes");
	int fds[512], n = 0, fd, i;

	CONTIGUOUS_ONLY();
	ASSERT_GT(region, 0);
	ASSERT_EQ(region, dmabridge_heap_stat(self->name, "free_bytes"))
		TH_LOG("something else holds contiguous buffers");
	while (n < (int)ARRAY_SIZE(fds)) {
		fd = halloc(_metadata, self->heap, MiB);
		if (fd < 0) {
			EXPECT_EQ(-ENOMEM, fd);
			break;
		}
		fds[n++] = fd;
	}
	EXPECT_EQ(region / (long long)MiB, n);
	EXPECT_EQ(0, dmabridge_heap_stat(self->name, "free_bytes"));
	EXPECT_FAILS_CLEANLY(ENOMEM, halloc(_metadata, self->heap, PAGE));
	close(fds[n / 2]);
	for (i = 0; i < 50 && dmabridge_heap_stat(self->name, "free_bytes") != (long long)MiB; i++)
		usleep(20000);
	fd = halloc(_metadata, self->heap, MiB);
	EXPECT_GE(fd, 0);
	if (fd >= 0)
		close(fd);
	for (i = 0; i < n; i++)
		if (i != n / 2)
			close(fds[i]);
}

TEST_F_TIMEOUT(heap, contiguous_region_is_whole_again_after_mixed_cycles, 300)
{
	long long region = dmabridge_heap_stat(self->name, "region_bytes");
	int live[16], cycle, i, fd;
	unsigned int seed = 42;

	CONTIGUOUS_ONLY();
	ASSERT_GT(region, 0);
	for (i = 0; i < 16; i++)
		live[i] = -1;
	for (cycle = 0; cycle < 2000; cycle++) {
		int slot = rand_r(&seed) % 16;
		uint64_t size = (1 + rand_r(&seed) % 512) * PAGE;

		if (live[slot] >= 0)
			close(live[slot]);
		live[slot] = halloc(_metadata, self->heap, size);
		ASSERT_TRUE(live[slot] >= 0 || live[slot] == -ENOMEM);
	}
	for (i = 0; i < 16; i++)
		if (live[i] >= 0)
			close(live[i]);
	for (i = 0; i < 100 && dmabridge_heap_stat(self->name, "free_bytes") != region; i++)
		usleep(20000);
	EXPECT_EQ(region, dmabridge_heap_stat(self->name, "free_bytes"));
	fd = halloc(_metadata, self->heap, region);
	EXPECT_GE(fd, 0) TH_LOG("the whole region in one buffer: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
}

/* --- soak ---------------------------------------------------------------- */

/* Pages on the per-CPU free lists, which MemFree leaves out. */
static long long pcp_free_bytes(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	long long pages = 0, n;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &n) == 1)
			pages += n;
	fclose(f);
	return pages * PAGE;
}

/*
 * Free memory, with what the heap's pools hold counted as free, and the
 * per-CPU lists too: they take and give back megabytes at a time.
 */
static long long free_or_pooled_bytes(const char *heap)
{
	long long pooled = dmabridge_heap_stat(heap, "pool_bytes");

	return proc_field_bytes("/proc/meminfo", "MemFree") + pcp_free_bytes() +
	       (pooled > 0 ? pooled : 0);
}

/*
 * Neither the kernel's own memory nor the buffers' pages may stay behind:
 * free memory (pooled counted as free) comes back to within 4 MiB, where
 * a page kept per buffer would be 20 MiB.
 */
TEST_F_TIMEOUT(heap, soak_5000_alloc_free_cycles_do_not_grow_kernel_memory, 900)
{
	static const uint64_t sizes[] = { PAGE, 3 * PAGE, 64 * 1024, 300 * 1024 };
	long long before, after, free_before, free_after;
	long long buffers = dmabridge_heap_stat(self->name, "buffers");
	int i, fd;

	for (i = 0; i < 500; i++) {
		fd = halloc(_metadata, self->heap, sizes[i % ARRAY_SIZE(sizes)]);
		ASSERT_GE(fd, 0);
		close(fd);
	}
	drop_caches();
	before = kernel_unreclaimable_bytes();
	free_before = free_or_pooled_bytes(self->name);
	for (i = 0; i < 5000; i++) {
		fd = halloc(_metadata, self->heap, sizes[i % ARRAY_SIZE(sizes)]);
		ASSERT_GE(fd, 0) TH_LOG("cycle %d: %s", i, strerror(-fd));
		close(fd);
	}
	usleep(200000);
	drop_caches();
	after = kernel_unreclaimable_bytes();
	free_after = free_or_pooled_bytes(self->name);
	TH_LOG("kernel memory %lld -> %lld bytes, free or pooled %lld -> %lld",
	       before, after, free_before, free_after);
	EXPECT_LT(after - before, 256 * 1024);
	EXPECT_LT(free_before - free_after, 4 * (long long)MiB);
	if (self->ours)
		EXPECT_EQ(buffers, dmabridge_heap_stat(self->name, "buffers"));
}

/* --- module unload ----------------------------------------------------- */

static int try_unload(void)
{
	return syscall(SYS_delete_module, MODULE, O_NONBLOCK) ? -errno : 0;
}

/* The module's reference count once it reads @want, or what it reads after 2 s. */
static long module_refcnt_settled(long want)
{
	char text[32];
	long n = -1;
	int i;

	for (i = 0; i < 200; i++) {
		if (read_file("/sys/module/" MODULE "/refcnt", text, sizeof(text)))
			return -1;
		n = atol(text);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

TEST_F(heap, module_refuses_to_unload_while_a_buffer_lives)
{
	long held;
	int fd, ret;
	void *p;

	OURS_ONLY("the kernel's heap is built in");
	fd = halloc(_metadata, self->heap, PAGE);
	ASSERT_GE(fd, 0);
	/* The heap's device file holds the module too: only the buffer may. */
	close(self->heap);
	self->heap = -1;
	held = module_refcnt_settled(-1);
	ASSERT_GT(held, 0);
	ret = try_unload();
	EXPECT_TRUE(ret == -EBUSY || ret == -EAGAIN) TH_LOG("delete_module: %s",
		ret ? strerror(-ret) : "unloaded with a live buffer");
	/* A mapping alone keeps the buffer, and its reference, alive. */
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	EXPECT_EQ(held, module_refcnt_settled(held));
	ret = try_unload();
	EXPECT_TRUE(ret == -EBUSY || ret == -EAGAIN) TH_LOG("delete_module: %s",
		ret ? strerror(-ret) : "unloaded with a live mapping");
	/* The buffer's reference goes with its last user. */
	munmap(p, PAGE);
	EXPECT_EQ(held - 1, module_refcnt_settled(held - 1));
	EXPECT_TRUE(path_exists("/sys/module/%s", MODULE));
	/* The harness unloads it at the end of the run, which must work. */
}

TEST_HARNESS_MAIN
