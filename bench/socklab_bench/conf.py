"""The workload's constants, the bulk sizes chosen, log and warn."""

import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(HERE)
ENTRY = os.path.join(HERE, "bench.py")      # hyperfine runs it --one

# Redis answers an inline PING padded with spaces to loadgen's default
# 16-byte line: the same request size as the socklab runs (reply +PONG\r\n,
# 7 bytes, against socklab's 16).
REDIS_REQUEST = "PING" + " " * 10 + "\\r\\n"
REDIS_REQUEST_BYTES = 16
LINE_BYTES = 16

# Bulk loads: one session, BULK_PIPELINE lines in flight, big lines; the
# figure is bytes/s of lines upper-cased (issue 10).
BULK_SIZES = {"1k": 1024, "16k": 16384, "64k": 65536}
BULK = {}                       # label -> line bytes, filled by cli
BULK_PIPELINE = 8

# An external server answers this line with it upper-cased when it is up.
PROBE = b"socklab probe\n"

# The lab's Python thread server (lab/, the slides' program corrected): a
# reference row, so that students see the cost of their language and design.
LAB_THREAD = ("lab-thread", [sys.executable,
                             os.path.join(REPO, "lab", "tcp_server_thread.py"),
                             "{port}", "--quiet"])

PCTS = ["p50", "p90", "p99", "p99.9", "p99.99"]

POOL_TAG = "[pool]"
MAX_POOL = 1000


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def log(msg):
    print(msg, flush=True)


def warn(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def warmup_for(a, sessions):
    """A burst of a thousand connections takes a thousand accepts, and
    thousand threads or children, before the load is steady: the warm-up
    grows with the sessions (1.2 s more per thousand)."""
    return round(a.warmup + 1.2 * sessions / 1000, 2)


def table_labels(a):
    """Columns of the per-run tables: persistent runs by sessions, the
    50-session run in its place, then the connection-per-request run."""
    return ["c%d" % c for c in sorted(set(a.sessions) | {50})] + \
        ["k0-c%d" % a.k0_sessions]
