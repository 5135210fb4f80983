// SPDX-License-Identifier: GPL-2.0
/*
 * Pinning memfd pages for the lifetime of a udmabuf.
 *
 * From 6.11 the kernel has memfd_pin_folios(), a real long-term pin: it
 * moves pages out of ZONE_MOVABLE and CMA first and marks them
 * maybe-DMA-pinned, which is what a device buffer needs.  Older kernels
 * (Debian's 6.1) do not export it; there we hold a page reference on each
 * page, which is what upstream's udmabuf did before memfd_pin_folios()
 * existed: a referenced shmem or hugetlb page cannot be migrated, reclaimed
 * or freed, though it may sit in a movable zone.
 */
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>

#include "memfd_pin.h"

int memfd_pinned_alloc(struct memfd_pinned *pinned,
		       struct dmabridge_pages *buf, pgoff_t capacity)
{
	*pinned = (struct memfd_pinned){ .buf = buf, .capacity = capacity };
	buf->nr_runs = 0;
	buf->nr_pages = 0;
	if (capacity == 1) {
		buf->runs = &pinned->one_run;
		pinned->folios = &pinned->one_folio;
		return 0;
	}
	/*
	 * At worst no two pages are physically contiguous.  Sized by the
	 * request before any memfd is looked at: charged to the caller.
	 */
	buf->runs = kvmalloc_array(capacity, sizeof(*buf->runs),
				   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf->runs)
		return -ENOMEM;
#ifdef DMABRIDGE_HAVE_MEMFD_PIN_FOLIOS
	/* At worst every page is a folio of its own. */
	pinned->folios = kvmalloc_array(capacity, sizeof(*pinned->folios),
					GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!pinned->folios) {
		kvfree(buf->runs);
		return -ENOMEM;
	}
#endif
	return 0;
}

static void memfd_free_runs(struct memfd_pinned *pinned)
{
	if (pinned->buf->runs != &pinned->one_run)
		kvfree(pinned->buf->runs);
}

/* @used of @capacity elements of *@array into an array of their size. */
static void memfd_trim_array(void **array, size_t size,
			     unsigned long used, unsigned long capacity)
{
	void *trimmed;

	/* Not worth an allocation and a copy for less than a page. */
	if ((capacity - used) * size < PAGE_SIZE)
		return;
	/* Charged as the array it replaces was: it lives as long. */
	trimmed = kvmalloc_array(max(used, 1UL), size, GFP_KERNEL_ACCOUNT);
	if (!trimmed)
		return;
	memcpy(trimmed, *array, used * size);
	kvfree(*array);
	*array = trimmed;
}

void memfd_pinned_trim(struct memfd_pinned *pinned)
{
	struct dmabridge_pages *buf = pinned->buf;

	memfd_trim_array((void **)&buf->runs, sizeof(*buf->runs),
			 buf->nr_runs, pinned->capacity);
#ifdef DMABRIDGE_HAVE_MEMFD_PIN_FOLIOS
	memfd_trim_array((void **)&pinned->folios, sizeof(*pinned->folios),
			 pinned->nr_folios, pinned->capacity);
#endif
	/* Nothing more may be pinned into the arrays. */
	pinned->capacity = 0;
}

/*
 * Writes through the buffer (a device's DMA, our PFN mappings, a vmap)
 * dirty no struct page, and shmem hands out hole pages clean: unless they
 * are marked dirty before the pin goes, reclaim or drop_caches may later
 * throw away what was written as if it were still zeroes.  As
 * unpin_user_pages_dirty_lock() does, a folio dirty already is left alone.
 */
static void memfd_folio_written(struct folio *folio)
{
	if (!folio_test_dirty(folio))
		set_page_dirty_lock(folio_page(folio, 0));
}

#ifdef DMABRIDGE_HAVE_MEMFD_PIN_FOLIOS

int memfd_pin_range(struct memfd_pinned *pinned, struct file *memfd,
		    loff_t start, pgoff_t nr)
{
	struct folio **folios = pinned->folios + pinned->nr_folios;
	unsigned long max_folios = pinned->capacity - pinned->nr_folios;
	loff_t end = start + ((loff_t)nr << PAGE_SHIFT) - 1;
	pgoff_t done = 0, first_offset;
	long nr_folios, i;

	if (WARN_ON_ONCE(nr > pinned->capacity - pinned->buf->nr_pages))
		return -EINVAL;

	nr_folios = memfd_pin_folios(memfd, start, end, folios,
				     min_t(unsigned long, max_folios, nr),
				     &first_offset);
	if (nr_folios <= 0)
		return nr_folios ? nr_folios : -EINVAL;
	pinned->nr_folios += nr_folios;

	/* Only the first folio of the range starts part-way in. */
	for (i = 0; i < nr_folios && done < nr; i++) {
		pgoff_t first = i ? 0 : first_offset >> PAGE_SHIFT;
		pgoff_t n = min(folio_nr_pages(folios[i]) - first, nr - done);

		dmabridge_pages_add(pinned->buf, folio_page(folios[i], first),
				    n);
		done += n;
	}
	if (done < nr)
		return -EINVAL;
	return 0;
}

void memfd_pinned_free(struct memfd_pinned *pinned, bool written)
{
	unsigned long i;

	for (i = 0; written && i < pinned->nr_folios; i++)
		memfd_folio_written(pinned->folios[i]);
	unpin_folios(pinned->folios, pinned->nr_folios);
	if (pinned->folios != &pinned->one_folio)
		kvfree(pinned->folios);
	memfd_free_runs(pinned);
}

#else /* !DMABRIDGE_HAVE_MEMFD_PIN_FOLIOS */

static bool memfd_is_hugetlb(struct file *memfd)
{
	return file_inode(memfd)->i_sb->s_magic == HUGETLBFS_MAGIC;
}

/*
 * Items may name the same pages again and again, and these kernels take
 * plain references that nothing checks: stop far below the wrap, where a
 * put would free a page still mapped, as try_get_page() once did.
 */
static bool memfd_ref_would_overflow(int refs)
{
	return refs > INT_MAX / 2;
}

static pgoff_t memfd_hugetlb_index(struct hstate *h, loff_t pos)
{
	pgoff_t index = pos >> huge_page_shift(h);

	/*
	 * From 6.7 on the hugetlb page cache is indexed in base pages, as
	 * every other one is; 6.11 brought memfd_pin_folios() and the other
	 * path.  A huge-page index there would name the wrong folio.
	 */
#ifdef DMABRIDGE_HAVE_HUGETLB_BASE_PAGE_INDEX
	index <<= huge_page_order(h);
#endif
	return index;
}

/*
 * Hugetlb pages are never allocated on lookup here: the caller must have
 * faulted or fallocated them, as with upstream's udmabuf on these kernels.
 */
static int memfd_pin_hugetlb(struct memfd_pinned *pinned, struct file *memfd,
			     loff_t start, pgoff_t nr)
{
	struct hstate *h = hstate_file(memfd);
	pgoff_t done = 0;

	while (done < nr) {
		loff_t pos = start + ((loff_t)done << PAGE_SHIFT);
		struct folio *folio;
		unsigned long sub, n;

		folio = __filemap_get_folio(memfd->f_mapping,
					    memfd_hugetlb_index(h, pos), 0, 0);
		if (IS_ERR_OR_NULL(folio))
			return -EINVAL;

		sub = (pos & ~huge_page_mask(h)) >> PAGE_SHIFT;
		n = min(folio_nr_pages(folio) - sub, nr - done);
		if (memfd_ref_would_overflow(folio_ref_count(folio))) {
			folio_put(folio);
			return -EOVERFLOW;
		}
		/* A reference per page: memfd_pinned_free() puts each. */
		folio_ref_add(folio, n);
		dmabridge_pages_add(pinned->buf, folio_page(folio, sub), n);
		done += n;
		folio_put(folio);
	}
	return 0;
}

static int memfd_pin_shmem(struct memfd_pinned *pinned, struct file *memfd,
			   loff_t start, pgoff_t nr)
{
	struct address_space *mapping = memfd->f_mapping;
	pgoff_t index = start >> PAGE_SHIFT;
	pgoff_t i;

	for (i = 0; i < nr; i++) {
		/* Allocates the page if the memfd has a hole there. */
		struct page *page =
			shmem_read_mapping_page_gfp(mapping, index + i,
						    mapping_gfp_mask(mapping));
		struct folio *folio;

		if (IS_ERR(page))
			return PTR_ERR(page);
		/* The reference is the folio's: a THP's tail pages count 0. */
		folio = page_folio(page);
		if (memfd_ref_would_overflow(folio_ref_count(folio))) {
			put_page(page);
			return -EOVERFLOW;
		}
		dmabridge_pages_add(pinned->buf, page, 1);
	}
	return 0;
}

int memfd_pin_range(struct memfd_pinned *pinned, struct file *memfd,
		    loff_t start, pgoff_t nr)
{
	if (WARN_ON_ONCE(nr > pinned->capacity - pinned->buf->nr_pages))
		return -EINVAL;
	if (memfd_is_hugetlb(memfd))
		return memfd_pin_hugetlb(pinned, memfd, start, nr);
	return memfd_pin_shmem(pinned, memfd, start, nr);
}

void memfd_pinned_free(struct memfd_pinned *pinned, bool written)
{
	struct dmabridge_pages *buf = pinned->buf;
	unsigned long i;
	pgoff_t j;

	for (i = 0; i < buf->nr_runs; i++) {
		for (j = 0; j < dmabridge_run_pages(buf, i); j++) {
			struct page *page = nth_page(buf->runs[i].page, j);

			if (written)
				memfd_folio_written(page_folio(page));
			put_page(page);
		}
	}
	memfd_free_runs(pinned);
}

#endif /* DMABRIDGE_HAVE_MEMFD_PIN_FOLIOS */
