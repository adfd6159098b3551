#!/usr/bin/env python3
# bin/loadgen across processes and source addresses (issue 13): --procs N
# shares the sessions out and reports one run whose counts are the sums of
# the parts' (each part's JSON kept beside the merged one); --source
# spreads the sessions round-robin over local addresses (seen in the
# server's session log); the descriptor limit is checked per process at
# start, with --procs suggested; sessions never established are reported;
# a part killed fails the run; SIGTERM
# stops every part; bad values exit 2 with one line.
import atexit
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, run

t = TAP()
if not have("loadgen") or not have("server"):
    t.bail("bin/loadgen or bin/server is not built (make)")
LG = bin("loadgen")
TMP = tempfile.mkdtemp(prefix="loadgen-procs-")
atexit.register(shutil.rmtree, TMP, True)
SUMS = [("requests", "committed"), ("requests", "completed"),
        ("requests", "replies"), ("requests", "sent"),
        ("connects", "attempted"), ("connects", "established"),
        ("latency_us", "count"), ("connect_us", "count")]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def server(*extra):
    return start_server(["server", "--model", "epoll", "--port", "0"] + list(extra))


def children(pid):
    """The pids of pid's children, from /proc."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def one_line_exit2(args, what, want=None):
    st, out, err, _ = run([LG] + args)
    good = st == 2 and err.count(b"\n") == 1 and (want is None or want in err)
    if not t.ok(good, what):
        t.diag("status %r, stderr %r" % (st, err))


# ---- --procs: one run, the parts' sums --------------------------------------

srv = server("-q")
js = os.path.join(TMP, "m.json")
st, out, err, _ = run([LG, "-p", str(srv.port), "-c", "20", "-n", "4000",
                       "--procs", "2", "--json", js], timeout=60)
m, parts = load(js), [load(js + ".1"), load(js + ".2")]
t.ok(st == 0 and b"merged 2 runs" in out, "--procs 2: exit 0, one merged summary")
if m is None or None in parts:
    t.ok(False, "the merged JSON and both parts' JSON are written")
    t.diag(err.decode(errors="replace"))
else:
    t.is_([p["params"]["sessions"] for p in parts], [10, 10], "the sessions are shared out")
    t.is_(m["params"]["sessions"], 20, "the merged run has them all")
    t.is_(m["requests"]["completed"], 4000, "-n is shared out: 4000 completed in all")
    for sec, key in SUMS:
        t.is_(m[sec][key], sum(p[sec][key] for p in parts),
              "merged %s.%s is the sum of the parts'" % (sec, key))
    t.ok(b"same window" not in err, "the parts started together (merge did not warn)")
    t.is_(len(set(p["exit_status"] for p in parts) | {0}), 1, "each part exited 0")

st, out, err, _ = run([LG, "-p", str(srv.port), "-c", "9", "-d", "0.5", "-R", "900",
                       "--connect-rate", "300", "--procs", "3", "--json", js], timeout=60)
parts = [load("%s.%d" % (js, i)) for i in (1, 2, 3)]
if None in parts:
    t.ok(False, "open loop over 3 processes: the parts' JSON")
else:
    t.is_([p["params"]["rate"] for p in parts], [300.0] * 3, "the rate is shared out")
    t.is_([p["params"]["connect_rate"] for p in parts], [100.0] * 3,
          "the connect rate is shared out")
    t.ok(st == 0, "open loop over 3 processes: exit 0")

# Sessions the run ended before opening were never served: said, exit 1
# (they used to pass unnoticed: 100,000 sessions behind --connect-rate).
for procs in ("1", "2"):
    st, out, err, _ = run([LG, "-p", str(srv.port), "-c", "50", "--connect-rate", "20",
                           "-d", "1", "--procs", procs, "--json", js], timeout=30)
    m = load(js) or {}
    un = m.get("sessions_unopened", -1)
    t.ok(st == 1 and un >= 25 and un == 50 - m["connects"]["established"] and
         b"not established" in err,
         "--procs %s: ~30 of 50 sessions not opened by the end: reported, exit 1" % procs)

# A part killed after the start fails the run, and no part is left.
p = subprocess.Popen([LG, "-p", str(srv.port), "-c", "4", "-d", "20", "--procs", "2", "-q"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
kids = []
for _ in range(100):
    kids = children(p.pid)
    if len(kids) == 2:
        break
    time.sleep(0.05)
time.sleep(0.3)   # the parts are connected and running
if len(kids) == 2:
    os.kill(kids[0], signal.SIGKILL)
try:
    out, err = p.communicate(timeout=15)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
t.ok(p.returncode == 1 and b"killed by signal 9" in err,
     "a part killed: the run fails (exit 1), saying which")
t.ok(not any(alive(k) for k in kids), "and the other part is stopped and reaped")

# SIGTERM to the parent stops every part; their partial figures are merged.
p = subprocess.Popen([LG, "-p", str(srv.port), "-c", "4", "-d", "20", "--procs", "2"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
for _ in range(100):
    kids = children(p.pid)
    if len(kids) == 2:
        break
    time.sleep(0.05)
time.sleep(0.3)
p.send_signal(signal.SIGTERM)
try:
    out, err = p.communicate(timeout=15)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
t.ok(p.returncode == 1 and b"note         interrupted" in out,
     "SIGTERM: every part stops, the merged figures say interrupted, exit 1")
t.ok(not any(alive(k) for k in kids), "no part is left")
srv.stop()

# ---- --source: round-robin over addresses, seen by the server ---------------

srv = server()
st, out, err, _ = run([LG, "-p", str(srv.port), "-c", "6", "-n", "60",
                       "--source", "127.0.0.2-127.0.0.3", "-q"], timeout=30)
got = srv.wait_count("connected with 127\\.0\\.0\\.[23]:", 6)
t.ok(st == 0, "--source with two addresses: exit 0")
t.is_(sorted(sum(1 for l in got if ("127.0.0.%d:" % a) in l) for a in (2, 3)), [3, 3],
      "the server saw 3 sessions from each address")
srv.stop()
srv = server()
st, out, err, _ = run([LG, "-p", str(srv.port), "-c", "6", "-n", "60", "--procs", "2",
                       "--source", "127.0.0.2-127.0.0.4", "-q"], timeout=30)
got = srv.wait_count("connected with 127\\.0\\.0\\.[234]:", 6)
t.is_([sum(1 for l in got if ("127.0.0.%d:" % a) in l) for a in (2, 3, 4)], [2, 2, 2],
      "--procs 2 --source over three: round-robin across the processes (2 each)")
srv.stop()
if socket.has_ipv6:
    try:
        srv6 = start_server(["server", "--model", "epoll", "--host", "::1", "--port", "0"])
    except RuntimeError as e:
        srv6 = None
        t.skip("--source ::1", "no IPv6 loopback: %s" % e)
    if srv6 is not None:
        st, _, err, _ = run([LG, "-H", "::1", "-p", str(srv6.port), "-c", "2", "-n", "20",
                             "--source", "::1", "-q"], timeout=30)
        t.ok(st == 0 and srv6.wait_line("connected with \\[::1\\]:") is not None,
             "--source ::1 to an IPv6 server")
        srv6.stop()

# ---- the descriptor limit, checked per process at start ---------------------

def lowfd():
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))


srv = server("-q")
p = subprocess.run([LG, "-p", str(srv.port), "-c", "300", "-n", "600", "-q"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lowfd, timeout=30)
t.ok(p.returncode == 2 and p.stderr.count(b"\n") == 1 and b"--procs 2" in p.stderr,
     "300 sessions under ulimit -n 200: exit 2 at start, one line suggesting --procs 2")
t.diag(p.stderr.decode(errors="replace").strip())
p = subprocess.run([LG, "-p", str(srv.port), "-c", "300", "-n", "600", "-q", "--procs", "2",
                    "--json", js], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   preexec_fn=lowfd, timeout=60)
m = load(js)
t.ok(p.returncode == 0 and m is not None and m["connects"]["established"] == 300,
     "and with --procs 2 all 300 sessions are held and served")
srv.stop()

# ---- bad values ---------------------------------------------------------------

one_line_exit2(["--procs", "0"], "--procs 0")
one_line_exit2(["--procs", "2", "-c", "1"], "--procs above the sessions")
one_line_exit2(["--procs", "2", "-n", "1"], "--procs above -n")
one_line_exit2(["--procs", "2", "--interval", "1s"], "--procs with --interval")
one_line_exit2(["--source", "127.0.0.9-127.0.0.2"], "a reversed range")
one_line_exit2(["--source", "127.0.0.1-127.1.0.1"], "a range over 65536 addresses")
one_line_exit2(["--source", "nonsense"], "not an address")
one_line_exit2(["--source", "::1-::2"], "an IPv6 range")
one_line_exit2(["--source", "::1"], "an IPv6 source to an IPv4 server")
one_line_exit2(["--source", "192.0.2.1"], "an address that is not local", b"cannot bind")
t.done()
