#!/usr/bin/env python3
# The server's log names who served each session, as the lab's question
# "each worker a thread or a process?" needs: 'connected with ADDR (pid P)'
# or '(pid P, tid T)'.  A process per session shows a new pid each time,
# a thread per session a new tid in the server's pid, the iterative
# server its own pid for all.
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, start_server, connect, recv_line

t = TAP()
if not have("server"):
    t.bail("%s is not built (make)" % bin("server"))

WHO = re.compile(r"^connected with 127\.0\.0\.1:(\d+) \(pid (\d+)(?:, tid (\d+))?\)$")


def workers(model, n=2):
    """[(pid, tid or None)] of n sessions open at once (one after the
    other for the iterative server), and the server's pid."""
    with start_server(["server", "--model", model, "--port", "0"]) as srv:
        socks, seen = [], []
        for i in range(n):
            s = connect(srv.port)
            s.sendall(b"x\n")
            recv_line(s)
            if model == "iterative":
                s.sendall(b".\n")
                s.close()
            else:
                socks.append(s)
        for s in socks:
            s.sendall(b".\n")
            s.close()
        lines = srv.wait_count(r"^connected with ", n)
        for line in lines or []:
            m = WHO.match(line)
            seen.append((int(m.group(2)), m.group(3) and int(m.group(3))) if m else None)
        return seen, srv.proc.pid


seen, pid = workers("iterative")
t.ok(seen == [(pid, None)] * 2, "iterative: both sessions served by the server's own pid %d: %s" % (pid, seen))
seen, pid = workers("fork")
t.ok(len(seen) == 2 and None not in seen and all(p != pid and tid is None for p, tid in seen)
     and seen[0][0] != seen[1][0], "fork: each session a process of its own: %s (server %d)" % (seen, pid))
seen, pid = workers("thread")
t.ok(len(seen) == 2 and None not in seen and all(p == pid and tid not in (None, pid) for p, tid in seen)
     and seen[0][1] != seen[1][1], "thread: each session a thread of the server's pid: %s" % (seen,))
t.done()
