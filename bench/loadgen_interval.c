/*
 * loadgen_interval.c - --interval: the run cut into intervals of time, so
 * that a stall or a warm-up shows as a dip, and --hlog, the same
 * intervals as an HdrHistogram log (loadgen_hlog.c).
 *
 * Each worker records every measured latency also into a pair of interval
 * histograms under its own lock; at every boundary the main thread takes
 * them (sum, then reset) under that lock.  So an interval is cut on the
 * main thread's clock, the intervals add up exactly to the run's
 * histograms, and a worker waiting in epoll_wait() holds nothing up.
 * Replies and errors per interval come from the progress counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loadgen.h"

int
iv_worker_init(struct worker *w, const struct opts *o)
{
	int err;

	if (o->period == 0)
		return 0;
	if ((err = pthread_mutex_init(&w->iv_lock, NULL)) != 0) {
		errno = err;
		return -1;
	}
	w->iv_on = 1;
	if (hist_init(&w->iv_lat, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&w->iv_unc, HIST_NS_MAX, HIST_SUB_BITS) == -1)
		return -1;
	return 0;
}

void
iv_worker_free(struct worker *w)
{
	if (!w->iv_on)
		return;
	hist_free(&w->iv_lat);
	hist_free(&w->iv_unc);
	pthread_mutex_destroy(&w->iv_lock);
	w->iv_on = 0;
}

int
iv_open(struct intervals *iv, const struct opts *o, char *err, size_t n)
{
	memset(iv, 0, sizeof(*iv));
	if (hist_init(&iv->lat, HIST_NS_MAX, HIST_SUB_BITS) == -1 ||
	    hist_init(&iv->unc, HIST_NS_MAX, HIST_SUB_BITS) == -1) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	iv->start = run.t0;
	if (o->hlog == NULL)
		return 0;
	iv->hlog_path = o->hlog;
	if ((iv->hlog = fopen(o->hlog, "w")) == NULL ||
	    hlog_header(iv->hlog, run.wall0) == -1) {
		snprintf(err, n, "--hlog %s: %s", o->hlog, strerror(errno));
		return -1;
	}
	return 0;
}

static void
take(struct worker *w, struct intervals *iv)
{
	int err;

	if ((err = pthread_mutex_lock(&w->iv_lock)) != 0)
		die(1, "pthread_mutex_lock: %s", strerror(err));
	/* Same shape by construction: hist_merge() cannot fail here. */
	(void)hist_merge(&iv->lat, &w->iv_lat);
	(void)hist_merge(&iv->unc, &w->iv_unc);
	hist_reset(&w->iv_lat);
	hist_reset(&w->iv_unc);
	pthread_mutex_unlock(&w->iv_lock);
}

static int
grow(struct intervals *iv)
{
	struct ivpoint *p;
	size_t cap = iv->cap ? 2 * iv->cap : 64;

	if (iv->n < iv->cap)
		return 0;
	if ((p = realloc(iv->pts, cap * sizeof(*p))) == NULL)
		return -1;
	iv->pts = p;
	iv->cap = cap;
	return 0;
}

/* Close the interval [iv->start, now); the next one starts at now. */
int
iv_cut(struct intervals *iv, struct worker *ws, int nw, uint64_t now)
{
	struct ivpoint *p;
	uint64_t done = 0, errs = 0;
	int i;

	if (now <= iv->start || grow(iv) == -1)
		return now <= iv->start ? 0 : -1;
	hist_reset(&iv->lat);
	hist_reset(&iv->unc);
	for (i = 0; i < nw; i++) {
		take(&ws[i], iv);
		done += atomic_load_explicit(&ws[i].p_done,
		    memory_order_relaxed);
		errs += atomic_load_explicit(&ws[i].p_errors,
		    memory_order_relaxed);
	}
	p = &iv->pts[iv->n++];
	p->start = (double)(iv->start - run.t0) / 1e9;
	p->length = (double)(now - iv->start) / 1e9;
	p->replies = done - iv->done;
	p->errors = errs - iv->errors;
	p->count = hist_count(&iv->lat);
	p->p50 = hist_percentile(&iv->lat, 50);
	p->p90 = hist_percentile(&iv->lat, 90);
	p->p99 = hist_percentile(&iv->lat, 99);
	p->max = hist_max(&iv->lat);
	iv->start = now;
	iv->done = done;
	iv->errors = errs;
	if (iv->hlog != NULL && !iv->failed &&
	    (hlog_line(iv->hlog, "corrected", p->start, p->length,
	    &iv->lat) == -1 || hlog_line(iv->hlog, "uncorrected", p->start,
	    p->length, &iv->unc) == -1 || fflush(iv->hlog) == EOF))
		iv->failed = errno ? errno : EIO;
	return 0;
}

/* The live line at the end of an interval: its own figures. */
void
iv_progress(const struct intervals *iv, const struct worker *ws, int nw)
{
	const struct ivpoint *p;
	uint64_t open = 0;
	char line[200];
	int i, n;

	if (iv->n == 0)
		return;
	p = &iv->pts[iv->n - 1];
	for (i = 0; i < nw; i++)
		open += atomic_load_explicit(&ws[i].p_open,
		    memory_order_relaxed);
	n = snprintf(line, sizeof(line), "\r%6.1fs %10.0f/s %6llu errors "
	    "p50 %8.3fms p99 %8.3fms max %8.3fms %6llu open",
	    p->start + p->length, p->length > 0 ? (double)p->replies /
	    p->length : 0, (unsigned long long)p->errors, (double)p->p50 / 1e6,
	    (double)p->p99 / 1e6, (double)p->max / 1e6,
	    (unsigned long long)open);
	if (n > 0 && write(STDERR_FILENO, line, strlen(line)) == -1)
		return;	/* a progress line is not worth failing for */
}

int
iv_close(struct intervals *iv, char *err, size_t n)
{
	int rc = 0;

	if (iv->hlog != NULL) {
		if (fclose(iv->hlog) == EOF && !iv->failed)
			iv->failed = errno;
		iv->hlog = NULL;
		if (iv->failed) {
			snprintf(err, n, "--hlog %s: %s", iv->hlog_path,
			    strerror(iv->failed));
			rc = -1;
		}
	}
	hist_free(&iv->lat);
	hist_free(&iv->unc);
	return rc;
}
