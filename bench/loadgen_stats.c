/*
 * loadgen_stats.c - what one thread measures, and the end of a run.
 *
 * Every request that fell due is accounted for (wrk2's rule: latency
 * counts from when a request was due, whatever the server did): answered
 * (right or wrong), lost to an error, or owed when the run ended.  What is
 * owed at the end, written or not, waited end - due: that wait is
 * recorded apart (stats.wait), and in the open loop, where due times do
 * not depend on the server, also in the corrected latency, censored at the
 * end, so that a server that stops answering shows as latency.  A closed
 * loop ends with one request per session and pipeline slot in flight,
 * which says nothing about the server: its latency keeps answered
 * requests only.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "loadgen_session.h"

uint64_t
now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; if it did, no figure holds. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die(1, "clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

int
stats_init(struct stats *st)
{
	memset(st, 0, sizeof(*st));
	if (hist_init(&st->lat, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->lat_unc, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->conn, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->first, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&st->wait, HIST_NS_MAX, HIST_SUB_BITS) == -1) {
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
	hist_free(&st->wait);
}

int
stats_merge(struct stats *d, const struct stats *s)
{
	int i;

	if (hist_merge(&d->lat, &s->lat) == -1 ||
	    hist_merge(&d->lat_unc, &s->lat_unc) == -1 ||
	    hist_merge(&d->conn, &s->conn) == -1 ||
	    hist_merge(&d->first, &s->first) == -1 ||
	    hist_merge(&d->wait, &s->wait) == -1)
		return -1;
	d->committed += s->committed;
	d->completed += s->completed;
	d->replies += s->replies;
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
	d->unsent += s->unsent;
	d->stalled += s->stalled;
	d->unopened += s->unopened;
	d->bytes_out += s->bytes_out;
	d->bytes_in += s->bytes_in;
	if (s->t_end > d->t_end)
		d->t_end = s->t_end;
	return 0;
}

/*
 * With --interval the main thread takes this interval's histograms now
 * and then: a lock it rarely holds, so almost always uncontended.
 */
void
record_latency(struct worker *w, uint64_t lat, uint64_t unc, int has_unc)
{
	int err;

	hist_record(&w->st.lat, lat);
	if (has_unc)
		hist_record(&w->st.lat_unc, unc);
	if (!w->iv_on)
		return;
	if ((err = pthread_mutex_lock(&w->iv_lock)) != 0)
		die(1, "pthread_mutex_lock: %s", strerror(err));
	hist_record(&w->iv_lat, lat);
	if (has_unc)
		hist_record(&w->iv_unc, unc);
	pthread_mutex_unlock(&w->iv_lock);
}

/* One request owed at the end; *oldest: the earliest due time owed. */
static void
owed(struct worker *w, const struct pending *p, int unsent, uint64_t end,
    uint64_t *oldest)
{
	uint64_t waited = end > p->t_intended ? end - p->t_intended : 0;

	w->st.unanswered++;
	if (!p->measured)
		w->st.unanswered_warm++;
	if (unsent)
		w->st.unsent++;
	hist_record(&w->st.wait, waited);
	if (p->measured && run.interval != 0)
		record_latency(w, waited, 0, 0);
	if (p->t_intended < *oldest)
		*oldest = p->t_intended;
}

/*
 * The run is over: what does session s still owe?  Its ring, and in the
 * open loop the requests that fell due while the ring was full.  A session
 * owed a reply that got none for half the measured window or more (since
 * its last reply, or since the oldest request it is owed was due) was not
 * being served: the run says so in its exit status.  A server that answers
 * slower than the rate still answers: not stalled.
 */
void
account_end(struct worker *w, struct session *s, uint64_t end)
{
	struct pending p;
	uint64_t since = PACE_NONE;
	unsigned i;

	/* Never connected, or the handshake never done: never served. */
	if (run.o->keepalive && s->state != S_OPEN && s->state != S_DONE)
		w->st.unopened++;
	for (i = 0; i < s->inflight; i++)
		owed(w, ring_at(s, i), i > s->nsent ||
		    (i == s->nsent && s->woff == 0), end, &since);
	while (run.interval != 0 && s->state != S_DONE &&
	    pace_take(w, s, end, &p)) {
		if (p.measured)
			w->st.committed++;
		owed(w, &p, 1, end, &since);
	}
	if (since == PACE_NONE || end <= run.measure_start)
		return;
	if (s->t_reply > since)
		since = s->t_reply;
	if (end - since >= (end - run.measure_start) / 2)
		w->st.stalled++;
}
