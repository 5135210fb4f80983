// SPDX-License-Identifier: GPL-2.0
/* dmabridge xen: Xen grant refs and dma-bufs (docs/xen.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmabridge.h"
#include "cli.h"

#define XEN_MAX_REFS 4096

static const char xen_usage[] =
"Usage: dmabridge xen info\n"
"       dmabridge xen export DOMID REF[,REF...]\n"
"\n"
"  info     whether this is a Xen domain, of which type, and whether\n"
"           " DMABRIDGE_XEN_DEVICE " is there\n"
"  export   map domain DOMID's grant refs as a dma-buf (EXP_FROM_REFS),\n"
"           say what came out, close it and wait for its release: a\n"
"           check that a peer's refs are mappable\n";

static void show_line(const char *label, const char *path)
{
	char buf[128] = "";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("%-16s %s\n", label, buf[0] ? buf : "-");
}

static int xen_info(void)
{
	int dev;

	show_line("hypervisor:", "/sys/hypervisor/type");
	show_line("guest type:", "/sys/hypervisor/guest_type");
	show_line("max_pages:",
		  "/sys/module/dmabridge_xen_gntdev_dmabuf/parameters/max_pages");
	dev = dmabridge_xen_open();
	printf("%-16s %s%s%s\n", "gntdev-dmabuf:", DMABRIDGE_XEN_DEVICE,
	       dev < 0 ? ": " : "", dev < 0 ? dmabridge_strerror(dev) : "");
	if (dev >= 0)
		close(dev);
	return EXIT_OK;
}

static int parse_refs(const char *s, uint32_t *refs, unsigned int *count)
{
	unsigned int n = 0;
	char *end;

	while (*s) {
		unsigned long v;

		if (n == XEN_MAX_REFS)
			return -1;
		errno = 0;
		v = strtoul(s, &end, 0);
		if (end == s || errno || v > UINT32_MAX ||
		    (*end && *end != ','))
			return -1;
		refs[n++] = v;
		s = *end ? end + 1 : end;
	}
	*count = n;
	return n ? 0 : -1;
}

static int xen_export(int argc, char **argv)
{
	static uint32_t refs[XEN_MAX_REFS];
	unsigned int domid, count;
	int dev, fd, err, mode;

	if (argc != 3 || parse_uint(argv[1], 0x7fef, &domid) ||
	    parse_refs(argv[2], refs, &count)) {
		errmsg("xen export wants DOMID (0..32751) and REF[,REF...]");
		return EXIT_USAGE;
	}
	dev = dmabridge_xen_open();
	if (dev < 0) {
		errmsg("%s: %s", DMABRIDGE_XEN_DEVICE, dmabridge_strerror(dev));
		return EXIT_RUNTIME;
	}
	err = dmabridge_xen_exp_from_refs(dev, domid, 0, count, refs, &fd);
	if (err) {
		errmsg("mapping %u refs of domain %u: %s", count, domid,
		       dmabridge_strerror(err));
		close(dev);
		return EXIT_RUNTIME;
	}
	mode = fcntl(fd, F_GETFL) & O_ACCMODE;
	printf("dma-buf of %u pages from domain %u, %s\n", count, domid,
	       mode == O_RDONLY ? "read-only (the grants are)" : "read-write");
	close(fd);
	err = dmabridge_xen_exp_wait_released(dev, fd, 5000);
	if (err && err != -ENOENT) {
		errmsg("waiting for its release: %s", dmabridge_strerror(err));
		close(dev);
		return EXIT_RUNTIME;
	}
	printf("released, grants unmapped\n");
	close(dev);
	return EXIT_OK;
}

int cmd_xen(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(xen_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "info") && argc == 2)
		return xen_info();
	if (!strcmp(argv[1], "export"))
		return xen_export(argc - 1, argv + 1);
	errmsg("unknown xen command; try 'dmabridge xen --help'");
	return EXIT_USAGE;
}
