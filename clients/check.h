/*
 * check.h - what bin/check-server's checks (check-cases.c) and its I/O
 * and report (check-server.c) share.
 */
#ifndef SOCKLAB_CHECK_H
#define SOCKLAB_CHECK_H

#include <sys/socket.h>
#include <stddef.h>

#include "buf.h"

/* Which servers a check applies to. */
#define MODE_TCP	0x1	/* persistent sessions, '.' ends them */
#define MODE_ONESHOT	0x2	/* one line per connection, then close */
#define MODE_UDP	0x4	/* one datagram in, one out */

struct ctx {
	const char		*host, *port;
	int			 timeout_ms;	/* for each reply */
	int			 pause_ms;	/* between segments */
	int			 mode;
	int			 oneshot;
	int			 concurrent;	/* --concurrent */
	struct sockaddr_storage	 ss;		/* UDP: the server */
	socklen_t		 sslen;
};

struct result {
	int	 failed;
	char	 what[512];	/* what went wrong, or a note on a pass */
	int	 no_newline;	/* the only fault: replies lack their '\n' */
};

struct check {
	const char	*key;		/* short name, the same in every language */
	const char	*en, *it;	/* what it checks */
	const char	*why_en, *why_it; /* why a failure matters */
	int		 modes;
	void		(*run)(struct ctx *, struct result *);
};

extern const struct check checks[];
extern const size_t nchecks;
extern int lang_it;

/* collect() results. */
enum { GOT_ENOUGH, GOT_EOF, GOT_RESET, GOT_ERROR, GOT_TIMEOUT };

/* Report: fail() takes an English and an Italian format, same args
 * (the compiler checks the English one). */
void		 fail(struct result *, const char *en, const char *it, ...)
		    __attribute__((format(printf, 2, 4)));
void		 note(struct result *, const char *en, const char *it);
const char	*show(const char *, size_t, int slot);

/* TCP; each returns -1 with the reason in the result. */
int	tcp_open(const struct ctx *, struct result *);
int	send_str(const struct ctx *, int fd, const char *, struct result *);
int	send_segments(const struct ctx *, int fd, struct result *,
	    const char *const *seg, const size_t *len);
int	collect(int fd, struct buf *, size_t want, int wait_ms);
int	expect(const struct ctx *, int fd, const char *exp, size_t n,
	    struct result *);
int	expect_close(const struct ctx *, int fd, struct result *);
char	*upper(const char *, size_t, size_t *outlen);

/* UDP */
int	udp_open(struct ctx *, struct result *);
int	udp_send(const struct ctx *, int fd, const char *, struct result *);
int	udp_expect(const struct ctx *, int fd, const char *sent,
	    int same_port, struct result *);

#endif
