/*
 * casetab.h - the generated upper-case table, private to casemap.c.
 *
 * lib/casetab.c is written by scripts/gen-casetab.py from Python's
 * str.upper().  Two stages: casetab_stage1[cp >> 8] picks a block of
 * casetab_stage2, whose entry for cp & 0xff is 0 (cp upper-cases to
 * itself) or an index into casetab_map, the result as UTF-8 bytes.
 */
#ifndef SOCKLAB_CASETAB_H
#define SOCKLAB_CASETAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Longest result in bytes (U+0390 -> U+0399 U+0308 U+0301); the generator
 * checks it.
 */
#define CASETAB_MAXSEQ	6

struct casetab_map {
	uint8_t	len;
	char	s[CASETAB_MAXSEQ];
};

extern const uint8_t		 casetab_stage1[0x110000 >> 8];
extern const uint16_t		 casetab_stage2[][256];
extern const struct casetab_map	 casetab_map[];

/* The upper-case of cp, or NULL when it is cp itself.  cp <= 0x10ffff. */
static inline const struct casetab_map *
casetab_lookup(uint32_t cp)
{
	uint16_t i;

	i = casetab_stage2[casetab_stage1[cp >> 8]][cp & 0xff];
	return i == 0 ? NULL : &casetab_map[i];
}

#endif
