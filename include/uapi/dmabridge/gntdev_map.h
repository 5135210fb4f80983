/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Grant refs mapped onto an existing dma-buf as its backing storage, on
 * /dev/xen/gntdev-dmabuf, next to the four upstream gntdev dma-buf ioctls
 * of <xen/gntdev.h>.
 *
 * Numbers and layouts are those of the 2023 proposal for xen-gntdev
 * ("xen: add dmabuf map ioctls"), which was never merged, so programs
 * written against it build unchanged.  The semantics are dmabridge's,
 * made to answer why it was rejected (docs/xen.md):
 *
 *  - MAP_REFS_TO_BUF takes a dma-buf that, at that moment, has no
 *    attachment, no kernel or user CPU mapping and no unsignaled fence,
 *    and whose memory is ordinary pages; anything else is -EBUSY (in use)
 *    or -EINVAL (not pages).  @count refs of domain @domid then back the
 *    pages starting at byte @data_ofs (page aligned) of the buffer: a
 *    device mapping the buffer from now on reaches the peer's frames.
 *  - Until MAP_RELEASE the buffer is held exclusively: new attachments,
 *    mmap() and vmap of it get -EBUSY.  The exporter's own use of its
 *    memory (the owning driver's device) is what the mapping is for.
 *  - MAP_RELEASE (an open descriptor of the buffer) puts the original
 *    pages back, with their contents in x86 PV domains, once every fence
 *    on the buffer has signaled; it returns at once and the release
 *    completes in the background when fences are pending.
 *  - MAP_WAIT_RELEASED (the descriptor number given to MAP_REFS_TO_BUF,
 *    which may be closed by now) waits up to @wait_to_ms for the grants to
 *    be unmapped: 0, -ETIMEDOUT, or -ENOENT when no such mapping lives.
 */
#ifndef _UAPI_DMABRIDGE_GNTDEV_MAP_H
#define _UAPI_DMABRIDGE_GNTDEV_MAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#ifndef IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF

#define IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF \
	_IOC(_IOC_NONE, 'G', 15, \
	     sizeof(struct ioctl_gntdev_dmabuf_map_refs_to_buf))
struct ioctl_gntdev_dmabuf_map_refs_to_buf {
	/* IN: GNTDEV_DMA_FLAG_* of <xen/gntdev.h>; none is supported. */
	__u32 flags;
	/* IN: number of grant refs in @refs. */
	__u32 count;
	/* IN: byte offset in the buffer of the first mapped page. */
	__u32 data_ofs;
	/* IN: the dma-buf. */
	__u32 fd;
	/* IN: the domain that granted @refs. */
	__u32 domid;
	/*
	 * IN: @count grant refs.  One element, not a flexible array, as in
	 * <xen/gntdev.h>: the struct's size is part of the ioctl number.
	 */
	__u32 refs[1];
};

#define IOCTL_GNTDEV_DMABUF_MAP_RELEASE \
	_IOC(_IOC_NONE, 'G', 16, \
	     sizeof(struct ioctl_gntdev_dmabuf_map_release))
struct ioctl_gntdev_dmabuf_map_release {
	/* IN: an open descriptor of a buffer mapped on this file. */
	__u32 fd;
	/* Must be zero. */
	__u32 reserved;
};

#define IOCTL_GNTDEV_DMABUF_MAP_WAIT_RELEASED \
	_IOC(_IOC_NONE, 'G', 17, \
	     sizeof(struct ioctl_gntdev_dmabuf_map_wait_released))
struct ioctl_gntdev_dmabuf_map_wait_released {
	/* IN: the descriptor number given to MAP_REFS_TO_BUF. */
	__u32 fd;
	/* IN: how long to wait, in milliseconds. */
	__u32 wait_to_ms;
};

#endif /* IOCTL_GNTDEV_DMABUF_MAP_REFS_TO_BUF */

#endif /* _UAPI_DMABRIDGE_GNTDEV_MAP_H */
