#!/usr/bin/env python3
"""reliability.t - the short subset of the fault suite (make stress,
tests/stress/) that runs on every commit, on every model --list-models
prints: a 10 MB line, a flood of invalid UTF-8 and NUL bytes, resets
mid-line, a client that never reads, --max-clients (busy, and exact
after some churn), 200 clients against prlimit --nofile=64, and SIGTERM
under load.  A canary client does round trips beside each case and must
get every reply, in order.  The cases are in tests/lib/stress_cases.py;
docs/reliability.md says what each checks.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
from socklab import TAP  # noqa: E402
from stress_lib import models, per_model, server, finish  # noqa: E402
import stress_cases as C  # noqa: E402


def short(rec, model):
    with server(model, "--backlog", "1024", "--max-clients", "0",
                "--idle-timeout", "10") as srv:
        C.long_line(rec, srv, model, 10 * C.MB)
        C.garbage(rec, srv, model, C.MB // 4)
        C.rst_mid_line(rec, srv, model, 20)
        finish(rec, srv, "hostile input")
    C.not_reading(rec, model, idle=1)
    C.max_clients(rec, model, 3, 30)
    C.nofile(rec, model, 200, 64, 1.5)
    C.term_under_load(rec, model, clients=8, drain_sec=1)


t = TAP()
per_model(t, models(), short, parallel=4)
t.done()
