#!/usr/bin/env python3
"""valgrind.t - a short session of every kind (garbage, a line too
long, a reset, one still open at SIGTERM) per model under valgrind
--error-exitcode=1 --leak-check=full --trace-children=yes: exit 0 means
no memory error and no definite leak in the server or any child.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from socklab import TAP  # noqa: E402
from stress_lib import models, per_model  # noqa: E402
import stress_cases as C  # noqa: E402

t = TAP()
per_model(t, models(), C.valgrind, parallel=2)
t.done()
