#!/usr/bin/env python3
# Issue 12's bench side runs, at small scale: bench/syscount.py counts the
# epoll model's system calls at one session (with perf and with strace,
# each where it can attach) and its CSV must be sane; --pin must really
# set the CPU affinity of the server, its threads and loadgen (read back
# from /proc/PID/status); bench/uringratio.py fills a one-cell table; bad
# values are usage errors.
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(REPO, "bench"))
from socklab import TAP, bin, have  # noqa: E402
import siderun  # noqa: E402
from socklab_bench import pin  # noqa: E402

t = TAP()
for prog in ("server", "loadgen"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))
BINDIR = os.path.dirname(bin("server"))
TMP = tempfile.mkdtemp(prefix="socklab-syscount.")
SYSCOUNT = os.path.join(REPO, "bench", "syscount.py")
RATIO = os.path.join(REPO, "bench", "uringratio.py")


def script(path, args, timeout=120, pre=()):
    return subprocess.run(list(pre) + [sys.executable, path] + args,
                          capture_output=True, text=True, timeout=timeout)


# --- system calls per request -------------------------------------------
for tool in ("perf", "strace"):
    name = "syscount --tool %s: epoll at 1 session" % tool
    if shutil.which(tool) is None:
        t.skip(name, "%s is not installed" % tool)
        continue
    out = os.path.join(TMP, tool)
    p = script(SYSCOUNT, ["--bin", BINDIR, "--out", out, "--models",
                          "epoll", "--sessions", "1", "-d", "0.3",
                          "--warmup", "0.05", "--no-redis", "--tool", tool])
    if p.returncode != 0:
        t.ok(False, name + " exits 0")
        t.diag(p.stdout[-1500:] + p.stderr[-1500:])
        continue
    if "skipped:" in p.stdout:
        t.skip(name, p.stdout.strip().split("skipped: ", 1)[1])
        continue
    with open(os.path.join(out, "syscalls.csv")) as f:
        rows = list(csv.DictReader(f))
    r = rows[0] if len(rows) == 1 else {}
    per = float(r.get("syscalls_per_request") or 0)
    # One request at a time: at least its receive and its send.
    t.ok(r.get("model") == "epoll" and r.get("sessions") == "1" and
         int(r.get("replies") or 0) > 100 and per >= 1 and per < 50 and
         r.get("top1") and float(r.get("top1_per_request") or 0) > 0,
         "%s: %s syscalls/request over %s replies, top %s %s" % (
             name, r.get("syscalls_per_request"), r.get("replies"),
             r.get("top1"), r.get("top1_per_request")))
    top = {r.get("top%d" % i) for i in (1, 2, 3)}
    t.ok({"read", "sendto"} <= top or "other" in top,
         "%s: read and sendto among the top 3 (%s)" % (name, sorted(
             x for x in top if x)))
    with open(os.path.join(out, "syscalls.md")) as f:
        md = f.read()
    t.ok("| epoll | %s |" % r.get("syscalls_per_request") in md,
         "%s: syscalls.md has the row" % name)

# --- pinning --------------------------------------------------------------


def cpus_allowed(pid, task=None):
    path = "/proc/%d/task/%d/status" % (pid, task) if task else \
        "/proc/%d/status" % pid
    with open(path) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    return None


why = pin.pin_setup(True)
if why:
    for n in ("pinned server and its threads", "pinned loadgen"):
        t.skip(n, why)
else:
    cs, cl = (str(c) for c in pin.PIN)
    # reuseport: worker threads made at start, after taskset's exec.
    side = siderun.Side(BINDIR, "reuseport", sessions=1)
    side.start()
    try:
        tasks = [int(x) for x in os.listdir("/proc/%d/task" % side.proc.pid)]
        got = {cpus_allowed(side.proc.pid, x) for x in tasks}
        t.ok(len(tasks) > 1 and got == {cs},
             "pinned server: its %d threads may run on CPU %s only (%s)"
             % (len(tasks), cs, sorted(got)))
        lg = subprocess.Popen(pin.pinned(
            [bin("loadgen"), "--port", str(side.port), "-c", "1", "-d",
             "20", "--quiet"], "loadgen"), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        # taskset execs loadgen in place: wait until it has.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/%d/cmdline" % lg.pid, "rb") as f:
                if f.read().split(b"\0")[0].endswith(b"loadgen"):
                    break
            time.sleep(0.02)
        got = cpus_allowed(lg.pid)
        lg.terminate()
        lg.wait(timeout=10)
        t.is_(got, cl, "pinned loadgen may run on CPU %s only" % cl)
    finally:
        side.stop()
    pin.pin_setup(False)

# One CPU in the mask: --pin is a usage error, in one line.
if shutil.which("taskset"):
    p = script(os.path.join(REPO, "bench", "bench.py"),
               ["--pin", "--bin", BINDIR, "--out", TMP], timeout=30,
               pre=["taskset", "-c", str(min(os.sched_getaffinity(0)))])
    t.ok(p.returncode == 2 and "2 CPUs" in p.stderr,
         "bench.py --pin on one CPU: exit 2, saying it needs 2 CPUs")
else:
    t.skip("bench.py --pin on one CPU", "taskset is not installed")

# --- io_uring / epoll, one cell ---------------------------------------------
if "io_uring" in siderun.runnable(BINDIR):
    out = os.path.join(TMP, "ratio")
    p = script(RATIO, ["--bin", BINDIR, "--out", out, "--sessions", "2",
                       "--sizes", "128", "--rounds", "1", "-d", "0.2",
                       "--warmup", "0.05"])
    with open(os.path.join(out, "uringratio.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "uringratio.md")) as f:
        md = f.read()
    ok = p.returncode == 0 and sorted(r["model"] for r in rows) == \
        ["epoll", "io_uring"] and all(float(r["rps"] or 0) > 0 for r in rows)
    t.ok(ok, "uringratio: one run per model, both served")
    e, u = (float(r["rps"]) for r in sorted(rows, key=lambda r: r["model"]))
    t.ok("| 2 | %.2f |" % (u / e) in md,
         "uringratio.md: the ratio of the two (%.2f)" % (u / e))
else:
    t.skip("uringratio", "io_uring is unavailable here")
    t.skip("uringratio.md", "io_uring is unavailable here")

# --- io_uring: one io_uring_enter a request at one session -----------------
# The send's completion comes inside the submit; it must not end the wait
# (it did: a second, empty, enter a request).
name = "io_uring at 1 session: about one io_uring_enter a request"
if "io_uring" not in siderun.runnable(BINDIR):
    t.skip(name, "io_uring is unavailable here")
else:
    out = os.path.join(TMP, "uring1")
    p = script(SYSCOUNT, ["--bin", BINDIR, "--out", out, "--models",
                          "io_uring", "--sessions", "1", "-d", "0.3",
                          "--warmup", "0.05", "--no-redis"])
    if "skipped:" in p.stdout:
        t.skip(name, p.stdout.strip().split("skipped: ", 1)[1])
    else:
        with open(os.path.join(out, "syscalls.csv")) as f:
            rows = list(csv.DictReader(f))
        r = rows[0] if len(rows) == 1 else {}
        per = float(r.get("syscalls_per_request") or 0)
        t.ok(p.returncode == 0 and int(r.get("replies") or 0) > 100 and
             0.9 <= per < 1.5, "%s (%s syscalls/request over %s replies)"
             % (name, r.get("syscalls_per_request"), r.get("replies")))

# --- where the CPU goes: kprofile.py, one model ---------------------------
KPROF = os.path.join(REPO, "bench", "kprofile.py")
name = "kprofile: epoll at 50 sessions"
out = os.path.join(TMP, "kprof")
p = script(KPROF, ["--bin", BINDIR, "--out", out, "--models", "epoll",
                   "-d", "0.3", "--warmup", "0.05", "--no-redis"])
if p.returncode == 0 and "skipped:" in p.stdout:
    t.skip(name, p.stdout.strip().split("skipped: ", 1)[1])
    t.skip(name + ": the sentence", "not profiled")
else:
    with open(os.path.join(out, "kprofile.csv")) as f:
        rows = list(csv.DictReader(f))
    r = rows[0] if len(rows) == 1 else {}
    # A reply sent a line: tcp_sendmsg must show; the shares are shares.
    t.ok(p.returncode == 0 and r.get("model") == "epoll" and
         0 < float(r.get("send") or 0) <= 100 and
         all(0 <= float(r.get(k) or -1) <= 100 for k in
             ("recv", "softirq", "entry", "user")),
         "%s: shares of its samples (%s)" % (name, ", ".join(
             "%s %s" % (k, r.get(k)) for k in ("send", "recv", "softirq",
                                              "entry", "user"))))
    import kprofile  # noqa: E402
    got = kprofile.sentence(out, "epoll")
    t.ok("`epoll`: %s %% of the samples under tcp_sendmsg" % r.get("send")
         in got, name + ": the sentence carries its figures")
p = script(KPROF, ["--bin", BINDIR, "--out", TMP, "-d", "0"], timeout=30)
t.ok(p.returncode == 2, "kprofile.py -d 0: exit 2")

for args, word in ((["--sessions", "0"], "--sessions"),
                   (["--sizes", "x"], "--sizes")):
    p = script(RATIO, ["--bin", BINDIR, "--out", TMP] + args, timeout=30)
    t.ok(p.returncode == 2 and word in p.stderr and
         len(p.stderr.strip().splitlines()[-1]) < 200,
         "uringratio.py %s: exit 2 naming %s" % (" ".join(args), word))
p = script(SYSCOUNT, ["--bin", BINDIR, "--out", TMP, "-d", "0"], timeout=30)
t.ok(p.returncode == 2, "syscount.py -d 0: exit 2")

shutil.rmtree(TMP, ignore_errors=True)
t.done()
