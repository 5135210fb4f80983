# SPDX-License-Identifier: GPL-2.0
# Feature tests against the kernel tree being built for.  Testing the
# headers rather than the version number also catches stable backports.
# Every Kbuild includes this file.

# $(call dmabridge_if_grep,FILE,PATTERN,DEFINE)
dmabridge_if_grep = $(shell grep -qsE '$(2)' $(srctree)/$(1) && echo -D$(3))

# kernel/include holds headers shared by the modules; the UAPI headers are
# in the repository's include/uapi, so a build copies kernel/ and include/
# side by side.
ccflags-y += -I$(src)/../include -I$(src)/../../include
ccflags-y += $(call dmabridge_if_grep,include/linux/mm.h,memfd_pin_folios,DMABRIDGE_HAVE_MEMFD_PIN_FOLIOS)
ccflags-y += $(call dmabridge_if_grep,include/linux/mm.h,void vm_flags_set,DMABRIDGE_HAVE_VM_FLAGS_SET)
# Asked only below 6.11, where memfd_pin_folios() is missing: from 6.7 the
# hugetlb page cache is indexed in base pages, and filemap_lock_hugetlb_folio()
# shifts its huge-page index by the huge page order.
ccflags-y += $(call dmabridge_if_grep,include/linux/hugetlb.h,idx << huge_page_order\(h\),DMABRIDGE_HAVE_HUGETLB_BASE_PAGE_INDEX)
ccflags-y += $(call dmabridge_if_grep,include/linux/dma-buf.h,dma_buf_vmap_unlocked,DMABRIDGE_HAVE_DMA_BUF_VMAP_UNLOCKED)
ccflags-y += $(call dmabridge_if_grep,include/linux/shrinker.h,shrinker_alloc,DMABRIDGE_HAVE_SHRINKER_ALLOC)
ccflags-y += $(call dmabridge_if_grep,include/linux/list_lru.h,list_lru_add_obj,DMABRIDGE_HAVE_LIST_LRU_ADD_OBJ)
ccflags-y += $(call dmabridge_if_grep,include/linux/iommu-dma.h,use_dma_iommu,DMABRIDGE_HAVE_USE_DMA_IOMMU)
ccflags-y += $(call dmabridge_if_grep,include/linux/device/class.h,devnode..const struct device,DMABRIDGE_HAVE_CONST_DEVNODE)

# A module may add heaps to the kernel's dma-buf heap framework only where
# it exports dma_heap_add() (the headers' Module.symvers says).
dmabridge_if_exported = $(shell grep -qsw '$(1)' $(objtree)/Module.symvers && echo -D$(2))
ccflags-y += $(call dmabridge_if_exported,dma_heap_add,DMABRIDGE_HAVE_DMA_HEAP_ADD)
dmabridge_ns_strings := $(call dmabridge_if_grep,include/linux/module.h,MODULE_INFO\(import_ns$(comma) ns\),DMABRIDGE_HAVE_NS_STRINGS)
ccflags-y += $(dmabridge_ns_strings)

# What a module exports goes into namespace DMABRIDGE (core/Kbuild uses it).
# The default namespace became a string literal before MODULE_IMPORT_NS did.
dmabridge_export_ns_ident := $(call dmabridge_if_grep,include/linux/export.h,__stringify\(DEFAULT_SYMBOL_NAMESPACE\),X)
dmabridge_export_ns := -DDEFAULT_SYMBOL_NAMESPACE=$(if $(dmabridge_export_ns_ident),DMABRIDGE,'"DMABRIDGE"')
