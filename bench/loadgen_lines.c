/*
 * loadgen_lines.c - the request lines and the replies they must get.
 *
 * Generating a line per request and upper-casing it again to check the
 * reply cost loadgen more CPU per byte than the server spent answering, so
 * the lines are made once, before the run: a pool of letters-and-digits
 * lines (about POOL_BYTES of them, at least POOL_MIN lines) with their
 * replies upper-cased by the server's own mapping (lib/casemap.c).
 * Request seq of session id is pool line mix(seed, id, seq): the lines
 * still vary per request and per session, and a reply is checked with
 * memcmp() against the one expected, as its bytes arrive, so nothing is
 * copied or buffered.  --request is a pool of one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "casemap.h"
#include "loadgen_session.h"

#define POOL_BYTES	(4u << 20)	/* of requests; as much of replies */
#define POOL_MIN	16
#define POOL_MAX	4096

static struct {
	size_t	 n;		/* lines */
	size_t	 len;		/* bytes of each request, '\n' included */
	size_t	 rlen;		/* bytes of each reply */
	char	*req;		/* n * len */
	char	*rep;		/* n * rlen */
	uint64_t seed;		/* mixed --seed */
} pool;

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 64 symbols so that 6 random bits pick one; a-z and 0-9 only. */
static const char alnum64[] =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01";

/* Pool line k: size-1 letters and digits, then '\n'. */
static void
gen_line(char *dst, size_t size, uint64_t k)
{
	uint64_t state, x = 0;
	size_t i;

	state = mix64(pool.seed ^ (k * 0xd1b54a32d192ed03ULL));
	for (i = 0; i + 1 < size; i++) {
		if (i % 10 == 0)
			x = mix64(state += 0x9e3779b97f4a7c15ULL);
		dst[i] = alnum64[x & 63];
		x >>= 6;
	}
	dst[size - 1] = '\n';
}

int
lines_init(const struct opts *o)
{
	char *up;
	size_t i;

	pool.seed = mix64(o->seed * 0x9e3779b97f4a7c15ULL + 1);
	pool.len = o->request != NULL ? o->request_len : o->size;
	pool.n = o->request != NULL ? 1 : POOL_BYTES / pool.len;
	if (pool.n < POOL_MIN && o->request == NULL)
		pool.n = POOL_MIN;
	if (pool.n > POOL_MAX)
		pool.n = POOL_MAX;
	pool.req = malloc(pool.n * pool.len);
	up = malloc(CASE_MAX_EXPANSION * pool.len);
	if (pool.req == NULL || up == NULL)
		goto fail;
	if (o->request != NULL)
		memcpy(pool.req, o->request, pool.len);
	else
		for (i = 0; i < pool.n; i++)
			gen_line(pool.req + i * pool.len, pool.len, i);
	/* Generated lines are ASCII: every reply has the request's length. */
	pool.rlen = case_upper(pool.req, pool.len, up);
	if ((pool.rep = malloc(pool.n * pool.rlen)) == NULL)
		goto fail;
	memcpy(pool.rep, up, pool.rlen);
	for (i = 1; i < pool.n; i++)
		case_upper(pool.req + i * pool.len, pool.len,
		    pool.rep + i * pool.rlen);
	free(up);
	return 0;
fail:
	free(up);
	lines_free();
	return -1;
}

void
lines_free(void)
{
	free(pool.req);
	free(pool.rep);
	pool.req = pool.rep = NULL;
}

static size_t
line_of(uint32_t id, uint64_t seq)
{
	if (pool.n == 1)
		return 0;
	return (size_t)(mix64(mix64(id + 1) ^ (seq * 0x9e3779b97f4a7c15ULL)) %
	    pool.n);
}

const char *
line_request(uint32_t id, uint64_t seq, size_t *len)
{
	*len = pool.len;
	return pool.req + line_of(id, seq) * pool.len;
}

/* --no-verify: a reply is any line. */
static size_t
feed_any(struct rx *r, const char *d, size_t n, int *verdict)
{
	const char *nl = memchr(d, '\n', n);

	if (nl == NULL) {
		r->off += n;
		*verdict = 0;
		return n;
	}
	r->off = 0;
	*verdict = 1;
	return (size_t)(nl - d) + 1;
}

/*
 * Take n received bytes of the reply to request seq of session id.
 * Returns how many belong to it; *verdict is 1 when it is complete and
 * right, -1 when it was wrong (its line has ended), 0 when more is to come
 * (all n bytes taken).  A wrong reply is skipped up to its '\n'.
 */
size_t
reply_feed(struct rx *r, uint32_t id, uint64_t seq, const char *d, size_t n,
    int *verdict)
{
	const char *want;
	size_t k, m = 0;

	if (!run.o->verify)
		return feed_any(r, d, n, verdict);
	if (!r->bad) {
		want = pool.rep + line_of(id, seq) * pool.rlen + r->off;
		k = pool.rlen - r->off < n ? pool.rlen - r->off : n;
		if (memcmp(d, want, k) == 0) {
			r->off += k;
			*verdict = r->off == pool.rlen;
			if (*verdict)
				r->off = 0;
			return k;
		}
		/* The first byte that differs may be the wrong line's end. */
		while (d[m] == want[m])
			m++;
		r->bad = 1;
		r->off += m;
	}
	k = feed_any(r, d + m, n - m, verdict);
	if (*verdict) {
		r->bad = 0;
		*verdict = -1;
	}
	return m + k;
}
