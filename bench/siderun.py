"""siderun.py - short runs beside make bench's timed rounds, and the CPU
pinning that both use.

A side run starts one server on an ephemeral port (bin/server --model M,
or redis-server), drives it with bin/loadgen for a fraction of a second
and stops it.  syscount.py counts the server's system calls in such runs
(the counting would distort a timed run); uringratio.py times io_uring
against epoll over a grid of sessions and line sizes.

Pinning (`--pin`, `make bench PIN=1`): the server on the first CPU this
process may run on, loadgen on the second, through taskset(1), which execs
the program (its pid, which the bench waits for, stays the same) before
the program starts any thread or child, so every one inherits the mask.

Python 3 standard library only.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

POOL_TAG = "[pool]"
ONESHOT_TAG = "[oneshot]"
MAX_POOL = 1000
# Redis answers an inline PING padded to loadgen's 16-byte line.
REDIS_REQUEST = "PING" + " " * 10 + "\\r\\n"

# (server CPU, loadgen CPU) when pinning, else None: set by pin_setup().
PIN = None


def pin_setup(want):
    """Turn pinning on (want true) or off; a string saying why it cannot
    be on, or None.  Needs two CPUs in our affinity mask, and taskset."""
    global PIN
    PIN = None
    if not want:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "pinning needs 2 CPUs, this process may use %d" % len(cpus)
    if shutil.which("taskset") is None:
        return "pinning needs taskset (util-linux)"
    PIN = (cpus[0], cpus[1])
    return None


def pinned(argv, role):
    """argv run on role's CPU ("server" or "loadgen") when pinning."""
    if PIN is None or not argv:
        return argv
    return ["taskset", "-c", str(PIN[0 if role == "server" else 1])] + argv


def pin_text():
    """One phrase for a report: how the runs were placed."""
    if PIN is None:
        return "not pinned (server and loadgen share every CPU)"
    return ("pinned with taskset: the server on CPU %d, loadgen on CPU %d"
            % PIN)


def model_tags(bindir):
    """{model: tags} from bin/server --list-models."""
    out = subprocess.run([os.path.join(bindir, "server"), "--list-models"],
                         capture_output=True, text=True, timeout=10).stdout
    tags = {}
    for line in out.splitlines():
        if line.strip():
            name = line.split()[0]
            tags[name] = [w for w in line.split() if w.startswith("[")]
    return tags


def runnable(tags):
    """Neither one line per connection nor refused by this kernel."""
    return not any(t == ONESHOT_TAG or t.startswith("[unavailable")
                   for t in tags)


def workers_for(tags, sessions):
    """A pooled model gets one worker per session (UNP ch. 30 sizes a pool
    to its load), as the bench's persistent runs do."""
    if POOL_TAG not in tags:
        return None
    return min(max(os.cpu_count() or 1, sessions), MAX_POOL)


class Side:
    """One server for one side run: start(), loadgen(), stop()."""

    def __init__(self, bindir, target, tags=(), sessions=1, log=None):
        self.bindir = bindir
        self.target = target
        self.log = log or os.devnull
        self.proc = None
        self.port = None
        if target == "redis":
            self.port = free_port()
            self.cmd = ["redis-server", "--port", str(self.port),
                        "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--maxclients", "10000"]
        else:
            self.cmd = [os.path.join(bindir, "server"), "--model", target,
                        "--port", "0", "--quiet", "--backlog", "4096",
                        "--drain", "2"]
            w = workers_for(tags, sessions)
            if w:
                self.cmd += ["--workers", str(w)]
        self.cmd = pinned(self.cmd, "server")

    def start(self, timeout=10.0):
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stderr=self.logf,
            stdout=self.logf if self.target == "redis" else subprocess.PIPE,
            start_new_session=True)
        try:
            if self.target == "redis":
                self._wait_redis(timeout)
            else:
                self._wait_line(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_line(self, timeout):
        """The first stdout line is 'listening on ADDR:PORT (...)'."""
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("%s: no 'listening on' line"
                                   % self.target)
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("%s: exited before listening"
                                   % self.target)
            buf += chunk
        line = buf.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith("listening on "):
            raise RuntimeError("%s: unexpected first line %r"
                               % (self.target, line))
        self.port = int(line.split()[2].rsplit(":", 1)[1])

    def _wait_redis(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

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
            rc = subprocess.run(pinned(cmd, "loadgen"),
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
        """SIGTERM and wait; SIGKILL the group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            self._close()
            return
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._close()

    def _close(self):
        """Close our ends; the server's stderr log goes when empty (redis
        always prints a banner: its log goes when it exited cleanly)."""
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.logf.close()
        if self.log == os.devnull:
            return
        try:
            if os.path.getsize(self.log) == 0 or (
                    self.target == "redis" and self.proc.returncode == 0):
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


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if not n:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
