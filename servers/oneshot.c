/*
 * oneshot.c - the slides' first TCP server: accept, read one line,
 * reply its upper case, close; one client at a time.
 *
 * A session is one line, so there is no '.' to wait for and no reading
 * past the first '\n'.  A client that sent more than that line would
 * get a reset from our close(), which could destroy the reply in its
 * receive queue: then we linger, as session_run() does.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"

int	serve_oneshot(int, const struct server_opts *);

static long long
deadline_of(const struct server_opts *o)
{
	return o->idle_timeout ? clock_ms() + 1000LL * o->idle_timeout : 0;
}

/* Read up to the first '\n'; the reply, if any, is in out. */
static const char *
read_line(int fd, struct proto *p, struct buf *out, size_t *unread,
    const struct server_opts *o)
{
	enum proto_status st = PROTO_MORE;
	long long deadline = deadline_of(o);
	char in[16384];
	const char *nl;
	size_t n, used;
	ssize_t r;
	int w;

	while (st == PROTO_MORE && p->lines == 0) {
		if ((w = session_wait_input(fd, deadline)) <= 0)
			return w == 0 ? "idle timeout" : "shutdown";
		if ((r = net_read(fd, in, sizeof(in))) <= 0)
			return r == 0 ? "client closed" : strerror(errno);
		nl = memchr(in, '\n', (size_t)r);
		n = nl != NULL ? (size_t)(nl - in) + 1 : (size_t)r;
		*unread = (size_t)r - n;
		st = proto_feed(p, in, n, out, &used);
	}
	return st == PROTO_END ? "client sent '.'" :
	    st == PROTO_TOOLONG ? "line too long" :
	    st == PROTO_NOMEM ? "out of memory" : "one line served";
}

static void
serve_one(int fd, const char *addr, const struct server_opts *o)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct proto p;
	struct buf out;
	const char *why;
	char junk[4096];
	size_t unread = 0;

	log_session_open(o, addr);
	proto_init(&p, o->max_line);
	buf_init(&out);
	if (net_nodelay(fd, 1) == -1 && errno != EOPNOTSUPP)
		log_err("TCP_NODELAY: %s", strerror(errno));
	why = read_line(fd, &p, &out, &unread, o);
	if (buf_pending(&out) > 0 && session_write_by(fd, buf_head(&out),
	    buf_pending(&out), session_write_deadline(o)) == -1)
		why = errno == EAGAIN ? "client not reading" :
		    errno == EINTR ? "shutdown" : strerror(errno);
	else if (buf_pending(&out) > 0 && (unread > 0 ||
	    poll(&pfd, 1, 0) == 1))
		session_linger(fd, junk, sizeof(junk));
	log_session_close(o, addr, p.lines, why);
	proto_free(&p);
	buf_free(&out);
}

int
serve_oneshot(int lfd, const struct server_opts *o)
{
	return server_serial(lfd, o, serve_one);
}
