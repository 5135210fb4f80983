// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing for dmabridge: pure functions, unit-tested on the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmabridge.h"
#include "cli.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * 1 if @s is "0x" and hex digits follow, 0 if it has no "0x", -EINVAL for
 * a bare "0x" (which strtoul would take for a 0 and leave the "x").
 */
static int hex_prefix(const char *s)
{
	if (s[0] != '0' || lower(s[1]) != 'x')
		return 0;
	if (!s[2] || !strchr("0123456789abcdefABCDEF", s[2]))
		return -EINVAL;
	return 1;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;
	int hex;

	if (!s || !is_digit(s[0]))
		return -EINVAL;
	errno = 0;
	hex = hex_prefix(s);
	if (hex < 0)
		return hex;
	if (hex) {
		v = strtoull(s + 2, &end, 16);
		if (errno)
			return -errno;
		if (end == s + 2 || *end)
			return -EINVAL;
		*out = v;
		return 0;
	}
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	switch (lower(*end)) {
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	case 't': shift = 40; break;
	case 'b': shift = 0; break;
	case '\0': *out = v; return 0;
	default: return -EINVAL;
	}
	if (lower(*end) != 'b') {
		end++;
		if (lower(*end) == 'i')
			end++;
	}
	if (lower(*end) == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_byte(const char *s, unsigned char *out)
{
	unsigned long v;
	char *end;
	int hex;

	if (!s || !is_digit(s[0]))
		return -EINVAL;
	errno = 0;
	hex = hex_prefix(s);
	if (hex < 0)
		return hex;
	if (hex) {
		v = strtoul(s + 2, &end, 16);
	} else {
		v = strtoul(s, &end, 10);
	}
	if (errno || *end || v > 255)
		return -EINVAL;
	*out = (unsigned char)v;
	return 0;
}

int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long long v;
	char *end;

	if (!s || !is_digit(s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = (unsigned int)v;
	return 0;
}

/* A process id of @len characters at @s: 1..INT_MAX, decimal. */
static int parse_pid(const char *s, size_t len, unsigned int *pid)
{
	char num[16];

	if (len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (parse_uint(num, INT_MAX, pid) || *pid == 0)
		return -EINVAL;
	return 0;
}

int parse_fd_ref(const char *s, pid_t *pid, int *fd)
{
	unsigned int p = 0, n;
	const char *rest;

	if (!s)
		return -EINVAL;
	if (is_digit(s[0]) && strchr(s, ':')) {
		rest = strchr(s, ':') + 1;
		if (parse_pid(s, (size_t)(rest - 1 - s), &p))
			return -EINVAL;
	} else if (is_digit(s[0])) {
		rest = s;
	} else if (!strncmp(s, "/dev/fd/", 8)) {
		rest = s + 8;
	} else if (!strncmp(s, "/proc/self/fd/", 14)) {
		rest = s + 14;
	} else if (!strncmp(s, "/proc/", 6) && is_digit(s[6])) {
		const char *slash = strchr(s + 6, '/');

		if (!slash || strncmp(slash, "/fd/", 4) ||
		    parse_pid(s + 6, (size_t)(slash - (s + 6)), &p))
			return -EINVAL;
		rest = slash + 4;
	} else {
		return -EINVAL;
	}
	if (parse_uint(rest, INT_MAX, &n))
		return -EINVAL;
	*pid = (pid_t)p;
	*fd = (int)n;
	return 0;
}

enum parse_result parse_getopt_error(int c, char **argv, char *err,
				     size_t errlen)
{
	if (c == ':')
		snprintf(err, errlen, "option '%s' needs an argument",
			 argv[optind - 1]);
	else if (optopt)
		snprintf(err, errlen, "unknown option '-%c'", optopt);
	else
		snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
	return PARSE_ERROR;
}

int parse_size_opt(const char *arg, uint64_t *size, char *err, size_t errlen)
{
	if (parse_size(arg, size) || *size == 0) {
		snprintf(err, errlen,
			 "invalid size '%s' (examples: 4096, 64K, 1MiB, 2G)",
			 arg);
		return -1;
	}
	return 0;
}

int parse_name_opt(const char *arg, const char **name, char *err,
		   size_t errlen)
{
	if (strlen(arg) >= DMABRIDGE_NAME_MAX) {
		snprintf(err, errlen, "--name must be shorter than %d bytes",
			 DMABRIDGE_NAME_MAX);
		return -1;
	}
	*name = arg;
	return 0;
}

int parse_fill_opt(const char *arg, unsigned char *fill, int *fill_set,
		   char *err, size_t errlen)
{
	if (parse_byte(arg, fill)) {
		snprintf(err, errlen,
			 "invalid --fill '%s' (a byte, 0-255 or 0x00-0xff)",
			 arg);
		return -1;
	}
	*fill_set = 1;
	return 0;
}

enum parse_result parse_create(int argc, char **argv, struct create_opts *o,
			       char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "size",     required_argument, NULL, 's' },
		{ "hugetlb",  no_argument,       NULL, 'H' },
		{ "readonly", no_argument,       NULL, 'r' },
		{ "name",     required_argument, NULL, 'n' },
		{ "list",     required_argument, NULL, 'l' },
		{ "fill",     required_argument, NULL, 'f' },
		{ "verify",   no_argument,       NULL, 'V' },
		{ "device",   required_argument, NULL, 'd' },
		{ "exec",     required_argument, NULL, 'e' },
		{ "help",     no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, have_size = 0;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:n:l:f:d:e:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size_opt(optarg, &o->size, err, errlen))
				return PARSE_ERROR;
			have_size = 1;
			break;
		case 'H':
			o->hugetlb = 1;
			break;
		case 'r':
			o->readonly = 1;
			break;
		case 'n':
			if (parse_name_opt(optarg, &o->name, err, errlen))
				return PARSE_ERROR;
			break;
		case 'l':
			if (parse_uint(optarg, 1U << 20, &o->list) ||
			    o->list == 0) {
				snprintf(err, errlen,
					 "invalid --list '%s' (a count from 1 to %u)",
					 optarg, 1U << 20);
				return PARSE_ERROR;
			}
			break;
		case 'f':
			if (parse_fill_opt(optarg, &o->fill, &o->fill_set,
					   err, errlen))
				return PARSE_ERROR;
			break;
		case 'V':
			o->verify = 1;
			break;
		case 'd':
			o->device = optarg;
			break;
		case 'e':
			o->exec = optarg;
			break;
		case 'h':
			return PARSE_HELP;
		default:
			return parse_getopt_error(c, argv, err, errlen);
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return PARSE_ERROR;
	}
	if (!have_size) {
		snprintf(err, errlen, "--size is required");
		return PARSE_ERROR;
	}
	return PARSE_OK;
}

int check_create(const struct create_opts *o, uint64_t page,
		 uint64_t hugepage, uint64_t *item, char *err, size_t errlen)
{
	unsigned int n = o->list ? o->list : 1;
	uint64_t unit = page;
	char buf[48];

	if (o->hugetlb) {
		if (!hugepage) {
			snprintf(err, errlen,
				 "--hugetlb: this kernel has no huge pages");
			return -1;
		}
		unit = hugepage;
	}
	if (o->size % n) {
		snprintf(err, errlen,
			 "--size %llu does not split into %u equal ranges",
			 (unsigned long long)o->size, n);
		return -1;
	}
	if ((o->size / n) % unit) {
		format_size(unit, buf, sizeof(buf));
		snprintf(err, errlen,
			 "%s must be a multiple of the %spage size, %s",
			 n > 1 ? "each range (--size / --list)" : "--size",
			 o->hugetlb ? "huge " : "", buf);
		return -1;
	}
	*item = o->size / n;
	return 0;
}

enum parse_result parse_inspect(int argc, char **argv, struct inspect_opts *o,
				char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "raw",  no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->raw = 1;
			break;
		case 'h':
			return PARSE_HELP;
		default:
			return parse_getopt_error(c, argv, err, errlen);
		}
	}
	if (optind >= argc) {
		snprintf(err, errlen, "which file? give FD or /proc/PID/fd/N");
		return PARSE_ERROR;
	}
	if (optind + 1 < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind + 1]);
		return PARSE_ERROR;
	}
	if (parse_fd_ref(argv[optind], &o->pid, &o->fd)) {
		snprintf(err, errlen,
			 "'%s' is not FD, /proc/self/fd/N, /dev/fd/N or /proc/PID/fd/N",
			 argv[optind]);
		return PARSE_ERROR;
	}
	return PARSE_OK;
}

void format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int i, best = -1;

	for (i = 0; i < 4; i++) {
		uint64_t u = (uint64_t)1 << (10 * (i + 1));

		if (bytes >= u && bytes % u == 0)
			best = i;
	}
	if (best < 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu %s",
			 (unsigned long long)(bytes >> (10 * (best + 1))),
			 units[best]);
}
