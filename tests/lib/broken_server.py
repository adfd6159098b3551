#!/usr/bin/env python3
"""broken_server.py DEFECT PORT: slide-style servers of the lab's
protocol, each with one mistake students make, for tests/check-server.t
(bin/check-server must fail each on the check named here).  Each serves
every connection in a thread, as the slides' multithreaded server does,
so that one crashing session does not take the others down.  Not for
students: lab/ holds the corrected programs.

  dot-same    looks for "." in each recv(), not in each line: a "." that
              arrives behind a line is answered, not taken as the end
  utf8-split  decodes each recv() on its own: crashes (UnicodeDecodeError)
              on a character split between two recv()s
  ascii       upper-cases bytes: only ASCII letters change
  no-newline  strips the line and sends the reply without its '\\n'
  udp-other-port  (UDP) replies from a new socket, so from another port
                  than the one the client sent to

Prints "Il server è pronto a ricevere sulla porta N" when listening.
"""
import socket
import sys
import threading


def lines_of(conn):
    """The lines of a session as bytes without '\\n', in order."""
    pending = b""
    while True:
        data = conn.recv(1024)
        if not data:
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line


def dot_same(conn):
    pending = b""
    while True:
        data = conn.recv(1024)
        if not data or data.strip() == b".":
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            conn.sendall(line.decode().upper().encode() + b"\n")


def utf8_split(conn):
    pending = ""
    while True:
        data = conn.recv(1024).decode("utf-8")
        if not data:
            return
        pending += data
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            if line == ".":
                return
            conn.sendall((line.upper() + "\n").encode())


def ascii_only(conn):
    for line in lines_of(conn):
        if line == b".":
            return
        conn.sendall(line.upper() + b"\n")


def no_newline(conn):
    for line in lines_of(conn):
        if line == b".":
            return
        conn.sendall(line.decode().strip().upper().encode())


DEFECTS = {"dot-same": dot_same, "utf8-split": utf8_split,
           "ascii": ascii_only, "no-newline": no_newline}


def udp_other_port(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    print("Il server è pronto a ricevere sulla porta %d" % s.getsockname()[1],
          flush=True)
    while True:
        message, client = s.recvfrom(65535)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(message.decode().upper().encode(), client)


def session(fn, conn):
    with conn:
        fn(conn)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in list(DEFECTS) + \
            ["udp-other-port"]:
        sys.exit("usage: broken_server.py %s|udp-other-port PORT" %
                 "|".join(DEFECTS))
    if sys.argv[1] == "udp-other-port":
        udp_other_port(int(sys.argv[2]))
    fn = DEFECTS[sys.argv[1]]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[2])))
    s.listen(16)
    print("Il server è pronto a ricevere sulla porta %d" % s.getsockname()[1],
          flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=session, args=(fn, conn), daemon=True).start()


if __name__ == "__main__":
    main()
