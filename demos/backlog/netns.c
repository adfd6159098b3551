#define _GNU_SOURCE		/* unshare, CLONE_NEWNET, pipe2 */
/*
 * netns.c - demo-backlog's part 3: a private network namespace.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "backlog.h"

/*
 * Everything below runs in a child process that has called
 * unshare(CLONE_NEWNET): its sysctls, counters and loopback are its own,
 * and they vanish with it.  The host's namespace is never written.
 */

static int
loopback_up(char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == -1)) {
		snprintf(err, errlen, "bringing lo up: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
ns_set(const char *name, const char *path, long v)
{
	if (write_sysctl(path, v) == 0) {
		printf("  # sysctl -w %s=%ld   %s\n", name, v,
		    tr("(in the namespace only)", "(solo nel namespace)"));
		return 0;
	}
	log_err("%s=%ld: %s", name, v, strerror(errno));
	return -1;
}

#define P_ABORT	"/proc/sys/net/ipv4/tcp_abort_on_overflow"
#define P_SOMAX	"/proc/sys/net/core/somaxconn"

/* One burst that lasts past the first SYN retransmission. */
static int
ns_burst(struct buf *j, int first, const struct opts *o, const char *label,
    int backlog, int n, long wait_ms)
{
	struct counters before, after;
	struct burst b;
	long somax = demo_read_long(P_SOMAX);
	int rc = 0;

	read_counters(&before);
	if (burst_start(&b, o->server, backlog, n) == -1) {
		log_err("%s: %s", label, b.err);
		rc = -1;
	} else {
		char line[256];

		demo_sleep_ms(wait_ms);
		burst_count(&b);
		(void)ss_listen(b.srv.port, &b.recvq, &b.sendq, line,
		    sizeof(line));
	}
	burst_stop(&b);
	if (rc == -1)
		return -1;
	read_counters(&after);
	printf(tr(
"  listen(%d), somaxconn %ld, abort_on_overflow %ld, %d clients, after\n"
"  %.1f s: %d completed, %d waiting in SYN-SENT, %d refused; ss Recv-Q %d,\n"
"  Send-Q %d; %u SYN retransmissions; ListenOverflows +%ld (exact: this\n"
"  namespace has no other traffic).\n",
"  listen(%d), somaxconn %ld, abort_on_overflow %ld, %d client, dopo\n"
"  %.1f s: %d completate, %d in attesa in SYN-SENT, %d rifiutate; ss\n"
"  Recv-Q %d, Send-Q %d; %u ritrasmissioni di SYN; ListenOverflows +%ld\n"
"  (esatto: in questo namespace non c'è altro traffico).\n"),
	    backlog, somax, demo_read_long(P_ABORT), n, wait_ms / 1000.0,
	    b.est, b.syn, b.refused, b.recvq, b.sendq, b.retx,
	    after.overflows - before.overflows);
	jput(j, "%s{\"label\": ", first ? "" : ", ");
	jstr(j, label);
	jput(j, ", \"backlog\": %d, \"somaxconn\": %ld, "
	    "\"abort_on_overflow\": %ld, \"clients\": %d, \"wait_ms\": %ld, "
	    "\"established\": %d, \"syn_sent\": %d, \"refused\": %d, "
	    "\"other\": %d, \"recv_q\": %d, \"send_q\": %d, \"syn_retx\": %u, "
	    "\"listen_overflows_delta\": %ld}", backlog, somax,
	    demo_read_long(P_ABORT), n, wait_ms, b.est, b.syn, b.refused,
	    b.other, b.recvq, b.sendq, b.retx,
	    after.overflows - before.overflows);
	return 0;
}

/*
 * The one case tcp_abort_on_overflow is about: the SYN found room, but
 * by the time the handshake's last step arrives the accept queue is
 * full.  On loopback the three packets of a handshake follow each other
 * at once, so we stretch the last step: with TCP_DEFER_ACCEPT the
 * listener ignores the bare ACK and completes the connection only when
 * the client's first data arrives.  Our own listener, not bin/server:
 * the lab's server does not use TCP_DEFER_ACCEPT.
 */
#define DEFER_CLIENTS	4

struct defer {
	long	 abort;
	int	 queued, retrans, reset, other;
	int	 recvq;
	long	 overflows, cookies;
};

static int
defer_case(long abort_val, struct defer *d, char *err, size_t errlen)
{
	struct counters before, after;
	char port[16], a[NET_ADDR_LEN], line[256];
	int fd[DEFER_CLIENTS], lfd, i, n = 0, secs = 10, st, sendq;
	unsigned retx;
	ssize_t r;

	memset(d, 0, sizeof(*d));
	d->abort = abort_val;
	d->recvq = -1;
	if (write_sysctl(P_ABORT, abort_val) == -1) {
		snprintf(err, errlen, "tcp_abort_on_overflow: %s",
		    strerror(errno));
		return -1;
	}
	read_counters(&before);
	if ((lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 1, 0, err,
	    errlen)) == -1)
		return -1;
	if (setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
	    sizeof(secs)) == -1 || net_local_addr(lfd, a, sizeof(a)) == -1) {
		snprintf(err, errlen, "TCP_DEFER_ACCEPT: %s", strerror(errno));
		close(lfd);
		return -1;
	}
	snprintf(port, sizeof(port), "%s", strrchr(a, ':') + 1);
	for (n = 0; n < DEFER_CLIENTS; n++)
		if ((fd[n] = net_connect("127.0.0.1", port, SOCK_STREAM, 900,
		    err, errlen)) == -1)
			break;
	for (i = 0; i < n; i++)
		(void)net_write_all(fd[i], "hello\n", 6);
	demo_sleep_ms(600);
	for (i = 0; i < n; i++) {
		char c;

		r = recv(fd[i], &c, 1, MSG_DONTWAIT | MSG_PEEK);
		st = tcp_state(fd[i], &retx);
		if (r == -1 && errno == ECONNRESET)
			d->reset++;
		else if (st == TCP_ESTABLISHED && retx > 0)
			d->retrans++;
		else if (st == TCP_ESTABLISHED)
			d->queued++;
		else
			d->other++;
	}
	(void)ss_listen(atoi(port), &d->recvq, &sendq, line, sizeof(line));
	for (i = 0; i < n; i++)
		close(fd[i]);
	close(lfd);
	read_counters(&after);
	d->overflows = after.overflows - before.overflows;
	d->cookies = after.cookies - before.cookies;
	if (n < DEFER_CLIENTS)
		return -1;
	return 0;
}

static void
run_defer(struct buf *j)
{
	struct defer d[2];
	char err[NET_ERR_LEN];
	int i;

	printf("\n%s", tr(
"Where tcp_abort_on_overflow does act: the SYN found room, but the last\n"
"step of the handshake finds the queue full.  To stretch that step on\n"
"loopback, a listener of our own with TCP_DEFER_ACCEPT (it completes a\n"
"connection only when data arrives), listen(1), 4 clients connect, then\n"
"each sends a line; nobody accept()s.\n",
"Dove tcp_abort_on_overflow agisce: il SYN ha trovato posto, ma l'ultimo\n"
"passo dell'handshake trova la coda piena.  Per allungare quel passo su\n"
"loopback, un listener nostro con TCP_DEFER_ACCEPT (completa una\n"
"connessione solo quando arrivano dati), listen(1), 4 client si\n"
"connettono, poi ognuno invia una riga; nessuno chiama accept().\n"));
	jput(j, ", \"defer_accept\": [");
	for (i = 0; i < 2; i++) {
		if (defer_case(i, &d[i], err, sizeof(err)) == -1) {
			log_err("defer-accept case: %s", err);
			break;
		}
		printf(tr(
"  abort_on_overflow=%ld: %d in the accept queue (Recv-Q %d), %d reset by\n"
"  the server (ECONNRESET), %d still retransmitting their data;\n"
"  ListenOverflows +%ld, SyncookiesSent +%ld.\n",
"  abort_on_overflow=%ld: %d nella coda di accept (Recv-Q %d), %d chiusi\n"
"  dal server con RST (ECONNRESET), %d ancora a ritrasmettere i dati;\n"
"  ListenOverflows +%ld, SyncookiesSent +%ld.\n"),
		    d[i].abort, d[i].queued, d[i].recvq, d[i].reset,
		    d[i].retrans, d[i].overflows, d[i].cookies);
		jput(j, "%s{\"abort_on_overflow\": %ld, \"queued\": %d, "
		    "\"reset\": %d, \"retransmitting\": %d, \"other\": %d, "
		    "\"recv_q\": %d, \"listen_overflows_delta\": %ld, "
		    "\"syncookies_sent_delta\": %ld}", i ? ", " : "",
		    d[i].abort, d[i].queued, d[i].reset, d[i].retrans,
		    d[i].other, d[i].recvq, d[i].overflows, d[i].cookies);
	}
	jput(j, "]");
	if (i < 2)
		return;
	if (d[1].reset > 0 && d[0].reset == 0)
		printf("%s", tr(
"  Only here does the setting change the outcome: with 0 the kernel drops\n"
"  the late step and the client, which thinks it is connected, resends;\n"
"  with 1 it answers RST.\n",
"  Solo qui l'impostazione cambia l'esito: con 0 il kernel scarta l'ultimo\n"
"  passo e il client, che si crede connesso, ritrasmette; con 1 risponde\n"
"  con un RST.\n"));
	else
		printf("%s", tr(
"  No difference measured between 0 and 1 in this run.\n",
"  Nessuna differenza misurata tra 0 e 1 in questa prova.\n"));
	if (d[0].cookies > 0 || d[1].cookies > 0)
		printf("%s", tr(
"  (The queue of half-open connections of a listen(1) socket is small\n"
"  too: the SYNs beyond it were answered with SYN cookies, which bypass\n"
"  TCP_DEFER_ACCEPT: those clients went straight into the accept queue.)\n",
"  (Anche la coda delle connessioni semiaperte di un socket listen(1) è\n"
"  piccola: ai SYN oltre quella si è risposto con i SYN cookie, che\n"
"  saltano TCP_DEFER_ACCEPT: quei client sono entrati subito nella coda di\n"
"  accept.)\n"));
}

/* The child: unshare, then the experiments.  Writes JSON to out. */
static int
netns_child(const struct opts *o, struct buf *j)
{
	static struct sweep sw;		/* large; the child's own copy */
	int backlogs[SWEEP_MAX + 1];
	char err[NET_ERR_LEN];
	struct sysctls ns;
	int i, nb;

	if (unshare(CLONE_NEWNET) == -1) {
		snprintf(err, sizeof(err), "unshare(CLONE_NEWNET): %s",
		    strerror(errno));
		jput(j, "\"ran\": false, \"reason\": ");
		jstr(j, err);
		printf(tr("  Skipped: %s.\n", "  Saltata: %s.\n"), err);
		return -1;
	}
	if (loopback_up(err, sizeof(err)) == -1) {
		jput(j, "\"ran\": false, \"reason\": ");
		jstr(j, err);
		printf(tr("  Skipped: %s.\n", "  Saltata: %s.\n"), err);
		return -1;
	}
	read_sysctls(&ns);
	printf("%s", tr(
"  A new network namespace: its own loopback, counters and net.*\n"
"  sysctls, which read there:\n",
"  Un nuovo network namespace: loopback, contatori e sysctl net.* propri,\n"
"  che lì valgono:\n"));
	print_sysctls(&ns);
	jput(j, "\"ran\": true, \"reason\": null, \"sysctl\": ");
	json_sysctls(j, &ns);
	jput(j, ", \"runs\": [");
	printf("\n%s\n", tr("As on the host:", "Come sull'host:"));
	if (ns_burst(j, 1, o, "defaults", o->backlog, o->clients, 1200) == -1)
		goto out;
	printf("\n");
	if (ns_set("net.ipv4.tcp_abort_on_overflow", P_ABORT, 1) == -1 ||
	    ns_burst(j, 0, o, "abort_on_overflow=1", o->backlog, o->clients,
	    1200) == -1)
		goto out;
	printf("%s", tr(
"  Nothing changes: the SYN that finds the queue full is dropped before\n"
"  the setting could matter, so still no refusal.\n",
"  Non cambia nulla: il SYN che trova la coda piena viene scartato prima\n"
"  che l'impostazione possa contare, quindi ancora nessun rifiuto.\n"));
	printf("\n");
	if (ns_set("net.ipv4.tcp_abort_on_overflow", P_ABORT, 0) == -1 ||
	    ns_set("net.core.somaxconn", P_SOMAX, 4) == -1 ||
	    ns_burst(j, 0, o, "somaxconn=4", 128, o->sweep_clients,
	    o->settle_ms) == -1)
		goto out;
	printf("%s", tr(
"  listen(128) asked for 128, the kernel kept min(128, somaxconn) = 4\n"
"  (Send-Q) and the queue holds 4+1.  Silently: listen() does not fail.\n",
"  listen(128) ha chiesto 128, il kernel ha tenuto min(128, somaxconn) = 4\n"
"  (Send-Q) e la coda ne contiene 4+1.  In silenzio: listen() non fallisce.\n"));
	jput(j, "]");
	nb = o->sweep_max + 1;
	for (i = 0; i < nb; i++)
		backlogs[i] = i;
	printf("\n%s\n", tr("The sweep again, with somaxconn 4:",
	    "Di nuovo la scansione, con somaxconn 4:"));
	if (run_sweep(&sw, o, 4, backlogs, nb) == 0)
		print_sweep(&sw, o);
	jput(j, ", \"sweep\": ");
	json_sweep(j, &sw, o);
	run_defer(j);
	return 0;
out:
	jput(j, "]");
	return -1;
}

/* write(2) all of it: net_write_all() is for sockets, this is a pipe. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
netns_fork(struct netns_result *r, const struct opts *o)
{
	struct buf j;
	char chunk[4096];
	ssize_t n;
	pid_t pid;
	int p[2], st;

	memset(r, 0, sizeof(*r));
	buf_init(&r->json);
	printf("\n%s\n", tr(
"== The same in a private network namespace ==",
"== Lo stesso in un network namespace privato =="));
	demo_ask("(backlog)", tr(
"with net.ipv4.tcp_abort_on_overflow=1, is a client that finds the\n"
"queue full refused at last?",
"con net.ipv4.tcp_abort_on_overflow=1, un client che trova la coda\n"
"piena viene finalmente rifiutato?"));
	read_sysctls(&r->before);
	if (geteuid() != 0) {
		snprintf(r->reason, sizeof(r->reason), tr(
		    "not root (euid %d): unshare(CLONE_NEWNET) and writing "
		    "sysctls need CAP_SYS_ADMIN",
		    "non root (euid %d): unshare(CLONE_NEWNET) e scrivere i "
		    "sysctl richiedono CAP_SYS_ADMIN"), (int)geteuid());
		printf(tr("  Skipped: %s.\n", "  Saltata: %s.\n"), r->reason);
		return;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(r->reason, sizeof(r->reason), "pipe: %s",
		    strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		snprintf(r->reason, sizeof(r->reason), "fork: %s",
		    strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		buf_init(&j);
		st = netns_child(o, &j);
		fflush(stdout);
		if (write_all(p[1], buf_head(&j), buf_pending(&j)) == -1)
			_exit(1);
		_exit(st == 0 ? 0 : 3);
	}
	close(p[1]);
	for (;;) {
		n = read(p[0], chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		(void)buf_append(&r->json, chunk, (size_t)n);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	r->ran = buf_pending(&r->json) > 12 &&
	    strncmp(buf_head(&r->json), "\"ran\": true", 11) == 0;
}

/* The child does the work; we read the host's sysctls before and after. */
void
run_netns(struct netns_result *r, const struct opts *o)
{
	netns_fork(r, o);
	read_sysctls(&r->after);
	r->unchanged = memcmp(&r->before, &r->after, sizeof(r->before)) == 0;
	if (r->ran)
		printf(tr(
"\nRead back in the host's namespace after the child ended: somaxconn %ld,\n"
"tcp_abort_on_overflow %ld: %s.\n",
"\nLetti di nuovo nel namespace dell'host, finito il figlio: somaxconn %ld,\n"
"tcp_abort_on_overflow %ld: %s.\n"),
		    r->after.somaxconn, r->after.abort_overflow,
		    r->unchanged ? tr("unchanged", "invariati") :
		    tr("CHANGED, by someone else meanwhile",
		    "CAMBIATI, da qualcun altro nel frattempo"));
}
