// SPDX-License-Identifier: GPL-2.0
/*
 * sw_sync: upstream's userspace-driven fences for testing, for kernels
 * built without CONFIG_SW_SYNC.
 *
 * The UAPI is upstream's byte for byte (SW_SYNC_IOC_CREATE_FENCE,
 * SW_SYNC_IOC_INC, SW_SYNC_GET_DEADLINE where fences have deadlines), at
 * both places test suites look for it: /dev/sw_sync, which IGT tries first,
 * and upstream's /sys/kernel/debug/sync/sw_sync with its sync/info view,
 * which the kernel's own selftests hard-code.  The debugfs files are made
 * only when the kernel has no sw_sync of its own to own them.
 *
 * /dev/sw_sync is root-only (0600): whoever can open it can make fences
 * that signal only when the timeline is closed.  /dev/dmabridge-sync is
 * the interface meant for everyone.
 */
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/limits.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sync_file.h>
#include <linux/uaccess.h>

#include <dmabridge/compat.h>
#include <dmabridge/version.h>

#include <uapi/dmabridge/sync.h>
#include "timeline.h"

static int sw_sync_open(struct inode *inode, struct file *file)
{
	char comm[TASK_COMM_LEN];
	struct dmabridge_timeline *tl;

	tl = dmabridge_timeline_create(DMABRIDGE_TIMELINE_SW_SYNC,
				       get_task_comm(comm, current), 0, 0);
	if (!tl)
		return -ENOMEM;
	file->private_data = tl;
	return 0;
}

/* Upstream signals the fences of a closed timeline with -ENOENT. */
static int sw_sync_release(struct inode *inode, struct file *file)
{
	dmabridge_timeline_close(file->private_data, -ENOENT);
	return 0;
}

static long sw_sync_create_fence(struct dmabridge_timeline *tl,
				 void __user *uarg)
{
	struct sw_sync_create_fence_data data;
	int fd, ret = -EFAULT;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	/*
	 * Written back before the fence exists, which could otherwise time
	 * out unseen and move the timeline on; after a failure it names no
	 * file.
	 */
	if (!copy_from_user(&data, uarg, sizeof(data))) {
		data.fence = fd;
		if (!copy_to_user(uarg, &data, sizeof(data)))
			ret = dmabridge_timeline_install_fence(tl, data.value,
							       fd);
	}
	if (ret)
		put_unused_fd(fd);
	return ret;
}

/*
 * Values wrap at 32 bits and are compared across the wrap, so a single
 * step must stay below half the range, as upstream's does.
 */
static long sw_sync_inc(struct dmabridge_timeline *tl, u32 __user *uarg)
{
	u32 inc;

	if (get_user(inc, uarg))
		return -EFAULT;
	while (inc > INT_MAX) {
		dmabridge_timeline_signal(tl, INT_MAX, true, 0);
		inc -= INT_MAX;
	}
	return dmabridge_timeline_signal(tl, inc, true, 0);
}

#ifdef DMABRIDGE_HAVE_FENCE_DEADLINE
static long sw_sync_get_deadline(struct sw_sync_get_deadline __user *uarg)
{
	struct sw_sync_get_deadline data;
	struct dma_fence *fence;
	ktime_t deadline;
	int ret;

	if (copy_from_user(&data, uarg, sizeof(data)))
		return -EFAULT;
	if (data.deadline_ns || data.pad)
		return -EINVAL;
	fence = sync_file_get_fence(data.fence_fd);
	if (!fence)
		return -EINVAL;
	ret = dmabridge_fence_deadline(fence, &deadline);
	dma_fence_put(fence);
	if (ret)
		return ret;
	data.deadline_ns = ktime_to_ns(deadline);
	return copy_to_user(uarg, &data, sizeof(data)) ? -EFAULT : 0;
}
#endif

static long sw_sync_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct dmabridge_timeline *tl = file->private_data;

	switch (cmd) {
	case SW_SYNC_IOC_CREATE_FENCE:
		return sw_sync_create_fence(tl, (void __user *)arg);
	case SW_SYNC_IOC_INC:
		return sw_sync_inc(tl, (void __user *)arg);
#ifdef DMABRIDGE_HAVE_FENCE_DEADLINE
	case SW_SYNC_GET_DEADLINE:
		return sw_sync_get_deadline((void __user *)arg);
#endif
	default:
		return -ENOTTY;
	}
}

static const struct file_operations sw_sync_fops = {
	.owner = THIS_MODULE,
	.open = sw_sync_open,
	.release = sw_sync_release,
	.unlocked_ioctl = sw_sync_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice sw_sync_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "sw_sync",
	.fops = &sw_sync_fops,
	.mode = 0600,
};

static int sw_sync_info_show(struct seq_file *s, void *unused)
{
	dmabridge_timeline_show(s);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sw_sync_info);

static struct dentry *sw_sync_debugfs;

static int __init sw_sync_init(void)
{
	int ret;

	ret = misc_register(&sw_sync_misc);
	if (ret)
		return ret;
	if (!IS_ENABLED(CONFIG_SW_SYNC)) {
		sw_sync_debugfs = debugfs_create_dir("sync", NULL);
		debugfs_create_file("info", 0444, sw_sync_debugfs, NULL,
				    &sw_sync_info_fops);
		/*
		 * Not behind debugfs's full proxy, which forwards no
		 * compat_ioctl: 32-bit programs (upstream's selftests built
		 * for i386) would get ENOTTY here.  Without the proxy, the
		 * open file holds the module through our fops' owner.
		 */
		debugfs_create_file_unsafe("sw_sync", 0644, sw_sync_debugfs,
					   NULL, &sw_sync_fops);
	}
	return 0;
}

static void __exit sw_sync_exit(void)
{
	debugfs_remove_recursive(sw_sync_debugfs);
	misc_deregister(&sw_sync_misc);
}

module_init(sw_sync_init);
module_exit(sw_sync_exit);

MODULE_DESCRIPTION("dmabridge sw_sync: upstream's sw_sync for kernels without it");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
DMABRIDGE_IMPORT_NS_CORE();
