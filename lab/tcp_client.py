#!/usr/bin/env python3
"""tcp_client.py [PORTA] [--host HOST]: il primo client TCP delle slide:
una riga, una risposta, chiude.

Corretto rispetto alle slide:
- il codice gira (virgolette, `Print`, serverName);
- la riga parte con il suo '\\n': e' cosi' che il server sa dove finisce
  (TCP non delimita i messaggi);
- sendall() invece di send(): send() puo' inviarne solo una parte;
- una sola recv(1024) puo' restituire solo una parte della risposta: si
  legge fino a '\\n' (o alla chiusura del server);
- un server che non c'e' da' un messaggio e stato di uscita 1, non una
  traccia di eccezione.
"""
import argparse
import socket
import sys

p = argparse.ArgumentParser(description="Il client TCP a colpo singolo.")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta del server (default 12000)")
p.add_argument("--host", default="localhost",
               help="indirizzo del server (default localhost)")
p.add_argument("--timeout", type=float, default=10.0,
               help="secondi di attesa (default 10)")
a = p.parse_args()

sentence = input("Inserisci lettere: ")
try:
    clientSocket = socket.create_connection((a.host, a.port), a.timeout)
    clientSocket.sendall((sentence + "\n").encode("utf-8"))
    reply = b""
    while not reply.endswith(b"\n"):
        data = clientSocket.recv(4096)
        if not data:
            break
        reply += data
    clientSocket.close()
except OSError as e:
    print("Server non raggiungibile: %s" % e, file=sys.stderr)
    sys.exit(1)
print("Dal Server:", reply.decode("utf-8", "replace").rstrip("\n"))
