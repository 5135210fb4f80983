// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf operations for buffers made of struct pages.
 *
 * Each attachment gets its own sg table, because DMA addresses belong to
 * a device: an IOMMU or a bounce buffer (swiotlb) gives every device its
 * own view of the same pages.  CPU access therefore has to sync every
 * mapping that is live at that moment, which is why the attachments are
 * kept on a list.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <dmabridge/compat.h>
#include <dmabridge/pages.h>

struct dmabridge_attachment {
	struct device *dev;
	struct sg_table sgt;
	struct list_head node;
	enum dma_data_direction dir;	/* of the live mapping */
	bool mapped;
};

/*
 * The longest sg segment this device can take in one piece.  A bounce
 * buffer (swiotlb) cannot map more than dma_max_mapping_size() at once,
 * and a device without DMA parameters promises only 64 KiB segments.
 */
static unsigned int dmabridge_max_segment(struct device *dev)
{
	size_t seg = min_t(size_t, dma_max_mapping_size(dev),
			   dma_get_max_seg_size(dev));

	seg = min_t(size_t, seg, UINT_MAX);
	return max_t(size_t, round_down(seg, PAGE_SIZE), PAGE_SIZE);
}

void dmabridge_pages_add(struct dmabridge_pages *buf, struct page *page,
			 pgoff_t nr)
{
	const struct dmabridge_pages_run *last;

	if (buf->nr_runs) {
		last = &buf->runs[buf->nr_runs - 1];
		if (page_to_pfn(page) == page_to_pfn(last->page) +
					 (buf->nr_pages - last->offset)) {
			buf->nr_pages += nr;
			return;
		}
	}
	buf->runs[buf->nr_runs++] = (struct dmabridge_pages_run){
		.page = page, .offset = buf->nr_pages,
	};
	buf->nr_pages += nr;
}
EXPORT_SYMBOL_GPL(dmabridge_pages_add);

/* The run that holds page @pgoff of the buffer (which has it). */
static const struct dmabridge_pages_run *
dmabridge_pages_find(const struct dmabridge_pages *buf, pgoff_t pgoff)
{
	unsigned long lo = 0, hi = buf->nr_runs - 1;

	while (lo < hi) {
		unsigned long mid = lo + (hi - lo + 1) / 2;

		if (buf->runs[mid].offset <= pgoff)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &buf->runs[lo];
}

/*
 * How many of the @left pages from @page one sg entry may take: at most
 * @seg_pages, and none past the device's segment boundary, which
 * dma-direct does not split at (runs of hugetlb folios or heap chunks
 * can cross one).
 */
static pgoff_t dmabridge_piece_pages(struct page *page, pgoff_t left,
				     pgoff_t seg_pages, unsigned long boundary)
{
	unsigned long off = page_to_phys(page) & boundary;

	return min3(left, seg_pages, ((boundary - off) >> PAGE_SHIFT) + 1);
}

/*
 * The runs as sg entries for @dev, into @sg (or only counted, with @sg
 * NULL): one per run, or per piece of a run that is longer than the
 * device's largest segment or crosses its segment boundary.
 */
static unsigned int dmabridge_pages_fill_sg(struct dmabridge_pages *buf,
					    struct device *dev,
					    struct scatterlist *sg)
{
	pgoff_t seg_pages = dmabridge_max_segment(dev) >> PAGE_SHIFT;
	unsigned long boundary = dma_get_seg_boundary(dev);
	unsigned int nents = 0;
	unsigned long i;

	for (i = 0; i < buf->nr_runs; i++) {
		pgoff_t done, n, len = dmabridge_run_pages(buf, i);

		for (done = 0; done < len; done += n) {
			struct page *page = nth_page(buf->runs[i].page, done);

			n = dmabridge_piece_pages(page, len - done, seg_pages,
						  boundary);
			nents++;
			if (sg) {
				sg_set_page(sg, page, n << PAGE_SHIFT, 0);
				sg = sg_next(sg);
			}
		}
	}
	return nents;
}

static int dmabridge_pages_sgt(struct dmabridge_pages *buf,
			       struct sg_table *sgt, struct device *dev)
{
	int ret;

	ret = sg_alloc_table(sgt, dmabridge_pages_fill_sg(buf, dev, NULL),
			     GFP_KERNEL);
	if (ret)
		return ret;
	dmabridge_pages_fill_sg(buf, dev, sgt->sgl);
	return 0;
}

static int dmabridge_pages_attach(struct dma_buf *dmabuf,
				  struct dma_buf_attachment *attachment)
{
	struct dmabridge_pages *buf = dmabuf->priv;
	struct dmabridge_attachment *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;

	ret = dmabridge_pages_sgt(buf, &a->sgt, attachment->dev);
	if (ret) {
		kfree(a);
		return ret;
	}

	a->dev = attachment->dev;
	attachment->priv = a;

	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void dmabridge_pages_detach(struct dma_buf *dmabuf,
				   struct dma_buf_attachment *attachment)
{
	struct dmabridge_pages *buf = dmabuf->priv;
	struct dmabridge_attachment *a = attachment->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	/* An importer that detaches without unmapping must not leak it. */
	if (a->mapped)
		dma_unmap_sgtable(a->dev, &a->sgt, a->dir, 0);
	mutex_unlock(&buf->lock);

	sg_free_table(&a->sgt);
	kfree(a);
}

static struct sg_table *
dmabridge_pages_map(struct dma_buf_attachment *attachment,
		    enum dma_data_direction dir)
{
	struct dmabridge_pages *buf = attachment->dmabuf->priv;
	struct dmabridge_attachment *a = attachment->priv;
	int ret;

	/*
	 * A read-only buffer is mapped only for a device to read.  An
	 * importer that asks for more (DMA_BIDIRECTIONAL, as DRM's PRIME
	 * import does) may program its device to write, and without an IOMMU
	 * nothing would stop those writes: it is refused, not quietly given
	 * less than it asked for.
	 */
	if (buf->read_only && dir != DMA_TO_DEVICE)
		return ERR_PTR(-EPERM);

	mutex_lock(&buf->lock);
	if (a->mapped) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/* Without DMA_ATTR_SKIP_CPU_SYNC: the device must see what the CPU wrote. */
	ret = dma_map_sgtable(a->dev, &a->sgt, dir, 0);
	if (ret)
		goto out_unlock;
	a->dir = dir;
	a->mapped = true;
out_unlock:
	mutex_unlock(&buf->lock);
	return ret ? ERR_PTR(ret) : &a->sgt;
}

static void dmabridge_pages_unmap(struct dma_buf_attachment *attachment,
				  struct sg_table *sgt,
				  enum dma_data_direction dir)
{
	struct dmabridge_pages *buf = attachment->dmabuf->priv;
	struct dmabridge_attachment *a = attachment->priv;

	mutex_lock(&buf->lock);
	dma_unmap_sgtable(a->dev, &a->sgt, a->dir, 0);
	a->mapped = false;
	mutex_unlock(&buf->lock);
}

/*
 * The DMA API wants syncs in the direction the mapping was made in, which
 * for a read-only buffer is not the one the importer asked for.
 */
static int dmabridge_pages_begin_cpu_access(struct dma_buf *dmabuf,
					    enum dma_data_direction dir)
{
	struct dmabridge_pages *buf = dmabuf->priv;
	struct dmabridge_attachment *a;

	mutex_lock(&buf->lock);
	if (buf->vaddr)
		invalidate_kernel_vmap_range(buf->vaddr, dmabuf->size);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, a->dir);
	mutex_unlock(&buf->lock);
	return 0;
}

static int dmabridge_pages_end_cpu_access(struct dma_buf *dmabuf,
					  enum dma_data_direction dir)
{
	struct dmabridge_pages *buf = dmabuf->priv;
	struct dmabridge_attachment *a;

	mutex_lock(&buf->lock);
	if (buf->vaddr)
		flush_kernel_vmap_range(buf->vaddr, dmabuf->size);
	list_for_each_entry(a, &buf->attachments, node)
		if (a->mapped)
			dma_sync_sgtable_for_device(a->dev, &a->sgt, a->dir);
	mutex_unlock(&buf->lock);
	return 0;
}

/*
 * mmap populates every page table entry, so a fault only comes if the
 * kernel zapped some (madvise() refuses PFN mappings): rare enough for a
 * search of the runs.
 */
static vm_fault_t dmabridge_pages_fault(struct vm_fault *vmf)
{
	struct dmabridge_pages *buf = vmf->vma->vm_private_data;
	const struct dmabridge_pages_run *run;

	if (vmf->pgoff >= buf->nr_pages)
		return VM_FAULT_SIGBUS;
	run = dmabridge_pages_find(buf, vmf->pgoff);
	return vmf_insert_pfn(vmf->vma, vmf->address,
			      page_to_pfn(run->page) +
			      (vmf->pgoff - run->offset));
}

static const struct vm_operations_struct dmabridge_pages_vm_ops = {
	.fault = dmabridge_pages_fault,
};

/*
 * The pages are pinned and present, so the whole mapping is filled in at
 * once, one remap per run: cheaper than a fault per page, and what
 * upstream's system heap does.  The caller (dma_buf_mmap) has checked that
 * the mapping lies inside the buffer.
 */
static int dmabridge_pages_populate(struct dmabridge_pages *buf,
				    struct vm_area_struct *vma)
{
	pgoff_t pgoff = vma->vm_pgoff, end = pgoff + vma_pages(vma);
	const struct dmabridge_pages_run *run;
	unsigned long addr = vma->vm_start;
	int ret;

	for (run = dmabridge_pages_find(buf, pgoff); pgoff < end; run++) {
		pgoff_t skip = pgoff - run->offset;
		pgoff_t n = min(dmabridge_run_pages(buf, run - buf->runs) - skip,
				end - pgoff);

		ret = remap_pfn_range(vma, addr, page_to_pfn(run->page) + skip,
				      n << PAGE_SHIFT, vma->vm_page_prot);
		if (ret)
			return ret;
		addr += n << PAGE_SHIFT;
		pgoff += n;
		cond_resched();
	}
	return 0;
}

static int dmabridge_pages_mmap(struct dma_buf *dmabuf,
				struct vm_area_struct *vma)
{
	struct dmabridge_pages *buf = dmabuf->priv;

	/*
	 * A private mapping would need copy-on-write of pages we don't own.
	 * A shared mapping of a read-only file has only VM_MAYSHARE.
	 */
	if (!(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return -EINVAL;
	/* The file is read-only too, so the VFS already refused this. */
	if (buf->read_only && (vma->vm_flags & VM_WRITE))
		return -EACCES;
	if (buf->read_only)
		vm_flags_clear(vma, VM_MAYWRITE);

	if (buf->write_combine)
		vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
	vma->vm_ops = &dmabridge_pages_vm_ops;
	vma->vm_private_data = buf;
	vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	return dmabridge_pages_populate(buf, vma);
}

static int dmabridge_pages_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct dmabridge_pages *buf = dmabuf->priv;
	pgprot_t prot = PAGE_KERNEL;
	struct page **pages;
	unsigned long i;
	pgoff_t n = 0;
	void *vaddr;

	if (buf->write_combine)
		prot = pgprot_writecombine(prot);

	/* vmap() wants a page per entry, but only while it maps them. */
	pages = kvmalloc_array(buf->nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < buf->nr_runs; i++) {
		pgoff_t j, len = dmabridge_run_pages(buf, i);

		for (j = 0; j < len; j++)
			pages[n++] = nth_page(buf->runs[i].page, j);
	}
	vaddr = vmap(pages, n, VM_MAP, prot);
	kvfree(pages);
	if (!vaddr)
		return -ENOMEM;

	mutex_lock(&buf->lock);
	buf->vaddr = vaddr;
	mutex_unlock(&buf->lock);

	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void dmabridge_pages_vunmap(struct dma_buf *dmabuf,
				   struct iosys_map *map)
{
	struct dmabridge_pages *buf = dmabuf->priv;

	mutex_lock(&buf->lock);
	buf->vaddr = NULL;
	mutex_unlock(&buf->lock);

	vunmap(map->vaddr);
}

static void dmabridge_pages_release(struct dma_buf *dmabuf)
{
	struct dmabridge_pages *buf = dmabuf->priv;

	mutex_destroy(&buf->lock);
	buf->ops->release(buf);
}

static const struct dma_buf_ops dmabridge_pages_dma_buf_ops = {
	.attach = dmabridge_pages_attach,
	.detach = dmabridge_pages_detach,
	.map_dma_buf = dmabridge_pages_map,
	.unmap_dma_buf = dmabridge_pages_unmap,
	.begin_cpu_access = dmabridge_pages_begin_cpu_access,
	.end_cpu_access = dmabridge_pages_end_cpu_access,
	.mmap = dmabridge_pages_mmap,
	.vmap = dmabridge_pages_vmap,
	.vunmap = dmabridge_pages_vunmap,
	.release = dmabridge_pages_release,
};

/*
 * A read-only buffer has no vmap: a vmap has no direction, and kernel
 * importers write through it (videobuf2's vmalloc capture queues), so a
 * read-only one would oops them and a writable one would let them write.
 * Without the op dma_buf_vmap() fails with EINVAL; an op that failed
 * would trip a warning in the dma-buf core.
 */
static const struct dma_buf_ops dmabridge_pages_read_only_dma_buf_ops = {
	.attach = dmabridge_pages_attach,
	.detach = dmabridge_pages_detach,
	.map_dma_buf = dmabridge_pages_map,
	.unmap_dma_buf = dmabridge_pages_unmap,
	.begin_cpu_access = dmabridge_pages_begin_cpu_access,
	.end_cpu_access = dmabridge_pages_end_cpu_access,
	.mmap = dmabridge_pages_mmap,
	.release = dmabridge_pages_release,
};

struct dma_buf *dmabridge_pages_export(struct dmabridge_pages *buf,
				       struct module *owner,
				       const char *exp_name)
{
	struct dma_buf_export_info exp_info = {
		.exp_name = exp_name,
		.owner = owner,
		.ops = buf->read_only ? &dmabridge_pages_read_only_dma_buf_ops :
					&dmabridge_pages_dma_buf_ops,
		.size = (size_t)buf->nr_pages << PAGE_SHIFT,
		/* A read-only file is what makes the VFS refuse PROT_WRITE. */
		.flags = buf->read_only ? O_RDONLY : buf->file_mode & O_ACCMODE,
		.priv = buf,
	};
	struct dma_buf *dmabuf;

	/* sg tables count pages in an unsigned int. */
	if (!buf->nr_pages || buf->nr_pages > UINT_MAX || !buf->nr_runs ||
	    buf->runs[0].offset)
		return ERR_PTR(-EINVAL);

	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	buf->vaddr = NULL;

	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf))
		mutex_destroy(&buf->lock);
	return dmabuf;
}
EXPORT_SYMBOL_GPL(dmabridge_pages_export);

int dmabridge_dma_buf_fd_to_user(struct dma_buf *dmabuf, u32 fd_flags,
				 void __user *uarg, const void *karg,
				 size_t size, u32 *fd_out)
{
	int fd = get_unused_fd_flags(fd_flags);

	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	*fd_out = fd;
	if (copy_to_user(uarg, karg, size)) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return -EFAULT;
	}
	fd_install(fd, dmabuf->file);
	return 0;
}
EXPORT_SYMBOL_GPL(dmabridge_dma_buf_fd_to_user);
