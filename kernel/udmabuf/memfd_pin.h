/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _DMABRIDGE_MEMFD_PIN_H
#define _DMABRIDGE_MEMFD_PIN_H

#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/types.h>

/*
 * The pages of memfd ranges, each held so that it stays in place for as
 * long as a device may use it.  pages[] has one entry per PAGE_SIZE of
 * the buffer, in buffer order, whatever the folio size behind it.
 */
struct memfd_pinned {
	struct page **pages;
	pgoff_t nr_pages;
	pgoff_t capacity;
	/* What to unpin, where the kernel pins whole folios (6.11 and later). */
	struct folio **folios;
	unsigned long nr_folios;
};

int memfd_pinned_alloc(struct memfd_pinned *pinned, pgoff_t capacity);
/*
 * Pins @nr pages of @memfd from byte @start (page aligned, inside the file)
 * and appends them.  The caller holds the inode lock (shared), has checked
 * the seals and that the range lies inside the file.
 */
int memfd_pin_range(struct memfd_pinned *pinned, struct file *memfd,
		    loff_t start, pgoff_t nr);
/* Unpins everything pinned so far and frees the arrays. */
void memfd_pinned_free(struct memfd_pinned *pinned);

#endif /* _DMABRIDGE_MEMFD_PIN_H */
