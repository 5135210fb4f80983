/* SPDX-License-Identifier: GPL-2.0 */
#ifndef DMABRIDGE_HOST_TESTS_H
#define DMABRIDGE_HOST_TESTS_H

void test_errors(void);
void test_parse(void);
void test_fdinfo(void);
void test_lib(void);
void test_cli(const char *binary);
void test_heap(void);

#endif
