// SPDX-License-Identifier: GPL-2.0
/* Parsing /proc/PID/fdinfo text and /proc/meminfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"
#include "tap.h"
#include "tests.h"

/* What 6.1 prints for a dma-buf: no ino line. */
static const char fdinfo_61[] =
	"pos:\t0\n"
	"flags:\t02000002\n"
	"mnt_id:\t14\n"
	"size:\t1048576\n"
	"count:\t1\n"
	"exp_name:\tudmabuf\n";

/* 6.12 with a name. */
static const char fdinfo_612[] =
	"pos:\t0\n"
	"flags:\t0100000\n"
	"mnt_id:\t15\n"
	"ino:\t4242\n"
	"size:\t4194304\n"
	"count:\t3\n"
	"exp_name:\tdmabridge_udmabuf\n"
	"name:\tmy buffer\n";

static void fdinfo(void)
{
	struct dmabridge_dmabuf_info info;
	char text[512];

	is(dmb_parse_fdinfo(fdinfo_61, &info), 0, "6.1 fdinfo parses");
	is(info.fields, DMABRIDGE_INFO_SIZE | DMABRIDGE_INFO_COUNT |
	   DMABRIDGE_INFO_EXP_NAME | DMABRIDGE_INFO_FLAGS,
	   "6.1: size, count, exp_name, flags present; no name, no inode");
	is(info.size, 1048576, "6.1 size");
	is(info.count, 1, "6.1 count");
	is_str(info.exp_name, "udmabuf", "6.1 exp_name");
	is_str(info.name, "", "6.1 no name");
	is(info.flags, O_RDWR | O_CLOEXEC, "6.1 flags are octal: O_RDWR|O_CLOEXEC");

	is(dmb_parse_fdinfo(fdinfo_612, &info), 0, "6.12 fdinfo parses");
	ok(info.fields & DMABRIDGE_INFO_INODE && info.inode == 4242, "6.12 inode");
	ok(info.fields & DMABRIDGE_INFO_NAME, "6.12 name present");
	is_str(info.name, "my buffer", "name keeps inner spaces");
	is_str(info.exp_name, "dmabridge_udmabuf", "6.12 exp_name");
	is(info.count, 3, "6.12 count");
	is(info.flags & O_ACCMODE, O_RDONLY, "6.12 flags: read-only, no cloexec");

	is(dmb_parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t3\nino:\t5\n", &info),
	   -DMABRIDGE_ENOTDMABUF, "a plain file is not a dma-buf");
	is(info.fields, 0, "nothing reported for a non-dma-buf");
	is(dmb_parse_fdinfo("", &info), -DMABRIDGE_ENOTDMABUF, "empty text");

	is(dmb_parse_fdinfo("exp_name:\tx\nsize:\t10\nname:\tevil\nsize:\t99\n"
			    "exp_name:\ty\nname:\tz\n", &info), 0,
	   "repeated keys");
	ok(info.size == 10 && !strcmp(info.exp_name, "x") &&
	   !strcmp(info.name, "evil"),
	   "the first of each key wins (a name cannot inject lines)");

	is(dmb_parse_fdinfo("size: 77 \r\nexp_name:   spaced  \r\ncount:\tlots\n"
			    "ino:\t-1\nnoise without colon\n\n:\t\nflags:\t9\n",
			    &info), 0, "odd whitespace and junk");
	ok(info.size == 77 && !strcmp(info.exp_name, "spaced"),
	   "spaces, tabs and CR trimmed");
	ok(!(info.fields & (DMABRIDGE_INFO_COUNT | DMABRIDGE_INFO_INODE |
			    DMABRIDGE_INFO_FLAGS)),
	   "unparsable numbers (lots, -1, octal 9) are left out");

	is(dmb_parse_fdinfo("exp_name:\tudmabuf", &info), 0,
	   "last line without newline");
	is_str(info.exp_name, "udmabuf", "unterminated last line read");

	memset(text, 0, sizeof(text));
	strcpy(text, "exp_name:\t");
	memset(text + strlen(text), 'e', 100);
	strcat(text, "\nname:\t");
	memset(text + strlen(text), 'n', 40);
	strcat(text, "\nsize:\t18446744073709551615\n");
	is(dmb_parse_fdinfo(text, &info), 0, "long fields");
	is(strlen(info.exp_name), sizeof(info.exp_name) - 1,
	   "exp_name truncated to fit");
	is(strlen(info.name), DMABRIDGE_NAME_MAX - 1, "name truncated to fit");
	ok(info.size == UINT64_MAX, "size up to 2^64-1");
	is(dmb_parse_fdinfo("size:\t18446744073709551616\nexp_name:\tx\n", &info),
	   0, "size overflow");
	ok(!(info.fields & DMABRIDGE_INFO_SIZE), "overflowing size left out");
}

static void meminfo(void)
{
	uint64_t sz = 0;

	is(dmb_parse_hugepagesize("MemTotal:  100 kB\nHugepagesize:       2048 kB\n"
				  "Hugetlb: 0 kB\n", &sz), 0, "Hugepagesize found");
	is(sz, 2 << 20, "2048 kB is 2 MiB");
	is(dmb_parse_hugepagesize("Hugepagesize:    1048576 kB", &sz), 0,
	   "1 GiB pages, last line");
	is(sz, 1ULL << 30, "1048576 kB is 1 GiB");
	is(dmb_parse_hugepagesize("MemTotal:  100 kB\n", &sz), -ENOENT,
	   "no huge pages");
	is(dmb_parse_hugepagesize("Hugepagesize: 2048 MB\n", &sz), -EINVAL,
	   "unknown unit");
	is(dmb_parse_hugepagesize("XHugepagesize: 2048 kB\n", &sz), -ENOENT,
	   "key must start the line");
}

void test_fdinfo(void)
{
	fdinfo();
	meminfo();
}
