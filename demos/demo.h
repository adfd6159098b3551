/*
 * demo.h - the little the C demos share: the clock, the two languages,
 * the pause for class, the options every demo takes, and JSON output.
 * The code is in demolib.c, linked into every C demo.
 */
#ifndef SOCKLAB_DEMO_H
#define SOCKLAB_DEMO_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/* --step: wait for Enter between parts, so that a teacher can talk. */
extern int demo_step;

/*
 * Pick the narration in the chosen language (--lang).  format_arg lets
 * the compiler check the English format against the arguments, as
 * gettext does; the Italian one must take the same conversions.
 */
const char	*tr(const char *en, const char *it)
		    __attribute__((format_arg(1)));

/* Seconds on a clock that stops during demo_pause(). */
double	demo_now(void);
void	demo_sleep_ms(long);
/* With --step: the prompt, then wait for Enter (EOF: run on unattended). */
void	demo_pause(void);
/*
 * A question of the lab's slides, asked before the part that answers it
 * ("3a", the question in the chosen language), then demo_pause().
 */
void	demo_ask(const char *label, const char *question);

/* The prompt of demo_pause(); the tests strip it (demolib.py's too). */
#define DEMO_PROMPT_EN	"  [Enter to go on] "
#define DEMO_PROMPT_IT	"  [Invio per continuare] "

/*
 * The options every demo takes: DEMO_LONGOPTS goes at the end of its
 * getopt_long() table, and demo_option() handles the characters its own
 * switch does not (--lang, --step, --help, and anything unknown, which
 * prints usage and exits 2).
 */
#define DEMO_LONGOPTS \
	{ "lang", required_argument, NULL, 'l' }, \
	{ "step", no_argument, NULL, 's' }, \
	{ "help", no_argument, NULL, 'h' }
void	demo_option(int ch, const char *arg, void (*usage)(FILE *));

/*
 * Every line a demo prints fits DEMO_COLS columns (tests/demos.t checks).
 * demo_width: the columns of the first n bytes of UTF-8 text (one a code
 * point: the demos print no wide or combining characters).  demo_fill:
 * lead, then text's words filled up to DEMO_COLS, later lines indented
 * by indent spaces; text that fits on the line is printed as it is.
 */
#define DEMO_COLS	80
size_t	demo_width(const char *, size_t n);
/*
 * s padded with spaces to width columns, for tables whose Italian words
 * have accents: printf's %-10s counts bytes.  The result lives until
 * eight more calls.
 */
const char *demo_pad(const char *s, int width);
void	demo_fill(const char *lead, int indent, const char *text);

/* The number in s, from min to max, or exit 2 naming the option. */
long	demo_number(const char *opt, const char *s, long min, long max);

/* The number in a file such as a sysctl's, or -1. */
long	demo_read_long(const char *path);

/* Append printf output to a growing JSON document. */
void	jput(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included. */
void	jstr(struct buf *, const char *);
/* Write the document to path ("-" is stdout).  0 or -1. */
int	demo_write_json(const char *path, const struct buf *);

#endif
