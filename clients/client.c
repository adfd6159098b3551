/*
 * client.c - bin/client: the lab's persistent TCP client.
 *
 * Reads lines from standard input, sends each one (with its newline) and
 * prints the server's reply, exactly as it came, on standard output.  A
 * line that is "." ends the session: it is sent and the server closes
 * without replying.  At the end of input the client half-closes
 * (shutdown SHUT_WR) so that the server sees EOF, and waits for it to
 * close.  --once is the lab's first client: one line, one reply, close.
 *
 * Lock-step: the next line goes out only when the previous reply is in,
 * as a user at the keyboard would do it.  That keeps at most one reply
 * in flight, so neither side can fill the other's buffers and deadlock,
 * and the prompt appears after each reply.  The socket is polled beside
 * standard input, so a server that closes early (busy, idle timeout,
 * shut down) is noticed at once, not at the next line.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "opt.h"


/*
 * Lines are not held whole: past CHUNK bytes without a newline, what we
 * have is sent (or printed) and the rest follows, so a line of any
 * length costs bounded memory.  The server decides what is too long.
 */
#define CHUNK	65536

struct client {
	int		 fd;
	char		 name[NET_ADDR_LEN + 256];	/* HOST:PORT, for messages */
	int		 timeout_ms;	/* 0: wait as long as the server takes */
	int		 once;
	int		 prompt;	/* stdin is a terminal */
	int		 prompted;
	struct buf	 in;		/* standard input not sent yet */
	int		 in_eof;
	int		 midline;	/* part of the current line is sent */
	struct buf	 rep;		/* a reply line not complete yet */
	int		 midreply;	/* part of the current reply is printed */
	int		 waiting;	/* a reply is owed */
	int		 done;		/* nothing more to send: ".", EOF, error */
	int		 broken;	/* a write failed: the server went away */
	long long	 deadline;	/* for the current wait, when timeout_ms */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: client [options]\n"
"  -H, --host HOST      server address (default 127.0.0.1; ::1 for IPv6)\n"
"  -p, --port PORT      server TCP port (default 12000)\n"
"  -1, --once           send one line, print one reply, close (the lab's\n"
"                       first client)\n"
"  -t, --timeout SEC    give up when connecting, sending a line (each 64 KiB\n"
"                       of a longer one) or waiting for a reply takes longer\n"
"                       than SEC seconds (default, or 'none': no limit)\n"
"  -L, --lang en|it     English or Italian (default: DEMO_LANG, then the\n"
"                       locale)\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"Sends each line of standard input and prints each reply line as it came\n"
"(no prefix, so that scripts can use the output).  A line '.' ends the\n"
"session; so does the end of input, after the last reply.  Exit status 0\n"
"when the session ended normally, 1 when the server could not be reached,\n"
"closed early or sent an error (it is printed), 2 on bad usage.\n");
}

static void
arm_deadline(struct client *c)
{
	c->deadline = c->timeout_ms ? clock_ms() + c->timeout_ms : 0;
}

static void
connect_to(struct client *c, const char *host, const char *port)
{
	char err[NET_ERR_LEN];

	c->fd = net_connect(host, port, SOCK_STREAM, c->timeout_ms, err,
	    sizeof(err));
	if (c->fd != -1)
		return;
	if (errno == ECONNREFUSED)
		die(1, "connection refused: no server on %s", c->name);
	if (errno == ETIMEDOUT)
		die(1, "connection timed out: no answer from %s (is the "
		    "server's accept queue full?)", c->name);
	die(1, "%s", err);
}

static void
out(const char *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, stdout) != n)
		die(1, "stdout: %s", strerror(errno));
}

/*
 * The server's own messages ("ERR line too long (max N bytes)", "ERR
 * server busy") come just before it closes.  They cannot be mistaken
 * for a reply: a reply is upper-cased, so it never holds a lower-case
 * ASCII letter, and these always do.
 */
static int
server_error(const char *p, size_t n)
{
	size_t i;

	if (n < 4 || memcmp(p, "ERR ", 4) != 0)
		return 0;
	for (i = 4; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			return 1;
	return 0;
}

static void
reply_line(struct client *c, const char *p, size_t n)
{
	int err = !c->midreply && server_error(p, n);

	out(p, n);
	c->midreply = 0;
	if (err) {
		fflush(stdout);
		die(1, "the server ended the session");
	}
	if (c->waiting) {
		c->waiting = 0;
		c->prompted = 0;
	}
	if (c->once) {
		if (fflush(stdout) == EOF)
			die(1, "stdout: %s", strerror(errno));
		exit(0);
	}
	arm_deadline(c);
}

/* Print every complete reply line; keep a partial one, up to CHUNK. */
static void
print_replies(struct client *c)
{
	const char *p, *nl;
	size_t n;

	for (;;) {
		p = buf_head(&c->rep);
		n = buf_pending(&c->rep);
		if ((nl = memchr(p, '\n', n)) == NULL)
			break;
		reply_line(c, p, (size_t)(nl - p) + 1);
		buf_consume(&c->rep, (size_t)(nl - p) + 1);
	}
	if (n >= CHUNK) {
		out(p, n);
		buf_consume(&c->rep, n);
		c->midreply = 1;
	}
	if (fflush(stdout) == EOF)
		die(1, "stdout: %s", strerror(errno));
}

static void
server_closed(struct client *c)
{
	if (buf_pending(&c->rep) > 0) {
		out(buf_head(&c->rep), buf_pending(&c->rep));
		out("\n", 1);
		fflush(stdout);
		die(1, "the server closed the connection in the middle of a "
		    "reply");
	}
	if (c->waiting)
		die(1, "the server closed the connection before replying");
	if (!c->done || c->broken)
		die(1, "the server closed the connection");
	exit(0);
}

static void
read_socket(struct client *c)
{
	char *p;
	ssize_t r;

	if ((p = buf_reserve(&c->rep, 16384)) == NULL)
		die(1, "out of memory");
	r = net_read(c->fd, p, 16384);
	if (r == 0)
		server_closed(c);
	if (r == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == ECONNRESET)
			die(1, "connection reset by the server");
		die(1, "read from %s: %s", c->name, strerror(errno));
	}
	c->rep.len += (size_t)r;
	print_replies(c);
}

static void
read_stdin(struct client *c)
{
	char *p;
	ssize_t r;

	if ((p = buf_reserve(&c->in, 16384)) == NULL)
		die(1, "out of memory");
	r = net_read(STDIN_FILENO, p, 16384);
	if (r == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		die(1, "stdin: %s", strerror(errno));
	}
	if (r == 0) {
		c->in_eof = 1;
		if (c->prompt)
			fputs("\n", stderr);	/* after "> ^D" */
	}
	c->in.len += (size_t)r;
}

/*
 * Wait until the socket takes more bytes, up to the deadline end (0:
 * no limit).  A server that reads nothing fills both socket buffers,
 * and a blocking send() would then wait for ever.
 */
static void
wait_writable(struct client *c, long long end)
{
	struct pollfd pfd;
	long long left = -1;
	int rc;

	pfd.fd = c->fd;
	pfd.events = POLLOUT;
	for (;;) {
		if (end && (left = end - clock_ms()) <= 0)
			die(1, "timed out: %s took no more of the line in %g s",
			    c->name, c->timeout_ms / 1000.0);
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc > 0)
			return;
		if (rc == -1 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
	}
}

/*
 * Send bytes of a request, within --timeout.  If the server has gone
 * (it may have closed on an over-long line), stop sending but keep
 * reading: its last words are probably waiting in our receive buffer.
 */
static void
send_bytes(struct client *c, const char *p, size_t n)
{
	long long end = c->timeout_ms ? clock_ms() + c->timeout_ms : 0;
	ssize_t w;

	while (n > 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w >= 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			wait_writable(c, end);
			continue;
		}
		if (errno != EPIPE && errno != ECONNRESET)
			die(1, "write to %s: %s", c->name, strerror(errno));
		c->done = 1;
		c->broken = 1;
		return;
	}
}

static void
finish_sending(struct client *c)
{
	c->done = 1;
	arm_deadline(c);
	/* EOF for the server; ENOTCONN if it has already gone. */
	if (shutdown(c->fd, SHUT_WR) == -1 && errno != ENOTCONN)
		die(1, "shutdown: %s", strerror(errno));
}

static int
is_dot(const char *p, size_t n)
{
	return (n == 2 && memcmp(p, ".\n", 2) == 0) ||
	    (n == 3 && memcmp(p, ".\r\n", 3) == 0);
}

/* Send the next line if standard input has given us one. */
static void
next_request(struct client *c)
{
	const char *p = buf_head(&c->in), *nl;
	size_t n = buf_pending(&c->in), len;
	int dot;

	if (n > 0 && (nl = memchr(p, '\n', n)) != NULL) {
		len = (size_t)(nl - p) + 1;
		dot = !c->midline && is_dot(p, len);
		send_bytes(c, p, len);
		buf_consume(&c->in, len);
		if (dot) {
			c->done = 1;
			arm_deadline(c);
			return;
		}
		c->midline = 0;
		c->waiting = 1;
		if (c->once)
			c->done = 1;
		arm_deadline(c);
		return;
	}
	if (c->in_eof) {
		if (n == 0 && !c->midline) {
			finish_sending(c);
			return;
		}
		/* A last line without its newline: complete it. */
		if (buf_append(&c->in, "\n", 1) == -1)
			die(1, "out of memory");
		next_request(c);
		return;
	}
	if (n >= CHUNK) {
		send_bytes(c, p, n);
		buf_consume(&c->in, n);
		c->midline = 1;
	}
}

static void
run(struct client *c)
{
	struct pollfd pfd[2];
	long long left;
	int rc, want_stdin, timeout;

	for (;;) {
		if (!c->waiting && !c->done)
			next_request(c);
		want_stdin = !c->waiting && !c->done && !c->in_eof;
		if (want_stdin && c->prompt && !c->prompted) {
			fputs("> ", stderr);
			c->prompted = 1;
		}
		timeout = -1;
		if (c->deadline && (c->waiting || c->done)) {
			left = c->deadline - clock_ms();
			if (left <= 0 && c->waiting)
				die(1, "timed out: no reply from %s in %g s",
				    c->name, c->timeout_ms / 1000.0);
			if (left <= 0)
				die(1, "timed out: %s did not close the "
				    "session in %g s", c->name,
				    c->timeout_ms / 1000.0);
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd[0].fd = c->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = want_stdin ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		rc = poll(pfd, 2, timeout);
		if (rc == -1 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		if (rc <= 0)
			continue;
		if (pfd[0].revents)
			read_socket(c);
		if (pfd[1].revents)
			read_stdin(c);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, '1' },
		{ "timeout", required_argument, NULL, 't' },
		{ "lang", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct client c;
	const char *host = "127.0.0.1", *port = "12000";
	long v;
	int ch;

	memset(&c, 0, sizeof(c));
	log_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "H:p:1t:L:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'p':
			if (opt_long("--port", optarg, 1, 65535, &v) == -1)
				opt_bad_usage(usage);
			port = optarg;
			break;
		case '1': c.once = 1; break;
		case 't':
			if (opt_timeout("--timeout", optarg, 1, 86400,
			    &c.timeout_ms) == -1)
				opt_bad_usage(usage);
			break;
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
	buf_init(&c.in);
	buf_init(&c.rep);
	/* Never a NULL buffer: memchr() and friends want real pointers. */
	if (buf_reserve(&c.in, 16384) == NULL ||
	    buf_reserve(&c.rep, 16384) == NULL)
		die(1, "out of memory");
	c.prompt = isatty(STDIN_FILENO);
	connect_to(&c, host, port);
	run(&c);
	return 0;
}
