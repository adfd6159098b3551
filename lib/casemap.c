/*
 * casemap.c - upper-case UTF-8 the way Python's str.upper() does.
 *
 * ASCII goes eight bytes at a time.  Anything else is decoded strictly
 * (Unicode 3.0+ well-formed UTF-8: no overlongs, no surrogates, nothing
 * above U+10FFFF, no sequence cut short by the end of the buffer) and
 * looked up in the generated table (casetab.c).  A byte that does not
 * start a well-formed sequence is copied as it is and decoding goes on
 * at the next byte, so garbage passes through and nothing ever fails.
 */
#include <stdint.h>
#include <string.h>

#include "casemap.h"
#include "casetab.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/*
 * Upper-case eight ASCII bytes at once.  For a byte b < 0x80, b + 0x1f
 * has its high bit set when b >= 'a', and b + 0x05 when b > 'z'; neither
 * sum carries into the next byte.  The difference of the two high bits
 * marks a..z; shifted down to 0x20 it is the bit that lower case adds.
 */
static uint64_t
upper8(uint64_t w)
{
	uint64_t ge_a, gt_z;

	ge_a = w + ONES * (0x80 - 'a');
	gt_z = w + ONES * (0x80 - 'z' - 1);
	return w ^ ((ge_a & ~gt_z & HIGHS) >> 2);
}

static int
is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/*
 * Decode the well-formed sequence at s (n > 0 bytes left) into *cp and
 * return its length, or return 0 if s[0] does not start one.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		if (n < 2 || !is_cont(s[1]))
			return 0;
		*cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if (n < 3 || !is_cont(s[1]) || !is_cont(s[2]))
			return 0;
		c = (uint32_t)(s[0] & 0x0f) << 12 |
		    (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		*cp = c;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if (n < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3]))
			return 0;
		c = (uint32_t)(s[0] & 0x07) << 18 |
		    (uint32_t)(s[1] & 0x3f) << 12 |
		    (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		if (c < 0x10000 || c > 0x10ffff)
			return 0;
		*cp = c;
		return 4;
	}
	return 0;	/* ASCII is not ours; 80-c1 and f5-ff never start one */
}

size_t
case_upper(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	const struct casetab_map *m;
	uint64_t w;
	uint32_t cp;
	size_t i = 0, o = 0, len;

	while (i < n) {
		if (n - i >= 8) {
			memcpy(&w, s + i, 8);
			if ((w & HIGHS) == 0) {
				w = upper8(w);
				memcpy(out + o, &w, 8);
				i += 8;
				o += 8;
				continue;
			}
		}
		if (s[i] < 0x80) {
			out[o++] = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 0x20 : s[i];
			i++;
			continue;
		}
		if ((len = utf8_decode(s + i, n - i, &cp)) == 0) {
			out[o++] = s[i++];	/* not UTF-8: pass it through */
			continue;
		}
		if ((m = casetab_lookup(cp)) != NULL) {
			memcpy(out + o, m->s, m->len);
			o += m->len;
		} else {
			memcpy(out + o, s + i, len);
			o += len;
		}
		i += len;
	}
	return o;
}
