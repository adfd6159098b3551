#define _GNU_SOURCE		/* struct tcp_info of <linux/tcp.h> */
/*
 * demo-exercise3.c - the lab's exercise 3: a client sends 100 characters
 * with 100 send() calls; a server prints what each recv() returned.
 *
 * The receiver is a thread of this program (the lab's server does not
 * print recv() sizes): it accepts one connection, tells the sender to go,
 * and records the size of every recv(fd, buf, 1024), as the lab's
 * Python server would.  The sender counts the data segments it put on
 * the wire (TCP_INFO tcpi_data_segs_out): that tells coalescing in the
 * sender (Nagle, autocorking) apart from coalescing in the receive
 * buffer.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "demo.h"

#define MAXSENDS	1000
#define MAXROUNDS	20
#define RECVSIZE	1024	/* the lab's recv(1024) */

struct variant {
	const char	*name;		/* for --json and --only */
	const char	*en, *it;	/* for the table */
	const char	*ask;		/* the slide's question it answers */
	int		 nodelay;
	int		 pause;		/* pause after each send */
	int		 late;		/* receiver starts late */
};

static const struct variant variants[] = {
	{ "back-to-back", "back to back", "una dopo l'altra", "3a", 0, 0, 0 },
	{ "back-to-back-nodelay", "back to back, TCP_NODELAY",
	    "una dopo l'altra, TCP_NODELAY", NULL, 1, 0, 0 },
	{ "pause", "pause after each send", "pausa dopo ogni send", "3b",
	    0, 1, 0 },
	{ "pause-nodelay", "pause after each send, TCP_NODELAY",
	    "pausa dopo ogni send, TCP_NODELAY", NULL, 1, 1, 0 },
	{ "late-reader", "back to back, server reads late",
	    "una dopo l'altra, il server legge in ritardo", NULL, 0, 0, 1 },
};
#define NVARIANTS	(sizeof(variants) / sizeof(variants[0]))

struct opts {
	int		 count;
	long		 pause_ms;
	long		 late_ms;
	int		 rounds;
	const char	*json;
	const char	*only;
};

struct result {
	int		 sizes[MAXSENDS];	/* bytes per recv() */
	int		 nrecv;
	long		 bytes;
	unsigned	 data_segs;		/* segments that carried data */
	double		 elapsed;
	char		 err[NET_ERR_LEN];
};

struct receiver {
	int		 lfd;
	long		 late_ms;
	struct result	*res;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: demo-exercise3 [options]\n"
"  -n, --count N       one-byte send() calls (default 100, as the lab)\n"
"  -p, --pause-ms MS   the pause after each send in the paused variants\n"
"                      (default 5)\n"
"  -r, --rounds N      runs of each variant (default 3)\n"
"      --late-ms MS    how late the server starts reading in the last\n"
"                      variant (default 50)\n"
"      --only NAME     run one variant (back-to-back, back-to-back-nodelay,\n"
"                      pause, pause-nodelay, late-reader)\n"
"      --json FILE     also write the measurements as JSON ('-' = stdout)\n"
"      --lang en|it    narration in English (default) or Italian\n"
"      --step          ask each question, wait for Enter (for class)\n"
"  -h, --help          this help\n"
"Everything runs on 127.0.0.1, on a port the kernel picks.\n");
}

/*
 * The server side: accept, say "go" (one byte) so that the sender starts
 * only once we are about to read, then recv() until EOF.
 */
static void *
receive(void *arg)
{
	struct receiver *r = arg;
	struct result *res = r->res;
	struct pollfd pfd;
	char buf[RECVSIZE];
	ssize_t n;
	int fd;

	/* Bounded: if the sender never connects, give up instead of hanging. */
	pfd.fd = r->lfd;
	pfd.events = POLLIN;
	do
		n = poll(&pfd, 1, 3000);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	fd = n == 1 ? accept(r->lfd, NULL, NULL) : -1;
	if (fd == -1) {
		snprintf(res->err, sizeof(res->err), "accept: %s",
		    strerror(errno));
		return NULL;
	}
	if (net_write_all(fd, "g", 1) == -1) {
		snprintf(res->err, sizeof(res->err), "send: %s",
		    strerror(errno));
		close(fd);
		return NULL;
	}
	if (r->late_ms > 0)
		demo_sleep_ms(r->late_ms);
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(res->err, sizeof(res->err), "recv: %s",
			    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (res->nrecv < MAXSENDS)
			res->sizes[res->nrecv++] = (int)n;
		res->bytes += n;
	}
	close(fd);
	return NULL;
}

/* Segments that carried data; the "go" byte came the other way. */
static unsigned
data_segs_out(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_data_segs_out;
}

/* The client side: 100 send() calls of one character each. */
static int
send_all(int fd, const struct variant *v, const struct opts *o,
    struct result *res)
{
	char c, go;
	ssize_t n;
	int i;

	if (v->nodelay && net_nodelay(fd, 1) == -1)
		return -1;
	do
		n = recv(fd, &go, 1, 0);
	while (n == -1 && errno == EINTR);
	if (n != 1) {
		if (n == 0)
			errno = ECONNRESET;
		return -1;
	}
	for (i = 0; i < o->count; i++) {
		c = (char)('a' + i % 26);
		if (net_write_all(fd, &c, 1) == -1)
			return -1;
		if (v->pause)
			demo_sleep_ms(o->pause_ms);
	}
	res->data_segs = data_segs_out(fd);
	return 0;
}

static int
run_variant(const struct variant *v, const struct opts *o,
    struct result *res)
{
	char err[NET_ERR_LEN], port[16];
	struct receiver r;
	pthread_t tid;
	double t0;
	int lfd, fd, rc;

	memset(res, 0, sizeof(*res));
	lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 1, 0, err, sizeof(err));
	if (lfd == -1) {
		snprintf(res->err, sizeof(res->err), "%s", err);
		return -1;
	}
	if (net_local_addr(lfd, err, sizeof(err)) == -1) {
		snprintf(res->err, sizeof(res->err), "getsockname: %s",
		    strerror(errno));
		close(lfd);
		return -1;
	}
	snprintf(port, sizeof(port), "%s", strrchr(err, ':') + 1);
	r.lfd = lfd;
	r.late_ms = v->late ? o->late_ms : 0;
	r.res = res;
	if ((rc = pthread_create(&tid, NULL, receive, &r)) != 0) {
		snprintf(res->err, sizeof(res->err), "pthread_create: %s",
		    strerror(rc));
		close(lfd);
		return -1;
	}
	t0 = demo_now();
	fd = net_connect("127.0.0.1", port, SOCK_STREAM, 2000, err,
	    sizeof(err));
	if (fd == -1) {
		snprintf(res->err, sizeof(res->err), "%s", err);
		pthread_join(tid, NULL);	/* its accept() gives up */
		close(lfd);
		return -1;
	}
	if (send_all(fd, v, o, res) == -1 && res->err[0] == '\0')
		snprintf(res->err, sizeof(res->err), "send: %s",
		    strerror(errno));
	close(fd);		/* EOF ends the receiver's loop */
	pthread_join(tid, NULL);
	res->elapsed = demo_now() - t0;
	close(lfd);
	return res->err[0] ? -1 : 0;
}

/* "1 x100" or "1, 1, 98": run-length, so that 100 ones stay short. */
static void
format_sizes(const struct result *res, char *out, size_t n)
{
	size_t off = 0;
	int i, j, w;

	out[0] = '\0';
	for (i = 0; i < res->nrecv && off < n; i = j) {
		for (j = i; j < res->nrecv && res->sizes[j] == res->sizes[i];
		    j++)
			;
		if (j - i > 2)
			w = snprintf(out + off, n - off, "%s%d x%d",
			    i ? ", " : "", res->sizes[i], j - i);
		else {
			w = snprintf(out + off, n - off, "%s%d",
			    i ? ", " : "", res->sizes[i]);
			j = i + 1;
		}
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off >= n && n > 4)
		strcpy(out + n - 4, "...");
}

static void
print_intro(const struct opts *o, int autocork)
{
	printf("%s\n", tr(
"== Exercise 3: a stream has no message boundaries ==",
"== Esercizio 3: uno stream non ha confini tra i messaggi =="));
	printf(tr(
"Slide: \"Scrivere un client che invia 100 caratteri, usando una chiamata\n"
"send alla volta. [...] a) Cosa accade? b) Inserire una breve pausa dopo\n"
"ogni send. Cosa accade?\"  (Send 100 characters with one send() each;\n"
"the server prints how many bytes each recv() returned.  What happens?\n"
"And with a short pause after each send?)\n"
"Here: %d send() calls of 1 byte on 127.0.0.1; the server calls\n"
"recv(fd, buf, 1024) until EOF.  Pause: %ld ms.  Each variant runs %d\n"
"times, because the outcome is a matter of timing.\n"
"net.ipv4.tcp_autocorking = %d.\n\n",
"Slide: \"Scrivere un client che invia 100 caratteri, usando una chiamata\n"
"send alla volta. [...] a) Cosa accade? b) Inserire una breve pausa dopo\n"
"ogni send. Cosa accade?\"\n"
"Qui: %d chiamate send() da 1 byte su 127.0.0.1; il server chiama\n"
"recv(fd, buf, 1024) fino a EOF.  Pausa: %ld ms.  Ogni variante gira %d\n"
"volte, perché l'esito dipende dai tempi.\n"
"net.ipv4.tcp_autocorking = %d.\n\n"),
	    o->count, o->pause_ms, o->rounds, autocork);
}

/* The slide's question a variant answers, put to the class first. */
static void
ask(const struct variant *v)
{
	if (v->ask == NULL)
		return;
	if (strcmp(v->ask, "3a") == 0)
		demo_ask(v->ask, tr(
"100 send() calls of one byte each, back to back: how many\n"
"recv() calls does the server need?",
"100 send() da un byte, una dopo l'altra: quante recv() servono\n"
"al server?"));
	else
		demo_ask(v->ask, tr(
"the same with a short pause after each send(): and now?",
"lo stesso con una breve pausa dopo ogni send(): e ora?"));
}

static void
print_header(void)
{
	printf("%s\n", tr(
"Each variant: recv() calls and data segments in each run, then the bytes\n"
"each recv() returned in the median run.",
"Ogni variante: chiamate recv() e segmenti di dati in ogni prova, poi i\n"
"byte restituiti da ogni recv() nella prova mediana."));
}

/* The round with the median number of recv() calls, to show its sizes. */
static int
median_round(const struct result *res, int rounds)
{
	int i, j, below, same;

	for (i = 0; i < rounds; i++) {
		below = same = 0;
		for (j = 0; j < rounds; j++) {
			below += res[j].nrecv < res[i].nrecv;
			same += res[j].nrecv == res[i].nrecv;
		}
		if (2 * below <= rounds - 1 && 2 * (below + same) >= rounds)
			return i;
	}
	return 0;
}

static void
print_row(const struct variant *v, const struct result *res, int rounds)
{
	char calls[64], segs[64], sizes[400];
	const char *lead;
	size_t a = 0, b = 0;
	int i, w;

	calls[0] = segs[0] = '\0';
	for (i = 0; i < rounds; i++) {
		w = snprintf(calls + a, sizeof(calls) - a, "%s%d", i ? " " : "",
		    res[i].nrecv);
		if (w > 0 && (size_t)w < sizeof(calls) - a)
			a += (size_t)w;
		w = snprintf(segs + b, sizeof(segs) - b, "%s%u", i ? " " : "",
		    res[i].data_segs);
		if (w > 0 && (size_t)w < sizeof(segs) - b)
			b += (size_t)w;
	}
	format_sizes(&res[median_round(res, rounds)], sizes, sizeof(sizes));
	printf("- %s\n    recv(): %s;  %s: %s\n", tr(v->en, v->it), calls,
	    tr("segments", "segmenti"), segs);
	lead = tr("    sizes: ", "    byte: ");
	demo_fill(lead, (int)demo_width(lead, strlen(lead)), sizes);
}

static long
total_recv(const struct result *res, int rounds)
{
	long t = 0;
	int i;

	for (i = 0; i < rounds; i++)
		t += res[i].nrecv;
	return t;
}

static void
print_explanation(struct result (*res)[MAXROUNDS], const int *ran,
    const struct opts *o)
{
	printf("\n");
	if (ran[0] && ran[2])
		printf(tr(
"Measured: %d one-byte sends, %d runs each.  Back to back they arrived in\n"
"%.1f recv() calls on average; with a %ld ms pause after each send, in %.1f.\n",
"Misurato: %d send da un byte, %d volte ciascuna.  Una dopo l'altra sono\n"
"arrivate in media in %.1f recv(); con una pausa di %ld ms dopo ogni send,\n"
"in %.1f.\n"),
		    o->count, o->rounds,
		    (double)total_recv(res[0], o->rounds) / o->rounds,
		    o->pause_ms,
		    (double)total_recv(res[2], o->rounds) / o->rounds);
	printf("%s", tr(
"Why:\n"
"- TCP carries a stream of bytes, not messages: send() puts bytes in the\n"
"  socket's send buffer, recv() takes whatever the receive buffer holds,\n"
"  up to 1024.  How send() cut the bytes is not kept.\n"
"- Back to back, whenever the sender runs ahead of the reader the bytes\n"
"  pile up between two recv() calls and come out together.  The sender\n"
"  merges them too ('segments' below 100): Nagle holds small writes while\n"
"  a segment is unacknowledged, and Linux's autocorking holds them while\n"
"  the previous one has not yet left the host.  TCP_NODELAY turns off\n"
"  Nagle only.  How much merges changes from run to run: it is timing.\n"
"- With a pause, each byte has gone and been read before the next one is\n"
"  written: one recv() per send(), as if there were boundaries.  There\n"
"  are none; it is timing again, and a loaded machine or network breaks it.\n"
"- A reader that comes late finds everything already there: one recv().\n"
"So an application protocol must mark where a message ends (socklab's\n"
"ends each with a newline) and the reader must collect bytes until then.\n",
"Perché:\n"
"- TCP trasporta un flusso di byte, non messaggi: send() mette i byte nel\n"
"  buffer di invio, recv() prende quello che c'è nel buffer di ricezione,\n"
"  fino a 1024.  Come send() li aveva divisi non viene conservato.\n"
"- Una dopo l'altra: ogni volta che il mittente corre più di chi legge, i\n"
"  byte si accumulano tra due recv() ed escono insieme.  Anche il mittente\n"
"  li unisce ('segmenti' sotto 100): Nagle trattiene le piccole scritture\n"
"  mentre un segmento attende l'ACK, e l'autocorking di Linux le trattiene\n"
"  finché la precedente non ha lasciato l'host.  TCP_NODELAY disattiva solo\n"
"  Nagle.  Quanto si unisce cambia da una prova all'altra: sono i tempi.\n"
"- Con la pausa, ogni byte è partito ed è stato letto prima che si scriva\n"
"  il successivo: una recv() per ogni send(), come se ci fossero confini.\n"
"  Non ci sono: sono ancora i tempi, e una macchina o una rete cariche li\n"
"  cambiano.\n"
"- Un lettore in ritardo trova già tutto: una sola recv().\n"
"Quindi il protocollo applicativo deve segnare dove finisce un messaggio\n"
"(quello di socklab termina ognuno con un a capo) e chi legge deve\n"
"accumulare i byte fino a lì.\n"));
}

static void
json_round(struct buf *j, const struct result *res, int first)
{
	int i;

	jput(j, "%s{\"recv_calls\": %d, \"bytes\": %ld, \"data_segs_out\": %u, "
	    "\"elapsed_s\": %.4f, \"error\": ", first ? "" : ", ", res->nrecv,
	    res->bytes, res->data_segs, res->elapsed);
	if (res->err[0])
		jstr(j, res->err);
	else
		jput(j, "null");
	jput(j, ", \"recv_sizes\": [");
	for (i = 0; i < res->nrecv; i++)
		jput(j, "%s%d", i ? ", " : "", res->sizes[i]);
	jput(j, "]}");
}

static void
json_variant(struct buf *j, const struct variant *v, const struct opts *o,
    const struct result *res, int first)
{
	int i;

	jput(j, "%s\n  {\"name\": ", first ? "" : ",");
	jstr(j, v->name);
	jput(j, ", \"nodelay\": %s, \"pause_ms\": %ld, \"late_ms\": %ld, "
	    "\"sends\": %d, \"recv_calls_total\": %ld, \"rounds\": [\n    ",
	    v->nodelay ? "true" : "false", v->pause ? o->pause_ms : 0,
	    v->late ? o->late_ms : 0, o->count, total_recv(res, o->rounds));
	for (i = 0; i < o->rounds; i++)
		json_round(j, &res[i], i == 0);
	jput(j, "]}");
}

static int
write_json(struct result (*res)[MAXROUNDS], const struct opts *o,
    int autocork)
{
	struct buf j;
	size_t i;
	int first = 1, rc;

	buf_init(&j);
	jput(&j, "{\"demo\": \"exercise3\", \"count\": %d, \"pause_ms\": %ld, "
	    "\"late_ms\": %ld, \"rounds\": %d, \"tcp_autocorking\": %d, "
	    "\"variants\": [", o->count, o->pause_ms, o->late_ms, o->rounds,
	    autocork);
	for (i = 0; i < NVARIANTS; i++) {
		if (o->only && strcmp(o->only, variants[i].name) != 0)
			continue;
		json_variant(&j, &variants[i], o, res[i], first);
		first = 0;
	}
	jput(&j, "\n]}");
	rc = demo_write_json(o->json, &j);
	buf_free(&j);
	return rc;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "pause-ms", required_argument, NULL, 'p' },
		{ "late-ms", required_argument, NULL, 'L' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'O' },
		{ "json", required_argument, NULL, 'j' },
		DEMO_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	size_t i;
	int ch;

	while ((ch = getopt_long(argc, argv, "n:p:r:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'n': o->count = (int)demo_number("--count", optarg, 1,
		    MAXSENDS); break;
		case 'p': o->pause_ms = demo_number("--pause-ms", optarg, 0,
		    1000); break;
		case 'L': o->late_ms = demo_number("--late-ms", optarg, 0,
		    5000); break;
		case 'r': o->rounds = (int)demo_number("--rounds", optarg, 1,
		    MAXROUNDS); break;
		case 'O': o->only = optarg; break;
		case 'j': o->json = optarg; break;
		default: demo_option(ch, optarg, usage);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s'", argv[optind]);
	if (o->only == NULL)
		return;
	for (i = 0; i < NVARIANTS; i++)
		if (strcmp(o->only, variants[i].name) == 0)
			return;
	die(2, "--only: unknown variant '%s'", o->only);
}

int
main(int argc, char **argv)
{
	static struct result res[NVARIANTS][MAXROUNDS];
	struct opts o = { .count = 100, .pause_ms = 5, .late_ms = 50,
	    .rounds = 3 };
	int ran[NVARIANTS] = { 0 };
	int failed = 0, autocork, r, header = 0;
	size_t i;

	log_setprog(argv[0]);
	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	autocork = (int)demo_read_long("/proc/sys/net/ipv4/tcp_autocorking");
	print_intro(&o, autocork);
	for (i = 0; i < NVARIANTS; i++) {
		if (o.only && strcmp(o.only, variants[i].name) != 0)
			continue;
		ask(&variants[i]);
		if (!header)
			print_header();
		header = 1;
		for (r = 0; r < o.rounds; r++)
			if (run_variant(&variants[i], &o, &res[i][r]) == -1) {
				log_err("%s: %s", variants[i].name,
				    res[i][r].err);
				failed = 1;
			}
		ran[i] = 1;
		print_row(&variants[i], res[i], o.rounds);
	}
	printf("%s", tr(
"('segments': TCP segments with data that the sender put on the wire,\n"
"from TCP_INFO tcpi_data_segs_out.)\n",
"('segmenti': segmenti TCP con dati spediti dal mittente, da TCP_INFO\n"
"tcpi_data_segs_out.)\n"));
	print_explanation(res, ran, &o);
	if (o.json != NULL && write_json(res, &o, autocork) == -1) {
		log_err("%s: %s", o.json, strerror(errno));
		failed = 1;
	}
	return failed;
}
