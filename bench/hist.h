/*
 * hist.h - a log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values are unsigned integers in any unit (loadgen records nanoseconds).
 * Every power of two is split into the same number of linear sub-buckets,
 * so the width of a bucket is a fixed fraction of its value: with the
 * default 8 sub-bucket bits a bucket is at most 1/128 (0.78 %) of its
 * lowest value wide, values below 256 are exact.  The counts live in one
 * flat array: recording is a shift, a few additions and an increment;
 * histograms of the same shape merge by adding their arrays.
 *
 * Values above the highest trackable value are counted in the top bucket
 * (and in `clamped`); min, max and the sum are kept exactly, so mean and
 * max are exact whatever the bucket width.
 */
#ifndef SOCKLAB_HIST_H
#define SOCKLAB_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS	8		/* 128 sub-buckets per octave */
#define HIST_NS_MAX	(60ULL * 1000000000ULL)	/* 60 s, in ns */

struct hist {
	uint64_t	*counts;
	size_t		 ncounts;
	int		 sub_bits;	/* 1 << sub_bits sub-buckets */
	uint64_t	 highest;	/* largest value tracked */
	uint64_t	 total;		/* values recorded */
	uint64_t	 min;		/* exact; UINT64_MAX while empty */
	uint64_t	 max;		/* exact */
	uint64_t	 clamped;	/* values above highest */
	long double	 sum;		/* exact enough for a mean */
};

/* A non-empty bucket, as returned by hist_next(). */
struct hist_bucket {
	uint64_t	 lo;		/* lowest value that lands here */
	uint64_t	 hi;		/* highest value that lands here */
	uint64_t	 count;
	uint64_t	 cumulative;	/* values up to this bucket */
};

/*
 * highest: largest value to track (at least 2 << sub_bits);
 * sub_bits: 1..20, relative bucket width is 2 / (1 << sub_bits).
 * Returns 0, or -1 with errno (EINVAL, ENOMEM).
 */
int	 hist_init(struct hist *, uint64_t highest, int sub_bits);
void	 hist_free(struct hist *);
void	 hist_reset(struct hist *);

void	 hist_record(struct hist *, uint64_t value);
void	 hist_record_n(struct hist *, uint64_t value, uint64_t n);

/* dst += src.  Both must have the same highest and sub_bits: -1 if not. */
int	 hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value at percentile p (0..100): the highest value of the bucket that
 * holds the ceil(p% * total)-th smallest value, never above the exact max
 * (so p100 == max) and never below the exact min (p0 == min).
 * 0 when empty.
 */
uint64_t hist_percentile(const struct hist *, double p);

/*
 * The rank of percentile p (0..100) among n values, 1..n: ceil(p% * n),
 * shaved by a relative 1e-12 so that rounding cannot push an exact rank up
 * by one (0.999 * 1000 is 999, not 999.0000000000001 -> 1000).  The one
 * rank rule, shared with bin/pingpong's exact percentiles.
 */
static inline uint64_t
hist_rank(double p, uint64_t n)
{
	double r = p / 100.0 * (double)n * (1 - 1e-12);
	uint64_t k;

	if (!(r > 0))
		return n > 0;
	if (r >= (double)n)
		return n;
	k = (uint64_t)r;
	return (double)k < r ? k + 1 : k;
}
double	 hist_mean(const struct hist *);
uint64_t hist_min(const struct hist *);	/* 0 when empty */
uint64_t hist_max(const struct hist *);
uint64_t hist_count(const struct hist *);

/* Bucket bounds for a value: what recording it would be reported as. */
uint64_t hist_lowest_equiv(const struct hist *, uint64_t value);
uint64_t hist_highest_equiv(const struct hist *, uint64_t value);

/*
 * Walk the non-empty buckets in increasing order:
 *	size_t it = 0; struct hist_bucket b;
 *	while (hist_next(h, &it, &b)) ...
 */
int	 hist_next(const struct hist *, size_t *iter, struct hist_bucket *);

#endif
