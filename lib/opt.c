/*
 * opt.c - option values and the monotonic clock, shared by the programs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opt.h"

size_t
opt_decimal(const char *s, int frac)
{
	size_t n = 0, m;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (!frac || s[n] != '.')
		return n;
	for (m = n + 1; s[m] >= '0' && s[m] <= '9'; m++)
		;
	return n > 0 || m > n + 1 ? m : n;	/* "2.", ".5"; not "." */
}

int
opt_long(const char *opt, const char *s, long min, long max, long *v)
{
	size_t n = opt_decimal(s, 0);

	errno = 0;
	*v = n > 0 && s[n] == '\0' ? strtol(s, NULL, 10) : -1;
	if (n == 0 || s[n] != '\0' || errno || *v < min || *v > max) {
		log_err("%s: '%s' is not a number from %ld to %ld", opt, s,
		    min, max);
		return -1;
	}
	return 0;
}

int
opt_double(const char *opt, const char *s, double min, double max,
    double *v)
{
	size_t n = opt_decimal(s, 1);

	errno = 0;
	*v = n > 0 && s[n] == '\0' ? strtod(s, NULL) : -1;
	if (n == 0 || s[n] != '\0' || errno || *v < min || *v > max) {
		log_err("%s: '%s' is not a number from %g to %g", opt, s,
		    min, max);
		return -1;
	}
	return 0;
}

int
opt_msec(const char *opt, const char *s, int zero_ok, double max, int *ms)
{
	size_t n = opt_decimal(s, 1);
	double v;

	errno = 0;
	v = n > 0 && s[n] == '\0' ? strtod(s, NULL) : -1;
	if (n == 0 || s[n] != '\0' || errno || !isfinite(v) || v < 0 ||
	    (v == 0 && !zero_ok) || v > max) {
		log_err("%s: '%s' is not a number of seconds from %s to %g",
		    opt, s, zero_ok ? "0" : "above 0", max);
		return -1;
	}
	*ms = v == 0 ? 0 : v * 1000 < 1 ? 1 : (int)(v * 1000 + 0.5);
	return 0;
}

int
opt_timeout(const char *opt, const char *s, int zero_ok, double max, int *ms)
{
	if (strcmp(s, "none") == 0) {
		*ms = 0;
		return 0;
	}
	return opt_msec(opt, s, zero_ok, max, ms);
}

void
opt_bad_usage(opt_usage_fn *usage)
{
	usage(stderr);
	exit(2);
}

void
opt_common(int ch, opt_usage_fn *usage)
{
	if (ch == 'h') {
		usage(stdout);
		exit(0);
	}
	if (ch == 'V') {
		puts(SOCKLAB_VERSION);
		exit(0);
	}
	opt_bad_usage(usage);
}

void
opt_no_operands(int argc, char **argv, opt_usage_fn *usage)
{
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		opt_bad_usage(usage);
	}
}
