// SPDX-License-Identifier: GPL-2.0
/* dmabridge info: what dma-buf support this system has. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "dmabridge.h"
#include "cli.h"

static const char info_usage[] =
"Usage: dmabridge info\n"
"\n"
"Report the dma-buf support of the running system: kernel, udmabuf\n"
"devices and which driver serves them, their limits, dma-buf heaps,\n"
"sync devices, Xen grant devices, and the loaded dmabridge modules with\n"
"their versions and parameters.  Whatever is absent is reported as such;\n"
"nothing needs root except what the device permissions demand.\n";

/* Read a one-line file into @buf without its newline; NULL if unreadable. */
static const char *read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return buf;
}

static int path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * CONFIG_@opt in the running kernel's config, if /boot has it: 'y', 'm',
 * 'n', or 0 when unknown.
 */
static char kconfig(const char *release, const char *opt)
{
	char path[PATH_MAX], line[256], want[128];
	size_t wlen;
	char res = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/boot/config-%s", release);
	f = fopen(path, "re");
	if (!f)
		return 0;
	snprintf(want, sizeof(want), "CONFIG_%s=", opt);
	wlen = strlen(want);
	res = 'n';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, wlen)) {
			res = line[wlen];
			break;
		}
	}
	fclose(f);
	return res;
}

/* "char 10:125, rw, misc/udmabuf" for a device node, or why not. */
static void describe_node(const char *path, char *buf, size_t len)
{
	char link[64], target[PATH_MAX], *name, *cls;
	struct stat st;
	size_t n;

	if (stat(path, &st) < 0) {
		snprintf(buf, len, "%s", errno == ENOENT ? "absent"
				      : strerror(errno));
		return;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(buf, len, "present, not a character device");
		return;
	}
	n = (size_t)snprintf(buf, len, "char %u:%u, %s", major(st.st_rdev),
			     minor(st.st_rdev),
			     access(path, R_OK | W_OK) == 0 ? "read-write" :
			     access(path, R_OK) == 0 ? "read-only" : "no access");
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	if (n >= len || !realpath(link, target))
		return;
	name = strrchr(target, '/');
	if (!name || name == target)
		return;
	*name++ = '\0';
	cls = strrchr(target, '/');
	cls = cls ? cls + 1 : target;
	snprintf(buf + n, len - n, ", %s/%s", cls, name);
}

static void print_node(const char *path)
{
	char desc[PATH_MAX + 64];

	describe_node(path, desc, sizeof(desc));
	printf("  %s: %s\n", path, desc);
}

static void print_udmabuf_node(const char *path)
{
	struct dmabridge_udmabuf_limits lim;
	char desc[PATH_MAX + 64], sz[48];
	const char *kind = "driver unknown";
	int fd, k;

	describe_node(path, desc, sizeof(desc));
	printf("  %s: %s", path, desc);
	fd = dmabridge_udmabuf_open(path);
	if (fd < 0) {
		if (fd != -ENOENT)
			printf(", cannot open: %s", dmabridge_strerror(fd));
		printf("\n");
		return;
	}
	k = dmabridge_udmabuf_kind(fd);
	if (k == DMABRIDGE_UDMABUF_KIND_KERNEL)
		kind = "the kernel's udmabuf";
	else if (k == DMABRIDGE_UDMABUF_KIND_DMABRIDGE)
		kind = "dmabridge_udmabuf";
	printf(", %s", kind);
	if (!dmabridge_udmabuf_limits(fd, &lim)) {
		format_size(lim.size_limit, sz, sizeof(sz));
		printf(", up to %" PRIu64 " ranges and %s per buffer",
		       lim.list_limit, sz);
	}
	printf("\n");
	close(fd);
}

/* "built in", "module", "module, not loaded", "not configured", "absent". */
static const char *kernel_feature(const char *release, const char *module,
				  const char *config, const char *sysdir)
{
	char path[PATH_MAX];
	char cfg;

	if (module) {
		snprintf(path, sizeof(path), "/sys/module/%s", module);
		if (path_exists(path)) {
			snprintf(path, sizeof(path), "/sys/module/%s/initstate",
				 module);
			return path_exists(path) ? "module, loaded" : "built in";
		}
	}
	if (sysdir && path_exists(sysdir))
		return "yes";
	cfg = kconfig(release, config);
	if (cfg == 'y')
		return "built in";
	if (cfg == 'm')
		return "module, not loaded";
	if (cfg == 'n')
		return "not configured";
	return "absent";
}

static void print_params(const char *module)
{
	char path[PATH_MAX], val[256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters", module);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s",
			 module, de->d_name);
		if (!read_line(path, val, sizeof(val)))
			snprintf(val, sizeof(val), "(unreadable)");
		printf("    %s: %s\n", de->d_name, val);
	}
	closedir(d);
}

static void print_kernel_udmabuf_params(void)
{
	char val[64];

	if (read_line("/sys/module/udmabuf/parameters/list_limit", val,
		      sizeof(val)))
		printf("    list_limit: %s\n", val);
	if (read_line("/sys/module/udmabuf/parameters/size_limit_mb", val,
		      sizeof(val)))
		printf("    size_limit_mb: %s\n", val);
}

static void print_modules(void)
{
	char path[PATH_MAX], val[128];
	struct dirent *de;
	int found = 0;
	DIR *d;

	printf("dmabridge modules:\n");
	d = opendir("/sys/module");
	if (!d) {
		printf("  unknown (no /sys/module: is sysfs mounted?)\n");
		return;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "dmabridge", 9))
			continue;
		found = 1;
		snprintf(path, sizeof(path), "/sys/module/%s/version",
			 de->d_name);
		printf("  %s: version %s", de->d_name,
		       read_line(path, val, sizeof(val)) ? val : "unknown");
		snprintf(path, sizeof(path), "/sys/module/%s/refcnt",
			 de->d_name);
		if (read_line(path, val, sizeof(val)))
			printf(", used by %s", val);
		printf("\n");
		print_params(de->d_name);
	}
	closedir(d);
	if (!found)
		printf("  none loaded\n");
}

/* A heap node, whose heap it is, and dmabridge's usage counters. */
static void print_heap_node(const char *path, const char *name)
{
	struct dmabridge_heap_info h;
	char desc[PATH_MAX + 64], sz[48];

	describe_node(path, desc, sizeof(desc));
	printf("  %s: %s", path, desc);
	if (dmabridge_heap_info(name, &h) == 0) {
		if (h.owner == DMABRIDGE_HEAP_OWNER_KERNEL)
			printf(", the kernel's heap");
		else if (h.owner == DMABRIDGE_HEAP_OWNER_DMABRIDGE)
			printf(", dmabridge_heaps");
		if (h.fields & DMABRIDGE_HEAP_HAS_BYTES) {
			format_size(h.bytes, sz, sizeof(sz));
			printf(", %" PRIu64 " buffers, %s in use", h.buffers, sz);
		}
	}
	printf("\n");
}

static void print_heaps(const char *release)
{
	char path[PATH_MAX];
	struct dirent *de;
	int found = 0;
	DIR *d;

	printf("dma-buf heaps:\n");
	printf("  kernel heaps: %s\n",
	       kernel_feature(release, NULL, "DMABUF_HEAPS", "/sys/class/dma_heap"));
	d = opendir("/dev/dma_heap");
	if (!d) {
		printf("  /dev/dma_heap: %s\n",
		       errno == ENOENT ? "absent" : strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/dev/dma_heap/%s", de->d_name);
		print_heap_node(path, de->d_name);
		found = 1;
	}
	closedir(d);
	if (!found)
		printf("  /dev/dma_heap: empty\n");
}

static void print_sync(const char *release)
{
	struct statfs sfs;

	printf("sync:\n");
	printf("  kernel sw_sync: %s\n",
	       kernel_feature(release, NULL, "SW_SYNC", NULL));
	print_node("/dev/sw_sync");
	print_node("/dev/dmabridge-sync");
	if (statfs("/sys/kernel/debug", &sfs) < 0 ||
	    sfs.f_type != DEBUGFS_MAGIC)
		printf("  /sys/kernel/debug/sync/sw_sync: unknown (debugfs not mounted)\n");
	else if (access("/sys/kernel/debug/sync/sw_sync", F_OK) < 0)
		printf("  /sys/kernel/debug/sync/sw_sync: %s\n",
		       errno == ENOENT ? "absent" : strerror(errno));
	else
		printf("  /sys/kernel/debug/sync/sw_sync: present\n");
}

static void print_xen(void)
{
	char val[64];

	printf("xen:\n");
	printf("  hypervisor: %s\n",
	       read_line("/sys/hypervisor/type", val, sizeof(val)) ? val : "none");
	print_node("/dev/xen/gntdev");
	print_node("/dev/xen/gntdev-dmabuf");
}

int cmd_info(int argc, char **argv)
{
	uint64_t hugepage = 0;
	struct utsname uts;
	const char *state;

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(info_usage, stdout);
			return EXIT_OK;
		}
		errmsg("info: unexpected argument '%s'; try --help", argv[1]);
		return EXIT_USAGE;
	}
	if (uname(&uts) < 0) {
		errmsg("uname: %s", strerror(errno));
		return EXIT_RUNTIME;
	}

	printf("dmabridge: %s\n", dmabridge_version());
	printf("kernel: %s %s %s\n", uts.sysname, uts.release, uts.machine);
	printf("page size: %ld\n", sysconf(_SC_PAGESIZE));
	if (!dmabridge_hugepage_size(&hugepage))
		printf("huge page size: %" PRIu64 "\n", hugepage);
	else
		printf("huge page size: none\n");

	printf("udmabuf:\n");
	state = kernel_feature(uts.release, "udmabuf", "UDMABUF", NULL);
	printf("  kernel udmabuf: %s\n", state);
	print_kernel_udmabuf_params();
	print_udmabuf_node(DMABRIDGE_UDMABUF_DEVICE);
	print_udmabuf_node(DMABRIDGE_UDMABUF_KERNEL_DEVICE);

	print_heaps(uts.release);
	print_sync(uts.release);
	print_xen();
	print_modules();
	return EXIT_OK;
}
