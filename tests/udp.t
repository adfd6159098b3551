#!/usr/bin/env python3
# The UDP pair: bin/udp-server and bin/udp-client (the lab's UDP service,
# its exercise of logging each client's address, and the no-server cases).
import os
import re
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, free_port, run

t = TAP()
for prog in ("udp-server", "udp-client"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))

DATA = os.path.join(HERE, "data")
LOG = re.compile(r"^datagram from (\S+):(\d+) \((\d+) bytes\)$")


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def udp_ask(port, payload, host="127.0.0.1", timeout=10.0):
    """One datagram out, one back, from a fresh socket: (reply, our port);
    reply is None when none came in time."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        try:
            reply, _ = s.recvfrom(1 << 17)
        except socket.timeout:
            t.diag("no reply to a %d-byte datagram in %g s" % (len(payload), timeout))
            reply = None
        return reply, s.getsockname()[1]


def log_entries(srv, n):
    """The first n 'datagram from' lines, parsed: (addr, port, bytes)."""
    return [(m.group(1), int(m.group(2)), int(m.group(3)))
            for m in (LOG.match(l) for l in srv.wait_count(LOG.pattern, n))]


# --- usage -----------------------------------------------------------------
for prog in ("udp-server", "udp-client"):
    rc, out, err, _ = run([prog, "--version"])
    t.is_((rc, out), (0, b"socklab 0.1\n"), "%s --version" % prog)
    rc, out, err, _ = run([prog, "--help"])
    t.ok(rc == 0 and b"usage: " + prog.encode() in out, "%s --help" % prog)
    rc, out, err, _ = run([prog, "--no-such-option"])
    t.ok(rc == 2 and b"usage:" in err, "%s: bad option -> usage, exit 2" % prog)
rc, _, err, _ = run(["udp-client", "--timeout", "0"])
t.ok(rc == 2 and b"--timeout" in err, "udp-client --timeout 0 is refused, exit 2")
rc, _, err, _ = run(["udp-server", "--port", "70000"])
t.ok(rc == 2 and b"--port" in err, "udp-server --port 70000 is refused, exit 2")

# --- the service -------------------------------------------------------------
srv = start_server(["udp-server", "--port", "0"])
t.is_((srv.host, srv.info), ("127.0.0.1", "udp"), "listening on 127.0.0.1:PORT (udp)")
P = str(srv.port)
sent = 0    # datagrams sent to srv so far, to find their log lines

for name in ("upper-corpus", "upper-binary"):
    with open(os.path.join(DATA, name + ".txt"), "rb") as f:
        req = f.read()
    with open(os.path.join(DATA, name + ".expected"), "rb") as f:
        want = f.read()
    rc, out, err, _ = run(["udp-client", "--port", P, "--timeout", "5"], req)
    sent += req.count(b"\n")
    t.is_(rc, 0, "%s: udp-client exit 0" % name)
    t.is_(out, want, "%s: one datagram per line, each reply as str.upper()" % name)

rc, out, err, _ = run(["udp-client", "-p", P, "-t", "5"], "perché è così\nStraße\n".encode())
t.is_(out, "PERCHÉ È COSÌ\nSTRASSE\n".encode(), "Italian and German: è -> È, ß -> SS")
sent += 2

reply, _ = udp_ask(srv.port, b"")
t.is_(reply, b"", "an empty datagram gets an empty reply")
reply, _ = udp_ask(srv.port, b"a" * 65507)
t.is_(reply, b"A" * 65507, "the largest IPv4 datagram (65507 bytes) is answered whole")
sent += 2

rc, out, err, _ = run(["udp-client", "-p", P, "-t", "5"], b"b" * 70000 + b"\n")
t.ok(rc == 1 and b"does not fit in one datagram" in err,
     "udp-client: a 70000-byte line does not fit a datagram: exit 1 (%r)" % err)

# The lab's exercise: the server prints each client's address and port.
for i in range(2):
    run(["udp-client", "-p", P, "-t", "5"], b"client %d\n" % i)
reply, mine = udp_ask(srv.port, b"hello")
sent += 3
logged = log_entries(srv, sent)
t.is_(len(logged), sent, "one log line per datagram (%d)" % sent)
logged = logged[-3:]
t.ok(all(a == "127.0.0.1" for a, _, _ in logged), "log shows the client address 127.0.0.1")
t.ok(len(logged) == 3 and logged[0][1] != logged[1][1],
     "two runs of udp-client come from two ephemeral ports (%s)" % [p for _, p, _ in logged[:2]])
t.ok(len(logged) == 3 and logged[2][1:] == (mine, 5),
     "the logged port is the client's own port, with the byte count")

# Exercise 1b: clients that leave before their reply.  The replies bounce
# (ICMP port unreachable); the server must keep serving.
for i in range(20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if i % 2:
        s.connect(("127.0.0.1", srv.port))
        s.send(b"bye %d" % i)
    else:
        s.sendto(b"bye %d" % i, ("127.0.0.1", srv.port))
    s.close()
reply, _ = udp_ask(srv.port, b"still there?")
t.is_(reply, b"STILL THERE?", "20 clients gone before their reply: the next one is served")

# A reply that cannot be one datagram: 30000 x U+0390 (2 bytes) becomes
# 30000 x 3 code points (6 bytes).  Logged, and the server goes on.
mark_err = len(srv.errlines)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.sendto("\u0390".encode() * 30000, ("127.0.0.1", srv.port))
t.ok(srv.wait_line("not sent", 10, mark_err, err=True) is not None,
     "a reply too large for a datagram is logged on stderr (%s)" % srv.errlines[mark_err:][:1])
reply, _ = udp_ask(srv.port, b"next")
t.is_(reply, b"NEXT", "... and the next client is served")

# --no-connect against a live server, with a stranger's datagram in the
# way: udp-client must take only the reply from the server's address.
fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fake.bind(("127.0.0.1", 0))
stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def fake_server():
    fake.settimeout(10)
    try:
        data, addr = fake.recvfrom(2048)
    except OSError:
        return
    stranger.sendto(b"NOT FROM THE SERVER", addr)
    fake.sendto(data.upper(), addr)


th = threading.Thread(target=fake_server)
th.start()
rc, out, err, _ = run(["udp-client", "-p", str(fake.getsockname()[1]), "--no-connect",
                       "-t", "10"], b"mine\n")
th.join()
fake.close()
stranger.close()
t.is_((rc, out), (0, b"MINE\n"), "--no-connect: a datagram from another address is ignored")

# UDP may duplicate a datagram: a fake server that answers every request
# twice.  Each line must get its own answer (not "A A B" for "a b c").
dup = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dup.bind(("127.0.0.1", 0))


def dup_server():
    dup.settimeout(10)
    try:
        for _ in range(3):
            data, addr = dup.recvfrom(2048)
            dup.sendto(data.upper(), addr)
            dup.sendto(data.upper(), addr)
    except OSError:
        return


th = threading.Thread(target=dup_server)
th.start()
rc, out, err, _ = run(["udp-client", "-p", str(dup.getsockname()[1]), "-t", "10"],
                      b"a\nb\nc\n")
th.join()
dup.close()
t.is_((rc, out), (0, b"A\nB\nC\n"), "each reply duplicated: udp-client pairs each line "
      "with its own answer (%r)" % out)
t.ok(b"dropped a 1-byte datagram that does not answer this line" in err,
     "... and says on stderr that it dropped the duplicates (%r)" % err)

# The stop: udp-server waits in poll() on its socket and the stop pipe,
# as the TCP models do, never in a blocking recvmsg(), where a SIGTERM
# that came just before the call would be lost until the next datagram.
# /proc/PID/syscall names the call it is blocked in (x86-64 numbers).
if os.uname().machine == "x86_64":
    reply, _ = udp_ask(srv.port, b"idle now")
    call = None
    for _ in range(100):
        with open("/proc/%d/syscall" % srv.proc.pid) as f:
            call = f.read().split()[0]
        if call != "running":
            break
        time.sleep(0.01)
    t.ok(call in ("7", "271"), "idle udp-server blocks in poll()/ppoll() with the "
         "stop pipe, not in recvmsg() (syscall %s)" % call)
else:
    t.skip("idle udp-server blocks in poll()", "syscall numbers known for x86-64 only")

code = srv.stop(signal.SIGTERM)
t.is_(code, 0, "SIGTERM: udp-server exits 0")
t.ok(not any("recvmsg" in l for l in srv.errlines), "no receive errors logged (%s)" % srv.errlines[:3])

srv = start_server(["udp-server", "--port", "0", "--quiet"])
reply, _ = udp_ask(srv.port, b"quiet")
t.is_(reply, b"QUIET", "--quiet still answers")
code = srv.stop(signal.SIGINT)
t.is_((code, srv.lines[1:]), (0, []), "--quiet logs nothing; SIGINT exits 0")

# --- no server ----------------------------------------------------------------
# Connected socket: the ICMP port unreachable comes back as ECONNREFUSED,
# long before the timeout.
port = str(free_port(socket.SOCK_DGRAM))
TMO = 10.0
rc, out, err, took = run(["udp-client", "-p", port, "-t", str(TMO)], b"anyone?\n")
t.is_((rc, err.decode()), (1, "udp-client: connection refused: no UDP server on 127.0.0.1:%s\n" % port),
      "connected socket, no server: 'connection refused', exit 1")
t.ok(took < TMO / 2, "... at once, not after the timeout (%.3f s of %g s)" % (took, TMO))

# Unconnected socket: the ICMP error is not reported; only the timeout ends it.
TMO = 1.0
rc, out, err, took = run(["udp-client", "-p", port, "--no-connect", "-t", str(TMO)], b"anyone?\n")
t.is_((rc, err.decode()), (1, "udp-client: timeout expired: server not reachable (no reply in 1.0 s)\n"),
      "--no-connect, no server: 'timeout expired', exit 1")
t.ok(0.95 <= took / TMO < 3, "... after the timeout, not much later (%.2f x the timeout)" % (took / TMO))

# A server that reads but never answers: connected or not, the timeout.
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
    mute.bind(("127.0.0.1", 0))
    TMO = 0.5
    rc, out, err, took = run(["udp-client", "-p", str(mute.getsockname()[1]), "-t", str(TMO)],
                             b"hello?\n")
    t.ok(rc == 1 and b"timeout expired" in err and b"0.5 s" in err,
         "a server that never replies: timeout expired, exit 1 (%r)" % err)
    t.ok(0.95 <= took / TMO < 5, "... after the timeout (%.2f x)" % (took / TMO))

# --- IPv6 ---------------------------------------------------------------------
if have_ipv6():
    srv = start_server(["udp-server", "--host", "::1", "--port", "0"])
    t.is_(srv.host, "::1", "listening on [::1]:PORT (udp)")
    rc, out, err, _ = run(["udp-client", "-H", "::1", "-p", str(srv.port), "-t", "5"], "ciao è\n".encode())
    t.is_((rc, out), (0, "CIAO È\n".encode()), "udp-client over ::1")
    t.ok(srv.wait_line(r"^datagram from \[::1\]:\d+ \(7 bytes\)$", 10) is not None,
         "the log shows [::1]:PORT")
    t.is_(srv.stop(), 0, "IPv6 server: SIGTERM exits 0")
    rc, out, err, _ = run(["udp-client", "-H", "::1", "-p", port, "-t", "10"], b"x\n")
    t.ok(rc == 1 and b"no UDP server on [::1]:" in err, "::1 with no server: connection refused")
else:
    for n in range(5):
        t.skip("IPv6 case %d" % n, "no ::1 on this machine")

t.done()
