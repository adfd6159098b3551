/*
 * udp-server.c - bin/udp-server: the lab's UDP uppercase service.
 *
 * One socket, one loop: receive a datagram, answer its upper-cased text
 * to whoever sent it.  UDP keeps message boundaries, so there is no
 * framing here: one datagram in, one datagram out.  Strictly serial, as
 * in the lab; a datagram never blocks the loop for long because sendto()
 * on UDP does not wait for the peer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "casemap.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "opt.h"
#include "server.h"

/*
 * The largest UDP payload is 65507 bytes over IPv4 and 65527 over IPv6
 * (without jumbograms), so a 64 KiB buffer holds any datagram.  The
 * lab's recvfrom(2048) silently cut longer ones: the kernel drops the
 * rest of a datagram that does not fit, and it is gone for good.  We
 * still ask recvmsg() whether that happened (MSG_TRUNC in msg_flags)
 * and log it instead of answering half a message.
 */
#define DGRAM_MAX	65536

static void
usage(FILE *f)
{
	fprintf(f,
"usage: udp-server [options]\n"
"  -H, --host HOST   address to bind (default 127.0.0.1; ::1, 0.0.0.0, ::)\n"
"  -p, --port PORT   UDP port (default 12000; 0 = any free port)\n"
"  -q, --quiet       do not log each datagram\n"
"  -L, --lang en|it  English or Italian (default: DEMO_LANG, then the locale)\n"
"  -h, --help        this help\n"
"  -V, --version     print the version\n"
"Answers each datagram with its text upper-cased (as Python's str.upper()),\n"
"sent back to the address and port it came from.  Unless --quiet, logs one\n"
"line per datagram with the client's address and port.  The first line on\n"
"standard output is 'listening on ADDR:PORT (udp)'.  SIGTERM, SIGINT or\n"
"SIGHUP ends it with status 0.\n");
}

/*
 * Errors that say something about one datagram or one peer, not about
 * our socket.  Some systems report an ICMP "port unreachable" caused by
 * an earlier reply (a client that quit before its answer came, the
 * slides' Exercise 1b) as ECONNREFUSED on a later receive or send; Linux
 * does so only for connected sockets.  Either way the server goes on.
 */
static int
transient(int e)
{
	switch (e) {
	case EBADF:
	case EFAULT:
	case EINVAL:
	case ENOTSOCK:
		return 0;
	default:
		return 1;
	}
}

/* After an unexpected error, pause a little so that we never spin. */
static void
backoff(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	(void)nanosleep(&ts, NULL);
}

/*
 * Bound to a wildcard address on a host with several addresses, the
 * answer may leave from another source address than the one the request
 * reached (IP_PKTINFO would fix that); the default bind is 127.0.0.1.
 */
static void
reply(int fd, const char *in, size_t n, const struct sockaddr_storage *ss,
    socklen_t sslen, const char *addr)
{
	static char out[CASE_MAX_EXPANSION * DGRAM_MAX];
	size_t m;
	ssize_t w;

	m = case_upper(in, n, out);
	do
		w = sendto(fd, out, m, 0, (const struct sockaddr *)ss, sslen);
	while (w == -1 && errno == EINTR && !server_stop);
	if (w == -1 && errno != EINTR)
		log_err("reply to %s (%zu bytes) not sent: %s%s", addr, m,
		    strerror(errno), errno == EMSGSIZE ?
		    " (larger than one datagram can be)" : "");
}

static int
serve(int fd, int quiet)
{
	static char in[DGRAM_MAX];
	struct sockaddr_storage ss;
	char addr[NET_ADDR_LEN];
	struct iovec iov;
	struct msghdr msg;
	ssize_t n;

	/*
	 * Wait in poll() beside the stop pipe, as the TCP models do, and
	 * only then receive without blocking: a signal that came between a
	 * check of the flag and a blocking recvmsg() would be lost until
	 * the next datagram.
	 */
	for (;;) {
		switch (server_wait_accept(fd)) {
		case 0:
			return 0;
		case -1:
			log_err("poll: %s", strerror(errno));
			return -1;
		}
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = in;
		iov.iov_len = sizeof(in);
		msg.msg_name = &ss;
		msg.msg_namelen = sizeof(ss);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (!transient(errno)) {
				log_err("recvmsg: %s", strerror(errno));
				return -1;
			}
			log_err("recvmsg: %s (ignored)", strerror(errno));
			if (errno != ECONNREFUSED)
				backoff();
			continue;
		}
		net_format_addr((struct sockaddr *)&ss, msg.msg_namelen, addr,
		    sizeof(addr));
		if (msg.msg_flags & MSG_TRUNC) {
			log_err("datagram from %s longer than %zu bytes: "
			    "truncated, not answered", addr, sizeof(in));
			continue;
		}
		if (!quiet)
			log_out("datagram from %s (%zd bytes)", addr, n);
		reply(fd, in, (size_t)n, &ss, msg.msg_namelen, addr);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "lang", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *host = "127.0.0.1", *port = "12000";
	char err[NET_ERR_LEN], addr[NET_ADDR_LEN];
	long v;
	int ch, fd, quiet = 0, rc;

	log_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "H:p:qL:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'p':
			if (opt_long("--port", optarg, 0, 65535, &v) == -1)
				opt_bad_usage(usage);
			port = optarg;
			break;
		case 'q': quiet = 1; break;
		case 'L':
			if (msg_option(optarg) == -1)
				exit(2);
			break;
		default: opt_common(ch, usage);
		}
	}
	opt_no_operands(argc, argv, usage);
	if (server_signals(0) == -1)
		die(1, "sigaction: %s", strerror(errno));
	fd = net_listen(host, port, SOCK_DGRAM, 0, 0, err, sizeof(err));
	if (fd == -1)
		die(1, "%s", err);
	if (net_local_addr(fd, addr, sizeof(addr)) == -1)
		die(1, "getsockname: %s", strerror(errno));
	/* One write(2), so the line is out before the first datagram. */
	log_out("listening on %s (udp)", addr);
	rc = serve(fd, quiet);
	if (close(fd) == -1)
		log_err("close: %s", strerror(errno));
	return rc == 0 ? 0 : 1;
}
