/*
 * fork.c - one child process per connection (UNP serv01).
 *
 * The parent only accepts and forks; it closes its copy of the connected
 * socket at once, or the client would never see the connection end.
 * SIGCHLD reaps every child as it exits, so no zombie outlives a moment.
 */
#define _GNU_SOURCE		/* prctl, ppoll */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"

int	serve_fork(int, const struct server_opts *);

static volatile sig_atomic_t children;

static void
on_child(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		children--;
	errno = saved;
}

static int
catch_children(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_child;
	/* SA_RESTART: a child's exit must not look like a stop request. */
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	return sigaction(SIGCHLD, &sa, NULL);
}

static void
child(int lfd, int fd, const char *addr, const struct server_opts *o,
    pid_t parent)
{
	struct sigaction sa;

	close(lfd);
	/* Never outlive the parent, even if it is killed with SIGKILL. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	/*
	 * The parent owns shutdown, as prefork's does.  Ctrl-C, and a
	 * SIGTERM to the whole process group (timeout(1), systemd's
	 * KillMode=control-group, kill -- -PGID), reach us too: ignore both,
	 * so that the session drains.  The parent's exit at the end of the
	 * drain ends us (PR_SET_PDEATHSIG).
	 */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		_exit(1);
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		_exit(1);
	session_run(fd, addr, o);
	close(fd);
	_exit(0);
}

/* Let children end until the drain time is over; the rest die with us
 * (PR_SET_PDEATHSIG). */
static void
drain(void)
{
	struct timespec tick = { 0, 100000000 };
	sigset_t old;

	/* The stop signals come in only inside the ppoll(). */
	if (server_block_stops(&old) == -1)
		return;
	while (children > 0 && server_stop < 2)
		if (ppoll(NULL, 0, &tick, &old) == -1 && errno != EINTR)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
serve_fork(int lfd, const struct server_opts *o)
{
	char addr[NET_ADDR_LEN];
	pid_t pid, parent = getpid();
	sigset_t chld, old;
	int fd, rc, err;

	if (catch_children() == -1) {
		log_err("sigaction: %s", strerror(errno));
		close(lfd);
		return -1;
	}
	if (server_ready(lfd, o) == -1) {
		close(lfd);
		return -1;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while ((rc = server_wait_accept(lfd)) == 1) {
		if ((fd = server_accept(lfd, 0, addr, sizeof(addr))) == -1)
			continue;
		if (o->max_clients > 0 && children >= o->max_clients) {
			server_busy(fd);
			continue;
		}
		/* The count is shared with the SIGCHLD handler: keep it
		 * out while we change it. */
		sigprocmask(SIG_BLOCK, &chld, &old);
		if ((pid = fork()) == 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			child(lfd, fd, addr, o, parent);
		}
		err = errno;
		if (pid != -1)
			children++;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pid == -1) {
			server_busy(fd);
			server_backoff("fork", err);
			continue;
		}
		close(fd);
	}
	close(lfd);
	if (rc == -1) {
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	drain();
	return 0;
}
