#!/usr/bin/env python3
"""load.t - churn and crowds, on every model, one model at a time (the
connect/close rate is a figure for docs/reliability.md).

One server per model (-q --backlog 4096 --max-clients 0): 10,000
connect/close cycles as fast as one client goes (rate; threads,
children and descriptors back; no zombie), then 10,000 more with one
round trip each (the same, and RSS after 10,000 within 10 % of RSS
after 1,000); a burst of 1,000 simultaneous connects, each served its own
reply; 2,000 idle connections held while the canary goes on, then a new
client served.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from socklab import TAP  # noqa: E402
from stress_lib import models, per_model, server, finish  # noqa: E402
import stress_cases as C  # noqa: E402


def load(rec, model):
    with server(model, "-q", "--backlog", "4096", "--max-clients", "0",
                "--idle-timeout", "60") as srv:
        C.cycles(rec, srv, model, 10000)
        C.cycles(rec, srv, model, 10000, talk=True)
        C.burst(rec, srv, model, 1000)
        C.idle_many(rec, srv, model, 2000)
        finish(rec, srv, "churn and crowds")


t = TAP()
per_model(t, models(), load, parallel=1)
t.done()
