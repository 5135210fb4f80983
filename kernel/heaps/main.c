// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge_heaps: dma-buf heaps (/dev/dma_heap/<name>) with upstream's
 * UAPI on kernels that lack them.  See docs/heaps.md.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include <dmabridge/compat.h>
#include <dmabridge/version.h>

#include "heap.h"

bool dmabridge_memcg_account = true;
module_param_named(memcg_account, dmabridge_memcg_account, bool, 0644);
MODULE_PARM_DESC(memcg_account,
		 "Charge heap memory to the allocating process's memory cgroup (default Y)");

static int __init dmabridge_heaps_init(void)
{
	int ret;

	ret = dmabridge_pools_init();
	if (ret)
		return ret;
	ret = dmabridge_heap_framework_init();
	if (ret)
		goto err_pools;
	ret = dmabridge_system_heaps_init();
	if (ret)
		goto err_framework;
	/* Last, and never failing: the system heaps may be in use by now. */
	dmabridge_contiguous_init();
	return 0;

err_framework:
	dmabridge_heap_framework_exit();
err_pools:
	dmabridge_pools_exit();
	return ret;
}

static void __exit dmabridge_heaps_exit(void)
{
	dmabridge_contiguous_exit();
	dmabridge_system_heaps_exit();
	dmabridge_heap_framework_exit();
	dmabridge_pools_exit();
}

module_init(dmabridge_heaps_init);
module_exit(dmabridge_heaps_exit);

MODULE_DESCRIPTION("dmabridge dma-buf heaps: system, system-uncached, contiguous");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_DMA_BUF();
DMABRIDGE_IMPORT_NS_CORE();
