// SPDX-License-Identifier: GPL-2.0
/* The CLI's argument parsing: sizes, bytes, fd references, options. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "dmabridge.h"
#include "tap.h"
#include "tests.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE_CREATE(o, ...) \
	parse_create(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), err, sizeof(err))
#define PARSE_INSPECT(o, ...) \
	parse_inspect(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), err, sizeof(err))

static void sizes(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t out;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "4K", 0, 4096 },
		{ "4k", 0, 4096 },
		{ "4KiB", 0, 4096 },
		{ "4Ki", 0, 4096 },
		{ "4KB", 0, 4096 },
		{ "64KiB", 0, 65536 },
		{ "1M", 0, 1 << 20 },
		{ "1MiB", 0, 1 << 20 },
		{ "2G", 0, 2ULL << 30 },
		{ "2gib", 0, 2ULL << 30 },
		{ "3T", 0, 3ULL << 40 },
		{ "512B", 0, 512 },
		{ "512b", 0, 512 },
		{ "0x1000", 0, 4096 },
		{ "0X10", 0, 16 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "16777215T", 0, 16777215ULL << 40 },
		{ "16777216T", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "17179869184G", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "+4K", -EINVAL, 0 },
		{ " 4K", -EINVAL, 0 },
		{ "4K ", -EINVAL, 0 },
		{ "4 K", -EINVAL, 0 },
		{ "4X", -EINVAL, 0 },
		{ "4KK", -EINVAL, 0 },
		{ "4KiBB", -EINVAL, 0 },
		{ "4iB", -EINVAL, 0 },
		{ "4bb", -EINVAL, 0 },
		{ "1.5M", -EINVAL, 0 },
		{ "0x", -EINVAL, 0 },
		{ "0x-1", -EINVAL, 0 },
		{ "0x 1", -EINVAL, 0 },
		{ "0x10K", -EINVAL, 0 },
		{ "0xg", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t out = 12345;
		int ret = parse_size(cases[i].in, &out);

		ok(ret == cases[i].ret && (ret || out == cases[i].out),
		   "parse_size(\"%s\") = %d, %llu", cases[i].in, ret,
		   (unsigned long long)out);
	}
	ok(parse_size(NULL, &(uint64_t){ 0 }) == -EINVAL, "parse_size(NULL)");
}

static void bytes_and_numbers(void)
{
	unsigned char b = 0;
	unsigned int u = 0;

	ok(!parse_byte("0", &b) && b == 0, "byte 0");
	ok(!parse_byte("255", &b) && b == 255, "byte 255");
	ok(!parse_byte("0xa5", &b) && b == 0xa5, "byte 0xa5");
	ok(!parse_byte("0XFF", &b) && b == 0xff, "byte 0XFF");
	ok(parse_byte("256", &b) == -EINVAL, "byte 256 rejected");
	ok(parse_byte("0x100", &b) == -EINVAL, "byte 0x100 rejected");
	ok(parse_byte("-1", &b) == -EINVAL, "byte -1 rejected");
	ok(parse_byte("0x", &b) == -EINVAL, "byte 0x rejected");
	ok(parse_byte("a5", &b) == -EINVAL, "byte a5 rejected");
	ok(parse_byte("12z", &b) == -EINVAL, "byte 12z rejected");

	ok(!parse_uint("42", 100, &u) && u == 42, "uint 42");
	ok(parse_uint("101", 100, &u) == -ERANGE, "uint over max");
	ok(parse_uint("99999999999999999999", 100, &u) == -EINVAL,
	   "uint overflow");
	ok(parse_uint("-1", 100, &u) == -EINVAL, "uint -1");
	ok(parse_uint("", 100, &u) == -EINVAL, "uint empty");
}

static void fd_refs(void)
{
	static const struct {
		const char *in;
		int ret, pid, fd;
	} cases[] = {
		{ "3", 0, 0, 3 },
		{ "0", 0, 0, 0 },
		{ "/proc/self/fd/7", 0, 0, 7 },
		{ "/dev/fd/5", 0, 0, 5 },
		{ "/proc/1234/fd/9", 0, 1234, 9 },
		{ "/proc/1/fd/0", 0, 1, 0 },
		{ "/proc/0/fd/1", -EINVAL, 0, 0 },
		{ "/proc/12x/fd/1", -EINVAL, 0, 0 },
		{ "/proc/12/fdinfo/1", -EINVAL, 0, 0 },
		{ "/proc/12/fd/", -EINVAL, 0, 0 },
		{ "/proc/12/fd/1/", -EINVAL, 0, 0 },
		{ "/proc/thread-self/fd/1", -EINVAL, 0, 0 },
		{ "/proc/99999999999/fd/1", -EINVAL, 0, 0 },
		{ "-1", -EINVAL, 0, 0 },
		{ "3x", -EINVAL, 0, 0 },
		{ "", -EINVAL, 0, 0 },
		{ "/dev/udmabuf", -EINVAL, 0, 0 },
		{ "2147483648", -EINVAL, 0, 0 },
		{ "12:3", 0, 12, 3 },
		{ "0:3", -EINVAL, 0, 0 },
		{ "12:", -EINVAL, 0, 0 },
		{ "12:3:4", -EINVAL, 0, 0 },
		{ ":3", -EINVAL, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = -1;
		int fd = -1, ret = parse_fd_ref(cases[i].in, &pid, &fd);

		ok(ret == cases[i].ret &&
		   (ret || (pid == cases[i].pid && fd == cases[i].fd)),
		   "parse_fd_ref(\"%s\") = %d (pid %d, fd %d)", cases[i].in,
		   ret, (int)pid, fd);
	}
}

static void create_options(void)
{
	struct create_opts o;
	char err[256];
	uint64_t item = 0;

	is(PARSE_CREATE(&o, "create", "--size", "1M"), PARSE_OK, "create --size 1M");
	ok(o.size == 1 << 20 && !o.list && !o.hugetlb && !o.readonly &&
	   !o.verify && !o.fill_set && !o.name && !o.device && !o.exec,
	   "defaults");

	is(PARSE_CREATE(&o, "create", "-s", "8K", "--hugetlb", "--readonly",
			"--name", "buf", "--list", "2", "--fill", "0x5a",
			"--verify", "--device", "/dev/udmabuf", "--exec", "true"),
	   PARSE_OK, "every option");
	ok(o.size == 8192 && o.list == 2 && o.hugetlb && o.readonly &&
	   o.verify && o.fill_set && o.fill == 0x5a && !strcmp(o.name, "buf") &&
	   !strcmp(o.device, "/dev/udmabuf") && !strcmp(o.exec, "true"),
	   "every option parsed");

	is(PARSE_CREATE(&o, "create", "--size=4K", "-n", "x", "-l", "3", "-f",
			"7", "-d", "/dev/x", "-e", "echo"),
	   PARSE_OK, "short options and --opt=value");
	ok(o.size == 4096 && o.list == 3 && o.fill == 7 && !strcmp(o.name, "x"),
	   "short options parsed");

	is(PARSE_CREATE(&o, "create", "--help"), PARSE_HELP, "--help");
	is(PARSE_CREATE(&o, "create", "--size", "bogus", "--help"), PARSE_ERROR,
	   "errors before --help win");
	is(PARSE_CREATE(&o, "create", "-h"), PARSE_HELP, "-h");
	is(PARSE_CREATE(&o, "create"), PARSE_ERROR, "no --size");
	ok(strstr(err, "--size is required") != NULL, "message: %s", err);
	is(PARSE_CREATE(&o, "create", "--size", "0"), PARSE_ERROR, "--size 0");
	is(PARSE_CREATE(&o, "create", "--size", "1Q"), PARSE_ERROR, "--size 1Q");
	ok(strstr(err, "'1Q'") != NULL, "message names the value: %s", err);
	is(PARSE_CREATE(&o, "create", "--size"), PARSE_ERROR, "--size without value");
	ok(strstr(err, "needs an argument") != NULL, "message: %s", err);
	is(PARSE_CREATE(&o, "create", "--size", "1M", "--bogus"), PARSE_ERROR,
	   "unknown long option");
	ok(strstr(err, "--bogus") != NULL, "message: %s", err);
	is(PARSE_CREATE(&o, "create", "--size", "1M", "-z"), PARSE_ERROR,
	   "unknown short option");
	ok(strstr(err, "-z") != NULL, "message: %s", err);
	is(PARSE_CREATE(&o, "create", "--size", "1M", "extra"), PARSE_ERROR,
	   "stray argument");
	is(PARSE_CREATE(&o, "create", "--size", "1M", "--list", "0"), PARSE_ERROR,
	   "--list 0");
	is(PARSE_CREATE(&o, "create", "--size", "1M", "--list", "-2"), PARSE_ERROR,
	   "--list -2");
	is(PARSE_CREATE(&o, "create", "--size", "1M", "--fill", "300"), PARSE_ERROR,
	   "--fill 300");
	is(PARSE_CREATE(&o, "create", "--size", "1M", "--name",
			"0123456789012345678901234567890"), PARSE_OK,
	   "--name of 31 bytes");
	is(PARSE_CREATE(&o, "create", "--size", "1M", "--name",
			"01234567890123456789012345678901"), PARSE_ERROR,
	   "--name of 32 bytes");

	/* check_create: the machine-dependent rules. */
	PARSE_CREATE(&o, "create", "--size", "1M");
	ok(!check_create(&o, 4096, 0, &item, err, sizeof(err)) &&
	   item == 1 << 20, "1M in one range");
	PARSE_CREATE(&o, "create", "--size", "1M", "--list", "4");
	ok(!check_create(&o, 4096, 0, &item, err, sizeof(err)) &&
	   item == 1 << 18, "1M in 4 ranges of 256K");
	PARSE_CREATE(&o, "create", "--size", "1M", "--list", "3");
	ok(check_create(&o, 4096, 0, &item, err, sizeof(err)) &&
	   strstr(err, "3 equal ranges"), "1M does not split in 3: %s", err);
	PARSE_CREATE(&o, "create", "--size", "12K", "--list", "2");
	ok(check_create(&o, 4096, 0, &item, err, sizeof(err)) &&
	   strstr(err, "each range"), "6K ranges rejected: %s", err);
	PARSE_CREATE(&o, "create", "--size", "6000");
	ok(check_create(&o, 4096, 0, &item, err, sizeof(err)) &&
	   strstr(err, "4 KiB"), "unaligned size rejected: %s", err);
	ok(!check_create(&o, 2000, 0, &item, err, sizeof(err)),
	   "page size comes from the caller");
	PARSE_CREATE(&o, "create", "--size", "4M", "--hugetlb", "--list", "2");
	ok(!check_create(&o, 4096, 2 << 20, &item, err, sizeof(err)) &&
	   item == 2 << 20, "hugetlb 2 x 2M");
	PARSE_CREATE(&o, "create", "--size", "2M", "--hugetlb", "--list", "2");
	ok(check_create(&o, 4096, 2 << 20, &item, err, sizeof(err)) &&
	   strstr(err, "huge page size, 2 MiB"), "hugetlb 2 x 1M rejected: %s", err);
	ok(check_create(&o, 4096, 0, &item, err, sizeof(err)) &&
	   strstr(err, "no huge pages"), "hugetlb without huge pages: %s", err);
}

static void inspect_options(void)
{
	struct inspect_opts o;
	char err[256];

	is(PARSE_INSPECT(&o, "inspect", "5"), PARSE_OK, "inspect 5");
	ok(o.pid == 0 && o.fd == 5 && !o.raw, "fd 5 of this process");
	is(PARSE_INSPECT(&o, "inspect", "--raw", "/proc/42/fd/3"), PARSE_OK,
	   "inspect --raw /proc/42/fd/3");
	ok(o.pid == 42 && o.fd == 3 && o.raw, "fd 3 of pid 42, raw");
	is(PARSE_INSPECT(&o, "inspect", "/proc/42/fd/3", "--raw"), PARSE_ERROR,
	   "options come before the file");
	is(PARSE_INSPECT(&o, "inspect", "--help"), PARSE_HELP, "inspect --help");
	is(PARSE_INSPECT(&o, "inspect"), PARSE_ERROR, "inspect without a file");
	is(PARSE_INSPECT(&o, "inspect", "1", "2"), PARSE_ERROR, "two files");
	is(PARSE_INSPECT(&o, "inspect", "/dev/udmabuf"), PARSE_ERROR,
	   "a device path is no fd");
	is(PARSE_INSPECT(&o, "inspect", "--bogus", "1"), PARSE_ERROR,
	   "unknown option");
}

static void sizes_formatted(void)
{
	char buf[48];

	format_size(0, buf, sizeof(buf));
	is_str(buf, "0 bytes", "format 0");
	format_size(1000, buf, sizeof(buf));
	is_str(buf, "1000 bytes", "format 1000");
	format_size(4096, buf, sizeof(buf));
	is_str(buf, "4 KiB", "format 4096");
	format_size(6 << 10, buf, sizeof(buf));
	is_str(buf, "6 KiB", "format 6K");
	format_size(3 << 20, buf, sizeof(buf));
	is_str(buf, "3 MiB", "format 3M");
	format_size((1 << 20) + 4096, buf, sizeof(buf));
	is_str(buf, "1028 KiB", "format 1M+4K");
	format_size(5ULL << 40, buf, sizeof(buf));
	is_str(buf, "5 TiB", "format 5T");
}

void test_parse(void)
{
	sizes();
	bytes_and_numbers();
	fd_refs();
	create_options();
	inspect_options();
	sizes_formatted();
}
