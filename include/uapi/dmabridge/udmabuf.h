/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmabridge extensions to the udmabuf UAPI.
 *
 * The ioctls, structs and flags of <linux/udmabuf.h> are used unchanged;
 * this header only adds flags that upstream does not have.  They are taken
 * from the top of the 32-bit flags word so that flags upstream may add
 * later (allocated from bit 0 upwards) never collide with them.  A kernel
 * without the extension rejects them with EINVAL (dmabridge) or ignores
 * them (upstream, which does not check flags); callers that need the
 * guarantee must check that the device is dmabridge's.
 */
#ifndef _UAPI_DMABRIDGE_UDMABUF_H
#define _UAPI_DMABRIDGE_UDMABUF_H

#include <linux/udmabuf.h>

/*
 * DMABRIDGE_UDMABUF_FLAGS_READONLY: nothing may write through the buffer.
 *
 * mmap() of the dma-buf with PROT_WRITE fails with EACCES and mprotect()
 * cannot add write access later; kernel vmaps are read-only; importers get
 * DMA mappings in the DMA_TO_DEVICE direction only (device reads memory),
 * and a request for a DMA_FROM_DEVICE mapping fails with EPERM.  Because
 * nothing can write, memfds sealed with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE
 * are accepted.  F_SEAL_SHRINK is still required.
 */
#define DMABRIDGE_UDMABUF_FLAGS_READONLY	(1U << 31)

#define DMABRIDGE_UDMABUF_FLAGS_ALL \
	(UDMABUF_FLAGS_CLOEXEC | DMABRIDGE_UDMABUF_FLAGS_READONLY)

#endif /* _UAPI_DMABRIDGE_UDMABUF_H */
