#!/usr/bin/env python3
# make bench-scale (bench/scale.py, issue 13) at small scale: a few hundred
# sessions per model over two source addresses; the table and the CSV are
# written, the event model holds and serves every session, thread's row
# is there, and no server is left behind.  Under a low descriptor limit,
# loadgen runs over several processes and thread's row gives the ceiling
# it reached and why, instead of failing.
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have

t = TAP()
if not have("loadgen") or not have("server"):
    t.bail("bin/loadgen or bin/server is not built (make)")
SANITIZER = "/san-" in bin("server")
SCALE = os.path.join(os.path.dirname(HERE), "bench", "scale.py")
TMP = tempfile.mkdtemp(prefix="bench-scale-t-")
try:
    p = subprocess.run([sys.executable, SCALE, "--bin", os.path.dirname(bin("server")),
                        "--sessions", "300", "--models", "epoll,thread",
                        "--connect-rate", "2000", "--duration", "1", "--gap", "0.5", "--out", TMP],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    t.ok(p.returncode == 0, "bench/scale.py at 300 sessions: exit 0")
    if p.returncode != 0:
        t.diag(p.stderr.decode(errors="replace")[-2000:])
    rows = {}
    try:
        with open(os.path.join(TMP, "scale.csv")) as f:
            rows = {r["model"]: r for r in csv.DictReader(f)}
    except OSError:
        pass
    t.is_(sorted(rows), ["epoll", "thread"], "scale.csv: a row per model")
    t.ok(os.path.exists(os.path.join(TMP, "table.md")), "table.md is written")
    e = rows.get("epoll", {})
    t.is_((e.get("held"), e.get("served")), ("300", "300"),
          "epoll held and served all 300 sessions")
    # A sanitizer's allocator frees and grows at will: its PSS says nothing.
    pss_ok = SANITIZER or float(e.get("pss_per_session_kb") or 0) > 0
    t.ok(e.get("ceiling") == "-" and float(e.get("requests_s") or 0) > 0 and pss_ok,
         "epoll: requests/s and memory per session measured, no ceiling")
    t.ok("ceiling" in rows.get("thread", {}), "thread's row says its ceiling")
    left = [r["server_pid"] for r in rows.values()
            if r.get("server_pid") and os.path.exists("/proc/" + r["server_pid"])]
    t.is_(left, [], "every server is gone after the run")
    p = subprocess.run([sys.executable, SCALE, "--bin", os.path.dirname(bin("server")),
                        "--sessions", "500", "--models", "thread", "--connect-rate", "2000",
                        "--duration", "1", "--gap", "0.5", "--out", TMP],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400)))
    try:
        with open(os.path.join(TMP, "scale.csv")) as f:
            r = next(csv.DictReader(f))
    except (OSError, StopIteration):
        r = {}
    t.ok(p.returncode == 0 and int(r.get("loadgen_procs") or 0) >= 2,
         "ulimit -n 400, 500 sessions: loadgen runs over several processes")
    t.ok(0 < int(r.get("held") or 0) < 500 and r.get("ceiling", "-") != "-",
         "thread's ceiling below 500, with its reason (%s)" % r.get("ceiling"))
    p = subprocess.run([sys.executable, SCALE, "--bin", os.path.dirname(bin("server")),
                        "--sessions", "0", "--out", TMP],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    t.ok(p.returncode == 2, "--sessions 0: exit 2")
finally:
    shutil.rmtree(TMP, True)
t.done()
