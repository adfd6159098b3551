"""What bin/server says of its models (the one list of traits), how
many workers a pool gets, and the servers that are not socklab's."""

import os
import subprocess

from .conf import LAB_THREAD, MAX_POOL, POOL_TAG, log

def list_models(bindir):
    """The models this machine can run; the others are named on stderr."""
    out = subprocess.run([os.path.join(bindir, "server"), "--list-models"],
                         capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.splitlines():
        if "[unavailable: " in line:
            log("bench: skipping %s" % line.split(" [", 1)[0].split()[0] +
                " (unavailable: " + line.split("[unavailable: ", 1)[1])
        elif line.strip():
            names.append(line.split()[0])
    return names


def model_lines(bindir):
    """{name: description} from --list-models; {} if it fails."""
    try:
        out = subprocess.run([os.path.join(bindir, "server"),
                              "--list-models"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    d = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if parts:
            d[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return d


def model_descriptions(bindir):
    """The descriptions, without the "[pool]" tag."""
    return {m: d[:-len(POOL_TAG)].rstrip() if d.endswith(POOL_TAG) else d
            for m, d in model_lines(bindir).items()}


def models_with(bindir, trait):
    """The models whose TRAIT column of --list-models=tsv is 1 (the one
    list of traits; set() if the server cannot say)."""
    try:
        out = subprocess.run([os.path.join(bindir, "server"),
                              "--list-models=tsv"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    rows = [line.split("\t") for line in out.splitlines()]
    if not rows or trait not in rows[0]:
        return set()
    col = rows[0].index(trait)
    return {r[0] for r in rows[1:] if len(r) > col and r[col] == "1"}


def pool_models(bindir):
    """The pools: they serve at most --workers sessions at once."""
    return models_with(bindir, "pool")


def oneshot_models(bindir):
    """The models that answer one line per connection: they take part in
    the connection-per-request load only, where a persistent session
    means nothing."""
    return models_with(bindir, "oneshot")


def ncpu():
    return os.cpu_count() or 1


def workers_for(a, pools, target, sessions, keepalive):
    """--workers for one run, or None for the server's default.  An
    explicit --workers holds for every run.  Otherwise a pool is sized to
    the load for persistent sessions (UNP ch. 30: one worker per session,
    at least one per CPU, at most MAX_POOL), and keeps its default (one
    per CPU) for a connection per request, its natural workload."""
    if a.workers:
        return a.workers
    if target in pools and keepalive:
        return min(MAX_POOL, max(ncpu(), sessions))
    return None


# ---------------------------------------------------------------------

def externals(a):
    """{name: (kind, spec)} of the servers that are not socklab's: the
    lab's Python thread server, --server-cmd and --connect, in order."""
    out = {}
    if not a.no_lab:
        out[LAB_THREAD[0]] = ("external", LAB_THREAD[1])
    for c in a.server_cmd or []:
        name, argv = c
        out[name] = ("external", argv)
    for host, port in a.connect or []:
        out["%s:%d" % (host, port)] = ("connect", (host, port))
    return out

