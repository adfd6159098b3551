/*
 * unit-acceptlock - tests for the pools' accept lock (lib/acceptlock.c):
 * it excludes threads and processes, survives a child killed holding it,
 * and acceptlock_accept tells "none now" from "the listener is gone".
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "acceptlock.h"
#include "net.h"
#include "tap.h"

#define THREADS	4
#define ROUNDS	20000

static struct acceptlock *lock;
static int inside, overlaps;		/* under the lock only */

static void *
contend(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		if (acceptlock_wait(lock) == -1)
			return NULL;
		if (inside++ != 0)
			overlaps++;
		sched_yield();
		inside--;
		acceptlock_release(lock);
	}
	return NULL;
}

static void
threads_excluded(void)
{
	pthread_t t[THREADS];
	int i;

	inside = overlaps = 0;
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, contend, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	is(overlaps, 0, "%d threads, %d rounds each: never two inside",
	    THREADS, ROUNDS);
}

/* The lock is in shared memory: a child holding it keeps the parent out. */
static void
processes_excluded(void)
{
	int p[2], status;
	pid_t pid;
	char c;

	if (pipe(p) == -1) {
		ok(0, "pipe: %s", strerror(errno));
		return;
	}
	if ((pid = fork()) == 0) {
		(void)acceptlock_wait(lock);
		(void)write(p[1], "x", 1);
		pause();		/* killed holding the lock */
		_exit(0);
	}
	ok(read(p[0], &c, 1) == 1, "the child holds the lock");
	/* The mutex is the lock's first member (acceptlock.c). */
	ok(pthread_mutex_trylock((pthread_mutex_t *)(void *)lock) == EBUSY,
	    "so the parent cannot take it");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	is(acceptlock_wait(lock), 0,
	    "a child killed holding it: the next waiter gets it (robust)");
	acceptlock_release(lock);
	is(acceptlock_wait(lock), 0, "and it works as before after");
	acceptlock_release(lock);
	close(p[0]);
	close(p[1]);
}

static void
accept_outcomes(void)
{
	char addr[NET_ADDR_LEN], err[256], *port;
	int lfd, c, fd;

	lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 8, NET_NONBLOCK, err,
	    sizeof(err));
	if (lfd == -1) {
		ok(0, "listen: %s", err);
		return;
	}
	is(acceptlock_accept(lock, lfd, addr, sizeof(addr)), -1,
	    "no client yet: -1, none this time");
	(void)net_local_addr(lfd, addr, sizeof(addr));
	port = strrchr(addr, ':') + 1;
	c = net_connect("127.0.0.1", port, SOCK_STREAM, 1000, err,
	    sizeof(err));
	/* Connected: the handshake is done, the connection is queued. */
	fd = acceptlock_accept(lock, lfd, addr, sizeof(addr));
	ok(fd >= 0, "a client: its descriptor (%d)", fd);
	ok(strncmp(addr, "127.0.0.1:", 10) == 0, "and its address (%s)", addr);
	if (fd >= 0)
		close(fd);
	if (c >= 0)
		close(c);
	shutdown(lfd, SHUT_RDWR);
	is(acceptlock_accept(lock, lfd, addr, sizeof(addr)), -2,
	    "the listener shut down: -2, stop");
	is(acceptlock_accept(NULL, lfd, addr, sizeof(addr)), -2,
	    "the same without the lock");
	close(lfd);
}

int
main(void)
{
	if ((lock = acceptlock_new()) == NULL) {
		ok(0, "acceptlock_new");
		return done_testing();
	}
	threads_excluded();
	processes_excluded();
	accept_outcomes();
	acceptlock_free(lock);
	return done_testing();
}
