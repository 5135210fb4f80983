// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Xen grant refs to and from dma-bufs: libxengnttab's four
 * xengnttab_dmabuf_* calls, and the three MAP calls of the proposal that
 * added ioctls 15 to 17, in the same shape, on dmabridge's
 * /dev/xen/gntdev-dmabuf (docs/xen.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/types.h>

/* The UAPI header uses the kernel's names for these. */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/gntdev.h>
#include "uapi/dmabridge/gntdev_map.h"

#include "internal.h"

int dmabridge_xen_open(void)
{
	int fd = open(DMABRIDGE_XEN_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* The kernel's limit is a module parameter; this only keeps sizes sane. */
static int dmb_xen_count_ok(uint32_t count)
{
	return count && count <= (INT_MAX - 64) / sizeof(uint32_t);
}

int dmabridge_xen_exp_from_refs(int dev, uint32_t domid, uint32_t flags,
				uint32_t count, const uint32_t *refs,
				int *dmabuf_fd)
{
	struct ioctl_gntdev_dmabuf_exp_from_refs *op;
	int ret;

	if (!dmb_xen_count_ok(count) || !refs || !dmabuf_fd)
		return -EINVAL;
	op = calloc(1, sizeof(*op) + count * sizeof(uint32_t));
	if (!op)
		return -ENOMEM;
	op->flags = flags;
	op->count = count;
	op->domid = domid;
	memcpy(op->refs, refs, count * sizeof(uint32_t));
	ret = ioctl(dev, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, op) ? -errno : 0;
	if (!ret)
		*dmabuf_fd = (int)op->fd;
	free(op);
	return ret;
}

/*
 * The two WAIT_RELEASED ioctls take the same struct, and so do the two
 * RELEASE ones: an fd and a timeout, an fd and a reserved word.
 */
static int dmb_xen_wait(int dev, unsigned long cmd, int dmabuf_fd,
			uint32_t wait_to_ms)
{
	struct ioctl_gntdev_dmabuf_exp_wait_released op = {
		.fd = (uint32_t)dmabuf_fd,
		.wait_to_ms = wait_to_ms,
	};

	if (dmabuf_fd < 0)
		return -EBADF;
	return ioctl(dev, cmd, &op) ? -errno : 0;
}

static int dmb_xen_release(int dev, unsigned long cmd, int dmabuf_fd)
{
	struct ioctl_gntdev_dmabuf_imp_release op = {
		.fd = (uint32_t)dmabuf_fd,
	};

	if (dmabuf_fd < 0)
		return -EBADF;
	return ioctl(dev, cmd, &op) ? -errno : 0;
}

int dmabridge_xen_exp_wait_released(int dev, int dmabuf_fd,
				    uint32_t wait_to_ms)
{
	return dmb_xen_wait(dev, IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED,
			    dmabuf_fd, wait_to_ms);
}

int dmabridge_xen_imp_to_refs(int dev, uint32_t domid, int dmabuf_fd,
			      uint32_t count, uint32_t *refs)
{
	struct ioctl_gntdev_dmabuf_imp_to_refs *op;
	int ret;

	if (dmabuf_fd < 0)
		return -EBADF;
	if (!dmb_xen_count_ok(count) || !refs)
		return -EINVAL;
	op = calloc(1, sizeof(*op) + count * sizeof(uint32_t));
	if (!op)
		return -ENOMEM;
	op->fd = (uint32_t)dmabuf_fd;
	op->count = count;
	op->domid = domid;
	ret = ioctl(dev, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, op) ? -errno : 0;
	if (!ret)
		memcpy(refs, op->refs, count * sizeof(uint32_t));
	free(op);
	return ret;
}

int dmabridge_xen_imp_release(int dev, int dmabuf_fd)
{
	return dmb_xen_release(dev, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, dmabuf_fd);
}

int dmabridge_xen_map_refs_to_buf(int dev, uint32_t domid, uint32_t flags,
				  uint32_t count, const uint32_t *refs,
				  int dmabuf_fd, uint32_t data_ofs)
{
	struct ioctl_gntdev_dmabuf_map_refs_to_buf *op;
	int ret;

	if (dmabuf_fd < 0)
		return -EBADF;
	if (!dmb_xen_count_ok(count) || !refs)
		return -EINVAL;
	op = calloc(1, sizeof(*op) + count * sizeof(uint32_t));
	if (!op)
		return -ENOMEM;
	op->flags = flags;
	op->count = count;
	op->data_ofs = data_ofs;
	op->fd = (uint32_t)dmabuf_fd;
	op->domid = domid;
	memcpy(op->refs, refs, count * sizeof(uint32_t));
	ret = ioctl(dev, IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF, op) ? -errno : 0;
	free(op);
	return ret;
}

int dmabridge_xen_map_release(int dev, int dmabuf_fd)
{
	return dmb_xen_release(dev, IOCTL_GNTDEV_DMABUF_MAP_RELEASE, dmabuf_fd);
}

int dmabridge_xen_map_wait_released(int dev, int dmabuf_fd,
				    uint32_t wait_to_ms)
{
	return dmb_xen_wait(dev, IOCTL_GNTDEV_DMABUF_MAP_WAIT_RELEASED,
			    dmabuf_fd, wait_to_ms);
}

/*
 * The PV page directory of Xen's display and sound protocols
 * (xen/interface/io/displif.h, sndif.h): a chain of granted pages, each
 * the ref of the next page (0 ends the chain) and then as many buffer refs
 * as fit.
 */
#define DMB_XEN_PAGE		4096u
#define DMB_XEN_DIR_REFS	(DMB_XEN_PAGE / sizeof(uint32_t) - 1)

uint32_t dmabridge_xen_pgdir_pages(uint32_t nrefs)
{
	/* Rounded up without a sum that wraps where size_t is 32 bits. */
	return nrefs / DMB_XEN_DIR_REFS + (nrefs % DMB_XEN_DIR_REFS != 0);
}

int dmabridge_xen_pgdir_build(void *const *dir, const uint32_t *dir_refs,
			      uint32_t ndir, const uint32_t *refs,
			      uint32_t nrefs)
{
	uint32_t i, n;

	if (!dir || !dir_refs || !refs || !nrefs ||
	    ndir != dmabridge_xen_pgdir_pages(nrefs))
		return -EINVAL;
	for (i = 0; i < ndir; i++) {
		uint32_t *page = dir[i];

		n = nrefs - i * DMB_XEN_DIR_REFS;
		if (n > DMB_XEN_DIR_REFS)
			n = DMB_XEN_DIR_REFS;
		memset(page, 0, DMB_XEN_PAGE);
		page[0] = i + 1 < ndir ? dir_refs[i + 1] : 0;
		memcpy(page + 1, refs + i * DMB_XEN_DIR_REFS, n * sizeof(uint32_t));
	}
	return 0;
}

int dmabridge_xen_pgdir_parse(const void *dir_page, uint32_t *next_ref,
			      uint32_t *refs, uint32_t max)
{
	const uint32_t *page = dir_page;
	uint32_t n = max < DMB_XEN_DIR_REFS ? max : DMB_XEN_DIR_REFS;

	if (!dir_page || !next_ref || (!refs && max))
		return -EINVAL;
	*next_ref = page[0];
	memcpy(refs, page + 1, n * sizeof(uint32_t));
	return (int)n;
}
