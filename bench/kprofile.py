#!/usr/bin/env python3
"""kprofile.py - where a server's CPU goes at 50 sessions (issue 12).

For each model (and redis-server), a separate short run, as syscount.py's:
a fresh server, loadgen at 50 sessions, and `perf record -g` on the
server meanwhile.  From `perf report --children` it keeps the share of
the samples under a few kernel functions: tcp_sendmsg (sending a reply,
with, over loopback, the softirq that delivers it to the client and wakes
it: handle_softirqs), tcp_recvmsg (taking a line in), the system call
entry and exit themselves, and user space.

    bench/kprofile.py --bin DIR --out DIR [--models a,b] [-d SECONDS]
                      [--pin] [--no-redis]

writes OUT/kprofile.csv, which syscount.report() turns into the sentence
that says where the CPU per request goes; without perf, or where perf
may not sample the kernel, a kprofile.md that says why.
"""

import argparse
import csv
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import siderun  # noqa: E402
from socklab_bench import models, pin  # noqa: E402

SESSIONS = 50
# column: the symbols whose inclusive ("children") shares it adds up, or,
# for the entry, their self shares (they call everything else).
INCLUSIVE = {"send": ["tcp_sendmsg"], "softirq": ["handle_softirqs"],
             "recv": ["tcp_recvmsg"]}
ENTRY = ["entry_SYSCALL_64", "entry_SYSCALL_64_after_hwframe",
         "do_syscall_64", "syscall_exit_to_user_mode",
         "syscall_return_via_sysret", "x64_sys_call"]
FIELDS = ["model", "samples", "send", "softirq", "recv", "entry", "user",
          "pinned", "note"]


def profile(a, target, pools, tmp):
    """One profiled run: a CSV row (dict)."""
    row = {"model": target, "pinned": "yes" if pin.PIN else "no"}
    data = "%s.%s.perf.data" % (tmp, target)
    side = siderun.Side(a.bin, target, SESSIONS, pools=pools)
    side.start()
    try:
        rec = subprocess.Popen(
            ["perf", "record", "-q", "-g", "-F", "999", "-o", data,
             "-p", ",".join(str(p) for p in side.pids()), "--", "sleep",
             str(a.warmup + a.duration)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        side.loadgen(SESSIONS, a.duration, a.warmup)
        try:
            err = rec.communicate(timeout=30)[1].decode(errors="replace")
        except subprocess.TimeoutExpired:
            rec.kill()
            err = rec.communicate()[1].decode(errors="replace")
    finally:
        side.stop()
    if rec.returncode != 0 or not os.path.exists(data):
        row["note"] = "perf record: " + " ".join(err.split())[-160:]
        return row
    rep = subprocess.run(["perf", "report", "-i", data, "--children",
                          "--sort", "sym", "--stdio", "-g", "none"],
                         capture_output=True, text=True, timeout=120)
    os.unlink(data)
    row.update(shares(rep.stdout))
    return row


def shares(text):
    """The row's figures from perf report --children --stdio."""
    child, self_, user, samples = {}, {}, 0.0, None
    for line in text.splitlines():
        x = line.split()
        if line.startswith("# Samples:") and len(x) > 2:
            samples = x[2]
        if len(x) < 4 or not (x[0].endswith("%") and x[1].endswith("%")):
            continue
        c, s = float(x[0][:-1]), float(x[1][:-1])
        sym = x[3] if x[2] in ("[k]", "[.]") else x[-1]
        child[sym], self_[sym] = c, s
        if x[2] == "[.]":
            user += s
    row = {k: "%.1f" % sum(child.get(s, 0) for s in syms)
           for k, syms in INCLUSIVE.items()}
    row["entry"] = "%.1f" % sum(self_.get(s, 0) for s in ENTRY)
    row["user"] = "%.1f" % user
    row["samples"] = samples or ""
    if not child:
        row["note"] = "perf report: no samples"
    return row


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def sentence(out, best, redis="redis"):
    """Where the CPU of best (and redis-server's) goes, from
    OUT/kprofile.csv: one sentence, or "" if not profiled."""
    try:
        rows = {r["model"]: r for r in read_csv(os.path.join(
            out, "kprofile.csv")) if not r.get("note")}
    except OSError:
        return ""

    def parts(m):
        r = rows[m]
        return ("%s %% of the samples under tcp_sendmsg, %s %% under "
                "tcp_recvmsg, %s %% in softirqs (where, over loopback, a "
                "reply reaches the client and wakes it), %s %% in the "
                "system call entry and exit, %s %% in user space"
                % (r["send"], r["recv"], r["softirq"], r["entry"],
                   r["user"]))
    if best not in rows:
        return ""
    s = "Where the CPU goes (`perf record -g` at %d sessions): `%s`: %s" \
        % (SESSIONS, best, parts(best))
    if redis in rows:
        s += "; redis-server: %s" % parts(redis)
    r = rows[best]
    work = float(r["send"]) + float(r["recv"])
    s += "."
    if work > 2 * float(r["entry"]):
        s += ("  Sending and receiving the lines outweigh entering the "
              "kernel %.0f to 1 in `%s`: fewer system calls trim only "
              "the smaller part." % (work / max(float(r["entry"]), 0.1),
                                     best))
    return s + "\n"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="kprofile.py",
        description="Where each server model's CPU goes at 50 sessions "
        "(perf record; issue 12).")
    p.add_argument("--bin", required=True, help="directory of bin/server "
                   "and bin/loadgen")
    p.add_argument("--out", required=True, help="directory for "
                   "kprofile.csv")
    p.add_argument("--models", type=lambda s: s.split(","),
                   help="comma-separated models (default: those "
                   "syscount.py counts)")
    p.add_argument("-d", "--duration", type=float, default=1.0,
                   help="seconds profiled per model (default 1)")
    p.add_argument("--warmup", type=float, default=0.2,
                   help="loadgen warm-up, profiled too (default 0.2)")
    p.add_argument("--pin", action="store_true",
                   help="server on one CPU, loadgen on another")
    p.add_argument("--no-redis", action="store_true",
                   help="leave out redis-server")
    a = p.parse_args(argv)
    if a.duration <= 0 or a.warmup < 0:
        p.error("-d must be > 0 and --warmup >= 0")
    why = pin.pin_setup(a.pin)
    if why:
        p.error(why)
    return a


def run(a):
    """Profile every target; the rows, or (None, why)."""
    if subprocess.run(["sh", "-c", "command -v perf"],
                      capture_output=True).returncode != 0:
        return None, "perf is not installed"
    able = siderun.runnable(a.bin)
    pools = models.pool_models(a.bin)
    targets = [m for m in (a.models or able) if m in able]
    if not a.no_redis and subprocess.run(
            ["sh", "-c", "command -v redis-server"],
            capture_output=True).returncode == 0:
        targets.append("redis")
    tmp = os.path.join(a.out, "kprofile.%d" % os.getpid())
    rows = []
    for t in targets:
        try:
            r = profile(a, t, pools, tmp)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            r = {"model": t, "note": " ".join(str(e).split())[:160]}
        rows.append(r)
        print("kprofile: %-16s send %s%% (softirq %s%%) recv %s%% entry "
              "%s%% user %s%% %s" % tuple([t] + [r.get(k, "-") for k in (
                  "send", "softirq", "recv", "entry", "user", "note")]),
              flush=True)
    if all(r.get("note") for r in rows):
        return None, rows[0]["note"] if rows else "nothing to profile"
    return rows, None


def write(a, rows, md):
    with open(os.path.join(a.out, "kprofile.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    if os.path.exists(md):
        os.unlink(md)


def bench_args(a, models_run):
    """This script's arguments for the bench's own (a: its options;
    models_run: the models it timed)."""
    return ["--bin", a.bin, "--out", a.out, "-d",
            "0.5" if a.quick else "1"] + \
        (["--models", ",".join(models_run)] if models_run else []) + \
        (["--pin"] if a.pin else []) + \
        (["--no-redis"] if a.no_redis else [])


def main(argv):
    return siderun.main(argv, "kprofile", parse_args, run, write,
                        "kprofile", "Where the CPU goes: not profiled")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
