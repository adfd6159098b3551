#define _GNU_SOURCE		/* pipe2 */
/*
 * sys.c - what demo-backlog reads from the kernel and the programs it
 * runs: the sysctls that decide the outcome, the TcpExt counters of
 * /proc/net/netstat, ss, and bin/server as a child whose log it reads.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kstat.h"
#include "backlog.h"

/* ---------------------------------------------------------------- */
/* Kernel settings and counters                                     */

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

void
read_sysctls(struct sysctls *s)
{
	size_t i;

	for (i = 0; i < NSYSCTL; i++)
		*sysctl_field(s, i) = demo_read_long(sysctl_tab[i].path);
}

/* Only ever called inside a network namespace of our own. */
int
write_sysctl(const char *path, long v)
{
	FILE *f;
	int bad;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	bad = fprintf(f, "%ld\n", v) < 0;
	bad |= fclose(f) == EOF;
	if (!bad && demo_read_long(path) != v) {
		errno = EINVAL;
		return -1;
	}
	return bad ? -1 : 0;
}

void
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

void
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

/* The listen-queue counters, through lib/kstat.c; -1 where unknown. */
void
read_counters(struct counters *c)
{
	struct tcpext t;

	memset(c, 0, sizeof(*c));
	if (tcpext_read(&t) == -1)
		return;
	c->overflows = (long)t.listen_overflows;
	c->drops = (long)t.listen_drops;
	c->cookies = (long)t.syncookies_sent;
	c->ok = c->overflows >= 0 && c->drops >= 0;
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
int
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
int
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
int
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

/*
 * Start bin/server --model iterative on 127.0.0.1, port 0, and wait for
 * its first line, "listening on ADDR:PORT (model M, backlog B)".
 */
int
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

void
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
int
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
