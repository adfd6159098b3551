#!/usr/bin/env python3
"""loadgen_server.py - a small upper-case line server with faults on
demand, for testing bin/loadgen (tests/loadgen.t).

One thread, one selectors loop (epoll), so that a stall stops every
session at once and the timing of each reply is in our hands:

  --delay SEC        each reply goes out SEC after its request arrived
  --corrupt N        the N-th reply (counted over all sessions, from 1)
                     has its first byte replaced by '#'
  --stall-after N    after the N-th request line, stop serving for
  --stall SEC        SEC seconds (once)
  --announce N       print 'served N' on stdout after the N-th reply
  --backlog B        listen() backlog (default 128)
  --accept-delay SEC do not accept() for the first SEC seconds, so that
                     the accept queue fills and SYNs are dropped
  --drop-every N     never answer every N-th request line (counted over
                     all sessions, from 1)
  --silent           read every request, never answer
  --no-read          accept connections, never read from them

The first stdout line is 'listening on 127.0.0.1:PORT (model loadgen-test,
backlog B)', as for bin/server.  Loopback only.
"""

import argparse
import heapq
import resource
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--backlog", type=int, default=128)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--corrupt", type=int, default=0)
    ap.add_argument("--stall-after", type=int, default=0)
    ap.add_argument("--stall", type=float, default=0.0)
    ap.add_argument("--announce", type=int, default=0)
    ap.add_argument("--accept-delay", type=float, default=0.0)
    ap.add_argument("--drop-every", type=int, default=0)
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--no-read", action="store_true")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(a.backlog)
    ls.setblocking(False)
    print("listening on 127.0.0.1:%d (model loadgen-test, backlog %d)"
          % (ls.getsockname()[1], a.backlog), flush=True)

    sel = selectors.DefaultSelector()
    accept_at = time.monotonic() + a.accept_delay
    if a.accept_delay <= 0:
        sel.register(ls, selectors.EVENT_READ, None)
    partial = {}          # conn -> bytes of an incomplete line
    timers = []           # (due, seq, conn, reply) for --delay
    seq = 0
    requests = replies = 0
    stalled = False
    idle = []

    def send(conn, reply):
        nonlocal replies
        replies += 1
        if replies == a.corrupt:
            reply = b"#" + reply[1:]
        try:
            conn.setblocking(True)
            conn.sendall(reply)
            conn.setblocking(False)
        except OSError:
            drop(conn)
        if replies == a.announce:
            print("served %d" % replies, flush=True)

    def drop(conn):
        if conn in partial:
            del partial[conn]
            sel.unregister(conn)
            conn.close()

    while True:
        now = time.monotonic()
        if a.accept_delay > 0 and accept_at is not None and now >= accept_at:
            sel.register(ls, selectors.EVENT_READ, None)
            accept_at = None
        while timers and timers[0][0] <= now:
            _, _, conn, reply = heapq.heappop(timers)
            if conn in partial:
                send(conn, reply)
        wake = [0.2]
        if timers:
            wake.append(timers[0][0] - now)
        if accept_at is not None and a.accept_delay > 0:
            wake.append(accept_at - now)
        for key, _ in sel.select(max(0.0, min(wake))):
            if key.data is None:
                while True:
                    try:
                        conn, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    partial[conn] = b""
                    if a.no_read:
                        idle.append(conn)   # kept open, never read
                        continue
                    sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                drop(conn)
                continue
            if not data:
                drop(conn)
                continue
            buf = partial[conn] + data
            *lines, rest = buf.split(b"\n")
            partial[conn] = rest
            for line in lines:
                requests += 1
                if a.silent or (a.drop_every and
                                requests % a.drop_every == 0):
                    continue
                reply = (line.decode("utf-8", "surrogateescape").upper()
                         .encode("utf-8", "surrogateescape") + b"\n")
                if a.delay > 0:
                    seq += 1
                    heapq.heappush(timers, (time.monotonic() + a.delay, seq,
                                            conn, reply))
                else:
                    send(conn, reply)
                if conn not in partial:
                    break
                if requests == a.stall_after and not stalled:
                    stalled = True
                    time.sleep(a.stall)


if __name__ == "__main__":
    main()
