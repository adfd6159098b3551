#!/usr/bin/env python3
"""hostile.t - hostile input, on every model --list-models prints.

One server per model (--backlog 4096 --max-clients 0 --idle-timeout 10)
takes, in turn: a 10 MB line with no newline (ERR line too long, session
closed, RSS bounded); 2 MB of invalid UTF-8 and NUL bytes, pipelined
(passed through); CRLF and lone CR; 100 clients that reset mid-line; 10
that reset mid-reply; half-close, after whole lines and mid-line; 200
clients that connect and send nothing.  Beside every case a canary client
does round trips and checks each reply (stress_lib.beside); at the end
the server exits 0 on SIGTERM with no crash report.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from socklab import TAP  # noqa: E402
from stress_lib import models, per_model, server, finish  # noqa: E402
import stress_cases as C  # noqa: E402


def hostile(rec, model):
    with server(model, "--backlog", "4096", "--max-clients", "0",
                "--idle-timeout", "10") as srv:
        C.long_line(rec, srv, model, 10 * C.MB)
        C.garbage(rec, srv, model, 2 * C.MB)
        C.crlf(rec, srv, model)
        C.rst_mid_line(rec, srv, model, 100)
        C.rst_mid_reply(rec, srv, model, 10, C.MB)
        C.half_close(rec, srv, model, 2000)
        C.silent(rec, srv, model, 200)
        finish(rec, srv, "hostile clients")


t = TAP()
per_model(t, models(), hostile, parallel=2)
t.done()
