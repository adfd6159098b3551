#!/usr/bin/env python3
"""tcp_server.py [PORTA] [--host HOST]: il primo server TCP delle slide:
accetta, legge una riga, risponde in maiuscolo, chiude; un client alla
volta.  bin/server --model oneshot e' lo stesso in C.

Corretto rispetto alle slide:
- il codice gira (virgolette, `Print`);
- una sola recv(1024) puo' restituire solo una parte della riga (TCP non
  delimita i messaggi): si legge fino a '\\n', e si decodifica la riga
  intera, perche' un carattere UTF-8 puo' essere diviso tra due recv();
- sendall() invece di send(), che puo' inviarne solo una parte;
- "surrogateescape": byte non UTF-8 non uccidono il server;
- un client che chiude o resetta la connessione non ferma il server;
- SO_REUSEADDR: senza, riavviare il server subito dopo che ha chiuso
  delle connessioni fallisce con "Address already in use" (TIME_WAIT);
- ascolta su 127.0.0.1 (--host 0.0.0.0 per tutte le interfacce).
PORTA 0 sceglie una porta libera; la prima riga dice quale.
"""
import argparse
import socket

MAX_LINE = 65536

p = argparse.ArgumentParser(description="Il server TCP a colpo singolo.")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta (default 12000; 0 = una porta libera)")
p.add_argument("--host", default="127.0.0.1",
               help="indirizzo (default 127.0.0.1; 0.0.0.0 = tutti)")
a = p.parse_args()


def read_line(conn):
    """I byte fino a '\\n' compreso; meno se il client chiude prima."""
    data = b""
    while b"\n" not in data and len(data) < MAX_LINE:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0] + b"\n" if b"\n" in data else data


serverSocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
serverSocket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
serverSocket.bind((a.host, a.port))
serverSocket.listen(1)
print("Il server è pronto a ricevere sulla porta %d"
      % serverSocket.getsockname()[1], flush=True)
while True:
    connectionSocket, clientAddress = serverSocket.accept()
    print("Connesso con: %s porta %d" % clientAddress, flush=True)
    try:
        connectionSocket.settimeout(60)
        sentence = read_line(connectionSocket)
        if sentence:
            capitalized = sentence.decode("utf-8", "surrogateescape").upper()
            connectionSocket.sendall(
                capitalized.encode("utf-8", "surrogateescape"))
    except OSError as e:
        print("Connessione con %s porta %d: %s" % (clientAddress + (e,)),
              flush=True)
    finally:
        connectionSocket.close()
