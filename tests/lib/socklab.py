"""socklab.py - what the socklab tests share (Python 3 stdlib only).

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
    from socklab import TAP, bin, start_server, connect, recv_line

    t = TAP()
    with start_server(["server", "--model", "thread", "--port", "0"]) as srv:
        s = connect(srv.port)
        s.sendall(b"hello\\n")
        t.is_(recv_line(s), b"HELLO\\n", "upper-cased")
    t.done()

See tests/lib/README.
"""

import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The programs speak the locale's language (lib/msg.h); the tests read
# their English.  A test of the Italian sets DEMO_LANG or --lang itself.
os.environ["DEMO_LANG"] = "en"


class TAP:
    """Test Anything Protocol output.  done() prints the plan when none
    was given, and exits 1 if any test failed or the count is wrong."""

    def __init__(self, plan=None):
        self.n = 0
        self.failed = 0
        self.planned = None
        if plan is not None:
            self.plan(plan)

    def _out(self, s):
        sys.stdout.write(s + "\n")
        sys.stdout.flush()

    def plan(self, n):
        self.planned = n
        self._out("1..%d" % n)

    def ok(self, cond, name=""):
        self.n += 1
        if not cond:
            self.failed += 1
        self._out("%sok %d - %s" % ("" if cond else "not ", self.n,
                                    name.replace("#", "\\#")))
        return bool(cond)

    def is_(self, got, expected, name=""):
        """ok(got == expected), showing both on failure."""
        if self.ok(got == expected, name):
            return True
        self.diag("     got: %s" % _short(got))
        self.diag("expected: %s" % _short(expected))
        return False

    def skip(self, name, why):
        self.n += 1
        self._out("ok %d - %s # SKIP %s" % (self.n, name, why))

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            self._out("# " + line)

    def bail(self, msg):
        self._out("Bail out! " + msg)
        sys.exit(255)

    def done(self):
        if self.planned is None:
            self._out("1..%d" % self.n)
        elif self.planned != self.n:
            self.diag("planned %d tests but ran %d" % (self.planned, self.n))
            self.failed += 1
        sys.exit(1 if self.failed else 0)


def _short(v, limit=300):
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + "... (%d chars)" % len(r)


def bin(name):
    """Path of program name in $SOCKLAB_BIN (default <repo>/bin)."""
    return os.path.join(os.environ.get("SOCKLAB_BIN") or os.path.join(REPO, "bin"), name)


def have(name):
    return os.access(bin(name), os.X_OK)


_running = []   # servers to kill if a test dies before stopping them


@atexit.register
def _cleanup():
    for srv in _running:
        srv.kill()


LISTENING = re.compile(r"^listening on (?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:\s]+)):(?P<port>\d+) \((?P<info>[^)]*)\)$")


class Server:
    """A program that prints 'listening on ADDR:PORT (...)' first.  Its
    stdout and stderr are read in threads (a full pipe would block it)
    and kept in .lines and .errlines."""

    def __init__(self, args, timeout=10.0, env=None):
        if os.sep not in args[0]:
            args = [bin(args[0])] + list(args[1:])
        self.args = args
        self.lines = []           # stdout lines, without "\n", decoded
        self.errlines = []
        self.info = None          # "model thread, backlog 128", "udp"
        self._cv = threading.Condition()
        self._eof = [False, False]  # stdout, stderr ended
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        _running.append(self)
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.lines, 0), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.errlines, 1), daemon=True),
        ]
        for th in self._threads:
            th.start()
        first = self.wait_line(lambda l: True, timeout)
        m = LISTENING.match(first or "")
        if not m:
            try:
                status = self.proc.wait(1)
            except subprocess.TimeoutExpired:
                status = None
            self.kill()
            for th in self._threads:
                th.join(2)
            why = ("exited with status %d" % status if status is not None
                   else "printed no 'listening on' line within %g s" % timeout)
            raise RuntimeError("%s %s; stdout %r, stderr %r" % (
                " ".join(args), why, self.lines, self.errlines[:5]))
        self.host = m.group("v6") or m.group("v4")
        self.port = int(m.group("port"))
        self.info = m.group("info")

    def _drain(self, f, into, which):
        for raw in iter(f.readline, b""):
            with self._cv:
                into.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._eof[which] = True
            self._cv.notify_all()

    def wait_line(self, pred, timeout=10.0, start=0, err=False):
        """First stdout line (stderr with err=True) from index start on
        that satisfies pred (a function, or a regex string searched for);
        None on timeout or when the stream ends first."""
        i = self.wait_index(pred, timeout, start, err)
        return None if i < 0 else (self.errlines if err else self.lines)[i]

    def wait_index(self, pred, timeout=10.0, start=0, err=False):
        """As wait_line, but the index of the line, or -1.  Lines reach
        .lines a little after the program wrote them: to wait for the
        n-th line of a kind, go on from the index after the last one."""
        if isinstance(pred, str):
            rx = re.compile(pred)
            pred = lambda l: rx.search(l) is not None
        lines = self.errlines if err else self.lines
        deadline = time.monotonic() + timeout
        with self._cv:
            i = start
            while True:
                while i < len(lines):
                    if pred(lines[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if self._eof[err] or left <= 0:
                    return -1
                self._cv.wait(left)

    def wait_count(self, pred, n, timeout=10.0, err=False):
        """The first n lines that satisfy pred, waiting for them; fewer
        if they do not all come within timeout."""
        deadline = time.monotonic() + timeout
        found, i = [], 0
        lines = self.errlines if err else self.lines
        while len(found) < n:
            i = self.wait_index(pred, max(0.0, deadline - time.monotonic()), i, err)
            if i < 0:
                break
            found.append(lines[i])
            i += 1
        return found

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig, wait for the exit; returns the exit status (negative
        for a signal, as subprocess does; None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        for th in self._threads:
            th.join(timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def start_server(args, timeout=10.0, env=None):
    """Start e.g. ["server", "--model", "thread", "--port", "0"] (a bare
    name is looked up with bin()) and wait for its 'listening on' line."""
    return Server(args, timeout, env)


def connect(port, host="127.0.0.1", timeout=10.0):
    """A TCP connection with a timeout on every operation."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_line(sock, timeout=10.0):
    """Bytes up to and including the next b"\\n"; what is left before
    EOF (b"" at EOF).  Reads nothing past the line (MSG_PEEK), so other
    calls and other code can go on reading the same socket.  Raises
    socket.timeout when the line is not complete in time."""
    deadline = time.monotonic() + timeout
    got = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no complete line in %g s (have %r)" % (timeout, b"".join(got)))
        sock.settimeout(left)
        peek = sock.recv(65536, socket.MSG_PEEK)
        if not peek:
            return b"".join(got)
        i = peek.find(b"\n")
        n = len(peek) if i < 0 else i + 1
        got.append(_recv_exact(sock, n))
        if i >= 0:
            return b"".join(got)


def _recv_exact(sock, n):
    parts = []
    while n > 0:
        b = sock.recv(n)
        if not b:
            break
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port that nobody uses right now (bound, then closed)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run(args, input=b"", timeout=10.0):
    """Run a program to the end: (exit status, stdout, stderr, seconds).
    A bare name is looked up with bin().  A program still running after
    timeout seconds is killed and its status is None."""
    if os.sep not in args[0]:
        args = [bin(args[0])] + list(args[1:])
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(input, timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    return rc, out, err, time.monotonic() - t0
