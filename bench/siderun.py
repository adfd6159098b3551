"""siderun.py - short runs beside make bench's timed rounds.

A side run starts one server on an ephemeral port (bin/server --model M,
or redis-server), drives it with bin/loadgen for a fraction of a second
and stops it.  syscount.py counts the server's system calls in such runs
(the counting would distort a timed run); uringratio.py times io_uring
against epoll over a grid of sessions and line sizes.

The server is started and stopped as the bench's own (procs.Server), a
pool sized as there (models.workers_for), pinned as there (pin.py).

Python 3 standard library only.
"""

import json
import os
import subprocess
import sys
import tempfile
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from socklab_bench import models, pin, procs  # noqa: E402
from socklab_bench.conf import REDIS_REQUEST  # noqa: E402


def runnable(bindir):
    """The models a side run can drive: the available ones (the others
    are named on stderr) but those that answer one line per connection."""
    oneshot = models.oneshot_models(bindir)
    return [m for m in models.list_models(bindir) if m not in oneshot]


class Side:
    """One server for one side run (procs.Server: the bench's own way to
    start and stop one): start(), loadgen(), stop()."""

    def __init__(self, bindir, target, sessions=1, log=None, pools=None):
        self.bindir = bindir
        self.target = target
        self.log = log or os.devnull
        if pools is None:
            pools = models.pool_models(bindir)
        # A pool gets one worker per session, as the timed runs give it.
        workers = models.workers_for(types.SimpleNamespace(workers=None),
                                     pools, target, sessions, True)
        kind = "redis" if target == "redis" else "model"
        self.server = procs.Server(kind, target, bindir, self.log,
                                   workers=workers)

    @property
    def proc(self):
        return self.server.proc

    @property
    def port(self):
        return self.server.port

    def start(self, timeout=10.0):
        self.server.start(timeout)

    def pids(self):
        """The server and its children (a pool's children exist before
        any counter attaches)."""
        return [self.proc.pid] + tree_children(self.proc.pid)

    def loadgen(self, sessions, duration, warmup, size=16, timeout=5.0):
        """Run loadgen to the end; its JSON (a dict, {} if none) and exit
        status."""
        fd, path = tempfile.mkstemp(prefix="socklab-side.", suffix=".json")
        os.close(fd)
        cmd = [os.path.join(self.bindir, "loadgen"), "--port",
               str(self.port), "-c", str(sessions), "-t", "1",
               "-d", str(duration), "--warmup", str(warmup),
               "--timeout", str(timeout), "--json", path, "--quiet"]
        if self.target == "redis":
            cmd += ["--request", REDIS_REQUEST, "--no-verify"]
        else:
            cmd += ["-s", str(size)]
        limit = duration + warmup + 2 * timeout + 30
        try:
            rc = subprocess.run(pin.pinned(cmd, "loadgen"),
                                stdin=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                timeout=limit).returncode
        except subprocess.TimeoutExpired:
            rc = None
        try:
            with open(path) as f:
                j = json.load(f)
        except (OSError, ValueError):
            j = {}
        try:
            os.unlink(path)
        except OSError:
            pass
        return j, rc

    def stop(self):
        """SIGTERM and wait (SIGKILL past a while); the server's log goes
        when empty (redis always prints a banner: its log goes when it
        exited cleanly)."""
        self.server.stop()
        procs.REG.forget(self.proc)
        if self.log == os.devnull:
            return
        try:
            if os.path.getsize(self.log) == 0 or (
                    self.target == "redis" and self.server.status == 0):
                os.unlink(self.log)
        except OSError:
            pass


def replies(j):
    """Replies the server produced in a loadgen run, warm-up included."""
    r = j.get("requests") or {}
    return (r.get("completed") or 0) + (r.get("warmup_replies") or 0)


def tree_children(pid):
    """Every descendant of pid, from /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if not n:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main(argv, prog, parse_args, run, write, name, what):
    """A side script's main (syscount.py, uringratio.py): its options,
    its runs, and OUT/NAME.md from write(a, rows, md_path), or a NAME.md
    that says what was not done (what: "System calls per request: not
    counted") and why."""
    a = parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    md = os.path.join(a.out, name + ".md")
    rows, why = run(a)
    if rows is None:
        with open(md, "w") as f:
            f.write("%s (%s).\n" % (what, why))
        print("%s: skipped: %s" % (prog, why), flush=True)
        return 0
    write(a, rows, md)
    return 0
