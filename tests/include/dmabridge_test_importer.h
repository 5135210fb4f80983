/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only UAPI of dmabridge_test_importer.ko.
 *
 * The module plays a DMA device: it attaches to any dma-buf, maps it for
 * one of its own devices and reads or writes the bytes behind the DMA
 * addresses the exporter handed out.  Those are the device's view of the
 * buffer, so a test that writes through the dma-buf's mmap() and reads
 * back through the importer (or the other way round) sees every missing or
 * misplaced DMA sync of the exporter once the guest bounces DMA through
 * swiotlb (boot with swiotlb=force).
 *
 * The importer never calls dma_sync_*() itself, just as a real device
 * cannot: only the exporter's map/unmap and begin/end_cpu_access
 * (DMA_BUF_IOCTL_SYNC) may move bytes between memory and a bounce buffer.
 * The direction given at ATTACH is what the importer tells the exporter;
 * reads are allowed on any mapping, writes need a mapping requested as
 * FROM_DEVICE or BIDIRECTIONAL.  An exporter may still have mapped the
 * buffer TO_DEVICE all the same: the importer cannot know, so
 * its writes then land in a bounce buffer that unmap discards, or, without
 * swiotlb, in memory, as a real device's would.
 *
 * Each open file is a session with DMABRIDGE_TI_MAX_SLOTS attachment
 * slots; closing it detaches all of them.  Every struct has explicit
 * padding and reserved fields: reserved fields and unknown flags must be
 * zero or the ioctl fails with EINVAL.
 *
 * Errors common to all ioctls: EINVAL for a bad slot, direction, flag,
 * reserved field or range; ENOENT for an empty slot; EFAULT for bad
 * pointers.  ATTACH: EBADF for a bad fd, EINVAL for an fd that is not a
 * dma-buf, EBUSY for a busy slot, and whatever the exporter's attach or
 * map returns (EPERM for a device-writable mapping of a read-only buffer).
 * DMA_READ/DMA_WRITE: EPERM for a write through a mapping requested as
 * TO_DEVICE, EOPNOTSUPP when the device does not use dma-direct (DMA
 * addresses are not CPU physical addresses), EIO for a DMA address the CPU
 * cannot reach (no struct page, not RAM), EINTR on a fatal signal.
 */
#ifndef _DMABRIDGE_TEST_IMPORTER_H
#define _DMABRIDGE_TEST_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMABRIDGE_TI_DEVICE		"/dev/dmabridge-test-importer"
#define DMABRIDGE_TI_MAX_SLOTS		4

/* Directions, as the importer asks for them in dma_buf_map_attachment(). */
#define DMABRIDGE_TI_DIR_TO_DEVICE	1	/* device reads memory */
#define DMABRIDGE_TI_DIR_FROM_DEVICE	2	/* device writes memory */
#define DMABRIDGE_TI_DIR_BIDIRECTIONAL	3

/* ATTACH flags */
/* Use the importer's device with a 32-bit DMA mask instead of 64-bit. */
#define DMABRIDGE_TI_ATTACH_DMA32	0x1U
/*
 * Use a device (64-bit mask) whose DMA segments must not cross a 16 KiB
 * boundary; not with DMA32.
 */
#define DMABRIDGE_TI_ATTACH_SEG_BOUNDARY_16K	0x2U
#define DMABRIDGE_TI_SEG_BOUNDARY_16K		(16384ULL - 1)
#define DMABRIDGE_TI_ATTACH_FLAGS_ALL	(DMABRIDGE_TI_ATTACH_DMA32 | \
					 DMABRIDGE_TI_ATTACH_SEG_BOUNDARY_16K)

/* dma_buf_attach() + dma_buf_map_attachment(); the mapping stays. */
struct dmabridge_ti_attach {
	__s32 fd;		/* in: dma-buf fd; the session takes a ref */
	__u32 slot;		/* in: < DMABRIDGE_TI_MAX_SLOTS, must be free */
	__u32 dir;		/* in: DMABRIDGE_TI_DIR_* */
	__u32 flags;		/* in: DMABRIDGE_TI_ATTACH_* */
	__u64 reserved[2];	/* in: zero */
};

/* dma_buf_unmap_attachment() + dma_buf_detach(); drops the dma-buf ref. */
struct dmabridge_ti_detach {
	__u32 slot;		/* in */
	__u32 flags;		/* in: zero */
	__u64 reserved;		/* in: zero */
};

/*
 * DMA_READ copies len bytes at offset of the mapping into ptr; DMA_WRITE
 * copies them from ptr into the mapping.  The offset counts bytes along
 * the DMA segments in sg order, which for every exporter that maps the
 * whole buffer in order is the offset in the dma-buf.
 * offset + len must not exceed the mapped length; len may be 0.
 */
/*
 * XFER flag DMABRIDGE_TI_XFER_VMAP: instead of the DMA addresses, go
 * through the kernel's CPU mapping of the dma-buf (dma_buf_vmap()),
 * bracketed by dma_buf_begin/end_cpu_access() as a kernel importer that
 * touches the buffer with its CPU must.  offset is then a byte offset in
 * the dma-buf and offset + len must not exceed its size.
 */
#define DMABRIDGE_TI_XFER_VMAP		0x1U
#define DMABRIDGE_TI_XFER_FLAGS_ALL	DMABRIDGE_TI_XFER_VMAP

struct dmabridge_ti_xfer {
	__u32 slot;		/* in */
	__u32 flags;		/* in: DMABRIDGE_TI_XFER_* */
	__u64 offset;		/* in */
	__u64 len;		/* in */
	__u64 ptr;		/* in: user buffer of len bytes */
	__u64 reserved[2];	/* in: zero */
};

/* INFO info_flags */
/* DMA addresses are CPU physical addresses: DMA_READ/DMA_WRITE work. */
#define DMABRIDGE_TI_INFO_DMA_DIRECT	0x1U
/* Each DMA segment starts where the previous one ends. */
#define DMABRIDGE_TI_INFO_CONTIGUOUS	0x2U

struct dmabridge_ti_info {
	__u32 slot;		/* in */
	__u32 flags;		/* in: zero */
	__u64 dmabuf_size;	/* out: size of the dma-buf */
	__u64 mapped_len;	/* out: sum of the DMA segment lengths */
	__u64 max_seg_len;	/* out: longest DMA segment */
	__u64 dev_max_seg_size;	/* out: dma_get_max_seg_size() of the device */
	__u32 nents;		/* out: CPU scatterlist entries */
	__u32 dma_nents;	/* out: DMA segments */
	__u32 bounced_segs;	/* out: DMA segments that are DMABRIDGE_TI_SEG_BOUNCED */
	__u32 info_flags;	/* out: DMABRIDGE_TI_INFO_* */
	__u32 dir;		/* out: direction given at ATTACH */
	__u32 attach_flags;	/* out: flags given at ATTACH */
	__u32 dma_mask_bits;	/* out: 64 or 32 */
	__u32 pad;		/* in: zero; out: zero */
	__u64 reserved[4];	/* in: zero; out: zero */
};

/* SEGMENT seg_flags */
/*
 * The device sees a copy, not the CPU's page: the DMA address is not the
 * physical address of the scatterlist entry's page (swiotlb bounced it).
 */
#define DMABRIDGE_TI_SEG_BOUNCED	0x1U

/* One DMA segment of the mapping, by index < dma_nents. */
struct dmabridge_ti_segment {
	__u32 slot;		/* in */
	__u32 index;		/* in */
	__u32 flags;		/* in: zero */
	__u32 seg_flags;	/* out: DMABRIDGE_TI_SEG_* */
	__u64 offset;		/* out: offset of the segment in the mapping */
	__u64 len;		/* out */
	__u64 dma_addr;		/* out */
	__u64 reserved[2];	/* in: zero; out: zero */
};

#define DMABRIDGE_TI_IOC_MAGIC		0xDB

#define DMABRIDGE_TI_IOC_ATTACH \
	_IOW(DMABRIDGE_TI_IOC_MAGIC, 0x80, struct dmabridge_ti_attach)
#define DMABRIDGE_TI_IOC_DETACH \
	_IOW(DMABRIDGE_TI_IOC_MAGIC, 0x81, struct dmabridge_ti_detach)
#define DMABRIDGE_TI_IOC_DMA_READ \
	_IOW(DMABRIDGE_TI_IOC_MAGIC, 0x82, struct dmabridge_ti_xfer)
#define DMABRIDGE_TI_IOC_DMA_WRITE \
	_IOW(DMABRIDGE_TI_IOC_MAGIC, 0x83, struct dmabridge_ti_xfer)
#define DMABRIDGE_TI_IOC_INFO \
	_IOWR(DMABRIDGE_TI_IOC_MAGIC, 0x84, struct dmabridge_ti_info)
#define DMABRIDGE_TI_IOC_SEGMENT \
	_IOWR(DMABRIDGE_TI_IOC_MAGIC, 0x85, struct dmabridge_ti_segment)

#endif /* _DMABRIDGE_TEST_IMPORTER_H */
