/*
 * log.h - one formatted line, one write(2).
 *
 * Threads and forked children share stdout/stderr; a single write per
 * line keeps their lines whole.  Never calls exit.
 *
 * A server calls log_nonblock() first: from then on a line that stdout
 * or stderr cannot take at once (a pipe nobody reads, a terminal paused
 * with Ctrl-S) is dropped and counted, so that logging never stops a
 * session, an event loop or a shutdown.
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
/* Make stdout and stderr non-blocking for this process and its
 * children, never for others that share them; call it before any
 * thread or child is made.  0, or -1 if nothing changed. */
int	log_nonblock(void);
/* Lines dropped on fd 1 or 2, by this process and its children. */
unsigned long	log_dropped(int fd);
extern const char *log_prog;

#endif
