/*
 * supervise.h - a parent and its N worker processes: what prefork and
 * --procs share (UNP's serv02 parent, nginx's master).
 *
 * The parent does no I/O.  It forks every worker before the "listening
 * on" line (one that cannot be forked: exit 1 unannounced, as every
 * pool does), reaps them, reports a worker that dies and starts another
 * (each slot at most once a second, so that one that dies at once
 * cannot make a fork loop), and owns the shutdown:
 *
 *   SIGTERM/SIGINT   each worker gets SIGTERM: it stops accepting and
 *                    ends its sessions in their own time.
 *   drain over       the parent's drain alarm is passed on as SIGALRM:
 *                    a worker ends its sessions at once.  One still there
 *                    a second later gets SIGKILL.
 *
 * Every worker is reaped before sup_run() returns, and dies with the
 * parent even if the parent is killed (server_worker_signals).  On exit
 * the parent prints how many sessions each worker served (UNP's
 * "connections served per child"), unless --quiet.
 */
#ifndef SOCKLAB_SUPERVISE_H
#define SOCKLAB_SUPERVISE_H

#include "server.h"

struct sup;

/* What the workers of one supervisor run. */
struct sup_ops {
	/* In the parent, before slot i forks (NULL: nothing to do): 0,
	   or -1 after logging (the slot tries again a second later). */
	int	(*prepare)(int i, void *arg);
	/* In the parent, after slot i forked or failed to (NULL: none). */
	void	(*forked)(int i, void *arg);
	/* In worker i, its signals set up and its sessions counted in its
	   slot (server_admitted): serve, and return its exit status. */
	int	(*work)(int i, void *arg);
	/* NULL: lfd is the workers' shared listener (prefork), which the
	   parent shuts down at the stop, waking every worker in accept()
	   and refusing new clients.  Else each worker has a listener of its
	   own (--procs), and this takes lfd once the parent has announced
	   it (or failed to start). */
	void	(*announced)(int lfd, void *arg);
};

/* n slots, in memory the workers share with the parent.  NULL after
 * logging. */
struct sup	*sup_new(int n, const struct sup_ops *, void *arg);
void		 sup_free(struct sup *);

/*
 * Start every worker, say "listening on" for lfd, supervise until a
 * stop, drain and reap them all, report.  0, or -1 after logging.
 */
int	sup_run(struct sup *, int lfd, const struct server_opts *);

#endif
