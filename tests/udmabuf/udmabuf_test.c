// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge's udmabuf: every behaviour and every error path of the UAPI.
 *
 * The device under test is $DMABRIDGE_UDMABUF_DEV (default
 * /dev/dmabridge-udmabuf).  Tests of dmabridge's own extensions and of
 * the places where it deliberately differs from upstream skip on another
 * device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <drm/drm.h>
#include <linux/dma-buf.h>

#include "kselftest_harness.h"
#include "dmabridge_test_util.h"
#include "dmabridge_dmabuf_checks.h"

#define PAGE 4096UL
#define HUGE_PAGE (2UL << 20)

static long long pinned_bytes(void)
{
	return proc_field_bytes("/proc/self/status", "VmPin");
}

/* Pages of a memfd that anything still pins block F_SEAL_WRITE. */
static int try_write_seal(int memfd)
{
	return fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE) ? -errno : 0;
}

FIXTURE(udmabuf)
{
	int dev;
	int memfd;
	uint64_t memfd_size;
};

FIXTURE_SETUP(udmabuf)
{
	self->dev = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	if (self->dev < 0)
		SKIP(return, "%s: %s", udmabuf_dev_path(), strerror(errno));
	self->memfd_size = 64 * PAGE;
	self->memfd = memfd_sealed("udmabuf-test", self->memfd_size, 0);
	ASSERT_GE(self->memfd, 0);
}

FIXTURE_TEARDOWN(udmabuf)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->memfd >= 0)
		close(self->memfd);
}

/* --- what a buffer is ---------------------------------------------- */

TEST_F(udmabuf, buffer_shares_pages_with_memfd_both_ways)
{
	uint64_t off = 3 * PAGE, size = 8 * PAGE;
	uint8_t *mem, *buf;
	int fd;

	mem = mmap(NULL, self->memfd_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->memfd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	pat_fill(mem, 0, self->memfd_size, 1);

	fd = udmabuf_create(self->dev, self->memfd, off, size, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(size, (uint64_t)lseek(fd, 0, SEEK_END));
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(buf, MAP_FAILED);

	EXPECT_EQ(-1, pat_check(buf, off, size, 1));
	/* Written after creation: the same pages, not a copy. */
	pat_fill(mem + off, off, size, 2);
	EXPECT_EQ(-1, pat_check(buf, off, size, 2));
	pat_fill(buf, off, size, 3);
	EXPECT_EQ(-1, pat_check(mem + off, off, size, 3));

	munmap(buf, size);
	munmap(mem, self->memfd_size);
	close(fd);
}

TEST_F(udmabuf, list_concatenates_ranges_of_several_memfds_in_order)
{
	int other = memfd_sealed("udmabuf-other", 16 * PAGE, 0);
	struct udmabuf_create_item items[] = {
		{ .memfd = self->memfd, .offset = 10 * PAGE, .size = 2 * PAGE },
		{ .memfd = other, .offset = 4 * PAGE, .size = 3 * PAGE },
		{ .memfd = self->memfd, .offset = 0, .size = PAGE },
	};
	uint8_t *mem, *omem, *buf;
	int fd;

	ASSERT_GE(other, 0);
	mem = mmap(NULL, self->memfd_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->memfd, 0);
	omem = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    other, 0);
	ASSERT_NE(mem, MAP_FAILED);
	ASSERT_NE(omem, MAP_FAILED);
	pat_fill(mem, 0, self->memfd_size, 4);
	pat_fill(omem, 0, 16 * PAGE, 5);

	fd = udmabuf_create_list(self->dev, 0, items, 3);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(6 * PAGE, (uint64_t)lseek(fd, 0, SEEK_END));
	buf = mmap(NULL, 6 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(buf, MAP_FAILED);
	EXPECT_EQ(-1, pat_check(buf, 10 * PAGE, 2 * PAGE, 4));
	EXPECT_EQ(-1, pat_check(buf + 2 * PAGE, 4 * PAGE, 3 * PAGE, 5));
	EXPECT_EQ(-1, pat_check(buf + 5 * PAGE, 0, PAGE, 4));

	munmap(buf, 6 * PAGE);
	munmap(omem, 16 * PAGE);
	munmap(mem, self->memfd_size);
	close(fd);
	close(other);
}

TEST_F(udmabuf, cloexec_flag_decides_fd_cloexec)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);
	int cfd = udmabuf_create(self->dev, self->memfd, 0, PAGE,
				 UDMABUF_FLAGS_CLOEXEC);

	ASSERT_GE(fd, 0);
	ASSERT_GE(cfd, 0);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(FD_CLOEXEC, fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	close(cfd);
}

TEST_F(udmabuf, list_item_padding_is_ignored_as_upstream_does)
{
	struct udmabuf_create_item item = {
		.memfd = self->memfd, .__pad = 0xdeadbeef, .size = PAGE,
	};
	int fd = udmabuf_create_list(self->dev, 0, &item, 1);

	ASSERT_GE(fd, 0);
	close(fd);
}

TEST_F(udmabuf, list_of_list_limit_items_works_and_one_more_is_einval)
{
	int limit = 1024, fd;
	struct udmabuf_create_item *items;
	FILE *f = fopen("/sys/module/dmabridge_udmabuf/parameters/list_limit",
			"r");
	int memfd;

	if (f) {
		ASSERT_EQ(1, fscanf(f, "%d", &limit));
		fclose(f);
	}
	memfd = memfd_sealed("udmabuf-many", (uint64_t)limit * PAGE, 0);
	ASSERT_GE(memfd, 0);
	items = calloc(limit + 1, sizeof(*items));
	ASSERT_NE(NULL, items);
	for (int i = 0; i <= limit; i++) {
		items[i].memfd = memfd;
		items[i].offset = (uint64_t)(limit - 1 - i % limit) * PAGE;
		items[i].size = PAGE;
	}
	fd = udmabuf_create_list(self->dev, 0, items, limit);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_EQ(-EINVAL, udmabuf_create_list(self->dev, 0, items, limit + 1));
	free(items);
	close(memfd);
}

/* Fills and frees @len of anonymous memory: freed pages go to new owners. */
static void reuse_free_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	memset(p, 0xa5, len);
	munmap(p, len);
}

/*
 * The buffer holds its pages, not the memfd: were they freed with the
 * memfd, the anonymous memory filled after would take them over, and the
 * pattern written through the buffer would be gone.
 */
TEST_F(udmabuf, buffer_outlives_memfd_and_device_fds)
{
	uint8_t *buf;
	int fd;

	ASSERT_EQ(6, pwrite(self->memfd, "pinned", 6, PAGE));
	fd = udmabuf_create(self->dev, self->memfd, PAGE, PAGE, 0);
	ASSERT_GE(fd, 0);
	close(self->memfd);
	self->memfd = -1;
	close(self->dev);
	self->dev = -1;

	buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(buf, MAP_FAILED);
	EXPECT_EQ(0, memcmp(buf, "pinned", 6));
	pat_fill(buf, 0, PAGE, SEED_CPU);
	reuse_free_pages(256UL << 20);
	EXPECT_EQ(-1, pat_check(buf, 0, PAGE, SEED_CPU));
	munmap(buf, PAGE);
	close(fd);
}

/*
 * A range never written is a hole: pinning allocates the memfd's own
 * pages there, zeroed (the guests boot with init_on_alloc=0, so a page
 * from anywhere else would show its old bytes), and shared both ways.
 */
TEST_F(udmabuf, hole_in_memfd_is_allocated_not_refused)
{
	uint8_t zero[PAGE] = { 0 }, got[PAGE], *buf;
	struct stat before, after;
	int fd, i;

	ASSERT_EQ(0, fstat(self->memfd, &before));
	fd = udmabuf_create(self->dev, self->memfd, 32 * PAGE, 4 * PAGE, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fstat(self->memfd, &after));
	EXPECT_LE(before.st_blocks + 4 * (long long)PAGE / 512,
		  (long long)after.st_blocks);
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, buf);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, memcmp(zero, buf + i * PAGE, PAGE))
			TH_LOG("page %d", i);
	}
	pat_fill(buf + PAGE, PAGE, PAGE, SEED_CPU);
	ASSERT_EQ((ssize_t)PAGE, pread(self->memfd, got, PAGE, 33 * PAGE));
	EXPECT_EQ(-1, pat_check(got, PAGE, PAGE, SEED_CPU));
	munmap(buf, 4 * PAGE);
	close(fd);
}

/*
 * Writes through a buffer's mapping dirty no page (they go to PFN
 * mappings), and the hole pages shmem gave the buffer are clean: unless
 * releasing the buffer marks them dirty, dropping the clean page cache
 * throws the data away and the memfd reads zeroes.  Upstream's 6.12
 * udmabuf loses them all here.
 */
TEST_F(udmabuf, writes_through_the_buffer_survive_its_release_and_drop_caches)
{
	size_t size = self->memfd_size;
	int fd = udmabuf_create(self->dev, self->memfd, 0, size, 0);
	int drop = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	uint8_t got[PAGE];
	unsigned long lost = 0;
	uint8_t *map;
	size_t off;

	ASSERT_GE(fd, 0);
	if (drop < 0)
		SKIP(return, "/proc/sys/vm/drop_caches: %s", strerror(errno));
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (off = 0; off < size; off += PAGE)
		memset(map + off, 0xa0 + off / PAGE % 16, PAGE);
	ASSERT_EQ(0, munmap(map, size));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(2, write(drop, "3\n", 2));
	close(drop);
	for (off = 0; off < size; off += PAGE) {
		ASSERT_EQ((ssize_t)PAGE, pread(self->memfd, got, PAGE, off));
		if (got[0] != 0xa0 + off / PAGE % 16 ||
		    got[PAGE - 1] != 0xa0 + off / PAGE % 16)
			lost++;
	}
	EXPECT_EQ(0, lost);
}

/* --- bad input: upstream's errno, and nothing changes ---------------- */

/*
 * A failed create must leave no fd, no pin and no charge behind; the
 * memfd's pages being unpinned shows as F_SEAL_WRITE being allowed.
 */
#define EXPECT_CREATE_FAILS_CLEANLY(err, call) do {			\
	int __free_fd = next_free_fd();				\
	long long __pinned = pinned_bytes();				\
	EXPECT_EQ(-(err), (call));					\
	EXPECT_EQ(__free_fd, next_free_fd());				\
	EXPECT_EQ(__pinned, pinned_bytes());				\
} while (0)

TEST_F(udmabuf, unknown_flags_are_einval)
{
	static const uint32_t bad[] = { 0x2, 0x80, 1U << 30, 0x7ffffffe };

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "upstream ignores unknown flags");
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct udmabuf_create_item item = {
			.memfd = self->memfd, .size = PAGE,
		};

		EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
			udmabuf_create(self->dev, self->memfd, 0, PAGE, bad[i]));
		EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
			udmabuf_create_list(self->dev, bad[i], &item, 1));
	}
}

TEST_F(udmabuf, fd_that_is_not_a_memfd_is_ebadfd)
{
	int pipefd[2], devnull = open("/dev/null", O_RDWR);

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_GE(devnull, 0);
	EXPECT_CREATE_FAILS_CLEANLY(EBADFD,
		udmabuf_create(self->dev, pipefd[0], 0, PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EBADFD,
		udmabuf_create(self->dev, devnull, 0, PAGE, 0));
	/* A directory on tmpfs: the right filesystem, not a regular file. */
	int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY);

	if (dir < 0)
		dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	ASSERT_GE(dir, 0);
	EXPECT_CREATE_FAILS_CLEANLY(EBADFD,
		udmabuf_create(self->dev, dir, 0, PAGE, 0));
	close(dir);
	close(pipefd[0]);
	close(pipefd[1]);
	close(devnull);
}

TEST_F(udmabuf, tmpfs_file_that_is_not_a_memfd_is_einval_for_its_seals)
{
	char path[] = "/tmp/udmabuf-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, PAGE));
	/* Possible only on tmpfs; elsewhere it is not shmem at all. */
	EXPECT_CREATE_FAILS_CLEANLY(fcntl(fd, F_GET_SEALS) >= 0 ? EINVAL : EBADFD,
		udmabuf_create(self->dev, fd, 0, PAGE, 0));
	close(fd);
}

TEST_F(udmabuf, closed_or_negative_fd_is_ebadfd)
{
	int closed = dup(self->memfd);

	close(closed);
	EXPECT_CREATE_FAILS_CLEANLY(EBADFD,
		udmabuf_create(self->dev, closed, 0, PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EBADFD,
		udmabuf_create(self->dev, -1, 0, PAGE, 0));
}

TEST_F(udmabuf, memfd_without_shrink_seal_is_einval)
{
	int memfd = memfd_create("unsealed", MFD_ALLOW_SEALING);

	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, PAGE));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, memfd, 0, PAGE, 0));
	close(memfd);

	/* Not even sealable: F_SEAL_SEAL alone. */
	memfd = memfd_create("unsealable", 0);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, PAGE));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, memfd, 0, PAGE, 0));
	close(memfd);
}

TEST_F(udmabuf, write_sealed_memfd_is_einval_for_a_writable_buffer)
{
	static const int seals[] = { F_SEAL_WRITE, F_SEAL_FUTURE_WRITE };

	for (unsigned int i = 0; i < 2; i++) {
		int memfd = memfd_sealed("write-sealed", PAGE, 0);

		ASSERT_GE(memfd, 0);
		ASSERT_EQ(0, fcntl(memfd, F_ADD_SEALS, seals[i]));
		EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
			udmabuf_create(self->dev, memfd, 0, PAGE, 0));
		close(memfd);
	}
}

TEST_F(udmabuf, unaligned_or_empty_ranges_are_einval)
{
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, PAGE / 2, PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, 0, PAGE / 2, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, 0, PAGE + 1, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, 0, 0, 0));
}

TEST_F(udmabuf, range_past_end_of_memfd_is_einval)
{
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, 0,
			       self->memfd_size + PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, self->memfd_size,
			       PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, 1ULL << 50, PAGE, 0));
}

TEST_F(udmabuf, offset_plus_size_overflow_is_einval)
{
	uint64_t top = ~0ULL & ~(PAGE - 1);

	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, top, PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, self->memfd, PAGE, top, 0));
}

TEST_F(udmabuf, list_count_zero_is_einval)
{
	struct udmabuf_create_item item = { .memfd = self->memfd, .size = PAGE };

	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create_list(self->dev, 0, &item, 0));
}

/*
 * An empty item in a list that is not empty as a whole gets its fd checked
 * first, as upstream checks it: a bad fd there is EBADFD, a good one EINVAL.
 */
TEST_F(udmabuf, empty_list_item_is_ebadfd_for_a_bad_fd_and_einval_for_a_memfd)
{
	struct udmabuf_create_item items[2] = {
		{ .memfd = self->memfd, .size = PAGE },
		{ .memfd = -1, .offset = PAGE, .size = 0 },
	};

	EXPECT_CREATE_FAILS_CLEANLY(EBADFD,
		udmabuf_create_list(self->dev, 0, items, 2));
	items[1].memfd = self->memfd;
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create_list(self->dev, 0, items, 2));
}

TEST_F(udmabuf, size_over_size_limit_is_einval_even_split_over_items)
{
	uint64_t limit = 64ULL << 20;
	FILE *f = fopen("/sys/module/dmabridge_udmabuf/parameters/size_limit_mb",
			"r");
	struct udmabuf_create_item items[2];
	int memfd, fd;

	if (f) {
		unsigned long mb;

		ASSERT_EQ(1, fscanf(f, "%lu", &mb));
		fclose(f);
		limit = (uint64_t)mb << 20;
	}
	memfd = memfd_sealed("udmabuf-limit", limit + PAGE, 0);
	ASSERT_GE(memfd, 0);

	fd = udmabuf_create(self->dev, memfd, 0, limit, 0);
	ASSERT_GE(fd, 0);
	close(fd);
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, memfd, 0, limit + PAGE, 0));

	items[0] = (struct udmabuf_create_item){
		.memfd = memfd, .size = limit,
	};
	items[1] = (struct udmabuf_create_item){
		.memfd = memfd, .offset = limit, .size = PAGE,
	};
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create_list(self->dev, 0, items, 2));
	/* Sizes that would wrap a 64-bit sum. */
	items[1].size = ~0ULL & ~(PAGE - 1);
	items[1].offset = 0;
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create_list(self->dev, 0, items, 2));
	close(memfd);
}

TEST_F(udmabuf, bad_pointers_are_efault)
{
	struct udmabuf_create_list *head;
	uint8_t *pages;

	EXPECT_EQ(-1, ioctl(self->dev, UDMABUF_CREATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->dev, UDMABUF_CREATE_LIST, (void *)16));
	EXPECT_EQ(EFAULT, errno);

	/* A valid head whose items run into an unmapped page. */
	pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(pages, MAP_FAILED);
	ASSERT_EQ(0, munmap(pages + PAGE, PAGE));
	head = (void *)(pages + PAGE - sizeof(*head) -
			sizeof(struct udmabuf_create_item));
	head->flags = 0;
	head->count = 2;
	head->list[0] = (struct udmabuf_create_item){
		.memfd = self->memfd, .size = PAGE,
	};
	EXPECT_CREATE_FAILS_CLEANLY(EFAULT,
		ioctl(self->dev, UDMABUF_CREATE_LIST, head) < 0 ? -errno : 0);
	munmap(pages, PAGE);
}

TEST_F(udmabuf, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->dev, _IOW('u', 0x44, struct udmabuf_create),
			    NULL));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->dev, _IO('x', 1), NULL));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(udmabuf, failing_item_in_list_unpins_the_items_before_it)
{
	int sealed = memfd_sealed("udmabuf-sealed", PAGE, 0);
	struct udmabuf_create_item items[] = {
		{ .memfd = self->memfd, .size = 4 * PAGE },
		{ .memfd = sealed, .size = PAGE },
	};

	ASSERT_GE(sealed, 0);
	ASSERT_EQ(0, fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create_list(self->dev, 0, items, 2));
	/* Had the first item's pages stayed pinned, this would be EBUSY. */
	EXPECT_EQ(0, try_write_seal(self->memfd));
	close(sealed);
}

/* --- pinning and its accounting -------------------------------------- */

TEST_F(udmabuf, live_buffer_keeps_memfd_from_being_write_sealed)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EBUSY, try_write_seal(self->memfd));
	close(fd);
	EXPECT_EQ(0, try_write_seal(self->memfd));
}

TEST_F(udmabuf, pinned_pages_are_charged_to_creator_while_buffer_lives)
{
	long long before = pinned_bytes();
	int fd;

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "upstream does not account pinned pages");
	ASSERT_GE(before, 0);
	fd = udmabuf_create(self->dev, self->memfd, 0, 16 * PAGE, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(before + (long long)(16 * PAGE), pinned_bytes());
	close(fd);
	EXPECT_EQ(before, pinned_bytes());
}

TEST_F(udmabuf, unprivileged_creator_over_memlock_limit_gets_enomem)
{
	pid_t pid;
	int status;

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "upstream does not account pinned pages");

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The device fd stays open across the privilege drop. */
		struct rlimit lim = { 8 * PAGE, 8 * PAGE };
		int memfd, fd;

		if (setrlimit(RLIMIT_MEMLOCK, &lim) || setgid(65534) ||
		    setuid(65534))
			_exit(10);
		memfd = memfd_sealed("unpriv", 16 * PAGE, 0);
		if (memfd < 0)
			_exit(11);
		fd = udmabuf_create(self->dev, memfd, 0, 8 * PAGE, 0);
		if (fd < 0)
			_exit(12);
		/* 8 pages are pinned already: one more is over the limit. */
		if (udmabuf_create(self->dev, memfd, 0, PAGE, 0) != -ENOMEM)
			_exit(13);
		close(fd);
		fd = udmabuf_create(self->dev, memfd, 0, PAGE, 0);
		_exit(fd >= 0 ? 0 : 14);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(udmabuf, buffer_passed_to_another_process_stays_charged_to_creator)
{
	long long before = pinned_bytes();
	int fd, status, go[2];
	pid_t pid;
	char c = 0;

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "upstream does not account pinned pages");
	ASSERT_EQ(0, pipe(go));
	fd = udmabuf_create(self->dev, self->memfd, 0, 4 * PAGE, 0);
	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

		close(go[1]);
		/* Hold the buffer until the parent has looked. */
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(p == MAP_FAILED ? 1 : 0);
	}
	close(go[0]);
	close(fd);
	/* The child still holds it: the creator's charge stays. */
	EXPECT_EQ(before + (long long)(4 * PAGE), pinned_bytes());
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(before, pinned_bytes());
}

/* --- CPU mappings -------------------------------------------------- */

TEST_F(udmabuf, private_mapping_is_einval)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);

	ASSERT_GE(fd, 0);
	check_private_mapping_refused(_metadata, fd);
	close(fd);
}

TEST_F(udmabuf, mapping_past_end_is_refused_and_offsets_work)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, 4 * PAGE, 0);
	uint8_t *p;

	ASSERT_GE(fd, 0);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 5 * PAGE, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(MAP_FAILED,
		  mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 3 * PAGE));
	ASSERT_EQ(5, pwrite(self->memfd, "third", 5, 2 * PAGE));
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(0, memcmp(p, "third", 5));
	munmap(p, 2 * PAGE);
	close(fd);
}

/*
 * Pages in reverse memfd order make a buffer of many pieces: every page
 * must show where it belongs, in a mapping from any offset.
 */
TEST_F(udmabuf, scattered_pages_map_in_order_from_any_offset)
{
	struct udmabuf_create_item items[32];
	static const unsigned int offsets[] = { 0, 5, 31 };
	uint64_t size = 32 * PAGE;
	unsigned int i, pg;
	uint8_t *mem, *p;
	int fd;

	mem = mmap(NULL, self->memfd_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->memfd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	pat_fill(mem, 0, self->memfd_size, 6);
	for (i = 0; i < 32; i++)
		items[i] = (struct udmabuf_create_item){
			.memfd = self->memfd, .offset = (63 - i) * PAGE,
			.size = PAGE,
		};
	fd = udmabuf_create_list(self->dev, 0, items, 32);
	ASSERT_GE(fd, 0);

	for (i = 0; i < 3; i++) {
		uint64_t off = offsets[i] * PAGE;

		p = mmap(NULL, size - off, PROT_READ, MAP_SHARED, fd, off);
		ASSERT_NE(p, MAP_FAILED);
		for (pg = offsets[i]; pg < 32; pg++)
			EXPECT_EQ(-1, pat_check(p + (pg - offsets[i]) * PAGE,
						(63 - pg) * PAGE, PAGE, 6))
				TH_LOG("page %u, mapped from page %u", pg,
				       offsets[i]);
		munmap(p, size - off);
	}
	munmap(mem, self->memfd_size);
	close(fd);
}

TEST_F(udmabuf, mapping_survives_fork_and_close)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);

	ASSERT_GE(fd, 0);
	check_mapping_outlives_fd_and_fork(_metadata, fd);
}

/* --- read-only buffers (dmabridge extension) ------------------------- */

TEST_F(udmabuf, readonly_buffer_refuses_writable_mappings)
{
	int fd;
	void *p;

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "dmabridge extension");
	fd = udmabuf_create(self->dev, self->memfd, 0, 2 * PAGE,
			    DMABRIDGE_UDMABUF_FLAGS_READONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(MAP_FAILED,
		  mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(p, MAP_FAILED);
	EXPECT_EQ(-1, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, PAGE);
	EXPECT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	close(fd);
}

TEST_F(udmabuf, readonly_buffer_accepts_write_sealed_memfds)
{
	static const int seals[] = { F_SEAL_WRITE, F_SEAL_FUTURE_WRITE };

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "dmabridge extension");
	for (unsigned int i = 0; i < 2; i++) {
		int memfd = memfd_sealed("ro", 2 * PAGE, 0);
		uint8_t *p;
		int fd;

		ASSERT_GE(memfd, 0);
		ASSERT_EQ(3, pwrite(memfd, "ro!", 3, PAGE));
		ASSERT_EQ(0, fcntl(memfd, F_ADD_SEALS, seals[i]));
		fd = udmabuf_create(self->dev, memfd, 0, 2 * PAGE,
				    DMABRIDGE_UDMABUF_FLAGS_READONLY |
				    UDMABUF_FLAGS_CLOEXEC);
		ASSERT_GE(fd, 0);
		p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
		ASSERT_NE(p, MAP_FAILED);
		EXPECT_EQ(0, memcmp(p + PAGE, "ro!", 3));
		munmap(p, 2 * PAGE);
		close(fd);
		close(memfd);
	}
}

TEST_F(udmabuf, readonly_buffer_still_needs_shrink_seal)
{
	int memfd = memfd_create("ro-unsealed", MFD_ALLOW_SEALING);

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "dmabridge extension");
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, PAGE));
	EXPECT_CREATE_FAILS_CLEANLY(EINVAL,
		udmabuf_create(self->dev, memfd, 0, PAGE,
			       DMABRIDGE_UDMABUF_FLAGS_READONLY));
	close(memfd);
}

/* The memfd opened again through /proc with @flags, or -1. */
static int reopen(int memfd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return open(path, flags | O_CLOEXEC);
}

TEST_F(udmabuf, buffer_allows_no_more_than_the_memfds_fd)
{
	int ro = reopen(self->memfd, O_RDONLY);
	int wo = reopen(self->memfd, O_WRONLY);
	int fd;

	if (!udmabuf_dev_is_dmabridge())
		SKIP(return, "upstream makes writable buffers of read-only fds");
	ASSERT_GE(ro, 0);
	ASSERT_GE(wo, 0);
	EXPECT_CREATE_FAILS_CLEANLY(EACCES,
		udmabuf_create(self->dev, ro, 0, PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EACCES,
		udmabuf_create(self->dev, wo, 0, PAGE, 0));
	EXPECT_CREATE_FAILS_CLEANLY(EACCES,
		udmabuf_create(self->dev, wo, 0, PAGE,
			       DMABRIDGE_UDMABUF_FLAGS_READONLY));
	fd = udmabuf_create(self->dev, ro, 0, PAGE,
			    DMABRIDGE_UDMABUF_FLAGS_READONLY);
	EXPECT_GE(fd, 0);
	if (fd >= 0)
		close(fd);
	close(ro);
	close(wo);
}

/* --- what the dma-buf core offers on our buffers --------------------- */

TEST_F(udmabuf, cpu_access_sync_accepts_valid_and_refuses_bad_flags)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);

	ASSERT_GE(fd, 0);
	check_cpu_access_sync(_metadata, fd);
	close(fd);
}

TEST_F(udmabuf, name_set_on_buffer_shows_in_fdinfo)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);

	ASSERT_GE(fd, 0);
	check_name_in_fdinfo(_metadata, fd, udmabuf_dev_is_dmabridge() ?
			     "dmabridge_udmabuf" : NULL);
	close(fd);
}

TEST_F(udmabuf, implicit_sync_files_export_and_import)
{
	int fd = udmabuf_create(self->dev, self->memfd, 0, PAGE, 0);

	ASSERT_GE(fd, 0);
	check_implicit_sync_roundtrip(_metadata, fd);
	close(fd);
}

/* --- hugetlb memfds -------------------------------------------------- */

TEST_F(udmabuf, hugetlb_memfd_ranges_share_pages)
{
	struct udmabuf_create_item items[2];
	uint8_t *mem, *buf;
	int memfd, fd;

	memfd = memfd_sealed("udmabuf-huge", 2 * HUGE_PAGE, MFD_HUGETLB);
	if (memfd < 0)
		SKIP(return, "no hugetlb memfd: %s", strerror(-memfd));
	mem = mmap(NULL, 2 * HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   memfd, 0);
	if (mem == MAP_FAILED)
		SKIP(return, "no free huge pages");
	pat_fill(mem, 0, 2 * HUGE_PAGE, 6);

	/* Inside a huge page, and across the boundary between two. */
	items[0] = (struct udmabuf_create_item){
		.memfd = memfd, .offset = 5 * PAGE, .size = 3 * PAGE,
	};
	items[1] = (struct udmabuf_create_item){
		.memfd = memfd, .offset = HUGE_PAGE - 2 * PAGE,
		.size = 4 * PAGE,
	};
	fd = udmabuf_create_list(self->dev, 0, items, 2);
	ASSERT_GE(fd, 0);
	buf = mmap(NULL, 7 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(buf, MAP_FAILED);
	EXPECT_EQ(-1, pat_check(buf, 5 * PAGE, 3 * PAGE, 6));
	EXPECT_EQ(-1, pat_check(buf + 3 * PAGE, HUGE_PAGE - 2 * PAGE,
				4 * PAGE, 6));
	pat_fill(buf + 3 * PAGE, 0, 4 * PAGE, 7);
	EXPECT_EQ(-1, pat_check(mem + HUGE_PAGE - 2 * PAGE, 0, 4 * PAGE, 7));

	munmap(buf, 7 * PAGE);
	munmap(mem, 2 * HUGE_PAGE);
	close(fd);
	close(memfd);
}

/* --- a real importer: vgem through DRM PRIME -------------------------- */

TEST_F(udmabuf, vgem_imports_buffer_through_prime)
{
	int vgem = vgem_open(), fd;

	if (vgem < 0)
		SKIP(return, "vgem not loaded");
	fd = udmabuf_create(self->dev, self->memfd, 0, 8 * PAGE, 0);
	ASSERT_GE(fd, 0);
	check_vgem_prime_import(_metadata, vgem, fd);
	close(fd);
	close(vgem);
}

/* --- soak -------------------------------------------------------------- */

static void soak_cycles(struct __test_metadata *_metadata, int dev, int memfd,
			const struct udmabuf_create_item *items, int cycles)
{
	for (int i = 0; i < cycles; i++) {
		int fd = i % 2 ? udmabuf_create_list(dev, 0, items, 4)
			       : udmabuf_create(dev, memfd, 0, PAGE, 0);

		ASSERT_GE(fd, 0);
		close(fd);
	}
}

/*
 * A leak grows kernel memory in every round by the same amount; unrelated
 * activity (deferred frees of earlier tests, per-CPU caches) does not, so
 * one quiet round of 10,000 cycles is the proof, and up to three tries
 * keep the noise from failing the test.
 */
TEST_F_TIMEOUT(udmabuf, soak_10000_create_close_cycles_do_not_grow_kernel_memory,
	       900)
{
	struct udmabuf_create_item items[4];
	long long before, after, growth = 0;
	int i, round;

	for (i = 0; i < 4; i++)
		items[i] = (struct udmabuf_create_item){
			.memfd = self->memfd, .offset = (uint64_t)i * 8 * PAGE,
			.size = 4 * PAGE,
		};
	/* Warm up slab caches so their growth does not count as a leak. */
	soak_cycles(_metadata, self->dev, self->memfd, items, 500);
	for (round = 0; round < 3; round++) {
		before = kernel_unreclaimable_bytes();
		soak_cycles(_metadata, self->dev, self->memfd, items, 10000);
		after = kernel_unreclaimable_bytes();
		growth = after - before;
		TH_LOG("round %d: kernel memory %lld -> %lld bytes", round,
		       before, after);
		/* A leak of one small object per cycle would be 10000 of them. */
		if (growth < 256 * 1024)
			break;
	}
	EXPECT_LT(growth, 256 * 1024);
	EXPECT_EQ(0, try_write_seal(self->memfd));
}

#define PARAMS "/sys/module/dmabridge_udmabuf/parameters/"

/* 0, or the errno of writing @value to parameter @name. */
static int write_param(const char *name, const char *value)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, value, strlen(value)) < 0)
		err = errno;
	close(fd);
	return err;
}

/*
 * The limits take no value that could overflow a size computation or ask
 * kvmalloc() for more than it gives (16 bytes a page at worst).
 */
TEST(limits_refuse_values_outside_their_range)
{
	char list[32] = "", size[32] = "";
	FILE *f;

	f = fopen(PARAMS "size_limit_mb", "r");
	if (!f)
		SKIP(return, "dmabridge_udmabuf is not loaded");
	ASSERT_EQ(1, fscanf(f, "%31s", size));
	fclose(f);
	f = fopen(PARAMS "list_limit", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%31s", list));
	fclose(f);

	EXPECT_EQ(EINVAL, write_param("size_limit_mb", "0"));
	EXPECT_EQ(EINVAL, write_param("size_limit_mb", "524288"));
	EXPECT_EQ(EINVAL, write_param("size_limit_mb", "-1"));
	EXPECT_EQ(0, write_param("size_limit_mb", "524287"));
	EXPECT_EQ(EINVAL, write_param("list_limit", "0"));
	EXPECT_EQ(EINVAL, write_param("list_limit", "1048577"));
	EXPECT_EQ(0, write_param("list_limit", "1048576"));

	EXPECT_EQ(0, write_param("size_limit_mb", size));
	EXPECT_EQ(0, write_param("list_limit", list));
}

TEST_HARNESS_MAIN
