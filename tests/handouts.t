#!/usr/bin/env python3
# make handouts (scripts/handouts.py): one HTML page per exercise, in
# Italian and English, student and teacher versions, built with pandoc
# from what the demos measure here, with SVG diagrams drawn from the
# demos' JSON.  No pandoc: SKIP.
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.dom.minidom

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, REPO, bin, have

t = TAP()
if not shutil.which("pandoc"):
    t.skip("handouts", "pandoc not installed (sh scripts/deps.sh handouts)")
    t.done()
for prog in ("server", "udp-server", "udp-client", "demo-backlog", "demo-exercise3"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))

out = tempfile.mkdtemp(prefix="socklab-handouts-")
p = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "handouts.py"), "--out", out],
                   capture_output=True, timeout=300)
if p.returncode != 0:
    t.diag(p.stderr.decode(errors="replace")[-2000:])
t.is_(p.returncode, 0, "scripts/handouts.py builds")

EXERCISES = ("exercise-1", "exercise-2", "backlog", "exercise-3")


def read(name):
    try:
        with open(os.path.join(out, name), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


pages = {(ex, lang, who): read("%s-%s-%s.html" % (ex, lang, who))
         for ex in EXERCISES for lang in ("it", "en") for who in ("student", "teacher")}
t.ok(all(pages.values()), "16 pages: 4 exercises x Italian, English x student, teacher")
t.ok(all('lang="%s"' % k[1] in v for k, v in pages.items()), "each page says its language")
t.ok(all("previsione" in v for k, v in pages.items() if k[1] == "it") and
     all("prediction" in v for k, v in pages.items() if k[1] == "en"),
     "each page leaves room for a prediction")
t.ok(all(("risposta, misurata" in v or "answer, measured" in v) == (k[2] == "teacher")
         for k, v in pages.items()), "only the teacher's pages have the answer")
t.ok(all("<pre" in v and ("bin/" in v or "lab/" in v) for v in pages.values()),
     "each page has the commands to type")

# The answers quote what the demos measured: the demo output is on the page.
bl = pages[("backlog", "en", "teacher")]
m = re.search(r"Recv-Q (\d+), Send-Q (\d+): backlog\+1", bl)
t.ok(m and (int(m.group(1)), int(m.group(2))) == (2, 1),
     "backlog answer: Recv-Q 2, Send-Q 1 for listen(1), as measured")
t.ok("ss -ltn" in bl and "Summary" in bl, "the backlog teacher page carries the demo's own output")
t.ok("Riepilogo" in pages[("backlog", "it", "teacher")], "... in Italian on the Italian page")
e2 = pages[("exercise-2", "it", "teacher")]
t.ok(re.search(r"Recv-Q 2 \(B e C in coda\)", e2) is not None, "exercise 2 answer: B and C queued, measured")

# The diagrams: well-formed SVG, drawn from the run.
for name in ("exercise-2-it-timeline.svg", "backlog-en-queue.svg", "backlog-en-timeline.svg"):
    body = read(name)
    try:
        doc = xml.dom.minidom.parseString(body.encode())
        ok = doc.documentElement.tagName == "svg"
    except Exception as e:              # noqa: BLE001 - any parse error fails the test
        t.diag("%s: %s" % (name, e))
        ok = False
    t.ok(ok, "%s is an SVG document" % name)
    t.ok(name in " ".join(pages.values()), "%s is shown on a page" % name)
q = read("backlog-en-queue.svg")
t.ok("client 1" in q and "client 2" in q and "Recv-Q 2, Send-Q 1" in q,
     "the accept queue of listen(1) holds clients 1 and 2")
tl = read("exercise-2-it-timeline.svg")
t.ok(all(">%s<" % lane in tl for lane in ("A", "B", "C", "server")) and tl.count("<circle") >= 8,
     "the exercise 2 timeline has a lane per client and the server, with its events")
t.ok(os.path.exists(os.path.join(out, "index.html")), "index.html links the pages")
shutil.rmtree(out, ignore_errors=True)
t.done()
