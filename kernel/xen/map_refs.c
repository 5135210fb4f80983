// SPDX-License-Identifier: GPL-2.0
/*
 * MAP_REFS_TO_BUF, MAP_RELEASE, MAP_WAIT_RELEASED: a peer's grant refs as
 * the backing storage of a dma-buf someone else exported, for hardware
 * that only works on buffers its own driver allocated.  The layouts are
 * those of the 2023 proposal (include/uapi/dmabridge/gntdev_map.h).
 *
 * The proposal was turned down because replacing the memory behind a
 * buffer under the feet of its users cannot work.  So only a buffer with
 * no users is taken: no attachment but ours, no vmap, no user mapping, no
 * pending fence, and ordinary pages that nobody maps to user space.  From
 * then on it is held: its dma_buf_ops are swapped for a copy that refuses
 * new attachments and mmap with -EBUSY and has no vmap (a vmap op that
 * fails trips a warning in the dma-buf core), while everything else still
 * goes to the exporter, whose own device use of the memory is the point.
 * Release waits for the buffer's fences (the owner's device may still be
 * reading the peer's frames), puts the original pages back and restores
 * the exporter's ops; if Xen refuses to give a page back, the buffer
 * stays held and the release tries again.
 *
 * What no importer can see is how the exporter itself maps its memory to
 * its device: a mapping made while the buffer is held points at the
 * peer's frames and must be gone, with its fences signaled, by release.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <xen/grant_table.h>
#include <xen/mem-reservation.h>
#include <xen/page.h>
#include <xen/xen.h>
#include <xen/interface/grant_table.h>
#include <asm/xen/hypercall.h>
#include <uapi/xen/gntdev.h>
#include <uapi/dmabridge/gntdev_map.h>

#include <dmabridge/compat.h>

#include "gntdev_dmabuf.h"

struct gdb_map {
	struct gdb_waitable w;		/* on gdb_file.maps */
	struct work_struct release_work;
	bool releasing;			/* under gdb_lock */

	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	const struct dma_buf_ops *own_ops;	/* the exporter's, while held */

	domid_t domid;
	unsigned int count;
	u32 *refs;
	struct page **pages;
	grant_handle_t *handles;
	xen_pfn_t *frames;		/* PV: the own frames; else the gfns */
	pgprot_t linear_prot;		/* PV: the pages' in the linear map */
	/* PV: pages [0, granted) still show the peer's frames. */
	unsigned int granted;
	struct page **saved;		/* auto-translated: contents, while away */
};

/*
 * Every page behind a grant of ours, against the same page being taken
 * twice (two buffers over one memfd page, or a page twice in one
 * buffer).  gdb_swap_lock orders the check with the swap.
 */
static DEFINE_XARRAY(gdb_held_pfns);
static DEFINE_MUTEX(gdb_swap_lock);

static bool gdb_auto_translated(void)
{
	return xen_feature(XENFEAT_auto_translated_physmap);
}

/* ---- the held buffer's dma_buf_ops -------------------------------------- */

static int gdb_held_attach(struct dma_buf *dmabuf,
			   struct dma_buf_attachment *attach)
{
	return -EBUSY;
}

static int gdb_held_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	return -EBUSY;
}

/*
 * The held copies of the exporters' ops, one for each table seen, kept
 * until the module goes.  The dma-buf core reads dmabuf->ops without a
 * lock (dma_buf_mmap_internal(), dma_buf_begin_cpu_access(), the attach
 * callback in dma_buf_attach()), so a caller may still go through a held
 * copy after release put the exporter's ops back: a copy must outlive
 * every hold.  Only module exit frees them, when no mapping is left; the
 * one window left is a caller stalled between reading dmabuf->ops and
 * calling through it from before a release until after rmmod, the same
 * window the module's own gdb_held_*() text has.
 *
 * A copy is found by the exporter's table's contents, not its address,
 * so that an exporter module loaded again at that address with other
 * functions gets a copy of its own.  Under gdb_swap_lock.
 */
struct gdb_held_ops {
	struct list_head node;
	struct dma_buf_ops own;		/* the exporter's table, as it was */
	struct dma_buf_ops held;
};

static LIST_HEAD(gdb_held_ops_list);

static const struct dma_buf_ops *gdb_held_ops_get(const struct dma_buf_ops *own)
{
	struct gdb_held_ops *h;

	lockdep_assert_held(&gdb_swap_lock);
	list_for_each_entry(h, &gdb_held_ops_list, node)
		if (!memcmp(&h->own, own, sizeof(*own)))
			return &h->held;
	h = kmalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return NULL;
	memcpy(&h->own, own, sizeof(*own));
	memcpy(&h->held, own, sizeof(*own));
	h->held.attach = gdb_held_attach;
	h->held.mmap = gdb_held_mmap;
	h->held.vmap = NULL;
	list_add(&h->node, &gdb_held_ops_list);
	return &h->held;
}

static void gdb_held_ops_free(void)
{
	struct gdb_held_ops *h, *tmp;

	list_for_each_entry_safe(h, tmp, &gdb_held_ops_list, node) {
		list_del(&h->node);
		kfree(h);
	}
}

/* ---- auto-translated guests (HVM, PVH, Arm): frames given up ------------ */

/*
 * There a gfn can only take a grant once it has no frame, so the own
 * frame goes back to Xen and the contents wait in a copy.  Not run here:
 * the test machines only have x86 PV.
 */
static void gdb_at_repopulate(struct gdb_map *m, unsigned int given)
{
	unsigned int i;
	int done;

	done = given ? xenmem_reservation_increase(given, m->frames) : 0;
	if (done != given)
		pr_err("%u of %u pages got no memory back\n", given - done,
		       given);
	for (i = 0; i < m->count; i++) {
		if (i < done)
			copy_highpage(m->pages[i], m->saved[i]);
		if (m->saved[i])
			__free_page(m->saved[i]);
	}
	kvfree(m->saved);
	m->saved = NULL;
}

static void gdb_at_unmap(struct gdb_map *m, const bool *mapped)
{
	struct gnttab_unmap_grant_ref *ops;
	unsigned int i, n = 0;

	ops = kvcalloc(m->count, sizeof(*ops), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < m->count; i++)
		if (!mapped || mapped[i])
			gnttab_set_unmap_op(&ops[n++], gdb_kaddr(m->pages[i]),
					    GNTMAP_host_map, m->handles[i]);
	if (n && HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, ops, n))
		pr_err("unmapping %u grants failed\n", n);
	kvfree(ops);
}

static int gdb_at_map_over(struct gdb_map *m)
{
	struct gnttab_map_grant_ref *ops;
	bool *mapped = NULL;
	unsigned int i;
	int ret = -ENOMEM, given;

	m->saved = kvcalloc(m->count, sizeof(*m->saved), GFP_KERNEL);
	ops = kvcalloc(m->count, sizeof(*ops), GFP_KERNEL);
	mapped = kvcalloc(m->count, sizeof(*mapped), GFP_KERNEL);
	if (!m->saved || !ops || !mapped)
		goto err_free;
	for (i = 0; i < m->count; i++) {
		m->saved[i] = alloc_page(GFP_KERNEL);
		if (!m->saved[i])
			goto err_saved;
		copy_highpage(m->saved[i], m->pages[i]);
		m->frames[i] = xen_page_to_gfn(m->pages[i]);
		gnttab_set_map_op(&ops[i], gdb_kaddr(m->pages[i]),
				  GNTMAP_host_map, m->refs[i], m->domid);
	}
	given = xenmem_reservation_decrease(m->count, m->frames);
	if (given != m->count) {
		gdb_at_repopulate(m, given);
		goto err_free;
	}
	ret = 0;
	if (HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, ops, m->count)) {
		gdb_at_repopulate(m, m->count);
		ret = -EIO;
		goto err_free;
	}
	for (i = 0; i < m->count; i++) {
		mapped[i] = ops[i].status == GNTST_okay;
		m->handles[i] = ops[i].handle;
		if (!mapped[i] && !ret)
			ret = gdb_status_errno(ops[i].status);
	}
	if (ret) {
		gdb_at_unmap(m, mapped);
		gdb_at_repopulate(m, m->count);
	}
	kvfree(mapped);
	kvfree(ops);
	return ret;

err_saved:
	gdb_at_repopulate(m, 0);
err_free:
	kvfree(mapped);
	kvfree(ops);
	kvfree(m->saved);
	m->saved = NULL;
	return ret;
}

/* ---- taking and giving back the pages ----------------------------------- */

static void gdb_unhold_pfns(struct gdb_map *m, unsigned int n)
{
	while (n--)
		xa_erase(&gdb_held_pfns, page_to_pfn(m->pages[n]));
}

/* Ordinary memory nobody maps to user space, each page taken once. */
static int gdb_hold_pfns(struct gdb_map *m)
{
	unsigned int i;
	int ret;

	for (i = 0; i < m->count; i++) {
		struct page *page = m->pages[i];

		ret = -EINVAL;
		if (PageHighMem(page) || PageReserved(page) ||
		    is_zone_device_page(page))
			break;
		/* Its user PTEs would keep reaching the old frame. */
		ret = -EBUSY;
		if (page_mapped(page))
			break;
		/* -EBUSY when a mapping of ours has it already. */
		ret = xa_insert(&gdb_held_pfns, page_to_pfn(page), m,
				GFP_KERNEL);
		if (ret)
			break;
		/* In PV, a ballooned page or a grant mapping of someone else. */
		if (!gdb_auto_translated() && !gdb_pv_frame_is_own(page)) {
			xa_erase(&gdb_held_pfns, page_to_pfn(page));
			ret = -EINVAL;
			break;
		}
	}
	if (i == m->count)
		return 0;
	gdb_unhold_pfns(m, i);
	return ret;
}

/* False while Xen keeps a peer's frame behind a page: try again later. */
static bool gdb_map_swap_out(struct gdb_map *m)
{
	if (gdb_auto_translated()) {
		gdb_at_unmap(m, NULL);
		gdb_at_repopulate(m, m->count);
	} else {
		m->granted = gdb_pv_restore(m->pages, m->granted, m->handles,
					    m->frames, m->linear_prot);
		if (m->granted)
			return false;
	}
	gdb_unhold_pfns(m, m->count);
	atomic_long_sub(m->count, &gdb_counts[GDB_HELD_PAGES]);
	return true;
}

/*
 * Until 6.2 vmap had a lock of its own, taken before the reservation
 * lock; the reservation lock covers the attachment list on all kernels.
 */
static void gdb_lock_users(struct dma_buf *dmabuf)
{
#ifndef DMABRIDGE_HAVE_DMA_BUF_VMAP_UNLOCKED
	mutex_lock(&dmabuf->lock);
#endif
	dma_resv_lock(dmabuf->resv, NULL);
}

static void gdb_unlock_users(struct dma_buf *dmabuf)
{
	dma_resv_unlock(dmabuf->resv);
#ifndef DMABRIDGE_HAVE_DMA_BUF_VMAP_UNLOCKED
	mutex_unlock(&dmabuf->lock);
#endif
}

/* No attachment but ours, no CPU mapping, no fence pending. */
static bool gdb_buf_unused(struct dma_buf *dmabuf)
{
	return list_is_singular(&dmabuf->attachments) &&
	       !dmabuf->vmapping_counter &&
	       !mapping_mapped(dmabuf->file->f_mapping) &&
	       dma_resv_test_signaled(dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP);
}

/*
 * The held ops go in first, under the locks that attach and vmap take,
 * so that no new user can appear between the checks and the swap.  The
 * exporter's ops are read under them too: a concurrent MAP of the same
 * buffer swaps and restores them under these locks, and what it put in
 * may be a held copy, which is not ours to restore.
 */
static int gdb_map_take(struct gdb_map *m)
{
	struct dma_buf *dmabuf = m->dmabuf;
	const struct dma_buf_ops *held;
	int ret = -EBUSY;

	gdb_lock_users(dmabuf);
	mutex_lock(&gdb_swap_lock);
	/* Another mapping took it while our attachment was on its way in. */
	if (dmabuf->ops->attach == gdb_held_attach)
		goto out_unlock;
	ret = -ENOMEM;
	held = gdb_held_ops_get(dmabuf->ops);
	if (!held)
		goto out_unlock;
	m->own_ops = dmabuf->ops;
	WRITE_ONCE(dmabuf->ops, held);
	ret = -EBUSY;
	if (!gdb_buf_unused(dmabuf))
		goto out;
	ret = gdb_hold_pfns(m);
	if (!ret) {
		if (gdb_auto_translated())
			ret = gdb_at_map_over(m);
		else
			ret = gdb_pv_map_over(m->pages, m->count, m->refs,
					      m->domid, m->handles, m->frames,
					      &m->linear_prot, &m->granted);
		/* Pages Xen kept the peer's frames behind stay held. */
		if (ret && !m->granted)
			gdb_unhold_pfns(m, m->count);
		else
			atomic_long_add(m->count, &gdb_counts[GDB_HELD_PAGES]);
	}
out:
	if (ret && !m->granted)
		WRITE_ONCE(dmabuf->ops, m->own_ops);
out_unlock:
	mutex_unlock(&gdb_swap_lock);
	gdb_unlock_users(dmabuf);
	return ret;
}

/*
 * Gives the pages back once nothing can reach the peer's frames through
 * the buffer: its fences are done, and an importer or mapping that got in
 * with the exporter's ops just before they were swapped has let go.
 */
static bool gdb_map_try_release(struct gdb_map *m)
{
	struct dma_buf *dmabuf = m->dmabuf;
	bool done = false;

	gdb_lock_users(dmabuf);
	if (gdb_buf_unused(dmabuf)) {
		mutex_lock(&gdb_swap_lock);
		done = gdb_map_swap_out(m);
		mutex_unlock(&gdb_swap_lock);
		if (done)
			WRITE_ONCE(dmabuf->ops, m->own_ops);
	}
	gdb_unlock_users(dmabuf);
	return done;
}

/* ---- the mapping's life --------------------------------------------------- */

static void gdb_map_free(struct kref *kref)
{
	struct gdb_map *m = container_of(kref, struct gdb_map, w.kref);

	kvfree(m->refs);
	kvfree(m->pages);
	kvfree(m->handles);
	kvfree(m->frames);
	kfree(m);
}

/* Lets go of the buffer; the pages are the exporter's again. */
static void gdb_map_put_buf(struct gdb_map *m)
{
	if (m->sgt)
		dma_buf_unmap_attachment_unlocked(m->attach, m->sgt,
						  DMA_TO_DEVICE);
	if (m->attach)
		dma_buf_detach(m->dmabuf, m->attach);
	if (!IS_ERR_OR_NULL(m->dmabuf))
		dma_buf_put(m->dmabuf);
}

static void gdb_map_finish(struct gdb_map *m)
{
	gdb_map_put_buf(m);
	mutex_lock(&gdb_lock);
	list_del_init(&m->w.node);
	mutex_unlock(&gdb_lock);
	complete_all(&m->w.released);
	kref_put(&m->w.kref, gdb_map_free);
}

static void gdb_map_release_work(struct work_struct *work)
{
	struct gdb_map *m = container_of(work, struct gdb_map, release_work);

	/*
	 * Fences are meant to signal, and new ones may come meanwhile; a
	 * user left over from before the hold has nothing to wait on.  A
	 * fence that never signals (a sw_sync one nobody advances) keeps the
	 * release, and the module, waiting; so does a page whose grant Xen
	 * will not unmap, which would show the peer's frame to the next
	 * owner of the page.  The wait is interruptible, though no signal
	 * reaches a worker: a fence that takes minutes must not look like a
	 * hung task (or count in the load average).
	 */
	for (;;) {
		dma_resv_wait_timeout(m->dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP,
				      true, MAX_SCHEDULE_TIMEOUT);
		if (gdb_map_try_release(m))
			break;
		msleep(20);
	}
	gdb_map_finish(m);
	/* Taken when the release was queued; gdb_exit() drains us. */
	module_put(THIS_MODULE);
}

static void gdb_map_start_release(struct gdb_map *m)
{
	if (gdb_map_try_release(m)) {
		gdb_map_finish(m);
		return;
	}
	/*
	 * rmmod must not wait in destroy_workqueue() for fences that may
	 * never signal: while a release waits, the module is in use.
	 */
	__module_get(THIS_MODULE);
	queue_work(gdb_release_wq, &m->release_work);
}

/* ---- ioctls ---------------------------------------------------------------- */

static int gdb_map_check_args(const struct ioctl_gntdev_dmabuf_map_refs_to_buf *op)
{
	const u32 dma_flags = GNTDEV_DMA_FLAG_WC | GNTDEV_DMA_FLAG_COHERENT;

	if ((op->flags & ~dma_flags) || (op->flags & dma_flags) == dma_flags)
		return -EINVAL;
	if (!op->count || op->count > gdb_max_pages ||
	    !gdb_valid_domid(op->domid) || op->fd > INT_MAX ||
	    !PAGE_ALIGNED(op->data_ofs))
		return -EINVAL;
	/* The buffer's memory is what it is: its caching is the exporter's. */
	if (op->flags)
		return -EOPNOTSUPP;
	/* Grants are 4 KiB; a larger page would take several. */
	if (PAGE_SIZE != XEN_PAGE_SIZE)
		return -EOPNOTSUPP;
	return 0;
}

/* The count pages from data_ofs on, as the exporter's sg table has them. */
static int gdb_map_collect_pages(struct gdb_map *m, u32 data_ofs)
{
	struct scatterlist *sg;
	struct sg_page_iter it;
	unsigned int i, n = 0;

	for_each_sgtable_sg(m->sgt, sg, i)
		if (sg->offset || !PAGE_ALIGNED(sg->length))
			return -EINVAL;
	for_each_sgtable_page(m->sgt, &it, data_ofs >> PAGE_SHIFT) {
		struct page *page = sg_page_iter_page(&it);

		if (n == m->count)
			break;
		if (!page || !pfn_valid(page_to_pfn(page)))
			return -EINVAL;
		m->pages[n++] = page;
	}
	return n == m->count ? 0 : -EINVAL;
}

static struct gdb_map *gdb_map_alloc(const struct ioctl_gntdev_dmabuf_map_refs_to_buf *op)
{
	struct gdb_map *m = kzalloc(sizeof(*m), GFP_KERNEL);

	if (!m)
		return NULL;
	gdb_waitable_init(&m->w, gdb_map_free);
	INIT_WORK(&m->release_work, gdb_map_release_work);
	m->w.fd = op->fd;
	m->domid = op->domid;
	m->count = op->count;
	m->refs = kvmalloc_array(op->count, sizeof(*m->refs), GFP_KERNEL);
	m->pages = kvcalloc(op->count, sizeof(*m->pages), GFP_KERNEL);
	m->handles = kvcalloc(op->count, sizeof(*m->handles), GFP_KERNEL);
	m->frames = kvcalloc(op->count, sizeof(*m->frames), GFP_KERNEL);
	if (!m->refs || !m->pages || !m->handles || !m->frames) {
		kref_put(&m->w.kref, gdb_map_free);
		return NULL;
	}
	return m;
}

long gdb_map_refs_to_buf(struct gdb_file *file, void __user *uarg)
{
	struct ioctl_gntdev_dmabuf_map_refs_to_buf op;
	struct ioctl_gntdev_dmabuf_map_refs_to_buf __user *u = uarg;
	struct gdb_map *m;
	int ret;

	if (copy_from_user(&op, u, offsetof(typeof(op), refs)))
		return -EFAULT;
	ret = gdb_map_check_args(&op);
	if (ret)
		return ret;
	m = gdb_map_alloc(&op);
	if (!m)
		return -ENOMEM;
	ret = -EFAULT;
	if (copy_from_user(m->refs, u->refs,
			   array_size(op.count, sizeof(*m->refs))))
		goto err;

	m->dmabuf = dma_buf_get(op.fd);
	if (IS_ERR(m->dmabuf)) {
		ret = PTR_ERR(m->dmabuf);
		goto err;
	}
	ret = -EINVAL;
	if ((u64)op.data_ofs + ((u64)op.count << PAGE_SHIFT) >
	    m->dmabuf->size)
		goto err;
	/* The peer's bytes replace the buffer's: that takes write access. */
	ret = -EACCES;
	if (!(m->dmabuf->file->f_mode & FMODE_WRITE))
		goto err;
	m->attach = dma_buf_attach(m->dmabuf, gdb_misc.this_device);
	if (IS_ERR(m->attach)) {
		ret = PTR_ERR(m->attach);
		m->attach = NULL;
		goto err;
	}
	/* Only to learn the pages, as gdb_imp_to_refs() maps. */
	m->sgt = dma_buf_map_attachment_unlocked(m->attach, DMA_TO_DEVICE);
	if (IS_ERR(m->sgt)) {
		ret = PTR_ERR(m->sgt);
		m->sgt = NULL;
		goto err;
	}
	ret = gdb_map_collect_pages(m, op.data_ofs);
	if (ret)
		goto err;
	ret = gdb_map_take(m);
	if (ret && m->granted) {
		/*
		 * Undoing the part that was mapped left pages Xen would not
		 * give back: the buffer stays held, off the file's list, and
		 * a release in the background tries again.
		 */
		gdb_map_start_release(m);
		return ret;
	}
	if (ret)
		goto err;

	mutex_lock(&gdb_lock);
	list_add(&m->w.node, &file->maps);
	mutex_unlock(&gdb_lock);
	return 0;

err:
	gdb_map_put_buf(m);
	kref_put(&m->w.kref, gdb_map_free);
	return ret;
}

long gdb_map_release(struct gdb_file *file, void __user *uarg)
{
	struct gdb_map *m, *found = NULL;
	struct dma_buf *dmabuf = gdb_release_arg(uarg);

	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);

	mutex_lock(&gdb_lock);
	list_for_each_entry(m, &file->maps, w.node) {
		if (m->dmabuf == dmabuf && !m->releasing) {
			found = m;
			found->releasing = true;
			break;
		}
	}
	mutex_unlock(&gdb_lock);
	dma_buf_put(dmabuf);
	if (!found)
		return -ENOENT;
	gdb_map_start_release(found);
	return 0;
}

/* The file's mappings end with it, once their buffers are idle. */
void gdb_map_file_closed(struct gdb_file *file)
{
	struct gdb_map *m, *tmp;
	LIST_HEAD(maps);

	mutex_lock(&gdb_lock);
	list_for_each_entry_safe(m, tmp, &file->maps, w.node) {
		/* A release under way finishes by itself. */
		if (m->releasing) {
			list_del_init(&m->w.node);
			continue;
		}
		m->releasing = true;
		list_move(&m->w.node, &maps);
	}
	mutex_unlock(&gdb_lock);
	list_for_each_entry_safe(m, tmp, &maps, w.node) {
		list_del_init(&m->w.node);
		gdb_map_start_release(m);
	}
}

/* After gdb_release_wq is gone: no release can still use a held copy. */
void gdb_map_exit(void)
{
	gdb_held_ops_free();
}
