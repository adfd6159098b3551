#!/usr/bin/env python3
"""handouts.py - the lab's handouts, built from the demos run here.

One page per exercise (1, 2, the backlog, 3), in Italian and English, for
students (the question, room for a prediction, the commands for each
terminal, what to look at) and for the teacher (the same, then the
answer with the output measured on this machine).  The diagrams are SVG
drawn from what the demos record in their --json: the exercise 2
timeline, the accept queue of listen(1) and the backlog timeline.
Markdown goes through pandoc into HTML:

    python3 scripts/handouts.py --out build/handouts    (make handouts)

Each demo runs once per language with short options (about 25 s in all).
"""

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SOCKLAB_BIN") or os.path.join(REPO, "bin")
LANGS = ("it", "en")

# exercise -> the demo that answers it, with options that keep it short
DEMOS = {
    "exercise-1": [sys.executable, os.path.join(REPO, "demos", "demo-udp.py"), "--timeout", "0.5"],
    "exercise-2": [sys.executable, os.path.join(REPO, "demos", "demo-exercise2.py"),
                   "--wait", "0.5", "--models", "iterative,thread"],
    "backlog": [os.path.join(BIN, "demo-backlog"), "--short"],
    "exercise-3": [os.path.join(BIN, "demo-exercise3"), "--rounds", "3"],
}

# The words of each page.  {x} fields are filled from the measurements.
TEXT = {
    "exercise-1": {
        "en": {
            "title": "Exercise 1: UDP",
            "questions": [
                "1a. Write a UDP client that does not fail when the server does not exist. "
                "What does a client that sends to a port where nobody listens see?",
                "1b. Write a faulty UDP client that exits before the server's reply. "
                "What happens to the server? What must change?"],
            "terminals": [("Terminal 1: the server", "bin/udp-server --port 12000"),
                          ("Terminal 2: a client, then the socket", "echo ciao | bin/udp-client --port 12000\nss -uan"),
                          ("Terminal 2: 1a, nobody on 12001",
                           "echo ciao | bin/udp-client --port 12001\n"
                           "echo ciao | bin/udp-client --port 12001 --no-connect --timeout 1\n"
                           "echo ciao | bin/udp-client --port 12001 --no-connect --timeout none   # Ctrl-C")],
            "look": ["the client's port in the server's log: a new one each run",
                     "how long each 1a client takes to give up, and its exit code",
                     "whether the server is still serving after 1b"],
            "answer": "Connected socket: refused after {conn_s} s (exit code {conn_rc}); unconnected: only "
                      "the timeout ends the wait, after {unconn_s} s; with no timeout it waits for ever. "
                      "1b: the server received the datagram and answered, the answer was lost "
                      "(Udp NoPorts +{noports}); it went on serving: {alive}. On Windows the same Python "
                      "server dies (WSAECONNRESET, 10054) unless it catches the error.",
        },
        "it": {
            "title": "Esercizio 1: UDP",
            "questions": [
                "1a. Scrivere un nuovo client UDP che non dia errore nel caso di server inesistente. "
                "Cosa vede un client che invia a una porta dove nessuno ascolta?",
                "1b. Scrivere un client UDP errato che termina prima di ricevere la risposta dal server. "
                "Cosa accade al server? Che modifiche sono necessarie?"],
            "terminals": [("Terminale 1: il server", "bin/udp-server --port 12000"),
                          ("Terminale 2: un client, poi il socket", "echo ciao | bin/udp-client --port 12000\nss -uan"),
                          ("Terminale 2: 1a, nessuno sulla 12001",
                           "echo ciao | bin/udp-client --port 12001\n"
                           "echo ciao | bin/udp-client --port 12001 --no-connect --timeout 1\n"
                           "echo ciao | bin/udp-client --port 12001 --no-connect --timeout none   # Ctrl-C")],
            "look": ["la porta del client nel log del server: una nuova a ogni esecuzione",
                     "quanto impiega ogni client di 1a a rinunciare, e il suo codice di uscita",
                     "se il server serve ancora dopo 1b"],
            "answer": "Socket connesso: rifiutato dopo {conn_s} s (codice di uscita {conn_rc}); non connesso: "
                      "solo il timeout chiude l'attesa, dopo {unconn_s} s; senza timeout aspetta per sempre. "
                      "1b: il server ha ricevuto il datagramma e risposto, la risposta è persa "
                      "(Udp NoPorts +{noports}); ha continuato a servire: {alive}. Su Windows lo stesso server "
                      "Python muore (WSAECONNRESET, 10054) se non cattura l'errore.",
        },
    },
    "exercise-2": {
        "en": {
            "title": "Exercise 2: persistent clients",
            "questions": ["a) Run the persistent client and send several messages.",
                          "b) Without closing the first client, open a second and a third. What happens?",
                          "c) Send a message with the second client. What happens?",
                          "d) End the first client. What happens to the second now?"],
            "terminals": [("Terminal 1: the lab's server (iterative, listen(1))",
                           "bin/server --model iterative --backlog 1 --port 12000"),
                          ("Terminals 2, 3, 4: clients A, B, C", "bin/client --port 12000"),
                          ("Terminal 5: the queue and the bytes waiting", "ss -ltn '( sport = :12000 )'\n"
                           "ss -tn '( sport = :12000 )'"),
                          ("Then the same with", "bin/server --model thread --port 12000")],
            "look": ["when connect() returns for B and C, and when the server's log says it accepted them",
                     "Recv-Q of the listening socket (ss -ltn) and of B's connection (ss -tn)",
                     "which pid or tid the server's log names for each session"],
            "answer": "Iterative: B and C connect at once (the kernel completes the handshake), but the server "
                      "accept()s B only when A ends; meanwhile ss -ltn shows Recv-Q {lq} (B and C queued) and "
                      "ss -tn shows B's {bq} bytes unread. B's reply came {b_after} ms after A ended; C waited "
                      "for B in turn. Thread: B was answered at once, while A was still connected.",
        },
        "it": {
            "title": "Esercizio 2: client persistenti",
            "questions": ["a) Eseguire il client persistente e inviare messaggi multipli.",
                          "b) Senza chiudere il primo client, aprirne un secondo e poi un terzo. Cosa accade?",
                          "c) Inviare un messaggio con il secondo client. Cosa accade?",
                          "d) Terminare il primo client. Cosa accade ora al secondo client?"],
            "terminals": [("Terminale 1: il server del lab (iterativo, listen(1))",
                           "bin/server --model iterative --backlog 1 --port 12000"),
                          ("Terminali 2, 3, 4: i client A, B, C", "bin/client --port 12000"),
                          ("Terminale 5: la coda e i byte in attesa", "ss -ltn '( sport = :12000 )'\n"
                           "ss -tn '( sport = :12000 )'"),
                          ("Poi lo stesso con", "bin/server --model thread --port 12000")],
            "look": ["quando torna la connect() di B e C, e quando il log del server dice di averli accettati",
                     "Recv-Q del socket in ascolto (ss -ltn) e della connessione di B (ss -tn)",
                     "quale pid o tid il log del server indica per ogni sessione"],
            "answer": "Iterativo: B e C si connettono subito (il kernel completa l'handshake), ma il server fa "
                      "accept() di B solo quando A termina; intanto ss -ltn mostra Recv-Q {lq} (B e C in coda) e "
                      "ss -tn i {bq} byte di B non letti. La risposta a B è arrivata {b_after} ms dopo la fine "
                      "di A; C ha aspettato B a sua volta. Thread: B ha avuto risposta subito, con A ancora "
                      "connesso.",
        },
    },
    "backlog": {
        "en": {
            "title": "The listen() backlog",
            "questions": ["The slide: listen(1) makes a queue of 1+1; while the server serves the first "
                          "client, the second and third wait in the queue and the fourth is refused. "
                          "Is the fourth refused?"],
            "terminals": [("Terminal 1: a server busy with one client",
                           "bin/server --model iterative --backlog 1 --port 12000"),
                          ("Terminal 2: client 0, leave it open", "bin/client --port 12000"),
                          ("Terminals 3-5: three more clients", "bin/client --port 12000 --timeout none"),
                          ("Terminal 6", "ss -ltn '( sport = :12000 )'\nss -tn state syn-sent"),
                          ("Or all of it, timed", "make demo-backlog BACKLOG_ARGS=--short")],
            "look": ["Recv-Q and Send-Q of the listening socket",
                     "the clients in SYN-SENT: waiting, not refused",
                     "when each waiting client gets in after client 0 ends"],
            "answer": "listen({backlog}): {queued} connections completed and waited in the accept queue "
                      "(Recv-Q {rq}, Send-Q {sq}: backlog+1).  Clients left outside: {waiting}, none refused: "
                      "the kernel dropped their SYN, they retransmitted it and got in after client 0 ended. "
                      "Served in the end: {served} of {n}. Linux's backlog bounds the queue of completed "
                      "connections, not of incomplete ones.",
        },
        "it": {
            "title": "Il backlog di listen()",
            "questions": ["La slide: listen(1) crea una coda di 1+1; mentre il server serve il primo client, "
                          "la seconda e la terza richiesta restano in coda e la quarta viene rifiutata. "
                          "La quarta viene davvero rifiutata?"],
            "terminals": [("Terminale 1: un server occupato con un client",
                           "bin/server --model iterative --backlog 1 --port 12000"),
                          ("Terminale 2: il client 0, lasciatelo aperto", "bin/client --port 12000"),
                          ("Terminali 3-5: altri tre client", "bin/client --port 12000 --timeout none"),
                          ("Terminale 6", "ss -ltn '( sport = :12000 )'\nss -tn state syn-sent"),
                          ("Oppure tutto, misurato", "make demo-backlog BACKLOG_ARGS=--short")],
            "look": ["Recv-Q e Send-Q del socket in ascolto",
                     "i client in SYN-SENT: in attesa, non rifiutati",
                     "quando entra ogni client in attesa dopo la fine del client 0"],
            "answer": "listen({backlog}): {queued} connessioni hanno completato l'handshake e aspettato nella "
                      "coda di accept (Recv-Q {rq}, Send-Q {sq}: backlog+1).  Client rimasti fuori: {waiting}, "
                      "nessuno rifiutato: il kernel ha scartato il loro SYN, che è stato ritrasmesso, e sono "
                      "entrati dopo la fine del client 0. Serviti alla fine: {served} su {n}. In Linux il backlog "
                      "limita la coda delle connessioni completate, non di quelle incomplete.",
        },
    },
    "exercise-3": {
        "en": {
            "title": "Exercise 3: a stream has no message boundaries",
            "questions": ["a) A client sends 100 characters with one send() each; the server prints how "
                          "many bytes each recv() returned. What happens?",
                          "b) Add a short pause after each send. What happens now?"],
            "terminals": [("Terminal 1: the receiver", "python3 lab/ex3_receiver.py"),
                          ("Terminal 2: the sender", "python3 lab/ex3_sender.py"),
                          ("Or both, measured", "make demo-exercise3")],
            "look": ["how many recv() calls the 100 bytes take, and their sizes",
                     "how that changes from run to run"],
            "answer": "Back to back: {b2b} recv() calls per run on average; with a {pause_ms} ms pause: "
                      "{paused}. TCP keeps no boundaries: how the bytes come out of recv() is timing, so a "
                      "protocol must mark where a message ends (here, a newline).",
        },
        "it": {
            "title": "Esercizio 3: uno stream non ha confini tra i messaggi",
            "questions": ["a) Un client invia 100 caratteri, una send() per carattere; il server stampa "
                          "quanti byte ha restituito ogni recv(). Cosa accade?",
                          "b) Inserire una breve pausa dopo ogni send. Cosa accade ora?"],
            "terminals": [("Terminale 1: il ricevitore", "python3 lab/ex3_receiver.py"),
                          ("Terminale 2: il mittente", "python3 lab/ex3_sender.py"),
                          ("Oppure entrambi, misurati", "make demo-exercise3")],
            "look": ["quante recv() servono per i 100 byte, e le loro dimensioni",
                     "come cambia da una prova all'altra"],
            "answer": "Una send dopo l'altra: in media {b2b} recv() per prova; con una pausa di {pause_ms} ms: "
                      "{paused}. TCP non conserva confini: come escono i byte da recv() dipende dai tempi, "
                      "quindi un protocollo deve segnare dove finisce un messaggio (qui, un a capo).",
        },
    },
}

WORDS = {
    "en": {"question": "The question", "predict": "Your prediction", "terminals": "Commands",
           "look": "What to look at", "answer": "The answer, measured on this machine",
           "output": "The demo's output", "teacher": "teacher", "student": "student",
           "queue": "The accept queue of listen({b}) while the server is busy",
           "timeline": "Timeline (seconds)", "busy": "server busy with client 0",
           "queued": "in the queue", "dropped": "SYN dropped, waiting",
           "release": "client 0 ends", "index": "socklab handouts"},
    "it": {"question": "La domanda", "predict": "La vostra previsione", "terminals": "Comandi",
           "look": "Cosa osservare", "answer": "La risposta, misurata su questa macchina",
           "output": "L'output della demo", "teacher": "docente", "student": "studente",
           "queue": "La coda di accept di listen({b}) mentre il server è occupato",
           "timeline": "Linea del tempo (secondi)", "busy": "server occupato col client 0",
           "queued": "in coda", "dropped": "SYN scartato, in attesa",
           "release": "fine del client 0", "index": "socklab: schede"},
}


def run_demo(ex, lang, tmp):
    path = os.path.join(tmp, "%s-%s.json" % (ex, lang))
    env = dict(os.environ, SOCKLAB_BIN=BIN, DEMO_LANG=lang)
    p = subprocess.run(DEMOS[ex] + ["--lang", lang, "--json", path], capture_output=True,
                       timeout=120, env=env, stdin=subprocess.DEVNULL)
    if p.returncode != 0 or not os.path.exists(path):
        sys.exit("handouts: %s failed (%s): %s" % (" ".join(DEMOS[ex]), p.returncode,
                                                   p.stderr.decode(errors="replace")[-500:]))
    with open(path) as f:
        return json.load(f), p.stdout.decode("utf-8", "replace")


def facts(ex, doc, lang):
    """The numbers the answer quotes, from the demo's JSON."""
    yes = {"en": "yes", "it": "sì"}[lang]
    if ex == "exercise-1":
        dp, f = doc["dead_port"], doc["faulty"]
        return {"conn_s": "%.3f" % dp["connected"]["seconds"], "conn_rc": dp["connected"]["status"],
                "unconn_s": "%.3f" % dp["unconnected"]["seconds"],
                "noports": f["udp_noports_delta"], "alive": yes if f["server_alive"] else "no"}
    if ex == "exercise-2":
        it = {m["model"]: m for m in doc["models"]}["iterative"]
        after = "?" if it["b_reply_at"] is None else "%.1f" % ((it["b_reply_at"] - it["a_ended_at"]) * 1000)
        return {"lq": it.get("listen_recv_q"), "bq": it.get("b_server_recv_q"), "b_after": after}
    if ex == "backlog":
        tl = doc["timeline"]
        cl = tl["clients"]
        return {"backlog": doc["backlog"], "queued": sum(c["at_release"] == "queued" for c in cl),
                "waiting": sum(c["at_release"] == "waiting" for c in cl),
                "rq": tl["listen_recv_q"], "sq": tl["listen_send_q"],
                "served": sum(c["final"] == "served" for c in cl), "n": len(cl)}
    v = {x["name"]: x for x in doc["variants"]}
    n = max(1, len(v["back-to-back"]["rounds"]))
    return {"b2b": "%.1f" % (v["back-to-back"]["recv_calls_total"] / n),
            "paused": "%.1f" % (v["pause"]["recv_calls_total"] / n), "pause_ms": doc.get("pause_ms", 5)}


# ---- SVG ----------------------------------------------------------------

def svg(width, height, body, title):
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">\n'
            '<title>%s</title>\n<rect width="100%%" height="100%%" fill="white"/>\n%s</svg>\n'
            % (width, height, width, height, html.escape(title), "\n".join(body)))


def text(x, y, s, anchor="start", size=12, weight="normal"):
    return '<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" font-weight="%s">%s</text>' % (
        x, y, anchor, size, weight, html.escape(str(s)))


def timeline_svg(lanes, marks, spans, vlines, title, lang):
    """lanes: names top to bottom; marks: (lane, t, label); spans: (lane,
    t0, t1, colour); vlines: (t, label).  Time runs left to right."""
    ts = [t for _, t, _ in marks] + [t for _, _, t, _ in spans] + [t for t, _ in vlines] + [0.0]
    tmax = max(ts) or 1.0
    left, right, top, lane_h = 90, 30, 40, 34
    width = 760
    x = lambda t: left + (width - left - right) * t / tmax  # noqa: E731
    height = top + lane_h * len(lanes) + 40
    body = [text(10, 20, title, size=14, weight="bold")]
    for i, name in enumerate(lanes):
        y = top + lane_h * i + lane_h / 2
        body.append(text(10, y + 4, name))
        body.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc"/>' % (left, y, width - right, y))
    for lane, t0, t1, colour in spans:
        y = top + lane_h * lanes.index(lane) + lane_h / 2
        body.append('<rect x="%.1f" y="%.1f" width="%.1f" height="10" fill="%s" opacity="0.6"/>'
                    % (x(t0), y - 5, max(1.0, x(t1) - x(t0)), colour))
    for k, (lane, t, label) in enumerate(marks):
        y = top + lane_h * lanes.index(lane) + lane_h / 2
        body.append('<circle cx="%.1f" cy="%.1f" r="4" fill="#333"><title>%s %.3f s</title></circle>'
                    % (x(t), y, html.escape(label), t))
        body.append(text(x(t), y - 8 if k % 2 == 0 else y + 18, label, anchor="middle", size=10))
    for t, label in vlines:
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c00" stroke-dasharray="4 3"/>'
                    % (x(t), top - 5, x(t), height - 30))
        body.append(text(x(t) + 4, top - 8, label, size=10))
    y = height - 12
    for k in range(6):
        t = tmax * k / 5
        body.append(text(x(t), y, "%.1f" % t, anchor="middle", size=10))
    body.append(text(width - right, y - 14, WORDS[lang]["timeline"], anchor="end", size=10))
    return svg(width, height, body, title)


SHORT = [(r"^connect\(\) (returned|è tornata)", "connect"), (r"^(sends|invia) \"\.\"", "."),
         (r"^(sends|invia)", "send"), (r"^(reply|risposta)", "reply"),
         (r"^(connected with|connessione stabilita)", "accept"),
         (r"^(session with|sessione con)", "end"), (r"^(no reply|nessuna risposta)", "…")]


def short(what):
    for rx, label in SHORT:
        if re.search(rx, what):
            return label
    return None


def exercise2_svg(doc, lang):
    it = {m["model"]: m for m in doc["models"]}["iterative"]
    lanes = ["A", "B", "C", "server"]
    marks, spans, start = [], [], {}
    for e in it.get("events", []):
        label = short(e["what"])
        if label is None:
            continue
        marks.append((e["who"], e["t"], label))
        if label == "connect":
            start[e["who"]] = e["t"]
        if label == "." and e["who"] in start:
            spans.append((e["who"], start[e["who"]], e["t"], "#8ab"))
    t0 = min([t for _, t, _ in marks] or [0])
    marks = [(w, t - t0, l) for w, t, l in marks]
    spans = [(w, a - t0, b - t0, c) for w, a, b, c in spans]
    vl = [(it["a_ended_at"] - t0, {"en": "A ends", "it": "fine di A"}[lang])]
    return timeline_svg(lanes, marks, spans, vl, TEXT["exercise-2"][lang]["title"] +
                        " (--model iterative, listen(1))", lang)


def backlog_svg(doc, lang):
    tl = doc["timeline"]
    w = WORDS[lang]
    lanes = ["client %d" % c["id"] for c in tl["clients"]]
    marks, spans = [], []
    for c in tl["clients"]:
        lane = "client %d" % c["id"]
        marks.append((lane, c["connect_at"], "connect"))
        for t in c["syn_retx_at"]:
            marks.append((lane, t, "SYN"))
        if c["established_at"] is not None:
            spans.append((lane, c["connect_at"], c["established_at"], "#e99"))
            end = c["reply_at"] if c["reply_at"] is not None else tl["end_at"]
            spans.append((lane, c["established_at"], end, "#8ab"))
        if c["reply_at"] is not None:
            marks.append((lane, c["reply_at"], "reply"))
    return timeline_svg(lanes, marks, spans, [(tl["release_at"], w["release"])],
                        TEXT["backlog"][lang]["title"] + ": listen(%d)" % doc["backlog"], lang)


def queue_svg(doc, lang):
    tl = doc["timeline"]
    w = WORDS[lang]
    cl = tl["clients"]
    slots = tl["listen_send_q"] + 1
    queued = [c["id"] for c in cl if c["at_release"] == "queued"]
    waiting = [c["id"] for c in cl if c["at_release"] == "waiting"]
    body = [text(10, 20, w["queue"].format(b=doc["backlog"]), size=14, weight="bold")]
    body.append('<rect x="20" y="50" width="150" height="60" fill="#fc9" stroke="#333"/>')
    body.append(text(95, 75, "server", anchor="middle", weight="bold"))
    body.append(text(95, 95, w["busy"], anchor="middle", size=10))
    x0 = 210
    body.append(text(x0, 45, "accept queue: Recv-Q %d, Send-Q %d (backlog+1 = %d)"
                     % (tl["listen_recv_q"], tl["listen_send_q"], slots), size=11))
    for i in range(max(slots, len(queued))):
        x = x0 + i * 90
        filled = i < len(queued)
        body.append('<rect x="%d" y="55" width="80" height="50" fill="%s" stroke="#333"/>'
                    % (x, "#8ab" if filled else "white"))
        if filled:
            body.append(text(x + 40, 85, "client %d" % queued[i], anchor="middle"))
    body.append(text(x0, 100 + 40, w["queued"] + ": %d" % len(queued), size=11))
    xw = x0
    body.append(text(xw, 175, w["dropped"] + ":", size=11))
    for i, cid in enumerate(waiting):
        x = xw + i * 90
        body.append('<rect x="%d" y="185" width="80" height="40" fill="#e99" stroke="#333" '
                    'stroke-dasharray="4 3"/>' % x)
        body.append(text(x + 40, 210, "client %d" % cid, anchor="middle"))
    width = max(560, x0 + 90 * max(slots, len(queued), len(waiting)) + 20)
    return svg(width, 245, body, w["queue"].format(b=doc["backlog"]))


# ---- pages --------------------------------------------------------------

def page(ex, lang, teacher, doc, out, diagrams):
    t, w = TEXT[ex][lang], WORDS[lang]
    role = w["teacher"] if teacher else w["student"]
    md = ["---", "title: \"%s\"" % t["title"], "subtitle: \"socklab · %s\"" % role, "lang: %s" % lang,
          "---", "", "## " + w["question"], ""]
    md += ["- " + q for q in t["questions"]]
    md += ["", "## " + w["predict"], "", "> &nbsp;", ">", "> &nbsp;", ">", "> &nbsp;", "",
           "## " + w["terminals"], ""]
    for label, cmds in t["terminals"]:
        md += ["**%s**" % label, "", "```", cmds, "```", ""]
    md += ["## " + w["look"], ""] + ["- " + x for x in t["look"]] + [""]
    if teacher:
        md += ["## " + w["answer"], "", t["answer"].format(**facts(ex, doc, lang)), ""]
        for name, alt in diagrams:
            md += ["![%s](%s)" % (alt, name), ""]
        md += ["### " + w["output"], "", "```", out.rstrip("\n"), "```", ""]
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Build the lab's handouts (HTML, through pandoc).")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "handouts"))
    ap.add_argument("--only", help="one exercise (exercise-1, exercise-2, backlog, exercise-3)")
    args = ap.parse_args()
    pandoc = shutil.which("pandoc")
    if not pandoc:
        sys.exit("handouts: pandoc not found (sh scripts/deps.sh handouts installs it)")
    os.makedirs(args.out, exist_ok=True)
    exercises = [args.only] if args.only else list(DEMOS)
    made = []
    with tempfile.TemporaryDirectory(prefix="socklab-handouts-") as tmp:
        for ex in exercises:
            for lang in LANGS:
                doc, out = run_demo(ex, lang, tmp)
                diagrams = []
                if ex == "exercise-2":
                    diagrams.append(("%s-%s-timeline.svg" % (ex, lang), exercise2_svg(doc, lang)))
                if ex == "backlog":
                    diagrams.append(("%s-%s-queue.svg" % (ex, lang), queue_svg(doc, lang)))
                    diagrams.append(("%s-%s-timeline.svg" % (ex, lang), backlog_svg(doc, lang)))
                for name, body in diagrams:
                    with open(os.path.join(args.out, name), "w") as f:
                        f.write(body)
                alts = [(n, n[:-4]) for n, _ in diagrams]
                for teacher in (False, True):
                    base = "%s-%s-%s" % (ex, lang, "teacher" if teacher else "student")
                    md = os.path.join(args.out, base + ".md")
                    with open(md, "w") as f:
                        f.write(page(ex, lang, teacher, doc, out, alts))
                    subprocess.run([pandoc, "--standalone", "--from", "markdown", "--to", "html5",
                                    "-o", os.path.join(args.out, base + ".html"), md], check=True)
                    made.append(base + ".html")
    links = ["---", "title: socklab", "---", ""] + ["- [%s](%s)" % (m[:-5], m) for m in made]
    md = os.path.join(args.out, "index.md")
    with open(md, "w") as f:
        f.write("\n".join(links) + "\n")
    subprocess.run([pandoc, "--standalone", "-o", os.path.join(args.out, "index.html"), md], check=True)
    print("handouts: %d pages in %s (index.html)" % (len(made), os.path.relpath(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
