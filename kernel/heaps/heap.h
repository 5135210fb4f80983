/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the parts of dmabridge_heaps share: the heap framework (framework.c,
 * ours or the kernel's), the page pools (pool.c) and the heaps.
 */
#ifndef _DMABRIDGE_HEAP_H
#define _DMABRIDGE_HEAP_H

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/dma-buf.h>
#include <linux/sysfs.h>
#include <linux/types.h>

struct dmabridge_heap;

struct dmabridge_heap_ops {
	/* len is page aligned and nonzero; fd_flags already checked. */
	struct dma_buf *(*allocate)(struct dmabridge_heap *heap, size_t len,
				    u32 fd_flags);
	/* Bytes held in the heap's page pools; NULL if it has none. */
	u64 (*pool_bytes)(struct dmabridge_heap *heap);
};

struct dmabridge_heap {
	char name[32];
	const struct dmabridge_heap_ops *ops;
	/* Heap-specific sysfs attributes beside the common ones, or NULL. */
	const struct attribute_group *extra_attrs;
	void *priv;

	/* Live buffers and their bytes, for sysfs. */
	atomic_long_t buffers;
	atomic64_t bytes;

	/* The framework's; see framework.c. */
	struct device *dev;
	const struct attribute_group *groups[3];
	struct cdev cdev;
};

int dmabridge_heap_framework_init(void);
void dmabridge_heap_framework_exit(void);
int dmabridge_heap_add(struct dmabridge_heap *heap);
void dmabridge_heap_remove(struct dmabridge_heap *heap);
/* Whether the kernel already has a heap of that name. */
bool dmabridge_heap_name_taken(const char *name);

static inline void dmabridge_heap_account(struct dmabridge_heap *heap,
					  long buffers, s64 bytes)
{
	atomic_long_add(buffers, &heap->buffers);
	atomic64_add(bytes, &heap->bytes);
}

/* Page pools: pool.c. */
enum dmabridge_pool_kind {
	DMABRIDGE_POOL_CACHED,
	DMABRIDGE_POOL_UNCACHED,
	DMABRIDGE_NR_POOL_KINDS,
};

struct dmabridge_pool;

int dmabridge_pools_init(void);
void dmabridge_pools_exit(void);
/* The pool of the calling task's memory cgroup (or the uncharged one). */
struct dmabridge_pool *dmabridge_pool_get(enum dmabridge_pool_kind kind,
					  bool charge);
void dmabridge_pool_put(struct dmabridge_pool *pool);
/*
 * A zeroed page of @order from the pool, or NULL.  Without @dirty, only
 * one the worker has zeroed already; with it, if there is none, a dirty
 * one zeroed by the caller.
 */
struct page *dmabridge_pool_take(struct dmabridge_pool *pool,
				 unsigned int order, bool dirty);
/*
 * The pool is below its reserve of @order: rather than zero a dirty page
 * itself, an allocation should take a fresh one, which the pool keeps when
 * it is freed.
 */
bool dmabridge_pool_growing(struct dmabridge_pool *pool, unsigned int order);
/* Gives a page back; it is zeroed before anyone takes it again. */
void dmabridge_pool_give(struct dmabridge_pool *pool, struct page *page,
			 unsigned int order);
bool dmabridge_pool_charges(struct dmabridge_pool *pool);
/* The cgroup a charging pool's pages must be charged to, or NULL. */
struct mem_cgroup *dmabridge_pool_memcg(struct dmabridge_pool *pool);
/*
 * Whether an allocation of @nr pages should take its fresh pages unzeroed
 * and have dmabridge_zero_chunks() zero them.
 */
bool dmabridge_zero_shared(pgoff_t nr);
/* Zeroes @nr pages of chunks on @chunks, on this CPU and others at once. */
void dmabridge_zero_chunks(struct list_head *chunks, pgoff_t nr);
u64 dmabridge_pools_bytes(enum dmabridge_pool_kind kind);
/* Frees every pooled page of @pool's cgroup: its last resort on ENOMEM. */
void dmabridge_pool_drain(struct dmabridge_pool *pool);
void dmabridge_pages_to_wb(struct page **pages, unsigned long nr);

/* The heaps. */
int dmabridge_system_heaps_init(void);
void dmabridge_system_heaps_exit(void);
void dmabridge_contiguous_init(void);
void dmabridge_contiguous_exit(void);

/* Module parameters shared between files. */
extern bool dmabridge_memcg_account;

#endif /* _DMABRIDGE_HEAP_H */
