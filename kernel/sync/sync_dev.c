// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge_sync: timelines for production use at /dev/dmabridge-sync.
 *
 * Upstream's sw_sync lives in debugfs because a fence that userspace never
 * signals can stall every driver waiting on it.  Here a timeline is a file:
 * when its last reference goes, including when its process dies, its
 * unsignaled fences signal with -EPIPE, and an optional timeout signals
 * a fence that waited too long with -ETIMEDOUT.  That makes the device
 * safe to open for anyone (mode 0666): a user can delay only the work that
 * chose to wait for that user's fences, and no longer than the user lives.
 *
 * This module also holds the timeline code that sw_sync.ko shares
 * (timeline.c) and counts their objects in debugfs for leak checks.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <dmabridge/compat.h>
#include <dmabridge/version.h>

#include <uapi/dmabridge/sync.h>
#include "timeline.h"

/*
 * The struct size is in the ioctl number: any size from the first
 * version's up is accepted, zero-extended or checked to have only zeros
 * beyond what we know (copy_struct_from_user()), and only the common part
 * is written back.  So an ioctl is matched by type, number and direction.
 */
static bool sync_ioc_match(unsigned int cmd, unsigned int ref)
{
	return (cmd & ~IOCSIZE_MASK) == (ref & ~IOCSIZE_MASK) &&
	       _IOC_SIZE(cmd) >= _IOC_SIZE(ref);
}

static int sync_copy_in(void *karg, size_t ksize, unsigned int cmd,
			unsigned long arg)
{
	return copy_struct_from_user(karg, ksize, (void __user *)arg,
				     _IOC_SIZE(cmd));
}

static int sync_copy_out(unsigned int cmd, unsigned long arg,
			 const void *karg, size_t ksize)
{
	size_t len = min_t(size_t, ksize, _IOC_SIZE(cmd));

	return copy_to_user((void __user *)arg, karg, len) ? -EFAULT : 0;
}

static int sync_fd_flags(u32 flags)
{
	return flags & DMABRIDGE_SYNC_CLOEXEC ? O_CLOEXEC : 0;
}

static long timeline_fence_create(struct dmabridge_timeline *tl,
				  unsigned int cmd, unsigned long arg)
{
	struct dmabridge_sync_fence_create args;
	int fd, ret;

	ret = sync_copy_in(&args, sizeof(args), cmd, arg);
	if (ret)
		return ret;
	if (args.flags & ~DMABRIDGE_SYNC_CLOEXEC)
		return -EINVAL;

	fd = get_unused_fd_flags(sync_fd_flags(args.flags));
	if (fd < 0)
		return fd;
	/*
	 * The fd is written before the fence exists: a fence that never
	 * reached userspace could already have timed out, and a timeout
	 * moves the timeline's value on.  After a failure, args.fd names no
	 * file: the number was never installed.
	 */
	args.fd = fd;
	ret = sync_copy_out(cmd, arg, &args, sizeof(args));
	if (!ret)
		ret = dmabridge_timeline_install_fence(tl, args.value, fd);
	if (ret)
		put_unused_fd(fd);
	return ret;
}

static long timeline_signal(struct dmabridge_timeline *tl, unsigned int cmd,
			    unsigned long arg)
{
	struct dmabridge_sync_signal args;
	int ret;

	ret = sync_copy_in(&args, sizeof(args), cmd, arg);
	if (ret)
		return ret;
	if (args.flags & ~DMABRIDGE_SYNC_SIGNAL_INC)
		return -EINVAL;
	if (args.error > 0 || args.error < -MAX_ERRNO)
		return -EINVAL;
	return dmabridge_timeline_signal(tl, args.value,
					 args.flags & DMABRIDGE_SYNC_SIGNAL_INC,
					 args.error);
}

static long timeline_info(struct dmabridge_timeline *tl, unsigned int cmd,
			  unsigned long arg)
{
	struct dmabridge_sync_timeline_info args;
	struct dmabridge_timeline_state state;
	int ret;

	ret = sync_copy_in(&args, sizeof(args), cmd, arg);
	if (ret)
		return ret;
	if (args.flags)
		return -EINVAL;
	dmabridge_timeline_state(tl, &state);
	memset(&args, 0, sizeof(args));
	args.value = state.value;
	args.timeout_ns = state.timeout_ns;
	args.context = state.context;
	args.pending = state.pending;
	strscpy(args.name, state.name, sizeof(args.name));
	return sync_copy_out(cmd, arg, &args, sizeof(args));
}

static long timeline_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct dmabridge_timeline *tl = file->private_data;

	if (sync_ioc_match(cmd, DMABRIDGE_SYNC_IOC_FENCE_CREATE))
		return timeline_fence_create(tl, cmd, arg);
	if (sync_ioc_match(cmd, DMABRIDGE_SYNC_IOC_SIGNAL))
		return timeline_signal(tl, cmd, arg);
	if (sync_ioc_match(cmd, DMABRIDGE_SYNC_IOC_TIMELINE_INFO))
		return timeline_info(tl, cmd, arg);
	return -ENOTTY;
}

static int timeline_release(struct inode *inode, struct file *file)
{
	dmabridge_timeline_close(file->private_data, -EPIPE);
	return 0;
}

static const struct file_operations timeline_fops = {
	.owner = THIS_MODULE,
	.release = timeline_release,
	.unlocked_ioctl = timeline_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static long sync_timeline_create(unsigned int cmd, unsigned long arg)
{
	struct dmabridge_sync_timeline_create args;
	struct dmabridge_timeline *tl;
	char comm[TASK_COMM_LEN];
	struct file *file;
	int fd, ret;

	ret = sync_copy_in(&args, sizeof(args), cmd, arg);
	if (ret)
		return ret;
	if (args.flags & ~DMABRIDGE_SYNC_CLOEXEC)
		return -EINVAL;
	if (args.timeout_ns > DMABRIDGE_SYNC_TIMEOUT_MAX)
		return -EINVAL;
	if (strnlen(args.name, sizeof(args.name)) == sizeof(args.name))
		return -EINVAL;
	if (!args.name[0])
		strscpy(args.name, get_task_comm(comm, current),
			sizeof(args.name));

	fd = get_unused_fd_flags(sync_fd_flags(args.flags));
	if (fd < 0)
		return fd;
	tl = dmabridge_timeline_create(DMABRIDGE_TIMELINE_SYNC, args.name,
				       args.initial_value, args.timeout_ns);
	if (!tl) {
		ret = -ENOMEM;
		goto err_fd;
	}
	file = anon_inode_getfile("[dmabridge-sync-timeline]", &timeline_fops,
				  tl, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		dmabridge_timeline_close(tl, -EPIPE);
		goto err_fd;
	}
	args.fd = fd;
	ret = sync_copy_out(cmd, arg, &args, sizeof(args));
	if (ret) {
		fput(file);
		goto err_fd;
	}
	fd_install(fd, file);
	return 0;

err_fd:
	put_unused_fd(fd);
	return ret;
}

static long sync_dev_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	if (sync_ioc_match(cmd, DMABRIDGE_SYNC_IOC_TIMELINE_CREATE))
		return sync_timeline_create(cmd, arg);
	return -ENOTTY;
}

static const struct file_operations sync_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = sync_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice sync_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabridge-sync",
	.fops = &sync_dev_fops,
	.mode = 0666,
};

static int objects_show(struct seq_file *s, void *unused)
{
	long timelines, fences;

	dmabridge_timeline_objects(&timelines, &fences);
	seq_printf(s, "timelines %ld\nfences %ld\n", timelines, fences);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(objects);

static int info_show(struct seq_file *s, void *unused)
{
	dmabridge_timeline_show(s);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(info);

static struct dentry *sync_debugfs;

static int __init sync_dev_init(void)
{
	int ret;

	sync_debugfs = debugfs_create_dir("dmabridge-sync", NULL);
	debugfs_create_file("objects", 0444, sync_debugfs, NULL,
			    &objects_fops);
	debugfs_create_file("info", 0444, sync_debugfs, NULL, &info_fops);
	ret = misc_register(&sync_misc);
	if (ret)
		debugfs_remove_recursive(sync_debugfs);
	return ret;
}

static void __exit sync_dev_exit(void)
{
	misc_deregister(&sync_misc);
	debugfs_remove_recursive(sync_debugfs);
	/* Timelines free themselves in RCU callbacks that run our code. */
	rcu_barrier();
}

module_init(sync_dev_init);
module_exit(sync_dev_exit);

MODULE_DESCRIPTION("dmabridge sync: userspace-driven fence timelines");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
