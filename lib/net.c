/*
 * net.c - thin wrappers over the socket API (after Redis anet.c).
 *
 * Errors go into the caller's buffer; nothing here prints or exits.
 */
#define _GNU_SOURCE		/* accept4 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct addrinfo *
lookup(const char *host, const char *port, int type, int passive,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		seterr(err, errlen, "%s port %s: %s", host ? host : "*", port,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		errno = EINVAL;
		return NULL;
	}
	return res;
}

int
net_resolve(const char *host, const char *port, int type,
    struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen)
{
	struct addrinfo *res;

	if ((res = lookup(host, port, type, 0, err, errlen)) == NULL)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
bind_one(struct addrinfo *ai, int backlog, int flags, char *err, size_t errlen)
{
	char addr[NET_ADDR_LEN];
	int fd, on = 1, saved;

	net_format_addr(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		seterr(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Restarting a server must not wait for TIME_WAIT to expire. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if ((flags & NET_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	/* "::" should mean IPv6 only; "0.0.0.0" is there for IPv4. */
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto fail;
	if (ai->ai_socktype == SOCK_STREAM && listen(fd, backlog) == -1)
		goto fail;
	if ((flags & NET_NONBLOCK) && net_nonblock(fd, 1) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	seterr(err, errlen, "cannot listen on %s: %s%s", addr, strerror(saved),
	    saved == EADDRINUSE ? " (another server is there; try --port 0)" : "");
	close(fd);
	errno = saved;
	return -1;
}

int
net_listen(const char *host, const char *port, int type, int backlog,
    int flags, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1;

	if ((res = lookup(host, port, type, 1, err, errlen)) == NULL)
		return -1;
	/* First address that binds wins, as getaddrinfo orders them. */
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if ((fd = bind_one(ai, backlog, flags, err, errlen)) != -1)
			break;
	freeaddrinfo(res);
	return fd;
}

static int
wait_connect(int fd, int timeout_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int rc, soerr;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc == -1 && errno == EINTR);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

static int
connect_one(struct addrinfo *ai, int timeout_ms)
{
	int fd, rc, saved;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (timeout_ms > 0 && net_nonblock(fd, 1) == -1)
		goto fail;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc == -1 && (errno == EINPROGRESS || errno == EINTR) && timeout_ms > 0)
		rc = wait_connect(fd, timeout_ms);
	if (rc == -1)
		goto fail;
	if (timeout_ms > 0 && net_nonblock(fd, 0) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
net_connect(const char *host, const char *port, int type, int timeout_ms,
    char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	char addr[NET_ADDR_LEN] = "?";
	int fd = -1;

	if ((res = lookup(host, port, type, 0, err, errlen)) == NULL)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		net_format_addr(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
		if ((fd = connect_one(ai, timeout_ms)) != -1)
			break;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		int saved = errno;

		seterr(err, errlen, "cannot connect to %s: %s", addr,
		    saved == ETIMEDOUT ? "timed out (is the port filtered, or "
		    "the accept queue full?)" :
		    saved == ECONNREFUSED ? "connection refused (no server "
		    "listening there)" : strerror(saved));
		errno = saved;
	}
	return fd;
}

int
net_accept(int lfd, int nonblock, char *addr, size_t addrlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, flags = SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);

	fd = accept4(lfd, (struct sockaddr *)&ss, &len, flags);
	if (fd == -1)
		return -1;
	if (addr != NULL)
		net_format_addr((struct sockaddr *)&ss, len, addr, addrlen);
	return fd;
}

void
net_accept_backoff(void)
{
	/*
	 * Out of descriptors: the pending connection stays in the backlog
	 * and accept() would fail again at once.  Pause instead of spinning;
	 * service resumes when a session ends and frees a descriptor.
	 */
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	/* EINTR is fine: a signal means the caller should look at its flags. */
	(void)nanosleep(&ts, NULL);
}

ssize_t
net_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	size_t off = 0;
	ssize_t w;

	while (off < n) {
		w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return (ssize_t)n;
}

ssize_t
net_read(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r == -1 && errno == EINTR);
	return r;
}

int
net_nonblock(int fd, int on)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

int
net_nodelay(int fd, int on)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

void
net_format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	const void *a;
	unsigned port;

	(void)len;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		a = &in->sin_addr;
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		a = &in6->sin6_addr;
		port = ntohs(in6->sin6_port);
	} else {
		snprintf(out, n, "(family %d)", sa->sa_family);
		return;
	}
	if (inet_ntop(sa->sa_family, a, host, sizeof(host)) == NULL) {
		snprintf(out, n, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, n, "[%s]:%u", host, port);
	else
		snprintf(out, n, "%s:%u", host, port);
}

int
net_local_addr(int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	net_format_addr((struct sockaddr *)&ss, len, out, n);
	return 0;
}

int
net_bound(int lfd, char *host, size_t hostlen, char *port, size_t portlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1) {
		log_err("getsockname: %s", strerror(errno));
		return -1;
	}
	rc = getnameinfo((struct sockaddr *)&ss, len, host, (socklen_t)hostlen,
	    port, (socklen_t)portlen, NI_NUMERICHOST | NI_NUMERICSERV);
	if (rc != 0) {
		log_err("getnameinfo: %s", gai_strerror(rc));
		return -1;
	}
	return 0;
}

int
net_peer_addr(int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	net_format_addr((struct sockaddr *)&ss, len, out, n);
	return 0;
}
