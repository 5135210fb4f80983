// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of libdmabridge and the dmabridge CLI: everything that
 * needs no dma-buf driver.  Prints TAP and a final "N passed, N failed".
 * Usage: host-tests [PATH-TO-dmabridge-BINARY]
 */
#include <stdio.h>

#include "tap.h"
#include "tests.h"

int main(int argc, char **argv)
{
	test_errors();
	test_parse();
	test_fdinfo();
	test_lib();
	test_heap();
	if (argc > 1)
		test_cli(argv[1]);
	else
		tap_skip("no binary given", "CLI exit codes");

	printf("1..%d\n", tap_count);
	if (tap_skipped)
		printf("%d passed, %d failed, %d skipped\n",
		       tap_count - tap_failed - tap_skipped, tap_failed,
		       tap_skipped);
	else
		printf("%d passed, %d failed\n", tap_count - tap_failed,
		       tap_failed);
	return tap_failed ? 1 : 0;
}
