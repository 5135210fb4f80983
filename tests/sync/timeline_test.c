// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge-sync timelines (/dev/dmabridge-sync): signaling, error
 * signaling on close and on timeout, sync_file interplay, implicit sync on
 * any dma-buf exporter, waits on fences of several producers in userspace
 * and in the kernel, and every error path of every ioctl.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "sync_common.h"

static int tl_create(uint64_t start, uint64_t timeout_ns)
{
	int tl = dmabridge_timeline_create("test-tl", start, timeout_ns, 0);

	return tl;
}

TEST(fence_signals_when_the_timeline_reaches_its_value)
{
	int tl = tl_create(0, 0), f, err = 1;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 5, 0);
	ASSERT_LE(0, f);
	EXPECT_EQ(0, dmabridge_fence_status(f, &err));
	EXPECT_EQ(0, dmabridge_timeline_signal(tl, 4));
	EXPECT_EQ(0, dmabridge_fence_status(f, &err));
	EXPECT_FALSE(readable(f, 0));
	EXPECT_EQ(0, dmabridge_timeline_signal(tl, 5));
	EXPECT_EQ(1, dmabridge_fence_status(f, &err));
	EXPECT_EQ(0, err);
	EXPECT_TRUE(readable(f, 0));
	close(f);
	close(tl);
}

TEST(fence_at_a_reached_value_is_signaled_from_the_start)
{
	int tl = tl_create(10, 0), f;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 3, 0);
	ASSERT_LE(0, f);
	EXPECT_EQ(1, fence_state(f));
	close(f);
	f = dmabridge_fence_create(tl, 10, 0);
	EXPECT_EQ(1, fence_state(f));
	close(f);
	close(tl);
}

TEST(values_are_64_bit_and_do_not_wrap)
{
	int tl = tl_create(0xfffffff0ULL, 0), f;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 0x100000000ULL, 0);
	ASSERT_LE(0, f);
	EXPECT_EQ(0, fence_state(f));
	EXPECT_EQ(0, dmabridge_timeline_inc(tl, 0xf));
	EXPECT_EQ(0, fence_state(f));
	EXPECT_EQ(0, dmabridge_timeline_inc(tl, 1));
	EXPECT_EQ(1, fence_state(f));
	close(f);
	close(tl);
}

TEST(closing_the_timeline_signals_pending_fences_with_epipe)
{
	int tl = tl_create(0, 0), done, pending, err = 0;

	ASSERT_LE(0, tl);
	done = dmabridge_fence_create(tl, 1, 0);
	pending = dmabridge_fence_create(tl, 2, 0);
	ASSERT_LE(0, done);
	ASSERT_LE(0, pending);
	EXPECT_EQ(0, dmabridge_timeline_signal(tl, 1));
	close(tl);
	EXPECT_TRUE(readable(pending, 1000));
	EXPECT_EQ(1, dmabridge_fence_status(pending, &err));
	EXPECT_EQ(-EPIPE, err);
	EXPECT_EQ(1, dmabridge_fence_status(done, &err));
	EXPECT_EQ(0, err);
	close(done);
	close(pending);
}

/*
 * Fences of one timeline signal in order, also when closing the timeline
 * signals them all at once: the times they signaled at (a monotonic clock
 * read as each one signals) go up with their values.  Made in a shuffled
 * order, so that the timeline's tree of pending fences is no list.
 */
TEST(closing_the_timeline_signals_pending_fences_in_order)
{
	enum { N = 64 };
	struct dmabridge_fence_point p;
	uint64_t ts[N + 1];
	int tl = tl_create(0, 0), f[N + 1], i, v, distinct = 0;

	ASSERT_LE(0, tl);
	for (i = 0; i < N; i++) {
		v = (i * 37) % N + 1;
		f[v] = dmabridge_fence_create(tl, v, 0);
		ASSERT_LE(0, f[v]);
	}
	close(tl);
	for (v = 1; v <= N; v++) {
		ASSERT_EQ(1, dmabridge_fence_points(f[v], &p, 1));
		EXPECT_EQ(-EPIPE, p.status);
		ts[v] = p.timestamp_ns;
		ASSERT_NE(0, ts[v]);
		close(f[v]);
	}
	for (v = 2; v <= N; v++) {
		EXPECT_LE(ts[v - 1], ts[v])
			TH_LOG("fence %d signaled %llu ns before fence %d", v,
			       (unsigned long long)(ts[v - 1] - ts[v]), v - 1);
		distinct += ts[v - 1] != ts[v];
	}
	/* Timestamps all alike would prove nothing about the order. */
	EXPECT_LT(N / 2, distinct) TH_LOG("only %d of %d timestamps differ",
					  distinct, N - 1);
}

TEST(only_the_last_reference_to_the_timeline_closes_it)
{
	int tl = tl_create(0, 0), copy, f;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 1, 0);
	ASSERT_LE(0, f);
	copy = dup(tl);
	close(tl);
	EXPECT_EQ(0, fence_state(f));
	EXPECT_EQ(0, dmabridge_timeline_signal(copy, 1));
	EXPECT_EQ(1, fence_state(f));
	close(copy);
	close(f);
}

TEST(a_dying_process_takes_its_fences_down_with_epipe)
{
	int tl = tl_create(0, 0), f;
	pid_t pid;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 1, 0);
	ASSERT_LE(0, f);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child now holds the only timeline reference. */
		pause();
		_exit(0);
	}
	close(tl);
	EXPECT_FALSE(readable(f, 100));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	EXPECT_TRUE(readable(f, 1000));
	EXPECT_EQ(-EPIPE, fence_state(f));
	close(f);
}

TEST(timeout_signals_late_fences_and_those_before_them_with_etimedout)
{
	struct dmabridge_timeline_info info;
	int tl = tl_create(0, 300 * 1000000ULL), f5, f3, f9, err;
	int64_t t0 = mono_ns(), t;

	ASSERT_LE(0, tl);
	f5 = dmabridge_fence_create(tl, 5, 0);
	ASSERT_LE(0, f5);
	sleep_ms(150);
	f3 = dmabridge_fence_create(tl, 3, 0);
	f9 = dmabridge_fence_create(tl, 9, 0);
	ASSERT_LE(0, f3);
	ASSERT_LE(0, f9);
	/* Unless a loaded host stalled us past the timeout already. */
	if (mono_ns() - t0 < 250 * 1000000LL)
		EXPECT_EQ(0, fence_state(f5));

	ASSERT_TRUE(readable(f5, 5000));
	t = mono_ns() - t0;
	EXPECT_LE(290 * 1000000LL, t);
	EXPECT_EQ(1, dmabridge_fence_status(f5, &err));
	EXPECT_EQ(-ETIMEDOUT, err);
	/* Made later, but below 5: the timeline's order wins. */
	EXPECT_EQ(-ETIMEDOUT, fence_state(f3));
	EXPECT_EQ(0, fence_state(f9));
	ASSERT_EQ(0, dmabridge_timeline_info(tl, &info));
	EXPECT_EQ(5, info.value);
	EXPECT_EQ(1, info.pending);
	EXPECT_EQ(300 * 1000000ULL, info.timeout_ns);

	ASSERT_TRUE(readable(f9, 5000));
	EXPECT_LE(440 * 1000000LL, mono_ns() - t0);
	EXPECT_EQ(-ETIMEDOUT, fence_state(f9));
	close(f3);
	close(f5);
	close(f9);
	close(tl);
}

TEST(fences_signaled_in_time_never_time_out)
{
	int tl = tl_create(0, 200 * 1000000ULL), f;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 1, 0);
	ASSERT_LE(0, f);
	EXPECT_EQ(0, dmabridge_timeline_signal(tl, 1));
	sleep_ms(300);
	EXPECT_EQ(1, fence_state(f));
	close(f);
	close(tl);
}

TEST(signal_with_error_marks_the_fences_it_reaches)
{
	int tl = tl_create(0, 0), f1, f2, f3;

	ASSERT_LE(0, tl);
	f1 = dmabridge_fence_create(tl, 1, 0);
	f2 = dmabridge_fence_create(tl, 2, 0);
	f3 = dmabridge_fence_create(tl, 3, 0);
	ASSERT_LE(0, f3);
	EXPECT_EQ(0, dmabridge_timeline_fail(tl, 2, EIO));
	EXPECT_EQ(-EIO, fence_state(f1));
	EXPECT_EQ(-EIO, fence_state(f2));
	EXPECT_EQ(0, fence_state(f3));
	EXPECT_EQ(0, dmabridge_timeline_signal(tl, 3));
	EXPECT_EQ(1, fence_state(f3));
	close(f1);
	close(f2);
	close(f3);
	close(tl);
}

TEST(sync_file_info_names_our_driver_and_the_timeline)
{
	struct dmabridge_fence_point p[2];
	int tl = dmabridge_timeline_create("named-timeline", 0, 0, 0), f;

	ASSERT_LE(0, tl);
	f = dmabridge_fence_create(tl, 1, 0);
	ASSERT_LE(0, f);
	ASSERT_EQ(1, dmabridge_fence_points(f, p, 2));
	EXPECT_STREQ("dmabridge-sync", p[0].driver);
	EXPECT_STREQ("named-timeline", p[0].timeline);
	EXPECT_EQ(0, p[0].status);
	close(f);
	close(tl);
}

TEST(merged_fences_signal_when_all_of_theirs_have)
{
	int a = tl_create(0, 0), b = tl_create(0, 0), sw = sw_sync_open();
	int fa, fb, fs, m1, m2;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, sw);
	fa = dmabridge_fence_create(a, 1, 0);
	fb = dmabridge_fence_create(b, 1, 0);
	fs = sw_sync_fence(sw, 1);
	ASSERT_LE(0, fs);
	m1 = dmabridge_fence_merge(fa, fb, "m1");
	ASSERT_LE(0, m1);
	m2 = dmabridge_fence_merge(m1, fs, "m2");
	ASSERT_LE(0, m2);
	EXPECT_EQ(3, dmabridge_fence_points(m2, NULL, 0));
	EXPECT_EQ(0, dmabridge_timeline_signal(a, 1));
	EXPECT_EQ(0, dmabridge_timeline_signal(b, 1));
	EXPECT_EQ(1, fence_state(m1));
	EXPECT_EQ(0, fence_state(m2));
	EXPECT_EQ(0, sw_sync_inc(sw, 1));
	EXPECT_TRUE(readable(m2, 1000));
	EXPECT_EQ(1, fence_state(m2));
	close(fa);
	close(fb);
	close(fs);
	close(m1);
	close(m2);
	close(a);
	close(b);
	close(sw);
}

/*
 * A dma-buf of each exporter the guest has (udmabuf, the heap named by
 * $DMABRIDGE_DMA_HEAP, vgem); the test wants at least one.
 */
TEST(implicit_sync_a_dmabuf_poll_blocks_until_our_fence_signals)
{
	static const enum exporter_kind kinds[] = {
		EXPORTER_UDMABUF, EXPORTER_HEAP, EXPORTER_VGEM,
	};
	static const char *const names[] = { "udmabuf", "heap", "vgem" };
	unsigned int i, tried = 0;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		struct pollfd p;
		int buf = exporter_alloc(kinds[i], 4096), tl, f, ex, err;

		/* A heap named in the environment must be there. */
		if (buf == -ENODEV &&
		    !(kinds[i] == EXPORTER_HEAP && getenv("DMABRIDGE_DMA_HEAP")))
			continue;
		ASSERT_LE(0, buf) TH_LOG("exporter %u: %s", i, strerror(-buf));
		TH_LOG("exporter %s", names[i]);
		tried++;
		tl = tl_create(0, 0);
		ASSERT_LE(0, tl);
		f = dmabridge_fence_create(tl, 1, 0);
		ASSERT_LE(0, f);
		ASSERT_EQ(0, dmabridge_fence_import(buf, f, DMABRIDGE_ACCESS_WRITE));
		close(f);

		p = (struct pollfd){ .fd = buf, .events = POLLIN };
		EXPECT_EQ(0, poll(&p, 1, 100)) TH_LOG("exporter %u", i);
		ex = dmabridge_fence_export(buf, DMABRIDGE_ACCESS_READ);
		ASSERT_LE(0, ex);
		EXPECT_EQ(0, fence_state(ex));

		EXPECT_EQ(0, dmabridge_timeline_signal(tl, 1));
		p.revents = 0;
		EXPECT_EQ(1, poll(&p, 1, 1000));
		EXPECT_TRUE(p.revents & POLLIN);
		EXPECT_EQ(1, dmabridge_fence_status(ex, &err));
		EXPECT_EQ(0, err);
		close(ex);

		/* An error reaches the buffer's users too. */
		f = dmabridge_fence_create(tl, 2, 0);
		ASSERT_LE(0, f);
		ASSERT_EQ(0, dmabridge_fence_import(buf, f, DMABRIDGE_ACCESS_READ));
		ex = dmabridge_fence_export(buf, DMABRIDGE_ACCESS_WRITE);
		ASSERT_LE(0, ex);
		EXPECT_EQ(0, fence_state(ex));
		close(tl);
		EXPECT_TRUE(readable(ex, 1000));
		EXPECT_EQ(-EPIPE, fence_state(ex));
		close(ex);
		close(f);
		close(buf);
	}
	ASSERT_LT(0, tried) TH_LOG("no dma-buf exporter in this guest");
}

struct producers {
	int tl, sw, fences[3];
	struct vgem_bo bo;
	uint32_t vgem_id;
	bool vgem;
};

static void producers_make(struct __test_metadata *_metadata, struct producers *p)
{
	memset(p, 0, sizeof(*p));
	p->tl = tl_create(0, 0);
	ASSERT_LE(0, p->tl);
	p->sw = sw_sync_open();
	ASSERT_LE(0, p->sw);
	p->fences[0] = dmabridge_fence_create(p->tl, 1, 0);
	ASSERT_LE(0, p->fences[0]);
	p->fences[1] = sw_sync_fence(p->sw, 1);
	ASSERT_LE(0, p->fences[1]);
	p->vgem = !vgem_bo_create(&p->bo);
	if (p->vgem)
		p->fences[2] = vgem_fence(&p->bo, &p->vgem_id);
	else
		p->fences[2] = sw_sync_fence(p->sw, 2);
	ASSERT_LE(0, p->fences[2]);
}

static void producers_free(struct producers *p)
{
	int i;

	for (i = 0; i < 3; i++)
		close(p->fences[i]);
	if (p->vgem) {
		vgem_signal(&p->bo, p->vgem_id);
		vgem_bo_destroy(&p->bo);
	}
	close(p->sw);
	close(p->tl);
}

TEST(library_waits_on_any_or_all_fences_of_several_producers)
{
	struct producers p;
	size_t index = 99;

	producers_make(_metadata, &p);
	EXPECT_EQ(-ETIME, dmabridge_fence_wait(p.fences, 3, 0, 50000000, &index));
	EXPECT_EQ(-ETIME, dmabridge_fence_wait(p.fences, 3, 0, 0, &index));

	EXPECT_EQ(0, sw_sync_inc(p.sw, 1));
	EXPECT_EQ(0, dmabridge_fence_wait(p.fences, 3, 0, -1, &index));
	EXPECT_EQ(1, index);
	EXPECT_EQ(-ETIME, dmabridge_fence_wait(p.fences, 3, DMABRIDGE_WAIT_ALL,
					       50000000, NULL));
	EXPECT_EQ(0, dmabridge_timeline_signal(p.tl, 1));
	EXPECT_EQ(0, dmabridge_fence_wait(p.fences, 3, 0, -1, &index));
	EXPECT_EQ(0, index);
	if (p.vgem) {
		EXPECT_EQ(0, vgem_signal(&p.bo, p.vgem_id));
	} else {
		EXPECT_EQ(0, sw_sync_inc(p.sw, 1));
	}
	EXPECT_EQ(0, dmabridge_fence_wait(p.fences, 3, DMABRIDGE_WAIT_ALL,
					  1000000000, NULL));
	producers_free(&p);
}

struct delayed_signal {
	int tl;
	uint64_t value;
};

static void *signal_later(void *arg)
{
	struct delayed_signal *d = arg;

	sleep_ms(200);
	dmabridge_timeline_signal(d->tl, d->value);
	return NULL;
}

/* INT64_MAX ns from now does not fit in the clock: it means forever. */
TEST(library_wait_with_the_longest_timeout_waits)
{
	struct delayed_signal d = { .tl = tl_create(0, 0), .value = 1 };
	pthread_t thread;
	int f;

	ASSERT_LE(0, d.tl);
	f = dmabridge_fence_create(d.tl, 1, 0);
	ASSERT_LE(0, f);
	ASSERT_EQ(0, pthread_create(&thread, NULL, signal_later, &d));
	EXPECT_EQ(0, dmabridge_fence_wait(&f, 1, 0, INT64_MAX, NULL));
	EXPECT_EQ(1, fence_state(f));
	pthread_join(thread, NULL);
	close(f);
	close(d.tl);
}

TEST(library_wait_rejects_what_is_not_a_fence)
{
	int fds[2] = { -1, -1 }, tl = tl_create(0, 0);

	ASSERT_LE(0, tl);
	fds[0] = dmabridge_fence_create(tl, 0, 0);
	fds[1] = tl;
	EXPECT_EQ(-EINVAL, dmabridge_fence_wait(fds, 2, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, dmabridge_fence_wait(fds, 0, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, dmabridge_fence_wait(fds, 1, 0x80, 0, NULL));
	fds[1] = 1000;
	EXPECT_EQ(-EBADF, dmabridge_fence_wait(fds, 2, 0, 0, NULL));
	close(fds[0]);
	close(tl);
}

struct delayed_inc {
	int sw;
	unsigned int ms;
};

static void *inc_later(void *arg)
{
	struct delayed_inc *d = arg;

	sleep_ms(d->ms);
	sw_sync_inc(d->sw, 1);
	return NULL;
}

static int kernel_wait_any(int dev, int *fds, uint32_t n, uint64_t ns,
			   uint32_t *index)
{
	/* An index the kernel never gives: one that stays shows no answer. */
	struct dmabridge_sync_test_wait_any w = {
		.fds = (uintptr_t)fds, .count = n, .timeout_ns = ns,
		.index = UINT32_MAX,
	};
	int ret = xioctl(dev, DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY, &w);

	*index = w.index;
	return ret;
}

/*
 * dma_fence_wait_any_timeout() fails with EINVAL for fences whose driver
 * has its own .wait on some kernels; ours have none, so a kernel waiter
 * takes them alongside vgem's, sw_sync's and merged (array) fences.
 */
TEST(kernel_waits_on_any_of_our_fences_and_other_producers)
{
	struct producers p;
	struct delayed_inc d;
	pthread_t thread;
	int dev = open(DMABRIDGE_SYNC_TEST_DEVICE, O_RDWR | O_CLOEXEC);
	int fds[4], tl2, f2;
	uint32_t index = 99;
	int64_t t0;

	if (dev < 0)
		SKIP(return, "no %s (a TESTING=1 build)", DMABRIDGE_SYNC_TEST_DEVICE);
	producers_make(_metadata, &p);
	tl2 = tl_create(0, 0);
	f2 = dmabridge_fence_create(tl2, 1, 0);
	memcpy(fds, p.fences, sizeof(p.fences));
	fds[3] = dmabridge_fence_merge(p.fences[0], f2, "array");
	ASSERT_LE(0, fds[3]);

	EXPECT_EQ(-ETIME, kernel_wait_any(dev, fds, 4, 50000000, &index));
	EXPECT_EQ(-ETIME, kernel_wait_any(dev, fds, 4, 0, &index));

	d = (struct delayed_inc){ .sw = p.sw, .ms = 200 };
	ASSERT_EQ(0, pthread_create(&thread, NULL, inc_later, &d));
	t0 = mono_ns();
	EXPECT_EQ(0, kernel_wait_any(dev, fds, 4, 5000000000ULL, &index));
	EXPECT_EQ(1, index);
	EXPECT_LE(150000000, mono_ns() - t0);
	pthread_join(thread, NULL);

	/* Ours first in the array, signaled last: the index says which. */
	EXPECT_EQ(0, dmabridge_timeline_signal(p.tl, 1));
	EXPECT_EQ(0, dmabridge_timeline_signal(tl2, 1));
	EXPECT_EQ(0, kernel_wait_any(dev, fds + 2, 2, 1000000000, &index));
	EXPECT_EQ(1, index);
	EXPECT_EQ(0, kernel_wait_any(dev, fds, 1, 1000000000, &index));
	EXPECT_EQ(0, index);
	close(fds[3]);
	close(f2);
	close(tl2);
	producers_free(&p);
	close(dev);
}

TEST(cloexec_flags_give_close_on_exec_descriptors)
{
	int tl = dmabridge_timeline_create(NULL, 0, 0, DMABRIDGE_FENCE_CLOEXEC);
	int plain = tl_create(0, 0), f, g;

	ASSERT_LE(0, tl);
	ASSERT_LE(0, plain);
	EXPECT_EQ(FD_CLOEXEC, fcntl(tl, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(plain, F_GETFD) & FD_CLOEXEC);
	f = dmabridge_fence_create(tl, 1, DMABRIDGE_FENCE_CLOEXEC);
	g = dmabridge_fence_create(tl, 1, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(f, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(g, F_GETFD) & FD_CLOEXEC);
	close(f);
	close(g);
	close(tl);
	close(plain);
}

TEST(an_empty_name_gives_the_creators_name)
{
	struct dmabridge_timeline_info info;
	int tl = dmabridge_timeline_create("", 7, 0, 0);

	ASSERT_LE(0, tl);
	ASSERT_EQ(0, dmabridge_timeline_info(tl, &info));
	EXPECT_STREQ("timeline_test", info.name);
	EXPECT_EQ(7, info.value);
	EXPECT_EQ(0, info.timeout_ns);
	close(tl);
}

/*
 * Not only the node's mode: a user with no capabilities makes a timeline
 * and a fence, and signals it.  The child's exit status says which step
 * failed.
 */
TEST(device_is_open_to_every_user)
{
	struct stat st;
	int status;
	pid_t child;

	ASSERT_EQ(0, stat(SYNC_DEV, &st));
	EXPECT_EQ(0666, st.st_mode & 0777);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int tl, f;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		tl = tl_create(0, 0);
		if (tl < 0)
			_exit(11);
		f = dmabridge_fence_create(tl, 1, 0);
		if (f < 0)
			_exit(12);
		if (dmabridge_timeline_signal(tl, 1))
			_exit(13);
		_exit(dmabridge_fence_wait(&f, 1, 0, 0, NULL) ? 14 : 0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("step %d failed as uid 65534", WEXITSTATUS(status));
}

#define MAX_PENDING_PARAM "/sys/module/dmabridge_sync/parameters/max_pending"

static int read_max_pending(unsigned int *max)
{
	FILE *f = fopen(MAX_PENDING_PARAM, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%u", max) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int write_max_pending(unsigned int max)
{
	FILE *f = fopen(MAX_PENDING_PARAM, "w");
	int ok;

	if (!f)
		return -errno;
	ok = fprintf(f, "%u\n", max) > 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/* Each test lowers the limit; the teardown puts the module's back. */
FIXTURE(limit)
{
	unsigned int saved;
	int tl;
};

FIXTURE_SETUP(limit)
{
	self->tl = -1;
	if (read_max_pending(&self->saved))
		SKIP(return, "no %s", MAX_PENDING_PARAM);
	ASSERT_LT(0, self->saved);
	ASSERT_EQ(0, write_max_pending(4));
	self->tl = tl_create(0, 0);
	ASSERT_LE(0, self->tl);
}

FIXTURE_TEARDOWN(limit)
{
	unsigned int saved;

	if (self->tl >= 0)
		close(self->tl);
	if (!read_max_pending(&saved))
		write_max_pending(self->saved);
}

TEST_F(limit, a_timeline_holds_at_most_max_pending_unsignaled_fences)
{
	struct dmabridge_timeline_info info;
	int f[4], g, i;

	for (i = 0; i < 4; i++) {
		f[i] = dmabridge_fence_create(self->tl, i + 1, 0);
		ASSERT_LE(0, f[i]);
	}
	EXPECT_EQ(-ENOSPC, dmabridge_fence_create(self->tl, 5, 0));
	EXPECT_EQ(-ENOSPC, dmabridge_fence_create(self->tl, 2, 0));
	/* A reached value makes no pending fence: the limit does not apply. */
	g = dmabridge_fence_create(self->tl, 0, 0);
	ASSERT_LE(0, g);
	EXPECT_EQ(1, fence_state(g));
	close(g);
	ASSERT_EQ(0, dmabridge_timeline_info(self->tl, &info));
	EXPECT_EQ(4, info.pending);
	/* The refused ones left nothing behind, and signaling makes room. */
	ASSERT_EQ(0, dmabridge_timeline_signal(self->tl, 1));
	EXPECT_EQ(1, fence_state(f[0]));
	g = dmabridge_fence_create(self->tl, 5, 0);
	ASSERT_LE(0, g);
	EXPECT_EQ(-ENOSPC, dmabridge_fence_create(self->tl, 6, 0));
	ASSERT_EQ(0, dmabridge_timeline_signal(self->tl, 5));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(1, fence_state(f[i]));
		close(f[i]);
	}
	EXPECT_EQ(1, fence_state(g));
	close(g);
}

TEST_F(limit, fences_nobody_holds_still_count_until_they_signal)
{
	int i, f;

	for (i = 0; i < 4; i++) {
		f = dmabridge_fence_create(self->tl, 10, 0);
		ASSERT_LE(0, f);
		close(f);
	}
	EXPECT_EQ(-ENOSPC, dmabridge_fence_create(self->tl, 10, 0));
	ASSERT_EQ(0, dmabridge_timeline_signal(self->tl, 10));
	f = dmabridge_fence_create(self->tl, 11, 0);
	EXPECT_LE(0, f);
	close(f);
}

TEST_F(limit, each_timeline_has_its_own_limit_and_sw_sync_has_none)
{
	int other = tl_create(0, 0), sw = sw_sync_open(), f[8], i;

	ASSERT_LE(0, other);
	for (i = 0; i < 4; i++) {
		f[i] = dmabridge_fence_create(self->tl, 1, 0);
		ASSERT_LE(0, f[i]);
		close(f[i]);
	}
	f[0] = dmabridge_fence_create(other, 1, 0);
	EXPECT_LE(0, f[0]);
	close(f[0]);
	close(other);
	if (sw < 0)
		SKIP(return, "no %s", SW_SYNC_DEV);
	for (i = 0; i < 8; i++) {
		f[i] = sw_sync_fence(sw, 1);
		EXPECT_LE(0, f[i]);
	}
	EXPECT_EQ(0, sw_sync_inc(sw, 1));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(1, fence_state(f[i]));
		close(f[i]);
	}
	close(sw);
}

TEST_F(limit, zero_means_no_limit)
{
	int i, f;

	ASSERT_EQ(0, write_max_pending(0));
	for (i = 0; i < 8; i++) {
		f = dmabridge_fence_create(self->tl, 1, 0);
		ASSERT_LE(0, f);
		close(f);
	}
}

/* --- bad input, every ioctl, every check ------------------------- */

FIXTURE(bad)
{
	int dev, tl;
};

FIXTURE_SETUP(bad)
{
	self->dev = open(SYNC_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->tl = tl_create(0, 0);
	ASSERT_LE(0, self->tl);
}

FIXTURE_TEARDOWN(bad)
{
	close(self->tl);
	close(self->dev);
}

static struct dmabridge_sync_timeline_create good_create(void)
{
	struct dmabridge_sync_timeline_create c = { .fd = -1 };

	strcpy(c.name, "bad-input");
	return c;
}

TEST_F(bad, timeline_create_rejects_unknown_flags)
{
	struct dmabridge_sync_timeline_create c = good_create();

	c.flags = 2;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
	c.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
	EXPECT_EQ(-1, c.fd);
}

TEST_F(bad, timeline_create_rejects_a_timeout_over_one_day)
{
	struct dmabridge_sync_timeline_create c = good_create();

	c.timeout_ns = DMABRIDGE_SYNC_TIMEOUT_MAX + 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
	c.timeout_ns = UINT64_MAX;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
	c.timeout_ns = DMABRIDGE_SYNC_TIMEOUT_MAX;
	ASSERT_EQ(0, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
	close(c.fd);
}

TEST_F(bad, timeline_create_rejects_an_unterminated_name)
{
	struct dmabridge_sync_timeline_create c = good_create();

	memset(c.name, 'x', sizeof(c.name));
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
}

TEST_F(bad, timeline_create_faults_on_a_bad_pointer)
{
	EXPECT_EQ(-EFAULT, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE,
				  (void *)16));
}

TEST_F(bad, timeline_create_faults_when_the_result_cannot_be_written)
{
	struct dmabridge_sync_timeline_create *c;
	long before_tl, before_f, tl, f;
	int lowest = next_free_fd();

	c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c);
	*c = good_create();
	ASSERT_EQ(0, mprotect(c, 4096, PROT_READ));
	if (sync_objects(&before_tl, &before_f))
		SKIP(return, "no debugfs");
	EXPECT_EQ(-EFAULT, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, c));
	/* Nothing is left behind: no timeline, no fence, no fd reserved. */
	EXPECT_EQ(0, sync_objects_settle(before_tl, before_f, &tl, &f));
	EXPECT_EQ(lowest, next_free_fd());
	munmap(c, 4096);
}

/* A struct from a newer program: known size plus 8 bytes. */
struct create_v2 {
	struct dmabridge_sync_timeline_create v1;
	uint64_t future;
};

#define IOC_CREATE_V2 _IOWR(DMABRIDGE_SYNC_IOC_MAGIC, 0x40, struct create_v2)
#define IOC_CREATE_SHORT _IOWR(DMABRIDGE_SYNC_IOC_MAGIC, 0x40, uint64_t)

TEST_F(bad, a_longer_struct_is_accepted_only_with_zeros_beyond_ours)
{
	struct create_v2 c = { .v1 = good_create() };

	c.future = 1;
	EXPECT_EQ(-E2BIG, xioctl(self->dev, IOC_CREATE_V2, &c));
	c.future = 0;
	ASSERT_EQ(0, xioctl(self->dev, IOC_CREATE_V2, &c));
	EXPECT_LE(0, c.v1.fd);
	EXPECT_EQ(0, c.future);
	close(c.v1.fd);
}

TEST_F(bad, a_struct_shorter_than_the_first_version_is_not_our_ioctl)
{
	uint64_t c = 0;

	EXPECT_EQ(-ENOTTY, xioctl(self->dev, IOC_CREATE_SHORT, &c));
}

TEST_F(bad, ioctls_on_the_wrong_file_are_enotty)
{
	struct dmabridge_sync_fence_create f = { .value = 1 };
	struct dmabridge_sync_timeline_create c = good_create();
	struct dmabridge_sync_signal s = { .value = 1 };
	struct dmabridge_sync_timeline_info i = { 0 };

	EXPECT_EQ(-ENOTTY, xioctl(self->dev, DMABRIDGE_SYNC_IOC_FENCE_CREATE, &f));
	EXPECT_EQ(-ENOTTY, xioctl(self->dev, DMABRIDGE_SYNC_IOC_SIGNAL, &s));
	EXPECT_EQ(-ENOTTY, xioctl(self->dev, DMABRIDGE_SYNC_IOC_TIMELINE_INFO, &i));
	EXPECT_EQ(-ENOTTY, xioctl(self->tl, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE, &c));
	EXPECT_EQ(-ENOTTY, xioctl(self->tl, _IOWR(DMABRIDGE_SYNC_IOC_MAGIC, 0x44, uint64_t), &f));
	/* Right number, wrong direction. */
	EXPECT_EQ(-ENOTTY, xioctl(self->tl, _IOR(DMABRIDGE_SYNC_IOC_MAGIC, 0x42,
						  struct dmabridge_sync_signal), &s));
	EXPECT_EQ(-ENOTTY, xioctl(self->tl, SW_SYNC_IOC_INC, &s));
}

TEST_F(bad, fence_create_rejects_unknown_flags_and_bad_pointers)
{
	struct dmabridge_sync_fence_create f = { .value = 1, .flags = 2, .fd = -1 };

	EXPECT_EQ(-EINVAL, xioctl(self->tl, DMABRIDGE_SYNC_IOC_FENCE_CREATE, &f));
	EXPECT_EQ(-1, f.fd);
	EXPECT_EQ(-EFAULT, xioctl(self->tl, DMABRIDGE_SYNC_IOC_FENCE_CREATE, NULL));
}

TEST_F(bad, fence_create_faults_when_the_result_cannot_be_written)
{
	struct dmabridge_sync_fence_create *f;
	struct dmabridge_timeline_info info;
	int lowest = dup(0), again;

	close(lowest);
	f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f);
	f->value = 1;
	ASSERT_EQ(0, mprotect(f, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, xioctl(self->tl, DMABRIDGE_SYNC_IOC_FENCE_CREATE, f));
	/* No descriptor was left behind... */
	again = dup(0);
	EXPECT_EQ(lowest, again);
	close(again);
	/*
	 * ...nor a fence: nobody could wait on it, so it does not wait on
	 * the timeline (where a timeout would one day signal it, and every
	 * fence below it, with -ETIMEDOUT).
	 */
	ASSERT_EQ(0, dmabridge_timeline_info(self->tl, &info));
	EXPECT_EQ(0, info.pending);
	EXPECT_EQ(0, dmabridge_timeline_signal(self->tl, 1));
	munmap(f, 4096);
}

/*
 * With a timeout shorter than the ioctl, a fence made before its fd could
 * be written back would time out at once and take the timeline's value
 * with it, although the caller got an error and no fence.
 */
TEST_F(bad, a_fence_create_that_faults_cannot_time_out_and_move_the_timeline)
{
	struct dmabridge_sync_fence_create *f;
	struct dmabridge_timeline_info info;
	int tl = tl_create(0, 1), i;

	ASSERT_LE(0, tl);
	f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f);
	f->value = 1;
	ASSERT_EQ(0, mprotect(f, 4096, PROT_READ));
	for (i = 0; i < 20; i++)
		EXPECT_EQ(-EFAULT, xioctl(tl, DMABRIDGE_SYNC_IOC_FENCE_CREATE, f));
	usleep(10000);
	ASSERT_EQ(0, dmabridge_timeline_info(tl, &info));
	EXPECT_EQ(0, info.value);
	EXPECT_EQ(0, info.pending);
	munmap(f, 4096);
	close(tl);
}

TEST_F(bad, signal_rejects_unknown_flags_and_bad_errors)
{
	struct dmabridge_sync_signal s = { .value = 1, .flags = 2 };
	struct dmabridge_timeline_info info;

	EXPECT_EQ(-EINVAL, xioctl(self->tl, DMABRIDGE_SYNC_IOC_SIGNAL, &s));
	s.flags = 0;
	s.error = 5;
	EXPECT_EQ(-EINVAL, xioctl(self->tl, DMABRIDGE_SYNC_IOC_SIGNAL, &s));
	s.error = -4096;
	EXPECT_EQ(-EINVAL, xioctl(self->tl, DMABRIDGE_SYNC_IOC_SIGNAL, &s));
	s.error = -4095;
	EXPECT_EQ(0, xioctl(self->tl, DMABRIDGE_SYNC_IOC_SIGNAL, &s));
	EXPECT_EQ(-EFAULT, xioctl(self->tl, DMABRIDGE_SYNC_IOC_SIGNAL, NULL));
	ASSERT_EQ(0, dmabridge_timeline_info(self->tl, &info));
	EXPECT_EQ(1, info.value);
}

TEST_F(bad, signal_never_moves_the_timeline_back_nor_past_the_top)
{
	struct dmabridge_timeline_info info;

	EXPECT_EQ(0, dmabridge_timeline_signal(self->tl, 10));
	EXPECT_EQ(0, dmabridge_timeline_signal(self->tl, 10));
	EXPECT_EQ(-EINVAL, dmabridge_timeline_signal(self->tl, 9));
	EXPECT_EQ(-EOVERFLOW, dmabridge_timeline_inc(self->tl, UINT64_MAX - 9));
	EXPECT_EQ(0, dmabridge_timeline_inc(self->tl, UINT64_MAX - 10));
	ASSERT_EQ(0, dmabridge_timeline_info(self->tl, &info));
	EXPECT_EQ(UINT64_MAX, info.value);
	EXPECT_EQ(-EOVERFLOW, dmabridge_timeline_inc(self->tl, 1));
}

TEST_F(bad, timeline_info_rejects_flags_and_bad_pointers)
{
	struct dmabridge_sync_timeline_info i = { .flags = 1 };

	EXPECT_EQ(-EINVAL, xioctl(self->tl, DMABRIDGE_SYNC_IOC_TIMELINE_INFO, &i));
	EXPECT_EQ(-EFAULT, xioctl(self->tl, DMABRIDGE_SYNC_IOC_TIMELINE_INFO, NULL));
}

TEST_F(bad, kernel_wait_helper_rejects_bad_input)
{
	int dev = open(DMABRIDGE_SYNC_TEST_DEVICE, O_RDWR | O_CLOEXEC);
	int fds[1] = { self->tl };
	struct dmabridge_sync_test_wait_any w = {
		.fds = (uintptr_t)fds, .count = 1,
	};

	if (dev < 0)
		SKIP(return, "no test helper");
	EXPECT_EQ(-EINVAL, xioctl(dev, DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY, &w));
	w.count = 0;
	EXPECT_EQ(-EINVAL, xioctl(dev, DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY, &w));
	w.count = 65;
	EXPECT_EQ(-EINVAL, xioctl(dev, DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY, &w));
	w.count = 1;
	w.fds = 16;
	EXPECT_EQ(-EFAULT, xioctl(dev, DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY, &w));
	close(dev);
}

TEST_HARNESS_MAIN
