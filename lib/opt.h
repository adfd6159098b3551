/*
 * opt.h - what the programs' option parsing shares.
 *
 * The parsers print "OPTION: 'VALUE' is not ..." through log_err and
 * return -1; the caller shows its usage and exits 2.
 */
#ifndef SOCKLAB_OPT_H
#define SOCKLAB_OPT_H

#include <stddef.h>
#include <stdio.h>

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

/*
 * The getopt block every program repeats.  usage prints the program's
 * usage to f: to stdout for --help, to stderr for bad usage.
 * opt_common() is the loop's default: -h (the usage, exit 0), -V (the
 * version, exit 0), or anything else, an unknown option or a missing
 * value (bad usage: the usage on stderr, exit 2).  opt_no_operands()
 * comes after the loop: no operand may follow the options.
 */
typedef void	opt_usage_fn(FILE *f);
void		opt_common(int ch, opt_usage_fn *usage)
		    __attribute__((noreturn));
void		opt_bad_usage(opt_usage_fn *usage) __attribute__((noreturn));
void		opt_no_operands(int argc, char **argv, opt_usage_fn *usage);
/* A timeout: as opt_msec, or "none", which is 0 (wait for ever). */
int		opt_timeout(const char *opt, const char *s, int zero_ok,
		    double max, int *ms);

#endif
