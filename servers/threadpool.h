/*
 * threadpool.h - what the two pools of threads (prethread.c and
 * prethread-queue.c) share: N threads made at start, each serving one
 * session at a time with session_run(), the drain at a stop and the
 * report.  A variant says only how a thread gets its next connection
 * (next) and what the main thread does meanwhile (run).
 *
 * Shutdown.  Workers block SIGTERM, SIGINT and SIGALRM: the main thread
 * gets them.  When run() returns, the listening socket is shut down,
 * which wakes every thread blocked in accept() with EINVAL (Linux) and
 * refuses new clients, and the idle workers of a queue are woken, to
 * serve what is queued and leave.  Sessions drain until server_stop is
 * 2; then the main thread shuts down the connections still served, so
 * that every worker returns, joins them all and prints how many
 * sessions each served (unless --quiet).
 */
#ifndef SOCKLAB_THREADPOOL_H
#define SOCKLAB_THREADPOOL_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include "net.h"
#include "server.h"

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

struct thread_pool_kind {
	int		 queued;	/* next() takes from the queue */
	/* The next connection for a worker (its peer in addr, of
	 * NET_ADDR_LEN), or -1: the worker returns. */
	int		(*next)(struct thread_pool *, char *addr);
	/* The main thread until the stop: 0, or -1 after logging. */
	int		(*run)(struct thread_pool *);
};

struct thread_pool {
	const struct server_opts *o;
	const struct thread_pool_kind *kind;
	int		 lfd;
	struct acceptlock *lock;	/* --accept-lock, else NULL */

	pthread_mutex_t	 mu;		/* everything below */
	pthread_cond_t	 work;		/* queue not empty, or stopping */
	pthread_cond_t	 room;		/* queue not full */
	pthread_cond_t	 done;		/* a worker returned */
	int		 stopping;	/* serve what is queued, then return */
	int		 hard;		/* the drain is over: return now */
	int		 live;		/* workers not returned */
	int		 busy;		/* sessions running */
	struct pending	*q;		/* ring of qcap (queued kinds) */
	int		 qcap, qhead, qlen;
	struct pool_thread *w;
	int		 n;
};

/* Serve lfd (which it owns) with a pool of kind until the stop. */
int	thread_pool_serve(int lfd, const struct server_opts *,
	    const struct thread_pool_kind *);
/* A pthread_cond_timedwait() deadline ms from now. */
void	thread_pool_deadline(struct timespec *, long ms);

#endif
