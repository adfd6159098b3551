#!/usr/bin/env python3
"""bin/server under many clients, for every model --list-models prints.

200 clients at once, all served while all stay connected (every model
but the serial one; --workers 200 so that the pooled models have a
worker for each); 200 clients that each come and go on their own (20
for the serial model); a second client served while the first is open,
or, for iterative, made to wait until the first ends; --max-clients 2;
no zombie and no leftover child after 500 connections (children found
through /proc, so any model that forks is covered).
"""

import os
import select
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from socklab import TAP, connect, recv_line  # noqa: E402
from servertest import models, per_model, Srv, recv_until_eof  # noqa: E402

# Only iterative serves one session at a time, by design.
SERIAL = {"iterative"}
# Models that document (in their source's header comment) that over
# --max-clients a client waits in the listen queue instead of being told
# "ERR server busy": for them the limit is checked as that wait.
QUEUEING = {
    "prefork": "a pool of min(N, --max-clients) children; others wait in "
               "the listen queue, nobody is told busy (servers/prefork.c)",
    "prethread": "a pool of min(N, --max-clients) threads; others wait in "
                 "the listen queue, nobody is told busy (servers/prethread.c)",
}


# ---- local helpers (the shared ones are in tests/lib/servertest.py) -----


def readable(s, timeout):
    """Has s data (or EOF) within timeout?  A bounded negative check."""
    r, _, _ = select.select([s], [], [], timeout)
    return bool(r)


def swarm(port, n, hold, timeout=30.0):
    """n clients connect at once, without blocking, from one thread.
    Each sends one line and reads its reply; then it sends "." and waits
    for EOF, at once (hold=False) or only when all n have their reply
    (hold=True: n sessions served at the same time).  Returns
    (replied, closed, errors, seconds)."""
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    errors = []
    replied = closed = 0
    live = 0

    def fail(s, c, why):
        nonlocal live
        errors.append("client %d: %s" % (c["i"], why))
        sel.unregister(s)
        s.close()
        live -= 1

    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        req = b"client %d \xc3\xa8\n" % i
        c = {"i": i, "req": req, "want": req.upper().replace(b"\xc3\xa8", b"\xc3\x88"),
             "got": b"", "phase": "connect"}
        sel.register(s, selectors.EVENT_WRITE, c)
        live += 1
    released = not hold
    while live > 0:
        left = t0 + timeout - time.monotonic()
        if left <= 0:
            errors.append("%d clients unfinished after %g s" % (live, timeout))
            break
        if not released and replied == n:
            released = True
            for key in list(sel.get_map().values()):
                key.data["phase"] = "bye"
                key.fileobj.send(b".\n")
        for key, ev in sel.select(min(left, 1.0)):
            s, c = key.fileobj, key.data
            if c["phase"] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(s, c, "connect: %s" % os.strerror(err))
                    continue
                s.send(c["req"])        # a few bytes: never short
                c["phase"] = "reply"
                sel.modify(s, selectors.EVENT_READ, c)
                continue
            try:
                b = s.recv(4096)
            except OSError as e:
                fail(s, c, "%s in phase %s" % (e, c["phase"]))
                continue
            if c["phase"] == "reply":
                c["got"] += b
                if not b or not c["want"].startswith(c["got"]):
                    fail(s, c, "reply %r" % c["got"])
                elif c["got"] == c["want"]:
                    replied += 1
                    c["phase"] = "held"
                    if released:
                        c["phase"] = "bye"
                        s.send(b".\n")
            elif c["phase"] == "held":
                fail(s, c, "got %r while held open" % b)
            elif b:
                fail(s, c, "data %r after '.'" % b)
            else:
                closed += 1
                sel.unregister(s)
                s.close()
                live -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()
    return replied, closed, errors, time.monotonic() - t0


def children(pid):
    """[(pid, state)] of the children of pid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue                    # gone meanwhile
        fields = st[st.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(d), fields[0]))
    return out


def settle(pid, cond, timeout=5.0):
    """Poll the children of pid until cond(children) or timeout; the
    last list seen."""
    deadline = time.monotonic() + timeout
    while True:
        kids = children(pid)
        if cond(kids) or time.monotonic() > deadline:
            return kids
        time.sleep(0.02)


def zombies(kids):
    return [p for p, s in kids if s == "Z"]


def steady(pid, timeout=5.0):
    """The children of pid once none is a zombie and their number has
    not changed for 0.25 s (a pool may still be forking); bounded."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while True:
        kids = children(pid)
        n = len(kids) if not zombies(kids) else None
        same = same + 1 if n is not None and n == last else 0
        last = n
        if same >= 5 or time.monotonic() > deadline:
            return kids
        time.sleep(0.05)


# ---- the checks, per model -----------------------------------------------

def check_at_once(rec, model):
    if model in SERIAL:
        rec.skip("200 clients served at once", "one session at a time, by "
                 "design (see the serial checks)")
        return
    with Srv(rec, model, "--quiet", "--workers", "200", "--backlog", "256") as srv:
        replied, closed, errors, sec = swarm(srv.port, 200, hold=True)
        rec.ok(replied == 200 and closed == 200 and not errors,
               "200 clients at once (--workers 200): all 200 replied while "
               "all were connected, then all closed on '.' (%.2f s)" % sec,
               ["replied %d closed %d" % (replied, closed)] + errors[:10])


def check_come_and_go(rec, model):
    n = 20 if model in SERIAL else 200
    with Srv(rec, model, "--quiet", "--backlog", "256") as srv:
        replied, closed, errors, sec = swarm(srv.port, n, hold=False)
        rec.ok(replied == n and closed == n and not errors,
               "%d clients started at once, each on its own: all served "
               "(%.2f s)" % (n, sec),
               ["replied %d closed %d" % (replied, closed)] + errors[:10])


def check_second_client(rec, model):
    with Srv(rec, model, "--quiet", "--workers", "2") as srv:
        c1 = connect(srv.port)
        c2 = None
        try:
            c1.sendall(b"one\n")
            rec.is_(recv_line(c1), b"ONE\n", "first client served")
            c2 = connect(srv.port)
            c2.sendall(b"two\n")
            if model in SERIAL:
                rec.ok(not readable(c2, 0.5), "serial: no reply to a second "
                       "client in 0.5 s while the first is open")
                c1.sendall(b".\n")
                rec.is_(recv_until_eof(c1), b"", "first client ends with '.'")
                rec.is_(recv_line(c2), b"TWO\n", "serial: then the second "
                        "client's reply arrives")
            else:
                rec.is_(recv_line(c2), b"TWO\n", "a second client is served "
                        "while the first is open")
                c1.sendall(b"again\n")
                rec.is_(recv_line(c1), b"AGAIN\n", "the first still is")
                c1.sendall(b".\n")
                recv_until_eof(c1)
            c2.sendall(b".\n")
            rec.is_(recv_until_eof(c2), b"", "second client ends with '.'")
        finally:
            c1.close()
            if c2:
                c2.close()


def served_soon(port, timeout=5.0):
    """Retry a fresh client until it is served, not told busy; bounded.
    Returns the number of tries, or None."""
    deadline = time.monotonic() + timeout
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        s = connect(port)
        try:
            s.sendall(b"four\n")
            line = recv_line(s)
            if line == b"FOUR\n":
                s.sendall(b".\n")
                recv_until_eof(s)
                return tries
        except OSError:
            pass                        # busy, and reset: try again
        finally:
            s.close()
        time.sleep(0.05)
    return None


def check_max_clients(rec, model):
    if model in SERIAL:
        rec.skip("--max-clients 2", "one session at a time: the others "
                 "always wait in the listen queue")
        return
    with Srv(rec, model, "--max-clients", "2", "--workers", "4") as srv:
        c1, c2 = connect(srv.port), connect(srv.port)
        c3 = None
        try:
            c1.sendall(b"one\n")
            c2.sendall(b"two\n")
            ok = recv_line(c1) == b"ONE\n" and recv_line(c2) == b"TWO\n"
            rec.ok(ok, "--max-clients 2: two sessions served")
            c3 = connect(srv.port)
            if model in QUEUEING:
                rec.skip("--max-clients 2: the third gets 'ERR server busy'",
                         QUEUEING[model])
                c3.sendall(b"three\n")
                rec.ok(not readable(c3, 0.5), "--max-clients 2: the third "
                       "waits (no reply in 0.5 s)")
                c1.sendall(b".\n")
                recv_until_eof(c1)
                rec.is_(recv_line(c3), b"THREE\n", "--max-clients 2: served "
                        "once the first ends")
                c3.sendall(b".\n")
                recv_until_eof(c3)
            else:
                rec.is_(recv_until_eof(c3), b"ERR server busy\n",
                        "--max-clients 2: the third gets exactly 'ERR server "
                        "busy' and is closed")
                c2.sendall(b"still\n")
                rec.is_(recv_line(c2), b"STILL\n", "the two sessions go on")
                c1.sendall(b".\n")
                recv_until_eof(c1)
                tries = served_soon(srv.port)
                rec.ok(tries is not None, "once one ends, a new client is "
                       "served (after %s tries)" % tries)
            c2.sendall(b".\n")
            recv_until_eof(c2)
        finally:
            for s in (c1, c2, c3):
                if s:
                    s.close()


def check_zombies(rec, model):
    with Srv(rec, model, "--quiet", "--backlog", "256") as srv:
        pid = srv.proc.pid
        # The children a model keeps while idle (a pool), after one
        # session, once no zombie is left and their number is steady.
        replied, closed, errors, sec = swarm(srv.port, 1, hold=False)
        idle = steady(pid)
        n_idle = len(idle)
        total = replied
        for wave in range(10):
            r, c, e, s = swarm(srv.port, 50, hold=False)
            total += r
            errors += e
            sec += s
        rec.ok(total == 501 and not errors, "500 more connections, 50 at a "
               "time, all served (%.2f s)" % sec, errors[:10])
        kids = settle(pid, lambda k: not zombies(k) and len(k) <= n_idle)
        z = zombies(kids)
        rec.ok(not z, "no zombie child after 500 connections and a settle "
               "of at most 5 s", ["%d zombies: %s" % (len(z), z[:10])])
        rec.ok(len(kids) <= n_idle, "children back to at most %d (as when "
               "idle): %d" % (n_idle, len(kids)),
               ["children: %s" % kids[:10]])


def main():
    t = TAP()
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    t.diag("models: " + " ".join(names))
    per_model(t, names, check_second_client)
    per_model(t, names, check_max_clients)
    # The swarms are CPU-bound on 2 cores: two models at a time.
    per_model(t, names, check_at_once, parallel=2)
    per_model(t, names, check_come_and_go, parallel=2)
    per_model(t, names, check_zombies, parallel=2)
    t.done()


if __name__ == "__main__":
    main()
