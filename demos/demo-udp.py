#!/usr/bin/env python3
"""demo-udp.py - the lab's UDP exercises, measured on this machine.

1. The server prints each client's IP address and port: three runs of
   bin/udp-client, three ephemeral ports in bin/udp-server's log.
2. Exercise 1a: a client for a port where no server listens.  Connected
   socket: "connection refused" at once; unconnected (as in the lab):
   only the timeout ends the wait.  /proc/net/snmp shows the ICMP error
   did come back.
3. Exercise 1b: a faulty client that exits before the reply.  What
   bin/udp-server sees, and what happens to a naive server that asks the
   kernel for ICMP errors (IP_RECVERR) and does not expect them.

Only 127.0.0.1 is used.
"""

import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demolib as d             # noqa: E402
from demolib import tr, ev, say  # noqa: E402

IP_RECVERR = getattr(socket, "IP_RECVERR", 11)   # Linux <linux/in.h>


def run_client(port, line, extra=(), timeout=1.0):
    """bin/udp-client with one line of input; (status, out, err, seconds)."""
    args = [d.bin_path("udp-client"), "--port", str(port), "--timeout",
            "%g" % timeout] + list(extra)
    t = time.monotonic()
    try:
        p = subprocess.run(args, input=(line + "\n").encode(), capture_output=True,
                           timeout=timeout + 10)
        status = p.returncode
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        status, out, err = None, "", "killed after %g s" % (timeout + 10)
    return status, out.strip(), err.strip(), time.monotonic() - t


def dead_port():
    """A UDP port on 127.0.0.1 where nobody listens (just released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def part_ports(srv, doc):
    say(tr("\n-- The server prints each client's address and port --",
           "\n-- Il server stampa indirizzo e porta di ogni client --"))
    say(tr('Slide: "Esercizio: modificare il server in modo che scriva l\'indirizzo IP\n'
           'e numero di porta del client."  (Make the server print the client\'s IP\n'
           'address and port.)  bin/udp-server logs one line per datagram:',
           'Slide: "Esercizio: modificare il server in modo che scriva l\'indirizzo IP\n'
           'e numero di porta del client."  bin/udp-server scrive una riga per\n'
           'datagramma:'))
    runs = []
    for word in ("ciao", "socket", "udp"):
        start = len(srv.lines)
        status, out, err, secs = run_client(srv.port, word)
        seen = srv.wait_for(d.DATAGRAM, 2.0, start)
        cport = int(seen[1].rsplit(":", 1)[1].split()[0]) if seen else None
        ev("client", tr("sent %r, got %r (exit %s); the server saw port %s",
                        "inviato %r, ricevuto %r (codice di uscita %s); il server ha visto la porta %s")
           % (word, out, status, cport))
        runs.append({"sent": word, "reply": out, "status": status, "client_port": cport})
    ports = [r["client_port"] for r in runs]
    say(tr("Each run of the client got a new ephemeral port from the kernel: %s.",
           "Ogni esecuzione del client ha avuto dal kernel una nuova porta effimera: %s.")
        % ", ".join(str(p) for p in ports))
    doc["ports"] = runs
    doc["ports_distinct"] = len(set(ports)) == len(ports) and None not in ports


def wait_forever(port, watch):
    """The lab's first client: no settimeout().  bin/udp-client
    --timeout none, watched for `watch` seconds, then stopped."""
    args = [d.bin_path("udp-client"), "--port", str(port), "--no-connect",
            "--timeout", "none"]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b"hello\n")
    p.stdin.flush()
    try:
        p.wait(watch)
        waiting = False
    except subprocess.TimeoutExpired:
        waiting = True
        p.terminate()
        p.wait()
    for f in (p.stdin, p.stdout, p.stderr):
        f.close()
    if waiting:
        ev("client", tr("--no-connect --timeout none (the lab's client without settimeout()):\n"
                        "still waiting after %.1f s, and it would wait for ever; the demo\n"
                        "stopped it with SIGTERM",
                        "--no-connect --timeout none (il client del lab senza settimeout()):\n"
                        "ancora in attesa dopo %.1f s, e aspetterebbe per sempre; la demo\n"
                        "l'ha fermato con SIGTERM") % watch)
    else:
        ev("client", tr("--timeout none: ended by itself (codice %s)",
                        "--timeout none: terminato da solo (codice di uscita %s)") % p.returncode)
    return {"still_waiting": waiting, "watched_s": watch}


def part_dead(doc, timeout):
    say(tr("\n-- Exercise 1a: no server on the port --",
           "\n-- Esercizio 1a: nessun server sulla porta --"))
    say(tr('Slide: "Scrivere un nuovo client UDP che non dia errore nel caso di server\n'
           'inesistente."  (A UDP client that does not fail when there is no server.)',
           'Slide: "Scrivere un nuovo client UDP che non dia errore nel caso di server\n'
           'inesistente."'))
    d.ask("1a", tr("the client sends to a port where no server listens.  Does it\n"
                   "get an error, or wait?  Connected or not, does it matter?",
                   "il client invia a una porta dove nessun server ascolta.\n"
                   "Riceve un errore o aspetta?  Connesso o no, cambia qualcosa?"))
    port = dead_port()
    out = {"port": port, "timeout": timeout}
    for key, extra, what in (
            ("connected", [], tr("connected socket (connect() then send/recv)",
                                 "socket connesso (connect() poi send/recv)")),
            ("unconnected", ["--no-connect"], tr("unconnected socket (sendto/recvfrom, as the lab)",
                                                  "socket non connesso (sendto/recvfrom, come nel lab)"))):
        before = d.read_snmp()
        status, o, err, secs = run_client(port, tr("hello", "ciao"), extra, timeout)
        secs = round(secs, 4)
        after = d.read_snmp()
        icmp = d.snmp_delta(before, after, "Icmp", "InDestUnreachs")
        noports = d.snmp_delta(before, after, "Udp", "NoPorts")
        ev("client", "%s:\n%22s%s" % (what, "", tr("exit status %s after %.3f s: %s",
                                                   "codice di uscita %s dopo %.3f s: %s")
                                          % (status, secs, err or o)))
        ev("kernel", tr("Udp NoPorts +%s, Icmp InDestUnreachs +%s (whole machine)",
                        "Udp NoPorts +%s, Icmp InDestUnreachs +%s (tutta la macchina)")
           % (noports, icmp))
        out[key] = {"status": status, "seconds": secs, "stderr": err,
                    "udp_noports_delta": noports, "icmp_in_dest_unreach_delta": icmp}
    out["forever"] = wait_forever(port, 2 * timeout)
    c, u = out["connected"], out["unconnected"]
    if c["udp_noports_delta"] and u["udp_noports_delta"]:
        say(tr("Measured: the kernel answered both datagrams with an ICMP \"port\n"
               "unreachable\" (Udp NoPorts, Icmp InDestUnreachs).",
               "Misurato: il kernel ha risposto a entrambi i datagrammi con un ICMP\n"
               "\"porta irraggiungibile\" (Udp NoPorts, Icmp InDestUnreachs)."))
    say(tr("Why: the kernel answers a datagram for a closed port with an ICMP error.\n"
           "A connected socket has one peer, so Linux hands the error to it: the next\n"
           "recv() fails with ECONNREFUSED, here after %.3f s.  An unconnected socket\n"
           "could be talking to anyone, so Linux keeps the error to itself: only the\n"
           "timeout (settimeout in the lab, --timeout here) ends the wait, after %.3f s.\n"
           "Without a timeout it waits for ever (--timeout none above).  With one, the client ends\n"
           "with a message and a non-zero status, not a crash.",
           "Perché: il kernel risponde a un datagramma per una porta chiusa con un\n"
           "errore ICMP.  Un socket connesso ha un solo interlocutore, quindi Linux gli\n"
           "passa l'errore: la recv() successiva fallisce con ECONNREFUSED, qui dopo\n"
           "%.3f s.  Un socket non connesso potrebbe parlare con chiunque, quindi Linux\n"
           "tiene l'errore per sé: solo il timeout (settimeout nel lab, qui --timeout)\n"
           "chiude l'attesa, dopo %.3f s.  Senza timeout aspetta per sempre (--timeout\n"
           "none qui sopra).  Con un timeout il client termina con un messaggio e un\n"
           "codice di uscita non zero, senza eccezioni non gestite.") % (c["seconds"], u["seconds"]))
    doc["dead_port"] = out


def part_faulty(srv, doc):
    say(tr("\n-- Exercise 1b: a client that exits before the reply --",
           "\n-- Esercizio 1b: un client che termina prima della risposta --"))
    say(tr('Slide: "Scrivere un client UDP errato che termina prima di ricevere la\n'
           'risposta dal server. Cosa accade al server? Che modifiche sono necessarie?"\n'
           '(A faulty client that exits before the reply: what happens to the server?)',
           'Slide: "Scrivere un client UDP errato che termina prima di ricevere la\n'
           'risposta dal server. Cosa accade al server? Che modifiche sono necessarie?"'))
    d.ask("1b", tr("a client exits before the server's reply arrives.  What\n"
                   "happens to the server?",
                   "un client termina prima che arrivi la risposta del server.\n"
                   "Cosa succede al server?"))
    out = {}
    before = d.read_snmp()
    start = len(srv.lines)
    # On a real network the reply takes far longer than a close(); on
    # loopback the server may win the race, so we hold it for a moment.
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"bye", ("127.0.0.1", srv.port))
        fport = s.getsockname()[1]
        s.close()
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    ev(tr("faulty", "errato"), tr("sent \"bye\" from port %d and closed its socket before the\n"
                    "                      server could answer (the server was held with SIGSTOP)",
                    "inviato \"bye\" dalla porta %d e chiuso il socket prima che il server\n"
                    "                      potesse rispondere (server fermato con SIGSTOP)") % fport)
    seen = srv.wait_for(d.DATAGRAM + r"127\.0\.0\.1:%d\b" % fport, 2.0, start)
    time.sleep(0.2)                 # let the reply and the ICMP error be counted
    after = d.read_snmp()
    noports = d.snmp_delta(before, after, "Udp", "NoPorts")
    icmp_out = d.snmp_delta(before, after, "Icmp", "OutDestUnreachs")
    ev("kernel", tr("Udp NoPorts +%s, Icmp OutDestUnreachs +%s (whole machine)",
                    "Udp NoPorts +%s, Icmp OutDestUnreachs +%s (tutta la macchina)")
       % (noports, icmp_out))
    start2 = len(srv.lines)
    probe = tr("still there?", "ci sei ancora?")
    status, o, err, secs = run_client(srv.port, probe)
    srv.wait_for(d.DATAGRAM, 2.0, start2)
    ev("client", tr("a normal client afterwards: %r (exit %s)",
                    "un client normale subito dopo: %r (codice di uscita %s)") % (o, status))
    out["server_saw_datagram"] = seen is not None
    out["udp_noports_delta"] = noports
    out["icmp_out_dest_unreach_delta"] = icmp_out
    out["server_alive"] = srv.proc.poll() is None and status == 0 and o == probe.upper()
    out["server_errors"] = [l for _, l in srv.lines[start:] if l.startswith("stderr: ")]

    # A naive server: IP_RECVERR on, and no try/except around recvfrom.
    n = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n.bind(("127.0.0.1", 0))
    n.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    n.settimeout(2)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.sendto(b"bye", n.getsockname())
    msg, addr = n.recvfrom(2048)
    c.close()                       # the faulty client is gone ...
    n.sendto(msg.upper(), addr)     # ... so this reply bounces (ICMP)
    try:
        n.recvfrom(2048)
        naive = "no error"
    except ConnectionRefusedError as e:
        naive = "ECONNREFUSED (%s)" % d.strerror(e.errno)
    except socket.timeout:
        naive = "timeout"
    n.close()
    ev(tr("naive", "ingenuo"), tr("a server with IP_RECVERR set: its next recvfrom() raised %s",
                   "un server con IP_RECVERR: la sua recvfrom() successiva ha sollevato %s") % naive)
    out["naive_recverr_next_recvfrom"] = naive
    bounced = bool(noports) and bool(icmp_out)
    if bounced:
        say(tr("Measured: the reply found no socket (Udp NoPorts) and the kernel sent an\n"
               "ICMP \"port unreachable\" back to the server (Icmp OutDestUnreachs).",
               "Misurato: la risposta non ha trovato alcun socket (Udp NoPorts) e il\n"
               "kernel ha rimandato al server un ICMP \"porta irraggiungibile\"\n"
               "(Icmp OutDestUnreachs)."))
    say(tr("What happens: nothing breaks on the server.  It received the datagram\n"
           "and answered; the answer is lost.  The lab's server (an unconnected\n"
           "socket, no IP_RECVERR) is not told; bin/udp-server went on\n"
           "serving%s.\n"
           "What must change: a server that connect()s its UDP socket, or sets\n"
           "IP_RECVERR, gets that ICMP as ECONNREFUSED on its next recvfrom() (the\n"
           "naive server above would die on an unhandled exception).  A robust\n"
           "server treats such errors as about one peer, not about itself: it\n"
           "logs them and goes on (bin/udp-server does), and never waits on one\n"
           "client.",
           "Cosa succede: sul server non si rompe nulla.  Ha ricevuto il datagramma e\n"
           "risposto; la risposta è persa.  Il server del lab (socket non connesso,\n"
           "niente IP_RECVERR) non ne sa nulla; bin/udp-server ha continuato a\n"
           "servire%s.\n"
           "Cosa cambiare: un server che fa connect() sul socket UDP, o imposta\n"
           "IP_RECVERR, riceve quell'ICMP come ECONNREFUSED alla recvfrom() successiva\n"
           "(il server ingenuo qui sopra morirebbe per un'eccezione non gestita).  Un\n"
           "server robusto tratta questi errori come relativi a un client, non a sé:\n"
           "li registra e prosegue (come bin/udp-server), e non aspetta mai un solo\n"
           "client.") % (tr(" (no error in its log)", " (nessun errore nel suo log)")
                         if not out["server_errors"] else ""))
    say(tr("On Windows the lab's own server dies here, which is why the slide asks.\n"
           "There an unconnected UDP socket does get the ICMP error: the next\n"
           "recvfrom() fails with WSAECONNRESET (10054), which Python raises as\n"
           "ConnectionResetError, and the slide's server has no try/except.  Linux\n"
           "tells an unconnected socket nothing unless it asks (IP_RECVERR), so the\n"
           "same server goes on.  Portable fix: catch the error around recvfrom()\n"
           "and keep serving (on Windows also: ioctl SIO_UDP_CONNRESET off).",
           "Su Windows il server del lab qui muore, ed è per questo che la slide lo\n"
           "chiede.  Lì anche un socket UDP non connesso riceve l'errore ICMP: la\n"
           "recvfrom() successiva fallisce con WSAECONNRESET (10054), che Python\n"
           "solleva come ConnectionResetError, e il server della slide non ha\n"
           "try/except.  Linux a un socket non connesso non dice nulla se non lo\n"
           "chiede (IP_RECVERR), quindi lo stesso server prosegue.  Correzione\n"
           "portabile: catturare l'errore attorno a recvfrom() e continuare a servire\n"
           "(su Windows anche: ioctl SIO_UDP_CONNRESET disattivato)."))
    doc["faulty"] = out


def main():
    p = d.parser("The lab's UDP exercises, measured.")
    p.add_argument("--timeout", type=float, default=1.0,
                   help="the client's reply timeout in seconds (default 1)")
    args = p.parse_args()
    d.setup(args)
    d.need("udp-server", "udp-client")
    say(tr("== UDP: client addresses, a missing server, a client that leaves early ==",
           "== UDP: indirizzi dei client, server assente, client che se ne va prima =="))
    srv = d.Program([d.bin_path("udp-server"), "--port", "0"])
    ev("server", srv.told())
    doc = {"demo": "udp", "server_port": srv.port}
    say(tr("The slides check the server with netstat -aut; ss -uan shows its socket:",
           "Le slide controllano il server con netstat -aut; ss -uan mostra il suo socket:"))
    rows = d.ss("uan", srv.port)
    doc["ss_state"] = rows[0][0] if rows else None
    say(tr("UNCONN: a UDP socket has no connection; it is bound and receives from anyone.",
           "UNCONN: un socket UDP non ha connessione; è legato alla porta e riceve da\n"
           "chiunque."))
    try:
        part_ports(srv, doc)
        part_dead(doc, args.timeout)
        part_faulty(srv, doc)
    finally:
        doc["server_status"] = srv.stop()
    d.write_json(args.json, doc)
    ok = doc.get("ports_distinct") and doc.get("faulty", {}).get("server_alive")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
