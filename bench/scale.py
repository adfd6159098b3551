#!/usr/bin/env python3
"""make bench-scale: what each design costs at S persistent sessions (issue 13).

For each event model (across --procs processes where the server offers
them: the `procs` trait of --list-models=tsv) and for thread and fork,
open S sessions (default 100,000) from several loopback source addresses
at --connect-rate, ask each for a line every --gap seconds (open loop, so
the latency is corrected for coordinated omission) for --duration after
they are all open, and report: sessions
held, whether every one was served (a reply on each), requests/s,
latency p50/p99, connect p99, SYN retries, the server's memory per session
(PSS summed over its processes, less its idle footprint), the kernel's TCP
buffer memory (/proc/net/sockstat, both ends), and the time until the server held
them all.  thread and fork go as far as they can: their row gives the
ceiling reached and why.  Results: results/<date>-scale/ (table.md,
scale.csv, the JSON of every run).  Everything is bounded in time and the
server and loadgen are stopped after each model.

Two walls shape the run (README): one process holds at most RLIMIT_NOFILE
descriptors (20,000 here, hard), so S sessions take several loadgen
processes (--procs) and, past that, several server processes; and one
client address reaches one server port from ~28k ephemeral ports, so the
sessions are spread over 127.0.0.2, 127.0.0.3, ... (--source).
"""
import argparse
import csv
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time

SPARE_FDS = 200          # per process, beyond its sessions
PORTS_PER_ADDR = 20000   # well inside the ~28k ephemeral ports of one address
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print("bench-scale: " + msg, file=sys.stderr, flush=True)


def models(binary):
    """[(name, traits)] from bin/server --list-models=tsv."""
    out = subprocess.run([os.path.join(binary, "server"), "--list-models=tsv"],
                         stdout=subprocess.PIPE, check=True, timeout=10).stdout
    rows = [l.split("\t") for l in out.decode().splitlines() if l.strip()]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def nofile():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


# ---- the server's processes, sockets and memory, from /proc ----------------

def tree(pid):
    """pid and its descendants (every thread's children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return out


def socket_inodes(pids):
    """The sockets open in pids (a socket shared by fork counted once)."""
    seen = set()
    for p in pids:
        d = "/proc/%d/fd" % p
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for fd in names:
            try:
                link = os.readlink(os.path.join(d, fd))
            except OSError:
                continue
            if link.startswith("socket:"):
                seen.add(link)
    return seen


def pss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


def threads(pids):
    n = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                n += next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
        except (OSError, ValueError, StopIteration):
            continue
    return n


def sockstat():
    """TCP sockets allocated and their memory in bytes (the whole machine)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                v = line.split()[1:]
                kv = dict(zip(v[::2], (int(x) for x in v[1::2])))
                return kv.get("alloc", 0), kv.get("mem", 0) * PAGE
    return 0, 0


def tcpext(names):
    """TcpExt counters from /proc/net/netstat (the whole namespace)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            kv = dict(zip(head.split()[1:], vals.split()[1:]))
            return {n: int(kv.get(n, 0)) for n in names}
    return {n: 0 for n in names}


TCPEXT = ["TCPSynRetrans", "ListenOverflows", "ListenDrops"]


# ---- one model ----------------------------------------------------------------

class Server:
    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.err = []
        threading.Thread(target=self._drain, daemon=True).start()
        line = self.proc.stdout.readline().decode(errors="replace")
        m = re.match(r"listening on .*:(\d+) ", line)
        if not m:
            self.stop()
            raise RuntimeError("%s: no 'listening on' line (%r, %r)" %
                               (" ".join(args), line, self.err[:3]))
        self.port = int(m.group(1))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            if len(self.err) < 50:
                self.err.append(raw.decode(errors="replace").rstrip())

    def stop(self, drain=10):
        """SIGTERM, then SIGKILL to the whole session (its children too)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(drain)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def plan(a, model):
    """(server processes, loadgen processes, source addresses, sessions)."""
    per = nofile() - SPARE_FDS
    s = a.sessions
    if model["name"] == "fork":
        s = min(s, a.fork_max)
    sprocs = math.ceil(s / per) if model.get("procs") == "1" else 1
    return sprocs, max(1, math.ceil(s / per)), max(2, math.ceil(s / PORTS_PER_ADDR)), s


def ceiling_reason(srv_err, lg, held, want, capped):
    if held >= want and not capped:
        return "-"
    for line in srv_err:
        if re.search(r"Too many open files|Resource temporarily|Cannot allocate|"
                     r"busy|limit", line):
            return "server: " + re.sub(r"^server: ", "", line)[:120]
    if capped and held >= want:
        return capped
    errs = {k: v for k, v in (lg or {}).get("errors", {}).items() if v and k != "total"}
    return "loadgen errors: %s" % errs if errs else "not all accepted within the run"


def run_model(a, model, outdir):
    name = model["name"]
    sprocs, lprocs, nsrc, want = plan(a, model)
    capped = ("capped at --fork-max %d: pid_max %s is the whole machine's" %
              (a.fork_max, open("/proc/sys/kernel/pid_max").read().strip())
              if name == "fork" and want < a.sessions else "")
    args = [os.path.join(a.bin, "server"), "--model", name, "--port", "0", "-q",
            "--backlog", str(a.backlog), "--idle-timeout", "0", "--max-clients", "0"]
    if sprocs > 1:
        args += ["--procs", str(sprocs)]
    srv = Server(args)
    pids = tree(srv.proc.pid)
    base_socks = socket_inodes(pids)
    base_pss = pss_kb(pids)
    base_alloc, base_mem = sockstat()
    base_ext = tcpext(TCPEXT)
    open_s = want / a.connect_rate
    # Open loop: session k's first request is due k/rate after its
    # opening, at most one gap: by the end of the warm-up every session
    # has been asked once, and the window asks each again.
    rate = want / a.gap if a.gap else 0
    warm = open_s + a.gap + 3
    js = os.path.join(outdir, "%s.json" % name)
    lg_args = [os.path.join(a.bin, "loadgen"), "-p", str(srv.port), "-c", str(want),
               "--procs", str(lprocs), "--source", "127.0.0.2-127.0.0.%d" % (1 + nsrc),
               "--connect-rate", str(a.connect_rate), "--warmup", "%.3fs" % warm,
               "-d", "%gs" % a.duration, "--timeout", "%gs" % max(10, warm),
               "--connect-timeout", "10s", "-q", "--json", js]
    if rate:
        lg_args += ["-R", "%g" % rate]
    log("%s: %d sessions, %d server process(es), %d loadgen process(es), %d source "
        "addresses" % (name, want, sprocs, lprocs, nsrc))
    t0 = time.monotonic()
    lg = subprocess.Popen(lg_args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lg_err = []
    threading.Thread(target=lambda: lg_err.extend(lg.stderr.read().decode(
        errors="replace").splitlines()), daemon=True).start()
    held, t_all, sample, last, still = 0, None, None, -1, 0
    deadline = t0 + warm + a.duration + 30
    while lg.poll() is None and time.monotonic() < deadline:
        pids = tree(srv.proc.pid)
        held = len(socket_inodes(pids) - base_socks)
        if held >= want and t_all is None:
            t_all = time.monotonic() - t0
        still = still + 1 if held == last else 0
        last = held
        # All held, or no change for 1.5 s once the opening should be
        # over: the memory then is that of the sessions held.
        if sample is None and (held >= want or (still >= 3 and
                                                time.monotonic() - t0 > open_s)):
            alloc, mem = sockstat()
            sample = {"held": held, "pss_kb": pss_kb(pids) - base_pss,
                      "procs": len(pids), "threads": threads(pids),
                      "tcp_alloc": alloc - base_alloc, "tcp_mem": mem - base_mem}
        time.sleep(0.5)
    if lg.poll() is None:
        log("%s: loadgen still running at the deadline: stopped" % name)
        lg.send_signal(signal.SIGTERM)
        try:
            lg.wait(15)
        except subprocess.TimeoutExpired:
            lg.kill()
            lg.wait()
    ext = tcpext(TCPEXT)
    srv.stop()
    try:
        with open(js) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = None
    sample = sample or {"held": held, "pss_kb": 0, "procs": 0, "threads": 0,
                        "tcp_alloc": 0, "tcp_mem": 0}
    return row(name, want, sprocs, lprocs, doc, sample, t_all, ext, base_ext,
               ceiling_reason(srv.err, doc, sample["held"], want, capped), lg.returncode,
               lg_err, srv.proc.pid)


def row(name, want, sprocs, lprocs, doc, smp, t_all, ext, base_ext, reason, status, lg_err,
        pid):
    d = doc or {}
    held = smp["held"]
    served = d.get("first_reply_us", {}).get("count", 0)

    def pct(h, k):
        v = d.get(h, {}).get(k)
        return "" if v is None else round(v / 1000, 3)
    return {
        "model": name, "server_procs": sprocs, "loadgen_procs": lprocs,
        "sessions": want, "held": held, "served": served,
        "requests_s": round(d.get("throughput_rps", 0)),
        "p50_ms": pct("latency_us", "p50"), "p99_ms": pct("latency_us", "p99"),
        "connect_p99_ms": pct("connect_us", "p99"),
        "syn_retrans_sockets": d.get("connects", {}).get("syn_retrans", ""),
        "tcpext_syn_retrans": ext["TCPSynRetrans"] - base_ext["TCPSynRetrans"],
        "listen_overflows": ext["ListenOverflows"] - base_ext["ListenOverflows"],
        "pss_per_session_kb": round(smp["pss_kb"] / held, 2) if held else "",
        "server_processes": smp["procs"], "server_threads": smp["threads"],
        "kernel_tcp_mem_mb": round(smp["tcp_mem"] / 2**20, 1),
        "tcp_alloc": smp["tcp_alloc"],
        "kernel_tcp_per_session_kb": round(smp["tcp_mem"] / 1024 / held, 2) if held else "",
        "open_all_s": "" if t_all is None else round(t_all, 1),
        "loadgen_status": status, "ceiling": reason, "server_pid": pid,
        "loadgen_errors": "; ".join(lg_err[-3:]),
    }


COLS = [("model", "model"), ("server_procs", "procs"), ("held", "held"),
        ("served", "served"), ("requests_s", "req/s"), ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"), ("connect_p99_ms", "connect p99 ms"),
        ("syn_retrans_sockets", "SYN retries"), ("pss_per_session_kb", "PSS/session kB"),
        ("kernel_tcp_mem_mb", "kernel TCP buffers MB"), ("open_all_s", "open all s"),
        ("ceiling", "ceiling")]


def write(outdir, rows, a):
    with open(os.path.join(outdir, "scale.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write("# %d sessions per model (make bench-scale)\n\n" % a.sessions)
        f.write("Loadgen: --connect-rate %g, warm-up until all are open, then %gs measured, "
                "%s; sources 127.0.0.2 on.  Descriptor limit (hard) %d.\n\n" % (
                    a.connect_rate, a.duration,
                    "open loop, a request per session every %g s" % a.gap if a.gap
                    else "closed loop", nofile()))
        f.write("| " + " | ".join(h for _, h in COLS) + " |\n")
        f.write("|" + "---|" * len(COLS) + "\n")
        for r in rows:
            f.write("| " + " | ".join(str(r[k]) for k, _ in COLS) + " |\n")
        f.write("\nheld: sockets the server's processes held when all were open (or when "
                "the count stopped growing); served: sessions that got a reply.  "
                "PSS/session: the server's PSS over all its processes then, less its idle "
                "PSS, per session held.  kernel TCP buffers: /proc/net/sockstat TCP mem "
                "growth (pages holding queued data, both ends, the whole machine; an "
                "idle socket holds none, its own structures are not counted), and "
                "tcp_alloc in scale.csv the sockets allocated.  SYN retries: "
                "connections whose socket counted a retransmission (TCP_INFO); the "
                "machine's TcpExt TCPSynRetrans and ListenOverflows growth is in scale.csv.  "
                "open all: from loadgen's start until the server held every session "
                "(polled each 0.5 s).\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="directory of bin/server and bin/loadgen")
    ap.add_argument("--sessions", type=int,
                    default=int(os.environ.get("SCALE") or 100000),
                    help="sessions per model (default $SCALE or 100000)")
    ap.add_argument("--models", help="comma-separated (default: the event models, "
                    "thread and fork)")
    ap.add_argument("--connect-rate", type=float, default=5000, help="sessions/s (default 5000)")
    ap.add_argument("--duration", type=float, default=10, help="measured s (default 10)")
    ap.add_argument("--gap", type=float, default=5,
                    help="open loop: a request per session every GAP s (default 5; "
                    "0: closed loop, as fast as each session is answered)")
    ap.add_argument("--backlog", type=int, default=1024)
    ap.add_argument("--fork-max", type=int, default=5000,
                    help="fork's sessions at most (default 5000: its processes share "
                    "the machine's pid_max with everyone)")
    ap.add_argument("--out", help="directory (default results/<date>-scale)")
    a = ap.parse_args()
    if a.sessions < 1 or a.connect_rate <= 0 or a.duration <= 0 or a.fork_max < 1:
        ap.error("--sessions, --connect-rate, --duration and --fork-max must be positive")
    if a.gap < 0 or (a.gap and a.duration < a.gap):
        ap.error("--gap must be 0 or at most --duration")
    table = models(a.bin)
    names = a.models.split(",") if a.models else [
        m["name"] for m in table if m.get("event") == "1" or m["name"] in ("thread", "fork")]
    byname = {m["name"]: m for m in table}
    bad = [n for n in names if n not in byname]
    if bad:
        ap.error("unknown model(s): %s" % ",".join(bad))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = a.out or os.path.join(repo, "results", time.strftime("%Y-%m-%d") + "-scale")
    os.makedirs(outdir, exist_ok=True)
    rows = []
    for n in names:
        if byname[n].get("unavailable", "-") != "-":
            log("%s: skipped, %s" % (n, byname[n]["unavailable"]))
            continue
        rows.append(run_model(a, byname[n], outdir))
        log("%s: held %s, served %s, %s req/s" % (n, rows[-1]["held"], rows[-1]["served"],
                                                  rows[-1]["requests_s"]))
    if not rows:
        sys.exit("bench-scale: no model ran")
    write(outdir, rows, a)
    print(open(os.path.join(outdir, "table.md")).read())
    print("bench-scale: results in %s" % outdir)


if __name__ == "__main__":
    main()
