/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces that differ between the kernels dmabridge
 * builds against (Debian's 6.1 and 6.12 series, and newer).  Everything
 * else is written against the current API directly.  The DMABRIDGE_HAVE_*
 * symbols come from feature tests in kernel/compat.mk.
 */
#ifndef _DMABRIDGE_COMPAT_H
#define _DMABRIDGE_COMPAT_H

#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/list_lru.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

/*
 * Symbol namespaces became string literals in 6.13.  The core exports its
 * helpers in namespace DMABRIDGE (DEFAULT_SYMBOL_NAMESPACE, set in its
 * Kbuild) so that only modules that ask for them link against them.
 */
#ifdef DMABRIDGE_HAVE_NS_STRINGS
#define DMABRIDGE_IMPORT_NS_DMA_BUF()	MODULE_IMPORT_NS("DMA_BUF")
#define DMABRIDGE_IMPORT_NS_CORE()	MODULE_IMPORT_NS("DMABRIDGE")
#else
#define DMABRIDGE_IMPORT_NS_DMA_BUF()	MODULE_IMPORT_NS(DMA_BUF)
#define DMABRIDGE_IMPORT_NS_CORE()	MODULE_IMPORT_NS(DMABRIDGE)
#endif

/* vm_flags became read-only outside the mm core in 6.3. */
#ifndef DMABRIDGE_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma,
				  vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/*
 * From 6.2 dma_buf_vmap() wants the reservation lock held and the
 * _unlocked variant takes it; before, dma_buf_vmap() locked by itself.
 */
#ifndef DMABRIDGE_HAVE_DMA_BUF_VMAP_UNLOCKED
static inline int dma_buf_vmap_unlocked(struct dma_buf *dmabuf,
					struct iosys_map *map)
{
	return dma_buf_vmap(dmabuf, map);
}

static inline void dma_buf_vunmap_unlocked(struct dma_buf *dmabuf,
					   struct iosys_map *map)
{
	dma_buf_vunmap(dmabuf, map);
}
#endif

/* A class's devnode callback got a const device in 6.2. */
#ifdef DMABRIDGE_HAVE_CONST_DEVNODE
#define DMABRIDGE_DEVNODE_CONST const
#else
#define DMABRIDGE_DEVNODE_CONST
#endif

/*
 * Shrinkers are allocated by the mm core from 6.7 on; before, the owner
 * embedded one and registered it.  Either way the caller gets a pointer
 * and gives it back to dmabridge_shrinker_free().
 *
 * With @lru, the shrinker is memcg aware and @lru is set up as its
 * memcg-aware list_lru: reclaim of a memory cgroup then calls it for the
 * cgroups that have objects on @lru.  Before 6.7 a module
 * cannot set @lru up before the shrinker is live, so the callbacks must
 * leave @lru alone until this has returned.
 */
static inline struct shrinker *
dmabridge_shrinker_create(unsigned long (*count)(struct shrinker *,
						 struct shrink_control *),
			  unsigned long (*scan)(struct shrinker *,
						struct shrink_control *),
			  const char *name, struct list_lru *lru)
{
	unsigned int flags = lru ? SHRINKER_MEMCG_AWARE : 0;
	struct shrinker *shrinker;

#ifdef DMABRIDGE_HAVE_SHRINKER_ALLOC
	shrinker = shrinker_alloc(flags, "%s", name);
	if (!shrinker)
		return NULL;
	if (lru && list_lru_init_memcg(lru, shrinker)) {
		shrinker_free(shrinker);
		return NULL;
	}
	shrinker->count_objects = count;
	shrinker->scan_objects = scan;
	shrinker_register(shrinker);
#else
	shrinker = kzalloc(sizeof(*shrinker), GFP_KERNEL);
	if (!shrinker)
		return NULL;
	shrinker->count_objects = count;
	shrinker->scan_objects = scan;
	shrinker->seeks = DEFAULT_SEEKS;
	shrinker->flags = flags;
	if (register_shrinker(shrinker, "%s", name)) {
		kfree(shrinker);
		return NULL;
	}
	if (lru && list_lru_init_memcg(lru, shrinker)) {
		unregister_shrinker(shrinker);
		kfree(shrinker);
		return NULL;
	}
#endif
	return shrinker;
}

static inline void dmabridge_shrinker_free(struct shrinker *shrinker)
{
#ifdef DMABRIDGE_HAVE_SHRINKER_ALLOC
	shrinker_free(shrinker);
#else
	unregister_shrinker(shrinker);
	kfree(shrinker);
#endif
}

/*
 * Adding a slab object to a list_lru of its memory cgroup and node:
 * list_lru_add() found both itself until 6.8, which named that
 * list_lru_add_obj() and gave list_lru_add() explicit ones.
 */
static inline void dmabridge_list_lru_add_obj(struct list_lru *lru,
					      struct list_head *item)
{
#ifdef DMABRIDGE_HAVE_LIST_LRU_ADD_OBJ
	list_lru_add_obj(lru, item);
#else
	list_lru_add(lru, item);
#endif
}

static inline void dmabridge_list_lru_del_obj(struct list_lru *lru,
					      struct list_head *item)
{
#ifdef DMABRIDGE_HAVE_LIST_LRU_ADD_OBJ
	list_lru_del_obj(lru, item);
#else
	list_lru_del(lru, item);
#endif
}

#endif /* _DMABRIDGE_COMPAT_H */
