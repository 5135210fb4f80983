/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _DMABRIDGE_MEMFD_PIN_H
#define _DMABRIDGE_MEMFD_PIN_H

#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/types.h>

#include <dmabridge/pages.h>

/*
 * The pages of memfd ranges, each held so that it stays in place for as
 * long as a device may use it, appended in buffer order to the runs of
 * @buf.
 */
struct memfd_pinned {
	struct dmabridge_pages *buf;
	pgoff_t capacity;
	/* What to unpin, where the kernel pins whole folios (6.11 and later). */
	struct folio **folios;
	unsigned long nr_folios;
	/*
	 * A buffer of one page, the commonest small one, keeps its run and
	 * folio here instead of in two allocations of their own.
	 */
	struct dmabridge_pages_run one_run;
	struct folio *one_folio;
};

/* Room for @capacity pages in @buf's runs; @buf has none yet. */
int memfd_pinned_alloc(struct memfd_pinned *pinned,
		       struct dmabridge_pages *buf, pgoff_t capacity);
/*
 * Pins @nr pages of @memfd from byte @start (page aligned, inside the file)
 * and appends them.  The caller holds the inode lock (shared), has checked
 * the seals and that the range lies inside the file.
 */
int memfd_pin_range(struct memfd_pinned *pinned, struct file *memfd,
		    loff_t start, pgoff_t nr);
/*
 * Gives back the room that pinning did not use, where that is worth an
 * allocation: large folios (hugetlb) make far fewer runs than pages.
 */
void memfd_pinned_trim(struct memfd_pinned *pinned);
/*
 * Unpins everything pinned so far and frees the arrays, buf's runs too;
 * @written: the buffer may have been written (it was exported writable).
 */
void memfd_pinned_free(struct memfd_pinned *pinned, bool written);

#endif /* _DMABRIDGE_MEMFD_PIN_H */
