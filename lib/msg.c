/*
 * msg.c - the programs' words in Italian (msg.h): one table of formats,
 * one of phrases that reach a line as arguments, and the errno texts.
 *
 * Each Italian format takes the same conversions, in the same order, as
 * its English one (tests/unit/msg.c checks); "%.0s" swallows an English
 * plural "s" that Italian does not build that way.  The terms are the
 * lab's: «connessione stabilita», «semiaperta», «codice di uscita».
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"

const struct msg_pair msg_formats[] = {
	/* bin/server's log */
	{ "connected with %s (pid %d)",
	    "connessione stabilita con %s (pid %d)" },
	{ "connected with %s (pid %d, tid %d)",
	    "connessione stabilita con %s (pid %d, tid %d)" },
	{ "session with %s ended: %lu lines, %s",
	    "sessione con %s terminata: righe %lu, %s" },
	{ "stopped", "fermato" },
	{ "worker %d (pid %d): %lu session%s",
	    "worker %d (pid %d): sessioni servite %lu%.0s" },
	{ "worker %d (tid %d): %lu session%s",
	    "worker %d (tid %d): sessioni servite %lu%.0s" },
	{ "worker %d (pid %d) killed by signal %d; starting another",
	    "worker %d (pid %d) ucciso dal segnale %d; ne avvio un altro" },
	{ "worker %d (pid %d) exited with status %d; starting another",
	    "worker %d (pid %d) terminato con codice di uscita %d; ne avvio "
	    "un altro" },
	{ "cannot start the pool: %d of %d workers",
	    "impossibile avviare il pool: %d worker su %d" },
	{ "%lu log line%s dropped: stdout was full",
	    "righe di log scartate: %lu%.0s (stdout pieno)" },
	{ "%lu error line%s dropped: stderr was full",
	    "righe di errore scartate: %lu%.0s (stderr pieno)" },
	{ "unknown model '%s'; try --list-models",
	    "modello '%s' sconosciuto; prova --list-models" },
	{ "unexpected argument '%s'", "argomento inatteso '%s'" },
	{ "out of memory", "memoria esaurita" },
	/* bin/udp-server */
	{ "datagram from %s (%zd bytes)", "datagramma da %s (%zd byte)" },
	{ "reply to %s (%zu bytes) not sent: %s%s",
	    "risposta a %s (%zu byte) non inviata: %s%s" },
	{ "datagram from %s longer than %zu bytes: truncated, not answered",
	    "datagramma da %s più lungo di %zu byte: troncato, senza "
	    "risposta" },
	{ "recvmsg: %s (ignored)", "recvmsg: %s (ignorato)" },
	/* bin/client */
	{ "connection refused: no server on %s",
	    "connessione rifiutata: nessun server su %s" },
	{ "connection timed out: no answer from %s (is the server's accept "
	    "queue full?)",
	    "connessione scaduta: nessuna risposta da %s (la coda di accept "
	    "del server è piena?)" },
	{ "the server ended the session", "il server ha chiuso la sessione" },
	{ "the server closed the connection in the middle of a reply",
	    "il server ha chiuso la connessione a metà di una risposta" },
	{ "the server closed the connection before replying",
	    "il server ha chiuso la connessione prima di rispondere" },
	{ "the server closed the connection",
	    "il server ha chiuso la connessione" },
	{ "connection reset by the server",
	    "connessione azzerata dal server (RST)" },
	{ "read from %s: %s", "lettura da %s: %s" },
	{ "write to %s: %s", "scrittura verso %s: %s" },
	{ "timed out: %s took no more of the line in %g s",
	    "tempo scaduto: %s non ha accettato altro della riga in %g s" },
	{ "timed out: no reply from %s in %g s",
	    "tempo scaduto: nessuna risposta da %s in %g s" },
	{ "timed out: %s did not close the session in %g s",
	    "tempo scaduto: %s non ha chiuso la sessione in %g s" },
	/* bin/udp-client: the slide's own words */
	{ "connection refused: no UDP server on %s",
	    "connessione rifiutata: nessun server UDP su %s" },
	{ "timeout expired: server not reachable (no reply in %s)",
	    "Timeout scaduti: Server non raggiungibile (nessuna risposta in "
	    "%s)" },
	{ "a line of %zu bytes does not fit in one datagram",
	    "una riga di %zu byte non sta in un datagramma" },
	{ "send to %s: %s", "invio a %s: %s" },
	{ "receive from %s: %s", "ricezione da %s: %s" },
	{ "dropped a %zd-byte datagram that does not answer this line (a "
	    "duplicate or a late reply)",
	    "scartato un datagramma di %zd byte che non risponde a questa "
	    "riga (un duplicato o una risposta in ritardo)" },
};
const size_t msg_nformats = sizeof(msg_formats) / sizeof(msg_formats[0]);

/*
 * Phrases a line gets from its arguments: why a session ended, and the C
 * library's strerror() texts, which callers pass as "%s".  A longer
 * phrase comes before any phrase it contains.
 */
const struct msg_pair msg_phrase_tab[] = {
	/* why a session ended: "... ended: 2 lines, client sent '.'" */
	{ ", client sent '.'", ", il client ha inviato '.'" },
	{ ", client closed mid-line", ", il client ha chiuso a metà riga" },
	{ ", client closed", ", il client ha chiuso" },
	{ ", client not reading", ", il client non legge" },
	{ ", idle timeout", ", inattivo troppo a lungo" },
	{ ", line too long", ", riga troppo lunga" },
	{ ", shutdown", ", arresto del server" },
	{ " (larger than one datagram can be)",
	    " (più grande di qualsiasi datagramma)" },
	{ "Connection refused", "Connessione rifiutata" },
	{ "Connection reset by peer", "Connessione azzerata dal peer" },
	{ "Connection timed out", "Connessione scaduta" },
	{ "Address already in use", "Indirizzo già in uso" },
	{ "Broken pipe", "Pipe interrotta" },
	{ "No route to host", "Nessun percorso verso l'host" },
	{ "Network is unreachable", "Rete non raggiungibile" },
	{ "Too many open files", "Troppi file aperti" },
	{ "Permission denied", "Permesso negato" },
	{ "No such file or directory", "File o directory inesistente" },
	{ "Invalid argument", "Argomento non valido" },
	{ "Cannot assign requested address",
	    "Impossibile assegnare l'indirizzo richiesto" },
};
const size_t msg_nphrases = sizeof(msg_phrase_tab) /
    sizeof(msg_phrase_tab[0]);

static const struct {
	int		 err;
	const char	*it;
} errtab[] = {
	{ ECONNREFUSED, "Connessione rifiutata" },
	{ ECONNRESET, "Connessione azzerata dal peer" },
	{ ETIMEDOUT, "Connessione scaduta" },
	{ EADDRINUSE, "Indirizzo già in uso" },
	{ EPIPE, "Pipe interrotta" },
	{ EHOSTUNREACH, "Nessun percorso verso l'host" },
	{ ENETUNREACH, "Rete non raggiungibile" },
	{ EMFILE, "Troppi file aperti" },
	{ EACCES, "Permesso negato" },
	{ ENOENT, "File o directory inesistente" },
	{ EINVAL, "Argomento non valido" },
	{ EADDRNOTAVAIL, "Impossibile assegnare l'indirizzo richiesto" },
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int chosen = -1;		/* msg_setlang(); -1: the environment */
static int italian;

static void
from_env(void)
{
	static const char *const vars[] = { "DEMO_LANG", "SOCKLAB_LANG",
	    "LC_ALL", "LC_MESSAGES", "LANG" };
	const char *v;
	size_t i;

	/* The first one set decides, as the locale's own order does. */
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((v = getenv(vars[i])) != NULL && *v != '\0') {
			italian = strncmp(v, "it", 2) == 0;
			return;
		}
}

int
msg_setlang(const char *s)
{
	if (strcmp(s, "en") != 0 && strcmp(s, "it") != 0)
		return -1;
	chosen = strcmp(s, "it") == 0;
	return 0;
}

int
msg_option(const char *arg)
{
	if (msg_setlang(arg) == 0)
		return 0;
	log_err("--lang: '%s' is not en or it", arg);
	return -1;
}

int
msg_italian(void)
{
	if (chosen != -1)
		return chosen;
	pthread_once(&once, from_env);
	return italian;
}

const char *
msg(const char *en)
{
	size_t i;

	if (!msg_italian())
		return en;
	for (i = 0; i < msg_nformats; i++)
		if (strcmp(msg_formats[i].en, en) == 0)
			return msg_formats[i].it;
	return en;
}

const char *
msg_strerror(int errnum)
{
	size_t i;

	if (msg_italian())
		for (i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
			if (errtab[i].err == errnum)
				return errtab[i].it;
	return strerror(errnum);
}

size_t
msg_phrases(char *line, size_t len, size_t cap)
{
	size_t i, el, il;
	char *p;

	if (!msg_italian())
		return len;
	for (i = 0; i < msg_nphrases; i++) {
		el = strlen(msg_phrase_tab[i].en);
		il = strlen(msg_phrase_tab[i].it);
		line[len] = '\0';
		if ((p = strstr(line, msg_phrase_tab[i].en)) == NULL ||
		    len - el + il >= cap)
			continue;
		memmove(p + il, p + el, len - (size_t)(p - line) - el + 1);
		memcpy(p, msg_phrase_tab[i].it, il);
		len = len - el + il;
	}
	return len;
}

size_t
msg_width(const char *s, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n && s[i] != '\0'; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

char *
msg_pad(char *out, size_t n, const char *s, int width)
{
	size_t w = msg_width(s, (size_t)-1);

	snprintf(out, n, "%s%*s", s, w < (size_t)width ? width - (int)w : 0,
	    "");
	return out;
}
