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
 * back to the kernel under memory pressure, dirty ones first.  It is
 * memcg aware: a cgroup at its limit reclaims only from its own subtree,
 * and a pool's pages are charged to its cgroup, so that reclaim must find
 * them.  Each pool is on a memcg-aware list_lru, charged to its cgroup
 * (which puts it on that cgroup's list, and on the parent's once the
 * cgroup is gone, as its charges are); reclaim of a cgroup walks its list.
 *
 * A pool that allocations want pages from gets its freed pages zeroed at
 * once, by a worker on another CPU while the allocating task goes on, and
 * grows a reserve: an allocation that finds no clean page takes fresh
 * pages rather than zero dirty ones itself, as long as the pool holds less
 * than POOL_RESERVE_PAGES of that order.  In a loop of allocations and
 * frees the allocations then find pages the worker zeroed meanwhile, and
 * only zero a dirty page themselves once the reserve is used up and the
 * worker behind.  The pages of a pool nobody wants pages from stay dirty,
 * with no timer and no wakeup, until an allocation finds them (and sets
 * the worker going), the worker passes by for another pool (it zeroes
 * every dirty page it finds), or the shrinker takes them.
 *
 * Every buffer looks its pool up when it is allocated and lets go of it
 * when it is freed, so lookups walk the list under RCU and pools are
 * pinned by an atomic use count: a global mutex taken twice per buffer
 * would serialize the allocations and frees of all CPUs.  The list holds
 * one use of each pool; a pool is removed (under pools_lock) only by
 * taking that last use from 1 to 0, after which no lookup can pin it.
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/isolation.h>
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
	/* In pools: changed under pools_lock, walked under RCU. */
	struct list_head node;
	/* In pool_lru, from when it is in pools until it is removed. */
	struct list_head lru_node;
	struct rcu_head rcu;
	atomic_t users;			/* 1 for the list, 1 per holder */
	enum dmabridge_pool_kind kind;
	bool charged;
	struct mem_cgroup *memcg;	/* a reference, or NULL */

	spinlock_t lock;		/* the lists and counts below */
	struct list_head clean[POOL_ORDERS];
	struct list_head dirty[POOL_ORDERS];
	/*
	 * The two counts are also read without the lock, as hints (growth,
	 * the shrinker's count, which pool to zero next): stored with
	 * WRITE_ONCE(), read with READ_ONCE().
	 */
	unsigned long nr_dirty;		/* in PAGE_SIZE units */
	unsigned long nr_chunks[POOL_ORDERS];	/* clean and dirty */
	/*
	 * Orders (bits) of which allocations took pages or found only dirty
	 * ones since the worker last started on the pool.
	 */
	unsigned long wanted;
};

static LIST_HEAD(pools);
static DEFINE_MUTEX(pools_lock);
/* Pooled memory per kind, in PAGE_SIZE units. */
static atomic_long_t pooled_pages[DMABRIDGE_NR_POOL_KINDS];
static struct shrinker *pool_shrinker;
static struct list_lru pool_lru;
/* The shrinker may run before pool_lru is set up (see compat.h). */
static bool pool_lru_ready;
static struct kmem_cache *pool_cache;
/* Delayed only on the freeing CPU itself (see pool_kick()). */
static struct delayed_work zero_work;
/*
 * No module hears of a cgroup's removal, and without memory pressure no
 * shrinker runs: so a worker looks for pools of removed cgroups every
 * POOL_REAP_SECS while any cgroup has a pool, gives their pages back and
 * lets go of them and of their cgroups.  Deferrable: it never wakes an
 * idle CPU for this.
 */
static struct delayed_work reap_work;
#define POOL_REAP_SECS	10
/*
 * Per-CPU, so that the worker runs where it is sent: on another CPU than
 * the freeing task's.  With an unbound workqueue, which leaves the choice
 * to the scheduler, loops of 4 KiB to 1 MiB allocations and frees took
 * 1.3-1.6 times as long in a 2-CPU guest.  CPU-intensive, because zeroing
 * a large pool is.
 */
static struct workqueue_struct *zero_wq;
/*
 * With no other CPU to send it to (one CPU, or the task may use no
 * other), how long the worker waits: zeroing at once would only delay
 * the task that freed or wants the pages.
 */
#define ZERO_DELAY_MS	10
/*
 * How far a pool grows, per order, by fresh pages instead of zeroing dirty
 * ones on the allocating CPU: per order, because pages of one order do
 * not serve requests of another.  The shrinker gives them back under
 * memory pressure like any pooled page.
 */
#define POOL_RESERVE_PAGES	(SZ_16M >> PAGE_SHIFT)
/*
 * The worker of a pool that pages are wanted from starts at once when this
 * much is dirty: waking it on another CPU for every 4 KiB page would cost
 * the freeing task more than zeroing the page, so small frees gather.
 */
#define POOL_KICK_PAGES		(SZ_256K >> PAGE_SHIFT)

void dmabridge_pages_to_wb(struct page **pages, unsigned long nr)
{
#ifdef CONFIG_X86
	set_pages_array_wb(pages, nr);
#endif
}

static void pool_page_to_kernel(struct dmabridge_pool *pool,
				struct page *page, unsigned int order)
{
#ifdef CONFIG_X86
	/* The page allocator wants its pages write-back again. */
	if (pool->kind == DMABRIDGE_POOL_UNCACHED)
		set_pages_wb(page, 1 << order);
#endif
	__free_pages(page, order);
}

static void pool_free_page(struct dmabridge_pool *pool, struct page *page,
			   unsigned int order)
{
	pool_page_to_kernel(pool, page, order);
	atomic_long_sub(1L << order, &pooled_pages[pool->kind]);
}

/*
 * The pool of a removed cgroup: no task is left in the cgroup to take its
 * pages, only its buffers still alive to give theirs back.
 */
static bool pool_dead(struct dmabridge_pool *pool)
{
	return pool->memcg && !mem_cgroup_online(pool->memcg);
}

/*
 * Under RCU or pools_lock: the pool of that kind and cgroup, used once
 * more.  A pool being removed has no use left and is skipped; under
 * pools_lock none is seen.  Only the memcg pointer is compared, never
 * followed: a dead pool's memcg may be gone already.
 */
static struct dmabridge_pool *pool_find(enum dmabridge_pool_kind kind,
					bool charged, struct mem_cgroup *memcg)
{
	struct dmabridge_pool *pool;

	list_for_each_entry_rcu(pool, &pools, node,
				lockdep_is_held(&pools_lock)) {
		if (pool->kind == kind && pool->charged == charged &&
		    pool->memcg == memcg && atomic_inc_not_zero(&pool->users))
			return pool;
	}
	return NULL;
}

struct dmabridge_pool *dmabridge_pool_get(enum dmabridge_pool_kind kind,
					  bool charge)
{
	struct mem_cgroup *memcg = charge ? get_mem_cgroup_from_mm(current->mm)
					  : NULL;
	struct dmabridge_pool *pool, *fresh;
	struct mem_cgroup *old_memcg;
	unsigned int order;

	rcu_read_lock();
	pool = pool_find(kind, charge, memcg);
	rcu_read_unlock();
	if (pool)
		goto out_put_memcg;

	/*
	 * Allocated outside pools_lock: reclaim may call our shrinker.
	 * Charged to the pool's cgroup, which puts it on that cgroup's
	 * list in pool_lru.
	 */
	old_memcg = set_active_memcg(memcg);
	fresh = kmem_cache_alloc_lru(pool_cache, &pool_lru,
				     GFP_KERNEL | __GFP_ZERO |
				     __GFP_RETRY_MAYFAIL | __GFP_NOWARN |
				     (charge ? __GFP_ACCOUNT : 0));
	set_active_memcg(old_memcg);
	mutex_lock(&pools_lock);
	pool = pool_find(kind, charge, memcg);
	if (pool || !fresh) {
		mutex_unlock(&pools_lock);
		if (fresh)
			kmem_cache_free(pool_cache, fresh);
		if (!pool)
			pool = ERR_PTR(-ENOMEM);
		goto out_put_memcg;
	}
	atomic_set(&fresh->users, 2);
	fresh->kind = kind;
	fresh->charged = charge;
	/* The pool keeps the reference we took. */
	fresh->memcg = memcg;
	spin_lock_init(&fresh->lock);
	for (order = 0; order < POOL_ORDERS; order++) {
		INIT_LIST_HEAD(&fresh->clean[order]);
		INIT_LIST_HEAD(&fresh->dirty[order]);
	}
	INIT_LIST_HEAD(&fresh->lru_node);
	dmabridge_list_lru_add_obj(&pool_lru, &fresh->lru_node);
	list_add_rcu(&fresh->node, &pools);
	mutex_unlock(&pools_lock);
	/* Queued already if another cgroup has a pool. */
	if (memcg)
		queue_delayed_work(system_wq, &reap_work, POOL_REAP_SECS * HZ);
	return fresh;

out_put_memcg:
	mem_cgroup_put(memcg);
	return pool;
}

/* Never the last use: that is the list's, taken only by pools_reap(). */
void dmabridge_pool_put(struct dmabridge_pool *pool)
{
	/*
	 * pools_reap() looks at the lists without the pool's lock once it
	 * has the last use: the pages given before must be seen there.
	 */
	smp_mb__before_atomic();
	atomic_dec(&pool->users);
}

bool dmabridge_pool_charges(struct dmabridge_pool *pool)
{
	return pool->charged;
}

struct mem_cgroup *dmabridge_pool_memcg(struct dmabridge_pool *pool)
{
	return pool->memcg;
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
 * A CPU that may zero for the current task: online, one the task may run
 * on (its cpuset and affinity), and not isolated from kernel work
 * (isolcpus, nohz_full).  Work queued without delay for a CPU that has
 * gone offline meanwhile still runs, on another one.
 */
static bool zero_cpu_allowed(unsigned int cpu)
{
	return cpu_online(cpu) && cpumask_test_cpu(cpu, current->cpus_ptr) &&
	       cpumask_test_cpu(cpu, housekeeping_cpumask(HK_TYPE_WQ));
}

/* Another allowed CPU than this one, if there is one. */
static int pool_zero_cpu(void)
{
	unsigned int self = raw_smp_processor_id(), cpu;

	for_each_cpu_wrap(cpu, cpu_online_mask, self + 1)
		if (cpu != self && zero_cpu_allowed(cpu))
			return cpu;
	return self;
}

/*
 * Fresh pages of a large allocation are zeroed by the allocating task
 * together with helpers on other CPUs: zeroing is nearly all the time such
 * an allocation takes, and the page allocator does it on the task's CPU
 * alone.  Each takes the next piece nobody has taken until none is left,
 * so a helper that starts late (a CPU waking from idle) holds nobody up:
 * one that has not started when the task is done is cancelled.
 *
 * An allocation gets a helper per ZERO_SHARE_PAGES beyond the first.
 * Waking one is not free: in a 2-CPU QEMU TCG guest it cost the task about
 * 0.8 ms, which made 1 MiB and 2 MiB allocations slower (1.2-1.4x and
 * 1.0-1.1x) and 4 MiB ones faster (0.65x).
 */
#define ZERO_SHARE_PAGES	(SZ_2M >> PAGE_SHIFT)
#define ZERO_MAX_HELPERS	3
#define ZERO_PIECE_PAGES	(SZ_64K >> PAGE_SHIFT)

struct zero_job {
	spinlock_t lock;		/* chunk and taken */
	struct list_head *chunk;	/* the chunk being handed out */
	unsigned int taken;		/* its pages handed out so far */
	struct list_head *end;		/* the list's head */
};

struct zero_helper {
	struct work_struct work;
	struct zero_job *job;
};

/* Up to ZERO_PIECE_PAGES pages of one chunk that nobody has taken. */
static unsigned int zero_job_claim(struct zero_job *job, struct page **first)
{
	unsigned int n = 0, pages;
	struct page *chunk;

	spin_lock(&job->lock);
	if (job->chunk != job->end) {
		chunk = list_entry(job->chunk, struct page, lru);
		pages = 1U << compound_order(chunk);
		n = min_t(unsigned int, pages - job->taken, ZERO_PIECE_PAGES);
		*first = nth_page(chunk, job->taken);
		job->taken += n;
		if (job->taken == pages) {
			job->chunk = job->chunk->next;
			job->taken = 0;
		}
	}
	spin_unlock(&job->lock);
	return n;
}

static void zero_job_run(struct zero_job *job)
{
	struct page *first;
	unsigned int i, n;

	while ((n = zero_job_claim(job, &first))) {
		for (i = 0; i < n; i++)
			clear_highpage(nth_page(first, i));
		cond_resched();
	}
}

static void zero_helper_work(struct work_struct *work)
{
	zero_job_run(container_of(work, struct zero_helper, work)->job);
}

bool dmabridge_zero_shared(pgoff_t nr)
{
	/* Pages the page allocator zeroes anyway, or that are zero already. */
	if (want_init_on_alloc(0) || want_init_on_free())
		return false;
	return nr >= 2 * ZERO_SHARE_PAGES && num_online_cpus() > 1;
}

void dmabridge_zero_chunks(struct list_head *chunks, pgoff_t nr)
{
	struct zero_job job = { .chunk = chunks->next, .end = chunks };
	struct zero_helper helpers[ZERO_MAX_HELPERS];
	unsigned int self = raw_smp_processor_id(), cpu, max, n = 0, i;

	spin_lock_init(&job.lock);
	max = min_t(pgoff_t, ZERO_MAX_HELPERS + 1, nr / ZERO_SHARE_PAGES);
	max = max ? max - 1 : 0;
	for_each_cpu_wrap(cpu, cpu_online_mask, self + 1) {
		if (n == max)
			break;
		if (cpu == self || !zero_cpu_allowed(cpu))
			continue;
		helpers[n].job = &job;
		INIT_WORK_ONSTACK(&helpers[n].work, zero_helper_work);
		queue_work_on(cpu, zero_wq, &helpers[n++].work);
	}
	zero_job_run(&job);
	/* Waits for a helper still on its last chunk. */
	for (i = 0; i < n; i++) {
		cancel_work_sync(&helpers[i].work);
		destroy_work_on_stack(&helpers[i].work);
	}
}

/* Sets the worker going for a pool whose pages allocations want. */
static void pool_kick(void)
{
	unsigned int cpu;

	/* If queued already, the worker will find the pages. */
	if (delayed_work_pending(&zero_work))
		return;
	cpu = pool_zero_cpu();
	queue_delayed_work_on(cpu, zero_wq, &zero_work,
			      cpu == raw_smp_processor_id() ?
			      msecs_to_jiffies(ZERO_DELAY_MS) : 0);
}

/* Under pool->lock: @pages more dirty pages, or fewer if negative. */
static void pool_dirty_add(struct dmabridge_pool *pool, long pages)
{
	lockdep_assert_held(&pool->lock);
	WRITE_ONCE(pool->nr_dirty, pool->nr_dirty + pages);
}

/* Under pool->lock: @n more chunks of @order, or fewer if negative. */
static void pool_chunks_add(struct dmabridge_pool *pool, unsigned int order,
			    long n)
{
	lockdep_assert_held(&pool->lock);
	WRITE_ONCE(pool->nr_chunks[order], pool->nr_chunks[order] + n);
}

/*
 * A clean page if there is one; otherwise, with @dirty, a dirty page the
 * worker has not reached yet, zeroed here.
 */
struct page *dmabridge_pool_take(struct dmabridge_pool *pool,
				 unsigned int order, bool dirty)
{
	bool unzeroed;
	struct page *page;

	/*
	 * An empty order is common (every cold allocation): leave the lock's
	 * cache line alone.  A page given meanwhile only goes to the next.
	 */
	if (list_empty(&pool->clean[order]) && list_empty(&pool->dirty[order]))
		return NULL;
	spin_lock(&pool->lock);
	page = list_first_entry_or_null(&pool->clean[order], struct page, lru);
	/* Only dirty pages of this order: the worker is behind. */
	unzeroed = !page && !list_empty(&pool->dirty[order]);
	if (page || unzeroed)
		pool->wanted |= BIT(order);
	if (page) {
		dirty = false;
	} else if (dirty) {
		page = list_first_entry_or_null(&pool->dirty[order],
						struct page, lru);
		if (page)
			pool_dirty_add(pool, -(1L << order));
	}
	if (page) {
		list_del(&page->lru);
		pool_chunks_add(pool, order, -1);
	}
	spin_unlock(&pool->lock);

	/* Only dirty pages here: have them zeroed for the next allocation. */
	if (unzeroed)
		pool_kick();
	if (!page)
		return NULL;
	if (dirty)
		pool_zero_page(pool, page, order);
	atomic_long_sub(1L << order, &pooled_pages[pool->kind]);
	return page;
}

bool dmabridge_pool_growing(struct dmabridge_pool *pool, unsigned int order)
{
	return READ_ONCE(pool->nr_chunks[order]) << order < POOL_RESERVE_PAGES;
}

void dmabridge_pool_give(struct dmabridge_pool *pool, struct page *page,
			 unsigned int order)
{
	bool now;

	if (pool_dead(pool)) {
		pool_page_to_kernel(pool, page, order);
		return;
	}
	atomic_long_add(1L << order, &pooled_pages[pool->kind]);
	spin_lock(&pool->lock);
	list_add_tail(&page->lru, &pool->dirty[order]);
	pool_dirty_add(pool, 1L << order);
	pool_chunks_add(pool, order, 1);
	now = pool->wanted && pool->nr_dirty >= POOL_KICK_PAGES;
	spin_unlock(&pool->lock);

	if (now)
		pool_kick();
}

u64 dmabridge_pools_bytes(enum dmabridge_pool_kind kind)
{
	return (u64)atomic_long_read(&pooled_pages[kind]) << PAGE_SHIFT;
}

/* Under pool->lock: a dirty page of the highest of @orders (bits). */
static struct page *pool_first_dirty(struct dmabridge_pool *pool,
				     unsigned long orders, unsigned int *order)
{
	int o;

	for (o = POOL_ORDERS - 1; o >= 0; o--) {
		if (!(orders & BIT(o)) || list_empty(&pool->dirty[o]))
			continue;
		*order = o;
		return list_first_entry(&pool->dirty[o], struct page, lru);
	}
	return NULL;
}

/*
 * Takes one dirty page off @pool: first of the orders allocations want
 * (@prio, or wanted since), so that a loop of small allocations is not
 * kept waiting while a large buffer freed before it is zeroed; the highest
 * order first.
 */
static struct page *pool_pop_dirty(struct dmabridge_pool *pool,
				   unsigned long prio, unsigned int *order)
{
	struct page *page;

	spin_lock(&pool->lock);
	page = pool_first_dirty(pool, prio | pool->wanted, order) ?:
	       pool_first_dirty(pool, ~0UL, order);
	if (page) {
		list_del(&page->lru);
		pool_dirty_add(pool, -(1L << *order));
	}
	spin_unlock(&pool->lock);
	return page;
}

static void pool_zero_pages(struct dmabridge_pool *pool)
{
	unsigned long prio;
	unsigned int order;
	struct page *page;

	spin_lock(&pool->lock);
	prio = pool->wanted;
	pool->wanted = 0;
	spin_unlock(&pool->lock);
	while ((page = pool_pop_dirty(pool, prio, &order))) {
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
				atomic_inc(&found->users);
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
					pool_chunks_add(pool, order, -1);
					if (!l)
						pool_dirty_add(pool,
							       -(1L << order));
				}
				spin_unlock(&pool->lock);
				if (!page)
					break;
				pool_free_page(pool, page, order);
				freed += 1UL << order;
				/*
				 * A drain or unload may free gigabytes, and an
				 * uncached page's way back to write-back flushes
				 * every CPU's TLB.
				 */
				cond_resched();
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

static void pool_free_rcu(struct rcu_head *rcu)
{
	kmem_cache_free(pool_cache, container_of(rcu, struct dmabridge_pool,
						 rcu));
}

/*
 * Unused empty pools of cgroups that are gone go, with their cgroup
 * reference (all of them when all is set).  Under pools_lock.  The last
 * use is taken before the pool is found empty: a holder could otherwise
 * give it a page and let go in between.
 */
static void pools_reap(bool all)
{
	struct dmabridge_pool *pool, *next;

	list_for_each_entry_safe(pool, next, &pools, node) {
		/*
		 * An empty pool of a live cgroup (or the uncharged one) stays:
		 * its next allocation would otherwise pay for making it
		 * again, which upstream's heap never does.
		 */
		if (!all && !pool_dead(pool))
			continue;
		if (atomic_cmpxchg(&pool->users, 1, 0) != 1)
			continue;
		if (!pool_empty(pool)) {
			atomic_set(&pool->users, 1);
			continue;
		}
		dmabridge_list_lru_del_obj(&pool_lru, &pool->lru_node);
		list_del_rcu(&pool->node);
		mem_cgroup_put(pool->memcg);
		call_rcu(&pool->rcu, pool_free_rcu);
	}
}

static void pool_reap_work(struct work_struct *work)
{
	struct dmabridge_pool *pool;
	bool again = false;

	mutex_lock(&pools_lock);
	list_for_each_entry(pool, &pools, node)
		if (pool_dead(pool))
			pool_free(pool, ULONG_MAX);
	/* A pool with buffers still alive stays until they are freed. */
	pools_reap(false);
	list_for_each_entry(pool, &pools, node)
		again |= !!pool->memcg;
	mutex_unlock(&pools_lock);
	if (again)
		queue_delayed_work(system_wq, &reap_work, POOL_REAP_SECS * HZ);
}

void dmabridge_pool_drain(struct dmabridge_pool *pool)
{
	pool_free(pool, ULONG_MAX);
}

/* Clean and dirty, in PAGE_SIZE units; without the lock, a snapshot. */
static unsigned long pool_pages(struct dmabridge_pool *pool)
{
	unsigned long pages = 0;
	unsigned int order;

	for (order = 0; order < POOL_ORDERS; order++)
		pages += READ_ONCE(pool->nr_chunks[order]) << order;
	return pages;
}

/* The pools of one cgroup's lists in pool_lru, found by walks. */
struct pool_walk {
	unsigned long pages;
	unsigned int nr;
	struct dmabridge_pool *pools[8];
};

static enum lru_status pool_walk_count(struct list_head *item,
				       struct list_lru_one *list,
				       spinlock_t *lock, void *arg)
{
	struct pool_walk *walk = arg;

	walk->pages += pool_pages(list_entry(item, struct dmabridge_pool,
					     lru_node));
	return LRU_SKIP;
}

/*
 * Under the list's lock, which pools_reap() takes to remove a pool after
 * it took its last use: a pool found here with a use left stays.
 */
static enum lru_status pool_walk_pin(struct list_head *item,
				     struct list_lru_one *list,
				     spinlock_t *lock, void *arg)
{
	struct dmabridge_pool *pool = list_entry(item, struct dmabridge_pool,
						 lru_node);
	struct pool_walk *walk = arg;

	if (walk->nr < ARRAY_SIZE(walk->pools) && pool_pages(pool) &&
	    atomic_inc_not_zero(&pool->users))
		walk->pools[walk->nr++] = pool;
	return LRU_SKIP;
}

/*
 * A pool's place in pool_lru says whose it is, not where its pages are:
 * it sits on the node of its own struct, its pages come from any node.
 * So the shrinker is not NUMA aware, and the lists of every node are
 * walked for a cgroup.  Reclaim of a cgroup calls us on the nodes where
 * its pools' structs are (there the list_lru sets the cgroup's bit);
 * reclaim for a cgroup's limit goes through every node it may use.
 */
static void pool_walk_memcg(struct mem_cgroup *memcg, list_lru_walk_cb cb,
			    struct pool_walk *walk)
{
	int nid;

	for_each_node(nid) {
		unsigned long nr = ULONG_MAX;

		list_lru_walk_one(&pool_lru, nid, memcg, cb, walk, &nr);
	}
}

static unsigned long pool_lru_count_memcg(struct mem_cgroup *memcg)
{
	unsigned long nr = 0;
	int nid;

	for_each_node(nid)
		nr += list_lru_count_one(&pool_lru, nid, memcg);
	return nr;
}

/*
 * Reclaim of the whole machine (or of the root cgroup, which holds every
 * other) calls us with the root cgroup, and sc->memcg is NULL without
 * memory cgroups: every pool then.  Reclaim of a cgroup calls us for
 * each cgroup below it that has pools on its lists (with the pools of
 * its removed children): those pools.
 */
static bool pool_shrink_all(struct shrink_control *sc)
{
	return !sc->memcg || !parent_mem_cgroup(sc->memcg);
}

static unsigned long pool_shrink_count(struct shrinker *shrinker,
				       struct shrink_control *sc)
{
	struct pool_walk walk = { 0 };
	int kind;

	/* Pairs with the release in dmabridge_pools_init(). */
	if (!smp_load_acquire(&pool_lru_ready))
		return SHRINK_EMPTY;
	if (pool_shrink_all(sc)) {
		for (kind = 0; kind < DMABRIDGE_NR_POOL_KINDS; kind++)
			walk.pages += atomic_long_read(&pooled_pages[kind]);
		return walk.pages ?: SHRINK_EMPTY;
	}
	/*
	 * A cgroup with pools counts 0 when they are empty, not SHRINK_EMPTY,
	 * which would clear its bit for this shrinker: only adding the first
	 * pool to its list sets it again.
	 */
	if (!pool_lru_count_memcg(sc->memcg))
		return SHRINK_EMPTY;
	pool_walk_memcg(sc->memcg, pool_walk_count, &walk);
	return walk.pages;
}

static unsigned long pool_shrink_scan(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	struct pool_walk walk = { 0 };
	struct dmabridge_pool *pool;
	unsigned long freed = 0;
	unsigned int i;

	/* Pairs with the release in dmabridge_pools_init(). */
	if (!smp_load_acquire(&pool_lru_ready))
		return SHRINK_STOP;
	if (!pool_shrink_all(sc)) {
		pool_walk_memcg(sc->memcg, pool_walk_pin, &walk);
		for (i = 0; i < walk.nr; i++) {
			if (freed < sc->nr_to_scan)
				freed += pool_free(walk.pools[i],
						   sc->nr_to_scan - freed);
			dmabridge_pool_put(walk.pools[i]);
		}
	}
	/* Reclaim can start inside an allocation that holds the lock. */
	if (!mutex_trylock(&pools_lock))
		return freed ?: SHRINK_STOP;
	if (pool_shrink_all(sc)) {
		list_for_each_entry(pool, &pools, node) {
			if (freed >= sc->nr_to_scan)
				break;
			freed += pool_free(pool, sc->nr_to_scan - freed);
		}
	}
	pools_reap(false);
	mutex_unlock(&pools_lock);
	return freed ?: SHRINK_STOP;
}

int dmabridge_pools_init(void)
{
	INIT_DELAYED_WORK(&zero_work, pool_zero_work);
	INIT_DEFERRABLE_WORK(&reap_work, pool_reap_work);
	pool_cache = KMEM_CACHE(dmabridge_pool, 0);
	if (!pool_cache)
		return -ENOMEM;
	zero_wq = alloc_workqueue("dmabridge_heap_zero", WQ_CPU_INTENSIVE, 0);
	if (!zero_wq)
		goto err_cache;
	pool_shrinker = dmabridge_shrinker_create(pool_shrink_count,
						  pool_shrink_scan,
						  "dmabridge-heap-pools",
						  &pool_lru);
	if (!pool_shrinker)
		goto err_wq;
	/* pool_lru is set up: the shrinker's callbacks may use it. */
	smp_store_release(&pool_lru_ready, true);
	return 0;

err_wq:
	destroy_workqueue(zero_wq);
err_cache:
	kmem_cache_destroy(pool_cache);
	return -ENOMEM;
}

/* Every buffer is gone by now: the module cannot unload before. */
void dmabridge_pools_exit(void)
{
	struct dmabridge_pool *pool;

	dmabridge_shrinker_free(pool_shrinker);
	/* It queues itself again: cancel_delayed_work_sync() stops that. */
	cancel_delayed_work_sync(&reap_work);
	cancel_delayed_work_sync(&zero_work);
	destroy_workqueue(zero_wq);
	mutex_lock(&pools_lock);
	list_for_each_entry(pool, &pools, node) {
		WARN_ON(atomic_read(&pool->users) != 1);
		pool_free(pool, ULONG_MAX);
	}
	pools_reap(true);
	mutex_unlock(&pools_lock);
	list_lru_destroy(&pool_lru);
	/* The pools' RCU callbacks free into pool_cache. */
	rcu_barrier();
	kmem_cache_destroy(pool_cache);
}
