/*
 * timeline.c - demo-backlog's part 1, the run: the clients' events, the
 * poll() loop that times them, and what ss and the kernel show while the
 * server is busy.  timeline-text.c narrates the outcome.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "backlog.h"

double T0;	/* every time printed is relative to this */

#define EV_INDENT	23	/* where an event's message starts */

/* --short: leave out the events the summary table repeats. */
static int brief;

static void ev(double, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* One line of the timeline: "  +1.234 s  client 3   message". */
static void
ev(double t, const char *who, const char *fmt, ...)
{
	char lead[64], msg[512];
	va_list ap;

	snprintf(lead, sizeof(lead), "  %+7.3f s  %-9s ", t - T0, who);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	demo_fill(lead, EV_INDENT, msg);
}

static const char *
cname(const struct client *c)
{
	static char name[4][16];
	static int i;

	i = (i + 1) % 4;
	snprintf(name[i], sizeof(name[i]), "client %d", c->id);
	return name[i];
}

static void
client_fail(struct client *c, double now, enum cstate st, int err)
{
	c->st = st;
	c->t_end = now;
	snprintf(c->err, sizeof(c->err), "%s", strerror(err));	/* JSON */
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	if (st == C_REFUSED)
		ev(now, cname(c), tr("connect() refused (%s): an RST came back",
		    "connect() rifiutata (%s): è tornato un RST"),
		    msg_strerror(err));
	else if (st == C_TIMEDOUT)
		ev(now, cname(c), tr("connect() gave up (%s) after %.1f s",
		    "connect() ha rinunciato (%s) dopo %.1f s"),
		    msg_strerror(err), now - c->t_start);
	else
		ev(now, cname(c), tr("error: %s", "errore: %s"),
		    msg_strerror(err));
}

/* Poll the kernel for SYN retransmissions of a connecting socket. */
static void
client_check_retx(struct client *c, double now)
{
	unsigned total;

	if (tcp_state(c->fd, &total) == -1 || total <= c->retx_seen)
		return;
	while (c->retx_seen < total) {
		c->retx_seen++;
		if (c->st != C_CONNECTING) {
			c->data_retx++;
			ev(now, cname(c), "%s", tr(
			    "its line was retransmitted: the server had not "
			    "queued the connection yet (the handshake's last "
			    "ACK found the queue full and was dropped)",
			    "la sua riga è stata ritrasmessa: il server non "
			    "aveva ancora messo in coda la connessione (l'ultimo "
			    "ACK dell'handshake ha trovato la coda piena ed è "
			    "stato scartato)"));
			continue;
		}
		if (c->nretx < MAXRETX)
			c->t_retx[c->nretx++] = now;
		if (!brief)	/* the summary's last column has them */
			ev(now, cname(c), tr(
			    "SYN retransmitted (#%u), %.2f s after connect()",
			    "SYN ritrasmesso (n. %u), %.2f s dopo connect()"),
			    c->retx_seen, now - c->t_start);
	}
}

static void
client_established(struct timeline *tl, struct client *c, double now)
{
	char line[64];
	int busy = tl->t_release == 0;

	c->t_est = now;
	c->st = C_WAITREPLY;
	if (c->nretx == 0)
		ev(now, cname(c), tr(
		    "established after %.3f s%s",
		    "stabilita dopo %.3f s%s"), now - c->t_start,
		    busy ? tr(": the kernel completed the handshake; it waits "
		    "in the accept queue", ": il kernel ha completato "
		    "l'handshake; aspetta nella coda di accept") : "");
	else
		ev(now, cname(c), tr(
		    "established with SYN retransmission #%u, %.2f s after "
		    "connect()",
		    "stabilita con la ritrasmissione n. %u del SYN, %.2f s "
		    "dopo connect()"), c->nretx, now - c->t_start);
	snprintf(line, sizeof(line), tr("hello from client %d\n",
	    "ciao dal client %d\n"), c->id);
	if (net_write_all(c->fd, line, strlen(line)) == -1)
		client_fail(c, now, C_FAILED, errno);
}

static void
client_on_connect_event(struct timeline *tl, struct client *c, double now)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	client_check_retx(c, now);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr == 0) {
		client_established(tl, c, now);
		return;
	}
	client_fail(c, now, soerr == ECONNREFUSED ? C_REFUSED :
	    soerr == ETIMEDOUT ? C_TIMEDOUT : C_FAILED, soerr);
}

static void
client_on_input(const struct opts *o, struct client *c, double now)
{
	ssize_t r;
	char *nl;

	r = net_read(c->fd, c->inbuf + c->inlen, sizeof(c->inbuf) - 1 -
	    c->inlen);
	if (r == -1 && errno == EAGAIN)
		return;
	if (r <= 0) {
		client_fail(c, now, C_FAILED, r == 0 ? ECONNRESET : errno);
		return;
	}
	c->inlen += (size_t)r;
	c->inbuf[c->inlen] = '\0';
	if ((nl = strchr(c->inbuf, '\n')) == NULL &&
	    c->inlen < sizeof(c->inbuf) - 1)
		return;
	if (nl != NULL)
		*nl = '\0';
	c->t_reply = now;
	c->st = C_REPLIED;
	c->t_close = now + o->hold_ms / 1000.0;
	ev(now, cname(c), tr("reply \"%s\", %.2f s after connect()",
	    "risposta \"%s\", %.2f s dopo connect()"), c->inbuf,
	    now - c->t_start);
}

static void
client_close(struct client *c, double now)
{
	/* "." ends the session: the iterative server goes back to accept(). */
	(void)net_write_all(c->fd, ".\n", 2);
	close(c->fd);
	c->fd = -1;
	c->st = C_DONE;
	c->t_end = now;
	if (!brief)
		ev(now, cname(c), "%s", tr("sends \".\" and closes",
		    "invia \".\" e chiude"));
}

/* The server's own log tells when it accept()ed whom. */
static void
read_server_log(struct timeline *tl, double now)
{
	char line[512], *p;
	int port, i;

	while (server_line(&tl->srv, line, sizeof(line))) {
		/* In either language: lib/msg.c has the words. */
		if ((p = strstr(line, "connected with ")) == NULL &&
		    (p = strstr(line, "connessione stabilita con ")) == NULL)
			continue;
		if ((p = strrchr(p, ':')) == NULL)
			continue;
		port = atoi(p + 1);
		for (i = 0; i <= tl->n; i++) {
			if (tl->c[i].port != port || tl->c[i].t_accept != 0)
				continue;
			tl->c[i].t_accept = now;
			if (i > 0)
				ev(now, "server", tr(
				    "accept() returns client %d (it waited "
				    "%.2f s since connect())",
				    "accept() restituisce il client %d (ha "
				    "atteso %.2f s dalla connect())"), i,
				    now - tl->c[i].t_start);
		}
	}
}

static int
live(const struct client *c)
{
	return c->st == C_CONNECTING || c->st == C_WAITREPLY ||
	    c->st == C_REPLIED;
}

/*
 * Run the event loop until `until`, or until every client is finished
 * when all_done is set.  Each turn looks at TCP_INFO every 10 ms or so,
 * which is how precisely SYN retransmissions are timed.
 */
static void
pump(struct timeline *tl, const struct opts *o, double until, int all_done)
{
	struct pollfd pfd[MAXCLIENTS + 2];
	struct client *who[MAXCLIENTS + 2];
	struct client *c;
	double now;
	int i, n, rc, left, timeout;

	for (;;) {
		now = demo_now();
		left = 0;
		n = 1;		/* pfd[0]: the server's log */
		for (i = 1; i <= tl->n; i++) {
			c = &tl->c[i];
			if (c->st == C_WAITREPLY)
				client_check_retx(c, now);
			if (c->st == C_CONNECTING) {
				client_check_retx(c, now);
				if (!c->told_dropped && tl->t_release == 0 &&
				    now - c->t_start >= DROP_AFTER) {
					c->told_dropped = 1;
					ev(now, cname(c), tr(
					    "no handshake after %.1f s: the "
					    "queue is full, the kernel dropped "
					    "the SYN (not refused)",
					    "nessun handshake dopo %.1f s: la "
					    "coda è piena, il kernel ha scartato "
					    "il SYN (non rifiutato)"),
					    DROP_AFTER);
				}
			}
			if (c->st == C_REPLIED && now >= c->t_close)
				client_close(c, now);
			if (!live(c))
				continue;
			left++;
			if (c->st == C_REPLIED)
				continue;
			pfd[n].fd = c->fd;
			pfd[n].events = c->st == C_CONNECTING ? POLLOUT : POLLIN;
			who[n++] = c;
		}
		if (now >= until || (all_done && left == 0))
			return;
		/* The server's log first: accept() comes before the reply. */
		pfd[0].fd = tl->srv.out;
		pfd[0].events = POLLIN;
		who[0] = NULL;
		timeout = (int)((until - now) * 1000) + 1;
		if (timeout > 10)
			timeout = 10;
		rc = poll(pfd, (nfds_t)n, timeout);
		if (rc == -1 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return;
		}
		now = demo_now();
		for (i = 0; rc > 0 && i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if ((c = who[i]) == NULL)
				read_server_log(tl, now);
			else if (c->st == C_CONNECTING)
				client_on_connect_event(tl, c, now);
			else if (c->st == C_WAITREPLY)
				client_on_input(o, c, now);
		}
		read_server_log(tl, now);
	}
}

/* What the kernel shows while the server is busy. */
static void
snapshot(struct timeline *tl, double now)
{
	struct client *c;
	int i, queued = 0, waiting = 0;

	read_counters(&tl->at_release);
	tl->recvq = tl->sendq = -1;
	if (ss_listen(tl->srv.port, &tl->recvq, &tl->sendq, tl->ssline,
	    sizeof(tl->ssline)) == -1)
		snprintf(tl->ssline, sizeof(tl->ssline), "%s",
		    tr("(ss not available)", "(ss non disponibile)"));
	tl->syn_sent = ss_syn_sent(tl->srv.port);
	for (i = 1; i <= tl->n; i++) {
		c = &tl->c[i];
		c->at_release = c->st;
		c->retx_at_release = c->nretx;
		queued += c->st == C_WAITREPLY;
		waiting += c->st == C_CONNECTING;
		tl->refused += c->st == C_REFUSED;
	}
	tl->queued = queued;
	tl->waiting = waiting;
	printf("\n");
	ev(now, "ss -ltn", "%s", tl->ssline);
	printf(tr(
"             For a listening socket Recv-Q = connections waiting in the\n"
"             accept queue (%d), Send-Q = its limit, the backlog (%d).\n",
"             Per un socket in ascolto Recv-Q = connessioni in attesa\n"
"             nella coda di accept (%d), Send-Q = il limite, il backlog (%d).\n"),
	    tl->recvq, tl->sendq);
	ev(now, "ss -tn", tr("%d sockets in SYN-SENT towards port %d",
	    "%d socket in SYN-SENT verso la porta %d"), tl->syn_sent,
	    tl->srv.port);
	if (tl->before.ok && tl->at_release.ok && !brief)
		ev(now, "kernel", tr(
		    "ListenOverflows +%ld, ListenDrops +%ld so far",
		    "ListenOverflows +%ld, ListenDrops +%ld finora"),
		    tl->at_release.overflows - tl->before.overflows,
		    tl->at_release.drops - tl->before.drops);
	ev(now, "", tr("%d clients wait in the accept queue; %d have had "
	    "their SYN dropped; %d refused",
	    "%d client aspettano nella coda di accept; %d hanno avuto il "
	    "SYN scartato; %d rifiutati"), queued, waiting, tl->refused);
	printf("\n");
}

/* After the server is gone: a port with no listener refuses at once. */
static void
closed_port(struct timeline *tl)
{
	char p[16], err[NET_ERR_LEN], text[512];
	double t;
	int fd, i, e, refused = 0;

	snprintf(p, sizeof(p), "%d", tl->srv.port);
	t = demo_now();
	fd = net_connect("127.0.0.1", p, SOCK_STREAM, 2000, err, sizeof(err));
	tl->refused_ms = (demo_now() - t) * 1000;
	if (fd != -1) {
		close(fd);	/* someone else took the port: say nothing */
		snprintf(tl->refused_err, sizeof(tl->refused_err),
		    "connected");
		return;
	}
	e = errno;
	snprintf(tl->refused_err, sizeof(tl->refused_err), "%s", strerror(e));
	snprintf(text, sizeof(text), tr(
"For contrast, with the server stopped: connect() to port %d gives "
"\"%s\" after %.3f ms.  That is what \"refused\" looks like: an RST "
"from a port where nobody listens, at once.",
"Per confronto, a server fermo: connect() alla porta %d dà "
"\"%s\" dopo %.3f ms.  Ecco cos'è \"rifiutata\": un RST da una "
"porta dove nessuno ascolta, subito."),
	    tl->srv.port, msg_strerror(e), tl->refused_ms);
	demo_fill("\n", 0, text);
	for (i = 1; i <= tl->n; i++)
		refused += tl->c[i].st == C_REFUSED;
	printf(tr("Clients refused while the queue was full: %d.\n",
	    "Client rifiutati mentre la coda era piena: %d.\n"), refused);
}

/*
 * The whole timeline.  Returns 0, or -1 if it could not run at all
 * (err says why).  deadline bounds it; clients still waiting then are
 * reported as such.
 */
int
run_timeline(struct timeline *tl, const struct opts *o,
    const struct sysctls *s, double deadline, char *err, size_t errlen)
{
	struct client *c;
	double now, release;
	char q[256];
	int i, fd;

	memset(tl, 0, sizeof(*tl));
	brief = o->brief;
	timeline_intro(o, s);
	snprintf(q, sizeof(q), tr(
"listen(%d), the server busy with client 0, %d more clients\n"
"connect: which of them wait in the queue, and which are refused?",
"listen(%d), il server occupato col client 0, altri %d client si\n"
"connettono: quali aspettano in coda, e quali vengono rifiutati?"),
	    o->backlog, o->clients);
	demo_ask("(backlog)", q);
	read_counters(&tl->before);
	if (server_start(&tl->srv, o->server, o->backlog, err, errlen) == -1) {
		server_stop(&tl->srv);
		return -1;
	}
	T0 = demo_now();
	ev(T0, "server", tr("listening on 127.0.0.1:%d, backlog %d",
	    "in ascolto su 127.0.0.1:%d, backlog %d"), tl->srv.port,
	    o->backlog);
	if ((fd = busy_client(tl->srv.port, err, errlen)) == -1) {
		server_stop(&tl->srv);
		return -1;
	}
	tl->c[0].fd = fd;
	tl->c[0].st = C_WAITREPLY;
	tl->c[0].t_start = T0;
	{
		char a[NET_ADDR_LEN], *colon;

		if (net_local_addr(fd, a, sizeof(a)) == 0 &&
		    (colon = strrchr(a, ':')) != NULL)
			tl->c[0].port = atoi(colon + 1);
	}
	ev(demo_now(), "client 0", "%s", tr(
	    "connected, sent \"hello from client 0\", got \"HELLO FROM "
	    "CLIENT 0\": the server is busy with it now",
	    "connesso, ha inviato \"ciao dal client 0\", ricevuto \"CIAO "
	    "DAL CLIENT 0\": ora il server è occupato con lui"));
	release = T0 + o->busy_ms / 1000.0;
	if (release > deadline)
		release = deadline;
	for (i = 1; i <= o->clients; i++) {
		c = &tl->c[i];
		c->id = i;
		c->fd = -1;
		c->t_start = demo_now();
		tl->n = i;	/* pump() looks at clients 1..n only */
		if ((c->fd = start_connect(tl->srv.port, &c->port)) == -1) {
			client_fail(c, c->t_start, errno == ECONNREFUSED ?
			    C_REFUSED : C_FAILED, errno);
			continue;
		}
		if (!brief)
			ev(c->t_start, cname(c), tr("connect() from port %d",
			    "connect() dalla porta %d"), c->port);
		pump(tl, o, c->t_start + o->gap_ms / 1000.0, 0);
	}
	pump(tl, o, release, 0);
	snapshot(tl, demo_now());
	now = demo_now();
	tl->t_release = now;
	ev(now, "client 0", "%s", tr("sends \".\" and closes: the server is "
	    "free, it calls accept() again", "invia \".\" e chiude: il server "
	    "è libero, chiama di nuovo accept()"));
	(void)net_write_all(tl->c[0].fd, ".\n", 2);
	close(tl->c[0].fd);
	tl->c[0].fd = -1;
	tl->c[0].st = C_DONE;
	pump(tl, o, deadline, 1);
	tl->t_end = demo_now();
	for (i = 1; i <= tl->n; i++) {
		c = &tl->c[i];
		if (c->st == C_CONNECTING)
			ev(tl->t_end, cname(c), tr(
			    "still waiting at the demo's time limit (--wait); "
			    "%u SYN retransmissions so far",
			    "ancora in attesa al limite di tempo della demo "
			    "(--wait); finora %u ritrasmissioni del SYN"),
			    c->nretx);
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
	}
	read_counters(&tl->after);
	server_stop(&tl->srv);
	timeline_summary(tl, o);
	timeline_explain(tl, o, s);
	closed_port(tl);
	return 0;
}
