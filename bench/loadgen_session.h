/*
 * loadgen_session.h - what the parts of one worker thread share.
 *
 * A session is one slot of concurrency: with -k 1 one persistent
 * connection, with -k 0 a connection per request (UNP ch. 30's client),
 * reopened by the same slot.  Each keeps a ring of the requests it has in
 * flight (at most -P of them) with their due and actual send times; a
 * reply is matched to the oldest.  When the next request is due is the
 * pacer's business alone (loadgen_pace.c); sessions waiting for a time sit
 * in a min-heap (loadgen_heap.c).
 */
#ifndef SOCKLAB_LOADGEN_SESSION_H
#define SOCKLAB_LOADGEN_SESSION_H

#include <stdint.h>

#include "loadgen.h"

#define MS		1000000ULL
#define SEC		1000000000ULL
#define PACE_NONE	UINT64_MAX	/* no more requests for this session */

enum sstate { S_IDLE, S_CONNECTING, S_OPEN, S_DONE };

struct pending {
	uint64_t	 seq;		/* request number: its line */
	uint64_t	 t_intended;	/* due: on the schedule, or when queued */
	uint64_t	 t_sent;	/* first write that carried it */
	int		 measured;	/* due after the warm-up */
};

/* Where the reply now arriving stands against the expected one. */
struct rx {
	size_t		 off;		/* bytes of it received so far */
	int		 bad;		/* it differs: skip to its '\n' */
};

struct session {
	int		 fd;
	enum sstate	 state;
	uint32_t	 id;		/* 0 .. sessions-1, all threads */
	uint32_t	 conn;		/* connections made, for events */
	uint32_t	 events;	/* epoll interest; 0: not registered */
	int		 got_first;	/* this connection had a reply */
	long		 heap_pos;	/* -1: not in the heap */
	uint64_t	 wake;		/* heap key: when to look again */
	uint64_t	 t_open;	/* when the slot starts */
	uint64_t	 t_first;	/* open loop: request 0 is due */
	uint64_t	 not_before;	/* -k 0: retry after a failure */
	uint64_t	 t_connect;	/* this connection's connect() */
	uint64_t	 t_established;
	uint64_t	 t_reply;	/* the last reply, any connection */
	uint64_t	 seq;		/* next request number */
	uint64_t	 quota;		/* open loop -n: measured left */
	struct pending	*ring;
	unsigned	 head, inflight;
	unsigned	 nsent;		/* of those, written out whole */
	size_t		 woff;		/* bytes written of the next one */
	struct rx	 rx;
};

static inline struct pending *
ring_at(const struct session *s, unsigned i)
{
	return &s->ring[(s->head + i) % (unsigned)run.o->depth];
}

/* loadgen_pace.c */
void	 pace_plan(struct worker *);
uint64_t pace_due(const struct worker *, const struct session *, uint64_t);
int	 pace_take(struct worker *, struct session *, uint64_t,
	    struct pending *);

/* loadgen_lines.c */
const char *line_request(uint32_t id, uint64_t seq, size_t *len);
size_t	 reply_feed(struct rx *, uint32_t id, uint64_t seq, const char *,
	    size_t, int *verdict);

/* loadgen_heap.c */
void	 heap_push(struct worker *, struct session *, uint64_t when);
void	 heap_remove(struct worker *, struct session *);
struct session *heap_pop_due(struct worker *, uint64_t now);
uint64_t heap_next(const struct worker *);

/* loadgen_conn.c */
void	 note_other(struct worker *, const char *what, int err);
int	 set_events(struct worker *, struct session *, uint32_t);
void	 close_conn(struct worker *, struct session *);
void	 session_done(struct worker *, struct session *);
void	 session_fail(struct worker *, struct session *, enum err_kind,
	    const char *what, int err);
enum err_kind kind_of(int err, int connecting);
void	 connect_start(struct worker *, struct session *);
void	 connect_done(struct worker *, struct session *, uint32_t events,
	    uint64_t now);
int	 flush(struct worker *, struct session *);

/* loadgen_session.c */
void	 pump(struct worker *, struct session *, uint64_t now);

/* loadgen_recv.c */
#define RBUF_SIZE	65536	/* worker.rbuf */
void	 readable(struct worker *, struct session *, uint64_t now);

/* loadgen_stats.c */
void	 account_end(struct worker *, struct session *, uint64_t end);

#endif
