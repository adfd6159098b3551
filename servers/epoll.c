/*
 * epoll.c - one thread, one event loop (the slides' third paradigm).
 *
 * A single thread serves every session in turn, each as far as it can
 * go without blocking.  All the work is in lib/evsession.c; this file
 * only adds the stop signal to the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "evsession.h"
#include "log.h"
#include "net.h"
#include "server.h"

int	serve_epoll(int, const struct server_opts *);

/* SIGTERM/SIGINT/SIGALRM wrote to the stop pipe: empty it, then act on
 * the level the handler set. */
static void
on_stop(struct ev_loop *loop, int fd, int ready, void *arg)
{
	char b[64];

	(void)loop;
	(void)ready;
	while (read(fd, b, sizeof(b)) > 0)
		continue;
	evs_stop(arg, server_stop);
}

int
serve_epoll(int lfd, const struct server_opts *o)
{
	char err[NET_ERR_LEN];
	struct evs *es;
	sigset_t old;
	int rc;

	if ((es = evs_new(lfd, o, NULL, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		close(lfd);
		return -1;
	}
	if (ev_add(evs_loop(es), server_stop_fd(), EV_READ, on_stop,
	    es) == -1) {
		log_err("event loop: %s", strerror(errno));
		evs_free(es);
		return -1;
	}
	if (server_ready(lfd, o) == -1 || server_block_stops(&old) == -1) {
		evs_free(es);
		return -1;
	}
	/* The stop signals come in only while the loop sleeps. */
	ev_sigmask(evs_loop(es), &old);
	rc = evs_run(es);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	evs_free(es);		/* the stop pipe stays: it is not ours */
	return rc;
}
