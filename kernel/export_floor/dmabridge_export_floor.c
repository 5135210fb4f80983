// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge export floor: a heap that allocates nothing.
 *
 * Every dma-buf heap pays for the same things besides its memory: the
 * ioctl, a private object, dma_buf_export() (a dma_buf, an inode, a file),
 * the fd, and on the last close the file's release.  bench/run compares
 * this node's allocations with upstream's system heap to show how low a
 * heap's alloc+free can go at all: each buffer is one page that the module
 * holds for its whole life, handed out read-only, so there is nothing to
 * find, zero or give back.
 *
 * Its node answers upstream's DMA_HEAP_IOCTL_ALLOC, with its checks, for
 * one page read-only (fd_flags O_RDONLY, optionally O_CLOEXEC): any other
 * length or access mode is EINVAL.  Test-only, never installed by DKMS.
 */
#include <linux/dma-buf.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/dma-heap.h>

#include <dmabridge/compat.h>
#include <dmabridge/pages.h>
#include <dmabridge/version.h>

struct floor_buffer {
	struct dmabridge_pages buf;
	struct dmabridge_pages_run run;
};

/* Zeroed at load; read-only mappings only, so it stays zero. */
static struct page *floor_page;

static void floor_release(struct dmabridge_pages *buf)
{
	kfree(container_of(buf, struct floor_buffer, buf));
}

static const struct dmabridge_pages_ops floor_ops = {
	.release = floor_release,
};

static struct dma_buf *floor_export(const struct dma_heap_allocation_data *data)
{
	struct floor_buffer *buffer;
	struct dma_buf *dmabuf;

	if (data->fd || data->heap_flags)
		return ERR_PTR(-EINVAL);
	if (data->fd_flags & ~(O_CLOEXEC | O_ACCMODE) ||
	    (data->fd_flags & O_ACCMODE) != O_RDONLY)
		return ERR_PTR(-EINVAL);
	if (data->len != PAGE_SIZE)
		return ERR_PTR(-EINVAL);

	buffer = kzalloc(sizeof(*buffer), GFP_KERNEL);
	if (!buffer)
		return ERR_PTR(-ENOMEM);
	buffer->buf.runs = &buffer->run;
	dmabridge_pages_add(&buffer->buf, floor_page, 1);
	buffer->buf.read_only = true;
	buffer->buf.file_mode = O_RDONLY;
	buffer->buf.ops = &floor_ops;
	dmabuf = dmabridge_pages_export(&buffer->buf, THIS_MODULE,
					KBUILD_MODNAME);
	if (IS_ERR(dmabuf))
		kfree(buffer);
	return dmabuf;
}

/* The fd reaches userspace as from our heaps, for a fair floor. */
static long floor_ioctl(struct file *file, unsigned int cmd,
			unsigned long arg)
{
	struct dma_heap_allocation_data data;
	void __user *uarg = (void __user *)arg;
	struct dma_buf *dmabuf;

	if (cmd != DMA_HEAP_IOCTL_ALLOC)
		return -ENOTTY;
	if (copy_from_user(&data, uarg, sizeof(data)))
		return -EFAULT;
	dmabuf = floor_export(&data);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	return dmabridge_dma_buf_fd_to_user(dmabuf, data.fd_flags, uarg, &data,
					    sizeof(data), &data.fd);
}

static const struct file_operations floor_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= floor_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice floor_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "dmabridge-export-floor",
	.fops	= &floor_fops,
};

static int __init floor_init(void)
{
	int ret;

	floor_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!floor_page)
		return -ENOMEM;
	ret = misc_register(&floor_misc);
	if (ret)
		__free_page(floor_page);
	return ret;
}

/* Every buffer holds the module (dma_buf_export() takes its owner). */
static void __exit floor_exit(void)
{
	misc_deregister(&floor_misc);
	__free_page(floor_page);
}

module_init(floor_init);
module_exit(floor_exit);
MODULE_DESCRIPTION("dmabridge test-only heap that allocates nothing: the dma-buf export floor");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_DMA_BUF();
DMABRIDGE_IMPORT_NS_CORE();
