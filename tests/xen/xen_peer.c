// SPDX-License-Identifier: GPL-2.0
/*
 * One side of a test between two domains (tests/xen/cross.sh drives it from
 * dom0; xen-domu runs the other side in a PV domU).  Refs travel through
 * xenstore as space-separated numbers.
 *
 *   xen_peer grant DOMID N KEY       grant N pages (pattern SEED_CPU) to DOMID,
 *                                    write the refs to data/KEY, wait for the
 *                                    peer's SEED_DEV reply in the last page
 *   xen_peer export DOMID PATH N     export the refs at PATH as a dma-buf,
 *                                    check the pattern through an importer's
 *                                    CPU view, reply, hand it to vgem, release
 *   xen_peer offer DOMID N PATH      grant a vgem buffer's pages (IMP_TO_REFS),
 *                                    refs to PATH, wait for the reply, release
 *   xen_peer hold DOMID PATH N FILE  export and read, then once FILE exists
 *                                    (the granter was destroyed) read again
 *   xen_peer dir-offer DOMID N PATH  grant a vgem buffer of N pages through a
 *                                    PV page directory: only its first ref
 *                                    goes to PATH; wait for the reply
 *   xen_peer dir-export DOMID PATH N read the page directory at PATH, export
 *                                    the N refs it lists, check, reply
 *   xen_peer map DOMID PATH N        map the refs at PATH onto a udmabuf's
 *                                    memfd pages (MAP_REFS_TO_BUF), read
 *                                    them with pread, reply with pwrite,
 *                                    release, check the memfd's own bytes
 *
 * The dma-buf calls go through libdmabridge's dmabridge_xen_* (the
 * libxengnttab-shaped calls); tests/xen/gntdev_dmabuf.c uses raw ioctls.
 */
#include "xen_test.h"

#include <dmabridge.h>

#define WAIT_S 120

static int xs_read(const char *path, char *buf, size_t len)
{
	char cmd[256];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "xenstore-read %s 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = fgets(buf, len, p) != NULL;
	return pclose(p) == 0 && ok ? 0 : -1;
}

static int xs_write(const char *path, const char *val)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "xenstore-write %s '%s'", path, val);
	return system(cmd) == 0 ? 0 : -1;
}

/* Waits for PATH and parses n refs from it. */
static int read_refs(const char *path, uint32_t *refs, uint32_t n)
{
	char buf[1024], *s, *end;
	uint32_t i;
	int t;

	for (t = 0; t < WAIT_S * 10; t++) {
		if (!xs_read(path, buf, sizeof(buf)))
			break;
		usleep(100000);
	}
	if (t == WAIT_S * 10) {
		fprintf(stderr, "no refs at %s\n", path);
		return -1;
	}
	for (s = buf, i = 0; i < n; i++, s = end) {
		refs[i] = strtoul(s, &end, 0);
		if (end == s)
			return -1;
	}
	return 0;
}

static void refs_str(const uint32_t *refs, uint32_t n, char *buf, size_t len)
{
	size_t off = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? " " : "", refs[i]);
}

static int wait_reply(const uint8_t *map, uint32_t n)
{
	int t;

	for (t = 0; t < WAIT_S * 10; t++) {
		if (pat_check(map + (n - 1) * PAGE, (n - 1) * PAGE, PAGE, SEED_DEV) < 0)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "no reply from the peer\n");
	return 1;
}

static int do_grant(uint32_t domid, uint32_t n, const char *key)
{
	struct grant g;
	char path[64], buf[1024];
	int err;

	err = grant_alloc(&g, domid, n, false);
	if (err) {
		fprintf(stderr, "gntalloc: %s\n", strerror(-err));
		return 1;
	}
	pat_fill(g.map, 0, n * PAGE, SEED_CPU);
	refs_str(g.refs, n, buf, sizeof(buf));
	snprintf(path, sizeof(path), "data/%s", key);
	if (xs_write(path, buf))
		return 1;
	printf("granted %u pages to domain %u: %s\n", n, domid, buf);
	err = wait_reply(g.map, n);
	if (!err)
		printf("the peer's reply is in our page\n");
	grant_free(&g);
	return err;
}

/* Exports, checks through the importer's kernel view, replies. */
static int export_check(int dev, uint32_t domid, const uint32_t *refs,
			uint32_t n, int *tip, int *fdp)
{
	uint8_t *buf = malloc((size_t)n * PAGE);
	int fd, ti, err;

	if (!buf)
		return 1;
	err = dmabridge_xen_exp_from_refs(dev, domid, 0, n, refs, &fd);
	if (err) {
		fprintf(stderr, "EXP_FROM_REFS: %s\n", dmabridge_strerror(err));
		return 1;
	}
	ti = ti_open();
	if (ti < 0)
		return 1;
	err = ti_attach(ti, 0, fd, DMABRIDGE_TI_DIR_BIDIRECTIONAL, 0);
	if (!err)
		err = ti_vmap_read(ti, 0, 0, buf, n * PAGE);
	if (err) {
		fprintf(stderr, "importer: %s\n", strerror(-err));
		return 1;
	}
	if (pat_check(buf, 0, n * PAGE, SEED_CPU) >= 0) {
		fprintf(stderr, "the granter's bytes are not in the dma-buf\n");
		return 1;
	}
	free(buf);
	printf("domain %u's %u pages read through the dma-buf\n", domid, n);
	*tip = ti;
	*fdp = fd;
	return 0;
}

static int reply(int ti, uint32_t n)
{
	static uint8_t buf[PAGE];
	int err;

	pat_fill(buf, (n - 1) * PAGE, PAGE, SEED_DEV);
	err = ti_vmap_write(ti, 0, (n - 1) * PAGE, buf, PAGE);
	if (err)
		fprintf(stderr, "importer write: %s\n", strerror(-err));
	return err ? 1 : 0;
}

static int do_export(uint32_t domid, const char *path, uint32_t n)
{
	struct drm_prime_handle prime = { 0 };
	struct drm_gem_close gc = { 0 };
	uint32_t refs[MAX_REFS];
	int dev = dmabridge_xen_open(), ti, fd, card, err;

	if (dev < 0 || read_refs(path, refs, n))
		return 1;
	if (export_check(dev, domid, refs, n, &ti, &fd) || reply(ti, n))
		return 1;
	ti_detach(ti, 0);
	/* And into a DRM driver, as a display backend would. */
	card = vgem_open();
	prime.fd = fd;
	if (card < 0 || ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime)) {
		fprintf(stderr, "vgem import: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	gc.handle = prime.handle;
	ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc);
	err = dmabridge_xen_exp_wait_released(dev, fd, 5000);
	if (err && err != -ENOENT) {
		fprintf(stderr, "WAIT_RELEASED: %s\n", strerror(-err));
		return 1;
	}
	printf("imported into vgem, released\n");
	close(card);
	close(ti);
	close(dev);
	return 0;
}

static int do_offer(uint32_t domid, uint32_t n, const char *path)
{
	uint32_t refs[MAX_REFS];
	char buf[1024];
	uint8_t *map;
	int dev = dmabridge_xen_open(), fd, err;

	fd = vgem_alloc(n * PAGE);
	if (dev < 0 || fd < 0)
		return 1;
	map = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 1;
	pat_fill(map, 0, n * PAGE, SEED_CPU);
	err = dmabridge_xen_imp_to_refs(dev, domid, fd, n, refs);
	if (err) {
		fprintf(stderr, "IMP_TO_REFS: %s\n", strerror(-err));
		return 1;
	}
	refs_str(refs, n, buf, sizeof(buf));
	if (xs_write(path, buf))
		return 1;
	printf("granted a vgem buffer's %u pages to domain %u\n", n, domid);
	if (wait_reply(map, n))
		return 1;
	printf("the peer's reply is in the vgem buffer\n");
	err = dmabridge_xen_imp_release(dev, fd);
	if (err) {
		fprintf(stderr, "IMP_RELEASE: %s\n", strerror(-err));
		return 1;
	}
	munmap(map, n * PAGE);
	close(fd);
	close(dev);
	return 0;
}

static int do_hold(uint32_t domid, const char *path, uint32_t n,
		   const char *flag)
{
	static uint8_t buf[MAX_REFS * PAGE];
	uint32_t refs[MAX_REFS];
	int dev = gdb_open(), ti, fd, t;

	if (dev < 0 || read_refs(path, refs, n))
		return 1;
	if (export_check(dev, domid, refs, n, &ti, &fd))
		return 1;
	printf("holding\n");
	fflush(stdout);
	for (t = 0; t < WAIT_S * 10 && access(flag, F_OK); t++)
		usleep(100000);
	/* Xen keeps a dead domain's granted frames until they are unmapped. */
	if (ti_vmap_read(ti, 0, 0, buf, n * PAGE) ||
	    pat_check(buf, 0, n * PAGE, SEED_CPU) >= 0) {
		fprintf(stderr, "the pages changed under us\n");
		return 1;
	}
	printf("still readable after the granter died\n");
	ti_detach(ti, 0);
	close(ti);
	close(fd);
	close(dev);
	return 0;
}

/* A vgem buffer of n pages, mapped; the fd in *fd. */
static uint8_t *vgem_map(uint32_t n, int *fd)
{
	uint8_t *map;

	*fd = vgem_alloc(n * PAGE);
	if (*fd < 0)
		return NULL;
	map = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return map == MAP_FAILED ? NULL : map;
}

static int do_dir_offer(uint32_t domid, uint32_t n, const char *path)
{
	uint32_t ndir = dmabridge_xen_pgdir_pages(n), i;
	uint32_t *refs = calloc(n, sizeof(*refs)), dir_refs[8];
	void *dir_pages[8];
	uint8_t *buf, *dir;
	int dev = dmabridge_xen_open(), fd, dfd, err;
	char val[16];

	if (dev < 0 || !refs || ndir > 8)
		return 1;
	buf = vgem_map(n, &fd);
	dir = vgem_map(ndir, &dfd);
	if (!buf || !dir)
		return 1;
	pat_fill(buf, 0, n * PAGE, SEED_CPU);
	err = dmabridge_xen_imp_to_refs(dev, domid, fd, n, refs);
	if (!err)
		err = dmabridge_xen_imp_to_refs(dev, domid, dfd, ndir, dir_refs);
	for (i = 0; i < ndir; i++)
		dir_pages[i] = dir + i * PAGE;
	if (!err)
		err = dmabridge_xen_pgdir_build(dir_pages, dir_refs, ndir, refs, n);
	if (err) {
		fprintf(stderr, "page directory: %s\n", dmabridge_strerror(err));
		return 1;
	}
	snprintf(val, sizeof(val), "%u", dir_refs[0]);
	if (xs_write(path, val))
		return 1;
	printf("granted %u pages through a %u-page directory\n", n, ndir);
	if (wait_reply(buf, n))
		return 1;
	printf("the peer's reply is in the buffer\n");
	dmabridge_xen_imp_release(dev, dfd);
	dmabridge_xen_imp_release(dev, fd);
	free(refs);
	return 0;
}

static int do_dir_export(uint32_t domid, const char *path, uint32_t n)
{
	uint32_t *refs = calloc(n, sizeof(*refs)), got = 0, ref, next;
	int dev = dmabridge_xen_open(), ti, fd, gfd, r;
	uint8_t *page;

	if (dev < 0 || !refs || read_refs(path, &ref, 1))
		return 1;
	/* Each directory page through xen-gntdev: its ref is in the last. */
	while (ref && got < n) {
		page = gntdev_map(&gfd, domid, &ref, 1);
		if (!page) {
			fprintf(stderr, "mapping directory page %u failed\n", ref);
			return 1;
		}
		r = dmabridge_xen_pgdir_parse(page, &next, refs + got, n - got);
		munmap(page, PAGE);
		close(gfd);
		if (r < 0)
			return 1;
		got += r;
		ref = next;
	}
	if (got != n) {
		fprintf(stderr, "the directory lists %u refs, not %u\n", got, n);
		return 1;
	}
	if (export_check(dev, domid, refs, n, &ti, &fd) || reply(ti, n))
		return 1;
	printf("%u refs from a page directory exported\n", n);
	ti_detach(ti, 0);
	close(fd);
	close(ti);
	close(dev);
	free(refs);
	return 0;
}

static int memfd_check(int memfd, uint32_t n, uint32_t seed, const char *what)
{
	uint8_t *buf = malloc((size_t)n * PAGE);
	int bad;

	if (!buf)
		return 1;
	bad = pread(memfd, buf, n * PAGE, 0) != (ssize_t)(n * PAGE) ||
	      pat_check(buf, 0, n * PAGE, seed) >= 0;
	free(buf);
	if (bad)
		fprintf(stderr, "the memfd does not hold %s\n", what);
	return bad;
}

/*
 * The peer's pages behind memory this domain allocated: the kernel reads
 * and writes the memfd's pages and reaches the peer's frames.
 */
static int do_map(uint32_t domid, const char *path, uint32_t n)
{
	static uint8_t page[PAGE];
	uint32_t refs[MAX_REFS];
	int dev = dmabridge_xen_open(), udev, memfd, buf, err;
	uint8_t *own = malloc((size_t)n * PAGE);

	udev = open(udmabuf_dev_path(), O_RDWR | O_CLOEXEC);
	memfd = memfd_sealed("map", n * PAGE, 0);
	if (dev < 0 || udev < 0 || memfd < 0 || !own || read_refs(path, refs, n))
		return 1;
	pat_fill(own, 0, n * PAGE, SEED_OWN);
	if (pwrite(memfd, own, n * PAGE, 0) != (ssize_t)(n * PAGE))
		return 1;
	buf = udmabuf_create(udev, memfd, 0, n * PAGE, 0);
	if (buf < 0) {
		fprintf(stderr, "udmabuf: %s\n", strerror(-buf));
		return 1;
	}
	err = dmabridge_xen_map_refs_to_buf(dev, domid, 0, n, refs, buf, 0);
	if (err) {
		fprintf(stderr, "MAP_REFS_TO_BUF: %s\n", dmabridge_strerror(err));
		return 1;
	}
	if (memfd_check(memfd, n, SEED_CPU, "the granter's bytes"))
		return 1;
	printf("domain %u's %u pages read behind our memfd\n", domid, n);
	pat_fill(page, (n - 1) * PAGE, PAGE, SEED_DEV);
	if (pwrite(memfd, page, PAGE, (n - 1) * PAGE) != PAGE)
		return 1;
	err = dmabridge_xen_map_release(dev, buf);
	if (!err)
		err = dmabridge_xen_map_wait_released(dev, buf, 5000);
	if (err && err != -ENOENT) {
		fprintf(stderr, "MAP_RELEASE: %s\n", dmabridge_strerror(err));
		return 1;
	}
	if (memfd_check(memfd, n, SEED_OWN, "its own bytes after release"))
		return 1;
	printf("released: the memfd's own bytes are back\n");
	free(own);
	close(buf);
	close(memfd);
	close(udev);
	close(dev);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "grant"))
		return do_grant(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "export"))
		return do_export(atoi(argv[2]), argv[3], atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "offer"))
		return do_offer(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "dir-offer"))
		return do_dir_offer(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "dir-export"))
		return do_dir_export(atoi(argv[2]), argv[3], atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "map"))
		return do_map(atoi(argv[2]), argv[3], atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "hold"))
		return do_hold(atoi(argv[2]), argv[3], atoi(argv[4]), argv[5]);
	fprintf(stderr, "usage: see the comment at the top of xen_peer.c\n");
	return 2;
}
