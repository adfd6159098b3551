/*
 * unit-proto - tests for the protocol module (lib/proto.c), no sockets.
 *
 * Framing must not depend on how the bytes arrive, so most checks feed
 * the same input in one piece, in given pieces, and one byte at a time,
 * and compare the replies, the final status and the bytes consumed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

#define S(lit)	lit, sizeof(lit) - 1	/* a literal and its length, NULs too */

/* What one run of the protocol over an input produced. */
struct run {
	struct buf		 out;
	enum proto_status	 st;
	size_t			 consumed;	/* input bytes used, in total */
	unsigned long		 lines;
	size_t			 partial;	/* proto_partial() at the end */
	size_t			 max_partial;	/* largest after any feed */
};

/*
 * Feed n bytes of in, cut at the offsets in cuts[] (ascending, ncut of
 * them), each piece copied into a buffer of exactly its size so that a
 * sanitizer build catches reads past it.  Stops at the first status
 * other than PROTO_MORE, as a server would.
 */
static void
run_cuts(struct run *r, size_t max_line, const char *in, size_t n,
    const size_t *cuts, size_t ncut)
{
	struct proto p;
	size_t start = 0, end, used, k = 0;
	char *piece;

	buf_init(&r->out);
	r->st = PROTO_MORE;
	r->consumed = 0;
	r->max_partial = 0;
	proto_init(&p, max_line);
	while (start < n) {
		end = k < ncut ? cuts[k++] : n;
		if (end <= start || end > n)
			continue;
		if ((piece = malloc(end - start)) == NULL) {
			perror("malloc");
			exit(2);
		}
		memcpy(piece, in + start, end - start);
		r->st = proto_feed(&p, piece, end - start, &r->out, &used);
		free(piece);
		r->consumed += used;
		if (proto_partial(&p) > r->max_partial)
			r->max_partial = proto_partial(&p);
		if (r->st != PROTO_MORE)
			break;
		start = end;
	}
	r->lines = p.lines;
	r->partial = proto_partial(&p);
	proto_free(&p);
}

static void
run_whole(struct run *r, size_t max_line, const char *in, size_t n)
{
	run_cuts(r, max_line, in, n, NULL, 0);
}

static void
run_bytes(struct run *r, size_t max_line, const char *in, size_t n)
{
	size_t *cuts, i;

	if ((cuts = malloc((n + 1) * sizeof(*cuts))) == NULL) {
		perror("malloc");
		exit(2);
	}
	for (i = 0; i < n; i++)
		cuts[i] = i + 1;
	run_cuts(r, max_line, in, n, cuts, n);
	free(cuts);
}

/* Does out hold exactly want?  (An empty buf may have no data at all.) */
static int
holds(const struct buf *out, const char *want, size_t wn)
{
	return buf_pending(out) == wn &&
	    (wn == 0 || memcmp(buf_head(out), want, wn) == 0);
}

static void
run_free(struct run *r)
{
	buf_free(&r->out);
}

/*
 * The reply, status and consumed count of one input, checked whole,
 * byte by byte, and cut in two at every offset: 4 tests.  After
 * TOOLONG the count of bytes used is not compared: the session is over,
 * and a piece is refused whole.
 */
static void
check_all(const char *name, size_t max_line, const char *in, size_t n,
    const char *want, size_t wn, enum proto_status wst, size_t wused)
{
	struct run r;
	size_t cut;
	int same = 1;

	run_whole(&r, max_line, in, n);
	is_mem(buf_head(&r.out), buf_pending(&r.out), want, wn,
	    "%s: reply, in one piece", name);
	ok(r.st == wst && (wst == PROTO_TOOLONG || r.consumed == wused),
	    "%s: status %d, %zu bytes used, in one piece", name, (int)wst,
	    wused);
	run_free(&r);

	run_bytes(&r, max_line, in, n);
	ok(r.st == wst && (wst == PROTO_TOOLONG || r.consumed == wused) &&
	    holds(&r.out, want, wn),
	    "%s: same reply, status and %zu bytes used, byte by byte",
	    name, wused);
	run_free(&r);

	for (cut = 1; cut < n; cut++) {
		run_cuts(&r, max_line, in, n, &cut, 1);
		if (r.st != wst ||
		    (wst != PROTO_TOOLONG && r.consumed != wused) ||
		    !holds(&r.out, want, wn)) {
			diag("differs when cut at %zu", cut);
			same = 0;
		}
		run_free(&r);
	}
	ok(same, "%s: same result cut in two at each of %zu offsets", name,
	    n > 0 ? n - 1 : 0);
}

static void
test_basic(void)
{
	check_all("one line", 0, S("hello\n"), S("HELLO\n"), PROTO_MORE, 6);
	check_all("CRLF kept", 0, S("Ciao mondo\r\n"), S("CIAO MONDO\r\n"),
	    PROTO_MORE, 12);
	check_all("empty line", 0, S("\n"), S("\n"), PROTO_MORE, 1);
	check_all("lone CR line", 0, S("\r\n"), S("\r\n"), PROTO_MORE, 2);
	check_all("pipelined", 0, S("a\nbb\r\nccc\n\n"),
	    S("A\nBB\r\nCCC\n\n"), PROTO_MORE, 11);
	check_all("NUL and invalid UTF-8 pass", 0, S("a\0b\xff\xc3(\xe2\x82\n"),
	    S("A\0B\xff\xc3(\xe2\x82\n"), PROTO_MORE, 9);
	check_all("UTF-8 upper-cased, length changes", 0,
	    S("stra\xc3\x9f" "e \xc3\xa8\n"), S("STRASSE \xc3\x88\n"),
	    PROTO_MORE, 11);
	check_all("CR in the middle kept", 0, S("a\rb\n"), S("A\rB\n"),
	    PROTO_MORE, 4);
}

static void
test_partial(void)
{
	struct proto p;
	struct buf out;
	enum proto_status st;
	size_t used;

	proto_init(&p, 0);
	buf_init(&out);
	is((long long)p.max_line, PROTO_DEFAULT_MAX_LINE,
	    "max_line 0 means the default");
	st = proto_feed(&p, S("abc"), &out, &used);
	ok(st == PROTO_MORE && buf_pending(&out) == 0 && used == 3,
	    "no reply before the newline, all 3 bytes used");
	is((long long)proto_partial(&p), 3, "partial line is 3 bytes");
	st = proto_feed(&p, S("de\nf"), &out, &used);
	is_mem(buf_head(&out), buf_pending(&out), S("ABCDE\n"),
	    "reply once the line completes");
	ok(st == PROTO_MORE && used == 4, "status MORE, 4 bytes used");
	is((long long)proto_partial(&p), 1, "the next line's byte is kept");
	buf_clear(&out);
	st = proto_feed(&p, "", 0, &out, &used);
	ok(st == PROTO_MORE && used == 0 && buf_pending(&out) == 0,
	    "an empty feed changes nothing");
	st = proto_feed(&p, S("\n"), &out, &used);
	is_mem(buf_head(&out), buf_pending(&out), S("F\n"), "second reply");
	is((long long)proto_partial(&p), 0, "nothing partial after it");
	is((long long)p.lines, 2, "lines counts 2 answered requests");
	proto_free(&p);
	buf_free(&out);
}

static void
test_end(void)
{
	check_all("'.' ends", 0, S(".\n"), "", 0, PROTO_END, 2);
	check_all("'.\\r' ends", 0, S(".\r\n"), "", 0, PROTO_END, 3);
	check_all("bytes after '.' not used", 0, S("a\n.\nb\n"), S("A\n"),
	    PROTO_END, 4);
	check_all("bytes after '.\\r' not used", 0, S("x\r\n.\r\nrest"),
	    S("X\r\n"), PROTO_END, 6);
	check_all("'. ' is a request", 0, S(". \n"), S(". \n"), PROTO_MORE, 3);
	check_all("'..' is a request", 0, S("..\n"), S("..\n"), PROTO_MORE, 3);
	check_all("'.\\r\\r' is a request", 0, S(".\r\r\n"), S(".\r\r\n"),
	    PROTO_MORE, 4);
	check_all("' .' is a request", 0, S(" .\n"), S(" .\n"), PROTO_MORE, 3);
	check_all("'.' without newline is not the end yet", 0, S("."), "", 0,
	    PROTO_MORE, 1);
	check_all("'.' with max_line 1", 1, S(".\n"), "", 0, PROTO_END, 2);
}

static void
test_end_counters(void)
{
	struct proto p;
	struct buf out;
	enum proto_status st;
	size_t used;

	proto_init(&p, 0);
	buf_init(&out);
	st = proto_feed(&p, S("one\ntwo\n.\nthree\n"), &out, &used);
	ok(st == PROTO_END, "END in the middle of a feed");
	is((long long)used, 10, "*used stops right after the '.' line");
	is((long long)p.lines, 2, "lines counts answered requests, not '.'");
	is((long long)proto_partial(&p), 0, "no partial line left after END");
	is_mem(buf_head(&out), buf_pending(&out), S("ONE\nTWO\n"),
	    "replies before the end are kept");
	proto_free(&p);

	/* "." split from its newline: END comes with the second feed. */
	proto_init(&p, 0);
	buf_clear(&out);
	st = proto_feed(&p, S("."), &out, &used);
	ok(st == PROTO_MORE && used == 1, "'.' alone waits for its newline");
	st = proto_feed(&p, S("\nafter"), &out, &used);
	ok(st == PROTO_END && used == 1,
	    "its newline ends, 1 byte used of 6");
	ok(buf_pending(&out) == 0, "no reply to '.'");
	proto_free(&p);
	buf_free(&out);
}

static char *
repeat(char c, size_t n, const char *tail, size_t *len)
{
	size_t tl = strlen(tail);
	char *s;

	if ((s = malloc(n + tl + 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	memset(s, c, n);
	memcpy(s + n, tail, tl + 1);
	*len = n + tl;
	return s;
}

static void
test_max_line(void)
{
	static const char err10[] = "ERR line too long (max 10 bytes)\n";
	char *in, *want;
	size_t n, wn;
	struct run r;

	in = repeat('a', 10, "\n", &n);
	check_all("exactly max_line (10) + LF", 10, in, n, S("AAAAAAAAAA\n"),
	    PROTO_MORE, n);
	free(in);
	in = repeat('a', 11, "\n", &n);
	check_all("max_line + 1 + LF", 10, in, n, S(err10), PROTO_TOOLONG, n);
	free(in);
	in = repeat('a', 10, "", &n);
	check_all("exactly max_line, no newline yet", 10, in, n, "", 0,
	    PROTO_MORE, n);
	free(in);
	in = repeat('a', 11, "", &n);
	check_all("max_line + 1, no newline", 10, in, n, S(err10),
	    PROTO_TOOLONG, n);
	free(in);
	/* The '\r' of CRLF is part of the line, the '\n' is not. */
	in = repeat('a', 9, "\r\n", &n);
	check_all("9 + CR + LF at max_line 10", 10, in, n, S("AAAAAAAAA\r\n"),
	    PROTO_MORE, n);
	free(in);
	in = repeat('a', 10, "\r\n", &n);
	check_all("10 + CR + LF at max_line 10", 10, in, n, S(err10),
	    PROTO_TOOLONG, n);
	free(in);

	/* A long line after a good one: the good reply goes first. */
	in = repeat('b', 20, "\n", &n);
	want = malloc(3 + sizeof(err10));
	if (want == NULL)
		exit(2);
	memcpy(want, "OK\n", 3);
	memcpy(want + 3, err10, sizeof(err10));
	wn = 3 + sizeof(err10) - 1;
	{
		char both[64];

		memcpy(both, "ok\n", 3);
		memcpy(both + 3, in, n);
		check_all("good line, then a long one", 10, both, 3 + n, want,
		    wn, PROTO_TOOLONG, 3 + n);
	}
	free(want);
	free(in);

	/* Partial never exceeds max_line, however the bytes arrive. */
	in = repeat('c', 100, "\n", &n);
	run_bytes(&r, 64, in, n);
	ok(r.st == PROTO_TOOLONG && r.max_partial <= 64 && r.partial == 0,
	    "byte by byte: partial peaked at %zu <= 64, cleared after ERR",
	    r.max_partial);
	run_free(&r);
	free(in);

	/* Default limit, at the boundary, with the line split in three. */
	in = repeat('d', PROTO_DEFAULT_MAX_LINE, "\n", &n);
	{
		size_t cuts[2] = { 1000, PROTO_DEFAULT_MAX_LINE };

		run_cuts(&r, 0, in, n, cuts, 2);
		ok(r.st == PROTO_MORE && buf_pending(&r.out) == n &&
		    buf_head(&r.out)[0] == 'D' && r.partial == 0,
		    "default limit: a %d-byte line in 3 pieces is answered",
		    PROTO_DEFAULT_MAX_LINE);
		run_free(&r);
	}
	free(in);
	in = repeat('d', PROTO_DEFAULT_MAX_LINE + 1, "\n", &n);
	{
		size_t cuts[2] = { 1000, PROTO_DEFAULT_MAX_LINE };
		static const char errd[] =
		    "ERR line too long (max 65536 bytes)\n";

		run_cuts(&r, 0, in, n, cuts, 2);
		ok(r.st == PROTO_TOOLONG, "default limit + 1 in 3 pieces: "
		    "TOOLONG");
		is_mem(buf_head(&r.out), buf_pending(&r.out), S(errd),
		    "default limit + 1: the ERR line names 65536");
		run_free(&r);
	}
	free(in);
}

/* xorshift64*: a fixed seed keeps failures reproducible. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/*
 * Random inputs made of lines from a small alphabet (ASCII, CR, UTF-8,
 * bad bytes, '.'), fed whole and in random pieces: same everything.
 */
static void
test_random(void)
{
	static const char *const atoms[] = {
		"a", "Z", " ", "\r", "\n", "\n", ".\n", ".\r\n", "\xc3\x9f",
		"\xc3\xa8", "\xff", "\xe2\x82", "\0", "xyz", "\xef\xac\x81",
	};
	uint64_t seed = 0x50c31abULL;
	char in[512];
	size_t cuts[16], n, i, k, ncut, a;
	struct run whole, split;
	int bad = 0, trial, seen[4] = { 0 };

	diag("random inputs: xorshift64* seed %#llx",
	    (unsigned long long)seed);
	for (trial = 0; trial < 2000; trial++) {
		size_t max_line = 1 + rnd(&seed) % 40;

		for (n = 0; n < sizeof(in) - 8;) {
			a = rnd(&seed) % (sizeof(atoms) / sizeof(atoms[0]));
			/* '.' lines are rare, or every input ends early. */
			if (a >= 6 && a <= 7 && rnd(&seed) % 8)
				continue;
			k = a == 12 ? 1 : strlen(atoms[a]);
			memcpy(in + n, atoms[a], k);
			n += k;
			if (rnd(&seed) % 64 == 0)
				break;
		}
		ncut = rnd(&seed) % 16;
		for (i = 0; i < ncut; i++)
			cuts[i] = rnd(&seed) % (n + 1);
		/* ascending */
		for (i = 1; i < ncut; i++)
			for (k = i; k > 0 && cuts[k - 1] > cuts[k]; k--) {
				size_t t = cuts[k];

				cuts[k] = cuts[k - 1];
				cuts[k - 1] = t;
			}
		run_whole(&whole, max_line, in, n);
		run_cuts(&split, max_line, in, n, cuts, ncut);
		if (whole.st != split.st ||
		    (whole.st != PROTO_TOOLONG &&
		    whole.consumed != split.consumed) ||
		    whole.lines != split.lines ||
		    !holds(&split.out, buf_head(&whole.out),
		    buf_pending(&whole.out)) ||
		    split.max_partial > max_line ||
		    buf_pending(&whole.out) > 3 * n + 64) {
			if (bad++ < 3)
				diag("trial %d differs (n %zu, max_line %zu)",
				    trial, n, max_line);
		}
		seen[whole.st]++;
		run_free(&whole);
		run_free(&split);
	}
	diag("outcomes: %d MORE, %d END, %d TOOLONG", seen[PROTO_MORE],
	    seen[PROTO_END], seen[PROTO_TOOLONG]);
	ok(seen[PROTO_MORE] > 0 && seen[PROTO_END] > 0 &&
	    seen[PROTO_TOOLONG] > 0, "random inputs reach every outcome");
	ok(bad == 0, "2000 random inputs: random pieces = one piece "
	    "(%d differ)", bad);
}

int
main(void)
{
	test_basic();
	test_partial();
	test_end();
	test_end_counters();
	test_max_line();
	test_random();
	return done_testing();
}
