/*
 * evsession.h - sessions served by one event loop: what the epoll and
 * reuseport models share.
 *
 * An evs is one loop (ev.h), one listening socket and the sessions it
 * accepted.  Each session has the protocol's state, an output buffer,
 * and a place in a list kept in order of last activity, which makes the
 * idle timeout O(1) per request.  The model around it only decides how
 * many evs there are and which thread runs each.
 */
#ifndef SOCKLAB_EVSESSION_H
#define SOCKLAB_EVSESSION_H

#include <stdatomic.h>
#include <stddef.h>

#include "server.h"

struct ev_loop;
struct evs;

/* What the loops of one server count together: sessions, against
 * --max-clients, and the bytes of replies not yet sent and of partial
 * lines they hold, against --max-memory. */
struct evs_shared {
	atomic_int	 sessions;
	atomic_llong	 memory;
};

/*
 * A loop serving listening socket lfd, which the evs owns from then on
 * (evs_new makes it non-blocking; it is closed at the stop or by
 * evs_free).  Several evs may share their counts, or pass NULL for
 * counts of their own.  NULL with a message in err on failure; lfd is
 * then still the caller's.
 */
struct evs	*evs_new(int lfd, const struct server_opts *,
		    struct evs_shared *, char *err, size_t errlen);

/* The loop, for the caller to watch its own descriptors (a stop pipe). */
struct ev_loop	*evs_loop(struct evs *);

/*
 * Serve until stopped and no session is left, or until a stop at level
 * 2.  0, or -1 after logging why the loop failed.
 */
int	evs_run(struct evs *);

/*
 * Level 1 (see server_stop): close the listening socket, let sessions
 * finish.  Level 2: end them now.  Call it from the loop's thread.
 */
void	evs_stop(struct evs *, int level);

/* End what sessions are left (logged as "shutdown") and free it all. */
void	evs_free(struct evs *);

#endif
