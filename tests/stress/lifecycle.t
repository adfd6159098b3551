#!/usr/bin/env python3
"""lifecycle.t - signals, on every model.

SIGTERM with a session in flight (--drain 3): new connects refused, the
session answered during the drain and closed at its end, exit 0; a
session ending during a long drain lets the server exit at once;
SIGTERM under load (16 clients) exits 0 with no wrong reply; SIGPIPE
(clients gone before their replies, and the signal itself sent to every
process) kills nothing; SIGHUP is SIGTERM for the server and nothing
for its children, and stays ignored under nohup; SIGKILL of the server
leaves no child process behind.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from socklab import TAP  # noqa: E402
from stress_lib import models, per_model  # noqa: E402
import stress_cases as C  # noqa: E402


def lifecycle(rec, model):
    C.drain(rec, model, 3)
    C.drain_early(rec, model, 30)
    C.term_under_load(rec, model)
    C.sigpipe(rec, model)
    C.sighup(rec, model)
    C.sighup_ignored(rec, model)
    C.orphans(rec, model)


t = TAP()
per_model(t, models(), lifecycle, parallel=2)
t.done()
