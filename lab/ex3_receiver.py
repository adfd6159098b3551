#!/usr/bin/env python3
"""ex3_receiver.py [PORTA] [--host HOST]: il server dell'esercizio 3:
per ogni connessione scrive quanti byte restituisce ogni recv(), e alla
fine il totale.

Corretto rispetto alle slide: la recv() chiede 1024 byte, piu' dei 100
inviati, perche' si veda quanti ne arrivano insieme (con recv(1) ogni
recv() ne darebbe uno e l'esperimento non mostrerebbe nulla); la fine
della connessione (recv() == b"") chiude il conteggio.
PORTA 0 sceglie una porta libera; la prima riga dice quale.
"""
import argparse
import socket

p = argparse.ArgumentParser(description="Esercizio 3: conta le recv().")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta (default 12000; 0 = una porta libera)")
p.add_argument("--host", default="127.0.0.1",
               help="indirizzo (default 127.0.0.1; 0.0.0.0 = tutti)")
a = p.parse_args()

serverSocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
serverSocket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
serverSocket.bind((a.host, a.port))
serverSocket.listen(1)
print("Il server è pronto a ricevere sulla porta %d"
      % serverSocket.getsockname()[1], flush=True)
while True:
    conn, addr = serverSocket.accept()
    print("Connesso con: %s porta %d" % addr, flush=True)
    calls = total = 0
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            calls += 1
            total += len(data)
            print("recv() %d: %d byte" % (calls, len(data)), flush=True)
    print("Totale: %d byte in %d recv()" % (total, calls), flush=True)
