"""Every process the bench starts: registered, and stopped in the end
(also on Ctrl-C); the servers under test; commands bounded in time."""

import os
import select
import signal
import socket
import subprocess
import tempfile
import time

from . import pin

from .conf import PROBE, warn

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
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=wait)
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
        self.cmd = pin.pinned(self.cmd, "server")

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
