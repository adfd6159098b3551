/*
 * proto.h - the uppercase line protocol, and nothing else.
 *
 * A request is the bytes up to and including '\n'; the reply is that line
 * upper-cased, terminator kept.  A line that is exactly "." (or ".\r")
 * ends the session without a reply.  A line longer than max_line bytes
 * is answered with "ERR line too long (max N bytes)\n" and ends the session.
 *
 * The API is incremental so that every backend, blocking or event-driven,
 * can feed it whatever read() returned: framing never depends on how the
 * bytes arrive.  The module never touches a socket.
 */
#ifndef SOCKLAB_PROTO_H
#define SOCKLAB_PROTO_H

#include <stddef.h>
#include "buf.h"

#define PROTO_DEFAULT_MAX_LINE	65536

enum proto_status {
	PROTO_MORE,		/* go on reading */
	PROTO_END,		/* client sent "."; close after flushing out */
	PROTO_TOOLONG,		/* line over max_line; ERR appended, close */
	PROTO_NOMEM		/* could not grow a buffer; close */
};

struct proto {
	struct buf	 line;		/* the partial line, at most max_line */
	size_t		 max_line;
	unsigned long	 lines;		/* requests answered */
};

void	proto_init(struct proto *, size_t max_line);
void	proto_free(struct proto *);

/*
 * Feed n bytes of input.  Replies are appended to out.  On return *used
 * holds how many input bytes were consumed: all of them unless the session
 * ended (bytes after the ending line are not the protocol's business).
 */
enum proto_status proto_feed(struct proto *, const char *in, size_t n,
	    struct buf *out, size_t *used);

/* Bytes of a line received but not yet terminated. */
size_t	proto_partial(const struct proto *);

#endif
