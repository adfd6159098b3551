#!/usr/bin/env python3
"""check-server.t - bin/check-server, and the lab's Python programs.

check-server passes every model bin/server --list-models prints (a
"[oneshot]" model with --oneshot; the iterative ones are reported as such,
and fail with --concurrent), the lab's Python servers (lab/) and both UDP
servers; it fails each deliberately broken server of
tests/lib/broken_server.py on the check named for its mistake, and passes
the checks that mistake does not touch.  Usage errors exit 2; a dead port
or a server that never answers makes checks fail, never the checker hang;
--lang it and the locale give Italian; every line fits 80 columns.  Then
the lab/ programs run: the UDP client's timeout message, the one-shot and
persistent pairs, exercise 3's sender and receiver.
"""

import concurrent.futures
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
from socklab import REPO, TAP, free_port, run, start_server  # noqa: E402
from servertest import SANITIZER, models, models_with, oneshot_models, \
    skip_unavailable  # noqa: E402

LAB = os.path.join(REPO, "lab")
BROKEN = os.path.join(REPO, "tests", "lib", "broken_server.py")
RESULT = re.compile(r"^(PASS|FAIL|OK|FALLITO) +(\S+) ")


class Py:
    """A Python server started on port 0; waits for its line 'Il server
    è pronto a ricevere sulla porta N'.  A thread keeps its output in
    .lines as it comes."""

    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable] + list(args),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()
        m = self.wait(r"pronto a ricevere sulla porta (\d+)$")
        if m is None:
            self.stop()
            raise RuntimeError("%s: not ready: %r" % (args, self.lines))
        self.port = int(m.group(1))

    def _drain(self):
        for raw in self.p.stdout:
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)     # EOF
            self.cv.notify_all()

    def matches(self, regex, n=1, timeout=10):
        """The first n output lines matching regex (fewer on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                got = [m for m in (re.search(regex, l) for l in self.lines
                                   if l is not None) if m]
                left = deadline - time.monotonic()
                if len(got) >= n or None in self.lines or left <= 0:
                    return got[:n]
                self.cv.wait(left)

    def wait(self, regex, timeout=10):
        got = self.matches(regex, 1, timeout)
        return got[0] if got else None

    def stop(self):
        self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def check(port, *opts, env=None):
    """(exit status, {check: PASS|FAIL}, output lines) of check-server."""
    args = ["check-server", "--port", str(port)] + list(opts)
    if env is None:
        st, out, err, _ = run(args, timeout=60)
    else:
        p = subprocess.run([os.path.join(os.environ.get(
            "SOCKLAB_BIN", os.path.join(REPO, "bin")), args[0])] + args[1:],
            capture_output=True, timeout=60, env=env)
        st, out, err = p.returncode, p.stdout, p.stderr
    lines = out.decode().splitlines()
    res = {}
    for line in lines:
        m = RESULT.match(line)
        if m:
            res[m.group(2)] = "FAIL" if m.group(1) in ("FAIL", "FALLITO") \
                else "PASS"
    return st, res, lines + err.decode().splitlines()


def all_pass(t, name, got):
    st, res, lines = got
    t.ok(st == 0 and res and all(v == "PASS" for v in res.values()),
         "%s: every check passes (%d), exit 0" % (name, len(res)))
    if st != 0:
        for line in lines:
            t.diag(line)


def fails_only(t, name, got, which, also=()):
    """check-server fails `which`, passes every other check except
    those in `also` (failures the same mistake causes), exits 1."""
    st, res, lines = got
    others = [k for k, v in res.items()
              if v == "FAIL" and k != which and k not in also]
    t.ok(st == 1 and res.get(which) == "FAIL" and not others,
         "%s: fails '%s'%s, exit 1" % (name, which,
                                      " and passes the rest" if not also
                                      else " (and %s)" % ", ".join(also)))
    if st != 1 or res.get(which) != "FAIL" or others:
        for line in lines:
            t.diag(line)


def note_of(lines, key):
    """The note under a check's result line."""
    for i, line in enumerate(lines):
        m = RESULT.match(line)
        if m and m.group(2) == key and i + 1 < len(lines):
            return lines[i + 1].strip()
    return ""


# ---- usage ------------------------------------------------------------------

def usage(t):
    for args, want in ((["--help"], 0), (["--version"], 0), ([], 2),
                       (["--port", "0"], 2), (["--port", "1", "--lang", "fr"],
                                              2),
                       (["--port", "1", "--udp", "--concurrent"], 2),
                       (["--port", "1", "extra"], 2)):
        st, out, err, _ = run(["check-server"] + args)
        t.is_(st, want, "check-server %s: exit %d" % (" ".join(args), want))


# ---- socklab's models ---------------------------------------------------------

def one_model(model, oneshot, serial):
    """check-server's runs, then the server's exit status and any
    sanitizer report in its output."""
    out = []
    # Pools of 2 at least: on one CPU a pool of one is iterative.
    srv = start_server(["server", "--model", model, "--port", "0",
                        "--quiet", "--drain", "1", "--workers", "2"])
    try:
        opts = ["--oneshot"] if oneshot else []
        out.append(check(srv.port, *opts))
        if serial:
            out.append(check(srv.port, "--concurrent", *opts))
    finally:
        st = srv.stop()
    reports = [l for l in srv.lines + srv.errlines
               if any(s in l for s in SANITIZER)]
    return out, st, reports


def socklab_models(t):
    st, names = models()
    if st != 0 or not names:
        t.bail("bin/server --list-models gave nothing (status %r)" % st)
    names = skip_unavailable(t, names, "check-server passes")
    oneshot = oneshot_models()
    serials = set(models_with("serial"))
    t.ok(oneshot, "--list-models tags a one-shot model [oneshot]")
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as ex:
        runs = list(ex.map(lambda m: one_model(m, m in oneshot,
                                               m in serials), names))
    for model, (got, st, reports) in zip(names, runs):
        t.ok(st == 0 and not reports, "model %s: stopped cleanly (exit 0, "
             "no sanitizer report)" % model)
        for line in reports[:10]:
            t.diag(line)
        all_pass(t, "model %s%s" % (model, " (--oneshot)" if model in oneshot
                                    else ""), got[0])
        serial = model in serials
        t.ok(note_of(got[0][2], "two-clients").startswith(
            "iterative:" if serial else "concurrent:"),
            "model %s: reported %s" % (model, "iterative" if serial
                                       else "concurrent"))
        if len(got) > 1:
            fails_only(t, "model %s --concurrent" % model, got[1],
                       "two-clients")


# ---- the lab's servers, and the broken ones ----------------------------------

def lab_servers(t):
    with Py(os.path.join(LAB, "tcp_server_persistent.py"), "0") as s:
        all_pass(t, "lab/tcp_server_persistent.py", check(s.port))
        got = check(s.port, "--concurrent")
        fails_only(t, "lab/tcp_server_persistent.py (iterative) "
                   "--concurrent", got, "two-clients")
    with Py(os.path.join(LAB, "tcp_server_thread.py"), "0", "--quiet") as s:
        all_pass(t, "lab/tcp_server_thread.py --quiet, check-server "
                 "--concurrent", check(s.port, "--concurrent"))
        t.ok(not s.matches(r"Connesso con", timeout=0),
             "lab/tcp_server_thread.py --quiet: no session lines")
    with Py(os.path.join(LAB, "tcp_server_thread.py"), "0") as s:
        check(s.port, "--timeout", "0.5")
        t.ok(s.wait(r"Connesso con: .*\(Thread-"),
             "lab/tcp_server_thread.py: the log names the thread")
    with Py(os.path.join(LAB, "tcp_server.py"), "0") as s:
        all_pass(t, "lab/tcp_server.py --oneshot", check(s.port, "--oneshot"))
    with Py(os.path.join(LAB, "udp_server.py"), "0") as s:
        all_pass(t, "lab/udp_server.py --udp", check(s.port, "--udp"))
    with start_server(["udp-server", "--port", "0", "--quiet"]) as srv:
        all_pass(t, "bin/udp-server --udp", check(srv.port, "--udp"))


def broken(t):
    cases = (("dot-same", "dot-same", ()),
             # The long line's 1024-byte recv()s cut characters too.
             ("utf8-split", "utf8-split", ("long",)),
             ("ascii", "unicode", ("utf8-split", "long")),
             ("no-newline", "newline", None))
    for defect, which, also in cases:
        # Longer pauses: a busy machine must not merge the segments.
        with Py(BROKEN, defect, "0") as s:
            got = check(s.port, "--pause", "0.25")
        name = "broken server '%s'" % defect
        if also is not None:
            fails_only(t, name, got, which, also)
            continue
        # Every reply lacks its '\n': every check fails, and each points
        # at the one check that explains it.
        st, res, lines = got
        t.ok(st == 1 and res.get(which) == "FAIL" and
             any("has no '\\n' at the end" in l for l in lines),
             "%s: fails '%s': the reply has no '\\n'" % (name, which))
        t.ok(sum("see the check newline" in l for l in lines) ==
             len(res) - 1, "%s: the other failures point at 'newline'" %
             name)
    with Py(BROKEN, "udp-other-port", "0") as s:
        got = check(s.port, "--udp")
    fails_only(t, "broken server 'udp-other-port' --udp", got, "sender-port")


def dead_and_hung(t):
    port = free_port()
    st, res, lines = check(port)
    t.ok(st == 1 and res and all(v == "FAIL" for v in res.values()) and
         any("connection refused" in l for l in lines),
         "no server: every check fails, 'connection refused', exit 1")
    # A listener that never accepts: connections complete in its queue and
    # nobody answers.  Every check must time out, not hang.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        st, res, lines = check(s.getsockname()[1], "--timeout", "0.3")
    t.ok(st == 1 and res and all(v == "FAIL" for v in res.values()),
         "a server that never answers: every check fails, exit 1 "
         "(status %r)" % st)


def italian(t):
    with Py(BROKEN, "dot-same", "0") as s:
        st, res, it = check(s.port, "--lang", "it")
        env = dict(os.environ, SOCKLAB_LANG="it")
        env.pop("DEMO_LANG", None)
        st2, _, it2 = check(s.port, env=env)
        env = dict(os.environ, LANG="it_IT.UTF-8")
        env.pop("SOCKLAB_LANG", None)
        env.pop("DEMO_LANG", None)
        env.pop("LC_ALL", None)
        env.pop("LC_MESSAGES", None)
        st3, _, it3 = check(s.port, env=env)
        st4, _, en = check(s.port)
    text = "\n".join(it)
    t.ok(st == 1 and "FALLITO  dot-same" in text and
         "«.» nello stesso segmento della riga prima" in text and
         "controlli falliti: 1 su 11" in text,
         "--lang it: the checks and reasons are in Italian")
    english = [w for w in ("PASS", "FAIL", "expected", "got ", "checks",
                           "passed", "the ") if w in text]
    t.ok(not english, "--lang it: no English words (%s)" % english)
    t.ok(st2 == 1 and it2 == it, "SOCKLAB_LANG=it: Italian")
    t.ok(st3 == 1 and it3 == it, "LANG=it_IT.UTF-8: Italian")
    t.ok(st4 == 1 and "FAIL  dot-same" in "\n".join(en),
         "no language set: English")
    wide = [l for l in it + en if len(l) > 80]
    t.ok(not wide, "every line fits 80 columns", ) or [t.diag(l) for l in wide]


# ---- the lab's programs run ---------------------------------------------------

def py(args, input=b"", timeout=20):
    p = subprocess.run([sys.executable] + args, input=input,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def lab_programs(t):
    port = free_port(socket.SOCK_DGRAM)
    st, out, err = py([os.path.join(LAB, "udp_client.py"), str(port),
                       "--host", "127.0.0.1", "--timeout", "0.3"], b"ciao\n")
    t.ok(st == 1 and "Timeout scaduti: Server non raggiungibile" in out,
         "lab/udp_client.py, no server: «Timeout scaduti: Server non "
         "raggiungibile», exit 1 (%r %r)" % (st, out[-80:]))
    with Py(os.path.join(LAB, "udp_server.py"), "0") as s:
        st, out, err = py([os.path.join(LAB, "udp_client.py"), str(s.port),
                           "--host", "127.0.0.1"], "perché ß\n".encode())
        t.ok(st == 0 and out.endswith("PERCHÉ SS\n"),
             "lab/udp_client.py + udp_server.py: the reply (%r)" % out)
        t.ok(s.wait(r"^Datagramma da 127\.0\.0\.1 porta \d+$"),
             "lab/udp_server.py logs the client's address and port")
    with Py(os.path.join(LAB, "tcp_server.py"), "0") as s:
        st, out, err = py([os.path.join(LAB, "tcp_client.py"), str(s.port),
                           "--host", "127.0.0.1"], "ciao è\n".encode())
        t.ok(st == 0 and out.endswith("Dal Server: CIAO È\n"),
             "lab/tcp_client.py + tcp_server.py: one line (%r)" % out)
    with Py(os.path.join(LAB, "tcp_server_thread.py"), "0") as s:
        st, out, err = py([os.path.join(LAB, "tcp_client_persistent.py"),
                           str(s.port), "--host", "127.0.0.1"],
                          b"uno\ndue\n.\n")
        t.ok(st == 0 and out.count("Dal Server: ") == 2 and
             "DUE" in out, "lab/tcp_client_persistent.py: two lines, "
             "'.' ends (%r)" % out)
    counts = []
    with Py(os.path.join(LAB, "ex3_receiver.py"), "0") as s:
        for i, pause in enumerate(("0", "0.005")):
            st, out, err = py([os.path.join(LAB, "ex3_sender.py"),
                               str(s.port), "--host", "127.0.0.1",
                               "--pause", pause])
            # The i-th total line is this run's.
            tot = s.matches(r"^Totale: (\d+) byte in (\d+) recv\(\)$", i + 1)
            m = tot[i] if len(tot) > i else None
            counts.append(int(m.group(2)) if m else None)
            t.ok(st == 0 and m and m.group(1) == "100",
                 "exercise 3, pause %s s: the receiver gets 100 bytes "
                 "(in %s recv())" % (pause, m and m.group(2)))
    t.ok(None not in counts and counts[1] >= counts[0],
         "exercise 3: pauses give at least as many recv() (%s)" % counts)


def main():
    t = TAP()
    usage(t)
    socklab_models(t)
    lab_servers(t)
    broken(t)
    dead_and_hung(t)
    italian(t)
    lab_programs(t)
    t.done()


if __name__ == "__main__":
    main()
