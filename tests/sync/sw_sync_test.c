// SPDX-License-Identifier: GPL-2.0
/*
 * sw_sync as dmabridge provides it: where it is, who may open it, and the
 * upstream behaviour the selftests do not cover (wrap, close, deadlines,
 * the sync/info view).
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "sync_common.h"

TEST(dev_sw_sync_is_root_only)
{
	struct stat st;
	pid_t pid;
	int status;

	ASSERT_EQ(0, stat(SW_SYNC_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 0777);
	EXPECT_EQ(0, st.st_uid);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open(SW_SYNC_DEV, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(debugfs_has_upstreams_sw_sync_and_info)
{
	struct stat st;

	ASSERT_EQ(0, stat(SW_SYNC_DEBUGFS, &st));
	EXPECT_EQ(0, stat("/sys/kernel/debug/sync/info", &st));
}

TEST(both_places_give_working_timelines)
{
	const char *paths[] = { SW_SYNC_DEV, SW_SYNC_DEBUGFS };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		int tl = open(paths[i], O_RDWR | O_CLOEXEC), f;

		ASSERT_LE(0, tl) TH_LOG("%s", paths[i]);
		f = sw_sync_fence(tl, 2);
		ASSERT_LE(0, f);
		EXPECT_EQ(0, fence_state(f));
		EXPECT_EQ(0, sw_sync_inc(tl, 2));
		EXPECT_EQ(1, fence_state(f));
		close(f);
		close(tl);
	}
}

TEST(closing_signals_pending_fences_with_enoent_as_upstream)
{
	int tl = sw_sync_open(), f;

	ASSERT_LE(0, tl);
	f = sw_sync_fence(tl, 1);
	ASSERT_LE(0, f);
	close(tl);
	EXPECT_EQ(-ENOENT, fence_state(f));
	close(f);
}

TEST(sync_file_info_says_sw_sync)
{
	struct dmabridge_fence_point p;
	int tl = sw_sync_open(), f;

	ASSERT_LE(0, tl);
	f = sw_sync_fence(tl, 1);
	ASSERT_EQ(1, dmabridge_fence_points(f, &p, 1));
	EXPECT_STREQ("sw_sync", p.driver);
	EXPECT_STREQ("sw_sync_test", p.timeline);
	close(f);
	close(tl);
}

TEST(values_wrap_at_32_bits)
{
	int tl = sw_sync_open(), f, g;

	ASSERT_LE(0, tl);
	ASSERT_EQ(0, sw_sync_inc(tl, 0xfffffff0U));
	f = sw_sync_fence(tl, 0xfffffff8U);
	g = sw_sync_fence(tl, 4);	/* after the wrap: later */
	ASSERT_LE(0, g);
	EXPECT_EQ(0, fence_state(f));
	EXPECT_EQ(0, fence_state(g));
	ASSERT_EQ(0, sw_sync_inc(tl, 0x10));
	EXPECT_EQ(1, fence_state(f));
	EXPECT_EQ(0, fence_state(g));
	ASSERT_EQ(0, sw_sync_inc(tl, 4));
	EXPECT_EQ(1, fence_state(g));
	close(f);
	close(g);
	close(tl);
}

TEST(an_increment_above_int_max_signals_everything_on_the_way)
{
	int tl = sw_sync_open(), f;

	ASSERT_LE(0, tl);
	f = sw_sync_fence(tl, 10);
	ASSERT_LE(0, f);
	ASSERT_EQ(0, sw_sync_inc(tl, 0xfffffff0U));
	EXPECT_EQ(1, fence_state(f));
	close(f);
	close(tl);
}

TEST(bad_input_is_refused)
{
	int tl = sw_sync_open();
	uint32_t v = 1;

	ASSERT_LE(0, tl);
	EXPECT_EQ(-EFAULT, xioctl(tl, SW_SYNC_IOC_CREATE_FENCE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(tl, SW_SYNC_IOC_INC, NULL));
	EXPECT_EQ(-ENOTTY, xioctl(tl, _IOW('W', 9, uint32_t), &v));
	close(tl);
}

/* Fence deadlines exist where the kernel has SYNC_IOC_SET_DEADLINE. */
TEST(get_deadline_returns_the_earliest_hint_where_fences_have_deadlines)
{
	struct sw_sync_get_deadline g = { 0 };
	struct sync_set_deadline s = { .deadline_ns = 5000000000ULL };
	int tl = sw_sync_open(), f, ours, our_tl;

	ASSERT_LE(0, tl);
	f = sw_sync_fence(tl, 1);
	ASSERT_LE(0, f);
	g.fence_fd = f;
	if (xioctl(f, SYNC_IOC_SET_DEADLINE, &s) == -ENOTTY) {
		/* Not a SKIP: the harness's SKIP would hide a failure here. */
		EXPECT_EQ(-ENOTTY, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
		TH_LOG("no fence deadlines in this kernel: ENOTTY, as upstream");
		close(f);
		close(tl);
		return;
	}
	ASSERT_EQ(0, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	EXPECT_EQ(5000000000ULL, g.deadline_ns);
	s.deadline_ns = 3000000000ULL;
	ASSERT_EQ(0, xioctl(f, SYNC_IOC_SET_DEADLINE, &s));
	s.deadline_ns = 4000000000ULL;
	ASSERT_EQ(0, xioctl(f, SYNC_IOC_SET_DEADLINE, &s));
	g.deadline_ns = 0;
	ASSERT_EQ(0, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	EXPECT_EQ(3000000000ULL, g.deadline_ns);

	/* Bad input: nonzero in-fields, no hint, not a sync_file, not sw_sync. */
	EXPECT_EQ(-EINVAL, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	g.deadline_ns = 0;
	g.pad = 1;
	EXPECT_EQ(-EINVAL, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	g.pad = 0;
	g.fence_fd = tl;
	EXPECT_EQ(-EINVAL, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	close(f);
	f = sw_sync_fence(tl, 2);
	g.fence_fd = f;
	EXPECT_EQ(-ENOENT, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	our_tl = dmabridge_timeline_create("x", 0, 0, 0);
	ours = dmabridge_fence_create(our_tl, 1, 0);
	ASSERT_LE(0, ours);
	g.fence_fd = ours;
	EXPECT_EQ(-EINVAL, xioctl(tl, SW_SYNC_GET_DEADLINE, &g));
	EXPECT_EQ(-EFAULT, xioctl(tl, SW_SYNC_GET_DEADLINE, NULL));
	close(ours);
	close(our_tl);
	close(f);
	close(tl);
}

TEST(sync_info_lists_timelines_and_their_pending_fences)
{
	char buf[65536];
	ssize_t n;
	int tl = sw_sync_open(), f, info;

	ASSERT_LE(0, tl);
	ASSERT_EQ(0, sw_sync_inc(tl, 3));
	f = sw_sync_fence(tl, 7);
	ASSERT_LE(0, f);
	info = open("/sys/kernel/debug/sync/info", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, info);
	n = read(info, buf, sizeof(buf) - 1);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	EXPECT_NE(NULL, strstr(buf, "objs:\n"));
	EXPECT_NE(NULL, strstr(buf, "sw_sync_test: 3\n  fence active: 7 / 3\n"))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "fences:\n"));
	close(info);
	close(f);
	close(tl);
}

/*
 * One read of the whole view: it must be well formed, the header, then
 * "name: value" per timeline with its "  fence ..." lines, then the
 * (empty) list of sync_files.  The reason of a defect, or NULL.
 */
static const char *sync_info_defect(int info, char *buf, size_t len)
{
	static const char head[] = "objs:\n--------------\n";
	static const char tail[] = "fences:\n--------------\n";
	size_t got = 0;
	ssize_t n;
	char *line, *next;

	while (got < len - 1 && (n = read(info, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	if (strncmp(buf, head, sizeof(head) - 1))
		return "no header";
	if (got < sizeof(tail) - 1 || strcmp(buf + got - (sizeof(tail) - 1), tail))
		return "no end";
	buf[got - (sizeof(tail) - 1)] = '\0';
	for (line = buf + sizeof(head) - 1; *line; line = next) {
		unsigned long long value;
		char name[64], rest[2];

		next = strchr(line, '\n');
		if (!next)
			return "a line without its end";
		*next++ = '\0';
		if (!*line || !strncmp(line, "  fence ", 8))
			continue;
		if (sscanf(line, "%63[^:]: %llu%1s", name, &value, rest) != 2)
			return "a timeline line that is not \"name: value\"";
	}
	return NULL;
}

/*
 * The debugfs view takes one timeline at a time, with a reference, while
 * the list's lock is dropped: timelines that come and go meanwhile, with
 * fences pending, must neither break the walk nor outlive their last
 * reference.  The two sides overlap for the whole test, every read must
 * be well formed, and nothing is left once the child is gone.
 */
TEST(sync_info_reads_while_timelines_come_and_go)
{
	static char buf[1 << 20];
	volatile int *stop;
	long before_tl, before_f, tl, f;
	int status, i;
	pid_t child;

	if (sync_objects(&before_tl, &before_f))
		SKIP(return, "no debugfs");
	stop = mmap(NULL, sizeof(*stop), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)stop);
	*stop = 0;
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		for (i = 0; !*stop || i < 400; i++) {
			int tl = sw_sync_open(), f1, f2;

			if (tl < 0)
				_exit(1);
			f1 = sw_sync_fence(tl, 1);
			f2 = sw_sync_fence(tl, 2);
			if (i % 2)
				sw_sync_inc(tl, 1);
			/* The fences outlive the timeline's file. */
			close(tl);
			close(f1);
			close(f2);
		}
		_exit(0);
	}
	for (i = 0; i < 200; i++) {
		int info = open("/sys/kernel/debug/sync/info",
				O_RDONLY | O_CLOEXEC);
		const char *defect;

		ASSERT_LE(0, info);
		defect = sync_info_defect(info, buf, sizeof(buf));
		close(info);
		EXPECT_EQ(NULL, defect) TH_LOG("read %d: %s", i, defect);
		if (defect)
			break;
	}
	*stop = 1;
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, sync_objects_settle(before_tl, before_f, &tl, &f))
		TH_LOG("left: %ld timelines, %ld fences", tl - before_tl,
		       f - before_f);
	munmap((void *)stop, sizeof(*stop));
}

TEST_HARNESS_MAIN
