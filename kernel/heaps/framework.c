// SPDX-License-Identifier: GPL-2.0
/*
 * The heap framework: /dev/dma_heap/<name> nodes with upstream's UAPI.
 *
 * Debian's 6.1 has no heap framework and 6.12 does not export
 * dma_heap_add(), so a module cannot add heaps to the kernel's.  This is
 * a minimal one of our own: a device class whose nodes are named
 * dma_heap/<name>, so they sit in /dev/dma_heap/ beside the kernel's,
 * with upstream's ioctl and upstream's checks.  See docs/heaps.md.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/dma-heap.h>

#include <dmabridge/compat.h>
#include <dmabridge/pages.h>

#include "heap.h"

#define DMABRIDGE_MAX_HEAPS	16

/* Upstream's DMA_HEAP_VALID_FD_FLAGS and DMA_HEAP_VALID_HEAP_FLAGS. */
#define HEAP_VALID_FD_FLAGS	(O_CLOEXEC | O_ACCMODE)
#define HEAP_VALID_HEAP_FLAGS	0ULL

static dev_t heap_devt;
static DEFINE_IDA(heap_minors);

static int heap_open(struct inode *inode, struct file *file)
{
	file->private_data = container_of(inode->i_cdev, struct dmabridge_heap,
					  cdev);
	return nonseekable_open(inode, file);
}

static struct dma_buf *heap_allocate(struct dmabridge_heap *heap,
				     const struct dma_heap_allocation_data *data)
{
	size_t len;

	if (data->fd)
		return ERR_PTR(-EINVAL);
	if (data->fd_flags & ~HEAP_VALID_FD_FLAGS)
		return ERR_PTR(-EINVAL);
	if (data->heap_flags & ~HEAP_VALID_HEAP_FLAGS)
		return ERR_PTR(-EINVAL);
	/* As upstream: a length that wraps when rounded up is no length. */
	len = PAGE_ALIGN(data->len);
	if (!len)
		return ERR_PTR(-EINVAL);
	return heap->ops->allocate(heap, len, data->fd_flags);
}

/*
 * Upstream's ioctl is size-extensible: a caller's struct may be shorter
 * (zero-extended) or longer (the rest ignored) than ours.  It also knows
 * its command by number alone and answers EINVAL for any other number;
 * we keep both and only add ENOTTY for a foreign ioctl type.
 */
static long heap_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dmabridge_heap *heap = file->private_data;
	struct dma_heap_allocation_data data = { 0 };
	void __user *uarg = (void __user *)arg;
	size_t in_size = 0, out_size = 0;
	struct dma_buf *dmabuf;

	if (_IOC_TYPE(cmd) != _IOC_TYPE(DMA_HEAP_IOCTL_ALLOC))
		return -ENOTTY;
	if (_IOC_NR(cmd) != _IOC_NR(DMA_HEAP_IOCTL_ALLOC))
		return -EINVAL;

	if (_IOC_DIR(cmd) & _IOC_WRITE)
		in_size = min_t(size_t, _IOC_SIZE(cmd), sizeof(data));
	if (_IOC_DIR(cmd) & _IOC_READ)
		out_size = min_t(size_t, _IOC_SIZE(cmd), sizeof(data));
	if (copy_from_user(&data, uarg, in_size))
		return -EFAULT;

	dmabuf = heap_allocate(heap, &data);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	return dmabridge_dma_buf_fd_to_user(dmabuf, data.fd_flags, uarg, &data,
					    out_size, &data.fd);
}

static const struct file_operations heap_fops = {
	.owner = THIS_MODULE,
	.open = heap_open,
	.unlocked_ioctl = heap_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static ssize_t buffers_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct dmabridge_heap *heap = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%ld\n", atomic_long_read(&heap->buffers));
}
static DEVICE_ATTR_RO(buffers);

static ssize_t bytes_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct dmabridge_heap *heap = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lld\n", atomic64_read(&heap->bytes));
}
static DEVICE_ATTR_RO(bytes);

static ssize_t pool_bytes_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct dmabridge_heap *heap = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%llu\n", heap->ops->pool_bytes(heap));
}
static DEVICE_ATTR_RO(pool_bytes);

static struct attribute *heap_attrs[] = {
	&dev_attr_buffers.attr,
	&dev_attr_bytes.attr,
	&dev_attr_pool_bytes.attr,
	NULL,
};

static umode_t heap_attr_visible(struct kobject *kobj, struct attribute *attr,
				 int n)
{
	struct dmabridge_heap *heap = dev_get_drvdata(kobj_to_dev(kobj));

	if (attr == &dev_attr_pool_bytes.attr && !heap->ops->pool_bytes)
		return 0;
	return attr->mode;
}

static const struct attribute_group heap_attr_group = {
	.attrs = heap_attrs,
	.is_visible = heap_attr_visible,
};

static char *heap_devnode(DMABRIDGE_DEVNODE_CONST struct device *dev,
			  umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "dma_heap/%s", dev_name(dev));
}

static struct class heap_class = {
	.name = "dmabridge_heap",
	.devnode = heap_devnode,
};

bool dmabridge_heap_name_taken(const char *name)
{
	return IS_ENABLED(CONFIG_DMABUF_HEAPS_SYSTEM) && !strcmp(name, "system");
}

int dmabridge_heap_add(struct dmabridge_heap *heap)
{
	dev_t devt;
	int minor, ret;

	if (dmabridge_heap_name_taken(heap->name))
		return -EEXIST;

	minor = ida_alloc_max(&heap_minors, DMABRIDGE_MAX_HEAPS - 1, GFP_KERNEL);
	if (minor < 0)
		return minor;
	devt = MKDEV(MAJOR(heap_devt), minor);

	cdev_init(&heap->cdev, &heap_fops);
	heap->cdev.owner = THIS_MODULE;
	ret = cdev_add(&heap->cdev, devt, 1);
	if (ret)
		goto err_minor;

	/* The device keeps using the array until it is destroyed. */
	heap->groups[0] = &heap_attr_group;
	heap->groups[1] = heap->extra_attrs;
	heap->groups[2] = NULL;
	heap->dev = device_create_with_groups(&heap_class, NULL, devt, heap,
					      heap->groups, "%s", heap->name);
	if (IS_ERR(heap->dev)) {
		ret = PTR_ERR(heap->dev);
		goto err_cdev;
	}
	return 0;

err_cdev:
	cdev_del(&heap->cdev);
err_minor:
	ida_free(&heap_minors, minor);
	return ret;
}

void dmabridge_heap_remove(struct dmabridge_heap *heap)
{
	dev_t devt = heap->dev->devt;

	device_destroy(&heap_class, devt);
	cdev_del(&heap->cdev);
	ida_free(&heap_minors, MINOR(devt));
}

int dmabridge_heap_framework_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&heap_devt, 0, DMABRIDGE_MAX_HEAPS,
				  "dmabridge_heap");
	if (ret)
		return ret;
	ret = class_register(&heap_class);
	if (ret)
		unregister_chrdev_region(heap_devt, DMABRIDGE_MAX_HEAPS);
	return ret;
}

void dmabridge_heap_framework_exit(void)
{
	class_unregister(&heap_class);
	unregister_chrdev_region(heap_devt, DMABRIDGE_MAX_HEAPS);
}
