"""The report's headline (each model against the floor and against
redis-server) and hyperfine's whole-workload table."""

import os
import shutil

from .digest import lg_summary, mem_marginal
from .fmt import cell_rps, fmt_kib, fmt_num, fmt_us, served_note
from .models import workers_for


class Headline:
    """Report's headline sections."""

    def section_targets(self):
        b, top = self.b, self.top
        self.w("## Headline: against the floor and against redis-server")
        self.w()
        self.headline_floors()
        rr = self.redis_c50()
        if rr:
            self.w("**redis-server** at 50 sessions: %s req/s, the mean of "
                   "a run before the models' 50-session runs (%s) and one "
                   "after them (%s); inline PING padded to 16 bytes." % (
                       fmt_num(rr), fmt_num(self.rps("redis", "c50")),
                       fmt_num(self.rps("redis", "c50-end"))))
            self.w()
        rows = [self.headline_row(t, rr, top) for t in b.models]
        self.w("Per model: at 1 session, the p50 round trip and its ratio "
               "to the floor's p50 (1.00 = as fast as the floor; the target "
               "is within a few percent), its ratio to the loadgen floor's "
               "p50 (the server's own share: the client is the same), and "
               "its throughput as a fraction of the floor's round trips/s; "
               "at 50 sessions, the throughput and its "
               "ratio to redis-server's in the same run (the target: the "
               "best model >= 1.00); the peak throughput and where; the "
               "marginal memory per session at %s." % top)
        self.w()
        self.table(["model", "c1 p50", "p50 / floor",
                    "p50 / loadgen floor", "c1 req/s / floor",
                    "c50 req/s", "c50 / redis", "peak req/s at sessions",
                    "KiB/session at " + top], rows)
        if rr:
            self.headline_best(rr)

    def headline_floors(self):
        b = self.b
        pp = b.pingpong
        floors = [f for f in b.floors if f]
        if pp:
            p50s = sorted(f["latency_us"]["p50"] for f in floors)
            self.w("**Floor** (`bin/pingpong`: one blocking client, one "
                   "blocking echo process, %d-byte lines), measured %d "
                   "times, before each target's one-session run and after "
                   "the last: median p50 %s (from %s to %s), %s round "
                   "trips/s in that median run, p99 %s.  Each model is "
                   "compared with the mean of the two floor runs around "
                   "its own one-session run." % (
                       pp["params"]["size"], len(floors),
                       fmt_us(pp["latency_us"]["p50"]), fmt_us(p50s[0]),
                       fmt_us(p50s[-1]), fmt_num(pp["rps"]),
                       fmt_us(pp["latency_us"]["p99"])))
            self.w()
            lf = [lg_summary(f) for f in b.lfloors if f]
            if lf:
                p50s = sorted(x["p50_us"] for x in lf if x["p50_us"])
                self.w("**Loadgen floor**: the same echo process alone "
                       "(`bin/pingpong --serve`), driven by loadgen at one "
                       "session exactly like the models, right after each "
                       "floor run: median p50 %s (from %s to %s).  The gap "
                       "between the two floors is loadgen's own cost "
                       "(epoll, non-blocking I/O, checking the reply) "
                       "against a bare blocking client." % (
                           fmt_us(p50s[(len(p50s) - 1) // 2]),
                           fmt_us(p50s[0]), fmt_us(p50s[-1])))
        else:
            self.w("No floor: bin/pingpong failed.")
        self.w()

    def headline_row(self, t, rr, top):
        """One model against the floor and redis; peak; memory."""
        b = self.b
        j1, j50, jt = (self.find(t, x) for x in ("c1", "c50", top))
        s1 = lg_summary(j1) if j1 else None
        s50 = lg_summary(j50) if j50 else None
        row = [t]
        fl = j1["bench"].get("floor") if j1 else None
        if fl and s1 and s1["p50_us"]:
            row += [fmt_us(s1["p50_us"]),
                    "%.2f" % (s1["p50_us"] / fl["p50_us"]),
                    "%.2f" % (s1["p50_us"] / fl["loadgen_p50_us"])
                    if fl.get("loadgen_p50_us") else "-",
                    "%.2f" % (s1["rps"] / fl["rps"])]
        else:
            row += ["-", "-", "-", "-"]
        row.append(cell_rps(j50))
        row.append("%.2f" % (s50["rps"] / rr) if s50 and rr else "-")
        peak = max(((lg_summary(j)["rps"], j["bench"]["sessions"], j)
                    for j in b.runs if j["bench"]["target"] == t and
                    j["bench"]["keepalive"] == 1),
                   key=lambda x: x[0], default=None)
        row.append("%s at %d%s" % (fmt_num(peak[0]), peak[1],
                                   served_note(peak[2], errors=False))
                   if peak else "-")
        mm = mem_marginal(jt) if jt else None
        sr = lg_summary(jt)["sessions_replied"] if jt else None
        row.append(fmt_kib(mm) +
                   (" (%d served)" % sr if sr is not None and
                    sr < jt["bench"]["sessions"] else ""))
        return row

    def headline_best(self, rr):
        b = self.b
        full = [(lg_summary(j)["rps"], t) for t, j in
                ((t, self.find(t, "c50")) for t in b.models)
                if j and not served_note(j, errors=False)]
        best = max(full, default=None)
        if best:
            self.w("Best model at 50 sessions, among those that served "
                   "all 50: **%s**, %.2f x redis-server%s." % (
                       best[1], best[0] / rr,
                       " (>= 1: the target is met in this run)"
                       if best[0] >= rr else
                       " (< 1: the target is not met in this run)"))
            self.w()

    def section_hyperfine(self):
        a = self.a
        self.w("## The whole fixed workload, timed by hyperfine")
        self.w()
        if not self.b.hf:
            self.w("Not run: " + ("hyperfine is not installed."
                                  if not shutil.which("hyperfine")
                                  else "see the notes above."))
            self.w()
            return
        self.w("Each command starts the server, runs `loadgen -c %d -n %d` "
               "(a fixed number of requests) and stops the server "
               "(`bench/bench.py --one MODEL`; its Python start-up, a few "
               "tens of ms, is in every figure alike).  `--warmup 1 --runs "
               "%d`%s.  Exported to [hyperfine.json](hyperfine.json) and "
               "[hyperfine.md](hyperfine.md)." % (
                   a.hf_sessions, a.hf_requests, a.hf_runs,
                   "; the pooled models get `--workers %d`" %
                   workers_for(a, self.b.pools, next(iter(self.b.pools)),
                               a.hf_sessions, 1)
                   if self.b.pools else ""))
        self.w()
        with open(os.path.join(self.b.out, "hyperfine.md")) as f:
            for line in f.read().splitlines():
                # The commands are long; the model name says enough.
                self.w(line)
        self.w()
        failed = [r["command"] for r in self.b.hf["results"]
                  if any(c != 0 for c in (r.get("exit_codes") or []))]
        if failed:
            self.w("Runs that exited non-zero (loadgen errors or "
                   "timeouts): " + ", ".join(failed) + ".")
            self.w()

