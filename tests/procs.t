#!/usr/bin/env python3
"""procs.t - bin/server --procs N (servers/procs.c, lib/supervise.c) and
the descriptor limit.  For every model --list-models=tsv marks "procs":
sessions are served by several worker processes (distinct pids in the
session log), each its own listener; the sessions each served are
reported on exit and add up; SIGTERM drains and exits 0 with no worker
left; a killed worker is reported and replaced.  The others refuse
--procs (exit 2, one line).  Under a low descriptor limit (ulimit -n,
soft and hard): a --max-clients that one process cannot hold is refused
at start, naming the --procs that would; one that fits tells the clients
past it "ERR server busy", never EMFILE; with no limit, EMFILE stays a
pause, not a busy loop, in every worker."""

import os
import re
import selectors
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
from socklab import TAP, bin, connect, recv_line, run, start_server  # noqa
from servertest import SANITIZER, model_traits, skip_unavailable  # noqa
from stress_lib import connect_many  # noqa: E402

CONNECTED = re.compile(r"^connected with \S+ \(pid (\d+)")
REPORT = re.compile(r"^worker (\d+) \(pid (\d+)\): (\d+) sessions?"
                    r"(?:, (\d+) restarts?)?$")
BUSY = b"ERR server busy\n"
NOFILE = 64

t = TAP()
TRAITS = model_traits()
PROCS = skip_unavailable(t, [m for m, tr in TRAITS.items() if "procs" in tr],
                         "--procs")
OTHERS = [m for m, tr in TRAITS.items() if "procs" not in tr]
SERVERS = []


def server(model, *extra, limit=None):
    """The server, under ulimit -n limit if given (soft and hard: raising
    the soft limit to the hard one cannot get past it)."""
    args = [bin("server"), "--model", model, "--port", "0",
            "--workers", "1"] + list(extra)
    if limit is not None:
        args = ["/bin/sh", "-c", 'ulimit -n %d && exec "$0" "$@"' % limit] \
            + args
    srv = start_server(args)
    SERVERS.append(srv)
    return srv


def stat(pid):
    """(state, ppid, cpu ticks) of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return rest[0], int(rest[1]), int(rest[11]) + int(rest[12])


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        st = stat(int(d)) if d.isdigit() else None
        if st is not None and st[1] == pid and st[0] not in "ZX":
            kids.append(int(d))
    return sorted(kids)


def alive(pid):
    st = stat(pid)
    return st is not None and st[0] not in "ZX"


def settle(cond, timeout=10.0):
    """Poll cond() (state in /proc has no readiness signal), bounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


def refused(port):
    try:
        connect(port, timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def report(srv):
    return [(int(m.group(1)), int(m.group(2)), int(m.group(3)),
             int(m.group(4) or 0))
            for m in map(REPORT.match, srv.lines) if m]


def sessions(port, n):
    """n sessions open at once, each one round trip; how many answered."""
    socks = connect_many(port, n)
    ok = 0
    for i, s in enumerate(socks):
        s.sendall(b"hello %d\n" % i)
    for i, s in enumerate(socks):
        ok += recv_line(s) == b"HELLO %d\n" % i
    for s in socks:
        s.sendall(b".\n")
        s.close()
    return ok


def check_spread(model, n=3, clients=40):
    srv = server(model, "--procs", str(n), "--drain", "4")
    kids = settle(lambda: len(children(srv.proc.pid)) == n and
                  children(srv.proc.pid))
    t.is_(len(kids or []), n, "%s --procs %d: %d worker processes" %
          (model, n, n))
    t.is_(sessions(srv.port, clients), clients, "%s --procs %d: %d "
          "sessions at once, all answered" % (model, n, clients))
    seen = srv.wait_count(CONNECTED.pattern, clients)
    pids = {int(CONNECTED.match(l).group(1)) for l in seen}
    t.ok(len(pids) >= 2 and pids <= set(kids or []), "%s: served by %d "
         "distinct worker pids, children of the parent (%r)" %
         (model, len(pids), sorted(pids)))

    # SIGTERM with a session in flight: refused at once, still served,
    # closed at the end of the drain, exit 0, no worker left.
    s = connect(srv.port)
    s.sendall(b"before\n")
    recv_line(s)
    srv.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    t.ok(settle(lambda: refused(srv.port)), "%s: after SIGTERM new clients "
         "are refused" % model)
    s.sendall(b"during\n")
    if not t.is_(recv_line(s), b"DURING\n", "%s: a session in flight is "
                 "still served while the workers drain" % model):
        t.diag("refused after %.1f s; log %r %r" % (
            time.monotonic() - t0, srv.lines[-6:], srv.errlines))
    s.close()
    t.is_(srv.stop(), 0, "%s --procs: SIGTERM exits 0" % model)
    opened = len([l for l in srv.lines if CONNECTED.match(l)])
    t.ok(not [p for p in kids or [] if alive(p)], "%s: no worker process "
         "left behind" % model)
    rep = report(srv)
    t.is_(sorted(r[0] for r in rep), list(range(n)), "%s: a report line per "
          "worker on exit" % model)
    # The probes for the refusal may have been served too: count the log.
    t.is_(sum(r[2] for r in rep), opened, "%s: the sessions reported add up "
          "to those the log shows (%s)" % (model, [r[2] for r in rep]))
    t.is_({r[1] for r in rep}, set(kids or []), "%s: the report names the "
          "workers' pids" % model)


def check_killed(model):
    srv = server(model, "--procs", "2", "--quiet")
    kids = settle(lambda: len(children(srv.proc.pid)) == 2 and
                  children(srv.proc.pid)) or [0]
    os.kill(kids[0], signal.SIGKILL)
    line = srv.wait_line(r"worker \d \(pid %d\) killed by signal 9; "
                         r"starting another" % kids[0], err=True)
    t.ok(line is not None, "%s: a killed worker is reported" % model)
    again = settle(lambda: len(children(srv.proc.pid)) == 2 and
                   kids[0] not in children(srv.proc.pid))
    t.ok(again, "%s: and another takes its place" % model)
    t.is_(sessions(srv.port, 10), 10, "%s: sessions are served after it" %
          model)
    t.is_(srv.stop(), 0, "%s: exit 0" % model)
    t.ok(not [p for p in children(srv.proc.pid)], "%s: no worker left" %
         model)


def check_refused(model):
    st, out, err, _ = run(["server", "--model", model, "--procs", "2",
                           "--port", "0"])
    lines = err.decode().splitlines()
    t.ok(st == 2 and len(lines) == 1 and "--procs" in lines[0],
         "%s: --procs refused, exit 2, one line (%r, %r)" % (model, st, lines))


def limited(args, limit=NOFILE):
    return run(["/bin/sh", "-c", 'ulimit -n %d && exec "$0" "$@"' % limit,
                bin("server"), "--port", "0", "--workers", "1"] + args)


def check_start_limit(model):
    """At ulimit -n 64 a process holds a few dozen sessions: 100 are too
    many for one, and for two; three take them."""
    for extra, procs in (([], 1), (["--procs", "2"], 2)):
        st, out, err, _ = limited(["--model", model, "--max-clients", "100"]
                                  + extra)
        lines = err.decode().splitlines()
        t.ok(st == 2 and len(lines) == 1 and "RLIMIT_NOFILE %d" % NOFILE
             in lines[0] and "--procs 3" in lines[0], "%s --procs %d "
             "--max-clients 100 at %d descriptors: refused at start, exit 2, "
             "one line naming --procs 3 (%r, %r)" % (model, procs, NOFILE,
                                                     st, lines))
    srv = server(model, "--procs", "3", "--max-clients", "100", "--quiet",
                 limit=NOFILE)
    t.is_(sessions(srv.port, 5), 5, "%s --procs 3 --max-clients 100 at %d "
          "descriptors: starts and serves" % (model, NOFILE))
    t.is_(srv.stop(), 0, "%s: exit 0" % model)


def busy_split(port, n, quiet=0.5, timeout=20.0):
    """n clients at once: (served, busy), those told "ERR server busy"
    found as their message comes, the others each one round trip."""
    socks = connect_many(port, n)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    busy, deadline, last = set(), time.monotonic() + timeout, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet:
        for key, _ in sel.select(0.05):
            sel.unregister(key.fileobj)
            if recv_line(key.fileobj) == BUSY:
                busy.add(key.fileobj)
            last = time.monotonic()
    served = 0
    for s in socks:
        if s not in busy:
            s.sendall(b"in\n")
            served += recv_line(s) == b"IN\n"
    for s in socks:
        s.close()
    return served, len(busy)


def check_busy(model):
    """--max-clients that the descriptors hold: past it, "ERR server
    busy", and never EMFILE."""
    for procs, m, n in ((1, 30, 50), (2, 40, 70)):
        srv = server(model, "--procs", str(procs), "--max-clients", str(m),
                     "--quiet", "--backlog", "256", limit=NOFILE)
        served, busy = busy_split(srv.port, n)
        name = "%s --procs %d --max-clients %d at %d descriptors, %d " \
            "clients" % (model, procs, m, NOFILE, n)
        if procs == 1:
            t.is_((served, busy), (m, n - m), name + ": %d served, the "
                  "others told busy" % m)
        else:
            # Each takes m / procs; the kernel's hash decides who gets which.
            t.ok(served + busy == n and served <= m and busy >= n - m,
                 name + ": at most %d served, the others told busy "
                 "(%d, %d)" % (m, served, busy))
        emfile = [l for l in srv.errlines if "Too many open files" in l]
        t.is_(emfile, [], name + ": no EMFILE")
        t.is_(srv.stop(), 0, name + ": exit 0")


def check_emfile(model, clients=150):
    """--max-clients 0 past the descriptors: each worker pauses its
    accepts (EMFILE), serves its sessions meanwhile, and does not spin."""
    srv = server(model, "--procs", "2", "--max-clients", "0", "--quiet",
                 "--backlog", "256", limit=NOFILE)
    kids = children(srv.proc.pid)
    socks = connect_many(srv.port, clients)
    t.ok(srv.wait_line("Too many open files", err=True) is not None,
         "%s --procs 2, %d clients at %d descriptors: accept fails with "
         "EMFILE, and says so" % (model, clients, NOFILE))
    ticks = lambda: sum((stat(p) or (0, 0, 0))[2] for p in kids)  # noqa
    c0, w0 = ticks(), time.monotonic()
    socks[0].sendall(b"served\n")
    first = recv_line(socks[0])
    time.sleep(1.0)     # the window over which CPU time is measured
    busy = (ticks() - c0) / os.sysconf("SC_CLK_TCK") / \
        (time.monotonic() - w0)
    t.is_(first, b"SERVED\n", "%s: sessions are served meanwhile" % model)
    t.ok(busy < 0.3, "%s: no busy loop in the workers without descriptors "
         "(CPU %.0f%% of one core)" % (model, 100 * busy))
    for s in socks:
        s.close()
    t.ok(settle(lambda: sessions(srv.port, 1) == 1, 20), "%s: a new client "
         "is served once they leave" % model)
    t.is_(srv.stop(), 0, "%s: exit 0" % model)


for m in OTHERS:
    check_refused(m)
for m in PROCS:
    check_spread(m)
    check_killed(m)
    check_start_limit(m)
    check_busy(m)
    check_emfile(m)
bad = [l for srv in SERVERS for l in srv.errlines
       if any(s in l for s in SANITIZER)]
t.ok(not bad, "no sanitizer report from any of %d servers" % len(SERVERS))
for l in bad[:20]:
    t.diag(l)
t.done()
