#!/usr/bin/env python3
"""bench_node: one Node cluster program three ways, in one run.

The program is tools/bench/node_cluster.js, unmodified, under:
  node-rr                 Node's own primary (its cluster module, rr)
  pm2                     PM2's cluster mode: PM2's daemon is the primary
                          (PM2 from the npm registry, in BUILD/pm2, with its
                          own PM2_HOME there: make bench-node installs it)
  handoff-node            handoff's C master (--node), with its preload
  handoff-node-nopreload  the same without the preload (--node-preload off),
                          to show what the preload costs

Measured for each: keep-alive req/s (wrk -t1 -cCONNS) and the CPU time
all its processes spent per request (from /proc: on a shared machine a
steadier measure of a cost than throughput); one connection per request
(Connection: close), conn/s; the primary's (PM2's daemon's) RSS after load
and CPU per connection; and the failed requests of two reloads
under wrk -t1 -c32 keep-alive: SIGHUP to Node's primary (the program's own
rolling restart, one worker at a time) and to handoff's master, `pm2
reload` for PM2. Peers alternate over --rounds rounds, in turned order
every other round; throughput and CPU are medians.

A benchmark, not a test: it prints figures. wrk shares the machine's cores
with the servers, so only ratios within one run mean anything. Only
127.0.0.1 is used.
"""

import argparse
import csv
import re
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the peers, wrk and /proc machinery)

ROOT = bench.ROOT
APP = os.path.join(ROOT, "tools", "bench", "node_cluster.js")
PEERS = ["node-rr", "pm2", "handoff-node", "handoff-node-nopreload"]
RELOAD_CONNS = 32


class Pm2Peer:
    """The program under PM2's cluster mode; PM2's daemon is the primary."""

    def __init__(self, name, workers, pm2_dir):
        self.name = name
        self.port = bench.free_port()
        self.bin = os.path.join(pm2_dir, "node_modules", ".bin", "pm2")
        home = os.path.join(pm2_dir, "home")
        os.makedirs(home, exist_ok=True)
        self.env = dict(os.environ, PM2_HOME=home, PORT=str(self.port))
        self.pm2("kill")  # a daemon an interrupted run left behind
        p = self.pm2("start", APP, "-i", str(workers), "--name", "bench")
        if p.returncode != 0:
            raise SystemExit(f"bench: pm2 start failed:\n{p.stdout}{p.stderr}")
        with open(os.path.join(home, "pm2.pid")) as f:
            self.proc = argparse.Namespace(pid=int(f.read()))
        if not bench.wait_port(self.port):
            raise SystemExit(f"bench: pm2 did not start (see {home}/pm2.log)")
        deadline = time.monotonic() + 10
        while len(self.pids()) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    def pm2(self, *args):
        return subprocess.run([self.bin, *args], env=self.env, capture_output=True,
                              text=True, timeout=120)

    def pids(self):
        return bench.proc_tree(self.proc.pid)

    def reload(self):
        # The CLI waits for the reload: in a thread, so that the second
        # reload keeps to its time.
        t = threading.Thread(target=self.pm2, args=("reload", "bench"), daemon=True)
        t.start()
        return t

    def stop(self):
        self.pm2("kill")


def start(name, workers, build, pm2_dir, tmp):
    if name == "pm2":
        return Pm2Peer(name, workers, pm2_dir)
    return bench.Peer(name, workers, build, tmp, None)


def reload(peer):
    if isinstance(peer, Pm2Peer):
        return peer.reload()
    peer.proc.send_signal(signal.SIGHUP)
    return None


def run_reloads(peer, seconds):
    """Two reloads under keep-alive load; (requests, failed, replaced)."""
    before = set(peer.pids()) - {peer.proc.pid}
    wrk = subprocess.Popen(["wrk", "-t1", f"-c{RELOAD_CONNS}", f"-d{seconds}s", "--timeout",
                            "5s", f"http://127.0.0.1:{peer.port}/"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    threads = []
    for at in (0.25, 0.6):
        time.sleep(max(0.0, t0 + at * seconds - time.monotonic()))
        threads.append(reload(peer))
    out = wrk.communicate(timeout=seconds + 60)[0]
    for t in threads:
        if t is not None:
            t.join(60)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                        r"timeout (\d+)", out)
    failed = sum(map(int, m.groups())) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed += int(m.group(1)) if m else 0
    # Every worker of before has left (an old one may still drain a moment).
    deadline = time.monotonic() + 15
    while before & set(peer.pids()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return total, failed, not (before & set(peer.pids()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--pm2", help="where PM2 is installed (default BUILD/pm2)")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reload-seconds", type=int, default=10)
    ap.add_argument("--out", default=None, help="CSV file (default BUILD/bench-node.csv)")
    args = ap.parse_args()
    pm2_dir = args.pm2 or os.path.join(args.build, "pm2")
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            raise SystemExit(f"bench: unknown peer {p} (choose from {', '.join(PEERS)})")
    for tool in ("wrk", "node"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} not found (make bench-node installs it)")
    if "pm2" in peers and not os.access(os.path.join(pm2_dir, "node_modules", ".bin", "pm2"),
                                        os.X_OK):
        raise SystemExit(f"bench: no PM2 in {pm2_dir} (make bench-node installs it)")
    tmp = tempfile.mkdtemp(prefix="handoff-bench-node-")
    running, results, reloads = {}, {}, {}
    try:
        for p in peers:
            running[p] = start(p, args.workers, args.build, pm2_dir, tmp)
        for p in peers:  # warm up (Node's JIT)
            subprocess.run(["wrk", "-t1", "-c16", "-d1s", f"http://127.0.0.1:{running[p].port}/"],
                           capture_output=True, timeout=30)
        for r in range(args.rounds):
            for scenario in ("keepalive", "close"):
                # The order turns each round: on a shared machine the one
                # after a burst of closed connections fares worse.
                for p in peers if r % 2 == 0 else peers[::-1]:
                    res = bench.run_wrk(running[p], scenario, args)
                    results.setdefault((p, scenario), []).append(res)
                    print(f"round {r + 1} {scenario:<9} {p:<22} {res['rps']:>9.0f}/s  "
                          f"primary {res['master_us_per_req']:.1f} us/req"
                          + (f"  {res['errors']} errors" if res["errors"] else ""),
                          file=sys.stderr, flush=True)
        rss = {p: bench.rss_kib(running[p].proc.pid) for p in peers}
        for p in peers:
            reloads[p] = run_reloads(running[p], args.reload_seconds)
            print(f"reloads   {p:<22} {reloads[p][1]} failed of {reloads[p][0]}",
                  file=sys.stderr, flush=True)
    finally:
        for p in running.values():
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(p, s, k):
        return statistics.median(x[k] for x in results[(p, s)])

    print(f"\n{args.workers} workers each; wrk -t1 -c{args.connections} -d{args.duration}s, "
          f"{args.rounds} rounds, peers alternating, medians; reloads: two under wrk -t1 "
          f"-c{RELOAD_CONNS} -d{args.reload_seconds}s keep-alive. {os.cpu_count()} cores "
          f"shared with wrk.\n")
    head = (f"{'peer':<24} {'keep-alive req/s':>16} {'CPU us/req':>10} {'conn/s':>8} "
            f"{'primary RSS KiB':>15} {'primary us/conn':>15} {'reload: failed / requests':>26}")
    print(head)
    rows = []
    for p in peers:
        total, failed, replaced = reloads[p]
        row = {"peer": p, "keepalive_rps": round(med(p, "keepalive", "rps")),
               "keepalive_cpu_us_per_req": round(med(p, "keepalive", "cpu_us_per_req"), 1),
               "close_cps": round(med(p, "close", "rps")), "primary_rss_kib": rss[p],
               "primary_us_per_conn": round(med(p, "close", "master_us_per_req"), 1),
               "reload_failed": failed, "reload_requests": total,
               "workers_replaced": replaced}
        rows.append(row)
        print(f"{p:<24} {row['keepalive_rps']:>16} {row['keepalive_cpu_us_per_req']:>10} "
              f"{row['close_cps']:>8} "
              f"{row['primary_rss_kib']:>15} {row['primary_us_per_conn']:>15} "
              f"{f'{failed} / {total}':>26}" + ("" if replaced else "  (workers not replaced!)"))
    if "handoff-node" in peers and "handoff-node-nopreload" in peers:
        with_p = med("handoff-node", "keepalive", "rps")
        without = med("handoff-node-nopreload", "keepalive", "rps")
        cpu_p = med("handoff-node", "keepalive", "cpu_us_per_req")
        cpu_n = med("handoff-node-nopreload", "keepalive", "cpu_us_per_req")
        print(f"\nthe preload's cost, keep-alive: {with_p:.0f} against {without:.0f} req/s "
              f"without it ({100 * (with_p / without - 1):+.1f}%); CPU {cpu_p:.1f} against "
              f"{cpu_n:.1f} us/req ({100 * (cpu_p / cpu_n - 1):+.1f}%)")
    out = args.out or os.path.join(args.build, "bench-node.csv")
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
