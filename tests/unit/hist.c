/*
 * hist.c - unit test of bench/hist.c, the loadgen latency histogram.
 *
 * Percentiles of known distributions (uniform, exponential, constant) are
 * compared with the exact percentiles of the same samples, sorted: the
 * histogram must stay within 1 %.  Merging two halves must give the
 * histogram of the whole.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
/* The unit is built from this one file (see the Makefile): take the code in. */
#include "../../bench/hist.c"

#define NSAMPLES	200000

static uint64_t rng_state = 0x5eed;

static uint64_t
rng(void)
{
	/* splitmix64: small, and deterministic across libcs */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
unit_uniform(void)
{
	return (double)(rng() >> 11) / 9007199254740992.0;	/* [0, 1) */
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact p-th percentile, with hist_percentile()'s rank rule. */
static uint64_t
exact_percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static const double pcts[] = { 1, 10, 50, 90, 99, 99.9, 99.99, 100 };
#define NPCTS	(sizeof(pcts) / sizeof(pcts[0]))

/* Every listed percentile within 1 % of the exact one; worst error out. */
static int
check_percentiles(const struct hist *h, uint64_t *v, size_t n, double *worst)
{
	size_t i;
	int good = 1;

	qsort(v, n, sizeof(v[0]), cmp_u64);
	*worst = 0;
	for (i = 0; i < NPCTS; i++) {
		double want = (double)exact_percentile(v, n, pcts[i]);
		double got = (double)hist_percentile(h, pcts[i]);
		double err = fabs(got - want) / want;

		if (err > *worst)
			*worst = err;
		if (err > 0.01) {
			diag("p%g: got %.0f, exact %.0f (%.3f %%)", pcts[i],
			    got, want, 100 * err);
			good = 0;
		}
	}
	return good;
}

static double
exact_mean(const uint64_t *v, size_t n)
{
	long double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += v[i];
	return (double)(s / n);
}

static void
test_shape(void)
{
	struct hist h;
	uint64_t v, worst_v = 0;
	double worst = 0;
	int good = 1;

	ok(hist_init(&h, HIST_NS_MAX, 0) == -1 && errno == EINVAL,
	    "sub_bits 0 is refused");
	ok(hist_init(&h, 100, HIST_SUB_BITS) == -1 && errno == EINVAL,
	    "a range narrower than two octaves of sub-buckets is refused");
	ok(hist_init(&h, HIST_NS_MAX, HIST_SUB_BITS) == 0, "init 1 ns..60 s");
	diag("%zu counters (%zu KiB)", h.ncounts,
	    h.ncounts * sizeof(uint64_t) / 1024);
	ok(h.ncounts < 8192, "the counts array stays small");

	/* Every value from 1 us to 60 s lands in a bucket < 1 % wide. */
	for (v = 1000; v <= HIST_NS_MAX; v += v / 97 + 1) {
		uint64_t lo = hist_lowest_equiv(&h, v);
		uint64_t hi = hist_highest_equiv(&h, v);
		double w = (double)(hi - lo + 1) / (double)lo;

		if (lo > v || hi < v || w > 0.01) {
			good = 0;
			break;
		}
		if (w > worst) {
			worst = w;
			worst_v = v;
		}
	}
	ok(good, "buckets hold their value and are < 1 %% wide, 1 us..60 s "
	    "(widest %.3f %% at %llu ns)", 100 * worst,
	    (unsigned long long)worst_v);

	ok(hist_count(&h) == 0 && hist_percentile(&h, 50) == 0 &&
	    hist_max(&h) == 0 && hist_min(&h) == 0 && hist_mean(&h) == 0,
	    "an empty histogram reports zeros");
	hist_free(&h);
}

static void
test_exact_region(void)
{
	struct hist h;
	uint64_t v;

	hist_init(&h, HIST_NS_MAX, HIST_SUB_BITS);
	for (v = 1; v <= 100; v++)
		hist_record(&h, v);
	is((long long)hist_percentile(&h, 50), 50, "1..100: p50 is 50");
	is((long long)hist_percentile(&h, 99), 99, "1..100: p99 is 99");
	is((long long)hist_percentile(&h, 99.5), 100, "1..100: p99.5 is 100");
	is((long long)hist_percentile(&h, 0), 1, "1..100: p0 is the min");
	is((long long)hist_percentile(&h, 100), 100, "1..100: p100 is the max");
	ok(fabs(hist_mean(&h) - 50.5) < 1e-9, "1..100: mean 50.5 (%g)",
	    hist_mean(&h));

	/* 3996 small values and 4 large: p99.9 is the 3996th, a small one. */
	hist_reset(&h);
	hist_record_n(&h, 10, 3996);
	hist_record_n(&h, 200, 4);
	is((long long)hist_percentile(&h, 99.9), 10,
	    "p99.9 of 4000 is the 3996th value: no rounding up of the rank");
	is((long long)hist_percentile(&h, 99.91), 200,
	    "p99.91 of 4000 is the 3997th value");
	hist_free(&h);
}

static void
test_distribution(const char *name, uint64_t *v, size_t n)
{
	struct hist h;
	double worst, want_mean;
	size_t i;
	int good;

	hist_init(&h, HIST_NS_MAX, HIST_SUB_BITS);
	for (i = 0; i < n; i++)
		hist_record(&h, v[i]);
	is((long long)hist_count(&h), (long long)n, "%s: count", name);
	want_mean = exact_mean(v, n);
	ok(fabs(hist_mean(&h) - want_mean) / want_mean < 1e-9,
	    "%s: mean is exact (%.1f vs %.1f)", name, hist_mean(&h), want_mean);
	good = check_percentiles(&h, v, n, &worst);
	ok(good,
	    "%s: p1..p100 within 1 %% of the exact percentiles (worst %.3f %%)",
	    name, 100 * worst);
	is((long long)hist_max(&h), (long long)v[n - 1], "%s: max is exact",
	    name);
	is((long long)hist_min(&h), (long long)v[0], "%s: min is exact", name);
	hist_free(&h);
}

static void
test_constant(void)
{
	struct hist h;
	size_t i;
	int good = 1;

	hist_init(&h, HIST_NS_MAX, HIST_SUB_BITS);
	for (i = 0; i < 100000; i++)
		hist_record(&h, 123457);
	for (i = 0; i < NPCTS; i++)
		if (hist_percentile(&h, pcts[i]) != 123457)
			good = 0;
	ok(good, "constant 123457: every percentile is exactly the value");
	ok(hist_mean(&h) == 123457.0, "constant: mean is the value");
	hist_free(&h);
}

static void
test_merge(const uint64_t *v, size_t n)
{
	struct hist all, a, b, other;
	size_t i, ia = 0, ib = 0;
	struct hist_bucket ba, bb;
	int same = 1, good = 1;

	hist_init(&all, HIST_NS_MAX, HIST_SUB_BITS);
	hist_init(&a, HIST_NS_MAX, HIST_SUB_BITS);
	hist_init(&b, HIST_NS_MAX, HIST_SUB_BITS);
	for (i = 0; i < n; i++) {
		hist_record(&all, v[i]);
		hist_record(i % 3 ? &a : &b, v[i]);
	}
	ok(hist_merge(&a, &b) == 0, "merge two halves");
	is((long long)hist_count(&a), (long long)n, "merged count");
	for (i = 0; i < NPCTS; i++)
		if (hist_percentile(&a, pcts[i]) !=
		    hist_percentile(&all, pcts[i]))
			same = 0;
	ok(same, "merged percentiles equal those of the whole");
	ok(hist_max(&a) == hist_max(&all) && hist_min(&a) == hist_min(&all) &&
	    fabs(hist_mean(&a) - hist_mean(&all)) < 1e-6,
	    "merged min, max and mean equal those of the whole");

	/* The iteration sees the same non-empty buckets in both. */
	while (hist_next(&a, &ia, &ba)) {
		if (!hist_next(&all, &ib, &bb) || ba.lo != bb.lo ||
		    ba.count != bb.count || ba.count == 0 || ba.hi < ba.lo) {
			good = 0;
			break;
		}
	}
	ok(good && !hist_next(&all, &ib, &bb) && ba.cumulative == n,
	    "iteration: same non-empty buckets, cumulative ends at the count");

	hist_init(&other, HIST_NS_MAX / 2, HIST_SUB_BITS);
	ok(hist_merge(&a, &other) == -1 && errno == EINVAL,
	    "merging histograms of different shape is refused");
	hist_free(&other);
	hist_free(&all);
	hist_free(&a);
	hist_free(&b);
}

static void
test_clamp(void)
{
	struct hist h;

	hist_init(&h, HIST_NS_MAX, HIST_SUB_BITS);
	hist_record(&h, 1000);
	hist_record(&h, 2 * HIST_NS_MAX);
	is((long long)h.clamped, 1,
	    "a value above the range is counted as clamped");
	is((long long)hist_max(&h), (long long)(2 * HIST_NS_MAX),
	    "its exact value is still the max");
	is((long long)hist_percentile(&h, 100), (long long)(2 * HIST_NS_MAX),
	    "p100 is the max");
	hist_reset(&h);
	ok(hist_count(&h) == 0 && hist_max(&h) == 0, "reset empties it");
	hist_free(&h);
}

int
main(void)
{
	uint64_t *v;
	size_t i;

	if ((v = malloc(NSAMPLES * sizeof(*v))) == NULL)
		return 1;
	test_shape();
	test_exact_region();

	/* Uniform over 1 us .. 1 s, in ns. */
	for (i = 0; i < NSAMPLES; i++)
		v[i] = 1000 + (uint64_t)(unit_uniform() * 999999000.0);
	test_distribution("uniform 1us..1s", v, NSAMPLES);

	/* Exponential, mean 1 ms: a long tail, as latency has. */
	for (i = 0; i < NSAMPLES; i++)
		v[i] = 1000 + (uint64_t)(-log(1.0 - unit_uniform()) * 1e6);
	test_merge(v, NSAMPLES);
	test_distribution("exponential mean 1ms", v, NSAMPLES);

	test_constant();
	test_clamp();
	free(v);
	return done_testing();
}
