#!/usr/bin/env python3
# The teaching demos (make backlog, demo-udp, demo-exercise2, demo-exercise3):
# the facts each one claims, checked from its --json output.  Waits are
# shortened with the demos' own options; no absolute timing is asserted,
# only counts and the order of events measured in the same run.
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from socklab import TAP, REPO, bin, have, run
import shutil

t = TAP()
for prog in ("server", "udp-server", "udp-client", "demo-backlog", "demo-exercise3"):
    if not have(prog):
        t.bail("%s is not built (make)" % bin(prog))

TMP = tempfile.mkdtemp(prefix="socklab-demos-")
have_ss = shutil.which("ss") is not None
DEMOS = os.path.join(REPO, "demos")


OUTPUTS = []     # (command, stdout) of every run, for the width check


def demo(args, timeout):
    """Run a demo with --json; (status, doc or None, stdout, stderr)."""
    path = os.path.join(TMP, "out.json")
    if os.path.exists(path):
        os.unlink(path)
    if args[0].endswith(".py"):
        args = [sys.executable, os.path.join(DEMOS, args[0])] + args[1:]
    rc, out, err, _ = run(args + ["--json", path], timeout=timeout)
    doc = None
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    if rc != 0 or doc is None:
        t.diag("%s: status %s\n%s" % (" ".join(args), rc, err.decode(errors="replace")[-2000:]))
    OUTPUTS.append((" ".join(args), out.decode("utf-8", errors="replace")))
    return rc, doc, out.decode(errors="replace"), err.decode(errors="replace")


# --- the backlog sweep: backlog+1 complete at once, the rest wait --------
rc, doc, _, _ = demo(["demo-backlog", "--parts", "sweep", "--sweep-max", "3",
                      "--sweep-clients", "8", "--settle-ms", "200"], 30)
t.is_(rc, 0, "demo-backlog --parts sweep runs")
rows = {r["backlog"]: r for r in (doc or {}).get("sweep", {}).get("rows", [])}
somax = (doc or {}).get("sweep", {}).get("somaxconn", 0)
for b in (0, 1, 3):
    r = rows.get(b)
    if r is None or somax < b:
        t.ok(False, "sweep has backlog %d (somaxconn %s)" % (b, somax))
        continue
    t.is_(r["established"], b + 1, "listen(%d): exactly backlog+1 connections complete while the server is busy" % b)
    t.is_((r["syn_sent"], r["refused"]), (8 - b - 1, 0),
          "listen(%d): the other connects wait in SYN-SENT, none refused" % b)
    t.is_((r["recv_q"], r["send_q"]), (b + 1, b), "listen(%d): ss shows Recv-Q backlog+1, Send-Q backlog" % b)

# --- the timeline: queued vs dropped SYNs, and what happens after --------
rc, doc, out, _ = demo(["demo-backlog", "--parts", "timeline", "-b", "1", "-k", "4",
                        "--busy-ms", "1500", "--hold-ms", "100", "--wait", "12"], 40)
t.is_(rc, 0, "demo-backlog --parts timeline runs")
tl = (doc or {}).get("timeline", {})
cl = tl.get("clients", [])
queued = [c for c in cl if c["at_release"] == "queued"]
waiting = [c for c in cl if c["at_release"] == "waiting"]
t.is_(len(queued), 2, "listen(1), server busy: 2 clients complete the handshake (backlog+1)")
t.is_(len(waiting), 2, "the other 2 are neither completed nor refused while the queue is full")
t.is_((tl.get("listen_recv_q"), tl.get("listen_send_q")), (2, 1), "ss -ltn: Recv-Q 2, Send-Q 1 while busy")
t.ok(waiting and all(c["retx_at_release"] >= 1 for c in waiting),
     "their SYN was retransmitted (TCP_INFO), not answered with RST")
t.ok(waiting and all(c["established_at"] is not None and c["established_at"] > tl["release_at"]
                     for c in waiting),
     "they complete only after room appears (after client 0 ended)")
t.ok(all(c["final"] == "served" for c in cl), "in the end every client is served")
t.ok(all(c["final"] != "refused" for c in cl), "no client is ever refused")
t.ok(all(q["reply_at"] is not None and q["reply_at"] > tl["release_at"] for q in queued),
     "queued clients get their reply only after the first client ends")
t.is_(tl.get("closed_port", {}).get("error"), "Connection refused",
      "a port with no listener refuses (the contrast)")
t.ok(tl.get("listen_overflows_delta", -1) >= sum(len(c["syn_retx_at"]) for c in waiting),
     "ListenOverflows counted at least the SYNs our clients saw dropped")

# --- the private namespace (root only) -----------------------------------
if os.geteuid() != 0:
    t.skip("netns part", "not root")
else:
    rc, doc, out, _ = demo(["demo-backlog", "--parts", "netns", "--settle-ms", "200",
                            "--sweep-max", "5"], 40)
    ns = (doc or {}).get("netns", {})
    if not ns.get("ran"):
        t.skip("netns part", "did not run: %s" % ns.get("reason"))
    else:
        runs = {r["label"]: r for r in ns.get("runs", [])}
        a = runs.get("abort_on_overflow=1", {})
        t.is_((a.get("established"), a.get("refused")), (2, 0),
              "netns, tcp_abort_on_overflow=1: still backlog+1 queued, nobody refused")
        t.is_(a.get("listen_overflows_delta"), a.get("syn_sent", 0) + a.get("syn_retx", 0),
              "netns: ListenOverflows = every SYN sent by the waiting clients (exact)")
        s = runs.get("somaxconn=4", {})
        t.is_((s.get("established"), s.get("send_q")), (5, 4),
              "netns, somaxconn 4: listen(128) is capped to 4, 5 complete")
        sw = {r["backlog"]: r["established"] for r in ns.get("sweep", {}).get("rows", [])}
        t.is_(sw, {b: min(b, 4) + 1 for b in range(6)}, "netns sweep: min(backlog, somaxconn)+1")
        da = {d["abort_on_overflow"]: d for d in ns.get("defer_accept", [])}
        t.ok(0 in da and 1 in da and da[1]["reset"] > 0 and da[0]["reset"] == 0,
             "abort_on_overflow=1 resets only when the last handshake step finds the queue full")
        t.ok(ns.get("host_unchanged") and ns.get("host_sysctl_before") == doc.get("sysctl"),
             "the host namespace's sysctls are unchanged (read back)")

# --- exercise 3: 100 one-byte sends --------------------------------------
rc, doc, _, _ = demo(["demo-exercise3", "--pause-ms", "2", "--rounds", "5", "--late-ms", "30"], 60)
t.is_(rc, 0, "demo-exercise3 runs")
v = {x["name"]: x for x in (doc or {}).get("variants", [])}
t.ok(v and all(r["bytes"] == 100 and r["error"] is None for x in v.values() for r in x["rounds"]),
     "every run delivers the 100 bytes")
if "back-to-back" in v and "pause" in v:
    b2b, pause = v["back-to-back"]["recv_calls_total"], v["pause"]["recv_calls_total"]
    t.ok(b2b < pause, "back to back: fewer recv() calls than with pauses (%d < %d over 5 runs)" % (b2b, pause))
else:
    t.ok(False, "back-to-back and pause variants present")
if "late-reader" in v and "pause" in v:
    t.ok(v["late-reader"]["recv_calls_total"] < v["pause"]["recv_calls_total"],
         "a late reader gets the bytes in fewer recv() calls than a paced sender")
else:
    t.ok(False, "late-reader variant present")

# --- UDP ----------------------------------------------------------------
rc, doc, _, _ = demo(["demo-udp.py", "--timeout", "0.5"], 30)
t.is_(rc, 0, "demo-udp runs")
dp = (doc or {}).get("dead_port", {})
for k in ("connected", "unconnected"):
    st = dp.get(k, {}).get("status")
    t.ok(st is not None and st != 0, "udp-client to a dead port (%s) ends by itself, non-zero (%s)" % (k, st))
t.ok(dp and dp["connected"]["seconds"] < dp["unconnected"]["seconds"],
     "connected socket: refused before the unconnected one's timeout")
t.ok((doc or {}).get("ports_distinct"), "each client run has its own port in the server's log")
f = (doc or {}).get("faulty", {})
t.ok(f.get("server_saw_datagram") and f.get("server_alive"),
     "a client gone before the reply does not break the server")
t.ok(str(f.get("naive_recverr_next_recvfrom", "")).startswith("ECONNREFUSED"),
     "with IP_RECVERR the bounced reply surfaces as ECONNREFUSED")
if have_ss:
    t.is_((doc or {}).get("ss_state"), "UNCONN", "ss -uan shows the UDP server's socket, UNCONN")
else:
    t.skip("ss -uan snapshot", "ss not installed")

# --- exercise 2 ---------------------------------------------------------
rc, doc, _, _ = demo(["demo-exercise2.py", "--wait", "1.5"], 60)
t.is_(rc, 0, "demo-exercise2 runs")
m = {x["model"]: x for x in (doc or {}).get("models", [])}
it = m.get("iterative", {})
t.ok(it and not it["b_accepted_while_a_open"] and not it["b_reply_before_a_ended"],
     "iterative: B connects but gets no answer while A is open")
t.ok(it and it["b_reply_at"] is not None and it["b_reply_at"] >= it["a_ended_at"],
     "iterative: B's answer comes after A ends")
t.ok(it.get("c_waited_for_b"), "iterative: C waits for B in turn")
for model in ("thread", "fork"):
    x = m.get(model, {})
    t.ok(x and x["b_reply_before_a_ended"], "%s: B is answered while A is still open" % model)
if have_ss:
    t.is_(it.get("listen_recv_q"), 2, "iterative: ss -ltn Recv-Q 2 while B and C wait (listen(1))")
    t.is_(it.get("b_server_recv_q"), len("hello from B\n"),
          "iterative: ss -tn shows B's unread line in the server socket's Recv-Q")
    t.is_(m.get("thread", {}).get("b_server_recv_q"), 0,
          "thread: B's line was read at once, Recv-Q 0")
else:
    t.skip("ss -ltn / ss -tn snapshots", "ss not installed")

t.ok(dp.get("forever", {}).get("still_waiting"),
     "udp-client --timeout none still waits after twice the timeout")

# --- SO_REUSEADDR: a restart after the server closed first ----------------
rc, doc, _, _ = demo(["demo-reuseaddr.py"], 30)
rows = {(r["old"], r["new"]): r["error"] for r in (doc or {}).get("python", [])}
t.is_(rows.get((False, False)), "Address already in use",
      "restart without SO_REUSEADDR after TIME_WAIT: Address already in use")
t.ok(rows.get((True, False)) and rows.get((False, True)),
     "setting it on one side only does not help: %s" % rows)
t.is_(rows.get((True, True), "missing"), None, "old and new server with SO_REUSEADDR: bind() succeeds")
t.ok(any(r["time_wait_seen"] for r in (doc or {}).get("python", [])) or not have_ss,
     "ss -tan showed the TIME-WAIT connection")
t.ok((doc or {}).get("bin_restart_ok"), "bin/server restarts at once on the same port")

# --- the short backlog mode -----------------------------------------------
rc, doc, out, _ = demo(["demo-backlog", "--short"], 30)
cl = (doc or {}).get("timeline", {}).get("clients", [])
t.ok(rc == 0 and [c["at_release"] for c in cl] == ["queued", "queued", "waiting"],
     "--short: the timeline with 3 clients, 2 queued and 1 waiting")
t.ok("sweep" not in (doc or {}) and "netns" not in (doc or {}),
     "--short runs the timeline alone; the namespace part only with --netns")
t.ok(out.count("\n") <= 80, "--short tells it in %d lines (at most 80)" % out.count("\n"))

# --- the Italian narration ----------------------------------------------
rc, _, out, _ = demo(["demo-exercise3", "--only", "late-reader", "--rounds", "1", "--lang", "it"], 20)
t.ok(rc == 0 and "Perché" in out and "Why:" not in out, "--lang it narrates in Italian")
rc, _, out, _ = demo(["demo-exercise2.py", "--wait", "0.3", "--models", "iterative",
                      "--lang", "it"], 30)
t.ok(rc == 0 and "Domanda 2c" in out, "demo-exercise2 --lang it runs")
rc, _, out, _ = demo(["demo-backlog", "--short", "--lang", "it"], 30)
t.ok(rc == 0 and "Domanda" in out, "demo-backlog --short --lang it runs")

# --- every line fits 80 columns (code points: Italian accents count one) --
wide = [(cmd, line) for cmd, out in OUTPUTS for line in out.splitlines()
        if len(line) > 80]
for cmd, line in wide[:5]:
    t.diag("%s: %d columns: %s" % (cmd, len(line), line))
t.ok(OUTPUTS and not wide, "every line of %d demo runs fits 80 columns" % len(OUTPUTS))

# --- make demo: which part of how many, no command lines echoed ----------
if os.path.realpath(bin("demo-exercise3")) != os.path.realpath(os.path.join(REPO, "bin", "demo-exercise3")):
    t.skip("make demo", "SOCKLAB_BIN is not the Makefile's bin/")
else:
    rc, out, err, _ = run([shutil.which("make") or "/usr/bin/make", "-C", REPO, "--no-print-directory", "demo",
                           "DEMOS=exercise3 exercise3",
                           "DEMO_RUN_exercise3=bin/demo-exercise3 --rounds 1 --only pause"],
                          timeout=60)
    out = out.decode(errors="replace")
    t.ok(rc == 0 and "[1/2] make demo-exercise3" in out and "[2/2] make demo-exercise3" in out,
         "make demo says which part of how many it is in")
    t.ok("bin/demo-exercise3" not in out and "SOCKLAB_BIN=" not in out,
         "make demo does not echo its command lines")

t.done()
