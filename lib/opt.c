/*
 * opt.c - option values and the monotonic clock, shared by the programs.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "opt.h"

int
opt_long(const char *opt, const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || *v < min || *v > max) {
		log_err("%s: '%s' is not a number from %ld to %ld", opt, s,
		    min, max);
		return -1;
	}
	return 0;
}

int
opt_msec(const char *opt, const char *s, int zero_ok, double max, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !isfinite(v) || v < 0 ||
	    (v == 0 && !zero_ok) || v > max) {
		log_err("%s: '%s' is not a number of seconds from %s to %g",
		    opt, s, zero_ok ? "0" : "above 0", max);
		return -1;
	}
	*ms = v == 0 ? 0 : v * 1000 < 1 ? 1 : (int)(v * 1000 + 0.5);
	return 0;
}

long long
mono_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux: no check worth a branch
	 * in every caller, but never use a garbage value. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
