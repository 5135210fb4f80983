// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge_core: what the dmabridge capability modules share.  It has no
 * device of its own; loading it only makes its helpers available.
 */
#include <linux/module.h>

#include <dmabridge/compat.h>
#include <dmabridge/version.h>

MODULE_DESCRIPTION("dmabridge shared core: page-backed dma-buf exporter");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_DMA_BUF();
