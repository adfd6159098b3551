/*
 * loadgen_merge.c - loadgen merge A.json B.json ...: several runs (the
 * parts of one load spread over loadgens or hosts) as one.
 *
 * The histograms are added, not their percentiles: each JSON holds them
 * losslessly ("hdr", HdrHistogram's V2 encoding, with the exact min, max
 * and sum), so the merged percentiles are those of one histogram of every
 * value.  Counts, errors and CPU add up; the parts are taken to have
 * measured the same window (--start-at), so their throughputs add up
 * too, and the window is the longest part's.  The merged run failed if
 * any part did.  The JSON read is loadgen's own: the figures are looked
 * up by their keys in the order loadgen writes them, not parsed in full.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loadgen.h"

struct part {
	const char	*path;
	char		*text;
};

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 131072;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* The value of "key" after section (NULL: from the top); NULL if none. */
static const char *
lookup(const struct part *p, const char *section, const char *key)
{
	char pat[96];
	const char *s = p->text;

	if (section != NULL) {
		snprintf(pat, sizeof(pat), "\"%s\": {", section);
		if ((s = strstr(s, pat)) == NULL)
			return NULL;
	}
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	if ((s = strstr(s, pat)) == NULL)
		return NULL;
	return s + strlen(pat);
}

static double
dbl(const struct part *p, const char *section, const char *key)
{
	const char *v = lookup(p, section, key);
	char *end;
	double d;

	if (v == NULL)
		die(1, "merge: %s: no %s%s%s (not loadgen's JSON?)", p->path,
		    section ? section : "", section ? "." : "", key);
	d = strtod(v, &end);
	if (end == v)
		die(1, "merge: %s: %s is not a number", p->path, key);
	return d;
}

static uint64_t
u64(const struct part *p, const char *section, const char *key)
{
	const char *v = lookup(p, section, key);
	char *end;
	unsigned long long u;

	if (v == NULL)
		die(1, "merge: %s: no %s%s%s (not loadgen's JSON?)", p->path,
		    section ? section : "", section ? "." : "", key);
	errno = 0;
	u = strtoull(v, &end, 10);
	if (end == v || errno != 0)
		die(1, "merge: %s: %s is not a count", p->path, key);
	return u;
}

static int
yes(const struct part *p, const char *key)
{
	const char *v = lookup(p, NULL, key);

	return v != NULL && strncmp(v, "true", 4) == 0;
}

/* Add the part's histogram "name" into h: counts, exact min, max, sum. */
static void
add_hist(const struct part *p, const char *name, struct hist *h)
{
	const char *v = lookup(p, name, "hdr"), *end;
	uint64_t count = u64(p, name, "count"), lo, hi;

	if (v == NULL || *v != '"' || (end = strchr(v + 1, '"')) == NULL)
		die(1, "merge: %s: %s has no histogram (\"hdr\"): written by "
		    "an older loadgen?", p->path, name);
	if (count == 0)
		return;
	if (hlog_decode(v + 1, (size_t)(end - v - 1), h) == -1)
		die(1, "merge: %s: %s: not loadgen's histogram (%s)", p->path,
		    name, strerror(errno));
	lo = u64(p, name, "min_ns");
	hi = u64(p, name, "max_ns");
	if (lo < h->min)
		h->min = lo;
	if (hi > h->max)
		h->max = hi;
	h->sum += (long double)dbl(p, name, "sum_ns");
}

static const char *const hists[] = {
	"latency_us", "latency_uncorrected_us", "connect_us", "first_reply_us",
	"unanswered_us"
};

/* *last: the latest start seen; run.wall0 the earliest. */
static void
add_part(const struct part *p, struct result *r, double *last)
{
	double w;
	struct stats *st = &r->st;
	struct hist *h[] = { &st->lat, &st->lat_unc, &st->conn, &st->first,
	    &st->wait };
	size_t i;

	for (i = 0; i < sizeof(hists) / sizeof(hists[0]); i++)
		add_hist(p, hists[i], h[i]);
	st->committed += u64(p, "requests", "committed");
	st->completed += u64(p, "requests", "completed");
	st->replies += u64(p, "requests", "replies");
	st->failed += u64(p, "requests", "failed");
	st->warm += u64(p, "requests", "warmup_replies");
	st->sent += u64(p, "requests", "sent");
	st->bytes_out += u64(p, "requests", "bytes_out");
	st->bytes_in += u64(p, "requests", "bytes_in");
	for (i = 0; i < E_NKINDS; i++)
		st->errors[i] += u64(p, "errors", err_names[i]);
	st->connects += u64(p, "connects", "attempted");
	st->established += u64(p, "connects", "established");
	st->syn_retrans += u64(p, "connects", "syn_retrans");
	st->slow_connects += u64(p, "connects", "slow_connects");
	st->unanswered += u64(p, NULL, "unanswered");
	st->unanswered_warm += u64(p, NULL, "unanswered_warmup");
	st->unsent += u64(p, NULL, "unsent");
	st->stalled += u64(p, NULL, "sessions_stalled");
	st->lost += u64(p, NULL, "sessions_lost");
	/* Newer than the rest: a part written before it had none. */
	if (lookup(p, NULL, "sessions_unopened") != NULL)
		st->unopened += u64(p, NULL, "sessions_unopened");
	r->cpu.user += dbl(p, "cpu", "user_s");
	r->cpu.sys += dbl(p, "cpu", "sys_s");
	r->throughput += dbl(p, NULL, "throughput_rps");
	if (dbl(p, NULL, "measured_s") > r->measured)
		r->measured = dbl(p, NULL, "measured_s");
	if (dbl(p, NULL, "elapsed_s") > r->elapsed)
		r->elapsed = dbl(p, NULL, "elapsed_s");
	if (lookup(p, NULL, "wall_start_s") != NULL) {
		w = dbl(p, NULL, "wall_start_s");
		if (run.wall0 == 0 || w < run.wall0)
			run.wall0 = w;
		if (w > *last)
			*last = w;
	}
	r->interrupted |= yes(p, "interrupted");
	r->cut_short |= yes(p, "cut_short");
	r->status |= u64(p, NULL, "exit_status") != 0;
}

/* The parameters, as one run would have them: sessions and rates add up. */
static void
add_params(const struct part *p, struct opts *o, char *host, size_t n)
{
	const char *v = lookup(p, "params", "host"), *end;

	if (o->sessions == 0 && v != NULL && *v == '"' &&
	    (end = strchr(v + 1, '"')) != NULL)
		snprintf(host, n, "%.*s", (int)(end - v - 1), v + 1);
	if (o->sessions == 0) {
		o->port_num = (unsigned)u64(p, "params", "port");
		o->depth = (int)u64(p, "params", "pipeline");
		o->keepalive = (int)u64(p, "params", "keepalive");
		o->size = (size_t)u64(p, "params", "size");
		o->warmup = (uint64_t)(dbl(p, "params", "warmup_s") * 1e9);
		o->duration = (uint64_t)(dbl(p, "params", "duration_s") * 1e9);
		v = lookup(p, "params", "verify");
		o->verify = v != NULL && strncmp(v, "true", 4) == 0;
	} else if ((size_t)u64(p, "params", "size") != o->size ||
	    (int)u64(p, "params", "pipeline") != o->depth)
		log_err("merge: warning: %s ran other parameters (-s, -P) "
		    "than the first part", p->path);
	o->sessions += (int)u64(p, "params", "sessions");
	o->threads += (int)u64(p, "params", "threads");
	o->rate += dbl(p, "params", "rate");
	o->connect_rate += dbl(p, "params", "connect_rate");
}

static void
merge_usage(void)
{
	die(2, "usage: loadgen merge [--json FILE] [--csv] [-q] A.json B.json "
	    "...");
}

int
merge_main(int argc, char **argv)
{
	struct opts o;
	struct result r;
	struct part p;
	char host[256] = "?", port[16], err[256];
	double last = 0;
	int i, nfiles = 0;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	if (stats_init(&r.st) == -1)
		die(1, "out of memory");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			o.json = argv[++i];
		else if (strcmp(argv[i], "--csv") == 0)
			o.csv = 1;
		else if (strcmp(argv[i], "-q") == 0)
			o.quiet = 1;
		else if (argv[i][0] == '-')
			merge_usage();
		else
			argv[nfiles++ + 1] = argv[i];
	}
	if (nfiles == 0)
		merge_usage();
	for (i = 1; i <= nfiles; i++) {
		p.path = argv[i];
		if ((p.text = slurp(p.path)) == NULL)
			die(1, "merge: %s: %s", p.path, strerror(errno));
		add_params(&p, &o, host, sizeof(host));
		add_part(&p, &r, &last);
		free(p.text);
	}
	if (last - run.wall0 > 1)
		log_err("merge: warning: the parts started %.3f s apart: they "
		    "did not measure the same window (--start-at)",
		    last - run.wall0);
	snprintf(port, sizeof(port), "%u", o.port_num);
	o.host = host;
	o.port = port;
	if (o.rate > 0)
		run.interval = (uint64_t)((double)o.sessions * 1e9 / o.rate);
	r.rate_short = o.rate > 0 && r.throughput < 0.95 * o.rate;
	if (o.csv)
		report_csv(&o, &r);
	else if (!o.quiet) {
		printf("merged %d run%s\n", nfiles, nfiles == 1 ? "" : "s");
		report_summary(&o, &r);
	}
	if (o.json != NULL &&
	    report_json(&o, &r, o.json, err, sizeof(err)) == -1) {
		log_err("%s", err);
		r.status = 1;
	}
	stats_free(&r.st);
	return r.status;
}
