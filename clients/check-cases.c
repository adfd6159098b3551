/*
 * check-cases.c - the checks of bin/check-server, in the order they
 * run, each with its words in English and Italian: what it checks and
 * why a failure matters.  A check runs on connections of its own and
 * leaves what went wrong in its result (check.h).
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define NSEG	4

/*
 * A new connection; send the segments (a pause between them); expect
 * the upper case of all of them, and for a one-shot server the close.
 */
static void
exchange(struct ctx *c, struct result *r, const char *s0, const char *s1,
    const char *s2)
{
	const char *seg[NSEG] = { s0, s1, s2, NULL };
	size_t len[NSEG], i, n, all = 0;
	char *in, *exp;
	int fd;

	for (i = 0; seg[i] != NULL; i++)
		all += len[i] = strlen(seg[i]);
	if ((in = malloc(all + 1)) == NULL) {
		fail(r, "out of memory", "memoria esaurita");
		return;
	}
	for (i = 0, n = 0; seg[i] != NULL; n += len[i], i++)
		memcpy(in + n, seg[i], len[i]);
	exp = upper(in, all, &n);
	if ((fd = tcp_open(c, r)) != -1) {
		if (send_segments(c, fd, r, seg, len) == 0 &&
		    expect(c, fd, exp, n, r) == 0 && c->oneshot)
			expect_close(c, fd, r);
		close(fd);
	}
	free(in);
	free(exp);
}

static void
one_line(struct ctx *c, struct result *r)
{
	exchange(c, r, "ciao, mondo\n", NULL, NULL);
}

static void
lines(struct ctx *c, struct result *r)
{
	exchange(c, r, "uno\ndue\ntre\n", NULL, NULL);
}

static void
split(struct ctx *c, struct result *r)
{
	exchange(c, r, "una riga ", "in tre ", "segmenti\n");
}

static void
utf8_split(struct ctx *c, struct result *r)
{
	/* "caffè": the two bytes of è, C3 A8, in two segments. */
	exchange(c, r, "caff\xc3", "\xa8 al bar\n", NULL);
}

static void
unicode(struct ctx *c, struct result *r)
{
	exchange(c, r, "perché è così? straße, ﬁne\n", NULL, NULL);
}

/* Exactly one '\n': not missing, not "\r\n", not two of them. */
static void
newline(struct ctx *c, struct result *r)
{
	struct buf b;
	const char *got;
	size_t n;
	int fd;

	if ((fd = tcp_open(c, r)) == -1)
		return;
	buf_init(&b);
	if (send_str(c, fd, "tcp\n", r) == 0) {
		/* Ask for one byte more than is due, to see a second '\n'. */
		(void)collect(fd, &b, 5, c->timeout_ms);
		got = buf_head(&b);
		n = buf_pending(&b);
		if (n == 3 && memcmp(got, "TCP", 3) == 0)
			fail(r, "the reply 'TCP' has no '\\n' at the end",
			    "la risposta 'TCP' non ha '\\n' in fondo");
		else if (n == 5 && memcmp(got, "TCP\r\n", 5) == 0)
			fail(r, "the reply ends with '\\r\\n', not '\\n'",
			    "la risposta finisce con '\\r\\n', non con '\\n'");
		else if (n == 5 && memcmp(got, "TCP\n\n", 5) == 0)
			fail(r, "the reply ends with two '\\n': an empty line "
			    "follows it", "la risposta finisce con due '\\n': "
			    "la segue una riga vuota");
		else if (n != 4 || memcmp(got, "TCP\n", 4) != 0)
			(void)expect(c, fd, "TCP\n", 4, r);
	}
	buf_free(&b);
	close(fd);
}

static void
dot(struct ctx *c, struct result *r)
{
	int fd;

	if ((fd = tcp_open(c, r)) == -1)
		return;
	if (send_str(c, fd, "ciao\n", r) == 0 &&
	    expect(c, fd, "CIAO\n", 5, r) == 0 &&
	    send_str(c, fd, ".\n", r) == 0)
		expect_close(c, fd, r);
	close(fd);
}

static void
dot_same(struct ctx *c, struct result *r)
{
	int fd;

	if ((fd = tcp_open(c, r)) == -1)
		return;
	if (send_str(c, fd, "ciao\n.\n", r) == 0 &&
	    expect(c, fd, "CIAO\n", 5, r) == 0)
		expect_close(c, fd, r);
	close(fd);
}

static void
eof(struct ctx *c, struct result *r)
{
	int fd;

	if ((fd = tcp_open(c, r)) == -1)
		return;
	if (send_str(c, fd, "fine\n", r) == 0) {
		if (shutdown(fd, SHUT_WR) == -1)
			fail(r, "shutdown: the server has gone",
			    "shutdown: il server non c'è più");
		else if (expect(c, fd, "FINE\n", 5, r) == 0)
			expect_close(c, fd, r);
	}
	close(fd);
}

#define LONG_LINE	20000

static void
long_line(struct ctx *c, struct result *r)
{
	/* 11 bytes, two of them in two-byte characters: some of those
	 * straddle every 1024-byte recv() of a slide-style server. */
	static const char unit[] = "sockèt ß ";
	char *line = malloc(LONG_LINE + 1);
	size_t n = 0, u = sizeof(unit) - 1;

	if (line == NULL) {
		fail(r, "out of memory", "memoria esaurita");
		return;
	}
	while (n + u < LONG_LINE) {
		memcpy(line + n, unit, u);
		n += u;
	}
	memset(line + n, 'x', LONG_LINE - 1 - n);
	n = LONG_LINE - 1;
	line[n++] = '\n';
	line[n] = '\0';
	exchange(c, r, line, NULL, NULL);
	free(line);
}

/*
 * A is served (persistent: it has had a reply; one-shot: it has sent
 * half a line), then B sends a line.  B's reply while A is connected
 * means a concurrent server; after A ends, an iterative one.
 */
static void
two_clients(struct ctx *c, struct result *r)
{
	struct buf b;
	int a, bfd, st;

	if ((a = tcp_open(c, r)) == -1)
		return;
	if (c->oneshot ? send_str(c, a, "pri", r) :
	    send_str(c, a, "primo\n", r) || expect(c, a, "PRIMO\n", 6, r)) {
		close(a);
		return;
	}
	if ((bfd = tcp_open(c, r)) == -1) {
		close(a);
		return;
	}
	buf_init(&b);
	if (send_str(c, bfd, "secondo\n", r) == 0) {
		st = collect(bfd, &b, 8, c->timeout_ms / 2);
		if (st == GOT_TIMEOUT && buf_pending(&b) == 0) {
			/* Nothing while A is there: end A, then wait again. */
			if (c->oneshot ? send_str(c, a, "mo\n", r) == 0 &&
			    expect(c, a, "PRIMO\n", 6, r) == 0 :
			    send_str(c, a, ".\n", r) == 0) {
				close(a);
				a = -1;
				if (expect(c, bfd, "SECONDO\n", 8, r) == 0 &&
				    c->concurrent)
					fail(r, "iterative: the second client was "
					    "answered only after the first "
					    "ended", "iterativo: il secondo "
					    "client ha avuto risposta solo "
					    "dopo la fine del primo");
				else if (!r->failed)
					note(r, "iterative: the second client "
					    "was answered only after the first "
					    "ended", "iterativo: il secondo "
					    "client ha avuto risposta solo "
					    "dopo la fine del primo");
			}
		} else if (buf_pending(&b) == 8 &&
		    memcmp(buf_head(&b), "SECONDO\n", 8) == 0)
			note(r, "concurrent: the second client was answered "
			    "while the first was connected", "concorrente: il "
			    "secondo client ha avuto risposta mentre il primo "
			    "era connesso");
		else
			(void)expect(c, bfd, "SECONDO\n", 8, r);
	}
	buf_free(&b);
	close(bfd);
	if (a != -1)
		close(a);
}

/* ---- UDP ---- */

static void
udp_one(struct ctx *c, struct result *r, const char *msg)
{
	int fd;

	if ((fd = udp_open(c, r)) == -1)
		return;
	if (udp_send(c, fd, msg, r) == 0)
		(void)udp_expect(c, fd, msg, 0, r);
	close(fd);
}

static void
datagram(struct ctx *c, struct result *r)
{
	udp_one(c, r, "ciao, mondo");
}

static void
udp_unicode(struct ctx *c, struct result *r)
{
	udp_one(c, r, "perché è così? straße, ﬁne");
}

/*
 * Two clients, two ports, one after the other: each gets its own, from
 * the port it sent to (a connected client, as bin/udp-client is,
 * receives nothing from any other).
 */
static void
sender_port(struct ctx *c, struct result *r)
{
	int a, b;

	if ((a = udp_open(c, r)) == -1)
		return;
	if ((b = udp_open(c, r)) == -1) {
		close(a);
		return;
	}
	if (udp_send(c, a, "alfa", r) == 0 && udp_send(c, b, "beta", r) == 0 &&
	    udp_expect(c, a, "alfa", 1, r) == 0)
		(void)udp_expect(c, b, "beta", 1, r);
	close(a);
	close(b);
}

/* Exercise 1b: a client sends and closes; the next one is answered. */
static void
client_gone(struct ctx *c, struct result *r)
{
	struct timespec ts = { 0, 100 * 1000000L };
	int fd;

	if ((fd = udp_open(c, r)) == -1)
		return;
	if (udp_send(c, fd, "addio", r) == -1) {
		close(fd);
		return;
	}
	close(fd);
	/* Time for the server's reply to bounce as ICMP unreachable. */
	(void)nanosleep(&ts, NULL);
	udp_one(c, r, "ancora qui?");
}

#define T_ALL	(MODE_TCP | MODE_ONESHOT)

const struct check checks[] = {
	{ "line", "one line, one reply", "una riga, una risposta",
	  "The simplest request has no right reply: the other checks mean "
	  "little until this one passes.",
	  "La richiesta più semplice non ha la risposta giusta: gli altri "
	  "controlli contano poco finché questo non passa.",
	  T_ALL, one_line },
	{ "lines", "several lines in one segment",
	  "più righe in un solo segmento",
	  "TCP has no message boundaries: one recv() may hold several "
	  "lines, and each needs its own reply.",
	  "TCP non delimita i messaggi: una recv() può contenere più righe, "
	  "e ognuna vuole la sua risposta.",
	  MODE_TCP, lines },
	{ "split", "a line split over three segments",
	  "una riga divisa in tre segmenti",
	  "One recv() is not one line: a line can arrive in pieces, so read "
	  "up to '\\n' before replying.",
	  "Una recv() non è una riga: una riga può arrivare a pezzi, quindi "
	  "si legge fino a '\\n' prima di rispondere.",
	  T_ALL, split },
	{ "utf8-split", "a character (è) split across two segments",
	  "un carattere (è) diviso tra due segmenti",
	  "A UTF-8 character can be cut between two recv()s: decode whole "
	  "lines, never each recv() on its own.",
	  "Un carattere UTF-8 può essere diviso tra due recv(): si "
	  "decodificano righe intere, mai una recv() da sola.",
	  T_ALL, utf8_split },
	{ "unicode", "full Unicode upper case (è → È, ß → SS)",
	  "maiuscole Unicode complete (è → È, ß → SS)",
	  "The reply is str.upper() of the line: every letter, not ASCII "
	  "only (bytes.upper() changes ASCII only).",
	  "La risposta è str.upper() della riga: ogni lettera, non solo "
	  "l'ASCII (bytes.upper() cambia solo l'ASCII).",
	  T_ALL, unicode },
	{ "newline", "each reply ends with one '\\n'",
	  "ogni risposta finisce con un '\\n'",
	  "The client reads up to '\\n': without it the client waits for "
	  "ever; an extra one is an empty reply to a line never sent.",
	  "Il client legge fino a '\\n': senza, aspetta per sempre; uno in "
	  "più è una risposta vuota a una riga mai inviata.",
	  T_ALL, newline },
	{ "dot", "'.' alone ends the session", "«.» da solo chiude la sessione",
	  "A line that is '.' ends the session: the server closes the "
	  "connection and does not reply to it.",
	  "Una riga «.» chiude la sessione: il server chiude la connessione "
	  "e non risponde.",
	  MODE_TCP, dot },
	{ "dot-same", "'.' in the same segment as the line before",
	  "«.» nello stesso segmento della riga prima",
	  "'.' may arrive in the same recv() as the line before it: split "
	  "the input into lines first, then look for '.'.",
	  "«.» può arrivare nella stessa recv() della riga precedente: "
	  "prima si divide l'input in righe, poi si cerca «.».",
	  MODE_TCP, dot_same },
	{ "eof", "end of input without '.' (half-close)",
	  "fine dell'input senza «.» (semichiusura)",
	  "recv() returns 0 bytes when the client has closed: the server "
	  "ends the session there, it does not loop on empty reads.",
	  "recv() restituisce 0 byte quando il client ha chiuso: lì il "
	  "server chiude la sessione, non cicla su letture vuote.",
	  T_ALL, eof },
	{ "long", "a long line (20000 bytes, in one write)",
	  "una riga lunga (20000 byte, in una sola write)",
	  "A line longer than the server's recv() buffer must still get one "
	  "whole, correct reply.",
	  "Una riga più lunga del buffer della recv() del server deve avere "
	  "comunque una risposta intera e corretta.",
	  T_ALL, long_line },
	{ "two-clients", "two clients at once", "due client contemporaneamente",
	  "A second client must be served: at once by a concurrent server, "
	  "when the first ends by an iterative one (--concurrent: at once).",
	  "Il secondo client deve essere servito: subito da un server "
	  "concorrente, alla fine del primo da uno iterativo (--concurrent: "
	  "subito).",
	  T_ALL, two_clients },
	{ "datagram", "one datagram, its upper case back",
	  "un datagramma, torna in maiuscolo",
	  "The simplest datagram has no right reply: the other checks mean "
	  "little until this one passes.",
	  "Il datagramma più semplice non ha la risposta giusta: gli altri "
	  "controlli contano poco finché questo non passa.",
	  MODE_UDP, datagram },
	{ "udp-unicode", "full Unicode upper case (è → È, ß → SS)",
	  "maiuscole Unicode complete (è → È, ß → SS)",
	  "The reply is str.upper() of the message: every letter, not ASCII "
	  "only.",
	  "La risposta è str.upper() del messaggio: ogni lettera, non solo "
	  "l'ASCII.",
	  MODE_UDP, udp_unicode },
	{ "sender-port", "each reply reaches its sender's port",
	  "ogni risposta arriva alla porta del mittente",
	  "A reply goes to the address and port recvfrom() returned with its "
	  "request, from the server's own port.",
	  "Una risposta va all'indirizzo e alla porta che recvfrom() ha "
	  "restituito con la richiesta, dalla porta del server.",
	  MODE_UDP, sender_port },
	{ "client-gone", "a client that leaves before its reply",
	  "un client che se ne va prima della risposta",
	  "Such a client must not stop the server (exercise 1b; on Windows "
	  "recvfrom() then raises WSAECONNRESET, 10054).",
	  "Un client così non deve fermare il server (esercizio 1b; su "
	  "Windows recvfrom() solleva allora WSAECONNRESET, 10054).",
	  MODE_UDP, client_gone },
};
const size_t nchecks = sizeof(checks) / sizeof(checks[0]);
