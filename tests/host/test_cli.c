// SPDX-License-Identifier: GPL-2.0
/* The dmabridge binary's exit codes and the messages that matter. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tap.h"
#include "tests.h"

static const char *bin;

/* Run "BIN ARGS", capture stdout+stderr into @out; returns the exit code. */
static int run(const char *args, char *out, size_t len)
{
	char cmd[1024];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", bin, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A check on captured output, which is shown only on failure. */
static void check_out(int pass, const char *out, const char *what)
{
	if (!ok(pass, "%s", what))
		tap_diag("output was:\n%s", out);
}

void test_cli(const char *binary)
{
	static const char *const helps[] = {
		"--help", "help", "udmabuf --help", "udmabuf create --help",
		"udmabuf inspect --help", "info --help",
		"heap --help", "heap list --help", "heap alloc --help",
		"heap system-name --help",
		"fence --help", "fence timeline --help", "fence signal --help",
		"fence wait --help", "fence wait-fd --help", "fence attach --help",
		"fence info --help", "fence status --help",
	};
	static const char *const usage_errors[] = {
		"", "bogus", "--bogus", "udmabuf", "udmabuf bogus",
		"udmabuf create", "udmabuf create --size 1Q",
		"udmabuf create --size 1M --list 3",
		"udmabuf create --size 1000", "udmabuf create --size 1M --fill 256",
		"udmabuf inspect", "udmabuf inspect /dev/udmabuf", "info extra",
		"heap", "heap bogus", "heap list extra", "heap alloc",
		"heap alloc system", "heap alloc system 0", "heap system-name x",
		"fence", "fence bogus", "fence timeline",
		"fence timeline --exec true -- true",
		"fence timeline --timeout 5parsecs --exec true",
		"fence timeline --timeout 0 --exec true",
		"fence timeline --start x --exec true",
		"fence timeline --name 0123456789abcdef0123456789abcdef --exec true",
		"fence signal -t 3", "fence signal -t 3 x", "fence signal -t 3 1 2",
		"fence signal -t 3 --error EBOGUS 1", "fence signal -t 3 --error 0 1",
		"fence signal -t 3 --inc --error EIO 1", "fence signal -t x 1",
		"fence signal --timeout 1s -t 3 1", "fence wait -t 3",
		"fence wait -t 3 --write 1", "fence wait --dmabuf x",
		"fence wait-fd", "fence wait-fd x", "fence attach -t 3 1",
		"fence info -t 3 extra", "fence status", "fence status x",
	};
	char out[8192];
	size_t i;

	bin = binary;
	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		int rc = run(helps[i], out, sizeof(out));

		ok(rc == 0 && strstr(out, "Usage: dmabridge"),
		   "'dmabridge %s' prints usage and exits 0 (%d)", helps[i], rc);
	}
	for (i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++)
		is(run(usage_errors[i], out, sizeof(out)), 2,
		   "'dmabridge %s' is a usage error", usage_errors[i]);

	is(run("--version", out, sizeof(out)), 0, "--version");
	check_out(strstr(out, "dmabridge 0.1.0") != NULL, out, "version printed");
	is(run("info", out, sizeof(out)), 0, "info works on any system");
	check_out(strstr(out, "kernel: Linux") && strstr(out, "udmabuf:") &&
		  strstr(out, "dmabridge modules:"), out, "info has its sections");
	is(run("udmabuf inspect 0 </dev/null", out, sizeof(out)), 1,
	   "inspect of a non-dma-buf is a runtime error");
	check_out(strstr(out, "Not a dma-buf") != NULL, out, "and says so");
	is(run("udmabuf inspect 999", out, sizeof(out)), 1,
	   "inspect of a closed fd is a runtime error");
	is(run("udmabuf create --size 4K --device /nonexistent", out, sizeof(out)),
	   1, "a missing device is a runtime error");
	check_out(strstr(out, "/nonexistent") && strstr(out, "No such file"),
		  out, "and names the device and the error");
	is(run("heap list", out, sizeof(out)), 0, "heap list works on any system");
	is(run("heap alloc no-such-heap 4K", out, sizeof(out)), 1,
	   "alloc from an absent heap is a runtime error");
	check_out(strstr(out, "no-such-heap") && strstr(out, "No such file"),
		  out, "and names the heap and the error");
	is(run("fence timeline --exec true", out, sizeof(out)), 1,
	   "a timeline without dmabridge_sync is a runtime error");
	check_out(strstr(out, "No such file") != NULL, out, "and says why");
	is(run("heap system-name", out, sizeof(out)), 0, "heap system-name");
	check_out(!strcmp(out, "system\n") || !strcmp(out, "dmabridge-system\n"),
		  out, "prints one of the two names");
}
