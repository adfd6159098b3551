/*
 * msg.h - the programs' own words in English or Italian.
 *
 * English is the source: every format a program logs is looked up in
 * one table (lib/msg.c) and replaced by its Italian form when Italian is
 * chosen, the way gettext does, so that callers do not change.  lib/log.c
 * does it for every line it writes.  The language: msg_setlang() (--lang),
 * else the first of DEMO_LANG, SOCKLAB_LANG, LC_ALL, LC_MESSAGES, LANG
 * that is set ("it..." is Italian).
 *
 * Not translated, ever: the first line of a server, "listening on
 * ADDR:PORT (...)", which scripts and tests wait for.
 */
#ifndef SOCKLAB_MSG_H
#define SOCKLAB_MSG_H

#include <stddef.h>

/* 0 on "en" or "it", -1 otherwise (nothing changed). */
int	msg_setlang(const char *);
/* --lang ARG of any program: msg_setlang(), or log why and -1. */
int	msg_option(const char *arg);
/* 1 when Italian is chosen. */
int	msg_italian(void);
/* The Italian form of an English format (same conversions), or en. */
const char *msg(const char *en)	__attribute__((format_arg(1)));
/* strerror(), in the chosen language. */
const char *msg_strerror(int errnum);
/*
 * The phrases a formatted line got from its arguments (the reason a
 * session ended, strerror() texts), replaced in place in line, which
 * holds len bytes and has room for cap.  Returns the new length.
 */
size_t	msg_phrases(char *line, size_t len, size_t cap);

/*
 * Columns of the first n bytes of UTF-8 text: one a code point (the
 * programs print no wide or combining characters).  msg_pad: s padded
 * with spaces to width columns, into out; printf's "%-10s" counts bytes,
 * and "è" is two.
 */
size_t	msg_width(const char *s, size_t n);
char	*msg_pad(char *out, size_t n, const char *s, int width);

/* Each entry of the tables, for tests/unit/msg.c. */
struct msg_pair {
	const char	*en, *it;
};
extern const struct msg_pair msg_formats[], msg_phrase_tab[];
extern const size_t msg_nformats, msg_nphrases;

#endif
