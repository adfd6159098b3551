/*
 * prethread.c - N threads made at start, each blocking in accept() on
 * the listening socket (UNP serv07); --accept-lock puts the pools' lock
 * (acceptlock.h) around accept(), to measure it.  The pool itself is
 * threadpool.c's.
 *
 * Waiting clients wait in the kernel's listen queue and nobody is told
 * "busy"; --max-clients M below N only starts min(N, M) threads.
 */
#define _GNU_SOURCE		/* ppoll */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "acceptlock.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "threadpool.h"

int	serve_prethread(int, const struct server_opts *);

static int
next_accepted(struct thread_pool *p, char *addr)
{
	int fd;

	while ((fd = acceptlock_accept(p->lock, p->lfd, addr,
	    NET_ADDR_LEN)) == -1)
		continue;
	return fd == -2 ? -1 : fd;
}

/* Block until the first stop signal (prethread: nothing else to do). */
static int
wait_stop(struct thread_pool *p)
{
	struct timespec tick = { 0, 100000000 };
	struct pollfd pfd;
	sigset_t old;

	(void)p;
	pfd.fd = server_stop_fd();
	pfd.events = POLLIN;
	/* The stop signals come in only inside the ppoll(). */
	if (server_block_stops(&old) == -1)
		return 0;
	while (!server_stop)
		/* Without the pipe, look at the flag every 100 ms. */
		if (ppoll(&pfd, pfd.fd == -1 ? 0 : 1, pfd.fd == -1 ? &tick :
		    NULL, &old) == -1 && errno != EINTR) {
			log_err("ppoll: %s", strerror(errno));
			break;
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

static const struct thread_pool_kind prethread = {
	0, next_accepted, wait_stop
};

int
serve_prethread(int lfd, const struct server_opts *o)
{
	return thread_pool_serve(lfd, o, &prethread);
}
