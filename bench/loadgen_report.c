/*
 * loadgen_report.c - the readable summary, --csv and --json.
 *
 * Times are recorded in nanoseconds and reported in microseconds.
 * Percentiles are the upper bound of the histogram bucket that holds them
 * (at most 0.8 % above the true value, never above the exact max).
 *
 * What the figures mean:
 *  throughput	right replies received in the measured window / its
 *		length, replies to warm-up requests included (leaving them
 *		out biased a short window low by sessions x pipeline / time);
 *		the measured time runs from the end of the warm-up to the
 *		end of the run (with -n and no warm-up it includes the
 *		connects, as redis-benchmark's does).  completed counts the
 *		measured requests answered right: the latency histogram's.
 *  latency	closed loop: reply - send.  Open loop: reply - the time the
 *		request was due on the schedule (corrected for coordinated
 *		omission), and every measured request that fell due is in
 *		it: one with no reply when the run ended counts end - due
 *		(censored), sent or not; "uncorrected" is reply - actual
 *		send, answered requests only.
 *  connect	connect() called to the handshake seen complete (SYN to
 *		SYN-ACK, plus our loop's reaction time).
 *  first reply	connect() called to the first reply on that connection:
 *		it includes the wait in the server's accept queue and the
 *		server's start-up for the session (fork, thread).
 *  syn_retrans	connections whose socket counted a retransmission
 *		(TCP_INFO tcpi_total_retrans) right after the handshake,
 *		when only a SYN can have been resent; slow_connects counts
 *		the handshakes that took >= 1 s, the first SYN timeout.
 *  errors	refused (no listener), reset (RST / EPIPE), closed (the
 *		server closed first), timeout (--timeout), connect_timeout,
 *		mismatch (a wrong reply), other (see the first one logged).
 *  unanswered	requests due with no reply when the run ended (with -d:
 *		when the measured window closed), warm-up ones included and
 *		counted apart as unanswered_warmup; unsent: of those, the
 *		ones never written (open loop: due while the ring was
 *		full).  "waited" is their end - due.  Not errors: a closed
 *		loop ends with up to -c x -P of them in flight.  But a
 *		session that waited through half the measured window or
 *		more (stalled: an iterative server, a pool smaller than -c,
 *		a lost request) and a run that completed nothing exit 1.
 *  cpu		loadgen's own user + system time: the process, and each
 *		worker thread (RUSAGE_THREAD) as a share of one core over
 *		the run; a thread at >= 90 % means the figures may be
 *		loadgen's limit, not the server's (a warning).
 *  intervals	--interval: the run cut on the main thread's clock, each
 *		interval's replies, errors and corrected latency; the
 *		intervals' histograms add up to the run's exactly.
 *  exact	per histogram: exact min, max and sum (ns), and "hdr", the
 *		histogram in HdrHistogram's compressed V2 encoding
 *		(loadgen_hlog.c), so that runs merge without loss.
 *  netstat	TcpExt ListenOverflows / ListenDrops after - before: the
 *		whole network namespace, not this run alone.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loadgen.h"

static const double pct_list[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const pct_keys[] = {
	"p50", "p90", "p99", "p99_9", "p99_99"
};
#define NPCT	(sizeof(pct_list) / sizeof(pct_list[0]))

/* The percentile curve for plots: 0, 10 .. 90, then ever more nines. */
static const double spectrum[] = {
	0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5,
	99.75, 99.9, 99.95, 99.99, 99.995, 99.999, 100
};

static unsigned long long
ull(uint64_t v)
{
	return (unsigned long long)v;
}

static unsigned long long
overflows(const struct result *r)
{
	return ull(r->ns_after.overflows - r->ns_before.overflows);
}

static unsigned long long
drops(const struct result *r)
{
	return ull(r->ns_after.drops - r->ns_before.drops);
}

static double
us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static uint64_t
errors_total(const struct stats *st)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < E_NKINDS; i++)
		t += st->errors[i];
	return t;
}

static const char *
mode_name(const struct opts *o)
{
	return o->rate > 0 ? "open" : "closed";
}

/* "57us", "1.23ms", "2.50s": three significant figures or so. */
static const char *
fmt_time(char *b, size_t n, uint64_t ns)
{
	double v = (double)ns;

	if (v < 1e3)
		snprintf(b, n, "%.0fns", v);
	else if (v < 1e4)
		snprintf(b, n, "%.2fus", v / 1e3);
	else if (v < 1e6)
		snprintf(b, n, "%.0fus", v / 1e3);
	else if (v < 1e9)
		snprintf(b, n, "%.2fms", v / 1e6);
	else
		snprintf(b, n, "%.2fs", v / 1e9);
	return b;
}

static void
summary_hist(const char *label, const struct hist *h)
{
	char b[8][24];
	size_t i;

	if (hist_count(h) == 0) {
		printf("  %-12s (none)\n", label);
		return;
	}
	printf("  %-12s", label);
	printf(" %9s", fmt_time(b[0], sizeof(b[0]), (uint64_t)hist_mean(h)));
	for (i = 0; i < NPCT; i++)
		printf(" %9s", fmt_time(b[i + 1], sizeof(b[i + 1]),
		    hist_percentile(h, pct_list[i])));
	printf(" %9s  (%llu)\n", fmt_time(b[7], sizeof(b[7]), hist_max(h)),
	    ull(hist_count(h)));
}

static double
pct_core(const struct cpu *c, double elapsed)
{
	return elapsed > 0 ? 100 * (c->user + c->sys) / elapsed : 0;
}

static void
summary_cpu(const struct opts *o, const struct result *r)
{
	int i;

	printf("  loadgen CPU  %.2f s user + %.2f s sys, %.0f %% of a core; "
	    "per thread:", r->cpu.user, r->cpu.sys,
	    pct_core(&r->cpu, r->elapsed));
	for (i = 0; r->thread_cpu != NULL && i < o->threads; i++)
		printf(" %.0f %%", pct_core(&r->thread_cpu[i], r->elapsed));
	if (r->thread_cpu == NULL)
		printf(" (not kept by a merge)");
	printf("\n");
}

void
report_summary(const struct opts *o, const struct result *r)
{
	const struct stats *st = &r->st;
	char addr[300];
	int i;

	snprintf(addr, sizeof(addr), "%s port %s", o->host, o->port);
	printf("loadgen %s: %s, %s loop, %d session%s (%s), %d thread%s, "
	    "pipeline %d\n", LOADGEN_VERSION, addr, mode_name(o), o->sessions,
	    o->sessions == 1 ? "" : "s",
	    o->keepalive ? "persistent" : "a connection per request",
	    o->threads, o->threads == 1 ? "" : "s", o->depth);
	printf("  requests     %zu-byte %s, %s\n", o->size,
	    o->request ? "fixed request" : "generated lines",
	    o->verify ? "every reply verified" : "replies not verified");
	if (o->rate > 0)
		printf("  target       %.0f requests/s on a fixed schedule "
		    "(%.3f ms between requests of one session)\n", o->rate,
		    (double)run.interval / 1e6);
	printf("  time         %.3f s measured, %.3f s in all "
	    "(warm-up %.3f s)\n", r->measured, r->elapsed,
	    (double)o->warmup / 1e9);
	printf("  completed    %llu requests; %llu replies in the window, "
	    "%.1f requests/s", ull(st->completed), ull(st->replies),
	    r->throughput);
	if (o->rate > 0)
		printf(" (%.1f %% of the target)",
		    100 * r->throughput / o->rate);
	printf("\n  failed       %llu requests; %llu warm-up replies; "
	    "%llu bytes out, %llu in\n", ull(st->failed), ull(st->warm),
	    ull(st->bytes_out), ull(st->bytes_in));
	printf("\n  %-12s %9s %9s %9s %9s %9s %9s %9s  (count)\n", "",
	    "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max");
	summary_hist("latency", &st->lat);
	if (o->rate > 0)
		summary_hist("uncorrected", &st->lat_unc);
	summary_hist("connect", &st->conn);
	summary_hist("first reply", &st->first);
	summary_hist("waited", &st->wait);
	if (o->rate > 0)
		printf("  (latency counts from the time each request was due, "
		    "until its reply or the end;\n   uncorrected, from when it "
		    "went out; waited: the unanswered, until the end)\n");
	else
		printf("  (waited: requests unanswered at the end, from when "
		    "they were sent until the end)\n");
	printf("\n  connects     %llu attempted, %llu established, "
	    "%llu with a SYN retransmission (TCP_INFO), %llu took >= 1 s\n",
	    ull(st->connects), ull(st->established), ull(st->syn_retrans),
	    ull(st->slow_connects));
	printf("  errors       %llu:", ull(errors_total(st)));
	for (i = 0; i < E_NKINDS; i++)
		printf(" %s %llu", err_names[i], ull(st->errors[i]));
	printf("\n");
	printf("  unanswered   %llu requests due with no reply when the run "
	    "ended (%llu due in the warm-up, %llu never sent)\n",
	    ull(st->unanswered), ull(st->unanswered_warm), ull(st->unsent));
	if (st->stalled > 0)
		printf("  stalled      %llu sessions waited for a reply through "
		    "half the window or more\n", ull(st->stalled));
	if (st->unopened > 0)
		printf("  unopened     %llu sessions not established when the "
		    "run ended\n", ull(st->unopened));
	if (st->lost > 0)
		printf("  lost         %llu sessions\n", ull(st->lost));
	summary_cpu(o, r);
	if (r->ns_before.ok && r->ns_after.ok)
		printf("  backlog      ListenOverflows +%llu, "
		    "ListenDrops +%llu (whole network namespace)\n",
		    overflows(r), drops(r));
	if (r->interrupted)
		printf("  note         interrupted\n");
	if (r->cut_short)
		printf("  note         cut short: partial figures\n");
	if (r->rate_short)
		printf("  note         achieved rate < 95 %% of the target\n");
	if (r->saturated)
		printf("  note         loadgen saturated a core: figures may be "
		    "client-bound\n");
	fflush(stdout);
}

void
report_csv(const struct opts *o, const struct result *r)
{
	const struct stats *st = &r->st;
	const struct hist *h = &st->lat;
	size_t i;
	int k;

	printf("mode,sessions,threads,pipeline,keepalive,size,rate_target,"
	    "measured_s,completed,failed,errors,unanswered,unanswered_warmup,"
	    "throughput_rps,mean_us");
	for (i = 0; i < NPCT; i++)
		printf(",%s_us", pct_keys[i]);
	printf(",max_us,unc_p50_us,unc_p99_us,unc_max_us,connect_p50_us,"
	    "connect_p99_us,connect_max_us,first_reply_p50_us,"
	    "first_reply_p99_us,first_reply_max_us,connects,syn_retrans,"
	    "slow_connects");
	for (k = 0; k < E_NKINDS; k++)
		printf(",err_%s", err_names[k]);
	printf(",listen_overflows,listen_drops,cut_short,replies,unsent,"
	    "sessions_stalled,cpu_s,cpu_pct\n");

	printf("%s,%d,%d,%d,%d,%zu,%.1f,%.6f,%llu,%llu,%llu,%llu,%llu,%.1f,"
	    "%.3f", mode_name(o), o->sessions, o->threads, o->depth,
	    o->keepalive, o->size, o->rate, r->measured, ull(st->completed),
	    ull(st->failed), ull(errors_total(st)), ull(st->unanswered),
	    ull(st->unanswered_warm), r->throughput,
	    hist_mean(h) / 1e3);
	for (i = 0; i < NPCT; i++)
		printf(",%.3f", us(hist_percentile(h, pct_list[i])));
	printf(",%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f",
	    us(hist_max(h)), us(hist_percentile(&st->lat_unc, 50)),
	    us(hist_percentile(&st->lat_unc, 99)), us(hist_max(&st->lat_unc)),
	    us(hist_percentile(&st->conn, 50)),
	    us(hist_percentile(&st->conn, 99)), us(hist_max(&st->conn)),
	    us(hist_percentile(&st->first, 50)),
	    us(hist_percentile(&st->first, 99)), us(hist_max(&st->first)));
	printf(",%llu,%llu,%llu", ull(st->connects),
	    ull(st->syn_retrans),
	    ull(st->slow_connects));
	for (k = 0; k < E_NKINDS; k++)
		printf(",%llu", ull(st->errors[k]));
	if (r->ns_before.ok && r->ns_after.ok)
		printf(",%llu,%llu",
		    overflows(r), drops(r));
	else
		printf(",,");
	printf(",%d,%llu,%llu,%llu,%.3f,%.1f\n", r->cut_short, ull(st->replies),
	    ull(st->unsent), ull(st->stalled), r->cpu.user + r->cpu.sys,
	    pct_core(&r->cpu, r->elapsed));
	fflush(stdout);
}

/* ---- JSON ---- */

/* Bytes of the well-formed UTF-8 sequence at s (at most n), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t c;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string: UTF-8 as it is, a byte that is not UTF-8 as U+FFFD. */
static void
json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, k;

	fputc('"', f);
	for (i = 0; i < n; i += k) {
		k = utf8_len(u + i, n - i);
		if (k == 0) {
			fputs("\\ufffd", f);
			k = 1;
		} else if (u[i] == '"' || u[i] == '\\')
			fprintf(f, "\\%c", u[i]);
		else if (u[i] < 0x20 || u[i] == 0x7f)
			fprintf(f, "\\u%04x", u[i]);
		else
			fwrite(u + i, 1, k, f);
	}
	fputc('"', f);
}

static void	json_hdr(FILE *, const struct hist *);

static void
json_hist(FILE *f, const char *name, const struct hist *h, const char *what)
{
	struct hist_bucket b;
	size_t i, it = 0;
	const char *sep = "";

	fprintf(f, "  \"%s\": {\n    \"what\": \"%s\",\n", name, what);
	fprintf(f, "    \"count\": %llu, \"mean\": %.3f, \"min\": %.3f",
	    ull(hist_count(h)), hist_mean(h) / 1e3,
	    us(hist_min(h)));
	for (i = 0; i < NPCT; i++)
		fprintf(f, ", \"%s\": %.3f", pct_keys[i],
		    us(hist_percentile(h, pct_list[i])));
	fprintf(f, ", \"max\": %.3f,\n    \"percentiles\": [", us(hist_max(h)));
	for (i = 0; i < sizeof(spectrum) / sizeof(spectrum[0]); i++)
		fprintf(f, "%s[%g, %.3f]", i ? ", " : "", spectrum[i],
		    us(hist_percentile(h, spectrum[i])));
	fprintf(f, "],\n    \"buckets\": [");
	while (hist_next(h, &it, &b)) {
		fprintf(f, "%s[%.3f, %llu]", sep, us(b.hi),
		    ull(b.count));
		sep = ", ";
	}
	fprintf(f, "],\n    \"exact\": {\"min_ns\": %llu, \"max_ns\": %llu, "
	    "\"sum_ns\": %.0Lf, \"hdr\": ", ull(hist_min(h)), ull(hist_max(h)),
	    h->sum);
	json_hdr(f, h);
	fprintf(f, "}\n  },\n");
}

/*
 * The histogram itself, losslessly: HdrHistogram's compressed V2 form in
 * nanoseconds (loadgen_hlog.c), for merging runs and for its tools.
 */
static void
json_hdr(FILE *f, const struct hist *h)
{
	char *s = hlog_encode(h);

	if (s == NULL) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "\"%s\"", s);
	free(s);
}

static void
json_intervals(FILE *f, const struct result *r)
{
	const struct ivpoint *p;
	size_t i;

	if (r->iv == NULL) {
		fprintf(f, "  \"intervals\": null,\n");
		return;
	}
	fprintf(f, "  \"intervals\": {\"what\": \"the run cut on loadgen's "
	    "clock: start and length in s after the first connect, replies "
	    "(right ones, warm-up too) and errors in it, the corrected latency "
	    "recorded in it (us)\", \"points\": [");
	for (i = 0; i < r->iv->n; i++) {
		p = &r->iv->pts[i];
		fprintf(f, "%s\n    {\"start_s\": %.6f, \"length_s\": %.6f, "
		    "\"replies\": %llu, \"throughput_rps\": %.3f, "
		    "\"errors\": %llu, \"count\": %llu, \"p50\": %.3f, "
		    "\"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}",
		    i ? "," : "", p->start, p->length, ull(p->replies),
		    p->length > 0 ? (double)p->replies / p->length : 0,
		    ull(p->errors), ull(p->count), us(p->p50), us(p->p90),
		    us(p->p99), us(p->max));
	}
	fprintf(f, "]},\n");
}

static void
json_params(FILE *f, const struct opts *o)
{
	fprintf(f, "  \"params\": {\n    \"host\": ");
	json_str(f, o->host, strlen(o->host));
	fprintf(f, ", \"port\": %u, \"mode\": \"%s\", \"sessions\": %d, "
	    "\"threads\": %d,\n", o->port_num, mode_name(o), o->sessions,
	    o->threads);
	fprintf(f, "    \"pipeline\": %d, \"keepalive\": %d, \"size\": %zu, "
	    "\"requests\": %llu, \"duration_s\": %.6f, \"warmup_s\": %.6f,\n",
	    o->depth, o->keepalive, o->size, ull(o->total),
	    (double)o->duration / 1e9, (double)o->warmup / 1e9);
	fprintf(f, "    \"rate\": %.3f, \"connect_rate\": %.3f, "
	    "\"timeout_s\": %.6f, \"connect_timeout_s\": %.6f,\n", o->rate,
	    o->connect_rate, (double)o->timeout / 1e9,
	    (double)o->connect_timeout / 1e9);
	fprintf(f, "    \"seed\": %llu, \"verify\": %s, \"request\": ",
	    ull(o->seed), o->verify ? "true" : "false");
	if (o->request != NULL)
		json_str(f, o->request, o->request_len);
	else
		fprintf(f, "null");
	fprintf(f, "\n  },\n");
}

static void
json_cpu(FILE *f, const struct opts *o, const struct result *r)
{
	int i;

	fprintf(f, "  \"cpu\": {\"user_s\": %.3f, \"sys_s\": %.3f, "
	    "\"percent_of_core\": %.1f, \"saturated\": %s, \"threads\": [",
	    r->cpu.user, r->cpu.sys, pct_core(&r->cpu, r->elapsed),
	    r->saturated ? "true" : "false");
	for (i = 0; r->thread_cpu != NULL && i < o->threads; i++)
		fprintf(f, "%s{\"user_s\": %.3f, \"sys_s\": %.3f, "
		    "\"percent_of_core\": %.1f}", i ? ", " : "",
		    r->thread_cpu[i].user, r->thread_cpu[i].sys,
		    pct_core(&r->thread_cpu[i], r->elapsed));
	fprintf(f, "],\n    \"what\": \"loadgen's own user + system time; "
	    "saturated: a worker thread used >= 90 %% of a core, the "
	    "figures may be client-bound\"},\n");
}

static void
json_warnings(FILE *f, const struct opts *o, const struct result *r)
{
	const char *sep = "";

	fprintf(f, "  \"warnings\": [");
	if (r->rate_short) {
		fprintf(f, "\"achieved rate %.1f below 95%% of the target "
		    "%.1f\"", r->throughput, o->rate);
		sep = ", ";
	}
	if (r->saturated) {
		fprintf(f, "%s\"loadgen saturated a core: the figures may be "
		    "client-bound\"", sep);
		sep = ", ";
	}
	if (r->st.stalled > 0) {
		fprintf(f, "%s\"%llu sessions waited for a reply through half "
		    "the measured window or more\"", sep, ull(r->st.stalled));
		sep = ", ";
	}
	if (r->st.unopened > 0) {
		fprintf(f, "%s\"%llu sessions were not established when the "
		    "run ended\"", sep, ull(r->st.unopened));
		sep = ", ";
	}
	if (r->st.completed == 0)
		fprintf(f, "%s\"no request was answered\"", sep);
}

static void
json_body(FILE *f, const struct opts *o, const struct result *r)
{
	const struct stats *st = &r->st;
	int i;

	fprintf(f, "{\n  \"tool\": \"loadgen\", \"version\": \"%s\",\n",
	    LOADGEN_VERSION);
	json_params(f, o);
	fprintf(f, "  \"elapsed_s\": %.6f, \"measured_s\": %.6f, "
	    "\"wall_start_s\": %.6f, \"start_at_s\": %.3f,\n", r->elapsed,
	    r->measured, run.wall0, o->start_at);
	fprintf(f, "  \"throughput_rps\": %.3f,\n", r->throughput);
	fprintf(f, "  \"requests\": {\"committed\": %llu, \"completed\": %llu, "
	    "\"replies\": %llu, "
	    "\"failed\": %llu, \"warmup_replies\": %llu, \"sent\": %llu, "
	    "\"bytes_out\": %llu, \"bytes_in\": %llu},\n",
	    ull(st->committed),
	    ull(st->completed), ull(st->replies), ull(st->failed),
	    ull(st->warm), ull(st->sent),
	    ull(st->bytes_out), ull(st->bytes_in));
	fprintf(f, "  \"rate\": {\"target\": %.3f, \"achieved\": %.3f, "
	    "\"short\": %s},\n", o->rate, o->rate > 0 ? r->throughput : 0,
	    r->rate_short ? "true" : "false");
	json_hist(f, "latency_us", &st->lat, o->rate > 0 ?
	    "reply time (or the end, for a request never answered) - time "
	    "the request was due (corrected)" : "reply time - send time");
	json_hist(f, "latency_uncorrected_us", &st->lat_unc,
	    "reply time - time the request was written");
	json_hist(f, "connect_us", &st->conn,
	    "connect() to established (SYN to SYN-ACK seen)");
	json_hist(f, "first_reply_us", &st->first,
	    "connect() to the first reply of each connection, accept-queue "
	    "wait included, less any wait for the schedule");
	json_hist(f, "unanswered_us", &st->wait,
	    "end of the run - time due, of the requests never answered");
	json_intervals(f, r);
	fprintf(f, "  \"connects\": {\"attempted\": %llu, \"established\": "
	    "%llu, \"syn_retrans\": %llu, \"syn_retrans_method\": "
	    "\"getsockopt TCP_INFO tcpi_total_retrans > 0 once established\", "
	    "\"slow_connects\": %llu, \"slow_connects_method\": "
	    "\"connect time >= 1 s (initial SYN RTO)\"},\n",
	    ull(st->connects),
	    ull(st->established),
	    ull(st->syn_retrans),
	    ull(st->slow_connects));
	fprintf(f, "  \"errors\": {");
	for (i = 0; i < E_NKINDS; i++)
		fprintf(f, "\"%s\": %llu, ", err_names[i],
		    ull(st->errors[i]));
	fprintf(f, "\"total\": %llu},\n", ull(errors_total(st)));
	fprintf(f, "  \"unanswered\": %llu, \"unanswered_warmup\": %llu, "
	    "\"unsent\": %llu, \"unanswered_what\": \"requests due with no "
	    "reply when the run ended (not errors); _warmup: of those, due "
	    "in the warm-up; unsent: of those, never written\",\n",
	    ull(st->unanswered), ull(st->unanswered_warm), ull(st->unsent));
	fprintf(f, "  \"sessions_stalled\": %llu, \"sessions_stalled_what\": "
	    "\"sessions that waited for a reply through half the measured "
	    "window or more (exit status 1)\",\n", ull(st->stalled));
	fprintf(f, "  \"sessions_unopened\": %llu, \"sessions_unopened_what\": "
	    "\"persistent sessions never established: not connected yet, or "
	    "the handshake not done, when the run ended (exit status 1)\",\n",
	    ull(st->unopened));
	json_cpu(f, o, r);
	fprintf(f, "  \"sessions_lost\": %llu,\n", ull(st->lost));
	if (r->ns_before.ok && r->ns_after.ok)
		fprintf(f, "  \"netstat\": {\"ListenOverflows\": %llu, "
		    "\"ListenDrops\": %llu, "
		    "\"scope\": \"network namespace\"},\n",
		    overflows(r), drops(r));
	else
		fprintf(f, "  \"netstat\": null,\n");
	json_warnings(f, o, r);
	fprintf(f, "],\n  \"interrupted\": %s, \"cut_short\": %s, "
	    "\"exit_status\": %d\n}\n", r->interrupted ? "true" : "false",
	    r->cut_short ? "true" : "false", r->status);
}

int
report_json(const struct opts *o, const struct result *r, const char *path,
    char *err, size_t errlen)
{
	FILE *f;
	int bad;

	if ((f = fopen(path, "w")) == NULL) {
		snprintf(err, errlen, "--json %s: %s", path, strerror(errno));
		return -1;
	}
	json_body(f, o, r);
	bad = ferror(f);
	if (fclose(f) == EOF || bad) {
		snprintf(err, errlen, "--json %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
