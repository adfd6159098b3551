#define _GNU_SOURCE		/* sigtimedwait, pthread_sigmask */
/*
 * loadgen.c - socklab's benchmark client: options, threads, the run.
 *
 * Sessions are split over -t event loops (loadgen_session.c), each with
 * its own histograms, merged when they are done; this thread only shows
 * progress, catches Ctrl-C and writes the report (loadgen_report.c).
 * Honest numbers first: latency in a histogram, never per-request logs;
 * open loop corrected for coordinated omission as wrk2 does; a run that
 * lost sessions or was interrupted says so and exits 1.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kstat.h"
#include "log.h"
#include "net.h"
#include "opt.h"
#include "loadgen.h"

#define SEC	1000000000ULL
/* The longest gap a schedule may have: keeps every time well in 64 bits. */
#define MAX_GAP_S	1e6
#define MS_10		10000000ULL	/* the shortest --interval */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: loadgen [options]\n"
"       loadgen merge [--json FILE] [--csv] [-q] A.json B.json ...\n"
"Drive a line server (one reply line per request line) with N sessions and\n"
"report throughput, latency percentiles, connect times and errors.\n"
"\n"
"Target\n"
"  -H, --host HOST         server address (default 127.0.0.1)\n"
"  -p, --port PORT         server port (default 12000)\n"
"Load\n"
"  -c, --sessions N        concurrent sessions (default 10)\n"
"  -t, --threads N         event loops, one thread each; sessions are\n"
"                          shared out among them (default 1)\n"
"  -P, --pipeline DEPTH    requests in flight per session (default 1)\n"
"  -k, --keepalive 0|1     1: persistent sessions (default); 0: a new\n"
"                          connection for every request (connect, send one\n"
"                          line, read the reply, close)\n"
"  -n, --requests N        stop after N measured requests\n"
"  -d, --duration DUR      measure for DUR (default 10s when there is no -n)\n"
"      --warmup DUR        run DUR first and leave it out of the figures\n"
"  -R, --rate R            open loop: R requests/s in total on a fixed\n"
"                          schedule; latency counts from the time a request\n"
"                          was due (corrected) and from when it went out\n"
"                          (uncorrected).  Default: closed loop, each session\n"
"                          sends its next request when a reply comes back\n"
"      --start-at T        start at wall-clock time T (seconds since the\n"
"                          epoch, e.g. $(($(date +%%s) + 5))), so that\n"
"                          loadgens launched apart measure the same window;\n"
"                          a T already past is an error\n"
"      --connect-rate R    open R sessions per second (default: all at once)\n"
"                          (rates below sessions / 1e6 s are refused)\n"
"      --procs N           run N loadgen processes that share out the\n"
"                          sessions, the rates and -n (-t is per process),\n"
"                          start together and are reported as one run, their\n"
"                          histograms merged (as loadgen merge); with --json\n"
"                          FILE each one's JSON is kept as FILE.1 ... FILE.N.\n"
"                          One process holds at most RLIMIT_NOFILE sessions\n"
"      --source ADDR[-ADDR]  connect from these local addresses, round-robin\n"
"                          (an IPv4 range such as 127.0.0.2-127.0.0.9, or one\n"
"                          address): each address reaches the server from\n"
"                          its own ~28k ephemeral ports (bound with\n"
"                          IP_BIND_ADDRESS_NO_PORT)\n"
"Requests\n"
"  -s, --size BYTES        bytes per request line, '\\n' included\n"
"                          (default 16); the lines are letters and digits\n"
"                          that vary per request (a pool made before the\n"
"                          run), and each reply must be the line upper-cased\n"
"      --seed N            seed of the generated lines (default 1)\n"
"      --request STR       send STR every time instead (C escapes \\r \\n\n"
"                          \\t \\\\ \\xHH are decoded); its reply must be STR\n"
"                          upper-cased as Python's str.upper() does\n"
"      --no-verify         do not check replies: a reply is any line ending\n"
"                          in '\\n' (e.g. --request 'PING\\r\\n' to\n"
"                          redis-server)\n"
"      --timeout DUR       a request unanswered for DUR is an error\n"
"                          (default 10s)\n"
"      --connect-timeout DUR  a handshake not done in DUR is an error\n"
"                          (default 10s)\n"
"Output\n");
	fprintf(f,
"      --json FILE         write every figure, the parameters and the\n"
"                          histograms to FILE\n"
"      --csv               one header line and one row on stdout instead of\n"
"                          the summary\n"
"      --interval DUR      cut the run into intervals of DUR: each one's\n"
"                          throughput, errors and latency percentiles in\n"
"                          the JSON and on the progress line (not with\n"
"                          --procs)\n"
"      --hlog FILE         write the intervals' latency histograms (tags\n"
"                          corrected, uncorrected) to FILE as an\n"
"                          HdrHistogram interval log (default --interval 1s;\n"
"                          not with --procs)\n"
"  -q, --quiet             no summary and no progress line (errors and\n"
"                          warnings still go to stderr)\n"
"  -h, --help              this text\n"
"  -V, --version           the version\n"
"\n"
"DUR is a number with a unit: us, ms, s (the default), m; e.g. 500ms, 1.5s.\n"
"A live progress line goes to stderr once a second when it is a terminal.\n"
"A persistent session lost to an error is not reopened; with -k 0 a slot\n"
"goes on after an error unless the connection was refused.\n"
"Every request that fell due is accounted for: answered, failed, or\n"
"unanswered at the end (reported with how long it waited; in the open loop\n"
"also in the corrected latency, counted until the end).  Throughput counts\n"
"every right reply received in the measured window.  loadgen reports its own\n"
"CPU and warns when a thread of it kept a core busy.\n"
"loadgen merge adds the histograms (not the percentiles) and the counts of\n"
"runs that measured the same window (--start-at), and reports them as one.\n"
"Exit status: 0 no errors; 1 some request or connect failed, the run was\n"
"cut short (Ctrl-C, lost sessions), completed nothing, or a session waited\n"
"for a reply through half the measured window or more; 2 bad usage.\n");
}

static void
usage_error(const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	die(2, "%s (see --help)", msg);
}

static uint64_t
parse_count(const char *s, const char *what, uint64_t min, uint64_t max)
{
	unsigned long long v = 0;
	char *end = NULL;

	errno = 0;
	/* strtoull() would take "-5" as a huge number: refuse signs first. */
	if (*s >= '0' && *s <= '9')
		v = strtoull(s, &end, 10);
	if (end == NULL || errno != 0 || *end != '\0' || v < min || v > max)
		die(2, "%s: '%s' is not a number from %llu to %llu "
		    "(see --help)", what, s, (unsigned long long)min,
		    (unsigned long long)max);
	return v;
}

static double
parse_positive(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || end != s + opt_decimal(s, 1) ||
	    *end != '\0' || !(v > 0) || !isfinite(v))
		die(2, "%s: '%s' is not a positive number (see --help)",
		    what, s);
	return v;
}

/* "10s", "500ms", "1.5", "2m", "100us" -> ns; zero allowed when zero_ok. */
static uint64_t
parse_duration(const char *s, const char *what, int zero_ok)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "", 1e9 }, { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 },
		{ "m", 60e9 }, { "ns", 1 },
	};
	char *end;
	double v;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	/* Digits first, as lib/opt.c wants them: no sign, space, exponent. */
	if (errno == 0 && end != s && end == s + opt_decimal(s, 1) &&
	    v >= 0 && isfinite(v))
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(end, units[i].unit) == 0 &&
			    v * units[i].ns < 1e18 &&
			    (zero_ok || v * units[i].ns >= 1))
				return (uint64_t)llround(v * units[i].ns);
	die(2, "%s: '%s' is not a duration such as 10s, 500ms or 2m%s "
	    "(see --help)", what, s, zero_ok ? "" : " (above zero)");
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode C escapes; the result is not NUL-terminated data, hence *len. */
static char *
unescape(const char *s, size_t *len)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	int hi, lo;

	if (out == NULL)
		die(1, "out of memory");
	for (; *s != '\0'; s++) {
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case '0': *o++ = '\0'; break;
		case '\\': *o++ = '\\'; break;
		case '\'': *o++ = '\''; break;
		case '"': *o++ = '"'; break;
		case 'x':
			if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
				die(2, "--request: \\x needs two hex digits "
				    "(see --help)");
			*o++ = (char)(hi * 16 + lo);
			s += 2;
			break;
		default:
			die(2, "--request: unknown escape '\\%c' (see --help)",
			    *s ? *s : ' ');
		}
	}
	*len = (size_t)(o - out);
	return out;
}

/*
 * A rate so low that one session's requests (or the sessions' openings)
 * would be more than MAX_GAP_S apart is refused: the times it makes would
 * not fit in nanoseconds.
 */
static void
check_rates(const struct opts *o)
{
	double least = (double)o->sessions / MAX_GAP_S;

	if (o->rate > 1e9)
		die(2, "--rate: at most 1e9 requests/s (see --help)");
	if (o->rate > 0 && o->rate < least)
		die(2, "--rate: %g requests/s over %d sessions is below the "
		    "least, %g (see --help)", o->rate, o->sessions, least);
	if (o->connect_rate > 0 && o->connect_rate < least)
		die(2, "--connect-rate: %g sessions/s for %d sessions is below "
		    "the least, %g (see --help)", o->connect_rate, o->sessions,
		    least);
}

/* --procs N shares out the sessions and -n: each process needs some. */
static void
check_procs(const struct opts *o)
{
	if (o->procs == 1)
		return;
	if (o->procs > o->sessions)
		die(2, "--procs %d is more than the %d sessions (see --help)",
		    o->procs, o->sessions);
	if (o->total != 0 && o->total < (uint64_t)o->procs)
		die(2, "--procs %d is more than the %llu requests of -n (see "
		    "--help)", o->procs, (unsigned long long)o->total);
	if (o->period != 0 || o->hlog != NULL)
		die(2, "--interval and --hlog are per process: not with "
		    "--procs (see --help)");
}

enum {
	OPT_WARMUP = 256, OPT_CONNECT_RATE, OPT_SEED, OPT_REQUEST,
	OPT_NOVERIFY, OPT_TIMEOUT, OPT_CTIMEOUT, OPT_JSON, OPT_CSV,
	OPT_INTERVAL, OPT_HLOG, OPT_START_AT, OPT_PROCS, OPT_SOURCE
};

static const struct option longopts[] = {
	{ "host",		required_argument, NULL, 'H' },
	{ "port",		required_argument, NULL, 'p' },
	{ "sessions",		required_argument, NULL, 'c' },
	{ "connections",	required_argument, NULL, 'c' },
	{ "threads",		required_argument, NULL, 't' },
	{ "pipeline",		required_argument, NULL, 'P' },
	{ "keepalive",		required_argument, NULL, 'k' },
	{ "requests",		required_argument, NULL, 'n' },
	{ "duration",		required_argument, NULL, 'd' },
	{ "warmup",		required_argument, NULL, OPT_WARMUP },
	{ "rate",		required_argument, NULL, 'R' },
	{ "connect-rate",	required_argument, NULL, OPT_CONNECT_RATE },
	{ "size",		required_argument, NULL, 's' },
	{ "seed",		required_argument, NULL, OPT_SEED },
	{ "request",		required_argument, NULL, OPT_REQUEST },
	{ "no-verify",		no_argument, NULL, OPT_NOVERIFY },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout",	required_argument, NULL, OPT_CTIMEOUT },
	{ "json",		required_argument, NULL, OPT_JSON },
	{ "csv",		no_argument,	   NULL, OPT_CSV },
	{ "interval",		required_argument, NULL, OPT_INTERVAL },
	{ "hlog",		required_argument, NULL, OPT_HLOG },
	{ "start-at",		required_argument, NULL, OPT_START_AT },
	{ "procs",		required_argument, NULL, OPT_PROCS },
	{ "source",		required_argument, NULL, OPT_SOURCE },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
parse_options(int argc, char **argv, struct opts *o)
{
	char err[NET_ERR_LEN];
	const char *source = NULL;
	int ch;

	memset(o, 0, sizeof(*o));
	o->procs = 1;
	o->go_fd = o->ready_fd = -1;
	o->host = "127.0.0.1";
	o->port = "12000";
	o->port_num = 12000;
	o->sessions = 10;
	o->threads = 1;
	o->depth = 1;
	o->keepalive = 1;
	o->size = 16;
	o->timeout = 10 * SEC;
	o->connect_timeout = 10 * SEC;
	o->seed = 1;
	o->verify = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":H:p:c:t:P:k:n:d:R:s:qhV",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': o->host = optarg; break;
		case 'p':
			o->port_num = (unsigned)parse_count(optarg, "--port", 1,
			    65535);
			o->port = optarg;
			break;
		case 'c':
			o->sessions = (int)parse_count(optarg, "-c", 1,
			    1000000);
			break;
		case 't':
			o->threads = (int)parse_count(optarg, "-t", 1, 256);
			break;
		case 'P':
			o->depth = (int)parse_count(optarg, "-P", 1, 65536);
			break;
		case 'k':
			o->keepalive = (int)parse_count(optarg, "-k", 0, 1);
			break;
		case 'n':
			o->total = parse_count(optarg, "-n", 1, UINT64_MAX / 4);
			break;
		case 'd':
			o->duration = parse_duration(optarg, "-d", 0);
			break;
		case OPT_WARMUP:
			o->warmup = parse_duration(optarg, "--warmup", 1);
			break;
		case 'R':
			o->rate = parse_positive(optarg, "--rate");
			break;
		case OPT_CONNECT_RATE:
			o->connect_rate = parse_positive(optarg,
			    "--connect-rate");
			break;
		case 's':
			o->size = (size_t)parse_count(optarg, "-s", 1, 1 << 20);
			break;
		case OPT_SEED:
			o->seed = parse_count(optarg, "--seed", 0, UINT64_MAX);
			break;
		case OPT_REQUEST:
			free(o->request);
			o->request = unescape(optarg, &o->request_len);
			if (o->request_len == 0)
				die(2, "--request: empty (see --help)");
			break;
		case OPT_NOVERIFY: o->verify = 0; break;
		case OPT_TIMEOUT:
			o->timeout = parse_duration(optarg, "--timeout", 0);
			break;
		case OPT_CTIMEOUT:
			o->connect_timeout = parse_duration(optarg,
			    "--connect-timeout", 0);
			break;
		case OPT_JSON: o->json = optarg; break;
		case OPT_CSV: o->csv = 1; break;
		case OPT_INTERVAL:
			o->period = parse_duration(optarg, "--interval", 0);
			if (o->period < MS_10)
				die(2, "--interval: '%s' is below 10ms (see "
				    "--help)", optarg);
			break;
		case OPT_HLOG: o->hlog = optarg; break;
		case OPT_START_AT:
			o->start_at = parse_positive(optarg, "--start-at");
			break;
		case OPT_PROCS:
			o->procs = (int)parse_count(optarg, "--procs", 1, 256);
			break;
		case OPT_SOURCE: source = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("loadgen (socklab) %s\n", LOADGEN_VERSION);
			exit(0);
		case ':':
			usage_error("option '%s' needs a value",
			    argv[optind - 1]);
			break;
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->keepalive && o->depth > 1)
		die(2, "-k 0 sends one request per connection: -P must be 1 "
		    "(see --help)");
	if (o->total == 0 && o->duration == 0)
		o->duration = 10 * SEC;
	check_procs(o);
	if (o->hlog != NULL && o->period == 0)
		o->period = SEC;
	if (o->threads > o->sessions)
		o->threads = o->sessions;
	check_rates(o);
	if (o->request != NULL)
		o->size = o->request_len;
	if (net_resolve(o->host, o->port, SOCK_STREAM, &o->addr, &o->addrlen,
	    err, sizeof(err)) == -1)
		die(2, "cannot resolve %s", err);
	if (source != NULL)
		source_parse(o, source);
	o->progress = !o->quiet && isatty(STDERR_FILENO);
}

/*
 * 10,000 sessions need 10,000 descriptors: take what the hard limit
 * allows, and refuse, before any connection, a share per process that
 * would run out of them half-way.
 */
static void
raise_nofile(const struct opts *o)
{
	struct rlimit rl;
	rlim_t per = ((rlim_t)o->sessions + (rlim_t)o->procs - 1) /
	    (rlim_t)o->procs, spare = 2 * (rlim_t)o->threads + 32;
	rlim_t need = per + spare;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die(1, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			die(1, "setrlimit: %s", strerror(errno));
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	if (rl.rlim_cur <= spare + 1)
		die(2, "the descriptor limit (ulimit -Hn) is %llu: too low "
		    "for loadgen", (unsigned long long)rl.rlim_cur);
	die(2, "-c %d needs about %llu descriptors per process but the hard "
	    "limit is %llu: use --procs %llu or more", o->sessions,
	    (unsigned long long)need, (unsigned long long)rl.rlim_cur,
	    (unsigned long long)(((rlim_t)o->sessions + rl.rlim_cur - spare -
	    1) / (rl.rlim_cur - spare)));
}

/*
 * TcpExt ListenOverflows and ListenDrops from /proc/net/netstat: a header
 * line of names, then a line of values.  They count for the whole network
 * namespace, so other traffic during the run shows up too.
 */
static void
read_netstat(struct netstat *ns)
{
	struct tcpext t;

	memset(ns, 0, sizeof(*ns));
	if (tcpext_read(&t) == -1 || t.listen_overflows < 0 ||
	    t.listen_drops < 0)
		return;
	ns->overflows = (uint64_t)t.listen_overflows;
	ns->drops = (uint64_t)t.listen_drops;
	ns->ok = 1;
}

static void
progress(struct worker *ws, int nw, uint64_t t0, uint64_t *last_done,
    uint64_t *last_t)
{
	uint64_t done = 0, errs = 0, open = 0, conn = 0, now = now_ns();
	double rate;
	char line[160];
	int i, n;

	for (i = 0; i < nw; i++) {
		done += atomic_load_explicit(&ws[i].p_done,
		    memory_order_relaxed);
		errs += atomic_load_explicit(&ws[i].p_errors,
		    memory_order_relaxed);
		open += atomic_load_explicit(&ws[i].p_open,
		    memory_order_relaxed);
		conn += atomic_load_explicit(&ws[i].p_connecting,
		    memory_order_relaxed);
	}
	rate = now > *last_t ? (double)(done - *last_done) * 1e9 /
	    (double)(now - *last_t) : 0;
	n = snprintf(line, sizeof(line), "\r%6.1fs %12llu replies %10.0f/s "
	    "%6llu errors %6llu open %5llu connecting",
	    (double)(now - t0) / 1e9, (unsigned long long)done, rate,
	    (unsigned long long)errs, (unsigned long long)open,
	    (unsigned long long)conn);
	*last_done = done;
	*last_t = now;
	if (n > 0 && write(STDERR_FILENO, line, strlen(line)) == -1)
		return;	/* a progress line is not worth failing for */
}

static void
progress_clear(void)
{
	static const char blank[] = "\r                                       "
	    "                                             \r";

	if (write(STDERR_FILENO, blank, sizeof(blank) - 1) == -1)
		return;
}

/* How long to wait for the next tick: a second, or the next boundary. */
static struct timespec
next_tick(const struct opts *o, const struct intervals *iv)
{
	uint64_t now = now_ns(), next, wait = SEC;
	struct timespec ts;

	if (o->period != 0) {
		next = iv->start + o->period;
		wait = next > now ? next - now : 0;
	}
	ts.tv_sec = (time_t)(wait / SEC);
	ts.tv_nsec = (long)(wait % SEC);
	return ts;
}

/* An interval boundary passed: cut it, show it. */
static void
tick(const struct opts *o, struct worker *ws, struct intervals *iv)
{
	uint64_t now = now_ns();

	if (now < iv->start + o->period)
		return;
	if (iv_cut(iv, ws, o->threads, now) == -1)
		die(1, "out of memory");
	if (o->progress)
		iv_progress(iv, ws, o->threads);
}

/* Run the workers; returns 1 if the run was interrupted. */
static int
run_workers(const struct opts *o, struct worker *ws, struct intervals *iv)
{
	struct timespec ts;
	sigset_t set;
	uint64_t last_done = 0, last_t = run.t0;
	int i, sig, done, interrupted = 0, err;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	for (i = 0; i < o->threads; i++)
		if ((err = pthread_create(&ws[i].tid, NULL, worker_main,
		    &ws[i])) != 0)
			die(1, "pthread_create: %s", strerror(err));
	for (;;) {
		for (done = 0, i = 0; i < o->threads; i++)
			done += atomic_load(&ws[i].finished);
		if (done == o->threads)
			break;
		ts = next_tick(o, iv);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM) {
			atomic_store(&run.stop, 1);
			interrupted = 1;
		} else if (sig == -1 && errno != EAGAIN && errno != EINTR)
			die(1, "sigtimedwait: %s", strerror(errno));
		if (o->period != 0)
			tick(o, ws, iv);
		else if (sig == -1 && errno == EAGAIN && o->progress)
			progress(ws, o->threads, run.t0, &last_done, &last_t);
	}
	for (i = 0; i < o->threads; i++)
		if ((err = pthread_join(ws[i].tid, NULL)) != 0)
			die(1, "pthread_join: %s", strerror(err));
	/* The last, shorter interval holds what the workers owed at the end. */
	if (o->period != 0 && iv_cut(iv, ws, o->threads, now_ns()) == -1)
		die(1, "out of memory");
	if (o->progress)
		progress_clear();
	return interrupted;
}

/* The wall clock, for the hlog's start time: s since the epoch. */
static double
wall_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		die(1, "clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * --start-at: wait for the wall clock, Ctrl-C still heard (the signals
 * are blocked: sigtimedwait takes them).  A start already past would
 * measure another window than the other loadgens': refused.
 */
static void
wait_start(const struct opts *o)
{
	struct timespec ts;
	sigset_t set;
	double left;
	int sig;

	if (o->start_at == 0)
		return;
	if ((left = o->start_at - wall_now()) < 0)
		die(1, "--start-at %.3f is %.3f s past: the windows would not "
		    "line up", o->start_at, -left);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while ((left = o->start_at - wall_now()) > 0) {
		if (left > 1)
			left = 1;	/* the wall clock may be stepped */
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			die(1, "interrupted before --start-at");
		if (sig == -1 && errno != EAGAIN && errno != EINTR)
			die(1, "sigtimedwait: %s", strerror(errno));
	}
}

static void
setup_signals(void)
{
	struct sigaction sa;
	sigset_t set;
	int err;

	/* Writes to a closed connection return EPIPE (MSG_NOSIGNAL too). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die(1, "sigaction: %s", strerror(errno));
	/* Blocked everywhere; the main thread takes them in sigtimedwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if ((err = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0)
		die(1, "pthread_sigmask: %s", strerror(err));
}

static double
seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* loadgen's own CPU: the whole process, and each worker's share. */
static void
own_cpu(const struct opts *o, struct worker *ws, struct result *r,
    struct cpu *per)
{
	struct rusage ru;
	int i;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		r->cpu.user = seconds(&ru.ru_utime);
		r->cpu.sys = seconds(&ru.ru_stime);
	}
	for (i = 0; i < o->threads; i++) {
		per[i] = ws[i].cpu;
		/* A worker that kept its core busy: the client set the pace. */
		if (r->elapsed > 0 &&
		    per[i].user + per[i].sys >= 0.9 * r->elapsed)
			r->saturated = 1;
	}
	r->thread_cpu = per;
}

static void
finish(const struct opts *o, struct worker *ws, struct result *r,
    struct cpu *per)
{
	uint64_t errs = 0, end;
	int i;

	if (stats_init(&r->st) == -1)
		die(1, "out of memory");
	for (i = 0; i < o->threads; i++) {
		if (stats_merge(&r->st, &ws[i].st) == -1)
			die(1, "merging histograms: %s", strerror(errno));
		if (ws[i].errmsg[0] != '\0')
			log_err("first unexpected error in thread %d: %s", i,
			    ws[i].errmsg);
	}
	for (i = 0; i < E_NKINDS; i++)
		errs += r->st.errors[i];
	end = r->st.t_end;
	r->elapsed = (double)(end - run.t0) / 1e9;
	r->measured = end > run.measure_start ?
	    (double)(end - run.measure_start) / 1e9 : 0;
	/* Every right reply in the window, warm-up requests' too. */
	r->throughput = r->measured > 0 ?
	    (double)r->st.replies / r->measured : 0;
	r->rate_short = o->rate > 0 && r->throughput < 0.95 * o->rate;
	r->cut_short = r->interrupted || r->st.lost > 0 ||
	    (o->total && r->st.committed < o->total);
	r->status = r->status || errs > 0 || r->cut_short || r->st.stalled > 0 ||
	    r->st.unopened > 0 ||
	    r->st.completed == 0 ? 1 : 0;
	own_cpu(o, ws, r, per);
}

static void
warnings(const struct opts *o, const struct result *r)
{
	int i;

	if (r->rate_short)
		log_err("warning: achieved %.0f requests/s, below 95%% of the "
		    "target %.0f: the figures describe a lower load",
		    r->throughput, o->rate);
	if (r->interrupted)
		log_err("interrupted: partial figures");
	else if (r->st.lost > 0)
		log_err("%llu of %d sessions were lost to errors: partial "
		    "figures", (unsigned long long)r->st.lost, o->sessions);
	if (r->st.completed == 0)
		log_err("no request was answered");
	if (r->st.unopened > 0)
		log_err("%llu of %d sessions were not established when the run "
		    "ended (a full backlog, or openings behind --connect-rate): "
		    "not served", (unsigned long long)r->st.unopened,
		    o->sessions);
	if (r->st.stalled > 0)
		log_err("%llu of %d sessions waited for a reply through half "
		    "the measured window or more: not served",
		    (unsigned long long)r->st.stalled, o->sessions);
	for (i = 0; r->saturated && i < o->threads; i++)
		if (r->thread_cpu[i].user + r->thread_cpu[i].sys >=
		    0.9 * r->elapsed)
			log_err("warning: loadgen thread %d used %.0f%% of a "
			    "core: the figures may be loadgen's limit, not the "
			    "server's (more -t?)", i, 100 *
			    (r->thread_cpu[i].user + r->thread_cpu[i].sys) /
			    r->elapsed);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct result r;
	struct worker *ws;
	struct cpu *per;
	struct intervals iv;
	char err[256];
	int i, status;

	log_setprog(argv[0]);
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return merge_main(argc - 1, argv + 1);
	parse_options(argc, argv, &o);
	raise_nofile(&o);
	setup_signals();
	if (o.procs > 1 && procs_run(&o, &status) == 0)
		return status;

	memset(&r, 0, sizeof(r));
	ws = calloc((size_t)o.threads, sizeof(*ws));
	per = calloc((size_t)o.threads, sizeof(*per));
	if (ws == NULL || per == NULL || lines_init(&o) == -1)
		die(1, "out of memory");
	for (i = 0; i < o.threads; i++)
		if (worker_init(&ws[i], i, &o) == -1)
			die(1, "cannot set up thread %d: %s", i,
			    strerror(errno));
	procs_ready(&o);
	wait_start(&o);
	read_netstat(&r.ns_before);

	run.o = &o;
	run.main_thread = pthread_self();
	run.wall0 = wall_now();
	run.t0 = now_ns();
	run.measure_start = run.t0 + o.warmup;
	run.deadline = o.duration ? run.measure_start + o.duration : 0;
	if (o.rate > 0) {
		run.interval = (uint64_t)llround((double)o.sessions * 1e9 /
		    o.rate);
		if (run.interval == 0)
			run.interval = 1;
	}
	memset(&iv, 0, sizeof(iv));
	if (o.period != 0 && iv_open(&iv, &o, err, sizeof(err)) == -1)
		die(1, "%s", err);
	r.interrupted = run_workers(&o, ws, &iv);
	if (o.period != 0) {
		r.iv = &iv;
		if (iv_close(&iv, err, sizeof(err)) == -1) {
			log_err("%s", err);
			r.status = 1;
		}
	}
	read_netstat(&r.ns_after);
	finish(&o, ws, &r, per);	/* keeps a failed --hlog's status */
	warnings(&o, &r);
	if (o.csv)
		report_csv(&o, &r);
	else if (!o.quiet)
		report_summary(&o, &r);
	if (o.json != NULL &&
	    report_json(&o, &r, o.json, err, sizeof(err)) == -1) {
		log_err("%s", err);
		r.status = 1;
	}
	for (i = 0; i < o.threads; i++)
		worker_free(&ws[i]);
	free(ws);
	free(per);
	stats_free(&r.st);
	free(iv.pts);
	lines_free();
	free(o.request);
	return r.status;
}
