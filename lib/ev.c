/*
 * ev.c - the event loop of ev.h over Linux epoll (after Redis ae.c and
 * ae_epoll.c).
 *
 * Watched descriptors live in an array indexed by fd, grown on demand,
 * so looking up the callback of an event costs nothing.  Timers are a
 * short list kept in deadline order: a server arms a handful, not one
 * per session.
 */
#define _GNU_SOURCE		/* epoll */
#include <sys/epoll.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ev.h"

#define EV_MAXEVENTS	256	/* events taken per epoll_pwait */

struct ev_file {
	ev_io_fn	*fn;		/* NULL: not watched */
	void		*arg;
	int		 mask;
};

struct ev_loop {
	int			 epfd;
	struct ev_file		*files;
	int			 nfiles;
	struct epoll_event	 events[EV_MAXEVENTS];
	struct ev_timer		*timers;	/* earliest first */
	long long		 now;
	int			 stop;
	sigset_t		 sleep_mask;
	int			 has_mask;
};

struct ev_loop *
ev_create(char *err, size_t errlen)
{
	struct ev_loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "event loop: %s", strerror(errno));
		return NULL;
	}
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		free(l);
		return NULL;
	}
	l->now = clock_ms();
	return l;
}

void
ev_free(struct ev_loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	free(l->files);
	free(l);
}

/* Make files[fd] exist; the array doubles, so growth is rare. */
static int
grow(struct ev_loop *l, int fd)
{
	struct ev_file *f;
	int n;

	if (fd < l->nfiles)
		return 0;
	n = l->nfiles ? l->nfiles : 64;
	while (n <= fd) {
		if (n > INT_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		n *= 2;
	}
	if ((f = realloc(l->files, (size_t)n * sizeof(*f))) == NULL)
		return -1;
	memset(f + l->nfiles, 0, (size_t)(n - l->nfiles) * sizeof(*f));
	l->files = f;
	l->nfiles = n;
	return 0;
}

static int
watched(const struct ev_loop *l, int fd)
{
	return fd >= 0 && fd < l->nfiles && l->files[fd].fn != NULL;
}

/*
 * Bring the kernel's interest set to mask.  An fd with no interest is
 * taken out of epoll altogether, as ae does: epoll reports errors and
 * hang-ups even for an empty mask, and level-triggered that would spin.
 */
static int
apply(struct ev_loop *l, int fd, int old, int mask)
{
	struct epoll_event ee;
	int op;

	if (old == mask)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.data.fd = fd;
	ee.events = ((mask & EV_READ) ? EPOLLIN : 0) |
	    ((mask & EV_WRITE) ? EPOLLOUT : 0);
	op = old == 0 ? EPOLL_CTL_ADD : mask == 0 ? EPOLL_CTL_DEL :
	    EPOLL_CTL_MOD;
	return epoll_ctl(l->epfd, op, fd, &ee);
}

int
ev_add(struct ev_loop *l, int fd, int mask, ev_io_fn *fn, void *arg)
{
	if (fd < 0 || fn == NULL || watched(l, fd)) {
		errno = fd < 0 || fn == NULL ? EINVAL : EEXIST;
		return -1;
	}
	if (grow(l, fd) == -1 || apply(l, fd, 0, mask) == -1)
		return -1;
	l->files[fd].fn = fn;
	l->files[fd].arg = arg;
	l->files[fd].mask = mask;
	return 0;
}

int
ev_modify(struct ev_loop *l, int fd, int mask)
{
	if (!watched(l, fd)) {
		errno = ENOENT;
		return -1;
	}
	if (apply(l, fd, l->files[fd].mask, mask) == -1)
		return -1;
	l->files[fd].mask = mask;
	return 0;
}

int
ev_remove(struct ev_loop *l, int fd)
{
	int rc;

	if (!watched(l, fd)) {
		errno = ENOENT;
		return -1;
	}
	rc = apply(l, fd, l->files[fd].mask, 0);
	/* Forget it even if the kernel had already: the caller closes it. */
	memset(&l->files[fd], 0, sizeof(l->files[fd]));
	return rc;
}

int
ev_mask(const struct ev_loop *l, int fd)
{
	return watched(l, fd) ? l->files[fd].mask : 0;
}

void
ev_timer_init(struct ev_timer *t, ev_timer_fn *fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
}

void
ev_timer_stop(struct ev_loop *l, struct ev_timer *t)
{
	if (!t->armed)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->armed = 0;
}

void
ev_timer_start(struct ev_loop *l, struct ev_timer *t, long long ms)
{
	struct ev_timer *p, *prev = NULL;

	ev_timer_stop(l, t);
	/* At least 1 ms: a timer re-armed by its own callback must not run
	 * again in the same turn. */
	t->when = l->now + (ms > 0 ? ms : 1);
	for (p = l->timers; p != NULL && p->when <= t->when; p = p->next)
		prev = p;
	t->prev = prev;
	t->next = p;
	if (p)
		p->prev = t;
	if (prev)
		prev->next = t;
	else
		l->timers = t;
	t->armed = 1;
}

long long
ev_now(const struct ev_loop *l)
{
	return l->now;
}

void
ev_stop(struct ev_loop *l)
{
	l->stop = 1;
}

/* Milliseconds epoll may sleep: until the first timer, or for ever. */
static int
timeout(const struct ev_loop *l)
{
	long long left;

	if (l->timers == NULL)
		return -1;
	left = l->timers->when - clock_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static void
dispatch(struct ev_loop *l, const struct epoll_event *e)
{
	struct ev_file *f;
	int fd = e->data.fd, ready = 0;

	if (e->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		ready |= EV_READ;
	if (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		ready |= EV_WRITE;
	/*
	 * An earlier callback of this turn may have removed fd, or changed
	 * its interest; if fd was closed and reused since, the new owner
	 * gets a spurious wake-up, which a non-blocking socket shrugs off.
	 */
	if (!watched(l, fd))
		return;
	f = &l->files[fd];
	if ((ready &= f->mask) != 0)
		f->fn(l, fd, ready, f->arg);
}

static void
run_timers(struct ev_loop *l)
{
	struct ev_timer *t;

	while (!l->stop && (t = l->timers) != NULL && t->when <= l->now) {
		ev_timer_stop(l, t);
		t->fn(l, t, t->arg);
	}
}

void
ev_sigmask(struct ev_loop *l, const sigset_t *mask)
{
	l->sleep_mask = *mask;
	l->has_mask = 1;
}

int
ev_run(struct ev_loop *l)
{
	int i, n;

	l->stop = 0;
	l->now = clock_ms();
	while (!l->stop) {
		n = epoll_pwait(l->epfd, l->events, EV_MAXEVENTS, timeout(l),
		    l->has_mask ? &l->sleep_mask : NULL);
		if (n == -1 && errno != EINTR)
			return -1;
		l->now = clock_ms();
		for (i = 0; i < n && !l->stop; i++)
			dispatch(l, &l->events[i]);
		run_timers(l);
	}
	return 0;
}
