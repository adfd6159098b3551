"""stress_cases.py - the cases of the fault suite, one function each, so
that tests/stress/*.t and the short tests/reliability.t run the very same
code at different sizes.

A case takes (rec, model, ...) and starts its own server, or takes
(rec, srv, model, ...) and uses one a file started for several cases;
it records TAP results and figures in rec (stress_lib.Rec).  Each is
bounded in count and time; none asserts an absolute timing: the only
clocks compared are ratios (CPU time over wall time) and lower bounds
(a session closed by a timeout was not closed before it).
"""

import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time

from socklab import connect, recv_line
from stress_lib import (SERIAL, QUEUEING, THREAD_POOLS, MemSampler, beside,
                        children, closed_by_peer, connect_many, cpu_seconds,
                        expected, finish, listen_queue, memory_env,
                        memory_skip, nfds, pss_kb,
                        raise_nofile, refused, round_trip, rss_kb, rst_close,
                        sanitizer, server, state, threads, tree, wait_ended,
                        wait_for)

TOOLONG = b"ERR line too long (max 65536 bytes)\n"
BUSY = b"ERR server busy\n"
MB = 1 << 20


def _port(s):
    return s.getsockname()[1]


def _ends(rec, srv, ports, start, what, whys=None, timeout=20):
    """Check that the server logged the end of each of these sessions
    (and, given whys, for one of those reasons)."""
    got = wait_ended(srv, ports, start, timeout)
    rec.is_(len(got), len(ports), "the end of all %d %s sessions is logged"
            % (len(ports), what))
    if whys is not None and got:
        bad = sorted({w for _, w in got.values() if w not in whys})
        rec.ok(not bad, "%s sessions end as %s" % (what, " or ".join(whys)),
               ["other reasons: %r" % bad])
    return got


# ---- hostile input ---------------------------------------------------------

def session_cost(srv):
    """How much the server's memory (pss_kb) grows with one more session
    open, after a round trip: a new child for fork, a worker's first
    session for the pools, sanitizer shadow memory.  The memory bounds
    below are this plus a margin, so they hold in every build."""
    pid = srv.proc.pid
    before = pss_kb(pid)
    s = connect(srv.port, srv.host)
    round_trip(s, b"what does a session cost\n")
    time.sleep(0.2)
    cost = max(0, pss_kb(pid) - before)
    s.sendall(b".\n")
    closed_by_peer(s, 10)
    s.close()
    return cost


MARGIN_KB = 8 * 1024


def long_line(rec, srv, model, size=10 * MB):
    """A line of `size` bytes and no newline: ERR line too long, session
    closed, the server's memory grows by far less than the line."""
    pid = srv.proc.pid
    start = len(srv.lines)
    cost = session_cost(srv)
    base = pss_kb(pid)
    sampler = MemSampler(pid)
    with beside(rec, srv, model, "a %d MB line" % (size // MB)):
        s = connect(srv.port, srv.host, timeout=20)
        port = _port(s)
        sent = [0]

        def push():
            chunk = b"a" * 65536
            try:
                while sent[0] < size:
                    s.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass
        th = threading.Thread(target=push, daemon=True)
        th.start()
        try:
            got = recv_line(s, 30)
        except (OSError, socket.timeout) as e:
            got = repr(e)
        rec.is_(got, TOOLONG, "%d MB line: ERR line too long" % (size // MB))
        rec.ok(closed_by_peer(s, 20), "%d MB line: session closed" %
               (size // MB))
        th.join(30)
        s.close()
        _ends(rec, srv, [port], start, "too-long", ["line too long"])
    grew = sampler.stop() - base
    rec.figure("long_line_sent_before_close_kb", sent[0] // 1024)
    rec.figure("session_cost_kb", cost)
    rec.figure("long_line_mem_growth_kb", grew)
    rec.ok(grew < cost + MARGIN_KB, "%d MB line: server memory grew %d KiB"
           " (< one session's %d KiB + 8 MiB)" % (size // MB, grew, cost))


# Lines no UTF-8 decoder accepts, and NUL bytes: all pass through.
ODD_LINES = [
    b"\x00" * 1000 + b"\n",
    b"\xff\xfe\xfd\xfc\xf8\xc0\x80\xc1\xbf\xf5\x80\x80\x80\n",
    b"surrogates \xed\xa0\x80 \xed\xbf\xbf end\n",
    b"cut short \xe2\x82 and \xf0\x9f\x98 and \xc3\n",
    b"overlong \xe0\x80\xaf \xf0\x80\x80\xaf \xc0\xaf\n",
    b"\x00a\x00b\x00c\x00\n",
    b"\x80\x80\x80 lone continuation \xbf\n",
    b"mixed caf\xc3\xa9 \xff stra\xc3\x9fe \x00 \xef\xac\x81\n",
]


def garbage_lines(nbytes, seed=1):
    """ODD_LINES, then random bytes (no LF) in lines of 0 to 4000 bytes
    up to about nbytes, never "." or ".\\r"."""
    rnd = random.Random(seed)
    lines = list(ODD_LINES)
    total = sum(map(len, lines))
    while total < nbytes:
        body = rnd.randbytes(rnd.randint(0, 4000)).replace(b"\n", b"\x00")
        if body in (b".", b".\r"):
            continue
        lines.append(body + b"\n")
        total += len(body) + 1
    return lines


def _pipeline(s, data, want_len, timeout=30):
    """Send data from a thread while reading want_len bytes of replies;
    returns what was read (short if the session ended or timed out)."""
    err = []

    def push():
        try:
            view = memoryview(data)
            for i in range(0, len(data), 65536):
                s.sendall(view[i:i + 65536])
        except OSError as e:
            err.append(e)
    th = threading.Thread(target=push, daemon=True)
    th.start()
    got = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while len(got) < want_len:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            b = s.recv(1 << 18)
            if not b:
                break
            got += b
    except (OSError, socket.timeout):
        pass
    th.join(timeout)
    return bytes(got)


def garbage(rec, srv, model, nbytes=2 * MB):
    """A flood of invalid UTF-8 and NUL bytes, pipelined: every reply,
    in order, and whatever is not UTF-8 comes back unchanged."""
    lines = garbage_lines(nbytes)
    want = b"".join(expected(l) for l in lines)
    with beside(rec, srv, model, "an invalid UTF-8 flood"):
        s = connect(srv.port, srv.host, timeout=30)
        got = _pipeline(s, b"".join(lines), len(want))
        rec.ok(got == want, "%d KB of invalid UTF-8 and NUL in %d lines: "
               "every reply, in order" % (sum(map(len, lines)) // 1024,
                                          len(lines)),
               ["got %d bytes of %d; first difference at %d" % (
                   len(got), len(want), next((i for i in range(
                       min(len(got), len(want))) if got[i] != want[i]),
                       min(len(got), len(want))))])
        # The first seven hold no well-formed UTF-8 beyond ASCII: only
        # a-z change.
        odd = b"".join(l.upper() for l in ODD_LINES[:7])
        rec.is_(got[:len(odd)], odd,
                "bytes that are not UTF-8 pass through unchanged")
        s.sendall(b".\n")
        rec.ok(closed_by_peer(s, 10), "'.' after the flood ends the session")
        s.close()


CR_CASES = [
    (b"abc\r\n", b"ABC\r\n"),
    (b"a\rb\n", b"A\rB\n"),
    (b"\r\n", b"\r\n"),
    (b"\r\r\rx\r\n", b"\r\r\rX\r\n"),
    (b".\rnot the end\n", b".\rNOT THE END\n"),
    (b"\n", b"\n"),
]


def crlf(rec, srv, model):
    """CRLF and lone CR are bytes like any other; ".\\r\\n" ends."""
    with beside(rec, srv, model, "CRLF and lone CR"):
        s = connect(srv.port, srv.host)
        for line, want in CR_CASES:
            rec.is_(round_trip(s, line), want, "reply to %r" % line)
        # A CR at the end of one segment, its LF in the next.
        s.sendall(b"split\r")
        time.sleep(0.05)
        s.sendall(b"\n")
        rec.is_(recv_line(s), b"SPLIT\r\n", "CR and LF in two segments")
        s.sendall(b".\r\n")
        got = b""
        try:
            s.settimeout(10)
            got = s.recv(100)
        except OSError as e:
            got = repr(e).encode()
        rec.is_(got, b"", "'.\\r\\n' ends the session without a reply")
        s.close()


def rst_mid_line(rec, srv, model, n=100):
    """Clients that send half a line and reset the connection."""
    start = len(srv.lines)
    ports = []
    with beside(rec, srv, model, "%d resets mid-line" % n):
        for i in range(n):
            s = connect(srv.port, srv.host)
            ports.append(_port(s))
            s.sendall(b"half a line %d, then a reset" % i)
            rst_close(s)
        _ends(rec, srv, ports, start, "reset mid-line",
              ["Connection reset by peer", "client closed mid-line"])


def rst_mid_reply(rec, srv, model, n=10, size=MB):
    """Clients that pipeline `size` bytes of lines, read one reply, then
    reset while the server is still writing: nothing dies of SIGPIPE."""
    start = len(srv.lines)
    ports = []
    line = b"a reply is on its way, then a reset\n"
    data = line * (size // len(line))
    with beside(rec, srv, model, "%d resets mid-reply" % n):
        for i in range(n):
            s = connect(srv.port, srv.host)
            ports.append(_port(s))
            th = threading.Thread(target=lambda: _sendall_quiet(s, data),
                                  daemon=True)
            th.start()
            first = recv_line(s, 20)
            if first != expected(line):
                rec.is_(first, expected(line), "first reply before reset")
            # The requests fit in the socket buffers; once they are all
            # sent (a close() under a blocked send would wait for it),
            # reset while the server is still answering them.
            th.join(20)
            rst_close(s)
        _ends(rec, srv, ports, start, "reset mid-reply")


def _sendall_quiet(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass


def half_close(rec, srv, model, nlines=2000):
    """shutdown(SHUT_WR) after the requests: all replies still come,
    then EOF; half a line before the shutdown gets no reply."""
    start = len(srv.lines)
    lines = [b"half close %d \xc3\xa9\n" % i for i in range(nlines)]
    want = b"".join(expected(l) for l in lines)
    with beside(rec, srv, model, "half-close"):
        s = connect(srv.port, srv.host, timeout=30)
        s.sendall(b"".join(lines))
        s.shutdown(socket.SHUT_WR)
        got = _read_to_eof(s, 30)
        rec.ok(got == want + b"<EOF>", "half-closed after %d lines: every "
               "reply, then EOF" % nlines,
               ["got %d bytes, ends %r" % (len(got), got[-40:])])
        s.close()
        s = connect(srv.port, srv.host)
        p2 = _port(s)
        s.sendall(b"no newline before the shutdown")
        s.shutdown(socket.SHUT_WR)
        rec.is_(_read_to_eof(s, 10), b"<EOF>",
                "half-closed mid-line: no reply, then EOF")
        s.close()
        _ends(rec, srv, [p2], start, "half-closed mid-line",
              ["client closed mid-line"])


def _read_to_eof(s, timeout):
    got = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(got) + b"<TIMEOUT>"
            s.settimeout(left)
            b = s.recv(65536)
            if not b:
                return bytes(got) + b"<EOF>"
            got += b
    except OSError as e:
        return bytes(got) + ("<%s>" % type(e).__name__).encode()


def silent(rec, srv, model, n=200):
    """Clients that connect, send nothing, and close."""
    start = len(srv.lines)
    ports = []
    with beside(rec, srv, model, "%d silent clients" % n):
        for _ in range(n):
            s = connect(srv.port, srv.host)
            ports.append(_port(s))
            s.close()
        _ends(rec, srv, ports, start, "silent", ["client closed"])


# ---- load --------------------------------------------------------------------

def _settled(srv, base):
    """Nothing waits to be accepted and the server is back to base
    (threads, live children, descriptors), twice in a row: every session
    it had is over."""
    pid = srv.proc.pid
    for i in range(2):
        if i:
            time.sleep(0.05)
        if listen_queue(srv.port) not in (0, None):
            return False
        kids = [c for c in children(pid) if state(c) not in (None, "Z")]
        if not (threads(pid) <= base[0] and len(kids) <= base[1] and
                nfds(pid) <= base[2]):
            return False
    return True


def _snapshot(pid):
    kids = [c for c in children(pid) if state(c) not in (None, "Z")]
    return (threads(pid), len(kids), nfds(pid))


def cycles(rec, srv, model, n=10000, talk=False):
    """n connect/close cycles as fast as one client goes (talk: with one
    round trip in each): the rate, and no leak (threads, children,
    descriptors back where they were, no zombie; with talk, RSS after n
    against RSS after 1,000).

    Without talk the client outruns the server, so sessions pile up for
    a moment and RSS follows the peak number of sessions at once (for
    thread: stacks that glibc caches, up to 40 MiB), not the number
    served: the RSS ratio is only a figure then.  With talk at most a
    few sessions overlap and the ratio is asserted."""
    pid = srv.proc.pid
    addr = (srv.host, srv.port)
    what = "connect/round trip/close" if talk else "connect/close"
    key = "talk_" if talk else ""
    line = b"one round trip \xc3\xa9\n"
    with beside(rec, srv, model, "%d %s cycles" % (n, what)):
        # The canary's session included; the largest of a few looks, as
        # a pool may still be starting a worker.
        base = _snapshot(pid)
        for _ in range(3):
            time.sleep(0.1)
            base = tuple(map(max, base, _snapshot(pid)))
        rss = {}
        t0 = time.monotonic()
        busy = 0.0
        for i in range(1, n + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(addr)
            if talk and round_trip(s, line) != expected(line):
                rec.ok(False, "cycle %d: round trip" % i)
                s.close()
                break
            s.close()
            if i in (1000, n):
                t1 = time.monotonic()
                ok = wait_for(lambda: _settled(srv, base), 60)
                rss[i] = rss_kb(pid)
                if not ok:
                    rec.ok(False, "server settles after %d cycles" % i,
                           ["now %r, before %r" % (_snapshot(pid), base)])
                if i == n:
                    busy = time.monotonic() - t0
                else:
                    t0 += time.monotonic() - t1     # not timed
        if n not in rss:
            return
        rate = n / busy if busy > 0 else 0
        rec.figure(key + "cycles_per_s", "%.0f" % rate)
        rec.figure(key + "rss_after_1000_kb", rss[1000])
        rec.figure(key + "rss_after_%d_kb" % n, rss[n])
        ratio = rss[n] / max(1, rss[1000])
        rec.figure(key + "rss_ratio", "%.3f" % ratio)
        if talk and sanitizer() in ("address", "thread"):
            # ASan keeps freed memory in quarantine (256 MiB), TSan its
            # shadow: RSS grows by design.  LeakSanitizer checks at exit.
            rec.skip("RSS after %d sessions / after 1,000" % n,
                     "%s sanitizer build" % sanitizer())
        elif talk:
            rec.ok(ratio < 1.1, "RSS after %d sessions / after 1,000: "
                   "%.3f (< 1.1)" % (n, ratio))
        now = _snapshot(pid)
        rec.ok(now[0] <= base[0] and now[2] <= base[2],
               "threads and descriptors back to before (%r vs %r)" %
               (now, base))
        def zombies():
            return [c for c in children(pid) if state(c) == "Z"]
        wait_for(lambda: not zombies(), 5)
        z = zombies()
        rec.ok(not z, "no zombie after %d connections" % n,
               ["zombies: %r" % z])


def burst(rec, srv, model, n=1000):
    """n connects at once (the server has --backlog 4096); each sends a
    line, gets its own reply, and closes."""
    with beside(rec, srv, model, "a burst of %d connects" % n):
        raise_nofile(n + 500)
        t0 = time.monotonic()
        socks = connect_many(srv.port, n, 30, srv.host)
        t_conn = time.monotonic() - t0
        sel = selectors.DefaultSelector()
        want, got = {}, {}
        for i, s in enumerate(socks):
            line = b"burst %d\n" % i
            s.sendall(line)
            s.setblocking(False)
            want[s] = expected(line)
            got[s] = b""
            sel.register(s, selectors.EVENT_READ)
        good = bad = 0
        deadline = time.monotonic() + 60
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(1.0):
                s = key.fileobj
                try:
                    b = s.recv(4096)
                except OSError:
                    b = b""
                got[s] += b
                if b and not got[s].endswith(b"\n"):
                    continue
                if got[s] == want[s]:
                    good += 1
                else:
                    bad += 1
                sel.unregister(s)
                s.close()           # let the serial models go on
        left = len(sel.get_map())
        for s in socks:
            s.close()
        sel.close()
        t_all = time.monotonic() - t0
        rec.is_((good, bad, left), (n, 0, 0), "burst of %d: every client "
                "got its own reply (good, wrong, unanswered)" % n)
        rec.figure("burst_connects_s", "%.2f" % t_conn)
        rec.figure("burst_all_served_s", "%.2f" % t_all)


def idle_many(rec, srv, model, n=2000, hold=2.0):
    """n connections that send nothing, held open while the canary goes
    on; then closed, and a new client is served."""
    pid = srv.proc.pid
    raise_nofile(2 * n + 500)
    with beside(rec, srv, model, "%d idle connections" % n):
        socks = connect_many(srv.port, n, 30, srv.host)
        time.sleep(hold)        # the canary runs meanwhile
        kids = len(children(pid))
        rec.figure("idle_%d_fds" % n, nfds(pid))
        rec.figure("idle_%d_threads" % n, threads(pid))
        rec.figure("idle_%d_children" % n, kids)
        rec.figure("idle_%d_pss_kb" % n, pss_kb(pid))
        for s in socks:
            s.close()
    # After they left, a new client is served (beside's canary is that
    # client for the serial models; this one is for every model).
    s = connect(srv.port, srv.host, timeout=30)
    rec.is_(round_trip(s, b"after the idle ones\n", 60),
            b"AFTER THE IDLE ONES\n", "served after %d idle clients left" % n)
    s.close()


# ---- limits --------------------------------------------------------------------

def max_clients(rec, model, m=4, churn=300):
    """--max-clients m: exactly m sessions at once; the next gets "ERR
    server busy" and EOF at once (QUEUEING models: waits unserved until
    one leaves); still exact after churn of every kind."""
    if model in SERIAL:
        rec.skip("--max-clients", "one session at a time by design")
        return
    with server(model, "--max-clients", str(m), "--workers", str(2 * m),
                "--idle-timeout", "30", "--backlog", "256") as srv:
        with beside(rec, srv, model, "--max-clients churn"):
            # The canary is one of the m.
            _exact(rec, srv, model, m - 1, "at start")
            seen = _churn(srv, churn, m - 1)
            rec.figure("max_clients_churn_busy", seen)
            _exact(rec, srv, model, m - 1, "after %d sessions of churn"
                   % churn)
        finish(rec, srv, "--max-clients")


def _exact(rec, srv, model, k, when):
    """k more sessions are served beside the canary, one more is not."""
    deadline = time.monotonic() + 15
    while True:
        held, fault = [], None
        for i in range(k):
            s = connect(srv.port, srv.host)
            held.append(s)
            r = round_trip(s, b"held %d\n" % i, 10)
            if r != b"HELD %d\n" % i:
                fault = r
                break
        if fault is None or time.monotonic() >= deadline:
            break
        # Sessions of the churn may still be ending: try again.
        for s in held:
            s.close()
        time.sleep(0.2)
    rec.ok(fault is None, "%s: %d sessions served beside the canary" %
           (when, k), ["session %d got %r" % (len(held), fault)])
    extra = connect(srv.port, srv.host)
    if model in QUEUEING:
        extra.sendall(b"one too many\n")
        try:
            r = recv_line(extra, 1.0)
        except socket.timeout:
            r = None
        rec.is_(r, None, "%s: client %d waits unserved" % (when, k + 2))
        held[0].sendall(b".\n")
        closed_by_peer(held[0], 10)
        try:
            r = recv_line(extra, 10)
        except socket.timeout:
            r = None
        rec.is_(r, b"ONE TOO MANY\n", "%s: ... and is served when one "
                "leaves" % when)
    else:
        try:
            r = recv_line(extra, 10)
        except (OSError, socket.timeout) as e:
            r = repr(e)
        rec.is_(r, BUSY, "%s: client %d gets ERR server busy" % (when, k + 2))
        rec.ok(closed_by_peer(extra, 5), "%s: ... and is closed at once"
               % when)
    extra.close()
    for s in held:
        s.close()


def _churn(srv, n, conc):
    """n sessions ended in every way, `conc` threads at a time, then
    bursts of 10 at once; returns how many were told busy."""
    busy = [0]
    lock = threading.Lock()

    def one(i, rnd):
        try:
            s = connect(srv.port, srv.host)
        except OSError:
            return
        try:
            kind = rnd.randrange(5)
            r = round_trip(s, b"churn %d\n" % i, 10) if kind < 3 else None
            if r == BUSY:
                with lock:
                    busy[0] += 1
            if kind == 0:
                s.sendall(b".\n")
                closed_by_peer(s, 5)
            elif kind == 1:
                s.shutdown(socket.SHUT_WR)
                closed_by_peer(s, 5)
            elif kind == 3:
                s.sendall(b"half a line")
                rst_close(s)
                return
        except OSError:
            pass
        s.close()

    def worker(w):
        rnd = random.Random(w)
        for i in range(w, n, conc):
            one(i, rnd)
    ths = [threading.Thread(target=worker, args=(w,)) for w in range(conc)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    for b in range(5):
        try:
            socks = connect_many(srv.port, 10, 10, srv.host)
        except (OSError, RuntimeError):
            continue
        for s in socks:
            try:
                s.sendall(b"burst\n")
            except OSError:
                pass
        for s in socks[::2]:
            rst_close(s)
        for s in socks[1::2]:
            s.close()
    return busy[0]


def idle_timeout(rec, model, timeout=1):
    """--idle-timeout: a silent client and a slowloris (a byte every 0.3
    s of a line that never ends) are closed, with a log line."""
    with server(model, "--idle-timeout", str(timeout), "--workers", "4",
                "--max-clients", "0") as srv:
        start = len(srv.lines)
        with beside(rec, srv, model, "silent and slowloris clients"):
            t0 = time.monotonic()     # before the server's clocks start
            quiet = connect(srv.port, srv.host)
            slow = connect(srv.port, srv.host)
            res = {}

            def loris():
                sent, line = 0, b"slowloris never ends its line" * 10
                try:
                    slow.settimeout(0.3)
                    while sent < len(line):
                        slow.send(line[sent:sent + 1])
                        sent += 1
                        try:
                            if slow.recv(100) == b"":
                                break
                        except socket.timeout:
                            pass
                except OSError:
                    pass
                res["slow"] = (sent, time.monotonic() - t0)
            th = threading.Thread(target=loris, daemon=True)
            th.start()
            rec.ok(closed_by_peer(quiet, 10 * timeout + 10),
                   "silent client closed")
            res["quiet"] = time.monotonic() - t0
            th.join(30)
            sent, t_slow = res.get("slow", (None, None))
            rec.ok(sent is not None and sent < 290,
                   "slowloris closed after %r bytes, mid-line" % sent)
            rec.ok(res["quiet"] >= 0.9 * timeout and
                   (t_slow or 0) >= 0.9 * timeout,
                   "neither closed before --idle-timeout %d (%.2f s, %s s)"
                   % (timeout, res["quiet"], t_slow))
            _ends(rec, srv, [_port(quiet), _port(slow)], start,
                  "silent and slowloris", ["idle timeout"])
            rec.figure("idle_closed_after_s", "%.2f" % res["quiet"])
            quiet.close()
            slow.close()
        finish(rec, srv, "idle timeouts")


def not_reading(rec, model, idle=2, limit=64 * MB):
    """A client that pipelines and never reads: the session is closed
    (the write deadline from --idle-timeout in the blocking models, the idle
    timer in the event loops), server memory stays bounded."""
    # Two workers: the canary's, and one that serves session_cost()'s
    # session then the hostile one, so the cost includes its warm-up.
    with server(model, "--idle-timeout", str(idle), "--workers", "2",
                "--max-clients", "0", env=memory_env()) as srv:
        pid = srv.proc.pid
        start = len(srv.lines)
        with beside(rec, srv, model, "a client that never reads"):
            cost = session_cost(srv)
            base = pss_kb(pid)
            sampler = MemSampler(pid)
            s = connect(srv.port, srv.host)
            port = _port(s)
            s.setblocking(False)
            chunk = b"never read, never read, never read, never read\n" \
                * 1365
            sent, closed = 0, False
            t0 = time.monotonic()
            sel = selectors.DefaultSelector()
            sel.register(s, selectors.EVENT_WRITE)
            while sent < limit and time.monotonic() - t0 < 10 * idle + 20:
                if not sel.select(0.5):
                    continue
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    continue
                except OSError:
                    closed = True
                    break
            if not closed:      # sent it all: now wait for the close
                s.setblocking(True)
                closed = closed_by_peer(s, 10 * idle + 20)
            took = time.monotonic() - t0
            sel.close()
            s.close()
            grew = sampler.stop() - base
            rec.ok(closed, "session of a client that never reads is closed "
                   "(after %d KB)" % (sent // 1024))
            _ends(rec, srv, [port], start, "never-reading",
                  ["client not reading"])
            if memory_skip():
                rec.skip("server memory while a client never reads",
                         memory_skip())
            else:
                rec.ok(grew < cost + MARGIN_KB, "server memory grew %d KiB "
                       "(< one session's %d KiB + 8 MiB) while the client "
                       "pushed %d KB" % (grew, cost, sent // 1024))
            rec.figure("not_reading_pushed_kb", sent // 1024)
            rec.figure("not_reading_mem_growth_kb", grew)
            rec.figure("not_reading_closed_after_s", "%.1f" % took)
        finish(rec, srv, "a client that never reads")


TCP_ESTABLISHED = 1


def _tcp_state(s):
    """The kernel's state of a TCP socket (tcp_info's first byte), which
    says that the peer closed without reading what it sent."""
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def many_not_reading(rec, model, n=24, max_mem=8 * MB, write_sec=2,
                     fill_sec=3.0):
    """n clients that pipeline lines of "ΐ" (replies 3 times the request)
    and never read, under --max-memory max_mem and --write-timeout
    write_sec (--idle-timeout 60): the server's memory stays under
    max_mem + n sessions' cost + a margin (the event loops close the
    sessions that hold most: "server memory full"), and every one of
    them is closed by the write deadline, long before the idle timeout
    (the kernel's socket buffers are what the deadline gives back).  A
    serial model serves one of them at a time: one there."""
    if model in SERIAL:
        n = 1
    with server(model, "--max-memory", str(max_mem), "--write-timeout",
                str(write_sec), "--idle-timeout", "60", "--workers",
                str(n + 2), "--max-clients", "0", "--quiet") as srv:
        pid = srv.proc.pid
        with beside(rec, srv, model, "%d clients that never read" % n):
            cost = session_cost(srv)
            base = pss_kb(pid)
            sampler = MemSampler(pid)
            socks = [connect(srv.port, srv.host) for _ in range(n)]
            for s in socks:
                s.setblocking(False)
            chunk = ("ΐ" * 2000 + "\n").encode() * 16
            sent, gone = 0, set()
            t0 = time.monotonic()
            # Push for fill_sec, then only look for the closes; the
            # whole case is bounded by the deadline.
            deadline = t0 + fill_sec + 3 * write_sec + 10
            while len(gone) < n and time.monotonic() < deadline:
                pushing = time.monotonic() - t0 < fill_sec
                moved = False
                for i, s in enumerate(socks):
                    if i in gone:
                        continue
                    try:
                        if pushing:
                            sent += s.send(chunk)
                            moved = True
                        elif _tcp_state(s) != TCP_ESTABLISHED:
                            gone.add(i)     # FIN or reset from the server
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        gone.add(i)
                if not moved:
                    time.sleep(0.05)
            took = time.monotonic() - t0
            grew = sampler.stop() - base
            for s in socks:
                s.close()
            bound = max_mem // 1024 + n * cost + MARGIN_KB
            rec.ok(grew < bound, "server memory grew %d KiB (< --max-memory "
                   "%d KiB + %d sessions' %d KiB + 8 MiB) while %d clients "
                   "pushed %d MB and read nothing" %
                   (grew, max_mem // 1024, n, cost, n, sent // MB))
            rec.is_(len(gone), n, "all %d are closed (--write-timeout %d, "
                    "--idle-timeout 60), in %.1f s" % (n, write_sec, took))
            rec.figure("many_not_reading_pushed_mb", sent // MB)
            rec.figure("many_not_reading_mem_growth_kb", grew)
            rec.figure("many_not_reading_closed_after_s", "%.1f" % took)
        finish(rec, srv, "%d clients that never read" % n)


def nofile(rec, model, nclients=200, limit=64, episode=3.0):
    """The server under prlimit --nofile=64 and 200 clients: no busy
    loop while accept() fails (CPU time well under the wall time), and
    service resumes once the clients leave."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        rec.skip("descriptor limit", "no prlimit")
        return
    # 100 threads in one descriptor table: the thread pools reach the
    # limit too (with the default 2 they never would).
    workers = ["--workers", "100"] if model in THREAD_POOLS else []
    with server(model, "--backlog", "512", "--idle-timeout", "60",
                "--max-clients", "0", *workers,
                wrap=[prlimit, "--nofile=%d" % limit]) as srv:
        pid = srv.proc.pid
        with beside(rec, srv, model, "%d clients at --nofile=%d" %
                    (nclients, limit)):
            socks = connect_many(srv.port, nclients, 30, srv.host)
            for i, s in enumerate(socks):
                s.sendall(b"at the limit %d\n" % i)
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(episode)     # a measurement window, not a wait
            c1, t1 = cpu_seconds(pid), time.monotonic()
            share = (c1 - c0) / (t1 - t0)
            served = 0
            for s in socks:
                s.setblocking(False)
                try:
                    if s.recv(100):
                        served += 1
                except OSError:
                    pass
            emfile = sum("Too many open files" in l for l in srv.errlines)
            rec.figure("nofile_cpu_share", "%.3f" % share)
            rec.figure("nofile_served_during", served)
            rec.figure("nofile_emfile_log_lines", emfile)
            rec.ok(share < 0.5, "CPU at the descriptor limit: %.1f %% of one "
                   "core over %.1f s (< 50 %%)" % (100 * share, t1 - t0))
            for s in socks:
                s.close()
            s = connect(srv.port, srv.host, timeout=30)
            r = round_trip(s, b"after the limit\n", 60)
            rec.is_(r, b"AFTER THE LIMIT\n", "a new client is served once "
                    "the %d left" % nclients)
            s.close()
        finish(rec, srv, "the descriptor limit")


# ---- lifecycle -------------------------------------------------------------------

def drain(rec, model, sec=3):
    """SIGTERM with a session in flight: new connects refused, the
    session still answered, closed when --drain is over, exit 0."""
    with server(model, "--drain", str(sec), "--idle-timeout", "60") as srv:
        a = connect(srv.port, srv.host)
        port = _port(a)
        rec.is_(round_trip(a, b"before\n"), b"BEFORE\n", "session served")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        # iterative too: the signal shuts its listener down.
        rec.ok(wait_for(lambda: refused(srv.port, srv.host), 10),
               "a new connect is refused during the drain")
        got = []
        for i in range(5):
            got.append(round_trip(a, b"during %d\n" % i))
            time.sleep(0.1)
        rec.is_(got, [b"DURING %d\n" % i for i in range(5)],
                "the session in flight is answered during the drain")
        rec.ok(closed_by_peer(a, sec + 20), "... and closed at the end")
        took = time.monotonic() - t0
        rec.ok(took >= 0.8 * sec, "... not before --drain %d (%.2f s)" %
               (sec, took))
        rec.figure("drain_closed_after_s", "%.2f" % took)
        try:
            st = srv.proc.wait(20)
        except subprocess.TimeoutExpired:
            st = None
        rec.is_(st, 0, "exit 0 after the drain")
        # thread and fork exit without logging the end of the sessions
        # left (the kernel closes them): a figure, not a test.
        got = wait_ended(srv, [port], 0, 1)
        rec.figure("drain_end_logged", got.get(port, (None, None))[1])
        a.close()
        finish(rec, srv, "the drain", stopped=True)


def drain_early(rec, model, sec=30):
    """A session that ends during the drain lets the server exit at
    once, without waiting for --drain."""
    with server(model, "--drain", str(sec), "--idle-timeout", "60") as srv:
        a = connect(srv.port, srv.host)
        rec.is_(round_trip(a, b"x\n"), b"X\n", "session served")
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        rec.is_(round_trip(a, b"last\n"), b"LAST\n", "answered after SIGTERM")
        a.sendall(b".\n")
        try:
            st = srv.proc.wait(sec / 2)
        except subprocess.TimeoutExpired:
            st = None
        rec.is_(st, 0, "exit 0 as soon as the last session ends (drain %d)"
                % sec)
        a.close()
        srv.stop(signal.SIGKILL, 5)


def term_under_load(rec, model, clients=16, drain_sec=2):
    """SIGTERM while 16 clients do round trips (half on persistent
    sessions, half reconnecting for each): exit 0, no reply wrong."""
    with server(model, "--drain", str(drain_sec), "-q", "--backlog",
                "1024", "--max-clients", "0") as srv:
        stop = threading.Event()
        count = [0]
        wrong = []
        lock = threading.Lock()

        def client(w):
            s = None
            i = 0
            while not stop.is_set():
                try:
                    if s is None:
                        s = connect(srv.port, srv.host, timeout=5)
                    line = b"load %d %d stra\xc3\x9fe\n" % (w, i)
                    r = round_trip(s, line, 5)
                    if r is None:
                        s.close()
                        s = None
                        if srv.proc.poll() is not None:
                            return
                        continue
                    if r != expected(line):
                        with lock:
                            wrong.append((line, r))
                    with lock:
                        count[0] += 1
                    i += 1
                    if w % 2:
                        s.close()
                        s = None
                except OSError:
                    if s:
                        s.close()
                    s = None
                    if srv.proc.poll() is not None:
                        return
                    time.sleep(0.01)
            if s:
                s.close()
        ths = [threading.Thread(target=client, args=(w,), daemon=True)
               for w in range(clients)]
        for th in ths:
            th.start()
        wait_for(lambda: count[0] >= 500, 20)
        before = count[0]
        srv.proc.send_signal(signal.SIGTERM)
        try:
            st = srv.proc.wait(drain_sec + 20)
        except subprocess.TimeoutExpired:
            st = None
        stop.set()
        for th in ths:
            th.join(10)
        rec.ok(before >= 500, "load was running (%d round trips) when "
               "SIGTERM came" % before)
        rec.is_(st, 0, "exit 0 on SIGTERM under load")
        rec.is_(wrong[:3], [], "no wrong reply under load")
        finish(rec, srv, "SIGTERM under load", stopped=True)


def sigpipe(rec, model, n=20):
    """Clients that close before their replies are written, and SIGPIPE
    sent to every process of the server: nothing dies."""
    with server(model, "--idle-timeout", "30", "--max-clients", "0") as srv:
        pid = srv.proc.pid
        start = len(srv.lines)
        ports = []
        with beside(rec, srv, model, "SIGPIPE"):
            line = b"closing before the reply arrives\n"
            for i in range(n):
                s = connect(srv.port, srv.host)
                ports.append(_port(s))
                s.sendall(line * 6000)      # 200 KB: fits the buffers
                recv_line(s)
                s.close()       # unread data: the kernel resets
            procs = tree(pid)
            for p in procs:
                try:
                    os.kill(p, signal.SIGPIPE)
                except ProcessLookupError:
                    pass
            _ends(rec, srv, ports, start, "closed-before-reply")
            rec.ok(srv.proc.poll() is None, "SIGPIPE sent to %d processes: "
                   "the server lives" % len(procs))
        finish(rec, srv, "SIGPIPE")


def sighup(rec, model, sec=5):
    """SIGHUP to a child does nothing; to the server it is SIGTERM:
    connects refused, the session in flight answered, exit 0."""
    with server(model, "--drain", str(sec), "--idle-timeout", "60") as srv:
        pid = srv.proc.pid
        a = connect(srv.port, srv.host)
        rec.is_(round_trip(a, b"before\n"), b"BEFORE\n", "session served")
        kids = tree(pid)[1:]
        for k in kids:
            try:
                os.kill(k, signal.SIGHUP)
            except ProcessLookupError:
                pass
        if kids:
            time.sleep(0.3)
            rec.is_(round_trip(a, b"kids\n"), b"KIDS\n",
                    "SIGHUP to %d child processes: the session goes on"
                    % len(kids))
            rec.ok(srv.proc.poll() is None and not refused(srv.port),
                   "... and the server still accepts")
        srv.proc.send_signal(signal.SIGHUP)
        rec.ok(wait_for(lambda: refused(srv.port, srv.host), 10),
               "SIGHUP: new connects refused, as after SIGTERM")
        rec.is_(round_trip(a, b"after\n"), b"AFTER\n",
                "SIGHUP: the session in flight is still answered")
        a.sendall(b".\n")
        try:
            st = srv.proc.wait(sec + 20)
        except subprocess.TimeoutExpired:
            st = None
        rec.is_(st, 0, "SIGHUP: exit 0")
        rec.ok(srv.wait_line("^stopped$", 5) is not None,
               "SIGHUP: 'stopped' logged")
        a.close()
        srv.stop(signal.SIGKILL, 5)


def sighup_ignored(rec, model):
    """Started under nohup (SIGHUP ignored), the server keeps it so."""
    nohup = shutil.which("nohup")
    if nohup is None:
        rec.skip("SIGHUP under nohup", "no nohup")
        return
    with server(model, "--idle-timeout", "60", wrap=[nohup]) as srv:
        with beside(rec, srv, model, "SIGHUP under nohup"):
            for p in tree(srv.proc.pid):
                os.kill(p, signal.SIGHUP)
            time.sleep(0.3)
            s = connect(srv.port, srv.host)
            rec.is_(round_trip(s, b"still here\n"), b"STILL HERE\n",
                    "under nohup SIGHUP is ignored: a new client is served")
            s.close()
        finish(rec, srv, "SIGHUP under nohup")


def orphans(rec, model, n=3):
    """SIGKILL the server with sessions open: every child process it had
    is gone shortly after (PR_SET_PDEATHSIG)."""
    with server(model, "--idle-timeout", "60", "--max-clients", "0") as srv:
        pid = srv.proc.pid
        socks = [connect(srv.port, srv.host) for _ in range(n)]
        rec.is_(round_trip(socks[0], b"x\n"), b"X\n", "session served")
        # fork makes a child per session, a moment after the connect.
        wait_for(lambda: len(tree(pid)) > n, 2)
        kids = tree(pid)[1:]
        if not kids:
            rec.skip("children die with the parent", "no child processes")
            for s in socks:
                s.close()
            return
        srv.proc.kill()
        srv.proc.wait(10)

        def alive():
            return [k for k in kids if state(k) not in (None, "Z")]
        left = wait_for(lambda: not alive(), 10) or alive()
        rec.ok(left is True or not left, "SIGKILL of the parent: all %d "
               "children gone" % len(kids), ["still running: %r" % left])
        shut = sum(closed_by_peer(s, 10) for s in socks)
        rec.is_(shut, n, "their sessions are closed")
        for s in socks:
            s.close()
        srv.stop(signal.SIGKILL, 5)


def valgrind(rec, model):
    """A short session of every kind under valgrind (--trace-children=yes
    follows the process models' children): no error, no definite leak."""
    vg = shutil.which("valgrind")
    if vg is None:
        rec.skip("valgrind", "no valgrind")
        return
    if sanitizer():
        rec.skip("valgrind", "a sanitizer build (valgrind cannot run it)")
        return
    wrap = [vg, "-q", "--error-exitcode=1", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--trace-children=yes"]
    srv = server(model, "--drain", "2", "--idle-timeout", "20",
                 "--max-clients", "0", wrap=wrap, timeout=60)
    try:
        a = connect(srv.port, srv.host, timeout=30)
        lines = garbage_lines(64 * 1024, seed=7)[:40] + \
            [b"caf\xc3\xa9 \xef\xac\x81\n"]
        got = _pipeline(a, b"".join(lines), sum(len(expected(l))
                                                for l in lines), 60)
        rec.ok(got == b"".join(expected(l) for l in lines),
               "valgrind: replies right")
        a.sendall(b".\n")
        closed_by_peer(a, 30)
        a.close()
        b = connect(srv.port, srv.host, timeout=30)
        _sendall_quiet(b, b"x" * 70000)
        closed_by_peer(b, 30)
        b.close()
        c = connect(srv.port, srv.host, timeout=30)
        c.sendall(b"reset me")
        rst_close(c)
        d = connect(srv.port, srv.host, timeout=30)
        rec.is_(round_trip(d, b"open at exit\n", 30), b"OPEN AT EXIT\n",
                "valgrind: a session open at SIGTERM")
        st = srv.stop(signal.SIGTERM, 60)
        d.close()
        bad = [l for l in srv.errlines if l.startswith("==")]
        rec.is_(st, 0, "valgrind: exit 0, no error, no definite leak")
        rec.figure("valgrind_possibly_lost_records",
                   sum("possibly lost" in l for l in bad))
        if st != 0:
            for l in bad[:60]:
                rec.diag(l)
    finally:
        srv.stop(signal.SIGKILL, 5)
