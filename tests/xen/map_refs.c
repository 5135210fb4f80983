// SPDX-License-Identifier: GPL-2.0
/*
 * MAP_REFS_TO_BUF, MAP_RELEASE and MAP_WAIT_RELEASED in dom0, through
 * self-grants (xen-gntalloc): a peer's pages behind a vgem buffer that
 * vgem allocated, only while nobody else uses that buffer, and the
 * buffer's own pages, with their contents, back after release.
 */
#include "xen_test.h"

#include <pthread.h>
#include <poll.h>
#include <dmabridge.h>
#include <dmabridge/sync.h>
#include "kselftest_harness.h"

#define SELF		0	/* dom0 */
#define NPAGES		4
#define RACE_ROUNDS	200

FIXTURE(map) {
	int dev;
	struct grant g;		/* the "frontend": granted pages */
	struct vgem_buf v;	/* the buffer its owner allocated */
};

static void own_fill(struct vgem_buf *v)
{
	uint8_t *p = vgem_buf_map(v);

	if (!p)
		return;
	pat_fill(p, 0, v->size, SEED_OWN);
	munmap(p, v->size);
}

/* Where in [off, off + len) the buffer differs from seed, or -1. */
static int64_t own_check(struct vgem_buf *v, size_t off, size_t len,
			 uint32_t seed)
{
	uint8_t *p = vgem_buf_map(v);
	int64_t bad;

	if (!p)
		return -2;
	bad = pat_check(p + off, off, len, seed);
	munmap(p, v->size);
	return bad;
}

FIXTURE_SETUP(map)
{
	if (access("/sys/hypervisor/type", F_OK))
		SKIP(return, "not a Xen domain");
	self->dev = gdb_open();
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", GDB_DEV, strerror(errno));
	ASSERT_EQ(0, grant_alloc(&self->g, SELF, NPAGES, false));
	pat_fill(self->g.map, 0, NPAGES * PAGE, SEED_CPU);
	ASSERT_EQ(0, vgem_buf_new(&self->v, 2 * NPAGES * PAGE, true));
	own_fill(&self->v);
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
}

FIXTURE_TEARDOWN(map)
{
	if (!self->g.map)
		return;
	char left[64] = "";

	/* A test that stopped early must not leave Xen failing (if ours). */
	gdb_knob_set("refuse_restores", 0);
	gdb_knob_set("cut_map_hypercalls", 0);
	close(self->dev);
	vgem_buf_free(&self->v);
	grant_free(&self->g);
	EXPECT_EQ(0, gdb_objects_left(left, sizeof(left))) TH_LOG("left: %s", left);
}

/* The frontend's bytes through the owner's own map, both ways. */
TEST_F(map, peer_pages_behind_vgem_buffer)
{
	uint8_t *p;

	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs, NPAGES,
			     0, 0));
	p = vgem_buf_map(&self->v);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(-1, pat_check(p, 0, NPAGES * PAGE, SEED_CPU));
	/* Pages past the mapped ones are still the buffer's own. */
	ASSERT_EQ(-1, pat_check(p + NPAGES * PAGE, NPAGES * PAGE,
				NPAGES * PAGE, SEED_OWN));
	/* The owner writes, the frontend sees it: no copy. */
	pat_fill(p + PAGE, PAGE, PAGE, SEED_DEV);
	ASSERT_EQ(-1, pat_check(self->g.map + PAGE, PAGE, PAGE, SEED_DEV));
	pat_fill(self->g.map + 2 * PAGE, 2 * PAGE, PAGE, SEED_DEV);
	ASSERT_EQ(-1, pat_check(p + 2 * PAGE, 2 * PAGE, PAGE, SEED_DEV));
	munmap(p, self->v.size);

	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	/* Idle, so released at once: nothing is left to wait for. */
	ASSERT_EQ(-ENOENT, gdb_map_wait(self->dev, self->v.fd, 0));
	/* The original pages are back, contents and all... */
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
	/* ...and the frontend's pages are its own again. */
	p = vgem_buf_map(&self->v);
	ASSERT_NE(NULL, p);
	memset(p, 0, PAGE);
	munmap(p, self->v.size);
	ASSERT_EQ(-1, pat_check(self->g.map, 0, PAGE, SEED_CPU));
}

/* data_ofs picks where in the buffer the peer's pages go. */
TEST_F(map, data_ofs_places_the_pages)
{
	uint8_t *p;

	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs, 2,
			     3 * PAGE, 0));
	p = vgem_buf_map(&self->v);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(-1, pat_check(p, 0, 3 * PAGE, SEED_OWN));
	/* The granted pages' bytes, from their first on. */
	ASSERT_EQ(-1, pat_check(p + 3 * PAGE, 0, 2 * PAGE, SEED_CPU));
	ASSERT_EQ(-1, pat_check(p + 5 * PAGE, 5 * PAGE, 3 * PAGE, SEED_OWN));
	munmap(p, self->v.size);
	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
}

/* After a release: an importer attaches, and mmap shows the owner's bytes. */
static void check_buffer_is_its_own_again(struct __test_metadata *_metadata,
					  int ti, const struct vgem_buf *v)
{
	void *p;

	ASSERT_EQ(0, ti_attach(ti, 0, v->fd, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_detach(ti, 0));
	p = mmap(NULL, v->size, PROT_READ, MAP_SHARED, v->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(-1, pat_check(p, 0, v->size, SEED_OWN));
	munmap(p, v->size);
}

/* While held, nobody else gets at the buffer. */
TEST_F(map, held_buffer_refuses_new_users)
{
	int ti = ti_open(), dev2 = gdb_open();
	uint32_t refs[2 * NPAGES];
	void *p;

	ASSERT_LE(0, ti);
	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs, NPAGES,
			     0, 0));
	ASSERT_EQ(-EBUSY, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				  NPAGES, 0, 0));
	ASSERT_EQ(-EBUSY, gdb_map(dev2, self->v.fd, SELF, self->g.refs, 1,
				  NPAGES * PAGE, 0));
	ASSERT_EQ(-EBUSY, ti_attach(ti, 0, self->v.fd,
				    DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0));
	ASSERT_EQ(-EBUSY, gdb_import(self->dev, self->v.fd, SELF, refs,
				     2 * NPAGES, 0));
	p = mmap(NULL, self->v.size, PROT_READ, MAP_SHARED, self->v.fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EBUSY, errno);
	/* Only the file that mapped it can release it. */
	ASSERT_EQ(-ENOENT, gdb_map_release(dev2, self->v.fd, 0));
	ASSERT_EQ(-ETIMEDOUT, gdb_map_wait(self->dev, self->v.fd, 20));

	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	ASSERT_EQ(-ENOENT, gdb_map_release(self->dev, self->v.fd, 0));
	/* Everything works again once released. */
	check_buffer_is_its_own_again(_metadata, ti, &self->v);
	close(dev2);
	close(ti);
}

/*
 * A page whose grant Xen will not unmap still shows the peer's frame:
 * the buffer must stay held, away from everyone, until a later try gives
 * the page back (here Xen is made to refuse, in test builds).
 */
TEST_F(map, a_refused_restore_keeps_the_buffer_held_until_a_retry)
{
	int ti = ti_open(), ret;
	void *p;

	if (gdb_knob_set("refuse_restores", 0))
		SKIP(return, "not a test build: no " GDB_KNOBS);
	ASSERT_LE(0, ti);
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs, NPAGES,
			     0, 0));
	ASSERT_EQ(0, gdb_knob_set("refuse_restores", 1000000));
	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	/* Idle, but not released, and still refusing newcomers. */
	ASSERT_EQ(-ETIMEDOUT, gdb_map_wait(self->dev, self->v.fd, 200));
	ASSERT_LE(gdb_knob_left("refuse_restores"), 1000000 - NPAGES);
	ASSERT_EQ(-EBUSY, ti_attach(ti, 0, self->v.fd,
				    DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	p = mmap(NULL, self->v.size, PROT_READ, MAP_SHARED, self->v.fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EBUSY, errno);
	/*
	 * Xen relents: the retry gives everything back, maybe before the
	 * wait starts, and then there is no mapping left to wait for.
	 */
	ASSERT_EQ(0, gdb_knob_set("refuse_restores", 0));
	ret = gdb_map_wait(self->dev, self->v.fd, 5000);
	ASSERT_TRUE(ret == 0 || ret == -ENOENT) TH_LOG("wait: %d", ret);
	check_buffer_is_its_own_again(_metadata, ti, &self->v);
	close(ti);
}

/*
 * A MAP that fails partway undoes what it mapped; a page Xen will not
 * give back then keeps the buffer held until a retry does.
 */
TEST_F(map, a_failed_map_whose_undo_is_refused_gives_the_buffer_back)
{
	uint32_t refs[3] = { self->g.refs[0], self->g.refs[1], 0xfffff };
	int ti = ti_open();

	if (gdb_knob_set("refuse_restores", 0))
		SKIP(return, "not a test build: no " GDB_KNOBS);
	ASSERT_LE(0, ti);
	ASSERT_EQ(0, gdb_knob_set("refuse_restores", 1));
	ASSERT_EQ(-ENOENT, gdb_map(self->dev, self->v.fd, SELF, refs, 3, 0, 0));
	/* The refusal was used up, and a retry gave the page back. */
	ASSERT_EQ(0, gdb_knob_left("refuse_restores"));
	check_buffer_is_its_own_again(_metadata, ti, &self->v);
	close(ti);
}

/*
 * A MAP hypercall that fails as a whole may have mapped its first pages
 * already: those are undone as well.  Only the kernel's own view of the
 * pages would show it (a user mapping or a device goes through the p2m,
 * which the failed MAP never changed), so a udmabuf's memfd is read: it
 * reads through the kernel's linear map.
 */
TEST_F(map, a_map_hypercall_failing_halfway_undoes_what_it_mapped)
{
	int udev = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	int memfd, buf;
	uint8_t *p;

	if (gdb_knob_set("cut_map_hypercalls", 0))
		SKIP(return, "not a test build: no " GDB_KNOBS);
	if (udev < 0)
		SKIP(return, "no udmabuf device");
	memfd = memfd_sealed("map", NPAGES * PAGE, 0);
	ASSERT_LE(0, memfd);
	buf = udmabuf_create(udev, memfd, 0, NPAGES * PAGE, 0);
	ASSERT_LE(0, buf);
	p = malloc(NPAGES * PAGE);
	ASSERT_NE(NULL, p);
	pat_fill(p, 0, NPAGES * PAGE, SEED_OWN);
	ASSERT_EQ((ssize_t)(NPAGES * PAGE), pwrite(memfd, p, NPAGES * PAGE, 0));

	ASSERT_EQ(0, gdb_knob_set("cut_map_hypercalls", 1));
	ASSERT_EQ(-EIO, gdb_map(self->dev, buf, SELF, self->g.refs, NPAGES,
				0, 0));
	ASSERT_EQ(0, gdb_knob_left("cut_map_hypercalls"));
	memset(p, 0, NPAGES * PAGE);
	ASSERT_EQ((ssize_t)(NPAGES * PAGE), pread(memfd, p, NPAGES * PAGE, 0));
	ASSERT_EQ(-1, pat_check(p, 0, NPAGES * PAGE, SEED_OWN));
	ASSERT_EQ(-1, pat_check(self->g.map, 0, NPAGES * PAGE, SEED_CPU));
	/* Nothing was left behind that keeps the next MAP out. */
	ASSERT_EQ(0, gdb_map(self->dev, buf, SELF, self->g.refs, NPAGES, 0, 0));
	ASSERT_EQ(0, gdb_map_release(self->dev, buf, 0));
	free(p);
	close(buf);
	close(memfd);
	close(udev);
}

/* A buffer somebody uses is not taken, and stays as it was. */
TEST_F(map, busy_buffers_are_refused)
{
	int ti = ti_open();
	void *p;

	ASSERT_LE(0, ti);
	ASSERT_EQ(0, ti_attach(ti, 0, self->v.fd, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(-EBUSY, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				  NPAGES, 0, 0));
	ASSERT_EQ(0, ti_detach(ti, 0));

	p = mmap(NULL, self->v.size, PROT_READ, MAP_SHARED, self->v.fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(-EBUSY, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				  NPAGES, 0, 0));
	munmap(p, self->v.size);

	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
	/* Free of users again: taken. */
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
			     NPAGES, 0, 0));
	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	close(ti);
}

static int sw_fence(int timeline)
{
	struct sw_sync_create_fence_data d = { .value = 1, .name = "map" };

	return ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, &d) ? -errno : d.fence;
}

static int attach_write_fence(int dmabuf, int fence)
{
	struct dma_buf_import_sync_file i = {
		.flags = DMA_BUF_SYNC_WRITE, .fd = fence,
	};

	return ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &i) ? -errno : 0;
}

/* A pending fence means the owner's device may be at work: not taken. */
TEST_F(map, busy_with_a_pending_fence)
{
	uint32_t one = 1;
	int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC), fence;

	if (tl < 0)
		SKIP(return, "no /dev/sw_sync");
	fence = sw_fence(tl);
	ASSERT_LE(0, fence);
	ASSERT_EQ(0, attach_write_fence(self->v.fd, fence));
	ASSERT_EQ(-EBUSY, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				  NPAGES, 0, 0));
	ASSERT_EQ(0, ioctl(tl, SW_SYNC_IOC_INC, &one));
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
			     NPAGES, 0, 0));
	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	close(fence);
	close(tl);
}

struct waiter {
	int dev, fd, ret;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->ret = gdb_map_wait(w->dev, w->fd, 20000);
	return NULL;
}

/*
 * Release waits for the owner's fences: the peer's frames stay behind the
 * buffer until the device is done with them, and WAIT_RELEASED says when.
 */
TEST_F(map, release_waits_for_fences)
{
	struct waiter w = { .dev = self->dev, .fd = self->v.fd, .ret = 1 };
	int tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC), fence;
	uint32_t one = 1;
	pthread_t th;

	if (tl < 0)
		SKIP(return, "no /dev/sw_sync");
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
			     NPAGES, 0, 0));
	fence = sw_fence(tl);
	ASSERT_LE(0, fence);
	ASSERT_EQ(0, attach_write_fence(self->v.fd, fence));

	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	ASSERT_EQ(-ETIMEDOUT, gdb_map_wait(self->dev, self->v.fd, 50));
	/* Still held, still the peer's pages. */
	ASSERT_EQ(-1, own_check(&self->v, 0, NPAGES * PAGE, SEED_CPU));
	ASSERT_EQ(-ENOENT, gdb_map_release(self->dev, self->v.fd, 0));

	ASSERT_EQ(0, pthread_create(&th, NULL, wait_thread, &w));
	usleep(100000);
	ASSERT_EQ(0, ioctl(tl, SW_SYNC_IOC_INC, &one));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, w.ret);
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
	close(fence);
	close(tl);
}

/* Closing the device releases what it mapped. */
TEST_F(map, close_device_releases)
{
	int dev = gdb_open(), ti = ti_open();

	ASSERT_LE(0, dev);
	ASSERT_LE(0, ti);
	ASSERT_EQ(0, gdb_map(dev, self->v.fd, SELF, self->g.refs, NPAGES, 0, 0));
	close(dev);
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
	ASSERT_EQ(0, ti_attach(ti, 0, self->v.fd, DMABRIDGE_TI_DIR_TO_DEVICE, 0));
	ASSERT_EQ(0, ti_detach(ti, 0));
	close(ti);
}

/* udmabuf pages are shmem pages: user-mapped ones and shared ones are not taken. */
TEST_F(map, udmabuf_pages_mapped_or_shared_are_refused)
{
	int udev = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	int memfd, a, b;
	uint8_t *p;

	if (udev < 0)
		SKIP(return, "no udmabuf device");
	memfd = memfd_sealed("map", NPAGES * PAGE, 0);
	ASSERT_LE(0, memfd);
	a = udmabuf_create(udev, memfd, 0, NPAGES * PAGE, 0);
	b = udmabuf_create(udev, memfd, 0, PAGE, 0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);

	p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 memfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	pat_fill(p, 0, NPAGES * PAGE, SEED_OWN);
	ASSERT_EQ(-EBUSY, gdb_map(self->dev, a, SELF, self->g.refs, NPAGES,
				  0, 0));
	munmap(p, NPAGES * PAGE);

	/* Through pread and pwrite the memfd sees what the buffer holds. */
	ASSERT_EQ(0, gdb_map(self->dev, a, SELF, self->g.refs, NPAGES, 0, 0));
	p = malloc(NPAGES * PAGE);
	ASSERT_NE(NULL, p);
	ASSERT_EQ((ssize_t)(NPAGES * PAGE), pread(memfd, p, NPAGES * PAGE, 0));
	ASSERT_EQ(-1, pat_check(p, 0, NPAGES * PAGE, SEED_CPU));
	/* The same page behind a second buffer cannot be taken twice. */
	ASSERT_EQ(-EBUSY, gdb_map(self->dev, b, SELF, self->g.refs, 1, 0, 0));
	ASSERT_EQ(0, gdb_map_release(self->dev, a, 0));
	ASSERT_EQ((ssize_t)(NPAGES * PAGE), pread(memfd, p, NPAGES * PAGE, 0));
	ASSERT_EQ(-1, pat_check(p, 0, NPAGES * PAGE, SEED_OWN));
	free(p);
	close(b);
	close(a);
	close(memfd);
	close(udev);
}

/*
 * Pages write-combined in the linear map (a system-uncached buffer's) and
 * write-back ones (the system heap's) are both taken and given back with
 * their bytes; in PV each gets its own memory type back in the linear map.
 */
TEST_F(map, heap_buffers_of_either_memory_type_come_back)
{
	const char *heaps[] = { "system-uncached",
				dmabridge_heap_system_name() };
	uint8_t *p;
	int heap, fd, i;

	for (i = 0; i < 2; i++) {
		heap = dmabridge_heap_open(heaps[i]);
		if (heap == -ENOENT)
			continue;
		ASSERT_LE(0, heap) TH_LOG("%s", heaps[i]);
		fd = dmabridge_heap_alloc(heap, NPAGES * PAGE,
					  O_RDWR | O_CLOEXEC);
		close(heap);
		ASSERT_LE(0, fd);
		p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, p);
		pat_fill(p, 0, NPAGES * PAGE, SEED_OWN);
		munmap(p, NPAGES * PAGE);
		ASSERT_EQ(0, gdb_map(self->dev, fd, SELF, self->g.refs, NPAGES,
				     0, 0)) TH_LOG("%s", heaps[i]);
		ASSERT_EQ(0, gdb_map_release(self->dev, fd, 0));
		p = mmap(NULL, NPAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, p);
		EXPECT_EQ(-1, pat_check(p, 0, NPAGES * PAGE, SEED_OWN))
			TH_LOG("%s", heaps[i]);
		munmap(p, NPAGES * PAGE);
		close(fd);
	}
}

TEST_F(map, bad_inputs)
{
	uint32_t bad = 0xfffff;
	struct vgem_buf ro;
	int nul, exp;

	/* MAP_REFS_TO_BUF */
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   NPAGES, 0, 0x4));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   NPAGES, 0,
				   GNTDEV_DMA_FLAG_WC | GNTDEV_DMA_FLAG_COHERENT));
	ASSERT_EQ(-EOPNOTSUPP, gdb_map(self->dev, self->v.fd, SELF,
				       self->g.refs, NPAGES, 0,
				       GNTDEV_DMA_FLAG_WC));
	ASSERT_EQ(-EOPNOTSUPP, gdb_map(self->dev, self->v.fd, SELF,
				       self->g.refs, NPAGES, 0,
				       GNTDEV_DMA_FLAG_COHERENT));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   0, 0, 0));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   0x7fffffff, 0, 0));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, 0x7ff0, self->g.refs,
				   NPAGES, 0, 0));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   NPAGES, 100, 0));
	/* Past the end of the buffer. */
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   NPAGES, 5 * NPAGES * PAGE / 4, 0));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				   NPAGES, 0xfffff000, 0));
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, -1, SELF, self->g.refs, NPAGES,
				   0, 0));
	ASSERT_EQ(-EBADF, gdb_map(self->dev, 999, SELF, self->g.refs, NPAGES,
				  0, 0));
	nul = open("/dev/null", O_RDWR);
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, nul, SELF, self->g.refs, NPAGES,
				   0, 0));
	/* A ref Xen does not know: nothing changes. */
	ASSERT_EQ(-ENOENT, gdb_map(self->dev, self->v.fd, SELF, &bad, 1, 0, 0));
	ASSERT_EQ(-ENOENT, gdb_map(self->dev, self->v.fd, 4000, self->g.refs,
				   NPAGES, 0, 0));
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
	/* A read-only grant cannot replace a writable buffer's memory. */
	{
		struct grant rog;

		ASSERT_EQ(0, grant_alloc(&rog, SELF, 1, true));
		ASSERT_EQ(-EPERM, gdb_map(self->dev, self->v.fd, SELF,
					  rog.refs, 1, 0, 0));
		grant_free(&rog);
	}
	/* A buffer the caller may not write. */
	ASSERT_EQ(0, vgem_buf_new(&ro, PAGE, false));
	ASSERT_EQ(-EACCES, gdb_map(self->dev, ro.fd, SELF, self->g.refs, 1,
				   0, 0));
	vgem_buf_free(&ro);
	/* Pages that are a grant mapping already. */
	exp = gdb_export(self->dev, SELF, self->g.refs, 1, 0);
	ASSERT_LE(0, exp);
	ASSERT_EQ(-EINVAL, gdb_map(self->dev, exp, SELF, self->g.refs + 1, 1,
				   0, 0));
	close(exp);
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF, NULL));
	ASSERT_EQ(EFAULT, errno);

	/* MAP_RELEASE */
	ASSERT_EQ(-ENOENT, gdb_map_release(self->dev, self->v.fd, 0));
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
			     NPAGES, 0, 0));
	ASSERT_EQ(-EINVAL, gdb_map_release(self->dev, self->v.fd, 1));
	ASSERT_EQ(-EINVAL, gdb_map_release(self->dev, nul, 0));
	ASSERT_EQ(-EBADF, gdb_map_release(self->dev, 999, 0));
	ASSERT_EQ(-EINVAL, gdb_map_release(self->dev, -1, 0));
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_MAP_RELEASE, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));

	/* MAP_WAIT_RELEASED */
	ASSERT_EQ(-ENOENT, gdb_map_wait(self->dev, 999, 10));
	ASSERT_EQ(-ENOENT, gdb_map_wait(self->dev, 0x80000000, 10));
	ASSERT_NE(0, ioctl(self->dev, IOCTL_GNTDEV_DMABUF_MAP_WAIT_RELEASED,
			   NULL));
	ASSERT_EQ(EFAULT, errno);
	close(nul);
}

/*
 * Two files MAP one buffer at once, over and over: at most one of them
 * holds it, the other gets EBUSY, and once released the buffer is its
 * exporter's again (a MAP that read the other's held ops as the
 * exporter's would put them back at release, and the buffer would stay
 * refused, or worse).
 */
struct racer {
	pthread_barrier_t *bar;
	int dev, fd;
	const uint32_t *refs;
	int map[RACE_ROUNDS];
	int release[RACE_ROUNDS];
};

static void *race_thread(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		pthread_barrier_wait(r->bar);
		r->map[i] = gdb_map(r->dev, r->fd, SELF, r->refs, NPAGES, 0, 0);
		pthread_barrier_wait(r->bar);
		r->release[i] = 0;
		if (!r->map[i]) {
			r->release[i] = gdb_map_release(r->dev, r->fd, 0);
			if (!r->release[i] &&
			    gdb_map_wait(r->dev, r->fd, 5000) == -ETIMEDOUT)
				r->release[i] = -ETIMEDOUT;
		}
		pthread_barrier_wait(r->bar);
	}
	return NULL;
}

TEST_F(map, concurrent_maps_of_one_buffer)
{
	static struct racer r[2];
	pthread_barrier_t bar;
	pthread_t t[2];
	int i, j, won = 0, ti = ti_open();

	ASSERT_LE(0, ti);
	ASSERT_EQ(0, pthread_barrier_init(&bar, NULL, 2));
	for (j = 0; j < 2; j++) {
		r[j].bar = &bar;
		r[j].dev = j ? gdb_open() : self->dev;
		r[j].fd = self->v.fd;
		r[j].refs = self->g.refs;
		ASSERT_LE(0, r[j].dev);
	}
	for (j = 0; j < 2; j++)
		ASSERT_EQ(0, pthread_create(&t[j], NULL, race_thread, &r[j]));
	for (j = 0; j < 2; j++)
		pthread_join(t[j], NULL);
	for (i = 0; i < RACE_ROUNDS; i++) {
		ASSERT_FALSE(!r[0].map[i] && !r[1].map[i]) TH_LOG("round %d", i);
		for (j = 0; j < 2; j++) {
			if (r[j].map[i])
				ASSERT_EQ(-EBUSY, r[j].map[i]) TH_LOG("round %d", i);
			ASSERT_EQ(0, r[j].release[i]) TH_LOG("round %d", i);
			won += !r[j].map[i];
		}
	}
	TH_LOG("%d of %d rounds had a winner", won, RACE_ROUNDS);
	/*
	 * Both may lose a round (each one's attachment, on its way in, makes
	 * the buffer busy for the other), but rounds nobody won test nothing.
	 */
	EXPECT_GT(won, RACE_ROUNDS / 2);
	/* The exporter's ops are back: a new importer, mmap, a MAP again. */
	check_buffer_is_its_own_again(_metadata, ti, &self->v);
	ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs, NPAGES,
			     0, 0));
	ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	pthread_barrier_destroy(&bar);
	close(r[1].dev);
	close(ti);
}

TEST_F(map, churn_100_no_leak)
{
	long long kmem_before, kmem_after;
	long before, after;
	long refs = dmabuf_file_count(self->v.fd);
	int i;

	ASSERT_LT(0, refs) TH_LOG("no count in /sys/kernel/debug/dma_buf/bufinfo");
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				     NPAGES, 0, 0));
		ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	}
	before = mem_free_kb();
	kmem_before = kernel_unreclaimable_bytes();
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, gdb_map(self->dev, self->v.fd, SELF, self->g.refs,
				     NPAGES, (i % 5) * PAGE, 0))
			TH_LOG("cycle %d", i);
		ASSERT_EQ(0, gdb_map_release(self->dev, self->v.fd, 0));
	}
	after = mem_free_kb();
	kmem_after = kernel_unreclaimable_bytes();
	ASSERT_GT(1024, before - after) TH_LOG("MemFree %ld -> %ld kB", before, after);
	/* A mapping's objects (its arrays, the attachment) are ~1 KiB. */
	EXPECT_GT(64 * 1024, kmem_after - kmem_before)
		TH_LOG("kernel memory %lld -> %lld bytes", kmem_before, kmem_after);
	/* No reference to the buffer stays behind with the mapping. */
	EXPECT_EQ(refs, dmabuf_file_count(self->v.fd));
	ASSERT_EQ(-1, own_check(&self->v, 0, self->v.size, SEED_OWN));
}

TEST_HARNESS_MAIN
