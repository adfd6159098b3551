/*
 * tap.h - just enough TAP for the unit tests in tests/unit/.
 *
 *	plan(3);			or none, and done_testing() prints it
 *	ok(x == 1, "x is %d", 1);
 *	is(got, want, "count");		integers, shows both on failure
 *	is_mem(got, glen, want, wlen, "reply");	bytes, shows both escaped
 *	diag("seed %u", seed);
 *	return done_testing();		0 only if all passed as planned
 *
 * Everything is static inline so that each test program is one file.
 */
#ifndef SOCKLAB_TAP_H
#define SOCKLAB_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAP_PRINTF(f, a)	__attribute__((format(printf, f, a)))

struct tap {
	int	planned;	/* -1: no plan yet */
	int	run;
	int	failed;
};

static inline struct tap *
tap_state(void)
{
	static struct tap t = { -1, 0, 0 };

	return &t;
}

static inline void
plan(int n)
{
	tap_state()->planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void TAP_PRINTF(1, 0)
tap_vdiag(const char *fmt, va_list ap)
{
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
}

/* A comment line; goes to stdout so that it stays in order with results. */
static inline void TAP_PRINTF(1, 2)
diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static inline int TAP_PRINTF(2, 0)
tap_vok(int cond, const char *fmt, va_list ap)
{
	struct tap *t = tap_state();

	t->run++;
	if (!cond)
		t->failed++;
	printf("%sok %d - ", cond ? "" : "not ", t->run);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	return cond;
}

static inline int TAP_PRINTF(2, 3)
ok(int cond, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

static inline int TAP_PRINTF(3, 4)
is(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (!r) {
		diag("     got: %lld", got);
		diag("  wanted: %lld", want);
	}
	return r;
}

/* Print n bytes as a C string, at most 120 of them. */
static inline void
tap_escaped(const char *label, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	printf("# %8s: (%zu) \"", label, n);
	for (i = 0; i < n && i < 120; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			putchar(s[i]);
		else
			printf("\\x%02x", s[i]);
	}
	printf("\"%s\n", i < n ? "..." : "");
}

static inline int TAP_PRINTF(5, 6)
is_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0),
	    fmt, ap);
	va_end(ap);
	if (!r) {
		tap_escaped("got", got, glen);
		tap_escaped("wanted", want, wlen);
		fflush(stdout);
	}
	return r;
}

/* Prints the plan if there was none; the exit status for main(). */
static inline int
done_testing(void)
{
	struct tap *t = tap_state();

	if (t->planned < 0)
		printf("1..%d\n", t->run);
	else if (t->planned != t->run)
		diag("planned %d tests but ran %d", t->planned, t->run);
	if (t->failed)
		diag("failed %d of %d tests", t->failed, t->run);
	fflush(stdout);
	return t->failed || (t->planned >= 0 && t->planned != t->run);
}

#endif
