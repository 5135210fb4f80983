// SPDX-License-Identifier: GPL-2.0
/* dmabridge: inspect the system's dma-buf support and create buffers. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dmabridge.h"
#include "cli.h"

static const char usage[] =
"Usage: dmabridge [--help] [--version] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  info                  what dma-buf support this system has: devices,\n"
"                        dmabridge modules and versions, limits, kernel\n"
"  udmabuf create ...    create a udmabuf, fill, verify and show it\n"
"  udmabuf inspect FD    show a dma-buf's fdinfo (FD or /proc/PID/fd/N)\n"
"  heap list             dma-buf heaps: whose, properties, usage\n"
"  heap alloc NAME SIZE  allocate from a heap, fill, verify and show it\n"
"  fence ...             timelines, fences and waits for shell scripts\n"
"  xen ...               Xen grant refs to and from dma-bufs: info, export,\n"
"                        grant, map, inspect (/dev/xen/gntdev-dmabuf)\n"
"\n"
"Run 'dmabridge COMMAND --help' for a command's options.\n"
"Exit status: 0 success, 1 runtime error, 2 usage error.\n";

void errmsg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("dmabridge: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int parse_outcome(enum parse_result r, const char *usage, const char *cmd,
		  const char *err)
{
	switch (r) {
	case PARSE_HELP:
		fputs(usage, stdout);
		return EXIT_OK;
	case PARSE_ERROR:
		errmsg("%s: %s; try --help", cmd, err);
		return EXIT_USAGE;
	case PARSE_OK:
		break;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("dmabridge %s\n", dmabridge_version());
		return EXIT_OK;
	}
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "udmabuf"))
		return cmd_udmabuf(argc - 1, argv + 1);
	if (!strcmp(cmd, "heap"))
		return cmd_heap(argc - 1, argv + 1);
	if (!strcmp(cmd, "fence"))
		return cmd_fence(argc - 1, argv + 1);
	if (!strcmp(cmd, "xen"))
		return cmd_xen(argc - 1, argv + 1);
	errmsg("unknown command '%s'; try 'dmabridge --help'", cmd);
	return EXIT_USAGE;
}
