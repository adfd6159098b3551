/*
 * demo.h - the little the C demos share: the clock, the two languages,
 * the pause for class, and JSON output.
 *
 * Each demo is one program built from one file (the Makefile's pattern
 * rule), so what they share lives here as static inline functions.
 */
#ifndef SOCKLAB_DEMO_H
#define SOCKLAB_DEMO_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/* 0 English, 1 Italian (--lang it). */
static int demo_it;

/*
 * Pick the narration in the chosen language.  format_arg lets the
 * compiler check the English format against the arguments, as gettext
 * does; the Italian one must take the same conversions.
 */
static inline const char *tr(const char *en, const char *it)
    __attribute__((format_arg(1)));
static inline const char *
tr(const char *en, const char *it)
{
	return demo_it ? it : en;
}

/* 0 on "en" or "it", -1 otherwise. */
static inline int
demo_lang(const char *s)
{
	if (strcmp(s, "en") == 0)
		demo_it = 0;
	else if (strcmp(s, "it") == 0)
		demo_it = 1;
	else
		return -1;
	return 0;
}

static inline double
demo_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void
demo_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* --step: wait for Enter, so that a teacher can talk between parts. */
static int demo_step;

static inline void
demo_pause(void)
{
	char line[64];

	if (!demo_step)
		return;
	fputs(tr("  [Enter to go on] ", "  [Invio per continuare] "), stdout);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		demo_step = 0;	/* no terminal: run on unattended */
}

/* Append printf output to a growing JSON document. */
static inline void jput(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static inline void
jput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = buf_reserve(b, (size_t)n + 1)) == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A JSON string literal, quotes included. */
static inline void
jstr(struct buf *b, const char *s)
{
	jput(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			jput(b, "\\%c", c);
		else if (c < 0x20)
			jput(b, "\\u%04x", c);
		else
			jput(b, "%c", c);
	}
	jput(b, "\"");
}

/* Write the document to path ("-" is stdout).  0 or -1. */
static inline int
demo_write_json(const char *path, const struct buf *b)
{
	FILE *f;
	int bad;

	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (f == NULL)
		return -1;
	bad = fwrite(buf_head(b), 1, buf_pending(b), f) != buf_pending(b);
	bad |= fputc('\n', f) == EOF;
	if (f == stdout)
		bad |= fflush(f) == EOF;
	else
		bad |= fclose(f) == EOF;
	return bad ? -1 : 0;
}

#endif
