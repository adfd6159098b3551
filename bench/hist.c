/*
 * hist.c - log-linear histogram (see hist.h).
 *
 * Layout, with N = 1 << sub_bits and H = N / 2:
 *	index 0 .. N-1		values 0 .. N-1, one value per bucket;
 *	then, for e = 1, 2, ...	H buckets of width 2^e covering
 *				[N * 2^(e-1), N * 2^e).
 * A value v >= N has its top sub_bits bits in [H, N) once shifted right by
 * e = msb(v) - (sub_bits - 1); those bits pick the sub-bucket.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

static int
msb64(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

static size_t
index_of(const struct hist *h, uint64_t v)
{
	uint64_t n = 1ULL << h->sub_bits, half = n >> 1;
	int e;

	if (v < n)
		return (size_t)v;
	e = msb64(v) - (h->sub_bits - 1);
	return (size_t)(n + (uint64_t)(e - 1) * half + ((v >> e) - half));
}

static void
bounds_of(const struct hist *h, size_t i, uint64_t *lo, uint64_t *hi)
{
	uint64_t n = 1ULL << h->sub_bits, half = n >> 1, j;
	int e;

	if (i < n) {
		*lo = *hi = i;
		return;
	}
	j = i - n;
	e = (int)(j / half) + 1;
	*lo = (half + j % half) << e;
	*hi = *lo + (1ULL << e) - 1;
}

int
hist_init(struct hist *h, uint64_t highest, int sub_bits)
{
	memset(h, 0, sizeof(*h));
	if (sub_bits < 1 || sub_bits > 20 || highest < (2ULL << sub_bits) ||
	    highest > (UINT64_MAX >> 1)) {
		errno = EINVAL;
		return -1;
	}
	h->sub_bits = sub_bits;
	h->highest = highest;
	h->ncounts = index_of(h, highest) + 1;
	h->counts = calloc(h->ncounts, sizeof(h->counts[0]));
	if (h->counts == NULL)
		return -1;
	h->min = UINT64_MAX;
	return 0;
}

void
hist_free(struct hist *h)
{
	free(h->counts);
	h->counts = NULL;
	h->ncounts = 0;
}

void
hist_reset(struct hist *h)
{
	memset(h->counts, 0, h->ncounts * sizeof(h->counts[0]));
	h->total = h->clamped = h->max = 0;
	h->min = UINT64_MAX;
	h->sum = 0;
}

void
hist_record_n(struct hist *h, uint64_t v, uint64_t n)
{
	uint64_t b = v;

	if (n == 0)
		return;
	if (b > h->highest) {
		b = h->highest;
		h->clamped += n;
	}
	h->counts[index_of(h, b)] += n;
	h->total += n;
	h->sum += (long double)v * n;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void
hist_record(struct hist *h, uint64_t v)
{
	hist_record_n(h, v, 1);
}

int
hist_merge(struct hist *dst, const struct hist *src)
{
	size_t i;

	if (dst->sub_bits != src->sub_bits || dst->highest != src->highest) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < src->ncounts; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0, lo, hi;
	size_t i;

	if (h->total == 0)
		return 0;
	if (!(p > 0))
		return h->min;
	if (p >= 100)
		return h->max;
	/* The smallest value with at least p% of the values at or below it. */
	rank = hist_rank(p, h->total);
	for (i = 0; i < h->ncounts; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == h->ncounts)
		return h->max;
	bounds_of(h, i, &lo, &hi);
	if (hi > h->max)
		hi = h->max;
	if (hi < h->min)
		hi = h->min;
	return hi;
}

double
hist_mean(const struct hist *h)
{
	if (h->total == 0)
		return 0;
	return (double)(h->sum / h->total);
}

uint64_t
hist_min(const struct hist *h)
{
	return h->total ? h->min : 0;
}

uint64_t
hist_max(const struct hist *h)
{
	return h->max;
}

uint64_t
hist_count(const struct hist *h)
{
	return h->total;
}

uint64_t
hist_lowest_equiv(const struct hist *h, uint64_t v)
{
	uint64_t lo, hi;

	bounds_of(h, index_of(h, v > h->highest ? h->highest : v), &lo, &hi);
	return lo;
}

uint64_t
hist_highest_equiv(const struct hist *h, uint64_t v)
{
	uint64_t lo, hi;

	bounds_of(h, index_of(h, v > h->highest ? h->highest : v), &lo, &hi);
	return hi;
}

int
hist_next(const struct hist *h, size_t *iter, struct hist_bucket *b)
{
	size_t i;

	if (*iter == 0)
		b->cumulative = 0;
	for (i = *iter; i < h->ncounts; i++) {
		if (h->counts[i] == 0)
			continue;
		bounds_of(h, i, &b->lo, &b->hi);
		b->count = h->counts[i];
		b->cumulative += b->count;
		*iter = i + 1;
		return 1;
	}
	*iter = h->ncounts;
	return 0;
}
