// SPDX-License-Identifier: GPL-2.0
/*
 * udmabuf: turn ranges of memfds into a dma-buf.
 *
 * The UAPI is upstream's <linux/udmabuf.h>, so existing programs and the
 * kernel's own selftests work unchanged.  The device is always
 * /dev/dmabridge-udmabuf, and also /dev/udmabuf when the kernel was built
 * without a udmabuf of its own.
 *
 * Differences from upstream, all deliberate:
 *  - unknown flags are rejected with EINVAL instead of being ignored;
 *  - DMABRIDGE_UDMABUF_FLAGS_READONLY makes a buffer nobody can write
 *    through, and then accepts write-sealed memfds;
 *  - pinned pages are charged to the creator's RLIMIT_MEMLOCK (see
 *    udmabuf_charge());
 *  - importers get a DMA mapping per attachment and CPU access syncs all
 *    of them (see core/pages.c).
 */
#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/fcntl.h>
#include <uapi/linux/udmabuf.h>

#include <dmabridge/compat.h>
#include <dmabridge/pages.h>
#include <dmabridge/version.h>

#include <uapi/dmabridge/udmabuf.h>
#include "memfd_pin.h"

/*
 * Bounds for the writable parameters, so no value can overflow a size.
 * While a buffer is made it keeps a 16-byte run per page at worst, in an
 * array that kvmalloc() refuses (with a warning) beyond INT_MAX bytes:
 * just under 512 GiB.
 */
#define UDMABUF_LIST_LIMIT_MAX		BIT(20)
#define UDMABUF_SIZE_LIMIT_MB_MAX	(BIT(19) - 1)

struct udmabuf_int_param {
	int *value;
	int min;
	int max;
};

static int udmabuf_param_set(const char *val, const struct kernel_param *kp)
{
	struct udmabuf_int_param *param = kp->arg;
	int value, ret;

	ret = kstrtoint(val, 0, &value);
	if (ret)
		return ret;
	if (value < param->min || value > param->max)
		return -EINVAL;
	WRITE_ONCE(*param->value, value);
	return 0;
}

static int udmabuf_param_get(char *buffer, const struct kernel_param *kp)
{
	struct udmabuf_int_param *param = kp->arg;

	return sysfs_emit(buffer, "%d\n", READ_ONCE(*param->value));
}

static const struct kernel_param_ops udmabuf_int_param_ops = {
	.set = udmabuf_param_set,
	.get = udmabuf_param_get,
};

static int list_limit = 1024;
static struct udmabuf_int_param list_limit_param = {
	.value = &list_limit, .min = 1, .max = UDMABUF_LIST_LIMIT_MAX,
};
module_param_cb(list_limit, &udmabuf_int_param_ops, &list_limit_param, 0644);
MODULE_PARM_DESC(list_limit, "Most items in UDMABUF_CREATE_LIST (default 1024)");

static int size_limit_mb = 64;
static struct udmabuf_int_param size_limit_mb_param = {
	.value = &size_limit_mb, .min = 1, .max = UDMABUF_SIZE_LIMIT_MB_MAX,
};
module_param_cb(size_limit_mb, &udmabuf_int_param_ops, &size_limit_mb_param,
		0644);
MODULE_PARM_DESC(size_limit_mb, "Largest buffer in MiB (default 64)");

static bool account_pinned = true;
module_param(account_pinned, bool, 0644);
MODULE_PARM_DESC(account_pinned,
		 "Charge pinned pages to the creator's RLIMIT_MEMLOCK (default Y)");

static bool compat_node = true;
module_param(compat_node, bool, 0444);
MODULE_PARM_DESC(compat_node,
		 "Also create /dev/udmabuf if the kernel has no udmabuf (default Y)");

struct udmabuf {
	struct dmabridge_pages buf;
	struct memfd_pinned pinned;
	/* The mm charged for the pinned pages, NULL if none was. */
	struct mm_struct *charged_mm;
	unsigned long nr_charged;
};

/*
 * Pinned pages cannot be reclaimed or swapped, which is what
 * RLIMIT_MEMLOCK bounds.  They are charged to mm->pinned_vm (VmPin in
 * /proc/PID/status), as RDMA and io_uring charge their pins, at creation
 * and for the buffer's whole life, even after the dma-buf has moved to
 * another process: the creator decided to pin.  CAP_IPC_LOCK lifts the
 * limit but the pages still show.  account_pinned=0 turns this off.
 */
static int udmabuf_charge(struct udmabuf *ubuf, pgoff_t nr_pages)
{
	struct mm_struct *mm = current->mm;
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 pinned;

	if (!READ_ONCE(account_pinned) || !mm)
		return 0;

	pinned = atomic64_add_return(nr_pages, &mm->pinned_vm);
	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(nr_pages, &mm->pinned_vm);
		return -ENOMEM;
	}
	mmgrab(mm);
	ubuf->charged_mm = mm;
	ubuf->nr_charged = nr_pages;
	return 0;
}

/* @exported: the buffer was a dma-buf, which may have been written. */
static void udmabuf_free(struct udmabuf *ubuf, bool exported)
{
	memfd_pinned_free(&ubuf->pinned, exported && !ubuf->buf.read_only);
	if (ubuf->charged_mm) {
		atomic64_sub(ubuf->nr_charged, &ubuf->charged_mm->pinned_vm);
		mmdrop(ubuf->charged_mm);
	}
	kfree(ubuf);
}

static void udmabuf_release(struct dmabridge_pages *buf)
{
	udmabuf_free(container_of(buf, struct udmabuf, buf), true);
}

static const struct dmabridge_pages_ops udmabuf_pages_ops = {
	.release = udmabuf_release,
};

/*
 * Seals live in the shmem or hugetlbfs inode.  The caller holds the inode
 * lock, which memfd_add_seals() takes for writing, so the seals cannot
 * change between this check and the pinning.
 */
static int udmabuf_check_memfd(struct file *memfd, bool read_only)
{
	struct inode *inode = file_inode(memfd);
	unsigned int denied = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
	unsigned int seals;

	if (!S_ISREG(inode->i_mode))
		return -EBADFD;

	switch (inode->i_sb->s_magic) {
	case TMPFS_MAGIC:
		seals = SHMEM_I(inode)->seals;
		break;
	case HUGETLBFS_MAGIC:
		seals = HUGETLBFS_I(inode)->seals;
		break;
	default:
		return -EBADFD;
	}

	if (!(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (!read_only && (seals & denied))
		return -EINVAL;
	return 0;
}

static int udmabuf_pin_item(struct udmabuf *ubuf,
			    const struct udmabuf_create_item *item)
{
	struct file *memfd;
	struct inode *inode;
	int ret;

	memfd = fget(item->memfd);
	if (!memfd)
		return -EBADFD;
	inode = file_inode(memfd);

	inode_lock_shared(inode);
	ret = udmabuf_check_memfd(memfd, ubuf->buf.read_only);
	if (ret)
		goto out_unlock;
	/*
	 * An empty item is only refused once its memfd has been checked, so
	 * a bad fd in one is -EBADFD, as upstream has it.
	 */
	if (!item->size ||
	    item->offset + item->size > (u64)i_size_read(inode)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/*
	 * The buffer gives its holders read access and, unless read-only,
	 * write access to the pages: no more than the memfd's fd allowed.
	 * Upstream does not check, so a read-only fd made a writable buffer.
	 */
	if (!(memfd->f_mode & FMODE_READ) ||
	    (!ubuf->buf.read_only && !(memfd->f_mode & FMODE_WRITE))) {
		ret = -EACCES;
		goto out_unlock;
	}
	ret = memfd_pin_range(&ubuf->pinned, memfd, item->offset,
			      item->size >> PAGE_SHIFT);
out_unlock:
	inode_unlock_shared(inode);
	fput(memfd);
	return ret;
}

/* Checks what needs no memfd; returns the buffer's size in pages. */
static long udmabuf_count_pages(const struct udmabuf_create_item *items,
				u32 count)
{
	u64 limit = (u64)READ_ONCE(size_limit_mb) << (20 - PAGE_SHIFT);
	u64 total = 0;
	u32 i;

	for (i = 0; i < count; i++) {
		const struct udmabuf_create_item *item = &items[i];

		if (!PAGE_ALIGNED(item->size) || !PAGE_ALIGNED(item->offset))
			return -EINVAL;
		if (item->offset > U64_MAX - item->size)
			return -EINVAL;
		if (item->size >> PAGE_SHIFT > limit - total)
			return -EINVAL;
		total += item->size >> PAGE_SHIFT;
	}
	return total;
}

static long udmabuf_create(u32 flags, const struct udmabuf_create_item *items,
			   u32 count)
{
	struct dma_buf *dmabuf;
	struct udmabuf *ubuf;
	long nr_pages;
	int ret;
	u32 i;

	if (flags & ~DMABRIDGE_UDMABUF_FLAGS_ALL)
		return -EINVAL;
	nr_pages = udmabuf_count_pages(items, count);
	if (nr_pages <= 0)
		return nr_pages ? nr_pages : -EINVAL;

	ubuf = kzalloc(sizeof(*ubuf), GFP_KERNEL);
	if (!ubuf)
		return -ENOMEM;
	ubuf->buf.read_only = flags & DMABRIDGE_UDMABUF_FLAGS_READONLY;
	ubuf->buf.file_mode = O_RDWR;
	ubuf->buf.ops = &udmabuf_pages_ops;

	ret = memfd_pinned_alloc(&ubuf->pinned, &ubuf->buf, nr_pages);
	if (ret) {
		kfree(ubuf);
		return ret;
	}
	ret = udmabuf_charge(ubuf, nr_pages);
	if (ret)
		goto err;

	for (i = 0; i < count; i++) {
		ret = udmabuf_pin_item(ubuf, &items[i]);
		if (ret)
			goto err;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err;
		}
	}

	memfd_pinned_trim(&ubuf->pinned);
	dmabuf = dmabridge_pages_export(&ubuf->buf, THIS_MODULE, KBUILD_MODNAME);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err;
	}

	/* From here the dma-buf owns ubuf and frees it on its last put. */
	ret = dma_buf_fd(dmabuf, flags & UDMABUF_FLAGS_CLOEXEC ? O_CLOEXEC : 0);
	if (ret < 0)
		dma_buf_put(dmabuf);
	return ret;

err:
	udmabuf_free(ubuf, false);
	return ret;
}

static long udmabuf_ioctl_create(unsigned long arg)
{
	struct udmabuf_create create;
	struct udmabuf_create_item item;

	if (copy_from_user(&create, (void __user *)arg, sizeof(create)))
		return -EFAULT;

	item = (struct udmabuf_create_item){
		.memfd = create.memfd,
		.offset = create.offset,
		.size = create.size,
	};
	return udmabuf_create(create.flags, &item, 1);
}

static long udmabuf_ioctl_create_list(unsigned long arg)
{
	struct udmabuf_create_list __user *uhead = (void __user *)arg;
	struct udmabuf_create_list head;
	struct udmabuf_create_item *items;
	long ret;

	if (copy_from_user(&head, uhead, sizeof(head)))
		return -EFAULT;
	if (!head.count || head.count > READ_ONCE(list_limit))
		return -EINVAL;

	/* The items' __pad is not checked: upstream's callers leave it unset. */
	items = vmemdup_user(uhead->list, array_size(head.count, sizeof(*items)));
	if (IS_ERR(items))
		return PTR_ERR(items);

	ret = udmabuf_create(head.flags, items, head.count);
	kvfree(items);
	return ret;
}

static long udmabuf_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	switch (cmd) {
	case UDMABUF_CREATE:
		return udmabuf_ioctl_create(arg);
	case UDMABUF_CREATE_LIST:
		return udmabuf_ioctl_create_list(arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations udmabuf_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = udmabuf_ioctl,
	/* The structs have the same layout for 32-bit callers. */
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice udmabuf_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabridge-udmabuf",
	.fops = &udmabuf_fops,
};

/* The name upstream's programs open; only ours where the kernel has none. */
static struct miscdevice udmabuf_compat_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "udmabuf",
	.fops = &udmabuf_fops,
};

static bool udmabuf_compat_registered;

static int __init udmabuf_init(void)
{
	int ret;

	ret = misc_register(&udmabuf_misc);
	if (ret)
		return ret;

	if (compat_node && !IS_ENABLED(CONFIG_UDMABUF)) {
		ret = misc_register(&udmabuf_compat_misc);
		if (ret)
			pr_warn("/dev/udmabuf not created (%d), use /dev/%s\n",
				ret, udmabuf_misc.name);
		else
			udmabuf_compat_registered = true;
	}
	return 0;
}

static void __exit udmabuf_exit(void)
{
	if (udmabuf_compat_registered)
		misc_deregister(&udmabuf_compat_misc);
	misc_deregister(&udmabuf_misc);
}

module_init(udmabuf_init);
module_exit(udmabuf_exit);

MODULE_DESCRIPTION("dmabridge udmabuf: memfd pages as dma-bufs");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_DMA_BUF();
DMABRIDGE_IMPORT_NS_CORE();
