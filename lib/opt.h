/*
 * opt.h - what the programs' option parsing and timing share.
 *
 * The parsers print "OPTION: 'VALUE' is not ..." through log_err and
 * return -1; the caller shows its usage and exits 2.
 */
#ifndef SOCKLAB_OPT_H
#define SOCKLAB_OPT_H

#define SOCKLAB_VERSION	"socklab 0.1"

/* A whole decimal number from min to max. */
int		opt_long(const char *opt, const char *s, long min, long max,
		    long *v);
/* Seconds, fractions allowed, up to max; in milliseconds, never
 * rounded down to 0 unless s is 0 and zero_ok. */
int		opt_msec(const char *opt, const char *s, int zero_ok,
		    double max, int *ms);
/* The monotonic clock in milliseconds. */
long long	mono_ms(void);

#endif
