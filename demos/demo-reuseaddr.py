#!/usr/bin/env python3
"""demo-reuseaddr.py - why a server sets SO_REUSEADDR, measured.

The slides put setsockopt(SO_REUSEADDR) beside serving many clients.
Its real reason is a restart: a server that closed a connection first
leaves it in TIME_WAIT (60 s on Linux), and while it lasts bind() on
the same port fails with EADDRINUSE, "Address already in use", unless
the old and the new listening socket both set SO_REUSEADDR.

1. The lab's server (Python sockets here, as the slides write it) with
   and without the option: one session it closes first, a stop, an
   immediate restart on the same port; all four combinations.
2. bin/server, which sets it: stopped after a session it closed first,
   and restarted at once on the same port.

Only 127.0.0.1 is used.
"""

import os
import socket
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demolib as d             # noqa: E402
from demolib import tr, ev, say  # noqa: E402


def listener(reuse, port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


def session_closed_by_server(lst):
    """One client; the server answers and closes first, as the lab's
    one-shot server does: its end of the connection goes to TIME_WAIT."""
    c = socket.create_connection(lst.getsockname(), timeout=3)
    conn, _ = lst.accept()
    c.sendall(b"ciao\n")
    conn.sendall(conn.recv(64).upper())
    conn.close()                    # the server closes first ...
    while c.recv(64):               # ... the client reads to EOF
        pass
    c.close()


def restart(old_reuse, new_reuse, show):
    """Run, stop, restart on the same port: None, or the bind() error."""
    lst = listener(old_reuse)
    port = lst.getsockname()[1]
    session_closed_by_server(lst)
    lst.close()
    if show:
        rows = d.ss("tan", port)
        say(tr("  TIME-WAIT: the connection the server closed first, kept by the kernel.",
               "  TIME-WAIT: la connessione chiusa per prima dal server, tenuta dal kernel."))
        show = rows
    try:
        listener(new_reuse, port).close()
        return None, port, show
    except OSError as e:
        return d.strerror(e.errno), port, show


def part_python(doc):
    say(tr("\n-- The lab's server, restarted at once --",
           "\n-- Il server del lab, riavviato subito --"))
    d.ask("SO_REUSEADDR", tr(
        "the server answers a client, closes the connection first, stops,\n"
        "and is started again on the same port.  Does bind() succeed?",
        "il server risponde a un client, chiude per primo la connessione,\n"
        "si ferma e viene riavviato sulla stessa porta.  bind() riesce?"))
    rows = []
    for old, new in ((0, 0), (1, 0), (0, 1), (1, 1)):
        err, port, ss_rows = restart(old, new, show=(old, new) == (0, 0))
        yn = lambda v: tr("yes", "sì") if v else "no"  # noqa: E731
        ev(tr("restart", "riavvio"), tr("SO_REUSEADDR old %-3s new %-3s -> %s",
                         "SO_REUSEADDR vecchio %-3s nuovo %-3s -> %s")
           % (yn(old), yn(new), err or tr("bind() ok", "bind() riuscita")))
        rows.append({"old": bool(old), "new": bool(new), "error": err, "port": port,
                     "time_wait_seen": bool(ss_rows) and any(r[0] == "TIME-WAIT" for r in ss_rows)})
    doc["python"] = rows


def part_bin(doc):
    say(tr("\n-- bin/server, which sets SO_REUSEADDR --",
           "\n-- bin/server, che imposta SO_REUSEADDR --"))
    srv = d.Program([d.bin_path("server"), "--model", "iterative", "--port", "0"])
    port = srv.port
    ev("server", srv.told())
    c = socket.create_connection(("127.0.0.1", port), timeout=3)
    c.sendall(b"ciao\n.\n")         # "." : the server ends the session
    while c.recv(64):
        pass
    c.close()
    srv.wait_for(r"(?:ended|terminata)", 3.0)
    srv.stop()
    try:
        again = d.Program([d.bin_path("server"), "--model", "iterative", "--port", str(port)])
        ev("server", tr("restarted at once: ", "riavviato subito: ") + again.told())
        again.stop()
        doc["bin_restart_ok"] = True
    except RuntimeError as e:
        ev("server", str(e))
        doc["bin_restart_ok"] = False


def conclusion(doc):
    rows = {(r["old"], r["new"]): r["error"] for r in doc["python"]}
    only = [k for k, v in rows.items() if v is None]
    say(tr("\nWhat happened:", "\nCos'è successo:"))
    if only == [(True, True)]:
        say(tr("- Only when both the old and the new server set SO_REUSEADDR did the\n"
               "  restart bind() succeed; every other restart failed with \"%s\".",
               "- Solo quando sia il vecchio sia il nuovo server impostano SO_REUSEADDR\n"
               "  la bind() del riavvio è riuscita; ogni altro riavvio è fallito con\n"
               "  \"%s\".") % rows[(False, False)])
    else:
        say(tr("- Restarts that succeeded: %s.", "- Riavvii riusciti: %s.") % only)
    say(tr("Why: the side that closes a TCP connection first keeps it in TIME_WAIT\n"
           "for 60 s, so that late segments of the old connection cannot be taken\n"
           "for a new one.  While it lasts, the port counts as in use.  SO_REUSEADDR\n"
           "lets a listening socket bind over such leftovers, if they come from a\n"
           "socket that set it too: so a server sets it always, before bind().  It\n"
           "has nothing to do with serving many clients: without it a thread server\n"
           "serves them all the same; it only lets the server restart at once.",
           "Perché: chi chiude per primo una connessione TCP la tiene in TIME_WAIT\n"
           "per 60 s, perché segmenti in ritardo della vecchia connessione non siano\n"
           "presi per una nuova.  Finché dura, la porta risulta in uso.  SO_REUSEADDR\n"
           "permette a un socket in ascolto di fare bind() sopra questi resti, se\n"
           "vengono da un socket che l'aveva impostato: per questo un server lo\n"
           "imposta sempre, prima di bind().  Non c'entra col servire molti client:\n"
           "senza, un server a thread li serve lo stesso; serve solo a riavviare\n"
           "subito il server."))


def main():
    p = d.parser("Why a server sets SO_REUSEADDR, measured.")
    args = p.parse_args()
    d.setup(args)
    d.need("server")
    say(tr("== SO_REUSEADDR: restarting a server at once ==",
           "== SO_REUSEADDR: riavviare subito un server =="))
    say(tr('Slide: the listening socket of a server with many workers sets\n'
           'SO_REUSEADDR.  What it is really for:',
           'Slide: il socket in ascolto di un server con più worker imposta\n'
           'SO_REUSEADDR.  A cosa serve davvero:'))
    doc = {"demo": "reuseaddr"}
    part_python(doc)
    part_bin(doc)
    conclusion(doc)
    d.write_json(args.json, doc)
    ok = doc["bin_restart_ok"] and [r["error"] is None for r in doc["python"]] == \
        [False, False, False, True]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
