/*
 * loadgen_recv.c - a session's replies: read, matched, recorded.
 *
 * The bytes read are matched against the replies expected, oldest request
 * first, as they arrive (loadgen_lines.c); each whole reply is recorded
 * against its request (on_reply): latency from its due time and from its
 * write, or a mismatch.  Nothing is buffered: a reply may span any number
 * of reads.
 */
#include <errno.h>
#include <unistd.h>

#include "loadgen_session.h"

#define MAX_REPLY	65536	/* longest wrong reply line we skip */

static void
first_reply(struct worker *w, struct session *s, uint64_t now)
{
	const struct pending *p = ring_at(s, 0);
	uint64_t held;

	/* Less any time our own schedule held the request back. */
	held = p->t_sent > s->t_established ? p->t_sent - s->t_established : 0;
	hist_record(&w->st.first, now - s->t_connect - held);
	s->got_first = 1;
}

/* A whole reply to the oldest request: right (1) or wrong (-1). */
static int
on_reply(struct worker *w, struct session *s, int verdict, uint64_t now)
{
	const struct pending *p = ring_at(s, 0);

	if (s->nsent == 0) {
		/* An answer to a request not yet written whole. */
		session_fail(w, s, run.o->verify ? E_MISMATCH : E_OTHER,
		    "reply", EPROTO);
		return -1;
	}
	if (!s->got_first)
		first_reply(w, s, now);
	s->t_reply = now;
	if (verdict < 0) {
		w->st.errors[E_MISMATCH]++;
		w->st.failed += p->measured != 0;
	} else {
		w->st.replies += now >= run.measure_start;
		if (p->measured) {
			record_latency(w, now - p->t_intended,
			    now - p->t_sent, 1);
			w->st.completed++;
		} else
			w->st.warm++;
	}
	s->head = (s->head + 1) % (unsigned)run.o->depth;
	s->inflight--;
	s->nsent--;
	if (run.o->keepalive)
		return 0;
	/* UNP's client: one request, one reply, close. */
	close_conn(w, s);
	pump(w, s, now);
	return -1;
}

/* Bytes read: the replies they hold.  -1: this connection is over. */
static int
take_replies(struct worker *w, struct session *s, const char *d, size_t n,
    uint64_t now)
{
	size_t k;
	int verdict;

	while (n > 0) {
		if (s->inflight == 0) {
			session_fail(w, s, run.o->verify ? E_MISMATCH :
			    E_OTHER, "reply", EPROTO);
			return -1;
		}
		k = reply_feed(&s->rx, s->id, ring_at(s, 0)->seq, d, n,
		    &verdict);
		d += k;
		n -= k;
		if (verdict != 0 && on_reply(w, s, verdict, now) == -1)
			return -1;
	}
	if (s->rx.off > MAX_REPLY + run.o->size) {
		session_fail(w, s, run.o->verify ? E_MISMATCH : E_OTHER,
		    "reply", EMSGSIZE);
		return -1;
	}
	return 0;
}

void
readable(struct worker *w, struct session *s, uint64_t now)
{
	ssize_t n = read(s->fd, w->rbuf, RBUF_SIZE);

	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			session_fail(w, s, kind_of(errno, 0), "read", errno);
		return;
	}
	if (n == 0) {
		/* We always close first; an EOF is the server giving up. */
		session_fail(w, s, E_CLOSED, "read", 0);
		return;
	}
	w->st.bytes_in += (uint64_t)n;
	if (take_replies(w, s, w->rbuf, (size_t)n, now) == 0)
		pump(w, s, now);
}

