/*
 * threadpool.c - N threads made at start, for prethread and
 * prethread-queue (threadpool.h).
 *
 * A thread serves one session at a time, so at most N run at once.
 * All N start before the "listening on" line; if one cannot, the server
 * exits 1 without announcing (as every pool does).
 */
#define _GNU_SOURCE		/* gettid, pthread_setname_np */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acceptlock.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "threadpool.h"

/* session_run keeps a 16 KiB buffer on its stack; this is ample. */
#define STACK_SIZE	(256 * 1024)
#define QUEUE_MAX	4096

static void
begin(struct pool_thread *w, int fd)
{
	struct thread_pool *p = w->pool;

	pthread_mutex_lock(&p->mu);
	w->fd = fd;
	if (!p->kind->queued)
		p->busy++;
	pthread_mutex_unlock(&p->mu);
}

static void
end(struct pool_thread *w)
{
	struct thread_pool *p = w->pool;

	/* Forget the descriptor before closing it: the main thread may
	 * shut down w->fd at a hard stop, and must not hit a reused one. */
	pthread_mutex_lock(&p->mu);
	w->fd = -1;
	p->busy--;
	pthread_mutex_unlock(&p->mu);
}

static void *
worker(void *arg)
{
	struct pool_thread *w = arg;
	struct thread_pool *p = w->pool;
	char addr[NET_ADDR_LEN], name[16];
	int fd;

	w->tid = gettid();
	/* "worker N" in ps -L and /proc/PID/task/TID/comm. */
	snprintf(name, sizeof(name), "worker %d", w->id);
	(void)pthread_setname_np(pthread_self(), name);
	for (;;) {
		fd = p->kind->next(p, addr);
		if (fd == -1)
			break;
		begin(w, fd);
		w->sessions++;
		session_run(fd, addr, p->o);
		end(w);
		close(fd);
	}
	pthread_mutex_lock(&p->mu);
	p->live--;
	pthread_cond_signal(&p->done);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
thread_pool_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += ms * 1000000;
	ts->tv_sec += ts->tv_nsec / 1000000000;
	ts->tv_nsec %= 1000000000;
}

static void
drain(struct thread_pool *p)
{
	struct timespec ts;
	int i;

	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	while (p->live > 0 && server_stop < 2) {
		thread_pool_deadline(&ts, 100);
		pthread_cond_timedwait(&p->done, &p->mu, &ts);
	}
	/* Drain over: end the sessions left, so that every worker returns
	 * (a shut down connection wakes its poll() and its write()). */
	p->hard = 1;
	for (i = 0; i < p->n; i++)
		if (p->w[i].fd != -1 &&
		    shutdown(p->w[i].fd, SHUT_RDWR) == -1 && errno != ENOTCONN)
			log_err("shutdown: %s", strerror(errno));
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static int
start(struct thread_pool *p)
{
	pthread_attr_t attr;
	sigset_t stop, old;
	int i, rc;

	if ((rc = pthread_attr_init(&attr)) != 0 ||
	    (rc = pthread_attr_setstacksize(&attr, STACK_SIZE)) != 0) {
		log_err("pthread_attr: %s", strerror(rc));
		return -1;
	}
	/* Workers run with the stop signals blocked, so that they always
	 * reach the main thread, which owns the shutdown. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	for (i = 0; i < p->n; i++) {
		p->w[i].pool = p;
		p->w[i].id = i;
		if ((rc = pthread_create(&p->w[i].thread, &attr, worker,
		    &p->w[i])) != 0) {
			log_err("cannot start worker %d of %d: %s", i + 1,
			    p->n, strerror(rc));
			break;
		}
		p->w[i].started = 1;
		pthread_mutex_lock(&p->mu);
		p->live++;
		pthread_mutex_unlock(&p->mu);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return i == p->n ? 0 : -1;
}

static void
report(const struct thread_pool *p)
{
	int i;

	if (p->o->quiet)
		return;
	for (i = 0; i < p->n; i++)
		if (p->w[i].started)
			log_out("worker %d (tid %d): %lu session%s", i,
			    (int)p->w[i].tid, p->w[i].sessions,
			    p->w[i].sessions == 1 ? "" : "s");
}

static int
pool_init(struct thread_pool *p, int lfd, const struct server_opts *o,
    const struct thread_pool_kind *kind)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->lfd = lfd;
	p->kind = kind;
	p->n = o->workers;
	if (o->max_clients > 0 && o->max_clients < p->n)
		p->n = o->max_clients;
	p->qcap = o->max_clients > 0 ? o->max_clients : p->n;
	if (p->qcap > QUEUE_MAX)
		p->qcap = QUEUE_MAX;
	p->w = calloc((size_t)p->n, sizeof(*p->w));
	for (i = 0; p->w != NULL && i < p->n; i++)
		p->w[i].fd = -1;	/* drain() shuts down those not -1 */
	p->q = kind->queued ? calloc((size_t)p->qcap, sizeof(*p->q)) : NULL;
	if (p->w == NULL || (kind->queued && p->q == NULL)) {
		log_err("out of memory");
		free(p->w);
		free(p->q);
		return -1;
	}
	if (o->accept_lock && (p->lock = acceptlock_new()) == NULL) {
		free(p->w);
		free(p->q);
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->done, NULL);
	return 0;
}

static void
pool_free(struct thread_pool *p)
{
	int i;

	/* Connections queued but never served (a hard stop). */
	for (i = 0; i < p->qlen; i++)
		close(p->q[(p->qhead + i) % p->qcap].fd);
	free(p->w);
	free(p->q);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	acceptlock_free(p->lock);
}

int
thread_pool_serve(int lfd, const struct server_opts *o,
    const struct thread_pool_kind *kind)
{
	struct thread_pool p;
	int i, rc;

	if (pool_init(&p, lfd, o, kind) == -1) {
		close(lfd);
		return -1;
	}
	/* Every worker runs before the "listening on" line, or none. */
	if ((rc = start(&p)) == 0)
		rc = server_ready(lfd, o);
	if (rc == 0)
		rc = kind->run(&p);
	/* Refuse new clients, and wake the threads blocked in accept(). */
	if (shutdown(lfd, SHUT_RDWR) == -1)
		log_err("shutdown: %s", strerror(errno));
	drain(&p);
	for (i = 0; i < p.n; i++)
		if (p.w[i].started)
			pthread_join(p.w[i].thread, NULL);
	close(lfd);
	report(&p);
	pool_free(&p);
	return rc;
}
