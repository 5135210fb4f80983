// SPDX-License-Identifier: GPL-2.0
/*
 * Timelines whose value userspace advances, and their fences.
 *
 * A timeline keeps its unsignaled fences in an rbtree by value, each with a
 * reference of its own, so they stay findable until they signal even when
 * nobody else holds them; closing the timeline signals them all, which
 * bounds their life by the timeline file's.  Because the tree holds them,
 * a fence is never released while it is pending, and release never needs
 * the timeline lock: a callback run while we signal under that lock may
 * drop the last reference to any of our fences without deadlocking.
 *
 * Every fence's lock is its timeline's lock, so advancing the value and
 * signaling the fences it reaches is one atomic step: a fence is signaled
 * exactly when the value has reached it, and the optional .signaled and
 * .enable_signaling callbacks would add nothing.  There is no .wait either,
 * so the core's default wait serves every waiter, including
 * dma_fence_wait_any_timeout() over fences of several drivers.
 *
 * Signaling, closing and timing out walk the pending fences with
 * interrupts off, so a dmabridge-sync timeline, which anyone may create,
 * holds at most max_pending of them: no user can keep a CPU's interrupts
 * off for long.  sw_sync's are root's and unlimited, as upstream's are.
 */
#include <linux/atomic.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/rbtree.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sync_file.h>
#include <linux/string.h>

#include "timeline.h"

struct dmabridge_timeline {
	struct kref kref;
	/* Also every fence's lock: signaling is atomic with the value. */
	spinlock_t lock;
	enum dmabridge_timeline_kind kind;
	u64 context;
	/* Under lock; read locklessly only for display. */
	u64 value;
	struct rb_root pending;
	/* The pending fences again, oldest first: the next to time out. */
	struct list_head by_age;
	u32 nr_pending;
	ktime_t timeout;
	struct hrtimer timer;
	struct list_head debug_link;
	struct rcu_head rcu;
	char name[32];
};

struct dmabridge_fence {
	struct dma_fence base;
	struct rb_node node;
	struct list_head age_link;
	ktime_t expires;
	ktime_t deadline;
};

/* dma_fence flag: @deadline holds the earliest deadline hint set. */
#define DMABRIDGE_FENCE_HAS_DEADLINE	DMA_FENCE_FLAG_USER_BITS

static unsigned int max_pending = 4096;
module_param(max_pending, uint, 0644);
MODULE_PARM_DESC(max_pending,
		 "Most unsignaled fences a dmabridge-sync timeline holds (0: no limit)");

static LIST_HEAD(timelines);
static DEFINE_SPINLOCK(timelines_lock);
static atomic_long_t nr_timelines = ATOMIC_LONG_INIT(0);
static atomic_long_t nr_fences = ATOMIC_LONG_INIT(0);

static const struct dma_fence_ops sw_sync_fence_ops;
static const struct dma_fence_ops sync_fence_ops;

static struct dmabridge_fence *to_fence(struct dma_fence *fence)
{
	return container_of(fence, struct dmabridge_fence, base);
}

static struct dmabridge_timeline *fence_timeline(struct dma_fence *fence)
{
	return container_of(fence->lock, struct dmabridge_timeline, lock);
}

/* sw_sync compares 32-bit values across wraparound, as upstream does. */
static s64 value_cmp(const struct dmabridge_timeline *tl, u64 a, u64 b)
{
	if (tl->kind == DMABRIDGE_TIMELINE_SW_SYNC)
		return (s32)((u32)a - (u32)b);
	return a < b ? -1 : a > b;
}

static void timeline_free_rcu(struct rcu_head *rcu)
{
	struct dmabridge_timeline *tl =
		container_of(rcu, struct dmabridge_timeline, rcu);
	unsigned long flags;

	spin_lock_irqsave(&timelines_lock, flags);
	list_del(&tl->debug_link);
	spin_unlock_irqrestore(&timelines_lock, flags);
	kfree(tl);
	module_put(THIS_MODULE);
}

/*
 * RCU readers of the timeline's last fence may still take that fence's
 * lock, which is the timeline's: it waits for a grace period.  The fence
 * may also go in a callback under another timeline's lock, which the
 * grace period keeps clear of timelines_lock as well.
 */
static void timeline_free(struct kref *kref)
{
	struct dmabridge_timeline *tl =
		container_of(kref, struct dmabridge_timeline, kref);

	/* Counted as gone now: what is left is memory waiting for RCU. */
	atomic_long_dec(&nr_timelines);
	call_rcu(&tl->rcu, timeline_free_rcu);
}

static void timeline_put(struct dmabridge_timeline *tl)
{
	kref_put(&tl->kref, timeline_free);
}

/*
 * Called with the lock held: makes @value the timeline's and signals, with
 * @error, every pending fence it reaches.  The tree's references move to
 * @done, to be dropped once the lock is released.
 */
/* Under the lock: @f leaves the pending tree (its age_link is the caller's). */
static void timeline_unlink_locked(struct dmabridge_timeline *tl,
				   struct dmabridge_fence *f)
{
	rb_erase(&f->node, &tl->pending);
	RB_CLEAR_NODE(&f->node);
	tl->nr_pending--;
}

/*
 * Under the lock: the lowest pending fence signals, with @error if not 0,
 * and the tree's reference moves to @done.  Returns false with none left.
 */
static bool timeline_signal_first_locked(struct dmabridge_timeline *tl,
					 int error, struct list_head *done)
{
	struct rb_node *node = rb_first(&tl->pending);
	struct dmabridge_fence *f;

	if (!node)
		return false;
	f = rb_entry(node, struct dmabridge_fence, node);
	timeline_unlink_locked(tl, f);
	list_move_tail(&f->age_link, done);
	if (error)
		dma_fence_set_error(&f->base, error);
	dma_fence_signal_locked(&f->base);
	return true;
}

static void timeline_advance_locked(struct dmabridge_timeline *tl, u64 value,
				    int error, struct list_head *done)
{
	struct rb_node *node;

	WRITE_ONCE(tl->value, value);
	while ((node = rb_first(&tl->pending)) &&
	       value_cmp(tl, rb_entry(node, struct dmabridge_fence,
				      node)->base.seqno, value) <= 0)
		timeline_signal_first_locked(tl, error, done);
}

static void put_signaled(struct list_head *done)
{
	struct dmabridge_fence *f, *next;

	list_for_each_entry_safe(f, next, done, age_link) {
		list_del_init(&f->age_link);
		dma_fence_put(&f->base);
	}
}

/*
 * The oldest pending fence timed out: it and everything below it on the
 * timeline signal with -ETIMEDOUT, which keeps the timeline's order.
 */
static enum hrtimer_restart timeline_timeout(struct hrtimer *timer)
{
	struct dmabridge_timeline *tl =
		container_of(timer, struct dmabridge_timeline, timer);
	enum hrtimer_restart restart = HRTIMER_NORESTART;
	struct dmabridge_fence *oldest;
	unsigned long flags;
	LIST_HEAD(done);
	ktime_t now = ktime_get();

	spin_lock_irqsave(&tl->lock, flags);
	/*
	 * While we waited for the lock, the fences pending when the timer
	 * fired may all have signaled and a new one started the timer again
	 * (timeline_fence()).  It is queued for the oldest fence then, and
	 * its expiry is not ours to change: that one will run this again.
	 */
	if (hrtimer_is_queued(timer)) {
		spin_unlock_irqrestore(&tl->lock, flags);
		return HRTIMER_NORESTART;
	}
	while ((oldest = list_first_entry_or_null(&tl->by_age,
						  struct dmabridge_fence,
						  age_link))) {
		if (ktime_after(oldest->expires, now)) {
			hrtimer_set_expires(timer, oldest->expires);
			restart = HRTIMER_RESTART;
			break;
		}
		timeline_advance_locked(tl, max(tl->value, oldest->base.seqno),
					-ETIMEDOUT, &done);
	}
	spin_unlock_irqrestore(&tl->lock, flags);
	put_signaled(&done);
	return restart;
}

struct dmabridge_timeline *
dmabridge_timeline_create(enum dmabridge_timeline_kind kind, const char *name,
			  u64 initial_value, u64 timeout_ns)
{
	struct dmabridge_timeline *tl;
	unsigned long flags;

	/* Userspace makes as many as it likes: charge them to its memcg. */
	tl = kzalloc(sizeof(*tl), GFP_KERNEL_ACCOUNT);
	if (!tl)
		return NULL;
	kref_init(&tl->kref);
	spin_lock_init(&tl->lock);
	tl->kind = kind;
	tl->context = dma_fence_context_alloc(1);
	tl->value = kind == DMABRIDGE_TIMELINE_SW_SYNC ?
		    (u32)initial_value : initial_value;
	tl->pending = RB_ROOT;
	INIT_LIST_HEAD(&tl->by_age);
	tl->timeout = ns_to_ktime(timeout_ns);
	hrtimer_init(&tl->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	tl->timer.function = timeline_timeout;
	strscpy(tl->name, name, sizeof(tl->name));

	/*
	 * Its fences' ops and its RCU callback are this module's code, and
	 * the fences hold the timeline: so the timeline holds the module.
	 */
	__module_get(THIS_MODULE);
	atomic_long_inc(&nr_timelines);
	spin_lock_irqsave(&timelines_lock, flags);
	list_add_tail(&tl->debug_link, &timelines);
	spin_unlock_irqrestore(&timelines_lock, flags);
	return tl;
}
EXPORT_SYMBOL_GPL(dmabridge_timeline_create);

/*
 * The timeline's file is gone: no fence can be made or signaled through it
 * any more, so the pending ones signal now, with @error, and the timeline
 * lives on only as long as its fences.  They signal lowest value first, as
 * an advance signals them: callbacks run as each one signals, and the
 * fences of one timeline must signal in order.
 */
void dmabridge_timeline_close(struct dmabridge_timeline *tl, int error)
{
	LIST_HEAD(done);

	hrtimer_cancel(&tl->timer);
	spin_lock_irq(&tl->lock);
	while (timeline_signal_first_locked(tl, error, &done))
		;
	spin_unlock_irq(&tl->lock);
	put_signaled(&done);
	timeline_put(tl);
}
EXPORT_SYMBOL_GPL(dmabridge_timeline_close);

static bool timeline_full_locked(struct dmabridge_timeline *tl)
{
	unsigned int max = READ_ONCE(max_pending);

	return tl->kind == DMABRIDGE_TIMELINE_SYNC && max &&
	       tl->nr_pending >= max;
}

static struct dmabridge_fence *timeline_fence_alloc(struct dmabridge_timeline *tl,
						    u64 value)
{
	const struct dma_fence_ops *ops;
	struct dmabridge_fence *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return NULL;
	if (tl->kind == DMABRIDGE_TIMELINE_SW_SYNC) {
		ops = &sw_sync_fence_ops;
		value = (u32)value;
	} else {
		ops = &sync_fence_ops;
	}
	atomic_long_inc(&nr_fences);
	kref_get(&tl->kref);
	dma_fence_init(&f->base, ops, &tl->lock, tl->context, value);
	INIT_LIST_HEAD(&f->age_link);
	RB_CLEAR_NODE(&f->node);
	return f;
}

/*
 * The fence goes on the timeline: signaled at once if the value has
 * reached it, else pending, with a reference held by the tree.
 */
static int timeline_fence_add(struct dmabridge_timeline *tl,
			      struct dmabridge_fence *f)
{
	struct rb_node **link, *parent = NULL;
	u64 value = f->base.seqno;

	spin_lock_irq(&tl->lock);
	if (value_cmp(tl, value, tl->value) <= 0) {
		dma_fence_signal_locked(&f->base);
		spin_unlock_irq(&tl->lock);
		return 0;
	}
	if (timeline_full_locked(tl)) {
		spin_unlock_irq(&tl->lock);
		return -ENOSPC;
	}
	link = &tl->pending.rb_node;
	while (*link) {
		struct dmabridge_fence *other;

		parent = *link;
		other = rb_entry(parent, struct dmabridge_fence, node);
		if (value_cmp(tl, value, other->base.seqno) < 0)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&f->node, parent, link);
	rb_insert_color(&f->node, &tl->pending);
	dma_fence_get(&f->base);
	tl->nr_pending++;
	if (tl->timeout) {
		f->expires = ktime_add(ktime_get(), tl->timeout);
		/* Otherwise the timer is set for an older fence. */
		if (list_empty(&tl->by_age))
			hrtimer_start(&tl->timer, f->expires, HRTIMER_MODE_ABS);
	}
	list_add_tail(&f->age_link, &tl->by_age);
	spin_unlock_irq(&tl->lock);
	return 0;
}

/*
 * Both interfaces hand a new fence to userspace only inside a sync_file.
 * The fence joins the timeline last, when nothing can fail any more but
 * the limit: a pending fence that nobody holds could still time out, and
 * a timeout moves the timeline's value on.
 */
static struct sync_file *timeline_sync_file(struct dmabridge_timeline *tl,
					    u64 value)
{
	struct sync_file *sync_file;
	struct dmabridge_fence *f;
	int ret;

	f = timeline_fence_alloc(tl, value);
	if (!f)
		return ERR_PTR(-ENOMEM);
	sync_file = sync_file_create(&f->base);
	dma_fence_put(&f->base);
	if (!sync_file)
		return ERR_PTR(-ENOMEM);
	ret = timeline_fence_add(tl, f);
	if (ret) {
		/* Never pending: it goes as a released fence goes. */
		fput(sync_file->file);
		return ERR_PTR(ret);
	}
	return sync_file;
}

/*
 * Installs a new fence at @value in @fd, which the caller reserved and
 * has already written back to userspace: once the fence exists, nothing
 * may fail.  On an error, @fd is still the caller's to put back.
 */
int dmabridge_timeline_install_fence(struct dmabridge_timeline *tl,
				     u64 value, int fd)
{
	struct sync_file *sync_file = timeline_sync_file(tl, value);

	if (IS_ERR(sync_file))
		return PTR_ERR(sync_file);
	fd_install(fd, sync_file->file);
	return 0;
}
EXPORT_SYMBOL_GPL(dmabridge_timeline_install_fence);

/*
 * Advance the timeline to @value, or by @value when @inc.  64-bit
 * timelines never go back (-EINVAL) nor wrap (-EOVERFLOW); sw_sync's wrap,
 * and its caller splits increments so that none exceeds INT_MAX.
 */
int dmabridge_timeline_signal(struct dmabridge_timeline *tl, u64 value,
			      bool inc, int error)
{
	LIST_HEAD(done);
	u64 target;
	int ret = 0;

	spin_lock_irq(&tl->lock);
	if (tl->kind == DMABRIDGE_TIMELINE_SW_SYNC)
		target = (u32)(inc ? tl->value + value : value);
	else if (!inc)
		target = value;
	else if (check_add_overflow(tl->value, value, &target))
		ret = -EOVERFLOW;
	if (!ret && tl->kind == DMABRIDGE_TIMELINE_SYNC && target < tl->value)
		ret = -EINVAL;
	if (!ret)
		timeline_advance_locked(tl, target, error, &done);
	spin_unlock_irq(&tl->lock);
	put_signaled(&done);
	return ret;
}
EXPORT_SYMBOL_GPL(dmabridge_timeline_signal);

void dmabridge_timeline_state(struct dmabridge_timeline *tl,
			      struct dmabridge_timeline_state *state)
{
	spin_lock_irq(&tl->lock);
	state->value = tl->value;
	state->pending = tl->nr_pending;
	spin_unlock_irq(&tl->lock);
	state->timeout_ns = ktime_to_ns(tl->timeout);
	state->context = tl->context;
	strscpy(state->name, tl->name, sizeof(state->name));
}
EXPORT_SYMBOL_GPL(dmabridge_timeline_state);

/*
 * The earliest deadline hint set on a sw_sync fence: -EINVAL for any other
 * fence, -ENOENT when none was set (upstream's SW_SYNC_GET_DEADLINE).
 */
int dmabridge_fence_deadline(struct dma_fence *fence, ktime_t *deadline)
{
	unsigned long flags;
	int ret = 0;

	if (fence->ops != &sw_sync_fence_ops)
		return -EINVAL;
	spin_lock_irqsave(fence->lock, flags);
	if (test_bit(DMABRIDGE_FENCE_HAS_DEADLINE, &fence->flags))
		*deadline = to_fence(fence)->deadline;
	else
		ret = -ENOENT;
	spin_unlock_irqrestore(fence->lock, flags);
	return ret;
}
EXPORT_SYMBOL_GPL(dmabridge_fence_deadline);

static const char *status_str(struct dma_fence *fence)
{
	int status = dma_fence_get_status_locked(fence);

	return status < 0 ? "error" : status ? "signaled" : "active";
}

/* upstream's sync/info format: timelines, then sync_files (none tracked). */
static void timeline_show_one(struct seq_file *s, struct dmabridge_timeline *tl)
{
	struct rb_node *node;

	spin_lock_irq(&tl->lock);
	seq_printf(s, "%s: %llu\n", tl->name, tl->value);
	for (node = rb_first(&tl->pending); node; node = rb_next(node)) {
		struct dmabridge_fence *f =
			rb_entry(node, struct dmabridge_fence, node);

		seq_printf(s, "  fence %s: %llu / %llu\n",
			   status_str(&f->base), f->base.seqno, tl->value);
	}
	spin_unlock_irq(&tl->lock);
	seq_putc(s, '\n');
}

/*
 * One timeline at a time with interrupts off, as signaling takes them:
 * holding the list's lock across all of them would keep a CPU's
 * interrupts off for as long as every user's timelines take to print.  A
 * timeline stays on the list while we hold a reference to it.
 */
void dmabridge_timeline_show(struct seq_file *s)
{
	struct dmabridge_timeline *tl, *shown = NULL;

	seq_puts(s, "objs:\n--------------\n");
	spin_lock_irq(&timelines_lock);
	list_for_each_entry(tl, &timelines, debug_link) {
		if (!kref_get_unless_zero(&tl->kref))
			continue;
		spin_unlock_irq(&timelines_lock);
		if (shown)
			timeline_put(shown);
		shown = tl;
		timeline_show_one(s, tl);
		spin_lock_irq(&timelines_lock);
	}
	spin_unlock_irq(&timelines_lock);
	if (shown)
		timeline_put(shown);
	seq_puts(s, "fences:\n--------------\n");
}
EXPORT_SYMBOL_GPL(dmabridge_timeline_show);

void dmabridge_timeline_objects(long *nr_tl, long *nr_f)
{
	*nr_tl = atomic_long_read(&nr_timelines);
	*nr_f = atomic_long_read(&nr_fences);
}

static const char *sw_sync_driver_name(struct dma_fence *fence)
{
	return "sw_sync";
}

static const char *sync_driver_name(struct dma_fence *fence)
{
	return "dmabridge-sync";
}

static const char *fence_timeline_name(struct dma_fence *fence)
{
	return fence_timeline(fence)->name;
}

/*
 * Pending fences are held by their timeline, so a released fence has
 * signaled and left the tree.  RCU readers (dma_resv) may still look at
 * it, and through it at its timeline: both are freed after a grace
 * period, the fence in the core's batches as dma_fence_free() does, with
 * no callback of ours to run per fence.
 */
static void fence_release(struct dma_fence *fence)
{
	struct dmabridge_timeline *tl = fence_timeline(fence);

	WARN_ON_ONCE(!RB_EMPTY_NODE(&to_fence(fence)->node));
	atomic_long_dec(&nr_fences);
	kfree_rcu(to_fence(fence), base.rcu);
	timeline_put(tl);
}

static void fence_value_str(struct dma_fence *fence, char *str, int size)
{
	snprintf(str, size, "%llu", fence->seqno);
}

static void timeline_value_str(struct dma_fence *fence, char *str, int size)
{
	snprintf(str, size, "%llu", READ_ONCE(fence_timeline(fence)->value));
}

#ifdef DMABRIDGE_HAVE_FENCE_DEADLINE
/* Deadline hints are kept only to be read back by SW_SYNC_GET_DEADLINE. */
static void fence_set_deadline(struct dma_fence *fence, ktime_t deadline)
{
	struct dmabridge_fence *f = to_fence(fence);
	unsigned long flags;

	spin_lock_irqsave(fence->lock, flags);
	if (!test_and_set_bit(DMABRIDGE_FENCE_HAS_DEADLINE, &fence->flags) ||
	    ktime_before(deadline, f->deadline))
		f->deadline = deadline;
	spin_unlock_irqrestore(fence->lock, flags);
}
#endif

static const struct dma_fence_ops sw_sync_fence_ops = {
	.get_driver_name = sw_sync_driver_name,
	.get_timeline_name = fence_timeline_name,
	.release = fence_release,
	.fence_value_str = fence_value_str,
	.timeline_value_str = timeline_value_str,
#ifdef DMABRIDGE_HAVE_FENCE_DEADLINE
	.set_deadline = fence_set_deadline,
#endif
};

static const struct dma_fence_ops sync_fence_ops = {
	.use_64bit_seqno = true,
	.get_driver_name = sync_driver_name,
	.get_timeline_name = fence_timeline_name,
	.release = fence_release,
	.fence_value_str = fence_value_str,
	.timeline_value_str = timeline_value_str,
#ifdef DMABRIDGE_HAVE_FENCE_DEADLINE
	.set_deadline = fence_set_deadline,
#endif
};
