#!/usr/bin/env python3
"""uringratio.py - io_uring against epoll, in the style of
frevib/io_uring-echo-server's table (issue 12): the throughput ratio
io_uring / epoll at each number of sessions and each line size.

Each cell is a short closed-loop run per model; the rounds interleave
(every cell of a round before the next round, the two models in turns,
which one goes first alternating), and a cell shows the ratio of the two
models' median throughputs over the rounds, so that the background load
of a shared machine, which drifts, hits both alike.

    bench/uringratio.py --bin DIR --out DIR [--sessions 1,50,150,300,500,1000]
                        [--sizes 128,512,1000] [--rounds 3] [-d SECONDS]
                        [--pin] [--quick]

writes OUT/uringratio.csv (one row per run) and OUT/uringratio.md.
"""

import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import siderun  # noqa: E402
from socklab_bench import models, pin  # noqa: E402
from socklab_bench.pin import pin_text  # noqa: E402

MODELS = ("epoll", "io_uring")
FIELDS = ["model", "sessions", "size", "round", "rps", "replies",
          "sessions_served", "pinned", "note"]


def run(a):
    able = siderun.runnable(a.bin)
    pools = models.pool_models(a.bin)
    missing = [m for m in MODELS if m not in able]
    if missing:
        return None, "model %s not available here (bin/server " \
            "--list-models)" % ", ".join(missing)
    rows = []
    tmp = os.path.join(a.out, "uringratio.%d" % os.getpid())
    n = 0
    for rnd in range(1, a.rounds + 1):
        for c in a.sessions:
            for size in a.sizes:
                n += 1
                order = MODELS if n % 2 else MODELS[::-1]
                for m in order:
                    rows.append(one(a, m, pools, c, size, rnd, tmp))
    return rows, None


def one(a, model, pools, sessions, size, rnd, tmp):
    row = {"model": model, "sessions": sessions, "size": size,
           "round": rnd, "pinned": "yes" if pin.PIN else "no"}
    side = siderun.Side(a.bin, model, sessions, pools=pools,
                        log="%s.%s-c%d-%dB-r%d.server.log" % (
                            tmp, model, sessions, size, rnd))
    try:
        side.start()
        try:
            j, rc = side.loadgen(sessions, a.duration,
                                 a.warmup + 1.2 * sessions / 1000,
                                 size=size)
        finally:
            side.stop()
    except (RuntimeError, OSError) as e:
        row["note"] = str(e)[:200]
        return row
    row["rps"] = "%.1f" % (j.get("throughput_rps") or 0)
    row["replies"] = siderun.replies(j)
    row["sessions_served"] = (j.get("first_reply_us") or {}).get("count")
    if rc not in (0, None) or not j:
        row["note"] = "loadgen exit %s" % rc
    print("uringratio: r%d %-8s c%-5d %5d B %10s req/s %s" % (
        rnd, model, sessions, size, row["rps"], row.get("note", "")),
        flush=True)
    return row


def medians(rows):
    """{(model, sessions, size): median requests/s over the rounds}."""
    by = {}
    for r in rows:
        if r.get("rps"):
            by.setdefault((r["model"], int(r["sessions"]), int(r["size"])),
                          []).append(float(r["rps"]))
    return {k: siderun.median(v) for k, v in by.items()}


def markdown(rows, sessions, sizes, rounds, duration):
    med = medians(rows)
    head = ["sessions"] + ["%d B" % s for s in sizes] + \
        ["epoll req/s at %d B" % sizes[0], "io_uring req/s at %d B"
         % sizes[0]]
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" for _ in head) + "|"]
    for c in sessions:
        cells = [str(c)]
        for s in sizes:
            e, u = med.get(("epoll", c, s)), med.get(("io_uring", c, s))
            cells.append("%.2f" % (u / e) if e and u else "-")
        for m in MODELS:
            v = med.get((m, c, sizes[0]))
            cells.append("%.0f" % v if v else "-")
        out.append("| " + " | ".join(cells) + " |")
    placed = pin_text() if rows else "?"
    return ("io_uring / epoll throughput (frevib/io_uring-echo-server's "
            "table): the ratio of the two models' median requests/s over "
            "%d interleaved rounds of a %g s closed-loop run per cell "
            "(fresh server, one loadgen thread, one line in flight per "
            "session; line size includes the newline); above 1, io_uring "
            "served more; %s.\n\n%s\n" % (rounds, duration, placed,
                                          "\n".join(out)))


def report(out, models):
    """The section `make bench` prints: the table, or why there is none
    (models: the ones this bench run measures)."""
    s = "## io_uring against epoll\n\n"
    if not all(m in models for m in MODELS):
        return s + "Not measured: this run's models leave out epoll or " \
            "io_uring.\n"
    try:
        with open(os.path.join(out, "uringratio.md")) as f:
            return s + f.read()
    except OSError:
        return s + "Not measured (see the notes above).\n"


def bench_args(a, models):
    """This script's arguments for the bench's own, or None when it is not
    to run."""
    if not all(m in models for m in MODELS):
        return None
    return ["--bin", a.bin, "--out", a.out] + \
        (["--pin"] if a.pin else []) + (["--quick"] if a.quick else [])


def ints(s):
    try:
        v = [int(x) for x in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%r: not a list of integers" % s)
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError("%r: values start at 1" % s)
    return v


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="uringratio.py",
        description="io_uring / epoll throughput over sessions and line "
        "sizes (issue 12).")
    p.add_argument("--bin", required=True, help="directory of bin/server "
                   "and bin/loadgen")
    p.add_argument("--out", required=True, help="directory for "
                   "uringratio.csv and uringratio.md")
    p.add_argument("--sessions", type=ints, help="concurrencies (default "
                   "1,50,150,300,500,1000; quick 1,50,1000)")
    p.add_argument("--sizes", type=ints, help="line bytes (default "
                   "128,512,1000; quick 128,1000)")
    p.add_argument("--rounds", type=int, help="interleaved rounds "
                   "(default 3; quick 2)")
    p.add_argument("-d", "--duration", type=float, help="seconds measured "
                   "per run (default 0.3; quick 0.2)")
    p.add_argument("--warmup", type=float, default=0.1, help="loadgen "
                   "warm-up, plus 1.2 s per 1000 sessions (default 0.1)")
    p.add_argument("--pin", action="store_true",
                   help="server on one CPU, loadgen on another")
    p.add_argument("--quick", action="store_true", help="a smaller grid")
    a = p.parse_args(argv)
    q = a.quick
    if a.sessions is None:
        a.sessions = [1, 50, 1000] if q else [1, 50, 150, 300, 500, 1000]
    if a.sizes is None:
        a.sizes = [128, 1000] if q else [128, 512, 1000]
    if a.rounds is None:
        a.rounds = 2 if q else 3
    if a.duration is None:
        a.duration = 0.2 if q else 0.3
    if a.rounds < 1 or a.duration <= 0 or a.warmup < 0:
        p.error("need --rounds >= 1, -d > 0, --warmup >= 0")
    if max(a.sizes) > 65536:
        p.error("--sizes: at most 65536 bytes a line")
    why = pin.pin_setup(a.pin)
    if why:
        p.error(why)
    return a


def write(a, rows, md):
    with open(os.path.join(a.out, "uringratio.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    with open(md, "w") as f:
        f.write(markdown(rows, a.sessions, a.sizes, a.rounds, a.duration))


def main(argv):
    return siderun.main(argv, "uringratio", parse_args, run, write,
                        "uringratio", "io_uring / epoll: not measured")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
