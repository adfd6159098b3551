#define _GNU_SOURCE		/* TCP_ESTABLISHED, TCP_SYN_SENT */
/*
 * sweep.c - demo-backlog's part 2: backlog 0..N at once, each a busy
 * iterative server and a burst of connect()s, counted before any SYN is
 * retransmitted.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "backlog.h"

int
burst_start(struct burst *b, const char *server, int backlog, int n)
{
	int i, lport;

	memset(b, 0, sizeof(*b));
	b->backlog = backlog;
	b->busy = -1;
	b->recvq = b->sendq = -1;
	if (server_start(&b->srv, server, backlog, b->err,
	    sizeof(b->err)) == -1)
		return -1;
	if ((b->busy = busy_client(b->srv.port, b->err, sizeof(b->err))) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((b->fd[i] = start_connect(b->srv.port, &lport)) == -1) {
			snprintf(b->err, sizeof(b->err), "connect: %s",
			    strerror(errno));
			return -1;
		}
		b->n++;
	}
	return 0;
}

void
burst_count(struct burst *b)
{
	socklen_t len;
	unsigned retx;
	int i, st, soerr;

	for (i = 0; i < b->n; i++) {
		retx = 0;
		st = tcp_state(b->fd[i], &retx);
		b->retx += retx;
		len = sizeof(soerr);
		soerr = 0;
		if (st == TCP_ESTABLISHED)
			b->est++;
		else if (st == TCP_SYN_SENT)
			b->syn++;
		else if (getsockopt(b->fd[i], SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == 0 && soerr == ECONNREFUSED)
			b->refused++;
		else
			b->other++;
	}
}

void
burst_stop(struct burst *b)
{
	int i;

	for (i = 0; i < b->n; i++)
		close(b->fd[i]);
	b->n = 0;
	if (b->busy != -1)
		close(b->busy);
	b->busy = -1;
	server_stop(&b->srv);
}

static void
sweep_found(int port, int recvq, int sendq, void *arg)
{
	struct sweep *sw = arg;
	int i;

	for (i = 0; i < sw->max; i++)
		if (sw->b[i].srv.port == port) {
			sw->b[i].recvq = recvq;
			sw->b[i].sendq = sendq;
		}
}

/* All the backlog values at once: the counts do not depend on timing. */
int
run_sweep(struct sweep *sw, const struct opts *o, long somaxconn,
    const int *backlogs, int nb)
{
	int i, started = 0, failed = 0;

	sw->max = nb;
	sw->somaxconn = somaxconn;
	for (i = 0; i < nb && !failed; i++) {
		started++;
		if (burst_start(&sw->b[i], o->server, backlogs[i],
		    o->sweep_clients) == -1) {
			log_err("sweep, backlog %d: %s", backlogs[i],
			    sw->b[i].err);
			failed = 1;
		}
	}
	if (!failed) {
		demo_sleep_ms(o->settle_ms);
		for (i = 0; i < nb; i++)
			burst_count(&sw->b[i]);
		(void)ss_listeners(sweep_found, sw);
	}
	for (i = 0; i < started; i++)
		burst_stop(&sw->b[i]);
	sw->ok = !failed;
	return failed ? -1 : 0;
}

static long
expected_queue(int backlog, long somaxconn)
{
	return (somaxconn >= 0 && backlog > somaxconn ? somaxconn : backlog) + 1;
}

void
print_sweep(const struct sweep *sw, const struct opts *o)
{
	const struct burst *b;
	int i, agree = 1;

	printf("  %s %s %s %s %-7s %-7s %s\n", demo_pad("backlog", 8),
	    demo_pad(tr("completed", "completate"), 11),
	    demo_pad(tr("waiting", "in attesa"), 9),
	    demo_pad(tr("refused", "rifiutate"), 9), "Recv-Q", "Send-Q",
	    tr("expected (1)", "atteso (1)"));
	for (i = 0; i < sw->max; i++) {
		b = &sw->b[i];
		printf("  %-8d %-11d %-9d %-9d %-7d %-7d %ld\n", b->backlog,
		    b->est, b->syn, b->refused, b->recvq, b->sendq,
		    expected_queue(b->backlog, sw->somaxconn));
		agree &= b->est == expected_queue(b->backlog, sw->somaxconn);
	}
	printf("%s", tr("  (1) min(backlog, somaxconn) + 1\n",
	    "  (1) min(backlog, somaxconn) + 1\n"));
	if (agree)
		printf(tr(
"  Every row: completed = min(backlog, somaxconn) + 1, with %d clients\n"
"  trying and the server busy; the rest wait in SYN-SENT, none refused.\n",
"  Ogni riga: completate = min(backlog, somaxconn) + 1, con %d client che\n"
"  provano e il server occupato; gli altri aspettano in SYN-SENT, nessuno\n"
"  rifiutato.\n"), o->sweep_clients);
	else
		printf("%s", tr(
"  Some rows differ from min(backlog, somaxconn) + 1: see above.\n",
"  Alcune righe differiscono da min(backlog, somaxconn) + 1: vedi sopra.\n"));
}

void
json_sweep(struct buf *j, const struct sweep *sw, const struct opts *o)
{
	const struct burst *b;
	int i;

	jput(j, "{\"ok\": %s, \"somaxconn\": %ld, \"clients\": %d, "
	    "\"settle_ms\": %ld, \"rows\": [", sw->ok ? "true" : "false",
	    sw->somaxconn, o->sweep_clients, o->settle_ms);
	for (i = 0; sw->ok && i < sw->max; i++) {
		b = &sw->b[i];
		jput(j, "%s\n    {\"backlog\": %d, \"established\": %d, "
		    "\"syn_sent\": %d, \"refused\": %d, \"other\": %d, "
		    "\"recv_q\": %d, \"send_q\": %d, \"expected\": %ld}",
		    i ? "," : "", b->backlog, b->est, b->syn, b->refused,
		    b->other, b->recvq, b->sendq,
		    expected_queue(b->backlog, sw->somaxconn));
	}
	jput(j, "]}");
}
