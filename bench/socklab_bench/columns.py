"""The one list of figures a run yields.  Each is declared once, as a
Col: its key (the summary.csv column), its header in the report, its
unit, how it is computed from one run, how the report prints it, and one
line of what it means.  That declaration makes the CSV column (csv), the
report tables that show it (table: "latency", "cpu", "mem", "connect"),
the glossary in results/README.md (bench/bench.py --glossary) and what
tests/bench.t checks.  Adding a figure is one Col here, then
`make bench-glossary`."""

import csv

from .digest import (cpu_per_request, lg_summary, mem_marginal,
                     mem_per_session)
from .fmt import fmt_kib, fmt_num, fmt_us


class Run:
    """One run's JSON as the columns read it: j, its bench object b, the
    loadgen digest s and the server's memory sample m."""

    def __init__(self, j):
        self.j = j
        self.b = j["bench"]
        self.s = lg_summary(j)
        self.m = self.b.get("server_mem") or {}


class Col:
    def __init__(self, key, header, unit, get, fmt, meaning, csv=True,
                 table=None):
        self.key, self.header, self.unit = key, header, unit
        self.get, self.fmt, self.meaning = get, fmt, meaning
        self.csv, self.table = csv, table

    def head(self, **where):
        """The header, with {top} or {label} filled in."""
        return self.header.format(**where)

    def cell(self, run):
        v = self.get(run)
        return "-" if v is None else self.fmt(v)

    def csv_value(self, run):
        v = self.get(run)
        if isinstance(v, float):
            return "%.3f" % v
        return "" if v is None else v


def f1(x):
    return "%.1f" % x


def mib(kb):
    return "%.1f MiB" % (kb / 1024)


def bench(key, header, meaning, unit=""):
    """A figure the driver recorded in the run's bench object."""
    return Col(key, header, unit, lambda r: r.b.get(key), str, meaning)


def lg(key, header, unit, fmt, meaning, csv=True, table=None, name=None):
    """A figure of loadgen's digest (digest.lg_summary)."""
    return Col(key, header, unit, lambda r: r.s[name or key], fmt, meaning,
               csv=csv, table=table)


def pct(p):
    return lg(p + "_us", p, "µs", fmt_us,
              "%s latency: a request's round trip, from loadgen's "
              "histogram (upper edge of its bucket)" % p,
              table="latency" if p in ("p50", "p99", "p99.9") else None)


def con(which, p, head, meaning, csv=True):
    return Col("%s_%s_us" % (which, p), head, "µs",
               lambda r: r.s[which].get(p), fmt_us, meaning, csv=csv,
               table="connect")


def tree(r):
    m = r.m
    return "%d / %d" % (m["processes"], m["threads"]) if m else None


COLUMNS = [
    bench("target", "model",
          "the model, external server or reference measured"),
    bench("kind", "kind", "model, redis, external, connect or floor"),
    bench("label", "run", "the load: cN persistent sessions, k0-cN a "
          "connection per request, bulk-SIZE big lines"),
    bench("round", "round", "which round of the load this run was"),
    Col("representative", "representative", "",
        lambda r: int(bool(r.b.get("representative"))), str,
        "1 for the round with the median throughput, the one the tables "
        "and plots show"),
    bench("sessions", "sessions",
          "concurrent sessions (or clients, for k0) loadgen opened"),
    bench("keepalive", "keepalive",
          "1 for persistent sessions, 0 for a connection per request"),
    bench("request_bytes", "request bytes",
          "bytes of one request line, newline included", unit="B"),
    lg("completed", "completed", "", str,
       "requests answered in the measured window"),
    lg("errors", "errors", "", str,
       "requests that failed, every kind together", name="errors_total"),
    lg("rps", "req/s", "1/s", fmt_num, "throughput: right replies "
       "received in the measured window, over its length"),
    lg("mean_us", "mean", "µs", fmt_us, "mean round trip of a request"),
] + [pct(p) for p in ("p50", "p90", "p99", "p99.9", "p99.99")] + [
    lg("max_us", "max", "µs", fmt_us, "the slowest round trip"),
    con("connect", "p50", "connect p50",
        "median time from connect() to the established connection"),
    con("connect", "p99", "p99", "p99 of the connect time"),
    con("connect", "max", "max", "the slowest connect"),
    lg("sessions_replied", "sessions served", "", str,
       "sessions that got at least one reply"),
    Col("server_cpu_s", "server CPU", "s",
        lambda r: (r.b.get("server_cpu_s") or {}).get("total"), f1,
        "user + sys CPU of the server and every child it reaped (wait4)"),
    Col("cpu_us_per_request", "cpu us/req {label}", "µs",
        lambda r: cpu_per_request(r.j), f1,
        "server CPU over the replies it produced, warm-up included",
        table="cpu"),
    Col("mem_procs_threads", "procs / threads at {top}", "",
        tree, str, "processes and threads of the server's tree in the "
        "memory sample", csv=False, table="mem"),
    Col("mem_pss_kb", "PSS at {top}", "KiB", lambda r: r.m.get("pss_kb"),
        mib, "PSS summed over the server and its descendants, sampled "
        "once under load at the top concurrency", table="mem"),
    Col("mem_rss_kb", "RSS at {top}", "KiB", lambda r: r.m.get("rss_kb"),
        fmt_num, "RSS summed over the same processes (counts shared pages "
        "once per process)"),
    Col("mem_pss_kb_per_session", "KiB/session", "KiB",
        lambda r: mem_per_session(r.j), f1,
        "that PSS divided by the sessions", table="mem"),
    Col("mem_marginal_kb_per_session", "marginal KiB/session", "KiB",
        lambda r: mem_marginal(r.j), fmt_kib,
        "PSS less the idle server's, divided by the sessions: what one "
        "more session costs", csv=False, table="mem"),
    con("first_reply", "p50", "first reply p50",
        "median time from connect() to the first reply, the wait in the "
        "accept queue included", csv=False),
    con("first_reply", "p99", "p99",
        "p99 of the time to the first reply", csv=False),
    con("first_reply", "max", "max",
        "the longest wait for a first reply", csv=False),
    lg("syn_retrans", "SYN retried", "", str, "connects whose SYN the "
       "kernel sent again (a full accept queue)", csv=False,
       table="connect"),
    lg("listen_overflows", "ListenOverflows", "", str, "the kernel's "
       "count of accept-queue overflows during the run (whole network "
       "namespace)", table="connect"),
    bench("loadgen_exit", "loadgen exit", "loadgen's exit status (1: a "
          "stalled session or nothing completed)"),
    lg("unanswered", "unanswered", "", str, "requests still waiting for "
       "a reply when the window closed (not errors)"),
    lg("unanswered_warmup", "unanswered (warm-up)", "", str,
       "of those, the ones due during the warm-up"),
    bench("workers", "workers",
          "--workers passed to the server; empty for its default"),
]

CSV = [c for c in COLUMNS if c.csv]


def table(name):
    """The columns a report table shows, in order."""
    return [c for c in COLUMNS if c.table == name]


def write_csv(path, runs):
    """summary.csv: a row per run and round, a column per CSV figure."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([c.key for c in CSV])
        for j in runs:
            r = Run(j)
            w.writerow([c.csv_value(r) for c in CSV])


# --- the glossary in results/README.md ---------------------------------
BEGIN = "<!-- columns: bench/bench.py --glossary (make bench-glossary) -->"
END = "<!-- end of columns -->"


def glossary():
    """The markdown table of every figure, as results/README.md has it."""
    lines = ["| column | in the report | unit | in | meaning |",
             "|---|---|---|---|---|"]
    for c in COLUMNS:
        where = (["summary.csv"] if c.csv else []) + (
            ["report: %s" % c.table] if c.table else [])
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            c.key, c.head(top="cN", label="LOAD"), c.unit or "-",
            ", ".join(where), c.meaning))
    return lines


def split_glossary(text):
    """(before, the glossary lines, after) of a file with the markers."""
    lines = text.split("\n")
    if lines.count(BEGIN) != 1 or lines.count(END) != 1 or \
            lines.index(END) < lines.index(BEGIN):
        raise ValueError("needs one pair of column markers: %s" % BEGIN)
    a, b = lines.index(BEGIN) + 1, lines.index(END)
    return lines[:a], lines[a:b], lines[b:]


def update_glossary(path):
    with open(path) as f:
        before, _, after = split_glossary(f.read())
    with open(path, "w") as f:
        f.write("\n".join(before + glossary() + after))
