#!/usr/bin/env python3
# bin/client, the lab's persistent TCP client: against bin/server, and
# against small fake servers that misbehave on purpose (replies in pieces,
# a reset, an early close, silence).
import os
import pty
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, connect, recv_line, free_port, run

t = TAP()
if not have("client"):
    t.bail("%s is not built (make)" % bin("client"))
DATA = os.path.join(HERE, "data")


def fake_server(behave, host="127.0.0.1"):
    """A one-connection server in a thread; behave(conn) does the rest.
    Returns (port, thread, result dict)."""
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    ls.bind((host, 0))
    ls.listen(1)
    ls.settimeout(10)
    res = {}

    def go():
        try:
            conn, _ = ls.accept()
            conn.settimeout(10)
            with conn:
                behave(conn, res)
        except OSError as e:
            res["error"] = repr(e)
        finally:
            ls.close()

    th = threading.Thread(target=go, daemon=True)
    th.start()
    return ls.getsockname()[1], th, res


# --- usage --------------------------------------------------------------------
rc, out, _, _ = run(["client", "--version"])
t.is_((rc, out), (0, b"socklab 0.1\n"), "--version")
rc, out, _, _ = run(["client", "--help"])
t.ok(rc == 0 and out.startswith(b"usage: client"), "--help")
rc, _, err, _ = run(["client", "--no-such-option"])
t.ok(rc == 2 and b"usage:" in err, "bad option -> usage, exit 2")
rc, _, err, _ = run(["client", "--port", "0"])
t.ok(rc == 2 and b"--port" in err, "--port 0 -> exit 2")
rc, _, err, _ = run(["client", "--timeout", "soon"])
t.ok(rc == 2 and b"--timeout" in err, "--timeout soon -> exit 2")

# Numbers are digits only (lib/opt.c, for every program): strtol() alone
# took " 80", "+80" and "-0".
NUMS = [("client", "--port"), ("udp-client", "--port"), ("udp-server", "--port"),
        ("server", "--port"), ("server", "--backlog"), ("client", "--timeout"),
        ("loadgen", "-c"), ("loadgen", "-d"), ("pingpong", "-n"),
        ("demo-exercise3", "--count"), ("check-server", "--port"),
        ("check-server", "--timeout")]
for prog, opt in NUMS:
    if not have(prog):
        t.skip("%s %s: digits only" % (prog, opt), "not built")
        continue
    got = []
    for v in (" 80", "+80", "-0", "1e2", "0x50"):
        # --help after it: a value taken by mistake exits 0 at once
        rc, _, err, _ = run([prog, opt, v, "--help"], timeout=10)
        if rc != 2 or opt.encode() not in err:
            got.append((v, rc))
    t.ok(not got, "%s %s: ' 80', '+80', '-0', '1e2', '0x50' are refused, exit 2 %s"
         % (prog, opt, got or ""))

# --- no server ----------------------------------------------------------------
port = free_port()
rc, out, err, _ = run(["client", "-p", str(port)], b"hello\n")
t.is_((rc, out, err.decode()), (1, b"", "client: connection refused: no server on 127.0.0.1:%d\n" % port),
      "no server: 'connection refused: no server on HOST:PORT', exit 1")
rc, out, err, _ = run(["client", "--once", "-p", str(port)], b"hello\n")
t.is_(rc, 1, "--once, no server: exit 1")

# --- against bin/server ---------------------------------------------------------
N_SERVER = 16
if not have("server"):
    for i in range(N_SERVER):
        t.skip("bin/server case %d" % i, "bin/server is not built")
else:
    srv = start_server(["server", "--model", "thread", "--port", "0"])
    P = str(srv.port)
    with open(os.path.join(DATA, "upper-corpus.txt"), "rb") as f:
        corpus = f.read()
    with open(os.path.join(DATA, "upper-corpus.expected"), "rb") as f:
        want = f.read()
    rc, out, err, _ = run(["client", "-p", P], corpus)
    t.is_((rc, err), (0, b""), "the corpus piped in: exit 0, nothing on stderr")
    t.is_(out, want, "... every reply, in order, byte for byte")

    rc, out, err, _ = run(["client", "-p", P], b"first\n.\nnot sent\n")
    t.is_((rc, out), (0, b"FIRST\n"), "'.' ends the session; lines after it are not sent")
    # Sessions so far: the corpus, this one.
    ended = srv.wait_count("ended:", 2)
    t.ok(len(ended) == 2 and "ended: 1 lines, client sent '.'" in ended[1],
         "... the server saw the '.' after 1 line (%s)" % ended[1:])
    rc, out, _, _ = run(["client", "-p", P], b"crlf\r\n.\r\n")
    t.is_((rc, out), (0, b"CRLF\r\n"), "'\\r\\n' kept; '.\\r\\n' ends the session too")

    rc, out, err, _ = run(["client", "-p", P], "a\nb\nè così\n".encode())
    t.is_((rc, out), (0, "A\nB\nÈ COSÌ\n".encode()), "end of input without '.': every reply, exit 0")
    rc, out, _, _ = run(["client", "-p", P], b"no newline at the end")
    t.is_((rc, out), (0, b"NO NEWLINE AT THE END\n"), "a last line without newline is completed")
    rc, out, _, _ = run(["client", "-p", P], b"")
    t.is_((rc, out), (0, b""), "empty input: exit 0, nothing printed")

    rc, out, _, _ = run(["client", "--once", "-p", P], b"one\ntwo\n")
    t.is_((rc, out), (0, b"ONE\n"), "--once: one line, one reply")
    ended = srv.wait_count("ended:", 7)     # the 7th session is this one
    t.ok(len(ended) == 7 and "ended: 1 lines, client closed" in ended[6],
         "... and the server served 1 line (%s)" % ended[6:])

    long_line = b"x" * 60000 + b"\n"
    rc, out, _, _ = run(["client", "-p", P], long_line + b"short\n")
    t.is_((rc, out), (0, long_line.upper() + b"SHORT\n"), "a 60000-byte line and its reply, then another")

    rc, out, err, _ = run(["client", "-p", P], b"y" * 70000 + b"\nnever\n")
    t.is_((rc, out), (1, b"ERR line too long (max 65536 bytes)\n"),
          "over-long line: the server's ERR line is printed, exit 1")
    t.ok(b"ended the session" in err, "... with a message on stderr (%r)" % err)

    if socket.has_ipv6:
        try:
            s6 = start_server(["server", "--model", "thread", "--host", "::1", "--port", "0", "--quiet"])
            rc, out, _, _ = run(["client", "-H", "::1", "-p", str(s6.port)], b"six\n")
            t.is_((rc, out), (0, b"SIX\n"), "IPv6: --host ::1")
            s6.stop()
        except RuntimeError as e:
            t.skip("IPv6: --host ::1", "no ::1 (%s)" % e)
    else:
        t.skip("IPv6: --host ::1", "no IPv6")
    t.is_(srv.stop(), 0, "server: SIGTERM exits 0")

    # --max-clients 1 and one session held open: the next client is told
    # so and closed.
    busy = start_server(["server", "--model", "thread", "--port", "0", "--max-clients", "1", "--quiet"])
    holder = connect(busy.port)
    holder.sendall(b"hold\n")
    recv_line(holder)   # the holder is being served now
    rc, out, err, _ = run(["client", "-p", str(busy.port)], b"hello\n")
    t.ok(rc == 1 and out == b"ERR server busy\n",
         "server busy: 'ERR server busy' printed, exit 1 (%d, %r, %r)" % (rc, out, err))
    holder.close()
    busy.stop()

# --- against fake servers ---------------------------------------------------------
def pieces(conn, res):
    """Reply to the first line in three pieces; record whether the
    second line arrived before the first reply was complete."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    line = recv_line(conn)
    for part in (line[:1].upper(), line[1:3].upper()):
        conn.sendall(part)
        time.sleep(0.05)    # separate segments, not a readiness wait
        conn.setblocking(False)
        try:
            res.setdefault("early", conn.recv(100, socket.MSG_PEEK))
        except BlockingIOError:
            pass
        conn.setblocking(True)
        conn.settimeout(10)
    conn.sendall(line[3:].upper())
    conn.sendall(recv_line(conn).upper())
    res["eof"] = recv_line(conn)    # the client half-closes at end of input


port, th, res = fake_server(pieces)
rc, out, err, _ = run(["client", "-p", str(port)], b"split reply\nsecond\n")
th.join(10)
t.is_((rc, out), (0, b"SPLIT REPLY\nSECOND\n"), "a reply in three pieces is printed whole")
t.ok("early" not in res and "error" not in res,
     "lock-step: the next line waits for the whole reply (%r)" % res)


def reset(conn, res):
    recv_line(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


port, th, res = fake_server(reset)
rc, out, err, _ = run(["client", "-p", str(port)], b"hello\n")
th.join(10)
t.is_((rc, err), (1, b"client: connection reset by the server\n"), "reset: a clear message, exit 1")


def close_early(conn, res):
    recv_line(conn)


port, th, res = fake_server(close_early)
rc, out, err, _ = run(["client", "-p", str(port)], b"hello\nagain\n")
th.join(10)
t.is_((rc, err), (1, b"client: the server closed the connection before replying\n"),
      "server closes before replying: a clear message, exit 1")


def hang_up_midline(conn, res):
    conn.recv(1000)


port, th, res = fake_server(hang_up_midline)
rc, out, err, _ = run(["client", "-p", str(port)], b"z" * 1000000 + b"\n")
th.join(10)
t.ok(rc == 1 and (b"reset by the server" in err or b"closed the connection" in err),
     "server gone while a 1 MB line is being sent: exit 1 (%r)" % err)


def silent(conn, res):
    recv_line(conn)
    res["eof"] = conn.recv(1)   # the client's close, after its timeout


TMO = 0.5
port, th, res = fake_server(silent)
rc, out, err, took = run(["client", "-p", str(port), "--timeout", str(TMO)], b"hello\n")
th.join(10)
t.ok(rc == 1 and b"timed out" in err, "no reply within --timeout: timed out, exit 1 (%r)" % err)
t.ok(0.95 <= took / TMO < 5, "... after the timeout (%.2f x)" % (took / TMO))

# A server that never reads: a 16 MB line fills both socket buffers and
# send() would block for ever.  --timeout bounds every send too.
def never_reads(conn, res):
    while not res.get("done"):
        time.sleep(0.05)


TMO = 1.0
port, th, res = fake_server(never_reads)
rc, out, err, took = run(["client", "-p", str(port), "--timeout", str(TMO)],
                         b"a" * (16 << 20) + b"\n", timeout=15)
res["done"] = True
th.join(10)
t.ok(rc == 1 and b"timed out" in err, "a 16 MB line to a server that never reads: "
     "timed out, exit 1 (status %s, %r)" % (rc, err))
t.ok(took / TMO < 5, "... after the timeout (%.2f x)" % (took / TMO))

# A full accept queue drops the SYN (see SEED-NOTES): listen(0) holds one
# connection, so the next connect() only waits.  --timeout bounds it.
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(0)
filler = socket.create_connection(ls.getsockname(), timeout=10)
TMO = 0.5
rc, out, err, took = run(["client", "-p", str(ls.getsockname()[1]), "--timeout", str(TMO)], b"hello\n")
filler.close()
ls.close()
t.ok(rc == 1 and b"connection timed out" in err, "accept queue full: connection timed out, exit 1 (%r)" % err)
t.ok(0.95 <= took / TMO < 5, "... after --timeout (%.2f x)" % (took / TMO))

# Interactive: a prompt on stderr when stdin is a terminal, and only then.
port, th, res = fake_server(lambda c, r: [c.sendall(recv_line(c).upper()), recv_line(c)])
master, slave = pty.openpty()
p = subprocess.Popen([bin("client"), "-p", str(port)], stdin=slave,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
os.close(slave)
os.write(master, b"hi\n")
os.write(master, b"\x04")     # ^D: end of input
try:
    out, err = p.communicate(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
os.close(master)
th.join(10)
t.is_((p.returncode, out), (0, b"HI\n"), "on a terminal: the reply alone on stdout")
t.ok(err.startswith(b"> "), "... and a '> ' prompt on stderr (%r)" % err)

t.done()
