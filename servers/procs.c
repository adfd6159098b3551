/*
 * procs.c - --procs N: an event model in N worker processes, each with
 * its own SO_REUSEPORT listener and its own event loop(s), as nginx's
 * worker processes.
 *
 * Why processes, when reuseport already runs N loops in threads: a
 * process has its own descriptor table, so RLIMIT_NOFILE bounds each
 * worker, not the server.  With a hard limit of 20,000 one process can
 * never hold 100,000 sessions, whatever its design; six can.
 *
 * The parent is prefork's (lib/supervise.c): it makes each worker's
 * listener just before forking it and keeps no copy, so that a worker's
 * listener closes with the worker: at a stop the kernel refuses new
 * clients as each worker closes its own, and a worker that dies takes
 * its accept queue with it (those connections are reset; the kernel
 * spreads the next ones over the listeners left, and over the new
 * worker's once it is restarted).  The first worker takes the listener
 * main.c opened, which the parent keeps until it has announced.
 *
 * --max-clients and --max-memory are the server's: each worker takes
 * its share, ceil(M / N) sessions and M / N bytes, as nginx's
 * worker_connections is per worker.  The kernel spreads clients by a
 * hash of their addresses, not evenly, so a worker may fill a little
 * before the others.
 */
#define _GNU_SOURCE		/* NI_MAXHOST */
#include <sys/socket.h>

#include <netdb.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"
#include "supervise.h"

int	serve_procs(const struct model *, int, const struct server_opts *);

struct procs {
	const struct model *m;
	struct server_opts share;	/* what each worker may hold */
	char		 host[NI_MAXHOST], port[NI_MAXSERV];
	int		 lfd;		/* main.c's listener, until announced */
	int		 first;		/* the same, until the first worker
					   takes it */
	int		 fd;		/* the listener of the slot forking */
};

/* Slot i's listener: main.c's for the first worker, else a new one on
 * the same address (with --port 0, the port the kernel chose). */
static int
prepare(int i, void *arg)
{
	struct procs *ps = arg;
	char err[NET_ERR_LEN];

	if (i == 0 && ps->first != -1) {
		ps->fd = ps->first;
		ps->first = -1;
		return 0;
	}
	ps->fd = net_listen(ps->host, ps->port, SOCK_STREAM,
	    ps->share.backlog, NET_REUSEPORT, err, sizeof(err));
	if (ps->fd == -1) {
		log_err("worker %d: %s", i, err);
		return -1;
	}
	return 0;
}

/* The worker has its listener now: the parent keeps none but main.c's,
 * until it has announced it. */
static void
forked(int i, void *arg)
{
	struct procs *ps = arg;

	(void)i;
	if (ps->fd != -1 && ps->fd != ps->lfd)
		close(ps->fd);
	ps->fd = -1;
}

static void
announced(int lfd, void *arg)
{
	struct procs *ps = arg;

	close(lfd);
	ps->lfd = -1;
}

static int
work(int i, void *arg)
{
	struct procs *ps = arg;

	(void)i;
	/* Forked before the announcement, a worker has main.c's listener
	 * too: it must close with the first worker, not live on here. */
	if (ps->lfd != -1 && ps->fd != ps->lfd)
		close(ps->lfd);
	return ps->m->serve(ps->fd, &ps->share) == 0 ? 0 : 1;
}

int
serve_procs(const struct model *m, int lfd, const struct server_opts *o)
{
	static const struct sup_ops ops = { prepare, forked, work, announced };
	struct procs ps;
	struct sup *p;
	int n = o->procs, rc;

	memset(&ps, 0, sizeof(ps));
	ps.m = m;
	ps.share = *o;
	if (o->max_clients > 0)
		ps.share.max_clients = (o->max_clients + n - 1) / n;
	if (o->max_memory > 0)
		ps.share.max_memory = o->max_memory / (size_t)n > 0 ?
		    o->max_memory / (size_t)n : 1;
	ps.lfd = ps.first = lfd;
	ps.fd = -1;
	if (net_bound(lfd, ps.host, sizeof(ps.host), ps.port,
	    sizeof(ps.port)) == -1 || (p = sup_new(n, &ops, &ps)) == NULL) {
		close(lfd);
		return -1;
	}
	rc = sup_run(p, lfd, o);
	sup_free(p);
	return rc;
}
