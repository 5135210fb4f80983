// SPDX-License-Identifier: GPL-2.0
/* dmabridge xen: Xen grant refs and dma-bufs (docs/xen.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>

/* The UAPI header uses the kernel's names for these. */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/gntdev.h>

#include "dmabridge.h"
#include "cli.h"

/* Grants are 4 KiB whatever the domain's page size. */
#define XEN_PAGE	4096u
/* The kernel's plain grant mapper, for a CPU view of a peer's pages. */
#define XEN_GNTDEV	"/dev/xen/gntdev"
/* Bounds map's wait for the buffer's fences at release. */
#define XEN_RELEASE_WAIT_MS 5000u

static const char xen_usage[] =
"Usage: dmabridge xen info\n"
"       dmabridge xen export DOMID REF[,REF...]\n"
"       dmabridge xen grant DOMID BUF [--exec CMD]\n"
"       dmabridge xen map DOMID REF[,REF...] BUF [--offset BYTES] [--exec CMD]\n"
"       dmabridge xen inspect DOMID REF[,REF...] [--bytes N]\n"
"\n"
"  info     whether this is a Xen domain, of which type, and whether\n"
"           " DMABRIDGE_XEN_DEVICE " is there\n"
"  export   map domain DOMID's grant refs as a dma-buf (EXP_FROM_REFS),\n"
"           say what came out, close it and wait for its release: a\n"
"           check that a peer's refs are mappable\n"
"  grant    grant the pages of the dma-buf BUF to domain DOMID\n"
"           (IMP_TO_REFS; read-only when BUF is not open for writing),\n"
"           print the refs, hold them while CMD runs or until stdin ends,\n"
"           then end the grants (IMP_RELEASE)\n"
"  map      put domain DOMID's grant refs behind the pages of the dma-buf\n"
"           BUF from byte BYTES on (MAP_REFS_TO_BUF), so that BUF's own\n"
"           device works on the peer's memory.  BUF must be unshared: no\n"
"           other importer, CPU mapping or pending fence.  Held while CMD\n"
"           runs or until stdin ends; then BUF gets its own pages back\n"
"           (MAP_RELEASE) once its fences have signaled\n"
"  inspect  map domain DOMID's grant refs read-only through " XEN_GNTDEV "\n"
"           and show the first bytes of each page\n"
"\n"
"BUF is a dma-buf of another process as PID:FD or /proc/PID/fd/FD (taken\n"
"with pidfd_getfd, which needs the right to ptrace it), or FD, one this\n"
"process inherited.  REFs are comma-separated, as grant prints them.\n"
"\n"
"Options:\n"
"  -e, --exec CMD      grant, map: run CMD with /bin/sh meanwhile; the\n"
"                      buffer is inherited as $DMABRIDGE_FD ($DMABRIDGE_SIZE\n"
"                      bytes), grant's refs are in $DMABRIDGE_XEN_REFS.  The\n"
"                      exit status is CMD's.  Without --exec, SIGINT,\n"
"                      SIGTERM and SIGHUP end the hold as the end of stdin\n"
"                      does; the release runs either way\n"
"  -o, --offset BYTES  map: where in BUF the first ref goes (page aligned,\n"
"                      default 0)\n"
"  -n, --bytes N       inspect: bytes shown per page, 1 to 4096 (default 32)\n"
"  -h, --help          show this help\n";

/* What grant, map and inspect take; each accepts a part of it. */
struct xen_opts {
	const char *exec;
	uint64_t offset;
	unsigned int bytes;
	char **args;		/* the positional arguments */
	int nargs;
};

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

/* "R,R,..." into a new array of *@count refs; NULL when malformed. */
static uint32_t *parse_refs(const char *s, unsigned int *count)
{
	unsigned int n = 1, i = 0;
	uint32_t *refs;
	const char *c;
	char *end;

	for (c = s; *c; c++)
		n += *c == ',';
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return NULL;
	for (;;) {
		unsigned long v;

		/* strtoul would also take blanks and a sign. */
		if (*s < '0' || *s > '9')
			break;
		errno = 0;
		v = strtoul(s, &end, 0);
		if (errno || v > UINT32_MAX || (*end && *end != ','))
			break;
		refs[i++] = (uint32_t)v;
		if (!*end) {
			*count = i;
			return refs;
		}
		s = end + 1;
	}
	free(refs);
	return NULL;
}

static int parse_domid(const char *s, unsigned int *domid)
{
	/* Ids from DOMID_FIRST_RESERVED (0x7ff0) on are not domains. */
	return parse_uint(s, 0x7fef, domid);
}

/*
 * Options after or between the positional arguments too: the usage
 * lines put them last.  @longopts are those the subcommand takes.
 */
static enum parse_result parse_xen_opts(int argc, char **argv,
					const struct option *longopts,
					const char *shortopts,
					struct xen_opts *o, char *err,
					size_t errlen)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->bytes = 32;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->exec = optarg;
			break;
		case 'o':
			if (parse_size(optarg, &o->offset) ||
			    o->offset % XEN_PAGE || o->offset > UINT32_MAX) {
				snprintf(err, errlen,
					 "invalid --offset '%s' (a multiple of %u below 4G)",
					 optarg, XEN_PAGE);
				return PARSE_ERROR;
			}
			break;
		case 'n':
			if (parse_uint(optarg, XEN_PAGE, &o->bytes) ||
			    !o->bytes) {
				snprintf(err, errlen,
					 "invalid --bytes '%s' (1 to %u)", optarg,
					 XEN_PAGE);
				return PARSE_ERROR;
			}
			break;
		case 'h':
			return PARSE_HELP;
		default:
			return parse_getopt_error(c, argv, err, errlen);
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return PARSE_OK;
}

/* Parses, or returns the exit code for --help or a usage error. */
static int xen_parse(int argc, char **argv, const struct option *longopts,
		     const char *shortopts, struct xen_opts *o, int nargs,
		     const char *want)
{
	char err[256] = "", cmd[32];
	enum parse_result r;

	r = parse_xen_opts(argc, argv, longopts, shortopts, o, err,
			   sizeof(err));
	if (r == PARSE_OK && o->nargs != nargs) {
		snprintf(err, sizeof(err), "give %s", want);
		r = PARSE_ERROR;
	}
	snprintf(cmd, sizeof(cmd), "xen %s", argv[0]);
	return parse_outcome(r, xen_usage, cmd, err);
}

static int open_dev(void)
{
	int dev = dmabridge_xen_open();

	if (dev < 0)
		errmsg("%s: %s", DMABRIDGE_XEN_DEVICE, dmabridge_strerror(dev));
	return dev;
}

/* How messages name the buffer. */
struct buf_ref {
	pid_t pid;
	int fd;		/* in process pid */
	char name[48];
};

static int parse_buf_ref(const char *cmd, const char *s, struct buf_ref *b)
{
	if (parse_fd_ref(s, &b->pid, &b->fd)) {
		errmsg("xen %s: '%s' is not PID:FD, /proc/PID/fd/FD or FD",
		       cmd, s);
		return -1;
	}
	if (b->pid)
		snprintf(b->name, sizeof(b->name), "process %d fd %d",
			 (int)b->pid, b->fd);
	else
		snprintf(b->name, sizeof(b->name), "fd %d", b->fd);
	return 0;
}

/*
 * A descriptor of the dma-buf @b in this process, and its size; -1 after
 * a message.  A dma-buf cannot be opened again through /proc/PID/fd (its
 * inode has no open), so another process's is duplicated with
 * pidfd_getfd, which also keeps its access mode.
 */
static int get_buf(const struct buf_ref *b, uint64_t *size)
{
	int fd = b->fd, pidfd, ret;

	if (b->pid) {
		pidfd = (int)syscall(SYS_pidfd_open, b->pid, 0);
		if (pidfd < 0) {
			errmsg("process %d: %s", (int)b->pid, strerror(errno));
			return -1;
		}
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, b->fd, 0);
		ret = errno;
		close(pidfd);
		if (fd < 0) {
			errmsg("%s: %s", b->name, strerror(ret));
			return -1;
		}
	}
	ret = dmabridge_dmabuf_size(fd, size);
	if (!ret && *size % XEN_PAGE)
		ret = -DMABRIDGE_EALIGN;
	if (ret) {
		errmsg("%s: %s", b->name, dmabridge_strerror(ret));
		close(fd);
		return -1;
	}
	return fd;
}

static int writable(int fd)
{
	return (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY;
}

static volatile sig_atomic_t xen_stop;

static void on_stop(int sig)
{
	(void)sig;
	xen_stop = 1;
}

/* Reads stdin to its end or until SIGINT, SIGTERM or SIGHUP. */
static int wait_stdin(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	sigset_t stop, old;
	char buf[256];
	ssize_t n = 1;
	int ret = 0;

	/*
	 * Blocked but for ppoll(), so that a signal cannot slip in between
	 * the check of xen_stop and a read that would then block.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	while (!xen_stop && n) {
		ret = ppoll(&pfd, 1, NULL, &old);
		if (ret > 0) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			ret = n < 0 ? -1 : 0;
		}
		if (ret < 0 && errno != EINTR)
			break;
		ret = 0;
	}
	if (ret < 0)
		errmsg("reading stdin: %s", strerror(errno));
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret < 0 ? EXIT_RUNTIME : EXIT_OK;
}

/*
 * Keeps what grant or map set up while @cmd runs, or without one until
 * stdin ends.  Returns the exit code so far.  A signal that would kill us
 * ends the hold instead, so that the release after it still runs and says
 * what it did (closing the device would release too, silently).
 */
static int hold(const char *what, const char *cmd, int fd, uint64_t size)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (cmd) {
		printf("holding %s while the command runs\n", what);
		return buffer_exec(cmd, fd, size);
	}
	printf("holding %s until stdin ends\n", what);
	fflush(stdout);
	return wait_stdin();
}

static int xen_export(int argc, char **argv)
{
	unsigned int domid, count;
	uint32_t *refs = NULL;
	int dev, fd, err, mode;

	if (argc != 3 || parse_domid(argv[1], &domid) ||
	    !(refs = parse_refs(argv[2], &count))) {
		errmsg("xen export wants DOMID (0..32751) and REF[,REF...]");
		return EXIT_USAGE;
	}
	dev = open_dev();
	if (dev < 0) {
		free(refs);
		return EXIT_RUNTIME;
	}
	err = dmabridge_xen_exp_from_refs(dev, domid, 0, count, refs, &fd);
	free(refs);
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

/* "R,R,...": what grant prints and export, map and inspect take. */
static char *format_refs(const uint32_t *refs, unsigned int count)
{
	/* A ref has at most 10 digits, and a comma or the NUL follows. */
	char *s = malloc((size_t)count * 11 + 1), *p = s;
	unsigned int i;

	if (!s)
		return NULL;
	*p = '\0';
	for (i = 0; i < count; i++)
		p += sprintf(p, "%s%" PRIu32, i ? "," : "", refs[i]);
	return s;
}

static int xen_grant(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exec", required_argument, NULL, 'e' },
		{ "help", no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int domid, count;
	struct xen_opts o;
	struct buf_ref b;
	uint32_t *refs = NULL;
	char *list = NULL;
	uint64_t size;
	int ret, dev, fd = -1, rc = EXIT_RUNTIME;

	ret = xen_parse(argc, argv, longopts, ":e:h", &o, 2, "DOMID and BUF");
	if (ret >= 0)
		return ret;
	if (parse_domid(o.args[0], &domid)) {
		errmsg("xen grant: DOMID is 0..32751, not '%s'", o.args[0]);
		return EXIT_USAGE;
	}
	if (parse_buf_ref("grant", o.args[1], &b))
		return EXIT_USAGE;
	dev = open_dev();
	if (dev < 0)
		return EXIT_RUNTIME;
	fd = get_buf(&b, &size);
	if (fd < 0)
		goto out;
	if (size / XEN_PAGE > UINT32_MAX) {
		errmsg("%s is too large to grant", b.name);
		goto out;
	}
	count = (unsigned int)(size / XEN_PAGE);
	refs = calloc(count, sizeof(*refs));
	if (!refs) {
		errmsg("out of memory");
		goto out;
	}
	ret = dmabridge_xen_imp_to_refs(dev, domid, fd, count, refs);
	if (ret) {
		errmsg("granting %u pages of %s to domain %u: %s", count,
		       b.name, domid, dmabridge_strerror(ret));
		if (ret == -EINVAL)
			errmsg("is it larger than the module's max_pages?");
		if (ret == -EBUSY)
			errmsg("the buffer takes no new importers: is a peer's "
			       "memory mapped over it ('xen map')?");
		goto out;
	}
	list = format_refs(refs, count);
	if (!list || setenv("DMABRIDGE_XEN_REFS", list, 1)) {
		errmsg("out of memory");
		goto release;
	}
	printf("buffer: %s, %" PRIu64 " bytes\n", b.name, size);
	printf("domain: %u\n", domid);
	printf("access: %s\n", writable(fd) ? "read-write" :
	       "read-only (the buffer is not open for writing)");
	printf("refs: %s\n", list);
	rc = hold("the grants", o.exec, fd, size);
release:
	ret = dmabridge_xen_imp_release(dev, fd);
	if (ret) {
		errmsg("ending the grants: %s", dmabridge_strerror(ret));
		rc = EXIT_RUNTIME;
	} else {
		printf("released: each grant ends once domain %u no longer "
		       "maps its page\n", domid);
	}
out:
	free(list);
	free(refs);
	if (fd >= 0)
		close(fd);
	close(dev);
	return rc;
}

static void explain_map_error(int err, unsigned int domid)
{
	switch (err) {
	case -EBUSY:
		errmsg("buffer in use: it has other importers, CPU mappings "
		       "or pending fences");
		break;
	case -EACCES:
		errmsg("the buffer is not open for writing, and the peer's "
		       "pages would replace its memory");
		break;
	case -EINVAL:
		errmsg("the buffer's memory must be ordinary pages, none "
		       "behind a grant already, and at most max_pages refs");
		break;
	case -ENOENT:
		errmsg("domain %u has no such grant refs", domid);
		break;
	case -EPERM:
		errmsg("domain %u did not grant them to this domain, or only "
		       "read-only (map needs writable grants)", domid);
		break;
	case -ENOTTY:
		errmsg("this %s has no MAP ioctls (an older module?)",
		       DMABRIDGE_XEN_DEVICE);
		break;
	}
}

/*
 * Release returns at once; the own pages go back when the buffer's fences
 * have signaled, so wait for that, bounded, and say why when it takes.
 */
static int map_release(int dev, int fd)
{
	int err = dmabridge_xen_map_release(dev, fd);

	if (err) {
		errmsg("releasing the mapping: %s", dmabridge_strerror(err));
		return -1;
	}
	err = dmabridge_xen_map_wait_released(dev, fd, 0);
	if (err == -ETIMEDOUT) {
		printf("waiting up to %u s for the buffer's fences to signal "
		       "before its own pages go back\n",
		       XEN_RELEASE_WAIT_MS / 1000);
		fflush(stdout);
		err = dmabridge_xen_map_wait_released(dev, fd,
						      XEN_RELEASE_WAIT_MS);
	}
	/* ENOENT: released before we asked. */
	if (err == -ETIMEDOUT) {
		errmsg("the buffer's fences did not signal in %u s: its own "
		       "pages go back, and the peer's are unmapped, in the "
		       "background once they do", XEN_RELEASE_WAIT_MS / 1000);
		return -1;
	}
	if (err && err != -ENOENT) {
		errmsg("waiting for the release: %s", dmabridge_strerror(err));
		return -1;
	}
	printf("released: the buffer has its own pages back\n");
	return 0;
}

static int xen_map(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exec",   required_argument, NULL, 'e' },
		{ "offset", required_argument, NULL, 'o' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int domid, count;
	struct xen_opts o;
	struct buf_ref b;
	uint32_t *refs;
	uint64_t size, end;
	int ret, dev, fd = -1, rc = EXIT_RUNTIME;

	ret = xen_parse(argc, argv, longopts, ":e:o:h", &o, 3,
			"DOMID, REF[,REF...] and BUF");
	if (ret >= 0)
		return ret;
	if (parse_domid(o.args[0], &domid)) {
		errmsg("xen map: DOMID is 0..32751, not '%s'", o.args[0]);
		return EXIT_USAGE;
	}
	refs = parse_refs(o.args[1], &count);
	if (!refs) {
		errmsg("xen map: '%s' is not REF[,REF...]", o.args[1]);
		return EXIT_USAGE;
	}
	if (parse_buf_ref("map", o.args[2], &b)) {
		free(refs);
		return EXIT_USAGE;
	}
	dev = open_dev();
	if (dev < 0) {
		free(refs);
		return EXIT_RUNTIME;
	}
	fd = get_buf(&b, &size);
	if (fd < 0)
		goto out;
	end = o.offset + (uint64_t)count * XEN_PAGE;
	if (end > size) {
		errmsg("%u pages from byte %" PRIu64 " do not fit in %s, %"
		       PRIu64 " bytes", count, o.offset, b.name, size);
		goto out;
	}
	ret = dmabridge_xen_map_refs_to_buf(dev, domid, 0, count, refs, fd,
					    (uint32_t)o.offset);
	if (ret) {
		errmsg("mapping %u refs of domain %u onto %s: %s", count, domid,
		       b.name, dmabridge_strerror(ret));
		explain_map_error(ret, domid);
		goto out;
	}
	printf("buffer: %s, %" PRIu64 " bytes\n", b.name, size);
	printf("mapped: %u refs of domain %u over bytes %" PRIu64 " to %"
	       PRIu64 "\n", count, domid, o.offset, end - 1);
	rc = hold("the mapping", o.exec, fd, size);
	if (map_release(dev, fd))
		rc = EXIT_RUNTIME;
out:
	free(refs);
	if (fd >= 0)
		close(fd);
	close(dev);
	return rc;
}

/* Lines of 16 bytes: offset, hex, and the printable ones. */
static void hexdump(const unsigned char *p, unsigned int len)
{
	unsigned int i, j;

	for (i = 0; i < len; i += 16) {
		unsigned int n = len - i < 16 ? len - i : 16;

		printf("  %04x ", i);
		for (j = 0; j < 16; j++) {
			if (j == 8)
				putchar(' ');
			if (j < n)
				printf(" %02x", p[i + j]);
			else
				fputs("   ", stdout);
		}
		fputs("  |", stdout);
		for (j = 0; j < n; j++)
			putchar(p[i + j] >= 0x20 && p[i + j] < 0x7f ?
				p[i + j] : '.');
		puts("|");
	}
}

/*
 * Maps one ref read-only through gntdev and shows its first @len bytes.
 * Page by page, so that one bad ref is named and the others still show.
 * Mapping without PROT_WRITE makes gntdev ask Xen for a read-only
 * mapping, which read-only grants allow.
 */
static int inspect_page(int gntdev, unsigned int domid, uint32_t ref,
			unsigned int page, unsigned int len)
{
	struct ioctl_gntdev_map_grant_ref map = {
		.count = 1,
		.refs[0] = { .domid = domid, .ref = ref },
	};
	struct ioctl_gntdev_unmap_grant_ref unmap = { .count = 1 };
	void *p;
	int err = 0;

	if (ioctl(gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, &map)) {
		err = errno;
		errmsg("ref %" PRIu32 " of domain %u: %s", ref, domid,
		       strerror(err));
		return -1;
	}
	p = mmap(NULL, XEN_PAGE, PROT_READ, MAP_SHARED, gntdev, map.index);
	if (p == MAP_FAILED) {
		err = errno;
		errmsg("ref %" PRIu32 " of domain %u: cannot map it: %s%s", ref,
		       domid, strerror(err), err == EINVAL ?
		       " (no such grant to this domain?)" : "");
	} else {
		printf("page %u, ref %" PRIu32 ":\n", page, ref);
		hexdump(p, len);
		munmap(p, XEN_PAGE);
	}
	unmap.index = map.index;
	if (ioctl(gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap)) {
		err = errno;
		errmsg("ref %" PRIu32 ": unmapping: %s", ref, strerror(err));
	}
	return err ? -1 : 0;
}

static int xen_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bytes", required_argument, NULL, 'n' },
		{ "help",  no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int domid, count, i, failed = 0;
	struct xen_opts o;
	uint32_t *refs;
	int ret, gntdev;

	ret = xen_parse(argc, argv, longopts, ":n:h", &o, 2,
			"DOMID and REF[,REF...]");
	if (ret >= 0)
		return ret;
	if (parse_domid(o.args[0], &domid)) {
		errmsg("xen inspect: DOMID is 0..32751, not '%s'", o.args[0]);
		return EXIT_USAGE;
	}
	refs = parse_refs(o.args[1], &count);
	if (!refs) {
		errmsg("xen inspect: '%s' is not REF[,REF...]", o.args[1]);
		return EXIT_USAGE;
	}
	gntdev = open(XEN_GNTDEV, O_RDWR | O_CLOEXEC);
	if (gntdev < 0) {
		errmsg("%s: %s", XEN_GNTDEV, strerror(errno));
		free(refs);
		return EXIT_RUNTIME;
	}
	printf("domain %u, %u refs, first %u bytes of each page\n", domid,
	       count, o.bytes);
	for (i = 0; i < count; i++)
		failed += inspect_page(gntdev, domid, refs[i], i, o.bytes) < 0;
	close(gntdev);
	free(refs);
	if (failed)
		errmsg("%u of %u refs could not be mapped", failed, count);
	return failed ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_xen(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} cmds[] = {
		{ "export", xen_export }, { "grant", xen_grant },
		{ "map", xen_map }, { "inspect", xen_inspect },
	};
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(xen_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "info") && argc == 2)
		return xen_info();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	errmsg("unknown xen command; try 'dmabridge xen --help'");
	return EXIT_USAGE;
}
