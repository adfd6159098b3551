"""The report's tables of figures: throughput, ranking, bulk, latency
and errors, CPU and memory, connect times.  Where a table shows figures
of one run, they are the columns of columns.py."""

import rank
import syscount

from . import columns
from .conf import BULK, BULK_PIPELINE, MAX_POOL, table_labels
from .digest import cpu_per_request, dig, lg_summary
from .fmt import cell_rps, fmt_num, fmt_us, label_of, served_note


class Tables:
    """Report's tables."""

    def section_throughput(self):
        a = self.a
        labels = table_labels(a)
        self.w("## Throughput (requests/s)")
        self.w()
        self.w("Completed requests per second of the measured window; "
               "columns are concurrent persistent sessions, `k0` is a new "
               "connection per request.  Each cell is the median over the "
               "rounds, its confidence interval in brackets (%s), and "
               "`#N` its rank at that load (see *Ranking* below; a shared "
               "rank is a tie: within noise)." % self.ci_method())
        self.w()
        rows = []
        for t in self.targets():
            r = [label_of(t)]
            for lab in labels:
                r.append(self.cell(t, lab))
            rows.append(r)
        if self.b.pingpong:
            rows.append(["pingpong floor (median run)"] +
                        [fmt_num(self.b.pingpong["rps"])] +
                        [""] * (len(labels) - 1))
        self.table(["model"] + labels, rows)
        starved = [j for j in self.b.runs if served_note(j, errors=False)]
        if starved:
            self.w("*k of N sessions served*: the model answered only k "
                   "of the N connected sessions during the whole run.  A "
                   "blocking design serves as many sessions at once as it "
                   "has workers (iterative: one; a pool: `--workers`, %s); "
                   "the other sessions were "
                   "connected by the kernel and waited in the accept queue "
                   "(or the server's own queue), unanswered, until loadgen "
                   "closed them.  Throughput and latency of such a run are "
                   "those of the served sessions only." % (
                       "here sized to the sessions up to %d" % MAX_POOL
                       if not self.a.workers else
                       "this run: %d" % self.a.workers))
            self.w()


    def cell(self, t, lab):
        """median [low-high] #rank from the ranking, else the one run."""
        r = self.b.ranking.get(lab, {}).get(t)
        j = self.find(t, lab)
        if r is None:
            return cell_rps(j)
        size = BULK.get(lab)
        f = (lambda x: "%.0f" % (x / 1e6)) if size else fmt_num
        return "%s [%s-%s] #%d%s" % (
            f(r["median"]), f(r["low"]), f(r["high"]), r["rank"],
            served_note(j) if j else "")

    def section_bulk(self):
        b = self.b
        if not BULK:
            return
        labs = list(BULK)
        self.w("## Bulk: bytes/s of big lines upper-cased")
        self.w()
        self.w("One persistent session, %d lines in flight (`loadgen -c 1 "
               "-P %d -s SIZE`), lines of %s: bytes of request lines "
               "answered per second (the server reads them and writes as "
               "many back).  Cells as in the throughput table: median "
               "[interval] #rank.  The reference line is iperf3's loopback "
               "ceiling in this run: one TCP stream for 1 s, bytes/s "
               "received, one way (`iperf3 -c 127.0.0.1 -t 1`, median "
               "[min-max] of its %d runs).  *loadgen saturated*: loadgen's "
               "own thread used 90 %% of a core or more in the median "
               "round: the figure may be the client's limit." % (
                   BULK_PIPELINE, BULK_PIPELINE, ", ".join(
                       "%d" % BULK[x] for x in labs),
                   len([x for x in b.iperf if x])))
        self.w()
        rows = []
        for t in self.targets():
            if t == "redis":
                continue
            r = [label_of(t)]
            for lab in labs:
                c = self.cell(t, lab)
                j = self.find(t, lab)
                if j and dig(j, "cpu", "saturated"):
                    c += " (loadgen saturated)"
                r.append(c)
            rows.append(r)
        ok = [x for x in b.iperf if x]
        if ok:
            lo, med, hi = rank.interval(ok)[0], rank.median(ok), max(ok)
            rows.append(["iperf3 loopback ceiling (reference)"] +
                        ["%.0f [%.0f-%.0f]" % (med / 1e6, lo / 1e6,
                                               hi / 1e6)] * len(labs))
        self.table(["model"] + ["MB/s, %d-byte lines" % BULK[x]
                                for x in labs], rows)

    def section_ranking(self):
        b = self.b
        self.w("## Ranking, with ties")
        self.w()
        self.w("At each load the models (and external servers) are ranked "
               "by their median throughput only where the data separate "
               "them: a model is faster than another when its interval "
               "(%s) lies wholly above the other's; overlapping intervals "
               "are a tie, *within noise*.  A model's rank is 1 + the "
               "number of models strictly faster than it, so tied models "
               "share a rank.  redis-server is a reference and the floors "
               "are not ranked.  A load stops early once its ranking is "
               "*settled*: after at least %d rounds, the last round changed "
               "no strict pair (%d rounds at most).  Written to "
               "[ranking.csv](ranking.csv) (`load,model,rank,low,median,"
               "high`)." % (self.ci_method(), self.a.rounds,
                             self.a.max_rounds))
        self.w()
        rows = []
        for lab in b.loads:
            rk = b.ranking.get(lab, {})
            groups = {}
            for m, r in rk.items():
                groups.setdefault(r["rank"], []).append(m)
            order = []
            for n in sorted(groups):
                ms = sorted(groups[n], key=lambda m: -rk[m]["median"])
                order.append("%d. %s%s" % (n, ", ".join(ms),
                                            " (within noise)"
                                            if len(ms) > 1 else ""))
            figs = {m: (r["low"], r["median"], r["high"])
                    for m, r in rk.items()}
            npairs = len(rk) * (len(rk) - 1) // 2
            st = b.settled.get(lab)
            rows.append([lab, "; ".join(order),
                         "%d of %d" % (len(rank.tied_pairs(figs)), npairs),
                         "%d rounds, %s" % (
                             b.rounds_of.get(lab, 0),
                             "settled" if st else "**not settled**%s" % (
                                 " (time budget)" if b.cut_by_budget and
                                 b.rounds_of.get(lab, 0) < self.a.max_rounds
                                 else ""))])
        self.table(["load", "ranks (fastest first)", "pairs within noise",
                    "rounds"], rows)
        if b.comparison:
            name, lines, nrev = b.comparison
            self.w("### Compared with the previous run (%s)" % name)
            self.w()
            self.w("A pair that one run ranks strictly a > b and the other "
                   "strictly b > a is *reversed*: noise that the intervals "
                   "did not catch.  Pairs tied in either run are not a "
                   "claim and cannot be reversed.  (`make bench-compare "
                   "A B` prints this for any two results directories.)")
            self.w()
            self.w("```")
            for line in lines:
                self.w(line)
            self.w("```")
            self.w()

    def section_latency(self):
        lat = columns.table("latency")
        self.w("## Latency (%s)" % " / ".join(c.head() for c in lat))
        self.w()
        self.w("Round-trip time of a request, from loadgen's histogram "
               "(at most 1 % bucket error).  A row with errors or sessions "
               "that never got a reply is marked: those requests are not "
               "in the percentiles.")
        self.w()
        labels = table_labels(self.a)
        rows = []
        for t in self.targets():
            r = [label_of(t)]
            for lab in labels:
                j = self.find(t, lab)
                if j is None or "bench" not in j:
                    r.append("-")
                    continue
                run = columns.Run(j)
                r.append(" / ".join(c.cell(run) for c in lat) +
                         served_note(j))
            rows.append(r)
        if self.b.pingpong:
            pl = self.b.pingpong["latency_us"]
            rows.append(["pingpong floor (median run)", " / ".join(
                fmt_us(pl[c.key[:-len("_us")]]) for c in lat)] +
                [""] * (len(labels) - 1))
        self.table(["model"] + labels, rows)
        self.section_errors()

    def section_errors(self):
        self.w("Errors per run (by kind), where any; and runs whose "
               "loadgen or server did not exit 0 (SIGTERM is how the "
               "bench stops a server: a clean stop is exit 0).  "
               "`unanswered` counts requests still waiting for a reply "
               "when the run ended: not errors (a closed loop ends with "
               "up to one per session in flight), but those sent in the warm-up "
               "waited through the whole measured window; every run's "
               "counts are in its JSON and in summary.csv:")
        self.w()
        rows = [error_row(j) for j in self.b.runs if failed(j)]
        if rows:
            self.table(["model", "run", "errors", "loadgen exit",
                        "server exit", "sessions that got a reply",
                        "unanswered at the end (sent in the warm-up)"],
                       rows)
        else:
            self.w("None.")
            self.w()

    def section_cpu_mem(self):
        a, b, top = self.a, self.b, self.top
        self.w("## Server CPU per request and memory per session")
        self.w()
        self.w("CPU: user + sys of the server and of every child it reaped "
               "(wait4 after SIGTERM), divided by the replies it produced "
               "(warm-up included, as its CPU time is), in microseconds.  "
               "Memory: PSS (proportional set size) summed over the server "
               "and its children, sampled once during the %s run, in its "
               "warm-up, as soon as the server's count of processes, "
               "threads and sockets had stopped changing (every session "
               "accepted, with its thread or child); per "
               "session is that total divided by %d, and the marginal "
               "figure subtracts the idle server measured before the load."
               % (top, max(a.sessions)))
        self.w()
        labels = table_labels(a)
        cpu, mem = columns.table("cpu"), columns.table("mem")
        rows = []
        for t in self.targets():
            r = [label_of(t)]
            for lab in labels:
                j = self.find(t, lab)
                r += cells(cpu, j if j and "bench" in j else None)
            j = self.find(t, top)
            r += cells(mem, j if j and j["bench"].get("server_mem")
                       else None)
            rows.append(r)
        self.table(["model"] + [c.head(label=x) for x in labels
                                for c in cpu] +
                   [c.head(top=top) for c in mem], rows)
        self.w(syscount.report(b.out, {
            t: (cpu_per_request(j), not served_note(j, errors=False),
                j["bench"].get("server_cpu_s"))
            for t in self.targets() for j in [self.find(t, "c50")] if j}))
        if b.pingpong:
            self.w("The floor's echo process (median run) used %.1f us of "
                   "CPU per round trip." %
                   b.pingpong["server_cpu_us_per_request"])
            self.w()

    def section_connect(self):
        a = self.a
        self.w("## Connect time")
        self.w()
        self.w("From connect() to the established connection, as loadgen "
               "sees it (the kernel completes the handshake; a full accept "
               "queue shows here as SYN retries of 1 s and more).  "
               "`first reply` is connect() to the first reply: it includes "
               "the wait in the accept queue until the server accepts.")
        self.w()
        cols = columns.table("connect")
        rows = []
        for t in self.targets():
            for lab in ["c%d" % max(a.sessions),
                        "k0-c%d" % a.k0_sessions]:
                j = self.find(t, lab)
                if j and "bench" in j:
                    rows.append([label_of(t), lab] + cells(cols, j))
        self.table(["model", "run"] + [c.head() for c in cols], rows)


def cells(cols, j):
    """One run's cells of these columns; "-" each without a run."""
    if j is None:
        return ["-"] * len(cols)
    run = columns.Run(j)
    return [c.cell(run) for c in cols]


def failed(j):
    """A run with errors, or whose loadgen or server did not exit 0."""
    b = j["bench"]
    srv_bad = b["kind"] != "floor" and b["server_exit"] != 0
    return lg_summary(j)["errors_total"] or b["loadgen_exit"] or srv_bad


def error_row(j):
    s = lg_summary(j)
    b = j["bench"]
    kinds = ", ".join("%s %d" % (k, v) for k, v in s["errors"].items() if v)
    return [label_of(b["target"]), b["label"], kinds or "-",
            b["loadgen_exit"], b["server_exit"],
            "%s of %d" % (s["sessions_replied"], b["sessions"]),
            "%s (%s)" % (s["unanswered"], s["unanswered_warmup"])
            if s["unanswered"] is not None else "-"]
