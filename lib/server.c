/*
 * server.c - what the backends share: the stop flag, waiting to accept,
 * and the per-session loop of the blocking designs.
 */
#define _GNU_SOURCE		/* pipe2, ppoll, prctl, signalfd */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"
#include "session.h"

_Atomic int server_stop;
static int stop_pipe[2] = { -1, -1 };
static unsigned drain_sec;
static volatile sig_atomic_t refuse_fd = -1;

int
server_stop_fd(void)
{
	return stop_pipe[0];
}

static void
stop_on(int sig)
{
	/*
	 * The first SIGTERM/SIGINT stops accepting and gives sessions in
	 * flight drain_sec to finish; the alarm, or a second signal, ends
	 * them.  A listener registered by server_refuse_on_stop() is shut
	 * down here, at the first signal: nobody else may be there to do it.
	 */
	if (sig != SIGALRM && server_stop == 0 && refuse_fd != -1)
		(void)shutdown(refuse_fd, SHUT_RDWR);
	if (sig == SIGALRM || server_stop == 1 || drain_sec == 0)
		server_stop = 2;
	else if (server_stop == 0) {
		server_stop = 1;
		alarm(drain_sec);
	}
	/* Wake whoever polls the pipe; a full pipe is already awake. */
	if (write(stop_pipe[1], "x", 1) == -1)
		(void)0;
}

static void
on_stop(int sig)
{
	int saved = errno;

	stop_on(sig);
	errno = saved;
}

/*
 * SIGHUP: the terminal went away.  The server owns no log file to reopen
 * and no configuration to reload, so a hang-up is a stop like SIGTERM.
 * It is passed on as a SIGTERM to the process, so that every model
 * routes it exactly as it routes SIGTERM (to the thread that owns the
 * shutdown, in the parent's ppoll() ...).  In a child process (fork,
 * prefork) it does nothing: the parent owns the shutdown, as for SIGINT.
 */
static pid_t server_pid;

static void
on_hangup(int sig)
{
	int saved = errno;

	(void)sig;
	if (getpid() == server_pid)
		(void)kill(server_pid, SIGTERM);
	errno = saved;
}

int
server_signals(int drain)
{
	struct sigaction sa, old;

	if (stop_pipe[0] == -1 &&
	    pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked accept() or read() must return EINTR. */
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGALRM, &sa, NULL) == -1)
		return -1;
	drain_sec = drain > 0 ? (unsigned)drain : 0;
	/* Started with SIGHUP ignored (nohup, a supervisor): keep it so. */
	if (sigaction(SIGHUP, NULL, &old) == -1)
		return -1;
	if (old.sa_handler != SIG_IGN) {
		server_pid = getpid();
		sa.sa_handler = on_hangup;
		sa.sa_flags = SA_RESTART;
		if (sigaction(SIGHUP, &sa, NULL) == -1)
			return -1;
		sa.sa_flags = 0;
	}
	/* A client gone before its reply must not kill the server. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		return -1;
	return 0;
}

/*
 * A worker process (prefork's, --procs'): its parent owns the shutdown
 * and the drain clock.  SIGTERM stops accepting, once (the same SIGTERM
 * sent to the whole process group must not end sessions early);
 * SIGALRM, the parent's "drain over", ends the sessions now, and shuts
 * the blocking session down (server_worker_session) so that no poll()
 * about to start can miss it.  Both wake the stop pipe, which is the
 * worker's own: a pipe shared with its siblings would give one worker's
 * wake-up to another.
 */
static volatile sig_atomic_t worker_fd = -1;
static int in_worker;

static void
worker_stop_on(int sig)
{
	if (sig == SIGALRM) {
		server_stop = 2;
		if (worker_fd != -1)
			(void)shutdown(worker_fd, SHUT_RDWR);
	} else if (server_stop == 0)
		server_stop = 1;
	if (write(stop_pipe[1], "x", 1) == -1)
		(void)0;
}

static void
on_worker_signal(int sig)
{
	int saved = errno;

	worker_stop_on(sig);
	errno = saved;
}

int
server_worker_signals(pid_t parent, const sigset_t *mask)
{
	struct sigaction sa;

	/* Never outlive the parent, even if it is killed with SIGKILL. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		return -1;
	if (stop_pipe[0] != -1) {
		close(stop_pipe[0]);
		close(stop_pipe[1]);
	}
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	in_worker = 1;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must interrupt accept() and poll(). */
	sa.sa_handler = on_worker_signal;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGALRM, &sa, NULL) == -1)
		return -1;
	/* Ctrl-C and a hang-up reach the whole group: the parent decides. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		return -1;
	return sigprocmask(SIG_SETMASK, mask, NULL);
}

void
server_worker_session(int fd)
{
	worker_fd = fd;
}

/* Where this process counts the sessions it admits: its own counter,
 * or a supervisor's slot in memory the parent sees. */
static _Atomic unsigned long own_count;
static _Atomic unsigned long *session_count = &own_count;

void
server_count_into(_Atomic unsigned long *counter)
{
	session_count = counter ? counter : &own_count;
}

void
server_admitted(void)
{
	atomic_fetch_add_explicit(session_count, 1, memory_order_relaxed);
}

void
server_refuse_on_stop(int lfd)
{
	refuse_fd = lfd;
}

int
server_ready(int lfd, const struct server_opts *o)
{
	char addr[NET_ADDR_LEN];

	if (in_worker)
		return 0;
	if (net_local_addr(lfd, addr, sizeof(addr)) == -1) {
		log_err("getsockname: %s", strerror(errno));
		return -1;
	}
	log_out("listening on %s (model %s, backlog %d)", addr, o->model,
	    o->backlog);
	return 0;
}

static void
stop_set(sigset_t *stops)
{
	sigemptyset(stops);
	sigaddset(stops, SIGTERM);
	sigaddset(stops, SIGINT);
	sigaddset(stops, SIGALRM);
	sigaddset(stops, SIGHUP);
}

int
server_block_stops(sigset_t *old)
{
	sigset_t stops;
	int rc;

	stop_set(&stops);
	if ((rc = pthread_sigmask(SIG_BLOCK, &stops, old)) != 0) {
		log_err("pthread_sigmask: %s", strerror(rc));
		errno = rc;
		return -1;
	}
	return 0;
}

int
server_signal_fd(void)
{
	sigset_t stops, old;
	int fd;

	if (server_block_stops(&old) == -1)
		return -1;
	stop_set(&stops);
	if ((fd = signalfd(-1, &stops, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_err("signalfd: %s", strerror(errno));
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	return fd;
}

void
server_take_signals(int fd)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (in_worker)
			worker_stop_on((int)si.ssi_signo);
		else if (si.ssi_signo != SIGHUP)
			stop_on((int)si.ssi_signo);
		else if (server_pid != 0)	/* not ignored at start */
			stop_on(SIGTERM);
	}
}

static int
wait_accept(int lfd, const sigset_t *mask)
{
	struct pollfd pfd[2];
	int rc;

	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = stop_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (server_stop)
			return 0;
		rc = ppoll(pfd, stop_pipe[0] == -1 ? 1 : 2, NULL, mask);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return -1;
		if (server_stop)
			return 0;
		if (pfd[0].revents)
			return 1;
	}
}

int
server_wait_accept(int lfd)
{
	sigset_t old;
	int rc, err;

	if (server_block_stops(&old) == -1)
		return -1;
	rc = wait_accept(lfd, &old);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return rc;
}

/*
 * At most one line a second: every worker of a pool may hit EMFILE, and
 * one client looping on connect() can make thread or fork fail a
 * thousand times a second.
 */
static void
log_limited(const char *what, int err, const char *then)
{
	static _Atomic long long last;
	long long now = clock_ms(), was = last;

	if (now - was >= 1000 && atomic_compare_exchange_strong(&last, &was,
	    now))
		log_err("%s: %s%s", what, strerror(err), then);
}

void
server_backoff(const char *what, int err)
{
	log_limited(what, err, "; pausing");
	net_accept_backoff();
}

int
server_accept(int lfd, int nonblock, char *addr, size_t addrlen)
{
	int fd, err;

	if ((fd = net_accept(lfd, nonblock, addr, addrlen)) != -1)
		return fd;
	err = errno;
	switch (err) {
	case EINTR:
	case EAGAIN:
	case ECONNABORTED:
	case EPROTO:
		break;		/* the client left first, or someone else won */
	case EINVAL:
	case EBADF:
		break;		/* the listening socket was shut down: a stop */
	default:		/* EMFILE, ENFILE, ENOBUFS, ENOMEM, ... */
		server_backoff("accept", err);
		break;
	}
	errno = err;
	return -1;
}

/*
 * Wait for input until the idle deadline.  Returns 1 readable, 0 timed
 * out, -1 error or hard stop (the signal that sets it interrupts poll).
 */
int
session_wait_input(int fd, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int rc;

	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (server_stop >= 2)
			return -1;
		left = deadline ? deadline - clock_ms() : -1;
		if (deadline && left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc == -1 && errno != EINTR)
			return -1;
		/* A hard stop may wake us by shutting the connection down
		 * (pooled models): that is a stop, not the client's EOF. */
		if (rc > 0)
			return server_stop >= 2 ? -1 : 1;
	}
}

/*
 * Write all n bytes by the deadline (0: none).  One deadline for the
 * whole write: SO_SNDTIMEO would restart its wait after every partial
 * send, and a client that reads a trickle could hold the session for a
 * multiple of the timeout.  -1 with EAGAIN when the deadline passed.
 */
int
session_write_by(int fd, const char *p, size_t n, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	long long left;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (server_stop >= 2) {
			errno = EINTR;
			return -1;
		}
		left = deadline ? deadline - clock_ms() : -1;
		if (deadline && left <= 0) {
			errno = EAGAIN;
			return -1;
		}
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) == -1 &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

/* Whether the client has sent more, for SESSION_PROBE: a glance, no wait. */
int
session_peer_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/*
 * Send our FIN after the replies, then read and drop what comes until
 * the client's own FIN, as Apache's lingering_close does.  A client that
 * closes when it sees our EOF costs one round trip.
 *
 * Bounded in time only: a bound in bytes would bring the reset back for
 * a client still sending a long line, and dropping input is no more work
 * than a client can make us do with lines anyway.  Not after the idle
 * timeout (we owe nothing then, and a slow client is the one to be rid
 * of) nor a hard stop (the drain time is over: session_wait_input gives
 * up).
 */
void
session_linger(int fd, char *junk, size_t len)
{
	long long deadline;

	if (shutdown(fd, SHUT_WR) == -1)
		return;		/* reset by the client already */
	deadline = clock_ms() + SESSION_LINGER_MS;
	while (session_wait_input(fd, deadline) > 0 &&
	    net_read(fd, junk, len) > 0)
		continue;
}

/* --write-timeout, or the idle timeout if shorter: a client that reads
 * nothing completes no line either. */
long long
session_write_deadline(const struct server_opts *o)
{
	int sec = o->write_timeout;

	if (o->idle_timeout > 0 && (sec == 0 || o->idle_timeout < sec))
		sec = o->idle_timeout;
	return sec > 0 ? clock_ms() + 1000LL * sec : 0;
}

/* Send what the session has to say, by the write deadline; NULL, or why
 * the session ends. */
static const char *
write_all(int fd, struct session *s, const struct server_opts *o)
{
	const char *p;
	size_t n;

	if ((p = session_output(s, &n)) == NULL)
		return NULL;
	/* A client that never reads gets --write-timeout to take its
	 * replies, and cannot pin the session longer. */
	if (session_write_by(fd, p, n, session_write_deadline(o)) == -1)
		return errno == EAGAIN ? "client not reading" :
		    errno == EINTR ? "shutdown" : strerror(errno);
	session_sent(s, n, clock_ms());
	return NULL;
}

/* Wait for input by the idle deadline and feed it; NULL, or why the
 * session ends. */
static const char *
read_some(int fd, struct session *s, char *in, size_t len)
{
	ssize_t r;
	int w;

	if ((w = session_wait_input(fd, session_deadline(s))) <= 0) {
		if (w == 0 && session_tick(s, clock_ms()))
			return s->why;
		return w == 0 ? NULL : "shutdown";
	}
	if ((r = net_read(fd, in, len)) == -1)
		return strerror(errno);
	if (r == 0)
		session_eof(s);
	else
		session_input(s, in, (size_t)r, clock_ms());
	return NULL;
}

/* The blocking driver of the session core (session.h). */
void
session_run(int fd, const char *addr, const struct server_opts *o)
{
	char in[16384];
	struct session s;
	const char *why = NULL;
	int want;

	session_init(&s, o, addr, clock_ms());
	/*
	 * All replies to one read leave in one write, and Nagle is off: a
	 * second small write would otherwise wait for the ACK of the first,
	 * which the client's delayed ACK holds back ~40 ms.
	 */
	if (net_nodelay(fd, 1) == -1 && errno != EOPNOTSUPP)
		log_err("TCP_NODELAY: %s", strerror(errno));
	while (why == NULL) {
		want = session_next(&s);
		if (want & SESSION_WRITE)
			why = write_all(fd, &s, o);
		else if (want & SESSION_READ)
			why = read_some(fd, &s, in, sizeof(in));
		else if (want & SESSION_PROBE)
			session_probe(&s, session_peer_readable(fd));
		else {
			if (want & SESSION_LINGER)
				session_linger(fd, in, sizeof(in));
			break;
		}
	}
	session_end(&s, why);
}

int
server_serial(int lfd, const struct server_opts *o, server_conn_fn *serve)
{
	char addr[NET_ADDR_LEN];
	int fd, rc;

	if (server_ready(lfd, o) == -1) {
		close(lfd);
		return -1;
	}
	/* Nobody accepts while a client is served: refuse new ones at the
	 * stop from the signal handler. */
	server_refuse_on_stop(lfd);
	while ((rc = server_wait_accept(lfd)) == 1) {
		if ((fd = server_accept(lfd, 0, addr, sizeof(addr))) == -1)
			continue;
		serve(fd, addr, o);
		close(fd);
	}
	server_refuse_on_stop(-1);
	close(lfd);
	if (rc == -1) {
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
server_busy(int fd)
{
	static const char msg[] = "ERR server busy\n";

	/* Best effort and never blocking: the client is not served anyway. */
	(void)send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}
