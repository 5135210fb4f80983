// SPDX-License-Identifier: GPL-2.0
/*
 * Page pools: pages of freed buffers, kept for the next allocation.
 *
 * A pool holds the pages of one kind (cached, or uncached: write-combined
 * in the kernel's linear map) and one memory cgroup.  Pages allocated with
 * __GFP_ACCOUNT stay charged to their cgroup for as long as they exist,
 * and no interface lets a module move a charge, so a pooled page may only
 * go back to the cgroup that paid for it: one pool per cgroup.  Uncharged
 * pages (memcg_account=0) share one pool per kind.
 *
 * Freed pages are "dirty" until a worker has zeroed them; only zeroed
 * ("clean") pages are handed out, so no buffer ever shows a previous
 * owner's data and freeing stays cheap.  A shrinker gives pooled pages
 * back to the kernel under memory pressure, dirty ones first.
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#ifdef CONFIG_X86
#include <asm/set_memory.h>
#endif

#include <dmabridge/compat.h>

#include "heap.h"

/* Orders 0 to 10: every order a heap asks for fits. */
#define POOL_ORDERS	11

struct dmabridge_pool {
	struct list_head node;		/* in pools, under pools_lock */
	unsigned int users;		/* under pools_lock */
	enum dmabridge_pool_kind kind;
	bool charged;
	struct mem_cgroup *memcg;	/* a reference, or NULL */

	spinlock_t lock;		/* the lists and counts below */
	struct list_head clean[POOL_ORDERS];
	struct list_head dirty[POOL_ORDERS];
	unsigned long nr_dirty;		/* pages of any order */
};

static LIST_HEAD(pools);
static DEFINE_MUTEX(pools_lock);
/* Pooled memory per kind, in PAGE_SIZE units. */
static atomic_long_t pooled_pages[DMABRIDGE_NR_POOL_KINDS];
static struct shrinker *pool_shrinker;
static struct delayed_work zero_work;
/*
 * How long freed pages wait before the worker zeroes them: long enough
 * that freeing a buffer does not wake a worker that preempts the freeing
 * task, short enough that idle time does the zeroing.
 */
#define ZERO_DELAY_MS	10

void dmabridge_pages_to_wb(struct page **pages, unsigned long nr)
{
#ifdef CONFIG_X86
	set_pages_array_wb(pages, nr);
#endif
}

static void pool_free_page(struct dmabridge_pool *pool, struct page *page,
			   unsigned int order)
{
#ifdef CONFIG_X86
	/* The page allocator wants its pages write-back again. */
	if (pool->kind == DMABRIDGE_POOL_UNCACHED)
		set_pages_wb(page, 1 << order);
#endif
	__free_pages(page, order);
	atomic_long_sub(1L << order, &pooled_pages[pool->kind]);
}

/* Under pools_lock: the pool of that kind and cgroup, used once more. */
static struct dmabridge_pool *pool_find(enum dmabridge_pool_kind kind,
					bool charged, struct mem_cgroup *memcg)
{
	struct dmabridge_pool *pool;

	list_for_each_entry(pool, &pools, node) {
		if (pool->kind == kind && pool->charged == charged &&
		    pool->memcg == memcg) {
			pool->users++;
			return pool;
		}
	}
	return NULL;
}

struct dmabridge_pool *dmabridge_pool_get(enum dmabridge_pool_kind kind,
					  bool charge)
{
	struct mem_cgroup *memcg = charge ? get_mem_cgroup_from_mm(current->mm)
					  : NULL;
	struct dmabridge_pool *pool, *fresh;
	unsigned int order;

	mutex_lock(&pools_lock);
	pool = pool_find(kind, charge, memcg);
	mutex_unlock(&pools_lock);
	if (pool)
		goto out_put_memcg;

	/* Allocated outside pools_lock: reclaim may call our shrinker. */
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	mutex_lock(&pools_lock);
	pool = pool_find(kind, charge, memcg);
	if (pool || !fresh) {
		mutex_unlock(&pools_lock);
		kfree(fresh);
		if (!pool)
			pool = ERR_PTR(-ENOMEM);
		goto out_put_memcg;
	}
	fresh->users = 1;
	fresh->kind = kind;
	fresh->charged = charge;
	/* The pool keeps the reference we took. */
	fresh->memcg = memcg;
	spin_lock_init(&fresh->lock);
	for (order = 0; order < POOL_ORDERS; order++) {
		INIT_LIST_HEAD(&fresh->clean[order]);
		INIT_LIST_HEAD(&fresh->dirty[order]);
	}
	list_add(&fresh->node, &pools);
	mutex_unlock(&pools_lock);
	return fresh;

out_put_memcg:
	mem_cgroup_put(memcg);
	return pool;
}

void dmabridge_pool_put(struct dmabridge_pool *pool)
{
	mutex_lock(&pools_lock);
	pool->users--;
	mutex_unlock(&pools_lock);
}

bool dmabridge_pool_charges(struct dmabridge_pool *pool)
{
	return pool->charged;
}

static void pool_zero_page(struct dmabridge_pool *pool, struct page *page,
			   unsigned int order)
{
	unsigned int i;

	/* Uncached pages are zeroed through their WC linear map. */
	for (i = 0; i < (1U << order); i++)
		clear_highpage(nth_page(page, i));
	if (pool->kind == DMABRIDGE_POOL_UNCACHED) {
		/*
		 * Write-combined stores are weakly ordered and may sit in the
		 * CPU's combining buffers: drain them before the page can be
		 * handed out and read through another mapping.
		 */
		wmb();
	}
}

/*
 * A clean page if there is one; otherwise a dirty page the worker has not
 * reached yet, zeroed here: still cheaper than the page allocator.
 */
struct page *dmabridge_pool_take(struct dmabridge_pool *pool,
				 unsigned int order)
{
	bool dirty = false;
	struct page *page;

	spin_lock(&pool->lock);
	page = list_first_entry_or_null(&pool->clean[order], struct page, lru);
	if (!page) {
		page = list_first_entry_or_null(&pool->dirty[order],
						struct page, lru);
		if (page) {
			dirty = true;
			pool->nr_dirty--;
		}
	}
	if (page)
		list_del(&page->lru);
	spin_unlock(&pool->lock);

	if (!page)
		return NULL;
	if (dirty)
		pool_zero_page(pool, page, order);
	atomic_long_sub(1L << order, &pooled_pages[pool->kind]);
	return page;
}

void dmabridge_pool_give(struct dmabridge_pool *pool, struct page *page,
			 unsigned int order)
{
	atomic_long_add(1L << order, &pooled_pages[pool->kind]);
	spin_lock(&pool->lock);
	list_add_tail(&page->lru, &pool->dirty[order]);
	pool->nr_dirty++;
	spin_unlock(&pool->lock);
	queue_delayed_work(system_unbound_wq, &zero_work,
			   msecs_to_jiffies(ZERO_DELAY_MS));
}

u64 dmabridge_pools_bytes(enum dmabridge_pool_kind kind)
{
	return (u64)atomic_long_read(&pooled_pages[kind]) << PAGE_SHIFT;
}

/* Takes one dirty page off @pool: the highest order first. */
static struct page *pool_pop_dirty(struct dmabridge_pool *pool,
				   unsigned int *order)
{
	struct page *page = NULL;
	int o;

	spin_lock(&pool->lock);
	for (o = POOL_ORDERS - 1; o >= 0 && !page; o--) {
		page = list_first_entry_or_null(&pool->dirty[o], struct page,
						lru);
		if (page) {
			list_del(&page->lru);
			pool->nr_dirty--;
			*order = o;
		}
	}
	spin_unlock(&pool->lock);
	return page;
}

static void pool_zero_pages(struct dmabridge_pool *pool)
{
	unsigned int order;
	struct page *page;

	while ((page = pool_pop_dirty(pool, &order))) {
		pool_zero_page(pool, page, order);
		spin_lock(&pool->lock);
		list_add_tail(&page->lru, &pool->clean[order]);
		spin_unlock(&pool->lock);
		cond_resched();
	}
}

/*
 * One pool at a time, pinned by a use count rather than by pools_lock, so
 * that allocations are not held up while pages are zeroed.
 */
static void pool_zero_work(struct work_struct *work)
{
	struct dmabridge_pool *pool, *found;

	for (;;) {
		found = NULL;
		mutex_lock(&pools_lock);
		list_for_each_entry(pool, &pools, node) {
			if (READ_ONCE(pool->nr_dirty)) {
				found = pool;
				found->users++;
				break;
			}
		}
		mutex_unlock(&pools_lock);
		if (!found)
			return;
		pool_zero_pages(found);
		dmabridge_pool_put(found);
	}
}

/* Frees up to @budget pages' worth from @pool; returns how many it freed. */
static unsigned long pool_free(struct dmabridge_pool *pool,
			       unsigned long budget)
{
	unsigned long freed = 0;
	struct list_head *lists[2] = { pool->dirty, pool->clean };
	unsigned int l;
	int order;

	for (l = 0; l < 2; l++) {
		for (order = POOL_ORDERS - 1; order >= 0; order--) {
			while (freed < budget) {
				struct page *page;

				spin_lock(&pool->lock);
				page = list_first_entry_or_null(&lists[l][order],
								struct page,
								lru);
				if (page) {
					list_del(&page->lru);
					if (!l)
						pool->nr_dirty--;
				}
				spin_unlock(&pool->lock);
				if (!page)
					break;
				pool_free_page(pool, page, order);
				freed += 1UL << order;
			}
		}
	}
	return freed;
}

static bool pool_empty(struct dmabridge_pool *pool)
{
	unsigned int order;

	for (order = 0; order < POOL_ORDERS; order++)
		if (!list_empty(&pool->clean[order]) ||
		    !list_empty(&pool->dirty[order]))
			return false;
	return true;
}

/* Unused empty pools go, with their cgroup reference.  Under pools_lock. */
static void pools_reap(void)
{
	struct dmabridge_pool *pool, *next;

	list_for_each_entry_safe(pool, next, &pools, node) {
		if (pool->users || !pool_empty(pool))
			continue;
		list_del(&pool->node);
		mem_cgroup_put(pool->memcg);
		kfree(pool);
	}
}

void dmabridge_pool_drain(struct dmabridge_pool *pool)
{
	pool_free(pool, ULONG_MAX);
}

static unsigned long pool_shrink_count(struct shrinker *shrinker,
				       struct shrink_control *sc)
{
	unsigned long pages = 0;
	int kind;

	for (kind = 0; kind < DMABRIDGE_NR_POOL_KINDS; kind++)
		pages += atomic_long_read(&pooled_pages[kind]);
	return pages ?: SHRINK_EMPTY;
}

static unsigned long pool_shrink_scan(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	struct dmabridge_pool *pool;
	unsigned long freed = 0;

	/* Reclaim can start inside an allocation that holds the lock. */
	if (!mutex_trylock(&pools_lock))
		return SHRINK_STOP;
	list_for_each_entry(pool, &pools, node) {
		if (freed >= sc->nr_to_scan)
			break;
		freed += pool_free(pool, sc->nr_to_scan - freed);
	}
	pools_reap();
	mutex_unlock(&pools_lock);
	return freed ?: SHRINK_STOP;
}

int dmabridge_pools_init(void)
{
	INIT_DELAYED_WORK(&zero_work, pool_zero_work);
	pool_shrinker = dmabridge_shrinker_create(pool_shrink_count,
						  pool_shrink_scan,
						  "dmabridge-heap-pools");
	return pool_shrinker ? 0 : -ENOMEM;
}

/* Every buffer is gone by now: the module cannot unload before. */
void dmabridge_pools_exit(void)
{
	struct dmabridge_pool *pool;

	dmabridge_shrinker_free(pool_shrinker);
	cancel_delayed_work_sync(&zero_work);
	mutex_lock(&pools_lock);
	list_for_each_entry(pool, &pools, node) {
		WARN_ON(pool->users);
		pool_free(pool, ULONG_MAX);
	}
	pools_reap();
	mutex_unlock(&pools_lock);
}
