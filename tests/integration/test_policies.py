#!/usr/bin/env python3
"""Every scheduling policy serves real requests; least-loaded steers new
connections away from a worker busy with a long /cpu request; the kernel
baselines hand the listening socket to the workers; Node's
NODE_CLUSTER_SCHED_POLICY is honoured."""

import collections
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

POLICIES = ["rr", "cyclic", "least-loaded", "p2c", "random", "ip-hash",
            "none", "reuseport"]


def served_by(s, n, path="/"):
    return collections.Counter(h.hello_pid(h.request(s.port, path)) for _ in range(n))


def test_every_policy_serves():
    for policy in POLICIES:
        s = h.server("--policy", policy, workers=2)
        h.check(f"(policy {policy})" in s.log(), f"{policy}: not in the start line")
        served = served_by(s, 20)
        workers = set(s.worker_pids())
        h.check(set(served) <= workers, f"{policy}: served by {served}, workers {workers}")
        if policy in ("rr", "cyclic"):
            h.check(sorted(served.values()) == [10, 10], f"{policy}: {dict(served)}")
        if policy == "ip-hash":
            # one client address: one worker
            h.check(len(served) == 1, f"ip-hash split one client: {dict(served)}")
        r = h.request(s.port, "/cpu?n=1000")
        h.check(r.status == 200, f"{policy}: {r}")
        h.check(s.stop() == 0, f"{policy}: exit code")


def test_cyclic_rotates_concurrent_connections():
    # Unlike rr, cyclic does not wait for acknowledgements: with many
    # connections at once the rotation still holds exactly.
    s = h.server("--policy", "cyclic", "--trace", workers=3)
    conns = [h.connect(s.port) for _ in range(9)]
    try:
        for c in conns:
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        pids = [h.hello_pid(h.Reader(c).read_response()) for c in conns]
    finally:
        for c in conns:
            c.close()
    # The trace line may reach the log after the answer reaches the client.
    s.wait_log(r"handoff +C\d+ -> W\d", count=9)
    handoffs = re.findall(r"handoff +C\d+ -> W(\d)", s.log())
    # the same cycle of all three, in the order they joined
    h.check(sorted(handoffs[:3]) == ["1", "2", "3"] and handoffs == handoffs[:3] * 3,
            f"handoff order {handoffs}")
    h.check(len(set(pids)) == 3)


def test_least_loaded_steers_away_from_busy_worker():
    s = h.server("--policy", "least-loaded", "--trace", workers=2)
    workers = s.ready_workers()
    busy_conn = h.connect(s.port, timeout=30)
    try:
        busy_conn.sendall(b"GET /cpu?n=1000000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        m = s.wait_log(r"worker W(\d+)\[\d+\] trace: C\d+ GET /cpu\?n=1000000000")
        busy_id = int(m.group(1))
        busy_pid = workers[busy_id]
        # The worker says it is busy before it starts the long loop.
        s.wait_log(rf"load +W{busy_id}: 1 open, 1 in flight")
        served = served_by(s, 10)
        h.check(busy_pid not in served,
                f"{served[busy_pid]} of 10 new connections went to the busy worker")
        r = h.Reader(busy_conn).read_response()
        h.check(r.status == 200 and b'"worker":%d' % busy_pid in r.body, r)
    finally:
        busy_conn.close()


def test_kernel_policies_give_workers_the_socket():
    for policy in ("none", "reuseport"):
        s = h.server("--policy", policy, workers=3)
        listeners = {}

        def sockets(pid):
            return [inode for _, inode in h.sockets(pid)]

        for pid in s.worker_pids():
            # its channel and one listening socket, once LISTEN has arrived
            listeners[pid] = h.wait_until(lambda: len(sockets(pid)) == 2 and sockets(pid),
                                          what=f"{policy}: worker {pid} holding channel + listener")
        inodes = [set(v) for v in listeners.values()]
        shared = set.intersection(*inodes)
        if policy == "none":
            h.check(len(shared) == 1, f"none: workers should share one socket: {listeners}")
        else:
            h.check(not shared, f"reuseport: workers share a socket: {listeners}")
        h.check(s.stop() == 0)


def test_reuseport_worker_replaced_keeps_its_socket():
    s = h.server("--policy", "reuseport", workers=2)
    victim = s.worker_pids()[0]
    mark = s.mark()
    os.kill(victim, signal.SIGKILL)
    s.wait_ready(1, start=mark)
    served = served_by(s, 30)
    h.check(victim not in served and len(served) >= 1, f"{served}")
    # The master kept the slot's socket: each live worker still has one.
    h.check(len(s.worker_pids()) == 2)


def test_node_env_variable():
    env = dict(os.environ, NODE_CLUSTER_SCHED_POLICY="none")
    s = h.server(workers=1, env=env)
    h.check("(policy none)" in s.log(), s.log())
    h.hello_pid(h.request(s.port, "/"))
    s.stop()
    env["NODE_CLUSTER_SCHED_POLICY"] = "rr"
    s = h.server(workers=1, env=env)
    h.check("(policy rr)" in s.log(), s.log())
    s.stop()
    env["NODE_CLUSTER_SCHED_POLICY"] = "bogus"
    s = h.server(workers=1, env=env)
    h.check("(policy rr)" in s.log(), s.log())
    h.check("NODE_CLUSTER_SCHED_POLICY=bogus is neither rr nor none" in s.log(), s.log())
    s.stop()
    # --policy wins over the variable
    env["NODE_CLUSTER_SCHED_POLICY"] = "none"
    s = h.server("--policy", "cyclic", workers=1, env=env)
    h.check("(policy cyclic)" in s.log(), s.log())


def test_unknown_policy_lists_names():
    p = subprocess.run([h.HANDOFF, "--policy", "fastest"], capture_output=True,
                       text=True, timeout=10)
    h.check(p.returncode == 2, p)
    lines = p.stderr.strip().splitlines()
    h.check(len(lines) == 1, p.stderr)
    for name in POLICIES:
        h.check(name in lines[0], f"{name} missing from {lines[0]!r}")


if __name__ == "__main__":
    h.main(globals())
