#!/usr/bin/env python3
# The bench's ranking (bench/rank.py, the code bench.py ranks with) on
# synthetic rounds: a clear winner, a tie, a chain of ties, when a load is
# settled; ranking.csv written and read back; and the comparison of two
# runs (make bench-compare): a strictly reversed pair is found and counted,
# a pair tied in one run is not a reversal.
import os
import subprocess
import sys
import tempfile
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(REPO, "bench"))
from socklab import TAP

import rank

t = TAP()
TMP = tempfile.mkdtemp(prefix="socklab-rank.")

# --- the interval -----------------------------------------------------------
t.is_(rank.interval([5, 1, 3]), (1, 3, 5),
      "3 rounds: the interval is the slowest to the fastest round, around "
      "the median")
t.is_(rank.interval([4, 1, 3, 2]), (1, 2.5, 4),
      "an even count of rounds: the median is the mean of the middle two")
t.is_([rank.order_k(n) for n in (3, 5, 7, 8, 12)], [1, 1, 1, 2, 3],
      "order statistics: k grows only when the coverage stays >= 90 %")
t.ok(abs(rank.coverage_of(5) - 0.9375) < 1e-9 and
     abs(rank.coverage_of(8) - (1 - 2 * 9 / 256)) < 1e-9,
     "coverage: 1 - 2^(1-n) for min-max, binomial tails beyond")
t.is_(rank.interval(list(range(1, 9))), (2, 4.5, 7),
      "8 rounds: the second slowest to the second fastest")

# --- ranking with ties ------------------------------------------------------
clear = {"fast": [100, 104, 98, 101, 103], "slow": [50, 52, 49, 51, 55]}
r = rank.rank_rounds(clear)
t.is_((r["fast"][0], r["slow"][0]), (1, 2),
      "a clear winner ranks 1, the other 2")
t.is_(rank.strict_pairs({m: rank.interval(v) for m, v in clear.items()}),
      {("fast", "slow")}, "the clear winner is a strict pair")

tie = {"a": [100, 90, 110], "b": [95, 105, 85]}
r = rank.rank_rounds(tie)
t.is_((r["a"][0], r["b"][0]), (1, 1),
      "overlapping intervals: a tie, both rank 1, whichever median is "
      "higher (%g vs %g)" % (r["a"][2], r["b"][2]))
t.is_(rank.tied_pairs({m: rank.interval(v) for m, v in tie.items()}),
      [("a", "b")], "the tie is reported as a pair within noise")

chain = {"a": [10, 12, 14], "b": [7, 9, 11], "c": [4, 6, 8],
         "d": [1, 2, 3]}
r = rank.rank_rounds(chain)
t.is_({m: v[0] for m, v in r.items()}, {"a": 1, "b": 1, "c": 2, "d": 4},
      "a ties b, b ties c, a beats c: ranks 1 1 2, d below all three "
      "is 4")

rows = rank.ranking_rows({"c1": tie, "c10": clear}, ["c10", "c1"])
t.is_([(x["load"], x["model"], x["rank"]) for x in rows],
      [("c10", "fast", 1), ("c10", "slow", 2), ("c1", "a", 1),
       ("c1", "b", 1)], "ranking rows by load as given, then by rank and "
      "median")

# --- settled ----------------------------------------------------------------
t.ok(not rank.settled({m: v[:2] for m, v in clear.items()}, 3),
     "fewer rounds than the minimum: not settled")
t.ok(rank.settled(clear, 3), "a clear winner over 5 rounds is settled")
flip = {"x": [100, 101, 102, 60], "y": [70, 71, 72, 90]}
t.ok(not rank.settled(flip, 3), "a last round that turns a strict pair "
     "into a tie leaves the load unsettled")
t.ok(rank.settled(tie, 2), "a tie that stays a tie is settled")

# --- ranking.csv and two runs compared --------------------------------------


def run_dir(name, by_load):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    rows = rank.ranking_rows(by_load, list(by_load))
    rank.write_ranking(os.path.join(d, "ranking.csv"), rows)
    return d


A = run_dir("A", {"c10": {"p": [100, 101, 102], "q": [80, 81, 82],
                          "r": [60, 61, 62]},
                  "c50": {"p": [10, 11, 12], "q": [9, 11, 13],
                          "r": [1, 2, 3]}})
with open(os.path.join(A, "ranking.csv")) as f:
    head = f.readline().strip()
t.is_(head, "load,model,rank,low,median,high", "ranking.csv's columns")
back = rank.read_ranking(os.path.join(A, "ranking.csv"))
t.is_(back["c10"]["q"], (80.0, 81.0, 82.0),
      "ranking.csv reads back as (low, median, high)")

# B: q beats p at c10 (reversed); at c50 p beats q (tied in A: no claim
# to reverse) and r still last.
B = run_dir("B", {"c10": {"p": [70, 71, 72], "q": [90, 91, 92],
                          "r": [60, 61, 62]},
                  "c50": {"p": [20, 21, 22], "q": [9, 10, 11],
                          "r": [1, 2, 3]}})
cmp = dict(rank.compare(rank.read_ranking(os.path.join(A, "ranking.csv")),
                        rank.read_ranking(os.path.join(B, "ranking.csv"))))
t.is_(cmp["c10"]["reversed"], [("p", "q")],
      "c10: p > q in A and q > p in B is the one reversed pair")
t.is_((cmp["c10"]["agree"], cmp["c10"]["pairs"]), (2, 3),
      "c10: the other two pairs agree")
t.is_((cmp["c50"]["reversed"], cmp["c50"]["ties_a"], cmp["c50"]["ties_b"]),
      ([], 1, 0), "c50: a pair tied in A and strict in B is not reversed; "
      "ties counted per run")


def cli(*args):
    p = subprocess.run([sys.executable, os.path.join(REPO, "bench",
                                                     "rank.py")] +
                       list(args), capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


rc, out, _ = cli(A, B)
t.is_(rc, 1, "rank.py A B exits 1 when a pair is reversed")
t.ok("1 of 6 pairs strictly reversed" in out and
     "q > p in B" in out, "and names it: %r" % out[-200:])
rc, out, _ = cli(A, A)
t.ok(rc == 0 and "0 of 6 pairs strictly reversed" in out,
     "a run compared with itself: nothing reversed, exit 0")
rc, _, err = cli(A, TMP)
t.ok(rc == 2 and "no ranking.csv" in err,
     "a directory without ranking.csv: exit 2 with a reason")
if shutil.which("make"):
    p = subprocess.run(["make", "-s", "-C", REPO, "bench-compare", A, B],
                       capture_output=True, text=True, timeout=60)
    t.ok("1 of 6 pairs strictly reversed" in p.stdout,
         "make bench-compare A B runs the same comparison")
else:
    t.skip("make bench-compare", "make is not installed")

# The README's table comes from a run's ranking.csv by the same rule.
readme = os.path.join(TMP, "README.md")
with open(readme, "w") as f:
    f.write("intro\n<!-- ranking table: bench/rank.py --readme old -->\n"
            "| stale |\n<!-- end of ranking table -->\nafter\n")
rc, _, err = cli("--readme", A, readme)
with open(readme) as f:
    txt = f.read()
t.ok(rc == 0 and "| stale |" not in txt and txt.startswith("intro\n") and
     txt.endswith("after\n") and "--readme %s %s -->" % (A, readme) in txt,
     "rank.py --readme replaces the table between the markers only")
t.ok("| p | 0.1k (0.1-0.1) #1 | 0.0k (0.0-0.0) #1 |" in txt and
     "| r | 0.1k (0.1-0.1) #3 | 0.0k (0.0-0.0) #3 |" in txt,
     "each cell is median (interval) #rank, ties sharing a rank")
rc, _, _ = cli("--readme", A, readme, "c50")
with open(readme) as f:
    txt = f.read()
t.ok(rc == 0 and "| model | c50 req/s |" in txt and "c10" not in
     txt.split("-->", 1)[1], "--readme with loads: only those columns")
rc, _, err = cli("--readme", A, readme, "c7")
t.ok(rc == 2 and "has the loads c10,c50" in err,
     "--readme with a load the run lacks: exit 2, naming the loads")
rc, _, err = cli("--readme", A, os.path.join(A, "ranking.csv"))
t.ok(rc == 2 and "markers" in err, "a file without the markers: exit 2")

shutil.rmtree(TMP, ignore_errors=True)
t.done()
