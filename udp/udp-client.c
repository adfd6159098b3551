/*
 * udp-client.c - bin/udp-client: the lab's UDP client, made safe.
 *
 * Each line of standard input (without its newline, as the lab's
 * input()) goes out as one datagram; each reply is printed on a line.
 * UDP gives no guarantee that anything answers, so every wait for a
 * reply is bounded by --timeout: the client never hangs.
 *
 * The slides' two outcomes when no server listens, both shown here:
 *  - default, a connected socket: connect() on UDP sends nothing, it
 *    only fixes the peer.  The kernel then knows which socket the ICMP
 *    "port unreachable" belongs to and reports it as ECONNREFUSED on the
 *    next recv() or send(): "connection refused", at once.
 *  - --no-connect, sendto()/recvfrom() as in the lab: the kernel does
 *    not report ICMP errors to an unconnected socket (Linux, BSD: the
 *    socket could be talking to many peers), so only the timeout ends
 *    the wait: "timeout expired: server not reachable".
 *
 * UDP may also duplicate a datagram, or deliver a reply after its
 * timeout: the protocol has no sequence numbers, but the answer to a
 * line is known (the line upper-cased), so a datagram that is not it
 * answers no question of ours and is dropped, with a note on stderr.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "casemap.h"
#include "clock.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "opt.h"

#define DGRAM_MAX	65536	/* any UDP payload fits (65507 / 65527) */

struct client {
	int			 fd;
	int			 connected;
	struct sockaddr_storage	 peer;		/* --no-connect: where to send */
	socklen_t		 peerlen;
	int			 timeout_ms;
	char			 name[NET_ADDR_LEN + 256];	/* HOST:PORT */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: udp-client [options]\n"
"  -H, --host HOST      server address (default 127.0.0.1)\n"
"  -p, --port PORT      server UDP port (default 12000)\n"
"  -t, --timeout SEC    wait at most SEC seconds for each reply (default 1);\n"
"                       'none' waits for ever, as the lab's client without\n"
"                       settimeout() does\n"
"      --no-connect     use sendto()/recvfrom() on an unconnected socket:\n"
"                       a missing server is then noticed only by the timeout\n"
"  -L, --lang en|it     English or Italian (default: DEMO_LANG, then the\n"
"                       locale)\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"Sends each line of standard input, without its newline, as one datagram\n"
"and prints each reply on a line.  With no server it exits with status 1:\n"
"'connection refused' (connected socket, the default) or 'timeout expired'\n"
"(--no-connect, or when the reply is lost).  A datagram that is not the\n"
"line upper-cased (a duplicate, or a late reply to an earlier line) is\n"
"dropped with a note on stderr, and the wait for the reply goes on.\n");
}

/* "1.0 s", "0.25 s": as the user would write it, without libm. */
static void
fmt_secs(int ms, char *out, size_t n)
{
	if (ms % 100 == 0)
		snprintf(out, n, "%d.%d s", ms / 1000, ms / 100 % 10);
	else
		snprintf(out, n, "%d.%03d s", ms / 1000, ms % 1000);
}

static void
refused(const struct client *c)
{
	die(1, "connection refused: no UDP server on %s", c->name);
}

static void
timed_out(const struct client *c)
{
	char t[32];

	fmt_secs(c->timeout_ms, t, sizeof(t));
	die(1, "timeout expired: server not reachable (no reply in %s)", t);
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	}
	return 0;
}

static void
send_line(const struct client *c, const char *line, size_t n)
{
	ssize_t w;

	/* No datagram is this long; the reply buffers rely on it. */
	if (n >= DGRAM_MAX)
		die(1, "a line of %zu bytes does not fit in one datagram", n);
	do {
		if (c->connected)
			w = send(c->fd, line, n, 0);
		else
			w = sendto(c->fd, line, n, 0,
			    (const struct sockaddr *)&c->peer, c->peerlen);
	} while (w == -1 && errno == EINTR);
	if (w != -1)
		return;
	/* The ICMP error of an earlier datagram may surface here. */
	if (errno == ECONNREFUSED)
		refused(c);
	if (errno == EMSGSIZE)
		die(1, "a line of %zu bytes does not fit in one datagram", n);
	die(1, "send to %s: %s", c->name, strerror(errno));
}

/*
 * Wait until the deadline for the reply, want (wantlen bytes).  A
 * connected socket only ever receives from its peer; an unconnected one
 * takes datagrams from anyone, so those from another address are
 * dropped, as UNP 8.8 advises.  Any other datagram is not our answer.
 */
static void
recv_reply(const struct client *c, const char *want, size_t wantlen,
    char *buf, size_t cap)
{
	struct sockaddr_storage from;
	struct pollfd pfd;
	struct iovec iov;
	struct msghdr msg;
	long deadline = clock_ms() + c->timeout_ms, left = -1;
	ssize_t n;
	int rc;

	for (;;) {
		/* --timeout none: poll() for ever (left -1). */
		if (c->timeout_ms > 0 && (left = deadline - clock_ms()) <= 0)
			timed_out(c);
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			die(1, "poll: %s", strerror(errno));
		if (rc == 0)
			timed_out(c);
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = cap;
		msg.msg_name = &from;
		msg.msg_namelen = sizeof(from);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (errno == ECONNREFUSED)
				refused(c);
			die(1, "receive from %s: %s", c->name, strerror(errno));
		}
		if (!c->connected && !same_addr(&from, &c->peer))
			continue;
		if ((size_t)n == wantlen && !(msg.msg_flags & MSG_TRUNC) &&
		    memcmp(buf, want, wantlen) == 0)
			return;
		log_err("dropped a %zd-byte datagram that does not answer "
		    "this line (a duplicate or a late reply)", n);
	}
}

static void
open_socket(struct client *c, const char *host, const char *port)
{
	char err[NET_ERR_LEN];

	if (c->connected) {
		c->fd = net_connect(host, port, SOCK_DGRAM, 0, err, sizeof(err));
		if (c->fd == -1)
			die(1, "%s", err);
		return;
	}
	if (net_resolve(host, port, SOCK_DGRAM, &c->peer, &c->peerlen, err,
	    sizeof(err)) == -1)
		die(1, "%s", err);
	c->fd = socket(c->peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die(1, "socket: %s", strerror(errno));
}

static void
run(struct client *c)
{
	static char reply[DGRAM_MAX], want[CASE_MAX_EXPANSION * DGRAM_MAX];
	char *line = NULL;
	size_t cap = 0, n;
	ssize_t len;
	int prompt = isatty(STDIN_FILENO);

	for (;;) {
		if (prompt)
			fputs("> ", stderr);
		if ((len = getline(&line, &cap, stdin)) == -1)
			break;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		send_line(c, line, (size_t)len);
		n = case_upper(line, (size_t)len, want);
		recv_reply(c, want, n, reply, sizeof(reply));
		if (fwrite(reply, 1, n, stdout) != n || putchar('\n') == EOF ||
		    fflush(stdout) == EOF)
			die(1, "stdout: %s", strerror(errno));
	}
	if (ferror(stdin))
		die(1, "stdin: %s", strerror(errno));
	if (prompt)
		fputs("\n", stderr);
	free(line);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-connect", no_argument, NULL, 'N' },
		{ "lang", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct client c = { .fd = -1, .connected = 1, .timeout_ms = 1000 };
	const char *host = "127.0.0.1", *port = "12000";
	long v;
	int ch;

	log_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "H:p:t:L:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'p':
			if (opt_long("--port", optarg, 1, 65535, &v) == -1)
				opt_bad_usage(usage);
			port = optarg;
			break;
		case 't':
			if (opt_timeout("--timeout", optarg, 0, 86400,
			    &c.timeout_ms) == -1)
				opt_bad_usage(usage);
			break;
		case 'N': c.connected = 0; break;
		case 'L':
			if (msg_option(optarg) == -1)
				opt_bad_usage(usage);
			break;
		default: opt_common(ch, usage);
		}
	}
	opt_no_operands(argc, argv, usage);
	snprintf(c.name, sizeof(c.name), strchr(host, ':') ? "[%s]:%s" :
	    "%s:%s", host, port);
	open_socket(&c, host, port);
	run(&c);
	if (close(c.fd) == -1)
		die(1, "close: %s", strerror(errno));
	return 0;
}
