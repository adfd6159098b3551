/*
 * loadgen.h - what the parts of bin/loadgen share.
 *
 *	loadgen.c		options, threads, signals, progress
 *	loadgen_session.c	one epoll loop per thread: the sessions' events
 *	loadgen_recv.c		replies: read, matched, recorded
 *	loadgen_pace.c		when a session's next request is due
 *	loadgen_conn.c		connections: connect, write, close, errors
 *	loadgen_lines.c		the request lines and their expected replies
 *	loadgen_heap.c		the timer heap of sessions waiting for a time
 *	loadgen_stats.c		what a thread measures, and the end of a run
 *	loadgen_report.c	the summary, --csv and --json
 *	loadgen_interval.c	--interval: the run cut into intervals
 *	loadgen_hlog.c		HdrHistogram's V2 encoding and --hlog
 *	loadgen_procs.c		--procs: the run shared out over processes
 *	loadgen_source.c	--source: local addresses to connect from
 *	loadgen_session.h	what the per-thread parts share
 *
 * All times are CLOCK_MONOTONIC nanoseconds.
 */
#ifndef SOCKLAB_LOADGEN_H
#define SOCKLAB_LOADGEN_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

#define LOADGEN_VERSION	"0.1"

/* Error kinds; the order is the order of the report. */
enum err_kind {
	E_REFUSED,		/* connect: ECONNREFUSED, no listener */
	E_RESET,		/* ECONNRESET / EPIPE on an open connection */
	E_CLOSED,		/* the server closed the connection */
	E_TIMEOUT,		/* no reply within --timeout */
	E_CONNECT_TIMEOUT,	/* no handshake within --connect-timeout */
	E_MISMATCH,		/* a reply that is not the expected one */
	E_OTHER,		/* anything else (EADDRNOTAVAIL, EMFILE...) */
	E_NKINDS
};
extern const char *const err_names[E_NKINDS];

struct opts {
	const char	*host;
	const char	*port;
	unsigned	 port_num;	/* as parsed: 012000 is 12000 */
	int		 sessions;	/* -c */
	int		 threads;	/* -t */
	int		 depth;		/* -P */
	int		 keepalive;	/* -k */
	size_t		 size;		/* -s, '\n' included */
	uint64_t	 total;		/* -n; 0: none */
	uint64_t	 duration;	/* -d, measured time; 0: none */
	uint64_t	 warmup;
	double		 rate;		/* req/s; 0: closed loop */
	double		 connect_rate;	/* sessions/s; 0: burst */
	uint64_t	 timeout;
	uint64_t	 connect_timeout;
	uint64_t	 seed;
	char		*request;	/* --request, escapes decoded */
	size_t		 request_len;
	int		 verify;
	const char	*json;
	const char	*hlog;		/* --hlog FILE */
	uint64_t	 period;	/* --interval, ns; 0: none */
	double		 start_at;	/* --start-at, wall s; 0: at once */
	int		 csv;
	int		 quiet;
	int		 progress;	/* stderr is a tty, no -q */
	int		 procs;		/* --procs; 1: this process only */
	int		 go_fd;		/* a --procs part: the start; else -1 */
	int		 ready_fd;	/* a part: says it is set up */
	uint32_t	 session_base;	/* a part: sessions of those before */
	const char	*source;	/* --source, as given */
	struct sockaddr_storage src;	/* its first address */
	socklen_t	 srclen;
	uint32_t	 nsrc;		/* addresses from src on; 0: none */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
};

/* Everything one thread measures; merged into one at the end. */
struct stats {
	struct hist	 lat;		/* from the due time */
	struct hist	 lat_unc;	/* from the actual send */
	struct hist	 conn;		/* connect() to established */
	struct hist	 first;		/* connect() to first reply */
	struct hist	 wait;		/* unanswered at the end: end - due */
	uint64_t	 committed;	/* measured requests that fell due */
	uint64_t	 completed;	/* measured, answered right */
	uint64_t	 replies;	/* right replies received in the
					   measured window, warm-up ones too:
					   the throughput */
	uint64_t	 failed;	/* measured requests lost to an error */
	uint64_t	 warm;		/* replies to warm-up requests */
	uint64_t	 sent;		/* written, warm-up too */
	uint64_t	 errors[E_NKINDS];
	uint64_t	 connects;	/* connect() calls */
	uint64_t	 established;
	uint64_t	 syn_retrans;	/* tcpi_total_retrans > 0 */
	uint64_t	 slow_connects;	/* connect took >= 1 s */
	uint64_t	 lost;		/* sessions ended by errors */
	uint64_t	 unanswered;	/* due, no reply when the run ended:
					   neither failed nor errors */
	uint64_t	 unanswered_warm; /* of those, due in the warm-up */
	uint64_t	 unsent;	/* of those, never written (open loop:
					   due while the ring was full) */
	uint64_t	 stalled;	/* sessions left waiting for a reply
					   through half the measured window */
	uint64_t	 unopened;	/* persistent sessions not established
					   when the run ended */
	uint64_t	 bytes_out;
	uint64_t	 bytes_in;
	uint64_t	 t_end;		/* when the loop ended */
};

/* CPU time one thread (or the process) used, in seconds. */
struct cpu {
	double		 user;
	double		 sys;
};

struct worker {
	int		 id;
	pthread_t	 tid;
	int		 epfd;
	struct session	*sess;
	size_t		 nsess;
	size_t		 next_open;	/* first one not opened */
	size_t		 active;	/* sessions not done */
	uint64_t	 budget;	/* closed loop -n: measured left */
	struct session	**heap;		/* by next due time */
	size_t		 nheap;
	char		*rbuf;		/* read scratch */
	char		 errmsg[160];	/* first E_OTHER, to log */
	size_t		 nopen;		/* connected sessions */
	size_t		 nconnecting;
	struct stats	 st;
	struct cpu	 cpu;		/* this thread's, over its loop */
	atomic_uint_fast64_t p_done;	/* for the progress line */
	atomic_uint_fast64_t p_errors;
	atomic_uint_fast64_t p_open;
	atomic_uint_fast64_t p_connecting;
	atomic_int	 finished;
	/* --interval: this interval's latencies, taken by the main thread. */
	int		 iv_on;
	pthread_mutex_t	 iv_lock;
	struct hist	 iv_lat, iv_unc;
};

/* The run, as the workers see it; set before they start. */
struct run {
	const struct opts *o;
	uint64_t	 t0;		/* start: first connect */
	double		 wall0;		/* t0 on the wall clock, s */
	uint64_t	 measure_start;	/* t0 + warm-up */
	uint64_t	 deadline;	/* 0: none */
	uint64_t	 interval;	/* open loop: per-session gap, ns */
	atomic_int	 stop;		/* Ctrl-C */
	pthread_t	 main_thread;	/* SIGUSR1: a worker ended */
};
extern struct run run;

struct netstat {
	int		 ok;
	uint64_t	 overflows;	/* TcpExt ListenOverflows */
	uint64_t	 drops;		/* TcpExt ListenDrops */
};

/* One interval of --interval: [start, start + length) after t0. */
struct ivpoint {
	double		 start;		/* s after t0 */
	double		 length;	/* s */
	uint64_t	 replies;	/* right replies, warm-up ones too */
	uint64_t	 errors;
	uint64_t	 count;		/* latencies recorded */
	uint64_t	 p50, p90, p99, max;	/* corrected latency, ns */
};

struct intervals {
	uint64_t	 start;		/* this interval's, monotonic ns */
	uint64_t	 done, errors;	/* progress counters at its start */
	struct hist	 lat, unc;	/* scratch: the workers' summed */
	struct ivpoint	*pts;
	size_t		 n, cap;
	FILE		*hlog;
	const char	*hlog_path;
	int		 failed;	/* writing the log failed */
};

/* What the report needs beyond the merged stats. */
struct result {
	struct stats	 st;
	struct netstat	 ns_before, ns_after;
	double		 elapsed;	/* s, t0 to the end */
	double		 measured;	/* s, after the warm-up */
	double		 throughput;	/* replies / measured */
	struct cpu	 cpu;		/* the whole process */
	const struct cpu *thread_cpu;	/* per worker thread */
	int		 saturated;	/* a thread used >= 90 % of a core */
	int		 interrupted;
	int		 cut_short;
	int		 rate_short;	/* open loop: < 95 % of --rate */
	int		 status;	/* exit status */
	const struct intervals *iv;	/* NULL without --interval */
};

uint64_t now_ns(void);

/* The pool of request lines, built once before the threads start. */
int	 lines_init(const struct opts *);
void	 lines_free(void);

int	 worker_init(struct worker *, int id, const struct opts *);
void	 worker_free(struct worker *);
void	*worker_main(void *);
int	 stats_init(struct stats *);
void	 stats_free(struct stats *);
int	 stats_merge(struct stats *, const struct stats *);

/* loadgen_stats.c: a measured request's latency, both histograms. */
void	 record_latency(struct worker *, uint64_t corrected,
	    uint64_t uncorrected, int has_uncorrected);

/* loadgen_interval.c */
int	 iv_worker_init(struct worker *, const struct opts *);
void	 iv_worker_free(struct worker *);
int	 iv_open(struct intervals *, const struct opts *, char *, size_t);
int	 iv_cut(struct intervals *, struct worker *, int nw, uint64_t now);
void	 iv_progress(const struct intervals *, const struct worker *, int);
int	 iv_close(struct intervals *, char *, size_t);

/* loadgen_hlog.c: HdrHistogram's compressed V2 encoding, base64. */
char	*hlog_encode(const struct hist *);
int	 hlog_decode(const char *, size_t, struct hist *);
int	 hlog_header(FILE *, double wall0);
int	 hlog_line(FILE *, const char *tag, double start, double length,
	    const struct hist *);

/* loadgen_merge.c: loadgen merge A.json B.json ... */
int	 merge_main(int argc, char **argv);

/* loadgen_procs.c: 1 in a part (o is now its share), 0 in the parent
 * once the parts are merged (*status: the exit status). */
int	 procs_run(struct opts *, int *status);
void	 procs_ready(struct opts *);

/* loadgen_source.c */
void	 source_parse(struct opts *, const char *);
int	 source_bind(int fd, const struct opts *, uint32_t session);

void	 report_summary(const struct opts *, const struct result *);
void	 report_csv(const struct opts *, const struct result *);
int	 report_json(const struct opts *, const struct result *,
	    const char *path, char *err, size_t errlen);

#endif
