#!/usr/bin/env python3
# Class mode (--step, make demo STEP=1): every demo asks the slides'
# questions before it runs the part that answers them, and waits for
# Enter.  Driven here with Enter given after pauses of different lengths:
# the output must be what the same demo prints without pauses (numbers
# masked, since they are measurements), and no pause may count against a
# timer (a backlog demo whose --wait is shorter than its first pause
# still serves every client and skips nothing).
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, REPO, bin, have

t = TAP()
for prog in ("server", "udp-server", "udp-client", "demo-backlog", "demo-exercise3"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))

PROMPTS = ("  [Enter to go on] ", "  [Invio per continuare] ")
DELAYS = (0.05, 1.2, 0.3, 2.5)     # seconds before each Enter, in turn


def command(args):
    if args[0].endswith(".py"):
        return [sys.executable, os.path.join(REPO, "demos", args[0])] + args[1:]
    return [bin(args[0])] + args[1:]


def run(args, delays=None, timeout=90):
    """Run a demo; with delays, as --step, pressing Enter that long after
    each prompt appears.  (status, stdout text, number of prompts)."""
    step = delays is not None
    p = subprocess.Popen(command(args + (["--step"] if step else [])),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = []
    prompts = [0]

    def reader():
        text = ""
        for raw in iter(lambda: p.stdout.read1(4096), b""):
            text += raw.decode("utf-8", "replace")
            out.append(raw)
            n = sum(text.count(s) for s in PROMPTS)
            while prompts[0] < n:
                time.sleep(delays[prompts[0] % len(delays)])
                prompts[0] += 1
                try:
                    p.stdin.write(b"\n")
                    p.stdin.flush()
                except OSError:
                    return
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    if not step:
        p.stdin.close()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    th.join(5)
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        t.diag("%s: status %s\n%s" % (" ".join(args), p.returncode, err[-1500:]))
    return p.returncode, b"".join(out).decode("utf-8", "replace"), prompts[0]


NUM = re.compile(r"[-+]?\d+(?:\.\d+)?(?:(?:[ ,]+|, | x)[-+]?\d+(?:\.\d+)?)*")


def masked(text, timeline=True):
    """The lines with prompts removed and every number (or run of
    numbers) masked, sorted: threads may interleave two lines.  Without
    timeline, the lines of the event timeline are left out."""
    for s in PROMPTS:
        text = text.replace(s, "")
    # A filled line's continuations (deep indent, no time) join it: how
    # many there are depends on the measured numbers.
    text = re.sub(r"\n {6,}(?![-+]\d+\.\d+ s )", " ", text)
    lines = []
    for line in text.splitlines():
        if not timeline and re.match(r"^\s+[-+]\d+\.\d+ s ", line):
            continue
        line = re.sub(r"\s+", " ", NUM.sub("#", line)).strip()
        if line:
            lines.append(line)
    return sorted(lines)


def compare(name, args, want_prompts, timeline=True):
    rc0, plain, n0 = run(args)
    rc1, stepped, n1 = run(args, DELAYS)
    t.ok(rc0 == 0 and rc1 == 0, "%s: runs with and without --step" % name)
    t.is_(n1, want_prompts, "%s: --step asks %d questions" % (name, want_prompts))
    t.ok(n0 == 0 and "What do you expect?" in plain,
         "%s: without --step the questions are shown, no pause" % name)
    a, b = masked(plain, timeline), masked(stepped, timeline)
    if a != b:
        for x in sorted(set(a) ^ set(b))[:10]:
            t.diag("differs: %s" % x)
    t.ok(a == b, "%s: the same output with pauses as without" % name)
    return plain, stepped


# Each question comes before the part that answers it.
plain, stepped = compare("demo-udp", ["demo-udp.py", "--timeout", "0.3"], 2)
t.ok(stepped.index("Question 1a") < stepped.index("unconnected socket") and
     stepped.index("Question 1b") < stepped.index("  faulty    sent"),
     "demo-udp: 1a and 1b are asked before they run")

_, stepped = compare("demo-exercise2", ["demo-exercise2.py", "--wait", "0.5",
                                        "--models", "iterative,thread"], 5)
marks = [stepped.find(s) for s in ("Question 2a", "sends 'first message'",
                                  "Question 2b", "B         connect()",
                                  "Question 2c", "sends 'hello from B'",
                                  "Question 2d", "sends \".\" and closes")]
t.ok(-1 not in marks and marks == sorted(marks),
     "demo-exercise2: 2a-2d each asked before it runs")

_, stepped = compare("demo-exercise3", ["demo-exercise3", "--pause-ms", "2",
                                        "--rounds", "1", "--late-ms", "20"], 2)
t.ok(-1 < stepped.find("Question 3a") < stepped.find("- back to back\n") <
     stepped.find("Question 3b") < stepped.find("- pause after each send\n"),
     "demo-exercise3: 3a and 3b each asked before its rows")

compare("demo-reuseaddr", ["demo-reuseaddr.py"], 1)

# The backlog: event lines depend on when retransmitted SYNs land, so the
# text is compared outside the timeline; the facts are in the summary.
compare("demo-backlog", ["demo-backlog", "--parts", "timeline,sweep", "-b", "1",
                         "-k", "3", "--busy-ms", "400", "--hold-ms", "50",
                         "--sweep-max", "2", "--sweep-clients", "5",
                         "--settle-ms", "100"], 2, timeline=False)

# A first pause longer than the whole --wait: nothing is cut short.
args = ["demo-backlog", "--parts", "timeline,sweep", "-b", "1", "-k", "2",
        "--busy-ms", "300", "--hold-ms", "50", "--wait", "2",
        "--sweep-max", "1", "--sweep-clients", "3", "--settle-ms", "50"]
rc, out, n = run(args, (2.5, 0.1))
t.ok(rc == 0 and n == 2, "demo-backlog --wait 2 with a 2.5 s pause runs")
t.ok("skipped" not in out and "still waiting" not in out,
     "the pause did not count against --wait: nothing skipped or cut off")
rows = re.findall(r"^  (\d) +\d+ +[-+][\d.]+ +[-+][\d.]+ +(\S+) +([-+][\d.]+)", out, re.M)
t.is_(len(rows), 2, "both clients in the summary have a reply time")
t.ok("accept()ed the queued clients" in out, "and the summary says they were served")

t.done()
