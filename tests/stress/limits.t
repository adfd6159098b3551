#!/usr/bin/env python3
"""limits.t - every limit a client can run into, on every model.

--max-clients 4: exactly 4 sessions, the 5th told "ERR server busy" and
closed (prefork, prethread: it waits in the listen queue until one
leaves), still exact after 300 sessions of churn; --idle-timeout 1: a
silent client and a slowloris closed, logged; a client that never reads
(--idle-timeout 2): session closed, RSS bounded; 24 such clients under
--max-memory 8 MiB and --write-timeout 2: memory bounded, all closed by
the deadline; the server under
prlimit --nofile=64 with 200 clients: CPU well under the wall time, and
a new client served once they leave.  A canary beside each.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from socklab import TAP  # noqa: E402
from stress_lib import models, per_model  # noqa: E402
import stress_cases as C  # noqa: E402


def limits(rec, model):
    C.max_clients(rec, model, 4, 300)
    C.idle_timeout(rec, model, 1)
    C.not_reading(rec, model, 2)
    C.many_not_reading(rec, model)
    C.nofile(rec, model, 200, 64, 3.0)


t = TAP()
per_model(t, models(), limits, parallel=2)
t.done()
