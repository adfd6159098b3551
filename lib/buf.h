/*
 * buf.h - a growable byte buffer with a read offset.
 *
 * Used for session output (replies waiting to be written) and for the
 * partial line the protocol is assembling.  Growth is geometric; callers
 * bound the size themselves (see proto.h, --max-line, --max-output).
 */
#ifndef SOCKLAB_BUF_H
#define SOCKLAB_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 off;		/* first unconsumed byte */
	size_t	 len;		/* end of valid bytes; pending = len - off */
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
/* Make room for n more bytes; returns a pointer to them, or NULL (ENOMEM). */
char	*buf_reserve(struct buf *, size_t n);
int	 buf_append(struct buf *, const void *, size_t);	/* 0 or -1 */
void	 buf_consume(struct buf *, size_t);
size_t	 buf_pending(const struct buf *);
const char *buf_head(const struct buf *);
void	 buf_clear(struct buf *);
/* Give memory back once a burst has drained (keeps idle sessions small). */
void	 buf_shrink(struct buf *, size_t keep);

#endif
