"""The orchestration: the plan of runs, the rounds, one loadgen run
against one freshly started server, and the outputs written in order."""

import json
import os
import shutil
import time

import kprofile
import rank
import syscount
import uringratio

from . import columns, pin, plots
from .collate import Collate
from .conf import (BULK, BULK_PIPELINE, LINE_BYTES, REDIS_REQUEST,
                   REDIS_REQUEST_BYTES, log, warmup_for, warn)
from .digest import cpu_per_request, lg_summary, median_floor, write_json
from .fmt import fmt_num, fmt_us, relink
from .memory import MemorySampler, tree_memory
from .models import (externals, list_models, oneshot_models, pool_models,
                     workers_for)
from .procs import Server, run_cmd_bounded
from .refs import Refs
from .report import Report


class Bench(Collate, Refs):
    """One `make bench`: main() runs the plan and writes every output."""

    def __init__(self, args):
        self.a = args
        self.bindir = args.bin
        self.out = args.out
        self.all_runs = []      # one dict per run, as written
        self.runs = []          # one per (target, run): the median round
        self.round = 1
        self.notes = []
        self.nrun = 0
        self.total_runs = 0

    # --- one loadgen run against one freshly started server -----------
    def run_one(self, target, kind, sessions, keepalive, label,
                sample_mem=False):
        a = self.a
        name = "%s-%s-r%d" % (target, label, self.round)
        jpath = os.path.join(self.out, "runs", name + ".json")
        workers = workers_for(a, self.pools, target, sessions,
                              keepalive) if kind == "model" else None
        srv = Server(kind, target, self.bindir,
                     os.path.join(self.out, "logs", name + ".server.log"),
                     workers=workers, spec=self.externals.get(target,
                                                              (None,))[-1])
        t0 = time.monotonic()
        srv.start()
        idle = tree_memory(srv.pid()) if srv.pid() else None
        cmd = self.loadgen_cmd(srv, kind, sessions, keepalive, label, jpath)
        warmup = warmup_for(a, sessions)
        sampler = None
        if sample_mem and srv.pid() is not None:
            sampler = MemorySampler(srv.proc.pid, sessions, warmup * 0.2,
                                    warmup * 0.8)
            sampler.start()
        limit = warmup + a.duration + a.timeout * 2 + 30
        try:
            rc, err, timed_out = run_cmd_bounded(
                pin.pinned(cmd, "loadgen"), limit)
            lg_end = time.monotonic()
        finally:
            if sampler:
                sampler.cancel()
                sampler.join()
            srv.stop()
        mem = self.loaded_sample(sampler, lg_end, warmup, name)
        j = read_json(jpath)
        j["bench"] = {
            "target": target, "kind": kind, "sessions": sessions,
            "keepalive": keepalive, "label": label, "round": self.round,
            "request_bytes": REDIS_REQUEST_BYTES if kind == "redis"
            else BULK.get(label, LINE_BYTES),
            "request": REDIS_REQUEST if kind == "redis"
            else "%d-byte varying lowercase line" % BULK.get(label,
                                                             LINE_BYTES),
            "server_cmd": srv.cmd, "loadgen_cmd": cmd,
            "workers": workers,
            "loadgen_exit": rc, "loadgen_killed": timed_out,
            "loadgen_stderr": err[-2000:],
            "server_pid": srv.pid(),
            "server_exit": srv.status,
            "server_cpu_s": srv.rusage,
            "server_cpu_proc_before_stop_s": srv.cpu_before_stop,
            "server_mem_idle": idle,
            "server_mem": mem,
            "wall_s": round(time.monotonic() - t0, 3),
            "pinned": pin.PIN,
        }
        write_json(jpath, j)
        self._cleanup_log(srv)
        self.all_runs.append(j)
        self._progress(j)
        return j

    def loadgen_cmd(self, srv, kind, sessions, keepalive, label, jpath):
        a = self.a
        cmd = [os.path.join(self.bindir, "loadgen"), "--host", srv.host,
               "--port", str(srv.port), "-c", str(sessions),
               "-t", str(min(a.threads, sessions)),
               "--timeout", str(a.timeout), "--json", jpath, "--quiet"]
        if keepalive == 0:
            cmd += ["-k", "0"]
        cmd += ["-d", str(a.duration), "--warmup",
                str(warmup_for(a, sessions))]
        if kind == "redis":
            cmd += ["--request", REDIS_REQUEST, "--no-verify"]
        if label in BULK:
            cmd += ["-s", str(BULK[label]), "-P", str(BULK_PIPELINE)]
        return cmd

    def loaded_sample(self, sampler, lg_end, warmup, name):
        """The memory sample, unless it finished after loadgen's window
        closed, when its sessions may be gone: not the loaded server.
        (A very short run on a busy machine.)"""
        mem = sampler.sample if sampler else None
        if mem and (sampler.done_at > lg_end or
                    mem["at_s"] > warmup + self.a.duration):
            self.notes.append("%s: the memory sample came after the load "
                              "ended; dropped" % name)
            return None
        return mem

    def _cleanup_log(self, srv):
        """Keep a server's stderr only when it said something; redis
        always prints a banner, so its log is kept only after a failure."""
        if srv.kind == "connect":
            return
        try:
            if os.path.getsize(srv.logpath) == 0 or \
                    (srv.kind == "redis" and srv.status == 0):
                os.unlink(srv.logpath)
        except OSError:
            pass

    def _progress(self, j):
        self.nrun += 1
        b = j["bench"]
        s = lg_summary(j)
        cpu = cpu_per_request(j)
        extra = ""
        sr = s["sessions_replied"]
        if b["keepalive"] and sr is not None and sr < b["sessions"]:
            extra += "  served %d of %d sessions" % (sr, b["sessions"])
        if s["errors_total"]:
            extra += "  errors %d" % s["errors_total"]
        if b["loadgen_exit"] not in (0, None):
            extra += "  loadgen exit %s" % b["loadgen_exit"]
        log("[%3d/%d] %-15s %-8s %10s req/s  p50 %9s  p99 %9s  "
            "cpu %7s us/req  %5.1fs%s" % (
                self.nrun, self.total_runs, b["target"],
                "%s%s" % (b["label"], " r%d" % b["round"]
                          if self.a.max_rounds > 1 else ""),
                fmt_num(s["rps"]), fmt_us(s["p50_us"]),
                fmt_us(s["p99_us"]),
                "%.1f" % cpu if cpu is not None else "-",
                b["wall_s"], extra))

    # --- the whole bench ----------------------------------------------
    def plan(self):
        """The runs in order.  They go by concurrency, every target at one
        concurrency before the next, so that the figures compared in one
        column were measured minutes apart at most: on a shared machine the
        background load drifts.  For the same reason the floor is measured
        before each target's one-session run and once after the last
        (each target is compared with the two floors around it), and
        redis-server runs at 50 sessions both first and last of that
        block.  One block per load: a round runs the blocks of the loads
        whose ranking has not settled yet (see main)."""
        a = self.a
        every = [(m, "model") for m in self.models]
        every += [(t, k) for t, (k, _) in self.externals.items()]
        if self.redis:
            every.append(("redis", "redis"))
        # One line per connection: only the k0 load.
        oneshot = oneshot_models(self.bindir)
        targets = [(t, k) for t, k in every if t not in oneshot]
        top = max(a.sessions)
        runs = []               # [(load, [run, ...])], one per load
        for c in sorted(set(a.sessions) | {50}):
            lab = "c%d" % c
            block = [(t, kind, c, 1, lab, c == top) for t, kind in targets]
            if c == 1:
                block = [x for r in block for x in (("floor",), r)]
                block.append(("floor",))
                # After each pair floor, the same echo driven by loadgen.
                block = [x for r in block for x in (
                    (r, ("floor-server",)) if r[0] == "floor" else (r,))]
            if c == 50 and self.redis:
                block.insert(0, block.pop())
                block.append(("redis", "redis", 50, 1, "c50-end", False))
            runs.append((lab, block))
        lab = "k0-c%d" % a.k0_sessions
        runs.append((lab, [(t, kind, a.k0_sessions, 0, lab, False)
                           for t, kind in every]))
        # Bulk: one session of big pipelined lines; redis only answers
        # PING.  iperf3's loopback ceiling heads the largest size.
        for lab in BULK:
            block = [(t, kind, 1, 1, lab, False) for t, kind in targets
                     if kind != "redis"]
            if lab == max(BULK, key=BULK.get) and self.iperf3:
                block.insert(0, ("iperf3",))
            runs.append((lab, block))
        return runs

    def clear_old(self):
        """A rerun into the same directory (same day, same host) must not
        leave the previous run's files beside the new ones: remove what
        this script writes, and nothing else."""
        for sub in ("runs", "plotdata", "logs"):
            d = os.path.join(self.out, sub)
            if os.path.isdir(d):
                for f in os.listdir(d):
                    if f.endswith((".json", ".dat", ".gp", ".log")):
                        os.unlink(os.path.join(d, f))
        if os.path.isdir(self.out):
            for f in os.listdir(self.out):
                if f.endswith(".svg") or f in ("summary.csv", "report.md",
                                               "ranking.csv",
                                               "hyperfine.json",
                                               "hyperfine.md",
                                               "syscalls.csv", "syscalls.md",
                                               "kprofile.csv", "kprofile.md",
                                               "uringratio.csv",
                                               "uringratio.md"):
                    os.unlink(os.path.join(self.out, f))

    def main(self):
        a = self.a
        self.previous = None if a.no_compare else self.find_previous()
        self.clear_old()
        os.makedirs(os.path.join(self.out, "runs"), exist_ok=True)
        os.makedirs(os.path.join(self.out, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.out, "plotdata"), exist_ok=True)
        self.models = a.models or list_models(self.bindir)
        self.externals = externals(a)
        self.iperf3 = bool(BULK) and shutil.which("iperf3") is not None
        self.iperf = []
        if BULK and not self.iperf3:
            self.notes.append("iperf3 is not installed: no loopback "
                              "ceiling in the bulk table.")
        self.pools = pool_models(self.bindir) & set(self.models)
        self.redis = shutil.which("redis-server") and not a.no_redis
        if not self.redis:
            self.notes.append("redis-server is not installed (or "
                              "--no-redis): no reference line server.")
        self.hyperfine = shutil.which("hyperfine") and not a.no_hyperfine
        if not self.hyperfine:
            self.notes.append("hyperfine is not installed (or "
                              "--no-hyperfine): no whole-workload timing.")
        runs = self.plan()
        per_round = sum(len(b) for _, b in runs)
        self.total_runs = per_round * a.max_rounds
        start = time.monotonic()
        self.loadavg = [loadavg()]
        log("bench: %d models (%s)%s, %d to %d rounds of %d runs of %gs + "
            "%gs warm-up, then hyperfine; results in %s" % (
                len(self.models), " ".join(self.models),
                " + redis-server" if self.redis else "", a.rounds,
                a.max_rounds, per_round, a.duration, a.warmup, self.out))
        # hyperfine first: what is left of the budget is the rounds'.
        self.hf = self.run_hyperfine() if self.hyperfine else None
        self.phases = [("hyperfine", time.monotonic() - start)]
        self.floors, self.lfloors = [], []
        self.run_rounds(runs, start)
        self.phases.append(("rounds", time.monotonic() - start -
                            sum(x for _, x in self.phases)))
        self.loads = [lab for lab, _ in runs]
        self.pick_representatives()
        self.write_ranking()
        self.pingpong = median_floor(self.floors)
        self.attach_floors()
        self.rewrite_runs()
        columns.write_csv(os.path.join(self.out, "summary.csv"),
                          self.all_runs)
        plots.write_plots(self)
        for mod, args in ((syscount, None if a.no_syscalls else
                           syscount.bench_args(a)),
                          (kprofile, None if a.no_syscalls else
                           kprofile.bench_args(a, self.models)),
                          (uringratio, uringratio.bench_args(a, self.models))):
            if args:
                mod.main(args)
        self.loadavg.append(loadavg())
        self.phases.append(("outputs", time.monotonic() - start -
                            sum(x for _, x in self.phases)))
        self.write_report(time.monotonic() - start)
        log("bench: done in %.0fs (%s): %s" % (
            time.monotonic() - start, ", ".join(
                "%s %.0f s" % p for p in self.phases),
            os.path.join(self.out, "report.md")))

    def run_rounds(self, runs, start):
        """Round after round over the loads not settled yet, the models
        interleaved within each load's block.  Past --rounds, a round
        starts only if, at the pace of the last one, it ends within
        --budget seconds of the start: a load still unsettled then is
        reported as such."""
        a = self.a
        self.settled = {}       # load -> the round after which it was
        self.rounds_of = {}     # load -> rounds measured
        self.cut_by_budget = False
        cost = {}               # load -> seconds of its last block
        for self.round in range(1, a.max_rounds + 1):
            todo = [(lab, b) for lab, b in runs if lab not in self.settled]
            if not todo:
                break
            need = sum(cost.get(lab, 0) for lab, _ in todo)
            if self.round > a.rounds and \
                    time.monotonic() - start + need > a.budget:
                self.cut_by_budget = True
                log("bench: no round %d: %.0f s more would pass the "
                    "budget of %g s" % (self.round, need, a.budget))
                break
            for lab, block in todo:
                t0 = time.monotonic()
                self.run_round(block)
                cost[lab] = time.monotonic() - t0
                self.rounds_of[lab] = self.round
            for lab, _ in todo:
                if rank.settled(self.rank_rounds(lab), a.rounds):
                    self.settled[lab] = self.round
            self.total_runs = self.nrun + sum(
                len(b) for lab, b in runs if lab not in self.settled) * (
                    a.max_rounds - self.round)

    def run_round(self, runs):
        for r in runs:
            if r[0] == "iperf3":
                self.run_iperf3()
                continue
            if r[0] == "floor":
                self.run_pingpong()
                continue
            if r[0] == "floor-server":
                self.run_floor_server()
                continue
            t, kind, c, k, label, mem = r
            try:
                j = self.run_one(t, kind, c, k, label, sample_mem=mem)
                if label == "c1" and self.floors:
                    j["bench"]["floor_before"] = len(self.floors) - 1
            except (RuntimeError, OSError) as e:
                warn(str(e))
                self.notes.append("%s %s round %d: %s" % (t, label,
                                                          self.round, e))


    def write_report(self, elapsed):
        rep = Report(self, elapsed).text()
        path = os.path.join(self.out, "report.md")
        with open(path, "w") as f:
            f.write(rep)
        # results/latest.md: a copy whose links point into the run's dir.
        latest = os.path.join(os.path.dirname(os.path.abspath(self.out)),
                              "latest.md")
        rel = os.path.relpath(os.path.abspath(self.out),
                              os.path.dirname(latest))
        with open(latest, "w") as f:
            f.write(relink(rep, rel))


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": "no JSON from loadgen: %s" % e}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"

