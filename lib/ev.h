/*
 * ev.h - a small event loop, in the manner of Redis ae.c.
 *
 * Interest in a descriptor being readable or writable, one callback per
 * descriptor, one-shot timers, run and stop.  What the loop polls with
 * (epoll on Linux) stays inside ev.c: the code above it only sees
 * EV_READ and EV_WRITE.  Level-triggered: a descriptor left readable is
 * reported again on the next turn, so a callback may stop early (for
 * fairness) without losing anything.  One loop belongs to one thread.
 */
#ifndef SOCKLAB_EV_H
#define SOCKLAB_EV_H

#include <signal.h>
#include <stddef.h>

#define EV_READ		0x1
#define EV_WRITE	0x2

struct ev_loop;
struct ev_timer;

/* ready: the events among the descriptor's interest that occurred.  An
 * error or hang-up is reported as both, so that the next read() or
 * write() finds out which. */
typedef void	ev_io_fn(struct ev_loop *, int fd, int ready, void *arg);
typedef void	ev_timer_fn(struct ev_loop *, struct ev_timer *, void *arg);

/* A timer is storage of the caller's; the loop links it while armed, so
 * arming one never allocates. */
struct ev_timer {
	long long	 when;		/* ev_now() time it is due */
	ev_timer_fn	*fn;
	void		*arg;
	struct ev_timer	*prev, *next;
	int		 armed;
};

/* NULL with a message in err on failure. */
struct ev_loop	*ev_create(char *err, size_t errlen);
/* Frees the loop, not the descriptors it watched: they are the caller's. */
void		 ev_free(struct ev_loop *);

/*
 * Watch fd for mask (EV_READ | EV_WRITE, or 0 for none yet) and call fn
 * with arg.  ev_modify changes the interest of a watched fd; ev_remove
 * forgets it (call it before close()).  0, or -1 with errno.
 */
int	ev_add(struct ev_loop *, int fd, int mask, ev_io_fn *fn, void *arg);
int	ev_modify(struct ev_loop *, int fd, int mask);
int	ev_remove(struct ev_loop *, int fd);
/* The interest of fd, 0 if not watched. */
int	ev_mask(const struct ev_loop *, int fd);

/* Timers fire once, ms (at least 1) after ev_now(); the callback may
 * start the timer again.  Starting an armed timer moves it. */
void	ev_timer_init(struct ev_timer *, ev_timer_fn *fn, void *arg);
void	ev_timer_start(struct ev_loop *, struct ev_timer *, long long ms);
void	ev_timer_stop(struct ev_loop *, struct ev_timer *);

/* Monotonic milliseconds, as of the last return from the poll: cheap
 * enough to read for every request. */
long long	ev_now(const struct ev_loop *);

/* Dispatch events until ev_stop(); 0, or -1 with errno if the poll
 * failed. */
int	ev_run(struct ev_loop *);
void	ev_stop(struct ev_loop *);

/* While the loop sleeps, and only then, the thread's signal mask is
 * *mask (epoll_pwait): a caller that blocks its signals otherwise takes
 * them only there.  Without it, the mask stays as it is. */
void	ev_sigmask(struct ev_loop *, const sigset_t *mask);

#endif
