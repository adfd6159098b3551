#define _GNU_SOURCE		/* TCP_INFO */
/*
 * loadgen_conn.c - a session's connection: connect, write, close, errors.
 *
 * Every time is taken when the thing happens (now_ns() is a vDSO call):
 * a connect from just before its connect(), a request from just before the
 * write that carries its first byte.  Requests are written straight from
 * the line pool (writev of the ring), never copied.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "loadgen_session.h"

#define RETRY_DELAY	MS	/* -k 0: a failed slot tries again after */
#define IOV_BATCH	64	/* requests per writev */

const char *const err_names[E_NKINDS] = {
	"refused", "reset", "closed", "timeout", "connect_timeout",
	"mismatch", "other"
};

void
note_other(struct worker *w, const char *what, int err)
{
	if (w->errmsg[0] == '\0')
		snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", what,
		    strerror(err));
}

int
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
void
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
	s->head = s->inflight = s->nsent = 0;
	s->woff = 0;
	memset(&s->rx, 0, sizeof(s->rx));
}

void
session_done(struct worker *w, struct session *s)
{
	if (s->state == S_DONE)
		return;
	close_conn(w, s);
	s->state = S_DONE;
	w->active--;
}

void
session_fail(struct worker *w, struct session *s, enum err_kind kind,
    const char *what, int err)
{
	unsigned i;

	w->st.errors[kind]++;
	if (kind == E_OTHER)
		note_other(w, what, err);
	for (i = 0; i < s->inflight; i++)
		if (ring_at(s, i)->measured)
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
	s->not_before = now_ns() + RETRY_DELAY;
	pump(w, s, now_ns());
}

enum err_kind
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

/* n bytes went out: stamp the requests whose first byte was among them. */
static void
advance(struct worker *w, struct session *s, size_t n, uint64_t t)
{
	struct pending *p;
	size_t len, left;

	w->st.bytes_out += n;
	while (n > 0) {
		p = ring_at(s, s->nsent);
		line_request(s->id, p->seq, &len);
		if (s->woff == 0) {
			p->t_sent = t;
			w->st.sent++;
		}
		left = len - s->woff;
		if (n < left) {
			s->woff += n;
			return;
		}
		n -= left;
		s->woff = 0;
		s->nsent++;
	}
}

/* Write what is queued; keep EPOLLOUT interest only while some is left. */
int
flush(struct worker *w, struct session *s)
{
	struct iovec iov[IOV_BATCH];
	struct msghdr msg;
	const char *line;
	size_t len, off;
	unsigned i, cnt = 0;
	uint64_t t;
	ssize_t n;

	for (i = s->nsent; i < s->inflight && cnt < IOV_BATCH; i++, cnt++) {
		line = line_request(s->id, ring_at(s, i)->seq, &len);
		off = i == s->nsent ? s->woff : 0;
		iov[cnt].iov_base = (char *)line + off;
		iov[cnt].iov_len = len - off;
	}
	if (cnt > 0) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = cnt;
		t = now_ns();
		n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			session_fail(w, s, kind_of(errno, 0), "send", errno);
			return -1;
		}
		if (n > 0)
			advance(w, s, (size_t)n, t);
	}
	if (set_events(w, s, s->nsent < s->inflight ? EPOLLIN | EPOLLOUT :
	    EPOLLIN) == -1) {
		session_fail(w, s, E_OTHER, "epoll_ctl", errno);
		return -1;
	}
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
	pump(w, s, now);
}

void
connect_start(struct worker *w, struct session *s)
{
	const struct opts *o = run.o;
	int fd;

	s->conn++;
	s->got_first = 0;
	w->st.connects++;
	fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		session_fail(w, s, E_OTHER, "socket", errno);
		return;
	}
	s->fd = fd;
	if (net_nodelay(fd, 1) == -1) {
		session_fail(w, s, E_OTHER, "TCP_NODELAY", errno);
		return;
	}
	if (source_bind(fd, o, o->session_base + s->id) == -1) {
		session_fail(w, s, E_OTHER, "bind --source", errno);
		return;
	}
	s->t_connect = now_ns();
	if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) == 0) {
		established(w, s, now_ns());
		return;
	}
	if (errno != EINPROGRESS) {
		session_fail(w, s, kind_of(errno, 1), "connect", errno);
		return;
	}
	s->state = S_CONNECTING;
	w->nconnecting++;
	if (set_events(w, s, EPOLLOUT) == -1)
		session_fail(w, s, E_OTHER, "epoll_ctl", errno);
}

void
connect_done(struct worker *w, struct session *s, uint32_t events,
    uint64_t now)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr != 0) {
		session_fail(w, s, kind_of(soerr, 1), "connect", soerr);
		return;
	}
	if (events & EPOLLOUT)
		established(w, s, now);
}
