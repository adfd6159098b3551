/*
 * main.c - bin/server: options, the model table, signals.
 *
 * Every model is one function in its own file; this file only picks one,
 * opens the listening socket and hands it over.  To add a model, write
 * servers/NAME.c and add a line to the table below.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "opt.h"
#include "proto.h"
#include "server.h"


int	serve_iterative(int, const struct server_opts *);
int	serve_oneshot(int, const struct server_opts *);
int	serve_thread(int, const struct server_opts *);
int	serve_fork(int, const struct server_opts *);
int	serve_epoll(int, const struct server_opts *);
int	serve_reuseport(int, const struct server_opts *);
int	serve_prefork(int, const struct server_opts *);
int	serve_prethread(int, const struct server_opts *);
int	serve_prethread_queue(int, const struct server_opts *);
int	serve_io_uring(int, const struct server_opts *);
const char *io_uring_unavailable(void);
int	serve_procs(const struct model *, int, const struct server_opts *);

static const struct model models[] = {
	{ "iterative", "one session at a time; the others wait in the backlog "
	    "(the lab's server)", serve_iterative, MODEL_SERIAL, NULL },
	{ "oneshot", "one line per connection, one connection at a time "
	    "(the lab's first TCP server)", serve_oneshot,
	    MODEL_ONESHOT | MODEL_SERIAL, NULL },
	{ "thread", "one thread per connection", serve_thread,
	    MODEL_PER_SESSION | MODEL_ONE_TABLE, NULL },
	{ "fork", "one child process per connection", serve_fork,
	    MODEL_PER_SESSION, NULL },
	{ "epoll", "one thread, one event loop serving every session in "
	    "turn", serve_epoll, MODEL_EVENT | MODEL_PROCS | MODEL_ONE_TABLE,
	    NULL },
	{ "reuseport", "N threads, each with its own SO_REUSEPORT listener "
	    "and event loop (nginx)", serve_reuseport,
	    MODEL_REUSEPORT | MODEL_EVENT | MODEL_PROCS | MODEL_ONE_TABLE,
	    NULL },
	{ "prefork", "N child processes made at start, each blocking in "
	    "accept() (UNP serv02; --accept-lock: serv04)", serve_prefork,
	    MODEL_POOL | MODEL_ACCEPT_LOCK, NULL },
	{ "prethread", "N threads made at start, each blocking in accept() "
	    "(UNP serv07)", serve_prethread, MODEL_POOL | MODEL_ACCEPT_LOCK,
	    NULL },
	{ "prethread-queue", "N threads made at start; the main thread "
	    "accepts and queues descriptors for them (UNP serv08)",
	    serve_prethread_queue, MODEL_POOL | MODEL_ONE_TABLE, NULL },
	{ "io_uring", "one thread, one io_uring: the kernel does the I/O and "
	    "reports completions", serve_io_uring,
	    MODEL_EVENT | MODEL_PROCS | MODEL_ONE_TABLE, io_uring_unavailable },
};
#define NMODELS	(sizeof(models) / sizeof(models[0]))

#define FD_MARGIN	16	/* descriptors kept aside from the sessions */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: server [options]\n"
"  -m, --model NAME       server design (default iterative; see --list-models)\n"
"  -H, --host HOST        address to listen on (default 127.0.0.1; ::1,\n"
"                         0.0.0.0 or :: for all interfaces)\n"
"  -p, --port PORT        TCP port (default 12000; 0 = any free port)\n"
"  -b, --backlog N        listen() backlog (default 128; the lab uses 1)\n"
"      --max-line N       longest request line in bytes (default %d)\n"
"      --max-output N     unsent reply bytes kept per session (default 1048576)\n"
"      --max-memory N     event models: bytes of unsent replies and partial\n"
"                         lines of all sessions together; past it those that\n"
"                         hold most are closed (default 67108864; 0 = no bound)\n"
"  -C, --max-clients N    sessions at once; more get 'ERR server busy'\n"
"                         (default 1024 for thread and fork; 0 = no limit)\n"
"      --idle-timeout SEC close a session that completes no line for SEC\n"
"                         seconds (default 300; 0 = never)\n"
"      --write-timeout SEC  close a session whose client reads none of its\n"
"                         replies for SEC seconds (default 60, at most the\n"
"                         idle timeout; 0 = never)\n"
"      --drain SEC        after SIGTERM/SIGINT, time sessions get to end\n"
"                         (default 5)\n"
"  -w, --workers N        processes or threads of the pooled models\n"
"                         (default: the number of CPUs)\n"
"      --accept-lock      prefork, prethread: serialize accept() with a lock\n"
"      --procs N          epoll, reuseport, io_uring: N worker processes, each\n"
"                         with its own SO_REUSEPORT listener and event loop(s),\n"
"                         under a parent that restarts and drains them (as\n"
"                         nginx); --max-clients and --max-memory are shared\n"
"                         out, each process takes 1/N (see --list-models=tsv)\n"
"  -q, --quiet            do not log sessions\n"
"  -l, --list-models[=tsv]  list the models and exit (tsv: their traits,\n"
"                         a header and a row a model, for programs)\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"The first line on standard output is 'listening on ADDR:PORT (model M,\n"
"backlog B)', once the server can serve: a pool (or reuseport) that cannot\n"
"start all its workers exits 1 before it.  Session log lines that standard\n"
"output cannot take at once are dropped, and counted on exit.  SIGTERM,\n"
"SIGINT or SIGHUP stops accepting and lets sessions in flight end within\n"
"--drain seconds; a second signal ends them at once.  The descriptor limit\n"
"is raised to its hard limit at start; a --max-clients that one process's\n"
"descriptors cannot hold is refused (exit 2): --procs spreads the sessions.\n",
	    PROTO_DEFAULT_MAX_LINE);
}

static long
number(const char *opt, const char *s, long min, long max)
{
	long v;

	if (opt_long(opt, s, min, max, &v) == -1) {
		usage(stderr);
		exit(2);
	}
	return v;
}

static const struct model *
find_model(const char *name)
{
	size_t i;

	for (i = 0; i < NMODELS; i++)
		if (strcmp(models[i].name, name) == 0)
			return &models[i];
	return NULL;
}

/* The traits --list-models=tsv prints, one column each, in this order. */
static const struct {
	const char	*name;
	int		 flag;
} traits[] = {
	{ "pool", MODEL_POOL },
	{ "per_session", MODEL_PER_SESSION },
	{ "reuseport", MODEL_REUSEPORT },
	{ "serial", MODEL_SERIAL },
	{ "oneshot", MODEL_ONESHOT },
	{ "event", MODEL_EVENT },
	{ "accept_lock", MODEL_ACCEPT_LOCK },
	{ "procs", MODEL_PROCS },
};
#define NTRAITS	(sizeof(traits) / sizeof(traits[0]))

/* NULL if the model can run here, else why not. */
static const char *
unavailable(const struct model *m)
{
	return m->unavailable ? m->unavailable() : NULL;
}

/*
 * For people: the name, what it is, and "[pool]" (size --workers to the
 * load) or "[oneshot]" (no persistent sessions), and "[unavailable:
 * WHY]".  For programs (tsv): a header, then a row a model: its name, 1
 * or 0 for each trait, "-" or why it is unavailable, what it is.  Tests
 * read their model sets from it (tests/lib/servertest.py).
 */
static void
list_models(const char *form)
{
	const char *why;
	size_t i, k;

	if (form != NULL && strcmp(form, "tsv") != 0) {
		log_err("--list-models: '%s' is not a form (tsv)", form);
		exit(2);
	}
	if (form != NULL) {
		printf("name");
		for (k = 0; k < NTRAITS; k++)
			printf("\t%s", traits[k].name);
		printf("\tunavailable\twhat\n");
	}
	for (i = 0; i < NMODELS; i++) {
		why = unavailable(&models[i]);
		if (form == NULL) {
			printf("%-16s %s%s%s%s%s\n", models[i].name,
			    models[i].what,
			    (models[i].flags & MODEL_POOL) ? " [pool]" :
			    (models[i].flags & MODEL_ONESHOT) ? " [oneshot]" :
			    "", why ? " [unavailable: " : "", why ? why : "",
			    why ? "]" : "");
			continue;
		}
		printf("%s", models[i].name);
		for (k = 0; k < NTRAITS; k++)
			printf("\t%d", (models[i].flags & traits[k].flag) != 0);
		printf("\t%s\t%s\n", why ? why : "-", models[i].what);
	}
}

/* Thousands of sessions need thousands of descriptors. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_err("cannot raise the descriptor limit: %s",
		    strerror(errno));
}

/* The descriptors this process has open now (the listing's own aside). */
static long
fds_open(void)
{
	struct dirent *e;
	DIR *d;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return FD_MARGIN;	/* no /proc: count on the margin */
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/*
 * The sessions one process can hold: its descriptor limit, less what
 * is open now and a margin for the model's own (each loop's epoll
 * descriptor, listener and pipes, the one accept() that tells a client
 * "busy").  -1 if there is no limit.
 */
static long
fd_room(const struct model *m, const struct server_opts *o, long *limit)
{
	struct rlimit rl;
	long loops = (m->flags & MODEL_REUSEPORT) ? o->workers : 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LONG_MAX)
		return -1;
	*limit = (long)rl.rlim_cur;
	return *limit - fds_open() - FD_MARGIN - 4 * loops;
}

/*
 * Where every session holds a descriptor of one process, --max-clients
 * must fit its descriptors: asked for more, say so now (exit 2), rather
 * than fail with EMFILE under load.  thread's default 1024 only shrinks
 * to fit, so that those past it are told "busy".
 */
static void
check_room(const struct model *m, struct server_opts *o, int clients_set)
{
	long room, limit = 0, per, need;
	int n = o->procs > 0 ? o->procs : 1;

	if (!(m->flags & MODEL_ONE_TABLE) || o->max_clients == 0 ||
	    (room = fd_room(m, o, &limit)) < 0)
		return;
	per = ((long)o->max_clients + n - 1) / n;
	if (room < 1)
		die(2, "RLIMIT_NOFILE %ld leaves no descriptor for a session",
		    limit);
	if (per <= room)
		return;
	if (!clients_set) {
		o->max_clients = (int)room;
		return;
	}
	need = ((long)o->max_clients + room - 1) / room;
	if (!(m->flags & MODEL_PROCS))
		die(2, "--max-clients %d: one process holds at most %ld "
		    "sessions here (RLIMIT_NOFILE %ld), and model %s keeps "
		    "them all in one", o->max_clients, room, limit, m->name);
	die(2, "--max-clients %d: %ld sessions in %s process, which holds at "
	    "most %ld here (RLIMIT_NOFILE %ld); try --procs %ld",
	    o->max_clients, per, o->procs > 0 ? "each" : "one", room, limit,
	    need);
}

static int
parse(int argc, char **argv, struct server_opts *o)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "max-line", required_argument, NULL, 'L' },
		{ "max-output", required_argument, NULL, 'O' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "max-clients", required_argument, NULL, 'C' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "write-timeout", required_argument, NULL, 'W' },
		{ "drain", required_argument, NULL, 'D' },
		{ "workers", required_argument, NULL, 'w' },
		{ "accept-lock", no_argument, NULL, 'A' },
		{ "procs", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list-models", optional_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct model *m;
	int ch, clients_set = 0;
	long ncpu;

	while ((ch = getopt_long(argc, argv, "m:H:p:b:C:w:qlhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'm': o->model = optarg; break;
		case 'H': o->host = optarg; break;
		case 'p':
			number("--port", optarg, 0, 65535);
			o->port = optarg;
			break;
		case 'b': o->backlog = (int)number("--backlog", optarg, 0,
		    INT_MAX); break;
		case 'L': o->max_line = (size_t)number("--max-line", optarg,
		    1, 1L << 30); break;
		case 'O': o->max_output = (size_t)number("--max-output",
		    optarg, 4096, 1L << 30); break;
		case 'M': o->max_memory = (size_t)number("--max-memory",
		    optarg, 0, LONG_MAX); break;
		case 'C':
			o->max_clients = (int)number("--max-clients", optarg,
			    0, INT_MAX);
			clients_set = 1;
			break;
		case 'I': o->idle_timeout = (int)number("--idle-timeout",
		    optarg, 0, 86400 * 365); break;
		case 'W': o->write_timeout = (int)number("--write-timeout",
		    optarg, 0, 86400 * 365); break;
		case 'D': o->drain = (int)number("--drain", optarg, 0,
		    86400); break;
		case 'w': o->workers = (int)number("--workers", optarg, 1,
		    4096); break;
		case 'A': o->accept_lock = 1; break;
		case 'P': o->procs = (int)number("--procs", optarg, 1,
		    1024); break;
		case 'q': o->quiet = 1; break;
		case 'l': list_models(optarg); exit(0);
		default: opt_common(ch, usage);
		}
	}
	opt_no_operands(argc, argv, usage);
	if ((m = find_model(o->model)) == NULL) {
		log_err("unknown model '%s'; try --list-models", o->model);
		exit(2);
	}
	if (o->procs > 0 && !(m->flags & MODEL_PROCS)) {
		log_err("--procs: model %s runs no event loop to copy (epoll, "
		    "reuseport and io_uring take it)", m->name);
		exit(2);
	}
	/* One thread or child per session must not be unbounded. */
	if (!clients_set && (m->flags & MODEL_PER_SESSION))
		o->max_clients = 1024;
	if (o->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o->workers = ncpu > 0 ? (int)ncpu : 1;
	}
	return clients_set;
}

/*
 * With SO_REUSEPORT the kernel lets a second server of ours bind a port
 * that one already listens on, and the two would share its clients in
 * silence.  A plain bind first says whether the port is really free.
 */
static int
port_free(const struct server_opts *o, char *err, size_t errlen)
{
	int fd;

	if (strcmp(o->port, "0") == 0)
		return 1;
	fd = net_listen(o->host, o->port, SOCK_STREAM, 1, 0, err, errlen);
	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

/* Say what the log lost, each on the other stream (it may get through). */
static void
report_dropped(void)
{
	unsigned long n;

	if ((n = log_dropped(STDOUT_FILENO)) > 0)
		log_err("%lu log line%s dropped: stdout was full", n,
		    n == 1 ? "" : "s");
	if ((n = log_dropped(STDERR_FILENO)) > 0)
		log_out("%lu error line%s dropped: stderr was full", n,
		    n == 1 ? "" : "s");
}

/*
 * A session gives back the buffers of a long line once it is answered
 * (SESSION_OUT_KEEP).  For that memory to leave the process, and not
 * wait in a thread's malloc arena, buffers above 64 KiB come from
 * mmap(), as glibc does at first, until a free raises its threshold.
 * A tuning only (glibc; an allocator without it, or a sanitizer's, may
 * refuse it): its result does not matter.
 */
static void
big_buffers_mmapped(void)
{
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
}

int
main(int argc, char **argv)
{
	struct server_opts o = {
		.host = "127.0.0.1", .port = "12000", .model = "iterative",
		.backlog = 128, .max_line = PROTO_DEFAULT_MAX_LINE,
		.max_output = 1 << 20, .max_memory = 64 << 20,
		.idle_timeout = 300, .write_timeout = 60, .drain = 5,
	};
	char err[NET_ERR_LEN];
	const struct model *m;
	const char *why;
	int lfd, rc, clients_set, reuse;

	log_setprog(argv[0]);
	clients_set = parse(argc, argv, &o);
	m = find_model(o.model);
	if ((why = unavailable(m)) != NULL)
		die(1, "model %s is unavailable here: %s", m->name, why);
	raise_nofile();
	check_room(m, &o, clients_set);
	big_buffers_mmapped();
	if (server_signals(o.drain) == -1)
		die(1, "signals: %s", strerror(errno));
	reuse = (m->flags & MODEL_REUSEPORT) || o.procs > 0;
	if (reuse && !port_free(&o, err, sizeof(err)))
		die(1, "%s", err);
	lfd = net_listen(o.host, o.port, SOCK_STREAM, o.backlog,
	    reuse ? NET_REUSEPORT : 0, err, sizeof(err));
	if (lfd == -1)
		die(1, "%s", err);
	/* Before any thread or child: logging must never block serving. */
	if (log_nonblock() == -1)
		log_err("log: %s", strerror(errno));
	/* Each says "listening on" and closes lfd. */
	rc = o.procs > 0 ? serve_procs(m, lfd, &o) : m->serve(lfd, &o);
	if (rc == 0 && !o.quiet)
		log_out("stopped");
	report_dropped();
	return rc == 0 ? 0 : 1;
}
