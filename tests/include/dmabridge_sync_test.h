/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only UAPI of dmabridge_sync_test.ko (built with TESTING=1, never
 * shipped): the kernel waits on several sync_files at once with
 * dma_fence_wait_any_timeout(), as drivers do, so that tests can show that
 * fences of every producer, ours among them, work there.
 */
#ifndef _DMABRIDGE_SYNC_TEST_H
#define _DMABRIDGE_SYNC_TEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMABRIDGE_SYNC_TEST_DEVICE	"/dev/dmabridge-sync-test"
#define DMABRIDGE_SYNC_TEST_MAX_FENCES	64

/**
 * struct dmabridge_sync_test_wait_any - DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY
 * @fds:	pointer to @count __s32 sync_file descriptors
 * @count:	1 to DMABRIDGE_SYNC_TEST_MAX_FENCES
 * @flags:	must be 0
 * @timeout_ns:	how long to wait; 0 only looks
 * @index:	out: which fence signaled (the lowest index if several had)
 * @pad:	must be 0
 *
 * Returns 0 when a fence signaled, ETIME when none did in time, and
 * whatever dma_fence_wait_any_timeout() returned otherwise.
 */
struct dmabridge_sync_test_wait_any {
	__u64	fds;
	__u32	count;
	__u32	flags;
	__u64	timeout_ns;
	__u32	index;
	__u32	pad;
};

#define DMABRIDGE_SYNC_TEST_IOC_WAIT_ANY \
	_IOWR(0xDB, 0x90, struct dmabridge_sync_test_wait_any)

#endif /* _DMABRIDGE_SYNC_TEST_H */
