"""demolib.py - what the Python demos share (stdlib only).

The clock and the timeline every event is printed on, the two languages
(--lang it), the pause for class (--step), the JSON file (--json), and
starting a socklab program that announces itself with 'listening on
ADDR:PORT (...)' while its log lines are timestamped as they come.
"""

import argparse
import errno
import json
import os
import re
import select
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANG = "en"
STEP = False
_lock = threading.Lock()
T0 = time.monotonic()
PAUSED = 0.0             # seconds spent waiting for Enter (see now())
EVENTS = []              # (time, who, message) of every ev(): the JSON's timelines
PROMPT = {"en": "  [Enter to go on] ", "it": "  [Invio per continuare] "}


def tr(en, it):
    """The narration in the chosen language."""
    return it if LANG == "it" else en


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", metavar="FILE",
                   help="also write the measurements as JSON ('-' = stdout)")
    p.add_argument("--lang", choices=("en", "it"),
                   help="English or Italian (default: DEMO_LANG, then the locale)")
    p.add_argument("--step", action="store_true",
                   help="ask each question of the slides and wait for Enter "
                        "before running it (for class)")
    return p


def env_lang():
    """The language the environment asks for, as lib/msg.c decides it:
    the first of DEMO_LANG, SOCKLAB_LANG, LC_ALL, LC_MESSAGES, LANG set."""
    for var in ("DEMO_LANG", "SOCKLAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        v = os.environ.get(var)
        if v:
            return "it" if v.startswith("it") else "en"
    return "en"


def setup(args):
    """--lang, else the environment; the programs a demo starts speak
    the same language (DEMO_LANG)."""
    global LANG, STEP
    LANG = args.lang or env_lang()
    os.environ["DEMO_LANG"] = LANG
    STEP = args.step


def strerror(errnum):
    """os.strerror() in the narration's language, for the few errors the
    demos show (the words are lib/msg.c's)."""
    it = {errno.ECONNREFUSED: "Connessione rifiutata",
          errno.ECONNRESET: "Connessione azzerata dal peer",
          errno.ETIMEDOUT: "Connessione scaduta"}
    return it.get(errnum, os.strerror(errnum)) if LANG == "it" else os.strerror(errnum)


# What the servers log, in either language (lib/msg.c has the words).
CONNECTED = r"(?:connected with|connessione stabilita con) "
DATAGRAM = r"(?:datagram from|datagramma da) "


def now():
    """Seconds since the demo started, on a clock that stops while it
    waits for Enter: a pause of any length moves no time on a timeline
    and no deadline computed from now()."""
    return time.monotonic() - T0 - PAUSED


COLS = 80          # every line fits (tests/demos.t checks)
EV_INDENT = 23     # where a timeline message starts


def fill(lead, text, indent):
    """lead, then the words of text filled up to COLS columns, later
    lines indented by indent spaces; text that fits is left as it is.  len() counts code points, so
    Italian accents take one column each, as on a terminal."""
    if "\n" not in text and len(lead) + len(text) <= COLS:
        return lead + text           # fits: keep its own spacing
    out, line = [], lead
    fresh = True
    for word in text.split():
        if not fresh and len(line) + 1 + len(word) > COLS:
            out.append(line)
            line, fresh = " " * indent, True
        line += word if fresh else " " + word
        fresh = False
    out.append(line)
    return "\n".join(out)


def say(text=""):
    """Print text; a line wider than COLS is filled, its later lines
    indented as the first."""
    lines = []
    for line in text.split("\n"):
        if len(line) > COLS:
            lead = line[:len(line) - len(line.lstrip())]
            line = fill(lead, line, len(lead))
        lines.append(line)
    with _lock:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def ev(who, msg, t=None):
    """One event of the timeline: '  +1.234 s  client B  message', the
    message filled to COLS columns."""
    t = now() if t is None else t
    with _lock:
        EVENTS.append((t, who, msg))
    say(fill("  %+7.3f s  %-9s " % (t, who), msg, EV_INDENT))
    return t


def pause():
    global STEP, PAUSED
    if not STEP:
        return
    sys.stdout.write(PROMPT[LANG])
    sys.stdout.flush()
    t = time.monotonic()
    try:
        if sys.stdin.readline() == "":
            raise EOFError
    except (EOFError, OSError):
        STEP = False                 # no terminal: run on unattended
    PAUSED += time.monotonic() - t
    if not sys.stdin.isatty():
        sys.stdout.write("\n")       # the newline a terminal would echo


def ask(label, question):
    """A question of the lab's slides, asked before the part that answers
    it; with --step the class has time to answer."""
    say("\n" + fill(tr("Question %s: ", "Domanda %s: ") % label, question, 0))
    say(tr("What do you expect?  (then we run it)",
           "Cosa vi aspettate?  (poi lo eseguiamo)"))
    pause()


def bin_path(name):
    d = os.environ.get("SOCKLAB_BIN") or os.path.join(REPO, "bin")
    return os.path.join(d, name)


def need(*names):
    """Exit with a clear message if a program is not built."""
    missing = [n for n in names if not os.access(bin_path(n), os.X_OK)]
    if missing:
        sys.stderr.write("%s: %s not built; run 'make' first\n" % (
            os.path.basename(sys.argv[0]), ", ".join(bin_path(n) for n in missing)))
        sys.exit(1)


def write_json(path, doc):
    if not path:
        return
    text = json.dumps(doc, indent=1)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w") as f:
            f.write(text + "\n")


LISTENING = re.compile(r"^listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+) \(([^)]*)\)$")


class Program:
    """A server that prints 'listening on ADDR:PORT (...)' first.  Its
    later stdout lines are kept with the time they arrived (and printed
    on the timeline as 'who' when echo is set)."""

    def __init__(self, args, who="server", echo=True, timeout=10.0):
        self.who = who
        self.echo = echo
        self.lines = []            # (time, line)
        self._cv = threading.Condition()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        first = ""
        if select.select([self.proc.stdout], [], [], timeout)[0]:
            first = self.proc.stdout.readline().decode("utf-8", "replace").rstrip("\n")
        m = LISTENING.match(first)
        if not m:
            self.stop()
            raise RuntimeError("%s did not start: %r %r" % (
                " ".join(args), first, self.proc.stderr.read(500)))
        self.port = int(m.group(3))
        self.first = first
        self._threads = [threading.Thread(target=self._drain, args=(self.proc.stdout, ""), daemon=True),
                         threading.Thread(target=self._drain, args=(self.proc.stderr, "stderr: "), daemon=True)]
        for th in self._threads:
            th.start()

    def told(self):
        """The first line in the narration's language: the program
        prints it in English always, for the scripts that wait for it."""
        if LANG != "it":
            return self.first
        info = self.first[self.first.rindex("(") + 1:-1]
        info = info.replace("model ", "modello ")
        return "in ascolto su %s (%s)" % (self.first.split()[2], info)

    def _drain(self, f, prefix):
        for raw in iter(f.readline, b""):
            line = prefix + raw.decode("utf-8", "replace").rstrip("\n")
            t = now()
            with self._cv:
                self.lines.append((t, line))
                self._cv.notify_all()
            if self.echo:
                ev(self.who, line, t)

    def wait_for(self, pattern, timeout=5.0, start=0):
        """(time, line) of the first line from index start matching, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for t, line in self.lines[start:]:
                    if rx.search(line):
                        return t, line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self._cv.wait(min(left, 0.1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for th in getattr(self, "_threads", []):
            th.join(2)
        return self.proc.returncode


def ss(opts, port):
    """What the slides show with netstat: `ss -OPTS` for the sockets of
    one local port, each row printed on the timeline and returned as
    (state, recv_q, send_q, local, peer); None if ss cannot run."""
    args = ["ss", "-H" + opts, "( sport = :%d )" % port]
    try:
        p = subprocess.run(args, capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        ev("ss -" + opts, tr("(ss could not run)", "(impossibile eseguire ss)"))
        return None
    rows = []
    for line in p.stdout.decode(errors="replace").splitlines():
        f = line.split()
        if len(f) >= 5 and f[1].isdigit() and f[2].isdigit():
            rows.append((f[0], int(f[1]), int(f[2]), f[3], f[4]))
    ev("ss -" + opts, "%-9s %-6s %-6s %-16s %s" % (
        tr("State", "Stato"), "Recv-Q", "Send-Q", tr("Local", "Locale"),
        tr("Peer", "Remoto")))
    for r in rows:
        ev("", "%-9s %-6d %-6d %-16s %s" % (r[0], r[1], r[2], r[3], r[4]))
    return rows


def read_snmp():
    """Counters of /proc/net/snmp as {'Udp': {...}, 'Icmp': {...}}."""
    out = {}
    try:
        with open("/proc/net/snmp") as f:
            rows = f.read().splitlines()
    except OSError:
        return out
    for names, values in zip(rows[0::2], rows[1::2]):
        proto, names = names.split(":", 1)
        _, values = values.split(":", 1)
        out[proto] = dict(zip(names.split(), (int(v) for v in values.split())))
    return out


def snmp_delta(before, after, proto, name):
    try:
        return after[proto][name] - before[proto][name]
    except KeyError:
        return None
