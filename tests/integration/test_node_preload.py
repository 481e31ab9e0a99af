#!/usr/bin/env python3
"""handoff's preload in Node workers (--node, --node-preload on by
default): load reports that /stats, /metrics, least-loaded and p2c use,
and a drain in place of Node's disconnect that closes no idle keep-alive
connection under its client, so that reloads under load fail nothing.
With real Node and unmodified programs (tests/integration/node/), driven
from the outside: wrk, raw sockets, /stats, signals to the master."""

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_node_workers as nw  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = nw.HELLO
HOSTILE = os.path.join(nw.NODE_DIR, "hostile_cluster.js")


def admin(s):
    base = "http://" + s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)

    def get(path):
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.read().decode()
    return get


def reload_twice_under_load(s, what):
    """Two rolling restarts (SIGHUP) under wrk -c32 keep-alive: no
    request may fail. Returns the old and the new worker pids."""
    first = set(s.worker_pids())
    w = h.Wrk(s.port, duration=8, conns=32)
    h.wait_until(lambda: any(c for c in (h.held_connections(p) for p in first)),
                 what="wrk's connections in the workers")
    for _ in range(2):
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(r"rolling restart done", start=mark, timeout=30)
        # each old worker drained, with wrk's connections on it, and left
        s.wait_log(r"worker W\d+ \(pid \d+\) drains: \d+ open connections", start=mark,
                   count=2)
        s.wait_log(r"exited with code 0", start=mark, count=2, timeout=30)
    total = w.check_no_failures(what)
    now = set(s.worker_pids())
    h.check(not (first & now) and len(now) == 2, f"workers {first} then {now}")
    return total


def test_reloads_under_keepalive_load_drop_nothing():
    # Node's server.close() (what its disconnect does) closes idle
    # keep-alive connections under their clients: wrk saw 57 and 94 read
    # errors in these runs without the preload. With it, 0.
    s = nw.node_server(HELLO, workers=2)
    reload_twice_under_load(s, "http program, two reloads")
    d = nw.express_dir()
    s = nw.node_server(os.path.join(d, "express_cluster.js"), workers=2)
    reload_twice_under_load(s, "express program, two reloads")


def test_reloads_drop_nothing_where_workers_accept_themselves():
    # Under none and reuseport a draining worker accepts by itself: it
    # stops (net's close() of its listening socket, not http's).
    for policy in ("none", "reuseport"):
        s = nw.node_server(HELLO, "--policy", policy, workers=2)
        reload_twice_under_load(s, f"{policy}, two reloads")
        h.check(s.stop() == 0, f"{policy}: exit code")


def test_a_draining_worker_that_accepts_itself_stops_accepting():
    # The old worker, kept draining by an idle connection, must not take
    # new connections from the socket it shares with its replacement.
    for policy in ("none", "reuseport"):
        s = nw.node_server(HELLO, "--policy", policy, workers=1)
        old = s.worker_pids()[0]
        with h.connect(s.port) as idle:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            h.check(h.hello_pid(h.Reader(idle).read_response()) == old, "first answer")
            mark = s.mark()
            s.signal(signal.SIGHUP)
            s.wait_log(r"\(pid %d\) drains: 1 open connection, 0 requests in flight" % old,
                       start=mark)
            served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(20))
            h.check(old not in served, f"{policy}: {served[old]} of 20 new connections went "
                    "to the draining worker")
        h.check(s.stop() == 0, f"{policy}: exit code")


GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def idle_pool(s, n, pids):
    """<n> keep-alive connections, one request each, answered by one of
    <pids> without Connection: close."""
    conns = []
    for _ in range(n):
        c = h.connect(s.port)
        conns.append((c, h.Reader(c)))
        c.sendall(GET)
        resp = conns[-1][1].read_response()
        h.check(h.hello_pid(resp) in pids and resp.header("connection") != "close",
                f"first answer: {resp}")
    return conns


def test_idle_keepalive_connections_are_given_back_at_a_reload():
    # 200 idle keep-alive connections and one request in flight when the
    # workers are retired (SIGHUP): each old worker gives its idle
    # connections back to the master (process.send(msg, socket)), which
    # hands them to the live workers; the request in flight is answered
    # without Connection: close, and its connection goes back too. Once the
    # old workers have exited, a second request on each connection is
    # answered by a new worker, on the same connection.
    s = nw.node_server(HELLO, "--admin", "127.0.0.1:0", "--trace", workers=2)
    get = admin(s)
    old = set(s.worker_pids())
    conns = []
    try:
        conns = idle_pool(s, 200, old)
        slow = h.connect(s.port, timeout=30)
        conns.append((slow, h.Reader(slow)))
        slow.sendall(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        s.wait_log(r"load +W\d+: \d+ open, 1 in flight")
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(r"rolling restart done", start=mark, timeout=30)
        s.wait_log(r"exited with code 0", start=mark, count=2, timeout=30)
        new = set(s.worker_pids())
        h.check(not (old & new) and len(new) == 2, f"workers {old} then {new}")
        log = s.log()[mark:]
        given = [int(n) for n in re.findall(r"drains: \d+ open connections?, \d+ requests? "
                                            r"in flight; (\d+) idle given back", log)]
        h.check(sum(given) >= 200, f"the drains gave back {given}")
        resp = conns[-1][1].read_response()
        h.check(h.hello_pid(resp) in old and resp.header("connection") != "close",
                f"the request in flight: {resp}")
        ok, pids = second_requests(conns)
        h.check(pids <= new, f"answered by {pids}, not only by the new workers {new}")
        sys.stderr.write(f"SIGHUP of Node workers: {ok} of 201 kept\n")
        h.check(ok == 201, f"only {ok} of 201 connections answered by a new worker")
        m = stats_of(get)["master"]
        traced = len(re.findall(r"rehand +C\d+ \(given back by W\d+\) fd=\d+", s.log()))
        h.check(m["rehanded_returned"] >= 201 and traced == m["rehanded_returned"],
                f"/stats: {m['rehanded_returned']} returned, {traced} traced")
    finally:
        for c, _ in conns:
            c.close()


def second_requests(conns):
    """A second request on each connection: how many were answered
    without Connection: close, and by which pids."""
    ok, pids = 0, set()
    for c, r in conns:
        try:
            c.sendall(GET)
            resp = r.read_response()
            pids.add(h.hello_pid(resp))
            ok += resp.header("connection") != "close"
        except (OSError, EOFError, h.TestFailure):
            pass
    return ok, pids


def test_idle_keepalive_connections_survive_scale_down_and_a_binary_upgrade():
    # One worker fewer (SIGTTOU): the retiring worker gives its idle
    # connections back and the other one answers them all.
    s = nw.node_server(HELLO, workers=2)
    conns = idle_pool(s, 100, set(s.worker_pids()))
    try:
        mark = s.mark()
        s.signal(signal.SIGTTOU)
        gone = int(s.wait_log(r"worker W\d+ \(pid (\d+)\) retiring: one worker fewer",
                              start=mark).group(1))
        s.wait_log(r"\(pid %d\) exited with code 0" % gone, start=mark, timeout=30)
        ok, pids = second_requests(conns)
        h.check(ok == 100 and gone not in pids and len(pids) == 1,
                f"SIGTTOU: {ok} of 100 kept, answered by {pids} (retired: {gone})")
    finally:
        for c, _ in conns:
            c.close()
    # A binary upgrade (SIGUSR2): the old master's workers give theirs
    # back, and the old master hands them to the new one's.
    s = nw.node_server(HELLO, workers=2)
    conns = idle_pool(s, 100, set(s.worker_pids()))
    try:
        with h.upgraded(s) as new_master:
            h.check(s.wait_exit() == 0, "the old master did not exit 0")
            ok, pids = second_requests(conns)
            h.check(ok == 100 and pids <= set(h.children(new_master)),
                    f"SIGUSR2: {ok} of 100 kept, answered by {pids}")
    finally:
        for c, _ in conns:
            c.close()


def test_idle_keepalive_connections_are_closed_only_after_their_next_response():
    # --rehand off: 200 idle keep-alive connections and one request in
    # flight when the workers are retired: the old workers keep them all;
    # each next request is answered, by the old worker, with Connection:
    # close, and only then is the connection closed.
    s = nw.node_server(HELLO, "--rehand", "off", workers=2)
    old = set(s.worker_pids())
    conns = []
    try:
        for _ in range(200):
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            r = h.Reader(c)
            h.check(h.hello_pid(r.read_response()) in old, "answered by a new worker?")
            conns.append((c, r))
        slow = h.connect(s.port)
        slow.sendall(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(r"rolling restart done", start=mark, timeout=30)
        s.wait_log(r"drains: ", start=mark, count=2)
        drains = re.findall(r"drains: (\d+) open connections?, (\d+) requests? in flight",
                            s.log())
        h.check(sum(int(n) for n, _ in drains) == 201 and
                sum(int(f) for _, f in drains) == 1, f"drains: {drains}")
        for c, r in conns:
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            resp = r.read_response()
            h.check(h.hello_pid(resp) in old and resp.header("connection") == "close",
                    f"second request: {resp}")
            h.check(r.at_eof(), "the connection stayed open after Connection: close")
        resp = h.Reader(slow).read_response()
        h.check(h.hello_pid(resp) in old and resp.header("connection") == "close",
                f"the request in flight: {resp}")
        s.wait_log(r"exited with code 0", start=mark, count=2, timeout=30)
        h.check(not (old & set(s.worker_pids())), "old workers still there")
    finally:
        for c, _ in conns:
            c.close()


def stats_of(get):
    return json.loads(get("/stats"))


def test_stats_and_metrics_show_node_workers_figures():
    s = nw.node_server(HELLO, "--admin", "127.0.0.1:0", workers=2)
    get = admin(s)
    held = []
    try:
        for _ in range(3):
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            h.hello_pid(h.Reader(c).read_response())
            held.append(c)
        for _ in range(6):
            h.hello_pid(h.request(s.port, "/"))
        st = h.wait_until(
            lambda: (lambda st: st["totals"]["requests_served"] == 9 and
                     sum(w["open_connections"] for w in st["workers"]) == 3 and st)(
                         stats_of(get)),
            what="the workers' reports of 9 requests served, 3 connections open")
        for w in st["workers"]:
            h.check(w["kind"] == "node" and w["requests_in_flight"] == 0 and
                    isinstance(w["loop_lag_ms"], float) and w["rss_kib"] > 10000 and
                    w["requests_served"] >= 1, w)
        # A 400 ms synchronous handler shows as the worker's loop lag.
        pid = h.hello_pid(h.request(s.port, "/busy?ms=400"))
        wid = {p: i for i, p in nw.pids_by_worker_id(s).items()}[pid]
        h.wait_until(lambda: next(w for w in stats_of(get)["workers"] if w["id"] == wid)
                     ["loop_lag_ms"] >= 300, what=f"W{wid}'s loop lag after 400 ms busy")
        text = get("/metrics")
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        h.check(p.returncode == 0, f"promtool: {p.stdout}{p.stderr}")
        for series in (r"^handoff_requests_total 10$", r'^handoff_slot_rss_bytes\{slot="0"\} \d+$',
                       r'^handoff_slot_open_connections\{slot="1"\} \d+$',
                       r'^handoff_slot_loop_lag_seconds\{slot="0"\} [\d.]+$'):
            h.check(re.search(series, text, re.M), f"{series} not in\n{text}")
    finally:
        for c in held:
            c.close()


def test_least_loaded_and_p2c_avoid_a_busy_node_worker():
    # As test_policies.py does with handoff's own workers: a worker in a
    # long synchronous handler (its loop blocked, so it reads nothing) has
    # said so before it blocks, and new connections go to the other one.
    for policy in ("least-loaded", "p2c"):
        s = nw.node_server(HELLO, "--policy", policy, "--trace", workers=2)
        pids = nw.pids_by_worker_id(s)
        for wid in pids:
            s.wait_log(rf"load +W{wid}: 0 open")
        busy = h.connect(s.port, timeout=30)
        try:
            busy.sendall(b"GET /busy?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
            m = s.wait_log(r"load +W(\d+): 1 open, 1 in flight")
            busy_pid = pids[int(m.group(1))]
            served = collections.Counter(h.hello_pid(h.request(s.port, "/"))
                                         for _ in range(10))
            h.check(busy_pid not in served,
                    f"{policy}: {served[busy_pid]} of 10 connections went to the busy worker")
            h.check(h.hello_pid(h.Reader(busy).read_response()) == busy_pid, "busy answer")
        finally:
            busy.close()
        h.check(s.stop() == 0, f"{policy}: exit code")


def test_hostile_program_keeps_working():
    # The program patches http.Server, replaces createServer, has its own
    # close() that calls closeIdleConnections(), a second server and its
    # own process.on('message'): reloads still fail nothing, the figures
    # are there, its messages reach the log, and the master's messages to
    # the preload never reach its handler. A child it forks has the
    # preload too and is left alone by it.
    s = nw.node_server(HOSTILE, "--admin", "127.0.0.1:0", workers=2)
    get = admin(s)
    for pid in s.worker_pids():
        s.wait_log(r'worker W\d+ \(pid %d\) message: \{"hello":%d\}' % (pid, pid))
        s.wait_log(r'\(pid %d\) message: \{"child":\d+,"execArgv":"--require [^"]*'
                   r'handoff-preload.cjs"\}' % pid)
    s.wait_log(r"listens a second time on port", count=2)
    s.wait_log(r'message: \{"second":"EADDRINUSE"\}', count=2)
    reload_twice_under_load(s, "hostile program, two reloads")
    h.wait_until(lambda: all(isinstance(w["open_connections"], int) and w["rss_kib"]
                             for w in stats_of(get)["workers"]), what="numeric figures")
    r = h.request(s.port, "/")
    h.check(re.match(rb"Hello from worker \d+ \(\d+\)\n$", r.body), r)
    h.check("leaked" not in s.log(), "a message to the preload reached the program")


def test_missing_preload_is_a_clear_error():
    # Found beside the binary, else in ../lib/handoff/ (make install's
    # layout); missing, one line says what to do, and
    # --node-preload off runs without it.
    d = tempfile.mkdtemp(prefix="handoff-preload-")
    try:
        bin_dir = os.path.join(d, "bin")
        os.makedirs(bin_dir)
        binary = os.path.join(bin_dir, "handoff")
        shutil.copy(h.HANDOFF, binary)
        p = subprocess.run([binary, "--host", "127.0.0.1", "--port", "0", "--control",
                            "none", "--node", HELLO], capture_output=True, text=True,
                           timeout=10 * h.SLOW)
        h.check(p.returncode == 1 and p.stderr.strip() ==
                f"handoff: --node: handoff's preload {bin_dir}/handoff-preload.cjs: No such "
                "file or directory (reinstall handoff, or give --node-preload off)",
                f"exit {p.returncode}: {p.stderr!r}")
        s = h.server("--node", HELLO, "--node-preload", "off", binary=binary, workers=1)
        h.hello_pid(h.request(s.port, "/"))
        h.check(b"--require" not in b" ".join(nw.cmdline(s.worker_pids()[0])), "preloaded")
        s.stop()
        lib = os.path.join(d, "lib", "handoff")
        os.makedirs(lib)
        shutil.copy(nw.PRELOAD_JS, lib)
        s = h.server("--node", HELLO, binary=binary, workers=1)
        s.wait_log(r"workers are Node: \S+ --require %s/bin/../lib/handoff/handoff-preload.cjs "
                   % re.escape(d))
        s.wait_log(r"has handoff's preload")
        h.hello_pid(h.request(s.port, "/"))
    finally:
        shutil.rmtree(d)


def test_without_the_preload_every_node_test_passes_as_before():
    # --node-preload off: the workers are plain `node SCRIPT` and every
    # test of test_node_workers.py passes as it did before the preload.
    env = dict(os.environ, HANDOFF_NODE_PRELOAD="off")
    p = subprocess.run([sys.executable, os.path.join(HERE, "test_node_workers.py")], env=env,
                       capture_output=True, text=True, timeout=300)
    ok = re.findall(r"^ok (\S+)", p.stdout, re.M)
    failed = re.findall(r"^FAIL .*", p.stdout, re.M)
    h.check(p.returncode == 0 and not failed and len(ok) >= 30,
            f"{len(ok)} passed, failed: {failed}\n{p.stderr[-3000:]}")


if __name__ == "__main__":
    h.main(globals())
