/*
 * io_uring.c - one thread, one ring: the completion paradigm.
 *
 * The completion driver of the session core (session.h).  Where epoll
 * asks "which sockets are ready?" and then reads and writes, this hands
 * the kernel the I/O itself and hears back when it is done: each turn
 * of the loop is one io_uring_submit_and_wait(), which submits every
 * request the last turn prepared (the sends above all, one per session
 * that has replies: a batch) and waits for completions, which the next
 * turn reaps for all sessions together.
 *
 * - Accept: one accept at a time, re-armed as it completes.  A
 *   multishot accept would write every peer's address into one place,
 *   overwritten before we read it, and the log needs the address (a
 *   getpeername() per connection would give back the syscall saved).
 * - Receive: one multishot recv per session into a ring of provided
 *   buffers that the sessions share; a buffer goes back to the ring as
 *   soon as the core has taken its bytes.  A session that may not read
 *   (--max-output backpressure, or done) has its recv cancelled.
 * - Send: at most one per session in flight, of the bytes the core
 *   lends (session_output: they stay put until session_sent).
 * - Timers: a sweep every SWEEP_MS while sessions exist, as Redis'
 *   clientsCron does, for the idle clock, --write-timeout and the
 *   linger: O(sessions) ten times a second, no per-request cost.
 * - A session ends in two steps: its requests are cancelled, and once
 *   the last one has completed (the kernel may still be reading the
 *   loaned replies) it is closed, logged and freed.
 *
 * Built without liburing, the model is listed as unavailable.
 */
#define _GNU_SOURCE		/* MAP_ANONYMOUS; liburing wants it too */
#include <stddef.h>

#include "log.h"
#include "server.h"

int		 serve_io_uring(int, const struct server_opts *);
const char	*io_uring_unavailable(void);

#ifndef HAVE_LIBURING

const char *
io_uring_unavailable(void)
{
	return "built without liburing (install liburing-dev and rebuild)";
}

int
serve_io_uring(int lfd, const struct server_opts *o)
{
	(void)lfd;
	(void)o;
	log_err("io_uring: %s", io_uring_unavailable());
	return -1;
}

#else

#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "session.h"

#define RING_SQ		1024
#define RING_CQ		8192	/* room for a burst of every session's */
#define NBUFS		1024	/* provided buffers: a power of two */
#define BUF_SIZE	4096
#define BGID		0
#define SWEEP_MS	100
#define ACCEPT_PAUSE_MS	100	/* out of descriptors: stop accepting */
#define SEND_WAIT_US	1000	/* at most, for a send that did not go out */

/* What a completion is for: the low bits of its user_data. */
enum { OP_NONE, OP_ACCEPT, OP_RECV, OP_SEND, OP_STOP, OP_MASK = 7 };
enum { RECV_OFF, RECV_ON, RECV_CANCEL };

struct conn {
	struct conn	*prev, *next;	/* every session, dying ones too */
	struct conn	*dnext;		/* in the dirty list */
	int		 fd;
	int		 dirty;		/* update() due at the end of the turn */
	int		 recv;		/* RECV_*: the multishot recv */
	int		 sending;	/* a send in flight */
	int		 eof;		/* the client's FIN came */
	int		 extra;		/* input came after the ending line */
	int		 lingering;
	int		 dead;		/* cancelled; closed once idle */
	int		 err;		/* why it died, if an errno */
	const char	*why;
	long long	 linger_at;
	long long	 took_at;	/* replies wait since; 0 if none */
	size_t		 held;		/* counted in u->memory */
	struct session	 s;
};

struct uring {
	struct io_uring	 ring;
	struct io_uring_buf_ring *br;
	char		*bufs;
	const struct server_opts *o;
	int		 lfd;		/* -1 once closed */
	int		 has_ring;
	int		 accepting;	/* an accept in flight */
	int		 stopping;
	long long	 pause_until;	/* no accept before, after EMFILE */
	struct sockaddr_storage peer;	/* the accept's */
	socklen_t	 peerlen;
	struct conn	*conns;
	struct conn	*dirty;
	int		 nconns;
	size_t		 memory;	/* held by all sessions */
	int		 recycled;	/* buffers given back this turn */
	unsigned	 sends;		/* sends prepared this turn */
	unsigned	 events;	/* other completions, last turn */
	long long	 now;
	long long	 sweep_at;
	int		 sigfd;		/* the stop signals (server_signal_fd) */
};

static uint64_t
tag(void *p, int op)
{
	return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

/* A free entry of the submission queue, submitting a full one. */
static struct io_uring_sqe *
get_sqe(struct uring *u, void *p, int op)
{
	struct io_uring_sqe *sqe;

	if ((sqe = io_uring_get_sqe(&u->ring)) == NULL &&
	    io_uring_submit(&u->ring) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	if (sqe == NULL) {
		log_err("io_uring: the submission queue is full");
		return NULL;
	}
	io_uring_sqe_set_data64(sqe, tag(p, op));
	return sqe;
}

static void
mark(struct uring *u, struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	c->dnext = u->dirty;
	u->dirty = c;
}

static void
cancel(struct uring *u, struct conn *c, int op)
{
	struct io_uring_sqe *sqe = get_sqe(u, NULL, OP_NONE);

	if (sqe != NULL)
		io_uring_prep_cancel64(sqe, tag(c, op), 0);
}

/* why NULL: the core's reason; err: an errno, if that is the reason. */
static void
conn_close(struct uring *u, struct conn *c, const char *why, int err)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->why = why;
	c->err = err;
	u->memory -= c->held;
	c->held = 0;
	if (c->recv == RECV_ON) {
		cancel(u, c, OP_RECV);
		c->recv = RECV_CANCEL;
	}
	if (c->sending)
		cancel(u, c, OP_SEND);
	mark(u, c);
}

/* A dead session whose requests have all completed: close and free it. */
static void
conn_free(struct uring *u, struct conn *c)
{
	if (c->recv != RECV_OFF || c->sending)
		return;
	if (close(c->fd) == -1)
		log_err("close: %s", strerror(errno));
	session_end(&c->s, c->err ? strerror(c->err) : c->why);
	if (c->prev)
		c->prev->next = c->next;
	else
		u->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	u->nconns--;
	free(c);
}

static void
arm_recv(struct uring *u, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->recv != RECV_OFF || c->eof)
		return;
	if ((sqe = get_sqe(u, c, OP_RECV)) == NULL) {
		conn_close(u, c, NULL, EBUSY);
		return;
	}
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	c->recv = RECV_ON;
}

static void
arm_send(struct uring *u, struct conn *c)
{
	struct io_uring_sqe *sqe;
	const char *p;
	size_t n;

	if (c->sending || (p = session_output(&c->s, &n)) == NULL)
		return;
	if ((sqe = get_sqe(u, c, OP_SEND)) == NULL) {
		session_sent(&c->s, 0, u->now);
		conn_close(u, c, NULL, EBUSY);
		return;
	}
	io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
	c->sending = 1;
	u->sends++;
}

/* Replies out: send our FIN and drop input until the client's, at most
 * SESSION_LINGER_MS (the sweep), so that no reset overtakes them. */
static void
linger_start(struct uring *u, struct conn *c)
{
	if (c->eof || shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(u, c, NULL, 0);
		return;
	}
	c->lingering = 1;
	c->linger_at = u->now;
	arm_recv(u, c);
}

/* Closes, lingers, or submits what the session wants now. */
static void
update(struct uring *u, struct conn *c)
{
	size_t held = session_held(&c->s);
	int want;

	if (c->dead) {
		conn_free(u, c);
		return;
	}
	u->memory += held - c->held;
	c->held = held;
	if (c->lingering) {
		arm_recv(u, c);
		return;
	}
	if ((want = session_next(&c->s)) & SESSION_PROBE) {
		session_probe(&c->s, c->extra || session_peer_readable(c->fd));
		want = session_next(&c->s);
	}
	if (want & SESSION_LINGER)
		linger_start(u, c);
	else if (want & SESSION_CLOSE)
		conn_close(u, c, NULL, 0);
	if (want & (SESSION_LINGER | SESSION_CLOSE))
		return;
	if (!(want & SESSION_WRITE))
		c->took_at = 0;
	else if (c->took_at == 0)
		c->took_at = u->now;
	arm_send(u, c);
	if (want & SESSION_READ)
		arm_recv(u, c);
	else if (c->recv == RECV_ON) {
		cancel(u, c, OP_RECV);
		c->recv = RECV_CANCEL;
	}
}

static void
drain_dirty(struct uring *u)
{
	struct conn *c;

	while ((c = u->dirty) != NULL) {
		u->dirty = c->dnext;
		c->dirty = 0;
		update(u, c);
	}
}

static void
recycle(struct uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SIZE,
	    BUF_SIZE, (unsigned short)bid, io_uring_buf_ring_mask(NBUFS),
	    u->recycled++);
}

static void
on_recv(struct uring *u, struct conn *c, int res, unsigned flags)
{
	const char *in = u->bufs + (size_t)(flags >> IORING_CQE_BUFFER_SHIFT) *
	    BUF_SIZE;

	if (!(flags & IORING_CQE_F_MORE))
		c->recv = RECV_OFF;
	mark(u, c);
	if (res > 0 && !c->dead && !c->lingering) {
		if (c->s.done)
			c->extra = 1;	/* for the linger decision */
		else
			session_input(&c->s, in, (size_t)res, u->now);
	}
	if (flags & IORING_CQE_F_BUFFER)
		recycle(u, flags >> IORING_CQE_BUFFER_SHIFT);
	if (res == 0) {
		c->eof = 1;
		if (c->lingering)
			conn_close(u, c, NULL, 0);
		else
			session_eof(&c->s);
	} else if (res < 0 && res != -ENOBUFS && res != -ECANCELED)
		conn_close(u, c, NULL, -res);	/* ENOBUFS: re-armed */
}

static void
on_send(struct uring *u, struct conn *c, int res)
{
	c->sending = 0;
	mark(u, c);
	session_sent(&c->s, res > 0 ? (size_t)res : 0, u->now);
	if (res > 0)
		c->took_at = u->now;
	else if (res < 0 && res != -ECANCELED)
		conn_close(u, c, NULL, -res);
}

static void
conn_new(struct uring *u, int fd)
{
	char addr[NET_ADDR_LEN];
	struct conn *c;

	net_format_addr((struct sockaddr *)&u->peer, u->peerlen, addr,
	    sizeof(addr));
	if (u->o->max_clients > 0 && u->nconns >= u->o->max_clients) {
		server_busy(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_err("cannot serve %s: %s", addr, strerror(errno));
		server_busy(fd);
		return;
	}
	/* All replies to one turn leave in one send; without Nagle it goes
	 * at once instead of waiting for the client's delayed ACK. */
	if (net_nodelay(fd, 1) == -1 && errno != EOPNOTSUPP)
		log_err("TCP_NODELAY: %s", strerror(errno));
	c->fd = fd;
	session_init(&c->s, u->o, addr, u->now);
	c->next = u->conns;
	if (u->conns)
		u->conns->prev = c;
	u->conns = c;
	if (u->nconns++ == 0)
		u->sweep_at = u->now + SWEEP_MS;
	server_admitted();
	mark(u, c);
}

static void
arm_accept(struct uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->lfd == -1 || u->accepting || u->now < u->pause_until)
		return;
	if ((sqe = get_sqe(u, NULL, OP_ACCEPT)) == NULL)
		return;
	u->peerlen = sizeof(u->peer);
	io_uring_prep_accept(sqe, u->lfd, (struct sockaddr *)&u->peer,
	    &u->peerlen, SOCK_CLOEXEC);
	u->accepting = 1;
}

/* Out of descriptors or memory, accept would fail again at once: pause
 * it for a while, serving the sessions meanwhile. */
static void
on_accept(struct uring *u, int res)
{
	u->accepting = 0;
	if (res >= 0 && u->lfd == -1) {
		/* Came in as we stopped: refused, as the other models'
		 * closed listener refuses it, not told "busy". */
		if (close(res) == -1)
			log_err("close: %s", strerror(errno));
	} else if (res >= 0)
		conn_new(u, res);
	else if (u->lfd != -1 && res != -EINTR && res != -ECONNABORTED &&
	    res != -EAGAIN && res != -EPROTO) {
		log_err("accept: %s; pausing", strerror(-res));
		u->pause_until = u->now + ACCEPT_PAUSE_MS;
	}
}

static void
arm_stop(struct uring *u)
{
	struct io_uring_sqe *sqe;

	if (server_stop < 2 && (sqe = get_sqe(u, NULL, OP_STOP)) != NULL)
		io_uring_prep_poll_add(sqe, u->sigfd, POLLIN);
}

/* Level 1: refuse new clients, let sessions finish; 2: end them now. */
static void
on_stop(struct uring *u)
{
	struct conn *c;

	server_take_signals(u->sigfd);
	if (server_stop >= 1 && u->lfd != -1) {
		/* shutdown() wakes the accept in flight, which holds the
		 * socket open past close(). */
		(void)shutdown(u->lfd, SHUT_RDWR);
		if (close(u->lfd) == -1)
			log_err("close: %s", strerror(errno));
		u->lfd = -1;
		u->stopping = 1;
	}
	if (server_stop >= 2)
		for (c = u->conns; c != NULL; c = c->next)
			conn_close(u, c, c->lingering ? NULL : "shutdown", 0);
	arm_stop(u);
}

static void
reap(struct uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	void *p;

	u->events = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		n++;
		if ((cqe->user_data & OP_MASK) != OP_SEND)
			u->events++;
		p = (void *)(uintptr_t)(cqe->user_data & ~(uint64_t)OP_MASK);
		switch (cqe->user_data & OP_MASK) {
		case OP_ACCEPT: on_accept(u, cqe->res); break;
		case OP_RECV: on_recv(u, p, cqe->res, cqe->flags); break;
		case OP_SEND: on_send(u, p, cqe->res); break;
		case OP_STOP: on_stop(u); break;
		}
	}
	io_uring_cq_advance(&u->ring, n);
	/* The buffers go back before any recv is re-armed. */
	io_uring_buf_ring_advance(u->br, u->recycled);
	u->recycled = 0;
}

/* The timers: the idle clock, --write-timeout, the linger's end. */
static void
sweep(struct uring *u)
{
	long long write_ms = 1000LL * u->o->write_timeout;
	struct conn *c;

	u->sweep_at = u->now + SWEEP_MS;
	for (c = u->conns; c != NULL; c = c->next) {
		if (c->dead)
			continue;
		if (c->lingering) {
			if (c->linger_at + SESSION_LINGER_MS <= u->now)
				conn_close(u, c, NULL, 0);
		} else if (session_tick(&c->s, u->now))
			conn_close(u, c, NULL, 0);
		else if (write_ms > 0 && c->took_at > 0 &&
		    c->took_at + write_ms <= u->now)
			conn_close(u, c, "client not reading", 0);
	}
}

/* Past --max-memory: close the sessions that hold most until all hold
 * below 7/8 of it, as evsession.c does. */
static void
shed(struct uring *u)
{
	static const char msg[] = "ERR server out of memory\n";
	size_t max = u->o->max_memory;
	struct conn *c, *top;

	if (max == 0 || u->memory <= max)
		return;
	while (u->memory > max - max / 8) {
		top = NULL;
		for (c = u->conns; c != NULL; c = c->next)
			if (!c->dead && c->held > 0 &&
			    (top == NULL || c->held > top->held))
				top = c;
		if (top == NULL)
			break;
		(void)send(top->fd, msg, sizeof(msg) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_close(u, top, "server memory full (--max-memory)", 0);
	}
}

/* Submit what this turn prepared and wait for a completion, or for the
 * next timer: one io_uring_enter.  A send to a socket with room completes
 * inside the submit.  Under light load (the last turn had one event or
 * none), were that completion enough to end the wait, every reply would
 * cost a second enter, the first returning at once with the send's
 * completion, the next waiting for the request after it: so the wait is
 * for the sends just submitted and one event more, and, lest a send to a
 * full socket hold up the others' events, for at most SEND_WAIT_US then.
 * Under load, it ends at the first completion: the turn spent reaping the
 * sends lets the next batch of requests gather, one enter for them all.
 * 0, or -1 with errno. */
static int
submit_and_wait(struct uring *u)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	long long due = 0, us;
	unsigned want = u->events > 1 ? 1 : 1 + u->sends;
	int rc;

	u->sends = 0;
	if (u->nconns > 0)
		due = u->sweep_at;
	if (u->lfd != -1 && u->pause_until > u->now &&
	    (due == 0 || u->pause_until < due))
		due = u->pause_until;
	us = due == 0 ? -1 : due > u->now ? 1000 * (due - u->now) : 0;
	if (want > 1 && (us < 0 || us > SEND_WAIT_US))
		us = SEND_WAIT_US;
	if (us >= 0) {
		ts.tv_sec = us / 1000000;
		ts.tv_nsec = (us % 1000000) * 1000;
	}
	rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, want,
	    us >= 0 ? &ts : NULL, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static int
run(struct uring *u)
{
	if (server_stop)	/* came before the signalfd */
		on_stop(u);
	else
		arm_stop(u);
	while (!(u->stopping && u->nconns == 0)) {
		arm_accept(u);
		if (submit_and_wait(u) == -1) {
			log_err("io_uring_enter: %s", strerror(errno));
			return -1;
		}
		u->now = clock_ms();
		reap(u);
		if (u->nconns > 0 && u->now >= u->sweep_at)
			sweep(u);
		drain_dirty(u);
		shed(u);
		drain_dirty(u);
	}
	return 0;
}

/* The ring, and the buffers it receives into: mmap()ed, so that tools
 * that cannot see the kernel write them (valgrind) take them as set. */
static int
setup(struct uring *u, char *err, size_t errlen)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	int rc;

	memset(&p, 0, sizeof(p));
	/* One thread submits; the kernel runs completions' work when we
	 * wait, not on interrupts (6.1+; older kernels: without). */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
	    IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = RING_CQ;
	if ((rc = io_uring_queue_init_params(RING_SQ, &u->ring, &p)) == -EINVAL) {
		p.flags = IORING_SETUP_CQSIZE;
		rc = io_uring_queue_init_params(RING_SQ, &u->ring, &p);
	}
	if (rc < 0) {
		snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-rc));
		return -1;
	}
	u->has_ring = 1;
	u->br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf),
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	u->bufs = mmap(NULL, (size_t)NBUFS * BUF_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->br == MAP_FAILED || u->bufs == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		return -1;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)u->br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	if ((rc = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) {
		snprintf(err, errlen, "provided buffer ring (Linux 5.19+): %s",
		    strerror(-rc));
		return -1;
	}
	io_uring_buf_ring_init(u->br);
	for (rc = 0; rc < NBUFS; rc++)
		recycle(u, (unsigned)rc);
	io_uring_buf_ring_advance(u->br, u->recycled);
	u->recycled = 0;
	return 0;
}

/* After the ring is gone (no request can touch a session any more). */
static void
teardown(struct uring *u)
{
	struct conn *c;

	if (u->has_ring)
		io_uring_queue_exit(&u->ring);
	while ((c = u->conns) != NULL) {
		c->recv = RECV_OFF;
		c->sending = 0;
		conn_close(u, c, "shutdown", 0);
		conn_free(u, c);
	}
	if (u->lfd != -1)
		close(u->lfd);
	if (u->br != NULL && u->br != MAP_FAILED)
		munmap(u->br, NBUFS * sizeof(struct io_uring_buf));
	if (u->bufs != NULL && u->bufs != MAP_FAILED)
		munmap(u->bufs, (size_t)NBUFS * BUF_SIZE);
	free(u);
}

int
serve_io_uring(int lfd, const struct server_opts *o)
{
	char err[NET_ERR_LEN];
	struct uring *u;
	int rc;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		log_err("io_uring: %s", strerror(errno));
		close(lfd);
		return -1;
	}
	u->o = o;
	u->lfd = lfd;
	u->sigfd = -1;
	u->now = clock_ms();
	rc = -1;
	if (setup(u, err, sizeof(err)) == -1)
		log_err("io_uring: %s", err);
	else if ((u->sigfd = server_signal_fd()) != -1 &&
	    server_ready(lfd, o) == 0)
		rc = run(u);
	if (u->sigfd != -1)
		close(u->sigfd);
	teardown(u);
	return rc;
}

/* NULL if this kernel lets us have a ring, else why not. */
const char *
io_uring_unavailable(void)
{
	static char why[128];
	struct io_uring ring;
	int rc;

	if ((rc = io_uring_queue_init(2, &ring, 0)) == 0) {
		io_uring_queue_exit(&ring);
		return NULL;
	}
	snprintf(why, sizeof(why), "the kernel refuses io_uring (%s%s)",
	    strerror(-rc), rc == -EPERM ? ": kernel.io_uring_disabled or "
	    "seccomp" : rc == -ENOSYS ? ": too old, or compiled without" : "");
	return why;
}

#endif
