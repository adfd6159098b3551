#!/usr/bin/env python3
"""bench.py - the driver behind `make bench`: every server model under the
same load, measured, written to results/<date>-<host>/ with plots.

For each model that `bin/server --list-models` prints, and for redis-server
as a reference line server when it is installed: one run per concurrency
of persistent sessions (1, 10, 50, 100, 1000) and one connection-per-request
run (-k 0).  Each run starts the server on an ephemeral port, waits for its
readiness line, runs bin/loadgen, stops the server with SIGTERM and collects
its CPU time (wait4: user + sys of the server and of every child it reaped,
Stevens' measure) and, at the top concurrency, its memory (RSS and PSS of
the server and its children, from /proc).  The runs go by concurrency, all
targets at one before the next, so that what a table column compares was
measured close together; bin/pingpong (the floor) runs around each
one-session run.  Then hyperfine times one fixed workload per model, and
the report, the CSV and the gnuplot SVGs are written.

    bench/bench.py [--quick] [--bin DIR] [--out DIR] [--models a,b]
    bench/bench.py --one MODEL ...     one fixed workload (used by hyperfine)
    bench/bench.py --glossary [FILE]   the table of every figure into
                                       results/README.md (make bench-glossary)

The work is done by the package bench/socklab_bench/, one module a job
(its __init__ lists them); every figure a run yields is declared once, in
socklab_bench/columns.py.  Python 3 standard library only.  Everything
started is stopped, also on Ctrl-C.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from socklab_bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
