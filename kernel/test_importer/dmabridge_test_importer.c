// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge test importer: a pretend DMA device for testing exporters.
 *
 * It attaches to a dma-buf, maps it and reads or writes the bytes behind
 * the DMA addresses of the mapping, which is what a device would see.  In
 * a guest booted with swiotlb=force those addresses point into bounce
 * buffers, so any DMA sync an exporter forgets shows up as wrong bytes.
 * It deliberately never syncs anything itself: a device cannot either.
 *
 * The UAPI is in tests/include/dmabridge_test_importer.h.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#ifdef DMABRIDGE_HAVE_USE_DMA_IOMMU
#include <linux/iommu-dma.h>
#endif
#include <linux/memremap.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/platform_device.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <dmabridge/compat.h>
#include <dmabridge/version.h>
#include <dmabridge_test_importer.h>

/*
 * The device views: a 64-bit DMA mask, a 32-bit one, and a 64-bit one
 * whose segments must not cross a 16 KiB boundary.
 */
#define TI_DEV_64	0
#define TI_DEV_32	1
#define TI_DEV_SEG16K	2
#define TI_NR_DEVS	3

static struct platform_device *ti_pdevs[TI_NR_DEVS];

struct ti_slot {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	enum dma_data_direction dir;
	u32 uapi_dir;
	u32 attach_flags;
	u64 mapped_len;
};

struct ti_session {
	/* Serialises the slots against concurrent ioctls on one file. */
	struct mutex lock;
	struct ti_slot slots[DMABRIDGE_TI_MAX_SLOTS];
};

/*
 * Whether the device sees a copy (a swiotlb bounce buffer, or any other
 * bounce) instead of the CPU's page.  Comparing addresses needs no swiotlb
 * internals, which changed between 6.1 and 6.12.  With dma-direct every
 * scatterlist entry is its own DMA segment, so the CPU side of a DMA
 * segment is the same entry's page; entries without a page never bounce.
 */
static bool ti_sg_bounced(struct device *dev, struct scatterlist *sg)
{
	if (!sg_page(sg))
		return false;
	return dma_to_phys(dev, sg_dma_address(sg)) != sg_phys(sg);
}

/*
 * Only with dma-direct is a DMA address a CPU physical address; with an
 * IOMMU or Xen's swiotlb it is not, and reading "through" it would read
 * the wrong memory.  The devices are never probed, so nothing attaches an
 * IOMMU to them, but a Xen PV guest installs global DMA ops.
 */
static bool ti_dma_is_direct(struct device *dev)
{
	if (get_dma_ops(dev))
		return false;
#ifdef DMABRIDGE_HAVE_USE_DMA_IOMMU
	/* From 6.12 the IOMMU path is taken without any DMA ops. */
	if (use_dma_iommu(dev))
		return false;
#endif
	return true;
}

/*
 * A page the CPU can reach through the linear map: RAM (swiotlb's pool is
 * RAM too) or generic device memory such as a memremap_pages()'d BAR.
 * Anything else (holes, device-private memory, P2P bus addresses) would
 * fault or read garbage; a test needs an error instead.
 */
static struct page *ti_reachable_page(phys_addr_t phys)
{
	unsigned long pfn = PHYS_PFN(phys);
	struct page *page;

	if (!pfn_valid(pfn))
		return NULL;
	page = pfn_to_page(pfn);
	if (is_zone_device_page(page))
		return page->pgmap->type == MEMORY_DEVICE_GENERIC ? page : NULL;
	return page_is_ram(pfn) ? page : NULL;
}

static int ti_copy_chunk(phys_addr_t phys, size_t len, void __user *uptr,
			 bool to_device)
{
	struct page *page = ti_reachable_page(phys);
	unsigned long left;
	void *vaddr;

	if (!page)
		return -EIO;

	vaddr = kmap_local_page(page);
	if (to_device)
		left = copy_from_user(vaddr + offset_in_page(phys), uptr, len);
	else
		left = copy_to_user(uptr, vaddr + offset_in_page(phys), len);
	kunmap_local(vaddr);

	return left ? -EFAULT : 0;
}

static int ti_xfer(struct ti_slot *slot, u64 offset, u64 len,
		   void __user *uptr, bool to_device)
{
	struct device *dev = slot->attach->dev;
	struct scatterlist *sg;
	u64 seg_start = 0;
	unsigned int i;
	int ret;

	for_each_sgtable_dma_sg(slot->sgt, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);
		u64 seg_len = sg_dma_len(sg);
		u64 pos;

		if (!len)
			break;
		if (offset >= seg_start + seg_len) {
			seg_start += seg_len;
			continue;
		}

		/*
		 * Translate every page on its own: a segment contiguous in
		 * DMA space need not be in CPU space (dma_range_map).
		 */
		for (pos = offset - seg_start; pos < seg_len && len;) {
			phys_addr_t phys = dma_to_phys(dev, addr + pos);
			size_t chunk = PAGE_SIZE - offset_in_page(phys);

			chunk = min_t(u64, chunk, seg_len - pos);
			chunk = min_t(u64, chunk, len);
			ret = ti_copy_chunk(phys, chunk, uptr, to_device);
			if (ret)
				return ret;

			pos += chunk;
			offset += chunk;
			len -= chunk;
			uptr += chunk;

			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
		seg_start += seg_len;
	}

	/* The range was checked against mapped_len: nothing can be left. */
	return WARN_ON_ONCE(len) ? -EIO : 0;
}

/*
 * The CPU view a kernel importer gets: the exporter's vmap, inside
 * begin/end_cpu_access so that the exporter can sync its devices' views
 * (bounce buffers included) with the CPU's.
 */
static int ti_vmap_xfer(struct ti_slot *slot, u64 offset, u64 len,
			void __user *uptr, bool to_device)
{
	enum dma_data_direction cpu_dir =
		to_device ? DMA_BIDIRECTIONAL : DMA_FROM_DEVICE;
	struct iosys_map map;
	unsigned long left;
	int ret;

	ret = dma_buf_begin_cpu_access(slot->dmabuf, cpu_dir);
	if (ret)
		return ret;
	ret = dma_buf_vmap_unlocked(slot->dmabuf, &map);
	if (ret)
		goto out_end;
	if (map.is_iomem) {
		ret = -EOPNOTSUPP;
		goto out_vunmap;
	}

	if (to_device)
		left = copy_from_user(map.vaddr + offset, uptr, len);
	else
		left = copy_to_user(uptr, map.vaddr + offset, len);
	ret = left ? -EFAULT : 0;

out_vunmap:
	dma_buf_vunmap_unlocked(slot->dmabuf, &map);
out_end:
	dma_buf_end_cpu_access(slot->dmabuf, cpu_dir);
	return ret;
}

static void ti_slot_release(struct ti_slot *slot)
{
	/*
	 * Unmap is where swiotlb copies FROM_DEVICE data back to memory, if
	 * the exporter lets it: the direction is the one we mapped with.
	 */
	dma_buf_unmap_attachment_unlocked(slot->attach, slot->sgt, slot->dir);
	dma_buf_detach(slot->dmabuf, slot->attach);
	dma_buf_put(slot->dmabuf);
	memset(slot, 0, sizeof(*slot));
}

static struct ti_slot *ti_get_slot(struct ti_session *sess, u32 index)
{
	struct ti_slot *slot;

	if (index >= DMABRIDGE_TI_MAX_SLOTS)
		return ERR_PTR(-EINVAL);
	slot = &sess->slots[array_index_nospec(index, DMABRIDGE_TI_MAX_SLOTS)];
	if (!slot->dmabuf)
		return ERR_PTR(-ENOENT);
	return slot;
}

static int ti_uapi_dir(u32 uapi_dir, enum dma_data_direction *dir)
{
	switch (uapi_dir) {
	case DMABRIDGE_TI_DIR_TO_DEVICE:
		*dir = DMA_TO_DEVICE;
		return 0;
	case DMABRIDGE_TI_DIR_FROM_DEVICE:
		*dir = DMA_FROM_DEVICE;
		return 0;
	case DMABRIDGE_TI_DIR_BIDIRECTIONAL:
		*dir = DMA_BIDIRECTIONAL;
		return 0;
	}
	return -EINVAL;
}

static int ti_ioctl_attach(struct ti_session *sess, void __user *argp)
{
	struct dmabridge_ti_attach arg;
	struct ti_slot *slot;
	struct device *dev;
	struct scatterlist *sg;
	enum dma_data_direction dir;
	unsigned int i;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~DMABRIDGE_TI_ATTACH_FLAGS_ALL ||
	    hweight32(arg.flags) > 1 ||
	    arg.reserved[0] || arg.reserved[1] ||
	    arg.slot >= DMABRIDGE_TI_MAX_SLOTS)
		return -EINVAL;
	ret = ti_uapi_dir(arg.dir, &dir);
	if (ret)
		return ret;
	if (arg.fd < 0)
		return -EBADF;

	slot = &sess->slots[array_index_nospec(arg.slot,
					       DMABRIDGE_TI_MAX_SLOTS)];
	if (slot->dmabuf)
		return -EBUSY;

	if (arg.flags & DMABRIDGE_TI_ATTACH_DMA32)
		dev = &ti_pdevs[TI_DEV_32]->dev;
	else if (arg.flags & DMABRIDGE_TI_ATTACH_SEG_BOUNDARY_16K)
		dev = &ti_pdevs[TI_DEV_SEG16K]->dev;
	else
		dev = &ti_pdevs[TI_DEV_64]->dev;

	slot->dmabuf = dma_buf_get(arg.fd);
	if (IS_ERR(slot->dmabuf)) {
		ret = PTR_ERR(slot->dmabuf);
		goto err_clear;
	}

	slot->attach = dma_buf_attach(slot->dmabuf, dev);
	if (IS_ERR(slot->attach)) {
		ret = PTR_ERR(slot->attach);
		goto err_put;
	}

	slot->sgt = dma_buf_map_attachment_unlocked(slot->attach, dir);
	if (IS_ERR_OR_NULL(slot->sgt)) {
		/* Some old exporters return NULL on failure. */
		ret = slot->sgt ? PTR_ERR(slot->sgt) : -ENOMEM;
		goto err_detach;
	}

	slot->mapped_len = 0;
	for_each_sgtable_dma_sg(slot->sgt, sg, i)
		slot->mapped_len += sg_dma_len(sg);

	slot->dir = dir;
	slot->uapi_dir = arg.dir;
	slot->attach_flags = arg.flags;
	return 0;

err_detach:
	dma_buf_detach(slot->dmabuf, slot->attach);
err_put:
	dma_buf_put(slot->dmabuf);
err_clear:
	memset(slot, 0, sizeof(*slot));
	return ret;
}

static int ti_ioctl_detach(struct ti_session *sess, void __user *argp)
{
	struct dmabridge_ti_detach arg;
	struct ti_slot *slot;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved)
		return -EINVAL;

	slot = ti_get_slot(sess, arg.slot);
	if (IS_ERR(slot))
		return PTR_ERR(slot);

	ti_slot_release(slot);
	return 0;
}

static int ti_ioctl_xfer(struct ti_session *sess, void __user *argp,
			 bool to_device)
{
	struct dmabridge_ti_xfer arg;
	struct ti_slot *slot;
	u64 end;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~DMABRIDGE_TI_XFER_FLAGS_ALL) ||
	    arg.reserved[0] || arg.reserved[1])
		return -EINVAL;

	slot = ti_get_slot(sess, arg.slot);
	if (IS_ERR(slot))
		return PTR_ERR(slot);

	if (arg.flags & DMABRIDGE_TI_XFER_VMAP) {
		if (check_add_overflow(arg.offset, arg.len, &end) ||
		    end > slot->dmabuf->size)
			return -EINVAL;
		return ti_vmap_xfer(slot, arg.offset, arg.len,
				    u64_to_user_ptr(arg.ptr), to_device);
	}

	if (check_add_overflow(arg.offset, arg.len, &end) ||
	    end > slot->mapped_len)
		return -EINVAL;
	if (to_device && slot->dir == DMA_TO_DEVICE)
		return -EPERM;
	if (!ti_dma_is_direct(slot->attach->dev))
		return -EOPNOTSUPP;

	return ti_xfer(slot, arg.offset, arg.len, u64_to_user_ptr(arg.ptr),
		       to_device);
}

static int ti_ioctl_info(struct ti_session *sess, void __user *argp)
{
	struct dmabridge_ti_info arg;
	struct ti_slot *slot;
	struct device *dev;
	struct scatterlist *sg;
	dma_addr_t next = 0;
	unsigned int i;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.pad || memchr_inv(arg.reserved, 0,
					       sizeof(arg.reserved)))
		return -EINVAL;

	slot = ti_get_slot(sess, arg.slot);
	if (IS_ERR(slot))
		return PTR_ERR(slot);
	dev = slot->attach->dev;

	arg.dmabuf_size = slot->dmabuf->size;
	arg.mapped_len = slot->mapped_len;
	arg.max_seg_len = 0;
	arg.dev_max_seg_size = dma_get_max_seg_size(dev);
	arg.nents = slot->sgt->orig_nents;
	arg.dma_nents = slot->sgt->nents;
	arg.bounced_segs = 0;
	arg.info_flags = DMABRIDGE_TI_INFO_CONTIGUOUS;
	arg.dir = slot->uapi_dir;
	arg.attach_flags = slot->attach_flags;
	arg.dma_mask_bits = fls64(*dev->dma_mask);

	if (ti_dma_is_direct(dev))
		arg.info_flags |= DMABRIDGE_TI_INFO_DMA_DIRECT;

	for_each_sgtable_dma_sg(slot->sgt, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);

		if (i && addr != next)
			arg.info_flags &= ~DMABRIDGE_TI_INFO_CONTIGUOUS;
		next = addr + sg_dma_len(sg);
		arg.max_seg_len = max_t(u64, arg.max_seg_len, sg_dma_len(sg));
		if ((arg.info_flags & DMABRIDGE_TI_INFO_DMA_DIRECT) &&
		    ti_sg_bounced(dev, sg))
			arg.bounced_segs++;
	}

	return copy_to_user(argp, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static int ti_ioctl_segment(struct ti_session *sess, void __user *argp)
{
	struct dmabridge_ti_segment arg;
	struct ti_slot *slot;
	struct device *dev;
	struct scatterlist *sg;
	u64 offset = 0;
	unsigned int i;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.seg_flags || arg.offset || arg.len ||
	    arg.dma_addr || arg.reserved[0] || arg.reserved[1])
		return -EINVAL;

	slot = ti_get_slot(sess, arg.slot);
	if (IS_ERR(slot))
		return PTR_ERR(slot);
	if (arg.index >= slot->sgt->nents)
		return -EINVAL;
	dev = slot->attach->dev;

	for_each_sgtable_dma_sg(slot->sgt, sg, i) {
		if (i == arg.index)
			break;
		offset += sg_dma_len(sg);
	}

	arg.offset = offset;
	arg.len = sg_dma_len(sg);
	arg.dma_addr = sg_dma_address(sg);
	if (ti_dma_is_direct(dev) && ti_sg_bounced(dev, sg))
		arg.seg_flags |= DMABRIDGE_TI_SEG_BOUNCED;

	return copy_to_user(argp, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long ti_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ti_session *sess = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	mutex_lock(&sess->lock);
	switch (cmd) {
	case DMABRIDGE_TI_IOC_ATTACH:
		ret = ti_ioctl_attach(sess, argp);
		break;
	case DMABRIDGE_TI_IOC_DETACH:
		ret = ti_ioctl_detach(sess, argp);
		break;
	case DMABRIDGE_TI_IOC_DMA_READ:
		ret = ti_ioctl_xfer(sess, argp, false);
		break;
	case DMABRIDGE_TI_IOC_DMA_WRITE:
		ret = ti_ioctl_xfer(sess, argp, true);
		break;
	case DMABRIDGE_TI_IOC_INFO:
		ret = ti_ioctl_info(sess, argp);
		break;
	case DMABRIDGE_TI_IOC_SEGMENT:
		ret = ti_ioctl_segment(sess, argp);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	mutex_unlock(&sess->lock);

	return ret;
}

static int ti_open(struct inode *inode, struct file *file)
{
	struct ti_session *sess;

	sess = kzalloc(sizeof(*sess), GFP_KERNEL);
	if (!sess)
		return -ENOMEM;
	mutex_init(&sess->lock);
	file->private_data = sess;

	return 0;
}

static int ti_release(struct inode *inode, struct file *file)
{
	struct ti_session *sess = file->private_data;
	unsigned int i;

	for (i = 0; i < DMABRIDGE_TI_MAX_SLOTS; i++)
		if (sess->slots[i].dmabuf)
			ti_slot_release(&sess->slots[i]);
	mutex_destroy(&sess->lock);
	kfree(sess);

	return 0;
}

static const struct file_operations ti_fops = {
	.owner		= THIS_MODULE,
	.open		= ti_open,
	.release	= ti_release,
	.unlocked_ioctl	= ti_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice ti_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "dmabridge-test-importer",
	.fops	= &ti_fops,
};

/*
 * Platform devices that no driver binds: nothing configures an IOMMU or
 * other DMA ops for them, so they use dma-direct and swiotlb=force makes
 * every mapping bounce.
 */
static struct platform_device *ti_register_dev(int id, u64 mask)
{
	struct platform_device_info info = {
		.name		= "dmabridge-test-importer",
		.id		= id,
		.dma_mask	= mask,
	};

	return platform_device_register_full(&info);
}

static void ti_unregister_devs(void)
{
	int i;

	for (i = 0; i < TI_NR_DEVS; i++) {
		if (!IS_ERR_OR_NULL(ti_pdevs[i]))
			platform_device_unregister(ti_pdevs[i]);
		ti_pdevs[i] = NULL;
	}
}

static int __init ti_init(void)
{
	int ret, i;

	ti_pdevs[TI_DEV_64] = ti_register_dev(TI_DEV_64, DMA_BIT_MASK(64));
	ti_pdevs[TI_DEV_32] = ti_register_dev(TI_DEV_32, DMA_BIT_MASK(32));
	ti_pdevs[TI_DEV_SEG16K] = ti_register_dev(TI_DEV_SEG16K,
						  DMA_BIT_MASK(64));
	for (i = 0; i < TI_NR_DEVS; i++) {
		if (IS_ERR(ti_pdevs[i])) {
			ret = PTR_ERR(ti_pdevs[i]);
			goto err_devs;
		}
	}
	/*
	 * Segments up to 1 MiB, so that only the boundary splits them.  A
	 * platform device has its dma_parms: neither can fail (6.1 still
	 * returns an error code, later kernels nothing).
	 */
	dma_set_seg_boundary(&ti_pdevs[TI_DEV_SEG16K]->dev,
			     DMABRIDGE_TI_SEG_BOUNDARY_16K);
	dma_set_max_seg_size(&ti_pdevs[TI_DEV_SEG16K]->dev, SZ_1M);

	ret = misc_register(&ti_misc);
	if (ret)
		goto err_devs;

	return 0;

err_devs:
	ti_unregister_devs();
	return ret;
}

static void __exit ti_exit(void)
{
	misc_deregister(&ti_misc);
	ti_unregister_devs();
}

module_init(ti_init);
module_exit(ti_exit);

MODULE_DESCRIPTION("dmabridge test-only dma-buf importer playing a DMA device");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_DMA_BUF();
