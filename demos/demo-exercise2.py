#!/usr/bin/env python3
"""demo-exercise2.py - the lab's exercise 2, measured on this machine.

Persistent clients against bin/server with listen(1), as in the lab:
 (a) client A sends several messages;
 (b) with A still open, B and C connect: what happens?
 (c) B sends a message: what happens?
 (d) A ends: what happens to B now?
First against the iterative server (the lab's), then the thread and fork
servers.  Every event carries the time it was seen; the server's own log
("connected with ...") shows when it accept()ed whom.

The clients speak the lab's protocol (a line, its upper-case reply, "."
to end) over sockets of this process, so that each event gets a time.
Only 127.0.0.1 is used.
"""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demolib as d             # noqa: E402
from demolib import tr, ev, say  # noqa: E402


class Client:
    def __init__(self, name, port):
        self.name = name
        self.buf = b""
        self.t_connect = d.now()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.port = self.sock.getsockname()[1]
        ev(self.name, tr("connect() returned after %.1f ms (local port %d)",
                         "connect() è tornata dopo %.1f ms (porta locale %d)")
           % ((d.now() - self.t_connect) * 1000, self.port))

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")
        ev(self.name, tr("sends %r", "invia %r") % line)

    def reply(self, timeout):
        """The next reply line, or None if none comes within timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                return ""
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def expect(self, timeout, quiet_ok=False):
        """Wait for a reply and put what happened on the timeline."""
        t = d.now()
        r = self.reply(timeout)
        if r is None:
            ev(self.name, tr("no reply within %.1f s: still waiting",
                             "nessuna risposta entro %.1f s: ancora in attesa") % timeout)
            return None, None
        if r == "":
            ev(self.name, tr("connection closed by the server", "connessione chiusa dal server"))
            return "", d.now()
        t = ev(self.name, tr("reply %r after %.1f ms", "risposta %r dopo %.1f ms")
               % (r, (d.now() - t) * 1000))
        return r, t

    def end(self):
        self.sock.sendall(b".\n")
        self.sock.close()
        return ev(self.name, tr("sends \".\" and closes", "invia \".\" e chiude"))


def accepted(srv, client, timeout, start=0):
    """Time the server logged 'connected with' this client, or None."""
    hit = srv.wait_for(d.CONNECTED + r"127\.0\.0\.1:%d\b" % client.port, timeout, start)
    return hit[0] if hit else None


QUESTIONS = {
    "a": ("client A sends several messages: what comes back?",
          "il client A invia più messaggi: cosa torna indietro?"),
    "b": ("with A still open, B and C connect: does their connect() succeed?",
          "con A ancora aperto, si connettono B e C: la loro connect() riesce?"),
    "c": ("B sends a message: does B get its reply?",
          "B invia un messaggio: B riceve la risposta?"),
    "d": ("A ends: what happens to B now?",
          "A termina: cosa succede ora a B?"),
}


def run_model(model, wait, ask):
    """One server model through (a)-(d); ask: put each question to the
    class first (the first model), or one question for the whole run."""
    say(tr("\n-- bin/server --model %s --backlog 1 --",
           "\n-- bin/server --model %s --backlog 1 --") % model)
    if not ask:
        d.ask("2a-d", tr("the same four steps with the %s server: what changes?",
                         "gli stessi quattro passi col server %s: cosa cambia?") % model)

    def step(k):
        if ask:
            d.ask("2" + k, tr(*QUESTIONS[k]))
        else:
            say("(%s) %s" % (k, tr(*QUESTIONS[k])))
    srv = d.Program([d.bin_path("server"), "--model", model, "--port", "0",
                     "--backlog", "1"])
    ev("server", srv.told())
    r = {"model": model}
    first = len(d.EVENTS)
    try:
        step("a")
        a = Client("A", srv.port)
        for m in (tr("first message", "primo messaggio"),
                  tr("second message", "secondo messaggio")):
            a.send(m)
            a.expect(wait)
        step("b")
        b = Client("B", srv.port)
        c = Client("C", srv.port)
        r["b_accepted_while_a_open"] = accepted(srv, b, wait) is not None
        r["c_accepted_while_a_open"] = accepted(srv, c, 0.05) is not None
        rows = d.ss("ltn", srv.port)
        r["listen_recv_q"] = rows[0][1] if rows else None
        if rows:
            say(tr("  ss -ltn: a listening socket's Recv-Q counts the connections that\n"
                   "  completed the handshake and wait for accept() (%d here).",
                   "  ss -ltn: per un socket in ascolto Recv-Q conta le connessioni che\n"
                   "  hanno completato l'handshake e aspettano accept() (qui %d).")
                % rows[0][1])
        if not r["b_accepted_while_a_open"]:
            ev("", tr("the server has not accept()ed B or C: their connect() returned\n"
                      "                      because the kernel completed the handshake; they\n"
                      "                      wait in the accept queue and do not know it",
                      "il server non ha fatto accept() di B né di C: la loro connect() è\n"
                      "                      tornata perché il kernel ha completato l'handshake;\n"
                      "                      aspettano nella coda di accept e non lo sanno"))
        step("c")
        b.send(tr("hello from B", "ciao da B"))
        reply_b, t_b = b.expect(wait)
        r["b_reply_before_a_ended"] = reply_b is not None
        rows = d.ss("tn", srv.port)
        peer = [x for x in rows or [] if x[4].endswith(":%d" % b.port)]
        r["b_server_recv_q"] = peer[0][1] if peer else None
        if peer and peer[0][1] > 0:
            say(tr("  ss -tn: the server's socket for B (peer port %d) holds B's %d bytes\n"
                   "  in Recv-Q: the kernel received them, nobody has read them yet.",
                   "  ss -tn: il socket del server per B (porta %d) tiene in Recv-Q i %d\n"
                   "  byte di B: il kernel li ha ricevuti, nessuno li ha ancora letti.")
                % (b.port, peer[0][1]))
        step("d")
        t_a_end = a.end()
        r["a_ended_at"] = round(t_a_end, 4)
        if reply_b is None:
            reply_b, t_b = b.expect(wait)
            if t_b is not None:
                ev("", tr("B got its reply %.1f ms after A ended: the server accept()ed B,\n"
                          "                      found its line already waiting and answered it",
                          "B ha avuto la risposta %.1f ms dopo la fine di A: il server ha fatto\n"
                          "                      accept() di B, ha trovato la sua riga già in attesa\n"
                          "                      e ha risposto") % ((t_b - t_a_end) * 1000))
        r["b_reply_at"] = None if t_b is None else round(t_b, 4)
        r["b_reply"] = reply_b
        c.send(tr("hello from C", "ciao da C"))
        reply_c, t_c = c.expect(min(wait, 0.5))
        if reply_c is None:
            t_b_end = b.end()
            reply_c, t_c = c.expect(wait)
            r["c_waited_for_b"] = t_c is not None and t_c >= t_b_end
        else:
            b.end()
            r["c_waited_for_b"] = False
        r["c_reply"] = reply_c
        c.end()
        time.sleep(0.05)        # let the last log lines arrive
    finally:
        r["server_status"] = srv.stop()
    # The timeline of this run, for scripts/handouts.py's diagram.
    r["events"] = [{"t": round(t, 4), "who": w, "what": m}
                   for t, w, m in d.EVENTS[first:] if w in ("A", "B", "C", "server")]
    return r


def conclusion(results):
    say(tr("\nWhat the runs show:", "\nCosa mostrano le prove:"))
    for r in results:
        if r["b_reply_before_a_ended"]:
            say(tr("- %s: B was served at once, while A was still connected.",
                   "- %s: B è stato servito subito, mentre A era ancora connesso.")
                % r["model"])
        elif r["b_reply_at"] is not None:
            say(tr("- %s: B's connect() succeeded, but its message got no answer until A\n"
                   "  ended; then it came %.1f ms after A's end.",
                   "- %s: la connect() di B è riuscita, ma il messaggio non ha avuto\n"
                   "  risposta finché A non ha finito; poi è arrivata %.1f ms dopo la fine\n"
                   "  di A.")
                % (r["model"], (r["b_reply_at"] - r["a_ended_at"]) * 1000))
            if r["c_waited_for_b"]:
                say(tr("  C, in turn, got its answer only after B ended.",
                       "  C, a sua volta, ha avuto risposta solo dopo la fine di B."))
        else:
            say(tr("- %s: B got no answer in this run.", "- %s: B non ha avuto risposta in questa prova.")
                % r["model"])
    say(tr("Why: connect() returns when the kernel has completed the handshake, not\n"
           "when the server calls accept().  The iterative server calls accept() only\n"
           "after the current session ends, so B and C sit in the accept queue\n"
           "(listen(1) holds 2) with their bytes in the kernel's buffer.  The thread\n"
           "and fork servers accept() at once and give each client its own worker.",
           "Perché: connect() ritorna quando il kernel ha completato l'handshake, non\n"
           "quando il server chiama accept().  Il server iterativo chiama accept() solo\n"
           "alla fine della sessione corrente, quindi B e C restano nella coda di\n"
           "accept (listen(1) ne tiene 2) con i loro byte nel buffer del kernel.  I\n"
           "server thread e fork fanno accept() subito e danno a ogni client il suo\n"
           "worker."))


def main():
    p = d.parser("The lab's exercise 2 (persistent clients), measured.")
    p.add_argument("--wait", type=float, default=1.0,
                   help="how long a client waits for a reply before saying so (default 1 s)")
    p.add_argument("--models", default="iterative,thread,fork",
                   help="comma-separated server models (default iterative,thread,fork)")
    args = p.parse_args()
    d.setup(args)
    d.need("server")
    say(tr("== Exercise 2: persistent clients and an iterative server ==",
           "== Esercizio 2: client persistenti e un server iterativo =="))
    say(tr('Slide: "a) Eseguire il client persistente e inviare messaggi multipli\n'
           'b) Senza chiudere il primo client, aprirne un secondo e poi un terzo. Cosa\n'
           'accade? c) Inviare un messaggio con il secondo client. Cosa accade?\n'
           'd) Terminare il primo client. Cosa accade ora al secondo client?"\n'
           '(a) send several messages; (b) open a second and a third client with the\n'
           'first still open; (c) send from the second; (d) end the first.)',
           'Slide: "a) Eseguire il client persistente e inviare messaggi multipli\n'
           'b) Senza chiudere il primo client, aprirne un secondo e poi un terzo. Cosa\n'
           'accade? c) Inviare un messaggio con il secondo client. Cosa accade?\n'
           'd) Terminare il primo client. Cosa accade ora al secondo client?"'))
    results = []
    for i, model in enumerate(m for m in args.models.split(",") if m):
        results.append(run_model(model, args.wait, ask=(i == 0)))
    conclusion(results)
    d.write_json(args.json, {"demo": "exercise2", "wait": args.wait, "models": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
