#!/usr/bin/env python3
"""udp_client.py [PORTA] [--host HOST] [--timeout SEC]: il client UDP
delle slide, con il timeout (esercizio 1a).

Corretto rispetto alle slide:
- le virgolette tipografiche e `Print` non sono Python: qui il codice gira;
- il timeout c'e' sempre (1 s): senza, un client verso una porta dove
  nessuno ascolta (12001) aspetta per sempre, perche' su un socket UDP non
  connesso Linux non riporta l'errore ICMP "port unreachable";
- `except:` da solo cattura tutto, anche Ctrl-C e gli errori di
  battitura: qui si catturano solo il timeout e l'errore di connessione
  (ConnectionResetError su Windows, ConnectionRefusedError altrove), e il
  programma esce con stato 1;
- recvfrom(2048): un datagramma piu' lungo verrebbe troncato; 65535 e' il
  massimo di UDP.
"""
import argparse
import socket
import sys

p = argparse.ArgumentParser(description="Il client UDP del laboratorio.")
p.add_argument("port", nargs="?", type=int, default=12000,
               help="porta del server (default 12000)")
p.add_argument("--host", default="localhost",
               help="indirizzo del server (default localhost)")
p.add_argument("--timeout", type=float, default=1.0,
               help="secondi di attesa della risposta (default 1)")
a = p.parse_args()

message = input("Inserisci lettere: ")
clientSocket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
clientSocket.settimeout(a.timeout)
try:
    clientSocket.sendto(message.encode("utf-8"), (a.host, a.port))
    modifiedMessage, serverAddress = clientSocket.recvfrom(65535)
    print(modifiedMessage.decode("utf-8", errors="replace"))
except (socket.timeout, ConnectionError):
    print("Timeout scaduti: Server non raggiungibile")
    sys.exit(1)
finally:
    clientSocket.close()
