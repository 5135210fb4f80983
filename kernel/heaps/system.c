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
#define HIGH_ORDER_GFP	(((GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | \
			   __GFP_NORETRY) & ~__GFP_RECLAIM) | __GFP_COMP)
#define LOW_ORDER_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | \
			 __GFP_RETRY_MAYFAIL)

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
};

static struct system_heap system_heaps[DMABRIDGE_NR_POOL_KINDS];

static unsigned int chunk_order(struct page *page)
{
	return PageCompound(page) ? compound_order(page) : 0;
}

/* Chunks of pages[from, to) back to the pool: their pages get zeroed. */
static void system_give_back(struct dmabridge_pool *pool, struct page **pages,
			     pgoff_t from, pgoff_t to)
{
	while (from < to) {
		unsigned int order = chunk_order(pages[from]);

		dmabridge_pool_give(pool, pages[from], order);
		from += 1UL << order;
	}
}

static void system_free_fresh(struct page **pages, pgoff_t from, pgoff_t to)
{
	while (from < to) {
		unsigned int order = chunk_order(pages[from]);

		__free_pages(pages[from], order);
		from += 1UL << order;
	}
}

static void system_buffer_release(struct dmabridge_pages *pages_buf)
{
	struct system_buffer *buffer =
		container_of(pages_buf, struct system_buffer, buf);

	system_give_back(buffer->pool, buffer->buf.pages, 0,
			 buffer->buf.nr_pages);
	dmabridge_pool_put(buffer->pool);
	dmabridge_heap_account(buffer->heap, -1,
			       -((s64)buffer->buf.nr_pages << PAGE_SHIFT));
	kvfree(buffer->buf.pages);
	kfree(buffer);
}

static const struct dmabridge_pages_ops system_buffer_ops = {
	.release = system_buffer_release,
};

static struct page *system_alloc_chunk(struct dmabridge_pool *pool,
				       pgoff_t left, bool *fresh,
				       unsigned int *order)
{
	gfp_t account = dmabridge_pool_charges(pool) ? __GFP_ACCOUNT : 0;
	struct page *page;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(system_orders); i++) {
		*order = system_orders[i];
		if (left < (1UL << *order))
			continue;
		page = dmabridge_pool_take(pool, *order);
		if (page) {
			*fresh = false;
			return page;
		}
		page = alloc_pages((*order ? HIGH_ORDER_GFP : LOW_ORDER_GFP) |
				   account, *order);
		if (page) {
			*fresh = true;
			return page;
		}
	}
	return NULL;
}

/*
 * Fills pages[] with chunks: pooled ones from the front, fresh ones from
 * the back.  A heap buffer's page order does not matter, and this keeps
 * the fresh pages together, for one switch to write-combining (one TLB
 * flush) and for freeing them directly if the allocation fails.
 * Returns the index where the fresh pages start.
 */
static long system_fill(struct dmabridge_pool *pool, struct page **pages,
			pgoff_t nr)
{
	pgoff_t front = 0, back = nr;
	bool drained = false;

	while (front < back) {
		unsigned int order, i;
		struct page *page;
		bool fresh;

		if (fatal_signal_pending(current))
			goto err_intr;
		page = system_alloc_chunk(pool, back - front, &fresh, &order);
		if (!page) {
			/* The cgroup's own pooled pages count against it. */
			if (dmabridge_pool_charges(pool) && !drained) {
				dmabridge_pool_drain(pool);
				drained = true;
				continue;
			}
			system_give_back(pool, pages, 0, front);
			system_free_fresh(pages, back, nr);
			return -ENOMEM;
		}
		if (fresh)
			back -= 1UL << order;
		for (i = 0; i < (1U << order); i++)
			pages[(fresh ? back : front) + i] = nth_page(page, i);
		if (!fresh)
			front += 1UL << order;
		cond_resched();
	}
	return back;

err_intr:
	system_give_back(pool, pages, 0, front);
	system_free_fresh(pages, back, nr);
	return -EINTR;
}

static struct dma_buf *system_allocate(struct dmabridge_heap *heap,
				       size_t len, u32 fd_flags)
{
	struct system_heap *sheap = container_of(heap, struct system_heap, heap);
	bool uncached = sheap->kind == DMABRIDGE_POOL_UNCACHED;
	pgoff_t nr = len >> PAGE_SHIFT;
	struct system_buffer *buffer;
	struct dma_buf *dmabuf;
	struct page **pages;
	long fresh_from;
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
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL | __GFP_NOWARN);
	if (!pages) {
		ret = -ENOMEM;
		goto err_buffer;
	}
	buffer->pool = dmabridge_pool_get(sheap->kind, dmabridge_memcg_account);
	if (IS_ERR(buffer->pool)) {
		ret = PTR_ERR(buffer->pool);
		goto err_pages;
	}

	fresh_from = system_fill(buffer->pool, pages, nr);
	if (fresh_from < 0) {
		ret = fresh_from;
		goto err_pool;
	}
#ifdef CONFIG_X86
	if (uncached && fresh_from < nr) {
		ret = set_pages_array_wc(pages + fresh_from, nr - fresh_from);
		if (ret) {
			system_free_fresh(pages, fresh_from, nr);
			system_give_back(buffer->pool, pages, 0, fresh_from);
			goto err_pool;
		}
	}
#endif

	buffer->heap = heap;
	buffer->buf.pages = pages;
	buffer->buf.nr_pages = nr;
	buffer->buf.file_mode = fd_flags & O_ACCMODE;
	buffer->buf.write_combine = uncached;
	buffer->buf.ops = &system_buffer_ops;
	dmabuf = dmabridge_pages_export(&buffer->buf, THIS_MODULE, heap->name);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		system_give_back(buffer->pool, pages, 0, nr);
		goto err_pool;
	}
	dmabridge_heap_account(heap, 1, len);
	return dmabuf;

err_pool:
	dmabridge_pool_put(buffer->pool);
err_pages:
	kvfree(pages);
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
