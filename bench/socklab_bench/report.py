"""report.md's frame (the workload paragraph, the models,
the notes, the machine, the plots, the files); the tables are in
tables.py, the headline and hyperfine in headline.py."""

import datetime
import os
import platform
import socket
import subprocess

import rank
import uringratio

from . import pin
from .conf import (LINE_BYTES, MAX_POOL, REDIS_REQUEST, REDIS_REQUEST_BYTES,
                   REPO, warmup_for)
from .digest import lg_summary
from .headline import Headline
from .models import model_descriptions, ncpu
from .tables import Tables


class Report(Tables, Headline):
    """report.md of one bench: text() is the whole of it."""

    def __init__(self, bench, elapsed):
        self.b = bench
        self.a = bench.a
        self.elapsed = elapsed
        self.top = "c%d" % max(self.a.sessions)   # the top load
        self.L = []

    def w(self, s=""):
        self.L.append(s)

    def table(self, head, rows):
        self.w("| " + " | ".join(head) + " |")
        self.w("|" + "|".join("---:" if i else "---"
                              for i in range(len(head))) + "|")
        for r in rows:
            self.w("| " + " | ".join(str(x) for x in r) + " |")
        self.w()

    def rps(self, target, label):
        j = self.find(target, label)
        return lg_summary(j)["rps"] if j else None

    def redis_c50(self):
        """redis-server's 50-session throughput: the mean of its runs
        before and after the models' (whichever exist)."""
        v = [x for x in (self.rps("redis", "c50"),
                         self.rps("redis", "c50-end")) if x]
        return sum(v) / len(v) if v else None

    def find(self, target, label):
        for j in self.b.runs:
            if j["bench"]["target"] == target and \
                    j["bench"]["label"] == label:
                return j
        return None

    def targets(self):
        return self.b.models + list(self.b.externals) + (
            ["redis"] if self.b.redis else [])

    def text(self):
        self.section_intro()
        for section in (self.section_machine, self.section_targets,
                        self.section_throughput, self.section_uringratio,
                        self.section_ranking,
                        self.section_bulk, self.section_latency,
                        self.section_cpu_mem, self.section_connect,
                        self.section_hyperfine, self.section_plots,
                        self.section_files):
            section()
        return "\n".join(self.L) + "\n"

    def section_intro(self):
        """The title, the workload, the models, the run's notes."""
        a = self.a
        b = self.b
        date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        self.w("# socklab bench: %s on %s" % (date, socket.gethostname()))
        self.w()
        self.w("Made by `bench/bench.py %s` (`make bench%s`) in %.0f s.  "
               "How to read every table and plot: "
               "[results/README.md](../README.md)." % (
                   " ".join(a.argv), " QUICK=1" if a.quick else "",
                   self.elapsed))
        self.w()
        self.w("Workload: closed loop, each session sends a %d-byte line and "
               "waits for its upper-cased reply before the next; %g s "
               "measured after a warm-up of %g s plus 1.2 s per thousand "
               "sessions (so %g s at %d) per run, every run repeated "
               "in %d to %d rounds, the models interleaved in each (the "
               "tables show the median and an interval over the rounds); "
               "a fresh server per "
               "run (`--quiet --backlog 4096`), started on an ephemeral "
               "port of 127.0.0.1; loadgen with `-t %d` (at most one thread "
               "per session), `--timeout %g`.  Sessions open all at once "
               "(a burst against the backlog).  `k0` rows open a new "
               "connection per request (`-k 0`) from %d concurrent "
               "clients.  redis-server (a reference, not a socklab model) "
               "gets the inline request `%s` (%d bytes, padded with spaces "
               "to the same size as socklab's lines; its reply `+PONG\\r\\n` "
               "is 7 bytes against socklab's 16), without reply "
               "verification.  %s" % (
                   LINE_BYTES, a.duration, a.warmup,
                   warmup_for(a, max(a.sessions)), max(a.sessions),
                   a.rounds, a.max_rounds, a.threads,
                   a.timeout,
                   a.k0_sessions, REDIS_REQUEST, REDIS_REQUEST_BYTES,
                   self.pool_sentence()))
        self.w()
        desc = model_descriptions(b.bindir)
        self.w("Models: " + "; ".join(
            "`%s` (%s%s)" % (m, desc.get(m, "?"),
                             "; a pool" if m in b.pools else "")
            for m in b.models) + ".")
        self.w()
        if b.notes:
            self.w("**Notes from this run:**")
            self.w()
            for n in b.notes:
                self.w("- " + n)
            self.w()

    def pool_sentence(self):
        """How the pooled models were sized, for the workload paragraph."""
        a = self.a
        pools = [m for m in self.b.models if m in self.b.pools]
        if a.workers:
            return ("Every run passes `--workers %d` to the pooled models%s."
                    % (a.workers, " (%s)" % ", ".join(
                        "`%s`" % m for m in pools) if pools else ""))
        if not pools:
            return ""
        return ("The pooled models (%s: `[pool]` in `bin/server "
                "--list-models`) serve at most `--workers` sessions at "
                "once, so, as UNP ch. 30 sizes a pool to its load, their "
                "persistent-session runs (`c1` .. `c%d`, and the hyperfine "
                "workload) get `--workers` = max(CPUs, sessions), at most "
                "%d: one worker per session; their `k0` run keeps the "
                "default, one worker per CPU (%d here), the workload a "
                "pool is made for." % (
                    ", ".join("`%s`" % m for m in pools),
                    max(a.sessions), MAX_POOL, ncpu()))

    def section_machine(self):
        self.w("## Machine")
        self.w()
        rows = machine()
        la = getattr(self.b, "loadavg", None)
        if la:
            rows.append(("load average (1, 5, 15 min), start / end",
                         " / ".join(la)))
        self.table(["what", "value"], rows)
        self.w("The load average counts everything on the machine: above "
               "about 1 at the start, other jobs were running and every "
               "figure is noisier.")
        self.w()


    def ci_method(self):
        n = sorted(set(self.b.rounds_of.values()))
        return ("the distribution-free interval of the median by order "
                "statistics, [x(k), x(n+1-k)] of the n sorted rounds with "
                "coverage >= %d %%, or the slowest to the fastest round when "
                "n is too small for that: %s" % (
                    round(rank.COVERAGE * 100), "; ".join(
                        "%d rounds: %s, coverage %.0f %%" % (
                            x, "min-max" if rank.order_k(x) == 1 else
                            "k = %d" % rank.order_k(x),
                            100 * rank.coverage_of(x)) for x in n)))


    def section_uringratio(self):
        self.w(uringratio.report(self.b.out, self.b.models))

    def section_plots(self):
        self.w("## Plots")
        self.w()
        self.w("![throughput against sessions](throughput.svg)")
        self.w()
        for lab in self.b.plot_labels:
            self.w("![latency percentiles, %s](latency-%s.svg)" % (lab, lab))
            self.w()
        self.w("![connect-time distribution](connect.svg)")
        self.w()

    def section_files(self):
        self.w("## Files")
        self.w()
        self.w("`runs/MODEL-RUN-rN.json`: loadgen's JSON for each run and "
               "round, with a `bench` object merged in (server and loadgen "
               "commands, server CPU and memory, exit statuses, the floors "
               "a `c1` run was compared with, and, in the median round, "
               "every round's throughput); `ranking.csv`: the ranking "
               "with ties, one row per load and model; "
               "`runs/pingpong-N.json` and "
               "`runs/pingpong-server-c1-N-rK.json`: the floor runs; "
               "`summary.csv`: one row per run and round; `syscalls.csv`: "
               "the system call counting runs; `uringratio.csv`: the "
               "io_uring / epoll runs; `plotdata/`: the "
               "numbers behind the plots; `logs/`: server stderr, kept "
               "only when not empty.")
        self.w()


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        out = (r.stdout or r.stderr).strip().splitlines()
        return out[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "not installed"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1048576)
    except (OSError, ValueError):
        pass
    cc = os.environ.get("CC") or "cc"
    git = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    return [
        ("host", socket.gethostname()),
        ("CPU", cpu),
        ("cores online", str(os.cpu_count())),
        ("memory", mem),
        ("kernel", platform.release()),
        ("system", distro),
        ("compiler (%s)" % cc, first_line([cc, "--version"])),
        ("python", platform.python_version()),
        ("redis-server", first_line(["redis-server", "--version"])),
        ("hyperfine", first_line(["hyperfine", "--version"])),
        ("gnuplot", first_line(["gnuplot", "--version"])),
        ("socklab", git),
        ("pinning", pin.pin_text() + (" in every loadgen run; the "
                                          "pingpong floor and hyperfine "
                                          "unpinned" if pin.PIN else "")),
    ]


