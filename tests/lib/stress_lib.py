"""stress_lib.py - what the fault suite (tests/stress/*.t) and
tests/reliability.t share: the per-model runner, the canary client, and
measurements of a server from /proc.  Python 3 stdlib only; builds on
socklab.py and servertest.py (see tests/lib/README).

    from stress_lib import models, per_model, Canary, Tree, ...

The canary is the suite's one notion of "nothing lost": a well-behaved
client that does round trips on its own session, continuously, while a
hostile case runs beside it, and checks every reply, in order.
"""

import os
import random
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from socklab import run, start_server, recv_line
import servertest
from servertest import model_traits

# One session at a time (servers/iterative.c): nothing can run beside a
# session, so the canary runs after each case instead of during it.
SERIAL = {"iterative"}
# Over --max-clients a new client waits in the listen queue instead of
# being told "ERR server busy": --max-clients M only starts min(N, M)
# workers (the comments at the top of servers/prefork.c, prethread.c).
QUEUEING = {"prefork", "prethread"}
# N threads made at start, sharing one descriptor table.
THREAD_POOLS = {"prethread", "prethread-queue"}

CRASH = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
         "runtime error:", "WARNING: ThreadSanitizer", "Segmentation",
         "Aborted", "core dumped")


def models():
    """The models bin/server --list-models=tsv prints, in its order.  A
    comma-separated SOCKLAB_MODELS narrows them (to debug one model)."""
    names = list(model_traits())
    only = os.environ.get("SOCKLAB_MODELS")
    if only:
        names = [n for n in names if n in only.split(",")]
    return names


def expected(line):
    """The reply to one request line: Python's str.upper(), bytes that are
    not UTF-8 carried through (tests/data/README)."""
    return line.decode("utf-8", "surrogateescape").upper().encode(
        "utf-8", "surrogateescape")


# ---- one model's results, printed in order --------------------------------

class Rec(servertest.Rec):
    """servertest's record, whose diag lines name the model, and which
    keeps measured figures."""

    def __init__(self, model):
        super().__init__(model)
        self.figures = []

    def diag(self, msg):
        super().diag("%s: %s" % (self.model, msg))

    def figure(self, key, value):
        """A measured number, printed as a diag line "figure MODEL KEY
        VALUE" (docs/reliability.md quotes them)."""
        self.figures.append((key, value))
        self.diag("figure %s %s" % (key, value))


def per_model(t, names, fn, parallel=1):
    """servertest.per_model, one model at a time unless told."""
    return servertest.per_model(t, names, fn, parallel, Rec)


# ---- the server under test -------------------------------------------------

_san = {}


def sanitizer():
    """"address", "thread", "undefined" when bin/server is a sanitizer
    build (its image names the runtime's entry points), else None."""
    from socklab import bin as binpath
    path = binpath("server")
    if path not in _san:
        with open(path, "rb") as f:
            image = f.read()
        _san[path] = next((name for key, name in (
            (b"__asan_init", "address"), (b"__tsan_init", "thread"),
            (b"__ubsan_handle", "undefined")) if key in image), None)
    return _san[path]


def memory_env():
    """The environment for a server whose memory a check bounds.  ASan
    keeps freed memory aside (its quarantine, 256 MB) to catch late uses,
    so a server that frees and allocates as it goes grows its RSS by what
    it freed: io_uring grew 22 MB where it grows 6 MB unsanitized or with
    no quarantine.  The checks measure the server's bounds, not ASan's."""
    opts = [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1"]
    return dict(os.environ, ASAN_OPTIONS=":".join(filter(None, opts)))


def memory_skip():
    """Why a bound on a server's memory cannot be checked on this build,
    or None.  TSan keeps shadow memory, several bytes for each byte the
    server touches: io_uring's 4 MB of receive buffers, touched once,
    grow its RSS by 25 MB, where they grow it 6 MB unsanitized."""
    if sanitizer() == "thread":
        return "TSan's shadow memory multiplies the server's"
    return None


def server(model, *opts, wrap=(), env=None, timeout=10.0):
    """bin/server --model MODEL --port 0 OPTS, started (optionally under
    a wrapper such as prlimit: wrap is its argv before the server's)."""
    from socklab import bin as binpath
    args = [binpath("server"), "--model", model, "--port", "0"] + list(opts)
    return start_server(list(wrap) + args, timeout=timeout, env=env)


def finish(rec, srv, what="", sig=signal.SIGTERM, timeout=20,
           stopped=False):
    """Stop srv and check that it exits 0 and wrote no crash report
    (stopped: the case already stopped it and checked its status)."""
    if not stopped:
        alive = srv.proc.poll() is None
        rec.ok(alive, "server still running after %s" % what,
               ["exit status %r" % srv.proc.returncode] +
               srv.errlines[-5:])
        st = srv.stop(sig, timeout)
        rec.is_(st, 0, "exits 0 on %s after %s" % (
            signal.Signals(sig).name, what))
    else:
        st = srv.stop(signal.SIGKILL, timeout)
    bad = [l for l in srv.errlines if any(c in l for c in CRASH)]
    rec.ok(not bad, "no crash report on stderr (%s)" % what, bad[:10])
    return st


# ---- /proc ----------------------------------------------------------------

def _stat(pid):
    """Fields of /proc/PID/stat after the command name, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def state(pid):
    """'R', 'S', 'Z' ... or None when the process is gone."""
    f = _stat(pid)
    return f[0] if f else None


def children(pid):
    """Direct children of pid (every thread's)."""
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def tree(pid):
    """pid and all its descendants."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo += children(p)
    return seen


def _status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_kb(pid):
    """VmRSS of pid and its descendants, in KiB."""
    return sum(_status(p, "VmRSS") for p in tree(pid))


def threads(pid):
    return _status(pid, "Threads")


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def pss_kb(pid):
    """Proportional set size of pid and its descendants in KiB: pages
    shared by several processes (a forked child's copy-on-write pages)
    count once in all, where a sum of VmRSS counts them once per
    process."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """CPU time (user + system) of pid, its live descendants and its
    reaped children, in seconds."""
    total = 0
    for i, p in enumerate(tree(pid)):
        f = _stat(p)
        if f is None:
            continue
        # utime stime cutime cstime: fields 14-17, here 11-14.
        total += int(f[11]) + int(f[12])
        if i == 0:
            total += int(f[13]) + int(f[14])
    return total / TICK


class MemSampler(threading.Thread):
    """The largest pss_kb(pid) (or measure(pid)) seen, sampled every
    `every` seconds until stop()."""

    def __init__(self, pid, every=0.05, measure=None):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.measure = measure or pss_kb
        self.peak = self.measure(pid)
        self._halt = threading.Event()
        self.start()

    def run(self):
        while not self._halt.wait(self.every):
            self.peak = max(self.peak, self.measure(self.pid))

    def stop(self):
        self._halt.set()
        self.join()
        self.peak = max(self.peak, self.measure(self.pid))
        return self.peak


def listen_queue(port):
    """Connections waiting in the accept queue(s) of the listening
    socket(s) on port (several for reuseport), from ss(8); None if ss
    is not there.  A connect() returns once the kernel completed the
    handshake, so the server may still have thousands to accept."""
    try:
        out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
                             capture_output=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sum(int(l.split()[1]) for l in out.decode().splitlines()
               if l.startswith("LISTEN"))


def wait_for(pred, timeout, step=0.05):
    """Poll pred() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---- sockets ---------------------------------------------------------------

def raise_nofile(n):
    """Raise our own descriptor limit to at least n (within the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rst_close(s):
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def connect_many(port, n, timeout=20.0, host="127.0.0.1"):
    """n TCP connections opened at once (non-blocking connects), returned
    when all are established, as blocking sockets with a 10 s timeout.
    Raises RuntimeError naming how many did not make it in time."""
    sel = selectors.DefaultSelector()
    socks, pending = [], 0
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            err = s.connect_ex((host, port))
            if err not in (0, 115):     # EINPROGRESS
                raise OSError(err, os.strerror(err))
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("%d of %d connects not done in %g s" %
                                   (pending, n, timeout))
            for key, _ in sel.select(min(left, 1.0)):
                s = key.fileobj
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                sel.unregister(s)
                pending -= 1
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        sel.close()
    for s in socks:
        s.setblocking(True)
        s.settimeout(10)
    return socks


def round_trip(s, line=b"ping\n", timeout=10.0):
    """Send one line; the reply, or None if the session ended first."""
    try:
        s.sendall(line)
        r = recv_line(s, timeout)
    except (OSError, socket.timeout):
        return None
    return r or None


def refused(port, host="127.0.0.1"):
    """True if a connect to port is refused (nobody listening)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def closed_by_peer(s, timeout=10.0):
    """Read until EOF or reset; True if the peer ended the session within
    timeout (what was read meanwhile is discarded)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if not s.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


# ---- the session log -------------------------------------------------------

ENDED = re.compile(r"session with (\S+):(\d+) ended: (\d+) lines?, (.*)$")


def ended(srv, start=0):
    """{client port: (lines, why)} from the server's session end lines,
    from line index start on (a port seen twice: the later session)."""
    out = {}
    for l in srv.lines[start:]:
        m = ENDED.search(l)
        if m:
            out[int(m.group(2))] = (int(m.group(3)), m.group(4))
    return out


def wait_ended(srv, ports, start=0, timeout=20.0):
    """Wait until the server logged the end of every session from one of
    ports; returns {port: (lines, why)} for those it did (all of them,
    unless timeout)."""
    want = set(ports)
    deadline = time.monotonic() + timeout
    while True:
        got = ended(srv, start)
        if want <= set(got) or time.monotonic() >= deadline:
            return {p: got[p] for p in want if p in got}
        time.sleep(0.05)


# ---- the canary ------------------------------------------------------------

class Canary(threading.Thread):
    """A well-behaved client: one session, round trips for as long as it
    runs, each reply checked against the request, in order.  Every 7th
    turn it pipelines three lines in one send.  It stops at the first
    fault and says what it was.

        c = Canary(port)          # connected, one round trip done
        ... the hostile case ...
        c.finish()                # -> (trips, fault or None)
    """

    def __init__(self, port, host="127.0.0.1", pause=0.005, timeout=20.0,
                 seed=0):
        super().__init__(daemon=True)
        self.port, self.host = port, host
        self.pause, self.timeout = pause, timeout
        self.rand = random.Random(seed)
        self.trips = 0
        self.fault = None
        self._halt = threading.Event()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._turn(0)       # served before the hostile case starts
        self.start()

    WORDS = ["canary", "héllo", "straße", "ǆ", "ﬁne", "σοφία", "żółw",
             "x", "", "日本", "\u0149", "tab\there", "mixed Case 123"]

    def _line(self, i):
        words = [self.rand.choice(self.WORDS) for _ in range(1 + i % 6)]
        return ("%d %s\n" % (i, " ".join(words))).encode()

    def _turn(self, i):
        n = 3 if i % 7 == 6 else 1
        lines = [self._line(i + k) for k in range(n)]
        self.sock.sendall(b"".join(lines))
        for k, line in enumerate(lines):
            got = recv_line(self.sock, self.timeout)
            want = expected(line)
            if got != want:
                raise AssertionError("trip %d: sent %r, got %r, expected %r"
                                     % (i + k, line, got, want))
            self.trips += 1
        return n

    def run(self):
        i = self.trips
        try:
            while not self._halt.is_set():
                i += self._turn(i)
                if self.pause:
                    self._halt.wait(self.pause)
        except Exception as e:
            self.fault = "%s: %s" % (type(e).__name__, e)

    def finish(self):
        """Stop, check one last round trip, say goodbye with "."."""
        self._halt.set()
        self.join(self.timeout + 5)
        if self.is_alive():
            self.fault = self.fault or "canary stuck"
        if self.fault is None:
            try:
                self._turn(self.trips)
                self.sock.sendall(b".\n")
                if not closed_by_peer(self.sock, self.timeout):
                    self.fault = "no EOF after '.'"
            except Exception as e:
                self.fault = "%s: %s" % (type(e).__name__, e)
        self.sock.close()
        return self.trips, self.fault


class beside:
    """with beside(rec, srv, model, "case"): run the case while a canary
    does round trips on its own session; then check the canary lost
    nothing and the server is still there.  For SERIAL models the canary
    can only come after the case (the case's sessions must have ended)."""

    def __init__(self, rec, srv, model, case, min_trips=1):
        self.rec, self.srv, self.model, self.case = rec, srv, model, case
        self.min_trips = min_trips
        self.canary = None

    def __enter__(self):
        self.first = len(self.srv.lines)
        if self.model not in SERIAL:
            self.canary = Canary(self.srv.port, self.srv.host)
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            if self.canary:
                self.canary.finish()
            return False
        c = self.canary
        if c is None:
            try:
                c = Canary(self.srv.port, self.srv.host)
            except Exception as e:
                self.rec.ok(False, "canary after %s" % self.case,
                            ["%s: %s" % (type(e).__name__, e)])
                return False
            wait_for(lambda: c.trips >= 20 or c.fault, 30)
        port = c.sock.getsockname()[1]
        trips, fault = c.finish()
        # Its end is logged before the next case looks at the log.
        quiet = "-q" in self.srv.args or "--quiet" in self.srv.args
        if not quiet and fault is None:
            got = wait_ended(self.srv, [port], self.first, 10)
            self.rec.is_(got.get(port, (None, None))[1], "client sent '.'",
                         "the canary's session end is logged (%s)" %
                         self.case)
        self.rec.ok(fault is None and trips >= self.min_trips,
                    "canary %s %s: %d round trips, all in order" %
                    ("after" if self.canary is None else "beside",
                     self.case, trips), [fault or "too few trips"])
        self.rec.ok(self.srv.proc.poll() is None,
                    "server up after %s" % self.case,
                    ["exit status %r" % self.srv.proc.returncode] +
                    self.srv.errlines[-5:])
        return False
