#!/usr/bin/env python3
"""The master's scheduling and supervision as clients and ps see them:
round-robin order, a killed worker replaced, a stopped worker skipped and
its unacknowledged connection served elsewhere, no descriptor leaks, the
master surviving EMFILE, crash-loop backoff, a worker program that never
boots ending the master (exit 3), accepting paused while no worker is
ready, workers leaving with the master."""

import collections
import datetime
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def test_rr_alternates_sequential_connections():
    s = h.server(workers=2)
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(20))
    h.check(sorted(served.values()) == [10, 10], f"per worker: {dict(served)}")
    h.check(set(served) == set(s.worker_pids()), f"{served} vs {s.worker_pids()}")


def test_worker_holds_only_its_channel():
    # Only the master listens: an idle worker's one socket is its channel,
    # on fd 3, and no two workers share one.
    s = h.server(workers=3)
    h.hello_pid(h.request(s.port, "/"))
    master_socks = {t for _, t in h.sockets(s.pid)}
    seen = set()
    for pid in s.worker_pids():
        h.wait_until(lambda: len(h.sockets(pid)) == 1,
                     what=f"worker {pid} to hold one socket: {h.sockets(pid)}")
        (fd, target), = h.sockets(pid)
        h.check(fd == 3, f"worker {pid}: channel on fd {fd}")
        h.check(target not in seen, "two workers share a channel")
        h.check(target not in master_socks, "worker holds a master socket")
        seen.add(target)


def test_kill9_worker_is_replaced():
    s = h.server(workers=2)
    for _ in range(4):
        h.hello_pid(h.request(s.port, "/"))
    baseline = h.idle_fd_count(s.pid)
    victim = s.worker_pids()[0]
    mark = s.mark()
    os.kill(victim, signal.SIGKILL)
    s.wait_log(rf"\(pid {victim}\) killed by signal 9", start=mark)
    s.wait_ready(1, start=mark)
    pids = s.worker_pids()
    h.check(victim not in pids and len(pids) == 2, f"workers now {pids}")
    served = {h.hello_pid(h.request(s.port, "/")) for _ in range(10)}
    h.check(served == set(pids), f"served by {served}, workers {pids}")
    h.wait_until(lambda: h.held_connections(s.pid) == 0 and h.fd_count(s.pid) == baseline,
                 what=f"master fd count back to {baseline}")


def test_stopped_worker_skipped_and_its_connection_reclaimed():
    s = h.server("--trace", workers=2)
    workers = s.ready_workers()
    stopped_id = min(workers)
    stopped_pid = workers[stopped_id]
    other_pid = workers[max(workers)]
    os.kill(stopped_pid, signal.SIGSTOP)
    stuck = None
    try:
        for _ in range(8):
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            port = c.getsockname()[1]
            cid = s.wait_log(rf"accept +C(\d+) fd=\d+ from 127\.0\.0\.1:{port}\b").group(1)
            wid = int(s.wait_log(rf"handoff +C{cid} -> W(\d+)").group(1))
            if wid == stopped_id:
                h.check(stuck is None, "the stopped worker was given a second connection")
                stuck = (c, cid)
                continue
            with c:
                h.check(h.hello_pid(h.Reader(c).read_response()) == other_pid)
        h.check(stuck is not None, "the stopped worker never got its one connection")
    finally:
        os.kill(stopped_pid, signal.SIGKILL)
    c, cid = stuck
    with c:
        s.wait_log(rf"reclaim +C{cid} from W{stopped_id}")
        r = h.Reader(c).read_response()
        pid = h.hello_pid(r)
        h.check(pid != stopped_pid, "served by the dead worker?")


def test_fd_count_after_5000_connections():
    s = h.server(workers=2)
    h.hello_pid(h.request(s.port, "/"))
    baseline = h.idle_fd_count(s.pid)
    errors = []

    def client(n):
        try:
            for _ in range(n):
                h.hello_pid(h.request(s.port, "/"))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(625,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.check(not errors, f"{len(errors)} clients failed: {errors[:3]}")
    h.wait_until(lambda: h.held_connections(s.pid) == 0 and h.fd_count(s.pid) == baseline,
                 what=f"master fd count back to {baseline}")


def test_workers_exit_when_master_dies():
    s = h.server(workers=2)
    pids = s.worker_pids()
    h.check(len(pids) == 2)
    s.proc.kill()
    s.proc.wait()
    h.wait_until(lambda: not any(h.alive(p) for p in pids), timeout=10,
                 what="workers to exit after the master died")
    s.wait_log(r"channel to the master closed")


def test_master_survives_emfile():
    # Workers stopped, so nothing is acknowledged: the master keeps every
    # accepted fd until it runs out of descriptors, pauses accepting, and
    # serves everyone once the workers are back.
    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    s = h.server(workers=2, preexec_fn=low_fd_limit)
    workers = s.worker_pids()
    for p in workers:
        os.kill(p, signal.SIGSTOP)
    clients = []
    try:
        for _ in range(60):
            c = h.connect(s.port, timeout=30)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            clients.append(c)
        s.wait_log(r"accept4\(\) failed; pausing accepts .*Too many open files")
    finally:
        for p in workers:
            os.kill(p, signal.SIGCONT)
    served = collections.Counter()
    for c in clients:
        with c:
            served[h.hello_pid(h.Reader(c).read_response())] += 1
    h.check(sum(served.values()) == 60, f"served {dict(served)}")
    h.check(s.proc.poll() is None, "master died")
    h.hello_pid(h.request(s.port, "/"))


def test_worker_draining_on_its_own_leaves_rotation():
    # SIGTERM sent to one worker: it tells the master, which stops handing
    # it connections, instead of bouncing them off its refusals.
    s = h.server("--trace", workers=2)
    workers = s.ready_workers()
    victim = workers[1]
    stop = threading.Event()
    results = collections.Counter()

    def client():
        while not stop.is_set():
            try:
                results[h.request(s.port, "/cpu?n=50000").status] += 1
            except Exception as e:
                results[type(e).__name__] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        s.wait_log(r"load +W1: .* [1-9]\d* served")
        mark = s.mark()
        os.kill(victim, signal.SIGTERM)
        s.wait_log(r"worker W1 \(pid \d+\) is draining", start=mark)
        s.wait_log(rf"\(pid {victim}\) exited with code 0", start=mark)
        s.wait_ready(1, start=mark)
        new = max(s.ready_workers())
        s.wait_log(rf"load +W{new}: .* [1-9]\d* served", start=mark)
    finally:
        stop.set()
        for t in threads:
            t.join()
    refusals = len(re.findall(r"refusing", s.log()))
    h.check(refusals <= 8, f"{refusals} refusals: the draining worker kept getting connections")
    h.check(set(results) == {200}, f"results {dict(results)}")


def test_full_worker_is_parked_not_bounced():
    # A worker out of descriptors refuses; the master parks it until its
    # next load report instead of handing it the next connection at once.
    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    s = h.server("--trace", workers=1, preexec_fn=low_fd_limit)
    idle = []
    try:
        for _ in range(60):
            idle.append(h.connect(s.port))
        s.wait_log(r"full +W1, parked")
        mark = s.mark()
        # two heartbeats later, count the bounces in between
        s.wait_log(r"load +W1:", start=mark, count=2, timeout=5)
        window = s.log().splitlines()[mark:]
        bounces = sum(1 for l in window if "refuse " in l)
        h.check(bounces <= 6, f"{bounces} refusals within two heartbeats")
    finally:
        for c in idle:
            c.close()
    # with the idle clients gone the worker has room again
    h.hello_pid(h.request(s.port, "/"))


def test_graceful_stop_not_held_back_by_a_stuck_worker():
    s = h.server("--trace", "--grace", "20s", workers=2)
    workers = s.ready_workers()
    stuck_pid = workers[1]
    os.kill(stuck_pid, signal.SIGSTOP)
    clients = []
    try:
        # keep connecting until the stopped worker has been handed one
        for _ in range(6):
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            clients.append(c)
            port = c.getsockname()[1]
            cid = s.wait_log(rf"accept +C(\d+) fd=\d+ from 127\.0\.0\.1:{port}\b").group(1)
            if s.wait_log(rf"handoff +C{cid} -> W(\d+)").group(1) == "1":
                break
        else:
            raise h.TestFailure("the stopped worker was never handed a connection")
        s.signal(signal.SIGTERM)
        # the healthy worker is told to stop and exits on its own
        s.wait_log(rf"worker W2 \(pid {workers[2]}\) exited with code 0", timeout=10)
        h.check("grace period over" not in s.log(), "waited for the grace period")
    finally:
        os.kill(stuck_pid, signal.SIGKILL)
        for c in clients:
            c.close()
    h.check(s.wait_exit() == 0, f"exit {s.proc.returncode}")


def log_time(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")


def test_worker_that_never_boots_exits_3():
    # It was restarted forever, the master accepting connections nobody
    # would serve. Now, with backoff between attempts, the master gives
    # up once every slot's last 5 workers exited before they were ready.
    p = subprocess.run([h.HANDOFF, "--host", "127.0.0.1", "--port", "0", "--workers", "2",
                        "--control", "none", "--worker-bin", "/bin/false"],
                       capture_output=True, text=True, timeout=30 * h.SLOW)
    h.check(p.returncode == 3, f"exit {p.returncode}:\n{p.stderr}")
    lines = p.stderr.splitlines()
    h.check(re.search(r"error: worker failed to boot \(/bin/false\): 5 workers in a row "
                      r"exited before they were ready in each of the 2 slots; giving up "
                      r"\(exit 3\)$", "\n".join(lines), re.M), p.stderr)
    for slot in (0, 1):
        starts = [log_time(l) for l in lines if f"started in slot {slot}" in l]
        h.check(len(starts) == 5, p.stderr)
        gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
        # 100 ms, then 200 ms, doubling: each gap at least its delay.
        for i, gap in enumerate(gaps):
            h.check(gap >= 0.1 * 2 ** i * 0.9, f"slot {slot}: restart gaps {gaps}")


def stats(addr):
    with urllib.request.urlopen(f"http://{addr}/stats", timeout=10) as r:
        return json.loads(r.read())


def test_no_ready_worker_pauses_accepting():
    # Once a worker has been ready, the master never gives up; while no
    # worker is ready it stops accepting, so new connections wait in the
    # kernel's backlog rather than in its queue (one log line for the
    # whole episode, and /stats says why), and those it had accepted stay
    # queued. A worker back, it accepts again and every one is served.
    tmp = tempfile.mkdtemp(prefix="handoff-boot-")
    conns = []
    try:
        worker, fail = h.switched_worker(tmp, "exit 1")  # a broken deploy
        s = h.server("--worker-bin", worker, "--admin", "127.0.0.1:0", "--trace", workers=1)
        addr = s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)
        st = stats(addr)["master"]
        h.check(st["accepting"] and st["accept_paused"] is None and st["workers_ready"] == 1, st)
        victim = s.worker_pids()[0]
        os.kill(victim, signal.SIGSTOP)
        for _ in range(2):  # the first handed to the stopped worker, one queued
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            conns.append(c)
        s.wait_log(r"accept +C2 .*queue=\[C2\]")
        open(fail, "w").close()
        mark = s.mark()
        os.kill(victim, signal.SIGKILL)
        s.wait_log(r"warn: no worker is ready; accepting paused, the kernel backlog holds "
                   r"new connections \(2 accepted wait in the queue\)", start=mark)
        for _ in range(2):  # these wait in the backlog
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            conns.append(c)
        # More failed attempts than would end a master that never booted.
        s.wait_log(r"worker W\d+ \(pid \d+\) exited with code 1", start=mark, count=5)
        st = stats(addr)["master"]
        h.check(not st["accepting"] and st["accept_paused"] == "no_worker_ready"
                and st["workers_ready"] == 0 and st["accepted"] == 2 and st["queued"] == 2
                and st["accept_queue"] == 2, st)
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        h.check(re.search(r"^handoff_accepting 0$", metrics, re.M)
                and re.search(r"^handoff_workers_ready 0$", metrics, re.M), metrics)
        h.check(s.proc.poll() is None, "the master gave up after it had served")
        os.unlink(fail)
        s.wait_log(r"info: a worker is ready again; accepting", start=mark)
        pids = {h.hello_pid(h.Reader(c).read_response()) for c in conns}
        h.check(len(pids) == 1 and victim not in pids, pids)
        log = s.log().splitlines()[mark:]
        h.check(sum("accepting paused" in l for l in log) == 1
                and sum("ready again; accepting" in l for l in log) == 1, "\n".join(log))
        st = stats(addr)["master"]
        h.check(st["accepting"] and st["accepted"] == 4, st)
    finally:
        for c in conns:
            c.close()
        shutil.rmtree(tmp)


def test_connections_wait_for_a_worker():
    # While the only worker is away, accepted connections wait in the
    # queue and are served by its replacement.
    s = h.server("--trace", workers=1)
    victim = s.worker_pids()[0]
    os.kill(victim, signal.SIGSTOP)
    c1 = h.connect(s.port)
    c1.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    c2 = h.connect(s.port)
    c2.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    port2 = c2.getsockname()[1]
    cid2 = s.wait_log(rf"accept +C(\d+) fd=\d+ from 127\.0\.0\.1:{port2}\b").group(1)
    s.wait_log(rf"accept +C{cid2} .*queue=\[C{cid2}\]")
    os.kill(victim, signal.SIGKILL)
    for c in (c1, c2):
        with c:
            pid = h.hello_pid(h.Reader(c).read_response())
            h.check(pid != victim)


def test_workers_run_in_sched_batch():
    """Workers are SCHED_BATCH by default (a worker woken by a handoff
    does not preempt the master), and so are their replacements;
    --worker-sched normal leaves them SCHED_OTHER."""
    s = h.server(workers=2)
    pids = s.worker_pids()
    h.check(all(os.sched_getscheduler(p) == os.SCHED_BATCH for p in pids),
            f"policies {[os.sched_getscheduler(p) for p in pids]}")
    h.check(os.sched_getscheduler(s.pid) == os.SCHED_OTHER, "the master changed class")
    mark = s.mark()
    os.kill(pids[0], signal.SIGKILL)
    s.wait_ready(1, start=mark)
    new = [p for p in s.worker_pids() if p not in pids]
    h.check(len(new) == 1 and os.sched_getscheduler(new[0]) == os.SCHED_BATCH,
            f"replacement {new}")
    h.hello_pid(h.request(s.port, "/"))
    n = h.server("--worker-sched", "normal", workers=1)
    h.check(all(os.sched_getscheduler(p) == os.SCHED_OTHER for p in n.worker_pids()))
    h.hello_pid(h.request(n.port, "/"))


if __name__ == "__main__":
    h.main(globals())
