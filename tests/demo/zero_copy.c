// SPDX-License-Identifier: GPL-2.0
/*
 * The README's demonstration, run by `make demo` in a guest: a memfd becomes
 * a dma-buf, vgem imports it through DRM PRIME, and the test importer, which
 * plays a DMA device, reads and writes it through the DMA addresses it was
 * given.  It shows that the device addresses are the memfd's own pages, so
 * the bytes are shared, never copied.  Exits 0 only if everything held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <drm/drm.h>
#include <linux/dma-buf.h>

#include "dmabridge_test_util.h"

#define SIZE (1UL << 20)
#define PAGE 4096UL

static int failures;

static void check(int ok, const char *what)
{
	printf("  %s  %s\n", ok ? "yes" : "NO ", what);
	failures += !ok;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "zero_copy: %s: %s\n", what, strerror(-err));
	return 1;
}

/* Physical address of the page mapped at addr, from /proc/self/pagemap. */
static uint64_t phys_addr(const void *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (uintptr_t)addr / PAGE * sizeof(entry);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), off) != sizeof(entry))
		entry = 0;
	close(fd);
	if (!(entry >> 63))
		return 0;
	return (entry & ((1ULL << 55) - 1)) * PAGE;
}

int main(void)
{
	struct drm_prime_handle prime = { 0 };
	struct dmabridge_ti_segment seg;
	struct dmabridge_ti_info info;
	int dev, memfd, buf, vgem, ti, err;
	uint8_t *mem, *seen;

	printf("1. A memfd of 1 MiB, sealed against shrinking, filled with a pattern\n");
	memfd = memfd_sealed("demo", SIZE, 0);
	if (memfd < 0)
		return fail("memfd", memfd);
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		return fail("mmap memfd", -errno);
	pat_fill(mem, 0, SIZE, 1);

	printf("2. UDMABUF_CREATE on %s turns it into a dma-buf\n",
	       udmabuf_dev_path());
	dev = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail(udmabuf_dev_path(), -errno);
	buf = udmabuf_create(dev, memfd, 0, SIZE, UDMABUF_FLAGS_CLOEXEC);
	if (buf < 0)
		return fail("UDMABUF_CREATE", buf);

	printf("3. vgem, a DRM driver, imports it through PRIME\n");
	vgem = vgem_open();
	if (vgem < 0)
		return fail("vgem", vgem);
	prime.fd = buf;
	if (ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime))
		return fail("DRM_IOCTL_PRIME_FD_TO_HANDLE", -errno);
	check(prime.handle != 0, "vgem attached and mapped the buffer (GEM handle)");
	/*
	 * vgem maps for reading and writing but never syncs: under
	 * swiotlb=force its stale bounce buffer would be copied back over
	 * what the next device writes, so let it go before that device comes.
	 */
	if (ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &(struct drm_gem_close){
		  .handle = prime.handle }))
		return fail("DRM_IOCTL_GEM_CLOSE", -errno);

	printf("4. The test importer attaches as a DMA device and reads through its DMA addresses\n");
	ti = ti_open();
	if (ti < 0)
		return fail(DMABRIDGE_TI_DEVICE, -errno);
	err = ti_attach(ti, 0, buf, DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0);
	if (!err)
		err = ti_info(ti, 0, &info);
	if (!err)
		err = ti_segment(ti, 0, 0, &seg);
	if (err)
		return fail("importer attach", err);
	printf("   %u DMA segment(s); the first, %llu bytes, is at DMA address 0x%llx\n",
	       info.dma_nents, (unsigned long long)seg.len,
	       (unsigned long long)seg.dma_addr);
	printf("   the memfd's first page is at physical address 0x%llx\n",
	       (unsigned long long)phys_addr(mem));
	if (seg.seg_flags & DMABRIDGE_TI_SEG_BOUNCED)
		printf("   (swiotlb=force: the device sees a bounce buffer, synced by the exporter)\n");
	else
		check(seg.dma_addr == phys_addr(mem),
		      "the device addresses the memfd's own page: no copy");

	seen = malloc(SIZE);
	if (!seen)
		return fail("malloc", -ENOMEM);
	err = ti_read(ti, 0, 0, seen, SIZE);
	if (err)
		return fail("DMA read", err);
	check(pat_check(seen, 0, SIZE, 1) < 0,
	      "the device reads the bytes written into the memfd");

	printf("5. New bytes written into the memfd after the import\n");
	/* CPU access is bracketed by syncs, as the dma-buf contract asks. */
	dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	pat_fill(mem, 0, SIZE, 2);
	dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	err = ti_read(ti, 0, 0, seen, SIZE);
	if (err)
		return fail("DMA read", err);
	check(pat_check(seen, 0, SIZE, 2) < 0,
	      "the device sees them at once: the same memory, not a copy");

	printf("6. The device writes; the memfd sees it\n");
	pat_fill(seen, 0, SIZE, 3);
	err = ti_write(ti, 0, 0, seen, SIZE);
	if (err)
		return fail("DMA write", err);
	dmabuf_sync(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	check(pat_check(mem, 0, SIZE, 3) < 0,
	      "the memfd holds the device's bytes");
	dmabuf_sync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);

	ti_detach(ti, 0);
	close(ti);
	close(vgem);
	close(buf);
	close(dev);
	munmap(mem, SIZE);
	close(memfd);
	free(seen);
	printf("%s\n", failures ? "FAILED" : "zero copy: every check held");
	return failures ? 1 : 0;
}
