/*
 * log.h - one formatted line, one write(2).
 *
 * Threads and forked children share stdout/stderr; a single write per
 * line keeps their lines whole.  Never calls exit.
 */
#ifndef SOCKLAB_LOG_H
#define SOCKLAB_LOG_H

#include <stdarg.h>

void	log_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PROG: message" on stderr, then exit(status). */
void	die(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	log_setprog(const char *);
extern const char *log_prog;

#endif
