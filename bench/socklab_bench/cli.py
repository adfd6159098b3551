"""The options of bench/bench.py, and main()."""

import argparse
import datetime
import os
import shlex
import signal
import socket

from . import pin

from . import columns
from .conf import BULK, BULK_PIPELINE, BULK_SIZES, MAX_POOL, REPO, \
    Interrupted, on_signal, warn
from .fmt import shell_quote
from .procs import REG
from .refs import one
from .run import Bench


def server_cmd_arg(s):
    """--server-cmd '[NAME=]CMD': CMD split like a shell would, {port}
    where the port goes; NAME defaults to the script's or program's base
    name."""
    name, sep, rest = s.partition("=")
    if sep and name and " " not in name and "{" not in name:
        s = rest
    else:
        name = ""
    argv = shlex.split(s)
    if not argv or not any("{port}" in x for x in argv):
        raise argparse.ArgumentTypeError(
            "%r: needs {port}, where the server's port goes" % s)
    if not name:
        paths = [x for x in argv if "/" in x or x.endswith(".py")]
        name = os.path.basename(paths[0] if paths else argv[0])
    return name, argv


def connect_arg(s):
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or \
            not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("%r: not HOST:PORT" % s)
    return host.strip("[]"), int(port)


def parse_args(argv):
    p = parser()
    a = p.parse_args(argv)
    a.argv = [shell_quote(x.replace(REPO + "/", "")) for x in argv]
    defaults(a, p)
    return a


def parser():
    p = argparse.ArgumentParser(
        prog="bench.py",
        description="socklab's benchmark driver (make bench).")
    p.add_argument("--quick", action="store_true",
                   help="a short run (make bench QUICK=1): at most 90 s")
    p.add_argument("--bin", default=os.environ.get("SOCKLAB_BIN",
                                                   os.path.join(REPO, "bin")))
    p.add_argument("--out", help="results directory (default "
                   "results/<date>-<host>)")
    p.add_argument("--models", type=lambda s: s.split(","),
                   help="comma-separated models (default: --list-models)")
    p.add_argument("--sessions", type=lambda s: [int(x) for x in
                                                 s.split(",")])
    p.add_argument("--k0-sessions", type=int, default=10,
                   help="concurrent clients of the -k 0 run")
    p.add_argument("-d", "--duration", type=float,
                   help="seconds measured per run (default 0.3; quick 0.2)")
    p.add_argument("--rounds", type=int,
                   help="rounds at least (default 4; quick 3): every run is "
                   "repeated, the tables show the median and the interval "
                   "over the rounds")
    p.add_argument("--max-rounds", type=int,
                   help="rounds at most (default 8; quick 3; with --rounds "
                   "alone: the same as --rounds): a load whose ranking has "
                   "settled stops early")
    p.add_argument("--budget", type=float,
                   help="seconds the whole bench may take (default 570; "
                   "quick 85): no round past --rounds starts unless it "
                   "fits")
    p.add_argument("--no-compare", action="store_true",
                   help="do not compare the ranking with the previous run")
    p.add_argument("--warmup", type=float)
    p.add_argument("--pingpong-duration", type=float,
                   help="seconds of bin/pingpong (default: -d)")
    p.add_argument("-t", "--threads", type=int, default=1,
                   help="loadgen threads (default 1)")
    p.add_argument("--timeout", type=float, default=5,
                   help="loadgen --timeout in seconds")
    p.add_argument("--workers", type=int,
                   help="--workers for the pooled models in every run "
                   "(default: max(CPUs, sessions), at most %d, for "
                   "persistent sessions; one per CPU for -k 0)" % MAX_POOL)
    p.add_argument("--hf-runs", type=int)
    p.add_argument("--hf-sessions", type=int, default=100)
    p.add_argument("--hf-requests", type=int)
    p.add_argument("--no-redis", action="store_true")
    p.add_argument("--bulk",
                   help="line sizes of the bulk runs (one session, %d in "
                   "flight), of %s, or 'none'" % (BULK_PIPELINE,
                                                  ",".join(BULK_SIZES)))
    p.add_argument("--server-cmd", action="append", type=server_cmd_arg,
                   metavar="[NAME=]CMD",
                   help="also measure the server CMD starts, {port} in CMD "
                   "being its port, e.g. 'python3 server.py {port}' "
                   "(repeatable)")
    p.add_argument("--connect", action="append", type=connect_arg,
                   metavar="HOST:PORT",
                   help="also measure a server already running there "
                   "(repeatable; no CPU or memory figures)")
    p.add_argument("--no-lab", action="store_true",
                   help="leave out the lab's Python thread server")
    p.add_argument("--no-hyperfine", action="store_true")
    p.add_argument("--pin", action="store_true",
                   help="the server on one CPU, loadgen on another "
                   "(make bench PIN=1)")
    p.add_argument("--no-syscalls", action="store_true",
                   help="no system call counting or profiling runs "
                   "(bench/syscount.py, bench/kprofile.py)")
    p.add_argument("--one", metavar="MODEL",
                   help="run one fixed workload against MODEL and exit")
    p.add_argument("-c", dest="sessions_one", type=int, default=100)
    p.add_argument("-n", dest="requests", type=int, default=10000)
    p.add_argument("--glossary", nargs="?", metavar="FILE",
                   const=os.path.join(REPO, "results", "README.md"),
                   help="write the table of every figure (columns.py) "
                   "between FILE's markers (default results/README.md) "
                   "and exit")
    return p


def defaults(a, p):
    """The defaults that depend on --quick; the bulk sizes into BULK."""
    q = a.quick
    if a.sessions is None:
        a.sessions = [1, 10] if q else [1, 10, 100, 1000]
    if a.duration is None:
        a.duration = 0.2 if q else 0.3
    if a.warmup is None:
        a.warmup = 0.1 if q else 0.2
    if a.bulk is None:
        a.bulk = "16k" if q else "1k,16k,64k"
    if a.rounds is None:
        a.rounds = 2 if q else 3
        if a.max_rounds is None:
            a.max_rounds = 3 if q else 6
    if a.budget is None:
        a.budget = 85 if q else 570
    if a.max_rounds is None:
        a.max_rounds = a.rounds
    if a.rounds < 1 or a.max_rounds < a.rounds:
        p.error("need 1 <= --rounds <= --max-rounds")
    BULK.clear()
    for x in a.bulk.split(","):
        if x in BULK_SIZES:
            BULK["bulk-" + x] = BULK_SIZES[x]
        elif x != "none":
            p.error("--bulk: %r is not one of %s or none"
                    % (x, ",".join(BULK_SIZES)))
    if a.hf_runs is None:
        a.hf_runs = 2 if q else 3
    if a.hf_requests is None:
        a.hf_requests = 2000 if q else 30000
    if a.quick:
        a.hf_sessions = min(a.hf_sessions, 10)
    why = pin.pin_setup(a.pin)
    if why:
        p.error(why)


def main(argv):
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if a.glossary:
        try:
            columns.update_glossary(a.glossary)
        except (OSError, ValueError) as e:
            warn("%s: %s" % (a.glossary, e))
            return 2
        return 0
    try:
        if a.one:
            a.sessions = a.sessions_one
            return one(a)
        if a.out is None:
            a.out = os.path.join(REPO, "results", "%s-%s" % (
                datetime.date.today().isoformat(), socket.gethostname()))
        for prog in ("server", "loadgen", "pingpong"):
            if not os.access(os.path.join(a.bin, prog), os.X_OK):
                warn("%s/%s is missing: run make first" % (a.bin, prog))
                return 1
        Bench(a).main()
        return 0
    except Interrupted as e:
        warn("interrupted (%s): stopping everything" % e)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        REG.kill_all()


