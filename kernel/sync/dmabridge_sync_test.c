// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge_sync_test: test only.  Waits in the kernel on any of several
 * sync_files with dma_fence_wait_any_timeout(), the way drivers wait on
 * fences from several producers at once.
 */
#include <linux/dma-fence.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sync_file.h>
#include <linux/uaccess.h>

#include <dmabridge/version.h>

#include <dmabridge_sync_test.h>

static long sync_test_wait_any(void __user *uarg)
{
	struct dmabridge_sync_test_wait_any args;
	struct dma_fence **fences;
	s32 *fds;
	long ret;
	u32 i, n = 0, index = 0;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.pad || !args.count ||
	    args.count > DMABRIDGE_SYNC_TEST_MAX_FENCES)
		return -EINVAL;

	fds = memdup_user(u64_to_user_ptr(args.fds),
			  array_size(args.count, sizeof(*fds)));
	if (IS_ERR(fds))
		return PTR_ERR(fds);
	fences = kcalloc(args.count, sizeof(*fences), GFP_KERNEL);
	if (!fences) {
		ret = -ENOMEM;
		goto out_fds;
	}
	for (n = 0; n < args.count; n++) {
		fences[n] = sync_file_get_fence(fds[n]);
		if (!fences[n]) {
			ret = -EINVAL;
			goto out_fences;
		}
	}

	ret = dma_fence_wait_any_timeout(fences, n, true,
					 nsecs_to_jiffies(args.timeout_ns),
					 &index);
	if (ret == 0) {
		ret = -ETIME;
	} else if (ret > 0) {
		args.index = index;
		ret = copy_to_user(uarg, &args, sizeof(args)) ? -EFAULT : 0;
	}

out_fences:
	for (i = 0; i < n; i++)
		dma_fence_put(fences[i]);
	kfree(fences);
out_fds:
	kfree(fds);
	return ret;
}

static long sync_test_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	if (cmd == DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY)
		return sync_test_wait_any((void __user *)arg);
	return -ENOTTY;
}

static const struct file_operations sync_test_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = sync_test_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice sync_test_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabridge-sync-test",
	.fops = &sync_test_fops,
	.mode = 0600,
};
module_misc_device(sync_test_misc);

MODULE_DESCRIPTION("dmabridge sync test helper: kernel waits on many fences");
MODULE_LICENSE("GPL");
MODULE_VERSION(DMABRIDGE_VERSION);
