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
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"

int	serve_iterative(int, const struct server_opts *);

int
serve_iterative(int lfd, const struct server_opts *o)
{
	char addr[NET_ADDR_LEN];
	int fd, rc;

	if (server_ready(lfd, o) == -1) {
		close(lfd);
		return -1;
	}
	server_refuse_on_stop(lfd);
	while ((rc = server_wait_accept(lfd)) == 1) {
		if ((fd = server_accept(lfd, 0, addr, sizeof(addr))) == -1)
			continue;
		session_run(fd, addr, o);
		close(fd);
	}
	server_refuse_on_stop(-1);
	close(lfd);
	if (rc == -1) {
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}
