#!/usr/bin/env python3
"""bin/server when the system says no, in every model (--list-models).

No thread or process can be made (the server runs as an unused uid under
RLIMIT_NPROC 1, which root would ignore): a pool ("[pool]") or any model
that cannot start its workers exits 1 before its 'listening on' line,
with the reason; a model that starts announces and answers every client
(a line, or 'ERR server busy'), and logs the failures to make a thread or
child once a second at most, however fast a client reconnects.

A prefork worker that ignores the stop (SIGSTOP): the parent still exits
within the drain and the kill grace.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from socklab import TAP, bin, connect, recv_line, run, start_server  # noqa: E402
from servertest import SANITIZER, models, models_with, per_model, short  # noqa: E402
from stress_lib import children, sanitizer  # noqa: E402

UID = 60000 + os.getpid() % 5000        # no process of ours runs as it
FLOOD_SEC = 1.5
LISTENING = re.compile(r"^listening on (?:\[[^\]]+\]|[^:\s]+):(\d+) ")


def pools():
    return set(models_with("pool"))


def start_limited(model):
    """The server as UID with RLIMIT_NPROC 1: (proc, port or None)."""
    args = [shutil.which("setpriv"), "--reuid=%d" % UID, "--regid=%d" % UID,
            "--clear-groups", shutil.which("prlimit"), "--nproc=1",
            bin("server"), "--model", model, "--port", "0", "--workers", "2",
            "--quiet"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if not select.select([proc.stdout], [], [], 0.5)[0]:
            continue
        b = os.read(proc.stdout.fileno(), 1)
        if not b:
            break
        line += b
    m = LISTENING.match(line.decode("utf-8", "replace"))
    return proc, int(m.group(1)) if m else None


def flood(port):
    """Reconnect for FLOOD_SEC: (connects, answered, seconds)."""
    n = answered = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < FLOOD_SEC:
        n += 1
        try:
            s = connect(port, timeout=5)
            s.sendall(b"hi\n.\n")
            if recv_line(s, timeout=5) in (b"HI\n", b"ERR server busy\n"):
                answered += 1
            s.close()
        except OSError:
            pass
    return n, answered, time.monotonic() - t0


def check_nproc(rec, model, is_pool):
    proc, port = start_limited(model)
    try:
        if port is None:
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                err = b""
            err = err.decode("utf-8", "replace").strip()
            rec.ok(proc.returncode == 1 and err, "no thread or process "
                   "left: exit 1 before 'listening on', saying why (%s)" %
                   short(err, 80), ["exit status %r" % proc.returncode])
            return
        rec.ok(not is_pool, "no thread or process left: it announced, "
               "and it is no pool (it needs no worker to start)")
        n, answered, sec = flood(port)
        rec.is_(answered, n, "a client reconnecting for %.1f s: every "
                "connection answered" % sec)
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        lines = [l for l in err.decode("utf-8", "replace").splitlines()
                 if l and not any(s in l for s in SANITIZER)]
        # Once a second at most: over sec seconds, at most sec + 1 lines.
        rec.ok(len(lines) <= int(sec) + 1, "%d connections made %d log "
               "lines in %.1f s (once a second at most)" %
               (n, len(lines), sec), [short(lines[:5])])
        rec.is_(proc.returncode, 0, "and it exits 0 on SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def check_stopped_worker(t):
    """prefork: a child stopped with SIGSTOP cannot take the stop; the
    parent must still escalate to SIGKILL and exit."""
    srv = start_server(["server", "--model", "prefork", "--port", "0",
                        "--quiet", "--workers", "2", "--drain", "1"])
    try:
        c = connect(srv.port)
        c.sendall(b"hi\n")
        t.is_(recv_line(c), b"HI\n", "prefork: a session is served")
        kids = children(srv.proc.pid)
        for k in kids:
            os.kill(k, signal.SIGSTOP)
        t0 = time.monotonic()
        st = srv.stop(signal.SIGTERM, 1 + 9)
        sec = time.monotonic() - t0
        t.ok(st == 0, "prefork: its %d workers stopped with SIGSTOP, "
             "SIGTERM: exit 0 within the drain + 9 s (%.2f s)" %
             (len(kids), sec))
        t.ok(not any(os.path.exists("/proc/%d/stat" % k) and
                     open("/proc/%d/stat" % k).read().split()[2] != "Z"
                     for k in kids), "and no worker is left")
        c.close()
    finally:
        srv.kill()


def main():
    t = TAP()
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    if "prefork" in names:
        check_stopped_worker(t)
    why = None
    if os.geteuid() != 0:
        why = "not root: cannot run the server as another uid"
    elif not shutil.which("setpriv") or not shutil.which("prlimit"):
        why = "no setpriv(1) or prlimit(1)"
    elif sanitizer() is not None:
        why = "the %s sanitizer's runtime needs threads of its own" % \
            sanitizer()
    if why:
        t.skip("RLIMIT_NPROC 1", why)
    else:
        pool = pools()

        def nproc(rec, m):
            check_nproc(rec, m, m in pool)
        nproc.oneshot_ok = True
        per_model(t, names, nproc)
    t.done()


if __name__ == "__main__":
    main()
