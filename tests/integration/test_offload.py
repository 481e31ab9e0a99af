#!/usr/bin/env python3
"""--threads and GET /cpu?n=N&offload=1: the busy loop runs on the worker's
thread pool while its event loop answers other connections; the
connection waiting for its job is neither timed out nor freed under it,
answers pipelined requests in order, survives a client that goes away,
and a graceful stop delivers the job's answer."""

import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N_LONG = 1000000000  # the cap: about a second of one core, ASan or not
LONG = f"/cpu?n={N_LONG}"
A_BOUND = 0.15 * h.SLOW  # a free loop answers GET / well within this
RUNNING = r"C\d+ /cpu job running on a pool thread"


def get(path, close=False):
    extra = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


def readable(sock):
    """True if <sock> has bytes (or EOF) waiting right now."""
    return bool(select.select([sock], [], [], 0)[0])


def reset(sock):
    """Closes <sock> with an RST, as a client that gives up abruptly."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def hello_on(sock, rd):
    sock.sendall(get("/"))
    return h.hello_pid(rd.read_response())


def race(s, path, started):
    """Connection A is idle on the worker; B asks for <path>. Once the log
    shows B's job under way (<started>), A sends GET /. Returns A's
    latency, B's latency (both from A's send), whether B had been answered
    when A's answer arrived, and B's response."""
    with h.connect(s.port, timeout=30) as a, h.connect(s.port, timeout=30) as b:
        ra, rb = h.Reader(a), h.Reader(b)
        hello_on(a, ra)  # A is on the worker, kept alive
        mark = s.mark()
        b.sendall(get(path))
        s.wait_log(started, start=mark)
        t0 = time.monotonic()
        a.sendall(get("/"))
        h.hello_pid(ra.read_response())
        ta = time.monotonic() - t0
        b_first = readable(b)
        rb_resp = rb.read_response()
        tb = time.monotonic() - t0
        return ta, tb, b_first, rb_resp


def test_offloaded_job_leaves_the_loop_free():
    s = h.server("--threads", "2", "--trace", workers=1)
    pid = s.worker_pids()[0]

    ta, tb, b_first, r = race(s, LONG + "&offload=1", RUNNING)
    h.check(r.status == 200, r)
    h.check(r.body == b'{"success":true,"worker":%d,"offloaded":true}' % pid, r)
    h.check(not b_first, "B's offloaded job was answered before A's GET /")
    h.check(ta < A_BOUND and tb > 3 * ta,
            f"GET / took {ta:.3f} s while a {tb:.3f} s job ran on the pool")

    # The same without offload=1: the loop is busy, so A waits for B.
    ta, tb, b_first, r = race(s, LONG, r"C\d+ GET /cpu\?n=\d+$")
    h.check(r.status == 200, r)
    h.check(r.body == b'{"success":true,"worker":%d}' % pid, r)
    h.check(b_first, "inline /cpu: A was answered before B's job was done")
    h.check(ta > A_BOUND and ta >= 0.5 * tb,
            f"inline /cpu: GET / took only {ta:.3f} s of the {tb:.3f} s job")


def test_job_counts_in_flight():
    # The master's figures (its trace of each load report): a request whose
    # job runs is in flight, and served once answered.
    s = h.server("--threads", "1", "--trace", workers=1)
    with h.connect(s.port, timeout=30) as c:
        mark = s.mark()
        c.sendall(get(LONG + "&offload=1"))
        s.wait_log(RUNNING, start=mark)
        s.wait_log(r"load +W\d+: 1 open, 1 in flight, 0 served", start=mark)
        r = h.Reader(c).read_response()
        h.check(b'"offloaded":true' in r.body, r)
        s.wait_log(r"load +W\d+: 1 open, 0 in flight, 1 served", start=mark)


def test_threads_zero_runs_inline():
    s = h.server("--trace", workers=1)  # --threads defaults to 0
    pid = s.worker_pids()[0]
    r = h.request(s.port, "/cpu?n=1000&offload=1")
    h.check(r.body == b'{"success":true,"worker":%d,"offloaded":false}' % pid, r)
    h.check("pool thread" not in s.log(), "a job ran on a pool with --threads 0")
    r = h.request(s.port, "/cpu?n=1000&offload=0")
    h.check(r.body == b'{"success":true,"worker":%d}' % pid, r)
    for bad in ("/cpu?offload=2", "/cpu?offload=", "/cpu?n=5&offload=yes"):
        r = h.request(s.port, bad)
        h.check(r.status == 400 and b"offload" in r.body, f"{bad}: {r}")


def test_pipelined_requests_answered_in_order():
    s = h.server("--threads", "2", "--trace", workers=1)
    # All at once: the requests behind the job wait in the parser.
    with h.connect(s.port, timeout=30) as c:
        c.sendall(get("/cpu?n=100000000&offload=1") + get("/") +
                  get("/cpu?n=10&offload=1") + get("/missing") +
                  get("/cpu?n=10", close=True))
        rd = h.Reader(c)
        rs = [rd.read_response() for _ in range(5)]
        h.check(b'"offloaded":true' in rs[0].body, rs[0])
        h.hello_pid(rs[1])
        h.check(b'"offloaded":true' in rs[2].body, rs[2])
        h.check(rs[3].status == 404, rs[3])
        h.check(rs[4].status == 200 and rs[4].header("connection") == "close"
                and b"offloaded" not in rs[4].body, rs[4])
        h.check(rd.at_eof(), "not closed after Connection: close")
    # Sent while the job runs: read and kept for after it.
    with h.connect(s.port, timeout=30) as c:
        mark = s.mark()
        c.sendall(get(LONG + "&offload=1"))
        s.wait_log(RUNNING, start=mark)
        c.sendall(get("/") + get("/missing"))
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(b'"offloaded":true' in r.body, r)
        h.hello_pid(rd.read_response())
        h.check(rd.read_response().status == 404)


def test_no_timeout_while_the_job_runs():
    # Every timeout far shorter than the job: none may fire during it.
    s = h.server("--threads", "1", "--keepalive-timeout", "200ms",
                 "--header-timeout", "200ms", "--body-timeout", "200ms",
                 "--trace", workers=1)
    with h.connect(s.port, timeout=30) as c:
        rd = h.Reader(c)
        started = time.monotonic()
        c.sendall(get(LONG + "&offload=1"))
        r = rd.read_response()
        took = time.monotonic() - started
        h.check(r.status == 200 and b'"offloaded":true' in r.body, r)
        h.check(took > 0.5, f"the job took {took:.3f} s: too short to tell")
        h.check(r.header("connection") is None, r)
        # still open and kept alive: the next request is answered
        hello_on(c, rd)
    # (the log, not a bare "408": pids and timestamps contain those digits)
    h.check("request timed out" not in s.log(), "a 408 during the job")


def test_client_gone_mid_job():
    s = h.server("--threads", "1", "--trace", workers=1)
    wpid = s.worker_pids()[0]
    idle_fds = h.idle_fd_count(wpid)

    # A reset while the job runs frees the connection at once; the job
    # stops early (a second or more of spinning before it noticed), and
    # its result is dropped when it comes back.
    b = h.connect(s.port, timeout=30)
    mark = s.mark()
    b.sendall(get(LONG + "&offload=1"))
    s.wait_log(RUNNING, start=mark)
    reset(b)
    s.wait_log(r"C\d+ reset during its job", start=mark)
    h.hello_pid(h.request(s.port, "/"))  # served meanwhile
    s.wait_log(r"C\d+ /cpu job stopped early; its connection is gone: result "
               r"dropped", start=mark)

    # A plain close (FIN) may be a half-close: the answer is still sent,
    # then the connection is closed.
    c = h.connect(s.port, timeout=30)
    mark = s.mark()
    c.sendall(get("/cpu?n=100000000&offload=1"))
    s.wait_log(RUNNING, start=mark)
    c.close()
    s.wait_log(r"C\d+ /cpu job done$", start=mark)

    # The single thread still works, and nothing was left open.
    r = h.request(s.port, "/cpu?n=1000&offload=1")
    h.check(b'"offloaded":true' in r.body, r)
    h.check(h.idle_fd_count(wpid) == idle_fds, "descriptors left behind")
    h.check(s.worker_pids() == [wpid], "the worker was replaced")


def test_full_queue_gets_503_and_waiting_jobs_are_cancelled():
    # One thread: one job runs, 16 wait (POOL_QUEUE_PER_THREAD), then 503.
    s = h.server("--threads", "1", "--trace", workers=1)
    conns = []
    try:
        mark = s.mark()
        for i in range(17):
            c = h.connect(s.port, timeout=30)
            c.sendall(get(LONG + "&offload=1"))
            conns.append(c)
            s.wait_log(r"C\d+ /cpu n=\d+ offloaded", start=mark, count=i + 1)
        s.wait_log(RUNNING, start=mark)  # the first; the others wait
        r = h.request(s.port, LONG + "&offload=1")
        h.check(r.status == 503 and r.header("retry-after") == "1", r)
        h.hello_pid(h.request(s.port, "/"))  # the loop itself is fine
        # Clients that give up: waiting jobs never run, the running one
        # stops early. (The thread may take the next job before the loop
        # has seen that job's reset too: then that one stops early.)
        for c in conns:
            reset(c)
        conns = []
        s.wait_log(r"C\d+ /cpu job (cancelled before it ran|stopped early); its "
                   r"connection is gone", start=mark, count=17)
        log = "\n".join(s.log().splitlines()[mark:])
        h.check("job done; its connection is gone" not in log,
                "a job ran to its end for a client that had reset")
        h.check("cancelled before it ran" in log, "no waiting job was cancelled")
        r = h.request(s.port, "/cpu?n=1000&offload=1")
        h.check(b'"offloaded":true' in r.body, r)
    finally:
        for c in conns:
            c.close()


def test_sigterm_delivers_the_offloaded_answer():
    s = h.server("--threads", "2", "--trace", workers=1)
    worker = s.worker_pids()[0]
    with h.connect(s.port, timeout=30) as c:
        mark = s.mark()
        c.sendall(get(LONG + "&offload=1"))
        s.wait_log(RUNNING, start=mark)
        s.signal(signal.SIGTERM)
        s.wait_log(r"draining", start=mark)
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 200 and b'"offloaded":true' in r.body, r)
        # asked before the stop, answered during it: the answer says so
        h.check(r.header("connection") == "close", r)
        h.check(rd.at_eof(), "connection not closed after the answer")
    h.check(s.wait_exit() == 0, f"exit code {s.proc.returncode}")
    h.check(not h.alive(worker), "worker left behind")


def test_master_gone_stops_running_jobs():
    # The master killed: the worker drains, gives its pinned connections
    # DRAIN_ORPHAN_TIMEOUT (5 s), then frees them; pool_stop() waits for
    # the jobs still running, so each must stop early rather than spin
    # on (up to a second of a core each, many with more threads than
    # cores) for answers nobody will read. Eight jobs per core keep some
    # running past the 5 s (each is a second or more of one core).
    threads = min(64, 8 * (os.cpu_count() or 1))
    s = h.server("--threads", str(threads), "--trace", workers=1)
    wpid = s.worker_pids()[0]
    conns = []
    try:
        mark = s.mark()
        for _ in range(threads):
            c = h.connect(s.port, timeout=60)
            c.sendall(get(LONG + "&offload=1"))
            conns.append(c)
        s.wait_log(RUNNING, start=mark, count=threads)
        os.kill(s.pid, signal.SIGKILL)
        m = s.wait_log(r"master gone and (\d+) connections? still open",
                       start=mark, timeout=30)
        left = int(m.group(1))
        h.check(left > 0, "every job was done before the worker gave up: "
                "this machine is too fast for the test")
        s.wait_log(r"worker W\d+\[\d+\] info: exiting", start=mark)
        h.wait_until(lambda: not h.alive(wpid), what="the worker's exit")
        log = "\n".join(s.log().splitlines()[mark:])
        stopped = log.count("/cpu job stopped early; its connection is gone")
        # (one may have ended just as the worker gave up: done, undelivered)
        ended = log.count("/cpu job done; its connection is gone")
        h.check(stopped + ended == left and stopped > 0,
                f"of {left} jobs running when the worker gave up, {stopped} "
                f"stopped early and {ended} ran to their end")
    finally:
        for c in conns:
            c.close()


def test_thread_creation_failure_degrades():
    # A default thread stack as large as the address space: every
    # pthread_create() fails, whatever the overcommit policy. The worker
    # says so and serves, offloaded requests on its loop.
    def huge_stacks():
        resource.setrlimit(resource.RLIMIT_STACK, (1 << 47, resource.RLIM_INFINITY))

    s = h.server("--threads", "2", workers=1, preexec_fn=huge_stacks)
    s.wait_log(r"pthread_create\(\) failed; running 0 of 2 --threads")
    pid = s.worker_pids()[0]
    r = h.request(s.port, "/cpu?n=1000&offload=1")
    h.check(r.body == b'{"success":true,"worker":%d,"offloaded":false}' % pid, r)
    h.hello_pid(h.request(s.port, "/"))


def test_bad_threads_values_exit_2():
    for bad in ("x", "-1", "65", "", "1.5", "2k"):
        p = subprocess.run([h.HANDOFF, "--threads", bad], capture_output=True,
                           text=True, timeout=10 * h.SLOW)
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 2, f"--threads {bad!r}: exit {p.returncode}")
        h.check(len(lines) == 1 and "--threads" in lines[0],
                f"--threads {bad!r}: {p.stderr!r}")
    p = subprocess.run([h.HANDOFF, "--help"], capture_output=True, text=True,
                       timeout=10 * h.SLOW)
    h.check("--threads" in p.stdout, "--help does not mention --threads")


if __name__ == "__main__":
    h.main(globals())
