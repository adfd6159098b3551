/*
 * pingpong.c - unit test of bin/pingpong's exact percentiles.
 *
 * pingpong keeps every round trip and sorts them; the p-th percentile is
 * the ceil(p% * n)-th smallest, as in bench/hist.c.  A floating-point rank
 * (0.999 * 1000 = 999.0000000000001) must not push it one rank up: p99.9
 * of 1000 samples is the 999th, not the maximum.
 */
#define _GNU_SOURCE		/* as bench/pingpong.c: wait4 */
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
/* The unit is built from this one file: take the program in, less main. */
int	pingpong_main(int, char **);
#define main pingpong_main
#include "../../bench/pingpong.c"
#undef main

int
main(void)
{
	static const struct { size_t n; double p; size_t rank; } cases[] = {
		{ 1000, 99.9, 999 }, { 1000, 99, 990 }, { 1000, 50, 500 },
		{ 4000, 99.9, 3996 }, { 10000, 99.99, 9999 }, { 100, 29, 29 },
		{ 1000, 99.95, 1000 }, { 1000, 0.05, 1 }, { 1000, 100, 1000 },
		{ 1, 50, 1 }, { 7, 50, 4 },
	};
	struct result res;
	size_t i, k;

	memset(&res, 0, sizeof(res));
	res.rtt = malloc(10000 * sizeof(*res.rtt));
	if (res.rtt == NULL)
		return 1;
	/* Sample k (1-based) is k microseconds: the rank reads back as us. */
	for (k = 0; k < 10000; k++)
		res.rtt[k] = (uint64_t)(k + 1) * 1000;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		res.n = cases[i].n;
		is((long long)pct_us(&res, cases[i].p), (long long)cases[i].rank,
		    "p%g of %zu samples is the %zu-th smallest", cases[i].p,
		    cases[i].n, cases[i].rank);
	}
	res.n = 0;
	ok(pct_us(&res, 50) == 0, "no samples: 0");
	free(res.rtt);
	return done_testing();
}
