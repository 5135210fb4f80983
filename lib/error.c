// SPDX-License-Identifier: LGPL-2.1-or-later
/* Error messages for errno values and libdmabridge's own codes. */
#define _GNU_SOURCE
#include <limits.h>
#include <string.h>

#include "internal.h"

static const char *const dmb_messages[] = {
	[DMABRIDGE_ENOTMEMFD - DMABRIDGE_EBASE] =
		"Not a memfd backed by shmem or hugetlbfs",
	[DMABRIDGE_ENOSEAL - DMABRIDGE_EBASE] =
		"memfd is not sealed with F_SEAL_SHRINK",
	[DMABRIDGE_EWRITESEALED - DMABRIDGE_EBASE] =
		"memfd is sealed against writing; only a read-only buffer can use it",
	[DMABRIDGE_EALIGN - DMABRIDGE_EBASE] =
		"Offset or size is not a multiple of the page size",
	[DMABRIDGE_ERANGE - DMABRIDGE_EBASE] =
		"Range is empty or reaches past the end of the memfd",
	[DMABRIDGE_ENOTDMABUF - DMABRIDGE_EBASE] =
		"Not a dma-buf",
	[DMABRIDGE_ENOREADONLY - DMABRIDGE_EBASE] =
		"udmabuf device cannot make read-only buffers (needs dmabridge_udmabuf)",
	[DMABRIDGE_ENODEVICE - DMABRIDGE_EBASE] =
		"No udmabuf device (load dmabridge_udmabuf, or use a kernel with CONFIG_UDMABUF)",
};

const char *dmabridge_strerror(int err)
{
	const char *msg;

	if (err == INT_MIN)
		return "Unknown error";
	if (err < 0)
		err = -err;
	if (err == 0)
		return "Success";
	if (err > DMABRIDGE_EBASE && err < DMABRIDGE_ELAST)
		return dmb_messages[err - DMABRIDGE_EBASE];
	/* Static strings only, unlike strerror(), so callers may share them. */
	msg = strerrordesc_np(err);
	return msg ? msg : "Unknown error";
}
