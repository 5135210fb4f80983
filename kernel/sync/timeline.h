/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Timelines driven from userspace, shared by dmabridge_sync (the
 * production interface) and sw_sync (upstream's debugging interface).
 * They differ only in their kind: sw_sync's values are 32 bits wide and
 * wrap as upstream's do, dmabridge_sync's are 64 bits wide and never wrap.
 */
#ifndef _DMABRIDGE_SYNC_TIMELINE_H
#define _DMABRIDGE_SYNC_TIMELINE_H

#include <linux/dma-fence.h>
#include <linux/ktime.h>
#include <linux/seq_file.h>
#include <linux/types.h>

enum dmabridge_timeline_kind {
	DMABRIDGE_TIMELINE_SW_SYNC,
	DMABRIDGE_TIMELINE_SYNC,
};

struct dmabridge_timeline;

struct dmabridge_timeline *
dmabridge_timeline_create(enum dmabridge_timeline_kind kind, const char *name,
			  u64 initial_value, u64 timeout_ns);
void dmabridge_timeline_close(struct dmabridge_timeline *tl, int error);
/* A new fence at @value, in a sync_file installed in the reserved @fd. */
int dmabridge_timeline_install_fence(struct dmabridge_timeline *tl,
				     u64 value, int fd);
int dmabridge_timeline_signal(struct dmabridge_timeline *tl, u64 value,
			      bool inc, int error);

struct dmabridge_timeline_state {
	u64 value;
	u64 timeout_ns;
	u64 context;
	u32 pending;
	char name[32];
};

void dmabridge_timeline_state(struct dmabridge_timeline *tl,
			      struct dmabridge_timeline_state *state);
int dmabridge_fence_deadline(struct dma_fence *fence, ktime_t *deadline);
void dmabridge_timeline_show(struct seq_file *s);

/* Live objects of both kinds, for leak checks (dmabridge_sync only). */
void dmabridge_timeline_objects(long *timelines, long *fences);

#endif /* _DMABRIDGE_SYNC_TIMELINE_H */
