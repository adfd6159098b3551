/*
 * acceptlock.h - the lock a pool's workers take around accept(), as
 * UNP's my_lock_init / my_lock_wait / my_lock_release, for processes
 * (prefork) and threads (prethread) alike.
 *
 * Behind it a process-shared robust pthread mutex in a shared anonymous
 * mapping, rather than fcntl() record locking on a file (UNP measures
 * both).  Uncontended it costs no system call, contended one futex call,
 * where fcntl() always enters the kernel and needs a file.  The one
 * thing fcntl() did better, releasing the lock of a process that dies
 * holding it, a robust mutex does too: the next locker gets EOWNERDEAD.
 * That matters, since the child holding the lock sits in accept() and is
 * the very one a SIGKILL may hit.  Make it before the first fork.
 */
#ifndef SOCKLAB_ACCEPTLOCK_H
#define SOCKLAB_ACCEPTLOCK_H

#include <stddef.h>

struct acceptlock;

/* NULL after logging why. */
struct acceptlock	*acceptlock_new(void);
void			 acceptlock_free(struct acceptlock *);
/* 0, or -1 after logging why (the lock is broken: stop the worker). */
int	acceptlock_wait(struct acceptlock *);
void	acceptlock_release(struct acceptlock *);

/*
 * A worker's next connection: accept() on lfd through server_accept(),
 * under lock unless it is NULL.  Returns the connection, -1 for none this
 * time, -2 when the listening socket was shut down (EINVAL, EBADF: how
 * the parent or the main thread says stop) or the lock broke.
 */
int	acceptlock_accept(struct acceptlock *, int lfd, char *addr,
	    size_t addrlen);

#endif
