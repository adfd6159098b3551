/*
 * check-server.c - bin/check-server: does a server speak the lab's
 * protocol?  For a teacher looking at the servers students wrote.
 *
 * Each check opens its own connection, sends something a real client
 * may send (several lines in one segment, a line or a UTF-8 character
 * cut between segments, '.' behind a line, a half-close) and compares
 * what comes back with what the protocol says: the line upper-cased as
 * Python's str.upper() does it (lib/casemap.c), '.' ends the session.
 * Segments go out with TCP_NODELAY and a pause between them, so that
 * they really reach the server apart.  Every wait has a deadline: a
 * server that hangs or dies fails checks, the checker never hangs.
 *
 * The checks and their words, in English and Italian, are in
 * check-cases.c; this file does the I/O and the report.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "casemap.h"
#include "check.h"
#include "clock.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "opt.h"

/* Idle time after part of a reply, before we call it complete. */
#define GAP_MS	300

int lang_it;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: check-server [--host H] --port P [--udp] [--oneshot] [--concurrent]\n"
"                    [--timeout SEC] [--pause SEC] [--lang en|it]\n"
"  -H, --host HOST      the server's address (default 127.0.0.1)\n"
"  -p, --port PORT      the server's port (required)\n"
"  -u, --udp            a UDP server: one datagram in, its upper case out\n"
"  -1, --oneshot        a one-shot TCP server: one line, one reply, close\n"
"                       (the lab's first TCP server)\n"
"  -c, --concurrent     the server must serve two clients at once\n"
"  -t, --timeout SEC    wait at most SEC for each reply (default 2)\n"
"      --pause SEC      pause between segments (default 0.1)\n"
"  -L, --lang LANG      en or it (default: DEMO_LANG, then the locale)\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"Runs each check on its own connection and prints PASS or FAIL, and for a\n"
"failure what went wrong and why it matters.  Exit status 0 when every\n"
"check passed, 1 otherwise, 2 on bad usage.\n");
}

/* ---- words and the report ---- */

/* en or it, by the language; the compiler checks en's format. */
static const char *T(const char *, const char *)
    __attribute__((format_arg(1)));

static const char *
T(const char *en, const char *it)
{
	return lang_it ? it : en;
}

void
fail(struct result *r, const char *en, const char *it, ...)
{
	va_list ap;

	r->failed = 1;
	va_start(ap, it);
	vsnprintf(r->what, sizeof(r->what), T(en, it), ap);
	va_end(ap);
}

void
note(struct result *r, const char *en, const char *it)
{
	snprintf(r->what, sizeof(r->what), "%s", T(en, it));
}

/* Bytes of a well-formed UTF-8 character at p, or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * 'bytes' as a teacher wants to read them: text as it is, \n and
 * friends escaped, at most about 32 characters.  One static buffer per
 * slot, so that two can appear in one message.
 */
const char *
show(const char *s, size_t n, int slot)
{
	static char out[2][200];
	const unsigned char *p = (const unsigned char *)s;
	char *o = out[slot & 1];
	size_t i = 0, k = 0, chars = 0, len;

	o[k++] = '\'';
	while (i < n && chars < 32) {
		if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t')
			k += (size_t)snprintf(o + k, 8, "\\%c",
			    p[i] == '\n' ? 'n' : p[i] == '\r' ? 'r' : 't');
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			o[k++] = (char)p[i];
		else if ((len = utf8_len(p + i, n - i)) > 0) {
			memcpy(o + k, p + i, len);
			k += len;
			i += len;
			chars++;
			continue;
		} else
			k += (size_t)snprintf(o + k, 8, "\\x%02x", p[i]);
		i++;
		chars++;
	}
	o[k++] = '\'';
	if (i < n)
		k += (size_t)snprintf(o + k, 32, T("... (%zu bytes)",
		    "... (%zu byte)"), n);
	o[k] = '\0';
	return o;
}

/* Print text indented, broken at spaces to fit 80 columns. */
static void
wrap(const char *text, size_t indent)
{
	size_t width = 80 - indent, n, brk;
	const char *p = text;

	while (*p != '\0') {
		n = strlen(p);
		brk = n;
		if (msg_width(p, n) > width) {
			for (brk = 0; msg_width(p, brk) <= width && brk < n; brk++)
				;
			brk--;		/* p[0..brk) fills the width */
			while (brk > 0 && p[brk] != ' ')
				brk--;
			if (brk == 0)
				brk = strcspn(p, " ");
		}
		printf("%*s%.*s\n", (int)indent, "", (int)brk, p);
		p += brk;
		while (*p == ' ')
			p++;
	}
}

/* ---- time and I/O, every wait bounded ---- */

static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	long long left;
	int rc;

	for (;;) {
		left = deadline - clock_ms();
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		return rc;
	}
}

/* A TCP connection with Nagle off, or -1 and r says why. */
int
tcp_open(const struct ctx *c, struct result *r)
{
	char err[NET_ERR_LEN];
	int fd;

	fd = net_connect(c->host, c->port, SOCK_STREAM, c->timeout_ms, err,
	    sizeof(err));
	if (fd == -1) {
		if (errno == ECONNREFUSED)
			fail(r, "connection refused: the server is not running "
			    "(did an earlier check make it crash?)",
			    "connessione rifiutata: il server non è in "
			    "esecuzione (è terminato in un controllo "
			    "precedente?)");
		else
			fail(r, "%s", "%s", err);
		return -1;
	}
	if (net_nodelay(fd, 1) == -1) {
		fail(r, "TCP_NODELAY: %s", "TCP_NODELAY: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Send n bytes by the deadline; -1 and r says why. */
static int
send_by(const struct ctx *c, int fd, const char *p, size_t n,
    struct result *r)
{
	long long deadline = clock_ms() + c->timeout_ms;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			fail(r, "the server closed the connection while we "
			    "were sending (%s)", "il server ha chiuso la "
			    "connessione mentre inviavamo (%s)",
			    strerror(errno));
			return -1;
		}
		if (wait_fd(fd, POLLOUT, deadline) <= 0) {
			fail(r, "the server read nothing for %g s",
			    "il server non ha letto nulla per %g s",
			    c->timeout_ms / 1000.0);
			return -1;
		}
	}
	return 0;
}

/* Send segments, a pause between them; a NULL ends the list. */
int
send_segments(const struct ctx *c, int fd, struct result *r,
    const char *const *seg, const size_t *len)
{
	size_t i;

	for (i = 0; seg[i] != NULL; i++) {
		if (i > 0)
			pause_ms(c->pause_ms);
		if (send_by(c, fd, seg[i], len[i], r) == -1)
			return -1;
	}
	return 0;
}

int
send_str(const struct ctx *c, int fd, const char *s, struct result *r)
{
	return send_by(c, fd, s, strlen(s), r);
}

/*
 * Read into b until it holds want bytes, EOF, a reset, or wait_ms with
 * nothing (GAP_MS once part of it is in).  Returns GOT_*.
 */
int
collect(int fd, struct buf *b, size_t want, int wait_ms)
{
	long long deadline = clock_ms() + wait_ms;
	ssize_t n;
	char *p;

	while (buf_pending(b) < want) {
		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return GOT_TIMEOUT;
		if ((p = buf_reserve(b, 65536)) == NULL)
			die(1, "out of memory");
		n = net_read(fd, p, 65536);
		if (n == 0)
			return GOT_EOF;
		if (n == -1)
			return errno == ECONNRESET ? GOT_RESET : GOT_ERROR;
		b->len += (size_t)n;
		if (deadline > clock_ms() + GAP_MS)
			deadline = clock_ms() + GAP_MS;
	}
	return GOT_ENOUGH;
}

/* Whether got is exp with every '\n' taken out. */
static int
lacks_newlines(const char *got, size_t len, const char *exp, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		if (exp[i] == '\n')
			continue;
		if (j == len || got[j] != exp[i])
			return 0;
		j++;
	}
	return j == len && len < n;
}

/* Start of the UTF-8 character holding byte i. */
static size_t
char_start(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static void
differ(struct result *r, const char *got, size_t len, const char *exp,
    size_t n)
{
	size_t i, from;

	if (len <= 48 && n <= 48) {
		fail(r, "got %s, expected %s", "ricevuto %s, atteso %s",
		    show(got, len, 0), show(exp, n, 1));
		return;
	}
	for (i = 0; i < len && i < n && got[i] == exp[i]; i++)
		;
	from = char_start(exp, i > 8 ? i - 8 : 0);
	fail(r, "%zu bytes, expected %zu; from byte %zu: got %s, expected %s",
	    "%zu byte, attesi %zu; dal byte %zu: ricevuto %s, atteso %s",
	    len, n, from, show(got + from, len - from, 0),
	    show(exp + from, n - from, 1));
}

/* What was wrong with a reply that is not exp; 0 if it is exp. */
static int
judge(const struct ctx *c, struct buf *b, int st, const char *exp,
    size_t n, struct result *r)
{
	const char *got = buf_head(b);
	size_t len = buf_pending(b);

	if (len == n && memcmp(got, exp, n) == 0)
		return 0;
	if (len > n && memcmp(got, exp, n) == 0)
		fail(r, "more came after the reply: %s",
		    "dopo la risposta è arrivato altro: %s",
		    show(got + n, len - n, 0));
	else if (len > 0 && lacks_newlines(got, len, exp, n)) {
		fail(r, "got %s: no '\\n' after the reply", "ricevuto %s: "
		    "nessun '\\n' dopo la risposta", show(got, len, 0));
		r->no_newline = 1;
	} else if (len > 0)
		differ(r, got, len, exp, n);
	else if (st == GOT_EOF)
		fail(r, "the server closed the connection with no reply",
		    "il server ha chiuso la connessione senza rispondere");
	else if (st == GOT_RESET)
		fail(r, "the connection was reset (RST) with no reply",
		    "la connessione è stata chiusa con un reset (RST) senza "
		    "risposta");
	else if (st == GOT_ERROR)
		fail(r, "read: %s", "read: %s", strerror(errno));
	else
		fail(r, "no reply in %g s", "nessuna risposta in %g s",
		    c->timeout_ms / 1000.0);
	return -1;
}

/* Expect exactly exp, n bytes, within the timeout. */
int
expect(const struct ctx *c, int fd, const char *exp, size_t n,
    struct result *r)
{
	struct buf b;
	int st, rc;

	buf_init(&b);
	st = collect(fd, &b, n, c->timeout_ms);
	rc = judge(c, &b, st, exp, n, r);
	buf_free(&b);
	return rc;
}

/* exp is s upper-cased, as str.upper() does; the caller frees it. */
char *
upper(const char *s, size_t n, size_t *outlen)
{
	char *o = malloc(CASE_MAX_EXPANSION * n + 1);

	if (o == NULL)
		die(1, "out of memory");
	*outlen = case_upper(s, n, o);
	return o;
}

/* The server must close the session now, sending nothing more. */
int
expect_close(const struct ctx *c, int fd, struct result *r)
{
	struct buf b;
	int st;

	buf_init(&b);
	st = collect(fd, &b, 1, c->timeout_ms);
	if (buf_pending(&b) > 0)
		fail(r, "more came after the reply: %s",
		    "dopo la risposta è arrivato altro: %s",
		    show(buf_head(&b), buf_pending(&b), 0));
	else if (st == GOT_TIMEOUT)
		fail(r, "the reply came, but the server did not close the "
		    "connection in %g s", "la risposta è arrivata, ma il "
		    "server non ha chiuso la connessione in %g s",
		    c->timeout_ms / 1000.0);
	buf_free(&b);
	return r->failed ? -1 : 0;
}

/* ---- UDP ---- */

/* An unconnected UDP socket and the server's address in c. */
int
udp_open(struct ctx *c, struct result *r)
{
	char err[NET_ERR_LEN];
	int fd;

	if (net_resolve(c->host, c->port, SOCK_DGRAM, &c->ss, &c->sslen, err,
	    sizeof(err)) == -1) {
		fail(r, "%s", "%s", err);
		return -1;
	}
	if ((fd = socket(c->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		fail(r, "socket: %s", "socket: %s", strerror(errno));
		return -1;
	}
	return fd;
}

int
udp_send(const struct ctx *c, int fd, const char *s, struct result *r)
{
	if (sendto(fd, s, strlen(s), 0, (const struct sockaddr *)&c->ss,
	    c->sslen) != -1)
		return 0;
	fail(r, "sendto: %s", "sendto: %s", strerror(errno));
	return -1;
}

/*
 * The next datagram on fd within the timeout, compared with the upper
 * case of sent; with same_port, from must be the server's address.
 */
int
udp_expect(const struct ctx *c, int fd, const char *sent, int same_port,
    struct result *r)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	char got[4096], a[NET_ADDR_LEN], b[NET_ADDR_LEN], *exp;
	size_t n;
	ssize_t len;

	if (wait_fd(fd, POLLIN, clock_ms() + c->timeout_ms) <= 0) {
		fail(r, "no reply in %g s", "nessuna risposta in %g s",
		    c->timeout_ms / 1000.0);
		return -1;
	}
	len = recvfrom(fd, got, sizeof(got), 0, (struct sockaddr *)&from,
	    &fromlen);
	if (len == -1) {
		fail(r, "recvfrom: %s", "recvfrom: %s", strerror(errno));
		return -1;
	}
	net_format_addr((struct sockaddr *)&from, fromlen, a, sizeof(a));
	net_format_addr((struct sockaddr *)&c->ss, c->sslen, b, sizeof(b));
	if (same_port && strcmp(a, b) != 0) {
		fail(r, "the reply came from %s, not from %s",
		    "la risposta è arrivata da %s, non da %s", a, b);
		return -1;
	}
	exp = upper(sent, strlen(sent), &n);
	if ((size_t)len != n || memcmp(got, exp, n) != 0)
		fail(r, "got %s, expected %s", "ricevuto %s, atteso %s",
		    show(got, (size_t)len, 0), show(exp, n, 1));
	free(exp);
	return r->failed ? -1 : 0;
}

/* ---- main ---- */

/* --lang, else the environment, as every program decides (lib/msg.h). */
static int
want_italian(const char *opt)
{
	if (opt != NULL && msg_setlang(opt) == -1) {
		log_err("--lang: '%s' is not en or it", opt);
		opt_bad_usage(usage);
	}
	return msg_italian();
}

static int
report(struct ctx *c, const struct check *k, size_t nk)
{
	const char *pass = T("PASS", "OK"), *failw = T("FAIL", "FALLITO");
	size_t i, ran = 0, failed = 0;
	int sw = (int)(msg_width(failw, strlen(failw)) + 2), kw = 13;
	struct result r;

	for (i = 0; i < nk; i++) {
		if (!(k[i].modes & c->mode))
			continue;
		memset(&r, 0, sizeof(r));
		k[i].run(c, &r);
		ran++;
		failed += r.failed != 0;
		printf("%-*s%-*s%s\n", sw, r.failed ? failw : pass, kw,
		    k[i].key, T(k[i].en, k[i].it));
		if (r.what[0] != '\0')
			wrap(r.what, (size_t)(sw + kw));
		/* One cause, explained once: by the check newline. */
		if (r.failed && r.no_newline && strcmp(k[i].key, "newline"))
			wrap(T("(the cause: see the check newline)",
			    "(la causa: vedi il controllo newline)"),
			    (size_t)(sw + kw));
		else if (r.failed)
			wrap(T(k[i].why_en, k[i].why_it), (size_t)(sw + kw));
		if (fflush(stdout) == EOF)
			die(1, "stdout: %s", strerror(errno));
	}
	if (failed == 0)
		printf(T("%zu of %zu checks passed\n",
		    "controlli superati: %zu su %zu\n"), ran, ran);
	else
		printf(T("%zu of %zu checks failed\n",
		    "controlli falliti: %zu su %zu\n"), failed, ran);
	return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "udp", no_argument, NULL, 'u' },
		{ "oneshot", no_argument, NULL, '1' },
		{ "concurrent", no_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pause", required_argument, NULL, 'P' },
		{ "lang", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctx c = { .host = "127.0.0.1", .timeout_ms = 2000,
	    .pause_ms = 100, .mode = MODE_TCP };
	const char *lang = NULL;
	int ch, udp = 0, oneshot = 0;
	long v;

	log_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "H:p:u1ct:L:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'H': c.host = optarg; break;
		case 'p':
			if (opt_long("--port", optarg, 1, 65535, &v) == -1)
				opt_bad_usage(usage);
			c.port = optarg;
			break;
		case 'u': udp = 1; break;
		case '1': oneshot = 1; break;
		case 'c': c.concurrent = 1; break;
		case 't':
			if (opt_msec("--timeout", optarg, 0, 3600,
			    &c.timeout_ms) == -1)
				opt_bad_usage(usage);
			break;
		case 'P':
			if (opt_msec("--pause", optarg, 1, 10,
			    &c.pause_ms) == -1)
				opt_bad_usage(usage);
			break;
		case 'L': lang = optarg; break;
		default: opt_common(ch, usage);
		}
	}
	opt_no_operands(argc, argv, usage);
	if (c.port == NULL) {
		log_err("--port is required");
		opt_bad_usage(usage);
	}
	if (udp + oneshot > 1 || (udp && c.concurrent)) {
		log_err("--udp goes with neither --oneshot nor --concurrent");
		opt_bad_usage(usage);
	}
	lang_it = want_italian(lang);
	c.mode = udp ? MODE_UDP : oneshot ? MODE_ONESHOT : MODE_TCP;
	c.oneshot = oneshot;
	printf(T("check-server: %s port %s, %s\n",
	    "check-server: %s porta %s, %s\n"), c.host, c.port,
	    udp ? "UDP" : oneshot ?
	    T("TCP, one line per connection", "TCP, una riga per connessione") :
	    T("TCP, persistent sessions", "TCP, sessioni persistenti"));
	return report(&c, checks, nchecks);
}
