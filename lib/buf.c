/*
 * buf.c - a growable byte buffer with a read offset.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

char *
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	/* Slide pending bytes down before growing: reuse what was consumed. */
	if (b->off > 0 && b->cap - b->len < n) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len >= n)
		return b->data + b->len;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n) {
		if (cap > (size_t)-1 / 2)
			return NULL;
		cap *= 2;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		return NULL;
	b->data = p;
	b->cap = cap;
	return b->data + b->len;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	char *dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

size_t
buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

const char *
buf_head(const struct buf *b)
{
	return b->data + b->off;
}

void
buf_clear(struct buf *b)
{
	b->off = b->len = 0;
}

void
buf_shrink(struct buf *b, size_t keep)
{
	if (buf_pending(b) == 0 && b->cap > keep)
		buf_free(b);
}
