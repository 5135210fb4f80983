/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmabridge fences: userspace-driven timelines whose fences are ordinary
 * dma_fences in sync_files.
 *
 * Two interfaces:
 *
 *  - /dev/dmabridge-sync, the production one (below): a timeline is a file
 *    descriptor, and every fence of it that has not signaled when the last
 *    reference to that file goes is signaled with -EPIPE, so a process that
 *    dies cannot leave fences that never signal.  An optional timeout signals
 *    a fence with -ETIMEDOUT when it has not signaled in time.
 *
 *  - sw_sync, upstream's debugging interface, at upstream's debugfs path
 *    (/sys/kernel/debug/sync/sw_sync) and as /dev/sw_sync.  Its ioctls and
 *    structs are byte for byte upstream's, which keeps them private to
 *    drivers/dma-buf/sw_sync.c; they are repeated at the end of this file
 *    for programs that have no copy.
 *
 * The sync_files are the kernel's own: SYNC_IOC_MERGE, SYNC_IOC_FILE_INFO,
 * poll(), DMA_BUF_IOCTL_IMPORT_SYNC_FILE and EXPORT_SYNC_FILE all work on
 * them (<linux/sync_file.h>, <linux/dma-buf.h>).
 */
#ifndef _UAPI_DMABRIDGE_SYNC_H
#define _UAPI_DMABRIDGE_SYNC_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Ioctl numbers: type 0xDB, numbers 0x40-0x4f (0xDB 0x80-0x8f belong to the
 * test-only importer).
 *
 * Every struct may grow at its end in later versions; its size is encoded
 * in the ioctl number.  The kernel accepts any size from the first version's
 * up: a shorter struct from an older program reads as if the missing fields
 * were zero, and a longer one from a newer program is accepted only if every
 * byte the kernel does not know is zero (E2BIG otherwise).  Only the part of
 * the struct both sides know is written back.
 *
 * Common rules: flags the kernel does not know, and reserved fields that
 * are not zero, fail with EINVAL; an unreadable or unwritable struct with
 * EFAULT; an ioctl on the wrong kind of file with ENOTTY.
 */
#define DMABRIDGE_SYNC_IOC_MAGIC	0xDB

/* Longest timeline name, including its terminating NUL. */
#define DMABRIDGE_SYNC_NAME_LEN		32

/* The new file descriptor is close-on-exec. */
#define DMABRIDGE_SYNC_CLOEXEC		(1U << 0)

/**
 * struct dmabridge_sync_timeline_create - DMABRIDGE_SYNC_IOC_TIMELINE_CREATE
 * @flags:	DMABRIDGE_SYNC_CLOEXEC
 * @fd:		out: the new timeline's file descriptor
 * @timeout_ns:	0, or how long a fence of this timeline may stay unsignaled
 *		after it was created: a fence still unsignaled then is signaled
 *		with -ETIMEDOUT, and so is every fence of the timeline with a
 *		lower or equal value, whose value the timeline then reaches
 *		(fences of one timeline signal in order).  At most
 *		DMABRIDGE_SYNC_TIMEOUT_MAX.
 * @initial_value: the timeline's value to start with
 * @name:	NUL-terminated name shown by SYNC_IOC_FILE_INFO and debugfs;
 *		"" gives the creating task's name
 *
 * Issued on /dev/dmabridge-sync.  The timeline's value starts at
 * @initial_value and only goes up; a fence is signaled when the value
 * reaches the fence's.  Closing the last reference to the timeline file
 * signals its unsignaled fences with -EPIPE.
 */
struct dmabridge_sync_timeline_create {
	__u32	flags;
	__s32	fd;
	__u64	timeout_ns;
	__u64	initial_value;
	char	name[DMABRIDGE_SYNC_NAME_LEN];
};

/* One day: longer is a mistake, and keeps ktime arithmetic far from overflow. */
#define DMABRIDGE_SYNC_TIMEOUT_MAX	(86400ULL * 1000000000ULL)

/**
 * struct dmabridge_sync_fence_create - DMABRIDGE_SYNC_IOC_FENCE_CREATE
 * @value:	the timeline value at which the fence signals
 * @flags:	DMABRIDGE_SYNC_CLOEXEC
 * @fd:		out: a sync_file holding the new fence (only when the ioctl
 *		succeeds: the kernel may write it before a later step fails)
 *
 * Issued on a timeline.  A value the timeline has already reached gives a
 * fence that is signaled from the start.  Any number of fences may share a
 * value.  A timeline holds at most as many unsignaled fences as the
 * dmabridge_sync module parameter max_pending says (4096 unless the
 * administrator changed it, 0 for no limit): beyond that, ENOSPC until
 * some signal.  Signaling walks them with interrupts off.
 */
struct dmabridge_sync_fence_create {
	__u64	value;
	__u32	flags;
	__s32	fd;
};

/* dmabridge_sync_signal.flags: @value is added to the timeline's value. */
#define DMABRIDGE_SYNC_SIGNAL_INC	(1U << 0)

/**
 * struct dmabridge_sync_signal - DMABRIDGE_SYNC_IOC_SIGNAL
 * @value:	the timeline's new value, or with DMABRIDGE_SYNC_SIGNAL_INC
 *		the amount to add to it
 * @flags:	DMABRIDGE_SYNC_SIGNAL_INC
 * @error:	0, or a negative errno (-4095 to -1) that every fence this
 *		call signals carries (the producer failed)
 *
 * Issued on a timeline: signals every fence whose value the timeline
 * reaches.  A value below the current one fails with EINVAL (the same
 * value is accepted and does nothing); a sum above 2^64 - 1 with
 * EOVERFLOW.
 */
struct dmabridge_sync_signal {
	__u64	value;
	__u32	flags;
	__s32	error;
};

/**
 * struct dmabridge_sync_timeline_info - DMABRIDGE_SYNC_IOC_TIMELINE_INFO
 * @value:	out: the timeline's value
 * @timeout_ns:	out: its timeout, 0 for none
 * @context:	out: the dma_fence context of its fences
 * @pending:	out: how many of its fences have not signaled yet
 * @flags:	in: must be 0
 * @name:	out: its name
 */
struct dmabridge_sync_timeline_info {
	__u64	value;
	__u64	timeout_ns;
	__u64	context;
	__u32	pending;
	__u32	flags;
	char	name[DMABRIDGE_SYNC_NAME_LEN];
};

#define DMABRIDGE_SYNC_IOC_TIMELINE_CREATE \
	_IOWR(DMABRIDGE_SYNC_IOC_MAGIC, 0x40, struct dmabridge_sync_timeline_create)
#define DMABRIDGE_SYNC_IOC_FENCE_CREATE \
	_IOWR(DMABRIDGE_SYNC_IOC_MAGIC, 0x41, struct dmabridge_sync_fence_create)
#define DMABRIDGE_SYNC_IOC_SIGNAL \
	_IOW(DMABRIDGE_SYNC_IOC_MAGIC, 0x42, struct dmabridge_sync_signal)
#define DMABRIDGE_SYNC_IOC_TIMELINE_INFO \
	_IOWR(DMABRIDGE_SYNC_IOC_MAGIC, 0x43, struct dmabridge_sync_timeline_info)

/*
 * sw_sync, as upstream defines it (drivers/dma-buf/sw_sync.c): a timeline
 * per open file, 32-bit values that wrap, fences of a closed timeline
 * signaled with -ENOENT.  SW_SYNC_GET_DEADLINE exists only on kernels with
 * fence deadlines (6.3 and later); elsewhere it fails with ENOTTY.
 */
#ifndef SW_SYNC_IOC_MAGIC
struct sw_sync_create_fence_data {
	__u32	value;
	char	name[32];
	__s32	fence;
};

struct sw_sync_get_deadline {
	__u64	deadline_ns;
	__u32	pad;
	__s32	fence_fd;
};

#define SW_SYNC_IOC_MAGIC		'W'
#define SW_SYNC_IOC_CREATE_FENCE	_IOWR(SW_SYNC_IOC_MAGIC, 0, \
					      struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC			_IOW(SW_SYNC_IOC_MAGIC, 1, __u32)
#define SW_SYNC_GET_DEADLINE		_IOWR(SW_SYNC_IOC_MAGIC, 2, \
					      struct sw_sync_get_deadline)
#endif

#endif /* _UAPI_DMABRIDGE_SYNC_H */
