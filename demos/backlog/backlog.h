/*
 * backlog.h - what the files of demo-backlog share.
 *
 *  main.c           the options, and the parts in turn within --wait
 *  sys.c            sysctls, /proc/net/netstat counters, ss, bin/server
 *  sock.c           the clients' sockets
 *  timeline.c       part 1 run: the clients' events and the poll() loop
 *  timeline-text.c  part 1 told: intro, summary, explanation, JSON
 *  sweep.c          part 2: backlog 0..N, connections that complete
 *  netns.c          part 3: the same in a private network namespace
 */
#ifndef SOCKLAB_BACKLOG_H
#define SOCKLAB_BACKLOG_H

#include <sys/types.h>
#include <stddef.h>

#include "buf.h"
#include "net.h"
#include "../demo.h"

#define MAXCLIENTS	32
#define MAXRETX		16
#define SWEEP_MAX	16
#define DROP_AFTER	0.5	/* no handshake after this long: SYN dropped */

#define PART_TIMELINE	0x1
#define PART_SWEEP	0x2
#define PART_NETNS	0x4

struct opts {
	int		 backlog;
	int		 clients;	/* K, after the persistent one */
	double		 wait;		/* bound on the whole demo, seconds */
	long		 busy_ms;	/* first client holds the server */
	long		 hold_ms;	/* each later client, after its reply */
	long		 gap_ms;	/* between two connect() calls */
	long		 settle_ms;	/* sweep: wait before counting */
	int		 sweep_max;
	int		 sweep_clients;
	int		 parts;
	int		 brief;		/* --short: the timeline, told briefly */
	const char	*server;
	const char	*json;
};

/* sys.c: the kernel's settings and counters */
struct sysctls {
	long	somaxconn;
	long	syn_linear;	/* -1: this kernel has no such sysctl */
	long	syn_retries;
	long	abort_overflow;
	long	syncookies;
	long	max_syn_backlog;
};

/* TcpExt counters of this network namespace, from /proc/net/netstat. */
struct counters {
	long	overflows;	/* ListenOverflows: accept queue was full */
	long	drops;		/* ListenDrops: any drop at a listener */
	long	cookies;	/* SyncookiesSent */
	int	ok;
};

/* sys.c: bin/server as a child */
struct server {
	pid_t		 pid;
	int		 out;		/* its stdout, non-blocking */
	int		 port;
	char		 partial[512];	/* a log line not yet complete */
	size_t		 plen;
};

/* timeline.c, timeline-text.c: part 1 */
enum cstate {
	C_CONNECTING,	/* SYN sent, no answer yet */
	C_WAITREPLY,	/* handshake done, line sent, no reply yet */
	C_REPLIED,	/* served; closes after hold_ms */
	C_DONE,		/* sent "." and closed */
	C_REFUSED,	/* ECONNREFUSED: an RST came */
	C_TIMEDOUT,	/* ETIMEDOUT: the kernel gave up retransmitting */
	C_FAILED	/* any other error, or reset after the handshake */
};

struct client {
	int		 id;
	int		 fd;
	int		 port;		/* its local (ephemeral) port */
	enum cstate	 st;
	double		 t_start;	/* connect() called */
	double		 t_est;		/* handshake complete (0 = never) */
	double		 t_accept;	/* the server's log: "connected with" */
	double		 t_reply;
	double		 t_close;	/* when to send "." */
	double		 t_end;
	double		 t_retx[MAXRETX];	/* SYN retransmissions seen */
	unsigned	 nretx;
	unsigned	 retx_seen;	/* tcpi_total_retrans last read */
	unsigned	 data_retx;	/* retransmissions after the handshake */
	int		 told_dropped;
	enum cstate	 at_release;
	unsigned	 retx_at_release;
	char		 inbuf[128];
	size_t		 inlen;
	char		 err[64];
};

struct timeline {
	struct server	 srv;
	struct client	 c[MAXCLIENTS + 1];	/* c[0]: the persistent one */
	int		 n;			/* c[1..n] */
	double		 t_release;
	double		 t_end;
	int		 recvq, sendq, syn_sent;
	int		 queued, waiting, refused;	/* at release */
	char		 ssline[256];
	struct counters	 before, at_release, after;
	double		 refused_ms;		/* the closed-port contrast */
	char		 refused_err[64];
};

/* sweep.c: part 2 (netns.c runs bursts too) */

/*
 * One backlog value: a busy iterative server and n connect() calls.
 * While nobody accept()s, every connection that completes stays in the
 * queue, so counting after a short wait is exact: the wait only has to
 * be shorter than the first SYN retransmission (1 s), not precise.
 */
struct burst {
	int		 backlog;
	struct server	 srv;
	int		 busy;
	int		 fd[MAXCLIENTS];
	int		 n;
	int		 est, syn, refused, other;
	unsigned	 retx;		/* SYN retransmissions, all clients */
	int		 recvq, sendq;
	char		 err[NET_ERR_LEN];
};

struct sweep {
	struct burst	 b[SWEEP_MAX + 1];
	int		 max;
	long		 somaxconn;
	int		 ok;
};

/* netns.c: part 3 */
struct netns_result {
	int		 ran;
	struct buf	 json;		/* the child's fragment */
	struct sysctls	 before, after;
	int		 unchanged;
	char		 reason[NET_ERR_LEN];
};

/* sys.c */
void	read_sysctls(struct sysctls *);
int	write_sysctl(const char *path, long v);
void	print_sysctls(const struct sysctls *);
void	json_sysctls(struct buf *, const struct sysctls *);
void	read_counters(struct counters *);
int	ss_listen(int port, int *recvq, int *sendq, char *line,
	    size_t linelen);
int	ss_listeners(void (*found)(int, int, int, void *), void *arg);
int	ss_syn_sent(int port);
int	server_start(struct server *, const char *path, int backlog,
	    char *err, size_t errlen);
void	server_stop(struct server *);
int	server_line(struct server *, char *line, size_t n);

/* sock.c */
int	tcp_state(int fd, unsigned *retrans);
int	start_connect(int port, int *lport);
int	busy_client(int port, char *err, size_t errlen);

/* timeline.c */
extern double T0;	/* every time printed is relative to this */
int	run_timeline(struct timeline *, const struct opts *,
	    const struct sysctls *, double deadline, char *err,
	    size_t errlen);

/* timeline-text.c */
void	timeline_intro(const struct opts *, const struct sysctls *);
void	timeline_summary(const struct timeline *, const struct opts *);
void	timeline_explain(const struct timeline *, const struct opts *,
	    const struct sysctls *);
void	json_timeline(struct buf *, const struct timeline *);

/* sweep.c */
int	burst_start(struct burst *, const char *server, int backlog, int n);
void	burst_count(struct burst *);
void	burst_stop(struct burst *);
int	run_sweep(struct sweep *, const struct opts *, long somaxconn,
	    const int *backlogs, int nb);
void	print_sweep(const struct sweep *, const struct opts *);
void	json_sweep(struct buf *, const struct sweep *, const struct opts *);

/* netns.c */
void	run_netns(struct netns_result *, const struct opts *);

#endif
