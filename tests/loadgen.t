#!/usr/bin/env python3
# bin/loadgen, the benchmark client: options, reply verification, latency
# that matches a known server delay, coordinated-omission correction in the
# open loop, errors by kind, a server that dies or stalls mid-run, SYN
# retries counted, -k 0, the JSON and CSV, and throughput beside
# redis-benchmark.  The servers are small Python ones we control
# (tests/lib/loadgen_server.py); bin/server and redis-server when present.
# Timing checks compare ratios to delays we set, never absolute figures.
import atexit
import json
import os
import pty
import re
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
from socklab import TAP, bin, have, start_server, free_port, run

t = TAP()
if not have("loadgen"):
    t.bail("%s is not built (make)" % bin("loadgen"))
LG = bin("loadgen")
PYSRV = [sys.executable, os.path.join(HERE, "lib", "loadgen_server.py")]
TMP = tempfile.mkdtemp(prefix="loadgen-t-")
atexit.register(shutil.rmtree, TMP, True)
_n = [0]


def pyserver(*args):
    return start_server(PYSRV + ["--port", "0"] + [str(a) for a in args])


def loadgen(args, timeout=60):
    """Run loadgen with --json; (status, stdout, stderr, seconds, json)."""
    _n[0] += 1
    path = os.path.join(TMP, "run%d.json" % _n[0])
    st, out, err, secs = run([LG] + [str(a) for a in args] + ["--json", path],
                             timeout=timeout)
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        t.diag("no JSON from loadgen %s: %s" % (" ".join(map(str, args)), e))
        t.diag(err.decode(errors="replace"))
        doc = None
    return st, out.decode(errors="replace"), err.decode(errors="replace"), secs, doc


def get(doc, *keys, default=None):
    for k in keys:
        if not isinstance(doc, dict) or k not in doc:
            return default
        doc = doc[k]
    return doc


def show(doc, err=""):
    if err:
        t.diag("stderr: " + err.strip())
    if doc:
        t.diag("errors %s completed %s" % (doc.get("errors"),
                                           get(doc, "requests", "completed")))


# ---- usage -------------------------------------------------------------

bad = [["-c", "0"], ["-c", "abc"], ["-n", "-5"], ["-d", "10x"], ["-d", "0"],
       ["-k", "2"], ["-k", "0", "-P", "4"], ["--rate", "0"], ["--rate", "x"],
       ["--bogus"], ["-s", "0"], ["-t", "0"], ["--timeout", "0"],
       ["stray"], ["-p", "70000"], ["--request", "a\\q"], ["--request", ""],
       ["-c"], ["--host", "no.such.host.invalid"]]
wrong = []
for args in bad:
    st, out, err, secs = run([LG] + args + ["-p", "9", "-n", "1"]
                             if args[-1] != "-c" else [LG] + args)
    if st != 2 or out or b"loadgen:" not in err:
        wrong.append((args, st, err))
t.ok(not wrong, "%d kinds of bad usage exit 2 with a message on stderr" % len(bad))
for w in wrong:
    t.diag("%r -> %s %r" % w)

st, out, err, _ = run([LG, "--help"])
opts = ["--host", "--port", "--sessions", "--threads", "--pipeline",
        "--keepalive", "--requests", "--duration", "--warmup", "--rate",
        "--connect-rate", "--size", "--seed", "--request", "--no-verify",
        "--timeout", "--connect-timeout", "--json", "--csv", "--quiet",
        "--help", "--version"]
missing = [o for o in opts if o.encode() not in out]
t.ok(st == 0 and not missing, "--help documents every option" +
     (" (missing %s)" % missing if missing else ""))
st, out, err, _ = run([LG, "--version"])
t.ok(st == 0 and out.startswith(b"loadgen"), "--version")

# ---- a clean run and its JSON -------------------------------------------

with pyserver() as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 4, "-n", 400])
t.is_(st, 0, "closed loop, 4 sessions, 400 requests: exit 0")
show(doc, err) if st else None
t.is_(get(doc, "requests", "completed"), 400, "400 requests completed")
t.ok("requests/s" in out and "p99.9" in out, "a readable summary on stdout")
t.ok("\r" not in err, "no progress line when stderr is not a terminal")

lat = get(doc, "latency_us", default={})
keys = ["count", "mean", "min", "p50", "p90", "p99", "p99_9", "p99_99", "max",
        "buckets", "percentiles"]
t.ok(all(k in lat for k in keys), "JSON latency has count, mean, p50..p99.99, max, buckets")
t.ok(all(k in (doc or {}) for k in ["params", "throughput_rps", "latency_uncorrected_us",
                                    "connect_us", "first_reply_us", "connects",
                                    "errors", "netstat", "rate", "warnings",
                                    "cut_short", "exit_status", "elapsed_s",
                                    "measured_s"]),
     "JSON has the parameters, throughput, connect and first-reply times, errors, netstat")
t.ok(sorted(get(doc, "errors", default={})) ==
     sorted(["refused", "reset", "closed", "timeout", "connect_timeout",
             "mismatch", "other", "total"]), "errors split by kind")
t.ok(all(k in (get(doc, "connects") or {}) for k in
         ["attempted", "established", "syn_retrans", "syn_retrans_method",
          "slow_connects"]), "JSON connects: SYN retransmissions and how they are counted")
t.ok(isinstance(get(doc, "netstat"), dict) and
     "ListenOverflows" in doc["netstat"] and "ListenDrops" in doc["netstat"],
     "JSON netstat: ListenOverflows and ListenDrops deltas")
b = lat.get("buckets", [])
t.ok(b and all(c > 0 for _, c in b) and sum(c for _, c in b) == lat.get("count")
     and all(b[i][0] < b[i + 1][0] for i in range(len(b) - 1)),
     "histogram buckets: non-empty only, increasing, counts add up (%d buckets)" % len(b))
ps = [lat.get(k, 0) for k in ["min", "p50", "p90", "p99", "p99_9", "p99_99", "max"]]
t.ok(ps == sorted(ps) and ps[0] > 0, "min <= p50 <= ... <= max")
t.ok(get(doc, "connect_us", "count") == 4 and get(doc, "first_reply_us", "count") == 4
     and get(doc, "connects", "established") == 4,
     "4 connect times and 4 first-reply times")
t.ok(get(doc, "first_reply_us", "min", default=0) >= get(doc, "connect_us", "min", default=1),
     "a first reply comes after the connect")
p = get(doc, "params", default={})
t.ok(p.get("sessions") == 4 and p.get("requests") == 400 and p.get("mode") == "closed"
     and p.get("size") == 16 and p.get("verify") is True, "JSON params")

with pyserver() as srv:
    st, out, err, secs = run([LG, "-p", str(srv.port), "-c", "2", "-n", "50", "--csv"])
    rows = out.decode().splitlines()
    st2, out2, err2, _ = run([LG, "-p", str(srv.port), "-c", "2", "-n", "50", "-q"])
t.ok(st == 0 and len(rows) == 2 and len(rows[0].split(",")) == len(rows[1].split(","))
     and dict(zip(rows[0].split(","), rows[1].split(","))).get("completed") == "50",
     "--csv: a header and one row instead of the summary")
t.ok(st2 == 0 and out2 == b"", "--quiet: nothing on stdout")

# ---- verification --------------------------------------------------------

with pyserver("--corrupt", 10) as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 2, "-n", 100])
    st2, _, _, _, doc2 = loadgen(["-p", srv.port, "-c", 2, "-n", 100, "--no-verify"])
t.ok(st == 1 and get(doc, "errors", "mismatch") == 1,
     "a server that corrupts one reply: mismatch 1 and exit 1")
t.ok(get(doc, "requests", "completed") == 99 and get(doc, "requests", "failed") == 1,
     "99 good replies, 1 failed")
t.ok(st2 == 0 and get(doc2, "requests", "completed") == 100,
     "--no-verify counts any line as a reply")

with pyserver() as srv:
    st, _, err, _, doc = loadgen(["-p", srv.port, "-c", 2, "-n", 20,
                                  "--request", "hello, World\\r\\n"])
t.ok(st == 0 and get(doc, "requests", "completed") == 20 and
     get(doc, "params", "request") == "hello, World\r\n",
     "--request with escapes, verified against its upper-cased form")

# ---- latency against a known delay --------------------------------------

DELAY = 0.020
with pyserver("--delay", DELAY) as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 4, "-n", 80])
p50 = get(doc, "latency_us", "p50", default=0) / 1e6
t.ok(st == 0 and 0.9 * DELAY <= p50 <= 3 * DELAY,
     "a server that delays each reply %g ms: p50 %.2f ms (0.9x..3x)" % (DELAY * 1e3, p50 * 1e3))

# ---- -k 0: a connection per request -------------------------------------

with pyserver() as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-k", 0, "-c", 2, "-n", 60])
t.ok(st == 0 and get(doc, "requests", "completed") == 60 and
     get(doc, "connects", "established") == 60 and get(doc, "connect_us", "count") == 60,
     "-k 0: 60 requests on 60 connections")
show(doc, err) if st else None

# ---- open loop: a stall shows in the corrected figures only -------------

STALL = 0.3
with pyserver("--stall-after", 1000, "--stall", STALL) as srv:
    # 6000 requests: the 4 that were in flight during the stall are fewer
    # than 0.1 %, so even the uncorrected p99.9 does not see them.
    st, out, err, secs, doc = loadgen(["-p", srv.port, "--rate", 2000, "-c", 4,
                                       "-n", 6000])
c = get(doc, "latency_us", default={})
u = get(doc, "latency_uncorrected_us", default={})
t.diag("corrected p50 %.0f p99 %.0f p99.9 %.0f max %.0f us; uncorrected p50 %.0f "
       "p99 %.0f p99.9 %.0f max %.0f us" % tuple(d.get(k, 0) for d in (c, u)
                                                for k in ("p50", "p99", "p99_9", "max")))
t.ok(st == 0 and get(doc, "params", "mode") == "open", "open loop --rate 2000 -c 4: exit 0")
t.ok(c.get("max", 0) >= 0.8 * STALL * 1e6 and c.get("p99_9", 0) >= 0.8 * STALL * 1e6,
     "a %g ms stall: corrected p99.9 and max show it" % (STALL * 1e3))
t.ok(c.get("p99", 0) >= 0.3 * STALL * 1e6,
     "requests due during the stall count from their due time: corrected p99 >= 0.3x the stall")
t.ok(u.get("p99", 1e12) * 5 < c.get("p99", 0) and u.get("p99_9", 1e12) < c.get("p99_9", 0),
     "uncorrected p99 and p99.9 are clearly lower (coordinated omission)")
t.ok(u.get("max", 0) >= 0.8 * STALL * 1e6, "the uncorrected max still sees the stall once")

with pyserver() as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "--rate", 10000000, "-c", 1,
                                       "-n", 1000])
t.ok(get(doc, "rate", "short") is True and get(doc, "warnings") and "warning" in err,
     "a rate that is not reached: a warning on stderr and in the JSON")

with pyserver() as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 2, "-d", "600ms",
                                       "--warmup", "300ms"])
t.ok(st == 0 and get(doc, "requests", "warmup_replies", default=0) > 0 and
     get(doc, "latency_us", "count") == get(doc, "requests", "completed") and
     get(doc, "measured_s", default=1) < get(doc, "elapsed_s", default=0),
     "--warmup: warm-up replies are left out of the figures")

# ---- errors ---------------------------------------------------------------

port = free_port()
st, out, err, secs, doc = loadgen(["-p", port, "-c", 3, "-n", 10])
t.ok(st == 1 and get(doc, "errors", "refused") == 3 and get(doc, "sessions_lost") == 3,
     "nobody listening: 3 refused, exit 1")

with pyserver("--stall-after", 20, "--stall", 4) as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 2, "-n", 1000,
                                       "--timeout", "300ms"])
t.ok(st == 1 and get(doc, "errors", "timeout", default=0) >= 1 and secs < 4,
     "a server that stops answering: timeout errors, exit 1, before the stall ends "
     "(%.1f s)" % secs)

# The server is killed mid-run: partial figures, exit 1, no hang.
srv = pyserver("--announce", 300)
jpath = os.path.join(TMP, "killed.json")
lg = subprocess.Popen([LG, "-p", str(srv.port), "-c", "4", "-d", "30s",
                       "--timeout", "5s", "--json", jpath],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
served = srv.wait_line("^served 300$", timeout=20)
srv.proc.kill()
try:
    out, err = lg.communicate(timeout=20)
except subprocess.TimeoutExpired:
    lg.kill()
    out, err = lg.communicate()
srv.stop()
try:
    doc = json.load(open(jpath))
except (OSError, ValueError):
    doc = None
t.ok(served is not None and lg.returncode == 1,
     "a server killed mid-run: loadgen exits 1 (status %s)" % lg.returncode)
t.ok(get(doc, "requests", "completed", default=0) >= 300 and
     get(doc, "cut_short") is True and b"requests/s" in out and
     get(doc, "elapsed_s", default=99) < 30,
     "with the partial figures, long before -d 30s")
t.ok(get(doc, "errors", "closed", default=0) + get(doc, "errors", "reset", default=0) >= 1
     and get(doc, "sessions_lost") == 4, "the lost sessions are counted as closed/reset")

# Ctrl-C: the figures so far, exit 1.
with pyserver("--announce", 200) as srv:
    jpath = os.path.join(TMP, "int.json")
    lg = subprocess.Popen([LG, "-p", str(srv.port), "-c", "2", "-d", "30s",
                           "--json", jpath],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    served = srv.wait_line("^served 200$", timeout=20)
    lg.send_signal(signal.SIGINT)
    try:
        out, err = lg.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        lg.kill()
        out, err = lg.communicate()
try:
    doc = json.load(open(jpath))
except (OSError, ValueError):
    doc = None
t.ok(served is not None and lg.returncode == 1 and get(doc, "interrupted") is True
     and get(doc, "requests", "completed", default=0) >= 200 and b"requests/s" in out,
     "SIGINT: partial figures, exit 1")

# ---- the backlog: SYNs dropped and retried --------------------------------

# listen(1) holds 2 connections; the others' SYNs are dropped until the
# server starts accepting, 1.5 s later, and get in on a retry.
ACC = 1.5
with pyserver("--backlog", 1, "--accept-delay", ACC) as srv:
    st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 6, "-n", 6])
cn = get(doc, "connects", default={})
t.diag("connect p50 %s max %s us, first reply min %s us; syn_retrans %s slow %s; "
       "netstat %s" % (get(doc, "connect_us", "p50"), get(doc, "connect_us", "max"),
                       get(doc, "first_reply_us", "min"), cn.get("syn_retrans"),
                       cn.get("slow_connects"), get(doc, "netstat")))
t.ok(st == 0 and cn.get("established") == 6, "6 sessions against listen(1): all served")
t.ok(cn.get("syn_retrans", 0) >= 1 and cn.get("slow_connects", 0) >= 1,
     "connects that needed a SYN retransmission are counted (TCP_INFO and >= 1 s)")
t.ok(get(doc, "first_reply_us", "min", default=0) >= 0.8 * ACC * 1e6 and
     get(doc, "connect_us", "min", default=1e12) < 0.5 * ACC * 1e6,
     "a queued session connects at once, but its first reply waits for accept()")
t.ok(get(doc, "netstat", "ListenOverflows", default=0) >= 1,
     "ListenOverflows went up")

# ---- the progress line on a terminal ---------------------------------------

with pyserver("--delay", 0.001) as srv:
    master, slave = pty.openpty()
    p = subprocess.Popen([LG, "-p", str(srv.port), "-c", "2", "-d", "2500ms"],
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    got = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    p.wait(10)
    os.close(master)
t.ok(b"\r" in got and b"replies" in got, "a live progress line on stderr when it is a terminal")

# ---- the real servers ----------------------------------------------------------

if have("server"):
    with start_server(["server", "--model", "thread", "--port", "0", "-q"]) as srv:
        st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 20, "-t", 2,
                                           "-n", 4000, "-s", 100])
        st2, _, err2, _, doc2 = loadgen(["-p", srv.port, "-c", 4, "-P", 16, "-n", 8000])
        st3, _, err3, _, doc3 = loadgen(["-p", srv.port, "-c", 4, "-k", 0, "-n", 200])
    t.ok(st == 0 and get(doc, "requests", "completed") == 4000,
         "bin/server thread: 20 sessions on 2 threads, 100-byte lines, all verified")
    show(doc, err) if st else None
    t.ok(st2 == 0 and get(doc2, "requests", "completed") == 8000, "-P 16 pipelined")
    t.ok(st3 == 0 and get(doc3, "requests", "completed") == 200, "-k 0 against bin/server")
    with start_server(["server", "--model", "epoll", "--port", "0", "-q",
                       "--backlog", "4096"]) as srv:
        st, out, err, secs, doc = loadgen(["-p", srv.port, "-c", 2000, "-t", 2,
                                           "-n", 6000])
    t.ok(st == 0 and get(doc, "connects", "established") == 2000 and
         get(doc, "requests", "completed") == 6000,
         "2000 sessions at once against bin/server epoll")
    show(doc, err) if st else None
else:
    for name in ["thread", "-P 16", "-k 0", "2000 sessions"]:
        t.skip("bin/server: " + name, "bin/server is not built")

# ---- beside redis-benchmark ----------------------------------------------------

if shutil.which("redis-server") and shutil.which("redis-benchmark"):
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ready = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and redis.poll() is None:
        line = redis.stdout.readline()
        if b"Ready to accept connections" in line:
            ready = True
            break
    N = 40000
    rb, lgr, rb_cpu, lg_cpu = [], [], [], []

    def cpu_run(args):
        """run(), and the CPU time (user + sys) the program used."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = run(args, timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return res, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    if ready:
        # Interleaved rounds.  Requests/s on this shared 2-core machine
        # swing with whatever else runs; CPU seconds per request do not,
        # and they say whether the client could be the bottleneck.
        for _ in range(3):
            (st, out, _, _), cpu = cpu_run([shutil.which("redis-benchmark"), "-p",
                                            str(rport), "-t", "ping_inline", "-c", "50",
                                            "-n", str(N), "--csv"])
            m = re.search(rb'"PING_INLINE","([0-9.]+)"', out)
            rb.append(float(m.group(1)) if m else 0.0)
            rb_cpu.append(cpu)
            jpath = os.path.join(TMP, "redis.json")
            (st, _, _, _), cpu = cpu_run([LG, "-p", str(rport), "-c", "50", "-n", str(N),
                                          "--request", "PING\\r\\n", "--no-verify",
                                          "-q", "--json", jpath])
            try:
                doc = json.load(open(jpath))
            except (OSError, ValueError):
                doc = None
            lgr.append(get(doc, "throughput_rps", default=0) if st == 0 else 0)
            lg_cpu.append(cpu)
    redis.kill()
    redis.wait()
    med = lambda v: sorted(v)[len(v) // 2] if v else 0
    ratio = med(lgr) / med(rb) if med(rb) else 0
    cpu_ratio = med(lg_cpu) / med(rb_cpu) if med(rb_cpu) else 99
    t.diag("redis-benchmark ping_inline -c 50 -n %d: %s req/s, %s s CPU; loadgen: %s req/s, "
           "%s s CPU" % (N, ["%.0f" % x for x in rb], ["%.2f" % x for x in rb_cpu],
                         ["%.0f" % x for x in lgr], ["%.2f" % x for x in lg_cpu]))
    t.diag("medians: requests/s ratio loadgen/redis-benchmark %.2f, CPU ratio %.2f"
           % (ratio, cpu_ratio))
    # A sanitizer build of loadgen pays for its instrumentation in CPU:
    # the comparison only means something for the plain build.
    if "/san-" in LG:
        t.ok(ready and min(lgr) > 0,
             "loadgen drives redis-server (CPU not compared: sanitizer build)")
    else:
        t.ok(ready and min(lgr) > 0 and cpu_ratio <= 1.0,
             "loadgen needs no more CPU per request than redis-benchmark "
             "(ratio %.2f)" % cpu_ratio)
else:
    t.skip("beside redis-benchmark", "redis-server or redis-benchmark missing")

t.done()
