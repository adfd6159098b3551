#!/usr/bin/env python3
"""What an idle session keeps, in every model (--list-models): after one
long line of characters that expand (ΐ: 2 bytes, 6 upper-cased), its
reply buffer is given back.  N sessions each send one such line, read
the reply and stay idle; N others only exchange "hi".  The server's
memory (proportional set size of its processes) with the long-line
sessions, minus that with the short ones, per session, must stay below
128 KiB, two thirds of the 192 KiB reply: before the fix the blocking
models kept the whole reply buffer.  What is left is the stack that a
16 KiB read touches and what malloc keeps in a thread's arena.
iterative serves one session at a time: one session there.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from socklab import TAP, connect, recv_line  # noqa: E402
from servertest import models, per_model, Srv  # noqa: E402
from stress_lib import pss_kb, sanitizer, wait_for  # noqa: E402

N = 16
LONG = "ΐ".encode() * 32767 + b"\n"          # 65534 bytes + "\n"
BOUND_KB = 128


def recv_n(s, n):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            break
        got += len(b)
    return got


def settled(pid):
    """The memory once it stops moving (a forked child still starting)."""
    last = [None]

    def same():
        now = pss_kb(pid)
        ok = now == last[0]
        last[0] = now
        return ok
    wait_for(same, 3, step=0.1)
    return last[0]


def measure(rec, model, line, n):
    reply = len(line.decode().upper().encode())
    with Srv(rec, model, "--quiet", "--workers", str(n)) as srv:
        socks = [connect(srv.port) for _ in range(n)]
        got = 0
        for s in socks:
            s.sendall(line)
            got += recv_n(s, reply) == reply
        rec.is_(got, n, "%d sessions sent a %d-byte line and read the "
                "reply" % (n, len(line)))
        kb = settled(srv.proc.pid)
        for s in socks:
            s.close()
        return kb


def check(rec, model):
    n = 1 if model == "iterative" else N
    short = measure(rec, model, b"hi\n", n)
    long_ = measure(rec, model, LONG, n)
    per = (long_ - short) / n
    rec.ok(per < BOUND_KB, "an idle session keeps %.0f KiB more after a "
           "64 KiB line of ΐ than after 'hi' (< %d KiB)" % (per, BOUND_KB),
           ["PSS %d KiB after 'hi', %d KiB after the long lines" %
            (short, long_)])


def main():
    t = TAP()
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    if sanitizer() is not None:
        t.skip("memory per idle session", "a %s build's allocator keeps "
               "what it frees" % sanitizer())
    else:
        per_model(t, names, check)
    t.done()


if __name__ == "__main__":
    main()
