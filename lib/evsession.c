/*
 * evsession.c - sessions on an event loop: non-blocking accept, input
 * through the protocol, buffered output with backpressure, the idle
 * timeout, and the drain at shutdown.
 *
 * A session reads at most READS_PER_TURN chunks each time the loop
 * comes round, so that a client pipelining megabytes gets its share and
 * no more; the loop is level-triggered and comes back for the rest.
 * Replies to each chunk leave in one send().  A client that does not
 * read them is not read from while more than max_output bytes wait, and
 * is read again once they fall below half of it, so a session holds at
 * most max_output + CASE_MAX_EXPANSION * READ_CHUNK bytes of replies
 * and max_line bytes of partial line.  A client that takes none of its
 * replies for --write-timeout seconds is closed: sessions with replies
 * waiting are kept in a list in the order their client last took some.
 * What all sessions hold, replies and partial lines, is counted across
 * the loops of a server: past --max-memory a loop closes its sessions
 * that hold most.
 *
 * A session that ends while the client may still be sending (see
 * session_lingers) lingers once its replies are out, as session_run
 * does: it sends its FIN, drops what the client still sends, and closes
 * at the client's EOF or after SESSION_LINGER_MS, so that no reset
 * overtakes the last replies.  Lingering sessions wait in a list of
 * their own, in the order they began, which one timer serves as the
 * idle list's does.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "evsession.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"

#define READ_CHUNK	16384
#define READS_PER_TURN	4	/* 64 KiB per client per turn */
#define ACCEPTS_PER_TURN 64	/* then let the sessions have a turn */
#define ACCEPT_PAUSE_MS	100	/* out of descriptors: stop accepting */

/* A session's place in one list; a list knows which of a session's
 * links is its own (by offset), so that a session can be in two. */
struct link {
	struct session	*prev, *next;
};

struct session {
	struct evs	*es;
	int		 fd;
	int		 paused;	/* not read: too many replies wait */
	int		 closing;	/* send what is left, then close */
	int		 linger;	/* closing: then linger first */
	int		 lingering;	/* FIN sent, input dropped */
	const char	*why;		/* for the log, once closing */
	long long	 active;	/* ev_now() of the last whole line,
					   or when lingering began */
	struct link	 age;		/* in es->serving or es->lingering */
	struct link	 out_wait;	/* in es->waiting, if waiting */
	int		 waiting;	/* replies wait for the client */
	int		 took;		/* it took some since update() */
	long long	 took_at;	/* ev_now() when it last took some */
	long long	 held;		/* bytes counted in shared->memory */
	struct proto	 p;
	struct buf	 out;
	char		 addr[NET_ADDR_LEN];
};

struct list {
	struct session	*head, *tail;
	size_t		 link;		/* offsetof(struct session, its link) */
};

struct evs {
	struct ev_loop	*loop;
	const struct server_opts *o;
	int		 lfd;		/* -1 once closed */
	struct evs_shared *shared;	/* sessions and memory, of all loops */
	struct evs_shared own;
	int		 nsessions;	/* of this loop */
	int		 stopping;
	struct list	 serving;	/* least recently active first */
	struct list	 lingering;	/* the first to give up first */
	struct list	 waiting;	/* replies not taken longest first */
	struct ev_timer	 idle;		/* due when serving's head goes idle */
	struct ev_timer	 linger;	/* due when lingering's head gives up */
	struct ev_timer	 stalled;	/* due when waiting's head is too slow */
	struct ev_timer	 pause;		/* accepting again after EMFILE */
	char		 in[READ_CHUNK];	/* shared by the sessions */
};

static void	on_io(struct ev_loop *, int, int, void *);

static long long
idle_ms(const struct evs *es)
{
	return 1000LL * es->o->idle_timeout;
}

static long long
write_ms(const struct evs *es)
{
	return 1000LL * es->o->write_timeout;
}

static struct link *
link_of(const struct list *l, struct session *s)
{
	return (struct link *)(void *)((char *)s + l->link);
}

static void
list_unlink(struct list *l, struct session *s)
{
	struct link *k = link_of(l, s);

	if (k->prev)
		link_of(l, k->prev)->next = k->next;
	else
		l->head = k->next;
	if (k->next)
		link_of(l, k->next)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NULL;
}

static void
list_append(struct list *l, struct session *s)
{
	struct link *k = link_of(l, s);

	k->prev = l->tail;
	k->next = NULL;
	if (l->tail)
		link_of(l, l->tail)->next = s;
	else
		l->head = s;
	l->tail = s;
}

/* A whole line came: the idle clock restarts, and the session goes to
 * the tail of the list, so the head is always the first to time out. */
static void
touch(struct session *s)
{
	struct evs *es = s->es;

	s->active = ev_now(es->loop);
	if (es->serving.tail != s) {
		list_unlink(&es->serving, s);
		list_append(&es->serving, s);
	}
}

static int
admit(struct evs *es)
{
	int max = es->o->max_clients, n;

	/* Compare and swap, so the limit holds exactly across workers. */
	n = atomic_load(&es->shared->sessions);
	do {
		if (max > 0 && n >= max)
			return 0;
	} while (!atomic_compare_exchange_weak(&es->shared->sessions, &n,
	    n + 1));
	return 1;
}

static void
session_close(struct session *s, const char *why)
{
	struct evs *es = s->es;

	if (ev_remove(es->loop, s->fd) == -1)
		log_err("event loop: cannot forget fd %d: %s", s->fd,
		    strerror(errno));
	if (close(s->fd) == -1)
		log_err("close: %s", strerror(errno));
	list_unlink(s->lingering ? &es->lingering : &es->serving, s);
	if (s->waiting)
		list_unlink(&es->waiting, s);
	atomic_fetch_sub(&es->shared->memory, s->held);
	atomic_fetch_sub(&es->shared->sessions, 1);
	es->nsessions--;
	log_session_close(es->o, s->addr, s->p.lines, why);
	proto_free(&s->p);
	buf_free(&s->out);
	free(s);
	if (es->serving.head == NULL)
		ev_timer_stop(es->loop, &es->idle);
	if (es->lingering.head == NULL)
		ev_timer_stop(es->loop, &es->linger);
	if (es->waiting.head == NULL)
		ev_timer_stop(es->loop, &es->stalled);
	if (es->stopping && es->nsessions == 0)
		ev_stop(es->loop);
}

/* Send what the socket takes now; 0, or -1 with errno if it broke. */
static int
flush(struct session *s)
{
	ssize_t w;

	while (buf_pending(&s->out) > 0) {
		w = send(s->fd, buf_head(&s->out), buf_pending(&s->out),
		    MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		buf_consume(&s->out, (size_t)w);
		s->took = 1;
		/* A short send means the socket buffer is full: another
		 * try now would only return EAGAIN. */
		if (buf_pending(&s->out) > 0)
			return 0;
	}
	buf_shrink(&s->out, SESSION_OUT_KEEP);
	return 0;
}

static void
finish(struct session *s, const char *why)
{
	s->closing = 1;
	s->why = why;
}

static const char *
status_why(enum proto_status st)
{
	return st == PROTO_END ? "client sent '.'" :
	    st == PROTO_TOOLONG ? "line too long" : "out of memory";
}

/*
 * Read a few chunks, answer them, send the answers.  Returns -1 if the
 * session was closed, else 0 (it may be closing: see update()).
 */
static int
serve_input(struct session *s)
{
	struct evs *es = s->es;
	enum proto_status st;
	unsigned long lines;
	size_t used;
	ssize_t r;
	int i;

	for (i = 0; i < READS_PER_TURN; i++) {
		if (buf_pending(&s->out) > es->o->max_output)
			break;		/* update() stops reading */
		if ((r = net_read(s->fd, es->in, sizeof(es->in))) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			session_close(s, strerror(errno));
			return -1;
		}
		if (r == 0) {
			/* Half-closed, maybe: the replies still go out. */
			finish(s, proto_partial(&s->p) > 0 ?
			    "client closed mid-line" : "client closed");
			break;
		}
		lines = s->p.lines;
		st = proto_feed(&s->p, es->in, (size_t)r, &s->out, &used);
		if (s->p.lines != lines)
			touch(s);
		if (st == PROTO_NOMEM) {
			session_close(s, status_why(st));
			return -1;
		}
		if (flush(s) == -1) {
			session_close(s, strerror(errno));
			return -1;
		}
		if (st != PROTO_MORE) {
			finish(s, status_why(st));
			s->linger = session_lingers(s->fd, st,
			    (size_t)r - used);
			break;
		}
		if ((size_t)r < sizeof(es->in))
			break;		/* drained, most likely */
	}
	return 0;
}

/*
 * The replies are out: send our FIN, and watch for the client's until
 * SESSION_LINGER_MS have passed (on_linger).
 */
static void
linger_start(struct session *s)
{
	struct evs *es = s->es;

	if (shutdown(s->fd, SHUT_WR) == -1 ||
	    ev_modify(es->loop, s->fd, EV_READ) == -1) {
		session_close(s, s->why);
		return;
	}
	list_unlink(&es->serving, s);
	if (es->serving.head == NULL)
		ev_timer_stop(es->loop, &es->idle);
	s->lingering = 1;
	s->active = ev_now(es->loop);
	list_append(&es->lingering, s);
	if (!es->linger.armed)
		ev_timer_start(es->loop, &es->linger, SESSION_LINGER_MS);
}

/* Lingering: drop what comes, and close at the client's EOF. */
static void
drop_input(struct session *s)
{
	struct evs *es = s->es;
	ssize_t r;
	int i;

	for (i = 0; i < READS_PER_TURN; i++) {
		if ((r = net_read(s->fd, es->in, sizeof(es->in))) > 0)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		session_close(s, s->why);	/* EOF, or a reset: done */
		return;
	}
}

/*
 * Keep es->waiting in order: a session with replies waiting goes to its
 * tail when it begins to wait, and again each time its client takes
 * some; it leaves the list when they are all out.
 */
static void
track_waiting(struct session *s)
{
	struct evs *es = s->es;
	int pending = buf_pending(&s->out) > 0;

	if (s->waiting && (!pending || s->took)) {
		list_unlink(&es->waiting, s);
		s->waiting = 0;
	}
	s->took = 0;
	if (!pending || s->waiting || es->o->write_timeout == 0)
		return;
	s->waiting = 1;
	s->took_at = ev_now(es->loop);
	list_append(&es->waiting, s);
	if (!es->stalled.armed)
		ev_timer_start(es->loop, &es->stalled, write_ms(es));
}

/* What the session holds, in the count of all loops. */
static void
count_memory(struct session *s)
{
	long long now = (long long)(buf_pending(&s->out) +
	    proto_partial(&s->p));

	if (now != s->held) {
		atomic_fetch_add(&s->es->shared->memory, now - s->held);
		s->held = now;
	}
}

/* Close a session that is done, or watch what it needs next. */
static void
update(struct session *s)
{
	size_t pending = buf_pending(&s->out);
	int mask = 0;

	count_memory(s);
	track_waiting(s);
	if (s->closing && pending == 0) {
		if (s->linger)
			linger_start(s);
		else
			session_close(s, s->why);
		return;
	}
	if (s->paused && pending <= s->es->o->max_output / 2)
		s->paused = 0;
	else if (!s->paused && pending > s->es->o->max_output)
		s->paused = 1;
	if (!s->closing && !s->paused)
		mask |= EV_READ;
	if (pending > 0)
		mask |= EV_WRITE;
	if (ev_modify(s->es->loop, s->fd, mask) == -1)
		session_close(s, strerror(errno));
}

/* This loop's session that holds most, or NULL if none holds any. */
static struct session *
heaviest(struct evs *es)
{
	struct session *s, *max = NULL;

	for (s = es->serving.head; s != NULL; s = s->age.next)
		if (s->held > 0 && (max == NULL || s->held > max->held))
			max = s;
	return max;
}

/*
 * All sessions together hold more than --max-memory: close this loop's
 * heaviest until the total is below 7/8 of it (so that the scan is
 * rare), with an error line.  It is best effort: a client that reads
 * nothing will not see it, and the reset that unread input brings may
 * overtake it.  The other loops shed their own when they come by.
 */
static void
shed(struct evs *es)
{
	static const char msg[] = "ERR server out of memory\n";
	long long max = (long long)es->o->max_memory;
	struct session *s;

	if (max == 0 || atomic_load(&es->shared->memory) <= max)
		return;
	while (atomic_load(&es->shared->memory) > max - max / 8 &&
	    (s = heaviest(es)) != NULL) {
		(void)send(s->fd, msg, sizeof(msg) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		session_close(s, "server memory full (--max-memory)");
	}
}

static void
on_io(struct ev_loop *loop, int fd, int ready, void *arg)
{
	struct session *s = arg;
	struct evs *es = s->es;
	size_t before = buf_pending(&s->out);

	(void)loop;
	(void)fd;
	if (s->lingering) {
		drop_input(s);
		return;
	}
	if ((ready & EV_WRITE) && flush(s) == -1) {
		session_close(s, strerror(errno));
		return;
	}
	/*
	 * A client reading a backlog of replies completes no line, as we
	 * do not read it meanwhile: its progress counts as activity (as a
	 * batch written does for session_run's write deadline).
	 */
	if (buf_pending(&s->out) < before)
		touch(s);
	if ((ready & EV_READ) && serve_input(s) == -1)
		return;
	update(s);		/* may close s */
	shed(es);
}

static int
session_new(struct evs *es, int fd, const char *addr)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->es = es;
	s->fd = fd;
	proto_init(&s->p, es->o->max_line);
	buf_init(&s->out);
	strcpy(s->addr, addr);
	if (ev_add(es->loop, fd, EV_READ, on_io, s) == -1) {
		free(s);
		return -1;
	}
	/* Replies leave in one send per chunk read; without Nagle it goes
	 * at once instead of waiting for the client's delayed ACK. */
	if (net_nodelay(fd, 1) == -1 && errno != EOPNOTSUPP)
		log_err("TCP_NODELAY: %s", strerror(errno));
	s->active = ev_now(es->loop);
	list_append(&es->serving, s);
	es->nsessions++;
	if (es->o->idle_timeout > 0 && !es->idle.armed)
		ev_timer_start(es->loop, &es->idle, idle_ms(es));
	log_session_open(es->o, addr);
	return 0;
}

/* Close the sessions that completed no line for --idle-timeout. */
static void
on_idle(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;
	struct session *s;
	long long now = ev_now(loop), limit = idle_ms(es);

	while ((s = es->serving.head) != NULL && s->active + limit <= now)
		session_close(s, buf_pending(&s->out) > 0 ?
		    "client not reading" : "idle timeout");
	if (es->serving.head != NULL)
		ev_timer_start(loop, t, es->serving.head->active + limit - now);
}

/* Close the sessions whose client took none of their replies for
 * --write-timeout. */
static void
on_stalled(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;
	struct session *s;
	long long now = ev_now(loop), limit = write_ms(es);

	while ((s = es->waiting.head) != NULL && s->took_at + limit <= now)
		session_close(s, "client not reading");
	if (es->waiting.head != NULL)
		ev_timer_start(loop, t, es->waiting.head->took_at + limit - now);
}

/* Close the sessions that lingered long enough for the client's EOF. */
static void
on_linger(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;
	struct session *s;
	long long now = ev_now(loop);

	while ((s = es->lingering.head) != NULL &&
	    s->active + SESSION_LINGER_MS <= now)
		session_close(s, s->why);
	if (es->lingering.head != NULL)
		ev_timer_start(loop, t,
		    es->lingering.head->active + SESSION_LINGER_MS - now);
}

static void
on_pause_over(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;

	(void)t;
	if (es->lfd != -1 && ev_modify(loop, es->lfd, EV_READ) == -1)
		log_err("event loop: cannot watch the listener: %s",
		    strerror(errno));
}

/*
 * accept() failed.  Out of descriptors or memory, it would fail again
 * at once: stop watching the listener for a while, and keep serving the
 * sessions meanwhile (server_accept's pause would stall them all).
 */
static void
accept_failed(struct evs *es)
{
	switch (errno) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
		return;		/* none left, or the client left first */
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		log_err("accept: %s; pausing", strerror(errno));
		break;
	default:
		log_err("accept: %s", strerror(errno));
		break;
	}
	if (ev_modify(es->loop, es->lfd, 0) == -1)
		log_err("event loop: %s", strerror(errno));
	ev_timer_start(es->loop, &es->pause, ACCEPT_PAUSE_MS);
}

static void
on_accept(struct ev_loop *loop, int lfd, int ready, void *arg)
{
	char addr[NET_ADDR_LEN];
	struct evs *es = arg;
	int i, fd;

	(void)loop;
	(void)ready;
	for (i = 0; i < ACCEPTS_PER_TURN; i++) {
		if ((fd = net_accept(lfd, 1, addr, sizeof(addr))) == -1) {
			accept_failed(es);
			return;
		}
		if (!admit(es)) {
			server_busy(fd);
			continue;
		}
		if (session_new(es, fd, addr) == -1) {
			log_err("cannot serve %s: %s", addr, strerror(errno));
			atomic_fetch_sub(&es->shared->sessions, 1);
			server_busy(fd);
		}
	}
}

struct evs *
evs_new(int lfd, const struct server_opts *o, struct evs_shared *shared,
    char *err, size_t errlen)
{
	struct evs *es;

	if ((es = calloc(1, sizeof(*es))) == NULL) {
		snprintf(err, errlen, "evs: %s", strerror(errno));
		return NULL;
	}
	es->o = o;
	es->lfd = lfd;
	atomic_init(&es->own.sessions, 0);
	atomic_init(&es->own.memory, 0);
	es->shared = shared ? shared : &es->own;
	es->serving.link = es->lingering.link = offsetof(struct session, age);
	es->waiting.link = offsetof(struct session, out_wait);
	ev_timer_init(&es->idle, on_idle, es);
	ev_timer_init(&es->linger, on_linger, es);
	ev_timer_init(&es->stalled, on_stalled, es);
	ev_timer_init(&es->pause, on_pause_over, es);
	if ((es->loop = ev_create(err, errlen)) == NULL) {
		free(es);
		return NULL;
	}
	/* Accept until EAGAIN: the listener must never block. */
	if (net_nonblock(lfd, 1) == -1 ||
	    ev_add(es->loop, lfd, EV_READ, on_accept, es) == -1) {
		snprintf(err, errlen, "listener: %s", strerror(errno));
		ev_free(es->loop);
		free(es);
		return NULL;
	}
	return es;
}

struct ev_loop *
evs_loop(struct evs *es)
{
	return es->loop;
}

int
evs_run(struct evs *es)
{
	if (ev_run(es->loop) == -1) {
		log_err("event loop: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
close_listener(struct evs *es)
{
	if (es->lfd == -1)
		return;
	if (ev_remove(es->loop, es->lfd) == -1)
		log_err("event loop: %s", strerror(errno));
	if (close(es->lfd) == -1)
		log_err("close: %s", strerror(errno));
	es->lfd = -1;
	ev_timer_stop(es->loop, &es->pause);
}

/* End every session now: those served as a shutdown, the lingering
 * ones as they ended. */
static void
close_all(struct evs *es)
{
	while (es->serving.head != NULL)
		session_close(es->serving.head, "shutdown");
	while (es->lingering.head != NULL)
		session_close(es->lingering.head, es->lingering.head->why);
}

void
evs_stop(struct evs *es, int level)
{
	if (level < 1)
		return;
	/* New clients are refused at once while the others finish. */
	close_listener(es);
	es->stopping = 1;
	if (level >= 2)
		close_all(es);
	if (es->nsessions == 0)
		ev_stop(es->loop);
}

void
evs_free(struct evs *es)
{
	if (es == NULL)
		return;
	close_all(es);
	close_listener(es);
	ev_free(es->loop);
	free(es);
}
