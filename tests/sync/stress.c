// SPDX-License-Identifier: GPL-2.0
/*
 * Many threads create, merge, signal, attach and wait on thousands of
 * fences of dmabridge-sync and sw_sync timelines at once, closing
 * timelines with fences pending, while one thread drives a timeline they
 * all share.  Afterwards every timeline and fence must be gone (counted in
 * debugfs), and the harness fails the run on any kernel warning (lockdep,
 * refcount, a fence released unsignaled...).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"
#include "sync_common.h"

#define THREADS		8
#define ITERATIONS	600
#define REOPEN_EVERY	50

struct shared {
	int tl;			/* advanced by the driver thread only */
	int dmabuf;		/* every thread attaches fences to it */
	atomic_uint_least64_t next;
	atomic_bool stop;
	atomic_int failures;
	atomic_long fences;
};

struct worker {
	struct shared *sh;
	int id;
	char why[128];
};

static void *drive_shared(void *arg)
{
	struct shared *sh = arg;

	while (!atomic_load(&sh->stop)) {
		if (dmabridge_timeline_inc(sh->tl, 1))
			atomic_fetch_add(&sh->failures, 1);
		sleep_ms(1);
	}
	return NULL;
}

#define FAIL(w, ...) do { \
	snprintf((w)->why, sizeof((w)->why), __VA_ARGS__); \
	return (void *)1; \
} while (0)

static void *work(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	int own = -1, sw = -1, ret, i;
	uint64_t base = 0;

	for (i = 0; i < ITERATIONS; i++) {
		uint64_t v;
		int a, s, g, m1, m2, err = 0;

		if (i % REOPEN_EVERY == 0) {
			/* Leave a fence pending: closing must fail it. */
			int pending = own < 0 ? -1 : dmabridge_fence_create(own, base + 1000, 0);

			if (own >= 0) {
				close(own);
				close(sw);
				if (pending < 0 || !readable(pending, 5000) ||
				    fence_state(pending) != -EPIPE)
					FAIL(w, "closed timeline's fence: %d", fence_state(pending));
				close(pending);
			}
			own = dmabridge_timeline_create(NULL, 0, 0, DMABRIDGE_FENCE_CLOEXEC);
			sw = sw_sync_open();
			if (own < 0 || sw < 0)
				FAIL(w, "timelines: %d %d", own, sw);
			base = 0;
		}
		base++;
		a = dmabridge_fence_create(own, base, DMABRIDGE_FENCE_CLOEXEC);
		s = sw_sync_fence(sw, (uint32_t)base);
		v = atomic_fetch_add(&sh->next, 1) / 4 + 1;
		g = dmabridge_fence_create(sh->tl, v, DMABRIDGE_FENCE_CLOEXEC);
		if (a < 0 || s < 0 || g < 0)
			FAIL(w, "fences: %d %d %d", a, s, g);
		m1 = dmabridge_fence_merge(a, s, "m1");
		m2 = m1 < 0 ? m1 : dmabridge_fence_merge(m1, g, "m2");
		if (m2 < 0)
			FAIL(w, "merge: %d", m2);
		atomic_fetch_add(&sh->fences, 3);
		if (i % 8 == 0 && sh->dmabuf >= 0 &&
		    dmabridge_fence_import(sh->dmabuf, m1, DMABRIDGE_ACCESS_READ))
			FAIL(w, "import failed");

		if (dmabridge_fence_wait(&m2, 1, 0, 0, NULL) != -ETIME &&
		    fence_state(a) == 0)
			FAIL(w, "merged fence signaled early");
		if (dmabridge_timeline_signal(own, base) || sw_sync_inc(sw, 1))
			FAIL(w, "signal");
		ret = dmabridge_fence_wait(&m2, 1, DMABRIDGE_WAIT_ALL,
					   20000000000LL, NULL);
		if (ret)
			FAIL(w, "wait: %d", ret);
		if (dmabridge_fence_status(m2, &err) != 1 || err)
			FAIL(w, "merged fence status error %d", err);
		close(a);
		close(s);
		close(g);
		close(m1);
		close(m2);
	}
	close(own);
	close(sw);
	return NULL;
}

TEST(threads_hammer_timelines_and_leave_nothing_behind)
{
	struct worker workers[THREADS];
	pthread_t threads[THREADS], driver;
	struct shared sh = { .dmabuf = -1 };
	long tl0, f0, tl1, f1;
	int i, ex;
	void *res;

	ASSERT_EQ(0, sync_objects(&tl0, &f0)) TH_LOG("no %s", OBJECTS_DEBUGFS);
	sh.tl = dmabridge_timeline_create("shared", 0, 0, DMABRIDGE_FENCE_CLOEXEC);
	ASSERT_LE(0, sh.tl);
	sh.dmabuf = any_dmabuf(4096);
	if (sh.dmabuf < 0)
		TH_LOG("no dma-buf exporter: attaching skipped");
	ASSERT_EQ(0, pthread_create(&driver, NULL, drive_shared, &sh));
	for (i = 0; i < THREADS; i++) {
		workers[i] = (struct worker){ .sh = &sh, .id = i };
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, work, &workers[i]));
	}
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_join(threads[i], &res));
		EXPECT_EQ(NULL, res) TH_LOG("thread %d: %s", i, workers[i].why);
	}
	atomic_store(&sh.stop, true);
	pthread_join(driver, NULL);
	EXPECT_EQ(0, atomic_load(&sh.failures));
	TH_LOG("%ld fences on %d threads", atomic_load(&sh.fences), THREADS);

	if (sh.dmabuf >= 0) {
		ex = dmabridge_fence_export(sh.dmabuf, DMABRIDGE_ACCESS_WRITE);
		ASSERT_LE(0, ex);
		EXPECT_EQ(0, dmabridge_fence_wait(&ex, 1, 0, 1000000000, NULL));
		close(ex);
		close(sh.dmabuf);
	}
	close(sh.tl);
	EXPECT_EQ(0, sync_objects_settle(tl0, f0, &tl1, &f1))
		TH_LOG("before: %ld timelines %ld fences, after: %ld %ld",
		       tl0, f0, tl1, f1);
}

TEST_HARNESS_MAIN
