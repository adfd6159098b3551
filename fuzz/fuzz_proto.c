/*
 * fuzz_proto - libFuzzer target for the framing of lib/proto.c.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
 *	    -D_POSIX_C_SOURCE=200809L fuzz/fuzz_proto.c lib/proto.c \
 *	    lib/buf.c lib/casemap.c lib/casetab.c
 *	(or: make fuzz)
 *
 * The first input byte picks max_line (bit 7 set: the default 65536;
 * otherwise 1 + its low 7 bits, so that the limit is reached often); the
 * rest is what a client sends.  The same bytes are fed in one piece, one
 * byte at a time, and cut at split points drawn from a PRNG seeded by
 * the input, and compared with a reference framing written here in the
 * plainest way.  Invariants, any breach of which aborts:
 *	- the three feedings and the reference give the same replies, the
 *	  same final status and the same count of lines answered, and (but
 *	  after TOOLONG, where a refused piece counts whole) the same count
 *	  of bytes used;
 *	- replies are at most 3 x input + the ERR line;
 *	- the partial line never exceeds max_line, and is empty after the
 *	  session ends.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casemap.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_proto: %s:%d: %s: ", __FILE__,	\
		    __LINE__, #cond);					\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

enum feeding { WHOLE, BYTES, RANDOM };

struct result {
	struct buf		 out;
	enum proto_status	 st;
	size_t			 consumed;
	unsigned long		 lines;
	size_t			 partial;
};

static uint64_t
mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	CHECK(p != NULL, "malloc %zu", n);
	return p;
}

/*
 * Feed in[0..n) the given way, each piece in a buffer of its exact size
 * so that AddressSanitizer sees any read past it.  Stops at the first
 * status other than MORE, as a server does.
 */
static void
feed(struct result *r, enum feeding how, size_t max_line, const char *in,
    size_t n, uint64_t seed)
{
	struct proto p;
	size_t start = 0, len, used;
	char *piece;

	buf_init(&r->out);
	r->st = PROTO_MORE;
	r->consumed = 0;
	proto_init(&p, max_line);
	while (start < n) {
		len = how == WHOLE ? n - start : how == BYTES ? 1 :
		    1 + mix(&seed) % (n - start < 64 ? n - start : 64);
		piece = xmalloc(len);
		memcpy(piece, in + start, len);
		r->st = proto_feed(&p, piece, len, &r->out, &used);
		free(piece);
		CHECK(r->st != PROTO_NOMEM, "out of memory");
		CHECK(used <= len, "used %zu of %zu", used, len);
		CHECK(proto_partial(&p) <= p.max_line,
		    "partial %zu > max_line %zu", proto_partial(&p),
		    p.max_line);
		r->consumed += used;
		if (r->st != PROTO_MORE) {
			CHECK(proto_partial(&p) == 0,
			    "partial %zu after the end", proto_partial(&p));
			break;
		}
		CHECK(used == len, "MORE but used %zu of %zu", used, len);
		start += len;
	}
	r->lines = p.lines;
	r->partial = proto_partial(&p);
	proto_free(&p);
}

static void
append(struct buf *b, const char *s, size_t n)
{
	CHECK(buf_append(b, s, n) == 0, "buf_append");
}

/* The framing of proto.h, one whole input, as plainly as possible. */
static void
reference(struct result *r, size_t max_line, const char *in, size_t n)
{
	const char *nl;
	char msg[64], *up;
	size_t pos = 0, len;
	int k;

	buf_init(&r->out);
	r->lines = 0;
	r->partial = 0;
	r->consumed = n;
	r->st = PROTO_MORE;
	while (pos < n) {
		nl = memchr(in + pos, '\n', n - pos);
		len = nl ? (size_t)(nl - (in + pos)) : n - pos;
		if (len > max_line) {
			k = snprintf(msg, sizeof(msg),
			    "ERR line too long (max %zu bytes)\n", max_line);
			append(&r->out, msg, (size_t)k);
			r->st = PROTO_TOOLONG;
			return;
		}
		if (nl == NULL) {
			r->partial = len;
			return;
		}
		if ((len == 1 && in[pos] == '.') ||
		    (len == 2 && in[pos] == '.' && in[pos + 1] == '\r')) {
			r->consumed = pos + len + 1;
			r->st = PROTO_END;
			return;
		}
		up = xmalloc(CASE_MAX_EXPANSION * (len + 1));
		append(&r->out, up, case_upper(in + pos, len + 1, up));
		free(up);
		r->lines++;
		pos += len + 1;
	}
}

static void
same(const struct result *a, const struct result *b, const char *what)
{
	CHECK(a->st == b->st, "%s: status %d vs %d", what, a->st, b->st);
	CHECK(a->lines == b->lines, "%s: lines %lu vs %lu", what, a->lines,
	    b->lines);
	CHECK(a->st == PROTO_TOOLONG || a->consumed == b->consumed,
	    "%s: used %zu vs %zu", what, a->consumed, b->consumed);
	CHECK(a->partial == b->partial, "%s: partial %zu vs %zu", what,
	    a->partial, b->partial);
	CHECK(buf_pending(&a->out) == buf_pending(&b->out),
	    "%s: %zu vs %zu reply bytes", what, buf_pending(&a->out),
	    buf_pending(&b->out));
	CHECK(buf_pending(&a->out) == 0 || memcmp(buf_head(&a->out),
	    buf_head(&b->out), buf_pending(&a->out)) == 0,
	    "%s: replies differ", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result ref, whole, bytes, rnd;
	const char *in = (const char *)data + 1;
	size_t n, max_line, errlen;
	uint64_t seed = 0xcbf29ce484222325ULL;
	size_t i;
	char msg[64];

	if (size == 0)
		return 0;
	n = size - 1;
	max_line = (data[0] & 0x80) ? PROTO_DEFAULT_MAX_LINE :
	    1 + (size_t)(data[0] & 0x7f);
	for (i = 0; i < size; i++)		/* FNV-1a */
		seed = (seed ^ data[i]) * 0x100000001b3ULL;

	reference(&ref, max_line, in, n);
	feed(&whole, WHOLE, max_line, in, n, seed);
	feed(&bytes, BYTES, max_line, in, n, seed);
	feed(&rnd, RANDOM, max_line, in, n, seed);
	same(&whole, &ref, "one piece vs reference");
	same(&bytes, &whole, "byte by byte vs one piece");
	same(&rnd, &whole, "random pieces vs one piece");

	errlen = (size_t)snprintf(msg, sizeof(msg),
	    "ERR line too long (max %zu bytes)\n", max_line);
	CHECK(buf_pending(&whole.out) <= CASE_MAX_EXPANSION * n + errlen,
	    "%zu reply bytes for %zu input bytes", buf_pending(&whole.out), n);

	buf_free(&ref.out);
	buf_free(&whole.out);
	buf_free(&bytes.out);
	buf_free(&rnd.out);
	return 0;
}
