// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/xen/gntdev-dmabuf: upstream's gntdev dma-buf ioctls ('G' 9 to 12,
 * include/uapi/xen/gntdev.h) for kernels built without
 * CONFIG_XEN_GNTDEV_DMABUF.  They live inside xen-gntdev upstream, which a
 * module cannot extend, hence a node of our own.
 *
 * Export maps a peer's grants into pages from the grant-table allocator,
 * the way the block and network backends do, so that it also works in x86
 * PV domains, where upstream refuses.  In PV the page's p2m entry then
 * names the peer's frame, which gives importers correct DMA addresses, but
 * no ordinary PTE may point at a frame of another domain: every CPU
 * mapping other than the linear one is a grant mapping of its own.
 *
 * Import grants the pages behind any dma-buf (the importer's sg table, as
 * upstream does) to a domain.  On release the import keeps the dma-buf,
 * mapped, until the peer has unmapped every page and each grant has
 * ended: only then may the exporter free or reuse the pages, which many
 * do without looking at page references (page pools, carveouts), so
 * handing a page reference to the grant-table core (XSA-396's scheme)
 * would not protect them.
 *
 * The MAP ioctls, grants behind someone else's dma-buf, are in
 * map_refs.c (and map_pv.c for x86 PV).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/iosys-map.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/xen.h>
#include <xen/interface/grant_table.h>
#include <asm/xen/hypercall.h>
#include <asm/xen/page.h>
#include <uapi/xen/gntdev.h>
#include <uapi/dmabridge/gntdev_map.h>

#include <dmabridge/compat.h>
#include <dmabridge/version.h>

#include "gntdev_dmabuf.h"

unsigned int gdb_max_pages = 65536;
module_param_named(max_pages, gdb_max_pages, uint, 0644);
MODULE_PARM_DESC(max_pages, "Most grant refs in one ioctl (default 65536)");

#define GDB_DMA_FLAGS (GNTDEV_DMA_FLAG_WC | GNTDEV_DMA_FLAG_COHERENT)

/*
 * One lock for every list: the lists are short, and a buffer outlives the
 * file that exported it, so a per-file lock would not be around to take.
 */
DEFINE_MUTEX(gdb_lock);

/* A peer's grants mapped into local pages and exported as a dma-buf. */
struct gdb_exp {
	struct gdb_waitable w;		/* on gdb_file.exports */
	struct dma_buf *dmabuf;
	domid_t domid;
	bool read_only;
	unsigned int count;
	u32 *refs;
	struct page **pages;
	grant_handle_t *handles;

	struct mutex lock;		/* attachments, vmap */
	struct list_head attachments;
	/* PV: the kernel mapping of vmap, grant-mapped PTE by PTE. */
	void *vaddr;
	unsigned int vmap_count;
	grant_handle_t *vmap_handles;
	phys_addr_t *vmap_ptes;
};

struct gdb_attachment {
	struct device *dev;
	struct sg_table sgt;
	struct list_head node;
	enum dma_data_direction dir;
	bool mapped;
};

/* The pages of a dma-buf granted to a domain. */
struct gdb_imp {
	struct list_head node;
	/* The descriptor number it was imported from: IMP_RELEASE's key. */
	int fd;
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	/* How many of @refs are granted; released, how many are left. */
	unsigned int granted;
	grant_ref_t *refs;
	/* Retries ending the grants the peer still maps. */
	struct delayed_work end_work;
	unsigned int retry_ms;
};

/*
 * Releases that wait in the background, with the module in use: an
 * import's for its peer to unmap, a MAP's for the buffer's fences.
 * Unbound, for a MAP release may block in a fence wait indefinitely.
 */
struct workqueue_struct *gdb_release_wq;

atomic_long_t gdb_counts[GDB_NR_COUNTS];

static const char *const gdb_count_names[GDB_NR_COUNTS] = {
	[GDB_EXPORT_MAPS] = "export_maps",
	[GDB_VMAP_MAPS] = "vmap_maps",
	[GDB_IMPORT_GRANTS] = "import_grants",
	[GDB_HELD_PAGES] = "held_pages",
};

static int gdb_objects_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < GDB_NR_COUNTS; i++)
		seq_printf(m, "%s %ld\n", gdb_count_names[i],
			   atomic_long_read(&gdb_counts[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gdb_objects);

static struct dentry *gdb_debugfs;

/* Grant-table status codes as errno, for the ones a caller can cause. */
int gdb_status_errno(s16 status)
{
	switch (status) {
	case GNTST_okay:
		return 0;
	case GNTST_bad_domain:
	case GNTST_bad_gntref:
	case GNTST_bad_handle:
		return -ENOENT;
	case GNTST_permission_denied:
	case GNTST_general_error:
		return -EPERM;
	case GNTST_no_device_space:
		return -ENOSPC;
	case GNTST_eagain:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

void gdb_waitable_init(struct gdb_waitable *w, void (*free)(struct kref *))
{
	kref_init(&w->kref);
	INIT_LIST_HEAD(&w->node);
	init_completion(&w->released);
	w->free = free;
}

/*
 * EXP_WAIT_RELEASED and MAP_WAIT_RELEASED: the same struct, and the same
 * wait for something on one of the file's lists: 0 once released,
 * -ETIMEDOUT, -EINTR, or -ENOENT when nothing by that fd is listed.
 */
long gdb_wait_released(struct list_head *list, void __user *uarg)
{
	struct ioctl_gntdev_dmabuf_exp_wait_released op;
	struct gdb_waitable *w, *found = NULL;
	long left;

	BUILD_BUG_ON(sizeof(op) !=
		     sizeof(struct ioctl_gntdev_dmabuf_map_wait_released));
	BUILD_BUG_ON(offsetof(typeof(op), wait_to_ms) !=
		     offsetof(struct ioctl_gntdev_dmabuf_map_wait_released,
			      wait_to_ms));
	if (copy_from_user(&op, uarg, sizeof(op)))
		return -EFAULT;
	/* As upstream: no buffer has that number. */
	if (op.fd > INT_MAX)
		return -ENOENT;

	mutex_lock(&gdb_lock);
	list_for_each_entry(w, list, node) {
		if (w->fd == op.fd) {
			found = w;
			kref_get(&found->kref);
			break;
		}
	}
	mutex_unlock(&gdb_lock);
	if (!found)
		return -ENOENT;

	left = wait_for_completion_interruptible_timeout(&found->released,
							 msecs_to_jiffies(op.wait_to_ms));
	if (left >= 0)
		left = completion_done(&found->released) || left ? 0 : -ETIMEDOUT;
	kref_put(&found->kref, found->free);
	return left;
}

/* ---- export: the dma-buf side --------------------------------------- */

static void gdb_exp_free(struct kref *kref)
{
	struct gdb_exp *exp = container_of(kref, struct gdb_exp, w.kref);

	mutex_destroy(&exp->lock);
	kfree(exp);
}

static int gdb_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *at)
{
	struct gdb_exp *exp = dmabuf->priv;
	struct gdb_attachment *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	/*
	 * Where the guest's frames are not the machine's (PV), pages whose
	 * pfns are neighbours are not neighbours where DMA goes: an entry
	 * per page, or xen-swiotlb bounces every merged segment and refuses
	 * those longer than it can bounce.
	 */
	ret = sg_alloc_table_from_pages_segment(&a->sgt, exp->pages, exp->count,
						0, (size_t)exp->count << PAGE_SHIFT,
						xen_feature(XENFEAT_auto_translated_physmap) ?
						UINT_MAX & PAGE_MASK : PAGE_SIZE,
						GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = at->dev;
	at->priv = a;
	mutex_lock(&exp->lock);
	list_add(&a->node, &exp->attachments);
	mutex_unlock(&exp->lock);
	return 0;
}

static void gdb_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *at)
{
	struct gdb_exp *exp = dmabuf->priv;
	struct gdb_attachment *a = at->priv;

	mutex_lock(&exp->lock);
	list_del(&a->node);
	mutex_unlock(&exp->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

static struct sg_table *gdb_map(struct dma_buf_attachment *at,
				enum dma_data_direction dir)
{
	struct gdb_exp *exp = at->dmabuf->priv;
	struct gdb_attachment *a = at->priv;
	int ret;

	/*
	 * The peer granted read-only: only a device that reads may map it,
	 * for the reasons dmabridge_pages_map() gives.
	 */
	if (exp->read_only && dir != DMA_TO_DEVICE)
		return ERR_PTR(-EPERM);
	mutex_lock(&exp->lock);
	if (a->mapped) {
		ret = -EBUSY;
	} else {
		ret = dma_map_sgtable(a->dev, &a->sgt, dir, 0);
		if (!ret) {
			a->dir = dir;
			a->mapped = true;
		}
	}
	mutex_unlock(&exp->lock);
	return ret ? ERR_PTR(ret) : &a->sgt;
}

static void gdb_unmap(struct dma_buf_attachment *at, struct sg_table *sgt,
		      enum dma_data_direction dir)
{
	struct gdb_exp *exp = at->dmabuf->priv;
	struct gdb_attachment *a = at->priv;

	mutex_lock(&exp->lock);
	dma_unmap_sgtable(a->dev, &a->sgt, a->dir, 0);
	a->mapped = false;
	mutex_unlock(&exp->lock);
}

/* Every device mapping, each in its own direction, for the CPU or back. */
static void gdb_sync_mapped(struct gdb_exp *exp, bool for_cpu)
{
	struct gdb_attachment *a;

	mutex_lock(&exp->lock);
	list_for_each_entry(a, &exp->attachments, node) {
		if (!a->mapped)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, a->dir);
		else
			dma_sync_sgtable_for_device(a->dev, &a->sgt, a->dir);
	}
	mutex_unlock(&exp->lock);
}

static int gdb_begin_cpu_access(struct dma_buf *dmabuf,
				enum dma_data_direction dir)
{
	gdb_sync_mapped(dmabuf->priv, true);
	return 0;
}

static int gdb_end_cpu_access(struct dma_buf *dmabuf,
			      enum dma_data_direction dir)
{
	gdb_sync_mapped(dmabuf->priv, false);
	return 0;
}

static int gdb_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct gdb_exp *exp = dmabuf->priv;

	/*
	 * A PV user mapping would need grant-mapped PTEs torn down before
	 * the kernel zaps them (Xen kills a domain that clears one by hand),
	 * which is xen-gntdev's job: map the refs there for a CPU view.
	 */
	if (!xen_feature(XENFEAT_auto_translated_physmap))
		return -EOPNOTSUPP;
	if (!(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return -EINVAL;
	if (exp->read_only && (vma->vm_flags & VM_WRITE))
		return -EACCES;
	if (exp->read_only)
		vm_flags_clear(vma, VM_MAYWRITE);
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	/* From the caller's vm_pgoff on, which the dma-buf core checked. */
	return vm_map_pages(vma, exp->pages, exp->count);
}

static void gdb_pv_vunmap_grants(struct gdb_exp *exp, unsigned int n)
{
	struct gnttab_unmap_grant_ref *ops;
	unsigned int i;

	ops = kvcalloc(n, sizeof(*ops), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < n; i++)
		gnttab_set_unmap_op(&ops[i], exp->vmap_ptes[i],
				    GNTMAP_host_map | GNTMAP_contains_pte,
				    exp->vmap_handles[i]);
	if (HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, ops, n))
		pr_err("unmapping a vmap failed\n");
	atomic_long_sub(n, &gdb_counts[GDB_VMAP_MAPS]);
	for (i = 0; i < n; i++)
		if (ops[i].status != GNTST_okay)
			pr_err("vmap unmap of ref %u: %d\n",
			       exp->refs[i], ops[i].status);
	kvfree(ops);
}

/*
 * PV: vmap() the zero page count times for a range of kernel PTEs, then
 * let Xen replace each with a grant mapping of the peer's frame
 * (GNTMAP_contains_pte), as xenbus maps rings.  The grant unmap clears
 * the PTEs again before vunmap() takes the range back.
 */
static void *gdb_pv_vmap(struct gdb_exp *exp)
{
	struct gnttab_map_grant_ref *ops = NULL;
	struct page **zero;
	unsigned int i, mapped = 0;
	u32 flags = GNTMAP_host_map | GNTMAP_contains_pte;
	void *vaddr;
	int ret = -ENOMEM;

	zero = kvmalloc_array(exp->count, sizeof(*zero), GFP_KERNEL);
	exp->vmap_ptes = kvcalloc(exp->count, sizeof(*exp->vmap_ptes),
				  GFP_KERNEL);
	exp->vmap_handles = kvcalloc(exp->count, sizeof(*exp->vmap_handles),
				     GFP_KERNEL);
	ops = kvcalloc(exp->count, sizeof(*ops), GFP_KERNEL);
	if (!zero || !exp->vmap_ptes || !exp->vmap_handles || !ops)
		goto err;
	for (i = 0; i < exp->count; i++)
		zero[i] = ZERO_PAGE(0);
	vaddr = vmap(zero, exp->count, VM_MAP, PAGE_KERNEL_RO);
	if (!vaddr)
		goto err;
	for (i = 0; i < exp->count; i++) {
		unsigned int level;
		pte_t *pte = lookup_address((unsigned long)vaddr +
					    ((unsigned long)i << PAGE_SHIFT),
					    &level);

		ret = -EFAULT;
		if (!pte || level != PG_LEVEL_4K)
			goto err_vunmap;
		exp->vmap_ptes[i] = arbitrary_virt_to_machine(pte).maddr;
		gnttab_set_map_op(&ops[i], exp->vmap_ptes[i], flags,
				  exp->refs[i], exp->domid);
	}
	ret = -EIO;
	if (HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, ops, exp->count))
		goto err_vunmap;
	ret = 0;
	for (i = 0; i < exp->count; i++) {
		if (ops[i].status == GNTST_okay) {
			exp->vmap_handles[mapped++] = ops[i].handle;
			continue;
		}
		ret = gdb_status_errno(ops[i].status);
		break;
	}
	if (ret) {
		/* Successes may follow the failure: unmap exactly those. */
		for (mapped = 0, i = 0; i < exp->count; i++) {
			if (ops[i].status != GNTST_okay)
				continue;
			exp->vmap_ptes[mapped] = exp->vmap_ptes[i];
			exp->vmap_handles[mapped++] = ops[i].handle;
		}
		atomic_long_add(mapped, &gdb_counts[GDB_VMAP_MAPS]);
		if (mapped)
			gdb_pv_vunmap_grants(exp, mapped);
		goto err_vunmap;
	}
	atomic_long_add(exp->count, &gdb_counts[GDB_VMAP_MAPS]);
	kvfree(ops);
	kvfree(zero);
	return vaddr;

err_vunmap:
	vunmap(vaddr);
err:
	kvfree(ops);
	kvfree(zero);
	kvfree(exp->vmap_ptes);
	kvfree(exp->vmap_handles);
	exp->vmap_ptes = NULL;
	exp->vmap_handles = NULL;
	return ERR_PTR(ret);
}

static int gdb_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct gdb_exp *exp = dmabuf->priv;
	void *vaddr;
	int ret = 0;

	mutex_lock(&exp->lock);
	if (exp->vmap_count) {
		exp->vmap_count++;
		iosys_map_set_vaddr(map, exp->vaddr);
		goto out;
	}
	if (xen_feature(XENFEAT_auto_translated_physmap))
		vaddr = vmap(exp->pages, exp->count, VM_MAP, PAGE_KERNEL);
	else
		vaddr = gdb_pv_vmap(exp);
	if (IS_ERR_OR_NULL(vaddr)) {
		ret = vaddr ? PTR_ERR(vaddr) : -ENOMEM;
		goto out;
	}
	exp->vaddr = vaddr;
	exp->vmap_count = 1;
	iosys_map_set_vaddr(map, vaddr);
out:
	mutex_unlock(&exp->lock);
	return ret;
}

static void gdb_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct gdb_exp *exp = dmabuf->priv;

	mutex_lock(&exp->lock);
	if (WARN_ON(!exp->vmap_count) || --exp->vmap_count)
		goto out;
	if (!xen_feature(XENFEAT_auto_translated_physmap)) {
		gdb_pv_vunmap_grants(exp, exp->count);
		kvfree(exp->vmap_ptes);
		kvfree(exp->vmap_handles);
		exp->vmap_ptes = NULL;
		exp->vmap_handles = NULL;
	}
	vunmap(exp->vaddr);
	exp->vaddr = NULL;
out:
	mutex_unlock(&exp->lock);
}

/* Unmaps the first n grants of exp from its pages. */
static void gdb_exp_unmap_grants(struct gdb_exp *exp, unsigned int n)
{
	struct gnttab_unmap_grant_ref *ops;
	struct gntab_unmap_queue_data q;
	unsigned int i;
	int ret;

	if (!n)
		return;
	ops = kvcalloc(n, sizeof(*ops), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < n; i++)
		gnttab_set_unmap_op(&ops[i], gdb_kaddr(exp->pages[i]),
				    GNTMAP_host_map |
				    (exp->read_only ? GNTMAP_readonly : 0),
				    exp->handles[i]);
	q.unmap_ops = ops;
	q.kunmap_ops = NULL;
	q.pages = exp->pages;
	q.count = n;
	/* Waits for anything that still holds one of the pages. */
	ret = gnttab_unmap_refs_sync(&q);
	if (ret)
		pr_err("unmapping grants of domain %u: %d\n",
		       exp->domid, ret);
	atomic_long_sub(n, &gdb_counts[GDB_EXPORT_MAPS]);
	kvfree(ops);
}

static void gdb_exp_release(struct dma_buf *dmabuf)
{
	struct gdb_exp *exp = dmabuf->priv;

	gdb_exp_unmap_grants(exp, exp->count);
	gnttab_free_pages(exp->count, exp->pages);
	kvfree(exp->pages);
	kvfree(exp->handles);
	kvfree(exp->refs);

	/*
	 * Completed under the lock: gdb_exp_from_refs() tests the completion
	 * under it to decide whether to put exp on the list, which it must
	 * not do once this has taken it off (or found it not there yet).
	 */
	mutex_lock(&gdb_lock);
	if (!list_empty(&exp->w.node))
		list_del_init(&exp->w.node);
	complete_all(&exp->w.released);
	mutex_unlock(&gdb_lock);
	kref_put(&exp->w.kref, gdb_exp_free);
}

static const struct dma_buf_ops gdb_dma_buf_ops = {
	.attach = gdb_attach,
	.detach = gdb_detach,
	.map_dma_buf = gdb_map,
	.unmap_dma_buf = gdb_unmap,
	.begin_cpu_access = gdb_begin_cpu_access,
	.end_cpu_access = gdb_end_cpu_access,
	.mmap = gdb_mmap,
	.vmap = gdb_vmap,
	.vunmap = gdb_vunmap,
	.release = gdb_exp_release,
};

static const struct dma_buf_ops gdb_read_only_dma_buf_ops = {
	.attach = gdb_attach,
	.detach = gdb_detach,
	.map_dma_buf = gdb_map,
	.unmap_dma_buf = gdb_unmap,
	.begin_cpu_access = gdb_begin_cpu_access,
	.end_cpu_access = gdb_end_cpu_access,
	.mmap = gdb_mmap,
	.release = gdb_exp_release,
};

/* Maps exp's refs into its pages; read_only picks the mapping's access. */
static int gdb_exp_map_grants(struct gdb_exp *exp)
{
	struct gnttab_map_grant_ref *ops;
	unsigned int i, mapped;
	int ret = 0;

	ops = kvcalloc(exp->count, sizeof(*ops), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < exp->count; i++)
		gnttab_set_map_op(&ops[i], gdb_kaddr(exp->pages[i]),
				  GNTMAP_host_map |
				  (exp->read_only ? GNTMAP_readonly : 0),
				  exp->refs[i], exp->domid);
	ret = gnttab_map_refs(ops, NULL, exp->pages, exp->count);
	if (ret)
		goto out;
	for (i = 0; i < exp->count; i++) {
		exp->handles[i] = ops[i].handle;
		if (!ret && ops[i].status != GNTST_okay)
			ret = gdb_status_errno(ops[i].status);
	}
	if (ret) {
		/* gnttab_unmap_refs wants the successes only, in order. */
		struct page **pages = exp->pages;

		for (mapped = 0, i = 0; i < exp->count; i++) {
			if (ops[i].status != GNTST_okay)
				continue;
			swap(pages[mapped], pages[i]);
			exp->handles[mapped++] = ops[i].handle;
		}
		atomic_long_add(mapped, &gdb_counts[GDB_EXPORT_MAPS]);
		gdb_exp_unmap_grants(exp, mapped);
	} else {
		atomic_long_add(exp->count, &gdb_counts[GDB_EXPORT_MAPS]);
	}
out:
	kvfree(ops);
	return ret;
}

static long gdb_exp_from_refs(struct gdb_file *file, void __user *uarg)
{
	struct ioctl_gntdev_dmabuf_exp_from_refs op;
	struct ioctl_gntdev_dmabuf_exp_from_refs __user *u = uarg;
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct gdb_exp *exp;
	int ret, fd;

	if (copy_from_user(&op, u, offsetof(typeof(op), refs)))
		return -EFAULT;
	if (op.flags & ~GDB_DMA_FLAGS)
		return -EINVAL;
	if ((op.flags & GDB_DMA_FLAGS) == GDB_DMA_FLAGS)
		return -EINVAL;
	if (!op.count || op.count > gdb_max_pages || !gdb_valid_domid(op.domid))
		return -EINVAL;
	/*
	 * Upstream backs such buffers with gnttab_dma_alloc_pages(), which
	 * Debian's kernels neither build (XEN_GRANT_DMA_ALLOC is off) nor
	 * export, and in a PV domain a peer's frames are never contiguous
	 * in machine memory anyway.
	 */
	if (op.flags & GDB_DMA_FLAGS)
		return -EOPNOTSUPP;

	exp = kzalloc(sizeof(*exp), GFP_KERNEL);
	if (!exp)
		return -ENOMEM;
	gdb_waitable_init(&exp->w, gdb_exp_free);
	mutex_init(&exp->lock);
	INIT_LIST_HEAD(&exp->attachments);
	exp->count = op.count;
	exp->domid = op.domid;
	ret = -ENOMEM;
	exp->refs = kvmalloc_array(op.count, sizeof(*exp->refs), GFP_KERNEL);
	exp->pages = kvcalloc(op.count, sizeof(*exp->pages), GFP_KERNEL);
	exp->handles = kvcalloc(op.count, sizeof(*exp->handles), GFP_KERNEL);
	if (!exp->refs || !exp->pages || !exp->handles)
		goto err_free;
	ret = -EFAULT;
	if (copy_from_user(exp->refs, u->refs,
			   array_size(op.count, sizeof(*exp->refs))))
		goto err_free;

	ret = gnttab_alloc_pages(op.count, exp->pages);
	if (ret)
		goto err_free;
	ret = gdb_exp_map_grants(exp);
	if (ret == -EPERM) {
		/* Xen refuses a writable mapping of a read-only grant. */
		exp->read_only = true;
		ret = gdb_exp_map_grants(exp);
	}
	/*
	 * Upstream answers any grant Xen refused with EINVAL; programs written
	 * for it may test for that, so ours does too (MAP_REFS_TO_BUF, which
	 * is ours alone, says which refusal it was).
	 */
	if (ret == -ENOENT || ret == -EPERM || ret == -ENOSPC ||
	    ret == -EAGAIN || ret == -EIO)
		ret = -EINVAL;
	if (ret)
		goto err_pages;

	/* No vmap, as kernel/core/pages.c explains. */
	info.ops = exp->read_only ? &gdb_read_only_dma_buf_ops :
				    &gdb_dma_buf_ops;
	info.size = (size_t)op.count << PAGE_SHIFT;
	/* A read-only file is what makes the VFS refuse PROT_WRITE. */
	info.flags = exp->read_only ? O_RDONLY : O_RDWR;
	info.priv = exp;
	exp->dmabuf = dma_buf_export(&info);
	if (IS_ERR(exp->dmabuf)) {
		ret = PTR_ERR(exp->dmabuf);
		goto err_unmap;
	}
	/*
	 * Once the fd exists another thread may close it and release the
	 * buffer: keep exp until it is on the list (or known released).
	 */
	kref_get(&exp->w.kref);
	fd = dma_buf_fd(exp->dmabuf, O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(exp->dmabuf);	/* release frees the rest */
		kref_put(&exp->w.kref, gdb_exp_free);
		return fd;
	}
	exp->w.fd = fd;
	mutex_lock(&gdb_lock);
	if (!completion_done(&exp->w.released))
		list_add(&exp->w.node, &file->exports);
	mutex_unlock(&gdb_lock);
	kref_put(&exp->w.kref, gdb_exp_free);
	if (put_user(fd, &u->fd))
		return -EFAULT;	/* as upstream: the fd stays, owned by the caller */
	return 0;

err_unmap:
	gdb_exp_unmap_grants(exp, exp->count);
err_pages:
	gnttab_free_pages(op.count, exp->pages);
err_free:
	kvfree(exp->refs);
	kvfree(exp->pages);
	kvfree(exp->handles);
	kref_put(&exp->w.kref, gdb_exp_free);
	return ret;
}

/* ---- import: grants for the pages of any dma-buf -------------------- */

/* Lets go of the dma-buf, whose pages no peer can reach any more. */
static void gdb_imp_put_buf(struct gdb_imp *imp)
{
	if (imp->sgt)
		dma_buf_unmap_attachment_unlocked(imp->attach, imp->sgt,
						  DMA_TO_DEVICE);
	if (imp->attach)
		dma_buf_detach(imp->dmabuf, imp->attach);
	dma_buf_put(imp->dmabuf);
	kvfree(imp->refs);
	kfree(imp);
}

/* Ends the grants no peer maps any more; true when none is left. */
static bool gdb_imp_end_grants(struct gdb_imp *imp)
{
	unsigned int i, left = 0;

	for (i = 0; i < imp->granted; i++) {
		if (gnttab_try_end_foreign_access(imp->refs[i]))
			atomic_long_dec(&gdb_counts[GDB_IMPORT_GRANTS]);
		else
			imp->refs[left++] = imp->refs[i];
	}
	imp->granted = left;
	return !left;
}

/* From 10 ms up to a second between tries: a peer may take its time. */
#define GDB_IMP_RETRY_MIN_MS	10
#define GDB_IMP_RETRY_MAX_MS	1000

static void gdb_imp_end_work(struct work_struct *work)
{
	struct gdb_imp *imp = container_of(to_delayed_work(work),
					   struct gdb_imp, end_work);

	if (!gdb_imp_end_grants(imp)) {
		imp->retry_ms = min(imp->retry_ms * 2, GDB_IMP_RETRY_MAX_MS);
		queue_delayed_work(gdb_release_wq, &imp->end_work,
				   msecs_to_jiffies(imp->retry_ms));
		return;
	}
	gdb_imp_put_buf(imp);
	/* Taken when the wait began; gdb_exit() drains us. */
	module_put(THIS_MODULE);
}

/*
 * Ends the import: at once when no peer maps a page, else in the
 * background, with the module in use meanwhile (rmmod must not wait for a
 * peer that may never unmap).
 */
static void gdb_imp_release_all(struct gdb_imp *imp)
{
	if (gdb_imp_end_grants(imp)) {
		gdb_imp_put_buf(imp);
		return;
	}
	__module_get(THIS_MODULE);
	imp->retry_ms = GDB_IMP_RETRY_MIN_MS;
	queue_delayed_work(gdb_release_wq, &imp->end_work,
			   msecs_to_jiffies(imp->retry_ms));
}

static long gdb_imp_to_refs(struct gdb_file *file, void __user *uarg)
{
	struct ioctl_gntdev_dmabuf_imp_to_refs op;
	struct ioctl_gntdev_dmabuf_imp_to_refs __user *u = uarg;
	struct sg_page_iter it;
	struct scatterlist *sg;
	struct gdb_imp *imp;
	unsigned int i = 0;
	int readonly, ret;

	if (copy_from_user(&op, u, offsetof(typeof(op), refs)))
		return -EFAULT;
	/*
	 * `reserved` is not looked at, as upstream does not: libxengnttab
	 * leaves it uninitialized.  A descriptor above INT_MAX is negative
	 * to dma_buf_get(), which answers EBADF as upstream's does.
	 */
	if (!op.count || op.count > gdb_max_pages ||
	    !gdb_valid_domid(op.domid))
		return -EINVAL;

	imp = kzalloc(sizeof(*imp), GFP_KERNEL);
	if (!imp)
		return -ENOMEM;
	INIT_DELAYED_WORK(&imp->end_work, gdb_imp_end_work);
	imp->dmabuf = dma_buf_get(op.fd);
	if (IS_ERR(imp->dmabuf)) {
		ret = PTR_ERR(imp->dmabuf);
		kfree(imp);
		return ret;
	}
	imp->fd = op.fd;
	ret = -EINVAL;
	if (imp->dmabuf->size != (size_t)op.count << PAGE_SHIFT)
		goto err;
	ret = -ENOMEM;
	imp->refs = kvcalloc(op.count, sizeof(*imp->refs), GFP_KERNEL);
	if (!imp->refs)
		goto err;

	imp->attach = dma_buf_attach(imp->dmabuf, gdb_misc.this_device);
	if (IS_ERR(imp->attach)) {
		ret = PTR_ERR(imp->attach);
		imp->attach = NULL;
		goto err;
	}
	/*
	 * Mapped only to learn the pages: nothing reaches them through the
	 * DMA addresses.  DMA_TO_DEVICE also keeps a bounce buffer (PV dom0's
	 * xen-swiotlb) from being copied back over what the peer wrote, and
	 * is all a read-only buffer allows.
	 */
	imp->sgt = dma_buf_map_attachment_unlocked(imp->attach,
						   DMA_TO_DEVICE);
	if (IS_ERR(imp->sgt)) {
		ret = PTR_ERR(imp->sgt);
		imp->sgt = NULL;
		goto err;
	}
	/*
	 * Only memory with struct pages can be granted, a page at a time,
	 * and only whole pages of the buffer: an entry that starts or ends
	 * inside a page would grant bytes that are not the buffer's.
	 * Upstream checks the first entry's offset only.
	 */
	ret = -EINVAL;
	for_each_sgtable_sg(imp->sgt, sg, i)
		if (sg->offset || !PAGE_ALIGNED(sg->length))
			goto err;
	/*
	 * The pages need no reference of ours: the import holds the
	 * dma-buf, mapped, until no peer can reach them any more.
	 */
	readonly = !(imp->dmabuf->file->f_mode & FMODE_WRITE);
	for_each_sgtable_page(imp->sgt, &it, 0) {
		struct page *page = sg_page_iter_page(&it);

		ret = -EINVAL;
		if (imp->granted == op.count || !page ||
		    !pfn_valid(page_to_pfn(page)))
			goto err;
		ret = gnttab_grant_foreign_access(op.domid,
						  xen_page_to_gfn(page),
						  readonly);
		if (ret < 0)
			goto err;
		imp->refs[imp->granted++] = ret;
		atomic_long_inc(&gdb_counts[GDB_IMPORT_GRANTS]);
	}
	ret = -EINVAL;
	if (imp->granted != op.count)
		goto err;
	ret = -EFAULT;
	if (copy_to_user(u->refs, imp->refs,
			 array_size(op.count, sizeof(*imp->refs))))
		goto err;

	mutex_lock(&gdb_lock);
	list_add(&imp->node, &file->imports);
	mutex_unlock(&gdb_lock);
	return 0;

err:
	/* A peer may have guessed a ref and mapped it already. */
	gdb_imp_release_all(imp);
	return ret;
}

/* MAP_RELEASE names its buffer by an open fd. */
struct dma_buf *gdb_release_arg(void __user *uarg)
{
	struct ioctl_gntdev_dmabuf_map_release op;

	if (copy_from_user(&op, uarg, sizeof(op)))
		return ERR_PTR(-EFAULT);
	if (op.reserved || op.fd > INT_MAX)
		return ERR_PTR(-EINVAL);
	return dma_buf_get(op.fd);
}

/*
 * As upstream, the import is found by the descriptor number IMP_TO_REFS
 * was given, which need not be open any more: a program may close its
 * dma-buf once granted (the import holds a reference of its own).
 */
static long gdb_imp_release(struct gdb_file *file, void __user *uarg)
{
	struct ioctl_gntdev_dmabuf_imp_release op;
	struct gdb_imp *imp, *found = NULL;

	/* `reserved` is ignored, as in IMP_TO_REFS. */
	if (copy_from_user(&op, uarg, sizeof(op)))
		return -EFAULT;

	mutex_lock(&gdb_lock);
	list_for_each_entry(imp, &file->imports, node) {
		if ((u32)imp->fd == op.fd) {
			found = imp;
			list_del(&imp->node);
			break;
		}
	}
	mutex_unlock(&gdb_lock);
	if (!found)
		return -ENOENT;
	gdb_imp_release_all(found);
	return 0;
}

/* ---- the device ------------------------------------------------------ */

static long gdb_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct gdb_file *file = f->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS:
		return gdb_exp_from_refs(file, uarg);
	case IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED:
		return gdb_wait_released(&file->exports, uarg);
	case IOCTL_GNTDEV_DMABUF_IMP_TO_REFS:
		return gdb_imp_to_refs(file, uarg);
	case IOCTL_GNTDEV_DMABUF_IMP_RELEASE:
		return gdb_imp_release(file, uarg);
	case IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF:
		return gdb_map_refs_to_buf(file, uarg);
	case IOCTL_GNTDEV_DMABUF_MAP_RELEASE:
		return gdb_map_release(file, uarg);
	case IOCTL_GNTDEV_DMABUF_MAP_WAIT_RELEASED:
		return gdb_wait_released(&file->maps, uarg);
	default:
		return -ENOTTY;
	}
}

static int gdb_open(struct inode *inode, struct file *f)
{
	struct gdb_file *file;

	file = kzalloc(sizeof(*file), GFP_KERNEL);
	if (!file)
		return -ENOMEM;
	INIT_LIST_HEAD(&file->exports);
	INIT_LIST_HEAD(&file->imports);
	INIT_LIST_HEAD(&file->maps);
	f->private_data = file;
	return 0;
}

static int gdb_release(struct inode *inode, struct file *f)
{
	struct gdb_file *file = f->private_data;
	struct gdb_exp *exp, *etmp;
	struct gdb_imp *imp, *itmp;
	LIST_HEAD(imports);

	/* Exported buffers live on with their fds, unlisted. */
	mutex_lock(&gdb_lock);
	list_for_each_entry_safe(exp, etmp, &file->exports, w.node)
		list_del_init(&exp->w.node);
	list_splice_init(&file->imports, &imports);
	mutex_unlock(&gdb_lock);
	list_for_each_entry_safe(imp, itmp, &imports, node)
		gdb_imp_release_all(imp);
	gdb_map_file_closed(file);
	kfree(file);
	return 0;
}

static const struct file_operations gdb_fops = {
	.owner = THIS_MODULE,
	.open = gdb_open,
	.release = gdb_release,
	.unlocked_ioctl = gdb_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

struct miscdevice gdb_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	/* Next to upstream's /dev/xen/gntdev. */
	.name = "xen/gntdev-dmabuf",
	.fops = &gdb_fops,
};

static bool gdb_registered;

static int __init gdb_init(void)
{
	int ret;

	/*
	 * Outside Xen there is nothing to do, but loading must still work:
	 * one module set serves every machine, and boot scripts load it
	 * unconditionally.
	 */
	if (!xen_domain())
		return 0;
	gdb_release_wq = alloc_workqueue("dmabridge-gntdev-release",
					 WQ_UNBOUND, 0);
	if (!gdb_release_wq)
		return -ENOMEM;
	ret = misc_register(&gdb_misc);
	if (ret)
		goto err_wq;
	/* IMP_TO_REFS and MAP_REFS_TO_BUF attach to dma-bufs as this device. */
	ret = dma_coerce_mask_and_coherent(gdb_misc.this_device,
					   DMA_BIT_MASK(64));
	if (ret)
		goto err_misc;
	gdb_registered = true;
	gdb_debugfs = debugfs_create_dir("dmabridge-xen", NULL);
	debugfs_create_file("objects", 0444, gdb_debugfs, NULL,
			    &gdb_objects_fops);
#if defined(DMABRIDGE_TESTING) && defined(CONFIG_XEN_PV)
	debugfs_create_atomic_t("refuse_restores", 0600, gdb_debugfs,
				&gdb_refuse_restores);
	debugfs_create_atomic_t("cut_map_hypercalls", 0600, gdb_debugfs,
				&gdb_cut_map_hypercalls);
#endif
	return 0;

err_misc:
	misc_deregister(&gdb_misc);
err_wq:
	destroy_workqueue(gdb_release_wq);
	return ret;
}

static void __exit gdb_exit(void)
{
	if (!gdb_registered)
		return;
	debugfs_remove_recursive(gdb_debugfs);
	misc_deregister(&gdb_misc);
	/*
	 * No release is waiting (each holds the module), but the last may
	 * still be on its way out of its work function.
	 */
	destroy_workqueue(gdb_release_wq);
	gdb_map_exit();
}

module_init(gdb_init);
module_exit(gdb_exit);

MODULE_DESCRIPTION("Xen grant references to and from dma-bufs (gntdev dma-buf ioctls)");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_DMA_BUF();
