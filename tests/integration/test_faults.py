#!/usr/bin/env python3
"""Faults under load: workers killed at random every 200 ms while wrk
runs, and 500 slowloris connections while a normal client is served."""

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def parse_wrk(out):
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errs = {k: 0 for k in ("connect", "read", "write", "timeout")}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, errs, int(m.group(1)) if m else 0


def test_random_worker_kills_under_load():
    workers = 4
    s = h.server(workers=workers)
    h.hello_pid(h.request(s.port, "/"))
    baseline = h.idle_fd_count(s.pid)
    conns = 32
    stop = threading.Event()
    kills = []  # (pid, connections it held)

    def sockets(pid):
        n = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        return n

    def killer():
        rng = random.Random(7)
        tick = time.monotonic()
        while True:
            tick += 0.2
            if stop.wait(max(0.0, tick - time.monotonic())):
                return
            pids = [p for p in s.worker_pids() if h.alive(p)]
            if not pids:
                continue
            victim = rng.choice(pids)
            try:
                # its client connections: every socket but the channel
                held = sockets(victim) - 1
                os.kill(victim, signal.SIGKILL)
                kills.append((victim, held))
            except (ProcessLookupError, FileNotFoundError):
                pass

    t = threading.Thread(target=killer)
    wrk = subprocess.Popen(["wrk", "-t1", f"-c{conns}", "-d8s", "--timeout", "4s",
                            f"http://127.0.0.1:{s.port}/"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    t.start()
    try:
        out = wrk.communicate(timeout=40)[0]
    finally:
        stop.set()
        t.join()
    total, errs, non2xx = parse_wrk(out)
    held = sum(k[1] for k in kills)
    errors = sum(errs.values())
    sys.stderr.write(f"faults: {len(kills)} kills, {total} requests, errors {errs}, "
                     f"non-2xx {non2xx}, connections open on killed workers {held}\n")
    h.check(s.proc.poll() is None, "the master died")
    h.check(len(kills) >= 20, f"only {len(kills)} kills")
    h.check(total > 1000, f"only {total} requests served:\n{out}")
    h.check(non2xx == 0, f"{non2xx} non-2xx responses")
    h.check(errs["timeout"] == 0 and errs["connect"] == 0, f"errors {errs}")
    # every failed request was on a connection a killed worker held
    h.check(errors <= held + len(kills), f"{errors} errors, but killed workers held {held}")
    h.wait_until(lambda: len([p for p in s.worker_pids() if h.alive(p)]) == workers,
                 timeout=15, what="the worker count to be restored")
    h.wait_until(lambda: h.held_connections(s.pid) == 0 and h.fd_count(s.pid) == baseline,
                 what=f"master fd count back to {baseline}")
    h.hello_pid(h.request(s.port, "/"))


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
