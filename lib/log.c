/*
 * log.c - one formatted line, one write(2); for a server, never blocking.
 */
#define _DEFAULT_SOURCE		/* MAP_ANONYMOUS */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"

const char *log_prog = "socklab";

/* How a line reaches fd 1 or 2 once log_nonblock() has looked at it. */
enum { BLOCKING, NONBLOCKING, SOCKET, POLLED };
static int mode[3];

/*
 * Lines dropped on stdout and stderr.  In a shared mapping once
 * log_nonblock() made it, so that forked children count into the
 * parent's figures.
 */
static _Atomic unsigned long own_dropped[3];
static _Atomic unsigned long *dropped = own_dropped;

void
log_setprog(const char *argv0)
{
	const char *p;

	if (argv0 == NULL)
		return;
	p = strrchr(argv0, '/');
	log_prog = p ? p + 1 : argv0;
}

/*
 * Give fd a non-blocking open file description of its own.  Setting
 * O_NONBLOCK on the inherited one would change it for every process
 * that shares it (the shell of a terminal, a pipeline's other members):
 * reopening /proc/self/fd/N makes a new description of the same pipe,
 * FIFO or terminal.  A socket cannot be reopened: it gets send() with
 * MSG_DONTWAIT.  A regular file or a disk never waits for a reader and
 * stays as it is.  Without /proc, a poll() before each write.
 */
static void
make_nonblock(int fd)
{
	struct stat st;
	char path[32];
	int nfd;

	if (fstat(fd, &st) == -1 || S_ISREG(st.st_mode) ||
	    S_ISBLK(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		mode[fd] = SOCKET;
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* O_NONBLOCK also keeps open() of a FIFO from waiting for a
	 * reader; O_NOCTTY keeps a terminal from becoming ours. */
	if ((nfd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK)) == -1) {
		mode[fd] = POLLED;
		return;
	}
	if (dup2(nfd, fd) == -1)
		mode[fd] = POLLED;
	else
		mode[fd] = NONBLOCKING;
	close(nfd);
}

int
log_nonblock(void)
{
	void *p;

	p = mmap(NULL, sizeof(own_dropped), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	dropped = p;
	make_nonblock(STDOUT_FILENO);
	make_nonblock(STDERR_FILENO);
	return 0;
}

unsigned long
log_dropped(int fd)
{
	return fd == STDOUT_FILENO || fd == STDERR_FILENO ? dropped[fd] : 0;
}

static int
is_nonblock(int fd)
{
	return (fd == STDOUT_FILENO || fd == STDERR_FILENO) &&
	    mode[fd] != BLOCKING;
}

/* One write; after log_nonblock() one that cannot wait.  The number of
 * bytes written, or -1. */
static ssize_t
put(int fd, const char *line, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int m = is_nonblock(fd) ? mode[fd] : BLOCKING;

	if (m == SOCKET)
		return send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (m == POLLED && poll(&pfd, 1, 0) != 1) {
		errno = EAGAIN;
		return -1;
	}
	return write(fd, line, n);
}

static void
vlog_fd(int fd, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = 0, off = 0;
	ssize_t w;
	int r, tries = 0, saved = errno;

	if (prefix != NULL) {
		r = snprintf(line, sizeof(line), "%s: ", prefix);
		n = r > 0 ? (size_t)r : 0;
	}
	/* In the chosen language (lib/msg.h): the format, then the
	 * phrases its arguments brought. */
	r = vsnprintf(line + n, sizeof(line) - n, msg(fmt), ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	n = msg_phrases(line, n, sizeof(line) - 1);
	line[n++] = '\n';
	for (;;) {
		w = put(fd, line + off, n - off);
		if (w > 0 && (off += (size_t)w) == n)
			break;
		if (w > 0 && !is_nonblock(fd))
			continue;
		/* A few tries at most: a signal must not keep us here. */
		if (w == -1 && errno == EINTR && tries++ < 4)
			continue;
		/* Full (a pipe takes a line whole or not at all, a terminal
		 * may take part of it): drop the rest and count the line.
		 * Any other error: nowhere left to report it. */
		if ((w >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) &&
		    is_nonblock(fd))
			atomic_fetch_add(&dropped[fd], 1);
		break;
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
