#!/usr/bin/env python3
# loadgen merge: the runs' histograms added, not their percentiles.  Two
# loadgens with half the sessions each, against one server at the same
# time, merged: the merged histogram is the sum of the parts bucket for
# bucket, the counts are the sums, and the figures agree with one loadgen
# that ran all the sessions.  Server: tests/lib/loadgen_server.py.
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, run
import hdrlog

t = TAP()
if not have("loadgen"):
    t.bail("%s is not built (make)" % bin("loadgen"))
LG = bin("loadgen")
PYSRV = [sys.executable, os.path.join(HERE, "lib", "loadgen_server.py")]
TMP = tempfile.mkdtemp(prefix="merge-t-")
atexit.register(shutil.rmtree, TMP, True)
HISTS = ["latency_us", "latency_uncorrected_us", "connect_us", "first_reply_us"]


def path(name):
    return os.path.join(TMP, name + ".json")


def load(name):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def counts(doc, key):
    return hdrlog.decode(doc[key]["exact"]["hdr"])["counts"]


def pad(a, n):
    return a + [0] * (n - len(a))


# ---- usage and bad input -------------------------------------------------

st, _, err, _ = run([LG, "merge"])
t.ok(st == 2 and err.count(b"\n") == 1, "merge with no file: exit 2, one line")
st, _, err, _ = run([LG, "merge", os.path.join(TMP, "none.json")])
t.ok(st == 1 and b"none.json" in err, "a missing file: exit 1, named")
with open(path("old"), "w") as f:
    json.dump({"tool": "loadgen", "latency_us": {"count": 3}}, f)
st, _, err, _ = run([LG, "merge", path("old")])
t.ok(st == 1 and err.count(b"\n") == 1, "a JSON without the histograms: exit 1, one line")

# ---- two halves at once, and the whole ---------------------------------------

RATE, SESS, DUR = 600, 6, "2s"
with start_server(PYSRV + ["--port", "0", "--delay", "0.003"]) as srv:
    # Launched apart, started together on the wall clock.
    at = "%.3f" % (time.time() + 1.5)
    half = [LG, "-p", str(srv.port), "-c", str(SESS // 2), "-R", str(RATE // 2),
            "-d", DUR, "-q", "--start-at", at]
    a = subprocess.Popen(half + ["--json", path("a")])
    b = subprocess.Popen(half + ["--json", path("b"), "--seed", "2"])
    sa, sb = a.wait(60), b.wait(60)
    one, _, _, _ = run([LG, "-p", str(srv.port), "-c", str(SESS), "-R", str(RATE),
                        "-d", DUR, "-q", "--json", path("one")], timeout=60)
t.ok(sa == 0 and sb == 0 and one == 0, "two half runs at once and one whole run: exit 0")
st, out, err, _ = run([LG, "merge", path("a"), path("b"), "--json", path("m")])
A, B, M, ONE = load("a"), load("b"), load("m"), load("one")
wa, wb = A.get("wall_start_s", 0), B.get("wall_start_s", 1e12)
t.ok(min(wa, wb) >= float(at) and abs(wa - wb) < 0.05 * A.get("measured_s", 0),
     "--start-at: both parts started at the time given, %.4f s apart (of a %s window)"
     % (abs(wa - wb), DUR))
st2, _, err2, _ = run([LG, "-p", "1", "-n", "1", "--start-at", "%.3f" % (time.time() - 5)])
t.ok(st2 == 1 and b"--start-at" in err2, "a --start-at already past: exit 1, says so")
out = out.decode(errors="replace")
t.ok(st == 0 and "merged 2 runs" in out and "%d sessions" % SESS in out and
     "latency" in out, "merge prints one run's summary, %d sessions" % SESS)
for key in HISTS:
    pa, pb, pm = counts(A, key), counts(B, key), counts(M, key)
    n = max(len(pa), len(pb), len(pm))
    t.ok(pad(hdrlog.add(pa, pb), n) == pad(pm, n) and
         M[key]["count"] == A[key]["count"] + B[key]["count"] and
         M[key]["max"] == max(A[key]["max"], B[key]["max"]) and
         M[key]["min"] == min(A[key]["min"], B[key]["min"]),
         "%s: the merged histogram is the parts' sum, bucket for bucket, "
         "exact min and max" % key)
keys = [("requests", "completed"), ("requests", "committed"), ("requests", "replies"),
        ("requests", "bytes_out"), ("requests", "bytes_in"), ("errors", "total"),
        ("connects", "established")]
t.is_([M[s][k] for s, k in keys], [A[s][k] + B[s][k] for s, k in keys],
      "the counts are the sums of the parts")
t.ok(abs(M["throughput_rps"] - A["throughput_rps"] - B["throughput_rps"]) < 0.01,
     "throughput: the parts' sum (they measured the same window)")
# One run with every session, against the same server: the same load,
# so the same figures within what two runs of it differ by.
ratio = M["throughput_rps"] / ONE["throughput_rps"]
t.ok(0.95 <= ratio <= 1.05, "merged throughput / one run's: %.3f" % ratio)
r50 = M["latency_us"]["p50"] / ONE["latency_us"]["p50"]
t.ok(0.8 <= r50 <= 1.25, "merged p50 / one run's p50: %.3f (a 3 ms server delay "
     "in both)" % r50)

# A histogram damaged on the way (one character of its base64 changed):
# zlib's checksum or the V2 header catches it, never a wrong merge.
bad = dict(A)
bad["latency_us"] = dict(A["latency_us"])
bad["latency_us"]["exact"] = dict(A["latency_us"]["exact"])
h = bad["latency_us"]["exact"]["hdr"]
i = len(h) // 2
bad["latency_us"]["exact"]["hdr"] = h[:i] + ("A" if h[i] != "A" else "B") + h[i + 1:]
with open(path("bad"), "w") as f:
    json.dump(bad, f, indent=1)
st, _, err, _ = run([LG, "merge", "-q", path("bad")])
t.ok(st == 1 and b"latency_us" in err, "a damaged histogram: exit 1, named, no merge")

# ---- one part alone: the same figures, exactly -------------------------------------

st, _, _, _ = run([LG, "merge", "-q", path("a"), "--json", path("a1")])
A1 = load("a1")
pcts = ["count", "min", "p50", "p90", "p99", "p99_9", "p99_99", "max", "mean"]
t.ok(st == 0 and all([A1[k][p] for p in pcts] == [A[k][p] for p in pcts]
                     for k in HISTS),
     "merging one run gives back its percentiles, min, max and mean exactly")
t.done()
