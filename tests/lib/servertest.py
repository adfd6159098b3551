"""servertest.py - what the per-model tests of bin/server
(tests/server-*.t) share: results kept per model and printed in order,
a server that is always stopped and checked to stop cleanly, and a
read to EOF.  Python 3 stdlib only; builds on socklab.py (see
tests/lib/README).

    from servertest import SANITIZER, Rec, short, models, per_model, Srv, \
        recv_until_eof, oneshot_models, skip_oneshot, model_traits, \
        models_with, unavailable, skip_unavailable
"""

import concurrent.futures
import socket
import sys
import time
import traceback

from socklab import run, start_server

SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
             "runtime error:", "WARNING: ThreadSanitizer")


class Rec:
    """One model's results, kept until they can be printed in order:
    TAP lines from parallel threads must not interleave."""

    def __init__(self, model):
        self.model = model
        self.items = []

    def ok(self, cond, name, diag=()):
        self.items.append((bool(cond), "%s: %s" % (self.model, name), None,
                           [] if cond else list(diag)))
        return bool(cond)

    def is_(self, got, expected, name):
        return self.ok(got == expected, name,
                       ["     got: %s" % short(got),
                        "expected: %s" % short(expected)])

    def skip(self, name, why):
        self.items.append((True, "%s: %s" % (self.model, name), why, []))

    def diag(self, msg):
        self.items.append((None, msg, None, []))


def short(v, limit=200):
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + "... (%d chars)" % len(r)


def _table():
    """The rows of bin/server --list-models=tsv, as {column: value}."""
    st, out, err, _ = run(["server", "--list-models=tsv"])
    if st != 0:
        raise RuntimeError("server --list-models=tsv: status %r %r"
                           % (st, err))
    rows = [l.split("\t") for l in out.decode().splitlines() if l.strip()]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def model_traits():
    """{name: set of traits} from bin/server --list-models=tsv, in its
    order (dicts keep it): "pool", "per_session", "reuseport", "serial",
    "oneshot", "event", "accept_lock", "procs" (servers/main.c,
    MODEL_*).  The one place tests learn what a model is."""
    return {r["name"]: {k for k, v in r.items() if v == "1" and
                        k not in ("name", "unavailable", "what")}
            for r in _table()}


def unavailable():
    """{name: why} of the models this machine cannot run (io_uring where
    the kernel refuses it): the tests skip them, saying why."""
    return {r["name"]: r["unavailable"] for r in _table()
            if r.get("unavailable", "-") != "-"}


def skip_unavailable(t, names, what):
    """names less the unavailable models, with a TAP skip for each."""
    out = unavailable()
    for m in names:
        if m in out:
            t.skip("%s: %s" % (m, what), "unavailable here: " + out[m])
    return [m for m in names if m not in out]


def models_with(trait):
    """The names of the models that have trait, in --list-models order."""
    return [m for m, tr in model_traits().items() if trait in tr]


def models():
    st, out, err, _ = run(["server", "--list-models"])
    names = [l.split()[0] for l in out.decode().splitlines() if l.strip()]
    return st, names


def oneshot_models():
    """One line per connection, then close (MODEL_ONESHOT)."""
    return set(models_with("oneshot"))


def skip_oneshot(rec, model, fn, oneshot):
    """Record a skip and return True when model is one-shot and fn needs
    persistent sessions (every check does, unless it sets
    fn.oneshot_ok = True)."""
    if model not in oneshot or getattr(fn, "oneshot_ok", False):
        return False
    rec.skip(fn.__name__, "serves one line per connection; this check "
             "needs persistent sessions")
    return True


def report(t, rec):
    """Print rec's results as TAP; a failure goes to stderr as well, as
    prove shows stderr without -v (CI logs keep only that)."""
    for cond, name, why, diag in rec.items:
        if cond is None:
            t.diag(name)
        elif why is not None:
            t.skip(name, why)
        else:
            t.ok(cond, name)
            for d in diag:
                t.diag(d)
            if not cond:
                sys.stderr.write("# not ok: %s\n" % name + "".join(
                    "#   %s\n" % d for d in diag))
                sys.stderr.flush()


def per_model(t, names, fn, parallel=True, rec_class=Rec):
    """fn(rec, model) for each model, `parallel` at a time (True: all at
    once); the TAP lines come out in model order.  An exception is one
    failed test.  One-shot models skip it (skip_oneshot).  Returns the
    records."""
    oneshot = oneshot_models()
    off = unavailable()

    def guarded(m):
        rec = rec_class(m)
        if m in off:
            rec.skip(fn.__name__, "unavailable here: " + off[m])
            return rec
        if skip_oneshot(rec, m, fn, oneshot):
            return rec
        try:
            fn(rec, m)
        except Exception:
            rec.ok(False, "%s ran without an exception" % fn.__name__,
                   traceback.format_exc().splitlines())
        return rec
    n = len(names) if parallel is True else max(1, int(parallel))
    recs = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        for rec in ex.map(guarded, names):
            report(t, rec)
            recs.append(rec)
    return recs


class Srv:
    """start_server() that is always stopped, and stopped cleanly: exit
    status 0 and no sanitizer report on its output.  OPTS come after
    --port 0 and before the caller's own options; a test that wants
    others subclasses Srv and sets OPTS."""

    OPTS = ("--drain", "1")

    def __init__(self, rec, model, *extra):
        self.rec = rec
        self.srv = start_server(["server", "--model", model, "--port", "0"] +
                                list(self.OPTS) + list(extra))
        self.port = self.srv.port

    def __enter__(self):
        return self.srv

    def __exit__(self, etype, *rest):
        st = self.srv.stop()
        if etype is None:
            reports = [l for l in self.srv.lines + self.srv.errlines
                       if any(s in l for s in SANITIZER)]
            self.rec.ok(st == 0 and not reports,
                        "server stopped cleanly (exit 0, no sanitizer report)",
                        ["exit status %r" % st] + reports[:20])
        return False


def recv_until_eof(s, timeout=10.0):
    """Everything until EOF (or a reset, reported as such)."""
    deadline = time.monotonic() + timeout
    got = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no EOF in %g s (have %s)" %
                                 (timeout, short(b"".join(got))))
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            got.append(b"<RESET>")
            return b"".join(got)
        if not b:
            return b"".join(got)
        got.append(b)
