/*
 * prefork.c - a pool of N child processes, each blocking in accept() on
 * the one listening socket they share (UNP serv02), with --accept-lock
 * to put a lock around accept() (serv03/serv04).
 *
 * A child serves one session at a time, so at most N sessions run at
 * once: the others wait in the kernel's listen queue, as with the
 * iterative server, and nobody is told "busy".  --max-clients M below N
 * only means fewer children: min(N, M) are started.
 *
 * The thundering herd: Stevens saw every child blocked in accept() woken
 * for each connection.  Linux wakes only one of them (the accept wait is
 * exclusive), so on this kernel the lock mostly costs what it adds; it is
 * kept to measure exactly that, and because with a poll() before accept()
 * (or on other systems) the herd is real.
 *
 * The parent does no I/O.  It forks the children (all of them before
 * the "listening on" line: if one cannot be forked, the server exits 1
 * without announcing, as every pool does), reaps them, starts a
 * new one when one dies (each slot at most once a second, so a child that
 * dies at once cannot make a fork loop), and owns the shutdown:
 *
 *   SIGTERM/SIGINT   the parent shuts the listening socket down, which
 *                    wakes every child in accept() with EINVAL and refuses
 *                    new clients (closing the parent's copy would not: the
 *                    children's copies keep it listening), then sends each
 *                    child SIGTERM.  A child ends its current session and
 *                    exits.  Children ignore SIGINT: Ctrl-C reaches the
 *                    whole process group and the parent decides.
 *   drain over       the drain alarm rings in the parent only; it passes it
 *                    on as SIGALRM, on which a child ends its session at
 *                    once (shutdown() of the connection, from the handler:
 *                    no race with a poll() about to start).  A child still
 *                    there a second later gets SIGKILL.
 *
 * Every child is reaped before serve_prefork() returns, and dies with the
 * parent even if the parent is killed (PR_SET_PDEATHSIG).  On exit the
 * parent prints how many sessions each child served (UNP's "connections
 * served per child"), unless --quiet.
 */
#define _GNU_SOURCE		/* prctl, ppoll */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acceptlock.h"
#include "clock.h"
#include "log.h"
#include "net.h"
#include "server.h"

#define RESTART_GAP_MS	1000	/* a slot forks at most once a second */
#define KILL_GRACE_MS	1000	/* after the drain, then SIGKILL */

int	serve_prefork(int, const struct server_opts *);

struct slot {
	pid_t		 pid;		/* running child, or 0 */
	pid_t		 last;		/* the latest child, for the report */
	long long	 started;	/* ms, when the slot last forked */
	unsigned	 restarts;
	unsigned long	 sessions;	/* written by the slot's child only */
};

/*
 * In one anonymous MAP_SHARED mapping, made before the first fork, so
 * that the parent sees the counts its children keep.
 */
struct slots {
	struct acceptlock *lock;	/* --accept-lock, else NULL */
	int		 nslots;
	struct slot	 slot[];
};

/* The child's session, for its SIGALRM handler. */
static volatile sig_atomic_t session_fd = -1;

static size_t
slots_size(int n)
{
	return offsetof(struct slots, slot) + (size_t)n * sizeof(struct slot);
}

static struct slots *
slots_create(int n, int locked)
{
	struct slots *p;

	p = mmap(NULL, slots_size(n), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_err("mmap: %s", strerror(errno));
		return NULL;
	}
	memset(p, 0, slots_size(n));
	p->nslots = n;
	if (locked && (p->lock = acceptlock_new()) == NULL) {
		munmap(p, slots_size(n));
		return NULL;
	}
	return p;
}

static void
free_slots(struct slots *p)
{
	acceptlock_free(p->lock);
	munmap(p, slots_size(p->nslots));
}

/* ---- the child ---- */

static void
on_child_signal(int sig)
{
	int saved = errno;

	if (sig == SIGALRM) {
		/* The parent's drain time is over: end the session now. */
		server_stop = 2;
		if (session_fd != -1)
			(void)shutdown(session_fd, SHUT_RDWR);
	} else if (server_stop == 0)
		server_stop = 1;
	errno = saved;
}

static int
child_signals(const sigset_t *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must interrupt accept() and poll(). */
	sa.sa_handler = on_child_signal;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGALRM, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		return -1;
	return sigprocmask(SIG_SETMASK, mask, NULL);
}

static void __attribute__((noreturn))
child(struct slots *p, int i, int lfd, const struct server_opts *o,
    pid_t parent, const sigset_t *mask)
{
	char addr[NET_ADDR_LEN];
	int fd;

	/* Never outlive the parent, even if it is killed with SIGKILL. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	if (child_signals(mask) == -1) {
		log_err("worker %d: signals: %s", i, strerror(errno));
		_exit(1);
	}
	for (;;) {
		if (server_stop)
			break;
		fd = acceptlock_accept(p->lock, lfd, addr, sizeof(addr));
		if (fd == -2)
			break;
		if (fd == -1)
			continue;
		/* Accepted, so served, even if a stop came meanwhile. */
		p->slot[i].sessions++;
		session_fd = fd;
		session_run(fd, addr, o);
		session_fd = -1;
		close(fd);
	}
	_exit(0);
}

/* ---- the parent ---- */

static void
on_sigchld(int sig)
{
	(void)sig;	/* only to interrupt ppoll() */
}

static int
live(const struct slots *p)
{
	int i, n = 0;

	for (i = 0; i < p->nslots; i++)
		if (p->slot[i].pid != 0)
			n++;
	return n;
}

static void
signal_all(const struct slots *p, int sig)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (p->slot[i].pid != 0 && kill(p->slot[i].pid, sig) == -1 &&
		    errno != ESRCH)
			log_err("kill %d: %s", (int)p->slot[i].pid,
			    strerror(errno));
}

static void
report_death(int i, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_err("worker %d (pid %d) killed by signal %d; starting "
		    "another", i, (int)pid, WTERMSIG(status));
	else
		log_err("worker %d (pid %d) exited with status %d; starting "
		    "another", i, (int)pid, WEXITSTATUS(status));
}

/* Reap every child that has ended; flags 0 waits for one. */
static void
reap(struct slots *p, int flags, int stopping)
{
	pid_t pid;
	int i, status;

	while ((pid = waitpid(-1, &status, flags)) > 0) {
		for (i = 0; i < p->nslots; i++) {
			if (p->slot[i].pid != pid)
				continue;
			p->slot[i].pid = 0;
			if (!stopping)
				report_death(i, pid, status);
			break;
		}
		flags |= WNOHANG;
	}
	if (pid == -1 && errno == ECHILD)
		for (i = 0; i < p->nslots; i++)
			p->slot[i].pid = 0;	/* none left, whatever we thought */
	else if (pid == -1 && errno != EINTR)
		log_err("waitpid: %s", strerror(errno));
}

/*
 * Fork a child for every empty slot whose last fork is a second old.
 * Returns the ms until the next slot may fork, or -1 if none waits.
 */
static int
spawn(struct slots *p, int lfd, const struct server_opts *o,
    const sigset_t *mask)
{
	struct slot *s;
	long long now = clock_ms(), wait = -1, due;
	pid_t pid, parent = getpid();
	int i;

	for (i = 0; i < p->nslots; i++) {
		s = &p->slot[i];
		if (s->pid != 0)
			continue;
		due = s->started ? s->started + RESTART_GAP_MS : 0;
		if (now < due) {
			if (wait == -1 || due - now < wait)
				wait = due - now;
			continue;
		}
		if (s->started)
			s->restarts++;
		s->started = now;
		if ((pid = fork()) == 0)
			child(p, i, lfd, o, parent, mask);
		if (pid == -1) {
			log_err("fork: %s", strerror(errno));
			if (wait == -1 || RESTART_GAP_MS < wait)
				wait = RESTART_GAP_MS;
			continue;
		}
		s->pid = s->last = pid;
	}
	return (int)wait;
}

/* Sleep until a signal, or ms (-1: no limit). */
static void
pause_ms(int ms, const sigset_t *mask)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	if (ppoll(NULL, 0, ms < 0 ? NULL : &ts, mask) == -1 && errno != EINTR)
		log_err("ppoll: %s", strerror(errno));
}

/* Let children end their sessions until the drain is over; then end
 * them, and reap them all. */
static void
stop_all(struct slots *p, const sigset_t *mask)
{
	long long deadline, left;

	signal_all(p, SIGTERM);
	while (live(p) > 0 && server_stop < 2) {
		pause_ms(-1, mask);
		reap(p, WNOHANG, 1);
	}
	if (live(p) == 0)
		return;
	signal_all(p, SIGALRM);
	deadline = clock_ms() + KILL_GRACE_MS;
	/* One clock read per turn, clamped: a remainder read twice can
	 * come out negative, and pause_ms(-1) would wait for ever. */
	while (live(p) > 0 && (left = deadline - clock_ms()) > 0) {
		pause_ms(left > KILL_GRACE_MS ? KILL_GRACE_MS : (int)left,
		    mask);
		reap(p, WNOHANG, 1);
	}
	if (live(p) == 0)
		return;
	signal_all(p, SIGKILL);
	while (live(p) > 0)
		reap(p, 0, 1);
}

static void
report(const struct slots *p, const struct server_opts *o)
{
	const struct slot *s;
	int i;

	if (o->quiet)
		return;
	for (i = 0; i < p->nslots; i++) {
		s = &p->slot[i];
		if (s->restarts == 0)
			log_out("worker %d (pid %d): %lu session%s", i,
			    (int)s->last, s->sessions,
			    s->sessions == 1 ? "" : "s");
		else
			log_out("worker %d (pid %d): %lu session%s, %u "
			    "restart%s", i, (int)s->last, s->sessions,
			    s->sessions == 1 ? "" : "s", s->restarts,
			    s->restarts == 1 ? "" : "s");
	}
}

int
serve_prefork(int lfd, const struct server_opts *o)
{
	struct sigaction sa, oldsa;
	sigset_t block, old;
	struct slots *p;
	int n = o->workers, wait, rc;

	if (o->max_clients > 0 && o->max_clients < n)
		n = o->max_clients;
	if ((p = slots_create(n, o->accept_lock)) == NULL) {
		close(lfd);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	/*
	 * The parent's signals arrive only inside ppoll(), so that none is
	 * lost between looking at the flags and going to sleep; children
	 * are forked with them blocked and install their own handlers first.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGALRM);
	if (sigaction(SIGCHLD, &sa, &oldsa) == -1 ||
	    sigprocmask(SIG_BLOCK, &block, &old) == -1) {
		log_err("signals: %s", strerror(errno));
		free_slots(p);
		close(lfd);
		return -1;
	}
	/* Every worker runs before the "listening on" line, or none. */
	wait = spawn(p, lfd, o, &old);
	if (live(p) < n) {
		log_err("cannot start the pool: %d of %d workers", live(p), n);
		rc = -1;
	} else
		rc = server_ready(lfd, o);
	while (rc == 0 && !server_stop) {
		pause_ms(wait, &old);
		reap(p, WNOHANG, 0);
		if (server_stop)
			break;
		wait = spawn(p, lfd, o, &old);
	}
	if (shutdown(lfd, SHUT_RDWR) == -1)
		log_err("shutdown: %s", strerror(errno));
	close(lfd);
	stop_all(p, &old);
	report(p, o);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGCHLD, &oldsa, NULL);
	free_slots(p);
	return rc;
}
