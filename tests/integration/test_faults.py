#!/usr/bin/env python3
"""Faults under load: workers killed at random every 200 ms while wrk
runs, and 500 slowloris connections while a normal client is served."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def test_random_worker_kills_under_load():
    workers = 4
    s = h.server(workers=workers)
    h.kill_workers_under_load(s, workers, "faults")


def test_slowloris_does_not_starve_others():
    s = h.server(workers=2)
    loris = []
    try:
        for i in range(500):
            c = h.connect(s.port)
            if i % 2:
                c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # never finished
            loris.append(c)
        # they are all accepted and held by the workers, not queued
        h.wait_until(lambda: sum(h.held_connections(p) for p in s.worker_pids()) >= 500,
                     what="the workers to hold the 500 slow connections")
        worst = 0.0
        for _ in range(50):
            start = time.monotonic()
            h.hello_pid(h.request(s.port, "/"))
            worst = max(worst, time.monotonic() - start)
        h.check(worst < 0.5 * h.SLOW, f"a normal request took {worst:.3f}s")
        sys.stderr.write(f"slowloris: 500 held, worst normal request {worst * 1000:.1f} ms\n")
    finally:
        for c in loris:
            c.close()
    h.wait_until(lambda: all(h.held_connections(p) == 0 for p in s.worker_pids()),
                 what="the slow connections to be released")


if __name__ == "__main__":
    h.main(globals())
