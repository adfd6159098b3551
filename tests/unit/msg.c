/*
 * msg.c - unit test of lib/msg.c: the Italian table and the columns of
 * Italian text.
 *
 * An Italian format must take the same conversions in the same order as
 * its English one, or printf reads the wrong arguments: checked for
 * every entry.  Tables pad by columns, not bytes: "è" is two bytes.
 */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "msg.h"

/* The conversions of a format, one letter each ("%lu %s" -> "us"). */
static void
conversions(const char *f, char *out, size_t n)
{
	size_t k = 0;

	for (; *f != '\0' && k + 1 < n; f++) {
		if (*f != '%')
			continue;
		f++;
		if (*f == '%')
			continue;
		while (*f != '\0' && strchr("-+ #0123456789.*lhzjt", *f) != NULL)
			f++;
		if (*f == '\0')
			break;
		out[k++] = *f;
	}
	out[k] = '\0';
}

static void
formats(void)
{
	char en[32], it[32];
	size_t i;

	for (i = 0; i < msg_nformats; i++) {
		conversions(msg_formats[i].en, en, sizeof(en));
		conversions(msg_formats[i].it, it, sizeof(it));
		ok(strcmp(en, it) == 0 && strcmp(msg_formats[i].en,
		    msg_formats[i].it) != 0, "'%s': Italian takes %%%s too",
		    msg_formats[i].en, en);
	}
	for (i = 0; i < msg_nphrases; i++)
		ok(strchr(msg_phrase_tab[i].it, '%') == NULL,
		    "phrase '%s' has no conversion", msg_phrase_tab[i].en);
}

static void
language(void)
{
	char line[128] = "session with 127.0.0.1:5 ended: 2 lines, client sent '.'";
	size_t n;

	ok(msg_setlang("fr") == -1, "msg_setlang refuses 'fr'");
	ok(msg_setlang("en") == 0, "English");
	ok(strcmp(msg("connected with %s (pid %d)"),
	    "connected with %s (pid %d)") == 0,
	    "English: msg() returns the English format");
	is(msg_phrases(line, strlen(line), sizeof(line)), strlen(line),
	    "English: no phrase replaced");
	ok(strcmp(msg_strerror(ECONNREFUSED), strerror(ECONNREFUSED)) == 0,
	    "English: msg_strerror is strerror");
	ok(msg_setlang("it") == 0 && msg_italian(), "Italian");
	ok(strcmp(msg("connected with %s (pid %d)"),
	    "connessione stabilita con %s (pid %d)") == 0,
	    "Italian: «connessione stabilita»");
	ok(strcmp(msg("timeout expired: server not reachable (no reply in %s)"),
	    "Timeout scaduti: Server non raggiungibile (nessuna risposta in %s)")
	    == 0, "Italian: the UDP client's timeout in the slide's words");
	ok(strcmp(msg("no such format %d"), "no such format %d") == 0,
	    "Italian: an unknown format stays as it is");
	ok(strcmp(msg("listening on %s (model %s, backlog %d)"),
	    "listening on %s (model %s, backlog %d)") == 0,
	    "the 'listening on' line is never translated");
	n = msg_phrases(line, strlen(line), sizeof(line));
	ok(n == strlen(line) && strstr(line, ", il client ha inviato '.'") !=
	    NULL, "Italian: the reason a session ended: %s", line);
	strcpy(line, "shutdown: Connection refused");
	msg_phrases(line, strlen(line), sizeof(line));
	ok(strcmp(line, "shutdown: Connessione rifiutata") == 0,
	    "a strerror text in a line; 'shutdown:' as a call's name stays: %s",
	    line);
	strcpy(line, "x, client closed");
	n = msg_phrases(line, strlen(line), 18);
	ok(n == strlen("x, client closed") && strcmp(line, "x, client closed") == 0,
	    "no room: the phrase stays English, nothing overflows");
	ok(strcmp(msg_strerror(ETIMEDOUT), "Connessione scaduta") == 0,
	    "Italian: msg_strerror(ETIMEDOUT)");
}

static void
columns(void)
{
	static const char *const cells[] = { "in coda", "SYN scart.",
	    "stabilità", "perché è", "ß" };
	char out[64];
	size_t i;

	is(msg_width("è", (size_t)-1), 1, "'è' is one column");
	is(msg_width("perché è", (size_t)-1), 8, "'perché è' is 8 columns");
	is(msg_width("abc", 2), 2, "the first n bytes only");
	for (i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		msg_pad(out, sizeof(out), cells[i], 12);
		is(msg_width(out, (size_t)-1), 12, "'%s' padded to 12 columns "
		    "(%zu bytes)", cells[i], strlen(out));
	}
	msg_pad(out, sizeof(out), "più lungo di dieci", 10);
	ok(strcmp(out, "più lungo di dieci") == 0, "a longer cell is not cut");
}

int
main(void)
{
	formats();
	language();
	columns();
	return done_testing();
}
