// SPDX-License-Identifier: GPL-2.0
/*
 * The contiguous heap: physically contiguous buffers carved out of a
 * region of RAM that the kernel was told to leave alone at boot
 * (memmap=SIZE$ADDRESS), as ION's carveout heap did.
 *
 * The region gets struct pages with memremap_pages(), so its buffers are
 * ordinary page arrays to importers and to mmap.  genalloc hands out
 * page-aligned ranges first-fit and merges freed ranges with their free
 * neighbours, so alloc/free cycles leave no fragments behind beyond what
 * live buffers occupy.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/err.h>
#include <linux/genalloc.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include <dmabridge/pages.h>

#include "heap.h"

struct contiguous_region {
	struct dmabridge_heap heap;
	struct dev_pagemap pgmap;
	struct resource *claim;
	struct gen_pool *pool;
	void *vaddr;
	phys_addr_t start;
	u64 size;
};

static struct contiguous_region *heap_region(struct dmabridge_heap *heap)
{
	return container_of(heap, struct contiguous_region, heap);
}

struct contiguous_buffer {
	struct dmabridge_pages buf;
	/* The buffer is one run: the range it was given. */
	struct dmabridge_pages_run run;
	struct contiguous_region *region;
	unsigned long addr;
};

/* Serialises the parameter against module init and exit. */
static DEFINE_MUTEX(contiguous_lock);
static struct contiguous_region *contiguous;
static bool heaps_ready;
static phys_addr_t pending_start;
static u64 pending_size;

static void contiguous_release(struct dmabridge_pages *pages_buf)
{
	struct contiguous_buffer *buffer =
		container_of(pages_buf, struct contiguous_buffer, buf);
	struct contiguous_region *region = buffer->region;
	size_t len = buffer->buf.nr_pages << PAGE_SHIFT;

	gen_pool_free(region->pool, buffer->addr, len);
	dmabridge_heap_account(&region->heap, -1, -(s64)len);
	kfree(buffer);
}

static const struct dmabridge_pages_ops contiguous_buffer_ops = {
	.release = contiguous_release,
};

/*
 * The previous owner's bytes must not show.  A buffer may be as large as
 * the region: zero it in steps that let others run and its killer in.
 */
#define CONTIGUOUS_ZERO_STEP	SZ_2M

static int contiguous_zero(void *vaddr, size_t len)
{
	size_t done, n;

	for (done = 0; done < len; done += n) {
		if (fatal_signal_pending(current))
			return -EINTR;
		n = min_t(size_t, len - done, CONTIGUOUS_ZERO_STEP);
		memset(vaddr + done, 0, n);
		cond_resched();
	}
	return 0;
}

static struct dma_buf *contiguous_allocate(struct dmabridge_heap *heap,
					   size_t len, u32 fd_flags)
{
	struct contiguous_region *region = heap_region(heap);
	pgoff_t nr = len >> PAGE_SHIFT;
	struct contiguous_buffer *buffer;
	struct dma_buf *dmabuf;
	int ret = -ENOMEM;

	if (len > region->size)
		return ERR_PTR(-ENOMEM);
	buffer = kzalloc(sizeof(*buffer), GFP_KERNEL);
	if (!buffer)
		return ERR_PTR(-ENOMEM);
	buffer->addr = gen_pool_alloc(region->pool, len);
	if (!buffer->addr)
		goto err_buffer;

	ret = contiguous_zero(region->vaddr + (buffer->addr - region->start),
			      len);
	if (ret) {
		gen_pool_free(region->pool, buffer->addr, len);
		goto err_buffer;
	}
	buffer->buf.runs = &buffer->run;
	dmabridge_pages_add(&buffer->buf, pfn_to_page(PHYS_PFN(buffer->addr)),
			    nr);

	buffer->region = region;
	buffer->buf.file_mode = fd_flags & O_ACCMODE;
	buffer->buf.ops = &contiguous_buffer_ops;
	dmabuf = dmabridge_pages_export(&buffer->buf, THIS_MODULE, heap->name);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		gen_pool_free(region->pool, buffer->addr, len);
		goto err_buffer;
	}
	dmabridge_heap_account(heap, 1, len);
	return dmabuf;

err_buffer:
	kfree(buffer);
	return ERR_PTR(ret);
}

static ssize_t region_bytes_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct contiguous_region *region = heap_region(dev_get_drvdata(dev));

	return sysfs_emit(buf, "%llu\n", region->size);
}
static DEVICE_ATTR_RO(region_bytes);

static ssize_t free_bytes_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct contiguous_region *region = heap_region(dev_get_drvdata(dev));

	return sysfs_emit(buf, "%zu\n", gen_pool_avail(region->pool));
}
static DEVICE_ATTR_RO(free_bytes);

static struct attribute *contiguous_attrs[] = {
	&dev_attr_region_bytes.attr,
	&dev_attr_free_bytes.attr,
	NULL,
};

static const struct attribute_group contiguous_attr_group = {
	.attrs = contiguous_attrs,
};

static const struct dmabridge_heap_ops contiguous_heap_ops = {
	.allocate = contiguous_allocate,
};

static void contiguous_destroy(struct contiguous_region *region)
{
	if (region->pool)
		gen_pool_destroy(region->pool);
	if (region->vaddr)
		memunmap_pages(&region->pgmap);
	if (region->claim)
		release_mem_region(region->start, region->size);
	kfree(region);
}

/*
 * Reserved pieces come in address order, clipped to the range: each must
 * start where the range is not covered yet, or there is a gap.
 */
static int contiguous_cover(struct resource *res, void *arg)
{
	phys_addr_t *covered_to = arg;

	if (res->start > *covered_to)
		return -EINVAL;
	*covered_to = max_t(phys_addr_t, *covered_to, res->end + 1);
	return 0;
}

/*
 * Only a range marked reserved (which memmap=SIZE$ADDRESS does to RAM)
 * will do: System RAM belongs to the page allocator, and an address with
 * nothing behind it would give pages that read back garbage.  A reserved
 * range with device registers behind it passes these checks too: nothing
 * a module can read tells it from reserved RAM, so the administrator who
 * sets the parameter must give a range reserved with memmap=.
 */
static int contiguous_check_range(phys_addr_t start, u64 size)
{
	phys_addr_t covered_to = start;

	if (!size || !IS_ALIGNED(start, SUBSECTION_SIZE) ||
	    !IS_ALIGNED(size, SUBSECTION_SIZE) || start + size < start)
		return -EINVAL;
	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT)
		return -EINVAL;
	/*
	 * Reserved throughout: region_intersects() would also accept a range
	 * that is partly reserved and partly nothing at all.
	 */
	if (walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, start,
				start + size - 1, &covered_to,
				contiguous_cover) ||
	    covered_to < start + size)
		return -EINVAL;
	return 0;
}

static int contiguous_create(phys_addr_t start, u64 size)
{
	struct contiguous_region *region;
	int ret;

	ret = contiguous_check_range(start, size);
	if (ret)
		return ret;
	region = kzalloc(sizeof(*region), GFP_KERNEL);
	if (!region)
		return -ENOMEM;
	region->start = start;
	region->size = size;

	region->claim = request_mem_region(start, size, "dmabridge contiguous");
	if (!region->claim) {
		ret = -EBUSY;
		goto err;
	}

	region->pgmap.type = MEMORY_DEVICE_GENERIC;
	region->pgmap.range.start = start;
	region->pgmap.range.end = start + size - 1;
	region->pgmap.nr_range = 1;
	region->vaddr = memremap_pages(&region->pgmap, NUMA_NO_NODE);
	if (IS_ERR(region->vaddr)) {
		ret = PTR_ERR(region->vaddr);
		region->vaddr = NULL;
		goto err;
	}

	region->pool = gen_pool_create(PAGE_SHIFT, NUMA_NO_NODE);
	if (!region->pool) {
		ret = -ENOMEM;
		goto err;
	}
	ret = gen_pool_add(region->pool, start, size, NUMA_NO_NODE);
	if (ret)
		goto err;

	region->heap.ops = &contiguous_heap_ops;
	region->heap.extra_attrs = &contiguous_attr_group;
	strscpy(region->heap.name, "contiguous", sizeof(region->heap.name));
	ret = dmabridge_heap_add(&region->heap);
	if (ret)
		goto err;
	contiguous = region;
	return 0;

err:
	contiguous_destroy(region);
	return ret;
}

/* "SIZE@ADDRESS", memparse suffixes allowed: 64M@0x40000000. */
static int carveout_set(const char *val, const struct kernel_param *kp)
{
	phys_addr_t start;
	char *end;
	u64 size;
	int ret = 0;

	size = memparse(val, &end);
	if (*end != '@')
		return -EINVAL;
	start = memparse(end + 1, &end);
	if (*end && *end != '\n')
		return -EINVAL;

	mutex_lock(&contiguous_lock);
	if (contiguous || pending_size) {
		ret = -EBUSY;
	} else if (heaps_ready) {
		ret = contiguous_create(start, size);
	} else if (!size) {
		ret = -EINVAL;
	} else {
		pending_start = start;
		pending_size = size;
	}
	mutex_unlock(&contiguous_lock);
	return ret;
}

static int carveout_get(char *buffer, const struct kernel_param *kp)
{
	int len = 0;

	mutex_lock(&contiguous_lock);
	if (contiguous)
		len = sysfs_emit(buffer, "%llu@%pa\n", contiguous->size,
				 &contiguous->start);
	else
		len = sysfs_emit(buffer, "\n");
	mutex_unlock(&contiguous_lock);
	return len;
}

static const struct kernel_param_ops carveout_ops = {
	.set = carveout_set,
	.get = carveout_get,
};
module_param_cb(carveout, &carveout_ops, NULL, 0644);
MODULE_PARM_DESC(carveout,
		 "SIZE@ADDRESS of a reserved RAM region (memmap=SIZE$ADDRESS) for the contiguous heap; settable once");

/*
 * A carveout given at load time that cannot be used does not fail the
 * load: the system heaps' devices are live by now, and may have open
 * files and buffers that a failed load would leave pointing at freed
 * module memory.  It is reported, and the parameter can be written again.
 */
void dmabridge_contiguous_init(void)
{
	int ret;

	mutex_lock(&contiguous_lock);
	heaps_ready = true;
	if (pending_size) {
		ret = contiguous_create(pending_start, pending_size);
		if (ret)
			pr_err("carveout %llu@%pa: error %d, no contiguous heap\n",
			       pending_size, &pending_start, ret);
		pending_size = 0;
	}
	mutex_unlock(&contiguous_lock);
}

void dmabridge_contiguous_exit(void)
{
	mutex_lock(&contiguous_lock);
	heaps_ready = false;
	if (contiguous) {
		dmabridge_heap_remove(&contiguous->heap);
		contiguous_destroy(contiguous);
		contiguous = NULL;
	}
	mutex_unlock(&contiguous_lock);
}
