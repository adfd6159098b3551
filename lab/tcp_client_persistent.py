#!/usr/bin/env python3
"""tcp_client_persistent.py [PORTA] [--host HOST]: il client persistente
delle slide: una connessione, tante righe; la riga "." chiude.

Corretto rispetto alle slide:
- ogni riga parte con il suo '\\n', e la risposta si legge fino a '\\n':
  una recv() non e' un messaggio (TCP non delimita i messaggi), e senza
  questo una risposta puo' arrivare a meta' o insieme alla seguente;
- sendall() invece di send();
- la fine dell'input (Ctrl-D) chiude la sessione come "."; un server che
  chiude prima, o che non c'e', da' un messaggio e stato di uscita 1.
"""
import argparse
import socket
import sys

p = argparse.ArgumentParser(description="Il client TCP persistente.")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta del server (default 12000)")
p.add_argument("--host", default="localhost",
               help="indirizzo del server (default localhost)")
a = p.parse_args()

try:
    clientSocket = socket.create_connection((a.host, a.port), 10)
    clientSocket.settimeout(None)
except OSError as e:
    print("Server non raggiungibile: %s" % e, file=sys.stderr)
    sys.exit(1)
replies = clientSocket.makefile("rb")   # legge per righe, con un buffer
while True:
    try:
        sentence = input("Inserisci lettere (. per finire): ")
    except EOFError:
        sentence = "."
    clientSocket.sendall((sentence + "\n").encode("utf-8"))
    if sentence == ".":
        break
    reply = replies.readline()
    if not reply.endswith(b"\n"):
        print("Il server ha chiuso la connessione", file=sys.stderr)
        sys.exit(1)
    print("Dal Server:", reply.decode("utf-8", "replace").rstrip("\n"))
clientSocket.close()
