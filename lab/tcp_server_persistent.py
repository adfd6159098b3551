#!/usr/bin/env python3
"""tcp_server_persistent.py [PORTA] [--host HOST] [--quiet]: il server
persistente delle slide: una sessione per connessione, una risposta per
riga; la riga "." chiude la sessione.  Serve un client alla volta (iterativo):
e' il server dell'esercizio 2.

Corretto rispetto alle slide:
- una recv() non e' una riga (TCP non delimita i messaggi): i byte si
  accumulano e si risponde a ogni riga completa.  Cosi' funzionano una
  riga divisa in piu' segmenti, piu' righe in un segmento, e un "." che
  arriva nello stesso segmento della riga prima;
- si decodifica la riga intera, non ogni recv(): un carattere UTF-8
  (come "è") puo' essere diviso tra due recv();
- recv() che restituisce b"" vuol dire che il client ha chiuso: la
  sessione finisce (il server delle slide ciclava su letture vuote);
- sendall() invece di send(); "surrogateescape" per i byte non UTF-8;
  una riga oltre 64 KiB chiude la sessione invece di riempire la memoria;
- un client che resetta la connessione non ferma il server;
- SO_REUSEADDR (il riavvio dopo TIME_WAIT), e 127.0.0.1 di default.
PORTA 0 sceglie una porta libera; la prima riga dice quale.
tcp_server_thread.py usa serve_session() di questo file.
"""
import argparse
import socket

MAX_LINE = 65536


def serve_session(conn):
    """Una risposta per ogni riga, fino a ".", alla fine dell'input o a
    una riga troppo lunga.  Restituisce il numero di righe servite."""
    pending = b""
    served = 0
    while True:
        data = conn.recv(4096)
        if not data:
            return served               # il client ha chiuso
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line in (b".", b".\r"):
                return served
            text = line.decode("utf-8", "surrogateescape").upper()
            conn.sendall((text + "\n").encode("utf-8", "surrogateescape"))
            served += 1
        if len(pending) > MAX_LINE:
            conn.sendall(b"ERR line too long (max %d bytes)\n" % MAX_LINE)
            return served


def listener(host, port, backlog=1):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    print("Il server è pronto a ricevere sulla porta %d"
          % s.getsockname()[1], flush=True)
    return s


QUIET = False       # --quiet: nessuna riga per sessione


def log(text):
    if not QUIET:
        print(text, flush=True)


def session(conn, addr, who):
    log("Connesso con: %s porta %d (%s)" % (addr + (who,)))
    try:
        n = serve_session(conn)
        log("Fine sessione con %s porta %d: %d righe" % (addr + (n,)))
    except OSError as e:
        log("Sessione con %s porta %d: %s" % (addr + (e,)))
    finally:
        conn.close()


def args(what):
    p = argparse.ArgumentParser(description=what)
    p.add_argument("port", nargs="?", type=int, default=12000,
                   help="porta (default 12000; 0 = una porta libera)")
    p.add_argument("--host", default="127.0.0.1",
                   help="indirizzo (default 127.0.0.1; 0.0.0.0 = tutti)")
    p.add_argument("--quiet", action="store_true",
                   help="nessuna riga per sessione (per le misure)")
    a = p.parse_args()
    global QUIET
    QUIET = a.quiet
    return a


if __name__ == "__main__":
    a = args("Il server TCP persistente, iterativo.")
    serverSocket = listener(a.host, a.port)
    while True:
        connectionSocket, clientAddress = serverSocket.accept()
        session(connectionSocket, clientAddress, "processo principale")
