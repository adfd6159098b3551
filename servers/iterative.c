/*
 * iterative.c - one session at a time (UNP serv00, the lab's server).
 *
 * While a session lasts, nobody calls accept(): the next clients
 * complete their handshake into the listen queue and wait there, and
 * once it is full the kernel drops further SYNs (see docs/backlog.md).
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

	while ((rc = server_wait_accept(lfd)) == 1) {
		if ((fd = server_accept(lfd, 0, addr, sizeof(addr))) == -1)
			continue;
		session_run(fd, addr, o);
		close(fd);
	}
	close(lfd);
	if (rc == -1) {
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}
