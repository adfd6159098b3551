/*
 * pingpong.c - bin/pingpong: the floor every server model is compared with.
 *
 * The least a line server can do over loopback: one blocking process
 * that reads a line and writes it back upper-cased, and one blocking
 * client that writes a line and waits for its reply, one round trip at a
 * time.  Two system calls on each side per round trip, no poll(), no
 * protocol module, no threads.  A model serving one session cannot be
 * faster than this on the same machine; make bench reports each model's
 * ratio to it.
 *
 * The server is a child process (as bin/server is a process apart from
 * bin/loadgen); its CPU time comes from wait4().  RTTs are kept in an
 * array and sorted, so the percentiles are exact.
 */
#define _GNU_SOURCE		/* wait4 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "log.h"
#include "net.h"
#include "opt.h"

#define MAX_SIZE	65536

struct opts {
	long		 requests;	/* -n; 0 when -d rules */
	double		 duration;	/* -d seconds; 0 when -n rules */
	long		 warmup;	/* round trips not recorded */
	size_t		 size;		/* -s, line bytes with '\n' */
	const char	*json;
	const char	*serve;		/* --serve PORT: echo server only */
};

struct result {
	uint64_t	*rtt;		/* ns, one per recorded round trip */
	size_t		 n;
	size_t		 cap;
	double		 elapsed;	/* seconds, recorded part only */
	double		 srv_user;	/* server CPU seconds, from wait4 */
	double		 srv_sys;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: pingpong [options]\n"
"Minimal blocking ping-pong over loopback: a child process echoes each\n"
"line upper-cased, the client sends one line and reads its reply per\n"
"round trip.  The floor for bin/server at one session.\n"
"  -n, --requests N   round trips to time (default 100000)\n"
"  -d, --duration SEC time for SEC seconds instead of a count\n"
"  -s, --size BYTES   line size, '\\n' included (default 16, as loadgen)\n"
"      --warmup N     round trips before timing starts (default 1000)\n"
"      --json FILE    write every figure as JSON to FILE ('-' = stdout)\n"
"      --serve PORT   only be the echo server, on 127.0.0.1:PORT (0 = any),\n"
"                     one connection at a time, until a signal; its first\n"
"                     line is 'listening on ADDR:PORT (model pingpong, ...)'\n"
"  -h, --help         this help\n");
}

static double
number(const char *opt, const char *s, double min, double max)
{
	double v;

	if (opt_double(opt, s, min, max, &v) == -1) {
		usage(stderr);
		exit(2);
	}
	return v;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "json", required_argument, NULL, 'J' },
		{ "serve", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "n:d:s:h", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'n':
			o->requests = (long)number("--requests", optarg, 1,
			    1e9);
			o->duration = 0;
			break;
		case 'd':
			o->duration = number("--duration", optarg, 0.001,
			    86400);
			o->requests = 0;
			break;
		case 's':
			o->size = (size_t)number("--size", optarg, 2,
			    MAX_SIZE);
			break;
		case 'W':
			o->warmup = (long)number("--warmup", optarg, 0, 1e9);
			break;
		case 'J': o->json = optarg; break;
		case 'S':
			number("--serve", optarg, 0, 65535);
			o->serve = optarg;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Read until n bytes ending in '\n' are in p.  Returns n, 0 on EOF,
 * -1 on error.  Loopback delivers a 16-byte line whole, but nothing
 * promises it.
 */
static ssize_t
read_line(int fd, char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = net_read(fd, p + got, n - got)) <= 0)
			return r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Echo upper-cased whatever arrives, one read() and one write() per
 * round trip, until EOF.  Returns 0, or -1 on an error (errno).
 */
static int
echo(int fd)
{
	char buf[MAX_SIZE];
	ssize_t r, i;

	if (net_nodelay(fd, 1) == -1)
		return -1;
	while ((r = net_read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < r; i++)
			if (buf[i] >= 'a' && buf[i] <= 'z')
				buf[i] = (char)(buf[i] - 'a' + 'A');
		if (net_write_all(fd, buf, (size_t)r) == -1)
			return -1;
	}
	return r == 0 ? 0 : -1;
}

/* The child of the pair: accept one client, echo, exit. */
static void
serve_one(int lfd)
{
	int fd;

	do
		fd = net_accept(lfd, 0, NULL, 0);
	while (fd == -1 && errno == EINTR);
	if (fd == -1)
		die(1, "server: accept: %s", strerror(errno));
	close(lfd);
	if (echo(fd) == -1)
		die(1, "server: %s", strerror(errno));
	_exit(0);
}

/*
 * --serve: the same echo as a server of its own, one connection at a
 * time, until a signal ends it; so that bin/loadgen can be pointed at
 * the minimal server too (the floor with loadgen's own overhead in it).
 */
static int
serve_forever(const char *port)
{
	char err[NET_ERR_LEN], addr[NET_ADDR_LEN];
	struct sigaction sa;
	int lfd, fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die(1, "sigaction: %s", strerror(errno));
	lfd = net_listen("127.0.0.1", port, SOCK_STREAM, 128, 0, err,
	    sizeof(err));
	if (lfd == -1)
		die(1, "%s", err);
	if (net_local_addr(lfd, addr, sizeof(addr)) == -1)
		die(1, "getsockname: %s", strerror(errno));
	printf("listening on %s (model pingpong, backlog 128)\n", addr);
	if (fflush(stdout) == EOF)
		die(1, "stdout: %s", strerror(errno));
	for (;;) {
		if ((fd = net_accept(lfd, 0, NULL, 0)) == -1) {
			if (errno == EMFILE || errno == ENFILE)
				net_accept_backoff();
			continue;
		}
		/* A client that resets is its own business. */
		(void)echo(fd);
		close(fd);
	}
}

/* Line k: lower-case letters that vary with k, then '\n'. */
static void
make_line(char *p, size_t size, uint64_t k)
{
	size_t i;

	for (i = 0; i + 1 < size; i++)
		p[i] = (char)('a' + (k + i) % 26);
	p[size - 1] = '\n';
}

static int
check_reply(const char *req, const char *rep, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++)
		if (rep[i] != req[i] - 'a' + 'A')
			return -1;
	return rep[size - 1] == '\n' ? 0 : -1;
}

static void
record(struct result *res, uint64_t ns)
{
	uint64_t *p;

	if (res->n == res->cap) {
		res->cap = res->cap ? res->cap * 2 : 65536;
		if ((p = realloc(res->rtt, res->cap * sizeof(*p))) == NULL)
			die(1, "out of memory for %zu round trips", res->cap);
		res->rtt = p;
	}
	res->rtt[res->n++] = ns;
}

/* One round trip; returns its time in ns. */
static uint64_t
round_trip(int fd, char *req, char *rep, size_t size, uint64_t k)
{
	uint64_t t0;
	ssize_t r;

	make_line(req, size, k);
	t0 = now_ns();
	if (net_write_all(fd, req, size) == -1)
		die(1, "write: %s", strerror(errno));
	if ((r = read_line(fd, rep, size)) <= 0)
		die(1, "read: %s", r == 0 ? "server closed" : strerror(errno));
	t0 = now_ns() - t0;
	if (check_reply(req, rep, size) == -1)
		die(1, "round trip %llu: wrong reply", (unsigned long long)k);
	return t0;
}

static void
client(int fd, const struct opts *o, struct result *res)
{
	char req[MAX_SIZE], rep[MAX_SIZE];
	uint64_t k, start, end, stop_at = 0;

	if (net_nodelay(fd, 1) == -1)
		die(1, "TCP_NODELAY: %s", strerror(errno));
	for (k = 0; k < (uint64_t)o->warmup; k++)
		(void)round_trip(fd, req, rep, o->size, k);
	start = now_ns();
	if (o->duration > 0)
		stop_at = start + (uint64_t)(o->duration * 1e9);
	for (;; k++) {
		if (o->requests > 0 && res->n >= (size_t)o->requests)
			break;
		/* Reading the clock every 64 round trips is plenty. */
		if (stop_at && (k & 63) == 0 && now_ns() >= stop_at)
			break;
		record(res, round_trip(fd, req, rep, o->size, k));
	}
	end = now_ns();
	res->elapsed = (double)(end - start) / 1e9;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Exact percentile of the sorted array: the hist_rank()-th smallest. */
static double
pct_us(const struct result *res, double p)
{
	if (res->n == 0)
		return 0;
	return (double)res->rtt[hist_rank(p, res->n) - 1] / 1000.0;
}

static double
mean_us(const struct result *res)
{
	long double sum = 0;
	size_t i;

	for (i = 0; i < res->n; i++)
		sum += res->rtt[i];
	return res->n ? (double)(sum / res->n / 1000.0) : 0;
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
#define NPCTS	(sizeof(pcts) / sizeof(pcts[0]))

static void
print_summary(FILE *f, const struct opts *o, const struct result *res)
{
	size_t i;

	fprintf(f, "pingpong: %zu round trips of %zu-byte lines in %.3f s\n",
	    res->n, o->size, res->elapsed);
	fprintf(f, "  round trips/s  %.0f\n", (double)res->n / res->elapsed);
	fprintf(f, "  rtt us         mean %.2f  min %.2f", mean_us(res),
	    (double)res->rtt[0] / 1000.0);
	for (i = 0; i < NPCTS; i++)
		fprintf(f, "  p%g %.2f", pcts[i], pct_us(res, pcts[i]));
	fprintf(f, "  max %.2f\n", (double)res->rtt[res->n - 1] / 1000.0);
	fprintf(f, "  server cpu s   user %.3f  sys %.3f  (%.2f us per round "
	    "trip, warmup included)\n", res->srv_user, res->srv_sys,
	    (res->srv_user + res->srv_sys) * 1e6 /
	    (double)(res->n + (size_t)o->warmup));
}

/*
 * The curve for plots: the percentile at 0, 50, 75, 87.5 ... (halving the
 * distance to 100 each step, as HdrHistogram's percentile output does).
 */
static void
json_curve(FILE *f, const struct result *res)
{
	double p, rest = 100;
	int first = 1;

	fputs("  \"percentile_curve\": [", f);
	for (p = 0; ; ) {
		fprintf(f, "%s\n    {\"percentile\": %.6f, \"us\": %.3f}",
		    first ? "" : ",", p, pct_us(res, p));
		first = 0;
		if (rest * (double)res->n < 100.0)
			break;
		rest /= 2;
		p = 100 - rest;
	}
	fprintf(f, ",\n    {\"percentile\": 100, \"us\": %.3f}\n  ],\n",
	    (double)res->rtt[res->n - 1] / 1000.0);
}

static int
write_json(const struct opts *o, const struct result *res)
{
	FILE *f;
	size_t i;
	int tostdout = strcmp(o->json, "-") == 0;

	if ((f = tostdout ? stdout : fopen(o->json, "w")) == NULL) {
		log_err("%s: %s", o->json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"tool\": \"pingpong\",\n");
	fprintf(f, "  \"params\": {\"size\": %zu, \"requests\": %ld, "
	    "\"duration\": %g, \"warmup\": %ld, \"sessions\": 1},\n",
	    o->size, o->requests, o->duration, o->warmup);
	fprintf(f, "  \"requests\": %zu,\n  \"elapsed_s\": %.6f,\n",
	    res->n, res->elapsed);
	fprintf(f, "  \"rps\": %.3f,\n", (double)res->n / res->elapsed);
	fprintf(f, "  \"latency_us\": {\"mean\": %.3f, \"min\": %.3f",
	    mean_us(res), (double)res->rtt[0] / 1000.0);
	for (i = 0; i < NPCTS; i++)
		fprintf(f, ", \"p%g\": %.3f", pcts[i], pct_us(res, pcts[i]));
	fprintf(f, ", \"max\": %.3f},\n",
	    (double)res->rtt[res->n - 1] / 1000.0);
	json_curve(f, res);
	/* The server's CPU time covers the warmup round trips too. */
	fprintf(f, "  \"server_cpu_s\": {\"user\": %.6f, \"sys\": %.6f, "
	    "\"total\": %.6f},\n", res->srv_user, res->srv_sys,
	    res->srv_user + res->srv_sys);
	fprintf(f, "  \"server_round_trips\": %zu,\n", res->n +
	    (size_t)o->warmup);
	fprintf(f, "  \"server_cpu_us_per_request\": %.4f\n}\n",
	    (res->srv_user + res->srv_sys) * 1e6 /
	    (double)(res->n + (size_t)o->warmup));
	if (tostdout)
		return fflush(f) == EOF ? -1 : 0;
	if (fclose(f) == EOF) {
		log_err("%s: %s", o->json, strerror(errno));
		return -1;
	}
	return 0;
}

static double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	struct opts o = { .requests = 100000, .warmup = 1000, .size = 16 };
	struct result res = { 0 };
	char err[NET_ERR_LEN], addr[NET_ADDR_LEN], *port;
	struct rusage ru;
	pid_t pid;
	int lfd, fd, status;

	log_setprog(argv[0]);
	parse(argc, argv, &o);
	if (o.serve)
		return serve_forever(o.serve);
	lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 1, 0, err,
	    sizeof(err));
	if (lfd == -1)
		die(1, "%s", err);
	if (net_local_addr(lfd, addr, sizeof(addr)) == -1)
		die(1, "getsockname: %s", strerror(errno));
	port = strrchr(addr, ':') + 1;
	if (fflush(stdout) == EOF)
		die(1, "stdout: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die(1, "fork: %s", strerror(errno));
	if (pid == 0)
		serve_one(lfd);
	close(lfd);
	/* The listening socket exists already: connect cannot race it. */
	if ((fd = net_connect("127.0.0.1", port, SOCK_STREAM, 5000, err,
	    sizeof(err))) == -1) {
		kill(pid, SIGTERM);
		(void)waitpid(pid, NULL, 0);
		die(1, "%s", err);
	}
	client(fd, &o, &res);
	/* EOF ends the child's loop; then its CPU time is final. */
	close(fd);
	while (wait4(pid, &status, 0, &ru) == -1)
		if (errno != EINTR)
			die(1, "wait4: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die(1, "the echo server failed (status %#x)", status);
	res.srv_user = tv_sec(ru.ru_utime);
	res.srv_sys = tv_sec(ru.ru_stime);
	if (res.n == 0)
		die(1, "no round trip was timed");
	qsort(res.rtt, res.n, sizeof(res.rtt[0]), cmp_u64);
	/* With --json - the summary must not corrupt the JSON. */
	print_summary(o.json && strcmp(o.json, "-") == 0 ? stderr : stdout,
	    &o, &res);
	if (o.json && write_json(&o, &res) == -1)
		return 1;
	free(res.rtt);
	return 0;
}
