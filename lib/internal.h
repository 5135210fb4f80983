/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by libdmabridge's source files.  Not installed: nothing
 * here is part of the ABI (the shared library hides these symbols), but
 * the host unit tests link the static library and call them directly.
 */
#ifndef DMABRIDGE_INTERNAL_H
#define DMABRIDGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmabridge.h"

#define DMB_HIDDEN __attribute__((visibility("hidden")))

/*
 * Read at most @len - 1 bytes of the file at @path into @buf and
 * NUL-terminate it.  Returns the number of bytes read or -errno.
 */
DMB_HIDDEN ssize_t dmb_read_file(const char *path, char *buf, size_t len);

/*
 * Read a one-line sysfs or procfs file, strip the trailing newline.
 * Returns the length or -errno.
 */
DMB_HIDDEN ssize_t dmb_read_line(const char *path, char *buf, size_t len);

/* Read a file holding one unsigned decimal number. */
DMB_HIDDEN int dmb_read_u64(const char *path, uint64_t *val);

/*
 * Fill @info from the text of a /proc/PID/fdinfo/FD file.  Returns 0 if
 * the text describes a dma-buf (it has an exp_name line),
 * -DMABRIDGE_ENOTDMABUF if it does not.
 */
DMB_HIDDEN int dmb_parse_fdinfo(const char *text,
				struct dmabridge_dmabuf_info *info);

/*
 * Parse "Hugepagesize:" from the text of /proc/meminfo into bytes.
 * -ENOENT when absent.
 */
DMB_HIDDEN int dmb_parse_hugepagesize(const char *meminfo, uint64_t *size);

/*
 * The sysfs and devfs root the udmabuf kind and limit lookups use ("" in
 * production).  Tests point it at a fake tree; not thread-safe, test use
 * only.
 */
DMB_HIDDEN extern const char *dmb_sysroot;

/*
 * dmb_sysroot + the formatted path in @buf, so that tests can fake the
 * sysfs and devfs trees.  0 or -ENAMETOOLONG.
 */
DMB_HIDDEN int dmb_sys_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Whether dmb_sys_path(@fmt, @arg) names something that exists. */
DMB_HIDDEN int dmb_sys_exists(const char *fmt, const char *arg);

/*
 * DMA_BUF_SYNC_READ/WRITE for DMABRIDGE_ACCESS_* bits, or -EINVAL: the
 * CPU-access bracket and the sync_file import/export must agree on what
 * access means.
 */
DMB_HIDDEN int dmb_sync_flags(unsigned int access);

/* Library page size (sysconf), cached. */
DMB_HIDDEN uint64_t dmb_page_size(void);

/*
 * Heaps (heap.c): 0 if @name can name a heap node (non-empty, no '/',
 * not "." or "..", shorter than DMABRIDGE_HEAP_NAME_MAX), else -EINVAL.
 */
DMB_HIDDEN int dmb_heap_check_name(const char *name);

/* Whose heap @name is (DMABRIDGE_HEAP_OWNER_*), from the sysfs classes. */
DMB_HIDDEN int dmb_heap_owner(const char *name);

/* DMABRIDGE_HEAP_PROP_* a heap of that name and owner has (memcg aside). */
DMB_HIDDEN unsigned int dmb_heap_props(const char *name, int owner);

#endif /* DMABRIDGE_INTERNAL_H */
