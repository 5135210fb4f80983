/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal TAP producer: each check is one test point, the plan comes
 * last, and the run ends with "N passed, N failed".
 */
#ifndef DMABRIDGE_TAP_H
#define DMABRIDGE_TAP_H

#include <stdio.h>

extern int tap_count, tap_failed, tap_skipped;

int tap_check(int pass, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void tap_skip(const char *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ok(condition, "description %d", args...): returns the condition. */
#define ok(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* is(got, want, ...): integer equality with both values on failure. */
#define is(got, want, ...)						\
	do {								\
		long long got_ = (long long)(got);			\
		long long want_ = (long long)(want);			\
		if (!ok(got_ == want_, __VA_ARGS__))			\
			tap_diag("  got %lld, want %lld", got_, want_);	\
	} while (0)
#define is_str(got, want, ...)						\
	do {								\
		const char *got_ = (got), *want_ = (want);		\
		if (!ok(got_ && !strcmp(got_, want_), __VA_ARGS__))	\
			tap_diag("  got \"%s\", want \"%s\"",		\
				 got_ ? got_ : "(null)", want_);	\
	} while (0)

#endif /* DMABRIDGE_TAP_H */
