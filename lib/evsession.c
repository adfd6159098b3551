/*
 * evsession.c - sessions on an event loop: non-blocking accept, input
 * through the protocol, buffered output with backpressure, the idle
 * timeout, and the drain at shutdown.
 *
 * The readiness driver of the session core (session.h): the core says
 * what a session wants, this watches for it.  A session reads at most
 * READS_PER_TURN chunks each time the loop
 * comes round, so that a client pipelining megabytes gets its share and
 * no more; the loop is level-triggered and comes back for the rest.
 * Replies to each chunk leave in one send(); the core bounds them
 * (--max-output), so a session holds at most max_output +
 * CASE_MAX_EXPANSION * READ_CHUNK bytes of replies and max_line bytes
 * of partial line.  A client that takes none of its
 * replies for --write-timeout seconds is closed: sessions with replies
 * waiting are kept in a list in the order their client last took some.
 * What all sessions hold, replies and partial lines, is counted across
 * the loops of a server: past --max-memory a loop closes its sessions
 * that hold most.
 *
 * A session that ends while the client may still be sending (the
 * core's SESSION_LINGER) lingers once its replies are out, as session_run
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
#include "session.h"

#define READ_CHUNK	16384
#define READS_PER_TURN	4	/* 64 KiB per client per turn */
#define ACCEPTS_PER_TURN 64	/* then let the sessions have a turn */
#define ACCEPT_PAUSE_MS	100	/* out of descriptors: stop accepting */

/* A connection's place in one list; a list knows which of a connection's
 * links is its own (by offset), so that a connection can be in two. */
struct link {
	struct conn	*prev, *next;
};

/* A session (the core's state) on a descriptor of this loop. */
struct conn {
	struct evs	*es;
	int		 fd;
	int		 lingering;	/* FIN sent, input dropped */
	long long	 linger_at;	/* ev_now() when lingering began */
	struct link	 age;		/* in es->serving or es->lingering */
	struct link	 out_wait;	/* in es->waiting, if waiting */
	int		 waiting;	/* replies wait for the client */
	int		 took;		/* it took some since update() */
	long long	 took_at;	/* ev_now() when it last took some */
	long long	 held;		/* bytes counted in shared->memory */
	struct session	 s;
};

struct list {
	struct conn	*head, *tail;
	size_t		 link;		/* offsetof(struct conn, its link) */
};

struct evs {
	struct ev_loop	*loop;
	const struct server_opts *o;
	int		 lfd;		/* -1 once closed */
	struct evs_shared *shared;	/* sessions and memory, of all loops */
	struct evs_shared own;
	int		 nsessions;	/* of this loop */
	int		 stopping;
	struct list	 serving;	/* idle clock due first first */
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
write_ms(const struct evs *es)
{
	return 1000LL * es->o->write_timeout;
}

static struct link *
link_of(const struct list *l, struct conn *c)
{
	return (struct link *)(void *)((char *)c + l->link);
}

static void
list_unlink(struct list *l, struct conn *c)
{
	struct link *k = link_of(l, c);

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
list_append(struct list *l, struct conn *c)
{
	struct link *k = link_of(l, c);

	k->prev = l->tail;
	k->next = NULL;
	if (l->tail)
		link_of(l, l->tail)->next = c;
	else
		l->head = c;
	l->tail = c;
}

/* The core restarted the idle clock: the session goes to the tail of
 * the list, so the head is always the first to time out (O(1)). */
static void
touch(struct conn *c)
{
	struct evs *es = c->es;

	if (es->serving.tail != c) {
		list_unlink(&es->serving, c);
		list_append(&es->serving, c);
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

/* why NULL: the reason the core gave. */
static void
conn_close(struct conn *c, const char *why)
{
	struct evs *es = c->es;

	if (ev_remove(es->loop, c->fd) == -1)
		log_err("event loop: cannot forget fd %d: %s", c->fd,
		    strerror(errno));
	if (close(c->fd) == -1)
		log_err("close: %s", strerror(errno));
	list_unlink(c->lingering ? &es->lingering : &es->serving, c);
	if (c->waiting)
		list_unlink(&es->waiting, c);
	atomic_fetch_sub(&es->shared->memory, c->held);
	atomic_fetch_sub(&es->shared->sessions, 1);
	es->nsessions--;
	session_end(&c->s, why);
	free(c);
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
flush(struct conn *c)
{
	const char *p;
	size_t n;
	ssize_t w;

	while ((p = session_output(&c->s, &n)) != NULL) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		session_sent(&c->s, w > 0 ? (size_t)w : 0, ev_now(c->es->loop));
		if (w == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->took = 1;
		/* A short send means the socket buffer is full: another
		 * try now would only return EAGAIN. */
		if ((size_t)w < n)
			return 0;
	}
	return 0;
}

/*
 * Read a few chunks, answer them, send the answers.  Returns -1 if the
 * session was closed, else 0 (it may be done: see update()).
 */
static int
serve_input(struct conn *c)
{
	struct evs *es = c->es;
	ssize_t r;
	int i;

	for (i = 0; i < READS_PER_TURN; i++) {
		if (!(session_next(&c->s) & SESSION_READ))
			break;		/* done, or too many replies wait */
		if ((r = net_read(c->fd, es->in, sizeof(es->in))) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c, strerror(errno));
			return -1;
		}
		if (r == 0) {
			session_eof(&c->s);
			break;
		}
		session_input(&c->s, es->in, (size_t)r, ev_now(es->loop));
		if (flush(c) == -1) {
			conn_close(c, strerror(errno));
			return -1;
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
linger_start(struct conn *c)
{
	struct evs *es = c->es;

	if (shutdown(c->fd, SHUT_WR) == -1 ||
	    ev_modify(es->loop, c->fd, EV_READ) == -1) {
		conn_close(c, NULL);
		return;
	}
	list_unlink(&es->serving, c);
	if (es->serving.head == NULL)
		ev_timer_stop(es->loop, &es->idle);
	c->lingering = 1;
	c->linger_at = ev_now(es->loop);
	list_append(&es->lingering, c);
	if (!es->linger.armed)
		ev_timer_start(es->loop, &es->linger, SESSION_LINGER_MS);
}

/* Lingering: drop what comes, and close at the client's EOF. */
static void
drop_input(struct conn *c)
{
	struct evs *es = c->es;
	ssize_t r;
	int i;

	for (i = 0; i < READS_PER_TURN; i++) {
		if ((r = net_read(c->fd, es->in, sizeof(es->in))) > 0)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c, NULL);	/* EOF, or a reset: done */
		return;
	}
}

/*
 * Keep es->waiting in order: a session with replies waiting goes to its
 * tail when it begins to wait, and again each time its client takes
 * some; it leaves the list when they are all out.
 */
static void
track_waiting(struct conn *c)
{
	struct evs *es = c->es;
	int pending = session_pending(&c->s) > 0;

	if (c->waiting && (!pending || c->took)) {
		list_unlink(&es->waiting, c);
		c->waiting = 0;
	}
	c->took = 0;
	if (!pending || c->waiting || es->o->write_timeout == 0)
		return;
	c->waiting = 1;
	c->took_at = ev_now(es->loop);
	list_append(&es->waiting, c);
	if (!es->stalled.armed)
		ev_timer_start(es->loop, &es->stalled, write_ms(es));
}

/* What the session holds, in the count of all loops. */
static void
count_memory(struct conn *c)
{
	long long now = (long long)session_held(&c->s);

	if (now != c->held) {
		atomic_fetch_add(&c->es->shared->memory, now - c->held);
		c->held = now;
	}
}

/* Close a session that is done, or watch what it wants next. */
static void
update(struct conn *c)
{
	int want, mask = 0;

	count_memory(c);
	track_waiting(c);
	if ((want = session_next(&c->s)) & SESSION_PROBE) {
		session_probe(&c->s, session_peer_readable(c->fd));
		want = session_next(&c->s);
	}
	if (want & SESSION_LINGER) {
		linger_start(c);
		return;
	}
	if (want & SESSION_CLOSE) {
		conn_close(c, NULL);
		return;
	}
	if (want & SESSION_READ)
		mask |= EV_READ;
	if (want & SESSION_WRITE)
		mask |= EV_WRITE;
	if (ev_modify(c->es->loop, c->fd, mask) == -1)
		conn_close(c, strerror(errno));
}

/* This loop's session that holds most, or NULL if none holds any. */
static struct conn *
heaviest(struct evs *es)
{
	struct conn *c, *max = NULL;

	for (c = es->serving.head; c != NULL; c = c->age.next)
		if (c->held > 0 && (max == NULL || c->held > max->held))
			max = c;
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
	struct conn *c;

	if (max == 0 || atomic_load(&es->shared->memory) <= max)
		return;
	while (atomic_load(&es->shared->memory) > max - max / 8 &&
	    (c = heaviest(es)) != NULL) {
		(void)send(c->fd, msg, sizeof(msg) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_close(c, "server memory full (--max-memory)");
	}
}

static void
on_io(struct ev_loop *loop, int fd, int ready, void *arg)
{
	struct conn *c = arg;
	struct evs *es = c->es;
	long long active = c->s.active;

	(void)loop;
	(void)fd;
	if (c->lingering) {
		drop_input(c);
		return;
	}
	if ((ready & EV_WRITE) && flush(c) == -1) {
		conn_close(c, strerror(errno));
		return;
	}
	if ((ready & EV_READ) && serve_input(c) == -1)
		return;
	if (c->s.active != active)
		touch(c);
	update(c);		/* may close c */
	shed(es);
}

static int
conn_new(struct evs *es, int fd, const char *addr)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->es = es;
	c->fd = fd;
	if (ev_add(es->loop, fd, EV_READ, on_io, c) == -1) {
		free(c);
		return -1;
	}
	/* Replies leave in one send per chunk read; without Nagle it goes
	 * at once instead of waiting for the client's delayed ACK. */
	if (net_nodelay(fd, 1) == -1 && errno != EOPNOTSUPP)
		log_err("TCP_NODELAY: %s", strerror(errno));
	session_init(&c->s, es->o, addr, ev_now(es->loop));
	list_append(&es->serving, c);
	es->nsessions++;
	if (es->o->idle_timeout > 0 && !es->idle.armed)
		ev_timer_start(es->loop, &es->idle,
		    session_deadline(&c->s) - ev_now(es->loop));
	return 0;
}

/* Close the sessions whose idle clock ran out (session_tick). */
static void
on_idle(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;
	struct conn *c;
	long long now = ev_now(loop);

	while ((c = es->serving.head) != NULL && session_tick(&c->s, now))
		conn_close(c, NULL);
	if (es->serving.head != NULL)
		ev_timer_start(loop, t,
		    session_deadline(&es->serving.head->s) - now);
}

/* Close the sessions whose client took none of their replies for
 * --write-timeout. */
static void
on_stalled(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;
	struct conn *c;
	long long now = ev_now(loop), limit = write_ms(es);

	while ((c = es->waiting.head) != NULL && c->took_at + limit <= now)
		conn_close(c, "client not reading");
	if (es->waiting.head != NULL)
		ev_timer_start(loop, t, es->waiting.head->took_at + limit - now);
}

/* Close the sessions that lingered long enough for the client's EOF. */
static void
on_linger(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct evs *es = arg;
	struct conn *c;
	long long now = ev_now(loop);

	while ((c = es->lingering.head) != NULL &&
	    c->linger_at + SESSION_LINGER_MS <= now)
		conn_close(c, NULL);
	if (es->lingering.head != NULL)
		ev_timer_start(loop, t,
		    es->lingering.head->linger_at + SESSION_LINGER_MS - now);
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
		if (conn_new(es, fd, addr) == -1) {
			log_err("cannot serve %s: %s", addr, strerror(errno));
			atomic_fetch_sub(&es->shared->sessions, 1);
			server_busy(fd);
			continue;
		}
		server_admitted();
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
	es->serving.link = es->lingering.link = offsetof(struct conn, age);
	es->waiting.link = offsetof(struct conn, out_wait);
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
		conn_close(es->serving.head, "shutdown");
	while (es->lingering.head != NULL)
		conn_close(es->lingering.head, NULL);
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
