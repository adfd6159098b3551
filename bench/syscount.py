#!/usr/bin/env python3
"""syscount.py - system calls per request, per server model (issue 12).

For each model (and redis-server, the reference) at each concurrency, a
separate short run: a fresh server, a counter attached to it and to every
process it has, loadgen for a fraction of a second, the counter stopped.
The count, over the whole run (session set-up and warm-up included, as
the bench's CPU per request is), divided by the replies the server
produced, is its system calls per request.  The counter is
`perf stat -e raw_syscalls:sys_enter` (in-kernel counting, with one
tracepoint per common system call for the breakdown; new threads and
children inherit the counters) or, without perf, `strace -c -f`, which
stops the server at every call and so is kept to this separate run too.

    bench/syscount.py --bin DIR --out DIR [--models a,b] [--sessions 1,50,1000]
                      [-d SECONDS] [--pin] [--no-redis] [--tool auto|perf|strace]

writes OUT/syscalls.csv and OUT/syscalls.md (a table that `make bench`
puts beside the server CPU per request), or, where no counter can attach
(ptrace or perf_event restrictions), a syscalls.md that says why.
"""

import argparse
import csv
import os
import resource
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kprofile  # noqa: E402
import siderun  # noqa: E402
from socklab_bench import models, pin  # noqa: E402

# The breakdown counts these one by one (a tracepoint each, per thread:
# the full list of about 360 would cost too much at 1000 threads); the
# rest of the total shows as "other".  The likeliest first: perf opens a
# descriptor per event and thread it attaches to, and a tree of many
# threads gets only as many of these as fit under our descriptor limit.
SYSCALLS = """read write sendto recvfrom poll epoll_wait io_uring_enter
accept4 close futex epoll_ctl readv writev recvmsg sendmsg ppoll
epoll_pwait epoll_pwait2 recvmmsg sendmmsg select pselect6 accept
shutdown clone clone3 wait4 rt_sigprocmask rt_sigaction mmap munmap
mprotect madvise brk setsockopt getsockopt getpid gettid fcntl ioctl
openat nanosleep clock_nanosleep sched_yield""".split()
FD_SPARE = 200
TRACEFS = ("/sys/kernel/tracing/events/syscalls",
           "/sys/kernel/debug/tracing/events/syscalls")
ATTACH_TIMEOUT = 10.0
FIELDS = ["model", "sessions", "replies", "syscalls",
          "syscalls_per_request", "top1", "top1_per_request", "top2",
          "top2_per_request", "top3", "top3_per_request", "counted_with",
          "named", "pinned", "note"]


class Perf:
    """perf stat on a set of pids, started with its events disabled and
    enabled through its control descriptor: its "ack" says it counts."""
    name = "perf stat -e raw_syscalls:sys_enter"

    def __init__(self, tmp):
        self.tmp = tmp
        self.events = ["raw_syscalls:sys_enter"]
        tfs = next((d for d in TRACEFS if os.path.isdir(d)), None)
        if tfs:
            self.events += ["syscalls:sys_enter_" + s for s in SYSCALLS
                            if os.path.isdir(os.path.join(
                                tfs, "sys_enter_" + s))]

    def start(self, pids):
        """Attach, with as many events as descriptors allow."""
        self.out = self.tmp + ".perf"
        threads = sum(ntasks(p) for p in pids)
        room = (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - FD_SPARE) \
            // max(threads, 1)
        if room < 1:
            raise RuntimeError("%d threads: more than perf can open an "
                               "event for each" % threads)
        events = self.events[:room]
        self.one_by_one = len(events) - 1
        ctl_r, ctl_w = os.pipe()
        ack_r, ack_w = os.pipe()
        cmd = ["perf", "stat", "-x,", "-o", self.out, "-D", "-1",
               "--control", "fd:%d,%d" % (ctl_r, ack_w),
               "-e", ",".join(events),
               "-p", ",".join(str(p) for p in pids)]
        self.proc = subprocess.Popen(cmd, pass_fds=(ctl_r, ack_w),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        os.close(ctl_r)
        os.close(ack_w)
        try:
            os.write(ctl_w, b"enable\n")
            ok = wait_for(ack_r, b"ack", ATTACH_TIMEOUT)
        finally:
            os.close(ctl_w)
            os.close(ack_r)
        if not ok:
            self.abort()
            raise RuntimeError("perf stat did not attach: %s"
                               % self.err().strip()[-200:])

    def stop(self):
        """{"total": n, syscall: n, ...}."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.abort()
            raise RuntimeError("perf stat did not stop")
        counts = {}
        with open(self.out) as f:
            for line in f:
                x = line.strip().split(",")
                if len(x) < 3 or not x[2].startswith(("raw_", "sysc")):
                    continue
                n = int(x[0]) if x[0].isdigit() else 0
                key = "total" if x[2].startswith("raw_") else \
                    x[2].split("sys_enter_", 1)[1]
                counts[key] = n
        os.unlink(self.out)
        self.proc.stderr.close()
        if "total" not in counts:
            raise RuntimeError("perf stat counted nothing")
        return counts

    def err(self):
        try:
            return self.proc.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def abort(self):
        self.proc.kill()
        self.proc.wait()


class Strace:
    """strace -c -f on a set of pids; up once it said every one is
    attached."""
    name = "strace -c -f"

    def __init__(self, tmp):
        self.tmp = tmp
        self.one_by_one = None          # every call is named

    def start(self, pids):
        self.out = self.tmp + ".strace"
        cmd = ["strace", "-c", "-f", "-o", self.out]
        for p in pids:
            cmd += ["-p", str(p)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        fd = self.proc.stderr.fileno()
        buf = b""
        deadline = time.monotonic() + ATTACH_TIMEOUT
        while buf.count(b" attached") < len(pids):
            chunk = read_some(fd, deadline)
            if not chunk:
                self.abort()
                raise RuntimeError("strace did not attach: %s"
                                   % buf.decode(errors="replace")[-200:])
            buf += chunk

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.abort()
            raise RuntimeError("strace did not stop")
        self.proc.stderr.close()
        counts = {}
        row = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?"
                         r"(\S+)\s*$")
        with open(self.out) as f:
            for line in f:
                m = row.match(line)
                if m:
                    counts[m.group(2)] = int(m.group(1))
        os.unlink(self.out)
        if "total" not in counts:
            raise RuntimeError("strace wrote no summary")
        return counts

    def abort(self):
        self.proc.kill()
        self.proc.wait()


def ntasks(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 1


def read_some(fd, deadline):
    """Bytes from fd, or b"" at EOF or past deadline."""
    import select
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        return b""
    return os.read(fd, 4096)


def wait_for(fd, word, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    while word not in buf:
        chunk = read_some(fd, deadline)
        if not chunk:
            return False
        buf += chunk
    return True


def pick_counter(want, tmp):
    """A counter that attaches here, or (None, why not).  Tried on a
    child of ours, cat, made to read and write a line while counted."""
    whys = []
    for kind in (["perf", "strace"] if want == "auto" else [want]):
        cls = Perf if kind == "perf" else Strace
        if subprocess.run(["sh", "-c", "command -v " + kind],
                          capture_output=True).returncode != 0:
            whys.append("%s is not installed" % kind)
            continue
        probe = subprocess.Popen(["cat"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        c = cls(tmp)
        try:
            c.start([probe.pid])
            try:
                probe.stdin.write(b"probe\n")
                probe.stdin.flush()
                probe.stdout.readline()
            finally:
                counts = c.stop()
            if counts.get("total", 0) > 0:
                return c, None
            whys.append("%s counted nothing" % kind)
        except (RuntimeError, OSError) as e:
            whys.append("%s: %s" % (kind, e))
        finally:
            probe.kill()
            probe.communicate()
    return None, "; ".join(whys)


def count_one(counter, a, target, pools, sessions, tmp):
    """One counting run: a CSV row (dict)."""
    side = siderun.Side(a.bin, target, sessions, pools=pools,
                        log="%s.%s-c%d.server.log" % (tmp, target,
                                                       sessions))
    side.start()
    note = ""
    try:
        counter.start(side.pids())
        try:
            j, rc = side.loadgen(sessions, a.duration, warmup_for(a,
                                                                  sessions))
        finally:
            counts = counter.stop()
    finally:
        side.stop()
    n = siderun.replies(j)
    served = (j.get("first_reply_us") or {}).get("count")
    if served is not None and served < sessions:
        note = "%d of %d sessions served" % (served, sessions)
    elif rc not in (0, None) or not j:
        note = "loadgen exit %s" % rc
    total = counts.pop("total")
    named = sorted(counts.items(), key=lambda kv: -kv[1])
    other = total - sum(counts.values())
    if other > 0:
        named = sorted(named + [("other", other)], key=lambda kv: -kv[1])
    row = {"model": target, "sessions": sessions, "replies": n,
           "syscalls": total,
           "syscalls_per_request": "%.3f" % (total / n) if n else "",
           "counted_with": counter.name,
           "named": counter.one_by_one if counter.one_by_one is not None
           else "all",
           "pinned": "yes" if pin.PIN else "no", "note": note}
    for i in range(3):
        name, c = named[i] if i < len(named) and named[i][1] else ("", 0)
        row["top%d" % (i + 1)] = name
        row["top%d_per_request" % (i + 1)] = "%.3f" % (c / n) if n and \
            name else ""
    return row


def warmup_for(a, sessions):
    """As the bench: a warm-up, plus 1.2 s per thousand sessions to open."""
    return a.warmup + 1.2 * sessions / 1000


def run(a):
    """Count every (target, sessions); the rows, or (None, why)."""
    tmp = os.path.join(a.out, "syscount.%d" % os.getpid())
    counter, why = pick_counter(a.tool, tmp)
    if counter is None:
        return None, why
    able = siderun.runnable(a.bin)
    pools = models.pool_models(a.bin)
    targets = [m for m in (a.models or able) if m in able]
    if not a.no_redis and subprocess.run(
            ["sh", "-c", "command -v redis-server"],
            capture_output=True).returncode == 0:
        targets.append("redis")
    rows = []
    for c in a.sessions:
        for t in targets:
            try:
                r = count_one(counter, a, t, pools, c, tmp)
            except (RuntimeError, OSError) as e:
                r = {"model": t, "sessions": c,
                     "note": " ".join(str(e).split())[:160]}
            rows.append(r)
            print("syscount: %-16s c%-5d %8s syscalls/request  %s %s" % (
                t, c, r.get("syscalls_per_request") or "-",
                " ".join("%s %s" % (r.get("top%d" % i), r.get(
                    "top%d_per_request" % i)) for i in (1, 2, 3)
                    if r.get("top%d" % i)), r.get("note", "")),
                flush=True)
    return rows, None


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def top_text(r):
    return ", ".join("%s %s" % (r["top%d" % i], r["top%d_per_request" % i])
                     for i in (1, 2, 3) if r.get("top%d" % i))


def markdown(rows, sessions):
    """The table: one row per model, system calls per request at each
    concurrency, and the top 3 (per request) at the others."""
    by = {(r["model"], int(r["sessions"])): r for r in rows}
    models = list(dict.fromkeys(r["model"] for r in rows))
    head = ["model"] + ["syscalls/req c%d" % c for c in sessions] + \
        ["top 3 at c%d (per request)" % c for c in sessions if c != 1]
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" if i else "---"
                          for i in range(len(head))) + "|"]
    for m in models:
        cells = ["redis-server (reference)" if m == "redis" else m]
        for c in sessions:
            r = by.get((m, c), {})
            v = r.get("syscalls_per_request") or "-"
            note = r.get("note", "").replace("|", "/")
            cells.append(v + (" (%s)" % note if note else ""))
        for c in sessions:
            if c != 1:
                cells.append(top_text(by[(m, c)]) if (m, c) in by else "-")
        out.append("| " + " | ".join(cells) + " |")
    how = rows[0].get("counted_with") if rows else "?"
    pin = any(r.get("pinned") == "yes" for r in rows)
    return ("System calls per request, counted in a separate short run per "
            "model and concurrency (so that counting does not distort the "
            "timed runs) with `%s` on the server and every process and "
            "thread it has or makes, over the whole run (connects and "
            "warm-up included), divided by the replies it produced; %s.  "
            "`other`: calls outside those counted one by one (%s; column "
            "`named` of syscalls.csv).\n\n%s\n"
            % (how, "pinned like the timed runs" if pin else "not pinned",
               named_text(rows), "\n".join(out)))


def named_text(rows):
    """How many calls the breakdown named, in a phrase."""
    ns = sorted({r.get("named") for r in rows if r.get("named")})
    if ns == ["all"]:
        return "strace names them all"
    nums = sorted(int(n) for n in ns if n.isdigit())
    if not nums:
        return "none"
    if len(nums) == 1:
        return "%d of them" % nums[0]
    return ("%d of them, %d where the server had so many threads that "
            "perf could open no more events" % (nums[-1], nums[0]))


def target_text(rows, cpu50, out=None):
    """The issue's CPU target, from the timed runs' CPU per request at 50
    sessions ({target: (us/request, every session served, {"user": s,
    "sys": s, ...})}) and the counts at 50 sessions; and where the best
    model's CPU goes, if kprofile.py profiled it into OUT."""
    rr = (cpu50.get("redis") or (None,))[0]
    models = [(c, m) for m, (c, full, _) in cpu50.items()
              if m != "redis" and c is not None and full]
    if not rr or not models:
        return ""
    cpu, best = min(models)
    ratio = cpu / rr
    by = {r["model"]: r for r in rows if r.get("sessions") in ("50", 50)}

    def calls(m):
        r = by.get(m)
        if not r or not r.get("syscalls_per_request"):
            return "not counted"
        return "%s syscalls/request (%s)" % (r["syscalls_per_request"],
                                             top_text(r))
    s = ("**CPU target (issue 12)**: at 50 sessions the best model's "
         "server CPU per request at most 0.6x redis-server's.  This run: "
         "`%s` %.2f us/request%s, redis-server %.2f%s: %.2fx, %s.  System "
         "calls at 50 sessions: `%s` %s; redis-server %s."
         % (best, cpu, sys_share(cpu50, best), rr,
            sys_share(cpu50, "redis"), ratio,
            "met" if ratio <= 0.6 else "missed",
            best, calls(best), calls("redis")))
    if ratio > 0.6:
        s += "  " + fewest_text(rows, cpu50, rr)
    s += "\n"
    k = kprofile.sentence(out, best) if out else ""
    return s + "\n" + k if k else s


def report(out, cpu50):
    """What `make bench` prints beside its CPU per request: the table, and
    the CPU target against the timed runs' figures (cpu50, see
    target_text)."""
    try:
        with open(os.path.join(out, "syscalls.md")) as f:
            md = f.read()
    except OSError:
        return "System calls per request: not counted.\n"
    try:
        rows = read_csv(os.path.join(out, "syscalls.csv"))
    except OSError:
        rows = []
    return md + "\n" + target_text(rows, cpu50, out)


def bench_args(a):
    """This script's arguments for the bench's own (a: its options)."""
    return ["--bin", a.bin, "--out", a.out] + \
        (["--models", ",".join(a.models)] if a.models else []) + \
        (["--pin"] if a.pin else []) + (["--quick"] if a.quick else []) + \
        (["--no-redis"] if a.no_redis else [])


def sys_share(cpu50, m):
    """" (N % in the kernel)": the system time's share of the CPU."""
    c = (cpu50.get(m) or (None, None, None))[2] or {}
    if not c.get("total"):
        return ""
    return " (%.0f %% of it system time)" % (100 * c["sys"] / c["total"])


def fewest_text(rows, cpu50, rr):
    """Why a miss: the model that makes the fewest system calls per
    request at 50 sessions, and what CPU that bought it."""
    counted = [(float(r["syscalls_per_request"]), r["model"]) for r in rows
               if r.get("sessions") in ("50", 50) and r["model"] != "redis"
               and r.get("syscalls_per_request") and not r.get("note")]
    if not counted:
        return "No counts at 50 sessions to explain it."
    n, m = min(counted)
    cpu, _, ru = cpu50.get(m) or (None, None, None)
    if cpu is None:
        return "Fewest system calls: `%s`, %.3f per request." % (m, n)
    s = ("Fewest system calls at 50 sessions: `%s`, %.3f per request, "
         "at %.2f us/request of CPU%s (%.2fx redis-server's): batching "
         "the calls %s." % (m, n, cpu, sys_share(cpu50, m), cpu / rr,
                            "did not bring the CPU down to 0.6x"
                            if cpu / rr > 0.6 else "did"))
    if ru and ru.get("total") and ru["sys"] > ru["total"] / 2:
        s += ("  The count of system calls alone does not set the CPU per "
              "request: most of it is system time, spent on the work the "
              "calls ask for (receiving a line, sending its reply, waking "
              "the peer over loopback), which every design pays once per "
              "line with one line in flight per session.")
    return s


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="syscount.py",
        description="System calls per request of each server model, in "
        "short counting runs (issue 12).")
    p.add_argument("--bin", required=True, help="directory of bin/server "
                   "and bin/loadgen")
    p.add_argument("--out", required=True, help="directory for "
                   "syscalls.csv and syscalls.md")
    p.add_argument("--models", type=lambda s: s.split(","),
                   help="comma-separated models (default: --list-models "
                   "but the one-line-per-connection ones)")
    p.add_argument("--sessions", type=ints,
                   help="concurrencies (default 1,50,1000; quick 1,50)")
    p.add_argument("-d", "--duration", type=float,
                   help="seconds loadgen measures per run (default 0.5; "
                   "quick 0.2)")
    p.add_argument("--quick", action="store_true",
                   help="fewer and shorter runs")
    p.add_argument("--warmup", type=float, default=0.2,
                   help="loadgen warm-up, plus 1.2 s per 1000 sessions "
                   "(default 0.2)")
    p.add_argument("--pin", action="store_true",
                   help="server on one CPU, loadgen on another")
    p.add_argument("--no-redis", action="store_true",
                   help="leave out redis-server")
    p.add_argument("--tool", choices=["auto", "perf", "strace"],
                   default="auto", help="the counter (default: perf, "
                   "else strace)")
    a = p.parse_args(argv)
    if a.sessions is None:
        a.sessions = [1, 50] if a.quick else [1, 50, 1000]
    if a.duration is None:
        a.duration = 0.2 if a.quick else 0.5
    if a.duration <= 0 or a.warmup < 0:
        p.error("-d must be > 0 and --warmup >= 0")
    why = pin.pin_setup(a.pin)
    if why:
        p.error(why)
    return a


def ints(s):
    try:
        v = [int(x) for x in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%r: not a list of integers" % s)
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError("%r: counts start at 1" % s)
    return v


def write(a, rows, md):
    write_csv(os.path.join(a.out, "syscalls.csv"), rows)
    with open(md, "w") as f:
        f.write(markdown(read_csv(os.path.join(a.out, "syscalls.csv")),
                         a.sessions))


def main(argv):
    return siderun.main(argv, "syscount", parse_args, run, write,
                        "syscalls", "System calls per request: not counted")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
