#!/usr/bin/env python3
"""udp_server.py [PORTA] [--host HOST]: il server UDP delle slide, che
scrive indirizzo IP e porta di ogni client (l'esercizio delle slide).

Corretto rispetto alle slide:
- il codice gira (virgolette, `Print`);
- ascolta su localhost (127.0.0.1) e non su '' (tutte le interfacce):
  per due macchine distinte si passa --host 0.0.0.0;
- un datagramma che non e' UTF-8 valido non uccide il server: decode()
  con "surrogateescape" lascia com'e' ogni byte non valido, e upper()
  cambia solo le lettere;
- esercizio 1b: su Windows, se un client se ne va prima della risposta,
  la recvfrom() seguente solleva ConnectionResetError (WSAECONNRESET,
  10054) e il server delle slide muore; qui lo si ignora e si continua.
  Linux non riporta l'errore su un socket UDP non connesso.
- recvfrom(65535), il massimo di UDP, invece di 2048.
PORTA 0 sceglie una porta libera; la prima riga dice quale.
"""
import argparse
import socket

p = argparse.ArgumentParser(description="Il server UDP del laboratorio.")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta (default 12000; 0 = una porta libera)")
p.add_argument("--host", default="127.0.0.1",
               help="indirizzo (default 127.0.0.1; 0.0.0.0 = tutti)")
a = p.parse_args()

serverSocket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
serverSocket.bind((a.host, a.port))
print("Il server è pronto a ricevere sulla porta %d"
      % serverSocket.getsockname()[1], flush=True)
while True:
    try:
        message, clientAddress = serverSocket.recvfrom(65535)
    except ConnectionResetError:
        continue        # Windows: il client precedente non c'e' piu'
    print("Datagramma da %s porta %d" % clientAddress, flush=True)
    modified = message.decode("utf-8", "surrogateescape").upper()
    serverSocket.sendto(modified.encode("utf-8", "surrogateescape"),
                        clientAddress)
