/*
 * proto.c - the uppercase line protocol: framing and the reply.
 *
 * The only place that knows what a request and a reply are.  It keeps
 * at most max_line bytes of a partial line per session; whole lines that
 * arrive in one piece are converted straight from the caller's buffer.
 */
#include <stdio.h>
#include <string.h>

#include "casemap.h"
#include "proto.h"

void
proto_init(struct proto *p, size_t max_line)
{
	buf_init(&p->line);
	p->max_line = max_line ? max_line : PROTO_DEFAULT_MAX_LINE;
	p->lines = 0;
}

void
proto_free(struct proto *p)
{
	buf_free(&p->line);
}

size_t
proto_partial(const struct proto *p)
{
	return buf_pending(&p->line);
}

/* "." or ".\r", terminator excluded: the client says goodbye. */
static int
is_end(const char *s, size_t len)
{
	return (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '\r');
}

static enum proto_status
too_long(struct proto *p, struct buf *out)
{
	char msg[64];
	int n;

	n = snprintf(msg, sizeof(msg), "ERR line too long (max %zu bytes)\n",
	    p->max_line);
	buf_clear(&p->line);
	if (n < 0 || buf_append(out, msg, (size_t)n) == -1)
		return PROTO_NOMEM;
	return PROTO_TOOLONG;
}

/* Upper-case one whole line (terminator included) onto out. */
static int
reply(const char *line, size_t len, struct buf *out)
{
	char *dst;

	if ((dst = buf_reserve(out, len * CASE_MAX_EXPANSION)) == NULL)
		return -1;
	out->len += case_upper(line, len, dst);
	return 0;
}

enum proto_status
proto_feed(struct proto *p, const char *in, size_t n, struct buf *out,
    size_t *used)
{
	const char *nl, *line;
	size_t i = 0, seg, len, partial;

	*used = n;
	while (i < n) {
		nl = memchr(in + i, '\n', n - i);
		seg = nl ? (size_t)(nl - (in + i)) + 1 : n - i;
		partial = buf_pending(&p->line);
		/* Count only the line's bytes, not its '\n': the limit is
		 * then the same however the line was split. */
		if (partial + seg - (nl ? 1 : 0) > p->max_line)
			return too_long(p, out);
		if (nl == NULL)
			return buf_append(&p->line, in + i, seg) == -1 ?
			    PROTO_NOMEM : PROTO_MORE;
		if (partial == 0) {
			line = in + i;
			len = seg;
		} else {
			if (buf_append(&p->line, in + i, seg) == -1)
				return PROTO_NOMEM;
			line = buf_head(&p->line);
			len = buf_pending(&p->line);
		}
		i += seg;
		if (is_end(line, len - 1)) {
			buf_clear(&p->line);
			*used = i;
			return PROTO_END;
		}
		if (reply(line, len, out) == -1)
			return PROTO_NOMEM;
		buf_clear(&p->line);
		p->lines++;
	}
	/* A long line's buffer is not kept once it is answered. */
	buf_shrink(&p->line, 4096);
	return PROTO_MORE;
}
