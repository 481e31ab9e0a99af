#!/usr/bin/env python3
"""tools/experiment runs end to end: a CSV row per (workload, policy) with
per-worker connection counts that add up, and PNG plots."""

import csv
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_experiment_smoke():
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run(
            [os.path.join(ROOT, "tools", "experiment"), "--build", h.BUILD,
             "--out", out, "--duration", "1", "--workers", "2",
             "--connections", "8", "--policies", "rr,none",
             "--workloads", "close,keepalive"],
            capture_output=True, text=True, timeout=120 * h.SLOW)
        h.check(p.returncode == 0, p.stdout + p.stderr)
        with open(os.path.join(out, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        h.check([(r["workload"], r["policy"]) for r in rows] ==
                [("close", "rr"), ("close", "none"), ("keepalive", "rr"),
                 ("keepalive", "none")], rows)
        for r in rows:
            conns = [int(x) for x in r["conns_per_worker"].split(";")]
            h.check(len(conns) == 2, r)
            h.check(int(r["requests"]) > 0 and float(r["throughput_rps"]) > 0, r)
            h.check(0 < float(r["jain"]) <= 1, r)
            if r["workload"] == "close":
                # one connection per request (wrk may cut the last ones short)
                h.check(abs(sum(conns) - int(r["requests"])) <= 16, r)
            else:
                # 8 connections, plus reconnects after --max-conn-requests
                h.check(8 <= sum(conns) <= 8 + int(r["requests"]) // 1000 + 8, r)
        for name in ("conns-close.png", "latency-close.png", "conns-keepalive.png",
                     "latency-keepalive.png"):
            with open(os.path.join(out, name), "rb") as f:
                h.check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG")


def test_experiment_rejects_bad_arguments():
    for args in (["--policies", "rr,bogus"], ["--workloads", "slow"], ["--duration", "0"],
                 ["--heavy-share", "2"]):
        p = subprocess.run([os.path.join(ROOT, "tools", "experiment"), "--build", h.BUILD,
                            *args], capture_output=True, text=True, timeout=30)
        h.check(p.returncode == 2 and "experiment:" in p.stderr, f"{args}: {p}")


if __name__ == "__main__":
    h.main(globals())
