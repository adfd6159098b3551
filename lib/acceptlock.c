/*
 * acceptlock.c - one accept lock for process and thread pools.
 */
#define _DEFAULT_SOURCE		/* MAP_ANONYMOUS */
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "acceptlock.h"
#include "log.h"
#include "server.h"

struct acceptlock {
	pthread_mutex_t	 mu;
};

struct acceptlock *
acceptlock_new(void)
{
	pthread_mutexattr_t ma;
	struct acceptlock *l;
	int rc;

	/* Shared, so that the children forked after this see one lock. */
	l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l == MAP_FAILED) {
		log_err("accept lock: mmap: %s", strerror(errno));
		return NULL;
	}
	if ((rc = pthread_mutexattr_init(&ma)) != 0) {
		log_err("accept lock: %s", strerror(rc));
		munmap(l, sizeof(*l));
		return NULL;
	}
	if ((rc = pthread_mutexattr_setpshared(&ma,
	    PTHREAD_PROCESS_SHARED)) != 0 ||
	    (rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (rc = pthread_mutex_init(&l->mu, &ma)) != 0) {
		log_err("accept lock: %s", strerror(rc));
		pthread_mutexattr_destroy(&ma);
		munmap(l, sizeof(*l));
		return NULL;
	}
	pthread_mutexattr_destroy(&ma);
	return l;
}

void
acceptlock_free(struct acceptlock *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	munmap(l, sizeof(*l));
}

int
acceptlock_wait(struct acceptlock *l)
{
	int rc;

	/* A worker died in accept() holding the lock: it guarded nothing
	 * but the accept() itself, so the lock is consistent as it is. */
	if ((rc = pthread_mutex_lock(&l->mu)) == EOWNERDEAD)
		rc = pthread_mutex_consistent(&l->mu);
	if (rc != 0) {
		log_err("accept lock: %s", strerror(rc));
		return -1;
	}
	return 0;
}

void
acceptlock_release(struct acceptlock *l)
{
	(void)pthread_mutex_unlock(&l->mu);
}

int
acceptlock_accept(struct acceptlock *l, int lfd, char *addr, size_t addrlen)
{
	int fd, err = 0;

	if (l != NULL && acceptlock_wait(l) == -1)
		return -2;
	/* A stop may have come while we waited for the lock. */
	fd = server_stop ? -2 : server_accept(lfd, 0, addr, addrlen);
	if (fd == -1)
		err = errno;
	if (l != NULL)
		acceptlock_release(l);
	return fd == -1 && (err == EINVAL || err == EBADF) ? -2 : fd;
}
