#define _GNU_SOURCE		/* unshare, CLONE_NEWNET, struct tcp_info */
/*
 * demo-backlog.c - the listen() backlog, measured: what the lab's slide
 * says ("listen(1): a queue of 1+1, the fourth client is refused") and
 * what Linux does.
 *
 * Three parts, each bounded in time:
 *  timeline  bin/server --model iterative --backlog B, one client in
 *            session, K more connecting: when each completes its
 *            handshake, which SYNs the kernel drops, when they are
 *            retransmitted (TCP_INFO), the listener's Recv-Q/Send-Q (ss),
 *            the kernel's ListenOverflows/ListenDrops; then the first
 *            client ends and the others are served in turn.
 *  sweep     backlog 0..8: how many connections complete at once while
 *            the server is busy (the kernel's backlog+1).
 *  netns     as root, in a private network namespace: the same with
 *            tcp_abort_on_overflow=1 and with a small somaxconn; sysctls
 *            are changed only there, never in the host's namespace.
 *
 * Clients are non-blocking sockets in one poll() loop, so that every
 * event gets a timestamp; nothing here waits a fixed time for something
 * that can be observed.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "demo.h"

#define MAXCLIENTS	32
#define MAXRETX		16
#define SWEEP_MAX	16
#define DROP_AFTER	0.5	/* no handshake after this long: SYN dropped */

#define PART_TIMELINE	0x1
#define PART_SWEEP	0x2
#define PART_NETNS	0x4

struct opts {
	int		 backlog;
	int		 clients;	/* K, after the persistent one */
	double		 wait;		/* bound on the whole demo, seconds */
	long		 busy_ms;	/* first client holds the server */
	long		 hold_ms;	/* each later client, after its reply */
	long		 gap_ms;	/* between two connect() calls */
	long		 settle_ms;	/* sweep: wait before counting */
	int		 sweep_max;
	int		 sweep_clients;
	int		 parts;
	const char	*server;
	const char	*json;
};

/* ---------------------------------------------------------------- */
/* Kernel settings and counters                                     */

struct sysctls {
	long	somaxconn;
	long	syn_linear;	/* -1: this kernel has no such sysctl */
	long	syn_retries;
	long	abort_overflow;
	long	syncookies;
	long	max_syn_backlog;
};

static const struct {
	const char	*name;
	const char	*path;
	size_t		 off;
} sysctl_tab[] = {
	{ "net.core.somaxconn", "/proc/sys/net/core/somaxconn",
	    offsetof(struct sysctls, somaxconn) },
	{ "net.ipv4.tcp_syn_linear_timeouts",
	    "/proc/sys/net/ipv4/tcp_syn_linear_timeouts",
	    offsetof(struct sysctls, syn_linear) },
	{ "net.ipv4.tcp_syn_retries", "/proc/sys/net/ipv4/tcp_syn_retries",
	    offsetof(struct sysctls, syn_retries) },
	{ "net.ipv4.tcp_abort_on_overflow",
	    "/proc/sys/net/ipv4/tcp_abort_on_overflow",
	    offsetof(struct sysctls, abort_overflow) },
	{ "net.ipv4.tcp_syncookies", "/proc/sys/net/ipv4/tcp_syncookies",
	    offsetof(struct sysctls, syncookies) },
	{ "net.ipv4.tcp_max_syn_backlog",
	    "/proc/sys/net/ipv4/tcp_max_syn_backlog",
	    offsetof(struct sysctls, max_syn_backlog) },
};
#define NSYSCTL	(sizeof(sysctl_tab) / sizeof(sysctl_tab[0]))

static long *
sysctl_field(struct sysctls *s, size_t i)
{
	return (long *)(void *)((char *)s + sysctl_tab[i].off);
}

static long
read_long(const char *path)
{
	FILE *f;
	long v;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void
read_sysctls(struct sysctls *s)
{
	size_t i;

	for (i = 0; i < NSYSCTL; i++)
		*sysctl_field(s, i) = read_long(sysctl_tab[i].path);
}

/* Only ever called inside a network namespace of our own. */
static int
write_sysctl(const char *path, long v)
{
	FILE *f;
	int bad;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	bad = fprintf(f, "%ld\n", v) < 0;
	bad |= fclose(f) == EOF;
	if (!bad && read_long(path) != v) {
		errno = EINVAL;
		return -1;
	}
	return bad ? -1 : 0;
}

static void
print_sysctls(const struct sysctls *s)
{
	size_t i;
	long v;

	for (i = 0; i < NSYSCTL; i++) {
		v = *sysctl_field((struct sysctls *)(void *)s, i);
		if (v == -1)
			printf("    %-34s %s\n", sysctl_tab[i].name,
			    tr("(not on this kernel)",
			    "(non esiste in questo kernel)"));
		else
			printf("    %-34s %ld\n", sysctl_tab[i].name, v);
	}
}

static void
json_sysctls(struct buf *j, const struct sysctls *s)
{
	size_t i;
	long v;

	jput(j, "{");
	for (i = 0; i < NSYSCTL; i++) {
		v = *sysctl_field((struct sysctls *)(void *)s, i);
		jput(j, "%s\"%s\": ", i ? ", " : "", sysctl_tab[i].name);
		if (v == -1)
			jput(j, "null");
		else
			jput(j, "%ld", v);
	}
	jput(j, "}");
}

/* TcpExt counters of this network namespace, from /proc/net/netstat. */
struct counters {
	long	overflows;	/* ListenOverflows: accept queue was full */
	long	drops;		/* ListenDrops: any drop at a listener */
	long	cookies;	/* SyncookiesSent */
	int	ok;
};

static long
netstat_field(char *names, char *values, const char *want)
{
	char *sn, *sv, *n, *v;

	n = strtok_r(names, " \n", &sn);
	v = strtok_r(values, " \n", &sv);
	while (n != NULL && v != NULL) {
		if (strcmp(n, want) == 0)
			return strtol(v, NULL, 10);
		n = strtok_r(NULL, " \n", &sn);
		v = strtok_r(NULL, " \n", &sv);
	}
	return -1;
}

static void
read_counters(struct counters *c)
{
	char names[4096], values[4096], a[4096], b[4096];
	FILE *f;

	memset(c, 0, sizeof(*c));
	if ((f = fopen("/proc/net/netstat", "r")) == NULL)
		return;
	while (fgets(names, sizeof(names), f) != NULL &&
	    fgets(values, sizeof(values), f) != NULL) {
		if (strncmp(names, "TcpExt:", 7) != 0)
			continue;
		memcpy(a, names, sizeof(a));
		memcpy(b, values, sizeof(b));
		c->overflows = netstat_field(a, b, "ListenOverflows");
		memcpy(a, names, sizeof(a));
		memcpy(b, values, sizeof(b));
		c->drops = netstat_field(a, b, "ListenDrops");
		memcpy(a, names, sizeof(a));
		memcpy(b, values, sizeof(b));
		c->cookies = netstat_field(a, b, "SyncookiesSent");
		c->ok = c->overflows >= 0 && c->drops >= 0;
		break;
	}
	fclose(f);
}

/* ---------------------------------------------------------------- */
/* Running other programs: bin/server and ss                        */

static void
reset_child_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGPIPE, &sa, NULL);
}

/* Run argv, put up to n-1 bytes of its stdout in out.  Exit status or -1. */
static int
run_capture(char *const argv[], char *out, size_t n)
{
	size_t off = 0;
	ssize_t r;
	pid_t pid;
	int p[2], st;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		reset_child_signals();
		if (dup2(p[1], STDOUT_FILENO) == -1)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		r = read(p[0], out + off, n - 1 - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
		if (off == n - 1) {
			char sink[512];

			while (read(p[0], sink, sizeof(sink)) > 0)
				;	/* keep the child from blocking */
			break;
		}
	}
	out[off] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The listening socket as ss sees it.  For a listener, Recv-Q is the
 * number of connections in the accept queue and Send-Q its limit, the
 * backlog the kernel kept.  0, or -1 if ss is missing or silent.
 */
static int
ss_listen(int port, int *recvq, int *sendq, char *line, size_t linelen)
{
	char filter[32], out[1024], *nl;
	char *argv[] = { "ss", "-ltnH", "sport", "=", filter, NULL };

	snprintf(filter, sizeof(filter), ":%d", port);
	if (run_capture(argv, out, sizeof(out)) != 0)
		return -1;
	if (sscanf(out, "LISTEN %d %d", recvq, sendq) != 2)
		return -1;
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	snprintf(line, linelen, "%.*s", (int)linelen - 1, out);
	return 0;
}

/*
 * Recv-Q/Send-Q of every listener on 127.0.0.1 in one run of ss (each
 * run costs tens of milliseconds): found(port, recvq, sendq, arg).
 */
static int
ss_listeners(void (*found)(int, int, int, void *), void *arg)
{
	static char out[1 << 16];
	char *argv[] = { "ss", "-ltnH", NULL };
	char *line, *save, *colon, local[128];
	int recvq, sendq;

	if (run_capture(argv, out, sizeof(out)) != 0)
		return -1;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "LISTEN %d %d %127s", &recvq, &sendq,
		    local) != 3 || (colon = strrchr(local, ':')) == NULL)
			continue;
		found(atoi(colon + 1), recvq, sendq, arg);
	}
	return 0;
}

/* How many sockets ss shows in SYN-SENT towards port; -1 if unknown. */
static int
ss_syn_sent(int port)
{
	char filter[32], out[8192], *p;
	char *argv[] = { "ss", "-tnH", "state", "syn-sent", "dport", "=",
	    filter, NULL };
	int n = 0;

	snprintf(filter, sizeof(filter), ":%d", port);
	if (run_capture(argv, out, sizeof(out)) != 0)
		return -1;
	for (p = out; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	return n;
}

struct server {
	pid_t		 pid;
	int		 out;		/* its stdout, non-blocking */
	int		 port;
	char		 partial[512];	/* a log line not yet complete */
	size_t		 plen;
};

/*
 * Start bin/server --model iterative on 127.0.0.1, port 0, and wait for
 * its first line, "listening on ADDR:PORT (model M, backlog B)".
 */
static int
server_start(struct server *s, const char *path, int backlog, char *err,
    size_t errlen)
{
	char bl[16], line[256], *colon;
	char *argv[] = { (char *)path, "--model", "iterative", "--host",
	    "127.0.0.1", "--port", "0", "--backlog", bl, "--drain", "0",
	    NULL };
	struct pollfd pfd;
	size_t off = 0;
	double deadline;
	ssize_t r;
	int p[2], rc;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->out = -1;
	snprintf(bl, sizeof(bl), "%d", backlog);
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	if ((s->pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (s->pid == 0) {
		reset_child_signals();
		if (dup2(p[1], STDOUT_FILENO) == -1)
			_exit(127);
		execv(path, argv);
		fprintf(stderr, "demo-backlog: %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	close(p[1]);
	s->out = p[0];
	/* One byte at a time: what follows the first line stays in the pipe. */
	deadline = demo_now() + 5;
	pfd.fd = s->out;
	pfd.events = POLLIN;
	while (off < sizeof(line) - 1) {
		rc = poll(&pfd, 1, (int)((deadline - demo_now()) * 1000) + 1);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0 || (r = read(s->out, line + off, 1)) <= 0)
			break;
		if (line[off] == '\n')
			break;
		off++;
	}
	line[off] = '\0';
	colon = strrchr(line, ':');
	if (strncmp(line, "listening on ", 13) != 0 || colon == NULL ||
	    (s->port = atoi(colon + 1)) <= 0) {
		snprintf(err, errlen, "%.100s did not start (first line: "
		    "'%.100s')", path, line);
		return -1;
	}
	if (net_nonblock(s->out, 1) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
server_stop(struct server *s)
{
	double deadline;
	int st;

	if (s->pid > 0) {
		(void)kill(s->pid, SIGTERM);
		deadline = demo_now() + 3;
		while (waitpid(s->pid, &st, WNOHANG) == 0) {
			if (demo_now() > deadline) {
				(void)kill(s->pid, SIGKILL);
				(void)waitpid(s->pid, &st, 0);
				break;
			}
			demo_sleep_ms(5);
		}
	}
	if (s->out != -1)
		close(s->out);
	s->pid = -1;
	s->out = -1;
}

/*
 * Next complete log line of the server, or 0 when there is none yet.
 * Lines longer than the buffer are cut; the demo only looks at short ones.
 */
static int
server_line(struct server *s, char *line, size_t n)
{
	char *nl;
	size_t len;
	ssize_t r;

	for (;;) {
		nl = memchr(s->partial, '\n', s->plen);
		if (nl != NULL) {
			len = (size_t)(nl - s->partial);
			snprintf(line, n, "%.*s", (int)len, s->partial);
			memmove(s->partial, nl + 1, s->plen - len - 1);
			s->plen -= len + 1;
			return 1;
		}
		if (s->plen == sizeof(s->partial))
			s->plen = 0;	/* an absurd line: forget it */
		r = read(s->out, s->partial + s->plen,
		    sizeof(s->partial) - s->plen);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		s->plen += (size_t)r;
	}
}

/* ---------------------------------------------------------------- */
/* Clients                                                          */

static int
tcp_state(int fd, unsigned *retrans)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	if (retrans != NULL)
		*retrans = ti.tcpi_total_retrans;
	return ti.tcpi_state;
}

/* A non-blocking connect() to 127.0.0.1:port.  The fd, or -1 (errno). */
static int
start_connect(int port, int *lport)
{
	struct sockaddr_in sin;
	char addr[NET_ADDR_LEN], *colon;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	*lport = 0;
	if (net_local_addr(fd, addr, sizeof(addr)) == 0 &&
	    (colon = strrchr(addr, ':')) != NULL)
		*lport = atoi(colon + 1);
	return fd;
}

/* Send line and wait (bounded) for its reply; the session stays open. */
static int
converse(int fd, const char *line, char *reply, size_t n, int timeout_ms)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t r;
	int rc;

	if (net_write_all(fd, line, strlen(line)) == -1)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (off < n - 1) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc <= 0)
			return -1;
		if ((r = net_read(fd, reply + off, n - 1 - off)) <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		off += (size_t)r;
		if (memchr(reply, '\n', off) != NULL)
			break;
	}
	reply[off] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	return 0;
}

/* The persistent client that keeps an iterative server busy. */
static int
busy_client(int port, char *err, size_t errlen)
{
	char p[16], reply[128];
	int fd;

	snprintf(p, sizeof(p), "%d", port);
	if ((fd = net_connect("127.0.0.1", p, SOCK_STREAM, 3000, err,
	    errlen)) == -1)
		return -1;
	if (converse(fd, "hello from client 0\n", reply, sizeof(reply),
	    3000) == -1) {
		snprintf(err, errlen, "client 0: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---------------------------------------------------------------- */
/* Part 1: the timeline                                             */

enum cstate {
	C_CONNECTING,	/* SYN sent, no answer yet */
	C_WAITREPLY,	/* handshake done, line sent, no reply yet */
	C_REPLIED,	/* served; closes after hold_ms */
	C_DONE,		/* sent "." and closed */
	C_REFUSED,	/* ECONNREFUSED: an RST came */
	C_TIMEDOUT,	/* ETIMEDOUT: the kernel gave up retransmitting */
	C_FAILED	/* any other error, or reset after the handshake */
};

static const char *const cstate_name[] = {
	"waiting", "established", "served", "served", "refused", "timedout",
	"error"
};

struct client {
	int		 id;
	int		 fd;
	int		 port;		/* its local (ephemeral) port */
	enum cstate	 st;
	double		 t_start;	/* connect() called */
	double		 t_est;		/* handshake complete (0 = never) */
	double		 t_accept;	/* the server's log: "connected with" */
	double		 t_reply;
	double		 t_close;	/* when to send "." */
	double		 t_end;
	double		 t_retx[MAXRETX];	/* SYN retransmissions seen */
	unsigned	 nretx;
	unsigned	 retx_seen;	/* tcpi_total_retrans last read */
	unsigned	 data_retx;	/* retransmissions after the handshake */
	int		 told_dropped;
	enum cstate	 at_release;
	unsigned	 retx_at_release;
	char		 inbuf[128];
	size_t		 inlen;
	char		 err[64];
};

struct timeline {
	struct server	 srv;
	struct client	 c[MAXCLIENTS + 1];	/* c[0]: the persistent one */
	int		 n;			/* c[1..n] */
	double		 t_release;
	double		 t_end;
	int		 recvq, sendq, syn_sent;
	int		 queued, waiting, refused;	/* at release */
	char		 ssline[256];
	struct counters	 before, at_release, after;
	double		 refused_ms;		/* the closed-port contrast */
	char		 refused_err[64];
};

static double T0;	/* every time printed is relative to this */

static void ev(double, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* One line of the timeline: "  +1.234 s  client 3   message". */
static void
ev(double t, const char *who, const char *fmt, ...)
{
	va_list ap;

	printf("  %+7.3f s  %-9s ", t - T0, who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
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
	snprintf(c->err, sizeof(c->err), "%s", strerror(err));
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	if (st == C_REFUSED)
		ev(now, cname(c), tr("connect() refused (%s): an RST came back",
		    "connect() rifiutata (%s): è tornato un RST"), c->err);
	else if (st == C_TIMEDOUT)
		ev(now, cname(c), tr("connect() gave up (%s) after %.1f s",
		    "connect() ha rinunciato (%s) dopo %.1f s"), c->err,
		    now - c->t_start);
	else
		ev(now, cname(c), tr("error: %s", "errore: %s"), c->err);
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
	snprintf(line, sizeof(line), "hello from client %d\n", c->id);
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
		if ((p = strstr(line, "connected with ")) == NULL)
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

/*
 * --step: wait for Enter, but keep watching the clients meanwhile, so
 * that SYN retransmissions during the pause are timed correctly.
 */
static void
pause_pumping(struct timeline *tl, const struct opts *o)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	char line[64];

	if (!demo_step)
		return;
	printf("%s\n", tr("  [Enter to go on; the clients are still watched]",
	    "  [Invio per continuare; i client restano osservati]"));
	for (;;) {
		pump(tl, o, demo_now() + 0.05, 0);
		if (poll(&pfd, 1, 0) == 1)
			break;
	}
	if (fgets(line, sizeof(line), stdin) == NULL)
		demo_step = 0;	/* no terminal: run on unattended */
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
	if (tl->before.ok && tl->at_release.ok)
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

static void
timeline_summary(const struct timeline *tl)
{
	const struct client *c;
	char est[32], retx[96], reply[32];
	size_t off;
	int i, w;
	unsigned k;
	long dropped = 0, data_retx = 0;

	printf("\n%s\n", tr("Summary (times from the start, in seconds):",
	    "Riepilogo (tempi dall'inizio, in secondi):"));
	printf("  %-7s %-6s %-8s %-8s %-10s %-8s %s\n", "client",
	    tr("port", "porta"), "connect", tr("estab.", "stabil."),
	    tr("at release", "al rilascio"), tr("reply", "risposta"),
	    tr("SYN retransmissions at", "ritrasmissioni SYN a"));
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
		printf("  %-7d %-6d %+.3f   %-8s %-10s %-8s %s\n", c->id,
		    c->port, c->t_start - T0, est,
		    c->at_release == C_WAITREPLY ? tr("queued", "in coda") :
		    c->at_release == C_CONNECTING ? tr("SYN drop", "SYN scart.") :
		    cstate_name[c->at_release], reply, retx);
		/* Every SYN sent but the one that got in was dropped. */
		if (c->st != C_REFUSED && c->st != C_FAILED)
			dropped += c->nretx + (c->t_est == 0);
		data_retx += c->data_retx;
	}
	if (tl->before.ok && tl->after.ok)
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

static void
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
"the fourth is refused.)\n\n",
"Slide: \"Con il comando serverSocket.listen(1) abbiamo istanziato un\n"
"backlog di lunghezza 1+1 [...] Quando il server sta servendo il primo\n"
"client, la seconda e la terza richiesta rimangono in coda, mentre la\n"
"quarta viene rifiutata.\"\n\n"));
	printf("%s\n", tr("The kernel settings that decide the outcome:",
	    "Le impostazioni del kernel che decidono l'esito:"));
	print_sysctls(s);
	if (s->syn_linear == -1)
		printf("%s", tr(
"    (tcp_syn_linear_timeouts does not exist on this kernel: SYN\n"
"    retransmissions back off exponentially, 1 s, 2 s, 4 s ... apart.)\n",
"    (tcp_syn_linear_timeouts non esiste in questo kernel: le\n"
"    ritrasmissioni del SYN si distanziano in modo esponenziale, 1 s, 2 s,\n"
"    4 s ...)\n"));
	printf(tr(
"\nbin/server --model iterative --backlog %d: one session at a time, no\n"
"accept() while it lasts.  Client 0 connects and stays in session for\n"
"%.1f s; clients 1..%d connect meanwhile, %ld ms apart.  Every later\n"
"client, once served, stays %ld ms and then sends \".\".\n\n",
"\nbin/server --model iterative --backlog %d: una sessione alla volta,\n"
"nessuna accept() finché dura.  Il client 0 si connette e resta in\n"
"sessione per %.1f s; intanto i client 1..%d si connettono, a %ld ms\n"
"l'uno dall'altro.  Ogni client servito resta %ld ms e poi invia \".\".\n\n"),
	    o->backlog, o->busy_ms / 1000.0, o->clients, o->gap_ms,
	    o->hold_ms);
}

/* After the server is gone: a port with no listener refuses at once. */
static void
closed_port(struct timeline *tl)
{
	char p[16], err[NET_ERR_LEN];
	double t;
	int fd, i, refused = 0;

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
	snprintf(tl->refused_err, sizeof(tl->refused_err), "%s",
	    strerror(errno));
	printf(tr(
"\nFor contrast, with the server stopped: connect() to port %d gives\n"
"\"%s\" after %.3f ms.  That is what \"refused\" looks like: an RST\n"
"from a port where nobody listens, at once.\n",
"\nPer confronto, a server fermo: connect() alla porta %d dà\n"
"\"%s\" dopo %.3f ms.  Ecco cos'è \"rifiutata\": un RST da una\n"
"porta dove nessuno ascolta, subito.\n"),
	    tl->srv.port, tl->refused_err, tl->refused_ms);
	for (i = 1; i <= tl->n; i++)
		refused += tl->c[i].st == C_REFUSED;
	printf(tr("Clients refused while the queue was full: %d.\n",
	    "Client rifiutati mentre la coda era piena: %d.\n"), refused);
}

static void
timeline_explain(const struct timeline *tl, const struct opts *o,
    const struct sysctls *s)
{
	const struct client *c;
	int expect = o->backlog + 1, i, timedout = 0;

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
	printf("%s", tr(
"- When client 0 ended, the server accept()ed the queued clients in turn.\n"
"  A client whose SYN was dropped got in only at a later retransmission\n"
"  that found room: it waited whole seconds (instants in the table).\n",
"- Quando il client 0 ha finito, il server ha fatto accept() dei client in\n"
"  coda, uno alla volta.  Un client col SYN scartato è entrato solo a una\n"
"  ritrasmissione successiva che ha trovato posto: ha aspettato secondi\n"
"  interi (gli istanti sono nella tabella).\n"));
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

static void
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

/*
 * The whole timeline.  Returns 0, or -1 if it could not run at all
 * (err says why).  deadline bounds it; clients still waiting then are
 * reported as such.
 */
static int
run_timeline(struct timeline *tl, const struct opts *o,
    const struct sysctls *s, double deadline, char *err, size_t errlen)
{
	struct client *c;
	double now, release;
	int i, fd;

	memset(tl, 0, sizeof(*tl));
	timeline_intro(o, s);
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
	    "connesso, ha inviato \"hello from client 0\", ricevuto \"HELLO "
	    "FROM CLIENT 0\": ora il server è occupato con lui"));
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
		ev(c->t_start, cname(c), tr("connect() from port %d",
		    "connect() dalla porta %d"), c->port);
		pump(tl, o, c->t_start + o->gap_ms / 1000.0, 0);
	}
	pump(tl, o, release, 0);
	snapshot(tl, demo_now());
	pause_pumping(tl, o);
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
	timeline_summary(tl);
	timeline_explain(tl, o, s);
	closed_port(tl);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Part 2: the sweep                                                */

/*
 * One backlog value: a busy iterative server and n connect() calls.
 * While nobody accept()s, every connection that completes stays in the
 * queue, so counting after a short wait is exact: the wait only has to
 * be shorter than the first SYN retransmission (1 s), not precise.
 */
struct burst {
	int		 backlog;
	struct server	 srv;
	int		 busy;
	int		 fd[MAXCLIENTS];
	int		 n;
	int		 est, syn, refused, other;
	unsigned	 retx;		/* SYN retransmissions, all clients */
	int		 recvq, sendq;
	char		 err[NET_ERR_LEN];
};

static int
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

static void
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

static void
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

struct sweep {
	struct burst	 b[SWEEP_MAX + 1];
	int		 max;
	long		 somaxconn;
	int		 ok;
};

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
static int
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

static void
print_sweep(const struct sweep *sw, const struct opts *o)
{
	const struct burst *b;
	int i, agree = 1;

	printf("  %-8s %-11s %-8s %-8s %-7s %-7s %s\n", "backlog",
	    tr("completed", "completate"), tr("waiting", "in attesa"),
	    tr("refused", "rifiutate"), "Recv-Q", "Send-Q",
	    tr("min(backlog,somaxconn)+1", "min(backlog,somaxconn)+1"));
	for (i = 0; i < sw->max; i++) {
		b = &sw->b[i];
		printf("  %-8d %-11d %-8d %-8d %-7d %-7d %ld\n", b->backlog,
		    b->est, b->syn, b->refused, b->recvq, b->sendq,
		    expected_queue(b->backlog, sw->somaxconn));
		agree &= b->est == expected_queue(b->backlog, sw->somaxconn);
	}
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

static void
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

/* ---------------------------------------------------------------- */
/* Part 3: a private network namespace                              */

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
	long somax = read_long(P_SOMAX);
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
	    backlog, somax, read_long(P_ABORT), n, wait_ms / 1000.0, b.est,
	    b.syn, b.refused, b.recvq, b.sendq, b.retx,
	    after.overflows - before.overflows);
	jput(j, "%s{\"label\": ", first ? "" : ", ");
	jstr(j, label);
	jput(j, ", \"backlog\": %d, \"somaxconn\": %ld, "
	    "\"abort_on_overflow\": %ld, \"clients\": %d, \"wait_ms\": %ld, "
	    "\"established\": %d, \"syn_sent\": %d, \"refused\": %d, "
	    "\"other\": %d, \"recv_q\": %d, \"send_q\": %d, \"syn_retx\": %u, "
	    "\"listen_overflows_delta\": %ld}", backlog, somax,
	    read_long(P_ABORT), n, wait_ms, b.est, b.syn, b.refused, b.other,
	    b.recvq, b.sendq, b.retx, after.overflows - before.overflows);
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
"  (Anche la coda delle connessioni half-open di un socket listen(1) è\n"
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

struct netns_result {
	int		 ran;
	struct buf	 json;		/* the child's fragment */
	struct sysctls	 before, after;
	int		 unchanged;
	char		 reason[NET_ERR_LEN];
};

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
static void
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

/* ---------------------------------------------------------------- */
/* Options and main                                                 */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: demo-backlog [options]\n"
"  -b, --backlog B       the server's listen() backlog (default 1, as the lab)\n"
"  -k, --clients K       clients connecting while the server is busy\n"
"                        (default 5)\n"
"  -w, --wait SEC        bound on the whole demo (default 15)\n"
"      --busy-ms MS      how long client 0 keeps the server busy (default 2500)\n"
"      --hold-ms MS      how long each later client stays once served\n"
"                        (default 500)\n"
"      --gap-ms MS       between two connect() calls (default 20)\n"
"      --parts LIST      timeline,sweep,netns (default all three)\n"
"      --sweep-max N     sweep backlog 0..N (default 8)\n"
"      --sweep-clients N clients per backlog in the sweep (default 12)\n"
"      --settle-ms MS    sweep: wait before counting (default 300)\n"
"      --server PATH     the server program (default: bin/server beside\n"
"                        this program, or $SOCKLAB_BIN/server)\n"
"      --json FILE       also write the measurements as JSON ('-' = stdout)\n"
"      --lang en|it      narration in English (default) or Italian\n"
"      --step            pause for Enter between parts (for class)\n"
"  -h, --help            this help\n"
"Only 127.0.0.1 is used, and, as root, a network namespace of its own\n"
"(the only place where it changes sysctls).\n");
}

static long
number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		die(2, "%s: '%s' is not a number from %ld to %ld", opt, s, min,
		    max);
	return v;
}

static int
parse_parts(const char *s)
{
	char copy[128], *p, *save;
	int parts = 0;

	snprintf(copy, sizeof(copy), "%s", s);
	for (p = strtok_r(copy, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, "timeline") == 0)
			parts |= PART_TIMELINE;
		else if (strcmp(p, "sweep") == 0)
			parts |= PART_SWEEP;
		else if (strcmp(p, "netns") == 0)
			parts |= PART_NETNS;
		else
			die(2, "--parts: unknown part '%s' (timeline, sweep, "
			    "netns)", p);
	}
	return parts;
}

/* bin/server sits beside us, unless SOCKLAB_BIN says otherwise. */
static const char *
default_server(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("SOCKLAB_BIN");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env != NULL && *env != '\0') {
		snprintf(path, sizeof(path), "%s/server", env);
		return path;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "bin/server";
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(path, sizeof(path), "%.*s/server", (int)sizeof(path) - 8,
	    self);
	return path;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "backlog", required_argument, NULL, 'b' },
		{ "clients", required_argument, NULL, 'k' },
		{ "wait", required_argument, NULL, 'w' },
		{ "busy-ms", required_argument, NULL, 'B' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "gap-ms", required_argument, NULL, 'G' },
		{ "parts", required_argument, NULL, 'P' },
		{ "sweep-max", required_argument, NULL, 'M' },
		{ "sweep-clients", required_argument, NULL, 'N' },
		{ "settle-ms", required_argument, NULL, 'S' },
		{ "server", required_argument, NULL, 'X' },
		{ "json", required_argument, NULL, 'j' },
		{ "lang", required_argument, NULL, 'l' },
		{ "step", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "b:k:w:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'b': o->backlog = (int)number("--backlog", optarg, 0,
		    65535); break;
		case 'k': o->clients = (int)number("--clients", optarg, 1,
		    MAXCLIENTS); break;
		case 'w': o->wait = (double)number("--wait", optarg, 1,
		    600); break;
		case 'B': o->busy_ms = number("--busy-ms", optarg, 100,
		    600000); break;
		case 'H': o->hold_ms = number("--hold-ms", optarg, 0,
		    60000); break;
		case 'G': o->gap_ms = number("--gap-ms", optarg, 0,
		    1000); break;
		case 'P': o->parts = parse_parts(optarg); break;
		case 'M': o->sweep_max = (int)number("--sweep-max", optarg,
		    0, SWEEP_MAX); break;
		case 'N': o->sweep_clients = (int)number("--sweep-clients",
		    optarg, 1, MAXCLIENTS); break;
		case 'S': o->settle_ms = number("--settle-ms", optarg, 10,
		    900); break;
		case 'X': o->server = optarg; break;
		case 'j': o->json = optarg; break;
		case 'l':
			if (demo_lang(optarg) == -1)
				die(2, "--lang: 'en' or 'it'");
			break;
		case 's': demo_step = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s'", argv[optind]);
	if (o->server == NULL)
		o->server = default_server();
	if (access(o->server, X_OK) == -1)
		die(1, "%s: %s (build it with 'make', or use --server)",
		    o->server, strerror(errno));
}

/* Seconds the sweep and the namespace part take, about (measured). */
static double
sweep_cost(const struct opts *o)
{
	return 0.5 + o->settle_ms / 1000.0;
}

static double
netns_cost(const struct opts *o)
{
	return 4.5 + 2 * o->settle_ms / 1000.0;
}

static double
reserve(const struct opts *o)
{
	return (o->parts & PART_SWEEP ? sweep_cost(o) : 0) +
	    (o->parts & PART_NETNS ? netns_cost(o) : 0);
}

/* Would this part end after start + --wait?  Then say so and skip it. */
static int
no_time(const struct opts *o, double start, double cost, const char *part)
{
	double left = start + o->wait - demo_now();

	if (left >= cost)
		return 0;
	printf(tr("\n(%s skipped: it takes about %.1f s, %.1f s are left of "
	    "--wait %.0f)\n", "\n(%s saltata: richiede circa %.1f s, restano "
	    "%.1f s di --wait %.0f)\n"), part, cost, left, o->wait);
	return 1;
}

int
main(int argc, char **argv)
{
	static struct timeline tl;
	static struct sweep sw;
	static struct netns_result nr;
	struct opts o = { .backlog = 1, .clients = 5, .wait = 15,
	    .busy_ms = 2500, .hold_ms = 500, .gap_ms = 20, .settle_ms = 300,
	    .sweep_max = 8, .sweep_clients = 12,
	    .parts = PART_TIMELINE | PART_SWEEP | PART_NETNS };
	int backlogs[SWEEP_MAX + 1];
	char err[NET_ERR_LEN];
	struct sysctls host;
	struct utsname un;
	struct buf j;
	double start, deadline;
	int i, failed = 0;

	log_setprog(argv[0]);
	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A client gone first must not kill us with SIGPIPE. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die(1, "signal: %s", strerror(errno));
	start = demo_now();
	deadline = start + o.wait - reserve(&o);
	if (deadline < start + 1)
		deadline = start + 1;
	read_sysctls(&host);
	if (uname(&un) == -1)
		snprintf(un.release, sizeof(un.release), "?");
	buf_init(&j);
	jput(&j, "{\"demo\": \"backlog\", \"kernel\": ");
	jstr(&j, un.release);
	jput(&j, ", \"backlog\": %d, \"clients\": %d, \"sysctl\": ", o.backlog,
	    o.clients);
	json_sysctls(&j, &host);

	if (o.parts & PART_TIMELINE) {
		if (run_timeline(&tl, &o, &host, deadline, err,
		    sizeof(err)) == -1) {
			log_err("timeline: %s", err);
			failed = 1;
		} else {
			jput(&j, ",\n\"timeline\": ");
			json_timeline(&j, &tl);
		}
		demo_pause();
	}
	if ((o.parts & PART_SWEEP) &&
	    no_time(&o, start, sweep_cost(&o), "sweep"))
		o.parts &= ~PART_SWEEP;
	if (o.parts & PART_SWEEP) {
		printf("\n%s\n", tr(
"== The sweep: connections that complete at once while the server is busy ==",
"== La scansione: connessioni completate subito mentre il server è occupato =="));
		printf(tr(
"For each backlog: a busy iterative server, %d non-blocking connect()s,\n"
"counted after %ld ms (before any SYN retransmission).  somaxconn = %ld.\n",
"Per ogni backlog: un server iterativo occupato, %d connect() non\n"
"bloccanti, contate dopo %ld ms (prima di ogni ritrasmissione del SYN).\n"
"somaxconn = %ld.\n"), o.sweep_clients, o.settle_ms, host.somaxconn);
		for (i = 0; i <= o.sweep_max; i++)
			backlogs[i] = i;
		if (run_sweep(&sw, &o, host.somaxconn, backlogs,
		    o.sweep_max + 1) == 0)
			print_sweep(&sw, &o);
		else
			failed = 1;
		jput(&j, ",\n\"sweep\": ");
		json_sweep(&j, &sw, &o);
		demo_pause();
	}
	if ((o.parts & PART_NETNS) &&
	    no_time(&o, start, netns_cost(&o), "netns"))
		o.parts &= ~PART_NETNS;
	if (o.parts & PART_NETNS) {
		run_netns(&nr, &o);
		jput(&j, ",\n\"netns\": {");
		if (buf_pending(&nr.json) > 0)
			(void)buf_append(&j, buf_head(&nr.json),
			    buf_pending(&nr.json));
		else {
			jput(&j, "\"ran\": false, \"reason\": ");
			jstr(&j, nr.reason);
		}
		jput(&j, ", \"host_sysctl_before\": ");
		json_sysctls(&j, &nr.before);
		jput(&j, ", \"host_sysctl_after\": ");
		json_sysctls(&j, &nr.after);
		jput(&j, ", \"host_unchanged\": %s}",
		    nr.unchanged ? "true" : "false");
		buf_free(&nr.json);
	}
	jput(&j, ",\n\"elapsed_s\": %.3f}", demo_now() - start);
	printf(tr("\n(demo took %.1f s)\n", "\n(la demo è durata %.1f s)\n"),
	    demo_now() - start);
	if (o.json != NULL && demo_write_json(o.json, &j) == -1) {
		log_err("%s: %s", o.json, strerror(errno));
		failed = 1;
	}
	buf_free(&j);
	return failed;
}
