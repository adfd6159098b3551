/*
 * opt.h - what the programs' option parsing and timing share.
 *
 * The parsers print "OPTION: 'VALUE' is not ..." through log_err and
 * return -1; the caller shows its usage and exits 2.
 */
#ifndef SOCKLAB_OPT_H
#define SOCKLAB_OPT_H

#include <stddef.h>

#define SOCKLAB_VERSION	"socklab 0.1"

/*
 * A number is decimal digits only: no sign, no space, no exponent, no
 * hex, no "inf" (strtol and strtod take " 80", "+80", "-0", "1e3").
 * opt_decimal() is the length of the one at the start of s, 0 if none;
 * with frac, a '.' and more digits may follow ("1.5", ".25", "2.").
 */
size_t		opt_decimal(const char *s, int frac);
/* A whole number from min to max (min >= 0). */
int		opt_long(const char *opt, const char *s, long min, long max,
		    long *v);
/* A number, fractions allowed, from min to max. */
int		opt_double(const char *opt, const char *s, double min,
		    double max, double *v);
/* Seconds, fractions allowed, up to max; in milliseconds, never
 * rounded down to 0 unless s is 0 and zero_ok. */
int		opt_msec(const char *opt, const char *s, int zero_ok,
		    double max, int *ms);
/* A timeout: as opt_msec, or "none", which is 0 (wait for ever). */
int		opt_timeout(const char *opt, const char *s, int zero_ok,
		    double max, int *ms);
/* The monotonic clock in milliseconds. */
long long	mono_ms(void);

#endif
