// SPDX-License-Identifier: GPL-2.0
/*
 * What 'udmabuf create' and 'heap alloc' do alike with the buffer they
 * made, kept in one place so that --name, CPU access and --exec behave
 * the same for every kind of buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmabridge.h"
#include "cli.h"

int buffer_cpu_access(int fd, unsigned int access, int begin,
		      const char *prefix)
{
	int ret = begin ? dmabridge_dmabuf_begin_cpu_access(fd, access)
			: dmabridge_dmabuf_end_cpu_access(fd, access);

	if (ret)
		errmsg("%s%s CPU access: %s", prefix, begin ? "begin" : "end",
		       dmabridge_strerror(ret));
	return ret;
}

int buffer_set_name(int fd, const char *name)
{
	int ret;

	if (!name)
		return 0;
	ret = dmabridge_dmabuf_set_name(fd, name);
	if (ret)
		errmsg("cannot name the buffer: %s", dmabridge_strerror(ret));
	return ret;
}

int buffer_exec(const char *cmd, int fd, uint64_t size)
{
	char num[32];
	pid_t pid;
	int status;

	/* The child would write out our buffered output a second time. */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		errmsg("fork: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (pid == 0) {
		if (fcntl(fd, F_SETFD, 0) < 0)
			_exit(127);
		snprintf(num, sizeof(num), "%d", fd);
		setenv("DMABRIDGE_FD", num, 1);
		snprintf(num, sizeof(num), "%" PRIu64, size);
		setenv("DMABRIDGE_SIZE", num, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		fprintf(stderr, "dmabridge: cannot run /bin/sh: %s\n",
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			errmsg("waitpid: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_RUNTIME;
}
