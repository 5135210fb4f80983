/* SPDX-License-Identifier: GPL-2.0 */
/* What the parts of dmabridge_xen_gntdev_dmabuf.ko share. */
#ifndef _DMABRIDGE_XEN_GNTDEV_DMABUF_H
#define _DMABRIDGE_XEN_GNTDEV_DMABUF_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include <xen/grant_table.h>
#include <xen/page.h>

extern unsigned int gdb_max_pages;
extern struct mutex gdb_lock;
/* Attachments this module makes to other dma-bufs are this device's. */
extern struct miscdevice gdb_misc;

/*
 * What this module holds of Xen's, so that tests can tell a leak from a
 * release (debugfs dmabridge-xen/objects): pages mapped for exports, for
 * vmaps of exports, pages granted by imports, pages behind MAP mappings.
 */
enum gdb_count {
	GDB_EXPORT_MAPS,
	GDB_VMAP_MAPS,
	GDB_IMPORT_GRANTS,
	GDB_HELD_PAGES,
	GDB_NR_COUNTS,
};

extern atomic_long_t gdb_counts[GDB_NR_COUNTS];

/* One open /dev/xen/gntdev-dmabuf; its lists are under gdb_lock. */
struct gdb_file {
	struct list_head exports;	/* struct gdb_exp, until released */
	struct list_head imports;	/* struct gdb_imp */
	struct list_head maps;		/* struct gdb_map, until released */
};

/* The linear-map address a grant is mapped at (PV) or for (HVM). */
static inline unsigned long gdb_kaddr(struct page *page)
{
	return (unsigned long)pfn_to_kaddr(page_to_xen_pfn(page));
}

static inline bool gdb_valid_domid(u32 domid)
{
	return domid < DOMID_FIRST_RESERVED;
}

int gdb_status_errno(s16 status);

/* What the WAIT_RELEASED ioctls wait for: an export or a MAP mapping. */
struct gdb_waitable {
	struct kref kref;		/* the object, and each waiter */
	struct list_head node;		/* on its file's list, until released */
	struct completion released;
	int fd;				/* the descriptor number it goes by */
	void (*free)(struct kref *kref);
};

void gdb_waitable_init(struct gdb_waitable *w, void (*free)(struct kref *));
long gdb_wait_released(struct list_head *list, void __user *uarg);
struct dma_buf *gdb_release_arg(void __user *uarg);

/* map_refs.c: grant refs as the backing storage of an existing dma-buf. */
long gdb_map_refs_to_buf(struct gdb_file *file, void __user *uarg);
long gdb_map_release(struct gdb_file *file, void __user *uarg);
void gdb_map_file_closed(struct gdb_file *file);
void gdb_map_exit(void);

/* Background releases (gntdev_dmabuf.c); each holds the module. */
extern struct workqueue_struct *gdb_release_wq;

/*
 * map_pv.c, x86 PV only: a peer's frames behind pages that keep their
 * own frames aside, so that the pages come back unchanged.
 */
#ifdef CONFIG_XEN_PV
bool gdb_pv_frame_is_own(struct page *page);
/*
 * @prot: out, the linear map's protection, for gdb_pv_restore().
 * @granted: out, how many pages keep the peer's frames behind them: all
 * on success, on failure those Xen would not give back (see below).
 */
int gdb_pv_map_over(struct page **pages, unsigned int count,
		    const u32 *refs, domid_t domid, grant_handle_t *handles,
		    xen_pfn_t *own_mfns, pgprot_t *prot,
		    unsigned int *granted);
/*
 * Returns how many pages Xen refused to give back, moved with their
 * handles and own frames to the front of the arrays: they still show the
 * peer's frames, and must stay away from their owner until a later call
 * restores them.
 */
unsigned int gdb_pv_restore(struct page **pages, unsigned int count,
			    grant_handle_t *handles, xen_pfn_t *own_mfns,
			    pgprot_t prot);
#ifdef DMABRIDGE_TESTING
/* Test builds: this many pages' restores are refused by Xen, on purpose. */
extern atomic_t gdb_refuse_restores;
/* Test builds: this many MAP hypercalls fail halfway through their ops. */
extern atomic_t gdb_cut_map_hypercalls;
#endif
#else
static inline bool gdb_pv_frame_is_own(struct page *page)
{
	return false;
}

static inline int gdb_pv_map_over(struct page **pages, unsigned int count,
				  const u32 *refs, domid_t domid,
				  grant_handle_t *handles,
				  xen_pfn_t *own_mfns, pgprot_t *prot,
				  unsigned int *granted)
{
	*granted = 0;
	return -EOPNOTSUPP;
}

static inline unsigned int gdb_pv_restore(struct page **pages,
					  unsigned int count,
					  grant_handle_t *handles,
					  xen_pfn_t *own_mfns, pgprot_t prot)
{
	return 0;
}
#endif

#endif /* _DMABRIDGE_XEN_GNTDEV_DMABUF_H */
