// SPDX-License-Identifier: GPL-2.0
/*
 * dmabridge fence: timelines, fences and waits from shell scripts.
 *
 * A fence lives only as long as a descriptor of it, and an unsignaled one
 * signals with an error when its timeline's last descriptor closes, so a
 * script cannot keep either in a shell variable.  'fence timeline' holds a
 * timeline for as long as a command runs and hands it down as an inherited
 * descriptor ($DMABRIDGE_TIMELINE); the other subcommands take it from
 * there and name fences by their value.  Fences that must outlive a
 * subcommand go into a dma-buf ('fence attach'), which holds them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmabridge.h"
#include "cli.h"

/* Exit status of 'fence wait' when the time ran out (as timeout(1)). */
#define EXIT_TIMEOUT	124

static const char fence_usage[] =
"Usage: dmabridge fence COMMAND [ARGS]\n"
"\n"
"Commands (TL is a timeline fd, default $DMABRIDGE_TIMELINE):\n"
"  timeline [OPTIONS] --exec CMD  hold a new timeline while CMD runs\n"
"  signal [-t TL] VALUE           advance the timeline to VALUE\n"
"  wait [-t TL] VALUE             wait until the timeline reaches VALUE\n"
"  wait --dmabuf FD               wait for a dma-buf's implicit fences\n"
"  wait-fd [--all] FD...          wait for inherited sync_file fds\n"
"  attach [-t TL] --dmabuf FD VALUE  put a fence into a dma-buf\n"
"  info [-t TL]                   show the timeline\n"
"  status FD                      show a sync_file's fences\n"
"\n"
"Run 'dmabridge fence COMMAND --help' for options.  Durations: a number\n"
"with ns, us, ms, s or m (plain: seconds).\n";

static const char timeline_usage[] =
"Usage: dmabridge fence timeline [OPTIONS] --exec CMD\n"
"       dmabridge fence timeline [OPTIONS] -- PROGRAM [ARGS...]\n"
"\n"
"Create a timeline and run a command that inherits it, with its fd number\n"
"in $DMABRIDGE_TIMELINE; the exit status is the command's.  When the\n"
"command and everything it started are done with the timeline, fences that\n"
"have not signaled signal with EPIPE.\n"
"\n"
"Options:\n"
"  -n, --name NAME       timeline name (< 32 bytes)\n"
"  -s, --start VALUE     initial value (default 0)\n"
"  -T, --timeout DUR     signal a fence with ETIMEDOUT when it has not\n"
"                        signaled DUR after it was made (at most 1 day)\n"
"  -e, --exec CMD        run CMD with /bin/sh\n"
"  -h, --help            show this help\n";

static const char signal_usage[] =
"Usage: dmabridge fence signal [-t TL] [--inc] [--error ERRNO] VALUE\n"
"\n"
"Advance the timeline to VALUE (or by VALUE with --inc) and signal the\n"
"fences it reaches, with the error ERRNO (a number or a name such as EIO)\n"
"when given.\n";

static const char wait_usage[] =
"Usage: dmabridge fence wait [-t TL] [--timeout DUR] VALUE\n"
"       dmabridge fence wait --dmabuf FD [--write] [--timeout DUR]\n"
"\n"
"Wait until the timeline reaches VALUE, or until a dma-buf's implicit\n"
"fences let a read (or with --write, a write) go.  Exit status: 0 signaled,\n"
"1 signaled with an error (printed) or failed, 124 timed out.\n"
"\n"
"Waiting for VALUE makes a fence at VALUE on the timeline, and it stays\n"
"there after a wait that gave up, until the timeline reaches VALUE: on a\n"
"timeline with a timeout it is a fence like any other, which fails the\n"
"timeline up to VALUE with ETIMEDOUT if VALUE is not reached in time.\n";

static const char wait_fd_usage[] =
"Usage: dmabridge fence wait-fd [--all] [--timeout DUR] FD...\n"
"\n"
"Wait until any (or with --all, every) of the sync_file fds this process\n"
"inherited has signaled; prints the first FD that signaled.  Exit status\n"
"as 'fence wait'.\n";

static const char attach_usage[] =
"Usage: dmabridge fence attach [-t TL] --dmabuf FD [--read] VALUE\n"
"\n"
"Make a fence that signals at VALUE and add it to the dma-buf FD's\n"
"reservation object as a write (with --read, a read), so that implicit\n"
"sync (poll on the dma-buf, drivers, 'fence wait --dmabuf') waits for it.\n";

static const char info_usage[] =
"Usage: dmabridge fence info [-t TL]\n"
"\n"
"Show the timeline's name, value, pending fences and timeout.\n";

static const char status_usage[] =
"Usage: dmabridge fence status FD\n"
"\n"
"Show the sync_file FD (inherited) and each fence in it.  Exit status 0\n"
"signaled, 1 signaled with an error, 3 not signaled yet.\n";

/* "250ms", "2s", "100us", "5000000ns", "1m", "3" (seconds). */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *sfx; uint64_t mul; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000 }, { "m", 60000000000ULL }, { "", 1000000000 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].sfx))
			continue;
		if (v > UINT64_MAX / units[i].mul)
			return -ERANGE;
		*ns = v * units[i].mul;
		return 0;
	}
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

static int parse_fd(const char *s, int *fd)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > 65535)
		return -EINVAL;
	*fd = (int)v;
	return 0;
}

static int parse_errno(const char *s, int *err)
{
	static const struct { const char *name; int err; } names[] = {
		{ "EIO", EIO }, { "EPIPE", EPIPE }, { "ETIMEDOUT", ETIMEDOUT },
		{ "ECANCELED", ECANCELED }, { "EINVAL", EINVAL },
		{ "ENOMEM", ENOMEM }, { "EFAULT", EFAULT }, { "ENODEV", ENODEV },
		{ "EAGAIN", EAGAIN }, { "ENOENT", ENOENT },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*err = names[i].err;
			return 0;
		}
	if (*s == '-')
		s++;
	if (parse_u64(s, &v) || v == 0 || v > 4095)
		return -EINVAL;
	*err = (int)v;
	return 0;
}

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
	errmsg(fmt, arg);
	fputs(usage, stderr);
	return EXIT_USAGE;
}

/* The timeline fd: -t, else $DMABRIDGE_TIMELINE. */
static int timeline_fd(const char *opt, int *fd)
{
	if (!opt)
		opt = getenv("DMABRIDGE_TIMELINE");
	if (!opt || !*opt) {
		errmsg("no timeline: give -t FD or run under 'dmabridge fence timeline'");
		return EXIT_USAGE;
	}
	if (parse_fd(opt, fd)) {
		errmsg("bad timeline fd '%s'", opt);
		return EXIT_USAGE;
	}
	return 0;
}

static int runtime_error(const char *what, int err)
{
	errmsg("%s: %s", what, dmabridge_strerror(err));
	return EXIT_RUNTIME;
}

static int run_command(const char *exec, char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return runtime_error("fork", -errno);
	if (pid == 0) {
		if (exec)
			execl("/bin/sh", "sh", "-c", exec, (char *)NULL);
		else
			execvp(argv[0], argv);
		fprintf(stderr, "dmabridge: cannot run %s: %s\n",
			exec ? "/bin/sh" : argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return runtime_error("waitpid", -errno);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int cmd_timeline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "start", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "exec", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *name = NULL, *exec = NULL;
	uint64_t start = 0, timeout = 0;
	char num[16];
	int c, tl, ret;

	while ((c = getopt_long(argc, argv, "+n:s:T:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 's':
			if (parse_u64(optarg, &start))
				return usage_error(timeline_usage, "bad value '%s'", optarg);
			break;
		case 'T':
			if (parse_duration(optarg, &timeout) || !timeout)
				return usage_error(timeline_usage, "bad duration '%s'", optarg);
			break;
		case 'e':
			exec = optarg;
			break;
		case 'h':
			fputs(timeline_usage, stdout);
			return EXIT_OK;
		default:
			fputs(timeline_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!exec == (optind >= argc))
		return usage_error(timeline_usage, "%s",
				   exec ? "--exec and a program are exclusive"
					: "nothing to run: give --exec CMD or -- PROGRAM");
	if (name && strlen(name) >= 32)
		return usage_error(timeline_usage, "name '%s' too long", name);

	tl = dmabridge_timeline_create(name, start, timeout, 0);
	if (tl < 0)
		return runtime_error("cannot create a timeline", tl);
	snprintf(num, sizeof(num), "%d", tl);
	setenv("DMABRIDGE_TIMELINE", num, 1);
	ret = run_command(exec, argv + optind);
	close(tl);
	return ret;
}

/* Options shared by the subcommands that work on a timeline. */
struct tl_opts {
	const char *timeline;
	const char *dmabuf;
	uint64_t timeout;	/* ns; UINT64_MAX: none */
	int inc, all, read, write;
	int error;
};

static int parse_tl_opts(int argc, char **argv, const char *usage,
			 const char *allowed, struct tl_opts *o)
{
	static const struct option opts[] = {
		{ "timeline", required_argument, NULL, 't' },
		{ "dmabuf", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "inc", no_argument, NULL, 'i' },
		{ "error", required_argument, NULL, 'E' },
		{ "all", no_argument, NULL, 'a' },
		{ "read", no_argument, NULL, 'r' },
		{ "write", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = UINT64_MAX;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+t:d:T:iE:arwh", opts, NULL)) != -1) {
		if (c != 'h' && c != '?' && !strchr(allowed, c)) {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
		switch (c) {
		case 't':
			o->timeline = optarg;
			break;
		case 'd':
			o->dmabuf = optarg;
			break;
		case 'T':
			if (parse_duration(optarg, &o->timeout))
				return usage_error(usage, "bad duration '%s'", optarg);
			break;
		case 'i':
			o->inc = 1;
			break;
		case 'E':
			if (parse_errno(optarg, &o->error))
				return usage_error(usage, "bad errno '%s'", optarg);
			break;
		case 'a':
			o->all = 1;
			break;
		case 'r':
			o->read = 1;
			break;
		case 'w':
			o->write = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* One VALUE operand after the options. */
static int one_value(int argc, char **argv, const char *usage, uint64_t *v)
{
	if (optind != argc - 1)
		return usage_error(usage, "%s", "expected one VALUE");
	if (parse_u64(argv[optind], v))
		return usage_error(usage, "bad value '%s'", argv[optind]);
	return 0;
}

static int64_t wait_timeout(const struct tl_opts *o)
{
	return o->timeout == UINT64_MAX || o->timeout > INT64_MAX ?
	       -1 : (int64_t)o->timeout;
}

/* Wait for @fence; the exit status of 'fence wait'. */
static int wait_one(int fence, const struct tl_opts *o, const char *what)
{
	int ret, error = 0;

	ret = dmabridge_fence_wait(&fence, 1, 0, wait_timeout(o), NULL);
	if (ret == -ETIME) {
		errmsg("%s: timed out", what);
		return EXIT_TIMEOUT;
	}
	if (ret < 0)
		return runtime_error(what, ret);
	ret = dmabridge_fence_status(fence, &error);
	if (ret < 0)
		return runtime_error(what, ret);
	if (error) {
		printf("error %d (%s)\n", -error, strerror(-error));
		return EXIT_RUNTIME;
	}
	printf("signaled\n");
	return EXIT_OK;
}

static int cmd_signal(int argc, char **argv)
{
	struct tl_opts o;
	uint64_t v;
	int ret, tl;

	ret = parse_tl_opts(argc, argv, signal_usage, "tiE", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = one_value(argc, argv, signal_usage, &v);
	if (!ret)
		ret = timeline_fd(o.timeline, &tl);
	if (ret)
		return ret;
	if (o.error && o.inc)
		return usage_error(signal_usage, "%s", "--error takes an absolute VALUE");
	if (o.error)
		ret = dmabridge_timeline_fail(tl, v, o.error);
	else if (o.inc)
		ret = dmabridge_timeline_inc(tl, v);
	else
		ret = dmabridge_timeline_signal(tl, v);
	return ret < 0 ? runtime_error("signal", ret) : EXIT_OK;
}

static int cmd_wait(int argc, char **argv)
{
	struct tl_opts o;
	uint64_t v;
	int ret, tl, fd, fence;

	ret = parse_tl_opts(argc, argv, wait_usage, "tdTw", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (o.dmabuf) {
		if (optind != argc || parse_fd(o.dmabuf, &fd))
			return usage_error(wait_usage, "%s", "bad --dmabuf FD or extra operand");
		fence = dmabridge_fence_export(fd, o.write ? DMABRIDGE_ACCESS_WRITE :
					       DMABRIDGE_ACCESS_READ);
		if (fence < 0)
			return runtime_error("cannot export the dma-buf's fences", fence);
	} else {
		if (o.write)
			return usage_error(wait_usage, "%s", "--write needs --dmabuf");
		ret = one_value(argc, argv, wait_usage, &v);
		if (!ret)
			ret = timeline_fd(o.timeline, &tl);
		if (ret)
			return ret;
		fence = dmabridge_fence_create(tl, v, DMABRIDGE_FENCE_CLOEXEC);
		if (fence < 0)
			return runtime_error("cannot create a fence", fence);
	}
	ret = wait_one(fence, &o, "wait");
	close(fence);
	return ret;
}

static int cmd_wait_fd(int argc, char **argv)
{
	struct tl_opts o;
	int fds[64], ret, i, n;
	size_t index = 0;

	ret = parse_tl_opts(argc, argv, wait_fd_usage, "aT", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	n = argc - optind;
	if (n < 1 || n > 64)
		return usage_error(wait_fd_usage, "%s", "give 1 to 64 FDs");
	for (i = 0; i < n; i++)
		if (parse_fd(argv[optind + i], &fds[i]))
			return usage_error(wait_fd_usage, "bad fd '%s'", argv[optind + i]);
	ret = dmabridge_fence_wait(fds, n, o.all ? DMABRIDGE_WAIT_ALL : 0,
				   wait_timeout(&o), &index);
	if (ret == -ETIME) {
		errmsg("wait-fd: timed out");
		return EXIT_TIMEOUT;
	}
	if (ret < 0)
		return runtime_error("wait-fd", ret);
	if (!o.all)
		printf("%d\n", fds[index]);
	for (i = 0; i < n; i++) {
		int error = 0;

		if (dmabridge_fence_status(fds[i], &error) == 1 && error) {
			printf("fd %d: error %d (%s)\n", fds[i], -error,
			       strerror(-error));
			ret = EXIT_RUNTIME;
		}
	}
	return ret ? EXIT_RUNTIME : EXIT_OK;
}

static int cmd_attach(int argc, char **argv)
{
	struct tl_opts o;
	uint64_t v;
	int ret, tl, fd, fence;

	ret = parse_tl_opts(argc, argv, attach_usage, "tdr", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (!o.dmabuf || parse_fd(o.dmabuf, &fd))
		return usage_error(attach_usage, "%s", "give --dmabuf FD");
	ret = one_value(argc, argv, attach_usage, &v);
	if (!ret)
		ret = timeline_fd(o.timeline, &tl);
	if (ret)
		return ret;
	fence = dmabridge_fence_create(tl, v, DMABRIDGE_FENCE_CLOEXEC);
	if (fence < 0)
		return runtime_error("cannot create a fence", fence);
	ret = dmabridge_fence_import(fd, fence, o.read ? DMABRIDGE_ACCESS_READ :
				     DMABRIDGE_ACCESS_WRITE);
	close(fence);
	return ret < 0 ? runtime_error("cannot attach the fence", ret) : EXIT_OK;
}

static int cmd_tl_info(int argc, char **argv)
{
	struct dmabridge_timeline_info info;
	struct tl_opts o;
	int ret, tl;

	ret = parse_tl_opts(argc, argv, info_usage, "t", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind != argc)
		return usage_error(info_usage, "unexpected '%s'", argv[optind]);
	ret = timeline_fd(o.timeline, &tl);
	if (ret)
		return ret;
	ret = dmabridge_timeline_info(tl, &info);
	if (ret < 0)
		return runtime_error("not a timeline", ret);
	printf("name: %s\nvalue: %" PRIu64 "\npending: %u\ncontext: %" PRIu64 "\n",
	       info.name, info.value, info.pending, info.context);
	if (info.timeout_ns)
		printf("timeout: %" PRIu64 " ns\n", info.timeout_ns);
	else
		printf("timeout: none\n");
	return EXIT_OK;
}

static int cmd_status(int argc, char **argv)
{
	struct dmabridge_fence_point points[16];
	struct tl_opts o;
	int ret, fd, n, i, error = 0;

	ret = parse_tl_opts(argc, argv, status_usage, "", &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (optind != argc - 1 || parse_fd(argv[optind], &fd))
		return usage_error(status_usage, "%s", "give one FD");
	ret = dmabridge_fence_status(fd, &error);
	if (ret < 0)
		return runtime_error("not a sync_file", ret);
	printf("status: %s\n", error ? "error" : ret ? "signaled" : "active");
	if (error)
		printf("error: %d (%s)\n", -error, strerror(-error));
	n = dmabridge_fence_points(fd, points, 16);
	if (n < 0)
		return runtime_error("cannot list the fences", n);
	printf("fences: %d\n", n);
	for (i = 0; i < n && i < 16; i++)
		printf("  %s %s: %s\n", points[i].driver, points[i].timeline,
		       points[i].status < 0 ? "error" :
		       points[i].status ? "signaled" : "active");
	return error ? EXIT_RUNTIME : ret ? EXIT_OK : 3;
}

int cmd_fence(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "timeline", cmd_timeline }, { "signal", cmd_signal },
		{ "wait", cmd_wait }, { "wait-fd", cmd_wait_fd },
		{ "attach", cmd_attach }, { "info", cmd_tl_info },
		{ "status", cmd_status },
	};
	size_t i;

	if (argc < 2) {
		fputs(fence_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(fence_usage, stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			optind = 1;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	errmsg("unknown fence command '%s'", argv[1]);
	fputs(fence_usage, stderr);
	return EXIT_USAGE;
}
