#define _GNU_SOURCE		/* SOCK_NONBLOCK, struct tcp_info */
/*
 * sock.c - demo-backlog's client sockets: a non-blocking connect(), the
 * kernel's view of one (TCP_INFO), and client 0, which keeps an
 * iterative server busy.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backlog.h"

int
tcp_state(int fd, unsigned *retrans)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	if (retrans != NULL)
		*retrans = ti.tcpi_total_retrans;
	return ti.tcpi_state;
}

/* A non-blocking connect() to 127.0.0.1:port.  The fd, or -1 (errno). */
int
start_connect(int port, int *lport)
{
	struct sockaddr_in sin;
	char addr[NET_ADDR_LEN], *colon;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	*lport = 0;
	if (net_local_addr(fd, addr, sizeof(addr)) == 0 &&
	    (colon = strrchr(addr, ':')) != NULL)
		*lport = atoi(colon + 1);
	return fd;
}

/* Send line and wait (bounded) for its reply; the session stays open. */
static int
converse(int fd, const char *line, char *reply, size_t n, int timeout_ms)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t r;
	int rc;

	if (net_write_all(fd, line, strlen(line)) == -1)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (off < n - 1) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc <= 0)
			return -1;
		if ((r = net_read(fd, reply + off, n - 1 - off)) <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		off += (size_t)r;
		if (memchr(reply, '\n', off) != NULL)
			break;
	}
	reply[off] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	return 0;
}

/* The persistent client that keeps an iterative server busy. */
int
busy_client(int port, char *err, size_t errlen)
{
	char p[16], reply[128];
	int fd;

	snprintf(p, sizeof(p), "%d", port);
	if ((fd = net_connect("127.0.0.1", p, SOCK_STREAM, 3000, err,
	    errlen)) == -1)
		return -1;
	if (converse(fd, tr("hello from client 0\n", "ciao dal client 0\n"),
	    reply, sizeof(reply),
	    3000) == -1) {
		snprintf(err, errlen, "client 0: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
