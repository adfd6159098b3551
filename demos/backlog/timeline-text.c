/*
 * timeline-text.c - demo-backlog's part 1 told: the introduction, the
 * summary table, what happened, and the JSON of the run.
 */
#include <stdio.h>

#include "backlog.h"

static const char *const cstate_name[] = {
	"waiting", "established", "served", "served", "refused", "timedout",
	"error"
};

void
timeline_intro(const struct opts *o, const struct sysctls *s)
{
	printf("%s\n", tr(
"== The listen() backlog: what the slide says, what Linux does ==",
"== Il backlog di listen(): cosa dice la slide, cosa fa Linux =="));
	printf("%s", tr(
"Slide: \"Con il comando serverSocket.listen(1) abbiamo istanziato un\n"
"backlog di lunghezza 1+1 [...] Quando il server sta servendo il primo\n"
"client, la seconda e la terza richiesta rimangono in coda, mentre la\n"
"quarta viene rifiutata.\"  (listen(1) gives a queue of 1+1; while the\n"
"server serves the first client the second and third wait in the queue,\n"
"the fourth is refused.)\n"
"The slide calls the backlog a \"coda delle connessioni incomplete\", a\n"
"queue of incomplete connections.  On Linux the backlog bounds the queue\n"
"of completed connections, those whose handshake is done and that wait\n"
"for accept(); half-open ones (SYN received) wait in another queue,\n"
"bounded by tcp_max_syn_backlog.\n\n",
"Slide: \"Con il comando serverSocket.listen(1) abbiamo istanziato un\n"
"backlog di lunghezza 1+1 [...] Quando il server sta servendo il primo\n"
"client, la seconda e la terza richiesta rimangono in coda, mentre la\n"
"quarta viene rifiutata.\"\n"
"La slide chiama il backlog \"coda delle connessioni incomplete\".  In\n"
"Linux il backlog limita la coda delle connessioni completate, quelle che\n"
"hanno finito l'handshake e aspettano accept(); le semiaperte (SYN\n"
"ricevuto) aspettano in un'altra coda, limitata da tcp_max_syn_backlog.\n\n"));
	if (o->brief)
		printf(tr("Kernel: somaxconn %ld, tcp_abort_on_overflow %ld, "
		    "tcp_syn_retries %ld.\n", "Kernel: somaxconn %ld, "
		    "tcp_abort_on_overflow %ld, tcp_syn_retries %ld.\n"),
		    s->somaxconn, s->abort_overflow, s->syn_retries);
	else {
		printf("%s\n", tr("The kernel settings that decide the outcome:",
		    "Le impostazioni del kernel che decidono l'esito:"));
		print_sysctls(s);
	}
	if (!o->brief && s->syn_linear == -1)
		printf("%s", tr(
"    (tcp_syn_linear_timeouts does not exist on this kernel: SYN\n"
"    retransmissions back off exponentially, 1 s, 2 s, 4 s ... apart.)\n",
"    (tcp_syn_linear_timeouts non esiste in questo kernel: le\n"
"    ritrasmissioni del SYN si distanziano in modo esponenziale, 1 s, 2 s,\n"
"    4 s ...)\n"));
	if (!o->brief)	/* the question says it */
		printf(tr(
"\nbin/server --model iterative --backlog %d: one session at a time, no\n"
"accept() while it lasts.  Client 0 connects and stays in session for\n"
"%.1f s; clients 1..%d connect meanwhile, %ld ms apart.  Every later\n"
"client, once served, stays %ld ms and then sends \".\".\n",
"\nbin/server --model iterative --backlog %d: una sessione alla volta,\n"
"nessuna accept() finché dura.  Il client 0 si connette e resta in\n"
"sessione per %.1f s; intanto i client 1..%d si connettono, a %ld ms\n"
"l'uno dall'altro.  Ogni client servito resta %ld ms e poi invia \".\".\n"),
	    o->backlog, o->busy_ms / 1000.0, o->clients, o->gap_ms,
	    o->hold_ms);
}

void
timeline_summary(const struct timeline *tl, const struct opts *o)
{
	const struct client *c;
	char est[32], retx[96], reply[32], row[96];
	size_t off;
	int i, w;
	unsigned k;
	long dropped = 0, data_retx = 0;

	printf("\n%s\n", tr("Summary (times from the start, in seconds):",
	    "Riepilogo (tempi dall'inizio, in secondi):"));
	printf("  %s %s %s %s %s %s %s\n", demo_pad("client", 6),
	    demo_pad(tr("port", "porta"), 6), demo_pad("connect", 8),
	    demo_pad(tr("estab.", "stabil."), 8),
	    demo_pad(tr("at release", "al rilascio"), 11),
	    demo_pad(tr("reply", "risposta"), 8),
	    tr("SYN retransm. at", "SYN ritrasm. a"));
	for (i = 1; i <= tl->n; i++) {
		c = &tl->c[i];
		snprintf(est, sizeof(est), c->t_est ? "%+.3f" : "-",
		    c->t_est - T0);
		snprintf(reply, sizeof(reply), c->t_reply ? "%+.3f" : "-",
		    c->t_reply - T0);
		retx[0] = '\0';
		for (off = 0, k = 0; k < c->nretx; k++) {
			w = snprintf(retx + off, sizeof(retx) - off, "%s%+.2f",
			    k ? " " : "", c->t_retx[k] - T0);
			if (w < 0 || (size_t)w >= sizeof(retx) - off)
				break;
			off += (size_t)w;
		}
		snprintf(row, sizeof(row), "  %-6d %-6d %+.3f   %-8s %s %-8s ",
		    c->id, c->port, c->t_start - T0, est, demo_pad(
		    c->at_release == C_WAITREPLY ? tr("queued", "in coda") :
		    c->at_release == C_CONNECTING ? tr("SYN drop", "SYN scart.") :
		    cstate_name[c->at_release], 11), reply);
		demo_fill(row, (int)demo_width(row, sizeof(row)), retx);
		/* Every SYN sent but the one that got in was dropped. */
		if (c->st != C_REFUSED && c->st != C_FAILED)
			dropped += c->nretx + (c->t_est == 0);
		data_retx += c->data_retx;
	}
	if (tl->before.ok && tl->after.ok && !o->brief)
		printf(tr(
"  SYNs of our clients left unanswered: %ld; data retransmissions after a\n"
"  dropped final ACK: %ld.  The kernel counted ListenOverflows +%ld,\n"
"  ListenDrops +%ld: one per SYN, final ACK or early data segment that\n"
"  found the queue full.  These counters cover the whole network\n"
"  namespace: other programs in it add to them too.\n",
"  SYN dei nostri client rimasti senza risposta: %ld; ritrasmissioni di\n"
"  dati dopo un ACK finale scartato: %ld.  Il kernel ha contato\n"
"  ListenOverflows +%ld, ListenDrops +%ld: uno per ogni SYN, ACK finale o\n"
"  primo segmento di dati che ha trovato la coda piena.  Questi contatori\n"
"  coprono l'intero network namespace: vi contribuiscono anche gli altri\n"
"  programmi.\n"),
		    dropped, data_retx,
		    tl->after.overflows - tl->before.overflows,
		    tl->after.drops - tl->before.drops);
}

void
timeline_explain(const struct timeline *tl, const struct opts *o,
    const struct sysctls *s)
{
	const struct client *c;
	int expect = o->backlog + 1, i, timedout = 0, served = 0;

	if (s->somaxconn >= 0 && o->backlog > s->somaxconn)
		expect = (int)s->somaxconn + 1;
	printf("%s", tr("\nWhat happened:\n", "\nCos'è successo:\n"));
	printf(tr(
"- listen(%d): while the server was busy, %d connections completed their\n"
"  handshake and waited in the accept queue (ss Recv-Q %d, Send-Q %d).\n",
"- listen(%d): mentre il server era occupato, %d connessioni hanno\n"
"  completato l'handshake e aspettato nella coda di accept (ss Recv-Q %d,\n"
"  Send-Q %d).\n"), o->backlog, tl->queued, tl->recvq, tl->sendq);
	if (tl->queued == expect)
		printf(tr(
"  That is backlog+1 = %d: the kernel lets the queue grow until it holds\n"
"  more than the backlog.  The slide's \"1+1\" is right for listen(1).\n",
"  Cioè backlog+1 = %d: il kernel lascia crescere la coda finché non\n"
"  supera il backlog.  L'\"1+1\" della slide è giusto per listen(1).\n"),
		    expect);
	else
		printf(tr(
"  Expected backlog+1 = %d (capped by somaxconn): this run differs.\n",
"  Atteso backlog+1 = %d (limitato da somaxconn): questa prova differisce.\n"),
		    expect);
	if (o->backlog == 1 && tl->n >= 3 &&
	    tl->c[1].at_release == C_WAITREPLY &&
	    tl->c[2].at_release == C_WAITREPLY &&
	    tl->c[3].at_release == C_CONNECTING && tl->c[3].st != C_REFUSED)
		printf("%s", tr(
"  So the slide is right that the 2nd and 3rd requests wait in the queue\n"
"  (clients 1 and 2 here), and wrong that the 4th is refused: client 3's\n"
"  connect() did not fail, it waited.\n",
"  Quindi la slide ha ragione: la 2a e la 3a richiesta aspettano in coda\n"
"  (qui i client 1 e 2); ma sbaglia sulla 4a \"rifiutata\": la connect() del\n"
"  client 3 non è fallita, ha aspettato.\n"));
	if (tl->waiting > 0 && tl->refused == 0)
		printf(tr(
"- The rest (%d) were not refused: the kernel dropped their SYN\n"
"  (ListenOverflows), their connect() kept waiting and the SYN was\n"
"  retransmitted.  net.ipv4.tcp_abort_on_overflow=%ld here; the namespace\n"
"  part shows that 1 does not turn this into a refusal either.\n",
"- Gli altri (%d) non sono stati rifiutati: il kernel ha scartato il loro\n"
"  SYN (ListenOverflows), la loro connect() ha continuato ad aspettare e il\n"
"  SYN è stato ritrasmesso.  Qui net.ipv4.tcp_abort_on_overflow=%ld; la\n"
"  parte nel namespace mostra che nemmeno 1 lo trasforma in un rifiuto.\n"),
		    tl->waiting, s->abort_overflow);
	for (i = 1; i <= tl->n; i++)
		served += tl->c[i].st == C_DONE || tl->c[i].st == C_REPLIED;
	if (o->brief) {
		printf(tr("- Served in the end: %d of %d.\n",
		    "- Serviti alla fine: %d su %d.\n"), served, tl->n);
		return;
	}
	if (served == tl->n)
		printf("%s", tr(
"- When client 0 ended, the server accept()ed the queued clients in turn.\n"
"  A client whose SYN was dropped got in only at a later retransmission\n"
"  that found room: it waited whole seconds (instants in the table).\n",
"- Quando il client 0 ha finito, il server ha fatto accept() dei client in\n"
"  coda, uno alla volta.  Un client col SYN scartato è entrato solo a una\n"
"  ritrasmissione successiva che ha trovato posto: ha aspettato secondi\n"
"  interi (gli istanti sono nella tabella).\n"));
	else
		printf(tr(
"- When client 0 ended, the server served clients in turn: %d of %d by\n"
"  the demo's time limit (--wait); the others had not been served yet.\n",
"- Quando il client 0 ha finito, il server ha servito i client uno alla\n"
"  volta: %d su %d entro il limite di tempo (--wait); gli altri non\n"
"  erano ancora stati serviti.\n"), served, tl->n);
	for (i = 1; i <= tl->n; i++) {
		c = &tl->c[i];
		if (c->st != C_TIMEDOUT)
			continue;
		timedout++;
		printf(tr(
"- Client %d gave up: connect() failed with ETIMEDOUT %.1f s after it\n"
"  started, after %u SYN retransmissions (tcp_syn_retries=%ld), never\n"
"  \"refused\".\n",
"- Il client %d ha rinunciato: connect() è fallita con ETIMEDOUT %.1f s\n"
"  dopo l'inizio, dopo %u ritrasmissioni del SYN (tcp_syn_retries=%ld), mai\n"
"  \"rifiutata\".\n"), c->id, c->t_end - c->t_start, c->nretx,
		    s->syn_retries);
	}
	if (timedout == 0)
		printf("%s", tr(
"- With nobody making room, connect() goes on retransmitting until the\n"
"  limit that tcp_syn_retries sets, then fails with ETIMEDOUT, never\n"
"  \"refused\" (to watch it: --busy-ms 140000 --wait 150).\n",
"- Se nessuno fa posto, connect() continua a ritrasmettere fino al limite\n"
"  fissato da tcp_syn_retries, poi fallisce con ETIMEDOUT, mai \"rifiutata\"\n"
"  (per vederlo: --busy-ms 140000 --wait 150).\n"));
}

void
json_timeline(struct buf *j, const struct timeline *tl)
{
	const struct client *c;
	unsigned k;
	int i;

	jput(j, "{\"port\": %d, \"release_at\": %.4f, \"end_at\": %.4f, "
	    "\"listen_recv_q\": %d, \"listen_send_q\": %d, "
	    "\"syn_sent_at_release\": %d, ", tl->srv.port,
	    tl->t_release - T0, tl->t_end - T0, tl->recvq, tl->sendq,
	    tl->syn_sent);
	if (tl->before.ok && tl->after.ok)
		jput(j, "\"listen_overflows_delta\": %ld, "
		    "\"listen_drops_delta\": %ld, "
		    "\"listen_overflows_at_release\": %ld, ",
		    tl->after.overflows - tl->before.overflows,
		    tl->after.drops - tl->before.drops,
		    tl->at_release.overflows - tl->before.overflows);
	jput(j, "\"closed_port\": {\"error\": ");
	jstr(j, tl->refused_err);
	jput(j, ", \"ms\": %.3f}, \"clients\": [", tl->refused_ms);
	for (i = 1; i <= tl->n; i++) {
		c = &tl->c[i];
		jput(j, "%s\n    {\"id\": %d, \"port\": %d, \"connect_at\": %.4f, "
		    "\"established_at\": ", i > 1 ? "," : "", c->id, c->port,
		    c->t_start - T0);
		if (c->t_est)
			jput(j, "%.4f", c->t_est - T0);
		else
			jput(j, "null");
		jput(j, ", \"accepted_at\": ");
		if (c->t_accept)
			jput(j, "%.4f", c->t_accept - T0);
		else
			jput(j, "null");
		jput(j, ", \"reply_at\": ");
		if (c->t_reply)
			jput(j, "%.4f", c->t_reply - T0);
		else
			jput(j, "null");
		jput(j, ", \"at_release\": \"%s\", \"retx_at_release\": %u, "
		    "\"final\": \"%s\", \"error\": ",
		    c->at_release == C_WAITREPLY ? "queued" :
		    cstate_name[c->at_release], c->retx_at_release,
		    c->st == C_DONE || c->st == C_REPLIED ? "served" :
		    cstate_name[c->st]);
		if (c->err[0])
			jstr(j, c->err);
		else
			jput(j, "null");
		jput(j, ", \"syn_retx_at\": [");
		for (k = 0; k < c->nretx; k++)
			jput(j, "%s%.4f", k ? ", " : "", c->t_retx[k] - T0);
		jput(j, "], \"data_retx\": %u}", c->data_retx);
	}
	jput(j, "\n  ]}");
}
