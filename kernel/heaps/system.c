// SPDX-License-Identifier: GPL-2.0
/*
 * The system and system-uncached heaps: buffers of zeroed pages, largest
 * orders first, recycled through the page pools (pool.c).
 *
 * Nothing here may wake the OOM killer: a request that cannot be met must
 * fail with ENOMEM, not kill a bystander.  The large orders are tried
 * without reclaim, order 0 with __GFP_RETRY_MAYFAIL, and a request larger
 * than the memory available fails before it takes any.
 *
 * system-uncached buffers are write-combined in every CPU mapping.  Their
 * pages are zeroed and then switched to write-combining in the kernel's
 * linear map with set_pages_array_wc(), which flushes the pages from the
 * CPU caches as part of the change: no dirty line (the zeroes, or an old
 * owner's data) survives to be read around or written back later, and no
 * cacheable alias remains to pull lines in again.  See docs/heaps.md.
 */
#include <linux/dma-buf.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#ifdef CONFIG_X86
#include <asm/set_memory.h>
#endif

#include <dmabridge/pages.h>

#include "heap.h"

/* 1 MiB, 64 KiB and 4 KiB chunks, as upstream's system heap uses. */
static const unsigned int system_orders[] = { 8, 4, 0 };

/* Large chunks are a bonus: never reclaim or retry for them. */
#define HIGH_ORDER_GFP	(((GFP_HIGHUSER | __GFP_NOWARN | __GFP_NORETRY) & \
			  ~__GFP_RECLAIM) | __GFP_COMP)
#define LOW_ORDER_GFP	(GFP_HIGHUSER | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

/*
 * The arrays an allocation needs once it holds its pages, when memory may
 * be nearly gone: they fail rather than wake the OOM killer.
 */
#define SYSTEM_ARRAY_GFP	(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* Requests above this many pages are first checked against MemAvailable. */
#define SYSTEM_CHECK_AVAILABLE_PAGES	(SZ_4M >> PAGE_SHIFT)

struct system_heap {
	struct dmabridge_heap heap;
	enum dmabridge_pool_kind kind;
};

struct system_buffer {
	struct dmabridge_pages buf;
	struct dmabridge_heap *heap;
	struct dmabridge_pool *pool;
	/* Room for the run of a one-chunk buffer, which then needs no array. */
	struct dmabridge_pages_run run;
};

static struct system_heap system_heaps[DMABRIDGE_NR_POOL_KINDS];

static unsigned int chunk_order(struct page *page)
{
	return PageCompound(page) ? compound_order(page) : 0;
}

/* Chunks on @chunks (linked by page->lru) back to the pool, to be zeroed. */
static void system_give_list(struct dmabridge_pool *pool,
			     struct list_head *chunks)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, chunks, lru)
		dmabridge_pool_give(pool, page, chunk_order(page));
}

static void system_free_list(struct list_head *chunks)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, chunks, lru)
		__free_pages(page, chunk_order(page));
}

static void system_buffer_release(struct dmabridge_pages *pages_buf)
{
	struct system_buffer *buffer =
		container_of(pages_buf, struct system_buffer, buf);
	struct dmabridge_pages *buf = &buffer->buf;
	unsigned int order;
	unsigned long i;

	/* A run may hold several chunks that happened to be contiguous. */
	for (i = 0; i < buf->nr_runs; i++) {
		pgoff_t done, len = dmabridge_run_pages(buf, i);

		for (done = 0; done < len; done += 1UL << order) {
			struct page *page = nth_page(buf->runs[i].page, done);

			order = chunk_order(page);
			dmabridge_pool_give(buffer->pool, page, order);
		}
	}
	dmabridge_pool_put(buffer->pool);
	dmabridge_heap_account(buffer->heap, -1,
			       -((s64)buf->nr_pages << PAGE_SHIFT));
	if (buf->runs != &buffer->run)
		kvfree(buf->runs);
	kfree(buffer);
}

static const struct dmabridge_pages_ops system_buffer_ops = {
	.release = system_buffer_release,
};

/*
 * A chunk of the largest order that fits: pooled pages the worker zeroed,
 * fresh ones (allocated with @gfp added), or dirty pooled ones zeroed
 * here, in that order while the pool grows its reserve, else pooled ones
 * before fresh ones.
 */
static struct page *system_alloc_chunk(struct dmabridge_pool *pool,
				       pgoff_t left, gfp_t gfp, bool *fresh)
{
	struct page *page;
	unsigned int i, order;
	bool grow;

	for (i = 0; i < ARRAY_SIZE(system_orders); i++) {
		order = system_orders[i];
		if (left < (1UL << order))
			continue;
		grow = dmabridge_pool_growing(pool, order);
		*fresh = false;
		page = dmabridge_pool_take(pool, order, !grow);
		if (page)
			return page;
		page = alloc_pages((order ? HIGH_ORDER_GFP : LOW_ORDER_GFP) |
				   gfp, order);
		if (page) {
			*fresh = true;
			return page;
		}
		page = grow ? dmabridge_pool_take(pool, order, true) : NULL;
		if (page)
			return page;
	}
	return NULL;
}

/*
 * Gathers @nr pages in chunks, pooled ones on @pooled and fresh ones on
 * @fresh, as upstream's system heap gathers its pages on a list: the
 * buffer's runs can then be allocated at their final size, and the fresh
 * pages, kept apart, are zeroed (if allocated unzeroed) and switched to
 * write-combining together (one TLB flush), or freed directly if the
 * allocation fails.  Returns the number
 * of chunks, or an error with both lists emptied.
 */
static long system_fill(struct dmabridge_pool *pool, pgoff_t nr, gfp_t gfp,
			struct list_head *pooled, struct list_head *fresh_list,
			pgoff_t *nr_fresh)
{
	bool drained = false;
	pgoff_t done = 0;
	long chunks = 0;
	int ret;

	while (done < nr) {
		struct page *page;
		bool fresh;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err;
		}
		page = system_alloc_chunk(pool, nr - done, gfp, &fresh);
		if (!page) {
			/* The cgroup's own pooled pages count against it. */
			if (dmabridge_pool_charges(pool) && !drained) {
				dmabridge_pool_drain(pool);
				drained = true;
				continue;
			}
			ret = -ENOMEM;
			goto err;
		}
		list_add_tail(&page->lru, fresh ? fresh_list : pooled);
		if (fresh)
			*nr_fresh += 1UL << chunk_order(page);
		done += 1UL << chunk_order(page);
		chunks++;
		cond_resched();
	}
	return chunks;

err:
	system_give_list(pool, pooled);
	system_free_list(fresh_list);
	return ret;
}

#ifdef CONFIG_X86
/* The kernel's linear map of @nr fresh pages on @chunks write-combined. */
static int system_fresh_to_wc(struct list_head *chunks, pgoff_t nr)
{
	struct page **pages, *page;
	pgoff_t n = 0, i;
	int ret;

	pages = kvmalloc_array(nr, sizeof(*pages), SYSTEM_ARRAY_GFP);
	if (!pages)
		return -ENOMEM;
	list_for_each_entry(page, chunks, lru)
		for (i = 0; i < (1UL << chunk_order(page)); i++)
			pages[n++] = nth_page(page, i);
	ret = set_pages_array_wc(pages, n);
	/*
	 * A failure part of the way may leave some of the linear map
	 * write-combined, and the page allocator must get them write-back.
	 */
	if (ret)
		dmabridge_pages_to_wb(pages, n);
	kvfree(pages);
	return ret;
}
#endif

static struct dma_buf *system_allocate(struct dmabridge_heap *heap,
				       size_t len, u32 fd_flags)
{
	struct system_heap *sheap = container_of(heap, struct system_heap, heap);
	bool uncached = sheap->kind == DMABRIDGE_POOL_UNCACHED;
	pgoff_t nr = len >> PAGE_SHIFT, nr_fresh = 0;
	bool zero_shared = dmabridge_zero_shared(nr);
	struct system_buffer *buffer;
	struct mem_cgroup *old_memcg;
	LIST_HEAD(pooled);
	LIST_HEAD(fresh);
	struct dma_buf *dmabuf;
	struct page *page;
	long chunks;
	int ret;

	/*
	 * More than could be had without pushing everything else out: fail
	 * now rather than reclaim the machine and then fail.  Small requests
	 * skip the estimate, which costs more than they do.
	 */
	if (nr > totalram_pages())
		return ERR_PTR(-ENOMEM);
	if (nr > SYSTEM_CHECK_AVAILABLE_PAGES &&
	    nr > si_mem_available() +
		 (dmabridge_pools_bytes(sheap->kind) >> PAGE_SHIFT))
		return ERR_PTR(-ENOMEM);

	buffer = kzalloc(sizeof(*buffer), GFP_KERNEL);
	if (!buffer)
		return ERR_PTR(-ENOMEM);
	buffer->pool = dmabridge_pool_get(sheap->kind,
					  READ_ONCE(dmabridge_memcg_account));
	if (IS_ERR(buffer->pool)) {
		ret = PTR_ERR(buffer->pool);
		goto err_buffer;
	}

	/*
	 * Charged to the pool's cgroup (its mm owner's), which the task's
	 * own may not be (cgroup v1 threads, CLONE_VM): pooled pages may
	 * only go back to the cgroup that paid for them.
	 */
	old_memcg = set_active_memcg(dmabridge_pool_memcg(buffer->pool));
	chunks = system_fill(buffer->pool, nr,
			     (dmabridge_pool_charges(buffer->pool) ?
			      __GFP_ACCOUNT : 0) | (zero_shared ? 0 : __GFP_ZERO),
			     &pooled, &fresh, &nr_fresh);
	set_active_memcg(old_memcg);
	if (chunks < 0) {
		ret = chunks;
		goto err_pool;
	}
	buffer->buf.runs = chunks == 1 ? &buffer->run :
			   kvmalloc_array(chunks, sizeof(*buffer->buf.runs),
					  SYSTEM_ARRAY_GFP);
	if (!buffer->buf.runs) {
		ret = -ENOMEM;
		goto err_pages;
	}
	if (zero_shared && nr_fresh)
		dmabridge_zero_chunks(&fresh, nr_fresh);
#ifdef CONFIG_X86
	if (uncached && nr_fresh) {
		ret = system_fresh_to_wc(&fresh, nr_fresh);
		if (ret)
			goto err_runs;
	}
#endif
	/* Every chunk goes back to the pool from here on. */
	list_splice_tail_init(&fresh, &pooled);
	list_for_each_entry(page, &pooled, lru)
		dmabridge_pages_add(&buffer->buf, page,
				    1UL << chunk_order(page));

	buffer->heap = heap;
	buffer->buf.file_mode = fd_flags & O_ACCMODE;
	buffer->buf.write_combine = uncached;
	buffer->buf.ops = &system_buffer_ops;
	dmabuf = dmabridge_pages_export(&buffer->buf, THIS_MODULE, heap->name);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_runs;
	}
	dmabridge_heap_account(heap, 1, len);
	return dmabuf;

err_runs:
	if (buffer->buf.runs != &buffer->run)
		kvfree(buffer->buf.runs);
err_pages:
	system_give_list(buffer->pool, &pooled);
	system_free_list(&fresh);
err_pool:
	dmabridge_pool_put(buffer->pool);
err_buffer:
	kfree(buffer);
	return ERR_PTR(ret);
}

static u64 system_pool_bytes(struct dmabridge_heap *heap)
{
	struct system_heap *sheap = container_of(heap, struct system_heap, heap);

	return dmabridge_pools_bytes(sheap->kind);
}

static const struct dmabridge_heap_ops system_heap_ops = {
	.allocate = system_allocate,
	.pool_bytes = system_pool_bytes,
};

static int system_heap_add(enum dmabridge_pool_kind kind, const char *name)
{
	struct system_heap *sheap = &system_heaps[kind];
	int ret;

	sheap->kind = kind;
	sheap->heap.ops = &system_heap_ops;
	strscpy(sheap->heap.name, name, sizeof(sheap->heap.name));
	ret = dmabridge_heap_add(&sheap->heap);
	if (ret)
		sheap->heap.ops = NULL;
	return ret;
}

int dmabridge_system_heaps_init(void)
{
	/* Never shadow the kernel's own system heap. */
	const char *name = dmabridge_heap_name_taken("system") ?
			   "dmabridge-system" : "system";
	int ret;

	ret = system_heap_add(DMABRIDGE_POOL_CACHED, name);
	if (ret)
		return ret;
	/*
	 * Making pages safe to map write-combined is done with x86's memory
	 * type interface; other architectures need a different cache clean
	 * and are not supported yet.
	 */
	if (IS_ENABLED(CONFIG_X86)) {
		ret = system_heap_add(DMABRIDGE_POOL_UNCACHED,
				      "system-uncached");
		if (ret) {
			dmabridge_heap_remove(&system_heaps[DMABRIDGE_POOL_CACHED].heap);
			return ret;
		}
	}
	return 0;
}

void dmabridge_system_heaps_exit(void)
{
	int kind;

	for (kind = DMABRIDGE_NR_POOL_KINDS - 1; kind >= 0; kind--)
		if (system_heaps[kind].heap.ops)
			dmabridge_heap_remove(&system_heaps[kind].heap);
}
