#!/usr/bin/env python3
"""bin/server's lingering close, for every model --list-models prints.

A session that ends on an over-long line, or on "." with more bytes
behind it, while the client is still sending must not close() with
unread input: the kernel would send a reset, and a reset that reaches
the client first destroys the replies (or the ERR line) waiting in its
receive queue.  The server sends its FIN, drops input until the
client's, for at most a second, then closes.

Checked: a 2 MB line with no newline against --max-line 100 gets exactly
the ERR line, then EOF, never a reset (5 tries); 200 pipelined lines,
".", then 200 KB more get the 200 replies, then EOF (5 tries).  A client
that sends "." and more, and holds its socket open, gets EOF at once,
and the server ends that session on its own, serving the next client
while the first socket is still open (and, except iterative, while the
first one lingers).  On iterative: a client that sends "." and nothing
more is not lingered for (the next client waits far less than behind
one that sent more), and one that closes at the server's EOF costs about
what a half-closing one does (ratios, same run).
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from socklab import TAP, connect  # noqa: E402
import servertest  # noqa: E402
from servertest import short, models, per_model, recv_until_eof  # noqa: E402

# Only iterative serves one session at a time.
SERIAL = {"iterative"}
TRIES = 5
ERR = b"ERR line too long (max 100 bytes)\n"


# ---- local helpers (the shared ones are in tests/lib/servertest.py) -----

class Srv(servertest.Srv):
    """servertest.Srv, started with --workers 2 as well."""
    OPTS = ("--drain", "1", "--workers", "2")


# ---- the checks, per model -----------------------------------------------

def send_and_read(port, data):
    """Send data from a thread while reading to EOF, as a client that
    reads its replies while it sends would; then close, as a client does
    once it has seen EOF.  Returns what came (b"<RESET>" at the end for a
    reset) and the error the sender met, if any."""
    s = connect(port)
    err = []

    def sender():
        try:
            s.sendall(data)
        except OSError as e:
            err.append(e)
    th = threading.Thread(target=sender)
    th.start()
    try:
        got = recv_until_eof(s)
    finally:
        th.join(10)
        s.close()
    return got, err


def check_reset(rec, model):
    with Srv(rec, model, "--quiet", "--max-line", "100") as srv:
        bad = []
        for i in range(TRIES):
            got, err = send_and_read(srv.port, b"a" * (2 << 20))
            if got != ERR:
                bad.append("try %d: got %s (sender: %s)" %
                           (i + 1, short(got), err[0] if err else "ok"))
        rec.ok(not bad, "2 MB with no newline, --max-line 100: exactly the "
               "ERR line, then EOF, never a reset (%d tries)" % TRIES, bad)

        req = b"".join(b"line %d\n" % i for i in range(200))
        want = req.upper()
        bad = []
        for i in range(TRIES):
            got, err = send_and_read(srv.port,
                                     req + b".\n" + b"j" * 200000)
            if got != want or err:
                bad.append("try %d: %d of %d bytes, ends %s (sender: %s)" %
                           (i + 1, len(got), len(want), short(got[-40:]),
                            err[0] if err else "ok"))
        rec.ok(not bad, "200 pipelined lines, '.', 200 KB more: the 200 "
               "replies, then EOF, never a reset (%d tries)" % TRIES, bad)


def hold_then_next(srv, first):
    """A sends first, reads to EOF and holds its socket open while B
    has a session.  Returns what A and B got, the indexes of their
    'ended' log lines (-1 if none in 10 s, A still open), and how long
    B took, from connect to EOF."""
    a = connect(srv.port)
    try:
        a.sendall(first)
        got_a = recv_until_eof(a)
        pa = "127.0.0.1:%d ended" % a.getsockname()[1]
        t0 = time.perf_counter()
        b = connect(srv.port)
        try:
            pb = "127.0.0.1:%d ended" % b.getsockname()[1]
            b.sendall(b"b\n.\n")
            got_b = recv_until_eof(b)
        finally:
            b.close()
        t_b = time.perf_counter() - t0
        ia = srv.wait_index(lambda l: pa in l)
        ib = srv.wait_index(lambda l: pb in l)
    finally:
        a.close()       # only now: all the above while A was open
    return got_a, got_b, ia, ib, t_b


def check_holder(rec, model):
    with Srv(rec, model) as srv:
        got_a, got_b, ia, ib, t_more = hold_then_next(srv, b"x\n.\n" +
                                                      b"j" * 1000)
        rec.is_(got_a, b"X\n", "'.' and 1000 bytes more, then the socket "
                "held open: the reply, then EOF at once")
        rec.is_(got_b, b"B\n", "the next client is served while the first "
                "socket is still open")
        rec.ok(ia >= 0, "the server ends the held session on its own (the "
               "linger is bounded)", ["no 'ended' line for the first"])
        if model not in SERIAL:
            rec.ok(0 <= ib < ia, "the held session lingers, and the next "
                   "one is served and ends meanwhile: lingering blocks no "
                   "one", ["'ended' lines at %d (first), %d (next)" %
                           (ia, ib)])

        got_a, got_b, ia, ib, t_dot = hold_then_next(srv, b"x\n.\n")
        rec.ok(got_a == b"X\n" and got_b == b"B\n" and ia >= 0,
               "'.' and nothing more, then the socket held open: the "
               "reply, EOF; the next client served",
               ["first got %s, next got %s" % (short(got_a), short(got_b))])
        if model in SERIAL:
            rec.ok(t_dot < t_more / 2, "a client that stopped at '.' is not "
                   "lingered for: the next one waits %.1f ms behind it, "
                   "%.1f ms behind one that sent more (limit x0.5)" %
                   (t_dot * 1e3, t_more * 1e3))


def session(port, dot):
    """One session that ends well: ".", a line more (so the server
    lingers) and close at the server's EOF; or a half-close after the
    line (the server does not linger then)."""
    s = connect(port)
    try:
        s.sendall(b"a\n.\nmore\n" if dot else b"a\n")
        if not dot:
            s.shutdown(socket.SHUT_WR)
        if recv_until_eof(s) != b"A\n":
            raise AssertionError("wrong reply")
    finally:
        s.close()


def check_cost(rec, model):
    """On iterative, a linger delays the next client.  A client that
    closes when it sees the server's EOF cuts it to a round trip: 20
    sessions ending in "." and a line more should cost about what 20
    ending in EOF do.
    A linger that waited out its second would give x100 and more.  Best
    of 3 runs, blocks interleaved, limit x5."""
    if model not in SERIAL:
        return
    with Srv(rec, model, "--quiet") as srv:
        best = None
        for attempt in range(3):
            times = {}
            for dot in (True, False):
                t0 = time.perf_counter()
                for i in range(20):
                    session(srv.port, dot)
                times[dot] = time.perf_counter() - t0
            ratio = times[True] / times[False]
            rec.diag("%s: 20 sessions ending in '.' + more: %.1f ms, in EOF: "
                     "%.1f ms (x%.2f)" % (model, times[True] * 1e3,
                                          times[False] * 1e3, ratio))
            best = ratio if best is None else min(best, ratio)
            if ratio < 5:
                break
        rec.ok(best < 5, "a client that closes at the server's EOF ends "
               "the linger: sessions ending in '.' and more cost x%.2f "
               "those ending in EOF (limit x5)" % best)


def main():
    t = TAP()
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    t.diag("models: " + " ".join(names))
    per_model(t, names, check_reset)
    per_model(t, names, check_holder)
    per_model(t, names, check_cost, parallel=False)
    t.done()


if __name__ == "__main__":
    main()
