/*
 * demo-backlog - the listen() backlog, measured: what the lab's slide
 * says ("listen(1): a queue of 1+1, the fourth client is refused") and
 * what Linux does.
 *
 * Three parts, each bounded in time:
 *  timeline  bin/server --model iterative --backlog B, one client in
 *            session, K more connecting: when each completes its
 *            handshake, which SYNs the kernel drops, when they are
 *            retransmitted (TCP_INFO), the listener's Recv-Q/Send-Q (ss),
 *            the kernel's ListenOverflows/ListenDrops; then the first
 *            client ends and the others are served in turn.
 *  sweep     backlog 0..8: how many connections complete at once while
 *            the server is busy (the kernel's backlog+1).
 *  netns     (--netns) as root, in a private network namespace: the
 *            same with tcp_abort_on_overflow=1 and with a small
 *            somaxconn; sysctls are changed only there, never in the
 *            host's namespace.
 * --short tells the timeline alone, briefly, for class.
 *
 * Clients are non-blocking sockets in one poll() loop, so that every
 * event gets a timestamp; nothing here waits a fixed time for something
 * that can be observed.
 *
 * This file: the options, and the parts in turn within --wait; backlog.h
 * says where the rest is.
 */
#include <sys/utsname.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "backlog.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: demo-backlog [options]\n"
"  -b, --backlog B       the server's listen() backlog (default 1, as the lab)\n"
"  -k, --clients K       clients connecting while the server is busy\n"
"                        (default 5)\n"
"  -w, --wait SEC        bound on the whole demo (default 15)\n"
"      --busy-ms MS      how long client 0 keeps the server busy (default 2500)\n"
"      --hold-ms MS      how long each later client stays once served\n"
"                        (default 500)\n"
"      --gap-ms MS       between two connect() calls (default 20)\n"
"      --parts LIST      timeline,sweep,netns (default timeline,sweep)\n"
"      --netns           add the netns part (root only)\n"
"      --short           the timeline alone, told briefly (about 60 lines)\n"
"      --sweep-max N     sweep backlog 0..N (default 8)\n"
"      --sweep-clients N clients per backlog in the sweep (default 12)\n"
"      --settle-ms MS    sweep: wait before counting (default 300)\n"
"      --server PATH     the server program (default: bin/server beside\n"
"                        this program, or $SOCKLAB_BIN/server)\n"
"      --json FILE       also write the measurements as JSON ('-' = stdout)\n"
"      --lang en|it      narration in English (default) or Italian\n"
"      --step            ask each question, wait for Enter (for class)\n"
"  -h, --help            this help\n"
"Only 127.0.0.1 is used, and, as root, a network namespace of its own\n"
"(the only place where it changes sysctls).\n");
}

static int
parse_parts(const char *s)
{
	char copy[128], *p, *save;
	int parts = 0;

	snprintf(copy, sizeof(copy), "%s", s);
	for (p = strtok_r(copy, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, "timeline") == 0)
			parts |= PART_TIMELINE;
		else if (strcmp(p, "sweep") == 0)
			parts |= PART_SWEEP;
		else if (strcmp(p, "netns") == 0)
			parts |= PART_NETNS;
		else
			die(2, "--parts: unknown part '%s' (timeline, sweep, "
			    "netns)", p);
	}
	return parts;
}

/* bin/server sits beside us, unless SOCKLAB_BIN says otherwise. */
static const char *
default_server(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("SOCKLAB_BIN");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env != NULL && *env != '\0') {
		snprintf(path, sizeof(path), "%s/server", env);
		return path;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "bin/server";
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(path, sizeof(path), "%.*s/server", (int)sizeof(path) - 8,
	    self);
	return path;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "backlog", required_argument, NULL, 'b' },
		{ "clients", required_argument, NULL, 'k' },
		{ "wait", required_argument, NULL, 'w' },
		{ "busy-ms", required_argument, NULL, 'B' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "gap-ms", required_argument, NULL, 'G' },
		{ "parts", required_argument, NULL, 'P' },
		{ "sweep-max", required_argument, NULL, 'M' },
		{ "sweep-clients", required_argument, NULL, 'N' },
		{ "settle-ms", required_argument, NULL, 'S' },
		{ "server", required_argument, NULL, 'X' },
		{ "json", required_argument, NULL, 'j' },
		{ "netns", no_argument, NULL, 'n' },
		{ "short", no_argument, NULL, 'T' },
		DEMO_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch, netns = 0, kset = 0, bset = 0, hset = 0;

	while ((ch = getopt_long(argc, argv, "b:k:w:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'b': o->backlog = (int)demo_number("--backlog", optarg, 0,
		    65535); break;
		case 'k': o->clients = (int)demo_number("--clients", optarg, 1,
		    MAXCLIENTS); kset = 1; break;
		case 'w': o->wait = (double)demo_number("--wait", optarg, 1,
		    600); break;
		case 'B': o->busy_ms = demo_number("--busy-ms", optarg, 100,
		    600000); bset = 1; break;
		case 'H': o->hold_ms = demo_number("--hold-ms", optarg, 0,
		    60000); hset = 1; break;
		case 'G': o->gap_ms = demo_number("--gap-ms", optarg, 0,
		    1000); break;
		case 'P': o->parts = parse_parts(optarg); break;
		case 'M': o->sweep_max = (int)demo_number("--sweep-max", optarg,
		    0, SWEEP_MAX); break;
		case 'N': o->sweep_clients = (int)demo_number("--sweep-clients",
		    optarg, 1, MAXCLIENTS); break;
		case 'S': o->settle_ms = demo_number("--settle-ms", optarg, 10,
		    900); break;
		case 'X': o->server = optarg; break;
		case 'j': o->json = optarg; break;
		case 'n': netns = 1; break;
		case 'T': o->brief = 1; break;
		default: demo_option(ch, optarg, usage);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s'", argv[optind]);
	if (o->brief) {
		/* Enough for the lesson: 2 queued, 1 dropped, served by 3 s. */
		o->parts = PART_TIMELINE;
		o->clients = kset ? o->clients : 3;
		o->busy_ms = bset ? o->busy_ms : 1500;
		o->hold_ms = hset ? o->hold_ms : 200;
	}
	if (netns)
		o->parts |= PART_NETNS;
	if (o->server == NULL)
		o->server = default_server();
	if (access(o->server, X_OK) == -1)
		die(1, "%s: %s (build it with 'make', or use --server)",
		    o->server, strerror(errno));
}

/* Seconds the sweep and the namespace part take, about (measured). */
static double
sweep_cost(const struct opts *o)
{
	return 0.5 + o->settle_ms / 1000.0;
}

static double
netns_cost(const struct opts *o)
{
	return 4.5 + 2 * o->settle_ms / 1000.0;
}

static double
reserve(const struct opts *o)
{
	return (o->parts & PART_SWEEP ? sweep_cost(o) : 0) +
	    (o->parts & PART_NETNS ? netns_cost(o) : 0);
}

/* Would this part end after start + --wait?  Then say so and skip it. */
static int
no_time(const struct opts *o, double start, double cost, const char *part)
{
	double left = start + o->wait - demo_now();

	if (left >= cost)
		return 0;
	printf(tr("\n(%s skipped: it takes about %.1f s, %.1f s are left of "
	    "--wait %.0f)\n", "\n(%s saltata: richiede circa %.1f s, restano "
	    "%.1f s di --wait %.0f)\n"), part, cost, left, o->wait);
	return 1;
}

int
main(int argc, char **argv)
{
	static struct timeline tl;
	static struct sweep sw;
	static struct netns_result nr;
	struct opts o = { .backlog = 1, .clients = 5, .wait = 15,
	    .busy_ms = 2500, .hold_ms = 500, .gap_ms = 20, .settle_ms = 300,
	    .sweep_max = 8, .sweep_clients = 12,
	    .parts = PART_TIMELINE | PART_SWEEP };
	int backlogs[SWEEP_MAX + 1];
	char err[NET_ERR_LEN];
	struct sysctls host;
	struct utsname un;
	struct buf j;
	double start, deadline;
	int i, failed = 0;

	log_setprog(argv[0]);
	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A client gone first must not kill us with SIGPIPE. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die(1, "signal: %s", strerror(errno));
	start = demo_now();
	deadline = start + o.wait - reserve(&o);
	if (deadline < start + 1)
		deadline = start + 1;
	read_sysctls(&host);
	if (uname(&un) == -1)
		snprintf(un.release, sizeof(un.release), "?");
	buf_init(&j);
	jput(&j, "{\"demo\": \"backlog\", \"kernel\": ");
	jstr(&j, un.release);
	jput(&j, ", \"backlog\": %d, \"clients\": %d, \"sysctl\": ", o.backlog,
	    o.clients);
	json_sysctls(&j, &host);

	if (o.parts & PART_TIMELINE) {
		if (run_timeline(&tl, &o, &host, deadline, err,
		    sizeof(err)) == -1) {
			log_err("timeline: %s", err);
			failed = 1;
		} else {
			jput(&j, ",\n\"timeline\": ");
			json_timeline(&j, &tl);
		}
	}
	if ((o.parts & PART_SWEEP) &&
	    no_time(&o, start, sweep_cost(&o), "sweep"))
		o.parts &= ~PART_SWEEP;
	if (o.parts & PART_SWEEP) {
		printf("\n%s\n", tr(
"== The sweep: connections that complete at once while the server is busy ==",
"== La scansione: connessioni completate subito mentre il server è occupato =="));
		printf(tr(
"For each backlog: a busy iterative server, %d non-blocking connect()s,\n"
"counted after %ld ms (before any SYN retransmission).  somaxconn = %ld.\n",
"Per ogni backlog: un server iterativo occupato, %d connect() non\n"
"bloccanti, contate dopo %ld ms (prima di ogni ritrasmissione del SYN).\n"
"somaxconn = %ld.\n"), o.sweep_clients, o.settle_ms, host.somaxconn);
		demo_ask("(backlog)", tr(
"listen(0), listen(1) ... listen(8): how many connections complete\n"
"at once while nobody calls accept()?",
"listen(0), listen(1) ... listen(8): quante connessioni si completano\n"
"subito mentre nessuno chiama accept()?"));
		for (i = 0; i <= o.sweep_max; i++)
			backlogs[i] = i;
		if (run_sweep(&sw, &o, host.somaxconn, backlogs,
		    o.sweep_max + 1) == 0)
			print_sweep(&sw, &o);
		else
			failed = 1;
		jput(&j, ",\n\"sweep\": ");
		json_sweep(&j, &sw, &o);
	}
	if ((o.parts & PART_NETNS) &&
	    no_time(&o, start, netns_cost(&o), "netns"))
		o.parts &= ~PART_NETNS;
	if (o.parts & PART_NETNS) {
		run_netns(&nr, &o);
		jput(&j, ",\n\"netns\": {");
		if (buf_pending(&nr.json) > 0)
			(void)buf_append(&j, buf_head(&nr.json),
			    buf_pending(&nr.json));
		else {
			jput(&j, "\"ran\": false, \"reason\": ");
			jstr(&j, nr.reason);
		}
		jput(&j, ", \"host_sysctl_before\": ");
		json_sysctls(&j, &nr.before);
		jput(&j, ", \"host_sysctl_after\": ");
		json_sysctls(&j, &nr.after);
		jput(&j, ", \"host_unchanged\": %s}",
		    nr.unchanged ? "true" : "false");
		buf_free(&nr.json);
	}
	jput(&j, ",\n\"elapsed_s\": %.3f}", demo_now() - start);
	printf(tr("\n(demo took %.1f s, pauses not counted)\n",
	    "\n(la demo è durata %.1f s, pause escluse)\n"), demo_now() - start);
	if (o.json != NULL && demo_write_json(o.json, &j) == -1) {
		log_err("%s: %s", o.json, strerror(errno));
		failed = 1;
	}
	buf_free(&j);
	return failed;
}
