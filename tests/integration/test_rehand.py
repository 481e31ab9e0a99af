#!/usr/bin/env python3
"""Connections that outlive their worker (--rehand, on by default): an
idle keep-alive connection whose worker is SIGKILLed, retires (SIGHUP,
SIGTTOU, --max-requests) or is replaced answers its next request on the
same TCP connection, from another worker; a connection with a request
half read, a response half written or pipelined requests buffered when
its worker dies is closed, never replayed; the master's descriptor of a
connection never keeps a closed one open. Raw sockets against the real
binary, 200 connections as a client's pool would hold them."""

import json
import os
import re
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def open_pool(port, n):
    """<n> keep-alive connections, each having had one request answered;
    returns [(sock, reader, pid of the worker that answered)]."""
    pool = []
    for _ in range(n):
        s = h.connect(port)
        pool.append([s, h.Reader(s), 0])
    for p in pool:
        p[0].sendall(GET)
    for p in pool:
        p[2] = h.hello_pid(p[1].read_response())
    return pool


def second_requests(pool):
    """Sends a second request on every connection; returns how many were
    answered (200 from a worker) and the pids that answered."""
    for p in pool:
        try:
            p[0].sendall(GET)
        except OSError:
            pass
    ok, pids = 0, set()
    for s, r, _ in pool:
        try:
            s.settimeout(10 * h.SLOW)
            pids.add(h.hello_pid(r.read_response()))
            ok += 1
        except (OSError, EOFError, h.TestFailure):
            pass
    return ok, pids


def close_pool(pool):
    for p in pool:
        p[0].close()


def server_queue(port, client):
    """(tx_queue, rx_queue) of the server's end of <client>, a connection
    to 127.0.0.1:<port>, from /proc/net/tcp, or None."""
    cport = client.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            # 01: ESTABLISHED (a connection still being set up shows
            # nothing queued yet)
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == cport \
                    and fields[3] == "01":
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def admin_stats(port):
    with h.connect(port) as c:
        c.sendall(b"GET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return json.loads(h.Reader(c).read_response().body)


def kill_all(s):
    """SIGKILLs every worker of <s> and waits for the replacements."""
    victims = s.worker_pids()
    h.check(victims, "no worker to kill")
    mark = s.mark()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    s.wait_ready(len(victims), start=mark)
    return victims


def test_idle_connections_survive_kill9_of_every_worker():
    admin = h.free_port()
    s = h.server("--admin", f"127.0.0.1:{admin}", workers=2)
    pool = open_pool(s.port, 200)
    before = {p[2] for p in pool}
    h.check(len(before) == 2, f"served by {before}")
    victims = kill_all(s)
    ok, pids = second_requests(pool)
    sys.stderr.write(f"kill -9 of every worker: {ok} of 200 kept\n")
    h.check(ok >= 198, f"only {ok} of 200 connections answered after the kill")
    h.check(not pids & set(victims), f"a dead worker answered: {pids}")
    m = admin_stats(admin)["master"]
    # (One handed from the first victim to the second as it died counts
    # twice.)
    h.check(m["rehand"] is True and m["rehanded_crash"] >= ok
            and m["rehanded"] == m["rehanded_crash"] and m["rehand_busy_closed"] == 0,
            "/stats says " + str({k: v for k, v in m.items() if "rehand" in k}))
    h.check(m["rehand_kept"] == 200, f"/stats: the master keeps {m['rehand_kept']}")
    close_pool(pool)


def live_workers(s):
    return {p for p in s.worker_pids() if h.alive(p)}


def _graceful(s, event, wait, n=200, alive=True):
    """200 idle connections, <event>(s), <wait>(s, mark) for it to be
    over, then a second request on each: every one answered, by a
    worker that is still there."""
    pool = open_pool(s.port, n)
    before = {p[2] for p in pool}
    mark = s.mark()
    event(s)
    wait(s, mark)
    ok, pids = second_requests(pool)
    sys.stderr.write(f"{event.__name__}: {ok} of {n} kept, answered by {sorted(pids)}\n")
    h.check(ok == n, f"only {ok} of {n} connections answered")
    if alive:  # (a worker recycled may have answered, then gone)
        h.check(pids <= live_workers(s), f"answered by {pids}, alive {live_workers(s)}")
    close_pool(pool)
    return before, pids


def test_rolling_restart_keeps_every_idle_connection():
    s = h.server(workers=2)

    def sighup(s):
        s.signal(signal.SIGHUP)

    def done(s, mark):
        s.wait_log(r"rolling restart done", start=mark, timeout=20)
        s.wait_log(r"exited with code 0", start=mark, count=2, timeout=20)

    before, after = _graceful(s, sighup, done)
    h.check(not before & after, f"old workers answered: {before} -> {after}")
    # Not one closed by the reload: no connection waits for its idle grace.
    h.check("idle connections go back" in s.log(), "the workers were not told to return them")


def test_scale_down_keeps_every_idle_connection():
    s = h.server(workers=2)

    def sigttou(s):
        s.signal(signal.SIGTTOU)

    def done(s, mark):
        s.wait_log(r"removing a worker: now 1", start=mark)
        s.wait_log(r"exited with code 0", start=mark, timeout=20)

    _graceful(s, sigttou, done)
    h.check(len(live_workers(s)) == 1, f"workers {live_workers(s)}")


def test_recycling_keeps_every_idle_connection():
    # --max-requests: the 200 first requests take a worker past it (rr
    # shares a burst unevenly: one may serve 196, the other 4).
    s = h.server("--max-requests", "20", workers=2)
    recycled = []

    def max_requests(s):
        pass  # the first requests did it

    def done(s, mark):
        # Recycling waits for a worker to have served for a second.
        m = s.wait_log(r"replacing worker W\d+ \(pid (\d+)\).*--max-requests", start=mark,
                       timeout=20)
        recycled.append(int(m.group(1)))
        s.wait_log(rf"\(pid {recycled[0]}\) exited with code 0", start=mark, timeout=20)

    before, after = _graceful(s, max_requests, done, alive=False)
    h.check(recycled[0] not in after, f"the recycled worker answered: {after}")


def test_watchdog_kill_keeps_idle_connections():
    s = h.server("--worker-timeout", "1s", workers=2)
    stuck = []

    def sigstop(s):
        stuck.append(s.worker_pids()[0])
        os.kill(stuck[0], signal.SIGSTOP)

    def done(s, mark):
        s.wait_log(rf"\(pid {stuck[0]}\) silent for .* killing it", start=mark, timeout=10)
        s.wait_ready(1, start=mark)

    _graceful(s, sigstop, done)


def test_binary_upgrade_moves_idle_connections_to_the_new_master():
    s = h.server(workers=2)
    pool = open_pool(s.port, 200)
    with h.upgraded(s) as new_master:
        h.check(s.wait_exit() == 0, "the old master did not exit 0")
        s.wait_log(r"took over 200 idle connections from the old master", timeout=10)
        ok, pids = second_requests(pool)
        sys.stderr.write(f"SIGUSR2: {ok} of 200 kept, answered by {sorted(pids)}\n")
        h.check(ok == 200, f"only {ok} of 200 connections answered")
        h.check(pids <= set(h.children(new_master)), f"{pids} are not the new master's workers")
        close_pool(pool)


def test_ten_thousand_idle_connections_survive_4_workers_killed_at_once():
    import resource
    n = 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 1000:
        sys.stderr.write(f"skipped: descriptor limit {hard}\n")
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 1000), hard))
    try:
        s = h.server(workers=4)
        pool = open_pool(s.port, n)
        h.check(len({p[2] for p in pool}) == 4, "not served by all four workers")
        victims = kill_all(s)
        t0 = time.monotonic()
        ok, pids = second_requests(pool)
        sys.stderr.write(f"10,000 idle connections, 4 workers killed: {ok} kept, "
                         f"second requests in {time.monotonic() - t0:.1f} s\n")
        h.check(ok == n, f"only {ok} of {n} connections answered")
        h.check(not pids & set(victims), "a dead worker answered")
        close_pool(pool)
        h.wait_until(lambda: h.held_connections(s.pid) == 0, timeout=20,
                     what="the master to close its descriptors")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_kills_under_load_fail_only_requests_in_progress():
    # wrk keeps 32 connections busy; a worker is SIGKILLed every 200 ms.
    # A connection whose next request still sits unread in the kernel is
    # idle to its worker, so it is handed again and served: what fails is
    # only what a worker had begun, at most about one request per kill
    # (a worker serves one connection at a time). With --rehand off each
    # kill fails every connection the worker held (hundreds in all).
    s = h.server(workers=4)
    kills, total, errors, held = h.kill_workers_under_load(s, 4, "rehand faults")
    h.check(errors <= kills, f"{errors} errors for {kills} kills ({held} connections held)")


def test_rehand_off_closes_them():
    # The flag that turns it off for the cost comparison: as before.
    s = h.server("--rehand", "off", workers=2)
    pool = open_pool(s.port, 20)
    kill_all(s)
    ok, _ = second_requests(pool)
    h.check(ok == 0, f"{ok} of 20 kept with --rehand off")
    close_pool(pool)


def _wait_read(s, c, what):
    """Until a worker has been reading <c> (its trace says so) and the
    server's end has nothing unread: the worker took the bytes."""
    port = c.getsockname()[1]
    cid = s.wait_log(rf"accept +C(\d+) fd=\d+ from 127\.0\.0\.1:{port}\b").group(1)
    s.wait_log(rf"trace: C{cid} ack sent; reading")
    h.wait_until(lambda: (server_queue(s.port, c) or (0, 1))[1] == 0, what=what)


def test_half_sent_request_is_closed_others_kept():
    s = h.server("--trace", workers=1)
    pool = open_pool(s.port, 10)
    half = h.connect(s.port)
    half.sendall(b"GET / HTTP/1.1\r\nHo")
    _wait_read(s, half, "the worker to read the half request")
    kill_all(s)
    h.check(h.Reader(half).at_eof(), "a half-sent request's connection was not closed")
    ok, _ = second_requests(pool)
    h.check(ok == 10, f"only {ok} of 10 idle connections kept")
    close_pool(pool)
    half.close()


def test_pipelined_requests_buffered_are_closed_not_replayed():
    s = h.server("--threads", "1", "--trace", workers=1)
    c = h.connect(s.port)
    # A long job, and two requests behind it that the worker reads (to
    # notice a reset) but keeps unparsed.
    c.sendall(b"GET /cpu?n=100000000000&offload=1 HTTP/1.1\r\nHost: t\r\n\r\n"
              + GET + GET)
    s.wait_log(r"trace: C\d+ GET /cpu")
    _wait_read(s, c, "the worker to read the pipelined requests")
    kill_all(s)
    r = h.Reader(c)
    h.check(r.at_eof(), f"the connection was not closed: {r.buf[:200]!r}")
    h.check(b"HTTP/1.1" not in r.buf, f"pipelined requests replayed: {r.buf[:200]!r}")
    c.close()


def test_half_written_response_is_closed():
    tmp = tempfile.mkdtemp(prefix="handoff-rehand-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    size = 64 * 1024 * 1024
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.truncate(size)
    try:
        # A long header timeout: a connection wrongly handed again would
        # sit in its new worker that long before its 408.
        s = h.server("--root", root, "--demo-routes", "on", "--header-timeout", "30s",
                     workers=1)
        c = h.connect(s.port)
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        # The worker has written what the socket takes and waits for more
        # room: the response is half written.
        h.wait_until(lambda: (server_queue(s.port, c) or (0, 1))[0] > 0
                     and server_queue(s.port, c)[1] == 0,
                     what="the response to fill the socket")
        kill_all(s)
        got, tail = 0, b""
        c.settimeout(5 * h.SLOW)
        try:
            while True:
                data = c.recv(1 << 20)
                if not data:
                    break
                got += len(data)
                tail = (tail + data)[-4096:]
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise h.TestFailure(f"not closed after {got} bytes")
        h.check(got < size, f"the whole response arrived ({got} bytes)")
        h.check(b"HTTP/1.1 408" not in tail, "the connection was handed again")
        c.close()
    finally:
        for dirpath, _, files in os.walk(tmp, topdown=False):
            for f in files:
                os.unlink(os.path.join(dirpath, f))
            os.rmdir(dirpath)


def test_master_reference_never_keeps_a_closed_connection_open():
    # The worker ends a connection with a shutdown, so the client sees its
    # FIN while the master still holds its descriptor; the master then
    # lets go of it (at the worker's next load report).
    s = h.server("--keepalive-timeout", "300ms", workers=1)
    baseline = h.idle_fd_count(s.pid)
    c = h.connect(s.port)
    c.sendall(GET)
    r = h.Reader(c)
    h.hello_pid(r.read_response())
    t0 = time.monotonic()
    h.check(r.at_eof(timeout=5), "no FIN after the keep-alive timeout")
    h.check(time.monotonic() - t0 < 2 * h.SLOW, "the FIN came late")
    h.wait_until(lambda: h.held_connections(s.pid) == 0 and h.fd_count(s.pid) == baseline,
                 what="the master to close its descriptor")
    c.close()
    # And on Connection: close.
    resp = h.request(s.port, "/")
    h.hello_pid(resp)
    h.wait_until(lambda: h.held_connections(s.pid) == 0 and h.fd_count(s.pid) == baseline,
                 what="the master to close its descriptor")
    # The worker closes its own copy last (it pays for the teardown), but
    # does close it.
    worker = s.worker_pids()[0]
    h.wait_until(lambda: h.held_connections(worker) == 0,
                 what="the worker to close its descriptors")


h.main(globals())
