/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libdmabridge: create and use dma-bufs from userspace.
 *
 * Conventions shared by every call:
 *  - A call that can fail returns an int: >= 0 on success (a new file
 *    descriptor where the call makes one), or a negative error code.  The
 *    code is either a negated errno value or a negated DMABRIDGE_E* value
 *    below; dmabridge_strerror() describes both.  errno is not meaningful
 *    after a call returns.
 *  - File descriptors the library opens for its own use are close-on-exec;
 *    descriptors it returns to the caller are close-on-exec only when the
 *    call's flags ask for it, as with the underlying kernel interface.
 *  - The library keeps no global state: every call is thread-safe, and
 *    calls on different file descriptors never interfere.
 *
 * Capabilities are grouped in sections (one source file each in lib/):
 * errors, dma-buf access, memfds, udmabuf.  Later capabilities (dma-buf
 * heaps, sync files, Xen grants) get their own sections in the same style.
 *
 * The raw kernel interfaces are installed next to this header as
 * <dmabridge/uapi/...> for callers that want to issue ioctls themselves.
 */
#ifndef DMABRIDGE_H
#define DMABRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(DMABRIDGE_BUILDING_LIBRARY)
#define DMABRIDGE_API __attribute__((visibility("default")))
#else
#define DMABRIDGE_API
#endif

#define DMABRIDGE_VERSION_MAJOR 0
#define DMABRIDGE_VERSION_MINOR 1
#define DMABRIDGE_VERSION_PATCH 0

/* The version of the library actually loaded, as "MAJOR.MINOR.PATCH". */
DMABRIDGE_API const char *dmabridge_version(void);

/* ---------------------------------------------------------------------
 * Errors
 */

/*
 * Error codes for failures that errno cannot describe precisely (the
 * kernel reports most of them as a bare EINVAL).  They lie above the
 * range of errno values, and calls return them negated like errno codes.
 */
enum dmabridge_error {
	DMABRIDGE_EBASE = 4096,
	/* The file is not a memfd backed by shmem or hugetlbfs. */
	DMABRIDGE_ENOTMEMFD,
	/* The memfd lacks F_SEAL_SHRINK, which udmabuf requires. */
	DMABRIDGE_ENOSEAL,
	/* The memfd is sealed against writing; only a read-only buffer may use it. */
	DMABRIDGE_EWRITESEALED,
	/* An offset or size is not a multiple of the (huge) page size. */
	DMABRIDGE_EALIGN,
	/* A range is empty or reaches past the end of its memfd. */
	DMABRIDGE_ERANGE,
	/* The file descriptor does not refer to a dma-buf. */
	DMABRIDGE_ENOTDMABUF,
	/* The udmabuf device cannot make read-only buffers (the kernel's own
	 * udmabuf silently ignores the flag, so the library refuses it). */
	DMABRIDGE_ENOREADONLY,
	/* No udmabuf device node exists. */
	DMABRIDGE_ENODEVICE,
	DMABRIDGE_ELAST
};

/*
 * A readable description of @err, which may be an errno value or a
 * DMABRIDGE_E* code, negated or not.  Never returns NULL; the string is
 * static and must not be freed.  0 gives "Success".
 */
DMABRIDGE_API const char *dmabridge_strerror(int err);

/* ---------------------------------------------------------------------
 * dma-buf access (any exporter)
 */

/* Access modes for mapping and CPU-access brackets. */
#define DMABRIDGE_ACCESS_READ	(1U << 0)
#define DMABRIDGE_ACCESS_WRITE	(1U << 1)
#define DMABRIDGE_ACCESS_RW	(DMABRIDGE_ACCESS_READ | DMABRIDGE_ACCESS_WRITE)

/* Longest dma-buf name, including the terminating NUL (DMA_BUF_NAME_LEN). */
#define DMABRIDGE_NAME_MAX 32

/*
 * Size in bytes of the dma-buf @fd, into *@size.  Fails with
 * -DMABRIDGE_ENOTDMABUF when @fd is not a dma-buf.
 */
DMABRIDGE_API int dmabridge_dmabuf_size(int fd, uint64_t *size);

/*
 * Map the whole dma-buf @fd shared, readable and/or writable per @access.
 * On success *@addr and *@size describe the mapping, to be released with
 * dmabridge_dmabuf_unmap().  CPU accesses through the mapping must be
 * bracketed by dmabridge_dmabuf_begin/end_cpu_access().  A buffer that
 * refuses writable mappings (dmabridge's read-only udmabuf) fails with
 * -EACCES or -EPERM when @access includes DMABRIDGE_ACCESS_WRITE.
 */
DMABRIDGE_API int dmabridge_dmabuf_map(int fd, unsigned int access,
				       void **addr, size_t *size);

/* Release a mapping made by dmabridge_dmabuf_map(). */
DMABRIDGE_API int dmabridge_dmabuf_unmap(void *addr, size_t size);

/*
 * Bracket CPU access to a mapping of @fd (DMA_BUF_IOCTL_SYNC).  @access
 * says what the CPU does in between and must be the same at begin and
 * end.  Begin waits for device access to finish and makes device writes
 * visible to the CPU; end makes CPU writes visible to devices.  Retries
 * by itself when interrupted by a signal.
 */
DMABRIDGE_API int dmabridge_dmabuf_begin_cpu_access(int fd, unsigned int access);
DMABRIDGE_API int dmabridge_dmabuf_end_cpu_access(int fd, unsigned int access);

/*
 * Set the dma-buf's name (shown in fdinfo and /sys/kernel/debug/dma_buf).
 * @name must be shorter than DMABRIDGE_NAME_MAX bytes (-ENAMETOOLONG).
 * Some kernels refuse to rename a buffer a device has attached (-EBUSY).
 */
DMABRIDGE_API int dmabridge_dmabuf_set_name(int fd, const char *name);

/* Bits of dmabridge_dmabuf_info.fields: which fields the kernel reported. */
#define DMABRIDGE_INFO_SIZE	(1U << 0)
#define DMABRIDGE_INFO_COUNT	(1U << 1)
#define DMABRIDGE_INFO_EXP_NAME	(1U << 2)
#define DMABRIDGE_INFO_NAME	(1U << 3)
#define DMABRIDGE_INFO_INODE	(1U << 4)
#define DMABRIDGE_INFO_FLAGS	(1U << 5)

struct dmabridge_dmabuf_info {
	unsigned int fields;	/* DMABRIDGE_INFO_* present below */
	uint64_t size;		/* bytes */
	uint64_t count;		/* file references, not counting the query's */
	uint64_t inode;		/* inode number, unique among live dma-bufs */
	unsigned int flags;	/* open flags of the file (O_RDWR, O_CLOEXEC...) */
	char exp_name[64];	/* exporter (driver) name, may be truncated */
	char name[DMABRIDGE_NAME_MAX]; /* "" when the buffer has no name */
};

/*
 * Describe the dma-buf open as file descriptor @fd in process @pid (0 for
 * the calling process), from /proc/PID/fdinfo/FD.  Fields the running
 * kernel does not report are left zero and their bit clear in ->fields.
 * Fails with -DMABRIDGE_ENOTDMABUF when the file is not a dma-buf, -EBADF
 * when @fd is not open in @pid, -ESRCH when @pid does not exist, and
 * -EACCES when @pid belongs to someone else.
 */
DMABRIDGE_API int dmabridge_dmabuf_query(pid_t pid, int fd,
					 struct dmabridge_dmabuf_info *info);

/* ---------------------------------------------------------------------
 * memfds: the memory behind udmabufs
 */

/* Flags of dmabridge_memfd_create(). */
#define DMABRIDGE_MEMFD_CLOEXEC	(1U << 0) /* close the memfd on exec */
#define DMABRIDGE_MEMFD_HUGETLB	(1U << 1) /* default-size huge pages */

/*
 * Create a memfd of @size bytes, zero-filled, sealed with F_SEAL_SHRINK
 * and F_SEAL_GROW and no other seal, so that further seals (F_SEAL_WRITE
 * for a read-only buffer) can still be added.  @name (NULL for
 * "dmabridge") appears in /proc/PID/fd.  With DMABRIDGE_MEMFD_HUGETLB
 * @size must be a multiple of the huge page size (-DMABRIDGE_EALIGN);
 * huge pages are taken from the pool only when first touched or pinned.
 * Returns the memfd.
 */
DMABRIDGE_API int dmabridge_memfd_create(const char *name, uint64_t size,
					 unsigned int flags);

/*
 * The default huge page size in bytes into *@size, from /proc/meminfo;
 * -ENOENT when the kernel has no huge page support.
 */
DMABRIDGE_API int dmabridge_hugepage_size(uint64_t *size);

/* ---------------------------------------------------------------------
 * udmabuf: dma-bufs made of memfd pages
 */

/* The device nodes dmabridge_udmabuf_open(NULL) tries, in order. */
#define DMABRIDGE_UDMABUF_DEVICE	"/dev/dmabridge-udmabuf"
#define DMABRIDGE_UDMABUF_KERNEL_DEVICE	"/dev/udmabuf"

/*
 * Open a udmabuf device read-write and close-on-exec.  @path NULL tries
 * DMABRIDGE_UDMABUF_DEVICE (always dmabridge's module), then
 * DMABRIDGE_UDMABUF_KERNEL_DEVICE (the kernel's built-in udmabuf, or
 * dmabridge's on kernels without one); -DMABRIDGE_ENODEVICE when neither
 * exists.  Returns the device fd.
 */
DMABRIDGE_API int dmabridge_udmabuf_open(const char *path);

enum dmabridge_udmabuf_kind {
	DMABRIDGE_UDMABUF_KIND_UNKNOWN = 0,	/* cannot tell (no sysfs?) */
	DMABRIDGE_UDMABUF_KIND_KERNEL = 1,	/* the kernel's own udmabuf */
	DMABRIDGE_UDMABUF_KIND_DMABRIDGE = 2,	/* dmabridge_udmabuf */
};

/*
 * Which driver is behind the udmabuf device @devfd: a
 * DMABRIDGE_UDMABUF_KIND_* value, or -ENOTTY when @devfd is not a
 * character device.
 */
DMABRIDGE_API int dmabridge_udmabuf_kind(int devfd);

struct dmabridge_udmabuf_limits {
	uint64_t list_limit;	/* most ranges in one buffer, 0 if unknown */
	uint64_t size_limit;	/* largest buffer in bytes, 0 if unknown */
};

/*
 * The module parameters limiting buffers made through @devfd, from the
 * driver's /sys/module/.../parameters.  -ENOENT when the driver is
 * unknown or shows no limits.
 */
DMABRIDGE_API int dmabridge_udmabuf_limits(int devfd,
					   struct dmabridge_udmabuf_limits *limits);

/* One piece of a udmabuf: @size bytes of @memfd from @offset. */
struct dmabridge_range {
	int memfd;
	uint64_t offset;
	uint64_t size;
};

/* Flags of dmabridge_udmabuf_create(). */
/* The new dma-buf fd is close-on-exec. */
#define DMABRIDGE_UDMABUF_CLOEXEC	(1U << 0)
/*
 * Nothing may write through the buffer: writable mmap fails, and
 * write-sealed memfds are accepted.  Only dmabridge's udmabuf implements
 * this; on another device the call fails with -DMABRIDGE_ENOREADONLY
 * rather than hand out a writable buffer.
 */
#define DMABRIDGE_UDMABUF_READONLY	(1U << 1)
/* Use UDMABUF_CREATE_LIST even for a single range. */
#define DMABRIDGE_UDMABUF_LIST		(1U << 2)
/*
 * Skip the library's own checks of the ranges and pass them to the
 * kernel as given (also for count 0); for testing the kernel's checks.
 */
#define DMABRIDGE_UDMABUF_UNCHECKED	(1U << 3)

/*
 * Create a dma-buf from @count ranges laid end to end, through the
 * udmabuf device @devfd.  One range uses UDMABUF_CREATE, several use
 * UDMABUF_CREATE_LIST.  Before calling the kernel the library checks each
 * range and reports what the kernel would only call EINVAL:
 * -DMABRIDGE_ENOTMEMFD, -DMABRIDGE_ENOSEAL, -DMABRIDGE_EWRITESEALED,
 * -DMABRIDGE_EALIGN, -DMABRIDGE_ERANGE.  The kernel's limits
 * (dmabridge_udmabuf_limits()) still give -EINVAL, and memory it cannot
 * pin -ENOMEM.  The memfds may be closed afterwards: the buffer keeps
 * their pages.  Returns the dma-buf fd.
 */
DMABRIDGE_API int dmabridge_udmabuf_create(int devfd,
					   const struct dmabridge_range *ranges,
					   size_t count, unsigned int flags);

/* ---------------------------------------------------------------------
 * dma-buf heaps: allocators at /dev/dma_heap/<name>
 *
 * Heaps are the kernel's (CONFIG_DMABUF_HEAPS, e.g. Debian's 6.12 has
 * "system") or dmabridge_heaps.ko's.  dmabridge never shadows a heap the
 * kernel has: its system heap is "system" where the kernel has none and
 * "dmabridge-system" where it has one (dmabridge_heap_system_name()).
 */

/* Directory of the heaps' device nodes. */
#define DMABRIDGE_HEAP_DIR		"/dev/dma_heap"
/* Where dmabridge's heaps show their usage, one directory per heap. */
#define DMABRIDGE_HEAP_SYSFS		"/sys/class/dmabridge_heap"
/* Longest heap name, including the terminating NUL. */
#define DMABRIDGE_HEAP_NAME_MAX		64

/*
 * Open the heap @name (a name in DMABRIDGE_HEAP_DIR, or an absolute path
 * to a heap node) read-only and close-on-exec, which is all allocation
 * needs.  @name NULL opens dmabridge's system heap.  A name that is empty,
 * ".", "..", contains '/' or is not shorter than DMABRIDGE_HEAP_NAME_MAX
 * fails with -EINVAL; an absent heap with -ENOENT; a node the caller may
 * not open with -EACCES (heap nodes are root-only unless a udev rule says
 * otherwise).  Returns the heap fd.
 */
DMABRIDGE_API int dmabridge_heap_open(const char *name);

/*
 * Allocate a buffer of @len bytes (the kernel rounds it up to whole pages)
 * from the heap open as @heapfd (DMA_HEAP_IOCTL_ALLOC, heap flags 0) and
 * return it as a new dma-buf fd.  @fd_flags are the new fd's open flags
 * as the kernel takes them: O_RDWR, O_RDONLY or O_WRONLY, optionally with
 * O_CLOEXEC; anything else fails with -EINVAL, as does @len 0.  The buffer
 * is zeroed.  A heap that cannot back @len bytes fails with -ENOMEM (a
 * memory cgroup at its limit too, on dmabridge's heaps); -ENOTTY when
 * @heapfd is not a heap.
 */
DMABRIDGE_API int dmabridge_heap_alloc(int heapfd, uint64_t len,
				       unsigned int fd_flags);

/*
 * The name of dmabridge's system heap on the running kernel: "system"
 * where the kernel has no system heap of its own (Debian's 6.1),
 * "dmabridge-system" where it has one (6.12).  Decided from dmabridge's
 * sysfs when the module is loaded, else from the kernel's heaps.  Never
 * NULL; a static string.
 */
DMABRIDGE_API const char *dmabridge_heap_system_name(void);

enum dmabridge_heap_owner {
	DMABRIDGE_HEAP_OWNER_UNKNOWN = 0,	/* a node of no known class */
	DMABRIDGE_HEAP_OWNER_KERNEL = 1,	/* the kernel's own heap */
	DMABRIDGE_HEAP_OWNER_DMABRIDGE = 2,	/* dmabridge_heaps.ko */
};

/* Bits of dmabridge_heap_info.props, known from the heap's name. */
#define DMABRIDGE_HEAP_PROP_CACHED	(1U << 0) /* CPU mappings are cached */
#define DMABRIDGE_HEAP_PROP_WC		(1U << 1) /* CPU mappings write-combined */
#define DMABRIDGE_HEAP_PROP_CONTIGUOUS	(1U << 2) /* physically contiguous */
#define DMABRIDGE_HEAP_PROP_POOLED	(1U << 3) /* freed pages go to page pools */
#define DMABRIDGE_HEAP_PROP_MEMCG	(1U << 4) /* charged to the caller's memcg */

/* Bits of dmabridge_heap_info.fields: which usage counters were read. */
#define DMABRIDGE_HEAP_HAS_BUFFERS	(1U << 0)
#define DMABRIDGE_HEAP_HAS_BYTES	(1U << 1)
#define DMABRIDGE_HEAP_HAS_POOL		(1U << 2)
#define DMABRIDGE_HEAP_HAS_REGION	(1U << 3)
#define DMABRIDGE_HEAP_HAS_FREE		(1U << 4)
#define DMABRIDGE_HEAP_HAS_LARGEST	(1U << 5)

struct dmabridge_heap_info {
	char name[DMABRIDGE_HEAP_NAME_MAX];
	int owner;		/* DMABRIDGE_HEAP_OWNER_* */
	unsigned int props;	/* DMABRIDGE_HEAP_PROP_*, 0 for unknown heaps */
	unsigned int fields;	/* DMABRIDGE_HEAP_HAS_*: 0 for the kernel's
				 * heaps, which keep no statistics */
	uint64_t buffers;	/* live buffers */
	uint64_t bytes;		/* bytes in live buffers */
	uint64_t pool_bytes;	/* bytes held in page pools for reuse */
	uint64_t region_bytes;	/* contiguous: size of the reserved region */
	uint64_t free_bytes;	/* contiguous: bytes not in any buffer */
	uint64_t largest_free_bytes; /* contiguous: largest free range */
};

/*
 * Describe the heap @name (a name in DMABRIDGE_HEAP_DIR): who provides
 * it, its properties and, for dmabridge's heaps, its usage from
 * DMABRIDGE_HEAP_SYSFS/<name>/.  -ENOENT when there is no such heap,
 * -EINVAL for a bad name as dmabridge_heap_open().
 */
DMABRIDGE_API int dmabridge_heap_info(const char *name,
				      struct dmabridge_heap_info *info);

/*
 * Describe every heap in DMABRIDGE_HEAP_DIR, sorted by name, into the
 * first @max entries of @heaps (which may be NULL when @max is 0).
 * Returns the number of heaps there are, which may exceed @max: call
 * again with a larger array to get them all.  0 when the directory is
 * absent or empty (no heaps on this kernel and no dmabridge_heaps).
 */
DMABRIDGE_API int dmabridge_heap_list(struct dmabridge_heap_info *heaps,
				      size_t max);

/* ---------------------------------------------------------------------
 * Fences: userspace-driven timelines, sync_files, waits, implicit sync
 *
 * A timeline (dmabridge_sync.ko, /dev/dmabridge-sync) is a file descriptor
 * with a 64-bit value that only goes up; a fence of it is a sync_file that
 * signals when the value reaches the fence's.  Fences that have not
 * signaled when the last descriptor of their timeline is closed signal
 * with -EPIPE; with a timeout, a fence still unsignaled that long after it
 * was made signals with -ETIMEDOUT (and so do the ones before it).  The
 * sync_files are the kernel's: the calls that take a fence work on any
 * sync_file, whoever made it.  docs/fences.md has the details.
 */

#define DMABRIDGE_SYNC_DEVICE	"/dev/dmabridge-sync"

/* The new descriptor is close-on-exec (timelines and fences). */
#define DMABRIDGE_FENCE_CLOEXEC	(1U << 0)

/*
 * Create a timeline named @name (NULL or "": the calling program's name;
 * -ENAMETOOLONG from 32 bytes) whose value starts at @initial_value.
 * @timeout_ns 0 means fences wait for as long as the timeline lives; at
 * most one day (-EINVAL).  -ENOENT when dmabridge_sync is not loaded.
 * Returns the timeline fd.
 */
DMABRIDGE_API int dmabridge_timeline_create(const char *name,
					    uint64_t initial_value,
					    uint64_t timeout_ns,
					    unsigned int flags);

/*
 * A fence of @timeline that signals when the timeline reaches @value
 * (signaled already if it has).  Returns the sync_file fd.
 */
DMABRIDGE_API int dmabridge_fence_create(int timeline, uint64_t value,
					 unsigned int flags);

/*
 * Advance @timeline to @value (dmabridge_timeline_signal; going back is
 * -EINVAL, staying is a no-op) or by @inc (-EOVERFLOW past 2^64 - 1), and
 * signal the fences it reaches.
 */
DMABRIDGE_API int dmabridge_timeline_signal(int timeline, uint64_t value);
DMABRIDGE_API int dmabridge_timeline_inc(int timeline, uint64_t inc);

/*
 * As dmabridge_timeline_signal(), but the fences it signals carry @error
 * (an errno value, negated or not; not 0): the producer failed.
 */
DMABRIDGE_API int dmabridge_timeline_fail(int timeline, uint64_t value,
					  int error);

struct dmabridge_timeline_info {
	uint64_t value;		/* the timeline's value now */
	uint64_t timeout_ns;	/* 0: none */
	uint64_t context;	/* dma_fence context of its fences */
	uint32_t pending;	/* fences not signaled yet */
	char name[32];
};

DMABRIDGE_API int dmabridge_timeline_info(int timeline,
					  struct dmabridge_timeline_info *info);

/*
 * A new sync_file (always close-on-exec) that signals when both @fence1
 * and @fence2 have (SYNC_IOC_MERGE).  @name NULL: "dmabridge-merge".
 */
DMABRIDGE_API int dmabridge_fence_merge(int fence1, int fence2,
					const char *name);

/*
 * Whether the sync_file @fence has signaled: 1 yes, 0 not yet, negative
 * if the query failed (-EINVAL: not a sync_file).  *@error (may be NULL)
 * gets the fence's error: 0, or a negative errno when it signaled with one
 * (for a merged fence, the first error of its fences).
 */
DMABRIDGE_API int dmabridge_fence_status(int fence, int *error);

/* One fence inside a sync_file. */
struct dmabridge_fence_point {
	char driver[32];	/* "dmabridge-sync", "sw_sync", "vgem"... */
	char timeline[32];	/* the producer's timeline name */
	int status;		/* 1 signaled, 0 active, negative: its error */
	uint64_t timestamp_ns;	/* CLOCK_MONOTONIC time it signaled */
};

/*
 * Describe the fences in the sync_file @fence (a merge has several) into
 * @points, at most @max of them.  Returns how many there are (which may
 * exceed @max), negative on failure.
 */
DMABRIDGE_API int dmabridge_fence_points(int fence,
					 struct dmabridge_fence_point *points,
					 size_t max);

/* dmabridge_fence_wait() flags: wait for every fence, not just one. */
#define DMABRIDGE_WAIT_ALL	(1U << 0)

/*
 * Wait until any (default) or all (DMABRIDGE_WAIT_ALL) of the @count
 * sync_files in @fences have signaled, from any producers, for at most
 * @timeout_ns (negative: no limit; 0: only look).  Returns 0 when they
 * did, with the lowest index of a signaled fence in *@index (may be NULL)
 * when waiting for any, or -ETIME.  A fence that signaled with an error
 * has signaled: check it with dmabridge_fence_status().  -EINVAL when a
 * descriptor is not a sync_file.  Signals do not interrupt the wait.
 */
DMABRIDGE_API int dmabridge_fence_wait(const int *fences, size_t count,
				       unsigned int flags, int64_t timeout_ns,
				       size_t *index);

/*
 * Implicit sync.  dmabridge_fence_import() adds the sync_file @fence to
 * the dma-buf @dmabuf's reservation object as a DMABRIDGE_ACCESS_WRITE
 * (later readers and writers wait for it) or DMABRIDGE_ACCESS_READ
 * (later writers wait) access.  dmabridge_fence_export() returns a new
 * sync_file holding what an access of kind @access must wait for.
 */
DMABRIDGE_API int dmabridge_fence_import(int dmabuf, int fence,
					 unsigned int access);
DMABRIDGE_API int dmabridge_fence_export(int dmabuf, unsigned int access);

/* ---------------------------------------------------------------------
 * Xen grant refs to and from dma-bufs (docs/xen.md)
 *
 * libxengnttab's xengnttab_dmabuf_* calls in the same shape (and the
 * three MAP calls proposed for it), on dmabridge's node: the gntdev
 * dma-buf ioctls of kernels without CONFIG_XEN_GNTDEV_DMABUF.  @dev is a
 * descriptor from
 * dmabridge_xen_open().  All return 0 or a negative errno.
 */

#define DMABRIDGE_XEN_DEVICE	"/dev/xen/gntdev-dmabuf"

/* Opens DMABRIDGE_XEN_DEVICE: the descriptor, or -errno. */
DMABRIDGE_API int dmabridge_xen_open(void);

/*
 * Maps @count grant refs of domain @domid and exports them as a dma-buf,
 * whose descriptor goes to *@dmabuf_fd.  @flags: 0 (the GNTDEV_DMA_FLAG_*
 * of <xen/gntdev.h> give -EOPNOTSUPP on Debian's kernels).  A read-only
 * grant gives a read-only dma-buf.
 */
DMABRIDGE_API int dmabridge_xen_exp_from_refs(int dev, uint32_t domid,
					      uint32_t flags, uint32_t count,
					      const uint32_t *refs,
					      int *dmabuf_fd);

/*
 * Waits at most @wait_to_ms for the dma-buf this @dev exported as
 * @dmabuf_fd (the number, which may be closed by now) to be released:
 * -ETIMEDOUT when it is still alive, -ENOENT when no such buffer lives.
 */
DMABRIDGE_API int dmabridge_xen_exp_wait_released(int dev, int dmabuf_fd,
						  uint32_t wait_to_ms);

/*
 * Grants the pages of the dma-buf @dmabuf_fd (of exactly @count pages)
 * to domain @domid; the refs go to @refs.  Read-only when @dmabuf_fd is
 * not open for writing.
 */
DMABRIDGE_API int dmabridge_xen_imp_to_refs(int dev, uint32_t domid,
					    int dmabuf_fd, uint32_t count,
					    uint32_t *refs);

/*
 * Ends the grants of a dma-buf imported on @dev with
 * dmabridge_xen_imp_to_refs() (deferred while the peer still maps a page)
 * and lets the buffer go.  @dmabuf_fd is the descriptor number the import
 * was made from, as upstream matches it: it works after that descriptor
 * was closed.
 */
DMABRIDGE_API int dmabridge_xen_imp_release(int dev, int dmabuf_fd);

/*
 * Grant refs as the backing storage of an existing dma-buf (the MAP
 * ioctls, include/uapi/dmabridge/gntdev_map.h): @count refs of domain
 * @domid back the pages of @dmabuf_fd from byte @data_ofs (page aligned)
 * on.  The buffer must be idle and unshared (-EBUSY otherwise: no other
 * attachment, CPU mapping or pending fence), and is held exclusively
 * until dmabridge_xen_map_release() (or until @dev is closed).  @flags: 0.
 */
DMABRIDGE_API int dmabridge_xen_map_refs_to_buf(int dev, uint32_t domid,
						uint32_t flags, uint32_t count,
						const uint32_t *refs,
						int dmabuf_fd,
						uint32_t data_ofs);

/*
 * Gives @dmabuf_fd (an open descriptor of a buffer mapped on @dev) its
 * own pages back once its fences have signaled: at once when they have,
 * else in the background.
 */
DMABRIDGE_API int dmabridge_xen_map_release(int dev, int dmabuf_fd);

/*
 * Waits at most @wait_to_ms for the mapping made on @dev with descriptor
 * number @dmabuf_fd to be released: 0, -ETIMEDOUT while it is still in
 * place, -ENOENT when no such mapping lives (any more).
 */
DMABRIDGE_API int dmabridge_xen_map_wait_released(int dev, int dmabuf_fd,
						  uint32_t wait_to_ms);

/*
 * The PV page directory that Xen's display and sound protocols use to pass
 * a buffer of any size with one grant ref: a chain of granted pages, each
 * holding the ref of the next page (0 ends it) and then 1023 buffer refs.
 *
 * dmabridge_xen_pgdir_pages() is how many directory pages @nrefs refs take.
 * dmabridge_xen_pgdir_build() fills the @ndir mapped pages @dir (4096
 * bytes each, already granted as @dir_refs) with @refs: the peer gets
 * @dir_refs[0].  dmabridge_xen_pgdir_parse() reads one mapped directory
 * page: the next page's ref goes to *@next_ref and up to @max buffer refs
 * to @refs; returns how many it stored, or -EINVAL.
 */
DMABRIDGE_API uint32_t dmabridge_xen_pgdir_pages(uint32_t nrefs);
DMABRIDGE_API int dmabridge_xen_pgdir_build(void *const *dir,
					    const uint32_t *dir_refs,
					    uint32_t ndir,
					    const uint32_t *refs,
					    uint32_t nrefs);
DMABRIDGE_API int dmabridge_xen_pgdir_parse(const void *dir_page,
					    uint32_t *next_ref,
					    uint32_t *refs, uint32_t max);

#ifdef __cplusplus
}
#endif

#endif /* DMABRIDGE_H */
