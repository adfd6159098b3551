"""The plots: the numbers behind them into plotdata/, then gnuplot."""

import os
import shutil

from .conf import HERE, table_labels, warn
from .digest import lg_histogram, lg_summary
from .procs import run_cmd_bounded


def write_plots(bench):
    """The numbers behind the plots into plotdata/, then gnuplot; sets
    bench.plot_labels, the loads that have a latency plot."""
    pd = os.path.join(bench.out, "plotdata")
    targets = bench.models + list(bench.externals) + (
        ["redis"] if bench.redis else [])
    labels, lat, conn = write_curves(bench, pd)
    for t in targets:
        write_tput(bench, pd, t)
    write_floor(bench, pd)
    lfloor = write_lfloor(bench, pd)
    order = table_labels(bench.a)
    labels.sort(key=lambda x: order.index(x) if x in order else 99)
    connlabels = [x for x in ("c%d" % max(bench.a.sessions),
                              "k0-c%d" % bench.a.k0_sessions)
                  if x in labels]
    with open(os.path.join(pd, "vars.gp"), "w") as f:
        f.write("# written by bench/bench.py for bench/plot.gp\n")
        f.write('targets = "%s"\n' % " ".join(targets))
        f.write('labels = "%s"\n' % " ".join(labels))
        for i, lab in enumerate(labels, 1):
            f.write('lat_%d = "%s"\n' % (i, " ".join(lat.get(lab, []))))
        f.write('connlabels = "%s"\n' % " ".join(connlabels))
        for i, lab in enumerate(connlabels, 1):
            f.write('conn_%d = "%s"\n' % (i, " ".join(conn.get(lab, []))))
        f.write("floor = %d\n" % (1 if bench.pingpong else 0))
        f.write("lfloor = %d\n" % (1 if lfloor else 0))
    bench.plot_labels = labels
    gnuplot(bench)


def write_curves(bench, pd):
    """A latency and a connect-time curve per run shown; returns the
    loads and, per load, the targets that have each curve."""
    labels, lat, conn = [], {}, {}
    for j in bench.runs:
        b = j["bench"]
        t, lab = b["target"], b["label"]
        if lab not in labels and lab in table_labels(bench.a):
            labels.append(lab)
        if write_curve(os.path.join(pd, "lat-%s-%s.dat" % (t, lab)),
                       lg_histogram(j, "latency_us")):
            lat.setdefault(lab, []).append(t)
        if write_curve(os.path.join(pd, "conn-%s-%s.dat" % (t, lab)),
                       lg_histogram(j, "connect_us")):
            conn.setdefault(lab, []).append(t)
    return labels, lat, conn


def write_tput(bench, pd, t):
    """Throughput against sessions: the persistent runs of one target,
    the median round and the spread of every round."""
    med, every = {}, {}
    for j in bench.runs:
        b = j["bench"]
        if b["target"] == t and b["keepalive"]:
            med.setdefault(b["sessions"], []).append(
                lg_summary(j)["rps"] or 0)
            every.setdefault(b["sessions"], []).extend(
                b.get("rounds", {}).get("rps", []))
    with open(os.path.join(pd, "tput-%s.dat" % t), "w") as f:
        f.write("# sessions rps(median round) min max (rounds)\n")
        for c in sorted(med):
            m = sum(med[c]) / len(med[c])
            e = every[c] or [m]
            f.write("%d %.1f %.1f %.1f\n" % (c, m, min(e), max(e)))


def write_floor(bench, pd):
    """The median floor run's percentile curve and its round trips/s."""
    pp = bench.pingpong
    if not pp:
        return
    with open(os.path.join(pd, "lat-pingpong-c1.dat"), "w") as f:
        f.write("# us cum_pct inv_below\n")
        for pt in pp["percentile_curve"]:
            p = pt["percentile"] / 100
            x = 1 / (1 - p) if p < 1 else pp["requests"]
            f.write("%.3f %.6f %.3f\n" % (pt["us"], p * 100, x))
    with open(os.path.join(pd, "floor.dat"), "w") as f:
        f.write("1 %.1f\n" % pp["rps"])


def write_lfloor(bench, pd):
    """The loadgen floor's median run as a curve; whether there is one."""
    lf = sorted((f for f in bench.lfloors
                 if f and lg_summary(f)["p50_us"]),
                key=lambda f: lg_summary(f)["p50_us"])
    return bool(lf) and write_curve(
        os.path.join(pd, "lat-pingpong-server-c1.dat"),
        lg_histogram(lf[(len(lf) - 1) // 2], "latency_us"))


def gnuplot(bench):
    if not shutil.which("gnuplot"):
        bench.notes.append("gnuplot is not installed: no plots.")
        return
    cmd = ["gnuplot", "-e", "dir='%s'" % bench.out,
           os.path.join(HERE, "plot.gp")]
    rc, err, _ = run_cmd_bounded(cmd, 60)
    if rc != 0:
        warn("gnuplot failed: %s" % err.strip())
        bench.notes.append("gnuplot failed: %s" % err.strip()[-300:])


def write_curve(path, hist):
    """Columns: us, % of values <= us, and 1/(1 - fraction below the
    bucket): the x of a percentile plot drawn with steps.  Returns
    whether there was anything to write."""
    pts, total = hist
    with open(path, "w") as f:
        f.write("# us cum_pct inv_below\n")
        if not pts:
            return False
        for us, below, upto in pts:
            f.write("%.3f %.6f %.3f\n" % (us, upto * 100, 1 / (1 - below)))
        # The last step ends where the count runs out: 1/(1 - (n-1)/n).
        last = 1 / (1 - pts[-1][1])
        f.write("%.3f %.6f %.3f\n" % (pts[-1][0], 100, max(total,
                                                             last * 2)))
    return True

