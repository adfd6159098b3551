/*
 * reuseport.c - N workers, each with its own SO_REUSEPORT listening
 * socket and its own event loop (the nginx design).
 *
 * Every worker is the epoll model with a listener of its own, all bound
 * to the same address: the kernel spreads incoming connections over the
 * listeners, so the workers never contend for an accept queue.  The
 * main thread takes the signals (the workers block them) and passes the
 * stop level on to each worker through a pipe of its own; the stop pipe
 * of server.c cannot do it, as the first worker to read it would
 * swallow the wake-up.  --max-clients counts the sessions of all.
 */
#define _GNU_SOURCE		/* pipe2, ppoll, NI_MAXHOST, pthread_setname_np */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "evsession.h"
#include "log.h"
#include "net.h"
#include "server.h"

int	serve_reuseport(int, const struct server_opts *);

struct loop_thread {
	struct evs	*es;
	int		 order[2];	/* stop levels, '1' or '2', from main */
	int		 done_fd;	/* a byte there when the loop is over */
	int		 id;
	int		 running;
	int		 rc;
	pthread_t	 tid;
};

static struct evs_shared shared;	/* of all the workers */

static void
on_order(struct ev_loop *loop, int fd, int ready, void *arg)
{
	struct loop_thread *w = arg;
	char b[16];
	ssize_t i, n;
	int level = 0;

	(void)loop;
	(void)ready;
	while ((n = read(fd, b, sizeof(b))) > 0)
		for (i = 0; i < n; i++)
			if (b[i] - '0' > level)
				level = b[i] - '0';
	evs_stop(w->es, level);
}

static void *
run(void *arg)
{
	struct loop_thread *w = arg;
	char name[16];
	int rc;

	/* "worker N" in ps -L and top -H, and for the tests to count. */
	snprintf(name, sizeof(name), "worker %d", w->id);
	if ((rc = pthread_setname_np(pthread_self(), name)) != 0)
		log_err("worker %d: thread name: %s", w->id, strerror(rc));
	w->rc = evs_run(w->es);
	if (write(w->done_fd, "x", 1) == -1)
		log_err("worker: %s", strerror(errno));
	return NULL;
}

/* Give worker i its listener (lfd for the first), loop and order pipe. */
static int
setup(struct loop_thread *w, int i, int lfd, const char *host, const char *port,
    int done_fd, const struct server_opts *o)
{
	char err[NET_ERR_LEN];
	int fd = lfd;

	w->id = i;
	w->done_fd = done_fd;
	if (i > 0 && (fd = net_listen(host, port, SOCK_STREAM, o->backlog,
	    NET_REUSEPORT | NET_NONBLOCK, err, sizeof(err))) == -1) {
		log_err("worker %d: %s", i, err);
		return -1;
	}
	if ((w->es = evs_new(fd, o, &shared, err, sizeof(err))) == NULL) {
		log_err("worker %d: %s", i, err);
		close(fd);
		return -1;
	}
	if (pipe2(w->order, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    ev_add(evs_loop(w->es), w->order[0], EV_READ, on_order, w) == -1) {
		log_err("worker %d: %s", i, strerror(errno));
		return -1;
	}
	return 0;
}

/* Start the workers with the stop signals blocked, so that they always
 * reach the main thread, which owns the shutdown (as in thread.c). */
static int
start(struct loop_thread *ws, int n)
{
	sigset_t stop, old;
	int i, rc = 0;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	for (i = 0; i < n && rc == 0; i++) {
		rc = pthread_create(&ws[i].tid, NULL, run, &ws[i]);
		ws[i].running = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		log_err("cannot start a worker: %s", strerror(rc));
	return rc == 0 ? 0 : -1;
}

static void
order(struct loop_thread *ws, int n, int level)
{
	char c = (char)('0' + level);
	int i;

	for (i = 0; i < n; i++)
		if (ws[i].running && write(ws[i].order[1], &c, 1) == -1 &&
		    errno != EAGAIN)
			log_err("worker %d: %s", i, strerror(errno));
}

/*
 * Pass each stop level on, until every worker is over.  A worker that
 * ends before any stop has failed: the others are ended too.
 */
static int
supervise(struct loop_thread *ws, int n, int done_fd, int failed,
    const sigset_t *mask)
{
	struct pollfd pfd[2];
	int left = 0, i, level = 0;
	char b[64];
	ssize_t r;

	for (i = 0; i < n; i++)
		left += ws[i].running;
	if (failed)
		order(ws, n, level = 2);
	pfd[0].fd = server_stop_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = done_fd;
	pfd[1].events = POLLIN;
	while (left > 0) {
		if (ppoll(pfd, 2, NULL, mask) == -1) {
			if (errno == EINTR)
				continue;
			log_err("ppoll: %s", strerror(errno));
			order(ws, n, 2);
			return -1;	/* the caller joins them */
		}
		if (pfd[0].revents) {
			while (read(pfd[0].fd, b, sizeof(b)) > 0)
				continue;
			if (server_stop > level)
				order(ws, n, level = server_stop);
		}
		if (pfd[1].revents && (r = read(done_fd, b, sizeof(b))) > 0) {
			left -= (int)r;
			if (level == 0) {
				failed = 1;
				order(ws, n, level = 2);
			}
		}
	}
	return failed ? -1 : 0;
}

int
serve_reuseport(int lfd, const struct server_opts *o)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	struct loop_thread *ws;
	sigset_t old;
	int done[2], failed = 0, i, n = o->workers, rc, first = lfd;

	if (net_bound(lfd, host, sizeof(host), port, sizeof(port)) == -1) {
		close(lfd);
		return -1;
	}
	if ((ws = calloc((size_t)n, sizeof(*ws))) == NULL ||
	    pipe2(done, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_err("reuseport: %s", strerror(errno));
		free(ws);
		close(lfd);
		return -1;
	}
	for (i = 0; i < n; i++)
		ws[i].order[0] = ws[i].order[1] = -1;
	for (i = 0; i < n && !failed; i++) {
		failed = setup(&ws[i], i, lfd, host, port, done[1], o) == -1;
		lfd = -1;	/* the first worker has it now */
	}
	if (!failed)
		failed = start(ws, n) == -1;
	/* Only supervise() orders a worker to close its listener. */
	if (!failed)
		failed = server_ready(first, o) == -1;
	/* The stop signals come in only inside supervise()'s ppoll(). */
	if (server_block_stops(&old) == -1) {
		failed = 1;
		sigemptyset(&old);
	}
	rc = supervise(ws, n, done[0], failed, &old);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (i = 0; i < n; i++) {
		if (ws[i].running) {
			pthread_join(ws[i].tid, NULL);
			if (ws[i].rc != 0)
				rc = -1;
		}
		evs_free(ws[i].es);
		if (ws[i].order[0] != -1)
			close(ws[i].order[0]);
		if (ws[i].order[1] != -1)
			close(ws[i].order[1]);
	}
	close(done[0]);
	close(done[1]);
	free(ws);
	return rc;
}
