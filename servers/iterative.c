/*
 * iterative.c - one session at a time (UNP serv00, the lab's server).
 *
 * While a session lasts, nobody calls accept(): the next clients
 * complete their handshake into the listen queue and wait there, and
 * once it is full the kernel drops further SYNs (see docs/backlog.md).
 * At a stop the session in flight drains, and the listener is shut down
 * at once from the signal handler: nobody here could do it before the
 * session ends, and new clients must be refused, not queued and reset.
 */
#include "server.h"

int	serve_iterative(int, const struct server_opts *);

int
serve_iterative(int lfd, const struct server_opts *o)
{
	return server_serial(lfd, o, session_run);
}
