#!/usr/bin/env python3
# Italian throughout: `DEMO_LANG=it make demo` prints no English
# sentence, the narration's nor the programs' own (server log, client
# errors, the UDP client's timeout), and the terms are the lab's.  Words
# that are English only, and the sentences the programs print in
# English, must not appear; technical names (send(), Send-Q, SYN-SENT,
# handshake, backlog, socket) are the same in both languages.
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, REPO, bin, have, run

t = TAP()
for prog in ("server", "client", "udp-server", "udp-client", "demo-backlog", "demo-exercise3"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))

ENGLISH_WORDS = """the and with from is are was what why which sent got reply
replies waiting connected session ended lines refused expired listening
stopped took skipped question expect bytes datagram saw each after before
sends closed queue queued dropped still served exit status error not for
by at on its this that there has have been unreachable
""".split()
ENGLISH_SENTENCES = ["listening on", "connected with", "session with",
                     "timeout expired", "server not reachable", "Connection refused",
                     "What do you expect", "Enter to go on", "client sent",
                     "no reply", "exit status"]
WORD = re.compile(r"\b(%s)\b" % "|".join(ENGLISH_WORDS), re.I)


def english(text):
    """Lines with an English word or sentence in them."""
    bad = []
    for line in text.splitlines():
        # SYN-SENT, Recv-Q, Send-Q: names, the same in Italian.
        line = re.sub(r"\b[A-Za-z]+-[A-Za-z]+\b", "", line)
        if WORD.search(line) or any(s.lower() in line.lower() for s in ENGLISH_SENTENCES):
            bad.append(line)
    return bad


env = dict(os.environ, DEMO_LANG="it")
if os.path.realpath(bin("server")) == os.path.realpath(os.path.join(REPO, "bin", "server")):
    make = shutil.which("make") or "/usr/bin/make"
    args = [make, "-C", REPO, "-s", "--no-print-directory", "demo", "DEMO_LANG=it"]
    how = "DEMO_LANG=it make demo"
else:
    args = None
    t.skip("make demo", "SOCKLAB_BIN is not the Makefile's bin/")

if args:
    import subprocess
    p = subprocess.run(args, capture_output=True, timeout=120, env=env)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    t.is_(p.returncode, 0, "%s runs" % how)
    bad = english(out)
    for line in bad[:8]:
        t.diag("English: %s" % line)
    flat = re.sub(r"\s+", " ", out)       # filled lines joined
    t.ok(out and not bad, "%s: no English word or sentence in %d lines" % (how, out.count("\n")))
    for term in ("connessione stabilita", "codice di uscita", "Timeout scaduti: Server non raggiungibile",
                 "Domanda 2b", "Cosa vi aspettate?", "[1/5]", "coda delle connessioni completate",
                 "semiaperte"):
        t.ok(term in flat, "it says %r" % term)
    i = flat.find("connessioni incomplete")
    t.ok(i != -1 and "coda delle connessioni completate" in flat[i:i + 200],
         "the slides' 'coda delle connessioni incomplete' is quoted and corrected")

# The programs themselves, with the locale alone deciding.
loc = dict(os.environ, LANG="it_IT.UTF-8")
for v in ("DEMO_LANG", "SOCKLAB_LANG", "LC_ALL", "LC_MESSAGES"):
    loc.pop(v, None)
import subprocess
p = subprocess.run([bin("udp-client"), "--port", "9", "--no-connect", "--timeout", "0.2"],
                   input=b"x\n", capture_output=True, timeout=10, env=loc)
err = p.stderr.decode("utf-8", "replace")
t.ok(p.returncode == 1 and "Timeout scaduti: Server non raggiungibile" in err,
     "LANG=it_IT: udp-client says the slide's words (%s)" % err.strip())
p = subprocess.run([bin("client"), "--port", "1"], input=b"x\n", capture_output=True,
                   timeout=10, env=loc)
err = p.stderr.decode("utf-8", "replace")
t.ok(p.returncode == 1 and "connessione rifiutata" in err and not english(err),
     "LANG=it_IT: bin/client's error is Italian (%s)" % err.strip())
p = subprocess.run([bin("client"), "--port", "1", "--lang", "en"], input=b"x\n",
                   capture_output=True, timeout=10, env=loc)
t.ok("connection refused" in p.stderr.decode(), "--lang en wins over the locale")
t.done()
