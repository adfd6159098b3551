#!/usr/bin/env python3
"""bench.py - the driver behind `make bench`: every server model under the
same load, measured, written to results/<date>-<host>/ with plots.

For each model that `bin/server --list-models` prints, and for redis-server
as a reference line server when it is installed: one run per concurrency
of persistent sessions (1, 10, 50, 100, 1000) and one connection-per-request
run (-k 0).  Each run starts the server on an ephemeral port, waits for its
readiness line, runs bin/loadgen, stops the server with SIGTERM and collects
its CPU time (wait4: user + sys of the server and of every child it reaped,
Stevens' measure) and, at the top concurrency, its memory (RSS and PSS of
the server and its children, from /proc).  The runs go by concurrency, all
targets at one before the next, so that what a table column compares was
measured close together; bin/pingpong (the floor) runs around each
one-session run.  Then hyperfine times one fixed workload per model, and
the report, the CSV and the gnuplot SVGs are written.

    bench/bench.py [--quick] [--bin DIR] [--out DIR] [--models a,b]
    bench/bench.py --one MODEL ...     one fixed workload (used by hyperfine)

Python 3 standard library only.  Everything started is stopped, also on
Ctrl-C.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rank  # noqa: E402  (bench/rank.py: medians, intervals, ties)
import siderun  # noqa: E402  (pinning; short side runs: issue 12)
import syscount  # noqa: E402
import uringratio  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))

# Redis answers an inline PING padded with spaces to loadgen's default
# 16-byte line: the same request size as the socklab runs (reply +PONG\r\n,
# 7 bytes, against socklab's 16).
REDIS_REQUEST = "PING" + " " * 10 + "\\r\\n"
REDIS_REQUEST_BYTES = 16
LINE_BYTES = 16

# Bulk loads: one session, BULK_PIPELINE lines in flight, big lines; the
# figure is bytes/s of lines upper-cased (issue 10).
BULK_SIZES = {"1k": 1024, "16k": 16384, "64k": 65536}
BULK = {}                       # label -> line bytes, filled by parse_args
BULK_PIPELINE = 8

# An external server answers this line with it upper-cased when it is up.
PROBE = b"socklab probe\n"

# The lab's Python thread server (lab/, the slides' program corrected): a
# reference row, so that students see the cost of their language and design.
LAB_THREAD = ("lab-thread", [sys.executable,
                             os.path.join(os.path.dirname(os.path.dirname(
                                 os.path.abspath(__file__))), "lab",
                                 "tcp_server_thread.py"),
                             "{port}", "--quiet"])

PCTS = ["p50", "p90", "p99", "p99.9", "p99.99"]


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def log(msg):
    print(msg, flush=True)


def warn(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------
# Processes: every one we start is registered and stopped in the end.

class Registry:
    def __init__(self):
        self.procs = []

    def add(self, p):
        self.procs.append(p)
        return p

    def forget(self, p):
        if p in self.procs:
            self.procs.remove(p)

    def kill_all(self):
        for p in list(self.procs):
            kill_tree(p)
        self.procs = []


REG = Registry()


def kill_tree(p, grace=2.0):
    """SIGTERM the process group we gave p, then SIGKILL what is left."""
    if p.returncode is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=5)
    except (subprocess.TimeoutExpired, ChildProcessError):
        pass


def free_port():
    """A port nobody listens on now, for redis-server (it has no --port 0
    readiness line)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Server:
    """A server under test: bin/server --model M, redis-server, an
    external server started from a command (`spec`: argv with {port}) or
    one already running (kind "connect", `spec`: (host, port)), which is
    neither started nor stopped, and has no CPU or memory figures."""

    def __init__(self, kind, model, bindir, logpath, workers=None,
                 spec=None):
        self.kind = kind
        self.model = model
        self.logpath = logpath
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.rusage = None
        self.cpu_before_stop = None
        self.status = None
        if kind == "connect":
            self.host, self.port = spec
            self.cmd = []
        elif kind == "external":
            self.port = free_port()
            self.cmd = [x.replace("{port}", str(self.port)) for x in spec]
        elif kind == "redis":
            self.port = free_port()
            self.cmd = ["redis-server", "--port", str(self.port),
                        "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "no",
                        "--maxclients", "10000"]
        elif kind == "floor":
            # bin/pingpong's echo alone, driven by loadgen like a model.
            self.cmd = [os.path.join(bindir, "pingpong"), "--serve", "0"]
        else:
            self.cmd = [os.path.join(bindir, "server"), "--model", model,
                        "--port", "0", "--quiet", "--backlog", "4096",
                        "--drain", "2"]
            if workers:
                self.cmd += ["--workers", str(workers)]
        self.cmd = siderun.pinned(self.cmd, "server")

    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=10.0):
        if self.kind == "connect":
            return self._wait_probe(timeout)
        self.logf = open(self.logpath, "wb")
        self.proc = REG.add(subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE if self.kind in ("model",
                                                             "floor")
            else self.logf, stderr=self.logf, stdin=subprocess.DEVNULL,
            start_new_session=True))
        try:
            if self.kind == "redis":
                self._wait_redis(timeout)
            elif self.kind == "external":
                self._wait_probe(timeout)
            else:
                self._wait_line(timeout)
        except BaseException:
            kill_tree(self.proc)
            REG.forget(self.proc)
            self.logf.close()
            raise

    def _wait_line(self, timeout):
        """Read the first stdout line 'listening on ADDR:PORT (...)'."""
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("%s: no 'listening on' line within %gs"
                                   % (self.model, timeout))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("%s: server exited before listening "
                                   "(see %s)" % (self.model, self.logpath))
            buf += chunk
        line = buf.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith("listening on "):
            raise RuntimeError("%s: unexpected first line %r"
                               % (self.model, line))
        addr = line.split()[2]
        self.port = int(addr.rsplit(":", 1)[1])

    def _wait_redis(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited (see %s)"
                                   % self.logpath)
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within %gs"
                           % timeout)

    def _wait_probe(self, timeout):
        """Up when a line comes back upper-cased: any server of the lab's
        protocol, whatever it prints."""
        deadline = time.monotonic() + timeout
        why = "no answer"
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError("%s exited before answering (see %s)"
                                   % (self.model, self.logpath))
            try:
                with socket.create_connection((self.host, self.port),
                                              timeout=1) as s:
                    s.sendall(PROBE)
                    got = b""
                    while not got.endswith(b"\n"):
                        chunk = s.recv(64)
                        if not chunk:
                            break
                        got += chunk
                    if got == PROBE.upper():
                        return
                    why = "answered %r to %r" % (got, PROBE)
            except OSError as e:
                why = str(e)
            time.sleep(0.05)
        raise RuntimeError("%s (%s:%d) not up within %gs: %s"
                           % (self.model, self.host, self.port, timeout, why))

    def cpu_from_proc(self):
        """utime+stime+cutime+cstime now, in seconds (children reaped so
        far only); kept beside the wait4 figure for comparison."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        # fields[0] is field 3 (state); utime is field 14.
        ut, st, cut, cst = (int(x) for x in fields[11:15])
        return {"user": (ut + cut) / hz, "sys": (st + cst) / hz,
                "total": (ut + st + cut + cst) / hz}

    def stop(self, timeout=10.0):
        """SIGTERM, then wait4 for the CPU time of the whole tree."""
        p = self.proc
        if p is None or p.returncode is not None:
            return
        before = self.cpu_from_proc()
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.monotonic() > deadline:
                warn("%s did not stop within %gs; killing it"
                     % (self.model, timeout))
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        # We reaped it ourselves: tell Popen, so that it does not try.
        p.returncode = os.waitstatus_to_exitcode(status)
        self.status = p.returncode
        self.rusage = {"user": ru.ru_utime, "sys": ru.ru_stime,
                       "total": ru.ru_utime + ru.ru_stime,
                       "source": "wait4 (server + reaped children)",
                       "max_rss_kb": ru.ru_maxrss}
        self.cpu_before_stop = before
        # Any child the server left behind dies with its group.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.stdout:
            p.stdout.close()
        self.logf.close()
        REG.forget(p)


# ---------------------------------------------------------------------
# Memory: RSS and PSS of a process tree, from /proc.

def proc_table():
    """{pid: (ppid, threads)} for every process, from /proc/PID/stat."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # fields[0] is stat field 3; ppid is 4, num_threads 20.
            table[int(d)] = (int(fields[1]), int(fields[17]))
        except (OSError, ValueError, IndexError):
            continue
    return table


def tree_pids(pid, table):
    kids = {}
    for p, (pp, _) in table.items():
        kids.setdefault(pp, []).append(p)
    todo, tree = [pid], []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(kids.get(p, []))
    return tree


def tree_count(pid):
    """(processes, threads, sockets) of pid: its children (from the main
    thread's children file; no model forks from another thread or has
    grandchildren), its threads, the sockets it holds.  Cheap next to
    reading smaps or every process's stat; a session lives in the main
    process (its socket counts) or in a child (the processes count)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            procs = 1 + len(f.read().split())
        with open("/proc/%d/stat" % pid) as f:
            threads = int(f.read().rsplit(")", 1)[1].split()[17])
    except (OSError, ValueError, IndexError):
        # No CONFIG_PROC_CHILDREN: walk every process instead.
        table = proc_table()
        tree = [p for p in tree_pids(pid, table) if p in table]
        procs, threads = len(tree), sum(table[p][1] for p in tree)
    socks = 0
    d = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, fd)).startswith("socket:"):
                    socks += 1
            except OSError:
                continue
    except OSError:
        pass
    return procs, threads, socks


def tree_memory(pid):
    """Sum of Rss and Pss (kB) over pid and its descendants.  Pss shares
    pages common to several processes (a forked child's copy-on-write
    pages) among them, so its sum is the tree's real footprint; the Rss
    sum counts shared pages once per process."""
    tree = tree_pids(pid, proc_table())
    rss = pss = 0
    threads = 0
    seen = 0
    for p in tree:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("Threads:"):
                        threads += int(line.split()[1])
            seen += 1
        except (OSError, ValueError):
            continue
    return {"processes": seen, "threads": threads, "rss_kb": rss,
            "pss_kb": pss}


class MemorySampler(threading.Thread):
    """One memory sample of the server tree under load, taken during the
    warm-up where possible (it is left out of the figures): from `start`
    seconds on, as soon as every session is accepted (or, for a design
    that serves only some at a time, once the count of its processes and
    sockets has stopped changing), and at `latest` whatever the state.  Reading smaps_rollup of a thousand processes costs a core
    a fraction of a second, so it is done once.  (/proc/net/tcp would say
    how many sessions are connected, but on a machine that has just made
    a hundred thousand connections, its TIME_WAIT entries take longer to
    read than the warm-up lasts.)"""

    def __init__(self, pid, sessions, start, latest):
        super().__init__(daemon=True)
        self.pid = pid
        self.sessions = sessions
        self.start_s = start
        self.latest = latest
        self.sample = None
        self.done_at = None
        self.stop_ev = threading.Event()

    def run(self):
        t0 = time.monotonic()
        if self.stop_ev.wait(self.start_s):
            return
        seen = []
        while True:
            # Every session accepted (a socket beside the listening
            # one, or a child, each); or, for a design that serves only
            # some, unchanged over six polls (0.5 s) with at least one.
            seen = (seen + [tree_count(self.pid)])[-6:]
            procs, _, socks = seen[-1]
            ready = (socks - 1) + (procs - 1) >= self.sessions or (
                len(seen) == 6 and seen.count(seen[0]) == 6 and
                (socks >= 2 or procs >= 2))
            if ready or time.monotonic() - t0 >= self.latest:
                break
            if self.stop_ev.wait(0.1):
                return
        sample = tree_memory(self.pid)
        sample["at_s"] = round(time.monotonic() - t0, 3)
        sample["settled"] = ready
        sample["main_sockets"] = seen[-1][2]
        self.done_at = time.monotonic()
        self.sample = sample

    def cancel(self):
        self.stop_ev.set()


# ---------------------------------------------------------------------
# Loadgen's JSON: every field the driver reads is read here.

def dig(j, *path, default=None):
    for k in path:
        if not isinstance(j, dict) or k not in j:
            return default
        j = j[k]
    return j


def lg_summary(j):
    """The figures the report uses, out of one loadgen JSON document."""
    lat = dig(j, "latency_us", default={}) or {}
    con = dig(j, "connect_us", default={}) or {}
    first = dig(j, "first_reply_us", default={}) or {}
    errs = dict(dig(j, "errors", default={}) or {})
    total = errs.pop("total", None)
    s = {
        "completed": dig(j, "requests", "completed", default=0),
        "failed": dig(j, "requests", "failed", default=0),
        "warmup_replies": dig(j, "requests", "warmup_replies", default=0),
        "rps": dig(j, "throughput_rps", default=0.0),
        "measured_s": dig(j, "measured_s", default=0.0),
        "mean_us": lat.get("mean"),
        "max_us": lat.get("max"),
        "connect": pct_keys(con),
        "first_reply": pct_keys(first),
        "errors": errs,
        "errors_total": total if total is not None else
        sum(v for v in errs.values() if isinstance(v, (int, float))),
        "sessions_replied": first.get("count"),
        "sessions_lost": dig(j, "sessions_lost"),
        "unanswered": dig(j, "unanswered"),
        "unanswered_warmup": dig(j, "unanswered_warmup"),
        "listen_overflows": dig(j, "netstat", "ListenOverflows"),
        "listen_drops": dig(j, "netstat", "ListenDrops"),
        "syn_retrans": dig(j, "connects", "syn_retrans"),
        "slow_connects": dig(j, "connects", "slow_connects"),
        "cut_short": dig(j, "cut_short"),
    }
    lat = pct_keys(lat)
    for p in PCTS:
        s[p + "_us"] = lat.get(p)
    return s


def pct_keys(h):
    """loadgen spells p99.9 "p99_9" (a plain JSON key); the report does
    not."""
    return {k.replace("_", "."): v for k, v in h.items()}


def lg_histogram(j, which):
    """[(value_us, fraction below this bucket, fraction up to it)] from a
    histogram's buckets ([highest value in us, count], increasing)."""
    h = dig(j, which)
    if not h or not h.get("count"):
        return [], 0
    total = h["count"]
    out = []
    cum = 0
    for hi, n in h.get("buckets", []):
        prev = cum
        cum += n
        out.append((hi, prev / total, cum / total))
    return out, total


# ---------------------------------------------------------------------

def run_cmd_bounded(cmd, timeout, stdout_path=None):
    """Run cmd in its own process group; kill the group past timeout."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    p = REG.add(subprocess.Popen(cmd, stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL,
                                 start_new_session=True))
    timed_out = False
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_tree(p)
    except BaseException:
        kill_tree(p)            # Ctrl-C: it goes with us
        raise
    finally:
        REG.forget(p)
        if stdout_path:
            out.close()
    err.seek(0)
    msg = err.read().decode(errors="replace")
    err.close()
    return p.returncode, msg, timed_out


class Bench:
    def __init__(self, args):
        self.a = args
        self.bindir = args.bin
        self.out = args.out
        self.all_runs = []      # one dict per run, as written
        self.runs = []          # one per (target, run): the median round
        self.round = 1
        self.notes = []
        self.nrun = 0
        self.total_runs = 0

    # --- one loadgen run against one freshly started server -----------
    def run_one(self, target, kind, sessions, keepalive, label,
                sample_mem=False):
        a = self.a
        name = "%s-%s-r%d" % (target, label, self.round)
        jpath = os.path.join(self.out, "runs", name + ".json")
        logdir = os.path.join(self.out, "logs")
        workers = workers_for(a, self.pools, target, sessions,
                              keepalive) if kind == "model" else None
        srv = Server(kind, target, self.bindir,
                     os.path.join(logdir, name + ".server.log"),
                     workers=workers, spec=self.externals.get(target,
                                                              (None,))[-1])
        t0 = time.monotonic()
        srv.start()
        idle = tree_memory(srv.pid()) if srv.pid() else None
        if srv.pid() is None:
            sample_mem = False
        cmd = [os.path.join(self.bindir, "loadgen"), "--host", srv.host,
               "--port", str(srv.port), "-c", str(sessions),
               "-t", str(min(a.threads, sessions)),
               "--timeout", str(a.timeout), "--json", jpath, "--quiet"]
        if keepalive == 0:
            cmd += ["-k", "0"]
        warmup = warmup_for(a, sessions)
        cmd += ["-d", str(a.duration), "--warmup", str(warmup)]
        if kind == "redis":
            cmd += ["--request", REDIS_REQUEST, "--no-verify"]
        size = BULK.get(label, LINE_BYTES)
        if label in BULK:
            cmd += ["-s", str(size), "-P", str(BULK_PIPELINE)]
        sampler = None
        if sample_mem:
            sampler = MemorySampler(srv.proc.pid, sessions, warmup * 0.2,
                                    warmup * 0.8)
            sampler.start()
        limit = warmup + a.duration + a.timeout * 2 + 30
        try:
            rc, err, timed_out = run_cmd_bounded(
                siderun.pinned(cmd, "loadgen"), limit)
            lg_end = time.monotonic()
        finally:
            if sampler:
                sampler.cancel()
                sampler.join()
            srv.stop()
        mem = sampler.sample if sampler else None
        if mem and (sampler.done_at > lg_end or
                    mem["at_s"] > warmup + a.duration):
            # Finished after loadgen's window closed, when its sessions
            # may be gone: not the loaded server.  (A very short run on
            # a busy machine.)
            self.notes.append("%s: the memory sample came after the load "
                              "ended; dropped" % name)
            mem = None
        wall = time.monotonic() - t0
        try:
            with open(jpath) as f:
                j = json.load(f)
        except (OSError, ValueError) as e:
            j = {"error": "no JSON from loadgen: %s" % e}
        j["bench"] = {
            "target": target, "kind": kind, "sessions": sessions,
            "keepalive": keepalive, "label": label, "round": self.round,
            "request_bytes": REDIS_REQUEST_BYTES if kind == "redis"
            else size,
            "request": REDIS_REQUEST if kind == "redis"
            else "%d-byte varying lowercase line" % size,
            "server_cmd": srv.cmd, "loadgen_cmd": cmd,
            "workers": workers,
            "loadgen_exit": rc, "loadgen_killed": timed_out,
            "loadgen_stderr": err[-2000:],
            "server_pid": srv.pid(),
            "server_exit": srv.status,
            "server_cpu_s": srv.rusage,
            "server_cpu_proc_before_stop_s": srv.cpu_before_stop,
            "server_mem_idle": idle,
            "server_mem": mem,
            "wall_s": round(wall, 3),
            "pinned": siderun.PIN,
        }
        write_json(jpath, j)
        self._cleanup_log(srv)
        self.all_runs.append(j)
        self._progress(j)
        return j

    def _cleanup_log(self, srv):
        """Keep a server's stderr only when it said something; redis
        always prints a banner, so its log is kept only after a failure."""
        if srv.kind == "connect":
            return
        try:
            if os.path.getsize(srv.logpath) == 0 or \
                    (srv.kind == "redis" and srv.status == 0):
                os.unlink(srv.logpath)
        except OSError:
            pass

    def _progress(self, j):
        self.nrun += 1
        b = j["bench"]
        s = lg_summary(j)
        cpu = cpu_per_request(j)
        extra = ""
        sr = s["sessions_replied"]
        if b["keepalive"] and sr is not None and sr < b["sessions"]:
            extra += "  served %d of %d sessions" % (sr, b["sessions"])
        if s["errors_total"]:
            extra += "  errors %d" % s["errors_total"]
        if b["loadgen_exit"] not in (0, None):
            extra += "  loadgen exit %s" % b["loadgen_exit"]
        log("[%3d/%d] %-15s %-8s %10s req/s  p50 %9s  p99 %9s  "
            "cpu %7s us/req  %5.1fs%s" % (
                self.nrun, self.total_runs, b["target"],
                "%s%s" % (b["label"], " r%d" % b["round"]
                          if self.a.max_rounds > 1 else ""),
                fmt_num(s["rps"]), fmt_us(s["p50_us"]),
                fmt_us(s["p99_us"]),
                "%.1f" % cpu if cpu is not None else "-",
                b["wall_s"], extra))

    # --- the whole bench ----------------------------------------------
    def plan(self):
        """The runs in order.  They go by concurrency, every target at one
        concurrency before the next, so that the figures compared in one
        column were measured minutes apart at most: on a shared machine the
        background load drifts.  For the same reason the floor is measured
        before each target's one-session run and once after the last
        (each target is compared with the two floors around it), and
        redis-server runs at 50 sessions both first and last of that
        block.  One block per load: a round runs the blocks of the loads
        whose ranking has not settled yet (see main)."""
        a = self.a
        every = [(m, "model") for m in self.models]
        every += [(t, k) for t, (k, _) in self.externals.items()]
        if self.redis:
            every.append(("redis", "redis"))
        # One line per connection: only the k0 load.
        oneshot = oneshot_models(self.bindir)
        targets = [(t, k) for t, k in every if t not in oneshot]
        top = max(a.sessions)
        runs = []               # [(load, [run, ...])], one per load
        for c in sorted(set(a.sessions) | {50}):
            lab = "c%d" % c
            block = [(t, kind, c, 1, lab, c == top) for t, kind in targets]
            if c == 1:
                block = [x for r in block for x in (("floor",), r)]
                block.append(("floor",))
                # After each pair floor, the same echo driven by loadgen.
                block = [x for r in block for x in (
                    (r, ("floor-server",)) if r[0] == "floor" else (r,))]
            if c == 50 and self.redis:
                block.insert(0, block.pop())
                block.append(("redis", "redis", 50, 1, "c50-end", False))
            runs.append((lab, block))
        lab = "k0-c%d" % a.k0_sessions
        runs.append((lab, [(t, kind, a.k0_sessions, 0, lab, False)
                           for t, kind in every]))
        # Bulk: one session of big pipelined lines; redis only answers
        # PING.  iperf3's loopback ceiling heads the largest size.
        for lab in BULK:
            block = [(t, kind, 1, 1, lab, False) for t, kind in targets
                     if kind != "redis"]
            if lab == max(BULK, key=BULK.get) and self.iperf3:
                block.insert(0, ("iperf3",))
            runs.append((lab, block))
        return runs

    def clear_old(self):
        """A rerun into the same directory (same day, same host) must not
        leave the previous run's files beside the new ones: remove what
        this script writes, and nothing else."""
        for sub in ("runs", "plotdata", "logs"):
            d = os.path.join(self.out, sub)
            if os.path.isdir(d):
                for f in os.listdir(d):
                    if f.endswith((".json", ".dat", ".gp", ".log")):
                        os.unlink(os.path.join(d, f))
        if os.path.isdir(self.out):
            for f in os.listdir(self.out):
                if f.endswith(".svg") or f in ("summary.csv", "report.md",
                                               "ranking.csv",
                                               "hyperfine.json",
                                               "hyperfine.md",
                                               "syscalls.csv", "syscalls.md",
                                               "uringratio.csv",
                                               "uringratio.md"):
                    os.unlink(os.path.join(self.out, f))

    def main(self):
        a = self.a
        self.previous = None if a.no_compare else self.find_previous()
        self.clear_old()
        os.makedirs(os.path.join(self.out, "runs"), exist_ok=True)
        os.makedirs(os.path.join(self.out, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.out, "plotdata"), exist_ok=True)
        self.models = a.models or list_models(self.bindir)
        self.externals = externals(a)
        self.iperf3 = bool(BULK) and shutil.which("iperf3") is not None
        self.iperf = []
        if BULK and not self.iperf3:
            self.notes.append("iperf3 is not installed: no loopback "
                              "ceiling in the bulk table.")
        self.pools = pool_models(self.bindir) & set(self.models)
        self.redis = shutil.which("redis-server") and not a.no_redis
        if not self.redis:
            self.notes.append("redis-server is not installed (or "
                              "--no-redis): no reference line server.")
        self.hyperfine = shutil.which("hyperfine") and not a.no_hyperfine
        if not self.hyperfine:
            self.notes.append("hyperfine is not installed (or "
                              "--no-hyperfine): no whole-workload timing.")
        runs = self.plan()
        per_round = sum(len(b) for _, b in runs)
        self.total_runs = per_round * a.max_rounds
        start = time.monotonic()
        self.loadavg = [loadavg()]
        log("bench: %d models (%s)%s, %d to %d rounds of %d runs of %gs + "
            "%gs warm-up, then hyperfine; results in %s" % (
                len(self.models), " ".join(self.models),
                " + redis-server" if self.redis else "", a.rounds,
                a.max_rounds, per_round, a.duration, a.warmup, self.out))
        # hyperfine first: what is left of the budget is the rounds'.
        self.hf = self.run_hyperfine() if self.hyperfine else None
        self.phases = [("hyperfine", time.monotonic() - start)]
        self.floors, self.lfloors = [], []
        self.run_rounds(runs, start)
        self.phases.append(("rounds", time.monotonic() - start -
                            sum(x for _, x in self.phases)))
        self.loads = [lab for lab, _ in runs]
        self.pick_representatives()
        self.write_ranking()
        self.pingpong = median_floor(self.floors)
        self.attach_floors()
        self.rewrite_runs()
        self.write_csv()
        self.write_plots()
        for mod, args in ((syscount, None if a.no_syscalls else
                           syscount.bench_args(a)),
                          (uringratio, uringratio.bench_args(a, self.models))):
            if args:
                mod.main(args)
        self.loadavg.append(loadavg())
        self.phases.append(("outputs", time.monotonic() - start -
                            sum(x for _, x in self.phases)))
        self.write_report(time.monotonic() - start)
        log("bench: done in %.0fs (%s): %s" % (
            time.monotonic() - start, ", ".join(
                "%s %.0f s" % p for p in self.phases),
            os.path.join(self.out, "report.md")))

    def run_rounds(self, runs, start):
        """Round after round over the loads not settled yet, the models
        interleaved within each load's block.  Past --rounds, a round
        starts only if, at the pace of the last one, it ends within
        --budget seconds of the start: a load still unsettled then is
        reported as such."""
        a = self.a
        self.settled = {}       # load -> the round after which it was
        self.rounds_of = {}     # load -> rounds measured
        self.cut_by_budget = False
        cost = {}               # load -> seconds of its last block
        for self.round in range(1, a.max_rounds + 1):
            todo = [(lab, b) for lab, b in runs if lab not in self.settled]
            if not todo:
                break
            need = sum(cost.get(lab, 0) for lab, _ in todo)
            if self.round > a.rounds and \
                    time.monotonic() - start + need > a.budget:
                self.cut_by_budget = True
                log("bench: no round %d: %.0f s more would pass the "
                    "budget of %g s" % (self.round, need, a.budget))
                break
            for lab, block in todo:
                t0 = time.monotonic()
                self.run_round(block)
                cost[lab] = time.monotonic() - t0
                self.rounds_of[lab] = self.round
            for lab, _ in todo:
                if rank.settled(self.rank_rounds(lab), a.rounds):
                    self.settled[lab] = self.round
            self.total_runs = self.nrun + sum(
                len(b) for lab, b in runs if lab not in self.settled) * (
                    a.max_rounds - self.round)

    def run_round(self, runs):
        for r in runs:
            if r[0] == "iperf3":
                self.run_iperf3()
                continue
            if r[0] == "floor":
                self.run_pingpong()
                continue
            if r[0] == "floor-server":
                try:
                    self.lfloors.append(self.run_one(
                        "pingpong-server", "floor", 1, 1,
                        "c1-%d" % (len(self.lfloors) + 1)))
                except (RuntimeError, OSError) as e:
                    warn(str(e))
                    self.notes.append("pingpong --serve: %s" % e)
                    self.lfloors.append(None)
                continue
            t, kind, c, k, label, mem = r
            try:
                j = self.run_one(t, kind, c, k, label, sample_mem=mem)
                if label == "c1" and self.floors:
                    j["bench"]["floor_before"] = len(self.floors) - 1
            except (RuntimeError, OSError) as e:
                warn(str(e))
                self.notes.append("%s %s round %d: %s" % (t, label,
                                                          self.round, e))

    def ranked_targets(self):
        """What the ranking compares: the models and any external server;
        redis-server and the floors are references."""
        return [t for t in self.models + list(self.externals)]

    def rank_rounds(self, load):
        """{target: [figure per round]} at one load: requests/s, or bytes/s
        for a bulk load."""
        ranked = set(self.ranked_targets())
        out = {}
        for j in self.all_runs:
            b = j["bench"]
            if b["label"] == load and b["target"] in ranked:
                out.setdefault(b["target"], []).append(figure(j))
        return out

    def write_ranking(self):
        """ranking.csv, and the comparison with the previous run."""
        by_load = {lab: self.rank_rounds(lab) for lab in self.loads}
        rows = rank.ranking_rows(by_load, self.loads)
        rank.write_ranking(os.path.join(self.out, "ranking.csv"), rows)
        self.ranking = {}
        for r in rows:
            self.ranking.setdefault(r["load"], {})[r["model"]] = r
        self.comparison = None
        if self.previous:
            name, prev = self.previous
            now = {lab: {m: (r["low"], r["median"], r["high"])
                         for m, r in ms.items()}
                   for lab, ms in self.ranking.items()}
            cmp = rank.compare(prev, now, self.loads)
            lines, nrev = rank.compare_text(cmp, name, "this run")
            self.comparison = (name, lines, nrev)
            log("bench: compared with the previous run:")
            for line in lines:
                log("  " + line)

    def find_previous(self):
        """The previous run's ranking, read before this run replaces
        anything: the one in this run's own directory (a rerun on the same
        day) or else the newest ranking.csv of a sibling directory."""
        own = rank.ranking_path(self.out)
        cands = []
        if os.path.exists(own):
            cands.append(own)
        else:
            parent = os.path.dirname(os.path.abspath(self.out))
            try:
                sib = [os.path.join(parent, d) for d in os.listdir(parent)]
            except OSError:
                sib = []
            sib = [rank.ranking_path(d) for d in sib
                   if os.path.exists(rank.ranking_path(d))]
            cands += sorted(sib, key=os.path.getmtime, reverse=True)[:1]
        for p in cands:
            try:
                return (os.path.relpath(os.path.dirname(p), REPO)
                        if os.path.abspath(p).startswith(REPO + "/")
                        else os.path.dirname(p), rank.read_ranking(p))
            except (OSError, KeyError, ValueError) as e:
                self.notes.append("previous ranking %s unreadable: %s"
                                  % (p, e))
        return None

    def pick_representatives(self):
        """Every (target, run) was measured once per round; the tables
        and plots show the round with the median throughput, so that a
        burst of load from elsewhere on the machine, which hits one
        round, moves no figure.  The spread of the rounds is kept."""
        groups = {}
        for j in self.all_runs:
            b = j["bench"]
            groups.setdefault((b["target"], b["label"]), []).append(j)
        self.runs = []
        for js in groups.values():
            js.sort(key=lambda j: lg_summary(j)["rps"] or 0)
            rep_j = js[(len(js) - 1) // 2]
            rps = [lg_summary(j)["rps"] or 0 for j in js]
            for j in js:
                j["bench"]["representative"] = j is rep_j
            rep_j["bench"]["rounds"] = {
                "rps": rps, "files": [run_file(j) for j in js]}
            if rep_j["bench"].get("server_mem") is None:
                # Memory does not move with the machine's load the way
                # throughput does: another round's sample will do.
                for j in js:
                    if j["bench"].get("server_mem"):
                        rep_j["bench"]["server_mem"] = j["bench"][
                            "server_mem"]
                        rep_j["bench"]["server_mem_from"] = run_file(j)
                        break
            self.runs.append(rep_j)
        # Keep the order of the first round.
        order = {id(j): i for i, j in enumerate(self.all_runs)}
        self.runs.sort(key=lambda j: min(
            order[id(x)] for x in groups[(j["bench"]["target"],
                                          j["bench"]["label"])]))

    def rewrite_runs(self):
        """The runs' JSON again, now with floors and rounds merged in."""
        for j in self.all_runs:
            write_json(os.path.join(self.out, "runs", run_file(j)), j)

    def run_iperf3(self):
        """One iperf3 run over loopback, one TCP stream for a second: the
        ceiling of bytes/s that one connection can carry one way here,
        the reference line of the bulk table."""
        n = len(self.iperf) + 1
        path = os.path.join(self.out, "runs", "iperf3-%d.json" % n)
        port = free_port()
        srv = REG.add(subprocess.Popen(
            ["iperf3", "-s", "-1", "--forceflush", "-B", "127.0.0.1",
             "-p", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True))
        bps, why = None, ""
        try:
            seen, deadline = b"", time.monotonic() + 10
            # --forceflush: else its "Server listening" line waits in a
            # pipe buffer.  Raw reads: select() does not see what a
            # buffered reader has taken in already.
            fd = srv.stdout.fileno()
            while b"listening" not in seen and \
                    time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 1)
                if r:
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        break
                    seen += chunk
            rc, err, _ = run_cmd_bounded(
                ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "1",
                 "-J"], 30, stdout_path=path)
            try:
                with open(path) as f:
                    bps = json.load(f)["end"]["sum_received"][
                        "bits_per_second"] / 8
            except (OSError, ValueError, KeyError, TypeError) as e:
                why = "%s %s" % (e, err.strip()[-200:])
        finally:
            kill_tree(srv)
            REG.forget(srv)
            srv.stdout.close()
        self.nrun += 1
        self.iperf.append(bps)
        if bps is None:
            warn("iperf3 failed: %s" % why)
            self.notes.append("iperf3 failed: %s" % why)
            return
        log("[%3d/%d] %-15s %-8s %10s" % (self.nrun, self.total_runs,
                                          "iperf3", "ceiling",
                                          fmt_bytes(bps)))

    def run_pingpong(self):
        """One floor measurement, appended to self.floors (None if it
        failed)."""
        a = self.a
        n = len(self.floors) + 1
        path = os.path.join(self.out, "runs", "pingpong-%d.json" % n)
        d = a.pingpong_duration or a.duration
        cmd = [os.path.join(self.bindir, "pingpong"), "-d", str(d),
               "--warmup", "1000", "--json", path]
        rc, err, _ = run_cmd_bounded(cmd, d + 30)
        self.nrun += 1
        if rc != 0:
            warn("pingpong failed (%s): %s" % (rc, err.strip()))
            self.notes.append("bin/pingpong failed: %s" % err.strip())
            self.floors.append(None)
            return
        with open(path) as f:
            j = json.load(f)
        j["file"] = os.path.basename(path)
        self.floors.append(j)
        log("[%3d/%d] %-15s %-8s %10s req/s  p50 %9s  p99 %9s  "
            "cpu %7.1f us/req" % (self.nrun, self.total_runs, "pingpong",
                                  "floor", fmt_num(j["rps"]),
                                  fmt_us(j["latency_us"]["p50"]),
                                  fmt_us(j["latency_us"]["p99"]),
                                  j["server_cpu_us_per_request"]))

    def attach_floors(self):
        """Give each one-session run the mean of the floors measured just
        before and just after it."""
        for j in self.all_runs:
            i = j["bench"].get("floor_before")
            if i is None:
                continue
            pair = [f for f in self.floors[i:i + 2] if f]
            if not pair:
                continue
            j["bench"]["floor"] = {
                "files": [f["file"] for f in pair],
                "p50_us": sum(f["latency_us"]["p50"] for f in pair) /
                len(pair),
                "rps": sum(f["rps"] for f in pair) / len(pair)}
            lg = [f for f in self.lfloors[i:i + 2]
                  if f and lg_summary(f)["p50_us"]]
            if lg:
                j["bench"]["floor"]["loadgen_files"] = [run_file(f)
                                                        for f in lg]
                j["bench"]["floor"]["loadgen_p50_us"] = sum(
                    lg_summary(f)["p50_us"] for f in lg) / len(lg)
                j["bench"]["floor"]["loadgen_rps"] = sum(
                    lg_summary(f)["rps"] for f in lg) / len(lg)

    def run_hyperfine(self):
        a = self.a
        hj = os.path.join(self.out, "hyperfine.json")
        hm = os.path.join(self.out, "hyperfine.md")
        cmd = ["hyperfine", "--warmup", "1", "--runs", str(a.hf_runs),
               "--ignore-failure", "--style", "none",
               "--export-json", hj, "--export-markdown", hm]
        me = os.path.abspath(__file__)
        for m in self.models:
            one = [sys.executable, me, "--one", m, "--bin", self.bindir,
                   "-c", str(a.hf_sessions), "-n", str(a.hf_requests),
                   "--timeout", str(a.timeout)]
            if a.workers:
                one += ["--workers", str(a.workers)]
            cmd += ["-n", m, " ".join(shell_quote(x) for x in one)]
        log("hyperfine: %d models x (1 warm-up + %d runs) of -c %d -n %d"
            % (len(self.models), a.hf_runs, a.hf_sessions,
               a.hf_requests))
        limit = len(self.models) * (a.hf_runs + 1) * (a.timeout * 2 + 30)
        rc, err, killed = run_cmd_bounded(cmd, limit)
        if rc != 0 or not os.path.exists(hj):
            warn("hyperfine failed (%s): %s" % (rc, err.strip()[-500:]))
            self.notes.append("hyperfine failed: %s" % err.strip()[-300:])
            return None
        with open(hj) as f:
            data = json.load(f)
        for r in data["results"]:
            log("hyperfine: %-12s %.3f s +- %.3f" % (
                r["command"], r["mean"], r["stddev"] or 0))
        return data

    # --- outputs --------------------------------------------------------
    def write_csv(self):
        path = os.path.join(self.out, "summary.csv")
        cols = ["target", "kind", "label", "round", "representative",
                "sessions", "keepalive",
                "request_bytes", "completed", "errors", "rps", "mean_us"] + \
            [p + "_us" for p in PCTS] + \
            ["max_us", "connect_p50_us", "connect_p99_us",
             "connect_max_us", "sessions_replied", "server_cpu_s",
             "cpu_us_per_request", "mem_pss_kb", "mem_rss_kb",
             "mem_pss_kb_per_session", "listen_overflows", "loadgen_exit",
             "unanswered", "unanswered_warmup", "workers"]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for j in self.all_runs:
                w.writerow([row_value(j, c) for c in cols])

    def write_plots(self):
        """The numbers behind the plots into plotdata/, then gnuplot."""
        pd = os.path.join(self.out, "plotdata")
        targets = self.models + list(self.externals) + (
            ["redis"] if self.redis else [])
        labels, lat, conn = [], {}, {}
        for j in self.runs:
            b = j["bench"]
            t, lab = b["target"], b["label"]
            if lab not in labels and lab in table_labels(self.a):
                labels.append(lab)
            if write_curve(os.path.join(pd, "lat-%s-%s.dat" % (t, lab)),
                           lg_histogram(j, "latency_us")):
                lat.setdefault(lab, []).append(t)
            if write_curve(os.path.join(pd, "conn-%s-%s.dat" % (t, lab)),
                           lg_histogram(j, "connect_us")):
                conn.setdefault(lab, []).append(t)
        # Throughput against sessions: persistent runs of each target.
        for t in targets:
            med, every = {}, {}
            for j in self.runs:
                b = j["bench"]
                if b["target"] == t and b["keepalive"]:
                    med.setdefault(b["sessions"], []).append(
                        lg_summary(j)["rps"] or 0)
                    every.setdefault(b["sessions"], []).extend(
                        b.get("rounds", {}).get("rps", []))
            with open(os.path.join(pd, "tput-%s.dat" % t), "w") as f:
                f.write("# sessions rps(median round) min max (rounds)\n")
                for c in sorted(med):
                    m = sum(med[c]) / len(med[c])
                    e = every[c] or [m]
                    f.write("%d %.1f %.1f %.1f\n" % (c, m, min(e), max(e)))
        if self.pingpong:
            pp = self.pingpong
            with open(os.path.join(pd, "lat-pingpong-c1.dat"), "w") as f:
                f.write("# us cum_pct inv_below\n")
                for pt in pp["percentile_curve"]:
                    p = pt["percentile"] / 100
                    x = 1 / (1 - p) if p < 1 else pp["requests"]
                    f.write("%.3f %.6f %.3f\n" % (pt["us"], p * 100, x))
            with open(os.path.join(pd, "floor.dat"), "w") as f:
                f.write("1 %.1f\n" % pp["rps"])
        lf = sorted((f for f in self.lfloors
                     if f and lg_summary(f)["p50_us"]),
                    key=lambda f: lg_summary(f)["p50_us"])
        lfloor = bool(lf) and write_curve(
            os.path.join(pd, "lat-pingpong-server-c1.dat"),
            lg_histogram(lf[(len(lf) - 1) // 2], "latency_us"))
        order = table_labels(self.a)
        labels.sort(key=lambda x: order.index(x) if x in order else 99)
        connlabels = [x for x in ("c%d" % max(self.a.sessions),
                                  "k0-c%d" % self.a.k0_sessions)
                      if x in labels]
        with open(os.path.join(pd, "vars.gp"), "w") as f:
            f.write("# written by bench/bench.py for bench/plot.gp\n")
            f.write('targets = "%s"\n' % " ".join(targets))
            f.write('labels = "%s"\n' % " ".join(labels))
            for i, lab in enumerate(labels, 1):
                f.write('lat_%d = "%s"\n' % (i, " ".join(lat.get(lab, []))))
            f.write('connlabels = "%s"\n' % " ".join(connlabels))
            for i, lab in enumerate(connlabels, 1):
                f.write('conn_%d = "%s"\n' % (i,
                                               " ".join(conn.get(lab, []))))
            f.write("floor = %d\n" % (1 if self.pingpong else 0))
            f.write("lfloor = %d\n" % (1 if lfloor else 0))
        self.plot_labels = labels
        if not shutil.which("gnuplot"):
            self.notes.append("gnuplot is not installed: no plots.")
            return
        cmd = ["gnuplot", "-e", "dir='%s'" % self.out,
               os.path.join(HERE, "plot.gp")]
        rc, err, _ = run_cmd_bounded(cmd, 60)
        if rc != 0:
            warn("gnuplot failed: %s" % err.strip())
            self.notes.append("gnuplot failed: %s" % err.strip()[-300:])

    def write_report(self, elapsed):
        rep = Report(self, elapsed).text()
        path = os.path.join(self.out, "report.md")
        with open(path, "w") as f:
            f.write(rep)
        # results/latest.md: a copy whose links point into the run's dir.
        latest = os.path.join(os.path.dirname(os.path.abspath(self.out)),
                              "latest.md")
        rel = os.path.relpath(os.path.abspath(self.out),
                              os.path.dirname(latest))
        with open(latest, "w") as f:
            f.write(relink(rep, rel))


def externals(a):
    """{name: (kind, spec)} of the servers that are not socklab's: the
    lab's Python thread server, --server-cmd and --connect, in order."""
    out = {}
    if not a.no_lab:
        out[LAB_THREAD[0]] = ("external", LAB_THREAD[1])
    for c in a.server_cmd or []:
        name, argv = c
        out[name] = ("external", argv)
    for host, port in a.connect or []:
        out["%s:%d" % (host, port)] = ("connect", (host, port))
    return out


def server_cmd_arg(s):
    """--server-cmd '[NAME=]CMD': CMD split like a shell would, {port}
    where the port goes; NAME defaults to the script's or program's base
    name."""
    name, sep, rest = s.partition("=")
    if sep and name and " " not in name and "{" not in name:
        s = rest
    else:
        name = ""
    argv = shlex.split(s)
    if not argv or not any("{port}" in x for x in argv):
        raise argparse.ArgumentTypeError(
            "%r: needs {port}, where the server's port goes" % s)
    if not name:
        paths = [x for x in argv if "/" in x or x.endswith(".py")]
        name = os.path.basename(paths[0] if paths else argv[0])
    return name, argv


def connect_arg(s):
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or \
            not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("%r: not HOST:PORT" % s)
    return host.strip("[]"), int(port)


def figure(j):
    """The figure a run is ranked by: requests/s (bytes/s of lines for a
    bulk run, where the line size is the point)."""
    rps = lg_summary(j)["rps"] or 0.0
    size = BULK.get(j["bench"]["label"])
    return rps * size if size else rps


def warmup_for(a, sessions):
    """A burst of a thousand connections takes a thousand accepts, and
    thousand threads or children, before the load is steady: the warm-up
    grows with the sessions (1.2 s more per thousand)."""
    return round(a.warmup + 1.2 * sessions / 1000, 2)


def write_json(path, j):
    """One top-level key per line, each value compact: a run with its
    histograms stays a few kB and still reads with less or grep."""
    with open(path, "w") as f:
        f.write("{\n")
        f.write(",\n".join("%s: %s" % (json.dumps(k), json.dumps(
            v, separators=(",", ":"))) for k, v in j.items()))
        f.write("\n}\n")


def run_file(j):
    b = j["bench"]
    return "%s-%s-r%d.json" % (b["target"], b["label"], b["round"])


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def median_floor(floors):
    """The floor run with the median p50: the one the report quotes."""
    ok = sorted((f for f in floors if f),
                key=lambda f: f["latency_us"]["p50"])
    return ok[(len(ok) - 1) // 2] if ok else None


def relink(md, rel):
    """Rewrite the report's relative links (images, files, ../README.md)
    for a copy that lives rel/.. from the run's directory."""
    out = []
    for line in md.splitlines(True):
        parts = line.split("](")
        for i in range(1, len(parts)):
            link, sep, rest = parts[i].partition(")")
            if sep and not link.startswith(("http:", "https:", "/", "#")):
                link = os.path.normpath(os.path.join(rel, link))
            parts[i] = link + sep + rest
        out.append("](".join(parts))
    return "".join(out)


def write_curve(path, hist):
    """Columns: us, % of values <= us, and 1/(1 - fraction below the
    bucket): the x of a percentile plot drawn with steps.  Returns
    whether there was anything to write."""
    pts, total = hist
    with open(path, "w") as f:
        f.write("# us cum_pct inv_below\n")
        if not pts:
            return False
        for us, below, upto in pts:
            f.write("%.3f %.6f %.3f\n" % (us, upto * 100, 1 / (1 - below)))
        # The last step ends where the count runs out: 1/(1 - (n-1)/n).
        last = 1 / (1 - pts[-1][1])
        f.write("%.3f %.6f %.3f\n" % (pts[-1][0], 100, max(total,
                                                             last * 2)))
    return True


def cpu_per_request(j):
    """Server CPU microseconds per reply it produced (warm-up included,
    as the CPU time is)."""
    b = j.get("bench", {})
    cpu = b.get("server_cpu_s")
    if not cpu:
        return None
    s = lg_summary(j)
    n = (s["completed"] or 0) + (s["warmup_replies"] or 0)
    return cpu["total"] * 1e6 / n if n else None


def mem_per_session(j):
    b = j["bench"]
    m = b.get("server_mem")
    if not m:
        return None
    return m["pss_kb"] / b["sessions"]


def mem_marginal(j):
    b = j["bench"]
    m, idle = b.get("server_mem"), b.get("server_mem_idle")
    if not m or not idle:
        return None
    return (m["pss_kb"] - idle["pss_kb"]) / b["sessions"]


def row_value(j, col):
    b = j["bench"]
    s = lg_summary(j)
    m = b.get("server_mem") or {}
    v = {
        "target": b["target"], "kind": b["kind"], "label": b["label"],
        "round": b.get("round"),
        "representative": int(bool(b.get("representative"))),
        "sessions": b["sessions"], "keepalive": b["keepalive"],
        "request_bytes": b["request_bytes"],
        "completed": s["completed"], "errors": s["errors_total"],
        "rps": s["rps"], "mean_us": s["mean_us"], "max_us": s["max_us"],
        "connect_p50_us": s["connect"].get("p50"),
        "connect_p99_us": s["connect"].get("p99"),
        "connect_max_us": s["connect"].get("max"),
        "sessions_replied": s["sessions_replied"],
        "server_cpu_s": (b.get("server_cpu_s") or {}).get("total"),
        "cpu_us_per_request": cpu_per_request(j),
        "mem_pss_kb": m.get("pss_kb"), "mem_rss_kb": m.get("rss_kb"),
        "mem_pss_kb_per_session": mem_per_session(j),
        "listen_overflows": s["listen_overflows"],
        "loadgen_exit": b["loadgen_exit"],
        "workers": b.get("workers"),
    }
    if col in v:
        x = v[col]
    else:
        x = s.get(col)
    if isinstance(x, float):
        return "%.3f" % x
    return "" if x is None else x


def fmt_kib(x):
    """KiB with one decimal; "0.0", not "-0.0", for a PSS that went down
    by a few hundred bytes."""
    if x is None:
        return "-"
    return "%.1f" % x if abs(x) >= 0.05 else "0.0"


def fmt_bytes(x):
    """Bytes/s as MB/s (10^6, like iperf3's own report in bytes)."""
    if x is None:
        return "-"
    return "%.0f MB/s" % (x / 1e6)


def fmt_num(x):
    if x is None:
        return "-"
    return "{:,.0f}".format(x)


def fmt_us(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.2f s" % (x / 1e6)
    if x >= 1e3:
        return "%.2f ms" % (x / 1e3)
    return "%.1f us" % x


def shell_quote(s):
    if s and all(c.isalnum() or c in "-_./=,:+" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


POOL_TAG = "[pool]"
MAX_POOL = 1000


def list_models(bindir):
    """The models this machine can run; the others are named on stderr."""
    out = subprocess.run([os.path.join(bindir, "server"), "--list-models"],
                         capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        if "[unavailable: " in line:
            log("bench: skipping %s" % line.split(" [", 1)[0].split()[0] +
                " (unavailable: " + line.split("[unavailable: ", 1)[1])
        elif line.strip():
            names.append(line.split()[0])
    return names


def model_lines(bindir):
    """{name: description} from --list-models; {} if it fails."""
    try:
        out = subprocess.run([os.path.join(bindir, "server"),
                              "--list-models"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    d = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if parts:
            d[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return d


def model_descriptions(bindir):
    """The descriptions, without the "[pool]" tag."""
    return {m: d[:-len(POOL_TAG)].rstrip() if d.endswith(POOL_TAG) else d
            for m, d in model_lines(bindir).items()}


def models_with(bindir, trait):
    """The models whose TRAIT column of --list-models=tsv is 1 (the one
    list of traits; set() if the server cannot say)."""
    try:
        out = subprocess.run([os.path.join(bindir, "server"),
                              "--list-models=tsv"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    rows = [line.split("\t") for line in out.splitlines()]
    if not rows or trait not in rows[0]:
        return set()
    col = rows[0].index(trait)
    return {r[0] for r in rows[1:] if len(r) > col and r[col] == "1"}


def pool_models(bindir):
    """The pools: they serve at most --workers sessions at once."""
    return models_with(bindir, "pool")


def oneshot_models(bindir):
    """The models that answer one line per connection: they take part in
    the connection-per-request load only, where a persistent session
    means nothing."""
    return models_with(bindir, "oneshot")


def ncpu():
    return os.cpu_count() or 1


def workers_for(a, pools, target, sessions, keepalive):
    """--workers for one run, or None for the server's default.  An
    explicit --workers holds for every run.  Otherwise a pool is sized to
    the load for persistent sessions (UNP ch. 30: one worker per session,
    at least one per CPU, at most MAX_POOL), and keeps its default (one
    per CPU) for a connection per request, its natural workload."""
    if a.workers:
        return a.workers
    if target in pools and keepalive:
        return min(MAX_POOL, max(ncpu(), sessions))
    return None


# ---------------------------------------------------------------------
# The machine the run was made on.

def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        out = (r.stdout or r.stderr).strip().splitlines()
        return out[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "not installed"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1048576)
    except (OSError, ValueError):
        pass
    cc = os.environ.get("CC") or "cc"
    git = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    return [
        ("host", socket.gethostname()),
        ("CPU", cpu),
        ("cores online", str(os.cpu_count())),
        ("memory", mem),
        ("kernel", platform.release()),
        ("system", distro),
        ("compiler (%s)" % cc, first_line([cc, "--version"])),
        ("python", platform.python_version()),
        ("redis-server", first_line(["redis-server", "--version"])),
        ("hyperfine", first_line(["hyperfine", "--version"])),
        ("gnuplot", first_line(["gnuplot", "--version"])),
        ("socklab", git),
        ("pinning", siderun.pin_text() + (" in every loadgen run; the "
                                          "pingpong floor and hyperfine "
                                          "unpinned" if siderun.PIN else "")),
    ]


# ---------------------------------------------------------------------

class Report:
    def __init__(self, bench, elapsed):
        self.b = bench
        self.a = bench.a
        self.elapsed = elapsed
        self.L = []

    def w(self, s=""):
        self.L.append(s)

    def table(self, head, rows):
        self.w("| " + " | ".join(head) + " |")
        self.w("|" + "|".join("---:" if i else "---"
                              for i in range(len(head))) + "|")
        for r in rows:
            self.w("| " + " | ".join(str(x) for x in r) + " |")
        self.w()

    def rps(self, target, label):
        j = self.find(target, label)
        return lg_summary(j)["rps"] if j else None

    def redis_c50(self):
        """redis-server's 50-session throughput: the mean of its runs
        before and after the models' (whichever exist)."""
        v = [x for x in (self.rps("redis", "c50"),
                         self.rps("redis", "c50-end")) if x]
        return sum(v) / len(v) if v else None

    def find(self, target, label):
        for j in self.b.runs:
            if j["bench"]["target"] == target and \
                    j["bench"]["label"] == label:
                return j
        return None

    def targets(self):
        return self.b.models + list(self.b.externals) + (
            ["redis"] if self.b.redis else [])

    def text(self):
        a = self.a
        b = self.b
        date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        self.w("# socklab bench: %s on %s" % (date, socket.gethostname()))
        self.w()
        self.w("Made by `bench/bench.py %s` (`make bench%s`) in %.0f s.  "
               "How to read every table and plot: "
               "[results/README.md](../README.md)." % (
                   " ".join(a.argv), " QUICK=1" if a.quick else "",
                   self.elapsed))
        self.w()
        self.w("Workload: closed loop, each session sends a %d-byte line and "
               "waits for its upper-cased reply before the next; %g s "
               "measured after a warm-up of %g s plus 1.2 s per thousand "
               "sessions (so %g s at %d) per run, every run repeated "
               "in %d to %d rounds, the models interleaved in each (the "
               "tables show the median and an interval over the rounds); "
               "a fresh server per "
               "run (`--quiet --backlog 4096`), started on an ephemeral "
               "port of 127.0.0.1; loadgen with `-t %d` (at most one thread "
               "per session), `--timeout %g`.  Sessions open all at once "
               "(a burst against the backlog).  `k0` rows open a new "
               "connection per request (`-k 0`) from %d concurrent "
               "clients.  redis-server (a reference, not a socklab model) "
               "gets the inline request `%s` (%d bytes, padded with spaces "
               "to the same size as socklab's lines; its reply `+PONG\\r\\n` "
               "is 7 bytes against socklab's 16), without reply "
               "verification.  %s" % (
                   LINE_BYTES, a.duration, a.warmup,
                   warmup_for(a, max(a.sessions)), max(a.sessions),
                   a.rounds, a.max_rounds, a.threads,
                   a.timeout,
                   a.k0_sessions, REDIS_REQUEST, REDIS_REQUEST_BYTES,
                   self.pool_sentence()))
        self.w()
        desc = model_descriptions(b.bindir)
        self.w("Models: " + "; ".join(
            "`%s` (%s%s)" % (m, desc.get(m, "?"),
                             "; a pool" if m in b.pools else "")
            for m in b.models) + ".")
        self.w()
        if b.notes:
            self.w("**Notes from this run:**")
            self.w()
            for n in b.notes:
                self.w("- " + n)
            self.w()
        self.section_machine()
        self.section_targets()
        self.section_throughput()
        self.w(uringratio.report(b.out, b.models))
        self.section_ranking()
        self.section_bulk()
        self.section_latency()
        self.section_cpu_mem()
        self.section_connect()
        self.section_hyperfine()
        self.section_plots()
        self.section_files()
        return "\n".join(self.L) + "\n"

    def pool_sentence(self):
        """How the pooled models were sized, for the workload paragraph."""
        a = self.a
        pools = [m for m in self.b.models if m in self.b.pools]
        if a.workers:
            return ("Every run passes `--workers %d` to the pooled models%s."
                    % (a.workers, " (%s)" % ", ".join(
                        "`%s`" % m for m in pools) if pools else ""))
        if not pools:
            return ""
        return ("The pooled models (%s: `[pool]` in `bin/server "
                "--list-models`) serve at most `--workers` sessions at "
                "once, so, as UNP ch. 30 sizes a pool to its load, their "
                "persistent-session runs (`c1` .. `c%d`, and the hyperfine "
                "workload) get `--workers` = max(CPUs, sessions), at most "
                "%d: one worker per session; their `k0` run keeps the "
                "default, one worker per CPU (%d here), the workload a "
                "pool is made for." % (
                    ", ".join("`%s`" % m for m in pools),
                    max(a.sessions), MAX_POOL, ncpu()))

    def section_machine(self):
        self.w("## Machine")
        self.w()
        rows = machine()
        la = getattr(self.b, "loadavg", None)
        if la:
            rows.append(("load average (1, 5, 15 min), start / end",
                         " / ".join(la)))
        self.table(["what", "value"], rows)
        self.w("The load average counts everything on the machine: above "
               "about 1 at the start, other jobs were running and every "
               "figure is noisier.")
        self.w()

    def section_throughput(self):
        a = self.a
        labels = table_labels(a)
        self.w("## Throughput (requests/s)")
        self.w()
        self.w("Completed requests per second of the measured window; "
               "columns are concurrent persistent sessions, `k0` is a new "
               "connection per request.  Each cell is the median over the "
               "rounds, its confidence interval in brackets (%s), and "
               "`#N` its rank at that load (see *Ranking* below; a shared "
               "rank is a tie: within noise)." % self.ci_method())
        self.w()
        rows = []
        for t in self.targets():
            r = [label_of(t)]
            for lab in labels:
                r.append(self.cell(t, lab))
            rows.append(r)
        if self.b.pingpong:
            rows.append(["pingpong floor (median run)"] +
                        [fmt_num(self.b.pingpong["rps"])] +
                        [""] * (len(labels) - 1))
        self.table(["model"] + labels, rows)
        starved = [j for j in self.b.runs if served_note(j, errors=False)]
        if starved:
            self.w("*k of N sessions served*: the model answered only k "
                   "of the N connected sessions during the whole run.  A "
                   "blocking design serves as many sessions at once as it "
                   "has workers (iterative: one; a pool: `--workers`, %s); "
                   "the other sessions were "
                   "connected by the kernel and waited in the accept queue "
                   "(or the server's own queue), unanswered, until loadgen "
                   "closed them.  Throughput and latency of such a run are "
                   "those of the served sessions only." % (
                       "here sized to the sessions up to %d" % MAX_POOL
                       if not self.a.workers else
                       "this run: %d" % self.a.workers))
            self.w()

    def ci_method(self):
        n = sorted(set(self.b.rounds_of.values()))
        return ("the distribution-free interval of the median by order "
                "statistics, [x(k), x(n+1-k)] of the n sorted rounds with "
                "coverage >= %d %%, or the slowest to the fastest round when "
                "n is too small for that: %s" % (
                    round(rank.COVERAGE * 100), "; ".join(
                        "%d rounds: %s, coverage %.0f %%" % (
                            x, "min-max" if rank.order_k(x) == 1 else
                            "k = %d" % rank.order_k(x),
                            100 * rank.coverage_of(x)) for x in n)))

    def cell(self, t, lab):
        """median [low-high] #rank from the ranking, else the one run."""
        r = self.b.ranking.get(lab, {}).get(t)
        j = self.find(t, lab)
        if r is None:
            return cell_rps(j)
        size = BULK.get(lab)
        f = (lambda x: "%.0f" % (x / 1e6)) if size else fmt_num
        return "%s [%s-%s] #%d%s" % (
            f(r["median"]), f(r["low"]), f(r["high"]), r["rank"],
            served_note(j) if j else "")

    def section_bulk(self):
        b = self.b
        if not BULK:
            return
        labs = list(BULK)
        self.w("## Bulk: bytes/s of big lines upper-cased")
        self.w()
        self.w("One persistent session, %d lines in flight (`loadgen -c 1 "
               "-P %d -s SIZE`), lines of %s: bytes of request lines "
               "answered per second (the server reads them and writes as "
               "many back).  Cells as in the throughput table: median "
               "[interval] #rank.  The reference line is iperf3's loopback "
               "ceiling in this run: one TCP stream for 1 s, bytes/s "
               "received, one way (`iperf3 -c 127.0.0.1 -t 1`, median "
               "[min-max] of its %d runs).  *loadgen saturated*: loadgen's "
               "own thread used 90 %% of a core or more in the median "
               "round: the figure may be the client's limit." % (
                   BULK_PIPELINE, BULK_PIPELINE, ", ".join(
                       "%d" % BULK[x] for x in labs),
                   len([x for x in b.iperf if x])))
        self.w()
        rows = []
        for t in self.targets():
            if t == "redis":
                continue
            r = [label_of(t)]
            for lab in labs:
                c = self.cell(t, lab)
                j = self.find(t, lab)
                if j and dig(j, "cpu", "saturated"):
                    c += " (loadgen saturated)"
                r.append(c)
            rows.append(r)
        ok = [x for x in b.iperf if x]
        if ok:
            lo, med, hi = rank.interval(ok)[0], rank.median(ok), max(ok)
            rows.append(["iperf3 loopback ceiling (reference)"] +
                        ["%.0f [%.0f-%.0f]" % (med / 1e6, lo / 1e6,
                                               hi / 1e6)] * len(labs))
        self.table(["model"] + ["MB/s, %d-byte lines" % BULK[x]
                                for x in labs], rows)

    def section_ranking(self):
        b = self.b
        self.w("## Ranking, with ties")
        self.w()
        self.w("At each load the models (and external servers) are ranked "
               "by their median throughput only where the data separate "
               "them: a model is faster than another when its interval "
               "(%s) lies wholly above the other's; overlapping intervals "
               "are a tie, *within noise*.  A model's rank is 1 + the "
               "number of models strictly faster than it, so tied models "
               "share a rank.  redis-server is a reference and the floors "
               "are not ranked.  A load stops early once its ranking is "
               "*settled*: after at least %d rounds, the last round changed "
               "no strict pair (%d rounds at most).  Written to "
               "[ranking.csv](ranking.csv) (`load,model,rank,low,median,"
               "high`)." % (self.ci_method(), self.a.rounds,
                             self.a.max_rounds))
        self.w()
        rows = []
        for lab in b.loads:
            rk = b.ranking.get(lab, {})
            groups = {}
            for m, r in rk.items():
                groups.setdefault(r["rank"], []).append(m)
            order = []
            for n in sorted(groups):
                ms = sorted(groups[n], key=lambda m: -rk[m]["median"])
                order.append("%d. %s%s" % (n, ", ".join(ms),
                                            " (within noise)"
                                            if len(ms) > 1 else ""))
            figs = {m: (r["low"], r["median"], r["high"])
                    for m, r in rk.items()}
            npairs = len(rk) * (len(rk) - 1) // 2
            st = b.settled.get(lab)
            rows.append([lab, "; ".join(order),
                         "%d of %d" % (len(rank.tied_pairs(figs)), npairs),
                         "%d rounds, %s" % (
                             b.rounds_of.get(lab, 0),
                             "settled" if st else "**not settled**%s" % (
                                 " (time budget)" if b.cut_by_budget and
                                 b.rounds_of.get(lab, 0) < self.a.max_rounds
                                 else ""))])
        self.table(["load", "ranks (fastest first)", "pairs within noise",
                    "rounds"], rows)
        if b.comparison:
            name, lines, nrev = b.comparison
            self.w("### Compared with the previous run (%s)" % name)
            self.w()
            self.w("A pair that one run ranks strictly a > b and the other "
                   "strictly b > a is *reversed*: noise that the intervals "
                   "did not catch.  Pairs tied in either run are not a "
                   "claim and cannot be reversed.  (`make bench-compare "
                   "A B` prints this for any two results directories.)")
            self.w()
            self.w("```")
            for line in lines:
                self.w(line)
            self.w("```")
            self.w()

    def section_latency(self):
        a = self.a
        self.w("## Latency (p50 / p99 / p99.9)")
        self.w()
        self.w("Round-trip time of a request, from loadgen's histogram "
               "(at most 1 % bucket error).  A row with errors or sessions "
               "that never got a reply is marked: those requests are not "
               "in the percentiles.")
        self.w()
        labels = table_labels(a)
        rows = []
        for t in self.targets():
            r = [label_of(t)]
            for lab in labels:
                j = self.find(t, lab)
                if j is None or "bench" not in j:
                    r.append("-")
                    continue
                s = lg_summary(j)
                cell = "%s / %s / %s" % (fmt_us(s["p50_us"]),
                                         fmt_us(s["p99_us"]),
                                         fmt_us(s["p99.9_us"]))
                cell += served_note(j)
                r.append(cell)
            rows.append(r)
        if self.b.pingpong:
            pl = self.b.pingpong["latency_us"]
            rows.append(["pingpong floor (median run)", "%s / %s / %s" % (
                fmt_us(pl["p50"]), fmt_us(pl["p99"]), fmt_us(pl["p99.9"]))] +
                [""] * (len(labels) - 1))
        self.table(["model"] + labels, rows)
        self.w("Errors per run (by kind), where any; and runs whose "
               "loadgen or server did not exit 0 (SIGTERM is how the "
               "bench stops a server: a clean stop is exit 0).  "
               "`unanswered` counts requests still waiting for a reply "
               "when the run ended: not errors (a closed loop ends with "
               "up to one per session in flight), but those sent in the warm-up "
               "waited through the whole measured window; every run's "
               "counts are in its JSON and in summary.csv:")
        self.w()
        rows = []
        for j in self.b.runs:
            s = lg_summary(j)
            b = j["bench"]
            srv_bad = b["kind"] != "floor" and b["server_exit"] != 0
            if s["errors_total"] or b["loadgen_exit"] or srv_bad:
                kinds = ", ".join("%s %d" % (k, v) for k, v in
                                  s["errors"].items() if v)
                rows.append([label_of(b["target"]), b["label"],
                             kinds or "-", b["loadgen_exit"],
                             b["server_exit"],
                             "%s of %d" % (s["sessions_replied"],
                                           b["sessions"]),
                             "%s (%s)" % (s["unanswered"],
                                          s["unanswered_warmup"])
                             if s["unanswered"] is not None else "-"])
        if rows:
            self.table(["model", "run", "errors", "loadgen exit",
                        "server exit", "sessions that got a reply",
                        "unanswered at the end (sent in the warm-up)"],
                       rows)
        else:
            self.w("None.")
            self.w()

    def section_targets(self):
        a = self.a
        b = self.b
        top = "c%d" % max(a.sessions)
        self.w("## Headline: against the floor and against redis-server")
        self.w()
        pp = b.pingpong
        floors = [f for f in b.floors if f]
        if pp:
            p50s = sorted(f["latency_us"]["p50"] for f in floors)
            self.w("**Floor** (`bin/pingpong`: one blocking client, one "
                   "blocking echo process, %d-byte lines), measured %d "
                   "times, before each target's one-session run and after "
                   "the last: median p50 %s (from %s to %s), %s round "
                   "trips/s in that median run, p99 %s.  Each model is "
                   "compared with the mean of the two floor runs around "
                   "its own one-session run." % (
                       pp["params"]["size"], len(floors),
                       fmt_us(pp["latency_us"]["p50"]), fmt_us(p50s[0]),
                       fmt_us(p50s[-1]), fmt_num(pp["rps"]),
                       fmt_us(pp["latency_us"]["p99"])))
            self.w()
            lf = [lg_summary(f) for f in b.lfloors if f]
            if lf:
                p50s = sorted(x["p50_us"] for x in lf if x["p50_us"])
                self.w("**Loadgen floor**: the same echo process alone "
                       "(`bin/pingpong --serve`), driven by loadgen at one "
                       "session exactly like the models, right after each "
                       "floor run: median p50 %s (from %s to %s).  The gap "
                       "between the two floors is loadgen's own cost "
                       "(epoll, non-blocking I/O, checking the reply) "
                       "against a bare blocking client." % (
                           fmt_us(p50s[(len(p50s) - 1) // 2]),
                           fmt_us(p50s[0]), fmt_us(p50s[-1])))
        else:
            self.w("No floor: bin/pingpong failed.")
        self.w()
        rr = self.redis_c50()
        if rr:
            self.w("**redis-server** at 50 sessions: %s req/s, the mean of "
                   "a run before the models' 50-session runs (%s) and one "
                   "after them (%s); inline PING padded to 16 bytes." % (
                       fmt_num(rr), fmt_num(self.rps("redis", "c50")),
                       fmt_num(self.rps("redis", "c50-end"))))
            self.w()
        rows = []
        for t in b.models:
            j1, j50, jt = (self.find(t, x) for x in ("c1", "c50", top))
            s1 = lg_summary(j1) if j1 else None
            s50 = lg_summary(j50) if j50 else None
            row = [t]
            fl = j1["bench"].get("floor") if j1 else None
            if fl and s1 and s1["p50_us"]:
                row += [fmt_us(s1["p50_us"]),
                        "%.2f" % (s1["p50_us"] / fl["p50_us"]),
                        "%.2f" % (s1["p50_us"] / fl["loadgen_p50_us"])
                        if fl.get("loadgen_p50_us") else "-",
                        "%.2f" % (s1["rps"] / fl["rps"])]
            else:
                row += ["-", "-", "-", "-"]
            row.append(cell_rps(j50))
            row.append("%.2f" % (s50["rps"] / rr) if s50 and rr else "-")
            peak = max(((lg_summary(j)["rps"], j["bench"]["sessions"], j)
                        for j in b.runs if j["bench"]["target"] == t and
                        j["bench"]["keepalive"] == 1),
                       key=lambda x: x[0], default=None)
            row.append("%s at %d%s" % (fmt_num(peak[0]), peak[1],
                                       served_note(peak[2], errors=False))
                       if peak else "-")
            mm = mem_marginal(jt) if jt else None
            sr = lg_summary(jt)["sessions_replied"] if jt else None
            row.append(fmt_kib(mm) +
                       (" (%d served)" % sr if sr is not None and
                        sr < jt["bench"]["sessions"] else ""))
            rows.append(row)
        self.w("Per model: at 1 session, the p50 round trip and its ratio "
               "to the floor's p50 (1.00 = as fast as the floor; the target "
               "is within a few percent), its ratio to the loadgen floor's "
               "p50 (the server's own share: the client is the same), and "
               "its throughput as a fraction of the floor's round trips/s; "
               "at 50 sessions, the throughput and its "
               "ratio to redis-server's in the same run (the target: the "
               "best model >= 1.00); the peak throughput and where; the "
               "marginal memory per session at %s." % top)
        self.w()
        self.table(["model", "c1 p50", "p50 / floor",
                    "p50 / loadgen floor", "c1 req/s / floor",
                    "c50 req/s", "c50 / redis", "peak req/s at sessions",
                    "KiB/session at " + top], rows)
        if rr:
            full = [(lg_summary(j)["rps"], t) for t, j in
                    ((t, self.find(t, "c50")) for t in b.models)
                    if j and not served_note(j, errors=False)]
            best = max(full, default=None)
            if best:
                self.w("Best model at 50 sessions, among those that served "
                       "all 50: **%s**, %.2f x redis-server%s." % (
                           best[1], best[0] / rr,
                           " (>= 1: the target is met in this run)"
                           if best[0] >= rr else
                           " (< 1: the target is not met in this run)"))
                self.w()

    def section_cpu_mem(self):
        a = self.a
        b = self.b
        top = "c%d" % max(a.sessions)
        self.w("## Server CPU per request and memory per session")
        self.w()
        self.w("CPU: user + sys of the server and of every child it reaped "
               "(wait4 after SIGTERM), divided by the replies it produced "
               "(warm-up included, as its CPU time is), in microseconds.  "
               "Memory: PSS (proportional set size) summed over the server "
               "and its children, sampled once during the %s run, in its "
               "warm-up, as soon as the server's count of processes, "
               "threads and sockets had stopped changing (every session "
               "accepted, with its thread or child); per "
               "session is that total divided by %d, and the marginal "
               "figure subtracts the idle server measured before the load."
               % (top, max(a.sessions)))
        self.w()
        labels = table_labels(a)
        rows = []
        for t in self.targets():
            r = [label_of(t)]
            for lab in labels:
                j = self.find(t, lab)
                c = cpu_per_request(j) if j and "bench" in j else None
                r.append("%.1f" % c if c is not None else "-")
            j = self.find(t, top)
            m = j["bench"].get("server_mem") if j else None
            if m:
                r += ["%d / %d" % (m["processes"], m["threads"]),
                      "%.1f MiB" % (m["pss_kb"] / 1024),
                      "%.1f" % mem_per_session(j),
                      fmt_kib(mem_marginal(j))]
            else:
                r += ["-"] * 4
            rows.append(r)
        self.table(["model"] + ["cpu us/req " + x for x in labels] +
                   ["procs / threads at " + top, "PSS at " + top,
                    "KiB/session", "marginal KiB/session"], rows)
        self.w(syscount.report(b.out, {
            t: (cpu_per_request(j), not served_note(j, errors=False),
                j["bench"].get("server_cpu_s"))
            for t in self.targets() for j in [self.find(t, "c50")] if j}))
        if b.pingpong:
            self.w("The floor's echo process (median run) used %.1f us of "
                   "CPU per round trip." %
                   b.pingpong["server_cpu_us_per_request"])
            self.w()

    def section_connect(self):
        a = self.a
        self.w("## Connect time")
        self.w()
        self.w("From connect() to the established connection, as loadgen "
               "sees it (the kernel completes the handshake; a full accept "
               "queue shows here as SYN retries of 1 s and more).  "
               "`first reply` is connect() to the first reply: it includes "
               "the wait in the accept queue until the server accepts.")
        self.w()
        rows = []
        for t in self.targets():
            for lab in ["c%d" % max(a.sessions),
                        "k0-c%d" % a.k0_sessions]:
                j = self.find(t, lab)
                if not j or "bench" not in j:
                    continue
                s = lg_summary(j)
                c, fr = s["connect"], s["first_reply"]
                rows.append([label_of(t), lab,
                             fmt_us(c.get("p50")), fmt_us(c.get("p99")),
                             fmt_us(c.get("max")),
                             fmt_us(fr.get("p50")), fmt_us(fr.get("p99")),
                             fmt_us(fr.get("max")),
                             s["syn_retrans"] if s["syn_retrans"]
                             is not None else "-",
                             s["listen_overflows"] if s["listen_overflows"]
                             is not None else "-"])
        self.table(["model", "run", "connect p50", "p99", "max",
                    "first reply p50", "p99", "max", "SYN retried",
                    "ListenOverflows"], rows)

    def section_hyperfine(self):
        a = self.a
        self.w("## The whole fixed workload, timed by hyperfine")
        self.w()
        if not self.b.hf:
            self.w("Not run: " + ("hyperfine is not installed."
                                  if not shutil.which("hyperfine")
                                  else "see the notes above."))
            self.w()
            return
        self.w("Each command starts the server, runs `loadgen -c %d -n %d` "
               "(a fixed number of requests) and stops the server "
               "(`bench/bench.py --one MODEL`; its Python start-up, a few "
               "tens of ms, is in every figure alike).  `--warmup 1 --runs "
               "%d`%s.  Exported to [hyperfine.json](hyperfine.json) and "
               "[hyperfine.md](hyperfine.md)." % (
                   a.hf_sessions, a.hf_requests, a.hf_runs,
                   "; the pooled models get `--workers %d`" %
                   workers_for(a, self.b.pools, next(iter(self.b.pools)),
                               a.hf_sessions, 1)
                   if self.b.pools else ""))
        self.w()
        with open(os.path.join(self.b.out, "hyperfine.md")) as f:
            for line in f.read().splitlines():
                # The commands are long; the model name says enough.
                self.w(line)
        self.w()
        failed = [r["command"] for r in self.b.hf["results"]
                  if any(c != 0 for c in (r.get("exit_codes") or []))]
        if failed:
            self.w("Runs that exited non-zero (loadgen errors or "
                   "timeouts): " + ", ".join(failed) + ".")
            self.w()

    def section_plots(self):
        self.w("## Plots")
        self.w()
        self.w("![throughput against sessions](throughput.svg)")
        self.w()
        for lab in self.b.plot_labels:
            self.w("![latency percentiles, %s](latency-%s.svg)" % (lab, lab))
            self.w()
        self.w("![connect-time distribution](connect.svg)")
        self.w()

    def section_files(self):
        self.w("## Files")
        self.w()
        self.w("`runs/MODEL-RUN-rN.json`: loadgen's JSON for each run and "
               "round, with a `bench` object merged in (server and loadgen "
               "commands, server CPU and memory, exit statuses, the floors "
               "a `c1` run was compared with, and, in the median round, "
               "every round's throughput); `ranking.csv`: the ranking "
               "with ties, one row per load and model; "
               "`runs/pingpong-N.json` and "
               "`runs/pingpong-server-c1-N-rK.json`: the floor runs; "
               "`summary.csv`: one row per run and round; `syscalls.csv`: "
               "the system call counting runs; `uringratio.csv`: the "
               "io_uring / epoll runs; `plotdata/`: the "
               "numbers behind the plots; `logs/`: server stderr, kept "
               "only when not empty.")
        self.w()


def table_labels(a):
    """Columns of the per-run tables: persistent runs by sessions, the
    50-session run in its place, then the connection-per-request run."""
    return ["c%d" % c for c in sorted(set(a.sessions) | {50})] + \
        ["k0-c%d" % a.k0_sessions]


def label_of(t):
    return "redis-server (reference)" if t == "redis" else t


def cell_rps(j):
    if j is None or "bench" not in j:
        return "-"
    return fmt_num(lg_summary(j)["rps"]) + served_note(j)


def served_note(j, errors=True):
    s = lg_summary(j)
    b = j["bench"]
    notes = []
    sr = s["sessions_replied"]
    if b["keepalive"] and sr is not None and sr < b["sessions"]:
        notes.append("%d of %d sessions served" % (sr, b["sessions"]))
    if errors and s["errors_total"]:
        notes.append("%d errors" % s["errors_total"])
    return " (%s)" % "; ".join(notes) if notes else ""


# ---------------------------------------------------------------------
# --one: one fixed workload against one fresh server (hyperfine's command).

def one(args):
    kind = "redis" if args.one == "redis" else "model"
    workers = workers_for(args, pool_models(args.bin), args.one,
                          args.sessions, 1) if kind == "model" else None
    srv = Server(kind, args.one, args.bin, os.devnull, workers=workers)
    srv.start()
    try:
        cmd = [os.path.join(args.bin, "loadgen"), "--host", "127.0.0.1",
               "--port", str(srv.port), "-c", str(args.sessions),
               "-t", str(min(args.threads, args.sessions)),
               "-n", str(args.requests), "--timeout", str(args.timeout),
               "--quiet"]
        if args.one == "redis":
            cmd += ["--request", REDIS_REQUEST, "--no-verify"]
        rc, err, killed = run_cmd_bounded(cmd, args.timeout * 2 + 60)
        if rc != 0:
            sys.stderr.write(err)
        return 1 if rc != 0 or killed else 0
    finally:
        srv.stop()


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench.py",
        description="socklab's benchmark driver (make bench).")
    p.add_argument("--quick", action="store_true",
                   help="a short run (make bench QUICK=1): at most 90 s")
    p.add_argument("--bin", default=os.environ.get("SOCKLAB_BIN",
                                                   os.path.join(REPO, "bin")))
    p.add_argument("--out", help="results directory (default "
                   "results/<date>-<host>)")
    p.add_argument("--models", type=lambda s: s.split(","),
                   help="comma-separated models (default: --list-models)")
    p.add_argument("--sessions", type=lambda s: [int(x) for x in
                                                 s.split(",")])
    p.add_argument("--k0-sessions", type=int, default=10,
                   help="concurrent clients of the -k 0 run")
    p.add_argument("-d", "--duration", type=float,
                   help="seconds measured per run (default 0.3; quick 0.2)")
    p.add_argument("--rounds", type=int,
                   help="rounds at least (default 4; quick 3): every run is "
                   "repeated, the tables show the median and the interval "
                   "over the rounds")
    p.add_argument("--max-rounds", type=int,
                   help="rounds at most (default 8; quick 3; with --rounds "
                   "alone: the same as --rounds): a load whose ranking has "
                   "settled stops early")
    p.add_argument("--budget", type=float,
                   help="seconds the whole bench may take (default 570; "
                   "quick 85): no round past --rounds starts unless it "
                   "fits")
    p.add_argument("--no-compare", action="store_true",
                   help="do not compare the ranking with the previous run")
    p.add_argument("--warmup", type=float)
    p.add_argument("--pingpong-duration", type=float,
                   help="seconds of bin/pingpong (default: -d)")
    p.add_argument("-t", "--threads", type=int, default=1,
                   help="loadgen threads (default 1)")
    p.add_argument("--timeout", type=float, default=5,
                   help="loadgen --timeout in seconds")
    p.add_argument("--workers", type=int,
                   help="--workers for the pooled models in every run "
                   "(default: max(CPUs, sessions), at most %d, for "
                   "persistent sessions; one per CPU for -k 0)" % MAX_POOL)
    p.add_argument("--hf-runs", type=int)
    p.add_argument("--hf-sessions", type=int, default=100)
    p.add_argument("--hf-requests", type=int)
    p.add_argument("--no-redis", action="store_true")
    p.add_argument("--bulk",
                   help="line sizes of the bulk runs (one session, %d in "
                   "flight), of %s, or 'none'" % (BULK_PIPELINE,
                                                  ",".join(BULK_SIZES)))
    p.add_argument("--server-cmd", action="append", type=server_cmd_arg,
                   metavar="[NAME=]CMD",
                   help="also measure the server CMD starts, {port} in CMD "
                   "being its port, e.g. 'python3 server.py {port}' "
                   "(repeatable)")
    p.add_argument("--connect", action="append", type=connect_arg,
                   metavar="HOST:PORT",
                   help="also measure a server already running there "
                   "(repeatable; no CPU or memory figures)")
    p.add_argument("--no-lab", action="store_true",
                   help="leave out the lab's Python thread server")
    p.add_argument("--no-hyperfine", action="store_true")
    p.add_argument("--pin", action="store_true",
                   help="the server on one CPU, loadgen on another "
                   "(make bench PIN=1)")
    p.add_argument("--no-syscalls", action="store_true",
                   help="no system call counting runs (bench/syscount.py)")
    p.add_argument("--one", metavar="MODEL",
                   help="run one fixed workload against MODEL and exit")
    p.add_argument("-c", dest="sessions_one", type=int, default=100)
    p.add_argument("-n", dest="requests", type=int, default=10000)
    a = p.parse_args(argv)
    a.argv = [shell_quote(x.replace(REPO + "/", "")) for x in argv]
    q = a.quick
    if a.sessions is None:
        a.sessions = [1, 10] if q else [1, 10, 100, 1000]
    if a.duration is None:
        a.duration = 0.2 if q else 0.3
    if a.warmup is None:
        a.warmup = 0.1 if q else 0.2
    if a.bulk is None:
        a.bulk = "16k" if q else "1k,16k,64k"
    if a.rounds is None:
        a.rounds = 2 if q else 3
        if a.max_rounds is None:
            a.max_rounds = 3 if q else 6
    if a.budget is None:
        a.budget = 85 if q else 570
    if a.max_rounds is None:
        a.max_rounds = a.rounds
    if a.rounds < 1 or a.max_rounds < a.rounds:
        p.error("need 1 <= --rounds <= --max-rounds")
    BULK.clear()
    for x in a.bulk.split(","):
        if x in BULK_SIZES:
            BULK["bulk-" + x] = BULK_SIZES[x]
        elif x != "none":
            p.error("--bulk: %r is not one of %s or none"
                    % (x, ",".join(BULK_SIZES)))
    if a.hf_runs is None:
        a.hf_runs = 2 if q else 3
    if a.hf_requests is None:
        a.hf_requests = 2000 if q else 30000
    if a.quick:
        a.hf_sessions = min(a.hf_sessions, 10)
    why = siderun.pin_setup(a.pin)
    if why:
        p.error(why)
    return a


def main(argv):
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        if a.one:
            a.sessions = a.sessions_one
            return one(a)
        if a.out is None:
            a.out = os.path.join(REPO, "results", "%s-%s" % (
                datetime.date.today().isoformat(), socket.gethostname()))
        for prog in ("server", "loadgen", "pingpong"):
            if not os.access(os.path.join(a.bin, prog), os.X_OK):
                warn("%s/%s is missing: run make first" % (a.bin, prog))
                return 1
        Bench(a).main()
        return 0
    except Interrupted as e:
        warn("interrupted (%s): stopping everything" % e)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        REG.kill_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
