/*
 * loadgen_clock.c - unit test: loadgen reads the clock when a thing
 * happens, never from the top of its loop (issue 10, item 4).
 *
 * A loop that stamps its writes, or computes its sleep, from the time it
 * read at its top charges its own lateness to the server: the request
 * goes out late and its latency counts from a send time that was never
 * true.  Here the clock is a variable the test moves: the loop's time is
 * handed to pump() while the clock has already gone on, and what loadgen
 * records must be the clock's time, not the loop's.
 */
#define _GNU_SOURCE		/* as loadgen_session.c: epoll_pwait2 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

/* The pieces of loadgen that send; the clock and the totals are ours. */
#include "../../bench/loadgen_session.c"
#include "../../bench/loadgen_pace.c"
#include "../../bench/loadgen_conn.c"
#include "../../bench/loadgen_source.c"
#include "../../bench/loadgen_heap.c"
#include "../../bench/loadgen_lines.c"
#include "../../bench/loadgen_recv.c"
#include "../../bench/hist.c"

static uint64_t fake_now;

uint64_t
now_ns(void)
{
	return fake_now;
}

int
stats_init(struct stats *st)
{
	memset(st, 0, sizeof(*st));
	return 0;
}

void
stats_free(struct stats *st)
{
	(void)st;
}

void
account_end(struct worker *w, struct session *s, uint64_t end)
{
	(void)w, (void)s, (void)end;
}

void
record_latency(struct worker *w, uint64_t lat, uint64_t unc, int has_unc)
{
	(void)w, (void)lat, (void)unc, (void)has_unc;
}

int
iv_worker_init(struct worker *w, const struct opts *o)
{
	(void)w, (void)o;
	return 0;
}

void
iv_worker_free(struct worker *w)
{
	(void)w;
}

int
main(void)
{
	static struct opts o;
	static struct worker w;
	static struct session s;
	static struct session *heap[1];
	struct pending ring[4];
	const uint64_t top = 10 * SEC, later = top + 7 * MS;
	int sv[2];

	plan(5);
	o.depth = 4;
	o.keepalive = 1;
	o.size = 16;
	o.rate = 1000;
	run.o = &o;
	run.t0 = run.measure_start = top;
	run.interval = SEC / 1000;
	if (lines_init(&o) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (w.epfd = epoll_create1(0)) == -1)
		return 1;
	w.heap = heap;
	w.nsess = 1;
	s.fd = sv[0];
	s.state = S_OPEN;
	s.heap_pos = -1;
	s.ring = ring;
	s.t_first = top;

	/* Request 0 fell due at the loop top; the write happens 7 ms on. */
	fake_now = later;
	pump(&w, &s, top);
	is(s.inflight, 1, "the request due at the loop top is taken");
	is(s.nsent, 1, "and written");
	ok(ring[0].t_intended == top, "latency counts from its due time");
	ok(ring[0].t_sent == later,
	    "its send time is the clock's at the write, not the loop's "
	    "(%.3f ms after the top, want 7)",
	    (double)(ring[0].t_sent - top) / MS);

	/* pump() put it back for request 1, due 1 ms after the top: by the
	 * clock already 6 ms late, so there is no sleeping for it. */
	ok(s.heap_pos == 0 && s.wake == top + MS &&
	    next_wake(&w, top + SEC) == 0,
	    "the sleep is computed from a fresh clock: a request already "
	    "due is not waited for");
	lines_free();
	close(sv[0]);
	close(sv[1]);
	close(w.epfd);
	return done_testing();
}
