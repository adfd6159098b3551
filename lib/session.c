/*
 * session.c - the session core: protocol, output bound, idle clock,
 * linger decision and log lines, fed events by a driver (session.h).
 */
#define _GNU_SOURCE		/* gettid */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "proto.h"
#include "session.h"

void
session_init(struct session *s, const struct server_opts *o,
    const char *addr, long long now)
{
	memset(s, 0, sizeof(*s));
	s->o = o;
	proto_init(&s->p, o->max_line);
	buf_init(&s->out);
	buf_init(&s->more);
	s->active = now;
	(void)snprintf(s->addr, sizeof(s->addr), "%s", addr);
	log_session_open(o, s->addr);
}

static void
finish(struct session *s, const char *why, int linger)
{
	if (s->done)
		return;
	s->done = 1;
	s->why = why;
	s->linger = linger;
}

/*
 * A close() with unread input makes the kernel answer with a reset, and
 * a reset that reaches the client before it has read our last replies
 * (or the ERR line) destroys them in its receive queue.  So when the
 * client may still be sending, as nginx's lingering_close "on" guesses
 * it: the rest of an over-long line, bytes already come after ".".  A
 * client that sent "." and stopped, as the protocol wants, is closed at
 * once: nothing of its can arrive to cause a reset.  Whether bytes wait
 * in the socket behind "." only the driver can tell (SESSION_PROBE).
 */
static void
ended(struct session *s, enum proto_status st, size_t unread)
{
	switch (st) {
	case PROTO_END:
		finish(s, "client sent '.'", unread > 0 ? 1 : -1);
		break;
	case PROTO_TOOLONG:
		finish(s, "line too long", 1);
		break;
	case PROTO_NOMEM:
		finish(s, "out of memory", 0);
		break;
	case PROTO_MORE:
		break;
	}
}

void
session_input(struct session *s, const char *in, size_t n, long long now)
{
	/* Replies queue behind those on loan, or behind their rest. */
	struct buf *dst = s->loaned || buf_pending(&s->more) > 0 ?
	    &s->more : &s->out;
	unsigned long lines = s->p.lines;
	enum proto_status st;
	size_t used;

	if (s->done)
		return;
	st = proto_feed(&s->p, in, n, dst, &used);
	if (s->p.lines != lines)
		s->active = now;	/* a whole line: the clock restarts */
	ended(s, st, n - used);
}

void
session_eof(struct session *s)
{
	/* Half-closed, maybe: the replies still go out. */
	finish(s, proto_partial(&s->p) > 0 ? "client closed mid-line" :
	    "client closed", 0);
}

const char *
session_output(struct session *s, size_t *n)
{
	struct buf t;

	if (buf_pending(&s->out) == 0 && buf_pending(&s->more) > 0) {
		t = s->out;
		s->out = s->more;
		s->more = t;
	}
	*n = buf_pending(&s->out);
	if (*n == 0)
		return NULL;
	s->loaned = 1;
	return buf_head(&s->out);
}

void
session_sent(struct session *s, size_t n, long long now)
{
	s->loaned = 0;
	if (n == 0)
		return;
	buf_consume(&s->out, n);
	/* A client reading a backlog of replies completes no line, as it
	 * is not read meanwhile: its progress counts as activity. */
	s->active = now;
	if (buf_pending(&s->out) > 0)
		return;
	buf_clear(&s->out);
	/* Replies that came while these were on loan (a completion driver
	 * reads while it sends) go out next, and this buffer takes the
	 * ones after: freeing it to grow another at every send would only
	 * churn the allocator.  Both are given back once all are out. */
	if (buf_pending(&s->more) == 0) {
		buf_shrink(&s->out, SESSION_OUT_KEEP);
		buf_shrink(&s->more, SESSION_OUT_KEEP);
	}
}

void
session_probe(struct session *s, int peer_readable)
{
	if (s->linger == -1)
		s->linger = peer_readable ? 1 : 0;
}

size_t
session_pending(const struct session *s)
{
	return buf_pending(&s->out) + buf_pending(&s->more);
}

size_t
session_held(const struct session *s)
{
	return session_pending(s) + proto_partial(&s->p);
}

/*
 * A client that does not read its replies is not read from while more
 * than --max-output bytes of them wait, and is read again once they
 * fall below half of it: a session holds at most max_output plus the
 * replies to one read.
 */
int
session_next(struct session *s)
{
	size_t pending = session_pending(s);
	int want = 0;

	if (s->paused && pending <= s->o->max_output / 2)
		s->paused = 0;
	else if (!s->paused && pending > s->o->max_output)
		s->paused = 1;
	if (pending > 0)
		want |= SESSION_WRITE;
	if (!s->done)
		return want | (s->paused ? 0 : SESSION_READ);
	if (want)
		return want;
	return s->linger == -1 ? SESSION_PROBE :
	    s->linger ? SESSION_LINGER : SESSION_CLOSE;
}

long long
session_deadline(const struct session *s)
{
	if (s->o->idle_timeout <= 0)
		return 0;
	return s->active + 1000LL * s->o->idle_timeout;
}

int
session_tick(struct session *s, long long now)
{
	long long due = session_deadline(s);

	if (due == 0 || now < due)
		return 0;
	/* We owe a slow client nothing: no linger, even if it was done. */
	s->done = 1;
	s->why = session_pending(s) > 0 ? "client not reading" :
	    "idle timeout";
	s->linger = 0;
	return 1;
}

void
session_end(struct session *s, const char *why)
{
	log_session_close(s->o, s->addr, s->p.lines, why ? why :
	    s->why ? s->why : "shutdown");
	proto_free(&s->p);
	buf_free(&s->out);
	buf_free(&s->more);
}

/*
 * The log names who serves the session: a process per session (fork)
 * shows a new pid each time, a thread per session a new tid, the
 * iterative server always the same pid.
 */
void
log_session_open(const struct server_opts *o, const char *addr)
{
	pid_t pid = getpid(), tid = gettid();

	if (o->quiet)
		return;
	if (tid == pid)
		log_out("connected with %s (pid %d)", addr, (int)pid);
	else
		log_out("connected with %s (pid %d, tid %d)", addr, (int)pid,
		    (int)tid);
}

void
log_session_close(const struct server_opts *o, const char *addr,
    unsigned long lines, const char *why)
{
	if (!o->quiet)
		log_out("session with %s ended: %lu lines, %s", addr, lines,
		    why);
}
