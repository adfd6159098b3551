/*
 * unit-session - tests for the session core (lib/session.c): no socket,
 * no clock.  Each check plays a driver: it feeds events with the times
 * it chooses and looks at what the session wants next.
 */
#include <string.h>

#include "session.h"
#include "tap.h"

#define S(lit)	lit, sizeof(lit) - 1

static struct server_opts
opts(size_t max_line, size_t max_output, int idle)
{
	struct server_opts o;

	memset(&o, 0, sizeof(o));
	o.max_line = max_line;
	o.max_output = max_output ? max_output : 1 << 20;
	o.idle_timeout = idle;
	o.quiet = 1;
	return o;
}

/* Take all the replies, as a driver whose every send succeeds. */
static size_t
take(struct session *s, char *dst, size_t cap, long long now)
{
	const char *p;
	size_t n, got = 0;

	while ((p = session_output(s, &n)) != NULL && got + n <= cap) {
		memcpy(dst + got, p, n);
		got += n;
		session_sent(s, n, now);
	}
	return got;
}

static void
split_lines(void)
{
	struct server_opts o = opts(0, 0, 0);
	struct session s;
	char out[64];
	size_t n;

	session_init(&s, &o, "test", 0);
	session_input(&s, S("hel"), 1);
	is(session_next(&s), SESSION_READ, "a partial line: read on");
	is((long long)session_held(&s), 3, "the partial line is held");
	session_input(&s, S("lo\nwor"), 2);
	session_input(&s, S("ld\n"), 3);
	is(session_next(&s), SESSION_READ | SESSION_WRITE, "replies wait");
	n = take(&s, out, sizeof(out), 4);
	is_mem(out, n, S("HELLO\nWORLD\n"), "lines split across feeds");
	is((long long)s.p.lines, 2, "two lines counted");
	session_end(&s, NULL);
}

static void
several_lines(void)
{
	struct server_opts o = opts(0, 0, 0);
	struct session s;
	char out[64];
	size_t n;

	session_init(&s, &o, "test", 0);
	session_input(&s, S("a\nbc\r\nd\n"), 1);
	n = take(&s, out, sizeof(out), 2);
	is_mem(out, n, S("A\nBC\r\nD\n"), "three lines in one feed");
	is(session_next(&s), SESSION_READ, "all sent: read on");
	session_eof(&s);
	is(session_next(&s), SESSION_CLOSE, "EOF, nothing waits: close");
	ok(strcmp(s.why, "client closed") == 0, "why: %s", s.why);
	session_end(&s, NULL);

	session_init(&s, &o, "test", 0);
	session_input(&s, S("a\nb"), 1);
	session_eof(&s);
	is(session_next(&s), SESSION_WRITE, "EOF: the replies still go out");
	ok(strcmp(s.why, "client closed mid-line") == 0, "why: %s", s.why);
	session_end(&s, NULL);
}

static void
dot_ends(void)
{
	struct server_opts o = opts(0, 0, 0);
	struct session s;
	char out[64];
	size_t n;

	session_init(&s, &o, "test", 0);
	session_input(&s, S("x\n.\n"), 1);
	is(session_next(&s), SESSION_WRITE, "'.': no more reading");
	n = take(&s, out, sizeof(out), 2);
	is_mem(out, n, S("X\n"), "no reply to '.'");
	is(session_next(&s), SESSION_PROBE, "'.' alone: ask the socket");
	session_probe(&s, 0);
	is(session_next(&s), SESSION_CLOSE, "nothing behind '.': close");
	ok(strcmp(s.why, "client sent '.'") == 0, "why: %s", s.why);
	session_end(&s, NULL);

	session_init(&s, &o, "test", 0);
	session_input(&s, S(".\r\n"), 1);
	session_probe(&s, 1);
	is(session_next(&s), SESSION_LINGER, "more in the socket: linger");
	session_end(&s, NULL);

	session_init(&s, &o, "test", 0);
	session_input(&s, S(".\nlate\n"), 1);
	is(session_next(&s), SESSION_LINGER, "bytes behind '.': linger");
	session_input(&s, S("ignored\n"), 2);
	is((long long)session_pending(&s), 0, "no input once done");
	session_end(&s, NULL);
}

static void
max_line(void)
{
	struct server_opts o = opts(4, 0, 0);
	struct session s;
	char out[64];
	size_t n;

	session_init(&s, &o, "test", 0);
	session_input(&s, S("abcd\nab"), 1);
	session_input(&s, S("cde"), 2);
	is(session_next(&s), SESSION_WRITE, "too long: the ERR goes out");
	n = take(&s, out, sizeof(out), 3);
	is_mem(out, n, S("ABCD\nERR line too long (max 4 bytes)\n"),
	    "4 bytes pass, 5 split ones do not");
	is(session_next(&s), SESSION_LINGER, "the rest is coming: linger");
	ok(strcmp(s.why, "line too long") == 0, "why: %s", s.why);
	session_end(&s, NULL);
}

static void
output_bound(void)
{
	struct server_opts o = opts(0, 8, 0);
	struct session s;
	const char *p;
	char copy[16];
	size_t n;

	session_init(&s, &o, "test", 0);
	session_input(&s, S("abcdefghij\n"), 1);
	is(session_next(&s), SESSION_WRITE, "11 bytes wait, bound 8: no read");
	p = session_output(&s, &n);
	is((long long)n, 11, "all of them on loan");
	memcpy(copy, p, n);
	session_sent(&s, 4, 2);
	is(session_next(&s), SESSION_WRITE, "7 > 8/2 wait: still paused");
	p = session_output(&s, &n);
	is_mem(p, n, copy + 4, 7, "a short send: the rest is asked again");
	session_sent(&s, 3, 3);
	is(session_next(&s), SESSION_READ | SESSION_WRITE,
	    "4 <= 8/2 wait: read again");

	/* Input while a send is in flight: the loaned bytes stay. */
	p = session_output(&s, &n);
	memcpy(copy, p, n);
	session_input(&s, S("more input that grows the buffers\n"), 4);
	is_mem(p, n, copy, 4, "loaned bytes unchanged by new input");
	is((long long)session_pending(&s), 4 + 34, "new replies queue");
	session_sent(&s, n, 5);
	p = session_output(&s, &n);
	is_mem(p, n, S("MORE INPUT THAT GROWS THE BUFFERS\n"),
	    "then come the new replies, in order");
	session_sent(&s, n, 6);
	is((long long)session_pending(&s), 0, "all out");
	session_end(&s, NULL);
}

static void
idle_deadline(void)
{
	struct server_opts o = opts(0, 0, 2);
	struct session s;
	char out[64];

	session_init(&s, &o, "test", 1000);
	is(session_deadline(&s), 3000, "idle clock starts at init");
	is(session_tick(&s, 2999), 0, "not yet");
	session_input(&s, S("part"), 2500);
	is(session_deadline(&s), 3000, "a partial line does not count");
	session_input(&s, S("ial\n"), 2600);
	is(session_deadline(&s), 4600, "a whole line restarts it");
	(void)take(&s, out, sizeof(out), 2700);
	is(session_deadline(&s), 4700, "replies taken restart it");
	is(session_tick(&s, 4700), 1, "due");
	is(session_next(&s), SESSION_CLOSE, "idle: close, no linger");
	ok(strcmp(s.why, "idle timeout") == 0, "why: %s", s.why);
	session_end(&s, NULL);

	session_init(&s, &o, "test", 0);
	session_input(&s, S("x\n"), 0);
	is(session_tick(&s, 2000), 1, "replies not taken: due as well");
	ok(strcmp(s.why, "client not reading") == 0, "why: %s", s.why);
	session_end(&s, NULL);

	o.idle_timeout = 0;
	session_init(&s, &o, "test", 0);
	is(session_deadline(&s), 0, "--idle-timeout 0: no deadline");
	is(session_tick(&s, 1LL << 40), 0, "never due");
	session_end(&s, NULL);
}

static void
linger_after_tick(void)
{
	struct server_opts o = opts(4, 0, 1);
	struct session s;

	/* An over-long line would linger, but the client then took too
	 * long to read the ERR: we owe it nothing. */
	session_init(&s, &o, "test", 0);
	session_input(&s, S("abcdefgh"), 0);
	is(session_tick(&s, 1000), 1, "ERR not taken in time");
	(void)session_output(&s, &(size_t){ 0 });
	session_sent(&s, session_pending(&s), 1001);
	is(session_next(&s), SESSION_CLOSE, "idle: close without linger");
	session_end(&s, NULL);
}

/* A completion driver: input arrives while a send is in flight. */
static void
sends_in_flight(void)
{
	static char burst[40000];
	struct server_opts o = opts(0, 0, 0);
	struct session s;
	size_t n;

	memset(burst, 'x', sizeof(burst) - 1);
	burst[sizeof(burst) - 1] = '\n';
	session_init(&s, &o, "test", 0);
	session_input(&s, burst, sizeof(burst), 0);
	(void)session_output(&s, &n);
	session_input(&s, burst, sizeof(burst), 0);
	is((long long)session_pending(&s), 2 * (long long)sizeof(burst),
	    "replies queue behind those on loan");
	session_sent(&s, n, 1);
	ok(s.out.cap > SESSION_OUT_KEEP, "its buffer is kept while more "
	    "replies wait (cap %zu)", s.out.cap);
	(void)session_output(&s, &n);
	is((long long)n, (long long)sizeof(burst), "then those go out");
	session_sent(&s, n, 2);
	ok(s.out.cap <= SESSION_OUT_KEEP && s.more.cap <= SESSION_OUT_KEEP,
	    "both buffers are given back once all are out (%zu, %zu)",
	    s.out.cap, s.more.cap);
	session_end(&s, NULL);
}

int
main(void)
{
	split_lines();
	several_lines();
	dot_ends();
	max_line();
	output_bound();
	idle_deadline();
	linger_after_tick();
	sends_in_flight();
	return done_testing();
}
