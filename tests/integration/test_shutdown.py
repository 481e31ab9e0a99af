#!/usr/bin/env python3
"""Graceful stop: SIGTERM/SIGINT/SIGQUIT let in-flight requests finish and
the master exit 0; a second SIGTERM stops at once; --grace bounds the
wait."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SLOW_CPU = b"GET /cpu?n=1000000000 HTTP/1.1\r\nHost: t\r\n\r\n"  # about 1 s


def start_slow_request(s):
    c = h.connect(s.port, timeout=30)
    c.sendall(SLOW_CPU)
    s.wait_log(r"trace: C\d+ GET /cpu\?n=1000000000")
    return c


def test_sigterm_lets_inflight_request_finish():
    s = h.server("--trace", workers=2)
    workers = s.worker_pids()
    with start_slow_request(s) as c:
        s.signal(signal.SIGTERM)
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 200 and r.body.startswith(b'{"success":true'), r)
        # idle keep-alive connections are closed during the stop
        h.check(rd.at_eof(), "keep-alive connection not closed by the stop")
    h.check(s.wait_exit() == 0, f"exit code {s.proc.returncode}")
    h.check(not any(h.alive(p) for p in workers), "workers left behind")


def test_sigint_and_sigquit_stop_gracefully():
    for sig in (signal.SIGINT, signal.SIGQUIT):
        s = h.server(workers=2)
        h.hello_pid(h.request(s.port, "/"))
        s.signal(sig)
        h.check(s.wait_exit() == 0, f"{sig}: exit code {s.proc.returncode}")


def test_listener_closed_during_stop():
    s = h.server("--trace", workers=1)
    with start_slow_request(s):
        s.signal(signal.SIGTERM)
        s.wait_log(r"stopping gracefully")
        # New connections are refused once the stop has begun.
        try:
            h.connect(s.port, timeout=2).close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        h.check(refused, "listener still open during a graceful stop")
    h.check(s.wait_exit() == 0)


def test_second_sigterm_stops_at_once():
    s = h.server("--trace", workers=1)
    with start_slow_request(s) as c:
        started = time.monotonic()
        s.signal(signal.SIGTERM)
        s.wait_log(r"stopping gracefully")
        s.signal(signal.SIGTERM)
        h.check(s.wait_exit() == 0, f"exit code {s.proc.returncode}")
        s.wait_log(r"stopping now")
        h.check(h.Reader(c).at_eof(), "the in-flight request should have been cut")
        h.check(time.monotonic() - started < 5 * h.SLOW)


def test_grace_limit_kills_stragglers():
    s = h.server("--trace", "--grace", "200ms", workers=1)
    pid = s.worker_pids()[0]
    with start_slow_request(s):
        os.kill(pid, signal.SIGSTOP)  # a worker that will never finish
        s.signal(signal.SIGTERM)
        s.wait_log(r"grace period over; killing 1 remaining worker")
        h.check(s.wait_exit() == 0, f"exit code {s.proc.returncode}")
        h.wait_until(lambda: not h.alive(pid), what="worker killed")


def test_worker_sigterm_drains_and_is_replaced():
    s = h.server(workers=1)
    pid = s.worker_pids()[0]
    mark = s.mark()
    os.kill(pid, signal.SIGTERM)
    s.wait_log(rf"\(pid {pid}\) exited with code 0", start=mark)
    s.wait_ready(1, start=mark)
    h.hello_pid(h.request(s.port, "/"))


if __name__ == "__main__":
    h.main(globals())
