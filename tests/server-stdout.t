#!/usr/bin/env python3
"""bin/server with standard output a pipe that nobody reads, in every
model (--list-models): logging never blocks serving.  The pipe is made
one page small, so that a few dozen session lines fill it; the server
must still answer hundreds of sessions, stop within its drain on
SIGTERM with a session open, and say on stderr how many log lines it
dropped.
"""

import fcntl
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from socklab import TAP, bin, connect, recv_line  # noqa: E402
from servertest import SANITIZER, models, per_model, short  # noqa: E402

SESSIONS = 300          # ~40 fill the pipe's 4 KiB of log lines
LISTENING = re.compile(r"^listening on (?:\[[^\]]+\]|[^:\s]+):(\d+) ")


def first_line(fd, timeout=10.0):
    """The server's first line, read byte by byte: nothing after it is
    taken from the pipe."""
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        b = os.read(fd, 1)
        if not b:
            return None
        got += b
    return got.decode()


def session(port):
    """One short session; True if it was answered and ended."""
    s = connect(port, timeout=5)
    try:
        s.sendall(b"ab\n.\n")
        return recv_line(s, timeout=5) == b"AB\n" and s.recv(16) == b""
    except (socket.timeout, OSError):
        return False
    finally:
        s.close()


def check(rec, model):
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen([bin("server"), "--model", model, "--port", "0",
                             "--drain", "1", "--workers", "2"],
                            stdin=subprocess.DEVNULL, stdout=w,
                            stderr=subprocess.PIPE)
    os.close(w)
    try:
        m = LISTENING.match(first_line(r) or "")
        if not rec.ok(m, "printed its 'listening on' line"):
            return
        port = int(m.group(1))
        served = 0
        for _ in range(SESSIONS):
            if not session(port):
                break
            served += 1
        rec.is_(served, SESSIONS, "stdout a full pipe: all %d sessions "
                "answered" % SESSIONS)
        # A stop with a session open, stdout still full: the drain ends
        # it, and the server exits (--drain 1; we wait 10 s).
        c = connect(port, timeout=5)
        c.sendall(b"hi\n")
        rec.is_(recv_line(c, timeout=5), b"HI\n", "a session opened after "
                "them is answered")
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=10)
            st = proc.returncode
        except subprocess.TimeoutExpired:
            st, err = None, b""
        c.close()
        err = err.decode("utf-8", "replace")
        rec.is_(st, 0, "SIGTERM with a session open: exit 0 within the "
                "drain + 9 s")
        m = re.search(r"(\d+) log lines dropped: stdout was full", err)
        rec.ok(m and int(m.group(1)) > 0, "stderr says how many log lines "
               "were dropped", [short(err)])
        bad = [l for l in err.splitlines() if any(s in l for s in SANITIZER)]
        rec.ok(not bad, "no sanitizer report", bad[:10])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(r)


check.oneshot_ok = True        # one line per session is all it needs


def main():
    t = TAP()
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    per_model(t, names, check)
    t.done()


if __name__ == "__main__":
    main()
