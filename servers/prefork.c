/*
 * prefork.c - a pool of N child processes, each blocking in accept() on
 * the one listening socket they share (UNP serv02), with --accept-lock
 * to put a lock around accept() (serv03/serv04).
 *
 * A child serves one session at a time, so at most N sessions run at
 * once: the others wait in the kernel's listen queue, as with the
 * iterative server, and nobody is told "busy".  --max-clients M below N
 * only means fewer children: min(N, M) are started.
 *
 * The thundering herd: Stevens saw every child blocked in accept() woken
 * for each connection.  Linux wakes only one of them (the accept wait is
 * exclusive), so on this kernel the lock mostly costs what it adds; it is
 * kept to measure exactly that, and because with a poll() before accept()
 * (or on other systems) the herd is real.
 *
 * The parent is lib/supervise.c's, as for --procs: it forks, reaps and
 * restarts the children, and owns the shutdown.  At a stop it shuts the
 * listening socket down, which wakes every child in accept() with EINVAL
 * and refuses new clients (closing the parent's copy would not: the
 * children's copies keep it listening); a child ends its current session
 * and exits, at once when the drain is over (server_worker_session: the
 * connection is shut down from the signal handler, no race with a poll()
 * about to start).
 */
#include <unistd.h>

#include "acceptlock.h"
#include "net.h"
#include "server.h"
#include "supervise.h"

int	serve_prefork(int, const struct server_opts *);

struct prefork {
	int		 lfd;
	struct acceptlock *lock;	/* --accept-lock, else NULL */
	const struct server_opts *o;
};

/* A child: accept and serve, one session at a time, until a stop. */
static int
work(int i, void *arg)
{
	struct prefork *pf = arg;
	char addr[NET_ADDR_LEN];
	int fd;

	(void)i;
	while (!server_stop) {
		fd = acceptlock_accept(pf->lock, pf->lfd, addr, sizeof(addr));
		if (fd == -2)
			break;
		if (fd == -1)
			continue;
		/* Accepted, so served, even if a stop came meanwhile. */
		server_admitted();
		server_worker_session(fd);
		session_run(fd, addr, pf->o);
		server_worker_session(-1);
		close(fd);
	}
	return 0;
}

int
serve_prefork(int lfd, const struct server_opts *o)
{
	static const struct sup_ops ops = { NULL, NULL, work, NULL };
	struct prefork pf = { lfd, NULL, o };
	struct sup *p;
	int n = o->workers, rc;

	if (o->max_clients > 0 && o->max_clients < n)
		n = o->max_clients;
	if ((o->accept_lock && (pf.lock = acceptlock_new()) == NULL) ||
	    (p = sup_new(n, &ops, &pf)) == NULL) {
		acceptlock_free(pf.lock);
		close(lfd);
		return -1;
	}
	rc = sup_run(p, lfd, o);
	sup_free(p);
	acceptlock_free(pf.lock);
	return rc;
}
