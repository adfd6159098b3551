#!/usr/bin/env python3
# The bench's one list of figures (bench/socklab_bench/columns.py): the
# glossary committed in results/README.md is the one the list generates
# (make bench-glossary rewrites it); every figure is declared whole; and
# the list computes and prints the figures of a synthetic run, a run whose
# loadgen wrote no JSON, and summary.csv from them.  No server is run.
import csv
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(REPO, "bench"))
from socklab import TAP

from socklab_bench import columns

t = TAP()
TMP = tempfile.mkdtemp(prefix="socklab-columns.")
README = os.path.join(REPO, "results", "README.md")
BENCH = os.path.join(REPO, "bench", "bench.py")

# --- the glossary -------------------------------------------------------
with open(README) as f:
    text = f.read()
try:
    _, have, _ = columns.split_glossary(text)
except ValueError as e:
    have = []
    t.diag(str(e))
want = columns.glossary()
t.is_(have, want, "results/README.md has the glossary columns.py "
      "generates (else: make bench-glossary)")
if have != want:
    for a, b in zip(have + [""] * len(want), want):
        if a != b:
            t.diag("committed: %s\ngenerated: %s" % (a, b))
            break

copy = os.path.join(TMP, "README.md")
with open(copy, "w") as f:
    f.write(text.replace("\n".join(have), "| stale |"))
p = subprocess.run([sys.executable, BENCH, "--glossary", copy],
                   capture_output=True, text=True, timeout=30)
with open(copy) as f:
    t.ok(p.returncode == 0 and f.read() == "\n".join(
        columns.split_glossary(text)[0] + want +
        columns.split_glossary(text)[2]),
         "bench.py --glossary FILE replaces a stale glossary between the "
         "markers and leaves the rest")
with open(copy, "w") as f:
    f.write("no markers here\n")
p = subprocess.run([sys.executable, BENCH, "--glossary", copy],
                   capture_output=True, text=True, timeout=30)
t.ok(p.returncode == 2 and "markers" in p.stderr,
     "a file without the markers: exit 2, saying so")

# --- every figure declared whole ------------------------------------------
keys = [c.key for c in columns.COLUMNS]
t.is_(sorted(k for k in set(keys) if keys.count(k) > 1), [],
      "no key is declared twice")
bad = [c.key for c in columns.COLUMNS
       if not (c.key and c.header and c.meaning and callable(c.get) and
               callable(c.fmt)) or "|" in c.meaning or
       c.table not in (None, "latency", "cpu", "mem", "connect")]
t.is_(bad, [], "every figure has a key, a header, a meaning, a way to "
      "compute it and to print it, and a known table")
t.ok(all(columns.table(n) for n in ("latency", "cpu", "mem", "connect")),
     "every report table that reads the list has figures in it")

# --- a synthetic run ----------------------------------------------------
run = {
    "requests": {"completed": 900, "failed": 0, "warmup_replies": 100},
    "throughput_rps": 1234.5, "measured_s": 0.5,
    "latency_us": {"mean": 40.0, "max": 900.0, "p50": 30.0, "p90": 50.0,
                   "p99": 80.0, "p99_9": 1500.0, "p99_99": 2000.0},
    "connect_us": {"p50": 10.0, "p99": 20.0, "max": 30.0, "count": 10},
    "first_reply_us": {"p50": 40.0, "p99": 50.0, "max": 60.0,
                       "count": 10},
    "errors": {"refused": 0, "total": 0},
    "unanswered": 3, "unanswered_warmup": 1,
    "netstat": {"ListenOverflows": 0},
    "connects": {"syn_retrans": 2},
    "bench": {"target": "thread", "kind": "model", "label": "c10",
              "round": 1, "representative": True, "sessions": 10,
              "keepalive": 1, "request_bytes": 16, "loadgen_exit": 0,
              "workers": None,
              "server_cpu_s": {"total": 0.05},
              "server_mem": {"processes": 1, "threads": 11,
                             "pss_kb": 2048, "rss_kb": 4096},
              "server_mem_idle": {"pss_kb": 1024}},
}
r = columns.Run(run)
got = {c.key: c.csv_value(r) for c in columns.CSV}
t.is_((got["rps"], got["p99.9_us"], got["cpu_us_per_request"],
       got["mem_pss_kb_per_session"], got["workers"],
       got["representative"]), ("1234.500", "1500.000", "50.000",
                                "204.800", "", 1),
      "CSV values: floats with three decimals, empty for none, "
      "CPU per reply warm-up included, PSS per session")
cells = {c.key: c.cell(r) for c in columns.COLUMNS}
t.is_([cells[k] for k in ("rps", "p99.9_us", "mem_pss_kb",
                          "mem_marginal_kb_per_session",
                          "mem_procs_threads", "syn_retrans")],
      ["1,234", "1.50 ms", "2.0 MiB", "102.4", "1 / 11", "2"],
      "report cells: each figure printed its own way")
lost = {"error": "no JSON from loadgen", "bench": dict(
    run["bench"], server_mem=None, server_cpu_s=None)}
r = columns.Run(lost)
t.ok(all(c.cell(r) is not None for c in columns.COLUMNS) and
     columns.Run(lost).s["rps"] == 0.0 and
     [c.cell(r) for c in columns.table("mem")] == ["-"] * len(
         columns.table("mem")),
     "a run without loadgen's JSON or a memory sample still has every "
     "cell, '-' where nothing was measured")
path = os.path.join(TMP, "summary.csv")
columns.write_csv(path, [run, lost])
with open(path) as f:
    rows = list(csv.reader(f))
t.ok(rows and rows[0] == [c.key for c in columns.CSV] and len(rows) == 3
     and all(len(x) == len(rows[0]) for x in rows),
     "summary.csv: the CSV figures as its header, a full row per run")

shutil.rmtree(TMP, ignore_errors=True)
t.done()
