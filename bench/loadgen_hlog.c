/*
 * loadgen_hlog.c - histograms in HdrHistogram's own format, so that its
 * tools (HistogramLogProcessor, HdrHistogram_c, hdr-plot) read them.
 *
 * bench/hist.c's layout is HdrHistogram's with lowestDiscernibleValue 1
 * (unit magnitude 0) and 2 significant digits: HdrHistogram takes
 * 2 * 10^2 = 200 up to a power of two, 256 sub-buckets, 128 per half,
 * which is 1 << HIST_SUB_BITS; bucket 0 holds 0..255 one by one and
 * bucket k >= 1 holds [128 << k, 256 << k) in steps of 1 << k.  Its
 * counts-array index, (k + 1) * 128 + sub - 128, is hist.c's index for
 * every value, so the counts go across one for one, exactly.
 *
 * The compressed V2 encoding (AbstractHistogram.encodeIntoCompressed-
 * ByteBuffer), every integer big-endian:
 *	int32 0x1c849314  int32 length of the deflated part
 *	deflate (zlib) of:
 *	  int32 0x1c849313  int32 payload bytes  int32 0 (normalizing
 *	  offset)  int32 2 (significant digits)  int64 1 (lowest)
 *	  int64 highest  double 1.0 (integer to double ratio)
 *	  payload: the counts up to the last non-zero one, each ZigZag
 *	  LEB128 (at most 9 bytes), a run of n > 1 zeros as -n.
 * The log (HistogramLogWriter's format 1.3) is text: comment lines, a
 * legend, and one line per interval:
 *	Tag=corrected,START,LENGTH,MAX,HISTF...
 * START is seconds after #[BaseTime], LENGTH the interval's length (not
 * its end), MAX in milliseconds (the writer's default ratio, 10^6 ns).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "loadgen.h"

#define V2_COOKIE	0x1c849313U
#define V2_ZCOOKIE	0x1c849314U
#define V2_HEADER	40
#define SIG_DIGITS	2
#define MAX_RATIO	1e6		/* ns per logged max unit: ms */

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 3; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static unsigned char *
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

/* HdrHistogram's ZigZagEncoding.putLong: 7 bits a byte, the 9th has 8. */
static unsigned char *
put_zigzag(unsigned char *p, int64_t sv)
{
	uint64_t v = ((uint64_t)sv << 1) ^ (uint64_t)(sv >> 63);
	int i;

	for (i = 0; i < 8; i++) {
		if ((v >> 7) == 0) {
			*p++ = (unsigned char)v;
			return p;
		}
		*p++ = (unsigned char)((v & 0x7f) | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

/* The uncompressed V2 form; *len its bytes.  NULL: out of memory. */
static unsigned char *
encode_v2(const struct hist *h, size_t *len)
{
	unsigned char *buf, *p;
	size_t limit = h->ncounts, i, zeros;
	uint64_t one;
	double d = 1.0;

	while (limit > 0 && h->counts[limit - 1] == 0)
		limit--;
	if ((buf = malloc(V2_HEADER + 9 * limit + 1)) == NULL)
		return NULL;
	p = buf + V2_HEADER;
	for (i = 0; i < limit; i++) {
		if (h->counts[i] != 0) {
			p = put_zigzag(p, (int64_t)h->counts[i]);
			continue;
		}
		for (zeros = 1; i + 1 < limit && h->counts[i + 1] == 0; i++)
			zeros++;
		p = put_zigzag(p, zeros > 1 ? -(int64_t)zeros : 0);
	}
	*len = (size_t)(p - buf);
	memcpy(&one, &d, sizeof(one));
	p = put32(buf, V2_COOKIE);
	p = put32(p, (uint32_t)(*len - V2_HEADER));
	p = put32(p, 0);
	p = put32(p, SIG_DIGITS);
	p = put64(p, 1);
	p = put64(p, h->highest);
	put64(p, one);
	return buf;
}

static char *
base64(const unsigned char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	uint32_t v;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* The histogram as HdrHistogram's base64 "HISTF..." string; NULL: ENOMEM. */
char *
hlog_encode(const struct hist *h)
{
	unsigned char *raw, *z;
	size_t rawlen;
	uLongf zlen;
	char *s = NULL;

	if (h->sub_bits != HIST_SUB_BITS) {
		errno = EINVAL;		/* no HdrHistogram layout to match */
		return NULL;
	}
	if ((raw = encode_v2(h, &rawlen)) == NULL)
		return NULL;
	zlen = compressBound((uLong)rawlen);
	if ((z = malloc(8 + zlen)) != NULL &&
	    compress2(z + 8, &zlen, raw, (uLong)rawlen,
	    Z_DEFAULT_COMPRESSION) == Z_OK) {
		put32(put32(z, V2_ZCOOKIE), (uint32_t)zlen);
		s = base64(z, 8 + zlen);
	} else
		errno = ENOMEM;
	free(raw);
	free(z);
	return s;
}

/* The header, as HistogramLogWriter writes it; times in wall seconds. */
int
hlog_header(FILE *f, double wall0)
{
	char date[64];
	time_t t = (time_t)wall0;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm) == 0)
		date[0] = '\0';
	fprintf(f, "#[Logged with loadgen (socklab) %s]\n", LOADGEN_VERSION);
	fprintf(f, "#[Histogram log format version 1.3]\n");
	fprintf(f, "#[StartTime: %.3f (seconds since epoch), %s]\n", wall0,
	    date);
	fprintf(f, "#[BaseTime: %.3f (seconds since epoch)]\n", wall0);
	fprintf(f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
	    "\"Interval_Compressed_Histogram\"\n");
	return ferror(f) ? -1 : 0;
}

/* One interval: start (s after the base time), length (s), the histogram. */
int
hlog_line(FILE *f, const char *tag, double start, double length,
    const struct hist *h)
{
	char *s = hlog_encode(h);

	if (s == NULL)
		return -1;
	fprintf(f, "Tag=%s,%.3f,%.3f,%.3f,%s\n", tag, start, length,
	    (double)hist_max(h) / MAX_RATIO, s);
	free(s);
	return ferror(f) ? -1 : 0;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Base64 of n characters (padding allowed) into out; its bytes or -1. */
static long
unbase64(const char *s, size_t n, unsigned char *out)
{
	uint32_t acc = 0;
	long len = 0;
	int bits = 0, v;
	size_t i;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((v = b64val((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	return len;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ZigZagEncoding.getLong; 0 past the end (*ok cleared). */
static int64_t
get_zigzag(const unsigned char **pp, const unsigned char *end, int *ok)
{
	const unsigned char *p = *pp;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 9; i++) {
		if (p == end) {
			*ok = 0;
			return 0;
		}
		if (i == 8) {
			v |= (uint64_t)*p++ << 56;
			break;
		}
		v |= (uint64_t)(*p & 0x7f) << (7 * i);
		if (!(*p++ & 0x80))
			break;
	}
	*pp = p;
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Counts from the uncompressed V2 form into h (added). */
static int
decode_v2(const unsigned char *b, size_t n, struct hist *h)
{
	const unsigned char *p = b + V2_HEADER, *end;
	size_t i = 0;
	int64_t v;
	int ok = 1;

	if (n < V2_HEADER || get32(b) != V2_COOKIE || get32(b + 8) != 0 ||
	    get32(b + 12) != SIG_DIGITS || get64(b + 16) != 1 ||
	    get64(b + 24) != h->highest || get32(b + 4) > n - V2_HEADER)
		return -1;
	end = p + get32(b + 4);
	while (p < end) {
		v = get_zigzag(&p, end, &ok);
		if (!ok)
			return -1;
		if (v < 0) {
			if ((uint64_t)-v > h->ncounts - i)
				return -1;
			i += (size_t)-v;
			continue;
		}
		if (i >= h->ncounts)
			return -1;
		h->counts[i++] += (uint64_t)v;
		h->total += (uint64_t)v;
	}
	return 0;
}

/*
 * Add the histogram in s (n characters of "HISTF..." base64, as
 * hlog_encode() writes) into h, which has loadgen's shape.  Counts and
 * total only: min, max and sum are the caller's (the JSON has them
 * exactly).  -1 with errno EINVAL when it is not one of ours.
 */
int
hlog_decode(const char *s, size_t n, struct hist *h)
{
	unsigned char *z = malloc(n / 4 * 3 + 3), *raw = NULL;
	uLongf rawlen;
	long zlen;
	int rc = -1;

	if (z == NULL)
		return -1;
	zlen = unbase64(s, n, z);
	errno = EINVAL;
	if (zlen < 8 || get32(z) != V2_ZCOOKIE || get32(z + 4) > zlen - 8)
		goto out;
	/* The counts of a 60 s histogram, 9 bytes each at most. */
	rawlen = V2_HEADER + 9 * h->ncounts;
	if ((raw = malloc(rawlen)) == NULL)
		goto out;
	errno = EINVAL;
	if (uncompress(raw, &rawlen, z + 8, get32(z + 4)) != Z_OK)
		goto out;
	rc = decode_v2(raw, rawlen, h);
	errno = EINVAL;
out:
	free(z);
	free(raw);
	return rc;
}
