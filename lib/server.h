/*
 * server.h - what every server backend sees: its options, the stop flag,
 * and the shared per-session loop for blocking designs.
 *
 * A backend ("model") decides who reads and writes: one process, a
 * thread, a child, an event loop.  It never decides what to answer; that
 * is proto.h.  To add a model: write servers/NAME.c exposing
 *	int serve_NAME(int listen_fd, const struct server_opts *);
 * and add one line to the table in servers/main.c.
 */
#ifndef SOCKLAB_SERVER_H
#define SOCKLAB_SERVER_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>

#include "proto.h"

struct server_opts {
	const char	*host;
	const char	*port;
	const char	*model;
	int		 backlog;
	size_t		 max_line;	/* --max-line */
	size_t		 max_output;	/* bytes of unsent replies per session */
	size_t		 max_memory;	/* event loops: of all sessions; 0 = no
					   bound */
	int		 max_clients;	/* 0 = unlimited */
	int		 idle_timeout;	/* seconds to complete a line; 0 = off */
	int		 write_timeout;	/* seconds for the client to take
					   replies; 0 = off */
	int		 drain;		/* seconds sessions get after SIGTERM */
	int		 workers;	/* pooled models */
	int		 accept_lock;	/* prefork: lock around accept() */
	int		 procs;		/* --procs: worker processes; 0 = none */
	int		 quiet;
};

/*
 * serve() owns listen_fd: it closes it as soon as it stops accepting, so
 * that new clients are refused while sessions in flight drain.  It
 * returns 0 after a stop, or -1 after an error it has reported.
 */
struct model {
	const char	*name;
	const char	*what;		/* one line for --list-models */
	int		(*serve)(int listen_fd, const struct server_opts *);
	int		 flags;
	/* NULL, or a test that returns why this machine cannot run the
	   model (NULL if it can): --list-models says so, --model refuses */
	const char	*(*unavailable)(void);
};

/* What main.c must know of a model, and nothing more. */
#define MODEL_PER_SESSION 0x1	/* a thread or child per session: its
				   --max-clients defaults to 1024 */
#define MODEL_REUSEPORT	0x2	/* binds more listeners to the address
				   later: listen with SO_REUSEPORT */
#define MODEL_POOL	0x4	/* serves at most --workers sessions at
				   once: size the pool to the load
				   (--list-models says "[pool]") */
#define MODEL_ONESHOT	0x8	/* one line per connection, then close:
				   no persistent sessions (--list-models
				   says "[oneshot]") */
/* What only callers need (--list-models=tsv): */
#define MODEL_SERIAL	0x10	/* one session at a time */
#define MODEL_EVENT	0x20	/* sessions on event loops, readiness
				   (evsession.h) or completion (io_uring) */
#define MODEL_ACCEPT_LOCK 0x40	/* takes --accept-lock */
#define MODEL_PROCS	0x80	/* takes --procs (servers/procs.c) */
#define MODEL_ONE_TABLE	0x100	/* every session holds a descriptor of
				   one process, --max-clients at most:
				   RLIMIT_NOFILE bounds them */

/*
 * 1 after SIGTERM/SIGINT: stop accepting, let sessions finish.  2 when
 * the drain time (--drain) is over or a second signal came: end them
 * now.  server_stop_fd() becomes readable at the first signal, so a
 * backend can poll() it beside its sockets.
 *
 * A lock-free atomic rather than volatile sig_atomic_t: the handler runs
 * in one thread and sessions read the flag in others (C11 7.14.1.1 lets
 * a handler touch lock-free atomics; ThreadSanitizer sees no race).
 */
extern _Atomic int server_stop;
int	server_stop_fd(void);
/* Install the handlers (no SA_RESTART, SIGALRM for the drain) and
 * ignore SIGPIPE.  SIGHUP becomes a SIGTERM of the main process (there
 * is nothing to reopen), unless it was ignored at start (nohup).  0 or
 * -1. */
int	server_signals(int drain);

/*
 * Block the stop signals (SIGTERM, SIGINT, SIGALRM, SIGHUP) in the
 * calling thread, the mask before in *old, for a wait that lets them in
 * only while it sleeps (ppoll, epoll_pwait with *old):
 * then none falls between looking at server_stop and going to sleep, and
 * no handler runs at an arbitrary point.  ThreadSanitizer, which defers
 * a handler that falls outside a blocking call, lost a SIGTERM in 3 of
 * 2,000 stops of a plain poll() loop; in none of 2,000 with ppoll().
 * Restore with pthread_sigmask(SIG_SETMASK, old, NULL).  0, or -1 after
 * logging why.
 */
int	server_block_stops(sigset_t *old);

/*
 * For a thread whose wait no handler interrupts reliably (io_uring_enter
 * is a system call ThreadSanitizer does not see, so it defers a handler
 * that came in there, for ever if nothing intercepted follows): block
 * the stop signals for good and return a non-blocking signalfd that
 * becomes readable when one comes; server_take_signals(fd) then acts on
 * them as the handler would.  -1 after logging why.
 */
int	server_signal_fd(void);
void	server_take_signals(int fd);

/*
 * In a worker process of a supervising parent (lib/supervise.h), in
 * place of server_signals(): die with the parent (PR_SET_PDEATHSIG; -1
 * if it is gone already), a stop pipe of its own, SIGTERM a stop at
 * level 1 (never more: the parent's SIGALRM says when the drain is
 * over, level 2), SIGINT and SIGHUP ignored, SIGCHLD to its default;
 * then the signal mask becomes mask.  server_ready() says nothing in a
 * worker: the parent announces.  0 or -1.
 */
int	server_worker_signals(pid_t parent, const sigset_t *mask);
/* The connection a blocking worker serves (-1: none), shut down at the
 * hard stop from the handler, so that its poll() cannot miss it. */
void	server_worker_session(int fd);

/*
 * Every model calls server_admitted() for each session it admits.  The
 * count goes to counter (NULL: a counter of the process's own), which a
 * supervisor points into memory it shares with the worker, so that it
 * can say how many sessions each process served.
 */
void	server_count_into(_Atomic unsigned long *counter);
void	server_admitted(void);

/*
 * Print the "listening on ADDR:PORT (model M, backlog B)" line.  serve()
 * calls it once it can serve (its workers started): a script that waits
 * for the line never talks to a server about to fail.  0 or -1.
 */
int	server_ready(int lfd, const struct server_opts *);

/*
 * For a model whose accepting thread is busy serving (iterative): shut
 * lfd down from the first stop signal's handler, so that new clients are
 * refused at once.  -1 forgets it (before closing lfd).
 */
void	server_refuse_on_stop(int lfd);

/*
 * Wait until lfd is readable or a stop was requested: returns 1 if
 * there is a connection to accept (for bin/udp-server: a datagram), 0 on
 * stop, -1 on error.  A stop signal is never missed: the stop signals
 * arrive only inside its ppoll() (server_block_stops), and the handler
 * writes to the pipe that it polls beside lfd.
 */
int	server_wait_accept(int lfd);

/*
 * accept() a connection, returning its descriptor and the peer's address,
 * or -1 when there is none to serve now.  Failures that would repeat at
 * once (EMFILE, ENFILE, ENOBUFS) are logged (once a second at most) and
 * followed by a short pause, so that no backend spins at 100 % CPU
 * without descriptors.  errno is kept: EINVAL or EBADF mean that the
 * listening socket was shut down, which pooled models use to stop.
 */
int	server_accept(int lfd, int nonblock, char *addr, size_t addrlen);

/*
 * A resource ran out (descriptors, threads, processes): log "WHAT:
 * strerror(err); pausing" once a second at most, and pause 50 ms, so
 * that a client looping on connect() cannot make a model spin or flood
 * its log.
 */
void	server_backoff(const char *what, int err);

/*
 * Serve one connection to the end with blocking I/O: read, feed the
 * protocol, write what it produced in one write, until ".", EOF, error,
 * a limit, the idle timeout, or a hard stop.  When the client may
 * still be sending (session.c decides) it shuts down the sending side and
 * waits for the client's EOF, so that a close() with unread input cannot
 * reset the last replies away.  Closes nothing: the caller owns fd.
 * addr is the peer, for the log.
 */
void	session_run(int fd, const char *addr, const struct server_opts *);

/*
 * A session that ends while the client may still be sending lingers
 * (session.c says when): it sends its FIN and drops input until the
 * client's EOF, SESSION_LINGER_MS at most.  session_peer_readable()
 * answers the core's SESSION_PROBE: has input come behind "."?
 */
#define SESSION_LINGER_MS 1000
int	session_peer_readable(int fd);

/*
 * The pieces of session_run() that the one-shot model also uses.  Wait
 * for input until deadline (0: none): 1 readable, 0 timed out, -1 error
 * or hard stop.  Write all n bytes by deadline: 0, or -1 with errno
 * (EAGAIN: the deadline passed; EINTR: a hard stop).  Send our FIN, then
 * drop the client's input until its FIN, SESSION_LINGER_MS at most.
 */
int	session_wait_input(int fd, long long deadline);
int	session_write_by(int fd, const char *, size_t n, long long deadline);
void	session_linger(int fd, char *junk, size_t len);
/* The deadline of a write begun now: --write-timeout, or --idle-timeout
 * if shorter (0: none), for session_write_by(). */
long long	session_write_deadline(const struct server_opts *);

/*
 * The whole of a model that serves one connection at a time in the
 * thread that accepts (iterative, oneshot): announce, then accept and
 * serve(fd, addr, o) each in turn, until a stop; the listener is shut
 * down from the first stop signal (server_refuse_on_stop).  Owns lfd,
 * closes each fd after serve().  0, or -1 after logging.
 */
typedef void	server_conn_fn(int fd, const char *addr,
		    const struct server_opts *);
int	server_serial(int lfd, const struct server_opts *, server_conn_fn *);

/* Tell a client over --max-clients that it is not served, and close it. */
void	server_busy(int fd);

/* Session log lines (suppressed by --quiet), one write each so that
 * lines from threads and children do not interleave. */
void	log_session_open(const struct server_opts *, const char *addr);
void	log_session_close(const struct server_opts *, const char *addr,
	    unsigned long lines, const char *why);

#endif
