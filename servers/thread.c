/*
 * thread.c - one thread per connection (UNP serv06).
 *
 * The main thread accepts; each session gets a detached thread with a
 * small stack.  A count under a mutex enforces --max-clients, and lets
 * the main thread wait for sessions to drain at shutdown.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"

/* session_run keeps a 16 KiB read buffer on the stack; 128 KiB is ample
 * and lets 10,000 sessions live in about 1.3 GB of address space. */
#define STACK_SIZE	(128 * 1024)

int	serve_thread(int, const struct server_opts *);

struct job {
	int			 fd;
	const struct server_opts *o;
	char			 addr[NET_ADDR_LEN];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static int active;

static void *
worker(void *arg)
{
	struct job *j = arg;

	session_run(j->fd, j->addr, j->o);
	close(j->fd);
	free(j);
	pthread_mutex_lock(&lock);
	if (--active == 0)
		pthread_cond_signal(&idle);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Reserve a place for one more session, or say there is none. */
static int
admit(const struct server_opts *o)
{
	int ok;

	pthread_mutex_lock(&lock);
	ok = o->max_clients == 0 || active < o->max_clients;
	if (ok)
		active++;
	pthread_mutex_unlock(&lock);
	return ok;
}

static void
release(void)
{
	pthread_mutex_lock(&lock);
	active--;
	pthread_mutex_unlock(&lock);
}

static int
spawn(pthread_attr_t *attr, int fd, const char *addr,
    const struct server_opts *o)
{
	struct job *j;
	pthread_t t;
	int rc;

	if ((j = malloc(sizeof(*j))) == NULL)
		return ENOMEM;
	j->fd = fd;
	j->o = o;
	strcpy(j->addr, addr);
	if ((rc = pthread_create(&t, attr, worker, j)) != 0)
		free(j);
	return rc;
}

/* Wait for sessions to end until the drain time is over. */
static void
drain(void)
{
	struct timespec ts;

	pthread_mutex_lock(&lock);
	while (active > 0 && server_stop < 2) {
		/* The signal that ends the drain cannot signal a condition
		 * variable, so look at the flag every 100 ms. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&idle, &lock, &ts);
	}
	pthread_mutex_unlock(&lock);
}

int
serve_thread(int lfd, const struct server_opts *o)
{
	char addr[NET_ADDR_LEN];
	pthread_attr_t attr;
	sigset_t stop, old;
	int fd, rc;

	if ((rc = pthread_attr_init(&attr)) != 0 ||
	    (rc = pthread_attr_setstacksize(&attr, STACK_SIZE)) != 0 ||
	    (rc = pthread_attr_setdetachstate(&attr,
	    PTHREAD_CREATE_DETACHED)) != 0) {
		log_err("pthread_attr: %s", strerror(rc));
		close(lfd);
		return -1;
	}
	if (server_ready(lfd, o) == -1) {
		pthread_attr_destroy(&attr);
		close(lfd);
		return -1;
	}
	/* Sessions run with the stop signals blocked, so that they always
	 * reach the main thread, which owns the shutdown. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGALRM);
	while ((rc = server_wait_accept(lfd)) == 1) {
		if ((fd = server_accept(lfd, 0, addr, sizeof(addr))) == -1)
			continue;
		if (!admit(o)) {
			server_busy(fd);
			continue;
		}
		pthread_sigmask(SIG_BLOCK, &stop, &old);
		rc = spawn(&attr, fd, addr, o);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			release();
			server_busy(fd);
			server_backoff("cannot start a thread", rc);
		}
	}
	close(lfd);
	pthread_attr_destroy(&attr);
	if (rc == -1) {
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	drain();
	return 0;
}
