/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A dma-buf exporter for buffers made of struct pages.
 *
 * Every dmabridge exporter whose memory is made of pages (udmabuf, the
 * heaps) hands the same things to importers: a DMA mapping per
 * attachment, CPU access that syncs every live mapping, mmap and vmap.
 * The owner fills in a struct dmabridge_pages, exports it with
 * dmabridge_pages_export() and gets its release callback when the last
 * reference to the dma-buf is gone.
 *
 * A buffer is kept as runs of physically contiguous pages, not as a page
 * per entry: a heap buffer of 1 MiB chunks then costs 16 bytes per MiB
 * for its whole life instead of 2 KiB, as upstream's sg table per chunk.
 */
#ifndef _DMABRIDGE_PAGES_H
#define _DMABRIDGE_PAGES_H

#include <linux/dma-buf.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>

struct dmabridge_pages;

struct dmabridge_pages_ops {
	/* Called once, after the last user of the dma-buf is gone. */
	void (*release)(struct dmabridge_pages *buf);
};

/* Pages [offset, next run's offset) of the buffer, physically contiguous. */
struct dmabridge_pages_run {
	struct page *page;
	pgoff_t offset;
};

struct dmabridge_pages {
	/*
	 * In buffer order, the first at offset 0, the last ending at
	 * nr_pages.  The owner allocates runs[] and fills it (and the
	 * counts) with dmabridge_pages_add().
	 */
	struct dmabridge_pages_run *runs;
	unsigned long nr_runs;
	pgoff_t nr_pages;
	/* O_RDWR, O_RDONLY or O_WRONLY: the dma-buf file's access mode. */
	int file_mode;
	/*
	 * Nothing may write through the buffer: the file is O_RDONLY, CPU
	 * mappings are read-only and importers only get DMA_TO_DEVICE
	 * mappings.
	 */
	bool read_only;
	/*
	 * CPU mappings (mmap, vmap) are write-combined.  The owner must have
	 * made the pages safe for that (no dirty cache line, no cacheable
	 * alias).
	 */
	bool write_combine;
	const struct dmabridge_pages_ops *ops;

	/* Private to the core from here on. */
	struct mutex lock;		/* attachments, vaddr */
	struct list_head attachments;
	void *vaddr;
};

/*
 * Appends @nr pages from @page to @buf, whose runs[] must have room for
 * one more run: the last run grows if @page follows it physically.
 */
void dmabridge_pages_add(struct dmabridge_pages *buf, struct page *page,
			 pgoff_t nr);

/* The number of pages of run @i. */
static inline pgoff_t dmabridge_run_pages(const struct dmabridge_pages *buf,
					  unsigned long i)
{
	pgoff_t end = i + 1 < buf->nr_runs ? buf->runs[i + 1].offset :
					     buf->nr_pages;

	return end - buf->runs[i].offset;
}

/*
 * Exports @buf (runs, file_mode, read_only, write_combine and ops filled
 * in) as a dma-buf.
 * On success the dma-buf owns @buf and calls ops->release when it dies; on
 * failure @buf is untouched and still the caller's.  @owner is the module
 * that must stay loaded while the dma-buf lives (the one holding ops).
 */
struct dma_buf *dmabridge_pages_export(struct dmabridge_pages *buf,
				       struct module *owner,
				       const char *exp_name);

/*
 * Gives @dmabuf to userspace as a new fd with @fd_flags, for an ioctl that
 * writes the fd into its argument: the fd is stored in *@fd_out (a field
 * of @karg), @size bytes of @karg are copied to @uarg, and only then is
 * the fd installed, so that a failed copy (-EFAULT) leaves no fd behind.
 * Takes over the caller's reference to @dmabuf, on failure too.
 */
int dmabridge_dma_buf_fd_to_user(struct dma_buf *dmabuf, u32 fd_flags,
				 void __user *uarg, const void *karg,
				 size_t size, u32 *fd_out);

#endif /* _DMABRIDGE_PAGES_H */
