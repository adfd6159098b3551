/*
 * net.h - thin wrappers over the socket API, in the manner of Redis anet.c.
 *
 * They return -1 and leave a message in the caller's err buffer (when one
 * is given) instead of printing or exiting: each program decides how to
 * report.  errno is preserved for callers that branch on it.
 */
#ifndef SOCKLAB_NET_H
#define SOCKLAB_NET_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

#define NET_ERR_LEN	256
#define NET_ADDR_LEN	64	/* "[ipv6]:port" fits */

/* Flags for net_listen(). */
#define NET_REUSEPORT	0x1	/* also set SO_REUSEPORT */
#define NET_NONBLOCK	0x2	/* listening socket is O_NONBLOCK */

/*
 * Bind and listen on host:port (port "0" = ephemeral) for TCP
 * (SOCK_STREAM) or bind only for UDP (SOCK_DGRAM).  host may be a name,
 * an IPv4 or IPv6 literal, "0.0.0.0" or "::".  SO_REUSEADDR is always set.
 */
int	net_listen(const char *host, const char *port, int type, int backlog,
	    int flags, char *err, size_t errlen);

/*
 * Connect to host:port.  timeout_ms > 0 bounds the connect (ETIMEDOUT);
 * 0 means the kernel's own limit.  For SOCK_DGRAM this only fixes the peer.
 */
int	net_connect(const char *host, const char *port, int type,
	    int timeout_ms, char *err, size_t errlen);

/* Resolve host:port into ss (first result of the given type). */
int	net_resolve(const char *host, const char *port, int type,
	    struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen);

/*
 * One accept4() with SOCK_CLOEXEC (plus SOCK_NONBLOCK when nonblock);
 * the peer's address goes into addr.  It retries nothing: on any
 * failure, EINTR included, it returns -1 with errno set and the caller
 * decides (a signal may be a stop; on EMFILE/ENFILE it backs off, see
 * net_accept_backoff).
 */
int	net_accept(int lfd, int nonblock, char *addr, size_t addrlen);

/* Sleep a little after EMFILE/ENFILE so that accept() never spins. */
void	net_accept_backoff(void);

/* Write all n bytes (MSG_NOSIGNAL, retries EINTR and short writes).
 * Returns n, or -1 with errno (EPIPE, ECONNRESET, EAGAIN on a
 * non-blocking socket ...). */
ssize_t	net_write_all(int fd, const void *, size_t n);

/* read() that retries EINTR. */
ssize_t	net_read(int fd, void *, size_t n);

int	net_nonblock(int fd, int on);
int	net_nodelay(int fd, int on);

/* "127.0.0.1:12000" / "[::1]:12000" for a sockaddr, the local or the
 * peer end of a socket. */
void	net_format_addr(const struct sockaddr *, socklen_t, char *, size_t);
int	net_local_addr(int fd, char *, size_t);
int	net_peer_addr(int fd, char *, size_t);

/* The address lfd is bound to, as the numeric strings net_listen()
 * takes: with --port 0, more SO_REUSEPORT listeners must bind the port
 * the kernel chose.  0, or -1 after logging. */
int	net_bound(int lfd, char *host, size_t hostlen, char *port,
	    size_t portlen);

#endif
