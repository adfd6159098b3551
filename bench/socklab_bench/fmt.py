"""How numbers and notes are printed in the report and the progress."""

import os

from .digest import lg_summary

def fmt_kib(x):
    """KiB with one decimal; "0.0", not "-0.0", for a PSS that went down
    by a few hundred bytes."""
    if x is None:
        return "-"
    return "%.1f" % x if abs(x) >= 0.05 else "0.0"


def fmt_bytes(x):
    """Bytes/s as MB/s (10^6, like iperf3's own report in bytes)."""
    if x is None:
        return "-"
    return "%.0f MB/s" % (x / 1e6)


def fmt_num(x):
    if x is None:
        return "-"
    return "{:,.0f}".format(x)


def fmt_us(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.2f s" % (x / 1e6)
    if x >= 1e3:
        return "%.2f ms" % (x / 1e3)
    return "%.1f us" % x


def shell_quote(s):
    if s and all(c.isalnum() or c in "-_./=,:+" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def relink(md, rel):
    """Rewrite the report's relative links (images, files, ../README.md)
    for a copy that lives rel/.. from the run's directory."""
    out = []
    for line in md.splitlines(True):
        parts = line.split("](")
        for i in range(1, len(parts)):
            link, sep, rest = parts[i].partition(")")
            if sep and not link.startswith(("http:", "https:", "/", "#")):
                link = os.path.normpath(os.path.join(rel, link))
            parts[i] = link + sep + rest
        out.append("](".join(parts))
    return "".join(out)


def label_of(t):
    return "redis-server (reference)" if t == "redis" else t


def cell_rps(j):
    if j is None or "bench" not in j:
        return "-"
    return fmt_num(lg_summary(j)["rps"]) + served_note(j)


def served_note(j, errors=True):
    s = lg_summary(j)
    b = j["bench"]
    notes = []
    sr = s["sessions_replied"]
    if b["keepalive"] and sr is not None and sr < b["sessions"]:
        notes.append("%d of %d sessions served" % (sr, b["sessions"]))
    if errors and s["errors_total"]:
        notes.append("%d errors" % s["errors_total"])
    return " (%s)" % "; ".join(notes) if notes else ""


