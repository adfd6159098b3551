/*
 * fuzz_casemap.c - libFuzzer target for case_upper().
 *
 *	clang -fsanitize=fuzzer,address -Ilib -D_POSIX_C_SOURCE=200809L \
 *	    fuzz/fuzz_casemap.c lib/casemap.c lib/casetab.c
 *
 * Checks, for any input: the output fits in CASE_MAX_EXPANSION * n (and
 * ASan sees every access, as both buffers are exactly sized), upper-casing
 * twice changes nothing more, ASCII upper-cases byte for byte, and valid
 * UTF-8 stays valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "casemap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Well-formed UTF-8 per Unicode table 3-7, written apart from casemap.c. */
static int
valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0, k, len;
	uint8_t lo, hi;

	while (i < n) {
		lo = 0x80, hi = 0xbf;
		if (s[i] < 0x80)
			len = 1;
		else if (s[i] >= 0xc2 && s[i] <= 0xdf)
			len = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			len = 3;
			lo = s[i] == 0xe0 ? 0xa0 : 0x80;
			hi = s[i] == 0xed ? 0x9f : 0xbf;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			len = 4;
			lo = s[i] == 0xf0 ? 0x90 : 0x80;
			hi = s[i] == 0xf4 ? 0x8f : 0xbf;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++)
			if (s[i + k] < (k == 1 ? lo : 0x80) ||
			    s[i + k] > (k == 1 ? hi : 0xbf))
				return 0;
		i += len;
	}
	return 1;
}

static int
is_ascii(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return 0;
	return 1;
}

/* Exactly sized copies, so that ASan catches a read or write one past. */
static char *
upper(const void *in, size_t n, size_t *olen)
{
	char *src, *dst;

	if ((src = malloc(n ? n : 1)) == NULL ||
	    (dst = malloc(n ? CASE_MAX_EXPANSION * n : 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(src, in, n);
	*olen = case_upper(src, n, dst);
	free(src);
	return dst;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *once, *twice;
	size_t n1, n2, i;

	once = upper(data, n, &n1);
	if (n1 > CASE_MAX_EXPANSION * n)
		abort();
	twice = upper(once, n1, &n2);
	if (n2 != n1 || memcmp(once, twice, n1) != 0)
		abort();
	if (is_ascii(data, n)) {
		if (n1 != n)
			abort();
		for (i = 0; i < n; i++)
			if ((uint8_t)once[i] != (data[i] >= 'a' && data[i] <= 'z' ?
			    data[i] - 0x20 : data[i]))
				abort();
	}
	if (valid_utf8(data, n) && !valid_utf8((uint8_t *)once, n1))
		abort();
	free(once);
	free(twice);
	return 0;
}
