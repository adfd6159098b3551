/*
 * prethread.c - N threads made at start, each blocking in accept() on
 * the listening socket (UNP serv07); --accept-lock puts the pools' lock
 * (acceptlock.h) around accept(), to measure it.  The pool itself is
 * threadpool.c's.
 *
 * Waiting clients wait in the kernel's listen queue and nobody is told
 * "busy"; --max-clients M below N only starts min(N, M) threads.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

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
	struct pollfd pfd;

	(void)p;
	pfd.fd = server_stop_fd();
	pfd.events = POLLIN;
	while (!server_stop)
		/* Without the pipe, look at the flag every 100 ms. */
		if (poll(&pfd, pfd.fd == -1 ? 0 : 1, pfd.fd == -1 ? 100 : -1)
		    == -1 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return 0;
		}
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
