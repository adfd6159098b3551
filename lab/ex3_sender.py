#!/usr/bin/env python3
"""ex3_sender.py [PORTA] [--host HOST] [--pause SEC] [--nodelay]: il
client dell'esercizio 3: 100 caratteri, una send() per carattere.

(a) senza pausa: il ricevitore vede poche recv() grandi (l'algoritmo di
Nagle e lo stream TCP uniscono i byte); (b) con --pause 0.01: circa una
recv() per carattere.  --nodelay toglie Nagle (TCP_NODELAY).

Corretto rispetto alle slide: "carattere" qui e' un byte ASCII (un
carattere UTF-8 puo' essere di piu' byte); la connessione si chiude alla
fine, cosi' il ricevitore sa che i 100 byte sono finiti.
"""
import argparse
import socket
import time

p = argparse.ArgumentParser(description="Esercizio 3: 100 send() di un byte.")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta del ricevitore (default 12000)")
p.add_argument("--host", default="localhost",
               help="indirizzo del ricevitore (default localhost)")
p.add_argument("--pause", type=float, default=0.0,
               help="secondi di pausa dopo ogni send() (default 0)")
p.add_argument("--nodelay", action="store_true",
               help="imposta TCP_NODELAY (niente algoritmo di Nagle)")
a = p.parse_args()

s = socket.create_connection((a.host, a.port), 10)
if a.nodelay:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(100):
    s.sendall(b"abcdefghij"[i % 10:i % 10 + 1])
    if a.pause > 0:
        time.sleep(a.pause)
s.close()
print("100 caratteri inviati con 100 send()")
