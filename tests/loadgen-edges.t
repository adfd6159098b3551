#!/usr/bin/env python3
# bin/loadgen at the edges of a run (issue 10): every request that fell due
# is accounted for when the server stalls to the end; throughput of a short
# window agrees with a long one; connect times in a burst; UTF-8 requests; tiny rates; always valid JSON; runs where requests are
# never answered exit 1; loadgen's own CPU is reported and stays below the
# server's per byte.  Timing checks are ratios within one run.
import atexit
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, free_port, run

t = TAP()
if not have("loadgen"):
    t.bail("%s is not built (make)" % bin("loadgen"))
LG = bin("loadgen")
SANITIZER = "/san-" in LG
PYSRV = [sys.executable, os.path.join(HERE, "lib", "loadgen_server.py")]
TMP = tempfile.mkdtemp(prefix="loadgen-edges-")
atexit.register(shutil.rmtree, TMP, True)
_n = [0]


def strict_json(text):
    """json.loads, refusing NaN and Infinity, which are not JSON."""
    def bad(name):
        raise ValueError("not JSON: %s" % name)
    return json.loads(text, parse_constant=bad)


def pyserver(*args):
    return start_server(PYSRV + ["--port", "0"] + [str(a) for a in args])


def loadgen(args, timeout=60):
    """Run loadgen with --json; (status, stderr, json or None, raw bytes)."""
    _n[0] += 1
    path = os.path.join(TMP, "run%d.json" % _n[0])
    st, out, err, secs = run([LG] + [str(a) for a in args] + ["-q", "--json", path],
                             timeout=timeout)
    raw = b""
    doc = None
    try:
        with open(path, "rb") as f:
            raw = f.read()
        doc = strict_json(raw.decode("utf-8"))
    except (OSError, ValueError) as e:
        t.diag("no valid JSON from loadgen %s: %s" % (" ".join(map(str, args)), e))
    return st, err.decode(errors="replace"), doc, raw


def get(doc, *keys, default=None):
    for k in keys:
        if not isinstance(doc, dict) or k not in doc:
            return default
        doc = doc[k]
    return doc


def cpu_ticks(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- 1. open loop: a server that stops answering until the end ---------

# 400 requests/s; the server stops after its 200th line (about 0.5 s in)
# and does not answer again before the run ends at 1.2 s.
RATE, DUR = 400, 1.2
with pyserver("--stall-after", 200, "--stall", 5) as srv:
    st, err, doc, _ = loadgen(["-p", srv.port, "-c", 4, "-R", RATE, "-d", "%gs" % DUR])
lat = get(doc, "latency_us", default={})
due = RATE * get(doc, "measured_s", default=0)
t.diag("stall to the end: committed %s of ~%.0f due, latency count %s p50 %s p99 %s max %s us, "
       "unanswered %s unsent %s, exit %s" % (get(doc, "requests", "committed"), due,
                                             lat.get("count"), lat.get("p50"), lat.get("p99"),
                                             lat.get("max"), get(doc, "unanswered"),
                                             get(doc, "unsent"), st))
t.ok(lat.get("count", 0) >= 0.95 * due and
     lat.get("count") == get(doc, "requests", "committed"),
     "every request that fell due is in the corrected histogram (%s of ~%.0f)"
     % (lat.get("count"), due))
t.ok(get(doc, "unanswered", default=0) >= 0.4 * due and
     get(doc, "unsent", default=0) >= 0.4 * due,
     "those never answered are counted, most of them never sent")
t.ok(lat.get("p99", 0) >= 0.3 * get(doc, "measured_s", default=1) * 1e6,
     "corrected p99 shows the stall (censored at the end of the run)")
t.ok(get(doc, "unanswered_us", "max", default=0) >= 0.3 * get(doc, "measured_s", default=1) * 1e6,
     "the unanswered requests' waits are reported")
t.ok(st == 1, "a server that stopped answering: exit 1")

# The same stall mid-run, pipeline 2: the ring fills, the due requests go
# out late after the stall and count from their due time.
with pyserver("--stall-after", 100, "--stall", 0.3) as srv:
    st, err, doc, _ = loadgen(["-p", srv.port, "-c", 4, "-P", 2, "-R", RATE, "-d", "1s"])
lat = get(doc, "latency_us", default={})
req = get(doc, "requests", default={})
t.ok(st == 0 and lat.get("p99", 0) >= 0.3 * 0.3e6 and
     req.get("committed") == req.get("completed", 0) + req.get("failed", 0) +
     get(doc, "unanswered", default=0) - get(doc, "unanswered_warmup", default=0),
     "a stall mid-run with the ring full: p99 %s us, committed = completed + failed + "
     "unanswered" % lat.get("p99"))

# ---- 2. closed loop: a short window's throughput is not biased low --------

# 20 sessions opened over one 50 ms delay, so that replies come evenly.
# A window that ignored the requests in flight at its end would read
# about 25 ms / 300 ms = 8% low.  A busy machine only ever slows a window
# down, so the best of three short ones is compared with a long one.
with pyserver("--delay", 0.05) as srv:
    def closed(d):
        st, err, doc, _ = loadgen(["-p", srv.port, "-c", 20, "--connect-rate", 400,
                                   "--warmup", "300ms", "-d", d])
        return get(doc, "throughput_rps", default=0) if st == 0 else 0
    short = max(closed("300ms") for _ in range(3))
    long = closed("3s")
ratio = short / long if long else 0
t.ok(0.95 <= ratio <= 1.05,
     "closed loop, 50 ms server: best 0.3 s window %.1f req/s, 3 s window %.1f (ratio %.3f)"
     % (short, long, ratio))

# ---- 3. connect times in a burst ----------------------------------------------

if have("server"):
    with start_server(["server", "--model", "epoll", "--port", "0", "-q"]) as srv:
        st1, _, lone, _ = loadgen(["-p", srv.port, "-c", 1, "-k", 0, "-n", 30])
        st2, _, burst, _ = loadgen(["-p", srv.port, "-c", 32, "-n", 32])
    a = get(lone, "connect_us", "p50", default=0)
    b = get(burst, "connect_us", "p50", default=1e12)
    t.ok(st1 == 0 and st2 == 0 and a > 0 and b <= 4 * a,
         "a burst of 32 connects: p50 %.1f us, a lone connect %.1f us (at most 4x)" % (b, a))
else:
    t.skip("connect times in a burst", "bin/server is not built")

# ---- 5. --request with non-ASCII text -----------------------------------------

if have("server"):
    with start_server(["server", "--model", "epoll", "--port", "0", "-q"]) as srv:
        st, err, doc, raw = loadgen(["-p", srv.port, "-c", 2, "-n", 20,
                                     "--request", "café straße\\n"])
    t.ok(st == 0 and get(doc, "requests", "completed") == 20 and
         get(doc, "errors", "mismatch") == 0,
         "--request 'café straße': replies 'CAFÉ STRASSE' verified")
else:
    t.skip("--request with non-ASCII text", "bin/server is not built")

# ---- 6. tiny rates, and always valid JSON -------------------------------------

port = free_port()
for opt in (["--rate", "1e-300"], ["--rate", "1e-9"], ["--connect-rate", "1e-300"]):
    st, out, err, secs = run([LG, "-p", str(port), "-d", "200ms"] + opt, timeout=10)
    t.ok(st == 2 and b"loadgen:" in err and opt[0].encode() in err,
         "%s %s: exit 2 with a reason (%s)" % (opt[0], opt[1], err.decode().strip()))

with pyserver() as srv:
    st, err, doc, raw = loadgen(["-p", "0%s" % srv.port, "-c", 1, "-n", 5])
    t.ok(st == 0 and get(doc, "params", "port") == int(srv.port),
         "--port 0%s: the JSON is valid and has the port as a number" % srv.port)
    st, err, doc, raw = loadgen(["-p", srv.port, "-c", 1, "-n", 5, "--request", "café\\n"])
    t.ok(get(doc, "params", "request") == "café\n" and "café".encode() in raw,
         "--json writes UTF-8 as UTF-8")
    st, err, doc, raw = loadgen(["-p", srv.port, "-c", 1, "-n", 5, "--no-verify",
                                 "--request", "a\\xff\\x01\\n"])
    t.ok(get(doc, "params", "request") == "a\ufffd\x01\n",
         "a byte that is not UTF-8 is U+FFFD, a control character escaped")

# ---- 7. requests never answered: exit 1 ---------------------------------------

cases = [("a server that never answers", ["--silent"], []),
         ("one that drops every tenth request", ["--drop-every", 10], []),
         ("one that never reads", ["--no-read"], []),
         ("--request without a newline", [], ["--request", "abc"])]
for name, sargs, largs in cases:
    with pyserver(*sargs) as srv:
        st, err, doc, _ = loadgen(["-p", srv.port, "-c", 4, "-d", "1s"] + largs)
    t.ok(st == 1 and get(doc, "exit_status") == 1 and
         get(doc, "unanswered_us", "max", default=0) >= 0.5e6 * get(doc, "measured_s", default=9),
         "%s: exit 1, unanswered requests reported with their wait (%s, max %s us)"
         % (name, get(doc, "unanswered"), get(doc, "unanswered_us", "max")))
if have("server"):
    with start_server(["server", "--model", "iterative", "--port", "0", "-q"]) as srv:
        st, err, doc, _ = loadgen(["-p", srv.port, "-c", 10, "-d", "1s"])
    t.ok(st == 1 and get(doc, "sessions_stalled") == 9,
         "the iterative model at -c 10: 9 sessions never served, exit 1 (%s stalled)"
         % get(doc, "sessions_stalled"))
else:
    t.skip("the iterative model at -c 10", "bin/server is not built")
# A 50 ms server: the closed loop ends with its 4 x 2 requests in flight,
# the open loop with some; both are normal.
with pyserver("--delay", 0.05) as srv:
    st, err, doc, _ = loadgen(["-p", srv.port, "-c", 4, "-P", 2, "-d", "500ms"])
    st2, err2, doc2, _ = loadgen(["-p", srv.port, "-c", 4, "-R", 200, "-d", "500ms"])
t.ok(st == 0 and st2 == 0 and get(doc, "unanswered", default=0) >= 1 and
     get(doc2, "unanswered", default=0) >= 1,
     "the requests in flight when a normal run ends are no error (%s and %s unanswered)"
     % (get(doc, "unanswered"), get(doc2, "unanswered")))

# ---- never the bottleneck: loadgen's own CPU ------------------------------------

if have("server") and not SANITIZER:
    with start_server(["server", "--model", "epoll", "--port", "0", "-q"]) as srv:
        c0 = cpu_ticks(srv.proc.pid)
        st, err, doc, _ = loadgen(["-p", srv.port, "-c", 1, "-P", 8, "-s", 65000, "-d", "1s"])
        c1 = cpu_ticks(srv.proc.pid)
    cpu = get(doc, "cpu", default={})
    mine = cpu.get("user_s", 0) + cpu.get("sys_s", 0)
    t.ok(st == 0 and len(cpu.get("threads", [])) == 1 and
         "percent_of_core" in cpu and "saturated" in cpu,
         "the JSON reports loadgen's own CPU, per thread and in all")
    t.ok(0 < mine <= 1.0 * (c1 - c0),
         "64 KiB lines: loadgen's CPU %.2f s, the server's %.2f s" % (mine, c1 - c0))
else:
    t.skip("loadgen's own CPU", "bin/server missing, or a sanitizer build")

t.done()
