#!/usr/bin/env python3
"""The event-driven models, epoll, reuseport and io_uring: what the end-to-end
suite does not see.  Backpressure (a client that never reads cannot grow
the server), fairness (a pipelining client does not starve another),
the worker count, 2,000 sessions at once, the idle timeout, half-close,
--max-clients, running out of descriptors, and SIGTERM."""
import os
import re
import resource
import selectors
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, connect, recv_line
from servertest import models_with, skip_unavailable
from stress_lib import memory_env, memory_skip

# recv_line and the bursts below run in threads: switch often, so that
# the GIL does not add its own 5 ms to the round trips we compare.
sys.setswitchinterval(0.0005)

t = TAP()
if not have("server"):
    t.bail("%s is not built (make)" % bin("server"))
MODELS = tuple(skip_unavailable(t, models_with("event"), "event checks"))
MiB = 1 << 20


SERVERS = []


def started(args, env=None):
    srv = start_server(args, env=env)
    SERVERS.append(srv)
    return srv


def server(model, *extra, env=None):
    return started(["server", "--model", model, "--port", "0", "--quiet"] +
                   list(extra), env)


# Memory checks run with a small ASan quarantine (stress_lib.memory_env).
MEMORY_ENV = memory_env()


def check_sanitizers():
    """Under SANITIZE= builds, a report goes to stderr and may not change
    what the clients see."""
    bad = [l for srv in SERVERS for l in srv.errlines
           if "Sanitizer" in l or "runtime error" in l]
    t.ok(not bad, "no sanitizer report from any of %d servers" % len(SERVERS))
    for l in bad[:20]:
        t.diag(l)


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def rss(pid):
    return status(pid, "VmRSS") * 1024


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])    # utime + stime


def settle(cond, timeout=10.0):
    """Poll cond() until true or timeout; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


def recv_all(s, timeout=20.0):
    """Everything until EOF (or until the timeout, or a reset)."""
    s.settimeout(timeout)
    parts = []
    try:
        while True:
            b = s.recv(MiB)
            if not b:
                break
            parts.append(b)
    except OSError:
        pass
    return b"".join(parts)


def closed_by_peer(s, timeout=10.0):
    """True if the server closes s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


def ping(port, word=b"ping"):
    with connect(port) as s:
        s.sendall(word + b"\n")
        return recv_line(s) == word.upper() + b"\n"


LINE = b"abcdefghij" * 10 + b"\n"


# --- backpressure ----------------------------------------------------------
def check_backpressure(model):
    """A client pipelines up to 50 MB and reads nothing.  The server stops
    reading it, so the sends stall, and its memory stays within a few
    times --max-output (the default, 1 MiB); meanwhile another client is
    served.  Then the client reads: every reply is there."""
    with server(model, "--workers", "2", env=MEMORY_ENV) as srv:
        t.ok(ping(srv.port, b"warm"), "%s: served before the burst" % model)
        base = rss(srv.proc.pid)
        a = connect(srv.port)
        a.settimeout(1.0)
        chunk = LINE * 10000
        sent, t0 = 0, time.monotonic()
        while sent < 50 * MiB and time.monotonic() - t0 < 20:
            try:
                sent += a.send(chunk)
            except socket.timeout:
                break       # a second without progress: we are stalled
        grown = rss(srv.proc.pid) - base
        t.diag("%s: sent %.1f MB before stalling, RSS grew %.2f MB" %
               (model, sent / 1e6, grown / 1e6))
        t.ok(sent < 50 * MiB, "%s: a client that does not read is not "
             "read from (its sends stall)" % model)
        if memory_skip():
            t.skip("%s: server memory within 8 x --max-output" % model,
                   memory_skip())
        else:
            t.ok(grown < 8 * MiB, "%s: server memory grew %.2f MB < 8 x "
                 "--max-output" % (model, grown / 1e6))
        t.ok(ping(srv.port), "%s: another client is served meanwhile" % model)
        a.shutdown(socket.SHUT_WR)
        got = recv_all(a)
        a.close()
        whole = sent - sent % len(LINE)
        t.ok(len(got) == whole and got[:len(LINE)] == LINE.upper() and
             got[-len(LINE):] == LINE.upper(),
             "%s: once it reads, all %d bytes of replies arrive (got %d)" %
             (model, whole, len(got)))


# --- fairness --------------------------------------------------------------
def check_fairness(model):
    """Client A pipelines 2-byte lines (up to 30 MB) while reading its
    replies; B does 50 round trips meanwhile, and A stops once B is done.
    An event loop that served A until its socket ran dry would hold B
    until A gave up.  --max-output is large so that backpressure, which
    would also give B a turn, stays out of it: only the per-turn budget
    lets B in."""
    total, want = 30 * MiB, 50
    with server(model, "--workers", "1", "--max-output",
                str(256 * MiB)) as srv:
        a = connect(srv.port, timeout=30)
        st = {"first": None, "end": None, "got": 0, "sent": 0,
              "b_done": None}
        chunk = b"ab\n" * 100000

        def writer():
            try:
                while st["sent"] < total and st["b_done"] is None:
                    a.sendall(chunk)
                    st["sent"] += len(chunk)
                a.shutdown(socket.SHUT_WR)
            except OSError as e:
                st["werr"] = e

        def reader():
            try:
                while True:
                    b = a.recv(MiB)
                    if not b:
                        break
                    if st["first"] is None:
                        st["first"] = time.monotonic()
                    st["got"] += len(b)
            except OSError as e:
                st["rerr"] = e
            st["end"] = time.monotonic()

        tw = threading.Thread(target=writer, daemon=True)
        tr = threading.Thread(target=reader, daemon=True)
        tw.start()
        tr.start()
        settle(lambda: st["first"] is not None or st["end"] is not None)
        rts = []
        with connect(srv.port) as b:
            while st["end"] is None and len(rts) < want:
                t0 = time.monotonic()
                b.sendall(b"ping\n")
                if recv_line(b, timeout=30) != b"PING\n":
                    break
                rts.append(time.monotonic() - t0)
        st["b_done"] = time.monotonic()
        tw.join(60)
        tr.join(60)
        a.close()
        t.is_(st["got"], st["sent"], "%s: the burst is answered "
              "whole" % model)
        if st["end"] is None or st["first"] is None or not rts:
            t.ok(False, "%s: fairness measured" % model)
            return
        dur = st["end"] - st["first"]
        med = sorted(rts)[len(rts) // 2]
        t.diag("%s: burst %.3f s, %.1f MB; %d round trips of B during it, "
               "median %.4f s, longest %.4f s" % (model, dur, st["sent"] / 1e6,
                                                 len(rts), med, max(rts)))
        t.ok(len(rts) == want and st["b_done"] < st["end"],
             "%s: B completes %d round trips while A's burst goes on" %
             (model, len(rts)))
        # The median, as a noisy machine may stall any one of them.
        t.ok(med < dur / 10, "%s: B's median round trip is a small part of "
             "the burst (%.2f%%)" % (model, 100 * med / dur))


# --- workers ---------------------------------------------------------------
def listeners(port):
    """Listening TCP sockets on port, from /proc/net/tcp{,6}."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if (fields[3] == "0A" and
                            int(fields[1].rsplit(":", 1)[1], 16) == port):
                        n += 1
        except OSError:
            pass
    return n


def threads(pid):
    """The names of pid's threads."""
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def workers(pid, want):
    """How many threads named "worker N" pid has, once it is want (they
    start after the 'listening on' line) or after a while.  Named, as a
    sanitizer may add a thread of its own."""
    n = lambda: sum(1 for c in threads(pid) if re.match(r"worker \d+$", c))
    settle(lambda: n() == want, 5)
    return n()


def check_workers():
    with server("reuseport", "--workers", "3") as srv:
        pid = srv.proc.pid
        t.is_(workers(pid, 3), 3, "reuseport --workers 3: three worker "
              "threads")
        settle(lambda: listeners(srv.port) == 3, 5)
        t.is_(listeners(srv.port), 3, "reuseport --workers 3: three "
              "SO_REUSEPORT listeners on port %d" % srv.port)
        t.ok(all(ping(srv.port, b"w%d" % i) for i in range(30)),
             "reuseport: 30 clients in turn are all served")
    ncpu = os.cpu_count() or 1
    with server("reuseport") as srv:
        t.is_(workers(srv.proc.pid, ncpu), ncpu,
              "reuseport: --workers defaults to the CPU count (%d)" % ncpu)
    with server("epoll") as srv:
        t.ok(ping(srv.port) and len(threads(srv.proc.pid)) == 1,
             "epoll: one thread")


# --- many sessions ---------------------------------------------------------
def enough_fds(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 200
    if soft >= want:
        return True
    if hard != resource.RLIM_INFINITY and hard < want:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return True


def check_many(model, n=2000):
    if not enough_fds(n):
        t.skip("%s: %d sessions at once" % (model, n), "descriptor limit")
        return
    with server(model, "--backlog", "4096", "--workers", "2") as srv:
        pid = srv.proc.pid
        # Once a session is served all workers are up; it stays open, so
        # that the count does not move when it ends.
        warm = connect(srv.port)
        warm.sendall(b"warm\n")
        recv_line(warm)
        base = nfds(pid)
        socks = []
        try:
            for i in range(n):
                socks.append(connect(srv.port, timeout=30))
            held = settle(lambda: nfds(pid) - base >= n, 30) and nfds(pid) - base
            t.is_(held, n, "%s: %d sessions open at once" % (model, n))
            for i, s in enumerate(socks):
                s.sendall(b"client %d\n" % i)
            sel = selectors.DefaultSelector()
            for i, s in enumerate(socks):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, [i, b""])
            good, left = 0, n
            deadline = time.monotonic() + 30
            while left and time.monotonic() < deadline:
                for key, _ in sel.select(1.0):
                    i, acc = key.data
                    try:
                        b = key.fileobj.recv(4096)
                    except BlockingIOError:
                        continue
                    acc += b
                    key.data[1] = acc
                    if not b or acc.endswith(b"\n"):
                        good += acc == b"CLIENT %d\n" % i
                        left -= 1
                        sel.unregister(key.fileobj)
            sel.close()
            t.is_(good, n, "%s: all %d sessions answered, each its own "
                  "reply" % (model, n))
        finally:
            for s in socks:
                s.close()
        t.ok(settle(lambda: nfds(pid) == base), "%s: every descriptor "
             "is closed again (%d open, %d before)" % (model, nfds(pid), base))
        warm.sendall(b"still\n")
        t.ok(recv_line(warm) == b"STILL\n" and ping(srv.port),
             "%s: still serving" % model)
        warm.close()
        # Under the sanitizers a leak makes the exit status non-zero.
        t.is_(srv.stop(), 0, "%s: exits 0 after them" % model)


# --- idle timeout ----------------------------------------------------------
def check_idle(model):
    with started(["server", "--model", model, "--port", "0",
                  "--idle-timeout", "1", "--workers", "2"]) as srv:
        silent = connect(srv.port)
        slow = connect(srv.port)
        busy = connect(srv.port)
        stop = threading.Event()
        res = {"busy": 0, "busy_err": None}

        def slowloris():
            # One byte at a time, never a whole line.
            for _ in range(200):
                if stop.is_set():
                    break
                try:
                    slow.send(b"x")
                except OSError:
                    break
                time.sleep(0.1)

        def chatty():
            # Completes a line every 50 ms or so: its clock keeps
            # restarting, so it must outlive all the others.
            while not stop.is_set():
                try:
                    busy.sendall(b"still here\n")
                    if recv_line(busy) != b"STILL HERE\n":
                        raise ValueError("wrong reply")
                    res["busy"] += 1
                except (OSError, ValueError) as e:
                    res["busy_err"] = repr(e)
                    break
                stop.wait(0.05)

        ths = [threading.Thread(target=f, daemon=True)
               for f in (slowloris, chatty)]
        for th in ths:
            th.start()
        # deaf pipelines and reads nothing: once its replies back up, it
        # completes no line either.
        deaf = connect(srv.port)
        deaf.settimeout(0.5)
        try:
            for _ in range(100):
                deaf.send(LINE * 1000)
        except OSError:
            pass
        t.ok(closed_by_peer(silent, 15), "%s --idle-timeout 1: a silent "
             "client is closed" % model)
        t.ok(closed_by_peer(slow, 15), "%s: so is one sending a line a byte "
             "at a time" % model)
        t.ok(srv.wait_line(r"ended: \d+ lines, client not reading", 15)
             is not None, "%s: and one that does not read its replies "
             "('client not reading')" % model)
        t.ok(srv.wait_line("ended: 0 lines, idle timeout") is not None,
             "%s: the log says 'idle timeout'" % model)
        stop.set()
        for th in ths:
            th.join(15)
        try:
            busy.sendall(b"after\n")
            after = recv_line(busy)
        except OSError as e:
            after = repr(e)
        t.ok(res["busy_err"] is None and res["busy"] > 0 and
             after == b"AFTER\n", "%s: a client completing lines stays "
             "meanwhile (%d lines, error %s, then %r)" %
             (model, res["busy"], res["busy_err"], after))
        for s in (silent, slow, busy, deaf):
            s.close()


# --- half-close ------------------------------------------------------------
def queues(local, remote):
    """(send queue, receive queue) in bytes of the TCP socket local ->
    remote on loopback, from /proc/net/tcp{,6}; (-1, -1) if not found."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if (int(fields[1].rsplit(":", 1)[1], 16) == local and
                            int(fields[2].rsplit(":", 1)[1], 16) == remote):
                        tx, rx = fields[4].split(":")
                        return int(tx, 16), int(rx, 16)
        except OSError:
            pass
    return -1, -1


def wmem_max():
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * MiB


def check_half_close(model):
    # The server's send buffer may grow to tcp_wmem's maximum; --max-output
    # is large so that it never stops reading us.
    big = min(wmem_max(), 32 * MiB) + 4 * MiB
    with server(model, "--workers", "2", "--max-output", str(2 * big)) as srv:
        with connect(srv.port) as s:
            s.sendall(b"last words\n")
            s.shutdown(socket.SHUT_WR)
            t.is_(recv_all(s), b"LAST WORDS\n", "%s: a client that "
                  "half-closes after its line gets the reply" % model)
        # A client that reads nothing until it has sent more than the
        # kernel buffers between us hold, and half-closed: replies are
        # still in the server when the EOF comes; they go out before the
        # close.  (The sender is a thread, lest a stall deadlock the test.)
        data = LINE * (big // len(LINE))
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(30)
        s.connect((srv.host, srv.port))
        sent = threading.Event()

        def send():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                sent.set()
            except OSError:
                pass
        th = threading.Thread(target=send, daemon=True)
        th.start()
        t.ok(sent.wait(30), "%s: %.1f MB sent without reading" %
             (model, len(data) / 1e6))
        # Read only once the server has taken in everything we sent: it
        # sees the EOF while its replies wait.
        me = s.getsockname()[1]
        settle(lambda: queues(me, srv.port)[0] == 0 and
               queues(srv.port, me)[1] == 0)
        got = recv_all(s, 30)
        th.join(30)
        s.close()
        t.ok(got == data.upper(), "%s: all its replies arrive after the "
             "half-close (%d of %d bytes)" % (model, len(got), len(data)))
        with connect(srv.port) as s:
            s.sendall(b"a\n.\nnever\n")
            t.is_(recv_all(s), b"A\n", "%s: '.' ends the session after "
                  "the replies before it" % model)


# --- limits ----------------------------------------------------------------
def check_limits(model):
    with server(model, "--max-clients", "2", "--max-line", "16",
                "--workers", "2") as srv:
        # reuseport's workers bind their listeners after 'listening on'.
        settle(lambda: listeners(srv.port) == (2 if model == "reuseport"
                                               else 1))
        idle = nfds(srv.proc.pid)
        # First, alone: the slots below free up only as the server sees
        # each close, which a new client could overtake.
        with connect(srv.port) as s:
            s.sendall(b"x" * 40 + b"\n")
            t.is_(recv_all(s), b"ERR line too long (max 16 bytes)\n",
                  "%s --max-line 16: the ERR line, then the close" % model)
        # The server lingers after the ERR line until it sees our close:
        # wait for it to let go of that session before counting slots.
        if not settle(lambda: nfds(srv.proc.pid) <= idle):
            t.diag("%s: still %d descriptors, %d when idle" %
                   (model, nfds(srv.proc.pid), idle))
        a, b = connect(srv.port), connect(srv.port)
        ok = True
        for s in (a, b):
            s.sendall(b"hi\n")
            ok = ok and recv_line(s) == b"HI\n"
        t.ok(ok, "%s --max-clients 2: two clients are served" % model)
        with connect(srv.port) as c:
            t.is_(recv_all(c), b"ERR server busy\n", "%s --max-clients 2: "
                  "the third client is told and closed" % model)
        a.close()
        # The slot frees once the server has seen a close: retry a while.
        t.ok(settle(lambda: ping(srv.port)), "%s: a slot freed is "
             "given to the next client" % model)
        b.close()


def check_emfile(model):
    """With 64 descriptors, 100 clients: accept() fails with EMFILE.  The
    loop stops watching the listener for a while instead of spinning,
    keeps serving the sessions it has, and accepts again once some end."""
    sh = ["/bin/sh", "-c", 'ulimit -n 64 && exec "$0" "$@"', bin("server"),
          "--model", model, "--port", "0", "--quiet", "--workers", "1",
          "--backlog", "256"]
    with started(sh) as srv:
        socks = [connect(srv.port) for _ in range(100)]
        t.ok(srv.wait_line("Too many open files", err=True) is not None,
             "%s at 64 descriptors: accept fails, and says so" % model)
        ticks0, w0 = cpu_ticks(srv.proc.pid), time.monotonic()
        socks[0].sendall(b"served\n")
        first = recv_line(socks[0])
        time.sleep(1.0)     # the window over which CPU time is measured
        busy = (cpu_ticks(srv.proc.pid) - ticks0) / \
            os.sysconf("SC_CLK_TCK") / (time.monotonic() - w0)
        t.is_(first, b"SERVED\n", "%s: sessions are served meanwhile" % model)
        t.ok(busy < 0.3, "%s: no busy loop without descriptors (CPU %.0f%% "
             "of one core)" % (model, 100 * busy))
        for s in socks[:50]:
            s.close()
        ok = 0
        deadline = time.monotonic() + 20
        for i, s in enumerate(socks[50:]):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                s.sendall(b"late %d\n" % i)
                ok += recv_line(s, timeout=left) == b"LATE %d\n" % i
            except OSError:
                pass
        t.is_(ok, 50, "%s: once descriptors free up, the clients that "
              "waited are served" % model)
        for s in socks[50:]:
            s.close()


# --- shutdown --------------------------------------------------------------
def refused(port):
    try:
        connect(port, timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def check_sigterm(model):
    # The drain must outlast seeing the refusal: under TSan and a busy
    # machine that took most of a 1 s drain, and "during" came too late.
    srv = server(model, "--drain", "4", "--workers", "2")
    s = connect(srv.port)
    s.sendall(b"before\n")
    recv_line(s)
    srv.proc.send_signal(signal.SIGTERM)
    t.ok(settle(lambda: refused(srv.port)), "%s: after SIGTERM new clients "
         "are refused" % model)
    s.sendall(b"during\n")
    t.is_(recv_line(s), b"DURING\n", "%s: a session in flight is still "
          "served while it drains" % model)
    t.ok(closed_by_peer(s), "%s: and closed when the drain is over" % model)
    s.close()
    t.is_(srv.stop(), 0, "%s: SIGTERM exits 0" % model)

    srv = server(model, "--drain", "30", "--workers", "2")
    with connect(srv.port) as s:
        s.sendall(b"bye\n.\n")
        recv_all(s)
    # No session left: it must not wait the 30 s of --drain.
    t.is_(srv.stop(timeout=10), 0, "%s: with no session left it exits at "
          "once, status 0" % model)


for m in MODELS:
    check_backpressure(m)
for m in ("epoll", "io_uring"):     # one loop each
    if m in MODELS:
        check_fairness(m)
check_workers()
for m in MODELS:
    check_many(m)
    check_idle(m)
    check_half_close(m)
    check_limits(m)
    check_sigterm(m)
for m in MODELS:
    check_emfile(m)
for srv in SERVERS:
    srv.stop()
check_sanitizers()
t.done()
