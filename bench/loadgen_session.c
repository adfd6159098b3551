#define _GNU_SOURCE		/* epoll_pwait2 */
/*
 * loadgen_session.c - one epoll loop per thread, and its sessions' events.
 *
 * The loop: sessions whose time has come (opening, due, retry) out of the
 * heap; timeouts now and then; then events until the next time something
 * is due.  The callbacks are small: a session with room, or whose time has
 * come, is pumped (pump: take what the pacer says is due, connect or
 * write); a readable one is read (loadgen_recv.c).
 * Every time is read when it is used, never carried from the loop top.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loadgen_session.h"

#define MAX_EVENTS	256
#define WAKE_MAX	(100 * MS)	/* look at the stop flag this often */
#define HEAP_BATCH	256	/* sessions out of the heap, then events */

struct run run;

/* May s take on another request: room in its ring, or no connection. */
static int
has_room(const struct session *s)
{
	if (run.o->keepalive)
		return s->state == S_OPEN &&
		    s->inflight < (unsigned)run.o->depth;
	return s->state == S_IDLE && s->inflight == 0;
}

/*
 * A session has room, or its time has come: open it (-k 1), or take on
 * what is due, then connect (-k 0) or write.  If it has room but nothing
 * is due yet, it waits in the heap.
 */
void
pump(struct worker *w, struct session *s, uint64_t now)
{
	struct pending p;
	uint64_t next;

	if (s->state == S_DONE)
		return;
	if (s->state == S_IDLE && run.o->keepalive) {
		connect_start(w, s);	/* opened whatever the pace */
		return;
	}
	while (has_room(s) && pace_take(w, s, now, &p)) {
		*ring_at(s, s->inflight++) = p;
		if (p.measured)
			w->st.committed++;
	}
	next = pace_due(w, s, now);
	if (s->inflight == 0 && next == PACE_NONE) {
		session_done(w, s);
		return;
	}
	if (next != PACE_NONE && has_room(s))
		heap_push(w, s, next);
	else
		heap_remove(w, s);
	if (s->state == S_IDLE && s->inflight > 0)
		connect_start(w, s);
	else if (s->state == S_OPEN && s->nsent < s->inflight)
		flush(w, s);
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
		flush(w, s);
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
			    ETIMEDOUT);
		else if (s->state == S_OPEN && s->inflight > 0 &&
		    now - ring_at(s, 0)->t_sent >= o->timeout)
			session_fail(w, s, E_TIMEOUT, "reply", ETIMEDOUT);
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

/* Wait up to ns for events and handle them.  -1: the loop must end. */
static int
poll_events(struct worker *w, uint64_t ns)
{
	struct epoll_event ev[MAX_EVENTS];
	int i, n;

	n = wait_events(w, ev, ns);
	if (n == -1) {
		if (errno == EINTR)
			return 0;
		note_other(w, "epoll_wait", errno);
		w->st.errors[E_OTHER]++;
		return -1;
	}
	for (i = 0; i < n; i++)
		handle(w, ev[i].data.ptr, ev[i].events, now_ns());
	return 0;
}

/*
 * Sessions whose time has come.  While connects are under way, look at
 * the events after each one, so that a connect is seen complete when it
 * completes, not after a burst of other connect() calls.
 */
static int
run_heap(struct worker *w)
{
	struct session *s;
	int n = 0;

	while (n++ < HEAP_BATCH && (s = heap_pop_due(w, now_ns())) != NULL) {
		pump(w, s, now_ns());
		if (w->nconnecting > 0 && poll_events(w, 0) == -1)
			return -1;
	}
	return 0;
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

/* How long to wait for events, from a fresh clock. */
static uint64_t
next_wake(struct worker *w, uint64_t next_scan)
{
	uint64_t now = now_ns(), t = now + WAKE_MAX;

	if (next_scan < t)
		t = next_scan;
	if (run.deadline && run.deadline < t)
		t = run.deadline;
	if (heap_next(w) < t)
		t = heap_next(w);
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

static void
thread_cpu(struct cpu *c, int sign)
{
	struct rusage ru;

	/* RUSAGE_THREAD (Linux) cannot fail for the calling thread. */
	if (getrusage(RUSAGE_THREAD, &ru) == -1)
		return;
	c->user += sign * ((double)ru.ru_utime.tv_sec +
	    (double)ru.ru_utime.tv_usec / 1e6);
	c->sys += sign * ((double)ru.ru_stime.tv_sec +
	    (double)ru.ru_stime.tv_usec / 1e6);
}

static void
run_loop(struct worker *w)
{
	uint64_t now, period = scan_period(run.o), next_scan;

	next_scan = now_ns() + period;
	for (;;) {
		now = now_ns();
		if (atomic_load_explicit(&run.stop, memory_order_relaxed) ||
		    (run.deadline && now >= run.deadline))
			break;
		if (run_heap(w) == -1)
			break;
		if (now_ns() >= next_scan) {
			timeouts(w, now_ns());
			next_scan = now_ns() + period;
		}
		publish(w);
		if (w->active == 0 ||
		    poll_events(w, next_wake(w, next_scan)) == -1)
			break;
	}
	w->st.t_end = now_ns();
}

void *
worker_main(void *arg)
{
	struct worker *w = arg;
	size_t i;

	thread_cpu(&w->cpu, -1);
	pace_plan(w);
	/*
	 * The open-loop schedule is only as punctual as our wake-ups: the
	 * default 50 us timer slack would show up as latency.  Best effort.
	 */
	if (run.o->rate > 0 && prctl(PR_SET_TIMERSLACK, 1000UL) == -1)
		note_other(w, "prctl PR_SET_TIMERSLACK", errno);
	run_loop(w);
	for (i = 0; i < w->nsess; i++) {
		account_end(w, &w->sess[i], w->st.t_end);
		close_conn(w, &w->sess[i]);
	}
	publish(w);
	thread_cpu(&w->cpu, 1);
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
	if (w->sess == NULL || w->heap == NULL || w->rbuf == NULL ||
	    stats_init(&w->st) == -1 || iv_worker_init(w, o) == -1)
		return -1;
	for (i = 0; i < w->nsess; i++) {
		s = &w->sess[i];
		s->fd = -1;
		s->heap_pos = -1;
		s->id = (uint32_t)(i * (size_t)o->threads + (size_t)id);
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

	for (i = 0; w->sess != NULL && i < w->nsess; i++)
		free(w->sess[i].ring);
	free(w->sess);
	free(w->heap);
	free(w->rbuf);
	stats_free(&w->st);
	iv_worker_free(w);
	if (w->epfd != -1 && close(w->epfd) == -1)
		log_err("close epoll: %s", strerror(errno));
}
