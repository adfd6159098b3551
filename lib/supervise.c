/*
 * supervise.c - the parent of N worker processes (supervise.h).
 *
 * The parent's signals arrive only inside ppoll(), so that none is lost
 * between looking at the flags and going to sleep; workers are forked
 * with them blocked and install their own handlers first.
 */
#define _GNU_SOURCE		/* ppoll */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "supervise.h"

#define RESTART_GAP_MS	1000	/* a slot forks at most once a second */
#define KILL_GRACE_MS	1000	/* after the drain, then SIGKILL */

struct slot {
	pid_t		 pid;		/* running worker, or 0 */
	pid_t		 last;		/* the latest worker, for the report */
	long long	 started;	/* ms, when the slot last forked */
	unsigned	 restarts;
	_Atomic unsigned long sessions;	/* counted by the slot's workers */
};

/*
 * In one anonymous MAP_SHARED mapping, made before the first fork, so
 * that the parent sees the counts its workers keep.
 */
struct sup {
	const struct sup_ops *ops;
	void		*arg;
	int		 nslots;
	struct slot	 slot[];
};

static size_t
sup_size(int n)
{
	return offsetof(struct sup, slot) + (size_t)n * sizeof(struct slot);
}

struct sup *
sup_new(int n, const struct sup_ops *ops, void *arg)
{
	struct sup *p;
	int i;

	p = mmap(NULL, sup_size(n), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_err("mmap: %s", strerror(errno));
		return NULL;
	}
	memset(p, 0, sup_size(n));
	p->ops = ops;
	p->arg = arg;
	p->nslots = n;
	for (i = 0; i < n; i++)
		atomic_init(&p->slot[i].sessions, 0);
	return p;
}

void
sup_free(struct sup *p)
{
	if (p != NULL)
		munmap(p, sup_size(p->nslots));
}

static void __attribute__((noreturn))
worker(struct sup *p, int i, pid_t parent, const sigset_t *mask)
{
	if (server_worker_signals(parent, mask) == -1) {
		log_err("worker %d: signals: %s", i, strerror(errno));
		_exit(1);
	}
	server_count_into(&p->slot[i].sessions);
	_exit(p->ops->work(i, p->arg));
}

static void
on_sigchld(int sig)
{
	(void)sig;	/* only to interrupt ppoll() */
}

static int
live(const struct sup *p)
{
	int i, n = 0;

	for (i = 0; i < p->nslots; i++)
		if (p->slot[i].pid != 0)
			n++;
	return n;
}

static void
signal_all(const struct sup *p, int sig)
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

/* Reap every worker that has ended; flags 0 waits for one. */
static void
reap(struct sup *p, int flags, int stopping)
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

/* Fork slot i's worker; 0, or -1 after logging. */
static int
fork_slot(struct sup *p, int i, const sigset_t *mask)
{
	pid_t pid, parent = getpid();

	if (p->ops->prepare != NULL && p->ops->prepare(i, p->arg) == -1)
		return -1;
	if ((pid = fork()) == 0)
		worker(p, i, parent, mask);
	if (pid == -1)
		log_err("fork: %s", strerror(errno));
	if (p->ops->forked != NULL)
		p->ops->forked(i, p->arg);
	if (pid == -1)
		return -1;
	p->slot[i].pid = p->slot[i].last = pid;
	return 0;
}

/*
 * Fork a worker for every empty slot whose last fork is a second old.
 * Returns the ms until the next slot may fork, or -1 if none waits.
 */
static int
spawn(struct sup *p, const sigset_t *mask)
{
	struct slot *s;
	long long now = clock_ms(), wait = -1, due;
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
		if (fork_slot(p, i, mask) == -1 &&
		    (wait == -1 || RESTART_GAP_MS < wait))
			wait = RESTART_GAP_MS;
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

/* Let workers end their sessions until the drain is over; then end
 * them, and reap them all. */
static void
stop_all(struct sup *p, const sigset_t *mask)
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
report(struct sup *p, const struct server_opts *o)
{
	struct slot *s;
	unsigned long n;
	int i;

	if (o->quiet)
		return;
	for (i = 0; i < p->nslots; i++) {
		s = &p->slot[i];
		n = atomic_load(&s->sessions);
		if (s->restarts == 0)
			log_out("worker %d (pid %d): %lu session%s", i,
			    (int)s->last, n, n == 1 ? "" : "s");
		else
			log_out("worker %d (pid %d): %lu session%s, %u "
			    "restart%s", i, (int)s->last, n, n == 1 ? "" : "s",
			    s->restarts, s->restarts == 1 ? "" : "s");
	}
}

/* Until a stop: reap, report and restart the workers that die. */
static void
watch(struct sup *p, int wait, const sigset_t *mask)
{
	while (!server_stop) {
		pause_ms(wait, mask);
		reap(p, WNOHANG, 0);
		if (server_stop)
			break;
		wait = spawn(p, mask);
	}
}

int
sup_run(struct sup *p, int lfd, const struct server_opts *o)
{
	struct sigaction sa, oldsa;
	sigset_t block, old;
	int wait, rc;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGALRM);
	if (sigaction(SIGCHLD, &sa, &oldsa) == -1 ||
	    sigprocmask(SIG_BLOCK, &block, &old) == -1) {
		log_err("signals: %s", strerror(errno));
		close(lfd);
		return -1;
	}
	/* Every worker runs before the "listening on" line, or none. */
	wait = spawn(p, &old);
	if (live(p) < p->nslots) {
		log_err("cannot start the pool: %d of %d workers", live(p),
		    p->nslots);
		rc = -1;
	} else
		rc = server_ready(lfd, o);
	if (p->ops->announced != NULL) {
		p->ops->announced(lfd, p->arg);
		lfd = -1;
	}
	if (rc == 0)
		watch(p, wait, &old);
	if (lfd != -1) {
		if (shutdown(lfd, SHUT_RDWR) == -1)
			log_err("shutdown: %s", strerror(errno));
		close(lfd);
	}
	stop_all(p, &old);
	report(p, o);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGCHLD, &oldsa, NULL);
	return rc;
}
