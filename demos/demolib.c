/*
 * demolib.c - what the C demos share (demo.h), as demolib.py is for the
 * Python ones.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "msg.h"
#include "opt.h"
#include "demo.h"

/* 0 English, 1 Italian: --lang, else DEMO_LANG or the locale. */
static int demo_it = -1;

int demo_step;

/* Seconds spent waiting for Enter: no timer of a demo counts them. */
static double demo_paused;

const char *
tr(const char *en, const char *it)
{
	if (demo_it == -1)
		demo_it = msg_italian();
	return demo_it ? it : en;
}

/* 0 on "en" or "it", -1 otherwise. */
/*
 * --lang: the narration, this program's own messages (lib/msg.h) and,
 * through DEMO_LANG, the programs it starts.  0, or -1 if s is neither.
 */
static int
demo_lang(const char *s)
{
	if (msg_setlang(s) == -1 || setenv("DEMO_LANG", s, 1) == -1)
		return -1;
	demo_it = msg_italian();
	return 0;
}

static double
demo_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The demo's clock stops while it waits for Enter: a pause of any length
 * changes no deadline, no "--wait" bound and no time on a timeline.
 */
double
demo_now(void)
{
	return demo_clock() - demo_paused;
}

void
demo_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void
demo_pause(void)
{
	char line[64];
	double t;

	if (!demo_step)
		return;
	fputs(tr(DEMO_PROMPT_EN, DEMO_PROMPT_IT), stdout);
	fflush(stdout);
	t = demo_clock();
	if (fgets(line, sizeof(line), stdin) == NULL)
		demo_step = 0;	/* no terminal: run on unattended */
	demo_paused += demo_clock() - t;
	if (!isatty(STDIN_FILENO))
		putchar('\n');	/* the newline a terminal would echo */
}

void
demo_ask(const char *label, const char *question)
{
	char lead[64];

	snprintf(lead, sizeof(lead), "\n%s %s: ", tr("Question", "Domanda"),
	    label);
	demo_fill(lead, 0, question);
	puts(tr("What do you expect?  (then we run it)",
	    "Cosa vi aspettate?  (poi lo eseguiamo)"));
	demo_pause();
}

size_t
demo_width(const char *s, size_t n)
{
	return msg_width(s, n);
}

const char *
demo_pad(const char *s, int width)
{
	static char ring[8][160];
	static int next;

	return msg_pad(ring[next++ % 8], sizeof(ring[0]), s, width);
}

void
demo_fill(const char *lead, int indent, const char *text)
{
	const char *p = text, *word;
	size_t col, len, w;
	int first = 1;

	fputs(lead, stdout);
	if ((word = strrchr(lead, '\n')) != NULL)
		lead = word + 1;
	col = demo_width(lead, (size_t)-1);
	if (strchr(text, '\n') == NULL &&
	    col + demo_width(text, (size_t)-1) <= DEMO_COLS) {
		puts(text);	/* fits: keep its own spacing */
		return;
	}
	for (;;) {
		while (*p == ' ' || *p == '\n' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		word = p;
		while (*p != '\0' && *p != ' ' && *p != '\n' && *p != '\t')
			p++;
		len = (size_t)(p - word);
		w = demo_width(word, len);
		if (!first && col + 1 + w > DEMO_COLS) {
			printf("\n%*s", indent, "");
			col = (size_t)indent;
		} else if (!first) {
			putchar(' ');
			col++;
		}
		fwrite(word, 1, len, stdout);
		col += w;
		first = 0;
	}
	putchar('\n');
}

void
demo_option(int ch, const char *arg, void (*usage)(FILE *))
{
	switch (ch) {
	case 'l':
		if (demo_lang(arg) == -1)
			die(2, "--lang: 'en' or 'it'");
		break;
	case 's':
		demo_step = 1;
		break;
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		exit(2);
	}
}

long
demo_number(const char *opt, const char *s, long min, long max)
{
	long v;

	if (opt_long(opt, s, min, max, &v) == -1)
		exit(2);
	return v;
}

long
demo_read_long(const char *path)
{
	FILE *f;
	long v;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

void
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

void
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

int
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
