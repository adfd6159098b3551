#define _GNU_SOURCE		/* signalfd */
/*
 * loadgen_procs.c - --procs N: the run shared out over N processes, as
 * one run.
 *
 * One process holds at most RLIMIT_NOFILE sessions (20,000 here, and the
 * hard limit cannot be raised), so more need more processes, as nginx's
 * workers do on the other side.  The parent forks N parts after parsing
 * the options; each takes its share of the sessions, the rates and -n,
 * sets itself up, says it is ready on a pipe and waits on another; when
 * all are ready the parent writes one byte for each, so they start
 * together.  Each part writes its JSON; the parent reaps them all and
 * merges the JSON with loadgen merge (loadgen_merge.c), which adds the
 * histograms and the counts: the percentiles are one histogram's.
 * A part that dies, or exits before the start, stops the others and fails
 * the run; Ctrl-C or SIGTERM stops every part, whose partial figures are
 * merged and reported as interrupted.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loadgen.h"

struct parts {
	int		 n;
	pid_t		*pid;		/* 0: reaped */
	char		**path;		/* each part's JSON */
	char		 dir[PATH_MAX];	/* temporary, without --json */
	int		 ready_fd, go_fd, sig_fd;
	int		 nready, live, started, failed, interrupted;
};

static char prog[32];

/* Part i of n: its sessions, rates, -n; quiet, its JSON to path. */
static void
share(struct opts *o, int i, int n, char *path)
{
	int all = o->sessions, per = all / n, rest = all % n;
	double frac;

	o->sessions = per + (i < rest);
	o->session_base = (uint32_t)(i * per + (i < rest ? i : rest));
	frac = (double)o->sessions / all;
	o->rate *= frac;
	o->connect_rate *= frac;
	if (o->total != 0)
		o->total = o->total / (uint64_t)n + ((uint64_t)i <
		    o->total % (uint64_t)n);
	if (o->threads > o->sessions)
		o->threads = o->sessions;
	o->json = path;
	o->quiet = 1;
	o->csv = 0;
	o->progress = 0;
	o->procs = 1;
	snprintf(prog, sizeof(prog), "loadgen[%d]", i + 1);
	log_setprog(prog);
}

/* A part, set up: say so, and wait for the start (EOF: the run is off). */
void
procs_ready(struct opts *o)
{
	char c = 'r';
	ssize_t n;

	if (o->go_fd == -1)
		return;
	while ((n = write(o->ready_fd, &c, 1)) == -1 && errno == EINTR)
		;
	if (n != 1)
		exit(1);
	while ((n = read(o->go_fd, &c, 1)) == -1 && errno == EINTR)
		;
	if (n != 1)
		exit(1);	/* the parent stopped the run, and said why */
	if (close(o->go_fd) == -1 || close(o->ready_fd) == -1)
		die(1, "close: %s", strerror(errno));
	o->go_fd = o->ready_fd = -1;
}

static void
stop_all(struct parts *p)
{
	int i;

	if (p->go_fd != -1) {
		if (close(p->go_fd) == -1)
			log_err("close: %s", strerror(errno));
		p->go_fd = -1;
	}
	for (i = 0; i < p->n; i++)
		if (p->pid[i] != 0 && kill(p->pid[i], SIGTERM) == -1 &&
		    errno != ESRCH)
			log_err("kill %ld: %s", (long)p->pid[i],
			    strerror(errno));
}

/* Part i ended with st: a failure unless it ran and exited 0 or 1. */
static void
judge(struct parts *p, int i, pid_t pid, int st)
{
	char why[64];

	if (p->failed || (p->interrupted && !p->started))
		return;
	if (WIFSIGNALED(st))
		snprintf(why, sizeof(why), "was killed by signal %d",
		    WTERMSIG(st));
	else if (!p->started)
		snprintf(why, sizeof(why), "exited with status %d before "
		    "the start", WEXITSTATUS(st));
	else if (WEXITSTATUS(st) > 1)
		snprintf(why, sizeof(why), "exited with status %d",
		    WEXITSTATUS(st));
	else
		return;
	log_err("process %d of %d (pid %ld) %s: stopping the others, no "
	    "result", i + 1, p->n, (long)pid, why);
	p->failed = 1;
	stop_all(p);
}

static void
reap(struct parts *p)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < p->n && p->pid[i] != pid; i++)
			;
		if (i == p->n)
			continue;
		p->pid[i] = 0;
		p->live--;
		judge(p, i, pid, st);
	}
	if (pid == -1 && errno != ECHILD)
		die(1, "waitpid: %s", strerror(errno));
}

static void
on_signal(struct parts *p)
{
	struct signalfd_siginfo si;
	ssize_t n;

	while ((n = read(p->sig_fd, &si, sizeof(si))) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(si))
		die(1, "signalfd: %s", n == -1 ? strerror(errno) : "short");
	if (si.ssi_signo == SIGCHLD) {
		reap(p);
		return;
	}
	p->interrupted = 1;
	stop_all(p);
}

/* Ready bytes from the parts; all there: one go byte each. */
static void
on_ready(struct parts *p)
{
	char buf[256];
	ssize_t n;
	int i;

	if ((n = read(p->ready_fd, buf, sizeof(buf))) == -1) {
		if (errno != EINTR && errno != EAGAIN)
			die(1, "read: %s", strerror(errno));
		return;
	}
	if (n == 0 || (p->nready += (int)n) < p->n || p->go_fd == -1)
		return;
	for (i = 0; i < p->n; i++)
		if (write(p->go_fd, "g", 1) != 1)
			die(1, "starting the parts: %s", strerror(errno));
	if (close(p->go_fd) == -1)
		die(1, "close: %s", strerror(errno));
	p->go_fd = -1;
	p->started = 1;
}

static void
supervise(struct parts *p)
{
	struct pollfd pfd[2];
	nfds_t nfd;

	while (p->live > 0) {
		pfd[0].fd = p->sig_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = p->ready_fd;
		pfd[1].events = POLLIN;
		nfd = p->started || p->failed || p->interrupted ? 1 : 2;
		if (poll(pfd, nfd, -1) == -1) {
			if (errno == EINTR)
				continue;
			die(1, "poll: %s", strerror(errno));
		}
		if (nfd == 2 && (pfd[1].revents & (POLLIN | POLLHUP)))
			on_ready(p);
		if (pfd[0].revents & POLLIN)
			on_signal(p);
	}
}

/* Where part i writes: FILE.i beside --json FILE, or a temporary dir. */
static void
part_paths(struct parts *p, const struct opts *o)
{
	const char *tmp = getenv("TMPDIR");
	size_t len;
	int i;

	if (o->json == NULL) {
		snprintf(p->dir, sizeof(p->dir), "%s/loadgen-XXXXXX",
		    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
		if (mkdtemp(p->dir) == NULL)
			die(1, "mkdtemp %s: %s", p->dir, strerror(errno));
	}
	for (i = 0; i < p->n; i++) {
		len = strlen(o->json ? o->json : p->dir) + 16;
		if ((p->path[i] = malloc(len)) == NULL)
			die(1, "out of memory");
		if (o->json != NULL)
			snprintf(p->path[i], len, "%s.%d", o->json, i + 1);
		else
			snprintf(p->path[i], len, "%s/%d.json", p->dir, i + 1);
		if (unlink(p->path[i]) == -1 && errno != ENOENT)
			die(1, "unlink %s: %s", p->path[i], strerror(errno));
	}
}

/* The parent's pipes and signals; SIGINT and SIGTERM are blocked. */
static void
setup(struct parts *p, int ready[2], int go[2], sigset_t *chld)
{
	sigset_t set;

	if (pipe2(ready, O_CLOEXEC) == -1 || pipe2(go, O_CLOEXEC) == -1)
		die(1, "pipe: %s", strerror(errno));
	sigemptyset(chld);
	sigaddset(chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, chld, NULL) == -1)
		die(1, "sigprocmask: %s", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if ((p->sig_fd = signalfd(-1, &set, SFD_CLOEXEC)) == -1)
		die(1, "signalfd: %s", strerror(errno));
}

/* In the child: its end of the pipes, its share; dies with the parent. */
static void
child(struct opts *o, struct parts *p, int i, int ready[2], int go[2],
    const sigset_t *chld, pid_t parent)
{
	if (close(ready[0]) == -1 || close(go[1]) == -1 ||
	    close(p->sig_fd) == -1)
		die(1, "close: %s", strerror(errno));
	if (sigprocmask(SIG_UNBLOCK, chld, NULL) == -1)
		die(1, "sigprocmask: %s", strerror(errno));
	/* SIGTERM is blocked: the run ends as after Ctrl-C, with figures. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		die(1, "prctl: %s", strerror(errno));
	if (getppid() != parent)
		exit(1);
	o->ready_fd = ready[1];
	o->go_fd = go[0];
	share(o, i, p->n, p->path[i]);
}

/* Every part left its JSON: merge them, as loadgen merge would. */
static int
merge_parts(const struct opts *o, struct parts *p)
{
	char **av = calloc((size_t)p->n + 6, sizeof(*av));
	struct stat sb;
	int ac = 0, i;

	if (av == NULL)
		die(1, "out of memory");
	for (i = 0; i < p->n; i++)
		if (stat(p->path[i], &sb) == -1 || sb.st_size == 0) {
			log_err("process %d of %d left no result (%s): no "
			    "merged result", i + 1, p->n, p->path[i]);
			free(av);
			return 1;
		}
	av[ac++] = "merge";
	if (o->json != NULL) {
		av[ac++] = "--json";
		av[ac++] = (char *)o->json;
	}
	if (o->csv)
		av[ac++] = "--csv";
	if (o->quiet)
		av[ac++] = "-q";
	for (i = 0; i < p->n; i++)
		av[ac++] = p->path[i];
	i = merge_main(ac, av);
	free(av);
	return i;
}

static void
cleanup(struct parts *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		if (p->dir[0] != '\0' && unlink(p->path[i]) == -1 &&
		    errno != ENOENT)
			log_err("unlink %s: %s", p->path[i], strerror(errno));
		free(p->path[i]);
	}
	if (p->dir[0] != '\0' && rmdir(p->dir) == -1)
		log_err("rmdir %s: %s", p->dir, strerror(errno));
	free(p->path);
	free(p->pid);
}

int
procs_run(struct opts *o, int *status)
{
	struct parts p;
	sigset_t chld;
	int ready[2], go[2], i;
	pid_t parent = getpid();

	memset(&p, 0, sizeof(p));
	p.n = o->procs;
	p.pid = calloc((size_t)p.n, sizeof(*p.pid));
	p.path = calloc((size_t)p.n, sizeof(*p.path));
	if (p.pid == NULL || p.path == NULL)
		die(1, "out of memory");
	part_paths(&p, o);
	setup(&p, ready, go, &chld);
	p.ready_fd = ready[0];
	p.go_fd = go[1];
	fflush(NULL);	/* nothing buffered is written twice */
	for (i = 0; i < p.n; i++) {
		if ((p.pid[i] = fork()) == -1) {
			log_err("fork: %s", strerror(errno));
			p.failed = 1;
			stop_all(&p);
			break;
		}
		if (p.pid[i] == 0) {
			child(o, &p, i, ready, go, &chld, parent);
			return 1;
		}
		p.live++;
	}
	if (close(ready[1]) == -1 || close(go[0]) == -1)
		die(1, "close: %s", strerror(errno));
	supervise(&p);
	if (close(p.sig_fd) == -1 || close(p.ready_fd) == -1)
		die(1, "close: %s", strerror(errno));
	*status = p.failed || !p.started ? 1 : merge_parts(o, &p);
	if (p.interrupted && !p.started)
		log_err("interrupted before the start");
	cleanup(&p);
	return 0;
}
