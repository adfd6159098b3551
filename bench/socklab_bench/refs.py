"""The references beside the models: the floors (bin/pingpong, and
its echo driven by loadgen), iperf3's loopback ceiling, hyperfine's
whole-workload timing, and --one, the workload hyperfine times."""

import json
import os
import select
import subprocess
import sys
import time

from .conf import ENTRY, REDIS_REQUEST, log, warn
from .fmt import fmt_bytes, fmt_num, fmt_us, shell_quote
from .models import pool_models, workers_for
from .procs import REG, Server, free_port, kill_tree, run_cmd_bounded


class Refs:
    """Bench's reference runs."""

    def run_iperf3(self):
        """One iperf3 run over loopback, one TCP stream for a second: the
        ceiling of bytes/s that one connection can carry one way here,
        the reference line of the bulk table."""
        n = len(self.iperf) + 1
        path = os.path.join(self.out, "runs", "iperf3-%d.json" % n)
        port = free_port()
        srv = REG.add(subprocess.Popen(
            ["iperf3", "-s", "-1", "--forceflush", "-B", "127.0.0.1",
             "-p", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True))
        bps, why = None, ""
        try:
            seen, deadline = b"", time.monotonic() + 10
            # --forceflush: else its "Server listening" line waits in a
            # pipe buffer.  Raw reads: select() does not see what a
            # buffered reader has taken in already.
            fd = srv.stdout.fileno()
            while b"listening" not in seen and \
                    time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 1)
                if r:
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        break
                    seen += chunk
            rc, err, _ = run_cmd_bounded(
                ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "1",
                 "-J"], 30, stdout_path=path)
            try:
                with open(path) as f:
                    bps = json.load(f)["end"]["sum_received"][
                        "bits_per_second"] / 8
            except (OSError, ValueError, KeyError, TypeError) as e:
                why = "%s %s" % (e, err.strip()[-200:])
        finally:
            kill_tree(srv)
            REG.forget(srv)
            srv.stdout.close()
        self.nrun += 1
        self.iperf.append(bps)
        if bps is None:
            warn("iperf3 failed: %s" % why)
            self.notes.append("iperf3 failed: %s" % why)
            return
        log("[%3d/%d] %-15s %-8s %10s" % (self.nrun, self.total_runs,
                                          "iperf3", "ceiling",
                                          fmt_bytes(bps)))

    def run_pingpong(self):
        """One floor measurement, appended to self.floors (None if it
        failed)."""
        a = self.a
        n = len(self.floors) + 1
        path = os.path.join(self.out, "runs", "pingpong-%d.json" % n)
        d = a.pingpong_duration or a.duration
        cmd = [os.path.join(self.bindir, "pingpong"), "-d", str(d),
               "--warmup", "1000", "--json", path]
        rc, err, _ = run_cmd_bounded(cmd, d + 30)
        self.nrun += 1
        if rc != 0:
            warn("pingpong failed (%s): %s" % (rc, err.strip()))
            self.notes.append("bin/pingpong failed: %s" % err.strip())
            self.floors.append(None)
            return
        with open(path) as f:
            j = json.load(f)
        j["file"] = os.path.basename(path)
        self.floors.append(j)
        log("[%3d/%d] %-15s %-8s %10s req/s  p50 %9s  p99 %9s  "
            "cpu %7.1f us/req" % (self.nrun, self.total_runs, "pingpong",
                                  "floor", fmt_num(j["rps"]),
                                  fmt_us(j["latency_us"]["p50"]),
                                  fmt_us(j["latency_us"]["p99"]),
                                  j["server_cpu_us_per_request"]))


    def run_floor_server(self):
        """The floor's echo alone (pingpong --serve), driven by loadgen at
        one session like the models: the loadgen floor."""
        try:
            self.lfloors.append(self.run_one(
                "pingpong-server", "floor", 1, 1,
                "c1-%d" % (len(self.lfloors) + 1)))
        except (RuntimeError, OSError) as e:
            warn(str(e))
            self.notes.append("pingpong --serve: %s" % e)
            self.lfloors.append(None)

    def run_hyperfine(self):
        a = self.a
        hj = os.path.join(self.out, "hyperfine.json")
        hm = os.path.join(self.out, "hyperfine.md")
        cmd = ["hyperfine", "--warmup", "1", "--runs", str(a.hf_runs),
               "--ignore-failure", "--style", "none",
               "--export-json", hj, "--export-markdown", hm]
        for m in self.models:
            one = [sys.executable, ENTRY, "--one", m, "--bin", self.bindir,
                   "-c", str(a.hf_sessions), "-n", str(a.hf_requests),
                   "--timeout", str(a.timeout)]
            if a.workers:
                one += ["--workers", str(a.workers)]
            cmd += ["-n", m, " ".join(shell_quote(x) for x in one)]
        log("hyperfine: %d models x (1 warm-up + %d runs) of -c %d -n %d"
            % (len(self.models), a.hf_runs, a.hf_sessions,
               a.hf_requests))
        limit = len(self.models) * (a.hf_runs + 1) * (a.timeout * 2 + 30)
        rc, err, killed = run_cmd_bounded(cmd, limit)
        if rc != 0 or not os.path.exists(hj):
            warn("hyperfine failed (%s): %s" % (rc, err.strip()[-500:]))
            self.notes.append("hyperfine failed: %s" % err.strip()[-300:])
            return None
        with open(hj) as f:
            data = json.load(f)
        for r in data["results"]:
            log("hyperfine: %-12s %.3f s +- %.3f" % (
                r["command"], r["mean"], r["stddev"] or 0))
        return data

    # --- outputs --------------------------------------------------------

def one(args):
    kind = "redis" if args.one == "redis" else "model"
    workers = workers_for(args, pool_models(args.bin), args.one,
                          args.sessions, 1) if kind == "model" else None
    srv = Server(kind, args.one, args.bin, os.devnull, workers=workers)
    srv.start()
    try:
        cmd = [os.path.join(args.bin, "loadgen"), "--host", "127.0.0.1",
               "--port", str(srv.port), "-c", str(args.sessions),
               "-t", str(min(args.threads, args.sessions)),
               "-n", str(args.requests), "--timeout", str(args.timeout),
               "--quiet"]
        if args.one == "redis":
            cmd += ["--request", REDIS_REQUEST, "--no-verify"]
        rc, err, killed = run_cmd_bounded(cmd, args.timeout * 2 + 60)
        if rc != 0:
            sys.stderr.write(err)
        return 1 if rc != 0 or killed else 0
    finally:
        srv.stop()

