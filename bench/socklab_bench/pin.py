"""CPU pinning (`--pin`, `make bench PIN=1`, issue 12): the server on the
first CPU this process may run on, loadgen on the second, through
taskset(1), which execs the program (its pid, which the bench waits for,
stays the same) before the program starts any thread or child, so every
one inherits the mask.  The timed runs and the side runs share it."""

import os
import shutil

# (server CPU, loadgen CPU) when pinning, else None: set by pin_setup().
PIN = None


def pin_setup(want):
    """Turn pinning on (want true) or off; a string saying why it cannot
    be on, or None.  Needs two CPUs in our affinity mask, and taskset."""
    global PIN
    PIN = None
    if not want:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "pinning needs 2 CPUs, this process may use %d" % len(cpus)
    if shutil.which("taskset") is None:
        return "pinning needs taskset (util-linux)"
    PIN = (cpus[0], cpus[1])
    return None


def pinned(argv, role):
    """argv run on role's CPU ("server" or "loadgen") when pinning."""
    if PIN is None or not argv:
        return argv
    return ["taskset", "-c", str(PIN[0 if role == "server" else 1])] + argv


def pin_text():
    """One phrase for a report: how the runs were placed."""
    if PIN is None:
        return "not pinned (server and loadgen share every CPU)"
    return ("pinned with taskset: the server on CPU %d, loadgen on CPU %d"
            % PIN)
