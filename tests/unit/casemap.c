/*
 * unit-casemap - tests for case_upper(), plus two tools around it.
 *
 *	unit-casemap		the unit tests, as TAP
 *	unit-casemap --filter	upper-case all of stdin to stdout in one call;
 *				tests/casemap.t checks it against Python
 *	unit-casemap --bench	throughput on 1 MB of ASCII and of Italian
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "casemap.h"
#include "tap.h"

#define S(lit)	lit, sizeof(lit) - 1	/* a literal and its length, NULs too */

static void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL) {
		perror("malloc");
		exit(2);
	}
	return p;
}

/*
 * Upper-case exactly n bytes from a buffer of exactly n bytes into one of
 * exactly 3n, so that a sanitizer build catches any access out of bounds.
 * Returns the result, which the caller frees; its length in *olen.
 */
static char *
upper(const char *in, size_t n, size_t *olen)
{
	char *src, *dst;

	src = xmalloc(n);
	dst = xmalloc(CASE_MAX_EXPANSION * n);
	if (n > 0)
		memcpy(src, in, n);
	*olen = case_upper(src, n, dst);
	free(src);
	return dst;
}

static void
check(const char *in, size_t n, const char *want, size_t wn, const char *name)
{
	char *got;
	size_t glen;

	got = upper(in, n, &glen);
	is_mem(got, glen, want, wn, "%s", name);
	free(got);
}

/* Well-formed UTF-8 per Unicode table 3-7, written apart from casemap.c. */
static int
valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	unsigned char lo, hi;

	while (i < n) {
		lo = 0x80, hi = 0xbf;
		if (s[i] < 0x80)
			len = 1;
		else if (s[i] >= 0xc2 && s[i] <= 0xdf)
			len = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			len = 3;
			if (s[i] == 0xe0)
				lo = 0xa0;
			if (s[i] == 0xed)
				hi = 0x9f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			len = 4;
			if (s[i] == 0xf0)
				lo = 0x90;
			if (s[i] == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if (s[i + k] < (k == 1 ? lo : 0x80) ||
			    s[i + k] > (k == 1 ? hi : 0xbf))
				return 0;
		}
		i += len;
	}
	return 1;
}

static void
test_ascii(void)
{
	char in[128], want[128], *got;
	size_t i, off, len, glen;
	int bad = 0;

	check("", 0, "", 0, "empty input");
	check(S("hello, World 42!\n"), S("HELLO, WORLD 42!\n"), "ASCII line");
	check(S("ciao\r\n"), S("CIAO\r\n"), "CRLF kept");
	check(S("a\0b\0\xc3\x9f\0"), S("A\0B\0SS\0"), "NUL bytes kept");

	for (i = 0; i < 128; i++) {
		in[i] = (char)i;
		want[i] = (char)(i >= 'a' && i <= 'z' ? i - 0x20 : i);
	}
	check(in, 128, want, 128, "all 128 ASCII bytes");

	/* Every length and offset: the 8-byte path, the tail, and both. */
	for (off = 0; off < 16; off++) {
		for (len = 0; off + len <= 128; len++) {
			got = upper(in + off, len, &glen);
			if (glen != len || memcmp(got, want + off, len) != 0)
				bad++;
			free(got);
		}
	}
	is(bad, 0, "ASCII at every offset and length (word and byte paths)");
}

static void
test_unicode(void)
{
	check(S("\xc3\xa8"), S("\xc3\x88"), "è -> È");
	check(S("perch\xc3\xa9 per\xc3\xb2 citt\xc3\xa0 \xc3\xb9 \xc3\xac\n"),
	    S("PERCH\xc3\x89 PER\xc3\x92 CITT\xc3\x80 \xc3\x99 \xc3\x8c\n"),
	    "Italian accents");
	check(S("\xc3\x9f"), S("SS"), "ß -> SS");
	check(S("Stra\xc3\x9f" "e"), S("STRASSE"), "Straße -> STRASSE");
	check(S("\xe1\xba\x9e"), S("\xe1\xba\x9e"), "ẞ stays");
	check(S("\xef\xac\x81"), S("FI"), "ﬁ -> FI");
	check(S("\xef\xac\x80\xef\xac\x83"), S("FFFFI"), "ﬀﬃ -> FFFFI");
	check(S("\xc5\x89"), S("\xca\xbcN"), "ŉ -> ʼN");
	check(S("\xce\xb1\xce\xb2\xce\xb3 \xcf\x82\xcf\x83"),
	    S("\xce\x91\xce\x92\xce\x93 \xce\xa3\xce\xa3"), "αβγ ςσ -> ΑΒΓ ΣΣ");
	check(S("\xce\x90"), S("\xce\x99\xcc\x88\xcc\x81"),
	    "ΐ -> Ϊ́ (3 code points)");
	check(S("\xcf\x8d\xce\xb0"), S("\xce\x8e\xce\xa5\xcc\x88\xcc\x81"),
	    "ύΰ -> ΎΫ́");
	check(S("\xe1\xbe\xb3"), S("\xce\x91\xce\x99"), "ᾳ -> ΑΙ");
	check(S("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd1\x97"),
	    S("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x87"),
	    "Cyrillic привет ї");
	check(S("\xd6\x87"), S("\xd4\xb5\xd5\x92"), "Armenian և -> ԵՒ");
	check(S("\xef\xac\x93"), S("\xd5\x84\xd5\x86"), "Armenian ﬓ -> ՄՆ");
	check(S("i\xc4\xb1\xc4\xb0"), S("II\xc4\xb0"), "Turkish iıİ -> IIİ");
	check(S("\xf0\x90\x90\xa8"), S("\xf0\x90\x90\x80"),
	    "Deseret 𐐨 -> 𐐀 (4 bytes)");
	check(S("\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"),
	    S("\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"),
	    "CJK and emoji unchanged");
	check(S("\xef\xbf\xbf\xf4\x8f\xbf\xbf"),
	    S("\xef\xbf\xbf\xf4\x8f\xbf\xbf"),
	    "U+FFFF and U+10FFFF unchanged");
}

static void
test_invalid(void)
{
	check(S("\x80"), S("\x80"), "lone continuation byte");
	check(S("a\x80z"), S("A\x80Z"), "continuation byte between letters");
	check(S("\xc0\xaf"), S("\xc0\xaf"), "overlong C0 AF");
	check(S("\xc1\xbf" "a"), S("\xc1\xbf" "A"), "overlong C1 BF");
	check(S("\xc1\xa1"), S("\xc1\xa1"), "overlong a stays, not A");
	check(S("\xe0\x80\xaf"), S("\xe0\x80\xaf"), "overlong 3-byte");
	check(S("\xe0\x83\xa8"), S("\xe0\x83\xa8"), "overlong è stays, not È");
	check(S("\xf0\x80\x80\xaf"), S("\xf0\x80\x80\xaf"), "overlong 4-byte");
	check(S("\xf0\x80\x83\xa8"), S("\xf0\x80\x83\xa8"),
	    "overlong 4-byte è stays");
	check(S("\xed\xa0\x80"), S("\xed\xa0\x80"), "surrogate ED A0 80");
	check(S("\xed\xbf\xbf" "b"), S("\xed\xbf\xbf" "B"),
	    "surrogate ED BF BF");
	check(S("\xf4\x90\x80\x80"), S("\xf4\x90\x80\x80"),
	    "F4 90 80 80 > U+10FFFF");
	check(S("\xf5\x80\x80\x80\xff\xfe"), S("\xf5\x80\x80\x80\xff\xfe"),
	    "F5, FF, FE never valid");
	check(S("\xe2\x82"), S("\xe2\x82"), "truncated E2 82 at the end");
	check(S("ab\xe2\x82"), S("AB\xe2\x82"), "truncated after ASCII");
	check(S("\xf0\x9f\x98"), S("\xf0\x9f\x98"), "truncated 4-byte");
	check(S("\xe2\x82z"), S("\xe2\x82Z"), "truncated, then ASCII");
	check(S("\xc3\xc3\xa8"), S("\xc3\xc3\x88"), "bad lead, then è");
	check(S("\xe2\xc3\x9f"), S("\xe2SS"), "bad lead, then ß");
	check(S("\xc3"), S("\xc3"), "lone lead byte at the end");
}

/* A reproducible generator: xorshift64. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Encode a random Unicode scalar value, weighted towards the small ones. */
static size_t
random_char(char *buf)
{
	static const uint32_t top[] = { 0x80, 0x800, 0x10000, 0x110000 };
	uint32_t c;

	do
		c = (uint32_t)(rng() % top[rng() % 4]);
	while (c >= 0xd800 && c <= 0xdfff);
	if (c < 0x80) {
		buf[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		buf[0] = (char)(0xc0 | c >> 6);
		buf[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		buf[0] = (char)(0xe0 | c >> 12);
		buf[1] = (char)(0x80 | (c >> 6 & 0x3f));
		buf[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | c >> 18);
	buf[1] = (char)(0x80 | (c >> 12 & 0x3f));
	buf[2] = (char)(0x80 | (c >> 6 & 0x3f));
	buf[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * Up to max - 4 random bytes: well-formed pieces that change length when
 * upper-cased and random characters; unless valid, also random bytes and
 * pieces of broken UTF-8.
 */
static size_t
random_input(char *buf, size_t max, int valid)
{
	static const char *const piece[] = {
		"a", "Z", " ", "\n", "\xc3\xa8", "\xc3\x9f", "\xce\x90",
		"\xef\xac\x81", "\xc5\x89", "\xf0\x90\x90\xa8", "\xd6\x87",
		/* the rest is not UTF-8 */
		"\x80", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xc0\xaf", "\xff", "\xf0\x9f\x98",
	};
	size_t n = 0, len, npiece;
	const char *p;

	npiece = valid ? 11 : sizeof(piece) / sizeof(piece[0]);
	len = rng() % (max - 4);
	while (n < len) {
		switch (rng() % 4) {
		case 0:
			n += random_char(buf + n);
			break;
		case 1:
			if (!valid) {
				buf[n++] = (char)rng();
				break;
			}
			/* FALLTHROUGH */
		default:
			p = piece[rng() % npiece];
			memcpy(buf + n, p, strlen(p));
			n += strlen(p);
			break;
		}
	}
	return n;
}

/*
 * Properties over random inputs: the 3n bound, upper(upper(x)) ==
 * upper(x) (str.upper() is idempotent for every code point, and broken
 * bytes are left alone), valid UTF-8 in gives valid UTF-8 out.
 */
static void
test_random(void)
{
	char in[512], *once, *twice;
	size_t i, n, n1, n2, rounds = 20000;
	size_t over = 0, notidem = 0, invalid = 0;
	int valid;

	diag("random inputs: xorshift64 seed %#llx",
	    (unsigned long long)rng_state);
	for (i = 0; i < 2 * rounds; i++) {
		valid = i >= rounds;
		n = random_input(in, sizeof(in), valid);
		if (valid && !valid_utf8((unsigned char *)in, n)) {
			ok(0, "the generator made valid UTF-8");
			break;
		}
		once = upper(in, n, &n1);
		twice = upper(once, n1, &n2);
		if (n1 > CASE_MAX_EXPANSION * n)
			over++;
		if (n2 != n1 || memcmp(once, twice, n1) != 0)
			notidem++;
		if (valid && !valid_utf8((unsigned char *)once, n1))
			invalid++;
		free(once);
		free(twice);
	}
	is(over, 0, "output <= %d * n over %zu random inputs",
	    CASE_MAX_EXPANSION, 2 * rounds);
	is(notidem, 0, "upper(upper(x)) == upper(x) over %zu random inputs",
	    2 * rounds);
	is(invalid, 0, "valid UTF-8 stays valid over %zu random inputs",
	    rounds);
}

/* The bound is tight: ΐ is 2 bytes and becomes 6. */
static void
test_worst_case(void)
{
	size_t i, n = 1000, glen, bad = 0;
	char *in, *got;

	in = xmalloc(2 * n);
	for (i = 0; i < n; i++)
		memcpy(in + 2 * i, "\xce\x90", 2);
	got = upper(in, 2 * n, &glen);
	is(glen, 3 * 2 * n, "%zu ΐ grow exactly %d times", n,
	    CASE_MAX_EXPANSION);
	for (i = 0; i < n && glen == 6 * n; i++)
		bad += memcmp(got + 6 * i, "\xce\x99\xcc\x88\xcc\x81", 6) != 0;
	is(bad, 0, "and each is Ϊ́");
	free(in);
	free(got);
}

static int
filter(void)
{
	char *in = NULL, *out, *p;
	size_t n = 0, cap = 0, olen;
	ssize_t r;

	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			if ((p = realloc(in, cap)) == NULL) {
				perror("realloc");
				return 1;
			}
			in = p;
		}
		r = read(STDIN_FILENO, in + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			perror("read");
			return 1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	out = xmalloc(CASE_MAX_EXPANSION * n);
	olen = case_upper(in, n, out);
	for (p = out; olen > 0; ) {
		r = write(STDOUT_FILENO, p, olen);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			perror("write");
			return 1;
		}
		p += r;
		olen -= (size_t)r;
	}
	free(in);
	free(out);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		perror("clock_gettime");
		exit(2);
	}
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Upper-case text, repeated to 1 MB, for about half a second. */
static void
bench1(const char *name, const char *text)
{
	size_t n = 1000000, k = strlen(text), i, rounds = 0, sum = 0;
	char *in, *out;
	double t0, t;

	in = xmalloc(n);
	out = xmalloc(CASE_MAX_EXPANSION * n);
	for (i = 0; i < n; i += k)
		memcpy(in + i, text, n - i < k ? n - i : k);
	t0 = now();
	do {
		sum += case_upper(in, n, out);
		rounds++;
	} while ((t = now() - t0) < 0.5 || rounds < 5);
	printf("%-8s %7.1f MB/s  (%zu x 1 MB in %.3f s, %zu bytes out)\n",
	    name, rounds * n / t / 1e6, rounds, t, sum / rounds);
	free(in);
	free(out);
}

static int
bench(void)
{
	bench1("ascii", "The quick brown fox jumps over the lazy dog; "
	    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n");
	bench1("italian", "Nel mezzo del cammin di nostra vita mi ritrovai "
	    "per una selva oscura, ch\xc3\xa9 la diritta via era smarrita. "
	    "Perch\xc3\xa9 la citt\xc3\xa0 \xc3\xa8 gi\xc3\xa0 l\xc3\xac, "
	    "per\xc3\xb2 pi\xc3\xb9 in l\xc3\xa0.\n");
	bench1("greek", "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad"
	    "\xcf\x81\xce\xb1 \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5 "
	    "\xce\xb1\xce\xb2\xce\xb3\xce\xb4\xce\xb5\xce\xb6\xce\xb7\n");
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc == 2 && strcmp(argv[1], "--filter") == 0)
		return filter();
	if (argc == 2 && strcmp(argv[1], "--bench") == 0)
		return bench();
	if (argc != 1) {
		fprintf(stderr, "usage: unit-casemap [--filter | --bench]\n");
		return 2;
	}
	test_ascii();
	test_unicode();
	test_invalid();
	test_worst_case();
	test_random();
	return done_testing();
}
