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
#include <linux/dma-buf.h>
#include <linux/err.h>
#include <linux/genalloc.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
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

	/* The previous owner's bytes must not show. */
	memset(region->vaddr + (buffer->addr - region->start), 0, len);
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
 * Only a range marked reserved (which memmap=SIZE$ADDRESS does to RAM)
 * will do: System RAM belongs to the page allocator, and an address with
 * nothing behind it would give pages that read back garbage.  A reserved
 * range with device registers behind it passes these checks too: nothing
 * a module can read tells it from reserved RAM, so the administrator who
 * sets the parameter must give a range reserved with memmap=.
 */
static int contiguous_check_range(phys_addr_t start, u64 size)
{
	if (!size || !IS_ALIGNED(start, SUBSECTION_SIZE) ||
	    !IS_ALIGNED(size, SUBSECTION_SIZE) || start + size < start)
		return -EINVAL;
	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT)
		return -EINVAL;
	if (region_intersects(start, size, IORESOURCE_MEM,
			      IORES_DESC_RESERVED) != REGION_INTERSECTS)
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

int dmabridge_contiguous_init(void)
{
	int ret = 0;

	mutex_lock(&contiguous_lock);
	heaps_ready = true;
	if (pending_size) {
		ret = contiguous_create(pending_start, pending_size);
		pending_size = 0;
	}
	mutex_unlock(&contiguous_lock);
	return ret;
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
