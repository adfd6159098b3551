#!/usr/bin/env python3
# bench/multihost.py on network namespaces: bin/server in one, two
# loadgens in two others, over veth pairs on a bridge; their JSON merged.
# Skips without root (CAP_NET_ADMIN) or ip(8).  Checks that the load
# crossed namespaces, that the merge is the parts' sum, that the report
# is written and that no namespace is left behind.
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, bin, have, REPO
import hdrlog

t = TAP()
NAMES = ["multihost.py runs from one command", "two hosts served over veth",
         "merged = sum of the hosts", "report.md", "no namespace left behind"]


def skip_all(why):
    for n in NAMES:
        t.skip(n, why)
    t.done()


if not (have("loadgen") and have("server")):
    t.bail("bin/loadgen or bin/server is not built (make)")
if shutil.which("ip") is None:
    skip_all("no ip(8) (Debian iproute2)")
if os.geteuid() != 0:
    skip_all("network namespaces need root (CAP_NET_ADMIN)")
probe = "mhprobe%d" % os.getpid()
if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
    skip_all("ip netns add fails here (no CAP_NET_ADMIN?)")
subprocess.run(["ip", "netns", "del", probe], capture_output=True)

out = tempfile.mkdtemp(prefix="multihost-t-")
try:
    p = subprocess.run([sys.executable, os.path.join(REPO, "bench", "multihost.py"),
                        "--bin", os.path.dirname(bin("loadgen")), "--clients", "2",
                        "-c", "3", "-d", "1.5", "--interval", "500ms", "--out", out],
                       capture_output=True, timeout=120)
    t.ok(p.returncode == 0, "multihost.py runs from one command: exit 0")
    if p.returncode:
        t.diag(p.stderr.decode(errors="replace")[-2000:])

    def load(name):
        try:
            with open(os.path.join(out, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}
    hosts = [load("host-1.json"), load("host-2.json")]
    m = load("merged.json")
    t.ok(all(h.get("params", {}).get("host") == "10.77.0.1" and
             h.get("requests", {}).get("completed", 0) > 0 and
             h.get("exit_status") == 0 for h in hosts),
         "two hosts, each served by the server at 10.77.0.1 in its own namespace")
    lat = [hdrlog.decode(d["latency_us"]["exact"]["hdr"])["counts"] if d else [0]
           for d in hosts + [m]]
    n = max(map(len, lat))
    total = hdrlog.add(lat[0], lat[1])
    t.ok(m and total + [0] * (n - len(total)) == lat[2] + [0] * (n - len(lat[2])) and
         m["requests"]["completed"] == sum(h["requests"]["completed"] for h in hosts),
         "the merged histogram and counts are the hosts' sum")
    try:
        with open(os.path.join(out, "report.md")) as f:
            rep = f.read()
    except OSError:
        rep = ""
    t.ok("**merged**" in rep and rep.count("| mh") == 2,
         "report.md: a row per host and the merged one")
    # The namespaces are named after the run: "Server `mhPID-0`".
    m2 = re.search(r"Server `(mh\d+)-0`", rep)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True).stdout.decode()
    mine = [l for l in left.splitlines() if m2 and l.startswith(m2.group(1) + "-")]
    t.ok(m2 and not mine, "no namespace left behind (%s)" % (mine or "none"))
finally:
    shutil.rmtree(out, True)
t.done()
