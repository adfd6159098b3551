#!/usr/bin/env python3
"""bin/server's life, for every model --list-models prints.

Options: --help, --version, --list-models exit 0; bad usage exits 2; a
port in use exits 1 naming the address; --host ::1.  Signals: SIGTERM
and SIGINT exit 0, with no session and with an idle one (--drain 1);
while sessions drain, new clients are refused and a session in flight is
still answered, also after a SIGTERM to the whole process group; a
second signal ends the drain at once.  --idle-timeout
closes a silent session.  The session log lines, and --quiet.
"""

import os
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from socklab import TAP, bin, run, start_server, connect, recv_line  # noqa: E402
from servertest import (SANITIZER, models, per_model, Srv,  # noqa: E402
                        recv_until_eof, skip_unavailable)

# ---- local helpers (the shared ones are in tests/lib/servertest.py) -----


def refused(port, host="127.0.0.1"):
    try:
        s = socket.create_connection((host, port), timeout=2)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    s.close()
    return False


def wait_refused(port, timeout=3.0):
    """Poll until connect() is refused (a connection that still gets in
    is closed at once); bounded.  Returns the seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if refused(port):
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def signal_handled(pid, sig, timeout=5.0):
    """Wait until sig is no longer pending for process pid (its handler
    ran): /proc/PID/status ShdPnd.  Two signals sent before the first is
    handled would merge into one."""
    bit = 1 << (sig - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/status" % pid) as f:
                pend = [int(l.split()[1], 16) for l in f
                        if l.startswith(("ShdPnd:", "SigPnd:"))]
        except OSError:
            return True                 # gone
        if not any(p & bit for p in pend):
            return True
        time.sleep(0.005)
    return False


def clean(srv):
    return [l for l in srv.lines + srv.errlines if any(s in l for s in SANITIZER)]


def stop_timed(srv, sig, timeout):
    t0 = time.monotonic()
    st = srv.stop(sig, timeout)
    return st, time.monotonic() - t0


def opened(srv, port=None):
    """A client with one exchange done, so that the session is surely
    being served (a pooled or serial model may still have it queued)."""
    c = connect(port or srv.port)
    c.sendall(b"hi\n")
    if recv_line(c) != b"HI\n":
        raise AssertionError("no reply to 'hi'")
    return c


# ---- the checks, per model -----------------------------------------------

def check_stop_idle(rec, model):
    for sig in (signal.SIGTERM, signal.SIGINT):
        name = signal.Signals(sig).name
        srv = start_server(["server", "--model", model, "--port", "0",
                            "--quiet"])
        port = srv.port
        try:
            st, sec = stop_timed(srv, sig, 10)
        finally:
            srv.kill()
        rec.ok(st == 0 and not clean(srv), "%s with no session: exit 0 "
               "(%.2f s)" % (name, sec), ["exit status %r" % st] + clean(srv))
        rec.ok(refused(port), "after %s the port refuses connections" % name)

        # An idle session: it gets --drain 1, then is ended.
        srv = start_server(["server", "--model", model, "--port", "0",
                            "--quiet", "--drain", "1"])
        c = None
        try:
            c = opened(srv)
            st, sec = stop_timed(srv, sig, 1 + 9)
            rec.ok(st == 0 and not clean(srv), "%s with an idle session, "
                   "--drain 1: exit 0 within the drain + 9 s (%.2f s)" %
                   (name, sec), ["exit status %r" % st] + clean(srv))
            rec.ok(recv_until_eof(c) in (b"", b"<RESET>"),
                   "%s: the idle session is closed" % name)
        finally:
            srv.kill()
            if c:
                c.close()


def check_drain(rec, model):
    srv = start_server(["server", "--model", model, "--port", "0",
                        "--drain", "20"])
    try:
        c = opened(srv)
        srv.proc.send_signal(signal.SIGTERM)
        sec = wait_refused(srv.port)
        rec.ok(sec is not None, "after SIGTERM, new clients are refused "
               "while a session drains (%s s)" %
               ("%.3f" % sec if sec is not None else "never"))
        c.sendall(b"late\n")
        rec.is_(recv_line(c), b"LATE\n", "the session in flight is still "
                "answered after SIGTERM")
        c.sendall(b".\n")
        rec.is_(recv_until_eof(c), b"", "and ends with '.'")
        c.close()
        # No session left: it must not wait out --drain 20 (no second
        # signal here; we wait at most 10 s).
        t0 = time.monotonic()
        try:
            st = srv.proc.wait(10)
        except Exception:
            st = None
        sec = time.monotonic() - t0
        srv.stop()
        rec.ok(st == 0 and not clean(srv), "then, with no session left, "
               "it exits 0 without waiting out --drain 20 (%.2f s)" % sec,
               ["exit status %r" % st] + clean(srv))
        rec.ok(srv.wait_line("ended") is not None, "the drained session "
               "was logged as ended")
    finally:
        srv.kill()

    # A second signal ends the drain at once: --drain 30 but we wait 8 s.
    srv = start_server(["server", "--model", model, "--port", "0",
                        "--quiet", "--drain", "30"])
    try:
        c = opened(srv)
        srv.proc.send_signal(signal.SIGTERM)
        rec.ok(signal_handled(srv.proc.pid, signal.SIGTERM),
               "the first SIGTERM was handled")
        st, sec = stop_timed(srv, signal.SIGTERM, 8)
        rec.ok(st == 0 and not clean(srv), "a second SIGTERM ends a "
               "--drain 30 at once: exit 0 (%.2f s)" % sec,
               ["exit status %r" % st] + clean(srv))
        rec.ok(recv_until_eof(c) in (b"", b"<RESET>"),
               "and the session is closed")
        c.close()
    finally:
        srv.kill()


def check_group_drain(rec, model):
    """SIGTERM to the whole process group (timeout(1), systemd's
    KillMode=control-group, kill -- -PGID) drains like one to the server:
    children and threads take their stop from the main process."""
    setsid = shutil.which("setsid")
    if setsid is None:
        rec.skip("process-group SIGTERM drains", "no setsid(1)")
        return
    # setsid(1) execs the server in a group of its own: pid == pgid.
    srv = start_server([setsid, bin("server"), "--model", model, "--port",
                        "0", "--quiet", "--drain", "20"])
    try:
        c = opened(srv)
        os.killpg(srv.proc.pid, signal.SIGTERM)
        rec.ok(wait_refused(srv.port) is not None, "after a process-group "
               "SIGTERM new clients are refused")
        answered = 0
        try:
            for i in range(5):
                c.sendall(b"late %d\n" % i)
                if recv_line(c) != b"LATE %d\n" % i:
                    break
                answered += 1
        except OSError:
            pass
        rec.is_(answered, 5, "lines sent during the drain are answered "
                "(of 5)")
        c.close()
        try:
            st = srv.proc.wait(10)
        except Exception:
            st = None
        rec.ok(st == 0 and not clean(srv), "then it exits 0 with no "
               "session left", ["exit status %r" % st] + clean(srv))
    finally:
        srv.kill()


def check_idle_timeout(rec, model):
    with Srv(rec, model, "--idle-timeout", "1") as srv:
        silent = connect(srv.port)
        partial = connect(srv.port)
        try:
            port = silent.getsockname()[1]
            partial.sendall(b"no newline")
            rec.is_(recv_until_eof(silent), b"", "--idle-timeout 1: a silent "
                    "session is closed")
            line = srv.wait_line(r"127\.0\.0\.1:%d\b.*idle timeout" % port)
            rec.ok(line is not None, "its log line says 'idle timeout'",
                   ["log: %s" % srv.lines[-5:]])
            rec.is_(recv_until_eof(partial), b"", "--idle-timeout 1: a "
                    "session with half a line is closed too")
        finally:
            silent.close()
            partial.close()


def check_log(rec, model):
    with Srv(rec, model) as srv:
        c = connect(srv.port)
        port = c.getsockname()[1]
        try:
            c.sendall(b"x\n.\n")
            recv_until_eof(c)
        finally:
            c.close()
        rec.ok(srv.wait_line(r"^connected with 127\.0\.0\.1:%d \(pid \d+(, tid \d+)?\)$" % port),
               "log: 'connected with 127.0.0.1:%d'" % port, srv.lines[-5:])
        rec.ok(srv.wait_line("^session with 127\\.0\\.0\\.1:%d ended" % port),
               "log: 'session with 127.0.0.1:%d ended...'" % port,
               srv.lines[-5:])
    srv = start_server(["server", "--model", model, "--port", "0", "--quiet"])
    try:
        c = connect(srv.port)
        c.sendall(b"x\n.\n")
        recv_until_eof(c)
        c.close()
    finally:
        st = srv.stop()
    noisy = [l for l in srv.lines[1:] if "connected" in l or "session" in l]
    rec.ok(st == 0 and not noisy, "--quiet: no session log lines",
           ["exit %r; %s" % (st, noisy)])


def check_ipv6(rec, model):
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(("::1", 0))
    except OSError as e:
        rec.skip("--host ::1", "no IPv6 loopback here: %s" % e)
        return
    srv = start_server(["server", "--model", model, "--host", "::1",
                        "--port", "0", "--drain", "1"])
    try:
        rec.is_(srv.host, "::1", "--host ::1: listening on [::1]:PORT")
        c = connect(srv.port, host="::1")
        port = c.getsockname()[1]
        c.sendall(b"sei\n.\n")
        rec.is_(recv_until_eof(c), b"SEI\n", "--host ::1: served over IPv6")
        c.close()
        rec.ok(srv.wait_line(r"^connected with \[::1\]:%d \(pid \d+(, tid \d+)?\)$" % port),
               "log: 'connected with [::1]:%d'" % port, srv.lines[-3:])
    finally:
        st = srv.stop()
    rec.ok(st == 0 and not clean(srv), "--host ::1: exits 0 on SIGTERM",
           ["exit status %r" % st] + clean(srv) + srv.errlines[-5:])


def port_in_use(model, port, timeout=5):
    """(status, stderr) of a server started on a port that is taken,
    or (None, '') if it did not exit within timeout."""
    try:
        st, out, err, _ = run(["server", "--model", model, "--port",
                               str(port), "--quiet"], timeout=timeout)
    except Exception:
        return None, ""
    return st, err.decode(errors="replace")


def check_port_in_use(rec, model):
    with socket.socket() as s:          # a plain listener, no SO_REUSEPORT
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        st, err = port_in_use(model, port)
    addr = "127.0.0.1:%d" % port
    rec.ok(st == 1 and addr in err, "port in use (by another program): "
           "exit 1, the message names %s" % addr,
           ["exit %r, stderr %r" % (st, err)])


# These need no persistent session: they apply to one-shot models too.
check_port_in_use.oneshot_ok = True
check_ipv6.oneshot_ok = True


def check_usage(t):
    for args, what in ((["--help"], "usage"), (["--version"], "socklab"),
                       (["--list-models"], "iterative")):
        st, out, err, _ = run(["server"] + args)
        t.ok(st == 0 and what in out.decode(), "%s: exit 0, '%s' on stdout"
             % (args[0], what))
    # The table for programs names the same models, with their traits.
    st, out, err, _ = run(["server", "--list-models=tsv"])
    rows = [l.split("\t") for l in out.decode().splitlines()]
    t.ok(st == 0 and rows and rows[0][0] == "name" and
         rows[0][-1] == "what" and "serial" in rows[0] and
         all(len(r) == len(rows[0]) for r in rows),
         "--list-models=tsv: a header, and as many columns in every row")
    t.is_([r[0] for r in rows[1:]], models()[1],
          "--list-models=tsv: the models of --list-models, in order")
    for args in (["--bogus"], ["--port"], ["--port", "abc"],
                 ["--port", "70000"], ["--port", "-1"], ["--model", "nosuch"],
                 ["--max-line", "0"], ["--max-clients", "x"],
                 ["--backlog", "1e3"], ["--idle-timeout", "-1"],
                 ["extra"], ["-m"], ["--list-models=csv"]):
        st, out, err, _ = run(["server", "--port", "0"] + args, timeout=10)
        t.ok(st == 2 and err.strip() and b"listening" not in out,
             "bad usage %s: exit 2 and a message" % " ".join(args))
        if st != 2:
            t.diag("exit %r, stdout %r, stderr %r" % (st, out[:200], err[:200]))


def check_same_port_same_model(t, names):
    """Two servers of one model on one port: the second must say the port
    is in use.  reuseport sets SO_REUSEPORT, with which the kernel would
    let a second reuseport server share the port: the server must refuse."""
    for model in names:
        srv = start_server(["server", "--model", model, "--port", "0",
                            "--quiet", "--drain", "1"])
        try:
            st, err = port_in_use(model, srv.port, timeout=3)
        finally:
            srv.stop()
        t.ok(st == 1, "%s: port in use by another %s server: exit 1" %
             (model, model))
        if st != 1:
            t.diag("exit %r, stderr %r" % (st, err))


def main():
    t = TAP()
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    t.diag("models: " + " ".join(names))
    check_usage(t)
    per_model(t, names, check_port_in_use)
    check_same_port_same_model(t, skip_unavailable(t, names, "port in use "
                                                   "by the same model"))
    per_model(t, names, check_ipv6)
    per_model(t, names, check_log)
    per_model(t, names, check_stop_idle)
    per_model(t, names, check_drain)
    per_model(t, names, check_group_drain)
    per_model(t, names, check_idle_timeout)
    t.done()


if __name__ == "__main__":
    main()
