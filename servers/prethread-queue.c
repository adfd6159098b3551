/*
 * prethread-queue.c - N threads made at start; the main thread accepts
 * and hands each descriptor to them over a bounded queue (UNP serv08).
 * The pool itself is threadpool.c's.
 *
 * Waiting clients.  The queue holds N descriptors; when it is full the
 * acceptor stops accepting and clients wait in the listen queue.  With
 * --max-clients M the acceptor never waits: a client that would make the
 * sessions running or queued more than M, or that finds the queue full,
 * gets "ERR server busy"; the queue is then made M long (at most
 * QUEUE_MAX of threadpool.c), so M is the limit.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "server.h"
#include "threadpool.h"

int	serve_prethread_queue(int, const struct server_opts *);

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
		thread_pool_deadline(&ts, 100);
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

static const struct thread_pool_kind prethread_queue = {
	1, next_queued, acceptor
};

int
serve_prethread_queue(int lfd, const struct server_opts *o)
{
	return thread_pool_serve(lfd, o, &prethread_queue);
}
