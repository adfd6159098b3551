#!/usr/bin/env python3
"""tcp_server_thread.py [PORTA] [--host HOST] [--quiet]: il server
multithread delle slide: il thread principale accetta, ogni connessione
e' servita da un thread nuovo, con la sessione di
tcp_server_persistent.py.  --quiet: nessuna riga per sessione (per le
misure, dove scrivere il log costerebbe piu' del servizio).

Corretto rispetto alle slide:
- la sessione e' quella corretta di tcp_server_persistent.py (righe
  intere, "." anche nello stesso segmento, UTF-8 diviso, fine input);
- i thread sono "daemon": Ctrl-C ferma il server anche con sessioni
  aperte;
- SO_REUSEADDR non serve a "usare piu' volte la stessa porta" per i
  thread (tutti usano il socket di ascolto, che e' uno): serve a
  riavviare il server mentre le connessioni chiuse sono in TIME_WAIT;
- ogni riga del log dice quale thread ha servito la sessione.
PORTA 0 sceglie una porta libera; la prima riga dice quale.
"""
import threading

from tcp_server_persistent import args, listener, session

a = args("Il server TCP persistente, un thread per connessione.")
# listen(128), non 1: con un thread per connessione l'accept() e' pronto
# subito, e una coda di 1 farebbe scartare i SYN di chi arriva insieme.
serverSocket = listener(a.host, a.port, 128)
while True:
    connectionSocket, clientAddress = serverSocket.accept()
    t = threading.Thread(target=lambda c=connectionSocket, ad=clientAddress:
                         session(c, ad, threading.current_thread().name),
                         daemon=True)
    t.start()
