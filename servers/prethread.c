/*
 * prethread.c - a pool of N threads made at start, in two variants that
 * share everything but how a thread gets its next connection:
 *
 *   prethread        every thread blocks in accept() on the listening
 *                    socket (UNP serv07); --accept-lock puts the pools'
 *                    lock (acceptlock.h) around accept(), to measure it.
 *   prethread-queue  the main thread accepts and hands each descriptor
 *                    to the workers over a bounded queue (serv08).
 *
 * A thread serves one session at a time, so at most N run at once.
 * All N start before the "listening on" line; if one cannot, the server
 * exits 1 without announcing (as every pool does).
 *
 * Waiting clients.  prethread: the others wait in the kernel's listen
 * queue and nobody is told "busy"; --max-clients M below N only starts
 * min(N, M) threads.  prethread-queue: the queue holds N descriptors;
 * when it is full the acceptor stops accepting and clients wait in the
 * listen queue.  With --max-clients M the acceptor never waits: a client
 * that would make the sessions running or queued more than M, or that
 * finds the queue full, gets "ERR server busy"; the queue is then made M
 * long (at most QUEUE_MAX), so M is the limit.
 *
 * Shutdown.  Workers block SIGTERM, SIGINT and SIGALRM: the main thread
 * gets them.  At the first it shuts the listening socket down, which
 * wakes every thread blocked in accept() with EINVAL (Linux) and refuses
 * new clients, and wakes the idle workers of the queue, which serve what
 * is queued and leave.  Sessions drain until server_stop is 2; then the
 * main thread shuts down the connections still served, so that every
 * worker returns, joins them all and prints how many sessions each
 * served (unless --quiet).
 */
#define _GNU_SOURCE		/* gettid, pthread_setname_np */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
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

/* session_run keeps a 16 KiB buffer on its stack; this is ample. */
#define STACK_SIZE	(256 * 1024)
#define QUEUE_MAX	4096

int	serve_prethread(int, const struct server_opts *);
int	serve_prethread_queue(int, const struct server_opts *);

struct thread_pool;

struct pool_thread {
	struct thread_pool *pool;
	pthread_t	 thread;
	int		 id;
	int		 started;
	pid_t		 tid;		/* set by the thread, read after join */
	int		 fd;		/* session being served, or -1 (mu) */
	unsigned long	 sessions;	/* by the thread, read after join */
};

struct pending {
	int		 fd;
	char		 addr[NET_ADDR_LEN];
};

struct thread_pool {
	const struct server_opts *o;
	int		 lfd;
	int		 queued;	/* the prethread-queue variant */
	struct acceptlock *lock;	/* --accept-lock, else NULL */

	pthread_mutex_t	 mu;		/* everything below */
	pthread_cond_t	 work;		/* queue not empty, or stopping */
	pthread_cond_t	 room;		/* queue not full */
	pthread_cond_t	 done;		/* a worker returned */
	int		 stopping;	/* serve what is queued, then return */
	int		 hard;		/* the drain is over: return now */
	int		 live;		/* workers not returned */
	int		 busy;		/* sessions running */
	struct pending	*q;		/* ring of qcap */
	int		 qcap, qhead, qlen;
	struct pool_thread *w;
	int		 n;
};

/* ---- how a worker gets a connection ---- */

static int
next_accepted(struct thread_pool *p, char *addr)
{
	int fd;

	while ((fd = acceptlock_accept(p->lock, p->lfd, addr,
	    NET_ADDR_LEN)) == -1)
		continue;
	return fd == -2 ? -1 : fd;
}

static int
next_queued(struct thread_pool *p, char *addr)
{
	struct pending *e;
	int fd = -1;

	pthread_mutex_lock(&p->mu);
	while (p->qlen == 0 && !p->stopping)
		pthread_cond_wait(&p->work, &p->mu);
	if (p->qlen > 0 && !p->hard) {
		e = &p->q[p->qhead];
		fd = e->fd;
		memcpy(addr, e->addr, NET_ADDR_LEN);
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
		p->busy++;	/* counted before it leaves the queue */
		pthread_cond_signal(&p->room);
	}
	pthread_mutex_unlock(&p->mu);
	return fd;
}

/* ---- the workers ---- */

static void
begin(struct pool_thread *w, int fd)
{
	struct thread_pool *p = w->pool;

	pthread_mutex_lock(&p->mu);
	w->fd = fd;
	if (!p->queued)
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
		fd = p->queued ? next_queued(p, addr) : next_accepted(p, addr);
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

/* ---- the main thread ---- */

static void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += ms * 1000000;
	ts->tv_sec += ts->tv_nsec / 1000000000;
	ts->tv_nsec %= 1000000000;
}

/* Block until the first stop signal (prethread: nothing else to do). */
static void
wait_stop(void)
{
	struct pollfd pfd;

	pfd.fd = server_stop_fd();
	pfd.events = POLLIN;
	while (!server_stop)
		/* Without the pipe, look at the flag every 100 ms. */
		if (poll(&pfd, pfd.fd == -1 ? 0 : 1, pfd.fd == -1 ? 100 : -1)
		    == -1 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return;
		}
}

/* prethread-queue without --max-clients: wait for room in the queue
 * before accepting, so that the clients wait in the listen queue.
 * Returns 0 on stop. */
static int
wait_room(struct thread_pool *p)
{
	struct timespec ts;

	pthread_mutex_lock(&p->mu);
	/* The signal that stops us cannot signal a condition variable,
	 * so look at the flag every 100 ms. */
	while (p->qlen == p->qcap && !server_stop) {
		deadline_in(&ts, 100);
		pthread_cond_timedwait(&p->room, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return !server_stop;
}

/* Queue a connection, or tell the client the server is busy. */
static void
hand_over(struct thread_pool *p, int fd, const char *addr)
{
	struct pending *e;
	int max = p->o->max_clients;

	pthread_mutex_lock(&p->mu);
	if (p->qlen == p->qcap || (max > 0 && p->busy + p->qlen >= max)) {
		pthread_mutex_unlock(&p->mu);
		server_busy(fd);
		return;
	}
	e = &p->q[(p->qhead + p->qlen) % p->qcap];
	e->fd = fd;
	strcpy(e->addr, addr);
	p->qlen++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static int
acceptor(struct thread_pool *p)
{
	char addr[NET_ADDR_LEN];
	int fd, rc;

	for (;;) {
		if (p->o->max_clients == 0 && !wait_room(p))
			return 0;
		if ((rc = server_wait_accept(p->lfd)) == 0)
			return 0;
		if (rc == -1) {
			log_err("poll: %s", strerror(errno));
			return -1;
		}
		if ((fd = server_accept(p->lfd, 0, addr, sizeof(addr))) != -1)
			hand_over(p, fd, addr);
	}
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
		deadline_in(&ts, 100);
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
pool_init(struct thread_pool *p, int lfd, const struct server_opts *o, int queued)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->lfd = lfd;
	p->queued = queued;
	p->n = o->workers;
	if (o->max_clients > 0 && o->max_clients < p->n)
		p->n = o->max_clients;
	p->qcap = o->max_clients > 0 ? o->max_clients : p->n;
	if (p->qcap > QUEUE_MAX)
		p->qcap = QUEUE_MAX;
	p->w = calloc((size_t)p->n, sizeof(*p->w));
	for (i = 0; p->w != NULL && i < p->n; i++)
		p->w[i].fd = -1;	/* drain() shuts down those not -1 */
	p->q = queued ? calloc((size_t)p->qcap, sizeof(*p->q)) : NULL;
	if (p->w == NULL || (queued && p->q == NULL)) {
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

static int
serve(int lfd, const struct server_opts *o, int queued)
{
	struct thread_pool p;
	int i, rc;

	if (pool_init(&p, lfd, o, queued) == -1) {
		close(lfd);
		return -1;
	}
	/* Every worker runs before the "listening on" line, or none. */
	if ((rc = start(&p)) == 0)
		rc = server_ready(lfd, o);
	if (rc == 0 && queued)
		rc = acceptor(&p);
	else if (rc == 0)
		wait_stop();
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

int
serve_prethread(int lfd, const struct server_opts *o)
{
	return serve(lfd, o, 0);
}

int
serve_prethread_queue(int lfd, const struct server_opts *o)
{
	return serve(lfd, o, 1);
}
