#define _GNU_SOURCE		/* epoll_pwait2, TCP_INFO */
/*
 * loadgen_session.c - one epoll loop per thread, and its sessions.
 *
 * A session is one slot of concurrency: with -k 1 one persistent
 * connection, with -k 0 a connection per request (UNP ch. 30's client),
 * reopened by the same slot.  Each keeps a ring of the requests it has in
 * flight (at most -P of them) with their intended and actual send times;
 * a reply is matched to the oldest.
 *
 * Closed loop: a slot sends as soon as it has room in its ring.
 * Open loop (--rate): request k of a slot is due at a fixed time,
 * open + phase + k * interval, whatever happened before; when the ring is
 * full it goes out late, as soon as there is room, and its latency is
 * still counted from the due time (wrk2's coordinated-omission
 * correction).  The uncorrected latency, from the actual send, is kept
 * beside it.  Slots waiting for a due time sit in a min-heap.
 *
 * Request lines are generated from (seed, slot, request number), so a
 * reply is checked by generating its request again: nothing is stored.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "loadgen.h"

#define MS		1000000ULL
#define SEC		1000000000ULL
#define RBUF_SIZE	65536
#define MAX_EVENTS	256
#define MAX_REPLY	65536	/* longest reply line we wait for */
#define WAKE_MAX	(100 * MS)	/* look at the stop flag this often */
#define RETRY_DELAY	MS	/* -k 0: a failed slot tries again after */
#define OPEN_BATCH	32	/* connect() calls between two epoll_wait */

enum sstate { S_IDLE, S_CONNECTING, S_OPEN, S_DONE };

struct pending {
	uint64_t	 seq;		/* request number: regenerate it */
	uint64_t	 t_intended;	/* due (open loop) or send time */
	uint64_t	 t_sent;	/* first write that carried it */
	int		 measured;	/* after the warm-up */
};

struct session {
	int		 fd;
	enum sstate	 state;
	uint32_t	 id;		/* 0 .. sessions-1, all threads */
	uint32_t	 conn;		/* connections made, for events */
	uint32_t	 events;	/* epoll interest; 0: not registered */
	int		 got_first;	/* this connection had a reply */
	long		 heap_pos;	/* -1: not in the heap */
	uint64_t	 t_open;	/* when the slot starts */
	uint64_t	 t_connect;	/* this connection's connect() */
	uint64_t	 t_established;
	uint64_t	 seq;		/* next request number */
	uint64_t	 next_due;	/* open loop; -k 0 retry time */
	uint64_t	 quota;		/* open loop -n: measured left */
	struct pending	*ring;
	unsigned	 head, inflight, nstamped;
	struct buf	 out;
	struct buf	 in;		/* an incomplete reply line */
};

const char *const err_names[E_NKINDS] = {
	"refused", "reset", "closed", "timeout", "connect_timeout",
	"mismatch", "other"
};

struct run run;

static void	 due(struct worker *, struct session *, uint64_t);
static void	 cycle(struct worker *, struct session *, uint64_t);

uint64_t
now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; if it did, no figure holds. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die(1, "clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* ---- statistics ---- */

int
stats_init(struct stats *st)
{
	memset(st, 0, sizeof(*st));
	if (hist_init(&st->lat, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->lat_unc, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->conn, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->first, HIST_NS_MAX, HIST_SUB_BITS) == -1) {
		stats_free(st);
		return -1;
	}
	return 0;
}

void
stats_free(struct stats *st)
{
	hist_free(&st->lat);
	hist_free(&st->lat_unc);
	hist_free(&st->conn);
	hist_free(&st->first);
}

int
stats_merge(struct stats *d, const struct stats *s)
{
	int i;

	if (hist_merge(&d->lat, &s->lat) == -1 ||
	    hist_merge(&d->lat_unc, &s->lat_unc) == -1 ||
	    hist_merge(&d->conn, &s->conn) == -1 ||
	    hist_merge(&d->first, &s->first) == -1)
		return -1;
	d->committed += s->committed;
	d->completed += s->completed;
	d->failed += s->failed;
	d->warm += s->warm;
	d->sent += s->sent;
	for (i = 0; i < E_NKINDS; i++)
		d->errors[i] += s->errors[i];
	d->connects += s->connects;
	d->established += s->established;
	d->syn_retrans += s->syn_retrans;
	d->slow_connects += s->slow_connects;
	d->lost += s->lost;
	d->unanswered += s->unanswered;
	d->unanswered_warm += s->unanswered_warm;
	d->bytes_out += s->bytes_out;
	d->bytes_in += s->bytes_in;
	if (s->t_end > d->t_end)
		d->t_end = s->t_end;
	return 0;
}

/* ---- request lines ---- */

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 64 symbols so that 6 random bits pick one; a-z and 0-9 only. */
static const char alnum64[] =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01";

/* Request seq of slot id: size-1 letters and digits, then '\n'. */
static void
gen_line(char *dst, size_t size, uint64_t seed, uint32_t id, uint64_t seq)
{
	uint64_t state, x = 0;
	size_t i;

	state = mix64(seed * 0x9e3779b97f4a7c15ULL ^ mix64(id + 1) ^
	    (seq * 0xd1b54a32d192ed03ULL));
	for (i = 0; i + 1 < size; i++) {
		if (i % 10 == 0)
			x = mix64(state += 0x9e3779b97f4a7c15ULL);
		dst[i] = alnum64[x & 63];
		x >>= 6;
	}
	dst[size - 1] = '\n';
}

static int
reply_ok(struct worker *w, const struct session *s, uint64_t seq,
    const char *line, size_t len)
{
	const struct opts *o = run.o;
	size_t i;
	char c;

	if (o->request != NULL)
		return len == o->request_len &&
		    memcmp(line, o->expect, len) == 0;
	if (len != o->size)
		return 0;
	gen_line(w->xbuf, o->size, o->seed, s->id, seq);
	for (i = 0; i < len; i++) {
		c = w->xbuf[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (line[i] != c)
			return 0;
	}
	return 1;
}

/* ---- the schedule heap (open loop, and -k 0 retries) ---- */

static void
heap_set(struct worker *w, size_t i, struct session *s)
{
	w->heap[i] = s;
	s->heap_pos = (long)i;
}

static void
heap_up(struct worker *w, size_t i)
{
	struct session *s = w->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (w->heap[parent]->next_due <= s->next_due)
			break;
		heap_set(w, i, w->heap[parent]);
		i = parent;
	}
	heap_set(w, i, s);
}

static void
heap_down(struct worker *w, size_t i)
{
	struct session *s = w->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= w->nheap)
			break;
		if (c + 1 < w->nheap &&
		    w->heap[c + 1]->next_due < w->heap[c]->next_due)
			c++;
		if (s->next_due <= w->heap[c]->next_due)
			break;
		heap_set(w, i, w->heap[c]);
		i = c;
	}
	heap_set(w, i, s);
}

static void
heap_remove(struct worker *w, struct session *s)
{
	size_t i;

	if (s->heap_pos < 0)
		return;
	i = (size_t)s->heap_pos;
	s->heap_pos = -1;
	if (i == --w->nheap)
		return;
	/* The last one fills the hole; it may belong above or below. */
	heap_set(w, i, w->heap[w->nheap]);
	heap_up(w, i);
	heap_down(w, i);
}

static void
heap_push(struct worker *w, struct session *s)
{
	heap_remove(w, s);
	w->heap[w->nheap] = s;
	s->heap_pos = (long)w->nheap;
	heap_up(w, w->nheap++);
}

/* ---- connections ---- */

static void
note_other(struct worker *w, const char *what, int err)
{
	if (w->errmsg[0] == '\0')
		snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", what,
		    strerror(err));
}

static int
set_events(struct worker *w, struct session *s, uint32_t ev)
{
	struct epoll_event e;

	if (s->events == ev)
		return 0;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = s;
	if (epoll_ctl(w->epfd, s->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    s->fd, &e) == -1)
		return -1;
	s->events = ev;
	return 0;
}

/* Drop the connection (if any) and what was in flight on it. */
static void
close_conn(struct worker *w, struct session *s)
{
	heap_remove(w, s);
	if (s->state == S_OPEN)
		w->nopen--;
	if (s->state == S_CONNECTING)
		w->nconnecting--;
	if (s->fd != -1) {
		/* close() of a socket only fails for a bad descriptor. */
		if (close(s->fd) == -1 && errno != EINTR)
			note_other(w, "close", errno);
		s->fd = -1;
	}
	s->events = 0;
	s->state = S_IDLE;
	s->got_first = 0;
	s->head = s->inflight = s->nstamped = 0;
	buf_clear(&s->in);
	buf_clear(&s->out);
	buf_shrink(&s->in, 4096);
}

static void
session_done(struct worker *w, struct session *s)
{
	if (s->state == S_DONE)
		return;
	close_conn(w, s);
	s->state = S_DONE;
	w->active--;
}

static void
session_fail(struct worker *w, struct session *s, enum err_kind kind,
    const char *what, int err, uint64_t now)
{
	unsigned i;

	w->st.errors[kind]++;
	if (kind == E_OTHER)
		note_other(w, what, err);
	for (i = 0; i < s->inflight; i++)
		if (s->ring[(s->head + i) % run.o->depth].measured)
			w->st.failed++;
	close_conn(w, s);
	/*
	 * A persistent session is not reopened: losing it changes the
	 * experiment, and the report says so.  With -k 0 the slot goes on
	 * with its next request, unless nobody listens any more.
	 */
	if (run.o->keepalive || kind == E_REFUSED) {
		w->st.lost++;
		session_done(w, s);
		return;
	}
	if (run.interval == 0)
		s->next_due = now + RETRY_DELAY;
	heap_push(w, s);
}

static enum err_kind
kind_of(int err, int connecting)
{
	switch (err) {
	case ECONNREFUSED:
		return E_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return E_RESET;
	case ETIMEDOUT:
		return connecting ? E_CONNECT_TIMEOUT : E_TIMEOUT;
	default:
		return E_OTHER;
	}
}

/* Write what is queued; keep EPOLLOUT interest only while some is left. */
static int
flush(struct worker *w, struct session *s, uint64_t now)
{
	const struct opts *o = run.o;
	size_t pend = buf_pending(&s->out);
	struct pending *p;
	ssize_t n = 0;

	if (pend > 0) {
		n = send(s->fd, buf_head(&s->out), pend, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			session_fail(w, s, kind_of(errno, 0), "send", errno,
			    now);
			return -1;
		}
	}
	if (n > 0) {
		/* Requests that started going out now are sent now. */
		while (s->nstamped < s->inflight) {
			p = &s->ring[(s->head + s->nstamped) % o->depth];
			p->t_sent = now;
			if (run.interval == 0)
				p->t_intended = now;
			s->nstamped++;
			w->st.sent++;
		}
		buf_consume(&s->out, (size_t)n);
		w->st.bytes_out += (uint64_t)n;
	}
	if (set_events(w, s, buf_pending(&s->out) ? EPOLLIN | EPOLLOUT :
	    EPOLLIN) == -1) {
		session_fail(w, s, E_OTHER, "epoll_ctl", errno, now);
		return -1;
	}
	return 0;
}

/* Queue one request (the bytes go out at the next flush). */
static int
commit(struct worker *w, struct session *s, uint64_t intended, int measured,
    uint64_t now)
{
	const struct opts *o = run.o;
	struct pending *p;
	char *dst;

	if (o->request != NULL) {
		if (buf_append(&s->out, o->request, o->request_len) == -1)
			return -1;
	} else {
		if ((dst = buf_reserve(&s->out, o->size)) == NULL)
			return -1;
		gen_line(dst, o->size, o->seed, s->id, s->seq);
		s->out.len += o->size;
	}
	p = &s->ring[(s->head + s->inflight) % o->depth];
	p->seq = s->seq++;
	p->t_intended = intended;
	p->t_sent = now;	/* until a write carries it */
	p->measured = measured;
	s->inflight++;
	if (measured)
		w->st.committed++;
	return 0;
}

static void
established(struct worker *w, struct session *s, uint64_t now)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (s->state == S_CONNECTING)
		w->nconnecting--;
	s->state = S_OPEN;
	w->nopen++;
	s->t_established = now;
	w->st.established++;
	hist_record(&w->st.conn, now - s->t_connect);
	/*
	 * Nothing but the SYN can have been retransmitted yet, so any
	 * retransmission counted on the socket is a SYN retry.
	 */
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    ti.tcpi_total_retrans > 0)
		w->st.syn_retrans++;
	if (now - s->t_connect >= SEC)
		w->st.slow_connects++;
	if (!run.o->keepalive)
		flush(w, s, now);	/* the request committed for it */
	else
		due(w, s, now);
}

static void
connect_start(struct worker *w, struct session *s, uint64_t now)
{
	const struct opts *o = run.o;
	int fd;

	s->conn++;
	s->t_connect = now;
	s->got_first = 0;
	w->st.connects++;
	fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		session_fail(w, s, E_OTHER, "socket", errno, now);
		return;
	}
	s->fd = fd;
	if (net_nodelay(fd, 1) == -1) {
		session_fail(w, s, E_OTHER, "TCP_NODELAY", errno, now);
		return;
	}
	if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) == 0) {
		established(w, s, now);
		return;
	}
	if (errno != EINPROGRESS) {
		session_fail(w, s, kind_of(errno, 1), "connect", errno, now);
		return;
	}
	s->state = S_CONNECTING;
	w->nconnecting++;
	if (set_events(w, s, EPOLLOUT) == -1)
		session_fail(w, s, E_OTHER, "epoll_ctl", errno, now);
}

static void
connect_done(struct worker *w, struct session *s, uint32_t events,
    uint64_t now)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr != 0) {
		session_fail(w, s, kind_of(soerr, 1), "connect", soerr, now);
		return;
	}
	if (events & EPOLLOUT)
		established(w, s, now);
}

/* ---- sending ---- */

/* Closed loop: may one more request go out now?  Counts it for -n. */
static int
take(struct worker *w, uint64_t now, int *measured)
{
	if (atomic_load_explicit(&run.stop, memory_order_relaxed) ||
	    (run.deadline && now >= run.deadline))
		return 0;
	*measured = now >= run.measure_start;
	if (*measured && run.o->total) {
		if (w->budget == 0)
			return 0;
		w->budget--;
	}
	return 1;
}

/* Open loop: has this slot requests left on its schedule? */
static int
more(const struct session *s)
{
	if (atomic_load_explicit(&run.stop, memory_order_relaxed))
		return 0;
	if (run.deadline && s->next_due >= run.deadline)
		return 0;
	if (run.o->total && s->quota == 0 && s->next_due >= run.measure_start)
		return 0;
	return 1;
}

/*
 * A persistent session has room or time has come: send what it may.
 * Closed loop: fill the ring.  Open loop: every request already due.
 */
static void
due(struct worker *w, struct session *s, uint64_t now)
{
	const struct opts *o = run.o;
	unsigned depth = (unsigned)o->depth;
	int measured, n = 0;

	if (run.interval == 0) {
		while (s->inflight < depth && take(w, now, &measured)) {
			if (commit(w, s, now, measured, now) == -1)
				goto nomem;
			n++;
		}
		if (s->inflight == 0) {
			session_done(w, s);
			return;
		}
		if (n > 0 || buf_pending(&s->out) || s->events != EPOLLIN)
			flush(w, s, now);
		return;
	}
	while (s->inflight < depth && s->next_due <= now && more(s)) {
		measured = s->next_due >= run.measure_start;
		if (measured && o->total)
			s->quota--;
		if (commit(w, s, s->next_due, measured, now) == -1)
			goto nomem;
		s->next_due += run.interval;
		n++;
		if (!o->keepalive)
			break;
	}
	if (s->inflight == 0 && !more(s)) {
		session_done(w, s);
		return;
	}
	if (s->inflight < depth && more(s))
		heap_push(w, s);
	if (!o->keepalive) {
		if (n > 0)
			connect_start(w, s, now);
		return;
	}
	if (n > 0 || buf_pending(&s->out) || s->events != EPOLLIN)
		flush(w, s, now);
	return;
nomem:
	session_fail(w, s, E_OTHER, "request", ENOMEM, now);
}

/* -k 0: the slot's next request on a new connection. */
static void
cycle(struct worker *w, struct session *s, uint64_t now)
{
	int measured;

	if (run.interval != 0) {
		due(w, s, now);
		return;
	}
	if (!take(w, now, &measured)) {
		session_done(w, s);
		return;
	}
	if (commit(w, s, now, measured, now) == -1) {
		session_fail(w, s, E_OTHER, "request", ENOMEM, now);
		return;
	}
	connect_start(w, s, now);
}

/* ---- receiving ---- */

/* One reply line.  0: go on reading; -1: this connection is over. */
static int
on_reply(struct worker *w, struct session *s, const char *line, size_t len,
    uint64_t now)
{
	const struct opts *o = run.o;
	struct pending *p;
	uint64_t held;
	int good;

	if (s->inflight == 0) {
		session_fail(w, s, o->verify ? E_MISMATCH : E_OTHER,
		    "reply", EPROTO, now);
		return -1;
	}
	p = &s->ring[s->head];
	if (!s->got_first) {
		/* Less any time our own schedule held the request back. */
		held = p->t_sent > s->t_established ?
		    p->t_sent - s->t_established : 0;
		hist_record(&w->st.first, now - s->t_connect - held);
		s->got_first = 1;
	}
	good = !o->verify || reply_ok(w, s, p->seq, line, len);
	if (!good) {
		w->st.errors[E_MISMATCH]++;
		if (p->measured)
			w->st.failed++;
	} else if (p->measured) {
		hist_record(&w->st.lat, now - p->t_intended);
		hist_record(&w->st.lat_unc, now - p->t_sent);
		w->st.completed++;
	} else
		w->st.warm++;
	s->head = (s->head + 1) % (unsigned)o->depth;
	s->inflight--;
	if (s->nstamped > 0)
		s->nstamped--;
	if (!o->keepalive) {
		/* UNP's client: one request, one reply, close. */
		close_conn(w, s);
		cycle(w, s, now);
		return -1;
	}
	return 0;
}

static void
readable(struct worker *w, struct session *s, uint64_t now)
{
	int partial = buf_pending(&s->in) > 0;
	const char *data, *p, *end, *nl;
	size_t len;
	ssize_t n;
	char *dst;

	dst = partial ? buf_reserve(&s->in, RBUF_SIZE) : w->rbuf;
	if (dst == NULL) {
		session_fail(w, s, E_OTHER, "read", ENOMEM, now);
		return;
	}
	n = read(s->fd, dst, RBUF_SIZE);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			session_fail(w, s, kind_of(errno, 0), "read", errno,
			    now);
		return;
	}
	if (n == 0) {
		/* We always close first; an EOF is the server giving up. */
		session_fail(w, s, E_CLOSED, "read", 0, now);
		return;
	}
	w->st.bytes_in += (uint64_t)n;
	if (partial) {
		s->in.len += (size_t)n;
		data = buf_head(&s->in);
		len = buf_pending(&s->in);
	} else {
		data = w->rbuf;
		len = (size_t)n;
	}
	for (p = data, end = data + len;
	    p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p = nl + 1)
		if (on_reply(w, s, p, (size_t)(nl - p + 1), now) == -1)
			return;
	if (partial)
		buf_consume(&s->in, (size_t)(p - data));
	else if (p < end && buf_append(&s->in, p, (size_t)(end - p)) == -1) {
		session_fail(w, s, E_OTHER, "read", ENOMEM, now);
		return;
	}
	if (buf_pending(&s->in) > MAX_REPLY + run.o->size) {
		session_fail(w, s, run.o->verify ? E_MISMATCH : E_OTHER,
		    "reply", EMSGSIZE, now);
		return;
	}
	due(w, s, now);
}

static void
handle(struct worker *w, struct session *s, uint32_t events, uint64_t now)
{
	uint32_t conn = s->conn;

	if (s->state == S_CONNECTING) {
		connect_done(w, s, events, now);
		return;
	}
	if (s->state != S_OPEN)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		readable(w, s, now);
		if (s->state != S_OPEN || s->conn != conn)
			return;
	}
	if (events & EPOLLOUT)
		flush(w, s, now);
}

/* ---- the loop ---- */

static void
timeouts(struct worker *w, uint64_t now)
{
	const struct opts *o = run.o;
	struct session *s;
	size_t i;

	for (i = 0; i < w->nsess; i++) {
		s = &w->sess[i];
		if (s->state == S_CONNECTING &&
		    now - s->t_connect >= o->connect_timeout)
			session_fail(w, s, E_CONNECT_TIMEOUT, "connect",
			    ETIMEDOUT, now);
		else if (s->state == S_OPEN && s->inflight > 0 &&
		    now - s->ring[s->head].t_sent >= o->timeout)
			session_fail(w, s, E_TIMEOUT, "reply", ETIMEDOUT, now);
	}
}

/*
 * Start the slots whose opening time has come (all at once by default),
 * OPEN_BATCH at a time: between batches the loop looks at its events, so
 * that a connect is timed when it completes, not after thousands of
 * other connect() calls.
 */
static void
open_due(struct worker *w, uint64_t now)
{
	struct session *s;
	int n = 0;

	while (w->next_open < w->nsess && n++ < OPEN_BATCH) {
		s = &w->sess[w->next_open];
		if (s->t_open > now)
			break;
		w->next_open++;
		if (run.o->keepalive)
			connect_start(w, s, now);
		else if (run.interval != 0)
			heap_push(w, s);	/* at its first due time */
		else
			cycle(w, s, now);
	}
}

static void
run_heap(struct worker *w, uint64_t now)
{
	struct session *s;

	while (w->nheap > 0 && w->heap[0]->next_due <= now) {
		s = w->heap[0];
		heap_remove(w, s);
		if (run.o->keepalive)
			due(w, s, now);
		else
			cycle(w, s, now);
	}
}

static int
wait_events(struct worker *w, struct epoll_event *ev, uint64_t ns)
{
	static atomic_int no_pwait2;
	struct timespec ts;
	int n;

	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		ts.tv_sec = (time_t)(ns / SEC);
		ts.tv_nsec = (long)(ns % SEC);
		n = epoll_pwait2(w->epfd, ev, MAX_EVENTS, &ts, NULL);
		if (n != -1 || errno != ENOSYS)
			return n;
		atomic_store(&no_pwait2, 1);
	}
	/* Round up: waking early would only spin. */
	return epoll_wait(w->epfd, ev, MAX_EVENTS, (int)((ns + MS - 1) / MS));
}

static void
publish(struct worker *w)
{
	uint64_t e = 0;
	int i;

	for (i = 0; i < E_NKINDS; i++)
		e += w->st.errors[i];
	atomic_store_explicit(&w->p_done, w->st.completed + w->st.warm,
	    memory_order_relaxed);
	atomic_store_explicit(&w->p_errors, e, memory_order_relaxed);
	atomic_store_explicit(&w->p_open, w->nopen, memory_order_relaxed);
	atomic_store_explicit(&w->p_connecting, w->nconnecting,
	    memory_order_relaxed);
}

static uint64_t
next_wake(struct worker *w, uint64_t now, uint64_t next_scan)
{
	uint64_t t = now + WAKE_MAX;

	if (next_scan < t)
		t = next_scan;
	if (run.deadline && run.deadline < t)
		t = run.deadline;
	if (w->nheap > 0 && w->heap[0]->next_due < t)
		t = w->heap[0]->next_due;
	if (w->next_open < w->nsess && w->sess[w->next_open].t_open < t)
		t = w->sess[w->next_open].t_open;
	return t > now ? t - now : 0;
}

static uint64_t
scan_period(const struct opts *o)
{
	uint64_t t = o->timeout < o->connect_timeout ? o->timeout :
	    o->connect_timeout;

	t /= 20;
	if (t < 5 * MS)
		t = 5 * MS;
	if (t > WAKE_MAX)
		t = WAKE_MAX;
	return t;
}

/* Opening times and schedules, now that t0 is known. */
static void
plan_sessions(struct worker *w)
{
	const struct opts *o = run.o;
	struct session *s;
	size_t i;

	for (i = 0; i < w->nsess; i++) {
		s = &w->sess[i];
		s->t_open = run.t0;
		if (o->connect_rate > 0)
			s->t_open += (uint64_t)((double)s->id * 1e9 /
			    o->connect_rate);
		/* Slots are spread evenly over the first interval. */
		if (o->rate > 0)
			s->next_due = s->t_open +
			    (uint64_t)((double)s->id * 1e9 / o->rate);
	}
}

/*
 * At the end of the run: the requests this session wrote that got no
 * reply.  They did not fail (nothing went wrong, the run just ended), so
 * they are neither errors nor failures; but one sent in the warm-up and
 * still unanswered waited through the whole measured window, as in a
 * session the server never served.
 */
static void
count_unanswered(struct worker *w, const struct session *s)
{
	const struct pending *p;
	unsigned i;

	for (i = 0; i < s->nstamped; i++) {
		p = &s->ring[(s->head + i) % (unsigned)run.o->depth];
		w->st.unanswered++;
		if (!p->measured)
			w->st.unanswered_warm++;
	}
}

void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t now, period = scan_period(run.o), next_scan;
	size_t i;
	int n;

	plan_sessions(w);
	/*
	 * The open-loop schedule is only as punctual as our wake-ups: the
	 * default 50 us timer slack would show up as latency.  Best effort.
	 */
	if (run.o->rate > 0 && prctl(PR_SET_TIMERSLACK, 1000UL) == -1)
		note_other(w, "prctl PR_SET_TIMERSLACK", errno);
	now = now_ns();
	next_scan = now + period;
	for (;;) {
		now = now_ns();
		if (atomic_load_explicit(&run.stop, memory_order_relaxed) ||
		    (run.deadline && now >= run.deadline))
			break;
		open_due(w, now);
		run_heap(w, now);
		if (now >= next_scan) {
			timeouts(w, now);
			next_scan = now + period;
		}
		publish(w);
		if (w->active == 0)
			break;
		n = wait_events(w, ev, next_wake(w, now, next_scan));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			note_other(w, "epoll_wait", errno);
			w->st.errors[E_OTHER]++;
			break;
		}
		for (i = 0; i < (size_t)n; i++)
			handle(w, ev[i].data.ptr, ev[i].events, now_ns());
	}
	w->st.t_end = now;
	for (i = 0; i < w->nsess; i++) {
		count_unanswered(w, &w->sess[i]);
		close_conn(w, &w->sess[i]);
	}
	publish(w);
	atomic_store(&w->finished, 1);
	/* Wake the main thread, which waits in sigtimedwait(). */
	pthread_kill(run.main_thread, SIGUSR1);
	return NULL;
}

/* ---- set-up ---- */

int
worker_init(struct worker *w, int id, const struct opts *o)
{
	struct session *s;
	size_t i;
	uint64_t share;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->epfd = -1;
	/* Session k belongs to thread k % threads. */
	w->nsess = (size_t)(o->sessions / o->threads +
	    (id < o->sessions % o->threads));
	w->active = w->nsess;
	w->sess = calloc(w->nsess, sizeof(*w->sess));
	w->heap = calloc(w->nsess, sizeof(*w->heap));
	w->rbuf = malloc(RBUF_SIZE);
	w->xbuf = malloc(o->size);
	if (w->sess == NULL || w->heap == NULL || w->rbuf == NULL ||
	    w->xbuf == NULL || stats_init(&w->st) == -1)
		return -1;
	for (i = 0; i < w->nsess; i++) {
		s = &w->sess[i];
		s->fd = -1;
		s->heap_pos = -1;
		s->id = (uint32_t)(i * (size_t)o->threads + (size_t)id);
		buf_init(&s->in);
		buf_init(&s->out);
		s->ring = calloc((size_t)o->depth, sizeof(*s->ring));
		if (s->ring == NULL)
			return -1;
		/* -n is shared out evenly; the first ones take the rest. */
		share = o->total / (uint64_t)o->sessions +
		    (s->id < o->total % (uint64_t)o->sessions);
		s->quota = share;
		w->budget += share;
	}
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	return 0;
}

void
worker_free(struct worker *w)
{
	size_t i;

	for (i = 0; w->sess != NULL && i < w->nsess; i++) {
		free(w->sess[i].ring);
		buf_free(&w->sess[i].in);
		buf_free(&w->sess[i].out);
	}
	free(w->sess);
	free(w->heap);
	free(w->rbuf);
	free(w->xbuf);
	stats_free(&w->st);
	if (w->epfd != -1 && close(w->epfd) == -1)
		log_err("close epoll: %s", strerror(errno));
}
