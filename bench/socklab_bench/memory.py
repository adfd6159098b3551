"""Memory: RSS and PSS of a server's process tree, from /proc, and the
one sample taken under load."""

import os
import threading
import time

def proc_table():
    """{pid: (ppid, threads)} for every process, from /proc/PID/stat."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # fields[0] is stat field 3; ppid is 4, num_threads 20.
            table[int(d)] = (int(fields[1]), int(fields[17]))
        except (OSError, ValueError, IndexError):
            continue
    return table


def tree_pids(pid, table):
    kids = {}
    for p, (pp, _) in table.items():
        kids.setdefault(pp, []).append(p)
    todo, tree = [pid], []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(kids.get(p, []))
    return tree


def tree_count(pid):
    """(processes, threads, sockets) of pid: its children (from the main
    thread's children file; no model forks from another thread or has
    grandchildren), its threads, the sockets it holds.  Cheap next to
    reading smaps or every process's stat; a session lives in the main
    process (its socket counts) or in a child (the processes count)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            procs = 1 + len(f.read().split())
        with open("/proc/%d/stat" % pid) as f:
            threads = int(f.read().rsplit(")", 1)[1].split()[17])
    except (OSError, ValueError, IndexError):
        # No CONFIG_PROC_CHILDREN: walk every process instead.
        table = proc_table()
        tree = [p for p in tree_pids(pid, table) if p in table]
        procs, threads = len(tree), sum(table[p][1] for p in tree)
    socks = 0
    d = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, fd)).startswith("socket:"):
                    socks += 1
            except OSError:
                continue
    except OSError:
        pass
    return procs, threads, socks


def tree_memory(pid):
    """Sum of Rss and Pss (kB) over pid and its descendants.  Pss shares
    pages common to several processes (a forked child's copy-on-write
    pages) among them, so its sum is the tree's real footprint; the Rss
    sum counts shared pages once per process."""
    tree = tree_pids(pid, proc_table())
    rss = pss = 0
    threads = 0
    seen = 0
    for p in tree:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("Threads:"):
                        threads += int(line.split()[1])
            seen += 1
        except (OSError, ValueError):
            continue
    return {"processes": seen, "threads": threads, "rss_kb": rss,
            "pss_kb": pss}


class MemorySampler(threading.Thread):
    """One memory sample of the server tree under load, taken during the
    warm-up where possible (it is left out of the figures): from `start`
    seconds on, as soon as every session is accepted (or, for a design
    that serves only some at a time, once the count of its processes and
    sockets has stopped changing), and at `latest` whatever the state.  Reading smaps_rollup of a thousand processes costs a core
    a fraction of a second, so it is done once.  (/proc/net/tcp would say
    how many sessions are connected, but on a machine that has just made
    a hundred thousand connections, its TIME_WAIT entries take longer to
    read than the warm-up lasts.)"""

    def __init__(self, pid, sessions, start, latest):
        super().__init__(daemon=True)
        self.pid = pid
        self.sessions = sessions
        self.start_s = start
        self.latest = latest
        self.sample = None
        self.done_at = None
        self.stop_ev = threading.Event()

    def run(self):
        t0 = time.monotonic()
        if self.stop_ev.wait(self.start_s):
            return
        seen = []
        while True:
            # Every session accepted (a socket beside the listening
            # one, or a child, each); or, for a design that serves only
            # some, unchanged over six polls (0.5 s) with at least one.
            seen = (seen + [tree_count(self.pid)])[-6:]
            procs, _, socks = seen[-1]
            ready = (socks - 1) + (procs - 1) >= self.sessions or (
                len(seen) == 6 and seen.count(seen[0]) == 6 and
                (socks >= 2 or procs >= 2))
            if ready or time.monotonic() - t0 >= self.latest:
                break
            if self.stop_ev.wait(0.1):
                return
        sample = tree_memory(self.pid)
        sample["at_s"] = round(time.monotonic() - t0, 3)
        sample["settled"] = ready
        sample["main_sockets"] = seen[-1][2]
        self.done_at = time.monotonic()
        self.sample = sample

    def cancel(self):
        self.stop_ev.set()
