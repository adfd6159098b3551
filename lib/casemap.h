/*
 * casemap.h - Unicode upper-casing of UTF-8, as Python's str.upper().
 *
 * Full case mapping (length may change: U+00DF -> "SS"), generated from
 * Python's own tables by scripts/gen-casetab.py into lib/casetab.c.
 * Bytes that are not well-formed UTF-8 are copied unchanged.
 */
#ifndef SOCKLAB_CASEMAP_H
#define SOCKLAB_CASEMAP_H

#include <stddef.h>

/* An upper-cased string is at most this many times longer, in bytes. */
#define CASE_MAX_EXPANSION	3

/*
 * Upper-case n bytes of in into out, which must hold
 * CASE_MAX_EXPANSION * n bytes.  Returns the number of bytes written.
 * Never fails; never reads past in + n.
 */
size_t	case_upper(const char *in, size_t n, char *out);

#endif
