/*
 * log.c - one formatted line, one write(2).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

const char *log_prog = "socklab";

void
log_setprog(const char *argv0)
{
	const char *p;

	if (argv0 == NULL)
		return;
	p = strrchr(argv0, '/');
	log_prog = p ? p + 1 : argv0;
}

static void
vlog_fd(int fd, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = 0, off = 0;
	ssize_t w;
	int r, saved = errno;

	if (prefix != NULL) {
		r = snprintf(line, sizeof(line), "%s: ", prefix);
		n = r > 0 ? (size_t)r : 0;
	}
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (off < n) {
		w = write(fd, line + off, n - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* nowhere left to report it */
		off += (size_t)w;
	}
	errno = saved;
}

void
log_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_fd(STDOUT_FILENO, NULL, fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_fd(STDERR_FILENO, log_prog, fmt, ap);
	va_end(ap);
}

void
die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_fd(STDERR_FILENO, log_prog, fmt, ap);
	va_end(ap);
	exit(status);
}
