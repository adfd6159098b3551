#!/usr/bin/env python3
"""loadgen_vs_redis.py - bin/loadgen beside redis-benchmark, same server,
same load, in one run.

Starts redis-server on a free loopback port (no persistence), then runs,
interleaved ROUNDS times:

    redis-benchmark -p PORT -t ping_inline -c C -n N
    loadgen -p PORT -c C -n N --request 'PING\\r\\n' --no-verify

and prints each figure (throughput; p50/p99 latency, which both measure
from send to reply; the CPU seconds each client used), the medians and the
ratios loadgen / redis-benchmark.  On a shared machine requests/s swing
with the other load; CPU seconds per request hardly do.
Exit status 0 if the ratio of the medians is at least --min-ratio (default 1.0).

    python3 tests/lib/loadgen_vs_redis.py [-c 50] [-n 200000] [--rounds 3]
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis():
    for _ in range(5):
        port = free_port()
        p = subprocess.Popen([shutil.which("redis-server"), "--port", str(port),
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            if b"Ready to accept connections" in p.stdout.readline():
                return p, port
        p.kill()
        p.wait()
    sys.exit("redis-server did not start")


def cpu_run(args):
    """subprocess.run, plus the user + sys seconds the child used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(args, capture_output=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-ratio", type=float, default=1.0)
    ap.add_argument("--loadgen", default=os.path.join(
        os.environ.get("SOCKLAB_BIN") or os.path.join(REPO, "bin"), "loadgen"))
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        sys.exit("redis-server and redis-benchmark are needed")

    redis, port = start_redis()
    rb, lg, lat, rb_cpu, lg_cpu = [], [], [], [], []
    tmp = tempfile.mkdtemp(prefix="lg-vs-redis-")
    try:
        for i in range(a.rounds):
            r, cpu = cpu_run([shutil.which("redis-benchmark"), "-p", str(port),
                              "-t", "ping_inline", "-c", str(a.c), "-n", str(a.n), "--csv"])
            out = r.stdout
            rb_cpu.append(cpu)
            m = re.search(rb'"PING_INLINE","([0-9.]+)","([0-9.]+)","([0-9.]+)",'
                          rb'"([0-9.]+)","([0-9.]+)","([0-9.]+)"', out)
            rb.append(float(m.group(1)) if m else 0.0)
            rb_p50 = float(m.group(4)) * 1e3 if m else 0.0
            rb_p99 = float(m.group(6)) * 1e3 if m else 0.0
            path = os.path.join(tmp, "lg%d.json" % i)
            r, cpu = cpu_run([a.loadgen, "-p", str(port), "-c", str(a.c), "-n", str(a.n),
                              "--request", "PING\\r\\n", "--no-verify", "-q",
                              "--json", path])
            lg_cpu.append(cpu)
            with open(path) as f:
                doc = json.load(f)
            lg.append(doc["throughput_rps"] if r.returncode == 0 else 0.0)
            lat.append({"redis_benchmark_p50_us": rb_p50, "redis_benchmark_p99_us": rb_p99,
                        "loadgen_p50_us": doc["latency_us"]["p50"],
                        "loadgen_p99_us": doc["latency_us"]["p99"]})
            print("round %d: redis-benchmark %.0f req/s (p50 %.0f us, p99 %.0f us, "
                  "%.2f s CPU), loadgen %.0f req/s (p50 %.0f us, p99 %.0f us, %.2f s CPU)"
                  % (i + 1, rb[-1], rb_p50, rb_p99, rb_cpu[-1], lg[-1],
                     doc["latency_us"]["p50"], doc["latency_us"]["p99"], lg_cpu[-1]),
                  flush=True)
    finally:
        redis.kill()
        redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = statistics.median(lg) / statistics.median(rb) if statistics.median(rb) else 0
    cpu_ratio = statistics.median(lg_cpu) / statistics.median(rb_cpu)
    print("median: redis-benchmark %.0f req/s, loadgen %.0f req/s, ratio %.2f; "
          "CPU %.2f s vs %.2f s, ratio %.2f (-c %d -n %d, PING inline)"
          % (statistics.median(rb), statistics.median(lg), ratio,
             statistics.median(rb_cpu), statistics.median(lg_cpu), cpu_ratio, a.c, a.n))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"sessions": a.c, "requests": a.n, "redis_benchmark_rps": rb,
                       "loadgen_rps": lg, "latency": lat, "ratio_of_medians": ratio,
                       "redis_benchmark_cpu_s": rb_cpu, "loadgen_cpu_s": lg_cpu,
                       "cpu_ratio_of_medians": cpu_ratio},
                      f, indent=1)
    return 0 if ratio >= a.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
