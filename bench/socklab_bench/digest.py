"""Loadgen's JSON: every field the driver reads is read here, and the
figures derived from one run (CPU per request, memory per session)."""

import json

from .conf import BULK, PCTS

def dig(j, *path, default=None):
    for k in path:
        if not isinstance(j, dict) or k not in j:
            return default
        j = j[k]
    return j


def lg_summary(j):
    """The figures the report uses, out of one loadgen JSON document."""
    lat = dig(j, "latency_us", default={}) or {}
    con = dig(j, "connect_us", default={}) or {}
    first = dig(j, "first_reply_us", default={}) or {}
    errs = dict(dig(j, "errors", default={}) or {})
    total = errs.pop("total", None)
    s = {
        "completed": dig(j, "requests", "completed", default=0),
        "failed": dig(j, "requests", "failed", default=0),
        "warmup_replies": dig(j, "requests", "warmup_replies", default=0),
        "rps": dig(j, "throughput_rps", default=0.0),
        "measured_s": dig(j, "measured_s", default=0.0),
        "mean_us": lat.get("mean"),
        "max_us": lat.get("max"),
        "connect": pct_keys(con),
        "first_reply": pct_keys(first),
        "errors": errs,
        "errors_total": total if total is not None else
        sum(v for v in errs.values() if isinstance(v, (int, float))),
        "sessions_replied": first.get("count"),
        "sessions_lost": dig(j, "sessions_lost"),
        "unanswered": dig(j, "unanswered"),
        "unanswered_warmup": dig(j, "unanswered_warmup"),
        "listen_overflows": dig(j, "netstat", "ListenOverflows"),
        "listen_drops": dig(j, "netstat", "ListenDrops"),
        "syn_retrans": dig(j, "connects", "syn_retrans"),
        "slow_connects": dig(j, "connects", "slow_connects"),
        "cut_short": dig(j, "cut_short"),
    }
    lat = pct_keys(lat)
    for p in PCTS:
        s[p + "_us"] = lat.get(p)
    return s


def pct_keys(h):
    """loadgen spells p99.9 "p99_9" (a plain JSON key); the report does
    not."""
    return {k.replace("_", "."): v for k, v in h.items()}


def lg_histogram(j, which):
    """[(value_us, fraction below this bucket, fraction up to it)] from a
    histogram's buckets ([highest value in us, count], increasing)."""
    h = dig(j, which)
    if not h or not h.get("count"):
        return [], 0
    total = h["count"]
    out = []
    cum = 0
    for hi, n in h.get("buckets", []):
        prev = cum
        cum += n
        out.append((hi, prev / total, cum / total))
    return out, total


def figure(j):
    """The figure a run is ranked by: requests/s (bytes/s of lines for a
    bulk run, where the line size is the point)."""
    rps = lg_summary(j)["rps"] or 0.0
    size = BULK.get(j["bench"]["label"])
    return rps * size if size else rps


def cpu_per_request(j):
    """Server CPU microseconds per reply it produced (warm-up included,
    as the CPU time is)."""
    b = j.get("bench", {})
    cpu = b.get("server_cpu_s")
    if not cpu:
        return None
    s = lg_summary(j)
    n = (s["completed"] or 0) + (s["warmup_replies"] or 0)
    return cpu["total"] * 1e6 / n if n else None


def mem_per_session(j):
    b = j["bench"]
    m = b.get("server_mem")
    if not m:
        return None
    return m["pss_kb"] / b["sessions"]


def mem_marginal(j):
    b = j["bench"]
    m, idle = b.get("server_mem"), b.get("server_mem_idle")
    if not m or not idle:
        return None
    return (m["pss_kb"] - idle["pss_kb"]) / b["sessions"]


def run_file(j):
    b = j["bench"]
    return "%s-%s-r%d.json" % (b["target"], b["label"], b["round"])


def median_floor(floors):
    """The floor run with the median p50: the one the report quotes."""
    ok = sorted((f for f in floors if f),
                key=lambda f: f["latency_us"]["p50"])
    return ok[(len(ok) - 1) // 2] if ok else None


def write_json(path, j):
    """One top-level key per line, each value compact: a run with its
    histograms stays a few kB and still reads with less or grep."""
    with open(path, "w") as f:
        f.write("{\n")
        f.write(",\n".join("%s: %s" % (json.dumps(k), json.dumps(
            v, separators=(",", ":"))) for k, v in j.items()))
        f.write("\n}\n")
