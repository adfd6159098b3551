#!/usr/bin/env python3
# loadgen --interval and --hlog: the run cut into intervals (a server's
# stall shows as a dip in time), the intervals written as an HdrHistogram
# interval log that HdrHistogram's own Java HistogramLogProcessor reads
# with the same percentiles as loadgen's JSON, within the histogram's
# error, and the histograms in the JSON lossless ("hdr"): the intervals
# add up to the whole run exactly.  Servers: tests/lib/loadgen_server.py.
import atexit
import csv
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, run
import hdrlog

t = TAP()
if not have("loadgen"):
    t.bail("%s is not built (make)" % bin("loadgen"))
LG = bin("loadgen")
PYSRV = [sys.executable, os.path.join(HERE, "lib", "loadgen_server.py")]
TMP = tempfile.mkdtemp(prefix="hlog-t-")
atexit.register(shutil.rmtree, TMP, True)
JAR = "/usr/share/java/hdrhistogram.jar"
# One bucket of bench/hist.c is at most 1/128 of its value wide; Java and
# loadgen may pick neighbouring ranks, so two buckets, plus the 1 us that
# the processor's three decimals of milliseconds round to.
REL, ABS_MS = 2 / 128, 0.0011


def pyserver(*args):
    return start_server(PYSRV + ["--port", "0"] + [str(a) for a in args])


def loadgen(args, name):
    js = os.path.join(TMP, name + ".json")
    st, out, err, _ = run([LG] + [str(a) for a in args] + ["--json", js, "-q"],
                          timeout=60)
    try:
        with open(js) as f:
            return st, err.decode(errors="replace"), json.load(f)
    except (OSError, ValueError) as e:
        t.diag("no JSON: %s %s" % (e, err.decode(errors="replace")))
        return st, "", {}


# ---- usage -----------------------------------------------------------------

for bad in (["--interval", "0"], ["--interval", "5ms"], ["--interval", "x"],
            ["--hlog"]):
    st, _, err, _ = run([LG] + bad)
    t.ok(st == 2 and err.count(b"\n") == 1, "%s: exit 2, one line" % " ".join(bad))
st, _, err, _ = run([LG, "-p", "1", "-n", "1", "--hlog", os.path.join(TMP, "no", "x.hlog")])
t.ok(st == 1 and b"--hlog" in err, "--hlog into a missing directory: exit 1, says so")

# ---- a run written as an interval log ------------------------------------------

HLOG = os.path.join(TMP, "run.hlog")
with pyserver() as srv:
    st, err, doc = loadgen(["-p", srv.port, "-c", 4, "-R", 4000, "-d", "2500ms",
                            "--interval", "500ms", "--hlog", HLOG], "run")
t.ok(st == 0 and doc, "an open-loop run with --hlog: exit 0")
log = hdrlog.read_log(HLOG)
t.ok(log["start"] and log["base"] == log["start"],
     "#[StartTime] and #[BaseTime] in wall-clock seconds")
with open(HLOG) as f:
    t.ok('"StartTimestamp","Interval_Length","Interval_Max",'
         '"Interval_Compressed_Histogram"\n' in f.read(), "the legend line")
tags = {}
for tag, s, ln, mx, h in log["lines"]:
    tags.setdefault(tag, []).append((s, ln, mx, h))
t.is_(sorted(tags), ["corrected", "uncorrected"], "two tagged series")
cor = tags.get("corrected", [])
# The pitfall: column 2 is the length; each interval starts where the
# last one ended, and the last ends when the run did.
gaps = [abs(cor[i][0] + cor[i][1] - cor[i + 1][0]) for i in range(len(cor) - 1)]
t.ok(len(cor) >= 4 and max(gaps) <= 0.0011 and
     abs(cor[-1][0] + cor[-1][1] - doc.get("elapsed_s", -1)) <= 0.01,
     "column 2 is each interval's length: start + length is the next start, "
     "the last ends with the run (%d intervals)" % len(cor))
for name, key in (("corrected", "latency_us"), ("uncorrected", "latency_uncorrected_us")):
    total = []
    for s, ln, mx, h in tags.get(name, []):
        total = hdrlog.add(total, hdrlog.decode(h)["counts"])
    whole = hdrlog.decode(doc[key]["exact"]["hdr"])
    t.is_(total + [0] * (len(whole["counts"]) - len(total)), whole["counts"] +
          [0] * (len(total) - len(whole["counts"])),
          "%s: the intervals add up to the run's histogram, bucket for bucket" % name)
    t.is_(sum(whole["counts"]), doc[key]["count"], "%s: the JSON's hdr holds every value" % name)

# ---- HdrHistogram's own reader --------------------------------------------------


def processor(tag):
    out = os.path.join(TMP, "proc-" + tag)
    p = subprocess.run(["java", "-cp", JAR, "org.HdrHistogram.HistogramLogProcessor",
                        "-i", HLOG, "-o", out, "-csv", "-tag", tag],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        t.diag(p.stderr.decode(errors="replace"))
        return None
    with open(out) as f:
        rows = [r for r in csv.reader(l for l in f if not l.startswith("#"))]
    return dict(zip(rows[0], rows[-1])) if len(rows) > 1 else None


def near(java_ms, ours_us):
    return abs(java_ms - ours_us / 1e3) <= REL * ours_us / 1e3 + ABS_MS


why = None
if shutil.which("java") is None:
    why = "no java (Debian default-jre-headless; make deps)"
elif not os.path.exists(JAR):
    why = "no %s (Debian libhdrhistogram-java; make deps)" % JAR
for name, key in (("corrected", "latency_us"), ("uncorrected", "latency_uncorrected_us")):
    if why:
        t.skip("HistogramLogProcessor reads the %s series" % name, why)
        t.skip("HistogramLogProcessor's %s percentiles match the JSON" % name, why)
        continue
    row = processor(name)
    t.ok(row and int(row["Total_Count"]) == doc[key]["count"],
         "HistogramLogProcessor reads the %s series: the same count (%s)"
         % (name, row and row["Total_Count"]))
    h = doc[key]
    pairs = [("Total_50%", "p50"), ("Total_90%", "p90"), ("Total_99%", "p99"),
             ("Total_99.9%", "p99_9"), ("Total_Max", "max")]
    bad = [(j, float(row[j]), h[k] / 1e3) for j, k in pairs
           if not (row and near(float(row[j]), h[k]))] if row else pairs
    t.ok(row and not bad, "HistogramLogProcessor's %s p50, p90, p99, p99.9 and max "
         "are the JSON's within the histogram's error" % name)
    for b in bad:
        t.diag("java %s %s ms, loadgen %s ms" % b if len(b) == 3 else "no %s" % (b,))

# ---- a stall shows as a dip in time ---------------------------------------------

STALL = 1.0
# After 300 lines: well inside the first second on a fast machine or a
# busy one, so the stall ends before the run does.
with pyserver("--stall-after", 300, "--stall", STALL) as srv:
    st, err, doc = loadgen(["-p", srv.port, "-c", 4, "-d", "3s", "--interval", "200ms"],
                           "stall")
pts = doc.get("intervals", {}).get("points", []) if doc else []
busy = sorted(p["throughput_rps"] for p in pts)
t.ok(len(pts) >= 10 and sum(p["count"] for p in pts) == doc["latency_us"]["count"],
     "--interval 200ms over 3 s: %d intervals, their counts add up to the run's" % len(pts))
dead = [i for i, p in enumerate(pts) if p["replies"] == 0]
t.ok(dead and dead[0] > 0 and dead[-1] < len(pts) - 1 and busy[len(busy) // 2] > 0,
     "a %g s stall: intervals with no reply between busy ones (%s)" % (STALL, dead))
after = pts[dead[-1] + 1] if dead and dead[-1] + 1 < len(pts) else {}
t.ok(after.get("max", 0) >= 0.8 * STALL * 1e6 and
     after.get("p50", 1e12) < 0.5 * STALL * 1e6,
     "the interval after the stall has the stall in its max, not in its median")

# ---- the live line shows each interval ------------------------------------------

with pyserver("--delay", 0.001) as srv:
    master, slave = pty.openpty()
    p = subprocess.Popen([LG, "-p", str(srv.port), "-c", "2", "-d", "1500ms",
                          "--interval", "300ms"], stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    p.wait(30)
    os.close(master)
lines = [l for l in got.split(b"\r") if b"p99" in l]
t.ok(len(lines) >= 3 and all(b"/s" in l and b"errors" in l for l in lines),
     "on a terminal, a live line per interval with its rate, errors and p99 (%d)" % len(lines))
t.done()
