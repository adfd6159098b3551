#!/usr/bin/env python3
# make bench, smoke-run: bin/pingpong on its own, then bench/bench.py with
# quick settings on two models into a temporary results directory, and the
# files it must leave (JSON per run, summary.csv, report.md, SVG plots,
# hyperfine export, results/latest.md) checked for their fields.  Last,
# Ctrl-C in the middle of a run must leave no server or loadgen behind.
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(REPO, "bench"))
from socklab import TAP, bin, have, run, start_server

from socklab_bench import columns  # the one list of figures

t = TAP()
for prog in ("server", "loadgen", "pingpong"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))
BENCH = os.path.join(REPO, "bench", "bench.py")
BINDIR = os.path.dirname(bin("server"))
TMP = tempfile.mkdtemp(prefix="socklab-bench.")


def alive(pid, exe):
    """pid runs exe (a recycled pid running something else does not
    count)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and os.path.basename(argv0) == exe


def in_group(pgid):
    """Processes whose process group is pgid."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(d))
    return found


def children(pid):
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                head, rest = f.read().rsplit(")", 1)
            if int(rest.split()[1]) == pid:
                out[int(d)] = head.split("(", 1)[1]
        except (OSError, ValueError, IndexError):
            continue
    return out


# --- bin/pingpong ---------------------------------------------------------
st, out, err, _ = run([bin("pingpong"), "-n", "2000", "--warmup", "100",
                       "--json", "-"], timeout=30)
t.is_(st, 0, "pingpong -n 2000 exits 0")
try:
    pp = json.loads(out)
except ValueError:
    pp = {}
t.is_(pp.get("requests"), 2000, "pingpong times 2000 round trips")
lat = pp.get("latency_us", {})
t.ok(0 < lat.get("min", 0) <= lat.get("p50", 0) <= lat.get("p99", 0)
     <= lat.get("max", 0), "pingpong percentiles are ordered: %s" % lat)
t.ok(pp.get("rps", 0) > 0 and pp.get("server_cpu_s", {}).get("total", 0) > 0,
     "pingpong reports round trips/s and the echo process's CPU time")
t.is_(pp.get("server_round_trips"), 2100,
      "the echo server's CPU covers timed + warm-up round trips")
t.ok(b"round trips/s" in err, "with --json -, the summary goes to stderr")
st, _, err, _ = run([bin("pingpong"), "-s", "1"], timeout=10)
t.is_(st, 2, "pingpong -s 1 (no room for a line) is a usage error")

# --- the driver, quick, two models -------------------------------------------
models = subprocess.run([bin("server"), "--list-models"], capture_output=True,
                        text=True).stdout.split("\n")
models = [m.split()[0] for m in models if m.strip()]
pick = [m for m in ("iterative", "thread") if m in models]
if len(pick) < 2:
    t.bail("bin/server --list-models lacks iterative or thread")
out_dir = os.path.join(TMP, "results", "run")
labels = ["c1", "c10", "c50", "k0-c10"]
ROUNDS = 2
# A previous run beside it whose ranking says the opposite of the truth at
# c10 (iterative serves one of the ten sessions, thread all): the bench must
# compare with it and find the pair reversed.
old_dir = os.path.join(TMP, "results", "old")
os.makedirs(old_dir)
with open(os.path.join(old_dir, "ranking.csv"), "w") as f:
    f.write("load,model,rank,low,median,high\n"
            "c10,iterative,1,1e9,1e9,1e9\nc10,thread,2,1,1,1\n")
# Bad external servers are refused before anything runs.
for bad_arg, why in ((["--server-cmd", "python3 x.py"], "{port}"),
                     (["--connect", "localhost"], "HOST:PORT")):
    p = subprocess.run([sys.executable, BENCH, "--bin", BINDIR] + bad_arg,
                       capture_output=True, text=True, timeout=30)
    t.ok(p.returncode == 2 and why in p.stderr,
         "bench.py %s: usage error naming %s" % (" ".join(bad_arg), why))
# A server already running, measured as an extra row (--connect); the
# lab's Python thread server is a row of its own by default.
ext = start_server(["server", "--model", "epoll", "--port", "0", "--quiet"])
conn = "127.0.0.1:%d" % ext.port
cmd = [sys.executable, BENCH, "--quick", "--bin", BINDIR, "--out", out_dir,
       "--models", ",".join(pick), "--sessions", "1,10", "-d", "0.25",
       "--warmup", "0.1", "--rounds", str(ROUNDS), "--hf-requests", "400",
       "--hf-runs", "2", "--bulk", "16k", "--connect", conn]
t0 = time.monotonic()
p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
t.is_(p.returncode, 0, "bench.py --quick on %s exits 0" % ",".join(pick))
if p.returncode != 0:
    t.diag(p.stdout[-2000:] + p.stderr[-2000:])
t.ok(ext.proc.poll() is None, "the server given by --connect is left "
     "running")
ext.stop()
progress = [l for l in p.stdout.splitlines() if re.match(r"\[\s*\d+/\d+\]", l)]
redis = shutil.which("redis-server") is not None
iperf3 = shutil.which("iperf3") is not None
extra = ["lab-thread", conn]
ranked = pick + extra
targets = pick + (["redis"] if redis else [])
nfloor = len(targets) + len(extra) + 1
t.is_(len(progress), ROUNDS * (2 * nfloor + (len(targets) + len(extra)) *
                               len(labels) + (1 if redis else 0) +
                               len(ranked) + (1 if iperf3 else 0)),
      "one progress line per run, per floor run (pair and --serve), "
      "redis's second c50 run, each bulk run and iperf3's, in each of %d "
      "rounds" % ROUNDS)
floors = sorted(f for f in os.listdir(os.path.join(out_dir, "runs"))
                if re.match(r"pingpong-\d+\.json$", f)) if os.path.isdir(
                    os.path.join(out_dir, "runs")) else []
t.is_(len(floors), ROUNDS * nfloor, "a floor run before each target's c1 "
      "run and one after the last, in each round")
t.diag("bench.py took %.1f s" % (time.monotonic() - t0))

runs = {}            # (target, run) -> the representative round's JSON
rounds_ok = []
for tg in targets:
    for lab in labels:
        js = []
        for r in range(1, ROUNDS + 1):
            path = os.path.join(out_dir, "runs", "%s-%s-r%d.json" %
                                (tg, lab, r))
            try:
                with open(path) as f:
                    js.append(json.load(f))
            except (OSError, ValueError):
                pass
        reps = [j for j in js if j.get("bench", {}).get("representative")]
        if len(reps) == 1:
            runs[(tg, lab)] = reps[0]
            rr = reps[0]["bench"].get("rounds", {}).get("rps", [])
            # With two rounds the median is the slower one.
            rounds_ok.append(len(js) == ROUNDS and len(rr) == ROUNDS and
                             reps[0]["throughput_rps"] == min(rr))
t.is_(len(runs), len(targets) * len(labels),
      "a JSON file per model, run and round, one marked representative "
      "(%d)" % (len(targets) * len(labels)))
t.ok(rounds_ok and all(rounds_ok), "the representative is the median "
     "round, and carries every round's throughput")

bad = []
for (tg, lab), j in sorted(runs.items()):
    b = j.get("bench", {})
    why = []
    if not j.get("throughput_rps", 0) > 0:
        why.append("throughput")
    if not j.get("latency_us", {}).get("p50", 0) > 0:
        why.append("p50")
    if not j.get("latency_us", {}).get("buckets"):
        why.append("histogram")
    if not j.get("connect_us", {}).get("count", 0) > 0:
        why.append("connect times")
    if not (b.get("server_cpu_s") or {}).get("total", 0) > 0:
        why.append("server cpu")
    if b.get("server_exit") != 0:
        why.append("server exit %s" % b.get("server_exit"))
    if b.get("sessions") != (10 if lab in ("c10", "k0-c10") else
                             int(lab[1:]) if lab[1:].isdigit() else None):
        why.append("sessions %s" % b.get("sessions"))
    if why:
        bad.append("%s-%s: %s" % (tg, lab, ", ".join(why)))
t.ok(not bad, "every run has throughput, latency histogram, connect "
     "times, server CPU and a clean server exit" + (": " + "; ".join(bad)
                                                   if bad else ""))

fl = [runs.get((m, "c1"), {}).get("bench", {}).get("floor") for m in pick]
t.ok(all(f and f["p50_us"] > 0 and len(f["files"]) == 2 and
         f.get("loadgen_p50_us", 0) > 0 and len(f["loadgen_files"]) == 2
         for f in fl),
     "each model's c1 run carries the means of the two floors (pair and "
     "loadgen against pingpong --serve) around it")
top = runs.get(("thread", "c10"), {}).get("bench", {}).get("server_mem") or {}
t.ok(top.get("pss_kb", 0) > 0 and top.get("threads", 0) >= 1 and
     "settled" in top, "memory sampled while the load was on at the top "
     "concurrency (%s)" % top)
it = runs.get(("iterative", "c10"), {})
th = runs.get(("thread", "c10"), {})
t.is_(it.get("first_reply_us", {}).get("count"), 1,
      "iterative at 10 sessions answers only one of them")
t.is_(th.get("first_reply_us", {}).get("count"), 10,
      "thread at 10 sessions answers all ten")


def cpu_per_req(j):
    n = j["requests"]["completed"] + j["requests"]["warmup_replies"]
    return j["bench"]["server_cpu_s"]["total"] / n


try:
    k0 = cpu_per_req(runs[("thread", "k0-c10")])
    # Compared at the same concurrency: at one session most of the
    # server's CPU per request is waking up (35-49 us measured here, as
    # much as -k 0's 50-65 us), which hides the price of a connection.
    c10 = cpu_per_req(runs[("thread", "c10")])
    t.ok(k0 > 1.5 * c10, "thread: CPU per request with a connection per "
         "request (%.1f us) well above a persistent session's at the same "
         "concurrency (%.1f us)" % (k0 * 1e6, c10 * 1e6))
except (KeyError, ZeroDivisionError, TypeError):
    t.ok(False, "thread CPU per request figures present")

left = [(k, r["bench"]["server_pid"]) for k, r in runs.items()
        if alive(r["bench"].get("server_pid", 0),
                 "redis-server" if k[0] == "redis" else "server")]
t.ok(not left, "every server the bench started is gone %s" % (left or ""))

# summary.csv
try:
    with open(os.path.join(out_dir, "summary.csv")) as f:
        rows = list(csv.DictReader(f))
except OSError:
    rows = []
t.is_(len(rows), ROUNDS * (len(runs) + len(extra) * (len(labels) + 1) +
                           len(pick) + nfloor + (1 if redis else 0)),
      "summary.csv has a row per loadgen run")
need = [c.key for c in columns.CSV]
t.ok(rows and list(rows[0]) == need,
     "summary.csv's header is the CSV figures of columns.py, in order (%d)"
     % len(need))
t.ok(rows and all(r["target"] and r["label"] and r["rps"] for r in rows),
     "every row names its target and load and has a throughput")
rep_rows = [r for r in rows if r["target"] == "thread" and
            r["label"] == "c10" and r["representative"] == "1"]
jt = runs.get(("thread", "c10"))
want = [str(c.csv_value(columns.Run(jt))) for c in columns.CSV] if jt else []
t.ok(len(rep_rows) == 1 and list(rep_rows[0].values()) == want and
     rep_rows[0]["mem_pss_kb"] and rep_rows[0]["cpu_us_per_request"],
     "thread's c10 row holds each figure as columns.py computes it from "
     "the run's JSON, memory and CPU included")

# ranking.csv: a row per ranked load and model; ties share a rank.
try:
    with open(os.path.join(out_dir, "ranking.csv")) as f:
        rk = list(csv.DictReader(f))
except OSError:
    rk = []
t.is_(sorted((r["load"], r["model"]) for r in rk),
      sorted((lab, m) for lab in labels + ["bulk-16k"] for m in ranked),
      "ranking.csv ranks every model and external server at every load, "
      "bulk included (redis is a reference)")
t.ok(rk and all(float(r["low"]) <= float(r["median"]) <= float(r["high"])
                for r in rk), "low <= median <= high in every row")
ranks = {(r["load"], r["model"]): int(r["rank"]) for r in rk}
ivs = {(r["load"], r["model"]): tuple(float(r[c]) for c in
                                      ("low", "median", "high")) for r in rk}
th, it = ivs.get(("c10", "thread")), ivs.get(("c10", "iterative"))
# Two rounds on a shared machine may not separate them: a tie is allowed,
# an order the other way is not.
t.ok(th and it and th[1] > it[1] and
     ranks[("c10", "thread")] <= ranks[("c10", "iterative")] and
     (ranks[("c10", "thread")] < ranks[("c10", "iterative")]) ==
     (th[0] > it[2]),
     "c10: thread (all ten sessions served) ranks above iterative (one) "
     "or ties with it, strictly exactly when the intervals part: %s %s"
     % (th, it))


def run_json(tg, lab, r=1):
    try:
        with open(os.path.join(out_dir, "runs", "%s-%s-r%d.json" %
                               (tg, lab, r))) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


lt = run_json("lab-thread", "c10")
t.ok(lt.get("first_reply_us", {}).get("count") == 10 and
     (lt.get("bench", {}).get("server_cpu_s") or {}).get("total", 0) > 0,
     "the lab's Python thread server served all ten sessions, its CPU "
     "measured")
cj = run_json(conn, "c10")
t.ok(cj.get("throughput_rps", 0) > 0 and
     cj.get("bench", {}).get("kind") == "connect" and
     cj["bench"].get("server_cpu_s") is None,
     "the --connect server was measured, without CPU figures")
bj = run_json("thread", "bulk-16k")
t.ok(bj.get("throughput_rps", 0) > 0 and
     bj.get("bench", {}).get("request_bytes") == 16384 and
     "-P" in bj["bench"].get("loadgen_cmd", []),
     "bulk-16k: one session of pipelined 16 KiB lines")

# report.md
try:
    with open(os.path.join(out_dir, "report.md")) as f:
        rep = f.read()
except OSError:
    rep = ""
lat = columns.table("latency")
for sec in ("## Machine", "## Headline", "## Throughput",
            "## Latency (%s)" % " / ".join(c.head() for c in lat),
            "## Server CPU per request and memory per session",
            "## Connect time", "## The whole fixed workload, timed by "
            "hyperfine", "## Plots"):
    t.ok(sec in rep, "report.md has '%s'" % sec)


def head_row(*cells):
    return "| " + " | ".join(cells) + " |"


heads = {
    "connect": head_row("model", "run", *(c.head() for c in
                                          columns.table("connect"))),
    "cpu and mem": head_row("model", *([c.head(label=x) for x in labels
                                        for c in columns.table("cpu")] +
                                       [c.head(top="c10") for c in
                                        columns.table("mem")])),
}
for name, h in heads.items():
    t.ok(h in rep, "report.md's %s table has the columns.py headers: %s"
         % (name, h))
row = re.search(r"\n\| c10 \| (1\. [^|]*) \|", rep)
# "1. a, b (within noise); 3. c": {rank: ([models], within noise?)}
groups = {}
for g in (row.group(1).split("; ") if row else []):
    n, _, ms = g.partition(". ")
    noise = ms.endswith(" (within noise)")
    groups[int(n)] = (ms.replace(" (within noise)", "").split(", "), noise)
want = {}
for m in ranked:
    want.setdefault(ranks.get(("c10", m)), []).append(m)
t.ok("## Ranking, with ties" in rep and groups and
     {n: sorted(ms) for n, (ms, _) in groups.items()} ==
     {n: sorted(ms) for n, ms in want.items()} and
     all(noise == (len(ms) > 1) for ms, noise in groups.values()),
     "report.md ranks the models at c10 as ranking.csv does, "
     "\"within noise\" exactly where models share a rank: %s" %
     (row.group(1) if row else None))
t.ok("## Bulk: bytes/s of big lines upper-cased" in rep and
     ("| iperf3 loopback ceiling (reference) |" in rep if iperf3 else
      "iperf3 is not installed" in rep),
     "report.md has the bulk table, iperf3's ceiling as its reference")
strict = th and it and th[0] > it[2]
t.ok("Compared with the previous run (" in rep and
     "iterative > thread in B" not in rep and
     bool(re.search(r"c10 .* thread > iterative in B", rep)) == bool(strict)
     and ("1 of 1 pairs strictly reversed" if strict else
          "0 of 1 pairs strictly reversed") in rep,
     "report.md compares with the previous run beside it (iterative "
     "strictly first at c10) and finds the pair reversed exactly when this "
     "run ranks thread strictly first (%s)" % bool(strict))
t.ok("1 of 10 sessions served" in rep,
     "report.md says the iterative model served 1 of 10 sessions")
t.ok(re.search(r"\| CPU \| .+ \|", rep) and "| kernel |" in rep and
     "| compiler" in rep, "report.md describes the machine")
t.ok("p50 / floor" in rep and re.search(r"\| thread \| [\d.]+ us \| [\d.]+ \|",
                                        rep),
     "report.md has each model's ratio to the ping-pong floor")
if redis:
    t.ok(re.search(r"c50 / redis", rep) and
         re.search(r"\| thread \|(?: [^|]+ \|){5} [\d.]+ \|", rep),
         "report.md has each model's ratio to redis-server at 50 sessions")
    t.ok("PING" in rep and "16 bytes" in rep,
         "report.md states the redis request and its size")
else:
    t.ok("redis-server is not installed" in rep,
         "report.md says redis-server is missing")

# hyperfine
if shutil.which("hyperfine"):
    try:
        with open(os.path.join(out_dir, "hyperfine.json")) as f:
            hf = json.load(f)
        names = [r["command"] for r in hf["results"]]
        codes = [c for r in hf["results"] for c in r.get("exit_codes", [])]
    except (OSError, ValueError, KeyError):
        names, codes = [], [1]
    t.is_(names, pick, "hyperfine.json has one result per model")
    t.ok(codes and not any(codes), "every hyperfine run exited 0")
    t.ok(os.path.exists(os.path.join(out_dir, "hyperfine.md")) and
         "| `thread` |" in rep, "hyperfine.md exported, its table in the report")
else:
    t.ok("hyperfine is not installed" in rep,
         "report.md says hyperfine is missing")

# plots
if shutil.which("gnuplot"):
    svgs = ["throughput.svg", "connect.svg"] + \
        ["latency-%s.svg" % lab for lab in labels]
    bad = []
    for s in svgs:
        try:
            root = ET.parse(os.path.join(out_dir, s)).getroot()
            if not root.tag.endswith("svg") or \
                    len(root.findall(".//{http://www.w3.org/2000/svg}path")) < 5:
                bad.append(s + ": no curves")
        except (OSError, ET.ParseError) as e:
            bad.append("%s: %s" % (s, e))
        if "](%s)" % s not in rep:
            bad.append(s + ": not linked from report.md")
    t.ok(not bad, "%d SVG plots parse, have curves and are linked%s" % (
        len(svgs), ": " + "; ".join(bad) if bad else ""))
else:
    t.skip("SVG plots", "gnuplot is not installed")

# results/latest.md: the same report, links pointing into the run's dir.
latest = os.path.join(TMP, "results", "latest.md")
try:
    with open(latest) as f:
        lt = f.read()
except OSError:
    lt = ""
links = [l for l in re.findall(r"\]\(([^)#:]+)\)", lt) if l != "README.md"]
plots = [l for l in links if l.endswith(".svg")]
files = [l for l in links if l not in plots]
missing = [l for l in files if not os.path.exists(os.path.join(TMP, "results", l))]
t.ok(lt and files and not missing,
     "latest.md's %d links to files resolve from results/ %s" % (len(files),
                                                                 missing or ""))
# The plots are drawn by gnuplot: without it the report still links them.
if shutil.which("gnuplot"):
    missing = [l for l in plots if not os.path.exists(os.path.join(TMP, "results", l))]
    t.ok(plots and not missing, "latest.md's %d plot links resolve from "
         "results/ %s" % (len(plots), missing or ""))
else:
    t.skip("latest.md's plot links resolve", "gnuplot is not installed")

# --- Ctrl-C stops everything ------------------------------------------------
cmd = [sys.executable, BENCH, "--bin", BINDIR, "--out",
       os.path.join(TMP, "results", "int"), "--models", "thread",
       "--sessions", "10", "-d", "30", "--pingpong-duration", "0.2",
       "--no-redis", "--no-hyperfine"]
drv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
kids = {}
deadline = time.monotonic() + 30
while time.monotonic() < deadline and "loadgen" not in kids.values():
    kids = children(drv.pid)
    time.sleep(0.05)
srv = [pid for pid, comm in kids.items() if comm == "server"]
t.ok("loadgen" in kids.values() and srv,
     "the driver runs a server and loadgen (%s)" % kids)
drv.send_signal(signal.SIGINT)
try:
    rc = drv.wait(timeout=20)
except subprocess.TimeoutExpired:
    drv.kill()
    rc = drv.wait()
t.is_(rc, 130, "Ctrl-C ends the driver with status 130")
left = [pid for pid, comm in kids.items() if alive(pid, comm)]
left += [p for s in srv for p in in_group(s)]
t.ok(not left, "no server, server child or loadgen is left %s" % (left or ""))

shutil.rmtree(TMP, ignore_errors=True)
t.done()
