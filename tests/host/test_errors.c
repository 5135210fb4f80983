// SPDX-License-Identifier: GPL-2.0
/* dmabridge_strerror(): errno values and the library's own codes. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "dmabridge.h"
#include "tap.h"
#include "tests.h"

void test_errors(void)
{
	int e, f;

	is_str(dmabridge_strerror(0), "Success", "strerror(0)");
	is_str(dmabridge_strerror(-ENOENT), "No such file or directory",
	       "strerror(-ENOENT)");
	is_str(dmabridge_strerror(ENOENT), "No such file or directory",
	       "strerror(ENOENT), positive works too");
	is_str(dmabridge_strerror(-EINVAL), "Invalid argument", "strerror(-EINVAL)");
	is_str(dmabridge_strerror(-99999), "Unknown error", "unknown code");
	is_str(dmabridge_strerror(INT_MIN), "Unknown error", "INT_MIN is safe");
	is_str(dmabridge_strerror(-DMABRIDGE_EBASE), "Unknown error",
	       "the base itself is no code");
	is_str(dmabridge_strerror(-DMABRIDGE_ELAST), "Unknown error",
	       "past the last code");

	for (e = DMABRIDGE_EBASE + 1; e < DMABRIDGE_ELAST; e++) {
		const char *m = dmabridge_strerror(-e);
		int distinct = 1;

		for (f = DMABRIDGE_EBASE + 1; f < e; f++)
			if (!strcmp(m, dmabridge_strerror(-f)))
				distinct = 0;
		ok(m && strcmp(m, "Unknown error") && distinct &&
		   !strcmp(m, dmabridge_strerror(e)),
		   "code %d has its own message: %s", e, m);
	}
	ok(strstr(dmabridge_strerror(-DMABRIDGE_ENOSEAL), "F_SEAL_SHRINK") != NULL,
	   "ENOSEAL names the seal");
	ok(DMABRIDGE_EBASE >= 4096, "codes stay clear of errno (MAX_ERRNO 4095)");
}
