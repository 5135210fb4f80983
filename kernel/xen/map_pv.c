// SPDX-License-Identifier: GPL-2.0
/*
 * x86 PV: a peer's frames behind pages that belong to someone else's
 * dma-buf, for MAP_REFS_TO_BUF.
 *
 * In a PV domain a page reaches memory through two translations the
 * kernel keeps: the linear map's PTE (for the CPU) and the p2m entry (for
 * every device mapping made from now on).  Both are pointed at the peer's
 * frame, while the page's own frame stays allocated to this domain,
 * untouched, so that release puts back exactly what was there, contents
 * included.  Neither step leaves the linear address unmapped: Xen's grant
 * map replaces a present PTE, and GNTTABOP_unmap_and_replace moves a PTE
 * of the own frame back over the grant in one step, so a kernel access
 * racing with either never faults.
 *
 * gnttab_map_refs() is not used: it marks the page PG_foreign and writes
 * page->private, which belong to the page's owner here (for shmem pages
 * PG_owner_priv_1 is PG_swapcache).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/interface/grant_table.h>
#include <asm/xen/hypercall.h>
#include <asm/xen/page.h>

#include "gntdev_dmabuf.h"

/*
 * set_phys_to_machine() is not exported; xen_alloc_p2m_entry() is, and
 * gives the pfn a private, writable p2m leaf, after which the store is
 * all that set_phys_to_machine() itself would do.
 */
static int gdb_pv_set_p2m(unsigned long pfn, unsigned long mfn)
{
	int ret = xen_alloc_p2m_entry(pfn);

	if (ret)
		return ret;
	WRITE_ONCE(xen_p2m_addr[pfn], mfn);
	return 0;
}

/* A frame of this domain's own, not a grant, a hole or an I/O range. */
bool gdb_pv_frame_is_own(struct page *page)
{
	unsigned long mfn = __pfn_to_mfn(page_to_pfn(page));

	return mfn != INVALID_P2M_ENTRY &&
	       !(mfn & (FOREIGN_FRAME_BIT | IDENTITY_FRAME_BIT));
}

/* The memory type bits of @page's linear-map PTE. */
static int gdb_pv_linear_type(struct page *page, pteval_t *type)
{
	unsigned int level;
	pte_t *pte = lookup_address(gdb_kaddr(page), &level);

	if (!pte || level != PG_LEVEL_4K)
		return -EINVAL;
	*type = pte_flags(*pte) & _PAGE_CACHE_MASK;
	return 0;
}

/*
 * The protection the restore gives the pages' linear map back: their own
 * memory type, which must be one for all.  Not every page is write-back
 * there: vgem's are write-combined (drm_gem_shmem's map_wc), so are a
 * system-uncached buffer's, and PAT records that type for them.
 */
static int gdb_pv_linear_prot(struct page **pages, unsigned int count,
			      pgprot_t *prot)
{
	pteval_t type, other;
	unsigned int i;
	int ret;

	ret = gdb_pv_linear_type(pages[0], &type);
	for (i = 1; !ret && i < count; i++) {
		ret = gdb_pv_linear_type(pages[i], &other);
		if (!ret && other != type)
			ret = -EINVAL;
	}
	if (!ret)
		*prot = __pgprot((pgprot_val(PAGE_KERNEL) & ~_PAGE_CACHE_MASK) |
				 type);
	return ret;
}

/* Stale translations of the own frames may live in other CPUs' TLBs. */
static void gdb_pv_flush_tlbs(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_ALL };

	if (HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF))
		pr_err("flushing TLBs failed\n");
}

/* Entries @i and @j trade places: a page, its handle and its own frame. */
static void gdb_pv_swap(struct page **pages, grant_handle_t *handles,
			xen_pfn_t *own_mfns, unsigned int i, unsigned int j)
{
	swap(pages[i], pages[j]);
	swap(handles[i], handles[j]);
	swap(own_mfns[i], own_mfns[j]);
}

#ifdef DMABRIDGE_TESTING
atomic_t gdb_refuse_restores = ATOMIC_INIT(0);
atomic_t gdb_cut_map_hypercalls = ATOMIC_INIT(0);

/* A handle Xen has never given out, which it refuses with no side effect. */
static grant_handle_t gdb_pv_restore_handle(grant_handle_t handle)
{
	return atomic_dec_if_positive(&gdb_refuse_restores) >= 0 ?
	       INVALID_GRANT_HANDLE : handle;
}

/*
 * True when this map hypercall is to fail as when Xen cannot read an op
 * partway through the batch: the first half of the ops is done here, and
 * the caller takes the call as failed.
 */
static bool gdb_pv_cut_map_hypercall(struct gnttab_map_grant_ref *ops,
				     unsigned int count)
{
	if (atomic_dec_if_positive(&gdb_cut_map_hypercalls) < 0)
		return false;
	if (count > 1)
		HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, ops,
					  count / 2);
	return true;
}
#else
static grant_handle_t gdb_pv_restore_handle(grant_handle_t handle)
{
	return handle;
}

static bool gdb_pv_cut_map_hypercall(struct gnttab_map_grant_ref *ops,
				     unsigned int count)
{
	return false;
}
#endif

/*
 * Puts the own frames back behind the first count pages: a scratch vmap
 * of the own frames (made once the p2m names them again) donates its PTEs
 * to the linear map, replacing the grants.  A page whose grant Xen would
 * not unmap still shows the peer's frame through the linear map: handing
 * it back would let its next owner read and write the peer's memory, so
 * it stays with the caller, at the front of the arrays.
 */
unsigned int gdb_pv_restore(struct page **pages, unsigned int count,
			    grant_handle_t *handles, xen_pfn_t *own_mfns,
			    pgprot_t prot)
{
	struct gnttab_unmap_and_replace *ops;
	unsigned int i, refused = 0;
	void *scratch;

	if (!count)
		return 0;
	ops = kvcalloc(count, sizeof(*ops), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < count; i++)
		WARN_ON(gdb_pv_set_p2m(page_to_pfn(pages[i]), own_mfns[i]));
	/* Nothing else is as safe to fall back on, so keep trying. */
	while (!(scratch = vmap(pages, count, VM_MAP, prot)))
		schedule_timeout_uninterruptible(1);
	for (i = 0; i < count; i++) {
		ops[i].host_addr = gdb_kaddr(pages[i]);
		ops[i].new_addr = (unsigned long)scratch +
				  ((unsigned long)i << PAGE_SHIFT);
		ops[i].handle = gdb_pv_restore_handle(handles[i]);
		/* What Xen did not get to stays refused. */
		ops[i].status = GNTST_general_error;
	}
	if (HYPERVISOR_grant_table_op(GNTTABOP_unmap_and_replace, ops, count))
		pr_err_ratelimited("restoring %u pages failed\n", count);
	for (i = 0; i < count; i++) {
		if (ops[i].status == GNTST_okay)
			continue;
		pr_err_ratelimited("restoring pfn %#lx: status %d, kept\n",
				   page_to_pfn(pages[i]), ops[i].status);
		gdb_pv_swap(pages, handles, own_mfns, refused++, i);
	}
	/* Its PTEs are gone already, or stay unused; this unmaps the rest. */
	vunmap(scratch);
	kvfree(ops);
	return refused;
}

int gdb_pv_map_over(struct page **pages, unsigned int count, const u32 *refs,
		    domid_t domid, grant_handle_t *handles,
		    xen_pfn_t *own_mfns, pgprot_t *prot,
		    unsigned int *granted)
{
	struct gnttab_map_grant_ref *ops;
	unsigned int i, mapped = 0;
	int ret;

	*granted = 0;
	ret = gdb_pv_linear_prot(pages, count, prot);
	if (ret)
		return ret;
	ops = kvcalloc(count, sizeof(*ops), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		own_mfns[i] = pfn_to_mfn(page_to_pfn(pages[i]));
		gnttab_set_map_op(&ops[i], gdb_kaddr(pages[i]), GNTMAP_host_map,
				  refs[i], domid);
	}
	/*
	 * A hypercall that fails may still have done some of the ops, or
	 * all (a flush after them can fail too), each with its status
	 * written back; gnttab_set_map_op() marks the rest as not done.
	 */
	if (gdb_pv_cut_map_hypercall(ops, count) ||
	    HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, ops, count))
		ret = -EIO;
	for (i = 0; i < count; i++) {
		if (ops[i].status != GNTST_okay) {
			if (!ret)
				ret = gdb_status_errno(ops[i].status);
			continue;
		}
		handles[i] = ops[i].handle;
		if (!ret)
			ret = gdb_pv_set_p2m(page_to_pfn(pages[i]),
					     FOREIGN_FRAME(ops[i].dev_bus_addr >>
							   XEN_PAGE_SHIFT));
	}
	if (ret) {
		/* Successes may follow a failure: restore exactly those. */
		for (i = 0; i < count; i++)
			if (ops[i].status == GNTST_okay)
				gdb_pv_swap(pages, handles, own_mfns, mapped++,
					    i);
		*granted = gdb_pv_restore(pages, mapped, handles, own_mfns,
					  *prot);
	} else {
		*granted = count;
	}
	gdb_pv_flush_tlbs();
	kvfree(ops);
	return ret;
}
