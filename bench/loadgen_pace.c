/*
 * loadgen_pace.c - when is a session's next request due, and may it go.
 *
 * The one place that knows the two pacings:
 *
 * Closed loop: a request is due as soon as the session has room for it
 * (a reply came back), until the deadline or until -n's measured budget,
 * shared by the thread, is spent.
 *
 * Open loop (--rate): request k of a session is due at
 * first + k * interval, whatever happened before; computed from k, here
 * only, so that no lateness accumulates (wrk2).  When the ring is full a
 * due request waits, and still counts from its due time (the correction
 * for coordinated omission); one that never went out by the end of the run
 * is still counted (loadgen_stats.c).
 *
 * A -k 0 slot whose connection failed tries again no sooner than
 * not_before, in either pacing.
 */
#include "loadgen_session.h"

/* Open loop: when request k of s is due. */
static uint64_t
schedule(const struct session *s, uint64_t k)
{
	return s->t_first + k * run.interval;
}

/* Opening times, and the open-loop schedules, now that t0 is known. */
void
pace_plan(struct worker *w)
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
		/* Sessions are spread evenly over the first interval. */
		s->t_first = s->t_open;
		if (o->rate > 0)
			s->t_first += (uint64_t)((double)s->id * 1e9 / o->rate);
		heap_push(w, s, s->t_open);
	}
}

/* When the next request of s is due (maybe before now), or PACE_NONE. */
uint64_t
pace_due(const struct worker *w, const struct session *s, uint64_t now)
{
	const struct opts *o = run.o;
	uint64_t t;

	if (run.interval == 0) {
		if (run.deadline && now >= run.deadline)
			return PACE_NONE;
		if (o->total && w->budget == 0 && now >= run.measure_start)
			return PACE_NONE;
		t = now;
	} else {
		t = schedule(s, s->seq);
		if (run.deadline && t >= run.deadline)
			return PACE_NONE;
		if (o->total && s->quota == 0 && t >= run.measure_start)
			return PACE_NONE;
	}
	return t > s->not_before ? t : s->not_before;
}

/* If the next request of s is due by now, take it on: 1 and *p. */
int
pace_take(struct worker *w, struct session *s, uint64_t now,
    struct pending *p)
{
	uint64_t t = pace_due(w, s, now);

	if (t == PACE_NONE || t > now)
		return 0;
	/* Latency counts from when it was due, not from a retry. */
	t = run.interval ? schedule(s, s->seq) : now;
	p->seq = s->seq++;
	p->t_intended = t;
	p->t_sent = now;	/* until a write carries it */
	p->measured = t >= run.measure_start;
	if (p->measured && run.o->total) {
		if (run.interval)
			s->quota--;
		else
			w->budget--;
	}
	return 1;
}
