/*
 * session.h - one client session, apart from how its bytes move.
 *
 * The core holds what every I/O style shares: the protocol's state, the
 * replies not yet sent and their bound (--max-output), the idle
 * deadline, the linger decision and the session's log lines.  A driver
 * moves the bytes (session_run in server.c blocks, evsession.c waits for
 * readiness, a completion driver would submit and reap) and tells the
 * core what happened; the core answers what the session wants next.  The
 * core never touches a descriptor and never reads the clock: times are
 * given, in monotonic milliseconds (clock.h), so that it is tested with
 * no socket and no sleep (tests/unit/session.c).
 *
 *	session_init(&s, o, addr, now);
 *	for (;;) {
 *		want = session_next(&s);
 *		WRITE:  p = session_output(&s, &n); send p, n; session_sent()
 *		READ:   read into in; session_input(), or session_eof() at 0
 *		PROBE:  session_probe(&s, the peer has sent more: readable?)
 *		LINGER: shutdown(SHUT_WR), drop input until EOF, at most
 *		        SESSION_LINGER_MS; then as CLOSE
 *		CLOSE:  close the descriptor
 *	}
 *	session_end(&s, NULL);		logs the close line, frees
 *
 * READ and WRITE may come together (a readiness driver watches both).
 * Errors of the driver's own (a reset, a write deadline, a hard stop)
 * end the session with session_end(&s, "why").
 */
#ifndef SOCKLAB_SESSION_H
#define SOCKLAB_SESSION_H

#include <stddef.h>

#include "buf.h"
#include "net.h"
#include "proto.h"
#include "server.h"

/* Reply buffer a session keeps once its replies are out: a burst (a
 * long line of characters that expand) is given back, not kept idle. */
#define SESSION_OUT_KEEP 32768

/* What session_next() answers, a mask. */
#define SESSION_READ	0x01	/* more input is welcome */
#define SESSION_WRITE	0x02	/* replies wait: session_output() */
#define SESSION_PROBE	0x04	/* done; linger only if the peer has sent
				   more: answer with session_probe() */
#define SESSION_LINGER	0x08	/* done, replies out: linger, then close */
#define SESSION_CLOSE	0x10	/* done, replies out (or given up): close */

/*
 * The fields are the core's; a driver may read them, never write them.
 * out holds the replies handed to the driver (see session_output), more
 * the replies made while out was on loan.
 */
struct session {
	const struct server_opts *o;
	struct proto	 p;
	struct buf	 out;
	struct buf	 more;
	int		 loaned;	/* out's bytes are being sent */
	int		 paused;	/* too many replies wait: no READ */
	int		 done;		/* no more input wanted */
	int		 linger;	/* done: 1 linger, 0 not, -1 ask */
	const char	*why;		/* for the log, once done */
	long long	 active;	/* the last whole line or reply taken */
	char		 addr[NET_ADDR_LEN];
};

/* Log "connected with ADDR" (unless --quiet); now starts the idle clock. */
void	session_init(struct session *, const struct server_opts *,
	    const char *addr, long long now);

/*
 * n bytes arrived.  The replies join the output; a whole line restarts
 * the idle clock.  After ".", an over-long line or a failure to grow a
 * buffer the session is done: the bytes after the ending line are left
 * unread, and they decide the linger.  No input once done.
 */
void	session_input(struct session *, const char *in, size_t n,
	    long long now);

/* The peer sent its EOF: the replies still go out, then close. */
void	session_eof(struct session *);

/*
 * The replies to send, *n bytes at the returned address (NULL, 0 if
 * none).  Lifetime: the bytes stay valid and unchanged until the driver
 * reports them with session_sent() (all or part) or calls session_end();
 * input fed meanwhile queues its replies behind them, so a completion
 * driver may keep a send in flight while it reads.  Ask again after a
 * partial send for the rest.
 */
const char *session_output(struct session *, size_t *n);

/* n bytes of session_output()'s went out: the client is taking its
 * replies, which counts as activity for the idle clock. */
void	session_sent(struct session *, size_t n, long long now);

/* The answer to SESSION_PROBE: whether input is waiting behind ".". */
void	session_probe(struct session *, int peer_readable);

/* What the session wants now (see SESSION_*). */
int	session_next(struct session *);

/*
 * When the idle clock runs out (0: --idle-timeout off, or done), and
 * the tick: past it, the session is done (no linger), "idle timeout" or
 * "client not reading" if replies wait; 1 then, else 0.
 */
long long	session_deadline(const struct session *);
int		session_tick(struct session *, long long now);

/* Bytes held: replies not sent and the partial line (--max-memory). */
size_t	session_held(const struct session *);
/* Replies not yet sent, on loan or not. */
size_t	session_pending(const struct session *);

/* Log "session with ADDR ended: N lines, WHY" (why NULL: the core's own
 * reason) and free what the session holds. */
void	session_end(struct session *, const char *why);

#endif
