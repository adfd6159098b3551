#!/usr/bin/env python3
"""rank.py - which design is faster, only as far as the rounds say so.

The bench measures every figure it compares once per round.  Here each
figure gets its median and a confidence interval over the rounds, the
models at one load are ranked with ties, and two runs' rankings are
compared pair by pair.  bench.py imports it; run alone it is the
comparison of two results directories (`make bench-compare A B`):

    bench/rank.py DIR_A DIR_B
    bench/rank.py --readme DIR [FILE [LOADS]]   the ranking table of DIR
        (LOADS: a,b,c of its loads; default all) into FILE (README.md)
        between its markers

The interval is the distribution-free confidence interval of the median
by order statistics (e.g. Conover, Practical Nonparametric Statistics,
ch. 3.2): with n rounds sorted, [x(k), x(n+1-k)] holds the median of the
rounds' distribution with probability 1 - 2 P(Binomial(n, 1/2) < k).  k
is the largest that keeps that at COVERAGE or more; with up to 7 rounds
k = 1, the slowest and the fastest round (coverage 1 - 2^(1-n): 75 % for
3 rounds, 94 % for 5).  Nothing is assumed about the shape of the noise,
which on a shared machine is lopsided (a round is hit by another job,
never helped by one).

Two models are tied when their intervals overlap.  A model's rank is one
plus the number of models strictly faster than it (interval wholly
above); tied models share a rank.  Overlap is not transitive (a ties b,
b ties c, a above c): the ranks then say a 1, b 1, c 2, and the pairs,
not the ranks, are what two runs are compared by.

Python 3 standard library only.
"""

import csv
import math
import os
import sys

COVERAGE = 0.90
RANKING_COLS = ["load", "model", "rank", "low", "median", "high"]


def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def order_k(n, coverage=COVERAGE):
    """The k of the interval [x(k), x(n+1-k)] (1-based): the largest
    whose coverage is at least `coverage`; 1 when none is (too few
    rounds: then the interval is the whole range, and says so by its
    width)."""
    best = 1
    for k in range(1, n // 2 + 1):
        tail = sum(math.comb(n, i) for i in range(k)) / 2 ** n
        if 1 - 2 * tail >= coverage:
            best = k
    return best


def coverage_of(n, k=None):
    """The coverage of the interval order_k picks for n rounds."""
    k = order_k(n) if k is None else k
    return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n


def interval(xs):
    """(low, median, high) of one figure's rounds."""
    s = sorted(xs)
    if not s:
        return None
    k = order_k(len(s))
    return (s[k - 1], median(s), s[len(s) - k])


def faster(a, b):
    """a's interval lies wholly above b's: a strictly faster."""
    return a[0] > b[2]


def rank(figs):
    """{model: rank} for {model: (low, median, high)} at one load."""
    return {m: 1 + sum(1 for o in figs if o != m and faster(figs[o], f))
            for m, f in figs.items()}


def rank_rounds(rounds):
    """{model: (rank, low, median, high)} from {model: [value per
    round]}; a model without a value is left out."""
    figs = {m: interval(v) for m, v in rounds.items() if v}
    r = rank(figs)
    return {m: (r[m],) + figs[m] for m in figs}


def strict_pairs(figs):
    """{(a, b)} for every pair ranked strictly a faster than b."""
    return {(a, b) for a in figs for b in figs
            if a != b and faster(figs[a], figs[b])}


def tied_pairs(figs):
    ms = sorted(figs)
    return [(a, b) for i, a in enumerate(ms) for b in ms[i + 1:]
            if not faster(figs[a], figs[b]) and not faster(figs[b], figs[a])]


def settled(rounds, min_rounds):
    """A load is settled when it has min_rounds rounds and its ranking
    (which pairs are strict, which way) did not change with the last
    round: one more round would have to overturn what the others agree
    on.  rounds: {model: [value per round]}, all of one length."""
    n = min((len(v) for v in rounds.values()), default=0)
    if n < max(min_rounds, 2):
        return False
    now = {m: interval(v) for m, v in rounds.items()}
    before = {m: interval(v[:-1]) for m, v in rounds.items()}
    return strict_pairs(now) == strict_pairs(before)


# --- ranking.csv ---------------------------------------------------------

def ranking_rows(by_load, loads):
    """Rows of ranking.csv, loads in the given order, each load's models
    by rank then median (fastest first).  by_load: {load: {model:
    [value per round]}}."""
    rows = []
    for load in loads:
        r = rank_rounds(by_load.get(load, {}))
        for m in sorted(r, key=lambda m: (r[m][0], -r[m][2], m)):
            rows.append({"load": load, "model": m, "rank": r[m][0],
                         "low": r[m][1], "median": r[m][2],
                         "high": r[m][3]})
    return rows


def write_ranking(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RANKING_COLS)
        for r in rows:
            w.writerow([r["load"], r["model"], r["rank"]] +
                       ["%.1f" % r[c] for c in ("low", "median", "high")])


def read_ranking(path):
    """{load: {model: (low, median, high)}} from a ranking.csv."""
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["load"], {})[row["model"]] = tuple(
                float(row[c]) for c in ("low", "median", "high"))
    return out


def loads_in(path):
    """The loads of a ranking.csv in file order."""
    seen = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["load"] not in seen:
                seen.append(row["load"])
    return seen


# --- two runs --------------------------------------------------------------

def compare(ra, rb, loads=None):
    """Compare two rankings ({load: {model: (low, median, high)}}), over
    the loads and models both have.  Per load: pairs compared, pairs
    strict in both runs the same way (agree), pairs strict in both and
    opposite (reversed: the one thing a ranking must never do), pairs
    tied in A, in B.  Returns [(load, dict)]."""
    loads = loads or [x for x in ra if x in rb]
    out = []
    for load in loads:
        if load not in ra or load not in rb:
            continue
        common = sorted(set(ra[load]) & set(rb[load]))
        a = {m: ra[load][m] for m in common}
        b = {m: rb[load][m] for m in common}
        sa, sb = strict_pairs(a), strict_pairs(b)
        rev = sorted((x, y) for x, y in sa if (y, x) in sb)
        out.append((load, {
            "models": len(common),
            "pairs": len(common) * (len(common) - 1) // 2,
            "agree": len(sa & sb), "reversed": rev,
            "ties_a": len(tied_pairs(a)), "ties_b": len(tied_pairs(b))}))
    return out


def compare_text(cmp, name_a, name_b):
    """The comparison as lines of text (the same in the report, on the
    terminal and from make bench-compare)."""
    lines = ["%-12s %6s %6s %6s %8s %8s  %s" % (
        "load", "models", "pairs", "agree", "ties A", "ties B",
        "strictly reversed")]
    nrev = npairs = 0
    for load, c in cmp:
        nrev += len(c["reversed"])
        npairs += c["pairs"]
        lines.append("%-12s %6d %6d %6d %8d %8d  %s" % (
            load, c["models"], c["pairs"], c["agree"], c["ties_a"],
            c["ties_b"], ", ".join("%s > %s in B" % (y, x)
                                   for x, y in c["reversed"]) or "0"))
    lines.append("%d of %d pairs strictly reversed between A (%s) and "
                 "B (%s)." % (nrev, npairs, name_a, name_b))
    return lines, nrev


def fmt_figure(load, x, unit=True):
    """req/s in thousands ("k" unless unit is false), or MB/s for a bulk
    load."""
    if load.startswith("bulk-"):
        return "%.0f" % (x / 1e6)
    return "%.1f%s" % (x / 1e3, "k" if unit else "")


def markdown_table(ranking, loads):
    """The ranking as a markdown table: a row per model, a column per
    load, each cell median (low-high) #rank."""
    models = []
    for load in loads:
        for m in sorted(ranking.get(load, {}),
                        key=lambda m: -ranking[load][m][1]):
            if m not in models:
                models.append(m)
    head = ["model"] + ["%s %s" % (load, "MB/s" if load.startswith(
        "bulk-") else "req/s") for load in loads]
    lines = ["| " + " | ".join(head) + " |",
             "|---" + "|---:" * len(loads) + "|"]
    for m in models:
        row = [m]
        for load in loads:
            figs = ranking.get(load, {})
            if m not in figs:
                row.append("-")
                continue
            lo, med, hi = figs[m]
            r = rank(figs)[m]
            row.append("%s (%s-%s) #%d" % (fmt_figure(load, med),
                                           fmt_figure(load, lo, False),
                                           fmt_figure(load, hi, False), r))
        lines.append("| " + " | ".join(row) + " |")
    return lines


BEGIN = "<!-- ranking table: bench/rank.py --readme %s -->"
END = "<!-- end of ranking table -->"


def update_readme(path, d, loads=None):
    """Replace the lines between the markers of path with d's table."""
    have = loads_in(ranking_path(d))
    loads = loads or have
    if any(x not in have for x in loads):
        raise ValueError("%s has the loads %s" % (ranking_path(d),
                                                  ",".join(have)))
    table = markdown_table(read_ranking(ranking_path(d)), loads)
    with open(path) as f:
        lines = f.read().split("\n")
    starts = [i for i, x in enumerate(lines)
              if x.startswith(BEGIN.split("%s")[0])]
    ends = [i for i, x in enumerate(lines) if x == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError("%s: needs one pair of ranking table markers"
                         % path)
    new = lines[:starts[0]] + [BEGIN % " ".join([d, path] + (
        [",".join(loads)] if loads != have else []))] + table + \
        lines[ends[0]:]
    with open(path, "w") as f:
        f.write("\n".join(new))


def ranking_path(d):
    return os.path.join(d, "ranking.csv")


def main(argv):
    if argv[:1] == ["--readme"] and len(argv) in (2, 3, 4):
        try:
            update_readme(argv[2] if len(argv) >= 3 else "README.md",
                          argv[1], argv[3].split(",") if len(argv) == 4
                          else None)
        except (OSError, KeyError, ValueError) as e:
            print("rank.py: %s" % e, file=sys.stderr)
            return 2
        return 0
    if len(argv) != 2:
        print("usage: rank.py DIR_A DIR_B   (two results directories, "
              "each with a ranking.csv)", file=sys.stderr)
        return 2
    ra = {}
    for d in argv:
        p = ranking_path(d)
        if not os.path.exists(p):
            print("rank.py: %s has no ranking.csv" % d, file=sys.stderr)
            return 2
        try:
            ra[d] = read_ranking(p)
        except (OSError, KeyError, ValueError) as e:
            print("rank.py: %s: %s" % (p, e), file=sys.stderr)
            return 2
    a, b = argv
    lines, nrev = compare_text(compare(ra[a], ra[b], loads_in(
        ranking_path(a))), a, b)
    print("\n".join(lines))
    return 1 if nrev else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
