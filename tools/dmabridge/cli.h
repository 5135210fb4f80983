/* SPDX-License-Identifier: GPL-2.0 */
/* The dmabridge command: shared declarations. */
#ifndef DMABRIDGE_CLI_H
#define DMABRIDGE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes of every command. */
#define EXIT_OK		0
#define EXIT_RUNTIME	1
#define EXIT_USAGE	2

/* Outcome of parsing a command line. */
enum parse_result {
	PARSE_OK,
	PARSE_HELP,	/* --help given: print help, exit 0 */
	PARSE_ERROR,	/* message in the caller's buffer: exit 2 */
};

struct create_opts {
	uint64_t size;		/* total bytes, required */
	unsigned int list;	/* 0: UDMABUF_CREATE; N: CREATE_LIST, N memfds */
	int hugetlb;
	int readonly;
	int verify;
	int fill_set;
	unsigned char fill;
	const char *name;	/* NULL: leave unnamed */
	const char *device;	/* NULL: library default */
	const char *exec;	/* NULL: no command */
};

struct inspect_opts {
	pid_t pid;		/* 0: this process */
	int fd;
	int raw;
};

/*
 * "4096", "0x1000", "4K", "64KiB", "1M", "2G", "1T": binary multiples,
 * suffix case-insensitive, optional "iB"/"B".  0 or -EINVAL / -ERANGE.
 */
int parse_size(const char *s, uint64_t *out);

/* A byte: decimal 0..255 or 0x00..0xff. */
int parse_byte(const char *s, unsigned char *out);

/* A non-negative int, decimal only. */
int parse_uint(const char *s, unsigned int max, unsigned int *out);

/*
 * An open file to inspect: "N" (this process), "/proc/self/fd/N",
 * "/dev/fd/N", "/proc/PID/fd/N" or "PID:N".  pid 0 means this process.
 */
int parse_fd_ref(const char *s, pid_t *pid, int *fd);

/*
 * The message for getopt_long's ':' (missing argument) or '?' (unknown
 * option) result @c, so that every command words them alike.  Returns
 * PARSE_ERROR.
 */
enum parse_result parse_getopt_error(int c, char **argv, char *err,
				     size_t errlen);

/*
 * Option values the buffer-making commands share: a nonzero SIZE, a
 * dma-buf --name, a --fill byte (sets *@fill_set).  0, or -1 with a
 * message in @err.
 */
int parse_size_opt(const char *arg, uint64_t *size, char *err, size_t errlen);
int parse_name_opt(const char *arg, const char **name, char *err,
		   size_t errlen);
int parse_fill_opt(const char *arg, unsigned char *fill, int *fill_set,
		   char *err, size_t errlen);

/* Parse "udmabuf create" arguments (argv[0] is "create"). */
enum parse_result parse_create(int argc, char **argv, struct create_opts *o,
			       char *err, size_t errlen);

/*
 * Check create options against the machine: @page is the page size,
 * @hugepage the huge page size (0 if none).  On success sets *@item to
 * the size of one range.  Returns 0, or -1 with a message in @err.
 */
int check_create(const struct create_opts *o, uint64_t page,
		 uint64_t hugepage, uint64_t *item, char *err, size_t errlen);

/* Parse "udmabuf inspect" arguments (argv[0] is "inspect"). */
enum parse_result parse_inspect(int argc, char **argv, struct inspect_opts *o,
				char *err, size_t errlen);

/* Format a byte count as "N bytes (X MiB)" style human text. */
void format_size(uint64_t bytes, char *buf, size_t len);

/* "heap alloc" options. */
struct heap_alloc_opts {
	const char *heap;	/* a heap name or a path to a heap node */
	uint64_t size;		/* bytes, nonzero */
	int verify;
	int fill_set;
	unsigned char fill;
	const char *name;	/* NULL: leave unnamed */
	const char *exec;	/* NULL: no command */
};

/* "heap list" options. */
struct heap_list_opts {
	int names_only;		/* --names: one name a line */
	int ours_only;		/* --ours: dmabridge's heaps only */
};

/* Parse "heap alloc" arguments (argv[0] is "alloc"). */
enum parse_result parse_heap_alloc(int argc, char **argv,
				   struct heap_alloc_opts *o,
				   char *err, size_t errlen);

/* Parse "heap list" arguments (argv[0] is "list"). */
enum parse_result parse_heap_list(int argc, char **argv,
				  struct heap_list_opts *o,
				  char *err, size_t errlen);

/* "cached, page pools, memcg-charged" for DMABRIDGE_HEAP_PROP_* bits. */
void format_heap_props(unsigned int props, char *buf, size_t len);

/*
 * Begin (@begin nonzero) or end CPU access to the dma-buf @fd; on failure
 * print a message starting with @prefix and return the library's code.
 */
int buffer_cpu_access(int fd, unsigned int access, int begin,
		      const char *prefix);

/* Set the dma-buf's name unless @name is NULL; a message on failure. */
int buffer_set_name(int fd, const char *name);

/*
 * Run @cmd with /bin/sh, the buffer @fd inherited and named in
 * $DMABRIDGE_FD and $DMABRIDGE_SIZE.  Returns the exit code to pass on:
 * the command's, 128 + a signal, or EXIT_RUNTIME.
 */
int buffer_exec(const char *cmd, int fd, uint64_t size);

/* Commands: return the process exit code. */
int cmd_info(int argc, char **argv);
int cmd_udmabuf(int argc, char **argv);
int cmd_heap(int argc, char **argv);
int cmd_fence(int argc, char **argv);
int cmd_xen(int argc, char **argv);

/*
 * What a command does with its parser's result: -1 to go on, else the
 * exit code after printing @usage (--help) or "@cmd: @err" (an error).
 */
int parse_outcome(enum parse_result r, const char *usage, const char *cmd,
		  const char *err);

/* Print "dmabridge: <msg>" to stderr. */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* DMABRIDGE_CLI_H */
