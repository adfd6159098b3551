#!/usr/bin/env python3
"""multihost.py - one server host, N loadgen hosts, one merged report.

A single client machine cannot load a fast server; this runs the load
from several hosts at once and merges it without losing the tail: every
loadgen starts at one wall-clock time (--start-at) and writes its JSON
with the histograms in it; `loadgen merge` adds them.

The hosts are reached through a launcher, never a daemon of our own:

  netns (default)  network namespaces on this machine: the server in one,
                   each loadgen in another, veth pairs on a bridge in a
                   namespace of its own, 10.77.0.0/24; launcher
                   `ip netns exec NAME`.  Needs root (CAP_NET_ADMIN).
  ssh              --ssh-server HOST --ssh-clients H1,H2,...: `ssh HOST
                   cmd`, with --remote-bin the directory that holds
                   server and loadgen on every host and --server-addr
                   the address the clients reach the server at.

Each run is bounded in time (loadgens under timeout(1), the server
killed at the end) and torn down afterwards, whatever happened.  Results:
results/multihost-<date>/ (or --out): host-N.json, merged.json,
merged.txt (the summary of the merged run) and report.md.
"""

import argparse
import datetime
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NET = "10.77.0."
SSH = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=30)


class Netns:
    """Namespaces <tag>-sw (the bridge), <tag>-0 (server), <tag>-1.. ."""

    def __init__(self, nclients):
        self.tag = "mh%d" % (os.getpid() % 100000)
        self.made = []
        self.hosts = ["%s-%d" % (self.tag, i) for i in range(nclients + 1)]
        self.server_addr = NET + "1"

    def up(self):
        sw = self.tag + "-sw"
        sh("ip", "netns", "add", sw)
        self.made.append(sw)
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for i, ns in enumerate(self.hosts):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            # Both ends made inside the namespaces: nothing in ours.
            sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
               "peer", "name", "p%d" % i, "netns", sw)
            sh("ip", "-n", ns, "addr", "add", "%s%d/24" % (NET, i + 1), "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", sw, "link", "set", "p%d" % i, "master", "br0", "up")

    def launcher(self, i):
        return ["ip", "netns", "exec", self.hosts[i]]

    def command(self, i, cmd):
        return self.launcher(i) + cmd

    def down(self):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL,
                           timeout=30)
        self.made = []


class Ssh:
    def __init__(self, server, clients, addr):
        self.hosts = [server] + clients
        self.server_addr = addr or server

    def up(self):
        pass

    def launcher(self, i):
        return SSH + [self.hosts[i]]

    def command(self, i, cmd):
        return self.launcher(i) + [shlex.join(cmd)]

    def down(self):
        pass


def read_line(p, timeout):
    """The first stdout line of p within timeout s, or None."""
    end = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf and time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], max(0, end - time.monotonic()))
        if not r:
            break
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n")[0].decode(errors="replace") if b"\n" in buf else None


def start_server(hosts, a, bindir):
    cmd = [os.path.join(bindir, "server"), "-m", a.model, "-H",
           "0.0.0.0" if a.ssh_server else hosts.server_addr, "-p", str(a.port), "-q"]
    if a.ssh_server:
        # No tty, no SIGHUP: the server goes when our ssh's stdin closes.
        script = shlex.join(cmd) + " & p=$!; trap 'kill $p' EXIT; read _"
        p = subprocess.Popen(hosts.launcher(0) + [shlex.join(["sh", "-c", script])],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    else:
        p = subprocess.Popen(hosts.launcher(0) + cmd, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, start_new_session=True)
    line = read_line(p, 20)
    if not line or not line.startswith("listening on "):
        stop(p)
        sys.exit("multihost: the server did not start: %r" % line)
    return p, int(line.split()[2].rsplit(":", 1)[1])


def stop(p):
    if p.poll() is not None:
        return
    try:
        p.stdin.close()
    except OSError:
        pass
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except (OSError, PermissionError):
        p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(10)


def loadgen_cmd(a, bindir, addr, port, at):
    cmd = ["timeout", str(int(a.secs + a.lead + 30)), os.path.join(bindir, "loadgen"),
           "-H", addr, "-p", str(port), "-c", str(a.sessions), "-t", str(a.threads),
           "-d", "%gs" % a.secs, "--start-at", "%.3f" % at, "-q", "--json", "/dev/stdout"]
    if a.rate:
        cmd += ["-R", str(a.rate)]
    if a.interval:
        cmd += ["--interval", a.interval]
    return cmd


def fig(doc, *keys):
    for k in keys:
        doc = doc.get(k, {}) if isinstance(doc, dict) else {}
    return doc if doc != {} else None


def row(name, d):
    lat = d.get("latency_us", {})
    return "| %s | %s | %.1f | %s | %s | %.1f | %.1f | %.1f | %.1f | %s |" % (
        name, fig(d, "params", "sessions"), d.get("throughput_rps", 0),
        fig(d, "requests", "completed"), fig(d, "errors", "total"),
        lat.get("p50", 0), lat.get("p99", 0), lat.get("p99_9", 0), lat.get("max", 0),
        d.get("exit_status"))


def report(out, a, hosts, docs, merged, summary, cmdline):
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("# multihost run, %s\n\n" % datetime.datetime.now().isoformat(" ", "seconds"))
        f.write("`%s`\n\n" % cmdline)
        f.write("Server `%s` (model %s) at %s; %d loadgen host%s, each %d sessions, %s; "
                "one --start-at for all.  Latency in us; the merged row adds the "
                "histograms, not the percentiles.\n\n"
                % (hosts.hosts[0], a.model, hosts.server_addr, len(docs),
                   "" if len(docs) == 1 else "s", a.sessions,
                   "open loop %s req/s" % a.rate if a.rate else "closed loop"))
        f.write("| host | sessions | req/s | completed | errors | p50 | p99 | p99.9 "
                "| max | exit |\n|---|---|---|---|---|---|---|---|---|---|\n")
        for h, d in zip(hosts.hosts[1:], docs):
            f.write(row(h, d) + "\n")
        f.write(row("**merged**", merged) + "\n\n```\n" + summary + "```\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "bin"),
                    help="where server and loadgen are (default: bin/)")
    ap.add_argument("--clients", type=int, default=2, help="loadgen hosts (netns)")
    ap.add_argument("--model", default="epoll")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("-c", "--sessions", type=int, default=10, help="per loadgen")
    ap.add_argument("-t", "--threads", type=int, default=1, help="per loadgen")
    ap.add_argument("-R", "--rate", type=float, default=0, help="per loadgen, req/s")
    ap.add_argument("-d", "--duration", type=float, default=5.0, help="s measured")
    ap.add_argument("--interval", default="1s", help="per-interval figures")
    ap.add_argument("--lead", type=float, default=None,
                    help="s from now to the common start (2 netns, 5 ssh)")
    ap.add_argument("--out", help="default results/multihost-<date>")
    ap.add_argument("--ssh-server")
    ap.add_argument("--ssh-clients", help="comma-separated hosts")
    ap.add_argument("--server-addr", help="ssh: the address clients connect to")
    ap.add_argument("--remote-bin", help="ssh: bin directory on the hosts")
    a = ap.parse_args()
    if bool(a.ssh_server) != bool(a.ssh_clients):
        ap.error("--ssh-server and --ssh-clients go together")
    if not 0 < a.duration <= 3600 or a.clients < 1:
        ap.error("-d from 0 to 3600 s; --clients >= 1")
    a.secs = a.duration
    a.lead = a.lead if a.lead is not None else (5 if a.ssh_server else 2)
    if a.ssh_server:
        hosts = Ssh(a.ssh_server, a.ssh_clients.split(","), a.server_addr)
        bindir = a.remote_bin or a.bin
    else:
        if os.geteuid() != 0:
            sys.exit("multihost: network namespaces need root (CAP_NET_ADMIN)")
        hosts = Netns(a.clients)
        bindir = a.bin
    out = a.out or os.path.join(REPO, "results", "multihost-" +
                                datetime.date.today().isoformat())
    os.makedirs(out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    srv, lgs, files = None, [], []
    try:
        hosts.up()
        srv, port = start_server(hosts, a, bindir)
        at = time.time() + a.lead
        for i in range(1, len(hosts.hosts)):
            files.append(os.path.join(out, "host-%d.json" % i))
            with open(files[-1], "w") as f:
                lgs.append(subprocess.Popen(
                    hosts.command(i, loadgen_cmd(a, bindir, hosts.server_addr, port, at)),
                    stdout=f))
        status = [p.wait(a.secs + a.lead + 60) for p in lgs]
    finally:
        for p in lgs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        if srv is not None:
            stop(srv)
        hosts.down()
    docs = []
    for fn in files:
        with open(fn) as f:
            docs.append(json.load(f))
    m = subprocess.run([os.path.join(a.bin, "loadgen"), "merge", "--json",
                        os.path.join(out, "merged.json")] + files,
                       capture_output=True, timeout=60)
    summary = m.stdout.decode(errors="replace")
    with open(os.path.join(out, "merged.txt"), "w") as f:
        f.write(summary + m.stderr.decode(errors="replace"))
    with open(os.path.join(out, "merged.json")) as f:
        merged = json.load(f)
    report(out, a, hosts, docs, merged, summary, " ".join(sys.argv))
    print(summary, end="")
    print("multihost: per-host exit %s, merge exit %d; report in %s"
          % (status, m.returncode, os.path.join(out, "report.md")))
    return 0 if m.returncode == 0 and not any(status) else 1


if __name__ == "__main__":
    sys.exit(main())
